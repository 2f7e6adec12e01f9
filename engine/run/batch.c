/*
 * batch.c - many small objects to one target at once (issue 19.1): a
 * worker takes several small tasks from the queue, reads each whole, and
 * hands those left to send to the target connector's put_batch, which
 * drives all their requests on one event loop (S3: one curl multi handle,
 * one poll(2) for every socket).  Why: a thread blocking on one small PUT
 * at a time pays a wakeup, a context switch and curl's per-transfer
 * polling per object; docs/BENCHMARKS.md, "Fifth session", measures it.
 *
 * Every guarantee of the one-at-a-time path (worker.c process()) holds:
 * each object's record goes through finish() and the committer's group
 * commit; the dedupe claim is taken before an object is sent and released
 * once its record is durable; the bandwidth limit is applied by the
 * connector to each body as it goes out; an object's error, attempts and
 * request times are its own.  What the batch does not do itself it hands
 * back to process(), one object at a time: an object whose read failed,
 * whose content another worker (or an object of this batch) is sending,
 * or whose send failed in a way worth an engine retry.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "testhook.h"

/* One object of the batch in hand. */
struct bitem {
	struct task *tk;
	struct mg_put_final fin;
	struct mg_put_info info;
	struct mg_obj_record rec;
	struct mg_req_times times;
	size_t off;		/* its bytes in w->batch */
	int claimed;		/* dedupe claim, -1 none */
	int state;		/* BI_* */
};

/* BI_LATER first: what a stop left unprepared goes nowhere else */
enum { BI_LATER, BI_SEND, BI_DONE };

/*
 * Whether the run batches and how many objects a batch holds: one target
 * whose connector has put_batch, at least two workers.  Up to half of
 * the workers' number in one batch, so two workers (both cores) are
 * busy with batches; the objects held by workers stay within the concurrency (the
 * queue enforces it, queue_pop_batch), so the server sees no more
 * requests at once than the plan asks.
 */
void batch_setup(struct run *run, int nworkers)
{
	const struct mg_connector *ops = run->nt == 1 ? run->targets[0].ops : NULL;
	const char *off = getenv("MG_TEST_NO_BATCH");

	run->batch = 0;
	run->hold_max = (size_t)nworkers;
	if (!ops || !ops->put_batch || nworkers < 2 || (off && *off == '1'))
		return;
	run->batch = (size_t)nworkers / 2;
	if (run->batch > MG_BATCH_MAX)
		run->batch = MG_BATCH_MAX;
	/* Few workers take the batches, always the same ones: each worker
	 * has its conns, and so its own connections; were every worker to
	 * take batches, each would open a batch's worth (measured: 129
	 * connects for 2,000 objects, against 17).  The others take what
	 * does not fit a batch (large objects), so those still go
	 * nworkers at once. */
	run->batchers = ((size_t)nworkers + run->batch - 1) / run->batch;
}

/* A task the batch can take: small, to the one target, in one piece. */
int batch_fits(const struct run *run, const struct task *tk)
{
	return run->batch > 1 && tk->size <= MG_BATCH_SIZE && (tk->need & 1) &&
	       !tk->reclass_mask &&
	       multipart_parts(run, run->targets[0].ops, tk->size) == 0;
}

/* Reads item i whole and dedupes it where the plan asks: BI_SEND (its
 * bytes at w->batch + off), BI_DONE (copied, finished) or BI_LATER. */
static int batch_prepare(struct worker *w, struct bitem *b)
{
	struct run *run = w->run;
	struct task *tk = b->tk;
	int r;

	memset(&w->times, 0, sizeof(w->times));
	mg_error_clear(&w->err);
	mg_error_clear(&w->src.err);
	mg_error_clear(&w->dst->err);
	b->rec.t_start = mg_now_ns();
	if (read_whole(w, tk, w->batch + b->off, &b->fin) != MG_OK)
		return BI_LATER;	/* process() retries and reports it */
	b->times = w->times;
	if (!run->plan->transfer.dedupe || !mg_conn_has(w->dst, MG_CAP_SERVER_COPY) ||
	    tk->size == 0)
		return BI_SEND;
	r = try_dedupe(w, tk, &b->fin, &b->rec);
	if (r == MG_ABSENT) {
		/* Never wait for a claim while holding others (two workers
		 * could wait on each other): content in flight elsewhere,
		 * or twice in this batch, goes after the batch. */
		b->claimed = inflight_try_claim(run, b->fin.sha256);
		if (b->claimed == -2) {
			b->claimed = -1;
			return BI_LATER;
		}
		r = try_dedupe(w, tk, &b->fin, &b->rec);
	}
	if (r != MG_OK)
		return BI_SEND;
	inflight_release(run, b->claimed);
	b->times = w->times;
	finish(w, tk, MG_OK, &b->rec, 0, 1, -1, 1);
	return BI_DONE;
}

/* The answer to item b's PUT. */
static void batch_result(struct worker *w, struct bitem *b, struct mg_put_item *it)
{
	struct run *run = w->run;
	struct target_run *t = w->t;
	int r = it->status;

	w->times = b->times;
	mg_error_clear(&w->err);
	mg_error_clear(&w->dst->err);
	if (r == MG_OK) {
		snprintf(b->rec.sha256, sizeof(b->rec.sha256), "%s", b->fin.sha256);
		snprintf(b->rec.etag, sizeof(b->rec.etag), "%s", it->res.etag);
		snprintf(b->rec.version_id, sizeof(b->rec.version_id), "%s",
			 it->res.version_id);
		target_ok(run, t);
		finish(w, b->tk, MG_OK, &b->rec, 0, 0, b->claimed, 1);
		return;
	}
	mg_error_copy(&w->dst->err, &it->err);
	mg_error_copy(&w->err, &it->err);
	if (r == MG_RETRY && !target_failed(run, t, &w->dst->err) &&
	    run->plan->transfer.retries > 0 && !mg_interrupted) {
		/* the engine's retries, one at a time */
		inflight_release(run, b->claimed);
		b->state = BI_LATER;
		return;
	}
	finish(w, b->tk, r, &b->rec, 0, 0, b->claimed, 1);
}

void process_batch(struct worker *w, struct task *tks, size_t n)
{
	struct run *run = w->run;
	struct bitem *b = mg_calloc(n, sizeof(*b));
	struct mg_put_item *it = mg_calloc(n, sizeof(*it));
	size_t need = 0, m = 0;

	if (target_dead(run, &run->targets[0]) || use_target(w, 0) < 0)
		goto later_all;
	for (size_t i = 0; i < n; i++) {
		b[i].off = need;
		need += (size_t)tks[i].size + 1;
	}
	if (w->batch_alloc < need) {
		free(w->batch);
		w->batch = mg_malloc(need);
		w->batch_alloc = need;
	}
	for (size_t i = 0; i < n && !mg_interrupted; i++) {
		struct task *tk = &tks[i];

		b[i].tk = tk;
		b[i].claimed = -1;
		tk->changed = tk->changed_mask & 1;
		tk->sclass = tier_class(run, w->t, tk->rule);
		b[i].info = put_info(run, tk);
		b[i].state = batch_prepare(w, &b[i]);
		if (b[i].state != BI_SEND)
			continue;
		it[m] = (struct mg_put_item){
			.key = tk->key, .info = &b[i].info, .body = w->batch + b[i].off,
			.len = (size_t)tk->size, .fin = &b[i].fin, .times = &b[i].times,
		};
		m++;
	}
	if (m && !mg_interrupted) {
		mg_put_batch(w->dst, it, m);
		mg_test_points("batch", m);
	}
	for (size_t i = 0, j = 0; i < n && j < m; i++) {
		if (b[i].state != BI_SEND)
			continue;
		if (mg_interrupted)
			inflight_release(run, b[i].claimed);
		else
			batch_result(w, &b[i], &it[j]);
		j++;
	}
	pthread_mutex_lock(&run->mu);
	run->batched_objects += m;
	pthread_mutex_unlock(&run->mu);
	/* what the batch left, the one-at-a-time way: no claim is held
	 * here any more but those waiting for their commit */
	for (size_t i = 0; i < n && !mg_interrupted; i++)
		if (b[i].state == BI_LATER)
			process(w, &tks[i]);
	free(b);
	free(it);
	return;
later_all:
	for (size_t i = 0; i < n && !mg_interrupted; i++)
		process(w, &tks[i]);
	free(b);
	free(it);
}
