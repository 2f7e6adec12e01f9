/*
 * test_cron.c - cron expressions: parsing, and the next time one fires.
 *
 * Times are built in the local time zone the test sets (UTC, and New York
 * for the daylight-saving cases), as the daemon computes them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "daemon.h"

static void set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static time_t at(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { 0 };

	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

static void show(time_t t, char *out, size_t len)
{
	struct tm tm;

	if (t == (time_t)-1) {
		snprintf(out, len, "never");
		return;
	}
	localtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M:%S %a", &tm);
}

static void next_is(const char *expr, time_t after, time_t want)
{
	struct mg_cron c;
	char msg[256], a[64], g[64], w[64];
	time_t got;

	if (mg_cron_parse(expr, &c, msg, sizeof(msg)) < 0)
		fail_msg("'%s' rejected: %s", expr, msg);
	got = mg_cron_next(&c, after);
	if (got != want) {
		show(after, a, sizeof(a));
		show(got, g, sizeof(g));
		show(want, w, sizeof(w));
		fail_msg("'%s' after %s: got %s, want %s", expr, a, g, w);
	}
}

static void bad(const char *expr, const char *in_msg)
{
	struct mg_cron c;
	char msg[256] = "";

	if (mg_cron_parse(expr, &c, msg, sizeof(msg)) == 0)
		fail_msg("'%s' accepted", expr);
	if (!strstr(msg, in_msg))
		fail_msg("'%s': message '%s' does not say '%s'", expr, msg, in_msg);
}

static void test_every_15_minutes(void **state)
{
	(void)state;
	set_tz("UTC");
	next_is("*/15 * * * *", at(2026, 11, 26, 10, 7, 0), at(2026, 11, 26, 10, 15, 0));
	/* strictly after: a due time is not due again */
	next_is("*/15 * * * *", at(2026, 11, 26, 10, 15, 0), at(2026, 11, 26, 10, 30, 0));
	next_is("*/15 * * * *", at(2026, 11, 26, 10, 14, 59), at(2026, 11, 26, 10, 15, 0));
	next_is("*/15 * * * *", at(2026, 11, 26, 10, 59, 30), at(2026, 11, 26, 11, 0, 0));
	next_is("*/15 * * * *", at(2026, 12, 31, 23, 50, 0), at(2027, 1, 1, 0, 0, 0));
	next_is("* * * * *", at(2026, 11, 26, 10, 7, 0), at(2026, 11, 26, 10, 8, 0));
	next_is("* * * * *", at(2026, 11, 26, 10, 7, 59), at(2026, 11, 26, 10, 8, 0));
	/* 5/15: from 5 to the end, every 15; ranges with steps */
	next_is("5/15 * * * *", at(2026, 11, 26, 10, 50, 0), at(2026, 11, 26, 11, 5, 0));
	next_is("5/15 * * * *", at(2026, 11, 26, 10, 36, 0), at(2026, 11, 26, 10, 50, 0));
	next_is("1-10/3 * * * *", at(2026, 11, 26, 10, 7, 0), at(2026, 11, 26, 10, 10, 0));
	next_is("1-10/3 * * * *", at(2026, 11, 26, 10, 10, 0), at(2026, 11, 26, 11, 1, 0));
	next_is("0,30 */6 * * *", at(2026, 11, 26, 6, 30, 0), at(2026, 11, 26, 12, 0, 0));
}

static void test_office_hours(void **state)
{
	const char *e = "0 9-17 * * mon-fri";

	(void)state;
	set_tz("UTC");
	/* 2026-11-27 is a Friday */
	next_is(e, at(2026, 11, 27, 16, 0, 0), at(2026, 11, 27, 17, 0, 0));
	next_is(e, at(2026, 11, 27, 17, 0, 0), at(2026, 11, 30, 9, 0, 0));
	next_is(e, at(2026, 11, 28, 12, 0, 0), at(2026, 11, 30, 9, 0, 0));
	next_is(e, at(2026, 11, 30, 8, 59, 0), at(2026, 11, 30, 9, 0, 0));
	next_is(e, at(2026, 11, 30, 17, 0, 0), at(2026, 12, 1, 9, 0, 0));
	/* the same with numbers and upper-case names */
	next_is("0 9-17 * * 1-5", at(2026, 11, 27, 17, 0, 0), at(2026, 11, 30, 9, 0, 0));
	next_is("0 9-17 * * MON-FRI", at(2026, 11, 27, 17, 0, 0), at(2026, 11, 30, 9, 0, 0));
}

static void test_day_or_rule(void **state)
{
	(void)state;
	set_tz("UTC");
	/* both day fields restricted: the 13th OR a Friday */
	next_is("0 0 13 * fri", at(2026, 11, 26, 12, 0, 0), at(2026, 11, 27, 0, 0, 0));
	/* 2026-12-11 is a Friday, the 13th a Sunday */
	next_is("0 0 13 * fri", at(2026, 12, 11, 0, 0, 0), at(2026, 12, 13, 0, 0, 0));
	next_is("0 0 13 * fri", at(2026, 12, 13, 0, 0, 0), at(2026, 12, 18, 0, 0, 0));
	/* one of them '*': only the other counts */
	next_is("0 0 13 * *", at(2026, 11, 26, 12, 0, 0), at(2026, 12, 13, 0, 0, 0));
	next_is("0 0 * * fri", at(2026, 12, 11, 0, 0, 0), at(2026, 12, 18, 0, 0, 0));
	/* a field that starts with '*' counts as '*' (Vixie cron) */
	next_is("0 0 */1 * fri", at(2026, 12, 11, 0, 0, 0), at(2026, 12, 18, 0, 0, 0));
	/* Sunday is 0 and 7; ranges through 7 */
	next_is("0 0 * * 7", at(2026, 11, 26, 0, 0, 0), at(2026, 11, 29, 0, 0, 0));
	next_is("0 0 * * 0", at(2026, 11, 26, 0, 0, 0), at(2026, 11, 29, 0, 0, 0));
	next_is("0 0 * * sun", at(2026, 11, 26, 0, 0, 0), at(2026, 11, 29, 0, 0, 0));
	next_is("0 0 * * 6-7", at(2026, 11, 29, 0, 0, 0), at(2026, 12, 5, 0, 0, 0));
	next_is("0 0 * * 5-7", at(2026, 11, 26, 0, 0, 0), at(2026, 11, 27, 0, 0, 0));
}

static void test_months_and_leap_days(void **state)
{
	(void)state;
	set_tz("UTC");
	next_is("0 12 29 2 *", at(2026, 1, 1, 0, 0, 0), at(2028, 2, 29, 12, 0, 0));
	next_is("0 12 29 feb *", at(2028, 2, 29, 12, 0, 0), at(2032, 2, 29, 12, 0, 0));
	/* 2100 is not a leap year: eight years from 2096 */
	next_is("0 0 29 2 *", at(2096, 3, 1, 0, 0, 0), at(2104, 2, 29, 0, 0, 0));
	next_is("0 0 31 * *", at(2026, 4, 1, 0, 0, 0), at(2026, 5, 31, 0, 0, 0));
	next_is("0 0 1 jan,jul *", at(2026, 1, 1, 0, 0, 0), at(2026, 7, 1, 0, 0, 0));
	next_is("0 0 1 jul-aug *", at(2026, 8, 1, 0, 0, 0), at(2027, 7, 1, 0, 0, 0));
	next_is("0 0 31 4,5 *", at(2026, 1, 1, 0, 0, 0), at(2026, 5, 31, 0, 0, 0));
	/* the 30th of February never comes, unless a weekday may match */
	next_is("0 0 30 2 mon", at(2026, 11, 26, 0, 0, 0), at(2027, 2, 1, 0, 0, 0));
}

static void test_bad_expressions(void **state)
{
	(void)state;
	bad("60 * * * *", "minute");
	bad("* 24 * * *", "hour");
	bad("* * 0 * *", "day-of-month");
	bad("* * 32 * *", "day-of-month");
	bad("* * * 13 *", "month");
	bad("* * * 0 *", "month");
	bad("* * * * 8", "day-of-week");
	bad("*/0 * * * *", "step");
	bad("*/61 * * * *", "step");
	bad("* * * *", "5 fields");
	bad("* * * * * *", "5 fields");
	bad("", "5 fields");
	bad("5-1 * * * *", "backwards");
	bad("fri-mon * * * *", "minute");
	bad("* * * * fri-mon", "backwards");
	bad("foo * * * *", "minute");
	bad("1,,2 * * * *", "minute");
	bad("1, * * * *", "minute");
	bad("1- * * * *", "minute");
	bad("*/ * * * *", "minute");
	bad("** * * * *", "minute");
	bad("* * * * monday", "day-of-week");
	bad("* * * jan1 *", "month");
	bad("99999999999 * * * *", "minute");
	bad("0 0 30 2 *", "never fires");
	bad("0 0 31 4,6,9,11 *", "never fires");
}

/* Daylight saving is not promised to be exact, but it must neither hang
 * nor go backwards nor repeat a time. */
static void test_dst_does_not_break(void **state)
{
	static const char *const exprs[] = {
		"*/30 * * * *", "30 2 * * *", "0 1 * * *", "15 1-3 * * *", "* * * * *",
	};
	/* New York: spring forward 2026-03-08 02:00, fall back 2026-11-01 02:00 */
	const time_t starts[] = { at(2026, 3, 7, 22, 0, 0), at(2026, 10, 31, 22, 0, 0) };

	(void)state;
	set_tz("America/New_York");
	for (size_t s = 0; s < 2; s++)
		for (size_t e = 0; e < sizeof(exprs) / sizeof(exprs[0]); e++) {
			struct mg_cron c;
			char msg[256];
			time_t t = starts[s];

			if (mg_cron_parse(exprs[e], &c, msg, sizeof(msg)) < 0)
				fail_msg("'%s' rejected: %s", exprs[e], msg);
			for (int i = 0; i < 300; i++) {
				time_t n = mg_cron_next(&c, t);

				if (n <= t)
					fail_msg("'%s': %lld is not after %lld", exprs[e],
						 (long long)n, (long long)t);
				if (n - t > 3 * 86400)
					fail_msg("'%s': jumped %lld s", exprs[e],
						 (long long)(n - t));
				t = n;
			}
		}
	/* the day after the change the usual time is back */
	next_is("30 2 * * *", at(2026, 3, 8, 12, 0, 0), at(2026, 3, 9, 2, 30, 0));
	set_tz("UTC");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_15_minutes),
		cmocka_unit_test(test_office_hours),
		cmocka_unit_test(test_day_or_rule),
		cmocka_unit_test(test_months_and_leap_days),
		cmocka_unit_test(test_bad_expressions),
		cmocka_unit_test(test_dst_does_not_break),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
