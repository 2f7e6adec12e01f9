/*
 * mem.c - a toy connector that keeps objects in memory: the test double
 * for the engine, and the proof that a connector is one file plus one
 * registration (main.c calls mg_connector_register(&cf_connector_mem)).
 *
 * Everything a connector may do, done the simplest way: a sorted array of
 * objects under one mutex (every conn of the process shares it, as conns
 * of one endpoint share a bucket), bytes copied on read and on commit so
 * a writer is invisible until it commits, multipart uploads as a list of
 * parts joined at complete.  ETags are the hex MD5 of the bytes, as a
 * single-part S3 object's are.  The estimate methods are NULL: the
 * defaults of connector.h (one GET, one PUT, create + parts + complete)
 * are what it issues.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "connector.h"

struct mem_obj {
	char *key;
	unsigned char *data;
	size_t size;
	int64_t mtime_ns;
	char etag[33];
};

struct mem_upload {
	char *key;
	char id[32];
	struct mem_obj parts[64];	/* parts[i]: part number i + 1 */
	struct mem_upload *next;
};

static struct {
	pthread_mutex_t lock;
	struct mem_obj *v;		/* sorted by key (strcmp: byte order) */
	size_t n;
	struct mem_upload *uploads;
	unsigned next_id;
} store = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Per conn: where stat() keeps the key it hands back. */
struct mem_conn {
	char *stat_key;
};

struct mg_lister {
	struct mg_conn *conn;
	char *last;			/* the key last yielded (or start_after) */
	struct mem_obj cur;		/* a copy, valid until the next call */
};

struct mg_reader {
	struct mg_conn *conn;
	unsigned char *data;		/* [off, off+avail) of the object */
	size_t avail, pos;
	int short_of_range;		/* the object ends before the range did */
};

struct mg_writer {
	struct mg_conn *conn;
	char *key;
	struct mg_buf data;	/* what commit makes the object */
	size_t want;		/* mg_put_info.size: exact */
	int64_t mtime_ns;
};

/* ---- the store (callers hold store.lock) ---- */

/* Index of key, or of where it would go (*found = 0). */
static size_t find(const char *key, int *found)
{
	size_t lo = 0, hi = store.n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(store.v[mid].key, key);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

static void etag_of(const unsigned char *data, size_t n, char *out)
{
	unsigned char md5[16];
	unsigned len;

	EVP_Digest(data, n, md5, &len, EVP_md5(), NULL);
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", md5[i]);
}

/* Puts key = data (ownership of data passes to the store). */
static void store_put(const char *key, unsigned char *data, size_t size, int64_t mtime_ns,
		      char *etag_out)
{
	int found;
	size_t i = find(key, &found);
	struct mem_obj *o;

	if (!found) {
		store.v = realloc(store.v, (store.n + 1) * sizeof(*store.v));
		memmove(store.v + i + 1, store.v + i, (store.n - i) * sizeof(*store.v));
		store.n++;
		store.v[i].key = strdup(key);
		store.v[i].data = NULL;
	}
	o = &store.v[i];
	free(o->data);
	o->data = data;
	o->size = size;
	o->mtime_ns = mtime_ns;
	etag_of(data, size, o->etag);
	if (etag_out)
		strcpy(etag_out, o->etag);
}

static int absent(struct mg_conn *conn, const char *op, const char *key)
{
	return mg_error_set(&conn->err, MG_FAILED, 0, 404, op, "no such key '%s'", key);
}

/* ---- open, close ---- */

static int mem_open(struct mg_conn *conn, unsigned flags)
{
	(void)flags;
	conn->priv = calloc(1, sizeof(struct mem_conn));
	return MG_OK;
}

static void mem_close(struct mg_conn *conn)
{
	struct mem_conn *mc = conn->priv;

	if (mc)
		free(mc->stat_key);
	free(mc);
}

/* ---- listing: each step finds the first key after the last one, so a
 * listing sees commits made while it runs, as a bucket's does ---- */

static int mem_list_open(struct mg_conn *conn, const char *start_after, struct mg_lister **out)
{
	struct mg_lister *it = calloc(1, sizeof(*it));

	it->conn = conn;
	it->last = start_after ? strdup(start_after) : NULL;
	mg_count_req(conn, MG_REQ_LIST);
	*out = it;
	return MG_OK;
}

static int mem_list_next(struct mg_lister *it, struct mg_entry *out)
{
	int found = 0;
	size_t i;

	pthread_mutex_lock(&store.lock);
	i = it->last ? find(it->last, &found) + (size_t)found : 0;
	if (i >= store.n) {
		pthread_mutex_unlock(&store.lock);
		return MG_DONE;
	}
	free(it->last);
	it->last = strdup(store.v[i].key);
	it->cur = store.v[i];
	pthread_mutex_unlock(&store.lock);
	memset(out, 0, sizeof(*out));
	out->key = it->last;
	out->size = it->cur.size;
	out->mtime_ns = it->cur.mtime_ns;
	out->kind = MG_ENTRY_FILE;
	memcpy(out->etag, it->cur.etag, sizeof(it->cur.etag));
	return MG_OK;
}

static void mem_list_close(struct mg_lister *it)
{
	free(it->last);
	free(it);
}

/* ---- reading ---- */

static int mem_read_open(struct mg_conn *conn, const char *key, uint64_t off, uint64_t len,
			 struct mg_reader **out)
{
	struct mg_reader *r;
	int found;
	size_t i, end;

	pthread_mutex_lock(&store.lock);
	i = find(key, &found);
	if (!found || off > store.v[i].size) {
		pthread_mutex_unlock(&store.lock);
		return found ? mg_error_set(&conn->err, MG_FAILED, 0, 416, "read",
					    "'%s': offset %llu is past the end", key,
					    (unsigned long long)off)
			     : absent(conn, "read", key);
	}
	r = calloc(1, sizeof(*r));
	r->conn = conn;
	end = len == UINT64_MAX || off + len > store.v[i].size ? store.v[i].size : off + len;
	r->short_of_range = len != UINT64_MAX && off + len > store.v[i].size;
	r->avail = end - off;
	r->data = malloc(r->avail ? r->avail : 1);
	memcpy(r->data, store.v[i].data + off, r->avail);
	pthread_mutex_unlock(&store.lock);
	mg_count_req(conn, MG_REQ_GET);
	*out = r;
	return MG_OK;
}

static int mem_read(struct mg_reader *r, void *buf, size_t len, size_t *got)
{
	size_t n = r->avail - r->pos < len ? r->avail - r->pos : len;

	if (n == 0 && r->short_of_range)
		return mg_error_set(&r->conn->err, MG_FAILED, 0, 0, "read",
				    "object truncated: it ends before the range");
	memcpy(buf, r->data + r->pos, n);
	r->pos += n;
	*got = n;
	mg_count_read(r->conn, n);
	return MG_OK;
}

static void mem_read_close(struct mg_reader *r)
{
	free(r->data);
	free(r);
}

/* ---- writing ---- */

static int mem_write_open(struct mg_conn *conn, const char *key, const struct mg_put_info *info,
			  struct mg_writer **out)
{
	struct mg_writer *w = calloc(1, sizeof(*w));

	w->conn = conn;
	w->key = strdup(key);
	mg_buf_init(&w->data, 0);
	w->want = info->size;
	w->mtime_ns = info->mtime_ns;
	*out = w;
	return MG_OK;
}

static int mem_write(struct mg_writer *w, const void *buf, size_t len)
{
	if (len > w->want - w->data.len)
		return mg_error_set(&w->conn->err, MG_FAILED, 0, 0, "write",
				    "'%s': more bytes than the %zu announced", w->key, w->want);
	if (mg_buf_add(&w->data, buf, len) < 0)
		return mg_error_set(&w->conn->err, MG_FAILED, 0, 0, "write",
				    "'%s': out of memory", w->key);
	mg_count_written(w->conn, len);
	return MG_OK;
}

static void mem_write_abort(struct mg_writer *w)
{
	free(w->key);
	mg_buf_release(&w->data);
	free(w);
}

static int mem_write_commit(struct mg_writer *w, const struct mg_put_final *fin,
			    struct mg_put_result *res)
{
	int rc = MG_OK;

	size_t size = w->data.len;

	(void)fin;
	if (size != w->want) {
		rc = mg_error_set(&w->conn->err, MG_FAILED, 0, 0, "write",
				  "'%s': %zu bytes written, %zu announced", w->key, size, w->want);
		mem_write_abort(w);
		return rc;
	}
	mg_count_req(w->conn, MG_REQ_PUT);
	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&store.lock);
	store_put(w->key, (unsigned char *)mg_buf_detach(&w->data), size, w->mtime_ns, res->etag);
	pthread_mutex_unlock(&store.lock);
	mem_write_abort(w);
	return rc;
}

/* ---- stat, remove, copy ---- */

static int mem_stat(struct mg_conn *conn, const char *key, struct mg_entry *out)
{
	struct mem_conn *mc = conn->priv;
	int found;
	size_t i;

	mg_count_req(conn, MG_REQ_HEAD);
	pthread_mutex_lock(&store.lock);
	i = find(key, &found);
	if (found) {
		memset(out, 0, sizeof(*out));
		free(mc->stat_key);
		mc->stat_key = strdup(key);
		out->key = mc->stat_key;
		out->size = store.v[i].size;
		out->mtime_ns = store.v[i].mtime_ns;
		memcpy(out->etag, store.v[i].etag, sizeof(store.v[i].etag));
	}
	pthread_mutex_unlock(&store.lock);
	return found ? MG_OK : MG_ABSENT;
}

static int mem_remove(struct mg_conn *conn, const char *key)
{
	int found;
	size_t i;

	mg_count_req(conn, MG_REQ_DELETE);
	pthread_mutex_lock(&store.lock);
	i = find(key, &found);
	if (found) {
		free(store.v[i].key);
		free(store.v[i].data);
		memmove(store.v + i, store.v + i + 1, (store.n - i - 1) * sizeof(*store.v));
		store.n--;
	}
	pthread_mutex_unlock(&store.lock);
	return MG_OK;
}

static int mem_copy(struct mg_conn *conn, const char *src_key, const char *dst_key,
		    const struct mg_put_info *info, const struct mg_put_final *fin,
		    struct mg_put_result *res)
{
	unsigned char *copy;
	int found;
	size_t i;

	(void)fin;
	mg_count_req(conn, MG_REQ_COPY);
	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&store.lock);
	i = find(src_key, &found);
	if (!found) {
		pthread_mutex_unlock(&store.lock);
		return absent(conn, "copy", src_key);
	}
	if (info->copy_if_match && strcmp(info->copy_if_match, store.v[i].etag) != 0) {
		pthread_mutex_unlock(&store.lock);
		return mg_error_set(&conn->err, MG_ABSENT, 0, 412, "copy",
				    "'%s' changed since it was listed", src_key);
	}
	copy = malloc(store.v[i].size ? store.v[i].size : 1);
	memcpy(copy, store.v[i].data, store.v[i].size);
	store_put(dst_key, copy, store.v[i].size, info->mtime_ns, res->etag);
	pthread_mutex_unlock(&store.lock);
	return MG_OK;
}

/* ---- multipart ---- */

static struct mem_upload *upload_find(const char *key, const char *id)
{
	for (struct mem_upload *u = store.uploads; u; u = u->next)
		if (!strcmp(u->key, key) && !strcmp(u->id, id))
			return u;
	return NULL;
}

static void upload_free(struct mem_upload *u)
{
	struct mem_upload **pp = &store.uploads;

	while (*pp != u)
		pp = &(*pp)->next;
	*pp = u->next;
	for (size_t i = 0; i < sizeof(u->parts) / sizeof(u->parts[0]); i++)
		free(u->parts[i].data);
	free(u->key);
	free(u);
}

static int no_upload(struct mg_conn *conn, const char *id)
{
	return mg_error_set(&conn->err, MG_FAILED, 0, 404, "multipart", "no upload '%s'", id);
}

static int mem_mp_create(struct mg_conn *conn, const char *key, const struct mg_put_info *info,
			 const struct mg_put_final *fin, char *upload_id, size_t idlen)
{
	struct mem_upload *u = calloc(1, sizeof(*u));

	(void)info;
	(void)fin;
	mg_count_req(conn, MG_REQ_MP_CREATE);
	u->key = strdup(key);
	pthread_mutex_lock(&store.lock);
	snprintf(u->id, sizeof(u->id), "mem-%u", ++store.next_id);
	u->next = store.uploads;
	store.uploads = u;
	pthread_mutex_unlock(&store.lock);
	snprintf(upload_id, idlen, "%s", u->id);
	return MG_OK;
}

static int mem_mp_upload_part(struct mg_conn *conn, const char *key, const char *upload_id,
			      struct mg_part *part, const void *buf, size_t len)
{
	struct mem_upload *u;
	struct mem_obj *p;

	mg_count_req(conn, MG_REQ_MP_PART);
	if (part->number < 1 || part->number > 64)
		return mg_error_set(&conn->err, MG_FAILED, 0, 400, "multipart",
				    "part number %d is not in 1..64", part->number);
	pthread_mutex_lock(&store.lock);
	if (!(u = upload_find(key, upload_id))) {
		pthread_mutex_unlock(&store.lock);
		return no_upload(conn, upload_id);
	}
	p = &u->parts[part->number - 1];
	free(p->data);
	p->data = malloc(len ? len : 1);
	memcpy(p->data, buf, len);
	p->size = len;
	etag_of(p->data, len, p->etag);
	snprintf(part->etag, sizeof(part->etag), "%s", p->etag);
	part->size = len;
	pthread_mutex_unlock(&store.lock);
	mg_count_written(conn, len);
	return MG_OK;
}

static int mem_mp_list_parts(struct mg_conn *conn, const char *key, const char *upload_id,
			     int (*cb)(void *arg, const struct mg_part *p), void *arg)
{
	struct mg_part found[64];
	struct mem_upload *u;
	int n = 0;

	mg_count_req(conn, MG_REQ_MP_LIST);
	pthread_mutex_lock(&store.lock);
	if (!(u = upload_find(key, upload_id))) {
		pthread_mutex_unlock(&store.lock);
		return no_upload(conn, upload_id);
	}
	for (int i = 0; i < 64; i++)
		if (u->parts[i].data) {
			memset(&found[n], 0, sizeof(found[n]));
			found[n].number = i + 1;
			found[n].size = u->parts[i].size;
			memcpy(found[n].etag, u->parts[i].etag, sizeof(u->parts[i].etag));
			n++;
		}
	pthread_mutex_unlock(&store.lock);
	for (int i = 0; i < n; i++)	/* outside the lock: cb may call us */
		if (cb(arg, &found[i]))
			break;
	return MG_OK;
}

static int mem_mp_complete(struct mg_conn *conn, const char *key, const char *upload_id,
			   const struct mg_part *parts, int nparts, struct mg_put_result *res)
{
	struct mem_upload *u;
	unsigned char *data;
	size_t size = 0;

	mg_count_req(conn, MG_REQ_MP_COMPLETE);
	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&store.lock);
	if (!(u = upload_find(key, upload_id))) {
		pthread_mutex_unlock(&store.lock);
		return no_upload(conn, upload_id);
	}
	for (int i = 0; i < nparts; i++) {
		const struct mem_obj *p = parts[i].number >= 1 && parts[i].number <= 64 ?
					  &u->parts[parts[i].number - 1] : NULL;

		if (!p || !p->data || strcmp(p->etag, parts[i].etag) != 0) {
			pthread_mutex_unlock(&store.lock);
			return mg_error_set(&conn->err, MG_FAILED, 0, 400, "multipart",
					    "part %d of '%s' is missing or has another ETag",
					    parts[i].number, key);
		}
		size += p->size;
	}
	data = malloc(size ? size : 1);
	size = 0;
	for (int i = 0; i < nparts; i++) {
		const struct mem_obj *p = &u->parts[parts[i].number - 1];

		memcpy(data + size, p->data, p->size);
		size += p->size;
	}
	store_put(key, data, size, 0, res->etag);
	upload_free(u);
	pthread_mutex_unlock(&store.lock);
	return MG_OK;
}

static int mem_mp_abort(struct mg_conn *conn, const char *key, const char *upload_id)
{
	struct mem_upload *u;

	mg_count_req(conn, MG_REQ_MP_ABORT);
	pthread_mutex_lock(&store.lock);
	if ((u = upload_find(key, upload_id)))
		upload_free(u);
	pthread_mutex_unlock(&store.lock);
	return MG_OK;	/* aborting what is gone already is done */
}

static int mem_mp_list_uploads(struct mg_conn *conn, const char *prefix,
			       int (*cb)(void *arg, const struct mg_upload *u), void *arg)
{
	char keys[64][256], ids[64][32];
	int n = 0;

	mg_count_req(conn, MG_REQ_MP_LIST);
	pthread_mutex_lock(&store.lock);
	for (struct mem_upload *u = store.uploads; u && n < 64; u = u->next)
		if (!strncmp(u->key, prefix ? prefix : "", strlen(prefix ? prefix : ""))) {
			snprintf(keys[n], sizeof(keys[n]), "%s", u->key);
			snprintf(ids[n], sizeof(ids[n]), "%s", u->id);
			n++;
		}
	pthread_mutex_unlock(&store.lock);
	for (int i = 0; i < n; i++) {
		struct mg_upload up = { .key = keys[i], .upload_id = ids[i] };

		if (cb(arg, &up))
			break;
	}
	return MG_OK;
}

const struct mg_connector cf_connector_mem = {
	.version = MG_CONNECTOR_VERSION,
	.scheme = "mem",
	.caps = MG_CAP_SOURCE | MG_CAP_TARGET | MG_CAP_RANGE_READ | MG_CAP_MULTIPART |
		MG_CAP_SERVER_COPY | MG_CAP_NATIVE_HASH | MG_CAP_DELETE,
	.open = mem_open,
	.close = mem_close,
	.list_open = mem_list_open,
	.list_next = mem_list_next,
	.list_close = mem_list_close,
	.read_open = mem_read_open,
	.read = mem_read,
	.read_close = mem_read_close,
	.write_open = mem_write_open,
	.write = mem_write,
	.write_commit = mem_write_commit,
	.write_abort = mem_write_abort,
	.stat = mem_stat,
	.remove = mem_remove,
	.copy = mem_copy,
	.mp_create = mem_mp_create,
	.mp_upload_part = mem_mp_upload_part,
	.mp_list_parts = mem_mp_list_parts,
	.mp_complete = mem_mp_complete,
	.mp_abort = mem_mp_abort,
	.mp_list_uploads = mem_mp_list_uploads,
};
