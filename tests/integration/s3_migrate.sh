#!/usr/bin/env bash
# migrate with S3 on Ceph RGW: a local tree (odd names, an empty file,
# multipart-sized files) to s3:// through a plan, read back byte-identical
# by the AWS CLI and rclone; a rerun moves nothing; objects the AWS CLI
# wrote (multipart included) migrate from S3 to a local folder
# byte-identical; a wrong secret, a missing bucket and an unreachable
# endpoint end with exit 3 and a clear message that never holds the secret.
. "$MG_SRCDIR/tests/lib.sh"

[ -n "${MG_S3_ENDPOINT:-}" ] || t_skip_all "MG_S3_ENDPOINT is not set (tools/lib/s3server.sh starts a server)"
[ -x "$MIGRATE" ] || t_skip_all "migrate is not built"
[ -x /usr/bin/aws ] || t_skip_all "/usr/bin/aws is missing: apt-get install awscli"

s3_cli
s3_rclone

s3_new_bucket BUCKET mg-migrate || { t_fail "create bucket" "/usr/bin/aws s3 mb failed at $MG_S3_ENDPOINT"; t_done; }

# the tree: odd names, an empty file, two files above the 5 MiB threshold
S=$MG_TMP/src
mkdir -p "$S/dir one/ü" "$S/deep/a/b/c"
for i in $(seq 1 40); do head -c $((i * 1000)) /dev/urandom >"$S/deep/a/b/c/f$i"; done
head -c 7000 /dev/urandom >"$S/dir one/ü/é € + % #.txt"
head -c 100 /dev/urandom >"$S/plus+and space"
: >"$S/empty"
head -c $((11 * 1024 * 1024 + 7)) /dev/urandom >"$S/big multipart.bin"
head -c $((6 * 1024 * 1024)) /dev/urandom >"$S/dir one/six.bin"

# plan NAME <<EOF: writes a plan file; the ${VAR}s are expanded by migrate
plan() {
	cat >"$MG_TMP/$1.yaml"
}
plan up <<EOF2
version: 1
name: s3up
source: $S
target:
  url: s3://$BUCKET/up/
  endpoint: \${MG_S3_ENDPOINT}
  region: \${MG_S3_REGION}
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
journal: $MG_TMP/journal-up
transfer:
  multipart_threshold: 5MiB
  part_size: 5MiB
  concurrency: 4
EOF2

t_exit "local tree to s3 via a plan" 0 "$MIGRATE" --json -q "$MG_TMP/up.yaml"
cp "$MG_TMP/.out" "$MG_TMP/up1.json"
n=$(json_get "$MG_TMP/up1.json" targets.0.copied.objects 2>/dev/null)
[ "$n" = 45 ] && t_ok "45 objects copied" || t_fail "45 objects copied" "got '$n'"
mp=$(json_get "$MG_TMP/up1.json" targets.0.counters.requests.upload_part 2>/dev/null)
[ "${mp:-0}" -ge 5 ] && t_ok "big files went multipart ($mp parts)" || t_fail "big files went multipart" "upload_part=$mp"

rm -rf "$MG_TMP/aws-back"
"${AWS[@]}" s3 cp --recursive "s3://$BUCKET/up/" "$MG_TMP/aws-back" >/dev/null 2>&1
t_same_tree "the aws cli reads it all back byte-identical" "$S" "$MG_TMP/aws-back"
if command -v rclone >/dev/null; then
	"${RCLONE[@]}" copy "rgw:$BUCKET/up" "$MG_TMP/rclone-back" >"$MG_TMP/rclone.out" 2>&1
	t_same_tree "rclone reads it all back byte-identical" "$S" "$MG_TMP/rclone-back"
	"${RCLONE[@]}" check --one-way "$S" "rgw:$BUCKET/up" >"$MG_TMP/check.out" 2>&1
	t_grep "rclone check: sizes and hashes match" "0 differences found" "$MG_TMP/check.out"
else
	t_skip "rclone reads it back" "rclone is missing: apt-get install rclone"
fi

t_exit "rerun" 0 "$MIGRATE" --json -q "$MG_TMP/up.yaml"
cp "$MG_TMP/.out" "$MG_TMP/up2.json"
n=$(json_get "$MG_TMP/up2.json" targets.0.copied.objects 2>/dev/null)
put=$(json_get "$MG_TMP/up2.json" targets.0.counters.requests.put 2>/dev/null)
[ "$n" = 0 ] && [ "$put" = 0 ] && t_ok "the rerun moves nothing" || t_fail "the rerun moves nothing" "copied $n, put $put"

# S3 -> local: objects the aws cli wrote, one of them multipart (8 MiB parts)
head -c $((17 * 1024 * 1024)) /dev/urandom >"$MG_TMP/aws-big"
head -c 5000 /dev/urandom >"$MG_TMP/aws-small"
"${AWS[@]}" s3 cp "$MG_TMP/aws-big" "s3://$BUCKET/fromaws/big by aws.bin" >/dev/null 2>&1
"${AWS[@]}" s3 cp "$MG_TMP/aws-small" "s3://$BUCKET/fromaws/ü/small+.bin" >/dev/null 2>&1
"${AWS[@]}" s3api head-object --bucket "$BUCKET" --key "fromaws/big by aws.bin" >"$MG_TMP/h.json" 2>&1
t_grep "the aws cli wrote a multipart object" '-[0-9]+\\"' "$MG_TMP/h.json"
plan down <<EOF2
version: 1
name: s3down
source:
  url: s3://$BUCKET/fromaws
  endpoint: \${MG_S3_ENDPOINT}
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
target: $MG_TMP/down
journal: $MG_TMP/journal-down
EOF2
t_exit "s3 to local via a plan" 0 "$MIGRATE" "$MG_TMP/down.yaml"
t_check "multipart object from the aws cli is byte-identical" cmp "$MG_TMP/aws-big" "$MG_TMP/down/big by aws.bin"
t_check "small object from the aws cli is byte-identical" cmp "$MG_TMP/aws-small" "$MG_TMP/down/ü/small+.bin"

# bad input: exit 3, a message that says what to do, never the secret
WRONG="wrong-${MG_S3_SECRET_KEY}"
MG_S3_SECRET_KEY=$WRONG t_exit "wrong secret exits 3" 3 "$MIGRATE" "$MG_TMP/down.yaml"
t_grep "wrong secret: says the signature does not match" \
	"signature does not match for access key '$MG_S3_ACCESS_KEY': check the secret" "$MG_TMP/.out"
if grep -qF -- "$WRONG" "$MG_TMP/.out" || grep -qF -- "$MG_S3_SECRET_KEY" "$MG_TMP/.out"; then
	t_fail "wrong secret: the secret is not in the output"
else
	t_ok "wrong secret: the secret is not in the output"
fi
sed "s|s3://$BUCKET/fromaws|s3://no-such-bucket-$$/x|" "$MG_TMP/down.yaml" >"$MG_TMP/nob.yaml"
t_exit "missing bucket exits 3" 3 "$MIGRATE" "$MG_TMP/nob.yaml"
t_grep "missing bucket: says so" "bucket 'no-such-bucket-$$' does not exist" "$MG_TMP/.out"
MG_S3_ENDPOINT=http://127.0.0.1:1 t_exit "unreachable endpoint exits 3" 3 "$MIGRATE" "$MG_TMP/down.yaml"
t_grep "unreachable endpoint: says so" "cannot connect to 'http://127.0.0.1:1'" "$MG_TMP/.out"

t_done
