#!/usr/bin/env bash
# Hostile entry names in archives written by GNU tar -P and bsdtar -P
# (which keep names as given): '../../x', 'a/../../x', an absolute name, a
# hard link to '../../x', names with control characters, a symlink out of
# the tree.  Each hostile entry is refused on its own with a message naming
# the reason (exit 1, the rest is copied), and nothing is created outside
# the target: every name carries a unique token, and after the run the
# token appears nowhere but in the sources and inside the target.  A name
# with control characters but no '..' is a legal file name: it is copied
# as it is, inside the target.  What migrate prints never holds such a
# name raw (the engine escapes keys and messages; the connector's messages
# keep names as they are so they are escaped once): the failure lines, and
# the message of an archive damaged at an entry named with an ESC sequence.
. "$MG_SRCDIR/tests/lib.sh"

command -v python3 >/dev/null || t_skip_all "python3 is missing"
TOK=tok$$x$RANDOM
ESC=$(printf '\033')
BEL=$(printf '\007')
CTL="ctl-$TOK-$ESC]0;pwned$BEL"	# would retitle a terminal
W=$MG_TMP/src/d/w
mkdir -p "$W/a" "$MG_TMP/outside" "$MG_TMP/box/in"
printf 'up\n' > "$MG_TMP/src/up-$TOK"		# ../../up-TOK from $W
printf 'b\n' > "$MG_TMP/src/d/b-$TOK"		# a/../../b-TOK from $W
printf 'abs\n' > "$W/abs-$TOK"
printf 'ok\n' > "$W/ok-$TOK"
printf 'ctl\n' > "$W/$CTL"
printf 'ctl-up\n' > "$MG_TMP/src/d/ctlup-$TOK-$ESC[2J"	# ../ctlup-TOK-ESC[2J
ln "$MG_TMP/src/up-$TOK" "$W/hl-$TOK"	# a hard link to ../../up-TOK
ln -s "../../../outside/sl-$TOK" "$W/sl-$TOK"
ABS=$MG_TMP/outside/abs-$TOK
NAMES=("../../up-$TOK" "a/../../b-$TOK" "abs-$TOK" "ok-$TOK" "$CTL" "../ctlup-$TOK-$ESC[2J"
	"hl-$TOK" "sl-$TOK")

G=$MG_TMP/arch
mkdir -p "$G"
(cd "$W" && tar -P --transform="s|^abs-$TOK\$|$ABS|" -cf "$G/gnu.tar" "${NAMES[@]}") ||
	t_fail "GNU tar -P writes the archive"
command -v bsdtar >/dev/null &&
	{ (cd "$W" && bsdtar -P -s "|^abs-$TOK\$|$ABS|" -cf "$G/bsd.tar" "${NAMES[@]}") ||
		t_fail "bsdtar -P writes the archive"; }

for f in "$G"/*; do
	n=$(basename "$f")
	tv=$(tar -tvf "$f" 2>&1)
	case $tv in *"../../up-$TOK"*"a/../../b-$TOK"*"$ABS"*) t_ok "$n: holds the hostile names as written" ;;
	*) t_fail "$n: holds the hostile names" "$tv" ;; esac
	for symlinks in skip follow; do
		dst=$MG_TMP/box/in/$n-$symlinks
		cat > "$MG_TMP/$n.yaml" <<YAML
version: 1
name: hostile
source: { url: "tar://$f", symlinks: $symlinks }
target: "$dst"
journal: "$MG_TMP/$n-$symlinks.journal"
YAML
		t_exit "$n ($symlinks): exit 1, the hostile entries are failures" 1 \
			"$MIGRATE" --json "$MG_TMP/$n.yaml"
		cp "$MG_TMP/.out" "$MG_TMP/$n-$symlinks.out"
		json() { sed -n '/^{/,/^}/p' "$MG_TMP/$n-$symlinks.out" > "$MG_TMP/.json"; json_get "$MG_TMP/.json" "$1"; }
		[ "$(json targets.0.failed.objects)" = 5 ] && [ "$(json targets.0.copied.objects)" = 2 ] &&
			t_ok "$n ($symlinks): 5 entries refused, 2 copied" ||
			t_fail "$n ($symlinks): refused and copied counts" \
				"failed $(json targets.0.failed.objects) copied $(json targets.0.copied.objects)"
		out=$MG_TMP/$n-$symlinks.out
		t_grep "$n ($symlinks): '../../up' refused as climbing out" "up-$TOK'?: refused: the name has a '\.\.' component" "$out"
		t_grep "$n ($symlinks): 'a/../../b' refused as climbing out" "b-$TOK'?: refused: the name has a '\.\.' component" "$out"
		t_grep "$n ($symlinks): the absolute name refused" "abs-$TOK'?: refused: an absolute name" "$out"
		t_grep "$n ($symlinks): the hard link out refused" "hl-$TOK'?: refused: a hard link to a name outside" "$out"
		t_grep "$n ($symlinks): '../ctl...' refused" "ctlup-$TOK.*: refused: the name has a '\.\.' component" "$out"
		grep -q "$ESC" "$out" && t_fail "$n ($symlinks): no raw ESC in the output" "$(cat -v "$out" | head -5)" ||
			t_ok "$n ($symlinks): no raw ESC in the output"
		[ "$(cat "$dst/ok-$TOK" 2>/dev/null)" = ok ] && [ "$(cat "$dst/$CTL" 2>/dev/null)" = ctl ] &&
			t_ok "$n ($symlinks): the plain name and the control-character name arrive inside the target" ||
			t_fail "$n ($symlinks): ok and control-character names copied" "$(ls -b "$dst")"
	done
done

# the token: in the sources, the archives and the targets, nowhere else
stray=$(find "$MG_TMP" /tmp -xdev -name "*$TOK*" 2>/dev/null |
	grep -v -e "^$MG_TMP/src/" -e "^$MG_TMP/box/in/[a-z]*\.tar-\(skip\|follow\)/[^/]*$" | head -5)
[ -z "$stray" ] && t_ok "nothing was created outside the targets (searched $MG_TMP and /tmp for the token)" ||
	t_fail "nothing outside the targets" "$stray"
[ -z "$(ls -A "$MG_TMP/outside")" ] && t_ok "the absolute name's folder is still empty" ||
	t_fail "absolute folder empty" "$(ls -b "$MG_TMP/outside")"

# a damaged archive, broken at an entry named with an ESC sequence: the
# message says where, with the name escaped once
python3 - "$MG_TMP/esc.tar" "$TOK" <<'PY'
import io, sys, tarfile
b = io.BytesIO()
with tarfile.open(fileobj=b, mode='w', format=tarfile.PAX_FORMAT) as t:
    for name, data in (('fine', b'fine\n'), ('bad-%s-\x1b[2J\x1b]0;x\x07' % sys.argv[2], b'z' * 5000)):
        ti = tarfile.TarInfo(name); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
data = b.getvalue()
open(sys.argv[1], 'wb').write(data[:data.rfind(b'z' * 512) - 1000])
PY
cat > "$MG_TMP/esc.yaml" <<YAML
version: 1
name: esc
source: "tar://$MG_TMP/esc.tar"
target: "$MG_TMP/box/esc"
journal: "$MG_TMP/esc.journal"
YAML
t_exit "damaged at an ESC name: exit 1" 1 "$MIGRATE" "$MG_TMP/esc.yaml"
t_grep "damaged at an ESC name: the message escapes it" "damaged at entry [0-9]+ 'bad-$TOK-\\\\x1b\[2J\\\\x1b\]0;x\\\\x07'" "$MG_TMP/.out"
grep -q "$ESC" "$MG_TMP/.out" && t_fail "damaged at an ESC name: no raw ESC in the output" "$(cat -v "$MG_TMP/.out")" ||
	t_ok "damaged at an ESC name: no raw ESC in the output"

t_done
