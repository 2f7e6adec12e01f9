#!/usr/bin/env bash
# Bad input loses nothing: an unreadable file fails alone (exit 1), a
# target that cannot be written is fatal (exit 3), a full disk fails the
# object without leaving part of it, and plans with mistakes exit 2 with
# FILE:LINE:COL.
. "$MG_SRCDIR/tests/lib.sh"

plan() {	# plan FILE SRC DST JOURNAL
	cat > "$1" <<YAML
version: 1
name: errors
source: "$2"
target: "$3"
journal: "$4"
YAML
}

# --- an unreadable source file, as an unprivileged user (root reads all) ---
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
	U=$MG_TMP/unpriv
	mkdir -p "$U/src/sub" "$U/dst"
	printf 'ok1\n' > "$U/src/a.txt"
	printf 'secret\n' > "$U/src/locked.txt"
	printf 'ok2\n' > "$U/src/sub/b.txt"
	mkdir -p "$U/src/closed"; printf 'hidden\n' > "$U/src/closed/c.txt"
	printf 'sorts before closed/\n' > "$U/src/closed-a.txt"	# "closed-a.txt" < "closed/"
	chmod 000 "$U/src/locked.txt" "$U/src/closed"
	plan "$U/plan.yaml" "$U/src" "$U/dst" "$U/journal"
	chmod 755 "$MG_TMP" "$U"
	chown -R nobody "$U/dst" "$U"
	chown root "$U/src/locked.txt" "$U/src/closed"
	as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }
	t_exit "unreadable file: exit 1" 1 as_nobody "$MIGRATE" "$U/plan.yaml"
	t_grep "the failure names the file and the reason" \
		"locked.txt.*[Pp]ermission denied" "$MG_TMP/.out"
	t_grep "the unreadable folder is reported too" \
		"closed.*[Pp]ermission denied" "$MG_TMP/.out"
	[ -f "$U/dst/a.txt" ] && [ -f "$U/dst/sub/b.txt" ] &&
		t_ok "the rest is copied" || t_fail "the rest is copied"
	[ ! -e "$U/dst/locked.txt" ] && t_ok "no partial object for the failed one" ||
		t_fail "failed object appeared"
	t_exit "rerun still exit 1 and copies nothing else" 1 as_nobody "$MIGRATE" "$U/plan.yaml"
	chmod 644 "$U/src/locked.txt"; chmod 755 "$U/src/closed"
	t_exit "after fixing permissions the rerun succeeds" 0 as_nobody "$MIGRATE" "$U/plan.yaml"
	cmp -s "$U/src/locked.txt" "$U/dst/locked.txt" && cmp -s "$U/src/closed/c.txt" "$U/dst/closed/c.txt" &&
		t_ok "and copies what failed before" || t_fail "copies what failed before"

	# --- a target folder the user cannot write: fatal ---
	mkdir -p "$MG_TMP/rootonly"; chmod 755 "$MG_TMP/rootonly"
	plan "$U/plan-ro.yaml" "$U/src" "$MG_TMP/rootonly/dst" "$U/journal-ro"
	t_exit "unwritable target: exit 3" 3 as_nobody "$MIGRATE" "$U/plan-ro.yaml"
	t_grep "the message names the target" "rootonly/dst" "$MG_TMP/.out"
else
	t_skip "unreadable file" "no 'nobody' user or setpriv"
fi

# --- a target below a regular file: cannot be created ---
mkdir -p "$MG_TMP/src2"; printf 'x\n' > "$MG_TMP/src2/x"; : > "$MG_TMP/plainfile"
plan "$MG_TMP/p2.yaml" "$MG_TMP/src2" "$MG_TMP/plainfile/dst" "$MG_TMP/j2"
t_exit "target under a file: exit 3" 3 "$MIGRATE" "$MG_TMP/p2.yaml"
t_grep "says it cannot create the target" "cannot create target folder" "$MG_TMP/.out"
plan "$MG_TMP/p3.yaml" "$MG_TMP/nonexistent" "$MG_TMP/dst3" "$MG_TMP/j3"
t_exit "missing source folder: exit 3" 3 "$MIGRATE" "$MG_TMP/p3.yaml"
t_grep "names the source" "nonexistent" "$MG_TMP/.out"

# --- disk full at the target (a 2 MiB tmpfs) ---
mkdir -p "$MG_TMP/small" "$MG_TMP/src4"
if mount -t tmpfs -o size=2m tmpfs "$MG_TMP/small" 2>/dev/null; then
	t_at_exit "umount '$MG_TMP/small'"
	head -c 3000000 /dev/urandom > "$MG_TMP/src4/big"
	printf 'small\n' > "$MG_TMP/src4/a-small"
	plan "$MG_TMP/p4.yaml" "$MG_TMP/src4" "$MG_TMP/small/dst" "$MG_TMP/j4"
	t_exit "disk full: exit 1" 1 "$MIGRATE" "$MG_TMP/p4.yaml"
	t_grep "names the object and the reason" "big.*No space left" "$MG_TMP/.out"
	[ ! -e "$MG_TMP/small/dst/big" ] && t_ok "no partial file" || t_fail "partial file left"
	leftover=$(find "$MG_TMP/small/dst" -name '*' -path '*.migrate-tmp*' -type f | head -1)
	[ -z "$leftover" ] && t_ok "no temporary file left" || t_fail "temp file left: $leftover"
	cmp -s "$MG_TMP/src4/a-small" "$MG_TMP/small/dst/a-small" && t_ok "the small file is copied" ||
		t_fail "small file copied"
else
	t_skip "disk full" "cannot mount a tmpfs here"
fi

# --- malformed plans: exit 2 with FILE:LINE:COL ---
printf 'version: 1\nname: x\nsource: "/tmp"\ntarget: [unclosed\n' > "$MG_TMP/bad1.yaml"
t_exit "malformed YAML: exit 2" 2 "$MIGRATE" "$MG_TMP/bad1.yaml"
t_grep "malformed YAML names file:line:col" "bad1.yaml:[0-9]+:[0-9]+: " "$MG_TMP/.out"
printf 'version: 1\nname: x\nsource: "/tmp"\ntarget: "/tmp/y"\ntransfer:\n  concurency: 4\n' > "$MG_TMP/bad2.yaml"
t_exit "unknown key: exit 2" 2 "$MIGRATE" "$MG_TMP/bad2.yaml"
t_grep "unknown key suggests the right one" "bad2.yaml:6:3: .*concurency.*did you mean 'concurrency'" "$MG_TMP/.out"
printf 'version: 1\nname: x\nsource: "/tmp"\ntarget: "/tmp/y"\ntransfer: { part_size: 64MB/s }\n' > "$MG_TMP/bad3.yaml"
t_exit "bad unit: exit 2" 2 "$MIGRATE" check "$MG_TMP/bad3.yaml"
t_grep "bad unit has line:col" "bad3.yaml:5:[0-9]+: .*part_size" "$MG_TMP/.out"
printf 'version: 1\nname: x\ntarget: "/tmp/y"\n' > "$MG_TMP/bad4.yaml"
t_exit "missing source: exit 2" 2 "$MIGRATE" "$MG_TMP/bad4.yaml"
t_grep "missing key is named" "missing required key 'source'" "$MG_TMP/.out"
t_exit "a plan that does not exist: exit 2" 2 "$MIGRATE" "$MG_TMP/nope.yaml"
t_done
