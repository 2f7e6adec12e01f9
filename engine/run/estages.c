/*
 * estages.c - what an estimate needs beyond requests and bytes for the
 * price rules that bill more than is stored: the ages of what a sync
 * deletes or overwrites at a target (minimum storage durations: the
 * journal's copy time to now) and the sizes of what the target holds
 * after the move (minimum billable object sizes).  Both are bounded
 * histograms (pricing.h), so a walk of millions of keys holds a few KB.
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
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
	/* dedupe foreseen (18.6): the contents this estimate has the run
	 * upload (a set of SHA-256s), the objects whose content it cannot
	 * know, the inventory the journal keeps (its start; 0 none) */
	char (*sent)[65];
	size_t nsent, capsent;
	uint64_t unknown;
	long long inv_at;
	int inv_read;
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
	tally->dedupe_unknown = m->unknown;
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

/* ---- dedupe foreseen (18.6) ---- */

static size_t sha_slot(char (*set)[65], size_t cap, const char *sha)
{
	size_t i = (size_t)strtoull((char[13]){ sha[0], sha[1], sha[2], sha[3], sha[4], sha[5],
						sha[6], sha[7], sha[8], sha[9], sha[10], sha[11], 0 },
				    NULL, 16) & (cap - 1);

	while (set[i][0] && strcmp(set[i], sha))
		i = (i + 1) & (cap - 1);
	return i;
}

/* Adds sha to the set of contents sent; 1 if it was there already. */
static int sent_add(struct est_minimums *m, const char *sha)
{
	size_t i;

	if (2 * (m->nsent + 1) > m->capsent) {
		size_t cap = m->capsent ? 2 * m->capsent : 256;
		char (*set)[65] = mg_calloc(cap, sizeof(*set));

		for (size_t k = 0; k < m->capsent; k++)
			if (m->sent[k][0])
				memcpy(set[sha_slot(set, cap, m->sent[k])], m->sent[k], 65);
		free(m->sent);
		m->sent = set;
		m->capsent = cap;
	}
	i = sha_slot(m->sent, m->capsent, sha);
	if (m->sent[i][0])
		return 1;
	memcpy(m->sent[i], sha, 65);
	m->nsent++;
	return 0;
}

/* The SHA-256 of tk's content if something already knows it, else 0:
 * the last `migrate inventory` (inventory.c keeps it in the journal) for
 * an object not modified since, or the journal's record of the same
 * version at any target. */
static int known_sha(struct run *run, struct est_minimums *m, const char *key,
		     const struct task *tk, char *sha)
{
	struct mg_buf name = MG_BUF_INIT;
	struct mg_obj_record rec;
	char *v;
	int ok = 0;

	if (!m->inv_read) {
		v = mg_journal_get_meta(run->journal, "inventory/at");
		m->inv_at = v ? atoll(v) : 0;
		free(v);
		m->inv_read = 1;
	}
	if (m->inv_at) {
		mg_buf_addf(&name, "inventory/obj/%s", key);
		v = mg_journal_get_meta(run->journal, name.buf);
		mg_buf_release(&name);
		if (v) {
			long long gen = 0;
			uint64_t size = 0;
			char h[65];

			ok = sscanf(v, "%lld %" SCNu64 " %64s", &gen, &size, h) == 3 &&
			     gen == m->inv_at && size == tk->size && strlen(h) == 64 &&
			     tk->mtime_ns > 0 && tk->mtime_ns / 1000000000 < gen;
			if (ok)
				memcpy(sha, h, 65);
			free(v);
		}
	}
	for (size_t i = 0; !ok && i < run->nt; i++)
		if (mg_journal_get_obj(run->journal, run->targets[i].ep->id, key, &rec) == MG_OK &&
		    rec.state == MG_OBJ_DONE && rec.size == tk->size &&
		    rec.mtime_ns == tk->mtime_ns && rec.sha256[0]) {
			memcpy(sha, rec.sha256, 65);
			ok = 1;
		}
	return ok;
}

/* What try_dedupe() (dedupe.c) finds in the journal: a key at t, other
 * than key, whose record holds this content. */
static int journal_has(struct run *run, struct target_run *t, const char *key,
		       const char *sha, uint64_t size)
{
	struct mg_obj_record other;
	char *from = NULL;
	int ok;

	if (mg_journal_find_hash(run->journal, sha, t->ep->id, &from) != MG_OK)
		return 0;
	ok = strcmp(from, key) &&
	     mg_journal_get_obj(run->journal, t->ep->id, from, &other) == MG_OK &&
	     other.state == MG_OBJ_DONE && !strcmp(other.sha256, sha) && other.size == size;
	free(from);
	return ok;
}

int est_dedupe(struct run *run, struct target_run *t, struct mg_conn *src,
	       struct mg_conn *dst, const char *key, const struct task *tk,
	       int *small_read)
{
	struct est_minimums *m = est_of(t);
	char sha[65];

	/* the objects put_small() (xfer.c) may turn into a copy */
	if (!run->plan->transfer.dedupe || !run->journal ||
	    !mg_conn_has(dst, MG_CAP_SERVER_COPY) || tk->size == 0 ||
	    tk->size > DEDUPE_MAX || multipart_parts(run, dst->ops, tk->size) > 0)
		return 0;
	if (!known_sha(run, m, key, tk, sha)) {
		m->unknown++;
		return 0;
	}
	/* content already at t, or uploaded earlier in this run (a second
	 * worker waits for the first, then copies: dedupe.c inflight) */
	if (!journal_has(run, t, key, sha, tk->size) && !sent_add(m, sha))
		return 0;
	if (!*small_read) {
		mg_predict_read(src, tk->size, &run->src_counters);
		run->src_counters.bytes_read += tk->size;
		*small_read = 1;
	}
	t->counters.req[MG_REQ_COPY]++;
	pthread_mutex_lock(&run->mu);
	t->st.dedup_objects++;
	t->st.dedup_bytes += tk->size;
	pthread_mutex_unlock(&run->mu);
	if ((tk->changed_mask >> (t - run->targets)) & 1)
		est_note_overwrite(run, t, key);
	est_note_stored(t, tk->size);
	return 1;
}

void est_release(struct target_run *t)
{
	if (t->est)
		free(t->est->sent);
	free(t->est);
	t->est = NULL;
}
