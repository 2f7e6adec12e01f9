/*
 * minimums.c - the rules that bill more than what is stored and sent:
 * minimum billable object sizes, and the monthly free allowances an
 * account may already have spent.  pricing.c applies them.
 */
#include "config.h"

#include <string.h>

#include "pricing.h"

void mg_small_objects_add(struct mg_small_objects *s, uint64_t bytes)
{
	/* cumulative: one object below 2^b is below every larger power too */
	for (int b = MG_SMALL_BITS - 1; b >= 0 && bytes < ((uint64_t)1 << b); b--) {
		s->count[b]++;
		s->bytes[b] += bytes;
	}
}

void mg_small_objects_sub(struct mg_small_objects *s, uint64_t bytes)
{
	for (int b = MG_SMALL_BITS - 1; b >= 0 && bytes < ((uint64_t)1 << b); b--) {
		s->count[b]--;
		s->bytes[b] -= bytes;
	}
}

double mg_small_objects_pad(const struct mg_small_objects *s, double min_bytes)
{
	int b = 0;

	if (!s || min_bytes < 2)
		return 0;
	while (b + 1 < MG_SMALL_BITS && (double)((uint64_t)1 << (b + 1)) <= min_bytes)
		b++;
	/* objects below 2^b, each billed as 2^b; 2^b <= min_bytes */
	return (double)s->count[b] * (double)((uint64_t)1 << b) - (double)s->bytes[b];
}

void mg_price_free_tier_spent(struct mg_price_provider *p)
{
	/* Allowances per account and month, which other work in the account
	 * may have used: what is left of them is unknowable here, so none is
	 * counted.  A ratio of the stored volume (B2's 3x egress, Wasabi's
	 * fair use) belongs to the data, not the month: kept. */
	p->storage.free = 0;
	p->egress.free = 0;
	for (int i = 0; i < p->requests.ncls; i++)
		p->requests.cls[i].free = 0;
}
