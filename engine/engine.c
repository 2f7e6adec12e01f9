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
#include "safefile.h"

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

	progress_start(&prog, &run);

	targets = mg_calloc(plan->ntargets, sizeof(*targets));
	for (size_t i = 0; i < plan->ntargets; i++)
		targets[i].ep = &plan->targets[i];
	run.targets = targets;
	run.nt = plan->ntargets;
	run_all(&run);

	progress_stop(&prog);

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
