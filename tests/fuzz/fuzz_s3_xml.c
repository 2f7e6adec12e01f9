/*
 * fuzz_s3_xml.c - the S3 connector's XML parsers, through what
 * connectors/s3_private.h exposes: the streaming ListObjectsV2 page parser
 * (s3_list_page_feed, fed in chunks the way curl delivers a body), the
 * generic small-document parser every other answer goes through
 * (s3_xml_parse: ListParts, InitiateMultipartUpload, DeleteObjects,
 * ListMultipartUploads) and s3_error_parse (error bodies), plus the two
 * date parsers the listing and HEAD answers use.
 *
 * The first input byte chooses the chunk size (1..256), the rest is the
 * body.  Properties: every listed item has a key and a NUL-terminated
 * ETag; a truncated page ends in a failure, not in a half-filled item;
 * element paths and texts handed to callbacks are NUL-terminated strings;
 * no leak, overrun or undefined behaviour.
 */
#include "config.h"

#define MG_S3_INTERNAL 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "s3_private.h"
#include "fuzz.h"

static void on_elem(void *arg, const char *path, const char *text)
{
	size_t *n = arg;

	/* strlen walks the whole string: ASan sees a missing NUL */
	*n += strlen(path) + strlen(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s3_list_page p;
	size_t chunk, off, total = 0;
	struct s3_xml_cb cb = { on_elem, &total };
	char *code = NULL, *msg = NULL, *s;
	int r = 0;

	if (size < 1 || size > 256 * 1024)
		return 0;
	chunk = (size_t)data[0] + 1;
	data++;
	size--;

	s3_list_page_init(&p);
	for (off = 0; off < size && r == 0; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;

		r = s3_list_page_feed(&p, data + off, n, 0);
	}
	if (r == 0)
		r = s3_list_page_feed(&p, "", 0, 1);
	for (size_t i = 0; i < p.n; i++) {
		FUZZ_CHECK(p.items[i].key != NULL, "item %zu has no key", i);
		FUZZ_CHECK(memchr(p.items[i].etag, '\0', sizeof(p.items[i].etag)),
			   "etag of item %zu is not terminated", i);
		total += strlen(p.items[i].key);
	}
	if (p.next_token)
		total += strlen(p.next_token);
	s3_list_page_release(&p);

	(void)s3_xml_parse((const char *)data, size, &cb);
	s3_error_parse((const char *)data, size, &code, &msg);
	if (code)
		total += strlen(code);
	if (msg)
		total += strlen(msg);
	free(code);
	free(msg);

	s = fuzz_cstr(data, size < 200 ? size : 200);
	(void)s3_parse_iso8601(s);
	(void)s3_parse_http_date(s);
	free(s);
	(void)total;
	return 0;
}
