/*
 * test_retention.c - Object Lock retention in the plan (issue 15.5): the
 * date arithmetic (leap years, the end of months, round trips through
 * the ISO 8601 text S3 takes) and the checks of `retention:` and
 * `legal_hold:`, each error word for word at its FILE:LINE:COL.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "plan.h"

static void test_parse_date(void **state)
{
	static const struct {
		const char *s;
		int64_t want;
	} good[] = {
		{ "1970-01-01", 0 },
		{ "1970-01-02T00:00:01Z", 86401 },
		{ "2000-02-29", 951782400 },		/* 2000 is a leap year (400) */
		{ "2000-03-01", 951868800 },
		{ "2024-02-29T23:59:59Z", 1709251199 },
		{ "2028-02-29", 1835395200 },
		{ "2038-01-19T03:14:08Z", 2147483648LL },	/* past 32 bits */
		{ "2099-12-31T23:59:59Z", 4102444799LL },
		{ "9999-12-31", 253402214400LL },
	};
	static const char *const bad[] = {
		"", "2026", "2026-1-01", "2026-01-1", "26-01-01", "2026/01/01",
		"2026-02-29",		/* not a leap year */
		"2100-02-29",		/* a century that is not one */
		"2026-04-31", "2026-06-31", "2026-09-31", "2026-11-31",
		"2026-13-01", "2026-00-10", "2026-01-00", "2026-01-32",
		"1969-12-31",		/* before the epoch */
		"2026-01-01T24:00:00Z", "2026-01-01T23:60:00Z", "2026-01-01T23:59:60Z",
		"2026-01-01T00:00:00",	/* no zone: local time is not a date */
		"2026-01-01T00:00:00+01:00", "2026-01-01 00:00:00Z",
		"2026-01-01T00:00:00.000Z", "2026-01-01Z", " 2026-01-01",
		"2026-01-01x", "+026-01-01", "2026-0a-01",
	};
	int64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = -1;
		if (mg_parse_date(good[i].s, &v) != 0 || v != good[i].want)
			fail_msg("'%s': got %lld, wanted %lld", good[i].s, (long long)v,
				 (long long)good[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (mg_parse_date(bad[i], &v) == 0)
			fail_msg("'%s' was taken as a date", bad[i]);
	assert_int_equal(mg_parse_date(NULL, &v), -1);
}

/* Every day from 1970 to 2400 at a few times of day: text and back
 * again, and the text agrees with the C library's gmtime_r. */
static void test_iso8601_round_trip(void **state)
{
	static const int64_t times[] = { 0, 1, 3599, 43200, 86399 };
	char out[24], libc[32];
	int64_t back;

	(void)state;
	for (int64_t day = 0; day < 157000; day += 1) {
		for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
			int64_t s = day * 86400 + times[i];
			time_t t = (time_t)s;
			struct tm tm;

			mg_date_iso8601(s, out);
			if (mg_parse_date(out, &back) != 0 || back != s)
				fail_msg("%lld -> '%s' -> %lld", (long long)s, out,
					 (long long)back);
			if (day % 97 == 0) {
				gmtime_r(&t, &tm);
				strftime(libc, sizeof(libc), "%Y-%m-%dT%H:%M:%SZ", &tm);
				assert_string_equal(out, libc);
			}
		}
	}
	mg_date_iso8601(1709251199, out);
	assert_string_equal(out, "2024-02-29T23:59:59Z");
}

static void test_until(void **state)
{
	struct mg_retention r = { MG_LOCK_GOVERNANCE, 30, 0, 0 };
	char msg[200], out[24];
	int64_t now = 1709164800;	/* 2024-02-29T00:00:00Z */

	(void)state;
	/* days: from the run's start, across the end of a leap February */
	assert_int_equal(mg_retention_until(&r, now), now + 30 * 86400);
	mg_date_iso8601(mg_retention_until(&r, now), out);
	assert_string_equal(out, "2024-03-30T00:00:00Z");
	r.days = 366;
	mg_date_iso8601(mg_retention_until(&r, now), out);
	assert_string_equal(out, "2025-03-01T00:00:00Z");
	r.days = MG_RETENTION_MAX_DAYS;
	mg_date_iso8601(mg_retention_until(&r, now), out);
	assert_string_equal(out, "2124-02-05T00:00:00Z");
	assert_int_equal(mg_retention_check(&r, now, msg, sizeof(msg)), 0);
	/* until: as written, checked against now */
	r.days = 0;
	r.until = now + 1;
	assert_int_equal(mg_retention_until(&r, now), now + 1);
	assert_int_equal(mg_retention_check(&r, now, msg, sizeof(msg)), 0);
	r.until = now;
	assert_int_equal(mg_retention_check(&r, now, msg, sizeof(msg)), -1);
	assert_string_equal(msg, "retention.until 2024-02-29T00:00:00Z has passed: S3 takes "
			    "a retain-until date in the future only; give a later date or 'days:'");
	/* none */
	r.mode = MG_LOCK_NONE;
	assert_int_equal(mg_retention_until(&r, now), 0);
	assert_int_equal(mg_retention_check(&r, now, msg, sizeof(msg)), 0);
}

static void test_text_and_force(void **state)
{
	char out[96];

	(void)state;
	mg_retention_text("GOVERNANCE", 1709251199, 0, out, sizeof(out));
	assert_string_equal(out, "GOVERNANCE until 2024-02-29T23:59:59Z");
	mg_retention_text("COMPLIANCE", 0, 1, out, sizeof(out));
	assert_string_equal(out, "COMPLIANCE until 1970-01-01T00:00:00Z, legal hold");
	mg_retention_text("", 0, 1, out, sizeof(out));
	assert_string_equal(out, "legal hold");
	mg_retention_text(NULL, 0, 0, out, sizeof(out));
	assert_string_equal(out, "");
	assert_true(mg_retention_in_force("GOVERNANCE", 100, 0, 99));
	assert_false(mg_retention_in_force("GOVERNANCE", 100, 0, 100));
	assert_true(mg_retention_in_force("", 0, 1, 100));
	assert_false(mg_retention_in_force("", 0, 0, 0));
	assert_string_equal(mg_lock_mode_name(MG_LOCK_GOVERNANCE), "GOVERNANCE");
	assert_string_equal(mg_lock_mode_name(MG_LOCK_COMPLIANCE), "COMPLIANCE");
	assert_null(mg_lock_mode_name(MG_LOCK_NONE));
	assert_int_equal(mg_lock_mode_parse("COMPLIANCE"), MG_LOCK_COMPLIANCE);
	assert_int_equal(mg_lock_mode_parse("compliance"), -1);
}

static int load(const char *tail, struct mg_plan *p, struct mg_error *e)
{
	char text[1024];

	snprintf(text, sizeof(text), "version: 1\nname: t\nsource: /a\n"
		 "target: s3://b/x/\n%s", tail);
	mg_error_clear(e);
	return mg_plan_load_string("/plans/t.yaml", text, strlen(text), p, e);
}

static void test_plan_keys(void **state)
{
	struct mg_plan p;
	struct mg_error e;

	(void)state;
	assert_int_equal(load("retention: { mode: GOVERNANCE, days: 30 }\n", &p, &e), MG_OK);
	assert_int_equal(p.retention.mode, MG_LOCK_GOVERNANCE);
	assert_int_equal(p.retention.days, 30);
	assert_int_equal(p.retention.until, 0);
	assert_int_equal(p.retention.legal_hold, 0);
	assert_int_equal(p.nwarnings, 0);
	mg_plan_release(&p);

	assert_int_equal(load("retention:\n  mode: COMPLIANCE\n  until: 2999-01-31\n"
			      "legal_hold: true\n", &p, &e), MG_OK);
	assert_int_equal(p.retention.mode, MG_LOCK_COMPLIANCE);
	assert_int_equal(p.retention.until, 32474736000LL);
	assert_int_equal(p.retention.legal_hold, 1);
	/* COMPLIANCE is for keeps: check says so where it is written */
	assert_int_equal(p.nwarnings, 1);
	assert_string_equal(p.warnings[0], "/plans/t.yaml:6:9: warning: retention mode "
			    "COMPLIANCE: nobody, not even the account's root user, can "
			    "delete these objects or shorten their retention before it ends");
	mg_plan_release(&p);

	/* a legal hold alone */
	assert_int_equal(load("legal_hold: yes\n", &p, &e), MG_OK);
	assert_int_equal(p.retention.mode, MG_LOCK_NONE);
	assert_int_equal(p.retention.legal_hold, 1);
	mg_plan_release(&p);
	assert_int_equal(load("\n", &p, &e), MG_OK);
	assert_int_equal(p.retention.mode, MG_LOCK_NONE);
	assert_int_equal(p.retention.legal_hold, 0);
	mg_plan_release(&p);
}

static void test_plan_errors(void **state)
{
	static const struct {
		const char *tail, *msg;
	} bad[] = {
		{ "retention: { days: 30 }\n",
		  "/plans/t.yaml:5:12: 'retention' needs 'mode': GOVERNANCE (a user with "
		  "s3:BypassGovernanceRetention may still delete) or COMPLIANCE (nobody may, "
		  "until the date)" },
		{ "retention: { mode: governance, days: 30 }\n",
		  "/plans/t.yaml:5:20: 'mode' must be GOVERNANCE or COMPLIANCE, got 'governance'" },
		{ "retention: { mode: GOVERNANCE }\n",
		  "/plans/t.yaml:5:12: 'retention' needs 'days' (kept that many days from the "
		  "run's start) or 'until' (a date)" },
		{ "retention:\n  mode: GOVERNANCE\n  days: 0\n",
		  "/plans/t.yaml:7:9: 'days' must be between 1 and 36500, got 0" },
		{ "retention:\n  mode: GOVERNANCE\n  days: 36501\n",
		  "/plans/t.yaml:7:9: 'days' must be between 1 and 36500, got 36501" },
		{ "retention:\n  mode: GOVERNANCE\n  days: 30d\n",
		  "/plans/t.yaml:7:9: 'days' must be an integer, got '30d'" },
		{ "retention:\n  mode: GOVERNANCE\n  days: 3\n  until: 2999-01-01\n",
		  "/plans/t.yaml:8:3: use either 'days' or 'until' in 'retention', not both" },
		{ "retention:\n  mode: GOVERNANCE\n  until: 2027-02-29\n",
		  "/plans/t.yaml:7:10: 'until': '2027-02-29' is not a date: write YYYY-MM-DD "
		  "(midnight UTC) or YYYY-MM-DDTHH:MM:SSZ" },
		{ "retention:\n  mode: GOVERNANCE\n  until: 2001-01-01T00:00:00Z\n",
		  "/plans/t.yaml:7:10: retention.until 2001-01-01T00:00:00Z has passed: S3 "
		  "takes a retain-until date in the future only; give a later date or 'days:'" },
		{ "retention:\n  mode: GOVERNANCE\n  day: 3\n",
		  "/plans/t.yaml:7:3: unknown key 'day' (did you mean 'days'?)" },
		{ "retention: 30d\n",
		  "/plans/t.yaml:5:12: 'retention' must be a mapping" },
		{ "legal_hold: maybe\n",
		  "/plans/t.yaml:5:13: 'legal_hold' must be true or false, got 'maybe'" },
	};
	struct mg_plan p;
	struct mg_error e;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(load(bad[i].tail, &p, &e), MG_OK);
		if (!strstr(e.msg, bad[i].msg))
			fail_msg("case %zu: got '%s', wanted '%s'", i, e.msg, bad[i].msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_date),
		cmocka_unit_test(test_iso8601_round_trip),
		cmocka_unit_test(test_until),
		cmocka_unit_test(test_text_and_force),
		cmocka_unit_test(test_plan_keys),
		cmocka_unit_test(test_plan_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
