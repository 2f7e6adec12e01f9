/*
 * plantotal.c - the bill of a plan with several targets (18.4).
 *
 * Each target's scenario carries the whole source side (egress, retrieval,
 * source requests: the walk counts the source once for all targets), so
 * adding scenarios would count the source once per target.  The plan's
 * bill is the source once plus each target's own.  Its time is that of
 * every target's bytes through the one bandwidth limit, which counts the
 * bytes sent to each target.
 */
#include "config.h"

#include <stdio.h>
#include <jansson.h>

#include "report.h"

static double source_side(const struct mg_estimate_out *o)
{
	return o->cost[MG_COST_EGRESS] + o->cost[MG_COST_RETRIEVAL] +
	       o->cost[MG_COST_SRC_REQ];
}

void mg_plan_total_compute(struct mg_scenario *sc, size_t n, const uint64_t *bytes,
			   struct mg_plan_total *t)
{
	uint64_t sum = 0;

	t->source_usd = n ? source_side(&sc[0].out) : 0;
	t->targets_usd = 0;
	for (size_t i = 0; i < n; i++) {
		t->targets_usd += sc[i].out.total - source_side(&sc[i].out);
		sum += bytes[i];
	}
	t->total_usd = t->source_usd + t->targets_usd;
	t->bytes = sum;
	t->duration_s = n ? mg_transfer_seconds(sum, sc[0].in.bandwidth, sc[0].in.timetable,
						sc[0].in.ntimetable, sc[0].in.link_rate,
						sc[0].in.start) : -1;
	/* every target finishes with the plan: one pass feeds them all */
	for (size_t i = 0; i < n; i++)
		sc[i].out.duration_s = t->duration_s;
}

void mg_plan_total_text(FILE *f, const struct mg_plan_total *t)
{
	char s[32], g[32], a[32], d[32];

	mg_fmt_usd(t->source_usd, s, sizeof(s));
	mg_fmt_usd(t->targets_usd, g, sizeof(g));
	mg_fmt_usd(t->total_usd, a, sizeof(a));
	mg_fmt_duration(t->duration_s, d, sizeof(d));
	fprintf(f, "\nall targets (USD): source side once %s + the targets' own %s = %s; "
		"time %s (the bandwidth limit counts the bytes sent to each target)\n",
		s, g, a, d);
}

json_t *mg_plan_total_json(const struct mg_plan_total *t)
{
	return json_pack("{s:f,s:f,s:f,s:I,s:o}",
			 "source_usd", t->source_usd, "targets_usd", t->targets_usd,
			 "total_usd", t->total_usd, "bytes_sent", (json_int_t)t->bytes,
			 "duration_s", t->duration_s < 0 ? json_null() :
			 json_real((double)(long long)(t->duration_s * 10 + 0.5) / 10));
}
