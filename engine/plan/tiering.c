/*
 * tiering.c - which storage class an object gets (issue 15.3): the plan's
 * `tiering:` rules, first match wins.
 *
 * A rule matches when every condition it sets holds: its glob (filter.h's
 * syntax, '**' included), its size bounds (inclusive) and its age bounds
 * against the source mtime.  An object whose mtime the source does not
 * know matches no rule with an age bound: "older than 90 days" must not
 * send an object of unknown age to a cold class it may be slow and dear
 * to read back from.  No rule matching : the target's storage_class (or
 * the provider's default) applies, as without rules.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "connector.h"
#include "filter.h"
#include "plan.h"

static int rule_matches(const struct mg_tier_rule *r, const char *key,
			uint64_t size, int64_t mtime_ns, int64_t now)
{
	if (r->min_size && size < r->min_size)
		return 0;
	if (r->max_size && size > r->max_size)
		return 0;
	if (r->older_than || r->newer_than) {
		int64_t mtime = mtime_ns / 1000000000;

		if (!mtime_ns)
			return 0;
		if (r->older_than && mtime > now - r->older_than)
			return 0;
		if (r->newer_than && mtime < now - r->newer_than)
			return 0;
	}
	return !r->match || mg_glob_match(r->match, key);
}

int mg_tier_target(const struct mg_endpoint *ep)
{
	const struct mg_connector *c = ep->ops;

	for (size_t i = 0; c && i < c->noptions; i++)
		if (strcmp(c->options[i].name, "storage_class") == 0)
			return 1;
	return 0;
}

int mg_tier_pick(const struct mg_plan *plan, const char *key, uint64_t size,
		 int64_t mtime_ns, int64_t now)
{
	for (size_t i = 0; i < plan->ntiering; i++)
		if (rule_matches(&plan->tiering[i], key, size, mtime_ns, now))
			return (int)i;
	return -1;
}
