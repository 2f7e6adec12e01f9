#!/usr/bin/env bash
# Part-level resume against Ceph RGW (which implements ListParts and
# AbortMultipartUpload for real): a run killed with SIGKILL in the middle of
# a multipart upload is resumed by the next run from the parts the server
# holds, re-sending at most the parts that were in flight; the object is
# byte-identical (read back by the AWS CLI); no multipart upload is left
# open.  A source that changed since the upload began makes the rerun abort
# the old upload and start over.  The kills are the test hook's
# (MG_TEST_KILL_AFTER, engine/run/testhook.h): the same point under any load.
. "$MG_SRCDIR/tests/lib.sh"

t_need_s3 BUCKET mg-resume

S=$MG_TMP/src
mkdir -p "$S"
head -c $((60 * 1024 * 1024)) /dev/urandom > "$S/big.bin"	# 12 parts of 5 MiB
t_s3_plan "$MG_TMP/plan.yaml" resume "$S" "s3://$BUCKET/r/" "$MG_TMP/journal" \
	"transfer: { multipart_threshold: 5MiB, part_size: 5MiB }"

# killed once the 3rd of the 12 parts is journaled
t_kill_at part:3 "$MIGRATE" --no-progress "$MG_TMP/plan.yaml" >"$MG_TMP/run1.out" 2>&1
[ "$(t_open_uploads "$BUCKET")" = 1 ] && t_ok "the killed run left its upload open at the server" ||
	t_fail "one open upload after the kill" "$(t_open_uploads "$BUCKET")"

t_exit "rerun resumes" 0 "$MIGRATE" --json --bwlimit 0 "$MG_TMP/plan.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/r2.json"
resumed=$(json_get "$MG_TMP/r2.json" targets.0.resumed_parts)
sent=$(json_get "$MG_TMP/r2.json" targets.0.counters.requests.upload_part)
[ "$resumed" -ge 3 ] && [ $((resumed + sent)) -eq 12 ] &&
	t_ok "the rerun reuses $resumed parts and sends the other $sent" ||
	t_fail "resume counts" "resumed $resumed, sent $sent"
[ "$(json_get "$MG_TMP/r2.json" targets.0.counters.requests.list_parts)" -ge 1 ] &&
	t_ok "the rerun reconciled with ListParts" || t_fail "ListParts"
"${AWS[@]}" s3 cp "s3://$BUCKET/r/big.bin" "$MG_TMP/back" >/dev/null 2>&1
cmp -s "$S/big.bin" "$MG_TMP/back" && t_ok "the object is byte-identical (AWS CLI)" ||
	t_fail "byte-identical"
etag=$("${AWS[@]}" s3api head-object --bucket "$BUCKET" --key r/big.bin --query ETag --output text 2>/dev/null)
case $etag in *-12*) t_ok "a 12-part multipart object ($etag)" ;; *) t_fail "multipart ETag" "$etag" ;; esac
[ "$(t_open_uploads "$BUCKET")" = 0 ] && t_ok "no multipart upload left open" || t_fail "uploads left open"
t_exit "verify after resume" 0 "$MIGRATE" verify "$MG_TMP/plan.yaml"

# killed again, then the source changes: the old upload is aborted
head -c $((30 * 1024 * 1024)) /dev/urandom > "$S/two.bin"
t_kill_at part:2 "$MIGRATE" --no-progress "$MG_TMP/plan.yaml" >"$MG_TMP/run3.out" 2>&1
head -c $((30 * 1024 * 1024)) /dev/urandom > "$S/two.bin"
t_exit "rerun after the source changed" 0 "$MIGRATE" --json --bwlimit 0 "$MG_TMP/plan.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/r4.json"
[ "$(json_get "$MG_TMP/r4.json" targets.0.resumed_parts)" = 0 ] &&
	t_ok "nothing of the stale upload is reused" || t_fail "stale parts reused"
"${AWS[@]}" s3 cp "s3://$BUCKET/r/two.bin" "$MG_TMP/back2" >/dev/null 2>&1
cmp -s "$S/two.bin" "$MG_TMP/back2" && t_ok "the new content is at the target" || t_fail "new content"
[ "$(t_open_uploads "$BUCKET")" = 0 ] && t_ok "the stale upload was aborted, none left open" ||
	t_fail "stale upload left open" "$(t_open_uploads "$BUCKET")"
t_done
