/*
 * testutil.c - scaffolding the cmocka unit tests share (testutil.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testutil.h"

int tu_tmpdir(char *buf, size_t size, const char *tmpl)
{
	if (snprintf(buf, size, "%s", tmpl) >= (int)size)
		return -1;
	return mkdtemp(buf) ? 0 : -1;
}

int tu_rmtree(const char *dir)
{
	char cmd[4200];

	if (snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir) >= (int)sizeof(cmd) ||
	    strchr(dir, '\''))
		return -1;
	return system(cmd) == 0 ? 0 : -1;
}
