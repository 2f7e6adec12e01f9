/*
 * fixture.c - the objects every connector must hold and give back, and
 * the small put/get/list helpers the cases share.
 *
 * An object's bytes are a function of its key (xorshift seeded by a hash
 * of the key), so a case checks any range of any object without a copy,
 * and a read-only connector (tar) is checked against an archive packed
 * from cf_fixture_write_dir() by another tool.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/evp.h>

#include "conformance.h"

/*
 * Keys chosen to break a connector that forgets an escaping rule: URL
 * and query syntax (? & # % + =), quotes for shells and XML, a tab, NFC
 * next to NFD, a 4-byte UTF-8 character, a long segment, and the order
 * trap 'd-e' < 'd.txt' < 'd/x' ('-' 0x2d, '.' 0x2e, '/' 0x2f): a walker
 * that lists a folder's children before its siblings gets it wrong.
 * No key is both an object and a folder, so file backends can hold them.
 */
const struct cf_object cf_fixture[] = {
	{ CF_BIG_KEY, 300000 },
	{ "empty", 0 },
	{ "d-e", 17 },
	{ "d.txt", 40 },
	{ "d/x", 3 },
	{ "d/y/z", 1000 },
	{ "with space/file name.txt", 123 },
	{ "\xc3\x9cn\xc3\xaf""c\xc3\xb6""d\xc3\xa9/\xe3\x83\x95\xe3\x82\xa1\xe3\x82\xa4\xe3\x83\xab.txt", 77 },
	{ "nf-\xc3\xa9", 5 },		/* é precomposed (NFC) */
	{ "nf-e\xcc\x81", 6 },		/* e + combining acute (NFD) */
	{ "emoji-\xf0\x9f\x98\x80", 9 },
	{ "q?x=1&y#frag", 11 },
	{ "pct%41%2F%zz", 12 },
	{ "plus+eq=semi;colon:comma,", 13 },
	{ "quote'dq\"tick`lt<gt>amp&", 14 },
	{ "tab\there", 15 },
	{ "~tilde!$()*", 16 },
	{ "trailing.", 18 },
	{ "UPPER", 19 },
	{ "lower", 20 },
	{ "long-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 21 },
	{ NULL, 0 }
};

static uint64_t key_seed(const char *key)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h | 1;
}

/* Byte i of the content is the low byte of a mix of the seed and i's
 * 8-byte block, so any offset is computed without the ones before it. */
void cf_content(const char *key, uint64_t off, void *buf, size_t n)
{
	uint64_t seed = key_seed(key);
	unsigned char *b = buf;

	for (size_t i = 0; i < n; i++) {
		uint64_t at = off + i, x = seed ^ ((at >> 3) * 0x9e3779b97f4a7c15ULL);

		x ^= x >> 31;
		x *= 0xbf58476d1ce4e5b9ULL;
		x ^= x >> 27;
		b[i] = (unsigned char)(x >> ((at & 7) * 8));
	}
}

unsigned char *cf_content_alloc(const char *key, size_t size)
{
	unsigned char *b = malloc(size ? size : 1);

	if (!b)
		abort();
	cf_content(key, 0, b, size);
	return b;
}

static void digest(const EVP_MD *md, const void *data, size_t len, unsigned char *out)
{
	unsigned int n;

	EVP_Digest(data, len, out, &n, md, NULL);
}

static void hex(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* The checks the engine computes while streaming and hands to commit (a
 * connector may have the server verify them: S3 signs the SHA-256). */
void cf_hashes(const void *data, size_t len, struct mg_put_final *fin)
{
	unsigned char sha[32];

	memset(fin, 0, sizeof(*fin));
	digest(EVP_sha256(), data, len, sha);
	hex(sha, sizeof(sha), fin->sha256);
	digest(EVP_md5(), data, len, fin->md5);
}

void cf_part_hash(const void *data, size_t len, struct mg_part *part)
{
	unsigned char sha[32];

	digest(EVP_sha256(), data, len, sha);
	hex(sha, sizeof(sha), part->sha256);
	digest(EVP_md5(), data, len, part->md5);
	part->size = len;
}

int cf_put(struct mg_conn *c, const char *key, const void *data, size_t len,
	   size_t chunk, struct mg_put_result *res)
{
	return cf_put_at(c, key, data, len, chunk, CF_MTIME_NS, res);
}

int cf_put_at(struct mg_conn *c, const char *key, const void *data, size_t len,
	      size_t chunk, int64_t mtime_ns, struct mg_put_result *res)
{
	struct mg_put_info info = { .size = len, .mtime_ns = mtime_ns };
	struct mg_put_final fin;
	struct mg_put_result ignored;
	struct mg_writer *w;
	int rc;

	cf_hashes(data, len, &fin);
	rc = mg_write_open(c, key, &info, &w);
	if (rc != MG_OK)
		return rc;
	for (size_t at = 0; at < len; at += chunk) {
		size_t n = len - at < chunk ? len - at : chunk;

		rc = c->ops->write(w, (const char *)data + at, n);
		if (rc != MG_OK) {
			c->ops->write_abort(w);
			return rc;
		}
	}
	memset(res ? res : &ignored, 0, sizeof(ignored));
	return c->ops->write_commit(w, &fin, res ? res : &ignored);
}

int cf_get(struct mg_conn *c, const char *key, uint64_t off, uint64_t len,
	   size_t chunk, unsigned char **out, size_t *got)
{
	struct mg_buf all = MG_BUF_INIT;
	unsigned char *buf = malloc(chunk);
	struct mg_reader *r;
	size_t g;
	int rc;

	rc = mg_read_open(c, key, off, len, &r);
	if (rc == MG_OK) {
		while ((rc = c->ops->read(r, buf, chunk, &g)) == MG_OK && g > 0)
			if (mg_buf_add(&all, buf, g) < 0)
				abort();
		c->ops->read_close(r);
	}
	free(buf);
	*got = all.len;
	*out = (unsigned char *)mg_buf_detach(&all);
	return rc;
}

static void keys_push(struct cf_keys *k, const char *key, uint64_t size)
{
	k->v = realloc(k->v, (k->n + 1) * sizeof(*k->v));
	k->size = realloc(k->size, (k->n + 1) * sizeof(*k->size));
	k->size[k->n] = size;
	k->v[k->n++] = strdup(key);
}

int cf_list(struct mg_conn *c, const char *start_after, struct cf_keys *out)
{
	struct mg_lister *it;
	struct mg_entry e;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = mg_list_open(c, start_after, &it);
	if (rc != MG_OK)
		return rc;
	while ((rc = c->ops->list_next(it, &e)) == MG_OK)
		if (e.kind == MG_ENTRY_FILE)
			keys_push(out, e.key, e.size);
		else
			out->others++;
	c->ops->list_close(it);
	return rc;
}

void cf_keys_release(struct cf_keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->v[i]);
	free(k->v);
	free(k->size);
	memset(k, 0, sizeof(*k));
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);	/* bytes, as memcmp */
}

void cf_fixture_sorted(struct cf_keys *out)
{
	memset(out, 0, sizeof(*out));
	for (const struct cf_object *o = cf_fixture; o->key; o++)
		keys_push(out, o->key, o->size);
	qsort(out->v, out->n, sizeof(*out->v), key_cmp);
	for (size_t i = 0; i < out->n; i++)	/* the sizes, in the new order */
		for (const struct cf_object *o = cf_fixture; o->key; o++)
			if (!strcmp(o->key, out->v[i]))
				out->size[i] = o->size;
}

static int write_file(const char *dir, const struct cf_object *o)
{
	char path[4096];
	unsigned char *data;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, o->key);
	for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (!(f = fopen(path, "wb")))
		return -1;
	data = cf_content_alloc(o->key, o->size);
	ok = fwrite(data, 1, o->size, f) == o->size;
	free(data);
	return fclose(f) == 0 && ok ? 0 : -1;
}

int cf_fixture_write_dir(const char *dir)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -1;
	for (const struct cf_object *o = cf_fixture; o->key; o++)
		if (write_file(dir, o) < 0) {
			fprintf(stderr, "cannot write '%s/%s': %s\n", dir, o->key, strerror(errno));
			return -1;
		}
	return 0;
}
