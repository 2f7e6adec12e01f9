/*
 * runrec.h - reading back the run records the engine writes into the
 * journal (r/<start_ns>, JSON; engine.c's summary builds them).
 *
 * The daemon (metrics, its log line) and status (the table) both read
 * them; the field names and what a missing field means live here, once.
 * Internal to the engine: connectors have no business with run records.
 */
#ifndef MG_RUNREC_H
#define MG_RUNREC_H

#include <stdint.h>
#include <jansson.h>

/* o[a][b], or o[a] when b is NULL, as a count.  Missing, not an integer
 * or negative reads as 0: a record from an older engine lacks fields a
 * newer one writes, and a count is never below 0. */
uint64_t mg_runrec_u64(json_t *o, const char *a, const char *b);

/* What one entry of a run record's "targets" says.  The strings point
 * into the JSON and live as long as it does; url is NULL when the record
 * has none, fatal is NULL unless the target stopped on a fatal error. */
struct mg_runrec_target {
	const char *url;
	const char *fatal;
	uint64_t copied_objects;
	uint64_t copied_bytes;
	uint64_t unchanged_objects;
	uint64_t failed_objects;
};

void mg_runrec_target_read(json_t *t, struct mg_runrec_target *out);

/* 1 when dir holds a journal (its CURRENT file exists), 0 otherwise.
 * Readers ask first: opening a journal that is not there would create
 * one, and only a run should. */
int mg_runrec_journal_exists(const char *dir);

/* status.c: up to max run records of the journal in dir, newest first,
 * read through a snapshot (never the live journal); NULL with a message
 * in err.  The PID holding dir's lock, or 0. */
json_t *mg_status_read_runs(const char *dir, size_t max, char *err, size_t errlen);
long mg_status_journal_holder(const char *dir);

#endif
