/*
 * walk.c - the walk and diff: the source listing merge-joined with every
 * target's journal range, deciding per object and target what to do.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "filter.h"
#include "run.h"

void print_dry(const char *what, const char *key, uint64_t size)
{
	struct mg_buf name = MG_BUF_INIT;
	char sz[32];

	/* escaped, and quoted where a space at either end would vanish */
	mg_buf_add_printable(&name, key, 1);
	mg_fmt_bytes(size, sz, sizeof(sz));
	printf("%-9s %10s  %s\n", what, sz, name.buf ? name.buf : "");
	mg_buf_release(&name);
}

/* Counts what moving one object will cost in requests, as the connectors
 * say they issue them (estimate). */
static void predict_read(struct run *run, struct mg_conn *src, const struct task *tk)
{
	if (src->ops->estimate_read)
		src->ops->estimate_read(src, tk->size, &run->src_counters);
	else
		run->src_counters.req[MG_REQ_GET]++;
	run->src_counters.bytes_read += tk->size;
}

/* Small objects are read once for all targets (process()); a multipart
 * or streamed one once per target that needs it. */
void predict(struct run *run, struct target_run *t, struct mg_conn *src,
	     struct mg_conn *dst, const struct task *tk, int *small_read)
{
	int nparts = multipart_parts(run, dst->ops, tk->size);
	int small = tk->size <= DEDUPE_MAX &&
		    (run->plan->transfer.dedupe || run->nt > 1);

	if (nparts || !small)
		predict_read(run, src, tk);
	else if (!*small_read) {
		predict_read(run, src, tk);
		*small_read = 1;
	}
	t->counters.bytes_written += tk->size;
	if (nparts) {
		if (dst->ops->estimate_multipart)
			dst->ops->estimate_multipart(dst, tk->size, nparts, &t->counters);
		else {
			t->counters.req[MG_REQ_MP_CREATE]++;
			t->counters.req[MG_REQ_MP_PART] += (uint64_t)nparts;
			t->counters.req[MG_REQ_MP_COMPLETE]++;
		}
	} else if (dst->ops->estimate_write) {
		dst->ops->estimate_write(dst, tk->size, &t->counters);
	} else {
		t->counters.req[MG_REQ_PUT]++;
	}
}

/* One target's side of the merge-join: its journal range, read along. */
struct jcursor {
	struct mg_journal_iter *it;
	struct mg_obj_record rec;
	const char *key;
	int r;
};

/*
 * The merge-join: the source listing and every target's journal range
 * (o/<tid>/) are all in key order, so one pass over the listing decides
 * for every target at once what it lacks.  Returns MG_OK, or the
 * listing's error (the run is then incomplete).
 */
int walk(struct run *run, struct mg_conn *src, struct mg_conn *dsts)
{
	const struct mg_plan *plan = run->plan;
	struct mg_lister *it = NULL;
	struct jcursor *jc = mg_calloc(run->nt, sizeof(*jc));
	struct tcursor *tc = mg_calloc(run->nt, sizeof(*tc));
	struct mg_buf prev = MG_BUF_INIT;
	int have_prev = 0, r;
	int64_t now = mg_now_ns() / 1000000000;

	for (size_t i = 0; i < run->nt; i++) {
		struct target_run *t = &run->targets[i];

		/* marks left by a run that died before its deletes */
		if (plan->mode == MG_MODE_SYNC && !run->opts->dry_run && !run->opts->estimate)
			drop_marks(run, t);
		mg_journal_iter_open(run->journal, t->ep->id, NULL, &jc[i].it);
		jc[i].r = mg_journal_iter_next(jc[i].it, &jc[i].key, NULL, &jc[i].rec);
		tcursor_open(run, t, &dsts[i], &tc[i]);
	}
	r = mg_list_open(src, NULL, &it);
	if (r != MG_OK)
		goto out;

	for (;;) {
		struct mg_entry e;
		struct task tk;
		int accepted, small_read = 0;

		if (mg_interrupted || run->stop)
			break;
		memset(&e, 0, sizeof(e));
		r = src->ops->list_next(it, &e);
		if (r == MG_DONE) {
			r = MG_OK;
			break;
		}
		if (r != MG_OK) {
			for (size_t i = 0; i < run->nt; i++)
				run->targets[i].listing_incomplete = 1;
			break;
		}
		if (have_prev && strcmp(prev.buf, e.key) >= 0) {
			for (size_t i = 0; i < run->nt; i++)
				run->targets[i].listing_incomplete = 1;
			r = mg_error_set(&src->err, MG_FATAL, 0, 0, "list",
					 "the '%s' connector listed '%s' after '%s': keys "
					 "out of order (a bug: please report it)",
					 src->ops->scheme, e.key, prev.buf);
			break;
		}
		mg_buf_reset(&prev);
		mg_buf_adds(&prev, e.key);
		have_prev = 1;
		pthread_mutex_lock(&run->mu);
		run->listed++;
		pthread_mutex_unlock(&run->mu);

		accepted = e.kind == MG_ENTRY_FILE && mg_filter_accept(plan, &e, now);
		if (e.kind == MG_ENTRY_SYMLINK && run->opts->dry_run)
			print_dry("skip-link", e.key, 0);
		if (e.kind == MG_ENTRY_SYMLINK && e.error && !run->opts->quiet &&
		    !run->opts->estimate) {
			/* a link the plan said to follow, skipped for a reason
			 * (it leads outside the source folder): say why */
			char a[256], b[600];

			fprintf(stderr, "migrate: '%s': skipped: %s\n",
				mg_printable(e.key, a, sizeof(a)),
				mg_printable(e.error, b, sizeof(b)));
		}
		else if (e.kind == MG_ENTRY_SPECIAL && run->opts->dry_run)
			print_dry("skip-special", e.key, 0);
		memset(&tk, 0, sizeof(tk));
		tk.size = e.size;
		tk.mtime_ns = e.mtime_ns;
		tk.mode = e.mode;
		snprintf(tk.src_etag, sizeof(tk.src_etag), "%s", e.etag);

		for (size_t i = 0; i < run->nt; i++) {
			struct target_run *t = &run->targets[i];
			struct jcursor *c = &jc[i];
			struct mg_obj_record cur;
			int cmp = 1;

			/* Advance the journal to this key whatever the entry
			 * is: a filtered or unreadable entry still exists at
			 * the source and must not look gone. */
			while (c->r == MG_OK && (cmp = strcmp(c->key, e.key)) < 0) {
				if (c->rec.state == MG_OBJ_DONE)
					t->st.journal_objects++;
				note_gone(run, t, c->key, &c->rec);
				c->r = mg_journal_iter_next(c->it, &c->key, NULL, &c->rec);
			}
			if (c->r != MG_OK)
				cmp = 1;
			tcursor_until(run, t, &dsts[i], &tc[i], e.key);
			if (cmp == 0) {
				/* take the matching record and move past it */
				cur = c->rec;
				if (cur.state == MG_OBJ_DONE)
					t->st.journal_objects++;
				c->r = mg_journal_iter_next(c->it, &c->key, NULL, &c->rec);
			}
			if (t->fatal)
				continue;
			if (e.kind == MG_ENTRY_ERROR) {
				struct mg_error err = { 0 };

				/* what sits below an unreadable folder is
				 * unknown, so nothing may look gone this run */
				t->listing_errors = 1;
				mg_error_set(&err, MG_FAILED, 0, 0, "list", "%s", e.error);
				record_failure(run, t, e.key, &err, 0);
				continue;
			}
			if (e.kind == MG_ENTRY_SYMLINK) {
				t->st.skipped_links++;
				continue;
			}
			if (e.kind == MG_ENTRY_SPECIAL) {
				t->st.skipped_special++;
				continue;
			}
			if (!accepted) {
				t->st.filtered_objects++;
				continue;
			}
			if (folder_marker(t, e.key, e.size)) {
				t->st.skipped_special++;
				if (run->opts->dry_run)
					print_dry("skip-dir", e.key, 0);
				continue;
			}
			if (key_refused(run, t, e.key, e.size, "copy"))
				continue;
			if (cmp == 0 && cur.state == MG_OBJ_DONE && cur.size == e.size &&
			    cur.mtime_ns == e.mtime_ns &&
			    (!e.etag[0] || !cur.src_etag[0] || !strcmp(e.etag, cur.src_etag))) {
				t->st.unchanged_objects++;
				t->st.unchanged_bytes += e.size;
				if (run->logj && !run->opts->dry_run && !run->opts->estimate)
					log_object(run, t, e.key, e.size, &cur, "skipped", 0, NULL);
				continue;
			}
			tk.need |= 1ULL << i;
			if (cmp == 0 && cur.state == MG_OBJ_DONE)
				tk.changed_mask |= 1ULL << i;
			if (run->opts->dry_run || run->opts->estimate) {
				int changed = (tk.changed_mask >> i) & 1;

				if (run->opts->estimate)
					predict(run, t, src, &dsts[i], &tk, &small_read);
				else
					print_dry(changed ? "changed" : "new", e.key, e.size);
				if (changed) {
					t->st.changed_objects++;
				} else {
					t->st.new_objects++;
					t->st.new_bytes += e.size;
				}
				t->st.copied_bytes += e.size;
			}
		}
		if (!tk.need || run->opts->dry_run || run->opts->estimate)
			continue;
		tk.key = mg_strdup(e.key);
		if (queue_push(run, &tk) < 0)
			break;
	}
	/* Past the last listed key: the rest of each journal is gone too, if
	 * the listing really ended. */
	if (r == MG_OK && !mg_interrupted && !run->stop)
		for (size_t i = 0; i < run->nt; i++)
			while (jc[i].r == MG_OK) {
				if (jc[i].rec.state == MG_OBJ_DONE)
					run->targets[i].st.journal_objects++;
				note_gone(run, &run->targets[i], jc[i].key, &jc[i].rec);
				jc[i].r = mg_journal_iter_next(jc[i].it, &jc[i].key, NULL,
							       &jc[i].rec);
			}
	if (r == MG_OK && !mg_interrupted && !run->stop)
		for (size_t i = 0; i < run->nt; i++)
			tcursor_until(run, &run->targets[i], &dsts[i], &tc[i], NULL);
	src->ops->list_close(it);
out:
	for (size_t i = 0; i < run->nt; i++) {
		mg_journal_iter_close(jc[i].it);
		tcursor_close(&dsts[i], &tc[i]);
	}
	free(jc);
	free(tc);
	mg_buf_release(&prev);
	return r;
}
