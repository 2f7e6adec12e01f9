/*
 * pricing_fixture.c - the price table the unit tests load; see
 * pricing_fixture.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "pricing_fixture.h"

int pricing_fixture_load(struct mg_pricing *t)
{
	const char *src = getenv("MG_SRCDIR");
	struct mg_error err = { 0 };
	char path[4096];
	char *found;

	if (src && *src) {
		snprintf(path, sizeof(path), "%s/plans/pricing.yaml", src);
	} else {
		/* run by hand from build-x/tests/unit: the binary finds it */
		found = mg_pricing_locate(NULL, NULL, &err);
		if (!found) {
			fprintf(stderr, "%s\n", err.msg);
			return -1;
		}
		snprintf(path, sizeof(path), "%s", found);
		free(found);
	}
	if (mg_pricing_load(path, t, &err) != MG_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	return 0;
}
