/*
 * conformance.h - the one suite every connector passes (rclone's fstests
 * is the model): the same cases against local, SFTP, S3 (RGW, moto), tar
 * and the in-memory test double, each skipped with a reason when the
 * connector's capability flags (enum mg_caps) rule it out.
 *
 * The suite talks to a connector only through connector.h, as the engine
 * does; cases.c never names a backend.  What a backend does beyond the
 * contract (S3 retries, SFTP host keys, tar's bsdtar comparisons) is in
 * cases_SCHEME.c, driven by the connector's own tests/integration/ scripts.
 */
#ifndef CF_CONFORMANCE_H
#define CF_CONFORMANCE_H

#include <stddef.h>
#include <stdint.h>

#include "connector.h"

/* The connector under test, opened by main.c. */
struct cf {
	const struct mg_connector *ops;
	const struct mg_endpoint *ep;
	struct mg_conn dst;		/* MG_OPEN_TARGET, when the connector is one */
	struct mg_conn src;		/* MG_OPEN_SOURCE */
	struct mg_counters counters;	/* shared by both conns, as the engine's are
					 * per endpoint; cases compare deltas */
	int has_dst;
	int has_src;			/* src opened (case_open_source) */
	const char *outside;		/* --outside DIR: must stay untouched, or NULL */
};

/* TAP, numbered; a failed check prints the message as a diagnostic. */
void cf_check(int ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void cf_skip(const char *name, const char *why);
/* A check the connector is known to fail today: reported as a SKIP that
 * says "TODO-known" and why, so the suite stays green while the bug
 * stands, and a plain ok once it is fixed (then drop the mark). */
void cf_known(int ok, const char *name, const char *why, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- the fixture (fixture.c): keys whose bytes anyone can recompute ---- */

struct cf_object {
	const char *key;
	size_t size;
};

/* The fixture, in no particular order, ending with { NULL, 0 }: hostile,
 * Unicode and nested keys, an empty object and CF_BIG_KEY for ranges. */
extern const struct cf_object cf_fixture[];
#define CF_BIG_KEY "big.bin"

/* Fills buf with the n bytes at offset off of key's content (a function
 * of the key, so a reader checks any range without holding the object). */
void cf_content(const char *key, uint64_t off, void *buf, size_t n);
/* The whole content of an object of size bytes, malloc'd. */
unsigned char *cf_content_alloc(const char *key, size_t size);
void cf_hashes(const void *data, size_t len, struct mg_put_final *fin);
void cf_part_hash(const void *data, size_t len, struct mg_part *part);

/* Writes data as key through write_open/write (in chunks of at most
 * chunk bytes)/commit; MG_OK or the failing grade, conn->err set. */
int cf_put(struct mg_conn *c, const char *key, const void *data, size_t len,
	   size_t chunk, struct mg_put_result *res);
/* The same with another source mtime than CF_MTIME_NS (an object that
 * changed at the source since: a connector may keep the mtime). */
int cf_put_at(struct mg_conn *c, const char *key, const void *data, size_t len,
	      size_t chunk, int64_t mtime_ns, struct mg_put_result *res);
#define CF_MTIME_NS 1700000000123456789LL
/* Reads [off, off+len) of key (UINT64_MAX: to the end) with read() calls
 * of at most chunk bytes; *out is malloc'd, *got its length. */
int cf_get(struct mg_conn *c, const char *key, uint64_t off, uint64_t len,
	   size_t chunk, unsigned char **out, size_t *got);

/* Every FILE key of a listing after start_after, in the order given;
 * MG_DONE when the listing ended cleanly. */
struct cf_keys {
	char **v;
	uint64_t *size;		/* cf_list only: each entry's size */
	size_t n;
	size_t others;		/* cf_list only: entries that are not files */
};
int cf_list(struct mg_conn *c, const char *start_after, struct cf_keys *out);
void cf_keys_release(struct cf_keys *k);
/* The fixture's keys in byte order (memcmp), plus extra (may be NULL). */
void cf_fixture_sorted(struct cf_keys *out);

/* Writes the fixture as files under dir (for a read-only connector: the
 * script packs them, the suite reads them back); 0 or -1. */
int cf_fixture_write_dir(const char *dir);

/* ---- the cases (cases.c) ---- */
void cf_run_cases(struct cf *s);

/* ---- one connector's own checks (cases_SCHEME.c) ----
 * What a backend does beyond the contract (host keys, retries, TLS, SSE-C,
 * archive formats, link rules), driven by its tests/integration/ script
 * as `conformance SCHEME ARGS...` (argv[0] is SCHEME); each returns the
 * process's exit status, documented at the top of its file. */
int cf_tool_local(int argc, char **argv);
int cf_tool_sftp(int argc, char **argv);
int cf_tool_s3(int argc, char **argv);
int cf_tool_tar(int argc, char **argv);
/* Lists c after start_after (may be NULL) as the drivers print it: each
 * file through file_line, "L\tkey\ttarget\tnote", "S\tkey" or
 * "E\tkey\treason" for the rest (tool.c); MG_DONE or the failing grade. */
int cf_tool_list(struct mg_conn *c, const char *start_after,
		 void (*file_line)(const struct mg_entry *e));

#endif
