/*
 * sftp_bigread.h - one large read on an SFTP channel of its own.
 *
 * libssh2 1.10 reads in 30000-byte requests (MAX_SFTP_READ_SIZE), and the
 * server's work is per request: OpenSSH's sftp asks for 255 KiB at a time.
 * This opens a second channel with the "sftp" subsystem on the session the
 * connector already has (host key checked, logged in) and speaks only what
 * a read needs (INIT, OPEN, FSTAT, READ pipelined, CLOSE: sftp_fxp.h).
 * libssh2's own SFTP session stays for everything else.
 */
#ifndef MG_SFTP_BIGREAD_H
#define MG_SFTP_BIGREAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libssh2.h>

struct mg_bigread;

/* Outcomes besides 0 (done) and libssh2's own errors (< 0): */
#define MG_BIG_PROTO	1	/* the server broke the protocol: mg_bigread_why */
#define MG_BIG_STATUS	2	/* the server answered a status: mg_bigread_code */
#define MG_BIG_CHANGED	3	/* not the file that was sized, or it shrank */

/* Opens path for reading [off, end) (end UINT64_MAX: to the end of the
 * file), which fstat showed as size bytes, modified at mtime.  *out is
 * set even on failure (for mg_bigread_why), and is closed by the caller. */
int mg_bigread_open(LIBSSH2_SESSION *ssh, const char *path, uint64_t off,
		    uint64_t end, uint64_t size, uint32_t mtime,
		    struct mg_bigread **out);
/* The same over io, a test's stand-in for the channel (read and write as
 * libssh2_channel_read/write: bytes moved, 0 at the end, < 0 an error). */
struct mg_bigread_io {
	ssize_t (*read)(void *ctx, unsigned char *buf, size_t n);
	ssize_t (*write)(void *ctx, const unsigned char *buf, size_t n);
	void *ctx;
};
int mg_bigread_start(const struct mg_bigread_io *io, const char *path,
		     uint64_t off, uint64_t end, uint64_t size, uint32_t mtime,
		     struct mg_bigread **out);
/* As a connector's read: *got = 0 and 0 at the end of the file or range. */
int mg_bigread_read(struct mg_bigread *b, void *buf, size_t len, size_t *got);
const char *mg_bigread_why(const struct mg_bigread *b);
uint32_t mg_bigread_code(const struct mg_bigread *b);
/* session_ok 0: the session is lost or gone, and frees the channel itself
 * (libssh2_session_free); the channel is not touched.  NULL is fine. */
void mg_bigread_close(struct mg_bigread *b, int session_ok);

#endif
