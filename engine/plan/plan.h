/*
 * plan.h - the plan file, parsed once into an immutable struct.
 *
 * Everything downstream reads struct mg_plan; nothing re-reads the YAML.
 * Every value is typed and every unit resolved here; ${VAR} is expanded
 * here (an unset variable is an error).  Secrets (secret keys, passwords)
 * are held in the struct but never printed: mg_plan_dump() masks them.
 *
 * The schema is documented for users in plans/README.md; keep the two in
 * step.
 */
#ifndef MG_PLAN_H
#define MG_PLAN_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include "mg.h"

enum mg_symlinks {
	MG_SYMLINKS_SKIP = 0,	/* report and skip (default) */
	MG_SYMLINKS_FOLLOW,	/* copy what they point at when it resolves inside
				 * the source root, with loop protection; a link
				 * leading outside is reported and skipped */
	MG_SYMLINKS_RECORD,	/* tar: a small object carrying the target in metadata */
	MG_SYMLINKS_FOLLOW_ALL,	/* follow wherever the link leads ("follow-all") */
};

/* The plan words of enum mg_symlinks, in its order, for the option tables
 * of the connectors that take a 'symlinks' key. */
extern const char *const mg_symlinks_words[];
#define MG_SYMLINKS_LISTED "skip, follow, follow-all or record"

struct mg_connector;		/* connector.h */

/*
 * One side of a move: the source, or one target.  What is the same for
 * every backend lives here; what a backend alone takes (S3 credentials,
 * an SSH key, an archive's prefix) lives in the connector's own option
 * struct at opts, described by its option table (engine/connector.h), so
 * a new backend never edits this struct.
 */
/* A name and a value (tags, metadata), both owned. */
struct mg_kv {
	char *k;
	char *v;
};

struct mg_endpoint {
	int line, col;		/* where it was declared in the plan */
	char *url;		/* as written, after ${VAR} expansion */
	char *scheme;		/* as the plan spells it, lower case: "file",
				 * "sftp", "s3", "tar", "tar+sftp", "tar+s3" */
	const char *connector;	/* registry name: "file", "sftp", "s3", "tar" */
	const struct mg_connector *ops;	/* the registry's entry for it */
	char *id;		/* stable short id for journal keys: 16 hex of SHA-256 */

	/* URL parts, as the connector's url_parse fills them.  file/tar:
	 * path is absolute.  sftp: user, host, port (default 22), path.  s3:
	 * host is the bucket, path the key prefix (no leading '/', "" for
	 * the whole bucket, a trailing '/' kept as written).  A wrapper
	 * (tar+sftp, tar+s3) holds a copy of its inner endpoint's. */
	char *user;
	char *host;
	int port;
	char *path;

	void *opts;		/* the connector's option struct (its table) */
	/* A wrapper's (MG_CAP_ARCHIVE) inner endpoint: where the archive
	 * sits (url, id and stall_timeout as the wrapper's), NULL otherwise */
	struct mg_endpoint *inner;

	char *provider;		/* aws-s3, backblaze-b2, cloudflare-r2, wasabi, gcs,
				 * azure-blob, minio, ceph, sftp, local; NULL: unknown */

	/* all: seconds without progress that cut one request (copied from
	 * the plan's transfer.stall_timeout), 0 = the connector's default */
	int stall_timeout;

	/* cost model: how much data the source holds (free egress allowances
	 * depend on it); 0 = unknown */
	uint64_t stored_bytes;
};

/* A bandwidth timetable window: days (bit 0 = Monday .. bit 6 = Sunday),
 * minutes since midnight [start, end), local time; end < start wraps past
 * midnight.  rate 0 = unlimited.  In the plan:
 *   bandwidth: { default: unlimited, "mon-fri 08:00-18:00": 20MB/s } */
struct mg_bw_window {
	unsigned days;
	int start_min, end_min;
	uint64_t rate;
};

enum mg_mode { MG_MODE_COPY = 0, MG_MODE_SYNC };

struct mg_plan {
	char *file;		/* path of the plan file as given */
	unsigned char hash[32];	/* SHA-256 of the plan file's bytes */
	int version;		/* 1 */
	char *name;		/* required; [A-Za-z0-9._-]+ */

	struct mg_endpoint source;
	struct mg_endpoint *targets;	/* `target:` (one) or `targets:` (list) */
	size_t ntargets;
	enum mg_mode mode;

	struct {
		int concurrency;		/* default 4, 1..256 */
		uint64_t part_size;		/* default 64 MiB, 5 MiB..5 GiB */
		uint64_t multipart_threshold;	/* default 64 MiB */
		uint64_t bandwidth;		/* bytes/s, 0 = unlimited */
		struct mg_bw_window *timetable;	/* first match wins */
		size_t ntimetable;
		int verify;			/* default 1 */
		int dedupe;			/* default 1 */
		int retries;			/* default 5 */
		int64_t dead_after;		/* seconds a target may fail every
						 * attempt before it is dead for
						 * the run; default 60 */
		int64_t stall_timeout;		/* seconds without progress that
						 * cut a request; default 30 */
	} transfer;

	struct {
		char **include;		/* globs; empty: everything */
		size_t ninclude;
		char **exclude;
		size_t nexclude;
		uint64_t min_size;	/* 0 = no bound */
		uint64_t max_size;	/* 0 = no bound */
		int64_t newer_than;	/* seconds; 0 = no bound */
		int64_t older_than;	/* seconds; 0 = no bound */
	} filter;

	char *journal;		/* folder; default ./.migrate/<name> */

	struct {
		uint64_t max_count;	/* 0 = no limit */
		double max_percent;	/* 0 = no limit */
		char *quarantine_prefix;/* NULL: delete for real */
	} deletes;

	struct {
		char *cron;		/* "*\/15 * * * *" or NULL */
		int64_t every;		/* seconds, 0 = none */
	} schedule;

	struct {
		int mode;	/* default 1: keep the source's permission bits */
	} preserve;

	/* shard: task index of count (count 0: not sharded); see
	 * engine/run/shard.h and plans/README.md "Sharded runs" */
	struct mg_shard {
		unsigned index, count;
		int by;			/* MG_SHARD_HASH, _FOLDER, _PREFIX */
		char **prefixes;	/* by prefix: count-1 ascending boundaries */
		size_t nprefixes;
	} shard;

	char *metrics_file;	/* Prometheus textfile path, or NULL */
	char *pricing_file;	/* price table; NULL: the built-in one */
	int pricing_free_tier_used;	/* pricing.free_tier: used */
	double pricing_error_rate;	/* pricing.error_rate: retries expected (0..0.5) */

	/* valid but worth a word ("FILE:LINE:COL: warning: ..."), printed by
	 * `migrate check` */
	char **warnings;
	size_t nwarnings;

	/* Appended (issue 15.2): `residency:` - where the buckets may be.
	 * Each entry a region ("eu-central-1") or a set of them ("eu": every
	 * "eu-..." region; see mg_residency_allows).  nregions 0: targets
	 * unguarded; nsources 0: the source unguarded. */
	struct {
		char **regions;
		size_t nregions;
		char **sources;
		size_t nsources;
	} residency;

	/* Appended (issue 15.4): `tags:` and `metadata:`, set on every object
	 * written (values are templates: see mg_gov_expand) */
	struct mg_kv *tags;
	size_t ntags;
	struct mg_kv *meta;
	size_t nmeta;

	/* Appended (issue 15.3): `tiering:` - storage class rules, first
	 * match wins (engine/plan/tiering.c).  None: the target's
	 * storage_class (or its provider's default) for every object. */
	struct mg_tier_rule *tiering;
	size_t ntiering;
	/* Appended (issue 15.5): `retention:` and `legal_hold:` - S3 Object
	 * Lock on every object written (engine/plan/retention.c).  mode
	 * MG_LOCK_NONE: no retention; then days and until are 0. */
	struct mg_retention {
		int mode;		/* MG_LOCK_NONE, _GOVERNANCE, _COMPLIANCE */
		int64_t days;		/* kept this many days from the run's start */
		int64_t until;		/* or to this date (s since the epoch) */
		int legal_hold;		/* legal_hold: true */
	} retention;
};

/* Object Lock retention modes (S3's words: mg_lock_mode_name) */
enum { MG_LOCK_NONE = 0, MG_LOCK_GOVERNANCE, MG_LOCK_COMPLIANCE };

/* One tiering rule: every condition set must hold (0 / NULL: no bound). */
struct mg_tier_rule {
	char *match;		/* glob (filter.h syntax), NULL: any key */
	uint64_t min_size, max_size;
	int64_t older_than, newer_than;	/* seconds, against the source mtime */
	char *cls;		/* the storage class, as S3 spells it */
	struct mg_kv *tags;	/* per-rule tags, over the plan's tags */
	size_t ntags;
	unsigned line, col;	/* of the rule's 'class' value (1-based): messages */
};

/* The first rule of plan that an object (key, size, mtime) falls under
 * at time now (seconds since the epoch), -1 for none. */
int mg_tier_pick(const struct mg_plan *plan, const char *key, uint64_t size,
		 int64_t mtime_ns, int64_t now);
/* 1 when ep's connector takes storage classes (has 'storage_class'): a
 * folder or SFTP target gets none, and the rules do not apply to it. */
int mg_tier_target(const struct mg_endpoint *ep);

enum { MG_SHARD_HASH, MG_SHARD_FOLDER, MG_SHARD_PREFIX };
#define MG_SHARD_MAX 65536	/* count: journal names hold 4 digits, shards 0..65535 */

/* A task's target set is one 64-bit word in the engine: a plan lists at
 * most this many targets (refused at load beyond it). */
#define MG_PLAN_MAX_TARGETS 64

/*
 * Loads and validates path.  On error returns MG_FAILED and fills err->msg
 * with "FILE:LINE:COL: message" (the process then exits 2).
 */
int mg_plan_load(const char *path, struct mg_plan *plan, struct mg_error *err);
/* Same, from a string (name stands for the file in messages; tests). */
int mg_plan_load_string(const char *name, const char *text, size_t len,
			struct mg_plan *plan, struct mg_error *err);
void mg_plan_release(struct mg_plan *plan);

/*
 * What every object written gets besides its bytes (issue 15.4): the
 * plan's tags and metadata with the run's constants, handed to targets in
 * mg_put_info.gov.  A template's {plan}, {run}, {source_url}, {key},
 * {mtime} (RFC 3339, UTC) and {sha256} become their values; {sha256} is
 * empty where the hash is not known when the request is sent (a
 * multipart upload announces its metadata before the first part).
 */
struct mg_governance {
	const char *plan;	/* the plan's name */
	const char *run;	/* the run's id, decimal */
	const char *source_url;
	const struct mg_kv *tags;
	size_t ntags;
	const struct mg_kv *meta;
	size_t nmeta;
	/* Appended (issue 15.5): Object Lock for every object, or NULL and
	 * 0: x-amz-object-lock-mode ("GOVERNANCE", "COMPLIANCE"),
	 * -retain-until-date (ISO 8601 UTC, the same for the whole run) and
	 * -legal-hold: ON. */
	const char *lock_mode;
	const char *lock_until;
	int legal_hold;
};
void mg_gov_expand(const struct mg_governance *g, const char *tmpl,
		   const char *key, int64_t mtime_ns, const char *sha256,
		   struct mg_buf *out);
/* Does a residency list (plan->residency.regions or .sources) allow
 * region?  A set name ("eu", "us", ...) allows every region that starts
 * with it and '-'. */
int mg_residency_allows(char *const *list, size_t n, const char *region);
/* The residency list as text for messages: "eu-central-1, eu (every eu-* region)". */
void mg_residency_text(char *const *list, size_t n, struct mg_buf *b);

/*
 * Retention (issue 15.5, engine/plan/retention.c).  Dates are seconds
 * since the epoch, UTC; S3 takes whole seconds.
 */
#define MG_RETENTION_MAX_DAYS 36500	/* S3's limit on a default retention: 100 years */
/* "GOVERNANCE", "COMPLIANCE", or NULL for MG_LOCK_NONE */
const char *mg_lock_mode_name(int mode);
/* S3's word (upper case, as S3 takes it) -> MG_LOCK_*, or -1 */
int mg_lock_mode_parse(const char *s);
/* "2027-01-31" (midnight UTC) or "2027-01-31T12:00:00Z": 0, or -1 for
 * anything else, a day the month does not have, or a year outside
 * 1970-9999. */
int mg_parse_date(const char *s, int64_t *out);
/* "2027-01-31T12:00:00Z" (20 characters and the NUL) */
void mg_date_iso8601(int64_t s, char out[24]);
/* When an object written at now_s (s since the epoch) may be deleted:
 * r->until, else now_s + r->days days; 0 for no retention. */
int64_t mg_retention_until(const struct mg_retention *r, int64_t now_s);
/* 0, or -1 with why in msg: the date retention asks for has passed at
 * now_s (an `until:` in the past). */
int mg_retention_check(const struct mg_retention *r, int64_t now_s, char *msg,
		       size_t msglen);
/* For people and the audit trail: "GOVERNANCE until 2027-01-31T12:00:00Z",
 * "... , legal hold", "legal hold"; "" for neither. */
void mg_retention_text(const char *mode, int64_t until, int legal_hold,
		       char *out, size_t outlen);
/* Is an object written with this retention still locked at now_s? */
int mg_retention_in_force(const char *mode, int64_t until, int legal_hold,
			  int64_t now_s);

/* Writes the plan back as YAML with secrets masked ("***"). */
void mg_plan_dump(const struct mg_plan *plan, FILE *out);
/* Parses a URL into ep's URL parts and scheme, with every option at its
 * default (relative paths against the current folder); message on
 * failure.  For endpoints made outside a plan (tests, tools). */
int mg_endpoint_parse_url(struct mg_endpoint *ep, const char *url, char *msg,
			  size_t msglen);
/* Sets option key of ep (its connector's, or its wrapper's inner one's)
 * from text as a plan would write it ("true", "64MiB", NULL to unset a
 * string), checked as the plan loader checks it.  0, or -1 with a message. */
int mg_endpoint_set(struct mg_endpoint *ep, const char *key, const char *text,
		    char *msg, size_t msglen);
/* The value of a string option (STRING, PATH, ENV, WORD) of ep or its
 * inner endpoint, NULL when unset or when ep's connectors have no such
 * key: for the few engine parts that read one (pricing: 'endpoint',
 * 'storage_class'). */
const char *mg_endpoint_str(const struct mg_endpoint *ep, const char *key);
/* Any option of ep as text as a plan would write it ("true", "auto",
 * "1024"; a string as is, secrets too), formatted into buf when it is not
 * a string; NULL when unset or unknown.  For tests and tools. */
const char *mg_endpoint_text(const struct mg_endpoint *ep, const char *key,
			     char *buf, size_t buflen);

/*
 * Strict unit parsers: the whole string must be consumed, no negative
 * values, overflow is an error.  They return 0 or -1.
 *   sizes:     "1024", "64MiB", "1GB", "1.5GiB", "512 KiB", "10 B"
 *              (KB/MB/GB/TB = 1000^n; KiB/MiB/GiB/TiB = 1024^n)
 *   rates:     "100MB/s", "800Mbit/s", "20 MiB/s", "1.5Gbit/s", "unlimited" -> 0
 *              (bit rates divide by 8; result in bytes per second)
 *   durations: "30d", "15m", "2h", "45s", "1w", "1h30m" -> seconds
 */
int mg_parse_size(const char *s, uint64_t *out);
int mg_parse_rate(const char *s, uint64_t *bytes_per_s);
int mg_parse_duration(const char *s, int64_t *seconds);
/* "mon-fri 08:00-18:00", "sat,sun 00:00-24:00", "daily 22:00-06:00": a
 * window whose end is before its start wraps past midnight (the days are
 * the days it starts on).  Returns 0 or -1. */
int mg_parse_window(const char *s, struct mg_bw_window *w);
/* 1 if w covers minute min (0..1439) of day (0 = Monday). */
int mg_bw_window_match(const struct mg_bw_window *w, int day, int min);
/* The limit in force at time t (local time): the first window that covers
 * it, else base.  0 = unlimited. */
uint64_t mg_bw_rate_at(uint64_t base, const struct mg_bw_window *w, size_t nw,
		       time_t t);

/* Frees what mg_endpoint_parse_url() and the plan loader put into ep and
 * zeroes it (for an endpoint parsed outside a plan; mg_plan_release()
 * releases the plan's own).  ep must be zeroed before its first parse. */
void mg_endpoint_release(struct mg_endpoint *ep);

/* For connectors' url parsers (which percent-decode with mg_pct_decode(),
 * MG_PCT_STRICT, in mg.h): joins base and rel dropping "." and empty
 * segments (".." is kept).  Returns a new string. */
char *mg_path_join(const char *base, const char *rel);

/*
 * The deepest nesting of mappings and lists a plan or a price table may
 * have (documented in plans/README.md).  Both loaders refuse a deeper file
 * with "FILE:LINE:COL: nesting deeper than 64 levels" before building the
 * document: libyaml spends time on deep nesting that grows faster than the
 * text.  mg_yaml_too_deep() returns 1 with the line and column (1-based)
 * of the first collection past max, else 0 (also for malformed yaml, which
 * the loader then reports).
 */
#define MG_YAML_MAX_DEPTH 64
int mg_yaml_too_deep(const char *text, size_t len, int max, size_t *line,
		     size_t *col);

#endif
