/*
 * test_engine_mem.c - the engine driven in-process over the in-memory
 * connector (tests/conformance/mem.c), registered at run time: no server,
 * no folder but the journal's, and the objects and requests checked from
 * the store's side.  What a run over mem:// must do is what it must do
 * over any backend: copy every object byte for byte, copy nothing the
 * second time, copy a changed object again, delete under mode: sync,
 * refuse a hostile key per object and go on, and issue exactly the
 * requests `estimate` predicted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include "engine.h"
#include "plan.h"

extern const struct mg_connector cf_connector_mem;
void cf_mem_counters(const char *name, struct mg_counters *out);

static char tmpdir[64];

/* ---- the stores, through the connector's own methods ---- */

static void conn_to(struct mg_conn *c, const char *url, struct mg_endpoint *ep)
{
	char msg[300];

	memset(ep, 0, sizeof(*ep));
	assert_int_equal(mg_endpoint_parse_url(ep, url, msg, sizeof(msg)), 0);
	assert_int_equal(mg_conn_open(c, ep->ops, ep, NULL, MG_OPEN_TARGET), MG_OK);
}

static void conn_done(struct mg_conn *c, struct mg_endpoint *ep)
{
	mg_conn_close(c);
	mg_endpoint_release(ep);
}

static void put(const char *url, const char *key, const char *data, int64_t mtime_ns)
{
	struct mg_endpoint ep;
	struct mg_conn c;
	struct mg_writer *w;
	struct mg_put_info info = { .size = strlen(data), .mtime_ns = mtime_ns };
	struct mg_put_final fin;
	struct mg_put_result res;

	memset(&fin, 0, sizeof(fin));
	conn_to(&c, url, &ep);
	assert_int_equal(mg_write_open(&c, key, &info, &w), MG_OK);
	assert_int_equal(mg_write(&c, w, data, strlen(data)), MG_OK);
	assert_int_equal(mg_write_commit(&c, w, &fin, &res), MG_OK);
	conn_done(&c, &ep);
}

static void del(const char *url, const char *key)
{
	struct mg_endpoint ep;
	struct mg_conn c;

	conn_to(&c, url, &ep);
	assert_int_equal(mg_remove(&c, key), MG_OK);
	conn_done(&c, &ep);
}

/* The object's bytes (caller frees), or NULL when it is absent. */
static char *get(const char *url, const char *key)
{
	struct mg_endpoint ep;
	struct mg_conn c;
	struct mg_reader *r;
	char buf[4096];
	size_t got = 0, n;

	conn_to(&c, url, &ep);
	if (mg_read_open(&c, key, 0, UINT64_MAX, &r) != MG_OK) {
		conn_done(&c, &ep);
		return NULL;
	}
	while (mg_read(&c, r, buf + got, sizeof(buf) - 1 - got, &n) == MG_OK && n)
		got += n;
	mg_read_close(&c, r);
	conn_done(&c, &ep);
	buf[got] = '\0';
	return strdup(buf);
}

static void assert_object(const char *url, const char *key, const char *want)
{
	char *got = get(url, key);

	if (!want) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* ---- the engine ---- */

/* Loads a plan from text, runs (or estimates) it with stdout going to
 * out (NULL: /dev/null) and returns the exit code. */
static int engine(const char *yaml, int estimate, const char *out)
{
	struct mg_plan plan;
	struct mg_error err = { 0 };
	struct mg_run_opts o = { .quiet = 1, .json = estimate, .estimate = estimate };
	int saved, fd, rc;

	memset(&plan, 0, sizeof(plan));
	if (mg_plan_load_string("test.yaml", yaml, strlen(yaml), &plan, &err) != MG_OK)
		fail_msg("plan: %s", err.msg);
	fflush(stdout);
	saved = dup(1);
	fd = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 1);
	close(fd);
	rc = mg_engine_run(&plan, &o);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	mg_plan_release(&plan);
	return rc;
}

/* A plan from src to the given targets, its journal in the temp folder. */
static char *plan_text(const char *name, const char *mode, const char *src,
		       const char *t1, const char *t2)
{
	static char yaml[1024];

	snprintf(yaml, sizeof(yaml),
		 "version: 1\nname: %s\nmode: %s\nsource: \"%s\"\n"
		 "targets:\n  - \"%s\"\n%s%s%s"
		 "journal: \"%s/%s\"\n%s",
		 name, mode, src, t1, t2 ? "  - \"" : "", t2 ? t2 : "", t2 ? "\"\n" : "",
		 tmpdir, name,
		 /* one delete in four objects is over the default guard */
		 strcmp(mode, "sync") ? "" : "delete: { max_percent: 100 }\n");
	return yaml;
}

static uint64_t puts_at(const char *store)
{
	struct mg_counters c;

	cf_mem_counters(store, &c);
	return c.req[MG_REQ_PUT];
}

static const char *const keys[] = { "a", "b/c", "b/d e", "z\xc3\xa9" };
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static void fill(const char *src)
{
	for (size_t i = 0; i < NKEYS; i++) {
		char data[64];

		snprintf(data, sizeof(data), "object %zu: %s", i, keys[i]);
		put(src, keys[i], data, 1000000000LL * (int64_t)(i + 1));
	}
}

static void assert_copies(const char *src, const char *dst)
{
	for (size_t i = 0; i < NKEYS; i++) {
		char *want = get(src, keys[i]);

		assert_object(dst, keys[i], want);
		free(want);
	}
}

/* Every object arrives byte for byte at both targets; a second run
 * copies nothing; a changed object is copied again, and only it. */
static void test_copy_rerun_change(void **state)
{
	const char *yaml = plan_text("copy", "copy", "mem://s1/in", "mem://t1a/out", "mem://t1b");

	(void)state;
	fill("mem://s1/in");
	put("mem://s1/other", "a", "not under the source's prefix", 1);
	assert_int_equal(engine(yaml, 0, NULL), MG_EXIT_OK);
	assert_copies("mem://s1/in", "mem://t1a/out");
	assert_copies("mem://s1/in", "mem://t1b");
	assert_object("mem://t1b", "other/a", NULL);
	assert_int_equal(puts_at("t1a"), NKEYS);

	assert_int_equal(engine(yaml, 0, NULL), MG_EXIT_OK);
	assert_int_equal(puts_at("t1a"), NKEYS);
	assert_int_equal(puts_at("t1b"), NKEYS);

	put("mem://s1/in", "b/c", "changed, and longer than before", 99000000000LL);
	assert_int_equal(engine(yaml, 0, NULL), MG_EXIT_OK);
	assert_object("mem://t1a/out", "b/c", "changed, and longer than before");
	assert_object("mem://t1b", "b/c", "changed, and longer than before");
	assert_int_equal(puts_at("t1a"), NKEYS + 1);
	assert_int_equal(puts_at("t1b"), NKEYS + 1);
}

/* mode: sync removes at the target what is gone from the source. */
static void test_sync_deletes(void **state)
{
	const char *yaml = plan_text("sync", "sync", "mem://s2", "mem://t2", NULL);

	(void)state;
	fill("mem://s2");
	assert_int_equal(engine(yaml, 0, NULL), MG_EXIT_OK);
	assert_copies("mem://s2", "mem://t2");
	del("mem://s2", "b/d e");
	assert_int_equal(engine(yaml, 0, NULL), MG_EXIT_OK);
	assert_object("mem://t2", "b/d e", NULL);
	assert_copies("mem://s2", "mem://t2");
}

/* A key no target may hold is refused on its own (exit 1); the rest is
 * copied. */
static void test_hostile_keys(void **state)
{
	const char *yaml = plan_text("hostile", "copy", "mem://s3", "mem://t3", NULL);

	(void)state;
	fill("mem://s3");
	put("mem://s3", "../x", "escape", 1);
	put("mem://s3", "a//b", "empty segment", 1);
	assert_int_equal(engine(yaml, 0, NULL), MG_EXIT_PARTIAL);
	assert_copies("mem://s3", "mem://t3");
	assert_object("mem://t3", "../x", NULL);
	assert_object("mem://t3", "a//b", NULL);
	assert_int_equal(puts_at("t3"), NKEYS);
}

/* The store's tally of one run, less what it held before. */
static void tally_since(const char *store, const struct mg_counters *before,
			struct mg_counters *d)
{
	cf_mem_counters(store, d);
	for (int r = 0; r < MG_REQ__COUNT; r++)
		d->req[r] -= before->req[r];
	d->bytes_read -= before->bytes_read;
}

static void assert_predicted(json_t *est, const char *side, const struct mg_counters *d)
{
	json_t *req = json_object_get(json_object_get(est, "requests"), side);

	for (int r = 0; r < MG_REQ__COUNT; r++) {
		json_int_t want = json_integer_value(json_object_get(req, mg_req_name((enum mg_req)r)));

		if ((uint64_t)want != d->req[r])
			fail_msg("%s %s: estimate %lld, run %llu", side, mg_req_name((enum mg_req)r),
				 (long long)want, (unsigned long long)d->req[r]);
	}
}

/* estimate predicts, request class by request class, what the run then
 * asks of the source store and of the target store, for a first move and
 * for one after a change. */
static void test_estimate_matches_run(void **state)
{
	const char *yaml = plan_text("est", "copy", "mem://s4/p", "mem://t4/q", NULL);
	char out[128];

	(void)state;
	snprintf(out, sizeof(out), "%s/estimate.json", tmpdir);
	fill("mem://s4/p");
	for (int round = 0; round < 2; round++) {
		struct mg_counters s0, t0, sd, td;
		json_error_t jerr;
		json_t *j, *sc;

		assert_int_equal(engine(yaml, 1, out), MG_EXIT_OK);
		j = json_load_file(out, 0, &jerr);
		assert_non_null(j);
		sc = json_array_get(json_object_get(j, "scenarios"), 0);
		assert_non_null(sc);
		cf_mem_counters("s4", &s0);
		cf_mem_counters("t4", &t0);
		assert_int_equal(engine(yaml, 0, NULL), MG_EXIT_OK);
		tally_since("s4", &s0, &sd);
		tally_since("t4", &t0, &td);
		/* not vacuous: the first round moves all, the second one object */
		assert_int_equal(td.req[MG_REQ_PUT], round ? 1 : NKEYS);
		assert_predicted(sc, "source", &sd);
		assert_predicted(sc, "target", &td);
		assert_int_equal(json_integer_value(json_object_get(sc, "bytes_read")), sd.bytes_read);
		json_decref(j);
		put("mem://s4/p", "a", "round two changes this one", 5000000000LL);
	}
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_engine_mem.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	return mg_connector_register(&cf_connector_mem);
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_rerun_change),
		cmocka_unit_test(test_sync_deletes),
		cmocka_unit_test(test_hostile_keys),
		cmocka_unit_test(test_estimate_matches_run),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
