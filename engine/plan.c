/*
 * plan.c - loads a plan file (YAML, libyaml's document API) into the
 * immutable struct mg_plan, validating every value on the way.
 *
 * Every error names FILE:LINE:COL of the node at fault and says what to
 * write instead: a plan is often edited by someone who runs it once a
 * month, so the message has to carry the documentation with it.
 *
 * Rules that apply everywhere (documented in plans/README.md):
 *   - ${VAR} is expanded in every scalar value, an unset VAR is an error,
 *     "$$" is a literal '$' (keys are never expanded);
 *   - relative paths written in the plan (folder urls, identity_file,
 *     journal, ...) resolve against the folder that holds the plan file,
 *     so a plan means the same thing whatever the current directory is;
 *     a leading "~" is the home folder.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <yaml.h>
#include "plan.h"

/* A plan is a page of text; anything bigger is the wrong file. */
#define PLAN_MAX_BYTES (1024 * 1024)

#define MiB ((uint64_t)1 << 20)
#define GiB ((uint64_t)1 << 30)
#define TiB ((uint64_t)1 << 40)

static const char *const providers[] = {
	"aws-s3", "backblaze-b2", "cloudflare-r2", "wasabi", "gcs",
	"azure-blob", "minio", "ceph", "sftp", "local", NULL
};

struct ctx {
	const char *file;	/* name used in messages */
	yaml_document_t doc;
	struct mg_error *err;
	char *basedir;		/* absolute folder of the plan file */
	struct mg_plan *plan;	/* for warnings */
};

/* ---------------------------------------------------------------- errors */

static int plan_errv(struct ctx *c, yaml_mark_t m, const char *fmt,
		     va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return mg_error_set(c->err, MG_FAILED, 0, 0, "plan", "%s:%zu:%zu: %s",
			    c->file, m.line + 1, m.column + 1, msg);
}

__attribute__((format(printf, 3, 4)))
static int plan_err(struct ctx *c, yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = plan_errv(c, n->start_mark, fmt, ap);
	va_end(ap);
	return r;
}

__attribute__((format(printf, 3, 4)))
static int plan_err_at(struct ctx *c, yaml_mark_t m, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = plan_errv(c, m, fmt, ap);
	va_end(ap);
	return r;
}

/* Something valid but worth a word: kept on the plan for `migrate check`
 * as "FILE:LINE:COL: warning: message". */
__attribute__((format(printf, 3, 4)))
static void plan_warn(struct ctx *c, yaml_node_t *n, const char *fmt, ...)
{
	struct mg_plan *plan = c->plan;
	struct mg_buf b = MG_BUF_INIT;
	va_list ap;

	mg_buf_addf(&b, "%s:%zu:%zu: warning: ", c->file,
		    n->start_mark.line + 1, n->start_mark.column + 1);
	va_start(ap, fmt);
	mg_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	plan->warnings = mg_realloc(plan->warnings, (plan->nwarnings + 1) *
				    sizeof(*plan->warnings));
	plan->warnings[plan->nwarnings++] = mg_buf_detach(&b);
}

/* ------------------------------------------------------------- strings */

/* Optimal string alignment distance (Levenshtein plus transpositions),
 * for "did you mean".  Keys are short; a fixed matrix is enough. */
static int edit_distance(const char *a, const char *b)
{
	enum { MAXL = 40 };
	int d[MAXL + 1][MAXL + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > MAXL || lb > MAXL)
		return MAXL;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int cost = tolower((unsigned char)a[i - 1]) !=
				   tolower((unsigned char)b[j - 1]);
			int v = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* The closest candidate if it is close enough to be a typo, else NULL:
 * one edit for short words, two from nine letters on. */
static const char *suggest(const char *word, const char *const *cands,
			   size_t n)
{
	const char *best = NULL;
	int bestd = INT_MAX;

	for (size_t i = 0; i < n; i++) {
		int d = edit_distance(word, cands[i]);
		int limit = strlen(cands[i]) >= 9 ? 2 : 1;

		if (d <= limit && d < bestd) {
			best = cands[i];
			bestd = d;
		}
	}
	return best;
}

/* Joins base and a relative path and drops "." and empty segments, so
 * "./sample" next to /srv/plans/p.yaml becomes /srv/plans/sample.  ".."
 * is kept: resolving it lexically would be wrong across symlinks. */
static char *path_join(const char *base, const char *rel)
{
	struct mg_buf b = MG_BUF_INIT;
	const char *p;

	if (rel[0] != '/')
		mg_buf_adds(&b, base);
	p = rel;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n && !(n == 1 && p[0] == '.')) {
			mg_buf_add(&b, "/", 1);
			mg_buf_add(&b, p, n);
		}
		p += n;
		if (*p == '/')
			p++;
	}
	if (b.len == 0)
		mg_buf_add(&b, "/", 1);
	return mg_buf_detach(&b);
}

static char *current_dir(void)
{
	char buf[PATH_MAX];

	if (!getcwd(buf, sizeof(buf)))
		return mg_strdup("/");
	return mg_strdup(buf);
}

/* "~" and "~/x" are the home folder, "~user/x" that user's.  Returns a
 * new string, or NULL with msg set. */
static char *expand_home(const char *s, char *msg, size_t msglen)
{
	const char *rest, *home = NULL;
	struct passwd *pw;
	char user[256];
	size_t n;

	if (s[0] != '~')
		return mg_strdup(s);
	rest = strchr(s, '/');
	n = rest ? (size_t)(rest - s - 1) : strlen(s + 1);
	if (!rest)
		rest = "";
	if (n == 0) {
		home = getenv("HOME");
		if (!home || !*home) {
			pw = getpwuid(getuid());
			home = pw ? pw->pw_dir : NULL;
		}
	} else if (n < sizeof(user)) {
		memcpy(user, s + 1, n);
		user[n] = '\0';
		pw = getpwnam(user);
		home = pw ? pw->pw_dir : NULL;
	}
	if (!home) {
		snprintf(msg, msglen,
			 "cannot expand '~' in '%s': no such user or no home folder",
			 s);
		return NULL;
	}
	return path_join(home, rest[0] == '/' ? rest + 1 : rest);
}

/* A path as written in a plan: "~" expanded, relative to basedir. */
static char *path_resolve(const char *base, const char *s, char *msg,
			  size_t msglen)
{
	char *h, *r;

	if (s[0] == '~')
		h = expand_home(s, msg, msglen);
	else
		h = mg_strdup(s);
	if (!h)
		return NULL;
	r = path_join(base, h);
	free(h);
	return r;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decodes n bytes of s; NULL on a bad escape or an encoded NUL. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = mg_malloc(n + 1), *o = out;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
			int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			*o++ = (char)(hi * 16 + lo);
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* ---------------------------------------------------------------- urls */

static const char *scheme_name(enum mg_scheme s)
{
	switch (s) {
	case MG_SCHEME_FILE: return "file";
	case MG_SCHEME_SFTP: return "sftp";
	case MG_SCHEME_S3: return "s3";
	case MG_SCHEME_TAR: return "tar";
	case MG_SCHEME_TAR_SFTP: return "tar+sftp";
	case MG_SCHEME_TAR_S3: return "tar+s3";
	}
	return "?";
}

/*
 * The endpoint's id keys its records in a journal shared by several
 * targets, so it must tell apart everything that is a different place:
 * two clouds may well both have a bucket called "data", hence the S3
 * endpoint is part of it.  Built from the parsed parts, not the text, so
 * "s3://b/p" and "S3://b/p" or "./x" and "/abs/x" agree.
 */
static void endpoint_set_id(struct mg_endpoint *ep)
{
	struct mg_buf b = MG_BUF_INIT;
	unsigned char md[32];
	unsigned int mdlen = 0;
	char hex[65];

	mg_buf_addf(&b, "%s://", scheme_name(ep->scheme));
	switch (ep->scheme) {
	case MG_SCHEME_SFTP:
	case MG_SCHEME_TAR_SFTP:
		mg_buf_addf(&b, "%s@", ep->user ? ep->user : "");
		for (const char *h = ep->host; *h; h++)
			mg_buf_addf(&b, "%c", tolower((unsigned char)*h));
		mg_buf_addf(&b, ":%d", ep->port);
		break;
	case MG_SCHEME_S3:
	case MG_SCHEME_TAR_S3:
		mg_buf_addf(&b, "%s/", ep->bucket);
		break;
	default:
		break;
	}
	mg_buf_adds(&b, ep->path ? ep->path : "");
	if (ep->endpoint) {
		size_t n = strlen(ep->endpoint);

		while (n > 0 && ep->endpoint[n - 1] == '/')
			n--;
		mg_buf_adds(&b, "\nendpoint=");
		for (size_t i = 0; i < n; i++)
			mg_buf_addf(&b, "%c",
				    tolower((unsigned char)ep->endpoint[i]));
	}
	EVP_Digest(b.buf, b.len, md, &mdlen, EVP_sha256(), NULL);
	mg_buf_release(&b);
	mg_hex(md, 8, hex);
	free(ep->id);
	ep->id = mg_strdup(hex);
}

static void url_parts_release(struct mg_endpoint *ep)
{
	free(ep->url);
	free(ep->user);
	free(ep->host);
	free(ep->bucket);
	free(ep->path);
	free(ep->id);
	ep->url = ep->user = ep->host = ep->bucket = ep->path = ep->id = NULL;
	ep->port = 0;
}

/* sftp://[user@]host[:port][/path], host may be [v6]. */
static int url_parse_sftp(struct mg_endpoint *ep, const char *rest,
			  char *msg, size_t msglen)
{
	const char *slash = strchr(rest, '/');
	const char *auth_end = slash ? slash : rest + strlen(rest);
	const char *at = NULL, *h, *hend, *port = NULL;

	for (const char *p = rest; p < auth_end; p++)
		if (*p == '@')
			at = p;
	if (at) {
		if (memchr(rest, ':', (size_t)(at - rest))) {
			/* never echo the url: it holds the password */
			snprintf(msg, msglen,
				 "passwords in urls are not accepted: remove it and name an environment variable holding it with 'password_env'");
			return -1;
		}
		ep->user = pct_decode(rest, (size_t)(at - rest));
		if (!ep->user || !*ep->user) {
			snprintf(msg, msglen, "bad user name in '%s'", ep->url);
			return -1;
		}
		h = at + 1;
	} else {
		h = rest;
	}
	if (*h == '[') {
		const char *close = memchr(h, ']', (size_t)(auth_end - h));

		if (!close || close == h + 1) {
			snprintf(msg, msglen,
				 "bad ipv6 address in '%s': write it as [::1]",
				 ep->url);
			return -1;
		}
		for (const char *p = h + 1; p < close; p++) {
			if (!isxdigit((unsigned char)*p) && *p != ':' &&
			    *p != '.') {
				snprintf(msg, msglen,
					 "bad ipv6 address in '%s'", ep->url);
				return -1;
			}
		}
		ep->host = mg_strndup(h + 1, (size_t)(close - h - 1));
		hend = close + 1;
		if (hend < auth_end && *hend != ':') {
			snprintf(msg, msglen, "bad host in '%s'", ep->url);
			return -1;
		}
	} else {
		hend = memchr(h, ':', (size_t)(auth_end - h));
		if (!hend)
			hend = auth_end;
		ep->host = mg_strndup(h, (size_t)(hend - h));
		for (const char *p = ep->host; *p; p++) {
			if (!isalnum((unsigned char)*p) && *p != '.' &&
			    *p != '-' && *p != '_') {
				snprintf(msg, msglen, "bad host name '%s' in '%s'",
					 ep->host, ep->url);
				return -1;
			}
		}
	}
	if (!*ep->host) {
		snprintf(msg, msglen,
			 "missing host in '%s': write sftp://user@host/path",
			 ep->url);
		return -1;
	}
	ep->port = 22;
	if (hend < auth_end && *hend == ':') {
		long v = 0;

		port = hend + 1;
		if (port == auth_end)
			v = -1;
		for (const char *p = port; p < auth_end && v >= 0; p++) {
			if (!isdigit((unsigned char)*p) || v > 65535)
				v = -1;
			else
				v = v * 10 + (*p - '0');
		}
		if (v < 1 || v > 65535) {
			snprintf(msg, msglen,
				 "bad port in '%s': use a number from 1 to 65535",
				 ep->url);
			return -1;
		}
		ep->port = (int)v;
	}
	if (!slash) {
		/* "sftp://host": the folder the server logs the user into */
		ep->path = mg_strdup("");
		return 0;
	}
	ep->path = pct_decode(slash, strlen(slash));
	if (!ep->path) {
		snprintf(msg, msglen,
			 "bad percent-escape in '%s': use %%XX with two hex digits",
			 ep->url);
		return -1;
	}
	return 0;
}

/* s3://bucket[/prefix] */
static int url_parse_s3(struct mg_endpoint *ep, const char *rest, char *msg,
			size_t msglen)
{
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);

	if (memchr(rest, '@', n)) {
		/* never echo the url: it probably holds a secret */
		snprintf(msg, msglen,
			 "s3 urls take no credentials: use 'access_key_id' and 'secret_access_key' (with ${VAR}) instead");
		return -1;
	}
	if (n == 0) {
		snprintf(msg, msglen,
			 "missing bucket in '%s': write s3://bucket/prefix",
			 ep->url);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char ch = rest[i];

		if (!isalnum((unsigned char)ch) && ch != '.' && ch != '-' &&
		    ch != '_') {
			snprintf(msg, msglen,
				 "bad bucket name '%.*s' in '%s': s3 urls are s3://bucket/prefix; the server goes in 'endpoint', credentials in 'access_key_id'",
				 (int)n, rest, ep->url);
			return -1;
		}
	}
	ep->bucket = mg_strndup(rest, n);
	ep->path = slash ? pct_decode(slash + 1, strlen(slash + 1))
			 : mg_strdup("");
	if (!ep->path) {
		snprintf(msg, msglen,
			 "bad percent-escape in '%s': use %%XX with two hex digits",
			 ep->url);
		return -1;
	}
	return 0;
}

/* file:///path, file://localhost/path (tar:// alike). */
static int url_parse_local(struct mg_endpoint *ep, const char *rest,
			   char *msg, size_t msglen)
{
	const char *p = rest;
	char *dec;

	if (strncasecmp(p, "localhost/", 10) == 0)
		p += 9;
	if (*p != '/') {
		snprintf(msg, msglen,
			 "'%s' must hold an absolute path: write %s:///path (three slashes)",
			 ep->url, scheme_name(ep->scheme));
		return -1;
	}
	dec = pct_decode(p, strlen(p));
	if (!dec) {
		snprintf(msg, msglen,
			 "bad percent-escape in '%s': use %%XX with two hex digits",
			 ep->url);
		return -1;
	}
	if (ep->scheme == MG_SCHEME_TAR && dec[strlen(dec) - 1] == '/') {
		snprintf(msg, msglen,
			 "'%s' must name an archive file, not a folder", ep->url);
		free(dec);
		return -1;
	}
	ep->path = path_join("/", dec);
	free(dec);
	return 0;
}

static const struct {
	const char *name;
	enum mg_scheme scheme;
	const char *connector;
} schemes[] = {
	{ "file", MG_SCHEME_FILE, "file" },
	{ "sftp", MG_SCHEME_SFTP, "sftp" },
	{ "s3", MG_SCHEME_S3, "s3" },
	{ "tar", MG_SCHEME_TAR, "tar" },
	{ "tar+sftp", MG_SCHEME_TAR_SFTP, "tar" },
	{ "tar+s3", MG_SCHEME_TAR_S3, "tar" },
};

static int url_parse(struct mg_endpoint *ep, const char *url,
		     const char *basedir, char *msg, size_t msglen)
{
	size_t n = 0, i;
	const char *rest;
	int r;

	url_parts_release(ep);
	ep->url = mg_strdup(url);
	ep->connector = NULL;
	if (!*url) {
		snprintf(msg, msglen, "the url is empty");
		return -1;
	}
	if (isalpha((unsigned char)url[0]))
		while (isalnum((unsigned char)url[n]) || url[n] == '+' ||
		       url[n] == '.' || url[n] == '-')
			n++;
	for (i = 0; n && i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strlen(schemes[i].name) == n &&
		    strncasecmp(url, schemes[i].name, n) == 0)
			break;
	/* "name:" alone is a scheme only when it is one we know: a folder
	 * may be called "data:2024" */
	if (n == 0 || url[n] != ':' ||
	    (strncmp(url + n + 1, "//", 2) != 0 &&
	     i == sizeof(schemes) / sizeof(schemes[0]))) {
		char *p;

		/* a plain path: no percent-decoding, a file may well be
		 * called "100%25" */
		p = path_resolve(basedir, url, msg, msglen);
		if (!p)
			return -1;
		ep->scheme = MG_SCHEME_FILE;
		ep->connector = "file";
		ep->path = p;
		endpoint_set_id(ep);
		return 0;
	}
	if (i == sizeof(schemes) / sizeof(schemes[0])) {
		snprintf(msg, msglen,
			 "unknown url scheme '%.*s' in '%s': use a folder path, file://, sftp://, s3://, tar://, tar+sftp:// or tar+s3://",
			 (int)n, url, url);
		return -1;
	}
	if (strncmp(url + n, "://", 3) != 0) {
		snprintf(msg, msglen, "'%s' lacks '//' after '%.*s:'", url,
			 (int)n, url);
		return -1;
	}
	rest = url + n + 3;
	ep->scheme = schemes[i].scheme;
	switch (ep->scheme) {
	case MG_SCHEME_FILE:
	case MG_SCHEME_TAR:
		r = url_parse_local(ep, rest, msg, msglen);
		break;
	case MG_SCHEME_SFTP:
	case MG_SCHEME_TAR_SFTP:
		r = url_parse_sftp(ep, rest, msg, msglen);
		break;
	default:
		r = url_parse_s3(ep, rest, msg, msglen);
		break;
	}
	if (r < 0)
		return -1;
	if (ep->scheme >= MG_SCHEME_TAR) {
		size_t l = strlen(ep->path);

		if (l == 0 || ep->path[l - 1] == '/') {
			snprintf(msg, msglen,
				 "'%s' must name an archive file, not a folder",
				 url);
			return -1;
		}
	}
	ep->connector = schemes[i].connector;
	endpoint_set_id(ep);
	return 0;
}

int mg_endpoint_parse_url(struct mg_endpoint *ep, const char *url, char *msg,
			  size_t msglen)
{
	char *cwd = current_dir();
	int r = url_parse(ep, url, cwd, msg, msglen);

	free(cwd);
	return r;
}

void mg_endpoint_release(struct mg_endpoint *ep)
{
	url_parts_release(ep);
	free(ep->endpoint);
	free(ep->region);
	free(ep->provider);
	free(ep->storage_class);
	free(ep->sse);
	free(ep->sse_kms_key_id);
	free(ep->sse_c_key_env);
	free(ep->access_key_id);
	free(ep->secret_access_key);
	free(ep->session_token);
	free(ep->profile);
	free(ep->ca_file);
	free(ep->identity_file);
	free(ep->passphrase_env);
	free(ep->password_env);
	free(ep->known_hosts);
	free(ep->host_key_fingerprint);
	free(ep->prefix);
	memset(ep, 0, sizeof(*ep));
}

/* -------------------------------------------------------------- scalars */

static const char *node_kind(yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE: return "a mapping";
	case YAML_SEQUENCE_NODE: return "a list";
	default: return "a value";
	}
}

static int scalar_is_null(yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* Expands ${VAR} and "$$"; a '$' before anything else stays as is. */
static int expand_vars(struct ctx *c, yaml_node_t *n, const char *key,
		       const char *in, char **out)
{
	/* a secret written inline must not end up in a message */
	int secret = strcmp(key, "secret_access_key") == 0 ||
		     strcmp(key, "session_token") == 0;
	struct mg_buf b = MG_BUF_INIT;
	const char *p = in;

	while (*p) {
		const char *d = strchr(p, '$');

		if (!d) {
			mg_buf_adds(&b, p);
			break;
		}
		mg_buf_add(&b, p, (size_t)(d - p));
		if (d[1] == '$') {
			mg_buf_add(&b, "$", 1);
			p = d + 2;
		} else if (d[1] == '{') {
			const char *name = d + 2, *e = name, *v;
			char var[256];

			if (isalpha((unsigned char)*e) || *e == '_')
				while (isalnum((unsigned char)*e) || *e == '_')
					e++;
			if (*e != '}' || e == name ||
			    (size_t)(e - name) >= sizeof(var)) {
				mg_buf_release(&b);
				if (secret)
					return plan_err(c, n,
							"bad variable reference in the value of '%s': write ${NAME} with letters, digits and '_', or $$ for a literal '$'",
							key);
				return plan_err(c, n,
						"bad variable reference in '%s': write ${NAME} with letters, digits and '_', or $$ for a literal '$'",
						in);
			}
			memcpy(var, name, (size_t)(e - name));
			var[e - name] = '\0';
			v = getenv(var);
			if (!v) {
				mg_buf_release(&b);
				return plan_err(c, n,
						"environment variable '%s' is not set",
						var);
			}
			mg_buf_adds(&b, v);
			p = e + 1;
		} else {
			mg_buf_add(&b, "$", 1);
			p = d + 1;
		}
	}
	*out = mg_buf_detach(&b);
	return 0;
}

/*
 * The expanded text of scalar n, the value of key.  want says what the
 * key takes ("an integer") for the message when n is a list or mapping.
 */
static int get_scalar(struct ctx *c, yaml_node_t *n, const char *key,
		      const char *want, char **out)
{
	if (n->type != YAML_SCALAR_NODE)
		return plan_err(c, n, "'%s' must be %s, got %s", key, want,
				node_kind(n));
	if (scalar_is_null(n))
		return plan_err(c, n, "'%s' has no value: give it one or remove the key",
				key);
	return expand_vars(c, n, key, (const char *)n->data.scalar.value, out);
}

static int get_string(struct ctx *c, yaml_node_t *n, const char *key,
		      char **out)
{
	char *s;

	if (get_scalar(c, n, key, "a string", &s) < 0)
		return MG_FAILED;
	free(*out);
	*out = s;
	return 0;
}

static int get_path(struct ctx *c, yaml_node_t *n, const char *key,
		    char **out)
{
	char msg[300], *s, *p;

	if (get_scalar(c, n, key, "a path", &s) < 0)
		return MG_FAILED;
	if (!*s) {
		free(s);
		return plan_err(c, n, "'%s' is empty: give a path", key);
	}
	p = path_resolve(c->basedir, s, msg, sizeof(msg));
	free(s);
	if (!p)
		return plan_err(c, n, "'%s': %s", key, msg);
	free(*out);
	*out = p;
	return 0;
}

static int get_int(struct ctx *c, yaml_node_t *n, const char *key,
		   long long min, long long max, long long *out)
{
	char *s, *end;
	long long v;
	int r = 0;

	if (get_scalar(c, n, key, "an integer", &s) < 0)
		return MG_FAILED;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (!*s || *end || isspace((unsigned char)*s) || s[0] == '+' ||
	    errno == ERANGE)
		r = plan_err(c, n, "'%s' must be an integer, got '%s'", key, s);
	else if (v < min || v > max)
		r = plan_err(c, n, "'%s' must be between %lld and %lld, got %lld",
			     key, min, max, v);
	else
		*out = v;
	free(s);
	return r;
}

static int get_bool(struct ctx *c, yaml_node_t *n, const char *key, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", NULL };
	static const char *const no[] = { "false", "no", "off", NULL };
	char *s;

	if (get_scalar(c, n, key, "true or false", &s) < 0)
		return MG_FAILED;
	for (int i = 0; yes[i]; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			free(s);
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			free(s);
			return 0;
		}
	}
	plan_err(c, n, "'%s' must be true or false, got '%s'", key, s);
	free(s);
	return MG_FAILED;
}

static void fmt_size(uint64_t v, char *out, size_t len)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int i = 0;

	while (i < 4 && v && v % 1024 == 0) {
		v /= 1024;
		i++;
	}
	snprintf(out, len, "%llu%s", (unsigned long long)v, u[i]);
}

static int get_size(struct ctx *c, yaml_node_t *n, const char *key,
		    uint64_t min, uint64_t max, uint64_t *out)
{
	char *s, a[32], b[32];
	uint64_t v;
	int r = 0;

	if (get_scalar(c, n, key, "a size", &s) < 0)
		return MG_FAILED;
	if (mg_parse_size(s, &v) < 0) {
		r = plan_err(c, n,
			     "'%s': bad size '%s': use a number with B, KB, MB, GB, TB, KiB, MiB, GiB or TiB",
			     key, s);
	} else if (v < min || v > max) {
		fmt_size(min, a, sizeof(a));
		fmt_size(max, b, sizeof(b));
		r = plan_err(c, n, "'%s' must be between %s and %s, got '%s'",
			     key, a, b, s);
	} else {
		*out = v;
	}
	free(s);
	return r;
}

static int get_rate(struct ctx *c, yaml_node_t *n, const char *key,
		    uint64_t *out)
{
	char *s;
	int r = 0;

	if (get_scalar(c, n, key, "a rate", &s) < 0)
		return MG_FAILED;
	if (mg_parse_rate(s, out) < 0)
		r = plan_err(c, n,
			     "'%s': bad rate '%s': use a number with B/s, KB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s, Kbit/s, Mbit/s, Gbit/s, or 'unlimited'",
			     key, s);
	free(s);
	return r;
}

static int get_duration(struct ctx *c, yaml_node_t *n, const char *key,
			int64_t *out)
{
	char *s;
	int r = 0;

	if (get_scalar(c, n, key, "a duration", &s) < 0)
		return MG_FAILED;
	if (mg_parse_duration(s, out) < 0)
		r = plan_err(c, n,
			     "'%s': bad duration '%s': use whole numbers with w, d, h, m or s, largest first, e.g. 30d or 1h30m",
			     key, s);
	free(s);
	return r;
}

/* One of a fixed set of words; *out is the index. */
static int get_choice(struct ctx *c, yaml_node_t *n, const char *key,
		      const char *const *words, const char *listed, int *out)
{
	char *s;

	if (get_scalar(c, n, key, listed, &s) < 0)
		return MG_FAILED;
	for (int i = 0; words[i]; i++) {
		if (strcmp(s, words[i]) == 0) {
			*out = i;
			free(s);
			return 0;
		}
	}
	plan_err(c, n, "'%s' must be %s, got '%s'", key, listed, s);
	free(s);
	return MG_FAILED;
}

/* ------------------------------------------------------------ mappings */

static yaml_node_t *node(struct ctx *c, int idx)
{
	return yaml_document_get_node(&c->doc, idx);
}

struct field {
	const char *name;
	yaml_node_t *key;
	yaml_node_t *val;
};

/*
 * Sorts the pairs of mapping map into fields[] by name: unknown and
 * duplicate keys are errors here, so the caller only looks at fields.
 */
static int map_fields(struct ctx *c, yaml_node_t *map, const char *what,
		      struct field *fields, size_t nfields)
{
	const char *names[64];

	if (map->type != YAML_MAPPING_NODE)
		return plan_err(c, map, "'%s' must be a mapping of keys, got %s",
				what, map->type == YAML_SCALAR_NODE ?
				"a single value" : node_kind(map));
	for (size_t i = 0; i < nfields && i < 64; i++)
		names[i] = fields[i].name;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
		const char *kn, *s;
		size_t i;

		if (k->type != YAML_SCALAR_NODE)
			return plan_err(c, k, "keys must be plain words, got %s",
					node_kind(k));
		kn = (const char *)k->data.scalar.value;
		for (i = 0; i < nfields; i++)
			if (strcmp(kn, fields[i].name) == 0)
				break;
		if (i == nfields) {
			struct mg_buf b = MG_BUF_INIT;
			int r;

			s = suggest(kn, names, nfields);
			if (s)
				return plan_err(c, k,
						"unknown key '%s' (did you mean '%s'?)",
						kn, s);
			for (i = 0; i < nfields; i++)
				mg_buf_addf(&b, "%s%s", i ? ", " : "",
					    fields[i].name);
			if (strcmp(what, "the plan") == 0)
				r = plan_err(c, k, "unknown key '%s': use one of %s",
					     kn, b.buf);
			else
				r = plan_err(c, k, "unknown key '%s' in '%s': use one of %s",
					     kn, what, b.buf);
			mg_buf_release(&b);
			return r;
		}
		if (fields[i].key)
			return plan_err(c, k, "duplicate key '%s' (first at line %zu)",
					kn, fields[i].key->start_mark.line + 1);
		fields[i].key = k;
		fields[i].val = v;
	}
	return 0;
}

static struct field *field_get(struct field *f, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return f[i].val ? &f[i] : NULL;
	return NULL;
}

#define FIELD(f, name) field_get((f), sizeof(f) / sizeof((f)[0]), (name))

/* ------------------------------------------------------------ endpoints */

enum ep_kind {
	EK_STR, EK_SECRET, EK_PATH, EK_ENV, EK_BOOL, EK_SIZE, EK_RATIO,
	EK_PROVIDER, EK_PATH_STYLE, EK_SYMLINKS, EK_SSE, EK_FINGERPRINT,
};

#define S_FILE (1u << MG_SCHEME_FILE)
#define S_SFTP (1u << MG_SCHEME_SFTP)
#define S_S3 (1u << MG_SCHEME_S3)
#define S_TAR (1u << MG_SCHEME_TAR)
#define S_TSFTP (1u << MG_SCHEME_TAR_SFTP)
#define S_TS3 (1u << MG_SCHEME_TAR_S3)
#define S_ALL 0x3fu
#define S_ANY_S3 (S_S3 | S_TS3)
#define S_ANY_SFTP (S_SFTP | S_TSFTP)
#define S_ANY_TAR (S_TAR | S_TSFTP | S_TS3)

#define EPF(x) offsetof(struct mg_endpoint, x)

static const struct ep_key {
	const char *name;
	enum ep_kind kind;
	size_t off;
	unsigned schemes;
} ep_keys[] = {
	{ "url", EK_STR, 0, S_ALL },
	{ "endpoint", EK_STR, EPF(endpoint), S_ANY_S3 },
	{ "region", EK_STR, EPF(region), S_ANY_S3 },
	{ "provider", EK_PROVIDER, EPF(provider), S_ALL },
	{ "path_style", EK_PATH_STYLE, EPF(path_style), S_ANY_S3 },
	{ "storage_class", EK_STR, EPF(storage_class), S_ANY_S3 },
	{ "sse", EK_SSE, EPF(sse), S_ANY_S3 },
	{ "sse_kms_key_id", EK_STR, EPF(sse_kms_key_id), S_ANY_S3 },
	{ "sse_c_key_env", EK_ENV, EPF(sse_c_key_env), S_ANY_S3 },
	{ "access_key_id", EK_STR, EPF(access_key_id), S_ANY_S3 },
	{ "secret_access_key", EK_SECRET, EPF(secret_access_key), S_ANY_S3 },
	{ "session_token", EK_SECRET, EPF(session_token), S_ANY_S3 },
	{ "profile", EK_STR, EPF(profile), S_ANY_S3 },
	{ "ca_file", EK_PATH, EPF(ca_file), S_ANY_S3 },
	{ "content_md5", EK_BOOL, EPF(content_md5), S_ANY_S3 },
	{ "identity_file", EK_PATH, EPF(identity_file), S_ANY_SFTP },
	{ "passphrase_env", EK_ENV, EPF(passphrase_env), S_ANY_SFTP },
	{ "password_env", EK_ENV, EPF(password_env), S_ANY_SFTP },
	{ "known_hosts", EK_PATH, EPF(known_hosts), S_ANY_SFTP },
	{ "host_key_fingerprint", EK_FINGERPRINT, EPF(host_key_fingerprint),
	  S_ANY_SFTP },
	{ "accept_new_host_keys", EK_BOOL, EPF(accept_new_host_keys),
	  S_ANY_SFTP },
	{ "symlinks", EK_SYMLINKS, EPF(symlinks),
	  S_FILE | S_SFTP | S_ANY_TAR },
	{ "prefix", EK_STR, EPF(prefix), S_ANY_TAR },
	{ "max_entry_size", EK_SIZE, EPF(max_entry_size), S_ANY_TAR },
	{ "max_ratio", EK_RATIO, EPF(max_ratio), S_ANY_TAR },
	{ "stored", EK_SIZE, EPF(stored_bytes), S_ALL },
};

#define NEP_KEYS (sizeof(ep_keys) / sizeof(ep_keys[0]))

static const char *scheme_words(unsigned mask)
{
	if (mask == S_ANY_S3)
		return "s3:// and tar+s3://";
	if (mask == S_ANY_SFTP)
		return "sftp:// and tar+sftp://";
	if (mask == S_ANY_TAR)
		return "tar://, tar+sftp:// and tar+s3://";
	return "folder, sftp:// and tar urls";
}

static int env_name_ok(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

static int ep_value(struct ctx *c, struct mg_endpoint *ep,
		    const struct ep_key *k, yaml_node_t *v)
{
	/* in enum mg_symlinks order */
	static const char *const symlinks[] = { "skip", "follow", "record",
						"follow-all", NULL };
	static const char *const sses[] = { "AES256", "aws:kms", NULL };
	static const char *const styles[] = { "false", "true", "auto", NULL };
	char **sp = (char **)((char *)ep + k->off);
	int *ip = (int *)((char *)ep + k->off);
	uint64_t *up = (uint64_t *)((char *)ep + k->off);
	long long ll;
	int i;

	switch (k->kind) {
	case EK_STR:
	case EK_SECRET:
		return get_string(c, v, k->name, sp);
	case EK_PATH:
		return get_path(c, v, k->name, sp);
	case EK_ENV:
		if (get_string(c, v, k->name, sp) < 0)
			return MG_FAILED;
		if (!env_name_ok(*sp))
			return plan_err(c, v,
					"'%s' must be the name of an environment variable (letters, digits, '_'), got '%s'",
					k->name, *sp);
		if (!getenv(*sp))
			return plan_err(c, v,
					"environment variable '%s' named by '%s' is not set",
					*sp, k->name);
		return 0;
	case EK_BOOL:
		return get_bool(c, v, k->name, ip);
	case EK_SIZE:
		return get_size(c, v, k->name, 0, UINT64_MAX, up);
	case EK_RATIO:
		if (get_int(c, v, k->name, 1, 1000000000, &ll) < 0)
			return MG_FAILED;
		*up = (uint64_t)ll;
		return 0;
	case EK_PROVIDER:
		if (get_choice(c, v, k->name, providers,
			       "one of aws-s3, backblaze-b2, cloudflare-r2, wasabi, gcs, azure-blob, minio, ceph, sftp, local",
			       &i) < 0)
			return MG_FAILED;
		*sp = mg_strdup(providers[i]);
		return 0;
	case EK_PATH_STYLE:
		if (get_choice(c, v, k->name, styles, "true, false or auto",
			       &i) < 0)
			return MG_FAILED;
		*ip = i == 2 ? -1 : i;
		return 0;
	case EK_SYMLINKS:
		if (get_choice(c, v, k->name, symlinks,
			       "skip, follow, follow-all or record", &i) < 0)
			return MG_FAILED;
		/* an archive's links cannot lead out of it: 'follow' already
		 * follows every one that resolves */
		if (i == MG_SYMLINKS_FOLLOW_ALL &&
		    (1u << ep->scheme) & S_ANY_TAR)
			return plan_err(c, v,
					"'symlinks: follow-all' is for folders and sftp://: in an archive, 'follow' already follows every link that resolves inside it");
		*(enum mg_symlinks *)ip = (enum mg_symlinks)i;
		return 0;
	case EK_SSE:
		if (get_choice(c, v, k->name, sses, "AES256 or aws:kms", &i) < 0)
			return MG_FAILED;
		*sp = mg_strdup(sses[i]);
		return 0;
	case EK_FINGERPRINT:
		if (get_string(c, v, k->name, sp) < 0)
			return MG_FAILED;
		if (strncmp(*sp, "SHA256:", 7) != 0 || !(*sp)[7])
			return plan_err(c, v,
					"'%s' must look like 'SHA256:...' as 'ssh-keygen -lf' prints it, got '%s'",
					k->name, *sp);
		return 0;
	}
	return 0;
}

/*
 * The S3 'endpoint': http:// or https:// and a host.  Credentials in it
 * (http://user:secret@host) are refused without echoing them, or they
 * would reach every error message, --json, the journal's run record and
 * `status`.  No scheme means https, which check says.  An SSE-C key is
 * sent in a header with every request, so plain http would give it away
 * (AWS's SDKs refuse the same).
 */
static int endpoint_url_check(struct ctx *c, yaml_node_t *v,
			      const struct mg_endpoint *ep,
			      const struct field *ssec)
{
	const char *e = ep->endpoint, *auth, *sep = strstr(e, "://");
	size_t alen;
	int http = 0;

	auth = sep ? sep + 3 : e;
	alen = strcspn(auth, "/?#");
	if (memchr(auth, '@', alen))
		return plan_err(c, v,
				"'endpoint' must not hold credentials (the 'user:password@' before the host): remove them and use 'access_key_id' and 'secret_access_key' (with ${VAR}) or 'profile'");
	if (sep) {
		if ((size_t)(sep - e) == 4 && strncasecmp(e, "http", 4) == 0)
			http = 1;
		else if ((size_t)(sep - e) != 5 || strncasecmp(e, "https", 5))
			return plan_err(c, v,
					"'endpoint' must start with https:// or http://, got '%.*s'",
					(int)(sep - e + 3), e);
	}
	if (alen == 0)
		return plan_err(c, v, "'endpoint' has no host: write https://host[:port]");
	if (!sep)
		plan_warn(c, v,
			  "'endpoint' has no scheme: '%.*s' is reached over https (write https:// or http:// to say so)",
			  (int)alen, auth);
	if (http && ssec)
		return plan_err(c, ssec->key,
				"'sse_c_key_env' names the SSE-C key '%s', which would cross the network in clear over http://: use an https:// endpoint",
				ep->sse_c_key_env);
	return 0;
}

static int endpoint_load(struct ctx *c, yaml_node_t *n, const char *what,
			 struct mg_endpoint *ep)
{
	struct field f[NEP_KEYS];
	char msg[400], *url = NULL;
	yaml_node_t *urlnode;
	int r;

	memset(ep, 0, sizeof(*ep));
	ep->line = (int)n->start_mark.line + 1;
	ep->col = (int)n->start_mark.column + 1;
	ep->path_style = -1;
	ep->symlinks = MG_SYMLINKS_SKIP;
	for (size_t i = 0; i < NEP_KEYS; i++)
		f[i] = (struct field){ ep_keys[i].name, NULL, NULL };

	if (n->type == YAML_SCALAR_NODE) {
		urlnode = n;
	} else if (n->type == YAML_MAPPING_NODE) {
		if (map_fields(c, n, what, f, NEP_KEYS) < 0)
			return MG_FAILED;
		if (!f[0].val)
			return plan_err(c, n, "missing required key 'url' in '%s'",
					what);
		urlnode = f[0].val;
	} else {
		return plan_err(c, n, "'%s' must be a url or a mapping with 'url', got %s",
				what, node_kind(n));
	}
	if (get_scalar(c, urlnode, urlnode == n ? what : "url", "a url",
		       &url) < 0)
		return MG_FAILED;
	r = url_parse(ep, url, c->basedir, msg, sizeof(msg));
	free(url);
	if (r < 0)
		return plan_err(c, urlnode, "%s", msg);
	if (n->type == YAML_SCALAR_NODE)
		return 0;

	for (size_t i = 1; i < NEP_KEYS; i++) {
		if (!f[i].val)
			continue;
		if (!(ep_keys[i].schemes & (1u << ep->scheme)))
			return plan_err(c, f[i].key,
					"'%s' does not apply to %s urls: it is for %s",
					ep_keys[i].name, scheme_name(ep->scheme),
					scheme_words(ep_keys[i].schemes));
		if (ep_value(c, ep, &ep_keys[i], f[i].val) < 0)
			return MG_FAILED;
	}

	/* combinations that would fail later, on the first request */
#define HAS(name) FIELD(f, name)
	if (HAS("sse") && HAS("sse_c_key_env"))
		return plan_err(c, HAS("sse_c_key_env")->key,
				"use either 'sse' or 'sse_c_key_env', not both");
	if (HAS("sse_kms_key_id") && (!ep->sse || strcmp(ep->sse, "aws:kms")))
		return plan_err(c, HAS("sse_kms_key_id")->key,
				"'sse_kms_key_id' needs 'sse: aws:kms'");
	if (HAS("secret_access_key") && !HAS("access_key_id"))
		return plan_err(c, HAS("secret_access_key")->key,
				"'secret_access_key' needs 'access_key_id'");
	if (HAS("access_key_id") && !HAS("secret_access_key"))
		return plan_err(c, HAS("access_key_id")->key,
				"'access_key_id' needs 'secret_access_key'");
	if (HAS("session_token") && !HAS("access_key_id"))
		return plan_err(c, HAS("session_token")->key,
				"'session_token' needs 'access_key_id'");
	if (HAS("profile") && HAS("access_key_id"))
		return plan_err(c, HAS("profile")->key,
				"use either 'profile' or 'access_key_id', not both");
	if (HAS("host_key_fingerprint") && HAS("accept_new_host_keys") &&
	    ep->accept_new_host_keys)
		return plan_err(c, HAS("accept_new_host_keys")->key,
				"use either 'host_key_fingerprint' or 'accept_new_host_keys', not both");
	if (HAS("endpoint") &&
	    endpoint_url_check(c, HAS("endpoint")->val, ep,
			       HAS("sse_c_key_env")) < 0)
		return MG_FAILED;
#undef HAS
	endpoint_set_id(ep);	/* now with the S3 endpoint */
	return 0;
}

/* ------------------------------------------------------------- sections */

static int name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return 0;
	return 1;
}

static int bandwidth_load(struct ctx *c, yaml_node_t *n, struct mg_plan *plan)
{
	yaml_node_pair_t *p;
	size_t cap;

	if (n->type != YAML_MAPPING_NODE)
		return get_rate(c, n, "bandwidth", &plan->transfer.bandwidth);
	cap = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	plan->transfer.timetable = mg_calloc(cap ? cap : 1,
					     sizeof(struct mg_bw_window));
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
		const char *kn;
		struct mg_bw_window w = { 0, 0, 0, 0 };

		if (k->type != YAML_SCALAR_NODE)
			return plan_err(c, k, "keys must be plain words, got %s",
					node_kind(k));
		kn = (const char *)k->data.scalar.value;
		for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *qk = node(c, q->key);

			if (qk->type == YAML_SCALAR_NODE &&
			    strcmp((char *)qk->data.scalar.value, kn) == 0)
				return plan_err(c, k, "duplicate key '%s' (first at line %zu)",
						kn, qk->start_mark.line + 1);
		}
		if (strcmp(kn, "default") == 0) {
			if (get_rate(c, v, "default", &plan->transfer.bandwidth) < 0)
				return MG_FAILED;
			continue;
		}
		if (mg_parse_window(kn, &w) < 0)
			return plan_err(c, k,
					"bad bandwidth window '%s': write DAYS HH:MM-HH:MM with days mon..sun, a range (mon-fri), a list (sat,sun) or daily, e.g. 'mon-fri 08:00-18:00'",
					kn);
		if (get_rate(c, v, kn, &w.rate) < 0)
			return MG_FAILED;
		plan->transfer.timetable[plan->transfer.ntimetable++] = w;
	}
	return 0;
}

static int transfer_load(struct ctx *c, yaml_node_t *n, struct mg_plan *plan)
{
	struct field f[] = {
		{ "concurrency", 0, 0 }, { "part_size", 0, 0 },
		{ "multipart_threshold", 0, 0 }, { "bandwidth", 0, 0 },
		{ "verify", 0, 0 }, { "dedupe", 0, 0 }, { "retries", 0, 0 },
		{ "dead_after", 0, 0 }, { "stall_timeout", 0, 0 },
	};
	struct field *x;
	long long ll;

	if (map_fields(c, n, "transfer", f, sizeof(f) / sizeof(f[0])) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "concurrency"))) {
		if (get_int(c, x->val, "concurrency", 1, 256, &ll) < 0)
			return MG_FAILED;
		plan->transfer.concurrency = (int)ll;
	}
	/* S3's limits: parts of 5 MiB to 5 GiB, objects up to 5 TiB */
	if ((x = FIELD(f, "part_size")) &&
	    get_size(c, x->val, "part_size", 5 * MiB, 5 * GiB,
		     &plan->transfer.part_size) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "multipart_threshold")) &&
	    get_size(c, x->val, "multipart_threshold", 5 * MiB, 5 * TiB,
		     &plan->transfer.multipart_threshold) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "bandwidth")) && bandwidth_load(c, x->val, plan) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "verify")) &&
	    get_bool(c, x->val, "verify", &plan->transfer.verify) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "dedupe")) &&
	    get_bool(c, x->val, "dedupe", &plan->transfer.dedupe) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "retries"))) {
		if (get_int(c, x->val, "retries", 0, 100, &ll) < 0)
			return MG_FAILED;
		plan->transfer.retries = (int)ll;
	}
	if ((x = FIELD(f, "dead_after"))) {
		if (get_duration(c, x->val, "dead_after", &plan->transfer.dead_after) < 0)
			return MG_FAILED;
		if (plan->transfer.dead_after < 5 || plan->transfer.dead_after > 86400)
			return plan_err(c, x->val, "'dead_after' must be between 5s and 1d");
	}
	if ((x = FIELD(f, "stall_timeout"))) {
		if (get_duration(c, x->val, "stall_timeout", &plan->transfer.stall_timeout) < 0)
			return MG_FAILED;
		if (plan->transfer.stall_timeout < 2 || plan->transfer.stall_timeout > 3600)
			return plan_err(c, x->val, "'stall_timeout' must be between 2s and 1h");
	}
	return 0;
}

/* Rejects what the matcher would silently read in another way. */
static int glob_check(struct ctx *c, yaml_node_t *n, const char *key,
		      const char *g)
{
	if (!*g)
		return plan_err(c, n, "'%s': empty glob", key);
	for (const char *p = g; *p; p++) {
		if (*p == '\\') {
			if (!p[1])
				return plan_err(c, n,
						"'%s': bad glob '%s': it ends in a lone '\\'",
						key, g);
			p++;
		} else if (*p == '[') {
			const char *q = p + 1;

			if (*q == '!' || *q == '^')
				q++;
			if (*q == ']')
				q++;
			while (*q && *q != ']') {
				if (*q == '\\' && q[1])
					q++;
				q++;
			}
			if (!*q)
				return plan_err(c, n,
						"'%s': bad glob '%s': '[' is not closed (write '\\[' for a literal '[')",
						key, g);
			p = q;
		}
	}
	return 0;
}

static int globs_load(struct ctx *c, yaml_node_t *n, const char *key,
		      char ***out, size_t *nout)
{
	yaml_node_item_t *it;
	size_t cap;

	if (n->type == YAML_SCALAR_NODE) {
		char *s;

		if (get_scalar(c, n, key, "a glob", &s) < 0)
			return MG_FAILED;
		*out = mg_calloc(1, sizeof(char *));
		(*out)[0] = s;
		*nout = 1;
		return glob_check(c, n, key, s);
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return plan_err(c, n, "'%s' must be a glob or a list of globs, got %s",
				key, node_kind(n));
	cap = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	*out = mg_calloc(cap ? cap : 1, sizeof(char *));
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *g = node(c, *it);
		char *s;

		if (g->type != YAML_SCALAR_NODE)
			return plan_err(c, g, "'%s' must be a glob or a list of globs, got %s in the list",
					key, node_kind(g));
		if (get_scalar(c, g, key, "a glob", &s) < 0)
			return MG_FAILED;
		(*out)[(*nout)++] = s;
		if (glob_check(c, g, key, s) < 0)
			return MG_FAILED;
	}
	return 0;
}

static int filter_load(struct ctx *c, yaml_node_t *n, struct mg_plan *plan)
{
	struct field f[] = {
		{ "include", 0, 0 }, { "exclude", 0, 0 },
		{ "min_size", 0, 0 }, { "max_size", 0, 0 },
		{ "newer_than", 0, 0 }, { "older_than", 0, 0 },
	};
	typeof(plan->filter) *fl = &plan->filter;
	struct field *x;

	if (map_fields(c, n, "filter", f, sizeof(f) / sizeof(f[0])) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "include")) &&
	    globs_load(c, x->val, "include", &fl->include, &fl->ninclude) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "exclude")) &&
	    globs_load(c, x->val, "exclude", &fl->exclude, &fl->nexclude) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "min_size")) &&
	    get_size(c, x->val, "min_size", 0, UINT64_MAX, &fl->min_size) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "max_size")) &&
	    get_size(c, x->val, "max_size", 0, UINT64_MAX, &fl->max_size) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "newer_than")) &&
	    get_duration(c, x->val, "newer_than", &fl->newer_than) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "older_than")) &&
	    get_duration(c, x->val, "older_than", &fl->older_than) < 0)
		return MG_FAILED;
	if (fl->min_size && fl->max_size && fl->min_size > fl->max_size)
		return plan_err(c, FIELD(f, "min_size")->key,
				"'min_size' is larger than 'max_size': nothing could pass the filter");
	if (fl->newer_than && fl->older_than && fl->newer_than <= fl->older_than)
		return plan_err(c, FIELD(f, "newer_than")->key,
				"'newer_than' must be longer than 'older_than': nothing could pass the filter");
	return 0;
}

static int delete_load(struct ctx *c, yaml_node_t *n, struct mg_plan *plan)
{
	struct field f[] = {
		{ "max_count", 0, 0 }, { "max_percent", 0, 0 },
		{ "quarantine_prefix", 0, 0 },
	};
	struct field *x;
	long long ll;

	if (map_fields(c, n, "delete", f, sizeof(f) / sizeof(f[0])) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "max_count"))) {
		if (get_int(c, x->val, "max_count", 0, LLONG_MAX, &ll) < 0)
			return MG_FAILED;
		plan->deletes.max_count = (uint64_t)ll;
	}
	if ((x = FIELD(f, "max_percent"))) {
		char *s, *end;
		double v;

		if (get_scalar(c, x->val, "max_percent", "a percentage", &s) < 0)
			return MG_FAILED;
		errno = 0;
		v = strtod(s, &end);
		if (*end == '%')
			end++;
		if (!isdigit((unsigned char)s[0]) || *end || errno ||
		    !(v >= 0 && v <= 100)) {
			plan_err(c, x->val,
				 "'max_percent' must be a percentage from 0 to 100 (like 10 or 10%%), got '%s'",
				 s);
			free(s);
			return MG_FAILED;
		}
		free(s);
		plan->deletes.max_percent = v;
	}
	if ((x = FIELD(f, "quarantine_prefix"))) {
		if (get_string(c, x->val, "quarantine_prefix",
			       &plan->deletes.quarantine_prefix) < 0)
			return MG_FAILED;
		if (!*plan->deletes.quarantine_prefix ||
		    plan->deletes.quarantine_prefix[0] == '/')
			return plan_err(c, x->val,
					"'quarantine_prefix' must be a key prefix such as 'quarantine/', not empty and without a leading '/'");
	}
	return 0;
}

/* Five fields of the usual cron characters; the daemon checks ranges. */
static int cron_ok(const char *s)
{
	int fields = 0;
	const char *p = s;

	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		fields++;
		while (*p && *p != ' ' && *p != '\t') {
			if (!isalnum((unsigned char)*p) && !strchr("*/,-", *p))
				return 0;
			p++;
		}
	}
	return fields == 5;
}

static int schedule_load(struct ctx *c, yaml_node_t *n, struct mg_plan *plan)
{
	struct field f[] = { { "cron", 0, 0 }, { "every", 0, 0 } };
	struct field *x;

	if (map_fields(c, n, "schedule", f, 2) < 0)
		return MG_FAILED;
	if (FIELD(f, "cron") && FIELD(f, "every"))
		return plan_err(c, FIELD(f, "every")->key,
				"use either 'cron' or 'every', not both");
	if ((x = FIELD(f, "cron"))) {
		if (get_string(c, x->val, "cron", &plan->schedule.cron) < 0)
			return MG_FAILED;
		if (!cron_ok(plan->schedule.cron))
			return plan_err(c, x->val,
					"'cron' must have 5 fields (minute hour day-of-month month day-of-week), e.g. '*/15 * * * *', got '%s'",
					plan->schedule.cron);
	}
	if ((x = FIELD(f, "every"))) {
		if (get_duration(c, x->val, "every", &plan->schedule.every) < 0)
			return MG_FAILED;
		if (plan->schedule.every <= 0)
			return plan_err(c, x->val, "'every' must be longer than 0s");
	}
	if (!FIELD(f, "cron") && !FIELD(f, "every"))
		return plan_err(c, n, "'schedule' needs 'cron' or 'every'");
	return 0;
}

/* metrics: { file: PATH } and pricing: { file: PATH } */
static int file_section_load(struct ctx *c, yaml_node_t *n, const char *what,
			     char **out)
{
	struct field f[] = { { "file", 0, 0 } };

	if (map_fields(c, n, what, f, 1) < 0)
		return MG_FAILED;
	if (!f[0].val)
		return plan_err(c, n, "missing required key 'file' in '%s'", what);
	return get_path(c, f[0].val, "file", out);
}

/* preserve: { mode: true|false } */
static int preserve_load(struct ctx *c, yaml_node_t *n, struct mg_plan *plan)
{
	struct field f[] = { { "mode", 0, 0 } };

	if (map_fields(c, n, "preserve", f, 1) < 0)
		return MG_FAILED;
	if (f[0].val && get_bool(c, f[0].val, "mode", &plan->preserve.mode) < 0)
		return MG_FAILED;
	return 0;
}

static int targets_load(struct ctx *c, struct field *target,
			struct field *targets, struct mg_plan *plan)
{
	yaml_node_t *n;
	size_t cap;

	if (target) {
		plan->targets = mg_calloc(1, sizeof(struct mg_endpoint));
		plan->ntargets = 1;
		if (endpoint_load(c, target->val, "target", &plan->targets[0]) < 0)
			return MG_FAILED;
	} else {
		n = targets->val;
		if (n->type != YAML_SEQUENCE_NODE)
			return plan_err(c, n, "'targets' must be a list of targets, got %s",
					n->type == YAML_SCALAR_NODE ?
					"a single value (use 'target' for one)" :
					node_kind(n));
		cap = (size_t)(n->data.sequence.items.top -
			       n->data.sequence.items.start);
		if (cap == 0)
			return plan_err(c, n, "'targets' is empty: list at least one target");
		if (cap > MG_PLAN_MAX_TARGETS)
			return plan_err(c, n,
					"'targets' lists %zu targets: a plan moves to at most %d at once; split it into several plans",
					cap, MG_PLAN_MAX_TARGETS);
		plan->targets = mg_calloc(cap, sizeof(struct mg_endpoint));
		for (size_t i = 0; i < cap; i++) {
			yaml_node_t *t = node(c, n->data.sequence.items.start[i]);

			plan->ntargets = i + 1;
			if (endpoint_load(c, t, "targets", &plan->targets[i]) < 0)
				return MG_FAILED;
		}
	}
	for (size_t i = 0; i < plan->ntargets; i++) {
		struct mg_endpoint *t = &plan->targets[i];
		yaml_mark_t m = { 0, (size_t)t->line - 1, (size_t)t->col - 1 };

		if (t->scheme >= MG_SCHEME_TAR)
			return plan_err_at(c, m,
					   "'%s' cannot be a target: archives are read only; write into a folder, sftp:// or s3:// instead",
					   t->url);
		if (strcmp(t->id, plan->source.id) == 0)
			return plan_err_at(c, m,
					   "target '%s' is the same place as the source",
					   t->url);
		for (size_t j = 0; j < i; j++)
			if (strcmp(t->id, plan->targets[j].id) == 0)
				return plan_err_at(c, m,
						   "target '%s' is listed twice (first at line %d)",
						   t->url, plan->targets[j].line);
	}
	return 0;
}

static int plan_from_doc(struct ctx *c, yaml_node_t *root, struct mg_plan *plan)
{
	struct field f[] = {
		{ "version", 0, 0 }, { "name", 0, 0 }, { "source", 0, 0 },
		{ "target", 0, 0 }, { "targets", 0, 0 }, { "mode", 0, 0 },
		{ "transfer", 0, 0 }, { "filter", 0, 0 }, { "journal", 0, 0 },
		{ "delete", 0, 0 }, { "schedule", 0, 0 }, { "metrics", 0, 0 },
		{ "pricing", 0, 0 }, { "preserve", 0, 0 },
	};
	static const char *const modes[] = { "copy", "sync", NULL };
	struct field *x;
	char *s;
	int i;

	if (root->type != YAML_MAPPING_NODE)
		return plan_err(c, root,
				"a plan is a mapping of keys (version: 1, name: ..., source: ..., target: ...), got %s",
				root->type == YAML_SCALAR_NODE ? "a single value" :
				node_kind(root));
	if (map_fields(c, root, "the plan", f, sizeof(f) / sizeof(f[0])) < 0)
		return MG_FAILED;
	for (const char *const *req = (const char *const[]){ "version", "name",
			"source", NULL }; *req; req++)
		if (!FIELD(f, *req))
			return plan_err(c, root, "missing required key '%s'", *req);
	if (!FIELD(f, "target") && !FIELD(f, "targets"))
		return plan_err(c, root,
				"missing required key 'target' (or 'targets' for several)");
	if (FIELD(f, "target") && FIELD(f, "targets"))
		return plan_err(c, FIELD(f, "targets")->key,
				"use either 'target' or 'targets', not both");

	x = FIELD(f, "version");
	if (get_scalar(c, x->val, "version", "1", &s) < 0)
		return MG_FAILED;
	if (strcmp(s, "1") != 0) {
		plan_err(c, x->val,
			 "unsupported plan version '%s': this migrate reads version 1",
			 s);
		free(s);
		return MG_FAILED;
	}
	free(s);
	plan->version = 1;

	x = FIELD(f, "name");
	if (get_string(c, x->val, "name", &plan->name) < 0)
		return MG_FAILED;
	if (!name_ok(plan->name))
		return plan_err(c, x->val,
				"'name' must be 1 to 128 letters, digits, '.', '_' or '-', got '%s'",
				plan->name);

	if (endpoint_load(c, FIELD(f, "source")->val, "source", &plan->source) < 0)
		return MG_FAILED;
	if (targets_load(c, FIELD(f, "target"), FIELD(f, "targets"), plan) < 0)
		return MG_FAILED;

	if ((x = FIELD(f, "mode"))) {
		if (get_choice(c, x->val, "mode", modes, "copy or sync", &i) < 0)
			return MG_FAILED;
		plan->mode = i ? MG_MODE_SYNC : MG_MODE_COPY;
	}
	if ((x = FIELD(f, "transfer")) && transfer_load(c, x->val, plan) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "filter")) && filter_load(c, x->val, plan) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "journal")) &&
	    get_path(c, x->val, "journal", &plan->journal) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "delete"))) {
		if (plan->mode != MG_MODE_SYNC)
			return plan_err(c, x->key,
					"'delete' applies only to 'mode: sync' (copy never deletes)");
		if (delete_load(c, x->val, plan) < 0)
			return MG_FAILED;
	}
	if ((x = FIELD(f, "schedule")) && schedule_load(c, x->val, plan) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "metrics")) &&
	    file_section_load(c, x->val, "metrics", &plan->metrics_file) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "pricing")) &&
	    file_section_load(c, x->val, "pricing", &plan->pricing_file) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "preserve")) && preserve_load(c, x->val, plan) < 0)
		return MG_FAILED;

	if (!plan->journal) {
		/* not written in the plan, so not relative to it: the state
		 * lives where migrate is run from, as git's does */
		char *cwd = current_dir(), *rel;

		rel = mg_malloc(strlen(plan->name) + 16);
		sprintf(rel, ".migrate/%s", plan->name);
		plan->journal = path_join(cwd, rel);
		free(rel);
		free(cwd);
	}
	return 0;
}

/* Line and column of byte offset off in text, for reader errors (bad
 * UTF-8) where libyaml only gives the offset. */
static yaml_mark_t offset_mark(const char *text, size_t len, size_t off)
{
	yaml_mark_t m = { off, 0, 0 };

	for (size_t i = 0; i < off && i < len; i++) {
		if (text[i] == '\n') {
			m.line++;
			m.column = 0;
		} else {
			m.column++;
		}
	}
	return m;
}

static int yaml_failed(struct ctx *c, yaml_parser_t *p, const char *text,
		       size_t len)
{
	yaml_mark_t m = p->problem_mark;

	if (p->error == YAML_READER_ERROR)
		m = offset_mark(text, len, p->problem_offset);
	if (p->context)
		return plan_err_at(c, m, "malformed yaml: %s %s", p->problem ?
				   p->problem : "error", p->context);
	return plan_err_at(c, m, "malformed yaml: %s",
			   p->problem ? p->problem : "cannot parse");
}

/*
 * The nesting guard.  libyaml builds a document of any depth, and a
 * deeply nested one costs it time that grows faster than the text (200,000
 * '[' took over a minute); no plan or price table nests more than a handful
 * of levels.  So the events are counted first, and the document is built
 * only when no collection opens deeper than max.  The pull parser stops at
 * the first event past the limit, so a hostile file costs what its first
 * few hundred bytes cost.  A syntax error ends the count quietly: the load
 * that follows reports it with its usual message.
 */
int mg_yaml_too_deep(const char *text, size_t len, int max, size_t *line,
		     size_t *col)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0, r = 0, done = 0;

	if (!yaml_parser_initialize(&parser))
		return 0;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done && yaml_parser_parse(&parser, &ev)) {
		switch (ev.type) {
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (++depth > max) {
				*line = ev.start_mark.line + 1;
				*col = ev.start_mark.column + 1;
				r = 1;
				done = 1;
			}
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			depth--;
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return r;
}

static void plan_defaults(struct mg_plan *plan)
{
	plan->transfer.concurrency = 4;
	/* 16 MiB: what a worker holds in memory per object above the small
	 * (dedupe) bound, and how soon its first byte goes out */
	plan->transfer.part_size = 16 * MiB;
	plan->transfer.multipart_threshold = 16 * MiB;
	plan->transfer.verify = 1;
	plan->transfer.dedupe = 1;
	plan->preserve.mode = 1;
	plan->transfer.retries = 5;
	plan->transfer.dead_after = 60;
	plan->transfer.stall_timeout = 30;
}

int mg_plan_load_string(const char *name, const char *text, size_t len,
			struct mg_plan *plan, struct mg_error *err)
{
	struct ctx c = { .file = name, .err = err, .plan = plan };
	yaml_parser_t parser;
	yaml_node_t *root;
	unsigned int mdlen;
	char *cwd, *slash;
	int r = MG_FAILED;

	memset(plan, 0, sizeof(*plan));
	plan->file = mg_strdup(name);
	plan_defaults(plan);
	EVP_Digest(text, len, plan->hash, &mdlen, EVP_sha256(), NULL);

	cwd = current_dir();
	slash = strrchr(name, '/');
	if (slash) {
		char *dir = mg_strndup(name, (size_t)(slash - name));

		c.basedir = path_join(cwd, dir);
		free(dir);
	} else {
		c.basedir = mg_strdup(cwd);
	}
	free(cwd);
	/* the real folder, so "plans/p.yaml" and "../plans/p.yaml" give the
	 * same paths and so the same endpoint ids (journal keys) */
	{
		char *real = realpath(c.basedir, NULL);

		if (real) {
			free(c.basedir);
			c.basedir = real;
		}
	}

	{
		size_t line, col;

		if (mg_yaml_too_deep(text, len, MG_YAML_MAX_DEPTH, &line, &col)) {
			mg_error_set(err, MG_FAILED, 0, 0, "plan",
				     "%s:%zu:%zu: nesting deeper than %d levels: is it the right file?",
				     name, line, col, MG_YAML_MAX_DEPTH);
			goto out;
		}
	}
	if (!yaml_parser_initialize(&parser)) {
		mg_error_set(err, MG_FAILED, 0, 0, "plan",
			     "%s: cannot start the yaml parser", name);
		goto out;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &c.doc)) {
		yaml_failed(&c, &parser, text, len);
		yaml_parser_delete(&parser);
		goto out;
	}
	root = yaml_document_get_root_node(&c.doc);
	if (!root) {
		yaml_mark_t m = { 0, 0, 0 };

		plan_err_at(&c, m, "the plan is empty: start with 'version: 1'");
	} else {
		yaml_document_t next;

		if (!yaml_parser_load(&parser, &next)) {
			yaml_failed(&c, &parser, text, len);
		} else {
			if (yaml_document_get_root_node(&next))
				plan_err_at(&c, next.start_mark,
					    "a plan file holds one yaml document; remove the second one (after '---')");
			else if (plan_from_doc(&c, root, plan) == 0)
				r = MG_OK;
			/* every connector reads its request limits from its
			 * endpoint, never from the plan */
			plan->source.stall_timeout = (int)plan->transfer.stall_timeout;
			for (size_t i = 0; i < plan->ntargets; i++)
				plan->targets[i].stall_timeout = (int)plan->transfer.stall_timeout;
			yaml_document_delete(&next);
		}
	}
	yaml_document_delete(&c.doc);
	yaml_parser_delete(&parser);
out:
	free(c.basedir);
	if (r != MG_OK) {
		if (!err->status)	/* never report failure without a reason */
			mg_error_set(err, MG_FAILED, 0, 0, "plan",
				     "%s: cannot load the plan", name);
		mg_plan_release(plan);
	}
	return r;
}

int mg_plan_load(const char *path, struct mg_plan *plan, struct mg_error *err)
{
	struct mg_buf b = MG_BUF_INIT;
	char chunk[8192];
	FILE *f;
	size_t n;
	int r;

	memset(plan, 0, sizeof(*plan));
	f = fopen(path, "rb");
	if (!f)
		return mg_error_set(err, MG_FAILED, errno, 0, "open",
				    "%s: cannot read the plan: %s", path,
				    strerror(errno));
	mg_buf_init(&b, PLAN_MAX_BYTES);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (mg_buf_add(&b, chunk, n) < 0) {
			fclose(f);
			mg_buf_release(&b);
			return mg_error_set(err, MG_FAILED, 0, 0, "read",
					    "%s: the plan is larger than 1 MiB: is it the right file?",
					    path);
		}
	}
	if (ferror(f)) {
		int e = errno;

		fclose(f);
		mg_buf_release(&b);
		return mg_error_set(err, MG_FAILED, e, 0, "read",
				    "%s: cannot read the plan: %s", path,
				    strerror(e));
	}
	fclose(f);
	r = mg_plan_load_string(path, b.buf ? b.buf : "", b.len, plan, err);
	mg_buf_release(&b);
	return r;
}

void mg_plan_release(struct mg_plan *plan)
{
	free(plan->file);
	free(plan->name);
	mg_endpoint_release(&plan->source);
	for (size_t i = 0; i < plan->ntargets; i++)
		mg_endpoint_release(&plan->targets[i]);
	free(plan->targets);
	free(plan->transfer.timetable);
	for (size_t i = 0; i < plan->filter.ninclude; i++)
		free(plan->filter.include[i]);
	free(plan->filter.include);
	for (size_t i = 0; i < plan->filter.nexclude; i++)
		free(plan->filter.exclude[i]);
	free(plan->filter.exclude);
	free(plan->journal);
	free(plan->deletes.quarantine_prefix);
	free(plan->schedule.cron);
	free(plan->metrics_file);
	free(plan->pricing_file);
	for (size_t i = 0; i < plan->nwarnings; i++)
		free(plan->warnings[i]);
	free(plan->warnings);
	memset(plan, 0, sizeof(*plan));
}

/* ----------------------------------------------------------------- dump */

/* A double-quoted YAML string that loads back as s: '$' is doubled
 * because the loader expands ${VAR}. */
static void dump_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p == '$')
			fputs("$$", out);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\x%02x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void dump_kv(FILE *out, const char *indent, const char *k,
		    const char *v)
{
	if (!v)
		return;
	fprintf(out, "%s%s: ", indent, k);
	dump_str(out, v);
	fputc('\n', out);
}

static void dump_endpoint(FILE *out, const char *first, const char *indent,
			  const struct mg_endpoint *ep)
{
	static const char *const symlinks[] = { "skip", "follow", "record",
						"follow-all" };

	/* a folder is written out absolute: the dump may be read elsewhere */
	fprintf(out, "%surl: ", first);
	dump_str(out, ep->scheme == MG_SCHEME_FILE ? ep->path : ep->url);
	fputc('\n', out);
	dump_kv(out, indent, "endpoint", ep->endpoint);
	dump_kv(out, indent, "region", ep->region);
	dump_kv(out, indent, "provider", ep->provider);
	if (ep->path_style >= 0)
		fprintf(out, "%spath_style: %s\n", indent,
			ep->path_style ? "true" : "false");
	dump_kv(out, indent, "storage_class", ep->storage_class);
	dump_kv(out, indent, "sse", ep->sse);
	dump_kv(out, indent, "sse_kms_key_id", ep->sse_kms_key_id);
	dump_kv(out, indent, "sse_c_key_env", ep->sse_c_key_env);
	dump_kv(out, indent, "access_key_id", ep->access_key_id);
	dump_kv(out, indent, "secret_access_key",
		ep->secret_access_key ? "***" : NULL);
	dump_kv(out, indent, "session_token", ep->session_token ? "***" : NULL);
	dump_kv(out, indent, "profile", ep->profile);
	dump_kv(out, indent, "ca_file", ep->ca_file);
	if (ep->content_md5)
		fprintf(out, "%scontent_md5: true\n", indent);
	dump_kv(out, indent, "identity_file", ep->identity_file);
	dump_kv(out, indent, "passphrase_env", ep->passphrase_env);
	dump_kv(out, indent, "password_env", ep->password_env);
	dump_kv(out, indent, "known_hosts", ep->known_hosts);
	dump_kv(out, indent, "host_key_fingerprint", ep->host_key_fingerprint);
	if (ep->accept_new_host_keys)
		fprintf(out, "%saccept_new_host_keys: true\n", indent);
	if (ep->symlinks != MG_SYMLINKS_SKIP)
		fprintf(out, "%ssymlinks: %s\n", indent, symlinks[ep->symlinks]);
	dump_kv(out, indent, "prefix", ep->prefix);
	if (ep->max_entry_size)
		fprintf(out, "%smax_entry_size: %llu\n", indent,
			(unsigned long long)ep->max_entry_size);
	if (ep->max_ratio)
		fprintf(out, "%smax_ratio: %llu\n", indent,
			(unsigned long long)ep->max_ratio);
	if (ep->stored_bytes)
		fprintf(out, "%sstored: %llu\n", indent,
			(unsigned long long)ep->stored_bytes);
	fprintf(out, "%s# id: %s, connector: %s\n", indent, ep->id,
		ep->connector);
}

static void dump_rate(FILE *out, uint64_t rate)
{
	if (rate)
		fprintf(out, "%lluB/s", (unsigned long long)rate);
	else
		fputs("unlimited", out);
}

static void dump_globs(FILE *out, const char *key, char *const *g, size_t n)
{
	if (!n)
		return;
	fprintf(out, "  %s:\n", key);
	for (size_t i = 0; i < n; i++) {
		fputs("    - ", out);
		dump_str(out, g[i]);
		fputc('\n', out);
	}
}

void mg_plan_dump(const struct mg_plan *plan, FILE *out)
{
	static const char *const days[] = {
		"mon", "tue", "wed", "thu", "fri", "sat", "sun"
	};
	const typeof(plan->filter) *f = &plan->filter;
	char hex[65];

	mg_hex(plan->hash, sizeof(plan->hash), hex);
	fprintf(out, "# %s as migrate reads it (secrets masked)\n# sha256: %s\n",
		plan->file ? plan->file : "plan", hex);
	fprintf(out, "version: %d\nname: ", plan->version);
	dump_str(out, plan->name ? plan->name : "");
	fputs("\nsource:\n", out);
	dump_endpoint(out, "  ", "  ", &plan->source);
	fputs("targets:\n", out);
	for (size_t i = 0; i < plan->ntargets; i++)
		dump_endpoint(out, "  - ", "    ", &plan->targets[i]);
	fprintf(out, "mode: %s\n", plan->mode == MG_MODE_SYNC ? "sync" : "copy");

	fprintf(out, "transfer:\n  concurrency: %d\n  part_size: %llu\n"
		"  multipart_threshold: %llu\n", plan->transfer.concurrency,
		(unsigned long long)plan->transfer.part_size,
		(unsigned long long)plan->transfer.multipart_threshold);
	if (plan->transfer.ntimetable) {
		fputs("  bandwidth:\n    default: ", out);
		dump_rate(out, plan->transfer.bandwidth);
		fputc('\n', out);
		for (size_t i = 0; i < plan->transfer.ntimetable; i++) {
			const struct mg_bw_window *w = &plan->transfer.timetable[i];
			int first = 1;

			fputs("    \"", out);
			if ((w->days & 0x7f) == 0x7f) {
				fputs("daily", out);
			} else {
				for (int d = 0; d < 7; d++) {
					if (!(w->days & (1u << d)))
						continue;
					fprintf(out, "%s%s", first ? "" : ",", days[d]);
					first = 0;
				}
			}
			fprintf(out, " %02d:%02d-%02d:%02d\": ", w->start_min / 60,
				w->start_min % 60, w->end_min / 60, w->end_min % 60);
			dump_rate(out, w->rate);
			fputc('\n', out);
		}
	} else {
		fputs("  bandwidth: ", out);
		dump_rate(out, plan->transfer.bandwidth);
		fputc('\n', out);
	}
	fprintf(out, "  verify: %s\n  dedupe: %s\n  retries: %d\n",
		plan->transfer.verify ? "true" : "false",
		plan->transfer.dedupe ? "true" : "false", plan->transfer.retries);
	fprintf(out, "  dead_after: %" PRId64 "s\n  stall_timeout: %" PRId64 "s\n",
		plan->transfer.dead_after, plan->transfer.stall_timeout);

	if (f->ninclude || f->nexclude || f->min_size || f->max_size ||
	    f->newer_than || f->older_than) {
		fputs("filter:\n", out);
		dump_globs(out, "include", f->include, f->ninclude);
		dump_globs(out, "exclude", f->exclude, f->nexclude);
		if (f->min_size)
			fprintf(out, "  min_size: %llu\n",
				(unsigned long long)f->min_size);
		if (f->max_size)
			fprintf(out, "  max_size: %llu\n",
				(unsigned long long)f->max_size);
		if (f->newer_than)
			fprintf(out, "  newer_than: %llds\n",
				(long long)f->newer_than);
		if (f->older_than)
			fprintf(out, "  older_than: %llds\n",
				(long long)f->older_than);
	}
	dump_kv(out, "", "journal", plan->journal);
	if (plan->mode == MG_MODE_SYNC) {
		fprintf(out, "delete:\n  max_count: %llu\n  max_percent: %g\n",
			(unsigned long long)plan->deletes.max_count,
			plan->deletes.max_percent);
		dump_kv(out, "  ", "quarantine_prefix",
			plan->deletes.quarantine_prefix);
	}
	if (plan->schedule.cron || plan->schedule.every) {
		fputs("schedule:\n", out);
		dump_kv(out, "  ", "cron", plan->schedule.cron);
		if (plan->schedule.every)
			fprintf(out, "  every: %llds\n",
				(long long)plan->schedule.every);
	}
	if (plan->metrics_file) {
		fputs("metrics:\n", out);
		dump_kv(out, "  ", "file", plan->metrics_file);
	}
	if (plan->pricing_file) {
		fputs("pricing:\n", out);
		dump_kv(out, "  ", "file", plan->pricing_file);
	}
	fprintf(out, "preserve:\n  mode: %s\n",
		plan->preserve.mode ? "true" : "false");
}
