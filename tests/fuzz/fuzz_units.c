/*
 * fuzz_units.c - the unit parsers of plan values: mg_parse_size,
 * mg_parse_rate, mg_parse_duration and mg_parse_window (engine/plan/units.c).
 * The input (up to its first NUL) goes to all four.
 *
 * Properties: what a parser accepts it also accepts written back in its
 * plainest form ("N", "NB/s", "Ns") with the same value, so no accepted
 * string yields a number its own canonical form would not; an accepted
 * window has days in mon..sun, start and end within the day and apart;
 * matching it against every minute of the week is defined (UBSan).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plan.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, back[64];
	uint64_t v, v2;
	int64_t d, d2;
	struct mg_bw_window w;

	if (size > 4096)
		return 0;
	s = fuzz_cstr(data, size);

	if (mg_parse_size(s, &v) == 0) {
		snprintf(back, sizeof(back), "%" PRIu64, v);
		FUZZ_CHECK(mg_parse_size(back, &v2) == 0 && v2 == v,
			   "'%s' -> %" PRIu64 " but '%s' does not", s, v, back);
	}
	if (mg_parse_rate(s, &v) == 0 && v) {
		snprintf(back, sizeof(back), "%" PRIu64 "B/s", v);
		FUZZ_CHECK(mg_parse_rate(back, &v2) == 0 && v2 == v,
			   "'%s' -> %" PRIu64 " but '%s' does not", s, v, back);
	}
	if (mg_parse_duration(s, &d) == 0) {
		FUZZ_CHECK(d >= 0, "'%s' -> %" PRId64, s, d);
		snprintf(back, sizeof(back), "%" PRId64 "s", d);
		FUZZ_CHECK(mg_parse_duration(back, &d2) == 0 && d2 == d,
			   "'%s' -> %" PRId64 " but '%s' does not", s, d, back);
	}
	if (mg_parse_window(s, &w) == 0) {
		int hits = 0;

		FUZZ_CHECK(w.days && !(w.days & ~0x7fu), "'%s': days %#x", s, w.days);
		FUZZ_CHECK(w.start_min >= 0 && w.start_min < 24 * 60 &&
			   w.end_min >= 0 && w.end_min <= 24 * 60 &&
			   w.start_min != w.end_min,
			   "'%s': %d-%d", s, w.start_min, w.end_min);
		for (int day = 0; day < 7; day++)
			for (int min = 0; min < 24 * 60; min += 7)
				hits += mg_bw_window_match(&w, day, min);
		(void)hits;
	}
	free(s);
	return 0;
}
