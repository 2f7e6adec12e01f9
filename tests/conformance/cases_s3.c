/*
 * cases_s3.c - `conformance s3`: S3's own checks, driving the connector
 * against a live server (Ceph RGW from tools/lib/s3server.sh) without the engine, method by method.
 *
 *   conformance s3 suite BUCKET            what S3 does beyond connector.h (the
 *                                   contract itself is checked by the
 *                                   conformance suite, tests/conformance/,
 *                                   run by conformance_s3.sh); prints
 *                                   "ok - name" or "not ok - name # why"
 *   conformance s3 stress BUCKET           puts, a multipart upload, reads, a
 *                                   listing through a faulty proxy; ends
 *                                   with "retries N"
 *   conformance s3 put BUCKET KEY FILE [PART_SIZE]
 *                                   upload FILE (multipart when PART_SIZE)
 *   conformance s3 get BUCKET KEY FILE     download KEY into FILE
 *   conformance s3 ls BUCKET [PREFIX]      list keys, one a line
 *   conformance s3 resume BUCKET           a multipart upload resumed from
 *                                   ListParts on a new conn (RGW, moto)
 *   conformance s3 precond BUCKET          conditional copies (copy_if_match)
 *   conformance s3 ssec BUCKET             SSE-C (needs an https endpoint)
 *   conformance s3 resets BUCKET           uploads of 60 KiB and more through a
 *                                   proxy that resets kept-alive connections
 *   conformance s3 stall BUCKET            a stat against a server that never
 *                                   answers: MG_RETRY, in seconds
 *   conformance s3 wait BUCKET             a stat against 503 + Retry-After: 60;
 *                                   SIGTERM ends it (exit 130)
 *
 * The server comes from MG_S3_ENDPOINT, MG_S3_ACCESS_KEY, MG_S3_SECRET_KEY
 * and MG_S3_REGION (and MG_S3_CA_FILE, the plan's ca_file); the bucket
 * must exist.  tests/integration/s3_connector.sh turns the suite's lines
 * into TAP.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#define MG_S3_INTERNAL 1
#include "s3_private.h"
#include "conformance.h"
#include "connector.h"
#include "plan.h"

static int failures;

static void check(int ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void check(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("ok - %s\n", name);
	} else {
		failures++;
		printf("not ok - %s # ", name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
}

/* The S3 keys of an endpoint (what the plan's table would fill): one
 * struct per ep_from_env() call, from a pool, so nothing leaks. */
#define OPT(e) ((struct s3_options *)(e).opts)
static struct s3_options opt_pool[64];
static size_t opt_next;

static void ep_from_env(struct mg_endpoint *ep, const char *bucket, const char *prefix)
{
	struct s3_options *o = &opt_pool[opt_next++ % 64];

	memset(ep, 0, sizeof(*ep));
	memset(o, 0, sizeof(*o));
	ep->url = "s3://test";
	ep->scheme = "s3";
	ep->connector = "s3";
	ep->host = (char *)bucket;
	ep->path = (char *)(prefix ? prefix : "");
	ep->opts = o;
	o->endpoint = getenv("MG_S3_ENDPOINT");
	o->region = getenv("MG_S3_REGION");
	o->access_key_id = getenv("MG_S3_ACCESS_KEY");
	o->secret_access_key = getenv("MG_S3_SECRET_KEY");
	o->path_style = -1;
	o->ca_file = getenv("MG_S3_CA_FILE");
}

static const struct mg_connector *s3(void)
{
	return mg_connector_find("s3");
}

static void fill(unsigned char *buf, size_t n, unsigned seed)
{
	uint64_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (unsigned char)x;
	}
}

static void hashes(const void *data, size_t len, struct mg_put_final *fin)
{
	unsigned int n = 16;

	s3_sha256_hex(data, len, fin->sha256);
	EVP_Digest(data, len, fin->md5, &n, EVP_md5(), NULL);
}

static int put(struct mg_conn *c, const char *key, const void *data, size_t len,
	       struct mg_put_result *res)
{
	struct mg_put_info info = { .size = len, .mtime_ns = 1700000000123456789LL };
	struct mg_put_final fin;
	struct mg_writer *w;
	int r;

	hashes(data, len, &fin);
	r = c->ops->write_open(c, key, &info, &w);
	if (r != MG_OK)
		return r;
	/* in a few pieces, as the engine writes */
	for (size_t off = 0; off < len; off += 7000) {
		size_t n = len - off < 7000 ? len - off : 7000;

		r = c->ops->write(w, (const char *)data + off, n);
		if (r != MG_OK) {
			c->ops->write_abort(w);
			return r;
		}
	}
	return c->ops->write_commit(w, &fin, res);
}

/* Reads [off, off+len) into a malloc'd buffer; *got its size. */
static int get(struct mg_conn *c, const char *key, uint64_t off, uint64_t len,
	       unsigned char **out, size_t *got)
{
	struct mg_reader *rd;
	struct mg_buf b = MG_BUF_INIT;
	char tmp[5000];
	size_t n;
	int r;

	*out = NULL;
	*got = 0;
	r = mg_read_open(c, key, off, len, &rd);
	if (r != MG_OK)
		return r;
	do {
		r = c->ops->read(rd, tmp, sizeof(tmp), &n);
		if (r == MG_OK)
			mg_buf_add(&b, tmp, n);
	} while (r == MG_OK && n);
	c->ops->read_close(rd);
	*got = b.len;
	*out = (unsigned char *)mg_buf_detach(&b);
	return r;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* put_batch (issue 19.1): more objects than one loop takes at once
 * (S3_BATCH_MAX), all in flight together; one the server refuses (a key
 * above S3's 1,024 bytes) and one the engine got wrong (announced size)
 * fail alone, with their own errors, and the others are whole. */
static void suite_batch(struct mg_conn *c)
{
	enum { N = S3_BATCH_MAX + 4, LONG = 3, WRONG = 11 };
	struct mg_put_item it[N];
	struct mg_put_info info[N];
	unsigned char *data[N];
	char *keys[N], why[800] = "";
	uint64_t puts = c->counters->req[MG_REQ_PUT];
	int rc;

	memset(it, 0, sizeof(it));
	for (int i = 0; i < N; i++) {
		size_t len = 100 + (size_t)i * 997;

		keys[i] = mg_malloc(1200);
		if (i == LONG) {
			memset(keys[i], 'k', 1100);
			keys[i][1100] = '\0';
		} else {
			snprintf(keys[i], 1200, "batch/%02d", i);
		}
		data[i] = mg_malloc(len);
		fill(data[i], len, (unsigned)i + 77);
		info[i] = (struct mg_put_info){ .size = len + (i == WRONG),
						.mtime_ns = 1700000000123456789LL };
		it[i] = (struct mg_put_item){ .key = keys[i], .info = &info[i], .body = data[i],
					      .len = len };
	}
	rc = mg_put_batch(c, it, N);
	if (rc == MG_OK || c->err.status)
		snprintf(why, sizeof(why), "batch %s, conn error '%.200s'", mg_status_name(rc),
			 c->err.msg);
	for (int i = 0; i < N && !*why; i++) {
		unsigned char *back = NULL;
		size_t got = 0;

		if (i == LONG || i == WRONG) {
			if (it[i].status == MG_OK || !it[i].err.msg[0])
				snprintf(why, sizeof(why), "object %d should fail alone: %s '%.200s'",
					 i, mg_status_name(it[i].status), it[i].err.msg);
			continue;
		}
		if (it[i].status != MG_OK || !it[i].res.etag[0] ||
		    get(c, keys[i], 0, UINT64_MAX, &back, &got) != MG_OK ||
		    got != it[i].len || memcmp(back, data[i], got) != 0)
			snprintf(why, sizeof(why), "'%s': %s '%.200s', etag '%s', %zu bytes back",
				 keys[i], mg_status_name(it[i].status), it[i].err.msg,
				 it[i].res.etag, got);
		free(back);
	}
	check(!*why, "put_batch: many PUTs on one loop, one refused by the server and one "
	      "wrong fail alone, the others whole", "%s", why);
	check(c->counters->req[MG_REQ_PUT] - puts >= N - 1, "put_batch counts its PUTs",
	      "%llu", (unsigned long long)(c->counters->req[MG_REQ_PUT] - puts));
	for (int i = 0; i < N; i++) {
		if (i != LONG && i != WRONG)
			c->ops->remove(c, keys[i]);
		free(keys[i]);
		free(data[i]);
	}
	mg_error_clear(&c->err);
}

/* ---- the suite ---- */

static void suite_errors(const char *bucket)
{
	struct mg_endpoint ep;
	struct mg_conn c;
	char wrong[128];
	int r;

	/* wrong secret: fatal, names the access key, never the secret */
	ep_from_env(&ep, bucket, NULL);
	snprintf(wrong, sizeof(wrong), "%sWRONG", OPT(ep)->secret_access_key);
	OPT(ep)->secret_access_key = wrong;
	r = mg_conn_open(&c, s3(), &ep, NULL, MG_OPEN_SOURCE);
	check(r == MG_FATAL, "wrong secret is fatal", "got %d", r);
	check(strstr(c.err.msg, "signature does not match for access key") &&
	      strstr(c.err.msg, OPT(ep)->access_key_id),
	      "wrong secret message names the access key", "%s", c.err.msg);
	check(!strstr(c.err.msg, wrong) && !strstr(c.err.msg, getenv("MG_S3_SECRET_KEY")),
	      "wrong secret message holds no secret", "%s", c.err.msg);
	check(c.err.remote_code == 403, "wrong secret remote code 403", "%ld", c.err.remote_code);
	mg_conn_close(&c);

	/* wrong access key */
	ep_from_env(&ep, bucket, NULL);
	OPT(ep)->access_key_id = "AKNOSUCHKEY000000000";
	r = mg_conn_open(&c, s3(), &ep, NULL, MG_OPEN_SOURCE);
	check(r == MG_FATAL && strstr(c.err.msg, "AKNOSUCHKEY000000000"),
	      "unknown access key is fatal", "%d %s", r, c.err.msg);
	mg_conn_close(&c);

	/* missing bucket */
	ep_from_env(&ep, "no-such-bucket-mg", NULL);
	r = mg_conn_open(&c, s3(), &ep, NULL, MG_OPEN_TARGET);
	check(r == MG_FATAL && strstr(c.err.msg, "bucket 'no-such-bucket-mg' does not exist"),
	      "missing bucket is fatal", "%d %s", r, c.err.msg);
	mg_conn_close(&c);

	/* unreachable endpoint */
	ep_from_env(&ep, bucket, NULL);
	OPT(ep)->endpoint = "http://127.0.0.1:1";
	r = mg_conn_open(&c, s3(), &ep, NULL, MG_OPEN_SOURCE);
	check(r == MG_FATAL && strstr(c.err.msg, "cannot connect"),
	      "unreachable endpoint is fatal", "%d %s", r, c.err.msg);
	mg_conn_close(&c);

	/* https against a plain-http server: a TLS error, fatal */
	ep_from_env(&ep, bucket, NULL);
	{
		char https[256];

		snprintf(https, sizeof(https), "https://%s", strstr(getenv("MG_S3_ENDPOINT"), "://") + 3);
		OPT(ep)->endpoint = https;
		r = mg_conn_open(&c, s3(), &ep, NULL, MG_OPEN_SOURCE);
		check(r == MG_FATAL, "tls failure is fatal", "%d %s", r, c.err.msg);
		mg_conn_close(&c);
	}
}

static const char *const odd_keys[] = {
	"plain.txt", "with space.txt", "plus+sign", "per%cent%20", "dbl//slash",
	"unicode-\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "q?mark&amp=1#frag", "tilde~star*",
	"dir/sub/deep.bin", "trailing.", "semi;colon,comma'quote\"", NULL
};

static void suite_objects(struct mg_conn *c)
{
	unsigned char data[30000], *back;
	struct mg_put_result res;
	struct mg_entry st;
	int r, all = 1;

	for (int i = 0; odd_keys[i]; i++) {
		size_t len = 1000 + (size_t)i * 2000;

		fill(data, len, (unsigned)i);
		r = put(c, odd_keys[i], data, len, &res);
		if (r != MG_OK) {
			check(0, "put odd key", "'%s': %s", odd_keys[i], c->err.msg);
			all = 0;
			continue;
		}
		r = c->ops->stat(c, odd_keys[i], &st);
		if (r != MG_OK || st.size != len || strcmp(st.key, odd_keys[i]) != 0 ||
		    strcmp(st.etag, res.etag) != 0 || st.mtime_ns != 1700000000123456789LL) {
			check(0, "stat odd key", "'%s': %d size %llu etag %s/%s mtime %lld", odd_keys[i],
			      r, (unsigned long long)st.size, st.etag, res.etag, (long long)st.mtime_ns);
			all = 0;
		} else {
			struct mg_put_final fin;

			hashes(data, len, &fin);
			if (strcmp(st.sha256, fin.sha256) != 0) {
				check(0, "stat gives x-amz-meta-sha256", "'%s' %s", odd_keys[i], st.sha256);
				all = 0;
			}
		}
	}
	/* reading them back, the listing's order, absent keys and remove are
	 * the conformance suite's (conformance_s3.sh) */
	check(all, "odd keys (space, +, %, //, unicode, ?, #): stat gives the put's ETag, "
	      "the mtime and x-amz-meta-sha256", "see above");

	/* what S3 says about an absent key */
	r = mg_read_open(c, "no/such/key", 0, UINT64_MAX, (struct mg_reader **)&back);
	check(r == MG_FAILED && strstr(c->err.msg, "no such key") && c->err.remote_code == 404,
	      "read of a missing key fails with 404", "%d %s", r, c->err.msg);
	mg_error_clear(&c->err);
}

static void suite_ranges(struct mg_conn *c)
{
	static unsigned char data[100000];
	unsigned char *back;
	struct s3_tune tune = { 0 };
	size_t got;
	int r;

	fill(data, sizeof(data), 42);
	r = put(c, "range.bin", data, sizeof(data), NULL);
	check(r == MG_OK, "put range object", "%s", c->err.msg);

	/* ranges one GET each, and past the end, are the conformance
	 * suite's (conformance_s3.sh); here: S3's own chunked reads.
	 * small chunks: many ranged GETs pinned by If-Match */
	tune.read_chunk = 4096;
	s3_conn_tune(c, &tune);
	r = get(c, "range.bin", 3, UINT64_MAX, &back, &got);
	check(r == MG_OK && got == sizeof(data) - 3 && memcmp(back, data + 3, got) == 0,
	      "chunked read of the whole object", "%d %zu %s", r, got, c->err.msg);
	free(back);
	r = get(c, "range.bin", 4000, 10000, &back, &got);
	check(r == MG_OK && got == 10000 && memcmp(back, data + 4000, got) == 0,
	      "chunked range read across chunk borders", "%d %zu", r, got);
	free(back);
	tune.read_chunk = 8u << 20;
	s3_conn_tune(c, &tune);

	/* an empty object (written and read whole: the conformance suite) */
	r = put(c, "empty", "", 0, NULL);
	mg_error_clear(&c->err);
	/* nothing to read from the start (an empty object, its size known):
	 * exactly one GET, without a Range, as estimate_read counts */
	{
		struct mg_counters *cnt = c->counters, est = { .bytes_read = 0 };
		uint64_t gets = cnt ? cnt->req[MG_REQ_GET] : 0;

		r = get(c, "empty", 0, 0, &back, &got);
		check(r == MG_OK && got == 0 && (!cnt || cnt->req[MG_REQ_GET] == gets + 1),
		      "reading 0 bytes of an empty object is one GET", "%d %zu %llu %s", r, got,
		      cnt ? (unsigned long long)(cnt->req[MG_REQ_GET] - gets) : 0ULL, c->err.msg);
		free(back);
		c->ops->estimate_read(c, 0, &est);
		check(est.req[MG_REQ_GET] == 1, "estimate_read counts one GET for 0 bytes",
		      "%llu", (unsigned long long)est.req[MG_REQ_GET]);
		gets = cnt ? cnt->req[MG_REQ_GET] : 0;
		r = get(c, "range.bin", 0, 0, &back, &got);
		check(r == MG_OK && got == 0 && (!cnt || cnt->req[MG_REQ_GET] == gets + 1),
		      "reading 0 bytes of a full object reads none of them", "%d %zu %s",
		      r, got, c->err.msg);
		free(back);
		r = get(c, "no/such/empty", 0, 0, &back, &got);
		check(r == MG_FAILED && c->err.remote_code == 404,
		      "reading 0 bytes of a missing key fails (404)", "%d %s", r, c->err.msg);
		mg_error_clear(&c->err);
	}
}

static void suite_verify(struct mg_conn *c)
{
	unsigned char data[5000];
	struct mg_put_info info = { .size = sizeof(data), .content_type = "application/x-test" };
	struct mg_put_final fin;
	struct mg_writer *w;
	struct mg_entry st;
	int r;

	fill(data, sizeof(data), 7);

	/* wrong Content-MD5 (sent with the plan's content_md5: true): the
	 * server refuses (BadDigest); a body damaged on the way is worth
	 * sending again, so the grade is MG_RETRY once the tries are spent */
	hashes(data, sizeof(data), &fin);
	fin.md5[0] ^= 1;
	((struct s3_options *)c->ep->opts)->content_md5 = 1;
	c->ops->write_open(c, "bad-md5", &info, &w);
	c->ops->write(w, data, sizeof(data));
	r = c->ops->write_commit(w, &fin, NULL);
	((struct s3_options *)c->ep->opts)->content_md5 = 0;
	check(r == MG_RETRY && strstr(c->err.msg, "BadDigest") && c->err.remote_code == 400,
	      "put with a wrong Content-MD5 is refused (BadDigest)", "%d %s", r, c->err.msg);
	mg_error_clear(&c->err);
	check(c->ops->stat(c, "bad-md5", &st) == MG_ABSENT, "no object after BadDigest", "present");

	/* wrong signed payload hash (the default check): refused too */
	hashes(data, sizeof(data), &fin);
	fin.sha256[0] = fin.sha256[0] == '0' ? '1' : '0';
	c->ops->write_open(c, "bad-sha", &info, &w);
	c->ops->write(w, data, sizeof(data));
	r = c->ops->write_commit(w, &fin, NULL);
	check(r == MG_RETRY && strstr(c->err.msg, "XAmzContentSHA256Mismatch"),
	      "put with a wrong x-amz-content-sha256 is refused", "%d %s", r, c->err.msg);
	mg_error_clear(&c->err);
	check(c->ops->stat(c, "bad-sha", &st) == MG_ABSENT, "no object after a payload hash mismatch",
	      "present");

	/* more bytes than announced never reach the server */
	c->ops->write_open(c, "too-long", &info, &w);
	r = c->ops->write(w, data, sizeof(data));
	if (r == MG_OK)
		r = c->ops->write(w, data, 1);
	check(r == MG_FAILED, "writing past the announced size fails", "%d", r);
	c->ops->write_abort(w);
	mg_error_clear(&c->err);
	check(c->ops->stat(c, "too-long", &st) == MG_ABSENT, "aborted writer leaves nothing", "present");
}

static int list_many(struct mg_conn *c, const char *start_after, char ***out, size_t *n)
{
	struct mg_lister *it;
	struct mg_entry e;
	size_t alloc = 0;
	int r;

	*out = NULL;
	*n = 0;
	r = mg_list_open(c, start_after, &it);
	while (r == MG_OK && (r = c->ops->list_next(it, &e)) == MG_OK) {
		if (*n == alloc) {
			alloc = alloc ? alloc * 2 : 256;
			*out = mg_realloc(*out, alloc * sizeof(**out));
		}
		(*out)[(*n)++] = mg_strdup(e.key);
	}
	c->ops->list_close(it);
	return r;
}

static void free_keys(char **k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(k[i]);
	free(k);
}

static void deleted_cb(void *arg, const char *key, const char *code)
{
	(void)key;
	(void)code;
	(*(int *)arg)++;
}

static void suite_paging(const char *bucket, const char *prefix)
{
	enum { N = 1050 };
	struct mg_endpoint ep;
	struct mg_conn c;
	struct mg_counters cnt = { .bytes_read = 0 };
	struct s3_tune tune = { 0 };
	char *keys[N], **got;
	size_t n;
	int r, ok = 1, refused = 0;

	ep_from_env(&ep, bucket, prefix);
	r = mg_conn_open(&c, s3(), &ep, &cnt, MG_OPEN_TARGET);
	if (r != MG_OK) {
		check(0, "open for paging", "%s", c.err.msg);
		return;
	}
	for (int i = 0; i < N; i++) {
		char k[64];

		/* mixed widths so byte order differs from numeric order */
		snprintf(k, sizeof(k), "k/%d%s", i, i % 3 ? "" : "/x");
		keys[i] = mg_strdup(k);
		if (put(&c, k, k, strlen(k), NULL) != MG_OK) {
			ok = 0;
			break;
		}
	}
	check(ok, "put 1050 keys", "%s", c.err.msg);
	qsort(keys, N, sizeof(*keys), key_cmp);

	r = list_many(&c, NULL, &got, &n);
	ok = r == MG_DONE && n == N;
	for (size_t i = 0; ok && i < n; i++)
		ok = strcmp(got[i], keys[i]) == 0;
	check(ok, "list 1050 keys over 2 pages of 1000, byte order", "r=%d n=%zu", r, n);
	check(cnt.req[MG_REQ_LIST] >= 3, "listing counted per page", "%llu",
	      (unsigned long long)cnt.req[MG_REQ_LIST]);
	free_keys(got, n);

	tune.max_keys = 7;
	s3_conn_tune(&c, &tune);
	r = list_many(&c, keys[499], &got, &n);
	ok = r == MG_DONE && n == N - 500;
	for (size_t i = 0; ok && i < n; i++)
		ok = strcmp(got[i], keys[500 + i]) == 0;
	check(ok, "list after start_after in pages of 7", "r=%d n=%zu", r, n);
	free_keys(got, n);

	r = s3_delete_batch(&c, (const char *const *)keys, N, deleted_cb, &refused);
	check(r == MG_OK && refused == 0, "batch DeleteObjects of 1050 keys", "%d %d %s",
	      r, refused, c.err.msg);
	r = list_many(&c, NULL, &got, &n);
	check(r == MG_DONE && n == 0, "nothing left after batch delete", "r=%d n=%zu", r, n);
	free_keys(got, n);
	check(cnt.req[MG_REQ_PUT] == N && cnt.bytes_written > 0,
	      "PUTs and bytes counted", "put %llu bytes %llu",
	      (unsigned long long)cnt.req[MG_REQ_PUT], (unsigned long long)cnt.bytes_written);
	check(s3_conn_connects(&c) <= 3, "requests reuse the connection",
	      "%llu connections for %d requests", (unsigned long long)s3_conn_connects(&c), N + 10);
	printf("# retries on this conn: %llu, connections: %llu\n",
	       (unsigned long long)s3_conn_retries(&c), (unsigned long long)s3_conn_connects(&c));
	for (int i = 0; i < N; i++)
		free(keys[i]);
	mg_conn_close(&c);
}

struct parts_seen {
	struct mg_part p[16];
	int n;
};

static int part_cb(void *arg, const struct mg_part *p)
{
	struct parts_seen *s = arg;

	if (s->n < 16)
		s->p[s->n++] = *p;
	return 0;
}

static void suite_multipart(struct mg_conn *c)
{
	const size_t psz = 5u << 20, total = 2 * psz + (1u << 20);
	unsigned char *data = malloc(total), *back;
	struct mg_put_info info = { .size = total, .mtime_ns = 1600000000000000000LL };
	struct mg_put_final fin;
	struct mg_put_result res;
	struct mg_part parts[3];
	struct parts_seen seen = { .n = 0 };
	struct s3_tune tune = { 0 };
	struct mg_entry st;
	char id[512];
	const char *key = "mp/big \xc3\xa9+.bin";
	size_t got;
	int r, ok;

	fill(data, total, 99);
	hashes(data, total, &fin);
	/* create, list uploads, a wrong part ETag, read back and abort are
	 * the conformance suite's; here: ListParts paging, S3's ETags and
	 * metadata, CopyObject and UploadPartCopy, presigned URLs */
	r = c->ops->mp_create(c, key, &info, &fin, id, sizeof(id));
	memset(parts, 0, sizeof(parts));
	ok = 1;
	for (int i = 0; i < 3 && ok; i++) {
		size_t off = (size_t)i * psz, len = total - off < psz ? total - off : psz;

		parts[i].number = i + 1;
		ok = c->ops->mp_upload_part(c, key, id, &parts[i], data + off, len) == MG_OK &&
		     parts[i].size == len && parts[i].etag[0];
	}
	check(ok, "upload 3 parts (each signed with its SHA-256)", "%s", c->err.msg);

	tune.max_keys = 2;	/* ListParts pages of 2 */
	s3_conn_tune(c, &tune);
	r = c->ops->mp_list_parts(c, key, id, part_cb, &seen);
	ok = r == MG_OK && seen.n == 3;
	for (int i = 0; ok && i < 3; i++)
		ok = seen.p[i].number == i + 1 && seen.p[i].size == parts[i].size &&
		     strcmp(seen.p[i].etag, parts[i].etag) == 0 &&
		     memcmp(seen.p[i].md5, parts[i].md5, 16) == 0;
	check(ok, "list parts over pages of 2 matches what was sent", "r=%d n=%d %s",
	      r, seen.n, c->err.msg);

	tune.max_keys = 1000;
	s3_conn_tune(c, &tune);

	r = c->ops->mp_complete(c, key, id, parts, 3, &res);
	check(r == MG_OK && strstr(res.etag, "-3"), "complete gives a multipart ETag",
	      "%d %s '%s'", r, c->err.msg, res.etag);
	r = c->ops->stat(c, key, &st);
	check(r == MG_OK && st.size == total && strcmp(st.sha256, fin.sha256) == 0 &&
	      st.mtime_ns == info.mtime_ns, "stat of the multipart object: size, sha256, mtime",
	      "%d %llu %s", r, (unsigned long long)st.size, st.sha256);

	/* server-side copy: small (CopyObject) and large (UploadPartCopy) */
	r = put(c, "copy-src", data, 300000, NULL);
	{
		struct mg_put_info ci = { .size = 300000, .mtime_ns = 1500000000000000000LL };
		struct mg_put_final cf;

		hashes(data, 300000, &cf);
		if (r == MG_OK)
			r = mg_copy(c, "copy-src", "copy dst/\xe2\x82\xac", &ci, &cf, &res);
		if (r == MG_OK)
			r = c->ops->stat(c, "copy dst/\xe2\x82\xac", &st);
		check(r == MG_OK && st.mtime_ns == ci.mtime_ns && strcmp(st.sha256, cf.sha256) == 0,
		      "CopyObject replaces the metadata", "%d %lld %s", r, (long long)st.mtime_ns,
		      c->err.msg);
	}
	r = mg_copy(c, "copy-src", "copy-meta-kept", NULL, NULL, &res);
	check(r == MG_OK && c->ops->stat(c, "copy-meta-kept", &st) == MG_OK &&
	      st.mtime_ns == 1700000000123456789LL,
	      "CopyObject without info keeps the source metadata", "%d %s", r, c->err.msg);

	tune.copy_threshold = 6u << 20;
	tune.copy_part_size = 5u << 20;
	s3_conn_tune(c, &tune);
	r = mg_copy(c, key, "mp/copied-by-parts", &info, &fin, &res);
	check(r == MG_OK && strstr(res.etag, "-3"),
	      "copy above the threshold goes by UploadPartCopy (3 parts)", "%d %s '%s'",
	      r, c->err.msg, res.etag);
	r = get(c, "mp/copied-by-parts", 0, UINT64_MAX, &back, &got);
	check(r == MG_OK && got == total && memcmp(back, data, total) == 0,
	      "part-copied object reads back byte-identical", "%d %zu", r, got);
	free(back);


	/* a presigned URL works for a plain client */
	{
		char *url = s3_presign_get(c, "copy-src", 300);
		CURL *h = curl_easy_init();
		FILE *f = tmpfile();
		long status = 0, size;

		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
		r = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		size = ftell(f);
		check(r == 0 && status == 200 && size == 300000, "presigned GET url",
		      "curl %d http %ld size %ld", r, status, size);
		fclose(f);
		curl_easy_cleanup(h);
		free(url);
	}
	free(data);
}

/* SSE-C: the key goes with every request that touches the bytes. */
static void suite_sse_c(const char *bucket, const char *prefix)
{
	static unsigned char data[300000];
	unsigned char key[32], *back;
	char b64[64];
	struct mg_endpoint ep;
	struct mg_conn c, plain;
	struct mg_entry st;
	struct mg_put_result res;
	struct mg_put_final fin;
	struct mg_part part;
	char id[512];
	size_t got;
	int r;

	fill(key, sizeof(key), 1234);
	s3_base64(key, sizeof(key), b64, sizeof(b64));
	setenv("MG_TEST_SSE_C_KEY", b64, 1);
	ep_from_env(&ep, bucket, prefix);
	OPT(ep)->sse_c_key_env = "MG_TEST_SSE_C_KEY";
	r = mg_conn_open(&c, s3(), &ep, NULL, MG_OPEN_SOURCE | MG_OPEN_TARGET);
	check(r == MG_OK, "sse-c: open", "%s", c.err.msg);
	if (r != MG_OK)
		return;
	fill(data, sizeof(data), 77);
	r = put(&c, "enc", data, sizeof(data), NULL);
	check(r == MG_OK, "sse-c: put", "%s", c.err.msg);
	hashes(data, sizeof(data), &fin);
	r = c.ops->stat(&c, "enc", &st);
	check(r == MG_OK && st.size == sizeof(data) && strcmp(st.sha256, fin.sha256) == 0,
	      "sse-c: stat with the key", "%d %s", r, c.err.msg);
	r = get(&c, "enc", 1000, 5000, &back, &got);
	check(r == MG_OK && got == 5000 && memcmp(back, data + 1000, got) == 0,
	      "sse-c: ranged read with the key", "%d %zu %s", r, got, c.err.msg);
	free(back);
	/* AWS copies SSE-C objects; RGW 16 answers 501 NotImplemented, which
	 * must fail the object at once, not be retried */
	r = mg_copy(&c, "enc", "enc-copy", NULL, NULL, &res);
	if (r == MG_OK) {
		r = get(&c, "enc-copy", 0, UINT64_MAX, &back, &got);
		check(r == MG_OK && got == sizeof(data) && memcmp(back, data, got) == 0,
		      "sse-c: CopyObject with source and target key", "%d %s", r, c.err.msg);
		free(back);
	} else {
		check(r == MG_FAILED && strstr(c.err.msg, "NotImplemented") &&
		      s3_conn_retries(&c) == 0,
		      "sse-c: CopyObject refused as NotImplemented fails without retries",
		      "%d %s", r, c.err.msg);
		mg_error_clear(&c.err);
	}
	r = c.ops->mp_create(&c, "enc-mp", NULL, &fin, id, sizeof(id));
	memset(&part, 0, sizeof(part));
	part.number = 1;
	if (r == MG_OK)
		r = c.ops->mp_upload_part(&c, "enc-mp", id, &part, data, sizeof(data));
	if (r == MG_OK)
		r = c.ops->mp_complete(&c, "enc-mp", id, &part, 1, &res);
	if (r == MG_OK)
		r = get(&c, "enc-mp", 0, UINT64_MAX, &back, &got);
	check(r == MG_OK && got == sizeof(data) && memcmp(back, data, got) == 0,
	      "sse-c: multipart upload and read back", "%d %s", r, c.err.msg);
	if (r == MG_OK)
		free(back);

	/* without the key the object cannot be read */
	OPT(ep)->sse_c_key_env = NULL;
	r = mg_conn_open(&plain, s3(), &ep, NULL, MG_OPEN_SOURCE);
	if (r == MG_OK)
		r = get(&plain, "enc", 0, UINT64_MAX, &back, &got);
	check(r == MG_FAILED && plain.err.remote_code == 400,
	      "sse-c: reading without the key fails", "%d %s", r, plain.err.msg);
	mg_conn_close(&plain);
	mg_conn_close(&c);

	/* a key variable that is not set is a fatal plan error, named */
	unsetenv("MG_TEST_SSE_C_KEY");
	OPT(ep)->sse_c_key_env = "MG_TEST_SSE_C_KEY";
	r = mg_conn_open(&c, s3(), &ep, NULL, MG_OPEN_SOURCE);
	check(r == MG_FATAL && strstr(c.err.msg, "'MG_TEST_SSE_C_KEY' is not set"),
	      "sse-c: unset key variable is fatal", "%d %s", r, c.err.msg);
	mg_conn_close(&c);
}

static int suite(const char *bucket)
{
	char prefix[64];
	struct mg_endpoint ep;
	struct mg_conn c;
	struct mg_counters cnt = { .bytes_read = 0 };
	int r;

	suite_errors(bucket);
	snprintf(prefix, sizeof(prefix), "suite-%d", (int)getpid());
	ep_from_env(&ep, bucket, prefix);
	r = mg_conn_open(&c, s3(), &ep, &cnt, MG_OPEN_TARGET | MG_OPEN_SOURCE);
	check(r == MG_OK, "open", "%s", c.err.msg);
	if (r != MG_OK)
		return 1;
	suite_objects(&c);
	suite_ranges(&c);
	suite_verify(&c);
	suite_multipart(&c);
	suite_batch(&c);
	/* what the calls above issue: 3 parts, 2 creates (one by parts
	 * copied), 2 CopyObject + 3 UploadPartCopy, 2 ListParts pages
	 * (aborts are the conformance suite's) */
	check(cnt.req[MG_REQ_GET] > 0 && cnt.req[MG_REQ_HEAD] > 0 && cnt.req[MG_REQ_MP_PART] >= 3 &&
	      cnt.req[MG_REQ_MP_CREATE] >= 2 && cnt.req[MG_REQ_COPY] >= 5 &&
	      cnt.req[MG_REQ_MP_LIST] >= 2 && cnt.bytes_read > 0, "requests counted by class",
	      "get %llu head %llu part %llu create %llu copy %llu mp_list %llu",
	      (unsigned long long)cnt.req[MG_REQ_GET], (unsigned long long)cnt.req[MG_REQ_HEAD],
	      (unsigned long long)cnt.req[MG_REQ_MP_PART],
	      (unsigned long long)cnt.req[MG_REQ_MP_CREATE], (unsigned long long)cnt.req[MG_REQ_COPY],
	      (unsigned long long)cnt.req[MG_REQ_MP_LIST]);
	mg_conn_close(&c);
	/* SSE-C over plain http: refused before any request */
	{
		unsigned char key[32];
		char b64[64];

		fill(key, sizeof(key), 4321);
		s3_base64(key, sizeof(key), b64, sizeof(b64));
		setenv("MG_TEST_SSE_C_KEY", b64, 1);
		ep_from_env(&ep, bucket, prefix);
		OPT(ep)->sse_c_key_env = "MG_TEST_SSE_C_KEY";
		r = mg_conn_open(&c, s3(), &ep, &cnt, MG_OPEN_SOURCE | MG_OPEN_TARGET);
		if (strncmp(OPT(ep)->endpoint, "http://", 7) == 0)
			check(r == MG_FATAL && strstr(c.err.msg, "sse_c_key_env 'MG_TEST_SSE_C_KEY'") &&
			      strstr(c.err.msg, "https") && !strstr(c.err.msg, b64),
			      "sse-c over http is refused at open, naming sse_c_key_env",
			      "%d %s", r, c.err.msg);
		mg_conn_close(&c);
		unsetenv("MG_TEST_SSE_C_KEY");
	}
	strcat(prefix, "-paging");
	suite_paging(bucket, prefix);
	return failures ? 1 : 0;
}

/*
 * Through a proxy that answers 503 SlowDown and cuts answers in the
 * middle of their bodies: every object must still arrive whole, by the
 * connector's own retries.
 */
static int stress(const char *bucket)
{
	enum { N = 40 };
	const size_t psz = 5u << 20, total = 2 * psz + 777;
	struct mg_endpoint ep;
	struct mg_conn c;
	struct mg_counters cnt = { .bytes_read = 0 };
	struct s3_tune tune = { 0 };
	unsigned char *data = malloc(total), *back;
	char prefix[64], key[64], id[512];
	const char *keys[N + 1];
	struct mg_part parts[3];
	struct mg_put_info info = { .size = total, .mtime_ns = 0 };
	struct mg_put_final fin;
	struct mg_put_result res;
	char **listed;
	size_t got, n;
	int r, ok = 1, refused = 0;

	snprintf(prefix, sizeof(prefix), "stress-%d", (int)getpid());
	ep_from_env(&ep, bucket, prefix);
	r = mg_conn_open(&c, s3(), &ep, &cnt, MG_OPEN_SOURCE | MG_OPEN_TARGET);
	check(r == MG_OK, "open through the proxy", "%s", c.err.msg);
	if (r != MG_OK)
		return 1;
	tune.backoff_ms = 10;
	tune.read_chunk = 1u << 20;	/* many GETs per big object */
	s3_conn_tune(&c, &tune);
	fill(data, total, 5);
	for (int i = 0; i < N && ok; i++) {
		snprintf(key, sizeof(key), "small/%02d", i);
		keys[i] = mg_strdup(key);
		r = put(&c, key, data + i, (size_t)i * 1500, NULL);
		ok = r == MG_OK;
	}
	check(ok, "40 small PUTs complete", "%s", c.err.msg);
	hashes(data, total, &fin);
	r = c.ops->mp_create(&c, "big", &info, &fin, id, sizeof(id));
	memset(parts, 0, sizeof(parts));
	for (int i = 0; i < 3 && r == MG_OK; i++) {
		size_t off = (size_t)i * psz;

		parts[i].number = i + 1;
		r = c.ops->mp_upload_part(&c, "big", id, &parts[i], data + off,
					  total - off < psz ? total - off : psz);
	}
	if (r == MG_OK)
		r = c.ops->mp_complete(&c, "big", id, parts, 3, &res);
	check(r == MG_OK, "multipart upload completes", "%d %s", r, c.err.msg);
	keys[N] = "big";

	ok = 1;
	for (int i = 0; i < N && ok; i++) {
		r = get(&c, keys[i], 0, UINT64_MAX, &back, &got);
		ok = r == MG_OK && got == (size_t)i * 1500 && memcmp(back, data + i, got) == 0;
		free(back);
	}
	check(ok, "40 small objects read back byte-identical", "%d %s", r, c.err.msg);
	r = get(&c, "big", 0, UINT64_MAX, &back, &got);
	check(r == MG_OK && got == total && memcmp(back, data, total) == 0,
	      "multipart object read back byte-identical in 1 MiB ranges", "%d %zu %s",
	      r, got, c.err.msg);
	free(back);
	r = list_many(&c, NULL, &listed, &n);
	check(r == MG_DONE && n == N + 1, "listing is complete", "%d %zu %s", r, n, c.err.msg);
	free_keys(listed, n);
	r = s3_delete_batch(&c, keys, N + 1, deleted_cb, &refused);
	check(r == MG_OK && refused == 0, "batch delete", "%d %s", r, c.err.msg);
	check(cnt.retries == s3_conn_retries(&c), "retries reach the endpoint's counters",
	      "%llu != %llu", (unsigned long long)cnt.retries,
	      (unsigned long long)s3_conn_retries(&c));
	printf("# retries: %llu\n", (unsigned long long)s3_conn_retries(&c));
	printf("retries %llu\n", (unsigned long long)s3_conn_retries(&c));
	for (int i = 0; i < N; i++)
		free((char *)keys[i]);
	free(data);
	mg_conn_close(&c);
	return failures ? 1 : 0;
}


/* ---- resume: ListParts on a new conn gives back the parts sent ---- */

static int cmd_resume(const char *bucket)
{
	const size_t psz = 5u << 20, total = 2 * psz + 4321;
	unsigned char *data = malloc(total), *back;
	struct mg_put_info info = { .size = total, .mtime_ns = 0 };
	struct mg_put_final fin;
	struct mg_put_result res;
	struct mg_part parts[3];
	struct parts_seen seen = { .n = 0 };
	struct mg_endpoint ep;
	struct mg_conn c, c2;
	struct mg_counters cnt = { .bytes_read = 0 };
	char prefix[64], id[512];
	size_t got;
	int r, ok;

	snprintf(prefix, sizeof(prefix), "resume-%d", (int)getpid());
	ep_from_env(&ep, bucket, prefix);
	if (mg_conn_open(&c, s3(), &ep, NULL, MG_OPEN_SOURCE | MG_OPEN_TARGET) != MG_OK) {
		check(0, "resume: open", "%s", c.err.msg);
		return 1;
	}
	fill(data, total, 2024);
	hashes(data, total, &fin);
	r = c.ops->mp_create(&c, "obj", &info, &fin, id, sizeof(id));
	memset(parts, 0, sizeof(parts));
	for (int i = 0; i < 2 && r == MG_OK; i++) {
		parts[i].number = i + 1;
		r = c.ops->mp_upload_part(&c, "obj", id, &parts[i], data + (size_t)i * psz, psz);
	}
	check(r == MG_OK, "resume: create and send 2 of 3 parts", "%d %s", r, c.err.msg);
	mg_conn_close(&c);	/* the run dies here */

	/* the next run: a new conn asks what the server holds */
	if (mg_conn_open(&c2, s3(), &ep, &cnt, MG_OPEN_SOURCE | MG_OPEN_TARGET) != MG_OK) {
		check(0, "resume: open again", "%s", c2.err.msg);
		return 1;
	}
	r = c2.ops->mp_list_parts(&c2, "obj", id, part_cb, &seen);
	ok = r == MG_OK && seen.n == 2;
	for (int i = 0; ok && i < 2; i++)
		ok = seen.p[i].number == i + 1 && seen.p[i].size == psz &&
		     strcmp(seen.p[i].etag, parts[i].etag) == 0;
	check(ok, "resume: ListParts gives back both parts with their ETags",
	      "r=%d n=%d %s", r, seen.n, c2.err.msg);
	/* reuse them: only the third part goes out again */
	memset(&parts[2], 0, sizeof(parts[2]));
	parts[2].number = 3;
	for (int i = 0; i < 2 && ok; i++)
		parts[i] = seen.p[i];
	if (ok)
		r = c2.ops->mp_upload_part(&c2, "obj", id, &parts[2], data + 2 * psz, total - 2 * psz);
	if (ok && r == MG_OK)
		r = c2.ops->mp_complete(&c2, "obj", id, parts, 3, &res);
	check(ok && r == MG_OK && cnt.req[MG_REQ_MP_PART] == 1,
	      "resume: completes reusing the 2 listed parts (1 part sent)",
	      "%d %s parts sent %llu", r, c2.err.msg, (unsigned long long)cnt.req[MG_REQ_MP_PART]);
	r = get(&c2, "obj", 0, UINT64_MAX, &back, &got);
	check(r == MG_OK && got == total && memcmp(back, data, total) == 0,
	      "resume: the object reads back byte-identical", "%d %zu %s", r, got, c2.err.msg);
	free(back);
	c2.ops->remove(&c2, "obj");
	mg_conn_close(&c2);
	free(data);
	return failures ? 1 : 0;
}

/* ---- conditional copies (the dedupe precondition) ---- */

struct upl_key {
	const char *key;
	int found;
};

static int upl_key_cb(void *arg, const struct mg_upload *u)
{
	struct upl_key *k = arg;

	if (strcmp(u->key, k->key) == 0)
		k->found++;
	return 0;
}

static int cmd_precond(const char *bucket)
{
	const size_t big = 11u << 20;
	unsigned char *data = malloc(big + 1), *back;
	struct mg_endpoint ep;
	struct mg_conn c;
	struct mg_put_result res, orig;
	struct mg_put_final fin;
	struct mg_entry st;
	struct s3_tune tune = { 0 };
	struct upl_key uk = { "mp-dst", 0 };
	char prefix[64], stale[80];
	size_t got;
	int r;

	snprintf(prefix, sizeof(prefix), "precond-%d", (int)getpid());
	ep_from_env(&ep, bucket, prefix);
	if (mg_conn_open(&c, s3(), &ep, NULL, MG_OPEN_SOURCE | MG_OPEN_TARGET) != MG_OK) {
		check(0, "precond: open", "%s", c.err.msg);
		return 1;
	}
	fill(data, big + 1, 11);
	r = put(&c, "src", data, 200000, &orig);
	check(r == MG_OK && orig.etag[0], "precond: put the source", "%d %s", r, c.err.msg);
	hashes(data, 200000, &fin);
	{
		struct mg_put_info ci = { .size = 200000, .copy_if_match = orig.etag };

		r = mg_copy(&c, "src", "dst-ok", &ci, &fin, &res);
		check(r == MG_OK && strcasecmp(res.etag, orig.etag) == 0,
		      "precond: copy with the source's ETag works, same ETag back",
		      "%d %s '%s' '%s'", r, c.err.msg, res.etag, orig.etag);
		r = get(&c, "dst-ok", 0, UINT64_MAX, &back, &got);
		check(r == MG_OK && got == 200000 && memcmp(back, data, got) == 0,
		      "precond: the copy reads back", "%d %zu", r, got);
		free(back);
	}
	/* the source changes (same size, other bytes): the recorded ETag is stale */
	snprintf(stale, sizeof(stale), "%s", orig.etag);
	r = put(&c, "src", data + 1, 200000, NULL);
	{
		struct mg_put_info ci = { .size = 200000, .copy_if_match = stale };

		mg_error_clear(&c.err);
		r = mg_copy(&c, "src", "dst-stale", &ci, &fin, &res);
		check(r == MG_ABSENT && c.err.remote_code == 412 && c.err.status == MG_ABSENT &&
		      strstr(c.err.msg, "no longer has ETag") && strstr(c.err.msg, stale),
		      "precond: copy with a stale ETag is refused (MG_ABSENT, 412)",
		      "%d %d %ld %s", r, c.err.status, c.err.remote_code, c.err.msg);
		mg_error_clear(&c.err);
		check(c.ops->stat(&c, "dst-stale", &st) == MG_ABSENT,
		      "precond: nothing is written at the destination", "present");
	}
	/* above the CopyObject threshold: UploadPartCopy carries it too */
	r = put(&c, "big-src", data, big, &orig);
	tune.copy_threshold = 6u << 20;
	tune.copy_part_size = 5u << 20;
	s3_conn_tune(&c, &tune);
	{
		struct mg_put_info ci = { .size = big, .copy_if_match = orig.etag };

		hashes(data, big, &fin);
		r = mg_copy(&c, "big-src", "mp-dst-ok", &ci, &fin, &res);
		check(r == MG_OK, "precond: part copy with the right ETag works", "%d %s",
		      r, c.err.msg);
		r = put(&c, "big-src", data + 1, big, NULL);
		check(r == MG_OK, "precond: the big source changes", "%d %s", r, c.err.msg);
		mg_error_clear(&c.err);
		r = mg_copy(&c, "big-src", "mp-dst", &ci, &fin, &res);
		check(r == MG_ABSENT && c.err.remote_code == 412,
		      "precond: part copy with a stale ETag is refused (MG_ABSENT, 412)",
		      "%d %ld %s", r, c.err.remote_code, c.err.msg);
		mg_error_clear(&c.err);
		check(c.ops->stat(&c, "mp-dst", &st) == MG_ABSENT,
		      "precond: no object after the refused part copy", "present");
		r = c.ops->mp_list_uploads(&c, "", upl_key_cb, &uk);
		check(r == MG_OK && uk.found == 0, "precond: the refused part copy's upload is aborted",
		      "%d found %d", r, uk.found);
	}
	free(data);
	mg_conn_close(&c);
	return failures ? 1 : 0;
}

/* ---- SSE-C over https ---- */

static int cmd_ssec(const char *bucket)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "ssec-%d", (int)getpid());
	suite_sse_c(bucket, prefix);
	return failures ? 1 : 0;
}

/* ---- faults ---- */

/* Uploads big enough to be streamed (60 KiB and more) through a proxy
 * that resets the second request of every connection: curl resends on a
 * new connection, which needs the body rewound. */
static int cmd_resets(const char *bucket)
{
	enum { N = 6 };
	const size_t psz = 5u << 20, total = psz + 200000;
	unsigned char *data = malloc(total), *back;
	struct mg_endpoint ep;
	struct mg_conn c;
	struct mg_put_info info = { .size = total, .mtime_ns = 0 };
	struct mg_put_final fin;
	struct mg_put_result res;
	struct mg_part parts[2];
	char prefix[64], key[32], id[512];
	size_t got;
	int r, ok = 1;

	snprintf(prefix, sizeof(prefix), "resets-%d", (int)getpid());
	ep_from_env(&ep, bucket, prefix);
	if (mg_conn_open(&c, s3(), &ep, NULL, MG_OPEN_SOURCE | MG_OPEN_TARGET) != MG_OK) {
		check(0, "resets: open", "%s", c.err.msg);
		return 1;
	}
	fill(data, total, 65);
	for (int i = 0; i < N && ok; i++) {
		snprintf(key, sizeof(key), "put-%d", i);
		r = put(&c, key, data + i, 64 * 1024 + (size_t)i * 30000, NULL);
		ok = r == MG_OK;
	}
	check(ok, "resets: PUTs of 64 KiB and more survive reset connections", "%d %s",
	      r, c.err.msg);
	hashes(data, total, &fin);
	r = c.ops->mp_create(&c, "mp", &info, &fin, id, sizeof(id));
	memset(parts, 0, sizeof(parts));
	for (int i = 0; i < 2 && r == MG_OK; i++) {
		size_t off = (size_t)i * psz;

		parts[i].number = i + 1;
		r = c.ops->mp_upload_part(&c, "mp", id, &parts[i], data + off,
					  total - off < psz ? total - off : psz);
	}
	if (r == MG_OK)
		r = c.ops->mp_complete(&c, "mp", id, parts, 2, &res);
	check(r == MG_OK, "resets: a multipart upload survives reset connections", "%d %s",
	      r, c.err.msg);
	ok = 1;
	for (int i = 0; i < N && ok; i++) {
		snprintf(key, sizeof(key), "put-%d", i);
		r = get(&c, key, 0, UINT64_MAX, &back, &got);
		ok = r == MG_OK && got == 64 * 1024 + (size_t)i * 30000 &&
		     memcmp(back, data + i, got) == 0;
		free(back);
	}
	r = get(&c, "mp", 0, UINT64_MAX, &back, &got);
	check(ok && r == MG_OK && got == total && memcmp(back, data, total) == 0,
	      "resets: every object reads back byte-identical", "%d %zu %s", r, got, c.err.msg);
	/* curl resent each body itself on a new connection (rewound by the
	 * seek callback): no try of ours was needed.  Without the callback
	 * each such request failed with CURLE_SEND_FAIL_REWIND, final on
	 * the old code. */
	check(s3_conn_retries(&c) == 0, "resets: curl rewound and resent the bodies itself",
	      "%llu retries", (unsigned long long)s3_conn_retries(&c));
	free(back);
	free(data);
	mg_conn_close(&c);
	return failures ? 1 : 0;
}

static void on_term(int sig)
{
	(void)sig;
	mg_interrupted = 1;
}

/* A stat against a server that does not answer as it should; prints
 * the grade, the seconds it took and the message. */
static int cmd_fault(const char *bucket, int stall)
{
	struct mg_endpoint ep;
	struct mg_conn c;
	struct mg_entry st;
	struct s3_tune tune = { 0 };
	struct sigaction sa;
	int64_t t0;
	int r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	ep_from_env(&ep, bucket, NULL);
	/* no check at open: the first request is the one under test */
	if (mg_conn_open(&c, s3(), &ep, NULL, MG_OPEN_TARGET | MG_OPEN_NOCHECK) != MG_OK) {
		fprintf(stderr, "conformance s3: %s\n", c.err.msg);
		return 3;
	}
	if (stall) {
		/* 2 s of silence is a stall here (30 s in a run) */
		tune.stall_s = 2;
		s3_conn_tune(&c, &tune);
	}
	t0 = mg_mono_ns();
	r = c.ops->stat(&c, "some/key", &st);
	printf("grade %s after %.1f s: %s\n", mg_status_name(r),
	       (double)(mg_mono_ns() - t0) / 1e9, c.err.msg);
	mg_conn_close(&c);
	if (mg_interrupted)
		return 130;
	return r == MG_RETRY ? 0 : 1;
}

/* ---- the small tools for interop checks ---- */

static int open_or_die(struct mg_conn *c, const char *bucket, const char *prefix,
		       struct mg_endpoint *ep)
{
	ep_from_env(ep, bucket, prefix);
	if (mg_conn_open(c, s3(), ep, NULL, MG_OPEN_SOURCE | MG_OPEN_TARGET) != MG_OK) {
		fprintf(stderr, "conformance s3: %s\n", c->err.msg);
		exit(3);
	}
	return 0;
}

static int cmd_put(const char *bucket, const char *key, const char *file, size_t psz)
{
	struct mg_endpoint ep;
	struct mg_conn c;
	FILE *f = fopen(file, "rb");
	struct mg_buf b = MG_BUF_INIT;
	char tmp[65536];
	size_t n;
	int r;

	if (!f) {
		perror(file);
		return 1;
	}
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		mg_buf_add(&b, tmp, n);
	fclose(f);
	open_or_die(&c, bucket, NULL, &ep);
	if (!psz) {
		r = put(&c, key, b.buf ? b.buf : "", b.len, NULL);
	} else {
		struct mg_put_info info = { .size = b.len, .mtime_ns = 0 };
		struct mg_put_final fin;
		struct mg_part parts[64];
		struct mg_put_result res;
		char id[512];
		int np = 0;

		hashes(b.buf, b.len, &fin);
		r = c.ops->mp_create(&c, key, &info, &fin, id, sizeof(id));
		for (size_t off = 0; r == MG_OK && off < b.len && np < 64; off += psz, np++) {
			memset(&parts[np], 0, sizeof(parts[np]));
			parts[np].number = np + 1;
			r = c.ops->mp_upload_part(&c, key, id, &parts[np], b.buf + off,
						  b.len - off < psz ? b.len - off : psz);
		}
		if (r == MG_OK)
			r = c.ops->mp_complete(&c, key, id, parts, np, &res);
	}
	if (r != MG_OK)
		fprintf(stderr, "conformance s3: put: %s\n", c.err.msg);
	mg_buf_release(&b);
	mg_conn_close(&c);
	return r == MG_OK ? 0 : 1;
}

static int cmd_get(const char *bucket, const char *key, const char *file)
{
	struct mg_endpoint ep;
	struct mg_conn c;
	unsigned char *data;
	size_t got;
	FILE *f;
	int r;

	open_or_die(&c, bucket, NULL, &ep);
	r = get(&c, key, 0, UINT64_MAX, &data, &got);
	if (r != MG_OK) {
		fprintf(stderr, "conformance s3: get: %s\n", c.err.msg);
		mg_conn_close(&c);
		return 1;
	}
	f = fopen(file, "wb");
	if (!f || fwrite(data, 1, got, f) != got || fclose(f) != 0) {
		perror(file);
		r = MG_FAILED;
	}
	free(data);
	mg_conn_close(&c);
	return r == MG_OK ? 0 : 1;
}

/* Keys one a line; an error entry as "error: KEY: why". */
static int cmd_ls(const char *bucket, const char *prefix)
{
	struct mg_endpoint ep;
	struct mg_conn c;
	struct mg_lister *it;
	struct mg_entry e;
	int r;

	open_or_die(&c, bucket, prefix, &ep);
	r = mg_list_open(&c, NULL, &it);
	while (r == MG_OK && (r = c.ops->list_next(it, &e)) == MG_OK) {
		if (e.kind == MG_ENTRY_ERROR)
			printf("error: %s: %s\n", e.key, e.error);
		else
			printf("%s\n", e.key);
	}
	c.ops->list_close(it);
	if (r != MG_DONE)
		fprintf(stderr, "conformance s3: ls: %s\n", c.err.msg);
	mg_conn_close(&c);
	return r == MG_DONE ? 0 : 1;
}

int cf_tool_s3(int argc, char **argv)
{
	if (!getenv("MG_S3_ENDPOINT") || !getenv("MG_S3_ACCESS_KEY") ||
	    !getenv("MG_S3_SECRET_KEY")) {
		fprintf(stderr, "conformance s3: set MG_S3_ENDPOINT, MG_S3_ACCESS_KEY and MG_S3_SECRET_KEY "
			"(tools/lib/s3server.sh does)\n");
		return 2;
	}
	if (argc == 3 && strcmp(argv[1], "suite") == 0)
		return suite(argv[2]);
	if (argc == 3 && strcmp(argv[1], "stress") == 0)
		return stress(argv[2]);
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "put") == 0)
		return cmd_put(argv[2], argv[3], argv[4],
			       argc == 6 ? (size_t)strtoull(argv[5], NULL, 10) : 0);
	if (argc == 5 && strcmp(argv[1], "get") == 0)
		return cmd_get(argv[2], argv[3], argv[4]);
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "ls") == 0)
		return cmd_ls(argv[2], argc == 4 ? argv[3] : NULL);
	if (argc == 3 && strcmp(argv[1], "resume") == 0)
		return cmd_resume(argv[2]);
	if (argc == 3 && strcmp(argv[1], "precond") == 0)
		return cmd_precond(argv[2]);
	if (argc == 3 && strcmp(argv[1], "ssec") == 0)
		return cmd_ssec(argv[2]);
	if (argc == 3 && strcmp(argv[1], "resets") == 0)
		return cmd_resets(argv[2]);
	if (argc == 3 && strcmp(argv[1], "stall") == 0)
		return cmd_fault(argv[2], 1);
	if (argc == 3 && strcmp(argv[1], "wait") == 0)
		return cmd_fault(argv[2], 0);
	fprintf(stderr, "usage: conformance s3 suite BUCKET | stress BUCKET | "
		"put BUCKET KEY FILE [PART_SIZE] | "
		"get BUCKET KEY FILE | ls BUCKET [PREFIX] | resume|precond|ssec|resets|stall|wait BUCKET\n");
	return 2;
}
