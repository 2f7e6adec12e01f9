/*
 * probe_parts.c - `migrate probe`'s part-size search (issue 16.2): after
 * the concurrency passes, a target that takes multipart uploads gets the
 * same multipart objects written in parts of two or three sizes (8, 16,
 * 32 MiB, as many as the byte cap holds), at the plan's concurrency, each
 * object's parts one after the other as a run sends them.  The size that
 * wrote fastest is reported and kept with the rates in the journal.
 *
 * The objects are probe keys like the others (numbered on from the
 * concurrency passes'), under the prefix the journal recorded before the
 * first write: the cleanup removes them, and aborts an upload a killed
 * probe left open, as it does for the rest.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MG_PROBE_INTERNAL
#include "probe_private.h"

static const uint64_t part_sizes[PROBE_PART_SIZES] = { 8u << 20, 16u << 20, 32u << 20 };

/*
 * Every pass writes the same objects, two parts of the largest size each,
 * so the sizes compare on equal bytes: the largest is dropped until a pass
 * per size fits in the budget.  One size alone is no comparison.
 */
int probe_part_sizes(uint64_t budget, uint64_t *sizes, uint64_t *object_size)
{
	int n = PROBE_PART_SIZES;

	while (n >= 2 && (uint64_t)n * 2 * part_sizes[n - 1] > budget)
		n--;
	if (n < 2)
		return 0;
	memcpy(sizes, part_sizes, (size_t)n * sizeof(*sizes));
	*object_size = 2 * part_sizes[n - 1];
	return n;
}

int probe_write_parts(struct pass_run *r, struct mg_conn *c, uint64_t i, uint64_t size)
{
	struct mg_put_info info = { .size = size, .mode = 0600 };
	struct mg_put_result res;
	int n = (int)((size + r->part_size - 1) / r->part_size), rc;
	struct mg_part *parts = mg_calloc((size_t)n, sizeof(*parts));
	char key[256], id[512] = "";

	probe_key_name(r->p, r->first + i, key, sizeof(key));
	rc = mg_mp_create(c, key, &info, NULL, id, sizeof(id));
	for (int k = 0; rc == MG_OK && k < n; k++) {
		uint64_t len = size - (uint64_t)k * r->part_size;

		if (len > r->part_size)
			len = r->part_size;
		parts[k].number = k + 1;
		parts[k].size = len;
		/* two different halves of the random bytes, in turn */
		rc = mg_mp_upload_part(c, key, id, &parts[k],
				       r->p->data + (k & 1 ? PROBE_MAX_OBJECT - len : 0),
				       (size_t)len);
		mg_etag_unquote(parts[k].etag, parts[k].etag, sizeof(parts[k].etag));
	}
	if (rc == MG_OK) {
		rc = mg_mp_complete(c, key, id, parts, n, &res);
	} else if (id[0]) {
		struct mg_error keep = c->err;	/* the error to tell */

		mg_mp_abort(c, key, id);	/* else the cleanup does */
		c->err = keep;
	}
	free(parts);
	return rc;
}

uint64_t probe_parts(struct probe *p, const struct mg_endpoint *ep, struct probe_target *t,
		     uint64_t *used, const uint64_t *sizes, int n, uint64_t object_size,
		     uint64_t per_pass, json_t *out)
{
	int conc = p->plan->transfer.concurrency;
	uint64_t nobj = per_pass / object_size;
	const struct pass *best;
	struct pass v[PROBE_PART_SIZES];
	char osz[32], psz[32], b[32], rate[32];

	mg_fmt_bytes(object_size, osz, sizeof(osz));
	fprintf(p->out, "  part sizes: %" PRIu64 " multipart object%s of %s each, at "
		"concurrency %d\n", nobj, nobj == 1 ? "" : "s", osz,
		(uint64_t)conc < nobj ? conc : (int)nobj);
	for (int k = 0; k < n && !mg_interrupted; k++) {
		struct pass_run r = { .p = p, .ep = ep, .write = 1, .first = *used,
				      .part_size = sizes[k], .object_size = object_size,
				      .nobj = nobj };
		const struct pass *s = &r.res;
		double secs;
		json_t *j;

		probe_run_pass(&r, (uint64_t)conc < nobj ? conc : (int)nobj, &t->cost);
		*used = r.last_key > *used ? r.last_key : *used;
		t->objects_written += r.res.objects;
		t->parts[t->nparts].part_size = sizes[k];
		t->parts[t->nparts++].pass = r.res;
		v[k] = r.res;
		secs = s->secs > 0 ? s->secs : 1e-9;
		mg_fmt_bytes(sizes[k], psz, sizeof(psz));
		mg_fmt_bytes(s->bytes, b, sizeof(b));
		mg_fmt_bytes((uint64_t)((double)s->bytes / secs), rate, sizeof(rate));
		fprintf(p->out, "  parts of %9s: %6" PRIu64 " objects, %10s in %6.2f s: %10s/s, "
			"%7.1f requests/s%s\n", psz, s->objects, b, s->secs, rate,
			(double)s->requests / secs, s->failed ? " (some failed)" : "");
		j = probe_pass_json(s);
		json_object_set_new(j, "part_size", json_integer((json_int_t)sizes[k]));
		json_array_append_new(out, j);
		if (r.first_error[0]) {
			fprintf(stderr, "migrate: probe: writing to %s in parts of %s: %s\n", ep->url,
				psz, r.first_error);
			p->code = MG_EXIT_PARTIAL;
		}
	}
	if (t->nparts < 2 || mg_interrupted)
		return 0;
	best = probe_best(v, t->nparts);
	for (int k = 0; k < t->nparts; k++)
		if (best == &v[k]) {
			mg_fmt_bytes(sizes[k], psz, sizeof(psz));
			mg_fmt_bytes(p->plan->transfer.part_size, b, sizeof(b));
			fprintf(p->out, "  part size %s wrote fastest (the plan has %s)\n", psz, b);
			return best->failed ? 0 : sizes[k];
		}
	return 0;
}
