#!/usr/bin/env bash
# The estimate's HTML page (18.8): a plan with several targets shows every
# target without --compare; a warning about the plan (dedupe not foreseen,
# the same for every provider compared) is shown once, labelled plan-wide,
# not as one provider's; a page writes sizes in one unit system and says
# which (binary only when every provider on it bills in GiB), a bill line
# in the other system saying so.  The text report says plan-wide notes
# the same way.
. "$MG_SRCDIR/tests/lib.sh"

S=$MG_TMP/src
mkdir -p "$S"
for i in 1 2 3; do head -c $((i * 300000)) /dev/urandom > "$S/f$i"; done
cat > "$MG_TMP/two.yaml" <<YAML
version: 1
name: two
source: "$S"
targets:
  - { url: "$MG_TMP/one", provider: wasabi }
  - { url: "$MG_TMP/two", provider: backblaze-b2 }
journal: "$MG_TMP/journal"
transfer: { bandwidth: 2MB/s }
YAML
H=$MG_TMP/two.html
t_exit "estimate --html of two targets" 0 "$MIGRATE" estimate --html "$H" "$MG_TMP/two.yaml"
grep -q "Target 1 of 2: $MG_TMP/one" "$H" && grep -q "Target 2 of 2: $MG_TMP/two" "$H" &&
	t_ok "both targets shown" || t_fail "targets in the page" "$(grep -o 'Target [0-9] of [0-9][^<]*' "$H")"
grep -q "the plan&#39;s bill\|the plan's bill" "$H" && t_ok "the plan's bill shown" || t_fail "no plan bill"
[ "$(grep -c 'class=.warn.>plan-wide: dedupe: the content of 3 objects' "$H")" = 1 ] &&
! grep -q "class=.warn.>dedupe:" "$H" &&
	t_ok "the dedupe note is shown once, as plan-wide" ||
	t_fail "plan-wide warning" "$(grep -o "class=.warn.>[^<]*" "$H")"
# the text report agrees: the plan's note once, after the target blocks,
# labelled plan-wide, not once in every target's block
[ "$(grep -c 'dedupe: the content of 3 objects' "$MG_TMP/.out")" = 1 ] &&
grep -q '^  warning (plan-wide): dedupe: the content of 3 objects' "$MG_TMP/.out" &&
	t_ok "text: the dedupe note once, plan-wide, as in the page" ||
	t_fail "text warnings of two targets" "$(grep -n warning "$MG_TMP/.out")"

# --compare: the same move at each provider; the note is the plan's
H=$MG_TMP/cmp.html
t_exit "estimate --html --compare" 0 "$MIGRATE" estimate --html "$H" --compare wasabi,aws-s3,r2 "$MG_TMP/two.yaml"
[ "$(grep -c 'plan-wide: dedupe' "$H")" = 1 ] && ! grep -Eq 'class=.warn.>(wasabi|aws-s3|cloudflare-r2): dedupe' "$H" &&
	t_ok "compare: the dedupe note once, plan-wide" || t_fail "compare warnings" "$(grep -o "class=.warn.>[^<]*" "$H")"
t_exit "estimate --compare (text)" 0 "$MIGRATE" estimate --compare wasabi,aws-s3 "$MG_TMP/two.yaml"
[ "$(grep -c 'warning (plan-wide): dedupe' "$MG_TMP/.out")" = 1 ] &&
	t_ok "text: the dedupe note once, plan-wide" || t_fail "text warnings" "$(grep warning "$MG_TMP/.out")"
# GB and GiB providers on one page: decimal sizes, stated; the one GiB
# bill line (Wasabi's) and its price source say it is the provider's unit
grep -q 'sizes in decimal units (1 GB = 10<sup>9</sup> bytes)' "$H" &&
	t_ok "mixed page: decimal, stated" || t_fail "unit statement" "$(grep -o 'sizes in [^<]*' "$H")"
if grep -Eq '[0-9] (KiB|MiB)' "$H" || grep 'GiB' "$H" | grep -v 'bills in GiB\|GiB = 2<sup>30\|GiB (2<sup>30' | grep -q GiB; then
	t_fail "one unit system" "$(grep -E '[0-9] (KiB|MiB|GiB)' "$H" | head -3)"
else
	t_ok "no binary size outside the provider's own bill line"
fi
grep -Eq '<td class=.n.>[0-9.]+ (kB|MB)</td>' "$H" && t_ok "counts in decimal units" || t_fail "counts units"
# every provider in GiB: a binary page
H=$MG_TMP/wasabi.html
t_exit "estimate --html --compare wasabi" 0 "$MIGRATE" estimate --html "$H" --compare wasabi "$MG_TMP/two.yaml"
grep -q 'sizes in binary units (1 GiB = 2<sup>30</sup> bytes)' "$H" && ! grep -Eq '[0-9] (kB|MB|GB)<' "$H" &&
	t_ok "GiB-only page: binary, stated" || t_fail "binary page" "$(grep -o 'sizes in [^<]*' "$H")"
t_done
