#!/usr/bin/env bash
# The price rules that need the walk: a sync's deletes and overwrites are
# charged for the rest of the provider's minimum storage duration from
# the journal's copy times (an overwrite counts as a delete); objects
# below the minimum billable size are billed at it; a no-op rerun at R2
# is within the monthly free tier ($0, not $4.50), and exact with
# 'pricing: { free_tier: used }'.
. "$MG_SRCDIR/tests/lib.sh"

S=$MG_TMP/src D=$MG_TMP/dst
mkdir -p "$S/s"
head -c 1000000 /dev/urandom > "$S/one"
head -c 2000000 /dev/urandom > "$S/two"
head -c 5000000 /dev/urandom > "$S/stays"
for i in $(seq 1 10); do head -c 100 /dev/urandom > "$S/s/f$i"; done
mkplan() {	# mkplan PROVIDER [EXTRA-YAML]
	cat > "$MG_TMP/plan.yaml" <<YAML
version: 1
name: minimums
mode: sync
source: "$S"
target: { url: "$D", provider: $1 }
journal: "$MG_TMP/journal"
${2:-}
YAML
}
mkplan wasabi
t_exit "first sync" 0 "$MIGRATE" "$MG_TMP/plan.yaml"

# one deleted, one overwritten (its old copy 2,000,000 bytes): both were
# copied moments ago, so 90 days of Wasabi's minimum are left on 3,000,000
# bytes = 0.00279397 GiB x 90 = 0.2514570 GiB-days
rm "$S/one"
head -c 2000001 /dev/urandom > "$S/two"
t_exit "estimate the sync" 0 "$MIGRATE" estimate --json "$MG_TMP/plan.yaml"
jq '.scenarios[0].breakdown[] | select(.component == "early_delete")' "$MG_TMP/.out" > "$MG_TMP/early.json"
q=$(jq -r '.quantity' "$MG_TMP/early.json")
awk -v q="$q" 'BEGIN { w = 3000000 / 1073741824 * 90; exit !(q > w * 0.9999 && q < w * 1.0001) }' &&
	t_ok "early deletion: 2 objects, 3,000,000 bytes x 90 days ($q GiB-days)" ||
	t_fail "early deletion quantity" "got '$q', want 0.251457 GiB-days; $(cat "$MG_TMP/early.json")"
grep -q '"2 objects' "$MG_TMP/early.json" && t_ok "the delete and the overwrite both count" ||
	t_fail "early deletion objects" "$(jq -r .how "$MG_TMP/early.json")"
# ten 100-byte objects billed as 4 KiB each: 10 x 3,996 bytes more
jq -r '.scenarios[0].breakdown[] | select(.component == "storage_monthly") | .how' "$MG_TMP/.out" > "$MG_TMP/storage.txt"
grep -q 'billed for objects below the minimum object size of 4096 bytes' "$MG_TMP/storage.txt" &&
	t_ok "objects below 4 KiB are billed at 4 KiB" || t_fail "minimum object size" "$(cat "$MG_TMP/storage.txt")"
pad=$(grep -o '+ [0-9.e-]* GiB billed' "$MG_TMP/storage.txt" | awk '{ print $2 }')
awk -v p="$pad" 'BEGIN { w = 39960 / 1073741824; exit !(p > w * 0.98 && p < w * 1.02) }' &&
	t_ok "padding is 10 x 3,996 bytes" || t_fail "padding" "got '$pad'"
t_exit "sync" 0 "$MIGRATE" "$MG_TMP/plan.yaml"

# a provider without a minimum duration charges none
mkplan backblaze-b2
rm "$S/stays"
t_exit "estimate at b2" 0 "$MIGRATE" estimate --json "$MG_TMP/plan.yaml"
[ "$(json_get "$MG_TMP/.out" scenarios.0.cost_usd.early_delete)" = 0 ] &&
	t_ok "no minimum duration at B2" || t_fail "b2 early delete" "$(json_get "$MG_TMP/.out" scenarios.0.cost_usd)"
t_exit "sync" 0 "$MIGRATE" "$MG_TMP/plan.yaml"

# R2: the 10 GB-month of the monthly free tier covers what is stored;
# with the free tier used elsewhere it is billed (the requests side, on a
# real S3 server, is in estimate_fidelity.sh)
mkplan cloudflare-r2
t_exit "estimate at R2" 0 "$MIGRATE" estimate --json "$MG_TMP/plan.yaml"
jq -r '.scenarios[0].breakdown[] | select(.component == "storage_monthly") | .how' "$MG_TMP/.out" > "$MG_TMP/storage.txt"
grep -q 'first 10 GB free; within the free storage' "$MG_TMP/storage.txt" &&
	t_ok "R2 storage within the free tier" || t_fail "R2 free storage" "$(cat "$MG_TMP/storage.txt")"
mkplan cloudflare-r2 'pricing: { free_tier: used }'
t_exit "estimate with the free tier used" 0 "$MIGRATE" estimate --json "$MG_TMP/plan.yaml"
jq -r '.scenarios[0].breakdown[] | select(.component == "storage_monthly") | .how' "$MG_TMP/.out" > "$MG_TMP/storage.txt"
grep -q '^[0-9.]* GB-month x \$0.015 per GB-month' "$MG_TMP/storage.txt" &&
	t_ok "free tier used: storage billed from the first byte" || t_fail "free tier used" "$(cat "$MG_TMP/storage.txt")"
mkplan cloudflare-r2 'pricing: { free_tier: spent }'
t_exit "a wrong free_tier word: exit 2" 2 "$MIGRATE" estimate "$MG_TMP/plan.yaml"
t_grep "says the words" "'free_tier' must be unused or used" "$MG_TMP/.out"
t_done
