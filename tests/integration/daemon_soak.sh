#!/usr/bin/env bash
# migrate daemon for three minutes on `every: 2s` with churn (files added,
# rewritten and deleted before every run) into two targets in sync mode,
# watched from outside by tools/lib/soak.py: RSS, open descriptors and
# threads flat between runs, every run's counts right (none copied twice),
# the metrics file valid after every run, SIGTERM exits 0 and the targets
# hold exactly the source.  tools/bench --soak runs the same for an hour.
. "$MG_SRCDIR/tests/lib.sh"

secs=${MG_SOAK_SECONDS:-180}
python3 "$MG_SRCDIR/tools/lib/soak.py" --migrate "$MIGRATE" --dir "$MG_TMP/soak" \
	--seconds "$secs" --every 2s --json "$MG_TMP/soak.json" > "$MG_TMP/soak.out" 2>&1
rc=$?
[ -s "$MG_TMP/soak.json" ] || { t_fail "the soak ran" "exit $rc: $(tail -5 "$MG_TMP/soak.out")"; t_done; }
sed 's/^/# /' "$MG_TMP/soak.json"
runs=$(json_get "$MG_TMP/soak.json" runs)
[ "$runs" -ge $((secs / 6)) ] && t_ok "the daemon ran cycle after cycle ($runs runs in $secs s)" ||
	t_fail "too few runs: $runs in $secs s"
t_is "no check failed (counts, metrics, flat RSS/fds/threads, exit, trees)" "[]" \
	"$(jq -c .failures "$MG_TMP/soak.json")"
t_is "descriptors the same between runs" 1 "$(jq '.flat.fds | length' "$MG_TMP/soak.json")"
t_is "threads the same between runs" 1 "$(jq '.flat.threads | length' "$MG_TMP/soak.json")"
t_done
