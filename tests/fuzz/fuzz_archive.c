/*
 * fuzz_archive.c - archive entry names, through the tar connector as the
 * engine sees it (connectors/tar.c's name checks are static, so the input
 * goes in as an archive file: any format and filter libarchive reads).
 *
 * Each input is written to one temporary file, opened as a tar:// source
 * (symlinks: follow, so links are resolved too; a 1 MiB entry cap keeps a
 * run fast), listed, and every file entry is read to its end.
 *
 * Properties: the listing ends (MG_DONE or an error grade, never a hang);
 * every entry that is listed as a file or a link has a key that passes
 * mg_key_check() (the connector refuses hostile names itself: absolute,
 * '..', drive letters) and holds no NUL; reading a listed file gives at
 * most the size the listing announced; no leak, overrun or undefined
 * behaviour.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "connector.h"
#include "plan.h"
#include "fuzz.h"

static char path[64];
static struct mg_endpoint ep;

static void cleanup(void)
{
	if (path[0])
		unlink(path);
	mg_endpoint_release(&ep);
}

static void setup(void)
{
	char url[96], msg[256];
	const char *tmp = getenv("TMPDIR");
	int fd;

	if (path[0])
		return;
	snprintf(path, sizeof(path), "%.40s/mg-fuzz-archive.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		abort();
	close(fd);
	atexit(cleanup);
	snprintf(url, sizeof(url), "tar://%s", path);
	if (mg_endpoint_parse_url(&ep, url, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "%s\n", msg);
		abort();
	}
	if (mg_endpoint_set(&ep, "symlinks", "follow", msg, sizeof(msg)) < 0 ||
	    mg_endpoint_set(&ep, "max_entry_size", "1MiB", msg, sizeof(msg)) < 0) {
		fprintf(stderr, "%s\n", msg);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[16384];
	const struct mg_connector *ops;
	struct mg_counters counters = { 0 };
	struct mg_conn conn;
	struct mg_lister *it;
	struct mg_entry e;
	char **keys = NULL;
	uint64_t *sizes = NULL;
	size_t nkeys = 0;
	const char *why;
	FILE *f;
	int rc;

	if (size > 1 << 20)
		return 0;
	setup();
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();

	ops = mg_connector_find("tar");
	FUZZ_CHECK(ops != NULL, "no tar connector");
	memset(&conn, 0, sizeof(conn));
	rc = mg_conn_open(&conn, ops, &ep, &counters, MG_OPEN_SOURCE);
	if (rc != MG_OK)
		goto out;
	rc = mg_list_open(&conn, NULL, &it);
	if (rc != MG_OK)
		goto out;
	while ((rc = ops->list_next(it, &e)) == MG_OK) {
		FUZZ_CHECK(e.key != NULL, "an entry without a key");
		if (e.kind == MG_ENTRY_ERROR)
			continue;
		FUZZ_CHECK(mg_key_check(e.key, 0, &why) == 0,
			   "listed key '%s' %s", e.key, why);
		if (e.kind == MG_ENTRY_FILE && nkeys < 64) {
			keys = realloc(keys, (nkeys + 1) * sizeof(*keys));
			sizes = realloc(sizes, (nkeys + 1) * sizeof(*sizes));
			if (!keys || !sizes)
				abort();
			keys[nkeys] = strdup(e.key);
			sizes[nkeys++] = e.size;
		}
	}
	ops->list_close(it);
	FUZZ_CHECK(rc == MG_DONE || rc < 0, "list_next = %d", rc);

	for (size_t i = 0; i < nkeys; i++) {
		struct mg_reader *r;
		uint64_t total = 0;
		size_t got;

		mg_error_clear(&conn.err);
		if (mg_read_open(&conn, keys[i], 0, UINT64_MAX, &r) != MG_OK)
			continue;
		while (ops->read(r, buf, sizeof(buf), &got) == MG_OK && got > 0)
			total += got;
		ops->read_close(r);
		FUZZ_CHECK(total <= sizes[i], "'%s': read %llu bytes, listed %llu",
			   keys[i], (unsigned long long)total,
			   (unsigned long long)sizes[i]);
	}
out:
	mg_conn_close(&conn);
	for (size_t i = 0; i < nkeys; i++)
		free(keys[i]);
	free(keys);
	free(sizes);
	return 0;
}
