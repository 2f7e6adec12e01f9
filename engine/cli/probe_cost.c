/*
 * probe_cost.c - what `migrate probe` itself cost (issue 16.2): every
 * request it made and every byte it read and wrote, counted where they
 * were made (the connectors' counters, as for a run), priced with the
 * plan's price table as `migrate estimate` prices a move.  The source is
 * billed once (on the first target's bill); each target bills its own
 * requests and, where the provider has a minimum storage duration, the
 * early deletion of what the probe wrote and removed at once.  Nothing
 * stays stored, so no month of storage is billed.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MG_PROBE_INTERNAL
#include "probe_private.h"
#include "report.h"

static uint64_t requests(const struct mg_counters *c)
{
	uint64_t n = 0;

	for (int q = 0; q < MG_REQ__COUNT; q++)
		n += c->req[q];
	return n;
}

static json_t *counters_json(const struct mg_counters *c)
{
	json_t *req = json_object();

	for (int q = 0; q < MG_REQ__COUNT; q++)
		if (c->req[q])
			json_object_set_new(req, mg_req_name((enum mg_req)q),
					    json_integer((json_int_t)c->req[q]));
	return json_pack("{s:I,s:o,s:I,s:I}", "total", (json_int_t)requests(c), "requests", req,
			 "bytes_read", (json_int_t)c->bytes_read,
			 "bytes_written", (json_int_t)c->bytes_written);
}

static json_t *bill_json(const struct mg_estimate_out *o)
{
	json_t *items = json_array();

	for (int i = 0; i < o->nitems; i++)
		json_array_append_new(items, json_pack("{s:s,s:s,s:s,s:f}", "component",
						       mg_cost_comp_name(o->item[i].comp),
						       "what", o->item[i].what, "how",
						       o->item[i].how, "usd", o->item[i].usd));
	return json_pack("{s:f,s:o}", "usd", o->one_time, "items", items);
}

/* Prices target i's share; 0, or -1 with msg set. */
static int price_one(struct probe *p, const struct mg_pricing *table, size_t i,
		     struct mg_delete_ages *ages, char *msg, size_t msglen)
{
	static const struct mg_counters none;
	struct probe_target *t = &p->t[i];
	struct mg_estimate_in in;

	memset(&in, 0, sizeof(in));
	memset(ages, 0, sizeof(*ages));
	mg_estimate_in_fill(&in, p->plan, &p->plan->targets[i], i ? &none : &p->src_cost,
			    &t->cost);
	/* written and removed within the minute: deleted at the age of 0 days */
	ages->bytes[0] = t->cost.bytes_written;
	ages->count[0] = t->objects_written;
	in.deleted = ages;
	in.target_stored_bytes = 0;
	in.start = time(NULL);
	return mg_estimate_compute(table, &in, &t->bill, msg, msglen);
}

void probe_price(struct probe *p)
{
	struct mg_pricing table = { 0 };
	struct mg_error err = { 0 };
	struct mg_delete_ages *ages = mg_calloc(1, sizeof(*ages));
	char *path = mg_pricing_locate(p->plan->pricing_file, NULL, &err), msg[512] = "", usd[40];
	json_t *o = json_object(), *targets = json_array();
	uint64_t nreq = requests(&p->src_cost);
	int ok = path && mg_pricing_load(path, &table, &err) == MG_OK;

	if (!ok)
		snprintf(msg, sizeof(msg), "%s", err.msg);
	p->cost_usd = 0;
	for (size_t i = 0; i < p->plan->ntargets; i++) {
		json_t *tj = json_pack("{s:s,s:o}", "url", p->plan->targets[i].url, "counted",
				       counters_json(&p->t[i].cost));

		nreq += requests(&p->t[i].cost);
		if (ok && price_one(p, &table, i, ages, msg, sizeof(msg)) < 0)
			ok = 0;
		if (ok) {
			p->cost_usd += p->t[i].bill.one_time;
			json_object_set_new(tj, "bill", bill_json(&p->t[i].bill));
		}
		json_array_append_new(targets, tj);
	}
	json_object_set_new(o, "source", json_pack("{s:s,s:o}", "url", p->plan->source.url,
						   "counted", counters_json(&p->src_cost)));
	json_object_set_new(o, "targets", targets);
	json_object_set_new(o, "requests", json_integer((json_int_t)nreq));
	if (ok) {
		p->priced = 1;
		json_object_set_new(o, "usd", json_real(p->cost_usd));
		json_object_set_new(o, "pricing", json_string(path));
		mg_fmt_usd(p->cost_usd, usd, sizeof(usd));
		fprintf(p->out, "probe cost: $%s for its %" PRIu64 " request%s and the bytes it moved "
			"(prices: %s)\n", usd, nreq, nreq == 1 ? "" : "s", path);
	} else {
		json_object_set_new(o, "usd", json_null());
		json_object_set_new(o, "error", json_string(msg));
		fprintf(p->out, "probe cost: %" PRIu64 " request%s, not priced: %s\n", nreq,
			nreq == 1 ? "" : "s", msg);
	}
	json_object_set_new(p->report, "cost", o);
	mg_pricing_release(&table);
	free(path);
	free(ages);
}
