#!/usr/bin/env bash
# Several targets (18.4): the one bandwidth limit counts the bytes sent to
# each target, so two targets take twice the time of one (the estimate's
# time within 10% of the run's); the source side of the bill is counted
# once for the plan, each target's own on top (no double-counted egress).
# tools/test: alone (it times copies against a bandwidth limit)
. "$MG_SRCDIR/tests/lib.sh"

S=$MG_TMP/src
mkdir -p "$S"
for i in 1 2 3 4; do head -c 1000000 /dev/urandom > "$S/f$i"; done	# 4 MB
# egress priced high enough to see it counted once: $900/GB, no allowance
sed -e 's/^      free: 100$/      free: 0/' -e 's/{ upto: 10000, price: 0.09 }/{ upto: 10000, price: 900 }/' \
	"$MG_SRCDIR/plans/pricing.yaml" > "$MG_TMP/prices.yaml"
cat > "$MG_TMP/plan.yaml" <<YAML
version: 1
name: two
source: { url: "$S", provider: aws-s3, stored: 4MB }
targets:
  - { url: "$MG_TMP/one", provider: wasabi }
  - { url: "$MG_TMP/two", provider: backblaze-b2 }
journal: "$MG_TMP/journal"
transfer: { concurrency: 2, bandwidth: 2MB/s }
pricing: { file: "$MG_TMP/prices.yaml" }
YAML
t_exit "estimate two targets" 0 "$MIGRATE" estimate --json "$MG_TMP/plan.yaml"
cp "$MG_TMP/.out" "$MG_TMP/est.json"
est=$(json_get "$MG_TMP/est.json" plan_total.duration_s)
src=$(jq '.scenarios[0].cost_usd | .egress + .retrieval + .source_requests' "$MG_TMP/est.json")
own=$(jq '[.scenarios[].cost_usd | .total - .egress - .retrieval - .source_requests] | add' "$MG_TMP/est.json")
tot=$(json_get "$MG_TMP/est.json" plan_total.total_usd)
awk -v s="$src" -v o="$own" -v t="$tot" -v ps="$(json_get "$MG_TMP/est.json" plan_total.source_usd)" \
	'BEGIN { exit !(s > 3.5 && (ps - s) < 1e-4 && (s - ps) < 1e-4 && (t - s - o) < 1e-3 && (s + o - t) < 1e-3) }' &&
	t_ok "plan total: source once ($src) + targets' own ($own) = $tot" ||
	t_fail "plan total" "source $src, own $own, total $tot; $(jq -c .plan_total "$MG_TMP/est.json")"
[ "$(json_get "$MG_TMP/est.json" plan_total.bytes_sent)" = 8000000 ] &&
	t_ok "8 MB through the limit (4 MB to each target)" || t_fail "bytes through the limit" "$(jq -c .plan_total "$MG_TMP/est.json")"
t_exit "text names the plan total" 0 "$MIGRATE" estimate "$MG_TMP/plan.yaml"
t_grep "once for the source" "all targets .USD.: source side once" "$MG_TMP/.out"

t0=$(date +%s.%N)
t_exit "run two targets at 2 MB/s" 0 "$MIGRATE" "$MG_TMP/plan.yaml"
t1=$(date +%s.%N)
awk -v e="$est" -v a="$t0" -v b="$t1" 'BEGIN { r = b - a; exit !(e > 0 && r > e * 0.9 && r < e * 1.1) }' &&
	t_ok "estimated time $est s is within 10% of the run's $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s" ||
	t_fail "time" "estimated $est s, run $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s"
t_done
