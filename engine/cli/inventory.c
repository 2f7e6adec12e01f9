/*
 * inventory.c - `migrate inventory PLAN [URL...]`: which content is stored
 * more than once across the plan's source and other places, and how many
 * bytes retiring the copies would reclaim.
 *
 * Three passes, none of which holds the object list in memory:
 *
 *   1. list every source; one record per object, "size source sha key",
 *      goes to sort(1), which spills to disk beyond its 16 MiB buffer
 *      (an external merge sort);
 *   2. walk the records in size order: an object whose size no other
 *      object has cannot have a duplicate and is never read; the others
 *      are hashed (SHA-256), unless the hash is known already: the
 *      backend's own (MG_CAP_NATIVE_HASH), or the journal's for an object
 *      of the plan's source that was copied with the same size and
 *      mtime; the hashed records go to a second sort by (size, sha);
 *   3. walk those: a run of equal (size, sha) is a duplicate group.  Its
 *      first member (by source order, then key) is the one kept; every
 *      other is a copy whose bytes a clean-up reclaims, counted against
 *      its folder.
 *
 * Memory is the sort buffer, one group's first few member names for the
 * text report, and one counter per folder that holds a copy.
 *
 * The result `migrate estimate` foresees dedupe from (issue 18.6) is kept
 * in the plan's journal: for each object of the plan's source in a
 * duplicate group, meta "inventory/obj/KEY" = "GEN SIZE SHA256", and once
 * all are written "inventory/at" = GEN, the inventory's start (unix
 * seconds).  A record of another GEN is an older inventory's: ignored.
 *
 * Empty objects are counted but never grouped (they share no content
 * worth reclaiming).  The plan's filter applies to the plan's source; an
 * extra URL is listed whole with its connector's default options (put it
 * in a plan as the source to give it keys such as identity_file).
 *
 * Exit codes: 0 done; 1 some objects could not be read (named, left out
 * of the groups); 2 usage; 3 a source cannot be listed, sort(1) failed.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "engine.h"
#include "filter.h"
#include "journal.h"
#include "mg.h"
#include "plan.h"

#define TOP_GROUPS 10		/* groups shown in the text report */
#define GROUP_NAMES 4		/* member names kept per shown group */
#define TOP_FOLDERS 10
#define HASH_BUF (1 << 20)

struct inv_source {
	const struct mg_endpoint *ep;
	struct mg_endpoint own;		/* extra urls: parsed here */
	struct mg_conn conn;
	int open;
	uint64_t objects, bytes, empty;
};

/* A group kept for the text report. */
struct inv_group {
	uint64_t size, n;
	char sha[65];
	char *names[GROUP_NAMES];	/* "source#key", printable */
};

struct inventory {
	const struct mg_plan *plan;
	const struct mg_run_opts *o;
	struct inv_source *src;
	size_t nsrc;
	struct mg_journal *journal;	/* NULL: none, or a run holds it */
	char tmpdir[4096];
	unsigned char *buf;

	uint64_t candidates, hashed, hashed_bytes, reused, unreadable;
	uint64_t groups, copies, reclaim;
	struct inv_group top[TOP_GROUPS];
	size_t ntop;
	json_t *folders;		/* "source#folder" -> [bytes, objects] */
	long long gen;			/* the inventory's start: its records' generation */
	uint64_t kept_records;		/* written to the journal for estimate */
	int keep_failed;
	FILE *out;			/* csv or json stream, or NULL */
	int first_json;
};

/* ---- sort(1) as an external sorter ---- */

struct sorter {
	FILE *in;
	pid_t pid;
};

/* Starts `sort -z` writing into path; records go to s->in, each ending
 * with a NUL (a key never holds one). */
static int sorter_start(struct sorter *s, const char *tmpdir, const char *path)
{
	int fd[2];

	if (pipe(fd) < 0)
		return -1;
	s->pid = fork();
	if (s->pid < 0) {
		close(fd[0]);
		close(fd[1]);
		return -1;
	}
	if (s->pid == 0) {
		dup2(fd[0], 0);
		close(fd[0]);
		close(fd[1]);
		setenv("LC_ALL", "C", 1);	/* byte order, as listings */
		execlp("sort", "sort", "-z", "-S", "16M", "-T", tmpdir, "-o", path,
		       (char *)NULL);
		_exit(127);
	}
	close(fd[0]);
	s->in = fdopen(fd[1], "w");
	return s->in ? 0 : -1;
}

/* Closes the input and waits: 0 when sort(1) wrote its output. */
static int sorter_finish(struct sorter *s)
{
	int st = 0, bad = fclose(s->in) != 0;

	while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
		;
	return bad || !WIFEXITED(st) || WEXITSTATUS(st) != 0 ? -1 : 0;
}

/* A record: "%020size %04source %sha-or-'-' key".  Fixed-width numbers
 * make byte order the numeric order. */
struct rec {
	uint64_t size;
	unsigned src;
	char sha[65];
	const char *key;
};

static int rec_parse(char *line, struct rec *r)
{
	char *p;

	r->size = strtoull(line, &p, 10);
	if (*p != ' ')
		return -1;
	r->src = (unsigned)strtoul(p + 1, &p, 10);
	if (*p != ' ' || strlen(p + 1) < 2)
		return -1;
	p++;
	if (*p == '-') {
		r->sha[0] = '\0';
		p++;
	} else {
		if (strlen(p) < 65 || p[64] != ' ')
			return -1;
		memcpy(r->sha, p, 64);
		r->sha[64] = '\0';
		p += 64;
	}
	if (*p != ' ')
		return -1;
	r->key = p + 1;
	return 0;
}

static void rec_write(FILE *f, uint64_t size, unsigned src, const char *sha,
		      const char *key)
{
	fprintf(f, "%020" PRIu64 " %04u %s %s", size, src, sha[0] ? sha : "-", key);
	fputc('\0', f);
}

/* Pass 2 sorts by (size, sha): the sha goes before the source. */
static void rec_write_hashed(FILE *f, const struct rec *r)
{
	fprintf(f, "%020" PRIu64 " %s %04u %s", r->size, r->sha, r->src, r->key);
	fputc('\0', f);
}

static int rec_parse_hashed(char *line, struct rec *r)
{
	char *p;

	r->size = strtoull(line, &p, 10);
	if (*p != ' ' || strlen(p + 1) < 71 || p[65] != ' ')
		return -1;
	memcpy(r->sha, p + 1, 64);
	r->sha[64] = '\0';
	r->src = (unsigned)strtoul(p + 66, &p, 10);
	if (*p != ' ')
		return -1;
	r->key = p + 1;
	return 0;
}

/* ---- pass 1: list ---- */

/* The journal's SHA-256 of a plan-source object copied with this size
 * and mtime to any target, else "". */
static void journal_sha(struct inventory *inv, const struct mg_entry *e, char *sha)
{
	struct mg_obj_record rec;

	sha[0] = '\0';
	if (!inv->journal || !e->mtime_ns)
		return;
	for (size_t t = 0; t < inv->plan->ntargets; t++) {
		if (mg_journal_get_obj(inv->journal, inv->plan->targets[t].id, e->key,
				       &rec) == MG_OK &&
		    rec.state == MG_OBJ_DONE && rec.size == e->size &&
		    rec.mtime_ns == e->mtime_ns && rec.sha256[0]) {
			strcpy(sha, rec.sha256);
			return;
		}
	}
}

static int list_source(struct inventory *inv, unsigned i, FILE *sink)
{
	struct inv_source *s = &inv->src[i];
	struct mg_lister *it = NULL;
	struct mg_entry e;
	int64_t now = time(NULL);
	int r;

	r = mg_list_open(&s->conn, NULL, &it);
	while (r == MG_OK && !mg_interrupted) {
		char sha[65];

		r = mg_list_next(&s->conn, it, &e);
		if (r != MG_OK)
			break;
		if (e.kind != MG_ENTRY_FILE ||
		    (i == 0 && !mg_filter_accept(inv->plan, &e, now)))
			continue;
		s->objects++;
		s->bytes += e.size;
		if (e.size == 0) {
			s->empty++;
			continue;
		}
		strcpy(sha, e.sha256);
		if (!sha[0] && i == 0)
			journal_sha(inv, &e, sha);
		rec_write(sink, e.size, i, sha, e.key);
	}
	mg_list_close(&s->conn, it);
	if (mg_interrupted)
		return MG_EXIT_INTERRUPT;
	if (r != MG_DONE) {
		fprintf(stderr, "migrate: inventory: cannot list '%s': %s\n", s->ep->url,
			s->conn.err.msg);
		return MG_EXIT_FATAL;
	}
	return MG_EXIT_OK;
}

/* ---- pass 2: hash what shares a size ---- */

static void name_of(const struct inventory *inv, const struct rec *r, char *out,
		    size_t outlen)
{
	char key[512];

	snprintf(out, outlen, "%s %s", inv->src[r->src].ep->url,
		 mg_printable(r->key, key, sizeof(key)));
}

/* Fills r->sha: known already, or read and hashed.  0, or -1 (reported). */
static int hash_one(struct inventory *inv, struct rec *r)
{
	struct inv_source *s = &inv->src[r->src];
	char name[700];

	inv->candidates++;
	if (r->sha[0]) {
		inv->reused++;
		return 0;
	}
	mg_error_clear(&s->conn.err);
	if (mg_read_sha256(&s->conn, r->key, inv->buf, HASH_BUF, r->sha) == MG_OK) {
		inv->hashed++;
		inv->hashed_bytes += r->size;
		return 0;
	}
	inv->unreadable++;
	name_of(inv, r, name, sizeof(name));
	fprintf(stderr, "migrate: inventory: cannot read %s: %s (left out)\n", name,
		s->conn.err.msg);
	return -1;
}

static int hash_candidates(struct inventory *inv, const char *sorted, FILE *sink)
{
	FILE *f = fopen(sorted, "r");
	char *line = NULL, *prev = NULL;
	size_t cap = 0, pcap = 0;
	int prev_sent = 0;
	ssize_t n;

	if (!f)
		return -1;
	/* One record of lookahead: a record is a candidate when the one
	 * before or after it has its size. */
	while ((n = getdelim(&line, &cap, '\0', f)) > 0 && !mg_interrupted) {
		struct rec cur, old;

		if (rec_parse(line, &cur) < 0)
			continue;
		if (prev && rec_parse(prev, &old) == 0 && old.size == cur.size) {
			if (!prev_sent && hash_one(inv, &old) == 0)
				rec_write_hashed(sink, &old);
			if (hash_one(inv, &cur) == 0)
				rec_write_hashed(sink, &cur);
			prev_sent = 1;
		} else {
			prev_sent = 0;
		}
		if (pcap < (size_t)n) {
			pcap = (size_t)n;
			prev = mg_realloc(prev, pcap);
		}
		memcpy(prev, line, (size_t)n);
	}
	free(line);
	free(prev);
	fclose(f);
	return 0;
}

/* ---- pass 3: groups ---- */

static void folder_add(struct inventory *inv, const struct rec *r)
{
	const char *slash = strrchr(r->key, '/');
	struct mg_buf b;
	char *dir, *name;
	json_t *v;

	dir = slash ? strndup(r->key, (size_t)(slash - r->key)) : strdup("");
	name = mg_key_text(dir, NULL);
	mg_buf_init(&b, 128);
	mg_buf_addf(&b, "%u#%s", r->src, name);
	v = json_object_get(inv->folders, b.buf);
	if (!v) {
		v = json_pack("[II]", (json_int_t)0, (json_int_t)0);
		json_object_set_new(inv->folders, b.buf, v);
	}
	json_array_set_new(v, 0, json_integer(json_integer_value(json_array_get(v, 0)) +
					       (json_int_t)r->size));
	json_array_set_new(v, 1, json_integer(json_integer_value(json_array_get(v, 1)) + 1));
	mg_buf_release(&b);
	free(name);
	free(dir);
}

/* Keeps the TOP_GROUPS groups that reclaim the most. */
static struct inv_group *top_slot(struct inventory *inv, uint64_t size, uint64_t n)
{
	struct inv_group *g;
	size_t low = 0;

	if (inv->ntop < TOP_GROUPS) {
		g = &inv->top[inv->ntop++];
		memset(g, 0, sizeof(*g));
		return g;
	}
	for (size_t i = 1; i < TOP_GROUPS; i++)
		if (inv->top[i].size * (inv->top[i].n - 1) <
		    inv->top[low].size * (inv->top[low].n - 1))
			low = i;
	g = &inv->top[low];
	if (g->size * (g->n - 1) >= size * (n - 1))
		return NULL;
	for (int k = 0; k < GROUP_NAMES; k++)
		free(g->names[k]);
	memset(g, 0, sizeof(*g));
	return g;
}

static void member_out(struct inventory *inv, const struct rec *r, uint64_t group,
		       int kept)
{
	const char *url = inv->src[r->src].ep->url;
	int esc = 0;
	char *key;

	if (!inv->out)
		return;
	key = mg_key_text(r->key, &esc);
	if (inv->o->csv) {
		char num[24], gid[24];

		snprintf(gid, sizeof(gid), "%" PRIu64, group);
		snprintf(num, sizeof(num), "%" PRIu64, r->size);
		mg_csv_field(inv->out, gid, 0);
		fputc(',', inv->out);
		mg_csv_field(inv->out, r->sha, 1);
		fputc(',', inv->out);
		mg_csv_field(inv->out, num, 0);
		fputc(',', inv->out);
		mg_csv_field(inv->out, url, 1);
		fputc(',', inv->out);
		mg_csv_field(inv->out, key, 1);
		fputc(',', inv->out);
		mg_csv_field(inv->out, esc ? "true" : "false", 0);
		fputc(',', inv->out);
		mg_csv_field(inv->out, kept ? "kept" : "copy", 1);
		fputs("\r\n", inv->out);
	} else {
		json_t *m = json_pack("{s:I,s:s,s:I,s:s,s:s,s:b,s:s}", "group",
				      (json_int_t)group, "sha256", r->sha, "size",
				      (json_int_t)r->size, "source", url, "key", key,
				      "key_escaped", esc, "role", kept ? "kept" : "copy");
		char *s = json_dumps(m, JSON_COMPACT);

		fprintf(inv->out, "%s\n    %s", inv->first_json ? "" : ",", s);
		inv->first_json = 0;
		free(s);
		json_decref(m);
	}
	free(key);
}

/* Keeps a plan-source member of a duplicate group in the journal, for
 * estimate (18.6). */
static void inv_keep(struct inventory *inv, const struct rec *r)
{
	char name[16 + 4096], val[120];

	if (!inv->journal || r->src != 0 || inv->keep_failed ||
	    strlen(r->key) >= sizeof(name) - 16)
		return;
	snprintf(name, sizeof(name), "inventory/obj/%s", r->key);
	snprintf(val, sizeof(val), "%lld %" PRIu64 " %s", inv->gen, r->size, r->sha);
	/* unsynced: "inventory/at", written synced last, makes them durable */
	if (mg_journal_put_meta_unsynced(inv->journal, name, val) != MG_OK)
		inv->keep_failed = 1;
	else
		inv->kept_records++;
}

/* Marks the records written as the journal's inventory. */
static void inv_keep_done(struct inventory *inv)
{
	char v[32];

	if (!inv->journal)
		return;
	snprintf(v, sizeof(v), "%lld", inv->gen);
	if (inv->keep_failed || mg_journal_put_meta(inv->journal, "inventory/at", v) != MG_OK)
		fprintf(stderr, "migrate: inventory: cannot keep the result in the journal "
			"'%s': estimate will not foresee dedupe\n", inv->plan->journal);
}

/* One finished run of equal (size, sha): the first member is kept. */
struct group_walk {
	uint64_t size, n;
	char sha[65];
	char *names[GROUP_NAMES];
};

static void group_close(struct inventory *inv, struct group_walk *w)
{
	struct inv_group *g;

	if (w->n >= 2) {
		inv->groups++;
		inv->copies += w->n - 1;
		inv->reclaim += w->size * (w->n - 1);
		g = top_slot(inv, w->size, w->n);
		if (g) {
			g->size = w->size;
			g->n = w->n;
			strcpy(g->sha, w->sha);
			memcpy(g->names, w->names, sizeof(g->names));
			memset(w->names, 0, sizeof(w->names));
		}
	}
	for (int k = 0; k < GROUP_NAMES; k++)
		free(w->names[k]);
	memset(w, 0, sizeof(*w));
}

static int walk_groups(struct inventory *inv, const char *sorted)
{
	FILE *f = fopen(sorted, "r");
	struct group_walk w = { 0 };
	char *line = NULL, *first = NULL;
	size_t cap = 0;

	if (!f)
		return -1;
	while (getdelim(&line, &cap, '\0', f) > 0) {
		struct rec r;
		char name[700];

		if (rec_parse_hashed(line, &r) < 0)
			continue;
		if (w.n && (r.size != w.size || strcmp(r.sha, w.sha))) {
			group_close(inv, &w);
			free(first);
			first = NULL;
		}
		if (w.n == 0) {
			w.size = r.size;
			strcpy(w.sha, r.sha);
			first = strdup(line);	/* printed once a second member shows */
		} else {
			struct rec k;

			if (w.n == 1 && rec_parse_hashed(first, &k) == 0) {
				member_out(inv, &k, inv->groups + 1, 1);
				inv_keep(inv, &k);
			}
			member_out(inv, &r, inv->groups + 1, 0);
			inv_keep(inv, &r);
			folder_add(inv, &r);
		}
		if (w.n < GROUP_NAMES) {
			name_of(inv, &r, name, sizeof(name));
			w.names[w.n] = strdup(name);
		}
		w.n++;
	}
	group_close(inv, &w);
	free(first);
	free(line);
	fclose(f);
	return 0;
}

/* ---- output ---- */

static int by_bytes(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_array_get(*(json_t *const *)a, 0));
	json_int_t y = json_integer_value(json_array_get(*(json_t *const *)b, 0));

	return x < y ? 1 : x > y ? -1 : 0;
}

static int by_reclaim(const void *a, const void *b)
{
	const struct inv_group *x = a, *y = b;
	uint64_t rx = x->size * (x->n - 1), ry = y->size * (y->n - 1);

	return rx < ry ? 1 : rx > ry ? -1 : strcmp(x->sha, y->sha);
}

/* The folders holding the most copied bytes, largest first: an array of
 * [bytes, objects, "source#folder"] (the caller decrefs). */
static json_t *top_folders(struct inventory *inv, size_t most)
{
	size_t n = json_object_size(inv->folders), i = 0;
	json_t **v = mg_malloc((n ? n : 1) * sizeof(*v)), *out = json_array();
	const char *k;
	json_t *val;

	json_object_foreach(inv->folders, k, val) {
		json_array_append_new(val, json_string(k));
		v[i++] = val;
	}
	qsort(v, n, sizeof(*v), by_bytes);
	for (i = 0; i < n && i < most; i++)
		json_array_append(out, v[i]);
	free(v);
	return out;
}

/* "3#raw/a" -> source url and folder */
static const char *folder_split(const struct inventory *inv, const char *k,
				const char **url)
{
	unsigned i = (unsigned)strtoul(k, NULL, 10);

	*url = i < inv->nsrc ? inv->src[i].ep->url : "?";
	return strchr(k, '#') + 1;
}

static void print_text(struct inventory *inv, FILE *out)
{
	json_t *tf = top_folders(inv, TOP_FOLDERS), *f;
	char a[32], b[32];
	size_t i;

	for (i = 0; i < inv->nsrc; i++) {
		mg_fmt_bytes(inv->src[i].bytes, a, sizeof(a));
		fprintf(out, "source %s: %" PRIu64 " object%s, %s (%" PRIu64 " empty)\n",
			inv->src[i].ep->url, inv->src[i].objects,
			inv->src[i].objects == 1 ? "" : "s", a, inv->src[i].empty);
	}
	mg_fmt_bytes(inv->hashed_bytes, a, sizeof(a));
	fprintf(out, "same size as another: %" PRIu64 " objects; hashed %" PRIu64
		" (%s read), hash known %" PRIu64 ", unreadable %" PRIu64 "\n",
		inv->candidates, inv->hashed, a, inv->reused, inv->unreadable);
	mg_fmt_bytes(inv->reclaim, a, sizeof(a));
	fprintf(out, "duplicates: %" PRIu64 " group%s, %" PRIu64 " extra cop%s, %s "
		"reclaimable\n", inv->groups, inv->groups == 1 ? "" : "s", inv->copies,
		inv->copies == 1 ? "y" : "ies", a);
	qsort(inv->top, inv->ntop, sizeof(inv->top[0]), by_reclaim);
	if (inv->ntop)
		fprintf(out, "largest groups:\n");
	for (i = 0; i < inv->ntop; i++) {
		struct inv_group *g = &inv->top[i];

		mg_fmt_bytes(g->size * (g->n - 1), a, sizeof(a));
		mg_fmt_bytes(g->size, b, sizeof(b));
		fprintf(out, "  %.12s  %" PRIu64 " x %s, %s reclaimable\n", g->sha, g->n,
			b, a);
		for (int k = 0; k < GROUP_NAMES && g->names[k]; k++)
			fprintf(out, "    %s%s\n", g->names[k], k ? "" : "  (kept)");
		if (g->n > GROUP_NAMES)
			fprintf(out, "    ... and %" PRIu64 " more\n", g->n - GROUP_NAMES);
	}
	if (json_array_size(tf))
		fprintf(out, "folders holding the most copies:\n");
	json_array_foreach(tf, i, f) {
		const char *url, *dir;
		char shown[512];
		json_int_t n;

		dir = folder_split(inv, json_string_value(json_array_get(f, 2)), &url);
		mg_fmt_bytes((uint64_t)json_integer_value(json_array_get(f, 0)), a,
			     sizeof(a));
		n = json_integer_value(json_array_get(f, 1));
		fprintf(out, "  %10s  %5" JSON_INTEGER_FORMAT " object%s  %s %s\n", a, n,
			n == 1 ? " " : "s", url,
			*dir ? mg_printable(dir, shown, sizeof(shown)) : "(top)");
	}
	json_decref(tf);
}

static void print_json_tail(struct inventory *inv, FILE *out)
{
	json_t *o = json_object(), *srcs = json_array(), *tops = json_array();
	json_t *tf = top_folders(inv, TOP_FOLDERS), *f;
	char *s;
	size_t i;

	for (i = 0; i < inv->nsrc; i++)
		json_array_append_new(srcs, json_pack("{s:s,s:I,s:I,s:I}", "url",
						      inv->src[i].ep->url, "objects",
						      (json_int_t)inv->src[i].objects,
						      "bytes", (json_int_t)inv->src[i].bytes,
						      "empty", (json_int_t)inv->src[i].empty));
	json_array_foreach(tf, i, f) {
		const char *url, *dir;

		dir = folder_split(inv, json_string_value(json_array_get(f, 2)), &url);
		json_array_append_new(tops, json_pack("{s:s,s:s,s:O,s:O}", "source", url,
						      "folder", dir, "bytes",
						      json_array_get(f, 0), "objects",
						      json_array_get(f, 1)));
	}
	json_object_set_new(o, "sources", srcs);
	json_object_set_new(o, "candidates", json_integer((json_int_t)inv->candidates));
	json_object_set_new(o, "hashed", json_integer((json_int_t)inv->hashed));
	json_object_set_new(o, "hashed_bytes", json_integer((json_int_t)inv->hashed_bytes));
	json_object_set_new(o, "hash_known", json_integer((json_int_t)inv->reused));
	json_object_set_new(o, "unreadable", json_integer((json_int_t)inv->unreadable));
	json_object_set_new(o, "groups", json_integer((json_int_t)inv->groups));
	json_object_set_new(o, "copies", json_integer((json_int_t)inv->copies));
	json_object_set_new(o, "reclaimable_bytes", json_integer((json_int_t)inv->reclaim));
	json_object_set_new(o, "top_folders", tops);
	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	/* the members went out first; the rest of the object follows them */
	fprintf(out, "\n  ],\n%s", s + 2);
	free(s);
	json_decref(o);
	json_decref(tf);
}

/* ---- the command ---- */

static int open_sources(struct inventory *inv)
{
	char msg[400];

	inv->nsrc = 1 + inv->o->nextra;
	inv->src = mg_calloc(inv->nsrc, sizeof(*inv->src));
	inv->src[0].ep = &inv->plan->source;
	for (size_t i = 1; i < inv->nsrc; i++) {
		struct inv_source *s = &inv->src[i];

		if (mg_endpoint_parse_url(&s->own, inv->o->extra[i - 1], msg,
					  sizeof(msg)) < 0) {
			fprintf(stderr, "migrate: inventory: %s\n", msg);
			return MG_EXIT_USAGE;
		}
		s->ep = &s->own;
	}
	for (size_t i = 0; i < inv->nsrc; i++) {
		struct inv_source *s = &inv->src[i];

		if (mg_conn_open(&s->conn, s->ep->ops, s->ep, NULL, MG_OPEN_SOURCE) !=
		    MG_OK) {
			fprintf(stderr, "migrate: inventory: cannot open '%s': %s\n",
				s->ep->url, s->conn.err.msg);
			mg_conn_close(&s->conn);
			return MG_EXIT_FATAL;
		}
		s->open = 1;
	}
	return MG_EXIT_OK;
}

static void inventory_release(struct inventory *inv)
{
	char path[4200];

	for (size_t i = 0; i < inv->nsrc; i++) {
		if (inv->src[i].open)
			mg_conn_close(&inv->src[i].conn);
		if (inv->src[i].ep == &inv->src[i].own)
			mg_endpoint_release(&inv->src[i].own);
	}
	free(inv->src);
	for (size_t i = 0; i < inv->ntop; i++)
		for (int k = 0; k < GROUP_NAMES; k++)
			free(inv->top[i].names[k]);
	if (inv->journal)
		mg_journal_close(inv->journal);
	if (inv->tmpdir[0]) {
		const char *names[] = { "sizes", "hashed" };

		for (size_t i = 0; i < 2; i++) {
			snprintf(path, sizeof(path), "%s/%s", inv->tmpdir, names[i]);
			unlink(path);
		}
		rmdir(inv->tmpdir);
	}
	json_decref(inv->folders);
	free(inv->buf);
}

/* Opens the journal to reuse its hashes and keep the result (made if
 * missing: estimate reads the result there); a busy one is only a note
 * (the hashes are then read, the result is not kept). */
static void open_journal(struct inventory *inv)
{
	struct mg_error err = { 0 };

	if (!inv->plan->journal)
		return;
	if (mg_journal_open(inv->plan->journal, &inv->journal, &err) != MG_OK) {
		inv->journal = NULL;
		fprintf(stderr, "migrate: inventory: not using the journal's hashes: %s\n",
			err.msg);
	}
}

static int sort_failed(const struct inventory *inv)
{
	fprintf(stderr, "migrate: inventory: sorting failed (is sort(1) installed, "
		"and is there room in '%s'? TMPDIR chooses the folder)\n", inv->tmpdir);
	return MG_EXIT_FATAL;
}

static int run_passes(struct inventory *inv)
{
	struct sorter s1, s2;
	char sizes[4200], hashed[4200];
	int code = MG_EXIT_OK, bad;

	snprintf(sizes, sizeof(sizes), "%s/sizes", inv->tmpdir);
	snprintf(hashed, sizeof(hashed), "%s/hashed", inv->tmpdir);
	if (sorter_start(&s1, inv->tmpdir, sizes) < 0)
		return sort_failed(inv);
	for (unsigned i = 0; i < inv->nsrc && code == MG_EXIT_OK; i++)
		code = list_source(inv, i, s1.in);
	bad = sorter_finish(&s1) < 0;
	if (code != MG_EXIT_OK)
		return code;
	if (bad || sorter_start(&s2, inv->tmpdir, hashed) < 0)
		return sort_failed(inv);
	bad = hash_candidates(inv, sizes, s2.in) < 0;
	bad |= sorter_finish(&s2) < 0;
	if (mg_interrupted)
		return MG_EXIT_INTERRUPT;
	if (bad || walk_groups(inv, hashed) < 0)
		return sort_failed(inv);
	inv_keep_done(inv);
	return MG_EXIT_OK;
}

int mg_cmd_inventory(const char *path, struct mg_plan *plan, struct mg_run_opts *o)
{
	struct inventory inv = { .plan = plan, .o = o, .first_json = 1,
				 .gen = (long long)time(NULL) };
	const char *tmp = getenv("TMPDIR");
	int code;

	(void)path;
	inv.folders = json_object();
	inv.buf = mg_malloc(HASH_BUF);
	snprintf(inv.tmpdir, sizeof(inv.tmpdir), "%s/migrate-inv-XXXXXX",
		 tmp && *tmp && strlen(tmp) < 4000 ? tmp : "/tmp");
	if (!mkdtemp(inv.tmpdir)) {
		fprintf(stderr, "migrate: inventory: cannot make a scratch folder '%s': %s\n",
			inv.tmpdir, strerror(errno));
		inv.tmpdir[0] = '\0';
		inventory_release(&inv);
		return MG_EXIT_FATAL;
	}
	code = open_sources(&inv);
	if (code == MG_EXIT_OK) {
		open_journal(&inv);
		if (o->csv) {
			inv.out = stdout;
			fputs("group,sha256,size,source,key,key_escaped,role\r\n", stdout);
		} else if (o->json) {
			inv.out = stdout;
			fputs("{\n  \"members\": [", stdout);
		}
		code = run_passes(&inv);
	}
	if (code == MG_EXIT_OK || code == MG_EXIT_FATAL || code == MG_EXIT_INTERRUPT) {
		if (o->json && inv.out)
			print_json_tail(&inv, stdout);
		else if (!o->csv && code == MG_EXIT_OK && !o->quiet)
			print_text(&inv, stdout);
	}
	if (code == MG_EXIT_OK && inv.unreadable)
		code = MG_EXIT_PARTIAL;
	if (fflush(stdout) != 0 && code == MG_EXIT_OK)
		code = MG_EXIT_FATAL;
	inventory_release(&inv);
	return code;
}
