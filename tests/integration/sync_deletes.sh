#!/usr/bin/env bash
# mode: sync mirrors the source: what is gone from the source is deleted at
# the target, after a complete listing only; the max_count and max_percent
# guards stop the deletes (not the copies) with their numbers; a
# quarantine prefix moves instead of deleting; filtered-out objects stay;
# estimate counts the deletes; an unreadable folder deletes nothing.
. "$MG_SRCDIR/tests/lib.sh"

S=$MG_TMP/src D=$MG_TMP/dst
mkdir -p "$S/keep" "$S/go"
for i in $(seq 1 10); do printf 'k%s\n' "$i" > "$S/keep/k$i"; done
for i in $(seq 1 10); do printf 'g%s\n' "$i" > "$S/go/g$i"; done
printf 'log\n' > "$S/note.log"
mkplan() {	# mkplan EXTRA-YAML (FILTER= mkplan: without the filter)
	local filter_line=${FILTER-'filter: { exclude: ["*.log"] }'}
	cat > "$MG_TMP/plan.yaml" <<YAML
version: 1
name: sync
mode: sync
source: "$S"
target: "$D"
journal: "$MG_TMP/journal"
$filter_line
$1
YAML
}
mkplan ""
t_exit "first sync" 0 "$MIGRATE" "$MG_TMP/plan.yaml"
[ "$(find "$D" -type f | wc -l)" = 20 ] && t_ok "20 objects at the target" || t_fail "20 objects"

rm "$S/go/g1" "$S/go/g2"
t_exit "dry-run lists deletes" 0 "$MIGRATE" --dry-run "$MG_TMP/plan.yaml"
t_grep "dry-run says what it would delete" '^delete .* go/g1$' "$MG_TMP/.out"
[ -e "$D/go/g1" ] && t_ok "dry-run deletes nothing" || t_fail "dry-run deleted"
t_exit "estimate with deletes" 0 "$MIGRATE" estimate --json "$MG_TMP/plan.yaml"
[ "$(json_get "$MG_TMP/.out" scenarios.0.requests.target.delete)" = 2 ] &&
	t_ok "estimate counts 2 DELETEs" || t_fail "estimate counts deletes"
t_exit "sync after removing 2" 0 "$MIGRATE" --json "$MG_TMP/plan.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/r.json"
[ ! -e "$D/go/g1" ] && [ ! -e "$D/go/g2" ] && [ -e "$D/go/g3" ] &&
	t_ok "the two are deleted at the target, the rest stays" || t_fail "deletes propagate"
[ "$(json_get "$MG_TMP/r.json" targets.0.deleted.objects)" = 2 ] &&
[ "$(json_get "$MG_TMP/r.json" targets.0.counters.requests.delete)" = 2 ] &&
	t_ok "the run reports 2 deleted, 2 DELETE requests" || t_fail "deleted count"
t_exit "a rerun deletes nothing more" 0 "$MIGRATE" --json "$MG_TMP/plan.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/r.json"
[ "$(json_get "$MG_TMP/r.json" targets.0.deleted.objects)" = 0 ] && t_ok "rerun: 0 deleted" ||
	t_fail "rerun deletes"

# max_count
rm "$S/go/g3" "$S/go/g4" "$S/go/g5"
mkplan "delete: { max_count: 2 }"
t_exit "max_count guard: exit 1" 1 "$MIGRATE" "$MG_TMP/plan.yaml"
t_grep "max_count message names the numbers" "3 objects are gone .*max_count 2" "$MG_TMP/.out"
[ -e "$D/go/g3" ] && [ -e "$D/go/g5" ] && t_ok "max_count: nothing deleted" || t_fail "max_count deleted"
printf 'new\n' > "$S/keep/new-one"
t_exit "guard stops deletes, not copies" 1 "$MIGRATE" "$MG_TMP/plan.yaml"
[ -e "$D/keep/new-one" ] && t_ok "the new file is copied despite the guard" || t_fail "copies stopped"

# max_percent: 3 of 19 done objects is 15.8%
mkplan "delete: { max_percent: 10 }"
t_exit "max_percent guard: exit 1" 1 "$MIGRATE" "$MG_TMP/plan.yaml"
t_grep "max_percent message names the numbers" "3 of [0-9]+ objects .*max_percent 10%" "$MG_TMP/.out"
[ -e "$D/go/g4" ] && t_ok "max_percent: nothing deleted" || t_fail "max_percent deleted"

# quarantine
mkplan "delete: { max_percent: 50, quarantine_prefix: \"trash/\" }"
t_exit "sync with quarantine" 0 "$MIGRATE" "$MG_TMP/plan.yaml"
[ ! -e "$D/go/g3" ] && [ -f "$D/trash/go/g3" ] && cmp -s "$D/trash/go/g5" <(printf 'g5\n') &&
	t_ok "quarantine moves under the prefix" || t_fail "quarantine"
[ ! -e "$D/note.log" ] && t_ok "filtered-out files were never copied" || t_fail "filter"

# a filtered-out file that was copied before is not deleted
FILTER= mkplan ""
t_exit "sync without the filter" 0 "$MIGRATE" "$MG_TMP/plan.yaml"
[ -e "$D/note.log" ] && t_ok "note.log copied once unfiltered" || t_fail "note.log"
mkplan ""
t_exit "sync with the filter again" 0 "$MIGRATE" "$MG_TMP/plan.yaml"
[ -e "$D/note.log" ] && t_ok "an excluded object is not deleted" || t_fail "excluded object deleted"

# an unreadable folder: its objects must not look gone
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
	chmod 755 "$MG_TMP"; chown -R nobody "$D" "$MG_TMP/journal"; chmod 644 "$MG_TMP/plan.yaml"
	chmod 000 "$S/keep"
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$MIGRATE" "$MG_TMP/plan.yaml" > "$MG_TMP/.out" 2>&1
	rc=$?
	chmod 755 "$S/keep"
	[ "$rc" = 1 ] && t_ok "unreadable folder: exit 1" || t_fail "unreadable folder exit" "exit $rc"
	[ -e "$D/keep/k1" ] && t_ok "objects under an unreadable folder are not deleted" ||
		t_fail "deleted under unreadable folder"
	t_grep "says why nothing was deleted" "unreadable entries: no object was deleted" "$MG_TMP/.out"
else
	t_skip "unreadable folder" "no nobody user"
fi
t_done
