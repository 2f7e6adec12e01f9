/*
 * report.h - an estimate rendered for a person (terminal table), a program
 * (JSON) and a browser (one self-contained HTML page with SVG charts).
 *
 * A report is a list of priced scenarios: the plan's own move first, then
 * the same move priced into other targets for --compare.  The renderers
 * only read; the counting and pricing happened before (engine, pricing.c).
 */
#ifndef MG_REPORT_H
#define MG_REPORT_H

#include <stdio.h>
#include <time.h>
#include <jansson.h>
#include "pricing.h"
#include "estextra.h"
#include "tarest.h"

/* What the move does to objects, as the engine's diff classifies them. */
struct mg_move_counts {
	uint64_t new_objects, new_bytes;
	uint64_t changed_objects, changed_bytes;
	uint64_t unchanged_objects, unchanged_bytes;	/* skipped: nothing read */
	uint64_t dedup_objects, dedup_bytes;		/* server-side copies */
	uint64_t deleted_objects, deleted_bytes;	/* sync deletes at the target */
	uint64_t failed_objects, failed_bytes;		/* the run cannot send them */
	/* sync deletes Object Lock will refuse (issue 15.5): objects the
	 * journal holds as written with a lock that still holds */
	uint64_t locked_objects, locked_bytes;
};

/* Retries expected at an error rate (retries.c, 18.5). */
struct mg_retries {
	double rate;			/* 0: none asked for */
	uint64_t src[MG_REQ__COUNT], dst[MG_REQ__COUNT];
	double usd;			/* what they add to the requests' cost */
};

/* One priced scenario: one source, one target. */
struct mg_scenario {
	const char *label;	/* what to call it: the target URL, or the provider for --compare */
	struct mg_move_counts counts;
	struct mg_estimate_in in;	/* the counts that were priced */
	struct mg_estimate_out out;	/* mg_estimate_compute() of in */
	struct mg_retries retries;
	uint64_t bytes_written;	/* content sent to the target (PUTs, parts) */
	/* issue 15.3: one line per storage class (tierprice.c), 0 without rules */
	struct mg_class_line classes[MG_CLASS_TALLY_MAX];
	size_t nclasses;
	uint64_t reclassed;		/* re-class copies counted */
	/* issue 18.2: an archive in an object store as the source (its
	 * reads, the estimate's own), or NULL (tarest.h) */
	const struct mg_archive_est *archive;
};

/* tierprice.c (issue 15.3): a scenario's storage classes, one line each
 * (nothing without tiering rules) */
void mg_class_lines_text(FILE *f, const struct mg_scenario *s);
void mg_class_lines_json(json_t *j, const struct mg_scenario *s);

/* plantotal.c: a plan with several targets, the source counted once. */
struct mg_plan_total {
	double source_usd;	/* egress, retrieval, source requests: once */
	double targets_usd;	/* each target's requests, penalties, storage */
	double total_usd;
	uint64_t bytes;		/* sent to all targets, through the one limit */
	double duration_s;	/* -1 unknown */
};
/* bytes[i]: what target i receives.  Sets each scenario's duration to
 * the plan's. */
void mg_plan_total_compute(struct mg_scenario *sc, size_t n, const uint64_t *bytes,
			   struct mg_plan_total *t);
void mg_plan_total_text(FILE *f, const struct mg_plan_total *t);
json_t *mg_plan_total_json(const struct mg_plan_total *t);

struct mg_report {
	const char *plan_name;
	const char *source_url;
	const char *pricing_file;	/* the table used, for the record */
	time_t generated;		/* 0: now */
	const struct mg_scenario *sc;	/* sc[0]: the plan's move */
	size_t n;
	int compare;			/* sc[] is a --compare set (already sorted) */
	const struct mg_plan_total *plan_total;	/* several targets; else NULL */
};

/* Sorts cheapest first by total (ties: by label), for --compare. */
void mg_scenarios_sort(struct mg_scenario *sc, size_t n);

/* "1,234.56"; above 0 but below a cent "<0.01"; no currency sign. */
void mg_fmt_usd(double usd, char *out, size_t len);
/* "2 h 05 min", "3 d 4 h", "45 s"; "unknown" for a negative value. */
void mg_fmt_duration(double seconds, char *out, size_t len);

/* Aligned table; returns 0 or -1 on a write error. */
int mg_report_text(FILE *out, const struct mg_report *r);
/* A new JSON object the caller owns (json_decref). */
json_t *mg_report_json(const struct mg_report *r);

/* The bill `migrate estimate` comes to, for a caller that shows it itself
 * (`migrate probe`'s projection, issue 16.2): mg_estimate_output() fills
 * it, when mg_run_opts.estimate_result points at one, instead of printing.
 * total_usd is estimate --json's total: plan_total.total_usd with several
 * targets, else scenarios[0].cost_usd.total. */
struct mg_estimate_result {
	int set;			/* 1: filled */
	double total_usd;
	double duration_s;		/* -1 unknown */
	json_t *json;			/* what estimate --json prints; the caller's */
};
/* Self-contained HTML (inline CSS and SVG, no script, no external asset). */
int mg_report_html(FILE *out, const struct mg_report *r);
/* Writes the HTML to path (via a temporary file and rename, so a browser
 * never sees half a page).  Returns MG_OK or MG_FAILED with err set. */
int mg_report_html_file(const char *path, const struct mg_report *r,
			struct mg_error *err);

/* The page helpers, for other pages in the same style (probe's): the
 * head up to <main> (title "WHAT: NAME", the style sheet), text escaped
 * for HTML, dollars, a card (usd, or text when not NULL; sub may be
 * NULL), a bill's lines.  A page ends with "</main></body></html>". */
void mg_html_head(FILE *f, const char *what, const char *name);
void mg_html_esc(FILE *f, const char *s);
void mg_html_usd(FILE *f, double usd);
void mg_html_card(FILE *f, const char *k, double usd, const char *text, const char *sub);
void mg_html_breakdown(FILE *f, const struct mg_estimate_out *o);
/* Writes page(f, arg) to path as mg_report_html_file() does; page
 * returns 0, or -1 on a write error. */
int mg_html_file(const char *path, int (*page)(FILE *f, const void *arg), const void *arg,
		 struct mg_error *err);

#endif
