#!/usr/bin/env bash
# The retries `estimate` expects at `pricing: { error_rate: R }` (18.5),
# checked against a run whose requests fail at that rate: migrate ->
# counting relay (estimate_count.py, logs every attempt) -> faultproxy.py
# (answers a fraction R of the requests "503 SlowDown", chosen at random)
# -> Ceph RGW.  Each 503 is sent again, so the requests the relay saw
# beyond the clean run's are the real retries.
#
# Tolerance: each request is retried K times, K geometric (P(K=k) =
# R^k (1-R)): mean R/(1-R), variance R/(1-R)^2.  Over n requests the
# retries have mean n R/(1-R) (the estimate's figure) and standard
# deviation sqrt(n R)/(1-R); the test allows 4 of them (a wrong pass or
# fail about once in 15,000 runs).  n = 401 (400 PUTs and a LIST), R =
# 15%: expected 70.8, sigma 9.4, so 33 to 108 pass (an estimate of no
# retries fails; n R, 60, is too close to tell apart at this n: the exact
# formula is checked on the estimate's own figures).  One measured run:
# 401 clean requests at both, 71 retries expected, 71 seen.
. "$MG_SRCDIR/tests/lib.sh"

t_need_s3 BUCKET mg-estr
CNT=$MG_SRCDIR/tests/integration/estimate_count.py
LOG=$MG_TMP/requests.jsonl
t_start_helper FPORT "$MG_TMP/fp.out" python3 "$MG_SRCDIR/tests/faultproxy.py" \
	--upstream "$MG_S3_ENDPOINT" --rate 0.15 --seed 11 --faults 503 ||
	{ t_fail "faultproxy" "$(cat "$MG_TMP/fp.out.err")"; t_done; }
t_count_relay PORT "http://127.0.0.1:$FPORT" "$LOG"
export T_S3_ENDPOINT=http://127.0.0.1:$PORT T_S3_PROVIDER=ceph

S=$MG_TMP/src
mkdir -p "$S"
for i in $(seq 1 400); do printf 'object %d\n' "$i" > "$S/o$i"; done
t_s3_plan "$MG_TMP/p.yaml" est-retries "$S" "s3://$BUCKET/r/" "$MG_TMP/j" \
	'transfer: { concurrency: 8 }' 'pricing: { error_rate: 15% }'
t_exit "estimate at an error rate of 15%" 0 "$MIGRATE" estimate --json "$MG_TMP/p.yaml"
cp "$MG_TMP/.out" "$MG_TMP/est.json"
from=$(wc -l < "$LOG")
t_exit "run through 15% of 503s" 0 "$MIGRATE" --no-progress "$MG_TMP/p.yaml"
python3 - "$MG_TMP/est.json" "$LOG" "$from" <<'PY' > "$MG_TMP/r.out" 2>&1
import json, math, sys
est = json.load(open(sys.argv[1]))["scenarios"][0]
recs = [json.loads(l) for l in open(sys.argv[2])][int(sys.argv[3]):]
clean = sum(est["requests"]["target"].values())
want = sum(est["retries"]["target"].values())
r = est["retries"]["error_rate"]
seen = len(recs)
failed = sum(1 for x in recs if x["status"] == 503)
ok = seen - failed
sigma = math.sqrt(clean * r) / (1 - r)
print("clean requests: estimate %d, relay %d; retries: estimate %d, relay %d (503s: %d); "
      "tolerance 4 sigma = %.1f" % (clean, ok, want, seen - ok, failed, 4 * sigma))
assert ok == clean, "the clean requests differ"
assert want == round(clean * r / (1 - r)), "the estimate's retries are not n r/(1-r)"
assert abs((seen - ok) - want) <= 4 * sigma, "the real retries are outside the tolerance"
PY
[ $? = 0 ] && t_ok "the retries the relay saw are the estimate's within 4 sigma" ||
	t_fail "retries" "$(cat "$MG_TMP/r.out")"
sed 's/^/# /' "$MG_TMP/r.out"
t_done
