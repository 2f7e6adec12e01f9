/*
 * summary.c - what a run says about itself: the --log-json event lines,
 * the JSON summary (also the journal's run record) and the summary a
 * person reads.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "run.h"

/* Text that may hold a key as a JSON string: keys are bytes, and one rule
 * serves every output (mg.h, mg_key_text); *escaped (may be NULL) says
 * whether it had to escape, for the "key_escaped" flag lineage prints too. */
static json_t *json_str_escaped(const char *s, int *escaped)
{
	char *t = mg_key_text(s, escaped);
	json_t *j = json_string(t);

	free(t);
	return j;
}

static json_t *json_str(const char *s)
{
	return json_str_escaped(s, NULL);
}

/*
 * --log-json: one line per object and action (copied, deduped, skipped,
 * failed), written when the outcome is final (a copy once its record is
 * on disk).  rec may be NULL (failed before anything was known).
 */
void log_object(struct run *run, const struct target_run *t, const char *key,
		uint64_t size, const struct mg_obj_record *rec,
		const char *action, int attempts, const char *error,
		const struct mg_req_times *times)
{
	json_t *o;
	char *k, *src, *dst, *line;
	int escaped;

	if (!run->logj)
		return;
	/* as lineage does: the key escaped once, and the URLs built from it */
	k = mg_key_text(key, &escaped);
	src = mg_url_join(run->plan->source.url, k);
	dst = mg_url_join(t->ep->url, k);
	o = json_object();
	json_object_set_new(o, "event", json_string("object"));
	json_object_set_new(o, "time", json_real((double)mg_now_ns() / 1e9));
	json_object_set_new(o, "source", json_str(src));
	json_object_set_new(o, "target", json_str(dst));
	json_object_set_new(o, "key", json_string(k));
	if (escaped)	/* flagged as lineage does */
		json_object_set_new(o, "key_escaped", json_true());
	json_object_set_new(o, "size", json_integer((json_int_t)size));
	json_object_set_new(o, "action", json_string(action));
	if (rec && rec->sha256[0])
		json_object_set_new(o, "sha256", json_string(rec->sha256));
	if (rec && rec->etag[0])
		json_object_set_new(o, "etag", json_str(rec->etag));
	if (!error && rec) {
		/* the audit trail (issue 15.6): what the target was asked for */
		const char *sse = mg_endpoint_encryption(t->ep, NULL, NULL, 0);

		json_object_set_new(o, "encryption", sse ? json_string(sse) : json_null());
		if (run->gov_digest[0])
			json_object_set_new(o, "tags_digest", json_string(run->gov_digest));
		/* issue 15.5: the Object Lock it was written with */
		if (rec->lock_mode[0] || rec->legal_hold) {
			char until[24];

			mg_date_iso8601(rec->lock_until, until);
			json_object_set_new(o, "retention", json_pack("{s:o,s:o,s:b}",
				"mode", rec->lock_mode[0] ? json_string(rec->lock_mode) : json_null(),
				"until", rec->lock_mode[0] ? json_string(until) : json_null(),
				"legal_hold", rec->legal_hold));
		}
	}
	/* the class asked for the object (issue 15.3), as the journal has it */
	if (!error && rec && t->classes)
		json_object_set_new(o, "storage_class",
				    json_string(rec->sclass[0] ? rec->sclass : "STANDARD"));
	/* retention (issue 15.5) goes here, beside the class */
	if (rec && rec->t_start && rec->t_done >= rec->t_start)
		json_object_set_new(o, "duration_s",
				    json_real((double)(rec->t_done - rec->t_start) / 1e9));
	if (attempts)
		json_object_set_new(o, "attempts", json_integer(attempts));
	if (error)
		json_object_set_new(o, "error", json_str(error));
	if (times)	/* issue 16.1: this object's own requests */
		json_object_set_new(o, "requests", req_times_json(times));
	line = json_dumps(o, JSON_COMPACT);
	pthread_mutex_lock(&run->logmu);
	fprintf(run->logj, "%s\n", line);
	pthread_mutex_unlock(&run->logmu);
	free(line);
	free(k);
	free(src);
	free(dst);
	json_decref(o);
}

json_t *counters_json(const struct mg_counters *c)
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

json_t *target_json(const struct target_run *t)
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
	if (s->locked_objects)	/* issue 15.5: deletes Object Lock refused */
		json_object_set_new(o, "delete_locked", pair(s->locked_objects, s->locked_bytes));
	if (t->delete_stop[0])
		json_object_set_new(o, "deletes_stopped", json_string(t->delete_stop));
	json_object_set_new(o, "listing_complete", json_boolean(!t->listing_incomplete));
	json_object_set_new(o, "counters", counters_json(&t->counters));
	if (t->counters.lat)
		json_object_set_new(o, "latency", latency_json(t->counters.lat));
	/* uploads.c hook (issue 14.4/14.5): swept and left-open uploads */
	json_object_set_new(o, "multipart_uploads", mg_upload_issues_json(&t->upl));
	/* tiering.c hook (issue 15.3/15.6): per class and encryption, re-classes */
	json_object_set_new(o, "governance", tier_json(t));
	for (size_t i = 0; i < t->nfailures; i++) {
		json_t *f = json_object();
		int escaped;

		/* a key that is not UTF-8 is written as %XX, and flagged */
		json_object_set_new(f, "key", json_str_escaped(t->failures[i].key,
							       &escaped));
		if (escaped)
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

void print_target_summary(const struct run *run, const struct target_run *t)
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
		if (s->locked_objects)
			fprintf(out, "  %-12s %8" PRIu64 " objects  (their deletes refused by "
				"Object Lock: kept, counted as failed)\n", "locked",
				s->locked_objects);
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
	tier_print(t);	/* tiering.c hook (issue 15.3/15.6) */
	if (t->fatal)
		fprintf(out, "  stopped: %s\n", mg_printable(t->fatal_err.msg, esc, sizeof(esc)));
	if (t->listing_incomplete && !t->fatal)
		fprintf(out, "  the source listing was cut short: objects after the break "
			"were not looked at\n");
	if (!run->opts->dry_run)
		fprintf(out, "  %.2f s, %s/s\n", secs, rate);
	latency_print(out, "target", t->counters.lat);
	if (!run->opts->dry_run && s->new_objects + s->changed_objects == 0 &&
	    !s->failed_objects && !t->fatal && !mg_interrupted)
		fprintf(out, "  nothing changed: 0 bytes of content read\n");
}

/* An estimate's answer: the walk's counts priced (estimate.c), or, when
 * the walk could not finish, the summary saying why.  Returns the exit
 * code. */
int summary_estimate(struct run *run, int exit_code)
{
	const struct mg_plan *plan = run->plan;
	const struct mg_run_opts *opts = run->opts;
	struct mg_target_tally *tally = mg_calloc(run->nt, sizeof(*tally));

	for (size_t i = 0; i < run->nt; i++) {
		const struct stats *st = &run->targets[i].st;
		struct mg_move_counts *c = &tally[i].counts;

		tally[i].counters = run->targets[i].counters;
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
		c->failed_objects = st->unsendable_objects;
		c->failed_bytes = st->unsendable_bytes;
		c->locked_objects = st->locked_objects;
		c->locked_bytes = st->locked_bytes;
		tally[i].stored_after = st->unchanged_bytes + st->copied_bytes +
					st->dedup_bytes + st->locked_bytes;
		if (plan->deletes.quarantine_prefix)
			tally[i].stored_after += st->deleted_bytes;
		est_tally(&run->targets[i], &tally[i]);
		/* tiering.c hook (issue 15.3): per class */
		tally[i].classes = run->targets[i].ctally;
		tally[i].nclasses = run->targets[i].nctally;
		tally[i].reclassed = run->targets[i].st.reclassed_objects;
		mg_probe_measured(run->journal, &plan->source, run->targets[i].ep,
				  &tally[i].measured_rate, &tally[i].measured_at);
		mg_probe_part_size(run->journal, run->targets[i].ep, &tally[i].probe_part_size,
				   &tally[i].probe_part_at);
	}
	if (exit_code == MG_EXIT_OK)
		exit_code = mg_estimate_output(plan, opts, &run->src_counters,
					       tally, run->nt);
	else
		for (size_t i = 0; i < run->nt; i++)
			if (run->targets[i].ops || run->targets[i].fatal)
				print_target_summary(run, &run->targets[i]);
	free(tally);
	return exit_code;
}

/*
 * Where the run's wall time went (issue 16.5): listing (the walk; the
 * workers copy alongside), then transferring what was listed, and of the
 * whole the time the workers slept on the bandwidth limit, as wall time
 * (their summed sleep over their number).
 */
struct time_split {
	double wall, listing, transfer, bw_wait;
};

static struct time_split time_split(const struct run *run)
{
	struct time_split s;
	int64_t now = mg_mono_ns();
	int64_t listed = __atomic_load_n(&run->listed_ns, __ATOMIC_RELAXED);
	int n = run->plan->transfer.concurrency > 0 ? run->plan->transfer.concurrency : 1;

	if (!listed || listed > now)
		listed = now;
	s.wall = (double)(now - run->start_ns) / 1e9;
	s.listing = (double)(listed - run->start_ns) / 1e9;
	s.transfer = s.wall - s.listing;
	s.bw_wait = (double)__atomic_load_n(&run->shaper.waited_ns, __ATOMIC_RELAXED) /
		    1e9 / n;
	return s;
}

static json_t *time_split_json(const struct run *run)
{
	struct time_split s = time_split(run);

	return json_pack("{s:f,s:f,s:f,s:f}", "wall_s", s.wall, "listing_s", s.listing,
			 "transfer_s", s.transfer, "bwlimit_wait_s", s.bw_wait);
}

static void print_run_tail(const struct run *run)
{
	struct time_split s = time_split(run);

	latency_print(stderr, "source", run->src_counters.lat);
	if (run->opts->dry_run)
		return;
	fprintf(stderr, "time %.2f s: listing %.2f s (copies ran alongside), then "
		"transferring %.2f s; waiting on the bandwidth limit %.2f s\n",
		s.wall, s.listing, s.transfer, s.bw_wait);
}

/* The run's JSON summary: --json prints it, the journal keeps it as the
 * run record, --log-json ends with it. */
static json_t *summary_json(const struct run *run, const char *planhex, int exit_code)
{
	const struct mg_plan *plan = run->plan;
	const struct mg_run_opts *opts = run->opts;
	json_t *summary, *tjs;

	summary = json_object();
	json_object_set_new(summary, "plan", json_string(plan->name));
	json_object_set_new(summary, "plan_sha256", json_string(planhex));
	json_object_set_new(summary, "dry_run", json_boolean(opts->dry_run));
	/* the run's id: its record's key (r/<run_id>) and the run field
	 * of every object and upload record it wrote */
	json_object_set_new(summary, "run_id", json_integer((json_int_t)run->id));
	json_object_set_new(summary, "started", json_integer((json_int_t)(run->id / 1000000000)));
	json_object_set_new(summary, "duration_s",
			    json_real((double)(mg_mono_ns() - run->start_ns) / 1e9));
	json_object_set_new(summary, "source", json_string(plan->source.url));
	json_object_set_new(summary, "source_counters", counters_json(&run->src_counters));
	if (run->src_counters.lat)
		json_object_set_new(summary, "source_latency",
				    latency_json(run->src_counters.lat));
	json_object_set_new(summary, "time_split", time_split_json(run));
	/* objects sent several at once on one event loop (batch.c) */
	json_object_set_new(summary, "batched_objects",
			    json_integer((json_int_t)run->batched_objects));
	tjs = json_array();
	for (size_t i = 0; i < run->nt; i++)
		if (run->targets[i].ops || run->targets[i].fatal)
			json_array_append_new(tjs, target_json(&run->targets[i]));
	json_object_set_new(summary, "targets", tjs);
	json_object_set_new(summary, "exit_code", json_integer(exit_code));
	return summary;
}

/* Everything a finished run (or dry run) says: the run record, --json,
 * the last --log-json line and the summary a person reads. */
void summary_report(struct run *run, const char *planhex, int exit_code)
{
	const struct mg_plan *plan = run->plan;
	const struct mg_run_opts *opts = run->opts;
	json_t *summary = summary_json(run, planhex, exit_code);

	if (!opts->dry_run) {
		char *js = json_dumps(summary, JSON_COMPACT);

		/* the run happened all the same: said, and the exit code
		 * stays what the run earned */
		if (mg_journal_put_run(run->journal, run->id, js) != MG_OK)
			fprintf(stderr, "migrate: cannot write the run record to the "
				"journal '%s': status and metrics will not show this "
				"run\n", plan->journal);
		free(js);
	}
	if (opts->json) {
		json_dumpf(summary, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		/* whole before the summary for people goes to stderr: with
		 * both on one file (2>&1) a document past stdio's buffer was
		 * cut in two by it */
		fflush(stdout);
	}
	if (run->logj) {
		char *js;

		json_object_set_new(summary, "event", json_string("run"));
		json_object_set_new(summary, "time", json_real((double)mg_now_ns() / 1e9));
		js = json_dumps(summary, JSON_COMPACT);
		fprintf(run->logj, "%s\n", js);
		free(js);
	}
	if (!opts->quiet) {
		for (size_t i = 0; i < run->nt; i++)
			if (run->targets[i].ops || run->targets[i].fatal)
				print_target_summary(run, &run->targets[i]);
		print_run_tail(run);
	} else {
		/* -q drops the summary, never the reason a run could not
		 * go on (a changed host key, a missing source folder) */
		for (size_t i = 0; i < run->nt; i++) {
			struct mg_buf b = MG_BUF_INIT;

			if (!run->targets[i].fatal || run->targets[i].fatal_said)
				continue;
			mg_buf_add_printable(&b, run->targets[i].fatal_err.msg, 0);
			fprintf(stderr, "migrate: %s: stopped: %s\n", run->targets[i].ep->url,
				b.buf ? b.buf : "");
			mg_buf_release(&b);
		}
	}
	if (mg_interrupted && !opts->quiet)
		fprintf(stderr, "interrupted: what finished is journaled; run again to continue\n");
	json_decref(summary);
}
