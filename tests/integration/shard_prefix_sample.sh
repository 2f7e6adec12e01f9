#!/usr/bin/env bash
# shard: { by: prefix } with no prefixes in the plan, on an S3 source
# (issue 17): the boundaries come from a sampled listing, written once to
# <journal>/shard-prefixes-of-0004 by the first task to finish its sample
# and read by every other.  Four tasks started at once over 2,200 objects
# in Ceph RGW copy each object exactly once (the target is the source, the
# lineages are disjoint); through a counting proxy, the task that samples
# spends at most 4N+8 list requests on it and the others list only their
# own range; a boundaries file found for another source is refused.
. "$MG_SRCDIR/tests/lib.sh"

[ -x "$MIGRATE" ] || t_skip_all "migrate is not built"
command -v jq >/dev/null || t_skip_all "jq is missing: apt-get install jq"
t_need_s3 BUCKET mg-shardps

# 2,200 objects: big/ holds 12 folders of 100 (1,200 keys: more than a
# listing page, so the sample jumps past it and comes back for its
# sub-folders), then 10 top-level folders of 100
SRC=$MG_TMP/src
python3 - "$SRC" <<'PY'
import os, sys
for d in range(12):
    for top in ["big/s%02d" % d] + (["m%02d" % d] if d < 10 else []):
        os.makedirs("%s/%s" % (sys.argv[1], top), exist_ok=True)
        for f in range(100):
            with open("%s/%s/f%02d" % (sys.argv[1], top, f), "w") as o:
                o.write("object %s/%02d\n" % (top, f))
PY
t_s3_plan "$MG_TMP/up.yaml" up "$SRC" "s3://$BUCKET/" "$MG_TMP/j-up" \
	"transfer: { concurrency: 16 }"
t_exit "2,200 objects up to RGW" 0 "$MIGRATE" -q "$MG_TMP/up.yaml"

# plan NAME ENDPOINT: the bucket as the source, a local target, by prefix
plan() {
	cat >"$MG_TMP/$1.yaml" <<YAML
version: 1
name: $1
source:
  url: s3://$BUCKET/
  endpoint: $2
  region: \${MG_S3_REGION}
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
target: "$MG_TMP/dst-$1"
journal: "$MG_TMP/j-$1"
shard: { count: 4, by: prefix }
transfer: { concurrency: 4 }
YAML
}

# four tasks at once, nothing shared before: exactly once
plan race '${MG_S3_ENDPOINT}'
pids=()
for i in 0 1 2 3; do
	"$MIGRATE" --shard $i/4 --json -q "$MG_TMP/race.yaml" >"$MG_TMP/race$i.json" 2>"$MG_TMP/race$i.err" &
	pids+=($!)
done
rcs=""
for p in "${pids[@]}"; do wait "$p"; rcs="$rcs$?"; done
[ "$rcs" = 0000 ] && t_ok "four prefix shards without prefixes ran at once, each exit 0" ||
	t_fail "four shards" "exits $rcs: $(cat "$MG_TMP"/race?.err)"
B=$MG_TMP/j-race/shard-prefixes-of-0004
[ "$(grep -vc '^#' "$B" 2>/dev/null)" = 3 ] && t_ok "the boundaries are in the journal folder: $(grep -v '^#' "$B" | tr '\n' ' ')" ||
	t_fail "boundaries file" "$(cat "$B" 2>&1)"
[ -z "$(find "$MG_TMP/j-race" -maxdepth 1 -name 'shard-prefixes-of-0004.*')" ] &&
	t_ok "no temporary boundaries file left" || t_fail "temporary file left"
t_same_tree "the target is the source" "$SRC" "$MG_TMP/dst-race"
sum=0
for i in 0 1 2 3; do
	c=$(json_get "$MG_TMP/race$i.json" targets.0.copied.objects)
	sum=$((sum + ${c:-0}))
	"$MIGRATE" lineage --shard $i/4 "$MG_TMP/race.yaml" | jq -r .key >"$MG_TMP/keys$i"
done
[ "$sum" = 2200 ] && t_ok "the four tasks copied 2,200 objects in all" || t_fail "copied in all" "$sum"
[ "$(cat "$MG_TMP"/keys? | wc -l)" = 2200 ] && [ "$(sort -u "$MG_TMP"/keys? | wc -l)" = 2200 ] &&
	t_ok "the four lineages cover 2,200 keys, none in two tasks" ||
	t_fail "lineages" "$(cat "$MG_TMP"/keys? | wc -l) lines, $(sort -u "$MG_TMP"/keys? | wc -l) keys"
min=2200 max=0
for i in 0 1 2 3; do
	k=$(wc -l <"$MG_TMP/keys$i")
	[ "$k" -lt "$min" ] && min=$k
	[ "$k" -gt "$max" ] && max=$k
done
# the sample counted every folder here, so the split is even
[ "$min" -ge 450 ] && [ "$max" -le 650 ] && t_ok "balance from the sample: $min to $max keys per task" ||
	t_fail "balance" "$min to $max"

# list requests per task, counted at a proxy in front of RGW
cat >"$MG_TMP/count.py" <<'PY'
import sys, threading
from httprelay import read_request, forward, serve_sockets
host, port = sys.argv[1].rsplit(":", 1)
log = open(sys.argv[2], "a", buffering=1)
lock = threading.Lock()
def serve(c):
    f = c.makefile("rb")
    while True:
        req = read_request(f)
        if req is None:
            break
        with lock:
            log.write(req[0].split(b"\r\n")[0].decode("latin-1") + "\n")
        head, body = forward(host, int(port), req[0], req[1])
        c.sendall(head + b"\r\n\r\n" + body)
        if b"connection: close" in head.lower():
            break
    c.close()
serve_sockets(serve)
PY
up=${MG_S3_ENDPOINT#http://}
t_start_helper PPORT "$MG_TMP/proxy.port" python3 "$MG_TMP/count.py" "${up%%/*}" "$MG_TMP/requests" ||
	{ t_fail "counting proxy" "$(cat "$MG_TMP/proxy.port.err")"; t_done; }
plan count "http://127.0.0.1:$PPORT"
for i in 0 1 2 3; do
	: >"$MG_TMP/requests"
	"$MIGRATE" --shard $i/4 --dry-run "$MG_TMP/count.yaml" 2>"$MG_TMP/count$i.err" |
		awk '$1 == "new" { print $NF }' >"$MG_TMP/ckeys$i"
	lists[i]=$(grep -c 'list-type=2' "$MG_TMP/requests")
	echo "# task $i: ${lists[i]} list requests, $(wc -l <"$MG_TMP/ckeys$i") objects; $(grep 'sample of' "$MG_TMP/count$i.err")"
done
sampled=$(sed -n 's/.*sample of the source (\([0-9]*\) list requests).*/\1/p' "$MG_TMP/count0.err")
# each task's connection opens with one listing (the S3 connector's check
# of endpoint and credentials): task 0 opens two, the sample's and the run's
[ -n "$sampled" ] && [ "$sampled" -le 24 ] && [ "${lists[0]}" -le $((sampled + 3)) ] &&
	t_ok "task 0 sampled the bucket in $sampled list requests (at most 4N+8 = 24); ${lists[0]} in all" ||
	t_fail "task 0 sample" "sampled '$sampled', ${lists[0]} list requests: $(cat "$MG_TMP/count0.err")"
ok=1
for i in 1 2 3; do
	grep -q "sample of the source" "$MG_TMP/count$i.err" && ok=0
	[ "${lists[i]}" -le 2 ] || ok=0
done
[ $ok = 1 ] && t_ok "tasks 1-3 read the boundaries and list only their own range (the open's check and one page: ${lists[1]}, ${lists[2]}, ${lists[3]} requests)" ||
	t_fail "tasks 1-3 list requests" "${lists[*]}"
[ "$(cat "$MG_TMP"/ckeys? | wc -l)" = 2200 ] && [ "$(sort -u "$MG_TMP"/ckeys? | wc -l)" = 2200 ] &&
	t_ok "through the proxy too: 2,200 objects, each in one task" ||
	t_fail "dry-run union" "$(cat "$MG_TMP"/ckeys? | wc -l) lines"
cmp -s <(grep -v '^#' "$B") <(grep -v '^#' "$MG_TMP/j-count/shard-prefixes-of-0004") &&
	t_ok "the same bucket sampled again gives the same boundaries" || t_fail "boundaries differ"

# --quiet keeps the sample's notice to itself (the boundaries are still
# written); a source that cannot be listed is fatal (3), not a plan error
plan quiet '${MG_S3_ENDPOINT}'
"$MIGRATE" --shard 0/4 --dry-run -q "$MG_TMP/quiet.yaml" >/dev/null 2>"$MG_TMP/quiet.err"
[ ! -s "$MG_TMP/quiet.err" ] && [ -s "$MG_TMP/j-quiet/shard-prefixes-of-0004" ] &&
	t_ok "with -q a new sample is taken without a word on standard error" ||
	t_fail "quiet sample" "$(cat "$MG_TMP/quiet.err")"
DEAD=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
plan dead "http://127.0.0.1:$DEAD"
t_exit "a source that cannot be listed for the boundaries exits 3" 3 \
	"$MIGRATE" --shard 1/4 --dry-run -q "$MG_TMP/dead.yaml"
t_grep "names the cause and the way out" "cannot open the source to find the shard boundaries.*shard: prefixes" "$MG_TMP/.out"
[ ! -e "$MG_TMP/j-dead/shard-prefixes-of-0004" ] && t_ok "and writes no boundaries" ||
	t_fail "boundaries written for a dead source"

# boundaries found for another source are refused, not used
sed -i "s|^# source .*|# source s3://another-bucket/|" "$MG_TMP/j-count/shard-prefixes-of-0004"
t_exit "a boundaries file of another source" 2 "$MIGRATE" --shard 1/4 --dry-run -q "$MG_TMP/count.yaml"
t_grep "says so and what to do" "found for another source: remove the file" "$MG_TMP/.out"
t_done
