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

/* Registers sha as in flight, or waits while another worker uploads the
 * same content.  Returns the slot to release, or -1 when another worker
 * had it (look the index up again). */
int inflight_claim(struct run *run, const char *sha)
{
	int slot = -1, busy;

	pthread_mutex_lock(&run->mu);
	do {
		busy = 0;
		for (int i = 0; i < run->ninflight; i++)
			if (!strcmp(run->inflight[i], sha))
				busy = 1;
		if (busy) {
			slot = -2;
			queue_wait(run, &run->inflight_done);
		}
	} while (busy && !mg_interrupted);
	if (slot == -1) {
		for (int i = 0; i < run->ninflight; i++)
			if (!run->inflight[i][0]) {
				snprintf(run->inflight[i], 65, "%s", sha);
				slot = i;
				break;
			}
	} else {
		slot = -1;
	}
	pthread_mutex_unlock(&run->mu);
	return slot;
}

void inflight_release(struct run *run, int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&run->mu);
	run->inflight[slot][0] = '\0';
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
	return MG_OK;
}

