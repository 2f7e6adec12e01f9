/*
 * test_pricing_rules.c - the price rules beyond a rate times a volume,
 * against figures worked out by hand from plans/pricing.yaml: R2's monthly
 * free tier and its rounding per billing month, Wasabi's base-2 units and
 * minimums, minimum storage durations from the ages of what a sync
 * deletes or overwrites, and what the estimate refuses to price (an
 * unknown storage class, an S3 endpoint of no known provider).
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

#include "pricing.h"
#include "pricing_fixture.h"

#define GB 1000000000ULL
#define GiB 1073741824ULL
#define DAY 86400

static struct mg_pricing table;

static int setup(void **state)
{
	(void)state;
	return pricing_fixture_load(&table);
}

static int teardown(void **state)
{
	(void)state;
	mg_pricing_release(&table);
	return 0;
}

static void near_at(double got, double want, const char *what, int line)
{
	if (fabs(got - want) > 1e-9 * (fabs(want) > 1 ? fabs(want) : 1)) {
		print_error("line %d: %s = %.10f, want %.10f\n", line, what, got, want);
		fail();
	}
}
#define near(got, want) near_at((got), (want), #got, __LINE__)

static void compute(const struct mg_estimate_in *in, struct mg_estimate_out *out)
{
	char msg[512];

	if (mg_estimate_compute(&table, in, out, msg, sizeof(msg)) != 0) {
		print_error("%s\n", msg);
		fail();
	}
}

static void refused(const struct mg_estimate_in *in, const char *want1,
		    const char *want2)
{
	struct mg_estimate_out out;
	char msg[512];

	assert_int_equal(mg_estimate_compute(&table, in, &out, msg, sizeof(msg)), -1);
	if (!strstr(msg, want1) || (want2 && !strstr(msg, want2))) {
		print_error("got '%s', want '%s' and '%s'\n", msg, want1, want2 ? want2 : "");
		fail();
	}
}

/* A no-op rerun (a LIST and a few HEADs) is free within R2's monthly free
 * tier, not headlined at $4.50; beyond it the month's remainder is rounded
 * up to the million; with the free tier spent elsewhere the move adds its
 * own requests at the exact rate. */
static void test_r2_free_tier_and_month(void **state)
{
	struct mg_estimate_in in = { .source_provider = "local",
				     .target_provider = "cloudflare-r2" };
	struct mg_estimate_out out;

	(void)state;
	in.target_req[MG_REQ_LIST] = 3;
	in.target_req[MG_REQ_HEAD] = 40;
	compute(&in, &out);
	near(out.cost[MG_COST_DST_REQ], 0);
	near(out.total, 0);

	/* 1.5 M class A: 1 M free, 0.5 M rounded up to one million */
	in.target_req[MG_REQ_LIST] = 0;
	in.target_req[MG_REQ_PUT] = 1500000;
	compute(&in, &out);
	near(out.cost[MG_COST_DST_REQ], 4.50);
	/* 10 M + 1 class B: one million billed */
	in.target_req[MG_REQ_HEAD] = 10000001;
	compute(&in, &out);
	near(out.cost[MG_COST_DST_REQ], 4.50 + 0.36);

	/* the account spends its free tier elsewhere */
	in.free_tier_used = 1;
	compute(&in, &out);
	near(out.cost[MG_COST_DST_REQ], 1.5 * 4.50 + 10.000001 * 0.36);
	in.target_req[MG_REQ_PUT] = 3;
	in.target_req[MG_REQ_HEAD] = 40;
	compute(&in, &out);
	near(out.cost[MG_COST_DST_REQ], 3 * 4.50e-6 + 40 * 0.36e-6);
	/* the table itself is untouched for the next scenario */
	near(mg_pricing_find(&table, "cloudflare-r2", NULL)->requests.cls[0].free, 1e6);

	/* storage: 10 GB-month free, only when unspent */
	memset(in.target_req, 0, sizeof(in.target_req));
	in.target_stored_bytes = 25 * GB;
	in.free_tier_used = 0;
	compute(&in, &out);
	near(out.cost[MG_COST_STORAGE], 15 * 0.015);
	in.target_stored_bytes = 4 * GB;
	compute(&in, &out);
	near(out.cost[MG_COST_STORAGE], 0);
	in.free_tier_used = 1;
	compute(&in, &out);
	near(out.cost[MG_COST_STORAGE], 4 * 0.015);
	/* Infrequent Access is outside the free tier */
	in.free_tier_used = 0;
	in.target_class = "InfrequentAccess";
	in.target_req[MG_REQ_PUT] = 3;
	compute(&in, &out);
	near(out.cost[MG_COST_STORAGE], 4 * 0.01);
	near(out.cost[MG_COST_DST_REQ], 9.00);
}

/* Wasabi bills in base 2: its 1 TB minimum is 1,024 GiB, and each object
 * at least 4 KiB. */
static void test_wasabi_base2_and_4k(void **state)
{
	struct mg_estimate_in in = { .source_provider = "local",
				     .target_provider = "wasabi" };
	struct mg_estimate_out out;
	struct mg_small_objects small;

	(void)state;
	/* 1,000 GB (931 GiB) is below 1 TB = 1,024 GiB: the minimum */
	in.target_stored_bytes = 1000 * GB;
	compute(&in, &out);
	near(out.cost[MG_COST_STORAGE], 6.99);
	/* 1,050 GB = 977.9 GiB: still below a base-2 TB (above a base-10 one) */
	in.target_stored_bytes = 1050 * GB;
	compute(&in, &out);
	near(out.cost[MG_COST_STORAGE], 6.99);
	in.target_stored_bytes = 1100 * GiB;
	compute(&in, &out);
	near(out.cost[MG_COST_STORAGE], 1100 * 6.99 / 1024);

	/* the padding itself: 100 B and 4,095 B objects bill as 4 KiB */
	memset(&small, 0, sizeof(small));
	mg_small_objects_add(&small, 100);
	mg_small_objects_add(&small, 4095);
	mg_small_objects_add(&small, 4096);
	mg_small_objects_add(&small, 10240);
	near(mg_small_objects_pad(&small, 4096), (4096 - 100) + (4096 - 4095));
	near(mg_small_objects_pad(&small, 131072), 4 * 131072 - (100 + 4095 + 4096 + 10240));
	near(mg_small_objects_pad(&small, 0), 0);

	/* 2 TiB stored, of which a million 1 KiB objects: 3 KiB more each */
	memset(&small, 0, sizeof(small));
	for (int i = 0; i < 1000000; i++)
		mg_small_objects_add(&small, 1024);
	in.target_stored_bytes = 2048 * GiB;
	in.small = &small;
	compute(&in, &out);
	near(out.cost[MG_COST_STORAGE],
	     (2048 + 1e6 * 3072.0 / GiB) * 6.99 / 1024);
	/* a provider without a minimum object size ignores them */
	in.target_provider = "backblaze-b2";
	compute(&in, &out);
	near(out.cost[MG_COST_STORAGE], (2048.0 * GiB / GB - 10) * 0.00695);
}

/* Minimum storage durations from the ages the journal gives (copy time to
 * now) of what a sync deletes or overwrites. */
static void test_early_delete_from_ages(void **state)
{
	struct mg_estimate_in in = { .source_provider = "local",
				     .target_provider = "aws-s3" };
	struct mg_estimate_out out;
	struct mg_delete_ages *ages = calloc(1, sizeof(*ages));

	(void)state;
	/* copied 10 days ago, deleted now; overwritten after 29.9 days; and
	 * 200 days old */
	mg_delete_ages_add(ages, 10 * GB, 10 * DAY + 7200);
	mg_delete_ages_add(ages, 5 * GB, 29 * DAY + 80000);
	mg_delete_ages_add(ages, 50 * GB, 200 * DAY);
	in.deleted = ages;
	/* Standard has no minimum */
	compute(&in, &out);
	near(out.cost[MG_COST_EARLY_DELETE], 0);
	/* Standard-IA: 30 days */
	in.target_class = "STANDARD_IA";
	compute(&in, &out);
	near(out.cost[MG_COST_EARLY_DELETE], (10 * 20 + 5 * 1) * 0.0125 / 30);
	/* Deep Archive: 180 days, all but the oldest */
	in.target_class = "DEEP_ARCHIVE";
	compute(&in, &out);
	near(out.cost[MG_COST_EARLY_DELETE], (10 * 170 + 5 * 151) * 0.00099 / 30);
	/* Wasabi: 90 days, in GiB */
	in.target_provider = "wasabi";
	in.target_class = NULL;
	compute(&in, &out);
	near(out.cost[MG_COST_EARLY_DELETE],
	     (10.0 * 80 + 5.0 * 61) * GB / GiB * (6.99 / 1024) / 30);
	/* R2 Infrequent Access: 30 days */
	in.target_provider = "cloudflare-r2";
	in.target_class = "InfrequentAccess";
	compute(&in, &out);
	near(out.cost[MG_COST_EARLY_DELETE], (10 * 20 + 5 * 1) * 0.01 / 30);
	free(ages);
}

/* A class the table does not know is refused with the known ones, never
 * priced as Standard (DEEP_ARCHIVE on 10 TB was priced at $230/month). */
static void test_unknown_class_refused(void **state)
{
	struct mg_estimate_in in = { .source_provider = "local",
				     .target_provider = "aws-s3",
				     .target_stored_bytes = 10000 * GB };
	struct mg_estimate_out out;

	(void)state;
	in.target_class = "DEEP_ARCHVE";
	refused(&in, "unknown storage_class 'DEEP_ARCHVE' for target 'aws-s3'",
		"known classes are STANDARD (the default), STANDARD_IA, ONEZONE_IA, GLACIER_IR, GLACIER, DEEP_ARCHIVE");
	in.target_class = "deep_archive";
	compute(&in, &out);
	near(out.cost[MG_COST_STORAGE], 10000 * 0.00099);
	in.target_class = "STANDARD";
	compute(&in, &out);
	near(out.cost[MG_COST_STORAGE], 10000 * 0.023);
	/* a provider with one class */
	in.target_provider = "wasabi";
	in.target_class = "GLACIER";
	refused(&in, "unknown storage_class 'GLACIER' for target 'wasabi'",
		"none but the default");
	/* the source side too */
	in.target_provider = "local";
	in.target_class = NULL;
	in.source_provider = "gcs";
	in.source_class = "COLDLINE";
	refused(&in, "unknown storage_class 'COLDLINE' for source 'gcs'", "STANDARD");
}

/* An S3 endpoint on a host the table does not know asks for 'provider'
 * instead of being priced as a local disk at $0. */
static void test_unknown_endpoint_refused(void **state)
{
	struct mg_plan plan;
	struct mg_endpoint target;
	struct mg_estimate_in in = { 0 };
	char msg[256];

	(void)state;
	memset(&plan, 0, sizeof(plan));
	memset(&target, 0, sizeof(target));
	assert_int_equal(mg_endpoint_parse_url(&plan.source, "/srv/x", msg, sizeof(msg)), 0);
	assert_int_equal(mg_endpoint_parse_url(&target, "s3://bucket/p", msg, sizeof(msg)), 0);
	assert_int_equal(mg_endpoint_set(&target, "endpoint", "https://objects.example.net", msg, sizeof(msg)), 0);
	mg_estimate_in_fill(&in, &plan, &target, NULL, NULL);
	assert_string_equal(in.target_provider, MG_PROVIDER_UNKNOWN);
	refused(&in, "cannot price the target 's3://bucket/p'", "set 'provider:' on it");
	/* named, it prices */
	assert_int_equal(mg_endpoint_set(&target, "provider", "ceph", msg, sizeof(msg)), 0);
	mg_estimate_in_fill(&in, &plan, &target, NULL, NULL);
	assert_string_equal(in.target_provider, "ceph");
	/* the plan's free-tier switch reaches the estimate */
	plan.pricing_free_tier_used = 1;
	mg_estimate_in_fill(&in, &plan, &target, NULL, NULL);
	assert_int_equal(in.free_tier_used, 1);
	mg_endpoint_release(&target);
	mg_endpoint_release(&plan.source);
}

/* B2: the run's HEAD and GET fall in Class B, its LIST in Class C, billed
 * before 2026-05-01 and free since; an account on the old terms overrides. */
static void test_b2_classes(void **state)
{
	struct mg_pricing t;
	struct mg_estimate_in in = { .source_provider = "backblaze-b2",
				     .target_provider = "local" };
	struct mg_estimate_out out;
	const struct mg_price_provider *p = mg_pricing_find(&table, "backblaze-b2", NULL);
	char msg[256];

	(void)state;
	assert_string_equal(p->requests.cls[p->requests.map[MG_REQ_HEAD]].name, "B");
	assert_string_equal(p->requests.cls[p->requests.map[MG_REQ_GET]].name, "B");
	assert_string_equal(p->requests.cls[p->requests.map[MG_REQ_LIST]].name, "C");
	in.source_req[MG_REQ_LIST] = 5000;
	in.source_req[MG_REQ_GET] = 100000;
	compute(&in, &out);
	near(out.cost[MG_COST_SRC_REQ], 0);
	assert_int_equal(pricing_fixture_load(&t), 0);
	assert_int_equal(mg_pricing_override_str(&t, "backblaze-b2", "requests.classes.C",
						 "0.004/1000", msg, sizeof(msg)), 0);
	assert_int_equal(mg_estimate_compute(&t, &in, &out, msg, sizeof(msg)), 0);
	near(out.cost[MG_COST_SRC_REQ], 5 * 0.004);
	mg_pricing_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_r2_free_tier_and_month),
		cmocka_unit_test(test_wasabi_base2_and_4k),
		cmocka_unit_test(test_early_delete_from_ages),
		cmocka_unit_test(test_unknown_class_refused),
		cmocka_unit_test(test_unknown_endpoint_refused),
		cmocka_unit_test(test_b2_classes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
