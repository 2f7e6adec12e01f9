#!/usr/bin/env bash
# Latency of a local folder (issue 16.1): a file's open, read, write and
# stat are timed into the file_* classes as SFTP's are into sftp_*, shown
# in the summary, --json, --log-json and the daemon's Prometheus textfile,
# counted once per file moved, timed only (no request is billed for them):
#   - local -> local: file_open and file_read at the source once per file,
#     file_open and file_write at the target once per file; percentiles
#     are numbers, p50 <= p99 <= max
#   - --log-json: each object's line has its own open (source and target),
#     read and write
#   - a second run after a change reads and writes one file
#   (file_stat times a stat, which only verify and repair make: they do
#   not report latency)
#   - the daemon's textfile: the classes as histograms, +Inf = files moved
. "$MG_SRCDIR/tests/lib.sh"

[ -x "$MIGRATE" ] || t_skip_all "migrate not built ($MIGRATE)"
command -v python3 >/dev/null || t_skip_all "python3 is missing"
N=12
SRC=$MG_TMP/src DST=$MG_TMP/dst
mkdir -p "$SRC/sub"
for i in $(seq 1 $N); do head -c $((i * 3000)) /dev/urandom >"$SRC/sub/f$i.bin"; done
printf 'version: 1\nname: loc\nsource: "%s"\ntarget: "%s"\njournal: "%s"\n' \
	"$SRC" "$DST" "$MG_TMP/loc.j" >"$MG_TMP/loc.yaml"
run_json() {	# run_json NAME PLAN [ARGS...]: a run --json that must exit 0
	local name=$1 plan=$2
	shift 2
	if "$MIGRATE" --json "$@" "$plan" >"$MG_TMP/$name.json" 2>"$MG_TMP/$name.err"; then
		t_ok "$name exits 0"
	else
		t_fail "$name exits 0" "exit $?: $(tail -5 "$MG_TMP/$name.err")"
	fi
}
lat() { jq -r "$2" "$MG_TMP/$1.json"; }

run_json one "$MG_TMP/loc.yaml" --log-json "$MG_TMP/one.log.json"
t_is "the files arrived" $N "$(find "$DST" -type f | wc -l)"
t_is "source: one open per file" $N "$(lat one .source_latency.file_open.count)"
t_is "source: one read per file" $N "$(lat one .source_latency.file_read.count)"
t_is "target: one open per file (its temporary file)" $N \
	"$(lat one '.targets[0].latency.file_open.count')"
t_is "target: one write per file (its commit in it)" $N \
	"$(lat one '.targets[0].latency.file_write.count')"
t_check "percentiles are numbers, p50 <= p99 <= max, with a time to first byte" jq -e '
	[.source_latency.file_open, .source_latency.file_read,
	 .targets[0].latency.file_open, .targets[0].latency.file_write] |
	all(.p50 > 0 and .p99 >= .p50 and .max >= .p99 and .sum > 0 and
	    (.ttfb_p50 | type) == "number" and .ttfb_p50 <= .max and
	    (.buckets | length) == 11 and .buckets[-1] <= .count)' "$MG_TMP/one.json"
t_check "timed, not billed: no request counter is named file_*" jq -e \
	'[.source_counters.requests // {}, .targets[0].counters.requests // {} | keys[]] |
	 all(startswith("file_") | not)' "$MG_TMP/one.json"
t_grep "the summary has a line for file_read" \
	"^  source file_read +$N requests  p50 [0-9.]+ s  p95 [0-9.]+ s  p99 [0-9.]+ s  max [0-9.]+ s" \
	"$MG_TMP/one.err"
t_grep "and one for file_write" \
	"^  target file_write +$N requests  p50 [0-9.]+ s  p95 [0-9.]+ s  p99 [0-9.]+ s  max [0-9.]+ s" \
	"$MG_TMP/one.err"
t_is "--log-json: every object has its own read, write and two opens" $N "$(jq -s \
	'[.[] | select(.event == "object") | .requests |
	  select(.file_read.count == 1 and .file_write.count == 1 and .file_open.count == 2 and
		 .file_write.total_s > 0)] | length' "$MG_TMP/one.log.json")"

# a changed file: one more open, read and write
head -c 5 /dev/urandom >>"$SRC/sub/f1.bin"
run_json two "$MG_TMP/loc.yaml"
t_is "a second run after a change: one read" 1 "$(lat two '.source_latency.file_read.count')"
t_is "and one write" 1 "$(lat two '.targets[0].latency.file_write.count')"

# --- the daemon's textfile
METRICS=$MG_TMP/metrics.prom
printf 'version: 1\nname: dm\nsource: "%s"\ntarget: "%s"\njournal: "%s"\n' \
	"$SRC" "$MG_TMP/dm.out.d" "$MG_TMP/dm.j" >"$MG_TMP/dm.yaml"
printf 'schedule: { every: 1h }\nmetrics: { file: "%s" }\n' "$METRICS" >>"$MG_TMP/dm.yaml"
"$MIGRATE" daemon "$MG_TMP/dm.yaml" >"$MG_TMP/dm.log" 2>&1 &
DPID=$!
t_at_exit "kill $DPID 2>/dev/null"
t_wait 60 grep -qs '^migrate_request_duration_seconds_count{.*class="file_write"' "$METRICS" ||
	t_fail "the daemon wrote its metrics" "$(tail -5 "$MG_TMP/dm.log")"
kill "$DPID"; wait "$DPID" 2>/dev/null
out=$(python3 "$MG_SRCDIR/tests/lib/promcheck.py" "$METRICS")
[ "$out" = ok ] && t_ok "the textfile is valid exposition format" ||
	t_fail "the textfile is valid exposition format" "$out"
count() {	# count CLASS ENDPOINT: the +Inf bucket of ENDPOINT's CLASS
	EP="endpoint=\"$2\"" C="class=\"$1\"" awk \
		'index($0, "migrate_request_duration_seconds_bucket{") == 1 && index($0, ENVIRON["EP"]) &&
		 index($0, ENVIRON["C"]) && index($0, "le=\"+Inf\"") { print $NF }' "$METRICS"
}
t_is "file_read of the source" $N "$(count file_read "$SRC")"
t_is "file_write of the target" $N "$(count file_write "$MG_TMP/dm.out.d")" ||
	grep 'class="file_write"' "$METRICS" | sed 's/^/#   /' | head -3
t_done
