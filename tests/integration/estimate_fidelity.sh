#!/usr/bin/env bash
# `migrate estimate` must count what the real run then does: the same
# objects and bytes, and the same requests by class at the source and at
# the target (local to local, and local to S3 with multipart on Ceph RGW),
# and after the move the estimate of a rerun is zero work.  Also: the
# report forms (table, --json, --html, --compare) and their errors.
. "$MG_SRCDIR/tests/lib.sh"

S=$MG_TMP/src
mkdir -p "$S/a/b" "$S/c d"
for i in $(seq 1 30); do head -c $((i * 997)) /dev/urandom > "$S/a/b/f$i"; done
: > "$S/empty"
printf 'é' > "$S/c d/ünï"
head -c $((13 * 1024 * 1024 + 5)) /dev/urandom > "$S/big.bin"
head -c $((6 * 1024 * 1024)) /dev/urandom > "$S/c d/six.bin"

# compare EST.json RUN.json LABEL: every request class and the bytes
compare() {
	python3 - "$1" "$2" <<'PY' > "$MG_TMP/cmp.out" 2>&1
import json, sys
est = json.load(open(sys.argv[1]))["scenarios"][0]
run = json.load(open(sys.argv[2]))
t = run["targets"][0]
bad = []
for side, got in (("source", run["source_counters"]["requests"]),
                  ("target", t["counters"]["requests"])):
    for k, v in est["requests"][side].items():
        if got.get(k, 0) != v:
            bad.append("%s %s: estimate %d, run %d" % (side, k, v, got.get(k, 0)))
if est["bytes_read"] != run["source_counters"]["bytes_read"]:
    bad.append("bytes read: estimate %d, run %d" % (est["bytes_read"], run["source_counters"]["bytes_read"]))
n = est["counts"]["new"]["objects"] + est["counts"]["changed"]["objects"]
if n != t["copied"]["objects"]:
    bad.append("objects: estimate %d, run %d" % (n, t["copied"]["objects"]))
print("\n".join(bad) if bad else "same")
sys.exit(1 if bad else 0)
PY
	if [ $? -eq 0 ]; then t_ok "$3"; else t_fail "$3" "$(cat "$MG_TMP/cmp.out")"; fi
}

cat > "$MG_TMP/local.yaml" <<YAML
version: 1
name: est-local
source: "$S"
target: "$MG_TMP/dst"
journal: "$MG_TMP/j-local"
transfer: { bandwidth: 50MB/s }
YAML
t_exit "estimate local->local" 0 "$MIGRATE" estimate --json "$MG_TMP/local.yaml"
cp "$MG_TMP/.out" "$MG_TMP/est1.json"
[ ! -e "$MG_TMP/dst" ] && t_ok "estimate moves nothing" || t_fail "estimate moved data"
t_exit "run local->local" 0 "$MIGRATE" --json --bwlimit 0 "$MG_TMP/local.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/run1.json"
compare "$MG_TMP/est1.json" "$MG_TMP/run1.json" "local: estimate counts what the run did"
t_exit "estimate after the move" 0 "$MIGRATE" estimate --json "$MG_TMP/local.yaml"
[ "$(json_get "$MG_TMP/.out" scenarios.0.counts.new.objects)" = 0 ] &&
[ "$(json_get "$MG_TMP/.out" scenarios.0.counts.unchanged.objects)" = 34 ] &&
[ "$(json_get "$MG_TMP/.out" scenarios.0.bytes_read)" = 0 ] &&
	t_ok "estimate of a rerun: 34 unchanged, nothing to read" || t_fail "estimate of a rerun"
t_exit "estimate table" 0 "$MIGRATE" estimate "$MG_TMP/local.yaml"
t_grep "table shows the total" "total for the month of the move" "$MG_TMP/.out"
t_exit "estimate --compare" 0 "$MIGRATE" estimate --compare b2,r2,wasabi,aws-s3 "$MG_TMP/local.yaml"
t_grep "compare lists the four providers" "backblaze-b2" "$MG_TMP/.out"
order=$(grep -Eo '^  (backblaze-b2|cloudflare-r2|wasabi|aws-s3) ' "$MG_TMP/.out" | tr -d ' ' | tr '\n' ' ')
[ "$(echo "$order" | wc -w)" = 4 ] && t_ok "compare prints one row per provider ($order)" ||
	t_fail "compare rows" "$order"
t_exit "estimate --html" 0 "$MIGRATE" estimate --html "$MG_TMP/r.html" --compare b2,r2 "$MG_TMP/local.yaml"
grep -q '<svg' "$MG_TMP/r.html" && ! grep -Eq '(src|href)="https?:' "$MG_TMP/r.html" &&
	t_ok "html report is self-contained with SVG" || t_fail "html report"
t_exit "unknown provider in --compare: exit 2" 2 "$MIGRATE" estimate --compare nosuchcloud "$MG_TMP/local.yaml"
t_grep "names the provider" "nosuchcloud" "$MG_TMP/.out"
t_exit "--compare without estimate: exit 2" 2 "$MIGRATE" --compare b2 "$MG_TMP/local.yaml"

t_s3_part "local->S3 fidelity" BUCKET mg-est
cat > "$MG_TMP/s3.yaml" <<YAML
version: 1
name: est-s3
source: "$S"
target:
  url: s3://$BUCKET/est/
  endpoint: \${MG_S3_ENDPOINT}
  region: \${MG_S3_REGION}
  provider: ceph
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
journal: "$MG_TMP/j-s3"
transfer: { multipart_threshold: 5MiB, part_size: 5MiB, concurrency: 4 }
YAML
t_exit "estimate local->S3" 0 "$MIGRATE" estimate --json "$MG_TMP/s3.yaml"
cp "$MG_TMP/.out" "$MG_TMP/est2.json"
[ "$(json_get "$MG_TMP/est2.json" scenarios.0.requests.target.upload_part)" = 5 ] &&
	t_ok "estimate plans 5 parts (13 MiB in 5 MiB parts: 3, 6 MiB: 2)" ||
	t_fail "estimate parts" "$(json_get "$MG_TMP/est2.json" scenarios.0.requests.target)"
t_exit "run local->S3" 0 "$MIGRATE" --json "$MG_TMP/s3.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/run2.json"
compare "$MG_TMP/est2.json" "$MG_TMP/run2.json" "S3: estimate counts what the run did, request by request"

# A no-op rerun priced at R2 is within its monthly free tier: $0, not the
# $4.50 of one million rounded up per estimate (18.7).
t_exit "estimate a rerun, compared at R2" 0 "$MIGRATE" estimate --json --compare r2 "$MG_TMP/s3.yaml"
n=$(jq '.scenarios[0].requests.target | add' "$MG_TMP/.out")
[ "$n" -gt 0 ] && [ "$(json_get "$MG_TMP/.out" scenarios.0.cost_usd.target_requests)" = 0 ] &&
	t_ok "rerun at R2: $n requests within the free tier, \$0" ||
	t_fail "rerun at R2" "$n requests, $(json_get "$MG_TMP/.out" scenarios.0.cost_usd)"
# An endpoint the price table does not know is not priced as a local
# disk at $0: the estimate asks for 'provider'.
sed '/provider: ceph/d' "$MG_TMP/s3.yaml" > "$MG_TMP/s3-noprov.yaml"
t_exit "estimate at an unknown endpoint: exit 2" 2 "$MIGRATE" estimate "$MG_TMP/s3-noprov.yaml"
t_grep "asks for provider" "set 'provider:' on it" "$MG_TMP/.out"

# Killed, then resumed (18.1): the estimate of the resume counts a
# ListParts per journaled upload, only the missing parts, and reads only
# the bytes after the journaled parts; the resumed run does exactly that.
mkdir -p "$MG_TMP/res"
head -c $((30 * 1024 * 1024 + 7)) /dev/urandom > "$MG_TMP/res/thirty.bin"
head -c 4000 /dev/urandom > "$MG_TMP/res/small.txt"
sed -e "s|^source: .*|source: \"$MG_TMP/res\"|" -e 's|/est/|/res/|' \
    -e 's|concurrency: 4|concurrency: 1|' -e "s|j-s3|j-res|" "$MG_TMP/s3.yaml" > "$MG_TMP/res.yaml"
t_kill_at part:3 "$MIGRATE" --no-progress "$MG_TMP/res.yaml" >"$MG_TMP/kill.out" 2>&1
[ $? = 137 ] && t_ok "run killed after the 3rd part" || t_fail "kill at part:3" "$(cat "$MG_TMP/kill.out")"
t_exit "estimate the resume" 0 "$MIGRATE" estimate --json "$MG_TMP/res.yaml"
cp "$MG_TMP/.out" "$MG_TMP/est-res.json"
[ "$(json_get "$MG_TMP/est-res.json" scenarios.0.requests.target.list_parts)" = 1 ] &&
[ "$(json_get "$MG_TMP/est-res.json" scenarios.0.requests.target.upload_part)" = 4 ] &&
[ "$(json_get "$MG_TMP/est-res.json" scenarios.0.requests.target.create_multipart)" = 0 ] &&
	t_ok "estimate: 1 ListParts, the 4 missing of 7 parts, no new upload" ||
	t_fail "estimate of the resume" "$(jq -c '.scenarios[0].requests.target' "$MG_TMP/est-res.json")"
t_exit "resume" 0 "$MIGRATE" --json "$MG_TMP/res.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/run-res.json"
compare "$MG_TMP/est-res.json" "$MG_TMP/run-res.json" "resume: estimate counts what the resumed run did, request by request and in bytes"

# An object above S3's 5 GiB single-PUT limit with multipart_threshold
# above it cannot be sent (18.3): check refuses the plan, the estimate
# counts it failed (no upload priced), as the run fails it.  A sparse file:
# nothing is read to estimate.
mkdir -p "$MG_TMP/huge"
truncate -s $((6 * 1024 * 1024 * 1024)) "$MG_TMP/huge/six-gib.img"
printf 'small\n' > "$MG_TMP/huge/small.txt"
sed -e "s|^source: .*|source: \"$MG_TMP/huge\"|" -e 's|/est/|/huge/|' \
    -e 's|multipart_threshold: 5MiB|multipart_threshold: 8GiB|' \
    -e "s|j-s3|j-huge|" "$MG_TMP/s3.yaml" > "$MG_TMP/huge.yaml"
t_exit "check refuses multipart_threshold above 5 GiB" 2 "$MIGRATE" check "$MG_TMP/huge.yaml"
t_grep "says what to lower" "lower multipart_threshold to 5.0 GiB or less" "$MG_TMP/.out"
t_exit "estimate with an object the run cannot send" 0 "$MIGRATE" estimate --json "$MG_TMP/huge.yaml"
cp "$MG_TMP/.out" "$MG_TMP/est-huge.json"
[ "$(json_get "$MG_TMP/est-huge.json" scenarios.0.counts.failed.objects)" = 1 ] &&
[ "$(json_get "$MG_TMP/est-huge.json" scenarios.0.counts.failed.bytes)" = 6442450944 ] &&
[ "$(json_get "$MG_TMP/est-huge.json" scenarios.0.requests.target.put)" = 1 ] &&
[ "$(json_get "$MG_TMP/est-huge.json" scenarios.0.bytes_read)" = 6 ] &&
	t_ok "estimate: the 6 GiB object failed, only the small one sent" ||
	t_fail "estimate of an unsendable object" "$(jq -c '.scenarios[0] | .counts, .requests.target, .bytes_read' "$MG_TMP/est-huge.json")"
jq -r '.scenarios[0].warnings[]' "$MG_TMP/est-huge.json" | grep -q 'cannot be sent to this target' &&
	t_ok "the estimate warns" || t_fail "no warning" "$(jq -c '.scenarios[0].warnings' "$MG_TMP/est-huge.json")"
t_done
