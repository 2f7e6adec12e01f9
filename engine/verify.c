/*
 * verify.c - `migrate verify`: does each target hold what the journal says
 * was moved there?
 *
 * Without --deep nothing is downloaded: one stat (HEAD) per object checks
 * that it exists with the journaled size and ETag (and the SHA-256 the
 * target keeps in its metadata, where it does).  --deep reads every object
 * back and compares its SHA-256 with the journal's.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "connector.h"
#include "engine.h"
#include "journal.h"
#include "mg.h"
#include "plan.h"

#define VERIFY_BUF (1024 * 1024)
#define KEEP_PROBLEMS 50

struct verify_tally {
	uint64_t checked, ok, missing, mismatched, errors, bytes;
	json_t *problems;
};

static void problem(struct verify_tally *v, const char *url, const char *key,
		    const char *what)
{
	fprintf(stderr, "migrate: verify: '%s' at %s: %s\n", key, url, what);
	if (json_array_size(v->problems) < KEEP_PROBLEMS)
		json_array_append_new(v->problems, json_pack("{s:s,s:s}", "key", key,
							     "problem", what));
}

/* Reads key back and compares its SHA-256.  0 same, 1 differs, -1 error. */
static int deep_check(struct mg_conn *c, const char *key, const char *want,
		      unsigned char *buf, char *why, size_t whylen)
{
	struct mg_reader *r = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char digest[32];
	char hex[65];
	int rc;

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	rc = mg_read_open(c, key, 0, UINT64_MAX, &r);
	while (rc == MG_OK) {
		size_t got = 0;

		rc = c->ops->read(r, buf, VERIFY_BUF, &got);
		if (rc != MG_OK || got == 0)
			break;
		EVP_DigestUpdate(md, buf, got);
	}
	if (r)
		c->ops->read_close(r);
	EVP_DigestFinal_ex(md, digest, NULL);
	EVP_MD_CTX_free(md);
	if (rc != MG_OK) {
		snprintf(why, whylen, "cannot read it back: %s", c->err.msg);
		return -1;
	}
	mg_hex(digest, sizeof(digest), hex);
	if (strcmp(hex, want)) {
		snprintf(why, whylen, "content differs: SHA-256 %s, journal has %s", hex, want);
		return 1;
	}
	return 0;
}

static void strip(char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		memmove(s, s + 1, n - 2);
		s[n - 2] = '\0';
	}
}

static int verify_target(const struct mg_plan *plan, const struct mg_run_opts *o,
			 struct mg_journal *j, const struct mg_endpoint *ep,
			 struct verify_tally *v)
{
	const struct mg_connector *ops = mg_connector_find(ep->connector);
	struct mg_counters counters;
	struct mg_journal_iter *it = NULL;
	struct mg_obj_record rec;
	struct mg_conn c;
	unsigned char *buf = NULL;
	const char *key;
	int r;

	(void)plan;
	memset(&counters, 0, sizeof(counters));
	if (!ops) {
		fprintf(stderr, "migrate: no '%s' connector in this build\n", ep->connector);
		return MG_FATAL;
	}
	if (mg_conn_open(&c, ops, ep, &counters, MG_OPEN_TARGET | MG_OPEN_LOOK) != MG_OK) {
		fprintf(stderr, "migrate: %s\n", c.err.msg);
		mg_conn_close(&c);
		return MG_FATAL;
	}
	if (o->deep)
		buf = mg_malloc(VERIFY_BUF);
	mg_journal_iter_open(j, ep->id, NULL, &it);
	while ((r = mg_journal_iter_next(it, &key, NULL, &rec)) == MG_OK && !mg_interrupted) {
		struct mg_entry e;
		char why[700], etag[80];
		int st;

		if (rec.state != MG_OBJ_DONE)
			continue;
		v->checked++;
		v->bytes += rec.size;
		mg_error_clear(&c.err);
		st = mg_stat(&c, key, &e);
		if (st == MG_ABSENT) {
			v->missing++;
			problem(v, ep->url, key, "missing at the target");
			continue;
		}
		if (st != MG_OK) {
			v->errors++;
			problem(v, ep->url, key, c.err.msg);
			if (st == MG_FATAL)
				break;
			continue;
		}
		snprintf(etag, sizeof(etag), "%s", e.etag);
		strip(etag);
		if (e.size != rec.size) {
			snprintf(why, sizeof(why), "size %" PRIu64 ", journal has %" PRIu64,
				 e.size, rec.size);
		} else if (etag[0] && rec.etag[0] && strcmp(etag, rec.etag)) {
			snprintf(why, sizeof(why), "ETag %s, journal has %s", etag, rec.etag);
		} else if (e.sha256[0] && rec.sha256[0] && strcmp(e.sha256, rec.sha256)) {
			snprintf(why, sizeof(why), "SHA-256 in metadata %s, journal has %s",
				 e.sha256, rec.sha256);
		} else if (o->deep && rec.sha256[0]) {
			int d = deep_check(&c, key, rec.sha256, buf, why, sizeof(why));

			if (d < 0) {
				v->errors++;
				problem(v, ep->url, key, why);
				continue;
			}
			if (d == 0) {
				v->ok++;
				continue;
			}
		} else {
			v->ok++;
			continue;
		}
		v->mismatched++;
		problem(v, ep->url, key, why);
	}
	mg_journal_iter_close(it);
	free(buf);
	mg_conn_close(&c);
	return MG_OK;
}

int mg_verify(const struct mg_plan *plan, const struct mg_run_opts *o)
{
	struct mg_journal *j = NULL;
	struct mg_error err = { 0 };
	json_t *out = json_array();
	int code = MG_EXIT_OK;

	if (mg_journal_open(plan->journal, &j, &err) != MG_OK) {
		fprintf(stderr, "migrate: %s\n", err.msg);
		json_decref(out);
		return MG_EXIT_FATAL;
	}
	for (size_t i = 0; i < plan->ntargets && !mg_interrupted; i++) {
		const struct mg_endpoint *ep = &plan->targets[i];
		struct verify_tally v = { 0, 0, 0, 0, 0, 0, json_array() };
		char sz[32];

		if (verify_target(plan, o, j, ep, &v) != MG_OK)
			code = MG_EXIT_FATAL;
		else if ((v.missing || v.mismatched || v.errors) && code == MG_EXIT_OK)
			code = MG_EXIT_PARTIAL;
		mg_fmt_bytes(v.bytes, sz, sizeof(sz));
		if (!o->quiet)
			fprintf(stderr, "verified %s%s: %" PRIu64 " objects (%s): %" PRIu64
				" ok, %" PRIu64 " missing, %" PRIu64 " differ, %" PRIu64
				" unreadable\n", ep->url, o->deep ? " (deep: content re-hashed)" :
				" (size and ETag, nothing downloaded)", v.checked, sz, v.ok,
				v.missing, v.mismatched, v.errors);
		json_array_append_new(out, json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:o}",
			"target", ep->url, "deep", o->deep, "checked", (json_int_t)v.checked,
			"ok", (json_int_t)v.ok, "missing", (json_int_t)v.missing,
			"differ", (json_int_t)v.mismatched, "unreadable", (json_int_t)v.errors,
			"problems", v.problems));
	}
	if (o->json) {
		json_dumpf(out, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	}
	json_decref(out);
	mg_journal_close(j);
	if (mg_interrupted)
		return MG_EXIT_INTERRUPT;
	return code;
}
