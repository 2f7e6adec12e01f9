/*
 * test_s3_checksum.c - the CRCs of the S3 checksum trailer against the
 * published test vectors: CRC32C (RFC 3720 B.4, and "123456789" =
 * 0xE3069283), CRC32 (the check value 0xCBF43926; the others are zlib's),
 * CRC64NVME (the CRC catalogue's check 0xAE8B14860A799888, AWS
 * aws-checksums' 32-byte vectors, the NVMe specification's 4 KiB ones);
 * the SSE4.2 path and the tables against a bit-by-bit reference at every
 * alignment and length, and
 * the aws-chunked framing (STREAMING-UNSIGNED-PAYLOAD-TRAILER) byte for
 * byte, read in pieces of every size and after rewinds.
 */
#define _GNU_SOURCE 1
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MG_S3_INTERNAL 1
#include "s3_private.h"

/* bit by bit, straight from the definition */
static uint32_t crc_ref(const unsigned char *p, size_t len)
{
	uint32_t c = 0xFFFFFFFFu;

	while (len--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return ~c;
}

/* the same for CRC32 and CRC64NVME */
static uint64_t ref_any(int alg, const unsigned char *p, size_t len)
{
	int wide = alg == S3_CRC64NVME;
	uint64_t c = wide ? ~0ull : 0xFFFFFFFFu, poly = wide ? 0x9A6C9329AC4BC9B5ull : 0xEDB88320u;

	if (alg == S3_CRC32C)
		return crc_ref(p, len);
	while (len--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ poly : c >> 1;
	}
	return wide ? ~c : (uint32_t)~c;
}

static void vectors(void)
{
	unsigned char buf[32];

	assert_int_equal(s3_crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(s3_crc32c(0, "", 0), 0);
	memset(buf, 0, 32);
	assert_int_equal(s3_crc32c(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xFF, 32);
	assert_int_equal(s3_crc32c(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (unsigned char)i;
	assert_int_equal(s3_crc32c(0, buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (unsigned char)(31 - i);
	assert_int_equal(s3_crc32c(0, buf, 32), 0x113FDB5Cu);
	/* in two pieces: the same */
	assert_int_equal(s3_crc32c(s3_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}

static void test_crc_vectors(void **state)
{
	int hw = s3_crc32c_hw(-1);

	(void)state;
	vectors();
	s3_crc32c_hw(0);
	vectors();
	s3_crc32c_hw(hw);
}

static void test_crc32_vectors(void **state)
{
	unsigned char buf[32];

	(void)state;
	assert_int_equal(s3_crc(S3_CRC32, 0, "123456789", 9), 0xCBF43926u);
	assert_int_equal(s3_crc(S3_CRC32, 0, "", 0), 0);
	memset(buf, 0, 32);
	assert_int_equal(s3_crc(S3_CRC32, 0, buf, 32), 0x190A55ADu);
	memset(buf, 0xFF, 32);
	assert_int_equal(s3_crc(S3_CRC32, 0, buf, 32), 0xFF6CAB0Bu);
	for (int i = 0; i < 32; i++)
		buf[i] = (unsigned char)i;
	assert_int_equal(s3_crc(S3_CRC32, 0, buf, 32), 0x91267E8Au);
	assert_int_equal(s3_crc(S3_CRC32, s3_crc(S3_CRC32, 0, "1234", 4), "56789", 5), 0xCBF43926u);
}

static void test_crc64nvme_vectors(void **state)
{
	unsigned char buf[4096];

	(void)state;
	assert_true(s3_crc(S3_CRC64NVME, 0, "123456789", 9) == 0xAE8B14860A799888ull);
	assert_true(s3_crc(S3_CRC64NVME, 0, "", 0) == 0);
	memset(buf, 0, sizeof(buf));
	assert_true(s3_crc(S3_CRC64NVME, 0, buf, 32) == 0xCF3473434D4ECF3Bull);
	assert_true(s3_crc(S3_CRC64NVME, 0, buf, 4096) == 0x6482D367EB22B64Eull);
	memset(buf, 0xFF, sizeof(buf));
	assert_true(s3_crc(S3_CRC64NVME, 0, buf, 4096) == 0xC0DDBA7302ECA3ACull);
	for (int i = 0; i < 32; i++)
		buf[i] = (unsigned char)i;
	assert_true(s3_crc(S3_CRC64NVME, 0, buf, 32) == 0xB9D9D4A8492CBD7Full);
	assert_true(s3_crc(S3_CRC64NVME, s3_crc(S3_CRC64NVME, 0, "12345", 5), "6789", 4) ==
		    0xAE8B14860A799888ull);
}

static void test_crc_alignments(void **state)
{
	unsigned char buf[600];
	int hw = s3_crc32c_hw(-1);

	(void)state;
	srand(19);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)rand();
	for (int mode = 0; mode < 2; mode++) {
		s3_crc32c_hw(mode);
		for (size_t at = 0; at < 9; at++)
			for (size_t len = 0; len + at <= sizeof(buf); len += 1 + len / 7)
				assert_int_equal(s3_crc32c(0, buf + at, len), crc_ref(buf + at, len));
	}
	s3_crc32c_hw(hw);
	for (int alg = S3_CRC32; alg < S3_CRC_ALGOS; alg++)
		for (size_t at = 0; at < 9; at++)
			for (size_t len = 0; len + at <= sizeof(buf); len += 1 + len / 7)
				assert_true(s3_crc(alg, 0, buf + at, len) == ref_any(alg, buf + at, len));
}

static void test_crc_base64(void **state)
{
	char b[16];

	(void)state;
	s3_crc32c_base64(0xE3069283u, b);
	assert_string_equal(b, "4waSgw==");
	s3_crc32c_base64(0, b);
	assert_string_equal(b, "AAAAAA==");
	s3_crc_base64(S3_CRC32, 0xCBF43926u, b);
	assert_string_equal(b, "y/Q5Jg==");
	s3_crc_base64(S3_CRC64NVME, 0xAE8B14860A799888ull, b);
	assert_string_equal(b, "rosUhgp5mIg=");
}

/* The framing as the AWS documentation writes it, built the slow way. */
static char *expected(int alg, const unsigned char *body, size_t len, size_t chunk, size_t *outlen)
{
	size_t cap = len + 64 + (len / chunk + 1) * 32, n = 0;
	char *e = malloc(cap), b64[16];

	for (size_t at = 0; at < len; at += chunk) {
		size_t k = len - at < chunk ? len - at : chunk;

		n += (size_t)sprintf(e + n, "%zx\r\n", k);
		memcpy(e + n, body + at, k);
		n += k;
		n += (size_t)sprintf(e + n, "\r\n");
	}
	s3_crc_base64(alg, ref_any(alg, body, len), b64);
	n += (size_t)sprintf(e + n, "0\r\n%s:%s\r\n\r\n", s3_crc_algos[alg].header, b64);
	*outlen = n;
	return e;
}

static void check_framing_alg(int alg, const unsigned char *body, size_t len, size_t chunk)
{
	struct s3_chunked c;
	size_t elen, got;
	char *e = expected(alg, body, len, chunk ? chunk : S3_CHUNK_SIZE, &elen), *w = malloc(elen + 16);
	static const size_t rooms[] = { 1, 3, 7, 100, 4096, 70000, 1 << 20 };

	for (size_t r = 0; r < sizeof(rooms) / sizeof(rooms[0]); r++) {
		uint64_t off = 0;

		s3_chunked_init(&c, alg, body, len, chunk);
		assert_int_equal(c.wire_len, elen);
		memset(w, 0, elen + 16);
		while ((got = s3_chunked_read(&c, off, w + off, rooms[r])) > 0)
			off += got;
		assert_int_equal(off, elen);
		assert_memory_equal(w, e, elen);
		assert_true(s3_chunked_crc(&c) == ref_any(alg, body, len));
		/* a rewind to anywhere gives the same bytes again */
		for (uint64_t back = 0; back < elen; back += elen / 5 + 1) {
			size_t room = elen - (size_t)back;

			assert_int_equal(s3_chunked_read(&c, back, w, room), room);
			assert_memory_equal(w, e + back, room);
		}
	}
	/* a fresh one read after a jump forward still ends in the right CRC */
	s3_chunked_init(&c, alg, body, len, chunk);
	if (elen > 40) {
		assert_int_equal(s3_chunked_read(&c, elen - 40, w, 40), 40);
		assert_memory_equal(w, e + elen - 40, 40);
	}
	free(e);
	free(w);
}

static void check_framing(const unsigned char *body, size_t len, size_t chunk)
{
	for (int alg = 0; alg < S3_CRC_ALGOS; alg++)
		check_framing_alg(alg, body, len, chunk);
}

static void test_chunked_framing(void **state)
{
	size_t len = 150000;
	unsigned char *body = malloc(len);

	(void)state;
	for (size_t i = 0; i < len; i++)
		body[i] = (unsigned char)(i * 131 + 7);
	check_framing(body, len, 65536);	/* two full chunks and 0x49f0 */
	check_framing(body, 131072, 65536);	/* ends on a chunk boundary */
	check_framing(body, 1, 65536);
	check_framing(body, 0, 65536);
	check_framing(body, 1000, 16);
	check_framing(body, len, 0);		/* the default size */
	free(body);
}

/* The literal wire form of "123456789" with alg's trailer. */
static void check_literal(int alg, const char *want)
{
	struct s3_chunked c;
	char w[128];

	s3_chunked_init(&c, alg, "123456789", 9, 0);
	assert_int_equal(c.wire_len, strlen(want));
	assert_int_equal(s3_chunked_read(&c, 0, w, sizeof(w)), strlen(want));
	assert_memory_equal(w, want, strlen(want));
}

/* as in the AWS documentation, and with the other two: the trailer's
 * name and a longer value */
static void test_chunked_literal(void **state)
{
	(void)state;
	check_literal(S3_CRC32C, "9\r\n123456789\r\n0\r\nx-amz-checksum-crc32c:4waSgw==\r\n\r\n");
	check_literal(S3_CRC32, "9\r\n123456789\r\n0\r\nx-amz-checksum-crc32:y/Q5Jg==\r\n\r\n");
	check_literal(S3_CRC64NVME,
		      "9\r\n123456789\r\n0\r\nx-amz-checksum-crc64nvme:rosUhgp5mIg=\r\n\r\n");
}

static void test_trailer_registry(void **state)
{
	(void)state;
	assert_int_equal(s3_trailer_state("https://a"), S3_TRAILER_UNKNOWN);
	assert_int_equal(s3_trailer_learn("https://a", S3_TRAILER_WORKS), 1);
	assert_int_equal(s3_trailer_learn("https://a", S3_TRAILER_WORKS), 0);
	assert_int_equal(s3_trailer_state("https://a"), S3_TRAILER_WORKS);
	assert_int_equal(s3_trailer_learn("https://b", S3_TRAILER_LACKING), 1);
	assert_int_equal(s3_trailer_learn("https://b", S3_TRAILER_LACKING), 0);
	assert_int_equal(s3_trailer_learn("https://b", S3_TRAILER_WORKS), 0);
	assert_int_equal(s3_trailer_state("https://b"), S3_TRAILER_LACKING);
	assert_int_equal(s3_trailer_state("https://a"), S3_TRAILER_WORKS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_vectors),
		cmocka_unit_test(test_crc32_vectors),
		cmocka_unit_test(test_crc64nvme_vectors),
		cmocka_unit_test(test_crc_alignments),
		cmocka_unit_test(test_crc_base64),
		cmocka_unit_test(test_chunked_framing),
		cmocka_unit_test(test_chunked_literal),
		cmocka_unit_test(test_trailer_registry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
