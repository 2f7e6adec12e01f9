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
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>

#include "run.h"

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
	char esc[1024];

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
	fprintf(stderr, "migrate: %s\n", mg_printable(err.msg, esc, sizeof(esc)));
	set_fatal(run, NULL, &err);
	for (size_t i = 0; i < run->nt; i++)
		run->targets[i].fatal_said = 1;
	return -1;
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
