/*
 * sha2x.c - two SHA-256 states fed the same bytes in one pass.
 *
 * Why: a multipart upload over http hashes every byte twice, once into
 * the object's SHA-256 (the journal's and the dedupe's) and once into the
 * part's (the payload hash SigV4 signs).  They are two messages, so both
 * passes stay; but with the SHA extensions one SHA-256 stream is bound
 * by the latency of sha256rnds2 (each pair of rounds waits for the one
 * before), not by how many the core can start.  Two independent states
 * interleaved over the same block fill those gaps, and the message
 * schedule (sha256msg1/2 over the block) is the same for both, so it is
 * computed once.  On this machine's CPU (AMD family 1Ah) the two passes
 * take 0.85 CPU-s per GiB this way against 1.38 through OpenSSL's
 * SHA256_Update twice (issue 19.2; docs/BENCHMARKS.md, "Fifth session").
 *
 * The states stay OpenSSL's SHA256_CTX, saved raw in the journal for a
 * resumed upload (multipart.c): whole blocks go through here, updating
 * h[] and the bit count as SHA256_Update would, the partial block before
 * and after through SHA256_Update itself.  Without the SHA extensions, or
 * when the two states are not at the same offset within a block, it is
 * SHA256_Update twice.  The round structure follows Intel's SHA
 * extensions paper (Gulley et al., 2013), as OpenSSL's own does.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "sha2x.h"

static int sha_hw;
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;

static int cpu_has_sha(void)
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	return __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1") &&
	       __builtin_cpu_supports("ssse3");
#else
	return 0;
#endif
}

static void sha_init(void)
{
	const char *e = getenv("MG_SHA2X");

	sha_hw = cpu_has_sha() && !(e && !strcmp(e, "0"));
}

int mg_sha256_2x_hw(int on)
{
	int was;

	pthread_once(&sha_once, sha_init);
	was = sha_hw;
	if (on >= 0)
		sha_hw = on && cpu_has_sha();
	return was;
}

#if defined(__x86_64__)
static const uint32_t K256[64] __attribute__((aligned(16))) = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* h[0..7] (A..H) into the ABEF / CDGH register halves sha256rnds2 wants,
 * and back */
__attribute__((target("sha,sse4.1,ssse3")))
static void state_load(const unsigned int h[8], __m128i *abef, __m128i *cdgh)
{
	__m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1);
	__m128i s = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B);

	*abef = _mm_alignr_epi8(t, s, 8);
	*cdgh = _mm_blend_epi16(s, t, 0xF0);
}

__attribute__((target("sha,sse4.1,ssse3")))
static void state_store(unsigned int h[8], __m128i abef, __m128i cdgh)
{
	__m128i t = _mm_shuffle_epi32(abef, 0x1B);

	cdgh = _mm_shuffle_epi32(cdgh, 0xB1);
	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(t, cdgh, 0xF0));
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(cdgh, t, 8));
}

/* nblk whole 64-byte blocks at p into both states */
__attribute__((target("sha,sse4.1,ssse3")))
static void blocks2(unsigned int ha[8], unsigned int hb[8], const unsigned char *p,
		    size_t nblk)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i a0, a1, b0, b1;

	state_load(ha, &a0, &a1);
	state_load(hb, &b0, &b1);
	for (; nblk; nblk--, p += 64) {
		__m128i w[16], sa0 = a0, sa1 = a1, sb0 = b0, sb1 = b1;

		/* 16 steps of 4 rounds: w[i] is message words 4i..4i+3,
		 * the first four the block's, the rest the schedule */
#pragma GCC unroll 16
		for (int i = 0; i < 16; i++) {
			__m128i m;

			if (i < 4)
				w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)),
							bswap);
			else
				w[i] = _mm_sha256msg2_epu32(
					_mm_add_epi32(_mm_sha256msg1_epu32(w[i - 4], w[i - 3]),
						      _mm_alignr_epi8(w[i - 1], w[i - 2], 4)),
					w[i - 1]);
			m = _mm_add_epi32(w[i], _mm_load_si128((const __m128i *)&K256[4 * i]));
			a1 = _mm_sha256rnds2_epu32(a1, a0, m);
			b1 = _mm_sha256rnds2_epu32(b1, b0, m);
			m = _mm_shuffle_epi32(m, 0x0E);
			a0 = _mm_sha256rnds2_epu32(a0, a1, m);
			b0 = _mm_sha256rnds2_epu32(b0, b1, m);
		}
		a0 = _mm_add_epi32(a0, sa0);
		a1 = _mm_add_epi32(a1, sa1);
		b0 = _mm_add_epi32(b0, sb0);
		b1 = _mm_add_epi32(b1, sb1);
	}
	state_store(ha, a0, a1);
	state_store(hb, b0, b1);
}
#endif

/* the message length in bits, as SHA256_Update counts it */
static void count_bytes(SHA256_CTX *c, size_t n)
{
	uint64_t bits = ((uint64_t)c->Nh << 32 | c->Nl) + (uint64_t)n * 8;

	c->Nl = (SHA_LONG)bits;
	c->Nh = (SHA_LONG)(bits >> 32);
}

void mg_sha256_update2(SHA256_CTX *a, SHA256_CTX *b, const void *data, size_t len)
{
	const unsigned char *p = data;

	pthread_once(&sha_once, sha_init);
#if defined(__x86_64__)
	if (sha_hw && a->num == b->num) {
		size_t head = a->num ? SHA256_CBLOCK - a->num : 0, n;

		/* finish the partial block both hold the start of */
		if (head > len)
			head = len;
		if (head) {
			SHA256_Update(a, p, head);
			SHA256_Update(b, p, head);
			p += head;
			len -= head;
		}
		n = len / SHA256_CBLOCK;
		if (n && a->num == 0) {
			blocks2(a->h, b->h, p, n);
			count_bytes(a, n * SHA256_CBLOCK);
			count_bytes(b, n * SHA256_CBLOCK);
			p += n * SHA256_CBLOCK;
			len -= n * SHA256_CBLOCK;
		}
	}
#endif
	SHA256_Update(a, p, len);
	SHA256_Update(b, p, len);
}
