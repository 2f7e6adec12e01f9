#!/usr/bin/env bash
# migrate probe against Ceph RGW:
#   - the part-size search (straight to RGW, --bytes 128MiB): two sizes (8
#     and 16 MiB) compared on one 32 MiB multipart object each; a probe
#     killed (kill -9) right after those two objects are complete leaves
#     them on the server, where their ETags say 4 and 2 parts; the next
#     probe removes what the killed one left, reports its own search (the
#     best size the fastest pass's, printed) and leaves no object and no
#     upload behind
#   - the probe's own cost (through a proxy that logs every request,
#     tests/faultproxy.py, each method held 1 us so that each is noted;
#     --bytes 4MiB: no part search, whose big bodies that proxy relays
#     slowly): the requests it reports at the target are exactly those the
#     proxy saw, and its dollars are those requests at the table's prices
#     for the plan's provider (aws-s3: PUT, POST and LIST at $0.005 per
#     1,000, GET and HEAD at $0.0004, DELETE free), in --json and printed
#   - the projection's bill: the move is `migrate estimate --json`'s total
#     for the same plan, the probe's cost a line of it, total = move +
#     probe (within 1e-9), printed and in --json
#   - the part size: the run uses the plan's; the projection and the
#     estimate say so when the probe found another faster (a hint with the
#     date, text and --json), and estimate counts UploadParts at the plan's
#     size; no hint when the plan has the probe's size or sends no part
#   - --html: a well-formed page (xmllint --html, and every element
#     closed in order) with the part sizes, the cost and the bill
# tools/test: alone (it times writes)
. "$MG_SRCDIR/tests/lib.sh"
t_need_s3 BUCKET mg-probeparts
command -v python3 >/dev/null || t_skip_all "python3 is missing"
SRC=$MG_TMP/src
mkdir -p "$SRC"
for i in $(seq 1 40); do head -c 262144 /dev/urandom >"$SRC/f$i.bin"; done
T_S3_PROVIDER=aws-s3 t_s3_plan "$MG_TMP/direct.yaml" probeparts "$SRC" "s3://$BUCKET/data/" \
	"$MG_TMP/journal" 'transfer: { concurrency: 2 }'
keys() { "${AWS[@]}" s3api list-objects-v2 --bucket "$BUCKET" --query 'length(Contents || `[]`)'; }
uploads() { "${AWS[@]}" s3api list-multipart-uploads --bucket "$BUCKET" --query 'length(Uploads || `[]`)'; }

# --- the part sizes, straight to RGW: killed once both multipart objects
# are complete (the three concurrency passes write 86 objects of the
# sample's 256 KiB each, 64 MiB / 3 per pass; the two multipart objects
# are writes 259 and 260)
MG_TEST_KILL_AFTER=probe:260 "$MIGRATE" probe --bytes 128MiB --prefix k/ "$MG_TMP/direct.yaml" \
	>"$MG_TMP/k.out" 2>&1
t_is "a probe killed after its multipart objects dies by SIGKILL" 137 "$?"
"${AWS[@]}" s3api list-objects-v2 --bucket "$BUCKET" --prefix data/k/ \
	--query 'Contents[?Size==`33554432`].ETag' --output text >"$MG_TMP/etags" 2>&1
t_is "the server holds them: 32 MiB in 4 parts and in 2 (their ETags)" "-2 -4" \
	"$(tr '\t' '\n' <"$MG_TMP/etags" | sed 's/.*\(-[0-9]*\)"$/\1/' | sort | tr '\n' ' ' | sed 's/ $//')"

# the next probe: removes what the killed one left, then its own search
"$MIGRATE" probe --bytes 128MiB --json --html "$MG_TMP/probe.html" "$MG_TMP/direct.yaml" \
	>"$MG_TMP/p.json" 2>"$MG_TMP/p.err"
rc=$?
[ $rc -eq 0 ] && t_ok "the next probe exits 0" || t_fail "the next probe exits 0" "exit $rc: $(tail -5 "$MG_TMP/p.err")"
t_grep "and removes what the killed one left" "an earlier probe did not finish: removed the 260 objects it left under 'k/'" \
	"$MG_TMP/p.err"
grep -E '^  (write at|parts of)' "$MG_TMP/p.err" | sed 's/^/# /'
J=$MG_TMP/p.json
t_is "two part sizes compared" "8388608 16777216" \
	"$(jq -r '[.targets[0].part_sizes[].part_size] | join(" ")' "$J")"
t_is "one 32 MiB object each" "1 1 33554432 33554432" \
	"$(jq -r '[.targets[0].part_sizes[] | .objects] + [.targets[0].part_sizes[] | .bytes] | join(" ")' "$J")"
written=$(jq '[.targets[0].write[].bytes, .targets[0].part_sizes[].bytes] | add' "$J")
[ "$written" -le $((128 << 20)) ] && t_ok "within --bytes ($written bytes)" ||
	t_fail "within --bytes" "$written bytes"
t_is "the probe counted 2 creates, 4 + 2 parts, 2 completes" "2 6 2" \
	"$(jq -r '.cost.targets[0].counted.requests | "\(.create_multipart) \(.upload_part) \(.complete_multipart)"' "$J")"
best=$(jq -r '.targets[0].part_sizes | max_by(.bytes_per_s) | .part_size' "$J")
t_is "the best part size is the fastest pass's" "$best" "$(jq -r '.targets[0].best_part_size' "$J")"
t_grep "and it is said" "part size (8|16)\.0 MiB wrote fastest \(the plan has " "$MG_TMP/p.err"
t_is "no object left" 0 "$(keys)"
t_is "no multipart upload left open" 0 "$(uploads)"

# the projection's bill: the move as `migrate estimate` prices the same
# plan, this probe's cost as a line of it, and the total
"$MIGRATE" estimate --json "$MG_TMP/direct.yaml" >"$MG_TMP/e.json" 2>"$MG_TMP/e.err" ||
	t_fail "estimate --json on the plan" "$(tail -3 "$MG_TMP/e.err")"
close() {	# close WHAT A B: |A - B| < 1e-9
	awk -v a="$2" -v b="$3" 'BEGIN { d = a - b; exit !(a != "" && b != "" && d < 1e-9 && d > -1e-9) }' &&
		t_ok "$1 ($2)" || t_fail "$1" "$2 against $3"
}
move=$(jq -r '.projection.bill.move_usd' "$J")
close "the bill's move is estimate --json's total for the plan" "$move" \
	"$(jq -r '.scenarios[0].cost_usd.total' "$MG_TMP/e.json")"
awk -v m="$move" 'BEGIN { exit !(m > 0) }' && t_ok "and the move costs something (\$$move)" ||
	t_fail "and the move costs something" "$move"
close "the bill's probe line is the probe's cost" "$(jq -r '.projection.bill.probe_usd' "$J")" \
	"$(jq -r '.cost.usd' "$J")"
close "total = move + probe" "$(jq -r '.projection.bill.total_usd' "$J")" \
	"$(jq -r '.projection.bill.move_usd + .cost.usd' "$J")"
t_is "the estimate's whole report is in it" "$(jq -c .scenarios[0].counts "$MG_TMP/e.json")" \
	"$(jq -c .projection.bill.estimate.scenarios[0].counts "$J")"
t_grep "the bill is printed: the move" "^  the move, as .migrate estimate. prices it +[0-9.,<]+$" "$MG_TMP/p.err"
t_grep "the probe (with the LIST pages of the estimate walk)" "^  this probe \(its listing for the estimate in it\) +[0-9.,<]+$" "$MG_TMP/p.err"
t_grep "and the total" "^  total +[0-9.,<]+$" "$MG_TMP/p.err"

# --- the part size the run uses: the plan's, not the probe's (the
# estimate counts UploadParts at it and says what the probe found, dated)
if [ "$best" = 16777216 ]; then
	t_check "the projection names no other part size (the probe's best is the plan's)" \
		sh -c "! grep -q 'found part_size' '$MG_TMP/p.err'"
else
	t_grep "the projection says the run sends the plan's parts, not the probe's" \
		"the run sends parts of 16\.0 MiB \(transfer\.part_size\); the probe found part_size 8\.0 MiB faster" \
		"$MG_TMP/p.err"
fi
BIG=$MG_TMP/big
mkdir -p "$BIG"
head -c $((40 << 20)) /dev/zero >"$BIG/forty.bin"
hint_plan() {	# hint_plan FILE PART_SIZE: the probed target and journal, a 40 MiB file
	T_S3_PROVIDER=aws-s3 t_s3_plan "$1" probeparts "$BIG" "s3://$BUCKET/data/" "$MG_TMP/journal" \
		"transfer: { concurrency: 2, part_size: $2, multipart_threshold: 5MiB }"
}
hint_plan "$MG_TMP/big32.yaml" 32MiB
"$MIGRATE" estimate --json "$MG_TMP/big32.yaml" >"$MG_TMP/h.json" 2>"$MG_TMP/h.err" ||
	t_fail "estimate --json (part_size 32MiB)" "$(tail -3 "$MG_TMP/h.err")"
t_is "estimate: the run's part size is the plan's, the probe's best beside it" "33554432 $best" \
	"$(jq -r '.scenarios[0].part_size | "\(.used) \(.probe_best)"' "$MG_TMP/h.json")"
t_is "UploadParts counted at the plan's size (40 MiB in 32 MiB parts)" 2 \
	"$(jq -r '.scenarios[0].requests.target.upload_part' "$MG_TMP/h.json")"
t_check "the hint names the probe's size and its date" jq -e --arg b "$(( best >> 20 )).0 MiB" \
	'.scenarios[0].part_size | (.measured_at | type) == "number" and (.hint | test("^probe found part_size " + $b + " faster \\(measured 20[0-9-]+ [0-9:]+ UTC\\); set transfer.part_size to use it"))' \
	"$MG_TMP/h.json"
"$MIGRATE" estimate "$MG_TMP/big32.yaml" >"$MG_TMP/h.txt" 2>&1
t_grep "and the text says it" "^hint: probe found part_size $(( best >> 20 ))\.0 MiB faster \(measured 20" "$MG_TMP/h.txt"
hint_plan "$MG_TMP/bigbest.yaml" "$best"
"$MIGRATE" estimate --json "$MG_TMP/bigbest.yaml" >"$MG_TMP/hb.json" 2>"$MG_TMP/hb.err"
t_is "the plan set to the probe's size: no hint, parts at it" "null $(( ((40 << 20) + best - 1) / best ))" \
	"$(jq -r '.scenarios[0] | "\(.part_size.hint) \(.requests.target.upload_part)"' "$MG_TMP/hb.json")"
t_is "a move that sends no part: no hint" "null $best" \
	"$(jq -r '.scenarios[0].part_size | "\(.hint) \(.probe_best)"' "$MG_TMP/e.json")"

# --- the cost, through the proxy that notes every request
rule=()
for m in GET HEAD PUT POST DELETE; do rule+=(--delay-rule "$m:0.000001:1"); done
t_start_helper PORT "$MG_TMP/proxy.port" python3 "$MG_SRCDIR/tests/faultproxy.py" \
	--upstream "$MG_S3_ENDPOINT" --log "$MG_TMP/proxy.log" "${rule[@]}" ||
	{ t_fail "start the proxy" "$(cat "$MG_TMP/proxy.port.err")"; t_done; }
T_S3_ENDPOINT=http://127.0.0.1:$PORT T_S3_PROVIDER=aws-s3 \
	t_s3_plan "$MG_TMP/proxied.yaml" probeparts "$SRC" "s3://$BUCKET/data/" "$MG_TMP/journal2" \
	'transfer: { concurrency: 2 }'
"$MIGRATE" probe --bytes 4MiB --json "$MG_TMP/proxied.yaml" >"$MG_TMP/c.json" 2>"$MG_TMP/c.err"
t_is "the probe through the proxy exits 0" 0 "$?"
C=$MG_TMP/c.json
# the proxy's log: "delay-rule METHOD TARGET", one line per request
L=$MG_TMP/proxy.log
seen=$(grep -c '^delay-rule ' "$L")
t_is "the probe's count of its requests at the target is the proxy's ($seen)" "$seen" \
	"$(jq -r '.cost.targets[0].counted.total' "$C")" ||
	{ jq -c '.cost.targets[0].counted.requests' "$C"; awk '{ print $2 }' "$L" | sort | uniq -c; } |
	sed 's/^/#   /'
t_is "a local source costs nothing" 0 "$(jq -r '[.cost.targets[0].bill.items[] | select(.component | test("egress|retrieval|source")) | .usd] | add // 0' "$C")"
want=$(awk '$1 == "delay-rule" {
	if ($2 == "PUT" || $2 == "POST" || ($2 == "GET" && $3 ~ /[?&](list-type|uploads|prefix)/)) t1++
	else if ($2 == "GET" || $2 == "HEAD") t2++ }
	END { printf "%.9f", t1 * 0.005 / 1000 + t2 * 0.0004 / 1000 }' "$L")
got=$(jq -r '.cost.usd' "$C")
awk -v a="$want" -v b="$got" 'BEGIN { d = a - b; exit !(d < 1e-9 && d > -1e-9 && a > 0) }' &&
	t_ok "its cost is those requests at aws-s3 prices (\$$want)" ||
	t_fail "its cost is those requests at aws-s3 prices" "want $want, got $got"
t_grep "and it is printed" "^probe cost: \\\$[0-9.<]+ for its [0-9]+ requests" "$MG_TMP/c.err"

# --html
# libxml2's parser is HTML 4: it knows no HTML 5 element (main, footer,
# details, summary, svg); anything else it says is a fault
xmllint --html --noout "$MG_TMP/probe.html" 2>&1 |
	grep -Ev 'Tag (main|footer|details|summary|svg|rect|text|title) invalid' |
	grep 'error' >"$MG_TMP/xmllint.err"
if [ ! -s "$MG_TMP/xmllint.err" ]; then
	t_ok "--html: xmllint --html finds nothing wrong"
else
	t_fail "--html: xmllint --html finds nothing wrong" "$(head -3 "$MG_TMP/xmllint.err")"
fi
out=$(python3 - "$MG_TMP/probe.html" <<'PY'
import sys
from html.parser import HTMLParser
VOID = {"meta", "br", "rect", "hr", "img", "input", "link"}
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.stack = []; self.bad = None
    def handle_starttag(self, t, a):
        if t not in VOID: self.stack.append(t)
    def handle_startendtag(self, t, a): pass
    def handle_endtag(self, t):
        if t in VOID: return
        if not self.stack or self.stack[-1] != t:
            self.bad = self.bad or "</%s> closes <%s>" % (t, self.stack[-1] if self.stack else "")
        else: self.stack.pop()
p = P(); p.feed(open(sys.argv[1], encoding="utf-8").read()); p.close()
print(p.bad or ("unclosed: %s" % p.stack if p.stack else "ok"))
PY
)
t_is "--html: every element is closed in order" ok "$out"
t_grep "--html: the part sizes are on the page" "parts of 16\.0 MiB" "$MG_TMP/probe.html"
t_grep "--html: the plan's bill with the probe" "the plan&#39;s bill, with the probe|the plan's bill, with the probe" "$MG_TMP/probe.html"
t_grep "--html: and the probe's cost" "the probe&#39;s own cost|the probe's own cost" "$MG_TMP/probe.html"

t_done
