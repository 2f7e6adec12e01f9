#!/usr/bin/env bash
# Tiering rules (issue 15.3) and the audit trail's class and encryption
# (15.6), on moto: each rule's class rides on the request the run makes
# anyway (PUT, CreateMultipartUpload) and is read back with `aws s3api
# head-object` (StorageClass); a rule change makes the next run re-class
# what now falls under another class by a server-side copy onto itself
# (x-amz-copy-source = the same key, metadata and tagging kept), counted in
# --json, with not one PUT body byte sent again (counted at a relay in
# front of the server); `estimate --json` counts the re-class copies and
# prices each class on its own line; a class the provider does not have
# is refused by `check` and `estimate` with the rule's FILE:LINE:COL.
#
# Why moto and not Ceph RGW: RGW takes only the storage classes of its
# zonegroup's placement target (STANDARD unless one is added with
# `radosgw-admin zonegroup placement add --rgw-zonegroup default
# --placement-id default-placement --storage-class COLD` and `zone
# placement add ... --storage-class COLD --data-pool ...`), and a running
# radosgw reads its zonegroup at start: adding a class means restarting
# the gateway every other test script shares, which a test must not do.
# moto keeps the classes AWS has (STANDARD_IA, ONEZONE_IA, GLACIER_IR, ...).
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tools/lib/moto.sh"

[ -x "$MIGRATE" ] || t_skip_all "migrate is not built"
[ -x /usr/bin/aws ] || t_skip_all "/usr/bin/aws is missing: apt-get install awscli"
command -v python3 >/dev/null || t_skip_all "python3 is missing"
t_moto_s3
s3_new_bucket BUCKET mg-tier || { t_fail "create bucket"; t_done; }

# A relay that logs each request: method, path, body bytes, its
# x-amz-storage-class and x-amz-copy-source.
cat >"$MG_TMP/relay.py" <<'PY'
import socketserver, sys, threading
from httprelay import forward, header, read_request, serve_handler, with_close

up_host, up_port, log_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()

class H(socketserver.StreamRequestHandler):
    def handle(self):
        req = read_request(self.rfile)
        if req is None:
            return
        head, body = req
        line = head.split(b"\r\n", 1)[0].decode().split(" ")
        rhead, rbody = forward(up_host, up_port, head, body)
        self.wfile.write(with_close(rhead) + rbody)
        with lock, open(log_path, "a") as f:
            f.write("%s %s %d %s %s\n" % (line[0], line[1].split("?")[0], len(body),
                    header(head, b"x-amz-storage-class"), header(head, b"x-amz-copy-source")))

serve_handler(H)
PY
LOG=$MG_TMP/relay.log
: >"$LOG"
up=${MG_S3_ENDPOINT#http://}
t_start_helper PORT "$MG_TMP/relay.port" python3 "$MG_TMP/relay.py" "${up%:*}" "${up##*:}" "$LOG" ||
	{ t_fail "relay starts" "$(cat "$MG_TMP/relay.port.err")"; t_done; }

S=$MG_TMP/src
mkdir -p "$S/m/ckpt" "$S/raw" "$S/notes"
head -c 3000 /dev/urandom >"$S/m/ckpt/old.pt"
touch -d '200 days ago' "$S/m/ckpt/old.pt"
head -c 3001 /dev/urandom >"$S/m/ckpt/new.pt"
head -c $((6 * 1024 * 1024)) /dev/urandom >"$S/raw/big.bin"	# multipart
head -c 2000 /dev/urandom >"$S/notes/a.txt"
head -c 2001 /dev/urandom >"$S/other.dat"

plan() {	# plan NAME RULES: the plan, through the relay
	cat >"$MG_TMP/$1.yaml" <<EOF
version: 1
name: tier
source: $S
target:
  url: s3://$BUCKET/t/
  endpoint: http://127.0.0.1:$PORT
  provider: aws-s3
  region: \${MG_S3_REGION}
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
tags:
  project: corpus
journal: $MG_TMP/journal
transfer: { multipart_threshold: 5MiB, part_size: 5MiB }
tiering:
$2
EOF
}
# The AWS CLI takes seconds to start on a busy machine: the classes of
# every object come from one ListObjectsV2 (its StorageClass), and one
# head-object per phase shows HEAD says the same.
classes() {	# classes PHASE: "key class" lines into $MG_TMP/classes-PHASE
	"${AWS[@]}" s3api list-objects-v2 --bucket "$BUCKET" --prefix t/ \
		--query 'Contents[].[Key, StorageClass]' --output text >"$MG_TMP/classes-$1" 2>&1
}
is_class() {	# is_class PHASE KEY WANT
	local got
	got=$(awk -v k="t/$2" '$1 == k { print $2 }' "$MG_TMP/classes-$1")
	[ "$got" = "$3" ] && t_ok "$1: $2 is $3" || t_fail "$1: $2 is $3" "got '$got': $(cat "$MG_TMP/classes-$1")"
}
tier_tag() {	# the tag 'tier' of notes/a.txt
	"${AWS[@]}" s3api get-object-tagging --bucket "$BUCKET" --key t/notes/a.txt \
		--query "TagSet[?Key=='tier'].Value | [0]" --output text 2>&1
}
head_class() {	# head_class PHASE KEY WANT: as head-object says ("None": STANDARD)
	local got
	got=$("${AWS[@]}" s3api head-object --bucket "$BUCKET" --key "t/$2" \
		--query StorageClass --output text 2>&1)
	[ "$got" = "$3" ] && t_ok "$1: head-object says $2 is $3" || t_fail "$1: head-object $2 is $3" "got '$got'"
}

plan v1 '  - { match: "**/ckpt/**", older_than: 90d, class: GLACIER_IR }
  - { min_size: 5MiB, class: STANDARD_IA }
  - { match: "*.txt", class: ONEZONE_IA, tags: { tier: cold } }'
t_exit "check accepts the tiering rules" 0 "$MIGRATE" check "$MG_TMP/v1.yaml"

# estimate before anything moved: per-class lines
"$MIGRATE" estimate --json "$MG_TMP/v1.yaml" >"$MG_TMP/est1.json" 2>"$MG_TMP/est1.err" ||
	t_fail "estimate v1" "$(head -5 "$MG_TMP/est1.err")"
got=$(jq -r '.scenarios[0].classes | sort_by(.class) | map("\(.class)=\(.objects)") | join(" ")' "$MG_TMP/est1.json" 2>&1)
[ "$got" = "GLACIER_IR=1 ONEZONE_IA=1 STANDARD=2 STANDARD_IA=1" ] &&
	t_ok "estimate --json: objects per class" || t_fail "estimate --json: objects per class" "$got"
got=$(jq -r '.scenarios[0].classes[] | select(.class == "GLACIER_IR") | "\(.min_days) \(.min_object_bytes) \(.padding_bytes) \(.retrieval_usd_per_gb)"' "$MG_TMP/est1.json" 2>&1)
[ "$got" = "90 131072 128072 0.03" ] && t_ok "estimate --json: GLACIER_IR's minimum duration, minimum size, storage and retrieval price" ||
	t_fail "estimate --json: GLACIER_IR line" "$got"

t_exit "run v1" 0 "$MIGRATE" --json -q --log-json "$MG_TMP/ev1.log" "$MG_TMP/v1.yaml"
cp "$MG_TMP/.out" "$MG_TMP/run1.json"
classes v1
is_class v1 m/ckpt/old.pt GLACIER_IR
is_class v1 m/ckpt/new.pt STANDARD
is_class v1 raw/big.bin STANDARD_IA
is_class v1 notes/a.txt ONEZONE_IA
is_class v1 other.dat STANDARD
head_class v1 m/ckpt/old.pt GLACIER_IR
grep -q '^POST /'"$BUCKET"'/t/raw/big.bin [0-9]* STANDARD_IA' "$LOG" &&
	t_ok "v1: the class rides on CreateMultipartUpload" || t_fail "v1: class on CreateMultipartUpload" "$(grep big.bin "$LOG" | head -3)"
got=$(tier_tag)
[ "$got" = cold ] && t_ok "v1: the rule's own tag (tier=cold)" || t_fail "v1: the rule's own tag" "$got"
got=$(jq -r 'select(.event == "object") | "\(.key)=\(.storage_class)/\(.encryption)"' "$MG_TMP/ev1.log" 2>&1 | sort | tr '\n' ' ')
[ "$got" = "m/ckpt/new.pt=STANDARD/AES256 m/ckpt/old.pt=GLACIER_IR/AES256 notes/a.txt=ONEZONE_IA/AES256 other.dat=STANDARD/AES256 raw/big.bin=STANDARD_IA/AES256 " ] &&
	t_ok "v1: --log-json records each object's class and encryption" || t_fail "v1: --log-json class and encryption" "$got"
got=$(jq -r '.targets[0].governance | "\(.by_class.GLACIER_IR.objects) \(.by_class.STANDARD.objects) \(.by_encryption.AES256.objects)"' "$MG_TMP/run1.json")
[ "$got" = "1 2 5" ] && t_ok "v1: --json counts objects per class and per encryption" || t_fail "v1: --json per class" "$got"

# rules changed: the checkpoints and the text go to STANDARD_IA, big
# falls to no rule (STANDARD)
plan v2 '  - { match: "**/ckpt/**", older_than: 90d, class: STANDARD_IA }
  - { match: "*.txt", class: STANDARD_IA }'
"$MIGRATE" estimate --json "$MG_TMP/v2.yaml" >"$MG_TMP/est2.json" 2>"$MG_TMP/est2.err" ||
	t_fail "estimate v2" "$(head -5 "$MG_TMP/est2.err")"
got=$(jq -r '.scenarios[0] | "\(.reclassed_objects) \(.requests.target.copy)"' "$MG_TMP/est2.json" 2>&1)
[ "$got" = "3 3" ] && t_ok "estimate v2: 3 re-class copies counted and priced as COPY" || t_fail "estimate v2: re-class copies" "$got"
: >"$LOG"
t_exit "run v2 (rules changed)" 0 "$MIGRATE" --json -q --log-json "$MG_TMP/ev2.log" "$MG_TMP/v2.yaml"
cp "$MG_TMP/.out" "$MG_TMP/run2.json"
got=$(jq -r '.targets[0] | "\(.governance.reclassed_objects) \(.copied.objects) \(.counters.requests.copy)"' "$MG_TMP/run2.json")
[ "$got" = "3 0 3" ] && t_ok "v2: 3 objects re-classed by 3 copies, none copied" || t_fail "v2: re-class counts" "$got"
got=$(awk '$1 == "PUT" { n += $3 } END { print n + 0 }' "$LOG")
[ "$got" = 0 ] && t_ok "v2: no PUT body byte sent again (relay)" || t_fail "v2: no PUT body bytes" "$got bytes: $(cat "$LOG")"
got=$(awk '$1 == "PUT" && $5 != "-" { sub("^/", "", $5); print ($2 == "/" $5) ? "self" : "other" }' "$LOG" | sort | uniq -c | tr -s ' ' | tr '\n' ' ')
[ "$got" = " 3 self " ] && t_ok "v2: each copy is onto the object itself" || t_fail "v2: copies onto themselves" "$got / $(cat "$LOG")"
classes v2
is_class v2 m/ckpt/old.pt STANDARD_IA
is_class v2 raw/big.bin STANDARD
is_class v2 notes/a.txt STANDARD_IA
is_class v2 m/ckpt/new.pt STANDARD
head_class v2 raw/big.bin None
got=$(tier_tag)
[ "$got" = cold ] && t_ok "v2: a re-class keeps the object's tags (tagging directive COPY)" || t_fail "v2: tags kept" "$got"
got=$(jq -r 'select(.event == "object" and .action == "reclassed") | "\(.key)=\(.storage_class)"' "$MG_TMP/ev2.log" 2>&1 | sort | tr '\n' ' ')
[ "$got" = "m/ckpt/old.pt=STANDARD_IA notes/a.txt=STANDARD_IA raw/big.bin=STANDARD " ] &&
	t_ok "v2: --log-json says what was re-classed, to which class" || t_fail "v2: --log-json reclassed" "$got"
t_exit "run v2 again: nothing to do" 0 "$MIGRATE" --json -q "$MG_TMP/v2.yaml"
got=$(jq -r '.targets[0].governance.reclassed_objects' "$MG_TMP/.out")
[ "$got" = 0 ] && t_ok "v2 again: nothing re-classed twice" || t_fail "v2 again: re-classed" "$got"

# status: each run's objects per class and per encryption, re-classes
t_exit "status --json" 0 "$MIGRATE" status --json "$MG_TMP/v2.yaml"
got=$(jq -r '[.[] | .targets[0].governance | "\(.by_class | to_entries | map("\(.key)=\(.value.objects)") | sort | join(","))/\(.by_encryption.AES256.objects)/\(.reclassed_objects)"] | join(" ")' "$MG_TMP/.out" 2>&1)
[ "$got" = "/null/0 STANDARD=1,STANDARD_IA=2/3/3 GLACIER_IR=1,ONEZONE_IA=1,STANDARD=2,STANDARD_IA=1/5/0" ] &&
	t_ok "status --json: each run's objects per class and per encryption, and its re-classes" || t_fail "status per class" "$got"
t_exit "status" 0 "$MIGRATE" status "$MG_TMP/v2.yaml"
t_grep "status says it in words" "written: class: .*GLACIER_IR 1.*; encryption: AES256 5" "$MG_TMP/.out"
t_exit "lineage" 0 "$MIGRATE" lineage "$MG_TMP/v2.yaml"
got=$(jq -r 'select(.key == "notes/a.txt") | "\(.storage_class) \(.encryption)"' "$MG_TMP/.out" 2>&1)
[ "$got" = "STANDARD_IA AES256" ] && t_ok "lineage records the class and encryption" || t_fail "lineage class" "$got"

# a class the provider does not have: refused with the rule's place
plan bad '  - { match: "*.txt", class: STANDARD_IA }
  - { min_size: 1MiB, class: COLD }'
t_exit "check: a class aws-s3 does not have is refused (exit 2)" 2 "$MIGRATE" check "$MG_TMP/bad.yaml"
t_grep "check names the rule's FILE:LINE:COL" "bad.yaml:17:30: tiering rule 2: unknown storage class 'COLD'" "$MG_TMP/.out"
t_exit "estimate: the same class is refused (exit 2)" 2 "$MIGRATE" estimate "$MG_TMP/bad.yaml"
t_grep "estimate names the rule's FILE:LINE:COL" "bad.yaml:17:30: tiering rule 2: unknown storage class 'COLD'" "$MG_TMP/.out"
t_done
