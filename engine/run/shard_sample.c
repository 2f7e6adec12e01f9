/*
 * shard_sample.c - `shard: { by: prefix }` without `prefixes`: the N-1
 * boundaries found from a sampled listing of the source, and shared by
 * all N tasks through a file in the journal folder.
 *
 * Every task must split the same way, or an object falls between two
 * ranges (copied by none) or into two (copied twice).  A task cannot
 * recompute the split alone: a bucket that changes between two tasks'
 * samples gives two splits.  So the first task to finish its sample
 * publishes it, <journal>/shard-prefixes-of-NNNN, with link(2), which
 * fails when the name exists: the first writer wins, a task that lost
 * the race reads the winner's file, and every later task (and every
 * rerun) reads it and lists nothing to sample.  No task waits for
 * another: task 0 need not come first or be alive.  That needs the
 * journal folder shared by the tasks (it is where the shard journals
 * live, on shared storage); with journals on each node's own disk, give
 * `shard.prefixes` in the plan instead (docs/SCALE-OUT.md).
 *
 * The sample lists pages of up to SAMPLE_PAGE keys (one request each)
 * with start-after and groups them by the next path component:
 *   - a group that begins and ends inside the pages read is counted
 *     exactly;
 *   - a page that is all one folder ("big/") marks that folder heavy:
 *     the sample jumps past it (start-after "big/" U+10FFFF), counting it
 *     as a page, and comes back later, budget allowing, to count its own
 *     sub-folders the same way (the heaviest first).
 * So a tree of many small folders is counted exactly (as a listing would,
 * a page per SAMPLE_PAGE keys) and a tree of few large ones costs about a
 * request per large folder.  The budget, 4 requests per task plus 8
 * (SAMPLE_BUDGET), bounds it; what it leaves unread counts as large as
 * everything read before it.  The boundaries are then the group ends that
 * cut the counted keys nearest to N equal parts.  Balance depends on the
 * sample; exactly-once does not: any ascending boundaries split the key
 * space into N disjoint ranges that cover it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connector.h"
#include "mg.h"
#include "shard.h"

#define SAMPLE_PAGE 1000	/* S3's default max-keys: one request */
#define SAMPLE_BUDGET(n) (4 * (n) + 8)
/* past every key under a folder "dir/" but the rare one past U+10FFFF
 * (as shard.c skips folders) */
#define PAST_FOLDER "\xf4\x8f\xbf\xbf"

struct unit {
	char *upper;	/* the last key of the range (inclusive); NULL: the end */
	double weight;	/* keys in it (a heavy folder: a lower bound) */
	char *heavy;	/* a folder only partly counted, or NULL */
};

struct units {
	struct unit *v;
	size_t n, alloc;
};

struct sampler {
	struct mg_conn *conn;
	unsigned probes, budget;
};

static void units_add(struct units *u, char *upper, double weight, char *heavy)
{
	if (u->n == u->alloc) {
		u->alloc = u->alloc ? 2 * u->alloc : 32;
		u->v = mg_realloc(u->v, u->alloc * sizeof(*u->v));
	}
	u->v[u->n++] = (struct unit){ upper, weight, heavy };
}

static void units_release(struct units *u)
{
	for (size_t i = 0; i < u->n; i++) {
		free(u->v[i].upper);
		free(u->v[i].heavy);
	}
	free(u->v);
	memset(u, 0, sizeof(*u));
}

static char *concat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = mg_malloc(la + lb + 1);

	memcpy(s, a, la);
	memcpy(s + la, b, lb + 1);
	return s;
}

/*
 * Counts the keys under prefix ("" for all) by their next path component,
 * into out (in key order).  Returns MG_OK, or the listing's error.
 */
static int sample_under(struct sampler *s, const char *prefix, struct units *out)
{
	size_t plen = strlen(prefix);
	char *sa = plen ? mg_strdup(prefix) : NULL;
	struct mg_buf cur = MG_BUF_INIT, last = MG_BUF_INIT;
	double n = 0;
	int have = 0, r = MG_OK;

	for (;;) {
		struct mg_lister *it;
		int ended = 0, switched = 0;
		unsigned got = 0;

		if (s->probes >= s->budget) {
			/* out of budget: what is left counts as much as all
			 * read so far (weight -1, settled by the caller) */
			if (have)
				units_add(out, mg_strdup(last.buf), n, NULL);
			units_add(out, plen ? concat(prefix, PAST_FOLDER) : NULL, -1, NULL);
			have = 0;
			break;
		}
		s->probes++;
		r = mg_list_open(s->conn, sa, &it);
		if (r != MG_OK)
			break;
		while (got < SAMPLE_PAGE) {
			struct mg_entry e;
			const char *slash;
			size_t glen;

			memset(&e, 0, sizeof(e));
			r = mg_list_next(s->conn, it, &e);
			if (r == MG_DONE || (r == MG_OK && plen && strncmp(e.key, prefix, plen))) {
				ended = 1;
				r = MG_OK;
				break;
			}
			if (r != MG_OK)
				break;
			got++;
			if (e.kind != MG_ENTRY_FILE)
				continue;
			slash = strchr(e.key + plen, '/');
			glen = slash ? (size_t)(slash - e.key) + 1 : strlen(e.key);
			if (have && cur.len == glen && !memcmp(cur.buf, e.key, glen)) {
				n++;
			} else {
				if (have)
					units_add(out, mg_strdup(last.buf), n, NULL);
				switched = have = 1;
				mg_buf_reset(&cur);
				mg_buf_add(&cur, e.key, glen);
				n = 1;
			}
			mg_buf_reset(&last);
			mg_buf_adds(&last, e.key);
		}
		mg_list_close(s->conn, it);
		if (r != MG_OK)
			break;
		if (ended || !got) {
			if (have)
				units_add(out, mg_strdup(last.buf), n, NULL);
			have = 0;
			break;
		}
		free(sa);
		if (got == SAMPLE_PAGE && (!switched || n == SAMPLE_PAGE) &&
		    cur.len && cur.buf[cur.len - 1] == '/') {
			/* a whole page of one folder: jump past it, count
			 * its sub-folders later if the budget allows */
			units_add(out, concat(cur.buf, PAST_FOLDER), n, mg_strdup(cur.buf));
			sa = concat(cur.buf, PAST_FOLDER);
			have = 0;
		} else {
			sa = mg_strdup(last.buf);
		}
	}
	free(sa);
	mg_buf_release(&cur);
	mg_buf_release(&last);
	return r;
}

/* The heavy folder with the most keys counted, or -1. */
static long heaviest(const struct units *u)
{
	long best = -1;

	for (size_t i = 0; i < u->n; i++)
		if (u->v[i].heavy && (best < 0 || u->v[i].weight > u->v[best].weight))
			best = (long)i;
	return best;
}

/* Replaces unit i by the units of its sub-folders. */
static int refine(struct sampler *s, struct units *u, size_t i)
{
	struct units sub = { 0 };
	int r = sample_under(s, u->v[i].heavy, &sub);

	if (r != MG_OK || !sub.n) {
		/* keep the folder as it was counted */
		free(u->v[i].heavy);
		u->v[i].heavy = NULL;
		units_release(&sub);
		return r;
	}
	while (u->n + sub.n - 1 > u->alloc) {
		u->alloc *= 2;
		u->v = mg_realloc(u->v, u->alloc * sizeof(*u->v));
	}
	free(u->v[i].upper);
	free(u->v[i].heavy);
	memmove(&u->v[i + sub.n], &u->v[i + 1], (u->n - i - 1) * sizeof(*u->v));
	memcpy(&u->v[i], sub.v, sub.n * sizeof(*u->v));
	u->n += sub.n - 1;
	free(sub.v);
	return MG_OK;
}

/* The N-1 boundaries: the unit ends nearest to i/N of the keys counted. */
static char **split(struct units *u, unsigned count)
{
	char **b = mg_calloc(count, sizeof(*b));
	double total = 0, known = 0, cum = 0;
	size_t j = 0;

	for (size_t i = 0; i < u->n; i++)
		if (u->v[i].weight >= 0)
			known += u->v[i].weight;
	for (size_t i = 0; i < u->n; i++) {
		if (u->v[i].weight < 0)
			u->v[i].weight = known > 0 ? known : 1;
		total += u->v[i].weight;
	}
	for (unsigned k = 1; k < count; k++) {
		double want = total * k / count;

		/* move on while the next unit end is nearer to want */
		while (j < u->n && u->v[j].upper &&
		       (cum + u->v[j].weight <= want ||
			cum + u->v[j].weight - want < want - cum))
			cum += u->v[j++].weight;
		b[k - 1] = mg_strdup(j ? u->v[j - 1].upper : "");
	}
	return b;
}

int mg_shard_sample(struct mg_conn *conn, unsigned count, char ***out,
		    unsigned *requests)
{
	struct sampler s = { conn, 0, SAMPLE_BUDGET(count) };
	struct units u = { 0 };
	long i;
	int r = sample_under(&s, "", &u);

	while (r == MG_OK && s.probes < s.budget && (i = heaviest(&u)) >= 0)
		r = refine(&s, &u, (size_t)i);
	if (r == MG_OK)
		*out = split(&u, count);
	units_release(&u);
	*requests = s.probes;
	return r;
}

/* ---- the shared file ---- */

/* Boundaries are keys: any byte but NUL.  One a line, percent-encoded
 * where a byte would break the line or be unreadable. */
static void put_key(FILE *f, const char *k)
{
	for (const unsigned char *p = (const unsigned char *)k; *p; p++)
		if (*p <= ' ' || *p == '%' || *p >= 0x7f)
			fprintf(f, "%%%02X", *p);
		else
			fputc(*p, f);
	fputc('\n', f);
}

static char *file_name(const struct mg_plan *plan)
{
	char name[40];

	snprintf(name, sizeof(name), "shard-prefixes-of-%04u", plan->shard.count);
	return mg_path_join(plan->journal, name);
}

/* Reads the boundaries from path into plan.  0, 1 when there is no file,
 * -1 with msg. */
static int read_file(struct mg_plan *plan, const char *path, char *msg, size_t msglen)
{
	struct mg_shard *sh = &plan->shard;
	FILE *f = fopen(path, "re");
	char *line = NULL, src[600];
	size_t cap = 0, n = 0;
	ssize_t len;
	int bad = 0;

	if (!f) {
		if (errno == ENOENT)
			return 1;
		snprintf(msg, msglen, "cannot read the shard boundaries '%s': %s",
			 mg_printable(path, src, sizeof(src)), strerror(errno));
		return -1;
	}
	sh->prefixes = mg_calloc(sh->count, sizeof(*sh->prefixes));
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = 0;
		if (line[0] == '#') {
			/* the source they were found for must be this one */
			if (!strncmp(line, "# source ", 9) && strcmp(line + 9, plan->source.url))
				bad = 2;
			continue;
		}
		if (n == sh->count - 1) {
			bad = 1;
			break;
		}
		sh->prefixes[n] = mg_pct_decode(line, (size_t)len, 0, NULL);
		if (n && strcmp(sh->prefixes[n - 1], sh->prefixes[n]) > 0)
			bad = 1;
		n++;
	}
	free(line);
	fclose(f);
	sh->nprefixes = n;
	if (!bad && n != sh->count - 1)
		bad = 1;
	if (bad)
		snprintf(msg, msglen, "the shard boundaries '%s' %s: remove the file "
			 "and the shard journals beside it to split anew, or list "
			 "'shard: prefixes' in the plan",
			 mg_printable(path, src, sizeof(src)),
			 bad == 2 ? "were found for another source"
				  : "are damaged (want one key a line, ascending)");
	return bad ? -1 : 0;
}

/* Publishes the boundaries at path unless another task did first. */
static int publish(const struct mg_plan *plan, char **b, const char *path,
		   char *msg, size_t msglen)
{
	size_t len = strlen(path);
	char *tmp = mg_malloc(len + 8), shown[600];
	int fd, r = 0;
	FILE *f;

	memcpy(tmp, path, len);
	memcpy(tmp + len, ".XXXXXX", 8);
	fd = mkstemp(tmp);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		free(tmp);
		snprintf(msg, msglen, "cannot write the shard boundaries next to '%s': %s",
			 mg_printable(path, shown, sizeof(shown)), strerror(errno));
		return -1;
	}
	fprintf(f, "# migrate shard boundaries: by prefix, %u tasks; task I takes the "
		"keys after line I-1 up to line I (percent-encoded)\n# source %s\n",
		plan->shard.count, plan->source.url);
	for (unsigned i = 0; i + 1 < plan->shard.count; i++)
		put_key(f, b[i]);
	if (fflush(f) || fsync(fileno(f)))
		r = -1;
	if (fclose(f))
		r = -1;
	/* link() fails with EEXIST when another task published first */
	if (!r && link(tmp, path) < 0 && errno != EEXIST)
		r = -1;
	if (r < 0)
		snprintf(msg, msglen, "cannot write the shard boundaries '%s': %s",
			 mg_printable(path, shown, sizeof(shown)), strerror(errno));
	unlink(tmp);
	free(tmp);
	return r;
}

/* mkdir -p, private: the journal folder lists what the source holds */
static int make_dirs(const char *dir)
{
	char *d = mg_strdup(dir);
	int r = 0;

	for (char *p = d + 1; *p && !r; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(d, 0700) < 0 && errno != EEXIST)
			r = -1;
		*p = '/';
	}
	if (!r && mkdir(d, 0700) < 0 && errno != EEXIST)
		r = -1;
	free(d);
	return r;
}

int mg_shard_find_prefixes(struct mg_plan *plan, int quiet, char *msg, size_t msglen)
{
	const struct mg_connector *ops = mg_connector_find(plan->source.connector);
	char *path = file_name(plan), **b = NULL, why[600];
	struct mg_conn c;
	unsigned requests = 0;
	int r;

	r = read_file(plan, path, msg, msglen);
	if (r <= 0) {
		r = r ? MG_EXIT_USAGE : MG_EXIT_OK;
		goto out;
	}
	r = MG_EXIT_FATAL;
	if (make_dirs(plan->journal) < 0) {
		snprintf(msg, msglen, "cannot create journal folder '%s': %s",
			 mg_printable(plan->journal, why, sizeof(why)), strerror(errno));
		goto out;
	}
	if (!ops || mg_conn_open(&c, ops, &plan->source, NULL, MG_OPEN_SOURCE) != MG_OK) {
		snprintf(msg, msglen, "cannot open the source to find the shard "
			 "boundaries: %s (or list 'shard: prefixes' in the plan)",
			 ops ? mg_printable(c.err.msg, why, sizeof(why)) : "no connector");
		if (ops)
			mg_conn_close(&c);
		goto out;
	}
	if (mg_shard_sample(&c, plan->shard.count, &b, &requests) != MG_OK) {
		snprintf(msg, msglen, "listing the source to find the shard boundaries "
			 "failed: %s (run again, or list 'shard: prefixes' in the plan)",
			 mg_printable(c.err.msg, why, sizeof(why)));
		mg_conn_close(&c);
		goto out;
	}
	mg_conn_close(&c);
	if (publish(plan, b, path, msg, msglen) == 0) {
		if (!quiet)
			fprintf(stderr, "migrate: shard boundaries from a sample of the "
				"source (%u list requests) in '%s'\n", requests,
				mg_printable(path, why, sizeof(why)));
		/* ours or the task's that won: the file is what all share */
		r = read_file(plan, path, msg, msglen) ? MG_EXIT_USAGE : MG_EXIT_OK;
	}
out:
	if (b)
		for (unsigned i = 0; i + 1 < plan->shard.count; i++)
			free(b[i]);
	free(b);
	free(path);
	return r;
}
