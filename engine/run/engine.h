/*
 * engine.h - walk, filter, diff against the journal, transfer, record.
 */
#ifndef MG_ENGINE_H
#define MG_ENGINE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include "connector.h"
#include "plan.h"
#include "report.h"

struct mg_run_opts {
	int dry_run;		/* list what would move, move nothing */
	int json;		/* summary as JSON on stdout */
	int quiet;		/* no human summary */
	int progress;		/* 1 on, 0 off, -1 when stderr is a terminal */
	int bwlimit_set;	/* --bwlimit given: overrides the plan */
	uint64_t bwlimit;	/* bytes/s, 0 = unlimited */
	int estimate;		/* count and price instead of moving */
	const char *compare;	/* estimate: "b2,r2,wasabi,aws-s3" */
	const char *html;	/* estimate: write an HTML report here */
	int deep;		/* verify: download and re-hash */
	int csv;		/* lineage: CSV instead of JSON lines */
	const char *target;	/* lineage: only this target (its URL) */
	const char *log_json;	/* run: append one JSON line per object here */
	int all;		/* cleanup: abort other tools' uploads too */
	char *const *extra;	/* inventory: source urls after the plan */
	size_t nextra;
	size_t probe_sample;	/* probe: objects to sample, 0: 100 */
	uint64_t probe_bytes;	/* probe: bytes per target, 0: 1 GiB */
	const char *probe_prefix;	/* probe: key prefix, NULL: .migrate-probe-TIME- */
	unsigned shards;	/* report: how many shard journals to merge */
	const char *shards_dir;	/* report: the folder holding them */
	/* estimate: filled instead of printed (probe's projection), or NULL */
	struct mg_estimate_result *estimate_result;
};

/* shards.c: `migrate report PLAN --shards N | --shards-dir DIR`, the run
 * records of every shard's journal merged.  Returns the exit code a
 * scheduler acts on (see there and migrate.1). */
int mg_cmd_report(const char *path, struct mg_plan *plan, struct mg_run_opts *o);

/* verify.c: checks every target against the journal (HEAD; --deep reads
 * back and re-hashes).  Returns the exit code. */
int mg_verify(const struct mg_plan *plan, const struct mg_run_opts *o);
/* verify.c: `migrate repair`: verifies (--deep: by content), marks what is
 * missing or differs as not done in the journal and runs the plan, which
 * copies those again.  Returns the exit code. */
int mg_repair(const struct mg_plan *plan, const struct mg_run_opts *o);

/* What a walk counted for one target, as estimate prices it. */
struct mg_target_tally {
	struct mg_counters counters;	/* requests and bytes at the target */
	struct mg_move_counts counts;	/* objects and bytes by kind of action */
	uint64_t stored_after;		/* bytes the target holds after the move */
	/* for minimum durations and object sizes; NULL when not counted */
	const struct mg_delete_ages *deleted;	/* deletes and overwrites by age */
	const struct mg_small_objects *small;	/* objects held after the move */
	/* dedupe foreseen (18.6): objects it could apply to whose content
	 * neither `migrate inventory` nor the journal knew */
	uint64_t dedupe_unknown;
	/* what the last `migrate probe` measured (bytes/s, the slower of
	 * reading the source and writing this target) and when; 0: none */
	uint64_t measured_rate;
	int64_t measured_at;
	/* the part size that probe found fastest at this target and when
	 * (0: none); the run does not take it (parthint.c) */
	uint64_t probe_part_size;
	int64_t probe_part_at;
	/* issue 15.3: per storage class, when the target has tiering rules */
	const struct mg_class_tally *classes;
	size_t nclasses;
	uint64_t reclassed;		/* re-class copies */
};

/* parthint.c: "probe found part_size X faster (measured DATE); set
 * transfer.part_size to use it ..." for target t, or "" (no record, no
 * part sent, or the plan's size); and the scenario's "part_size" JSON. */
void mg_part_hint(const struct mg_plan *plan, const struct mg_target_tally *t, char *out,
		  size_t len);
json_t *mg_part_size_json(const struct mg_plan *plan, const struct mg_target_tally *t);

/* estimate.c: prices and prints what the walk counted.  Returns the exit
 * code. */
int mg_estimate_output(const struct mg_plan *plan, const struct mg_run_opts *o,
		       const struct mg_counters *src,
		       const struct mg_target_tally *tally, size_t ntargets);

/* mg_interrupted (mg.h), set by the SIGINT/SIGTERM handler: the engine
 * stops taking work, aborts what is in flight (no partial object is
 * published) and returns 130. */
/* Flipped by SIGUSR2: while set, the bandwidth limit is lifted. */
extern _Atomic int mg_bwlimit_off;	/* set by SIGUSR2 (see mg_interrupted) */

/* Runs the plan once.  Returns the process exit code (MG_EXIT_*). */
int mg_engine_run(const struct mg_plan *plan, const struct mg_run_opts *opts);

/* lineage.c: `migrate lineage`, the per-object audit trail from the
 * journal as JSON lines or CSV.  Returns the exit code. */
int mg_cmd_lineage(const char *path, struct mg_plan *plan, struct mg_run_opts *o);

/* uploads.c: `migrate cleanup`, lists the multipart uploads under each
 * target's prefix that the journal does not own and aborts them (with
 * dry_run only lists; without all only those that look like migrate's).
 * Returns the exit code. */
int mg_cmd_cleanup(const char *path, struct mg_plan *plan, struct mg_run_opts *o);

/* inventory.c: `migrate inventory`, duplicate content across the plan's
 * source and the urls in o->extra.  Returns the exit code. */
int mg_cmd_inventory(const char *path, struct mg_plan *plan, struct mg_run_opts *o);

/* probe.c: `migrate probe`, a bounded measurement against the plan's
 * source and targets, deleting what it wrote.  Returns the exit code. */
int mg_cmd_probe(const char *path, struct mg_plan *plan, struct mg_run_opts *o);
/* probe.c: what the last probe measured for moving src to dst (bytes/s,
 * the slower of its read of src and its write to dst, either alone when
 * only one was measured) and when (unix s, the older); 0 and 0 when
 * nothing was.  j may be NULL. */
struct mg_journal;
void mg_probe_measured(struct mg_journal *j, const struct mg_endpoint *src,
		       const struct mg_endpoint *dst, uint64_t *rate, int64_t *at);
/* probe.c: the part size the last probe found fastest at dst and when;
 * 0 and 0 when it measured none.  j may be NULL. */
void mg_probe_part_size(struct mg_journal *j, const struct mg_endpoint *dst, uint64_t *size,
			int64_t *at);

#endif
