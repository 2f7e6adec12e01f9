/*
 * test_sftp_fxp.c - the SFTP answers a large read parses (sftp_fxp.c) and
 * the read itself (sftp_bigread.c) against crafted servers: every length
 * checked against the packet that carries it, short DATA asked for again,
 * answers out of order put back in order, and a clear error for a wrong
 * request id, DATA longer than asked, a file that shrank or was replaced,
 * a channel closed mid-read, a server not speaking version 3.  The channel
 * is a script: what the "server" says, handed out a few bytes at a time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sftp_bigread.h"
#include "sftp_fxp.h"

#define REQ ((uint32_t)255 * 1024)

struct script {
	unsigned char *in;	/* what the server says */
	size_t inlen, inpos, chunk;
	unsigned char out[1 << 14];	/* what the client sent */
	size_t outlen;
	size_t mark;		/* start of the message being built */
};

static ssize_t s_read(void *ctx, unsigned char *buf, size_t n)
{
	struct script *s = ctx;
	size_t left = s->inlen - s->inpos;

	if (n > left)
		n = left;
	if (n > s->chunk)
		n = s->chunk;
	memcpy(buf, s->in + s->inpos, n);
	s->inpos += n;
	return (ssize_t)n;
}

static ssize_t s_write(void *ctx, const unsigned char *buf, size_t n)
{
	struct script *s = ctx;

	assert_true(s->outlen + n <= sizeof(s->out));
	memcpy(s->out + s->outlen, buf, n);
	s->outlen += n;
	return (ssize_t)n;
}

static void put(struct script *s, const void *p, size_t n)
{
	memcpy(s->in + s->inlen, p, n);
	s->inlen += n;
}

static void u32(struct script *s, uint32_t v)
{
	unsigned char b[4] = { v >> 24, v >> 16, v >> 8, v };

	put(s, b, 4);
}

static void begin(struct script *s, unsigned type, uint32_t id)
{
	unsigned char t = (unsigned char)type;

	s->mark = s->inlen;
	u32(s, 0);
	put(s, &t, 1);
	u32(s, id);
}

static void end(struct script *s)
{
	uint32_t len = (uint32_t)(s->inlen - s->mark - 4);
	unsigned char *p = s->in + s->mark;

	p[0] = len >> 24, p[1] = len >> 16, p[2] = len >> 8, p[3] = len;
}

static unsigned char pattern(uint64_t off)
{
	return (unsigned char)(off * 7 + 3);
}

static void data(struct script *s, uint32_t id, uint64_t off, uint32_t n)
{
	begin(s, MG_FXP_DATA, id);
	u32(s, n);
	for (uint32_t i = 0; i < n; i++) {
		unsigned char c = pattern(off + i);

		put(s, &c, 1);
	}
	end(s);
}

static void status(struct script *s, uint32_t id, uint32_t code)
{
	begin(s, MG_FXP_STATUS, id);
	u32(s, code);
	u32(s, 3);
	put(s, "eof", 3);
	u32(s, 0);
	end(s);
}

/* VERSION 3, a HANDLE (id 1) and the ATTRS of FSTAT (id 2) */
static struct script *server(uint64_t size, uint32_t mtime)
{
	struct script *s = calloc(1, sizeof(*s));

	s->in = malloc(4u << 20);
	s->chunk = 7;
	begin(s, MG_FXP_VERSION, 3);
	u32(s, 17);
	put(s, "limits@openssh.com", 17);
	u32(s, 1);
	put(s, "1", 1);
	end(s);
	begin(s, MG_FXP_HANDLE, 1);
	u32(s, 2);
	put(s, "h1", 2);
	end(s);
	begin(s, MG_FXP_ATTRS, 2);
	u32(s, 0x1 | 0x4 | 0x8);
	u32(s, (uint32_t)(size >> 32));
	u32(s, (uint32_t)size);
	u32(s, 0100644);
	u32(s, 1);
	u32(s, mtime);
	end(s);
	return s;
}

static void script_free(struct script *s)
{
	free(s->in);
	free(s);
}

static int start(struct script *s, uint64_t size, struct mg_bigread **b)
{
	struct mg_bigread_io io = { s_read, s_write, s };

	return mg_bigread_start(&io, "/d/f", 0, UINT64_MAX, size, 42, b);
}

/* Reads everything; returns the outcome, *total the bytes, all checked
 * against the pattern. */
static int read_all(struct mg_bigread *b, uint64_t *total)
{
	static unsigned char buf[100000];
	size_t got;
	int rc;

	*total = 0;
	for (;;) {
		rc = mg_bigread_read(b, buf, sizeof(buf), &got);
		if (rc || !got)
			return rc;
		for (size_t i = 0; i < got; i++)
			assert_int_equal(buf[i], pattern(*total + i));
		*total += got;
	}
}

/* The n-th READ the client sent (0 first): its id, offset and length. */
static int nth_read(const struct script *s, int n, uint32_t *id, uint64_t *off,
		    uint32_t *len)
{
	size_t p = 0;

	while (p + 5 <= s->outlen) {
		const unsigned char *m = s->out + p;
		uint32_t plen = (uint32_t)m[0] << 24 | m[1] << 16 | m[2] << 8 | m[3];

		if (m[4] == MG_FXP_READ && n-- == 0) {
			uint32_t hl = (uint32_t)m[9] << 24 | m[10] << 16 | m[11] << 8 | m[12];
			const unsigned char *q = m + 13 + hl;

			*id = (uint32_t)m[5] << 24 | m[6] << 16 | m[7] << 8 | m[8];
			*off = (uint64_t)q[0] << 56 | (uint64_t)q[1] << 48 |
			       (uint64_t)q[2] << 40 | (uint64_t)q[3] << 32 |
			       (uint64_t)q[4] << 24 | q[5] << 16 | q[6] << 8 | q[7];
			*len = (uint32_t)q[8] << 24 | q[9] << 16 | q[10] << 8 | q[11];
			return 1;
		}
		p += 4 + plen;
	}
	return 0;
}

/* Reads the whole file of size bytes the script serves, every byte checked;
 * what the client sent stays in s->out. */
static void read_whole(struct script *s, uint64_t size)
{
	struct mg_bigread *b;
	uint64_t total;

	assert_int_equal(start(s, size, &b), 0);
	assert_int_equal(read_all(b, &total), 0);
	assert_int_equal(total, size);
	mg_bigread_close(b, 1);
}

static void test_whole_file(void **state)
{
	struct script *s = server(1000, 42);
	uint64_t off;
	uint32_t id, len;

	(void)state;
	data(s, 3, 0, 1000);
	status(s, 4, MG_FX_EOF);	/* the read that learns the end */
	read_whole(s, 1000);
	assert_true(nth_read(s, 1, &id, &off, &len));
	assert_int_equal(off, 1000);
	script_free(s);
}

/* Two requests in flight of 255 KiB each: the answers come reversed */
static void test_out_of_order(void **state)
{
	uint64_t size = REQ + 5000, off;
	struct script *s = server(size, 42);
	uint32_t id, len;

	(void)state;
	s->chunk = 65536;
	data(s, 4, REQ, 5000);
	data(s, 3, 0, REQ);
	status(s, 5, MG_FX_EOF);
	read_whole(s, size);
	assert_true(nth_read(s, 0, &id, &off, &len));
	assert_int_equal(len, REQ);
	script_free(s);
}

/* A short answer is not the end: the rest is asked for again */
static void test_short_data(void **state)
{
	struct script *s = server(1000, 42);
	uint64_t off;
	uint32_t id, len;

	(void)state;
	data(s, 3, 0, 400);
	data(s, 4, 400, 600);
	status(s, 5, MG_FX_EOF);
	read_whole(s, 1000);
	assert_true(nth_read(s, 1, &id, &off, &len));
	assert_int_equal(id, 4);
	assert_int_equal(off, 400);
	assert_int_equal(len, 600);
	script_free(s);
}

/* Each case: the file's size, what the server says after the handshake,
 * the outcome expected and a word of the reason. */
static void expect_bad(uint64_t size, void (*say)(struct script *), int want,
		       const char *why)
{
	struct script *s = server(size, 42);
	struct mg_bigread *b;
	uint64_t total;
	int rc;

	say(s);
	rc = start(s, size, &b);
	if (rc == 0)
		rc = read_all(b, &total);
	assert_int_equal(rc, want);
	if (why && !strstr(mg_bigread_why(b), why))
		fail_msg("'%s' does not say '%s'", mg_bigread_why(b), why);
	mg_bigread_close(b, 1);
	script_free(s);
}

static void say_wrong_id(struct script *s) { data(s, 99, 0, 1000); }
static void say_too_long(struct script *s) { data(s, 3, 0, 1001); }
static void say_shrank(struct script *s) { data(s, 3, 0, 10); status(s, 4, MG_FX_EOF); }
static void say_denied(struct script *s) { status(s, 3, 3); }
static void say_nothing(struct script *s) { data(s, 3, 0, 500); }
static void say_empty(struct script *s)
{
	for (int i = 0; i < 10; i++)
		data(s, 3 + (uint32_t)i, 0, 0);
}
static void say_data_past_packet(struct script *s)
{
	begin(s, MG_FXP_DATA, 3);
	u32(s, 4000);		/* claims 4000 bytes, carries 10 */
	put(s, "0123456789", 10);
	end(s);
}
static void say_huge_packet(struct script *s) { u32(s, 0x7fffffff); }
static void say_status_past(struct script *s)
{
	begin(s, MG_FXP_STATUS, 3);
	u32(s, 1);
	u32(s, 1000);		/* a text longer than the message */
	put(s, "eof", 3);
	end(s);
}

static void test_hostile(void **state)
{
	(void)state;
	expect_bad(1000, say_wrong_id, MG_BIG_PROTO, "never sent");
	expect_bad(1000, say_too_long, MG_BIG_PROTO, "more data than was asked");
	expect_bad(1000, say_shrank, MG_BIG_CHANGED, "ended at byte 10");
	expect_bad(1000, say_denied, MG_BIG_STATUS, NULL);
	expect_bad(1000, say_nothing, MG_BIG_PROTO, "closed");
	expect_bad(1000, say_empty, MG_BIG_PROTO, "empty data");
	expect_bad(1000, say_data_past_packet, MG_BIG_PROTO, "longer than the message");
	expect_bad(1000, say_huge_packet, MG_BIG_PROTO, "longer than 264 KiB");
	expect_bad(1000, say_status_past, MG_BIG_PROTO, "status text");
}

/* the handshake: a replaced file, an old protocol */
static void test_open_checks(void **state)
{
	struct script *s = server(999, 42);	/* fstat says 999, libssh2 said 1000 */
	struct mg_bigread *b;

	(void)state;
	assert_int_equal(start(s, 1000, &b), MG_BIG_CHANGED);
	mg_bigread_close(b, 1);
	script_free(s);

	s = server(1000, 42);
	s->in[8] = 2;		/* VERSION 2 */
	assert_int_equal(start(s, 1000, &b), MG_BIG_PROTO);
	assert_non_null(strstr(mg_bigread_why(b), "version 3"));
	mg_bigread_close(b, 1);
	script_free(s);
}

/* The parser alone, on every edge of a length. */
static void test_parse(void **state)
{
	static const unsigned char handle_257[] = { 0, 0, 1, 10, 102, 0, 0, 0, 1, 0, 0, 1, 1 };
	static const unsigned char handle_past[] = { 0, 0, 0, 11, 102, 0, 0, 0, 1, 0, 0, 0, 3, 'h', 'h' };
	static const unsigned char short_hdr[] = { 0, 0, 0, 4, 103, 0, 0, 0 };
	static const unsigned char data_ok[] = { 0, 0, 0, 11, 103, 0, 0, 0, 9, 0, 0, 0, 2, 'a', 'b' };
	static const unsigned char data_tail[] = { 0, 0, 0, 13, 103, 0, 0, 0, 9, 0, 0, 0, 2, 'a', 'b', 1, 1 };
	static const unsigned char attrs_flag[] = { 0, 0, 0, 9, 105, 0, 0, 0, 1, 0, 0, 0, 0x10 };
	static const unsigned char attrs_ext[] = { 0, 0, 0, 13, 105, 0, 0, 0, 1, 0x80, 0, 0, 0, 0, 0, 0, 9 };
	static const unsigned char type_unknown[] = { 0, 0, 0, 5, 104, 0, 0, 0, 1 };
	struct mg_fxp_msg m;
	const char *why;
	size_t need;

	(void)state;
	assert_int_equal(mg_fxp_parse(data_ok, 3, &m, &need, &why), MG_FXP_MORE);
	assert_int_equal(need, 4);
	assert_int_equal(mg_fxp_parse(data_ok, 10, &m, &need, &why), MG_FXP_MORE);
	assert_int_equal(need, sizeof(data_ok));
	assert_int_equal(mg_fxp_parse(data_ok, sizeof(data_ok), &m, &need, &why), MG_FXP_MSG);
	assert_int_equal(m.type, MG_FXP_DATA);
	assert_int_equal(m.id, 9);
	assert_int_equal(m.len, 2);
	assert_memory_equal(m.data, "ab", 2);
	assert_int_equal(mg_fxp_parse(data_tail, sizeof(data_tail), &m, &need, &why), MG_FXP_BAD);
	assert_int_equal(mg_fxp_parse(short_hdr, sizeof(short_hdr), &m, &need, &why), MG_FXP_BAD);
	assert_int_equal(mg_fxp_parse(handle_257, sizeof(handle_257), &m, &need, &why), MG_FXP_MORE);
	{
		unsigned char big[4 + 266];

		memset(big, 0, sizeof(big));
		memcpy(big, handle_257, sizeof(handle_257));
		assert_int_equal(mg_fxp_parse(big, sizeof(big), &m, &need, &why), MG_FXP_BAD);
		assert_non_null(strstr(why, "256"));
	}
	assert_int_equal(mg_fxp_parse(handle_past, sizeof(handle_past), &m, &need, &why), MG_FXP_BAD);
	assert_int_equal(mg_fxp_parse(attrs_flag, sizeof(attrs_flag), &m, &need, &why), MG_FXP_BAD);
	assert_int_equal(mg_fxp_parse(attrs_ext, sizeof(attrs_ext), &m, &need, &why), MG_FXP_BAD);
	assert_int_equal(mg_fxp_parse(type_unknown, sizeof(type_unknown), &m, &need, &why), MG_FXP_BAD);
}

static void test_requests(void **state)
{
	static const unsigned char want[] = {
		0, 0, 0, 23, 5, 0, 0, 0, 7, 0, 0, 0, 2, 'h', '1',
		0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0x10, 0 };
	unsigned char out[64];

	(void)state;
	assert_int_equal(mg_fxp_read(out, sizeof(out), 7, (const unsigned char *)"h1", 2,
				     ((uint64_t)1 << 32) | 2, 4096), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(mg_fxp_read(out, 20, 7, (const unsigned char *)"h1", 2, 0, 1), 0);
	assert_int_equal(mg_fxp_init(out, sizeof(out)), 9);
	assert_int_equal(mg_fxp_open(out, 10, 1, "/long/path", 10), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_whole_file),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_short_data),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_open_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
