/*
 * tiering.c - storage classes per object in a run (issue 15.3) and their
 * share of the audit trail (15.6).
 *
 * The walk picks each object's tiering rule once (mg_tier_pick); the
 * class that rule names rides on the requests the run makes anyway (PUT,
 * CreateMultipartUpload, the dedupe COPY) through mg_put_info, and the
 * journal keeps it with the object.  An object a later run finds
 * unchanged but journaled under another class than the rules now give it
 * is re-classed by a server-side copy onto itself: its bytes are not sent
 * again, its metadata and tags stay as they are, and the copy is counted
 * (summary, --json, estimate).  The copy is conditional on the ETag the
 * journal recorded, so an object changed behind the run's back is never
 * re-classed under the journal's description of it.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "run.h"

void tiering_init(struct run *run)
{
	const struct mg_plan *plan = run->plan;

	for (size_t i = 0; i < run->nt; i++) {
		struct target_run *t = &run->targets[i];
		const char *sse = mg_endpoint_encryption(t->ep, NULL, NULL, 0);
		const char *cls = mg_endpoint_str(t->ep, "storage_class");

		t->enc = sse ? sse : "";
		t->classes = mg_tier_target(t->ep) && (plan->ntiering || (cls && *cls));
	}
	if (!plan->ntiering)
		return;
	/* a rule's tags over the plan's: same name, the rule's value */
	run->gov_rule = mg_calloc(plan->ntiering, sizeof(*run->gov_rule));
	for (size_t r = 0; r < plan->ntiering; r++) {
		const struct mg_tier_rule *tr = &plan->tiering[r];
		struct mg_kv *kv;
		size_t n = 0;

		if (!tr->ntags)
			continue;
		kv = mg_calloc(plan->ntags + tr->ntags, sizeof(*kv));
		for (size_t i = 0; i < plan->ntags; i++) {
			int over = 0;

			for (size_t j = 0; j < tr->ntags; j++)
				over |= strcmp(plan->tags[i].k, tr->tags[j].k) == 0;
			if (!over)
				kv[n++] = plan->tags[i];
		}
		for (size_t j = 0; j < tr->ntags; j++)
			kv[n++] = tr->tags[j];
		run->gov_rule[r] = run->gov;
		run->gov_rule[r].tags = kv;
		run->gov_rule[r].ntags = n;
	}
}

void tiering_release(struct run *run)
{
	/* only the rules with tags of their own have a list of theirs */
	for (size_t r = 0; run->gov_rule && r < run->plan->ntiering; r++)
		if (run->plan->tiering[r].ntags)
			free((void *)run->gov_rule[r].tags);
	free(run->gov_rule);
	run->gov_rule = NULL;
	for (size_t i = 0; i < run->nt; i++) {
		free(run->targets[i].ctally);
		run->targets[i].ctally = NULL;
	}
}

const char *tier_class(const struct run *run, const struct target_run *t, int rule)
{
	const char *cls;

	if (!t->classes)
		return "";
	if (rule >= 0)
		return run->plan->tiering[rule].cls;
	cls = mg_endpoint_str(t->ep, "storage_class");
	return cls ? cls : "";
}

/* A class as the server has it: "" (nothing asked) is the default,
 * STANDARD on every S3 provider. */
static const char *class_norm(const char *c)
{
	return c && *c ? c : "STANDARD";
}

int tier_wants_reclass(const struct run *run, const struct target_run *t,
		       const struct mg_obj_record *cur, int rule)
{
	const char *want, *had;

	if (!t->classes || !(t->ops && (t->ops->caps & MG_CAP_SERVER_COPY)))
		return 0;
	want = tier_class(run, t, rule);
	/* a record from before issue 15 has no class: it was written with
	 * the endpoint's storage_class, the only one there was */
	had = cur->sclass[0] || cur->enc[0] ? cur->sclass : tier_class(run, t, -1);
	return strcasecmp(class_norm(want), class_norm(had)) != 0;
}

static void tally_add(struct tier_tally *tab, size_t *n, size_t max,
		      const char *name, uint64_t size)
{
	size_t i;

	for (i = 0; i < *n && strcmp(tab[i].name, name); i++)
		;
	if (i == *n) {
		if (*n < max) {
			snprintf(tab[i].name, sizeof(tab[i].name), "%s", name);
			(*n)++;
		} else {
			i = max - 1;	/* full: the last takes the rest */
		}
	}
	tab[i].objects++;
	tab[i].bytes += size;
}

void tier_count(struct target_run *t, const struct mg_obj_record *rec, uint64_t size)
{
	struct tier_counts *c = &t->tier;

	if (t->classes)
		tally_add(c->cls, &c->ncls, TIER_NAMES, class_norm(rec->sclass), size);
	tally_add(c->enc, &c->nenc, sizeof(c->enc) / sizeof(c->enc[0]),
		  rec->enc[0] ? rec->enc : "none", size);
}

void tier_reclass(struct worker *w, struct task *tk)
{
	struct run *run = w->run;
	struct target_run *t = w->t;
	struct mg_put_info info = put_info(run, tk);
	struct mg_put_final fin;
	struct mg_put_result res = { { 0 }, { 0 } };
	struct mg_obj_record rec;
	int r = MG_FAILED, attempts = 0;

	/* the record the walk saw (nothing else writes this key's now) */
	if (mg_journal_get_obj(run->journal, t->ep->id, tk->key, &rec) != MG_OK)
		return;
	memset(&fin, 0, sizeof(fin));
	/* what a copy too large for one request writes again as metadata */
	snprintf(fin.sha256, sizeof(fin.sha256), "%s", rec.sha256);
	info.reclass = 1;
	info.storage_class = *tk->sclass ? tk->sclass : NULL;
	info.copy_if_match = rec.etag[0] ? rec.etag : NULL;
	memset(&w->times, 0, sizeof(w->times));
	rec.t_start = mg_now_ns();
	for (int attempt = 0; attempt <= run->plan->transfer.retries && !mg_interrupted;
	     attempt++) {
		attempts = attempt + 1;
		mg_error_clear(&w->dst->err);
		r = mg_copy(w->dst, tk->key, tk->key, &info, fin.sha256[0] ? &fin : NULL,
			    &res);
		if (r != MG_RETRY)
			break;
		mg_nap(200LL << (attempt < 5 ? attempt : 5));
	}
	if (r != MG_OK) {
		struct mg_error err = { 0 };

		if (r == MG_ABSENT)
			mg_error_set(&err, MG_FAILED, 0, 412, "reclass",
				     "re-class to %s: the object at the target is not the one "
				     "the journal recorded (changed by someone else?): "
				     "'migrate verify' finds what differs",
				     class_norm(tk->sclass));
		else
			mg_error_copy(&err, &w->dst->err);
		if (r == MG_FATAL)
			set_fatal(run, t, &err);
		else
			record_failure(run, t, tk->key, &err, tk->size);
		log_object(run, t, tk->key, tk->size, NULL, "failed", attempts,
			   err.msg, &w->times);
		return;
	}
	snprintf(rec.sclass, sizeof(rec.sclass), "%s", tk->sclass);
	snprintf(rec.enc, sizeof(rec.enc), "%s", t->enc);
	if (res.etag[0])
		snprintf(rec.etag, sizeof(rec.etag), "%s", res.etag);
	rec.t_done = mg_now_ns();
	rec.run = run->id;
	/* durable before it is counted: a lost record costs one more copy
	 * next run, never a wrong class in the audit trail */
	if (journal_check(run, mg_journal_put_obj(run->journal, t->ep->id, tk->key,
						  &rec, 1), "a re-classed object's record") != MG_OK)
		return;
	pthread_mutex_lock(&run->mu);
	t->st.reclassed_objects++;
	t->st.reclassed_bytes += tk->size;
	tier_count(t, &rec, tk->size);
	pthread_mutex_unlock(&run->mu);
	log_object(run, t, tk->key, tk->size, &rec, "reclassed", attempts, NULL,
		   &w->times);
}

static json_t *tally_json(const struct tier_tally *tab, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, tab[i].name,
				    json_pack("{s:I,s:I}", "objects", (json_int_t)tab[i].objects,
					      "bytes", (json_int_t)tab[i].bytes));
	return o;
}

json_t *tier_json(const struct target_run *t)
{
	json_t *o = json_object();

	json_object_set_new(o, "by_class", tally_json(t->tier.cls, t->tier.ncls));
	json_object_set_new(o, "by_encryption", tally_json(t->tier.enc, t->tier.nenc));
	json_object_set_new(o, "reclassed_objects", json_integer((json_int_t)t->st.reclassed_objects));
	json_object_set_new(o, "reclassed_bytes", json_integer((json_int_t)t->st.reclassed_bytes));
	return o;
}

static void tally_print(const char *what, const struct tier_tally *tab, size_t n)
{
	char sz[32];

	if (!n)
		return;
	fprintf(stderr, "  %s:", what);
	for (size_t i = 0; i < n; i++) {
		mg_fmt_bytes(tab[i].bytes, sz, sizeof(sz));
		fprintf(stderr, "%s %s %" PRIu64 " (%s)", i ? "," : "", tab[i].name,
			tab[i].objects, sz);
	}
	fputc('\n', stderr);
}

void tier_print(const struct target_run *t)
{
	if (t->st.reclassed_objects) {
		char sz[32];

		mg_fmt_bytes(t->st.reclassed_bytes, sz, sizeof(sz));
		fprintf(stderr, "  re-classed: %" PRIu64 " objects (%s) by a server-side copy onto "
			"themselves, nothing sent again\n", t->st.reclassed_objects, sz);
	}
	tally_print("written per class", t->tier.cls, t->tier.ncls);
	tally_print("written per encryption", t->tier.enc, t->tier.nenc);
}

/* ---- the estimate's per-class tally (issue 15.3) ---- */

static struct mg_class_tally *est_class(struct target_run *t, const char *cls)
{
	const char *name = class_norm(cls);
	size_t i;

	for (i = 0; i < t->nctally; i++)
		if (strcasecmp(t->ctally[i].cls, name) == 0)
			return &t->ctally[i];
	if (i == MG_CLASS_TALLY_MAX)
		return &t->ctally[i - 1];	/* a plan names far fewer */
	snprintf(t->ctally[i].cls, sizeof(t->ctally[i].cls), "%s", name);
	t->nctally++;
	return &t->ctally[i];
}

/* The class a journal record says the object is in. */
static const char *held_class(const struct run *run, const struct target_run *t,
			      const struct mg_obj_record *cur)
{
	return cur->sclass[0] || cur->enc[0] ? cur->sclass : tier_class(run, t, -1);
}

static int est_on(const struct run *run, struct target_run *t)
{
	if (!run->plan->ntiering || !t->classes)
		return 0;
	if (!t->ctally)
		t->ctally = mg_calloc(MG_CLASS_TALLY_MAX, sizeof(*t->ctally));
	return 1;
}

void tier_est_written(const struct run *run, struct target_run *t, const struct task *tk,
		      const struct mg_counters *before)
{
	struct mg_class_tally *c;

	if (!est_on(run, t))
		return;
	c = est_class(t, tier_class(run, t, tk->rule));
	c->objects++;
	c->bytes += tk->size;
	c->stored_objects++;
	c->stored_bytes += tk->size;
	mg_small_objects_add(&c->small, tk->size);
	for (int r = 0; r < MG_REQ__COUNT; r++)
		c->req[r] += t->counters.req[r] - before->req[r];
}

void tier_est_held(const struct run *run, struct target_run *t,
		   const struct mg_obj_record *cur, uint64_t size)
{
	struct mg_class_tally *c;

	if (!est_on(run, t))
		return;
	c = est_class(t, held_class(run, t, cur));
	c->stored_objects++;
	c->stored_bytes += size;
	mg_small_objects_add(&c->small, size);
}

void tier_est_reclass(const struct run *run, struct target_run *t,
		      const struct mg_obj_record *cur, const char *cls, uint64_t size)
{
	struct mg_class_tally *from, *to;

	if (!est_on(run, t))
		return;
	/* tier_est_held counted it where it was: it moves */
	from = est_class(t, held_class(run, t, cur));
	from->stored_objects--;
	from->stored_bytes -= size;
	mg_small_objects_sub(&from->small, size);
	to = est_class(t, cls);
	to->stored_objects++;
	to->stored_bytes += size;
	mg_small_objects_add(&to->small, size);
	to->reclassed++;
	to->req[MG_REQ_COPY]++;
}
