/*
 * report.c - renders priced scenarios as a terminal table, JSON and one
 * self-contained HTML page.
 *
 * The HTML carries everything inline (CSS, SVG charts, no script): the
 * page is mailed around and opened offline, and a page that loads nothing
 * cannot leak the bucket names it shows.  Every piece of text that comes
 * from a plan or the price table is escaped on the way out.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "report.h"
#include "safefile.h"

static const char *const comp_colour[MG_COST__COUNT] = {
	[MG_COST_EGRESS] = "#d1495b",
	[MG_COST_RETRIEVAL] = "#edae49",
	[MG_COST_SRC_REQ] = "#00798c",
	[MG_COST_DST_REQ] = "#66a182",
	[MG_COST_EARLY_DELETE] = "#8d6a9f",
	[MG_COST_STORAGE] = "#30638e",
};

/* ------------------------------------------------------------ formats */

void mg_fmt_usd(double usd, char *out, size_t len)
{
	char digits[64], *dot;
	size_t n, lead, o = 0;
	int neg = usd < 0;

	if (!isfinite(usd)) {
		snprintf(out, len, "n/a");
		return;
	}
	if (neg)
		usd = -usd;
	if (usd > 0 && usd < 0.005) {
		snprintf(out, len, "%s<0.01", neg ? "-" : "");
		return;
	}
	snprintf(digits, sizeof(digits), "%.2f", usd);
	dot = strchr(digits, '.');
	n = (size_t)(dot - digits);
	lead = n % 3 ? n % 3 : 3;
	if (neg && o + 1 < len)
		out[o++] = '-';
	for (size_t i = 0; i < n && o + 1 < len; i++) {
		if (i && (i - lead) % 3 == 0 && i >= lead && o + 1 < len)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	for (const char *p = dot; *p && o + 1 < len; p++)
		out[o++] = *p;
	out[o] = '\0';
}

void mg_fmt_duration(double s, char *out, size_t len)
{
	uint64_t t;

	if (s < 0 || !isfinite(s)) {
		snprintf(out, len, "unknown");
		return;
	}
	if (s < 60) {
		snprintf(out, len, "%.0f s", ceil(s));
		return;
	}
	t = (uint64_t)ceil(s / 60);	/* minutes, rounded up */
	if (t < 60)
		snprintf(out, len, "%" PRIu64 " min", t);
	else if (t < 24 * 60)
		snprintf(out, len, "%" PRIu64 " h %02" PRIu64 " min", t / 60, t % 60);
	else
		snprintf(out, len, "%" PRIu64 " d %" PRIu64 " h", t / 1440,
			 (t % 1440) / 60);
}

static void fmt_count(uint64_t v, char *out, size_t len)
{
	char d[32];
	size_t n, o = 0;

	snprintf(d, sizeof(d), "%" PRIu64, v);
	n = strlen(d);
	for (size_t i = 0; i < n && o + 1 < len; i++) {
		if (i && (n - i) % 3 == 0 && o + 1 < len)
			out[o++] = ',';
		out[o++] = d[i];
	}
	out[o] = '\0';
}

/* The unit system sizes are written in: binary (KiB, MiB, GiB) for the
 * terminal; an HTML page picks one for the whole page (page_units()).
 * Set only while one report is rendered. */
static int sizes_decimal;

static void fmt_size(uint64_t n, char *out, size_t len)
{
	static const char *const si[] = { "B", "kB", "MB", "GB", "TB", "PB" };
	int u = n >= 1000 ? (int)floor(log10((double)n) / 3) : 0;

	if (!sizes_decimal)
		mg_fmt_bytes(n, out, len);
	else if (u == 0)
		snprintf(out, len, "%llu B", (unsigned long long)n);
	else
		snprintf(out, len, "%.1f %s", (double)n / pow(1000, u < 5 ? u : 5),
			 si[u < 5 ? u : 5]);
}

static void fmt_one_rate(uint64_t r, char *out, size_t len)
{
	char b[24];

	if (!r) {
		snprintf(out, len, "unlimited");
		return;
	}
	fmt_size(r, b, sizeof(b));
	snprintf(out, len, "%s/s", b);
}

/* "mon-fri 08:00-18:00" back from a window, for the reader. */
static void fmt_window(const struct mg_bw_window *w, struct mg_buf *b)
{
	static const char *const day[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };
	int first = 1;

	if ((w->days & 0x7f) == 0x7f) {
		mg_buf_adds(b, "daily");
	} else {
		for (int d = 0; d < 7; d++) {
			int e = d;

			if (!(w->days & (1u << d)))
				continue;
			while (e + 1 < 7 && (w->days & (1u << (e + 1))))
				e++;
			mg_buf_addf(b, "%s%s", first ? "" : ",", day[d]);
			if (e > d)
				mg_buf_addf(b, "%s%s", e > d + 1 ? "-" : ",", day[e]);
			first = 0;
			d = e;
		}
	}
	mg_buf_addf(b, " %02d:%02d-%02d:%02d", w->start_min / 60, w->start_min % 60,
		    w->end_min / 60, w->end_min % 60);
}

static void fmt_rate(const struct mg_estimate_in *in, char *out, size_t len)
{
	struct mg_buf b = MG_BUF_INIT;
	char r[48];

	for (size_t i = 0; i < in->ntimetable; i++) {
		fmt_one_rate(in->timetable[i].rate, r, sizeof(r));
		mg_buf_addf(&b, "%s%s ", i ? ", " : "", r);
		fmt_window(&in->timetable[i], &b);
	}
	fmt_one_rate(in->bandwidth, r, sizeof(r));
	mg_buf_addf(&b, "%s%s", in->ntimetable ? ", otherwise " : "", r);
	if (in->link_rate) {
		fmt_one_rate(in->link_rate, r, sizeof(r));
		mg_buf_addf(&b, " (link %s", r);
		if (in->link_measured_at) {
			time_t t = (time_t)in->link_measured_at;
			char when[32];
			struct tm tm;

			gmtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
			mg_buf_addf(&b, ", measured by migrate probe %s", when);
		}
		mg_buf_adds(&b, ")");
	}
	snprintf(out, len, "%s", b.buf ? b.buf : "");
	mg_buf_release(&b);
}

static const char *prov_name(const struct mg_price_provider *p)
{
	return p ? p->name : "?";
}

void mg_scenarios_sort(struct mg_scenario *sc, size_t n)
{
	/* insertion sort: a handful of providers, and it is stable */
	for (size_t i = 1; i < n; i++) {
		struct mg_scenario x = sc[i];
		size_t j = i;

		while (j > 0 && (sc[j - 1].out.total > x.out.total ||
				 (sc[j - 1].out.total == x.out.total &&
				  strcmp(sc[j - 1].label ? sc[j - 1].label : "",
					 x.label ? x.label : "") > 0))) {
			sc[j] = sc[j - 1];
			j--;
		}
		sc[j] = x;
	}
}

/* ------------------------------------------------------------ text */

static const char *const req_titles[MG_REQ__COUNT] = {
	[MG_REQ_LIST] = "LIST pages",
	[MG_REQ_HEAD] = "HEAD",
	[MG_REQ_GET] = "GET",
	[MG_REQ_PUT] = "PUT",
	[MG_REQ_MP_CREATE] = "CreateMultipartUpload",
	[MG_REQ_MP_PART] = "UploadPart",
	[MG_REQ_MP_COMPLETE] = "CompleteMultipartUpload",
	[MG_REQ_MP_ABORT] = "AbortMultipartUpload",
	[MG_REQ_MP_LIST] = "ListParts",
	[MG_REQ_COPY] = "COPY",
	[MG_REQ_DELETE] = "DELETE",
};

/* The object counts, as text or as an HTML table (longer row names). */
static void put_counts(FILE *f, const struct mg_scenario *s, int html)
{
	const struct mg_move_counts *c = &s->counts;
	struct { const char *text, *html; uint64_t o, b; } rows[] = {
		{ "new", "new", c->new_objects, c->new_bytes },
		{ "changed", "changed", c->changed_objects, c->changed_bytes },
		{ "unchanged", "unchanged (skipped)", c->unchanged_objects,
		  c->unchanged_bytes },
		{ "deduplicated", "deduplicated (server-side copy)", c->dedup_objects,
		  c->dedup_bytes },
		{ "deleted", "deleted at the target", c->deleted_objects,
		  c->deleted_bytes },
	};
	char a[32], b[32];

	if (html)
		fputs("<table><tr><th>objects</th><th class='n'>count</th><th class='n'>bytes</th></tr>\n", f);
	else
		fprintf(f, "  %-24s %14s %14s\n", "objects", "count", "bytes");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		fmt_count(rows[i].o, a, sizeof(a));
		fmt_size(rows[i].b, b, sizeof(b));
		if (html)
			fprintf(f, "<tr><td>%s</td><td class='n'>%s</td><td class='n'>%s</td></tr>\n",
				rows[i].html, a, b);
		else
			fprintf(f, "  %-24s %14s %14s\n", rows[i].text, a, b);
	}
	fmt_size(s->in.source_read_bytes, b, sizeof(b));
	if (html)
		fprintf(f, "<tr class='sum'><td>read from the source</td><td></td><td class='n'>%s</td></tr>\n</table>\n", b);
	else
		fprintf(f, "  %-24s %14s %14s\n", "read from the source", "", b);
}

static void text_requests(FILE *f, const struct mg_scenario *s)
{
	char a[32], b[32];

	fprintf(f, "\n  %-24s %14s %14s\n", "requests", "source", "target");
	for (int r = 0; r < MG_REQ__COUNT; r++) {
		if (!s->in.source_req[r] && !s->in.target_req[r])
			continue;
		fmt_count(s->in.source_req[r], a, sizeof(a));
		fmt_count(s->in.target_req[r], b, sizeof(b));
		fprintf(f, "  %-24s %14s %14s\n", req_titles[r], a, b);
	}
}

static int warn_plan_wide(const struct mg_report *r, const char *w);

/* A target's block: its own warnings; the plan-wide ones (every target
 * has them: the source's, dedupe's) are said once, after the blocks. */
static void text_costs(FILE *f, const struct mg_report *r, const struct mg_scenario *s)
{
	const struct mg_estimate_out *o = &s->out;
	char a[32], d[32], rate[200];

	fprintf(f, "\n  %-39s %14s\n", "cost", "USD");
	for (int c = 0; c < MG_COST__COUNT; c++) {
		int any = 0;

		for (int i = 0; i < o->nitems; i++)
			any |= o->item[i].comp == (enum mg_cost_comp)c;
		if (!any)
			continue;
		mg_fmt_usd(o->cost[c], a, sizeof(a));
		fprintf(f, "  %-39s %14s\n", mg_cost_comp_title(c), a);
		for (int i = 0; i < o->nitems; i++)
			if (o->item[i].comp == (enum mg_cost_comp)c)
				fprintf(f, "      %s: %s\n", o->item[i].what, o->item[i].how);
	}
	mg_class_lines_text(f, s);	/* tierprice.c (issue 15.3) */
	mg_fmt_usd(o->one_time, a, sizeof(a));
	fprintf(f, "  %-39s %14s\n", "one-time (the move)", a);
	mg_fmt_usd(o->monthly, a, sizeof(a));
	fprintf(f, "  %-39s %14s\n", "storage per month after", a);
	mg_fmt_usd(o->total, a, sizeof(a));
	fprintf(f, "  %-39s %14s\n", "total for the month of the move", a);
	mg_retries_text(f, s);
	mg_fmt_duration(o->duration_s, d, sizeof(d));
	fmt_rate(&s->in, rate, sizeof(rate));
	if (o->duration_s < 0)
		fprintf(f, "\n  time: unknown: no bandwidth limit and no measured rate "
			"(run `migrate probe` to measure one)\n");
	else
		fprintf(f, "\n  time: %s at %s\n", d, rate);
	for (int i = 0; i < o->nwarn; i++)
		if (!warn_plan_wide(r, o->warn[i]))
			fprintf(f, "  warning: %s\n", o->warn[i]);
}

static void text_plan_warnings(FILE *f, const struct mg_report *r)
{
	for (int k = 0; r->n && k < r->sc[0].out.nwarn; k++)
		if (warn_plan_wide(r, r->sc[0].out.warn[k]))
			fprintf(f, "  warning (plan-wide): %s\n", r->sc[0].out.warn[k]);
}

static void text_provider(FILE *f, const char *role, const char *where,
			  const struct mg_price_provider *p)
{
	fprintf(f, "%-7s %s\n", role, where ? where : "");
	if (p)
		fprintf(f, "        priced as %s (%s; %s, as of %s)\n", p->name,
			p->title ? p->title : p->name, p->source, p->as_of);
}

int mg_report_text(FILE *f, const struct mg_report *r)
{
	const struct mg_scenario *s0 = r->n ? &r->sc[0] : NULL;
	size_t w = 12;

	fprintf(f, "estimate for plan '%s'%s%s%s\n", r->plan_name ? r->plan_name : "",
		r->pricing_file ? " (prices: " : "",
		r->pricing_file ? r->pricing_file : "", r->pricing_file ? ")" : "");
	if (!s0)
		return ferror(f) ? -1 : 0;
	text_provider(f, "source", r->source_url, s0->out.source);
	mg_archive_text(f, s0);	/* tarest.c (issue 18.2) */
	if (!r->compare) {
		/* one block per target of a fan-out plan */
		for (size_t i = 0; i < r->n; i++) {
			const struct mg_scenario *s = &r->sc[i];

			if (i)
				fputc('\n', f);
			text_provider(f, "target", s->label, s->out.target);
			fputc('\n', f);
			put_counts(f, s, 0);
			text_requests(f, s);
			text_costs(f, r, s);
		}
		if (r->n > 1)
			fputc('\n', f);
		text_plan_warnings(f, r);
		if (r->plan_total)
			mg_plan_total_text(f, r->plan_total);
		return ferror(f) ? -1 : 0;
	}

	fputc('\n', f);
	put_counts(f, s0, 0);
	for (size_t i = 0; i < r->n; i++)
		if (r->sc[i].label && strlen(r->sc[i].label) > w)
			w = strlen(r->sc[i].label);
	fprintf(f, "\nthe same move into each target, cheapest first (USD):\n");
	fprintf(f, "  %-*s %12s %12s %12s %12s %12s  %s\n", (int)w, "target",
		"egress", "requests", "one-time", "storage/mo", "total", "time");
	for (size_t i = 0; i < r->n; i++) {
		const struct mg_scenario *s = &r->sc[i];
		char e[32], q[32], o[32], m[32], t[32], d[32];

		mg_fmt_usd(s->out.cost[MG_COST_EGRESS] + s->out.cost[MG_COST_RETRIEVAL],
			   e, sizeof(e));
		mg_fmt_usd(s->out.cost[MG_COST_SRC_REQ] + s->out.cost[MG_COST_DST_REQ],
			   q, sizeof(q));
		mg_fmt_usd(s->out.one_time, o, sizeof(o));
		mg_fmt_usd(s->out.monthly, m, sizeof(m));
		mg_fmt_usd(s->out.total, t, sizeof(t));
		mg_fmt_duration(s->out.duration_s, d, sizeof(d));
		fprintf(f, "  %-*s %12s %12s %12s %12s %12s  %s\n", (int)w,
			s->label ? s->label : prov_name(s->out.target), e, q, o, m, t, d);
	}
	text_plan_warnings(f, r);
	for (size_t i = 0; i < r->n; i++)
		for (int k = 0; k < r->sc[i].out.nwarn; k++)
			if (!warn_plan_wide(r, r->sc[i].out.warn[k]))
				fprintf(f, "  warning (%s): %s\n", r->sc[i].label ? r->sc[i].label :
					prov_name(r->sc[i].out.target), r->sc[i].out.warn[k]);
	fprintf(f, "the arithmetic of every figure: --json or --html\n");
	return ferror(f) ? -1 : 0;
}

/* ------------------------------------------------------------ json */

static json_t *provider_json(const struct mg_price_provider *p)
{
	json_t *o = json_object();

	if (!p)
		return json_null();
	json_object_set_new(o, "name", json_string(p->name));
	json_object_set_new(o, "title", json_string(p->title ? p->title : p->name));
	json_object_set_new(o, "source", json_string(p->source ? p->source : ""));
	json_object_set_new(o, "as_of", json_string(p->as_of ? p->as_of : ""));
	json_object_set_new(o, "unit", json_string(p->unit));
	if (p->notes)
		json_object_set_new(o, "notes", json_string(p->notes));
	return o;
}

static json_t *reqs_json(const uint64_t *req)
{
	json_t *o = json_object();

	for (int r = 0; r < MG_REQ__COUNT; r++)
		json_object_set_new(o, mg_req_name((enum mg_req)r),
				    json_integer((json_int_t)req[r]));
	return o;
}

static json_t *pair_json(uint64_t objects, uint64_t bytes)
{
	return json_pack("{s:I,s:I}", "objects", (json_int_t)objects,
			 "bytes", (json_int_t)bytes);
}

/* Money rounded to 1/10000 of a dollar: enough for sub-cent request
 * charges, without printing binary noise. */
static json_t *usd_json(double v)
{
	return json_real(round(v * 10000) / 10000);
}

static json_t *scenario_json(const struct mg_scenario *s)
{
	const struct mg_move_counts *c = &s->counts;
	const struct mg_estimate_out *o = &s->out;
	json_t *j = json_object(), *counts = json_object(), *cost = json_object();
	json_t *items = json_array(), *warn = json_array(), *req = json_object();

	json_object_set_new(j, "label", json_string(s->label ? s->label : prov_name(o->target)));
	json_object_set_new(j, "source_provider", provider_json(o->source));
	json_object_set_new(j, "target_provider", provider_json(o->target));
	json_object_set_new(counts, "new", pair_json(c->new_objects, c->new_bytes));
	json_object_set_new(counts, "changed", pair_json(c->changed_objects, c->changed_bytes));
	json_object_set_new(counts, "unchanged", pair_json(c->unchanged_objects, c->unchanged_bytes));
	json_object_set_new(counts, "deduplicated", pair_json(c->dedup_objects, c->dedup_bytes));
	json_object_set_new(counts, "deleted", pair_json(c->deleted_objects, c->deleted_bytes));
	json_object_set_new(counts, "failed", pair_json(c->failed_objects, c->failed_bytes));
	json_object_set_new(counts, "locked", pair_json(c->locked_objects, c->locked_bytes));
	json_object_set_new(j, "counts", counts);
	json_object_set_new(j, "bytes_read", json_integer((json_int_t)s->in.source_read_bytes));
	json_object_set_new(j, "bytes_written", json_integer((json_int_t)s->bytes_written));
	json_object_set_new(j, "source_stored_bytes",
			    json_integer((json_int_t)s->in.source_stored_bytes));
	json_object_set_new(j, "target_stored_bytes",
			    json_integer((json_int_t)s->in.target_stored_bytes));
	json_object_set_new(req, "source", reqs_json(s->in.source_req));
	json_object_set_new(req, "target", reqs_json(s->in.target_req));
	json_object_set_new(j, "requests", req);
	for (int k = 0; k < MG_COST__COUNT; k++)
		json_object_set_new(cost, mg_cost_comp_name(k), usd_json(o->cost[k]));
	json_object_set_new(cost, "one_time", usd_json(o->one_time));
	json_object_set_new(cost, "monthly", usd_json(o->monthly));
	json_object_set_new(cost, "total", usd_json(o->total));
	json_object_set_new(j, "cost_usd", cost);
	json_object_set_new(j, "retries", json_pack("{s:f,s:o,s:o,s:o}",
			    "error_rate", s->retries.rate, "source", reqs_json(s->retries.src),
			    "target", reqs_json(s->retries.dst), "usd", usd_json(s->retries.usd)));
	for (int i = 0; i < o->nitems; i++) {
		const struct mg_cost_item *it = &o->item[i];

		json_array_append_new(items, json_pack("{s:s,s:s,s:f,s:s,s:f,s:f,s:o,s:s}",
			"component", mg_cost_comp_name(it->comp), "what", it->what,
			"quantity", it->qty, "unit", it->qty_unit, "rate_usd", it->rate,
			"rate_per", it->rate_per, "usd", usd_json(it->usd),
			"how", it->how));
	}
	json_object_set_new(j, "breakdown", items);
	json_object_set_new(j, "duration_s", o->duration_s < 0 ? json_null() :
			    json_real(round(o->duration_s * 10) / 10));
	json_object_set_new(j, "bandwidth", json_integer((json_int_t)s->in.bandwidth));
	/* the rate measured by `migrate probe`, used where nothing limits */
	json_object_set_new(j, "measured_rate", s->in.link_rate ?
			    json_integer((json_int_t)s->in.link_rate) : json_null());
	json_object_set_new(j, "measured_at", s->in.link_measured_at ?
			    json_integer((json_int_t)s->in.link_measured_at) : json_null());
	for (int i = 0; i < o->nwarn; i++)
		json_array_append_new(warn, json_string(o->warn[i]));
	json_object_set_new(j, "warnings", warn);
	mg_class_lines_json(j, s);	/* tierprice.c (issue 15.3) */
	return j;
}

json_t *mg_report_json(const struct mg_report *r)
{
	json_t *j = json_object(), *arr = json_array();

	json_object_set_new(j, "plan", json_string(r->plan_name ? r->plan_name : ""));
	json_object_set_new(j, "source", json_string(r->source_url ? r->source_url : ""));
	json_object_set_new(j, "pricing_file",
			    r->pricing_file ? json_string(r->pricing_file) : json_null());
	json_object_set_new(j, "compare", json_boolean(r->compare));
	json_object_set_new(j, "currency", json_string("USD"));
	for (size_t i = 0; i < r->n; i++)
		json_array_append_new(arr, scenario_json(&r->sc[i]));
	json_object_set_new(j, "scenarios", arr);
	if (r->n)
		mg_archive_json(j, &r->sc[0]);	/* tarest.c (issue 18.2) */
	if (r->plan_total)
		json_object_set_new(j, "plan_total", mg_plan_total_json(r->plan_total));
	return j;
}

/* ------------------------------------------------------------ html */

static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			/* control characters have no business in a page */
			if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
				fputc('?', f);
			else
				fputc(*s, f);
		}
	}
}

static const char css[] =
"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
"color:#1d2330;background:#f4f6f9;margin:0}"
"main{max-width:1100px;margin:0 auto;padding:24px 28px 40px}"
"h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px}"
".sub{color:#5b6475;margin:0 0 18px;word-break:break-all}"
".cards{display:flex;gap:14px;flex-wrap:wrap}"
".card{background:#fff;border-radius:8px;padding:14px 18px;flex:1 1 150px;"
"box-shadow:0 1px 3px rgba(0,0,0,.08)}"
".card .k{color:#5b6475;font-size:12px;text-transform:uppercase;letter-spacing:.04em}"
".card .v{font-size:24px;font-weight:600;margin-top:2px}"
".card .how{margin-top:2px}"
".card.wide{flex:1.5 1 200px}.card.wide .v{overflow-wrap:anywhere}"
".panel{background:#fff;border-radius:8px;padding:16px 18px;"
"box-shadow:0 1px 3px rgba(0,0,0,.08);margin-top:14px}"
"table{border-collapse:collapse;width:100%}"
"th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e6e9ef;vertical-align:top}"
"th{font-size:12px;color:#5b6475;text-transform:uppercase;letter-spacing:.04em}"
"td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
"tr.sum td{font-weight:600;border-top:2px solid #c9ced8}"
"td.c,td.nw{white-space:nowrap}"
".legend{display:flex;flex-wrap:wrap;gap:6px 18px;margin:0 0 10px;font-size:12px}"
"svg.chart{display:block;width:100%;max-width:870px;height:auto;margin-bottom:8px}"
"details>summary{cursor:pointer;font-weight:600;font-size:16px;margin:18px 0 8px}"
"tr.best td{background:#eef7f0}"
".how{color:#5b6475;font-size:12px}"
".warn{background:#fff6e0;border-left:4px solid #edae49;padding:8px 12px;margin:8px 0}"
".sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}"
"svg text{font:12px system-ui,sans-serif;fill:#1d2330}"
"footer{color:#5b6475;font-size:12px;margin-top:28px}";

static void html_usd(FILE *f, double v)
{
	char b[40];

	mg_fmt_usd(v, b, sizeof(b));
	fputs(b[0] == '<' ? "&lt;$0.01" : "$", f);
	if (b[0] != '<')
		fputs(b, f);
}

/* Horizontal bars, one per cost component of one scenario. */
static void svg_components(FILE *f, const struct mg_estimate_out *o)
{
	const int label_w = 200, bar_w = 560, row = 34, top = 8;
	double max = 0;
	int rows = 0, y;

	for (int c = 0; c < MG_COST__COUNT; c++)
		if (o->cost[c] > max)
			max = o->cost[c];
	for (int c = 0; c < MG_COST__COUNT; c++)
		rows++;
	fprintf(f, "<svg class='chart' xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
		"viewBox='0 0 %d %d' role='img' aria-label='cost by component'>\n",
		label_w + bar_w + 110, top + rows * row + 8,
		label_w + bar_w + 110, top + rows * row + 8);
	y = top;
	for (int c = 0; c < MG_COST__COUNT; c++) {
		double w = max > 0 ? o->cost[c] / max * bar_w : 0;

		if (o->cost[c] > 0 && w < 2)
			w = 2;	/* a cost, however small, is visible */
		fprintf(f, "<text x='%d' y='%d' text-anchor='end'>", label_w - 10, y + 20);
		esc(f, mg_cost_comp_title(c));
		fputs("</text>\n", f);
		fprintf(f, "<rect x='%d' y='%d' width='%d' height='22' rx='3' fill='#eef0f4'/>\n",
			label_w, y + 5, bar_w);
		if (w > 0)
			fprintf(f, "<rect x='%d' y='%d' width='%.1f' height='22' rx='3' fill='%s'/>\n",
				label_w, y + 5, w, comp_colour[c]);
		fprintf(f, "<text x='%d' y='%d'>", label_w + bar_w + 10, y + 20);
		html_usd(f, o->cost[c]);
		fputs("</text>\n", f);
		y += row;
	}
	fputs("</svg>\n", f);
}

/* One stacked bar per scenario (cheapest first), components coloured as
 * in the first chart, with a legend. */
static void svg_compare(FILE *f, const struct mg_report *r)
{
	const int label_w = 200, bar_w = 560, row = 36, top = 4;
	double max = 0;
	int h = top + (int)r->n * row + 6;

	for (size_t i = 0; i < r->n; i++)
		if (r->sc[i].out.total > max)
			max = r->sc[i].out.total;
	/* the legend is HTML, which wraps, rather than SVG text, which a
	 * narrow window would clip */
	fputs("<div class='legend'>", f);
	for (int c = 0; c < MG_COST__COUNT; c++) {
		fprintf(f, "<span><span class='sw' style='background:%s'></span>",
			comp_colour[c]);
		esc(f, mg_cost_comp_title(c));
		fputs("</span>", f);
	}
	fputs("</div>\n", f);
	fprintf(f, "<svg class='chart' xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
		"viewBox='0 0 %d %d' role='img' aria-label='providers compared'>\n",
		label_w + bar_w + 110, h, label_w + bar_w + 110, h);
	for (size_t i = 0; i < r->n; i++) {
		const struct mg_scenario *s = &r->sc[i];
		int y = top + (int)i * row;
		double at = label_w;

		fprintf(f, "<text x='%d' y='%d' text-anchor='end'%s>", label_w - 10,
			y + 20, i == 0 ? " font-weight='600'" : "");
		esc(f, s->label ? s->label : prov_name(s->out.target));
		fputs("</text>\n", f);
		fprintf(f, "<rect x='%d' y='%d' width='%d' height='24' rx='3' fill='#eef0f4'/>\n",
			label_w, y + 4, bar_w);
		for (int c = 0; c < MG_COST__COUNT; c++) {
			double w = max > 0 ? s->out.cost[c] / max * bar_w : 0;

			if (s->out.cost[c] > 0 && w < 1.5)
				w = 1.5;
			if (w <= 0)
				continue;
			fprintf(f, "<rect x='%.1f' y='%d' width='%.1f' height='24' fill='%s'>"
				"<title>", at, y + 4, w, comp_colour[c]);
			esc(f, mg_cost_comp_title(c));
			fputs(": ", f);
			html_usd(f, s->out.cost[c]);
			fputs("</title></rect>\n", f);
			at += w;
		}
		fprintf(f, "<text x='%d' y='%d'%s>", label_w + bar_w + 10, y + 21,
			i == 0 ? " font-weight='600'" : "");
		html_usd(f, s->out.total);
		fputs("</text>\n", f);
	}
	fputs("</svg>\n", f);
}

static void html_requests(FILE *f, const struct mg_scenario *s)
{
	char a[32], b[32];

	fputs("<table><tr><th>request</th><th class='n'>source</th><th class='n'>target</th></tr>\n", f);
	for (int r = 0; r < MG_REQ__COUNT; r++) {
		fmt_count(s->in.source_req[r], a, sizeof(a));
		fmt_count(s->in.target_req[r], b, sizeof(b));
		fprintf(f, "<tr><td>%s</td><td class='n'>%s</td><td class='n'>%s</td></tr>\n",
			req_titles[r], a, b);
	}
	fputs("</table>\n", f);
}

static void html_breakdown(FILE *f, const struct mg_estimate_out *o)
{
	fputs("<table><tr><th>component</th><th>item and arithmetic</th><th class='n'>USD</th></tr>\n", f);
	for (int c = 0; c < MG_COST__COUNT; c++) {
		for (int i = 0; i < o->nitems; i++) {
			const struct mg_cost_item *it = &o->item[i];

			if (it->comp != (enum mg_cost_comp)c)
				continue;
			fprintf(f, "<tr><td class='c'><span class='sw' style='background:%s'></span>",
				comp_colour[c]);
			esc(f, mg_cost_comp_title(c));
			fputs("</td><td>", f);
			esc(f, it->what);
			fputs("<div class='how'>", f);
			esc(f, it->how);
			if (!strncmp(it->qty_unit, sizes_decimal ? "GiB" : "GB", sizes_decimal ? 3 : 2) &&
			    (sizes_decimal || it->qty_unit[2] != 'B'))
				fputs(sizes_decimal ? " (the provider bills in GiB, 2<sup>30</sup> bytes)" :
				      " (the provider bills in GB, 10<sup>9</sup> bytes)", f);
			fputs("</div></td><td class='n'>", f);
			html_usd(f, it->usd);
			fputs("</td></tr>\n", f);
		}
	}
	fputs("<tr class='sum'><td colspan='2'>one-time (the move)</td><td class='n'>", f);
	html_usd(f, o->one_time);
	fputs("</td></tr>\n<tr class='sum'><td colspan='2'>target storage per month after the move</td><td class='n'>", f);
	html_usd(f, o->monthly);
	fputs("</td></tr>\n<tr class='sum'><td colspan='2'>total for the month of the move</td><td class='n'>", f);
	html_usd(f, o->total);
	fputs("</td></tr>\n</table>\n", f);
}

static void html_sources(FILE *f, const struct mg_report *r)
{
	const struct mg_price_provider *seen[64];
	size_t nseen = 0;

	fputs("<table><tr><th>provider</th><th>prices from</th><th>as of</th><th>unit</th></tr>\n", f);
	for (size_t i = 0; i < r->n; i++) {
		const struct mg_price_provider *pp[2] = { r->sc[i].out.source, r->sc[i].out.target };

		for (int k = 0; k < 2; k++) {
			const struct mg_price_provider *p = pp[k];
			int dup = 0;

			if (!p)
				continue;
			for (size_t j = 0; j < nseen; j++)
				dup |= seen[j] == p;
			if (dup || nseen == 64)
				continue;
			seen[nseen++] = p;
			fputs("<tr><td>", f);
			esc(f, p->title ? p->title : p->name);
			fputs(" <span class='how'>(", f);
			esc(f, p->name);
			fputs(")</span>", f);
			if (p->notes) {
				fputs("<div class='how'>", f);
				esc(f, p->notes);
				fputs("</div>", f);
			}
			fputs("</td><td>", f);
			esc(f, p->source);
			fputs("</td><td class='nw'>", f);
			esc(f, p->as_of);
			fputs("</td><td class='nw'>", f);
			esc(f, p->unit);
			fputs(strcmp(p->unit, "GiB") == 0 ? " (2<sup>30</sup> bytes)" :
			      " (10<sup>9</sup> bytes)", f);
			fputs("</td></tr>\n", f);
		}
	}
	fputs("</table>\n", f);
}

static void html_card(FILE *f, const char *k, double usd, const char *text,
		      const char *sub)
{
	fputs("<div class='card'><div class='k'>", f);
	esc(f, k);
	fputs("</div><div class='v'>", f);
	if (text)
		esc(f, text);
	else
		html_usd(f, usd);
	fputs("</div>", f);
	if (sub) {
		fputs("<div class='how'>", f);
		esc(f, sub);
		fputs("</div>", f);
	}
	fputs("</div>\n", f);
}

/* A warning every scenario of several carries is about the plan (the
 * source, dedupe), not one target. */
static int warn_plan_wide(const struct mg_report *r, const char *w)
{
	if (r->n < 2)
		return 0;
	for (size_t i = 0; i < r->n; i++) {
		int has = 0;

		for (int k = 0; k < r->sc[i].out.nwarn; k++)
			has |= !strcmp(r->sc[i].out.warn[k], w);
		if (!has)
			return 0;
	}
	return 1;
}

static void html_plan_warnings(FILE *f, const struct mg_report *r)
{
	if (!r->n)
		return;
	for (int k = 0; k < r->sc[0].out.nwarn; k++)
		if (warn_plan_wide(r, r->sc[0].out.warn[k])) {
			fputs("<div class='warn'>plan-wide: ", f);
			esc(f, r->sc[0].out.warn[k]);
			fputs("</div>\n", f);
		}
}

static void html_warnings(FILE *f, const struct mg_report *r,
			  const struct mg_scenario *s, int named)
{
	for (int i = 0; i < s->out.nwarn; i++) {
		if (warn_plan_wide(r, s->out.warn[i]))
			continue;
		fputs("<div class='warn'>", f);
		if (named) {
			esc(f, s->label ? s->label : prov_name(s->out.target));
			fputs(": ", f);
		}
		esc(f, s->out.warn[i]);
		fputs("</div>\n", f);
	}
}

static int page_units_decimal(const struct mg_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (!r->sc[i].out.target || strcmp(r->sc[i].out.target->unit, "GiB"))
			return 1;
	return r->n == 0;
}

/* One target of a plan with several, without --compare: its own cards,
 * bill, counts and requests. */
static void html_target(FILE *f, const struct mg_report *r, size_t i)
{
	const struct mg_scenario *s = &r->sc[i];
	char d[40], rate[200], sub[220], h[32];

	fputs("<h2>Target ", f);
	snprintf(h, sizeof(h), "%zu of %zu: ", i + 1, r->n);
	fputs(h, f);
	esc(f, s->label ? s->label : prov_name(s->out.target));
	fputs("</h2>\n<div class='cards'>\n", f);
	mg_fmt_duration(s->out.duration_s, d, sizeof(d));
	fmt_rate(&s->in, rate, sizeof(rate));
	html_card(f, "one-time (the move)", s->out.one_time, NULL,
		  "egress, requests, penalties (the source's counted in each target)");
	html_card(f, "storage per month", s->out.monthly, NULL, "at this target, after the move");
	html_card(f, "total, month of the move", s->out.total, NULL, NULL);
	snprintf(sub, sizeof(sub), "at %s", rate);
	html_card(f, "time", 0, d, sub);
	fputs("</div>\n", f);
	html_warnings(f, r, s, 0);
	fputs("<div class='panel'>\n", f);
	svg_components(f, &s->out);
	html_breakdown(f, &s->out);
	fputs("</div>\n<div class='cards'>\n<div class='panel' style='flex:1 1 420px'>\n", f);
	put_counts(f, s, 1);
	fputs("</div>\n<div class='panel' style='flex:1 1 420px'>\n", f);
	html_requests(f, s);
	fputs("</div>\n</div>\n", f);
}

static int report_html(FILE *f, const struct mg_report *r);

int mg_report_html(FILE *f, const struct mg_report *r)
{
	int rc;

	sizes_decimal = page_units_decimal(r);
	rc = report_html(f, r);
	sizes_decimal = 0;
	return rc;
}

static int report_html(FILE *f, const struct mg_report *r)
{
	const struct mg_scenario *s0 = r->n ? &r->sc[0] : NULL;
	time_t now = r->generated ? r->generated : time(NULL);
	char when[40], d[40], rate[200], sub[220];
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	mg_html_head(f, "migrate estimate", r->plan_name);
	fputs("<h1>Estimate for plan ", f);
	esc(f, r->plan_name);
	fputs("</h1>\n<p class='sub'>from ", f);
	esc(f, r->source_url);
	if (s0 && !r->compare && r->n == 1) {
		fputs(" to ", f);
		esc(f, s0->label);
	} else if (s0 && !r->compare) {
		fprintf(f, " to %zu targets", r->n);
	}
	fprintf(f, " &middot; %s", when);
	fputs(sizes_decimal ? " &middot; sizes in decimal units (1 GB = 10<sup>9</sup> bytes)" :
	      " &middot; sizes in binary units (1 GiB = 2<sup>30</sup> bytes)", f);
	if (r->pricing_file) {
		fputs(" &middot; prices: ", f);
		esc(f, r->pricing_file);
	}
	fputs("</p>\n", f);
	if (!s0) {
		fputs("<p>Nothing to estimate.</p></main></body></html>\n", f);
		return ferror(f) ? -1 : 0;
	}

	if (!r->compare && r->n > 1) {
		fputs("<div class='cards'>\n", f);
		if (r->plan_total) {
			html_card(f, "the plan's bill", r->plan_total->total_usd, NULL,
				  "the source once, plus each target's own");
			html_card(f, "source side", r->plan_total->source_usd, NULL,
				  "egress, retrieval, source requests");
			html_card(f, "targets", r->plan_total->targets_usd, NULL,
				  "requests, penalties, a month of storage");
			mg_fmt_duration(r->plan_total->duration_s, d, sizeof(d));
			html_card(f, "time", 0, d, "every target's bytes through the one limit");
		}
		fputs("</div>\n", f);
		html_plan_warnings(f, r);
		mg_archive_html(f, s0);
		for (size_t i = 0; i < r->n; i++)
			html_target(f, r, i);
		goto sources;
	}
	mg_fmt_duration(s0->out.duration_s, d, sizeof(d));
	fmt_rate(&s0->in, rate, sizeof(rate));
	fputs("<div class='cards'>\n", f);
	if (r->compare) {
		fputs("<div class='card wide'><div class='k'>cheapest target</div><div class='v'>", f);
		esc(f, s0->label ? s0->label : prov_name(s0->out.target));
		fputs("</div><div class='how'>of ", f);
		fprintf(f, "%zu compared</div></div>\n", r->n);
	}
	html_card(f, "one-time (the move)", s0->out.one_time, NULL,
		  "egress, requests, penalties");
	html_card(f, "storage per month", s0->out.monthly, NULL,
		  "at the target, after the move");
	html_card(f, "total, month of the move", s0->out.total, NULL, NULL);
	snprintf(sub, sizeof(sub), "at %s", rate);
	html_card(f, "time", 0, d, sub);
	fputs("</div>\n", f);
	html_plan_warnings(f, r);
	mg_archive_html(f, s0);
	for (size_t i = 0; i < r->n; i++)
		html_warnings(f, r, &r->sc[i], r->compare);

	if (r->compare) {
		fputs("<h2>Providers compared, cheapest first</h2>\n<div class='panel'>\n", f);
		svg_compare(f, r);
		fputs("<table><tr><th>target</th><th class='n'>egress</th><th class='n'>requests</th>"
		      "<th class='n'>one-time</th><th class='n'>storage / month</th>"
		      "<th class='n'>total</th><th class='n'>time</th></tr>\n", f);
		for (size_t i = 0; i < r->n; i++) {
			const struct mg_scenario *s = &r->sc[i];

			fprintf(f, "<tr%s><td>", i == 0 ? " class='best'" : "");
			esc(f, s->label ? s->label : prov_name(s->out.target));
			fputs("</td><td class='n'>", f);
			html_usd(f, s->out.cost[MG_COST_EGRESS] + s->out.cost[MG_COST_RETRIEVAL]);
			fputs("</td><td class='n'>", f);
			html_usd(f, s->out.cost[MG_COST_SRC_REQ] + s->out.cost[MG_COST_DST_REQ]);
			fputs("</td><td class='n'>", f);
			html_usd(f, s->out.one_time);
			fputs("</td><td class='n'>", f);
			html_usd(f, s->out.monthly);
			fputs("</td><td class='n'>", f);
			html_usd(f, s->out.total);
			mg_fmt_duration(s->out.duration_s, d, sizeof(d));
			fprintf(f, "</td><td class='n'>%s</td></tr>\n", d);
		}
		fputs("</table>\n</div>\n", f);
	}

	for (size_t i = 0; i < (r->compare ? r->n : 1); i++) {
		const struct mg_scenario *s = &r->sc[i];

		/* the cheapest in full; the others folded (no script needed) */
		if (i == 0) {
			fputs("<h2>Cost by component", f);
			if (r->compare) {
				fputs(": ", f);
				esc(f, s->label ? s->label : prov_name(s->out.target));
			}
			fputs("</h2>\n", f);
		} else {
			fputs("<details><summary>Cost by component: ", f);
			esc(f, s->label ? s->label : prov_name(s->out.target));
			fputs("</summary>\n", f);
		}
		fputs("<div class='panel'>\n", f);
		svg_components(f, &s->out);
		html_breakdown(f, &s->out);
		fputs(i ? "</div>\n</details>\n" : "</div>\n", f);
	}

	fputs("<h2>What the move does</h2>\n<div class='cards'>\n<div class='panel' style='flex:1 1 420px'>\n", f);
	put_counts(f, s0, 1);
	fputs("</div>\n<div class='panel' style='flex:1 1 420px'>\n", f);
	html_requests(f, s0);
	fputs("</div>\n</div>\n", f);

sources:
	fputs("<h2>Price sources</h2>\n<div class='panel'>\n", f);
	html_sources(f, r);
	fputs("</div>\n<footer>Estimated by migrate from the counted requests and bytes; "
	      "list prices, before taxes and negotiated discounts not in the plan.</footer>\n"
	      "</main></body></html>\n", f);
	return ferror(f) ? -1 : 0;
}

/* ---- the page helpers other pages share (report.h) ---- */

void mg_html_head(FILE *f, const char *what, const char *name)
{
	fputs("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>\n"
	      "<meta name='viewport' content='width=device-width,initial-scale=1'>\n<title>", f);
	esc(f, what);
	fputs(": ", f);
	esc(f, name);
	fprintf(f, "</title>\n<style>%s</style>\n</head><body><main>\n", css);
}

void mg_html_esc(FILE *f, const char *s)
{
	esc(f, s);
}

void mg_html_usd(FILE *f, double usd)
{
	html_usd(f, usd);
}

void mg_html_card(FILE *f, const char *k, double usd, const char *text, const char *sub)
{
	html_card(f, k, usd, text, sub);
}

void mg_html_breakdown(FILE *f, const struct mg_estimate_out *o)
{
	html_breakdown(f, o);
}

static int report_page(FILE *f, const void *r)
{
	return mg_report_html(f, r);
}

int mg_report_html_file(const char *path, const struct mg_report *r,
			struct mg_error *err)
{
	return mg_html_file(path, report_page, r, err);
}

int mg_html_file(const char *path, int (*page)(FILE *f, const void *arg), const void *arg,
		 struct mg_error *err)
{
	struct mg_safefile sf;
	FILE *f;

	/* never through a name someone could have planted: see safefile.h */
	if (mg_safefile_open(path, 0644, &sf, err) != MG_OK)
		return MG_FAILED;
	f = mg_safefile_stream(&sf);
	if (!f || page(f, arg) < 0) {
		int e = errno;

		mg_safefile_abort(&sf);
		return mg_error_set(err, MG_FAILED, e, 0, "html",
				    "cannot write report '%s': %s", path, strerror(e));
	}
	return mg_safefile_commit(&sf, err);
}
