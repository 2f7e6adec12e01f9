/*
 * cases.c - what connector.h promises, checked case by case.
 *
 * Each case names the capabilities it needs; a connector without them
 * gets one SKIP line saying which flag is missing, never a silent pass.
 * The cases run in order and share the endpoint: the fixture goes in
 * first, the listings are checked before anything else is written, and
 * later cases write only under "zz-scratch/", which sorts last.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conformance.h"

#define SCRATCH "zz-scratch/"
/* S3's smallest part but the last; the double and others take it too. */
#define PART1 (5u << 20)

/* ---- small helpers ---------------------------------------------------- */

static int same_bytes(const char *key, uint64_t off, const unsigned char *got, size_t n)
{
	unsigned char *want = malloc(n ? n : 1);
	int same;

	cf_content(key, off, want, n);
	same = memcmp(want, got, n) == 0;
	free(want);
	return same;
}

static const struct cf_object *fixture_find(const char *key)
{
	for (const struct cf_object *o = cf_fixture; o->key; o++)
		if (!strcmp(o->key, key))
			return o;
	return NULL;
}

static void counters_delta(const struct mg_counters *before, const struct mg_counters *now,
			   struct mg_counters *d)
{
	for (int i = 0; i < MG_REQ__COUNT; i++)
		d->req[i] = now->req[i] - before->req[i];
	d->bytes_read = now->bytes_read - before->bytes_read;
	d->bytes_written = now->bytes_written - before->bytes_written;
}

/* "" when the request counts agree, else the classes that differ. */
static const char *req_diff(const struct mg_counters *want, const struct mg_counters *got)
{
	static char buf[512];
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < MG_REQ__COUNT && n < sizeof(buf) - 64; i++)
		if (want->req[i] != got->req[i])
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s predicted %llu, issued %llu; ",
					      mg_req_name((enum mg_req)i),
					      (unsigned long long)want->req[i],
					      (unsigned long long)got->req[i]);
	return buf;
}

static const char *cap_name(unsigned cap)
{
	switch (cap) {
	case MG_CAP_SOURCE: return "MG_CAP_SOURCE";
	case MG_CAP_TARGET: return "MG_CAP_TARGET";
	case MG_CAP_RANGE_READ: return "MG_CAP_RANGE_READ";
	case MG_CAP_MULTIPART: return "MG_CAP_MULTIPART";
	case MG_CAP_SERVER_COPY: return "MG_CAP_SERVER_COPY";
	case MG_CAP_DELETE: return "MG_CAP_DELETE";
	case MG_CAP_FILES: return "MG_CAP_FILES";
	default: return "a capability";
	}
}

/* 1 if the connector has caps (and a target conn when TARGET is asked);
 * else one SKIP line for name, naming the first missing flag. */
static int need(struct cf *s, unsigned caps, const char *name)
{
	char why[160];

	for (unsigned bit = 1; bit <= caps; bit <<= 1)
		if ((caps & bit) && !(s->ops->caps & bit)) {
			snprintf(why, sizeof(why), "'%s' has no %s", s->ops->scheme, cap_name(bit));
			cf_skip(name, why);
			return 0;
		}
	if ((caps & MG_CAP_SOURCE) && !s->has_src && s->src.ops) {
		cf_skip(name, "it did not open as a source");
		return 0;
	}
	if ((caps & MG_CAP_TARGET) && !s->has_dst) {
		cf_skip(name, "tested as a source only (--source)");
		return 0;
	}
	return 1;
}

/* ---- bugs known today --------------------------------------------------- */

/*
 * A connector that is known to lose one fixture key (rclone keeps such
 * lists per backend too).  A check that fails only because of that key
 * is reported as TODO-known with the reason; any other failure, or the
 * same check failing without the key, is a plain failure.  Remove an
 * entry when the bug is fixed: the check then passes as it stands.
 */
static const struct known {
	const char *scheme;
	const char *keys[3];	/* the keys it loses, NULL-terminated */
	const char *why;
} known[] = {
	{ "tar", { "nf-e\xcc\x81", "nf-\xc3\xa9", NULL },
	  "libarchive turns an NFD name into NFC when it reads the archive, so "
	  "'nf-e'+U+0301 and 'nf-'+U+00E9 become one key, the later entry wins "
	  "and the other is lost (the tar connector should keep the stored bytes)" },
};

static const struct known *known_for(const struct cf *s)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(known[i].scheme, s->ops->scheme))
			return &known[i];
	return NULL;
}

static void check_known(struct cf *s, const char *name,
			int (*fn)(struct cf *s, const char *const *drop, char *bad, size_t blen))
{
	const struct known *k = known_for(s);
	char bad[2048] = "", without[2048] = "";
	int ok = fn(s, NULL, bad, sizeof(bad));

	if (!ok && k && fn(s, k->keys, without, sizeof(without)))
		cf_known(0, name, k->why, "%s", bad);
	else
		cf_check(ok, name, "%s", bad);
}

/* ---- write, commit, read back ----------------------------------------- */

static void case_fixture(struct cf *s)
{
	char bad[2048] = "";
	size_t n = 0, failed = 0;

	if (!need(s, MG_CAP_TARGET, "write + commit the fixture"))
		return;
	for (const struct cf_object *o = cf_fixture; o->key; o++, n++) {
		unsigned char *data = cf_content_alloc(o->key, o->size);
		/* odd chunks: the connector sees writes that end mid-block */
		int rc = cf_put(&s->dst, o->key, data, o->size, 7001, NULL);

		free(data);
		if (rc != MG_OK && !failed++)
			snprintf(bad, sizeof(bad), "'%s': %s: %s", o->key, mg_status_name(rc),
				 s->dst.err.msg);
		mg_error_clear(&s->dst.err);
	}
	cf_check(!failed, "write + commit the fixture (hostile, Unicode, nested, empty keys)",
		 "%zu of %zu failed, first %s", failed, n, bad);
}

static void case_open_source(struct cf *s)
{
	int rc;

	if (!need(s, MG_CAP_SOURCE, "open as a source"))
		return;
	rc = mg_conn_open(&s->src, s->ops, s->ep, &s->counters, MG_OPEN_SOURCE);
	s->has_src = rc == MG_OK;
	cf_check(rc == MG_OK, "open as a source", "%s: %s", mg_status_name(rc), s->src.err.msg);
}

static void case_stat(struct cf *s)
{
	char bad[2048] = "";
	struct mg_entry e;

	if (!need(s, MG_CAP_TARGET, "stat gives each key and its size"))
		return;
	for (const struct cf_object *o = cf_fixture; o->key && !*bad; o++) {
		int rc = mg_stat(&s->dst, o->key, &e);

		if (rc != MG_OK || e.size != o->size || strcmp(e.key, o->key) != 0)
			snprintf(bad, sizeof(bad), "'%s': %s, size %llu, key '%s': %s", o->key,
				 mg_status_name(rc), (unsigned long long)e.size,
				 rc == MG_OK ? e.key : "", s->dst.err.msg);
	}
	cf_check(!*bad, "stat gives each key and its size", "%s", bad);
}

/* 1 if key is one of drop (NULL-terminated; drop itself may be NULL). */
static int dropped(const char *const *drop, const char *key)
{
	for (; drop && *drop; drop++)
		if (!strcmp(*drop, key))
			return 1;
	return 0;
}

/* Fills bad and returns 0 at the first object that does not read back;
 * drop: a fixture key to leave out (see check_known). */
static int read_back(struct cf *s, const char *const *drop, char *bad, size_t blen)
{
	for (const struct cf_object *o = cf_fixture; o->key; o++) {
		unsigned char *got;
		size_t n;
		int rc;

		if (dropped(drop, o->key))
			continue;
		rc = cf_get(&s->src, o->key, 0, UINT64_MAX, 65536, &got, &n);
		if (rc != MG_OK || n != o->size || !same_bytes(o->key, 0, got, n))
			snprintf(bad, blen, "'%s': %s, %zu of %zu bytes: %s", o->key,
				 mg_status_name(rc), n, o->size, s->src.err.msg);
		free(got);
		mg_error_clear(&s->src.err);
		if (*bad)
			return 0;
	}
	return 1;
}

static void case_read_back(struct cf *s)
{
	if (need(s, MG_CAP_SOURCE, "read back every object byte for byte"))
		check_known(s, "read back every object byte for byte", read_back);
}

/* read() may return fewer bytes than asked (a short read) and the caller
 * asks again; asking for 1 byte, or a size that is no power of two, must
 * still give the object whole, ending with MG_OK and *got == 0. */
static void case_short_reads(struct cf *s)
{
	static const size_t chunks[] = { 1, 4093 };
	char bad[2048] = "";

	if (!need(s, MG_CAP_SOURCE, "reads of 1 byte and of 4093 bytes give the object whole"))
		return;
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]) && !*bad; i++) {
		const char *key = chunks[i] == 1 ? "d/y/z" : CF_BIG_KEY;
		const struct cf_object *o = fixture_find(key);
		unsigned char *got;
		size_t n;
		int rc = cf_get(&s->src, key, 0, UINT64_MAX, chunks[i], &got, &n);

		if (rc != MG_OK || n != o->size || !same_bytes(key, 0, got, n))
			snprintf(bad, sizeof(bad), "'%s' in reads of %zu: %s, %zu bytes: %s", key,
				 chunks[i], mg_status_name(rc), n, s->src.err.msg);
		free(got);
	}
	cf_check(!*bad, "reads of 1 byte and of 4093 bytes give the object whole", "%s", bad);
}

/* ---- listing ------------------------------------------------------------ */

/* Leaves the keys in drop out of k. */
static void drop_keys(const char *const *drop, struct cf_keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		while (i < k->n && dropped(drop, k->v[i])) {
			free(k->v[i]);
			memmove(k->v + i, k->v + i + 1, (k->n - i - 1) * sizeof(*k->v));
			memmove(k->size + i, k->size + i + 1, (k->n - i - 1) * sizeof(*k->size));
			k->n--;
		}
}

/* The fixture's keys in byte order, without those in drop. */
static void expected_keys(const char *const *drop, struct cf_keys *k)
{
	cf_fixture_sorted(k);
	drop_keys(drop, k);
}

static int list_all(struct cf *s, const char *const *drop, char *bad, size_t blen)
{
	struct cf_keys want, got;
	int rc;

	expected_keys(drop, &want);
	rc = cf_list(&s->src, NULL, &got);
	drop_keys(drop, &got);
	if (rc != MG_DONE)
		snprintf(bad, blen, "listing ended with %s: %s", mg_status_name(rc), s->src.err.msg);
	for (size_t i = 0; !*bad && i < want.n && i < got.n; i++)
		if (strcmp(want.v[i], got.v[i]) != 0 || want.size[i] != got.size[i])
			snprintf(bad, blen, "entry %zu: wanted '%s' (%llu), got '%s' (%llu)", i,
				 want.v[i], (unsigned long long)want.size[i], got.v[i],
				 (unsigned long long)got.size[i]);
	if (!*bad && (want.n != got.n || got.others))
		snprintf(bad, blen, "%zu files and %zu other entries listed, wanted %zu files",
			 got.n, got.others, want.n);
	cf_keys_release(&want);
	cf_keys_release(&got);
	mg_error_clear(&s->src.err);
	return !*bad;
}

static void case_list(struct cf *s)
{
	const char *name = "listing: every key once, in byte order, with its size";

	if (need(s, MG_CAP_SOURCE, name))
		check_known(s, name, list_all);
}

/* start_after is exclusive and need not be a key: a folder's name, a
 * prefix of one, a name between two keys, past the last. */
static int list_after(struct cf *s, const char *const *drop, char *bad, size_t blen)
{
	static const char *const pivots[] = {
		"A", "UPPER", "big.bin", "d", "d-e", "d.txt", "d/", "d/x", "d/y",
		"emoji-", "lower", "tab\there", "\xc3\x9c", "zzz",
		"\xf4\x8f\xbf\xbf",	/* U+10FFFF: after every key, and UTF-8, as
					 * an object store's marker must be */
	};
	struct cf_keys all;

	expected_keys(drop, &all);
	for (size_t p = 0; p < sizeof(pivots) / sizeof(pivots[0]) && !*bad; p++) {
		struct cf_keys got;
		size_t first = 0;
		int rc = cf_list(&s->src, pivots[p], &got);

		drop_keys(drop, &got);
		while (first < all.n && strcmp(all.v[first], pivots[p]) <= 0)
			first++;
		if (rc != MG_DONE || got.n != all.n - first)
			snprintf(bad, blen, "after '%s': %s, %zu keys, wanted %zu: %s",
				 pivots[p], mg_status_name(rc), got.n, all.n - first, s->src.err.msg);
		for (size_t i = 0; !*bad && i < got.n; i++)
			if (strcmp(got.v[i], all.v[first + i]) != 0)
				snprintf(bad, blen, "after '%s': key %zu is '%s', wanted '%s'",
					 pivots[p], i, got.v[i], all.v[first + i]);
		cf_keys_release(&got);
		mg_error_clear(&s->src.err);
	}
	cf_keys_release(&all);
	return !*bad;
}

static void case_start_after(struct cf *s)
{
	const char *name = "start_after: exactly the keys after it (present, absent, folder names)";

	if (need(s, MG_CAP_SOURCE, name))
		check_known(s, name, list_after);
}

/* ---- ranges ------------------------------------------------------------- */

static int range_ok(struct cf *s, uint64_t off, uint64_t len, size_t want, char *bad, size_t blen)
{
	unsigned char *got;
	size_t n;
	int rc = cf_get(&s->src, CF_BIG_KEY, off, len, 65536, &got, &n);
	int ok = rc == MG_OK && n == want && same_bytes(CF_BIG_KEY, off, got, n);

	if (!ok)
		snprintf(bad, blen, "[%llu, +%llu): %s, %zu bytes, wanted %zu: %s",
			 (unsigned long long)off, (unsigned long long)len, mg_status_name(rc), n,
			 want, s->src.err.msg);
	free(got);
	mg_error_clear(&s->src.err);
	return ok;
}

static void case_ranges(struct cf *s)
{
	const uint64_t size = fixture_find(CF_BIG_KEY)->size;
	char bad[2048] = "";
	unsigned char *got;
	size_t n;
	int rc;

	if (!need(s, MG_CAP_SOURCE | MG_CAP_RANGE_READ, "ranged reads give exactly the range"))
		return;
	(void)(range_ok(s, 0, 1, 1, bad, sizeof(bad)) &&
	       range_ok(s, 10, 100, 100, bad, sizeof(bad)) &&
	       range_ok(s, 123457, 2 * 65536 + 3, 2 * 65536 + 3, bad, sizeof(bad)) &&
	       range_ok(s, size - 5, UINT64_MAX, 5, bad, sizeof(bad)) &&
	       range_ok(s, size - 5, 5, 5, bad, sizeof(bad)));
	cf_check(!*bad, "ranged reads give exactly the range (first byte, middle, suffix, last bytes)",
		 "%s", bad);
	(void)(range_ok(s, 500, 0, 0, bad, sizeof(bad)) &&
	       range_ok(s, size, UINT64_MAX, 0, bad, sizeof(bad)));
	cf_check(!*bad, "a zero-length range and a read from the end give 0 bytes", "%s", bad);

	/* the contract: a read that ends short of the range is MG_FAILED */
	rc = cf_get(&s->src, CF_BIG_KEY, size - 10, 100, 65536, &got, &n);
	cf_check(rc == MG_FAILED && strstr(s->src.err.msg, "truncated"),
		 "a range past the end is truncated (MG_FAILED)", "%s, %zu bytes: %s",
		 mg_status_name(rc), n, s->src.err.msg);
	free(got);
	mg_error_clear(&s->src.err);
}

/* ---- absent keys -------------------------------------------------------- */

static void case_absent(struct cf *s)
{
	struct mg_entry e;
	struct mg_reader *r;
	int rc;

	if (need(s, MG_CAP_TARGET, "stat of an absent key is MG_ABSENT")) {
		rc = mg_stat(&s->dst, "no/such/key", &e);
		cf_check(rc == MG_ABSENT, "stat of an absent key is MG_ABSENT", "%s: %s",
			 mg_status_name(rc), s->dst.err.msg);
		mg_error_clear(&s->dst.err);
	}
	if (need(s, MG_CAP_SOURCE, "read of an absent key fails that object only")) {
		rc = mg_read_open(&s->src, "no/such/key", 0, UINT64_MAX, &r);
		if (rc == MG_OK)
			s->ops->read_close(r);
		cf_check((rc == MG_FAILED || rc == MG_ABSENT) && s->src.err.msg[0],
			 "read of an absent key fails that object only (MG_FAILED, a message)",
			 "%s: '%s'", mg_status_name(rc), s->src.err.msg);
		mg_error_clear(&s->src.err);
	}
	if (need(s, MG_CAP_TARGET | MG_CAP_DELETE, "remove of an absent key is MG_OK")) {
		rc = mg_remove(&s->dst, "no/such/key");
		cf_check(rc == MG_OK, "remove of an absent key is MG_OK", "%s: %s",
			 mg_status_name(rc), s->dst.err.msg);
		mg_error_clear(&s->dst.err);
	}
}

/* ---- abort, overwrite, remove ------------------------------------------ */

static void case_abort(struct cf *s)
{
	unsigned char data[3000];
	struct mg_put_info info = { .size = 2 * sizeof(data) };
	struct cf_keys before, after;
	struct mg_writer *w;
	struct mg_entry e;
	int rc, rc_list = MG_DONE;

	if (!need(s, MG_CAP_TARGET, "abort leaves nothing under the key"))
		return;
	if (s->has_src)
		cf_list(&s->src, NULL, &before);
	cf_content(SCRATCH "aborted", 0, data, sizeof(data));
	rc = mg_write_open(&s->dst, SCRATCH "aborted", &info, &w);
	if (rc == MG_OK) {
		rc = s->ops->write(w, data, sizeof(data));
		s->ops->write_abort(w);
	}
	cf_check(rc == MG_OK, "a writer takes bytes, then abort", "%s: %s", mg_status_name(rc),
		 s->dst.err.msg);
	rc = mg_stat(&s->dst, SCRATCH "aborted", &e);
	cf_check(rc == MG_ABSENT, "abort leaves nothing under the key", "stat: %s",
		 mg_status_name(rc));
	if (!s->has_src)
		return;
	rc_list = cf_list(&s->src, NULL, &after);
	cf_check(rc_list == MG_DONE && after.n == before.n && !after.others,
		 "abort leaves nothing in the listing (no temporary, no partial object)",
		 "%zu entries before, %zu + %zu after (%s)", before.n, after.n, after.others,
		 mg_status_name(rc_list));
	cf_keys_release(&before);
	cf_keys_release(&after);
}

static void case_overwrite_remove(struct cf *s)
{
	const char *key = SCRATCH "over";
	unsigned char *a = cf_content_alloc("first", 5000), *b = cf_content_alloc(key, 70);
	unsigned char *got = NULL;
	struct mg_entry e;
	size_t n = 0;
	int rc;

	if (!need(s, MG_CAP_TARGET, "a put over an object replaces it whole"))
		goto out;
	rc = cf_put(&s->dst, key, a, 5000, 65536, NULL);
	if (rc == MG_OK)
		rc = cf_put(&s->dst, key, b, 70, 65536, NULL);
	if (rc == MG_OK && s->has_src)
		rc = cf_get(&s->src, key, 0, UINT64_MAX, 65536, &got, &n);
	cf_check(rc == MG_OK && (!s->has_src || (n == 70 && same_bytes(key, 0, got, n))),
		 "a put over an object replaces it whole", "%s, %zu bytes: %s %s",
		 mg_status_name(rc), n, s->dst.err.msg, s->src.err.msg);
	if (!need(s, MG_CAP_DELETE, "remove deletes"))
		goto out;
	rc = mg_remove(&s->dst, key);
	cf_check(rc == MG_OK && mg_stat(&s->dst, key, &e) == MG_ABSENT, "remove deletes",
		 "%s: %s", mg_status_name(rc), s->dst.err.msg);
out:
	free(a);
	free(b);
	free(got);
	mg_error_clear(&s->dst.err);
	mg_error_clear(&s->src.err);
}

/* The ETag the listing gives key ("" if none, or not listed). */
static void listed_etag(struct cf *s, const char *key, char out[80])
{
	struct mg_lister *it;
	struct mg_entry e;

	out[0] = '\0';
	if (mg_list_open(&s->src, NULL, &it) != MG_OK)
		return;
	while (s->ops->list_next(it, &e) == MG_OK)
		if (!strcmp(e.key, key)) {
			snprintf(out, 80, "%s", e.etag);
			break;
		}
	s->ops->list_close(it);
}

/* The ETag a commit reports is the one the listing (and stat, for a
 * connector with MG_CAP_NATIVE_HASH) gives, so a later run compares
 * without reading the bytes, and a dedupe copy can be made conditional
 * on it (copy_if_match). */
static void case_etag(struct cf *s)
{
	const char *key = SCRATCH "etag";
	unsigned char *data = cf_content_alloc(key, 999);
	struct mg_put_result res;
	struct mg_entry e;
	char listed[80] = "";
	int rc;

	if (!need(s, MG_CAP_TARGET | MG_CAP_SOURCE, "the ETag of a commit is the one the listing (and a native stat) gives"))
		goto out;
	rc = cf_put(&s->dst, key, data, 999, 65536, &res);
	if (rc != MG_OK) {
		cf_check(0, "the ETag of a commit is the one the listing (and a native stat) gives",
			 "%s: %s", mg_status_name(rc), s->dst.err.msg);
		goto out;
	}
	if (!res.etag[0]) {
		cf_skip("the ETag of a commit is the one the listing (and a native stat) gives",
			"the commit reports no ETag");
		goto out;
	}
	listed_etag(s, key, listed);
	/* stat need not carry one without MG_CAP_NATIVE_HASH (local: the
	 * listing's ETag comes from the walk's stat, stat() answers size) */
	rc = mg_stat(&s->dst, key, &e);
	cf_check(rc == MG_OK && !strcmp(listed, res.etag) &&
		 (!strcmp(e.etag, res.etag) || (!e.etag[0] && !mg_conn_has(&s->dst, MG_CAP_NATIVE_HASH))),
		 "the ETag of a commit is the one the listing (and a native stat) gives",
		 "commit '%s', stat '%s', listing '%s'", res.etag, rc == MG_OK ? e.etag : "?", listed);
out:
	free(data);
	mg_error_clear(&s->dst.err);
}

/* ---- server-side copy -------------------------------------------------- */

static void case_copy(struct cf *s)
{
	const struct cf_object *o = fixture_find("d/y/z");
	unsigned char *data = cf_content_alloc(o->key, o->size), *got = NULL;
	struct mg_put_info info = { .size = o->size };
	struct mg_put_result res;
	struct mg_put_final fin;
	struct mg_entry e;
	char etag[80];
	size_t n = 0;
	int rc;

	if (!need(s, MG_CAP_TARGET | MG_CAP_SERVER_COPY | MG_CAP_SOURCE, "server-side copy"))
		goto out;
	cf_hashes(data, o->size, &fin);
	rc = mg_copy(&s->dst, o->key, SCRATCH "copy", &info, &fin, &res);
	if (rc == MG_OK && s->has_src)
		rc = cf_get(&s->src, SCRATCH "copy", 0, UINT64_MAX, 65536, &got, &n);
	cf_check(rc == MG_OK && (!s->has_src || (n == o->size && same_bytes(o->key, 0, got, n))),
		 "server-side copy: the new key holds the source's bytes", "%s, %zu bytes: %s",
		 mg_status_name(rc), n, s->dst.err.msg);
	mg_error_clear(&s->dst.err);

	/* a dedupe copy names the ETag the journal knows: still the same */
	listed_etag(s, o->key, etag);
	if (!etag[0]) {
		cf_skip("a copy whose copy_if_match still holds is made", "the listing gives no ETag");
	} else {
		info.copy_if_match = etag;
		rc = mg_copy(&s->dst, o->key, SCRATCH "copy-match", &info, &fin, &res);
		cf_check(rc == MG_OK && mg_stat(&s->dst, SCRATCH "copy-match", &e) == MG_OK &&
			 e.size == o->size, "a copy whose copy_if_match still holds is made",
			 "%s: %s", mg_status_name(rc), s->dst.err.msg);
		mg_error_clear(&s->dst.err);
	}

	/* the source changed since the journal took its ETag (same size,
	 * other bytes, a later mtime): the copy must not take bytes the
	 * engine never saw */
	rc = cf_put(&s->dst, SCRATCH "changing", data, o->size, 65536, NULL);
	listed_etag(s, SCRATCH "changing", etag);
	data[0] ^= 1;
	if (rc == MG_OK)
		rc = cf_put_at(&s->dst, SCRATCH "changing", data, o->size, 65536,
			       CF_MTIME_NS + 1000000000, NULL);
	info.copy_if_match = etag;
	if (rc == MG_OK)
		rc = mg_copy(&s->dst, SCRATCH "changing", SCRATCH "copy-stale", &info, &fin, &res);
	cf_check(rc == MG_ABSENT && s->dst.err.remote_code == 412 &&
		 mg_stat(&s->dst, SCRATCH "copy-stale", &e) == MG_ABSENT,
		 "a copy whose source changed since its ETag was taken is MG_ABSENT (412), nothing written",
		 "%s, remote %ld: %s", mg_status_name(rc), s->dst.err.remote_code, s->dst.err.msg);
	mg_error_clear(&s->dst.err);

	info.copy_if_match = NULL;
	rc = mg_copy(&s->dst, "no/such/key", SCRATCH "copy-absent", &info, &fin, &res);
	cf_check(rc != MG_OK && rc != MG_FATAL &&
		 mg_stat(&s->dst, SCRATCH "copy-absent", &e) == MG_ABSENT,
		 "a copy of an absent key fails that object and writes nothing", "%s: %s",
		 mg_status_name(rc), s->dst.err.msg);
out:
	free(data);
	free(got);
	mg_error_clear(&s->dst.err);
}

/* ---- multipart ----------------------------------------------------------- */

struct seen {
	const char *key, *id;
	int found;
	struct mg_part parts[4];
	int nparts;
};

static int part_seen(void *arg, const struct mg_part *p)
{
	struct seen *sn = arg;

	if (sn->nparts < 4)
		sn->parts[sn->nparts] = *p;
	sn->nparts++;
	return 0;
}

static int upload_seen(void *arg, const struct mg_upload *u)
{
	struct seen *sn = arg;

	if (!strcmp(u->key, sn->key) && !strcmp(u->upload_id, sn->id))
		sn->found = 1;
	return 0;
}

static int upload_listed(struct cf *s, const char *key, const char *id)
{
	struct seen sn = { .key = key, .id = id };

	if (s->ops->mp_list_uploads(&s->dst, SCRATCH, upload_seen, &sn) != MG_OK)
		return -1;
	return sn.found;
}

static void predicted_multipart(struct cf *s, uint64_t size, int nparts, struct mg_counters *c)
{
	memset(c, 0, sizeof(*c));
	if (s->ops->estimate_multipart) {
		s->ops->estimate_multipart(&s->dst, size, nparts, c);
		return;
	}
	c->req[MG_REQ_MP_CREATE] = 1;	/* connector.h's default */
	c->req[MG_REQ_MP_PART] = (uint64_t)nparts;
	c->req[MG_REQ_MP_COMPLETE] = 1;
}

/* A part list that names bytes the server does not hold is refused;
 * *spent: what the refused request cost (not the upload's). */
static void complete_wrong(struct cf *s, const char *key, const char *id,
			   const struct mg_part parts[2], struct mg_counters *spent)
{
	struct mg_counters at = s->counters;
	struct mg_put_result res;
	struct mg_part wrong[2];
	int rc;

	memcpy(wrong, parts, sizeof(wrong));
	wrong[1].etag[0] = wrong[1].etag[0] == 'a' ? 'b' : 'a';
	rc = s->ops->mp_complete(&s->dst, key, id, wrong, 2, &res);
	cf_check(rc == MG_FAILED, "multipart: complete with a wrong part ETag is refused",
		 "%s: %s", mg_status_name(rc), s->dst.err.msg);
	mg_error_clear(&s->dst.err);
	counters_delta(&at, &s->counters, spent);
}

static void case_multipart(struct cf *s)
{
	const char *key = SCRATCH "mp";
	const size_t sizes[2] = { PART1, 1234 }, total = PART1 + 1234;
	unsigned char *data = cf_content_alloc(key, total), *got = NULL;
	struct mg_put_info info = { .size = total };
	struct mg_counters before = s->counters, d, want, refused = { .bytes_read = 0 };
	struct mg_part parts[2];
	struct mg_put_result res;
	struct mg_put_final fin;
	struct seen sn = { 0 };
	char id[1024];
	size_t n = 0;
	int rc;

	if (!need(s, MG_CAP_TARGET | MG_CAP_MULTIPART,
		  "multipart: create, parts, list parts, list uploads, complete"))
		goto out;
	cf_hashes(data, total, &fin);
	rc = s->ops->mp_create(&s->dst, key, &info, &fin, id, sizeof(id));
	cf_check(rc == MG_OK && id[0], "multipart: create gives an upload id", "%s: %s",
		 mg_status_name(rc), s->dst.err.msg);
	if (rc != MG_OK)
		goto out;
	for (int i = 0; i < 2 && rc == MG_OK; i++) {
		const unsigned char *at = data + (i ? PART1 : 0);

		memset(&parts[i], 0, sizeof(parts[i]));
		parts[i].number = i + 1;
		cf_part_hash(at, sizes[i], &parts[i]);
		rc = s->ops->mp_upload_part(&s->dst, key, id, &parts[i], at, sizes[i]);
	}
	cf_check(rc == MG_OK, "multipart: two parts (5 MiB and the rest)", "%s: %s",
		 mg_status_name(rc), s->dst.err.msg);

	sn.key = key;
	sn.id = id;
	rc = s->ops->mp_list_parts(&s->dst, key, id, part_seen, &sn);
	cf_check(rc == MG_OK && sn.nparts == 2 && sn.parts[0].number == 1 &&
		 sn.parts[0].size == PART1 && sn.parts[1].number == 2 && sn.parts[1].size == 1234 &&
		 !strcmp(sn.parts[0].etag, parts[0].etag),
		 "multipart: list parts gives both, in order, with sizes and ETags",
		 "%s, %d parts: %s", mg_status_name(rc), sn.nparts, s->dst.err.msg);
	cf_check(upload_listed(s, key, id) == 1, "multipart: the open upload is listed",
		 "%s", s->dst.err.msg);

	complete_wrong(s, key, id, parts, &refused);
	rc = s->ops->mp_complete(&s->dst, key, id, parts, 2, &res);
	if (rc == MG_OK && s->has_src)
		rc = cf_get(&s->src, key, 0, UINT64_MAX, 1 << 20, &got, &n);
	cf_check(rc == MG_OK && (!s->has_src || (n == total && !memcmp(got, data, n))),
		 "multipart: complete makes the object, whole", "%s, %zu bytes: %s",
		 mg_status_name(rc), n, s->dst.err.msg);
	cf_check(upload_listed(s, key, id) == 0, "multipart: a completed upload is no longer listed",
		 "%s", s->dst.err.msg);
	counters_delta(&before, &s->counters, &d);
	if (s->has_src) {	/* the read back is the estimate_read case's */
		d.req[MG_REQ_GET] = 0;
		d.bytes_read = 0;
	}
	d.req[MG_REQ_MP_LIST] = 0;	/* the listings above are the suite's, not the upload's */
	for (int i = 0; i < MG_REQ__COUNT; i++)
		d.req[i] -= refused.req[i];
	predicted_multipart(s, total, 2, &want);
	cf_check(!*req_diff(&want, &d) && d.bytes_written == total,
		 "estimate_multipart predicts the requests an upload issues",
		 "%s bytes written %llu", req_diff(&want, &d), (unsigned long long)d.bytes_written);
out:
	free(data);
	free(got);
	mg_error_clear(&s->dst.err);
}

/* An aborted upload is gone, leaves no object, and may be aborted again
 * (the engine's end-of-run sweep may meet one a crash half aborted). */
static void case_multipart_abort(struct cf *s)
{
	const char *key = SCRATCH "mp-aborted";
	unsigned char data[1000];
	struct mg_put_info info = { .size = sizeof(data) };
	struct mg_part part = { .number = 1 };
	struct mg_entry e;
	char id[1024];
	int rc;

	if (!need(s, MG_CAP_TARGET | MG_CAP_MULTIPART, "multipart: abort"))
		return;
	cf_content(key, 0, data, sizeof(data));
	rc = s->ops->mp_create(&s->dst, key, &info, NULL, id, sizeof(id));
	if (rc == MG_OK) {
		cf_part_hash(data, sizeof(data), &part);
		rc = s->ops->mp_upload_part(&s->dst, key, id, &part, data, sizeof(data));
	}
	if (rc == MG_OK)
		rc = s->ops->mp_abort(&s->dst, key, id);
	cf_check(rc == MG_OK && upload_listed(s, key, id) == 0 &&
		 mg_stat(&s->dst, key, &e) == MG_ABSENT,
		 "multipart: abort drops the upload and leaves no object", "%s: %s",
		 mg_status_name(rc), s->dst.err.msg);
	rc = s->ops->mp_abort(&s->dst, key, id);
	cf_check(rc == MG_OK, "multipart: aborting twice is MG_OK", "%s: %s", mg_status_name(rc),
		 s->dst.err.msg);
	mg_error_clear(&s->dst.err);
}

/* UploadPartCopy: a part made of a range of an object already there. */
static void case_part_copy(struct cf *s)
{
	const char *key = SCRATCH "part-copy";
	struct mg_part part = { .number = 1, .size = 1000 };
	struct mg_put_result res;
	unsigned char *got = NULL;
	char id[1024];
	size_t n = 0;
	int rc;

	if (!need(s, MG_CAP_TARGET | MG_CAP_SOURCE | MG_CAP_MULTIPART | MG_CAP_PART_COPY,
		  "multipart: a part copied from a range of another object"))
		return;
	rc = s->ops->mp_create(&s->dst, key, NULL, NULL, id, sizeof(id));
	if (rc == MG_OK)
		rc = s->ops->mp_copy_part(&s->dst, key, id, &part, CF_BIG_KEY, 123457);
	if (rc == MG_OK)
		rc = s->ops->mp_complete(&s->dst, key, id, &part, 1, &res);
	if (rc == MG_OK)
		rc = cf_get(&s->src, key, 0, UINT64_MAX, 65536, &got, &n);
	cf_check(rc == MG_OK && n == 1000 && same_bytes(CF_BIG_KEY, 123457, got, n),
		 "multipart: a part copied from a range of another object", "%s, %zu bytes: %s",
		 mg_status_name(rc), n, s->dst.err.msg);
	free(got);
	mg_error_clear(&s->dst.err);
}

/* ---- estimates against the connector's own counters --------------------- */

static void case_estimates(struct cf *s)
{
	const uint64_t size = fixture_find(CF_BIG_KEY)->size;
	struct mg_counters before, d, want;
	unsigned char *got, *data;
	size_t n;
	int rc;

	if (need(s, MG_CAP_SOURCE, "estimate_read predicts the requests a read issues")) {
		before = s->counters;
		rc = cf_get(&s->src, CF_BIG_KEY, 0, size, 65536, &got, &n);
		free(got);
		counters_delta(&before, &s->counters, &d);
		memset(&want, 0, sizeof(want));
		if (s->ops->estimate_read)
			s->ops->estimate_read(&s->src, size, &want);
		else
			want.req[MG_REQ_GET] = 1;
		cf_check(rc == MG_OK && !*req_diff(&want, &d) && d.bytes_read == size,
			 "estimate_read predicts the requests a read issues", "%s: %s bytes read %llu",
			 mg_status_name(rc), req_diff(&want, &d), (unsigned long long)d.bytes_read);
	}
	if (!need(s, MG_CAP_TARGET, "estimate_write predicts the requests a write issues"))
		return;
	data = cf_content_alloc(SCRATCH "estimate", 4096);
	before = s->counters;
	rc = cf_put(&s->dst, SCRATCH "estimate", data, 4096, 1000, NULL);
	free(data);
	counters_delta(&before, &s->counters, &d);
	memset(&want, 0, sizeof(want));
	if (s->ops->estimate_write)
		s->ops->estimate_write(&s->dst, 4096, &want);
	else
		want.req[MG_REQ_PUT] = 1;
	cf_check(rc == MG_OK && !*req_diff(&want, &d) && d.bytes_written == 4096,
		 "estimate_write predicts the requests a write issues", "%s: %s bytes written %llu",
		 mg_status_name(rc), req_diff(&want, &d), (unsigned long long)d.bytes_written);
}

/* ---- writers ------------------------------------------------------------ */

/* Keys become files (MG_CAP_FILES): the source's permission bits are kept
 * under our umask, never wider, without setuid/setgid/sticky; mode 0 is
 * the backend's default, 0644 under the umask; stat and the listing give
 * the bits back. */
static void case_modes(struct cf *s)
{
	static const unsigned modes[][2] = {
		{ 0600, 0600 }, { 0640, 0640 }, { 0755, 0755 }, { 0666, 0644 },
		{ 04755, 0755 }, { 02750, 0750 }, { 0, 0644 },
	};
	char bad[2048] = "", key[64], listed[80] = "";
	mode_t old;

	if (!need(s, MG_CAP_TARGET | MG_CAP_SOURCE | MG_CAP_FILES,
		  "permission bits kept under umask 022 (0666 -> 0644, setuid dropped, 0 -> 0644)"))
		return;
	old = umask(022);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]) && !*bad; i++) {
		struct mg_put_info info = { .size = 3, .mode = modes[i][0] };
		struct mg_put_final fin;
		struct mg_put_result res;
		struct mg_writer *w;
		struct mg_entry e;
		int rc;

		snprintf(key, sizeof(key), SCRATCH "mode-%04o", modes[i][0]);
		cf_hashes("m\n\n", 3, &fin);
		rc = mg_write_open(&s->dst, key, &info, &w);
		if (rc == MG_OK && (rc = s->ops->write(w, "m\n\n", 3)) != MG_OK)
			s->ops->write_abort(w);
		else if (rc == MG_OK)
			rc = s->ops->write_commit(w, &fin, &res);
		if (rc == MG_OK)
			rc = mg_stat(&s->dst, key, &e);
		if (rc != MG_OK || e.mode != modes[i][1])
			snprintf(bad, sizeof(bad), "%04o: %s, stat gives %04o, wanted %04o: %s",
				 modes[i][0], mg_status_name(rc), rc == MG_OK ? e.mode : 0,
				 modes[i][1], s->dst.err.msg);
		mg_error_clear(&s->dst.err);
	}
	umask(old);
	cf_check(!*bad, "permission bits kept under umask 022 (0666 -> 0644, setuid dropped, 0 -> 0644)",
		 "%s", bad);
	*bad = '\0';
	{	/* the listing gives them too: a source keeps them for the engine */
		struct mg_lister *it;
		struct mg_entry e;
		int found = 0;

		if (mg_list_open(&s->src, SCRATCH "mode-0640", &it) == MG_OK) {
			while (s->ops->list_next(it, &e) == MG_OK)
				if (!strcmp(e.key, SCRATCH "mode-0755")) {
					found = e.mode == 0755;
					snprintf(listed, sizeof(listed), "%04o", e.mode);
				}
			s->ops->list_close(it);
		}
		cf_check(found, "the listing gives the permission bits", "'%s' listed with %s",
			 SCRATCH "mode-0755", found ? "" : listed);
	}
}

/* ---- key safety ------------------------------------------------------------ */

/* Names of the entries of dir, joined; "" if it cannot be read. */
static void dir_names(const char *dir, char *out, size_t len)
{
	struct dirent **v;
	int n = dir ? scandir(dir, &v, NULL, alphasort) : -1;
	size_t at = 0;

	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (at < len)
			at += (size_t)snprintf(out + at, len - at, "%s/", v[i]->d_name);
		free(v[i]);
	}
	if (n >= 0)
		free(v);
}

/*
 * The engine's rule (mg_key_check, README "What migrate refuses, and
 * why"): no empty key or segment, no '.' or '..' segment, no leading
 * '/'; at a file target (MG_CAP_FILES) no backslash and no trailing '/'
 * either.  A NUL cannot reach a connector: keys are C strings (an S3
 * listing that holds one gives an error entry: s3_connector.sh; libarchive
 * hands archive names over cut at the first NUL).
 * A file connector refuses the climbing ones by itself as well, so no
 * caller can write outside its root.
 */
static void case_key_safety(struct cf *s)
{
	static const char *const bad[] = {
		"", "/abs-escape", "../escape", "a/../../escape", "a//b", "a/./b", ".", "..",
	};
	static const char *const bad_files[] = { "back\\slash", "dir/" };
	static const char *const climbing[] = { "../cf-escape", "a/../../cf-escape", "/tmp/cf-escape" };
	unsigned flags = (s->ops->caps & MG_CAP_FILES) ? MG_KEY_FILE : 0;
	char before[4096], after[4096], why[256] = "";
	const char *reason;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) && !*why; i++)
		if (mg_key_check(bad[i], flags, &reason) == 0)
			snprintf(why, sizeof(why), "'%s' accepted", bad[i]);
	for (size_t i = 0; flags && i < sizeof(bad_files) / sizeof(bad_files[0]) && !*why; i++)
		if (mg_key_check(bad_files[i], flags, &reason) == 0)
			snprintf(why, sizeof(why), "'%s' accepted at a file target", bad_files[i]);
	cf_skip("key rules refuse a NUL", "a key is a C string, so no connector is handed one; "
		"an S3 listing holding one gives an error entry (s3_connector.sh)");
	cf_check(!*why, flags ? "key rules refuse '..', '.', '//', a leading '/', '\\' and a trailing '/' here"
			      : "key rules refuse '..', '.', '//' and a leading '/' here", "%s", why);
	if (!flags) {
		cf_check(mg_key_check("back\\slash", flags, &reason) == 0,
			 "a backslash is an ordinary byte in an object store's key", "refused: %s",
			 reason);
		return;
	}
	if (!need(s, MG_CAP_TARGET, "a file target refuses keys that climb out of its root"))
		return;
	dir_names(s->outside, before, sizeof(before));
	*why = '\0';
	for (size_t i = 0; i < sizeof(climbing) / sizeof(climbing[0]) && !*why; i++) {
		int rc = cf_put(&s->dst, climbing[i], "x", 1, 1, NULL);

		if (rc == MG_OK)
			snprintf(why, sizeof(why), "'%s' was written", climbing[i]);
		mg_error_clear(&s->dst.err);
	}
	dir_names(s->outside, after, sizeof(after));
	cf_check(!*why && !strcmp(before, after),
		 "a file target refuses keys that climb out of its root, and nothing appears outside",
		 "%s; outside before '%s', after '%s'", why, before, after);
}

/* ---- many objects at once (put_batch, issue 19.1) ----------------------- */

/* mg_put_batch writes each object as a writer would, whether the
 * connector drives them together (S3: one event loop) or the wrapper
 * writes them one at a time, each with its own status and the conn's
 * error left clear.  (One object failing alone: cases_s3.c, where the
 * server refuses one.) */
#define BATCH_N 18
static void case_put_batch(struct cf *s)
{
	const char *name = "put_batch writes each object whole";
	struct mg_put_item it[BATCH_N];
	struct mg_put_info info[BATCH_N];
	struct mg_put_final fin[BATCH_N];
	unsigned char *data[BATCH_N];
	char keys[BATCH_N][64], why[700] = "";
	struct mg_entry e;
	int rc;

	if (!need(s, MG_CAP_TARGET, name))
		return;
	memset(it, 0, sizeof(it));
	for (int i = 0; i < BATCH_N; i++) {
		/* empty, one-send sized and larger (S3 sends those from a
		 * callback), in one batch */
		size_t len = i == 0 ? 0 : i == 1 ? 100000 : (size_t)i * 1999;

		snprintf(keys[i], sizeof(keys[i]), SCRATCH "batch/%02d", i);
		data[i] = cf_content_alloc(keys[i], len ? len : 1);
		cf_hashes(data[i], len, &fin[i]);
		memset(&info[i], 0, sizeof(info[i]));
		info[i].size = len;
		info[i].mtime_ns = CF_MTIME_NS;
		it[i] = (struct mg_put_item){ .key = keys[i], .info = &info[i], .body = data[i],
					      .len = len, .fin = &fin[i] };
	}
	rc = mg_put_batch(&s->dst, it, BATCH_N);
	if (rc != MG_OK || s->dst.err.status)
		snprintf(why, sizeof(why), "batch %s, conn error '%.300s'", mg_status_name(rc),
			 s->dst.err.msg);
	for (int i = 0; i < BATCH_N && !*why; i++) {
		unsigned char *got = NULL;
		size_t n = 0;

		if (it[i].status != MG_OK) {
			snprintf(why, sizeof(why), "'%.200s': %s %.300s", keys[i],
				 mg_status_name(it[i].status), it[i].err.msg);
			break;
		}
		if (mg_stat(&s->dst, keys[i], &e) != MG_OK || e.size != it[i].len) {
			snprintf(why, sizeof(why), "'%.200s': stat %.300s", keys[i], s->dst.err.msg);
			break;
		}
		if (s->has_src && (cf_get(&s->src, keys[i], 0, UINT64_MAX, 65536, &got, &n) != MG_OK ||
				   n != it[i].len || !same_bytes(keys[i], 0, got, n)))
			snprintf(why, sizeof(why), "'%.200s' reads back %zu bytes, not its %zu",
				 keys[i], n, it[i].len);
		free(got);
	}
	cf_check(!*why, name, "%s", why);
	for (int i = 0; i < BATCH_N; i++) {
		if (mg_conn_has(&s->dst, MG_CAP_DELETE))
			mg_remove(&s->dst, keys[i]);
		free(data[i]);
	}
	mg_error_clear(&s->dst.err);
	mg_error_clear(&s->src.err);
}

void cf_run_cases(struct cf *s)
{
	case_fixture(s);
	case_open_source(s);
	case_stat(s);
	case_read_back(s);
	case_short_reads(s);
	case_list(s);
	case_start_after(s);
	case_ranges(s);
	case_absent(s);
	case_abort(s);
	case_overwrite_remove(s);
	case_etag(s);
	case_copy(s);
	case_multipart(s);
	case_multipart_abort(s);
	case_part_copy(s);
	case_estimates(s);
	case_modes(s);
	case_key_safety(s);
	case_put_batch(s);
}
