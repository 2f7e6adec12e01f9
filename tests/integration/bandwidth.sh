#!/usr/bin/env bash
# The bandwidth limit holds (generous bounds: this is a function test, the
# accuracy goal is measured by tools/bench), a timetable window applies
# only when it covers the current time, --bwlimit overrides the plan, and
# SIGUSR2 lifts the limit and puts it back.
# tools/test: alone (it times copies against a bandwidth limit)
. "$MG_SRCDIR/tests/lib.sh"

S=$MG_TMP/src
mkdir -p "$S"
for i in 1 2 3 4 5 6; do head -c 2000000 /dev/urandom > "$S/f$i"; done	# 12 MB
plan() {	# plan NAME BANDWIDTH-YAML
	cat > "$MG_TMP/$1.yaml" <<YAML
version: 1
name: bw-$1
source: "$S"
target: "$MG_TMP/dst-$1"
journal: "$MG_TMP/j-$1"
transfer: { concurrency: 4, bandwidth: $2 }
YAML
}
elapsed() {	# elapsed CMD...: run, print seconds with 1 decimal
	local t0 t1
	t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }'
}
within() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'; }

plan flat 4MB/s
t=$(elapsed "$MIGRATE" "$MG_TMP/flat.yaml")
within "$t" 2.5 6 && t_ok "12 MB at 4MB/s takes ${t}s (about 3)" || t_fail "4MB/s limit" "took ${t}s"
t_same_tree "limited copy is complete" "$S" "$MG_TMP/dst-flat"

plan always '{ default: unlimited, "daily 00:00-24:00": 4MB/s }'
t=$(elapsed "$MIGRATE" "$MG_TMP/always.yaml")
within "$t" 2.5 6 && t_ok "a window covering now applies (${t}s)" || t_fail "window applies" "took ${t}s"

h=$(( ($(date +%-H) + 2) % 24 )); h2=$(( (h + 1) % 24 ))
win=$(printf 'daily %02d:00-%02d:00' "$h" "$h2")
plan never "{ default: unlimited, \"$win\": 1MB/s }"
t=$(elapsed "$MIGRATE" "$MG_TMP/never.yaml")
within "$t" 0 2.4 && t_ok "a window not covering now does not apply (${t}s)" ||
	t_fail "window not applying" "took ${t}s"

plan override 1MB/s
t=$(elapsed "$MIGRATE" --bwlimit 6MB/s "$MG_TMP/override.yaml")
within "$t" 1.5 4.5 && t_ok "--bwlimit overrides the plan (${t}s at 6MB/s)" ||
	t_fail "--bwlimit override" "took ${t}s"

plan usr2 1MB/s
t0=$(date +%s.%N)
"$MIGRATE" --no-progress "$MG_TMP/usr2.yaml" >"$MG_TMP/usr2.out" 2>&1 &
pid=$!
sleep 1
kill -USR2 "$pid"
wait "$pid"; rc=$?
t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
[ "$rc" = 0 ] && within "$t" 0 5 && t_ok "SIGUSR2 lifts the limit (${t}s instead of 12)" ||
	t_fail "SIGUSR2" "exit $rc after ${t}s"
t_same_tree "complete after SIGUSR2" "$S" "$MG_TMP/dst-usr2"

# To S3 the limit must hold on the wire: a PUT is sent at commit, after
# the object was buffered, so shaping the reads would let it burst.
t_s3_part "limit on the wire to S3" BUCKET mg-bw
t_s3_plan "$MG_TMP/s3.yaml" bw-s3 "$S" "s3://$BUCKET/bw/" "$MG_TMP/j-s3" "transfer: { concurrency: 4, bandwidth: 4MB/s }"
t=$(elapsed "$MIGRATE" "$MG_TMP/s3.yaml")
within "$t" 2.5 7 && t_ok "12 MB to S3 at 4MB/s takes ${t}s (about 3)" || t_fail "S3 limit" "took ${t}s"
t_done
