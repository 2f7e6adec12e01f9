/*
 * mem.c - a toy connector that keeps objects in memory: the test double
 * for the engine, and the proof that a connector is one file plus one
 * registration (main.c calls mg_connector_register(&cf_connector_mem)).
 * Once registered, a plan may name mem://NAME/prefix endpoints: NAME is a
 * store, as a bucket is, and the prefix a folder in it, so one process
 * can hold a source and its targets side by side.
 *
 * Everything a connector may do, done the simplest way: a sorted array of
 * objects under one mutex (every conn of the process shares it, as conns
 * of one endpoint share a bucket), each object under its full key
 * "NAME/prefix/key", so one array holds every store and a prefix's keys
 * sit together in byte order; bytes copied on read and on commit so a
 * writer is invisible until it commits; multipart uploads as a list of
 * parts joined at complete.  ETags are the hex MD5 of the bytes, as a
 * single-part S3 object's are.  The estimate methods are NULL: the
 * defaults of connector.h (one GET, one PUT, create + parts + complete)
 * are what it issues, and each store's tally (cf_mem_counters) lets
 * tests/unit/test_engine_mem.c check that from the store's side.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "connector.h"
#include "plan.h"

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

/*
 * What each store was asked, as the store itself saw it: a test that
 * drives the engine over mem:// compares these with what `estimate`
 * predicted, without trusting the engine's own counters
 * (cf_mem_counters).  A few stores per process are plenty; the ones past
 * the table are simply not tallied.
 */
static struct {
	pthread_mutex_t lock;
	struct { char name[64]; struct mg_counters c; } v[16];
} tally = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Per conn: the root its keys live under, its store's tally and where
 * stat() keeps the key it hands back. */
struct mem_conn {
	char *root;		/* "NAME/" or "NAME/prefix/" */
	size_t rootlen;
	struct mg_counters *tally;	/* NULL: the table was full */
	char *stat_key;
};

static struct mg_counters *tally_of(const char *name)
{
	struct mg_counters *c = NULL;

	pthread_mutex_lock(&tally.lock);
	for (size_t i = 0; i < sizeof(tally.v) / sizeof(tally.v[0]) && !c; i++)
		if (!strcmp(tally.v[i].name, name) || !tally.v[i].name[0]) {
			snprintf(tally.v[i].name, sizeof(tally.v[i].name), "%s", name);
			c = &tally.v[i].c;
		}
	pthread_mutex_unlock(&tally.lock);
	return c;
}

void cf_mem_counters(const char *name, struct mg_counters *out)
{
	struct mg_counters *c = tally_of(name);

	pthread_mutex_lock(&tally.lock);
	if (c)
		*out = *c;
	else
		memset(out, 0, sizeof(*out));
	pthread_mutex_unlock(&tally.lock);
}

/* A request (or payload bytes) for the engine's counters and the store's
 * tally alike. */
static void count(struct mg_conn *conn, enum mg_req r, uint64_t read, uint64_t written)
{
	struct mem_conn *mc = conn->priv;

	if (r != MG_REQ__COUNT)
		mg_count_req(conn, r);
	if (read)
		mg_count_read(conn, read);
	if (written)
		mg_count_written(conn, written);
	if (!mc->tally)
		return;
	pthread_mutex_lock(&tally.lock);
	if (r != MG_REQ__COUNT)
		mc->tally->req[r]++;
	mc->tally->bytes_read += read;
	mc->tally->bytes_written += written;
	pthread_mutex_unlock(&tally.lock);
}

/* ---- configuration: mem://NAME[/prefix] ---- */

static int mem_url_parse(struct mg_endpoint *ep, const char *scheme, const char *rest,
			 unsigned flags, char *msg, size_t msglen)
{
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);

	(void)flags;
	if (n == 0) {
		snprintf(msg, msglen, "missing store name in '%s': write %s://NAME/prefix",
			 ep->url, scheme);
		return -1;
	}
	ep->host = mg_malloc(n + 1);
	memcpy(ep->host, rest, n);
	ep->host[n] = '\0';
	ep->path = mg_strdup(slash ? slash + 1 : "");
	return 0;
}

/* The place is the store and the prefix as written. */
static void mem_url_identity(const struct mg_endpoint *ep, struct mg_buf *b)
{
	mg_buf_adds(b, ep->host ? ep->host : "");
	mg_buf_adds(b, "/");
	mg_buf_adds(b, ep->path ? ep->path : "");
}

/* The key as the store holds it: root + key (the caller frees it). */
static char *full_key(struct mg_conn *conn, const char *key)
{
	const struct mem_conn *mc = conn->priv;
	char *k = mg_malloc(mc->rootlen + strlen(key) + 1);

	memcpy(k, mc->root, mc->rootlen);
	strcpy(k + mc->rootlen, key);
	return k;
}

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
	/* An endpoint made by hand (tests/conformance/main.c) has no parts:
	 * the store "" at its top. */
	const char *name = conn->ep->host ? conn->ep->host : "";
	const char *prefix = conn->ep->path ? conn->ep->path : "";
	size_t plen = strlen(prefix);
	struct mem_conn *mc = calloc(1, sizeof(*mc));

	(void)flags;
	/* the prefix is a folder, as on S3: mem://m/photos holds photos/... */
	mc->root = mg_malloc(strlen(name) + plen + 3);
	sprintf(mc->root, "%s/%s%s", name, prefix, plen && prefix[plen - 1] != '/' ? "/" : "");
	mc->rootlen = strlen(mc->root);
	mc->tally = tally_of(name);
	conn->priv = mc;
	return MG_OK;
}

static void mem_close(struct mg_conn *conn)
{
	struct mem_conn *mc = conn->priv;

	if (mc) {
		free(mc->stat_key);
		free(mc->root);
	}
	free(mc);
}

/* ---- listing: each step finds the first key after the last one, so a
 * listing sees commits made while it runs, as a bucket's does ---- */

static int mem_list_open(struct mg_conn *conn, const char *start_after, struct mg_lister **out)
{
	struct mg_lister *it = calloc(1, sizeof(*it));

	it->conn = conn;
	/* every key under the root sorts after the root itself */
	it->last = full_key(conn, start_after ? start_after : "");
	count(conn, MG_REQ_LIST, 0, 0);
	*out = it;
	return MG_OK;
}

static int mem_list_next(struct mg_lister *it, struct mg_entry *out)
{
	const struct mem_conn *mc = it->conn->priv;
	int found = 0;
	size_t i;

	pthread_mutex_lock(&store.lock);
	i = find(it->last, &found) + (size_t)found;
	if (i >= store.n || strncmp(store.v[i].key, mc->root, mc->rootlen) != 0) {
		pthread_mutex_unlock(&store.lock);
		return MG_DONE;
	}
	free(it->last);
	it->last = strdup(store.v[i].key);
	it->cur = store.v[i];
	pthread_mutex_unlock(&store.lock);
	memset(out, 0, sizeof(*out));
	out->key = it->last + mc->rootlen;
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
	char *fk = full_key(conn, key);
	int found;
	size_t i, end;

	pthread_mutex_lock(&store.lock);
	i = find(fk, &found);
	free(fk);
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
	count(conn, MG_REQ_GET, 0, 0);
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
	count(r->conn, MG_REQ__COUNT, n, 0);
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
	w->key = full_key(conn, key);
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
	count(w->conn, MG_REQ__COUNT, 0, len);
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
	count(w->conn, MG_REQ_PUT, 0, 0);
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
	char *fk = full_key(conn, key);

	count(conn, MG_REQ_HEAD, 0, 0);
	pthread_mutex_lock(&store.lock);
	i = find(fk, &found);
	free(fk);
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
	char *fk = full_key(conn, key);

	count(conn, MG_REQ_DELETE, 0, 0);
	pthread_mutex_lock(&store.lock);
	i = find(fk, &found);
	free(fk);
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
	char *fsrc = full_key(conn, src_key), *fdst = full_key(conn, dst_key);
	unsigned char *copy;
	int found;
	size_t i;

	(void)fin;
	count(conn, MG_REQ_COPY, 0, 0);
	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&store.lock);
	i = find(fsrc, &found);
	free(fsrc);
	if (!found) {
		pthread_mutex_unlock(&store.lock);
		free(fdst);
		return absent(conn, "copy", src_key);
	}
	if (info->copy_if_match && strcmp(info->copy_if_match, store.v[i].etag) != 0) {
		pthread_mutex_unlock(&store.lock);
		free(fdst);
		return mg_error_set(&conn->err, MG_ABSENT, 0, 412, "copy",
				    "'%s' changed since it was listed", src_key);
	}
	copy = malloc(store.v[i].size ? store.v[i].size : 1);
	memcpy(copy, store.v[i].data, store.v[i].size);
	store_put(fdst, copy, store.v[i].size, info->mtime_ns, res->etag);
	pthread_mutex_unlock(&store.lock);
	free(fdst);
	return MG_OK;
}

/* ---- multipart ---- */

static struct mem_upload *upload_find(struct mg_conn *conn, const char *key, const char *id)
{
	char *fk = full_key(conn, key);
	struct mem_upload *u;

	for (u = store.uploads; u; u = u->next)
		if (!strcmp(u->key, fk) && !strcmp(u->id, id))
			break;
	free(fk);
	return u;
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
	count(conn, MG_REQ_MP_CREATE, 0, 0);
	u->key = full_key(conn, key);
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

	count(conn, MG_REQ_MP_PART, 0, 0);
	if (part->number < 1 || part->number > 64)
		return mg_error_set(&conn->err, MG_FAILED, 0, 400, "multipart",
				    "part number %d is not in 1..64", part->number);
	pthread_mutex_lock(&store.lock);
	if (!(u = upload_find(conn, key, upload_id))) {
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
	count(conn, MG_REQ__COUNT, 0, len);
	return MG_OK;
}

static int mem_mp_list_parts(struct mg_conn *conn, const char *key, const char *upload_id,
			     int (*cb)(void *arg, const struct mg_part *p), void *arg)
{
	struct mg_part found[64];
	struct mem_upload *u;
	int n = 0;

	count(conn, MG_REQ_MP_LIST, 0, 0);
	pthread_mutex_lock(&store.lock);
	if (!(u = upload_find(conn, key, upload_id))) {
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

	count(conn, MG_REQ_MP_COMPLETE, 0, 0);
	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&store.lock);
	if (!(u = upload_find(conn, key, upload_id))) {
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
	store_put(u->key, data, size, 0, res->etag);
	upload_free(u);
	pthread_mutex_unlock(&store.lock);
	return MG_OK;
}

static int mem_mp_abort(struct mg_conn *conn, const char *key, const char *upload_id)
{
	struct mem_upload *u;

	count(conn, MG_REQ_MP_ABORT, 0, 0);
	pthread_mutex_lock(&store.lock);
	if ((u = upload_find(conn, key, upload_id)))
		upload_free(u);
	pthread_mutex_unlock(&store.lock);
	return MG_OK;	/* aborting what is gone already is done */
}

static int mem_mp_list_uploads(struct mg_conn *conn, const char *prefix,
			       int (*cb)(void *arg, const struct mg_upload *u), void *arg)
{
	const struct mem_conn *mc = conn->priv;
	char keys[64][256], ids[64][32];
	char *fp = full_key(conn, prefix ? prefix : "");
	int n = 0;

	count(conn, MG_REQ_MP_LIST, 0, 0);
	pthread_mutex_lock(&store.lock);
	for (struct mem_upload *u = store.uploads; u && n < 64; u = u->next)
		if (!strncmp(u->key, fp, strlen(fp))) {
			snprintf(keys[n], sizeof(keys[n]), "%s", u->key + mc->rootlen);
			snprintf(ids[n], sizeof(ids[n]), "%s", u->id);
			n++;
		}
	pthread_mutex_unlock(&store.lock);
	free(fp);
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
	.url_parse = mem_url_parse,
	.url_identity = mem_url_identity,
	/* no plan keys; priced as a local folder (moving bytes in memory
	 * costs nothing) */
	.provider = "local",
};
