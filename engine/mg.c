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

_Atomic int mg_interrupted;

int mg_nap(int64_t ms)
{
	while (ms > 0 && !mg_interrupted) {
		int64_t slice = ms < 100 ? ms : 100;
		struct timespec ts = { (time_t)(slice / 1000),
				       (long)(slice % 1000) * 1000000L };

		nanosleep(&ts, NULL);
		ms -= slice;
	}
	return mg_interrupted ? -1 : 0;
}

int mg_key_check(const char *key, unsigned flags, const char **why)
{
	const char *seg = key;

	if (!key || !*key) {
		*why = "is empty";
		return -1;
	}
	if (*key == '/') {
		*why = "starts with '/' (an absolute name)";
		return -1;
	}
	for (const char *p = key;; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '/' || c == '\0') {
			size_t n = (size_t)(p - seg);

			if (n == 0 && (c || (flags & MG_KEY_FILE))) {
				*why = c ? "has an empty segment ('//')" :
					   "ends with '/' (a folder marker, not a file)";
				return -1;
			}
			if (n == 1 && seg[0] == '.') {
				*why = "has a '.' segment";
				return -1;
			}
			if (n == 2 && seg[0] == '.' && seg[1] == '.') {
				*why = "has a '..' segment (it would climb out of the target)";
				return -1;
			}
			if (!c)
				return 0;
			seg = p + 1;
		} else if (c == '\\' && (flags & MG_KEY_FILE)) {
			*why = "contains a backslash (a separator on other systems)";
			return -1;
		}
	}
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int mg_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	while (len > 0) {
		size_t k = utf8_seq(p, len);

		if (!k)
			return 0;
		p += k;
		len -= k;
	}
	return 1;
}

int mg_buf_add_printable(struct mg_buf *b, const char *s, int quote_spaces)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	int quote = quote_spaces && n > 0 && (s[0] == ' ' || s[n - 1] == ' ');

	if (quote && mg_buf_add(b, "'", 1))
		return -1;
	while (n > 0) {
		size_t k = utf8_seq(p, n);
		/* C1 controls U+0080..U+009F are 0xc2 0x80..0x9f in UTF-8 */
		int c1 = k == 2 && p[0] == 0xc2 && p[1] < 0xa0;

		if (k == 0 || c1 || (k == 1 && (*p < 0x20 || *p == 0x7f || *p == '\\'))) {
			if (*p == '\\' && k == 1 ? mg_buf_add(b, "\\\\", 2) :
			    mg_buf_addf(b, "\\x%02x", *p))
				return -1;
			k = 1;	/* a C1 pair: its second byte is escaped next */
		} else if (mg_buf_add(b, p, k)) {
			return -1;
		}
		p += k;
		n -= k;
	}
	return quote ? mg_buf_add(b, "'", 1) : 0;
}

const char *mg_printable(const char *s, char *out, size_t outlen)
{
	struct mg_buf b;

	if (outlen == 0)
		return out;
	mg_buf_init(&b, 0);
	if (mg_buf_add_printable(&b, s, 0) == 0 && b.len < outlen) {
		/* an empty name leaves the buffer unallocated */
		if (b.buf)
			memcpy(out, b.buf, b.len + 1);
		else
			out[0] = '\0';
	} else {
		/* cut on a whole escape or character: back up over any
		 * UTF-8 continuation bytes and a partial \xNN */
		size_t keep = outlen > 4 ? outlen - 4 : 0;

		if (b.buf && keep > b.len)
			keep = b.len;
		while (keep > 0 && b.buf && ((unsigned char)b.buf[keep] & 0xc0) == 0x80)
			keep--;
		for (size_t i = keep > 3 ? keep - 3 : 0; b.buf && i < keep; i++)
			if (b.buf[i] == '\\') {
				keep = i;
				break;
			}
		if (b.buf)
			memcpy(out, b.buf, keep);
		snprintf(out + keep, outlen - keep, "%s", outlen - keep > 3 ? "..." : "");
	}
	mg_buf_release(&b);
	return out;
}

char *mg_key_text(const char *key, int *escaped)
{
	const unsigned char *p = (const unsigned char *)key;
	size_t n = strlen(key);
	struct mg_buf b = MG_BUF_INIT;

	if (escaped)
		*escaped = 0;
	if (mg_utf8_valid(key, n))
		return mg_strdup(key);
	if (escaped)
		*escaped = 1;
	while (n > 0) {
		/* '%' too, so that the escaped text decodes back to the key */
		size_t k = *p == '%' ? 0 : utf8_seq(p, n);

		if (k) {
			mg_buf_add(&b, p, k);
		} else {
			mg_buf_addf(&b, "%%%02X", *p);
			k = 1;
		}
		p += k;
		n -= k;
	}
	return mg_buf_detach(&b);
}

char *mg_url_join(const char *base, const char *key)
{
	size_t n = strlen(base);
	struct mg_buf b = MG_BUF_INIT;

	mg_buf_addf(&b, "%s%s%s", base, n && base[n - 1] == '/' ? "" : "/", key);
	return mg_buf_detach(&b);
}

void mg_etag_unquote(const char *in, char *out, size_t outlen)
{
	size_t n = strlen(in);

	if (outlen == 0)
		return;
	if (n >= 2 && in[0] == '"' && in[n - 1] == '"') {
		in++;
		n -= 2;
	}
	if (n >= outlen)
		n = outlen - 1;
	memmove(out, in, n);	/* memmove: in may be out */
	out[n] = '\0';
}

static int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *mg_pct_decode(const char *s, size_t n, int flags, size_t *outlen)
{
	char *out = mg_malloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int hi = -1, lo = -1;

		if (s[i] == '%' && i + 2 < n) {
			hi = hex_digit((unsigned char)s[i + 1]);
			lo = hex_digit((unsigned char)s[i + 2]);
		}
		if (s[i] == '%' && hi >= 0 && lo >= 0 &&
		    !((flags & MG_PCT_STRICT) && hi == 0 && lo == 0)) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '%' && (flags & MG_PCT_STRICT)) {
			free(out);
			return NULL;
		} else if (s[i] == '+' && (flags & MG_PCT_PLUS_SPACE)) {
			out[o++] = ' ';
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	if (outlen)
		*outlen = o;
	return out;
}

char *mg_url_path_decode(const char *s, size_t n, const char *url, char *msg,
			 size_t msglen)
{
	char *path = mg_pct_decode(s, n, MG_PCT_STRICT, NULL);

	if (!path)
		snprintf(msg, msglen,
			 "bad percent-escape in '%s': use %%XX with two hex digits", url);
	return path;
}

int64_t mg_time_ns(int64_t sec, int64_t nsec)
{
	const int64_t max_sec = INT64_MAX / 1000000000 - 1;

	if (sec > max_sec || sec < -max_sec || nsec < 0 || nsec >= 1000000000)
		return 0;
	return sec * 1000000000 + nsec;
}

void mg_csv_field(FILE *out, const char *s, int text)
{
	if (!s)
		return;
	if (!text) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	if (s[0] && strchr("=+-@\t\r'", s[0]))
		fputc('\'', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}
