/*
 * lineage.c - `migrate lineage PLAN [--csv] [--target URL]`: the audit
 * trail, one line per object the journal holds as done: where it came
 * from (source URL, size, mtime, SHA-256), where it went (target URL,
 * ETag), when, by which run, under which plan, with which storage class
 * and encryption (issue 15.6).
 *
 * Everything comes from the journal; nothing at the source or the targets
 * is contacted.  The object records carry no plan hash and their `run` is
 * a monotonic clock reading (meaningless after a reboot), so each object
 * is matched to the run record (r/<wall start ns>) whose time span holds
 * its t_done: runs never overlap (the journal admits one process at a
 * time), so that run is the one that copied it, and its record says which
 * plan (plan_sha256) it ran.  An object written by a run that left no
 * record (killed) gets null run and plan_hash rather than a guess.
 *
 * Keys are bytes.  A key that is not valid UTF-8 cannot go into JSON (nor
 * into CSV a spreadsheet reads) as it is, so it is percent-escaped by the
 * one rule every output uses (mg_key_text(): every byte not part of a
 * valid UTF-8 sequence, and every '%', becomes "%XX"); such lines say
 * "key_escaped": true.
 *
 * CSV goes to spreadsheets, which run a cell that starts with '=', '+',
 * '-' or '@' as a formula (and some do after a TAB or CR): a key named
 * "=HYPERLINK(...)" or "=cmd|' /C calc'!A0" would act when the file is
 * opened.  So every text field but the size is quoted (RFC 4180, quotes
 * doubled) and one that starts with such a character, or with TAB or CR,
 * gets a "'" in front (OWASP's rule for CSV injection): the cell shows
 * the text.  A field that starts with "'" gets one too, so the rule can
 * be undone without guessing: a program reading the CSV gets the value
 * back by dropping one leading "'" wherever there is one.  JSON lines
 * carry the key unchanged.
 *
 * Exit codes: 0 done; 2 usage (unknown --target); 3 the journal is
 * missing, locked by a run or unreadable, or standard output failed.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "engine.h"
#include "journal.h"
#include "mg.h"
#include "plan.h"
#include "runrec.h"

/* A run record, reduced to what attributes an object to it. */
struct lin_run {
	int64_t start_ns;	/* wall clock */
	int64_t end_ns;
	char *plan_sha256;	/* NULL when the record has none */
};

struct lin_runs {
	struct lin_run *v;	/* newest first, as the journal lists them */
	size_t n, alloc;
};

static int runs_cb(void *arg, int64_t start_ns, const char *json)
{
	struct lin_runs *rs = arg;
	json_t *o = json_loads(json, 0, NULL);
	const char *ph;
	struct lin_run *r;

	if (!o)
		return 0;
	if (rs->n == rs->alloc) {
		rs->alloc = rs->alloc ? 2 * rs->alloc : 16;
		rs->v = mg_realloc(rs->v, rs->alloc * sizeof(*rs->v));
	}
	r = &rs->v[rs->n++];
	r->start_ns = start_ns;
	/* duration_s is a real; a second of slack covers its rounding and
	 * the records finished just before the summary was taken */
	r->end_ns = start_ns +
		    (int64_t)(json_number_value(json_object_get(o, "duration_s")) * 1e9) +
		    1000000000;
	ph = json_string_value(json_object_get(o, "plan_sha256"));
	r->plan_sha256 = ph ? mg_strdup(ph) : NULL;
	json_decref(o);
	return 0;
}

static void runs_release(struct lin_runs *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		free(rs->v[i].plan_sha256);
	free(rs->v);
}

/* The run whose span holds t (ns since the epoch), or NULL. */
static const struct lin_run *runs_find(const struct lin_runs *rs, int64_t t)
{
	size_t lo = 0, hi = rs->n;

	/* newest first: find the first run that started at or before t */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rs->v[mid].start_ns > t)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < rs->n && t <= rs->v[lo].end_ns)
		return &rs->v[lo];
	return NULL;
}

/* RFC 3339 in UTC: nanoseconds when there are any, else whole seconds. */
static void fmt_time(int64_t ns, char *out, size_t outlen)
{
	time_t s = (time_t)(ns / 1000000000);
	long frac = (long)(ns % 1000000000);
	struct tm tm;
	size_t n;

	if (frac < 0) {
		frac += 1000000000;
		s--;
	}
	gmtime_r(&s, &tm);
	n = strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac)
		snprintf(out + n, outlen - n, ".%09ldZ", frac);
	else
		snprintf(out + n, outlen - n, "Z");
}

/* The fields of one line, in output order; NULL is JSON null / an empty
 * CSV field. */
enum { F_SOURCE, F_KEY, F_KEY_ESCAPED, F_SIZE, F_MTIME, F_SHA256, F_TARGET, F_ETAG,
       F_COPIED_AT, F_RUN, F_PLAN_HASH, F_CLASS, F_ENCRYPTION,
       F_RETENTION,	/* issue 15.5 */
       NFIELDS };

static const char *const field_names[NFIELDS] = {
	"source", "key", "key_escaped", "size", "mtime", "sha256", "target", "etag",
	"copied_at", "run", "plan_hash", "storage_class", "encryption",
	/* issue 15.5: "GOVERNANCE until 2027-01-31T00:00:00Z, legal hold" */
	"retention",
};

static void csv_line(FILE *out, const char *const *f)
{
	for (int i = 0; i < NFIELDS; i++) {
		if (i)
			fputc(',', out);
		mg_csv_field(out, f[i], i != F_SIZE);
	}
	/* RFC 4180 ends records with CRLF; a LF inside a quoted key stays LF */
	fputs("\r\n", out);
}

static void json_line(FILE *out, const char *const *f)
{
	json_t *o = json_object();
	char *s;

	for (int i = 0; i < NFIELDS; i++) {
		json_t *v;

		if (!f[i])
			v = json_null();
		else if (i == F_SIZE)
			v = json_integer((json_int_t)strtoull(f[i], NULL, 10));
		else if (i == F_KEY_ESCAPED)
			v = json_boolean(!strcmp(f[i], "true"));
		else
			v = json_string(f[i]);	/* valid UTF-8: mg_key_text saw to it */
		json_object_set_new(o, field_names[i], v);
	}
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fputs(s, out);
	fputc('\n', out);
	free(s);
	json_decref(o);
}

static int lineage_target(const struct mg_plan *plan, const struct mg_run_opts *o,
			  struct mg_journal *j, const struct mg_endpoint *ep,
			  const struct lin_runs *runs)
{
	struct mg_journal_iter *it = NULL;
	struct mg_obj_record rec;
	const char *key;
	int r;

	if (mg_journal_iter_open(j, ep->id, NULL, &it) != MG_OK) {
		fprintf(stderr, "migrate: lineage: cannot read the journal '%s' for "
			"target '%s'\n", plan->journal, ep->url);
		return MG_FATAL;
	}
	while ((r = mg_journal_iter_next(it, &key, NULL, &rec)) == MG_OK && !mg_interrupted) {
		const struct lin_run *run;
		const char *f[NFIELDS];
		char size[32], mtime[48], copied[48], started[48], etag[80], lock[96];
		char *k, *src, *dst;
		int escaped;

		if (rec.state != MG_OBJ_DONE)
			continue;
		k = mg_key_text(key, &escaped);
		src = mg_url_join(plan->source.url, k);
		dst = mg_url_join(ep->url, k);
		snprintf(size, sizeof(size), "%" PRIu64, rec.size);
		fmt_time(rec.mtime_ns, mtime, sizeof(mtime));
		fmt_time(rec.t_done, copied, sizeof(copied));
		/* S3 ETags come quoted; the quotes are HTTP syntax, not the tag */
		mg_etag_unquote(rec.etag, etag, sizeof(etag));
		run = rec.t_done ? runs_find(runs, rec.t_done) : NULL;
		if (run)
			fmt_time(run->start_ns, started, sizeof(started));
		f[F_SOURCE] = src;
		f[F_KEY] = k;
		f[F_KEY_ESCAPED] = escaped ? "true" : "false";
		f[F_SIZE] = size;
		f[F_MTIME] = mtime;
		f[F_SHA256] = rec.sha256[0] ? rec.sha256 : NULL;
		f[F_TARGET] = dst;
		f[F_ETAG] = etag[0] ? etag : NULL;
		f[F_COPIED_AT] = rec.t_done ? copied : NULL;
		f[F_RUN] = run ? started : NULL;
		f[F_PLAN_HASH] = run ? run->plan_sha256 : NULL;
		/* issue 15.6: what the object was written with, as journaled
		 * (a record from before issue 15 has neither: null) */
		f[F_CLASS] = rec.sclass[0] ? rec.sclass : rec.enc[0] ? "STANDARD" : NULL;
		f[F_ENCRYPTION] = rec.enc[0] ? rec.enc : NULL;
		mg_retention_text(rec.lock_mode, rec.lock_until, rec.legal_hold, lock,
				  sizeof(lock));
		f[F_RETENTION] = lock[0] ? lock : NULL;
		if (o->csv)
			csv_line(stdout, f);
		else
			json_line(stdout, f);
		free(k);
		free(src);
		free(dst);
		if (ferror(stdout))
			break;
	}
	mg_journal_iter_close(it);
	if (r == MG_FATAL) {
		fprintf(stderr, "migrate: lineage: reading the journal '%s' failed for "
			"target '%s'\n", plan->journal, ep->url);
		return MG_FATAL;
	}
	return MG_OK;
}

int mg_cmd_lineage(const char *path, struct mg_plan *plan, struct mg_run_opts *o)
{
	const struct mg_endpoint *only = NULL;
	struct lin_runs runs = { NULL, 0, 0 };
	struct mg_error err = { 0 };
	struct mg_journal *j = NULL;
	int code = MG_EXIT_OK;

	(void)path;
	if (o->target) {
		struct mg_buf names = MG_BUF_INIT;

		for (size_t i = 0; i < plan->ntargets; i++)
			if (!strcmp(plan->targets[i].url, o->target))
				only = &plan->targets[i];
		if (!only) {
			for (size_t i = 0; i < plan->ntargets; i++)
				mg_buf_addf(&names, "%s'%s'", i ? ", " : "",
					    plan->targets[i].url);
			fprintf(stderr, "migrate: lineage: plan '%s' has no target '%s': "
				"use one of %s\n", plan->name, o->target, names.buf);
			mg_buf_release(&names);
			return MG_EXIT_USAGE;
		}
	}
	/* Opening a journal that is not there would create one. */
	if (!mg_runrec_journal_exists(plan->journal)) {
		fprintf(stderr, "migrate: lineage: plan '%s' has no journal at '%s': "
			"nothing was migrated yet (run 'migrate %s' first, or check the "
			"plan's journal: setting)\n", plan->name, plan->journal, plan->file);
		return MG_EXIT_FATAL;
	}
	if (mg_journal_open(plan->journal, &j, &err) != MG_OK) {
		fprintf(stderr, "migrate: %s\n", err.msg);
		return MG_EXIT_FATAL;
	}
	mg_journal_list_runs(j, SIZE_MAX, runs_cb, &runs);
	if (o->csv) {
		for (int i = 0; i < NFIELDS; i++)
			printf("%s%s", i ? "," : "", field_names[i]);
		fputs("\r\n", stdout);
	}
	for (size_t i = 0; i < plan->ntargets && !mg_interrupted; i++) {
		if (only && only != &plan->targets[i])
			continue;
		if (lineage_target(plan, o, j, &plan->targets[i], &runs) != MG_OK)
			code = MG_EXIT_FATAL;
		if (ferror(stdout))
			break;
	}
	mg_journal_close(j);
	runs_release(&runs);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "migrate: lineage: cannot write the output: %s\n",
			strerror(errno));
		return MG_EXIT_FATAL;
	}
	if (mg_interrupted)
		return MG_EXIT_INTERRUPT;
	return code;
}
