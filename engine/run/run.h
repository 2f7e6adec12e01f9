/*
 * run.h - the engine's private state for one run, shared by its rooms.
 * Internal: nothing outside engine/run/ includes it.
 *
 * One run, in the order things happen (each file one job):
 *   engine.c     the lifecycle: open, start the threads, walk, wait,
 *                sweep, delete, report
 *   walk.c       the merge-join of the source listing with each
 *                target's journal: what each target lacks
 *   actions.c    what a decision becomes: queued (run), printed (dry
 *                run), counted and priced (estimate)
 *   tasks.c      the bounded queue from the walk to the workers
 *   worker.c     a worker: each object to every target, with retries
 *   xfer.c       one object in one piece (streamed, or read whole)
 *   multipart.c  multipart upload and its resume
 *   dedupe.c     server-side copies of content already there
 *   committer.c  group commit: records to the journal, then counted
 *   deletes.c    sync: what is gone, strays, the guarded deletes
 *   targets.c    a target's failures, fatal stop and circuit breaker
 *   shaper.c     the bandwidth limit
 *   progress.c   the progress line
 *   summary.c    --log-json events, the JSON summary, the human one
 * Every call into a connector goes through connector.h's wrappers.
 */
#ifndef MG_RUN_H
#define MG_RUN_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "connector.h"
#include "engine.h"
#include "journal.h"
#include "mg.h"
#include "plan.h"
#include "uploads.h"

struct run;

#define COPY_BUF (1024 * 1024)	/* per worker; big enough for full-speed reads */
#define PART_CHUNK (256 * 1024)	/* multipart read+hash step: stays in L2 */
#define KEEP_FAILURES 50	/* failures listed in the summary (all go to stderr) */

/* ---- token bucket (shaper.c) ---- */

struct shaper {
	pthread_mutex_t mu;
	uint64_t base;		/* bytes/s outside the timetable; 0 = unlimited */
	const struct mg_bw_window *windows;
	size_t nwindows;
	uint64_t rate;		/* in force now */
	int64_t checked_s;	/* when rate was last looked up (seconds) */
	double tokens;
	int64_t last_ns;
	int64_t waited_ns;	/* slept by all workers together (atomic) */
};

/* ---- run state ---- */

/* One object to move.  need and changed are bit sets over the targets
 * (bit i: plan->targets[i]); changed is set for the target in hand while
 * a worker copies it. */
struct task {
	char *key;
	uint64_t size;
	int64_t mtime_ns;
	unsigned mode;		/* source permission bits, 0 unknown */
	char src_etag[80];
	uint64_t need;		/* targets that lack it or hold an old version */
	uint64_t changed_mask;	/* of those, the ones holding an old version */
	int changed;
	/* issue 15.3: the tiering rule the object falls under (-1 none),
	 * the targets that hold it unchanged under another class (a copy
	 * onto itself re-classes it, tiering.c), and the class asked at the
	 * target in hand ("" the endpoint's default), set with changed */
	int rule;
	uint64_t reclass_mask;
	const char *sclass;
};

#define MAX_TARGETS 64		/* a task's target set is one 64-bit word */

struct failure {
	char *key;
	char *msg;
};

struct stats {
	uint64_t new_objects, changed_objects, copied_bytes, new_bytes;
	uint64_t unchanged_objects, unchanged_bytes;
	uint64_t dedup_objects, dedup_bytes;
	uint64_t failed_objects, failed_bytes;
	uint64_t unsendable_objects, unsendable_bytes;	/* estimate: the run would fail them */
	uint64_t skipped_links, skipped_special;
	uint64_t filtered_objects;
	uint64_t resumed_parts, resumed_bytes;
	uint64_t journal_objects;	/* done records before this run (sync base) */
	uint64_t gone_objects, gone_bytes;	/* sync: no longer at the source */
	uint64_t stray_objects;	/* of those, at the target but not journaled */
	uint64_t deleted_objects, deleted_bytes;
	uint64_t reclassed_objects, reclassed_bytes;	/* issue 15.3 */
	/* sync deletes Object Lock refuses (issue 15.5): refused by the
	 * server (a run), or locked by the journal's account (estimate) */
	uint64_t locked_objects, locked_bytes;
};

/* Objects written this run per storage class and per encryption asked
 * (issue 15.6, tiering.c), under run->mu.  A plan names few classes: past
 * TIER_NAMES distinct names the rest count under the last. */
#define TIER_NAMES 16
struct tier_tally {
	char name[24];
	uint64_t objects, bytes;
};
struct tier_counts {
	struct tier_tally cls[TIER_NAMES], enc[4];
	size_t ncls, nenc;
};

struct target_run {
	const struct mg_endpoint *ep;
	const struct mg_connector *ops;
	struct mg_counters counters;
	struct stats st;
	struct failure failures[KEEP_FAILURES];
	size_t nfailures;
	int fatal;			/* a fatal error stopped this target */
	int fatal_said;			/* ...and its reason was printed already */
	struct mg_error fatal_err;
	int listing_incomplete;
	int listing_errors;		/* some entries could not be read */
	char delete_stop[256];		/* why the sync guards stopped deletes */
	/* The circuit breaker (see target_failed): the current streak of
	 * attempts that failed at this target with a transient error. */
	unsigned fail_streak;
	int64_t last_ok_ns;		/* mono: last success there, or the start */
	int died;			/* the breaker declared it dead mid-run */
	int64_t start_ns, end_ns;
	struct mg_upload_issues upl;	/* uploads.c: swept, left open (14.4/14.5) */
	struct est_minimums *est;	/* estages.c: estimate only, else NULL */
	/* issue 15.3/15.6 (tiering.c) */
	const char *enc;		/* the encryption asked ("" none) */
	int classes;			/* storage classes apply here */
	struct tier_counts tier;
	struct mg_class_tally *ctally;	/* estimate with tiering: per class */
	size_t nctally;
	int object_lock;		/* its bucket has Object Lock and the plan
					 * asks for retention or a legal hold */
};

/* estages.c: the estimate's ages of deletes and overwrites (journal copy
 * times) and sizes of what stays at the target, for the price rules. */
void est_note_stored(struct target_run *t, uint64_t size);
void est_note_overwrite(struct run *run, struct target_run *t, const char *key);
void est_note_gone(struct run *run, struct target_run *t, const char *key);
void est_deletes_go(struct target_run *t);	/* the guards let the deletes through */
/* quarantine copies (18.5): one gone object of size, then, once the
 * guards let the deletes through, their requests at dst */
void est_note_quarantine(struct target_run *t, uint64_t size);
void est_quarantine_go(struct target_run *t, const struct mg_conn *dst);
/* dedupe foreseen (18.6): 1 when the run would copy tk at t from content
 * already there or sent earlier (counted: the read, a COPY, a dedupe);
 * 0 when it uploads it (the caller counts that) */
int est_dedupe(struct run *run, struct target_run *t, struct mg_conn *src,
	       struct mg_conn *dst, const char *key, const struct task *tk,
	       int *small_read);
void est_tally(struct target_run *t, struct mg_target_tally *tally);
void est_release(struct target_run *t);
/* Parts of tk a resume skips: those of a journaled upload that
 * upload_resume() would keep (same source, same part size, hashed). */
int est_resume_parts(struct run *run, struct target_run *t, const char *key,
		     const struct task *tk, uint64_t part_size);

/*
 * What the walk's decisions turn into (actions.c): one sink per kind of
 * pass, chosen at the start of the run.  NULL: nothing to do.
 */
struct walk_sink {
	/* sync: drop gone marks (a dead run's, or deletes that stopped) */
	void (*forget_marks)(struct run *run, struct target_run *t);
	/* an entry skipped (what: "skip-link", "skip-special", "skip-dir") */
	void (*skipped)(struct run *run, const char *what, const struct mg_entry *e);
	void (*unchanged)(struct run *run, struct target_run *t,
			  const struct mg_entry *e, const struct mg_obj_record *cur);
	/* issue 15.3: t holds e unchanged under another class than cls */
	void (*reclass)(struct run *run, struct target_run *t,
			const struct mg_entry *e, const struct mg_obj_record *cur,
			const char *cls);
	/* sync: key is gone from the source (counted by the caller) */
	void (*gone)(struct run *run, struct target_run *t, const char *key,
		     uint64_t size);
	/* target i lacks e (tk->need has bit i; changed_mask says how) */
	void (*needed)(struct run *run, size_t i, struct mg_conn *src,
		       struct mg_conn *dst, const struct mg_entry *e,
		       const struct task *tk, int *small_read);
	/* after every target decided: tk goes to the workers; -1 to stop */
	int (*dispatch)(struct run *run, struct task *tk, const char *key);
	/* sync, past the guards: what is marked gone at t */
	void (*delete_gone)(struct run *run, struct target_run *t,
			    struct mg_conn *dst);
};

struct run {
	const struct mg_plan *plan;
	const struct mg_run_opts *opts;
	const struct walk_sink *sink;	/* run, dry run or estimate */
	const struct mg_connector *src_ops;
	struct mg_journal *journal;
	struct mg_counters src_counters;
	struct shaper shaper;
	struct target_run *targets;	/* one per plan target */
	size_t nt;

	pthread_mutex_t mu;
	pthread_cond_t can_pop, can_push;
	struct task *q;
	size_t qcap, qhead, qlen;
	int push_waiting;		/* the walker sleeps on a full queue */
	int closed;
	int stop;			/* fatal error or interrupt: drain and quit */
	int busy_workers;
	int64_t start_ns;		/* mono: durations */
	/* Wall clock (ns since the epoch) at the start: the run's id, the
	 * key of its record (r/<id>) and the run field of the object and
	 * upload records it writes (the end-of-run sweep's token). */
	int64_t id;
	/* the plan's tags and metadata with the run's constants (issue 15.4) */
	struct mg_governance gov;
	/* per tiering rule with tags of its own: gov with them over the
	 * plan's (tiering.c), else NULL */
	struct mg_governance *gov_rule;
	char gov_run[24];
	char gov_digest[65];	/* SHA-256 of the tags and metadata asked, "" none */
	char lock_until[24];	/* gov.lock_until: ISO 8601 (issue 15.5) */
	int64_t lock_until_s;	/* the same in s since the epoch */
	uint64_t listed;		/* objects seen by the walk (progress) */
	/* Group commit: finish() hands a done object's records to the
	 * committer and goes on; the committer writes many with one sync,
	 * then counts them done (see committer_main). */
	pthread_mutex_t cmu;
	pthread_cond_t ccv;
	/* Signalled when the committer takes a batch: a worker with a done
	 * object waits on it while COMMIT_BACKLOG others wait already, so what
	 * waits for the disk (and the memory it holds) stays bounded however
	 * far the workers outrun the syncs. */
	pthread_cond_t croom;
	struct mg_journal_batch *cbatch;
	struct commit_note *notes;
	size_t nnotes, anotes;
	int cstop;
	/* --log-json: one line per object, one per run */
	FILE *logj;
	pthread_mutex_t logmu;
	/* Hashes being uploaded or waiting for their commit (dedupe.c): a
	 * pool of ninflight slots, each on the chain of its hash's bucket
	 * (inflight_head, a power of two of them) or on the free list. */
	char (*inflight)[65];
	int *inflight_next;		/* per slot: next on its chain or the free list */
	int *inflight_head;		/* per bucket: first slot, -1 none */
	unsigned inflight_mask;		/* buckets - 1 */
	int inflight_free;		/* first free slot, -1 none */
	int ninflight;
	pthread_cond_t inflight_done;
	/* Progress and the summary's time split (issue 16.5), under mu
	 * but listed_ns: the bytes listed, the objects and bytes handed to
	 * the workers (counted once per target that needs them), and when
	 * the walk ended (mono, 0 while listing). */
	uint64_t listed_bytes;
	uint64_t queued_objects, queued_bytes;
	int64_t listed_ns;
	/* Batches (batch.c, issue 19.1), under mu: objects a batch holds
	 * at most (0: no batches), objects the workers hold and may hold
	 * (the concurrency), and those sent in a batch (--json). */
	size_t batch;
	size_t batchers;		/* workers that take batches (the first ones) */
	pthread_cond_t can_batch;	/* they wait on it; the others on can_pop */
	size_t held, hold_max;
	uint64_t batched_objects;
};

/* An object whose records wait in run->cbatch. */
struct commit_note {
	struct target_run *t;
	uint64_t size;
	int deduped, changed, claimed;
	/* for --log-json only */
	char *key;
	struct mg_obj_record rec;
	int attempts;
	struct mg_req_times times;
};

#define COMMIT_WINDOW_MS 10	/* longest a done object waits for its sync */
#define COMMIT_MAX 256		/* objects that start a sync at once */
#define COMMIT_BACKLOG 4096	/* objects that may wait for the next sync */

/* ---- one worker ---- */

struct worker {
	struct run *run;
	pthread_t thread;
	struct mg_conn src;
	int src_open;
	struct mg_conn *dsts;		/* one per target, opened on first use */
	int *dst_open;
	struct target_run *t;		/* the target in hand */
	struct mg_conn *dst;		/* its conn: &dsts[t - run->targets] */
	unsigned char *buf;		/* COPY_BUF bytes */
	unsigned char *part;		/* part_size bytes, for multipart only */
	size_t part_alloc;
	unsigned char *small;		/* a small object read whole (read_small) */
	size_t small_alloc;
	int batcher;			/* takes batches (batch.c), else only the
					 * tasks that do not fit one */
	unsigned char *batch;		/* a batch's objects, each read whole */
	size_t batch_alloc;
	/* The attempt in hand's error, what finish() reports: set by the
	 * engine where it decides (a file that grew, the journal), copied
	 * from the target's conn where a request failed, and from the
	 * source's conn once the attempt is over (process()).  First
	 * error wins; cleared per attempt. */
	struct mg_error err;
	/* The object in hand's own request times at the target in hand and
	 * the source (--log-json): both conns point here; cleared per
	 * object and target. */
	struct mg_req_times times;
};

/* Objects up to this size are read whole (xfer.c read_small) and may be
 * deduplicated; see dedupe.c. */
#define DEDUPE_MAX (16u << 20)

/*
 * Sync: the target's own listing, read along with the source's.  An
 * object the journal never recorded (its PUT landed, the run was killed
 * before the record; or put there by another tool) is still gone from
 * the source if the source listing does not have it, and a complete
 * listing of both sides is the only way to know.  Keys under the
 * quarantine prefix and keys the filter leaves out are not ours to
 * delete.
 */
struct tcursor {
	struct mg_lister *it;
	struct mg_buf key;
	uint64_t size;
	int r;		/* MG_OK: key holds the next target key */
};

/* The progress line's thread (progress.c). */
struct progress {
	struct run *run;
	pthread_t thread;
	int on;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
};

/* shaper.c */
void shaper_init(struct shaper *s, uint64_t base,
		 const struct mg_bw_window *w, size_t nw);
int pace(void *arg, size_t n);

/* tasks.c */
void queue_wait(struct run *run, pthread_cond_t *cv);
int run_stopped(struct run *run);
int queue_push(struct run *run, struct task *tk);
int queue_pop(struct run *run, struct task *out);
/* With batches (run->batch): pops one task, and more small ones behind
 * it while they fit (batch_fits) and the workers hold fewer than
 * hold_max objects; the count (>= 1), or -1 when the run is over.
 * queue_done: the worker let go of n objects. */
int queue_pop_batch(struct run *run, struct task *out, size_t max, int batcher);
void queue_done(struct run *run, size_t n);

/* targets.c */
void record_failure(struct run *run, struct target_run *t, const char *key,
		    const struct mg_error *e, uint64_t size);
int key_refused(struct run *run, struct target_run *t, const char *key,
		uint64_t size, const char *doing);
int folder_marker(const struct target_run *t, const char *key, uint64_t size);
void set_fatal(struct run *run, struct target_run *t, const struct mg_error *e);
int journal_check(struct run *run, int r, const char *what);
int target_dead(struct run *run, const struct target_run *t);
void target_ok(struct run *run, struct target_run *t);
int target_failed(struct run *run, struct target_run *t, const struct mg_error *e);

/* summary.c */
void log_object(struct run *run, const struct target_run *t, const char *key,
		uint64_t size, const struct mg_obj_record *rec,
		const char *action, int attempts, const char *error,
		const struct mg_req_times *times);
json_t *counters_json(const struct mg_counters *c);
json_t *target_json(const struct target_run *t);
void print_target_summary(const struct run *run, const struct target_run *t);
int summary_estimate(struct run *run, int exit_code);
void summary_report(struct run *run, const char *planhex, int exit_code);

/* xfer.c */
struct mg_put_info put_info(const struct run *run, const struct task *tk);
int interrupted_error(struct mg_error *e);
int copy_simple(struct worker *w, const struct task *tk,
		struct mg_obj_record *rec);
int read_whole(struct worker *w, const struct task *tk, unsigned char *dst,
	       struct mg_put_final *fin);
int read_small(struct worker *w, const struct task *tk,
	       struct mg_put_final *fin);
int put_small(struct worker *w, const struct task *tk,
	      const struct mg_put_final *fin, struct mg_obj_record *rec,
	      int *deduped, int *claimed);

/* multipart.c */
int multipart_unsendable(const struct run *run, const struct mg_connector *dst,
			 uint64_t size);
uint64_t multipart_part_size(const struct run *run, const struct mg_connector *dst,
			     uint64_t size);
int multipart_parts(const struct run *run, const struct mg_connector *dst,
		    uint64_t size);
int copy_multipart(struct worker *w, const struct task *tk,
		   struct mg_obj_record *rec);

/* dedupe.c */
void inflight_init(struct run *run, int slots);
void inflight_free(struct run *run);
int inflight_claim(struct run *run, const char *sha);
/* inflight_claim without the wait: -2 when the hash is in flight. */
int inflight_try_claim(struct run *run, const char *sha);
void inflight_release(struct run *run, int slot);
int try_dedupe(struct worker *w, const struct task *tk,
	       const struct mg_put_final *fin, struct mg_obj_record *rec);

/* committer.c */
void finish(struct worker *w, const struct task *tk, int r,
	    struct mg_obj_record *rec, int multipart, int deduped, int claimed,
	    int attempts);
void *committer_main(void *arg);

/* worker.c */
void *worker_main(void *arg);
void process(struct worker *w, struct task *tk);
int use_target(struct worker *w, size_t i);

/* batch.c */
void batch_setup(struct run *run, int nworkers);
int batch_fits(const struct run *run, const struct task *tk);
void process_batch(struct worker *w, struct task *tks, size_t n);

/* progress.c */
void progress_start(struct progress *prog, struct run *run);
void progress_stop(struct progress *prog);

/* latency_report.c */
void latency_attach(struct run *run);
void latency_release(struct run *run);
json_t *latency_json(const struct mg_latency *l);
void latency_print(FILE *out, const char *who, const struct mg_latency *l);
json_t *req_times_json(const struct mg_req_times *t);

/* walk.c */
int walk(struct run *run, struct mg_conn *src, struct mg_conn *dsts);

/* governance.c: the residency guard before the first byte moves; -1: the
 * run is refused (every target fatal, said). */
int governance_residency(struct run *run, struct mg_conn *src,
			 struct mg_conn *dsts, const int *dst_ok);
/* the plan's tags and metadata (as written, before substitution) as one
 * SHA-256 for the audit trail; "" when the plan has none */
void governance_digest(const struct mg_plan *plan, char out[65]);
/* retention (issue 15.5): Object Lock checked at every target before the
 * first byte moves, the run's retain-until date set; -1: the run is
 * refused (every target fatal, said) */
int governance_retention(struct run *run, struct mg_conn *dsts, const int *dst_ok);
/* the lock a target with Object Lock gave an object, onto its record */
void governance_stamp(const struct run *run, const struct target_run *t,
		      struct mg_obj_record *rec);
/* the journal's record of key at t says it is locked at now_s */
int governance_locked(struct run *run, const struct target_run *t, const char *key,
		      int64_t now_s, struct mg_obj_record *rec);
/* estimate: counts a gone key whose delete Object Lock would refuse */
void governance_note_gone(struct run *run, struct target_run *t, const char *key);

/* tiering.c (issue 15.3/15.6): storage classes per object, re-classing */
void tiering_init(struct run *run);
void tiering_release(struct run *run);
/* The class asked of target t for an object under rule ("" the bucket's) */
const char *tier_class(const struct run *run, const struct target_run *t, int rule);
/* 1 when target t holds cur (unchanged) under another class than rule's */
int tier_wants_reclass(const struct run *run, const struct target_run *t,
		       const struct mg_obj_record *cur, int rule);
/* The re-class of tk at the worker's target in hand: a copy onto itself */
void tier_reclass(struct worker *w, struct task *tk);
/* Counts one object written with rec's class and encryption (under mu) */
void tier_count(struct target_run *t, const struct mg_obj_record *rec, uint64_t size);
json_t *tier_json(const struct target_run *t);
/* the estimate's per-class tally (estimate with tiering only): an object
 * written (its requests: t->counters since before), one held unchanged,
 * one re-classed from cur's class to cls */
void tier_est_written(const struct run *run, struct target_run *t, const struct task *tk,
		      const struct mg_counters *before);
void tier_est_held(const struct run *run, struct target_run *t,
		   const struct mg_obj_record *cur, uint64_t size);
void tier_est_reclass(const struct run *run, struct target_run *t,
		      const struct mg_obj_record *cur, const char *cls, uint64_t size);
void tier_print(const struct target_run *t);

/* actions.c */
extern const struct walk_sink run_sink, dry_run_sink, estimate_sink;
const struct walk_sink *walk_sink_for(const struct mg_run_opts *opts);

/* deletes.c */
void delete_marked(struct run *run, struct target_run *t, struct mg_conn *dst);
void drop_marks(struct run *run, struct target_run *t);
void note_gone(struct run *run, struct target_run *t, const char *key,
	       const struct mg_obj_record *rec);
void sync_deletes(struct run *run, struct target_run *t, struct mg_conn *dst);
void tcursor_open(struct run *run, struct target_run *t, struct mg_conn *dst,
		  struct tcursor *tc);
void tcursor_until(struct run *run, struct target_run *t, struct mg_conn *dst,
		   struct tcursor *tc, const char *key);
void tcursor_close(struct mg_conn *dst, struct tcursor *tc);


#endif
