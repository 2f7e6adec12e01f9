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
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

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
