/*
 * tarest.h - an archive in an object store (tar+s3://) as the source of
 * an estimate (issue 18.2).
 *
 * The run does not GET each entry: it reads the compressed archive in
 * ranged GETs (the store's read size, 8 MiB at S3), once to index it and
 * again only for entries its cache could not keep, and each of its
 * source connections (the listing's, one per worker) checks the store
 * (a LIST) and the archive (a HEAD).  To count the entries the estimate
 * must read the archive too: that is real, billed egress, so it is said
 * before it happens, priced on its own line, and `--no-read` estimates
 * from the archive's size alone.
 */
#ifndef MG_TAREST_H
#define MG_TAREST_H

#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include "connector.h"

struct mg_plan;
struct mg_run_opts;
struct mg_pricing;
struct mg_scenario;

/* What the estimate learnt of the archive, and what it spent learning it. */
struct mg_archive_est {
	const char *url;		/* the plan's source url */
	uint64_t size;			/* of the archive (HEAD) */
	int no_read;			/* --no-read: entries unknown */
	uint64_t entries;		/* files listed (unknown with no_read) */
	uint64_t uncached;		/* entries the reader's cache cannot keep */
	uint64_t uncached_bytes;
	/* one source connection's open (the store's check and the
	 * archive's HEAD) and one pass over the archive (its identity HEAD
	 * and ranged GETs), as measured (no_read: as the store predicts) */
	struct mg_counters open, pass;
	/* this estimate's own requests and bytes at the store, and their
	 * price at the source (mg_tarest_price) */
	uint64_t own_req[MG_REQ__COUNT];
	uint64_t own_bytes;
	double own_usd;
};

/* 1 when the plan's source is an archive read through an object store:
 * a wrapper (MG_CAP_ARCHIVE) whose inner connector has ranged reads and
 * is not a file system. */
int mg_tarest_applies(const struct mg_plan *plan);

/* Before the walk (cli: `migrate estimate`): finds the archive's size
 * (HEAD), says on stderr (unless quiet) what reading it costs, and reads
 * it once, keeping it open so the walk lists from that read.  Returns an
 * exit code (MG_EXIT_OK).  mg_tarest_end() closes it after the walk. */
int mg_tarest_begin(const struct mg_plan *plan, int quiet);
void mg_tarest_end(void);

/* `migrate estimate --no-read`: the archive's size alone (one HEAD), the
 * source side of one pass, entries unknown.  Returns the exit code. */
int mg_tarest_no_read(const struct mg_plan *plan, const struct mg_run_opts *o);

/* estimate.c: the archive measured by begin or no_read, or NULL. */
const struct mg_archive_est *mg_tarest_current(void);
/* Replaces a scenario's source requests and bytes (as the walk counted
 * them: the connector's per-entry reads) with what the run sends to the
 * store, for tasks objects to move and the plan's concurrency. */
void mg_tarest_source(const struct mg_plan *plan, struct mg_scenario *sc,
		      uint64_t tasks);
/* After pricing: the scenario's own-reads line, its warnings, and the
 * time at the entries' bytes (what the limit counts), not the archive's.
 * Returns 0, or -1 with msg set. */
int mg_tarest_price(const struct mg_pricing *t, struct mg_scenario *sc,
		    char *msg, size_t msglen);

/* The report's words on it (report.c): the estimate's own reads, once
 * for the plan (nothing when s->archive is NULL). */
void mg_archive_text(FILE *f, const struct mg_scenario *s);
void mg_archive_html(FILE *f, const struct mg_scenario *s);
void mg_archive_json(json_t *j, const struct mg_scenario *s);

#endif
