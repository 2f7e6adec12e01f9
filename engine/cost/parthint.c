/*
 * parthint.c - which part size the run will use, beside what `migrate
 * probe` measured (issue 16.3).  The probe keeps the part size that wrote
 * fastest at each target in the journal, dated.  The run does not take
 * it: it uses transfer.part_size (16 MiB unless the plan sets it), because
 * a multipart upload a killed run left is resumed only at the part size it
 * began with, and a few seconds of a probe are no reason to restart it;
 * nor is one short comparison a measurement to act on unasked.  So the
 * estimate counts UploadParts at the plan's size, as the run sends them,
 * and where the probe found another size faster it says so, as a hint,
 * with the date: the person sets transfer.part_size to take it.
 */
#include "config.h"

#include <stdio.h>
#include <time.h>
#include <jansson.h>

#include "engine.h"
#include "report.h"

/* The hint for target t (empty when there is none: no probe record, the
 * move sends no part, or the probe's best is the plan's size). */
void mg_part_hint(const struct mg_plan *plan, const struct mg_target_tally *t, char *out,
		  size_t len)
{
	char best[32], used[32], when[40];
	time_t at = (time_t)t->probe_part_at;
	struct tm tm;

	out[0] = '\0';
	if (!t->probe_part_size || !t->counters.req[MG_REQ_MP_PART] ||
	    t->probe_part_size == plan->transfer.part_size)
		return;
	mg_fmt_bytes(t->probe_part_size, best, sizeof(best));
	mg_fmt_bytes(plan->transfer.part_size, used, sizeof(used));
	gmtime_r(&at, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	snprintf(out, len, "probe found part_size %s faster (measured %s); set "
		 "transfer.part_size to use it (the run uses %s, counted here)", best, when, used);
}

/* "part_size": {"used", "probe_best", "measured_at", "hint"} */
json_t *mg_part_size_json(const struct mg_plan *plan, const struct mg_target_tally *t)
{
	char hint[300];

	mg_part_hint(plan, t, hint, sizeof(hint));
	return json_pack("{s:I,s:o,s:o,s:o}", "used", (json_int_t)plan->transfer.part_size,
			 "probe_best", t->probe_part_size ?
			 json_integer((json_int_t)t->probe_part_size) : json_null(),
			 "measured_at", t->probe_part_size ?
			 json_integer((json_int_t)t->probe_part_at) : json_null(),
			 "hint", hint[0] ? json_string(hint) : json_null());
}
