#!/usr/bin/env bash
# Hard links in archives written by other tools.  One tree: a, its hard
# links b and sub/c, an unrelated file u, a second linked pair g1 and
# sub/deep/g2, an empty linked pair e1/e2, and p600 (0600) / p755 (0755).
# Archived by GNU cpio (newc, crc, odc: newc and crc keep the data with the
# LAST link only, odc with every link), GNU tar (gnu and posix formats),
# bsdtar (its default tar, and newc), and 7-Zip (7z: no hard links, it
# stores a copy under every name; and its tar writer with -snh, which keeps
# them as tar links).  Each archive is listed through `conformance tar` (every
# name with the file's real size and permission bits) and migrated to a
# local folder: every name must arrive with the full content, byte for
# byte, exit 0.  Archives are made at test time; where cpio or 7-Zip is
# missing, the copies checked into tests/data/archives/hardlinks (made from
# the same tree, see its ORIGIN.md) stand in.
. "$MG_SRCDIR/tests/lib.sh"

. "$MG_SRCDIR/tests/conformance/lib.sh"	# $CF: the conformance program
command -v python3 >/dev/null || t_skip_all "python3 is missing"
HL=$MG_SRCDIR/tests/data/archives/hardlinks
umask 022

# The tree: content from SHA-256 chains, so the checked-in archives match
# whatever python3 makes it.
T=$MG_TMP/tree
mk_tree() {
	mkdir -p "$1/sub/deep" && python3 - "$1" <<'PY'
import hashlib, sys
def blob(seed, n):
    out, h = b'', seed.encode()
    while len(out) < n:
        h = hashlib.sha256(h).digest()
        out += h
    return out[:n]
d = sys.argv[1]
for name, data in (('a', blob('a', 5000)), ('u', blob('u', 1000)),
                   ('g1', blob('g', 9000)), ('e1', b''),
                   ('p600', b'private\n'), ('p755', b'#!/bin/sh\nexit 0\n')):
    open(d + '/' + name, 'wb').write(data)
PY
	(cd "$1" && ln a b && ln a sub/c && ln g1 sub/deep/g2 && ln e1 e2 &&
		chmod 0600 p600 && chmod 0755 p755 &&
		find . -exec touch -h -d @1600000000 {} +)
}
mk_tree "$T"
FILES="a b sub/c u g1 sub/deep/g2 e1 e2 p600 p755"
# what `conformance tar` --modes yes must list: every name, the file's size and mode
(cd "$T" && for k in $FILES; do
	printf 'file\t%s\t1600000000\t%s\tmode=%04d\n' "$(stat -c %s "$k")" "$k" "$(stat -c %a "$k")"
done | LC_ALL=C sort -t "$(printf '\t')" -k4,4) > "$MG_TMP/want.list"

G=$MG_TMP/arch
mkdir -p "$G"
SEVENZ=$(command -v 7zz || command -v 7z || command -v 7za || true)
# make NAME TOOL CMD...: NAME from the tree by CMD (run in the tree, the
# archive on stdout), or the checked-in copy when TOOL is missing
make_arch() {
	local name=$1 tool=$2; shift 2
	if command -v "$tool" >/dev/null 2>&1; then
		(cd "$T" && "$@") > "$G/$name" 2>"$G/$name.err" ||
			{ t_fail "$name: $tool wrote it" "$(cat "$G/$name.err")"; rm -f "$G/$name"; }
	elif [ -f "$HL/$name" ]; then
		cp "$HL/$name" "$G/$name"
		echo "# $name: $tool is missing, using tests/data/archives/hardlinks/$name"
	else
		t_skip "$name" "$tool is missing"
	fi
}
make_arch newc.cpio cpio sh -c 'find . | cpio -o -H newc --quiet'
make_arch crc.cpio cpio sh -c 'find . | cpio -o -H crc --quiet'
make_arch odc.cpio cpio sh -c 'find . | cpio -o -H odc --quiet'
make_arch gnu.tar tar tar --format=gnu -cf - .
make_arch posix.tar tar tar --format=posix -cf - .
make_arch bsd.tar bsdtar bsdtar -cf - .
make_arch bsdnewc.cpio bsdtar bsdtar --format newc -cf - .
# 7-Zip writes to a file name, not to stdout
seven() { "$SEVENZ" a "$@" >/dev/null && cat "$G/7z.tmp" && rm -f "$G/7z.tmp"; }
if [ -n "$SEVENZ" ]; then
	make_arch copies.7z "$SEVENZ" seven -snl "$G/7z.tmp" .
	make_arch 7z.tar "$SEVENZ" seven -ttar -snh -snl "$G/7z.tmp" .
else
	make_arch copies.7z 7zz false
	make_arch 7z.tar 7zz false
fi

# the formats really are what the test is about
if [ -f "$G/newc.cpio" ] && command -v bsdtar >/dev/null; then
	LC_ALL=C.UTF-8 bsdtar -tvf "$G/newc.cpio" > "$MG_TMP/newc.tv" 2>&1
	# one of a, b, sub/c holds the 5000 bytes, the others 0 in their headers
	n0=$(awk '$9 ~ /^(a|b|sub\/c)$/ && $5 == 0' "$MG_TMP/newc.tv" | wc -l)
	[ "$n0" = 2 ] && t_ok "newc.cpio: two of the three links have size 0 in their headers" ||
		t_fail "newc.cpio: data with one link only" "$(cat "$MG_TMP/newc.tv")"
fi
if [ -f "$G/copies.7z" ] && command -v bsdtar >/dev/null; then
	# 7z has no hard links: the same 5000 bytes under every name
	LC_ALL=C.UTF-8 bsdtar -tvf "$G/copies.7z" > "$MG_TMP/7z.tv" 2>&1
	[ "$(awk '$9 ~ /^(a|b|sub\/c)$/ && $5 == 5000 && NF == 9' "$MG_TMP/7z.tv" | wc -l)" = 3 ] &&
		t_ok "copies.7z: 7-Zip stores a copy under each name (no hard links in 7z)" ||
		t_fail "copies.7z: a copy per name" "$(cat "$MG_TMP/7z.tv")"
fi

for f in "$G"/*; do
	n=$(basename "$f")
	case $n in *.err) continue ;; esac

	# the listing: every name, its real size and permission bits
	"$CF" tar --modes yes --url "tar://$f" list > "$MG_TMP/$n.list" 2>"$MG_TMP/$n.lerr"
	diff "$MG_TMP/want.list" "$MG_TMP/$n.list" > "$MG_TMP/.diff" &&
		t_ok "$n: every name listed with the file's size and mode" ||
		t_fail "$n: listing" "$(tr '\t\n' ' |' < "$MG_TMP/.diff")"

	# migrated: every name with the whole content
	cat > "$MG_TMP/$n.yaml" <<YAML
version: 1
name: hl
source: "tar://$f"
target: "$MG_TMP/$n.dst"
transfer: { concurrency: 3 }
journal: "$MG_TMP/$n.journal"
YAML
	t_exit "$n: migrate exits 0" 0 "$MIGRATE" --json "$MG_TMP/$n.yaml"
	diff -r -x .migrate-tmp "$T" "$MG_TMP/$n.dst" > "$MG_TMP/.diff" 2>&1 &&
		t_ok "$n: every link name arrived with the full content, byte for byte" ||
		t_fail "$n: content of every name" "$(head -5 "$MG_TMP/.diff")"

	# the same with no cache: every read goes to the archive, the first
	# link of a newc group reads the data of a later entry
	rm -rf "$MG_TMP/$n.dst" "$MG_TMP/$n.journal"
	MG_TAR_CACHE_CAP=0 "$CF" tar --url "tar://$f" --order reverse --conns 2 \
		extract "$MG_TMP/$n.x" > /dev/null 2>&1
	diff -r "$T" "$MG_TMP/$n.x" > "$MG_TMP/.diff" 2>&1 &&
		t_ok "$n: read from the archive (no cache, reverse order), every name whole" ||
		t_fail "$n: uncached reads" "$(head -5 "$MG_TMP/.diff")"
done

# estimate counts what a run copies: every link at its real size (the
# migrated folder and journal of newc.cpio were removed above)
if [ -f "$G/newc.cpio" ]; then
	"$MIGRATE" estimate --json "$MG_TMP/newc.cpio.yaml" > "$MG_TMP/est.json" 2>"$MG_TMP/est.err"
	want=$(cd "$T" && stat -c %s $FILES | paste -sd+)
	want=$((want))
	got=$(json_get "$MG_TMP/est.json" scenarios.0.counts.new.bytes)
	[ "$got" = "$want" ] &&
		t_ok "newc.cpio: estimate counts $want bytes (every link at its real size)" ||
		t_fail "newc.cpio: estimate bytes" "want $want, got $got"
fi

# a newc archive cut inside the data of the g1/g2 group, which travels with
# its last link: the earlier link is listed as an error, not an empty file
if [ -f "$G/newc.cpio" ]; then
	python3 - "$G/newc.cpio" "$MG_TMP/cut.cpio" <<'PY'
import hashlib, sys
data = open(sys.argv[1], 'rb').read()
i = data.find(hashlib.sha256(b'g').digest())	# the group's first data bytes
open(sys.argv[2], 'wb').write(data[:i + 1000])
PY
	"$CF" tar --url "tar://$MG_TMP/cut.cpio" list > "$MG_TMP/cut.list" 2>&1
	if grep -qE '^file	.*	(g1|sub/deep/g2)$' "$MG_TMP/cut.list"; then
		t_fail "cut newc: no link of the lost data is listed as a file" "$(cat "$MG_TMP/cut.list")"
	else
		t_grep "cut newc: the link before the cut says its data is lost" \
			'^error	0	.*	(g1|sub/deep/g2)	! hard-linked file whose data comes with a later link' \
			"$MG_TMP/cut.list"
	fi
fi

t_done
