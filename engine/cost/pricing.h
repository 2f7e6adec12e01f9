/*
 * pricing.h - the price table (plans/pricing.yaml) and the cost of one
 * move priced from counted requests and bytes.
 *
 * The engine counts (struct mg_counters, the same counters a real run
 * fills); this module only prices.  Keeping the two apart is what lets
 * `estimate` and the run agree to the request: nothing here guesses a
 * count.
 *
 * Money is USD as double: the figures are estimates shown to the cent, and
 * the largest bill a table can produce is far inside a double's exact
 * range for cents.
 */
#ifndef MG_PRICING_H
#define MG_PRICING_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "mg.h"
#include "connector.h"
#include "plan.h"

#define MG_PRICE_MAX_TIERS   8
#define MG_PRICE_MAX_CLASSES 6
#define MG_PRICE_FREE        (-1)	/* request class map: not billed */

struct mg_price_tier {
	double upto;		/* upper bound in the provider's unit; 0 = no bound */
	double price;		/* USD per unit (storage: per unit-month) */
};

struct mg_price_tiers {
	struct mg_price_tier t[MG_PRICE_MAX_TIERS];
	int n;			/* 0: free */
};

struct mg_price_class {
	char name[24];		/* "tier1", "A", "write" */
	char covers[96];	/* what the provider puts in it, for reports */
	double price;		/* USD per requests.per requests */
	double free;		/* requests of this class free each month (free tier) */
};

/* One provider (or one storage class of it: name "cloudflare-r2/InfrequentAccess"). */
struct mg_price_provider {
	char *name;
	char *title;
	char *source;
	char *as_of;
	char *notes;		/* NULL if none */
	char *default_class;	/* the storage class the base entry prices ("STANDARD"); NULL */
	char unit[4];		/* "GB" or "GiB" */
	double unit_bytes;	/* 1e9 or 2^30 */
	int line, col;		/* where it is declared in the table */

	struct {
		struct mg_price_tiers tiers;
		double free;		/* units not charged each month */
		double min_billable;	/* bills at least this volume */
		double min_days;	/* minimum storage duration */
		double min_object;	/* each object billed as at least this volume */
	} storage;
	struct {
		struct mg_price_tiers tiers;	/* on the volume beyond the allowances */
		double free;			/* units per month */
		double free_ratio;		/* plus this times the stored volume */
		int fair_use;			/* excess breaks a policy, not billed */
	} egress;
	double retrieval;		/* USD per unit read */
	struct {
		double per;		/* prices are per this many requests */
		double round_up;	/* bill whole blocks of this many; 0 exact */
		struct mg_price_class cls[MG_PRICE_MAX_CLASSES];
		int ncls;
		int map[MG_REQ__COUNT];	/* index into cls, or MG_PRICE_FREE */
	} requests;
};

struct mg_pricing {
	char *file;		/* where the table was read from */
	struct mg_price_provider *p;
	size_t n;
};

/*
 * Finds the table: plan_file if not NULL, else the installed copy
 * MG_DATADIR "/pricing.yaml", else plans/pricing.yaml under $MG_SRCDIR or
 * next to the binary (argv0: its path, may be NULL).  Returns a path the
 * caller frees, or NULL with err set (MG_FAILED).
 */
char *mg_pricing_locate(const char *plan_file, const char *argv0,
			struct mg_error *err);

/* Loads a table.  On error returns MG_FAILED with err->msg
 * "FILE:LINE:COL: message"; t is then empty but safe to release. */
int mg_pricing_load(const char *path, struct mg_pricing *t, struct mg_error *err);
int mg_pricing_load_string(const char *name, const char *text, size_t len,
			   struct mg_pricing *t, struct mg_error *err);
void mg_pricing_release(struct mg_pricing *t);

/*
 * The entry for provider and storage class (class NULL or "" or the
 * provider's default_class for the provider's default).  NULL if the
 * provider is unknown (mg_pricing_names() gives the list to show: "aws-s3,
 * gcs, ...") or the class is not one the table lists for it (pricing an
 * archive class as Standard would be wrong by orders of magnitude):
 * mg_pricing_classes() gives those.
 */
const struct mg_price_provider *mg_pricing_find(const struct mg_pricing *t,
						const char *provider,
						const char *storage_class);
/* Comma-separated provider names (no storage classes) into b. */
void mg_pricing_names(const struct mg_pricing *t, struct mg_buf *b);
/* Comma-separated storage classes the table knows for provider into b
 * (its default_class first, if named). */
void mg_pricing_classes(const struct mg_pricing *t, const char *provider,
			struct mg_buf *b);

/* What an S3-style endpoint on a host the table does not know bills as
 * (mg_estimate_in_fill): the estimate refuses it and asks for 'provider'. */
#define MG_PROVIDER_UNKNOWN "unknown"

/*
 * Overrides one value (negotiated discounts), by key path inside a
 * provider entry:
 *   storage.free  storage.min_billable  storage.min_days
 *   storage.tiers.N.price  storage.tiers.N.upto
 *   egress.free  egress.free_ratio  egress.tiers.N.price  egress.tiers.N.upto
 *   retrieval  requests.per  requests.round_up  requests.classes.NAME
 * Provider "cloudflare-r2/InfrequentAccess" addresses a storage class.
 *
 * mg_pricing_override() takes a number in the unit the table uses for that
 * key.  mg_pricing_override_str() takes the text a person wrote: a number,
 * or one with a unit ("0.05/GB", "4.50/million", "100GB", "90d", "3x"),
 * converted to the table's unit; a unit of the wrong kind is an error.
 * Both return 0, or -1 with msg set (no file position: the caller, who
 * knows where the value was written, prefixes "FILE:LINE:COL: ").
 */
int mg_pricing_override(struct mg_pricing *t, const char *provider,
			const char *path, double value, char *msg, size_t msglen);
int mg_pricing_override_str(struct mg_pricing *t, const char *provider,
			    const char *path, const char *value, char *msg,
			    size_t msglen);

/*
 * Early deletions as a bounded histogram (walk, don't load: a sync may
 * delete millions of objects).  bytes[d] sums the objects deleted at an
 * age of d whole days; the last bucket holds everything older.
 */
#define MG_DELETE_AGE_DAYS 366
struct mg_delete_ages {
	uint64_t bytes[MG_DELETE_AGE_DAYS];
	uint64_t count[MG_DELETE_AGE_DAYS];
};
void mg_delete_ages_add(struct mg_delete_ages *a, uint64_t bytes, int64_t age_s);

/*
 * Objects below a minimum billable size (Wasabi 4 KiB, S3 IA 128 KiB), as
 * a bounded, cumulative histogram: count[b] and bytes[b] sum the objects
 * smaller than 2^b bytes.  A minimum between two powers of two is taken
 * at the power below it (an estimate that errs low by less than 2x on the
 * padding only).
 */
#define MG_SMALL_BITS 21		/* up to 1 MiB */
struct mg_small_objects {
	uint64_t count[MG_SMALL_BITS];
	uint64_t bytes[MG_SMALL_BITS];
};
void mg_small_objects_add(struct mg_small_objects *s, uint64_t bytes);
/* Takes back one object added before (an estimate's re-class moves it). */
void mg_small_objects_sub(struct mg_small_objects *s, uint64_t bytes);
/* Bytes billed beyond the objects' own for a minimum of min_bytes. */
double mg_small_objects_pad(const struct mg_small_objects *s, double min_bytes);

/* Drops p's monthly free allowances (free_tier_used): storage.free,
 * egress.free and each request class's free. */
void mg_price_free_tier_spent(struct mg_price_provider *p);

/* Components of a bill; the order is the order of reports. */
enum mg_cost_comp {
	MG_COST_EGRESS = 0,	/* source: data out, by tier after allowances */
	MG_COST_RETRIEVAL,	/* source: infrequent-access reads */
	MG_COST_SRC_REQ,	/* source: requests */
	MG_COST_DST_REQ,	/* target: requests */
	MG_COST_EARLY_DELETE,	/* target: minimum-duration penalties */
	MG_COST_STORAGE,	/* target: one month of storage after the move */
	MG_COST__COUNT
};
const char *mg_cost_comp_name(enum mg_cost_comp c);	/* "egress", ... */
const char *mg_cost_comp_title(enum mg_cost_comp c);	/* "Source egress", ... */

struct mg_estimate_in {
	const char *source_provider;	/* NULL: "local" */
	const char *source_class;	/* storage class, NULL: default */
	uint64_t source_stored_bytes;	/* 0 = unknown (allowances need it) */
	uint64_t source_read_bytes;	/* bytes the move reads: egress, and what crosses the link */
	uint64_t source_req[MG_REQ__COUNT];

	const char *target_provider;	/* NULL: "local" */
	const char *target_class;
	uint64_t target_req[MG_REQ__COUNT];
	uint64_t target_stored_bytes;	/* stored at the target after the move */
	const struct mg_delete_ages *deleted;	/* target deletes and overwrites by age; NULL none */
	const struct mg_small_objects *small;	/* objects stored after the move; NULL unknown */

	/* the account's monthly free allowances (R2's free tier, B2's first
	 * 10 GB, AWS's 100 GB of egress) are already used by other work
	 * (plan: 'pricing: { free_tier: used }') */
	int free_tier_used;
	/* the URLs, to name an endpoint whose provider is unknown */
	const char *source_url, *target_url;

	/* time: rate limit (0 unlimited), timetable, the link's speed when
	 * the rate is unlimited (0 unknown), when the move starts */
	uint64_t bandwidth;
	const struct mg_bw_window *timetable;
	size_t ntimetable;
	uint64_t link_rate;
	int64_t link_measured_at;	/* when migrate probe measured it (unix s), 0 */
	time_t start;
};

/* One line of a bill and how it was computed. */
struct mg_cost_item {
	enum mg_cost_comp comp;
	char what[128];		/* "egress 0-10000 GB", "requests tier1 (PUT, ...)" */
	double qty;		/* in qty_unit */
	char qty_unit[16];	/* "GB", "GiB-month", "requests" */
	double rate;		/* USD per rate_per qty_unit */
	double rate_per;
	double usd;
	char how[240];		/* the arithmetic, for --json and the HTML */
};

#define MG_COST_MAX_ITEMS 48
#define MG_COST_MAX_WARN 6

struct mg_estimate_out {
	double cost[MG_COST__COUNT];
	double one_time;	/* egress + retrieval + requests + penalties */
	double monthly;		/* storage per month after the move */
	double total;		/* one_time + monthly: the bill for the month of the move */
	double duration_s;	/* at the plan's limits; -1 unknown (unlimited, no link rate) */
	const struct mg_price_provider *source, *target;	/* into the table */
	struct mg_cost_item item[MG_COST_MAX_ITEMS];
	int nitems;
	char warn[MG_COST_MAX_WARN][240];
	int nwarn;
};

/*
 * Prices one move.  Returns 0, or -1 with msg set when a provider is not
 * in the table ("unknown provider 'x': known providers are ...": the
 * caller exits 2).
 */
int mg_estimate_compute(const struct mg_pricing *t, const struct mg_estimate_in *in,
			struct mg_estimate_out *out, char *msg, size_t msglen);

/*
 * The provider an endpoint bills as: its plan's 'provider' if set, else
 * what the URL says (a folder or tar file: local; sftp: sftp; s3 without
 * an endpoint: aws-s3; an endpoint host of a known provider: that one).
 * NULL when it cannot tell (an S3 endpoint on an unknown host): the plan
 * must then name it.
 */
const char *mg_pricing_provider_of(const struct mg_endpoint *ep);

/*
 * What the estimate's walk counted for one storage class at one target
 * (issue 15.3): the objects written under it, the requests they take,
 * what it holds after the move (objects written, unchanged ones and
 * re-classed ones, with their sizes for the minimum billable size), and
 * the re-class copies into it.
 */
#define MG_CLASS_TALLY_MAX 16
struct mg_class_tally {
	char cls[24];			/* as the rule names it, "STANDARD" for none */
	uint64_t objects, bytes;	/* written */
	uint64_t stored_objects, stored_bytes;
	uint64_t reclassed;
	uint64_t req[MG_REQ__COUNT];
	struct mg_small_objects small;
};

/* One class's line of an estimate, priced with its own entry. */
struct mg_class_line {
	char cls[24];
	uint64_t objects, bytes, stored_bytes, reclassed;
	double storage_usd;		/* a month of what it holds (min_object applied) */
	double requests_usd;		/* its writes and re-class copies at its prices */
	double min_days;		/* minimum storage duration */
	double min_duration_usd;	/* the least its new objects cost past the first month */
	double min_object_bytes;	/* minimum billable object size */
	double padding_bytes;		/* billed beyond the objects' own for it */
	double retrieval_per_unit;	/* USD per unit read back */
	char unit[4];
};

/* Prices each class of tally (n of them) for the target provider of in,
 * into lines, and moves out's storage and target requests from the
 * default class's prices to each class's own.  0, or -1 with msg (a class
 * the table lacks; mg_tiering_priced refuses such plans first). */
int mg_tier_price(const struct mg_pricing *t, const struct mg_estimate_in *in,
		  const struct mg_class_tally *tally, size_t n,
		  struct mg_estimate_out *out, struct mg_class_line *lines,
		  char *msg, size_t msglen);

/* tierprice.c (issue 15.3): every tiering rule's class is one the table
 * lists for each target's provider (targets of a provider the table does
 * not know are left to the estimate).  0, or -1 with msg
 * "FILE:LINE:COL: tiering rule N: unknown storage class ...". */
int mg_tiering_priced(const struct mg_pricing *t, const struct mg_plan *plan,
		      char *msg, size_t msglen);
/* The same with the plan's price table, for `check`: prints the refusal;
 * 0, or -1. */
int mg_tiering_check(const struct mg_plan *plan);

/*
 * Fills in from a plan, a target and the counters an estimate (or a run)
 * filled: providers and storage classes, the source's stored volume, the
 * bandwidth and timetable, bytes read and requests per class.  The rest
 * (target_stored_bytes, deleted, link_rate, start) is the caller's.
 */
void mg_estimate_in_fill(struct mg_estimate_in *in, const struct mg_plan *plan,
			 const struct mg_endpoint *target,
			 const struct mg_counters *src, const struct mg_counters *dst);

/* Cost of n requests of one of our classes at provider p (rounding of the
 * provider class applied to n alone; mg_estimate_compute() rounds the sum
 * of each provider class). */
double mg_price_requests(const struct mg_price_provider *p, enum mg_req r,
			 uint64_t n);

/*
 * Seconds to move bytes at rate (bytes/s, 0 unlimited) shaped by a
 * timetable (first matching window wins, else rate), starting at start
 * (local time).  Unlimited stretches run at link_rate; when link_rate is 0
 * and the move would need an unlimited stretch the time is unknown: -1.
 * The timetable repeats weekly, so whole weeks are skipped analytically
 * and at most one week is simulated minute by minute.
 */
double mg_transfer_seconds(uint64_t bytes, uint64_t rate,
			   const struct mg_bw_window *w, size_t nw,
			   uint64_t link_rate, time_t start);

#endif
