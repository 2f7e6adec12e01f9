#!/usr/bin/env bash
# A warning about the whole plan (dedupe's unknown content: the source's,
# not one target's) is said once in the text report, labelled plan-wide,
# as the HTML report says it, not repeated in every target's block; a
# target's own warning stays in its block.
. "$MG_SRCDIR/tests/lib.sh"

S=$MG_TMP/src
mkdir -p "$S"
for i in 1 2 3; do head -c $((i * 1000)) /dev/urandom > "$S/f$i"; done
cat > "$MG_TMP/plan.yaml" <<YAML
version: 1
name: warn
source: "$S"
targets:
  - "$MG_TMP/one"
  - "$MG_TMP/two"
journal: "$MG_TMP/journal"
transfer: { dedupe: true }
YAML
t_exit "estimate two targets with dedupe" 0 "$MIGRATE" estimate --html "$MG_TMP/r.html" "$MG_TMP/plan.yaml"
n=$(grep -c 'content of 3 objects to send is unknown' "$MG_TMP/.out")
[ "$n" = 1 ] && grep -q '^  warning (plan-wide): dedupe: the content of 3' "$MG_TMP/.out" &&
	t_ok "text: the dedupe warning once, labelled plan-wide" ||
	t_fail "text warnings" "$n times: $(grep -n warning "$MG_TMP/.out")"
n=$(grep -o 'content of 3 objects to send is unknown' "$MG_TMP/r.html" | wc -l)
[ "$n" = 1 ] && grep -q "<div class='warn'>plan-wide: dedupe: the content of 3" "$MG_TMP/r.html" &&
	t_ok "html: the same, once and plan-wide" || t_fail "html warnings" "$n times"
t_done
