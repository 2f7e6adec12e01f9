#!/usr/bin/env bash
# Nothing open that nobody owns (issue 14, items 4 and 5), against Ceph RGW.
# Every case ends with zero open multipart uploads (ListMultipartUploads,
# AWS CLI) after the next run:
#  (a) ListParts, then Abort, fail transiently (503 SlowDown from a proxy)
#      on resume: the upload record is kept, the next run resumes or
#      aborts it (the old code dropped it and left the upload open);
#  (b) the source file is deleted, or shrinks below multipart_threshold,
#      after an interrupted multipart upload: the sweep aborts it;
#  (c) the run dies between CreateMultipartUpload and the journal write
#      (a proxy passes the Create to RGW and swallows the answer, then the
#      run is killed): the intent is reconciled with ListMultipartUploads;
#  (405) a server that answers ListParts and Abort with 405 (as s3rver
#      does): the summary and --log-json name the upload left open (key,
#      upload id, reason), and a later run against a server that can
#      abort it does; one that refuses only ListParts: the summary says
#      the upload was not resumed, and it is aborted;
#  cleanup: `migrate cleanup --dry-run` lists, `cleanup` aborts only what
#      looks like migrate's, `cleanup --all` aborts a foreign upload too.
# Every case runs against RGW, then against moto where tools/lib/moto.sh
# and Python's moto are there (skipped with the reason otherwise).
. "$MG_SRCDIR/tests/lib.sh"

t_need_s3 BUCKET mg-open

# ---- a fault proxy: raw TCP to RGW, parsing only the requests ----------
# The mode file says what to do with the next requests: "pass"; "CODE
# listparts|abort ...": answer ListParts / AbortMultipartUpload with CODE
# without asking RGW; "blackhole": pass CreateMultipartUpload to RGW and
# swallow its answer (touching $MG_TMP/created).  Every request passed on
# is logged ("METHOD TARGET") to $MG_TMP/requests.
cat >"$MG_TMP/proxy.py" <<'PY'
import re, socket, sys, threading
up_host, up_port = sys.argv[1], int(sys.argv[2])
mode_file, port_file, marker, log = sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
codes = {b"503": (b"Service Unavailable", b"SlowDown"),
         b"405": (b"Method Not Allowed", b"MethodNotAllowed")}

def mode():
    try:
        return open(mode_file, "rb").read().split()
    except OSError:
        return [b"pass"]

def handle(c):
    s = socket.create_connection((up_host, up_port))
    hole = [False]
    def back():
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                if hole[0]:
                    open(marker, "a").write("x\n")
                    continue
                c.sendall(d)
        except OSError:
            pass
        if hole[0]:
            # the answer is lost, not refused: moto closes the connection
            # after its answer (Connection: close), and passing that close
            # on would make the client send the request again, as many
            # times as it can before the test's kill lands
            return
        try:
            c.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    threading.Thread(target=back, daemon=True).start()
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            method, target = lines[0].split(b" ")[:2]
            clen = 0
            for l in lines[1:]:
                k, _, v = l.partition(b":")
                if k.strip().lower() == b"content-length":
                    clen = int(v.strip())
                assert k.strip().lower() != b"transfer-encoding"
            m = mode()
            inject = None
            if m[0] in codes:
                if method == b"GET" and b"uploadId=" in target and b"listparts" in m:
                    inject = m[0]
                if method == b"DELETE" and b"uploadId=" in target and b"abort" in m:
                    inject = m[0]
            if (m[0] == b"blackhole" and method == b"POST" and
                    re.search(rb"[?&]uploads(=|&|$)", target)):
                hole[0] = True
            if inject:
                while len(buf) < clen:
                    buf += c.recv(65536)
                buf = buf[clen:]
                why, code = codes[inject]
                body = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>' + code +
                        b"</Code><Message>injected by the test proxy</Message></Error>")
                c.sendall(b"HTTP/1.1 " + inject + b" " + why +
                          b"\r\nContent-Type: application/xml\r\nContent-Length: " +
                          str(len(body)).encode() + b"\r\n\r\n" + body)
                continue
            with open(log, "ab") as f:
                f.write(method + b" " + target + b"\n")
            s.sendall(head + b"\r\n\r\n")
            n = min(clen, len(buf))
            s.sendall(buf[:n])
            buf = buf[n:]
            left = clen - n
            while left > 0:
                d = c.recv(min(65536, left))
                if not d:
                    return
                s.sendall(d)
                left -= len(d)
    except OSError:
        pass
    finally:
        for x in (c, s):
            try:
                x.close()
            except OSError:
                pass

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(64)
open(port_file + ".tmp", "w").write(str(ls.getsockname()[1]))
import os; os.rename(port_file + ".tmp", port_file)
while True:
    c, _ = ls.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
PY
# start_proxy: a proxy in front of $MG_S3_ENDPOINT; sets PROXY
start_proxy() {
	local hostport=${MG_S3_ENDPOINT#*://} pid
	echo pass >"$MG_TMP/mode"
	python3 "$MG_TMP/proxy.py" "${hostport%%:*}" "${hostport##*:}" "$MG_TMP/mode" \
		"$MG_TMP/proxy.port" "$MG_TMP/created" "$MG_TMP/requests" 2>"$MG_TMP/proxy.err" &
	pid=$!
	t_at_exit "kill $pid 2>/dev/null"
	t_wait 30 test -s "$MG_TMP/proxy.port"
	PROXY=http://127.0.0.1:$(cat "$MG_TMP/proxy.port")
}
start_proxy
setmode() { echo "$*" >"$MG_TMP/mode"; }

# mkcase NAME: a source folder, a journal, a prefix NAME/ and a plan
# NAME.yaml whose target is RGW through the proxy (the endpoint is part of
# the target's journal id, so every run of a case goes the same way; the
# proxy passes everything on unless told otherwise)
mkcase() {
	local n=$1
	mkdir -p "$MG_TMP/$n/src"
	cat >"$MG_TMP/$n.yaml" <<YAML
version: 1
name: open-$n
source: "$MG_TMP/$n/src"
target:
  url: s3://$BUCKET/$n/
  endpoint: $PROXY
  region: \${MG_S3_REGION}
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
journal: "$MG_TMP/$n/journal"
transfer: { multipart_threshold: 5MiB, part_size: 5MiB, bandwidth: 2MB/s, retries: 1 }
YAML
}

# ListMultipartUploads and GET, signed with SigV4 by the standard library
# (the AWS CLI takes seconds per call on a loaded machine).
cat >"$MG_TMP/s3q.py" <<'PY'
import datetime, hashlib, hmac, os, sys, urllib.parse, urllib.request
import xml.etree.ElementTree as ET
ep, region = os.environ["MG_S3_ENDPOINT"], os.environ.get("MG_S3_REGION") or "us-east-1"
ak, sk = os.environ["MG_S3_ACCESS_KEY"], os.environ["MG_S3_SECRET_KEY"]

def req(method, path, query):
    u = urllib.parse.urlsplit(ep)
    now = datetime.datetime.now(datetime.timezone.utc)
    amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    q = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
                 for k, v in sorted(query.items()))
    cpath = urllib.parse.quote(path, safe="/-_.~")
    hdrs = {"host": u.netloc, "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-date": amz}
    sh = ";".join(sorted(hdrs))
    creq = "\n".join([method, cpath, q] + ["%s:%s" % (k, hdrs[k]) for k in sorted(hdrs)] +
                     ["", sh, "UNSIGNED-PAYLOAD"])
    scope = "%s/%s/s3/aws4_request" % (day, region)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + sk).encode()
    for p in (day, region, "s3", "aws4_request"):
        k = hmac.new(k, p.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    hdrs["Authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
                             % (ak, scope, sh, sig))
    del hdrs["host"]
    r = urllib.request.Request(ep + cpath + ("?" + q if q else ""), method=method, headers=hdrs)
    return urllib.request.urlopen(r).read()

cmd, bucket = sys.argv[1], sys.argv[2]
if cmd == "uploads":	# uploads BUCKET PREFIX: "key id" per open upload
    for up in ET.fromstring(req("GET", "/" + bucket, {"uploads": "", "prefix": sys.argv[3]})).iter():
        if up.tag.split("}")[-1] == "Upload":
            kv = {c.tag.split("}")[-1]: c.text for c in up}
            print(kv["Key"], kv["UploadId"])
elif cmd == "get":	# get BUCKET KEY FILE
    open(sys.argv[4], "wb").write(req("GET", "/%s/%s" % (bucket, sys.argv[3]), {}))
PY
uploads() { python3 "$MG_TMP/s3q.py" uploads "$BUCKET" "$1"; }
open_uploads() {	# open_uploads PREFIX: how many uploads are open under it
	local out
	out=$(uploads "$1") || { echo "ListMultipartUploads failed"; return; }
	[ -z "$out" ] && echo 0 || wc -l <<<"$out" | tr -d ' '
}

# interrupt NAME: a run through the proxy, killed with SIGKILL as soon as
# it sends part 2 (so part 1 is journaled; 2 MB/s keeps part 2 on the wire)
interrupt() {
	: >"$MG_TMP/requests"
	setmode pass
	"$MIGRATE" --no-progress "$MG_TMP/$1.yaml" >"$MG_TMP/$1/killed.out" 2>&1 &
	local pid=$! i
	for i in $(seq 600); do
		grep -q "^PUT /$BUCKET/$1/.*partNumber=2" "$MG_TMP/requests" && break
		sleep 0.05
	done
	kill -9 "$pid"; wait "$pid" 2>/dev/null
	[ "$(open_uploads "$1/")" = 1 ] && t_ok "$1: the killed run left its upload open" ||
		t_fail "$1: one open upload after the kill" "$(open_uploads "$1/")"
}

same() {	# same NAME KEY: the object at the target is the source file
	rm -f "$MG_TMP/back"
	python3 "$MG_TMP/s3q.py" get "$BUCKET" "$1/$2" "$MG_TMP/back" 2>/dev/null &&
		cmp -s "$MG_TMP/$1/src/$2" "$MG_TMP/back"
}

# all_cases CHECK_RESUME: every case against the server the MG_S3_*
# variables name, through the proxy; CHECK_RESUME=0 skips the check that a
# kept record is resumed (a server whose ListParts this branch cannot read)
all_cases() {
	local check_resume=$1
	# ---- (a) ListParts, then Abort, fail transiently on resume ------------
	mkcase a
	head -c $((24 * 1024 * 1024)) /dev/urandom >"$MG_TMP/a/src/big.bin"
	interrupt a
	setmode 503 listparts abort
	t_exit "$SV(a) ListParts answering 503: the object fails for now (exit 1)" 1 \
		"$MIGRATE" --no-progress --bwlimit 0 "$MG_TMP/a.yaml"
	[ "$(open_uploads a/)" = 1 ] && t_ok "$SV(a) no second upload was started beside the kept one" ||
		t_fail "$SV(a) open uploads after the failed resume" "$(open_uploads a/)"
	setmode pass
	t_exit "$SV(a) the next run resumes" 0 "$MIGRATE" --no-progress --json --bwlimit 0 "$MG_TMP/a.yaml"
	sed -n '/^{/,/^}/p' "$MG_TMP/.out" >"$MG_TMP/a.json"
	resumed=$(json_get "$MG_TMP/a.json" targets.0.resumed_parts)
	if [ "$check_resume" = 1 ]; then
		[ "$resumed" -ge 1 ] && t_ok "$SV(a) the kept record was resumed ($resumed parts reused)" ||
			t_fail "$SV(a) resumed parts" "$resumed"
	fi
	same a big.bin && t_ok "$SV(a) byte-identical" || t_fail "$SV(a) byte-identical"
	[ "$(open_uploads a/)" = 0 ] && t_ok "$SV(a) zero open uploads" ||
		t_fail "$SV(a) uploads left open" "$(open_uploads a/)"

	# the source changed, so the old upload must be aborted: Abort answers 503
	mkcase a2
	head -c $((24 * 1024 * 1024)) /dev/urandom >"$MG_TMP/a2/src/big.bin"
	interrupt a2
	head -c $((24 * 1024 * 1024)) /dev/urandom >"$MG_TMP/a2/src/big.bin"
	setmode 503 abort
	t_exit "$SV(a) Abort answering 503: the object fails for now (exit 1)" 1 \
		"$MIGRATE" --no-progress --bwlimit 0 "$MG_TMP/a2.yaml"
	setmode pass
	t_exit "$SV(a) the next run aborts the stale upload and copies" 0 \
		"$MIGRATE" --no-progress --bwlimit 0 "$MG_TMP/a2.yaml"
	same a2 big.bin && t_ok "$SV(a) the new content is at the target" || t_fail "$SV(a) new content"
	[ "$(open_uploads a2/)" = 0 ] && t_ok "$SV(a) zero open uploads after a failed abort" ||
		t_fail "$SV(a) uploads left open after a failed abort" "$(open_uploads a2/)"

	# ---- (b) the source file is deleted / shrinks after an interruption ----
	mkcase b
	head -c $((24 * 1024 * 1024)) /dev/urandom >"$MG_TMP/b/src/big.bin"
	echo small >"$MG_TMP/b/src/small.txt"
	interrupt b
	rm "$MG_TMP/b/src/big.bin"
	t_exit "$SV(b) run after the file was deleted" 0 "$MIGRATE" --no-progress --bwlimit 0 "$MG_TMP/b.yaml"
	cp "$MG_TMP/.out" "$MG_TMP/b.out"
	[ "$(open_uploads b/)" = 0 ] && t_ok "$SV(b) deleted source: zero open uploads" ||
		t_fail "$SV(b) deleted source: uploads left open" "$(open_uploads b/)"
	t_grep "$SV(b) the summary says the upload was cleaned up" 'cleaned up +1 ' "$MG_TMP/b.out"

	mkcase b2
	head -c $((24 * 1024 * 1024)) /dev/urandom >"$MG_TMP/b2/src/big.bin"
	interrupt b2
	head -c 1000 /dev/urandom >"$MG_TMP/b2/src/big.bin"
	t_exit "$SV(b) run after the file shrank below the threshold" 0 \
		"$MIGRATE" --no-progress --bwlimit 0 "$MG_TMP/b2.yaml"
	same b2 big.bin && t_ok "$SV(b) the shrunk file is copied whole" || t_fail "$SV(b) shrunk file"
	[ "$(open_uploads b2/)" = 0 ] && t_ok "$SV(b) shrunk source: zero open uploads" ||
		t_fail "$SV(b) shrunk source: uploads left open" "$(open_uploads b2/)"

	# ---- (c) killed between CreateMultipartUpload and the journal write ----
	mkcase c
	head -c $((12 * 1024 * 1024)) /dev/urandom >"$MG_TMP/c/src/big.bin"
	rm -f "$MG_TMP/created"
	setmode blackhole
	"$MIGRATE" --no-progress "$MG_TMP/c.yaml" >"$MG_TMP/c/killed.out" 2>&1 &
	pid=$!
	t_wait 30 test -s "$MG_TMP/created"
	kill -9 "$pid"; wait "$pid" 2>/dev/null
	setmode pass
	[ -s "$MG_TMP/created" ] && [ "$(open_uploads c/)" = 1 ] &&
		t_ok "$SV(c) RGW created the upload, the run died before hearing its id" ||
		t_fail "$SV(c) set-up: one upload created, answer lost" "$(open_uploads c/)"
	t_exit "$SV(c) the next run" 0 "$MIGRATE" --no-progress --bwlimit 0 "$MG_TMP/c.yaml"
	same c big.bin && t_ok "$SV(c) byte-identical" || t_fail "$SV(c) byte-identical"
	[ "$(open_uploads c/)" = 0 ] && t_ok "$SV(c) the unrecorded upload was found and aborted" ||
		t_fail "$SV(c) uploads left open" "$(open_uploads c/)"

	# ---- (405) a server that can neither list parts nor abort --------------
	mkcase n
	head -c $((24 * 1024 * 1024)) /dev/urandom >"$MG_TMP/n/src/big.bin"
	interrupt n
	id=$(uploads n/ | cut -d' ' -f2)
	setmode 405 listparts abort
	t_exit "$SV(405) the object is copied afresh" 0 "$MIGRATE" --no-progress --bwlimit 0 \
		--log-json "$MG_TMP/n.log" "$MG_TMP/n.yaml"
	cp "$MG_TMP/.out" "$MG_TMP/n.out"
	t_grep "$SV(405) the summary names the upload left open" \
		"left open: 'big.bin' \\(upload $id\\): cannot be resumed" "$MG_TMP/n.out"
	[ "$(grep -c "left open: 'big.bin'" "$MG_TMP/n.out")" = 1 ] &&
		t_ok "$SV(405) said once" || t_fail "$SV(405) said more than once" "$(cat "$MG_TMP/n.out")"
	python3 - "$MG_TMP/n.log" "$id" <<'PY' && t_ok "$SV(405) --log-json names key, upload id and reason" ||
import json, sys
run = [json.loads(l) for l in open(sys.argv[1]) if '"event":"run"' in l.replace(" ", "")][-1]
lo = run["targets"][0]["multipart_uploads"]["left_open"]
assert len(lo) == 1, lo
u = lo[0]
assert u["key"] == "big.bin" and u["upload_id"] == sys.argv[2], u
assert "405" in u["reason"] or "MethodNotAllowed" in u["reason"], u
PY
		t_fail "$SV(405) --log-json left_open entry" "$(tail -c 600 "$MG_TMP/n.log")"
	same n big.bin && t_ok "$SV(405) byte-identical" || t_fail "$SV(405) byte-identical"
	setmode pass
	t_exit "$SV(405) a run against a server that can abort" 0 "$MIGRATE" --no-progress --bwlimit 0 "$MG_TMP/n.yaml"
	[ "$(open_uploads n/)" = 0 ] && t_ok "$SV(405) the abandoned upload is aborted later" ||
		t_fail "$SV(405) uploads left open" "$(open_uploads n/)"

	# ListParts refused (405) but Abort works: said, then sent again
	mkcase r
	head -c $((24 * 1024 * 1024)) /dev/urandom >"$MG_TMP/r/src/big.bin"
	interrupt r
	id=$(uploads r/ | cut -d' ' -f2)
	setmode 405 listparts
	t_exit "$SV(405) ListParts refused: the object is sent again" 0 "$MIGRATE" --no-progress \
		--bwlimit 0 "$MG_TMP/r.yaml"
	cp "$MG_TMP/.out" "$MG_TMP/r.out"
	setmode pass
	t_grep "$SV(405) the summary says the upload could not be resumed" \
		"not resumed: 'big.bin' \\(upload $id\\): cannot be resumed: ListParts failed" "$MG_TMP/r.out"
	same r big.bin && t_ok "$SV(405) sent again, byte-identical" || t_fail "$SV(405) sent again"
	[ "$(open_uploads r/)" = 0 ] && t_ok "$SV(405) the unresumable upload was aborted" ||
		t_fail "$SV(405) uploads left open" "$(open_uploads r/)"

	# ---- migrate cleanup ---------------------------------------------------
	mkcase cl
	echo known >"$MG_TMP/cl/src/known.txt"
	t_exit "${SV}cleanup: a first run" 0 "$MIGRATE" --no-progress "$MG_TMP/cl.yaml"
	"${AWS[@]}" s3api create-multipart-upload --bucket "$BUCKET" --key cl/known.txt >/dev/null 2>&1
	"${AWS[@]}" s3api create-multipart-upload --bucket "$BUCKET" --key cl/foreign.bin >/dev/null 2>&1
	[ "$(open_uploads cl/)" = 2 ] && t_ok "${SV}cleanup: two uploads made with the AWS CLI" ||
		t_fail "${SV}cleanup: set-up" "$(open_uploads cl/)"
	t_exit "${SV}cleanup --dry-run" 0 "$MIGRATE" cleanup --dry-run "$MG_TMP/cl.yaml"
	cp "$MG_TMP/.out" "$MG_TMP/cl1.out"
	t_grep "${SV}cleanup --dry-run lists the journal's key" '^would abort +known.txt' "$MG_TMP/cl1.out"
	t_grep "${SV}cleanup --dry-run lists the foreign upload" '^left +foreign.bin .*--all' "$MG_TMP/cl1.out"
	[ "$(open_uploads cl/)" = 2 ] && t_ok "${SV}cleanup --dry-run aborts nothing" ||
		t_fail "${SV}cleanup --dry-run aborted" "$(open_uploads cl/)"
	t_exit "${SV}cleanup" 0 "$MIGRATE" cleanup "$MG_TMP/cl.yaml"
	cp "$MG_TMP/.out" "$MG_TMP/cl2.out"
	t_grep "${SV}cleanup aborts what looks like migrate's" '^aborted +known.txt' "$MG_TMP/cl2.out"
	uploads cl/ >"$MG_TMP/cl.left" 2>&1
	t_grep "${SV}cleanup without --all leaves only the foreign upload" '^cl/foreign.bin ' "$MG_TMP/cl.left"
	[ "$(wc -l <"$MG_TMP/cl.left")" = 1 ] && t_ok "${SV}cleanup: one upload left" ||
		t_fail "${SV}cleanup: uploads left" "$(cat "$MG_TMP/cl.left")"
	t_exit "${SV}cleanup --all" 0 "$MIGRATE" cleanup --all "$MG_TMP/cl.yaml"
	cp "$MG_TMP/.out" "$MG_TMP/cl3.out"
	t_grep "${SV}cleanup --all aborts the foreign upload and says so" \
		'^aborted +foreign.bin .*not migrate' "$MG_TMP/cl3.out"
	[ "$(open_uploads cl/)" = 0 ] && t_ok "${SV}cleanup --all: zero open uploads" ||
		t_fail "${SV}cleanup --all: uploads left open" "$(open_uploads cl/)"
	t_exit "${SV}cleanup --all goes with cleanup only" 2 "$MIGRATE" --all "$MG_TMP/cl.yaml"
}

SV="rgw: "
all_cases 1

# The same against moto, the second S3 implementation, where the checkout
# has tools/lib/moto.sh and this Python has moto.
if [ -f "$MG_SRCDIR/tools/lib/moto.sh" ]; then
	. "$MG_SRCDIR/tools/lib/moto.sh"
	if moto_available; then
		main_tmp=$MG_TMP
		MG_TMP=$MG_TMP/moto-pass
		mkdir -p "$MG_TMP"
		cp "$main_tmp/proxy.py" "$main_tmp/s3q.py" "$MG_TMP/"
		t_need_moto
		moto_env
		s3_cli
		if s3_new_bucket BUCKET mg-open-moto; then
			start_proxy
			SV="moto: "
			# moto answers ListParts with ListPartsResponse: read
			# by element names below the root, resume works there too
			all_cases 1
		else
			t_fail "moto: create bucket"
		fi
		MG_TMP=$main_tmp
	else
		t_skip "moto: the same cases" "$MOTO_MISSING"
	fi
else
	t_skip "moto: the same cases" "tools/lib/moto.sh is not in this checkout"
fi
t_done
