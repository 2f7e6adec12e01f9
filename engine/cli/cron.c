/*
 * cron.c - 5-field cron expressions and the next time one fires.
 *
 * The plan loader only checks that `schedule.cron` has five fields of
 * cron characters; the ranges, names and steps are checked here, where
 * they are understood, and `migrate daemon` refuses a bad expression
 * before it starts.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "daemon.h"

struct field_def {
	const char *name;
	int min, max;
	const char *const *names;	/* names[i] stands for min + i */
};

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec", NULL
};
static const char *const day_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

static const struct field_def fields[5] = {
	{ "minute", 0, 59, NULL },
	{ "hour", 0, 23, NULL },
	{ "day-of-month", 1, 31, NULL },
	{ "month", 1, 12, month_names },
	/* 7 is Sunday too, as every cron accepts it */
	{ "day-of-week", 0, 7, day_names },
};

/* One number or name at *p; advances *p.  Returns -1 when there is none. */
static int parse_value(const char **p, const struct field_def *f, int *out)
{
	const char *s = *p;

	if (*s >= '0' && *s <= '9') {
		long v = 0;

		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (*s++ - '0');
			if (v > 1000)
				return -1;
		}
		*out = (int)v;
		*p = s;
		return 0;
	}
	if (f->names)
		for (int i = 0; f->names[i]; i++)
			if (!strncasecmp(s, f->names[i], 3) &&
			    !((s[3] >= 'a' && s[3] <= 'z') || (s[3] >= 'A' && s[3] <= 'Z'))) {
				*out = f->min + i;
				*p = s + 3;
				return 0;
			}
	return -1;
}

/* One comma-separated field [s, end) into a bit set. */
static int parse_field(const char *s, const char *end, const struct field_def *f,
		       uint64_t *bits, char *msg, size_t msglen)
{
	int n = (int)(end - s);

	*bits = 0;
	while (s < end) {
		int lo, hi, step = 1, ranged = 0;
		const char *p = s;

		if (*p == '*') {
			lo = f->min;
			hi = f->max == 7 ? 6 : f->max;
			p++;
		} else {
			if (parse_value(&p, f, &lo) < 0)
				goto bad;
			hi = lo;
			if (*p == '-') {
				p++;
				ranged = 1;
				if (parse_value(&p, f, &hi) < 0)
					goto bad;
			}
		}
		if (*p == '/') {
			p++;
			if (*p < '0' || *p > '9')
				goto bad;
			step = 0;
			while (*p >= '0' && *p <= '9' && step <= 1000)
				step = step * 10 + (*p++ - '0');
			if (step == 0 || step > f->max) {
				snprintf(msg, msglen, "cron %s field '%.*s': step must be "
					 "1 to %d", f->name, n, end - n, f->max);
				return -1;
			}
			/* "5/15" means from 5 to the end, every 15 */
			if (*s != '*' && !ranged)
				hi = f->max == 7 ? 6 : f->max;
		}
		if (p != end && *p != ',')
			goto bad;
		if (lo < f->min || lo > f->max || hi < f->min || hi > f->max) {
			snprintf(msg, msglen, "cron %s field '%.*s': values must be "
				 "%d to %d", f->name, n, end - n, f->min, f->max);
			return -1;
		}
		if (hi < lo) {
			snprintf(msg, msglen, "cron %s field '%.*s': range %d-%d goes "
				 "backwards: write it as two ranges", f->name, n, end - n,
				 lo, hi);
			return -1;
		}
		for (int v = lo; v <= hi; v += step)
			*bits |= 1ULL << (f->max == 7 && v == 7 ? 0 : v);
		s = p;
		if (*s == ',') {
			s++;
			if (s == end)
				goto bad;
		}
	}
	return 0;
bad:
	snprintf(msg, msglen, "cron %s field '%.*s': expected '*', a number%s, a "
		 "range a-b, a step like */15, or a comma list of these",
		 f->name, n, end - n, f->names ? " or a name" : "");
	return -1;
}

static int days_in_month(int month)	/* 1..12; February counts the 29th */
{
	static const int d[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return d[month - 1];
}

int mg_cron_parse(const char *expr, struct mg_cron *c, char *msg, size_t msglen)
{
	const char *p = expr;
	uint64_t bits[5];
	int starts[5];
	int i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < 5; i++) {
		const char *s;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		s = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		starts[i] = *s == '*';
		if (parse_field(s, p, &fields[i], &bits[i], msg, msglen) < 0)
			return -1;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (i < 5 || *p) {
		snprintf(msg, msglen, "cron '%s' must have 5 fields (minute hour "
			 "day-of-month month day-of-week), e.g. '*/15 * * * *'", expr);
		return -1;
	}
	c->minutes = bits[0];
	c->hours = (uint32_t)bits[1];
	c->mdays = (uint32_t)bits[2];
	c->months = (uint16_t)bits[3];
	c->wdays = (uint8_t)bits[4];
	c->mday_star = starts[2];
	c->wday_star = starts[4];

	/* "0 0 30 2 *" would make the daemon wait forever: say so now. */
	if (!c->mday_star && c->wday_star) {
		int ok = 0;

		for (int m = 1; m <= 12 && !ok; m++)
			if (c->months & (1U << m))
				for (int d = 1; d <= days_in_month(m); d++)
					if (c->mdays & (1U << d))
						ok = 1;
		if (!ok) {
			snprintf(msg, msglen, "cron '%s' never fires: no month has "
				 "such a day", expr);
			return -1;
		}
	}
	return 0;
}

static int day_matches(const struct mg_cron *c, const struct tm *tm)
{
	int md = !!(c->mdays & (1U << tm->tm_mday));
	int wd = !!(c->wdays & (1U << tm->tm_wday));

	if (c->mday_star || c->wday_star)
		return md && wd;
	return md || wd;
}

time_t mg_cron_next(const struct mg_cron *c, time_t after)
{
	struct tm tm;
	int last_year;

	if (!localtime_r(&after, &tm))
		return -1;
	last_year = tm.tm_year + 10;
	tm.tm_sec = 0;
	tm.tm_min++;
	/*
	 * Walk forward, skipping a whole month, day or hour when it cannot
	 * match, and let mktime() normalise the overflow (minute 60, day
	 * 32) and resolve daylight saving.  The bound only guards against a
	 * mktime() that does not advance; a year has at most
	 * 12 + 366 + 366 * 24 + 366 * 24 * 60 steps and the skips make it far
	 * fewer.
	 */
	for (long guard = 0; guard < 10L * 1000 * 1000; guard++) {
		time_t t;

		tm.tm_isdst = -1;
		t = mktime(&tm);
		if (t == (time_t)-1 || tm.tm_year > last_year)
			return -1;
		if (!(c->months & (1U << (tm.tm_mon + 1)))) {
			tm.tm_mon++;
			tm.tm_mday = 1;
			tm.tm_hour = 0;
			tm.tm_min = 0;
			continue;
		}
		if (!day_matches(c, &tm)) {
			tm.tm_mday++;
			tm.tm_hour = 0;
			tm.tm_min = 0;
			continue;
		}
		if (!(c->hours & (1U << tm.tm_hour))) {
			tm.tm_hour++;
			tm.tm_min = 0;
			continue;
		}
		if (!(c->minutes & (1ULL << tm.tm_min)) || t <= after) {
			tm.tm_min++;
			continue;
		}
		return t;
	}
	return -1;
}
