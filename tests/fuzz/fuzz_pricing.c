/*
 * fuzz_pricing.c - the price table loader (mg_pricing_load_string).
 *
 * Properties: MG_OK or MG_FAILED with a "NAME:..." message; an accepted
 * table prices requests without NaN or negative money; no leak, no
 * overrun.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pricing.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mg_pricing t;
	struct mg_error e = { 0 };
	int r;

	if (size > 1024 * 1024)
		return 0;
	r = mg_pricing_load_string("/fuzz/pricing.yaml", (const char *)data, size,
				   &t, &e);
	if (r != MG_OK) {
		FUZZ_CHECK(r == MG_FAILED, "status %d", r);
		FUZZ_CHECK(strncmp(e.msg, "/fuzz/pricing.yaml", 18) == 0,
			   "message '%s'", e.msg);
	} else {
		for (size_t i = 0; i < t.n; i++)
			for (int q = 0; q < MG_REQ__COUNT; q++) {
				double c = mg_price_requests(&t.p[i], (enum mg_req)q,
							     1000000);

				FUZZ_CHECK(!isnan(c) && c >= 0, "provider %s: %g",
					   t.p[i].name, c);
			}
	}
	mg_pricing_release(&t);
	return 0;
}
