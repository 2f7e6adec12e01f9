/*
 * probe_html.c - `migrate probe --html FILE`: what the probe measured as
 * one self-contained page in the style of `estimate --html` (the page
 * helpers of engine/cost/report.c): the projection, the best concurrency
 * and part size and the probe's own cost as cards; a table per direction
 * of its passes with their latency per class; the bill of the probe.
 * It reads the report --json prints, so the two cannot disagree.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MG_PROBE_INTERNAL
#include "probe_private.h"
#include "report.h"

static void num(FILE *f, json_t *o, const char *k, const char *fmt)
{
	fputs("<td class='n'>", f);
	fprintf(f, fmt, json_number_value(json_object_get(o, k)));
	fputs("</td>", f);
}

static void bytes_cell(FILE *f, double v)
{
	char b[32];

	mg_fmt_bytes((uint64_t)v, b, sizeof(b));
	fprintf(f, "<td class='n'>%s</td>", b);
}

/* A table of passes: one row each, its latency per class folded below. */
static void passes(FILE *f, json_t *arr, const char *first_col)
{
	size_t i;
	json_t *s;

	fprintf(f, "<table><tr><th>%s</th><th class='n'>objects</th><th class='n'>bytes</th>"
		"<th class='n'>seconds</th><th class='n'>rate /s</th><th class='n'>objects/s</th>"
		"<th class='n'>requests/s</th><th>latency per class: count, p50 / p95 / p99 / max "
		"(s)</th></tr>\n", first_col);
	json_array_foreach(arr, i, s) {
		json_t *ps = json_object_get(s, "part_size"), *lat = json_object_get(s, "latency"), *h;
		const char *cls;

		fputs("<tr><td class='nw'>", f);
		if (ps) {
			char b[32];

			mg_fmt_bytes((uint64_t)json_integer_value(ps), b, sizeof(b));
			fprintf(f, "parts of %s", b);
		} else {
			fprintf(f, "concurrency %d", (int)json_integer_value(json_object_get(s, "concurrency")));
		}
		fputs("</td>", f);
		num(f, s, "objects", "%.0f");
		bytes_cell(f, json_number_value(json_object_get(s, "bytes")));
		num(f, s, "seconds", "%.2f");
		bytes_cell(f, json_number_value(json_object_get(s, "bytes_per_s")));
		num(f, s, "objects_per_s", "%.1f");
		num(f, s, "requests_per_s", "%.1f");
		fputs("<td class='how'>", f);
		json_object_foreach(lat, cls, h) {
			mg_html_esc(f, cls);
			fprintf(f, " %" PRId64 ": %.3f / %.3f / %.3f / %.3f<br>",
				(int64_t)json_integer_value(json_object_get(h, "count")),
				json_number_value(json_object_get(h, "p50")),
				json_number_value(json_object_get(h, "p95")),
				json_number_value(json_object_get(h, "p99")),
				json_number_value(json_object_get(h, "max")));
		}
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

/* The projection's bill (probe_bill.c): the move plus the probe. */
static void bill_card(FILE *f, const json_t *bill)
{
	json_t *total = json_object_get(bill, "total_usd");
	char m[40], sub[160];

	if (!bill)
		return;
	if (!json_is_number(json_object_get(bill, "move_usd"))) {
		mg_html_card(f, "the plan's bill", 0, "not priced", "run migrate estimate");
		return;
	}
	mg_fmt_usd(json_number_value(json_object_get(bill, "move_usd")), m, sizeof(m));
	snprintf(sub, sizeof(sub), "the move $%s as migrate estimate prices it%s", m,
		 json_is_number(total) ? " + this probe" : "; the probe not priced");
	mg_html_card(f, "the plan's bill, with the probe",
		     json_is_number(total) ? json_number_value(total) :
		     json_number_value(json_object_get(bill, "move_usd")), NULL, sub);
}

static void cards(FILE *f, const struct probe *p)
{
	json_t *pr = json_object_get(p->report, "projection");
	json_t *t0 = json_array_get(json_object_get(p->report, "targets"), 0);
	json_t *cost = json_object_get(p->report, "cost");
	char d[64], b[32], sub[160];

	fputs("<div class='cards'>\n", f);
	if (pr) {
		mg_fmt_duration(json_number_value(json_object_get(pr, "seconds")), d, sizeof(d));
		mg_fmt_bytes((uint64_t)json_integer_value(json_object_get(pr, "bytes")), b, sizeof(b));
		snprintf(sub, sizeof(sub), "%" PRId64 " objects, %s at concurrency %d",
			 (int64_t)json_integer_value(json_object_get(pr, "objects")), b,
			 (int)json_integer_value(json_object_get(pr, "concurrency")));
		mg_html_card(f, "projected time, whole plan", 0, d, sub);
		snprintf(d, sizeof(d), "%d", (int)json_integer_value(json_object_get(
			json_array_get(json_object_get(pr, "best"), 0), "best_concurrency")));
		snprintf(sub, sizeof(sub), "the plan has %d", p->plan->transfer.concurrency);
		mg_html_card(f, "best concurrency", 0, d, sub);
	}
	if (json_object_get(t0, "best_part_size")) {
		mg_fmt_bytes((uint64_t)json_integer_value(json_object_get(t0, "best_part_size")),
			     b, sizeof(b));
		mg_fmt_bytes(p->plan->transfer.part_size, d, sizeof(d));
		snprintf(sub, sizeof(sub), "the plan has %s", d);
		mg_html_card(f, "best part size", 0, b, sub);
	}
	bill_card(f, json_object_get(pr, "bill"));
	snprintf(sub, sizeof(sub), "%" PRId64 " requests, written and removed",
		 (int64_t)json_integer_value(json_object_get(cost, "requests")));
	if (p->priced)
		mg_html_card(f, "the probe's own cost", p->cost_usd, NULL, sub);
	else
		mg_html_card(f, "the probe's own cost", 0, "not priced", sub);
	fputs("</div>\n", f);
}

static int page(FILE *f, const void *arg)
{
	const struct probe *p = arg;
	json_t *src = json_object_get(p->report, "source"), *t;
	time_t now = time(NULL);
	char when[40];
	struct tm tm;
	size_t i;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	mg_html_head(f, "migrate probe", p->plan->name);
	fputs("<h1>Probe of plan ", f);
	mg_html_esc(f, p->plan->name);
	fputs("</h1>\n<p class='sub'>", f);
	mg_html_esc(f, p->plan->source.url);
	fprintf(f, " &middot; %s &middot; scratch prefix ", when);
	mg_html_esc(f, p->prefix);
	fputs("</p>\n", f);
	cards(f, p);
	fputs("<h2>Reading the source</h2>\n<div class='panel'>\n", f);
	passes(f, json_object_get(src, "read"), "pass");
	fputs("</div>\n", f);
	json_array_foreach(json_object_get(p->report, "targets"), i, t) {
		fputs("<h2>Writing to ", f);
		mg_html_esc(f, json_string_value(json_object_get(t, "url")));
		fputs("</h2>\n<div class='panel'>\n", f);
		passes(f, json_object_get(t, "write"), "pass");
		if (json_array_size(json_object_get(t, "part_sizes")))
			passes(f, json_object_get(t, "part_sizes"), "part size");
		fprintf(f, "<p class='how'>%" PRId64 " probe objects removed%s.</p>\n",
			(int64_t)json_integer_value(json_object_get(t, "removed")),
			json_is_true(json_object_get(t, "clean")) ? "; nothing else was touched" :
			"; some remain: the next probe removes them");
		fputs("</div>\n", f);
	}
	fputs("<h2>What the probe cost</h2>\n", f);
	for (size_t k = 0; p->priced && k < p->plan->ntargets; k++) {
		fputs("<div class='panel'>\n<p>", f);
		mg_html_esc(f, p->plan->targets[k].url);
		fputs(k ? "</p>\n" : " (and the source)</p>\n", f);
		mg_html_breakdown(f, &p->t[k].bill);
		fputs("</div>\n", f);
	}
	if (!p->priced) {
		fputs("<div class='warn'>not priced: ", f);
		mg_html_esc(f, json_string_value(json_object_get(json_object_get(p->report, "cost"),
								 "error")));
		fputs("</div>\n", f);
	}
	fputs("<footer>Measured by migrate probe against the plan's real endpoints; the "
	      "projection is the measured rates applied to the whole listing.</footer>\n"
	      "</main></body></html>\n", f);
	return ferror(f) ? -1 : 0;
}

int probe_html(const struct probe *p, const char *path)
{
	struct mg_error err = { 0 };

	if (mg_html_file(path, page, p, &err) != MG_OK) {
		fprintf(stderr, "migrate: probe: %s\n", err.msg);
		return -1;
	}
	if (!p->o->quiet)
		fprintf(stderr, "report written to '%s'\n", path);
	return 0;
}
