/*
 * worker.c - one worker thread: takes an object from the queue and moves
 * it to every target that needs it, with retries and the breaker.
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

static int open_src(struct worker *w)
{
	struct run *run = w->run;

	if (w->src_open)
		return 0;
	if (mg_conn_open(&w->src, run->src_ops, &run->plan->source, &run->src_counters,
			 MG_OPEN_SOURCE | MG_OPEN_NOCHECK) != MG_OK) {
		set_fatal(run, NULL, &w->src.err);
		mg_conn_close(&w->src);
		return -1;
	}
	w->src_open = 1;
	w->src.obj_times = &w->times;
	return 0;
}

/* Makes target i the one in hand, opening its conn on first use. */
int use_target(struct worker *w, size_t i)
{
	struct run *run = w->run;
	struct target_run *t = &run->targets[i];

	w->t = t;
	w->dst = &w->dsts[i];
	if (w->dst_open[i])
		return 0;
	if (mg_conn_open(w->dst, t->ops, t->ep, &t->counters,
			 MG_OPEN_TARGET | MG_OPEN_NOCHECK) != MG_OK) {
		set_fatal(run, t, &w->dst->err);
		mg_conn_close(w->dst);
		return -1;
	}
	/* the connector paces its sends through the shared bucket */
	w->dst->pace = pace;
	w->dst->pace_arg = &run->shaper;
	/* the breaker's verdict reaches requests in flight */
	w->dst->abandoned = &t->fatal;
	w->dst->obj_times = &w->times;
	w->dst->gov = &run->gov;	/* what every object asks (Object Lock) */
	w->dst_open[i] = 1;
	return 0;
}

static void backoff(int attempt)
{
	/* 0.2 s doubling to 10 s, with jitter so workers that failed together
	 * do not hammer the server together; a stop request cuts it short. */
	int64_t ms = 200LL << (attempt < 6 ? attempt : 6);

	if (ms > 10000)
		ms = 10000;
	ms = ms / 2 + rand() % (ms / 2 + 1);
	mg_nap(ms);
}

/*
 * Moves one object to every target that needs it.  An object small enough
 * to hold (DEDUPE_MAX) is read once and served to every target from
 * memory; a larger one streams, once per target that needs it (a target
 * failing mid-stream must not stall the others).
 */
void process(struct worker *w, struct task *tk)
{
	struct run *run = w->run;
	const struct mg_plan *plan = run->plan;
	struct mg_put_final fin;
	int small = tk->size <= DEDUPE_MAX && (plan->transfer.dedupe || run->nt > 1);
	int have_small = 0, r;

	memset(&fin, 0, sizeof(fin));
	for (size_t i = 0; i < run->nt && !mg_interrupted; i++) {
		struct target_run *t = &run->targets[i];
		struct mg_obj_record rec;
		int multipart, deduped = 0, claimed = -1, attempts = 0;
		char name[256], why[600];

		if (!((tk->need | tk->reclass_mask) & (1ULL << i)) || target_dead(run, t))
			continue;
		if (use_target(w, i) < 0)
			continue;
		tk->changed = (tk->changed_mask >> i) & 1;
		tk->sclass = tier_class(run, t, tk->rule);
		if (!(tk->need & (1ULL << i))) {
			tier_reclass(w, tk);	/* issue 15.3: nothing to send */
			continue;
		}
		memset(&w->times, 0, sizeof(w->times));
		multipart = multipart_parts(run, w->dst->ops, tk->size) > 0;
		for (int attempt = 0;; attempt++) {
			attempts = attempt + 1;
			memset(&rec, 0, sizeof(rec));
			mg_error_clear(&w->err);
			mg_error_clear(&w->src.err);
			mg_error_clear(&w->dst->err);
			rec.t_start = mg_now_ns();
			deduped = 0;
			if (multipart) {
				r = copy_multipart(w, tk, &rec);
			} else if (small) {
				r = have_small ? MG_OK : read_small(w, tk, &fin);
				have_small = r == MG_OK;
				if (r == MG_OK)
					r = put_small(w, tk, &fin, &rec, &deduped, &claimed);
			} else {
				r = copy_simple(w, tk, &rec);
			}
			if (r != MG_OK) {
				inflight_release(run, claimed);
				claimed = -1;
				/* a source request that failed said why on its conn */
				mg_error_copy(&w->err, &w->src.err);
				mg_error_copy(&w->err, &w->dst->err);
			}
			if (r == MG_OK)
				target_ok(run, t);
			else if (w->dst->err.status == MG_RETRY &&
				 target_failed(run, t, &w->dst->err))
				break;
			if (r != MG_RETRY || attempt >= plan->transfer.retries || mg_interrupted)
				break;
			mg_printable(tk->key, name, sizeof(name));
			mg_printable(w->err.msg, why, sizeof(why));
			fprintf(stderr, "migrate: '%s': %s (retrying)\n", name, why);
			backoff(attempt);
		}
		finish(w, tk, r, &rec, multipart, deduped, claimed, attempts);
	}
}

void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	struct task tk, tks[MG_BATCH_MAX];

	w->buf = mg_malloc(COPY_BUF);
	w->dsts = mg_calloc(run->nt, sizeof(*w->dsts));
	w->dst_open = mg_calloc(run->nt, sizeof(*w->dst_open));
	while (run->batch) {
		int n = queue_pop_batch(run, tks, run->batch, w->batcher);

		if (n < 0)
			break;
		if (open_src(w) == 0) {
			if (n > 1)
				process_batch(w, tks, (size_t)n);
			else
				process(w, &tks[0]);
		}
		for (int i = 0; i < n; i++)
			free(tks[i].key);
		queue_done(run, (size_t)n);
	}
	while (!run->batch && queue_pop(run, &tk) == 0) {
		if (open_src(w) == 0)
			process(w, &tk);
		free(tk.key);
		pthread_mutex_lock(&run->mu);
		run->busy_workers--;
		pthread_mutex_unlock(&run->mu);
	}
	if (w->src_open)
		mg_conn_close(&w->src);
	for (size_t i = 0; i < run->nt; i++)
		if (w->dst_open[i])
			mg_conn_close(&w->dsts[i]);
	free(w->dsts);
	free(w->dst_open);
	free(w->buf);
	free(w->part);
	free(w->small);
	free(w->batch);
	return NULL;
}
