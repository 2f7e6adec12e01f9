/*
 * probe_private.h - what the files of `migrate probe` share: probe.c (the
 * passes, the cleanup, the projection), probe_parts.c (the part-size
 * search), probe_cost.c (what the probe itself cost) and probe_html.c
 * (--html).  Not for anything else.
 */
#ifndef MG_PROBE_PRIVATE_H
#define MG_PROBE_PRIVATE_H

#ifndef MG_PROBE_INTERNAL
#error "probe_private.h is for engine/cli/probe*.c only"
#endif

#include <pthread.h>
#include <stdio.h>
#include <jansson.h>

#include "engine.h"
#include "journal.h"
#include "mg.h"
#include "plan.h"
#include "pricing.h"

#define PROBE_LEVELS 3
#define PROBE_PART_SIZES 3
#define PROBE_MAX_OBJECT (64u << 20)	/* larger sample objects are cut */

/* What one pass (a direction at a concurrency) did. */
struct pass {
	int conc;
	uint64_t objects, bytes, requests, failed;
	double secs;
	struct mg_latency *lat;		/* per request class; owned */
};

/* One pass of the part-size search: multipart objects in parts of this. */
struct part_pass {
	uint64_t part_size;
	struct pass pass;
};

/* What the probe did at one target. */
struct probe_target {
	struct pass w[PROBE_LEVELS];
	struct part_pass parts[PROBE_PART_SIZES];
	int nparts;			/* 0: no part-size search */
	struct mg_counters cost;	/* every request the probe made there */
	uint64_t objects_written;
	struct mg_estimate_out bill;	/* what that cost (probe_cost.c) */
};

struct probe {
	const struct mg_plan *plan;
	const struct mg_run_opts *o;
	struct mg_journal *j;
	uint64_t *sizes;		/* the sample's sizes (cut at PROBE_MAX_OBJECT) */
	char **keys;			/* and keys */
	size_t n;
	uint64_t cap;			/* bytes per target */
	int levels[PROBE_LEVELS];
	int nlevels;
	unsigned char *data;		/* random bytes for the writes */
	const char *prefix;
	int code;
	json_t *report;
	FILE *out;			/* the report for people: stderr under --json */
	struct mg_counters src_cost;	/* every request the probe made at the source */
	struct probe_target *t;		/* one per target */
	int priced;			/* the bills in t[] are set */
	double cost_usd;		/* their sum, the source's once */
	struct mg_estimate_result est;	/* the whole move, as estimate prices it */
	int est_rc;			/* its exit code */
};

/* A pass's shared state: workers take the next object index. */
struct pass_run {
	struct probe *p;
	const struct mg_endpoint *ep;
	int write;			/* 1: write probe keys; 0: read the sample */
	uint64_t part_size;		/* writes: set: multipart objects in parts of this */
	uint64_t object_size, nobj;	/* with part_size: nobj objects of object_size */
	uint64_t first;			/* writes: number of the first key */
	uint64_t budget;		/* writes: bytes to write in this pass */
	pthread_mutex_t lock;
	uint64_t next, written;
	struct pass res;
	struct mg_counters counters;
	char first_error[sizeof(((struct mg_error *)0)->msg)];
	uint64_t last_key;		/* writes: keys used: [first, last_key) */
};

/* probe.c */
void probe_key_name(const struct probe *p, uint64_t i, char *out, size_t outlen);
void probe_run_pass(struct pass_run *r, int conc, struct mg_counters *cost);
json_t *probe_pass_json(const struct pass *s);
const struct pass *probe_best(const struct pass *v, int n);

/* probe_parts.c: the part sizes a budget of bytes can compare (at least
 * two, else 0) into sizes[], and the size of each object (two parts of
 * the largest); then the passes, keys numbered from *used on (advanced),
 * results in t->parts, the best part size returned (0: none measured). */
int probe_part_sizes(uint64_t budget, uint64_t *sizes, uint64_t *object_size);
uint64_t probe_parts(struct probe *p, const struct mg_endpoint *ep, struct probe_target *t,
		     uint64_t *used, const uint64_t *sizes, int n, uint64_t object_size,
		     uint64_t per_pass, json_t *out);
/* One multipart object of size bytes under key number r->first + i. */
int probe_write_parts(struct pass_run *r, struct mg_conn *c, uint64_t i, uint64_t size);

/* probe_cost.c: prices what the probe did (p->src_cost, each t[].cost)
 * with the plan's price table, prints it and sets p->report's "cost". */
void probe_price(struct probe *p);

/* probe_bill.c: the projection's bill, the move as `migrate estimate`
 * prices it plus the probe's own cost.  probe_bill_walk() runs estimate's
 * code on the plan (the journal closed) into p->est and adds the LIST
 * pages it sent to the probe's counters, before probe_price();
 * probe_bill() then sets projection.bill and prints it: 0, or -1 (said). */
void probe_bill_walk(struct probe *p);
int probe_bill(struct probe *p);

/* probe_html.c: --html, the page written to path; 0 or -1 (said). */
int probe_html(const struct probe *p, const char *path);

#endif
