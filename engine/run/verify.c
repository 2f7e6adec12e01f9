/*
 * verify.c - `migrate verify`: does each target hold what the journal says
 * was moved there?
 *
 * Without --deep nothing is downloaded: one stat (HEAD) per object checks
 * that it exists with the journaled size and ETag (and the SHA-256 the
 * target keeps in its metadata, where it does).  --deep reads every object
 * back and compares its SHA-256 with the journal's.  The journal holds a
 * SHA-256 for every object it copied, multipart uploads included (the
 * engine hashes the parts as they stream), while only single-request
 * uploads carry it in the target's metadata (x-amz-meta-sha256): --deep
 * compares against the journal's, so it covers both.
 *
 * `migrate repair [--deep]` (mg_repair) verifies the same way, keeps the
 * keys found missing or different, marks their journal records as not
 * done (MG_OBJ_FAILED, "retried next run") and runs the plan: the run
 * copies exactly those again, plus whatever changed at the source, and
 * records them in the journal, the lineage and --log-json as any copy.
 * An object that could not be read back is not repaired: that proves
 * nothing about its content.
 *
 * Keys and messages are printed for a person through
 * mg_buf_add_printable() (a key can hold terminal escapes), and written
 * into JSON through mg_key_text() (a key need not be UTF-8).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "connector.h"
#include "engine.h"
#include "journal.h"
#include "mg.h"
#include "plan.h"

#define VERIFY_BUF (1024 * 1024)
#define KEEP_PROBLEMS 50

/* Keys kept for repair, raw bytes as the journal has them. */
struct key_list {
	char **v;
	size_t n, alloc;
};

static void key_list_add(struct key_list *l, const char *key)
{
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? 2 * l->alloc : 16;
		l->v = mg_realloc(l->v, l->alloc * sizeof(*l->v));
	}
	l->v[l->n++] = mg_strdup(key);
}

static void key_list_release(struct key_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

struct verify_tally {
	uint64_t checked, ok, missing, mismatched, errors, bytes;
	uint64_t unencrypted;	/* right content, not the encryption asked */
	int sse_required;	/* ... asked in so many words: a failure */
	json_t *problems;
	struct key_list *bad;	/* repair: collect missing and different keys */
};

/* Text that may hold a key (a key itself, a connector's message naming
 * one) as a JSON string: see mg_key_text(). */
static json_t *json_text(const char *s, int *escaped)
{
	char *t = mg_key_text(s, escaped);
	json_t *j = json_string(t);

	free(t);
	return j ? j : json_string("");
}

/* "'key' at url: what", escaped for a terminal. */
static void say_key(FILE *out, const char *prefix, const char *key, const char *url,
		    const char *what)
{
	struct mg_buf b = MG_BUF_INIT;

	mg_buf_addf(&b, "%s'", prefix);
	mg_buf_add_printable(&b, key, 0);
	mg_buf_adds(&b, "' at ");
	mg_buf_add_printable(&b, url, 0);
	if (what) {
		mg_buf_adds(&b, ": ");
		mg_buf_add_printable(&b, what, 0);
	}
	fprintf(out, "%s\n", b.buf);
	mg_buf_release(&b);
}

/* Objects named for lacking the default encryption before they are only
 * counted. */
#define SSE_NAMED 10

static void problem(struct verify_tally *v, const char *url, const char *key,
		    const char *what)
{
	say_key(stderr, "migrate: verify: ", key, url, what);
	if (json_array_size(v->problems) < KEEP_PROBLEMS) {
		json_t *o = json_object();
		int escaped;

		json_object_set_new(o, "key", json_text(key, &escaped));
		json_object_set_new(o, "key_escaped", json_boolean(escaped));
		json_object_set_new(o, "problem", json_text(what, NULL));
		json_array_append_new(v->problems, o);
	}
}

/* A key that is missing or holds other content: a repair copies it. */
static void bad(struct verify_tally *v, const char *url, const char *key,
		const char *what)
{
	problem(v, url, key, what);
	if (v->bad)
		key_list_add(v->bad, key);
}

/* Reads key back and compares its SHA-256.  0 same, 1 differs, -1 error. */
static int deep_check(struct mg_conn *c, const char *key, const char *want,
		      unsigned char *buf, char *why, size_t whylen)
{
	char hex[65];

	if (mg_read_sha256(c, key, buf, VERIFY_BUF, hex) != MG_OK) {
		snprintf(why, whylen, "cannot read it back: %s", c->err.msg);
		return -1;
	}
	if (strcmp(hex, want)) {
		snprintf(why, whylen, "content differs: SHA-256 %s, journal has %s", hex, want);
		return 1;
	}
	return 0;
}

static void strip(char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		memmove(s, s + 1, n - 2);
		s[n - 2] = '\0';
	}
}

static int verify_target(const struct mg_plan *plan, const struct mg_run_opts *o,
			 struct mg_journal *j, const struct mg_endpoint *ep,
			 struct verify_tally *v)
{
	const struct mg_connector *ops = mg_connector_find(ep->connector);
	struct mg_counters counters;
	struct mg_journal_iter *it = NULL;
	struct mg_obj_record rec;
	struct mg_conn c;
	unsigned char *buf = NULL;
	const char *key, *want_sse;
	int r;

	(void)plan;
	want_sse = mg_endpoint_encryption(ep, &v->sse_required, NULL, 0);
	memset(&counters, 0, sizeof(counters));
	if (!ops) {
		fprintf(stderr, "migrate: no '%s' connector in this build of migrate\n",
			ep->connector);
		return MG_FATAL;
	}
	if (mg_conn_open(&c, ops, ep, &counters, MG_OPEN_TARGET | MG_OPEN_LOOK) != MG_OK) {
		fprintf(stderr, "migrate: %s\n", c.err.msg);
		mg_conn_close(&c);
		return MG_FATAL;
	}
	if (o->deep)
		buf = mg_malloc(VERIFY_BUF);
	mg_journal_iter_open(j, ep->id, NULL, &it);
	while ((r = mg_journal_iter_next(it, &key, NULL, &rec)) == MG_OK && !mg_interrupted) {
		struct mg_entry e;
		char why[700], etag[80];
		int st;

		if (rec.state != MG_OBJ_DONE)
			continue;
		v->checked++;
		v->bytes += rec.size;
		mg_error_clear(&c.err);
		st = mg_stat(&c, key, &e);
		if (st == MG_ABSENT) {
			v->missing++;
			bad(v, ep->url, key, "missing at the target");
			continue;
		}
		if (st != MG_OK) {
			v->errors++;
			problem(v, ep->url, key, c.err.msg);
			if (st == MG_FATAL)
				break;
			continue;
		}
		snprintf(etag, sizeof(etag), "%s", e.etag);
		strip(etag);
		if (e.size != rec.size) {
			snprintf(why, sizeof(why), "size %" PRIu64 ", journal has %" PRIu64,
				 e.size, rec.size);
		} else if (etag[0] && rec.etag[0] && strcmp(etag, rec.etag)) {
			snprintf(why, sizeof(why), "ETag %s, journal has %s", etag, rec.etag);
		} else if (e.sha256[0] && rec.sha256[0] && strcmp(e.sha256, rec.sha256)) {
			snprintf(why, sizeof(why), "SHA-256 in metadata %s, journal has %s",
				 e.sha256, rec.sha256);
		} else if (o->deep && rec.sha256[0]) {
			int d = deep_check(&c, key, rec.sha256, buf, why, sizeof(why));

			if (d < 0) {
				v->errors++;
				problem(v, ep->url, key, why);
				continue;
			}
			if (d == 0) {
				v->ok++;
				continue;
			}
		} else if (want_sse && strcmp(e.encryption, want_sse)) {
			/* the bytes are right: a repair would not change this */
			snprintf(why, sizeof(why),
				 "encryption '%s', the plan asks for '%s'",
				 e.encryption[0] ? e.encryption : "none", want_sse);
			v->unencrypted++;
			/* A default the server ignored (Ceph before 17 takes
			 * the header and stores plaintext): the content is
			 * right and every object will say the same, so the
			 * first few are named and the rest counted below. */
			if (v->sse_required || v->unencrypted <= SSE_NAMED)
				problem(v, ep->url, key, why);
			else if (v->unencrypted == SSE_NAMED + 1)
				fprintf(stderr, "migrate: verify: %s: more objects without the "
					"default encryption: counted, not named\n", ep->url);
			if (!v->sse_required)
				v->ok++;
			continue;
		} else {
			v->ok++;
			continue;
		}
		v->mismatched++;
		bad(v, ep->url, key, why);
	}
	mg_journal_iter_close(it);
	free(buf);
	mg_conn_close(&c);
	return MG_OK;
}

/* Verifies every target into a JSON array (one object per target); with
 * bad non-NULL, collects per target what a repair must copy.  Returns the
 * exit code verify would give. */
static int verify_all(const struct mg_plan *plan, const struct mg_run_opts *o,
		      struct mg_journal *j, struct key_list *bad, json_t *out,
		      uint64_t *unreadable)
{
	int code = MG_EXIT_OK;

	for (size_t i = 0; i < plan->ntargets && !mg_interrupted; i++) {
		const struct mg_endpoint *ep = &plan->targets[i];
		struct verify_tally v = { 0, 0, 0, 0, 0, 0, 0, 0, json_array(), NULL };
		struct mg_buf line = MG_BUF_INIT;
		json_t *t = json_object();
		char sz[32];

		v.bad = bad ? &bad[i] : NULL;
		if (verify_target(plan, o, j, ep, &v) != MG_OK)
			code = MG_EXIT_FATAL;
		else if ((v.missing || v.mismatched || v.errors ||
			  (v.unencrypted && v.sse_required)) && code == MG_EXIT_OK)
			code = MG_EXIT_PARTIAL;
		if (unreadable)
			*unreadable += v.errors;
		mg_fmt_bytes(v.bytes, sz, sizeof(sz));
		if (!o->quiet) {
			mg_buf_adds(&line, "verified ");
			mg_buf_add_printable(&line, ep->url, 0);
			mg_buf_addf(&line, "%s: %" PRIu64 " objects (%s): %" PRIu64
				    " ok, %" PRIu64 " missing, %" PRIu64 " differ, %" PRIu64
				    " unreadable", o->deep ? " (deep: content re-hashed)" :
				    " (size and ETag, nothing downloaded)", v.checked, sz,
				    v.ok, v.missing, v.mismatched, v.errors);
			if (v.unencrypted)
				mg_buf_addf(&line, ", %" PRIu64 " without the encryption %s",
					    v.unencrypted, v.sse_required ? "the plan asks" :
					    "sent by default (the server ignored it: see "
					    "'encryption' in plans/README.md)");
			fprintf(stderr, "%s\n", line.buf);
			mg_buf_release(&line);
		}
		json_object_set_new(t, "target", json_text(ep->url, NULL));
		json_object_set_new(t, "deep", json_boolean(o->deep));
		json_object_set_new(t, "checked", json_integer((json_int_t)v.checked));
		json_object_set_new(t, "ok", json_integer((json_int_t)v.ok));
		json_object_set_new(t, "missing", json_integer((json_int_t)v.missing));
		json_object_set_new(t, "differ", json_integer((json_int_t)v.mismatched));
		json_object_set_new(t, "unreadable", json_integer((json_int_t)v.errors));
		json_object_set_new(t, "unencrypted", json_integer((json_int_t)v.unencrypted));
		json_object_set_new(t, "encryption_required", json_boolean(v.sse_required));
		json_object_set_new(t, "problems", v.problems);
		json_array_append_new(out, t);
	}
	return code;
}

int mg_verify(const struct mg_plan *plan, const struct mg_run_opts *o)
{
	struct mg_journal *j = NULL;
	struct mg_error err = { 0 };
	json_t *out = json_array();
	int code;

	if (mg_journal_open(plan->journal, &j, &err) != MG_OK) {
		fprintf(stderr, "migrate: %s\n", err.msg);
		json_decref(out);
		return MG_EXIT_FATAL;
	}
	code = verify_all(plan, o, j, NULL, out, NULL);
	if (o->json) {
		json_dumpf(out, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		fflush(stdout);	/* whole before any word on stderr */
	}
	json_decref(out);
	mg_journal_close(j);
	if (mg_interrupted)
		return MG_EXIT_INTERRUPT;
	return code;
}

/*
 * Marks the bad keys of each target as not done, so the run copies them.
 * A key the source no longer holds cannot be copied: it is left as it is
 * (a sync run deletes it at the target), named, and added to skipped.
 * Returns MG_EXIT_OK, or the exit code of what went wrong.
 */
static int repair_mark(const struct mg_plan *plan, struct mg_journal *j,
		       struct key_list *bad, json_t *skipped)
{
	const struct mg_connector *sops = mg_connector_find(plan->source.connector);
	struct mg_counters counters;
	struct mg_conn src;
	int have_src = 0, code = MG_EXIT_OK;

	memset(&counters, 0, sizeof(counters));
	if (sops && mg_conn_open(&src, sops, &plan->source, &counters, MG_OPEN_SOURCE) == MG_OK)
		have_src = 1;
	else if (sops)
		mg_conn_close(&src);
	for (size_t i = 0; i < plan->ntargets; i++) {
		const struct mg_endpoint *ep = &plan->targets[i];
		size_t keep = 0;

		for (size_t k = 0; k < bad[i].n; k++) {
			const char *key = bad[i].v[k];
			struct mg_obj_record rec;
			struct mg_entry e;

			/* Not at the source: nothing to copy from.  A source
			 * that cannot stat (an archive) is asked by the run. */
			if (have_src && src.ops->stat) {
				mg_error_clear(&src.err);
				if (mg_stat(&src, key, &e) == MG_ABSENT) {
					json_t *o = json_object();
					int escaped;

					say_key(stderr, "migrate: repair: cannot repair ", key,
						ep->url, "it is no longer at the source");
					json_object_set_new(o, "target", json_text(ep->url, NULL));
					json_object_set_new(o, "key", json_text(key, &escaped));
					json_object_set_new(o, "key_escaped", json_boolean(escaped));
					json_object_set_new(o, "reason",
							    json_string("not at the source"));
					json_array_append_new(skipped, o);
					free(bad[i].v[k]);
					code = MG_EXIT_PARTIAL;
					continue;
				}
			}
			/* Journal first, synced: the record says "copy me
			 * again" before anything else is done about it. */
			if (mg_journal_get_obj(j, ep->id, key, &rec) != MG_OK ||
			    rec.state != MG_OBJ_DONE) {
				free(bad[i].v[k]);
				continue;
			}
			rec.state = MG_OBJ_FAILED;
			if (mg_journal_put_obj(j, ep->id, key, &rec, 1) != MG_OK) {
				fprintf(stderr, "migrate: repair: cannot write the journal '%s'\n",
					plan->journal);
				code = MG_EXIT_FATAL;
				free(bad[i].v[k]);
				continue;
			}
			bad[i].v[keep++] = bad[i].v[k];
		}
		bad[i].n = keep;
	}
	if (have_src)
		mg_conn_close(&src);
	return code;
}

/* After the run: which of one target's marked objects it copied again
 * (done since t_mark), said and added to repaired or failed. */
static void repair_report(const struct mg_endpoint *ep, struct mg_journal *j,
			  const struct key_list *bad, int64_t t_mark, int quiet,
			  json_t *repaired, json_t *failed)
{
	uint64_t done = 0;

	for (size_t k = 0; k < bad->n; k++) {
		const char *key = bad->v[k];
		struct mg_obj_record rec;
		json_t *e = json_object();
		int ok, escaped;

		ok = mg_journal_get_obj(j, ep->id, key, &rec) == MG_OK &&
		     rec.state == MG_OBJ_DONE && rec.t_done >= t_mark;
		json_object_set_new(e, "target", json_text(ep->url, NULL));
		json_object_set_new(e, "key", json_text(key, &escaped));
		json_object_set_new(e, "key_escaped", json_boolean(escaped));
		if (ok) {
			done++;
			if (!quiet)
				say_key(stderr, "repaired ", key, ep->url, NULL);
			json_array_append_new(repaired, e);
		} else {
			say_key(stderr, "migrate: repair: not repaired ", key, ep->url,
				"the run could not copy it (see above); the next run "
				"tries again");
			json_object_set_new(e, "reason", json_string("not copied"));
			json_array_append_new(failed, e);
		}
	}
	if (!quiet && bad->n) {
		struct mg_buf line = MG_BUF_INIT;

		mg_buf_adds(&line, "repair ");
		mg_buf_add_printable(&line, ep->url, 0);
		mg_buf_addf(&line, ": %" PRIu64 " of %zu object%s copied again", done,
			    bad->n, bad->n == 1 ? "" : "s");
		fprintf(stderr, "%s\n", line.buf);
		mg_buf_release(&line);
	}
}

int mg_repair(const struct mg_plan *plan, const struct mg_run_opts *o)
{
	struct mg_journal *j = NULL;
	struct mg_error err = { 0 };
	struct mg_run_opts ro = *o;
	struct key_list *bad;
	json_t *vout = json_array(), *repaired = json_array(), *failed = json_array();
	int64_t t_mark;
	uint64_t unreadable = 0;
	size_t nbad = 0;
	int code, vcode, rcode;

	if (o->dry_run) {
		fprintf(stderr, "migrate: repair: for a look without changes, run "
			"'migrate verify%s %s'\n", o->deep ? " --deep" : "", plan->file);
		json_decref(vout);
		json_decref(repaired);
		json_decref(failed);
		return MG_EXIT_USAGE;
	}
	if (mg_journal_open(plan->journal, &j, &err) != MG_OK) {
		fprintf(stderr, "migrate: %s\n", err.msg);
		json_decref(vout);
		json_decref(repaired);
		json_decref(failed);
		return MG_EXIT_FATAL;
	}
	bad = mg_calloc(plan->ntargets ? plan->ntargets : 1, sizeof(*bad));
	vcode = verify_all(plan, o, j, bad, vout, &unreadable);
	t_mark = mg_now_ns();
	code = MG_EXIT_OK;
	if (vcode == MG_EXIT_FATAL) {
		/* a target could not be looked at: repair nothing until it
		 * can, rather than half of the plan */
		code = MG_EXIT_FATAL;
		for (size_t i = 0; i < plan->ntargets; i++)
			key_list_release(&bad[i]);
	} else if (!mg_interrupted) {
		code = repair_mark(plan, j, bad, failed);
	}
	/* What could not be read back is not known to be bad: named above,
	 * not repaired, and the exit code says so. */
	if (unreadable && code == MG_EXIT_OK)
		code = MG_EXIT_PARTIAL;
	/* The run opens the journal itself; one holder at a time, and a
	 * second open in this process would share (and on close drop) the
	 * first one's lock. */
	mg_journal_close(j);
	j = NULL;
	for (size_t i = 0; i < plan->ntargets; i++)
		nbad += bad[i].n;
	if (mg_interrupted) {
		code = MG_EXIT_INTERRUPT;
		goto out;
	}
	if (!nbad) {
		if (!o->quiet && code == MG_EXIT_OK)
			fprintf(stderr, "repair: nothing to repair\n");
		goto out;
	}
	/* The normal run: it finds the marked records not done and copies
	 * them as new, journaled, in the lineage and --log-json. */
	ro.json = 0;
	rcode = mg_engine_run(plan, &ro);
	if (mg_journal_open(plan->journal, &j, &err) != MG_OK) {
		fprintf(stderr, "migrate: %s\n", err.msg);
		code = MG_EXIT_FATAL;
		goto out;
	}
	for (size_t i = 0; i < plan->ntargets; i++)
		repair_report(&plan->targets[i], j, &bad[i], t_mark, o->quiet, repaired,
			      failed);
	mg_journal_close(j);
	if (rcode != MG_EXIT_OK && (code == MG_EXIT_OK || rcode != MG_EXIT_PARTIAL))
		code = rcode;
	else if (json_array_size(failed) && code == MG_EXIT_OK)
		code = MG_EXIT_PARTIAL;
out:
	if (o->json) {
		json_t *doc = json_object();

		json_object_set_new(doc, "verify", vout);
		json_object_set_new(doc, "repaired", repaired);
		json_object_set_new(doc, "not_repaired", failed);
		json_object_set_new(doc, "exit_code", json_integer(code));
		json_dumpf(doc, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		fflush(stdout);	/* whole before any word on stderr */
		json_decref(doc);
	} else {
		json_decref(vout);
		json_decref(repaired);
		json_decref(failed);
	}
	for (size_t i = 0; i < plan->ntargets; i++)
		key_list_release(&bad[i]);
	free(bad);
	return code;
}
