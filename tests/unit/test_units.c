/*
 * test_units.c - the strict size, rate, duration and window parsers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "plan.h"

#define KiB 1024ULL
#define MiB (1024ULL * 1024)
#define GiB (1024ULL * 1024 * 1024)
#define TiB (1024ULL * 1024 * 1024 * 1024)

/* one check for the two unsigned parsers: WHAT names it in the message */
typedef int (*u64_parser)(const char *, uint64_t *);

static void u64_ok(const char *what, u64_parser parse, const char *s, uint64_t want)
{
	uint64_t v = 12345;

	if (parse(s, &v) != 0)
		fail_msg("%s '%s' rejected", what, s);
	if (v != want)
		fail_msg("%s '%s' = %llu, want %llu", what, s,
			 (unsigned long long)v, (unsigned long long)want);
}

static void u64_bad(const char *what, u64_parser parse, const char *s)
{
	uint64_t v = 0;

	if (parse(s, &v) == 0)
		fail_msg("%s '%s' accepted as %llu", what, s, (unsigned long long)v);
}

#define size_ok(s, want) u64_ok("size", mg_parse_size, (s), (want))
#define size_bad(s) u64_bad("size", mg_parse_size, (s))
#define rate_ok(s, want) u64_ok("rate", mg_parse_rate, (s), (want))
#define rate_bad(s) u64_bad("rate", mg_parse_rate, (s))

static void test_size_good(void **state)
{
	(void)state;
	size_ok("0", 0);
	size_ok("1024", 1024);
	size_ok("10 B", 10);
	size_ok("10B", 10);
	size_ok("1KB", 1000);
	size_ok("1kB", 1000);
	size_ok("1KiB", KiB);
	size_ok("512 KiB", 512 * KiB);
	size_ok("64MiB", 64 * MiB);
	size_ok("1MB", 1000000);
	size_ok("1GB", 1000000000);
	size_ok("1TB", 1000000000000ULL);
	size_ok("1.5GiB", GiB + GiB / 2);
	size_ok("0.5KiB", 512);
	size_ok("1.0009KB", 1000);	/* rounded down to whole bytes */
	size_ok("5TiB", 5 * TiB);
	size_ok("2 GiB", 2 * GiB);
	size_ok("18446744073709551615", UINT64_MAX);
	size_ok("16777215TiB", 16777215ULL * TiB);
}

static void test_size_bad(void **state)
{
	(void)state;
	size_bad("");
	size_bad("MiB");
	size_bad("-1");
	size_bad("+1");
	size_bad(" 1");
	size_bad("1 ");
	size_bad("1MiB ");
	size_bad("64MB/s");	/* a rate is not a size */
	size_bad("64Mb");	/* bits are for rates */
	size_bad("64mib");
	size_bad("64M");
	size_bad("64Mi");
	size_bad("1PB");
	size_bad("1.5");	/* a fraction needs a multiplier */
	size_bad("1.5B");
	size_bad(".5GiB");
	size_bad("1.GiB");
	size_bad("1,5GiB");
	size_bad("0x10");
	size_bad("1e3");
	size_bad("18446744073709551616");	/* 2^64 */
	size_bad("16777216TiB");		/* 2^64 bytes */
	size_bad("99999999999999999999999");
	size_bad("1 MiB B");
}

static void test_rate_good(void **state)
{
	(void)state;
	rate_ok("unlimited", 0);
	rate_ok("100MB/s", 100000000);
	rate_ok("100 MB/s", 100000000);
	rate_ok("20 MiB/s", 20 * MiB);
	rate_ok("800Mbit/s", 100000000);
	rate_ok("800Mb/s", 100000000);
	rate_ok("1.5Gbit/s", 187500000);
	rate_ok("8bit/s", 1);
	rate_ok("1B/s", 1);
	rate_ok("10KB/s", 10000);
	rate_ok("10kB/s", 10000);
	rate_ok("10KiB/s", 10 * KiB);
	rate_ok("1Kibit/s", 128);
	rate_ok("0B/s", 0);
	rate_ok("0", 0);	/* like a duration's "0": no limit */
}

static void test_rate_bad(void **state)
{
	(void)state;
	rate_bad("");
	rate_bad("100");	/* a unit is required */
	rate_bad("00");
	rate_bad("0.0");
	rate_bad("100MB");	/* a size, not a rate */
	rate_bad("100 MB /s");
	rate_bad("100MBps");
	rate_bad("-1MB/s");
	rate_bad("1bit/s");	/* rounds to 0 = unlimited: refused */
	rate_bad("0.5B/s");
	rate_bad("1.5B/s");
	rate_bad("Unlimited");
	rate_bad("100Mbit");
	rate_bad("100mbit/s/s");
	rate_bad("100xB/s");
	rate_bad("20000000TiB/s");	/* overflow */
	rate_bad("99999999999999999999B/s");
}

static void dur_ok(const char *s, int64_t want)
{
	int64_t v = 12345;

	if (mg_parse_duration(s, &v) != 0)
		fail_msg("duration '%s' rejected", s);
	if (v != want)
		fail_msg("duration '%s' = %lld, want %lld", s, (long long)v,
			 (long long)want);
}

static void dur_bad(const char *s)
{
	int64_t v = 0;

	if (mg_parse_duration(s, &v) == 0)
		fail_msg("duration '%s' accepted as %lld", s, (long long)v);
}

static void test_duration(void **state)
{
	(void)state;
	dur_ok("0", 0);
	dur_ok("45s", 45);
	dur_ok("15m", 900);
	dur_ok("2h", 7200);
	dur_ok("30d", 30 * 86400);
	dur_ok("1w", 7 * 86400);
	dur_ok("1h30m", 5400);
	dur_ok("1w2d3h4m5s", 7 * 86400 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
	dur_ok("90m", 5400);
	dur_ok("9223372036854775807s", INT64_MAX);
	dur_ok("15250284452471w", 15250284452471LL * 604800);

	dur_bad("");
	dur_bad("30");
	dur_bad("-5m");
	dur_bad("1.5h");
	dur_bad("30 d");
	dur_bad("30days");
	dur_bad("1H");
	dur_bad("30m1h");	/* largest first */
	dur_bad("1h1h");
	dur_bad("h");
	dur_bad("1h ");
	dur_bad("9223372036854775808s");
	dur_bad("15250284452472w");	/* overflows int64 seconds */
	dur_bad("9223372036854775807s1s");
}

static void win_ok(const char *s, unsigned days, int start, int end)
{
	struct mg_bw_window w = { 0, -1, -1, 99 };

	if (mg_parse_window(s, &w) != 0)
		fail_msg("window '%s' rejected", s);
	if (w.days != days || w.start_min != start || w.end_min != end)
		fail_msg("window '%s' = %#x %d-%d, want %#x %d-%d", s, w.days,
			 w.start_min, w.end_min, days, start, end);
}

static void win_bad(const char *s)
{
	struct mg_bw_window w;

	if (mg_parse_window(s, &w) == 0)
		fail_msg("window '%s' accepted", s);
}

static void test_window(void **state)
{
	(void)state;
	win_ok("mon-fri 08:00-18:00", 0x1f, 480, 1080);
	win_ok("sat,sun 00:00-24:00", 0x60, 0, 1440);
	win_ok("daily 22:00-06:00", 0x7f, 1320, 360);
	win_ok("Mon 09:30-10:00", 0x01, 570, 600);
	win_ok("fri-mon 20:00-23:59", 0x71, 1200, 1439);
	win_ok("mon,wed-thu,sun 01:00-02:00", 0x4d, 60, 120);
	win_ok("sat,sun", 0x60, 0, 1440);
	win_ok("daily", 0x7f, 0, 1440);
	win_ok("mon-fri", 0x1f, 0, 1440);
	win_ok("tue  07:00-08:00", 0x02, 420, 480);

	win_bad("");
	win_bad("monday 08:00-18:00");
	win_bad("mon-fri 8:00-18:00");
	win_bad("mon-fri 08:00-18:60");
	win_bad("mon-fri 24:00-06:00");	/* 24:00 only ends a window */
	win_bad("mon-fri 08:00-24:01");
	win_bad("mon-fri 25:00-26:00");
	win_bad("mon-fri 08:00-08:00");
	win_bad("mon-fri 08:00");
	win_bad("mon-fri 08:00-18:00 ");
	win_bad("mon-fri,08:00-18:00");
	win_bad("mon,,tue 08:00-09:00");
	win_bad("mon- 08:00-09:00");
	win_bad("weekdays 08:00-18:00");
	win_bad("08:00-18:00");
	win_bad("dailyx 08:00-18:00");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_good),
		cmocka_unit_test(test_size_bad),
		cmocka_unit_test(test_rate_good),
		cmocka_unit_test(test_rate_bad),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
