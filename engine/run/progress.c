/*
 * progress.c - the progress line on stderr, redrawn once a second.
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

static void progress_line(struct run *run)
{
	char moved[32], rate[32];
	double secs = (double)(mg_mono_ns() - run->start_ns) / 1e9;
	uint64_t written = 0, copied = 0, unchanged = 0, failed = 0;

	pthread_mutex_lock(&run->mu);
	for (size_t i = 0; i < run->nt; i++) {
		const struct target_run *t = &run->targets[i];

		written += __atomic_load_n(&t->counters.bytes_written, __ATOMIC_RELAXED);
		copied += t->st.new_objects + t->st.changed_objects + t->st.dedup_objects;
		unchanged += t->st.unchanged_objects;
		failed += t->st.failed_objects;
	}
	mg_fmt_bytes(written, moved, sizeof(moved));
	mg_fmt_bytes(secs > 0 ? (uint64_t)((double)written / secs) : 0, rate, sizeof(rate));
	fprintf(stderr, "\r\033[Kmigrate: listed %" PRIu64 ", copied %" PRIu64
		", unchanged %" PRIu64 ", failed %" PRIu64 " | %s at %s/s%s",
		run->listed, copied, unchanged, failed, moved, rate,
		mg_bwlimit_off ? " (limit lifted)" : "");
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
		ts.tv_sec += 1;
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
