/*
 * latency_report.c - request latencies per class (issue 16.1) as a run
 * tells them: the summary's lines, --json, the object's own times in
 * --log-json.  The histograms themselves are engine/latency.c; the
 * connectors feed them through mg_count_time().
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

/* Every endpoint the run reports on gets its histograms; an estimate
 * sends nothing worth timing. */
void latency_attach(struct run *run)
{
	if (run->opts->estimate)
		return;
	run->src_counters.lat = mg_calloc(1, sizeof(struct mg_latency));
	for (size_t i = 0; i < run->nt; i++)
		run->targets[i].counters.lat = mg_calloc(1, sizeof(struct mg_latency));
}

void latency_release(struct run *run)
{
	free(run->src_counters.lat);
	run->src_counters.lat = NULL;
	for (size_t i = 0; i < run->nt; i++) {
		free(run->targets[i].counters.lat);
		run->targets[i].counters.lat = NULL;
	}
}

static int busy(const struct mg_latency *l, int c)
{
	return l->total[c].count || l->retries[c];
}

/* "latency": {"head": {"count": .., "p50": .., ...}, ...}, busy classes
 * only; seconds. */
json_t *latency_json(const struct mg_latency *l)
{
	json_t *o = json_object();

	for (int c = 0; l && c < MG_LAT_CLASSES; c++) {
		const struct mg_hist *h = &l->total[c], *f = &l->ttfb[c];
		json_t *k, *b;

		if (!busy(l, c))
			continue;
		k = json_object();
		json_object_set_new(k, "count", json_integer((json_int_t)h->count));
		json_object_set_new(k, "p50", json_real(mg_hist_pct(h, 50)));
		json_object_set_new(k, "p90", json_real(mg_hist_pct(h, 90)));
		json_object_set_new(k, "p95", json_real(mg_hist_pct(h, 95)));
		json_object_set_new(k, "p99", json_real(mg_hist_pct(h, 99)));
		json_object_set_new(k, "max", json_real(mg_hist_max_s(h)));
		json_object_set_new(k, "sum", json_real(mg_hist_sum_s(h)));
		json_object_set_new(k, "retries", json_integer((json_int_t)l->retries[c]));
		json_object_set_new(k, "ttfb_p50", json_real(mg_hist_pct(f, 50)));
		json_object_set_new(k, "ttfb_p99", json_real(mg_hist_pct(f, 99)));
		b = json_array();
		for (int i = 0; i < MG_LAT_NBOUNDS; i++)
			json_array_append_new(b, json_integer(
				(json_int_t)mg_hist_count_le(h, mg_lat_bounds[i])));
		json_object_set_new(k, "buckets", b);
		json_object_set_new(o, mg_lat_name(c), k);
	}
	return o;
}

/* One line per busy class, under the endpoint's summary. */
void latency_print(FILE *out, const char *who, const struct mg_latency *l)
{
	if (!l)
		return;
	for (int c = 0; c < MG_LAT_CLASSES; c++) {
		const struct mg_hist *h = &l->total[c];

		if (!busy(l, c))
			continue;
		fprintf(out, "  %-6s %-18s %8" PRIu64 " requests  p50 %.3f s  p95 %.3f s  "
			"p99 %.3f s  max %.3f s", who, mg_lat_name(c),
			h->count, mg_hist_pct(h, 50), mg_hist_pct(h, 95),
			mg_hist_pct(h, 99), mg_hist_max_s(h));
		if (l->retries[c])
			fprintf(out, "  retries %" PRIu64, l->retries[c]);
		fputc('\n', out);
	}
}

/* --log-json: the object's own requests, per class: count, total and
 * longest seconds, longest time to first byte, retries. */
json_t *req_times_json(const struct mg_req_times *t)
{
	json_t *o = json_object();

	for (int c = 0; t && c < MG_LAT_CLASSES; c++) {
		if (!t->n[c] && !t->retries[c])
			continue;
		json_object_set_new(o, mg_lat_name(c), json_pack(
			"{s:i,s:f,s:f,s:f,s:i}",
			"count", (int)t->n[c],
			"total_s", (double)t->sum_ns[c] / 1e9,
			"max_s", (double)t->max_ns[c] / 1e9,
			"ttfb_max_s", (double)t->ttfb_max_ns[c] / 1e9,
			"retries", (int)t->retries[c]));
	}
	return o;
}
