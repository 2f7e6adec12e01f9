/*
 * targets.c - one target's health during a run: its failures, the keys it
 * refuses, the fatal stop, and the circuit breaker.
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

void record_failure(struct run *run, struct target_run *t, const char *key,
		    const struct mg_error *e, uint64_t size)
{
	struct mg_buf line = MG_BUF_INIT;

	pthread_mutex_lock(&run->mu);
	t->st.failed_objects++;
	t->st.failed_bytes += size;
	if (t->nfailures < KEEP_FAILURES) {
		t->failures[t->nfailures].key = mg_strdup(key);
		t->failures[t->nfailures].msg = mg_strdup(e->msg);
		t->nfailures++;
	}
	pthread_mutex_unlock(&run->mu);
	/* keys and the messages quoting them come from other people's
	 * buckets and archives: never raw to a terminal */
	mg_buf_adds(&line, "migrate: '");
	mg_buf_add_printable(&line, key, 0);
	mg_buf_adds(&line, "'");
	if (run->nt > 1)
		mg_buf_addf(&line, " to %s", t->ep->url);
	mg_buf_adds(&line, ": ");
	mg_buf_add_printable(&line, e->msg[0] ? e->msg : "failed", 0);
	fprintf(stderr, "%s\n", line.buf);
	mg_buf_release(&line);
}

/*
 * The "Contained" rule, decided here once for every target: a key that
 * could name something outside the target (a '..' segment, an absolute
 * name), or that this kind of target cannot hold, fails as an object of
 * its own; the rest of the run goes on.  Returns 1 when refused.
 */
int key_refused(struct run *run, struct target_run *t, const char *key,
		uint64_t size, const char *doing)
{
	unsigned files = t->ops->caps & MG_CAP_FILES;
	const char *why = NULL;
	struct mg_error err = { 0 };

	if (mg_key_check(key, files ? MG_KEY_FILE : 0, &why) == 0) {
		if (files || mg_utf8_valid(key, strlen(key)))
			return 0;
		why = "is not valid UTF-8, which object stores require (rename it "
		      "at the source)";
	}
	mg_error_set(&err, MG_FAILED, 0, 0, "key", "refused to %s: the key %s",
		     doing, why);
	record_failure(run, t, key, &err, size);
	return 1;
}

/* An S3 "folder marker" (a zero-byte "dir/") has nothing to say to a
 * target whose keys are file names: the folder appears with its files. */
int folder_marker(const struct target_run *t, const char *key, uint64_t size)
{
	size_t n = strlen(key);

	return (t->ops->caps & MG_CAP_FILES) && size == 0 && n > 0 && key[n - 1] == '/';
}

/* A fatal error stops one target (t), or with t NULL the source and so
 * every target.  The run stops once no target is left. */
void set_fatal(struct run *run, struct target_run *t, const struct mg_error *e)
{
	size_t alive = 0;

	pthread_mutex_lock(&run->mu);
	for (size_t i = 0; i < run->nt; i++) {
		struct target_run *x = &run->targets[i];

		if ((!t || x == t) && !x->fatal) {
			x->fatal_err = *e;
			/* atomic: connectors read it through conn->abandoned
			 * in the middle of a request, without the lock */
			__atomic_store_n(&x->fatal, 1, __ATOMIC_RELAXED);
		}
		alive += !x->fatal;
	}
	if (!alive) {
		run->stop = 1;
		pthread_cond_broadcast(&run->can_pop);
		pthread_cond_broadcast(&run->can_batch);
		pthread_cond_broadcast(&run->can_push);
	}
	pthread_mutex_unlock(&run->mu);
}

/*
 * A journal write that failed.  What the journal does not hold the next
 * run cannot know, so the run stops for every target (as set_fatal with
 * no target): what was journaled stays true, and the next run goes on
 * from there.  journal.c said on stderr what LevelDB answered; the error
 * here names what the engine was writing.  Returns r for the caller.
 */
int journal_check(struct run *run, int r, const char *what)
{
	struct mg_error e = { 0 };

	if (r == MG_OK)
		return r;
	mg_error_set(&e, MG_FATAL, 0, 0, "journal", "cannot write the journal (%s): "
		     "what is journaled is kept; run again once it can be written",
		     what);
	set_fatal(run, NULL, &e);
	return r;
}

int target_dead(struct run *run, const struct target_run *t)
{
	int dead;

	pthread_mutex_lock(&run->mu);
	dead = t->fatal;
	pthread_mutex_unlock(&run->mu);
	return dead;
}

/*
 * The circuit breaker (transfer.dead_after).  A target that dies mid-run (503 on everything,
 * connection refused, a server that accepts and never answers) would
 * otherwise cost every queued object its client retries times the
 * engine's attempts: about an hour, measured, for hundreds of objects
 * reported failed one by one.  When no attempt at a target has succeeded
 * for dead_after seconds (60 by default: counted from the last success,
 * or the start) and at least DEAD_AFTER_FAILS attempts in a row failed
 * there with a transient error, it is dead
 * for this run: nothing more is sent to it, the run exits 3 naming it,
 * other targets of a fan-out go on, and the journal holds only what the
 * target confirmed.  Both bounds must hold, so one slow burst of errors
 * on a healthy server does not trip it.  Object-specific failures (a
 * 403 on one key, a source file gone) neither count nor reset it.
 */
#define DEAD_AFTER_FAILS 3

void target_ok(struct run *run, struct target_run *t)
{
	int64_t now = mg_mono_ns();

	pthread_mutex_lock(&run->mu);
	t->fail_streak = 0;
	t->last_ok_ns = now;
	pthread_mutex_unlock(&run->mu);
}

/* Counts a transient failure at t; returns 1 when t is now dead. */
int target_failed(struct run *run, struct target_run *t, const struct mg_error *e)
{
	int64_t now = mg_mono_ns(), secs;
	struct mg_error dead = { 0 };
	unsigned n;
	int first;

	pthread_mutex_lock(&run->mu);
	n = ++t->fail_streak;
	secs = (now - t->last_ok_ns) / 1000000000;
	pthread_mutex_unlock(&run->mu);
	if (n < DEAD_AFTER_FAILS || secs < run->plan->transfer.dead_after)
		return target_dead(run, t);
	mg_error_set(&dead, MG_FATAL, e->sys_errno, e->remote_code, "breaker",
		     "target %s: no attempt succeeded for %" PRId64 " s (%u failed in a row; "
		     "the last: %s): nothing more is sent to it this run; check the "
		     "server, then run again to resume", t->ep->url, secs, n,
		     e->msg[0] ? e->msg : "no detail");
	/* One verdict per target: the check and the marks under the lock,
	 * so two workers failing there at once do not both declare it. */
	pthread_mutex_lock(&run->mu);
	first = !t->fatal && !t->died;
	if (first) {
		t->fatal_said = 1;
		t->died = 1;
	}
	pthread_mutex_unlock(&run->mu);
	if (first)
		fprintf(stderr, "migrate: %s\n", dead.msg);
	set_fatal(run, t, &dead);
	return 1;
}
