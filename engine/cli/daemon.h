/*
 * daemon.h - running a plan on its schedule, and looking back at runs.
 *
 *   migrate daemon PLAN   runs the plan on `schedule:`, writes metrics
 *   migrate status PLAN   the recent runs, from the journal
 *
 * cron.c holds the schedule arithmetic so it can be tested without a
 * clock; daemon.c the loop, signals and Prometheus metrics; status.c the
 * report.
 */
#ifndef MG_DAEMON_H
#define MG_DAEMON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "engine.h"
#include "plan.h"

/*
 * A parsed 5-field cron expression: "minute hour day-of-month month
 * day-of-week", each field '*', a number, a name (jan..dec, sun..sat), a
 * range a-b, a step ("*\/15", "a-b/n", or "a/n" from a to the end), or a
 * comma list of those.  Day of week 0 and 7 are Sunday.
 *
 * As in Vixie cron, when both day fields are restricted (neither starts
 * with '*') a day matches if either matches; when one starts with '*'
 * only the other one counts.
 */
struct mg_cron {
	uint64_t minutes;	/* bit n: minute n (0..59) */
	uint32_t hours;		/* bit n: hour n (0..23) */
	uint32_t mdays;		/* bit n: day of month n (1..31) */
	uint16_t months;	/* bit n: month n (1..12) */
	uint8_t wdays;		/* bit n: weekday n (0 = Sunday .. 6) */
	int mday_star;		/* the field starts with '*' */
	int wday_star;
};

/* Parses expr into c.  Returns 0, or -1 with a message in msg naming the
 * field and what is wrong with it (also for an expression that can never
 * fire, such as "0 0 30 2 *"). */
int mg_cron_parse(const char *expr, struct mg_cron *c, char *msg, size_t msglen);

/* The first time strictly after `after` at which c fires, a whole minute
 * in local time.  Returns -1 when there is none in the next 10 years.  On
 * a daylight-saving change a minute that does not exist is skipped and one
 * that exists twice may fire once or twice, as mktime() resolves it. */
time_t mg_cron_next(const struct mg_cron *c, time_t after);

/* The commands, in main.c's table.  Each returns the process exit code. */
int mg_cmd_daemon(const char *path, struct mg_plan *plan, struct mg_run_opts *o);
int mg_cmd_status(const char *path, struct mg_plan *plan, struct mg_run_opts *o);

#endif
