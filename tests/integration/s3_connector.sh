#!/usr/bin/env bash
# The S3 connector against Ceph RGW, driven directly by `conformance s3` (no engine):
# what S3 does beyond connector.h (list pages, odd keys' ETags and
# metadata, chunked reads, BadDigest, ListParts paging, CopyObject
# metadata, UploadPartCopy, batch delete, presigned GET, wrong secret; the
# contract itself is the conformance suite's: conformance_s3.sh), then
# interop with other people's
# clients: what the connector writes, the AWS CLI and rclone read back
# byte-identical; what they write, the connector reads.  Needs the server
# from tools/lib/s3server.sh (MG_S3_ENDPOINT and friends).
. "$MG_SRCDIR/tests/lib.sh"

[ -n "${MG_S3_ENDPOINT:-}" ] || t_skip_all "MG_S3_ENDPOINT is not set (tools/lib/s3server.sh starts a server)"
. "$MG_SRCDIR/tests/conformance/lib.sh"	# $CF: the conformance program

s3_cli
s3_rclone

if [ -x /usr/bin/aws ] && s3_new_bucket BUCKET mg-conn; then
	t_ok "create bucket $BUCKET with the aws cli"
else
	t_fail "create bucket with the aws cli" "/usr/bin/aws s3 mb failed at $MG_S3_ENDPOINT"
	t_done
fi

# The suite prints "ok - name" / "not ok - name # why" / "# note".
"$CF" s3 suite "$BUCKET" >"$MG_TMP/suite.out" 2>&1
rc=$?
t_relay "$MG_TMP/suite.out"
[ "$rc" -eq 0 ] && [ "$T_RELAYED" -gt 35 ] || t_fail "conformance s3 suite ran to the end" "exit $rc after $T_RELAYED checks"

# ---- interop ----
head -c 300000 /dev/urandom >"$MG_TMP/small"
head -c $((12 * 1024 * 1024 + 12345)) /dev/urandom >"$MG_TMP/big"
K1='interop/mine small é+%.bin'
K2='interop/mine big multipart.bin'
t_check "connector puts a small object" "$CF" s3 put "$BUCKET" "$K1" "$MG_TMP/small"
t_check "connector puts a multipart object (5 MiB parts)" "$CF" s3 put "$BUCKET" "$K2" "$MG_TMP/big" 5242880

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
	t_check "connector reads the aws cli's small object" "$CF" s3 get "$BUCKET" "$K3" "$MG_TMP/c-small"
	t_check "... byte-identical" cmp "$MG_TMP/small" "$MG_TMP/c-small"
	t_check "connector reads the aws cli's multipart object" "$CF" s3 get "$BUCKET" "$K4" "$MG_TMP/c-big"
	t_check "... byte-identical" cmp "$MG_TMP/big" "$MG_TMP/c-big"
	"$CF" s3 ls "$BUCKET" interop >"$MG_TMP/ls.out" 2>&1
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
	# conformance s3 put stores 1700000000.123456789
	"${RCLONE[@]}" lsl "rgw:$BUCKET/interop" >"$MG_TMP/lsl.out" 2>&1
	t_grep "rclone sees the mtime the connector stored" \
		"^ +300000 2023-11-14 22:13:20\\.123456789 mine small" "$MG_TMP/lsl.out"
else
	t_skip "rclone interop" "rclone is missing: apt-get install rclone"
fi

# ---- resume, conditional copies, SSE-C over https, faults ----
t_check "resume from ListParts reuses the parts sent (RGW)" "$CF" s3 resume "$BUCKET"
"$CF" s3 precond "$BUCKET" >"$MG_TMP/precond.out" 2>&1
t_relay "$MG_TMP/precond.out" " (RGW)"

cat >"$MG_TMP/faultsrv.py" <<'PY'
# faultsrv.py MODE [UPHOST UPPORT]: a misbehaving HTTP server on a free
# 127.0.0.1 port (printed on the first line of stdout).
#   silent        accepts, reads, never answers
#   retry-after   answers everything 503 SlowDown with Retry-After: 60
#   listing       answers every GET with one ListObjectsV2 page in
#                 encoding-type=url whose keys hold a NUL (%00), a '+',
#                 a space ('+') and UTF-8
#   reset-proxy   relays to UPHOST:UPPORT; the second and later request
#                 on a connection with a body of 60 KiB or more is read
#                 and the connection closed without an answer, as when a
#                 server closes a kept-alive connection the moment the
#                 client reuses it: curl sends the request again on a new
#                 connection, which needs the body rewound
import socket, sys, threading
from httprelay import content_length as clen, read_head, serve_sockets

mode = sys.argv[1]

def relay_answer(uf, c, is_head):
    head = read_head(uf)
    if head is None:
        return False
    n = clen(head)
    chunked = b"transfer-encoding: chunked" in head.lower()
    c.sendall(head)
    if is_head or head.split(b" ")[1] in (b"204", b"304") or n == 0 and not chunked:
        return True
    if chunked:
        while True:
            line = uf.readline()
            c.sendall(line)
            size = int(line.split(b";")[0], 16)
            data = uf.read(size + 2)
            c.sendall(data)
            if size == 0:
                return True
    left = n
    while left:
        d = uf.read(min(left, 65536))
        if not d:
            return False
        c.sendall(d)
        left -= len(d)
    return True

def serve(c):
    f = c.makefile("rb")
    nreq = 0
    up = uf = None
    try:
        while True:
            head = read_head(f)
            if head is None:
                break
            nreq += 1
            n = clen(head)
            if mode == "silent":
                threading.Event().wait()
            if mode == "listing":
                f.read(n)
                body = (b"<?xml version=\"1.0\"?><ListBucketResult><Name>b</Name>"
                        b"<EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
                        b"<Contents><Key>p/a</Key><Size>1</Size></Contents>"
                        b"<Contents><Key>p/a%00b</Key><Size>2</Size></Contents>"
                        b"<Contents><Key>p/a%01+c%2B%C3%A9</Key><Size>3</Size></Contents>"
                        b"</ListBucketResult>")
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n"
                          b"Content-Length: %d\r\n\r\n" % len(body) + body)
                continue
            if mode == "retry-after":
                f.read(n)
                body = b"<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>slow down</Message></Error>"
                c.sendall(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 60\r\n"
                          b"Content-Type: application/xml\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                continue
            if nreq >= 2 and n >= 60 * 1024:
                f.read(n)
                c.close()
                return
            if up is None:
                up = socket.create_connection((sys.argv[2], int(sys.argv[3])))
                uf = up.makefile("rb")
            up.sendall(head + (f.read(n) if n else b""))
            if not relay_answer(uf, c, head.startswith(b"HEAD ")):
                break
    except OSError:
        pass
    finally:
        for s in (up, c):
            try:
                s and s.close()
            except OSError:
                pass

serve_sockets(serve)
PY
# start_fault VAR MODE [ARGS]: a fault server; its port in VAR.  Each
# server gets a port file of its own: the shell truncates it in the
# child, after `&` has returned, so a file reused from an earlier server
# (two "silent" ones) could be read with the old port just before it is
# cleared.  And a line counts once it ends in a newline, not at its
# first byte.
fault_n=0
start_fault() {
	local var=$1
	fault_n=$((fault_n + 1))
	t_start_helper "$var" "$MG_TMP/fault-$fault_n-$2.port" python3 "$MG_TMP/faultsrv.py" "${@:2}"
}

up=${MG_S3_ENDPOINT#http://}
start_fault RP reset-proxy "${up%:*}" "${up##*:}"
MG_S3_ENDPOINT=http://127.0.0.1:$RP t_check \
	"uploads of 60 KiB and more survive a reset on a kept-alive connection (rewound body)" \
	"$CF" s3 resets "$BUCKET"

start_fault SP silent
t0=$(date +%s%N)
MG_S3_ENDPOINT=http://127.0.0.1:$SP t_check "a server that never answers is MG_RETRY" \
	"$CF" s3 stall "$BUCKET"
t1=$(date +%s%N)
t_grep "... naming the endpoint" "did not answer in time.*2 tries" "$MG_TMP/.out"
ms=$(((t1 - t0) / 1000000))
echo "# silent server, stall limit 2 s, 2 tries: ${ms} ms"
[ "$ms" -lt 15000 ] && t_ok "... detected in seconds (${ms} ms)" ||
	t_fail "... detected in seconds" "${ms} ms"

# listed keys are decoded exactly; one holding a NUL is an error entry,
# not cut short at the NUL (that would name the object 'a')
start_fault LP listing
MG_S3_ENDPOINT=http://127.0.0.1:$LP "$CF" s3 ls "$BUCKET" p >"$MG_TMP/nul.out" 2>&1
printf 'a\nerror: a%%00b: the key holds a NUL byte (shown url-encoded), which no target can store: rename it at the source\na\001 c+\303\251\n' >"$MG_TMP/nul.want"
if cmp -s "$MG_TMP/nul.want" "$MG_TMP/nul.out"; then
	t_ok "a listed key holding a NUL is an error entry; the others decoded exactly"
else
	t_fail "a listed key holding a NUL is an error entry; the others decoded exactly" \
		"$(od -c "$MG_TMP/nul.out" | head -5)"
fi

# SIGTERM during a transfer that gets no answer, and during a
# Retry-After: 60 backoff: out within a second or two
for mode in silent retry-after; do
	start_fault WP "$mode"
	MG_S3_ENDPOINT=http://127.0.0.1:$WP "$CF" s3 wait "$BUCKET" >"$MG_TMP/wait.out" 2>&1 &
	pid=$!
	sleep 2
	t0=$(date +%s%N)
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "# SIGTERM ($mode): exit $rc after ${ms} ms: $(cat "$MG_TMP/wait.out")"
	[ "$rc" -eq 130 ] && [ "$ms" -lt 3000 ] && grep -q "interrupted" "$MG_TMP/wait.out" &&
		t_ok "SIGTERM ($mode) stops the request within seconds (${ms} ms)" ||
		t_fail "SIGTERM ($mode) stops the request within seconds" \
			"exit $rc after ${ms} ms: $(cat "$MG_TMP/wait.out")"
done

# TLS: SSE-C over https, and a certificate for another name while
# ca_file is set is not blamed on ca_file
if t_tls_cert; then
	t_start_helper TP "$MG_TMP/relay.port" \
		python3 "$MG_SRCDIR/tests/tlsrelay.py" "${up%:*}" "${up##*:}" "$MG_TMP/cert.pem" "$MG_TMP/key.pem"
	MG_S3_ENDPOINT=https://127.0.0.1:$TP MG_S3_CA_FILE=$MG_TMP/cert.pem \
		"$CF" s3 ssec "$BUCKET" >"$MG_TMP/ssec.out" 2>&1
	t_relay "$MG_TMP/ssec.out" " (https)"
	grep -q "^ok - sse-c: multipart" "$MG_TMP/ssec.out" ||
		t_fail "sse-c suite ran over https" "$(tail -3 "$MG_TMP/ssec.out")"
	MG_S3_ENDPOINT=https://localhost:$TP MG_S3_CA_FILE=$MG_TMP/cert.pem \
		t_exit "a certificate for another host name is refused (fatal)" 3 "$CF" s3 ls "$BUCKET"
	t_grep "... saying the name does not match" "not for this host name" "$MG_TMP/.out"
	grep -q "ca_file" "$MG_TMP/.out" &&
		t_fail "... without advising ca_file when one is set" "$(cat "$MG_TMP/.out")" ||
		t_ok "... without advising ca_file when one is set"
else
	t_skip "sse-c over https, tls host name" "openssl cannot make a certificate"
fi

# ---- moto: another S3 implementation, answering ListParts with
# <ListPartsResponse> (AWS: <ListPartsResult>) ----
if python3 -c 'import moto.server' 2>/dev/null; then
	MP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	python3 -m moto.server -H 127.0.0.1 -p "$MP" >"$MG_TMP/moto.log" 2>&1 &
	t_at_exit "kill $! 2>/dev/null"
	for _ in $(seq 300); do
		curl -s -o /dev/null "http://127.0.0.1:$MP/" && break
		sleep 0.2
	done
	export MOTO_EP=http://127.0.0.1:$MP
	if AWS_ACCESS_KEY_ID=mk AWS_SECRET_ACCESS_KEY=ms AWS_DEFAULT_REGION=us-east-1 \
		/usr/bin/aws --endpoint-url "$MOTO_EP" s3 mb s3://mg-moto >/dev/null 2>&1; then
		MG_S3_ENDPOINT=$MOTO_EP MG_S3_ACCESS_KEY=mk MG_S3_SECRET_KEY=ms MG_S3_REGION=us-east-1 \
			t_check "resume from ListParts reuses the parts sent (moto)" "$CF" s3 resume mg-moto
		MG_S3_ENDPOINT=$MOTO_EP MG_S3_ACCESS_KEY=mk MG_S3_SECRET_KEY=ms MG_S3_REGION=us-east-1 \
			"$CF" s3 precond mg-moto >"$MG_TMP/precond-moto.out" 2>&1
		t_relay "$MG_TMP/precond-moto.out" " (moto)"
	else
		t_fail "moto starts and makes a bucket" "$(tail -5 "$MG_TMP/moto.log")"
	fi
else
	t_skip "moto: resume and conditional copies" "python3 has no moto (it cannot be installed here)"
fi

t_done
