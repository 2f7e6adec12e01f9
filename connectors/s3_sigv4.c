/*
 * s3_sigv4.c - AWS Signature Version 4, header and presigned-URL forms.
 *
 * Kept apart from s3.c and free of libcurl so the AWS signing test suite
 * (tests/data/sigv4) can drive it case by case: every intermediate (the
 * canonical request, the string to sign) is an output, because a wrong
 * signature alone says nothing about which of a dozen rules was missed.
 *
 * S3 signs with normalize off: the path is encoded once, exactly as the
 * key is, with no dot-segment removal and no double encoding ("a//b" and
 * "a/./b" are distinct keys).  Other services normalize; the suite covers
 * both, so both are here.
 */
#define MG_S3_INTERNAL 1
/* SHA256_Init & co.: OpenSSL 3's EVP one-shots (EVP_Digest, HMAC) look
 * the algorithm up in the provider tables on every call, which cost more
 * than the hashing for the short strings signing hashes (12% of a small
 * object's client CPU; docs/BENCHMARKS.md, "Fourth session").  xfer.c
 * does the same for the object's own hash. */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include "s3_private.h"

static const char *buf_str(const struct mg_buf *b)
{
	return b->buf ? b->buf : "";
}

static int unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

void s3_uri_encode(struct mg_buf *b, const char *s, size_t len, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (unreserved(c) || (keep_slash && c == '/')) {
			mg_buf_add(b, &s[i], 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			mg_buf_add(b, e, 3);
		}
	}
}

/* S3's encoded listings: lenient (a stray '%' stays, "%00" is a NUL byte);
 * the one percent-decoder is mg_pct_decode() in mg.h. */
char *s3_uri_decode(const char *s, size_t len, int plus_space)
{
	return s3_uri_decode_len(s, len, plus_space, NULL);
}

char *s3_uri_decode_len(const char *s, size_t len, int plus_space, size_t *outlen)
{
	return mg_pct_decode(s, len, plus_space ? MG_PCT_PLUS_SPACE : 0, outlen);
}

void s3_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];

	SHA256(data, len, md);
	mg_hex(md, 32, out);
}

void s3_base64(const unsigned char *in, size_t len, char *out, size_t outlen)
{
	/* EVP_EncodeBlock writes 4 bytes per 3 plus a NUL. */
	if (outlen < 4 * ((len + 2) / 3) + 1) {
		if (outlen)
			out[0] = '\0';
		return;
	}
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

/* HMAC-SHA256 (RFC 2104) on the low-level SHA-256: no lookup, no
 * allocation.  Keys longer than the block are hashed first. */
static void hmac(const void *key, size_t klen, const char *msg, size_t mlen,
		 unsigned char out[32])
{
	unsigned char k[SHA256_CBLOCK], pad[SHA256_CBLOCK], inner[32];
	SHA256_CTX c;

	memset(k, 0, sizeof(k));
	if (klen > sizeof(k))
		SHA256(key, klen, k);
	else
		memcpy(k, key, klen);
	for (size_t i = 0; i < sizeof(k); i++)
		pad[i] = k[i] ^ 0x36;
	SHA256_Init(&c);
	SHA256_Update(&c, pad, sizeof(pad));
	SHA256_Update(&c, msg, mlen);
	SHA256_Final(inner, &c);
	for (size_t i = 0; i < sizeof(k); i++)
		pad[i] = k[i] ^ 0x5c;
	SHA256_Init(&c);
	SHA256_Update(&c, pad, sizeof(pad));
	SHA256_Update(&c, inner, sizeof(inner));
	SHA256_Final(out, &c);
	OPENSSL_cleanse(k, sizeof(k));	/* the first key is the secret's */
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(&c, sizeof(c));
}

/* Removes "." and empty segments and resolves ".." (RFC 3986 5.2.4),
 * keeping a trailing '/'. */
static void path_normalize(const char *in, struct mg_buf *out)
{
	size_t n = strlen(in), nseg = 0;
	const char **seg = mg_calloc(n + 1, sizeof(*seg));
	size_t *slen = mg_calloc(n + 1, sizeof(*slen));
	const char *p = in;

	while (*p) {
		const char *e;
		size_t l;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchr(p, '/');
		l = e ? (size_t)(e - p) : strlen(p);
		if (l == 1 && p[0] == '.') {
			/* nothing */
		} else if (l == 2 && p[0] == '.' && p[1] == '.') {
			if (nseg)
				nseg--;
		} else {
			seg[nseg] = p;
			slen[nseg++] = l;
		}
		p += l;
	}
	mg_buf_adds(out, "/");
	for (size_t i = 0; i < nseg; i++) {
		if (i)
			mg_buf_adds(out, "/");
		mg_buf_add(out, seg[i], slen[i]);
	}
	if (nseg && n && in[n - 1] == '/')
		mg_buf_adds(out, "/");
	free(seg);
	free(slen);
}

/* One canonical header: lowercase name, value trimmed with inner runs of
 * whitespace (folded lines included) squeezed to one space. */
struct canon_hdr {
	char *name;
	struct mg_buf value;
	size_t order;
};

static int canon_hdr_cmp(const void *a, const void *b)
{
	const struct canon_hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void canon_value(const char *v, struct mg_buf *out)
{
	int space = 0;

	while (*v && isspace((unsigned char)*v))
		v++;
	for (; *v; v++) {
		if (isspace((unsigned char)*v)) {
			space = 1;
			continue;
		}
		if (space && out->len)
			mg_buf_adds(out, " ");
		space = 0;
		mg_buf_add(out, v, 1);
	}
	if (!out->buf)
		mg_buf_adds(out, "");
}

struct canon_q {
	struct mg_buf name, value;
};

static int canon_q_cmp(const void *a, const void *b)
{
	const struct canon_q *x = a, *y = b;
	int c = strcmp(buf_str(&x->name), buf_str(&y->name));

	return c ? c : strcmp(buf_str(&x->value), buf_str(&y->value));
}

static void scope_of(const struct s3_sign_cfg *cfg, const char *amz_date,
		     struct mg_buf *out)
{
	mg_buf_add(out, amz_date, 8);
	mg_buf_addf(out, "/%s/%s/aws4_request", cfg->region, cfg->service);
}

/*
 * Builds canonical request, string to sign and signature.  extra_q are
 * the X-Amz-* parameters of query mode (already in final, decoded form),
 * extra_h the x-amz-* headers of header mode.
 */
static int sign_common(const struct s3_sign_cfg *cfg, const struct s3_sign_req *req,
		       const struct s3_kv *extra_h, size_t nextra_h,
		       const struct s3_kv *extra_q, size_t nextra_q,
		       struct s3_signed *out)
{
	size_t nh = req->nheaders + nextra_h, nq = req->nquery + nextra_q, m = 0;
	struct canon_hdr *h = mg_calloc(nh + 1, sizeof(*h));
	struct canon_q *q = mg_calloc(nq + 1, sizeof(*q));
	struct mg_buf scope = MG_BUF_INIT;
	char hash[65];
	unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
	struct mg_buf key = MG_BUF_INIT;
	int have_host = 0;

	for (size_t i = 0; i < nh; i++) {
		const struct s3_kv *kv = i < req->nheaders ? &req->headers[i]
				: &extra_h[i - req->nheaders];

		h[i].name = mg_strdup(kv->name);
		for (char *c = h[i].name; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (strcmp(h[i].name, "host") == 0)
			have_host = 1;
		mg_buf_init(&h[i].value, 0);
		canon_value(kv->value ? kv->value : "", &h[i].value);
		h[i].order = i;
	}
	qsort(h, nh, sizeof(*h), canon_hdr_cmp);

	for (size_t i = 0; i < nq; i++) {
		const struct s3_kv *kv = i < req->nquery ? &req->query[i]
				: &extra_q[i - req->nquery];

		mg_buf_init(&q[i].name, 0);
		mg_buf_init(&q[i].value, 0);
		s3_uri_encode(&q[i].name, kv->name, strlen(kv->name), 0);
		if (kv->value)
			s3_uri_encode(&q[i].value, kv->value, strlen(kv->value), 0);
	}
	qsort(q, nq, sizeof(*q), canon_q_cmp);

	/* method, path */
	mg_buf_reset(&out->canonical);
	mg_buf_reset(&out->path);
	mg_buf_addf(&out->canonical, "%s\n", req->method);
	if (cfg->normalize) {
		struct mg_buf np = MG_BUF_INIT;

		path_normalize(req->path, &np);
		s3_uri_encode(&out->path, buf_str(&np), np.len, 1);
		mg_buf_release(&np);
	} else {
		s3_uri_encode(&out->path, req->path, strlen(req->path), 1);
	}
	if (!out->path.len)
		mg_buf_adds(&out->path, "/");
	mg_buf_add(&out->canonical, out->path.buf, out->path.len);
	mg_buf_adds(&out->canonical, "\n");

	/* query */
	mg_buf_reset(&out->query);
	for (size_t i = 0; i < nq; i++) {
		if (i)
			mg_buf_adds(&out->query, "&");
		mg_buf_addf(&out->query, "%s=%s", buf_str(&q[i].name),
			    buf_str(&q[i].value));
	}
	mg_buf_addf(&out->canonical, "%s\n", buf_str(&out->query));

	/* headers: one line per name, repeated names joined by ',' */
	mg_buf_reset(&out->signed_headers);
	for (size_t i = 0; i < nh; i++) {
		if (i && strcmp(h[i].name, h[i - 1].name) == 0) {
			mg_buf_addf(&out->canonical, ",%s", buf_str(&h[i].value));
			continue;
		}
		if (i)
			mg_buf_adds(&out->canonical, "\n");
		mg_buf_addf(&out->canonical, "%s:%s", h[i].name, buf_str(&h[i].value));
		if (m++)
			mg_buf_adds(&out->signed_headers, ";");
		mg_buf_adds(&out->signed_headers, h[i].name);
	}
	mg_buf_adds(&out->canonical, "\n\n");
	mg_buf_addf(&out->canonical, "%s\n%s", buf_str(&out->signed_headers),
		    req->payload_hash);

	/* string to sign */
	scope_of(cfg, out->amz_date, &scope);
	s3_sha256_hex(out->canonical.buf, out->canonical.len, hash);
	mg_buf_reset(&out->string_to_sign);
	mg_buf_addf(&out->string_to_sign, "AWS4-HMAC-SHA256\n%s\n%s\n%s",
		    out->amz_date, buf_str(&scope), hash);

	/* kSecret -> kDate -> kRegion -> kService -> kSigning */
	mg_buf_addf(&key, "AWS4%s", cfg->secret_key);
	hmac(key.buf, key.len, out->amz_date, 8, k1);
	memset(key.buf, 0, key.len);
	mg_buf_release(&key);
	hmac(k1, 32, cfg->region, strlen(cfg->region), k2);
	hmac(k2, 32, cfg->service, strlen(cfg->service), k3);
	hmac(k3, 32, "aws4_request", 12, k4);
	hmac(k4, 32, out->string_to_sign.buf, out->string_to_sign.len, sig);
	mg_hex(sig, 32, out->signature);

	for (size_t i = 0; i < nh; i++) {
		free(h[i].name);
		mg_buf_release(&h[i].value);
	}
	for (size_t i = 0; i < nq; i++) {
		mg_buf_release(&q[i].name);
		mg_buf_release(&q[i].value);
	}
	free(h);
	free(q);
	mg_buf_release(&scope);
	return have_host ? 0 : -1;
}

void s3_signed_init(struct s3_signed *s)
{
	memset(s, 0, sizeof(*s));
	mg_buf_init(&s->canonical, 0);
	mg_buf_init(&s->string_to_sign, 0);
	mg_buf_init(&s->signed_headers, 0);
	mg_buf_init(&s->authorization, 0);
	mg_buf_init(&s->query, 0);
	mg_buf_init(&s->path, 0);
}

void s3_signed_release(struct s3_signed *s)
{
	mg_buf_release(&s->canonical);
	mg_buf_release(&s->string_to_sign);
	mg_buf_release(&s->signed_headers);
	mg_buf_release(&s->authorization);
	mg_buf_release(&s->query);
	mg_buf_release(&s->path);
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void amz_date_of(time_t when, char out[17])
{
	struct tm tm;

	gmtime_r(&when, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

int s3_sign_header(const struct s3_sign_cfg *cfg, const struct s3_sign_req *req,
		   struct s3_signed *out)
{
	struct s3_kv extra[3];
	size_t n = 0;
	struct mg_buf scope = MG_BUF_INIT;
	int r;

	amz_date_of(cfg->when, out->amz_date);
	extra[n++] = (struct s3_kv){ "x-amz-date", out->amz_date };
	if (cfg->token && !cfg->omit_token)
		extra[n++] = (struct s3_kv){ "x-amz-security-token", cfg->token };
	if (cfg->sign_body)
		extra[n++] = (struct s3_kv){ "x-amz-content-sha256", req->payload_hash };
	r = sign_common(cfg, req, extra, n, NULL, 0, out);
	scope_of(cfg, out->amz_date, &scope);
	mg_buf_reset(&out->authorization);
	mg_buf_addf(&out->authorization,
		    "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		    cfg->access_key, buf_str(&scope), buf_str(&out->signed_headers),
		    out->signature);
	mg_buf_release(&scope);
	return r;
}

int s3_sign_query(const struct s3_sign_cfg *cfg, const struct s3_sign_req *req,
		  struct s3_signed *out)
{
	struct s3_kv extra[6];
	struct mg_buf cred = MG_BUF_INIT, sh = MG_BUF_INIT;
	char expires[24];
	size_t n = 0;
	int r, m = 0;

	amz_date_of(cfg->when, out->amz_date);
	mg_buf_addf(&cred, "%s/", cfg->access_key);
	scope_of(cfg, out->amz_date, &cred);
	/* The signed header list must be known before signing: it is one of
	 * the signed parameters. */
	{
		char **names = mg_calloc(req->nheaders + 1, sizeof(*names));

		for (size_t i = 0; i < req->nheaders; i++) {
			names[i] = mg_strdup(req->headers[i].name);
			for (char *c = names[i]; *c; c++)
				*c = (char)tolower((unsigned char)*c);
		}
		qsort(names, req->nheaders, sizeof(*names), str_ptr_cmp);
		for (size_t i = 0; i < req->nheaders; i++) {
			if (i && strcmp(names[i], names[i - 1]) == 0)
				continue;
			if (m++)
				mg_buf_adds(&sh, ";");
			mg_buf_adds(&sh, names[i]);
		}
		for (size_t i = 0; i < req->nheaders; i++)
			free(names[i]);
		free(names);
	}
	snprintf(expires, sizeof(expires), "%ld", cfg->expires);
	extra[n++] = (struct s3_kv){ "X-Amz-Algorithm", "AWS4-HMAC-SHA256" };
	extra[n++] = (struct s3_kv){ "X-Amz-Credential", buf_str(&cred) };
	extra[n++] = (struct s3_kv){ "X-Amz-Date", out->amz_date };
	extra[n++] = (struct s3_kv){ "X-Amz-Expires", expires };
	if (cfg->token && !cfg->omit_token)
		extra[n++] = (struct s3_kv){ "X-Amz-Security-Token", cfg->token };
	extra[n++] = (struct s3_kv){ "X-Amz-SignedHeaders", buf_str(&sh) };
	r = sign_common(cfg, req, NULL, 0, extra, n, out);
	mg_buf_addf(&out->query, "&X-Amz-Signature=%s", out->signature);
	if (cfg->token && cfg->omit_token) {
		mg_buf_adds(&out->query, "&X-Amz-Security-Token=");
		s3_uri_encode(&out->query, cfg->token, strlen(cfg->token), 0);
	}
	mg_buf_release(&cred);
	mg_buf_release(&sh);
	return r;
}
