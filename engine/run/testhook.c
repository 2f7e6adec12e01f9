/*
 * testhook.c - MG_TEST_KILL_AFTER=NAME:N: SIGKILL at the Nth pass of a
 * named point (testhook.h says why and lists the points).
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testhook.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char point[32];		/* the point named; "" when the hook is off */
static uint64_t limit;		/* die when this many passes are counted */
static _Atomic uint64_t passed;

/* Reads MG_TEST_KILL_AFTER once.  A value that does not parse is said
 * aloud and ignored: a test that meant to kill then sees a run that ends. */
static void read_env(void)
{
	const char *v = getenv("MG_TEST_KILL_AFTER");
	const char *colon;
	char *end;
	unsigned long long n;

	if (!v || !*v)
		return;
	colon = strchr(v, ':');
	if (colon && colon > v && (size_t)(colon - v) < sizeof(point)) {
		n = strtoull(colon + 1, &end, 10);
		if (*end == '\0' && n > 0 && end != colon + 1) {
			memcpy(point, v, (size_t)(colon - v));
			point[colon - v] = '\0';
			limit = n;
			return;
		}
	}
	fprintf(stderr, "migrate: MG_TEST_KILL_AFTER='%s' is not NAME:COUNT; ignored\n", v);
}

void mg_test_points(const char *name, uint64_t n)
{
	pthread_once(&once, read_env);
	if (!point[0] || strcmp(name, point) != 0)
		return;
	if (atomic_fetch_add(&passed, n) + n >= limit) {
		/* SIGKILL: no handler, no atexit, no flush, as a power cut */
		kill(getpid(), SIGKILL);
		pause();
	}
}
