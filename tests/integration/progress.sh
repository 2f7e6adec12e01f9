#!/usr/bin/env bash
# The progress line (issue 16.5) in a pseudo-terminal (util-linux
# script): while the listing runs it counts objects listed; once the
# listing is complete it shows percent of bytes and objects, the rate and
# an ETA; it is redrawn at most 4 times a second; stderr that is not a
# terminal gets no progress unless --progress asks; the summary splits the
# wall time into listing, transferring and waiting on the bandwidth limit.
. "$MG_SRCDIR/tests/lib.sh"

command -v script >/dev/null || t_skip_all "script (util-linux) is missing"

SRC=$MG_TMP/src
mkdir -p "$SRC"
for i in $(seq 1 40); do head -c 100000 /dev/urandom >"$SRC/f$i"; done
plan() {	# plan NAME: a plan into $MG_TMP/NAME
	cat >"$MG_TMP/$1.yaml" <<YAML
version: 1
name: progress-$1
source: "$SRC"
target: "$MG_TMP/$1"
journal: "$MG_TMP/$1.journal"
YAML
}

# 4 MB at 1 MiB/s: about 4 s, so the line is drawn many times
plan tty
T0=$(date +%s.%N)
script -qfc "'$MIGRATE' --bwlimit 1MiB/s '$MG_TMP/tty.yaml'" "$MG_TMP/tty.raw" \
	>/dev/null 2>&1
t_check "the run in a terminal exits 0" grep -aq 'COMMAND_EXIT_CODE="0"' "$MG_TMP/tty.raw"
T1=$(date +%s.%N)
tr '\r' '\n' <"$MG_TMP/tty.raw" >"$MG_TMP/tty.out"
t_grep "percent of bytes and objects once the listing ends" \
	'migrate: [0-9.]*% of bytes, [0-9.]*% of objects' "$MG_TMP/tty.out"
t_grep "an ETA once the listing ends" '\| ETA [0-9]*:[0-9][0-9]:[0-9][0-9]' "$MG_TMP/tty.out"
# before the ETA: only "listing: N objects so far" lines
first_eta=$(grep -an 'ETA' "$MG_TMP/tty.out" | head -1 | cut -d: -f1)
if [ -n "$first_eta" ] && ! head -n "$((first_eta - 1))" "$MG_TMP/tty.out" |
	grep -a '% of bytes' >/dev/null; then
	t_ok "no percent before the listing is complete"
else
	t_fail "no percent before the listing is complete" "$(head -5 "$MG_TMP/tty.out")"
fi
lines=$(grep -ac 'migrate: .*\(listing:\|ETA\)' "$MG_TMP/tty.out")
secs=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%d", b - a + 1 }')
if [ "$lines" -ge 2 ] && [ "$lines" -le $((secs * 4 + 1)) ]; then
	t_ok "redrawn at most 4 times a second ($lines lines in about $secs s)"
else
	t_fail "redrawn at most 4 times a second" "$lines lines in $secs s"
fi
t_grep "the summary splits the wall time" \
	'^time [0-9.]* s: listing [0-9.]* s .*transferring [0-9.]* s; waiting on the bandwidth limit [0-9.]* s' \
	"$MG_TMP/tty.out"
wait_s=$(sed -n 's/.*waiting on the bandwidth limit \([0-9.]*\) s.*/\1/p' "$MG_TMP/tty.out" | tail -1)
t_check "the wait on the limit is counted (${wait_s:-none} s)" \
	awk -v w="${wait_s:-0}" 'BEGIN { exit !(w > 0.5) }'

# not a terminal: no line; --progress forces it
plan pipe
"$MIGRATE" '--bwlimit' 20MiB/s "$MG_TMP/pipe.yaml" >/dev/null 2>"$MG_TMP/pipe.err"
if grep -aq 'ETA\|listing:' "$MG_TMP/pipe.err"; then
	t_fail "quiet when stderr is not a terminal" "$(head -3 "$MG_TMP/pipe.err")"
else
	t_ok "quiet when stderr is not a terminal"
fi
plan forced
"$MIGRATE" --progress --bwlimit 2MiB/s "$MG_TMP/forced.yaml" >/dev/null 2>"$MG_TMP/forced.err"
t_grep "--progress forces the line" 'ETA [0-9]' "$MG_TMP/forced.err"
"$MIGRATE" --json "$MG_TMP/forced.yaml" >"$MG_TMP/forced.json" 2>/dev/null
t_check "--json has the time split" \
	jq -e '.time_split | has("listing_s") and has("transfer_s") and has("bwlimit_wait_s") and has("wall_s")' \
	"$MG_TMP/forced.json"
t_done
