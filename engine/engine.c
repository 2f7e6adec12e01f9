/*
 * engine.c - one run of a plan: walk, filter, diff, transfer, record.
 *
 * The main thread walks the source listing and the journal side by side
 * (both in byte-wise key order, so the diff is a merge-join that holds
 * nothing per object), and feeds a bounded queue.  N workers take objects
 * from the queue and move them; each worker has its own source and target
 * connection.  An object is counted done only after its journal record is
 * durable (synced write).
 *
 * Targets are processed one after another in v1; each has its own journal
 * key space (o/<tid>/...), so adding a target later only moves what that
 * target lacks.
 */
#include "config.h"

/* The multipart path saves the raw SHA-256 state in the journal so a
 * resumed upload need not read the finished parts again; OpenSSL 3 keeps
 * SHA256_CTX for exactly this kind of use but marks it deprecated. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/sha.h>

#include "connector.h"
#include "engine.h"
#include "filter.h"
#include "journal.h"
#include "mg.h"
#include "plan.h"
#include "safefile.h"
#include "testhook.h"
#include "uploads.h"


#define COPY_BUF (1024 * 1024)	/* per worker; big enough for full-speed reads */
#define PART_CHUNK (256 * 1024)	/* multipart read+hash step: stays in L2 */
#define MAX_PARTS 10000		/* S3's limit on parts per upload */
#define KEEP_FAILURES 50	/* failures listed in the summary (all go to stderr) */

/* ---- token bucket ---- */

/*
 * One bucket shared by all workers.  The bucket holds at most a tenth of a
 * second of tokens, so a burst after an idle moment stays well under a
 * second at full rate.  The target connectors take tokens for each chunk
 * just before it goes on the wire (mg_pace(): curl's read callback, the
 * write(2), the SFTP write) and sleep for the deficit, so what is limited
 * is what is sent, not what is buffered.
 */
struct shaper {
	pthread_mutex_t mu;
	uint64_t base;		/* bytes/s outside the timetable; 0 = unlimited */
	const struct mg_bw_window *windows;
	size_t nwindows;
	uint64_t rate;		/* in force now */
	int64_t checked_s;	/* when rate was last looked up (seconds) */
	double tokens;
	int64_t last_ns;
};

/* SIGUSR2 flips this (main.c): the limit is lifted until the next SIGUSR2. */
volatile sig_atomic_t mg_bwlimit_off;

static void shaper_init(struct shaper *s, uint64_t base,
			const struct mg_bw_window *w, size_t nw)
{
	pthread_mutex_init(&s->mu, NULL);
	s->base = base;
	s->windows = w;
	s->nwindows = nw;
	s->checked_s = -1;
	s->tokens = 0;
	s->last_ns = mg_mono_ns();
}

static void shaper_take(struct shaper *s, size_t n)
{
	int64_t wait_ns = 0;

	if (!s->base && !s->nwindows)
		return;
	pthread_mutex_lock(&s->mu);
	{
		int64_t now = mg_mono_ns();
		time_t wall = time(NULL);
		double burst;

		/* the timetable is looked at once a second at most */
		if ((int64_t)wall != s->checked_s) {
			s->rate = mg_bw_rate_at(s->base, s->windows, s->nwindows, wall);
			s->checked_s = (int64_t)wall;
		}
		if (s->rate && !mg_bwlimit_off) {
			burst = (double)s->rate / 10;
			s->tokens += (double)(now - s->last_ns) * (double)s->rate / 1e9;
			if (s->tokens > burst)
				s->tokens = burst;
			s->tokens -= (double)n;
			wait_ns = s->tokens < 0 ?
				  (int64_t)(-s->tokens * 1e9 / (double)s->rate) : 0;
		} else {
			s->tokens = 0;
		}
		s->last_ns = now;
	}
	pthread_mutex_unlock(&s->mu);
	/* Sleep in slices so SIGUSR2 (lift the limit) and ^C act at once. */
	while (wait_ns > 0 && !mg_bwlimit_off && !mg_interrupted) {
		int64_t step = wait_ns < 100000000 ? wait_ns : 100000000;
		struct timespec ts = { 0, (long)step };

		nanosleep(&ts, NULL);
		wait_ns -= step;
	}
}

static int pace(void *arg, size_t n)
{
	shaper_take(arg, n);
	return mg_interrupted != 0;
}

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
	uint64_t skipped_links, skipped_special;
	uint64_t filtered_objects;
	uint64_t resumed_parts, resumed_bytes;
	uint64_t journal_objects;	/* done records before this run (sync base) */
	uint64_t gone_objects, gone_bytes;	/* sync: no longer at the source */
	uint64_t stray_objects;	/* of those, at the target but not journaled */
	uint64_t deleted_objects, deleted_bytes;
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
};

struct run {
	const struct mg_plan *plan;
	const struct mg_run_opts *opts;
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
	int64_t start_ns;
	uint64_t listed;		/* objects seen by the walk (progress) */
	/* Group commit: finish() hands a done object's records to the
	 * committer and goes on; the committer writes many with one sync,
	 * then counts them done (see committer_main). */
	pthread_mutex_t cmu;
	pthread_cond_t ccv;
	struct mg_journal_batch *cbatch;
	struct commit_note *notes;
	size_t nnotes, anotes;
	int cstop;
	/* --log-json: one line per object, one per run */
	FILE *logj;
	pthread_mutex_t logmu;
	char (*inflight)[65];		/* hashes being uploaded, one per worker */
	int ninflight;
	pthread_cond_t inflight_done;
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
};

#define COMMIT_WINDOW_MS 10	/* longest a done object waits for its sync */
#define COMMIT_MAX 256		/* objects that start a sync at once */

/* What a target is told about an object it is about to write. */
static struct mg_put_info put_info(const struct run *run, const struct task *tk)
{
	struct mg_put_info info = { .size = tk->size, .mtime_ns = tk->mtime_ns };

	if (run->plan->preserve.mode)
		info.mode = tk->mode;
	return info;
}

static char *url_join(const char *base, const char *key)
{
	size_t n = strlen(base);
	struct mg_buf b = MG_BUF_INIT;

	mg_buf_addf(&b, "%s%s%s", base, n && base[n - 1] == '/' ? "" : "/", key);
	return b.buf;
}

static json_t *json_str(const char *s)
{
	/* keys are bytes: one rule for every output (mg.h, mg_key_text) */
	char *t = mg_key_text(s, NULL);
	json_t *j = json_string(t);

	free(t);
	return j;
}

/*
 * --log-json: one line per object and action (copied, deduped, skipped,
 * failed), written when the outcome is final (a copy once its record is
 * on disk).  rec may be NULL (failed before anything was known).
 */
static void log_object(struct run *run, const struct target_run *t, const char *key,
		       uint64_t size, const struct mg_obj_record *rec,
		       const char *action, int attempts, const char *error)
{
	json_t *o;
	char *src, *dst, *line;

	if (!run->logj)
		return;
	src = url_join(run->plan->source.url, key);
	dst = url_join(t->ep->url, key);
	o = json_object();
	json_object_set_new(o, "event", json_string("object"));
	json_object_set_new(o, "time", json_real((double)mg_now_ns() / 1e9));
	json_object_set_new(o, "source", json_str(src));
	json_object_set_new(o, "target", json_str(dst));
	json_object_set_new(o, "key", json_str(key));
	if (!mg_utf8_valid(key, strlen(key)))	/* flagged as lineage does */
		json_object_set_new(o, "key_escaped", json_true());
	json_object_set_new(o, "size", json_integer((json_int_t)size));
	json_object_set_new(o, "action", json_string(action));
	if (rec && rec->sha256[0])
		json_object_set_new(o, "sha256", json_string(rec->sha256));
	if (rec && rec->etag[0])
		json_object_set_new(o, "etag", json_str(rec->etag));
	if (rec && rec->t_start && rec->t_done >= rec->t_start)
		json_object_set_new(o, "duration_s",
				    json_real((double)(rec->t_done - rec->t_start) / 1e9));
	if (attempts)
		json_object_set_new(o, "attempts", json_integer(attempts));
	if (error)
		json_object_set_new(o, "error", json_str(error));
	line = json_dumps(o, JSON_COMPACT);
	pthread_mutex_lock(&run->logmu);
	fprintf(run->logj, "%s\n", line);
	pthread_mutex_unlock(&run->logmu);
	free(line);
	free(src);
	free(dst);
	json_decref(o);
}

static void record_failure(struct run *run, struct target_run *t, const char *key,
			   const struct mg_error *e, uint64_t size)
{
	struct mg_buf line = MG_BUF_INIT;

	pthread_mutex_lock(&run->mu);
	t->st.failed_objects++;
	t->st.failed_bytes += size;
	if (t->nfailures < KEEP_FAILURES) {
		t->failures[t->nfailures].key = mg_strdup(key);
		t->failures[t->nfailures].msg = mg_strdup(e->msg);
		t->nfailures++;
	}
	pthread_mutex_unlock(&run->mu);
	/* keys and the messages quoting them come from other people's
	 * buckets and archives: never raw to a terminal */
	mg_buf_adds(&line, "migrate: '");
	mg_buf_add_printable(&line, key, 0);
	mg_buf_adds(&line, "'");
	if (run->nt > 1)
		mg_buf_addf(&line, " to %s", t->ep->url);
	mg_buf_adds(&line, ": ");
	mg_buf_add_printable(&line, e->msg[0] ? e->msg : "failed", 0);
	fprintf(stderr, "%s\n", line.buf);
	mg_buf_release(&line);
}

/*
 * The "Contained" rule, decided here once for every target: a key that
 * could name something outside the target (a '..' segment, an absolute
 * name), or that this kind of target cannot hold, fails as an object of
 * its own; the rest of the run goes on.  Returns 1 when refused.
 */
static int key_refused(struct run *run, struct target_run *t, const char *key,
		       uint64_t size, const char *doing)
{
	unsigned files = t->ops->caps & MG_CAP_FILES;
	const char *why = NULL;
	struct mg_error err = { 0 };

	if (mg_key_check(key, files ? MG_KEY_FILE : 0, &why) == 0) {
		if (files || mg_utf8_valid(key, strlen(key)))
			return 0;
		why = "is not valid UTF-8, which object stores require (rename it "
		      "at the source)";
	}
	mg_error_set(&err, MG_FAILED, 0, 0, "key", "refused to %s: the key %s",
		     doing, why);
	record_failure(run, t, key, &err, size);
	return 1;
}

/* An S3 "folder marker" (a zero-byte "dir/") has nothing to say to a
 * target whose keys are file names: the folder appears with its files. */
static int folder_marker(const struct target_run *t, const char *key, uint64_t size)
{
	size_t n = strlen(key);

	return (t->ops->caps & MG_CAP_FILES) && size == 0 && n > 0 && key[n - 1] == '/';
}

/* A fatal error stops one target (t), or with t NULL the source and so
 * every target.  The run stops once no target is left. */
static void set_fatal(struct run *run, struct target_run *t, const struct mg_error *e)
{
	size_t alive = 0;

	pthread_mutex_lock(&run->mu);
	for (size_t i = 0; i < run->nt; i++) {
		struct target_run *x = &run->targets[i];

		if ((!t || x == t) && !x->fatal) {
			x->fatal = 1;
			x->fatal_err = *e;
		}
		alive += !x->fatal;
	}
	if (!alive) {
		run->stop = 1;
		pthread_cond_broadcast(&run->can_pop);
		pthread_cond_broadcast(&run->can_push);
	}
	pthread_mutex_unlock(&run->mu);
}

static int target_dead(struct run *run, const struct target_run *t)
{
	int dead;

	pthread_mutex_lock(&run->mu);
	dead = t->fatal;
	pthread_mutex_unlock(&run->mu);
	return dead;
}

/*
 * The circuit breaker (transfer.dead_after).  A target that dies mid-run (503 on everything,
 * connection refused, a server that accepts and never answers) would
 * otherwise cost every queued object its client retries times the
 * engine's attempts: about an hour, measured, for hundreds of objects
 * reported failed one by one.  When no attempt at a target has succeeded
 * for dead_after seconds (60 by default: counted from the last success,
 * or the start) and at least DEAD_AFTER_FAILS attempts in a row failed
 * there with a transient error, it is dead
 * for this run: nothing more is sent to it, the run exits 3 naming it,
 * other targets of a fan-out go on, and the journal holds only what the
 * target confirmed.  Both bounds must hold, so one slow burst of errors
 * on a healthy server does not trip it.  Object-specific failures (a
 * 403 on one key, a source file gone) neither count nor reset it.
 */
#define DEAD_AFTER_FAILS 3

static void target_ok(struct run *run, struct target_run *t)
{
	int64_t now = mg_mono_ns();

	pthread_mutex_lock(&run->mu);
	t->fail_streak = 0;
	t->last_ok_ns = now;
	pthread_mutex_unlock(&run->mu);
}

/* Counts a transient failure at t; returns 1 when t is now dead. */
static int target_failed(struct run *run, struct target_run *t, const struct mg_error *e)
{
	int64_t now = mg_mono_ns(), secs;
	struct mg_error dead = { 0 };
	unsigned n;

	pthread_mutex_lock(&run->mu);
	n = ++t->fail_streak;
	secs = (now - t->last_ok_ns) / 1000000000;
	pthread_mutex_unlock(&run->mu);
	if (n < DEAD_AFTER_FAILS || secs < run->plan->transfer.dead_after)
		return target_dead(run, t);
	mg_error_set(&dead, MG_FATAL, e->sys_errno, e->remote_code, "breaker",
		     "target %s: no attempt succeeded for %" PRId64 " s (%u failed in a row; "
		     "the last: %s): nothing more is sent to it this run; check the "
		     "server, then run again to resume", t->ep->url, secs, n,
		     e->msg[0] ? e->msg : "no detail");
	if (!target_dead(run, t)) {
		fprintf(stderr, "migrate: %s\n", dead.msg);
		t->fatal_said = 1;
		t->died = 1;
	}
	set_fatal(run, t, &dead);
	return 1;
}

/* ---- queue ---- */

/* A signal handler cannot signal a condition variable, so waiters wake
 * every 200 ms to look at mg_interrupted. */
static void queue_wait(struct run *run, pthread_cond_t *cv)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 200 * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(cv, &run->mu, &ts);
}

/* Takes ownership of *tk.  Returns 0, or -1 when the run is stopping. */
static int queue_push(struct run *run, struct task *tk)
{
	pthread_mutex_lock(&run->mu);
	while (run->qlen == run->qcap && !run->stop && !mg_interrupted) {
		run->push_waiting = 1;
		queue_wait(run, &run->can_push);
	}
	if (run->stop || mg_interrupted) {
		pthread_mutex_unlock(&run->mu);
		free(tk->key);
		return -1;
	}
	run->q[(run->qhead + run->qlen) % run->qcap] = *tk;
	run->qlen++;
	pthread_cond_signal(&run->can_pop);
	pthread_mutex_unlock(&run->mu);
	return 0;
}

static int queue_pop(struct run *run, struct task *out)
{
	pthread_mutex_lock(&run->mu);
	while (run->qlen == 0 && !run->closed && !run->stop && !mg_interrupted)
		queue_wait(run, &run->can_pop);
	if (run->qlen == 0 || run->stop || mg_interrupted) {
		pthread_mutex_unlock(&run->mu);
		return -1;
	}
	*out = run->q[run->qhead];
	run->qhead = (run->qhead + 1) % run->qcap;
	run->qlen--;
	run->busy_workers++;
	/* Wake the walker only once the queue is half empty: it then refills
	 * it in one go instead of trading a wakeup with a worker per task. */
	if (run->push_waiting && run->qlen <= run->qcap / 2) {
		run->push_waiting = 0;
		pthread_cond_signal(&run->can_push);
	}
	pthread_mutex_unlock(&run->mu);
	return 0;
}

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
};

/*
 * Content dedupe.  An object small enough to hold (DEDUPE_MAX) is read
 * into memory first, so its SHA-256 is known before anything is sent: if
 * the journal's hash index (h/<sha256>/<tid>/<key>) knows a key at this
 * target with that content, the object becomes a server-side copy of it.
 * Two workers hashing the same content at the same moment would both
 * upload it, so a hash being uploaded is registered as in flight and a
 * second worker waits for it, then copies.  Larger objects stream: their
 * hash is only known once they are sent, so they are not deduplicated.
 */
#define DEDUPE_MAX (16u << 20)

static int interrupted_error(struct mg_error *e)
{
	return mg_error_set(e, MG_FATAL, EINTR, 0, "copy", "interrupted");
}

static uint64_t pick_part_size(uint64_t size, uint64_t part)
{
	/* Grow the part size until the object fits in S3's 10,000 parts. */
	while (part && (size + part - 1) / part > MAX_PARTS)
		part *= 2;
	return part;
}

static void sha_state_hex(const SHA256_CTX *c, char *out)
{
	mg_hex((const unsigned char *)c, sizeof(*c), out);
}

static int sha_state_parse(const char *hex, SHA256_CTX *c)
{
	unsigned char *p = (unsigned char *)c;

	if (strlen(hex) != 2 * sizeof(*c))
		return -1;
	for (size_t i = 0; i < sizeof(*c); i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		p[i] = (unsigned char)v;
	}
	return 0;
}

/* Streams one object through the writer (single PUT / atomic file). */
static int copy_simple(struct worker *w, const struct task *tk,
		       struct mg_obj_record *rec)
{
	struct mg_reader *rd = NULL;
	struct mg_writer *wr = NULL;
	struct mg_put_info info = put_info(w->run, tk);
	struct mg_put_final fin;
	struct mg_put_result res = { { 0 }, { 0 } };
	unsigned char digest[SHA256_DIGEST_LENGTH];
	SHA256_CTX sha;
	uint64_t total = 0;
	int r;

	/* an empty object is read without a range: some servers stall on
	 * a ranged GET of zero bytes */
	r = mg_read_open(&w->src, tk->key, 0, tk->size ? UINT64_MAX : 0, &rd);
	if (r != MG_OK)
		return r;
	r = mg_write_open(w->dst, tk->key, &info, &wr);
	if (r != MG_OK) {
		w->src.ops->read_close(rd);
		mg_error_copy(&w->src.err, &w->dst->err);
		return r;
	}
	SHA256_Init(&sha);
	for (;;) {
		size_t got = 0;

		if (mg_interrupted) {
			r = interrupted_error(&w->src.err);
			break;
		}
		r = w->src.ops->read(rd, w->buf, COPY_BUF, &got);
		if (r != MG_OK || got == 0)
			break;
		total += got;
		if (total > tk->size) {
			r = mg_error_set(&w->src.err, MG_FAILED, 0, 0, "read",
					 "'%s' grew while it was copied (listed %" PRIu64
					 " bytes): it is retried next run", tk->key, tk->size);
			break;
		}
		SHA256_Update(&sha, w->buf, got);
		r = w->dst->ops->write(wr, w->buf, got);
		if (r != MG_OK) {
			mg_error_copy(&w->src.err, &w->dst->err);
			break;
		}
	}
	w->src.ops->read_close(rd);
	if (r == MG_OK && total != tk->size)
		r = mg_error_set(&w->src.err, MG_FAILED, 0, 0, "read",
				 "'%s' changed size while it was copied (listed %" PRIu64
				 ", read %" PRIu64 " bytes): it is retried next run",
				 tk->key, tk->size, total);
	if (r != MG_OK) {
		w->dst->ops->write_abort(wr);
		return r;
	}
	SHA256_Final(digest, &sha);
	mg_hex(digest, sizeof(digest), fin.sha256);
	memset(fin.md5, 0, sizeof(fin.md5));
	r = w->dst->ops->write_commit(wr, &fin, &res);
	if (r != MG_OK) {
		mg_error_copy(&w->src.err, &w->dst->err);
		return r;
	}
	snprintf(rec->sha256, sizeof(rec->sha256), "%s", fin.sha256);
	snprintf(rec->etag, sizeof(rec->etag), "%s", res.etag);
	return MG_OK;
}

struct server_parts {
	struct mg_part *parts;
	size_t n, alloc;
};

static int collect_part(void *arg, const struct mg_part *p)
{
	struct server_parts *sp = arg;

	if (sp->n == sp->alloc) {
		sp->alloc = sp->alloc ? 2 * sp->alloc : 64;
		sp->parts = mg_realloc(sp->parts, sp->alloc * sizeof(*sp->parts));
	}
	sp->parts[sp->n++] = *p;
	return 0;
}

static const struct mg_part *find_part(const struct server_parts *sp, int number)
{
	for (size_t i = 0; i < sp->n; i++)
		if (sp->parts[i].number == number)
			return &sp->parts[i];
	return NULL;
}

static void strip_quotes(char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		memmove(s, s + 1, n - 2);
		s[n - 2] = '\0';
	}
}

/*
 * Reconciles a journaled upload with the server (ListParts): only parts the
 * server holds with the journaled ETag count as done, and only the leading
 * run of them that the saved hash state covers can be skipped.  Returns the
 * number of leading parts to skip, or -1 when the upload cannot be resumed
 * (why says so; the caller gives it up and starts over), or -2 when
 * ListParts failed for now (*status: its grade, w->dst->err the detail;
 * the record is kept and the object retried).
 */
static int reconcile_upload(struct worker *w, const struct task *tk,
			    struct mg_upload_record *up, SHA256_CTX *sha,
			    char *why, size_t whylen, int *status)
{
	struct server_parts sp = { NULL, 0, 0 };
	const struct mg_connector *ops = w->dst->ops;
	int skip = 0, r;

	snprintf(why, whylen, "the source changed since the upload began");
	if (up->size != tk->size || up->mtime_ns != tk->mtime_ns ||
	    strcmp(up->src_etag, tk->src_etag))
		return -1;
	snprintf(why, whylen, "no part was sent");
	if (!up->hashed_parts || sha_state_parse(up->hash_state, sha) < 0)
		return -1;
	if (!ops->mp_list_parts) {
		snprintf(why, whylen, "cannot be resumed: the '%s' connector cannot "
			 "list parts", ops->scheme);
		return -1;
	}
	r = ops->mp_list_parts(w->dst, tk->key, up->upload_id, collect_part, &sp);
	if (r != MG_OK) {
		free(sp.parts);
		if (r == MG_RETRY || r == MG_FATAL) {
			*status = r;
			return -2;
		}
		/* the server does not know it (gone: the abort confirms it)
		 * or cannot list parts at all (s3rver: 405): say which */
		snprintf(why, whylen, "cannot be resumed: ListParts failed: %s",
			 w->dst->err.msg);
		mg_error_clear(&w->dst->err);
		return -1;
	}
	for (size_t i = 0; i < up->nparts && (int)i < up->hashed_parts; i++) {
		const struct mg_part_record *jp = &up->parts[i];
		const struct mg_part *p = find_part(&sp, jp->number);
		char etag[80];

		if (jp->number != (int)i + 1 || !p)
			break;
		snprintf(etag, sizeof(etag), "%s", p->etag);
		strip_quotes(etag);
		if (strcmp(etag, jp->etag) || p->size != jp->size)
			break;
		skip++;
	}
	free(sp.parts);
	snprintf(why, whylen, "cannot be resumed: the server holds other parts "
		 "than the journal");
	if (skip != up->hashed_parts)
		return -1;	/* hash state and parts disagree: start over */
	up->nparts = (size_t)skip;
	return skip;
}

static void hex_md5(const unsigned char md5[16], char *out)
{
	mg_hex(md5, 16, out);
}

/*
 * Multipart upload with part-level resume.  Journal first: the upload id is
 * durable before the first part is sent, each part (with the running hash
 * state) is durable when its response arrives, and a crash at any instant
 * leaves a record the next run reconciles with ListParts.
 */
static int copy_multipart(struct worker *w, const struct task *tk,
			  struct mg_obj_record *rec)
{
	struct run *run = w->run;
	const struct mg_plan *plan = run->plan;
	const struct mg_connector *ops = w->dst->ops;
	const char *tid = w->t->ep->id;
	struct mg_put_info info = put_info(w->run, tk);
	struct mg_upload_record up;
	struct mg_put_result res = { { 0 }, { 0 } };
	struct mg_part *parts = NULL;
	struct mg_reader *rd = NULL;
	uint64_t part_size, rd_pos = 0;
	unsigned char digest[SHA256_DIGEST_LENGTH];
	SHA256_CTX sha;
	int nparts, skip = 0, r = MG_OK, fresh = 0;
	uint64_t retried;

	part_size = pick_part_size(tk->size, plan->transfer.part_size);
	nparts = (int)((tk->size + part_size - 1) / part_size);

	if (mg_journal_get_upload(run->journal, tid, tk->key, &up) == MG_OK) {
		char why[600];

		/* this run wants it: the end-of-run sweep keeps it */
		if (up.run != run->start_ns) {
			up.run = run->start_ns;
			mg_journal_put_upload(run->journal, tid, tk->key, &up, 0);
		}
		snprintf(why, sizeof(why), "the part size changed");
		if (up.part_size == part_size)
			skip = reconcile_upload(w, tk, &up, &sha, why, sizeof(why), &r);
		else
			skip = -1;
		if (skip == -2) {
			/* ListParts failed for now: keep the record, retry */
			mg_error_copy(&w->src.err, &w->dst->err);
			mg_upload_record_release(&up);
			return r;
		}
		if (skip < 0) {
			/* Dropped only once the server confirmed the abort. */
			r = mg_upload_give_up(run->journal, tid, w->dst, tk->key,
					      up.upload_id, why, &w->t->upl);
			/* resume refused by the server: said, not silent */
			if (r == MG_OK && !strncmp(why, "cannot be resumed", 17))
				mg_upload_note_restart(&w->t->upl, tk->key, up.upload_id,
						       why);
			mg_upload_record_release(&up);
			if (r == MG_RETRY || r == MG_FATAL) {
				mg_error_copy(&w->src.err, &w->dst->err);
				return r;
			}
			r = MG_OK;
			skip = 0;
		} else {
			pthread_mutex_lock(&run->mu);
			w->t->st.resumed_parts += (uint64_t)skip;
			w->t->st.resumed_bytes += (uint64_t)skip * part_size;
			pthread_mutex_unlock(&run->mu);
		}
	}
	if (skip == 0) {
		memset(&up, 0, sizeof(up));
		/* Journal the intent first: an upload whose id never reaches
		 * the journal (a crash, a lost answer) is found again by the
		 * sweep with ListMultipartUploads (uploads.c). */
		if (mg_upload_intent_begin(run->journal, tid, tk->key, &fresh) != MG_OK)
			return mg_error_set(&w->src.err, MG_FATAL, 0, 0, "journal",
					    "cannot write the journal");
		retried = w->dst->retried;
		r = ops->mp_create(w->dst, tk->key, &info, NULL, up.upload_id,
				   sizeof(up.upload_id));
		if (w->dst->retried != retried)
			fresh = 0;	/* an attempt whose answer was lost may
					 * have made an upload too: the sweep
					 * looks for it */
		if (r != MG_OK) {
			/* the intent stays: the upload may exist all the same */
			mg_error_copy(&w->src.err, &w->dst->err);
			return r;
		}
		up.part_size = part_size;
		up.size = tk->size;
		up.mtime_ns = tk->mtime_ns;
		snprintf(up.src_etag, sizeof(up.src_etag), "%s", tk->src_etag);
		up.t_start = mg_now_ns();
		up.run = run->start_ns;
		SHA256_Init(&sha);
		r = mg_journal_put_upload(run->journal, tid, tk->key, &up, 1);
		if (r != MG_OK) {
			/* the intent stays for the sweep if this abort fails */
			ops->mp_abort(w->dst, tk->key, up.upload_id);
			return mg_error_set(&w->src.err, MG_FATAL, 0, 0, "journal",
					    "cannot write the journal");
		}
		mg_upload_intent_end(run->journal, tid, tk->key, fresh);
		mg_test_point("upload");
	}

	if (w->part_alloc < part_size) {
		free(w->part);
		w->part = mg_malloc(part_size);
		w->part_alloc = part_size;
	}
	parts = mg_calloc((size_t)nparts, sizeof(*parts));
	for (int i = 0; i < skip; i++) {
		parts[i].number = up.parts[i].number;
		parts[i].size = up.parts[i].size;
		snprintf(parts[i].etag, sizeof(parts[i].etag), "%s", up.parts[i].etag);
	}

	/* Read from the first part still to send; a source without ranged
	 * reads is read from the start and the done parts discarded. */
	rd_pos = (uint64_t)skip * part_size;
	if (!mg_conn_has(&w->src, MG_CAP_RANGE_READ))
		rd_pos = 0;
	r = mg_read_open(&w->src, tk->key, rd_pos, UINT64_MAX, &rd);
	if (r != MG_OK)
		goto out;

	for (int i = 0; i < nparts && r == MG_OK; i++) {
		uint64_t off = (uint64_t)i * part_size;
		uint64_t len = tk->size - off < part_size ? tk->size - off : part_size;
		size_t have = 0;

		SHA256_CTX psha;

		if (off + len <= rd_pos && i < skip)
			continue;
		SHA256_Init(&psha);
		while (have < len) {
			size_t got = 0, want = (size_t)(len - have);

			if (mg_interrupted) {
				r = interrupted_error(&w->src.err);
				break;
			}
			/* Read and hash a cache-sized piece at a time: both
			 * hashes then run over bytes still in cache instead of
			 * reading the whole part back from memory twice. */
			if (want > PART_CHUNK)
				want = PART_CHUNK;
			r = w->src.ops->read(rd, w->part + have, want, &got);
			if (r != MG_OK)
				break;
			if (got && i >= skip) {
				SHA256_Update(&sha, w->part + have, got);
				SHA256_Update(&psha, w->part + have, got);
			}
			if (got == 0) {
				r = mg_error_set(&w->src.err, MG_FAILED, 0, 0, "read",
						 "'%s' shrank while it was copied (listed %"
						 PRIu64 " bytes): it is retried next run",
						 tk->key, tk->size);
				break;
			}
			have += got;
		}
		rd_pos = off + len;
		if (r != MG_OK || i < skip)
			continue;

		SHA256_Final(digest, &psha);
		mg_hex(digest, sizeof(digest), parts[i].sha256);
		parts[i].number = i + 1;
		parts[i].size = len;
		r = ops->mp_upload_part(w->dst, tk->key, up.upload_id, &parts[i],
					w->part, (size_t)len);
		if (r != MG_OK) {
			mg_error_copy(&w->src.err, &w->dst->err);
			break;
		}
		strip_quotes(parts[i].etag);
		/* Journal the part and the hash state that includes it. */
		up.parts = mg_realloc(up.parts, (up.nparts + 1) * sizeof(*up.parts));
		memset(&up.parts[up.nparts], 0, sizeof(up.parts[0]));
		up.parts[up.nparts].number = parts[i].number;
		up.parts[up.nparts].size = parts[i].size;
		snprintf(up.parts[up.nparts].etag, sizeof(up.parts[0].etag), "%s",
			 parts[i].etag);
		hex_md5(parts[i].md5, up.parts[up.nparts].md5);
		up.nparts++;
		up.hashed_parts = i + 1;
		sha_state_hex(&sha, up.hash_state);
		if (mg_journal_put_upload(run->journal, tid, tk->key, &up, 1) != MG_OK)
			r = mg_error_set(&w->src.err, MG_FATAL, 0, 0, "journal",
					 "cannot write the journal");
		mg_test_point("part");
	}
	if (r == MG_OK) {
		/* A source that kept growing past its listed size is caught
		 * here; the part uploads already hold exactly size bytes. */
		r = ops->mp_complete(w->dst, tk->key, up.upload_id, parts, nparts, &res);
		if (r != MG_OK)
			mg_error_copy(&w->src.err, &w->dst->err);
	}
	if (r == MG_OK) {
		SHA256_Final(digest, &sha);
		mg_hex(digest, sizeof(digest), rec->sha256);
		snprintf(rec->etag, sizeof(rec->etag), "%s", res.etag);
		/* The object record is written by the caller; the upload
		 * record goes after it, so a crash between the two leaves a
		 * done object and a stale upload the next run drops. */
	} else if (r == MG_FAILED) {
		/* Not resumable as is: give the space back.  The record goes
		 * only with a confirmed abort; else the sweep or the next
		 * run tries again, and what the server refuses is reported. */
		struct mg_error keep = w->src.err;

		mg_upload_give_up(run->journal, tid, w->dst, tk->key, up.upload_id,
				  "the upload failed", &w->t->upl);
		mg_error_clear(&w->dst->err);
		w->src.err = keep;
	}
out:
	if (rd)
		w->src.ops->read_close(rd);
	free(parts);
	mg_upload_record_release(&up);
	return r;
}

/* Registers sha as in flight, or waits while another worker uploads the
 * same content.  Returns the slot to release, or -1 when another worker
 * had it (look the index up again). */
static int inflight_claim(struct run *run, const char *sha)
{
	int slot = -1, busy;

	pthread_mutex_lock(&run->mu);
	do {
		busy = 0;
		for (int i = 0; i < run->ninflight; i++)
			if (!strcmp(run->inflight[i], sha))
				busy = 1;
		if (busy) {
			slot = -2;
			queue_wait(run, &run->inflight_done);
		}
	} while (busy && !mg_interrupted);
	if (slot == -1) {
		for (int i = 0; i < run->ninflight; i++)
			if (!run->inflight[i][0]) {
				snprintf(run->inflight[i], 65, "%s", sha);
				slot = i;
				break;
			}
	} else {
		slot = -1;
	}
	pthread_mutex_unlock(&run->mu);
	return slot;
}

static void inflight_release(struct run *run, int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&run->mu);
	run->inflight[slot][0] = '\0';
	pthread_cond_broadcast(&run->inflight_done);
	pthread_mutex_unlock(&run->mu);
}

/*
 * The journal said the copy source held this content, and the target
 * says it no longer does (changed out of band, or by a run in flight):
 * forget the index entry, and make the next run copy that key again.
 */
static void dedupe_stale(struct worker *w, const char *from, const char *key,
			 struct mg_obj_record *other, const char *sha)
{
	struct run *run = w->run;
	const char *tid = w->t->ep->id;
	char a[256], b[256];

	mg_journal_del_hash(run->journal, sha, tid, from, 0);
	other->mtime_ns = -1;	/* matches no source file: seen as changed */
	mg_journal_put_obj(run->journal, tid, from, other, 0);
	mg_printable(from, a, sizeof(a));
	fprintf(stderr, "migrate: dedupe: '%s' at %s no longer holds the content the "
		"journal recorded: '%s' was uploaded instead, and '%s' is copied "
		"again on the next run\n", a, w->t->ep->url,
		mg_printable(key, b, sizeof(b)), a);
}

/*
 * Server-side copy from a key at this target holding the same content,
 * conditional on the ETag the journal recorded for it (the "Conditional
 * on what we know" invariant): a copy source that changed since is never
 * copied under this object's hash.
 */
static int try_dedupe(struct worker *w, const struct task *tk,
		      const struct mg_put_final *fin, struct mg_obj_record *rec)
{
	struct run *run = w->run;
	const char *tid = w->t->ep->id;
	struct mg_put_info info = put_info(run, tk);
	struct mg_put_result res = { { 0 }, { 0 } };
	struct mg_obj_record other;
	char *from = NULL;
	int r;

	if (mg_journal_find_hash(run->journal, fin->sha256, tid, &from) != MG_OK)
		return MG_ABSENT;
	if (!strcmp(from, tk->key) ||
	    mg_journal_get_obj(run->journal, tid, from, &other) != MG_OK ||
	    other.state != MG_OBJ_DONE || strcmp(other.sha256, fin->sha256) ||
	    other.size != tk->size) {
		/* a stale index entry: forget it */
		if (strcmp(from, tk->key))
			mg_journal_del_hash(run->journal, fin->sha256, tid, from, 0);
		free(from);
		return MG_ABSENT;
	}
	info.copy_if_match = other.etag[0] ? other.etag : NULL;
	r = mg_copy(w->dst, from, tk->key, &info, fin, &res);
	if (r == MG_ABSENT)
		dedupe_stale(w, from, tk->key, &other, fin->sha256);
	free(from);
	if (r != MG_OK) {
		/* the copy source changed or was removed behind our back: upload */
		mg_error_clear(&w->dst->err);
		return MG_ABSENT;
	}
	snprintf(rec->sha256, sizeof(rec->sha256), "%s", fin->sha256);
	snprintf(rec->etag, sizeof(rec->etag), "%s", res.etag);
	return MG_OK;
}

/* Reads a small object whole into w->part and hashes it: the one read
 * of the source that every target's copy is served from. */
static int read_small(struct worker *w, const struct task *tk,
		      struct mg_put_final *fin)
{
	struct mg_reader *rd = NULL;
	unsigned char digest[32];
	uint64_t have = 0;
	int r;

	if (w->small_alloc < tk->size || !w->small) {
		free(w->small);
		w->small = mg_malloc(tk->size ? (size_t)tk->size : 1);
		w->small_alloc = (size_t)tk->size;
	}
	/* an empty object is read without a range: some servers stall on
	 * a ranged GET of zero bytes */
	r = mg_read_open(&w->src, tk->key, 0, tk->size ? UINT64_MAX : 0, &rd);
	if (r != MG_OK)
		return r;
	for (;;) {
		size_t got = 0, room = (size_t)(tk->size - have);

		if (mg_interrupted) {
			r = interrupted_error(&w->src.err);
			break;
		}
		/* one byte more than expected tells a grown file */
		r = w->src.ops->read(rd, room ? w->small + have : w->buf,
				     room ? room : 1, &got);
		if (r != MG_OK || got == 0)
			break;
		if (!room) {
			r = mg_error_set(&w->src.err, MG_FAILED, 0, 0, "read",
					 "'%s' grew while it was copied (listed %" PRIu64
					 " bytes): it is retried next run", tk->key, tk->size);
			break;
		}
		have += got;
	}
	w->src.ops->read_close(rd);
	if (r == MG_OK && have != tk->size)
		r = mg_error_set(&w->src.err, MG_FAILED, 0, 0, "read",
				 "'%s' changed size while it was copied (listed %" PRIu64
				 ", read %" PRIu64 " bytes): it is retried next run",
				 tk->key, tk->size, have);
	if (r != MG_OK)
		return r;
	SHA256(w->small, (size_t)have, digest);
	mg_hex(digest, sizeof(digest), fin->sha256);
	/* no MD5: the target connector checks with the SHA-256, or hashes
	 * MD5 itself where its plan asks for Content-MD5 */
	memset(fin->md5, 0, sizeof(fin->md5));
	return MG_OK;
}

/* Puts the object held in w->part to the target in hand: a server-side
 * copy when its content is already there (dedupe), else a write. */
static int put_small(struct worker *w, const struct task *tk,
		     const struct mg_put_final *fin, struct mg_obj_record *rec,
		     int *deduped, int *claimed)
{
	struct run *run = w->run;
	struct mg_writer *wr = NULL;
	struct mg_put_info info = put_info(w->run, tk);
	struct mg_put_result res = { { 0 }, { 0 } };
	int r, slot = -1;

	if (run->plan->transfer.dedupe && mg_conn_has(w->dst, MG_CAP_SERVER_COPY) &&
	    tk->size > 0) {
		r = try_dedupe(w, tk, fin, rec);
		if (r == MG_ABSENT) {
			/* Look again once the hash is ours, or once the worker
			 * that had it is done: it may have committed between
			 * the first look and the claim. */
			slot = inflight_claim(run, fin->sha256);
			r = try_dedupe(w, tk, fin, rec);
		}
		if (r == MG_OK) {
			*deduped = 1;
			inflight_release(run, slot);
			return MG_OK;
		}
	}
	/* The caller releases the claim once the object's record and its
	 * index entry are written, so a worker waiting on this hash finds
	 * them. */
	*claimed = slot;
	r = mg_write_open(w->dst, tk->key, &info, &wr);
	if (r == MG_OK) {
		r = w->dst->ops->write(wr, w->small, (size_t)tk->size);
		if (r == MG_OK)
			r = w->dst->ops->write_commit(wr, fin, &res);
		else
			w->dst->ops->write_abort(wr);
	}
	if (r != MG_OK) {
		mg_error_copy(&w->src.err, &w->dst->err);
	} else {
		snprintf(rec->sha256, sizeof(rec->sha256), "%s", fin->sha256);
		snprintf(rec->etag, sizeof(rec->etag), "%s", res.etag);
	}
	return r;
}

static int open_src(struct worker *w)
{
	struct run *run = w->run;

	if (w->src_open)
		return 0;
	if (mg_conn_open(&w->src, run->src_ops, &run->plan->source, &run->src_counters,
			 MG_OPEN_SOURCE | MG_OPEN_NOCHECK) != MG_OK) {
		set_fatal(run, NULL, &w->src.err);
		mg_conn_close(&w->src);
		return -1;
	}
	w->src_open = 1;
	return 0;
}

/* Makes target i the one in hand, opening its conn on first use. */
static int use_target(struct worker *w, size_t i)
{
	struct run *run = w->run;
	struct target_run *t = &run->targets[i];

	w->t = t;
	w->dst = &w->dsts[i];
	if (w->dst_open[i])
		return 0;
	if (mg_conn_open(w->dst, t->ops, t->ep, &t->counters,
			 MG_OPEN_TARGET | MG_OPEN_NOCHECK) != MG_OK) {
		set_fatal(run, t, &w->dst->err);
		mg_conn_close(w->dst);
		return -1;
	}
	/* the connector paces its sends through the shared bucket */
	w->dst->pace = pace;
	w->dst->pace_arg = &run->shaper;
	/* the breaker's verdict reaches requests in flight */
	w->dst->abandoned = &t->fatal;
	w->dst_open[i] = 1;
	return 0;
}

static void backoff(int attempt)
{
	/* 0.2 s doubling to 10 s, with jitter so workers that failed together
	 * do not hammer the server together; a stop request cuts it short. */
	int64_t ms = 200LL << (attempt < 6 ? attempt : 6);

	if (ms > 10000)
		ms = 10000;
	ms = ms / 2 + rand() % (ms / 2 + 1);
	mg_nap(ms);
}

static int multipart_parts(const struct run *run, const struct mg_connector *dst,
			   uint64_t size);

/* Journals the outcome of one object at the target in hand and counts it. */
static void finish(struct worker *w, const struct task *tk, int r,
		   struct mg_obj_record *rec, int multipart, int deduped, int claimed,
		   int attempts)
{
	struct run *run = w->run;
	struct target_run *t = w->t;
	const char *tid = t->ep->id;

	if (r == MG_OK) {
		rec->state = MG_OBJ_DONE;
		rec->size = tk->size;
		rec->mtime_ns = tk->mtime_ns;
		rec->t_done = mg_now_ns();
		rec->run = run->start_ns;
		snprintf(rec->src_etag, sizeof(rec->src_etag), "%s", tk->src_etag);
		/* The record, the end of its upload and its index entry go in
		 * one batch, so they reach the disk together; the claim on the
		 * content is released only then, so a worker waiting for the
		 * same content finds the index entry and copies. */
		pthread_mutex_lock(&run->cmu);
		mg_journal_batch_put_obj(run->cbatch, tid, tk->key, rec);
		if (multipart)
			mg_journal_batch_del_upload(run->cbatch, tid, tk->key);
		if (rec->sha256[0])
			mg_journal_batch_put_hash(run->cbatch, rec->sha256, tid, tk->key);
		if (run->nnotes == run->anotes) {
			run->anotes = run->anotes ? 2 * run->anotes : 64;
			run->notes = mg_realloc(run->notes, run->anotes * sizeof(*run->notes));
		}
		run->notes[run->nnotes++] = (struct commit_note){
			t, tk->size, deduped, tk->changed, claimed,
			run->logj ? mg_strdup(tk->key) : NULL, *rec, attempts
		};
		if (run->nnotes == 1 || run->nnotes >= COMMIT_MAX)
			pthread_cond_signal(&run->ccv);
		pthread_mutex_unlock(&run->cmu);
		return;
	}
	inflight_release(run, claimed);
	if (mg_interrupted)
		return;
	if (r == MG_FATAL) {
		/* fatal for the target (its conn says so) or for the source */
		set_fatal(run, w->dst->err.status == MG_FATAL ? t : NULL, &w->src.err);
		return;
	}
	record_failure(run, t, tk->key, &w->src.err, tk->size);
	log_object(run, t, tk->key, tk->size, NULL, "failed", attempts, w->src.err.msg);
	/* Keep what an earlier run recorded (the target may still hold the
	 * old version); only a key never done gets a failed record. */
	{
		struct mg_obj_record old;

		if (mg_journal_get_obj(run->journal, tid, tk->key, &old) != MG_OK) {
			rec->state = MG_OBJ_FAILED;
			rec->size = tk->size;
			rec->mtime_ns = tk->mtime_ns;
			rec->run = run->start_ns;
			mg_journal_put_obj(run->journal, tid, tk->key, rec, 0);
		}
	}
}

/* Counts the objects of a written batch done (failed: not done; the next
 * run finds no record and copies them again). */
static void commit_apply(struct run *run, const struct commit_note *n, size_t count,
			 int ok)
{
	pthread_mutex_lock(&run->mu);
	for (size_t i = 0; ok && i < count; i++) {
		struct target_run *t = n[i].t;

		if (n[i].deduped) {
			t->st.dedup_objects++;
			t->st.dedup_bytes += n[i].size;
		} else if (n[i].changed) {
			t->st.changed_objects++;
		} else {
			t->st.new_objects++;
			t->st.new_bytes += n[i].size;
		}
		if (!n[i].deduped)
			t->st.copied_bytes += n[i].size;
	}
	pthread_mutex_unlock(&run->mu);
	for (size_t i = 0; i < count; i++) {
		inflight_release(run, n[i].claimed);
		if (n[i].key) {
			log_object(run, n[i].t, n[i].key, n[i].size, &n[i].rec,
				   !ok ? "failed" : n[i].deduped ? "deduped" : "copied",
				   n[i].attempts, ok ? NULL : "cannot write the journal");
			free(n[i].key);
		}
	}
}

/*
 * The committer: waits for done objects, gives others up to
 * COMMIT_WINDOW_MS to join, writes the batch with one sync, then counts
 * them.  One fdatasync serves every object finished in the window instead
 * of one each, and nothing is counted done before its record is on disk.
 */
static void *committer_main(void *arg)
{
	struct run *run = arg;
	struct mg_journal_batch *b = mg_journal_batch_new();
	struct commit_note *notes = NULL;
	size_t anotes = 0;

	pthread_mutex_lock(&run->cmu);
	for (;;) {
		struct mg_journal_batch *tmp;
		size_t n;
		int r;

		while (!run->nnotes && !run->cstop)
			pthread_cond_wait(&run->ccv, &run->cmu);
		if (!run->nnotes)
			break;
		if (!run->cstop && run->nnotes < COMMIT_MAX) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += COMMIT_WINDOW_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&run->ccv, &run->cmu, &ts);
		}
		tmp = run->cbatch;
		run->cbatch = b;
		b = tmp;
		n = run->nnotes;
		if (anotes < n) {
			anotes = run->anotes;
			notes = mg_realloc(notes, anotes * sizeof(*notes));
		}
		memcpy(notes, run->notes, n * sizeof(*notes));
		run->nnotes = 0;
		pthread_mutex_unlock(&run->cmu);

		r = mg_journal_batch_write(run->journal, b);
		mg_test_points("object", r == MG_OK ? n : 0);
		commit_apply(run, notes, n, r == MG_OK);
		if (r != MG_OK) {
			struct mg_error e = { 0 };

			mg_error_set(&e, MG_FATAL, 0, 0, "journal", "cannot write the journal");
			set_fatal(run, NULL, &e);
		}
		pthread_mutex_lock(&run->cmu);
	}
	pthread_mutex_unlock(&run->cmu);
	mg_journal_batch_free(b);
	free(notes);
	return NULL;
}

/*
 * Moves one object to every target that needs it.  An object small enough
 * to hold (DEDUPE_MAX) is read once and served to every target from
 * memory; a larger one streams, once per target that needs it (a target
 * failing mid-stream must not stall the others).
 */
static void process(struct worker *w, struct task *tk)
{
	struct run *run = w->run;
	const struct mg_plan *plan = run->plan;
	struct mg_put_final fin;
	int small = tk->size <= DEDUPE_MAX && (plan->transfer.dedupe || run->nt > 1);
	int have_small = 0, r;

	memset(&fin, 0, sizeof(fin));
	for (size_t i = 0; i < run->nt && !mg_interrupted; i++) {
		struct target_run *t = &run->targets[i];
		struct mg_obj_record rec;
		int multipart, deduped = 0, claimed = -1, attempts = 0;
		char name[256], why[600];

		if (!(tk->need & (1ULL << i)) || target_dead(run, t))
			continue;
		if (use_target(w, i) < 0)
			continue;
		tk->changed = (tk->changed_mask >> i) & 1;
		multipart = multipart_parts(run, w->dst->ops, tk->size) > 0;
		for (int attempt = 0;; attempt++) {
			attempts = attempt + 1;
			memset(&rec, 0, sizeof(rec));
			mg_error_clear(&w->src.err);
			mg_error_clear(&w->dst->err);
			rec.t_start = mg_now_ns();
			deduped = 0;
			if (multipart) {
				r = copy_multipart(w, tk, &rec);
			} else if (small) {
				r = have_small ? MG_OK : read_small(w, tk, &fin);
				have_small = r == MG_OK;
				if (r == MG_OK)
					r = put_small(w, tk, &fin, &rec, &deduped, &claimed);
			} else {
				r = copy_simple(w, tk, &rec);
			}
			if (r != MG_OK) {
				inflight_release(run, claimed);
				claimed = -1;
			}
			if (r == MG_OK)
				target_ok(run, t);
			else if (w->dst->err.status == MG_RETRY &&
				 target_failed(run, t, &w->dst->err))
				break;
			if (r != MG_RETRY || attempt >= plan->transfer.retries || mg_interrupted)
				break;
			mg_printable(tk->key, name, sizeof(name));
			mg_printable(w->src.err.msg, why, sizeof(why));
			fprintf(stderr, "migrate: '%s': %s (retrying)\n", name, why);
			backoff(attempt);
		}
		finish(w, tk, r, &rec, multipart, deduped, claimed, attempts);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	struct task tk;

	w->buf = mg_malloc(COPY_BUF);
	w->dsts = mg_calloc(run->nt, sizeof(*w->dsts));
	w->dst_open = mg_calloc(run->nt, sizeof(*w->dst_open));
	while (queue_pop(run, &tk) == 0) {
		if (open_src(w) == 0)
			process(w, &tk);
		free(tk.key);
		pthread_mutex_lock(&run->mu);
		run->busy_workers--;
		pthread_mutex_unlock(&run->mu);
	}
	if (w->src_open)
		mg_conn_close(&w->src);
	for (size_t i = 0; i < run->nt; i++)
		if (w->dst_open[i])
			mg_conn_close(&w->dsts[i]);
	free(w->dsts);
	free(w->dst_open);
	free(w->buf);
	free(w->part);
	free(w->small);
	return NULL;
}

/* ---- progress ---- */

struct progress {
	struct run *run;
	pthread_t thread;
	int on;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
};

static void progress_line(struct run *run)
{
	char moved[32], rate[32];
	double secs = (double)(mg_mono_ns() - run->start_ns) / 1e9;
	uint64_t written = 0, copied = 0, unchanged = 0, failed = 0;

	pthread_mutex_lock(&run->mu);
	for (size_t i = 0; i < run->nt; i++) {
		const struct target_run *t = &run->targets[i];

		written += __atomic_load_n(&t->counters.bytes_written, __ATOMIC_RELAXED);
		copied += t->st.new_objects + t->st.changed_objects + t->st.dedup_objects;
		unchanged += t->st.unchanged_objects;
		failed += t->st.failed_objects;
	}
	mg_fmt_bytes(written, moved, sizeof(moved));
	mg_fmt_bytes(secs > 0 ? (uint64_t)((double)written / secs) : 0, rate, sizeof(rate));
	fprintf(stderr, "\r\033[Kmigrate: listed %" PRIu64 ", copied %" PRIu64
		", unchanged %" PRIu64 ", failed %" PRIu64 " | %s at %s/s%s",
		run->listed, copied, unchanged, failed, moved, rate,
		mg_bwlimit_off ? " (limit lifted)" : "");
	pthread_mutex_unlock(&run->mu);
	fflush(stderr);
}

static void *progress_main(void *arg)
{
	struct progress *p = arg;

	pthread_mutex_lock(&p->mu);
	while (!p->done) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		if (!p->done)
			progress_line(p->run);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* ---- walk and diff ---- */

static void print_dry(const char *what, const char *key, uint64_t size)
{
	struct mg_buf name = MG_BUF_INIT;
	char sz[32];

	/* escaped, and quoted where a space at either end would vanish */
	mg_buf_add_printable(&name, key, 1);
	mg_fmt_bytes(size, sz, sizeof(sz));
	printf("%-9s %10s  %s\n", what, sz, name.buf ? name.buf : "");
	mg_buf_release(&name);
}

/* Whether an object of size goes multipart to this target, and in how
 * many parts: the one decision process() and estimate share. */
static int multipart_parts(const struct run *run, const struct mg_connector *dst,
			   uint64_t size)
{
	const struct mg_plan *plan = run->plan;
	uint64_t part;

	if (!(dst->caps & MG_CAP_MULTIPART) || size == 0 ||
	    size < plan->transfer.multipart_threshold)
		return 0;
	part = pick_part_size(size, plan->transfer.part_size);
	return (int)((size + part - 1) / part);
}

/* Counts what moving one object will cost in requests, as the connectors
 * say they issue them (estimate). */
static void predict_read(struct run *run, struct mg_conn *src, const struct task *tk)
{
	if (src->ops->estimate_read)
		src->ops->estimate_read(src, tk->size, &run->src_counters);
	else
		run->src_counters.req[MG_REQ_GET]++;
	run->src_counters.bytes_read += tk->size;
}

/* Small objects are read once for all targets (process()); a multipart
 * or streamed one once per target that needs it. */
static void predict(struct run *run, struct target_run *t, struct mg_conn *src,
		    struct mg_conn *dst, const struct task *tk, int *small_read)
{
	int nparts = multipart_parts(run, dst->ops, tk->size);
	int small = tk->size <= DEDUPE_MAX &&
		    (run->plan->transfer.dedupe || run->nt > 1);

	if (nparts || !small)
		predict_read(run, src, tk);
	else if (!*small_read) {
		predict_read(run, src, tk);
		*small_read = 1;
	}
	t->counters.bytes_written += tk->size;
	if (nparts) {
		if (dst->ops->estimate_multipart)
			dst->ops->estimate_multipart(dst, tk->size, nparts, &t->counters);
		else {
			t->counters.req[MG_REQ_MP_CREATE]++;
			t->counters.req[MG_REQ_MP_PART] += (uint64_t)nparts;
			t->counters.req[MG_REQ_MP_COMPLETE]++;
		}
	} else if (dst->ops->estimate_write) {
		dst->ops->estimate_write(dst, tk->size, &t->counters);
	} else {
		t->counters.req[MG_REQ_PUT]++;
	}
}

/*
 * Sync: a journaled object the listing no longer has is gone from the
 * source.  It is marked in the journal (d/<tid>/<key>), not held in
 * memory, and deleted only after the listing is known complete.
 */
static void note_gone(struct run *run, struct target_run *t, const char *key,
		      const struct mg_obj_record *rec)
{
	if (run->plan->mode != MG_MODE_SYNC ||
	    (rec->state != MG_OBJ_DONE && rec->state != MG_OBJ_DELETING))
		return;
	t->st.gone_objects++;
	t->st.gone_bytes += rec->size;
	if (run->opts->dry_run)
		print_dry("delete", key, rec->size);
	else if (!run->opts->estimate)
		mg_journal_put_gone(run->journal, t->ep->id, key, rec->size);
}

struct mark_pass {
	struct run *run;
	struct target_run *t;
};

static int drop_mark(void *arg, const char *key, uint64_t size)
{
	struct mark_pass *mp = arg;

	(void)size;
	mg_journal_del_gone(mp->run->journal, mp->t->ep->id, key);
	return 0;
}

static void drop_marks(struct run *run, struct target_run *t)
{
	struct mark_pass mp = { run, t };

	mg_journal_scan_gone(run->journal, t->ep->id, drop_mark, &mp);
}

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

static void tcursor_next(struct run *run, struct target_run *t, struct mg_conn *dst,
			 struct tcursor *tc)
{
	struct mg_entry e;

	do {
		memset(&e, 0, sizeof(e));
		tc->r = dst->ops->list_next(tc->it, &e);
		if (tc->r == MG_OK && e.kind == MG_ENTRY_ERROR)
			tc->r = mg_error_set(&dst->err, MG_FAILED, 0, 0, "list", "%s", e.error);
		if (tc->r != MG_OK && tc->r != MG_DONE) {
			char why[600];

			fprintf(stderr, "migrate: sync: listing %s failed (%s): objects "
				"there that the journal does not know are not deleted "
				"this run\n", t->ep->url,
				mg_printable(dst->err.msg, why, sizeof(why)));
			mg_error_clear(&dst->err);
		}
	} while (tc->r == MG_OK && e.kind != MG_ENTRY_FILE);
	if (tc->r == MG_OK) {
		mg_buf_reset(&tc->key);
		mg_buf_adds(&tc->key, e.key);
		tc->size = e.size;
		(void)run;
	}
}

static void tcursor_open(struct run *run, struct target_run *t, struct mg_conn *dst,
			 struct tcursor *tc)
{
	tc->r = MG_DONE;
	if (run->plan->mode != MG_MODE_SYNC || t->fatal || !dst->ops ||
	    !mg_conn_has(dst, MG_CAP_SOURCE))
		return;
	if (mg_list_open(dst, NULL, &tc->it) != MG_OK) {
		/* a target folder not made yet holds nothing to delete */
		mg_error_clear(&dst->err);
		tc->it = NULL;
		return;
	}
	tcursor_next(run, t, dst, tc);
}

/* Target keys before key (all of them with key NULL) are not at the
 * source: those the journal does not account for are marked gone. */
static void tcursor_until(struct run *run, struct target_run *t, struct mg_conn *dst,
			  struct tcursor *tc, const char *key)
{
	const struct mg_plan *plan = run->plan;
	const char *qp = plan->deletes.quarantine_prefix;
	int64_t now = mg_now_ns() / 1000000000;
	int cmp;

	while (tc->r == MG_OK && (!key || (cmp = strcmp(tc->key.buf, key)) <= 0)) {
		struct mg_obj_record rec;
		struct mg_entry e = { .key = tc->key.buf, .size = tc->size };

		if (key && cmp == 0) {
			tcursor_next(run, t, dst, tc);
			break;
		}
		if ((!qp || strncmp(tc->key.buf, qp, strlen(qp))) &&
		    mg_filter_accept(plan, &e, now) &&
		    (mg_journal_get_obj(run->journal, t->ep->id, tc->key.buf, &rec) != MG_OK ||
		     (rec.state != MG_OBJ_DONE && rec.state != MG_OBJ_DELETING))) {
			t->st.gone_objects++;
			t->st.gone_bytes += tc->size;
			t->st.stray_objects++;
			if (run->opts->dry_run)
				print_dry("delete", tc->key.buf, tc->size);
			else if (!run->opts->estimate)
				mg_journal_put_gone(run->journal, t->ep->id, tc->key.buf,
						    tc->size);
		}
		tcursor_next(run, t, dst, tc);
	}
}

static void tcursor_close(struct mg_conn *dst, struct tcursor *tc)
{
	if (tc->it)
		dst->ops->list_close(tc->it);
	mg_buf_release(&tc->key);
}

/* One target's side of the merge-join: its journal range, read along. */
struct jcursor {
	struct mg_journal_iter *it;
	struct mg_obj_record rec;
	const char *key;
	int r;
};

/*
 * The merge-join: the source listing and every target's journal range
 * (o/<tid>/) are all in key order, so one pass over the listing decides
 * for every target at once what it lacks.  Returns MG_OK, or the
 * listing's error (the run is then incomplete).
 */
static int walk(struct run *run, struct mg_conn *src, struct mg_conn *dsts)
{
	const struct mg_plan *plan = run->plan;
	struct mg_lister *it = NULL;
	struct jcursor *jc = mg_calloc(run->nt, sizeof(*jc));
	struct tcursor *tc = mg_calloc(run->nt, sizeof(*tc));
	struct mg_buf prev = MG_BUF_INIT;
	int have_prev = 0, r;
	int64_t now = mg_now_ns() / 1000000000;

	for (size_t i = 0; i < run->nt; i++) {
		struct target_run *t = &run->targets[i];

		/* marks left by a run that died before its deletes */
		if (plan->mode == MG_MODE_SYNC && !run->opts->dry_run && !run->opts->estimate)
			drop_marks(run, t);
		mg_journal_iter_open(run->journal, t->ep->id, NULL, &jc[i].it);
		jc[i].r = mg_journal_iter_next(jc[i].it, &jc[i].key, NULL, &jc[i].rec);
		tcursor_open(run, t, &dsts[i], &tc[i]);
	}
	r = mg_list_open(src, NULL, &it);
	if (r != MG_OK)
		goto out;

	for (;;) {
		struct mg_entry e;
		struct task tk;
		int accepted, small_read = 0;

		if (mg_interrupted || run->stop)
			break;
		memset(&e, 0, sizeof(e));
		r = src->ops->list_next(it, &e);
		if (r == MG_DONE) {
			r = MG_OK;
			break;
		}
		if (r != MG_OK) {
			for (size_t i = 0; i < run->nt; i++)
				run->targets[i].listing_incomplete = 1;
			break;
		}
		if (have_prev && strcmp(prev.buf, e.key) >= 0) {
			for (size_t i = 0; i < run->nt; i++)
				run->targets[i].listing_incomplete = 1;
			r = mg_error_set(&src->err, MG_FATAL, 0, 0, "list",
					 "the '%s' connector listed '%s' after '%s': keys "
					 "out of order (a bug: please report it)",
					 src->ops->scheme, e.key, prev.buf);
			break;
		}
		mg_buf_reset(&prev);
		mg_buf_adds(&prev, e.key);
		have_prev = 1;
		pthread_mutex_lock(&run->mu);
		run->listed++;
		pthread_mutex_unlock(&run->mu);

		accepted = e.kind == MG_ENTRY_FILE && mg_filter_accept(plan, &e, now);
		if (e.kind == MG_ENTRY_SYMLINK && run->opts->dry_run)
			print_dry("skip-link", e.key, 0);
		if (e.kind == MG_ENTRY_SYMLINK && e.error && !run->opts->quiet &&
		    !run->opts->estimate) {
			/* a link the plan said to follow, skipped for a reason
			 * (it leads outside the source folder): say why */
			char a[256], b[600];

			fprintf(stderr, "migrate: '%s': skipped: %s\n",
				mg_printable(e.key, a, sizeof(a)),
				mg_printable(e.error, b, sizeof(b)));
		}
		else if (e.kind == MG_ENTRY_SPECIAL && run->opts->dry_run)
			print_dry("skip-special", e.key, 0);
		memset(&tk, 0, sizeof(tk));
		tk.size = e.size;
		tk.mtime_ns = e.mtime_ns;
		tk.mode = e.mode;
		snprintf(tk.src_etag, sizeof(tk.src_etag), "%s", e.etag);

		for (size_t i = 0; i < run->nt; i++) {
			struct target_run *t = &run->targets[i];
			struct jcursor *c = &jc[i];
			struct mg_obj_record cur;
			int cmp = 1;

			/* Advance the journal to this key whatever the entry
			 * is: a filtered or unreadable entry still exists at
			 * the source and must not look gone. */
			while (c->r == MG_OK && (cmp = strcmp(c->key, e.key)) < 0) {
				if (c->rec.state == MG_OBJ_DONE)
					t->st.journal_objects++;
				note_gone(run, t, c->key, &c->rec);
				c->r = mg_journal_iter_next(c->it, &c->key, NULL, &c->rec);
			}
			if (c->r != MG_OK)
				cmp = 1;
			tcursor_until(run, t, &dsts[i], &tc[i], e.key);
			if (cmp == 0) {
				/* take the matching record and move past it */
				cur = c->rec;
				if (cur.state == MG_OBJ_DONE)
					t->st.journal_objects++;
				c->r = mg_journal_iter_next(c->it, &c->key, NULL, &c->rec);
			}
			if (t->fatal)
				continue;
			if (e.kind == MG_ENTRY_ERROR) {
				struct mg_error err = { 0 };

				/* what sits below an unreadable folder is
				 * unknown, so nothing may look gone this run */
				t->listing_errors = 1;
				mg_error_set(&err, MG_FAILED, 0, 0, "list", "%s", e.error);
				record_failure(run, t, e.key, &err, 0);
				continue;
			}
			if (e.kind == MG_ENTRY_SYMLINK) {
				t->st.skipped_links++;
				continue;
			}
			if (e.kind == MG_ENTRY_SPECIAL) {
				t->st.skipped_special++;
				continue;
			}
			if (!accepted) {
				t->st.filtered_objects++;
				continue;
			}
			if (folder_marker(t, e.key, e.size)) {
				t->st.skipped_special++;
				if (run->opts->dry_run)
					print_dry("skip-dir", e.key, 0);
				continue;
			}
			if (key_refused(run, t, e.key, e.size, "copy"))
				continue;
			if (cmp == 0 && cur.state == MG_OBJ_DONE && cur.size == e.size &&
			    cur.mtime_ns == e.mtime_ns &&
			    (!e.etag[0] || !cur.src_etag[0] || !strcmp(e.etag, cur.src_etag))) {
				t->st.unchanged_objects++;
				t->st.unchanged_bytes += e.size;
				if (run->logj && !run->opts->dry_run && !run->opts->estimate)
					log_object(run, t, e.key, e.size, &cur, "skipped", 0, NULL);
				continue;
			}
			tk.need |= 1ULL << i;
			if (cmp == 0 && cur.state == MG_OBJ_DONE)
				tk.changed_mask |= 1ULL << i;
			if (run->opts->dry_run || run->opts->estimate) {
				int changed = (tk.changed_mask >> i) & 1;

				if (run->opts->estimate)
					predict(run, t, src, &dsts[i], &tk, &small_read);
				else
					print_dry(changed ? "changed" : "new", e.key, e.size);
				if (changed) {
					t->st.changed_objects++;
				} else {
					t->st.new_objects++;
					t->st.new_bytes += e.size;
				}
				t->st.copied_bytes += e.size;
			}
		}
		if (!tk.need || run->opts->dry_run || run->opts->estimate)
			continue;
		tk.key = mg_strdup(e.key);
		if (queue_push(run, &tk) < 0)
			break;
	}
	/* Past the last listed key: the rest of each journal is gone too, if
	 * the listing really ended. */
	if (r == MG_OK && !mg_interrupted && !run->stop)
		for (size_t i = 0; i < run->nt; i++)
			while (jc[i].r == MG_OK) {
				if (jc[i].rec.state == MG_OBJ_DONE)
					run->targets[i].st.journal_objects++;
				note_gone(run, &run->targets[i], jc[i].key, &jc[i].rec);
				jc[i].r = mg_journal_iter_next(jc[i].it, &jc[i].key, NULL,
							       &jc[i].rec);
			}
	if (r == MG_OK && !mg_interrupted && !run->stop)
		for (size_t i = 0; i < run->nt; i++)
			tcursor_until(run, &run->targets[i], &dsts[i], &tc[i], NULL);
	src->ops->list_close(it);
out:
	for (size_t i = 0; i < run->nt; i++) {
		mg_journal_iter_close(jc[i].it);
		tcursor_close(&dsts[i], &tc[i]);
	}
	free(jc);
	free(tc);
	mg_buf_release(&prev);
	return r;
}

/* ---- sync deletes ---- */

struct delete_pass {
	struct run *run;
	struct target_run *t;
	struct mg_conn *dst;
	struct mg_buf qkey;
};

static int delete_one(void *arg, const char *key, uint64_t size)
{
	struct delete_pass *dp = arg;
	struct run *run = dp->run;
	struct target_run *t = dp->t;
	const char *tid = t->ep->id;
	const char *qp = run->plan->deletes.quarantine_prefix;
	struct mg_obj_record rec;
	int r = MG_OK;

	if (mg_interrupted)
		return 1;
	if (key_refused(run, t, key, size, "delete")) {
		mg_journal_del_gone(run->journal, tid, key);
		return 0;
	}
	if (mg_journal_get_obj(run->journal, tid, key, &rec) != MG_OK) {
		/* a stray: at the target, never journaled, not at the source */
		memset(&rec, 0, sizeof(rec));
		rec.size = size;
	}
	/* Journal first: a crash from here on leaves a DELETING record
	 * that the next run finds gone again and finishes. */
	rec.state = MG_OBJ_DELETING;
	if (mg_journal_put_obj(run->journal, tid, key, &rec, 1) != MG_OK)
		return 1;
	mg_error_clear(&dp->dst->err);
	if (qp) {
		struct mg_put_info info = { .size = rec.size, .mtime_ns = rec.mtime_ns };
		struct mg_put_final fin;
		struct mg_put_result res;

		memset(&fin, 0, sizeof(fin));
		snprintf(fin.sha256, sizeof(fin.sha256), "%s", rec.sha256);
		mg_buf_reset(&dp->qkey);
		mg_buf_adds(&dp->qkey, qp);
		mg_buf_adds(&dp->qkey, key);
		r = mg_copy(dp->dst, key, dp->qkey.buf, &info, &fin, &res);
	}
	if (r == MG_OK)
		r = mg_remove(dp->dst, key);
	if (r != MG_OK) {
		record_failure(run, t, key, &dp->dst->err, 0);
		return r == MG_FATAL;
	}
	mg_journal_del_obj(run->journal, tid, key, 1);
	if (rec.sha256[0])
		mg_journal_del_hash(run->journal, rec.sha256, tid, key, 0);
	mg_journal_del_gone(run->journal, tid, key);
	t->st.deleted_objects++;
	t->st.deleted_bytes += size;
	return 0;
}

/*
 * Deletes what is gone from the source, after the guards.  Called only
 * when the listing completed.  The guards stop the deletes, never the
 * copies, and say which number tripped them.
 */
static void sync_deletes(struct run *run, struct target_run *t, struct mg_conn *dst)
{
	const struct mg_plan *plan = run->plan;
	uint64_t n = t->st.gone_objects;
	uint64_t base = t->st.journal_objects + t->st.stray_objects;
	double pct = base ? 100.0 * (double)n / (double)base : 0;

	if (!n)
		return;
	if (plan->deletes.max_count && n > plan->deletes.max_count)
		snprintf(t->delete_stop, sizeof(t->delete_stop),
			 "%" PRIu64 " objects are gone from the source, more than "
			 "delete.max_count %" PRIu64 ": no object was deleted (raise "
			 "the limit if this is intended)", n, plan->deletes.max_count);
	else if (plan->deletes.max_percent > 0 && pct > plan->deletes.max_percent)
		snprintf(t->delete_stop, sizeof(t->delete_stop),
			 "%" PRIu64 " of %" PRIu64 " objects (%.1f%%) are gone from the "
			 "source, more than delete.max_percent %g%%: no object was "
			 "deleted (raise the limit if this is intended)", n, base, pct,
			 plan->deletes.max_percent);
	if (t->delete_stop[0]) {
		fprintf(stderr, "migrate: sync: %s\n", t->delete_stop);
		if (!run->opts->dry_run && !run->opts->estimate)
			drop_marks(run, t);
		return;
	}
	if (run->opts->estimate) {
		t->counters.req[MG_REQ_DELETE] += n;
		if (plan->deletes.quarantine_prefix)
			t->counters.req[MG_REQ_COPY] += n;
		t->st.deleted_objects = n;
		t->st.deleted_bytes = t->st.gone_bytes;
		return;
	}
	if (run->opts->dry_run)
		return;
	{
		struct delete_pass dp = { run, t, dst, MG_BUF_INIT };

		mg_journal_scan_gone(run->journal, t->ep->id, delete_one, &dp);
		mg_buf_release(&dp.qkey);
	}
}

/* ---- summary ---- */

static json_t *counters_json(const struct mg_counters *c)
{
	json_t *o = json_object();
	json_t *req = json_object();

	for (int i = 0; i < MG_REQ__COUNT; i++)
		json_object_set_new(req, mg_req_name((enum mg_req)i),
				    json_integer((json_int_t)c->req[i]));
	json_object_set_new(o, "requests", req);
	json_object_set_new(o, "bytes_read", json_integer((json_int_t)c->bytes_read));
	json_object_set_new(o, "bytes_written", json_integer((json_int_t)c->bytes_written));
	return o;
}

static json_t *pair(uint64_t objects, uint64_t bytes)
{
	return json_pack("{s:I,s:I}", "objects", (json_int_t)objects,
			 "bytes", (json_int_t)bytes);
}

static json_t *target_json(const struct target_run *t)
{
	const struct stats *s = &t->st;
	json_t *o = json_object();
	json_t *fails = json_array();

	json_object_set_new(o, "url", json_string(t->ep->url));
	json_object_set_new(o, "id", json_string(t->ep->id));
	json_object_set_new(o, "copied", pair(s->new_objects + s->changed_objects,
					      s->copied_bytes));
	json_object_set_new(o, "new", json_integer((json_int_t)s->new_objects));
	json_object_set_new(o, "changed", json_integer((json_int_t)s->changed_objects));
	json_object_set_new(o, "unchanged", pair(s->unchanged_objects, s->unchanged_bytes));
	json_object_set_new(o, "deduplicated", pair(s->dedup_objects, s->dedup_bytes));
	json_object_set_new(o, "failed", pair(s->failed_objects, s->failed_bytes));
	json_object_set_new(o, "skipped_symlinks", json_integer((json_int_t)s->skipped_links));
	json_object_set_new(o, "skipped_special", json_integer((json_int_t)s->skipped_special));
	json_object_set_new(o, "filtered", json_integer((json_int_t)s->filtered_objects));
	json_object_set_new(o, "resumed_parts", json_integer((json_int_t)s->resumed_parts));
	json_object_set_new(o, "deleted", pair(s->deleted_objects, s->deleted_bytes));
	json_object_set_new(o, "gone", pair(s->gone_objects, s->gone_bytes));
	if (t->delete_stop[0])
		json_object_set_new(o, "deletes_stopped", json_string(t->delete_stop));
	json_object_set_new(o, "listing_complete", json_boolean(!t->listing_incomplete));
	json_object_set_new(o, "counters", counters_json(&t->counters));
	/* uploads.c hook (issue 14.4/14.5): swept and left-open uploads */
	json_object_set_new(o, "multipart_uploads", mg_upload_issues_json(&t->upl));
	for (size_t i = 0; i < t->nfailures; i++) {
		json_t *f = json_object();

		/* json_str: a key that is not UTF-8 is written as %XX */
		json_object_set_new(f, "key", json_str(t->failures[i].key));
		if (!mg_utf8_valid(t->failures[i].key, strlen(t->failures[i].key)))
			json_object_set_new(f, "key_escaped", json_true());
		json_object_set_new(f, "error", json_str(t->failures[i].msg));
		json_array_append_new(fails, f);
	}
	json_object_set_new(o, "failures", fails);
	if (t->fatal)
		json_object_set_new(o, "fatal", json_str(t->fatal_err.msg));
	json_object_set_new(o, "duration_s",
			    json_real((double)(t->end_ns - t->start_ns) / 1e9));
	return o;
}

static void print_target_summary(const struct run *run, const struct target_run *t)
{
	const struct stats *s = &t->st;
	char b1[32], b2[32], b3[32], rate[32], esc[1024];
	double secs = (double)(t->end_ns - t->start_ns) / 1e9;
	FILE *out = stderr;

	mg_fmt_bytes(s->copied_bytes, b1, sizeof(b1));
	mg_fmt_bytes(s->unchanged_bytes, b2, sizeof(b2));
	mg_fmt_bytes(s->failed_bytes, b3, sizeof(b3));
	mg_fmt_bytes(secs > 0 ? (uint64_t)((double)s->copied_bytes / secs) : 0,
		     rate, sizeof(rate));
	fprintf(out, "%s %s -> %s\n", run->opts->dry_run ? "would copy" : "migrated",
		run->plan->source.url, t->ep->url);
	fprintf(out, "  %-12s %8" PRIu64 " objects  %12s  (new %" PRIu64 ", changed %"
		PRIu64 ")\n", run->opts->dry_run ? "to copy" : "copied",
		s->new_objects + s->changed_objects, b1, s->new_objects,
		s->changed_objects);
	fprintf(out, "  %-12s %8" PRIu64 " objects  %12s  (already there: nothing read)\n",
		"unchanged", s->unchanged_objects, b2);
	if (s->dedup_objects) {
		mg_fmt_bytes(s->dedup_bytes, b2, sizeof(b2));
		fprintf(out, "  %-12s %8" PRIu64 " objects  %12s  (server-side copies of "
			"content already there: bytes saved)\n", "deduplicated",
			s->dedup_objects, b2);
		mg_fmt_bytes(s->unchanged_bytes, b2, sizeof(b2));
	}
	if (s->resumed_parts)
		fprintf(out, "  %-12s %8" PRIu64 " parts already uploaded\n", "resumed",
			s->resumed_parts);
	fprintf(out, "  %-12s %8" PRIu64 " objects  %12s\n", "failed", s->failed_objects, b3);
	if (s->skipped_links || s->skipped_special)
		fprintf(out, "  %-12s %8" PRIu64 " symlinks, %" PRIu64 " special files\n",
			"skipped", s->skipped_links, s->skipped_special);
	if (s->filtered_objects)
		fprintf(out, "  %-12s %8" PRIu64 " objects\n", "filtered out",
			s->filtered_objects);
	if (run->plan->mode == MG_MODE_SYNC) {
		mg_fmt_bytes(run->opts->dry_run ? s->gone_bytes : s->deleted_bytes, b2, sizeof(b2));
		fprintf(out, "  %-12s %8" PRIu64 " objects  %12s  (gone from the source%s)\n",
			run->opts->dry_run ? "to delete" : "deleted",
			run->opts->dry_run ? s->gone_objects : s->deleted_objects, b2,
			run->plan->deletes.quarantine_prefix ? ", moved to quarantine" : "");
		if (t->delete_stop[0])
			fprintf(out, "  deletes stopped: %s\n", t->delete_stop);
	}
	for (size_t i = 0; i < t->nfailures; i++) {
		struct mg_buf line = MG_BUF_INIT;

		mg_buf_adds(&line, "  failed: '");
		mg_buf_add_printable(&line, t->failures[i].key, 0);
		mg_buf_adds(&line, "': ");
		mg_buf_add_printable(&line, t->failures[i].msg, 0);
		fprintf(out, "%s\n", line.buf);
		mg_buf_release(&line);
	}
	if (s->failed_objects > t->nfailures)
		fprintf(out, "  ... and %" PRIu64 " more failures (see above)\n",
			s->failed_objects - t->nfailures);
	/* uploads.c hook (issue 14.4/14.5): one line per upload left open */
	mg_upload_issues_print(&t->upl, out);
	if (t->fatal)
		fprintf(out, "  stopped: %s\n", mg_printable(t->fatal_err.msg, esc, sizeof(esc)));
	if (t->listing_incomplete && !t->fatal)
		fprintf(out, "  the source listing was cut short: objects after the break "
			"were not looked at\n");
	if (!run->opts->dry_run)
		fprintf(out, "  %.2f s, %s/s\n", secs, rate);
	if (!run->opts->dry_run && s->new_objects + s->changed_objects == 0 &&
	    !s->failed_objects && !t->fatal && !mg_interrupted)
		fprintf(out, "  nothing changed: 0 bytes of content read\n");
}

/* ---- the run ---- */

/*
 * One pass: open the source and every target once up front (a target that
 * cannot be reached is fatal for itself only; the source for all), walk,
 * let the workers copy, then the sync deletes per target.
 */
static void run_all(struct run *run)
{
	const struct mg_plan *plan = run->plan;
	int nworkers = plan->transfer.concurrency > 0 ? plan->transfer.concurrency : 1;
	unsigned look = run->opts->dry_run || run->opts->estimate ? MG_OPEN_LOOK : 0;
	struct worker *workers;
	pthread_t committer;
	struct mg_conn src, *dsts = mg_calloc(run->nt, sizeof(*dsts));
	int *dst_ok = mg_calloc(run->nt, sizeof(*dst_ok));
	size_t alive = 0;
	char esc[1024];
	int r;

	for (size_t i = 0; i < run->nt; i++) {
		struct target_run *t = &run->targets[i];

		t->start_ns = t->end_ns = t->last_ok_ns = mg_mono_ns();
		t->ops = mg_connector_find(t->ep->connector);
		if (!t->ops) {
			mg_error_set(&t->fatal_err, MG_FATAL, 0, 0, "open",
				     "no '%s' connector in this build of migrate",
				     t->ep->connector);
			t->fatal = 1;
			continue;
		}
		if (mg_conn_open(&dsts[i], t->ops, t->ep, &t->counters,
				 MG_OPEN_TARGET | look) != MG_OK) {
			t->fatal = 1;
			t->fatal_err = dsts[i].err;
			mg_conn_close(&dsts[i]);
			fprintf(stderr, "migrate: target %s: %s\n", t->ep->url,
				mg_printable(t->fatal_err.msg, esc, sizeof(esc)));
			t->fatal_said = 1;
			continue;
		}
		dst_ok[i] = 1;
		alive++;
	}
	if (!alive)
		goto out;
	if (mg_conn_open(&src, run->src_ops, &plan->source, &run->src_counters,
			 MG_OPEN_SOURCE) != MG_OK) {
		set_fatal(run, NULL, &src.err);
		mg_conn_close(&src);
		goto out;
	}

	run->qcap = (size_t)nworkers * 4;
	run->q = mg_calloc(run->qcap, sizeof(*run->q));
	workers = mg_calloc((size_t)nworkers, sizeof(*workers));
	/* a claim is held until its record is committed, so a worker may
	 * hold one in flight and others waiting for the committer */
	run->ninflight = nworkers + 2 * COMMIT_MAX;
	run->inflight = mg_calloc((size_t)run->ninflight, sizeof(*run->inflight));
	if (!run->opts->dry_run && !run->opts->estimate) {
		pthread_mutex_init(&run->cmu, NULL);
		pthread_cond_init(&run->ccv, NULL);
		run->cbatch = mg_journal_batch_new();
		pthread_create(&committer, NULL, committer_main, run);
		for (int i = 0; i < nworkers; i++) {
			workers[i].run = run;
			pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
		}
	}

	r = walk(run, &src, dsts);
	if (r != MG_OK && r != MG_DONE) {
		if (r == MG_FATAL) {
			set_fatal(run, NULL, &src.err);
		} else {
			/* A cut listing is a failure of the run, not fatal:
			 * what was listed is still copied. */
			for (size_t i = 0; i < run->nt; i++)
				record_failure(run, &run->targets[i], "(listing)", &src.err, 0);
		}
	}

	pthread_mutex_lock(&run->mu);
	run->closed = 1;
	pthread_cond_broadcast(&run->can_pop);
	pthread_mutex_unlock(&run->mu);
	if (!run->opts->dry_run && !run->opts->estimate) {
		for (int i = 0; i < nworkers; i++)
			pthread_join(workers[i].thread, NULL);
		/* what the workers finished is written before anything reads
		 * the journal or the counts again */
		pthread_mutex_lock(&run->cmu);
		run->cstop = 1;
		pthread_cond_signal(&run->ccv);
		pthread_mutex_unlock(&run->cmu);
		pthread_join(committer, NULL);
		mg_journal_batch_free(run->cbatch);
		run->cbatch = NULL;
		free(run->notes);
		run->notes = NULL;
		pthread_cond_destroy(&run->ccv);
		pthread_mutex_destroy(&run->cmu);
	}
	/* Tasks left in the queue after a stop are dropped: the journal has
	 * no record for them, so the next run picks them up. */
	while (run->qlen) {
		free(run->q[run->qhead].key);
		run->qhead = (run->qhead + 1) % run->qcap;
		run->qlen--;
	}
	free(run->q);
	run->q = NULL;
	free(run->inflight);
	run->inflight = NULL;
	free(workers);

	/* uploads.c (issue 14.4): abort the uploads no object needs any more,
	 * reconcile intents, retry abandoned aborts; once no worker runs. */
	for (size_t i = 0; i < run->nt && !run->opts->dry_run && !run->opts->estimate; i++)
		if (dst_ok[i] && !run->targets[i].fatal && !run->stop && !mg_interrupted)
			mg_uploads_sweep(run->journal, run->targets[i].ep->id, &dsts[i],
					 run->start_ns, (r == MG_OK || r == MG_DONE) &&
					 !run->targets[i].listing_incomplete &&
					 !run->targets[i].listing_errors,
					 &run->targets[i].upl);

	for (size_t i = 0; i < run->nt; i++) {
		struct target_run *t = &run->targets[i];

		if (plan->mode != MG_MODE_SYNC || !dst_ok[i] || t->fatal)
			continue;
		if ((r == MG_OK || r == MG_DONE) && !t->listing_incomplete &&
		    !t->listing_errors && !run->stop && !mg_interrupted) {
			sync_deletes(run, t, &dsts[i]);
		} else if (t->st.gone_objects) {
			snprintf(t->delete_stop, sizeof(t->delete_stop),
				 "the source listing %s: no object was deleted",
				 t->listing_errors ? "had unreadable entries" : "did not complete");
			if (!run->opts->dry_run && !run->opts->estimate)
				drop_marks(run, t);
		}
	}
	mg_conn_close(&src);
out:
	for (size_t i = 0; i < run->nt; i++) {
		if (dst_ok[i])
			mg_conn_close(&dsts[i]);
		run->targets[i].end_ns = mg_mono_ns();
	}
	free(dsts);
	free(dst_ok);
}

int mg_engine_run(const struct mg_plan *plan, const struct mg_run_opts *opts)
{
	struct run run;
	struct target_run *targets;
	struct progress prog = { 0 };
	struct mg_error err = { 0 };
	int exit_code = MG_EXIT_OK;
	int64_t wall_start = mg_now_ns();
	json_t *summary, *tjs;
	char planhex[65];

	memset(&run, 0, sizeof(run));
	run.plan = plan;
	run.opts = opts;
	run.start_ns = mg_mono_ns();
	pthread_mutex_init(&run.mu, NULL);
	pthread_cond_init(&run.can_pop, NULL);
	pthread_cond_init(&run.can_push, NULL);
	pthread_cond_init(&run.inflight_done, NULL);
	/* --bwlimit overrides the plan's rate and its timetable */
	if (opts->bwlimit_set)
		shaper_init(&run.shaper, opts->bwlimit, NULL, 0);
	else
		shaper_init(&run.shaper, plan->transfer.bandwidth,
			    plan->transfer.timetable, plan->transfer.ntimetable);

	run.src_ops = mg_connector_find(plan->source.connector);
	if (!run.src_ops) {
		fprintf(stderr, "migrate: no '%s' connector in this build of migrate\n",
			plan->source.connector);
		return MG_EXIT_FATAL;
	}
	if (mg_journal_open(plan->journal, &run.journal, &err) != MG_OK) {
		fprintf(stderr, "migrate: %s\n", err.msg);
		return MG_EXIT_FATAL;
	}
	if (opts->log_json && !opts->dry_run && !opts->estimate) {
		/* private like the journal: it lists every key and hash */
		/* not through a planted link, only into a file of ours */
		int fd = mg_safefile_append(opts->log_json, 0600);

		if (fd < 0 || !(run.logj = fdopen(fd, "a"))) {
			fprintf(stderr, "migrate: cannot open the event log '%s': %s: "
				"check the path given to --log-json\n", opts->log_json,
				strerror(errno));
			if (fd >= 0)
				close(fd);
			mg_journal_close(run.journal);
			return MG_EXIT_USAGE;
		}
		pthread_mutex_init(&run.logmu, NULL);
	}
	mg_hex(plan->hash, sizeof(plan->hash), planhex);
	if (!opts->dry_run && !opts->estimate)
		mg_journal_put_meta(run.journal, "plan", planhex);

	prog.run = &run;
	prog.on = opts->progress > 0 ||
		  (opts->progress < 0 && isatty(2) && !opts->quiet && !opts->estimate);
	if (prog.on) {
		pthread_mutex_init(&prog.mu, NULL);
		pthread_cond_init(&prog.cv, NULL);
		pthread_create(&prog.thread, NULL, progress_main, &prog);
	}

	targets = mg_calloc(plan->ntargets, sizeof(*targets));
	for (size_t i = 0; i < plan->ntargets; i++)
		targets[i].ep = &plan->targets[i];
	run.targets = targets;
	run.nt = plan->ntargets;
	run_all(&run);

	if (prog.on) {
		pthread_mutex_lock(&prog.mu);
		prog.done = 1;
		pthread_cond_signal(&prog.cv);
		pthread_mutex_unlock(&prog.mu);
		pthread_join(prog.thread, NULL);
		fprintf(stderr, "\r\033[K");
	}

	/* Exit code: interrupt beats fatal beats partial.  With several
	 * targets, one that could not be opened while others were served
	 * makes the run partial (1); the summary names it.  A target the
	 * circuit breaker declared dead mid-run is an outage a scheduler
	 * must see, whatever the other targets did: 3. */
	{
		size_t nfatal = 0, ndied = 0;

		for (size_t i = 0; i < plan->ntargets; i++) {
			nfatal += targets[i].fatal != 0;
			ndied += targets[i].died != 0;
			if (targets[i].fatal || targets[i].st.failed_objects ||
			    targets[i].listing_incomplete || targets[i].delete_stop[0])
				exit_code = MG_EXIT_PARTIAL;
		}
		if (nfatal == plan->ntargets || ndied)
			exit_code = MG_EXIT_FATAL;
	}
	if (mg_interrupted)
		exit_code = MG_EXIT_INTERRUPT;

	if (opts->estimate) {
		struct mg_target_tally *tally = mg_calloc(plan->ntargets, sizeof(*tally));

		for (size_t i = 0; i < plan->ntargets; i++) {
			const struct stats *st = &targets[i].st;
			struct mg_move_counts *c = &tally[i].counts;

			tally[i].counters = targets[i].counters;
			c->new_objects = st->new_objects;
			c->changed_objects = st->changed_objects;
			c->new_bytes = st->new_bytes;
			c->changed_bytes = st->copied_bytes - st->new_bytes;
			c->unchanged_objects = st->unchanged_objects;
			c->unchanged_bytes = st->unchanged_bytes;
			c->dedup_objects = st->dedup_objects;
			c->dedup_bytes = st->dedup_bytes;
			c->deleted_objects = st->deleted_objects;
			c->deleted_bytes = st->deleted_bytes;
			tally[i].stored_after = st->unchanged_bytes + st->copied_bytes +
						st->dedup_bytes;
			if (plan->deletes.quarantine_prefix)
				tally[i].stored_after += st->deleted_bytes;
		}
		if (exit_code == MG_EXIT_OK)
			exit_code = mg_estimate_output(plan, opts, &run.src_counters,
						       tally, plan->ntargets);
		else
			for (size_t i = 0; i < plan->ntargets; i++)
				if (targets[i].ops || targets[i].fatal)
					print_target_summary(&run, &targets[i]);
		free(tally);
		goto done;
	}

	summary = json_object();
	json_object_set_new(summary, "plan", json_string(plan->name));
	json_object_set_new(summary, "plan_sha256", json_string(planhex));
	json_object_set_new(summary, "dry_run", json_boolean(opts->dry_run));
	json_object_set_new(summary, "started", json_integer((json_int_t)(wall_start / 1000000000)));
	json_object_set_new(summary, "duration_s",
			    json_real((double)(mg_mono_ns() - run.start_ns) / 1e9));
	json_object_set_new(summary, "source", json_string(plan->source.url));
	json_object_set_new(summary, "source_counters", counters_json(&run.src_counters));
	tjs = json_array();
	for (size_t i = 0; i < plan->ntargets; i++)
		if (targets[i].ops || targets[i].fatal)
			json_array_append_new(tjs, target_json(&targets[i]));
	json_object_set_new(summary, "targets", tjs);
	json_object_set_new(summary, "exit_code", json_integer(exit_code));

	if (!opts->dry_run) {
		char *js = json_dumps(summary, JSON_COMPACT);

		mg_journal_put_run(run.journal, wall_start, js);
		free(js);
	}
	if (opts->json) {
		json_dumpf(summary, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	}
	if (run.logj) {
		char *js;

		json_object_set_new(summary, "event", json_string("run"));
		json_object_set_new(summary, "time", json_real((double)mg_now_ns() / 1e9));
		js = json_dumps(summary, JSON_COMPACT);
		fprintf(run.logj, "%s\n", js);
		free(js);
	}
	if (!opts->quiet) {
		for (size_t i = 0; i < plan->ntargets; i++)
			if (targets[i].ops || targets[i].fatal)
				print_target_summary(&run, &targets[i]);
	} else {
		/* -q drops the summary, never the reason a run could not
		 * go on (a changed host key, a missing source folder) */
		for (size_t i = 0; i < plan->ntargets; i++) {
			struct mg_buf b = MG_BUF_INIT;

			if (!targets[i].fatal || targets[i].fatal_said)
				continue;
			mg_buf_add_printable(&b, targets[i].fatal_err.msg, 0);
			fprintf(stderr, "migrate: %s: stopped: %s\n", targets[i].ep->url,
				b.buf ? b.buf : "");
			mg_buf_release(&b);
		}
	}
	if (mg_interrupted && !opts->quiet)
		fprintf(stderr, "interrupted: what finished is journaled; run again to continue\n");
	json_decref(summary);
done:
	for (size_t i = 0; i < plan->ntargets; i++) {
		for (size_t k = 0; k < targets[i].nfailures; k++) {
			free(targets[i].failures[k].key);
			free(targets[i].failures[k].msg);
		}
		mg_upload_issues_release(&targets[i].upl);
	}
	free(targets);
	if (run.logj) {
		if (fclose(run.logj) != 0)
			fprintf(stderr, "migrate: cannot write the event log '%s': %s\n",
				opts->log_json, strerror(errno));
		pthread_mutex_destroy(&run.logmu);
	}
	mg_journal_close(run.journal);
	return exit_code;
}
