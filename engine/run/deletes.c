/*
 * deletes.c - sync: what is gone from the source (marked in the journal
 * during the walk, strays found in the target's own listing) and the
 * guarded deletes once the listing is known complete.
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

/*
 * Sync: a journaled object the listing no longer has is gone from the
 * source.  It is marked in the journal (d/<tid>/<key>), not held in
 * memory, and deleted only after the listing is known complete.
 */
void note_gone(struct run *run, struct target_run *t, const char *key,
	       const struct mg_obj_record *rec)
{
	if (run->plan->mode != MG_MODE_SYNC ||
	    (rec->state != MG_OBJ_DONE && rec->state != MG_OBJ_DELETING))
		return;
	/* a shard's journal holds only its keys, unless the split changed
	 * (other prefixes): then a key is not gone, just no longer ours */
	if (!mg_shard_mine(&run->plan->shard, key))
		return;
	t->st.gone_objects++;
	t->st.gone_bytes += rec->size;
	if (run->sink->gone)
		run->sink->gone(run, t, key, rec->size);
}

struct mark_pass {
	struct run *run;
	struct target_run *t;
};

static int drop_mark(void *arg, const char *key, uint64_t size)
{
	struct mark_pass *mp = arg;

	(void)size;
	return journal_check(mp->run, mg_journal_del_gone(mp->run->journal,
							  mp->t->ep->id, key),
			     "a gone mark") != MG_OK;
}

void drop_marks(struct run *run, struct target_run *t)
{
	struct mark_pass mp = { run, t };

	mg_journal_scan_gone(run->journal, t->ep->id, drop_mark, &mp);
}

static void tcursor_next(struct run *run, struct target_run *t, struct mg_conn *dst,
			 struct tcursor *tc)
{
	struct mg_entry e;

	do {
		memset(&e, 0, sizeof(e));
		tc->r = mg_list_next(dst, tc->it, &e);
		if (tc->r == MG_OK && e.kind == MG_ENTRY_ERROR)
			tc->r = mg_error_set(&dst->err, MG_FAILED, 0, 0, "list", "%s", e.error);
		if (tc->r != MG_OK && tc->r != MG_DONE) {
			char why[600];

			fprintf(stderr, "migrate: sync: listing %s failed (%s): objects "
				"there that the journal does not know are not deleted "
				"this run\n", t->ep->url,
				mg_printable(dst->err.msg, why, sizeof(why)));
			mg_error_clear(&dst->err);
		}
	} while (tc->r == MG_OK && e.kind != MG_ENTRY_FILE);
	if (tc->r == MG_OK) {
		mg_buf_reset(&tc->key);
		mg_buf_adds(&tc->key, e.key);
		tc->size = e.size;
		(void)run;
	}
}

void tcursor_open(struct run *run, struct target_run *t, struct mg_conn *dst,
		  struct tcursor *tc)
{
	tc->r = MG_DONE;
	if (run->plan->mode != MG_MODE_SYNC || t->fatal || !dst->ops ||
	    !mg_conn_has(dst, MG_CAP_SOURCE))
		return;
	if (mg_list_open(dst, mg_shard_start_after(&run->plan->shard), &tc->it) != MG_OK) {
		/* a target folder not made yet holds nothing to delete */
		mg_error_clear(&dst->err);
		tc->it = NULL;
		return;
	}
	tcursor_next(run, t, dst, tc);
}

/* Target keys before key (all of them with key NULL) are not at the
 * source: those the journal does not account for are marked gone. */
void tcursor_until(struct run *run, struct target_run *t, struct mg_conn *dst,
		   struct tcursor *tc, const char *key)
{
	const struct mg_plan *plan = run->plan;
	const char *qp = plan->deletes.quarantine_prefix;
	int64_t now = mg_now_ns() / 1000000000;
	int cmp;

	while (tc->r == MG_OK && (!key || (cmp = strcmp(tc->key.buf, key)) <= 0)) {
		struct mg_obj_record rec;
		struct mg_entry e = { .key = tc->key.buf, .size = tc->size };

		if (key && cmp == 0) {
			tcursor_next(run, t, dst, tc);
			break;
		}
		/* a sharded task deletes only among its own keys */
		if (mg_shard_mine(&run->plan->shard, tc->key.buf) &&
		    (!qp || strncmp(tc->key.buf, qp, strlen(qp))) &&
		    mg_filter_accept(plan, &e, now) &&
		    (mg_journal_get_obj(run->journal, t->ep->id, tc->key.buf, &rec) != MG_OK ||
		     (rec.state != MG_OBJ_DONE && rec.state != MG_OBJ_DELETING))) {
			t->st.gone_objects++;
			t->st.gone_bytes += tc->size;
			t->st.stray_objects++;
			if (run->sink->gone)
				run->sink->gone(run, t, tc->key.buf, tc->size);
		}
		tcursor_next(run, t, dst, tc);
	}
}

void tcursor_close(struct mg_conn *dst, struct tcursor *tc)
{
	if (tc->it)
		mg_list_close(dst, tc->it);
	mg_buf_release(&tc->key);
}

/*
 * Object Lock refused the delete of key (issue 15.5): the object stays at
 * the target, so its record goes back to done (the journal says it is
 * there, as it is) and its gone mark is dropped; the next sync finds it
 * gone again and tries once more, which works once the lock ends.  The
 * object counts as failed (exit 1) and as locked, with the lock the
 * journal knows and the server's word.
 */
static int delete_locked(struct run *run, struct target_run *t, const char *key,
			 struct mg_obj_record *rec, uint64_t size,
			 const struct mg_error *server)
{
	struct mg_error e = { 0 };
	char lock[96];

	mg_retention_text(rec->lock_mode, rec->lock_until, rec->legal_hold, lock,
			  sizeof(lock));
	mg_error_set(&e, MG_FAILED, 0, server->remote_code, "delete",
		     "sync: not deleted: Object Lock keeps it (written %s%s): %s; "
		     "it stays at the target and in the journal, and a later sync "
		     "deletes it once the lock ends", lock,
		     mg_retention_in_force(rec->lock_mode, rec->lock_until,
					   rec->legal_hold, mg_now_ns() / 1000000000) ?
		     "" : "; the server keeps it locked longer", server->msg);
	rec->state = MG_OBJ_DONE;
	if (journal_check(run, mg_journal_put_obj(run->journal, t->ep->id, key, rec, 1),
			  "a locked object") != MG_OK ||
	    journal_check(run, mg_journal_del_gone(run->journal, t->ep->id, key),
			  "a gone mark") != MG_OK)
		return 1;
	record_failure(run, t, key, &e, size);
	pthread_mutex_lock(&run->mu);
	t->st.locked_objects++;
	t->st.locked_bytes += size;
	pthread_mutex_unlock(&run->mu);
	return 0;
}

struct delete_pass {
	struct run *run;
	struct target_run *t;
	struct mg_conn *dst;
	struct mg_buf qkey;
};

static int delete_one(void *arg, const char *key, uint64_t size)
{
	struct delete_pass *dp = arg;
	struct run *run = dp->run;
	struct target_run *t = dp->t;
	const char *tid = t->ep->id;
	const char *qp = run->plan->deletes.quarantine_prefix;
	struct mg_obj_record rec;
	int r = MG_OK, locked;

	if (mg_interrupted)
		return 1;
	if (key_refused(run, t, key, size, "delete"))
		return journal_check(run, mg_journal_del_gone(run->journal, tid, key),
				     "a gone mark") != MG_OK;
	if (mg_journal_get_obj(run->journal, tid, key, &rec) != MG_OK) {
		/* a stray: at the target, never journaled, not at the source */
		memset(&rec, 0, sizeof(rec));
		rec.size = size;
	}
	/* Written under Object Lock (issue 15.5): the version written is
	 * deleted, not hidden under a delete marker that would leave its
	 * bytes stored, locked and billed while the sync says "deleted" */
	locked = rec.lock_mode[0] || rec.legal_hold;
	/* Journal first: a crash from here on leaves a DELETING record
	 * that the next run finds gone again and finishes. */
	rec.state = MG_OBJ_DELETING;
	if (journal_check(run, mg_journal_put_obj(run->journal, tid, key, &rec, 1),
			  "a delete") != MG_OK)
		return 1;
	mg_error_clear(&dp->dst->err);
	if (qp) {
		struct mg_put_info info = { .size = rec.size, .mtime_ns = rec.mtime_ns };
		struct mg_put_final fin;
		struct mg_put_result res;

		memset(&fin, 0, sizeof(fin));
		snprintf(fin.sha256, sizeof(fin.sha256), "%s", rec.sha256);
		mg_buf_reset(&dp->qkey);
		mg_buf_adds(&dp->qkey, qp);
		mg_buf_adds(&dp->qkey, key);
		r = mg_copy(dp->dst, key, dp->qkey.buf, &info, &fin, &res);
	}
	if (r == MG_OK)
		r = locked ? mg_remove_version(dp->dst, key, rec.version_id) :
			     mg_remove(dp->dst, key);
	if (r != MG_OK && locked && r != MG_FATAL && dp->dst->err.remote_code == 403)
		return delete_locked(run, t, key, &rec, size, &dp->dst->err);
	if (r != MG_OK) {
		record_failure(run, t, key, &dp->dst->err, 0);
		return r == MG_FATAL;
	}
	if (journal_check(run, mg_journal_del_obj(run->journal, tid, key, 1),
			  "a delete") != MG_OK ||
	    (rec.sha256[0] &&
	     journal_check(run, mg_journal_del_hash(run->journal, rec.sha256, tid, key, 0),
			   "the dedupe index") != MG_OK) ||
	    journal_check(run, mg_journal_del_gone(run->journal, tid, key),
			  "a gone mark") != MG_OK)
		return 1;
	t->st.deleted_objects++;
	t->st.deleted_bytes += size;
	return 0;
}

/*
 * Deletes what is gone from the source, after the guards.  Called only
 * when the listing completed.  The guards stop the deletes, never the
 * copies, and say which number tripped them.
 */
void sync_deletes(struct run *run, struct target_run *t, struct mg_conn *dst)
{
	const struct mg_plan *plan = run->plan;
	uint64_t n = t->st.gone_objects;
	uint64_t base = t->st.journal_objects + t->st.stray_objects;
	double pct = base ? 100.0 * (double)n / (double)base : 0;

	if (!n)
		return;
	if (plan->deletes.max_count && n > plan->deletes.max_count)
		snprintf(t->delete_stop, sizeof(t->delete_stop),
			 "%" PRIu64 " objects are gone from the source, more than "
			 "delete.max_count %" PRIu64 ": no object was deleted (raise "
			 "the limit if this is intended)", n, plan->deletes.max_count);
	else if (plan->deletes.max_percent > 0 && pct > plan->deletes.max_percent)
		snprintf(t->delete_stop, sizeof(t->delete_stop),
			 "%" PRIu64 " of %" PRIu64 " objects (%.1f%%) are gone from the "
			 "source, more than delete.max_percent %g%%: no object was "
			 "deleted (raise the limit if this is intended)", n, base, pct,
			 plan->deletes.max_percent);
	if (t->delete_stop[0]) {
		fprintf(stderr, "migrate: sync: %s\n", t->delete_stop);
		if (run->sink->forget_marks)
			run->sink->forget_marks(run, t);
		return;
	}
	/* a run deletes (delete_marked), an estimate counts, a dry run
	 * printed them already */
	if (run->sink->delete_gone)
		run->sink->delete_gone(run, t, dst);
}

/* The run's deletes: every object marked gone at t, one at a time. */
void delete_marked(struct run *run, struct target_run *t, struct mg_conn *dst)
{
	struct delete_pass dp = { run, t, dst, MG_BUF_INIT };

	mg_journal_scan_gone(run->journal, t->ep->id, delete_one, &dp);
	mg_buf_release(&dp.qkey);
}
