/*
 * walk.c - the walk and diff: the source listing merge-joined with every
 * target's journal range, deciding per object and target what to do.
 * The decisions are the same for a run, a dry run and an estimate; what
 * they turn into (queued, printed, counted) is the run's sink, actions.c.
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

#include "filter.h"
#include "run.h"
#include "shard.h"

/* One target's side of the merge-join: its journal range, read along. */
struct jcursor {
	struct mg_journal_iter *it;
	struct mg_obj_record rec;
	const char *key;
	int r;
};

/*
 * Moves one target's journal cursor up to key (to the end with key NULL):
 * what it passes is gone from the source.  The journal is advanced
 * whatever the entry is: a filtered or unreadable entry still exists at
 * the source and must not look gone.  Returns 1 with the record for key
 * in *cur (and the cursor past it) when the journal has one.
 */
static int jcursor_until(struct run *run, struct target_run *t, struct jcursor *c,
			 const char *key, struct mg_obj_record *cur)
{
	int cmp = 1;

	while (c->r == MG_OK && (!key || (cmp = strcmp(c->key, key)) < 0)) {
		if (c->rec.state == MG_OBJ_DONE)
			t->st.journal_objects++;
		note_gone(run, t, c->key, &c->rec);
		c->r = mg_journal_iter_next(c->it, &c->key, NULL, &c->rec);
	}
	if (c->r != MG_OK || cmp != 0)
		return 0;
	/* take the matching record and move past it */
	*cur = c->rec;
	if (cur->state == MG_OBJ_DONE)
		t->st.journal_objects++;
	c->r = mg_journal_iter_next(c->it, &c->key, NULL, &c->rec);
	return 1;
}

/*
 * What target i does with one listed entry, given its journal record
 * (cur, when known).  Decided here once for the run, the dry run and
 * the estimate; what the decision turns into is the sink's (actions.c).
 */
static void decide(struct run *run, size_t i, struct mg_conn *src, struct mg_conn *dst,
		   const struct mg_entry *e, int accepted,
		   const struct mg_obj_record *cur, struct task *tk, int *small_read)
{
	struct target_run *t = &run->targets[i];
	const struct walk_sink *sink = run->sink;

	if (target_dead(run, t))
		return;
	if (e->kind == MG_ENTRY_ERROR) {
		struct mg_error err = { 0 };

		/* what sits below an unreadable folder is
		 * unknown, so nothing may look gone this run */
		t->listing_errors = 1;
		mg_error_set(&err, MG_FAILED, 0, 0, "list", "%s", e->error);
		record_failure(run, t, e->key, &err, 0);
		return;
	}
	if (e->kind == MG_ENTRY_SYMLINK) {
		t->st.skipped_links++;
		return;
	}
	if (e->kind == MG_ENTRY_SPECIAL) {
		t->st.skipped_special++;
		return;
	}
	if (!accepted) {
		t->st.filtered_objects++;
		return;
	}
	if (folder_marker(t, e->key, e->size)) {
		t->st.skipped_special++;
		if (sink->skipped)
			sink->skipped(run, "skip-dir", e);
		return;
	}
	if (key_refused(run, t, e->key, e->size, "copy"))
		return;
	if (cur && cur->state == MG_OBJ_DONE && cur->size == e->size &&
	    cur->mtime_ns == e->mtime_ns &&
	    (!e->etag[0] || !cur->src_etag[0] || !strcmp(e->etag, cur->src_etag))) {
		/* under the lock: the progress line reads these counts */
		pthread_mutex_lock(&run->mu);
		t->st.unchanged_objects++;
		t->st.unchanged_bytes += e->size;
		pthread_mutex_unlock(&run->mu);
		if (sink->unchanged)
			sink->unchanged(run, t, e, cur);
		/* unchanged, but the rules now give it another class */
		if (tier_wants_reclass(run, t, cur, tk->rule)) {
			tk->reclass_mask |= 1ULL << i;
			if (sink->reclass)
				sink->reclass(run, t, e, cur, tier_class(run, t, tk->rule));
		}
		return;
	}
	tk->need |= 1ULL << i;
	if (cur && cur->state == MG_OBJ_DONE)
		tk->changed_mask |= 1ULL << i;
	if (sink->needed)
		sink->needed(run, i, src, dst, e, tk, small_read);
}

/* One listed entry, for every target at once.  Returns -1 when the run
 * stopped taking work. */
static int walk_entry(struct run *run, struct mg_conn *src, struct mg_conn *dsts,
		      struct jcursor *jc, struct tcursor *tc, const struct mg_entry *e,
		      int64_t now)
{
	const struct walk_sink *sink = run->sink;
	struct task tk;
	int accepted, small_read = 0;

	pthread_mutex_lock(&run->mu);
	run->listed++;
	run->listed_bytes += e->size;
	pthread_mutex_unlock(&run->mu);

	accepted = e->kind == MG_ENTRY_FILE && mg_filter_accept(run->plan, e, now);
	if (sink->skipped && e->kind == MG_ENTRY_SYMLINK)
		sink->skipped(run, "skip-link", e);
	else if (sink->skipped && e->kind == MG_ENTRY_SPECIAL)
		sink->skipped(run, "skip-special", e);
	memset(&tk, 0, sizeof(tk));
	tk.size = e->size;
	tk.mtime_ns = e->mtime_ns;
	tk.mode = e->mode;
	snprintf(tk.src_etag, sizeof(tk.src_etag), "%s", e->etag);
	tk.rule = accepted && run->plan->ntiering ?
		mg_tier_pick(run->plan, e->key, e->size, e->mtime_ns, now) : -1;

	for (size_t i = 0; i < run->nt; i++) {
		struct mg_obj_record cur;
		int known = jcursor_until(run, &run->targets[i], &jc[i], e->key, &cur);

		tcursor_until(run, &run->targets[i], &dsts[i], &tc[i], e->key);
		decide(run, i, src, &dsts[i], e, accepted, known ? &cur : NULL, &tk,
		       &small_read);
	}
	if (!(tk.need | tk.reclass_mask) || !sink->dispatch)
		return 0;
	pthread_mutex_lock(&run->mu);	/* progress: the work ahead */
	run->queued_objects += (uint64_t)__builtin_popcountll(tk.need);
	run->queued_bytes += tk.size * (uint64_t)__builtin_popcountll(tk.need);
	pthread_mutex_unlock(&run->mu);
	return sink->dispatch(run, &tk, e->key);
}

/*
 * Sharded runs (shard.c): past this task's last key the listing is done;
 * at a top-level folder that is another task's, the listing is reopened
 * past it (a local or SFTP walk then never reads it).  Returns MG_OK
 * (e is this task's), MG_DONE, SKIP (e is not this task's, or the
 * listing was reopened and e is gone with the old one), or the
 * reopening's error.
 */
#define SKIP 100	/* not an MG_ grade */
static int shard_step(struct run *run, struct mg_conn *src, struct mg_lister **it,
		      const struct mg_entry *e)
{
	const struct mg_shard *sh = &run->plan->shard;
	const char *last = mg_shard_last(sh);
	char *skip;
	int r;

	if (last && strcmp(e->key, last) > 0)
		return MG_DONE;
	if (!mg_shard_skip_folder(sh, e->key, &skip))
		return mg_shard_mine(sh, e->key) ? MG_OK : SKIP;
	mg_list_close(src, *it);
	*it = NULL;
	r = mg_list_open(src, skip, it);
	free(skip);
	if (r != MG_OK) {
		for (size_t i = 0; i < run->nt; i++)
			run->targets[i].listing_incomplete = 1;
		return r;
	}
	return SKIP;
}

/*
 * The merge-join: the source listing and every target's journal range
 * (o/<tid>/) are all in key order, so one pass over the listing decides
 * for every target at once what it lacks.  Returns MG_OK, or the
 * listing's error (the run is then incomplete).
 */
int walk(struct run *run, struct mg_conn *src, struct mg_conn *dsts)
{
	struct mg_lister *it = NULL;
	struct jcursor *jc = mg_calloc(run->nt, sizeof(*jc));
	struct tcursor *tc = mg_calloc(run->nt, sizeof(*tc));
	struct mg_buf prev = MG_BUF_INIT;
	int have_prev = 0, r;
	int64_t now = mg_now_ns() / 1000000000;

	for (size_t i = 0; i < run->nt; i++) {
		struct target_run *t = &run->targets[i];

		/* marks left by a run that died before its deletes */
		if (run->plan->mode == MG_MODE_SYNC && run->sink->forget_marks)
			run->sink->forget_marks(run, t);
		mg_journal_iter_open(run->journal, t->ep->id, NULL, &jc[i].it);
		jc[i].r = mg_journal_iter_next(jc[i].it, &jc[i].key, NULL, &jc[i].rec);
		tcursor_open(run, t, &dsts[i], &tc[i]);
	}
	r = mg_list_open(src, mg_shard_start_after(&run->plan->shard), &it);
	if (r != MG_OK)
		goto out;

	for (;;) {
		struct mg_entry e;

		if (mg_interrupted || run_stopped(run))
			break;
		memset(&e, 0, sizeof(e));
		r = mg_list_next(src, it, &e);
		if (r == MG_DONE) {
			r = MG_OK;
			break;
		}
		if (r != MG_OK) {
			for (size_t i = 0; i < run->nt; i++)
				run->targets[i].listing_incomplete = 1;
			break;
		}
		if (have_prev && strcmp(prev.buf, e.key) >= 0) {
			for (size_t i = 0; i < run->nt; i++)
				run->targets[i].listing_incomplete = 1;
			r = mg_error_set(&src->err, MG_FATAL, 0, 0, "list",
					 "the '%s' connector listed '%s' after '%s': keys "
					 "out of order (a bug: please report it)",
					 src->ops->scheme, e.key, prev.buf);
			break;
		}
		mg_buf_reset(&prev);
		mg_buf_adds(&prev, e.key);
		have_prev = 1;
		r = shard_step(run, src, &it, &e);
		if (r == MG_DONE) {
			r = MG_OK;
			break;
		}
		if (r == SKIP)
			continue;
		if (r != MG_OK)
			break;
		if (walk_entry(run, src, dsts, jc, tc, &e, now) < 0)
			break;
	}
	/* Past the last listed key: the rest of each journal, and of each
	 * target's listing, is gone too, if the listing really ended. */
	if (r == MG_OK && !mg_interrupted && !run_stopped(run))
		for (size_t i = 0; i < run->nt; i++) {
			struct mg_obj_record none;

			jcursor_until(run, &run->targets[i], &jc[i], NULL, &none);
		}
	if (r == MG_OK && !mg_interrupted && !run_stopped(run))
		for (size_t i = 0; i < run->nt; i++)
			tcursor_until(run, &run->targets[i], &dsts[i], &tc[i], NULL);
	if (it)
		mg_list_close(src, it);
out:
	for (size_t i = 0; i < run->nt; i++) {
		mg_journal_iter_close(jc[i].it);
		tcursor_close(&dsts[i], &tc[i]);
	}
	free(jc);
	free(tc);
	mg_buf_release(&prev);
	return r;
}
