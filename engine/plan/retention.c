/*
 * retention.c - the dates of S3 Object Lock retention (issue 15.5):
 * `retention: { mode, days | until }` and `legal_hold:` in the plan.
 *
 * S3 keeps a locked object version until its retain-until date, an
 * instant in UTC that each object carries (x-amz-object-lock-retain-
 * until-date, ISO 8601).  `days: N` becomes one date for the whole run,
 * N days after the run's start, so every object of a run is released at
 * the same instant and the audit trail can name it; `until:` is that
 * date as written.  The arithmetic is done here in whole seconds since
 * the epoch, without the C library's local time: a plan means the same
 * date on every machine, whatever its TZ.
 */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "plan.h"

static const char *const lock_modes[] = { NULL, "GOVERNANCE", "COMPLIANCE" };

const char *mg_lock_mode_name(int mode)
{
	if (mode <= MG_LOCK_NONE || mode > MG_LOCK_COMPLIANCE)
		return NULL;
	return lock_modes[mode];
}

int mg_lock_mode_parse(const char *s)
{
	for (int m = MG_LOCK_GOVERNANCE; m <= MG_LOCK_COMPLIANCE; m++)
		if (s && strcmp(s, lock_modes[m]) == 0)
			return m;
	return -1;
}

static int leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* n digits at s into *out; 0 or -1 */
static int digits(const char *s, int n, int *out)
{
	*out = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*out = *out * 10 + (s[i] - '0');
	}
	return 0;
}

int mg_parse_date(const char *s, int64_t *out)
{
	int y, mo, d, h = 0, mi = 0, se = 0;
	size_t n = s ? strlen(s) : 0;

	/* YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SSZ */
	if ((n != 10 && n != 20) || digits(s, 4, &y) < 0 || s[4] != '-' ||
	    digits(s + 5, 2, &mo) < 0 || s[7] != '-' || digits(s + 8, 2, &d) < 0)
		return -1;
	if (n == 20 && (s[10] != 'T' || digits(s + 11, 2, &h) < 0 || s[13] != ':' ||
			digits(s + 14, 2, &mi) < 0 || s[16] != ':' ||
			digits(s + 17, 2, &se) < 0 || s[19] != 'Z'))
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) ||
	    h > 23 || mi > 59 || se > 59)
		return -1;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	return 0;
}

void mg_date_iso8601(int64_t s, char out[24])
{
	int64_t days = s >= 0 ? s / 86400 : (s - 86399) / 86400, sec = s - days * 86400;
	/* civil_from_days, the inverse of days_from_civil */
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	int d = (int)(doy - (153 * mp + 2) / 5 + 1), m = (int)(mp < 10 ? mp + 3 : mp - 9);
	int64_t y = yoe + era * 400 + (m <= 2);

	/* each field bounded, so the compiler sees 20 characters at most;
	 * the loader's dates are years 1970-9999 */
	snprintf(out, 24, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)(y % 10000),
		 (unsigned)m % 100, (unsigned)d % 100, (unsigned)(sec / 3600) % 100,
		 (unsigned)(sec / 60 % 60), (unsigned)(sec % 60));
}

int64_t mg_retention_until(const struct mg_retention *r, int64_t now_s)
{
	if (r->mode == MG_LOCK_NONE)
		return 0;
	if (r->until)
		return r->until;
	/* the loader keeps days within MG_RETENTION_MAX_DAYS: no overflow */
	return now_s + r->days * 86400;
}

int mg_retention_check(const struct mg_retention *r, int64_t now_s, char *msg,
		       size_t msglen)
{
	char when[24];

	if (r->mode == MG_LOCK_NONE || !r->until || r->until > now_s)
		return 0;
	mg_date_iso8601(r->until, when);
	snprintf(msg, msglen, "retention.until %s has passed: S3 takes a retain-until "
		 "date in the future only; give a later date or 'days:'", when);
	return -1;
}

void mg_retention_text(const char *mode, int64_t until, int legal_hold,
		       char *out, size_t outlen)
{
	char when[24];

	out[0] = '\0';
	if (mode && *mode) {
		mg_date_iso8601(until, when);
		snprintf(out, outlen, "%s until %s%s", mode, when,
			 legal_hold ? ", legal hold" : "");
	} else if (legal_hold) {
		snprintf(out, outlen, "legal hold");
	}
}

int mg_retention_in_force(const char *mode, int64_t until, int legal_hold,
			  int64_t now_s)
{
	return legal_hold || (mode && *mode && until > now_s);
}
