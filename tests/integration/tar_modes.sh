#!/usr/bin/env bash
# Permission bits of archive entries reach a local target (issue 13 item
# 4): under umask 022 a 0600 entry arrives 0600, a 0755 one 0755, a 0644
# one 0644; 4755 (setuid) arrives without the setuid bit; with
# `preserve: { mode: false }` files get the target's default (0644).
# Archives by GNU tar, bsdtar (tar and zip) and GNU cpio.
. "$MG_SRCDIR/tests/lib.sh"

command -v python3 >/dev/null || t_skip_all "python3 is missing"
umask 022

S=$MG_TMP/src
mkdir -p "$S/bin"
printf 'secret\n' > "$S/p600"; chmod 0600 "$S/p600"
printf '#!/bin/sh\n' > "$S/bin/p755"; chmod 0755 "$S/bin/p755"
printf 'plain\n' > "$S/p644"; chmod 0644 "$S/p644"
printf 'suid\n' > "$S/p4755"; chmod 4755 "$S/p4755"
# what arrives: the entry's bits without setuid/setgid/sticky, never wider
want() { case $1 in p600) echo 600 ;; bin/p755 | p4755) echo 755 ;; *) echo 644 ;; esac; }
FILES="p600 bin/p755 p644 p4755"

# plan NAME SOURCE [PRESERVE]
plan() {
	cat > "$MG_TMP/$1.yaml" <<YAML
version: 1
name: $1
source: "$2"
target: "$MG_TMP/$1.dst"
journal: "$MG_TMP/$1.journal"
${3:-}
YAML
}

# The local target must keep modes for the end-to-end checks; it does once
# the local connector's half of issue 13 item 4 is in.
plan local "$S"
"$MIGRATE" "$MG_TMP/local.yaml" > "$MG_TMP/.out" 2>&1
local_keeps=0
[ "$(stat -c %a "$MG_TMP/local.dst/p600" 2>/dev/null)" = 600 ] && local_keeps=1

G=$MG_TMP/arch
mkdir -p "$G"
(cd "$S" && tar -cf "$G/gnu.tar" $FILES)
command -v bsdtar >/dev/null && (cd "$S" && bsdtar -cf "$G/bsd.tar" $FILES &&
	bsdtar --format zip -cf "$G/bsd.zip" $FILES)
command -v cpio >/dev/null && (cd "$S" && printf '%s\n' $FILES | cpio -o -H newc --quiet > "$G/newc.cpio")

# without the conformance program, the listing checks below are skipped
CF=${MG_BUILDDIR:-$(dirname "$MIGRATE")}/tests/conformance/conformance

for f in "$G"/*; do
	n=$(basename "$f")
	# the connector lists each entry's bits as the archive keeps them
	if [ -x "$CF" ]; then
		"$CF" tar --modes yes --url "tar://$f" list > "$MG_TMP/$n.list" 2>&1
		bad=
		for k in $FILES; do
			grep -qE "	$k	mode=$(printf %04d "$(stat -c %a "$S/$k")")\$" "$MG_TMP/$n.list" || bad="$bad $k"
		done
		[ -z "$bad" ] && t_ok "$n: the listing carries each entry's permission bits" ||
			t_fail "$n: modes listed" "wrong:$bad; $(tr '\t\n' ' |' < "$MG_TMP/$n.list")"
	fi
	plan "$n" "tar://$f"
	t_exit "$n: migrate exits 0" 0 "$MIGRATE" "$MG_TMP/$n.yaml"
	if [ $local_keeps = 0 ]; then
		t_skip "$n: modes at the target" "the local target does not keep modes yet (local connector, issue 13 item 4)"
		continue
	fi
	bad=
	for k in $FILES; do
		got=$(stat -c %a "$MG_TMP/$n.dst/$k" 2>/dev/null)
		[ "$got" = "$(want "$k")" ] || bad="$bad $k:$got"
	done
	[ -z "$bad" ] && t_ok "$n: 0600, 0755 and 0644 entries arrive with their modes, setuid dropped" ||
		t_fail "$n: modes at the target" "wrong:$bad"
done

# preserve: { mode: false }: the target's default for every file
plan nomode "tar://$G/gnu.tar" "preserve: { mode: false }"
"$MIGRATE" "$MG_TMP/nomode.yaml" > "$MG_TMP/.out" 2>&1
rc=$?
if grep -q "unknown key 'preserve'" "$MG_TMP/.out"; then
	t_skip "preserve mode false" "this build's plan parser has no 'preserve' yet"
else
	[ $rc = 0 ] && t_ok "preserve mode false: migrate exits 0" ||
		t_fail "preserve mode false: migrate exits 0" "exit $rc: $(head -3 "$MG_TMP/.out")"
	bad=
	for k in $FILES; do
		got=$(stat -c %a "$MG_TMP/nomode.dst/$k" 2>/dev/null)
		[ "$got" = 644 ] || bad="$bad $k:$got"
	done
	[ -z "$bad" ] && t_ok "preserve mode false: every file 0644" ||
		t_fail "preserve mode false: every file 0644" "wrong:$bad"
fi

t_done
