#!/usr/bin/env bash
# A local target that others can write into, and a local source with
# links (issue 13, items 2, 4 and 6): links planted in the target (an
# intermediate folder, .migrate-tmp, a stale-temp name of a dead PID)
# make nothing be written or deleted outside it; .migrate-tmp owned by
# another user is refused; modes are kept under umask 022, never wider
# than the source; `symlinks: follow` stays inside the source folder;
# a dedupe copy is conditional on the ETag the journal knows.  What the
# connector promises like every other (permission bits under the umask,
# the ETag a put returns, copy_if_match) is the conformance suite's:
# conformance_local.sh.
. "$MG_SRCDIR/tests/lib.sh"

. "$MG_SRCDIR/tests/conformance/lib.sh"	# $CF: the conformance program

umask 022
TOKEN=mgsec$$x$RANDOM
OUT=$MG_TMP/outside
mkdir -p "$OUT"
printf 'precious\n' > "$OUT/precious-$TOKEN"
# a process that is gone: its PID names what looks like its stale temp
(exit 0) & dead=$!; wait "$dead"
printf 'not a temp\n' > "$OUT/$dead-1"
snapshot() { (cd "$OUT" && find . -printf '%p %s %m %T@\n' | sort); }
snapshot > "$MG_TMP/out.before"
outside_untouched() {	# outside_untouched NAME
	snapshot > "$MG_TMP/out.after"
	if cmp -s "$MG_TMP/out.before" "$MG_TMP/out.after" &&
	   [ -z "$(find "$OUT" -name "*$TOKEN*" ! -name "precious-$TOKEN")" ]; then
		t_ok "$1"
	else
		t_fail "$1" "$(diff "$MG_TMP/out.before" "$MG_TMP/out.after" | head -5)"
	fi
}
plan() {	# plan NAME SOURCE TARGET [EXTRA-YAML]; SOURCE may be "{ url: ... }"
	local src=$2
	[ "${src#\{}" = "$src" ] && src="\"$src\""
	cat > "$MG_TMP/$1.yaml" <<YAML
version: 1
name: $1
source: $src
target: "$3"
journal: "$MG_TMP/journal-$1"
${4:-}
YAML
}

# --- an intermediate folder of the target is a link to elsewhere ---
S=$MG_TMP/src D=$MG_TMP/dst
mkdir -p "$S/sub" "$S/ok/deep" "$D"
printf 'one\n' > "$S/top-$TOKEN"
printf 'two\n' > "$S/ok/deep/file-$TOKEN"
printf 'evil\n' > "$S/sub/file-$TOKEN"
ln -s "$OUT" "$D/sub"
plan link "$S" "$D"
t_exit "a link in the target fails that object: exit 1" 1 "$MIGRATE" "$MG_TMP/link.yaml"
t_grep "the failure names the link and says what to do" \
	"sub/file-$TOKEN'.*'$D/sub' is a symbolic link: migrate does not write through links in a target; remove it" \
	"$MG_TMP/.out"
cmp -s "$S/top-$TOKEN" "$D/top-$TOKEN" && cmp -s "$S/ok/deep/file-$TOKEN" "$D/ok/deep/file-$TOKEN" &&
	t_ok "the other objects are copied" || t_fail "the other objects are copied"
outside_untouched "nothing written through the link"

# --- mode: sync deletes through a link planted after the copy ---
S2=$MG_TMP/src2 D2=$MG_TMP/dst2
mkdir -p "$S2/d"
for i in $(seq 1 9); do printf 'k%s\n' "$i" > "$S2/keep$i"; done
printf 'x\n' > "$S2/d/precious-$TOKEN"
plan sync "$S2" "$D2" "mode: sync"
t_exit "sync: first run" 0 "$MIGRATE" "$MG_TMP/sync.yaml"
rm -r "$D2/d"; ln -s "$OUT" "$D2/d"
rm "$S2/d/precious-$TOKEN"
"$MIGRATE" "$MG_TMP/sync.yaml" > "$MG_TMP/sync.out" 2>&1
t_grep "sync: the delete under the link fails and names it" "'$D2/d' is a symbolic link" "$MG_TMP/sync.out"
outside_untouched "sync: nothing deleted through the link"

# --- .migrate-tmp is a link, with a dead PID's temp name behind it ---
D3=$MG_TMP/dst3
mkdir -p "$D3"
ln -s "$OUT" "$D3/.migrate-tmp"
plan tmplink "$S" "$D3"
t_exit "a .migrate-tmp link is refused at open: exit 3" 3 "$MIGRATE" "$MG_TMP/tmplink.yaml"
t_grep "the message says why and what to do" \
	"'$D3/.migrate-tmp' is a symbolic link: .*remove it" "$MG_TMP/.out"
outside_untouched "no temp written and the dead PID's name not deleted outside"
[ -L "$D3/.migrate-tmp" ] && [ -z "$(ls "$D3")" ] && t_ok "the target is left as it was" ||
	t_fail "the target is left as it was" "$(ls -la "$D3")"

# --- the stale-temp cleaner: only our regular files, never a link ---
D4=$MG_TMP/dst4
mkdir -p -m 700 "$D4/.migrate-tmp"
printf 'stale\n' > "$D4/.migrate-tmp/$dead-7"
ln -s "$OUT/$dead-1" "$D4/.migrate-tmp/$dead-8"
printf 'mine\n' > "$D4/.migrate-tmp/notes-$dead-9"
plan stale "$S/ok" "$D4"
t_exit "run over a .migrate-tmp with leftovers" 0 "$MIGRATE" "$MG_TMP/stale.yaml"
[ ! -e "$D4/.migrate-tmp/$dead-7" ] && t_ok "a dead PID's temp file is removed" ||
	t_fail "a dead PID's temp file is removed"
[ -L "$D4/.migrate-tmp/$dead-8" ] && [ -e "$D4/.migrate-tmp/notes-$dead-9" ] &&
	t_ok "a link and a foreign name in .migrate-tmp are left alone" ||
	t_fail "a link and a foreign name are left alone" "$(ls -la "$D4/.migrate-tmp")"
outside_untouched "the cleaner follows no link"
"$CF" local "$D4" put ".migrate-tmp/$dead-5" "$S/top-$TOKEN" > "$MG_TMP/.out" 2>&1
[ $? = 1 ] && [ ! -e "$D4/.migrate-tmp/$dead-5" ] &&
	t_ok "a key inside .migrate-tmp is refused" || t_fail "a key inside .migrate-tmp is refused"

# --- .migrate-tmp owned by someone else ---
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	D5=$MG_TMP/dst5
	mkdir -p -m 755 "$D5/.migrate-tmp"
	chown nobody "$D5/.migrate-tmp"
	plan tmpowner "$S/ok" "$D5"
	t_exit "a .migrate-tmp of another user is refused: exit 3" 3 "$MIGRATE" "$MG_TMP/tmpowner.yaml"
	t_grep "the message names the owner" "'$D5/.migrate-tmp' belongs to uid [0-9]+, not to the user running migrate" \
		"$MG_TMP/.out"
	[ -z "$(find "$D5" -type f)" ] && [ -d "$D5/.migrate-tmp" ] &&
		t_ok "nothing written into it, and it is not removed" || t_fail "nothing written into it"
else
	t_skip "a .migrate-tmp of another user is refused" "needs root to chown to nobody"
fi

# --- the connector alone: links below the root are never followed ---
"$CF" local "$D" put "sub/new-$TOKEN" "$S/top-$TOKEN" > "$MG_TMP/.out" 2>&1
[ $? = 1 ] && t_ok "connector: a put under a link fails" || t_fail "connector: a put under a link fails"
"$CF" local "$D" rm "sub/precious-$TOKEN" > "$MG_TMP/.out" 2>&1
[ $? = 1 ] && t_ok "connector: a remove under a link fails" || t_fail "connector: a remove under a link fails"
"$CF" local "$D" stat "sub/precious-$TOKEN" > "$MG_TMP/.out" 2>&1
[ $? = 1 ] && t_ok "connector: a stat under a link fails" || t_fail "connector: a stat under a link fails"
"$CF" local "$D" copy "sub/precious-$TOKEN" "stolen-$TOKEN" > "$MG_TMP/.out" 2>&1
[ $? = 1 ] && [ ! -e "$D/stolen-$TOKEN" ] && t_ok "connector: a copy from under a link fails" ||
	t_fail "connector: a copy from under a link fails"
outside_untouched "connector: nothing outside touched"

# --- modes: a local copy takes put_info.mode (a put's: conformance) ---
printf 'm\n' > "$MG_TMP/m"
"$CF" local -m 0600 "$MG_TMP/modes" put m0600 "$MG_TMP/m" >/dev/null 2>&1
"$CF" local -m 0640 "$MG_TMP/modes" copy m0600 c0640 >/dev/null 2>&1 &&
[ "$(stat -c %a "$MG_TMP/modes/c0640")" = 640 ] &&
	t_ok "connector: a local copy takes put_info.mode" || t_fail "connector: a local copy takes put_info.mode"
S6=$MG_TMP/src6 D6=$MG_TMP/dst6
mkdir -p "$S6"
for m in 600 640 755 666 4755; do printf '%s\n' "$m" > "$S6/f$m"; chmod "$m" "$S6/f$m"; done

# --- modes through a run (the engine passes them: preserve.mode) ---
plan modes "$S6" "$D6"
t_exit "run with modes" 0 "$MIGRATE" "$MG_TMP/modes.yaml"
got=$(cd "$D6" && stat -c '%n:%a' f600 f640 f755 f666 f4755 | tr '\n' ' ')
[ "$got" = "f600:600 f640:640 f755:755 f666:644 f4755:755 " ] &&
	t_ok "modes kept under umask 022, never wider, setuid dropped" ||
	t_fail "modes kept under umask 022" "got: $got"

# --- symlinks: follow stays inside the source folder ---
S7=$MG_TMP/src7 D7=$MG_TMP/dst7
mkdir -p "$S7/in"
printf 'inside\n' > "$S7/in/real"
ln -s ../in/real "$S7/in/link-in"
ln -s "$OUT/precious-$TOKEN" "$S7/passwd-$TOKEN"
ln -s "$OUT" "$S7/outdir"
plan follow "{ url: \"$S7\", symlinks: follow }" "$D7"
t_exit "symlinks: follow run" 0 "$MIGRATE" --json "$MG_TMP/follow.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/follow.json"
cmp -s "$S7/in/real" "$D7/in/link-in" && t_ok "follow: a link inside the source is followed" ||
	t_fail "follow: a link inside the source is followed"
[ ! -e "$D7/passwd-$TOKEN" ] && [ ! -e "$D7/outdir" ] &&
	t_ok "follow: links leading outside are not followed" ||
	t_fail "follow: links leading outside are not followed" "$(ls -la "$D7")"
[ "$(json_get "$MG_TMP/follow.json" targets.0.skipped_symlinks)" = 2 ] &&
	t_ok "follow: they are reported as skipped links" ||
	t_fail "follow: reported as skipped links" "$(head -c 600 "$MG_TMP/follow.json")"
"$CF" local -L "$S7" list > "$MG_TMP/.out" 2>&1
t_grep "follow: the listing says it leads outside and what follows it anyway" \
	"^L	passwd-$TOKEN	.*outside the source folder.*'symlinks: follow-all' follows it" "$MG_TMP/.out"
"$CF" local -A "$S7" read "passwd-$TOKEN" > "$MG_TMP/.out" 2>/dev/null &&
	grep -q precious "$MG_TMP/.out" && t_ok "follow-all: follows wherever the link leads" ||
	t_fail "follow-all: follows wherever the link leads"
"$CF" local -L "$S7" read "passwd-$TOKEN" > "$MG_TMP/.out" 2>&1
[ $? = 1 ] && ! grep -q precious "$MG_TMP/.out" &&
	t_ok "follow: reading a link that leads outside is refused" ||
	t_fail "follow: reading a link that leads outside is refused"
"$CF" local "$S7" read "outdir/precious-$TOKEN" > "$MG_TMP/.out" 2>&1
[ $? = 1 ] && ! grep -q precious "$MG_TMP/.out" &&
	t_ok "skip: reading through a linked folder is refused" ||
	t_fail "skip: reading through a linked folder is refused"

# --- a dedupe copy never takes tampered bytes (the connector's own
# copy_if_match: the conformance suite) ---
S9=$MG_TMP/src9 D9=$MG_TMP/dst9
mkdir -p "$S9"
head -c 3000 /dev/urandom > "$S9/orig"
plan dedupe "$S9" "$D9"
t_exit "dedupe: first run" 0 "$MIGRATE" "$MG_TMP/dedupe.yaml"
sleep 0.01
head -c 3000 /dev/zero > "$D9/orig"	# out of band: same size, other bytes
cp -p "$S9/orig" "$S9/same-content"
t_exit "dedupe: a run with a copy of orig's content" 0 "$MIGRATE" --json "$MG_TMP/dedupe.yaml"
cmp -s "$S9/orig" "$D9/same-content" &&
	t_ok "dedupe: the new object has the source's bytes, not the tampered ones" ||
	t_fail "dedupe: the new object has the source's bytes"
t_done
