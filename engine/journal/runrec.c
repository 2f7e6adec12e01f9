/*
 * runrec.c - reading back the run records the engine writes into the
 * journal; see runrec.h.
 */
#include "config.h"

#include <sys/stat.h>
#include <jansson.h>

#include "mg.h"
#include "runrec.h"

uint64_t mg_runrec_u64(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(o, a);

	if (b)
		v = json_object_get(v, b);
	return json_is_integer(v) && json_integer_value(v) > 0 ?
		(uint64_t)json_integer_value(v) : 0;
}

void mg_runrec_target_read(json_t *t, struct mg_runrec_target *out)
{
	out->url = json_string_value(json_object_get(t, "url"));
	out->fatal = json_string_value(json_object_get(t, "fatal"));
	out->copied_objects = mg_runrec_u64(t, "copied", "objects");
	out->copied_bytes = mg_runrec_u64(t, "copied", "bytes");
	out->unchanged_objects = mg_runrec_u64(t, "unchanged", "objects");
	out->failed_objects = mg_runrec_u64(t, "failed", "objects");
}

int mg_runrec_journal_exists(const char *dir)
{
	struct mg_buf b = MG_BUF_INIT;
	struct stat st;
	int r;

	r = mg_buf_addf(&b, "%s/CURRENT", dir) == 0 && stat(b.buf, &st) == 0;
	mg_buf_release(&b);
	return r;
}
