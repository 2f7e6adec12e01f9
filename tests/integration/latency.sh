#!/usr/bin/env bash
# Request latency per class (issue 16.1) against Ceph RGW behind
# tests/faultproxy.py: first with no delay (the base latency of the
# server and the proxy), then with --delay-rule holding every 20th PUT
# 200 ms (5%) and every GET 100 ms, chosen by count, not by chance.
#   - the reported PUT P50 is the base, P99 the base plus 200 ms, within 10%
#   - the reported GET P50 and time-to-first-byte P50 are the base plus
#     100 ms, within 10% (with 20 ms held, GET P50 came out 3 ms above
#     base + 20 ms on this busy two-core machine: more than 10%)
#   - --log-json names exactly the 10 objects whose PUT was held
#   - the summary has one line per busy class
#   - the daemon's textfile has migrate_request_duration_seconds as a
#     histogram that promtool accepts (Debian's prometheus package), with
#     the held GETs in the right buckets
. "$MG_SRCDIR/tests/lib.sh"

[ -n "${MG_S3_ENDPOINT:-}" ] || t_skip_all "MG_S3_ENDPOINT is not set (tools/lib/s3server.sh starts a server)"
[ -x /usr/bin/aws ] || t_skip_all "/usr/bin/aws is missing: apt-get install awscli"
command -v python3 >/dev/null || t_skip_all "python3 is missing"
FP=$MG_SRCDIR/tests/faultproxy.py
N=200
s3_cli
s3_new_bucket BUCKET mg-lat || { t_fail "create bucket"; t_done; }

S=$MG_TMP/src
mkdir -p "$S"
for i in $(seq -w 1 $N); do head -c 2000 /dev/urandom >"$S/f$i"; done

start_proxy() {	# start_proxy NAME ARGS...: sets PORT
	python3 "$FP" --upstream "$MG_S3_ENDPOINT" --log "$MG_TMP/$1.log" "${@:2}" \
		>"$MG_TMP/$1.port" 2>"$MG_TMP/$1.err" &
	t_at_exit "kill $! 2>/dev/null"
	t_wait 30 test -s "$MG_TMP/$1.port"
	PORT=$(head -1 "$MG_TMP/$1.port")
}
s3_yaml() {	# s3_yaml PREFIX PORT
	cat <<YAML
  url: s3://$BUCKET/$1/
  endpoint: http://127.0.0.1:$2
  region: \${MG_S3_REGION}
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
YAML
}
up_plan() {	# up_plan NAME PREFIX PORT: local -> s3
	{ printf 'version: 1\nname: %s\nsource: "%s"\ntarget:\n' "$1" "$S"
	  s3_yaml "$2" "$3"
	  printf 'journal: "%s"\ntransfer: { concurrency: 2 }\n' "$MG_TMP/$1.j"
	} >"$MG_TMP/$1.yaml"
}
down_plan() {	# down_plan NAME PREFIX PORT [EXTRA]: s3 -> local
	{ printf 'version: 1\nname: %s\nsource:\n' "$1"
	  s3_yaml "$2" "$3"
	  printf 'target: "%s"\njournal: "%s"\ntransfer: { concurrency: 4 }\n%s\n' \
		"$MG_TMP/$1.out.d" "$MG_TMP/$1.j" "${4:-}"
	} >"$MG_TMP/$1.yaml"
}
# near NAME GOT WANT: GOT within 10% of WANT
near() {
	if awk -v g="$2" -v w="$3" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(w > 0 && d <= w / 10) }'; then
		t_ok "$1: $2 s, want $3 s +-10%"
	else
		t_fail "$1: $2 s, want $3 s +-10%"
	fi
}
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a + b }'; }

# --- the base: the same requests through the proxy, nothing held
start_proxy p0
up_plan up0 base "$PORT"
t_exit "base upload" 0 "$MIGRATE" --json "$MG_TMP/up0.yaml"
cp "$MG_TMP/.out" "$MG_TMP/up0.out"
sed -n '/^{/,/^}/p' "$MG_TMP/up0.out" >"$MG_TMP/up0.json"
down_plan dn0 base "$PORT"
t_exit "base download" 0 "$MIGRATE" --json "$MG_TMP/dn0.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" >"$MG_TMP/dn0.json"
BASE_PUT=$(jq -r '.targets[0].latency.put.p50' "$MG_TMP/up0.json")
BASE_GET=$(jq -r '.source_latency.get.p50' "$MG_TMP/dn0.json")
BASE_TTFB=$(jq -r '.source_latency.get.ttfb_p50' "$MG_TMP/dn0.json")
echo "# base: put p50 $BASE_PUT s, get p50 $BASE_GET s, get ttfb p50 $BASE_TTFB s"
t_check "the base run timed $N PUTs" \
	jq -e ".targets[0].latency.put.count == $N and .targets[0].latency.put.retries == 0" \
	"$MG_TMP/up0.json"
t_grep "the summary has a line for PUT" \
	'^  target put +[0-9]+ requests  p50 [0-9.]+ s  p95 [0-9.]+ s  p99 [0-9.]+ s  max [0-9.]+ s' \
	"$MG_TMP/up0.out"

# --- held: every 20th PUT 200 ms, every GET 100 ms
start_proxy p1 --delay-rule PUT:0.2:20 --delay-rule GET:0.1:1
up_plan up1 held "$PORT"
t_exit "upload with PUTs held" 0 "$MIGRATE" --json --log-json "$MG_TMP/up1.log.json" \
	"$MG_TMP/up1.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" >"$MG_TMP/up1.json"
held=$(grep -c '^delay-rule PUT' "$MG_TMP/p1.log")
[ "$held" = $((N / 20)) ] && t_ok "the proxy held $held PUTs" ||
	t_fail "the proxy held $((N / 20)) PUTs" "held $held"
p50=$(jq -r '.targets[0].latency.put.p50' "$MG_TMP/up1.json")
p90=$(jq -r '.targets[0].latency.put.p90' "$MG_TMP/up1.json")
p99=$(jq -r '.targets[0].latency.put.p99' "$MG_TMP/up1.json")
near "PUT p99 is the base plus 200 ms" "$p99" "$(add "$BASE_PUT" 0.2)"
t_check "PUT p50 and p90 are not held ($p50 s, $p90 s)" \
	awk -v a="$p50" -v b="$p90" 'BEGIN { exit !(a < 0.1 && b < 0.1) }'
t_check "--json has every field per class" \
	jq -e '.targets[0].latency.put | [has("count","p50","p90","p95","p99","max","retries","ttfb_p50","ttfb_p99")] | all' \
	"$MG_TMP/up1.json"
slow=$(jq -r 'select(.event == "object" and .requests.put.max_s >= 0.2) | .key' \
	"$MG_TMP/up1.log.json" | wc -l)
[ "$slow" = $((N / 20)) ] && t_ok "--log-json: $slow objects with a held PUT" ||
	t_fail "--log-json: $((N / 20)) objects with a held PUT" "found $slow"

down_plan dn1 held "$PORT"
t_exit "download with GETs held" 0 "$MIGRATE" --json "$MG_TMP/dn1.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" >"$MG_TMP/dn1.json"
near "GET p50 is the base plus 100 ms" \
	"$(jq -r '.source_latency.get.p50' "$MG_TMP/dn1.json")" "$(add "$BASE_GET" 0.1)"
near "GET time to first byte p50 is the base plus 100 ms" \
	"$(jq -r '.source_latency.get.ttfb_p50' "$MG_TMP/dn1.json")" "$(add "$BASE_TTFB" 0.1)"

# --- the daemon's textfile: the held download once more, as a histogram
METRICS=$MG_TMP/metrics.prom
down_plan dm held "$PORT" "schedule: { every: 2s }
metrics: { file: \"$METRICS\" }"
"$MIGRATE" daemon "$MG_TMP/dm.yaml" >"$MG_TMP/dm.out" 2>&1 &
DPID=$!
t_at_exit "kill $DPID 2>/dev/null"
t_wait 60 grep -qs '^migrate_request_duration_seconds_count{.*class="get"' "$METRICS"
kill "$DPID"; wait "$DPID" 2>/dev/null
if command -v promtool >/dev/null; then
	t_check "promtool check metrics accepts the textfile" \
		sh -c "promtool check metrics <'$METRICS'"
else
	t_skip "promtool check metrics" "promtool is missing: apt-get install prometheus"
fi
bucket() { awk -v c="class=\"$1\"" -v l="le=\"$2\"" \
	'index($0, "migrate_request_duration_seconds_bucket{") == 1 && index($0, c) && index($0, l) { print $2 }' \
	"$METRICS"; }
t_check "TYPE histogram" grep -q '^# TYPE migrate_request_duration_seconds histogram' "$METRICS"
b05=$(bucket get 0.05) b25=$(bucket get 0.25) binf=$(bucket get +Inf)
[ "$b05" = 0 ] && [ "$binf" = $N ] && [ "${b25:-0}" -ge $((N * 9 / 10)) ] &&
	t_ok "held GETs: none under 50 ms, most under 250 ms, $N in all ($b05 $b25 $binf)" ||
	t_fail "held GETs in the buckets" "le=0.05: $b05, le=0.25: $b25, +Inf: $binf"
t_done
