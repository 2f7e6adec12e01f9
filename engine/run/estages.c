/*
 * estages.c - what an estimate needs beyond requests and bytes for the
 * price rules that bill more than is stored: the ages of what a sync
 * deletes or overwrites at a target (minimum storage durations: the
 * journal's copy time to now) and the sizes of what the target holds
 * after the move (minimum billable object sizes).  Both are bounded
 * histograms (pricing.h), so a walk of millions of keys holds a few KB.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "estextra.h"
#include "pricing.h"
#include "run.h"

struct est_minimums {
	struct mg_delete_ages early;	/* deletes the guards let through, overwrites */
	struct mg_delete_ages gone;	/* deletes, until the guards say yes */
	struct mg_small_objects small;
	/* quarantine copies of what is gone (18.5), until the guards say
	 * yes: at an S3 target (part copies), and as one copy each */
	uint64_t q_s3[MG_REQ__COUNT];
	uint64_t q_plain;
};

static struct est_minimums *est_of(struct target_run *t)
{
	if (!t->est)
		t->est = mg_calloc(1, sizeof(*t->est));
	return t->est;
}

/* The age of the copy the journal holds for key at t, or -1: a key
 * without a record (a stray) has no copy time and is left out. */
static int64_t copy_age_s(struct run *run, struct target_run *t, const char *key,
			  uint64_t *size)
{
	struct mg_obj_record rec;

	if (!run->journal || mg_journal_get_obj(run->journal, t->ep->id, key, &rec) != MG_OK ||
	    rec.t_done <= 0)
		return -1;
	*size = rec.size;
	return (mg_now_ns() - rec.t_done) / 1000000000;
}

void est_note_stored(struct target_run *t, uint64_t size)
{
	mg_small_objects_add(&est_of(t)->small, size);
}

void est_note_overwrite(struct run *run, struct target_run *t, const char *key)
{
	uint64_t size = 0;
	int64_t age = copy_age_s(run, t, key, &size);

	if (age >= 0)
		mg_delete_ages_add(&est_of(t)->early, size, age);
}

void est_note_gone(struct run *run, struct target_run *t, const char *key)
{
	uint64_t size = 0;
	int64_t age = copy_age_s(run, t, key, &size);

	if (age >= 0)
		mg_delete_ages_add(&est_of(t)->gone, size, age);
}

void est_note_quarantine(struct target_run *t, uint64_t size)
{
	struct est_minimums *m = est_of(t);

	mg_copy_requests(size, MG_COPY_MAX_SINGLE, MG_COPY_PART_SIZE,
			 MG_COPY_MAX_PARTS, m->q_s3);
	m->q_plain++;
}

void est_quarantine_go(struct target_run *t, const struct mg_conn *dst)
{
	struct est_minimums *m = est_of(t);

	/* a connector that copies in parts is S3's (copy_multipart);
	 * the others copy an object with one call */
	if (dst->ops->caps & MG_CAP_PART_COPY)
		for (int r = 0; r < MG_REQ__COUNT; r++)
			t->counters.req[r] += m->q_s3[r];
	else
		t->counters.req[MG_REQ_COPY] += m->q_plain;
}

void est_deletes_go(struct target_run *t)
{
	struct est_minimums *m = est_of(t);

	for (int d = 0; d < MG_DELETE_AGE_DAYS; d++) {
		m->early.bytes[d] += m->gone.bytes[d];
		m->early.count[d] += m->gone.count[d];
	}
}

void est_tally(struct target_run *t, struct mg_target_tally *tally)
{
	struct est_minimums *m = est_of(t);

	tally->deleted = &m->early;
	tally->small = &m->small;
}

int est_resume_parts(struct run *run, struct target_run *t, const char *key,
		     const struct task *tk, uint64_t part_size)
{
	struct mg_upload_record up;
	int skip = 0;

	if (!run->journal ||
	    mg_journal_get_upload(run->journal, t->ep->id, key, &up) != MG_OK)
		return 0;
	/* the checks of reconcile_upload() that need no server; the server
	 * holding the journaled parts is taken for granted (ListParts, which
	 * the resume sends, is counted) */
	if (up.size == tk->size && up.mtime_ns == tk->mtime_ns &&
	    !strcmp(up.src_etag, tk->src_etag) && up.part_size == part_size &&
	    up.hashed_parts > 0) {
		for (size_t i = 0; i < up.nparts && (int)i < up.hashed_parts; i++) {
			if (up.parts[i].number != (int)i + 1)
				break;
			skip++;
		}
		if (skip != up.hashed_parts)
			skip = 0;
	}
	mg_upload_record_release(&up);
	return skip;
}

void est_release(struct target_run *t)
{
	free(t->est);
	t->est = NULL;
}
