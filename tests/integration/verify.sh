#!/usr/bin/env bash
# `migrate verify` checks the targets against the journal: without --deep
# by size and ETag only (nothing downloaded), with --deep by re-hashing the
# content; a missing, truncated or altered object is named, exit 1.
. "$MG_SRCDIR/tests/lib.sh"

S=$MG_TMP/src D=$MG_TMP/dst
mkdir -p "$S/x"
for i in 1 2 3 4 5; do head -c $((i * 3000)) /dev/urandom > "$S/x/f$i"; done
t_local_plan "$MG_TMP/plan.yaml" verify "$S" "$D" "$MG_TMP/journal"
t_exit "migrate" 0 "$MIGRATE" "$MG_TMP/plan.yaml"
t_exit "verify after the move: exit 0" 0 "$MIGRATE" verify --json "$MG_TMP/plan.yaml"
sed -n '/^\[/,/^\]/p' "$MG_TMP/.out" > "$MG_TMP/v.json"
[ "$(json_get "$MG_TMP/v.json" 0.ok)" = 5 ] && t_ok "5 objects ok" || t_fail "5 ok"
t_exit "deep verify: exit 0" 0 "$MIGRATE" verify --deep "$MG_TMP/plan.yaml"
t_grep "deep verify says it re-hashed" "deep: content re-hashed.*5 ok" "$MG_TMP/.out"

# same size, other bytes: only --deep can see it on a local disk
t_flip_byte "$D/x/f2" 100
t_exit "deep verify finds altered content: exit 1" 1 "$MIGRATE" verify --deep "$MG_TMP/plan.yaml"
t_grep "names the object and the hashes" "x/f2.*content differs: SHA-256" "$MG_TMP/.out"
rm "$D/x/f3"
truncate -s 10 "$D/x/f4"
t_exit "verify finds missing and truncated: exit 1" 1 "$MIGRATE" verify "$MG_TMP/plan.yaml"
t_grep "missing object named" "x/f3.*missing at the target" "$MG_TMP/.out"
t_grep "truncated object named" "x/f4.*size 10, journal has 12000" "$MG_TMP/.out"

t_s3_part "verify on S3" BUCKET mg-verify
head -c $((7 * 1024 * 1024)) /dev/urandom > "$S/x/multi.bin"
cat > "$MG_TMP/s3.yaml" <<YAML
version: 1
name: verify-s3
source: "$S"
target:
  url: s3://$BUCKET/v/
  endpoint: \${MG_S3_ENDPOINT}
  region: \${MG_S3_REGION}
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
journal: "$MG_TMP/journal-s3"
transfer: { multipart_threshold: 5MiB, part_size: 5MiB }
YAML
t_exit "migrate to S3" 0 "$MIGRATE" "$MG_TMP/s3.yaml"
t_exit "verify on S3 (HEAD only): exit 0" 0 "$MIGRATE" verify --json "$MG_TMP/s3.yaml"
sed -n '/^\[/,/^\]/p' "$MG_TMP/.out" > "$MG_TMP/v.json"
[ "$(json_get "$MG_TMP/v.json" 0.ok)" = 6 ] && t_ok "6 objects ok on S3, multipart included" ||
	t_fail "6 ok on S3" "$(cat "$MG_TMP/v.json")"
t_exit "deep verify on S3: exit 0" 0 "$MIGRATE" verify --deep "$MG_TMP/s3.yaml"
# someone else overwrites an object with the same size
head -c 5000 /dev/urandom > "$MG_TMP/other"
"${AWS[@]}" s3 cp "$MG_TMP/other" "s3://$BUCKET/v/x/f5" >/dev/null 2>&1
t_exit "verify sees the new size" 1 "$MIGRATE" verify "$MG_TMP/s3.yaml"
t_grep "names the object" "x/f5.*size 5000" "$MG_TMP/.out"
head -c 6000 /dev/urandom > "$MG_TMP/other"
"${AWS[@]}" s3 cp "$MG_TMP/other" "s3://$BUCKET/v/x/f2" >/dev/null 2>&1
t_exit "verify sees an ETag change without downloading" 1 "$MIGRATE" verify --json "$MG_TMP/s3.yaml"
t_grep "ETag difference named" "x/f2.*ETag" "$MG_TMP/.out"
t_done
