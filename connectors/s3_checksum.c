/*
 * s3_checksum.c - the checksum trailer of an S3 upload
 * (STREAMING-UNSIGNED-PAYLOAD-TRAILER): the CRCs themselves (CRC32C,
 * CRC32, CRC64NVME), the aws-chunked framing of a body that is in memory,
 * and which endpoints take it.
 *
 * Why: over https the signed payload hash costs a second SHA-256 pass over
 * every byte (the object's own hash for the journal is the first).  TLS
 * already protects the bytes on the wire against tampering; what is left
 * to check is the server's copy, and a CRC the server verifies (and
 * echoes) does that: CRC32C at a tenth of the CPU; CRC32 and CRC64NVME
 * from tables cost about what SHA-256 with the SHA extensions does
 * (docs/BENCHMARKS.md, "Fifth session"): they are for servers that ask
 * for them.
 *
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78): the SSE4.2 crc32
 * instruction when the CPU has it (8 bytes per instruction), else
 * slicing-by-8 tables.  CRC32 (ISO-HDLC, zlib's, reflected 0xEDB88320)
 * and CRC-64/NVME (reflected 0x9A6C9329AC4BC9B5, i.e. 0xAD93D23594C93659
 * unreflected; init and xorout all ones, as AWS's aws-checksums and the
 * NVMe command set specification have it; check "123456789" =
 * 0xAE8B14860A799888): slicing-by-8 tables, the same loop.  Written here
 * rather than linked: zlib has CRC32 only and the build does not link it,
 * and Debian offers no C library for CRC32C or CRC64NVME that this build
 * could assume (Google's crc32c, ISA-L and aws-checksums are not in the
 * archive we build on); all are checked against published vectors in
 * tests/unit/test_s3_checksum.c.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define MG_S3_INTERNAL 1
#include "s3_private.h"

/* ---- the CRCs ---------------------------------------------------------- */

const struct s3_crc_algo s3_crc_algos[S3_CRC_ALGOS] = {
	[S3_CRC32C] = { "CRC32C", "x-amz-checksum-crc32c", "ChecksumCRC32C", 4 },
	[S3_CRC32] = { "CRC32", "x-amz-checksum-crc32", "ChecksumCRC32", 4 },
	[S3_CRC64NVME] = { "CRC64NVME", "x-amz-checksum-crc64nvme", "ChecksumCRC64NVME", 8 },
};

/* slicing-by-8: t[k][b] is the CRC of byte b followed by k zero bytes */
static uint32_t tab32c[8][256], tab32[8][256];
static uint64_t tab64[8][256];
static int crc_hw;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void tab32_fill(uint32_t t[8][256], uint32_t poly)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ poly : c >> 1;
		t[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int k = 1; k < 8; k++)
			t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
}

static void crc_init(void)
{
	tab32_fill(tab32c, 0x82F63B78u);
	tab32_fill(tab32, 0xEDB88320u);
	for (uint32_t i = 0; i < 256; i++) {
		uint64_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x9A6C9329AC4BC9B5ull : c >> 1;
		tab64[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int k = 1; k < 8; k++)
			tab64[k][i] = (tab64[k - 1][i] >> 8) ^ tab64[0][tab64[k - 1][i] & 0xff];
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

/* The register c (already inverted) over p: any reflected CRC of up to
 * 64 bits, eight bytes a step (the low byte of the word goes first: this
 * is little-endian only, as the build is). */
#define SLICE8(T, c, p, len) do {						\
	while ((len) && ((uintptr_t)(p) & 7)) {					\
		(c) = T[0][((c) ^ *(p)++) & 0xff] ^ ((c) >> 8);			\
		(len)--;							\
	}									\
	while ((len) >= 8) {							\
		uint64_t w;							\
										\
		memcpy(&w, (p), 8);						\
		w ^= (c);							\
		(c) = T[7][w & 0xff] ^ T[6][(w >> 8) & 0xff] ^			\
		      T[5][(w >> 16) & 0xff] ^ T[4][(w >> 24) & 0xff] ^		\
		      T[3][(w >> 32) & 0xff] ^ T[2][(w >> 40) & 0xff] ^		\
		      T[1][(w >> 48) & 0xff] ^ T[0][w >> 56];			\
		(p) += 8;							\
		(len) -= 8;							\
	}									\
	while ((len)--)								\
		(c) = T[0][((c) ^ *(p)++) & 0xff] ^ ((c) >> 8);			\
} while (0)

static uint32_t crc32_soft(const uint32_t t[8][256], uint32_t c, const unsigned char *p, size_t len)
{
	SLICE8(t, c, p, len);
	return c;
}

static uint64_t crc64_soft(uint64_t c, const unsigned char *p, size_t len)
{
	SLICE8(tab64, c, p, len);
	return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc_sse42(uint32_t c, const unsigned char *p, size_t len)
{
	uint64_t c64;

	while (len && ((uintptr_t)p & 7)) {
		c = _mm_crc32_u8(c, *p++);
		len--;
	}
	c64 = c;
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		c64 = _mm_crc32_u64(c64, w);
		p += 8;
		len -= 8;
	}
	c = (uint32_t)c64;
	while (len--)
		c = _mm_crc32_u8(c, *p++);
	return c;
}
#endif

int s3_crc32c_hw(int on)
{
	int was;

	pthread_once(&crc_once, crc_init);
	was = crc_hw;
#if defined(__x86_64__)
	if (on >= 0)
		crc_hw = on && __builtin_cpu_supports("sse4.2");
#endif
	return was;
}

uint64_t s3_crc(int alg, uint64_t crc, const void *data, size_t len)
{
	pthread_once(&crc_once, crc_init);
	switch (alg) {
	case S3_CRC64NVME:
		return ~crc64_soft(~crc, data, len);
	case S3_CRC32:
		return (uint32_t)~crc32_soft(tab32, ~(uint32_t)crc, data, len);
	default:
#if defined(__x86_64__)
		if (crc_hw)
			return (uint32_t)~crc_sse42(~(uint32_t)crc, data, len);
#endif
		return (uint32_t)~crc32_soft(tab32c, ~(uint32_t)crc, data, len);
	}
}

uint32_t s3_crc32c(uint32_t crc, const void *data, size_t len)
{
	return (uint32_t)s3_crc(S3_CRC32C, crc, data, len);
}

void s3_crc_base64(int alg, uint64_t crc, char out[16])
{
	int n = s3_crc_algos[alg].bytes;
	unsigned char be[8];

	for (int i = 0; i < n; i++)
		be[i] = (unsigned char)(crc >> (8 * (n - 1 - i)));
	s3_base64(be, (size_t)n, out, 16);
}

void s3_crc32c_base64(uint32_t crc, char out[16])
{
	s3_crc_base64(S3_CRC32C, crc, out);
}

/* ---- aws-chunked framing ----------------------------------------------- */

/*
 * The body on the wire: "<hex size>\r\n<data>\r\n" per chunk, then
 * "0\r\n", the trailer line ("x-amz-checksum-crc32c:<base64>\r\n", or
 * the algorithm's own name) and a blank line.  Every byte is a function of its offset (the body is in
 * memory), so a rewind by curl is only a new offset; the CRC runs over
 * the body as it is sent, while the bytes are in cache, and is complete
 * when the trailer is reached.
 */
static size_t hex_len(size_t n)
{
	size_t d = 1;

	while (n >>= 4)
		d++;
	return d;
}

void s3_chunked_init(struct s3_chunked *c, int alg, const void *body, size_t len, size_t chunk)
{
	size_t full, rest;

	memset(c, 0, sizeof(*c));
	c->alg = alg;
	c->body = body;
	c->len = len;
	c->chunk = chunk ? chunk : S3_CHUNK_SIZE;
	c->stride = hex_len(c->chunk) + 2 + c->chunk + 2;
	full = len / c->chunk;
	rest = len % c->chunk;
	c->wire_len = (uint64_t)full * c->stride;
	if (rest)
		c->wire_len += hex_len(rest) + 2 + rest + 2;
	c->data_end = c->wire_len;
	/* "0\r\n" name ":" base64 of 4 or 8 bytes "\r\n" "\r\n" */
	c->wire_len += 3 + strlen(s3_crc_algos[alg].header) + 1 +
		       (s3_crc_algos[alg].bytes == 8 ? 12 : 8) + 2 + 2;
}

/* The CRC over body[0..upto): it only ever moves forward, since the
 * body does not change while a rewind sends some of it again. */
static void chunked_crc_to(struct s3_chunked *c, size_t upto)
{
	if (upto > c->crc_upto) {
		c->crc = s3_crc(c->alg, c->crc, c->body + c->crc_upto, upto - c->crc_upto);
		c->crc_upto = upto;
	}
}

/* Copies from text (a header or the tail) at offset skip. */
static size_t emit(char *out, size_t room, const char *text, size_t tlen, size_t skip)
{
	size_t n = tlen - skip;

	if (n > room)
		n = room;
	memcpy(out, text + skip, n);
	return n;
}

size_t s3_chunked_read(struct s3_chunked *c, uint64_t off, char *out, size_t room)
{
	size_t done = 0;

	while (done < room && off < c->wire_len) {
		char text[80];
		size_t n;

		if (off < c->data_end) {
			size_t i = (size_t)(off / c->stride), in = (size_t)(off % c->stride);
			size_t start = i * c->chunk;
			size_t size = c->len - start < c->chunk ? c->len - start : c->chunk;
			size_t hl = (size_t)snprintf(text, sizeof(text), "%zx\r\n", size);

			if (in < hl) {
				n = emit(out + done, room - done, text, hl, in);
			} else if (in < hl + size) {
				size_t from = in - hl;

				n = size - from;
				if (n > room - done)
					n = room - done;
				memcpy(out + done, c->body + start + from, n);
				c->data_out += n;
				chunked_crc_to(c, start + from + n);
			} else {
				n = emit(out + done, room - done, "\r\n", 2, in - hl - size);
			}
		} else {
			char b64[16];
			size_t tl;

			chunked_crc_to(c, c->len);
			s3_crc_base64(c->alg, c->crc, b64);
			tl = (size_t)snprintf(text, sizeof(text), "0\r\n%s:%s\r\n\r\n",
					      s3_crc_algos[c->alg].header, b64);
			n = emit(out + done, room - done, text, tl, (size_t)(off - c->data_end));
		}
		done += n;
		off += n;
	}
	return done;
}

uint64_t s3_chunked_crc(struct s3_chunked *c)
{
	chunked_crc_to(c, c->len);
	return c->crc;
}

/* ---- records by name: endpoints, uploads ---------------------------------- */

/* One record of the two process-wide lists below, found by its name (an
 * endpoint's base url, an upload id).  Few of either at a time: lists. */
struct named {
	struct named *next;
	int state;		/* endpoints: S3_TRAILER_* */
	int n;			/* uploads: slots in crc */
	char (*crc)[16];	/* uploads: by part number - 1; "" unknown */
	char name[];
};

/* The record of name in *head (its lock held), made when create. */
static struct named *named_find(struct named **head, const char *name, int create)
{
	struct named *t;

	for (t = *head; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	if (!create)
		return NULL;
	t = mg_calloc(1, sizeof(*t) + strlen(name) + 1);
	strcpy(t->name, name);
	t->next = *head;
	*head = t;
	return t;
}

/* ---- which endpoints take it ---------------------------------------------- */

/*
 * What an endpoint did with a trailer, by its base url, for the whole
 * process: every conn to it asks here, so the notice that a server lacks
 * it is said once, not per worker.
 */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct named *seen;

int s3_trailer_state(const char *base)
{
	struct named *t;
	int st;

	pthread_mutex_lock(&seen_lock);
	t = named_find(&seen, base, 0);
	st = t ? t->state : S3_TRAILER_UNKNOWN;
	pthread_mutex_unlock(&seen_lock);
	return st;
}

int s3_trailer_learn(const char *base, int state)
{
	struct named *t;
	int changed = 0;

	pthread_mutex_lock(&seen_lock);
	t = named_find(&seen, base, 1);
	/* once lacking, always lacking: a server does not learn mid-run */
	if (t->state != state && t->state != S3_TRAILER_LACKING) {
		t->state = state;
		changed = 1;
	}
	pthread_mutex_unlock(&seen_lock);
	return changed;
}

/* ---- parts' CRCs until their upload is completed ------------------------ */

/*
 * An upload created with x-amz-checksum-algorithm (CRC32C, ...) must name
 * every part's CRC in CompleteMultipartUpload.  The journal keeps none, so
 * the parts sent by this process are noted here by upload id (the others,
 * from a run that was stopped, come from ListParts).
 */
static pthread_mutex_t crcs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct named *crcs;

void s3_part_crc_note(const char *upload_id, int number, const char *b64)
{
	struct named *u;

	if (number < 1 || number > 10000)
		return;
	pthread_mutex_lock(&crcs_lock);
	u = named_find(&crcs, upload_id, 1);
	if (number > u->n) {
		int n = number < 64 ? 64 : number * 2;

		u->crc = mg_realloc(u->crc, (size_t)n * sizeof(*u->crc));
		memset(u->crc + u->n, 0, (size_t)(n - u->n) * sizeof(*u->crc));
		u->n = n;
	}
	snprintf(u->crc[number - 1], sizeof(u->crc[0]), "%s", b64);
	pthread_mutex_unlock(&crcs_lock);
}

int s3_part_crc_get(const char *upload_id, int number, char out[16])
{
	struct named *u;
	int found = 0;

	out[0] = '\0';
	pthread_mutex_lock(&crcs_lock);
	u = named_find(&crcs, upload_id, 0);
	if (u && number >= 1 && number <= u->n && u->crc[number - 1][0]) {
		memcpy(out, u->crc[number - 1], 16);
		found = 1;
	}
	pthread_mutex_unlock(&crcs_lock);
	return found;
}

void s3_part_crc_forget(const char *upload_id)
{
	pthread_mutex_lock(&crcs_lock);
	for (struct named **p = &crcs; *p; p = &(*p)->next)
		if (strcmp((*p)->name, upload_id) == 0) {
			struct named *u = *p;

			*p = u->next;
			free(u->crc);
			free(u);
			break;
		}
	pthread_mutex_unlock(&crcs_lock);
}
