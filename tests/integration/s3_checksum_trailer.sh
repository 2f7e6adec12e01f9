#!/usr/bin/env bash
# The checksum trailer of multipart uploads over https (issue 19.2), CRC32C
# by default, CRC32 or CRC64NVME when checksum_trailer names it: parts go aws-chunked (STREAMING-UNSIGNED-PAYLOAD-TRAILER,
# x-amz-trailer: x-amz-checksum-crc32c) instead of with a signed SHA-256,
# the CRC32C the server echoes is checked, and a server that does not take
# it is said once and sent signed parts instead.  A TLS relay of the
# test's own (tests/lib/trailerrelay.py) logs each request's checks and
# can damage one part on the way.
#   moto (t_need_moto) over TLS: the trailer is used on every part, the
#   single PUT keeps the engine's signed SHA-256; the object reads back
#   intact with `get-object --checksum-mode ENABLED` naming a CRC32C; a
#   CRC32C echoed that is not the one sent (the relay changes the trailer:
#   what a server computing the CRC of damaged bytes answers) is sent
#   again, never recorded as done; checksum_trailer: false signs the parts;
#   crc32 and crc64nvme the same way; a run killed mid-upload and resumed
#   completes with the right composite CRC32.
#   moto does not check the trailer against the body (it echoes the
#   client's value), so a damaged body is tested on RGW only.
#   Ceph RGW over TLS: whatever it does with the trailer, said in the TAP
#   output, and the object intact either way.
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tools/lib/moto.sh"

[ -x "$MIGRATE" ] || t_skip_all "migrate is not built: $MIGRATE"
[ -x /usr/bin/aws ] || t_skip_all "/usr/bin/aws is missing: apt-get install awscli"
t_tls_cert || t_skip_all "cannot make a certificate: $(tail -1 "$MG_TMP/openssl.out")"

S=$MG_TMP/src
mkdir -p "$S"
head -c 300007 /dev/urandom >"$S/small.bin"
head -c $((11 * 1024 * 1024 + 5)) /dev/urandom >"$S/big.bin"	# 3 parts of 5 MiB

# relay NAME UPSTREAM-URL MODE: a TLS relay, its port in PORT, log in $MG_TMP/NAME.log
relay() {
	local up=${2#http://}
	: >"$MG_TMP/$1.log"
	t_start_helper PORT "$MG_TMP/$1.port" python3 "$MG_SRCDIR/tests/lib/trailerrelay.py" \
		"${up%:*}" "${up##*:}" "$MG_TMP/cert.pem" "$MG_TMP/key.pem" "$MG_TMP/$1.log" "$3"
}
# plan NAME PREFIX [EXTRA-KEY]: a plan into s3://$BUCKET/PREFIX/ through https://127.0.0.1:$PORT
plan() {
	cat >"$MG_TMP/$1.yaml" <<EOF2
version: 1
name: $1
source: $S
journal: $MG_TMP/journal-$1
target:
  url: s3://$BUCKET/$2/
  endpoint: https://127.0.0.1:$PORT
  ca_file: $MG_TMP/cert.pem
  region: \${MG_S3_REGION}
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
  ${3:-}
transfer:
  multipart_threshold: 5MiB
  part_size: 5MiB
  concurrency: 2
EOF2
}
run() {	# run NAME: migrate the plan NAME, its exit code in RC
	"$MIGRATE" --json --no-progress "$MG_TMP/$1.yaml" >"$MG_TMP/$1.json" 2>"$MG_TMP/$1.err"
	RC=$?
}
parts_with() {	# parts_with LOG WHAT: UploadPart requests whose log line holds WHAT
	grep '^PUT .*partNumber=' "$1" | grep -c -- "$2"
}
intact() {	# intact PREFIX: both objects read back byte for byte
	"${AWS[@]}" s3 cp "s3://$BUCKET/$1/big.bin" "$MG_TMP/back.big" >/dev/null 2>&1 &&
		cmp -s "$S/big.bin" "$MG_TMP/back.big" &&
		"${AWS[@]}" s3 cp "s3://$BUCKET/$1/small.bin" "$MG_TMP/back.small" >/dev/null 2>&1 &&
		cmp -s "$S/small.bin" "$MG_TMP/back.small"
}

# ---- Ceph RGW (tools/test's S3 server), first: moto takes MG_S3_* over
if [ -n "${MG_S3_ENDPOINT:-}" ]; then
	s3_cli
	if ! s3_new_bucket BUCKET mg-trailer; then
		t_fail "create a bucket on RGW" "aws s3 mb failed at $MG_S3_ENDPOINT"
	elif ! relay rgw "$MG_S3_ENDPOINT" body:2; then
		t_fail "relay in front of RGW starts" "$(cat "$MG_TMP/rgw.port.err")"
	else
		plan rgw rgw
		run rgw
		t_is "RGW over TLS: migrate exits 0" 0 "$RC"
		t_check "RGW: both objects read back intact" intact rgw
		t_check "RGW: the part damaged on the way was refused" \
			grep -q '^PUT .*partNumber=2.* 400 .*damaged-body' "$MG_TMP/rgw.log"
		t_check "RGW: ... and sent again" grep -q '^PUT .*partNumber=2.* 200 .*again' "$MG_TMP/rgw.log"
		if [ "$(parts_with "$MG_TMP/rgw.log" 'sha=STREAMING-UNSIGNED-PAYLOAD-TRAILER.* 200 ')" -gt 0 ]; then
			echo "# RGW takes the CRC32C trailer"
		else
			first=$(grep -m1 '^PUT .*partNumber=' "$MG_TMP/rgw.log")
			echo "# RGW does not take the CRC32C trailer; its first part: ${first#* }"
			t_is "RGW: lack of the trailer said once" 1 \
				"$(grep -c "does not take the CRC32C checksum trailer" "$MG_TMP/rgw.err")"
			t_grep "... naming the endpoint and what it answered" \
				"'https://127.0.0.1:$PORT' does not take the CRC32C checksum trailer .HTTP [0-9]" "$MG_TMP/rgw.err"
			t_is "RGW: every part stored was sent signed" 3 \
				"$(parts_with "$MG_TMP/rgw.log" 'sha=hex.* 200 ')"
			t_is "RGW: at most one part was tried with the trailer" 1 \
				"$(parts_with "$MG_TMP/rgw.log" 'sha=STREAMING')"
			plan rgw-on rgw-on "checksum_trailer: true"
			run rgw-on
			t_is "RGW, checksum_trailer: true: the run fails (exit 3)" 3 "$RC"
			t_grep "... saying to set checksum_trailer: auto or false" \
				"does not take the CRC32C checksum trailer.*checksum_trailer: auto or false" \
				"$MG_TMP/rgw-on.err"
		fi
	fi
else
	t_skip "Ceph RGW" "MG_S3_ENDPOINT is not set (tools/lib/s3server.sh starts a server)"
fi

# ---- moto over TLS
t_moto_s3
s3_new_bucket BUCKET mg-trailer || { t_fail "create bucket" "aws s3 mb failed at $MG_S3_ENDPOINT"; t_done; }
relay moto "$MG_S3_ENDPOINT" none || { t_fail "relay starts" "$(cat "$MG_TMP/moto.port.err")"; t_done; }
plan moto auto
run moto
t_is "moto over TLS: migrate exits 0" 0 "$RC"
t_is "every part went with the CRC32C trailer" 3 \
	"$(parts_with "$MG_TMP/moto.log" 'sha=STREAMING-UNSIGNED-PAYLOAD-TRAILER enc=aws-chunked trailer=x-amz-checksum-crc32c -> 200')"
t_check "the single PUT keeps the signed SHA-256" \
	grep -q '^PUT [^?]*/small.bin sha=hex .* 200' "$MG_TMP/moto.log"
t_check "both objects read back intact" intact auto
"${AWS[@]}" s3api get-object --bucket "$BUCKET" --key auto/big.bin --checksum-mode ENABLED \
	"$MG_TMP/back.cm" >"$MG_TMP/getobj.json" 2>&1
t_check "get-object --checksum-mode ENABLED names a CRC32C" \
	jq -e '.ChecksumCRC32C | length > 0' "$MG_TMP/getobj.json" ||
	sed 's/^/#   /' "$MG_TMP/getobj.json"
t_check "... and gives the bytes back" cmp -s "$S/big.bin" "$MG_TMP/back.cm"
t_is "no notice about the trailer" 0 "$(grep -c "checksum trailer" "$MG_TMP/moto.err")"

# the CRC32C the server echoes is not the one sent: sent again
relay moto-bad "$MG_S3_ENDPOINT" trailer:2 || { t_fail "relay starts" "$(cat "$MG_TMP/moto-bad.port.err")"; t_done; }
plan moto-bad bad
run moto-bad
t_is "a CRC32C echoed that differs: migrate still exits 0" 0 "$RC"
t_check "... the part was damaged once" grep -q 'damaged-trailer' "$MG_TMP/moto-bad.log"
t_check "... and sent again" grep -q 'partNumber=.* 200 - again' "$MG_TMP/moto-bad.log"
t_check "... the object is intact" intact bad

# checksum_trailer: false: parts signed as before
relay moto-off "$MG_S3_ENDPOINT" none || { t_fail "relay starts" "$(cat "$MG_TMP/moto-off.port.err")"; t_done; }
plan moto-off off "checksum_trailer: false"
run moto-off
t_is "checksum_trailer: false: exit 0" 0 "$RC"
t_is "... every part signed with its SHA-256" 3 "$(parts_with "$MG_TMP/moto-off.log" 'sha=hex.*-> 200')"
t_check "... intact" intact off

# the other algorithms, named in checksum_trailer: every part goes with
# that trailer, its CRC echoed is ours (else the part would go again), and
# a damaged echo is caught as for CRC32C.  moto takes the value from the
# trailer without computing its own: it cannot refuse a wrong one, so what
# is proven is the framing and the header names it parses, and the check
# of the echo on our side; the values are the unit tests' (published
# vectors, tests/unit/test_s3_checksum.c).
for alg in crc32 crc64nvme; do
	relay "moto-$alg" "$MG_S3_ENDPOINT" trailer:2 ||
		{ t_fail "relay starts" "$(cat "$MG_TMP/moto-$alg.port.err")"; t_done; }
	plan "moto-$alg" "$alg" "checksum_trailer: $alg"
	run "moto-$alg"
	t_is "checksum_trailer: $alg: exit 0" 0 "$RC"
	[ "$RC" = 0 ] || sed 's/^/#   /' "$MG_TMP/moto-$alg.err"
	t_is "... every part stored with the x-amz-checksum-$alg trailer" 3 \
		"$(parts_with "$MG_TMP/moto-$alg.log" "sha=STREAMING-UNSIGNED-PAYLOAD-TRAILER enc=aws-chunked trailer=x-amz-checksum-$alg -> 200 - \\(again\\)\\?\$")"
	t_check "... the part whose echoed CRC was damaged was sent again" \
		grep -q "partNumber=2.* 200 - again" "$MG_TMP/moto-$alg.log"
	t_check "... intact" intact "$alg"
	t_grep "... Complete named the 3 parts' checksums" "named=3\$" "$MG_TMP/moto-$alg.log"
done
"${AWS[@]}" s3api head-object --bucket "$BUCKET" --key crc32/big.bin --checksum-mode ENABLED \
	>"$MG_TMP/head32.json" 2>&1
t_check "crc32: the object has a CRC32 checksum" jq -e '.ChecksumCRC32 | length > 0' "$MG_TMP/head32.json" ||
	sed 's/^/#   /' "$MG_TMP/head32.json"

# a resumed upload with the trailer (issue 19.2): killed once its first
# part is journaled, the rerun sends the rest, asks the server for the CRCs
# of the parts it did not send (ListParts) and completes.  moto's
# ListParts carries no per-part checksum (5.2), so Complete names only the
# parts the rerun sent (AWS's names them all); moto computes the composite
# CRC32 itself from the parts it stored: it must be that of the source's
# 5 MiB pieces.
relay moto-resume "$MG_S3_ENDPOINT" none ||
	{ t_fail "relay starts" "$(cat "$MG_TMP/moto-resume.port.err")"; t_done; }
plan moto-resume resume "checksum_trailer: crc32"
t_kill_at part:1 "$MIGRATE" --no-progress "$MG_TMP/moto-resume.yaml" >"$MG_TMP/kill.out" 2>&1
t_is "killed at the first part journaled (137)" 137 "$?"
before=$(wc -l <"$MG_TMP/moto-resume.log")
run moto-resume
t_is "the rerun exits 0" 0 "$RC"
tail -n +$((before + 1)) "$MG_TMP/moto-resume.log" >"$MG_TMP/rerun.log"
resumed=$(sed -n '/^{/,$p' "$MG_TMP/moto-resume.json" | jq -r '.targets[0].resumed_parts')
t_check "... resumed parts of the killed run ($resumed)" test "${resumed:-0}" -ge 1
t_check "... asked ListParts for the CRCs before Complete" \
	test "$(grep -c '^GET .*uploadId=' "$MG_TMP/rerun.log")" -ge 2
t_check "... and completed" grep -q '^POST .*uploadId=.* 200 ' "$MG_TMP/rerun.log"
t_check "... intact" intact resume
"${AWS[@]}" s3api head-object --bucket "$BUCKET" --key resume/big.bin --checksum-mode ENABLED \
	>"$MG_TMP/headr.json" 2>&1
want=$(python3 -c 'import base64, sys, zlib
d = open(sys.argv[1], "rb").read(); p = 5 << 20
c = b"".join(zlib.crc32(d[i:i + p]).to_bytes(4, "big") for i in range(0, len(d), p))
print(base64.b64encode(zlib.crc32(c).to_bytes(4, "big")).decode())' "$S/big.bin")
got=$(jq -r '.ChecksumCRC32' "$MG_TMP/headr.json" 2>/dev/null)
# (moto's HEAD leaves off the "-3" its GET adds)
t_is "... its composite CRC32 is that of the source's parts" "$want" "${got%-*}"
t_done
