#!/usr/bin/env bash
# migrate repair: after objects are deleted or overwritten at the target
# behind migrate's back, verify names them but a plain run copies nothing
# (the journal says done); `migrate repair` copies exactly those again,
# says which, records them in the journal, the lineage and --log-json, and
# verify is clean afterwards.  --deep finds same-size changes that only
# the content shows.  A key gone from the source is named, not repaired.
# A local target first, then the test S3 server (Ceph RGW) with a
# multipart object.
. "$MG_SRCDIR/tests/lib.sh"

S=$MG_TMP/src D=$MG_TMP/dst
mkdir -p "$S/x"
for i in 1 2 3 4 5; do head -c $((i * 3000)) /dev/urandom > "$S/x/f$i"; done
t_local_plan "$MG_TMP/plan.yaml" repair "$S" "$D" "$MG_TMP/journal"

# summary_copied FILE: objects copied, from a run's --json summary
summary_copied() { json_get "$1" targets.0.copied.objects; }
# verify_counts FILE: "missing differ" of the first target of verify --json
verify_counts() { python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
d = d["verify"] if isinstance(d, dict) else d
print(d[0]["missing"], d[0]["differ"])' "$1"; }
# found_not_copied LABEL PLAN: after one object was deleted and one
# overwritten at the target, verify names both, a plain run copies nothing
found_not_copied() {
	"$MIGRATE" verify --json "$2" > "$MG_TMP/v.json" 2>/dev/null
	[ "$(verify_counts "$MG_TMP/v.json")" = "1 1" ] && t_ok "$1: verify finds missing 1, differ 1" ||
		t_fail "$1: verify finds missing 1, differ 1" "$(cat "$MG_TMP/v.json")"
	"$MIGRATE" --json "$2" > "$MG_TMP/run.json" 2>/dev/null
	[ "$(summary_copied "$MG_TMP/run.json")" = 0 ] && t_ok "$1: a plain run copies nothing" ||
		t_fail "$1: a plain run copies nothing" "$(cat "$MG_TMP/run.json")"
}
# repaired_keys FILE: the keys a repair --json says it copied, sorted
repaired_keys() { python3 -c 'import json,sys
print(" ".join(sorted(r["key"] for r in json.load(open(sys.argv[1]))["repaired"])))' "$1"; }

t_exit "first run" 0 "$MIGRATE" -q "$MG_TMP/plan.yaml"
rm "$D/x/f1"
head -c 500 /dev/urandom > "$D/x/f3"
found_not_copied local "$MG_TMP/plan.yaml"

"$MIGRATE" repair --json --log-json "$MG_TMP/events.log" "$MG_TMP/plan.yaml" \
	> "$MG_TMP/r.json" 2> "$MG_TMP/r.err"
rc=$?
[ $rc = 0 ] && t_ok "local: repair exits 0" || t_fail "local: repair exits 0" "exit $rc: $(cat "$MG_TMP/r.err")"
[ "$(repaired_keys "$MG_TMP/r.json")" = "x/f1 x/f3" ] && t_ok "local: repair copied exactly x/f1 and x/f3" ||
	t_fail "local: repair copied exactly the two" "$(cat "$MG_TMP/r.json")"
t_grep "local: repair says what it repaired" "^repaired 'x/f1' at " "$MG_TMP/r.err"
t_grep "local: and how many" "2 of 2 objects copied again" "$MG_TMP/r.err"
cmp -s "$S/x/f1" "$D/x/f1" && cmp -s "$S/x/f3" "$D/x/f3" &&
	t_ok "local: both are the source's bytes again" || t_fail "local: content restored"
python3 - "$MG_TMP/events.log" <<'PY' > "$MG_TMP/why" 2>&1
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
copied = sorted(e["key"] for e in ev if e.get("event") == "object" and e["action"] == "copied")
assert copied == ["x/f1", "x/f3"], copied
PY
[ $? = 0 ] && t_ok "local: --log-json records the two copies" ||
	t_fail "local: --log-json records the two copies" "$(cat "$MG_TMP/why")"
"$MIGRATE" lineage "$MG_TMP/plan.yaml" > "$MG_TMP/lin.jsonl"
python3 - "$MG_TMP/lin.jsonl" <<'PY' > "$MG_TMP/why" 2>&1
import json, sys
rows = {r["key"]: r for r in map(json.loads, open(sys.argv[1]))}
late = sorted(k for k in rows if rows[k]["run"] == max(r["run"] for r in rows.values()))
assert late == ["x/f1", "x/f3"], late
PY
[ $? = 0 ] && t_ok "local: lineage puts the two under the repair's run" ||
	t_fail "local: lineage attributes the repair" "$(cat "$MG_TMP/why")"
t_exit "local: verify is clean afterwards" 0 "$MIGRATE" verify "$MG_TMP/plan.yaml"
t_exit "local: a second repair has nothing to do" 0 "$MIGRATE" repair "$MG_TMP/plan.yaml"
t_grep "local: and says so" "nothing to repair" "$MG_TMP/.out"

# same size, other bytes: only --deep sees it on a local disk
t_flip_byte "$D/x/f2" 10
"$MIGRATE" repair --json "$MG_TMP/plan.yaml" > "$MG_TMP/r.json" 2>/dev/null
[ -z "$(repaired_keys "$MG_TMP/r.json")" ] && t_ok "local: a cheap repair does not see a same-size change" ||
	t_fail "local: cheap repair" "$(cat "$MG_TMP/r.json")"
"$MIGRATE" repair --deep --json "$MG_TMP/plan.yaml" > "$MG_TMP/r.json" 2>/dev/null
[ "$(repaired_keys "$MG_TMP/r.json")" = "x/f2" ] && cmp -s "$S/x/f2" "$D/x/f2" &&
	t_ok "local: repair --deep finds it by content and copies it again" ||
	t_fail "local: repair --deep" "$(cat "$MG_TMP/r.json")"

# gone from the source too: nothing to copy from
rm "$D/x/f4" "$S/x/f4"
t_exit "local: a key gone from the source is not repaired: exit 1" 1 \
	"$MIGRATE" repair "$MG_TMP/plan.yaml"
t_grep "local: it is named with the reason" "cannot repair 'x/f4' at .*no longer at the source" "$MG_TMP/.out"

t_s3_part "repair on S3" BUCKET mg-repair
S=$MG_TMP/s3src
mkdir -p "$S"
for i in 1 2 3; do head -c $((i * 4000)) /dev/urandom > "$S/o$i"; done
head -c $((7 * 1024 * 1024)) /dev/urandom > "$S/multi.bin"
t_s3_plan "$MG_TMP/s3.yaml" repair-s3 "$S" "s3://$BUCKET/r/" "$MG_TMP/journal-s3" \
	"transfer: { multipart_threshold: 5MiB, part_size: 5MiB }"
t_exit "S3: first run" 0 "$MIGRATE" -q "$MG_TMP/s3.yaml"
t_exit "S3: verify --deep compares multipart content with the journal: exit 0" 0 \
	"$MIGRATE" verify --deep "$MG_TMP/s3.yaml"
t_grep "S3: all 4 re-hashed, multipart included" "deep: content re-hashed.*4 ok" "$MG_TMP/.out"
"${AWS[@]}" s3 rm "s3://$BUCKET/r/o2" >/dev/null 2>&1
head -c $((7 * 1024 * 1024)) /dev/urandom > "$MG_TMP/other"
"${AWS[@]}" s3 cp "$MG_TMP/other" "s3://$BUCKET/r/multi.bin" >/dev/null 2>&1
found_not_copied S3 "$MG_TMP/s3.yaml"
"$MIGRATE" repair --json "$MG_TMP/s3.yaml" > "$MG_TMP/r.json" 2> "$MG_TMP/r.err"
rc=$?
[ $rc = 0 ] && [ "$(repaired_keys "$MG_TMP/r.json")" = "multi.bin o2" ] &&
	t_ok "S3: repair copied exactly o2 and multi.bin" ||
	t_fail "S3: repair copied exactly the two" "exit $rc: $(cat "$MG_TMP/r.json" "$MG_TMP/r.err")"
ok=1
for k in o2 multi.bin; do
	"${AWS[@]}" s3 cp "s3://$BUCKET/r/$k" "$MG_TMP/back" >/dev/null 2>&1 &&
		cmp -s "$S/$k" "$MG_TMP/back" || ok=0
done
[ $ok = 1 ] && t_ok "S3: both read back (AWS CLI) as the source's bytes" ||
	t_fail "S3: both read back as the source's bytes"
t_exit "S3: verify --deep is clean afterwards" 0 "$MIGRATE" verify --deep "$MG_TMP/s3.yaml"
t_done
