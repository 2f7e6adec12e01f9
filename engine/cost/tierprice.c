/*
 * tierprice.c - the tiering rules against the price table (issue 15.3):
 * every class a rule names must be one the table lists for each target's
 * provider, or `check` and `estimate` refuse the plan with the rule's
 * FILE:LINE:COL (an archive class priced as Standard would be wrong by
 * orders of magnitude, and a class the provider lacks fails every PUT).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pricing.h"

int mg_tiering_priced(const struct mg_pricing *t, const struct mg_plan *plan,
		      char *msg, size_t msglen)
{
	for (size_t i = 0; i < plan->ntargets; i++) {
		const char *prov = mg_pricing_provider_of(&plan->targets[i]);

		/* a provider the table does not know: the estimate asks
		 * for 'provider:' on its own, and check cannot tell */
		if (!prov || !mg_pricing_find(t, prov, NULL))
			continue;
		for (size_t r = 0; r < plan->ntiering; r++) {
			const struct mg_tier_rule *tr = &plan->tiering[r];
			struct mg_buf names = MG_BUF_INIT;

			if (mg_pricing_find(t, prov, tr->cls))
				continue;
			mg_pricing_classes(t, prov, &names);
			snprintf(msg, msglen, "%s:%u:%u: tiering rule %zu: unknown storage class '%s' for target '%s' (provider '%s' in the price table '%s'): known classes are %s",
				 plan->file ? plan->file : "plan", tr->line, tr->col, r + 1,
				 tr->cls, plan->targets[i].url, prov, t->file ? t->file : "",
				 names.buf ? names.buf : "none");
			mg_buf_release(&names);
			return -1;
		}
	}
	return 0;
}

int mg_tiering_check(const struct mg_plan *plan)
{
	struct mg_pricing table;
	struct mg_error err = { 0 };
	char *path, msg[1024];
	int r = 0;

	if (!plan->ntiering)
		return 0;
	path = mg_pricing_locate(plan->pricing_file, NULL, &err);
	if (!path || mg_pricing_load(path, &table, &err) != MG_OK) {
		/* without the table the classes cannot be checked: say so */
		fprintf(stderr, "migrate: tiering: the storage classes are not checked: %s\n",
			err.msg);
		free(path);
		return 0;
	}
	if (mg_tiering_priced(&table, plan, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "%s\n", msg);
		r = -1;
	}
	mg_pricing_release(&table);
	free(path);
	return r;
}
