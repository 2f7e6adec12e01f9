#!/usr/bin/env bash
# Crash safety: kill -9 in the middle of a run, rerun, and the target is
# byte-identical with nothing duplicated and no temporary file left;
# SIGINT stops with exit 130 and no partial object at the target.  The
# kill is the test hook's (MG_TEST_KILL_AFTER, engine/run/testhook.h), so it
# lands at the same point however loaded the machine is.
. "$MG_SRCDIR/tests/lib.sh"

SRC=$MG_TMP/src DST=$MG_TMP/dst
mkdir -p "$SRC/many"
for i in $(seq -w 1 200); do head -c 65536 /dev/urandom > "$SRC/many/f$i"; done
head -c $((40 * 1024 * 1024)) /dev/urandom > "$SRC/large.bin"
cat > "$MG_TMP/plan.yaml" <<YAML
version: 1
name: kill
source: "$SRC"
target: "$DST"
transfer: { concurrency: 4, bandwidth: 5MB/s }
journal: "$MG_TMP/journal"
YAML
# die right after the batch holding the 40th done object is synced: the
# 40 MB file (first in key order) is still on its way at 5 MB/s, and few
# small ones finish while that sync runs
t_kill_at object:40 "$MIGRATE" --no-progress "$MG_TMP/plan.yaml" >"$MG_TMP/run1.out" 2>&1
rc=$?
n=$(find "$DST" -type f ! -path '*/.migrate-tmp/*' 2>/dev/null | wc -l)
[ "$rc" = 137 ] && [ "$n" -gt 0 ] && [ "$n" -lt 201 ] &&
	t_ok "killed mid-run ($n of 201 files there)" ||
	t_fail "killed mid-run" "exit $rc (137 is SIGKILL), $n files at target"
bad=0
while IFS= read -r -d '' f; do
	cmp -s "$f" "$SRC/${f#$DST/}" || { bad=1; echo "# partial: $f"; }
done < <(find "$DST" -type f ! -path '*/.migrate-tmp/*' -print0)
[ "$bad" = 0 ] && t_ok "every file at the target is complete" || t_fail "partial files visible"

t_exit "rerun after kill -9 exits 0" 0 "$MIGRATE" --json --bwlimit 0 "$MG_TMP/plan.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/rerun.json"
t_same_tree "target byte-identical after the rerun" "$SRC" "$DST"
copied=$(json_get "$MG_TMP/rerun.json" targets.0.copied.objects)
unchanged=$(json_get "$MG_TMP/rerun.json" targets.0.unchanged.objects)
[ $((copied + unchanged)) -eq 201 ] && [ "$unchanged" -ge $((n - 4)) ] &&
	t_ok "rerun copies only what was missing ($copied copied, $unchanged kept)" ||
	t_fail "rerun copies only the rest" "copied $copied unchanged $unchanged had $n"
[ ! -e "$DST/.migrate-tmp" ] && t_ok "the dead run's temporary files are gone" ||
	t_fail "temporary files left"
t_exit "third run" 0 "$MIGRATE" --json "$MG_TMP/plan.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/third.json"
[ "$(json_get "$MG_TMP/third.json" targets.0.copied.objects)" = 0 ] &&
	t_ok "third run copies nothing" || t_fail "third run copies nothing"

# SIGINT: graceful stop, exit 130, no partial object
rm -rf "$DST" "$MG_TMP/journal"
"$MIGRATE" --no-progress "$MG_TMP/plan.yaml" >"$MG_TMP/int.out" 2>&1 &
pid=$!
# interrupt once objects are arriving (the run is well under way, its
# handlers set), not after a guessed delay
for _ in $(seq 600); do
	[ -n "$(find "$DST" -type f ! -path '*/.migrate-tmp/*' 2>/dev/null | head -1)" ] && break
	sleep 0.1
done
kill -INT "$pid"; wait "$pid"; rc=$?
[ "$rc" = 130 ] && t_ok "SIGINT exits 130" || t_fail "SIGINT exits 130" "exit $rc"
t_grep "says it was interrupted" "interrupted" "$MG_TMP/int.out"
bad=0
while IFS= read -r -d '' f; do
	cmp -s "$f" "$SRC/${f#$DST/}" || { bad=1; echo "# partial: $f"; }
done < <(find "$DST" -type f -print0)
[ "$bad" = 0 ] && t_ok "no partial object after SIGINT" || t_fail "partial object after SIGINT"
[ ! -e "$DST/.migrate-tmp" ] && t_ok "no temporary files after SIGINT" || t_fail "temp left after SIGINT"
t_exit "rerun after SIGINT" 0 "$MIGRATE" --bwlimit 0 "$MG_TMP/plan.yaml"
t_same_tree "complete after the rerun" "$SRC" "$DST"
t_done
