#!/usr/bin/env bash
# Content dedupe: identical content is uploaded once, every other key
# holding it becomes a server-side copy, within a run (even with many
# workers racing) and across runs through the journal's hash index; the
# summary reports the bytes saved; dedupe: false turns it off.
. "$MG_SRCDIR/tests/lib.sh"

S=$MG_TMP/src D=$MG_TMP/dst
mkdir -p "$S/a" "$S/b"
head -c 300000 /dev/urandom > "$MG_TMP/blob"
for i in $(seq 1 12); do cp "$MG_TMP/blob" "$S/a/copy$i"; done
head -c 1000 /dev/urandom > "$S/b/unique"
mkplan() {
	cat > "$MG_TMP/plan.yaml" <<YAML
version: 1
name: dedupe
source: "$S"
target: "$D"
journal: "$MG_TMP/journal"
transfer: { concurrency: 8 $1 }
YAML
}
mkplan ""
t_exit "run with 12 copies of one blob" 0 "$MIGRATE" --json "$MG_TMP/plan.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/r1.json"
[ "$(json_get "$MG_TMP/r1.json" targets.0.counters.requests.put)" = 2 ] &&
[ "$(json_get "$MG_TMP/r1.json" targets.0.counters.requests.copy)" = 11 ] &&
	t_ok "within a run: 2 uploads, 11 copies" ||
	t_fail "within a run" "$(json_get "$MG_TMP/r1.json" targets.0.counters)"
[ "$(json_get "$MG_TMP/r1.json" targets.0.deduplicated.bytes)" = 3300000 ] &&
	t_ok "3,300,000 bytes saved reported" || t_fail "bytes saved"
t_same_tree "target byte-identical" "$S" "$D"

cp "$MG_TMP/blob" "$S/b/later-copy"
t_exit "a later run" 0 "$MIGRATE" --json "$MG_TMP/plan.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/r2.json"
[ "$(json_get "$MG_TMP/r2.json" targets.0.counters.requests.put)" = 0 ] &&
[ "$(json_get "$MG_TMP/r2.json" targets.0.counters.requests.copy)" = 1 ] &&
	t_ok "across runs: the new copy is a server-side copy" || t_fail "across runs"
cmp -s "$MG_TMP/blob" "$D/b/later-copy" && t_ok "and holds the right bytes" || t_fail "bytes"

# the copy source vanished from the target behind our back: upload instead
rm "$D/a/copy1" "$D/a/copy2" "$D/a/copy3" "$D/a/copy4" "$D/a/copy5" "$D/a/copy6" \
   "$D/a/copy7" "$D/a/copy8" "$D/a/copy9" "$D/a/copy10" "$D/a/copy11" "$D/a/copy12" "$D/b/later-copy"
cp "$MG_TMP/blob" "$S/b/third"
t_exit "dedupe with a vanished copy source" 0 "$MIGRATE" "$MG_TMP/plan.yaml"
cmp -s "$MG_TMP/blob" "$D/b/third" && t_ok "falls back to an upload" || t_fail "fallback"

rm -rf "$D" "$MG_TMP/journal"
mkplan ", dedupe: false"
t_exit "dedupe: false" 0 "$MIGRATE" --json "$MG_TMP/plan.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/r3.json"
[ "$(json_get "$MG_TMP/r3.json" targets.0.counters.requests.copy)" = 0 ] &&
	t_ok "no copies when dedupe is off" || t_fail "dedupe off"

t_s3_part "dedupe on S3" BUCKET mg-dedupe
t_s3_plan "$MG_TMP/s3.yaml" dedupe-s3 "$S" "s3://$BUCKET/d/" "$MG_TMP/journal-s3" "transfer: { concurrency: 4 }"
t_exit "dedupe into S3" 0 "$MIGRATE" --json "$MG_TMP/s3.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/r4.json"
[ "$(json_get "$MG_TMP/r4.json" targets.0.counters.requests.put)" = 2 ] &&
[ "$(json_get "$MG_TMP/r4.json" targets.0.counters.requests.copy)" = 13 ] &&
	t_ok "S3: 2 PUTs, 13 CopyObject" || t_fail "S3 dedupe" "$(json_get "$MG_TMP/r4.json" targets.0.counters)"
"${AWS[@]}" s3 cp "s3://$BUCKET/d/a/copy7" "$MG_TMP/back" >/dev/null 2>&1
cmp -s "$MG_TMP/blob" "$MG_TMP/back" && t_ok "the AWS CLI reads a copy byte-identical" ||
	t_fail "aws reads copy"
t_done
