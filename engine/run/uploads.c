/*
 * uploads.c - multipart uploads outside the transfer: intents, giving up,
 * the end-of-run sweep, the report of what is left open, and
 * `migrate cleanup`.  See uploads.h.
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connector.h"
#include "engine.h"
#include "journal.h"
#include "mg.h"
#include "plan.h"
#include "uploads.h"

static pthread_mutex_t issues_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- the report ---- */

static void issue_add(struct mg_upload_issues *is, int left_open, const char *key,
		      const char *upload_id, const char *reason)
{
	char pk[256];

	pthread_mutex_lock(&issues_mu);
	if (left_open)
		is->total++;
	else
		is->restarted++;
	if (is->n < MG_UPLOAD_ISSUES_KEEP) {
		is->list[is->n].key = mg_strdup(key);
		is->list[is->n].upload_id = mg_strdup(upload_id ? upload_id : "");
		is->list[is->n].reason = mg_strdup(reason);
		is->list[is->n].left_open = left_open;
		is->n++;
	}
	pthread_mutex_unlock(&issues_mu);
	fprintf(stderr, "migrate: upload of '%s' %s: %s\n",
		mg_printable(key, pk, sizeof(pk)),
		left_open ? "left open" : "not resumed, sent again", reason);
}

void mg_upload_issue_add(struct mg_upload_issues *is, const char *key,
			 const char *upload_id, const char *fmt, ...)
{
	struct mg_buf b = MG_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	mg_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	issue_add(is, 1, key, upload_id, b.buf ? b.buf : "");
	mg_buf_release(&b);
}

void mg_upload_note_restart(struct mg_upload_issues *is, const char *key,
			    const char *upload_id, const char *reason)
{
	issue_add(is, 0, key, upload_id, reason);
}

void mg_upload_issues_print(const struct mg_upload_issues *is, FILE *out)
{
	char pk[256], pid[160];

	if (is->swept)
		fprintf(out, "  %-12s %8" PRIu64 " multipart uploads no object needs any "
			"more (aborted)\n", "cleaned up", is->swept);
	if (is->restarted)
		fprintf(out, "  %-12s %8" PRIu64 " journaled multipart uploads the server "
			"would not let resume (aborted, sent again)\n", "not resumed",
			is->restarted);
	if (is->total)
		fprintf(out, "  %-12s %8" PRIu64 " multipart uploads could not be aborted "
			"or checked (they may hold billed parts: see 'migrate cleanup')\n",
			"left open", is->total);
	for (size_t i = 0; i < is->n; i++)
		fprintf(out, "  %s: '%s' (upload %s): %s\n",
			is->list[i].left_open ? "left open" : "not resumed",
			mg_printable(is->list[i].key, pk, sizeof(pk)),
			mg_printable(is->list[i].upload_id, pid, sizeof(pid)),
			is->list[i].reason);
	if (is->total + is->restarted > is->n)
		fprintf(out, "  ... and %" PRIu64 " more uploads not resumed or left open "
			"(see above)\n", is->total + is->restarted - is->n);
}

static json_t *jstr(const char *s)
{
	/* keys are bytes: what is not UTF-8 is escaped as for a person */
	json_t *j = json_string(s);
	char buf[1024];

	return j ? j : json_string(mg_printable(s, buf, sizeof(buf)));
}

json_t *mg_upload_issues_json(const struct mg_upload_issues *is)
{
	json_t *o = json_object(), *a = json_array(), *nr = json_array();

	for (size_t i = 0; i < is->n; i++) {
		json_t *e = json_object();

		json_object_set_new(e, "key", jstr(is->list[i].key));
		json_object_set_new(e, "upload_id", jstr(is->list[i].upload_id));
		json_object_set_new(e, "reason", jstr(is->list[i].reason));
		json_array_append_new(is->list[i].left_open ? a : nr, e);
	}
	json_object_set_new(o, "aborted", json_integer((json_int_t)is->swept));
	json_object_set_new(o, "left_open_count", json_integer((json_int_t)is->total));
	json_object_set_new(o, "not_resumed_count", json_integer((json_int_t)is->restarted));
	json_object_set_new(o, "left_open", a);
	json_object_set_new(o, "not_resumed", nr);
	return o;
}

void mg_upload_issues_release(struct mg_upload_issues *is)
{
	for (size_t i = 0; i < is->n; i++) {
		free(is->list[i].key);
		free(is->list[i].upload_id);
		free(is->list[i].reason);
	}
	memset(is, 0, sizeof(*is));
}

/* ---- intents ---- */

int mg_upload_intent_begin(struct mg_journal *j, const char *tid, const char *key,
			   int *fresh)
{
	int64_t t;

	*fresh = 0;
	if (mg_journal_get_intent(j, tid, key, &t) == MG_OK)
		return MG_OK;
	if (mg_journal_put_intent(j, tid, key, mg_now_ns(), 1) != MG_OK)
		return MG_FATAL;
	*fresh = 1;
	return MG_OK;
}

int mg_upload_intent_end(struct mg_journal *j, const char *tid, const char *key,
			 int fresh)
{
	/* not synced: an intent that survives a crash is only checked again */
	return fresh ? mg_journal_del_intent(j, tid, key, 0) : MG_OK;
}

/* ---- journal writes ---- */

/* Sets e (first error wins) when the journal write r failed; returns MG_OK
 * or MG_FATAL. */
static int journal_wrote(struct mg_error *e, int r, const char *what)
{
	if (r != MG_OK)
		mg_error_set(e, MG_FATAL, 0, 0, "journal", "cannot write the journal "
			     "(%s): what is journaled is kept; run again once it can "
			     "be written", what);
	return r == MG_OK ? MG_OK : MG_FATAL;
}

/* The journal's error je goes to dst->err in place of the connector's. */
static int journal_failed(struct mg_conn *dst, const struct mg_error *je)
{
	mg_error_clear(&dst->err);
	mg_error_copy(&dst->err, je);
	return MG_FATAL;
}

/* ---- giving up ---- */

static int abort_upload(struct mg_conn *dst, const char *key, const char *upload_id)
{
	/* the connector answers MG_OK for an upload the server no longer
	 * has (NoSuchUpload, or NoSuchKey from RGW): gone is confirmed */
	return mg_mp_abort(dst, key, upload_id);
}

int mg_upload_give_up(struct mg_journal *j, const char *tid, struct mg_conn *dst,
		      const char *key, const char *upload_id, const char *why,
		      struct mg_upload_issues *is)
{
	struct mg_error je = { 0 };
	int r;

	mg_error_clear(&dst->err);
	r = abort_upload(dst, key, upload_id);
	if (r == MG_OK)
		return journal_wrote(&je, mg_journal_del_upload(j, tid, key, 1),
				     "an aborted upload's record") != MG_OK ?
		       journal_failed(dst, &je) : MG_OK;
	if (r == MG_RETRY || r == MG_FATAL)
		return r;
	/* The server will not abort it: keep it where the sweep tries
	 * again, so the next upload of key can start. */
	if (journal_wrote(&je, mg_journal_put_abandoned(j, tid, key, upload_id,
							mg_now_ns(), why),
			  "an abandoned upload") != MG_OK ||
	    journal_wrote(&je, mg_journal_del_upload(j, tid, key, 1),
			  "an abandoned upload's record") != MG_OK)
		return journal_failed(dst, &je);
	if (is)
		mg_upload_issue_add(is, key, upload_id, "%s; the abort failed: %s", why,
				    dst->err.msg[0] ? dst->err.msg : "refused");
	mg_error_clear(&dst->err);
	return MG_WARN;
}

/* ---- the sweep ---- */

struct sweep {
	struct mg_journal *j;
	const char *tid;
	struct mg_conn *dst;
	int64_t run_token;
	int64_t run_wall;	/* the run's start, ns since the epoch */
	struct mg_upload_issues *is;
	/* intent reconciliation */
	const char *key;
	int64_t t0;
	int failed;
	char *owned;		/* the journaled upload id of key, or NULL */
	struct mg_error *err;	/* a failed journal write; stops the sweep */
};

static int sweep_abandoned(void *arg, const char *key, const char *upload_id,
			   int64_t t_ns, const char *reason)
{
	struct sweep *sw = arg;
	int r;

	if (mg_interrupted)
		return 1;
	if (t_ns >= sw->run_wall)
		return 0;	/* given up by this run: tried and said already */
	mg_error_clear(&sw->dst->err);
	r = abort_upload(sw->dst, key, upload_id);
	if (r == MG_OK) {
		sw->is->swept++;
		return journal_wrote(sw->err, mg_journal_del_abandoned(sw->j, sw->tid, key,
								      upload_id),
				     "an aborted upload's record") != MG_OK;
	}
	mg_upload_issue_add(sw->is, key, upload_id, "%s; the abort failed again: %s",
			    reason && *reason ? reason : "given up earlier",
			    sw->dst->err.msg[0] ? sw->dst->err.msg : "refused");
	return r == MG_FATAL;
}

static int sweep_record(void *arg, const char *key, struct mg_upload_record *rec)
{
	struct sweep *sw = arg;
	int r;

	if (mg_interrupted)
		return 1;
	if (rec->run == sw->run_token)
		return 0;	/* wanted this run: resumed next time if not done */
	r = mg_upload_give_up(sw->j, sw->tid, sw->dst, key, rec->upload_id,
			      "no object needs this upload any more (the source "
			      "object is gone, below multipart_threshold, filtered "
			      "out or already copied)", sw->is);
	if (r == MG_OK)
		sw->is->swept++;
	else if (r == MG_FATAL && !strcmp(sw->dst->err.op, "journal"))
		mg_error_copy(sw->err, &sw->dst->err);
	else if (r != MG_WARN)
		mg_upload_issue_add(sw->is, key, rec->upload_id,
				    "no object needs it any more, but the abort failed "
				    "(tried again next run): %s", sw->dst->err.msg);
	return r == MG_FATAL;
}

static int intent_upload(void *arg, const struct mg_upload *u)
{
	struct sweep *sw = arg;
	int r;

	if (mg_interrupted)
		return 1;
	if (strcmp(u->key, sw->key))
		return 0;	/* another key with this one as prefix */
	if (sw->owned && !strcmp(sw->owned, u->upload_id))
		return 0;	/* the journal has it: resumed or swept */
	/* Any other upload of the key is taken as ours, as `cleanup` takes
	 * every key the journal knows: the Initiated time cannot tell (moto
	 * answers a fixed date from 2010), and an upload of a key migrate
	 * writes to would be overwritten by it anyway. */
	mg_error_clear(&sw->dst->err);
	r = abort_upload(sw->dst, u->key, u->upload_id);
	if (r == MG_OK) {
		sw->is->swept++;
		return 0;
	}
	sw->failed = 1;
	mg_upload_issue_add(sw->is, u->key, u->upload_id,
			    "left by an interrupted CreateMultipartUpload; the abort "
			    "failed (tried again next run): %s", sw->dst->err.msg);
	return r == MG_FATAL;
}

static int sweep_intent(void *arg, const char *key, int64_t t0)
{
	struct sweep *sw = arg;
	struct mg_upload_record rec;
	int r;

	if (mg_interrupted)
		return 1;
	sw->key = key;
	sw->t0 = t0;
	sw->failed = 0;
	sw->owned = NULL;
	if (mg_journal_get_upload(sw->j, sw->tid, key, &rec) == MG_OK)
		sw->owned = mg_strdup(rec.upload_id);
	mg_upload_record_release(&rec);
	mg_error_clear(&sw->dst->err);
	r = mg_mp_list_uploads(sw->dst, key, intent_upload, sw);
	free(sw->owned);
	sw->owned = NULL;
	if (r != MG_OK) {
		mg_upload_issue_add(sw->is, key, NULL,
				    "a CreateMultipartUpload was interrupted and the "
				    "uploads of this key cannot be listed to find what "
				    "it left (tried again next run): %s", sw->dst->err.msg);
		return r == MG_FATAL;
	}
	if (!sw->failed && !mg_interrupted)
		return journal_wrote(sw->err, mg_journal_del_intent(sw->j, sw->tid, key, 0),
				     "an answered intent") != MG_OK;
	return 0;
}

int mg_uploads_sweep(struct mg_journal *j, const char *tid, struct mg_conn *dst,
		     int64_t run_token, int listing_complete,
		     struct mg_upload_issues *is, struct mg_error *err)
{
	struct sweep sw = { j, tid, dst, run_token, 0, is, NULL, 0, 0, NULL, err };

	if (!mg_conn_has(dst, MG_CAP_MULTIPART) || mg_interrupted)
		return MG_OK;
	sw.run_wall = run_token;
	mg_journal_scan_abandoned(j, tid, sweep_abandoned, &sw);
	if (listing_complete && !mg_interrupted && !err->status)
		mg_journal_scan_uploads(j, tid, sweep_record, &sw);
	if (!mg_interrupted && !err->status)
		mg_journal_scan_intents(j, tid, sweep_intent, &sw);
	mg_error_clear(&dst->err);
	return err->status ? MG_FATAL : MG_OK;
}

/* ---- migrate cleanup ---- */

struct found {
	char *key, *id;
	int64_t initiated_ns;
};

struct found_list {
	struct found *v;
	size_t n, alloc;
};

static int collect_upload(void *arg, const struct mg_upload *u)
{
	struct found_list *fl = arg;

	if (fl->n == fl->alloc) {
		fl->alloc = fl->alloc ? 2 * fl->alloc : 64;
		fl->v = mg_realloc(fl->v, fl->alloc * sizeof(*fl->v));
	}
	fl->v[fl->n].key = mg_strdup(u->key);
	fl->v[fl->n].id = mg_strdup(u->upload_id);
	fl->v[fl->n].initiated_ns = u->initiated_ns;
	fl->n++;
	return mg_interrupted != 0;
}

struct cleanup_intents {
	struct mg_journal *j;
	const char *tid;
	const struct found_list *failed;	/* keys whose abort failed */
	struct mg_error err;			/* a failed journal write */
};

static int drop_intent(void *arg, const char *key, int64_t t0)
{
	struct cleanup_intents *ci = arg;

	(void)t0;
	for (size_t i = 0; i < ci->failed->n; i++)
		if (!strcmp(ci->failed->v[i].key, key))
			return 0;
	return journal_wrote(&ci->err, mg_journal_del_intent(ci->j, ci->tid, key, 0),
			     "an answered intent") != MG_OK;
}

static void found_release(struct found_list *fl)
{
	for (size_t i = 0; i < fl->n; i++) {
		free(fl->v[i].key);
		free(fl->v[i].id);
	}
	free(fl->v);
	memset(fl, 0, sizeof(*fl));
}

static void fmt_time(int64_t ns, char *out, size_t len)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (!ns || !gmtime_r(&t, &tm) || !strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, len, "unknown");
}

/* One target: returns MG_EXIT_OK, MG_EXIT_PARTIAL or MG_EXIT_FATAL. */
static int cleanup_target(const struct mg_plan *plan, const struct mg_endpoint *ep,
			  struct mg_journal *j, const struct mg_run_opts *o)
{
	const struct mg_connector *ops = mg_connector_find(ep->connector);
	struct mg_counters counters;
	struct found_list fl = { 0 }, failed = { 0 };
	struct mg_error je = { 0 };
	struct mg_conn c;
	size_t kept = 0, aborted = 0, left = 0;
	int code = MG_EXIT_OK, r;

	(void)plan;
	memset(&counters, 0, sizeof(counters));
	memset(&c, 0, sizeof(c));
	if (!ops) {
		fprintf(stderr, "migrate: cleanup %s: no '%s' connector in this build of "
			"migrate\n", ep->url, ep->connector);
		return MG_EXIT_FATAL;
	}
	if (!(ops->caps & MG_CAP_MULTIPART) || !ops->mp_list_uploads) {
		printf("cleanup %s: the '%s' connector has no multipart uploads: nothing "
		       "to do\n", ep->url, ops->scheme);
		return MG_EXIT_OK;
	}
	if (mg_conn_open(&c, ops, ep, &counters,
			 MG_OPEN_TARGET | (o->dry_run ? MG_OPEN_LOOK : 0)) != MG_OK) {
		fprintf(stderr, "migrate: cleanup %s: %s\n", ep->url, c.err.msg);
		mg_conn_close(&c);
		return MG_EXIT_FATAL;
	}
	r = mg_mp_list_uploads(&c, "", collect_upload, &fl);
	if (r != MG_OK || mg_interrupted) {
		fprintf(stderr, "migrate: cleanup %s: cannot list the multipart uploads: %s\n",
			ep->url, c.err.msg[0] ? c.err.msg : "interrupted");
		found_release(&fl);
		mg_conn_close(&c);
		return mg_interrupted ? MG_EXIT_INTERRUPT : MG_EXIT_FATAL;
	}
	for (size_t i = 0; i < fl.n && !mg_interrupted; i++) {
		const struct found *f = &fl.v[i];
		struct mg_upload_record rec;
		struct mg_obj_record obj;
		int64_t t0;
		int owned = 0, ours, abandoned;
		char pk[512], pid[160], when[32];
		const char *what;

		if (mg_journal_get_upload(j, ep->id, f->key, &rec) == MG_OK)
			owned = !strcmp(rec.upload_id, f->id);
		mg_upload_record_release(&rec);
		abandoned = mg_journal_get_abandoned(j, ep->id, f->key, f->id) == MG_OK;
		ours = abandoned || mg_journal_get_intent(j, ep->id, f->key, &t0) == MG_OK ||
		       mg_journal_get_obj(j, ep->id, f->key, &obj) == MG_OK ||
		       mg_journal_get_upload(j, ep->id, f->key, &rec) == MG_OK;
		mg_upload_record_release(&rec);
		mg_printable(f->key, pk, sizeof(pk));
		mg_printable(f->id, pid, sizeof(pid));
		fmt_time(f->initiated_ns, when, sizeof(when));
		if (owned) {
			kept++;
			printf("kept         %s  (upload %s, started %s: the journal owns it, "
			       "the next run resumes it)\n", pk, pid, when);
			continue;
		}
		if (!ours && !o->all) {
			left++;
			printf("left         %s  (upload %s, started %s: not migrate's, "
			       "--all aborts it)\n", pk, pid, when);
			continue;
		}
		what = ours ? "migrate's" : "not migrate's";
		if (o->dry_run) {
			aborted++;
			printf("would abort  %s  (upload %s, started %s, %s)\n", pk, pid,
			       when, what);
			continue;
		}
		mg_error_clear(&c.err);
		r = abort_upload(&c, f->key, f->id);
		if (r == MG_OK) {
			aborted++;
			printf("aborted      %s  (upload %s, started %s, %s)\n", pk, pid,
			       when, what);
			if (abandoned &&
			    journal_wrote(&je, mg_journal_del_abandoned(j, ep->id, f->key,
									f->id),
					  "an aborted upload's record") != MG_OK) {
				fprintf(stderr, "migrate: %s\n", je.msg);
				code = MG_EXIT_FATAL;
				break;
			}
		} else {
			struct mg_upload u = { f->key, f->id, 0 };

			collect_upload(&failed, &u);
			printf("failed       %s  (upload %s, started %s): %s\n", pk, pid,
			       when, c.err.msg);
			code = r == MG_FATAL ? MG_EXIT_FATAL : MG_EXIT_PARTIAL;
			if (r == MG_FATAL)
				break;
		}
	}
	/* Every upload of the prefix was looked at: an intent whose key has
	 * nothing left open is answered. */
	if (!o->dry_run && !mg_interrupted && code != MG_EXIT_FATAL) {
		struct cleanup_intents ci = { j, ep->id, &failed, { 0 } };

		mg_journal_scan_intents(j, ep->id, drop_intent, &ci);
		if (ci.err.status) {
			fprintf(stderr, "migrate: %s\n", ci.err.msg);
			code = MG_EXIT_FATAL;
		}
	}
	printf("cleanup %s: %zu open upload%s: %s %zu, kept %zu (the journal's, "
	       "resumable), left %zu (other tools'%s), failed %zu%s\n", ep->url, fl.n,
	       fl.n == 1 ? "" : "s", o->dry_run ? "would abort" : "aborted", aborted,
	       kept, left, o->all ? "" : ": --all aborts them", failed.n,
	       o->all && !o->dry_run && aborted ?
	       " (--all: other tools' uploads were aborted too)" : "");
	found_release(&fl);
	found_release(&failed);
	mg_conn_close(&c);
	if (mg_interrupted)
		return MG_EXIT_INTERRUPT;
	return code;
}

int mg_cmd_cleanup(const char *path, struct mg_plan *plan, struct mg_run_opts *o)
{
	struct mg_journal *j = NULL;
	struct mg_error err = { 0 };
	int code = MG_EXIT_OK;

	(void)path;
	if (mg_journal_open(plan->journal, &j, &err) != MG_OK) {
		fprintf(stderr, "migrate: %s\n", err.msg);
		return MG_EXIT_FATAL;
	}
	for (size_t i = 0; i < plan->ntargets && !mg_interrupted; i++) {
		int r = cleanup_target(plan, &plan->targets[i], j, o);

		if (r > code)
			code = r;
	}
	mg_journal_close(j);
	if (mg_interrupted)
		code = MG_EXIT_INTERRUPT;
	return code;
}
