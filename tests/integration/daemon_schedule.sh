#!/usr/bin/env bash
# migrate daemon: a local tree on `every: 2s`.  It runs cycle after cycle,
# a file added between cycles is copied by the next one, the metrics file
# is rewritten after each run with the expected series, SIGHUP reloads the
# plan (a changed filter and a broken plan), SIGTERM in the middle of a
# cycle exits 0 with the journal consistent, and the next start resumes.
# tools/test: alone (cycles every 2 s and a stop within 2 s)
. "$MG_SRCDIR/tests/lib.sh"

SRC=$MG_TMP/src DST=$MG_TMP/dst PLAN=$MG_TMP/plan.yaml METRICS=$MG_TMP/metrics.prom
LOG=$MG_TMP/daemon.log
mkdir -p "$SRC/sub"
head -c 1000 /dev/urandom > "$SRC/a.bin"
head -c 2345 /dev/urandom > "$SRC/sub/b.bin"
echo "a log line" > "$SRC/x.log"

# write_plan EXTRA-YAML-LINES
write_plan() {
	cat > "$PLAN.new" <<YAML
version: 1
name: "dmn-test"
source: "$SRC"
target: "$DST"
journal: "$MG_TMP/journal"
schedule: { every: 2s }
metrics: { file: "$METRICS" }
$1
YAML
	mv "$PLAN.new" "$PLAN"
}

# metric NAME [FILE]: the value of the one sample of NAME in the metrics file
metric() { awk -v n="$1" '$1 ~ "^"n"[{]" { print $2 }' "${2:-$METRICS}"; }

# wait_for SECONDS CMD...: poll until CMD succeeds
wait_for() {
	local limit=$1 i; shift
	for ((i = 0; i < limit * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
runs_at_least() { [ -f "$METRICS" ] && [ "$(metric migrate_runs_total)" -ge "$1" ] 2>/dev/null; }

# --- refusals
cat > "$MG_TMP/nosched.yaml" <<YAML
version: 1
name: nosched
source: "$SRC"
target: "$DST"
journal: "$MG_TMP/journal-nosched"
YAML
t_exit "a plan without a schedule is a usage error" 2 "$MIGRATE" daemon "$MG_TMP/nosched.yaml"
t_grep "the message says to add a schedule" "no schedule: add 'schedule:" "$MG_TMP/.out"
cat > "$MG_TMP/badcron.yaml" <<YAML
version: 1
name: badcron
source: "$SRC"
target: "$DST"
journal: "$MG_TMP/j-badcron"
schedule: { cron: "61 * * * *" }
YAML
t_exit "a cron minute out of range is a usage error" 2 "$MIGRATE" daemon "$MG_TMP/badcron.yaml"
t_grep "the message names the field" "cron minute field '61'" "$MG_TMP/.out"
[ ! -e "$MG_TMP/journal-nosched" ] && [ ! -e "$MG_TMP/j-badcron" ] &&
	t_ok "refused plans create no journal" || t_fail "refused plans create no journal"

# --- cron: waits for its minute; SIGTERM between runs exits at once
cat > "$MG_TMP/cron.yaml" <<YAML
version: 1
name: cron
source: "$SRC"
target: "$MG_TMP/dst-cron"
journal: "$MG_TMP/j-cron"
schedule: { cron: "0 0 1 jan *" }
YAML
"$MIGRATE" daemon "$MG_TMP/cron.yaml" 2>"$MG_TMP/cron.log" &
cpid=$!
t_at_exit "kill $cpid 2>/dev/null"
wait_for 10 grep -q "started" "$MG_TMP/cron.log"
t_grep "a cron daemon waits for its first minute" \
	"cron '0 0 1 jan \*', first run 20[0-9][0-9]-01-01 00:00:00" "$MG_TMP/cron.log"
t_grep "it says there are no metrics and how to get them" \
	"metrics off \(add 'metrics: \{ file: PATH \}'\)" "$MG_TMP/cron.log"
kill -TERM "$cpid"
t0=$SECONDS
wait "$cpid"; rc=$?
[ "$rc" = 0 ] && [ $((SECONDS - t0)) -le 2 ] && t_ok "SIGTERM between runs exits 0 at once" ||
	t_fail "SIGTERM between runs exits 0 at once" "exit $rc after $((SECONDS - t0)) s"
t_grep "and logs why" "stopping on request \(no run in progress\)" "$MG_TMP/cron.log"
[ ! -e "$MG_TMP/dst-cron" ] && [ ! -e "$MG_TMP/j-cron" ] &&
	t_ok "no run happened before the first due time" || t_fail "a cron daemon ran early"

# --- cycles
write_plan 'filter: { exclude: ["*.log"] }'
"$MIGRATE" daemon "$PLAN" 2>"$LOG" &
dpid=$!
t_at_exit "kill $dpid 2>/dev/null"

wait_for 15 runs_at_least 1 && t_ok "first cycle ran and wrote the metrics" ||
	t_fail "first cycle ran and wrote the metrics" "$(cat "$LOG")"
cmp -s "$SRC/a.bin" "$DST/a.bin" && cmp -s "$SRC/sub/b.bin" "$DST/sub/b.bin" &&
	t_ok "first cycle copied the tree" || t_fail "first cycle copied the tree"
[ ! -e "$DST/x.log" ] && t_ok "the filter of the plan applies" || t_fail "x.log copied"

head -c 777 /dev/urandom > "$SRC/c.bin"
n=$(metric migrate_runs_total)
wait_for 15 runs_at_least $((n + 2)) && t_ok "two more cycles ran" ||
	t_fail "two more cycles ran" "$(cat "$LOG")"
cmp -s "$SRC/c.bin" "$DST/c.bin" && t_ok "a file added between cycles is copied" ||
	t_fail "a file added between cycles is copied"

# The metrics file: valid text exposition format (every sample line
# well-formed, HELP and TYPE for each family, counters and histograms as
# the format says: tests/lib/promcheck.py), the values right for what moved.
python3 "$MG_SRCDIR/tests/lib/promcheck.py" "$METRICS" >"$MG_TMP/prom.out" 2>&1
[ $? = 0 ] && t_ok "metrics file is valid text format ($(cat "$MG_TMP/prom.out"))" ||
	t_fail "metrics file is valid text format" "$(cat "$MG_TMP/prom.out")"
for s in migrate_last_run_timestamp_seconds migrate_last_success_timestamp_seconds \
	migrate_last_run_duration_seconds migrate_objects_copied_total \
	migrate_bytes_copied_total migrate_objects_failed migrate_run_failures_total \
	migrate_replication_lag_seconds migrate_last_run_objects_copied; do
	grep -q "^$s{" "$METRICS" || missing_series+=" $s"
done
[ -z "${missing_series:-}" ] && t_ok "all the expected series are there" ||
	t_fail "all the expected series are there" "missing:$missing_series"
t_grep "per-target series carry the plan and target labels" \
	"^migrate_objects_copied_total\{plan=\"dmn-test\",target=\"$DST\"\} 3$" "$METRICS"
[ "$(metric migrate_bytes_copied_total)" = $((1000 + 2345 + 777)) ] &&
	t_ok "bytes copied total is the sum of the files" ||
	t_fail "bytes copied total" "$(metric migrate_bytes_copied_total)"
[ "$(metric migrate_objects_failed)" = 0 ] && [ "$(metric migrate_run_failures_total)" = 0 ] &&
	t_ok "no failures counted" || t_fail "no failures counted"
# one copy: the daemon rewrites the file every 2 s
cp "$METRICS" "$MG_TMP/m.snap"
last=$(metric migrate_last_run_timestamp_seconds "$MG_TMP/m.snap")
now=$(date +%s)
[ "$(metric migrate_last_success_timestamp_seconds "$MG_TMP/m.snap")" = "$last" ] &&
	[ "$(metric migrate_target_last_success_timestamp_seconds "$MG_TMP/m.snap")" = "$last" ] &&
	[ $((now - last)) -ge 0 ] && [ $((now - last)) -lt 10 ] &&
	[ "$(metric migrate_replication_lag_seconds "$MG_TMP/m.snap")" -ge 0 ] &&
	[ "$(metric migrate_replication_lag_seconds "$MG_TMP/m.snap")" -lt 5 ] &&
	t_ok "last run, last success and lag agree" ||
	t_fail "last run, last success and lag agree" "$(grep -v '^#' "$MG_TMP/m.snap")"
[ "$(grep -c ' run [0-9]*: exit 0 (ok)' "$LOG")" -ge 3 ] &&
	t_ok "one timestamped log line per run" || t_fail "one log line per run" "$(cat "$LOG")"

# --- SIGHUP: a changed filter is picked up before the next run
write_plan ''
kill -HUP "$dpid"
wait_for 10 grep -q "SIGHUP: reloaded" "$LOG" && t_ok "SIGHUP reloads the plan" ||
	t_fail "SIGHUP reloads the plan" "$(cat "$LOG")"
wait_for 10 test -e "$DST/x.log" && t_ok "the reloaded filter is used by the next run" ||
	t_fail "the reloaded filter is used by the next run"
echo "version: 1
name: [broken" > "$PLAN"
n=$(metric migrate_runs_total)
kill -HUP "$dpid"
wait_for 10 grep -q "SIGHUP: keeping the running plan" "$LOG" &&
	t_ok "a broken plan on SIGHUP is logged and the old one kept" ||
	t_fail "a broken plan on SIGHUP is logged" "$(cat "$LOG")"
wait_for 10 runs_at_least $((n + 1)) && kill -0 "$dpid" 2>/dev/null &&
	t_ok "the daemon goes on with the old plan" || t_fail "the daemon goes on with the old plan"

# --- SIGTERM in the middle of a cycle: three 4 MB files, one at a time, at
# 4 MB/s
write_plan 'transfer: { bandwidth: 4MB/s, concurrency: 1 }'
kill -HUP "$dpid"
reloaded_twice() { [ "$(grep -c 'SIGHUP: reloaded' "$LOG")" -ge 2 ]; }
wait_for 10 reloaded_twice
# written beside the tree and moved in whole, so no cycle sees half a file
for i in 1 2 3; do head -c $((4 * 1000 * 1000)) /dev/urandom > "$MG_TMP/big$i.bin"; done
mv "$MG_TMP"/big?.bin "$SRC/"
# in progress and copying a big file (its temporary file is there)
in_progress() {
	[ -n "$(ls -A "$DST/.migrate-tmp" 2>/dev/null)" ] &&
	"$MIGRATE" status "$PLAN" 2>/dev/null | grep -q "a run is in progress (pid $dpid)"
}
if wait_for 15 in_progress; then
	t_ok "status sees the daemon's run in progress"
	kill -TERM "$dpid"
	wait "$dpid"; rc=$?
	[ "$rc" = 0 ] && t_ok "SIGTERM mid-run: the daemon exits 0" ||
		t_fail "SIGTERM mid-run: the daemon exits 0" "exit $rc"
	t_grep "it logs the stop" "stopped on request" "$LOG"
	t_grep "the interrupted run is logged" "exit 130 \(stopped\)" "$LOG"
	[ "$(metric migrate_last_run_exit_code)" = 130 ] &&
		[ "$(metric migrate_run_failures_total)" = 0 ] &&
		t_ok "metrics written after the stop; a stop is not a failure" ||
		t_fail "metrics after the stop" "$(grep -v '^#' "$METRICS")"
	# Whether the object in flight is aborted or allowed to finish is
	# the engine's call; what is promised is that no more is started,
	# nothing partial is published and the journal agrees with the target.
	stopped_copied=$(metric migrate_last_run_objects_copied)
	there=0 partial=0
	for i in 1 2 3; do
		[ -e "$DST/big$i.bin" ] || continue
		there=$((there + 1))
		cmp -s "$SRC/big$i.bin" "$DST/big$i.bin" || partial=1
	done
	[ "$stopped_copied" -lt 3 ] && [ "$there" = "$stopped_copied" ] && [ "$partial" = 0 ] &&
		t_ok "the stop cut the cycle short ($there of 3 copied, none partial)" ||
		t_fail "the stop cut the cycle short" "$there there, $stopped_copied journaled, partial $partial"
	[ ! -e "$DST/.migrate-tmp" ] || [ -z "$(ls -A "$DST/.migrate-tmp")" ] &&
		t_ok "no temporary file left" || t_fail "temporary file left"
else
	t_fail "status sees the daemon's run in progress" "$(cat "$LOG")"
	kill -TERM "$dpid"; wait "$dpid"
fi
d1=$(metric migrate_runs_total)
resume=$((3 - ${stopped_copied:-0}))

# --- the journal is consistent: the next start copies only what is missing
"$MIGRATE" daemon "$PLAN" 2>"$LOG.2" &
dpid=$!
t_at_exit "kill $dpid 2>/dev/null"
wait_for 15 grep -q ' run 1: ' "$LOG.2"
kill -TERM "$dpid"; wait "$dpid"; rc=$?
[ "$rc" = 0 ] && t_ok "the restarted daemon ran and stopped" ||
	t_fail "the restarted daemon ran and stopped" "exit $rc: $(cat "$LOG.2")"
t_grep "its first run copies only what the stop left ($resume)" \
	" run 1: exit 0 \(ok\) in [0-9.]+s; '$DST': $resume copied \([0-9.]+ [KMGi]*B\), $((7 - resume)) unchanged, 0 failed" "$LOG.2"
t_same_tree "target byte-identical to the source" "$SRC" "$DST"
[ "$(metric migrate_objects_copied_total)" = "$resume" ] && [ "$(metric migrate_runs_total)" -ge 1 ] &&
	t_ok "the new daemon's counters start from its own runs" ||
	t_fail "the new daemon's counters" "$(grep -v '^#' "$METRICS")"
total=$((d1 + $(metric migrate_runs_total) + 1))
[ "$total" -gt 10 ] && listed=10 || listed=$total
t_exit "another run" 0 "$MIGRATE" --json "$PLAN"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/again.json"
[ "$(json_get "$MG_TMP/again.json" targets.0.copied.objects)" = 0 ] &&
	t_ok "then nothing more to copy" || t_fail "then nothing more to copy"

# --- status over what happened
t_exit "status exits 0" 0 "$MIGRATE" status "$PLAN"
cp "$MG_TMP/.out" "$MG_TMP/status.txt"
t_grep "status lists a stopped run" "130 stopped" "$MG_TMP/status.txt"
[ "$(grep -c "  $DST\$" "$MG_TMP/status.txt")" = "$listed" ] &&
	t_ok "status shows the last $listed runs" || t_fail "status shows 10 runs" "$(cat "$MG_TMP/status.txt")"
"$MIGRATE" status --json "$PLAN" > "$MG_TMP/status.json" 2>"$MG_TMP/status.err"
python3 - "$MG_TMP/status.json" "$listed" <<'PY' >"$MG_TMP/py.out" 2>&1
import json, sys
runs = json.load(open(sys.argv[1]))
assert isinstance(runs, list) and len(runs) == int(sys.argv[2]), len(runs)
starts = [r["started"] for r in runs]
assert starts == sorted(starts, reverse=True), starts
assert runs[0]["exit_code"] == 0 and runs[0]["targets"][0]["copied"]["objects"] == 0
# the oldest stop listed is the one mid-big-file (the restarted daemon
# may have been stopped mid-run too)
stop = max(i for i, r in enumerate(runs) if r["exit_code"] == 130)
after = [r["targets"][0]["copied"] for r in runs[:stop + 1]]
assert sum(c["objects"] for c in after) == 3, after
assert sum(c["bytes"] for c in after) == 12 * 1000 * 1000, after
print("ok")
PY
[ $? = 0 ] && t_ok "status --json: newest first, counts right" ||
	t_fail "status --json: newest first, counts right" "$(cat "$MG_TMP/py.out")"
[ -z "$(find "$MG_TMP/journal" -name '.status-*')" ] &&
	t_ok "status leaves nothing in the journal" || t_fail "status left a snapshot"

# --- `every` counts from the newest run in the journal: a restart right
# after a run waits for the interval instead of running again
sed 's/every: 2s/every: 1h/' "$PLAN" > "$MG_TMP/hourly.yaml"
"$MIGRATE" daemon "$MG_TMP/hourly.yaml" 2>"$MG_TMP/hourly.log" &
hpid=$!
t_at_exit "kill $hpid 2>/dev/null"
wait_for 10 grep -q "started" "$MG_TMP/hourly.log"
first=$(sed -n 's/.*first run \([0-9-]* [0-9:]*\),.*/\1/p' "$MG_TMP/hourly.log")
first_s=$(date -d "$first" +%s 2>/dev/null || echo 0)
[ $((first_s - $(date +%s))) -gt 3500 ] && t_ok "a restart waits for the interval ($first)" ||
	t_fail "a restart waits for the interval" "$(cat "$MG_TMP/hourly.log")"
kill -TERM "$hpid"; wait "$hpid"; rc=$?
[ "$rc" = 0 ] && ! grep -q " run 1:" "$MG_TMP/hourly.log" && t_ok "and did not run" ||
	t_fail "and did not run" "exit $rc: $(cat "$MG_TMP/hourly.log")"

# --- label values are escaped: a target folder named we"ird\dst
cat > "$MG_TMP/weird.yaml" <<YAML
version: 1
name: weird
source: "$SRC/sub"
target: '$MG_TMP/we"ird\dst'
journal: "$MG_TMP/j-weird"
schedule: { every: 1h }
metrics: { file: "$MG_TMP/weird.prom" }
YAML
"$MIGRATE" daemon "$MG_TMP/weird.yaml" 2>"$MG_TMP/weird.log" &
wpid=$!
t_at_exit "kill $wpid 2>/dev/null"
wait_for 15 test -f "$MG_TMP/weird.prom"
kill -TERM "$wpid"; wait "$wpid"
grep -F "migrate_objects_copied_total{plan=\"weird\",target=\"$MG_TMP/we\\\"ird\\\\dst\"} 1" \
	"$MG_TMP/weird.prom" >/dev/null && t_ok "quote and backslash in a label are escaped" ||
	t_fail "label escaping" "$(grep copied_total "$MG_TMP/weird.prom" 2>&1; cat "$MG_TMP/weird.log")"
t_done
