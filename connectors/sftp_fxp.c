/*
 * sftp_fxp.c - SFTP v3 requests and a strict parser of the answers a large
 * read needs (sftp_fxp.h).  No I/O here: sftp_bigread.c moves the bytes,
 * tests/unit/test_sftp_fxp.c feeds crafted ones.
 */
#include "config.h"

#include <string.h>

#include "sftp_fxp.h"

/* attribute flags of draft-02 section 5 */
#define ATTR_SIZE	0x00000001u
#define ATTR_UIDGID	0x00000002u
#define ATTR_PERMS	0x00000004u
#define ATTR_TIMES	0x00000008u
#define ATTR_EXT	0x80000000u

/* A cursor over one message's bytes: every take checks what is left. */
struct cur {
	const unsigned char *p;
	size_t left;
};

static int take_u32(struct cur *c, uint32_t *v)
{
	if (c->left < 4)
		return -1;
	*v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 |
	     (uint32_t)c->p[2] << 8 | c->p[3];
	c->p += 4;
	c->left -= 4;
	return 0;
}

static int take_u64(struct cur *c, uint64_t *v)
{
	uint32_t hi, lo;

	if (take_u32(c, &hi) || take_u32(c, &lo))
		return -1;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

/* A string: its length first, then that many bytes, all inside the message. */
static int take_str(struct cur *c, const unsigned char **s, uint32_t *n)
{
	if (take_u32(c, n) || *n > c->left)
		return -1;
	*s = c->p;
	c->p += *n;
	c->left -= *n;
	return 0;
}

static int take_attrs(struct cur *c, struct mg_fxp_msg *m, const char **why)
{
	uint32_t flags, v, count;
	const unsigned char *s;

	if (take_u32(c, &flags))
		return *why = "attributes cut short", -1;
	if (flags & ~(ATTR_SIZE | ATTR_UIDGID | ATTR_PERMS | ATTR_TIMES | ATTR_EXT))
		return *why = "attributes with flags sftp version 3 does not have", -1;
	if (flags & ATTR_SIZE) {
		if (take_u64(c, &m->size))
			return *why = "attributes cut short", -1;
		m->has_size = 1;
	}
	if ((flags & ATTR_UIDGID) && (take_u32(c, &v) || take_u32(c, &v)))
		return *why = "attributes cut short", -1;
	if ((flags & ATTR_PERMS) && take_u32(c, &v))
		return *why = "attributes cut short", -1;
	if (flags & ATTR_TIMES) {
		if (take_u32(c, &v) || take_u32(c, &m->mtime))
			return *why = "attributes cut short", -1;
		m->has_mtime = 1;
	}
	if (flags & ATTR_EXT) {
		if (take_u32(c, &count))
			return *why = "attributes cut short", -1;
		/* each pair takes 8 bytes at least: a count beyond that is a lie */
		if (count > c->left / 8)
			return *why = "more extended attributes than bytes", -1;
		while (count--)
			if (take_str(c, &s, &v) || take_str(c, &s, &v))
				return *why = "an extended attribute runs past the message", -1;
	}
	return 0;
}

int mg_fxp_parse(const unsigned char *buf, size_t len, struct mg_fxp_msg *m,
		 size_t *need, const char **why)
{
	struct cur c = { buf, len };
	uint32_t plen, v;
	const unsigned char *s;

	memset(m, 0, sizeof(*m));
	*why = NULL;
	*need = 4;
	if (take_u32(&c, &plen))
		return MG_FXP_MORE;
	/* type and a 32-bit field (id, or VERSION's version) at least */
	if (plen < 5)
		return *why = "a message shorter than its header", MG_FXP_BAD;
	if (plen > MG_FXP_PACKET_MAX)
		return *why = "a message longer than 264 KiB", MG_FXP_BAD;
	*need = 4 + (size_t)plen;
	if (len < *need)
		return MG_FXP_MORE;
	c.left = plen;		/* from here on, only this message */
	m->type = *c.p++;
	c.left--;
	if (m->type == MG_FXP_VERSION) {
		take_u32(&c, &m->version);
		/* extensions: name and data pairs, checked and skipped */
		while (c.left)
			if (take_str(&c, &s, &v) || take_str(&c, &s, &v))
				return *why = "a version extension runs past the message", MG_FXP_BAD;
		return MG_FXP_MSG;
	}
	take_u32(&c, &m->id);
	switch (m->type) {
	case MG_FXP_STATUS:
		if (take_u32(&c, &m->code))
			return *why = "a status without its code", MG_FXP_BAD;
		/* message and language tag: absent from some servers' answers,
		 * but when there they must fit */
		if (c.left && (take_str(&c, &s, &v) || take_str(&c, &s, &v)))
			return *why = "a status text runs past the message", MG_FXP_BAD;
		break;
	case MG_FXP_HANDLE:
		if (take_str(&c, &m->data, &m->len))
			return *why = "a handle runs past the message", MG_FXP_BAD;
		if (m->len == 0 || m->len > MG_FXP_HANDLE_MAX)
			return *why = "a handle of 0 or more than 256 bytes", MG_FXP_BAD;
		break;
	case MG_FXP_DATA:
		if (take_str(&c, &m->data, &m->len))
			return *why = "data longer than the message that carries it", MG_FXP_BAD;
		/* later versions add an end-of-file flag: one byte, ignored */
		if (c.left > 1)
			return *why = "bytes after the data", MG_FXP_BAD;
		c.left = 0;
		break;
	case MG_FXP_ATTRS:
		if (take_attrs(&c, m, why))
			return MG_FXP_BAD;
		break;
	default:
		return *why = "a message of a type never asked for", MG_FXP_BAD;
	}
	if (c.left)
		return *why = "bytes after the end of the message", MG_FXP_BAD;
	return MG_FXP_MSG;
}

/* ------------------------------------------------------------------ */
/* Requests */

static unsigned char *put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
	return p + 4;
}

static unsigned char *put_str(unsigned char *p, const void *s, uint32_t n)
{
	p = put_u32(p, n);
	memcpy(p, s, n);
	return p + n;
}

/* The length field and the type of a packet of size total. */
static unsigned char *put_head(unsigned char *p, size_t total, unsigned type)
{
	p = put_u32(p, (uint32_t)(total - 4));
	*p++ = (unsigned char)type;
	return p;
}

size_t mg_fxp_init(unsigned char *out, size_t outlen)
{
	if (outlen < 9)
		return 0;
	put_u32(put_head(out, 9, MG_FXP_INIT), 3);
	return 9;
}

size_t mg_fxp_open(unsigned char *out, size_t outlen, uint32_t id,
		   const char *path, size_t pathlen)
{
	/* id, path, pflags READ, attrs with no flags */
	size_t total = 4 + 1 + 4 + 4 + pathlen + 4 + 4;
	unsigned char *p;

	if (pathlen > UINT32_MAX - 64 || total > outlen)
		return 0;
	p = put_head(out, total, MG_FXP_OPEN);
	p = put_u32(p, id);
	p = put_str(p, path, (uint32_t)pathlen);
	p = put_u32(p, 1);	/* SSH_FXF_READ */
	put_u32(p, 0);
	return total;
}

size_t mg_fxp_handle_req(unsigned char *out, size_t outlen, unsigned type,
			 uint32_t id, const unsigned char *h, uint32_t hlen)
{
	size_t total = 4 + 1 + 4 + 4 + (size_t)hlen;
	unsigned char *p;

	if (hlen > MG_FXP_HANDLE_MAX || total > outlen)
		return 0;
	p = put_head(out, total, type);
	p = put_u32(p, id);
	put_str(p, h, hlen);
	return total;
}

size_t mg_fxp_read(unsigned char *out, size_t outlen, uint32_t id,
		   const unsigned char *h, uint32_t hlen, uint64_t off, uint32_t n)
{
	size_t total = 4 + 1 + 4 + 4 + (size_t)hlen + 8 + 4;
	unsigned char *p;

	if (hlen > MG_FXP_HANDLE_MAX || total > outlen)
		return 0;
	p = put_head(out, total, MG_FXP_READ);
	p = put_u32(p, id);
	p = put_str(p, h, hlen);
	p = put_u32(p, (uint32_t)(off >> 32));
	p = put_u32(p, (uint32_t)off);
	put_u32(p, n);
	return total;
}
