#!/usr/bin/env bash
# HTTP/2 to an S3 server over TLS (issue 19.1): nghttpx (Debian's
# nghttp2-proxy) with a self-signed certificate in front of Ceph RGW
# offers h2 and http/1.1 in ALPN and speaks HTTP/1.1 to RGW; its access
# log names the protocol of every request.  With the CA in ca_file:
#   - http_version: 2: every request of the run goes h2, small objects and
#     the parts of a multipart upload, SigV4 verifies through the proxy
#     (the Host header it passes is the one signed), and the AWS CLI reads
#     the objects back byte for byte from RGW;
#   - http_version: "1.1" makes every request HTTP/1.1, and so does the
#     default (measured: docs/BENCHMARKS.md, "Fifth session");
#   - another value is a plan error naming the choices.
. "$MG_SRCDIR/tests/lib.sh"

[ -x "$MIGRATE" ] || t_skip_all "migrate is not built: $MIGRATE"
command -v nghttpx >/dev/null || t_skip_all "nghttpx is missing: apt-get install nghttp2-proxy"
t_need_s3 BUCKET mg-h2
t_tls_cert || t_skip_all "cannot make a certificate: $(tail -1 "$MG_TMP/openssl.out")"

up=${MG_S3_ENDPOINT#http://}
port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# nghttpx may lose the race for a free port to another test: a few tries
for try in 1 2 3; do
	PORT=$(port)
	: >"$MG_TMP/access.log"
	nghttpx --conf=/dev/null -f"127.0.0.1,$PORT" -b"${up%:*},${up##*:};;proto=http/1.1" \
		--workers=1 --no-ocsp --accesslog-file="$MG_TMP/access.log" \
		--accesslog-format='$alpn $method $path $status' \
		--errorlog-file="$MG_TMP/nghttpx.err" "$MG_TMP/key.pem" "$MG_TMP/cert.pem" \
		>"$MG_TMP/nghttpx.out" 2>&1 &
	NGPID=$!
	t_at_exit "kill $NGPID 2>/dev/null"
	up_h2() { curl -s -o /dev/null --cacert "$MG_TMP/cert.pem" "https://127.0.0.1:$PORT/"; }
	t_wait 30 up_h2 && break
	kill "$NGPID" 2>/dev/null
	NGPID=
done
[ -n "$NGPID" ] || { t_fail "nghttpx starts" "$(tail -3 "$MG_TMP/nghttpx.err")"; t_done; }
t_check "nghttpx offers h2 to curl" \
	test "$(curl -s -o /dev/null -w '%{http_version}' --http2 --cacert "$MG_TMP/cert.pem" \
		"https://127.0.0.1:$PORT/")" = 2

S=$MG_TMP/src
mkdir -p "$S"
for i in 1 2 3 4; do head -c $((4096 + i)) /dev/urandom >"$S/small-$i"; done
head -c $((11 * 1024 * 1024 + 5)) /dev/urandom >"$S/big.bin"	# 3 parts of 5 MiB

# run NAME [KEY: VALUE]: migrate $S into s3://$BUCKET/NAME/ through
# nghttpx, the access log of that run alone in $MG_TMP/NAME.log, the exit
# code in RC
run() {
	T_S3_ENDPOINT=https://127.0.0.1:$PORT t_s3_plan "$MG_TMP/$1.yaml" "$1" "$S" \
		"s3://$BUCKET/$1/" "$MG_TMP/journal-$1" \
		"transfer: { multipart_threshold: 5MiB, part_size: 5MiB, concurrency: 4 }"
	# the target's own keys go below its endpoint
	sed -i "s|^  endpoint: .*|&\n  ca_file: $MG_TMP/cert.pem${2:+\n  $2}|" "$MG_TMP/$1.yaml"
	: >"$MG_TMP/access.log"
	"$MIGRATE" --no-progress "$MG_TMP/$1.yaml" >"$MG_TMP/$1.out" 2>"$MG_TMP/$1.err"
	RC=$?
	cp "$MG_TMP/access.log" "$MG_TMP/$1.log"
}
# protos NAME: the protocols of the run's requests, counted ("2 h2 ...")
protos() { awk '{ print $1 }' "$MG_TMP/$1.log" | sort | uniq -c | awk '{ printf "%s%s %s", (NR > 1 ? " " : ""), $1, $2 }'; }
# parts_via NAME PROTO: UploadPart requests of the run that went PROTO and were stored
parts_via() { grep -c "^$2 PUT .*partNumber=.* 200\$" "$MG_TMP/$1.log"; }
# intact NAME: every object read back from RGW itself byte for byte
intact() {
	rm -rf "$MG_TMP/back"
	"${AWS[@]}" s3 cp --recursive "s3://$BUCKET/$1/" "$MG_TMP/back" >/dev/null 2>&1 &&
		diff -r "$S" "$MG_TMP/back" >/dev/null
}

run h2 'http_version: 2'
t_is "http_version: 2: migrate through nghttpx exits 0" 0 "$RC"
[ "$RC" = 0 ] || sed 's/^/#   /' "$MG_TMP/h2.err"
t_check "http_version: 2: every request went h2 ($(protos h2))" \
	test -z "$(awk '$1 != "h2"' "$MG_TMP/h2.log")" -a -s "$MG_TMP/h2.log"
t_check "... the small objects' PUTs among them" grep -q '^h2 PUT .*/small-1 200$' "$MG_TMP/h2.log"
t_check "... and the multipart upload's 3 parts" test "$(parts_via h2 h2)" -ge 3
t_check "... SigV4 verified through the proxy: no 403" \
	test -z "$(awk '$4 == 403' "$MG_TMP/h2.log")"
t_check "the AWS CLI reads every object back identical" intact h2

run h11 'http_version: "1.1"'
t_is "http_version: 1.1: exit 0" 0 "$RC"
t_check "http_version: 1.1: every request went HTTP/1.1 ($(protos h11))" \
	test -z "$(awk '$1 != "http/1.1"' "$MG_TMP/h11.log")" -a -s "$MG_TMP/h11.log"
t_check "... the parts too" test "$(parts_via h11 http/1.1)" -ge 3
t_check "... read back identical" intact h11

# the measured default (docs/BENCHMARKS.md, "Fifth session"): HTTP/1.1
run dflt
t_is "http_version unset: exit 0" 0 "$RC"
t_check "http_version unset: HTTP/1.1, though the server offers h2 ($(protos dflt))" \
	test -z "$(awk '$1 != "http/1.1"' "$MG_TMP/dflt.log")" -a -s "$MG_TMP/dflt.log"

run bad 'http_version: 3'
t_is "http_version: 3 is a plan error (exit 2)" 2 "$RC"
t_grep "... naming the choices" "http_version.*1.1 or 2" "$MG_TMP/bad.err"
t_done
