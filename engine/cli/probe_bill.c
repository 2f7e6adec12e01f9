/*
 * probe_bill.c - the projection's bill (issue 16.2): the whole plan as
 * `migrate estimate` prices it, plus what the probe itself cost, and the
 * total.  The move's part is estimate's own code run on the plan (the walk
 * in estimate mode, mg_estimate_output() filling a struct instead of
 * printing), so the two never disagree: its figure is estimate --json's
 * total.  The probe's part is probe_cost.c's, with the LIST pages that
 * walk sent.  The walk runs once the probe's journal is closed (it opens
 * it) and before probe_price(); the bill is shown after.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MG_PROBE_INTERNAL
#include "probe_private.h"
#include "report.h"

static void bill_line(FILE *f, const char *what, double usd)
{
	char a[40];

	mg_fmt_usd(usd, a, sizeof(a));
	fprintf(f, "  %-44s %14s\n", what, a);
}

/* A scenario's count of LIST pages at one side ("source"/"target"). */
static uint64_t lists(const json_t *sc, const char *side)
{
	return (uint64_t)json_integer_value(json_object_get(json_object_get(json_object_get(
		sc, "requests"), side), "list"));
}

void probe_bill_walk(struct probe *p)
{
	struct mg_run_opts o;
	json_t *scs;

	memset(&o, 0, sizeof(o));
	o.estimate = 1;
	o.quiet = 1;
	o.progress = 0;
	o.bwlimit_set = p->o->bwlimit_set;
	o.bwlimit = p->o->bwlimit;
	o.estimate_result = &p->est;
	p->est_rc = mg_engine_run(p->plan, &o);
	if (p->est_rc != MG_EXIT_OK || !p->est.set)
		return;
	/* The walk lists the source and each target as a run does: those
	 * LIST pages were sent now, for the probe (estimate counts them as
	 * the run's too, which will send them again): the probe's cost has
	 * them.  The rest of estimate's requests are counted, not sent. */
	scs = json_object_get(p->est.json, "scenarios");
	for (size_t i = 0; i < p->plan->ntargets && i < json_array_size(scs); i++)
		p->t[i].cost.req[MG_REQ_LIST] += lists(json_array_get(scs, i), "target");
	p->src_cost.req[MG_REQ_LIST] += lists(json_array_get(scs, 0), "source");
}

int probe_bill(struct probe *p)
{
	json_t *proj = json_object_get(p->report, "projection"), *bill;
	struct mg_estimate_result *res = &p->est;

	if (!proj)
		return 0;
	if (p->est_rc != MG_EXIT_OK || !res->set) {
		fprintf(p->out, "projected bill: not priced: `migrate estimate` on the plan "
			"failed (exit %d): run it for the reason\n", p->est_rc);
		json_object_set_new(proj, "bill", json_pack("{s:n,s:s}", "total_usd", "error",
							    "migrate estimate on the plan failed"));
		json_decref(res->json);
		res->json = NULL;
		return -1;
	}
	bill = json_pack("{s:f,s:o,s:o}", "move_usd", res->total_usd,
			 "probe_usd", p->priced ? json_real(p->cost_usd) : json_null(),
			 "estimate", res->json);
	res->json = NULL;	/* bill has it */
	fprintf(p->out, "projected bill (USD, the plan's price table):\n");
	bill_line(p->out, "the move, as `migrate estimate` prices it", res->total_usd);
	if (p->priced) {
		bill_line(p->out, "this probe (its listing for the estimate in it)", p->cost_usd);
		bill_line(p->out, "total", res->total_usd + p->cost_usd);
		json_object_set_new(bill, "total_usd", json_real(res->total_usd + p->cost_usd));
	} else {
		fprintf(p->out, "  this probe: not priced (above); no total\n");
		json_object_set_new(bill, "total_usd", json_null());
	}
	json_object_set_new(proj, "bill", bill);
	return 0;
}
