/*
 * main.c - the command line.
 *
 *   migrate [run] PLAN            one-shot migration
 *   migrate check PLAN            validate the plan, touch nothing
 *   migrate estimate PLAN         count and price, move nothing
 *   migrate verify PLAN           check the targets against the journal
 *   migrate repair PLAN           copy again what verify finds missing or different
 *   migrate --help | --version
 *
 * Exit codes are documented in migrate.1 and engine/mg.h.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include <libssh2.h>

#include "daemon.h"
#include "engine.h"
#include "mg.h"
#include "plan.h"
#include "pricing.h"
#include "shard.h"
#include "tarest.h"

static void usage(FILE *out)
{
	fprintf(out,
"usage: migrate [run] [options] PLAN.yaml   move what changed, as the plan says\n"
"       migrate check PLAN.yaml             validate a plan without touching anything\n"
"       migrate estimate [--compare b2,r2,wasabi,aws-s3] [--html FILE] [--no-read] PLAN.yaml\n"
"                                           what would move and what it will cost\n"
"       migrate verify [--deep] PLAN.yaml    check the targets against the journal\n"
"                                           (--deep downloads and re-hashes)\n"
"       migrate repair [--deep] PLAN.yaml    copy again what verify finds missing\n"
"                                           or different, and say what\n"
"       migrate daemon PLAN.yaml            run the plan on its schedule, write metrics\n"
"       migrate status [--json] PLAN.yaml   the last 10 runs, from the journal\n"
"       migrate lineage [--csv] [--target URL] PLAN.yaml\n"
"                                           per-object audit trail (JSON lines)\n"
"       migrate report [--json] --shards N | --shards-dir DIR PLAN.yaml\n"
"                                           the shards of a sharded run merged:\n"
"                                           totals, per shard, what to rerun\n"
"                                           (exit 4: shards missing or unfinished)\n"
"       migrate cleanup [--dry-run] [--all] PLAN.yaml\n"
"                                           abort the multipart uploads under the\n"
"                                           targets that the journal does not own\n"
"                                           (--all: other tools' uploads too)\n"
"       migrate inventory [--json|--csv] PLAN.yaml [URL...]\n"
"                                           duplicate content across the plan's\n"
"                                           source and other places\n"
"       migrate probe [--sample N] [--bytes SIZE] [--prefix P] [--json] [--html FILE]\n"
"                     PLAN.yaml\n"
"                                           measure the source and targets on a\n"
"                                           bounded sample, delete what it wrote\n"
"       migrate --help | --version\n"
"\n"
"options:\n"
"  -n, --dry-run        list what would be copied and stop\n"
"      --json           print the summary as JSON on standard output\n"
"  -q, --quiet          no summary on standard error (fatal errors are\n"
"                       still printed)\n"
"      --progress       show progress even when not on a terminal\n"
"      --no-progress    never show progress\n"
"      --bwlimit RATE   bandwidth limit for this run (e.g. 20MB/s, 100Mbit/s,\n"
"                       0 for none), overriding the plan; SIGUSR2 lifts the\n"
"                       limit and puts it back\n"
"      --compare LIST   estimate: price the same move at each provider\n"
"      --html FILE      estimate, probe: also write a self-contained HTML report\n"
"      --no-read        estimate: an archive in a bucket (tar+s3://) from its size\n"
"                       alone, without reading it (entries unknown)\n"
"      --deep           verify, repair: download every object and re-hash it\n"
"      --csv            lineage, inventory: CSV (RFC 4180)\n"
"      --target URL     lineage: only the target with this URL\n"
"      --log-json FILE  run: append one JSON line per object (copied, deduped,\n"
"                       skipped, failed) and one for the run to FILE\n"
"      --sample N       probe: objects of the source to sample (default 100)\n"
"      --bytes SIZE     probe: at most this much written per target (default 1GiB)\n"
"      --prefix P       probe: key prefix of its objects (default\n"
"                       .migrate-probe-TIME-)\n"
"      --shard I/N      be task I of N (0 <= I < N): only the keys that are\n"
"                       this task's, with its own journal (plans/README.md)\n"
"      --all            cleanup: abort every upload under the prefix, other\n"
"                       tools' too (default: only those that look like migrate's)\n"
"\n"
"exit codes: 0 all done; 1 finished but some objects failed; 2 plan or usage\n"
"error; 3 fatal (unreachable, authentication, journal locked); 130 interrupted.\n"
"The plan format is described in plans/README.md and migrate(1).\n");
}

/* "0" means no limit on the command line, like rclone's --bwlimit 0. */
static int parse_bwlimit(const char *s, uint64_t *out)
{
	if (!strcmp(s, "0") || !strcmp(s, "off")) {
		*out = 0;
		return 0;
	}
	return mg_parse_rate(s, out);
}

static void on_signal(int sig)
{
	(void)sig;
	if (mg_interrupted) {
		/* A second ^C: the user means it.  The journal is still
		 * consistent (every record is written whole). */
		static const char msg[] = "\nmigrate: interrupted again, exiting now\n";
		ssize_t r = write(2, msg, sizeof(msg) - 1);

		(void)r;
		_exit(MG_EXIT_INTERRUPT);
	}
	mg_interrupted = 1;
}

static void on_usr2(int sig)
{
	(void)sig;
	mg_bwlimit_off = !mg_bwlimit_off;
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr2;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_flags = 0;
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static int load_plan(const char *path, struct mg_plan *plan)
{
	struct mg_error err = { 0 };

	if (mg_plan_load(path, plan, &err) != MG_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	return 0;
}

/* Commands that take a plan.  Each returns the process exit code. */
static int cmd_run(const char *path, struct mg_plan *plan, struct mg_run_opts *o)
{
	(void)path;
	return mg_engine_run(plan, o);
}

/* What each endpoint's connector says about it offline (where its
 * credentials come from); an endpoint that cannot work is exit 3. */
static int check_describe(const struct mg_plan *plan)
{
	int rc = MG_EXIT_OK;

	for (size_t i = 0; i <= plan->ntargets; i++) {
		const struct mg_endpoint *ep = i ? &plan->targets[i - 1] : &plan->source;
		struct mg_buf b = MG_BUF_INIT;

		if (ep->inner)
			ep = ep->inner;
		if (!ep->ops || !ep->ops->describe)
			continue;
		if (ep->ops->describe(ep, &b) != 0)
			rc = MG_EXIT_FATAL;
		if (b.len)
			printf("%s: %s\n", ep->url, b.buf);
		mg_buf_release(&b);
	}
	return rc;
}

/* A target whose largest single upload is below multipart_threshold: the
 * objects between the two cannot be sent (18.3).  Returns 0 or -1 after
 * saying so. */
static int check_upload_limits(const char *path, const struct mg_plan *plan)
{
	uint64_t thr = plan->transfer.multipart_threshold;
	int bad = 0;

	for (size_t i = 0; i < plan->ntargets; i++) {
		const struct mg_connector *ops = plan->targets[i].ops;
		char a[32], b[32], u[512];

		if (!ops || !ops->max_part_size || thr <= ops->max_part_size + 1)
			continue;
		mg_fmt_bytes(thr, a, sizeof(a));
		mg_fmt_bytes(ops->max_part_size, b, sizeof(b));
		fprintf(stderr, "%s: multipart_threshold (%s) is above the largest single upload target '%s' takes (%s): objects between the two cannot be sent; lower multipart_threshold to %s or less\n",
			path, a, mg_printable(plan->targets[i].url, u, sizeof(u)), b, b);
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* What retention (issue 15.5) asks, in words: the date is the run's */
static void check_retention(const struct mg_plan *plan)
{
	const struct mg_retention *r = &plan->retention;
	char when[24];

	if (r->mode == MG_LOCK_NONE && !r->legal_hold)
		return;
	printf("retention: ");
	if (r->mode != MG_LOCK_NONE && r->until) {
		mg_date_iso8601(r->until, when);
		printf("%s until %s", mg_lock_mode_name(r->mode), when);
	} else if (r->mode != MG_LOCK_NONE) {
		printf("%s for %lld days from each run's start", mg_lock_mode_name(r->mode),
		       (long long)r->days);
	}
	printf("%s%s: every S3 target's bucket must have Object Lock (asked when a "
	       "run starts)\n", r->mode != MG_LOCK_NONE && r->legal_hold ? ", " : "",
	       r->legal_hold ? "legal hold" : "");
}

static int cmd_check(const char *path, struct mg_plan *plan, struct mg_run_opts *o)
{
	(void)o;
	if (check_upload_limits(path, plan) < 0 || mg_tiering_check(plan) < 0)
		return MG_EXIT_USAGE;
	for (size_t i = 0; i < plan->nwarnings; i++)
		printf("%s\n", plan->warnings[i]);
	printf("%s: plan '%s' is valid: %s -> %zu target%s\n", path, plan->name,
	       plan->source.url, plan->ntargets, plan->ntargets == 1 ? "" : "s");
	for (size_t i = 0; i < plan->ntargets; i++) {
		char note[300];

		mg_endpoint_encryption(&plan->targets[i], NULL, note, sizeof(note));
		if (note[0])
			printf("target %s: encryption: %s\n", plan->targets[i].url, note);
	}
	check_retention(plan);
	return check_describe(plan);
}

/* --no-read (estimate): an archive in a bucket is not read (tarest.h) */
static int no_read;

static int cmd_estimate(const char *path, struct mg_plan *plan, struct mg_run_opts *o)
{
	int rc;

	(void)path;
	o->estimate = 1;
	if (!mg_tarest_applies(plan)) {
		if (no_read) {
			char esc[512];

			fprintf(stderr, "migrate: --no-read is for an archive in a bucket "
				"(tar+s3://): reading '%s' costs nothing to estimate\n",
				mg_printable(plan->source.url, esc, sizeof(esc)));
			return MG_EXIT_USAGE;
		}
		return mg_engine_run(plan, o);
	}
	if (no_read)
		return mg_tarest_no_read(plan, o);
	rc = mg_tarest_begin(plan, o->quiet);
	if (rc == MG_EXIT_OK)
		rc = mg_engine_run(plan, o);
	mg_tarest_end();
	return rc;
}

static int cmd_verify(const char *path, struct mg_plan *plan, struct mg_run_opts *o)
{
	(void)path;
	return mg_verify(plan, o);
}

static int cmd_repair(const char *path, struct mg_plan *plan, struct mg_run_opts *o)
{
	(void)path;
	return mg_repair(plan, o);
}

static const struct command {
	const char *name;
	int (*fn)(const char *path, struct mg_plan *plan, struct mg_run_opts *o);
} commands[] = {
	{ "run", cmd_run },
	{ "check", cmd_check },
	{ "estimate", cmd_estimate },
	{ "verify", cmd_verify },
	{ "repair", cmd_repair },
	{ "daemon", mg_cmd_daemon },
	{ "status", mg_cmd_status },
	{ "lineage", mg_cmd_lineage },
	{ "cleanup", mg_cmd_cleanup },
	{ "inventory", mg_cmd_inventory },
	{ "probe", mg_cmd_probe },
	{ "report", mg_cmd_report },
	/* commands: table */
	{ NULL, NULL }
};

int main(int argc, char **argv)
{
	enum { OPT_JSON = 256, OPT_PROGRESS, OPT_NO_PROGRESS, OPT_BWLIMIT,
	       OPT_COMPARE, OPT_HTML, OPT_NO_READ, OPT_DEEP, OPT_CSV, OPT_TARGET, OPT_LOG_JSON,
	       OPT_ALL, OPT_SAMPLE, OPT_BYTES, OPT_PREFIX, OPT_SHARD, OPT_SHARDS,
	       OPT_SHARDS_DIR };
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "progress", no_argument, NULL, OPT_PROGRESS },
		{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
		{ "bwlimit", required_argument, NULL, OPT_BWLIMIT },
		{ "compare", required_argument, NULL, OPT_COMPARE },
		{ "html", required_argument, NULL, OPT_HTML },
		{ "no-read", no_argument, NULL, OPT_NO_READ },
		{ "deep", no_argument, NULL, OPT_DEEP },
		{ "csv", no_argument, NULL, OPT_CSV },
		{ "target", required_argument, NULL, OPT_TARGET },
		{ "log-json", required_argument, NULL, OPT_LOG_JSON },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "sample", required_argument, NULL, OPT_SAMPLE },
		{ "bytes", required_argument, NULL, OPT_BYTES },
		{ "prefix", required_argument, NULL, OPT_PREFIX },
		{ "shard", required_argument, NULL, OPT_SHARD },
		{ "shards", required_argument, NULL, OPT_SHARDS },
		{ "shards-dir", required_argument, NULL, OPT_SHARDS_DIR },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct mg_run_opts opts = { .progress = -1 };
	const struct command *cmd = &commands[0];
	const char *plan_path = NULL;
	struct mg_plan plan;
	static char **extra;	/* static: reachable on every early return */
	struct mg_shard shard = { 0 };
	char msg[512];
	int c, code;

	/* Options may come before or after the command and the plan. */
	opterr = 1;
	while (optind < argc) {
		c = getopt_long(argc, argv, "+nqhV", longopts, NULL);
		if (c == -1) {
			const char *arg = argv[optind++];
			const struct command *k = NULL;

			if (cmd == &commands[0] && !plan_path)
				for (k = commands; k->name && strcmp(k->name, arg); k++)
					;
			if (k && k->name) {
				cmd = k;
			} else if (!plan_path) {
				plan_path = arg;
			} else if (cmd->fn == mg_cmd_inventory) {
				extra = mg_realloc(extra, (opts.nextra + 1) * sizeof(*extra));
				extra[opts.nextra++] = (char *)arg;
				opts.extra = extra;
			} else {
				fprintf(stderr, "migrate: one plan file expected, got '%s' too\n",
					arg);
				return MG_EXIT_USAGE;
			}
			continue;
		}
		switch (c) {
		case 'n': opts.dry_run = 1; break;
		case 'q': opts.quiet = 1; break;
		case OPT_JSON: opts.json = 1; break;
		case OPT_PROGRESS: opts.progress = 1; break;
		case OPT_NO_PROGRESS: opts.progress = 0; break;
		case OPT_BWLIMIT:
			if (parse_bwlimit(optarg, &opts.bwlimit) < 0) {
				fprintf(stderr, "migrate: --bwlimit: bad rate '%s': use e.g. "
					"20MB/s, 5MiB/s or 100Mbit/s (0 for none)\n", optarg);
				return MG_EXIT_USAGE;
			}
			opts.bwlimit_set = 1;
			break;
		case OPT_COMPARE: opts.compare = optarg; break;
		case OPT_HTML: opts.html = optarg; break;
		case OPT_NO_READ: no_read = 1; break;
		case OPT_DEEP: opts.deep = 1; break;
		case OPT_CSV: opts.csv = 1; break;
		case OPT_TARGET: opts.target = optarg; break;
		case OPT_LOG_JSON: opts.log_json = optarg; break;
		case OPT_ALL: opts.all = 1; break;
		case OPT_SAMPLE: {
			char *end;
			unsigned long long v = strtoull(optarg, &end, 10);

			if (*end || !*optarg || v == 0 || v > 1000000) {
				fprintf(stderr, "migrate: --sample: '%s' is not a count from 1 "
					"to 1000000\n", optarg);
				return MG_EXIT_USAGE;
			}
			opts.probe_sample = (size_t)v;
			break;
		}
		case OPT_BYTES:
			if (mg_parse_size(optarg, &opts.probe_bytes) < 0 || !opts.probe_bytes) {
				fprintf(stderr, "migrate: --bytes: bad size '%s': use e.g. 64MiB "
					"or 1GiB\n", optarg);
				return MG_EXIT_USAGE;
			}
			break;
		case OPT_PREFIX: opts.probe_prefix = optarg; break;
		case OPT_SHARD:
			if (mg_shard_parse(optarg, &shard, msg, sizeof(msg)) < 0) {
				fprintf(stderr, "migrate: %s\n", msg);
				return MG_EXIT_USAGE;
			}
			break;
		case OPT_SHARDS: {
			struct mg_shard all;
			char n[32];

			snprintf(n, sizeof(n), "0/%s", optarg);
			if (mg_shard_parse(n, &all, msg, sizeof(msg)) < 0) {
				fprintf(stderr, "migrate: --shards: expected a count from 1 to %d, "
					"got '%s'\n", MG_SHARD_MAX, optarg);
				return MG_EXIT_USAGE;
			}
			opts.shards = all.count;
			break;
		}
		case OPT_SHARDS_DIR: opts.shards_dir = optarg; break;
		case 'h': usage(stdout); return MG_EXIT_OK;
		case 'V': printf("migrate %s\n", PACKAGE_VERSION); return MG_EXIT_OK;
		default: usage(stderr); return MG_EXIT_USAGE;
		}
	}
	if (!plan_path) {
		fprintf(stderr, "migrate: no plan file given\n");
		usage(stderr);
		return MG_EXIT_USAGE;
	}
	if (opts.log_json && cmd->fn != cmd_run && cmd->fn != cmd_repair) {
		fprintf(stderr, "migrate: --log-json goes with a run ('migrate PLAN.yaml') "
			"or 'migrate repair'\n");
		return MG_EXIT_USAGE;
	}
	if ((opts.probe_sample || opts.probe_bytes || opts.probe_prefix) &&
	    cmd->fn != mg_cmd_probe) {
		fprintf(stderr, "migrate: --sample, --bytes and --prefix go with "
			"'migrate probe'\n");
		return MG_EXIT_USAGE;
	}
	if (opts.probe_prefix) {
		const char *why;
		char probe_key[300];

		snprintf(probe_key, sizeof(probe_key), "%sp000000", opts.probe_prefix);
		if (strlen(opts.probe_prefix) > 200 || mg_key_check(probe_key, MG_KEY_FILE, &why) < 0) {
			fprintf(stderr, "migrate: --prefix: '%s' cannot start a key: %s\n",
				opts.probe_prefix, strlen(opts.probe_prefix) > 200 ?
				"longer than 200 bytes" : why);
			return MG_EXIT_USAGE;
		}
	}
	if (opts.all && cmd->fn != mg_cmd_cleanup) {
		fprintf(stderr, "migrate: --all goes with 'migrate cleanup'\n");
		return MG_EXIT_USAGE;
	}
	if (opts.target && cmd->fn != mg_cmd_lineage) {
		fprintf(stderr, "migrate: --target goes with 'migrate lineage'\n");
		return MG_EXIT_USAGE;
	}
	if (opts.csv && cmd->fn != mg_cmd_lineage && cmd->fn != mg_cmd_inventory) {
		fprintf(stderr, "migrate: --csv goes with 'migrate lineage' or "
			"'migrate inventory'\n");
		return MG_EXIT_USAGE;
	}
	if (opts.compare && cmd->fn != cmd_estimate) {
		fprintf(stderr, "migrate: --compare goes with 'migrate estimate'\n");
		return MG_EXIT_USAGE;
	}
	if (no_read && cmd->fn != cmd_estimate) {
		fprintf(stderr, "migrate: --no-read goes with 'migrate estimate'\n");
		return MG_EXIT_USAGE;
	}
	if (opts.html && cmd->fn != cmd_estimate && cmd->fn != mg_cmd_probe) {
		fprintf(stderr, "migrate: --html goes with 'migrate estimate' or 'migrate probe'\n");
		return MG_EXIT_USAGE;
	}
	if (opts.deep && cmd->fn != cmd_verify && cmd->fn != cmd_repair) {
		fprintf(stderr, "migrate: --deep goes with 'migrate verify' or 'migrate repair'\n");
		return MG_EXIT_USAGE;
	}
	if (load_plan(plan_path, &plan) < 0)
		return MG_EXIT_USAGE;
	if (shard.count) {
		plan.shard.index = shard.index;
		plan.shard.count = shard.count;
	}
	if ((opts.shards || opts.shards_dir) && cmd->fn != mg_cmd_report) {
		fprintf(stderr, "migrate: --shards and --shards-dir go with 'migrate report'\n");
		mg_plan_release(&plan);
		return MG_EXIT_USAGE;
	}
	install_signals();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	libssh2_init(0);
	/* report reads every shard's journal, under the plan's own; the
	 * boundaries of a prefix shard may need a listing of the source */
	code = cmd->fn == mg_cmd_report ? MG_EXIT_OK :
	       mg_shard_apply(&plan, opts.quiet, msg, sizeof(msg));
	if (code != MG_EXIT_OK)
		fprintf(stderr, "migrate: %s\n", msg);
	else
		code = cmd->fn(plan_path, &plan, &opts);
	libssh2_exit();
	curl_global_cleanup();
	mg_plan_release(&plan);
	free(extra);
	return code;
}
