/*
 * tierprice.c - the tiering rules against the price table (issue 15.3):
 * every class a rule names must be one the table lists for each target's
 * provider, or `check` and `estimate` refuse the plan with the rule's
 * FILE:LINE:COL (an archive class priced as Standard would be wrong by
 * orders of magnitude, and a class the provider lacks fails every PUT).
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

int mg_tiering_priced(const struct mg_pricing *t, const struct mg_plan *plan,
		      char *msg, size_t msglen)
{
	for (size_t i = 0; i < plan->ntargets; i++) {
		const char *prov = mg_pricing_provider_of(&plan->targets[i]);

		if (!mg_tier_target(&plan->targets[i]))
			continue;	/* no classes there: the rules skip it */
		/* a provider the table does not know: the estimate asks
		 * for 'provider:' on its own, and check cannot tell */
		if (!prov || !mg_pricing_find(t, prov, NULL))
			continue;
		for (size_t r = 0; r < plan->ntiering; r++) {
			const struct mg_tier_rule *tr = &plan->tiering[r];
			struct mg_buf names = MG_BUF_INIT;

			if (mg_pricing_find(t, prov, tr->cls))
				continue;
			mg_pricing_classes(t, prov, &names);
			snprintf(msg, msglen, "%s:%u:%u: tiering rule %zu: unknown storage class '%s' for target '%s' (provider '%s' in the price table '%s'): known classes are %s",
				 plan->file ? plan->file : "plan", tr->line, tr->col, r + 1,
				 tr->cls, plan->targets[i].url, prov, t->file ? t->file : "",
				 names.buf ? names.buf : "none");
			mg_buf_release(&names);
			return -1;
		}
	}
	return 0;
}

int mg_tiering_check(const struct mg_plan *plan)
{
	struct mg_pricing table;
	struct mg_error err = { 0 };
	char *path, msg[1024];
	int r = 0;

	if (!plan->ntiering)
		return 0;
	path = mg_pricing_locate(plan->pricing_file, NULL, &err);
	if (!path || mg_pricing_load(path, &table, &err) != MG_OK) {
		/* without the table the classes cannot be checked: say so */
		fprintf(stderr, "migrate: tiering: the storage classes are not checked: %s\n",
			err.msg);
		free(path);
		return 0;
	}
	if (mg_tiering_priced(&table, plan, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "%s\n", msg);
		r = -1;
	}
	mg_pricing_release(&table);
	free(path);
	return r;
}

/* A month of bytes (plus padding) in p's unit at its first storage tier:
 * a class is one price in the table; the default class's own tiers were
 * applied by mg_estimate_compute and are taken back at the same rate. */
static double storage_month(const struct mg_price_provider *p, double bytes)
{
	return p->storage.tiers.n ? bytes / p->unit_bytes * p->storage.tiers.t[0].price : 0;
}

static double requests_usd(const struct mg_price_provider *p, const uint64_t *req)
{
	double usd = 0;

	for (int r = 0; r < MG_REQ__COUNT; r++) {
		int k = p->requests.map[r];

		if (k >= 0 && p->requests.per > 0)
			usd += (double)req[r] * p->requests.cls[k].price / p->requests.per;
	}
	return usd;
}

int mg_tier_price(const struct mg_pricing *t, const struct mg_estimate_in *in,
		  const struct mg_class_tally *tally, size_t n,
		  struct mg_estimate_out *out, struct mg_class_line *lines,
		  char *msg, size_t msglen)
{
	const char *prov = in->target_provider;
	const struct mg_price_provider *base = mg_pricing_find(t, prov, in->target_class);
	double d_storage = 0, d_req = 0;

	if (!base)
		return 0;	/* mg_estimate_compute said why already */
	for (size_t i = 0; i < n; i++) {
		const struct mg_class_tally *c = &tally[i];
		const struct mg_price_provider *p = mg_pricing_find(t, prov, c->cls);
		struct mg_class_line *l = &lines[i];
		double pad, base_pad;

		if (!p) {
			snprintf(msg, msglen, "unknown storage class '%s' for provider '%s'",
				 c->cls, prov);
			return -1;
		}
		memset(l, 0, sizeof(*l));
		snprintf(l->cls, sizeof(l->cls), "%s", c->cls);
		snprintf(l->unit, sizeof(l->unit), "%s", p->unit);
		l->objects = c->objects;
		l->bytes = c->bytes;
		l->stored_bytes = c->stored_bytes;
		l->reclassed = c->reclassed;
		l->min_days = p->storage.min_days;
		l->min_object_bytes = p->storage.min_object * p->unit_bytes;
		pad = mg_small_objects_pad(&c->small, l->min_object_bytes);
		l->padding_bytes = pad;
		l->storage_usd = storage_month(p, (double)c->stored_bytes + pad);
		l->requests_usd = requests_usd(p, c->req);
		l->retrieval_per_unit = p->retrieval;
		if (l->min_days > 30)
			l->min_duration_usd = storage_month(p, (double)c->bytes) *
					      (l->min_days - 30) / 30;
		/* what mg_estimate_compute billed these at the default's
		 * prices, taken back, and this class's put in */
		base_pad = mg_small_objects_pad(&c->small, base->storage.min_object * base->unit_bytes);
		d_storage += l->storage_usd - storage_month(base, (double)c->stored_bytes + base_pad);
		d_req += l->requests_usd - requests_usd(base, c->req);
	}
	out->cost[MG_COST_STORAGE] += d_storage;
	out->cost[MG_COST_DST_REQ] += d_req;
	out->monthly += d_storage;
	out->one_time += d_req;
	out->total = out->one_time + out->monthly;
	return 0;
}

void mg_class_lines_text(FILE *f, const struct mg_scenario *s)
{
	char a[32], b[32], c[32], d[32];

	if (!s->nclasses)
		return;
	fprintf(f, "\n  per storage class (tiering rules; priced in the lines above)\n");
	for (size_t i = 0; i < s->nclasses; i++) {
		const struct mg_class_line *l = &s->classes[i];

		mg_fmt_bytes(l->stored_bytes, a, sizeof(a));
		mg_fmt_usd(l->storage_usd, b, sizeof(b));
		mg_fmt_usd(l->requests_usd, c, sizeof(c));
		mg_fmt_usd(l->min_duration_usd, d, sizeof(d));
		fprintf(f, "    %-14s %8" PRIu64 " written, %" PRIu64 " re-classed; holds %s: "
			"storage %s/month, requests %s; minimum %.0f days (%s beyond the "
			"first month), minimum object %.0f bytes, retrieval $%g/%s\n",
			l->cls, l->objects, l->reclassed, a, b, c, l->min_days, d,
			l->min_object_bytes, l->retrieval_per_unit, l->unit);
	}
}

void mg_class_lines_json(json_t *j, const struct mg_scenario *s)
{
	json_t *arr = json_array();

	json_object_set_new(j, "reclassed_objects", json_integer((json_int_t)s->reclassed));
	for (size_t i = 0; i < s->nclasses; i++) {
		const struct mg_class_line *l = &s->classes[i];
		json_t *o = json_object();

		json_object_set_new(o, "class", json_string(l->cls));
		json_object_set_new(o, "objects", json_integer((json_int_t)l->objects));
		json_object_set_new(o, "bytes", json_integer((json_int_t)l->bytes));
		json_object_set_new(o, "reclassed", json_integer((json_int_t)l->reclassed));
		json_object_set_new(o, "stored_bytes", json_integer((json_int_t)l->stored_bytes));
		json_object_set_new(o, "storage_usd", json_real(round(l->storage_usd * 10000) / 10000));
		json_object_set_new(o, "requests_usd", json_real(round(l->requests_usd * 10000) / 10000));
		json_object_set_new(o, "min_days", json_integer((json_int_t)l->min_days));
		json_object_set_new(o, "min_duration_usd",
				    json_real(round(l->min_duration_usd * 10000) / 10000));
		json_object_set_new(o, "min_object_bytes", json_integer((json_int_t)llround(l->min_object_bytes)));
		json_object_set_new(o, "padding_bytes", json_integer((json_int_t)llround(l->padding_bytes)));
		json_object_set_new(o, "retrieval_usd_per_gb",
				    json_real(l->retrieval_per_unit));
		json_object_set_new(o, "unit", json_string(l->unit));
		json_array_append_new(arr, o);
	}
	json_object_set_new(j, "classes", arr);
}
