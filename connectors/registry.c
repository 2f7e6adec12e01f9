/*
 * registry.c - the table of built-in connectors.  Adding a backend is one
 * extern and one line in the table; the engine looks connectors up by the
 * plan's scheme name and never names one itself.
 */
#include <string.h>
#include "connector.h"

extern const struct mg_connector mg_connector_local;
extern const struct mg_connector mg_connector_tar;
/* connectors: externs */
extern const struct mg_connector mg_connector_sftp;
extern const struct mg_connector mg_connector_s3;

static const struct mg_connector *const registry[] = {
	&mg_connector_local,
	&mg_connector_tar,
	/* connectors: table */
	&mg_connector_sftp,
	&mg_connector_s3,
	NULL
};

const struct mg_connector *mg_connector_find(const char *scheme)
{
	for (size_t i = 0; registry[i]; i++)
		if (strcmp(registry[i]->scheme, scheme) == 0)
			return registry[i];
	return NULL;
}
