/*
 * main.c - runs the conformance suite against one endpoint and prints TAP.
 *
 *   conformance --plan FILE [--source] [--outside DIR]
 *       the plan's target (with --source: its source, for a connector
 *       that cannot be a target, such as tar) is the endpoint under test;
 *       a target starts empty and the suite writes the fixture into it,
 *       a source must already hold it (see --write-fixture).
 *       --outside DIR: a folder next to a file target's root that no key
 *       may reach ('..', a leading '/'); checked untouched at the end.
 *   conformance --mem
 *       the in-memory test double (mem.c), registered at run time.
 *   conformance --write-fixture DIR
 *       writes the fixture's objects as files under DIR and exits.
 *   conformance local|sftp|s3|tar ARGS...
 *       that connector's own checks (cases_SCHEME.c), beyond the
 *       contract; ARGS and exit codes are documented in that file.
 *
 * Exit: 0 every check passed (skips included), 1 a check failed, 2 usage
 * or a plan that does not load.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "plan.h"

extern const struct mg_connector cf_connector_mem;

static int n_checks, n_failed;

static void vline(const char *status, const char *name, const char *fmt, va_list ap)
{
	printf("%s %d - %s", status, ++n_checks, name);
	if (fmt && *fmt) {
		printf("\n# ");
		vprintf(fmt, ap);
	}
	printf("\n");
	fflush(stdout);
}

void cf_check(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (ok) {
		printf("ok %d - %s\n", ++n_checks, name);
	} else {
		n_failed++;
		vline("not ok", name, fmt, ap);
	}
	va_end(ap);
}

void cf_skip(const char *name, const char *why)
{
	printf("ok %d - %s # SKIP %s\n", ++n_checks, name, why);
}

void cf_known(int ok, const char *name, const char *why, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		cf_check(1, name, NULL);
		return;
	}
	printf("ok %d - %s # SKIP TODO-known: %s\n# ", ++n_checks, name, why);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static int usage(void)
{
	fprintf(stderr, "usage: conformance --plan FILE [--source] [--outside DIR] | "
		"--mem | --write-fixture DIR | local|sftp|s3|tar ARGS...\n");
	return 2;
}

/* The connectors with checks of their own, each run only for its scheme. */
static const struct {
	const char *scheme;
	int (*run)(int argc, char **argv);
} tools[] = {
	{ "local", cf_tool_local },
	{ "sftp", cf_tool_sftp },
	{ "s3", cf_tool_s3 },
	{ "tar", cf_tool_tar },
};

/* The double is an endpoint like any other once registered: its own URL
 * parser (mem.c) makes it from "mem://conformance". */
static int mem_endpoint(struct mg_endpoint *ep)
{
	char msg[256];

	memset(ep, 0, sizeof(*ep));
	if (mg_endpoint_parse_url(ep, "mem://conformance", msg, sizeof(msg)) < 0) {
		fprintf(stderr, "mem://conformance: %s\n", msg);
		return -1;
	}
	return 0;
}

static int run(struct cf *s)
{
	int rc;

	s->ops = mg_connector_find(s->ep->connector);
	if (!s->ops) {
		fprintf(stderr, "no connector '%s'\n", s->ep->connector);
		return 2;
	}
	printf("# %s: %s\n", s->ops->scheme, s->ep->url);
	if (s->has_dst) {
		rc = mg_conn_open(&s->dst, s->ops, s->ep, &s->counters, MG_OPEN_TARGET);
		cf_check(rc == MG_OK, "open as a target", "%s: %s", mg_status_name(rc), s->dst.err.msg);
		if (rc != MG_OK) {
			mg_conn_close(&s->dst);
			printf("1..%d\n", n_checks);
			return 1;
		}
	}
	cf_run_cases(s);
	if (s->has_dst)
		mg_conn_close(&s->dst);
	mg_conn_close(&s->src);
	printf("1..%d\n", n_checks);
	return n_failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *plan_file = NULL;
	int source_only = 0, mem = 0, rc;
	struct mg_endpoint mem_ep;
	struct mg_plan plan;
	struct mg_error err;
	struct cf s;

	for (size_t i = 0; argc > 1 && i < sizeof(tools) / sizeof(tools[0]); i++)
		if (!strcmp(argv[1], tools[i].scheme))
			return tools[i].run(argc - 1, argv + 1);
	memset(&s, 0, sizeof(s));
	memset(&plan, 0, sizeof(plan));
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(argv[i], "--plan") && v)
			plan_file = argv[++i];
		else if (!strcmp(argv[i], "--source"))
			source_only = 1;
		else if (!strcmp(argv[i], "--outside") && v)
			s.outside = argv[++i];
		else if (!strcmp(argv[i], "--mem"))
			mem = 1;
		else if (!strcmp(argv[i], "--write-fixture") && v)
			return cf_fixture_write_dir(v) == 0 ? 0 : 2;
		else
			return usage();
	}
	if (mem == !!plan_file)
		return usage();
	if (mem) {
		/* the one registration the double needs: nothing else knows it */
		if (mg_connector_register(&cf_connector_mem) < 0)
			return 2;
		if (mem_endpoint(&mem_ep) < 0)
			return 2;
		s.ep = &mem_ep;
		s.has_dst = 1;
		rc = run(&s);
		mg_endpoint_release(&mem_ep);
		return rc;
	}
	if (mg_plan_load(plan_file, &plan, &err) != MG_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return 2;
	}
	s.ep = source_only ? &plan.source : &plan.targets[0];
	s.has_dst = !source_only;
	rc = run(&s);
	mg_plan_release(&plan);
	return rc;
}
