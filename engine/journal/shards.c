/*
 * shards.c - `migrate report PLAN --shards N` (or `--shards-dir DIR`):
 * the run records of N shard journals (<journal>/shard-IIII-of-NNNN, see
 * engine/run/shard.c) merged into one account of a sharded migration,
 * for the follow-up job of a Slurm array or a Kubernetes Indexed Job.
 *
 * Each journal is read as status reads it, through a snapshot, so a
 * report never blocks a shard that is still running.
 *
 * Exit codes (what the scheduler acts on):
 *   0  every shard finished its last run with nothing failed
 *   1  every shard finished, some objects failed: rerun those shards
 *      (they retry only what failed)
 *   3  a shard journal could not be read
 *   4  some shards are missing (never ran), running, interrupted or
 *      stopped on a fatal error: rerun the indices listed ("rerun: ...")
 *   2  usage error
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "engine.h"
#include "mg.h"
#include "plan.h"
#include "runrec.h"

#define MG_EXIT_SHARDS_INCOMPLETE 4
#define REPORT_RUNS 1000	/* records read per shard: enough for totals */

enum shard_state { SH_DONE, SH_PARTIAL, SH_MISSING, SH_RUNNING, SH_STOPPED,
		   SH_FATAL, SH_UNREADABLE };

static const char *const state_words[] = { "done", "partial", "missing", "running",
					   "stopped", "fatal", "unreadable" };

struct shard_tally {
	enum shard_state state;
	size_t runs;
	int last_exit;
	uint64_t copied_objects, copied_bytes;	/* over all its runs */
	uint64_t done_objects;			/* copied + unchanged, last run */
	uint64_t failed_objects;		/* last run */
};

/* The shard count from the names in dir (shard-IIII-of-NNNN); 0 if none
 * or they disagree (then msg says why). */
static unsigned count_from_dir(const char *dir, char *msg, size_t msglen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	if (!d) {
		snprintf(msg, msglen, "cannot read '%s': %s", dir, strerror(errno));
		return 0;
	}
	while ((de = readdir(d))) {
		unsigned i, c;
		char tail;

		if (sscanf(de->d_name, "shard-%4u-of-%4u%c", &i, &c, &tail) != 2 || !c)
			continue;
		if (n && c != n) {
			snprintf(msg, msglen, "'%s' holds journals of %u and of %u shards: "
				 "give --shards N to say which", dir, n, c);
			closedir(d);
			return 0;
		}
		n = c;
	}
	closedir(d);
	if (!n)
		snprintf(msg, msglen, "no shard journals (shard-IIII-of-NNNN) in '%s'", dir);
	return n;
}

static void tally_shard(const char *dir, struct shard_tally *t, char *err, size_t errlen)
{
	json_t *runs, *run, *tjs, *tg;
	size_t k, i;

	memset(t, 0, sizeof(*t));
	t->last_exit = -1;
	if (!mg_runrec_journal_exists(dir)) {
		t->state = SH_MISSING;
		return;
	}
	if (mg_status_journal_holder(dir)) {
		t->state = SH_RUNNING;
		/* its earlier runs still count below */
	}
	runs = mg_status_read_runs(dir, REPORT_RUNS, err, errlen);
	if (!runs) {
		t->state = SH_UNREADABLE;
		return;
	}
	t->runs = json_array_size(runs);
	json_array_foreach(runs, i, run) {
		tjs = json_object_get(run, "targets");
		json_array_foreach(tjs, k, tg) {
			struct mg_runrec_target rt;

			mg_runrec_target_read(tg, &rt);
			t->copied_objects += rt.copied_objects;
			t->copied_bytes += rt.copied_bytes;
			if (i == 0) {
				t->done_objects += rt.copied_objects + rt.unchanged_objects +
					mg_runrec_u64(tg, "deduplicated", "objects");
				t->failed_objects += rt.failed_objects;
			}
		}
	}
	if (t->state == SH_RUNNING) {
		json_decref(runs);
		return;
	}
	if (!t->runs) {
		/* a journal but no record: the run died before its end */
		t->state = SH_STOPPED;
	} else {
		t->last_exit = (int)json_integer_value(json_object_get(json_array_get(runs, 0),
								       "exit_code"));
		t->state = t->last_exit == MG_EXIT_OK ? SH_DONE :
			   t->last_exit == MG_EXIT_PARTIAL ? SH_PARTIAL :
			   t->last_exit == MG_EXIT_FATAL ? SH_FATAL : SH_STOPPED;
	}
	json_decref(runs);
}

int mg_cmd_report(const char *path, struct mg_plan *plan, struct mg_run_opts *o)
{
	const char *base = o->shards_dir ? o->shards_dir : plan->journal;
	unsigned n = o->shards ? o->shards : plan->shard.count;
	struct shard_tally *sh, sum = { 0 };
	struct mg_buf rerun = MG_BUF_INIT;
	json_t *out = NULL, *arr = NULL;
	char msg[1024];
	int code = MG_EXIT_OK;

	(void)path;
	if (!n && o->shards_dir && !(n = count_from_dir(base, msg, sizeof(msg)))) {
		fprintf(stderr, "migrate: report: %s\n", msg);
		return MG_EXIT_USAGE;
	}
	if (!n) {
		fprintf(stderr, "migrate: report: how many shards? give --shards N, "
			"--shards-dir DIR, or 'shard: { count: N }' in the plan\n");
		return MG_EXIT_USAGE;
	}
	sh = mg_calloc(n, sizeof(*sh));
	if (o->json) {
		out = json_object();
		arr = json_array();
	} else {
		printf("plan '%s': %u shards (journals under '%s')\n", plan->name, n, base);
		printf("%5s  %-10s  %4s  %4s  %10s  %10s  %10s  %6s\n", "shard", "state",
		       "runs", "exit", "objects", "copied", "bytes", "failed");
	}
	for (unsigned i = 0; i < n; i++) {
		char name[40], *dir, bytes[32], ex[16];
		struct shard_tally *t = &sh[i];

		snprintf(name, sizeof(name), "shard-%04u-of-%04u", i, n);
		dir = mg_path_join(base, name);
		msg[0] = 0;
		tally_shard(dir, t, msg, sizeof(msg));
		if (t->state == SH_UNREADABLE)
			fprintf(stderr, "migrate: report: shard %u: %s\n", i, msg);
		free(dir);
		sum.copied_objects += t->copied_objects;
		sum.copied_bytes += t->copied_bytes;
		sum.done_objects += t->done_objects;
		sum.failed_objects += t->failed_objects;
		sum.runs += t->runs;
		if (t->state == SH_UNREADABLE)
			code = MG_EXIT_FATAL;
		else if (t->state != SH_DONE && t->state != SH_PARTIAL &&
			 code != MG_EXIT_FATAL)
			code = MG_EXIT_SHARDS_INCOMPLETE;
		else if (t->state == SH_PARTIAL && code == MG_EXIT_OK)
			code = MG_EXIT_PARTIAL;
		if (t->state != SH_DONE)
			mg_buf_addf(&rerun, "%s%u", rerun.len ? "," : "", i);
		if (o->json) {
			json_array_append_new(arr, json_pack(
				"{s:I, s:s, s:I, s:i, s:I, s:I, s:I, s:I}",
				"index", (json_int_t)i, "state", state_words[t->state],
				"runs", (json_int_t)t->runs, "last_exit", t->last_exit,
				"objects", (json_int_t)t->done_objects,
				"copied_objects", (json_int_t)t->copied_objects,
				"copied_bytes", (json_int_t)t->copied_bytes,
				"failed_objects", (json_int_t)t->failed_objects));
			continue;
		}
		mg_fmt_bytes(t->copied_bytes, bytes, sizeof(bytes));
		if (t->last_exit < 0)
			snprintf(ex, sizeof(ex), "-");
		else
			snprintf(ex, sizeof(ex), "%d", t->last_exit);
		printf("%5u  %-10s  %4zu  %4s  %10" PRIu64 "  %10" PRIu64 "  %10s  %6" PRIu64
		       "\n", i, state_words[t->state], t->runs, ex, t->done_objects,
		       t->copied_objects, bytes, t->failed_objects);
	}
	if (o->json) {
		json_object_set_new(out, "plan", json_string(plan->name));
		json_object_set_new(out, "shards", json_integer(n));
		json_object_set_new(out, "per_shard", arr);
		json_object_set_new(out, "totals", json_pack("{s:I, s:I, s:I, s:I}",
			"objects", (json_int_t)sum.done_objects,
			"copied_objects", (json_int_t)sum.copied_objects,
			"copied_bytes", (json_int_t)sum.copied_bytes,
			"failed_objects", (json_int_t)sum.failed_objects));
		json_object_set_new(out, "rerun", json_string(rerun.len ? rerun.buf : ""));
		json_object_set_new(out, "exit_code", json_integer(code));
		json_dumpf(out, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		fflush(stdout);	/* whole before any word on stderr */
		json_decref(out);
	} else {
		char bytes[32];

		mg_fmt_bytes(sum.copied_bytes, bytes, sizeof(bytes));
		printf("%5s  %-10s  %4zu  %4s  %10" PRIu64 "  %10" PRIu64 "  %10s  %6" PRIu64
		       "\n", "total", "", sum.runs, "", sum.done_objects,
		       sum.copied_objects, bytes, sum.failed_objects);
		if (rerun.len)
			printf("rerun: %s\n", rerun.buf);
	}
	mg_buf_release(&rerun);
	free(sh);
	return code;
}
