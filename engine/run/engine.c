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
 * Targets fan out: one walk decides for every target at once, each
 * worker takes an object to every target that needs it, and a target
 * that fails or dies stops alone while the others go on.  Each target
 * has its own journal key space (o/<tid>/...), so adding a target later
 * only moves what that target lacks.
 *
 * This file is the run's lifecycle; the rooms it calls are listed in
 * run.h.
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

/* Opens every target once up front: one that cannot be reached is fatal
 * for itself only.  Returns how many are open (dst_ok[i] set). */
static size_t open_targets(struct run *run, struct mg_conn *dsts, int *dst_ok)
{
	unsigned look = run->opts->dry_run || run->opts->estimate ? MG_OPEN_LOOK : 0;
	size_t alive = 0;
	char esc[1024];

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
	return alive;
}

/* Starts the committer and the workers (a run only: a dry run and an
 * estimate move nothing); the queue and the claims exist for every pass. */
static void start_workers(struct run *run, struct worker *workers, int nworkers,
			  pthread_t *committer)
{
	run->qcap = (size_t)nworkers * 4;
	run->q = mg_calloc(run->qcap, sizeof(*run->q));
	/* a claim is held until its record is committed, so a worker may
	 * hold one in flight and others waiting for the committer */
	inflight_init(run, nworkers + 2 * COMMIT_BACKLOG);
	batch_setup(run, nworkers);
	for (int i = 0; i < nworkers; i++)
		workers[i].batcher = run->batch && (size_t)i < run->batchers;
	if (!run->opts->dry_run && !run->opts->estimate) {
		pthread_mutex_init(&run->cmu, NULL);
		pthread_cond_init(&run->ccv, NULL);
		pthread_cond_init(&run->croom, NULL);
		run->cbatch = mg_journal_batch_new();
		pthread_create(committer, NULL, committer_main, run);
		for (int i = 0; i < nworkers; i++) {
			workers[i].run = run;
			pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
		}
	}
}

/* Closes the queue, waits for the workers and then the committer, and
 * drops what a stop left in the queue. */
static void stop_workers(struct run *run, struct worker *workers, int nworkers,
			 pthread_t *committer)
{
	pthread_mutex_lock(&run->mu);
	run->closed = 1;
	pthread_cond_broadcast(&run->can_pop);
	pthread_cond_broadcast(&run->can_batch);
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
		pthread_join(*committer, NULL);
		mg_journal_batch_free(run->cbatch);
		run->cbatch = NULL;
		free(run->notes);
		run->notes = NULL;
		pthread_cond_destroy(&run->ccv);
		pthread_cond_destroy(&run->croom);
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
	inflight_free(run);
}

/*
 * Once no worker runs: the upload sweep, then the sync deletes, per
 * target.  r is the walk's result: deletes need a complete listing.
 */
static void end_targets(struct run *run, struct mg_conn *dsts, const int *dst_ok, int r)
{
	const struct mg_plan *plan = run->plan;
	int stopped = run_stopped(run);

	/* uploads.c (issue 14.4): abort the uploads no object needs any more,
	 * reconcile intents, retry abandoned aborts; once no worker runs. */
	for (size_t i = 0; i < run->nt && !run->opts->dry_run && !run->opts->estimate; i++) {
		struct mg_error e = { 0 };

		if (dst_ok[i] && !run->targets[i].fatal && !stopped && !mg_interrupted &&
		    mg_uploads_sweep(run->journal, run->targets[i].ep->id, &dsts[i],
				     run->id, (r == MG_OK || r == MG_DONE) &&
				     !run->targets[i].listing_incomplete &&
				     !run->targets[i].listing_errors,
				     &run->targets[i].upl, &e) != MG_OK)
			set_fatal(run, NULL, &e);
	}

	for (size_t i = 0; i < run->nt; i++) {
		struct target_run *t = &run->targets[i];

		if (plan->mode != MG_MODE_SYNC || !dst_ok[i] || t->fatal)
			continue;
		if ((r == MG_OK || r == MG_DONE) && !t->listing_incomplete &&
		    !t->listing_errors && !stopped && !mg_interrupted) {
			sync_deletes(run, t, &dsts[i]);
		} else if (t->st.gone_objects) {
			snprintf(t->delete_stop, sizeof(t->delete_stop),
				 "the source listing %s: no object was deleted",
				 t->listing_errors ? "had unreadable entries" : "did not complete");
			if (run->sink->forget_marks)
				run->sink->forget_marks(run, t);
		}
	}
}

/*
 * One pass: open the source and every target once up front (a target that
 * cannot be reached is fatal for itself only; the source for all), walk,
 * let the workers copy, then the sync deletes per target.
 */
static void run_all(struct run *run)
{
	const struct mg_plan *plan = run->plan;
	int nworkers = plan->transfer.concurrency > 0 ? plan->transfer.concurrency : 1;
	struct worker *workers;
	pthread_t committer;
	struct mg_conn src, *dsts = mg_calloc(run->nt, sizeof(*dsts));
	int *dst_ok = mg_calloc(run->nt, sizeof(*dst_ok));
	int r;

	if (!open_targets(run, dsts, dst_ok))
		goto out;
	if (mg_conn_open(&src, run->src_ops, &plan->source, &run->src_counters,
			 MG_OPEN_SOURCE) != MG_OK) {
		set_fatal(run, NULL, &src.err);
		mg_conn_close(&src);
		goto out;
	}
	if (governance_residency(run, &src, dsts, dst_ok) < 0 ||
	    governance_retention(run, dsts, dst_ok) < 0) {
		mg_conn_close(&src);
		goto out;
	}

	workers = mg_calloc((size_t)nworkers, sizeof(*workers));
	start_workers(run, workers, nworkers, &committer);

	r = walk(run, &src, dsts);
	__atomic_store_n(&run->listed_ns, mg_mono_ns(), __ATOMIC_RELAXED);
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

	stop_workers(run, workers, nworkers, &committer);
	free(workers);
	end_targets(run, dsts, dst_ok, r);
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

/* Sets up what the rooms share; run_release() undoes it. */
static void run_init(struct run *run, const struct mg_plan *plan,
		     const struct mg_run_opts *opts)
{
	memset(run, 0, sizeof(*run));
	run->plan = plan;
	run->opts = opts;
	run->start_ns = mg_mono_ns();
	run->id = mg_now_ns();
	snprintf(run->gov_run, sizeof(run->gov_run), "%" PRId64, run->id);
	run->gov = (struct mg_governance){ plan->name, run->gov_run, plan->source.url,
					   plan->tags, plan->ntags, plan->meta, plan->nmeta,
					   NULL, NULL, 0 };
	governance_digest(plan, run->gov_digest);
	run->sink = walk_sink_for(opts);
	pthread_mutex_init(&run->mu, NULL);
	pthread_cond_init(&run->can_pop, NULL);
	pthread_cond_init(&run->can_batch, NULL);
	pthread_cond_init(&run->can_push, NULL);
	pthread_cond_init(&run->inflight_done, NULL);
	/* --bwlimit overrides the plan's rate and its timetable */
	if (opts->bwlimit_set)
		shaper_init(&run->shaper, opts->bwlimit, NULL, 0);
	else
		shaper_init(&run->shaper, plan->transfer.bandwidth,
			    plan->transfer.timetable, plan->transfer.ntimetable);
}

/* --log-json: opened before anything moves.  Returns 0, or -1 (said). */
static int open_event_log(struct run *run)
{
	const struct mg_run_opts *opts = run->opts;
	int fd;

	if (!opts->log_json || opts->dry_run || opts->estimate)
		return 0;
	/* private like the journal: it lists every key and hash */
	/* not through a planted link, only into a file of ours */
	fd = mg_safefile_append(opts->log_json, 0600);
	if (fd < 0 || !(run->logj = fdopen(fd, "a"))) {
		fprintf(stderr, "migrate: cannot open the event log '%s': %s: "
			"check the path given to --log-json\n", opts->log_json,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	pthread_mutex_init(&run->logmu, NULL);
	return 0;
}

/* Frees what the run holds and closes the event log and the journal. */
static void run_release(struct run *run)
{
	for (size_t i = 0; i < run->nt; i++) {
		for (size_t k = 0; k < run->targets[i].nfailures; k++) {
			free(run->targets[i].failures[k].key);
			free(run->targets[i].failures[k].msg);
		}
		mg_upload_issues_release(&run->targets[i].upl);
		est_release(&run->targets[i]);
	}
	tiering_release(run);
	latency_release(run);
	free(run->targets);
	if (run->logj) {
		if (fclose(run->logj) != 0)
			fprintf(stderr, "migrate: cannot write the event log '%s': %s\n",
				run->opts->log_json, strerror(errno));
		pthread_mutex_destroy(&run->logmu);
	}
	mg_journal_close(run->journal);
}

/*
 * Exit code: interrupt beats fatal beats partial.  With several
 * targets, one that could not be opened while others were served
 * makes the run partial (1); the summary names it.  A target the
 * circuit breaker declared dead mid-run is an outage a scheduler
 * must see, whatever the other targets did: 3.
 */
static int run_exit_code(const struct run *run)
{
	size_t nfatal = 0, ndied = 0;
	int exit_code = MG_EXIT_OK;

	for (size_t i = 0; i < run->nt; i++) {
		const struct target_run *t = &run->targets[i];

		nfatal += t->fatal != 0;
		ndied += t->died != 0;
		if (t->fatal || t->st.failed_objects || t->listing_incomplete ||
		    t->delete_stop[0])
			exit_code = MG_EXIT_PARTIAL;
	}
	if (nfatal == run->nt || ndied)
		exit_code = MG_EXIT_FATAL;
	if (mg_interrupted)
		exit_code = MG_EXIT_INTERRUPT;
	return exit_code;
}

int mg_engine_run(const struct mg_plan *plan, const struct mg_run_opts *opts)
{
	struct run run;
	struct progress prog = { 0 };
	struct mg_error err = { 0 };
	int exit_code;
	char planhex[65];

	run_init(&run, plan, opts);
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
	if (open_event_log(&run) < 0) {
		run_release(&run);
		return MG_EXIT_USAGE;
	}
	mg_hex(plan->hash, sizeof(plan->hash), planhex);
	if (!opts->dry_run && !opts->estimate &&
	    mg_journal_put_meta(run.journal, "plan", planhex) != MG_OK) {
		fprintf(stderr, "migrate: cannot write the journal '%s': nothing was "
			"moved\n", plan->journal);
		run_release(&run);
		return MG_EXIT_FATAL;
	}

	run.targets = mg_calloc(plan->ntargets, sizeof(*run.targets));
	for (size_t i = 0; i < plan->ntargets; i++)
		run.targets[i].ep = &plan->targets[i];
	run.nt = plan->ntargets;
	tiering_init(&run);
	latency_attach(&run);
	/* after the targets are in place: the progress line reads them */
	progress_start(&prog, &run);
	run_all(&run);
	progress_stop(&prog);

	exit_code = run_exit_code(&run);
	if (opts->estimate)
		exit_code = summary_estimate(&run, exit_code);
	else
		summary_report(&run, planhex, exit_code);
	run_release(&run);
	return exit_code;
}
