#!/usr/bin/env bash
# Fan-out: one source to several targets, each with its own journal state.
# Small objects are read once for all targets; a target that cannot be
# reached fails alone (exit 1, the summary names it) and the next run
# catches it up without touching the other.  With an S3 server: one local
# tree to two buckets, one of them unreachable on the first run.
. "$MG_SRCDIR/tests/lib.sh"

S=$MG_TMP/src
mkdir -p "$S/d"
for i in $(seq 1 20); do head -c $((i * 1111)) /dev/urandom > "$S/d/f$i"; done
total=$(find "$S" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
: > "$MG_TMP/blocker"
cat > "$MG_TMP/plan.yaml" <<YAML
version: 1
name: fanout
source: "$S"
targets:
  - "$MG_TMP/one"
  - "$MG_TMP/blocker/two"
journal: "$MG_TMP/journal"
YAML
t_exit "one target unreachable: exit 1" 1 "$MIGRATE" --json "$MG_TMP/plan.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/r1.json"
t_grep "the summary names the failed target" "blocker/two.*(cannot create|not a folder)" "$MG_TMP/.out"
t_same_tree "the other target is complete" "$S" "$MG_TMP/one"
[ "$(json_get "$MG_TMP/r1.json" targets.1.fatal | head -c 10)" != "" ] &&
	t_ok "json names the fatal target" || t_fail "json fatal"

rm "$MG_TMP/blocker"; mkdir -p "$MG_TMP/blocker"
t_exit "next run catches up" 0 "$MIGRATE" --json "$MG_TMP/plan.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/r2.json"
t_same_tree "the second target is complete now" "$S" "$MG_TMP/blocker/two"
[ "$(json_get "$MG_TMP/r2.json" targets.0.copied.objects)" = 0 ] &&
[ "$(json_get "$MG_TMP/r2.json" targets.1.copied.objects)" = 20 ] &&
	t_ok "only the lagging target is served (0 and 20)" || t_fail "catch-up counts"

# a change reaches both, and is read once
printf 'changed\n' > "$S/d/f3"
head -c 5000 /dev/urandom > "$S/d/new"
t_exit "a change goes to both" 0 "$MIGRATE" --json "$MG_TMP/plan.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/r3.json"
[ "$(json_get "$MG_TMP/r3.json" targets.0.copied.objects)" = 2 ] &&
[ "$(json_get "$MG_TMP/r3.json" targets.1.copied.objects)" = 2 ] &&
	t_ok "2 objects to each target" || t_fail "2 to each"
[ "$(json_get "$MG_TMP/r3.json" source_counters.bytes_read)" = 5008 ] &&
[ "$(json_get "$MG_TMP/r3.json" source_counters.requests.get)" = 2 ] &&
	t_ok "the source is read once for both targets (5008 bytes, 2 GETs)" ||
	t_fail "read once" "$(json_get "$MG_TMP/r3.json" source_counters)"
t_same_tree "target one identical" "$S" "$MG_TMP/one"
t_same_tree "target two identical" "$S" "$MG_TMP/blocker/two"
t_exit "estimate for two targets" 0 "$MIGRATE" estimate "$MG_TMP/plan.yaml"
t_grep "estimate shows both targets" "blocker/two" "$MG_TMP/.out"

if [ -z "${MG_S3_ENDPOINT:-}" ]; then
	t_skip "two buckets" "MG_S3_ENDPOINT is not set"
	t_done
fi
s3_cli
s3_new_bucket B1 mg-fan1 && s3_new_bucket B2 mg-fan2 || { t_fail "create buckets"; t_done; }
s3plan() {	# s3plan ENDPOINT-OF-SECOND
	cat > "$MG_TMP/s3.yaml" <<YAML
version: 1
name: fanout-s3
source: "$S"
targets:
  - url: "s3://$B1/r/"
    endpoint: "$MG_S3_ENDPOINT"
    region: us-east-1
    access_key_id: \${MG_S3_ACCESS_KEY}
    secret_access_key: \${MG_S3_SECRET_KEY}
  - url: "s3://$B2/r/"
    endpoint: "$1"
    region: us-east-1
    access_key_id: \${MG_S3_ACCESS_KEY}
    secret_access_key: \${MG_S3_SECRET_KEY}
journal: "$MG_TMP/journal-s3"
YAML
}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
s3plan "http://127.0.0.1:$port"
t_exit "second bucket unreachable: exit 1" 1 "$MIGRATE" "$MG_TMP/s3.yaml"
t_grep "the summary names the unreachable one" "$port" "$MG_TMP/.out"
"${AWS[@]}" s3 cp --recursive "s3://$B1/r/" "$MG_TMP/back1" >/dev/null 2>&1
t_same_tree "the first bucket is complete (read back by the AWS CLI)" "$S" "$MG_TMP/back1"
s3plan "$MG_S3_ENDPOINT"
t_exit "next run catches the second bucket up" 0 "$MIGRATE" --json "$MG_TMP/s3.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/r4.json"
[ "$(json_get "$MG_TMP/r4.json" targets.0.copied.objects)" = 0 ] &&
	t_ok "nothing resent to the first bucket" || t_fail "first bucket untouched"
"${AWS[@]}" s3 cp --recursive "s3://$B2/r/" "$MG_TMP/back2" >/dev/null 2>&1
t_same_tree "the second bucket is complete" "$S" "$MG_TMP/back2"
t_done
