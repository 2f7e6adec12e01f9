/*
 * governance.c - plan-wide governance of a run (issue 15): the residency
 * guard.
 *
 * Before the first byte moves, each target's (and, with
 * residency.sources, the source's) region is asked of the server itself
 * (mg_region: for S3 the bucket's x-amz-bucket-region or
 * GetBucketLocation), never taken from the plan's `region:`, which only
 * says how requests are signed.  A place outside the allowed set stops
 * the run before it starts (exit 3), naming the place, its region and the
 * rule.  `estimate` runs the same guard, so it shows the regions and
 * refuses the same plans.  It costs one HEAD (two where the server sends
 * no region header) per guarded endpoint and run, only with `residency:`.
 *
 * And the audit trail's digest of the plan's tags and metadata
 * (governance_digest), which --log-json writes with every object.
 *
 * And retention (issue 15.5): the Object Lock check at the start
 * (governance_retention), the lock on each object's record
 * (governance_stamp) and the estimate's count of sync deletes it would
 * refuse (governance_note_gone).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>

#include "run.h"

/* A guard refused the run before the first byte: said once, every
 * target fatal (exit 3).  Returns -1. */
static int governance_refuse(struct run *run, const struct mg_error *err)
{
	char esc[1024];

	fprintf(stderr, "migrate: %s\n", mg_printable(err->msg, esc, sizeof(esc)));
	set_fatal(run, NULL, err);
	for (size_t i = 0; i < run->nt; i++)
		run->targets[i].fatal_said = 1;
	return -1;
}

/* 0: allowed (or nothing to check), -1: refused with err filled. */
static int guard_one(struct run *run, struct mg_conn *c, const char *role,
		     char *const *allowed, size_t nallowed, const char *rule,
		     struct mg_error *err)
{
	const struct mg_endpoint *ep = c->ep;
	struct mg_buf b = MG_BUF_INIT;
	char region[64], esc[1024];
	int r;

	mg_error_clear(&c->err);
	r = mg_region(c, region, sizeof(region));
	if (r == MG_ABSENT) {
		if (!run->opts->quiet)
			fprintf(stderr, "migrate: residency: %s %s has no region to check "
				"(not a bucket): not guarded\n", role,
				mg_printable(ep->url, esc, sizeof(esc)));
		return 0;
	}
	if (r != MG_OK) {
		mg_error_set(err, MG_FATAL, 0, c->err.remote_code, "residency",
			     "residency: cannot learn the region of %s '%s' (%s): nothing "
			     "was moved; the rule '%s' needs it", role, ep->url,
			     c->err.msg, rule);
		return -1;
	}
	mg_residency_text(allowed, nallowed, &b);
	if (!mg_residency_allows(allowed, nallowed, region)) {
		mg_error_set(err, MG_FATAL, 0, 0, "residency",
			     "residency: %s '%s' is in region '%s', outside %s: [%s]: "
			     "nothing was moved; use a bucket in an allowed region or "
			     "change '%s' in the plan", role, ep->url, region, rule,
			     b.buf, rule);
		mg_buf_release(&b);
		return -1;
	}
	if (!run->opts->quiet)
		fprintf(stderr, "migrate: residency: %s %s is in region %s (%s: %s)\n",
			role, mg_printable(ep->url, esc, sizeof(esc)), region, rule, b.buf);
	mg_buf_release(&b);
	return 0;
}

int governance_residency(struct run *run, struct mg_conn *src,
			 struct mg_conn *dsts, const int *dst_ok)
{
	const struct mg_plan *plan = run->plan;
	struct mg_error err = { 0 };

	if (plan->residency.nsources &&
	    guard_one(run, src, "source", plan->residency.sources,
		      plan->residency.nsources, "residency.sources", &err) < 0)
		goto refused;
	for (size_t i = 0; i < run->nt && plan->residency.nregions; i++) {
		if (!dst_ok[i])
			continue;
		if (guard_one(run, &dsts[i], "target", plan->residency.regions,
			      plan->residency.nregions, "residency.regions", &err) < 0)
			goto refused;
	}
	return 0;
refused:
	return governance_refuse(run, &err);
}

void governance_digest(const struct mg_plan *plan, char out[65])
{
	EVP_MD_CTX *md;
	unsigned char d[32];

	out[0] = '\0';
	if (!plan->ntags && !plan->nmeta)
		return;
	md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	/* "tag\0k\0v\0" and "meta\0k\0v\0" in plan order: a change of any
	 * name, value or kind changes the digest */
	for (size_t i = 0; i < plan->ntags; i++) {
		EVP_DigestUpdate(md, "tag", 4);
		EVP_DigestUpdate(md, plan->tags[i].k, strlen(plan->tags[i].k) + 1);
		EVP_DigestUpdate(md, plan->tags[i].v, strlen(plan->tags[i].v) + 1);
	}
	for (size_t i = 0; i < plan->nmeta; i++) {
		EVP_DigestUpdate(md, "meta", 5);
		EVP_DigestUpdate(md, plan->meta[i].k, strlen(plan->meta[i].k) + 1);
		EVP_DigestUpdate(md, plan->meta[i].v, strlen(plan->meta[i].v) + 1);
	}
	EVP_DigestFinal_ex(md, d, NULL);
	EVP_MD_CTX_free(md);
	mg_hex(d, sizeof(d), out);
}

/*
 * Retention and legal hold (issue 15.5).  Before the first byte moves,
 * each target's bucket is asked whether it has Object Lock
 * (GetObjectLockConfiguration: one request per target and run, only
 * when the plan asks for retention or a legal hold): a bucket without
 * it would store every object unlocked, or refuse every PUT, so the run
 * refuses to start (exit 3) and says what to do.  `estimate` asks too.
 * The retain-until date is one for the whole run: `days` after its
 * start, or `until` as written.
 */
int governance_retention(struct run *run, struct mg_conn *dsts, const int *dst_ok)
{
	const struct mg_retention *ret = &run->plan->retention;
	struct mg_error err = { 0 };
	int64_t now = run->id / 1000000000;
	char esc[1024], what[96], msg[200];

	if (ret->mode == MG_LOCK_NONE && !ret->legal_hold)
		return 0;
	if (mg_retention_check(ret, now, msg, sizeof(msg)) < 0) {
		mg_error_set(&err, MG_FATAL, 0, 0, "retention",
			     "%s: nothing was moved", msg);
		goto refused;
	}
	if (ret->mode != MG_LOCK_NONE) {
		run->lock_until_s = mg_retention_until(ret, now);
		mg_date_iso8601(run->lock_until_s, run->lock_until);
		run->gov.lock_mode = mg_lock_mode_name(ret->mode);
		run->gov.lock_until = run->lock_until;
	}
	run->gov.legal_hold = ret->legal_hold;
	mg_retention_text(run->gov.lock_mode, run->lock_until_s,
			  ret->legal_hold, what, sizeof(what));
	for (size_t i = 0; i < run->nt; i++) {
		struct target_run *t = &run->targets[i];
		const char *url = t->ep->url;
		int enabled = 0, r;

		if (!dst_ok[i])
			continue;
		mg_error_clear(&dsts[i].err);
		r = mg_object_lock(&dsts[i], &enabled);
		if (r == MG_ABSENT) {
			if (!run->opts->quiet)
				fprintf(stderr, "migrate: retention: target %s is not a "
					"bucket: its objects are not locked\n",
					mg_printable(url, esc, sizeof(esc)));
			continue;
		}
		if (r != MG_OK) {
			mg_error_set(&err, MG_FATAL, 0, dsts[i].err.remote_code, "retention",
				     "retention: cannot learn whether the bucket of target "
				     "'%s' has Object Lock (%s): nothing was moved; the plan's "
				     "retention needs it", url, dsts[i].err.msg);
			goto refused;
		}
		if (!enabled) {
			mg_error_set(&err, MG_FATAL, 0, 0, "retention",
				     "retention: bucket '%s' (target '%s') does not have "
				     "Object Lock, so it cannot keep objects %s: nothing was "
				     "moved; write to a bucket made with Object Lock (aws "
				     "s3api create-bucket --object-lock-enabled-for-bucket), "
				     "or remove 'retention' and 'legal_hold' from the plan",
				     t->ep->host ? t->ep->host : "", url, what);
			goto refused;
		}
		t->object_lock = 1;
		if (!run->opts->quiet)
			fprintf(stderr, "migrate: retention: target %s has Object Lock: "
				"every object written is kept %s\n",
				mg_printable(url, esc, sizeof(esc)), what);
	}
	return 0;
refused:
	return governance_refuse(run, &err);
}

/* What a target with Object Lock was asked to keep, on the object's
 * record (the journal, --log-json, lineage): from the run's governance,
 * the same for every object of the run. */
void governance_stamp(const struct run *run, const struct target_run *t,
		      struct mg_obj_record *rec)
{
	if (!t->object_lock)
		return;
	if (run->gov.lock_mode) {
		snprintf(rec->lock_mode, sizeof(rec->lock_mode), "%s", run->gov.lock_mode);
		rec->lock_until = run->lock_until_s;
	}
	rec->legal_hold = run->gov.legal_hold;
}

/* The journal's record of key at t, when it says the object is locked
 * at now_s (retention not over, or a legal hold); 0 otherwise. */
int governance_locked(struct run *run, const struct target_run *t, const char *key,
		      int64_t now_s, struct mg_obj_record *rec)
{
	return run->journal &&
	       mg_journal_get_obj(run->journal, t->ep->id, key, rec) == MG_OK &&
	       mg_retention_in_force(rec->lock_mode, rec->lock_until, rec->legal_hold,
				     now_s);
}

/* estimate: a sync delete of key at t would be refused, the journal
 * says (the object was written locked and the lock holds now). */
void governance_note_gone(struct run *run, struct target_run *t, const char *key)
{
	struct mg_obj_record rec;

	if (governance_locked(run, t, key, mg_now_ns() / 1000000000, &rec)) {
		t->st.locked_objects++;
		t->st.locked_bytes += rec.size;
	}
}
