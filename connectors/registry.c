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

const struct mg_connector *mg_connector_at(size_t i)
{
	return i < sizeof(registry) / sizeof(registry[0]) ? registry[i] : NULL;
}

const struct mg_connector *mg_connector_find(const char *scheme)
{
	for (size_t i = 0; registry[i]; i++)
		if (strcmp(registry[i]->scheme, scheme) == 0)
			return registry[i];
	return NULL;
}
