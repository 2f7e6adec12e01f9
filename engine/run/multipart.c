/*
 * multipart.c - multipart upload with part-level resume: the upload id and
 * every part go to the journal as they happen, and a later run reconciles
 * them with the server (ListParts) and goes on from there.
 */
#include "config.h"

/* The multipart path saves the raw SHA-256 state in the journal so a
 * resumed upload need not read the finished parts again; OpenSSL 3 keeps
 * SHA256_CTX for exactly this kind of use but marks it deprecated. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/sha.h>

#include "run.h"
#include "sha2x.h"
#include "testhook.h"

static uint64_t pick_part_size(const struct mg_connector *dst, uint64_t size,
			       uint64_t part)
{
	/* Grow the part size until the object fits in the connector's
	 * limit on parts (S3: 10,000). */
	while (part && dst->max_parts > 0 &&
	       (size + part - 1) / part > (uint64_t)dst->max_parts)
		part *= 2;
	return part;
}

static void sha_state_hex(const SHA256_CTX *c, char *out)
{
	mg_hex((const unsigned char *)c, sizeof(*c), out);
}

static int sha_state_parse(const char *hex, SHA256_CTX *c)
{
	unsigned char *p = (unsigned char *)c;

	if (strlen(hex) != 2 * sizeof(*c))
		return -1;
	for (size_t i = 0; i < sizeof(*c); i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		p[i] = (unsigned char)v;
	}
	return 0;
}

struct server_parts {
	struct mg_part *parts;
	size_t n, alloc;
};

static int collect_part(void *arg, const struct mg_part *p)
{
	struct server_parts *sp = arg;

	if (sp->n == sp->alloc) {
		sp->alloc = sp->alloc ? 2 * sp->alloc : 64;
		sp->parts = mg_realloc(sp->parts, sp->alloc * sizeof(*sp->parts));
	}
	sp->parts[sp->n++] = *p;
	return 0;
}

static const struct mg_part *find_part(const struct server_parts *sp, int number)
{
	for (size_t i = 0; i < sp->n; i++)
		if (sp->parts[i].number == number)
			return &sp->parts[i];
	return NULL;
}

/*
 * Reconciles a journaled upload with the server (ListParts): only parts the
 * server holds with the journaled ETag count as done, and only the leading
 * run of them that the saved hash state covers can be skipped.  Returns the
 * number of leading parts to skip, or -1 when the upload cannot be resumed
 * (why says so; the caller gives it up and starts over), or -2 when
 * ListParts failed for now (*status: its grade, w->dst->err the detail;
 * the record is kept and the object retried).
 */
static int reconcile_upload(struct worker *w, const struct task *tk,
			    struct mg_upload_record *up, SHA256_CTX *sha,
			    char *why, size_t whylen, int *status)
{
	struct server_parts sp = { NULL, 0, 0 };
	int skip = 0, r;

	snprintf(why, whylen, "the source changed since the upload began");
	if (up->size != tk->size || up->mtime_ns != tk->mtime_ns ||
	    strcmp(up->src_etag, tk->src_etag))
		return -1;
	snprintf(why, whylen, "no part was sent");
	if (!up->hashed_parts || sha_state_parse(up->hash_state, sha) < 0)
		return -1;
	r = mg_mp_list_parts(w->dst, tk->key, up->upload_id, collect_part, &sp);
	if (r != MG_OK) {
		free(sp.parts);
		if (r == MG_RETRY || r == MG_FATAL) {
			*status = r;
			return -2;
		}
		/* the server does not know it (gone: the abort confirms it)
		 * or cannot list parts at all (s3rver: 405; a connector
		 * without mp_list_parts): say which */
		snprintf(why, whylen, "cannot be resumed: ListParts failed: %s",
			 w->dst->err.msg);
		mg_error_clear(&w->dst->err);
		return -1;
	}
	for (size_t i = 0; i < up->nparts && (int)i < up->hashed_parts; i++) {
		const struct mg_part_record *jp = &up->parts[i];
		const struct mg_part *p = find_part(&sp, jp->number);
		char etag[80];

		if (jp->number != (int)i + 1 || !p)
			break;
		mg_etag_unquote(p->etag, etag, sizeof(etag));
		if (strcmp(etag, jp->etag) || p->size != jp->size)
			break;
		skip++;
	}
	free(sp.parts);
	snprintf(why, whylen, "cannot be resumed: the server holds other parts "
		 "than the journal");
	if (skip != up->hashed_parts)
		return -1;	/* hash state and parts disagree: start over */
	up->nparts = (size_t)skip;
	return skip;
}

static void hex_md5(const unsigned char md5[16], char *out)
{
	mg_hex(md5, 16, out);
}

/*
 * A journaled upload of this object from an earlier attempt or run: goes
 * on from the parts the server holds (*skip of them, and *sha the hash
 * state after them), or gives it up (*skip 0: start over).  Returns MG_OK,
 * or the error that ends this attempt (w->err says it).
 */
static int upload_resume(struct worker *w, const struct task *tk, uint64_t part_size,
			 struct mg_upload_record *up, SHA256_CTX *sha, int *skip)
{
	struct run *run = w->run;
	const char *tid = w->t->ep->id;
	char why[600];
	int r = MG_OK;

	*skip = 0;
	if (mg_journal_get_upload(run->journal, tid, tk->key, up) != MG_OK)
		return MG_OK;

	/* this run wants it: the end-of-run sweep keeps it */
	if (up->run != run->id) {
		up->run = run->id;
		if (journal_check(run, mg_journal_put_upload(run->journal, tid,
							     tk->key, up, 0),
				  "an upload record") != MG_OK) {
			mg_upload_record_release(up);
			return mg_error_set(&w->err, MG_FATAL, 0, 0, "journal",
					    "cannot write the journal");
		}
	}
	snprintf(why, sizeof(why), "the part size changed");
	if (up->part_size == part_size)
		*skip = reconcile_upload(w, tk, up, sha, why, sizeof(why), &r);
	else
		*skip = -1;
	if (*skip == -2) {
		/* ListParts failed for now: keep the record, retry */
		mg_error_copy(&w->err, &w->dst->err);
		mg_upload_record_release(up);
		return r;
	}
	if (*skip < 0) {
		/* Dropped only once the server confirmed the abort. */
		r = mg_upload_give_up(run->journal, tid, w->dst, tk->key,
				      up->upload_id, why, &w->t->upl);
		/* resume refused by the server: said, not silent */
		if (r == MG_OK && !strncmp(why, "cannot be resumed", 17))
			mg_upload_note_restart(&w->t->upl, tk->key, up->upload_id,
					       why);
		mg_upload_record_release(up);
		if (r == MG_RETRY || r == MG_FATAL) {
			mg_error_copy(&w->err, &w->dst->err);
			return r;
		}
		r = MG_OK;
		*skip = 0;
	} else {
		pthread_mutex_lock(&run->mu);
		w->t->st.resumed_parts += (uint64_t)*skip;
		w->t->st.resumed_bytes += (uint64_t)*skip * part_size;
		pthread_mutex_unlock(&run->mu);
	}
	return MG_OK;
}

/*
 * Starts a new upload: the intent, CreateMultipartUpload, and the upload
 * record (with an empty hash state in *sha) before any part is sent.
 * Returns MG_OK, or the error that ends this attempt.
 */
static int upload_begin(struct worker *w, const struct task *tk, uint64_t part_size,
			struct mg_upload_record *up, SHA256_CTX *sha)
{
	struct run *run = w->run;
	const char *tid = w->t->ep->id;
	struct mg_put_info info = put_info(w->run, tk);
	uint64_t retried;
	int r, fresh = 0;

	memset(up, 0, sizeof(*up));
	/* Journal the intent first: an upload whose id never reaches
	 * the journal (a crash, a lost answer) is found again by the
	 * sweep with ListMultipartUploads (uploads.c). */
	if (mg_upload_intent_begin(run->journal, tid, tk->key, &fresh) != MG_OK)
		return mg_error_set(&w->err, MG_FATAL, 0, 0, "journal",
				    "cannot write the journal");
	retried = w->dst->retried;
	r = mg_mp_create(w->dst, tk->key, &info, NULL, up->upload_id,
			 sizeof(up->upload_id));
	if (w->dst->retried != retried)
		fresh = 0;	/* an attempt whose answer was lost may
				 * have made an upload too: the sweep
				 * looks for it */
	if (r != MG_OK) {
		/* the intent stays: the upload may exist all the same */
		mg_error_copy(&w->err, &w->dst->err);
		return r;
	}
	up->part_size = part_size;
	up->size = tk->size;
	up->mtime_ns = tk->mtime_ns;
	snprintf(up->src_etag, sizeof(up->src_etag), "%s", tk->src_etag);
	up->t_start = mg_now_ns();
	up->run = run->id;
	SHA256_Init(sha);
	r = mg_journal_put_upload(run->journal, tid, tk->key, up, 1);
	if (r != MG_OK) {
		/* the intent stays for the sweep if this abort fails */
		mg_mp_abort(w->dst, tk->key, up->upload_id);
		return mg_error_set(&w->err, MG_FATAL, 0, 0, "journal",
				    "cannot write the journal");
	}
	if (journal_check(run, mg_upload_intent_end(run->journal, tid, tk->key, fresh),
			  "an upload intent") != MG_OK)
		return mg_error_set(&w->err, MG_FATAL, 0, 0, "journal",
				    "cannot write the journal");
	mg_test_point("upload");
	return MG_OK;
}

/* A part is read in pieces of this size: large enough for the local
 * connector to read them past the page cache (O_DIRECT from a MiB,
 * connectors/local_direct.c), small enough to stay in the last-level
 * cache for the hashing that follows.  w->part is page-aligned for the
 * same reason. */
#define PART_READ (4u << 20)
#define PART_ALIGN 4096

/*
 * Reads the next len bytes (one part) into w->part; with hash set (a part
 * still to send) they go into the object's hash and the part's.  Returns
 * MG_OK, or the error that ends this attempt.
 */
static int read_part(struct worker *w, const struct task *tk, struct mg_reader *rd,
		     uint64_t len, int hash, SHA256_CTX *sha, SHA256_CTX *psha)
{
	size_t have = 0;
	int r;

	while (have < len) {
		size_t got = 0, want = (size_t)(len - have);

		if (mg_interrupted)
			return interrupted_error(&w->err);
		/* Read and hash a piece at a time: the hashes run over
		 * bytes still in cache instead of reading the whole part
		 * back from memory. */
		if (want > PART_READ)
			want = PART_READ;
		r = mg_read(&w->src, rd, w->part + have, want, &got);
		if (r != MG_OK)
			return r;
		/* Both hashes in one pass where there are two (sha2x.c):
		 * the second costs about a third of the first there. */
		if (got && hash && psha)
			mg_sha256_update2(sha, psha, w->part + have, got);
		else if (got && hash)
			SHA256_Update(sha, w->part + have, got);
		if (got == 0)
			return mg_error_set(&w->err, MG_FAILED, 0, 0, "read",
					    "'%s' shrank while it was copied (listed %"
					    PRIu64 " bytes): it is retried next run",
					    tk->key, tk->size);
		have += got;
	}
	return MG_OK;
}

/*
 * Sends part i (len bytes in w->part, hashed into psha), then journals it
 * with the hash state sha that includes it.  Returns MG_OK, or the error
 * that ends this attempt.
 */
static int upload_part(struct worker *w, const struct task *tk,
		       struct mg_upload_record *up, struct mg_part *part, int i,
		       uint64_t len, SHA256_CTX *psha, SHA256_CTX *sha)
{
	struct run *run = w->run;
	const char *tid = w->t->ep->id;
	unsigned char digest[SHA256_DIGEST_LENGTH];
	int r;

	part->sha256[0] = '\0';
	if (psha) {
		SHA256_Final(digest, psha);
		mg_hex(digest, sizeof(digest), part->sha256);
	}
	part->number = i + 1;
	part->size = len;
	r = mg_mp_upload_part(w->dst, tk->key, up->upload_id, part, w->part,
			      (size_t)len);
	if (r != MG_OK) {
		mg_error_copy(&w->err, &w->dst->err);
		return r;
	}
	mg_etag_unquote(part->etag, part->etag, sizeof(part->etag));
	/* Journal the part and the hash state that includes it. */
	up->parts = mg_realloc(up->parts, (up->nparts + 1) * sizeof(*up->parts));
	memset(&up->parts[up->nparts], 0, sizeof(up->parts[0]));
	up->parts[up->nparts].number = part->number;
	up->parts[up->nparts].size = part->size;
	snprintf(up->parts[up->nparts].etag, sizeof(up->parts[0].etag), "%s",
		 part->etag);
	hex_md5(part->md5, up->parts[up->nparts].md5);
	up->nparts++;
	up->hashed_parts = i + 1;
	sha_state_hex(sha, up->hash_state);
	if (mg_journal_put_upload(run->journal, tid, tk->key, up, 1) != MG_OK)
		return mg_error_set(&w->err, MG_FATAL, 0, 0, "journal",
				    "cannot write the journal");
	mg_test_point("part");
	return MG_OK;
}

/*
 * The source as listed still, once every part is read: a file written or
 * truncated while its parts were read (in place, same size or not) would
 * otherwise be completed as a mix of old and new bytes under the old
 * listing's time, and the journal would call it copied.  One stat per
 * multipart object.  Returns MG_OK, or MG_FAILED (the object is retried
 * next run, when the listing sees what it is now), or the stat's error.
 */
static int source_unchanged(struct worker *w, const struct task *tk)
{
	struct mg_entry e;
	int r;

	if (!w->src.ops->stat)
		return MG_OK;	/* an archive entry: what was read is what it is */
	if (w->src.ops->caps & MG_CAP_PINNED_READ)
		return MG_OK;	/* a change failed the read already */
	memset(&e, 0, sizeof(e));
	r = mg_stat(&w->src, tk->key, &e);
	if (r == MG_ABSENT)
		return mg_error_set(&w->err, MG_FAILED, ENOENT, 0, "read",
				    "'%s' was removed while it was copied: it is not "
				    "completed at the target", tk->key);
	if (r != MG_OK) {
		mg_error_copy(&w->err, &w->src.err);
		return r;
	}
	/* the ETag where there is one (the local one is time and size; an
	 * S3 listing's time has another precision than its HEAD's) */
	if (e.size != tk->size ||
	    (tk->src_etag[0] && e.etag[0] ? strcmp(e.etag, tk->src_etag) != 0 :
	     tk->mtime_ns && e.mtime_ns && e.mtime_ns != tk->mtime_ns))
		return mg_error_set(&w->err, MG_FAILED, 0, 0, "read",
				    "'%s' changed while it was copied (listed %" PRIu64
				    " bytes, now %" PRIu64 "): not completed at the "
				    "target, it is retried next run", tk->key, tk->size,
				    e.size);
	return MG_OK;
}

/*
 * Multipart upload with part-level resume.  Journal first: the upload id is
 * durable before the first part is sent, each part (with the running hash
 * state) is durable when its response arrives, and a crash at any instant
 * leaves a record the next run reconciles with ListParts.
 */
int copy_multipart(struct worker *w, const struct task *tk,
		   struct mg_obj_record *rec)
{
	struct run *run = w->run;
	const struct mg_plan *plan = run->plan;
	const char *tid = w->t->ep->id;
	struct mg_upload_record up;
	struct mg_put_result res = { { 0 }, { 0 } };
	struct mg_part *parts = NULL;
	struct mg_reader *rd = NULL;
	uint64_t part_size, rd_pos = 0;
	unsigned char digest[SHA256_DIGEST_LENGTH];
	SHA256_CTX sha;
	int nparts, skip = 0, r = MG_OK;

	part_size = pick_part_size(w->dst->ops, tk->size, plan->transfer.part_size);
	nparts = (int)((tk->size + part_size - 1) / part_size);
	if (w->dst->ops->max_part_size && part_size > w->dst->ops->max_part_size)
		return mg_error_set(&w->err, MG_FAILED, 0, 0, "write",
				    "'%s' is %" PRIu64 " bytes, more than the '%s' "
				    "connector takes in one upload (%d parts of at most "
				    "%" PRIu64 " bytes)", tk->key, tk->size,
				    w->dst->ops->scheme, w->dst->ops->max_parts,
				    w->dst->ops->max_part_size);

	r = upload_resume(w, tk, part_size, &up, &sha, &skip);
	if (r != MG_OK)
		return r;
	if (skip == 0) {
		r = upload_begin(w, tk, part_size, &up, &sha);
		if (r != MG_OK)
			return r;
	}

	if (w->part_alloc < part_size || (uintptr_t)w->part % PART_ALIGN) {
		void *p = NULL;

		free(w->part);
		if (posix_memalign(&p, PART_ALIGN, (size_t)part_size) != 0)
			p = mg_malloc((size_t)part_size);	/* says it and exits */
		w->part = p;
		w->part_alloc = part_size;
	}
	parts = mg_calloc((size_t)nparts, sizeof(*parts));
	for (int i = 0; i < skip; i++) {
		parts[i].number = up.parts[i].number;
		parts[i].size = up.parts[i].size;
		snprintf(parts[i].etag, sizeof(parts[i].etag), "%s", up.parts[i].etag);
	}

	/* Read from the first part still to send; a source without ranged
	 * reads is read from the start and the done parts discarded. */
	rd_pos = (uint64_t)skip * part_size;
	if (!mg_conn_has(&w->src, MG_CAP_RANGE_READ))
		rd_pos = 0;
	r = mg_read_open(&w->src, tk->key, rd_pos, UINT64_MAX, &rd);
	if (r != MG_OK)
		goto out;

	for (int i = 0; i < nparts && r == MG_OK; i++) {
		uint64_t off = (uint64_t)i * part_size;
		uint64_t len = tk->size - off < part_size ? tk->size - off : part_size;
		SHA256_CTX psha_ctx, *psha = NULL;

		if (off + len <= rd_pos && i < skip)
			continue;
		/* the part's own hash only where the target checks parts by it */
		if (!w->dst->no_part_sha256) {
			psha = &psha_ctx;
			SHA256_Init(psha);
		}
		r = read_part(w, tk, rd, len, i >= skip, &sha, psha);
		rd_pos = off + len;
		if (r != MG_OK || i < skip)
			continue;

		r = upload_part(w, tk, &up, &parts[i], i, len, psha, &sha);
	}
	if (r == MG_OK)
		r = source_unchanged(w, tk);
	if (r == MG_OK) {
		/* A source that kept growing past its listed size is caught
		 * here; the part uploads already hold exactly size bytes. */
		r = mg_mp_complete(w->dst, tk->key, up.upload_id, parts, nparts, &res);
		if (r != MG_OK)
			mg_error_copy(&w->err, &w->dst->err);
	}
	if (r == MG_OK) {
		SHA256_Final(digest, &sha);
		mg_hex(digest, sizeof(digest), rec->sha256);
		snprintf(rec->etag, sizeof(rec->etag), "%s", res.etag);
		snprintf(rec->version_id, sizeof(rec->version_id), "%s", res.version_id);
		/* The object record is written by the caller; the upload
		 * record goes after it, so a crash between the two leaves a
		 * done object and a stale upload the next run drops. */
	} else if (r == MG_FAILED) {
		/* Not resumable as is: give the space back.  The record goes
		 * only with a confirmed abort; else the sweep or the next
		 * run tries again, and what the server refuses is reported.
		 * The attempt's error (w->err) stays what it was. */
		if (mg_upload_give_up(run->journal, tid, w->dst, tk->key, up.upload_id,
				      "the upload failed", &w->t->upl) == MG_FATAL &&
		    !strcmp(w->dst->err.op, "journal"))
			set_fatal(run, NULL, &w->dst->err);	/* the journal, not the abort */
		mg_error_clear(&w->dst->err);
	}
out:
	if (rd)
		mg_read_close(&w->src, rd);
	free(parts);
	mg_upload_record_release(&up);
	return r;
}

/* Whether an object of size cannot be sent to this target at all (the
 * run fails it): a single PUT above the connector's largest, or parts
 * that would have to exceed max_part_size to fit in max_parts. */
int multipart_unsendable(const struct run *run, const struct mg_connector *dst,
			 uint64_t size)
{
	if (!dst->max_part_size)
		return 0;
	if (!multipart_parts(run, dst, size))
		return size > dst->max_part_size;
	return pick_part_size(dst, size, run->plan->transfer.part_size) > dst->max_part_size;
}

/* The part size an upload of size uses at this target (estimate). */
uint64_t multipart_part_size(const struct run *run, const struct mg_connector *dst,
			     uint64_t size)
{
	return pick_part_size(dst, size, run->plan->transfer.part_size);
}

/* Whether an object of size goes multipart to this target, and in how
 * many parts: the one decision process() and estimate share. */
int multipart_parts(const struct run *run, const struct mg_connector *dst,
		    uint64_t size)
{
	const struct mg_plan *plan = run->plan;
	uint64_t part;

	if (!(dst->caps & MG_CAP_MULTIPART) || size == 0 ||
	    size < plan->transfer.multipart_threshold)
		return 0;
	part = pick_part_size(dst, size, plan->transfer.part_size);
	return (int)((size + part - 1) / part);
}
