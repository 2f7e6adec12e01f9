#!/usr/bin/env bash
# migrate status: "no runs yet" without creating a journal, the runs with
# their counts in text and --json, a fatal target named, and a run in
# progress reported (with the runs before it) without disturbing that run.
. "$MG_SRCDIR/tests/lib.sh"

SRC=$MG_TMP/src DST=$MG_TMP/dst PLAN=$MG_TMP/plan.yaml
mkdir -p "$SRC/d"
head -c 1500 /dev/urandom > "$SRC/one.bin"
head -c 2500 /dev/urandom > "$SRC/d/two.bin"
cat > "$PLAN" <<YAML
version: 1
name: st
source: "$SRC"
target: "$DST"
journal: "$MG_TMP/journal"
YAML

# --- before any run
t_exit "status on a fresh plan exits 0" 0 "$MIGRATE" status "$PLAN"
t_grep "it says no runs yet" "^plan 'st': no runs yet" "$MG_TMP/.out"
[ ! -e "$MG_TMP/journal" ] && t_ok "status creates no journal" || t_fail "status created a journal"
"$MIGRATE" status --json "$PLAN" > "$MG_TMP/empty.json"
[ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])))' "$MG_TMP/empty.json")" = "[]" ] &&
	t_ok "status --json on a fresh plan is []" || t_fail "status --json on a fresh plan is []"
# a dry run opens the journal but records no run
"$MIGRATE" --dry-run "$PLAN" >/dev/null 2>&1
t_exit "status after a dry run" 0 "$MIGRATE" status "$PLAN"
t_grep "still no runs yet" "no runs yet" "$MG_TMP/.out"

# --- one run
t_exit "a run" 0 "$MIGRATE" "$PLAN"
t_exit "status exits 0" 0 "$MIGRATE" status "$PLAN"
cp "$MG_TMP/.out" "$MG_TMP/st1.txt"
t_grep "one run listed" "^plan 'st': 1 run, newest first" "$MG_TMP/st1.txt"
t_grep "the run's line: start, duration, exit, copied, bytes, unchanged, failed, target" \
	"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} +[0-9.]+s +0 ok +2 +3\\.9 KiB +0 +0 +$DST\$" "$MG_TMP/st1.txt"

# --- a fatal target, then status lists both, newest first
touch "$MG_TMP/afile"
sed "s|^target:.*|target: \"$MG_TMP/afile/sub\"|" "$PLAN" > "$MG_TMP/fatal.yaml"
t_exit "a run with an unusable target exits 3" 3 "$MIGRATE" "$MG_TMP/fatal.yaml"
t_exit "status" 0 "$MIGRATE" status "$MG_TMP/fatal.yaml"
cp "$MG_TMP/.out" "$MG_TMP/st2.txt"
t_grep "the fatal run comes first" "^[0-9-]+ [0-9:]+ +[0-9.]+s +3 fatal .*afile/sub\$" \
	"$(sed -n 3p "$MG_TMP/st2.txt" > "$MG_TMP/l3"; echo "$MG_TMP/l3")"
t_grep "with its reason" "^ +fatal: cannot create target folder" "$MG_TMP/st2.txt"
"$MIGRATE" status --json "$PLAN" > "$MG_TMP/st2.json"
python3 - "$MG_TMP/st2.json" "$DST" >"$MG_TMP/py.out" 2>&1 <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))
assert len(runs) == 2, len(runs)
assert runs[0]["exit_code"] == 3 and "fatal" in runs[0]["targets"][0], runs[0]
t = runs[1]["targets"][0]
assert runs[1]["exit_code"] == 0 and t["url"] == sys.argv[2], runs[1]
assert t["copied"] == {"objects": 2, "bytes": 4000}, t["copied"]
assert t["failed"]["objects"] == 0
assert runs[0]["started"] >= runs[1]["started"]
print("ok")
PY
[ $? = 0 ] && t_ok "status --json: the run records, counts right" ||
	t_fail "status --json: the run records" "$(cat "$MG_TMP/py.out")"

# --- a run in progress: 8 MB at 4 MB/s
head -c $((8 * 1000 * 1000)) /dev/urandom > "$SRC/big.bin"
"$MIGRATE" --no-progress --bwlimit 4MB/s "$PLAN" >"$MG_TMP/run.out" 2>&1 &
rpid=$!
t_at_exit "kill $rpid 2>/dev/null"
for i in $(seq 300); do	# up to 30 s: a loaded machine starts slowly
	[ -n "$(ls -A "$DST/.migrate-tmp" 2>/dev/null)" ] && break
	sleep 0.1
done
seen=0 bad=0
for i in $(seq 8); do	# status again and again while the run goes on
	"$MIGRATE" status "$PLAN" > "$MG_TMP/busy.txt" 2>&1 || bad=1
	# the first sighting is kept: at the very end of the run its record
	# is written a moment before the journal is let go
	grep -q "a run is in progress (pid $rpid)" "$MG_TMP/busy.txt" && [ "$seen" = 0 ] &&
		{ seen=1; cp "$MG_TMP/busy.txt" "$MG_TMP/seen.txt"; }
	sleep 0.2
done
[ "$seen" = 1 ] && [ "$bad" = 0 ] && t_ok "status during a run says so and exits 0" ||
	t_fail "status during a run" "$(cat "$MG_TMP/busy.txt")"
touch "$MG_TMP/seen.txt"
t_grep "and still lists the runs before it" "^plan 'st': 2 runs" "$MG_TMP/seen.txt"
"$MIGRATE" status --json "$PLAN" > "$MG_TMP/busy.json" 2>"$MG_TMP/busy.err"
python3 -c 'import json,sys; assert len(json.load(open(sys.argv[1]))) >= 2' "$MG_TMP/busy.json" &&
	t_ok "status --json during a run is a valid array" || t_fail "status --json during a run"
wait "$rpid"; rc=$?
[ "$rc" = 0 ] && t_ok "the run was not disturbed by status" ||
	t_fail "the run was not disturbed by status" "exit $rc: $(cat "$MG_TMP/run.out")"
t_same_tree "and completed" "$SRC" "$DST"
# a snapshot a killed status left behind (its pid is gone) is cleaned up
true & dead=$!; wait "$dead"
mkdir "$MG_TMP/journal/.status-$dead" && echo x > "$MG_TMP/journal/.status-$dead/000001.ldb"
t_exit "status after it" 0 "$MIGRATE" status "$PLAN"
t_grep "lists it" "^plan 'st': 3 runs" "$MG_TMP/.out"
[ -z "$(find "$MG_TMP/journal" -name '.status-*')" ] &&
	t_ok "no snapshot left in the journal, a stale one removed" ||
	t_fail "snapshot left in the journal"
t_done
