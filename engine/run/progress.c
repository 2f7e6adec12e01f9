/*
 * progress.c - the progress line on stderr, redrawn 4 times a second at
 * most (issue 16.5): a terminal is not a log.
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

#define PROGRESS_EVERY_NS 250000000	/* 4 redraws a second, no more */

/*
 * One line: while listing, what was listed so far; once the listing is
 * complete (the work ahead is known), percent of bytes and objects done,
 * the rate and an ETA at that rate.
 */
static void progress_line(struct run *run)
{
	char moved[32], rate[32], eta[32];
	int64_t now = mg_mono_ns();
	double secs = (double)(now - run->start_ns) / 1e9;
	uint64_t written = 0, done_obj = 0, done_bytes = 0, failed = 0;
	int listed = __atomic_load_n(&run->listed_ns, __ATOMIC_RELAXED) != 0;
	double bps;

	pthread_mutex_lock(&run->mu);
	for (size_t i = 0; i < run->nt; i++) {
		const struct target_run *t = &run->targets[i];
		const struct stats *st = &t->st;

		written += __atomic_load_n(&t->counters.bytes_written, __ATOMIC_RELAXED);
		done_obj += st->new_objects + st->changed_objects + st->dedup_objects +
			    st->failed_objects;
		done_bytes += st->copied_bytes + st->dedup_bytes + st->failed_bytes;
		failed += st->failed_objects;
	}
	if (written > done_bytes)	/* what is on its way counts too */
		done_bytes = written;
	bps = secs > 0 ? (double)written / secs : 0;
	mg_fmt_bytes(written, moved, sizeof(moved));
	mg_fmt_bytes((uint64_t)bps, rate, sizeof(rate));
	if (!listed) {
		fprintf(stderr, "\r\033[Kmigrate: listing: %" PRIu64 " objects so far, "
			"copied %" PRIu64 " | %s at %s/s%s", run->listed, done_obj - failed,
			moved, rate, mg_bwlimit_off ? " (limit lifted)" : "");
	} else {
		uint64_t tb = run->queued_bytes, to = run->queued_objects;
		double pb = tb ? 100.0 * (double)(done_bytes < tb ? done_bytes : tb) / (double)tb : 100;
		double po = to ? 100.0 * (double)(done_obj < to ? done_obj : to) / (double)to : 100;
		double left = tb > done_bytes ? (double)(tb - done_bytes) : 0;

		if (bps > 0) {
			int64_t e = (int64_t)(left / bps + 0.5);

			snprintf(eta, sizeof(eta), "%" PRId64 ":%02d:%02d", e / 3600,
				 (int)(e / 60 % 60), (int)(e % 60));
		} else {
			snprintf(eta, sizeof(eta), "unknown");
		}
		fprintf(stderr, "\r\033[Kmigrate: %.1f%% of bytes, %.1f%% of objects "
			"(%" PRIu64 "/%" PRIu64 ", %" PRIu64 " failed) | %s at %s/s | ETA %s%s",
			pb, po, done_obj, to, failed, moved, rate, eta,
			mg_bwlimit_off ? " (limit lifted)" : "");
	}
	pthread_mutex_unlock(&run->mu);
	fflush(stderr);
}

static void *progress_main(void *arg)
{
	struct progress *p = arg;

	pthread_mutex_lock(&p->mu);
	while (!p->done) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += PROGRESS_EVERY_NS;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		if (!p->done)
			progress_line(p->run);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Starts the progress thread when opts ask for it (or stderr is a
 * terminal); progress_stop() ends it and clears the line. */
void progress_start(struct progress *prog, struct run *run)
{
	const struct mg_run_opts *opts = run->opts;

	prog->run = run;
	prog->on = opts->progress > 0 ||
		   (opts->progress < 0 && isatty(2) && !opts->quiet && !opts->estimate);
	if (prog->on) {
		pthread_mutex_init(&prog->mu, NULL);
		pthread_cond_init(&prog->cv, NULL);
		pthread_create(&prog->thread, NULL, progress_main, prog);
	}
}

void progress_stop(struct progress *prog)
{
	if (!prog->on)
		return;
	pthread_mutex_lock(&prog->mu);
	prog->done = 1;
	pthread_cond_signal(&prog->cv);
	pthread_mutex_unlock(&prog->mu);
	pthread_join(prog->thread, NULL);
	fprintf(stderr, "\r\033[K");
}
