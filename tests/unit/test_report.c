/*
 * test_report.c - the estimate's renderings: money and time formats, the
 * cheapest-first order of --compare, the aligned terminal table, the JSON
 * shape, and an HTML page that is self-contained and escapes what it
 * shows.
 *
 * With MG_REPORT_HTML=FILE set, it also writes a --compare page to FILE:
 * tests/integration/report_html.sh screenshots that in a real browser.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "report.h"
#include "pricing_fixture.h"

#define GB 1000000000ULL

static struct mg_pricing table;

static int setup(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	return pricing_fixture_load(&table);
}

static int teardown(void **state)
{
	(void)state;
	mg_pricing_release(&table);
	return 0;
}

/*
 * A move of 12 TB in 240,000 objects out of AWS (15 TB stored), counted
 * the way the engine counts: one LIST page per 1,000 keys, one GET per
 * object or part, PUT for small objects and multipart for large ones.
 */
static void fill(struct mg_scenario *s, const char *label, const char *target)
{
	struct mg_estimate_in *in = &s->in;
	char msg[512];

	memset(s, 0, sizeof(*s));
	s->label = label;
	s->counts.new_objects = 230000;
	s->counts.new_bytes = 11800 * GB;
	s->counts.changed_objects = 8000;
	s->counts.changed_bytes = 200 * GB;
	s->counts.unchanged_objects = 52000;
	s->counts.unchanged_bytes = 3000 * GB;
	s->counts.dedup_objects = 2000;
	s->counts.dedup_bytes = 4 * GB;
	in->source_provider = "aws-s3";
	in->source_stored_bytes = 15000 * GB;
	in->source_read_bytes = 12000 * GB;
	in->source_req[MG_REQ_LIST] = 292;
	in->source_req[MG_REQ_GET] = 418000;
	in->target_provider = target;
	in->target_req[MG_REQ_LIST] = 292;
	in->target_req[MG_REQ_PUT] = 58000;
	in->target_req[MG_REQ_MP_CREATE] = 180000;
	in->target_req[MG_REQ_MP_PART] = 360000;
	in->target_req[MG_REQ_MP_COMPLETE] = 180000;
	in->target_req[MG_REQ_COPY] = 2000;
	in->target_req[MG_REQ_HEAD] = 240000;
	in->target_stored_bytes = 15004 * GB;
	in->bandwidth = 125000000;	/* 1 Gbit/s */
	in->start = 1795680000;
	if (mg_estimate_compute(&table, in, &s->out, msg, sizeof(msg)) != 0) {
		print_error("%s\n", msg);
		fail();
	}
}

static size_t compare_set(struct mg_scenario *sc)
{
	static const char *const t[] = {
		"backblaze-b2", "cloudflare-r2", "wasabi", "aws-s3", "gcs", "azure-blob",
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		fill(&sc[i], t[i], t[i]);
	mg_scenarios_sort(sc, sizeof(t) / sizeof(t[0]));
	return sizeof(t) / sizeof(t[0]);
}

static char *render(int (*fn)(FILE *, const struct mg_report *),
		    const struct mg_report *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(fn(f, r), 0);
	fclose(f);
	return buf;
}

static void test_formats(void **state)
{
	static const struct {
		void (*fmt)(double, char *, size_t);
		double v;
		const char *want;
	} cases[] = {
		{ mg_fmt_usd, 0, "0.00" },
		{ mg_fmt_usd, 0.004, "<0.01" },
		{ mg_fmt_usd, 0.000015, "<0.01" },
		{ mg_fmt_usd, 0.006, "0.01" },
		{ mg_fmt_usd, 999.999, "1,000.00" },
		{ mg_fmt_usd, 1234567.891, "1,234,567.89" },
		{ mg_fmt_usd, 123.4, "123.40" },
		{ mg_fmt_duration, -1, "unknown" },
		{ mg_fmt_duration, 42.2, "43 s" },
		{ mg_fmt_duration, 3600 + 5 * 60, "1 h 05 min" },
		{ mg_fmt_duration, 3 * 86400 + 4 * 3600, "3 d 4 h" },
	};
	char b[40];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cases[i].fmt(cases[i].v, b, sizeof(b));
		assert_string_equal(b, cases[i].want);
	}
}

static void test_sort_cheapest_first(void **state)
{
	struct mg_scenario sc[6];
	size_t n = compare_set(sc);

	(void)state;
	for (size_t i = 1; i < n; i++)
		assert_true(sc[i - 1].out.total <= sc[i].out.total);
	/* egress from AWS dominates, so the cheapest target has cheap
	 * requests and storage: Wasabi (free calls, and its TB is 1,024 GiB)
	 * then B2 (free calls); AWS's storage is dearest */
	assert_string_equal(sc[0].label, "wasabi");
	assert_string_equal(sc[1].label, "backblaze-b2");
	assert_string_equal(sc[n - 1].label, "aws-s3");
}

static void test_text_table(void **state)
{
	struct mg_scenario sc[6];
	struct mg_report r = { .plan_name = "ml-data", .source_url = "s3://ml-data/",
			       .sc = sc, .n = 1 };
	char *out;
	const char *line;

	(void)state;
	fill(&sc[0], "s3://backup-bucket/ml", "backblaze-b2");
	out = render(mg_report_text, &r);
	/* egress: 100 GB free, 10 TB at 0.09, 1,900 GB at 0.085 */
	assert_non_null(strstr(out, "Source egress                                 1,061.50\n"));
	/* columns line up: every money line ends at the same column */
	line = strstr(out, "total for the month of the move");
	assert_non_null(line);
	assert_int_equal(strchr(line, '\n') - line, 2 + 39 + 1 + 14 - 2);
	assert_non_null(strstr(out, "  UploadPart                            0        360,000\n"));
	assert_non_null(strstr(out, "time: 1 d 2 h at 119.2 MiB/s"));
	free(out);

	compare_set(sc);
	r.n = 6;
	r.compare = 1;
	out = render(mg_report_text, &r);
	assert_non_null(strstr(out, "cheapest first"));
	assert_true(strstr(out, "\n  backblaze-b2 ") < strstr(out, "\n  aws-s3 "));
	free(out);
}

static void test_json(void **state)
{
	struct mg_scenario sc[6];
	struct mg_report r = { .plan_name = "ml-data", .source_url = "s3://ml-data/",
			       .pricing_file = "plans/pricing.yaml", .sc = sc,
			       .compare = 1 };
	json_t *j, *s0, *items;
	double sum = 0;

	(void)state;
	r.n = compare_set(sc);
	j = mg_report_json(&r);
	assert_int_equal(json_array_size(json_object_get(j, "scenarios")), 6);
	s0 = json_array_get(json_object_get(j, "scenarios"), 0);
	assert_string_equal(json_string_value(json_object_get(s0, "label")), "wasabi");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
		json_object_get(s0, "requests"), "target"), "upload_part")), 360000);
	assert_true(fabs(json_real_value(json_object_get(json_object_get(s0, "cost_usd"),
		"egress")) - 1061.5) < 1e-9);
	items = json_object_get(s0, "breakdown");
	assert_true(json_array_size(items) > 3);
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *it = json_array_get(items, i);

		assert_true(strlen(json_string_value(json_object_get(it, "how"))) > 0);
		sum += json_real_value(json_object_get(it, "usd"));
	}
	assert_true(fabs(sum - json_real_value(json_object_get(
		json_object_get(s0, "cost_usd"), "total"))) < 0.01);
	assert_string_equal(json_string_value(json_object_get(json_object_get(s0,
		"target_provider"), "as_of")), "2026-12-04");
	json_decref(j);
}

static void test_html(void **state)
{
	struct mg_scenario sc[6];
	struct mg_report r = { .plan_name = "q3 <script>alert(1)</script> & 'eval'",
			       .source_url = "s3://ml-data/\"x\"", .sc = sc,
			       .compare = 1, .generated = 1795680000 };
	char *out;

	(void)state;
	r.n = compare_set(sc);
	out = render(mg_report_html, &r);
	assert_null(strstr(out, "<script"));
	assert_non_null(strstr(out, "q3 &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#39;eval&#39;"));
	assert_non_null(strstr(out, "s3://ml-data/&quot;x&quot;"));
	/* self-contained: no external asset of any kind */
	assert_null(strstr(out, "src="));
	assert_null(strstr(out, "href="));
	assert_null(strstr(out, "url("));
	assert_null(strstr(out, "@import"));
	/* two charts, and the cheapest first */
	assert_non_null(strstr(out, "aria-label='cost by component'"));
	assert_non_null(strstr(out, "aria-label='providers compared'"));
	assert_true(strstr(out, "<tr class='best'><td>wasabi") != NULL);
	assert_non_null(strstr(out, "</html>"));
	free(out);
}

/* Not a test: the page the browser check screenshots. */
static int write_demo(const char *path)
{
	struct mg_scenario sc[6];
	struct mg_delete_ages *ages = calloc(1, sizeof(*ages));
	struct mg_report r = { .plan_name = "ml-datasets <q3> & 'eval'",
			       .source_url = "s3://ml-datasets/train/",
			       .pricing_file = "plans/pricing.yaml", .sc = sc,
			       .compare = 1 };
	struct mg_error err = { 0 };
	char msg[512];

	r.n = compare_set(sc);
	/* the Wasabi scenario is a sync that deletes young objects */
	mg_delete_ages_add(ages, 800 * GB, 20 * 86400);
	for (size_t i = 0; i < r.n; i++) {
		if (strcmp(sc[i].label, "wasabi") == 0) {
			sc[i].in.deleted = ages;
			sc[i].counts.deleted_objects = 4000;
			sc[i].counts.deleted_bytes = 800 * GB;
			mg_estimate_compute(&table, &sc[i].in, &sc[i].out, msg, sizeof(msg));
		}
	}
	mg_scenarios_sort(sc, r.n);
	if (mg_report_html_file(path, &r, &err) != MG_OK) {
		fprintf(stderr, "%s\n", err.msg);
		free(ages);
		return -1;
	}
	free(ages);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_sort_cheapest_first),
		cmocka_unit_test(test_text_table),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_html),
	};
	const char *demo = getenv("MG_REPORT_HTML");

	if (demo && *demo) {
		int r;

		if (setup(NULL) < 0)
			return 1;
		r = write_demo(demo);
		teardown(NULL);
		return r < 0;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
