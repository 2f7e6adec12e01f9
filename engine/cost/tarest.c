/*
 * tarest.c - an archive in an object store as an estimate's source (issue
 * 18.2; tarest.h says what the run does and why the estimate reads).
 *
 * The model, for a plan reading tar+s3://bucket/x.tgz with W workers that
 * get work:
 *   requests = (1 + W) x open + passes x pass
 *   egress   = passes x (the bytes one pass reads)
 * where open is what one source connection costs when it opens (the
 * store's check and the archive's HEAD: connectors/tar.c open_inner and
 * archive_identity) and pass is one read of the archive from its start
 * (a HEAD that checks it is the archive indexed, then ranged GETs).  The
 * first pass indexes the archive and keeps every entry up to 16 MiB, 64
 * MiB in all, in memory; entries beyond that are read by further passes,
 * how many depends on the order the workers ask, so they are not counted
 * but said.  The estimate reads the archive exactly as the run's first
 * pass does, so open and pass are measured, not assumed.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "plan.h"
#include "pricing.h"
#include "report.h"
#include "tarest.h"

/* connectors/tar.c's reader cache: entries up to TAR_CACHE_ITEM_MAX, at
 * most TAR_CACHE_CAP in all (lowered by MG_TAR_CACHE_CAP for tests).  Not
 * plan keys, so the estimate uses the same constants. */
#define ARCH_CACHE_ITEM_MAX	(16ULL << 20)
#define ARCH_CACHE_CAP		(64ULL << 20)
#define ARCH_CACHE_CAP_ENV	"MG_TAR_CACHE_CAP"

/* The one archive of this process's estimate: begin() fills it before the
 * walk, estimate.c reads it after (the walk's engine knows nothing of it). */
static struct mg_archive_est est;
static int est_set;
static struct mg_conn keep;	/* the archive, read, open through the walk */
static int keep_open;

int mg_tarest_applies(const struct mg_plan *plan)
{
	const struct mg_endpoint *in = plan->source.inner;

	if (!plan->source.ops || !(plan->source.ops->caps & MG_CAP_ARCHIVE) ||
	    !in || !in->ops)
		return 0;
	return (in->ops->caps & MG_CAP_RANGE_READ) && !(in->ops->caps & MG_CAP_FILES);
}

const struct mg_archive_est *mg_tarest_current(void)
{
	return est_set ? &est : NULL;
}

static void add_counters(uint64_t *req, uint64_t *bytes, const struct mg_counters *c,
			 uint64_t times)
{
	for (int r = 0; r < MG_REQ__COUNT; r++)
		req[r] += c->req[r] * times;
	*bytes += c->bytes_read * times;
}

/* Opens the store the archive sits in (its folder, as tar.c's open_inner
 * does) and HEADs the archive: its size, before anything is read. */
static int archive_head(const struct mg_plan *plan, struct mg_counters *c,
			struct mg_conn *conn, uint64_t *size)
{
	const struct mg_endpoint *in = plan->source.inner;
	static struct mg_endpoint ep;
	static char *folder;
	const char *path = in->path ? in->path : "";
	const char *slash = strrchr(path, '/');
	struct mg_entry e;
	char esc[512];
	int rc;

	ep = *in;
	free(folder);
	folder = slash ? mg_strndup(path, (size_t)(slash - path) + 1) : mg_strdup("");
	ep.path = folder;
	if (mg_conn_open(conn, in->ops, &ep, c, MG_OPEN_SOURCE) != MG_OK ||
	    (rc = mg_stat(conn, slash ? slash + 1 : path, &e)) != MG_OK) {
		char u[512];

		fprintf(stderr, "migrate: archive '%s': %s\n",
			mg_printable(plan->source.url, u, sizeof(u)),
			conn->err.msg[0] ? mg_printable(conn->err.msg, esc, sizeof(esc))
					 : "it does not exist");
		mg_conn_close(conn);
		return MG_EXIT_FATAL;
	}
	*size = e.size;
	return MG_EXIT_OK;
}

int mg_tarest_begin(const struct mg_plan *plan, int quiet)
{
	struct mg_counters c0, c1, c2;
	struct mg_conn head;
	struct mg_lister *it = NULL;
	struct mg_entry e;
	uint64_t cap = ARCH_CACHE_CAP, cached = 0;
	char sz[32], esc[512];
	const char *env = getenv(ARCH_CACHE_CAP_ENV);
	int rc;

	memset(&est, 0, sizeof(est));
	memset(&c0, 0, sizeof(c0));
	memset(&head, 0, sizeof(head));
	est.url = plan->source.url;
	rc = archive_head(plan, &c0, &head, &est.size);
	if (rc != MG_EXIT_OK)
		return rc;
	mg_conn_close(&head);
	add_counters(est.own_req, &est.own_bytes, &c0, 1);
	if (!quiet) {
		mg_fmt_bytes(est.size, sz, sizeof(sz));
		fprintf(stderr, "migrate: estimate reads archive '%s' (%s) to count its "
			"entries: this read is billed egress at the source, priced in the "
			"report as this estimate's own reads; `migrate estimate --no-read` "
			"estimates from the archive's size alone\n",
			mg_printable(plan->source.url, esc, sizeof(esc)), sz);
		fflush(stderr);
	}
	/* open, then one pass (the index), each measured on its own */
	memset(&c1, 0, sizeof(c1));
	memset(&keep, 0, sizeof(keep));
	if (mg_conn_open(&keep, plan->source.ops, &plan->source, &c1, MG_OPEN_SOURCE) != MG_OK) {
		fprintf(stderr, "migrate: %s\n", mg_printable(keep.err.msg, esc, sizeof(esc)));
		mg_conn_close(&keep);
		return MG_EXIT_FATAL;
	}
	keep_open = 1;
	c2 = c1;
	if (mg_list_open(&keep, NULL, &it) != MG_OK) {
		/* the walk says why, as a run would */
		est_set = 1;
		return MG_EXIT_OK;
	}
	if (env && strtoull(env, NULL, 10) < cap)
		cap = strtoull(env, NULL, 10);
	while (mg_list_next(&keep, it, &e) == MG_OK) {
		if (e.kind != MG_ENTRY_FILE)
			continue;
		est.entries++;
		if (e.size <= ARCH_CACHE_ITEM_MAX && cached + e.size <= cap) {
			cached += e.size;
		} else {
			est.uncached++;
			est.uncached_bytes += e.size;
		}
	}
	mg_list_close(&keep, it);
	est.open = c2;
	est.open.lat = NULL;
	for (int r = 0; r < MG_REQ__COUNT; r++)
		est.pass.req[r] = c1.req[r] - c2.req[r];
	est.pass.bytes_read = c1.bytes_read - c2.bytes_read;
	/* the archive connector counts its reading of the index as one LIST
	 * of its own (the archive's listing): no request reaches the store */
	if (est.pass.req[MG_REQ_LIST])
		est.pass.req[MG_REQ_LIST]--;
	/* this connection's open and the walk's own (it opens another
	 * source connection, which lists from this read), then the pass */
	add_counters(est.own_req, &est.own_bytes, &est.open, 2);
	add_counters(est.own_req, &est.own_bytes, &est.pass, 1);
	est_set = 1;
	return MG_EXIT_OK;
}

void mg_tarest_end(void)
{
	if (keep_open)
		mg_conn_close(&keep);
	keep_open = 0;
	est_set = 0;
}

int mg_tarest_no_read(const struct mg_plan *plan, const struct mg_run_opts *o)
{
	struct mg_counters c, none;
	struct mg_conn conn;
	struct mg_target_tally *tally;
	int rc;

	memset(&est, 0, sizeof(est));
	memset(&c, 0, sizeof(c));
	memset(&conn, 0, sizeof(conn));
	est.url = plan->source.url;
	est.no_read = 1;
	rc = archive_head(plan, &c, &conn, &est.size);
	if (rc != MG_EXIT_OK)
		return rc;
	add_counters(est.own_req, &est.own_bytes, &c, 1);
	/* a source connection: the store's check and the archive's HEAD, as
	 * this one took; a pass: its HEAD and the reads the store says a
	 * read of the whole archive takes */
	est.open = c;
	est.open.lat = NULL;
	est.open.bytes_read = 0;
	est.pass.req[MG_REQ_HEAD] = 1;
	mg_predict_read(&conn, est.size, &est.pass);
	est.pass.bytes_read = est.size;
	mg_conn_close(&conn);
	est_set = 1;
	memset(&none, 0, sizeof(none));
	tally = mg_calloc(plan->ntargets ? plan->ntargets : 1, sizeof(*tally));
	rc = mg_estimate_output(plan, o, &none, tally, plan->ntargets);
	free(tally);
	est_set = 0;
	return rc;
}

void mg_tarest_source(const struct mg_plan *plan, struct mg_scenario *sc, uint64_t tasks)
{
	uint64_t w = plan->transfer.concurrency > 0 ? (uint64_t)plan->transfer.concurrency : 1;
	uint64_t bytes = 0;

	if (!est_set)
		return;
	/* a worker opens its source connection when it gets its first
	 * object: with fewer objects than workers, some never do */
	if (est.no_read)
		tasks = w;
	if (tasks < w)
		w = tasks;
	memset(sc->in.source_req, 0, sizeof(sc->in.source_req));
	add_counters(sc->in.source_req, &bytes, &est.open, 1 + w);
	add_counters(sc->in.source_req, &bytes, &est.pass, 1);
	sc->in.source_read_bytes = bytes;
	sc->archive = &est;
}

int mg_tarest_price(const struct mg_pricing *t, struct mg_scenario *sc,
		    char *msg, size_t msglen)
{
	struct mg_estimate_in in;
	struct mg_estimate_out *out;
	char a[32], b[32];

	if (!sc->archive)
		return 0;
	/* the estimate's own reads, at the source's prices */
	memset(&in, 0, sizeof(in));
	in.source_provider = sc->in.source_provider;
	in.source_url = sc->in.source_url;
	in.source_class = sc->in.source_class;
	in.source_stored_bytes = sc->in.source_stored_bytes;
	in.free_tier_used = sc->in.free_tier_used;
	in.start = sc->in.start;
	memcpy(in.source_req, est.own_req, sizeof(in.source_req));
	in.source_read_bytes = est.own_bytes;
	out = mg_calloc(1, sizeof(*out));
	if (mg_estimate_compute(t, &in, out, msg, msglen) < 0) {
		free(out);
		return -1;
	}
	est.own_usd = out->one_time;
	free(out);
	/* the limit counts the entries' bytes sent, not the archive's (not
	 * read: at least the archive's) */
	sc->out.duration_s = mg_transfer_seconds(est.no_read ? est.size : sc->bytes_written, sc->in.bandwidth,
						 sc->in.timetable, sc->in.ntimetable,
						 sc->in.link_rate, sc->in.start);
	if (est.no_read && sc->out.nwarn < MG_COST_MAX_WARN) {
		mg_fmt_bytes(est.size, a, sizeof(a));
		snprintf(sc->out.warn[sc->out.nwarn++], sizeof(sc->out.warn[0]),
			 "--no-read: the archive (%s) was not read: its entries are "
			 "unknown, nothing is counted at the target; the source is one "
			 "read of it (every entry in the reader's cache)", a);
	} else if (est.uncached && sc->out.nwarn < MG_COST_MAX_WARN) {
		mg_fmt_bytes(est.uncached_bytes, a, sizeof(a));
		mg_fmt_bytes(est.pass.bytes_read, b, sizeof(b));
		snprintf(sc->out.warn[sc->out.nwarn++], sizeof(sc->out.warn[0]),
			 "%" PRIu64 " archive entries (%s) miss the reader's cache "
			 "(16 MiB each, 64 MiB in all): up to %" PRIu64 " more reads "
			 "of the archive (%s each), not counted", est.uncached, a,
			 est.uncached, b);
	}
	return 0;
}

/* ---- the report's line: the same words in text and HTML ---- */

static void own_line(const struct mg_archive_est *a, char *out, size_t len)
{
	char sz[32], by[32], usd[32], reqs[160] = "";
	size_t k = 0;

	for (int r = 0; r < MG_REQ__COUNT; r++)
		if (a->own_req[r] && k < sizeof(reqs))
			k += (size_t)snprintf(reqs + k, sizeof(reqs) - k, "%s%" PRIu64 " %s",
					      k ? ", " : "", a->own_req[r],
					      mg_req_name((enum mg_req)r));
	mg_fmt_bytes(a->size, sz, sizeof(sz));
	mg_fmt_bytes(a->own_bytes, by, sizeof(by));
	mg_fmt_usd(a->own_usd, usd, sizeof(usd));
	snprintf(out, len, "this estimate's own reads of the archive (%s%s): %s, %s "
		 "downloaded: %s USD, already spent, not in the totals", sz,
		 a->no_read ? ", not read: --no-read" : "", reqs, by, usd);
}

void mg_archive_text(FILE *f, const struct mg_scenario *s)
{
	char line[512];

	if (!s || !s->archive)
		return;
	own_line(s->archive, line, sizeof(line));
	fprintf(f, "        %s\n", line);
	if (s->archive->no_read)
		fprintf(f, "        entries: unknown (--no-read)\n");
	else
		fprintf(f, "        entries: %" PRIu64 "\n", s->archive->entries);
}

void mg_archive_html(FILE *f, const struct mg_scenario *s)
{
	char line[512];

	if (!s || !s->archive)
		return;
	own_line(s->archive, line, sizeof(line));
	fputs("<div class='warn'>", f);
	mg_html_esc(f, line);
	fputs("</div>\n", f);
}

void mg_archive_json(json_t *j, const struct mg_scenario *s)
{
	const struct mg_archive_est *a;
	json_t *req;

	if (!s || !s->archive)
		return;
	a = s->archive;
	req = json_object();
	for (int r = 0; r < MG_REQ__COUNT; r++)
		json_object_set_new(req, mg_req_name((enum mg_req)r),
				    json_integer((json_int_t)a->own_req[r]));
	json_object_set_new(j, "archive", json_pack("{s:s,s:I,s:b,s:o,s:I}",
			    "url", a->url ? a->url : "", "size", (json_int_t)a->size,
			    "read", !a->no_read,
			    "entries", a->no_read ? json_null() : json_integer((json_int_t)a->entries),
			    "uncached_entries", (json_int_t)a->uncached));
	json_object_set_new(j, "estimate_own_reads", json_pack("{s:s,s:o,s:I,s:f}",
			    "what", "this estimate's own reads of the archive (already spent, "
			    "not in the totals)", "requests", req,
			    "bytes", (json_int_t)a->own_bytes,
			    "usd", round(a->own_usd * 10000) / 10000));
}
