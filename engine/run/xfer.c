/*
 * xfer.c - moving one object in one piece: streamed through the target's
 * writer (single PUT, atomic file), or read whole into memory and written
 * from there (small objects, served to every target from one read).
 */
#include "config.h"

/* copy_simple hashes with SHA256_CTX (deprecated in OpenSSL 3, kept for
 * the multipart path's saved state: see multipart.c). */
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

/* What a target is told about an object it is about to write. */
struct mg_put_info put_info(const struct run *run, const struct task *tk)
{
	struct mg_put_info info = { .size = tk->size, .mtime_ns = tk->mtime_ns };

	if (run->plan->preserve.mode)
		info.mode = tk->mode;
	if (run->gov.ntags || run->gov.nmeta) {
		info.gov = &run->gov;
		info.key = tk->key;
	}
	/* issue 15.3: the tiering rule's class, and its tags over the plan's */
	if (tk->rule >= 0 && run->gov_rule && run->gov_rule[tk->rule].tags) {
		info.gov = &run->gov_rule[tk->rule];
		info.key = tk->key;
	}
	if (tk->sclass && *tk->sclass)
		info.storage_class = tk->sclass;
	return info;
}

int interrupted_error(struct mg_error *e)
{
	return mg_error_set(e, MG_FATAL, EINTR, 0, "copy", "interrupted");
}

/* A source that grew or shrank between the listing and the read: the
 * object fails for this run and the next listing sees its new size. */
static int size_changed(struct worker *w, const struct task *tk, uint64_t got)
{
	return mg_error_set(&w->err, MG_FAILED, 0, 0, "read",
			    "'%s' changed size while it was copied (listed %" PRIu64
			    ", read %" PRIu64 " bytes): it is retried next run",
			    tk->key, tk->size, got);
}

/* Streams one object through the writer (single PUT / atomic file). */
int copy_simple(struct worker *w, const struct task *tk,
		struct mg_obj_record *rec)
{
	struct mg_reader *rd = NULL;
	struct mg_writer *wr = NULL;
	struct mg_put_info info = put_info(w->run, tk);
	struct mg_put_final fin;
	struct mg_put_result res = { { 0 }, { 0 } };
	unsigned char digest[SHA256_DIGEST_LENGTH];
	SHA256_CTX sha;
	uint64_t total = 0;
	int r;

	/* an empty object is read without a range: some servers stall on
	 * a ranged GET of zero bytes */
	r = mg_read_open(&w->src, tk->key, 0, tk->size ? UINT64_MAX : 0, &rd);
	if (r != MG_OK)
		return r;
	r = mg_write_open(w->dst, tk->key, &info, &wr);
	if (r != MG_OK) {
		mg_read_close(&w->src, rd);
		mg_error_copy(&w->err, &w->dst->err);
		return r;
	}
	SHA256_Init(&sha);
	for (;;) {
		size_t got = 0;

		if (mg_interrupted) {
			r = interrupted_error(&w->err);
			break;
		}
		r = mg_read(&w->src, rd, w->buf, COPY_BUF, &got);
		if (r != MG_OK || got == 0)
			break;
		total += got;
		if (total > tk->size) {
			r = mg_error_set(&w->err, MG_FAILED, 0, 0, "read",
					 "'%s' grew while it was copied (listed %" PRIu64
					 " bytes): it is retried next run", tk->key, tk->size);
			break;
		}
		SHA256_Update(&sha, w->buf, got);
		r = mg_write(w->dst, wr, w->buf, got);
		if (r != MG_OK) {
			mg_error_copy(&w->err, &w->dst->err);
			break;
		}
	}
	mg_read_close(&w->src, rd);
	if (r == MG_OK && total != tk->size)
		r = size_changed(w, tk, total);
	if (r != MG_OK) {
		mg_write_abort(w->dst, wr);
		return r;
	}
	SHA256_Final(digest, &sha);
	mg_hex(digest, sizeof(digest), fin.sha256);
	memset(fin.md5, 0, sizeof(fin.md5));
	r = mg_write_commit(w->dst, wr, &fin, &res);
	if (r != MG_OK) {
		mg_error_copy(&w->err, &w->dst->err);
		return r;
	}
	snprintf(rec->sha256, sizeof(rec->sha256), "%s", fin.sha256);
	snprintf(rec->etag, sizeof(rec->etag), "%s", res.etag);
	snprintf(rec->version_id, sizeof(rec->version_id), "%s", res.version_id);
	return MG_OK;
}

/*
 * Reads a small object whole into dst (tk->size + 1 bytes) and hashes
 * it.  Each read asks one byte more than is left, so a file that grew is
 * seen, and a source that knows a short read of a file is its end (local)
 * answers the last read without a system call: open, one read, close.
 */
int read_whole(struct worker *w, const struct task *tk, unsigned char *dst,
	       struct mg_put_final *fin)
{
	struct mg_reader *rd = NULL;
	unsigned char digest[32];
	uint64_t have = 0;
	int r;

	/* an empty object is read without a range: some servers stall on
	 * a ranged GET of zero bytes */
	r = mg_read_open(&w->src, tk->key, 0, tk->size ? UINT64_MAX : 0, &rd);
	if (r != MG_OK)
		return r;
	for (;;) {
		size_t got = 0, room = (size_t)(tk->size - have);

		if (mg_interrupted) {
			r = interrupted_error(&w->err);
			break;
		}
		r = mg_read(&w->src, rd, dst + have, room + 1, &got);
		if (r != MG_OK || got == 0)
			break;
		if (got > room) {
			r = mg_error_set(&w->err, MG_FAILED, 0, 0, "read",
					 "'%s' grew while it was copied (listed %" PRIu64
					 " bytes): it is retried next run", tk->key, tk->size);
			break;
		}
		have += got;
	}
	mg_read_close(&w->src, rd);
	if (r == MG_OK && have != tk->size)
		r = size_changed(w, tk, have);
	if (r != MG_OK)
		return r;
	SHA256(dst, (size_t)have, digest);
	mg_hex(digest, sizeof(digest), fin->sha256);
	/* no MD5: the target connector checks with the SHA-256, or hashes
	 * MD5 itself where its plan asks for Content-MD5 */
	memset(fin->md5, 0, sizeof(fin->md5));
	return MG_OK;
}

/* Reads a small object whole into w->small: the one read of the source
 * that every target's copy is served from. */
int read_small(struct worker *w, const struct task *tk,
	       struct mg_put_final *fin)
{
	if (w->small_alloc < tk->size + 1 || !w->small) {
		free(w->small);
		w->small = mg_malloc((size_t)tk->size + 1);
		w->small_alloc = (size_t)tk->size + 1;
	}
	return read_whole(w, tk, w->small, fin);
}

/* Puts the object held in w->part to the target in hand: a server-side
 * copy when its content is already there (dedupe), else a write. */
int put_small(struct worker *w, const struct task *tk,
	      const struct mg_put_final *fin, struct mg_obj_record *rec,
	      int *deduped, int *claimed)
{
	struct run *run = w->run;
	struct mg_writer *wr = NULL;
	struct mg_put_info info = put_info(w->run, tk);
	struct mg_put_result res = { { 0 }, { 0 } };
	int r, slot = -1;

	if (run->plan->transfer.dedupe && mg_conn_has(w->dst, MG_CAP_SERVER_COPY) &&
	    tk->size > 0) {
		r = try_dedupe(w, tk, fin, rec);
		if (r == MG_ABSENT) {
			/* Look again once the hash is ours, or once the worker
			 * that had it is done: it may have committed between
			 * the first look and the claim. */
			slot = inflight_claim(run, fin->sha256);
			r = try_dedupe(w, tk, fin, rec);
		}
		if (r == MG_OK) {
			*deduped = 1;
			inflight_release(run, slot);
			return MG_OK;
		}
	}
	/* The caller releases the claim once the object's record and its
	 * index entry are written, so a worker waiting on this hash finds
	 * them. */
	*claimed = slot;
	r = mg_write_open(w->dst, tk->key, &info, &wr);
	if (r == MG_OK) {
		r = mg_write(w->dst, wr, w->small, (size_t)tk->size);
		if (r == MG_OK)
			r = mg_write_commit(w->dst, wr, fin, &res);
		else
			mg_write_abort(w->dst, wr);
	}
	if (r != MG_OK) {
		mg_error_copy(&w->err, &w->dst->err);
	} else {
		snprintf(rec->sha256, sizeof(rec->sha256), "%s", fin->sha256);
		snprintf(rec->etag, sizeof(rec->etag), "%s", res.etag);
		snprintf(rec->version_id, sizeof(rec->version_id), "%s", res.version_id);
	}
	return r;
}
