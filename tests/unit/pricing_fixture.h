/*
 * pricing_fixture.h - the price table the unit tests load: the source
 * tree's plans/pricing.yaml, never an installed copy that may be older.
 */
#ifndef MG_TEST_PRICING_FIXTURE_H
#define MG_TEST_PRICING_FIXTURE_H

#include "pricing.h"

/* Loads $MG_SRCDIR/plans/pricing.yaml into t; run by hand without
 * MG_SRCDIR, the table the binary would find.  0, or -1 with the reason
 * on stderr. */
int pricing_fixture_load(struct mg_pricing *t);

#endif
