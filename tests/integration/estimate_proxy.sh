#!/usr/bin/env bash
# `migrate estimate` against an independent count: every request migrate
# sends to Ceph RGW goes through a relay (estimate_count.py) that logs it,
# and the relay's tally of the run, by S3's own request classes and in
# bytes, must equal what `estimate --json` predicted for it.  Cases of
# issue 18: quarantine copies of a sync's deletes (18.5), retries at a
# configured error rate (18.5), dedupe foreseen (18.6).
. "$MG_SRCDIR/tests/lib.sh"

t_need_s3 BUCKET mg-estp
CNT=$MG_SRCDIR/tests/integration/estimate_count.py
LOG=$MG_TMP/requests.jsonl
t_count_relay PORT "$MG_S3_ENDPOINT" "$LOG"
export T_S3_ENDPOINT=http://127.0.0.1:$PORT T_S3_PROVIDER=ceph

# lines LOG: how many requests the relay has logged so far
lines() { wc -l < "$LOG"; }

# match EST.json FROM LABEL: the target requests of the estimate against
# the relay's tally of the requests logged after line FROM, every class,
# and the bytes sent in PUTs and parts against the estimate's
match() {
	python3 "$CNT" tally "$LOG" "$2" > "$MG_TMP/tally.json"
	python3 - "$1" "$MG_TMP/tally.json" <<'PY' > "$MG_TMP/match.out" 2>&1
import json, sys
est = json.load(open(sys.argv[1]))["scenarios"][0]
got = json.load(open(sys.argv[2]))
bad = []
want = {k: v for k, v in est["requests"]["target"].items() if v}
for k in sorted(set(want) | set(got["requests"])):
    if want.get(k, 0) != got["requests"].get(k, 0):
        bad.append("%s: estimate %d, relay %d" % (k, want.get(k, 0), got["requests"].get(k, 0)))
if got["put_bytes"] != est["bytes_written"]:
    bad.append("bytes sent: estimate %d, relay %d" % (est["bytes_written"], got["put_bytes"]))
print("\n".join(bad) if bad else "same: " + json.dumps(got["requests"], sort_keys=True))
sys.exit(1 if bad else 0)
PY
	if [ $? -eq 0 ]; then t_ok "$3"; else t_fail "$3" "$(cat "$MG_TMP/match.out")"; fi
	cat "$MG_TMP/match.out" | sed 's/^/# /'
}

# ---- quarantine copies (18.5) ----
# Only copies below 5 GiB here: the multipart copy above it is proven by
# tests/unit (mg_copy_requests) and, at RGW, by the conformance suite
# with the connector's copy threshold tuned down (cases_s3.c).  A real
# >5 GiB copy cannot be had cheaply: the threshold is migrate's own
# constant (S3_MAX_PUT), not a server setting RGW or moto could lower;
# the test RGW's OSD is a memstore capped at 4 GiB; and S3 has no sparse
# objects, so moto would need the 5 GiB uploaded and held (RAM or disk).
S=$MG_TMP/src
mkdir -p "$S"
for i in $(seq 1 6); do head -c $((i * 1000)) /dev/urandom > "$S/f$i"; done
t_s3_plan "$MG_TMP/q.yaml" est-q "$S" "s3://$BUCKET/q/" "$MG_TMP/j-q" \
	"mode: sync" 'delete: { max_percent: 80, quarantine_prefix: "trash/" }'
t_exit "first sync" 0 "$MIGRATE" --no-progress "$MG_TMP/q.yaml"
rm "$S/f2" "$S/f5"
head -c 777 /dev/urandom > "$S/new1"
t_exit "estimate a sync with quarantined deletes" 0 "$MIGRATE" estimate --json "$MG_TMP/q.yaml"
cp "$MG_TMP/.out" "$MG_TMP/est-q.json"
[ "$(json_get "$MG_TMP/est-q.json" scenarios.0.requests.target.copy)" = 2 ] &&
[ "$(json_get "$MG_TMP/est-q.json" scenarios.0.requests.target.delete)" = 2 ] &&
	t_ok "estimate: 2 quarantine copies, 2 deletes" ||
	t_fail "estimate of quarantine" "$(jq -c '.scenarios[0].requests.target' "$MG_TMP/est-q.json")"
from=$(lines)
t_exit "sync with quarantine" 0 "$MIGRATE" --no-progress "$MG_TMP/q.yaml"
match "$MG_TMP/est-q.json" "$from" "quarantine: the relay counts what the estimate said, class by class"

# ---- retries at an error rate (18.5) ----
t_s3_plan "$MG_TMP/r.yaml" est-r "$S" "s3://$BUCKET/r/" "$MG_TMP/j-r" \
	'pricing: { error_rate: 2% }'
t_exit "estimate with an error rate" 0 "$MIGRATE" estimate --json "$MG_TMP/r.yaml"
cp "$MG_TMP/.out" "$MG_TMP/est-r.json"
python3 - "$MG_TMP/est-r.json" <<'PY' > "$MG_TMP/r.out" 2>&1
import json, sys
s = json.load(open(sys.argv[1]))["scenarios"][0]
rt = s["retries"]
assert abs(rt["error_rate"] - 0.02) < 1e-12, rt
for side in ("source", "target"):
    for k, n in s["requests"][side].items():
        want = round(n * 0.02 / 0.98)
        assert rt[side][k] == want, (side, k, n, rt[side][k], want)
assert rt["usd"] >= 0
print("retries", json.dumps(rt["target"]))
PY
[ $? = 0 ] && t_ok "retries per class are n x r/(1-r) of the clean run's" || t_fail "retries" "$(cat "$MG_TMP/r.out")"
t_exit "estimate table with an error rate" 0 "$MIGRATE" estimate "$MG_TMP/r.yaml"
t_grep "table states the retries" "retries at an error rate of 2%" "$MG_TMP/.out"
sed 's/error_rate: 2%/error_rate: 70%/' "$MG_TMP/r.yaml" > "$MG_TMP/r-bad.yaml"
t_exit "error_rate above 50%: exit 2" 2 "$MIGRATE" check "$MG_TMP/r-bad.yaml"
t_grep "says the range" "from 0 to 0.5" "$MG_TMP/.out"

# ---- dedupe foreseen (18.6) ----
# counts EST.json: "PUT COPY" the estimate predicts at the target
counts() { jq -r '.scenarios[0].requests.target | "\(.put) \(.copy)"' "$1"; }
D=$MG_TMP/dsrc
mkdir -p "$D"
head -c 20000 /dev/urandom > "$D/a.bin"
head -c 30000 /dev/urandom > "$D/d.bin"
t_s3_plan "$MG_TMP/d.yaml" est-d "$D" "s3://$BUCKET/d/" "$MG_TMP/j-d" \
	'transfer: { dedupe: true, concurrency: 4 }'
t_exit "first run: two objects" 0 "$MIGRATE" --no-progress "$MG_TMP/d.yaml"
# duplicates of what the target holds (b, c of a; e of d), one of each
# other (g of f), one unique (h); a past mtime: the inventory trusts
# only content not modified since it started
cp "$D/a.bin" "$D/b.bin"; cp "$D/a.bin" "$D/c.bin"; cp "$D/d.bin" "$D/e.bin"
head -c 5000 /dev/urandom > "$D/f.bin"; cp "$D/f.bin" "$D/g.bin"
head -c 7000 /dev/urandom > "$D/h.bin"
(cd "$D" && touch -d "1 hour ago" b.bin c.bin e.bin f.bin g.bin h.bin)
t_exit "estimate before any inventory" 0 "$MIGRATE" estimate --json "$MG_TMP/d.yaml"
[ "$(counts "$MG_TMP/.out")" = "6 0" ] &&
jq -r '.scenarios[0].warnings[]' "$MG_TMP/.out" | grep -q 'content of 6 objects to send is unknown' &&
	t_ok "no inventory: 6 PUTs, and a word that duplicates are not foreseen" ||
	t_fail "estimate without inventory" "$(counts "$MG_TMP/.out"); $(jq -c '.scenarios[0].warnings' "$MG_TMP/.out")"
t_exit "migrate inventory keeps its result in the journal" 0 "$MIGRATE" inventory "$MG_TMP/d.yaml"
t_exit "estimate after the inventory" 0 "$MIGRATE" estimate --json "$MG_TMP/d.yaml"
cp "$MG_TMP/.out" "$MG_TMP/est-d.json"
[ "$(counts "$MG_TMP/est-d.json")" = "2 4" ] &&
[ "$(json_get "$MG_TMP/est-d.json" scenarios.0.counts.deduplicated.objects)" = 4 ] &&
[ "$(json_get "$MG_TMP/est-d.json" scenarios.0.counts.deduplicated.bytes)" = $((20000 * 2 + 30000 + 5000)) ] &&
[ "$(jq '.scenarios[0].warnings | length' "$MG_TMP/est-d.json")" = 0 ] &&
	t_ok "estimate foresees 4 copies (3 of the target's content, 1 of this run's) and 2 PUTs" ||
	t_fail "estimate with inventory" "$(counts "$MG_TMP/est-d.json"); $(jq -c '.scenarios[0].counts' "$MG_TMP/est-d.json")"
from=$(lines)
t_exit "run with dedupe" 0 "$MIGRATE" --no-progress "$MG_TMP/d.yaml"
match "$MG_TMP/est-d.json" "$from" "dedupe: the relay counts the PUTs and COPYs the estimate foresaw"

# duplicates among new objects only, a fresh target: one PUT per content
t_s3_plan "$MG_TMP/d2.yaml" est-d2 "$D" "s3://$BUCKET/d2/" "$MG_TMP/j-d2" \
	'transfer: { dedupe: true, concurrency: 4 }'
t_exit "inventory for a fresh target" 0 "$MIGRATE" inventory "$MG_TMP/d2.yaml"
t_exit "estimate a first run with duplicates" 0 "$MIGRATE" estimate --json "$MG_TMP/d2.yaml"
cp "$MG_TMP/.out" "$MG_TMP/est-d2.json"
[ "$(counts "$MG_TMP/est-d2.json")" = "4 4" ] &&
	t_ok "estimate: 4 contents uploaded, 4 copies" || t_fail "first-run dedupe" "$(counts "$MG_TMP/est-d2.json")"
from=$(lines)
t_exit "first run with duplicates" 0 "$MIGRATE" --no-progress "$MG_TMP/d2.yaml"
match "$MG_TMP/est-d2.json" "$from" "dedupe, first run: the relay counts what the estimate foresaw"
t_done
