#!/usr/bin/env bash
# tools/test: alone (it measures request times against injected delays)
# Request latency per class (issue 16.1) against Ceph RGW behind
# tests/faultproxy.py: first with no delay (the base latency of the
# server and the proxy, its P50 and P99 per class), then with --delay-rule
# holding every 20th PUT 200 ms (5%), every GET and every HEAD 100 ms,
# chosen by count, not by chance.  "Within 10%" is of the delay plus the
# base: at least 90% of delay + base P50, at most 110% of delay + base P99
# (a held request is held on top of its own base time).
#   - PUT: P50 and P90 unheld, P99 the base plus 200 ms
#   - GET: P50 and time-to-first-byte P50 the base plus 100 ms (with 20 ms
#     held, GET P50 came out 3 ms above base + 20 ms on this busy two-core
#     machine: more than 10% of so small a figure)
#   - HEAD (the one that checks a multipart upload): the base plus 100 ms
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
# eight multipart objects: each upload ends with a HEAD that checks it
# (eight, so that one slow moment of a busy machine is not the median)
NM=8
M=$MG_TMP/mp
mkdir -p "$M"
for i in $(seq 1 $NM); do head -c $(((5 << 20) + 1000)) /dev/urandom >"$M/m$i"; done

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
mp_plan() {	# mp_plan NAME PREFIX PORT: two multipart uploads
	{ printf 'version: 1\nname: %s\nsource: "%s"\ntarget:\n' "$1" "$M"
	  s3_yaml "$2" "$3"
	  printf 'journal: "%s"\ntransfer: { multipart_threshold: 5MiB, part_size: 5MiB, concurrency: 4 }\n' \
		"$MG_TMP/$1.j"
	} >"$MG_TMP/$1.yaml"
}
down_plan() {	# down_plan NAME PREFIX PORT [EXTRA]: s3 -> local
	{ printf 'version: 1\nname: %s\nsource:\n' "$1"
	  s3_yaml "$2" "$3"
	  printf 'target: "%s"\njournal: "%s"\ntransfer: { concurrency: 4 }\n%s\n' \
		"$MG_TMP/$1.out.d" "$MG_TMP/$1.j" "${4:-}"
	} >"$MG_TMP/$1.yaml"
}
# near NAME GOT DELAY LO HI: GOT within 10% of DELAY plus the base, the
# base being what the same class took unheld, between its P50 (LO) and its
# P99 (HI): a held request is held on top of its own base time, which may
# be one from the tail on a busy machine
near() {
	local lo hi
	lo=$(awk -v d="$3" -v b="$4" 'BEGIN { printf "%.6f", (d + b) * 0.9 }')
	hi=$(awk -v d="$3" -v b="$5" 'BEGIN { printf "%.6f", (d + b) * 1.1 }')
	if awk -v g="$2" -v lo="$lo" -v hi="$hi" 'BEGIN { exit !(g >= lo && g <= hi) }'; then
		t_ok "$1: $2 s, want $lo..$hi s"
	else
		t_fail "$1: $2 s, want $lo..$hi s"
	fi
}
# run_json NAME PLAN ARGS...: a run that must exit 0, --json to NAME.json
run_json() {
	local name=$1 plan=$2; shift 2
	if "$MIGRATE" --json "$@" "$plan" >"$MG_TMP/$name.json" 2>"$MG_TMP/$name.err"; then
		t_ok "$name exits 0"
	else
		t_fail "$name exits 0" "exit $?"; sed "s/^/#   /" "$MG_TMP/$name.err" | head -30
	fi
}
# lat FILE PATH: a figure from a run's --json
lat() { jq -r "$2" "$MG_TMP/$1.json"; }

# --- the base: the same requests through the proxy, nothing held
start_proxy p0
up_plan up0 base "$PORT"
run_json up0 "$MG_TMP/up0.yaml"
down_plan dn0 base "$PORT"
run_json dn0 "$MG_TMP/dn0.yaml"
mp_plan mp0 basemp "$PORT"
run_json mp0 "$MG_TMP/mp0.yaml"
LT=.targets[0].latency LS=.source_latency
read -r HEAD50 HEAD99 <<<"$(lat mp0 "$LT.head | \"\\(.p50) \\(.p99)\"")"
read -r PUT50 PUT99 <<<"$(lat up0 "$LT.put | \"\\(.p50) \\(.p99)\"")"
read -r GET50 GET99 TTFB50 TTFB99 <<<"$(lat dn0 "$LS.get | \"\\(.p50) \\(.p99) \\(.ttfb_p50) \\(.ttfb_p99)\"")"
echo "# base p50/p99: head $HEAD50/$HEAD99 s, put $PUT50/$PUT99 s, get $GET50/$GET99 s, get ttfb $TTFB50/$TTFB99 s"
t_check "the base run timed $N PUTs" \
	jq -e ".targets[0].latency.put.count == $N and .targets[0].latency.put.retries == 0" \
	"$MG_TMP/up0.json"
t_grep "the summary has a line for PUT" \
	'^  target put +[0-9]+ requests  p50 [0-9.]+ s  p95 [0-9.]+ s  p99 [0-9.]+ s  max [0-9.]+ s' \
	"$MG_TMP/up0.err"

# --- held: every 20th PUT 200 ms, every GET 100 ms
start_proxy p1 --delay-rule PUT:0.2:20 --delay-rule GET:0.1:1 --delay-rule HEAD:0.1:1
up_plan up1 held "$PORT"
run_json up1 "$MG_TMP/up1.yaml" --log-json "$MG_TMP/up1.log.json"
held=$(grep -c '^delay-rule PUT' "$MG_TMP/p1.log")
[ "$held" = $((N / 20)) ] && t_ok "the proxy held $held PUTs" ||
	t_fail "the proxy held $((N / 20)) PUTs" "held $held"
p50=$(jq -r '.targets[0].latency.put.p50' "$MG_TMP/up1.json")
p90=$(jq -r '.targets[0].latency.put.p90' "$MG_TMP/up1.json")
p99=$(jq -r '.targets[0].latency.put.p99' "$MG_TMP/up1.json")
near "PUT p99 is the base plus 200 ms" "$p99" 0.2 "$PUT50" "$PUT99"
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
run_json dn1 "$MG_TMP/dn1.yaml"
near "GET p50 is the base plus 100 ms" "$(lat dn1 "$LS.get.p50")" 0.1 "$GET50" "$GET99"
near "GET time to first byte p50 is the base plus 100 ms" "$(lat dn1 "$LS.get.ttfb_p50")" \
	0.1 "$TTFB50" "$TTFB99"

# last through this proxy: its parts are PUTs, and shift which are held
mp_plan mp1 heldmp "$PORT"
run_json mp1 "$MG_TMP/mp1.yaml"
t_check "$NM HEADs timed" jq -e ".targets[0].latency.head.count == $NM" "$MG_TMP/mp1.json"
near "HEAD p50 is the base plus 100 ms" "$(lat mp1 "$LT.head.p50")" 0.1 "$HEAD50" "$HEAD99"

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
