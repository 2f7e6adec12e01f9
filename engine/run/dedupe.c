/*
 * dedupe.c - content dedupe claims: a server-side copy from a key that
 * already holds the same bytes, and the in-flight registry that keeps two
 * workers from uploading the same content at once.
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

/*
 * Content dedupe.  An object small enough to hold (DEDUPE_MAX) is read
 * into memory first, so its SHA-256 is known before anything is sent: if
 * the journal's hash index (h/<sha256>/<tid>/<key>) knows a key at this
 * target with that content, the object becomes a server-side copy of it.
 * Two workers hashing the same content at the same moment would both
 * upload it, so a hash being uploaded is registered as in flight and a
 * second worker waits for it, then copies.  Larger objects stream: their
 * hash is only known once they are sent, so they are not deduplicated.
 */

/*
 * The in-flight registry: one lookup per small object, so a chained hash
 * over a fixed pool (a claim is held until the object's record is
 * committed, so up to the committer's backlog are held at once) rather
 * than a scan of every slot.  Slot numbers are stable: a claim is
 * released by the number claim returned.
 */
void inflight_init(struct run *run, int slots)
{
	unsigned buckets = 64;

	while (buckets < 2u * (unsigned)slots)
		buckets *= 2;
	run->ninflight = slots;
	run->inflight = mg_calloc((size_t)slots, sizeof(*run->inflight));
	run->inflight_next = mg_calloc((size_t)slots, sizeof(int));
	run->inflight_head = mg_malloc(buckets * sizeof(int));
	run->inflight_mask = buckets - 1;
	for (unsigned i = 0; i < buckets; i++)
		run->inflight_head[i] = -1;
	for (int i = 0; i < slots; i++)
		run->inflight_next[i] = i + 1 < slots ? i + 1 : -1;
	run->inflight_free = 0;
}

void inflight_free(struct run *run)
{
	free(run->inflight);
	free(run->inflight_next);
	free(run->inflight_head);
	run->inflight = NULL;
	run->inflight_next = run->inflight_head = NULL;
}

/* The bucket of a hex SHA-256: its first 8 hex digits are as random as any. */
static unsigned bucket_of(const struct run *run, const char *sha)
{
	return (unsigned)strtoul((char[9]){ sha[0], sha[1], sha[2], sha[3], sha[4], sha[5],
					    sha[6], sha[7], 0 }, NULL, 16) & run->inflight_mask;
}

static int inflight_find(const struct run *run, const char *sha)
{
	for (int i = run->inflight_head[bucket_of(run, sha)]; i >= 0; i = run->inflight_next[i])
		if (!strcmp(run->inflight[i], sha))
			return i;
	return -1;
}

/* Takes a free slot for sha (under run->mu): the slot, or -1 for none. */
static int inflight_take(struct run *run, const char *sha)
{
	int slot = run->inflight_free;
	unsigned b;

	if (slot < 0)
		return -1;
	run->inflight_free = run->inflight_next[slot];
	snprintf(run->inflight[slot], 65, "%s", sha);
	b = bucket_of(run, sha);
	run->inflight_next[slot] = run->inflight_head[b];
	run->inflight_head[b] = slot;
	return slot;
}

/* Registers sha as in flight, or waits while another worker uploads the
 * same content.  Returns the slot to release, or -1 when another worker
 * had it (look the index up again) or there is no free slot (upload
 * without a claim: at worst the content goes up twice). */
int inflight_claim(struct run *run, const char *sha)
{
	int slot = -1, waited = 0;

	pthread_mutex_lock(&run->mu);
	while (inflight_find(run, sha) >= 0 && !mg_interrupted) {
		waited = 1;
		queue_wait(run, &run->inflight_done);
	}
	if (!waited)
		slot = inflight_take(run, sha);
	pthread_mutex_unlock(&run->mu);
	return slot;
}

int inflight_try_claim(struct run *run, const char *sha)
{
	int slot;

	pthread_mutex_lock(&run->mu);
	slot = inflight_find(run, sha) >= 0 ? -2 : inflight_take(run, sha);
	pthread_mutex_unlock(&run->mu);
	return slot;
}

void inflight_release(struct run *run, int slot)
{
	int *p;

	if (slot < 0)
		return;
	pthread_mutex_lock(&run->mu);
	for (p = &run->inflight_head[bucket_of(run, run->inflight[slot])]; *p != slot;
	     p = &run->inflight_next[*p])
		;
	*p = run->inflight_next[slot];
	run->inflight[slot][0] = '\0';
	run->inflight_next[slot] = run->inflight_free;
	run->inflight_free = slot;
	pthread_cond_broadcast(&run->inflight_done);
	pthread_mutex_unlock(&run->mu);
}

/*
 * The journal said the copy source held this content, and the target
 * says it no longer does (changed out of band, or by a run in flight):
 * forget the index entry, and make the next run copy that key again.
 */
static void dedupe_stale(struct worker *w, const char *from, const char *key,
			 struct mg_obj_record *other, const char *sha)
{
	struct run *run = w->run;
	const char *tid = w->t->ep->id;
	char a[256], b[256];

	journal_check(run, mg_journal_del_hash(run->journal, sha, tid, from, 0),
		      "the dedupe index");
	other->mtime_ns = -1;	/* matches no source file: seen as changed */
	journal_check(run, mg_journal_put_obj(run->journal, tid, from, other, 0),
		      "an object record");
	mg_printable(from, a, sizeof(a));
	fprintf(stderr, "migrate: dedupe: '%s' at %s no longer holds the content the "
		"journal recorded: '%s' was uploaded instead, and '%s' is copied "
		"again on the next run\n", a, w->t->ep->url,
		mg_printable(key, b, sizeof(b)), a);
}

/*
 * Server-side copy from a key at this target holding the same content,
 * conditional on the ETag the journal recorded for it (the "Conditional
 * on what we know" invariant): a copy source that changed since is never
 * copied under this object's hash.
 */
int try_dedupe(struct worker *w, const struct task *tk,
	       const struct mg_put_final *fin, struct mg_obj_record *rec)
{
	struct run *run = w->run;
	const char *tid = w->t->ep->id;
	struct mg_put_info info = put_info(run, tk);
	struct mg_put_result res = { { 0 }, { 0 } };
	struct mg_obj_record other;
	char *from = NULL;
	int r;

	if (mg_journal_find_hash(run->journal, fin->sha256, tid, &from) != MG_OK)
		return MG_ABSENT;
	if (!strcmp(from, tk->key) ||
	    mg_journal_get_obj(run->journal, tid, from, &other) != MG_OK ||
	    other.state != MG_OBJ_DONE || strcmp(other.sha256, fin->sha256) ||
	    other.size != tk->size) {
		/* a stale index entry: forget it */
		if (strcmp(from, tk->key))
			journal_check(run, mg_journal_del_hash(run->journal, fin->sha256,
							       tid, from, 0),
				      "the dedupe index");
		free(from);
		return MG_ABSENT;
	}
	info.copy_if_match = other.etag[0] ? other.etag : NULL;
	r = mg_copy(w->dst, from, tk->key, &info, fin, &res);
	if (r == MG_ABSENT)
		dedupe_stale(w, from, tk->key, &other, fin->sha256);
	free(from);
	if (r != MG_OK) {
		/* the copy source changed or was removed behind our back: upload */
		mg_error_clear(&w->dst->err);
		return MG_ABSENT;
	}
	snprintf(rec->sha256, sizeof(rec->sha256), "%s", fin->sha256);
	snprintf(rec->etag, sizeof(rec->etag), "%s", res.etag);
	snprintf(rec->version_id, sizeof(rec->version_id), "%s", res.version_id);
	return MG_OK;
}

