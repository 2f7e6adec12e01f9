/*
 * fuzz_names.c - the checks every object key and archive entry name goes
 * through: mg_key_check() (containment), mg_printable() and
 * mg_buf_add_printable() (escaping for a terminal), mg_utf8_valid().
 *
 * The input up to its first NUL is a key.  Properties, checked against a
 * plain re-statement of the rules in engine/mg.h:
 *   - mg_key_check accepts a key exactly when it is not empty, has no
 *     leading '/', and no empty, "." or ".." segment; with MG_KEY_FILE
 *     also no backslash and no trailing '/';
 *   - the printable form holds no C0/C1 control byte, no DEL, and is
 *     valid UTF-8; mg_printable never writes past its buffer and always
 *     terminates it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mg.h"
#include "fuzz.h"

/* The rules of engine/mg.h, written the slow and obvious way. */
static int key_ok(const char *k, unsigned flags)
{
	size_t n = strlen(k);
	const char *seg = k;

	if (n == 0 || k[0] == '/')
		return 0;
	if ((flags & MG_KEY_FILE) && (strchr(k, '\\') || k[n - 1] == '/'))
		return 0;
	for (;;) {
		const char *end = strchr(seg, '/');
		size_t len = end ? (size_t)(end - seg) : strlen(seg);

		/* "dir/" is an S3 folder marker: its trailing empty segment
		 * is allowed unless the target is a folder (checked above) */
		if (len == 0 && !(end == NULL && seg != k))
			return 0;
		if ((len == 1 && seg[0] == '.') ||
		    (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
		if (!end)
			return 1;
		seg = end + 1;
	}
}

static void check_printable(const char *s, const char *p, size_t len)
{
	const unsigned char *u = (const unsigned char *)p;

	FUZZ_CHECK(mg_utf8_valid(p, len), "printable form of '%s' is not UTF-8", s);
	for (size_t i = 0; i < len; i++) {
		FUZZ_CHECK(u[i] >= 0x20 && u[i] != 0x7f, "control byte %#x in the printable form", u[i]);
		/* C1 controls are U+0080..U+009F: 0xC2 0x80..0x9F in UTF-8 */
		FUZZ_CHECK(!(u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f),
			   "C1 control in the printable form");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mg_buf b = MG_BUF_INIT;
	const char *why;
	char *k, small[16], big[512];

	if (size > 8192)
		return 0;
	k = fuzz_cstr(data, size);
	for (unsigned flags = 0; flags <= MG_KEY_FILE; flags++) {
		int r = mg_key_check(k, flags, &why);

		FUZZ_CHECK((r == 0) == key_ok(k, flags),
			   "mg_key_check('%s', %u) = %d (%s)", k, flags, r,
			   r ? why : "accepted");
		if (r)
			FUZZ_CHECK(why && *why, "refused without a reason");
	}

	mg_printable(k, small, sizeof(small));
	FUZZ_CHECK(strlen(small) < sizeof(small), "mg_printable overran");
	check_printable(k, small, strlen(small));
	mg_printable(k, big, sizeof(big));
	check_printable(k, big, strlen(big));
	for (int q = 0; q < 2; q++) {
		mg_buf_reset(&b);
		FUZZ_CHECK(mg_buf_add_printable(&b, k, q) == 0, "add_printable failed");
		check_printable(k, b.buf ? b.buf : "", b.len);
	}
	mg_buf_release(&b);
	(void)mg_utf8_valid((const char *)data, size);
	free(k);
	return 0;
}
