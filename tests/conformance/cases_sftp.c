/*
 * cases_sftp.c - `conformance sftp`: SFTP's own checks, driving the sftp
 * connector directly, without the engine, for tests/integration/sftp_*.sh.
 *
 *   conformance sftp [options] sftp://user@host:port/path COMMAND [ARGS]
 *     list [START_AFTER]       one line per entry, tab-separated:
 *                              F key size mtime_s mode(octal) |
 *                              L key target note | S key | E key reason
 *     read KEY [OFFSET LENGTH] the bytes to stdout (or -o FILE)
 *     put KEY FILE             write FILE as KEY (target), with FILE's
 *                              permission bits as put_info.mode (as the
 *                              engine passes them with preserve.mode)
 *     stat KEY                 "size mtime_s mode(octal)" or "absent"
 *     rm KEY
 *   options:
 *     -i FILE   identity_file          -P VAR  passphrase_env
 *     -W VAR    password_env           -k FILE known_hosts
 *     -f FP     host_key_fingerprint   -a      accept_new_host_keys
 *     -L        follow symlinks        -o FILE output of read
 *     -r RATE   read at most RATE bytes/s (to kill a connection mid-read)
 *     -b SIZE   read buffer size (default 256 KiB)
 *     -j N      read: N ranges in parallel, each over its own connection
 *               (own SSH session, own thread), written in place (needs -o)
 *     -M        put: mode 0 in put_info (the backend's default)
 *
 * Exit: 0 ok, 1 an object failed,
 * 3 fatal (the message is on stderr), 2 usage.  The counters go to
 * stderr as "counters: list=N get=N ... read=BYTES".
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"
#include "connector.h"
#include "plan.h"

extern const struct mg_connector mg_connector_sftp;

static void usage(void)
{
	fprintf(stderr, "usage: conformance sftp [-i key] [-P var] [-W var] [-k known_hosts] "
		"[-f fingerprint] [-a] [-L] [-o file] [-r rate] [-b size] [-j n] [-M] "
		"sftp://user@host:port/path list|read|put|stat|rm [args]\n");
	exit(2);
}

/* Parses url as a plan would and sets the keys given on the command line
 * (name, value pairs; a NULL value is not set). */
static void endpoint_make(struct mg_endpoint *ep, const char *url,
			  const char *const (*keys)[2], size_t nkeys)
{
	char msg[400];

	if (strncmp(url, "sftp://", 7) != 0)
		usage();
	if (mg_endpoint_parse_url(ep, url, msg, sizeof(msg)) < 0)
		goto bad;
	for (size_t i = 0; i < nkeys; i++)
		if (keys[i][1] &&
		    mg_endpoint_set(ep, keys[i][0], keys[i][1], msg, sizeof(msg)) < 0)
			goto bad;
	return;
bad:
	fprintf(stderr, "conformance sftp: %s\n", msg);
	exit(2);
}

static int fail(struct mg_conn *c, int rc)
{
	fprintf(stderr, "%s: %s\n", mg_status_name(rc), c->err.msg);
	return rc == MG_FATAL ? 3 : 1;
}

static void print_counters(const struct mg_counters *k)
{
	fprintf(stderr, "counters:");
	for (int i = 0; i < MG_REQ__COUNT; i++)
		if (k->req[i])
			fprintf(stderr, " %s=%llu", mg_req_name(i),
				(unsigned long long)k->req[i]);
	fprintf(stderr, " read=%llu written=%llu\n",
		(unsigned long long)k->bytes_read, (unsigned long long)k->bytes_written);
}

static void file_line(const struct mg_entry *e)
{
	printf("F\t%s\t%llu\t%lld\t%04o\n", e->key, (unsigned long long)e->size,
	       (long long)(e->mtime_ns / 1000000000), e->mode);
}

static int cmd_list(struct mg_conn *c, const char *start_after)
{
	int rc = cf_tool_list(c, start_after, file_line);

	return rc == MG_DONE ? 0 : fail(c, rc);
}

static int cmd_read(struct mg_conn *c, const char *key, uint64_t off, uint64_t len,
		    const char *outfile, uint64_t rate, size_t bufsize)
{
	struct mg_reader *r;
	char *buf = mg_malloc(bufsize);
	uint64_t total = 0;
	int64_t t0 = mg_mono_ns();
	int fd = 1, rc;
	size_t got;

	if (outfile) {
		fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			perror(outfile);
			return 2;
		}
	}
	rc = mg_read_open(c, key, off, len, &r);
	if (rc != MG_OK) {
		free(buf);
		if (fd != 1)
			close(fd);
		return fail(c, rc);
	}
	for (;;) {
		rc = c->ops->read(r, buf, bufsize, &got);
		if (rc != MG_OK || got == 0)
			break;
		for (size_t done = 0; done < got;) {
			ssize_t n = write(fd, buf + done, got - done);

			if (n < 0) {
				perror("write");
				return 2;
			}
			done += (size_t)n;
		}
		total += got;
		if (rate) {
			/* sleep until total bytes are due at this rate */
			int64_t due = (int64_t)(total * 1000000000.0 / (double)rate);
			int64_t now = mg_mono_ns() - t0;

			if (due > now) {
				struct timespec ts = { (due - now) / 1000000000,
						       (due - now) % 1000000000 };
				nanosleep(&ts, NULL);
			}
		}
	}
	c->ops->read_close(r);
	if (fd != 1)
		close(fd);
	free(buf);
	if (rc != MG_OK)
		return fail(c, rc);
	{
		double secs = (double)(mg_mono_ns() - t0) / 1e9;

		fprintf(stderr, "read %llu bytes in %.3f s (%.1f MB/s)\n",
			(unsigned long long)total, secs,
			secs > 0 ? (double)total / secs / 1e6 : 0.0);
	}
	return 0;
}

/*
 * Parallel ranged read: the way the engine feeds multipart parts, N
 * connections each reading one range of the file into its place.
 */
struct prange {
	const struct mg_endpoint *ep;
	struct mg_counters *counters;
	const char *key;
	uint64_t off, len;
	int fd;
	size_t bufsize;
	int ret;
	char msg[640];
};

static void *prange_run(void *arg)
{
	struct prange *p = arg;
	struct mg_conn c;
	struct mg_reader *r = NULL;
	char *buf = mg_malloc(p->bufsize);
	uint64_t pos = p->off;
	size_t got;
	int rc;

	rc = mg_conn_open(&c, &mg_connector_sftp, p->ep, p->counters, MG_OPEN_SOURCE);
	if (rc == MG_OK)
		rc = mg_read_open(&c, p->key, p->off, p->len, &r);
	while (rc == MG_OK) {
		rc = c.ops->read(r, buf, p->bufsize, &got);
		if (rc != MG_OK || got == 0)
			break;
		if (pwrite(p->fd, buf, got, (off_t)pos) != (ssize_t)got) {
			snprintf(p->msg, sizeof(p->msg), "write: %s", strerror(errno));
			p->ret = 2;
			break;
		}
		pos += got;
	}
	if (r)
		c.ops->read_close(r);
	if (rc != MG_OK) {
		snprintf(p->msg, sizeof(p->msg), "%s: %s", mg_status_name(rc), c.err.msg);
		p->ret = rc == MG_FATAL ? 3 : 1;
	} else if (!p->ret && pos != p->off + p->len) {
		snprintf(p->msg, sizeof(p->msg), "range at %llu ended short",
			 (unsigned long long)p->off);
		p->ret = 1;
	}
	mg_conn_close(&c);
	free(buf);
	return NULL;
}

static int cmd_read_parallel(struct mg_conn *c, const char *key, int n,
			     const char *outfile, size_t bufsize)
{
	struct mg_entry e;
	struct prange *p;
	pthread_t *th;
	int64_t t0;
	int rc, fd, ret = 0;
	double secs;

	if (!outfile || n < 1)
		usage();
	rc = mg_stat(c, key, &e);
	if (rc == MG_ABSENT) {
		fprintf(stderr, "failed: '%s' does not exist\n", key);
		return 1;
	}
	if (rc != MG_OK)
		return fail(c, rc);
	fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)e.size) < 0) {
		perror(outfile);
		return 2;
	}
	p = mg_calloc((size_t)n, sizeof(*p));
	th = mg_calloc((size_t)n, sizeof(*th));
	t0 = mg_mono_ns();
	for (int i = 0; i < n; i++) {
		uint64_t share = e.size / (uint64_t)n;

		p[i].ep = c->ep;
		p[i].counters = c->counters;
		p[i].key = key;
		p[i].off = share * (uint64_t)i;
		p[i].len = i == n - 1 ? e.size - p[i].off : share;
		p[i].fd = fd;
		p[i].bufsize = bufsize;
		pthread_create(&th[i], NULL, prange_run, &p[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (p[i].ret) {
			fprintf(stderr, "range %d: %s\n", i, p[i].msg);
			if (p[i].ret > ret)
				ret = p[i].ret;
		}
	}
	secs = (double)(mg_mono_ns() - t0) / 1e9;
	close(fd);
	free(p);
	free(th);
	if (!ret)
		fprintf(stderr, "read %llu bytes as %d ranges in %.3f s (%.1f MB/s)\n",
			(unsigned long long)e.size, n, secs,
			secs > 0 ? (double)e.size / secs / 1e6 : 0.0);
	return ret;
}

static int cmd_put(struct mg_conn *c, const char *key, const char *file,
		   int no_mode)
{
	struct mg_put_info info = { 0 };
	struct mg_put_final fin;
	struct mg_put_result res;
	struct mg_writer *w;
	struct stat st;
	static char buf[1 << 20];
	ssize_t n;
	int fd = open(file, O_RDONLY), rc;

	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(file);
		return 2;
	}
	info.size = (uint64_t)st.st_size;
	info.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	info.mode = no_mode ? 0 : (unsigned)st.st_mode & 07777;
	rc = mg_write_open(c, key, &info, &w);
	if (rc != MG_OK) {
		close(fd);
		return fail(c, rc);
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		rc = c->ops->write(w, buf, (size_t)n);
		if (rc != MG_OK) {
			c->ops->write_abort(w);
			close(fd);
			return fail(c, rc);
		}
	}
	close(fd);
	memset(&fin, 0, sizeof(fin));
	rc = c->ops->write_commit(w, &fin, &res);
	if (rc != MG_OK)
		return fail(c, rc);
	return 0;
}

int cf_tool_sftp(int argc, char **argv)
{
	struct mg_endpoint ep;
	struct mg_counters counters;
	struct mg_conn c;
	const char *outfile = NULL;
	uint64_t rate = 0;
	size_t bufsize = 256 << 10;
	int opt, rc, ret = 2, jobs = 0, no_mode = 0;
	const char *keys[][2] = {
		{ "identity_file", NULL }, { "passphrase_env", NULL },
		{ "password_env", NULL }, { "known_hosts", NULL },
		{ "host_key_fingerprint", NULL }, { "accept_new_host_keys", NULL },
		{ "symlinks", NULL },
	};

	memset(&ep, 0, sizeof(ep));
	memset(&counters, 0, sizeof(counters));
	while ((opt = getopt(argc, argv, "+i:P:W:k:f:aLo:r:b:j:M")) != -1) {
		switch (opt) {
		case 'i': keys[0][1] = optarg; break;
		case 'P': keys[1][1] = optarg; break;
		case 'W': keys[2][1] = optarg; break;
		case 'k': keys[3][1] = optarg; break;
		case 'f': keys[4][1] = optarg; break;
		case 'a': keys[5][1] = "true"; break;
		case 'L': keys[6][1] = "follow"; break;
		case 'o': outfile = optarg; break;
		case 'r': rate = strtoull(optarg, NULL, 10); break;
		case 'b': bufsize = strtoul(optarg, NULL, 10); break;
		case 'j': jobs = atoi(optarg); break;
		case 'M': no_mode = 1; break;
		default: usage();
		}
	}
	if (argc - optind < 2)
		usage();
	endpoint_make(&ep, argv[optind], keys, sizeof(keys) / sizeof(keys[0]));
	const char *cmd = argv[optind + 1];
	char **args = argv + optind + 2;
	int nargs = argc - optind - 2;
	unsigned flags = strcmp(cmd, "put") == 0 || strcmp(cmd, "rm") == 0 ?
		MG_OPEN_TARGET : MG_OPEN_SOURCE;

	rc = mg_conn_open(&c, &mg_connector_sftp, &ep, &counters, flags);
	if (rc != MG_OK) {
		ret = fail(&c, rc);
	} else if (strcmp(cmd, "list") == 0 && nargs <= 1) {
		ret = cmd_list(&c, nargs ? args[0] : NULL);
	} else if (strcmp(cmd, "read") == 0 && nargs == 1 && jobs > 0) {
		ret = cmd_read_parallel(&c, args[0], jobs, outfile, bufsize);
	} else if (strcmp(cmd, "read") == 0 && (nargs == 1 || nargs == 3)) {
		ret = cmd_read(&c, args[0],
			       nargs == 3 ? strtoull(args[1], NULL, 10) : 0,
			       nargs == 3 ? strtoull(args[2], NULL, 10) : UINT64_MAX,
			       outfile, rate, bufsize);
	} else if (strcmp(cmd, "put") == 0 && nargs == 2) {
		ret = cmd_put(&c, args[0], args[1], no_mode);
	} else if (strcmp(cmd, "stat") == 0 && nargs == 1) {
		struct mg_entry e;

		rc = mg_stat(&c, args[0], &e);
		if (rc == MG_ABSENT) {
			printf("absent\n");
			ret = 0;
		} else if (rc == MG_OK) {
			printf("%llu %lld %04o\n", (unsigned long long)e.size,
			       (long long)(e.mtime_ns / 1000000000), e.mode);
			ret = 0;
		} else {
			ret = fail(&c, rc);
		}
	} else if (strcmp(cmd, "rm") == 0 && nargs == 1) {
		rc = mg_remove(&c, args[0]);
		ret = rc == MG_OK ? 0 : fail(&c, rc);
	} else {
		usage();
	}
	mg_conn_close(&c);
	print_counters(&counters);
	mg_endpoint_release(&ep);
	return ret;
}
