/*
 * tool.c - what the per-connector drivers (cases_SCHEME.c) share.
 */
#include "config.h"

#include <stdio.h>

#include "conformance.h"

int cf_tool_list(struct mg_conn *c, const char *start_after,
		 void (*file_line)(const struct mg_entry *e))
{
	struct mg_lister *it;
	struct mg_entry e;
	int rc = mg_list_open(c, start_after, &it);

	if (rc != MG_OK)
		return rc;
	while ((rc = c->ops->list_next(it, &e)) == MG_OK) {
		switch (e.kind) {
		case MG_ENTRY_FILE:
			file_line(&e);
			break;
		case MG_ENTRY_SYMLINK:
			printf("L\t%s\t%s\t%s\n", e.key, e.link_target ? e.link_target : "?",
			       e.error ? e.error : "");
			break;
		case MG_ENTRY_SPECIAL:
			printf("S\t%s\n", e.key);
			break;
		case MG_ENTRY_ERROR:
			printf("E\t%s\t%s\n", e.key, e.error);
			break;
		}
	}
	c->ops->list_close(it);
	return rc;
}
