/*
 * test_plan.c - the plan loader: one case for every error message (each
 * checked word for word, with its line and column), valid plans of every
 * shape, URL parsing, ${VAR} and ~ expansion, defaults, the dump, and
 * every example plan in plans/.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <cmocka.h>
#include "connector.h"
#include "plan.h"

#define BASE "version: 1\nname: t\nsource: /src\ntarget: /dst\n"

static int load(const char *name, const char *text, struct mg_plan *p,
		struct mg_error *e)
{
	mg_error_clear(e);
	return mg_plan_load_string(name, text, strlen(text), p, e);
}

/* Option key of ep as text ("auto", "1024", a string), NULL if unset. */
static const char *opt(const struct mg_endpoint *ep, const char *key)
{
	static char buf[8][64];
	static int next;

	next = (next + 1) % 8;
	return mg_endpoint_text(ep, key, buf[next], sizeof(buf[next]));
}

static void load_ok(const char *text, struct mg_plan *p)
{
	struct mg_error e;

	if (load("/plans/t.yaml", text, p, &e) != MG_OK)
		fail_msg("plan rejected: %s\n--- plan:\n%s", e.msg, text);
}

/* ------------------------------------------------------------ errors */

static const struct bad {
	const char *text;
	const char *msg;
} bad[] = {
	/* yaml itself */
	{ "version: 1\nname: [x\n",
	  "t.yaml:3:1: malformed yaml: did not find expected ',' or ']' while parsing a flow sequence" },
	{ "version: 1\n  name: x\n",
	  "t.yaml:2:7: malformed yaml: mapping values are not allowed in this context" },
	{ "version: 1\nname: \"\xff\"\n",
	  "t.yaml:2:8: malformed yaml: invalid leading UTF-8 octet" },
	{ "", "t.yaml:1:1: the plan is empty: start with 'version: 1'" },
	{ "# only a comment\n", "t.yaml:1:1: the plan is empty: start with 'version: 1'" },
	{ BASE "---\nversion: 1\n",
	  "t.yaml:5:1: a plan file holds one yaml document; remove the second one (after '---')" },
	{ "- version: 1\n",
	  "t.yaml:1:1: a plan is a mapping of keys (version: 1, name: ..., source: ..., target: ...), got a list" },
	{ "hello\n",
	  "t.yaml:1:1: a plan is a mapping of keys (version: 1, name: ..., source: ..., target: ...), got a single value" },

	/* keys */
	{ BASE "transfer: { concurency: 4 }\n",
	  "t.yaml:5:13: unknown key 'concurency' (did you mean 'concurrency'?)" },
	{ "version: 1\nnmae: t\nsource: /a\ntarget: /b\n",
	  "t.yaml:2:1: unknown key 'nmae' (did you mean 'name'?)" },
	{ BASE "transfer: { speed: 4 }\n",
	  "t.yaml:5:13: unknown key 'speed' in 'transfer': use one of concurrency, part_size, multipart_threshold, bandwidth, verify, dedupe, retries, dead_after, stall_timeout" },
	{ BASE "name: u\n", "t.yaml:5:1: duplicate key 'name' (first at line 2)" },
	{ BASE "? [a]\n: 1\n", "t.yaml:5:3: keys must be plain words, got a list" },
	{ "name: t\nsource: /a\ntarget: /b\n", "t.yaml:1:1: missing required key 'version'" },
	{ "version: 1\nsource: /a\ntarget: /b\n", "t.yaml:1:1: missing required key 'name'" },
	{ "version: 1\nname: t\ntarget: /b\n", "t.yaml:1:1: missing required key 'source'" },
	{ "version: 1\nname: t\nsource: /a\n",
	  "t.yaml:1:1: missing required key 'target' (or 'targets' for several)" },
	{ BASE "targets: [/c]\n", "t.yaml:5:1: use either 'target' or 'targets', not both" },

	/* version, name, mode */
	{ "version: 2\nname: t\nsource: /a\ntarget: /b\n",
	  "t.yaml:1:10: unsupported plan version '2': this migrate reads version 1" },
	{ "version: {a: 1}\nname: t\nsource: /a\ntarget: /b\n",
	  "t.yaml:1:10: 'version' must be 1, got a mapping" },
	{ "version: 1\nname: my plan\nsource: /a\ntarget: /b\n",
	  "t.yaml:2:7: 'name' must be 1 to 128 letters, digits, '.', '_' or '-', got 'my plan'" },
	{ "version: 1\nname:\nsource: /a\ntarget: /b\n",
	  "t.yaml:2:6: 'name' has no value: give it one or remove the key" },
	{ BASE "mode: mirror\n", "t.yaml:5:7: 'mode' must be copy or sync, got 'mirror'" },

	/* endpoints */
	{ "version: 1\nname: t\nsource: { region: x }\ntarget: /b\n",
	  "t.yaml:3:9: missing required key 'url' in 'source'" },
	{ "version: 1\nname: t\nsource: [/a]\ntarget: /b\n",
	  "t.yaml:3:9: 'source' must be a url or a mapping with 'url', got a list" },
	{ "version: 1\nname: t\nsource: { url: /a, urll: /b }\ntarget: /b\n",
	  "t.yaml:3:20: unknown key 'urll' (did you mean 'url'?)" },
	{ "version: 1\nname: t\nsource: \"\"\ntarget: /b\n",
	  "t.yaml:3:9: the url is empty" },
	{ "version: 1\nname: t\nsource: http://x/y\ntarget: /b\n",
	  "t.yaml:3:9: unknown url scheme 'http' in 'http://x/y': use a folder path, file://, sftp://, s3://, tar://, tar+sftp:// or tar+s3://" },
	{ "version: 1\nname: t\nsource: s3:bucket\ntarget: /b\n",
	  "t.yaml:3:9: 's3:bucket' lacks '//' after 's3:'" },
	{ "version: 1\nname: t\nsource: sftp://u:hunter2@h/x\ntarget: /b\n",
	  "t.yaml:3:9: passwords in urls are not accepted: remove it and name an environment variable holding it with 'password_env'" },
	{ "version: 1\nname: t\nsource: sftp://@h/x\ntarget: /b\n",
	  "t.yaml:3:9: bad user name in 'sftp://@h/x'" },
	{ "version: 1\nname: t\nsource: \"sftp://[::1/x\"\ntarget: /b\n",
	  "t.yaml:3:9: bad ipv6 address in 'sftp://[::1/x': write it as [::1]" },
	{ "version: 1\nname: t\nsource: \"sftp://[::g]/x\"\ntarget: /b\n",
	  "t.yaml:3:9: bad ipv6 address in 'sftp://[::g]/x'" },
	{ "version: 1\nname: t\nsource: \"sftp://[::1]x/y\"\ntarget: /b\n",
	  "t.yaml:3:9: bad host in 'sftp://[::1]x/y'" },
	{ "version: 1\nname: t\nsource: sftp://u@h*st/x\ntarget: /b\n",
	  "t.yaml:3:9: bad host name 'h*st' in 'sftp://u@h*st/x'" },
	{ "version: 1\nname: t\nsource: sftp://u@/x\ntarget: /b\n",
	  "t.yaml:3:9: missing host in 'sftp://u@/x': write sftp://user@host/path" },
	{ "version: 1\nname: t\nsource: sftp://h:99999/x\ntarget: /b\n",
	  "t.yaml:3:9: bad port in 'sftp://h:99999/x': use a number from 1 to 65535" },
	{ "version: 1\nname: t\nsource: sftp://h/a%zzb\ntarget: /b\n",
	  "t.yaml:3:9: bad percent-escape in 'sftp://h/a%zzb': use %XX with two hex digits" },
	{ "version: 1\nname: t\nsource: s3:///x\ntarget: /b\n",
	  "t.yaml:3:9: missing bucket in 's3:///x': write s3://bucket/prefix" },
	{ "version: 1\nname: t\nsource: s3://key:secret@bucket/x\ntarget: /b\n",
	  "t.yaml:3:9: s3 urls take no credentials: use 'access_key_id' and 'secret_access_key' (with ${VAR}) instead" },
	{ "version: 1\nname: t\nsource: s3://my_bucket:9000/x\ntarget: /b\n",
	  "t.yaml:3:9: bad bucket name 'my_bucket:9000' in 's3://my_bucket:9000/x': s3 urls are s3://bucket/prefix; the server goes in 'endpoint', credentials in 'access_key_id'" },
	{ "version: 1\nname: t\nsource: file://data/x\ntarget: /b\n",
	  "t.yaml:3:9: 'file://data/x' must hold an absolute path: write file:///path (three slashes)" },
	{ "version: 1\nname: t\nsource: tar:///srv/\ntarget: /b\n",
	  "t.yaml:3:9: 'tar:///srv/' must name an archive file, not a folder" },
	{ "version: 1\nname: t\nsource: ~nosuchuser-mg/x\ntarget: /b\n",
	  "t.yaml:3:9: cannot expand '~' in '~nosuchuser-mg/x': no such user or no home folder" },
	{ "version: 1\nname: t\nsource: { url: s3://b/x, identity_file: ~/.ssh/id }\ntarget: /b\n",
	  "t.yaml:3:26: 'identity_file' does not apply to s3 urls: it is for sftp:// and tar+sftp://" },
	{ "version: 1\nname: t\nsource: { url: /a, region: x }\ntarget: /b\n",
	  "t.yaml:3:20: 'region' does not apply to file urls: it is for s3:// and tar+s3://" },
	{ "version: 1\nname: t\nsource: { url: s3://b/x, prefix: p/ }\ntarget: /b\n",
	  "t.yaml:3:26: 'prefix' does not apply to s3 urls: it is for tar://, tar+sftp:// and tar+s3://" },
	{ "version: 1\nname: t\nsource: { url: s3://b/x, symlinks: skip }\ntarget: /b\n",
	  "t.yaml:3:26: 'symlinks' does not apply to s3 urls: it is for folder, sftp:// and tar urls" },
	{ "version: 1\nname: t\nsource: { url: sftp://h/x, password_env: \"a b\" }\ntarget: /b\n",
	  "t.yaml:3:42: 'password_env' must be the name of an environment variable (letters, digits, '_'), got 'a b'" },
	{ "version: 1\nname: t\nsource: { url: sftp://h/x, password_env: MG_T_UNSET }\ntarget: /b\n",
	  "t.yaml:3:42: environment variable 'MG_T_UNSET' named by 'password_env' is not set" },
	{ "version: 1\nname: t\nsource: { url: sftp://h/x, host_key_fingerprint: \"MD5:aa\" }\ntarget: /b\n",
	  "t.yaml:3:50: 'host_key_fingerprint' must look like 'SHA256:...' as 'ssh-keygen -lf' prints it, got 'MD5:aa'" },
	{ "version: 1\nname: t\nsource: { url: sftp://h/x, host_key_fingerprint: \"SHA256:abc\", accept_new_host_keys: true }\ntarget: /b\n",
	  "t.yaml:3:64: use either 'host_key_fingerprint' or 'accept_new_host_keys', not both" },
	{ "version: 1\nname: t\nsource: { url: sftp://h/x, accept_new_host_keys: maybe }\ntarget: /b\n",
	  "t.yaml:3:50: 'accept_new_host_keys' must be true or false, got 'maybe'" },
	{ "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, sse: AES256, sse_c_key_env: MG_T_SET }\n",
	  "t.yaml:4:39: use either 'sse' or 'sse_c_key_env', not both" },
	{ "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, sse_kms_key_id: k }\n",
	  "t.yaml:4:26: 'sse_kms_key_id' needs 'sse: aws:kms'" },
	{ "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, sse: aes }\n",
	  "t.yaml:4:31: 'sse' must be AES256 or aws:kms, got 'aes'" },
	{ "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, secret_access_key: s3cr3t }\n",
	  "t.yaml:4:26: 'secret_access_key' needs 'access_key_id'" },
	{ "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, access_key_id: AKIA }\n",
	  "t.yaml:4:26: 'access_key_id' needs 'secret_access_key'" },
	{ "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, session_token: tok }\n",
	  "t.yaml:4:26: 'session_token' needs 'access_key_id'" },
	{ "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, profile: p, access_key_id: A, secret_access_key: S }\n",
	  "t.yaml:4:26: use either 'profile' or 'access_key_id', not both" },
	{ "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, provider: b2 }\n",
	  "t.yaml:4:36: 'provider' must be one of aws-s3, backblaze-b2, cloudflare-r2, wasabi, gcs, azure-blob, minio, ceph, sftp, local, got 'b2'" },
	{ "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, path_style: sometimes }\n",
	  "t.yaml:4:38: 'path_style' must be true, false or auto, got 'sometimes'" },
	{ "version: 1\nname: t\nsource: { url: /a, symlinks: copy }\ntarget: /b\n",
	  "t.yaml:3:30: 'symlinks' must be skip, follow, follow-all or record, got 'copy'" },
	{ "version: 1\nname: t\nsource: { url: tar:///a.tar, symlinks: follow-all }\ntarget: /b\n",
	  "t.yaml:3:40: 'symlinks: follow-all' is for folders and sftp://: in an archive, 'follow' already follows every link that resolves inside it" },
	/* the S3 endpoint (issue 13.6) */
	{ "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, endpoint: \"http://AKIA:hunter2@127.0.0.1:9000\" }\n",
	  "t.yaml:4:36: 'endpoint' must not hold credentials (the 'user:password@' before the host): remove them and use 'access_key_id' and 'secret_access_key' (with ${VAR}) or 'profile'" },
	{ "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, endpoint: \"user@minio.lan\" }\n",
	  "t.yaml:4:36: 'endpoint' must not hold credentials (the 'user:password@' before the host): remove them and use 'access_key_id' and 'secret_access_key' (with ${VAR}) or 'profile'" },
	{ "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, endpoint: \"ftp://minio.lan\" }\n",
	  "t.yaml:4:36: 'endpoint' must start with https:// or http://, got 'ftp://'" },
	{ "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, endpoint: \"https:///x\" }\n",
	  "t.yaml:4:36: 'endpoint' has no host: write https://host[:port]" },
	{ "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, endpoint: \"http://minio.lan:9000\", sse_c_key_env: MG_T_SET }\n",
	  "t.yaml:4:61: 'sse_c_key_env' names the SSE-C key 'MG_T_SET', which would cross the network in clear over http://: use an https:// endpoint" },
	{ "version: 1\nname: t\nsource: { url: \"tar+s3://b/x.tar\", sse_c_key_env: MG_T_SET, endpoint: \"HTTP://minio.lan\" }\ntarget: /b\n",
	  "t.yaml:3:36: 'sse_c_key_env' names the SSE-C key 'MG_T_SET', which would cross the network in clear over http://: use an https:// endpoint" },
	{ "version: 1\nname: t\nsource: { url: tar:///a.tar, max_ratio: 0 }\ntarget: /b\n",
	  "t.yaml:3:41: 'max_ratio' must be between 1 and 1000000000, got 0" },
	{ "version: 1\nname: t\nsource: { url: /a, stored: lots }\ntarget: /b\n",
	  "t.yaml:3:28: 'stored': bad size 'lots': use a number with B, KB, MB, GB, TB, KiB, MiB, GiB or TiB" },
	{ "version: 1\nname: t\nsource: { url: s3://b/x, ca_file: \"\" }\ntarget: /b\n",
	  "t.yaml:3:35: 'ca_file' is empty: give a path" },

	/* targets */
	{ "version: 1\nname: t\nsource: /a\ntargets: /b\n",
	  "t.yaml:4:10: 'targets' must be a list of targets, got a single value (use 'target' for one)" },
	{ "version: 1\nname: t\nsource: /a\ntargets: []\n",
	  "t.yaml:4:10: 'targets' is empty: list at least one target" },
	{ "version: 1\nname: t\nsource: /a\ntarget: tar:///x.tar\n",
	  "t.yaml:4:9: 'tar:///x.tar' cannot be a target: archives are read only; write into a folder, sftp:// or s3:// instead" },
	{ "version: 1\nname: t\nsource: /a/\ntarget: file:///a\n",
	  "t.yaml:4:9: target 'file:///a' is the same place as the source" },
	{ "version: 1\nname: t\nsource: /a\ntargets:\n  - s3://b/x\n  - { url: s3://b/x }\n",
	  "t.yaml:6:5: target 's3://b/x' is listed twice (first at line 5)" },

	/* types and units */
	{ BASE "transfer: [1]\n", "t.yaml:5:11: 'transfer' must be a mapping of keys, got a list" },
	{ BASE "transfer: fast\n", "t.yaml:5:11: 'transfer' must be a mapping of keys, got a single value" },
	{ BASE "transfer: { concurrency: abc }\n",
	  "t.yaml:5:26: 'concurrency' must be an integer, got 'abc'" },
	{ BASE "transfer: { concurrency: 1000 }\n",
	  "t.yaml:5:26: 'concurrency' must be between 1 and 256, got 1000" },
	{ BASE "transfer: { concurrency: [4] }\n",
	  "t.yaml:5:26: 'concurrency' must be an integer, got a list" },
	{ BASE "transfer: { retries: 99999999999999999999 }\n",
	  "t.yaml:5:22: 'retries' must be an integer, got '99999999999999999999'" },
	{ BASE "transfer: { part_size: 64MB/s }\n",
	  "t.yaml:5:24: 'part_size': bad size '64MB/s': use a number with B, KB, MB, GB, TB, KiB, MiB, GiB or TiB" },
	{ BASE "transfer: { part_size: 1MiB }\n",
	  "t.yaml:5:24: 'part_size' must be between 5MiB and 5GiB, got '1MiB'" },
	{ BASE "transfer: { bandwidth: 100MB }\n",
	  "t.yaml:5:24: 'bandwidth': bad rate '100MB': use a number with B/s, KB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s, Kbit/s, Mbit/s, Gbit/s, or 'unlimited'" },
	{ BASE "transfer:\n  bandwidth:\n    monday 8-18: 1MB/s\n",
	  "t.yaml:7:5: bad bandwidth window 'monday 8-18': write DAYS HH:MM-HH:MM with days mon..sun, a range (mon-fri), a list (sat,sun) or daily, e.g. 'mon-fri 08:00-18:00'" },
	{ BASE "transfer:\n  bandwidth:\n    default: 1MB/s\n    default: 2MB/s\n",
	  "t.yaml:8:5: duplicate key 'default' (first at line 7)" },
	{ BASE "transfer:\n  bandwidth:\n    ? [x]\n    : 1MB/s\n",
	  "t.yaml:7:7: keys must be plain words, got a list" },
	{ BASE "transfer: { verify: sure }\n",
	  "t.yaml:5:21: 'verify' must be true or false, got 'sure'" },
	{ BASE "filter: { newer_than: 30 days }\n",
	  "t.yaml:5:23: 'newer_than': bad duration '30 days': use whole numbers with w, d, h, m or s, largest first, e.g. 30d or 1h30m" },
	{ BASE "filter: { include: \"\" }\n", "t.yaml:5:20: 'include': empty glob" },
	{ BASE "filter: { include: 'a\\' }\n",
	  "t.yaml:5:20: 'include': bad glob 'a\\': it ends in a lone '\\'" },
	{ BASE "filter: { exclude: [\"*.tmp\", \"[ab\"] }\n",
	  "t.yaml:5:30: 'exclude': bad glob '[ab': '[' is not closed (write '\\[' for a literal '[')" },
	{ BASE "filter: { exclude: { a: b } }\n",
	  "t.yaml:5:20: 'exclude' must be a glob or a list of globs, got a mapping" },
	{ BASE "filter: { exclude: [[a]] }\n",
	  "t.yaml:5:21: 'exclude' must be a glob or a list of globs, got a list in the list" },
	{ BASE "filter: { min_size: 1GB, max_size: 1MB }\n",
	  "t.yaml:5:11: 'min_size' is larger than 'max_size': nothing could pass the filter" },
	{ BASE "filter: { newer_than: 1d, older_than: 7d }\n",
	  "t.yaml:5:11: 'newer_than' must be longer than 'older_than': nothing could pass the filter" },
	{ BASE "journal: \"\"\n", "t.yaml:5:10: 'journal' is empty: give a path" },

	/* delete, schedule, metrics, pricing */
	{ BASE "delete: { max_count: 10 }\n",
	  "t.yaml:5:1: 'delete' applies only to 'mode: sync' (copy never deletes)" },
	{ BASE "mode: sync\ndelete: { max_percent: 150% }\n",
	  "t.yaml:6:24: 'max_percent' must be a percentage from 0 to 100 (like 10 or 10%), got '150%'" },
	{ BASE "mode: sync\ndelete: { max_count: -1 }\n",
	  "t.yaml:6:22: 'max_count' must be between 0 and 9223372036854775807, got -1" },
	{ BASE "mode: sync\ndelete: { quarantine_prefix: /q }\n",
	  "t.yaml:6:30: 'quarantine_prefix' must be a key prefix such as 'quarantine/', not empty and without a leading '/'" },
	{ BASE "schedule: { cron: \"*/15 * * *\" }\n",
	  "t.yaml:5:19: 'cron' must have 5 fields (minute hour day-of-month month day-of-week), e.g. '*/15 * * * *', got '*/15 * * *'" },
	{ BASE "schedule: { cron: \"@daily\", every: 1h }\n",
	  "t.yaml:5:29: use either 'cron' or 'every', not both" },
	{ BASE "schedule: { every: 0 }\n", "t.yaml:5:20: 'every' must be longer than 0s" },
	{ BASE "schedule: {}\n", "t.yaml:5:11: 'schedule' needs 'cron' or 'every'" },
	{ BASE "metrics: {}\n", "t.yaml:5:10: missing required key 'file' in 'metrics'" },
	{ BASE "pricing: { path: x }\n", "t.yaml:5:12: unknown key 'path' in 'pricing': use one of file, free_tier, error_rate" },
	{ "version: 1\nname: t\nsource: /a\ntarget: /b\nmodes: sync\n",
	  "t.yaml:5:1: unknown key 'modes' (did you mean 'mode'?)" },
	{ "version: 1\nname: t\nsource: /a\ntarget: /b\ncolour: red\n",
	  "t.yaml:5:1: unknown key 'colour': use one of version, name, source, target, targets, mode, transfer, filter, journal, delete, schedule, metrics, pricing, preserve, shard, residency, tags, metadata, tiering, retention, legal_hold" },
	{ BASE "preserve: { mode: sometimes }\n",
	  "t.yaml:5:19: 'mode' must be true or false, got 'sometimes'" },
	{ BASE "preserve: { owner: true }\n",
	  "t.yaml:5:13: unknown key 'owner' in 'preserve': use one of mode" },
	{ BASE "preserve: true\n",
	  "t.yaml:5:11: 'preserve' must be a mapping of keys, got a single value" },
	{ "version: 1\nname: t\nsource:\ntarget: /b\n",
	  "t.yaml:3:8: 'source' has no value: give it one or remove the key" },

	/* ${VAR} */
	{ BASE "journal: ${MG_T_UNSET}/j\n",
	  "t.yaml:5:10: environment variable 'MG_T_UNSET' is not set" },
	{ BASE "journal: ${MG T}/j\n",
	  "t.yaml:5:10: bad variable reference in '${MG T}/j': write ${NAME} with letters, digits and '_', or $$ for a literal '$'" },
	{ BASE "journal: \"${MG_T_SET\"\n",
	  "t.yaml:5:10: bad variable reference in '${MG_T_SET': write ${NAME} with letters, digits and '_', or $$ for a literal '$'" },
	{ "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, access_key_id: A, secret_access_key: \"hunter${2\" }\n",
	  "t.yaml:4:63: bad variable reference in the value of 'secret_access_key': write ${NAME} with letters, digits and '_', or $$ for a literal '$'" },
	{ BASE "transfer: { concurrency: \"${MG_T_SET}\" }\n",
	  "t.yaml:5:26: 'concurrency' must be an integer, got 'value'" },
};

static void test_every_error(void **state)
{
	struct mg_plan p;
	struct mg_error e;
	int failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = load("t.yaml", bad[i].text, &p, &e);

		if (r != MG_FAILED || strcmp(e.msg, bad[i].msg) != 0) {
			print_error("case %zu: got %d '%s'\n          want '%s'\n",
				    i, r, e.msg, bad[i].msg);
			failed++;
		}
		if (r == MG_OK) {
			mg_plan_release(&p);
			continue;
		}
		/* a failed load leaves nothing to release */
		assert_null(p.name);
		assert_null(p.targets);
	}
	assert_int_equal(failed, 0);
}

/* The password of a rejected url never shows. */
static void test_password_not_echoed(void **state)
{
	struct mg_plan p;
	struct mg_error e;

	(void)state;
	assert_int_equal(load("t.yaml", "version: 1\nname: t\nsource: sftp://u:hunter2@h/x\ntarget: /b\n",
			      &p, &e), MG_FAILED);
	assert_null(strstr(e.msg, "hunter2"));
	assert_int_equal(load("t.yaml", "version: 1\nname: t\nsource: s3://AKIA:hunter2@b/x\ntarget: /b\n",
			      &p, &e), MG_FAILED);
	assert_null(strstr(e.msg, "hunter2"));
	assert_int_equal(load("t.yaml", "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b, access_key_id: A, secret_access_key: \"hunter2${x\" }\n",
			      &p, &e), MG_FAILED);
	assert_null(strstr(e.msg, "hunter2"));
}

static void test_file_errors(void **state)
{
	struct mg_plan p;
	struct mg_error e;
	char path[] = "/tmp/mg-plan-test.XXXXXX";
	int fd;
	FILE *f;

	(void)state;
	mg_error_clear(&e);
	assert_int_equal(mg_plan_load("/nonexistent/p.yaml", &p, &e), MG_FAILED);
	assert_string_equal(e.msg,
			    "/nonexistent/p.yaml: cannot read the plan: No such file or directory");

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	for (int i = 0; i < 1100; i++)
		fprintf(f, "# %1020d\n", i);
	fclose(f);
	mg_error_clear(&e);
	assert_int_equal(mg_plan_load(path, &p, &e), MG_FAILED);
	assert_non_null(strstr(e.msg, ": the plan is larger than 1 MiB: is it the right file?"));
	unlink(path);
}

/* The S3 endpoint's secret never shows, even in a scheme we refuse. */
static void test_endpoint_secret_not_echoed(void **state)
{
	static const char *const eps[] = {
		"http://AKIA:hunter2@127.0.0.1:9000",
		"https://AKIA:hunter2@s3.example.com/path",
		"AKIA:hunter2@minio.lan:9000",
		"ftp://AKIA:hunter2@h",
	};
	struct mg_plan p;
	struct mg_error e;
	char text[400];

	(void)state;
	for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
		snprintf(text, sizeof(text),
			 "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, endpoint: \"%s\" }\n",
			 eps[i]);
		assert_int_equal(load("t.yaml", text, &p, &e), MG_FAILED);
		assert_null(strstr(e.msg, "hunter2"));
		assert_null(strstr(e.msg, "AKIA"));
	}
}

/* An endpoint without a scheme is https, and the plan says so; with a
 * scheme there is nothing to say.  SSE-C over https is fine. */
static void test_endpoint_warnings(void **state)
{
	struct mg_plan p;

	(void)state;
	load_ok("version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, endpoint: \"minio.lan:9000/\" }\n", &p);
	assert_int_equal(p.nwarnings, 1);
	assert_string_equal(p.warnings[0],
			    "/plans/t.yaml:4:36: warning: 'endpoint' has no scheme: 'minio.lan:9000' is reached over https (write https:// or http:// to say so)");
	mg_plan_release(&p);
	assert_null(p.warnings);
	load_ok("version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, endpoint: \"https://minio.lan:9000\", sse_c_key_env: MG_T_SET }\n", &p);
	assert_int_equal(p.nwarnings, 0);
	assert_string_equal(opt(&p.targets[0], "sse_c_key_env"), "MG_T_SET");
	mg_plan_release(&p);
	load_ok("version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, endpoint: \"http://127.0.0.1:9000\" }\n", &p);
	assert_int_equal(p.nwarnings, 0);
	mg_plan_release(&p);
	/* SSE-C to AWS itself: https */
	load_ok("version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, sse_c_key_env: MG_T_SET }\n", &p);
	mg_plan_release(&p);
}

/* 64 targets load; a 65th would share target 0's bit in the engine. */
static void test_target_limit(void **state)
{
	struct mg_buf b = MG_BUF_INIT;
	struct mg_plan p;
	struct mg_error e;

	(void)state;
	mg_buf_adds(&b, "version: 1\nname: t\nsource: /a\ntargets:\n");
	for (int i = 0; i < MG_PLAN_MAX_TARGETS; i++)
		mg_buf_addf(&b, "  - /dst/%d\n", i);
	load_ok(b.buf, &p);
	assert_int_equal(p.ntargets, 64);
	mg_plan_release(&p);
	mg_buf_adds(&b, "  - /dst/64\n");
	assert_int_equal(load("t.yaml", b.buf, &p, &e), MG_FAILED);
	assert_string_equal(e.msg,
			    "t.yaml:5:3: 'targets' lists 65 targets: a plan moves to at most 64 at once; split it into several plans");
	mg_buf_release(&b);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Issue 13.7: 200,000 nested '[' kept libyaml busy for over a minute.
 * 100,000 levels, in flow and block style, are refused in under a second,
 * naming where the 65th level opens; 64 levels are only "not a plan". */
static void test_deep_nesting(void **state)
{
	static const char *const open[] = { "[", "{a: ", "- " };
	const size_t depth = 100000;
	struct mg_plan p;
	struct mg_error e;

	(void)state;
	for (size_t k = 0; k < 3; k++) {
		size_t ol = strlen(open[k]);
		char *text = malloc(depth * ol + 1);
		char want[200];
		size_t n = 0;
		double t0, dt;

		for (size_t i = 0; i < depth; i++, n += ol)
			memcpy(text + n, open[k], ol);
		text[n] = '\0';
		t0 = now_s();
		assert_int_equal(load("t.yaml", text, &p, &e), MG_FAILED);
		dt = now_s() - t0;
		/* level 65 opens at the 65th opener */
		snprintf(want, sizeof(want),
			 "t.yaml:1:%zu: nesting deeper than 64 levels: is it the right file?",
			 1 + 64 * ol);
		assert_string_equal(e.msg, want);
		print_message("# %s nesting, %zu levels: refused in %.3f s\n",
			      open[k], depth, dt);
		assert_true(dt < 1.0);
		free(text);
	}

	/* 64 levels are allowed: the plan is only wrong */
	{
		char text[400] = "version: 1\nname: t\nsource: /a\ntarget: /b\nfilter: { include: ";
		size_t n = strlen(text);

		for (int i = 0; i < 62; i++)
			text[n++] = '[';
		text[n++] = 'x';
		for (int i = 0; i < 62; i++)
			text[n++] = ']';
		strcpy(text + n, " }\n");
		assert_int_equal(load("t.yaml", text, &p, &e), MG_FAILED);
		assert_null(strstr(e.msg, "nesting"));
		assert_string_equal(e.msg,
				    "t.yaml:5:21: 'include' must be a glob or a list of globs, got a list in the list");
	}
}

/* preserve: { mode } and symlinks: follow-all load, dump and reload. */
static void test_preserve_and_follow_all(void **state)
{
	struct mg_plan p, q;
	struct mg_error e;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	load_ok(BASE, &p);
	assert_int_equal(p.preserve.mode, 1);
	mg_plan_release(&p);
	load_ok(BASE "preserve: { mode: true }\n", &p);
	assert_int_equal(p.preserve.mode, 1);
	mg_plan_release(&p);
	load_ok(BASE "preserve: {}\n", &p);
	assert_int_equal(p.preserve.mode, 1);
	mg_plan_release(&p);

	load_ok("version: 1\nname: t\nsource: { url: /src, symlinks: follow-all }\n"
		"targets: [ { url: \"sftp://u@h/x\", symlinks: follow } ]\npreserve: { mode: false }\n", &p);
	assert_int_equal(p.preserve.mode, 0);
	assert_string_equal(opt(&p.source, "symlinks"), "follow-all");
	assert_string_equal(opt(&p.targets[0], "symlinks"), "follow");
	f = open_memstream(&buf, &len);
	mg_plan_dump(&p, f);
	fclose(f);
	assert_non_null(strstr(buf, "  symlinks: follow-all\n"));
	assert_non_null(strstr(buf, "    symlinks: follow\n"));
	assert_non_null(strstr(buf, "preserve:\n  mode: false\n"));
	mg_error_clear(&e);
	if (mg_plan_load_string("/plans/t.yaml", buf, len, &q, &e) != MG_OK)
		fail_msg("dump does not load: %s\n%s", e.msg, buf);
	assert_int_equal(q.preserve.mode, 0);
	assert_string_equal(opt(&q.source, "symlinks"), "follow-all");
	assert_string_equal(opt(&q.targets[0], "symlinks"), "follow");
	mg_plan_release(&q);
	mg_plan_release(&p);
	free(buf);
}

/* ------------------------------------------------------------ valid */

static void test_minimal_defaults(void **state)
{
	struct mg_plan p;
	char cwd[4096], want[4200];
	unsigned char md[32];
	unsigned int mdlen;

	(void)state;
	load_ok(BASE, &p);
	assert_int_equal(p.version, 1);
	assert_string_equal(p.name, "t");
	assert_string_equal(p.file, "/plans/t.yaml");
	assert_string_equal(p.source.scheme, "file");
	assert_string_equal(p.source.connector, "file");
	assert_string_equal(p.source.path, "/src");
	assert_null(opt(&p.source, "path_style"));	/* an S3 key: not a folder's */
	assert_string_equal(opt(&p.source, "symlinks"), "skip");
	assert_int_equal(p.source.line, 3);
	assert_int_equal(p.source.col, 9);
	assert_int_equal(strlen(p.source.id), 16);
	assert_int_equal(p.ntargets, 1);
	assert_string_equal(p.targets[0].path, "/dst");
	assert_string_not_equal(p.targets[0].id, p.source.id);
	assert_int_equal(p.mode, MG_MODE_COPY);
	assert_int_equal(p.transfer.concurrency, 4);
	assert_int_equal(p.transfer.part_size, 16 << 20);
	assert_int_equal(p.transfer.multipart_threshold, 16 << 20);
	assert_int_equal(p.transfer.bandwidth, 0);
	assert_int_equal(p.transfer.ntimetable, 0);
	assert_int_equal(p.transfer.verify, 1);
	assert_int_equal(p.transfer.dedupe, 1);
	assert_int_equal(p.transfer.retries, 5);
	assert_int_equal(p.filter.ninclude, 0);
	assert_int_equal(p.filter.nexclude, 0);
	assert_null(p.deletes.quarantine_prefix);
	assert_null(p.schedule.cron);
	assert_null(p.metrics_file);
	assert_null(p.pricing_file);
	/* the default journal is where migrate runs, not next to the plan */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(want, sizeof(want), "%s/.migrate/t", strcmp(cwd, "/") ? cwd : "");
	assert_string_equal(p.journal, want);
	EVP_Digest(BASE, strlen(BASE), md, &mdlen, EVP_sha256(), NULL);
	assert_memory_equal(p.hash, md, 32);
	mg_plan_release(&p);
	assert_null(p.name);
}

static void test_full_plan(void **state)
{
	static const char text[] =
		"version: 1\n"
		"name: full.plan_1\n"
		"source:\n"
		"  url: \"sftp://backup@nas.lan:2222/srv/data%20sets\"\n"
		"  identity_file: ~/.ssh/id_ed25519\n"
		"  passphrase_env: MG_T_SET\n"
		"  known_hosts: keys/known_hosts\n"
		"  host_key_fingerprint: \"SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG\"\n"
		"  symlinks: follow\n"
		"  provider: sftp\n"
		"  stored: 2TiB\n"
		"targets:\n"
		"  - url: s3://ml-datasets/raw/\n"
		"    endpoint: https://s3.us-west-004.backblazeb2.com\n"
		"    region: us-west-004\n"
		"    provider: backblaze-b2\n"
		"    path_style: true\n"
		"    storage_class: STANDARD_IA\n"
		"    sse: aws:kms\n"
		"    sse_kms_key_id: arn:aws:kms:k\n"
		"    access_key_id: AKIAEXAMPLE\n"
		"    secret_access_key: ${MG_T_SECRET}\n"
		"    session_token: tok$$en\n"
		"    ca_file: /etc/ssl/ca.pem\n"
		"  - url: s3://ml-datasets/raw/\n"
		"    endpoint: https://r2.example.com\n"
		"    sse_c_key_env: MG_T_SET\n"
		"    profile: r2\n"
		"    path_style: auto\n"
		"mode: sync\n"
		"transfer:\n"
		"  concurrency: 16\n"
		"  part_size: 128MiB\n"
		"  multipart_threshold: 1GB\n"
		"  bandwidth:\n"
		"    default: 100MB/s\n"
		"    \"mon-fri 08:00-18:00\": 20MB/s\n"
		"    \"sat,sun\": unlimited\n"
		"  verify: false\n"
		"  dedupe: no\n"
		"  retries: 0\n"
		"filter:\n"
		"  include: [\"**/*.parquet\", \"*.csv\"]\n"
		"  exclude: tmp/**\n"
		"  min_size: 1\n"
		"  max_size: 10GiB\n"
		"  newer_than: 30d\n"
		"  older_than: 1h30m\n"
		"journal: ./state/j\n"
		"delete: { max_count: 100, max_percent: 10%, quarantine_prefix: quarantine/ }\n"
		"schedule: { every: 15m }\n"
		"metrics: { file: /var/lib/node_exporter/migrate.prom }\n"
		"pricing: { file: prices.json }\n";
	struct mg_plan p;
	struct mg_endpoint *t;

	(void)state;
	setenv("MG_T_SECRET", "wJalrXUtnFEMI/K7MDENG", 1);
	setenv("HOME", "/home/tester", 1);
	load_ok(text, &p);
	assert_string_equal(p.name, "full.plan_1");
	assert_string_equal(p.source.scheme, "sftp");
	assert_string_equal(p.source.connector, "sftp");
	assert_string_equal(p.source.user, "backup");
	assert_string_equal(p.source.host, "nas.lan");
	assert_int_equal(p.source.port, 2222);
	assert_string_equal(p.source.path, "/srv/data sets");
	assert_string_equal(opt(&p.source, "identity_file"), "/home/tester/.ssh/id_ed25519");
	assert_string_equal(opt(&p.source, "passphrase_env"), "MG_T_SET");
	assert_string_equal(opt(&p.source, "known_hosts"), "/plans/keys/known_hosts");
	assert_string_equal(opt(&p.source, "symlinks"), "follow");
	assert_string_equal(p.source.provider, "sftp");
	assert_int_equal(p.source.stored_bytes, 2ULL << 40);

	assert_int_equal(p.ntargets, 2);
	t = &p.targets[0];
	assert_string_equal(t->scheme, "s3");
	assert_string_equal(t->connector, "s3");
	assert_string_equal(t->host, "ml-datasets");
	assert_string_equal(t->path, "raw/");
	assert_string_equal(opt(t, "endpoint"), "https://s3.us-west-004.backblazeb2.com");
	assert_string_equal(opt(t, "region"), "us-west-004");
	assert_string_equal(t->provider, "backblaze-b2");
	assert_string_equal(opt(t, "path_style"), "true");
	assert_string_equal(opt(t, "storage_class"), "STANDARD_IA");
	assert_string_equal(opt(t, "sse"), "aws:kms");
	assert_string_equal(opt(t, "sse_kms_key_id"), "arn:aws:kms:k");
	assert_string_equal(opt(t, "access_key_id"), "AKIAEXAMPLE");
	assert_string_equal(opt(t, "secret_access_key"), "wJalrXUtnFEMI/K7MDENG");
	assert_string_equal(opt(t, "session_token"), "tok$en");
	assert_string_equal(opt(t, "ca_file"), "/etc/ssl/ca.pem");
	assert_int_equal(t->line, 13);
	assert_int_equal(t->col, 5);
	/* same bucket and prefix at another provider: another place */
	assert_string_not_equal(p.targets[0].id, p.targets[1].id);
	assert_string_equal(opt(&p.targets[1], "path_style"), "auto");
	assert_string_equal(opt(&p.targets[1], "profile"), "r2");
	assert_string_equal(opt(&p.targets[1], "sse_c_key_env"), "MG_T_SET");

	assert_int_equal(p.mode, MG_MODE_SYNC);
	assert_int_equal(p.transfer.concurrency, 16);
	assert_int_equal(p.transfer.part_size, 128 << 20);
	assert_int_equal(p.transfer.multipart_threshold, 1000000000);
	assert_int_equal(p.transfer.bandwidth, 100000000);
	assert_int_equal(p.transfer.ntimetable, 2);
	assert_int_equal(p.transfer.timetable[0].days, 0x1f);
	assert_int_equal(p.transfer.timetable[0].start_min, 480);
	assert_int_equal(p.transfer.timetable[0].end_min, 1080);
	assert_int_equal(p.transfer.timetable[0].rate, 20000000);
	assert_int_equal(p.transfer.timetable[1].days, 0x60);
	assert_int_equal(p.transfer.timetable[1].rate, 0);
	assert_int_equal(p.transfer.verify, 0);
	assert_int_equal(p.transfer.dedupe, 0);
	assert_int_equal(p.transfer.retries, 0);
	assert_int_equal(p.filter.ninclude, 2);
	assert_string_equal(p.filter.include[1], "*.csv");
	assert_int_equal(p.filter.nexclude, 1);
	assert_string_equal(p.filter.exclude[0], "tmp/**");
	assert_int_equal(p.filter.min_size, 1);
	assert_int_equal(p.filter.max_size, 10ULL << 30);
	assert_int_equal(p.filter.newer_than, 30 * 86400);
	assert_int_equal(p.filter.older_than, 5400);
	assert_string_equal(p.journal, "/plans/state/j");
	assert_int_equal(p.deletes.max_count, 100);
	assert_true(p.deletes.max_percent == 10.0);
	assert_string_equal(p.deletes.quarantine_prefix, "quarantine/");
	assert_int_equal(p.schedule.every, 900);
	assert_null(p.schedule.cron);
	assert_string_equal(p.metrics_file, "/var/lib/node_exporter/migrate.prom");
	assert_string_equal(p.pricing_file, "/plans/prices.json");
	mg_plan_release(&p);
}

static void test_tar_and_cron(void **state)
{
	struct mg_plan p;

	(void)state;
	load_ok("version: 1\nname: t\n"
		"source: { url: \"tar+s3://archive/2019/data.tar.zst\", prefix: imported/, max_entry_size: 100GiB, max_ratio: 200, symlinks: record }\n"
		"target: s3://dst\n"
		"schedule: { cron: \"*/15 * * * *\" }\n", &p);
	assert_string_equal(p.source.scheme, "tar+s3");
	assert_string_equal(p.source.connector, "tar");
	assert_string_equal(p.source.host, "archive");
	assert_string_equal(p.source.path, "2019/data.tar.zst");
	assert_string_equal(opt(&p.source, "prefix"), "imported/");
	assert_string_equal(opt(&p.source, "max_entry_size"), "107374182400");
	assert_string_equal(opt(&p.source, "max_ratio"), "200");
	assert_string_equal(opt(&p.source, "symlinks"), "record");
	assert_string_equal(p.targets[0].host, "dst");
	assert_string_equal(p.targets[0].path, "");
	assert_string_equal(p.schedule.cron, "*/15 * * * *");
	mg_plan_release(&p);

	load_ok("version: 1\nname: t\n"
		"source: tar+sftp://me@[fe80::1]:2200/x/y.tgz\n"
		"target: ./out\n", &p);
	assert_string_equal(p.source.scheme, "tar+sftp");
	assert_string_equal(p.source.host, "fe80::1");
	assert_int_equal(p.source.port, 2200);
	assert_string_equal(p.source.path, "/x/y.tgz");
	assert_string_equal(p.targets[0].path, "/plans/out");
	mg_plan_release(&p);
}

static void test_vars(void **state)
{
	struct mg_plan p;

	(void)state;
	setenv("MG_T_SET", "value", 1);
	setenv("MG_T_BUCKET", "bkt", 1);
	setenv("MG_T_N", "8", 1);
	setenv("MG_T_EMPTY", "", 1);
	load_ok("version: 1\nname: t-${MG_T_SET}\n"
		"source: /data/$$HOME/a$b${MG_T_EMPTY}\n"
		"target: { url: \"s3://${MG_T_BUCKET}/p\", access_key_id: '${MG_T_SET}', secret_access_key: x }\n"
		"transfer: { concurrency: \"${MG_T_N}\" }\n", &p);
	assert_string_equal(p.name, "t-value");
	assert_string_equal(p.source.path, "/data/$HOME/a$b");
	assert_string_equal(p.targets[0].url, "s3://bkt/p");
	assert_string_equal(p.targets[0].host, "bkt");
	assert_string_equal(opt(&p.targets[0], "access_key_id"), "value");
	assert_int_equal(p.transfer.concurrency, 8);
	mg_plan_release(&p);
}

static void test_relative_paths(void **state)
{
	struct mg_plan p, q;
	struct mg_error e;
	char cwd[4096], want[4200];

	(void)state;
	/* against the plan file's folder, whatever it is called */
	assert_int_equal(load("/srv/plans/p.yaml",
			      "version: 1\nname: t\nsource: ./sample\ntarget: ../out/\njournal: j\n",
			      &p, &e), MG_OK);
	assert_string_equal(p.source.path, "/srv/plans/sample");
	assert_string_equal(p.source.url, "./sample");	/* as written */
	assert_string_equal(p.targets[0].path, "/srv/plans/../out");
	assert_string_equal(p.journal, "/srv/plans/j");
	/* the id follows the place, not the spelling */
	assert_int_equal(load("/elsewhere/q.yaml",
			      "version: 1\nname: t\nsource: file:///srv/plans/sample/\ntarget: /x\n",
			      &q, &e), MG_OK);
	assert_string_equal(p.source.id, q.source.id);
	mg_plan_release(&p);
	mg_plan_release(&q);

	/* a plan named without a folder: the current directory */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(load("p.yaml", "version: 1\nname: t\nsource: in\ntarget: /x\n",
			      &p, &e), MG_OK);
	snprintf(want, sizeof(want), "%s/in", strcmp(cwd, "/") ? cwd : "");
	assert_string_equal(p.source.path, want);
	mg_plan_release(&p);
}

/* ------------------------------------------------------------- urls */

static void test_parse_url(void **state)
{
	struct mg_endpoint ep;
	char msg[256], cwd[4096], want[4200];

	(void)state;
	memset(&ep, 0, sizeof(ep));
	assert_int_equal(mg_endpoint_parse_url(&ep, "/abs/path", msg, sizeof(msg)), 0);
	assert_string_equal(ep.scheme, "file");
	assert_string_equal(ep.path, "/abs/path");
	assert_string_equal(ep.url, "/abs/path");

	assert_int_equal(mg_endpoint_parse_url(&ep, "file:///abs/a%20b/", msg, sizeof(msg)), 0);
	assert_string_equal(ep.path, "/abs/a b");
	assert_int_equal(mg_endpoint_parse_url(&ep, "file://localhost/x", msg, sizeof(msg)), 0);
	assert_string_equal(ep.path, "/x");
	/* plain paths are not percent-decoded */
	assert_int_equal(mg_endpoint_parse_url(&ep, "/a%20b", msg, sizeof(msg)), 0);
	assert_string_equal(ep.path, "/a%20b");
	/* a folder may have a colon in its name */
	assert_int_equal(mg_endpoint_parse_url(&ep, "/x/data:2024", msg, sizeof(msg)), 0);
	assert_string_equal(ep.path, "/x/data:2024");

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(mg_endpoint_parse_url(&ep, "rel/dir", msg, sizeof(msg)), 0);
	snprintf(want, sizeof(want), "%s/rel/dir", strcmp(cwd, "/") ? cwd : "");
	assert_string_equal(ep.path, want);
	assert_int_equal(mg_endpoint_parse_url(&ep, "data:2024", msg, sizeof(msg)), 0);
	assert_string_equal(ep.scheme, "file");

	assert_int_equal(mg_endpoint_parse_url(&ep, "sftp://host", msg, sizeof(msg)), 0);
	assert_string_equal(ep.scheme, "sftp");
	assert_null(ep.user);
	assert_string_equal(ep.host, "host");
	assert_int_equal(ep.port, 22);
	assert_string_equal(ep.path, "");	/* the login folder */
	assert_int_equal(mg_endpoint_parse_url(&ep, "sftp://host/", msg, sizeof(msg)), 0);
	assert_string_equal(ep.path, "/");
	assert_int_equal(mg_endpoint_parse_url(&ep, "SFTP://a%40b@[::1]:2022/p%2Fq/r", msg, sizeof(msg)), 0);
	assert_string_equal(ep.user, "a@b");
	assert_string_equal(ep.host, "::1");
	assert_int_equal(ep.port, 2022);
	assert_string_equal(ep.path, "/p/q/r");
	assert_int_equal(mg_endpoint_parse_url(&ep, "sftp://h:0/x", msg, sizeof(msg)), -1);
	assert_int_equal(mg_endpoint_parse_url(&ep, "sftp://h:/x", msg, sizeof(msg)), -1);
	assert_int_equal(mg_endpoint_parse_url(&ep, "sftp://h:22a/x", msg, sizeof(msg)), -1);

	assert_int_equal(mg_endpoint_parse_url(&ep, "s3://bucket", msg, sizeof(msg)), 0);
	assert_string_equal(ep.host, "bucket");
	assert_string_equal(ep.path, "");
	assert_string_equal(ep.connector, "s3");
	assert_int_equal(mg_endpoint_parse_url(&ep, "s3://bucket/", msg, sizeof(msg)), 0);
	assert_string_equal(ep.path, "");
	assert_int_equal(mg_endpoint_parse_url(&ep, "s3://bucket/a/b/", msg, sizeof(msg)), 0);
	assert_string_equal(ep.path, "a/b/");
	assert_int_equal(mg_endpoint_parse_url(&ep, "s3://bucket/a%2Bb", msg, sizeof(msg)), 0);
	assert_string_equal(ep.path, "a+b");
	assert_int_equal(mg_endpoint_parse_url(&ep, "s3://b/%00", msg, sizeof(msg)), -1);
	assert_int_equal(mg_endpoint_parse_url(&ep, "s3://b/%4", msg, sizeof(msg)), -1);

	assert_int_equal(mg_endpoint_parse_url(&ep, "tar:///d/x.tar.gz", msg, sizeof(msg)), 0);
	assert_string_equal(ep.scheme, "tar");
	assert_string_equal(ep.connector, "tar");
	assert_string_equal(ep.path, "/d/x.tar.gz");
	assert_int_equal(mg_endpoint_parse_url(&ep, "tar+sftp://u@h/p/x.tgz", msg, sizeof(msg)), 0);
	assert_string_equal(ep.scheme, "tar+sftp");
	assert_string_equal(ep.user, "u");
	assert_string_equal(ep.path, "/p/x.tgz");
	assert_int_equal(mg_endpoint_parse_url(&ep, "tar+s3://b/k.tar", msg, sizeof(msg)), 0);
	assert_string_equal(ep.scheme, "tar+s3");
	assert_string_equal(ep.path, "k.tar");
	assert_int_equal(mg_endpoint_parse_url(&ep, "tar+s3://b", msg, sizeof(msg)), -1);
	assert_string_equal(msg, "'tar+s3://b' must name an archive file, not a folder");
	assert_int_equal(mg_endpoint_parse_url(&ep, "tar+sftp://h", msg, sizeof(msg)), -1);
	/* archives wrap any connector with ranged reads, never another archive */
	assert_int_equal(mg_endpoint_parse_url(&ep, "tar+file:///d/y.zip", msg, sizeof(msg)), 0);
	assert_string_equal(ep.scheme, "tar");
	assert_string_equal(ep.inner->connector, "file");
	assert_int_equal(mg_endpoint_parse_url(&ep, "tar+tar:///d/y.tar", msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "unknown url scheme 'tar+tar'"));

	setenv("HOME", "/home/tester", 1);
	assert_int_equal(mg_endpoint_parse_url(&ep, "~/x", msg, sizeof(msg)), 0);
	assert_string_equal(ep.path, "/home/tester/x");
	assert_int_equal(mg_endpoint_parse_url(&ep, "~", msg, sizeof(msg)), 0);
	assert_string_equal(ep.path, "/home/tester");
	assert_int_equal(mg_endpoint_parse_url(&ep, "~root/x", msg, sizeof(msg)), 0);
	assert_string_equal(ep.path, "/root/x");
	mg_endpoint_release(&ep);
	assert_null(ep.url);
}

/*
 * Endpoint ids key every record of a journal on disk, so they must never
 * change: these were computed by the code of before the connectors owned
 * their configuration (commit 226cdb7) and pin it.  Plans are loaded from
 * /plans, so relative and absolute folders agree.
 */
static void test_endpoint_ids_pinned(void **state)
{
	static const struct {
		const char *target;	/* a target, or a source when it is an archive */
		const char *id;
	} pins[] = {
		{ "/abs/dir", "b938487dd664faa8" },
		{ "\"file:///abs/a%20b/\"", "e415c00e2038d192" },
		{ "sftp://User@Host.Example:2222/srv/data", "a042e000d3b7f8ef" },
		{ "sftp://h", "513169cad2b13658" },
		{ "s3://bucket/pre/fix/", "ee767be6bfa26a9a" },
		{ "s3://bucket", "5af75b20ff3be482" },
		{ "{ url: s3://b/p, endpoint: \"https://S3.Example.COM//\" }", "423890976b8e946a" },
		{ "tar:///d/x.tar.gz", "fbc3a101f0584291" },
		{ "tar+sftp://u@H/p/x.tgz", "5f96badb26ecf837" },
		{ "tar+s3://b/k.tar", "a247ce0a242824b7" },
		{ "{ url: tar+s3://b/d/k.tar, endpoint: \"http://127.0.0.1:7480\" }", "12751c04f9e88c75" },
	};
	char text[512];
	struct mg_plan p;

	(void)state;
	for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		int archive = strncmp(pins[i].target, "tar", 3) == 0 ||
			      strstr(pins[i].target, "url: tar") != NULL;
		const char *id;

		if (archive)
			snprintf(text, sizeof(text),
				 "version: 1\nname: t\nsource: %s\ntarget: /dst\n",
				 pins[i].target);
		else
			snprintf(text, sizeof(text),
				 "version: 1\nname: t\nsource: /src\ntarget: %s\n",
				 pins[i].target);
		load_ok(text, &p);
		id = archive ? p.source.id : p.targets[0].id;
		assert_string_equal(id, pins[i].id);
		mg_plan_release(&p);
	}
	/* an archive over its default inner connector is the same place
	 * however it is spelled */
	load_ok("version: 1\nname: t\nsource: TAR+FILE:///d/x.tar.gz\ntarget: /dst\n", &p);
	assert_string_equal(p.source.id, "fbc3a101f0584291");
	assert_string_equal(p.source.scheme, "tar");
	mg_plan_release(&p);
}

/* A connector written to another contract version is refused by name,
 * before any of its methods is called. */
static void test_connector_version_checked(void **state)
{
	static const struct mg_connector old = { .version = 1, .scheme = "old" };
	struct mg_endpoint ep;
	struct mg_conn conn;
	char msg[300];

	(void)state;
	memset(&ep, 0, sizeof(ep));
	assert_int_equal(mg_connector_check(&old, msg, sizeof(msg)), -1);
	assert_string_equal(msg,
			    "the 'old' connector was written to connector contract version 1, "
			    "this migrate speaks version 2: update it to engine/connector.h and rebuild");
	assert_int_equal(mg_conn_open(&conn, &old, &ep, NULL, MG_OPEN_SOURCE), MG_FATAL);
	assert_string_equal(conn.err.msg, msg);
	mg_conn_close(&conn);	/* calls nothing of old's */
	for (size_t i = 0; mg_connector_at(i); i++)
		assert_int_equal(mg_connector_check(mg_connector_at(i), msg, sizeof(msg)), 0);
}

/* ------------------------------------------------------------- dump */

static void test_dump_masks_and_reloads(void **state)
{
	struct mg_plan p, q;
	struct mg_error e;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	setenv("MG_T_SECRET", "wJalrXUtnFEMI/K7MDENG", 1);
	load_ok("version: 1\nname: d\nsource: /a\n"
		"targets:\n"
		"  - { url: s3://b/p, access_key_id: AK, secret_access_key: \"${MG_T_SECRET}\", session_token: T0KEN }\n"
		"  - /c/with \"quote\" and $$dollar\n"
		"mode: sync\n"
		"transfer: { bandwidth: { default: 1MB/s, \"daily 22:00-06:00\": unlimited, \"sat 10:00-11:00\": 8Mbit/s } }\n"
		"filter: { include: [\"**/*.x\"], exclude: \"tmp/\", newer_than: 1d }\n"
		"delete: { max_percent: 12.5 }\n"
		"schedule: { cron: \"0 3 * * *\" }\n", &p);
	f = open_memstream(&buf, &len);
	mg_plan_dump(&p, f);
	fclose(f);
	assert_null(strstr(buf, "wJalrXUtnFEMI"));
	assert_null(strstr(buf, "T0KEN"));
	assert_non_null(strstr(buf, "secret_access_key: \"***\""));
	assert_non_null(strstr(buf, "session_token: \"***\""));

	/* the dump is itself a plan that means the same */
	mg_error_clear(&e);
	if (mg_plan_load_string("/plans/t.yaml", buf, len, &q, &e) != MG_OK)
		fail_msg("dump does not load: %s\n%s", e.msg, buf);
	assert_string_equal(q.name, "d");
	assert_int_equal(q.ntargets, 2);
	assert_string_equal(q.targets[0].id, p.targets[0].id);
	assert_string_equal(q.targets[1].path, "/c/with \"quote\" and $dollar");
	assert_string_equal(q.targets[1].id, p.targets[1].id);
	assert_int_equal(q.mode, MG_MODE_SYNC);
	assert_int_equal(q.transfer.bandwidth, 1000000);
	assert_int_equal(q.transfer.ntimetable, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(q.transfer.timetable[i].days, p.transfer.timetable[i].days);
		assert_int_equal(q.transfer.timetable[i].start_min, p.transfer.timetable[i].start_min);
		assert_int_equal(q.transfer.timetable[i].end_min, p.transfer.timetable[i].end_min);
		assert_int_equal(q.transfer.timetable[i].rate, p.transfer.timetable[i].rate);
	}
	assert_int_equal(q.transfer.timetable[1].rate, 1000000);
	assert_string_equal(q.filter.exclude[0], "tmp/");
	assert_int_equal(q.filter.newer_than, 86400);
	assert_true(q.deletes.max_percent == 12.5);
	assert_string_equal(q.schedule.cron, "0 3 * * *");
	assert_string_equal(q.journal, p.journal);
	mg_plan_release(&q);
	mg_plan_release(&p);
	free(buf);
}

/*
 * plans/README.md documents every key of every connector's table (the
 * tables are the truth the loader follows; the README is what people
 * read), and each key has its doc line.
 */
static void test_readme_documents_every_key(void **state)
{
	const char *src = getenv("MG_SRCDIR");
	const struct mg_connector *c;
	char path[4096], want[200], *text;
	size_t len = 0;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/plans/README.md", src ? src : "..");
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open '%s': set MG_SRCDIR to the source tree", path);
	text = malloc(1 << 20);
	assert_non_null(text);
	len = fread(text, 1, (1 << 20) - 1, f);
	text[len] = '\0';
	fclose(f);
	for (size_t i = 0; (c = mg_connector_at(i)); i++) {
		assert_int_equal(c->version, MG_CONNECTOR_VERSION);
		for (size_t k = 0; k < c->noptions; k++) {
			snprintf(want, sizeof(want), "| `%s` |", c->options[k].name);
			if (!strstr(text, want))
				fail_msg("plans/README.md does not document '%s' (%s)",
					 c->options[k].name, c->scheme);
			if (!c->options[k].doc || !*c->options[k].doc)
				fail_msg("'%s' (%s) has no doc line", c->options[k].name,
					 c->scheme);
		}
	}
	free(text);
}

/* tests/data/plans: each bad plan names the error it must give. */
static void test_bad_plan_files(void **state)
{
	const char *src = getenv("MG_SRCDIR");
	char dir[4096], path[4400], line[600], want[5100];
	struct dirent *d;
	int n = 0;
	DIR *dp;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/tests/data/plans", src ? src : "..");
	dp = opendir(dir);
	if (!dp)
		fail_msg("cannot open '%s': set MG_SRCDIR to the source tree", dir);
	while ((d = readdir(dp))) {
		size_t l = strlen(d->d_name);
		struct mg_plan p;
		struct mg_error e;
		FILE *f;

		if (l < 6 || strcmp(d->d_name + l - 5, ".yaml") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		f = fopen(path, "r");
		assert_non_null(f);
		assert_non_null(fgets(line, sizeof(line), f));
		fclose(f);
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "# expect: ", 10) != 0)
			fail_msg("%s: the first line must be '# expect: LINE:COL: message'", path);
		snprintf(want, sizeof(want), "%s:%s", path, line + 10);
		mg_error_clear(&e);
		assert_int_equal(mg_plan_load(path, &p, &e), MG_FAILED);
		if (strcmp(e.msg, want) != 0)
			fail_msg("%s:\n got '%s'\nwant '%s'", d->d_name, e.msg, want);
		n++;
	}
	closedir(dp);
	assert_true(n >= 5);
}

/* ---------------------------------------------------------- examples */

static void test_examples_load(void **state)
{
	static const char *const examples[] = {
		"quickstart.yaml", "nas-to-b2.yaml", "s3-to-s3.yaml",
		"tarball-to-s3.yaml", "replicate-two-clouds.yaml",
	};
	unsigned seen = 0;
	const char *src = getenv("MG_SRCDIR");
	char dir[4096], path[4400];
	struct dirent *d;
	int n = 0;
	DIR *dp;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/plans", src ? src : "..");
	dp = opendir(dir);
	if (!dp)
		fail_msg("cannot open '%s': set MG_SRCDIR to the source tree", dir);
	/* what the examples take from the environment */
	setenv("B2_KEY_ID", "0042example", 1);
	setenv("B2_APPLICATION_KEY", "K004example", 1);
	setenv("R2_ACCESS_KEY_ID", "r2example", 1);
	setenv("R2_SECRET_ACCESS_KEY", "r2secret", 1);
	setenv("WASABI_ACCESS_KEY_ID", "wasabiexample", 1);
	setenv("WASABI_SECRET_ACCESS_KEY", "wasabisecret", 1);
	setenv("R2_ACCOUNT_ID", "0123456789abcdef", 1);
	setenv("NAS_KEY_PASSPHRASE", "pass", 1);
	if (!getenv("PWD")) {	/* quickstart.yaml writes to ${PWD} */
		char cwd[4096];

		assert_non_null(getcwd(cwd, sizeof(cwd)));
		setenv("PWD", cwd, 1);
	}
	while ((d = readdir(dp))) {
		size_t l = strlen(d->d_name);
		struct mg_plan p;
		struct mg_error e;

		/* pricing.yaml is the price table, not a plan */
		if (l < 6 || strcmp(d->d_name + l - 5, ".yaml") != 0 ||
		    strcmp(d->d_name, "pricing.yaml") == 0)
			continue;
		for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
			if (strcmp(d->d_name, examples[i]) == 0)
				seen |= 1u << i;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		mg_error_clear(&e);
		if (mg_plan_load(path, &p, &e) != MG_OK)
			fail_msg("example %s: %s", d->d_name, e.msg);
		assert_true(p.ntargets >= 1);
		mg_plan_release(&p);
		n++;
	}
	closedir(dp);
	assert_int_equal(seen, (1u << 5) - 1);
	assert_true(n >= 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_error),
		cmocka_unit_test(test_password_not_echoed),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_full_plan),
		cmocka_unit_test(test_tar_and_cron),
		cmocka_unit_test(test_vars),
		cmocka_unit_test(test_relative_paths),
		cmocka_unit_test(test_parse_url),
		cmocka_unit_test(test_endpoint_ids_pinned),
		cmocka_unit_test(test_connector_version_checked),
		cmocka_unit_test(test_readme_documents_every_key),
		cmocka_unit_test(test_dump_masks_and_reloads),
		cmocka_unit_test(test_examples_load),
		cmocka_unit_test(test_bad_plan_files),
		cmocka_unit_test(test_endpoint_secret_not_echoed),
		cmocka_unit_test(test_endpoint_warnings),
		cmocka_unit_test(test_target_limit),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_preserve_and_follow_all),
	};

	setenv("MG_T_SET", "value", 1);
	unsetenv("MG_T_UNSET");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
