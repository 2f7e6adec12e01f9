/*
 * cases_tar.c - `conformance tar`: the archive's own checks, driving the
 * tar connector directly, without the engine, so tests/integration/tar_*.sh
 * can compare what it lists and reads with what bsdtar lists and extracts.
 *
 *   conformance tar [options] list             one line per entry:
 *                                 KIND<TAB>SIZE<TAB>MTIME<TAB>KEY[<TAB>-> LINK][<TAB>! ERROR]
 *   conformance tar [options] cat KEY          the entry's bytes on stdout
 *   conformance tar [options] extract DIR      every file entry into DIR/KEY
 *
 * Options:
 *   --url URL             the archive (tar://, tar+sftp://, tar+s3://)
 *   --plan FILE           take the source endpoint from a plan instead
 *   --prefix P, --symlinks skip|follow|record, --max-ratio N,
 *   --max-entry-size N    endpoint options, as in a plan
 *   --conns N             read through N connections of the endpoint, in
 *                         turn (they share one index and cache)
 *   --order key|reverse   extract in listing order or backwards (forces
 *                         the connector to re-read the archive)
 *   --after KEY           list (and extract) only the keys after KEY
 *   --modes yes           list: each line ends with <TAB>mode=NNNN (octal)
 *
 * Exit: 0 all done; 1 an entry or the listing failed (each failure is one
 * line "error<TAB>KEY<TAB>MESSAGE" on stderr); 3 the archive cannot be
 * opened or read at all; 2 usage.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conformance.h"
#include "connector.h"
#include "plan.h"

#define MAX_CONNS 16

static const char *kind_name(enum mg_entry_kind k)
{
	switch (k) {
	case MG_ENTRY_FILE: return "file";
	case MG_ENTRY_SYMLINK: return "symlink";
	case MG_ENTRY_SPECIAL: return "special";
	default: return "error";
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: conformance tar (--url URL | --plan FILE) [--prefix P] "
		"[--symlinks skip|follow|record] [--max-ratio N] [--max-entry-size N] "
		"[--conns N] [--order key|reverse] [--after KEY] [--modes yes] list | cat KEY | extract DIR\n");
	return 2;
}

static int make_parents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return 0;
}

/* Copies key from conn to out (a FILE*); MG_OK or the failing grade. */
static int copy_entry(struct mg_conn *conn, const char *key, FILE *out)
{
	static char buf[64 * 1024];
	struct mg_reader *r;
	size_t got;
	int rc;

	mg_error_clear(&conn->err);
	rc = mg_read_open(conn, key, 0, UINT64_MAX, &r);
	if (rc != MG_OK)
		return rc;
	for (;;) {
		rc = conn->ops->read(r, buf, sizeof(buf), &got);
		if (rc != MG_OK || got == 0)
			break;
		if (fwrite(buf, 1, got, out) != got) {
			rc = mg_error_set(&conn->err, MG_FAILED, errno, 0, "write",
					  "cannot write '%s': %s", key, strerror(errno));
			break;
		}
	}
	conn->ops->read_close(r);
	return rc;
}

struct keyv {
	char **v;
	size_t n, alloc;
};

int cf_tool_tar(int argc, char **argv)
{
	const char *url = NULL, *plan_file = NULL, *order = "key";
	const char *prefix = NULL, *symlinks = NULL, *cmd, *arg;
	const char *after = NULL;
	int show_mode = 0;
	uint64_t max_ratio = 0, max_entry = 0;
	int nconns = 1, i, rc, failed = 0, opened = 0, status;
	struct mg_plan plan;
	struct mg_endpoint ep_url;
	const struct mg_endpoint *cep;
	struct mg_endpoint *ep;
	struct mg_conn conns[MAX_CONNS];
	struct mg_counters counters;
	struct mg_error err;
	struct mg_lister *it;
	struct mg_entry e;
	struct keyv keys = { 0 };
	const struct mg_connector *ops;
	char msg[512];

	memset(&plan, 0, sizeof(plan));
	memset(&ep_url, 0, sizeof(ep_url));
	memset(&counters, 0, sizeof(counters));
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			return usage();
		if (!strcmp(o, "--url"))
			url = v;
		else if (!strcmp(o, "--plan"))
			plan_file = v;
		else if (!strcmp(o, "--prefix"))
			prefix = v;
		else if (!strcmp(o, "--symlinks"))
			symlinks = v;
		else if (!strcmp(o, "--max-ratio"))
			max_ratio = strtoull(v, NULL, 10);
		else if (!strcmp(o, "--max-entry-size"))
			max_entry = strtoull(v, NULL, 10);
		else if (!strcmp(o, "--conns"))
			nconns = atoi(v);
		else if (!strcmp(o, "--after"))
			after = v;
		else if (!strcmp(o, "--order"))
			order = v;
		else if (!strcmp(o, "--modes"))
			show_mode = !strcmp(v, "yes");
		else
			return usage();
	}
	if (i >= argc || (!url == !plan_file) || nconns < 1 || nconns > MAX_CONNS)
		return usage();
	cmd = argv[i];
	arg = i + 1 < argc ? argv[i + 1] : NULL;

	if (plan_file) {
		if (mg_plan_load(plan_file, &plan, &err) != MG_OK) {
			fprintf(stderr, "%s\n", err.msg);
			return 2;
		}
		ep = &plan.source;
	} else {
		if (mg_endpoint_parse_url(&ep_url, url, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "%s\n", msg);
			return 2;
		}
		ep = &ep_url;
	}
	{
		char num[2][32];
		const char *set[][2] = {
			{ "prefix", prefix },
			{ "symlinks", !symlinks ? NULL :
			  !strcmp(symlinks, "record") ? "record" :
			  !strcmp(symlinks, "follow") ? "follow" : "skip" },
			{ "max_ratio", max_ratio ? num[0] : NULL },
			{ "max_entry_size", max_entry ? num[1] : NULL },
		};

		snprintf(num[0], sizeof(num[0]), "%llu", (unsigned long long)max_ratio);
		snprintf(num[1], sizeof(num[1]), "%llu", (unsigned long long)max_entry);
		for (size_t k = 0; k < sizeof(set) / sizeof(set[0]); k++) {
			if (set[k][1] &&
			    mg_endpoint_set(ep, set[k][0], set[k][1], msg, sizeof(msg)) < 0) {
				fprintf(stderr, "%s\n", msg);
				return 2;
			}
		}
	}
	cep = ep;
	ops = mg_connector_find(cep->connector ? cep->connector : "tar");
	if (!ops) {
		fprintf(stderr, "no connector '%s'\n", cep->connector);
		return 3;
	}
	memset(conns, 0, sizeof(conns));
	for (opened = 0; opened < nconns; opened++) {
		rc = mg_conn_open(&conns[opened], ops, cep, &counters, MG_OPEN_SOURCE);
		if (rc != MG_OK) {
			fprintf(stderr, "open: %s: %s\n", mg_status_name(rc),
				conns[opened].err.msg);
			opened++;	/* close() is safe after a failed open */
			status = 3;
			goto out;
		}
	}

	rc = mg_list_open(&conns[0], after, &it);
	if (rc != MG_OK) {
		fprintf(stderr, "list: %s: %s\n", mg_status_name(rc), conns[0].err.msg);
		status = rc == MG_FATAL ? 3 : 1;
		goto out;
	}
	while ((rc = conns[0].ops->list_next(it, &e)) == MG_OK) {
		if (!strcmp(cmd, "list")) {
			printf("%s\t%llu\t%lld\t%s", kind_name(e.kind),
			       (unsigned long long)e.size,
			       (long long)(e.mtime_ns / 1000000000), e.key);
			if (e.link_target)
				printf("\t-> %s", e.link_target);
			if (e.error)
				printf("\t! %s", e.error);
			if (show_mode)
				printf("\tmode=%04o", e.mode);
			printf("\n");
		} else if (e.kind == MG_ENTRY_ERROR) {
			fprintf(stderr, "error\t%s\t%s\n", e.key, e.error);
			failed = 1;
		}
		if (e.kind == MG_ENTRY_FILE) {
			if (keys.n == keys.alloc) {
				keys.alloc = keys.alloc ? keys.alloc * 2 : 64;
				keys.v = realloc(keys.v, keys.alloc * sizeof(*keys.v));
			}
			keys.v[keys.n++] = strdup(e.key);
		}
	}
	conns[0].ops->list_close(it);
	if (rc != MG_DONE) {
		fprintf(stderr, "list: %s: %s\n", mg_status_name(rc), conns[0].err.msg);
		failed = 1;
	}

	if (!strcmp(cmd, "cat") && arg) {
		rc = copy_entry(&conns[0], arg, stdout);
		if (rc != MG_OK) {
			fprintf(stderr, "error\t%s\t%s\n", arg, conns[0].err.msg);
			failed = 1;
		}
	} else if (!strcmp(cmd, "extract") && arg) {
		for (size_t k = 0; k < keys.n; k++) {
			size_t at = !strcmp(order, "reverse") ? keys.n - 1 - k : k;
			struct mg_conn *c = &conns[k % (size_t)nconns];
			char *path;
			FILE *f;

			if (asprintf(&path, "%s/%s", arg, keys.v[at]) < 0) {
				status = 3;
				goto out;
			}
			if (make_parents(path) < 0 || !(f = fopen(path, "wb"))) {
				fprintf(stderr, "error\t%s\tcannot create '%s': %s\n",
					keys.v[at], path, strerror(errno));
				failed = 1;
				free(path);
				continue;
			}
			rc = copy_entry(c, keys.v[at], f);
			if (fclose(f) != 0 && rc == MG_OK)
				rc = MG_FAILED;
			if (rc != MG_OK) {
				fprintf(stderr, "error\t%s\t%s\n", keys.v[at], c->err.msg);
				unlink(path);
				failed = 1;
			}
			free(path);
		}
	} else if (strcmp(cmd, "list") != 0) {
		status = usage();
		goto out;
	}
	status = failed ? 1 : 0;
	fprintf(stderr, "requests: list %llu get %llu; bytes read %llu\n",
		(unsigned long long)counters.req[MG_REQ_LIST],
		(unsigned long long)counters.req[MG_REQ_GET],
		(unsigned long long)counters.bytes_read);
out:
	for (size_t k = 0; k < keys.n; k++)
		free(keys.v[k]);
	free(keys.v);
	for (i = 0; i < opened; i++)
		mg_conn_close(&conns[i]);
	if (plan_file)
		mg_plan_release(&plan);
	else
		mg_endpoint_release(&ep_url);
	return status;
}
