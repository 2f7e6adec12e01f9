/*
 * probe_bill.c - the projection's bill (issue 16.2): the whole plan as
 * `migrate estimate` prices it, plus what the probe itself cost, and the
 * total.  The move's part is estimate's own code run on the plan (the walk
 * in estimate mode, mg_estimate_output() filling a struct instead of
 * printing), so the two never disagree: its figure is estimate --json's
 * total.  The probe's part is probe_cost.c's.  Run once the probe's
 * journal is closed (the walk opens it) and after probe_price().
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

/* Sets p->report's projection.bill and prints it (the projection must be
 * there).  Returns 0, or -1 when the move could not be priced (said). */
int probe_bill(struct probe *p)
{
	json_t *proj = json_object_get(p->report, "projection"), *bill;
	struct mg_run_opts o;
	struct mg_estimate_result res = { 0 };
	int rc;

	if (!proj)
		return 0;
	memset(&o, 0, sizeof(o));
	o.estimate = 1;
	o.quiet = 1;
	o.progress = 0;
	o.bwlimit_set = p->o->bwlimit_set;
	o.bwlimit = p->o->bwlimit;
	o.estimate_result = &res;
	rc = mg_engine_run(p->plan, &o);
	if (rc != MG_EXIT_OK || !res.set) {
		fprintf(p->out, "projected bill: not priced: `migrate estimate` on the plan "
			"failed (exit %d): run it for the reason\n", rc);
		json_object_set_new(proj, "bill", json_pack("{s:n,s:s}", "total_usd", "error",
							    "migrate estimate on the plan failed"));
		json_decref(res.json);
		return -1;
	}
	bill = json_pack("{s:f,s:o,s:o}", "move_usd", res.total_usd,
			 "probe_usd", p->priced ? json_real(p->cost_usd) : json_null(),
			 "estimate", res.json);
	fprintf(p->out, "projected bill (USD, the plan's price table):\n");
	bill_line(p->out, "the move, as `migrate estimate` prices it", res.total_usd);
	if (p->priced) {
		bill_line(p->out, "this probe", p->cost_usd);
		bill_line(p->out, "total", res.total_usd + p->cost_usd);
		json_object_set_new(bill, "total_usd", json_real(res.total_usd + p->cost_usd));
	} else {
		fprintf(p->out, "  this probe: not priced (above); no total\n");
		json_object_set_new(bill, "total_usd", json_null());
	}
	json_object_set_new(proj, "bill", bill);
	return 0;
}
