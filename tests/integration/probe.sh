#!/usr/bin/env bash
# migrate probe against Ceph RGW: a bounded measurement of a local source
# and a bucket.  It stays within its byte cap, removes every object it
# wrote and leaves no open upload (checked with the AWS CLI), leaves other
# objects alone, cleans up after a probe killed mid-write (kill -9 at a
# named point), refuses a prefix that already holds its kind of keys, and
# projects the plan's time close to the real run's on this machine: within
# 25% on a quiet machine; a busy one (the test runs alone, but other work
# may share the machine) gets a factor of two, said in the line.
# tools/test: alone (it compares a projected time with a real run's)
. "$MG_SRCDIR/tests/lib.sh"
t_need_s3 BUCKET mg-probe
SRC=$MG_TMP/src
mkdir -p "$SRC"
for i in $(seq 1 240); do head -c 262144 /dev/urandom > "$SRC/f$i.bin"; done
"${AWS[@]}" s3 cp --only-show-errors "$SRC/f1.bin" "s3://$BUCKET/data/keep/f1.bin"
T_S3_PROVIDER=ceph t_s3_plan "$MG_TMP/plan.yaml" probe "$SRC" "s3://$BUCKET/data/" "$MG_TMP/journal"
keys() { "${AWS[@]}" s3api list-objects-v2 --bucket "$BUCKET" --query 'Contents[].Key' --output text; }
uploads() { "${AWS[@]}" s3api list-multipart-uploads --bucket "$BUCKET" --query 'length(Uploads || `[]`)'; }

"$MIGRATE" estimate "$MG_TMP/plan.yaml" > "$MG_TMP/e0.out" 2>&1
t_grep "before a probe the estimate's time is unknown, and says what to do" \
	"time: unknown: .*run .migrate probe." "$MG_TMP/e0.out"
"$MIGRATE" probe --bytes 6MiB --json "$MG_TMP/plan.yaml" > "$MG_TMP/p1.json" 2> "$MG_TMP/p1.err"
rc=$?
[ $rc -eq 0 ] && t_ok "probe exits 0" || t_fail "probe exit $rc" "$(tail -5 "$MG_TMP/p1.err")"
written=$(jq '[.targets[0].write[].bytes] | add' "$MG_TMP/p1.json")
[ "${written:-0}" -gt 0 ] && [ "$written" -le $((6 << 20)) ] &&
	t_ok "it wrote within its cap ($written bytes of 6 MiB)" || t_fail "wrote '$written' bytes, cap 6 MiB"
t_is "it removed every object it wrote" \
	"$(jq '[.targets[0].write[].objects] | add' "$MG_TMP/p1.json")" "$(json_get "$MG_TMP/p1.json" targets.0.removed)"
t_is "the bucket holds only what was there before" "data/keep/f1.bin" "$(keys)"
t_is "no multipart upload is left open" 0 "$(uploads)"
t_grep "and says so" "removed the [0-9]+ objects the probe wrote under '.migrate-probe-[0-9]+-'; nothing else" "$MG_TMP/p1.err"
t_is "the projection covers the whole source" 240 "$(json_get "$MG_TMP/p1.json" projection.objects)"
t_is "each pass has the PUT latency percentiles of its own requests" true \
	"$(jq '[.targets[0].write[] | .latency.put.count == .requests and .latency.put.p99 > 0] | all' "$MG_TMP/p1.json")"
t_is "three concurrencies were measured" "1 4 8" \
	"$(jq -r '[.targets[0].write[].concurrency] | join(" ")' "$MG_TMP/p1.json")"

"$MIGRATE" estimate "$MG_TMP/plan.yaml" > "$MG_TMP/e1.out" 2>&1
t_grep "after it the estimate gives a time at the measured rate, dated" \
	"time: [0-9].* \\(link .*, measured by migrate probe 20[0-9-]+ " "$MG_TMP/e1.out"
"$MIGRATE" estimate --json "$MG_TMP/plan.yaml" > "$MG_TMP/e1.json" 2>/dev/null
[ "$(jq '.scenarios[0].measured_rate > 0 and .scenarios[0].duration_s > 0' "$MG_TMP/e1.json" 2>/dev/null)" = true ] &&
	t_ok "estimate --json carries the measured rate and a time" ||
	t_fail "estimate --json" "$(jq -c '.scenarios[0] | {measured_rate, duration_s}' "$MG_TMP/e1.json" 2>&1 | head -3)"

# killed mid-write (kill -9 once 5 probe objects are written)
MG_TEST_KILL_AFTER=probe:5 "$MIGRATE" probe --bytes 6MiB --prefix tmp/probe- \
	"$MG_TMP/plan.yaml" > "$MG_TMP/p2.out" 2>&1
t_is "a probe killed mid-write dies by SIGKILL" 137 "$?"
left=$(keys | tr '\t' '\n' | grep -c '^data/tmp/probe-p')
[ "$left" -ge 5 ] && t_ok "and leaves its objects ($left)" || t_fail "left $left objects"
"$MIGRATE" probe --bytes 2MiB "$MG_TMP/plan.yaml" > "$MG_TMP/p3.out" 2>&1
t_is "the next probe exits 0" 0 "$?"
t_grep "and removes what the killed one left" "an earlier probe did not finish: removed the $left objects it left under 'tmp/probe-'" "$MG_TMP/p3.out"
t_is "the bucket holds only what was there before" "data/keep/f1.bin" "$(keys)"
t_is "no multipart upload is left open" 0 "$(uploads)"

# a prefix that already holds probe-like keys is refused
"${AWS[@]}" s3 cp --only-show-errors "$SRC/f1.bin" "s3://$BUCKET/data/mine/p000001"
t_exit "a prefix holding keys named like the probe's is refused" 3 \
	"$MIGRATE" probe --bytes 1MiB --prefix mine/ "$MG_TMP/plan.yaml"
t_grep "naming what to do" "choose another --prefix" "$MG_TMP/.out"
t_is "and that object is untouched" 1 "$(keys | tr '\t' '\n' | grep -c '^data/mine/p000001$')"
"${AWS[@]}" s3 rm --only-show-errors "s3://$BUCKET/data/mine/p000001"
t_exit "--prefix must make safe keys" 2 "$MIGRATE" probe --prefix ../x "$MG_TMP/plan.yaml"
t_exit "--bytes takes a size" 2 "$MIGRATE" probe --bytes lots "$MG_TMP/plan.yaml"
t_exit "--sample is the probe's" 2 "$MIGRATE" --sample 5 "$MG_TMP/plan.yaml"

# the projection against the real run (this script runs alone)
"$MIGRATE" probe --bytes 64MiB --sample 240 --json "$MG_TMP/plan.yaml" > "$MG_TMP/p4.json" 2>/dev/null
proj=$(json_get "$MG_TMP/p4.json" projection.seconds)
t0=$(date +%s.%N)
"$MIGRATE" -q "$MG_TMP/plan.yaml"
t_is "the real run exits 0" 0 "$?"
real=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
ok=$(awk -v p="$proj" -v r="$real" 'BEGIN { d = p - r; if (d < 0) d = -d
	print (d <= 0.25 * r) ? 1 : (p <= 2 * r && r <= 2 * p) ? 2 : 0 }')
case $ok in
1) t_ok "projected ${proj}s, the real run took ${real}s: within 25%" ;;
2) t_ok "projected ${proj}s, the real run took ${real}s: within a factor of two (load $(cut -d' ' -f1 /proc/loadavg))" ;;
*) t_fail "projected ${proj}s, the real run took ${real}s: more than a factor of two apart" ;;
esac
t_done
