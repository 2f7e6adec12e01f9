#!/usr/bin/env bash
# The S3 connector against Ceph RGW, driven directly by s3_conn (no engine):
# every method (list pages, odd keys, ranges, BadDigest, multipart with
# ListParts paging, abort, list uploads, CopyObject, UploadPartCopy, batch
# delete, presigned GET, wrong secret), then interop with other people's
# clients: what the connector writes, the AWS CLI and rclone read back
# byte-identical; what they write, the connector reads.  Needs the server
# from tools/lib/s3server.sh (MG_S3_ENDPOINT and friends).
. "$MG_SRCDIR/tests/lib.sh"

[ -n "${MG_S3_ENDPOINT:-}" ] || t_skip_all "MG_S3_ENDPOINT is not set (tools/lib/s3server.sh starts a server)"
SC=${S3_CONN:-$(dirname "$MIGRATE")/tests/integration/s3_conn}
[ -x "$SC" ] || t_skip_all "s3_conn is not built ('make check' builds it)"

s3_cli
s3_rclone

if [ -x /usr/bin/aws ] && s3_new_bucket BUCKET mg-conn; then
	t_ok "create bucket $BUCKET with the aws cli"
else
	t_fail "create bucket with the aws cli" "/usr/bin/aws s3 mb failed at $MG_S3_ENDPOINT"
	t_done
fi

# The suite prints "ok - name" / "not ok - name # why" / "# note".
"$SC" suite "$BUCKET" >"$MG_TMP/suite.out" 2>&1
rc=$?
n=0
while IFS= read -r line; do
	case $line in
	"ok - "*) t_ok "${line#ok - }"; n=$((n + 1)) ;;
	"not ok - "*) rest=${line#not ok - }; t_fail "${rest%% # *}" "${rest#* # }"; n=$((n + 1)) ;;
	"#"*) echo "$line" ;;
	*) echo "# $line" ;;
	esac
done <"$MG_TMP/suite.out"
[ "$rc" -eq 0 ] && [ "$n" -gt 50 ] || t_fail "s3_conn suite ran to the end" "exit $rc after $n checks"

# ---- interop ----
head -c 300000 /dev/urandom >"$MG_TMP/small"
head -c $((12 * 1024 * 1024 + 12345)) /dev/urandom >"$MG_TMP/big"
K1='interop/mine small é+%.bin'
K2='interop/mine big multipart.bin'
t_check "connector puts a small object" "$SC" put "$BUCKET" "$K1" "$MG_TMP/small"
t_check "connector puts a multipart object (5 MiB parts)" "$SC" put "$BUCKET" "$K2" "$MG_TMP/big" 5242880

if [ -x /usr/bin/aws ]; then
	"${AWS[@]}" s3 cp "s3://$BUCKET/$K1" "$MG_TMP/aws-small" >/dev/null 2>&1
	t_check "aws cli reads the connector's small object byte-identical" cmp "$MG_TMP/small" "$MG_TMP/aws-small"
	"${AWS[@]}" s3 cp "s3://$BUCKET/$K2" "$MG_TMP/aws-big" >/dev/null 2>&1
	t_check "aws cli reads the connector's multipart object byte-identical" cmp "$MG_TMP/big" "$MG_TMP/aws-big"
	"${AWS[@]}" s3api head-object --bucket "$BUCKET" --key "$K2" >"$MG_TMP/head.json" 2>&1
	t_grep "aws cli sees the multipart ETag and our sha256 metadata" \
		"\"ETag\": \"\\\\\"[0-9a-f]{32}-3\\\\\"\"" "$MG_TMP/head.json"
	t_grep "aws cli sees x-amz-meta-sha256" "$(sha256sum "$MG_TMP/big" | cut -c1-64)" "$MG_TMP/head.json"

	K3='interop/aws side ü+x.bin'
	K4='interop/aws big.bin'
	"${AWS[@]}" s3 cp "$MG_TMP/small" "s3://$BUCKET/$K3" >/dev/null 2>&1
	"${AWS[@]}" s3 cp "$MG_TMP/big" "s3://$BUCKET/$K4" >/dev/null 2>&1	# multipart at 8 MiB
	t_check "connector reads the aws cli's small object" "$SC" get "$BUCKET" "$K3" "$MG_TMP/c-small"
	t_check "... byte-identical" cmp "$MG_TMP/small" "$MG_TMP/c-small"
	t_check "connector reads the aws cli's multipart object" "$SC" get "$BUCKET" "$K4" "$MG_TMP/c-big"
	t_check "... byte-identical" cmp "$MG_TMP/big" "$MG_TMP/c-big"
	"$SC" ls "$BUCKET" interop >"$MG_TMP/ls.out" 2>&1
	printf '%s\n' "${K4#interop/}" "${K3#interop/}" "${K2#interop/}" "${K1#interop/}" |
		LC_ALL=C sort >"$MG_TMP/ls.want"
	t_check "connector lists both sides' keys under the prefix, in byte order" \
		cmp "$MG_TMP/ls.want" "$MG_TMP/ls.out"
else
	t_skip "aws cli interop" "/usr/bin/aws is missing: apt-get install awscli"
fi

if command -v rclone >/dev/null; then
	"${RCLONE[@]}" copyto "rgw:$BUCKET/$K2" "$MG_TMP/rclone-big" >"$MG_TMP/rclone.out" 2>&1
	t_check "rclone reads the connector's multipart object byte-identical" cmp "$MG_TMP/big" "$MG_TMP/rclone-big"
	"${RCLONE[@]}" copyto "rgw:$BUCKET/$K1" "$MG_TMP/rclone-small" >>"$MG_TMP/rclone.out" 2>&1
	t_check "rclone reads the connector's small object byte-identical" cmp "$MG_TMP/small" "$MG_TMP/rclone-small"
	# rclone reads our x-amz-meta-mtime (seconds.nanoseconds) as the mtime:
	# s3_conn put stores 1700000000.123456789
	"${RCLONE[@]}" lsl "rgw:$BUCKET/interop" >"$MG_TMP/lsl.out" 2>&1
	t_grep "rclone sees the mtime the connector stored" \
		"^ +300000 2023-11-14 22:13:20\\.123456789 mine small" "$MG_TMP/lsl.out"
else
	t_skip "rclone interop" "rclone is missing: apt-get install rclone"
fi

t_done
