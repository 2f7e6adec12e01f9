#!/usr/bin/env bash
# sync_strays.sh - with mode: sync and a complete listing, the target's own
# listing decides what is gone, not only the journal: an object whose PUT
# landed but whose record never did (a run killed in between, the source
# file then deleted), or one put there by another tool, is deleted like
# any other, within the same guards; filtered-out names and the
# quarantine prefix are left alone.  Local target here; S3 (Ceph RGW)
# when tools/test runs one.
. "$MG_SRCDIR/tests/lib.sh"

[ -x "$MIGRATE" ] || t_skip_all "migrate is not built"

S=$MG_TMP/src D=$MG_TMP/dst
mkdir -p "$S/a"
for i in 1 2 3 4 5 6 7 8; do printf 'f%s\n' "$i" >"$S/a/f$i"; done

mkplan() {	# mkplan TARGET-YAML JOURNAL EXTRA
	cat >"$MG_TMP/plan.yaml" <<YAML
version: 1
name: strays
mode: sync
source: "$S"
target: $1
journal: "$MG_TMP/$2"
filter: { exclude: ["*.keep"] }
$3
YAML
}

# --- local -----------------------------------------------------------------
mkplan "\"$D\"" j-local ""
t_exit "local: first sync" 0 "$MIGRATE" "$MG_TMP/plan.yaml"
# never journaled: as if a PUT landed and the run died before the record,
# and the source file was then deleted
printf 'stray\n' >"$D/a/orphan"
mkdir -p "$D/other" && printf 'x\n' >"$D/other/by-another-tool"
printf 'keep\n' >"$D/a/mine.keep"
t_exit "local: dry-run" 0 "$MIGRATE" --dry-run "$MG_TMP/plan.yaml"
t_grep "local: dry-run lists the never-journaled object as a delete" '^delete .* a/orphan$' "$MG_TMP/.out"
[ -e "$D/a/orphan" ] && t_ok "local: dry-run deletes nothing" || t_fail "local: dry-run deleted"
t_exit "local: sync" 0 "$MIGRATE" --json "$MG_TMP/plan.yaml"
[ ! -e "$D/a/orphan" ] && [ ! -e "$D/other/by-another-tool" ] &&
	t_ok "local: objects the journal never knew are deleted" ||
	t_fail "local: objects the journal never knew are deleted" "$(find "$D" -type f)"
[ -e "$D/a/mine.keep" ] && t_ok "local: a filtered-out name stays" ||
	t_fail "local: a filtered-out name stays"
[ "$(find "$D/a" -type f -name 'f*' | wc -l)" = 8 ] && t_ok "local: the source's objects stay" ||
	t_fail "local: the source's objects stay"

# the guards count strays too
for i in 1 2 3 4 5 6 7 8 9; do printf 's\n' >"$D/a/stray$i"; done
mkplan "\"$D\"" j-local "delete: { max_percent: 50 }"
t_exit "local: 9 strays beside 8 objects trip max_percent 50" 1 "$MIGRATE" "$MG_TMP/plan.yaml"
t_grep "local: the guard names its numbers" 'more than delete.max_percent' "$MG_TMP/.out"
[ -e "$D/a/stray1" ] && t_ok "local: the guard deleted nothing" || t_fail "local: the guard deleted nothing"

# --- S3 ----------------------------------------------------------------------
if [ -z "${MG_S3_ENDPOINT:-}" ] || [ ! -x /usr/bin/aws ]; then
	t_skip "S3 strays" "MG_S3_ENDPOINT is not set or the AWS CLI is missing"
	t_done
fi
s3_cli
s3_new_bucket B mg-strays || { t_fail "create bucket"; t_done; }
T="{ url: \"s3://$B/p/\", endpoint: \"$MG_S3_ENDPOINT\", region: \"${MG_S3_REGION:-us-east-1}\", access_key_id: \"$MG_S3_ACCESS_KEY\", secret_access_key: \"$MG_S3_SECRET_KEY\", path_style: true }"
mkplan "$T" j-s3 "delete: { quarantine_prefix: \"q/\" }"
t_exit "S3: first sync" 0 "$MIGRATE" "$MG_TMP/plan.yaml"
printf 'stray\n' >"$MG_TMP/orphan"
"${AWS[@]}" s3 cp "$MG_TMP/orphan" "s3://$B/p/a/orphan" >/dev/null 2>&1
"${AWS[@]}" s3 cp "$MG_TMP/orphan" "s3://$B/p/a/x.keep" >/dev/null 2>&1
"${AWS[@]}" s3 cp "$MG_TMP/orphan" "s3://$B/outside-prefix" >/dev/null 2>&1
t_exit "S3: sync" 0 "$MIGRATE" "$MG_TMP/plan.yaml"
"${AWS[@]}" s3api list-objects-v2 --bucket "$B" --query 'Contents[].Key' --output text |
	tr '\t' '\n' | sort >"$MG_TMP/keys"
grep -qx 'p/a/orphan' "$MG_TMP/keys" && t_fail "S3: the never-journaled object is gone" ||
	t_ok "S3: the never-journaled object is gone"
grep -qx 'p/q/a/orphan' "$MG_TMP/keys" && t_ok "S3: ... moved to the quarantine prefix" ||
	t_fail "S3: ... moved to the quarantine prefix" "$(cat "$MG_TMP/keys")"
grep -qx 'p/a/x.keep' "$MG_TMP/keys" && grep -qx 'outside-prefix' "$MG_TMP/keys" &&
	t_ok "S3: filtered-out names and keys outside the prefix stay" ||
	t_fail "S3: filtered-out names and keys outside the prefix stay"
t_exit "S3: a second sync leaves the quarantine alone" 0 "$MIGRATE" "$MG_TMP/plan.yaml"
"${AWS[@]}" s3api list-objects-v2 --bucket "$B" --query 'Contents[].Key' --output text |
	tr '\t' '\n' | grep -cx 'p/q/a/orphan' | grep -qx 1 &&
	t_ok "S3: the quarantined copy is still there" || t_fail "S3: the quarantined copy is still there"
t_done
