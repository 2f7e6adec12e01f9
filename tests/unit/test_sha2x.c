/*
 * test_sha2x.c - mg_sha256_update2 (engine/run/sha2x.c) gives what
 * SHA256_Update gives each state: both states fresh, at different points
 * of their messages (the object's hash a part in, the part's new), at the
 * same offset inside a block, at different offsets (the fallback), for
 * lengths around the block size and beyond, and a saved state (the
 * journal's raw SHA256_CTX) that goes on through OpenSSL.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/sha.h>
#include "sha2x.h"

#define BIG (1u << 20)

static unsigned char *data;

static int setup(void **state)
{
	uint32_t x = 2463534242u;

	(void)state;
	data = malloc(BIG + 200);
	for (size_t i = 0; i < BIG + 200; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		data[i] = (unsigned char)x;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(data);
	return 0;
}

static void final_eq(SHA256_CTX *got, SHA256_CTX *want, const char *what, size_t len)
{
	unsigned char g[32], w[32];

	SHA256_Final(g, got);
	SHA256_Final(w, want);
	if (memcmp(g, w, 32))
		fail_msg("%s: digest differs after %zu bytes", what, len);
}

/* a (prefix pa bytes in) and b (prefix pb) take len bytes at off, in two
 * calls split at cut, against SHA256_Update */
static void check(size_t pa, size_t pb, size_t off, size_t len, size_t cut)
{
	SHA256_CTX a, b, ra, rb;

	SHA256_Init(&a);
	SHA256_Init(&b);
	SHA256_Update(&a, data + BIG, pa);	/* other bytes before */
	SHA256_Update(&b, data + BIG + 7, pb);
	ra = a;
	rb = b;
	mg_sha256_update2(&a, &b, data + off, cut);
	mg_sha256_update2(&a, &b, data + off + cut, len - cut);
	SHA256_Update(&ra, data + off, len);
	SHA256_Update(&rb, data + off, len);
	/* the raw state the journal saves is OpenSSL's own */
	assert_memory_equal(a.h, ra.h, sizeof(a.h));
	assert_int_equal(a.Nl, ra.Nl);
	assert_int_equal(a.Nh, ra.Nh);
	assert_int_equal(a.num, ra.num);
	final_eq(&a, &ra, "first state", len);
	final_eq(&b, &rb, "second state", len);
}

static void run_all(void)
{
	static const size_t lens[] = { 0, 1, 55, 63, 64, 65, 127, 128, 4096 + 7, BIG };
	static const size_t pre[][2] = { { 0, 0 }, { 64, 0 }, { 16 << 6, 64 }, { 13, 13 },
					 { 13, 200 - 8 - 7 }, { 5, 9 }, { 0, 63 } };

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		for (size_t p = 0; p < sizeof(pre) / sizeof(pre[0]); p++) {
			check(pre[p][0], pre[p][1], 0, lens[i], 0);
			check(pre[p][0], pre[p][1], 3, lens[i], lens[i] / 3);	/* unaligned */
			check(pre[p][0], pre[p][1], 64, lens[i], lens[i] & ~(size_t)63);
		}
}

static void test_sha_extensions(void **state)
{
	(void)state;
	if (!mg_sha256_2x_hw(-1))
		skip();	/* this CPU has no SHA extensions: the fallback below */
	run_all();
}

static void test_fallback(void **state)
{
	int was;

	(void)state;
	was = mg_sha256_2x_hw(0);
	run_all();
	mg_sha256_2x_hw(was);
}

/* a state saved mid-object (the journal's hash_state) and taken up by
 * plain OpenSSL gives the object's digest */
static void test_resume_through_openssl(void **state)
{
	SHA256_CTX obj, part, saved;
	unsigned char g[32], w[32];

	(void)state;
	SHA256_Init(&obj);
	SHA256_Init(&part);
	mg_sha256_update2(&obj, &part, data, BIG / 2);
	memcpy(&saved, &obj, sizeof(saved));
	SHA256_Update(&saved, data + BIG / 2, BIG / 2 + 5);
	SHA256_Final(g, &saved);
	SHA256(data, BIG + 5, w);
	assert_memory_equal(g, w, 32);
	SHA256_Final(g, &part);
	SHA256(data, BIG / 2, w);
	assert_memory_equal(g, w, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha_extensions),
		cmocka_unit_test(test_fallback),
		cmocka_unit_test(test_resume_through_openssl),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
