/*
 * registry.c - the table of built-in connectors.  Adding a backend is one
 * extern and one line in the table; the engine looks connectors up by the
 * plan's scheme name and never names one itself.  The order is the one
 * plan messages list schemes in ("folder, sftp:// and tar urls"): plain
 * backends first, wrappers (archives) last.
 */
#include <string.h>
#include "connector.h"

extern const struct mg_connector mg_connector_local;
/* connectors: externs */
extern const struct mg_connector mg_connector_sftp;
extern const struct mg_connector mg_connector_s3;
extern const struct mg_connector mg_connector_tar;

static const struct mg_connector *const registry[] = {
	&mg_connector_local,
	/* connectors: table */
	&mg_connector_sftp,
	&mg_connector_s3,
	&mg_connector_tar,
	NULL
};

/*
 * Connectors added at run time: a test double (tests/conformance/mem.c) or
 * a program that links its own backend.  A small fixed table, because
 * nothing registers more than a handful and a registration that does not
 * fit is a programming error the caller hears about (-1).  Not locked:
 * register before the first thread starts.
 */
static const struct mg_connector *added[8];

int mg_connector_register(const struct mg_connector *c)
{
	for (size_t i = 0; i < sizeof(added) / sizeof(added[0]); i++) {
		if (added[i] == c)
			return 0;
		if (!added[i]) {
			added[i] = c;
			return 0;
		}
	}
	return -1;
}

/* Built-in connectors first, then the ones added at run time. */
const struct mg_connector *mg_connector_at(size_t i)
{
	size_t nbuiltin = sizeof(registry) / sizeof(registry[0]) - 1;

	if (i < nbuiltin)
		return registry[i];
	i -= nbuiltin;
	return i < sizeof(added) / sizeof(added[0]) ? added[i] : NULL;
}

const struct mg_connector *mg_connector_find(const char *scheme)
{
	for (size_t i = 0; registry[i]; i++)
		if (strcmp(registry[i]->scheme, scheme) == 0)
			return registry[i];
	for (size_t i = 0; i < sizeof(added) / sizeof(added[0]) && added[i]; i++)
		if (strcmp(added[i]->scheme, scheme) == 0)
			return added[i];
	return NULL;
}
