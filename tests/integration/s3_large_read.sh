#!/usr/bin/env bash
# The read path of a large local file under a multipart upload to Ceph RGW
# (issue 19.2): parts are read past the page cache (O_DIRECT,
# connectors/local_direct.c) and the object's and each part's SHA-256 come
# from one two-lane pass (engine/run/sha2x.c).  Checked here:
# - a file of 4 parts plus an unaligned tail (the tail read through the
#   cache) arrives byte-identical (AWS CLI reads it back), RGW accepted
#   every part's signed SHA-256, and the journal holds the file's sha256;
#   the descriptor was switched to O_DIRECT while the parts were read;
# - a file written in place (same size) while its parts are read is not
#   completed at the target: the run fails it, aborts the upload, and the
#   next run copies what the file holds now (the old code completed a mix
#   of old and new bytes and called it copied);
# - a file truncated while its parts are read fails cleanly (no crash, no
#   object, no open upload).
# The run is held with SIGSTOP once its first part is read (/proc/PID/io),
# so the file changes at a known point whatever the load; --bwlimit only
# keeps the run from finishing before the stop.
. "$MG_SRCDIR/tests/lib.sh"

t_need_s3 BUCKET mg-lread

S=$MG_TMP/src
mkdir -p "$S"
MIB=$((1024 * 1024))
SIZE=$((20 * MIB + 12345))	# 4 parts of 5 MiB and a tail of 12,345 bytes
head -c $SIZE /dev/urandom > "$S/big.bin"
t_s3_plan "$MG_TMP/plan.yaml" lread "$S" "s3://$BUCKET/l/" "$MG_TMP/journal" \
	"transfer: { multipart_threshold: 5MiB, part_size: 5MiB }"
has_object() {
	"${AWS[@]}" s3api head-object --bucket "$BUCKET" --key "l/$1" >/dev/null 2>&1
}
rchar() { awk '/^rchar:/ { print $2 }' "/proc/$1/io" 2>/dev/null; }
first_part_read() { [ "$(rchar "$1")" -ge $((5 * MIB)) ] 2>/dev/null; }
# the open flags (octal) of PID's descriptor on FILE
fd_flags() {
	local fd
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd")" = "$2" ] || continue
		awk '/^flags:/ { print $2 }' "/proc/$1/fdinfo/${fd##*/}"
		return
	done
}

# 1. a clean upload, the O_DIRECT flag seen while it runs
"$MIGRATE" --no-progress --bwlimit 8MB/s "$MG_TMP/plan.yaml" >"$MG_TMP/run1.out" 2>&1 &
pid=$!
if t_wait 60 first_part_read $pid; then
	kill -STOP $pid
	flags=$(fd_flags $pid "$S/big.bin")
	kill -CONT $pid
	# O_DIRECT is 040000 on x86 and most others
	if [ -z "$flags" ]; then
		t_skip "O_DIRECT on the source descriptor" "the file was not open at the stop"
	elif (( (8#$flags & 8#40000) != 0 )); then
		t_ok "the parts are read O_DIRECT (flags $flags)"
	elif [ -n "$(find "$S" -maxdepth 0 -fstype tmpfs)" ]; then
		t_skip "O_DIRECT on the source descriptor" "the test folder is on tmpfs"
	else
		t_fail "O_DIRECT on the source descriptor" "flags $flags"
	fi
else
	t_fail "the first part was read" "rchar $(rchar $pid)"
fi
wait $pid
t_is "the upload succeeds" 0 $?
"${AWS[@]}" s3 cp "s3://$BUCKET/l/big.bin" "$MG_TMP/back" >/dev/null 2>&1
cmp -s "$S/big.bin" "$MG_TMP/back" && t_ok "the object is byte-identical (AWS CLI)" ||
	t_fail "byte-identical"
etag=$("${AWS[@]}" s3api head-object --bucket "$BUCKET" --key l/big.bin --query ETag --output text 2>/dev/null)
case $etag in *-5*) t_ok "a 5-part multipart object ($etag)" ;; *) t_fail "multipart ETag" "$etag" ;; esac
want=$(sha256sum "$S/big.bin" | cut -c1-64)
"$MIGRATE" lineage "$MG_TMP/plan.yaml" >"$MG_TMP/lineage.json" 2>&1
t_is "the journal holds the file's SHA-256" "$want" \
	"$(jq -r 'select(.key == "big.bin") | .sha256' "$MG_TMP/lineage.json")"

# 2. written in place while its parts are read: not completed
head -c $SIZE /dev/urandom > "$S/two.bin"
"$MIGRATE" --no-progress --bwlimit 8MB/s "$MG_TMP/plan.yaml" >"$MG_TMP/run2.out" 2>&1 &
pid=$!
t_wait 60 first_part_read $pid || t_fail "the first part was read" "rchar $(rchar $pid)"
kill -STOP $pid
# the last part's bytes, same size, a newer time
head -c $MIB /dev/urandom | dd of="$S/two.bin" bs=$MIB seek=18 conv=notrunc status=none
touch -d '+1 second' "$S/two.bin"
kill -CONT $pid
wait $pid
rc=$?
[ $rc -ne 0 ] && t_ok "the run does not succeed (exit $rc)" || t_fail "the run succeeded" "exit 0"
t_grep "it says the file changed while it was copied" "two.bin.*changed while it was copied" \
	"$MG_TMP/run2.out"
has_object two.bin && t_fail "no object for the changed file" "two.bin is at the target" ||
	t_ok "no object for the changed file"
[ "$(t_open_uploads "$BUCKET")" = 0 ] && t_ok "its upload was aborted" || t_fail "uploads left open" "$(t_open_uploads "$BUCKET")"
t_exit "the next run copies it" 0 "$MIGRATE" --bwlimit 0 "$MG_TMP/plan.yaml"
"${AWS[@]}" s3 cp "s3://$BUCKET/l/two.bin" "$MG_TMP/back2" >/dev/null 2>&1
cmp -s "$S/two.bin" "$MG_TMP/back2" && t_ok "the target holds what the file holds now" ||
	t_fail "the changed file's new content"

# 3. truncated while its parts are read
head -c $SIZE /dev/urandom > "$S/three.bin"
"$MIGRATE" --no-progress --bwlimit 8MB/s "$MG_TMP/plan.yaml" >"$MG_TMP/run3.out" 2>&1 &
pid=$!
t_wait 60 first_part_read $pid || t_fail "the first part was read" "rchar $(rchar $pid)"
kill -STOP $pid
truncate -s $((12 * MIB + 7)) "$S/three.bin"	# inside the third part
kill -CONT $pid
wait $pid
rc=$?
[ $rc -ne 0 ] && [ $rc -lt 128 ] && t_ok "a truncated file fails the run, no crash (exit $rc)" ||
	t_fail "a truncated file" "exit $rc"
t_grep "it says the file shrank" "three.bin.*(shrank|changed)" "$MG_TMP/run3.out"
has_object three.bin && t_fail "no object for the truncated file" "three.bin is at the target" ||
	t_ok "no object for the truncated file"
[ "$(t_open_uploads "$BUCKET")" = 0 ] && t_ok "no upload left open" || t_fail "uploads left open" "$(t_open_uploads "$BUCKET")"
t_done
