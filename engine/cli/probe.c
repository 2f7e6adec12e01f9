/*
 * probe.c - `migrate probe PLAN`: a bounded proof of concept against the
 * plan's real source and targets, before the real move.
 *
 *   1. lists a sample of the source (the first --sample objects the plan's
 *      filter accepts) and reads them at a few concurrencies;
 *   2. writes synthetic objects shaped like the sample (its sizes, random
 *      bytes) under a scratch prefix at each target, at the same
 *      concurrencies, until --bytes per target are written;
 *   3. deletes exactly what it wrote, and says so;
 *   4. lists the whole source and projects the plan's time at the rates
 *      measured at the plan's own concurrency, and names the best one.
 *
 * Safety.  Probe keys are "<prefix>p<6 digits>" below the target's root,
 * numbered from 0; before the first write the journal records, per target,
 * the prefix and how many keys the probe may write ("probe/pending/<id>").
 * The record goes once every one of them is removed.  A probe killed in
 * between leaves the record, and the next probe removes those keys first
 * (a remove of an absent key is no error) and any multipart upload under
 * the prefix.  Nothing else at the target is touched.
 *
 * What it measured is kept in the journal ("probe/<endpoint id>": date,
 * bytes/s and objects/s at the plan's concurrency), so a later `migrate
 * estimate` can give a time without a bandwidth limit.
 *
 * Exit codes: 0 done; 1 some probe writes or removes failed (named); 2
 * usage; 3 an endpoint cannot be opened, or the journal is held by a run.
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <openssl/rand.h>

#define MG_PROBE_INTERNAL
#include "filter.h"
#include "probe_private.h"
#include "report.h"
#include "testhook.h"

#define PROBE_DEFAULT_SAMPLE 100
#define PROBE_DEFAULT_BYTES (1ull << 30)
#define PROBE_BUF (1u << 20)
#define PROBE_MAX_KEYS 20000		/* objects per pass, whatever their size */

void probe_key_name(const struct probe *p, uint64_t i, char *out, size_t outlen)
{
	snprintf(out, outlen, "%sp%06" PRIu64, p->prefix, i);
}

/* The next object to do, or -1 when the pass is over. */
static int64_t take(struct pass_run *r, uint64_t *size)
{
	int64_t i = -1;

	pthread_mutex_lock(&r->lock);
	if (r->part_size) {
		if (r->next < r->nobj && !mg_interrupted) {
			i = (int64_t)r->next++;
			*size = r->object_size;
			r->last_key = r->first + (uint64_t)i + 1;
		}
	} else if (r->write) {
		if (r->written < r->budget && r->next < PROBE_MAX_KEYS && !mg_interrupted) {
			i = (int64_t)r->next++;
			*size = r->p->sizes[(uint64_t)i % r->p->n];
			if (*size > r->budget - r->written)
				*size = r->budget - r->written;
			r->written += *size ? *size : 1;	/* empty ones count a byte */
			r->last_key = r->first + (uint64_t)i + 1;
		}
	} else if (r->next < r->p->n && !mg_interrupted) {
		i = (int64_t)r->next++;
		*size = r->p->sizes[i];
	}
	pthread_mutex_unlock(&r->lock);
	return i;
}

static void done_one(struct pass_run *r, uint64_t bytes, int ok, const char *err)
{
	pthread_mutex_lock(&r->lock);
	if (ok) {
		r->res.objects++;
		r->res.bytes += bytes;
	} else {
		r->res.failed++;
		if (!r->first_error[0])
			snprintf(r->first_error, sizeof(r->first_error), "%s", err);
	}
	pthread_mutex_unlock(&r->lock);
}

static int write_one(struct pass_run *r, struct mg_conn *c, uint64_t i, uint64_t size)
{
	struct mg_put_info info = { .size = size, .mode = 0600 };
	struct mg_put_final fin;
	struct mg_put_result res;
	struct mg_writer *w = NULL;
	char key[256];
	uint64_t off = 0;
	int rc;

	probe_key_name(r->p, r->first + i, key, sizeof(key));
	memset(&fin, 0, sizeof(fin));
	rc = mg_write_open(c, key, &info, &w);
	while (rc == MG_OK && off < size) {
		size_t n = size - off < PROBE_BUF ? (size_t)(size - off) : PROBE_BUF;

		rc = mg_write(c, w, r->p->data + off % (PROBE_MAX_OBJECT - PROBE_BUF), n);
		off += n;
	}
	if (rc == MG_OK)
		return mg_write_commit(c, w, &fin, &res);
	mg_write_abort(c, w);
	return rc;
}

static int read_one(struct pass_run *r, struct mg_conn *c, uint64_t i, unsigned char *buf)
{
	struct mg_reader *rd = NULL;
	int rc = mg_read_open(c, r->p->keys[i], 0, UINT64_MAX, &rd);

	while (rc == MG_OK) {
		size_t got = 0;

		rc = mg_read(c, rd, buf, PROBE_BUF, &got);
		if (got == 0)
			break;
	}
	mg_read_close(c, rd);
	return rc;
}

static void *pass_worker(void *arg)
{
	struct pass_run *r = arg;
	struct mg_conn c;
	unsigned char *buf = r->write ? NULL : mg_malloc(PROBE_BUF);
	unsigned flags = (r->write ? MG_OPEN_TARGET : MG_OPEN_SOURCE) | MG_OPEN_NOCHECK;
	uint64_t size;
	int64_t i;

	if (mg_conn_open(&c, r->ep->ops, r->ep, &r->counters, flags) != MG_OK) {
		done_one(r, 0, 0, c.err.msg);
		mg_conn_close(&c);
		free(buf);
		return NULL;
	}
	while ((i = take(r, &size)) >= 0) {
		int rc;

		mg_error_clear(&c.err);
		rc = r->part_size ? probe_write_parts(r, &c, (uint64_t)i, size) :
		     r->write ? write_one(r, &c, (uint64_t)i, size) : read_one(r, &c, (uint64_t)i, buf);
		done_one(r, size, rc == MG_OK, c.err.msg);
		if (r->write)
			mg_test_point("probe");
	}
	mg_conn_close(&c);
	free(buf);
	return NULL;
}

static void counters_add(struct mg_counters *dst, const struct mg_counters *src)
{
	for (int q = 0; q < MG_REQ__COUNT; q++)
		dst->req[q] += src->req[q];
	dst->bytes_read += src->bytes_read;
	dst->bytes_written += src->bytes_written;
	dst->retries += src->retries;
}

/* Runs r at conc workers; what its requests were adds to *cost. */
void probe_run_pass(struct pass_run *r, int conc, struct mg_counters *cost)
{
	pthread_t *t = mg_calloc((size_t)conc, sizeof(*t));
	int64_t t0 = mg_mono_ns();
	int started = 0;

	/* the connectors time every request into it (connector.h) */
	r->counters.lat = mg_calloc(1, sizeof(*r->counters.lat));
	pthread_mutex_init(&r->lock, NULL);
	r->res.conc = conc;
	for (int k = 0; k < conc; k++)
		if (pthread_create(&t[k], NULL, pass_worker, r) == 0)
			started++;
	for (int k = 0; k < started; k++)
		pthread_join(t[k], NULL);
	r->res.secs = (double)(mg_mono_ns() - t0) / 1e9;
	for (int q = 0; q < MG_REQ__COUNT; q++)
		r->res.requests += r->counters.req[q];
	r->res.lat = r->counters.lat;
	counters_add(cost, &r->counters);
	pthread_mutex_destroy(&r->lock);
	free(t);
}

/* ---- cleaning up: exactly the probe's keys ---- */

/* 1 if key is one of the probe's under prefix: prefix "p" and six digits. */
static int probe_key(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(key, prefix, n) || key[n] != 'p' || strlen(key + n + 1) != 6)
		return 0;
	for (int i = 1; i <= 6; i++)
		if (key[n + i] < '0' || key[n + i] > '9')
			return 0;
	return 1;
}

static int uploads_cb(void *arg, const struct mg_upload *u)
{
	struct mg_conn *c = arg;

	mg_mp_abort(c, u->key, u->upload_id);
	return 0;
}

/*
 * Removes every probe key under prefix at c's target: a listing from the
 * prefix on (keys sort together: it stops at the first key past them), so
 * it finds what a killed probe left as well as what this one wrote (a
 * probe refuses a prefix that holds such keys before it starts, so they
 * are all its own).  With dry, only counts.  Sets *removed; returns
 * MG_OK, or an error with c->err set.
 */
static int remove_probe_keys(struct mg_conn *c, const char *prefix, int dry,
			     uint64_t *removed)
{
	struct mg_lister *it = NULL;
	struct mg_entry e;
	char **keys = NULL;
	size_t n = 0;
	int rc;

	*removed = 0;
	/* collect first: removing while listing is not in the contract */
	rc = mg_list_open(c, prefix, &it);
	while (rc == MG_OK && (rc = mg_list_next(c, it, &e)) == MG_OK) {
		if (strncmp(e.key, prefix, strlen(prefix)))
			break;
		if (!probe_key(e.key, prefix))
			continue;
		keys = mg_realloc(keys, (n + 1) * sizeof(*keys));
		keys[n++] = mg_strdup(e.key);
	}
	mg_list_close(c, it);
	if (rc == MG_DONE)
		rc = MG_OK;
	for (size_t i = 0; i < n; i++) {
		if (dry) {
			(*removed)++;
		} else if (rc == MG_OK) {
			rc = mg_remove(c, keys[i]);
			if (rc == MG_OK)
				(*removed)++;
		}
		free(keys[i]);
	}
	free(keys);
	if (rc == MG_OK && !dry && mg_conn_has(c, MG_CAP_MULTIPART))
		rc = mg_mp_list_uploads(c, prefix, uploads_cb, c);
	return rc;
}

static char *pending_name(const struct mg_endpoint *ep)
{
	struct mg_buf b;

	mg_buf_init(&b, 64);
	mg_buf_addf(&b, "probe/pending/%s", ep->id);
	return mg_buf_detach(&b);
}

/* What an earlier probe left at ep (its journal record names the
 * prefix), removed before anything else.  0, or -1 (said). */
static int clean_pending(struct probe *p, const struct mg_endpoint *ep, struct mg_conn *c)
{
	char *name = pending_name(ep), *prefix = mg_journal_get_meta(p->j, name);
	uint64_t removed;
	int rc = 0;

	if (prefix && *prefix) {
		if (remove_probe_keys(c, prefix, 0, &removed) == MG_OK) {
			fprintf(p->out, "target %s: an earlier probe did not finish: removed the %" PRIu64
			       " object%s it left under '%s'\n", ep->url, removed,
			       removed == 1 ? "" : "s", prefix);
			mg_journal_put_meta(p->j, name, "");
		} else {
			fprintf(stderr, "migrate: probe: cannot clean up what an earlier probe "
				"left under '%s' at %s: %s\n", prefix, ep->url, c->err.msg);
			rc = -1;
		}
	}
	free(prefix);
	free(name);
	return rc;
}

/* ---- passes ---- */

/* Percentiles of each request class the pass used: {class: {...}}. */
static json_t *latency_json(const struct mg_latency *lat)
{
	json_t *o = json_object();

	for (int q = 0; lat && q < MG_LAT_CLASSES; q++) {
		const struct mg_hist *h = &lat->total[q];

		if (!h->count)
			continue;
		json_object_set_new(o, mg_lat_name(q),
				    json_pack("{s:I,s:f,s:f,s:f,s:f}", "count",
					      (json_int_t)h->count, "p50", mg_hist_pct(h, 50),
					      "p95", mg_hist_pct(h, 95), "p99", mg_hist_pct(h, 99),
					      "max", mg_hist_max_s(h)));
	}
	return o;
}

static void latency_print(FILE *out, const struct mg_latency *lat)
{
	for (int q = 0; lat && q < MG_LAT_CLASSES; q++) {
		const struct mg_hist *h = &lat->total[q];

		if (h->count)
			fprintf(out, "        %-18s %6" PRIu64 " requests  p50 %.3f s  p95 %.3f s  "
				"p99 %.3f s  max %.3f s\n", mg_lat_name(q), h->count,
				mg_hist_pct(h, 50), mg_hist_pct(h, 95), mg_hist_pct(h, 99),
				mg_hist_max_s(h));
	}
}

json_t *probe_pass_json(const struct pass *s)
{
	double secs = s->secs > 0 ? s->secs : 1e-9;

	return json_pack("{s:i,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:o}", "concurrency", s->conc,
			 "objects", (json_int_t)s->objects, "bytes", (json_int_t)s->bytes,
			 "requests", (json_int_t)s->requests, "failed", (json_int_t)s->failed,
			 "seconds", s->secs, "bytes_per_s", (double)s->bytes / secs,
			 "objects_per_s", (double)s->objects / secs,
			 "requests_per_s", (double)s->requests / secs,
			 "latency", latency_json(s->lat));
}

static void pass_print(FILE *out, const char *what, const struct pass *s)
{
	char b[32], rate[32];
	double secs = s->secs > 0 ? s->secs : 1e-9;

	mg_fmt_bytes(s->bytes, b, sizeof(b));
	mg_fmt_bytes((uint64_t)((double)s->bytes / secs), rate, sizeof(rate));
	fprintf(out, "  %-5s at concurrency %3d: %6" PRIu64 " objects, %10s in %6.2f s: %10s/s, "
	       "%7.1f objects/s, %7.1f requests/s%s\n", what, s->conc, s->objects, b,
	       s->secs, rate, (double)s->objects / secs, (double)s->requests / secs,
	       s->failed ? " (some failed)" : "");
	latency_print(out, s->lat);
}

/* The pass at the plan's concurrency (the projection's), else the last. */
static const struct pass *at_plan(const struct pass *v, int n, int conc)
{
	for (int i = 0; i < n; i++)
		if (v[i].conc == conc)
			return &v[i];
	return &v[n - 1];
}

const struct pass *probe_best(const struct pass *v, int n)
{
	const struct pass *b = &v[0];

	for (int i = 1; i < n; i++)
		if (v[i].bytes * b->secs > b->bytes * v[i].secs)
			b = &v[i];
	return b;
}

static double rate(const struct pass *s, int objects)
{
	double secs = s->secs > 0 ? s->secs : 1e-9;

	return (double)(objects ? s->objects : s->bytes) / secs;
}

/* Kept in the journal for `migrate estimate` (probe/<endpoint id>). */
static void remember(struct probe *p, const struct mg_endpoint *ep, const struct pass *s,
		     const char *direction, uint64_t part_size)
{
	char name[128], *txt;
	json_t *o = json_pack("{s:I,s:s,s:i,s:f,s:f}", "at", (json_int_t)time(NULL),
			      "direction", direction, "concurrency", s->conc,
			      "bytes_per_s", rate(s, 0), "objects_per_s", rate(s, 1));

	/* the part size that wrote fastest, for estimate and people to cite */
	if (part_size)
		json_object_set_new(o, "part_size", json_integer((json_int_t)part_size));

	snprintf(name, sizeof(name), "probe/%s", ep->id);
	txt = json_dumps(o, JSON_COMPACT);
	mg_journal_put_meta(p->j, name, txt);
	free(txt);
	json_decref(o);
}

/* One endpoint's record: 0 with *rate and *at, or -1 when there is none. */
static int measured_one(struct mg_journal *j, const struct mg_endpoint *ep, double *rate,
			int64_t *at)
{
	char name[128], *txt;
	json_t *o;
	int rc = -1;

	snprintf(name, sizeof(name), "probe/%s", ep->id);
	txt = mg_journal_get_meta(j, name);
	if (txt && (o = json_loads(txt, 0, NULL))) {
		*rate = json_number_value(json_object_get(o, "bytes_per_s"));
		*at = (int64_t)json_integer_value(json_object_get(o, "at"));
		rc = *rate > 0 ? 0 : -1;
		json_decref(o);
	}
	free(txt);
	return rc;
}

void mg_probe_measured(struct mg_journal *j, const struct mg_endpoint *src,
		       const struct mg_endpoint *dst, uint64_t *rate, int64_t *at)
{
	double r = 0, rs, rd;
	int64_t as = 0, ad = 0;
	int hs = j ? measured_one(j, src, &rs, &as) == 0 : 0;
	int hd = j ? measured_one(j, dst, &rd, &ad) == 0 : 0;

	*rate = 0;
	*at = 0;
	if (hs)
		r = rs;
	if (hd && (!hs || rd < r))
		r = rd;
	if (hs || hd) {
		*rate = (uint64_t)r;
		*at = hs && hd ? (as < ad ? as : ad) : hs ? as : ad;
	}
}

void mg_probe_part_size(struct mg_journal *j, const struct mg_endpoint *dst, uint64_t *size,
			int64_t *at)
{
	char name[128], *txt;
	json_t *o;

	*size = 0;
	*at = 0;
	if (!j)
		return;
	snprintf(name, sizeof(name), "probe/%s", dst->id);
	txt = mg_journal_get_meta(j, name);
	if (txt && (o = json_loads(txt, 0, NULL))) {
		*size = (uint64_t)json_integer_value(json_object_get(o, "part_size"));
		*at = *size ? (int64_t)json_integer_value(json_object_get(o, "at")) : 0;
		json_decref(o);
	}
	free(txt);
}

static void probe_source(struct probe *p, struct pass *out)
{
	json_t *arr = json_array();

	fprintf(p->out, "source %s: reading %zu sample object%s\n", p->plan->source.url, p->n,
	       p->n == 1 ? "" : "s");
	for (int l = 0; l < p->nlevels; l++) {
		struct pass_run r = { .p = p, .ep = &p->plan->source };

		probe_run_pass(&r, p->levels[l], &p->src_cost);
		out[l] = r.res;
		pass_print(p->out, "read", &out[l]);
		json_array_append_new(arr, probe_pass_json(&out[l]));
		if (r.first_error[0]) {
			fprintf(stderr, "migrate: probe: reading %s: %s\n", p->plan->source.url,
				r.first_error);
			p->code = MG_EXIT_PARTIAL;
		}
	}
	remember(p, &p->plan->source, at_plan(out, p->nlevels, p->plan->transfer.concurrency),
		 "read", 0);
	json_object_set_new(p->report, "source", json_pack("{s:s,s:o}", "url",
							   p->plan->source.url, "read", arr));
}

static void probe_target(struct probe *p, const struct mg_endpoint *ep, struct probe_target *t,
			 json_t *targets)
{
	struct pass *out = t->w;
	uint64_t per, used = 0, removed = 0, psz[PROBE_PART_SIZES], objsize = 0, best_part = 0;
	char *name = pending_name(ep), cap[32];
	json_t *arr = json_array(), *parts = json_array();
	struct mg_conn c;
	int rc, clean = 0, np = 0;

	if (mg_conn_open(&c, ep->ops, ep, &t->cost, MG_OPEN_TARGET) != MG_OK) {
		fprintf(stderr, "migrate: probe: cannot open %s: %s\n", ep->url, c.err.msg);
		p->code = MG_EXIT_FATAL;
		goto out;
	}
	if (clean_pending(p, ep, &c) < 0) {
		p->code = MG_EXIT_PARTIAL;
		goto out;
	}
	/* the keys under the prefix must all be the probe's own */
	if (remove_probe_keys(&c, p->prefix, 1, &removed) != MG_OK || removed) {
		fprintf(stderr, "migrate: probe: %s: %s\n", ep->url, removed ?
			"objects named like the probe's are there already under the prefix: "
			"choose another --prefix" : c.err.msg);
		removed = 0;
		p->code = MG_EXIT_FATAL;
		goto out;
	}
	mg_fmt_bytes(p->cap, cap, sizeof(cap));
	fprintf(p->out, "target %s: writing at most %s under '%s'\n", ep->url, cap, p->prefix);
	/* journaled before the first write: a killed probe is cleaned up by
	 * the next one */
	if (mg_journal_put_meta(p->j, name, p->prefix) != MG_OK) {
		fprintf(stderr, "migrate: probe: cannot write the journal: nothing written\n");
		p->code = MG_EXIT_FATAL;
		goto out;
	}
	/* half the bytes to the part-size search where there is multipart
	 * and room for two sizes */
	if (mg_conn_has(&c, MG_CAP_MULTIPART))
		np = probe_part_sizes(p->cap / 2, psz, &objsize);
	per = (np ? p->cap - p->cap / 2 : p->cap) / (uint64_t)p->nlevels;
	for (int l = 0; l < p->nlevels && !mg_interrupted; l++) {
		struct pass_run r = { .p = p, .ep = ep, .write = 1, .first = used, .budget = per };

		probe_run_pass(&r, p->levels[l], &t->cost);
		used = r.last_key > used ? r.last_key : used;
		out[l] = r.res;
		t->objects_written += r.res.objects;
		pass_print(p->out, "write", &out[l]);
		json_array_append_new(arr, probe_pass_json(&out[l]));
		if (r.first_error[0]) {
			fprintf(stderr, "migrate: probe: writing to %s: %s\n", ep->url, r.first_error);
			p->code = MG_EXIT_PARTIAL;
		}
	}
	if (np && !mg_interrupted)
		best_part = probe_parts(p, ep, t, &used, psz, np, objsize, p->cap / 2 / (uint64_t)np,
					parts);
	mg_error_clear(&c.err);
	rc = remove_probe_keys(&c, p->prefix, 0, &removed);
	if (rc == MG_OK) {
		mg_journal_put_meta(p->j, name, "");
		clean = 1;
		fprintf(p->out, "  removed the %" PRIu64 " object%s the probe wrote under '%s'; nothing "
		       "else was touched\n", removed, removed == 1 ? "" : "s", p->prefix);
	} else {
		fprintf(p->out, "  could not remove every probe object (%" PRIu64 " removed): %s; the "
		       "next probe tries again\n", removed, c.err.msg);
		p->code = MG_EXIT_PARTIAL;
	}
	if (!mg_interrupted)
		remember(p, ep, at_plan(out, p->nlevels, p->plan->transfer.concurrency), "write",
			 best_part);
out:
	json_array_append_new(targets, json_pack("{s:s,s:o,s:o,s:I,s:b}", "url", ep->url, "write",
						 arr, "part_sizes", parts, "removed",
						 (json_int_t)removed, "clean", clean));
	if (best_part)
		json_object_set_new(json_array_get(targets, json_array_size(targets) - 1),
				    "best_part_size", json_integer((json_int_t)best_part));
	mg_conn_close(&c);
	free(name);
}

/* ---- the sample and the projection ---- */

/* Lists the source once: the first p->n accepted objects become the
 * sample, and all of them are counted for the projection. */
static int list_source(struct probe *p, size_t want, uint64_t *objects, uint64_t *bytes)
{
	struct mg_conn c;
	struct mg_lister *it = NULL;
	struct mg_entry e;
	int64_t now = time(NULL);
	int rc;

	*objects = *bytes = 0;
	if (mg_conn_open(&c, p->plan->source.ops, &p->plan->source, &p->src_cost,
			 MG_OPEN_SOURCE) != MG_OK) {
		fprintf(stderr, "migrate: probe: cannot open %s: %s\n", p->plan->source.url,
			c.err.msg);
		mg_conn_close(&c);
		return MG_EXIT_FATAL;
	}
	p->sizes = mg_calloc(want ? want : 1, sizeof(*p->sizes));
	p->keys = mg_calloc(want ? want : 1, sizeof(*p->keys));
	rc = mg_list_open(&c, NULL, &it);
	while (rc == MG_OK && !mg_interrupted && (rc = mg_list_next(&c, it, &e)) == MG_OK) {
		if (e.kind != MG_ENTRY_FILE || !mg_filter_accept(p->plan, &e, now))
			continue;
		(*objects)++;
		*bytes += e.size;
		if (p->n < want) {
			p->keys[p->n] = mg_strdup(e.key);
			p->sizes[p->n++] = e.size < PROBE_MAX_OBJECT ? e.size : PROBE_MAX_OBJECT;
		}
	}
	mg_list_close(&c, it);
	if (rc != MG_DONE && !mg_interrupted) {
		fprintf(stderr, "migrate: probe: cannot list %s: %s\n", p->plan->source.url,
			c.err.msg);
		mg_conn_close(&c);
		return MG_EXIT_FATAL;
	}
	mg_conn_close(&c);
	return mg_interrupted ? MG_EXIT_INTERRUPT : MG_EXIT_OK;
}

/* Seconds the whole move takes at pass s: bytes and objects each at the
 * rate measured, the slower of the two (they agree when the sample has
 * the plan's mean object size). */
static double time_at(const struct pass *s, uint64_t objects, uint64_t bytes,
		      uint64_t bwlimit)
{
	double t = 0, r;

	if ((r = rate(s, 0)) > 0)
		t = (double)bytes / r;
	if ((r = rate(s, 1)) > 0 && (double)objects / r > t)
		t = (double)objects / r;
	if (bwlimit && (double)bytes / (double)bwlimit > t)
		t = (double)bytes / (double)bwlimit;
	return t;
}

static void project(struct probe *p, const struct pass *src, uint64_t objects, uint64_t bytes)
{
	int conc = p->plan->transfer.concurrency;
	const struct pass *s = at_plan(src, p->nlevels, conc);
	double t = time_at(s, objects, bytes, 0);
	const char *bound = "reading the source";
	char b[32], when[64];
	json_t *best = json_array();

	for (size_t i = 0; i < p->plan->ntargets; i++) {
		const struct pass *w = at_plan(p->t[i].w, p->nlevels, conc), *bw;
		double tt = time_at(w, objects, bytes, p->plan->transfer.bandwidth);

		if (tt > t) {
			t = tt;
			bound = p->plan->targets[i].url;
		}
		bw = probe_best(p->t[i].w, p->nlevels);
		json_array_append_new(best, json_pack("{s:s,s:i}", "url", p->plan->targets[i].url,
						      "best_concurrency", bw->conc));
		if (bw->conc != conc)
			fprintf(p->out, "  %s: concurrency %d wrote fastest (the plan has %d)\n",
			       p->plan->targets[i].url, bw->conc, conc);
	}
	mg_fmt_bytes(bytes, b, sizeof(b));
	mg_fmt_duration(t, when, sizeof(when));
	fprintf(p->out, "projection: %" PRIu64 " objects, %s, at concurrency %d: about %s (bound by %s)\n"
	       "  `migrate estimate` now uses these rates for its time\n",
	       objects, b, conc, when, bound);
	/* the run's part size is the plan's, whatever the probe found
	 * (parthint.c says why): the projection says which */
	for (size_t i = 0; i < p->plan->ntargets; i++) {
		json_t *tj = json_array_get(json_object_get(p->report, "targets"), i);
		uint64_t bp = (uint64_t)json_integer_value(json_object_get(tj, "best_part_size"));
		char used[32], found[32];

		if (!bp || bp == p->plan->transfer.part_size)
			continue;
		mg_fmt_bytes(p->plan->transfer.part_size, used, sizeof(used));
		mg_fmt_bytes(bp, found, sizeof(found));
		fprintf(p->out, "  %s: the run sends parts of %s (transfer.part_size); the probe "
			"found part_size %s faster: set transfer.part_size to use it\n",
			p->plan->targets[i].url, used, found);
	}
	json_object_set_new(p->report, "projection",
			    json_pack("{s:I,s:I,s:i,s:I,s:f,s:s,s:o}", "objects", (json_int_t)objects,
				      "bytes", (json_int_t)bytes, "concurrency", conc,
				      "part_size", (json_int_t)p->plan->transfer.part_size,
				      "seconds", t, "bound_by", bound, "best", best));
}

static void levels_of(struct probe *p)
{
	int c = p->plan->transfer.concurrency;
	int want[PROBE_LEVELS] = { 1, c, 2 * c };

	p->nlevels = 0;
	for (int i = 0; i < PROBE_LEVELS; i++)
		if (p->nlevels == 0 || want[i] > p->levels[p->nlevels - 1])
			p->levels[p->nlevels++] = want[i];
}

static void probe_release(struct probe *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->keys[i]);
	free(p->keys);
	free(p->sizes);
	free(p->data);
	json_decref(p->report);
	json_decref(p->est.json);	/* NULL once the bill has it */
	if (p->j)
		mg_journal_close(p->j);
}

int mg_cmd_probe(const char *path, struct mg_plan *plan, struct mg_run_opts *o)
{
	struct probe p = { .plan = plan, .o = o, .code = MG_EXIT_OK };
	struct pass src[PROBE_LEVELS] = { { 0 } };
	struct mg_error err = { 0 };
	char prefix[96];
	uint64_t objects, bytes;
	json_t *targets;
	int code;

	(void)path;
	p.out = o->json ? stderr : stdout;
	p.cap = o->probe_bytes ? o->probe_bytes : PROBE_DEFAULT_BYTES;
	snprintf(prefix, sizeof(prefix), ".migrate-probe-%" PRId64 "-", (int64_t)time(NULL));
	p.prefix = o->probe_prefix ? o->probe_prefix : prefix;
	if (mg_journal_open(plan->journal, &p.j, &err) != MG_OK) {
		fprintf(stderr, "migrate: probe: %s\n", err.msg);
		return MG_EXIT_FATAL;
	}
	levels_of(&p);
	code = list_source(&p, o->probe_sample ? o->probe_sample : PROBE_DEFAULT_SAMPLE,
			   &objects, &bytes);
	if (code != MG_EXIT_OK) {
		probe_release(&p);
		return code;
	}
	if (p.n == 0) {
		fprintf(stderr, "migrate: probe: the source %s has no object the plan would "
			"move: nothing to measure\n", plan->source.url);
		probe_release(&p);
		return MG_EXIT_PARTIAL;
	}
	p.data = mg_malloc(PROBE_MAX_OBJECT);
	RAND_bytes(p.data, PROBE_MAX_OBJECT);
	p.report = json_object();
	targets = json_array();
	p.t = mg_calloc(plan->ntargets, sizeof(*p.t));
	probe_source(&p, src);
	for (size_t i = 0; i < plan->ntargets && !mg_interrupted; i++)
		probe_target(&p, &plan->targets[i], &p.t[i], targets);
	json_object_set_new(p.report, "targets", targets);
	/* the bill's estimate walk opens the journal itself */
	mg_journal_close(p.j);
	p.j = NULL;
	if (!mg_interrupted && p.code != MG_EXIT_FATAL) {
		project(&p, src, objects, bytes);
		probe_bill_walk(&p);
	}
	/* what it cost, even when cut short: the requests were made */
	probe_price(&p);
	if (!mg_interrupted)
		probe_bill(&p);		/* a failure is said; the measurement stands */
	if (o->json) {
		char *s = json_dumps(p.report, JSON_INDENT(2));

		puts(s);
		free(s);
	}
	fflush(stdout);
	if (o->html && probe_html(&p, o->html) < 0 && p.code == MG_EXIT_OK)
		p.code = MG_EXIT_FATAL;
	for (int l = 0; l < PROBE_LEVELS; l++) {
		free(src[l].lat);
		for (size_t i = 0; i < plan->ntargets; i++)
			free(p.t[i].w[l].lat);
	}
	for (size_t i = 0; i < plan->ntargets; i++)
		for (int k = 0; k < p.t[i].nparts; k++)
			free(p.t[i].parts[k].pass.lat);
	free(p.t);
	code = mg_interrupted ? MG_EXIT_INTERRUPT : p.code;
	probe_release(&p);
	return code;
}
