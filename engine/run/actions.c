/*
 * actions.c - what the walk's decisions turn into.  walk.c decides once,
 * for every kind of pass, which objects a target lacks, which are gone
 * and which are skipped; a sink acts on each decision:
 *
 *   run       queues the object for the workers, marks what is gone in
 *             the journal, logs what is unchanged (--log-json), deletes
 *   dry-run   prints each decision, counts what would move
 *   estimate  counts what would move and the requests it would cost, as
 *             the connectors say they issue them
 *
 * So the estimate prices exactly the decisions a run would act on: the
 * two cannot drift apart, because there is only one decision path.  A
 * NULL method means "nothing to do for this kind of pass".
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

/* ---- shared by the sinks ---- */

static void print_dry(const char *what, const char *key, uint64_t size)
{
	struct mg_buf name = MG_BUF_INIT;
	char sz[32];

	/* escaped, and quoted where a space at either end would vanish */
	mg_buf_add_printable(&name, key, 1);
	mg_fmt_bytes(size, sz, sizeof(sz));
	printf("%-9s %10s  %s\n", what, sz, name.buf ? name.buf : "");
	mg_buf_release(&name);
}

/* A link the plan said to follow, skipped for a reason (it leads outside
 * the source folder): say why. */
static void say_skip_reason(struct run *run, const struct mg_entry *e)
{
	char a[256], b[600];

	if (e->kind != MG_ENTRY_SYMLINK || !e->error || run->opts->quiet)
		return;
	fprintf(stderr, "migrate: '%s': skipped: %s\n",
		mg_printable(e->key, a, sizeof(a)),
		mg_printable(e->error, b, sizeof(b)));
}

/* What a dry run or an estimate says would be copied; a run counts an
 * object only once its record is committed (committer.c).  Under the
 * lock: the progress line reads these counts. */
static void count_planned(struct run *run, struct target_run *t, int changed,
			  uint64_t size)
{
	pthread_mutex_lock(&run->mu);
	if (changed) {
		t->st.changed_objects++;
	} else {
		t->st.new_objects++;
		t->st.new_bytes += size;
	}
	t->st.copied_bytes += size;
	pthread_mutex_unlock(&run->mu);
}

/* ---- run ---- */

static void run_skipped(struct run *run, const char *what, const struct mg_entry *e)
{
	(void)what;
	say_skip_reason(run, e);
}

static void run_unchanged(struct run *run, struct target_run *t,
			  const struct mg_entry *e, const struct mg_obj_record *cur)
{
	if (run->logj)
		log_object(run, t, e->key, e->size, cur, "skipped", 0, NULL, NULL);
}

static void run_gone(struct run *run, struct target_run *t, const char *key,
		     uint64_t size)
{
	journal_check(run, mg_journal_put_gone(run->journal, t->ep->id, key, size),
		      "a gone mark");
}

/* Takes tk (its key is copied here) to the workers.  Returns -1 when the
 * run is stopping. */
static int run_dispatch(struct run *run, struct task *tk, const char *key)
{
	tk->key = mg_strdup(key);
	return queue_push(run, tk);
}

const struct walk_sink run_sink = {
	.forget_marks = drop_marks,
	.skipped = run_skipped,
	.unchanged = run_unchanged,
	.gone = run_gone,
	.dispatch = run_dispatch,
	.delete_gone = delete_marked,
};

/* ---- dry run ---- */

static void dry_skipped(struct run *run, const char *what, const struct mg_entry *e)
{
	print_dry(what, e->key, 0);
	say_skip_reason(run, e);
}

static void dry_gone(struct run *run, struct target_run *t, const char *key,
		     uint64_t size)
{
	(void)run;
	(void)t;
	print_dry("delete", key, size);
}

static void dry_needed(struct run *run, size_t i, struct mg_conn *src,
		       struct mg_conn *dst, const struct mg_entry *e,
		       const struct task *tk, int *small_read)
{
	int changed = (tk->changed_mask >> i) & 1;

	(void)src;
	(void)dst;
	(void)small_read;
	print_dry(changed ? "changed" : "new", e->key, e->size);
	count_planned(run, &run->targets[i], changed, e->size);
}

static void dry_reclass(struct run *run, struct target_run *t,
			const struct mg_entry *e, const struct mg_obj_record *cur,
			const char *cls)
{
	(void)cur;
	(void)cls;
	print_dry("reclass", e->key, e->size);
	pthread_mutex_lock(&run->mu);
	t->st.reclassed_objects++;
	t->st.reclassed_bytes += e->size;
	pthread_mutex_unlock(&run->mu);
}

const struct walk_sink dry_run_sink = {
	.reclass = dry_reclass,
	.skipped = dry_skipped,
	.gone = dry_gone,
	.needed = dry_needed,
};

/* ---- estimate ---- */

/* Counts what moving one object will cost in requests, as the connectors
 * say they issue them (estimate). */
static void predict_read(struct run *run, struct mg_conn *src, const struct task *tk)
{
	mg_predict_read(src, tk->size, &run->src_counters);
	run->src_counters.bytes_read += tk->size;
}

/* Small objects are read once for all targets (process()); a multipart
 * or streamed one once per target that needs it. */
static void predict(struct run *run, struct target_run *t, struct mg_conn *src,
		    struct mg_conn *dst, const char *key, const struct task *tk,
		    int *small_read)
{
	int nparts = multipart_parts(run, dst->ops, tk->size);
	int small = tk->size <= DEDUPE_MAX &&
		    (run->plan->transfer.dedupe || run->nt > 1);
	uint64_t psize = nparts ? multipart_part_size(run, dst->ops, tk->size) : 0;
	int done = nparts ? est_resume_parts(run, t, key, tk, psize) : 0;

	if (done > 0 && done < nparts) {
		/* a resume: ListParts, then only the missing parts, read from
		 * where the journaled ones end (multipart.c upload_resume) */
		uint64_t rest = tk->size - (uint64_t)done * psize;
		struct mg_counters c;

		memset(&c, 0, sizeof(c));
		mg_predict_read(src, rest, &run->src_counters);
		run->src_counters.bytes_read += rest;
		mg_predict_recheck(src, &run->src_counters);
		t->counters.bytes_written += rest;
		mg_predict_multipart(dst, tk->size, nparts - done, &c);
		if (c.req[MG_REQ_MP_CREATE])
			c.req[MG_REQ_MP_CREATE]--;
		c.req[MG_REQ_MP_LIST]++;
		for (int r = 0; r < MG_REQ__COUNT; r++)
			t->counters.req[r] += c.req[r];
		return;
	}
	if (nparts || !small)
		predict_read(run, src, tk);
	else if (!*small_read) {
		predict_read(run, src, tk);
		*small_read = 1;
	}
	t->counters.bytes_written += tk->size;
	if (nparts) {
		mg_predict_multipart(dst, tk->size, nparts, &t->counters);
		mg_predict_recheck(src, &run->src_counters);
	} else {
		mg_predict_write(dst, tk->size, &t->counters);
	}
}

static void estimate_needed(struct run *run, size_t i, struct mg_conn *src,
			    struct mg_conn *dst, const struct mg_entry *e,
			    const struct task *tk, int *small_read)
{
	struct target_run *t = &run->targets[i];
	struct mg_counters before = t->counters;
	int changed = (tk->changed_mask >> i) & 1;

	/* what the run fails (above the single-PUT limit below the
	 * multipart threshold, or beyond max_parts x max_part_size) costs
	 * no upload: counted as failed, as the run would */
	if (multipart_unsendable(run, dst->ops, tk->size)) {
		t->st.unsendable_objects++;
		t->st.unsendable_bytes += tk->size;
		return;
	}
	if (est_dedupe(run, t, src, dst, e->key, tk, small_read))
		return;
	predict(run, t, src, dst, e->key, tk, small_read);
	tier_est_written(run, t, tk, &before);
	count_planned(run, t, changed, e->size);
	/* an overwrite is a delete for minimum storage durations */
	if (changed)
		est_note_overwrite(run, t, e->key);
	est_note_stored(t, tk->size);
}

static void estimate_unchanged(struct run *run, struct target_run *t,
			       const struct mg_entry *e, const struct mg_obj_record *cur)
{
	tier_est_held(run, t, cur, e->size);
	est_note_stored(t, e->size);
}

static void estimate_gone(struct run *run, struct target_run *t, const char *key,
			  uint64_t size)
{
	est_note_gone(run, t, key);
	if (run->plan->deletes.quarantine_prefix)
		est_note_quarantine(t, size);
	governance_note_gone(run, t, key);
}

/* The deletes the guards let through, counted as requests (a copy to the
 * quarantine first when the plan keeps one). */
static void estimate_deletes(struct run *run, struct target_run *t,
			     struct mg_conn *dst)
{
	uint64_t n = t->st.gone_objects;

	t->counters.req[MG_REQ_DELETE] += n;
	if (run->plan->deletes.quarantine_prefix)
		est_quarantine_go(t, dst);
	/* what Object Lock keeps is asked (and counted) but stays */
	t->st.deleted_objects = n - t->st.locked_objects;
	t->st.deleted_bytes = t->st.gone_bytes - t->st.locked_bytes;
	est_deletes_go(t);
}

/* A re-class is one COPY request at the target, nothing read or sent. */
static void estimate_reclass(struct run *run, struct target_run *t,
			     const struct mg_entry *e, const struct mg_obj_record *cur,
			     const char *cls)
{
	tier_est_reclass(run, t, cur, cls, e->size);
	t->counters.req[MG_REQ_COPY]++;
	t->st.reclassed_objects++;
	t->st.reclassed_bytes += e->size;
}

const struct walk_sink estimate_sink = {
	.reclass = estimate_reclass,
	.unchanged = estimate_unchanged,
	.gone = estimate_gone,
	.needed = estimate_needed,
	.delete_gone = estimate_deletes,
};

const struct walk_sink *walk_sink_for(const struct mg_run_opts *opts)
{
	if (opts->estimate)
		return &estimate_sink;
	return opts->dry_run ? &dry_run_sink : &run_sink;
}
