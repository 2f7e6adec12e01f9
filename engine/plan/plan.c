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
#include "connector.h"
#include "plan.h"
#include "estextra.h"

/* A plan is a page of text; anything bigger is the wrong file. */
#define PLAN_MAX_BYTES (1024 * 1024)

#define MiB ((uint64_t)1 << 20)
#define GiB ((uint64_t)1 << 30)
#define TiB ((uint64_t)1 << 40)

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
char *mg_path_join(const char *base, const char *rel)
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
	return mg_path_join(home, rest[0] == '/' ? rest + 1 : rest);
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
	r = mg_path_join(base, h);
	free(h);
	return r;
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

/* Expands ${VAR} and "$$"; a '$' before anything else stays as is.  The
 * value of a secret key is never quoted in a message. */
static int expand_vars(struct ctx *c, yaml_node_t *n, const char *key,
		       int secret, const char *in, char **out)
{
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
static int get_scalar_as(struct ctx *c, yaml_node_t *n, const char *key,
			 const char *want, int secret, char **out)
{
	if (n->type != YAML_SCALAR_NODE)
		return plan_err(c, n, "'%s' must be %s, got %s", key, want,
				node_kind(n));
	if (scalar_is_null(n))
		return plan_err(c, n, "'%s' has no value: give it one or remove the key",
				key);
	return expand_vars(c, n, key, secret, (const char *)n->data.scalar.value,
			   out);
}

static int get_scalar(struct ctx *c, yaml_node_t *n, const char *key,
		      const char *want, char **out)
{
	return get_scalar_as(c, n, key, want, 0, out);
}

/*
 * Text parsers: the value of key as written, checked and converted, or -1
 * with the message (without the FILE:LINE:COL the caller puts in front).
 * One home for each rule, whether the key is the plan's own or a
 * connector's (struct mg_option).
 */
static int text_path(const char *basedir, const char *key, const char *s,
		     char **out, char *msg, size_t msglen)
{
	char why[300], *p;

	if (!*s) {
		snprintf(msg, msglen, "'%s' is empty: give a path", key);
		return -1;
	}
	p = path_resolve(basedir, s, why, sizeof(why));
	if (!p) {
		snprintf(msg, msglen, "'%s': %s", key, why);
		return -1;
	}
	*out = p;
	return 0;
}

static int text_int(const char *key, const char *s, long long min,
		    long long max, long long *out, char *msg, size_t msglen)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (!*s || *end || isspace((unsigned char)*s) || s[0] == '+' ||
	    errno == ERANGE) {
		snprintf(msg, msglen, "'%s' must be an integer, got '%s'", key, s);
		return -1;
	}
	if (v < min || v > max) {
		snprintf(msg, msglen, "'%s' must be between %lld and %lld, got %lld",
			 key, min, max, v);
		return -1;
	}
	*out = v;
	return 0;
}

static int text_bool(const char *key, const char *s, int *out, char *msg,
		     size_t msglen)
{
	static const char *const yes[] = { "true", "yes", "on", NULL };
	static const char *const no[] = { "false", "no", "off", NULL };

	for (int i = 0; yes[i]; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	snprintf(msg, msglen, "'%s' must be true or false, got '%s'", key, s);
	return -1;
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

static int text_size(const char *key, const char *s, uint64_t min,
		     uint64_t max, uint64_t *out, char *msg, size_t msglen)
{
	char a[32], b[32];
	uint64_t v;

	if (mg_parse_size(s, &v) < 0) {
		snprintf(msg, msglen,
			 "'%s': bad size '%s': use a number with B, KB, MB, GB, TB, KiB, MiB, GiB or TiB",
			 key, s);
		return -1;
	}
	if (v < min || v > max) {
		fmt_size(min, a, sizeof(a));
		fmt_size(max, b, sizeof(b));
		snprintf(msg, msglen, "'%s' must be between %s and %s, got '%s'",
			 key, a, b, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* One of a fixed set of words; *out is the index. */
static int text_choice(const char *key, const char *s,
		       const char *const *words, const char *listed, int *out,
		       char *msg, size_t msglen)
{
	for (int i = 0; words[i]; i++) {
		if (strcmp(s, words[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	snprintf(msg, msglen, "'%s' must be %s, got '%s'", key, listed, s);
	return -1;
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
	char msg[400], *s, *p;
	int r;

	if (get_scalar(c, n, key, "a path", &s) < 0)
		return MG_FAILED;
	r = text_path(c->basedir, key, s, &p, msg, sizeof(msg));
	free(s);
	if (r < 0)
		return plan_err(c, n, "%s", msg);
	free(*out);
	*out = p;
	return 0;
}

static int get_int(struct ctx *c, yaml_node_t *n, const char *key,
		   long long min, long long max, long long *out)
{
	char msg[400], *s;
	int r;

	if (get_scalar(c, n, key, "an integer", &s) < 0)
		return MG_FAILED;
	r = text_int(key, s, min, max, out, msg, sizeof(msg));
	free(s);
	return r < 0 ? plan_err(c, n, "%s", msg) : 0;
}

static int get_bool(struct ctx *c, yaml_node_t *n, const char *key, int *out)
{
	char msg[400], *s;
	int r;

	if (get_scalar(c, n, key, "true or false", &s) < 0)
		return MG_FAILED;
	r = text_bool(key, s, out, msg, sizeof(msg));
	free(s);
	return r < 0 ? plan_err(c, n, "%s", msg) : 0;
}

static int get_size(struct ctx *c, yaml_node_t *n, const char *key,
		    uint64_t min, uint64_t max, uint64_t *out)
{
	char msg[400], *s;
	int r;

	if (get_scalar(c, n, key, "a size", &s) < 0)
		return MG_FAILED;
	r = text_size(key, s, min, max, out, msg, sizeof(msg));
	free(s);
	return r < 0 ? plan_err(c, n, "%s", msg) : 0;
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
	char msg[400], *s;
	int r;

	if (get_scalar(c, n, key, listed, &s) < 0)
		return MG_FAILED;
	r = text_choice(key, s, words, listed, out, msg, sizeof(msg));
	free(s);
	return r < 0 ? plan_err(c, n, "%s", msg) : 0;
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

/*
 * An endpoint is a url and keys.  Which connector a url goes to, how its
 * url reads and which keys it takes are the connector's business (its
 * url_parse and option table, engine/connector.h); this section only walks
 * those tables, so adding a backend never touches it.  Three keys are the
 * plan's own, whatever the backend: 'url', 'provider' (pricing) and
 * 'stored' (the cost model).
 */

/* A plain path is a url of this connector ("a folder" in messages). */
#define FOLDER_SCHEME "file"

const char *const mg_symlinks_words[] = {
	"skip", "follow", "record", "follow-all", NULL
};

static const char *const providers[] = {
	"aws-s3", "backblaze-b2", "cloudflare-r2", "wasabi", "gcs",
	"azure-blob", "minio", "ceph", "sftp", "local", NULL
};

#define EPF(x) offsetof(struct mg_endpoint, x)

/* The plan's own endpoint keys, read into struct mg_endpoint itself. */
static const struct mg_option common_options[] = {
	{ .name = "provider", .type = MG_OPT_WORD, .off = EPF(provider),
	  .words = providers,
	  .listed = "one of aws-s3, backblaze-b2, cloudflare-r2, wasabi, gcs, azure-blob, minio, ceph, sftp, local",
	  .doc = "whose price table applies (estimate); unset: guessed from the url" },
	{ .name = "stored", .type = MG_OPT_SIZE, .off = EPF(stored_bytes),
	  .doc = "how much the source holds, for free egress allowances" },
};
#define NCOMMON (sizeof(common_options) / sizeof(common_options[0]))

/* One way to write a scheme: a connector alone, or a wrapper over an
 * inner connector ("tar+sftp"; "tar" over its wraps_default). */
struct spelling {
	const struct mg_connector *outer, *inner;
	char word[64];
};

/* Every scheme a plan may write, plain backends first, then each wrapper
 * over every connector with ranged reads, in registry order.  Returns how
 * many. */
static size_t spellings(struct spelling *out, size_t max)
{
	const struct mg_connector *w, *b;
	size_t n = 0;

	for (size_t i = 0; (b = mg_connector_at(i)) && n < max; i++)
		if (!(b->caps & MG_CAP_ARCHIVE))
			out[n++] = (struct spelling){ b, NULL, "" };
	for (size_t i = 0; (w = mg_connector_at(i)); i++) {
		if (!(w->caps & MG_CAP_ARCHIVE))
			continue;
		for (size_t j = 0; (b = mg_connector_at(j)) && n < max; j++)
			if (!(b->caps & MG_CAP_ARCHIVE) &&
			    (b->caps & MG_CAP_RANGE_READ))
				out[n++] = (struct spelling){ w, b, "" };
	}
	for (size_t i = 0; i < n; i++) {
		struct spelling *sp = &out[i];

		if (!sp->inner || (sp->outer->wraps_default &&
				   strcmp(sp->inner->scheme, sp->outer->wraps_default) == 0))
			snprintf(sp->word, sizeof(sp->word), "%s", sp->outer->scheme);
		else
			snprintf(sp->word, sizeof(sp->word), "%s+%s",
				 sp->outer->scheme, sp->inner->scheme);
	}
	return n;
}

#define MAX_SPELLINGS 64

/* The spelling of the n-byte scheme word s (any case), or NULL. */
static const struct spelling *scheme_lookup(const char *s, size_t n,
					    struct spelling *all, size_t nall)
{
	for (size_t i = 0; i < nall; i++)
		if (strlen(all[i].word) == n && strncasecmp(s, all[i].word, n) == 0)
			return &all[i];
	/* "W+D" for W's default inner is the same place as "W" */
	for (size_t i = 0; i < nall; i++) {
		char word[80];

		if (!all[i].inner || strchr(all[i].word, '+'))
			continue;
		snprintf(word, sizeof(word), "%s+%s", all[i].outer->scheme,
			 all[i].inner->scheme);
		if (strlen(word) == n && strncasecmp(s, word, n) == 0)
			return &all[i];
	}
	return NULL;
}

static const struct mg_option *table_find(const struct mg_option *t, size_t n,
					  const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].name, key) == 0)
			return &t[i];
	return NULL;
}

static const struct mg_option *conn_option(const struct mg_connector *c,
					   const char *key)
{
	return c ? table_find(c->options, c->noptions, key) : NULL;
}

/*
 * Where key of ep lives: the plan's own keys, then the connector's, then
 * (for a wrapper) the inner connector's.  *base is the struct the
 * option's offset is in.  NULL when no table of ep has it.
 */
static const struct mg_option *endpoint_option(const struct mg_endpoint *ep,
					       const char *key, void **base)
{
	const struct mg_option *o;

	if ((o = table_find(common_options, NCOMMON, key))) {
		*base = (void *)ep;
		return o;
	}
	if ((o = conn_option(ep->ops, key))) {
		*base = ep->opts;
		return o;
	}
	if (ep->inner && (o = conn_option(ep->inner->ops, key))) {
		*base = ep->inner->opts;
		return o;
	}
	return NULL;
}

/*
 * "s3:// and tar+s3://": the schemes key applies to, for "'region' does
 * not apply to file urls".  A wrapper whose every form takes the key is
 * "tar urls" when other schemes are listed too.
 */
static void key_schemes(const char *key, struct mg_buf *out)
{
	struct spelling all[MAX_SPELLINGS];
	size_t n = spellings(all, MAX_SPELLINGS), nw = 0;
	char words[MAX_SPELLINGS][80];
	int on[MAX_SPELLINGS];

	for (size_t i = 0; i < n; i++)
		on[i] = conn_option(all[i].outer, key) ||
			conn_option(all[i].inner, key);
	for (size_t i = 0; i < n; i++) {
		size_t others = 0, group = 0, ingroup = 0, before = 0;

		if (!on[i])
			continue;
		if (!all[i].inner) {
			if (strcmp(all[i].word, FOLDER_SCHEME) == 0)
				snprintf(words[nw++], 80, "folder");
			else
				snprintf(words[nw++], 80, "%s://", all[i].word);
			continue;
		}
		/* a wrapper's forms: all of them, and other schemes too? */
		for (size_t j = 0; j < n; j++) {
			if (all[j].outer == all[i].outer && all[j].inner) {
				group++;
				ingroup += on[j] != 0;
				before += j < i;
			} else if (on[j]) {
				others++;
			}
		}
		if (group == ingroup && others) {
			if (before == 0)	/* the first form stands for all */
				snprintf(words[nw++], 80, "%s urls", all[i].outer->scheme);
			continue;
		}
		snprintf(words[nw++], 80, "%s://", all[i].word);
	}
	for (size_t i = 0; i < nw; i++)
		mg_buf_addf(out, "%s%s", i == 0 ? "" : i + 1 == nw ? " and " : ", ",
			    words[i]);
}

/* Every key an endpoint mapping may hold, once each, 'url' first. */
static size_t endpoint_keys(const char **names, size_t max)
{
	const struct mg_connector *c;
	size_t n = 0;

	names[n++] = "url";
	for (size_t i = 0; (c = mg_connector_at(i)); i++) {
		for (size_t k = 0; k < c->noptions && n < max; k++) {
			size_t j;

			for (j = 0; j < n; j++)
				if (strcmp(names[j], c->options[k].name) == 0)
					break;
			if (j == n)
				names[n++] = c->options[k].name;
		}
	}
	for (size_t k = 0; k < NCOMMON && n < max; k++)
		names[n++] = common_options[k].name;
	return n;
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

static int is_string_type(enum mg_opt_type t)
{
	return t == MG_OPT_STRING || t == MG_OPT_PATH || t == MG_OPT_ENV ||
	       t == MG_OPT_WORD;
}

/*
 * Sets option o in the struct at base from text as a plan writes it
 * (paths resolve against basedir).  0, or -1 with the message.
 */
static int option_set(const struct mg_option *o, void *base, const char *text,
		      const char *basedir, char *msg, size_t msglen)
{
	void *at = (char *)base + o->off;
	char **sp = at;
	long long ll;
	int i;

	switch (o->type) {
	case MG_OPT_STRING:
		free(*sp);
		*sp = mg_strdup(text);
		break;
	case MG_OPT_PATH: {
		char *p;

		if (text_path(basedir, o->name, text, &p, msg, msglen) < 0)
			return -1;
		free(*sp);
		*sp = p;
		break;
	}
	case MG_OPT_ENV:
		if (!env_name_ok(text)) {
			snprintf(msg, msglen,
				 "'%s' must be the name of an environment variable (letters, digits, '_'), got '%s'",
				 o->name, text);
			return -1;
		}
		if (!getenv(text)) {
			snprintf(msg, msglen,
				 "environment variable '%s' named by '%s' is not set",
				 text, o->name);
			return -1;
		}
		free(*sp);
		*sp = mg_strdup(text);
		break;
	case MG_OPT_BOOL:
		if (text_bool(o->name, text, (int *)at, msg, msglen) < 0)
			return -1;
		break;
	case MG_OPT_SIZE:
		if (text_size(o->name, text, 0, UINT64_MAX, (uint64_t *)at, msg,
			      msglen) < 0)
			return -1;
		break;
	case MG_OPT_INT:
		if (text_int(o->name, text, o->min, o->max, &ll, msg, msglen) < 0)
			return -1;
		*(int64_t *)at = ll;
		break;
	case MG_OPT_CHOICE:
		if (text_choice(o->name, text, o->words, o->listed, &i, msg,
				msglen) < 0)
			return -1;
		*(int *)at = o->values ? o->values[i] : i;
		break;
	case MG_OPT_WORD:
		if (text_choice(o->name, text, o->words, o->listed, &i, msg,
				msglen) < 0)
			return -1;
		free(*sp);
		*sp = mg_strdup(o->words[i]);
		break;
	}
	if (o->check && o->check(o, text, msg, msglen) < 0)
		return -1;
	return 0;
}

/* What an int-like option holds when the plan does not set it. */
static long long option_default(const struct mg_option *o)
{
	char msg[200];
	int i;

	if (!o->def)
		return 0;
	if (o->type == MG_OPT_BOOL)
		return text_bool(o->name, o->def, &i, msg, sizeof(msg)) == 0 ? i : 0;
	if (o->type == MG_OPT_CHOICE &&
	    text_choice(o->name, o->def, o->words, "", &i, msg, sizeof(msg)) == 0)
		return o->values ? o->values[i] : i;
	return 0;
}

/* A fresh option struct for c with every default applied. */
static void *options_new(const struct mg_connector *c)
{
	char msg[200];
	void *opts;

	if (!c->options_size)
		return NULL;
	opts = mg_calloc(1, c->options_size);
	for (size_t i = 0; i < c->noptions; i++)
		if (c->options[i].def)
			option_set(&c->options[i], opts, c->options[i].def, "/",
				   msg, sizeof(msg));
	return opts;
}

static void options_free(const struct mg_option *t, size_t n, void *base)
{
	if (!base)
		return;
	for (size_t i = 0; i < n; i++) {
		if (is_string_type(t[i].type)) {
			char **sp = (char **)((char *)base + t[i].off);

			free(*sp);
			*sp = NULL;
		}
	}
}

/*
 * The endpoint's id keys its records in a journal shared by several
 * targets, so it must tell apart everything that is a different place:
 * two clouds may well both have a bucket called "data", hence the S3
 * endpoint is part of it.  Built from the parsed parts, not the text, so
 * "s3://b/p" and "S3://b/p" or "./x" and "/abs/x" agree: "scheme://"
 * then what the connector that holds the bytes (a wrapper's inner one)
 * calls its place.  Journals on disk depend on it: never change it.
 */
static void endpoint_set_id(struct mg_endpoint *ep)
{
	const struct mg_endpoint *place = ep->inner ? ep->inner : ep;
	struct mg_buf b = MG_BUF_INIT;
	unsigned char md[32];
	unsigned int mdlen = 0;
	char hex[65];

	mg_buf_addf(&b, "%s://", ep->scheme);
	place->ops->url_identity(place, &b);
	EVP_Digest(b.buf, b.len, md, &mdlen, EVP_sha256(), NULL);
	mg_buf_release(&b);
	mg_hex(md, 8, hex);
	free(ep->id);
	ep->id = mg_strdup(hex);
	if (ep->inner) {
		free(ep->inner->id);
		ep->inner->id = mg_strdup(hex);
	}
}

void mg_endpoint_release(struct mg_endpoint *ep)
{
	if (ep->inner) {
		mg_endpoint_release(ep->inner);
		free(ep->inner);
	}
	if (ep->ops)
		options_free(ep->ops->options, ep->ops->noptions, ep->opts);
	free(ep->opts);
	options_free(common_options, NCOMMON, ep);
	free(ep->url);
	free(ep->scheme);
	free(ep->id);
	free(ep->user);
	free(ep->host);
	free(ep->path);
	memset(ep, 0, sizeof(*ep));
}

/* Makes ep an endpoint of connector c, scheme word spelled. */
static void endpoint_start(struct mg_endpoint *ep, const struct mg_connector *c,
			   const char *url, const char *spelled)
{
	ep->url = mg_strdup(url);
	ep->scheme = mg_strdup(spelled);
	ep->ops = c;
	ep->connector = c->scheme;
	ep->opts = options_new(c);
}

static char *dup_or_null(const char *s)
{
	return s ? mg_strdup(s) : NULL;
}

static int url_parse(struct mg_endpoint *ep, const char *url,
		     const char *basedir, char *msg, size_t msglen)
{
	struct spelling all[MAX_SPELLINGS];
	size_t n = 0, nall = spellings(all, MAX_SPELLINGS);
	const struct spelling *sp = NULL;
	const char *rest;

	mg_endpoint_release(ep);
	if (!*url) {
		ep->url = mg_strdup(url);
		snprintf(msg, msglen, "the url is empty");
		return -1;
	}
	if (isalpha((unsigned char)url[0]))
		while (isalnum((unsigned char)url[n]) || url[n] == '+' ||
		       url[n] == '.' || url[n] == '-')
			n++;
	if (n)
		sp = scheme_lookup(url, n, all, nall);
	/* "name:" alone is a scheme only when it is one we know: a folder
	 * may be called "data:2024" */
	if (n == 0 || url[n] != ':' ||
	    (strncmp(url + n + 1, "//", 2) != 0 && !sp)) {
		const struct mg_connector *c = mg_connector_find(FOLDER_SCHEME);
		char *p;

		if (!c) {
			snprintf(msg, msglen, "this build has no '%s' connector for folders",
				 FOLDER_SCHEME);
			return -1;
		}
		/* a plain path: no percent-decoding, a file may well be
		 * called "100%25" */
		p = path_resolve(basedir, url, msg, msglen);
		if (!p)
			return -1;
		endpoint_start(ep, c, url, FOLDER_SCHEME);
		ep->path = p;
		endpoint_set_id(ep);
		return 0;
	}
	if (!sp) {
		struct mg_buf b = MG_BUF_INIT;

		for (size_t i = 0; i < nall; i++)
			mg_buf_addf(&b, "%s%s://", i + 1 == nall ? " or " : ", ",
				    all[i].word);
		snprintf(msg, msglen, "unknown url scheme '%.*s' in '%s': use a folder path%s",
			 (int)n, url, url, b.buf ? b.buf : "");
		mg_buf_release(&b);
		return -1;
	}
	if (strncmp(url + n, "://", 3) != 0) {
		snprintf(msg, msglen, "'%s' lacks '//' after '%.*s:'", url,
			 (int)n, url);
		return -1;
	}
	rest = url + n + 3;
	if (mg_connector_check(sp->outer, msg, msglen) < 0 ||
	    (sp->inner && mg_connector_check(sp->inner, msg, msglen) < 0))
		return -1;
	if (!(sp->inner ? sp->inner : sp->outer)->url_parse) {
		snprintf(msg, msglen, "the '%s' connector cannot read urls",
			 (sp->inner ? sp->inner : sp->outer)->scheme);
		return -1;
	}
	endpoint_start(ep, sp->outer, url, sp->word);
	if (sp->inner) {
		struct mg_endpoint *in = mg_calloc(1, sizeof(*in));
		size_t l;

		ep->inner = in;
		endpoint_start(in, sp->inner, url, sp->inner->scheme);
		if (sp->inner->url_parse(in, sp->word, rest, MG_URL_WRAPPED, msg,
					 msglen) < 0)
			return -1;
		ep->user = dup_or_null(in->user);
		ep->host = dup_or_null(in->host);
		ep->port = in->port;
		ep->path = dup_or_null(in->path);
		l = ep->path ? strlen(ep->path) : 0;
		if (l == 0 || ep->path[l - 1] == '/') {
			snprintf(msg, msglen,
				 "'%s' must name an archive file, not a folder",
				 url);
			return -1;
		}
	} else if (sp->outer->url_parse(ep, sp->word, rest, 0, msg, msglen) < 0) {
		return -1;
	}
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

int mg_endpoint_set(struct mg_endpoint *ep, const char *key, const char *text,
		    char *msg, size_t msglen)
{
	const struct mg_option *o;
	void *base;
	char *cwd;
	int r;

	o = endpoint_option(ep, key, &base);
	if (!o) {
		snprintf(msg, msglen, "'%s' does not apply to %s urls", key,
			 ep->scheme ? ep->scheme : "these");
		return -1;
	}
	if (!text) {
		if (is_string_type(o->type)) {
			char **sp = (char **)((char *)base + o->off);

			free(*sp);
			*sp = NULL;
			return 0;
		}
		snprintf(msg, msglen, "'%s' cannot be unset", key);
		return -1;
	}
	cwd = current_dir();
	r = option_set(o, base, text, cwd, msg, msglen);
	free(cwd);
	if (r == 0 && ep->ops)
		endpoint_set_id(ep);	/* an option may be part of the place */
	return r;
}

const char *mg_endpoint_str(const struct mg_endpoint *ep, const char *key)
{
	const struct mg_option *o;
	void *base;

	o = endpoint_option(ep, key, &base);
	if (!o || !is_string_type(o->type) || !base)
		return NULL;
	return *(char **)((char *)base + o->off);
}

const char *mg_endpoint_text(const struct mg_endpoint *ep, const char *key,
			     char *buf, size_t buflen)
{
	const struct mg_option *o;
	const void *at;
	void *base;

	o = endpoint_option(ep, key, &base);
	if (!o || !base)
		return NULL;
	at = (const char *)base + o->off;
	switch (o->type) {
	case MG_OPT_BOOL:
		snprintf(buf, buflen, "%s", *(const int *)at ? "true" : "false");
		return buf;
	case MG_OPT_SIZE:
		snprintf(buf, buflen, "%llu", (unsigned long long)*(const uint64_t *)at);
		return buf;
	case MG_OPT_INT:
		snprintf(buf, buflen, "%lld", (long long)*(const int64_t *)at);
		return buf;
	case MG_OPT_CHOICE:
		for (int w = 0; o->words[w]; w++)
			if ((o->values ? o->values[w] : w) == *(const int *)at) {
				snprintf(buf, buflen, "%s", o->words[w]);
				return buf;
			}
		return NULL;
	default:
		return *(char *const *)at;
	}
}

/* The want of get_scalar: what a key of this type takes, in a message. */
static const char *option_want(const struct mg_option *o)
{
	switch (o->type) {
	case MG_OPT_PATH: return "a path";
	case MG_OPT_BOOL: return "true or false";
	case MG_OPT_SIZE: return "a size";
	case MG_OPT_INT: return "an integer";
	case MG_OPT_CHOICE:
	case MG_OPT_WORD: return o->listed;
	default: return "a string";
	}
}

/* Runs a connector's check of key combinations; err and warn name keys. */
static int options_check(struct ctx *c, const struct mg_endpoint *ep,
			 struct field *f, size_t nf)
{
	struct mg_option_note err, warn;
	struct field *x;
	int r;

	if (!ep->ops->options_check)
		return 0;
	memset(&err, 0, sizeof(err));
	memset(&warn, 0, sizeof(warn));
	r = ep->ops->options_check(ep, &err, &warn);
	if (warn.msg[0] && warn.key && (x = field_get(f, nf, warn.key)))
		plan_warn(c, warn.at_value ? x->val : x->key, "%s", warn.msg);
	if (r == 0)
		return 0;
	x = err.key ? field_get(f, nf, err.key) : NULL;
	if (!x)
		return plan_err(c, f[0].val ? f[0].val : f[0].key, "%s", err.msg);
	return plan_err(c, err.at_value ? x->val : x->key, "%s", err.msg);
}

static int endpoint_load(struct ctx *c, yaml_node_t *n, const char *what,
			 struct mg_endpoint *ep)
{
	const char *names[64];
	struct field f[64];
	size_t nf = endpoint_keys(names, 64);
	char msg[400], *url = NULL;
	yaml_node_t *urlnode;
	int r;

	memset(ep, 0, sizeof(*ep));
	for (size_t i = 0; i < nf; i++)
		f[i] = (struct field){ names[i], NULL, NULL };

	if (n->type == YAML_SCALAR_NODE) {
		urlnode = n;
	} else if (n->type == YAML_MAPPING_NODE) {
		if (map_fields(c, n, what, f, nf) < 0)
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
	ep->line = (int)n->start_mark.line + 1;
	ep->col = (int)n->start_mark.column + 1;
	if (r < 0)
		return plan_err(c, urlnode, "%s", msg);
	if (n->type == YAML_SCALAR_NODE)
		return 0;

	for (size_t i = 1; i < nf; i++) {
		const struct mg_option *o;
		void *base;
		char *s;

		if (!f[i].val)
			continue;
		o = endpoint_option(ep, f[i].name, &base);
		if (!o) {
			struct mg_buf b = MG_BUF_INIT;

			key_schemes(f[i].name, &b);
			r = plan_err(c, f[i].key,
				     "'%s' does not apply to %s urls: it is for %s",
				     f[i].name, ep->scheme, b.buf ? b.buf : "");
			mg_buf_release(&b);
			return r;
		}
		if (get_scalar_as(c, f[i].val, o->name, option_want(o),
				  (o->flags & MG_OPT_SECRET) != 0, &s) < 0)
			return MG_FAILED;
		r = option_set(o, base, s, c->basedir, msg, sizeof(msg));
		free(s);
		if (r < 0)
			return plan_err(c, f[i].val, "%s", msg);
	}
	/* combinations that would fail later, on the first request */
	if ((ep->inner && options_check(c, ep->inner, f, nf) < 0) ||
	    options_check(c, ep, f, nf) < 0)
		return MG_FAILED;
	endpoint_set_id(ep);	/* now with every key that is part of the place */
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

/* ---- residency (issue 15.2) ------------------------------------------ */

/* The sets a residency list may name: every region "<set>-..." (AWS's
 * and most S3 providers' region names start with their geography). */
static const char *const region_sets[] = {
	"eu", "us", "ca", "ap", "sa", "me", "af", "il", "mx", "cn", NULL
};

static int region_set(const char *s)
{
	for (size_t i = 0; region_sets[i]; i++)
		if (strcmp(s, region_sets[i]) == 0)
			return 1;
	return 0;
}

int mg_residency_allows(char *const *list, size_t n, const char *region)
{
	size_t len;

	for (size_t i = 0; i < n; i++) {
		len = strlen(list[i]);
		if (strcmp(list[i], region) == 0)
			return 1;
		if (region_set(list[i]) && strncmp(region, list[i], len) == 0 &&
		    region[len] == '-')
			return 1;
	}
	return 0;
}

void mg_residency_text(char *const *list, size_t n, struct mg_buf *b)
{
	for (size_t i = 0; i < n; i++) {
		mg_buf_addf(b, "%s%s", i ? ", " : "", list[i]);
		if (region_set(list[i]))
			mg_buf_addf(b, " (every %s-* region)", list[i]);
	}
}

/* A region name: lower-case letters, digits and '-', starting with a letter. */
static int region_ok(const char *s)
{
	if (!islower((unsigned char)s[0]) || strlen(s) > 40)
		return 0;
	for (const char *p = s; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-')
			return 0;
	return region_set(s) || strchr(s, '-') != NULL;
}

/* regions: eu | [eu-central-1, eu-west-1] */
static int regions_load(struct ctx *c, yaml_node_t *n, const char *key,
			char ***out, size_t *nout)
{
	size_t cap;

	if (n->type == YAML_SCALAR_NODE) {
		cap = 1;
	} else if (n->type == YAML_SEQUENCE_NODE) {
		cap = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
		if (!cap)
			return plan_err(c, n, "'%s' is an empty list: name at least one region or set (eu, us, ...)",
					key);
	} else {
		return plan_err(c, n, "'%s' must be a region, a set of regions (eu, us, ...) or a list of them, got %s",
				key, node_kind(n));
	}
	*out = mg_calloc(cap, sizeof(char *));
	for (size_t i = 0; i < cap; i++) {
		yaml_node_t *g = n->type == YAML_SCALAR_NODE ? n :
			node(c, n->data.sequence.items.start[i]);
		char *s;

		if (g->type != YAML_SCALAR_NODE)
			return plan_err(c, g, "'%s' must list regions, got %s in the list",
					key, node_kind(g));
		if (get_scalar(c, g, key, "a region", &s) < 0)
			return MG_FAILED;
		(*out)[(*nout)++] = s;
		if (!region_ok(s))
			return plan_err(c, g,
					"'%s': '%s' is neither a region (like eu-central-1) nor a set of regions (eu, us, ca, ap, sa, me, af, il, mx, cn)",
					key, s);
	}
	return 0;
}

static int residency_load(struct ctx *c, yaml_node_t *n, struct mg_plan *plan)
{
	struct field f[] = { { "regions", 0, 0 }, { "sources", 0, 0 } };
	struct field *x;

	if (map_fields(c, n, "residency", f, 2) < 0)
		return MG_FAILED;
	if (!FIELD(f, "regions") && !FIELD(f, "sources"))
		return plan_err(c, n, "'residency' needs 'regions' (where the targets may be) or 'sources'");
	if ((x = FIELD(f, "regions")) &&
	    regions_load(c, x->val, "regions", &plan->residency.regions,
			 &plan->residency.nregions) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "sources")) &&
	    regions_load(c, x->val, "sources", &plan->residency.sources,
			 &plan->residency.nsources) < 0)
		return MG_FAILED;
	return 0;
}

/* ---- tags and metadata (issue 15.4) ------------------------------------ */

/* S3's limits: 10 tags, a key of 1-128 and a value of 0-256 characters
 * from letters, digits, spaces and + - = . _ : / @; user metadata of 2 KB
 * at most (names and values together). */
#define TAGS_MAX	10
#define TAG_KEY_MAX	128
#define TAG_VALUE_MAX	256
#define META_BYTES_MAX	2048

static const char *const gov_vars[] = {
	"plan", "run", "source_url", "key", "mtime", "sha256", NULL
};

/* Every {name} in s is one of gov_vars; 0, or -1 with its name in bad. */
static int template_ok(const char *s, char *bad, size_t badlen)
{
	for (const char *p = strchr(s, '{'); p; p = strchr(p + 1, '{')) {
		const char *e = strchr(p, '}');
		size_t n = e ? (size_t)(e - p - 1) : strlen(p + 1);
		int known = 0;

		for (size_t i = 0; e && gov_vars[i]; i++)
			if (strlen(gov_vars[i]) == n && strncmp(p + 1, gov_vars[i], n) == 0)
				known = 1;
		if (!known) {
			snprintf(bad, badlen, "%.*s", (int)(e ? n + 2 : n + 1), p);
			return -1;
		}
	}
	return 0;
}

static int tag_chars_ok(const char *s, int braces)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (!isalnum(*p) && !strchr(" +-=._:/@", *p) && !(braces && (*p == '{' || *p == '}')) &&
		    *p < 0x80)
			return 0;
	return 1;
}

static int meta_name_ok(const char *s)
{
	if (!*s)
		return 0;
	for (const char *p = s; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
		    *p != '-' && *p != '_')
			return 0;
	return 1;
}

/* tags: / metadata: a mapping of names to text values */
static int kv_load(struct ctx *c, yaml_node_t *n, const char *what,
		   struct mg_kv **out, size_t *nout)
{
	yaml_node_pair_t *p;
	size_t cap, bytes = 0;
	char bad[64];
	int tags = strcmp(what, "tags") == 0;

	if (n->type != YAML_MAPPING_NODE)
		return plan_err(c, n, "'%s' must be a mapping of names to values, got %s",
				what, node_kind(n));
	cap = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (tags && cap > TAGS_MAX)
		return plan_err(c, n, "'tags' has %zu tags: S3 keeps %d per object at most",
				cap, TAGS_MAX);
	*out = mg_calloc(cap ? cap : 1, sizeof(**out));
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
		struct mg_kv *kv = &(*out)[*nout];

		if (get_scalar(c, k, what, "a name", &kv->k) < 0)
			return MG_FAILED;
		(*nout)++;
		if (v->type != YAML_SCALAR_NODE)
			return plan_err(c, v, "'%s.%s' must be a text value, got %s", what,
					kv->k, node_kind(v));
		if (get_scalar(c, v, kv->k, "a text value", &kv->v) < 0)
			return MG_FAILED;
		if (template_ok(kv->v, bad, sizeof(bad)) < 0)
			return plan_err(c, v, "'%s.%s': unknown substitution '%s': use {plan}, {run}, {source_url}, {key}, {mtime} or {sha256}",
					what, kv->k, bad);
		for (struct mg_kv *o = *out; o < kv; o++)
			if (strcmp(o->k, kv->k) == 0)
				return plan_err(c, k, "'%s.%s' is given twice", what, kv->k);
		if (tags) {
			if (!*kv->k || strlen(kv->k) > TAG_KEY_MAX)
				return plan_err(c, k, "tag key '%s' must be 1 to %d characters", kv->k, TAG_KEY_MAX);
			if (strncasecmp(kv->k, "aws:", 4) == 0)
				return plan_err(c, k, "tag key '%s': the 'aws:' prefix is reserved for AWS", kv->k);
			if (!tag_chars_ok(kv->k, 0))
				return plan_err(c, k, "tag key '%s' may hold letters, digits, spaces and + - = . _ : / @ only", kv->k);
			if (strlen(kv->v) > TAG_VALUE_MAX)
				return plan_err(c, v, "tag '%s': the value is %zu characters, S3 takes %d at most",
						kv->k, strlen(kv->v), TAG_VALUE_MAX);
			if (!tag_chars_ok(kv->v, 1))
				return plan_err(c, v, "tag '%s': the value may hold letters, digits, spaces and + - = . _ : / @ only (and {substitutions})",
						kv->k);
		} else {
			if (!meta_name_ok(kv->k))
				return plan_err(c, k, "metadata name '%s' may hold lower-case letters, digits, '-' and '_' only (S3 sends it as x-amz-meta-NAME)",
						kv->k);
			if (strcmp(kv->k, "sha256") == 0 || strcmp(kv->k, "mtime") == 0)
				return plan_err(c, k, "metadata name '%s' is migrate's own (it checks the object with it): choose another",
						kv->k);
			for (const unsigned char *q = (const unsigned char *)kv->v; *q; q++)
				if (*q < 0x20 || *q >= 0x7f)
					return plan_err(c, v, "metadata '%s': the value must be printable ASCII (it travels as an HTTP header)",
							kv->k);
			bytes += strlen(kv->k) + strlen(kv->v);
			if (bytes > META_BYTES_MAX)
				return plan_err(c, v, "'metadata' holds more than %d bytes (names and values together) at '%s': S3 keeps 2 KB of user metadata",
						META_BYTES_MAX, kv->k);
		}
	}
	return 0;
}

static void kv_free(struct mg_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].k);
		free(kv[i].v);
	}
	free(kv);
}

/* The size and age bounds of a filter or a tiering rule (fields
 * min_size, max_size, newer_than, older_than of f), and that something
 * can pass them; prefix starts and none ends the messages. */
static int bounds_load(struct ctx *c, struct field *f, size_t nf, const char *prefix,
		       const char *none, uint64_t *min_size, uint64_t *max_size,
		       int64_t *newer_than, int64_t *older_than)
{
	struct field *x;

	if ((x = field_get(f, nf, "min_size")) &&
	    get_size(c, x->val, "min_size", 0, UINT64_MAX, min_size) < 0)
		return MG_FAILED;
	if ((x = field_get(f, nf, "max_size")) &&
	    get_size(c, x->val, "max_size", 0, UINT64_MAX, max_size) < 0)
		return MG_FAILED;
	if ((x = field_get(f, nf, "newer_than")) &&
	    get_duration(c, x->val, "newer_than", newer_than) < 0)
		return MG_FAILED;
	if ((x = field_get(f, nf, "older_than")) &&
	    get_duration(c, x->val, "older_than", older_than) < 0)
		return MG_FAILED;
	if (*min_size && *max_size && *min_size > *max_size)
		return plan_err(c, field_get(f, nf, "min_size")->key,
				"%s'min_size' is larger than 'max_size': %s", prefix, none);
	if (*newer_than && *older_than && *newer_than <= *older_than)
		return plan_err(c, field_get(f, nf, "newer_than")->key,
				"%s'newer_than' must be longer than 'older_than': %s", prefix, none);
	return 0;
}

/* ---- tiering (issue 15.3) --------------------------------------------- */

/* A storage class as S3 spells it (STANDARD_IA, GLACIER_IR, COLD): the
 * provider's list is checked by `check` and `estimate` (pricing). */
static int class_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 23)
		return 0;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return 0;
	return 1;
}

static int tier_rule_load(struct ctx *c, yaml_node_t *n, size_t idx,
			  struct mg_tier_rule *r)
{
	struct field f[] = {
		{ "match", 0, 0 }, { "min_size", 0, 0 }, { "max_size", 0, 0 },
		{ "older_than", 0, 0 }, { "newer_than", 0, 0 }, { "class", 0, 0 },
		{ "tags", 0, 0 },
	};
	struct field *x;
	char what[48], prefix[64];

	snprintf(what, sizeof(what), "tiering rule %zu", idx + 1);
	if (n->type != YAML_MAPPING_NODE)
		return plan_err(c, n, "'tiering' lists rules ({ match: \"**/ckpt/**\", class: STANDARD_IA }), got %s",
				node_kind(n));
	if (map_fields(c, n, what, f, sizeof(f) / sizeof(f[0])) < 0)
		return MG_FAILED;
	if (!(x = FIELD(f, "class")))
		return plan_err(c, n, "%s has no 'class': name the storage class it chooses (STANDARD, STANDARD_IA, GLACIER_IR, ...)",
				what);
	if (get_scalar(c, x->val, "class", "a storage class", &r->cls) < 0)
		return MG_FAILED;
	r->line = (unsigned)x->val->start_mark.line + 1;
	r->col = (unsigned)x->val->start_mark.column + 1;
	if (!class_name_ok(r->cls)) {
		char shown[200];

		return plan_err(c, x->val, "'class': '%s' is not a storage class name (letters, digits and '_', like STANDARD_IA)",
				mg_printable(r->cls, shown, sizeof(shown)));
	}
	if ((x = FIELD(f, "match"))) {
		if (get_scalar(c, x->val, "match", "a glob", &r->match) < 0 ||
		    glob_check(c, x->val, "match", r->match) < 0)
			return MG_FAILED;
	}
	snprintf(prefix, sizeof(prefix), "%s: ", what);
	if (bounds_load(c, f, sizeof(f) / sizeof(f[0]), prefix, "no object could match it",
			&r->min_size, &r->max_size, &r->newer_than, &r->older_than) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "tags"))) {
		size_t total = c->plan->ntags;

		if (kv_load(c, x->val, "tags", &r->tags, &r->ntags) < 0)
			return MG_FAILED;
		for (size_t i = 0; i < r->ntags; i++) {
			int over = 0;

			for (size_t j = 0; j < c->plan->ntags; j++)
				over |= strcmp(c->plan->tags[j].k, r->tags[i].k) == 0;
			total += !over;
		}
		if (total > TAGS_MAX)
			return plan_err(c, x->val, "%s: its tags and the plan's make %zu tags: S3 keeps %d per object at most",
					what, total, TAGS_MAX);
	}
	return 0;
}

/* ---- retention and legal hold (issue 15.5; dates in retention.c) ----- */

/* retention: { mode: GOVERNANCE|COMPLIANCE, days: N | until: DATE } */
static int retention_load(struct ctx *c, yaml_node_t *n, struct mg_plan *plan)
{
	static const char *const modes[] = { "GOVERNANCE", "COMPLIANCE", NULL };
	struct field f[] = { { "mode", 0, 0 }, { "days", 0, 0 }, { "until", 0, 0 } };
	struct mg_retention *r = &plan->retention;
	struct field *x;
	char msg[200], *s;
	long long days;
	int mode, bad;

	if (map_fields(c, n, "retention", f, 3) < 0)
		return MG_FAILED;
	if (!(x = FIELD(f, "mode")))
		return plan_err(c, n, "'retention' needs 'mode': GOVERNANCE (a user with "
				"s3:BypassGovernanceRetention may still delete) or COMPLIANCE "
				"(nobody may, until the date)");
	if (get_choice(c, x->val, "mode", modes, "GOVERNANCE or COMPLIANCE", &mode) < 0)
		return MG_FAILED;
	r->mode = mode + MG_LOCK_GOVERNANCE;
	if (r->mode == MG_LOCK_COMPLIANCE)
		plan_warn(c, x->val, "retention mode COMPLIANCE: nobody, not even the "
			  "account's root user, can delete these objects or shorten "
			  "their retention before it ends");
	if (FIELD(f, "days") && FIELD(f, "until"))
		return plan_err(c, FIELD(f, "until")->key,
				"use either 'days' or 'until' in 'retention', not both");
	if ((x = FIELD(f, "days"))) {
		if (get_int(c, x->val, "days", 1, MG_RETENTION_MAX_DAYS, &days) < 0)
			return MG_FAILED;
		r->days = days;
	} else if ((x = FIELD(f, "until"))) {
		if (get_scalar(c, x->val, "until", "a date", &s) < 0)
			return MG_FAILED;
		bad = mg_parse_date(s, &r->until) < 0;
		if (bad)
			plan_err(c, x->val, "'until': '%s' is not a date: write "
				 "YYYY-MM-DD (midnight UTC) or YYYY-MM-DDTHH:MM:SSZ", s);
		free(s);
		if (bad)
			return MG_FAILED;
		if (mg_retention_check(r, (int64_t)time(NULL), msg, sizeof(msg)) < 0)
			return plan_err(c, x->val, "%s", msg);
	} else {
		return plan_err(c, n, "'retention' needs 'days' (kept that many days "
				"from the run's start) or 'until' (a date)");
	}
	return 0;
}

static int tiering_load(struct ctx *c, yaml_node_t *n, struct mg_plan *plan)
{
	size_t cap;

	if (n->type != YAML_SEQUENCE_NODE)
		return plan_err(c, n, "'tiering' must be a list of rules (first match wins), got %s",
				node_kind(n));
	cap = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (!cap)
		return plan_err(c, n, "'tiering' is an empty list: give at least one rule, or leave it out");
	plan->tiering = mg_calloc(cap, sizeof(*plan->tiering));
	for (size_t i = 0; i < cap; i++) {
		yaml_node_t *r = node(c, n->data.sequence.items.start[i]);

		plan->ntiering++;
		if (tier_rule_load(c, r, i, &plan->tiering[i]) < 0)
			return MG_FAILED;
	}
	return 0;
}

static void tiering_free(struct mg_plan *plan)
{
	for (size_t i = 0; i < plan->ntiering; i++) {
		free(plan->tiering[i].match);
		free(plan->tiering[i].cls);
		kv_free(plan->tiering[i].tags, plan->tiering[i].ntags);
	}
	free(plan->tiering);
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
	return bounds_load(c, f, sizeof(f) / sizeof(f[0]), "", "nothing could pass the filter",
			   &fl->min_size, &fl->max_size, &fl->newer_than, &fl->older_than);
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

/* pricing: { file: PATH, free_tier: unused|used, error_rate: R } */
static int pricing_load(struct ctx *c, yaml_node_t *n, struct mg_plan *plan)
{
	static const char *const words[] = { "unused", "used", NULL };
	struct field f[] = { { "file", 0, 0 }, { "free_tier", 0, 0 }, { "error_rate", 0, 0 } };
	char msg[300], *s;
	int r;

	if (map_fields(c, n, "pricing", f, 3) < 0)
		return MG_FAILED;
	if (f[0].val && get_path(c, f[0].val, "file", &plan->pricing_file) < 0)
		return MG_FAILED;
	if (f[1].val && get_choice(c, f[1].val, "free_tier", words, "unused or used",
				   &plan->pricing_free_tier_used) < 0)
		return MG_FAILED;
	if (f[2].val) {
		if (get_scalar(c, f[2].val, "error_rate", "a number", &s) < 0)
			return MG_FAILED;
		r = mg_error_rate_parse(s, &plan->pricing_error_rate, msg, sizeof(msg));
		free(s);
		if (r < 0)
			return plan_err(c, f[2].val, "%s", msg);
	}
	return 0;
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

		if (t->ops->caps & MG_CAP_ARCHIVE)
			return plan_err_at(c, m,
					   "'%s' cannot be a target: archives are read only; write into a folder, sftp:// or s3:// instead",
					   t->url);
		if (!(t->ops->caps & MG_CAP_TARGET))
			return plan_err_at(c, m,
					   "'%s' cannot be a target: the '%s' connector only reads",
					   t->url, t->connector);
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

/* shard: { index, count, by: hash|folder|prefix, prefixes: [...] }
 * (engine/run/shard.c does the rest; --shard I/N overrides index and
 * count) */
static int shard_load(struct ctx *c, yaml_node_t *n, struct mg_plan *plan)
{
	struct field f[] = {
		{ "index", 0, 0 }, { "count", 0, 0 }, { "by", 0, 0 },
		{ "prefixes", 0, 0 },
	};
	static const char *const bys[] = { "hash", "folder", "prefix", NULL };
	struct mg_shard *sh = &plan->shard;
	struct field *x;
	long long ll;

	if (map_fields(c, n, "shard", f, sizeof(f) / sizeof(f[0])) < 0)
		return MG_FAILED;
	if (!FIELD(f, "count"))
		return plan_err(c, n, "'shard' needs 'count' (how many tasks share the source)");
	if (get_int(c, FIELD(f, "count")->val, "count", 1, MG_SHARD_MAX, &ll) < 0)
		return MG_FAILED;
	sh->count = (unsigned)ll;
	if ((x = FIELD(f, "index"))) {
		if (get_int(c, x->val, "index", 0, (long long)sh->count - 1, &ll) < 0)
			return MG_FAILED;
		sh->index = (unsigned)ll;
	}
	if ((x = FIELD(f, "by")) &&
	    get_choice(c, x->val, "by", bys, "hash, folder or prefix", &sh->by) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "prefixes"))) {
		if (sh->by != MG_SHARD_PREFIX)
			return plan_err(c, x->key, "'prefixes' goes with 'by: prefix'");
		if (globs_load(c, x->val, "prefixes", &sh->prefixes, &sh->nprefixes) < 0)
			return MG_FAILED;
		if (sh->nprefixes != sh->count - 1)
			return plan_err(c, x->val,
					"'prefixes' must list count-1 = %u boundaries (shard i takes the keys after boundary i-1 up to boundary i), got %zu",
					sh->count - 1, sh->nprefixes);
		for (size_t i = 1; i < sh->nprefixes; i++)
			if (strcmp(sh->prefixes[i - 1], sh->prefixes[i]) >= 0)
				return plan_err(c, x->val,
						"'prefixes' must be in ascending byte order: '%s' is not after '%s'",
						sh->prefixes[i], sh->prefixes[i - 1]);
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
		{ "pricing", 0, 0 }, { "preserve", 0, 0 }, { "shard", 0, 0 },
		{ "residency", 0, 0 }, { "tags", 0, 0 }, { "metadata", 0, 0 },
		{ "tiering", 0, 0 },
		{ "retention", 0, 0 }, { "legal_hold", 0, 0 },
	};
	static const char *const modes[] = { "copy", "sync", NULL };
	struct field *x;
	char *s;
	int i = 0;

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
	if ((x = FIELD(f, "pricing")) && pricing_load(c, x->val, plan) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "preserve")) && preserve_load(c, x->val, plan) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "shard")) && shard_load(c, x->val, plan) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "residency")) && residency_load(c, x->val, plan) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "tags")) &&
	    kv_load(c, x->val, "tags", &plan->tags, &plan->ntags) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "metadata")) &&
	    kv_load(c, x->val, "metadata", &plan->meta, &plan->nmeta) < 0)
		return MG_FAILED;
	/* after tags: a rule's tags count with the plan's */
	if ((x = FIELD(f, "tiering")) && tiering_load(c, x->val, plan) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "retention")) && retention_load(c, x->val, plan) < 0)
		return MG_FAILED;
	if ((x = FIELD(f, "legal_hold")) &&
	    get_bool(c, x->val, "legal_hold", &plan->retention.legal_hold) < 0)
		return MG_FAILED;

	if (!plan->journal) {
		/* not written in the plan, so not relative to it: the state
		 * lives where migrate is run from, as git's does */
		char *cwd = current_dir(), *rel;

		rel = mg_malloc(strlen(plan->name) + 16);
		sprintf(rel, ".migrate/%s", plan->name);
		plan->journal = mg_path_join(cwd, rel);
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

		c.basedir = mg_path_join(cwd, dir);
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
	for (size_t i = 0; i < plan->residency.nregions; i++)
		free(plan->residency.regions[i]);
	free(plan->residency.regions);
	for (size_t i = 0; i < plan->residency.nsources; i++)
		free(plan->residency.sources[i]);
	free(plan->residency.sources);
	kv_free(plan->tags, plan->ntags);
	kv_free(plan->meta, plan->nmeta);
	tiering_free(plan);
	free(plan->journal);
	free(plan->deletes.quarantine_prefix);
	free(plan->schedule.cron);
	free(plan->metrics_file);
	free(plan->pricing_file);
	for (size_t i = 0; i < plan->shard.nprefixes; i++)
		free(plan->shard.prefixes[i]);
	free(plan->shard.prefixes);
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

/* The keys of one option table that differ from their defaults. */
static void dump_options(FILE *out, const char *indent,
			 const struct mg_option *t, size_t n, const void *base)
{
	if (!base)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct mg_option *o = &t[i];
		const void *at = (const char *)base + o->off;

		switch (o->type) {
		case MG_OPT_STRING:
		case MG_OPT_PATH:
		case MG_OPT_ENV:
		case MG_OPT_WORD:
			if (*(char *const *)at)
				dump_kv(out, indent, o->name, o->flags & MG_OPT_SECRET ?
					"***" : *(char *const *)at);
			break;
		case MG_OPT_BOOL:
			if (*(const int *)at != option_default(o))
				fprintf(out, "%s%s: %s\n", indent, o->name,
					*(const int *)at ? "true" : "false");
			break;
		case MG_OPT_SIZE:
			if (*(const uint64_t *)at)
				fprintf(out, "%s%s: %llu\n", indent, o->name,
					(unsigned long long)*(const uint64_t *)at);
			break;
		case MG_OPT_INT:
			if (*(const int64_t *)at)
				fprintf(out, "%s%s: %lld\n", indent, o->name,
					(long long)*(const int64_t *)at);
			break;
		case MG_OPT_CHOICE: {
			int v = *(const int *)at;

			if (v == option_default(o))
				break;
			for (int w = 0; o->words[w]; w++)
				if ((o->values ? o->values[w] : w) == v)
					fprintf(out, "%s%s: %s\n", indent, o->name,
						o->words[w]);
			break;
		}
		}
	}
}

static void dump_endpoint(FILE *out, const char *first, const char *indent,
			  const struct mg_endpoint *ep)
{
	/* a folder is written out absolute: the dump may be read elsewhere */
	fprintf(out, "%surl: ", first);
	dump_str(out, !ep->inner && strcmp(ep->connector, FOLDER_SCHEME) == 0 ?
		 ep->path : ep->url);
	fputc('\n', out);
	if (ep->inner)
		dump_options(out, indent, ep->inner->ops->options,
			     ep->inner->ops->noptions, ep->inner->opts);
	dump_options(out, indent, ep->ops->options, ep->ops->noptions, ep->opts);
	dump_options(out, indent, common_options, NCOMMON, ep);
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
	if (plan->pricing_file || plan->pricing_free_tier_used || plan->pricing_error_rate > 0) {
		fputs("pricing:\n", out);
		if (plan->pricing_file)
			dump_kv(out, "  ", "file", plan->pricing_file);
		if (plan->pricing_free_tier_used)
			dump_kv(out, "  ", "free_tier", "used");
		if (plan->pricing_error_rate > 0)
			fprintf(out, "  error_rate: %g\n", plan->pricing_error_rate);
	}
	fprintf(out, "preserve:\n  mode: %s\n",
		plan->preserve.mode ? "true" : "false");
}
