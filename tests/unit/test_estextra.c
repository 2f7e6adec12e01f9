/*
 * test_estextra.c - the estimate's arithmetic of issue 18.5 worked out by
 * hand: the requests of a server-side copy at an S3 target (one CopyObject
 * up to 5 GiB; above it Create, one UploadPartCopy per 512 MiB part, parts
 * grown to stay within 10,000, Complete and a HEAD), the error rate as
 * written in a plan, and the retries it makes expected, priced.
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

#include "estextra.h"
#include "report.h"
#include "pricing_fixture.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static void copy_of(uint64_t size, uint64_t req[MG_REQ__COUNT])
{
	memset(req, 0, MG_REQ__COUNT * sizeof(req[0]));
	mg_copy_requests(size, MG_COPY_MAX_SINGLE, MG_COPY_PART_SIZE, MG_COPY_MAX_PARTS, req);
}

static void copy_single_up_to_5gib(void **state)
{
	uint64_t req[MG_REQ__COUNT];

	(void)state;
	copy_of(0, req);
	assert_int_equal(req[MG_REQ_COPY], 1);
	copy_of(5 * GiB, req);		/* the limit itself: one CopyObject */
	assert_int_equal(req[MG_REQ_COPY], 1);
	assert_int_equal(req[MG_REQ_MP_CREATE], 0);
	assert_int_equal(req[MG_REQ_HEAD], 0);
}

static void copy_multipart_above_5gib(void **state)
{
	uint64_t req[MG_REQ__COUNT];

	(void)state;
	copy_of(5 * GiB + 1, req);	/* 10 parts of 512 MiB and one byte */
	assert_int_equal(req[MG_REQ_MP_CREATE], 1);
	assert_int_equal(req[MG_REQ_COPY], 11);
	assert_int_equal(req[MG_REQ_MP_COMPLETE], 1);
	assert_int_equal(req[MG_REQ_HEAD], 1);
	assert_int_equal(req[MG_REQ_PUT] + req[MG_REQ_MP_PART], 0);
	copy_of(6 * GiB, req);		/* 12 whole parts */
	assert_int_equal(req[MG_REQ_COPY], 12);
	/* 5 TiB: 10,240 parts of 512 MiB is too many; parts grow to
	 * ceil(5 TiB / 10,000) and 10,000 of them are copied */
	copy_of(5ULL * 1024 * GiB, req);
	assert_int_equal(req[MG_REQ_COPY], 10000);
	assert_int_equal(req[MG_REQ_MP_CREATE], 1);
	/* the sum over objects: two big ones and a small one */
	memset(req, 0, sizeof(req));
	mg_copy_requests(6 * GiB, MG_COPY_MAX_SINGLE, MG_COPY_PART_SIZE, MG_COPY_MAX_PARTS, req);
	mg_copy_requests(1 * MiB, MG_COPY_MAX_SINGLE, MG_COPY_PART_SIZE, MG_COPY_MAX_PARTS, req);
	mg_copy_requests(10 * GiB, MG_COPY_MAX_SINGLE, MG_COPY_PART_SIZE, MG_COPY_MAX_PARTS, req);
	assert_int_equal(req[MG_REQ_COPY], 12 + 1 + 20);
	assert_int_equal(req[MG_REQ_MP_CREATE], 2);
	assert_int_equal(req[MG_REQ_MP_COMPLETE], 2);
	assert_int_equal(req[MG_REQ_HEAD], 2);
}

static void error_rate_text(void **state)
{
	char msg[300];
	double r = -1;

	(void)state;
	assert_int_equal(mg_error_rate_parse("0.01", &r, msg, sizeof(msg)), 0);
	assert_true(fabs(r - 0.01) < 1e-15);
	assert_int_equal(mg_error_rate_parse("2.5%", &r, msg, sizeof(msg)), 0);
	assert_true(fabs(r - 0.025) < 1e-15);
	assert_int_equal(mg_error_rate_parse("0", &r, msg, sizeof(msg)), 0);
	assert_true(r == 0);
	assert_int_equal(mg_error_rate_parse("0.6", &r, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "from 0 to 0.5"));
	assert_int_equal(mg_error_rate_parse("-1%", &r, msg, sizeof(msg)), -1);
	assert_int_equal(mg_error_rate_parse("often", &r, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "'often' is not a number"));
	assert_int_equal(mg_error_rate_parse("1%%", &r, msg, sizeof(msg)), -1);
}

static void expected_retries(void **state)
{
	(void)state;
	assert_int_equal(mg_expected_retries(1000, 0), 0);
	/* 1000 x 0.01 / 0.99 = 10.10 */
	assert_int_equal(mg_expected_retries(1000, 0.01), 10);
	/* 1000 x 0.5 / 0.5: as many retries as requests */
	assert_int_equal(mg_expected_retries(1000, 0.5), 1000);
	/* 3 x 0.2 / 0.8 = 0.75: rounds to 1 */
	assert_int_equal(mg_expected_retries(3, 0.2), 1);
	assert_int_equal(mg_expected_retries(1, 0.2), 0);
}

/* Retries priced: at AWS S3 PUTs are 0.005 USD per 1,000 and GETs 0.0004
 * per 1,000; 1,000,000 PUTs at 1% cost 10,101 more, 0.050505 USD. */
static void retries_priced(void **state)
{
	struct mg_pricing table;
	struct mg_scenario sc;
	char msg[300];
	const struct mg_price_provider *p;

	(void)state;
	assert_int_equal(pricing_fixture_load(&table), 0);
	memset(&sc, 0, sizeof(sc));
	sc.in.source_provider = "local";
	sc.in.target_provider = "aws-s3";
	sc.in.target_req[MG_REQ_PUT] = 1000000;
	sc.in.start = 0;
	assert_int_equal(mg_estimate_compute(&table, &sc.in, &sc.out, msg, sizeof(msg)), 0);
	assert_int_equal(mg_retries_compute(&table, &sc, 0.01, msg, sizeof(msg)), 0);
	assert_int_equal(sc.retries.dst[MG_REQ_PUT], 10101);
	assert_int_equal(sc.retries.src[MG_REQ_PUT], 0);
	p = mg_pricing_find(&table, "aws-s3", NULL);
	assert_non_null(p);
	assert_true(fabs(sc.retries.usd - mg_price_requests(p, MG_REQ_PUT, 10101)) < 1e-9);
	assert_true(sc.retries.usd > 0.05 && sc.retries.usd < 0.051);
	/* no rate: nothing expected, nothing priced */
	assert_int_equal(mg_retries_compute(&table, &sc, 0, msg, sizeof(msg)), 0);
	assert_int_equal(sc.retries.dst[MG_REQ_PUT], 0);
	assert_true(sc.retries.usd == 0);
	mg_pricing_release(&table);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(copy_single_up_to_5gib),
		cmocka_unit_test(copy_multipart_above_5gib),
		cmocka_unit_test(error_rate_text),
		cmocka_unit_test(expected_retries),
		cmocka_unit_test(retries_priced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
