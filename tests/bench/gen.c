/*
 * gen.c - a connector that makes its objects up, for measuring the engine
 * at ten million objects without ten million files (tools/bench's scale
 * case).  Linked only into tests/bench/migrate-gen, never into migrate.
 *
 *   gen://NAME  with  count: N   a source of N objects
 *   gen://null                   a target that keeps nothing
 *
 * Object i is "d%05u/f%010u" (i / 1000, i): fixed-width numbers, so the
 * listing is in byte order as the contract wants.  Its size is the plan's
 * `size` and its bytes a pattern of i.  `generation: G` with `churn: C`
 * (per mille) replays G rounds of churn: in round g an object is rewritten
 * (its mtime moves on by g seconds) when a hash of (i, g) falls under C,
 * and gone when another falls under C / 2.  So generation 1 with churn 10
 * is "1% of the objects changed, 0.5% deleted" since generation 0, and
 * the same plan lists the same objects every time.
 *
 * The target takes writes, copies and deletes and forgets them; stat
 * answers "absent".  Prices as a local folder.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connector.h"
#include "plan.h"

struct gen_options {
	int64_t count;
	int64_t churn;
	int64_t generation;
	uint64_t size;
};

#define GEN_OPT(f) offsetof(struct gen_options, f)

static const struct mg_option gen_options[] = {
	{ .name = "count", .type = MG_OPT_INT, .off = GEN_OPT(count), .def = "0",
	  .min = 0, .max = 1000000000, .doc = "objects the source makes up" },
	{ .name = "churn", .type = MG_OPT_INT, .off = GEN_OPT(churn), .def = "0",
	  .min = 0, .max = 1000, .doc = "per mille rewritten per generation" },
	{ .name = "generation", .type = MG_OPT_INT, .off = GEN_OPT(generation),
	  .def = "0", .min = 0, .max = 1000, .doc = "rounds of churn replayed" },
	{ .name = "size", .type = MG_OPT_SIZE, .off = GEN_OPT(size), .def = "64",
	  .doc = "bytes per object" },
};

#define BASE_NS INT64_C(1700000000000000000)

static uint64_t mix(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* Object i after the plan's generations: 0 gone, else 1 with its mtime. */
static int gen_state(const struct gen_options *o, uint64_t i, int64_t *mtime_ns)
{
	*mtime_ns = BASE_NS;
	for (int64_t g = 1; g <= o->generation; g++) {
		if (mix(i * 1000003 + (uint64_t)g) % 2000 < (uint64_t)o->churn)
			return 0;
		if (mix(i * 1000033 + (uint64_t)g) % 1000 < (uint64_t)o->churn)
			*mtime_ns = BASE_NS + g * INT64_C(1000000000);
	}
	return 1;
}

static int gen_url_parse(struct mg_endpoint *ep, const char *scheme, const char *rest,
			 unsigned flags, char *msg, size_t msglen)
{
	(void)flags;
	if (!*rest || strchr(rest, '/')) {
		snprintf(msg, msglen, "write %s://NAME (or %s://null for a target)",
			 scheme, scheme);
		return -1;
	}
	ep->host = mg_strdup(rest);
	ep->path = mg_strdup("");
	return 0;
}

static void gen_url_identity(const struct mg_endpoint *ep, struct mg_buf *b)
{
	mg_buf_adds(b, ep->host);
}

static int gen_open(struct mg_conn *conn, unsigned flags)
{
	(void)flags;
	conn->priv = (void *)conn->ep->opts;
	return MG_OK;
}

static void gen_close(struct mg_conn *conn)
{
	conn->priv = NULL;
}

struct mg_lister {
	struct mg_conn *conn;
	uint64_t next;
	char key[32];
};

static int gen_list_open(struct mg_conn *conn, const char *start_after,
			 struct mg_lister **out)
{
	struct mg_lister *it = mg_calloc(1, sizeof(*it));
	unsigned d, f;

	it->conn = conn;
	if (start_after && sscanf(start_after, "d%5u/f%10u", &d, &f) == 2)
		it->next = (uint64_t)f + 1;
	mg_count_req(conn, MG_REQ_LIST);
	*out = it;
	return MG_OK;
}

static int gen_list_next(struct mg_lister *it, struct mg_entry *out)
{
	const struct gen_options *o = it->conn->priv;
	int64_t mtime;

	for (; it->next < (uint64_t)o->count; it->next++)
		if (gen_state(o, it->next, &mtime))
			break;
	if (it->next >= (uint64_t)o->count)
		return MG_DONE;
	memset(out, 0, sizeof(*out));
	snprintf(it->key, sizeof(it->key), "d%05u/f%010u", (unsigned)(it->next / 1000),
		 (unsigned)it->next);
	out->key = it->key;
	out->size = o->size;
	out->mtime_ns = mtime;
	out->kind = MG_ENTRY_FILE;
	out->mode = 0644;
	it->next++;
	return MG_OK;
}

static void gen_list_close(struct mg_lister *it)
{
	free(it);
}

struct mg_reader {
	uint64_t left;
	unsigned char fill;
};

static int gen_read_open(struct mg_conn *conn, const char *key, uint64_t off,
			 uint64_t len, struct mg_reader **out)
{
	const struct gen_options *o = conn->priv;
	struct mg_reader *r = mg_calloc(1, sizeof(*r));
	uint64_t size = o->size > off ? o->size - off : 0;

	r->left = len < size ? len : size;
	r->fill = (unsigned char)mix((uint64_t)strlen(key) ^ (uint64_t)key[strlen(key) - 1]);
	mg_count_req(conn, MG_REQ_GET);
	*out = r;
	return MG_OK;
}

static int gen_read(struct mg_reader *r, void *buf, size_t len, size_t *got)
{
	size_t n = len < r->left ? len : (size_t)r->left;

	memset(buf, r->fill, n);
	r->left -= n;
	*got = n;
	return MG_OK;
}

static void gen_read_close(struct mg_reader *r)
{
	free(r);
}

struct mg_writer {
	int unused;
};

static int gen_write_open(struct mg_conn *conn, const char *key,
			  const struct mg_put_info *info, struct mg_writer **out)
{
	(void)key;
	(void)info;
	mg_count_req(conn, MG_REQ_PUT);
	*out = mg_calloc(1, sizeof(**out));
	return MG_OK;
}

static int gen_write(struct mg_writer *w, const void *buf, size_t len)
{
	(void)w;
	(void)buf;
	(void)len;
	return MG_OK;
}

static int gen_write_commit(struct mg_writer *w, const struct mg_put_final *fin,
			    struct mg_put_result *res)
{
	memset(res, 0, sizeof(*res));
	snprintf(res->etag, sizeof(res->etag), "%.32s", fin->sha256);
	free(w);
	return MG_OK;
}

static void gen_write_abort(struct mg_writer *w)
{
	free(w);
}

static int gen_stat(struct mg_conn *conn, const char *key, struct mg_entry *out)
{
	(void)out;
	mg_count_req(conn, MG_REQ_HEAD);
	return mg_error_set(&conn->err, MG_ABSENT, 0, 404, "stat",
			    "gen://null keeps nothing ('%s')", key);
}

static int gen_remove(struct mg_conn *conn, const char *key)
{
	(void)key;
	mg_count_req(conn, MG_REQ_DELETE);
	return MG_OK;
}

const struct mg_connector bench_connector_gen = {
	.version = MG_CONNECTOR_VERSION,
	.scheme = "gen",
	.caps = MG_CAP_SOURCE | MG_CAP_TARGET | MG_CAP_RANGE_READ | MG_CAP_DELETE,
	.open = gen_open,
	.close = gen_close,
	.list_open = gen_list_open,
	.list_next = gen_list_next,
	.list_close = gen_list_close,
	.read_open = gen_read_open,
	.read = gen_read,
	.read_close = gen_read_close,
	.write_open = gen_write_open,
	.write = gen_write,
	.write_commit = gen_write_commit,
	.write_abort = gen_write_abort,
	.stat = gen_stat,
	.remove = gen_remove,
	.url_parse = gen_url_parse,
	.url_identity = gen_url_identity,
	.options = gen_options,
	.noptions = sizeof(gen_options) / sizeof(gen_options[0]),
	.options_size = sizeof(struct gen_options),
	.provider = "local",
};

/* Registered before main() runs, so plans may name gen:// urls. */
__attribute__((constructor)) static void gen_register(void)
{
	if (mg_connector_register(&bench_connector_gen) < 0)
		abort();
}
