/*
 * test_pricing.c - the price model against figures worked out by hand from
 * plans/pricing.yaml: tier boundaries, free allowances, B2's 3x rule,
 * Wasabi's fair use, minimum charge and 90 days, R2's rounding to the
 * million, request classes, overrides with units, the table's own errors,
 * the time a move takes under a bandwidth timetable, and the rules of
 * issue 18.7 (free tiers, base-2 units, minimum sizes and durations,
 * refused classes and endpoints).
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
#include <time.h>
#include <cmocka.h>

#include "pricing.h"
#include "pricing_fixture.h"

#define GB 1000000000ULL
#define GiB 1073741824ULL

static struct mg_pricing table;

static int setup(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
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

static int has_warning(const struct mg_estimate_out *o, const char *needle)
{
	for (int i = 0; i < o->nwarn; i++)
		if (strstr(o->warn[i], needle))
			return 1;
	return 0;
}

/* ------------------------------------------------------------ the table */

static void test_table_complete(void **state)
{
	static const char *const want[] = {
		"aws-s3", "gcs", "azure-blob", "backblaze-b2", "wasabi",
		"cloudflare-r2", "minio", "ceph", "sftp", "local",
	};
	struct mg_buf names = MG_BUF_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct mg_price_provider *p = mg_pricing_find(&table, want[i], NULL);

		assert_non_null(p);
		assert_non_null(p->source);
		assert_non_null(p->as_of);
		assert_true(p->unit_bytes == 1e9 || p->unit_bytes == (double)GiB);
	}
	assert_string_equal(mg_pricing_find(&table, "gcs", NULL)->unit, "GiB");
	assert_string_equal(mg_pricing_find(&table, "aws-s3", NULL)->unit, "GB");
	/* a storage class, found without regard to case, and a fallback */
	assert_string_equal(mg_pricing_find(&table, "cloudflare-r2", "infrequentaccess")->name,
			    "cloudflare-r2/InfrequentAccess");
	/* a class the table does not list is refused (test_unknown_class_refused) */
	assert_null(mg_pricing_find(&table, "cloudflare-r2", "GLACIER"));
	assert_string_equal(mg_pricing_find(&table, "cloudflare-r2", "standard")->name,
			    "cloudflare-r2");
	assert_null(mg_pricing_find(&table, "dropbox", NULL));
	mg_pricing_names(&table, &names);
	assert_non_null(strstr(names.buf, "aws-s3, gcs, azure-blob"));
	assert_null(strstr(names.buf, "/"));
	mg_buf_release(&names);
	/* seeded figures */
	near(mg_pricing_find(&table, "backblaze-b2", NULL)->storage.tiers.t[0].price, 0.00695);
	near(mg_pricing_find(&table, "wasabi", NULL)->storage.min_billable, 1024);	/* GiB */
	near(mg_pricing_find(&table, "wasabi", NULL)->storage.min_days, 90);
	near(mg_pricing_find(&table, "cloudflare-r2", NULL)->requests.round_up, 1e6);
}

/* ------------------------------------------------------------ egress */

static double aws_egress(uint64_t bytes)
{
	struct mg_estimate_in in = { .source_provider = "aws-s3",
				     .target_provider = "local",
				     .source_read_bytes = bytes };
	struct mg_estimate_out out;

	compute(&in, &out);
	return out.cost[MG_COST_EGRESS];
}

static void test_aws_egress_tiers(void **state)
{
	(void)state;
	near(aws_egress(50 * GB), 0);
	near(aws_egress(100 * GB), 0);			/* the free 100 GB */
	near(aws_egress(101 * GB), 0.09);
	near(aws_egress(10100 * GB), 900);		/* 10 TB at 0.09 after the free 100 */
	near(aws_egress(10101 * GB), 900.085);		/* first GB of the second tier */
	near(aws_egress(50100 * GB), 900 + 3400);	/* + 40 TB at 0.085 */
	near(aws_egress(150100 * GB), 900 + 3400 + 7000);
	near(aws_egress(150200 * GB), 900 + 3400 + 7000 + 5);	/* 100 GB at 0.05 */
	near(aws_egress(GB / 2 + 100 * GB), 0.045);	/* half a GB */
}

static void test_gcs_gib(void **state)
{
	struct mg_estimate_in in = { .source_provider = "gcs",
				     .source_read_bytes = 10 * GiB,
				     .target_provider = "gcs",
				     .target_stored_bytes = 100 * GiB };
	struct mg_estimate_out out;

	(void)state;
	compute(&in, &out);
	near(out.cost[MG_COST_EGRESS], 1.20);		/* 10 GiB x 0.12, no allowance */
	near(out.cost[MG_COST_STORAGE], 2.00);		/* 100 GiB x 0.020 */
	in.source_read_bytes = 10250 * GiB;		/* 10 GiB beyond 10 TiB */
	compute(&in, &out);
	near(out.cost[MG_COST_EGRESS], 10240 * 0.12 + 10 * 0.11);
}

static void test_b2_three_times_stored(void **state)
{
	struct mg_estimate_in in = { .source_provider = "backblaze-b2",
				     .source_stored_bytes = 1000 * GB,
				     .target_provider = "local" };
	struct mg_estimate_out out;

	(void)state;
	in.source_read_bytes = 2500 * GB;
	compute(&in, &out);
	near(out.cost[MG_COST_EGRESS], 0);
	in.source_read_bytes = 3000 * GB;		/* exactly 3x */
	compute(&in, &out);
	near(out.cost[MG_COST_EGRESS], 0);
	in.source_read_bytes = 3500 * GB;		/* 500 GB over at 0.01 */
	compute(&in, &out);
	near(out.cost[MG_COST_EGRESS], 5.00);
	assert_int_equal(out.nwarn, 0);
	/* unknown stored volume: no allowance, and a word about it */
	in.source_stored_bytes = 0;
	compute(&in, &out);
	near(out.cost[MG_COST_EGRESS], 35.00);
	assert_true(has_warning(&out, "stored"));
	/* requests are free since 2026-05-01 */
	in.source_req[MG_REQ_GET] = 123456;
	in.source_req[MG_REQ_LIST] = 99;
	compute(&in, &out);
	near(out.cost[MG_COST_SRC_REQ], 0);
}

static void test_b2_storage_free_10gb(void **state)
{
	struct mg_estimate_in in = { .target_provider = "backblaze-b2" };
	struct mg_estimate_out out;

	(void)state;
	in.target_stored_bytes = 1010 * GB;
	compute(&in, &out);
	near(out.cost[MG_COST_STORAGE], 6.95);		/* 1000 GB x 0.00695 */
	in.target_stored_bytes = 5 * GB;
	compute(&in, &out);
	near(out.cost[MG_COST_STORAGE], 0);
	near(out.monthly, 0);
}

static void test_wasabi_rules(void **state)
{
	struct mg_estimate_in in = { 0 };
	struct mg_estimate_out out;
	struct mg_delete_ages *ages = calloc(1, sizeof(*ages));

	(void)state;
	/* fair use: egress up to the stored volume is free */
	in.source_provider = "wasabi";
	in.source_stored_bytes = 500 * GB;
	in.source_read_bytes = 500 * GB;
	in.target_provider = "local";
	compute(&in, &out);
	near(out.cost[MG_COST_EGRESS], 0);
	assert_int_equal(out.nwarn, 0);
	in.source_read_bytes = 800 * GB;		/* over: not billed, but warned */
	compute(&in, &out);
	near(out.cost[MG_COST_EGRESS], 0);
	assert_true(has_warning(&out, "fair-use"));

	/* 1 TB minimum monthly charge */
	memset(&in, 0, sizeof(in));
	in.target_provider = "wasabi";
	in.target_stored_bytes = 200 * GB;
	compute(&in, &out);
	near(out.cost[MG_COST_STORAGE], 6.99);
	in.target_stored_bytes = 2048 * GiB;		/* base 2: 2 TB */
	compute(&in, &out);
	near(out.cost[MG_COST_STORAGE], 13.98);

	/* 90 days: 100 GB deleted at 30 days old pay 60 more days, 50 GB at
	 * 89.5 days pay one (whole days of age round down), 70 GB at 100 days
	 * pay nothing */
	mg_delete_ages_add(ages, 60 * GB, 30 * 86400);
	mg_delete_ages_add(ages, 40 * GB, 30 * 86400 + 3600);
	mg_delete_ages_add(ages, 50 * GB, 89 * 86400 + 43200);
	mg_delete_ages_add(ages, 70 * GB, 100 * 86400);
	mg_delete_ages_add(ages, 1, 5000LL * 86400);	/* oldest bucket */
	assert_int_equal(ages->count[MG_DELETE_AGE_DAYS - 1], 1);
	in.deleted = ages;
	compute(&in, &out);
	near(out.cost[MG_COST_EARLY_DELETE],
	     (100 * 60 + 50 * 1) * (double)GB / GiB * (6.99 / 1024) / 30);
	near(out.one_time, out.cost[MG_COST_EARLY_DELETE]);
	near(out.total, out.one_time + 13.98);
	/* providers without a minimum duration charge nothing for it */
	in.target_provider = "backblaze-b2";
	compute(&in, &out);
	near(out.cost[MG_COST_EARLY_DELETE], 0);
	free(ages);
}

static void test_r2_rounding(void **state)
{
	struct mg_estimate_in in = { .source_provider = "local",
				     .target_provider = "cloudflare-r2" };
	struct mg_estimate_out out;

	(void)state;
	/* beyond the free million of class A (test_r2_free_tier_and_month has the
	 * free tier itself) */
	in.target_req[MG_REQ_PUT] = 1000001;
	compute(&in, &out);
	near(out.cost[MG_COST_DST_REQ], 4.50);		/* one million billed */
	in.target_req[MG_REQ_PUT] = 1999999;
	in.target_req[MG_REQ_MP_PART] = 1;
	compute(&in, &out);
	near(out.cost[MG_COST_DST_REQ], 4.50);		/* exactly a million */
	in.target_req[MG_REQ_MP_PART] = 2;
	compute(&in, &out);
	near(out.cost[MG_COST_DST_REQ], 9.00);		/* 1,000,001: two */
	in.target_req[MG_REQ_HEAD] = 10000001;		/* class B: rounded apart */
	in.target_req[MG_REQ_DELETE] = 5000;		/* free */
	in.target_req[MG_REQ_MP_ABORT] = 3;		/* free */
	compute(&in, &out);
	near(out.cost[MG_COST_DST_REQ], 9.36);
	near(mg_price_requests(out.target, MG_REQ_DELETE, 5000), 0);
	near(mg_price_requests(out.target, MG_REQ_GET, 1), 0.36);
	/* egress from R2 is free, storage 0.015 */
	in.source_provider = "cloudflare-r2";
	in.source_read_bytes = 5000 * GB;
	in.target_stored_bytes = 110 * GB;		/* 10 GB-month free */
	compute(&in, &out);
	near(out.cost[MG_COST_EGRESS], 0);
	near(out.cost[MG_COST_STORAGE], 1.50);
}

static void test_r2_infrequent_access(void **state)
{
	struct mg_estimate_in in = { .source_provider = "cloudflare-r2",
				     .source_class = "InfrequentAccess",
				     .source_read_bytes = 100 * GB,
				     .target_provider = "cloudflare-r2",
				     .target_class = "InfrequentAccess",
				     .target_stored_bytes = 100 * GB };
	struct mg_estimate_out out;
	struct mg_delete_ages ages;

	(void)state;
	memset(&ages, 0, sizeof(ages));
	mg_delete_ages_add(&ages, 30 * GB, 10 * 86400);	/* 20 days early */
	in.deleted = &ages;
	compute(&in, &out);
	near(out.cost[MG_COST_RETRIEVAL], 1.00);
	near(out.cost[MG_COST_STORAGE], 1.00);
	near(out.cost[MG_COST_EARLY_DELETE], 30 * 20 * 0.01 / 30);
	/* the class has its own request prices */
	near(mg_price_requests(out.target, MG_REQ_PUT, 1), 9.00);
}

static void test_request_classes(void **state)
{
	struct mg_estimate_in in = { .source_provider = "aws-s3",
				     .target_provider = "aws-s3" };
	struct mg_estimate_out out;
	const struct mg_price_provider *az = mg_pricing_find(&table, "azure-blob", NULL);
	const struct mg_price_provider *gcs = mg_pricing_find(&table, "gcs", NULL);

	(void)state;
	in.source_req[MG_REQ_LIST] = 3;
	in.source_req[MG_REQ_GET] = 1000;
	in.source_req[MG_REQ_HEAD] = 10;
	in.target_req[MG_REQ_PUT] = 100;
	in.target_req[MG_REQ_MP_CREATE] = 2;
	in.target_req[MG_REQ_MP_PART] = 20;
	in.target_req[MG_REQ_MP_COMPLETE] = 2;
	in.target_req[MG_REQ_MP_ABORT] = 1;
	in.target_req[MG_REQ_MP_LIST] = 1;
	in.target_req[MG_REQ_COPY] = 5;
	in.target_req[MG_REQ_DELETE] = 7;
	compute(&in, &out);
	/* LIST is tier 1 (0.005/1000), GET and HEAD tier 2 (0.0004/1000) */
	near(out.cost[MG_COST_SRC_REQ], 3 * 0.005 / 1000 + 1010 * 0.0004 / 1000);
	/* PUT, CreateMultipartUpload, UploadPart, Complete, ListParts and
	 * COPY are tier 1: 130; abort and DELETE are free */
	near(out.cost[MG_COST_DST_REQ], 130 * 0.005 / 1000);
	near(mg_price_requests(out.target, MG_REQ_MP_ABORT, 10), 0);
	near(mg_price_requests(out.target, MG_REQ_HEAD, 1000), 0.0004);
	/* Azure: per 10,000; list is a write */
	near(mg_price_requests(az, MG_REQ_PUT, 10000), 0.065);
	near(mg_price_requests(az, MG_REQ_LIST, 10000), 0.065);
	near(mg_price_requests(az, MG_REQ_GET, 10000), 0.005);
	near(mg_price_requests(az, MG_REQ_DELETE, 10000), 0);
	/* GCS: class A / class B per 1,000 */
	near(mg_price_requests(gcs, MG_REQ_MP_PART, 1000), 0.005);
	near(mg_price_requests(gcs, MG_REQ_HEAD, 1000), 0.0004);
	/* self-hosted and local cost nothing */
	near(mg_price_requests(mg_pricing_find(&table, "minio", NULL), MG_REQ_PUT, 1000000), 0);
	/* every item explains itself */
	for (int i = 0; i < out.nitems; i++)
		assert_true(out.item[i].how[0] != '\0');
}

static void test_aws_storage_tiers(void **state)
{
	struct mg_estimate_in in = { .target_provider = "aws-s3",
				     .target_stored_bytes = 60000 * GB };
	struct mg_estimate_out out;

	(void)state;
	compute(&in, &out);
	near(out.cost[MG_COST_STORAGE], 50000 * 0.023 + 10000 * 0.022);
	near(out.monthly, 1370);
}

static void test_unknown_provider(void **state)
{
	struct mg_estimate_in in = { .source_provider = "dropbox",
				     .target_provider = "aws-s3" };
	struct mg_estimate_out out;
	char msg[512];

	(void)state;
	assert_int_equal(mg_estimate_compute(&table, &in, &out, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "unknown provider 'dropbox'"));
	assert_non_null(strstr(msg, "aws-s3, gcs"));
}

/* ------------------------------------------------------------ overrides */

static void test_overrides(void **state)
{
	struct mg_pricing t;
	struct mg_error err = { 0 };
	struct mg_estimate_in in = { .source_provider = "aws-s3",
				     .source_read_bytes = 10100 * GB };
	struct mg_estimate_out out;
	char msg[512];

	(void)state;
	assert_int_equal(mg_pricing_load(table.file, &t, &err), MG_OK);

	assert_int_equal(mg_pricing_override(&t, "aws-s3", "egress.tiers.0.price",
					     0.05, msg, sizeof(msg)), 0);
	assert_int_equal(mg_estimate_compute(&t, &in, &out, msg, sizeof(msg)), 0);
	near(out.cost[MG_COST_EGRESS], 500);
	/* with units, converted to the table's */
	assert_int_equal(mg_pricing_override_str(&t, "aws-s3", "egress.tiers.0.price",
						 "$40/TB", msg, sizeof(msg)), 0);
	assert_int_equal(mg_estimate_compute(&t, &in, &out, msg, sizeof(msg)), 0);
	near(out.cost[MG_COST_EGRESS], 400);
	assert_int_equal(mg_pricing_override_str(&t, "aws-s3", "egress.free",
						 "1TB", msg, sizeof(msg)), 0);
	assert_int_equal(mg_estimate_compute(&t, &in, &out, msg, sizeof(msg)), 0);
	near(out.cost[MG_COST_EGRESS], 9100 * 0.04);
	assert_int_equal(mg_pricing_override_str(&t, "aws-s3", "requests.classes.tier1",
						 "4/million", msg, sizeof(msg)), 0);
	near(mg_price_requests(mg_pricing_find(&t, "aws-s3", NULL), MG_REQ_PUT, 1000), 0.004);
	assert_int_equal(mg_pricing_override_str(&t, "wasabi", "storage.min_days",
						 "30d", msg, sizeof(msg)), 0);
	near(mg_pricing_find(&t, "wasabi", NULL)->storage.min_days, 30);
	assert_int_equal(mg_pricing_override_str(&t, "gcs", "storage.tiers.0.price",
						 "0.02/GiB-month", msg, sizeof(msg)), 0);
	near(mg_pricing_find(&t, "gcs", NULL)->storage.tiers.t[0].price, 0.02);

	/* a provider's override reaches its storage classes where they
	 * share the value, not where they set their own */
	assert_int_equal(mg_pricing_override(&t, "cloudflare-r2", "retrieval",
					     0.5, msg, sizeof(msg)), 0);
	near(mg_pricing_find(&t, "cloudflare-r2", NULL)->retrieval, 0.5);
	assert_int_equal(mg_pricing_override(&t, "cloudflare-r2", "requests.classes.A",
					     4.0, msg, sizeof(msg)), 0);
	near(mg_price_requests(mg_pricing_find(&t, "cloudflare-r2", "InfrequentAccess"),
			       MG_REQ_PUT, 1), 9.0);
	assert_int_equal(mg_pricing_override(&t, "cloudflare-r2", "storage.tiers.0.price",
					     0.012, msg, sizeof(msg)), 0);
	near(mg_pricing_find(&t, "cloudflare-r2", "InfrequentAccess")->storage.tiers.t[0].price,
	     0.01);
	assert_int_equal(mg_pricing_override(&t, "cloudflare-r2/InfrequentAccess",
					     "retrieval", 0.02, msg, sizeof(msg)), 0);
	near(mg_pricing_find(&t, "cloudflare-r2", "InfrequentAccess")->retrieval, 0.02);

	/* wrong units and wrong keys */
	assert_int_equal(mg_pricing_override_str(&t, "aws-s3", "requests.classes.tier1",
						 "0.05/GB", msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "price per 1000 requests"));
	assert_int_equal(mg_pricing_override_str(&t, "aws-s3", "egress.tiers.0.price",
						 "0.05/GB-month", msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "price per GB of data"));
	assert_int_equal(mg_pricing_override_str(&t, "aws-s3", "storage.tiers.0.price",
						 "0.02/GB", msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "storage price per GB-month"));
	assert_int_equal(mg_pricing_override_str(&t, "aws-s3", "storage.min_days",
						 "90GB", msg, sizeof(msg)), -1);
	assert_int_equal(mg_pricing_override_str(&t, "aws-s3", "egress.free",
						 "-5", msg, sizeof(msg)), -1);
	assert_int_equal(mg_pricing_override_str(&t, "aws-s3", "egress.tiers.9.price",
						 "0.01", msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "4 tiers (0..3)"));
	assert_int_equal(mg_pricing_override(&t, "aws-s3", "egress.tier.0.price",
					     0.01, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "unknown price key"));
	assert_int_equal(mg_pricing_override(&t, "wasabi", "requests.classes.A",
					     0.01, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "requests are free"));
	assert_int_equal(mg_pricing_override(&t, "s4", "retrieval", 0.01, msg,
					     sizeof(msg)), -1);
	assert_non_null(strstr(msg, "known providers are aws-s3"));
	mg_pricing_release(&t);
}

/* ------------------------------------------------------------ table errors */

static void load_fails(const char *yaml, const char *want)
{
	struct mg_pricing t;
	struct mg_error err = { 0 };

	assert_int_equal(mg_pricing_load_string("p.yaml", yaml, strlen(yaml), &t, &err),
			 MG_FAILED);
	if (!strstr(err.msg, want)) {
		print_error("got '%s', want '%s'\n", err.msg, want);
		fail();
	}
	mg_pricing_release(&t);
}

static void test_table_errors(void **state)
{
	struct mg_pricing t;
	struct mg_error err = { 0 };
	static const char ok[] =
		"version: 1\n"
		"providers:\n"
		"  x:\n"
		"    source: s\n"
		"    as_of: 2026\n"
		"    unit: GB\n"
		"    storage: { tiers: [ { price: 1/TB-month } ] }\n";

	(void)state;
	assert_int_equal(mg_pricing_load_string("p.yaml", ok, strlen(ok), &t, &err), MG_OK);
	near(t.p[0].storage.tiers.t[0].price, 0.001);
	mg_pricing_release(&t);

	load_fails("version: 1\nproviders:\n  x:\n    source: s\n    as_of: 2026\n"
		   "    unit: GB\n    egress: { tiers: [ { price: 0.05/GB-month } ] }\n",
		   "p.yaml:7:33: '0.05/GB-month' is not a price per GB of data");
	load_fails("version: 1\nproviders:\n  x:\n    source: s\n    as_of: 2026\n"
		   "    unit: GB\n    storage: { tierz: [] }\n",
		   "p.yaml:7:16: unknown key 'tierz' in 'storage'");
	load_fails("version: 1\nproviders:\n  x:\n    source: s\n    unit: GB\n",
		   "p.yaml:3:3: provider 'x' needs 'source' and 'checked'");
	load_fails("version: 1\nproviders:\n  x:\n    source: s\n    as_of: 1\n"
		   "    unit: MB\n", "p.yaml:6:11: 'unit' is GB");
	load_fails("version: 1\nproviders:\n  x:\n    source: s\n    as_of: 1\n    unit: GB\n"
		   "    egress: { tiers: [ { upto: 10, price: 1 }, { upto: 5, price: 1 }, { price: 1 } ] }\n",
		   "'upto' must grow");
	load_fails("version: 1\nproviders:\n  x:\n    source: s\n    as_of: 1\n    unit: GB\n"
		   "    requests:\n      classes: { A: 1 }\n      map: { list: A }\n",
		   "does not say where 'head' requests go");
	load_fails("version: 1\nproviders:\n  x:\n    source: s\n    as_of: 1\n    unit: GB\n"
		   "    requests:\n      classes: { A: 1 }\n      map: { list: B }\n",
		   "p.yaml:9:20: 'B' is not a request class of this provider");
	load_fails("version: 2\nproviders: {}\n", "p.yaml:1:10: this migrate reads");
	load_fails("version: 1\nproviders: [\n", "p.yaml:");
	load_fails("", "empty");
}

/* Issue 13.7: the price table has the plan's nesting guard: 100,000
 * levels are refused in well under a second, at the 65th. */
static void test_table_deep_nesting(void **state)
{
	const size_t depth = 100000;
	char *yaml = malloc(depth + 64);
	struct timespec t0, t1;
	struct mg_pricing t;
	struct mg_error err = { 0 };
	double dt;
	size_t n;

	(void)state;
	n = (size_t)sprintf(yaml, "version: 1\nproviders: ");
	memset(yaml + n, '[', depth);
	yaml[n + depth] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(mg_pricing_load_string("p.yaml", yaml, strlen(yaml), &t, &err),
			 MG_FAILED);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	dt = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* the root mapping is level 1, so the 64th '[' opens level 65 */
	assert_string_equal(err.msg,
			    "p.yaml:2:75: nesting deeper than 64 levels: is it the right file?");
	print_message("# 100000 levels refused in %.3f s\n", dt);
	assert_true(dt < 1.0);
	mg_pricing_release(&t);
	free(yaml);
}

static void test_locate(void **state)
{
	struct mg_error err = { 0 };
	char *p;

	(void)state;
	p = mg_pricing_locate("/some/where.yaml", NULL, &err);
	assert_string_equal(p, "/some/where.yaml");
	free(p);
	/* without a plan's file: the installed copy, else the source tree */
	p = mg_pricing_locate(NULL, NULL, &err);
	assert_non_null(p);
	assert_non_null(strstr(p, "pricing.yaml"));
	free(p);
}

/* ------------------------------------------------------------ time */

/* 2026-11-23 is a Monday. */
static time_t at(int mday, int hour, int min, int sec)
{
	struct tm tm = { .tm_year = 126, .tm_mon = 10, .tm_mday = mday,
			 .tm_hour = hour, .tm_min = min, .tm_sec = sec };

	return timegm(&tm);
}

static void test_transfer_seconds(void **state)
{
	struct mg_bw_window w[2];

	(void)state;
	near(mg_transfer_seconds(0, 0, NULL, 0, 0, 0), 0);
	near(mg_transfer_seconds(GB, 1000000, NULL, 0, 0, 0), 1000);
	near(mg_transfer_seconds(GB, 0, NULL, 0, 0, 0), -1);	/* unlimited, link unknown */
	near(mg_transfer_seconds(GB, 0, NULL, 0, 100000000, 0), 10);
	near(mg_transfer_seconds(GB, 1000000, NULL, 0, 500000, 0), 2000);	/* link slower */

	/* office hours at 1 MB/s, otherwise 10 MB/s: from Monday 08:00 the
	 * whole ten hours at 1 MB/s, then ten minutes at 10 MB/s */
	assert_int_equal(mg_parse_window("mon-fri 08:00-18:00", &w[0]), 0);
	w[0].rate = 1000000;
	near(mg_transfer_seconds(36000ULL * 1000000 + 600ULL * 10000000, 10000000, w, 1, 0,
				 at(23, 8, 0, 0)), 36600);
	/* the same bytes from Saturday: all at 10 MB/s */
	near(mg_transfer_seconds(36000ULL * 1000000 + 600ULL * 10000000, 10000000, w, 1, 0,
				 at(28, 8, 0, 0)), 4200);

	/* a window past midnight, started on Sunday: Sunday 23:00 to
	 * Monday 06:00 is seven hours at 2 MB/s */
	assert_int_equal(mg_parse_window("sun 22:00-06:00", &w[0]), 0);
	w[0].rate = 2000000;
	near(mg_transfer_seconds(7ULL * 3600 * 2000000, 1000000, w, 1, 0,
				 at(29, 23, 0, 0)), 7 * 3600);
	/* and the hour after 06:00 on Monday is outside it */
	near(mg_transfer_seconds(7ULL * 3600 * 2000000 + 3600ULL * 1000000, 1000000, w, 1, 0,
				 at(29, 23, 0, 0)), 8 * 3600);

	/* whole weeks skipped: weekdays 1 MB/s, weekends 0.5 MB/s; two weeks
	 * and one more hour of Monday */
	assert_int_equal(mg_parse_window("sat,sun", &w[0]), 0);
	w[0].rate = 500000;
	{
		uint64_t week = 5ULL * 86400 * 1000000 + 2ULL * 86400 * 500000;

		near(mg_transfer_seconds(2 * week + 3600ULL * 1000000, 1000000, w, 1, 0,
					 at(23, 0, 0, 0)), 2 * 7 * 86400 + 3600);
		/* started on Saturday noon the weekend comes first */
		near(mg_transfer_seconds(week, 1000000, w, 1, 0, at(28, 12, 0, 0)),
		     7 * 86400);
	}

	/* a start in the middle of a minute */
	assert_int_equal(mg_parse_window("mon 08:00-08:01", &w[0]), 0);
	w[0].rate = 2000000;
	near(mg_transfer_seconds(2000000ULL * 30 + 1000000ULL * 60, 1000000, w, 1, 0,
				 at(23, 8, 0, 30)), 90);

	/* first match wins */
	assert_int_equal(mg_parse_window("daily 00:00-24:00", &w[0]), 0);
	assert_int_equal(mg_parse_window("mon 00:00-24:00", &w[1]), 0);
	w[0].rate = 4000000;
	w[1].rate = 1000000;
	near(mg_transfer_seconds(4000000ULL * 100, 1, w, 2, 0, at(23, 0, 0, 0)), 100);

	/* an unlimited stretch with no known link: unknown; with one: timed */
	assert_int_equal(mg_parse_window("sat", &w[0]), 0);
	w[0].rate = 0;
	near(mg_transfer_seconds(1000000ULL * 120, 1000000, w, 1, 0, at(27, 23, 59, 0)), -1);
	near(mg_transfer_seconds(1000000ULL * 120, 1000000, w, 1, 10000000,
				 at(27, 23, 59, 0)), 66);
	/* ... but a move that ends before it is timed */
	near(mg_transfer_seconds(1000000ULL * 30, 1000000, w, 1, 0, at(27, 23, 59, 0)), 30);
}

static void test_estimate_duration(void **state)
{
	struct mg_bw_window w;
	struct mg_estimate_in in = { .source_provider = "local", .target_provider = "local",
				     .source_read_bytes = 36000ULL * 1000000 };
	struct mg_estimate_out out;

	(void)state;
	assert_int_equal(mg_parse_window("mon-fri 08:00-18:00", &w), 0);
	w.rate = 1000000;
	in.bandwidth = 10000000;
	in.timetable = &w;
	in.ntimetable = 1;
	in.start = at(23, 8, 0, 0);
	compute(&in, &out);
	near(out.duration_s, 36000);
	near(out.total, 0);
}

static void test_provider_of_and_fill(void **state)
{
	struct mg_plan plan;
	struct mg_endpoint target;
	struct mg_counters src = { .bytes_read = 5 * GB }, dst = { .bytes_written = 5 * GB };
	struct mg_estimate_in in = { 0 };
	struct mg_bw_window w;

	char msg[256];

	(void)state;
	memset(&plan, 0, sizeof(plan));
	memset(&target, 0, sizeof(target));
	assert_int_equal(mg_endpoint_parse_url(&plan.source, "/srv/x", msg, sizeof(msg)), 0);
	assert_string_equal(mg_pricing_provider_of(&plan.source), "local");
	assert_int_equal(mg_endpoint_parse_url(&plan.source, "tar+sftp://h/x.tar", msg, sizeof(msg)), 0);
	assert_string_equal(mg_pricing_provider_of(&plan.source), "sftp");
	assert_int_equal(mg_endpoint_parse_url(&plan.source, "s3://b/p", msg, sizeof(msg)), 0);
	assert_string_equal(mg_pricing_provider_of(&plan.source), "aws-s3");
	assert_int_equal(mg_endpoint_set(&plan.source, "endpoint", "https://s3.us-west-004.backblazeb2.com", msg, sizeof(msg)), 0);
	assert_string_equal(mg_pricing_provider_of(&plan.source), "backblaze-b2");
	assert_int_equal(mg_endpoint_set(&plan.source, "endpoint", "https://acct.r2.cloudflarestorage.com:443/", msg, sizeof(msg)), 0);
	assert_string_equal(mg_pricing_provider_of(&plan.source), "cloudflare-r2");
	assert_int_equal(mg_endpoint_set(&plan.source, "endpoint", "http://127.0.0.1:9000", msg, sizeof(msg)), 0);
	assert_null(mg_pricing_provider_of(&plan.source));
	assert_int_equal(mg_endpoint_set(&plan.source, "provider", "minio", msg, sizeof(msg)), 0);
	assert_string_equal(mg_pricing_provider_of(&plan.source), "minio");

	plan.source.stored_bytes = 7 * GB;
	assert_int_equal(mg_parse_window("sat,sun", &w), 0);
	plan.transfer.bandwidth = 1000000;
	plan.transfer.timetable = &w;
	plan.transfer.ntimetable = 1;
	assert_int_equal(mg_endpoint_parse_url(&target, "s3://t/", msg, sizeof(msg)), 0);
	assert_int_equal(mg_endpoint_set(&target, "endpoint", "https://s3.eu-central-2.wasabisys.com", msg, sizeof(msg)), 0);
	assert_int_equal(mg_endpoint_set(&target, "storage_class", "STANDARD", msg, sizeof(msg)), 0);
	src.req[MG_REQ_GET] = 12;
	dst.req[MG_REQ_PUT] = 12;
	mg_estimate_in_fill(&in, &plan, &target, &src, &dst);
	assert_string_equal(in.source_provider, "minio");
	assert_string_equal(in.target_provider, "wasabi");
	assert_string_equal(in.target_class, "STANDARD");
	assert_int_equal(in.source_stored_bytes, 7 * GB);
	assert_int_equal(in.source_read_bytes, 5 * GB);
	assert_int_equal(in.source_req[MG_REQ_GET], 12);
	assert_int_equal(in.target_req[MG_REQ_PUT], 12);
	assert_int_equal(in.bandwidth, 1000000);
	assert_ptr_equal(in.timetable, &w);
	mg_endpoint_release(&target);
	mg_endpoint_release(&plan.source);
}

/* ------------------------------------------------------------ rules (18.7):
 * R2's monthly free tier and its rounding per billing month, Wasabi's
 * base-2 units and minimums, minimum durations from the ages of what a
 * sync deletes or overwrites, and what the estimate refuses to price */

#define DAY 86400

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
		cmocka_unit_test(test_table_complete),
		cmocka_unit_test(test_aws_egress_tiers),
		cmocka_unit_test(test_gcs_gib),
		cmocka_unit_test(test_b2_three_times_stored),
		cmocka_unit_test(test_b2_storage_free_10gb),
		cmocka_unit_test(test_wasabi_rules),
		cmocka_unit_test(test_r2_rounding),
		cmocka_unit_test(test_r2_infrequent_access),
		cmocka_unit_test(test_request_classes),
		cmocka_unit_test(test_aws_storage_tiers),
		cmocka_unit_test(test_unknown_provider),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_table_errors),
		cmocka_unit_test(test_table_deep_nesting),
		cmocka_unit_test(test_locate),
		cmocka_unit_test(test_transfer_seconds),
		cmocka_unit_test(test_estimate_duration),
		cmocka_unit_test(test_provider_of_and_fill),
		cmocka_unit_test(test_r2_free_tier_and_month),
		cmocka_unit_test(test_wasabi_base2_and_4k),
		cmocka_unit_test(test_early_delete_from_ages),
		cmocka_unit_test(test_unknown_class_refused),
		cmocka_unit_test(test_unknown_endpoint_refused),
		cmocka_unit_test(test_b2_classes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
