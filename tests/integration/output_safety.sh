#!/usr/bin/env bash
# What migrate writes outside its targets cannot be redirected, and what it
# prints cannot act on a terminal or a spreadsheet (issue 13, items 3, 5, 6):
#  - symlinks planted at the old predictable temporary names of the
#    daemon's metrics file and of `estimate --html` ("<file>.tmp.<pid>"),
#    and at the destinations themselves, leave the linked-to file (0600,
#    its own content) untouched; --log-json refuses a planted link;
#  - keys holding ESC sequences (OSC title, clear screen) come out of the
#    dry-run list, verify and lineage without a single 0x1b byte;
#  - lineage --csv quotes and neutralises formula-like keys, and python's
#    csv module reads back exactly the neutralised values;
#  - verify --json names a key that is not UTF-8 percent-escaped, flagged;
#  - -q still prints the reason of a fatal error.
. "$MG_SRCDIR/tests/lib.sh"

SRC=$MG_TMP/src DST=$MG_TMP/dst
mkdir -p "$SRC"
printf 'one\n' > "$SRC/plain.txt"

# the file an attacker would like us to overwrite: private, with content
VICTIM=$MG_TMP/victim
printf 'precious: not to be overwritten\n' > "$VICTIM"
chmod 0600 "$VICTIM"
victim_intact() {	# victim_intact NAME [FILE]
	local f=${2:-$VICTIM}
	if [ "$(cat "$f")" = "precious: not to be overwritten" ] &&
	   [ "$(stat -c %a "$f")" = 600 ] && [ ! -L "$f" ]; then
		t_ok "$1"
	else
		t_fail "$1" "$(stat -c '%a %s' "$f"): $(head -c 200 "$f")"
	fi
}

cat > "$MG_TMP/plan.yaml" <<YAML
version: 1
name: safety
source: "$SRC"
target: "$DST"
journal: "$MG_TMP/journal"
YAML

# --- estimate --html: a link at "<report>.tmp.<pid>", the pid being the
# one `exec` keeps
R=$MG_TMP/report.html
t_exit "estimate --html with a link planted at the old temp name" 0 \
	bash -c 'ln -s "$1" "$2.tmp.$$" && exec "$3" estimate --html "$2" "$4"' _ \
	"$VICTIM" "$R" "$MIGRATE" "$MG_TMP/plan.yaml"
victim_intact "the linked-to file is untouched (estimate temp name)"
[ -f "$R" ] && [ ! -L "$R" ] && grep -q '</html>' "$R" &&
	t_ok "the report is written, a regular file" || t_fail "the report is written"
[ "$(stat -c %a "$R")" = "$(printf '%o' $((0644 & ~$(umask))))" ] &&
	t_ok "the report has mode 0644 under the umask" || t_fail "report mode $(stat -c %a "$R")"
[ -z "$(ls "$MG_TMP" | grep -E '^report\.html\.[A-Za-z0-9]{6}$')" ] &&
	t_ok "no temporary file left" || t_fail "no temporary file left" "$(ls "$MG_TMP")"

# the destination itself is a link: it is replaced, not written through
R2=$MG_TMP/report2.html
ln -s "$VICTIM" "$R2"
t_exit "estimate --html over a link" 0 "$MIGRATE" estimate --html "$R2" "$MG_TMP/plan.yaml"
victim_intact "the linked-to file is untouched (estimate destination)"
[ -f "$R2" ] && [ ! -L "$R2" ] && grep -q '</html>' "$R2" &&
	t_ok "the link was replaced by the report" || t_fail "the link was replaced by the report"

# --- the daemon's metrics file, the same two ways
M=$MG_TMP/metrics.prom M2=$MG_TMP/metrics2.prom VICTIM2=$MG_TMP/victim2
cp -p "$VICTIM" "$VICTIM2"
ln -s "$VICTIM2" "$M2"
for m in "$M" "$M2"; do
	cat > "$MG_TMP/d.yaml" <<YAML
version: 1
name: safety-daemon
source: "$SRC"
target: "$MG_TMP/dst-d"
journal: "$MG_TMP/journal-d-$(basename "$m")"
schedule: { every: 1h }
metrics: { file: "$m" }
YAML
	# a log per daemon: the shell truncates it in the child, after the
	# loop below may have looked
	DLOG=$m.log
	bash -c 'ln -s "$1" "$2.tmp.$$" && exec "$3" daemon "$4"' _ "$VICTIM" "$m" \
		"$MIGRATE" "$MG_TMP/d.yaml" 2>"$DLOG" &
	dpid=$!
	t_at_exit "kill $dpid 2>/dev/null"
	for ((i = 0; i < 150; i++)); do
		grep -q 'run 1:' "$DLOG" 2>/dev/null && break
		sleep 0.1
	done
	kill -TERM "$dpid"; wait "$dpid"
	grep -q 'run 1:' "$DLOG" && t_ok "daemon ran ($(basename "$m"))" ||
		t_fail "daemon ran" "$(cat "$DLOG")"
done
victim_intact "the linked-to file is untouched (metrics temp name)"
victim_intact "the linked-to file is untouched (metrics destination)" "$VICTIM2"
for m in "$M" "$M2"; do
	[ -f "$m" ] && [ ! -L "$m" ] && grep -q '^migrate_runs_total' "$m" &&
		t_ok "$(basename "$m") is a regular file with the metrics" ||
		t_fail "$(basename "$m") is a regular file with the metrics" "$(ls -l "$m")"
done

# --- --log-json does not append through a planted link
ln -s "$VICTIM" "$MG_TMP/events.log"
t_exit "--log-json refuses a symlink: exit 2" 2 \
	"$MIGRATE" --log-json "$MG_TMP/events.log" "$MG_TMP/plan.yaml"
victim_intact "the linked-to file is untouched (--log-json)"

# --- terminal escapes in keys
ESC1=$(printf 'osc\033]0;pwned\007title.txt')
ESC2=$(printf 'clear\033[2Jscreen.txt')
printf 'x\n' > "$SRC/$ESC1"
printf 'y\n' > "$SRC/$ESC2"
no_esc() {	# no_esc NAME FILE: no ESC byte, and the escape shown as \x1b
	if grep -q $'\033' "$2"; then
		t_fail "$1" "raw ESC in: $(od -c "$2" | head -5)"
	elif ! grep -qF '\x1b' "$2"; then
		t_fail "$1" "no \\x1b in: $(head -c 500 "$2")"
	else
		t_ok "$1"
	fi
}
"$MIGRATE" --dry-run "$MG_TMP/plan.yaml" > "$MG_TMP/dry.out" 2>&1
no_esc "dry-run list: keys escaped" "$MG_TMP/dry.out"
t_exit "the copy" 0 "$MIGRATE" -q "$MG_TMP/plan.yaml"
"$MIGRATE" lineage "$MG_TMP/plan.yaml" > "$MG_TMP/lin.out" 2>&1
grep -q $'\033' "$MG_TMP/lin.out" && t_fail "lineage: no raw ESC" || t_ok "lineage: no raw ESC"
rm "$DST/$ESC1"
printf 'other content\n' > "$DST/$ESC2"
"$MIGRATE" verify "$MG_TMP/plan.yaml" > "$MG_TMP/verify.out" 2>&1
no_esc "verify: keys escaped" "$MG_TMP/verify.out"
t_grep "verify still names them" 'osc\\x1b\]0;pwned\\x07title.txt.*missing' "$MG_TMP/verify.out"

# --- a key that is not UTF-8 in verify --json: percent-escaped, flagged
printf 'z\n' > "$SRC/bad"$'\xff'"name"
t_exit "copy the non-UTF-8 name" 0 "$MIGRATE" -q "$MG_TMP/plan.yaml"
rm "$DST/bad"$'\xff'"name"
"$MIGRATE" verify --json "$MG_TMP/plan.yaml" > "$MG_TMP/v.json" 2>/dev/null
python3 - "$MG_TMP/v.json" > "$MG_TMP/why" 2>&1 <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
p = {x["key"]: x for x in doc[0]["problems"]}
assert "bad%FFname" in p, p
assert p["bad%FFname"]["key_escaped"] is True, p
assert p["bad%FFname"]["problem"] == "missing at the target", p
assert doc[0]["missing"] == 2, doc[0]
PY
[ $? = 0 ] && t_ok "verify --json: a non-UTF-8 key is percent-escaped and flagged" ||
	t_fail "verify --json: non-UTF-8 key" "$(cat "$MG_TMP/why")"

# --- CSV injection
C=$MG_TMP/csrc
mkdir -p "$C/=cmd|' "
printf '1' > "$C/=cmd|' /C calc'!A0"
printf '2' > "$C/+1"
printf '3' > "$C/@SUM(1)"
printf '4' > "$C/-2"
printf '5' > "$C/"$'\t'"tab"
printf '6' > "$C/'quoted"
printf '7' > "$C/a,b\"c"$'\n'"d"
printf '8' > "$C/normal"
cat > "$MG_TMP/csv.yaml" <<YAML
version: 1
name: csv
source: "$C"
target: "$MG_TMP/cdst"
journal: "$MG_TMP/journal-csv"
YAML
t_exit "copy the formula-like keys" 0 "$MIGRATE" -q "$MG_TMP/csv.yaml"
"$MIGRATE" lineage --csv "$MG_TMP/csv.yaml" > "$MG_TMP/l.csv"
python3 - "$MG_TMP/l.csv" > "$MG_TMP/why" 2>&1 <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8", newline="")))
got = sorted(r["key"] for r in rows)
want = sorted(["'=cmd|' /C calc'!A0", "'+1", "'@SUM(1)", "'-2", "'\ttab", "''quoted",
               'a,b"c\nd', "normal"])
assert got == want, "got %r\nwant %r" % (got, want)
# every cell a spreadsheet would run as a formula is neutralised
for r in rows:
    for k, v in r.items():
        assert not v or v[0] not in "=+-@\t\r", "%s: %r" % (k, v)
PY
[ $? = 0 ] && t_ok "lineage --csv: formula-like keys neutralised, read back by python's csv" ||
	t_fail "lineage --csv neutralises formulas" "$(cat "$MG_TMP/why")"
# raw: every text field quoted, the neutralised key as "'=cmd..."
grep -qF '"'"'"'=cmd|'"'"' /C calc'"'"'!A0"' "$MG_TMP/l.csv" &&
	t_ok "the formula key is quoted with a leading quote" ||
	t_fail "the formula key is quoted" "$(head -c 600 "$MG_TMP/l.csv")"

# --- -q keeps the reason of a fatal error
cat > "$MG_TMP/gone.yaml" <<YAML
version: 1
name: gone
source: "$MG_TMP/no-such-folder"
target: "$MG_TMP/dst-gone"
journal: "$MG_TMP/journal-gone"
YAML
t_exit "-q with a missing source: exit 3" 3 "$MIGRATE" -q "$MG_TMP/gone.yaml"
t_grep "-q still prints why" "no-such-folder" "$MG_TMP/.out"
t_done
