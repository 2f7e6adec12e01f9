/*
 * pricing.c - loads the price table and prices one counted move.
 *
 * The table's format is documented at the top of plans/pricing.yaml.
 * Values may carry units ("6.95/TB-month", "4.50/million", "1TB", "90d")
 * and the unit is checked against what the key means, the same way in the
 * table and in a plan's overrides: a discount written as "0.05/GB" on a
 * request price is a mistake worth stopping for, not a number to bill.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>
#include "connector.h"
#include "pricing.h"

/* A price table is a few pages; anything bigger is the wrong file. */
#define TABLE_MAX_BYTES (1024 * 1024)

/* Storage is billed per month; penalties are prorated per day of it. */
#define DAYS_PER_MONTH 30.0

/* ------------------------------------------------------------ values */

/* What a number means, so a unit written next to it can be checked. */
enum vkind {
	VK_PRICE_STORAGE,	/* USD per unit-month */
	VK_PRICE_DATA,		/* USD per unit */
	VK_PRICE_REQ,		/* USD per requests.per requests */
	VK_VOLUME,		/* units */
	VK_DAYS,
	VK_RATIO,
	VK_COUNT,		/* requests */
};

static const char *const vkind_desc[] = {
	[VK_PRICE_STORAGE] = "a storage price per %s-month (e.g. '0.023' or '23/TB-month')",
	[VK_PRICE_DATA] = "a price per %s of data (e.g. '0.09' or '0.09/GB')",
	[VK_PRICE_REQ] = "a price per %s requests (e.g. '0.005/1000' or '4.50/million')",
	[VK_VOLUME] = "a volume in %s (e.g. '100' or '1TB')",
	[VK_DAYS] = "a number of days (e.g. '90' or '90d')",
	[VK_RATIO] = "a multiple of the stored volume (e.g. '3' or '3x')",
	[VK_COUNT] = "a number of requests (e.g. '1000000' or '1M')",
};

static const struct {
	const char *name;
	double bytes;
} size_units[] = {
	{ "B", 1 }, { "KB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 }, { "TB", 1e12 },
	{ "PB", 1e15 }, { "KiB", 1024.0 }, { "MiB", 1048576.0 },
	{ "GiB", 1073741824.0 }, { "TiB", 1099511627776.0 },
	{ "PiB", 1125899906842624.0 },
};

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Reads a size unit name at *s ("GB", "TiB"); returns its bytes or 0. */
static double read_size_unit(const char **s)
{
	size_t best = 0;
	double bytes = 0;

	for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++) {
		size_t n = strlen(size_units[i].name);

		if (n > best && strncasecmp(*s, size_units[i].name, n) == 0 &&
		    !isalpha((unsigned char)(*s)[n])) {
			best = n;
			bytes = size_units[i].bytes;
		}
	}
	*s += best;
	return bytes;
}

/* Reads a request count unit ("1000", "1,000", "10k", "million", "1M",
 * "request"); returns the count or 0. */
static double read_count_unit(const char **s)
{
	const char *p = *s;
	double v = 1;
	char *end;

	if (isdigit((unsigned char)*p)) {
		char digits[32];
		size_t n = 0;

		while ((isdigit((unsigned char)*p) || *p == ',') && n < sizeof(digits) - 1) {
			if (*p != ',')
				digits[n++] = *p;
			p++;
		}
		digits[n] = '\0';
		v = strtod(digits, &end);
		if (*end || v <= 0)
			return 0;
		p = skip_ws(p);
	}
	if (strncasecmp(p, "million", 7) == 0) {
		v *= 1e6;
		p += 7;
	} else if (*p == 'M' || *p == 'm') {
		v *= 1e6;
		p++;
	} else if (*p == 'k' || *p == 'K') {
		v *= 1e3;
		p++;
	}
	p = skip_ws(p);
	if (strncasecmp(p, "requests", 8) == 0)
		p += 8;
	else if (strncasecmp(p, "request", 7) == 0)
		p += 7;
	if (p == *s)
		return 0;
	*s = p;
	return v;
}

/* Skips the '/' or "per " between a price and its unit ("0.09/GB",
 * "4.50 per million").  0, or -1 when there is neither. */
static int skip_per(const char **s)
{
	if (**s == '/')
		*s = skip_ws(*s + 1);
	else if (strncasecmp(*s, "per ", 4) == 0)
		*s = skip_ws(*s + 4);
	else
		return -1;
	return 0;
}

/*
 * Parses text as a value of kind k for provider p (its unit and request
 * block size), into *out in the table's unit.  Returns 0 or -1 with msg.
 */
static int value_parse(const struct mg_price_provider *p, enum vkind k,
		       const char *text, double *out, char *msg, size_t msglen)
{
	const char *s = skip_ws(text);
	char what[160];
	char *end;
	double v;

	snprintf(what, sizeof(what), vkind_desc[k],
		 k == VK_PRICE_REQ ? "" : p->unit);
	if (k == VK_PRICE_REQ) {
		char per[32];

		snprintf(per, sizeof(per), "%.0f", p->requests.per);
		snprintf(what, sizeof(what), vkind_desc[k], per);
	}
	if (*s == '$')
		s++;
	else if (strncasecmp(s, "USD", 3) == 0)
		s = skip_ws(s + 3);
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0) {
		snprintf(msg, msglen, "'%s' is not %s", text, what);
		return -1;
	}
	s = skip_ws(end);
	if (*s == '\0') {
		*out = v;
		return 0;
	}

	switch (k) {
	case VK_PRICE_STORAGE:
	case VK_PRICE_DATA: {
		double bytes;
		int month = 0;

		if (skip_per(&s) < 0)
			goto bad;
		bytes = read_size_unit(&s);
		if (bytes == 0)
			goto bad;
		if (*s == '-' || *s == '/' || *s == ' ') {
			const char *m = skip_ws(s + 1);

			if (strncasecmp(m, "month", 5) == 0 && m[5] == '\0') {
				month = 1;
				s = m + 5;
			}
		}
		if (*s)
			goto bad;
		if (month != (k == VK_PRICE_STORAGE))
			goto bad;
		*out = v * p->unit_bytes / bytes;
		return 0;
	}
	case VK_PRICE_REQ: {
		double n;

		if (skip_per(&s) < 0)
			goto bad;
		n = read_count_unit(&s);
		if (n == 0 || *skip_ws(s))
			goto bad;
		*out = v * p->requests.per / n;
		return 0;
	}
	case VK_VOLUME: {
		uint64_t bytes;

		if (mg_parse_size(skip_ws(text), &bytes) < 0)
			goto bad;
		*out = (double)bytes / p->unit_bytes;
		return 0;
	}
	case VK_DAYS: {
		int64_t secs;

		if (mg_parse_duration(skip_ws(text), &secs) < 0)
			goto bad;
		*out = (double)secs / 86400.0;
		return 0;
	}
	case VK_RATIO:
		if ((*s == 'x' || *s == 'X') && s[1] == '\0') {
			*out = v;
			return 0;
		}
		goto bad;
	case VK_COUNT: {
		double n = read_count_unit(&s);

		if (n == 0 || *skip_ws(s))
			goto bad;
		/* "1M": read_count_unit saw only the suffix */
		*out = v * n;
		return 0;
	}
	}
bad:
	snprintf(msg, msglen, "'%s' is not %s", text, what);
	return -1;
}

/* ------------------------------------------------------------ loading */

struct ctx {
	const char *file;
	yaml_document_t doc;
	struct mg_error *err;
};

/* The error at line:col (1-based) of the price table. */
__attribute__((format(printf, 4, 0)))
static int tbl_verr(struct ctx *c, size_t line, size_t col, const char *fmt, va_list ap)
{
	char msg[400];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return mg_error_set(c->err, MG_FAILED, 0, 0, "pricing", "%s:%zu:%zu: %s",
			    c->file, line, col, msg);
}

__attribute__((format(printf, 3, 4)))
static int tbl_err(struct ctx *c, yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = tbl_verr(c, n->start_mark.line + 1, n->start_mark.column + 1, fmt, ap);
	va_end(ap);
	return r;
}

/* For what is missing from a provider: point at its name. */
__attribute__((format(printf, 3, 4)))
static int tbl_err_prov(struct ctx *c, const struct mg_price_provider *p,
			const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = tbl_verr(c, (size_t)p->line, (size_t)p->col, fmt, ap);
	va_end(ap);
	return r;
}

static yaml_node_t *node(struct ctx *c, int idx)
{
	return yaml_document_get_node(&c->doc, idx);
}

static const char *node_kind(yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a single value";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

static const char *scalar(yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/*
 * Walks the pairs of mapping n, checking keys against the NULL-ended list
 * names; calls back with the index of the key.  Duplicates and unknown
 * keys are errors naming the known ones.
 */
typedef int (*pair_fn)(struct ctx *c, int which, yaml_node_t *k, yaml_node_t *v,
		       void *arg);

static int map_walk(struct ctx *c, yaml_node_t *n, const char *what,
		    const char *const *names, pair_fn fn, void *arg)
{
	yaml_node_pair_t *p;

	if (n->type != YAML_MAPPING_NODE)
		return tbl_err(c, n, "'%s' must be a mapping of keys, got %s",
			       what, node_kind(n));
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
		const char *kn = scalar(k);
		int which = -1;

		if (!kn)
			return tbl_err(c, k, "keys in '%s' must be plain words", what);
		for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
			const char *qn = scalar(node(c, q->key));

			if (qn && strcmp(qn, kn) == 0)
				return tbl_err(c, k, "duplicate key '%s' in '%s' (first at line %zu)",
					       kn, what, node(c, q->key)->start_mark.line + 1);
		}
		if (names) {
			struct mg_buf known = MG_BUF_INIT;

			for (int i = 0; names[i]; i++)
				if (strcmp(names[i], kn) == 0)
					which = i;
			if (which < 0) {
				for (int i = 0; names[i]; i++)
					mg_buf_addf(&known, "%s%s", i ? ", " : "", names[i]);
				tbl_err(c, k, "unknown key '%s' in '%s': known keys are %s",
					kn, what, known.buf);
				mg_buf_release(&known);
				return MG_FAILED;
			}
		}
		if (fn(c, which, k, v, arg) < 0)
			return MG_FAILED;
	}
	return 0;
}

static int get_value(struct ctx *c, const struct mg_price_provider *p,
		     yaml_node_t *v, enum vkind k, double *out)
{
	char msg[300];
	const char *s = scalar(v);

	if (!s || !*s) {
		char what[160];

		snprintf(what, sizeof(what), vkind_desc[k], p->unit);
		return tbl_err(c, v, "expected %s, got %s", what,
			       s ? "nothing" : node_kind(v));
	}
	if (value_parse(p, k, s, out, msg, sizeof(msg)) < 0)
		return tbl_err(c, v, "%s", msg);
	return 0;
}

static int get_text(struct ctx *c, yaml_node_t *v, const char *key, char **out)
{
	const char *s = scalar(v);

	if (!s || !*s)
		return tbl_err(c, v, "'%s' must be text, got %s", key,
			       s ? "nothing" : node_kind(v));
	free(*out);
	*out = mg_strdup(s);
	return 0;
}

struct tier_arg {
	struct mg_price_provider *p;
	struct mg_price_tier *t;
	int has_upto, has_price;
	enum vkind kind;
};

static int tier_pair(struct ctx *c, int which, yaml_node_t *k, yaml_node_t *v,
		     void *arg)
{
	struct tier_arg *a = arg;

	(void)k;
	if (which == 0) {
		a->has_upto = 1;
		return get_value(c, a->p, v, VK_VOLUME, &a->t->upto);
	}
	a->has_price = 1;
	return get_value(c, a->p, v, a->kind, &a->t->price);
}

static int tiers_load(struct ctx *c, yaml_node_t *n, struct mg_price_provider *p,
		      struct mg_price_tiers *tiers, enum vkind kind)
{
	static const char *const names[] = { "upto", "price", NULL };
	struct mg_price_tiers nt = { .n = 0 };
	yaml_node_item_t *it;

	if (n->type != YAML_SEQUENCE_NODE)
		return tbl_err(c, n, "'tiers' must be a list of { upto, price }, got %s",
			       node_kind(n));
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *tn = node(c, *it);
		struct tier_arg a = { p, NULL, 0, 0, kind };
		int last = it + 1 == n->data.sequence.items.top;

		if (nt.n == MG_PRICE_MAX_TIERS)
			return tbl_err(c, tn, "too many tiers: at most %d",
				       MG_PRICE_MAX_TIERS);
		a.t = &nt.t[nt.n];
		if (map_walk(c, tn, "tiers", names, tier_pair, &a) < 0)
			return MG_FAILED;
		if (!a.has_price)
			return tbl_err(c, tn, "a tier needs 'price'");
		if (last && a.has_upto)
			return tbl_err(c, tn, "the last tier has no 'upto': it applies to everything above the one before");
		if (!last && (!a.has_upto || a.t->upto <= 0))
			return tbl_err(c, tn, "every tier but the last needs 'upto' (its upper bound in %s)",
				       p->unit);
		if (nt.n && a.has_upto && a.t->upto <= nt.t[nt.n - 1].upto)
			return tbl_err(c, tn, "'upto' must grow from tier to tier (%g after %g)",
				       a.t->upto, nt.t[nt.n - 1].upto);
		nt.n++;
	}
	if (nt.n == 0)
		return tbl_err(c, n, "'tiers' is empty: give at least { price: ... }");
	*tiers = nt;
	return 0;
}

static int storage_pair(struct ctx *c, int which, yaml_node_t *k, yaml_node_t *v,
			void *arg)
{
	struct mg_price_provider *p = arg;

	(void)k;
	switch (which) {
	case 0: return tiers_load(c, v, p, &p->storage.tiers, VK_PRICE_STORAGE);
	case 1: return get_value(c, p, v, VK_VOLUME, &p->storage.free);
	case 2: return get_value(c, p, v, VK_VOLUME, &p->storage.min_billable);
	case 3: return get_value(c, p, v, VK_DAYS, &p->storage.min_days);
	default: return get_value(c, p, v, VK_VOLUME, &p->storage.min_object);
	}
}

static int egress_pair(struct ctx *c, int which, yaml_node_t *k, yaml_node_t *v,
		       void *arg)
{
	struct mg_price_provider *p = arg;
	const char *s;

	(void)k;
	switch (which) {
	case 0: return tiers_load(c, v, p, &p->egress.tiers, VK_PRICE_DATA);
	case 1: return get_value(c, p, v, VK_VOLUME, &p->egress.free);
	case 2: return get_value(c, p, v, VK_RATIO, &p->egress.free_ratio);
	default:
		s = scalar(v);
		if (s && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)) {
			p->egress.fair_use = strcmp(s, "true") == 0;
			return 0;
		}
		return tbl_err(c, v, "'fair_use' is true or false");
	}
}

struct class_arg {
	struct mg_price_provider *p;
	struct mg_price_class *cl;
	int has_price;
};

static int class_field(struct ctx *c, int which, yaml_node_t *k, yaml_node_t *v,
		       void *arg)
{
	struct class_arg *a = arg;
	const char *s;

	(void)k;
	if (which == 0) {
		a->has_price = 1;
		return get_value(c, a->p, v, VK_PRICE_REQ, &a->cl->price);
	}
	if (which == 2)
		return get_value(c, a->p, v, VK_COUNT, &a->cl->free);
	s = scalar(v);
	if (!s)
		return tbl_err(c, v, "'covers' must be text, got %s", node_kind(v));
	snprintf(a->cl->covers, sizeof(a->cl->covers), "%s", s);
	return 0;
}

static int class_pair(struct ctx *c, int which, yaml_node_t *k, yaml_node_t *v,
		      void *arg)
{
	static const char *const names[] = { "price", "covers", "free", NULL };
	struct mg_price_provider *p = arg;
	struct class_arg a = { p, NULL, 0 };
	const char *kn = scalar(k);

	(void)which;
	if (p->requests.ncls == MG_PRICE_MAX_CLASSES)
		return tbl_err(c, k, "too many request classes: at most %d",
			       MG_PRICE_MAX_CLASSES);
	if (strlen(kn) >= sizeof(a.cl->name) || strcmp(kn, "free") == 0)
		return tbl_err(c, k, "'%s' cannot name a request class (a short word, not 'free')", kn);
	a.cl = &p->requests.cls[p->requests.ncls];
	memset(a.cl, 0, sizeof(*a.cl));
	snprintf(a.cl->name, sizeof(a.cl->name), "%s", kn);
	if (v->type == YAML_SCALAR_NODE) {
		if (get_value(c, p, v, VK_PRICE_REQ, &a.cl->price) < 0)
			return MG_FAILED;
	} else {
		if (map_walk(c, v, kn, names, class_field, &a) < 0)
			return MG_FAILED;
		if (!a.has_price)
			return tbl_err(c, v, "request class '%s' needs 'price'", kn);
	}
	p->requests.ncls++;
	return 0;
}

static int map_pair(struct ctx *c, int which, yaml_node_t *k, yaml_node_t *v,
		    void *arg)
{
	struct mg_price_provider *p = arg;
	const char *s = scalar(v);
	struct mg_buf known = MG_BUF_INIT;

	(void)k;
	if (s && strcmp(s, "free") == 0) {
		p->requests.map[which] = MG_PRICE_FREE;
		return 0;
	}
	for (int i = 0; s && i < p->requests.ncls; i++) {
		if (strcmp(p->requests.cls[i].name, s) == 0) {
			p->requests.map[which] = i;
			return 0;
		}
	}
	for (int i = 0; i < p->requests.ncls; i++)
		mg_buf_addf(&known, "%s'%s'", i ? ", " : "", p->requests.cls[i].name);
	mg_buf_adds(&known, p->requests.ncls ? " or 'free'" : "'free'");
	tbl_err(c, v, "'%s' is not a request class of this provider: write %s",
		s ? s : node_kind(v), known.buf);
	mg_buf_release(&known);
	return MG_FAILED;
}

static yaml_node_t *map_get(struct ctx *c, yaml_node_t *n, const char *key)
{
	if (n->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		const char *kn = scalar(node(c, p->key));

		if (kn && strcmp(kn, key) == 0)
			return node(c, p->value);
	}
	return NULL;
}

static int walk_noop(struct ctx *c, int which, yaml_node_t *k, yaml_node_t *v,
		     void *arg)
{
	(void)c; (void)which; (void)k; (void)v; (void)arg;
	return 0;
}

static void requests_free(struct mg_price_provider *p)
{
	p->requests.per = 1000;
	p->requests.round_up = 0;
	p->requests.ncls = 0;
	for (int i = 0; i < MG_REQ__COUNT; i++)
		p->requests.map[i] = MG_PRICE_FREE;
}

static int requests_load(struct ctx *c, yaml_node_t *n, struct mg_price_provider *p)
{
	static const char *const names[] = { "per", "round_up", "classes", "map", NULL };
	yaml_node_t *x;
	const char *s = scalar(n);

	requests_free(p);
	if (s && strcmp(s, "free") == 0)
		return 0;
	/* Validate the keys first, then read in dependency order: class
	 * prices are per 'per' requests, the map names the classes. */
	if (map_walk(c, n, "requests", names, walk_noop, NULL) < 0)
		return MG_FAILED;
	if ((x = map_get(c, n, "per"))) {
		if (get_value(c, p, x, VK_COUNT, &p->requests.per) < 0)
			return MG_FAILED;
		if (p->requests.per < 1)
			return tbl_err(c, x, "'per' must be at least 1");
	}
	if ((x = map_get(c, n, "round_up")) &&
	    get_value(c, p, x, VK_COUNT, &p->requests.round_up) < 0)
		return MG_FAILED;
	x = map_get(c, n, "classes");
	if (!x)
		return tbl_err(c, n, "'requests' needs 'classes' (or write 'requests: free')");
	if (map_walk(c, x, "classes", NULL, class_pair, p) < 0)
		return MG_FAILED;
	/* The map's keys are the request names of the run record's counters
	 * (mg_req_name): one list, so a new kind of request is priced under
	 * the name it is counted under. */
	x = map_get(c, n, "map");
	if (!x)
		return tbl_err(c, n, "'requests' needs 'map': the class of each of %s, ...",
			       mg_req_name((enum mg_req)0));
	for (int i = 0; i < MG_REQ__COUNT; i++)
		p->requests.map[i] = -2;
	{
		const char *nm[MG_REQ__COUNT + 1];

		for (int i = 0; i < MG_REQ__COUNT; i++)
			nm[i] = mg_req_name((enum mg_req)i);
		nm[MG_REQ__COUNT] = NULL;
		if (map_walk(c, x, "map", nm, map_pair, p) < 0)
			return MG_FAILED;
	}
	for (int i = 0; i < MG_REQ__COUNT; i++) {
		const char *nm = mg_req_name((enum mg_req)i);

		if (p->requests.map[i] == -2)
			return tbl_err(c, x, "'map' does not say where '%s' requests go: add '%s: CLASS' or '%s: free'",
				       nm, nm, nm);
	}
	return 0;
}

struct prov_arg {
	struct mg_pricing *t;
	size_t idx;		/* the entry being filled (t->p moves) */
	int is_class;
};

static struct mg_price_provider *prov_of(struct prov_arg *a)
{
	return &a->t->p[a->idx];
}

static int provider_body(struct ctx *c, yaml_node_t *n, struct prov_arg *a);

static void provider_copy(struct mg_price_provider *dst,
			  const struct mg_price_provider *src)
{
	*dst = *src;
	dst->name = mg_strdup(src->name);
	dst->title = src->title ? mg_strdup(src->title) : NULL;
	dst->source = src->source ? mg_strdup(src->source) : NULL;
	dst->as_of = src->as_of ? mg_strdup(src->as_of) : NULL;
	dst->notes = src->notes ? mg_strdup(src->notes) : NULL;
	dst->default_class = NULL;	/* the provider's, not the class's */
}

static void provider_release(struct mg_price_provider *p)
{
	free(p->name);
	free(p->title);
	free(p->source);
	free(p->as_of);
	free(p->notes);
	free(p->default_class);
	memset(p, 0, sizeof(*p));
}

static size_t table_add(struct mg_pricing *t)
{
	t->p = mg_realloc(t->p, (t->n + 1) * sizeof(*t->p));
	memset(&t->p[t->n], 0, sizeof(*t->p));
	return t->n++;
}

static int class_entry(struct ctx *c, int which, yaml_node_t *k, yaml_node_t *v,
		       void *arg)
{
	struct prov_arg *a = arg, sub;
	size_t idx;
	struct mg_buf name = MG_BUF_INIT;

	(void)which;
	idx = table_add(a->t);
	provider_copy(&a->t->p[idx], prov_of(a));
	mg_buf_addf(&name, "%s/%s", prov_of(a)->name, scalar(k));
	free(a->t->p[idx].name);
	a->t->p[idx].name = mg_buf_detach(&name);
	a->t->p[idx].line = (int)k->start_mark.line + 1;
	a->t->p[idx].col = (int)k->start_mark.column + 1;
	sub.t = a->t;
	sub.idx = idx;
	sub.is_class = 1;
	return provider_body(c, v, &sub);
}

static int provider_pair(struct ctx *c, int which, yaml_node_t *k, yaml_node_t *v,
			 void *arg)
{
	static const char *const sn[] = { "tiers", "free", "min_billable", "min_days",
					  "min_object", NULL };
	static const char *const en[] = { "tiers", "free", "free_ratio", "fair_use", NULL };
	struct prov_arg *a = arg;
	struct mg_price_provider *p = prov_of(a);

	switch (which) {
	case 0: return get_text(c, v, "title", &p->title);
	case 1: return get_text(c, v, "source", &p->source);
	case 2: return get_text(c, v, "as_of", &p->as_of);
	case 3: return get_text(c, v, "notes", &p->notes);
	case 4: return 0;	/* unit: read first, in provider_body */
	case 5: return map_walk(c, v, "storage", sn, storage_pair, p);
	case 6: {
		const char *s = scalar(v);

		if (s && strcmp(s, "free") == 0) {
			memset(&p->egress, 0, sizeof(p->egress));
			return 0;
		}
		return map_walk(c, v, "egress", en, egress_pair, p);
	}
	case 7: return get_value(c, p, v, VK_PRICE_DATA, &p->retrieval);
	case 8: return requests_load(c, v, p);
	case 9:
		if (a->is_class)
			return tbl_err(c, k, "a storage class cannot have its own 'classes'");
		/* after this entry's own keys: classes copy the finished entry */
		return 0;
	case 10:
		free(p->as_of);
		p->as_of = NULL;
		return get_text(c, v, "checked", &p->as_of);
	default:
		if (a->is_class)
			return tbl_err(c, k, "'default_class' names the provider's own class, not a class's");
		return get_text(c, v, "default_class", &p->default_class);
	}
}

static int provider_body(struct ctx *c, yaml_node_t *n, struct prov_arg *a)
{
	static const char *const names[] = {
		"title", "source", "as_of", "notes", "unit", "storage", "egress",
		"retrieval", "requests", "classes", "checked", "default_class", NULL
	};
	struct mg_price_provider *p = prov_of(a);
	yaml_node_t *u, *cl;

	if (n->type != YAML_MAPPING_NODE)
		return tbl_err(c, n, "provider '%s' must be a mapping (title, source, as_of, unit, storage, egress, requests), got %s",
			       p->name, node_kind(n));
	if ((u = map_get(c, n, "unit"))) {
		const char *s = scalar(u);

		if (a->is_class)
			return tbl_err(c, u, "a storage class bills in its provider's unit: remove 'unit'");
		if (s && strcmp(s, "GB") == 0)
			p->unit_bytes = 1e9;
		else if (s && strcmp(s, "GiB") == 0)
			p->unit_bytes = 1073741824.0;
		else
			return tbl_err(c, u, "'unit' is GB (10^9 bytes) or GiB (2^30 bytes), got '%s'",
				       s ? s : node_kind(u));
		snprintf(p->unit, sizeof(p->unit), "%s", s);
	} else if (!a->is_class) {
		return tbl_err_prov(c, p, "provider '%s' needs 'unit' (GB or GiB): what it bills in",
			       p->name);
	}
	if (map_walk(c, n, p->name, names, provider_pair, a) < 0)
		return MG_FAILED;
	p = prov_of(a);
	if (!a->is_class && (!p->source || !p->as_of))
		return tbl_err_prov(c, p, "provider '%s' needs 'source' and 'checked': the page the prices come from and the date it was read",
			       p->name);
	if (!a->is_class && (cl = map_get(c, n, "classes")))
		return map_walk(c, cl, "classes", NULL, class_entry, a);
	return 0;
}

static int providers_pair(struct ctx *c, int which, yaml_node_t *k, yaml_node_t *v,
			  void *arg)
{
	struct mg_pricing *t = arg;
	struct prov_arg a;
	const char *kn = scalar(k);

	(void)which;
	for (const char *s = kn; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return tbl_err(c, k, "provider name '%s' may hold letters, digits, '-', '_' and '.'",
				       kn);
	a.t = t;
	a.idx = table_add(t);
	a.is_class = 0;
	t->p[a.idx].name = mg_strdup(kn);
	t->p[a.idx].line = (int)k->start_mark.line + 1;
	t->p[a.idx].col = (int)k->start_mark.column + 1;
	requests_free(&t->p[a.idx]);
	return provider_body(c, v, &a);
}

static int root_pair(struct ctx *c, int which, yaml_node_t *k, yaml_node_t *v,
		     void *arg)
{
	const char *s;

	(void)k;
	if (which == 0) {
		s = scalar(v);
		if (!s || strcmp(s, "1") != 0)
			return tbl_err(c, v, "this migrate reads price tables of 'version: 1'");
		return 0;
	}
	return map_walk(c, v, "providers", NULL, providers_pair, arg);
}

void mg_pricing_release(struct mg_pricing *t)
{
	for (size_t i = 0; i < t->n; i++)
		provider_release(&t->p[i]);
	free(t->p);
	free(t->file);
	memset(t, 0, sizeof(*t));
}

int mg_pricing_load_string(const char *name, const char *text, size_t len,
			   struct mg_pricing *t, struct mg_error *err)
{
	static const char *const names[] = { "version", "providers", NULL };
	struct ctx c = { .file = name, .err = err };
	yaml_parser_t parser;
	yaml_node_t *root;
	int r = MG_FAILED;

	memset(t, 0, sizeof(*t));
	t->file = mg_strdup(name);
	{
		size_t line, col;

		if (mg_yaml_too_deep(text, len, MG_YAML_MAX_DEPTH, &line, &col))
			return mg_error_set(err, MG_FAILED, 0, 0, "pricing",
					    "%s:%zu:%zu: nesting deeper than %d levels: is it the right file?",
					    name, line, col, MG_YAML_MAX_DEPTH);
	}
	if (!yaml_parser_initialize(&parser))
		return mg_error_set(err, MG_FAILED, 0, 0, "pricing",
				    "%s: out of memory", name);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &c.doc)) {
		mg_error_set(err, MG_FAILED, 0, 0, "pricing", "%s:%zu:%zu: malformed yaml: %s%s%s",
			     name, parser.problem_mark.line + 1,
			     parser.problem_mark.column + 1,
			     parser.problem ? parser.problem : "cannot parse",
			     parser.context ? " " : "",
			     parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		goto out;
	}
	root = yaml_document_get_root_node(&c.doc);
	if (!root) {
		mg_error_set(err, MG_FAILED, 0, 0, "pricing",
			     "%s:1:1: the price table is empty: start with 'version: 1'", name);
	} else if (map_walk(&c, root, "the price table", names, root_pair, t) == 0) {
		if (!map_get(&c, root, "providers"))
			tbl_err(&c, root, "the price table needs 'providers'");
		else
			r = MG_OK;
	}
	yaml_document_delete(&c.doc);
	yaml_parser_delete(&parser);
out:
	if (r != MG_OK) {
		char *file = t->file;

		t->file = NULL;
		mg_pricing_release(t);
		t->file = file;
	}
	return r;
}

int mg_pricing_load(const char *path, struct mg_pricing *t, struct mg_error *err)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;
	int r;

	memset(t, 0, sizeof(*t));
	if (!f)
		return mg_error_set(err, MG_FAILED, errno, 0, "pricing",
				    "cannot open price table '%s': %s", path,
				    strerror(errno));
	buf = mg_malloc(TABLE_MAX_BYTES + 1);
	n = fread(buf, 1, TABLE_MAX_BYTES + 1, f);
	if (ferror(f) || n > TABLE_MAX_BYTES) {
		int e = ferror(f) ? errno : 0;

		fclose(f);
		free(buf);
		return mg_error_set(err, MG_FAILED, e, 0, "pricing",
				    e ? "cannot read price table '%s': %s" :
				    "price table '%s' is larger than 1 MiB: is it the right file?%s",
				    path, e ? strerror(e) : "");
	}
	fclose(f);
	r = mg_pricing_load_string(path, buf, n, t, err);
	free(buf);
	return r;
}

/* ------------------------------------------------------------ finding */

static int readable(const char *path)
{
	return access(path, R_OK) == 0;
}

/* plans/pricing.yaml in dir or up to four folders above it: a build
 * folder (build-x/, or build-x/tests/unit/ for a test) sits in the tree. */
static char *find_up(const char *dir)
{
	char cur[PATH_MAX];

	snprintf(cur, sizeof(cur), "%s", dir);
	for (int i = 0; i < 5; i++) {
		char cand[PATH_MAX + 32];
		char *slash;

		snprintf(cand, sizeof(cand), "%s/plans/pricing.yaml", cur);
		if (readable(cand))
			return mg_strdup(cand);
		slash = strrchr(cur, '/');
		if (!slash || slash == cur)
			break;
		*slash = '\0';
	}
	return NULL;
}

char *mg_pricing_locate(const char *plan_file, const char *argv0,
			struct mg_error *err)
{
	const char *srcdir = getenv("MG_SRCDIR");
	char exe[PATH_MAX];
	char *r;
	ssize_t n;

	if (plan_file)
		return mg_strdup(plan_file);
	if (readable(MG_DATADIR "/pricing.yaml"))
		return mg_strdup(MG_DATADIR "/pricing.yaml");
	if (srcdir && *srcdir && (r = find_up(srcdir)))
		return r;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0)
		exe[n] = '\0';
	else if (argv0 && strchr(argv0, '/'))
		snprintf(exe, sizeof(exe), "%s", argv0);
	else
		exe[0] = '\0';
	if (exe[0]) {
		char *slash = strrchr(exe, '/');

		if (slash)
			*slash = '\0';
		if ((r = find_up(exe)))
			return r;
	}
	mg_error_set(err, MG_FAILED, 0, 0, "pricing",
		     "no price table found (looked for '%s', $MG_SRCDIR/plans/pricing.yaml and plans/pricing.yaml above the binary): install migrate, or name one in the plan with 'pricing: { file: ... }'",
		     MG_DATADIR "/pricing.yaml");
	return NULL;
}

const struct mg_price_provider *mg_pricing_find(const struct mg_pricing *t,
						const char *provider,
						const char *storage_class)
{
	const struct mg_price_provider *base = NULL;
	size_t plen;

	if (!provider)
		return NULL;
	plen = strlen(provider);
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->p[i].name, provider) == 0)
			base = &t->p[i];
	if (!base || !storage_class || !*storage_class ||
	    (base->default_class && strcasecmp(base->default_class, storage_class) == 0))
		return base;
	/* Storage class names differ in case between APIs (STANDARD_IA,
	 * InfrequentAccess): compare without case. */
	for (size_t i = 0; i < t->n; i++)
		if (strncmp(t->p[i].name, provider, plen) == 0 &&
		    t->p[i].name[plen] == '/' &&
		    strcasecmp(t->p[i].name + plen + 1, storage_class) == 0)
			return &t->p[i];
	return NULL;
}

void mg_pricing_classes(const struct mg_pricing *t, const char *provider,
			struct mg_buf *b)
{
	const struct mg_price_provider *base = mg_pricing_find(t, provider, NULL);
	size_t plen = strlen(provider);
	int first = 1;

	if (base && base->default_class) {
		mg_buf_addf(b, "%s (the default)", base->default_class);
		first = 0;
	}
	for (size_t i = 0; i < t->n; i++)
		if (strncmp(t->p[i].name, provider, plen) == 0 && t->p[i].name[plen] == '/') {
			mg_buf_addf(b, "%s%s", first ? "" : ", ", t->p[i].name + plen + 1);
			first = 0;
		}
	if (first)
		mg_buf_adds(b, "none but the default (leave 'storage_class' out)");
}

void mg_pricing_names(const struct mg_pricing *t, struct mg_buf *b)
{
	int first = 1;

	for (size_t i = 0; i < t->n; i++) {
		if (strchr(t->p[i].name, '/'))
			continue;
		mg_buf_addf(b, "%s%s", first ? "" : ", ", t->p[i].name);
		first = 0;
	}
}

/* ------------------------------------------------------------ overrides */

/* Resolves path in p to the double it names and its kind; NULL with msg. */
static double *override_slot(struct mg_price_provider *p, const char *path,
			     enum vkind *kind, char *msg, size_t msglen)
{
	char buf[128];
	char *part[5];
	int n = 0;
	char *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && n < 5;
	     tok = strtok_r(NULL, ".", &save))
		part[n++] = tok;
	if (n == 1 && strcmp(part[0], "retrieval") == 0) {
		*kind = VK_PRICE_DATA;
		return &p->retrieval;
	}
	if (n >= 2 && (strcmp(part[0], "storage") == 0 ||
		       strcmp(part[0], "egress") == 0)) {
		int st = part[0][0] == 's';
		struct mg_price_tiers *tiers = st ? &p->storage.tiers : &p->egress.tiers;

		if (n == 2 && strcmp(part[1], "free") == 0) {
			*kind = VK_VOLUME;
			return st ? &p->storage.free : &p->egress.free;
		}
		if (n == 2 && st && strcmp(part[1], "min_billable") == 0) {
			*kind = VK_VOLUME;
			return &p->storage.min_billable;
		}
		if (n == 2 && st && strcmp(part[1], "min_object") == 0) {
			*kind = VK_VOLUME;
			return &p->storage.min_object;
		}
		if (n == 2 && st && strcmp(part[1], "min_days") == 0) {
			*kind = VK_DAYS;
			return &p->storage.min_days;
		}
		if (n == 2 && !st && strcmp(part[1], "free_ratio") == 0) {
			*kind = VK_RATIO;
			return &p->egress.free_ratio;
		}
		if (n == 4 && strcmp(part[1], "tiers") == 0) {
			char *end;
			long i = strtol(part[2], &end, 10);

			if (*end || end == part[2] || i < 0 || i >= tiers->n) {
				snprintf(msg, msglen,
					 "'%s' of '%s' has %d tier%s (0..%d), not '%s'",
					 part[0], p->name, tiers->n,
					 tiers->n == 1 ? "" : "s", tiers->n - 1, part[2]);
				return NULL;
			}
			if (strcmp(part[3], "price") == 0) {
				*kind = st ? VK_PRICE_STORAGE : VK_PRICE_DATA;
				return &tiers->t[i].price;
			}
			if (strcmp(part[3], "upto") == 0 && i < tiers->n - 1) {
				*kind = VK_VOLUME;
				return &tiers->t[i].upto;
			}
		}
	}
	if (n >= 2 && strcmp(part[0], "requests") == 0) {
		if (n == 2 && strcmp(part[1], "per") == 0) {
			*kind = VK_COUNT;
			return &p->requests.per;
		}
		if (n == 2 && strcmp(part[1], "round_up") == 0) {
			*kind = VK_COUNT;
			return &p->requests.round_up;
		}
		if (n == 3 && strcmp(part[1], "classes") == 0) {
			for (int i = 0; i < p->requests.ncls; i++) {
				if (strcmp(p->requests.cls[i].name, part[2]) == 0) {
					*kind = VK_PRICE_REQ;
					return &p->requests.cls[i].price;
				}
			}
			snprintf(msg, msglen, "'%s' has no request class '%s'%s",
				 p->name, part[2],
				 p->requests.ncls ? "" : " (its requests are free)");
			return NULL;
		}
	}
	snprintf(msg, msglen,
		 "unknown price key '%s': write storage.free, storage.min_billable, storage.min_days, storage.min_object, storage.tiers.N.price, storage.tiers.N.upto, egress.free, egress.free_ratio, egress.tiers.N.price, egress.tiers.N.upto, retrieval, requests.per, requests.round_up or requests.classes.NAME",
		 path);
	return NULL;
}

static struct mg_price_provider *override_provider(struct mg_pricing *t,
						   const char *provider,
						   char *msg, size_t msglen)
{
	struct mg_buf names = MG_BUF_INIT;

	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->p[i].name, provider) == 0)
			return &t->p[i];
	mg_pricing_names(t, &names);
	snprintf(msg, msglen, "unknown provider '%s': known providers are %s",
		 provider, names.buf ? names.buf : "(none)");
	mg_buf_release(&names);
	return NULL;
}

/* A storage class copies its provider when the table is loaded; an
 * override of the provider reaches the classes that did not set the value
 * themselves, which is what "our discount on aws-s3" means. */
static void override_classes(struct mg_pricing *t, struct mg_price_provider *p,
			     const char *path, double old, double value)
{
	size_t plen = strlen(p->name);
	char msg[16];
	enum vkind k;

	for (size_t i = 0; i < t->n; i++) {
		double *slot;

		if (strncmp(t->p[i].name, p->name, plen) != 0 || t->p[i].name[plen] != '/')
			continue;
		slot = override_slot(&t->p[i], path, &k, msg, sizeof(msg));
		if (slot && *slot == old)
			*slot = value;
	}
}

int mg_pricing_override(struct mg_pricing *t, const char *provider,
			const char *path, double value, char *msg, size_t msglen)
{
	struct mg_price_provider *p = override_provider(t, provider, msg, msglen);
	enum vkind k;
	double *slot, old;

	if (!p || !(slot = override_slot(p, path, &k, msg, msglen)))
		return -1;
	if (!isfinite(value) || value < 0) {
		snprintf(msg, msglen, "'%s' of '%s' cannot be negative", path, provider);
		return -1;
	}
	if (k == VK_COUNT && strcmp(path, "requests.per") == 0 && value < 1) {
		snprintf(msg, msglen, "'requests.per' must be at least 1");
		return -1;
	}
	old = *slot;
	*slot = value;
	if (!strchr(provider, '/'))
		override_classes(t, p, path, old, value);
	return 0;
}

int mg_pricing_override_str(struct mg_pricing *t, const char *provider,
			    const char *path, const char *value, char *msg,
			    size_t msglen)
{
	struct mg_price_provider *p = override_provider(t, provider, msg, msglen);
	enum vkind k;
	double v;
	char why[300];

	if (!p || !override_slot(p, path, &k, msg, msglen))
		return -1;
	if (value_parse(p, k, value, &v, why, sizeof(why)) < 0) {
		snprintf(msg, msglen, "%s (for '%s' of '%s')", why, path, provider);
		return -1;
	}
	return mg_pricing_override(t, provider, path, v, msg, msglen);
}

/* ------------------------------------------------------------ computing */

void mg_delete_ages_add(struct mg_delete_ages *a, uint64_t bytes, int64_t age_s)
{
	int64_t d = age_s < 0 ? 0 : age_s / 86400;

	if (d >= MG_DELETE_AGE_DAYS)
		d = MG_DELETE_AGE_DAYS - 1;
	a->bytes[d] += bytes;
	a->count[d]++;
}

static const char *const comp_names[MG_COST__COUNT] = {
	[MG_COST_EGRESS] = "egress",
	[MG_COST_RETRIEVAL] = "retrieval",
	[MG_COST_SRC_REQ] = "source_requests",
	[MG_COST_DST_REQ] = "target_requests",
	[MG_COST_EARLY_DELETE] = "early_delete",
	[MG_COST_STORAGE] = "storage_monthly",
};

static const char *const comp_titles[MG_COST__COUNT] = {
	[MG_COST_EGRESS] = "Source egress",
	[MG_COST_RETRIEVAL] = "Source retrieval",
	[MG_COST_SRC_REQ] = "Source requests",
	[MG_COST_DST_REQ] = "Target requests",
	[MG_COST_EARLY_DELETE] = "Early-deletion penalty",
	[MG_COST_STORAGE] = "Target storage / month",
};

const char *mg_cost_comp_name(enum mg_cost_comp c)
{
	return (unsigned)c < MG_COST__COUNT ? comp_names[c] : "unknown";
}

const char *mg_cost_comp_title(enum mg_cost_comp c)
{
	return (unsigned)c < MG_COST__COUNT ? comp_titles[c] : "unknown";
}

/* Volumes read best without trailing zeros: "100", "12.5", "0.001". */
static const char *num(char *buf, size_t len, double v)
{
	char *e;

	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(buf, len, "%.0f", v);
		return buf;
	}
	snprintf(buf, len, "%.6f", v);
	e = buf + strlen(buf) - 1;
	while (e > buf && *e == '0')
		*e-- = '\0';
	if (*e == '.')
		*e = '\0';
	return buf;
}

__attribute__((format(printf, 8, 9)))
static void item_add(struct mg_estimate_out *o, enum mg_cost_comp comp,
		     const char *what, double qty, const char *qunit,
		     double rate, double per, const char *fmt, ...)
{
	struct mg_cost_item *it;
	va_list ap;

	if (o->nitems == MG_COST_MAX_ITEMS)
		return;
	it = &o->item[o->nitems++];
	it->comp = comp;
	snprintf(it->what, sizeof(it->what), "%s", what);
	it->qty = qty;
	snprintf(it->qty_unit, sizeof(it->qty_unit), "%s", qunit);
	it->rate = rate;
	it->rate_per = per;
	it->usd = per > 0 ? qty / per * rate : 0;
	va_start(ap, fmt);
	vsnprintf(it->how, sizeof(it->how), fmt, ap);
	va_end(ap);
	o->cost[comp] += it->usd;
}

__attribute__((format(printf, 2, 3)))
static void warn_add(struct mg_estimate_out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->nwarn == MG_COST_MAX_WARN)
		return;
	va_start(ap, fmt);
	vsnprintf(o->warn[o->nwarn++], sizeof(o->warn[0]), fmt, ap);
	va_end(ap);
}

/* Bills vol units across tiers (each tier's upto counted on vol). */
static void tiers_bill(struct mg_estimate_out *o, enum mg_cost_comp comp,
		       const struct mg_price_provider *p,
		       const struct mg_price_tiers *tiers, double vol,
		       const char *label, const char *qunit, const char *why)
{
	double lo = 0;
	char a[32], b[32], q[32], r[32];

	for (int i = 0; i < tiers->n && vol > lo; i++) {
		double hi = tiers->t[i].upto > 0 ? tiers->t[i].upto : INFINITY;
		double take = (vol < hi ? vol : hi) - lo;
		char what[128];

		if (isinf(hi))
			snprintf(what, sizeof(what), "%s above %s %s", label,
				 num(a, sizeof(a), lo), p->unit);
		else
			snprintf(what, sizeof(what), "%s %s-%s %s", label,
				 num(a, sizeof(a), lo), num(b, sizeof(b), hi), p->unit);
		if (tiers->n == 1)
			snprintf(what, sizeof(what), "%s", label);
		item_add(o, comp, what, take, qunit, tiers->t[i].price, 1,
			 "%s%s %s x $%s per %s = $%.4f", why,
			 num(q, sizeof(q), take), qunit,
			 num(r, sizeof(r), tiers->t[i].price), qunit,
			 take * tiers->t[i].price);
		lo = hi;
	}
}

static void egress_bill(struct mg_estimate_out *o, const struct mg_price_provider *p,
			const struct mg_estimate_in *in)
{
	double vol = (double)in->source_read_bytes / p->unit_bytes;
	double stored = (double)in->source_stored_bytes / p->unit_bytes;
	double allow = p->egress.free + p->egress.free_ratio * stored;
	double used = vol < allow ? vol : allow;
	double rest = vol - used;
	char a[32], b[32], c[32], d[32];

	if (vol <= 0)
		return;
	if (p->egress.free_ratio > 0 && in->source_stored_bytes == 0)
		warn_add(o, "%s's free egress depends on the stored volume, which is unknown: set 'stored' on the source in the plan (assumed 0)",
			 p->name);
	if (allow > 0) {
		struct mg_buf how = MG_BUF_INIT;

		if (p->egress.free > 0 && p->egress.free_ratio > 0)
			mg_buf_addf(&how, "%s %s free per month + %gx stored %s %s = %s %s",
				    num(b, sizeof(b), p->egress.free), p->unit,
				    p->egress.free_ratio, num(c, sizeof(c), stored),
				    p->unit, num(a, sizeof(a), allow), p->unit);
		else if (p->egress.free > 0)
			mg_buf_addf(&how, "%s %s free per month",
				    num(a, sizeof(a), allow), p->unit);
		else
			mg_buf_addf(&how, "%gx stored %s %s = %s %s free",
				    p->egress.free_ratio, num(c, sizeof(c), stored),
				    p->unit, num(a, sizeof(a), allow), p->unit);
		mg_buf_addf(&how, ": %s of %s %s read are free",
			    num(b, sizeof(b), used), num(d, sizeof(d), vol), p->unit);
		item_add(o, MG_COST_EGRESS, "egress free allowance", used, p->unit, 0, 1,
			 "%s", how.buf);
		mg_buf_release(&how);
	}
	if (rest <= 0)
		return;
	if (p->egress.fair_use)
		warn_add(o, "egress of %s %s exceeds %s's fair-use allowance (%s %s); it is not billed per %s but breaks the policy",
			 num(a, sizeof(a), vol), p->unit, p->name,
			 num(b, sizeof(b), allow), p->unit, p->unit);
	if (p->egress.tiers.n == 0) {
		item_add(o, MG_COST_EGRESS, "egress", rest, p->unit, 0, 1,
			 "%s's egress is not charged", p->name);
		return;
	}
	tiers_bill(o, MG_COST_EGRESS, p, &p->egress.tiers, rest, "egress",
		   p->unit, allow > 0 ? "beyond the allowance: " : "");
}

/*
 * A provider's free requests and its rounding apply to the billing
 * month's total, not to one move.  With the free tier unspent the move is
 * taken as the month's only use: the allowance comes off and the rest is
 * rounded up as the month's bill would be.  With it spent (free_tier_used)
 * other work shares the month, so the move adds its own requests at the
 * exact rate: the month's rounding is not this move's.
 */
static void requests_bill(struct mg_estimate_out *o, enum mg_cost_comp comp,
			  const struct mg_price_provider *p, const uint64_t *req,
			  int free_tier_used)
{
	char a[32], b[32];

	for (int c = MG_PRICE_FREE; c < p->requests.ncls; c++) {
		struct mg_buf how = MG_BUF_INIT;
		uint64_t n = 0;
		double billed;
		char what[128];

		for (int r = 0; r < MG_REQ__COUNT; r++) {
			if (p->requests.map[r] != c || !req[r])
				continue;
			mg_buf_addf(&how, "%s%s %" PRIu64, n ? " + " : "",
				    mg_req_name((enum mg_req)r), req[r]);
			n += req[r];
		}
		if (!n) {
			mg_buf_release(&how);
			continue;
		}
		if (c == MG_PRICE_FREE) {
			item_add(o, comp, "requests not billed", (double)n, "requests",
				 0, p->requests.per, "%s: free at %s", how.buf, p->name);
			mg_buf_release(&how);
			continue;
		}
		billed = (double)n;
		if (how.len && strchr(how.buf, '+'))
			mg_buf_addf(&how, " = %" PRIu64, n);
		if (p->requests.cls[c].free > 0) {
			billed = billed > p->requests.cls[c].free ?
				 billed - p->requests.cls[c].free : 0;
			mg_buf_addf(&how, ", less %s free per month = %s",
				    num(a, sizeof(a), p->requests.cls[c].free),
				    num(b, sizeof(b), billed));
		}
		if (p->requests.round_up > 0 && !free_tier_used) {
			billed = ceil(billed / p->requests.round_up) * p->requests.round_up;
			mg_buf_addf(&how, ", rounded up to %s for the month",
				    num(a, sizeof(a), billed));
		} else if (p->requests.round_up > 0) {
			mg_buf_addf(&how, " (the month's total is rounded up to %s: shared with other use)",
				    num(a, sizeof(a), p->requests.round_up));
		}
		mg_buf_addf(&how, " x $%s per %s = $%.4f",
			    num(a, sizeof(a), p->requests.cls[c].price),
			    num(b, sizeof(b), p->requests.per),
			    billed / p->requests.per * p->requests.cls[c].price);
		if (p->requests.cls[c].covers[0])
			snprintf(what, sizeof(what), "requests %.23s (%.90s)",
				 p->requests.cls[c].name, p->requests.cls[c].covers);
		else
			snprintf(what, sizeof(what), "requests %s", p->requests.cls[c].name);
		item_add(o, comp, what, billed, "requests", p->requests.cls[c].price,
			 p->requests.per, "%s", how.buf);
		mg_buf_release(&how);
	}
}

double mg_price_requests(const struct mg_price_provider *p, enum mg_req r,
			 uint64_t n)
{
	int c;
	double billed = (double)n;

	if ((unsigned)r >= MG_REQ__COUNT || !n)
		return 0;
	c = p->requests.map[r];
	if (c < 0)
		return 0;
	if (p->requests.round_up > 0)
		billed = ceil(billed / p->requests.round_up) * p->requests.round_up;
	return billed / p->requests.per * p->requests.cls[c].price;
}

static void storage_bill(struct mg_estimate_out *o, const struct mg_price_provider *p,
			 const struct mg_estimate_in *in)
{
	double vol = (double)in->target_stored_bytes / p->unit_bytes;
	double billable;
	char a[32], b[32], qunit[16];
	struct mg_buf why = MG_BUF_INIT;

	snprintf(qunit, sizeof(qunit), "%s-month", p->unit);
	if (p->storage.min_object > 0 && in->small) {
		double min_b = p->storage.min_object * p->unit_bytes;
		double pad = mg_small_objects_pad(in->small, min_b) / p->unit_bytes;

		if (pad > 0) {
			mg_buf_addf(&why, "%s %s stored + %s %s billed for objects below the minimum object size of %.0f bytes = ",
				    num(a, sizeof(a), vol), p->unit,
				    num(b, sizeof(b), pad), p->unit, min_b);
			vol += pad;
			mg_buf_addf(&why, "%s %s; ", num(a, sizeof(a), vol), p->unit);
		}
	}
	billable = vol - p->storage.free;
	if (billable < 0)
		billable = 0;
	if (p->storage.free > 0 && vol > 0)
		mg_buf_addf(&why, "%s %s stored, first %s %s free; ",
			    num(a, sizeof(a), vol), p->unit,
			    num(b, sizeof(b), p->storage.free), p->unit);
	if (p->storage.min_billable > 0 && vol < p->storage.min_billable) {
		mg_buf_addf(&why, "%s %s stored is below the minimum charge for %s %s: ",
			    num(a, sizeof(a), vol), p->unit,
			    num(b, sizeof(b), p->storage.min_billable), p->unit);
		billable = p->storage.min_billable;
	}
	if (p->storage.tiers.n == 0 || (billable <= 0 && vol <= 0)) {
		mg_buf_release(&why);
		return;
	}
	if (billable <= 0) {
		item_add(o, MG_COST_STORAGE, "storage", vol, qunit, 0, 1,
			 "%swithin the free storage", why.buf);
		mg_buf_release(&why);
		return;
	}
	tiers_bill(o, MG_COST_STORAGE, p, &p->storage.tiers, billable, "storage",
		   qunit, why.buf ? why.buf : "");
	mg_buf_release(&why);
}

static void early_delete_bill(struct mg_estimate_out *o,
			      const struct mg_price_provider *p,
			      const struct mg_estimate_in *in)
{
	double gb_days = 0, vol = 0, price;
	uint64_t count = 0;
	int lim;
	char a[32], b[32], c[32], d[32], qunit[16];

	if (!in->deleted || p->storage.min_days <= 0 || p->storage.tiers.n == 0)
		return;
	lim = p->storage.min_days < MG_DELETE_AGE_DAYS ?
	      (int)ceil(p->storage.min_days) : MG_DELETE_AGE_DAYS;
	for (int day = 0; day < lim; day++) {
		double left = p->storage.min_days - day;
		double v = (double)in->deleted->bytes[day] / p->unit_bytes;

		if (!in->deleted->count[day] || left <= 0)
			continue;
		gb_days += v * left;
		vol += v;
		count += in->deleted->count[day];
	}
	if (!count)
		return;
	/* Deleted storage is charged at the base rate: the tier a deleted
	 * object would have sat in is unknowable per object. */
	price = p->storage.tiers.t[0].price;
	snprintf(qunit, sizeof(qunit), "%s-days", p->unit);
	item_add(o, MG_COST_EARLY_DELETE, "minimum storage duration", gb_days, qunit,
		 price, DAYS_PER_MONTH,
		 "%" PRIu64 " object%s (%s %s) deleted before %s days: %s %s-days left x $%s per %s-month / %.0f = $%.4f",
		 count, count == 1 ? "" : "s", num(a, sizeof(a), vol), p->unit,
		 num(b, sizeof(b), p->storage.min_days),
		 num(c, sizeof(c), gb_days), p->unit, num(d, sizeof(d), price),
		 p->unit, DAYS_PER_MONTH, gb_days * price / DAYS_PER_MONTH);
}

/* The entry for one side of a move, or -1 with msg: a provider the table
 * does not know, an S3 endpoint on a host it does not know, or a storage
 * class it does not list for the provider. */
static int lookup(const struct mg_pricing *t, const char *name, const char *cls,
		  const char *url, const char *side,
		  const struct mg_price_provider **out, char *msg, size_t msglen)
{
	struct mg_buf names = MG_BUF_INIT;

	*out = mg_pricing_find(t, name, cls);
	if (*out)
		return 0;
	if (strcmp(name, MG_PROVIDER_UNKNOWN) == 0) {
		mg_pricing_names(t, &names);
		snprintf(msg, msglen, "cannot price the %s '%s': its endpoint is not a provider the price table knows; set 'provider:' on it in the plan (one of %s; 'minio' or 'ceph' for a server of your own)",
			 side, url ? url : "", names.buf ? names.buf : "(none)");
	} else if (mg_pricing_find(t, name, NULL)) {
		mg_pricing_classes(t, name, &names);
		snprintf(msg, msglen, "unknown storage_class '%s' for %s '%s' (not in the price table '%s'): known classes are %s",
			 cls, side, name, t->file ? t->file : "", names.buf);
	} else {
		mg_pricing_names(t, &names);
		snprintf(msg, msglen, "unknown provider '%s' (not in the price table '%s'): known providers are %s",
			 name, t->file ? t->file : "",
			 names.buf ? names.buf : "(none)");
	}
	mg_buf_release(&names);
	return -1;
}

int mg_estimate_compute(const struct mg_pricing *t, const struct mg_estimate_in *in,
			struct mg_estimate_out *out, char *msg, size_t msglen)
{
	const char *sname = in->source_provider ? in->source_provider : "local";
	const char *tname = in->target_provider ? in->target_provider : "local";
	const struct mg_price_provider *src, *dst;
	struct mg_price_provider s_eff, d_eff;
	char a[32];

	memset(out, 0, sizeof(*out));
	if (lookup(t, sname, in->source_class, in->source_url, "source", &src, msg, msglen) < 0 ||
	    lookup(t, tname, in->target_class, in->target_url, "target", &dst, msg, msglen) < 0)
		return -1;
	out->source = src;
	out->target = dst;
	/* bill with copies: the table's free allowances stay for the next
	 * scenario */
	s_eff = *src;
	d_eff = *dst;
	if (in->free_tier_used) {
		mg_price_free_tier_spent(&s_eff);
		mg_price_free_tier_spent(&d_eff);
	}
	src = &s_eff;
	dst = &d_eff;

	egress_bill(out, src, in);
	if (src->retrieval > 0 && in->source_read_bytes) {
		double vol = (double)in->source_read_bytes / src->unit_bytes;

		item_add(out, MG_COST_RETRIEVAL, "retrieval", vol, src->unit,
			 src->retrieval, 1, "%s %s read from %s x $%g per %s",
			 num(a, sizeof(a), vol), src->unit, src->name,
			 src->retrieval, src->unit);
	}
	requests_bill(out, MG_COST_SRC_REQ, src, in->source_req, in->free_tier_used);
	requests_bill(out, MG_COST_DST_REQ, dst, in->target_req, in->free_tier_used);
	early_delete_bill(out, dst, in);
	storage_bill(out, dst, in);

	for (int c = 0; c < MG_COST__COUNT; c++) {
		if (c == MG_COST_STORAGE)
			out->monthly += out->cost[c];
		else
			out->one_time += out->cost[c];
	}
	out->total = out->one_time + out->monthly;
	out->duration_s = mg_transfer_seconds(in->source_read_bytes, in->bandwidth,
					      in->timetable, in->ntimetable,
					      in->link_rate, in->start);
	return 0;
}

static int host_ends(const char *url, const char *suffix)
{
	const char *h = strstr(url, "://"), *e;
	size_t n = strlen(suffix);

	h = h ? h + 3 : url;
	e = h + strcspn(h, ":/");
	return (size_t)(e - h) >= n && strncasecmp(e - n, suffix, n) == 0;
}

const char *mg_pricing_provider_of(const struct mg_endpoint *ep)
{
	static const struct { const char *host, *provider; } hosts[] = {
		{ "amazonaws.com", "aws-s3" },
		{ "backblazeb2.com", "backblaze-b2" },
		{ "r2.cloudflarestorage.com", "cloudflare-r2" },
		{ "wasabisys.com", "wasabi" },
		{ "storage.googleapis.com", "gcs" },
		{ "blob.core.windows.net", "azure-blob" },
	};

	/* a wrapper's bytes sit where its inner endpoint is (tar+s3) */
	const struct mg_endpoint *place = ep->inner ? ep->inner : ep;
	const char *endpoint;

	if (ep->provider)
		return ep->provider;
	if (!place->ops)
		return NULL;
	if (place->ops->provider)
		return place->ops->provider;
	/* an S3-style backend: the provider is whose server it talks to */
	endpoint = mg_endpoint_str(place, "endpoint");
	if (!endpoint)
		return "aws-s3";
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
		if (host_ends(endpoint, hosts[i].host))
			return hosts[i].provider;
	return NULL;
}

void mg_estimate_in_fill(struct mg_estimate_in *in, const struct mg_plan *plan,
			 const struct mg_endpoint *target,
			 const struct mg_counters *src, const struct mg_counters *dst)
{
	in->source_provider = mg_pricing_provider_of(&plan->source);
	if (!in->source_provider)
		in->source_provider = MG_PROVIDER_UNKNOWN;
	in->source_url = plan->source.url;
	in->source_class = mg_endpoint_str(&plan->source, "storage_class");
	in->source_stored_bytes = plan->source.stored_bytes;
	in->target_provider = target ? mg_pricing_provider_of(target) : NULL;
	if (target && !in->target_provider)
		in->target_provider = MG_PROVIDER_UNKNOWN;
	in->target_url = target ? target->url : NULL;
	in->free_tier_used = plan->pricing_free_tier_used;
	in->target_class = target ? mg_endpoint_str(target, "storage_class") : NULL;
	in->bandwidth = plan->transfer.bandwidth;
	in->timetable = plan->transfer.timetable;
	in->ntimetable = plan->transfer.ntimetable;
	if (src) {
		in->source_read_bytes = src->bytes_read;
		memcpy(in->source_req, src->req, sizeof(in->source_req));
	}
	if (dst)
		memcpy(in->target_req, dst->req, sizeof(in->target_req));
}

/* ------------------------------------------------------------ time */

#define WEEK_MIN (7 * 24 * 60)

/* Bytes per second during minute-of-week mow (Monday 00:00 = 0); 0 means
 * unknown (unlimited with no link rate). */
static double rate_at(int mow, uint64_t rate, const struct mg_bw_window *w,
		      size_t nw, uint64_t link_rate)
{
	uint64_t r = rate;

	for (size_t i = 0; i < nw; i++) {
		if (mg_bw_window_match(&w[i], mow / 1440, mow % 1440)) {
			r = w[i].rate;
			break;
		}
	}
	if (r == 0 || (link_rate && link_rate < r))
		r = link_rate;
	return (double)r;
}

double mg_transfer_seconds(uint64_t bytes, uint64_t rate,
			   const struct mg_bw_window *w, size_t nw,
			   uint64_t link_rate, time_t start)
{
	double left = (double)bytes, t = 0, week = 0, avail;
	int unknown = 0, mow;
	struct tm tm;

	if (bytes == 0)
		return 0;
	if (nw == 0) {
		double r = rate_at(0, rate, NULL, 0, link_rate);

		return r > 0 ? left / r : -1;
	}
	localtime_r(&start, &tm);
	mow = ((tm.tm_wday + 6) % 7) * 1440 + tm.tm_hour * 60 + tm.tm_min;
	for (int m = 0; m < WEEK_MIN; m++) {
		double r = rate_at(m, rate, w, nw, link_rate);

		if (r == 0)
			unknown = 1;
		week += r * 60;
	}
	/* The shape repeats every week, so any whole week from any start
	 * moves the same bytes: skip all but the last (partial) one. */
	if (!unknown && week > 0) {
		double k = ceil(left / week) - 1;

		if (k > 0) {
			t = k * WEEK_MIN * 60.0;
			left -= k * week;
		}
	}
	avail = 60 - (tm.tm_sec > 59 ? 59 : tm.tm_sec);
	for (int steps = 0; steps <= WEEK_MIN + 1; steps++) {
		double r = rate_at(mow, rate, w, nw, link_rate);

		if (r == 0)
			return -1;
		if (r * avail >= left)
			return t + left / r;
		left -= r * avail;
		t += avail;
		avail = 60;
		mow = (mow + 1) % WEEK_MIN;
	}
	return -1;
}
