/*
 * sftp_bigread.c - one large read on an SFTP channel of its own
 * (sftp_bigread.h).
 *
 * Requests of BIG_REQ bytes go out BIG_DEPTH at a time, in order; answers
 * are handed out in order.  An answer to a later request that comes first
 * is kept aside (servers may answer out of order).  A short DATA answer is
 * not the end: the rest is asked for again, and later requests shrink to
 * what the server gives.  Only STATUS "end of file" ends a read to the end
 * of the file.  Requests go as far as the size fstat showed; then one at a
 * time, to learn the end (or that the file grew: the engine judges that).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"
#include "sftp_bigread.h"
#include "sftp_fxp.h"

/* OpenSSH's sftp-server answers at most 255 KiB a read (its
 * SFTP_MAX_READ_LENGTH), and OpenSSH's sftp asks for that much. */
#define BIG_REQ		((uint32_t)255 * 1024)
/* Requests in flight: 8 x 255 KiB, about the 2 MiB channel window both
 * OpenSSH's sftp and libssh2 use; the window is twice that, so the server
 * never waits for an adjust while 2 MiB are asked for. */
#define BIG_DEPTH	8
#define BIG_WINDOW	((unsigned)(4u << 20))
/* Empty DATA answers in a row before giving up on a server that sends
 * nothing and never says end of file. */
#define BIG_EMPTY_MAX	4

struct big_req {
	uint32_t id;
	uint64_t off;
	uint32_t len;
	unsigned char *kept;	/* an answer that came before its turn */
	size_t keptlen;
};

struct mg_bigread {
	LIBSSH2_CHANNEL *ch;	/* NULL under a test's io */
	struct mg_bigread_io io;
	unsigned char h[MG_FXP_HANDLE_MAX];
	uint32_t hlen;
	uint64_t pos;		/* next byte to hand out */
	uint64_t next;		/* next offset to ask for */
	uint64_t end;		/* of the range; UINT64_MAX: the file's end */
	uint64_t size;		/* at open */
	uint32_t req;		/* request size, lowered by short answers */
	uint32_t nextid;
	struct big_req q[BIG_DEPTH];
	unsigned qhead, qn;
	unsigned char *rb;	/* one whole answer */
	size_t rlen;
	const unsigned char *cur;	/* DATA being handed out, in rb */
	size_t curlen;
	int eof, empty;
	uint32_t code;
	char why[160];
};

static int proto(struct mg_bigread *b, const char *fmt, const char *what)
{
	snprintf(b->why, sizeof(b->why), fmt, what);
	return MG_BIG_PROTO;
}

static int send_all(struct mg_bigread *b, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = b->io.write(b->io.ctx, p, n);

		if (w < 0)
			return (int)w;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One whole message into rb, read exactly to its end (so rb holds one). */
static int recv_msg(struct mg_bigread *b, struct mg_fxp_msg *m)
{
	const char *why;
	size_t need;
	int rc;

	b->rlen = 0;
	for (;;) {
		ssize_t n;

		rc = mg_fxp_parse(b->rb, b->rlen, m, &need, &why);
		if (rc == MG_FXP_MSG)
			return 0;
		if (rc == MG_FXP_BAD)
			return proto(b, "the server sent %s", why);
		n = b->io.read(b->io.ctx, b->rb + b->rlen, need - b->rlen);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return proto(b, "%s", "the server closed the sftp channel mid-read");
		b->rlen += (size_t)n;
	}
}

/* The answer to request id, which must be of one of the types wanted. */
static int recv_reply(struct mg_bigread *b, uint32_t id, struct mg_fxp_msg *m,
		      unsigned want1, unsigned want2)
{
	int rc = recv_msg(b, m);

	if (rc)
		return rc;
	if (m->type == MG_FXP_VERSION || m->id != id)
		return proto(b, "%s", "the server answered a request never sent");
	if (m->type != want1 && m->type != want2)
		return proto(b, "%s", "the server answered with the wrong kind of message");
	return 0;
}

static int send_read(struct mg_bigread *b, struct big_req *r)
{
	unsigned char pkt[64 + MG_FXP_HANDLE_MAX];
	size_t n;

	r->id = b->nextid++;
	n = mg_fxp_read(pkt, sizeof(pkt), r->id, b->h, b->hlen, r->off, r->len);
	return send_all(b, pkt, n);
}

/* Tops up the requests in flight. */
static int issue(struct mg_bigread *b)
{
	uint64_t limit = b->end != UINT64_MAX ? b->end : b->size;

	while (b->qn < BIG_DEPTH && !b->eof) {
		struct big_req *r = &b->q[(b->qhead + b->qn) % BIG_DEPTH];
		uint64_t n = b->req;
		int rc;

		if (b->next < limit) {
			if (limit - b->next < n)
				n = limit - b->next;
		} else if (b->end != UINT64_MAX || b->qn) {
			break;	/* the range is asked for; or a probe is out */
		}
		memset(r, 0, sizeof(*r));
		r->off = b->next;
		r->len = (uint32_t)n;
		rc = send_read(b, r);
		if (rc)
			return rc;
		b->next += n;
		b->qn++;
	}
	return 0;
}

static struct big_req *find_req(struct mg_bigread *b, uint32_t id)
{
	for (unsigned i = 0; i < b->qn; i++) {
		struct big_req *r = &b->q[(b->qhead + i) % BIG_DEPTH];

		if (r->id == id)
			return r;
	}
	return NULL;
}

/* The answer to the oldest request, into rb; later ones are kept aside. */
static int head_answer(struct mg_bigread *b, struct mg_fxp_msg *m)
{
	struct big_req *head = &b->q[b->qhead];
	const char *why;
	size_t need;

	if (head->kept) {
		memcpy(b->rb, head->kept, head->keptlen);
		b->rlen = head->keptlen;
		free(head->kept);
		head->kept = NULL;
		mg_fxp_parse(b->rb, b->rlen, m, &need, &why);	/* parsed once already */
		return 0;
	}
	for (;;) {
		struct big_req *r;
		int rc = recv_msg(b, m);

		if (rc)
			return rc;
		if (m->type != MG_FXP_DATA && m->type != MG_FXP_STATUS)
			return proto(b, "%s", "the server answered a read with the wrong kind of message");
		r = find_req(b, m->id);
		if (!r || r->kept)
			return proto(b, "%s", "the server answered a read never sent (or twice)");
		if (r == head)
			return 0;
		r->kept = mg_malloc(b->rlen);
		memcpy(r->kept, b->rb, b->rlen);
		r->keptlen = b->rlen;
	}
}

static void pop_head(struct mg_bigread *b)
{
	free(b->q[b->qhead].kept);
	b->q[b->qhead].kept = NULL;
	b->qhead = (b->qhead + 1) % BIG_DEPTH;
	b->qn--;
}

int mg_bigread_read(struct mg_bigread *b, void *buf, size_t len, size_t *got)
{
	*got = 0;
	for (;;) {
		struct big_req *head;
		struct mg_fxp_msg m;
		uint64_t at;
		int rc;

		if (b->curlen) {
			size_t n = b->curlen < len ? b->curlen : len;

			memcpy(buf, b->cur, n);
			b->cur += n;
			b->curlen -= n;
			b->pos += n;
			*got = n;
			return 0;
		}
		if (b->eof || (b->end != UINT64_MAX && b->pos >= b->end))
			return 0;
		rc = issue(b);
		if (rc)
			return rc;
		if (!b->qn)
			return 0;
		head = &b->q[b->qhead];
		rc = head_answer(b, &m);
		if (rc)
			return rc;
		if (m.type == MG_FXP_STATUS) {
			if (m.code != MG_FX_EOF) {
				b->code = m.code;
				return MG_BIG_STATUS;
			}
			at = head->off;
			b->eof = 1;
			pop_head(b);
			/* short of the size fstat showed: it shrank meanwhile */
			if (at < b->size && at < b->end) {
				snprintf(b->why, sizeof(b->why),
					 "it ended at byte %llu, short of the %llu bytes it had",
					 (unsigned long long)at, (unsigned long long)b->size);
				return MG_BIG_CHANGED;
			}
			continue;
		}
		if (m.len > head->len)
			return proto(b, "%s", "the server sent more data than was asked for");
		if (m.len == 0) {
			if (++b->empty > BIG_EMPTY_MAX)
				return proto(b, "%s", "the server sent empty data again and again");
		} else {
			b->empty = 0;
		}
		b->cur = m.data;
		b->curlen = m.len;
		if (m.len < head->len) {
			/* a short answer: ask again for the rest, in its turn */
			head->off += m.len;
			head->len -= m.len;
			if (m.len && m.len < b->req)
				b->req = m.len;
			rc = send_read(b, head);
			if (rc)
				return rc;
		} else {
			pop_head(b);
		}
	}
}

static ssize_t chan_read(void *ctx, unsigned char *buf, size_t n)
{
	return libssh2_channel_read(ctx, (char *)buf, n);
}

static ssize_t chan_write(void *ctx, const unsigned char *buf, size_t n)
{
	return libssh2_channel_write(ctx, (const char *)buf, n);
}

static struct mg_bigread *big_new(uint64_t off, uint64_t end, uint64_t size)
{
	struct mg_bigread *b = mg_calloc(1, sizeof(*b));

	b->pos = b->next = off;
	b->end = end;
	b->size = size;
	b->req = BIG_REQ;
	b->nextid = 1;
	b->rb = mg_malloc(4 + (size_t)MG_FXP_PACKET_MAX);
	return b;
}

/* One request and its answer, of type want; a status is MG_BIG_STATUS. */
static int ask(struct mg_bigread *b, const unsigned char *pkt, size_t n,
	       uint32_t id, unsigned want, struct mg_fxp_msg *m)
{
	int rc = send_all(b, pkt, n);

	if (!rc)
		rc = recv_reply(b, id, m, want, MG_FXP_STATUS);
	if (rc)
		return rc;
	if (m->type == MG_FXP_STATUS) {
		b->code = m->code;
		return MG_BIG_STATUS;
	}
	return 0;
}

/* INIT, OPEN and FSTAT: the handle, and that it is the file sized. */
static int big_handshake(struct mg_bigread *b, const char *path, uint32_t mtime)
{
	unsigned char pkt[64 + MG_FXP_HANDLE_MAX];
	size_t plen = strlen(path), n;
	unsigned char *open_pkt;
	struct mg_fxp_msg m;
	uint32_t id;
	int rc;

	rc = send_all(b, pkt, mg_fxp_init(pkt, sizeof(pkt)));
	if (!rc)
		rc = recv_msg(b, &m);
	if (rc)
		return rc;
	if (m.type != MG_FXP_VERSION || m.version != 3)
		return proto(b, "%s", "the server did not answer sftp version 3");

	id = b->nextid++;
	open_pkt = mg_malloc(plen + 64);
	n = mg_fxp_open(open_pkt, plen + 64, id, path, plen);
	rc = n ? ask(b, open_pkt, n, id, MG_FXP_HANDLE, &m)
	       : proto(b, "%s", "the path is too long");
	free(open_pkt);
	if (rc)
		return rc;
	memcpy(b->h, m.data, m.len);
	b->hlen = m.len;

	id = b->nextid++;
	n = mg_fxp_handle_req(pkt, sizeof(pkt), MG_FXP_FSTAT, id, b->h, b->hlen);
	rc = ask(b, pkt, n, id, MG_FXP_ATTRS, &m);
	if (rc)
		return rc;
	if ((m.has_size && m.size != b->size) || (m.has_mtime && m.mtime != mtime)) {
		snprintf(b->why, sizeof(b->why), "%s",
			 "it changed between two opens a moment apart");
		return MG_BIG_CHANGED;
	}
	return 0;
}

int mg_bigread_start(const struct mg_bigread_io *io, const char *path,
		     uint64_t off, uint64_t end, uint64_t size, uint32_t mtime,
		     struct mg_bigread **out)
{
	struct mg_bigread *b = big_new(off, end, size);

	*out = b;
	b->io = *io;
	return big_handshake(b, path, mtime);
}

int mg_bigread_open(LIBSSH2_SESSION *ssh, const char *path, uint64_t off,
		    uint64_t end, uint64_t size, uint32_t mtime,
		    struct mg_bigread **out)
{
	struct mg_bigread *b = big_new(off, end, size);
	int rc;

	*out = b;
	b->ch = libssh2_channel_open_ex(ssh, "session", sizeof("session") - 1,
					BIG_WINDOW, LIBSSH2_CHANNEL_PACKET_DEFAULT, NULL, 0);
	if (!b->ch) {
		rc = libssh2_session_last_errno(ssh);
		return rc ? rc : LIBSSH2_ERROR_CHANNEL_FAILURE;
	}
	b->io.read = chan_read;
	b->io.write = chan_write;
	b->io.ctx = b->ch;
	/* the server's stderr would fill the window unread */
	libssh2_channel_handle_extended_data2(b->ch, LIBSSH2_CHANNEL_EXTENDED_DATA_IGNORE);
	rc = libssh2_channel_subsystem(b->ch, "sftp");
	if (rc)
		return rc;
	return big_handshake(b, path, mtime);
}

const char *mg_bigread_why(const struct mg_bigread *b)
{
	return b->why;
}

uint32_t mg_bigread_code(const struct mg_bigread *b)
{
	return b->code;
}

void mg_bigread_close(struct mg_bigread *b, int session_ok)
{
	if (!b)
		return;
	if (b->ch && session_ok) {
		/* Nothing in flight: close the handle politely (one round
		 * trip).  Otherwise closing the channel ends the server's
		 * sftp process, and its handle with it. */
		if (b->hlen && !b->qn && !b->why[0]) {
			unsigned char pkt[64 + MG_FXP_HANDLE_MAX];
			struct mg_fxp_msg m;
			uint32_t id = b->nextid++;

			if (!send_all(b, pkt, mg_fxp_handle_req(pkt, sizeof(pkt),
								MG_FXP_CLOSE, id,
								b->h, b->hlen)))
				recv_reply(b, id, &m, MG_FXP_STATUS, MG_FXP_STATUS);
		}
		libssh2_channel_close(b->ch);
		libssh2_channel_free(b->ch);
	}
	for (unsigned i = 0; i < b->qn; i++)
		free(b->q[(b->qhead + i) % BIG_DEPTH].kept);
	free(b->rb);
	free(b);
}
