/*
 * sftp_fxp.h - the few SFTP v3 messages a large read speaks on its own
 * channel (sftp_bigread.c): the requests it builds and a strict parser of
 * the server's answers (draft-ietf-secsh-filexfer-02).
 *
 * The parser is a pure function of the bytes received so far: it never
 * reads past them, and every length the server sends is checked against
 * the packet that carries it, so a hostile or broken server gets an error
 * with a reason, never an overflow.
 */
#ifndef MG_SFTP_FXP_H
#define MG_SFTP_FXP_H

#include <stddef.h>
#include <stdint.h>

enum {
	MG_FXP_INIT = 1, MG_FXP_VERSION = 2, MG_FXP_OPEN = 3, MG_FXP_CLOSE = 4,
	MG_FXP_READ = 5, MG_FXP_FSTAT = 8, MG_FXP_STATUS = 101,
	MG_FXP_HANDLE = 102, MG_FXP_DATA = 103, MG_FXP_ATTRS = 105
};
#define MG_FX_OK	0u
#define MG_FX_EOF	1u
/* A handle is at most 256 bytes (draft-02 section 6.2). */
#define MG_FXP_HANDLE_MAX	256u
/* The largest answer accepted: OpenSSH's sftp-server sends at most
 * 256 KiB (SFTP_MAX_MSG_LENGTH); a little more for other servers' status
 * texts and attributes. */
#define MG_FXP_PACKET_MAX	((uint32_t)264 * 1024)

struct mg_fxp_msg {
	unsigned type;
	uint32_t id;		/* every type but VERSION */
	uint32_t version;	/* VERSION */
	uint32_t code;		/* STATUS */
	const unsigned char *data;	/* DATA: the bytes; HANDLE: the handle */
	uint32_t len;
	int has_size, has_mtime;	/* ATTRS */
	uint64_t size;
	uint32_t mtime;
};

/* The outcome of mg_fxp_parse: a whole message, or more bytes needed (at
 * least *need in all), or a malformed one (*why says what is wrong). */
#define MG_FXP_MORE	0
#define MG_FXP_MSG	1
#define MG_FXP_BAD	(-1)

/* Parses the message at the start of buf (len bytes received so far).
 * MG_FXP_MSG: *m is filled (its pointers point into buf) and *need is the
 * message's whole size, length field included; MG_FXP_MORE: *need is the
 * size to wait for; MG_FXP_BAD: *why is set. */
int mg_fxp_parse(const unsigned char *buf, size_t len, struct mg_fxp_msg *m,
		 size_t *need, const char **why);

/* Request builders: each writes one whole packet into out (room for
 * outlen bytes) and returns its size, or 0 when it does not fit. */
size_t mg_fxp_init(unsigned char *out, size_t outlen);
size_t mg_fxp_open(unsigned char *out, size_t outlen, uint32_t id,
		   const char *path, size_t pathlen);
size_t mg_fxp_handle_req(unsigned char *out, size_t outlen, unsigned type,
			 uint32_t id, const unsigned char *h, uint32_t hlen);
size_t mg_fxp_read(unsigned char *out, size_t outlen, uint32_t id,
		   const unsigned char *h, uint32_t hlen, uint64_t off, uint32_t n);

#endif
