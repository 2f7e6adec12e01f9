/*
 * s3_governance.c - what an S3 target asks of the server beyond the
 * bytes: server-side encryption by default (issue 15.1), and the storage
 * class a tiering rule chose (15.3).
 *
 * Every S3 target gets SSE-S3 (x-amz-server-side-encryption: AES256)
 * unless the plan says otherwise: `sse: aws:kms` (+ sse_kms_key_id),
 * `sse_c_key_env` (SSE-C, the key travels with each request), or
 * `encryption: none`.  The header rides on requests the run makes anyway
 * (PUT, CreateMultipartUpload, CopyObject): no request is added.
 *
 * Some providers encrypt everything at rest and refuse (or ignore) the
 * header: for them it is not sent, and `check` says why.  The facts below
 * are per provider (the name the price table uses, plans/pricing.yaml):
 *   send     the provider takes the header and reports it on HEAD;
 *   at_rest  the provider encrypts every object anyway and the header is
 *            not sent (Cloudflare R2 answers NotImplemented to it; Wasabi
 *            and GCS encrypt at rest whatever is asked).
 * An endpoint of no known provider (MinIO, Ceph RGW, anything else) gets
 * the header: a server that refuses it fails the first PUT with a message
 * naming the plan key to change (s3_sse_refused).
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MG_S3_INTERNAL 1
#include "s3_private.h"
#include "plan.h"
#include "pricing.h"

static const struct {
	const char *provider;
	int at_rest;		/* encrypted at rest anyway: no header; 0: a warning */
	const char *why;
} sse_providers[] = {
	{ "cloudflare-r2", 1, "Cloudflare R2 encrypts every object at rest and does not take the header" },
	{ "wasabi", 1, "Wasabi encrypts every object at rest" },
	{ "gcs", 1, "Google Cloud Storage encrypts every object at rest" },
	/* Ceph 16 (Pacific) answers 200 to the header and stores the object
	 * unencrypted (SSE-S3 came with Ceph 17, Quincy, and needs a key
	 * service): the header is still sent, and check says it loudly */
	{ "ceph", 0, "CEPH RGW BEFORE 17 (QUINCY) ACCEPTS THE HEADER AND STORES OBJECTS UNENCRYPTED: run 'migrate verify' to see what the server did" },
};

void s3_sse_choose(const struct mg_endpoint *ep, struct s3_sse_choice *c)
{
	const struct s3_options *o = s3_opts(ep);
	const char *prov = mg_pricing_provider_of(ep), *warn = NULL;

	memset(c, 0, sizeof(*c));
	if (o->sse_c_key_env) {
		c->expect = "SSE-C";
		c->required = 1;
		snprintf(c->note, sizeof(c->note),
			 "SSE-C with the key in $%s (sse_c_key_env)", o->sse_c_key_env);
		return;
	}
	if (o->sse && *o->sse) {
		c->header = o->sse;
		c->expect = o->sse;
		c->required = 1;
		if (strcmp(o->sse, "aws:kms") == 0)
			snprintf(c->note, sizeof(c->note), "SSE-KMS (aws:kms%s%s)",
				 o->sse_kms_key_id ? ", key " : "",
				 o->sse_kms_key_id ? o->sse_kms_key_id : "");
		else
			snprintf(c->note, sizeof(c->note), "SSE-S3 (AES256, sse: AES256)");
		return;
	}
	if (o->encryption_none) {
		snprintf(c->note, sizeof(c->note),
			 "none (encryption: none): objects are stored as the bucket's default says");
		return;
	}
	for (size_t i = 0; prov && i < sizeof(sse_providers) / sizeof(sse_providers[0]); i++) {
		if (strcmp(prov, sse_providers[i].provider))
			continue;
		if (!sse_providers[i].at_rest) {
			warn = sse_providers[i].why;
		} else {
			snprintf(c->note, sizeof(c->note),
				 "encrypted at rest by the provider, no header sent: %s",
				 sse_providers[i].why);
			return;
		}
	}
	c->header = "AES256";
	c->expect = "AES256";
	snprintf(c->note, sizeof(c->note),
		 "SSE-S3 (AES256) by default: write 'encryption: none' to send no header%s%s",
		 warn ? "; " : "", warn ? warn : "");
}

const char *s3_encryption(const struct mg_endpoint *ep, int *required, char *note,
			  size_t notelen)
{
	struct s3_sse_choice c;

	s3_sse_choose(ep, &c);
	*required = c.required;
	if (note && notelen)
		snprintf(note, notelen, "%s", c.note);
	return c.expect;
}

void s3_class_header(const struct mg_endpoint *ep, const struct mg_put_info *info,
		     void *arg, void (*add)(void *arg, const char *name, const char *value))
{
	const char *cls = info && info->storage_class && *info->storage_class ?
		info->storage_class : s3_opts(ep)->storage_class;

	if (cls && *cls)
		add(arg, "x-amz-storage-class", cls);
}

/*
 * Did the server refuse the encryption header?  Answers seen: RGW and
 * MinIO without a key service give 400 InvalidArgument / InvalidRequest
 * or 501 NotImplemented with a message about encryption; AWS without the
 * KMS key gives KMS.NotFoundException.
 */
int s3_sse_refused(long status, const char *code, const char *message)
{
	if (status != 400 && status != 501 && status != 403)
		return 0;
	if (code && (strncmp(code, "KMS.", 4) == 0 ||
		     strcasestr(code, "Encryption") || strcasestr(code, "KMS")))
		return 1;
	if (message && (strcasestr(message, "encrypt") || strcasestr(message, "kms") ||
			strcasestr(message, "server-side")))
		return 1;
	return status == 501 && code && strcmp(code, "NotImplemented") == 0;
}

/* Copies s into buf at *used; NULL when it does not fit (the header is
 * left out: the plan's limits keep a plan far below S3_GOV_BYTES). */
static const char *stash(char *buf, size_t buflen, size_t *used, const char *s,
			 size_t n)
{
	char *at = buf + *used;

	if (*used + n + 1 > buflen)
		return NULL;
	memcpy(at, s, n);
	at[n] = '\0';
	*used += n + 1;
	return at;
}

void s3_gov_headers(const struct mg_put_info *info, const struct mg_put_final *fin,
		    int copy, char *buf, size_t buflen, void *arg,
		    void (*add)(void *arg, const char *name, const char *value))
{
	const struct mg_governance *g = info->gov;
	const char *sha = fin && fin->sha256[0] ? fin->sha256 : NULL;
	struct mg_buf v = MG_BUF_INIT, t = MG_BUF_INIT, hdr = MG_BUF_INIT;
	size_t used = 0;
	const char *name, *val;

	for (size_t i = 0; i < g->nmeta; i++) {
		mg_buf_reset(&v);
		mg_buf_reset(&hdr);
		mg_gov_expand(g, g->meta[i].v, info->key, info->mtime_ns, sha, &v);
		for (size_t j = 0; j < v.len; j++) {
			unsigned char ch = (unsigned char)v.buf[j];

			if (ch < 0x20 || ch >= 0x7f || ch == '%')
				mg_buf_addf(&hdr, "%%%02X", ch);
			else
				mg_buf_add(&hdr, &v.buf[j], 1);
		}
		/* an empty value is left out: curl drops a header without
		 * one, and a signed header missing from the wire fails SigV4
		 * ({sha256} of a multipart upload) */
		if (!hdr.len)
			continue;
		mg_buf_reset(&v);
		mg_buf_addf(&v, "x-amz-meta-%s", g->meta[i].k);
		name = stash(buf, buflen, &used, v.buf, v.len);
		val = stash(buf, buflen, &used, hdr.buf, hdr.len);
		if (name && val)
			add(arg, name, val);
	}
	for (size_t i = 0; i < g->ntags; i++) {
		mg_buf_reset(&v);
		mg_gov_expand(g, g->tags[i].v, info->key, info->mtime_ns, sha, &v);
		if (i)
			mg_buf_adds(&t, "&");
		s3_uri_encode(&t, g->tags[i].k, strlen(g->tags[i].k), 0);
		mg_buf_adds(&t, "=");
		s3_uri_encode(&t, v.len ? v.buf : "", v.len, 0);
	}
	if (g->ntags && (val = stash(buf, buflen, &used, t.buf, t.len))) {
		add(arg, "x-amz-tagging", val);
		if (copy)
			add(arg, "x-amz-tagging-directive", "REPLACE");
	}
	mg_buf_release(&v);
	mg_buf_release(&t);
	mg_buf_release(&hdr);
}

/*
 * Object Lock (issue 15.5): the plan's retention and legal hold, sent
 * with every object on the request that creates it (PUT,
 * CreateMultipartUpload, CopyObject), from the run's governance on the
 * conn (mg_conn.gov): the engine sets it on the conns that write
 * objects only, so a quarantine copy or a probe's sample is not locked.
 */
int s3_lock_asked(const struct mg_governance *g)
{
	return g && ((g->lock_mode && *g->lock_mode) || g->legal_hold);
}

void s3_lock_headers(const struct mg_governance *g, void *arg,
		     void (*add)(void *arg, const char *name, const char *value))
{
	if (!s3_lock_asked(g))
		return;
	if (g->lock_mode && *g->lock_mode && g->lock_until && *g->lock_until) {
		add(arg, "x-amz-object-lock-mode", g->lock_mode);
		add(arg, "x-amz-object-lock-retain-until-date", g->lock_until);
	}
	if (g->legal_hold)
		add(arg, "x-amz-object-lock-legal-hold", "ON");
}

/* The base64 of the raw SHA-256 whose hex is hex (x-amz-checksum-sha256);
 * "" when hex is not 64 hex digits. */
void s3_sha256_b64(const char *hex, char out[48])
{
	unsigned char raw[32];

	out[0] = '\0';
	if (!hex || strlen(hex) != 64)
		return;
	for (int i = 0; i < 32; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return;
		raw[i] = (unsigned char)v;
	}
	s3_base64(raw, sizeof(raw), out, 48);
}
