/*
 * mg.c - errors, buffers, allocation and time shared by every part.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mg.h"

void mg_error_clear(struct mg_error *e)
{
	memset(e, 0, sizeof(*e));
}

int mg_error_set(struct mg_error *e, int status, int sys_errno, long remote,
		 const char *op, const char *fmt, ...)
{
	va_list ap;

	if (e->status != 0)
		return status;
	e->status = status;
	e->sys_errno = sys_errno;
	e->remote_code = remote;
	snprintf(e->op, sizeof(e->op), "%s", op ? op : "");
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return status;
}

void mg_error_copy(struct mg_error *dst, const struct mg_error *src)
{
	if (dst->status == 0 && src->status != 0)
		*dst = *src;
}

const char *mg_status_name(int status)
{
	switch (status) {
	case MG_OK: return "ok";
	case MG_DONE: return "done";
	case MG_RETRY: return "retry";
	case MG_WARN: return "warning";
	case MG_FAILED: return "failed";
	case MG_FATAL: return "fatal";
	default: return "unknown";
	}
}

static void out_of_memory(size_t n)
{
	fprintf(stderr, "migrate: out of memory (allocating %zu bytes)\n", n);
	abort();
}

void *mg_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		out_of_memory(n);
	return p;
}

void *mg_calloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);

	if (!p)
		out_of_memory(n * m);
	return p;
}

void *mg_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		out_of_memory(n);
	return q;
}

char *mg_strdup(const char *s)
{
	return s ? mg_strndup(s, strlen(s)) : NULL;
}

char *mg_strndup(const char *s, size_t n)
{
	char *p = mg_malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void mg_buf_init(struct mg_buf *b, size_t cap)
{
	b->buf = NULL;
	b->len = b->alloc = 0;
	b->cap = cap;
}

void mg_buf_release(struct mg_buf *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->alloc = 0;
}

void mg_buf_reset(struct mg_buf *b)
{
	b->len = 0;
	if (b->buf)
		b->buf[0] = '\0';
}

/* Makes room for extra more bytes plus the terminating NUL. */
static int buf_grow(struct mg_buf *b, size_t extra)
{
	size_t need;

	if (extra > SIZE_MAX - b->len - 1)
		return -1;
	need = b->len + extra + 1;
	if (b->cap && need - 1 > b->cap)
		return -1;
	if (need > b->alloc) {
		size_t n = b->alloc ? b->alloc : 64;

		while (n < need)
			n = n > SIZE_MAX / 2 ? need : n * 2;
		b->buf = mg_realloc(b->buf, n);
		b->alloc = n;
	}
	return 0;
}

int mg_buf_add(struct mg_buf *b, const void *data, size_t len)
{
	if (buf_grow(b, len) < 0)
		return -1;
	if (len)
		memcpy(b->buf + b->len, data, len);
	b->len += len;
	b->buf[b->len] = '\0';
	return 0;
}

int mg_buf_adds(struct mg_buf *b, const char *s)
{
	return mg_buf_add(b, s, strlen(s));
}

int mg_buf_vaddf(struct mg_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0 || buf_grow(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int mg_buf_addf(struct mg_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = mg_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return r;
}

char *mg_buf_detach(struct mg_buf *b)
{
	char *s = b->buf ? b->buf : mg_strdup("");

	b->buf = NULL;
	b->len = b->alloc = 0;
	return s;
}

int64_t mg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t mg_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void mg_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

void mg_fmt_bytes(uint64_t n, char *out, size_t outlen)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, outlen, "%llu B", (unsigned long long)n);
	else
		snprintf(out, outlen, "%.1f %s", v, units[u]);
}
