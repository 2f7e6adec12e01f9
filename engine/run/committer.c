/*
 * committer.c - group commit: a worker hands a done object's records to
 * the committer, which writes many with one sync and only then counts
 * them done.
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
#include "testhook.h"

/* Journals the outcome of one object at the target in hand and counts it. */
void finish(struct worker *w, const struct task *tk, int r,
	    struct mg_obj_record *rec, int multipart, int deduped, int claimed,
	    int attempts)
{
	struct run *run = w->run;
	struct target_run *t = w->t;
	const char *tid = t->ep->id;

	if (r == MG_OK) {
		rec->state = MG_OBJ_DONE;
		rec->size = tk->size;
		rec->mtime_ns = tk->mtime_ns;
		rec->t_done = mg_now_ns();
		rec->run = run->id;
		snprintf(rec->src_etag, sizeof(rec->src_etag), "%s", tk->src_etag);
		/* the audit trail (issue 15.6): the class and encryption asked */
		snprintf(rec->sclass, sizeof(rec->sclass), "%s", tk->sclass ? tk->sclass : "");
		snprintf(rec->enc, sizeof(rec->enc), "%s", t->enc ? t->enc : "");
		governance_stamp(run, t, rec);
		/* The record, the end of its upload and its index entry go in
		 * one batch, so they reach the disk together; the claim on the
		 * content is released only then, so a worker waiting for the
		 * same content finds the index entry and copies. */
		pthread_mutex_lock(&run->cmu);
		while (run->nnotes >= COMMIT_BACKLOG)
			pthread_cond_wait(&run->croom, &run->cmu);
		mg_journal_batch_put_obj(run->cbatch, tid, tk->key, rec);
		if (multipart)
			mg_journal_batch_del_upload(run->cbatch, tid, tk->key);
		if (rec->sha256[0])
			mg_journal_batch_put_hash(run->cbatch, rec->sha256, tid, tk->key);
		if (run->nnotes == run->anotes) {
			run->anotes = run->anotes ? 2 * run->anotes : 64;
			run->notes = mg_realloc(run->notes, run->anotes * sizeof(*run->notes));
		}
		run->notes[run->nnotes++] = (struct commit_note){
			t, tk->size, deduped, tk->changed, claimed,
			run->logj ? mg_strdup(tk->key) : NULL, *rec, attempts,
			w->times
		};
		if (run->nnotes == 1 || run->nnotes == COMMIT_MAX)
			pthread_cond_signal(&run->ccv);
		pthread_mutex_unlock(&run->cmu);
		return;
	}
	inflight_release(run, claimed);
	if (mg_interrupted)
		return;
	if (r == MG_FATAL) {
		/* fatal for the target (its conn says so) or for the source */
		set_fatal(run, w->dst->err.status == MG_FATAL ? t : NULL, &w->err);
		return;
	}
	record_failure(run, t, tk->key, &w->err, tk->size);
	log_object(run, t, tk->key, tk->size, NULL, "failed", attempts, w->err.msg,
		   &w->times);
	/* Keep what an earlier run recorded (the target may still hold the
	 * old version); only a key never done gets a failed record. */
	{
		struct mg_obj_record old;

		if (mg_journal_get_obj(run->journal, tid, tk->key, &old) != MG_OK) {
			rec->state = MG_OBJ_FAILED;
			rec->size = tk->size;
			rec->mtime_ns = tk->mtime_ns;
			rec->run = run->id;
			journal_check(run, mg_journal_put_obj(run->journal, tid, tk->key,
							      rec, 0),
				      "a failed object's record");
		}
	}
}

/* Counts the objects of a written batch done (failed: not done; the next
 * run finds no record and copies them again). */
static void commit_apply(struct run *run, const struct commit_note *n, size_t count,
			 int ok)
{
	pthread_mutex_lock(&run->mu);
	for (size_t i = 0; ok && i < count; i++) {
		struct target_run *t = n[i].t;

		if (n[i].deduped) {
			t->st.dedup_objects++;
			t->st.dedup_bytes += n[i].size;
		} else if (n[i].changed) {
			t->st.changed_objects++;
		} else {
			t->st.new_objects++;
			t->st.new_bytes += n[i].size;
		}
		if (!n[i].deduped)
			t->st.copied_bytes += n[i].size;
		tier_count(t, &n[i].rec, n[i].size);
	}
	pthread_mutex_unlock(&run->mu);
	for (size_t i = 0; i < count; i++) {
		inflight_release(run, n[i].claimed);
		if (n[i].key) {
			log_object(run, n[i].t, n[i].key, n[i].size, &n[i].rec,
				   !ok ? "failed" : n[i].deduped ? "deduped" : "copied",
				   n[i].attempts, ok ? NULL : "cannot write the journal",
				   &n[i].times);
			free(n[i].key);
		}
	}
}

/*
 * The committer: waits for done objects, gives others up to
 * COMMIT_WINDOW_MS to join, writes the batch with one sync, then counts
 * them.  One fdatasync serves every object finished in the window instead
 * of one each, and nothing is counted done before its record is on disk.
 * At most COMMIT_BACKLOG objects wait for the next batch (finish() blocks the
 * next worker until this one takes them): without that bound a fast
 * target let the backlog, and the memory it holds, grow with the run
 * (120 MB at a million objects into a target that keeps nothing).
 */
void *committer_main(void *arg)
{
	struct run *run = arg;
	struct mg_journal_batch *b = mg_journal_batch_new();
	struct commit_note *notes = NULL;
	size_t anotes = 0;

	pthread_mutex_lock(&run->cmu);
	for (;;) {
		struct mg_journal_batch *tmp;
		size_t n;
		int r;

		while (!run->nnotes && !run->cstop)
			pthread_cond_wait(&run->ccv, &run->cmu);
		if (!run->nnotes)
			break;
		if (!run->cstop && run->nnotes < COMMIT_MAX) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += COMMIT_WINDOW_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&run->ccv, &run->cmu, &ts);
		}
		tmp = run->cbatch;
		run->cbatch = b;
		b = tmp;
		n = run->nnotes;
		if (anotes < n) {
			anotes = run->anotes;
			notes = mg_realloc(notes, anotes * sizeof(*notes));
		}
		memcpy(notes, run->notes, n * sizeof(*notes));
		run->nnotes = 0;
		pthread_cond_broadcast(&run->croom);
		pthread_mutex_unlock(&run->cmu);

		r = mg_journal_batch_write(run->journal, b);
		mg_test_points("object", r == MG_OK ? n : 0);
		commit_apply(run, notes, n, r == MG_OK);
		if (r != MG_OK) {
			struct mg_error e = { 0 };

			mg_error_set(&e, MG_FATAL, 0, 0, "journal", "cannot write the journal");
			set_fatal(run, NULL, &e);
		}
		pthread_mutex_lock(&run->cmu);
	}
	pthread_mutex_unlock(&run->cmu);
	mg_journal_batch_free(b);
	free(notes);
	return NULL;
}
