#!/usr/bin/env bash
# Latency of the connectors that are not S3 (issue 16.1) against the real
# sshd and an archive made by tar(1): an SFTP file's open, read, write and
# stat, an archive entry's read, each timed into its class and shown as
# the S3 classes are (summary line, --json, the daemon's Prometheus
# textfile), counted once per file moved:
#   - sftp -> local: sftp_open and sftp_read once per file
#   - local -> sftp: sftp_open and sftp_write once per file; a second run
#     after a change stats the target (sftp_stat = its HEAD requests)
#   - tar -> local: archive_read once per entry
#   - the daemon's textfile: the SFTP source's classes as histograms with
#     an endpoint label (its URL, a quote and a backslash in it escaped),
#     the file valid (tests/lib/promcheck.py), +Inf = the files moved
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tools/lib/sshd.sh"

[ -x "$MIGRATE" ] || t_skip_all "migrate not built ($MIGRATE)"
command -v python3 >/dev/null || t_skip_all "python3 is missing"
t_need_sshd
chmod 755 "$MG_TMP"
N=12
# a quote and a backslash in the folder: the endpoint label escapes them
SRC="$MG_TMP/src \"q\" \\b"
mkdir -p "$SRC/sub"
for i in $(seq 1 $N); do head -c $((i * 3000)) /dev/urandom >"$SRC/sub/f$i.bin"; done
URL="sftp://$MG_SSH_USER@$MG_SSH_HOST:$MG_SSH_PORT$SRC"
DST=$MG_TMP/dst DST2=$MG_TMP/dst2
mkdir -p "$DST2"

# sftp_yaml ROLE URL: an SFTP endpoint (URL single-quoted: YAML leaves
# the quote and the backslash alone)
sftp_yaml() {
	printf "%s:\n  url: '%s'\n  identity_file: \"%s\"\n  known_hosts: \"%s\"\n" \
		"$1" "$2" "$MG_SSH_KEY" "$MG_SSH_KNOWN_HOSTS"
}
run_json() {	# run_json NAME PLAN: a run --json that must exit 0
	if "$MIGRATE" --json "$2" >"$MG_TMP/$1.json" 2>"$MG_TMP/$1.err"; then
		t_ok "$1 exits 0"
	else
		t_fail "$1 exits 0" "exit $?: $(tail -5 "$MG_TMP/$1.err")"
	fi
}
lat() { jq -r "$2" "$MG_TMP/$1.json"; }

# --- sftp -> local
{ printf 'version: 1\nname: down\n'; sftp_yaml source "$URL"
  printf 'target: "%s"\njournal: "%s"\n' "$DST" "$MG_TMP/down.j"; } >"$MG_TMP/down.yaml"
run_json down "$MG_TMP/down.yaml"
t_is "sftp source: one open per file" $N "$(lat down .source_latency.sftp_open.count)"
t_is "sftp source: one read per file" $N "$(lat down .source_latency.sftp_read.count)"
t_check "with percentiles and a time to first byte" jq -e \
	'.source_latency.sftp_read | .p50 > 0 and .p99 >= .p50 and .max >= .p99 and .ttfb_p50 > 0 and .ttfb_p50 <= .max' \
	"$MG_TMP/down.json"
t_grep "the summary has a line for sftp_read" \
	'^  source sftp_read +12 requests  p50 [0-9.]+ s  p95 [0-9.]+ s  p99 [0-9.]+ s  max [0-9.]+ s' \
	"$MG_TMP/down.err"
t_is "a local target has no SFTP class" null "$(lat down '.targets[0].latency.sftp_write')"

# --- local -> sftp
TURL="sftp://$MG_SSH_USER@$MG_SSH_HOST:$MG_SSH_PORT$DST2"
{ printf 'version: 1\nname: up\nsource: "%s"\n' "$DST"; sftp_yaml target "$TURL"
  printf 'journal: "%s"\n' "$MG_TMP/up.j"; } >"$MG_TMP/up.yaml"
run_json up "$MG_TMP/up.yaml"
t_is "sftp target: one open per file" $N "$(lat up '.targets[0].latency.sftp_open.count')"
t_is "sftp target: one write per file (its commit in it)" $N \
	"$(lat up '.targets[0].latency.sftp_write.count')"
t_is "the files arrived" $N "$(find "$DST2" -type f | wc -l)"
# a changed file: the run looks at the target's copy (a HEAD: an LSTAT)
head -c 5 /dev/urandom >>"$DST/sub/f1.bin"
run_json up2 "$MG_TMP/up.yaml"
heads=$(lat up2 '.targets[0].counters.requests.head')
t_is "sftp_stat counts the target's HEAD requests ($heads)" "$heads" \
	"$(lat up2 '.targets[0].latency.sftp_stat.count // 0')"
t_is "and one more write" 1 "$(lat up2 '.targets[0].latency.sftp_write.count')"

# --- tar -> local
tar -C "$DST" -cf "$MG_TMP/a.tar" sub
{ printf 'version: 1\nname: untar\nsource: "tar://%s"\ntarget: "%s"\njournal: "%s"\n' \
	"$MG_TMP/a.tar" "$MG_TMP/untar" "$MG_TMP/untar.j"; } >"$MG_TMP/untar.yaml"
run_json untar "$MG_TMP/untar.yaml"
t_is "archive: one read per entry" $N "$(lat untar .source_latency.archive_read.count)"
# finding the next entry of a local archive can take under the
# histogram's microsecond, which reads as 0: a number, not above the max
t_check "an entry's read has its time to first byte (finding it)" jq -e \
	'.source_latency.archive_read | (.ttfb_p50 | type) == "number" and .ttfb_p50 >= 0 and .ttfb_p50 <= .max and .ttfb_p99 <= .max' "$MG_TMP/untar.json"

# --- the daemon's textfile, per endpoint
METRICS=$MG_TMP/metrics.prom
{ printf 'version: 1\nname: dm\n'; sftp_yaml source "$URL"
  printf 'target: "%s"\njournal: "%s"\nschedule: { every: 1h }\nmetrics: { file: "%s" }\n' \
	"$MG_TMP/dm.out.d" "$MG_TMP/dm.j" "$METRICS"; } >"$MG_TMP/dm.yaml"
"$MIGRATE" daemon "$MG_TMP/dm.yaml" >"$MG_TMP/dm.log" 2>&1 &
DPID=$!
t_at_exit "kill $DPID 2>/dev/null"
t_wait 60 grep -qs '^migrate_request_duration_seconds_count{.*class="sftp_read"' "$METRICS" ||
	t_fail "the daemon wrote its metrics" "$(tail -5 "$MG_TMP/dm.log")"
kill "$DPID"; wait "$DPID" 2>/dev/null
out=$(python3 "$MG_SRCDIR/tests/lib/promcheck.py" "$METRICS")
[ "$out" = ok ] && t_ok "the textfile is valid exposition format" ||
	t_fail "the textfile is valid exposition format" "$out"
esc=$(printf '%s' "$URL" | sed 's/\\/\\\\/g; s/"/\\"/g')
count() {	# count CLASS: the +Inf bucket of the source's CLASS (awk -v
	# would undo the escapes: the label comes through the environment)
	EP="endpoint=\"$esc\"" C="class=\"$1\"" awk \
		'index($0, "migrate_request_duration_seconds_bucket{") == 1 && index($0, ENVIRON["EP"]) &&
		 index($0, ENVIRON["C"]) && index($0, "le=\"+Inf\"") { print $NF }' "$METRICS"
}
t_is "sftp_open of the source, labelled with its URL (escaped)" $N "$(count sftp_open)"
t_is "sftp_read of the source, labelled with its URL (escaped)" $N "$(count sftp_read)" ||
	grep 'class="sftp_read"' "$METRICS" | sed 's/^/#   /' | head -3
t_done
