/*
 * test_sigv4.c - the AWS Signature V4 test suite (tests/data/sigv4), every
 * case signed twice: with the Authorization header and as a presigned URL.
 * Each intermediate is compared, so a failure names the rule that broke.
 */
#define _GNU_SOURCE 1
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#define MG_S3_INTERNAL 1
#include "s3_private.h"

#ifndef S3_TEST_SRCDIR
#define S3_TEST_SRCDIR "."
#endif

static char datadir[4096];

static char *slurp(const char *dir, const char *name, size_t *len)
{
	char path[4600];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = mg_malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

/* A request.txt, split into the parts the signer takes. */
struct raw_req {
	char *text;
	char *method;
	char *path;
	struct s3_kv query[16];
	size_t nquery;
	struct s3_kv headers[16];
	size_t nheaders;
	char *body;
	size_t body_len;
	char hash[65];
};

static void raw_req_parse(struct raw_req *r, char *text, size_t len)
{
	char *line, *nl, *sp, *q, *end = text + len;

	memset(r, 0, sizeof(*r));
	r->text = text;
	nl = strchr(text, '\n');
	assert_non_null(nl);
	*nl = '\0';
	/* "METHOD PATH HTTP/1.1": the path may hold spaces */
	sp = strchr(text, ' ');
	*sp = '\0';
	r->method = text;
	r->path = sp + 1;
	*strrchr(r->path, ' ') = '\0';
	q = strchr(r->path, '?');
	if (q) {
		char *tok, *save = NULL;

		*q++ = '\0';
		for (tok = strtok_r(q, "&", &save); tok; tok = strtok_r(NULL, "&", &save)) {
			char *eq = strchr(tok, '=');

			if (eq)
				*eq++ = '\0';
			r->query[r->nquery].name = s3_uri_decode(tok, strlen(tok), 0);
			r->query[r->nquery].value = eq ? s3_uri_decode(eq, strlen(eq), 0) : NULL;
			r->nquery++;
		}
	}
	line = nl + 1;
	while (line < end) {
		char *colon;

		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (*line == '\0') {
			line = nl ? nl + 1 : end;
			break;
		}
		if ((*line == ' ' || *line == '\t') && r->nheaders) {
			/* a folded line continues the previous header's value */
			struct s3_kv *h = &r->headers[r->nheaders - 1];
			size_t a = strlen(h->value), b = strlen(line);
			char *v = mg_malloc(a + b + 2);

			memcpy(v, h->value, a);
			v[a] = '\n';
			memcpy(v + a + 1, line, b + 1);
			free((char *)h->value);
			h->value = v;
		} else {
			colon = strchr(line, ':');
			assert_non_null(colon);
			*colon = '\0';
			r->headers[r->nheaders].name = line;
			r->headers[r->nheaders].value = mg_strdup(colon + 1);
			r->nheaders++;
		}
		line = nl ? nl + 1 : end;
	}
	r->body = line < end ? line : "";
	r->body_len = line < end ? (size_t)(end - line) : 0;
	s3_sha256_hex(r->body, r->body_len, r->hash);
}

static void raw_req_release(struct raw_req *r)
{
	for (size_t i = 0; i < r->nquery; i++) {
		free((char *)r->query[i].name);
		free((char *)r->query[i].value);
	}
	for (size_t i = 0; i < r->nheaders; i++)
		free((char *)r->headers[i].value);
	free(r->text);
}

struct sig_case {
	char name[256];
	int query;	/* 0 header mode, 1 presigned */
};

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* The query part of the first line of a signed request, as a sorted list
 * of decoded "name=value" strings (the suite lists them in no canonical
 * order and leaves UTF-8 raw in some). */
static size_t query_set(const char *q, char **out, size_t max)
{
	char *copy = mg_strdup(q), *save = NULL, *tok;
	size_t n = 0;

	for (tok = strtok_r(copy, "&", &save); tok && n < max;
	     tok = strtok_r(NULL, "&", &save))
		out[n++] = s3_uri_decode(tok, strlen(tok), 0);
	free(copy);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j && strcmp(out[j - 1], out[j]) > 0; j--) {
			char *t = out[j];

			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

static void run_case(void **state)
{
	const struct sig_case *c = *state;
	char dir[4400], file[64];
	size_t len;
	char *text, *ctxtext, *want;
	struct raw_req r;
	json_t *ctx, *cred;
	json_error_t jerr;
	struct s3_sign_cfg cfg = { 0 };
	struct s3_sign_req req = { 0 };
	struct s3_signed out;
	struct tm tm = { 0 };
	const char *mode = c->query ? "query" : "header";

	snprintf(dir, sizeof(dir), "%s/%s", datadir, c->name);
	text = slurp(dir, "request.txt", &len);
	assert_non_null(text);
	raw_req_parse(&r, text, len);
	ctxtext = slurp(dir, "context.json", NULL);
	assert_non_null(ctxtext);
	ctx = json_loads(ctxtext, 0, &jerr);
	assert_non_null(ctx);
	cred = json_object_get(ctx, "credentials");
	cfg.access_key = json_string_value(json_object_get(cred, "access_key_id"));
	cfg.secret_key = json_string_value(json_object_get(cred, "secret_access_key"));
	cfg.token = json_string_value(json_object_get(cred, "token"));
	cfg.region = json_string_value(json_object_get(ctx, "region"));
	cfg.service = json_string_value(json_object_get(ctx, "service"));
	cfg.normalize = json_is_true(json_object_get(ctx, "normalize"));
	cfg.sign_body = json_is_true(json_object_get(ctx, "sign_body"));
	cfg.omit_token = json_is_true(json_object_get(ctx, "omit_session_token"));
	cfg.expires = (long)json_integer_value(json_object_get(ctx, "expiration_in_seconds"));
	assert_non_null(strptime(json_string_value(json_object_get(ctx, "timestamp")),
				 "%Y-%m-%dT%H:%M:%SZ", &tm));
	cfg.when = timegm(&tm);

	req.method = r.method;
	req.path = r.path;
	req.query = r.query;
	req.nquery = r.nquery;
	req.headers = r.headers;
	req.nheaders = r.nheaders;
	req.payload_hash = r.hash;

	s3_signed_init(&out);
	if (c->query)
		assert_int_equal(s3_sign_query(&cfg, &req, &out), 0);
	else
		assert_int_equal(s3_sign_header(&cfg, &req, &out), 0);

	snprintf(file, sizeof(file), "%s-canonical-request.txt", mode);
	want = slurp(dir, file, NULL);
	assert_non_null(want);
	assert_string_equal(out.canonical.buf, want);
	free(want);

	snprintf(file, sizeof(file), "%s-string-to-sign.txt", mode);
	want = slurp(dir, file, NULL);
	assert_non_null(want);
	assert_string_equal(out.string_to_sign.buf, want);
	free(want);

	snprintf(file, sizeof(file), "%s-signature.txt", mode);
	want = slurp(dir, file, NULL);
	assert_non_null(want);
	chomp(want);
	assert_string_equal(out.signature, want);
	free(want);

	/* the final request: Authorization header, or the URL's query */
	snprintf(file, sizeof(file), "%s-signed-request.txt", mode);
	want = slurp(dir, file, NULL);
	assert_non_null(want);
	if (!c->query) {
		char *a = strstr(want, "\nAuthorization:");

		assert_non_null(a);
		a += strlen("\nAuthorization:");
		*strchr(a, '\n') = '\0';
		assert_string_equal(out.authorization.buf, a);
	} else {
		char *q = strchr(want, '?'), *e;
		char *w[32], *g[32];
		size_t nw, ng;

		assert_non_null(q);
		e = strstr(q, " HTTP/1.1");
		assert_non_null(e);
		*e = '\0';
		nw = query_set(q + 1, w, 32);
		ng = query_set(out.query.buf, g, 32);
		assert_int_equal(ng, nw);
		for (size_t i = 0; i < nw; i++) {
			assert_string_equal(g[i], w[i]);
			free(w[i]);
			free(g[i]);
		}
	}
	free(want);

	s3_signed_release(&out);
	json_decref(ctx);
	free(ctxtext);
	raw_req_release(&r);
}

/* The secret must not leak into any output of the signer. */
static void test_no_secret_in_output(void **state)
{
	struct s3_kv h[] = { { "Host", "example.amazonaws.com" } };
	struct s3_sign_cfg cfg = {
		.access_key = "AKIDEXAMPLE", .secret_key = "SECRETSECRETSECRET",
		.region = "us-east-1", .service = "s3", .when = 1440938160,
		.sign_body = 1, .expires = 60,
	};
	struct s3_sign_req req = {
		.method = "GET", .path = "/a b/c+d%e", .headers = h, .nheaders = 1,
		.payload_hash = "UNSIGNED-PAYLOAD",
	};
	struct s3_signed out;

	(void)state;
	s3_signed_init(&out);
	assert_int_equal(s3_sign_header(&cfg, &req, &out), 0);
	assert_null(strstr(out.canonical.buf, "SECRET"));
	assert_null(strstr(out.authorization.buf, "SECRET"));
	assert_string_equal(out.path.buf, "/a%20b/c%2Bd%25e");
	assert_int_equal(s3_sign_query(&cfg, &req, &out), 0);
	assert_null(strstr(out.query.buf, "SECRET"));
	s3_signed_release(&out);
}

/* A request without a Host header cannot be signed. */
static void test_no_host(void **state)
{
	struct s3_sign_cfg cfg = {
		.access_key = "A", .secret_key = "S", .region = "r", .service = "s3",
	};
	struct s3_sign_req req = { .method = "GET", .path = "/", .payload_hash = "x" };
	struct s3_signed out;

	(void)state;
	s3_signed_init(&out);
	assert_int_equal(s3_sign_header(&cfg, &req, &out), -1);
	s3_signed_release(&out);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sig_case *)a)->name,
		      ((const struct sig_case *)b)->name);
}

int main(void)
{
	const char *src = getenv("MG_SRCDIR");
	struct sig_case *cases = NULL;
	struct CMUnitTest *tests;
	size_t n = 0, alloc = 0, nt = 0;
	DIR *d;
	struct dirent *de;
	int r;

	snprintf(datadir, sizeof(datadir), "%s/tests/data/sigv4",
		 src && *src ? src : S3_TEST_SRCDIR);
	d = opendir(datadir);
	if (!d) {
		fprintf(stderr, "test_sigv4: cannot open '%s': set MG_SRCDIR to the source tree\n",
			datadir);
		return 1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "ORIGIN.md") == 0)
			continue;
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			cases = mg_realloc(cases, alloc * sizeof(*cases));
		}
		snprintf(cases[n].name, sizeof(cases[n].name), "%s", de->d_name);
		n++;
	}
	closedir(d);
	qsort(cases, n, sizeof(*cases), name_cmp);

	/* two tests per folder: header mode and query mode */
	struct sig_case *both = mg_calloc(2 * n + 1, sizeof(*both));
	char (*names)[300] = mg_calloc(2 * n + 3, sizeof(*names));

	tests = mg_calloc(2 * n + 2, sizeof(*tests));
	for (size_t i = 0; i < n; i++) {
		for (int q = 0; q < 2; q++) {
			struct sig_case *c = &both[nt];

			*c = cases[i];
			c->query = q;
			snprintf(names[nt], sizeof(names[nt]), "%s/%s", c->name,
				 q ? "query" : "header");
			tests[nt] = (struct CMUnitTest){ names[nt], run_case, NULL, NULL, c };
			nt++;
		}
	}
	tests[nt++] = (struct CMUnitTest){ "no_secret_in_output", test_no_secret_in_output,
					   NULL, NULL, NULL };
	tests[nt++] = (struct CMUnitTest){ "no_host", test_no_host, NULL, NULL, NULL };
	r = _cmocka_run_group_tests("sigv4", tests, nt, NULL, NULL);
	free(tests);
	free(names);
	free(both);
	free(cases);
	return r;
}
