/*
 * status.c - `migrate status PLAN [--json]`: the recent runs, from the
 * run records the engine writes into the journal at the end of each run.
 *
 * status never opens the live journal.  The journal admits one process
 * at a time, so a status that held it for even a moment could make a run
 * starting in that moment (a daemon's, a timer's) fail with "journal in
 * use"; and while a run holds it, status could show nothing.  Instead it
 * reads a snapshot: LevelDB's table files never change once written, so
 * they are hard-linked, and the few small files that grow (CURRENT, the
 * MANIFEST, the write-ahead log) are copied, into a private folder inside
 * the journal, which is opened, read and removed.  A write racing the
 * copy can at worst make the snapshot miss the newest records (a torn
 * last record of the log copy is dropped on recovery), never touch the
 * live journal; a compaction racing it can make the open fail, and
 * status then tries again.
 *
 * Exit codes: 0 when it could say something (runs, "no runs yet", a run
 * in progress with the runs before it); 3 when the journal cannot be read.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "daemon.h"
#include "journal.h"
#include "mg.h"
#include "runrec.h"

#define STATUS_RUNS 10
#define SNAPSHOT_TRIES 3

/* The PID holding the journal's lock, or 0 when no process holds it. */
long mg_status_journal_holder(const char *dir)
{
	char path[4096];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd;

	snprintf(path, sizeof(path), "%s/lock.pid", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type == F_UNLCK) {
		close(fd);
		return 0;
	}
	close(fd);
	return (long)fl.l_pid;
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in, out, r = 0;
	ssize_t n;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			r = -1;
			break;
		}
	if (n < 0)
		r = -1;
	close(in);
	if (close(out) < 0)
		r = -1;
	return r;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

static char *join(const char *dir, const char *name)
{
	struct mg_buf b = MG_BUF_INIT;

	mg_buf_addf(&b, "%s/%s", dir, name);
	return mg_buf_detach(&b);
}

/* Removes the snapshot folder and what is in it (flat: LevelDB makes no
 * subfolders). */
static void snapshot_remove(const char *snap)
{
	DIR *d = opendir(snap);
	struct dirent *e;

	if (d) {
		while ((e = readdir(d))) {
			char *path;

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			path = join(snap, e->d_name);
			unlink(path);
			free(path);
		}
		closedir(d);
	}
	rmdir(snap);
}

/* Snapshots of status processes that were killed before removing them:
 * LevelDB ignores them, but they would hold old table files forever. */
static void snapshot_remove_stale(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		long pid;
		char *end, *path;

		if (strncmp(e->d_name, ".status-", 8))
			continue;
		pid = strtol(e->d_name + 8, &end, 10);
		if (*end || pid <= 0 || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		path = join(dir, e->d_name);
		snapshot_remove(path);
		free(path);
	}
	closedir(d);
}

/* Fills snap with a readable copy of the journal in dir.  0 or -1 (errno
 * set). */
static int snapshot_make(const char *dir, const char *snap)
{
	DIR *d;
	struct dirent *e;
	char *from, *to;
	int r = 0;

	if (mkdir(snap, 0700) < 0)
		return -1;
	/* CURRENT names the MANIFEST: copy it first so the MANIFEST copied
	 * after it is the same one or a newer one. */
	from = join(dir, "CURRENT");
	to = join(snap, "CURRENT");
	r = copy_file(from, to);
	free(from);
	free(to);
	if (r < 0)
		return -1;
	d = opendir(dir);
	if (!d)
		return -1;
	while ((e = readdir(d)) && r == 0) {
		const char *n = e->d_name;

		if (n[0] == '.' || !strcmp(n, "CURRENT") || !strcmp(n, "LOCK") ||
		    !strcmp(n, "lock.pid") || !strncmp(n, "LOG", 3))
			continue;
		from = join(dir, n);
		to = join(snap, n);
		if (ends_with(n, ".ldb") || ends_with(n, ".sst")) {
			/* A table the live journal deleted meanwhile is
			 * not needed by the MANIFEST we copied... unless
			 * it is, which the open below finds out. */
			if (link(from, to) < 0 && errno != ENOENT &&
			    copy_file(from, to) < 0 && errno != ENOENT)
				r = -1;
		} else if (!strncmp(n, "MANIFEST-", 9) || ends_with(n, ".log")) {
			if (copy_file(from, to) < 0 && errno != ENOENT)
				r = -1;
		}
		free(from);
		free(to);
	}
	closedir(d);
	return r;
}

struct collect {
	json_t *runs;
};

static int collect_cb(void *arg, int64_t start_ns, const char *json)
{
	struct collect *c = arg;
	json_t *run = json_loads(json, 0, NULL);

	(void)start_ns;
	if (run)
		json_array_append_new(c->runs, run);
	return 0;
}

/* Reads up to max runs of the journal in dir into an array, through a
 * snapshot.  NULL with a message in err on failure.  (report --shards
 * reads each shard's journal with it too.) */
json_t *mg_status_read_runs(const char *dir, size_t max, char *err, size_t errlen)
{
	struct mg_error e = { 0 };
	char name[32];
	char *snap;
	json_t *runs = NULL;

	snprintf(name, sizeof(name), ".status-%ld", (long)getpid());
	snap = join(dir, name);
	snapshot_remove_stale(dir);
	for (int attempt = 1; attempt <= SNAPSHOT_TRIES; attempt++) {
		struct mg_journal *j;
		struct collect c;

		snapshot_remove(snap);	/* a status killed before cleaning up */
		if (snapshot_make(dir, snap) < 0) {
			int en = errno;

			snprintf(err, errlen, "cannot read journal '%s': %s: check that "
				 "you may read and write that folder", dir, strerror(en));
			snapshot_remove(snap);
			free(snap);
			return NULL;
		}
		mg_error_clear(&e);
		if (mg_journal_open(snap, &j, &e) != MG_OK) {
			snapshot_remove(snap);
			/* A compaction between the copy and the links */
			usleep(100000);
			continue;
		}
		c.runs = json_array();
		mg_journal_list_runs(j, max, collect_cb, &c);
		mg_journal_close(j);
		runs = c.runs;
		break;
	}
	snapshot_remove(snap);
	free(snap);
	if (!runs)
		snprintf(err, errlen, "cannot read journal '%s': %s", dir, e.msg);
	return runs;
}

static const char *exit_word(int code)
{
	switch (code) {
	case MG_EXIT_OK: return "ok";
	case MG_EXIT_PARTIAL: return "partial";
	case MG_EXIT_FATAL: return "fatal";
	case MG_EXIT_INTERRUPT: return "stopped";
	default: return "?";
	}
}

/* One line per target of each run; the run's columns only on its first. */
/* The run's objects per class and per encryption, and its re-classes
 * (issue 15.6: the run record's targets[].governance). */
static void print_governance(json_t *t, struct mg_buf *b)
{
	json_t *g = json_object_get(t, "governance"), *v;
	const char *const what[] = { "by_class", "by_encryption" };
	const char *name;

	if (!g)
		return;
	mg_buf_reset(b);
	for (size_t w = 0; w < 2; w++) {
		json_t *tab = json_object_get(g, what[w]);
		int first = 1;

		if (!json_object_size(tab))
			continue;
		mg_buf_addf(b, "%s%s:", b->len ? "; " : "", w ? "encryption" : "class");
		json_object_foreach(tab, name, v) {
			mg_buf_addf(b, "%s ", first ? "" : ",");
			mg_buf_add_printable(b, name, 0);
			mg_buf_addf(b, " %" JSON_INTEGER_FORMAT,
				    json_integer_value(json_object_get(v, "objects")));
			first = 0;
		}
	}
	v = json_object_get(g, "reclassed_objects");
	if (json_integer_value(v))
		mg_buf_addf(b, "%sre-classed %" JSON_INTEGER_FORMAT, b->len ? "; " : "",
			    json_integer_value(v));
	if (b->len)
		printf("%21s written: %s\n", "", b->buf);
}

static void print_runs(json_t *runs)
{
	struct mg_buf b = MG_BUF_INIT;
	json_t *run;
	size_t i;

	printf("%-19s  %9s  %-11s  %8s  %10s  %9s  %6s  %s\n", "started", "duration",
	       "exit", "copied", "bytes", "unchanged", "failed", "target");
	json_array_foreach(runs, i, run) {
		json_t *tjs = json_object_get(run, "targets"), *t;
		time_t started = (time_t)json_integer_value(json_object_get(run, "started"));
		int code = (int)json_integer_value(json_object_get(run, "exit_code"));
		char when[32], dur[16], ex[16];
		struct tm tm;
		size_t k;

		localtime_r(&started, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(dur, sizeof(dur), "%.1fs",
			 json_number_value(json_object_get(run, "duration_s")));
		snprintf(ex, sizeof(ex), "%d %s", code, exit_word(code));
		if (!json_array_size(tjs))
			printf("%-19s  %9s  %-11s  %8s  %10s  %9s  %6s  %s\n", when, dur, ex,
			       "-", "-", "-", "-", "(no target reached)");
		json_array_foreach(tjs, k, t) {
			struct mg_runrec_target rt;
			char bytes[32];

			mg_runrec_target_read(t, &rt);
			mg_fmt_bytes(rt.copied_bytes, bytes, sizeof(bytes));
			/* a fatal message may name a key, and a key may hold
			 * terminal escapes: printed as \xNN */
			mg_buf_reset(&b);
			mg_buf_add_printable(&b, rt.url ? rt.url : "?", 0);
			printf("%-19s  %9s  %-11s  %8" PRIu64 "  %10s  %9" PRIu64 "  %6" PRIu64
			       "  %s\n", k ? "" : when, k ? "" : dur, k ? "" : ex,
			       rt.copied_objects, bytes, rt.unchanged_objects,
			       rt.failed_objects, b.buf);
			if (rt.fatal) {
				mg_buf_reset(&b);
				mg_buf_add_printable(&b, rt.fatal, 0);
				printf("%21s fatal: %s\n", "", b.buf);
			}
			print_governance(t, &b);
		}
	}
	mg_buf_release(&b);
}

int mg_cmd_status(const char *path, struct mg_plan *plan, struct mg_run_opts *o)
{
	char err[1024];
	json_t *runs;
	long holder;

	(void)path;
	/* No journal yet: say so without creating one. */
	if (!mg_runrec_journal_exists(plan->journal)) {
		if (o->json)
			printf("[]\n");
		else
			printf("plan '%s': no runs yet (no journal at '%s')\n", plan->name,
			       plan->journal);
		return MG_EXIT_OK;
	}
	holder = mg_status_journal_holder(plan->journal);
	runs = mg_status_read_runs(plan->journal, STATUS_RUNS, err, sizeof(err));
	if (!runs) {
		if (holder)
			fprintf(stderr, "migrate: a run is in progress (pid %ld) and %s\n",
				holder, err);
		else
			fprintf(stderr, "migrate: %s\n", err);
		return MG_EXIT_FATAL;
	}
	if (o->json) {
		/* The run records as the engine wrote them, newest first. */
		json_dumpf(runs, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		fflush(stdout);	/* whole before any word on stderr */
		if (holder)
			fprintf(stderr, "migrate: a run is in progress (pid %ld); it is "
				"listed when it finishes\n", holder);
	} else {
		if (!json_array_size(runs))
			printf("plan '%s': no runs yet\n", plan->name);
		else
			printf("plan '%s': %s%zu run%s, newest first (journal '%s')\n",
			       plan->name,
			       json_array_size(runs) == STATUS_RUNS ? "the last " : "",
			       json_array_size(runs), json_array_size(runs) == 1 ? "" : "s",
			       plan->journal);
		if (holder)
			printf("a run is in progress (pid %ld); it is listed when it finishes\n",
			       holder);
		if (json_array_size(runs))
			print_runs(runs);
	}
	json_decref(runs);
	return MG_EXIT_OK;
}
