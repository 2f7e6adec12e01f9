/*
 * units.c - the strict parsers for sizes, rates, durations and bandwidth
 * windows that plan values go through (declared in plan.h).
 *
 * Strict means: the whole string is consumed, no sign, no leading or
 * trailing blanks, overflow is an error rather than a wrapped number.  A
 * plan that says "part_size: 64MB/s" must fail at load time, not upload
 * with a part size nobody asked for.
 *
 * A fraction needs a multiplier ("1.5GiB", not "1.5B"); the result is
 * rounded down to whole bytes.
 *
 * Case rule: the multiplier letter (k, M, G, T) may be written in either
 * case and the binary "i" too, but the unit letter B (byte) is always
 * uppercase.  A lowercase b means bits, which only make sense in a rate:
 * "Mb/s" and "Mbit/s" are megabits per second, "MB/s" megabytes.
 */
#include "config.h"

#include <time.h>

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include "plan.h"

/* Largest number of fraction digits we keep: more cannot change a 64-bit
 * result once multiplied by at most 2^40 and divided by 10^18. */
#define FRAC_DIGITS_MAX 18

/*
 * Reads "123" or "1.25" at *s.  The integer part goes to *ip, the fraction
 * as digits/10^ndig.  Returns -1 when there is no digit before the point,
 * no digit after it, or the integer part overflows.
 */
static int read_decimal(const char **s, uint64_t *ip, uint64_t *frac,
			int *ndig)
{
	const char *p = *s;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p)) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		p++;
	}
	*ip = v;
	*frac = 0;
	*ndig = 0;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p)) {
			if (*ndig < FRAC_DIGITS_MAX) {
				*frac = *frac * 10 + (uint64_t)(*p - '0');
				(*ndig)++;
			}
			p++;
		}
	}
	*s = p;
	return 0;
}

/* (ip + frac/10^ndig) * mult / div, rounded down; -1 on overflow. */
static int scale(uint64_t ip, uint64_t frac, int ndig, uint64_t mult,
		 uint64_t div, uint64_t *out)
{
	unsigned __int128 v, pow10 = 1;

	for (int i = 0; i < ndig; i++)
		pow10 *= 10;
	v = (unsigned __int128)ip * mult;
	v += (unsigned __int128)frac * mult / pow10;
	v /= div;
	if (v > UINT64_MAX)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

/*
 * Reads a multiplier prefix: "" or k/M/G/T with an optional "i".  Sets
 * *mult and advances *s.
 */
static void read_prefix(const char **s, uint64_t *mult)
{
	static const char letters[] = "kmgt";
	const char *p = *s;
	const char *l = *p ? strchr(letters, tolower((unsigned char)*p)) : NULL;

	*mult = 1;
	if (!l)
		return;
	p++;
	if (*p == 'i' || *p == 'I') {
		*mult = (uint64_t)1 << (10 * (l - letters + 1));
		p++;
	} else {
		*mult = 1;
		for (long i = 0; i <= l - letters; i++)
			*mult *= 1000;
	}
	*s = p;
}

static const char *skip_spaces(const char *p)
{
	while (*p == ' ')
		p++;
	return p;
}

int mg_parse_size(const char *s, uint64_t *out)
{
	uint64_t ip, frac, mult = 1;
	int ndig;
	const char *p = s, *num_end;

	if (!s || read_decimal(&p, &ip, &frac, &ndig) < 0)
		return -1;
	num_end = p;
	p = skip_spaces(p);
	if (*p == '\0') {
		if (p != num_end)	/* "64 " */
			return -1;
	} else {
		read_prefix(&p, &mult);
		if (strcmp(p, "B") != 0)
			return -1;
	}
	if (ndig && mult == 1)	/* "1.5B": no half bytes */
		return -1;
	return scale(ip, frac, ndig, mult, 1, out);
}

int mg_parse_rate(const char *s, uint64_t *bytes_per_s)
{
	uint64_t ip, frac, mult = 1, div = 1, v;
	int ndig;
	const char *p = s;

	if (!s)
		return -1;
	/* "0" as for durations: no unit needed to say "no limit" */
	if (strcmp(s, "unlimited") == 0 || strcmp(s, "0") == 0) {
		*bytes_per_s = 0;
		return 0;
	}
	if (read_decimal(&p, &ip, &frac, &ndig) < 0)
		return -1;
	p = skip_spaces(p);
	read_prefix(&p, &mult);
	if (strcmp(p, "B/s") == 0) {
		div = 1;
	} else if (strcmp(p, "b/s") == 0 || strcmp(p, "bit/s") == 0) {
		div = 8;
	} else {
		return -1;
	}
	if (ndig && mult == 1)
		return -1;
	if (scale(ip, frac, ndig, mult, div, &v) < 0)
		return -1;
	/* 0 means unlimited: "1bit/s" must not silently become that */
	if (v == 0 && (ip || frac))
		return -1;
	*bytes_per_s = v;
	return 0;
}

int mg_parse_duration(const char *s, int64_t *seconds)
{
	static const struct { char unit; int64_t secs; } units[] = {
		{ 'w', 7 * 86400 }, { 'd', 86400 }, { 'h', 3600 },
		{ 'm', 60 }, { 's', 1 },
	};
	const char *p = s;
	int64_t total = 0;
	size_t next = 0;	/* units must come largest first, each once */

	if (!s || !*s)
		return -1;
	if (strcmp(s, "0") == 0) {
		*seconds = 0;
		return 0;
	}
	while (*p) {
		int64_t v = 0;
		size_t u;

		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p)) {
			int d = *p - '0';

			if (v > (INT64_MAX - d) / 10)
				return -1;
			v = v * 10 + d;
			p++;
		}
		for (u = next; u < sizeof(units) / sizeof(units[0]); u++)
			if (units[u].unit == *p)
				break;
		if (u == sizeof(units) / sizeof(units[0]))
			return -1;
		if (v > INT64_MAX / units[u].secs ||
		    total > INT64_MAX - v * units[u].secs)
			return -1;
		total += v * units[u].secs;
		next = u + 1;
		p++;
	}
	*seconds = total;
	return 0;
}

static const char *const day_names[] = {
	"mon", "tue", "wed", "thu", "fri", "sat", "sun"
};

/* Reads a three-letter day name; returns 0..6 or -1. */
static int read_day(const char **s)
{
	for (int i = 0; i < 7; i++) {
		if (strncasecmp(*s, day_names[i], 3) == 0 &&
		    !isalpha((unsigned char)(*s)[3])) {
			*s += 3;
			return i;
		}
	}
	return -1;
}

/* Reads "HH:MM"; 24:00 only when allow24.  Returns minutes or -1. */
static int read_time(const char **s, int allow24)
{
	const char *p = *s;
	int h, m;

	if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) ||
	    p[2] != ':' || !isdigit((unsigned char)p[3]) ||
	    !isdigit((unsigned char)p[4]))
		return -1;
	h = (p[0] - '0') * 10 + (p[1] - '0');
	m = (p[3] - '0') * 10 + (p[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (m != 0 || !allow24)))
		return -1;
	*s = p + 5;
	return h * 60 + m;
}

int mg_parse_window(const char *s, struct mg_bw_window *w)
{
	const char *p = s;
	unsigned days = 0;

	if (!s)
		return -1;
	if (strncasecmp(p, "daily", 5) == 0 &&
	    (p[5] == '\0' || p[5] == ' ')) {
		days = 0x7f;
		p += 5;
	} else {
		for (;;) {
			int a = read_day(&p), b;

			if (a < 0)
				return -1;
			b = a;
			if (*p == '-') {
				p++;
				b = read_day(&p);
				if (b < 0)
					return -1;
			}
			/* "fri-mon" wraps over the weekend */
			for (int d = a;; d = (d + 1) % 7) {
				days |= 1u << d;
				if (d == b)
					break;
			}
			if (*p != ',')
				break;
			p++;
		}
	}
	if (*p == '\0') {
		/* days alone: the whole day */
		w->days = days;
		w->start_min = 0;
		w->end_min = 24 * 60;
		w->rate = 0;
		return 0;
	}
	if (*p != ' ')
		return -1;
	p = skip_spaces(p);
	{
		int start = read_time(&p, 0), end;

		if (start < 0 || *p++ != '-')
			return -1;
		end = read_time(&p, 1);
		if (end < 0 || *p || end == start)
			return -1;
		w->days = days;
		w->start_min = start;
		w->end_min = end;
		w->rate = 0;
	}
	return 0;
}

int mg_bw_window_match(const struct mg_bw_window *w, int day, int min)
{
	int prev = (day + 6) % 7;

	if (w->start_min < w->end_min)
		return (w->days & (1u << day)) && min >= w->start_min &&
		       min < w->end_min;
	/* wraps past midnight: the evening of a listed day, or the morning
	 * after one */
	return ((w->days & (1u << day)) && min >= w->start_min) ||
	       ((w->days & (1u << prev)) && min < w->end_min);
}

uint64_t mg_bw_rate_at(uint64_t base, const struct mg_bw_window *w, size_t nw,
		       time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	for (size_t i = 0; i < nw; i++)
		if (mg_bw_window_match(&w[i], (tm.tm_wday + 6) % 7,
				       tm.tm_hour * 60 + tm.tm_min))
			return w[i].rate;
	return base;
}
