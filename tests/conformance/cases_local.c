/*
 * cases_local.c - `conformance local`: the local connector's own checks,
 * driving it directly, without the engine, for
 * tests/integration/local_security.sh: what the connector itself promises
 * (modes, copy preconditions, links) whatever the engine asks.
 *
 *   conformance local [-L | -A] [-m MODE] [-e ETAG] ROOT COMMAND [ARGS]
 *     list                     one line per entry, tab-separated:
 *                              F key size mode etag | L key target note
 *                              S key | E key reason
 *     read KEY                 the bytes to stdout
 *     put KEY FILE             write FILE as KEY (target), -m: put_info.mode
 *     copy SRC DST             local copy (dedupe), -e: copy_if_match,
 *                              -m: put_info.mode
 *     stat KEY                 "size mode etag" or "absent"
 *     rm KEY
 *   -L  symlinks: follow      -A  symlinks: follow-all
 *
 * Exit: 0 ok, 1 an object failed, 4 absent (copy precondition failed,
 * "412" on stderr), 3 fatal (the message is on stderr), 2 usage.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conformance.h"
#include "connector.h"
#include "plan.h"

extern const struct mg_connector mg_connector_local;

static void usage(void)
{
	fprintf(stderr, "usage: conformance local [-L|-A] [-m mode] [-e etag] ROOT "
		"list|read|put|copy|stat|rm [args]\n");
	exit(2);
}

static int fail(struct mg_conn *c, int rc)
{
	fprintf(stderr, "%s: %s (remote %ld)\n", mg_status_name(rc), c->err.msg,
		c->err.remote_code);
	return rc == MG_FATAL ? 3 : rc == MG_ABSENT ? 4 : 1;
}

static void file_line(const struct mg_entry *e)
{
	printf("F\t%s\t%llu\t%04o\t%s\n", e->key, (unsigned long long)e->size, e->mode, e->etag);
}

static int cmd_list(struct mg_conn *c)
{
	int rc = cf_tool_list(c, NULL, file_line);

	return rc == MG_DONE ? 0 : fail(c, rc);
}

static int cmd_read(struct mg_conn *c, const char *key)
{
	struct mg_reader *r;
	char buf[65536];
	size_t got;
	int rc = mg_read_open(c, key, 0, UINT64_MAX, &r);

	if (rc != MG_OK)
		return fail(c, rc);
	while ((rc = c->ops->read(r, buf, sizeof(buf), &got)) == MG_OK && got)
		fwrite(buf, 1, got, stdout);
	c->ops->read_close(r);
	return rc == MG_OK ? 0 : fail(c, rc);
}

static int cmd_put(struct mg_conn *c, const char *key, const char *file,
		   const struct mg_put_info *info0)
{
	struct mg_put_info info = *info0;
	struct mg_put_final fin;
	struct mg_put_result res;
	struct mg_writer *w;
	char buf[65536];
	ssize_t n;
	int fd = open(file, O_RDONLY), rc;

	if (fd < 0) {
		perror(file);
		return 2;
	}
	memset(&fin, 0, sizeof(fin));
	rc = mg_write_open(c, key, &info, &w);
	if (rc != MG_OK) {
		close(fd);
		return fail(c, rc);
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if ((rc = c->ops->write(w, buf, (size_t)n)) != MG_OK) {
			c->ops->write_abort(w);
			close(fd);
			return fail(c, rc);
		}
	close(fd);
	rc = c->ops->write_commit(w, &fin, &res);
	if (rc != MG_OK)
		return fail(c, rc);
	printf("%s\n", res.etag);
	return 0;
}

int cf_tool_local(int argc, char **argv)
{
	struct mg_endpoint ep;
	struct mg_counters counters;
	struct mg_conn c;
	struct mg_put_info info;
	const char *cmd, *a1, *a2, *symlinks = "skip";
	char msg[300];
	unsigned flags;
	int opt, rc;

	memset(&ep, 0, sizeof(ep));
	memset(&info, 0, sizeof(info));
	memset(&counters, 0, sizeof(counters));
	while ((opt = getopt(argc, argv, "LAm:e:")) != -1) {
		switch (opt) {
		case 'L': symlinks = "follow"; break;
		case 'A': symlinks = "follow-all"; break;
		case 'm': info.mode = (unsigned)strtoul(optarg, NULL, 8); break;
		case 'e': info.copy_if_match = optarg; break;
		default: usage();
		}
	}
	if (argc - optind < 2)
		usage();
	if (mg_endpoint_parse_url(&ep, argv[optind], msg, sizeof(msg)) < 0 ||
	    mg_endpoint_set(&ep, "symlinks", symlinks, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "conformance local: %s\n", msg);
		return 2;
	}
	cmd = argv[optind + 1];
	a1 = argc - optind > 2 ? argv[optind + 2] : NULL;
	a2 = argc - optind > 3 ? argv[optind + 3] : NULL;
	flags = !strcmp(cmd, "list") || !strcmp(cmd, "read") ? MG_OPEN_SOURCE : MG_OPEN_TARGET;

	rc = mg_conn_open(&c, &mg_connector_local, &ep, &counters, flags);
	if (rc != MG_OK) {
		rc = fail(&c, rc);
		mg_conn_close(&c);
		return rc;
	}
	if (!strcmp(cmd, "list")) {
		rc = cmd_list(&c);
	} else if (!strcmp(cmd, "read") && a1) {
		rc = cmd_read(&c, a1);
	} else if (!strcmp(cmd, "put") && a1 && a2) {
		rc = cmd_put(&c, a1, a2, &info);
	} else if (!strcmp(cmd, "copy") && a1 && a2) {
		struct mg_put_final fin;
		struct mg_put_result res;

		memset(&fin, 0, sizeof(fin));
		rc = mg_copy(&c, a1, a2, &info, &fin, &res);
		if (rc == MG_OK)
			printf("%s\n", res.etag);
		rc = rc == MG_OK ? 0 : fail(&c, rc);
	} else if (!strcmp(cmd, "stat") && a1) {
		struct mg_entry e;

		rc = mg_stat(&c, a1, &e);
		if (rc == MG_OK)
			printf("%llu %04o %s\n", (unsigned long long)e.size, e.mode, e.etag);
		else if (rc == MG_ABSENT)
			printf("absent\n");
		rc = rc == MG_OK || rc == MG_ABSENT ? 0 : fail(&c, rc);
	} else if (!strcmp(cmd, "rm") && a1) {
		rc = mg_remove(&c, a1);
		rc = rc == MG_OK ? 0 : fail(&c, rc);
	} else {
		usage();
	}
	mg_conn_close(&c);
	mg_endpoint_release(&ep);
	return rc;
}
