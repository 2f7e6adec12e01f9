#!/usr/bin/env bash
# The S3 connector through a faulty proxy on loopback: every 4th request
# answered "503 SlowDown" (with Retry-After: 0), every 7th answer cut in
# the middle of its body with a TCP reset, 5 ms of latency on the rest; a
# faulted request goes through when it is sent again.
# Small PUTs, a multipart upload, ranged reads and a listing must all end
# byte-identical by the connector's own retries, and the retries are
# reported.  The proxy is a few lines of python3 below.
. "$MG_SRCDIR/tests/lib.sh"

[ -n "${MG_S3_ENDPOINT:-}" ] || t_skip_all "MG_S3_ENDPOINT is not set (tools/lib/s3server.sh starts a server)"
. "$MG_SRCDIR/tests/conformance/lib.sh"	# $CF: the conformance program
[ -x /usr/bin/aws ] || t_skip_all "/usr/bin/aws is missing: apt-get install awscli"
command -v python3 >/dev/null || t_skip_all "python3 is missing"

cat >"$MG_TMP/proxy.py" <<'PY'
import socketserver, sys, threading, time
from httprelay import forward, read_request, reset, serve_handler, with_close

up_host, up_port = sys.argv[1], int(sys.argv[2])
K_SLOW, K_CUT = int(sys.argv[3]), int(sys.argv[4])
count = 0
lock = threading.Lock()
# a request that was faulted goes through when it comes again, so a
# bounded number of retries always suffices and the test cannot flake
faulted = set()

class H(socketserver.StreamRequestHandler):
    def handle(self):
        global count
        req = read_request(self.rfile)
        if req is None:
            return
        head, body = req
        line = head.split(b"\r\n", 1)[0]
        with lock:
            count += 1
            n = count
            if line in faulted:
                faulted.discard(line)
                n = 1
            elif n % K_SLOW == 0 or n % K_CUT == 0:
                faulted.add(line)
        if n % K_SLOW == 0:
            msg = b"<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>slow down</Message></Error>"
            self.wfile.write(b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nRetry-After: 0\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(msg) + msg)
            return
        time.sleep(0.005)
        rhead, rbody = forward(up_host, up_port, head, body)
        out = with_close(rhead) + rbody
        if n % K_CUT == 0 and len(rbody) > 1:
            self.wfile.write(with_close(rhead) + rbody[:len(rbody) // 2])
            self.wfile.flush()
            # a reset, not a clean end
            reset(self.connection, close=False)
            return
        self.wfile.write(out)

serve_handler(H)
PY

up=${MG_S3_ENDPOINT#http://}
t_start_helper PORT "$MG_TMP/proxy.port" python3 "$MG_TMP/proxy.py" "${up%:*}" "${up##*:}" 4 7 ||
	{ t_fail "proxy starts" "$(cat "$MG_TMP/proxy.port.err")"; t_done; }

s3_cli
s3_new_bucket BUCKET mg-faults || { t_fail "create bucket" "/usr/bin/aws s3 mb failed at $MG_S3_ENDPOINT"; t_done; }

MG_S3_ENDPOINT=http://127.0.0.1:$PORT "$CF" s3 stress "$BUCKET" >"$MG_TMP/stress.out" 2>&1
rc=$?
t_relay "$MG_TMP/stress.out"
[ "$rc" -eq 0 ] && t_ok "stress run exits 0" || t_fail "stress run exits 0" "exit $rc: $(tail -3 "$MG_TMP/stress.out")"
retries=$(sed -n 's/^retries //p' "$MG_TMP/stress.out")
[ "${retries:-0}" -gt 10 ] && t_ok "the faults were retried ($retries retries)" ||
	t_fail "the faults were retried" "retries='$retries'"

# the same faults under migrate: a tree of small files and two multipart
# files, through the proxy; read back directly from the server
if [ -x "$MIGRATE" ]; then
	S=$MG_TMP/src
	mkdir -p "$S/small"
	for i in $(seq 1 30); do head -c $((i * 997)) /dev/urandom >"$S/small/f $i"; done
	head -c $((11 * 1024 * 1024)) /dev/urandom >"$S/mp one"
	head -c $((7 * 1024 * 1024 + 3)) /dev/urandom >"$S/mp two"
	cat >"$MG_TMP/plan.yaml" <<EOF2
version: 1
name: faults
source: $S
target:
  url: s3://$BUCKET/migrated/
  endpoint: http://127.0.0.1:$PORT
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
journal: $MG_TMP/journal
transfer:
  multipart_threshold: 5MiB
  part_size: 5MiB
  concurrency: 4
EOF2
	t_exit "migrate through the faulty proxy exits 0" 0 "$MIGRATE" "$MG_TMP/plan.yaml"
	t_check "the aws cli reads the objects back (from the server itself)" \
		"${AWS[@]}" s3 cp --recursive "s3://$BUCKET/migrated/" "$MG_TMP/back"
	t_same_tree "every object arrived byte-identical" "$S" "$MG_TMP/back"
fi
t_done
