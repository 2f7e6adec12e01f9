/*
 * connector.c - the engine's side of the connector contract: request
 * counters and the wrappers that check capabilities once.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include "connector.h"
#include "plan.h"

static const char *const req_names[MG_REQ__COUNT] = {
	[MG_REQ_LIST] = "list",
	[MG_REQ_HEAD] = "head",
	[MG_REQ_GET] = "get",
	[MG_REQ_PUT] = "put",
	[MG_REQ_MP_CREATE] = "create_multipart",
	[MG_REQ_MP_PART] = "upload_part",
	[MG_REQ_MP_COMPLETE] = "complete_multipart",
	[MG_REQ_MP_ABORT] = "abort_multipart",
	[MG_REQ_MP_LIST] = "list_parts",
	[MG_REQ_COPY] = "copy",
	[MG_REQ_DELETE] = "delete",
};

const char *mg_req_name(enum mg_req r)
{
	return (unsigned)r < MG_REQ__COUNT ? req_names[r] : "unknown";
}

/* Counters are bumped from every worker thread; relaxed atomics are enough
 * because they are read only after the workers joined (or for progress,
 * where a stale value is harmless). */
void mg_count_req(struct mg_conn *conn, enum mg_req r)
{
	if (conn->counters && (unsigned)r < MG_REQ__COUNT)
		__atomic_add_fetch(&conn->counters->req[r], 1, __ATOMIC_RELAXED);
}

void mg_count_read(struct mg_conn *conn, uint64_t n)
{
	if (conn->counters)
		__atomic_add_fetch(&conn->counters->bytes_read, n, __ATOMIC_RELAXED);
}

void mg_count_written(struct mg_conn *conn, uint64_t n)
{
	if (conn->counters)
		__atomic_add_fetch(&conn->counters->bytes_written, n, __ATOMIC_RELAXED);
}

void mg_count_time(struct mg_conn *conn, int r, int64_t total_ns, int64_t ttfb_ns)
{
	struct mg_req_times *o = conn->obj_times;

	if ((unsigned)r >= MG_LAT_CLASSES)
		return;
	if (total_ns < 0)
		total_ns = 0;
	if (conn->counters && conn->counters->lat) {
		mg_hist_record(&conn->counters->lat->total[r], total_ns);
		if (ttfb_ns >= 0)
			mg_hist_record(&conn->counters->lat->ttfb[r], ttfb_ns);
	}
	if (o) {
		o->n[r]++;
		o->sum_ns[r] += (uint64_t)total_ns;
		if ((uint64_t)total_ns > o->max_ns[r])
			o->max_ns[r] = (uint64_t)total_ns;
		if (ttfb_ns > 0 && (uint64_t)ttfb_ns > o->ttfb_max_ns[r])
			o->ttfb_max_ns[r] = (uint64_t)ttfb_ns;
	}
}

void mg_count_retry(struct mg_conn *conn, enum mg_req r)
{
	if (conn->counters) {
		__atomic_add_fetch(&conn->counters->retries, 1, __ATOMIC_RELAXED);
		if (conn->counters->lat && (unsigned)r < MG_REQ__COUNT)
			__atomic_add_fetch(&conn->counters->lat->retries[r], 1,
					   __ATOMIC_RELAXED);
	}
	if (conn->obj_times && (unsigned)r < MG_REQ__COUNT)
		conn->obj_times->retries[r]++;
}

/* The one answer to a capability the connector lacks: MG_FAILED, naming
 * the connector and what was asked of it. */
static int missing(struct mg_conn *c, const char *what)
{
	return mg_error_set(&c->err, MG_FAILED, 0, 0, what,
			    "the '%s' connector cannot %s", c->ops->scheme, what);
}

/*
 * A connector compiled against another connector.h would have its methods
 * at other offsets, or lack the ones this engine calls: refuse it by name
 * rather than call through a pointer that is not what we think.
 */
int mg_connector_check(const struct mg_connector *ops, char *msg, size_t msglen)
{
	if (ops->version == MG_CONNECTOR_VERSION)
		return 0;
	snprintf(msg, msglen,
		 "the '%s' connector was written to connector contract version %d, "
		 "this migrate speaks version %d: update it to engine/connector.h "
		 "and rebuild", ops->scheme ? ops->scheme : "?", ops->version,
		 MG_CONNECTOR_VERSION);
	return -1;
}

int mg_conn_open(struct mg_conn *c, const struct mg_connector *ops,
		 const struct mg_endpoint *ep, struct mg_counters *counters,
		 unsigned flags)
{
	char msg[300];

	memset(c, 0, sizeof(*c));
	c->ops = ops;
	c->ep = ep;
	c->counters = counters;
	if (mg_connector_check(ops, msg, sizeof(msg)) < 0) {
		c->ops = NULL;	/* its close() is not ours to call either */
		return mg_error_set(&c->err, MG_FATAL, 0, 0, "open", "%s", msg);
	}
	if ((flags & MG_OPEN_SOURCE) && !(ops->caps & MG_CAP_SOURCE))
		return mg_error_set(&c->err, MG_FATAL, 0, 0, "open",
				    "'%s' cannot be a source", ep->url);
	if ((flags & MG_OPEN_TARGET) && !(ops->caps & MG_CAP_TARGET))
		return mg_error_set(&c->err, MG_FATAL, 0, 0, "open",
				    "'%s' cannot be a target", ep->url);
	return ops->open(c, flags);
}

void mg_conn_close(struct mg_conn *c)
{
	if (c->ops)
		c->ops->close(c);
	c->priv = NULL;
}

int mg_list_open(struct mg_conn *c, const char *start_after, struct mg_lister **out)
{
	*out = NULL;
	if (!c->ops->list_open)
		return missing(c, "list");
	return c->ops->list_open(c, start_after, out);
}

int mg_read_open(struct mg_conn *c, const char *key, uint64_t off, uint64_t len,
		 struct mg_reader **out)
{
	*out = NULL;
	if (!c->ops->read_open)
		return missing(c, "read");
	if (off != 0 && !(c->ops->caps & MG_CAP_RANGE_READ))
		return missing(c, "read a range");
	return c->ops->read_open(c, key, off, len, out);
}

int mg_write_open(struct mg_conn *c, const char *key,
		  const struct mg_put_info *info, struct mg_writer **out)
{
	*out = NULL;
	if (!c->ops->write_open)
		return missing(c, "write");
	return c->ops->write_open(c, key, info, out);
}

int mg_stat(struct mg_conn *c, const char *key, struct mg_entry *out)
{
	if (!c->ops->stat)
		return missing(c, "stat");
	out->encryption[0] = '\0';	/* a backend that never fills it */
	return c->ops->stat(c, key, out);
}

const char *mg_endpoint_encryption(const struct mg_endpoint *ep, int *required,
				   char *note, size_t notelen)
{
	int req = 0;

	if (note && notelen)
		note[0] = '\0';
	if (required)
		*required = 0;
	if (!ep->ops || !ep->ops->encryption)
		return NULL;
	return ep->ops->encryption(ep, required ? required : &req, note, notelen);
}

int mg_region(struct mg_conn *c, char *out, size_t outlen)
{
	out[0] = '\0';
	if (!c->ops->region)
		return MG_ABSENT;
	return c->ops->region(c, out, outlen);
}

int mg_object_lock(struct mg_conn *c, int *enabled)
{
	*enabled = 0;
	if (!c->ops->object_lock)
		return MG_ABSENT;
	return c->ops->object_lock(c, enabled);
}

int mg_remove_version(struct mg_conn *c, const char *key, const char *version_id)
{
	if (!c->ops->remove_version || !version_id || !*version_id ||
	    !(c->ops->caps & MG_CAP_DELETE))
		return mg_remove(c, key);
	return c->ops->remove_version(c, key, version_id);
}

int mg_remove(struct mg_conn *c, const char *key)
{
	if (!c->ops->remove || !(c->ops->caps & MG_CAP_DELETE))
		return missing(c, "delete");
	return c->ops->remove(c, key);
}

int mg_copy(struct mg_conn *c, const char *src_key, const char *dst_key,
	    const struct mg_put_info *info, const struct mg_put_final *fin,
	    struct mg_put_result *res)
{
	if (!c->ops->copy || !(c->ops->caps & MG_CAP_SERVER_COPY))
		return missing(c, "copy");
	return c->ops->copy(c, src_key, dst_key, info, fin, res);
}

int mg_list_next(struct mg_conn *c, struct mg_lister *it, struct mg_entry *out)
{
	if (!c->ops->list_next)
		return missing(c, "list");
	return c->ops->list_next(it, out);
}

void mg_list_close(struct mg_conn *c, struct mg_lister *it)
{
	if (it && c->ops->list_close)
		c->ops->list_close(it);
}

int mg_read(struct mg_conn *c, struct mg_reader *r, void *buf, size_t len,
	    size_t *got)
{
	*got = 0;
	if (!c->ops->read)
		return missing(c, "read");
	return c->ops->read(r, buf, len, got);
}

void mg_read_close(struct mg_conn *c, struct mg_reader *r)
{
	if (r && c->ops->read_close)
		c->ops->read_close(r);
}

int mg_write(struct mg_conn *c, struct mg_writer *w, const void *buf, size_t len)
{
	if (!c->ops->write)
		return missing(c, "write");
	return c->ops->write(w, buf, len);
}

int mg_write_commit(struct mg_conn *c, struct mg_writer *w,
		    const struct mg_put_final *fin, struct mg_put_result *res)
{
	if (!c->ops->write_commit)
		return missing(c, "commit a write");
	return c->ops->write_commit(w, fin, res);
}

void mg_write_abort(struct mg_conn *c, struct mg_writer *w)
{
	if (w && c->ops->write_abort)
		c->ops->write_abort(w);
}

/* One item the one-at-a-time way, its error moved onto it. */
static int put_one(struct mg_conn *c, struct mg_put_item *it)
{
	struct mg_writer *w = NULL;
	int r;

	mg_error_clear(&c->err);
	r = mg_write_open(c, it->key, it->info, &w);
	if (r == MG_OK) {
		r = mg_write(c, w, it->body, it->len);
		if (r == MG_OK)
			r = mg_write_commit(c, w, it->fin, &it->res);
		else
			mg_write_abort(c, w);
	}
	it->status = r;
	mg_error_copy(&it->err, &c->err);
	mg_error_clear(&c->err);
	return r;
}

int mg_put_batch(struct mg_conn *c, struct mg_put_item *items, size_t n)
{
	struct mg_req_times *times = c->obj_times;
	int worst = MG_OK;

	for (size_t i = 0; i < n; i++) {
		mg_error_clear(&items[i].err);
		memset(&items[i].res, 0, sizeof(items[i].res));
		items[i].status = MG_FAILED;
	}
	if (c->ops->put_batch && mg_conn_has(c, MG_CAP_TARGET)) {
		mg_error_clear(&c->err);
		worst = c->ops->put_batch(c, items, n);
		/* an error of the batch itself (no handles): every item's */
		for (size_t i = 0; c->err.status && i < n; i++)
			if (items[i].status != MG_OK && !items[i].err.status)
				mg_error_copy(&items[i].err, &c->err);
		mg_error_clear(&c->err);
		return worst;
	}
	for (size_t i = 0; i < n; i++) {
		int r;

		c->obj_times = items[i].times;
		r = put_one(c, &items[i]);
		if (r < worst)
			worst = r;
	}
	c->obj_times = times;
	return worst;
}

/* Multipart: a connector either has MG_CAP_MULTIPART and the mp_*
 * methods its header comment requires, or the engine never gets here; a
 * connector that sets the bit and leaves a method NULL gets an error that
 * says which one, not a crash. */
int mg_mp_create(struct mg_conn *c, const char *key, const struct mg_put_info *info,
		 const struct mg_put_final *fin, char *upload_id, size_t idlen)
{
	if (!c->ops->mp_create || !(c->ops->caps & MG_CAP_MULTIPART))
		return missing(c, "create a multipart upload");
	return c->ops->mp_create(c, key, info, fin, upload_id, idlen);
}

int mg_mp_upload_part(struct mg_conn *c, const char *key, const char *upload_id,
		      struct mg_part *part, const void *buf, size_t len)
{
	if (!c->ops->mp_upload_part)
		return missing(c, "upload a part");
	return c->ops->mp_upload_part(c, key, upload_id, part, buf, len);
}

int mg_mp_list_parts(struct mg_conn *c, const char *key, const char *upload_id,
		     int (*cb)(void *arg, const struct mg_part *p), void *arg)
{
	if (!c->ops->mp_list_parts)
		return missing(c, "list parts");
	return c->ops->mp_list_parts(c, key, upload_id, cb, arg);
}

int mg_mp_complete(struct mg_conn *c, const char *key, const char *upload_id,
		   const struct mg_part *parts, int nparts, struct mg_put_result *res)
{
	if (!c->ops->mp_complete)
		return missing(c, "complete a multipart upload");
	return c->ops->mp_complete(c, key, upload_id, parts, nparts, res);
}

int mg_mp_abort(struct mg_conn *c, const char *key, const char *upload_id)
{
	if (!c->ops->mp_abort)
		return missing(c, "abort uploads");
	return c->ops->mp_abort(c, key, upload_id);
}

int mg_mp_list_uploads(struct mg_conn *c, const char *prefix,
		       int (*cb)(void *arg, const struct mg_upload *u), void *arg)
{
	if (!c->ops->mp_list_uploads)
		return missing(c, "list uploads");
	return c->ops->mp_list_uploads(c, prefix, cb, arg);
}

/* Request prediction (estimate): the connector's own count where it has
 * one, else the defaults connector.h documents. */
void mg_predict_read(struct mg_conn *c, uint64_t length, struct mg_counters *out)
{
	if (c->ops->estimate_read)
		c->ops->estimate_read(c, length, out);
	else
		out->req[MG_REQ_GET]++;
}

void mg_predict_write(struct mg_conn *c, uint64_t size, struct mg_counters *out)
{
	if (c->ops->estimate_write)
		c->ops->estimate_write(c, size, out);
	else
		out->req[MG_REQ_PUT]++;
}

void mg_predict_multipart(struct mg_conn *c, uint64_t size, int nparts,
			  struct mg_counters *out)
{
	if (c->ops->estimate_multipart) {
		c->ops->estimate_multipart(c, size, nparts, out);
	} else {
		out->req[MG_REQ_MP_CREATE]++;
		out->req[MG_REQ_MP_PART] += (uint64_t)nparts;
		out->req[MG_REQ_MP_COMPLETE]++;
	}
}

void mg_predict_recheck(struct mg_conn *src, struct mg_counters *out)
{
	if (src->ops->stat && !(src->ops->caps & MG_CAP_PINNED_READ))
		out->req[MG_REQ_HEAD]++;
}

int mg_read_sha256(struct mg_conn *c, const char *key, void *buf, size_t buflen,
		   char hex[65])
{
	struct mg_reader *r = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char digest[32];
	int rc;

	if (!md)
		return mg_error_set(&c->err, MG_FATAL, 0, 0, "hash", "out of memory");
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	rc = mg_read_open(c, key, 0, UINT64_MAX, &r);
	while (rc == MG_OK) {
		size_t got = 0;

		rc = mg_read(c, r, buf, buflen, &got);
		if (rc != MG_OK || got == 0)
			break;
		EVP_DigestUpdate(md, buf, got);
	}
	mg_read_close(c, r);
	EVP_DigestFinal_ex(md, digest, NULL);
	EVP_MD_CTX_free(md);
	if (rc == MG_OK)
		mg_hex(digest, sizeof(digest), hex);
	return rc;
}
