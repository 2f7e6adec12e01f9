#!/usr/bin/env bash
# Corruption in flight, against Ceph RGW: a proxy on loopback flips one
# byte in the body of one single PUT and of one UploadPart after migrate
# hashed them.  The server must refuse each through its per-part check
# (Content-MD5 -> BadDigest, or a signed x-amz-content-sha256 ->
# XAmzContentSHA256Mismatch; which one is the connector's business, so any
# 4xx counts), migrate must send them again and exit 0, and what is stored
# must be the source's bytes: read back by the AWS CLI, single-PUT ETag =
# MD5 of the file, multipart ETag = MD5 of the part MD5s, no upload left
# open.  The proxy corrupts the first such request per object only, so the
# retry goes through unchanged whether it reuses the upload or starts anew.
# When the plan knows the target key content_md5, a second target uses it,
# so both kinds of check are exercised in the same run.
. "$MG_SRCDIR/tests/lib.sh"

[ -n "${MG_S3_ENDPOINT:-}" ] || t_skip_all "MG_S3_ENDPOINT is not set (tools/lib/s3server.sh starts a server)"
[ -x "$MIGRATE" ] || t_skip_all "migrate is not built: $MIGRATE"
[ -x /usr/bin/aws ] || t_skip_all "/usr/bin/aws is missing: apt-get install awscli"
command -v python3 >/dev/null || t_skip_all "python3 is missing"

cat >"$MG_TMP/proxy.py" <<'PY'
import re, socketserver, sys, threading
from urllib.parse import urlsplit, parse_qs
from httprelay import forward, read_request, serve_handler, with_close

up_host, up_port, log_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
victim, victim_part = sys.argv[4].encode(), sys.argv[5]
lock = threading.Lock()
done = set()		# (kind, path) already corrupted; kind is "put" or "part"
logf = open(log_path, "a", buffering=1)

def kind_of(line, body):
    """'put', 'part' or None: which watched request this is, and its path."""
    parts = line.split(b" ")
    if len(parts) < 2 or parts[0] != b"PUT" or not body:
        return None, None
    u = urlsplit(parts[1].decode())
    q = parse_qs(u.query, keep_blank_values=True)
    if "uploadId" in q:
        return ("part" if q.get("partNumber") == [victim_part] else None), u.path
    return ("put" if u.path.encode().endswith(b"/" + victim) else None), u.path

def checks(head):
    """Which per-part checks the request carried (for the log)."""
    have = []
    for l in head.split(b"\r\n")[1:]:
        k, _, v = l.partition(b":")
        k, v = k.strip().lower(), v.strip()
        if k == b"content-md5":
            have.append("content-md5")
        elif k == b"x-amz-content-sha256":
            have.append("sha256=" + (v.decode() if not re.fullmatch(rb"[0-9a-f]{64}", v) else "hex"))
    return ",".join(have) or "none"

class H(socketserver.StreamRequestHandler):
    def handle(self):
        req = read_request(self.rfile)
        if req is None:
            return
        head, body = req
        line = head.split(b"\r\n", 1)[0]
        kind, path = kind_of(line, body)
        tag = None
        if kind:
            with lock:
                if (kind, path) in done:
                    tag = "again-" + kind
                else:
                    done.add((kind, path))
                    tag = "corrupt-" + kind
            if tag.startswith("corrupt"):
                b = bytearray(body)
                b[len(b) // 2] ^= 0xFF
                body = bytes(b)
        rhead, rbody = forward(up_host, up_port, head, body)
        self.wfile.write(with_close(rhead) + rbody)
        if tag:
            status = rhead.split(b"\r\n", 1)[0].split(b" ")[1].decode() if rhead else "none"
            m = re.search(rb"<Code>([^<]*)</Code>", rbody)
            code = m.group(1).decode() if m else "-"
            logf.write("%s %s %s %s %s %s\n" % (tag, status, code, checks(head),
                                               len(body), line.decode()))
            if tag.startswith("corrupt"):
                # the request's headers, so a body the server took can be
                # reported precisely (the signature is no secret but is noise)
                for l in head.split(b"\r\n")[1:]:
                    if l and not l.lower().startswith(b"authorization:"):
                        logf.write("  header %s\n" % l.decode())

serve_handler(H)
PY


LOG=$MG_TMP/proxy.log
: >"$LOG"
up=${MG_S3_ENDPOINT#http://}
t_start_helper PORT "$MG_TMP/proxy.port" python3 "$MG_TMP/proxy.py" "${up%:*}" "${up##*:}" "$LOG" victim.bin 2 ||
	{ t_fail "proxy starts" "$(cat "$MG_TMP/proxy.port.err")"; t_done; }

s3_cli
s3_new_bucket BUCKET mg-corrupt || { t_fail "create bucket"; t_done; }

# distinct random content, so dedupe copies nothing and every file is a PUT
S=$MG_TMP/src
mkdir -p "$S"
NSMALL=6
for i in 1 2 3 4 5; do head -c $((i * 70001)) /dev/urandom >"$S/small $i.bin"; done
head -c 300007 /dev/urandom >"$S/victim.bin"
head -c $((11 * 1024 * 1024 + 5)) /dev/urandom >"$S/big.bin"	# 3 parts of 5 MiB
NPARTS=3

target() {	# target PREFIX [EXTRA-KEY]: one entry of the plan's targets
	# the ${MG_S3_*} stay literal: migrate expands them, so no secret is in the file
	printf '  - url: s3://%s/%s/\n    endpoint: http://127.0.0.1:%s\n' "$BUCKET" "$1" "$PORT"
	printf '    region: ${MG_S3_REGION}\n'
	printf '    access_key_id: ${MG_S3_ACCESS_KEY}\n    secret_access_key: ${MG_S3_SECRET_KEY}\n'
	[ $# -gt 1 ] && printf '    %s\n' "$2"
	return 0
}
plan() {	# plan TARGET-LINES...: the plan on standard output
	printf 'version: 1\nname: corrupt\nsource: %s\njournal: %s\ntargets:\n' "$S" "$MG_TMP/journal"
	printf '%s\n' "$@"
	printf 'transfer:\n  multipart_threshold: 5MiB\n  part_size: 5MiB\n  concurrency: 4\n'
}
# default: whatever check the connector uses by default; md5: Content-MD5
# asked for by the plan, where this build knows the key
PREFIXES=(default)
plan "$(target default)" "$(target md5 'content_md5: true')" >"$MG_TMP/plan.yaml"
if "$MIGRATE" check "$MG_TMP/plan.yaml" >"$MG_TMP/check.out" 2>&1; then
	PREFIXES+=(md5)
elif grep -q content_md5 "$MG_TMP/check.out"; then
	echo "# this build has no content_md5 target key: one target, default check"
	plan "$(target default)" >"$MG_TMP/plan.yaml"
else
	t_fail "migrate check accepts the plan" "$(head -5 "$MG_TMP/check.out")"
	t_done
fi

"$MIGRATE" --json --no-progress "$MG_TMP/plan.yaml" >"$MG_TMP/run.json" 2>"$MG_TMP/run.err"
rc=$?
echo "# proxy log (tag, status, error code, checks sent, body bytes, request line):"
sed 's/^/#   /' "$LOG"

# log_has TAG PREFIX STATUS-REGEX: a proxy log line for that object
log_has() {
	awk -v t="$1" -v p="/$BUCKET/$2/" -v s="$3" \
		'$1 == t && index($7, p) == 1 && $2 ~ s { f = 1 } END { exit !f }' "$LOG"
}
# log_field TAG PREFIX: "status code (checks: ...)" of the corrupted request
log_field() {
	awk -v t="$1" -v p="/$BUCKET/$2/" \
		'$1 == t && index($7, p) == 1 { print $2 " " $3 " (checks: " $4 ")"; exit }' "$LOG"
}

for p in "${PREFIXES[@]}"; do
	for k in put part; do
		what="$p/: the corrupted $([ $k = put ] && echo 'single PUT' || echo UploadPart)"
		st=$(log_field "corrupt-$k" "$p")
		case $st in
		4[0-9][0-9]\ *) t_ok "$what was refused: $st" ;;
		"") t_fail "$what was refused" "the proxy saw no such request" ;;
		*) t_fail "$what was refused" \
			"the server ACCEPTED a corrupted body: $st; request line and headers in the proxy log above" ;;
		esac
		log_has "again-$k" "$p" '^2' && t_ok "$what was sent again and stored" ||
			t_fail "$what was sent again and stored" "no 2xx resend in the proxy log"
	done
	if [ "$p" = md5 ]; then
		awk -v p="/$BUCKET/md5/" '$1 ~ /^corrupt-/ && index($7, p) == 1 {
			n++; if ($4 ~ /content-md5/) m++ } END { exit !(n == 2 && m == 2) }' "$LOG" &&
			t_ok "md5/: the corrupted requests carried Content-MD5" ||
			t_fail "md5/: the corrupted requests carried Content-MD5" "see the proxy log"
	fi
done

if [ "$rc" -eq 0 ]; then
	t_ok "migrate exits 0 after the retries"
else
	t_fail "migrate exits 0 after the retries" "exit $rc"
	sed 's/^/#   /' "$MG_TMP/run.err" | head -20
fi

# read back from the server itself, not through the proxy
t_check "the aws cli reads the objects back" \
	"${AWS[@]}" s3 cp --recursive "s3://$BUCKET/" "$MG_TMP/back"
"${AWS[@]}" s3api list-objects-v2 --bucket "$BUCKET" --query 'Contents[].[Key,ETag]' \
	--output text >"$MG_TMP/etags" 2>&1
# ETags are the server's digests of what it stored: a single PUT's is the
# MD5 of the body, a multipart object's the MD5 of its parts' MD5s
md5_victim=$(md5sum <"$S/victim.bin" | cut -d' ' -f1)
md5_big=$(python3 -c 'import hashlib,sys
f=open(sys.argv[1],"rb"); d=b""; n=0
while True:
    b=f.read(5*1024*1024)
    if not b: break
    d+=hashlib.md5(b).digest(); n+=1
print("%s-%d" % (hashlib.md5(d).hexdigest(), n))' "$S/big.bin")
etag() { awk -v k="$1" '$1 == k { gsub(/"/, "", $2); print $2 }' "$MG_TMP/etags"; }
for p in "${PREFIXES[@]}"; do
	t_same_tree "$p/: every object is byte-identical to its source" "$S" "$MG_TMP/back/$p"
	got=$(etag "$p/victim.bin")
	[ "$got" = "$md5_victim" ] && t_ok "$p/: victim.bin's ETag is the MD5 of the source" ||
		t_fail "$p/: victim.bin's ETag is the MD5 of the source" "etag '$got', md5 $md5_victim"
	got=$(etag "$p/big.bin")
	[ "$got" = "$md5_big" ] && t_ok "$p/: big.bin's ETag is that of the source's parts" ||
		t_fail "$p/: big.bin's ETag is that of the source's parts" "etag '$got', want $md5_big"
done

open=$("${AWS[@]}" s3api list-multipart-uploads --bucket "$BUCKET" --output json 2>&1 |
	python3 -c 'import json,sys
t=sys.stdin.read().strip()
print(len(json.loads(t).get("Uploads", [])) if t else 0)' 2>&1)
[ "$open" = 0 ] && t_ok "no multipart upload is left open" ||
	t_fail "no multipart upload is left open" "list-multipart-uploads: $open"

# The summary has no retry counter, but it counts every request sent, so
# each resend shows as one request more than the objects need.
python3 -c 'import json,sys
j=json.load(open(sys.argv[1]))
for t in j["targets"]:
    r=t["counters"]["requests"]
    print(t["url"], r["put"], r["upload_part"], t["failed"]["objects"], json.dumps(t["failures"]))
' "$MG_TMP/run.json" >"$MG_TMP/summary" 2>&1 ||
	{ t_fail "migrate --json prints a summary" "$(head -c 300 "$MG_TMP/run.json")"; t_done; }
for p in "${PREFIXES[@]}"; do
	read -r _ puts parts failed failures < <(grep "^s3://$BUCKET/$p/ " "$MG_TMP/summary")
	[ "${puts:-0}" -ge $((NSMALL + 1)) ] && [ "${parts:-0}" -ge $((NPARTS + 1)) ] &&
		t_ok "$p/: the summary counts the resent requests (put $puts, upload_part $parts)" ||
		t_fail "$p/: the summary counts the resent requests" \
			"put '$puts' (want >= $((NSMALL + 1))), upload_part '$parts' (want >= $((NPARTS + 1)))"
	[ "$failed" = 0 ] && t_ok "$p/: the summary reports no failed object" ||
		t_fail "$p/: the summary reports no failed object" "failed '$failed': $failures"
done
t_done
