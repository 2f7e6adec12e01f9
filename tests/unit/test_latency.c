/*
 * test_latency.c - the log-linear histogram: percentiles of known
 * distributions within the bound latency.h promises, merge, the
 * Prometheus buckets, and the per-class hooks of connector.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>
#include "connector.h"
#include "latency.h"

/* latency.h: a percentile is within 1/128 of the true value above
 * 128 us, exact (to the us) below. */
static void near(double got, double want)
{
	double bound = want * (1.0 / 128) + 1e-6;

	if (fabs(got - want) > bound)
		fail_msg("got %.9f s, want %.9f s (+-%.9f)", got, want, bound);
}

static struct mg_hist *hist_new(void)
{
	struct mg_hist *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	return h;
}

/* 1..N ms uniformly: the p-th percentile is p% of N ms. */
static void test_uniform(void **state)
{
	struct mg_hist *h = hist_new();
	(void)state;

	for (int i = 1; i <= 10000; i++)
		mg_hist_record(h, (int64_t)i * 1000000 / 10);	/* 0.1 ms .. 1 s */
	assert_int_equal(h->count, 10000);
	near(mg_hist_pct(h, 50), 0.5);
	near(mg_hist_pct(h, 90), 0.9);
	near(mg_hist_pct(h, 95), 0.95);
	near(mg_hist_pct(h, 99), 0.99);
	assert_true(mg_hist_pct(h, 100) == 1.0);	/* the max is exact */
	assert_true(mg_hist_max_s(h) == 1.0);
	near(mg_hist_sum_s(h), 10000.0 * 10001 / 2 * 1e-4);
	free(h);
}

/* Every value, from 1 us to 100 s in steps of 0.37%: each alone, its
 * percentile 100 is itself, P50 of it with a tiny one is the tiny one,
 * and nothing is off by more than the bound. */
static void test_error_bound(void **state)
{
	(void)state;
	for (double us = 1; us < 100e6; us *= 1.0037) {
		struct mg_hist *h = hist_new();
		int64_t ns = (int64_t)us * 1000;

		mg_hist_record(h, ns);
		mg_hist_record(h, ns);
		mg_hist_record(h, ns + 1000000000);	/* one far above */
		near(mg_hist_pct(h, 50), (double)(ns / 1000) / 1e6);
		free(h);
	}
}

/* A bimodal mix like the integration test's: 95% at 20 ms, 5% at 200 ms. */
static void test_bimodal(void **state)
{
	struct mg_hist *h = hist_new();
	(void)state;

	for (int i = 0; i < 1000; i++)
		mg_hist_record(h, (i % 20 == 7 ? 200 : 20) * 1000000LL);
	near(mg_hist_pct(h, 50), 0.020);
	near(mg_hist_pct(h, 90), 0.020);
	near(mg_hist_pct(h, 95), 0.020);
	near(mg_hist_pct(h, 99), 0.200);
	assert_int_equal(mg_hist_count_le(h, 0.025), 950);
	assert_int_equal(mg_hist_count_le(h, 0.1), 950);
	assert_int_equal(mg_hist_count_le(h, 0.25), 1000);
	assert_int_equal(mg_hist_count_le(h, 0.005), 0);
	free(h);
}

/* Two halves recorded apart and merged equal the whole. */
static void test_merge(void **state)
{
	struct mg_hist *a = hist_new(), *b = hist_new(), *all = hist_new();
	(void)state;

	srand(16);
	for (int i = 0; i < 20000; i++) {
		int64_t ns = (int64_t)(rand() % 5000000) * 1000;

		mg_hist_record(i & 1 ? a : b, ns);
		mg_hist_record(all, ns);
	}
	mg_hist_merge(a, b);
	assert_memory_equal(a, all, sizeof(*a));
	free(a);
	free(b);
	free(all);
}

static void test_empty_and_huge(void **state)
{
	struct mg_hist *h = hist_new();
	(void)state;

	assert_true(mg_hist_pct(h, 99) == 0);
	assert_int_equal(mg_hist_count_le(h, 1), 0);
	mg_hist_record(h, -5);				/* a clock step: 0 */
	mg_hist_record(h, 3600LL * 1000000000);	/* an hour: last bucket */
	assert_true(mg_hist_pct(h, 50) == 0);
	assert_true(mg_hist_pct(h, 100) == 3600.0);
	assert_true(sizeof(*h) < 12 * 1024);	/* fixed memory, a few KiB */
	free(h);
}

/* mg_count_time / mg_count_retry: the class's histogram, the object's own
 * times, and the counters' total retries. */
static void test_conn_hooks(void **state)
{
	struct mg_counters c;
	struct mg_req_times o;
	struct mg_conn conn;
	(void)state;

	memset(&c, 0, sizeof(c));
	memset(&o, 0, sizeof(o));
	memset(&conn, 0, sizeof(conn));
	c.lat = calloc(1, sizeof(*c.lat));
	assert_non_null(c.lat);
	conn.counters = &c;
	conn.obj_times = &o;
	mg_count_time(&conn, MG_REQ_HEAD, 20000000, 15000000);
	mg_count_time(&conn, MG_REQ_HEAD, 30000000, -1);
	mg_count_retry(&conn, MG_REQ_PUT);
	assert_int_equal(c.lat->total[MG_REQ_HEAD].count, 2);
	assert_int_equal(c.lat->ttfb[MG_REQ_HEAD].count, 1);
	assert_int_equal(c.lat->total[MG_REQ_GET].count, 0);
	assert_int_equal(c.lat->retries[MG_REQ_PUT], 1);
	assert_int_equal(c.retries, 1);
	assert_int_equal(o.n[MG_REQ_HEAD], 2);
	assert_int_equal(o.max_ns[MG_REQ_HEAD], 30000000);
	assert_int_equal(o.sum_ns[MG_REQ_HEAD], 50000000);
	assert_int_equal(o.retries[MG_REQ_PUT], 1);
	/* no latency set: counted nowhere, no crash */
	free(c.lat);
	c.lat = NULL;
	conn.obj_times = NULL;
	mg_count_time(&conn, MG_REQ_GET, 1, 1);
	mg_count_retry(&conn, MG_REQ_GET);
	assert_int_equal(c.retries, 2);
}

/* The protocol operations (SFTP, archives) are classes after the request
 * classes: named, timed, and never past the end. */
static void test_op_classes(void **state)
{
	struct mg_counters c;
	struct mg_req_times o;
	struct mg_conn conn;
	(void)state;

	assert_string_equal(mg_lat_name(MG_REQ_PUT), "put");
	assert_string_equal(mg_lat_name(MG_LAT_SFTP_OPEN), "sftp_open");
	assert_string_equal(mg_lat_name(MG_LAT_ARCHIVE_READ), "archive_read");
	assert_string_equal(mg_lat_name(MG_LAT_CLASSES), "unknown");
	assert_string_equal(mg_lat_name(-1), "unknown");
	memset(&c, 0, sizeof(c));
	memset(&o, 0, sizeof(o));
	memset(&conn, 0, sizeof(conn));
	c.lat = calloc(1, sizeof(*c.lat));
	assert_non_null(c.lat);
	conn.counters = &c;
	conn.obj_times = &o;
	mg_count_time(&conn, MG_LAT_SFTP_WRITE, 5000000, 1000000);
	mg_count_time(&conn, MG_LAT_CLASSES, 1, 1);	/* ignored */
	assert_int_equal(c.lat->total[MG_LAT_SFTP_WRITE].count, 1);
	assert_int_equal(c.lat->ttfb[MG_LAT_SFTP_WRITE].count, 1);
	assert_int_equal(o.n[MG_LAT_SFTP_WRITE], 1);
	for (int r = 0; r < MG_REQ__COUNT; r++)
		assert_int_equal(c.req[r], 0);	/* timed, not a billed request */
	free(c.lat);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uniform),
		cmocka_unit_test(test_error_bound),
		cmocka_unit_test(test_bimodal),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_empty_and_huge),
		cmocka_unit_test(test_conn_hooks),
		cmocka_unit_test(test_op_classes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
