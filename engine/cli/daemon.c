/*
 * daemon.c - `migrate daemon PLAN`: run the plan on its schedule.
 *
 * One loop in one thread: wait for the next due time, run the plan once
 * (mg_engine_run, incremental through the journal), read what the run
 * recorded, write the metrics, log one line, compute the next due time.
 * Runs cannot overlap because nothing else starts them; a run that is
 * still going when the next one is due delays it, and however many due
 * times a long run covered, one run follows right after it (a backlog of
 * runs would only copy the same changes again).
 *
 * Signals: SIGINT/SIGTERM (main.c's handler sets mg_interrupted) stop the
 * engine cleanly mid-run; the daemon then writes the metrics and exits 0,
 * because it stopped as asked.  Between runs it exits at once.  SIGHUP
 * reloads the plan before the next run; a plan that does not load keeps
 * the old one running, with the error in the log.
 *
 * The journal is opened only between runs, to read the newest run record:
 * the engine opens it itself and the journal allows one holder at a time.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "connector.h"
#include "daemon.h"
#include "journal.h"
#include "mg.h"
#include "runrec.h"
#include "safefile.h"

/* Run records read at start-up to find each target's last success. */
#define HISTORY_RUNS 1000

static volatile sig_atomic_t reload_wanted;

static void on_hup(int sig)
{
	(void)sig;
	reload_wanted = 1;
}

/* What the metrics say about one target.  Keyed by URL so a reload that
 * keeps a target keeps its counters. */
struct tstate {
	char *url;
	uint64_t objects_total;		/* copied by this daemon, all runs */
	uint64_t bytes_total;
	uint64_t last_objects;		/* the last run */
	uint64_t last_bytes;
	uint64_t last_failed;
	int64_t last_success;		/* start of the newest clean run, unix s; 0 never */
};

struct dstate {
	struct tstate *t;
	size_t nt;
	uint64_t runs_total;
	uint64_t run_failures_total;
	int64_t last_run;		/* unix s */
	double last_duration;
	int last_exit;
	int64_t last_success;		/* a run with exit code 0 */
	int64_t newest_start;		/* of the newest run in the journal at start-up */
	/* Request latency per endpoint (by URL, as targets are) and class,
	 * runs added up from the run records' "latency" (issue 16.1): a
	 * Prometheus histogram over latency.h's mg_lat_bounds. */
	struct eplat {
		char *url;
		struct {
			uint64_t le[MG_LAT_NBOUNDS], count;
			double sum;
		} lat[MG_LAT_CLASSES];
	} *ep;
	size_t nep;
};

/* time() may read a coarse clock that lags the one wait_until() sleeps on
 * by a few milliseconds: a run woken at 12:00:02.001 must not see
 * 12:00:01 and schedule its successor a second early. */
static time_t now_s(void)
{
	return (time_t)(mg_now_ns() / 1000000000);
}

static void dlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line per event, with the local time, so a journal without its own
 * timestamps (a plain log file, `nohup`) still reads. */
static void dlog(const char *fmt, ...)
{
	char when[40];
	time_t now = now_s();
	struct tm tm;
	va_list ap;

	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S%z", &tm);
	fprintf(stderr, "%s migrate daemon: ", when);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void fmt_time(time_t t, char *out, size_t len)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static int schedule_check(const struct mg_plan *plan, struct mg_cron *cron,
			  char *msg, size_t msglen)
{
	if (plan->schedule.cron)
		return mg_cron_parse(plan->schedule.cron, cron, msg, msglen);
	if (plan->schedule.every > 0)
		return 0;
	snprintf(msg, msglen, "%s: plan '%s' has no schedule: add "
		 "'schedule: { every: 15m }' or 'schedule: { cron: \"*/15 * * * *\" }' "
		 "to run it with 'migrate daemon'", plan->file, plan->name);
	return -1;
}

/* The next due time after a run that started at `base` (unix s). */
static time_t next_due(const struct mg_plan *plan, const struct mg_cron *cron,
		       time_t base)
{
	if (plan->schedule.cron)
		return mg_cron_next(cron, base);
	return base + (time_t)plan->schedule.every;
}

static struct tstate *tstate_get(struct dstate *d, const char *url)
{
	for (size_t i = 0; i < d->nt; i++)
		if (!strcmp(d->t[i].url, url))
			return &d->t[i];
	d->t = mg_realloc(d->t, (d->nt + 1) * sizeof(*d->t));
	memset(&d->t[d->nt], 0, sizeof(d->t[0]));
	d->t[d->nt].url = mg_strdup(url);
	return &d->t[d->nt++];
}

/* A target is caught up after a run when the run was not cut short and the
 * target had no failed object, no fatal error and a complete listing. */
static int target_clean(json_t *run, json_t *t)
{
	json_t *lc = json_object_get(t, "listing_complete");

	return json_integer_value(json_object_get(run, "exit_code")) != MG_EXIT_INTERRUPT &&
	       !json_object_get(t, "fatal") && mg_runrec_u64(t, "failed", "objects") == 0 &&
	       !json_is_false(lc);
}

struct newest {
	int64_t start_ns;
	char *json;
};

static int newest_cb(void *arg, int64_t start_ns, const char *json)
{
	struct newest *n = arg;

	n->start_ns = start_ns;
	n->json = mg_strdup(json);
	return 1;
}

struct history {
	const struct mg_plan *plan;
	struct dstate *d;
};

/* Start-up: the last success of the plan and of each target from the
 * journal, so the lag is right from the first metrics on, across
 * restarts. */
static int history_cb(void *arg, int64_t start_ns, const char *json)
{
	struct history *h = arg;
	json_t *run = json_loads(json, 0, NULL);
	json_t *tjs, *t;
	size_t i, missing = 0;

	(void)start_ns;
	if (!run)
		return 0;
	if (!h->d->newest_start)
		h->d->newest_start = json_integer_value(json_object_get(run, "started"));
	if (!h->d->last_success &&
	    json_integer_value(json_object_get(run, "exit_code")) == MG_EXIT_OK)
		h->d->last_success = json_integer_value(json_object_get(run, "started"));
	tjs = json_object_get(run, "targets");
	json_array_foreach(tjs, i, t) {
		const char *url = json_string_value(json_object_get(t, "url"));
		struct tstate *ts;

		if (!url)
			continue;
		ts = tstate_get(h->d, url);
		if (!ts->last_success && target_clean(run, t))
			ts->last_success = json_integer_value(json_object_get(run, "started"));
	}
	json_decref(run);
	for (i = 0; i < h->plan->ntargets; i++)
		if (!tstate_get(h->d, h->plan->targets[i].url)->last_success)
			missing++;
	return !missing && h->d->last_success;	/* 1: found everything, stop */
}

/* Opens the journal only if it exists: the daemon never creates one just
 * to read it (the first run does). */
static struct mg_journal *journal_open_existing(const char *dir)
{
	struct mg_journal *j;
	struct mg_error err = { 0 };

	if (!mg_runrec_journal_exists(dir))
		return NULL;
	if (mg_journal_open(dir, &j, &err) != MG_OK) {
		dlog("cannot read the run records: %s", err.msg);
		return NULL;
	}
	return j;
}

static void load_history(const struct mg_plan *plan, struct dstate *d)
{
	struct history h = { plan, d };
	struct mg_journal *j = journal_open_existing(plan->journal);

	if (!j)
		return;
	mg_journal_list_runs(j, HISTORY_RUNS, history_cb, &h);
	mg_journal_close(j);
}

/* After a run: the record it wrote, or NULL when it wrote none (it could
 * not open the journal, or its connector is missing). */
static json_t *read_run_record(const struct mg_plan *plan, int64_t since_ns)
{
	struct newest n = { 0, NULL };
	struct mg_journal *j = journal_open_existing(plan->journal);
	json_t *run = NULL;

	if (!j)
		return NULL;
	mg_journal_list_runs(j, 1, newest_cb, &n);
	mg_journal_close(j);
	if (n.json && n.start_ns >= since_ns)
		run = json_loads(n.json, 0, NULL);
	free(n.json);
	return run;
}

/* Adds the "latency" object of a run record's endpoint url to d->ep. */
static void account_latency(struct dstate *d, const char *url, json_t *lat)
{
	struct eplat *e = NULL;

	if (!url || !json_is_object(lat))
		return;
	for (size_t i = 0; i < d->nep && !e; i++)
		if (!strcmp(d->ep[i].url, url))
			e = &d->ep[i];
	if (!e) {
		d->ep = mg_realloc(d->ep, (d->nep + 1) * sizeof(*d->ep));
		e = memset(&d->ep[d->nep++], 0, sizeof(*e));
		e->url = mg_strdup(url);
	}
	for (int c = 0; c < MG_LAT_CLASSES; c++) {
		json_t *k = json_object_get(lat, mg_lat_name(c));
		json_t *b = json_object_get(k, "buckets");

		if (!json_is_object(k) || json_array_size(b) != MG_LAT_NBOUNDS)
			continue;
		for (int i = 0; i < MG_LAT_NBOUNDS; i++)
			e->lat[c].le[i] += (uint64_t)json_integer_value(json_array_get(b, i));
		e->lat[c].count += (uint64_t)json_integer_value(json_object_get(k, "count"));
		e->lat[c].sum += json_number_value(json_object_get(k, "sum"));
	}
}

static void account_run(const struct mg_plan *plan, struct dstate *d, json_t *run,
			int code, time_t started, double duration)
{
	json_t *tjs, *t;
	size_t i;

	for (i = 0; i < plan->ntargets; i++) {
		struct tstate *ts = tstate_get(d, plan->targets[i].url);

		ts->last_objects = ts->last_bytes = ts->last_failed = 0;
	}
	d->runs_total++;
	d->last_run = started;
	d->last_duration = duration;
	d->last_exit = code;
	/* Stopping on request is not a failure; everything else that is
	 * not 0 is. */
	if (code != MG_EXIT_OK && code != MG_EXIT_INTERRUPT)
		d->run_failures_total++;
	if (!run)
		return;
	d->last_run = json_integer_value(json_object_get(run, "started"));
	if (json_is_number(json_object_get(run, "duration_s")))
		d->last_duration = json_number_value(json_object_get(run, "duration_s"));
	if (code == MG_EXIT_OK)
		d->last_success = d->last_run;
	account_latency(d, plan->source.url, json_object_get(run, "source_latency"));
	tjs = json_object_get(run, "targets");
	json_array_foreach(tjs, i, t) {
		struct mg_runrec_target rt;
		struct tstate *ts;

		mg_runrec_target_read(t, &rt);
		if (!rt.url)
			continue;
		account_latency(d, rt.url, json_object_get(t, "latency"));
		ts = tstate_get(d, rt.url);
		ts->last_objects = rt.copied_objects;
		ts->last_bytes = rt.copied_bytes;
		ts->last_failed = rt.failed_objects;
		ts->objects_total += ts->last_objects;
		ts->bytes_total += ts->last_bytes;
		if (target_clean(run, t))
			ts->last_success = d->last_run;
	}
}

/* A label value in the text format: backslash, double quote and newline
 * are escaped, the rest goes as is (UTF-8). */
static void add_label(struct mg_buf *b, const char *name, const char *value)
{
	mg_buf_addf(b, "%s=\"", name);
	for (const char *p = value; *p; p++) {
		if (*p == '\\')
			mg_buf_adds(b, "\\\\");
		else if (*p == '"')
			mg_buf_adds(b, "\\\"");
		else if (*p == '\n')
			mg_buf_adds(b, "\\n");
		else
			mg_buf_add(b, p, 1);
	}
	mg_buf_adds(b, "\"");
}

static void add_head(struct mg_buf *b, const char *name, const char *type,
		     const char *help)
{
	mg_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void add_plan_sample(struct mg_buf *b, const char *name,
			    const struct mg_plan *plan, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add_plan_sample(struct mg_buf *b, const char *name,
			    const struct mg_plan *plan, const char *fmt, ...)
{
	va_list ap;

	mg_buf_addf(b, "%s{", name);
	add_label(b, "plan", plan->name);
	mg_buf_adds(b, "} ");
	va_start(ap, fmt);
	mg_buf_vaddf(b, fmt, ap);
	va_end(ap);
	mg_buf_adds(b, "\n");
}

static void add_target_sample(struct mg_buf *b, const char *name,
			      const struct mg_plan *plan, const char *url,
			      const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void add_target_sample(struct mg_buf *b, const char *name,
			      const struct mg_plan *plan, const char *url,
			      const char *fmt, ...)
{
	va_list ap;

	mg_buf_addf(b, "%s{", name);
	add_label(b, "plan", plan->name);
	mg_buf_adds(b, ",");
	add_label(b, "target", url);
	mg_buf_adds(b, "} ");
	va_start(ap, fmt);
	mg_buf_vaddf(b, fmt, ap);
	va_end(ap);
	mg_buf_adds(b, "\n");
}

/* Per-target series for the targets of the current plan only: a target a
 * reload removed stops being reported. */
enum tfield { T_OBJ_TOTAL, T_BYTES_TOTAL, T_OBJ_LAST, T_BYTES_LAST, T_FAILED,
	      T_SUCCESS, T_LAG };

/* The counter f of a target (not T_SUCCESS or T_LAG). */
static uint64_t target_count(const struct tstate *ts, enum tfield f)
{
	switch (f) {
	case T_OBJ_TOTAL:	return ts->objects_total;
	case T_BYTES_TOTAL:	return ts->bytes_total;
	case T_OBJ_LAST:	return ts->last_objects;
	case T_BYTES_LAST:	return ts->last_bytes;
	case T_FAILED:		return ts->last_failed;
	default:		return 0;
	}
}

static void add_target_series(struct mg_buf *b, const struct mg_plan *plan,
			      struct dstate *d, enum tfield f, const char *name,
			      const char *type, const char *help, time_t now)
{
	add_head(b, name, type, help);
	for (size_t i = 0; i < plan->ntargets; i++) {
		const char *url = plan->targets[i].url;
		struct tstate *ts = tstate_get(d, url);

		if (f != T_SUCCESS && f != T_LAG)
			add_target_sample(b, name, plan, url, "%" PRIu64,
					  target_count(ts, f));
		/* Unknown is no sample, not 0: an alert on the lag must not
		 * see a target that never succeeded as perfectly current. */
		else if (ts->last_success)
			add_target_sample(b, name, plan, url, "%" PRId64,
					  f == T_SUCCESS ? ts->last_success :
					  (int64_t)now - ts->last_success);
	}
}

/* The labels of one endpoint's class: plan="..",endpoint="..",class="..". */
static void add_lat_labels(struct mg_buf *b, const char *series, const struct mg_plan *plan,
			   const char *url, int c)
{
	mg_buf_addf(b, "migrate_request_duration_seconds_%s{", series);
	add_label(b, "plan", plan->name);
	mg_buf_adds(b, ",");
	add_label(b, "endpoint", url);
	mg_buf_adds(b, ",");
	add_label(b, "class", mg_lat_name(c));
}

/* migrate_request_duration_seconds: one histogram per endpoint and class
 * seen. */
static void add_latency(struct mg_buf *b, const struct mg_plan *plan,
			const struct dstate *d)
{
	add_head(b, "migrate_request_duration_seconds", "histogram",
		 "Requests to the source and the targets by endpoint and class, first byte sent to last byte received.");
	for (size_t e = 0; e < d->nep; e++) {
		const struct eplat *ep = &d->ep[e];

		for (int c = 0; c < MG_LAT_CLASSES; c++) {
			if (!ep->lat[c].count)
				continue;
			for (int i = 0; i <= MG_LAT_NBOUNDS; i++) {
				add_lat_labels(b, "bucket", plan, ep->url, c);
				if (i < MG_LAT_NBOUNDS)
					mg_buf_addf(b, ",le=\"%g\"} %" PRIu64 "\n",
						    mg_lat_bounds[i], ep->lat[c].le[i]);
				else
					mg_buf_addf(b, ",le=\"+Inf\"} %" PRIu64 "\n",
						    ep->lat[c].count);
			}
			add_lat_labels(b, "sum", plan, ep->url, c);
			mg_buf_addf(b, "} %.6f\n", ep->lat[c].sum);
			add_lat_labels(b, "count", plan, ep->url, c);
			mg_buf_addf(b, "} %" PRIu64 "\n", ep->lat[c].count);
		}
	}
}

/* The whole file is rebuilt each time and renamed into place, so the
 * node exporter's textfile collector never reads half a file. */
static int metrics_write(const struct mg_plan *plan, struct dstate *d)
{
	struct mg_buf b = MG_BUF_INIT;
	struct mg_safefile sf;
	struct mg_error err = { 0 };
	time_t now = now_s();
	int r = -1;

	if (!plan->metrics_file)
		return 0;
	add_head(&b, "migrate_last_run_timestamp_seconds", "gauge",
		 "Start time of the last run, unix seconds.");
	add_plan_sample(&b, "migrate_last_run_timestamp_seconds", plan, "%" PRId64,
			d->last_run);
	add_head(&b, "migrate_last_run_duration_seconds", "gauge",
		 "How long the last run took.");
	add_plan_sample(&b, "migrate_last_run_duration_seconds", plan, "%.3f",
			d->last_duration);
	add_head(&b, "migrate_last_run_exit_code", "gauge",
		 "Exit code of the last run: 0 ok, 1 some objects failed, 3 fatal, 130 stopped.");
	add_plan_sample(&b, "migrate_last_run_exit_code", plan, "%d", d->last_exit);
	if (d->last_success) {
		add_head(&b, "migrate_last_success_timestamp_seconds", "gauge",
			 "Start time of the newest run that ended with exit code 0, unix seconds.");
		add_plan_sample(&b, "migrate_last_success_timestamp_seconds", plan,
				"%" PRId64, d->last_success);
	}
	add_head(&b, "migrate_runs_total", "counter",
		 "Runs started by this daemon.");
	add_plan_sample(&b, "migrate_runs_total", plan, "%" PRIu64, d->runs_total);
	add_head(&b, "migrate_run_failures_total", "counter",
		 "Runs of this daemon that ended with an exit code other than 0 or 130.");
	add_plan_sample(&b, "migrate_run_failures_total", plan, "%" PRIu64,
			d->run_failures_total);
	add_latency(&b, plan, d);
	add_target_series(&b, plan, d, T_OBJ_TOTAL, "migrate_objects_copied_total",
			  "counter", "Objects copied to the target by this daemon.", now);
	add_target_series(&b, plan, d, T_BYTES_TOTAL, "migrate_bytes_copied_total",
			  "counter", "Bytes copied to the target by this daemon.", now);
	add_target_series(&b, plan, d, T_OBJ_LAST, "migrate_last_run_objects_copied",
			  "gauge", "Objects copied to the target by the last run.", now);
	add_target_series(&b, plan, d, T_BYTES_LAST, "migrate_last_run_bytes_copied",
			  "gauge", "Bytes copied to the target by the last run.", now);
	add_target_series(&b, plan, d, T_FAILED, "migrate_objects_failed",
			  "gauge", "Objects that failed at the target in the last run.", now);
	add_target_series(&b, plan, d, T_SUCCESS, "migrate_target_last_success_timestamp_seconds",
			  "gauge", "Start time of the newest run that left the target with no failure, unix seconds.",
			  now);
	add_target_series(&b, plan, d, T_LAG, "migrate_replication_lag_seconds",
			  "gauge", "Seconds from the start of the target's last clean run to when this file was written.",
			  now);

	/* a fresh name, never one that could have been planted, renamed
	 * over the file: see safefile.h */
	if (mg_safefile_open(plan->metrics_file, 0644, &sf, &err) != MG_OK) {
		dlog("cannot write metrics: %s", err.msg);
		goto out;
	}
	if (write(sf.fd, b.buf, b.len) != (ssize_t)b.len) {
		dlog("cannot write metrics '%s': %s", plan->metrics_file, strerror(errno));
		mg_safefile_abort(&sf);
		goto out;
	}
	if (mg_safefile_commit(&sf, &err) != MG_OK) {
		dlog("cannot write metrics: %s", err.msg);
		goto out;
	}
	r = 0;
out:
	mg_buf_release(&b);
	return r;
}

static const char *exit_word(int code)
{
	switch (code) {
	case MG_EXIT_OK: return "ok";
	case MG_EXIT_PARTIAL: return "some objects failed";
	case MG_EXIT_FATAL: return "fatal";
	case MG_EXIT_INTERRUPT: return "stopped";
	default: return "error";
	}
}

/* The one log line a run gets. */
static void log_run(uint64_t n, int code, double duration, json_t *run,
		    const char *next)
{
	struct mg_buf b = MG_BUF_INIT;
	json_t *tjs = json_object_get(run, "targets"), *t;
	size_t i;

	mg_buf_addf(&b, "run %" PRIu64 ": exit %d (%s) in %.1fs", n, code,
		    exit_word(code), duration);
	if (!run)
		mg_buf_adds(&b, ", no run record (see the message above)");
	json_array_foreach(tjs, i, t) {
		struct mg_runrec_target rt;
		char bytes[32];

		mg_runrec_target_read(t, &rt);
		mg_fmt_bytes(rt.copied_bytes, bytes, sizeof(bytes));
		/* a fatal message may name a key, and keys may hold terminal
		 * escapes: the log is read on terminals too */
		mg_buf_adds(&b, "; '");
		mg_buf_add_printable(&b, rt.url ? rt.url : "?", 0);
		mg_buf_addf(&b, "': %" PRIu64 " copied (%s), %" PRIu64 " unchanged, %"
			    PRIu64 " failed", rt.copied_objects, bytes,
			    rt.unchanged_objects, rt.failed_objects);
		if (rt.fatal) {
			mg_buf_adds(&b, ", fatal: ");
			mg_buf_add_printable(&b, rt.fatal, 0);
		}
	}
	mg_buf_addf(&b, "; next run: %s", next);
	dlog("%s", b.buf);
	mg_buf_release(&b);
}

static void reload(const char *path, struct mg_plan *plan, struct mg_cron *cron)
{
	struct mg_plan np;
	struct mg_cron nc;
	struct mg_error err = { 0 };
	char msg[512];

	if (mg_plan_load(path, &np, &err) != MG_OK) {
		dlog("SIGHUP: keeping the running plan: %s", err.msg);
		return;
	}
	if (schedule_check(&np, &nc, msg, sizeof(msg)) < 0) {
		dlog("SIGHUP: keeping the running plan: %s", msg);
		mg_plan_release(&np);
		return;
	}
	mg_plan_release(plan);
	*plan = np;
	*cron = nc;
	dlog("SIGHUP: reloaded '%s' (plan '%s')", path, plan->name);
}

/* Sleeps until `due` (unix ns) or a signal.  nanosleep() returns early
 * with EINTR on a signal whatever SA_RESTART says, and the 1 s slices
 * bound the window in which a signal arriving just before the sleep
 * would go unnoticed. */
static void wait_until(int64_t due)
{
	while (!mg_interrupted && !reload_wanted) {
		int64_t left = due - mg_now_ns();
		struct timespec ts;

		if (left <= 0)
			return;
		if (left > 1000000000)
			left = 1000000000;
		ts.tv_sec = (time_t)(left / 1000000000);
		ts.tv_nsec = (long)(left % 1000000000);
		nanosleep(&ts, NULL);
	}
}

static void describe_schedule(const struct mg_plan *plan, char *out, size_t len)
{
	if (plan->schedule.cron)
		snprintf(out, len, "cron '%s'", plan->schedule.cron);
	else
		snprintf(out, len, "every %" PRId64 "s", plan->schedule.every);
}

int mg_cmd_daemon(const char *path, struct mg_plan *plan, struct mg_run_opts *o)
{
	struct dstate d = { 0 };
	struct mg_cron cron;
	struct sigaction sa;
	sigset_t hup_set;
	char msg[512], sched[160], when[32];
	time_t last_start = 0, next;

	if (schedule_check(plan, &cron, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "migrate: %s\n", msg);
		return MG_EXIT_USAGE;
	}
	if (o->dry_run) {
		fprintf(stderr, "migrate: --dry-run does not go with 'migrate daemon': "
			"try 'migrate --dry-run %s'\n", path);
		return MG_EXIT_USAGE;
	}
	/* The log gets one line per run; the engine still logs each failed
	 * object as it happens. */
	o->quiet = 1;
	o->progress = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hup;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&hup_set);
	sigaddset(&hup_set, SIGHUP);

	load_history(plan, &d);
	describe_schedule(plan, sched, sizeof(sched));
	/* `every` counts from the start of the newest run in the journal,
	 * so a restart (or a crash loop under Restart=) does not run early,
	 * and runs at once when that is past; cron waits for its first
	 * matching minute, as cron would. */
	if (plan->schedule.cron)
		next = mg_cron_next(&cron, now_s());
	else if (d.newest_start && d.newest_start + plan->schedule.every > now_s())
		next = (time_t)(d.newest_start + plan->schedule.every);
	else
		next = now_s();
	if (next == (time_t)-1)
		snprintf(when, sizeof(when), "never");
	else
		fmt_time(next, when, sizeof(when));
	dlog("started (pid %ld): plan '%s', %s, first run %s, journal '%s', metrics %s%s%s",
	     (long)getpid(), plan->name, sched, when, plan->journal,
	     plan->metrics_file ? "'" : "",
	     plan->metrics_file ? plan->metrics_file : "off (add 'metrics: { file: PATH }')",
	     plan->metrics_file ? "'" : "");
	for (;;) {
		int64_t t0;
		time_t started, now;
		double duration;
		json_t *run;
		int code;

		if (next == (time_t)-1) {
			dlog("the schedule never fires again; stopping");
			break;
		}
		wait_until((int64_t)next * 1000000000);
		if (mg_interrupted) {
			dlog("stopping on request (no run in progress)");
			break;
		}
		if (reload_wanted) {
			reload_wanted = 0;
			reload(path, plan, &cron);
			now = now_s();
			next = last_start ? next_due(plan, &cron, last_start) :
			       plan->schedule.cron ? mg_cron_next(&cron, now) : now;
			if (next != (time_t)-1 && next < now)
				next = now;
			continue;
		}

		started = now_s();
		t0 = mg_now_ns();
		/* SIGHUP waits until the run is over: blocked here, it is
		 * blocked in every thread the engine starts too, so it cannot
		 * interrupt a transfer's poll() or sleep; it is delivered, and
		 * acted on, when the mask is lifted. */
		pthread_sigmask(SIG_BLOCK, &hup_set, NULL);
		code = mg_engine_run(plan, o);
		pthread_sigmask(SIG_UNBLOCK, &hup_set, NULL);
		duration = (double)(mg_now_ns() - t0) / 1e9;
		last_start = started;
		/* The engine keys its record by a start time taken after t0. */
		run = read_run_record(plan, t0);
		account_run(plan, &d, run, code, started, duration);
		metrics_write(plan, &d);
		fflush(stdout);

		now = now_s();
		next = next_due(plan, &cron, started);
		/* Due while the run was going: one run right away, not one per
		 * missed due time. */
		if (next != (time_t)-1 && next < now)
			next = now;
		if (mg_interrupted)
			snprintf(when, sizeof(when), "none: stopping");
		else if (next == (time_t)-1)
			snprintf(when, sizeof(when), "never");
		else
			fmt_time(next, when, sizeof(when));
		log_run(d.runs_total, code, duration, run, when);
		json_decref(run);
		if (mg_interrupted) {
			dlog("stopped on request; what finished is journaled");
			break;
		}
	}
	for (size_t i = 0; i < d.nt; i++)
		free(d.t[i].url);
	free(d.t);
	for (size_t i = 0; i < d.nep; i++)
		free(d.ep[i].url);
	free(d.ep);
	return MG_EXIT_OK;
}
