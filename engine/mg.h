/*
 * mg.h - what every part of migrate shares: status codes, the error detail
 * kept on a handle, and one growable buffer type.
 *
 * Status codes are graded the way libarchive grades them: the code that
 * understands an error decides once whether it is worth retrying, and every
 * caller only compares against these values.
 */
#ifndef MG_H
#define MG_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdarg.h>
#include <signal.h>

#define MG_OK       0    /* done */
#define MG_DONE     1    /* an iterator has no more entries */
#define MG_ABSENT   2    /* a lookup found no such object (not an error) */
#define MG_RETRY  (-10)  /* transient: the same call may succeed later */
#define MG_WARN   (-20)  /* done, but something deserves a word */
#define MG_FAILED (-25)  /* this object failed; others may go on */
#define MG_FATAL  (-30)  /* the connection/handle is unusable (auth, TLS, host key, disk gone) */

/* Documented process exit codes (see migrate.1). */
#define MG_EXIT_OK        0
#define MG_EXIT_PARTIAL   1   /* finished, some objects failed */
#define MG_EXIT_USAGE     2   /* plan or usage error */
#define MG_EXIT_FATAL     3   /* cannot reach, authenticate, journal locked */
#define MG_EXIT_INTERRUPT 130 /* SIGINT/SIGTERM, journal consistent */

/*
 * The detail of the first error on a handle.  First error wins (as curl's
 * Curl_failf): later errors are usually consequences of the first one and
 * would hide the cause.
 */
struct mg_error {
	int status;          /* MG_* grade, 0 when no error is set */
	int sys_errno;       /* errno, 0 if none */
	long remote_code;    /* HTTP status, SFTP status, archive error; 0 if none */
	char op[32];         /* what was being done: "open", "read", "PUT", ... */
	char msg[512];       /* lowercase, names the thing, says what to do */
};

void mg_error_clear(struct mg_error *e);
/* Sets the error if none is set yet; returns status so callers can
 * `return mg_error_set(...)`. */
int mg_error_set(struct mg_error *e, int status, int sys_errno, long remote,
		 const char *op, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* Copies src into dst if dst has no error yet. */
void mg_error_copy(struct mg_error *dst, const struct mg_error *src);
const char *mg_status_name(int status);

/*
 * One growable buffer with a size cap (git's strbuf, curl's dynbuf).
 * buf is always NUL-terminated when allocated.  A cap of 0 means no cap.
 */
struct mg_buf {
	char *buf;
	size_t len;
	size_t alloc;
	size_t cap;
};

#define MG_BUF_INIT { NULL, 0, 0, 0 }

void mg_buf_init(struct mg_buf *b, size_t cap);
void mg_buf_release(struct mg_buf *b);
void mg_buf_reset(struct mg_buf *b);
/* These return 0, or -1 when the cap would be exceeded or memory is out
 * (the buffer is unchanged then). */
int mg_buf_add(struct mg_buf *b, const void *data, size_t len);
int mg_buf_adds(struct mg_buf *b, const char *s);
int mg_buf_addf(struct mg_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int mg_buf_vaddf(struct mg_buf *b, const char *fmt, va_list ap);
/* Takes the string out of the buffer; the caller owns it and frees it. */
char *mg_buf_detach(struct mg_buf *b);

/* Allocation that exits with a message on out-of-memory: the process
 * cannot do anything sensible without memory and the journal stays
 * consistent because nothing is reported done before it is durable. */
void *mg_malloc(size_t n);
void *mg_calloc(size_t n, size_t m);
void *mg_realloc(void *p, size_t n);
char *mg_strdup(const char *s);
char *mg_strndup(const char *s, size_t n);

/* Seconds and nanoseconds from a listing or an archive header as ns since
 * the epoch; 0 ("unknown") where the time is beyond what int64 ns can
 * hold (years before 1678 or after 2262): such dates come only from
 * damaged or hostile input, and an overflow is undefined behaviour. */
int64_t mg_time_ns(int64_t sec, int64_t nsec);

/* Wall-clock and monotonic time in nanoseconds. */
int64_t mg_now_ns(void);
int64_t mg_mono_ns(void);

/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void mg_hex(const unsigned char *in, size_t len, char *out);

/*
 * Stopping.  main.c's SIGINT/SIGTERM handler sets mg_interrupted; every
 * wait in the process (engine backoff, a connector's retry backoff, a
 * slow transfer) looks at it at least every 100 ms so a stop request is
 * obeyed within a second.  mg_nap() sleeps ms milliseconds in such
 * slices; it returns 0, or -1 as soon as a stop was requested.
 * A lock-free atomic, not a plain sig_atomic_t: the handler writes it in
 * one thread and every worker reads it (C11 7.14.1.1 allows the handler
 * to write a lock-free atomic; ThreadSanitizer sees the order).
 */
extern _Atomic int mg_interrupted;
int mg_nap(int64_t ms);

/*
 * Key containment (the "Contained" invariant).  A key names an object
 * relative to an endpoint's root; before the engine writes, stats or
 * deletes under any target it asks mg_key_check(), the one place that
 * decides.  Refused: an empty key, an empty, "." or ".." segment, a
 * leading '/'; for targets that are folders (MG_KEY_FILE) also a
 * backslash and a trailing '/' (an S3 folder marker "dir/" is a fine key
 * for an object store, not for a file).  A NUL cannot reach here: the
 * connectors refuse keys that hold one when they list them.  Returns 0 when the key is
 * safe, else -1 with *why set to a static reason ("has a '..' segment").
 */
#define MG_KEY_FILE 1
int mg_key_check(const char *key, unsigned flags, const char **why);

/*
 * Printing names for a person.  Keys come from other people's buckets
 * and archives: written raw to a terminal an ESC sequence retitles or
 * clears it.  mg_buf_add_printable() appends s with every C0/C1 control
 * character, DEL, a backslash and every byte that is not valid UTF-8
 * written as \xNN (so the result is plain, unambiguous and valid UTF-8);
 * with quote_spaces, a name with a leading or trailing space is put in
 * single quotes.  mg_printable() does the same, without the quotes (its
 * callers quote the name in their message), into a caller buffer,
 * truncating with "..." where it does not fit, and returns out.
 */
int mg_buf_add_printable(struct mg_buf *b, const char *s, int quote_spaces);
const char *mg_printable(const char *s, char *out, size_t outlen);
/* 1 if s is valid UTF-8 (no overlongs, no surrogates), else 0. */
int mg_utf8_valid(const char *s, size_t len);

/*
 * A key as text for JSON and CSV, the one rule every output uses (the tar
 * connector names entries by it too).  JSON strings must be UTF-8 and a
 * key is bytes: a key that is valid UTF-8 is returned as it is; one that
 * is not has every byte outside a valid UTF-8 sequence, and every '%',
 * written as "%XX" (upper-case hex), so the text decodes back to the key.
 * *escaped (may be NULL) tells which happened: outputs say so next to the
 * key ("key_escaped": true).  Returns a malloc'd string.
 */
char *mg_key_text(const char *key, int *escaped);

/*
 * One CSV field (RFC 4180) for a file a spreadsheet may open: NULL writes
 * nothing, a number (text 0) goes bare, text is quoted with quotes
 * doubled, and text starting with '=', '+', '-', '@', TAB, CR or "'" gets
 * a "'" in front (OWASP's rule against CSV injection; a reader undoes it
 * by dropping one leading "'").  lineage --csv and inventory --csv.
 */
void mg_csv_field(FILE *out, const char *s, int text);

/*
 * An object's URL for outputs that name it (--log-json, lineage): base and
 * key joined by exactly one '/'.  Returns a malloc'd string.
 */
char *mg_url_join(const char *base, const char *key);

/*
 * ETags come quoted in HTTP headers and S3's XML ("\"abc\"") and bare
 * elsewhere (RGW's CopyObject result, the journal): the journal and every
 * comparison use the bare form.  Copies in without one pair of enclosing
 * quotes into out (outlen bytes, truncating); in and out may be the same.
 */
void mg_etag_unquote(const char *in, char *out, size_t outlen);

/*
 * Percent-decoding, for URLs in plans and for S3's encoded listings.
 * With MG_PCT_STRICT a malformed escape ("%4", "%zz") or an encoded NUL
 * is an error (NULL): a plan's URL must say exactly one path.  Without it
 * such an escape is kept as it is and "%00" decodes to a NUL byte (S3
 * keys may hold any byte; *outlen, may be NULL, tells the length then).
 * MG_PCT_PLUS_SPACE turns '+' into ' ' (form encoding, as S3 uses in
 * ListObjects with encoding-type=url).  Returns a malloc'd string.
 */
enum { MG_PCT_STRICT = 1 << 0, MG_PCT_PLUS_SPACE = 1 << 1 };
char *mg_pct_decode(const char *s, size_t n, int flags, size_t *outlen);
/* For connectors' url parsers: the path part s (n bytes) of url, decoded
 * with MG_PCT_STRICT; on a bad escape, NULL and the message every
 * connector gives in msg. */
char *mg_url_path_decode(const char *s, size_t n, const char *url, char *msg,
			 size_t msglen);

/* Human-readable sizes and rates for summaries: "1.5 MiB". */
void mg_fmt_bytes(uint64_t n, char *out, size_t outlen);

#endif
