/*
 * shaper.c - the run's bandwidth limit: one token bucket every target
 * connector draws from (mg_pace), with the plan's timetable.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

/*
 * One bucket shared by all workers.  The bucket holds at most a tenth of a
 * second of tokens, so a burst after an idle moment stays well under a
 * second at full rate.  The target connectors take tokens for each chunk
 * just before it goes on the wire (mg_pace(): curl's read callback, the
 * write(2), the SFTP write) and sleep for the deficit, so what is limited
 * is what is sent, not what is buffered.
 */

/* SIGUSR2 flips this (main.c): the limit is lifted until the next SIGUSR2. */
_Atomic int mg_bwlimit_off;

void shaper_init(struct shaper *s, uint64_t base,
		 const struct mg_bw_window *w, size_t nw)
{
	pthread_mutex_init(&s->mu, NULL);
	s->base = base;
	s->windows = w;
	s->nwindows = nw;
	s->checked_s = -1;
	s->tokens = 0;
	s->last_ns = mg_mono_ns();
}

static void shaper_take(struct shaper *s, size_t n)
{
	int64_t wait_ns = 0;

	if (!s->base && !s->nwindows)
		return;
	pthread_mutex_lock(&s->mu);
	{
		int64_t now = mg_mono_ns();
		time_t wall = time(NULL);
		double burst;

		/* the timetable is looked at once a second at most */
		if ((int64_t)wall != s->checked_s) {
			s->rate = mg_bw_rate_at(s->base, s->windows, s->nwindows, wall);
			s->checked_s = (int64_t)wall;
		}
		if (s->rate && !mg_bwlimit_off) {
			burst = (double)s->rate / 10;
			s->tokens += (double)(now - s->last_ns) * (double)s->rate / 1e9;
			if (s->tokens > burst)
				s->tokens = burst;
			s->tokens -= (double)n;
			wait_ns = s->tokens < 0 ?
				  (int64_t)(-s->tokens * 1e9 / (double)s->rate) : 0;
		} else {
			s->tokens = 0;
		}
		s->last_ns = now;
	}
	pthread_mutex_unlock(&s->mu);
	/* Sleep in slices so SIGUSR2 (lift the limit) and ^C act at once. */
	while (wait_ns > 0 && !mg_bwlimit_off && !mg_interrupted) {
		int64_t step = wait_ns < 100000000 ? wait_ns : 100000000;
		struct timespec ts = { 0, (long)step };

		nanosleep(&ts, NULL);
		wait_ns -= step;
		/* the summary's "waiting on the bandwidth limit" */
		__atomic_add_fetch(&s->waited_ns, step, __ATOMIC_RELAXED);
	}
}

int pace(void *arg, size_t n)
{
	shaper_take(arg, n);
	return mg_interrupted != 0;
}
