/*
 * sftp_ranged.h - one large read over several connections at once.
 *
 * The range [off, off + len) of key is cut into chunks; n threads, each on
 * its own connection opened with conn's own connector and endpoint (so the
 * same handshake and host-key check as conn's first one), read chunks into
 * a ring of buffers and the caller takes them in order.  The first error
 * of any thread fails the whole read: no later byte is handed out.
 */
#ifndef MG_SFTP_RANGED_H
#define MG_SFTP_RANGED_H

#include <stddef.h>
#include <stdint.h>

struct mg_conn;
struct mg_ranged;

/* MG_OK and *out, or a grade with conn->err set. */
int mg_ranged_open(struct mg_conn *conn, unsigned flags, const char *key,
		   uint64_t off, uint64_t len, unsigned n, struct mg_ranged **out);
/* As a connector's read: *got = 0 with MG_OK at the end of the range. */
int mg_ranged_read(struct mg_ranged *r, void *buf, size_t len, size_t *got);
/* Stops the threads, closes every extra connection; NULL is fine. */
void mg_ranged_close(struct mg_ranged *r);

#endif
