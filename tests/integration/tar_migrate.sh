#!/usr/bin/env bash
# Archives as sources of a real run: every archive in tests/data/archives
# migrated (tar:// -> local folder) and compared with `bsdtar -xf`, reruns
# that copy nothing, the encrypted / malformed / truncated archives failing
# as described with the readable entries done, hostile names kept inside
# the target, a prefix, an archive far out of key order with 4 workers,
# and a kill -9 in the middle of an archive followed by a rerun that skips
# the entries already done.
. "$MG_SRCDIR/tests/lib.sh"

command -v bsdtar >/dev/null ||
	t_skip_all "bsdtar is missing: apt-get install libarchive-tools"
command -v python3 >/dev/null || t_skip_all "python3 is missing"
bsdtar() { LC_ALL=C.UTF-8 command bsdtar "$@"; }
ARCH=$MG_SRCDIR/tests/data/archives
CMP="python3 $MG_SRCDIR/tests/integration/tar_compare.py"

# plan NAME SOURCE-YAML: writes $MG_TMP/NAME.yaml, target $MG_TMP/NAME.dst
plan() {
	cat > "$MG_TMP/$1.yaml" <<YAML
version: 1
name: $1
source: $2
target: "$MG_TMP/$1.dst"
transfer: { concurrency: 4${3:+, $3} }
journal: "$MG_TMP/$1.journal"
YAML
}
# json FIELD: from the last --json run's output
json() {
	sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/.json"
	json_get "$MG_TMP/.json" "$1"
}

for a in "$ARCH"/*; do
	[ -f "$a" ] || continue	# hardlinks/: tar_hardlinks.sh
	b=$(basename "$a")
	case $b in *.md | *malformed* | *encryption*) continue ;; esac
	n=${b%%.*}
	plan "$n" "\"tar://$a\""
	mkdir -p "$MG_TMP/$n.ref" && (cd "$MG_TMP/$n.ref" && bsdtar -xf "$a" 2>/dev/null)
	t_exit "$b: migrate exits 0" 0 "$MIGRATE" --json "$MG_TMP/$n.yaml"
	if $CMP "$MG_TMP/$n.ref" "$MG_TMP/$n.dst" > "$MG_TMP/.cmp"; then
		t_ok "$b: target holds what bsdtar -xf extracts ($(tail -1 "$MG_TMP/.cmp" | tr -d '#'))"
	else
		t_fail "$b: target holds what bsdtar extracts"; cat "$MG_TMP/.cmp"
	fi
	"$MIGRATE" --json "$MG_TMP/$n.yaml" > "$MG_TMP/.out" 2>&1
	[ "$(json targets.0.copied.objects)" = 0 ] && [ "$(json source_counters.bytes_read)" = 0 ] &&
		t_ok "$b: rerun copies and reads nothing" ||
		t_fail "$b: rerun copies nothing" "$(grep -E 'copied|bytes_read' "$MG_TMP/.json" | head -3)"
done

# encrypted: each entry fails alone, exit 1
plan enc "\"tar://$ARCH/test_read_format_zip_encryption_data.zip\""
t_exit "encrypted zip: exit 1" 1 "$MIGRATE" --json "$MG_TMP/enc.yaml"
[ "$(json targets.0.failed.objects)" = 2 ] && t_ok "encrypted zip: both entries failed" ||
	t_fail "encrypted zip: failed count"
t_grep "encrypted zip: the failure says encrypted" "entry 'foo.txt' is encrypted" "$MG_TMP/.out"

# malformed: the listing breaks, exit 1, says where
plan mal "\"tar://$ARCH/test_read_format_zip_malformed1.zip\""
t_exit "malformed zip: exit 1" 1 "$MIGRATE" "$MG_TMP/mal.yaml"
t_grep "malformed zip: says where it broke" "truncated or damaged at entry 1 '0000' \(offset" "$MG_TMP/.out"

# generated archives
G=$MG_TMP/gen
t_tar_gen "$G" 7 <<'PY'

with pax_tar(os.path.join(g, 'hostile.tar')) as t:
    add(t, '../../escaped-dotdot', b'x\n')
    add(t, '/tmp/escaped-abs', b'x\n')
    add(t, 'C:\\escaped-drive', b'x\n')
    add(t, 'sub/../../escaped-sub', b'x\n')
    add(t, 'ok/file', b'fine\n')
    add(t, 'ok/link-out', type=tarfile.SYMTYPE, linkname='../../../../etc/passwd')

full_and_cut(g, rnd)
shuffled(g, rnd, symlink=False)
PY

# hostile: nothing lands outside the target; the bad names are failures
mkdir -p "$MG_TMP/box"
cat > "$MG_TMP/hostile.yaml" <<YAML
version: 1
name: hostile
source: "tar://$G/hostile.tar"
target: "$MG_TMP/box/in/target"
journal: "$MG_TMP/hostile.journal"
YAML
t_exit "hostile: exit 1 (the bad names are reported)" 1 "$MIGRATE" --json "$MG_TMP/hostile.yaml"
for n in ../../escaped-dotdot /tmp/escaped-abs 'C:\\\\escaped-drive' sub/../../escaped-sub; do
	t_grep "hostile: '$n' is reported" "$(printf '%s' "$n" | sed 's/[.]/\\./g')" "$MG_TMP/.out"
done
got=$(cd "$MG_TMP/box" && find . -mindepth 1 ! -path '*/.migrate-tmp*' | LC_ALL=C sort | tr '\n' ' ')
[ "$got" = "./in ./in/target ./in/target/ok ./in/target/ok/file " ] &&
	[ ! -e /tmp/escaped-abs ] && t_ok "hostile: only ok/file landed, inside the target" ||
	t_fail "hostile: nothing outside the target" "found: $got"
[ "$(json targets.0.skipped_symlinks)" = 1 ] && t_ok "hostile: the escaping symlink is skipped" ||
	t_fail "hostile: symlink skipped"

# prefix
plan pre "{ url: \"tar://$ARCH/test_compat_gzip_1.tgz\", prefix: \"from/the/tgz\" }"
t_exit "prefix: exit 0" 0 "$MIGRATE" "$MG_TMP/pre.yaml"
[ -f "$MG_TMP/pre.dst/from/the/tgz/d1/f1" ] && [ "$(find "$MG_TMP/pre.dst" -type f | wc -l)" = 6 ] &&
	t_ok "prefix: entries land under it" || t_fail "prefix: entries under it"

# truncated: the entries before the cut are done; the rerun adds nothing
plan cut "\"tar://$G/cut.tgz\""
t_exit "truncated .tgz: exit 1" 1 "$MIGRATE" --json "$MG_TMP/cut.yaml"
done1=$(json targets.0.copied.objects)
[ "$done1" -ge 1 ] && t_ok "truncated .tgz: the $done1 entries before the cut are copied" ||
	t_fail "truncated .tgz: entries before the cut"
t_grep "truncated .tgz: says where it broke" "cut.tgz' is truncated or damaged at entry" "$MG_TMP/.out"
mkdir -p "$MG_TMP/cut.ref" && (cd "$MG_TMP/cut.ref" && bsdtar -xf "$G/cut.tgz" 2>/dev/null)
for f in "$MG_TMP/cut.ref"/part/*; do
	[ -e "$MG_TMP/cut.dst/part/${f##*/}" ] || rm "$f"	# bsdtar's half-written one
done
$CMP "$MG_TMP/cut.ref" "$MG_TMP/cut.dst" > "$MG_TMP/.cmp" &&
	t_ok "truncated .tgz: what was copied is whole" || { t_fail "truncated .tgz: copies whole"; cat "$MG_TMP/.cmp"; }
t_exit "truncated .tgz: rerun still exits 1" 1 "$MIGRATE" --json "$MG_TMP/cut.yaml"
[ "$(json targets.0.copied.objects)" = 0 ] && t_ok "truncated .tgz: rerun copies nothing again" ||
	t_fail "truncated .tgz: rerun copies nothing"

# far out of key order, 4 workers, a small cache: everything right
mkdir -p "$MG_TMP/sh.ref" && (cd "$MG_TMP/sh.ref" && bsdtar -xf "$G/shuffled.tgz")
plan sh "\"tar://$G/shuffled.tgz\""
t_exit "shuffled .tgz, 4 workers, 100 kB cache: exit 0" 0 \
	env MG_TAR_CACHE_CAP=100000 "$MIGRATE" "$MG_TMP/sh.yaml"
$CMP "$MG_TMP/sh.ref" "$MG_TMP/sh.dst" > "$MG_TMP/.cmp" &&
	t_ok "shuffled .tgz: target holds what bsdtar extracts ($(tail -1 "$MG_TMP/.cmp" | tr -d '#'))" ||
	{ t_fail "shuffled .tgz: target"; head "$MG_TMP/.cmp"; }

# kill -9 in the middle of an archive, rerun: done entries are skipped
mkdir -p "$G/k/many"
for i in $(seq -w 1 200); do head -c 65536 /dev/urandom > "$G/k/many/f$i"; done
head -c $((40 << 20)) /dev/urandom > "$G/k/large.bin"
(cd "$G/k" && bsdtar --zstd -cf "$G/kill.tar.zst" many large.bin)
plan kill "\"tar://$G/kill.tar.zst\"" "bandwidth: 5MB/s"
# the test hook (MG_TEST_KILL_AFTER, engine/run/testhook.h) kills it once 20
# entries are committed, under any load; at 5 MB/s few more finish while
# that commit syncs
t_kill_at object:20 "$MIGRATE" --no-progress "$MG_TMP/kill.yaml" > "$MG_TMP/kill1.out" 2>&1
n=$(find "$MG_TMP/kill.dst" -type f ! -path '*/.migrate-tmp/*' 2>/dev/null | wc -l)
[ "$n" -gt 0 ] && [ "$n" -lt 201 ] && t_ok "kill -9 mid-archive ($n of 201 entries there)" ||
	t_fail "killed mid-archive" "$n entries at the target"
# what the journal holds as done after the kill: records are group
# committed (one sync per 10 ms of finished objects), so an entry can be at
# the target without its record yet; it is copied again, never skipped blind
done=$("$MIGRATE" lineage "$MG_TMP/kill.yaml" 2>/dev/null | wc -l)
t_exit "rerun after kill -9 exits 0" 0 "$MIGRATE" --json --bwlimit unlimited "$MG_TMP/kill.yaml"
copied=$(json targets.0.copied.objects)
unchanged=$(json targets.0.unchanged.objects)
[ $((copied + unchanged)) -eq 201 ] && [ "$unchanged" -eq "$done" ] && [ "$done" -gt 0 ] &&
	t_ok "rerun skips every entry journaled as done ($unchanged kept, $copied copied)" ||
	t_fail "rerun skips the entries done" "copied $copied unchanged $unchanged journaled $done had $n"
# redone: the 4 workers' entries in flight and those awaiting their commit
[ $((n - done)) -le 16 ] && t_ok "at most 16 entries there but not journaled ($((n - done)))" ||
	t_fail "few entries redone" "$n at the target, $done journaled"
$CMP "$G/k" "$MG_TMP/kill.dst" > "$MG_TMP/.cmp" &&
	t_ok "after the rerun the target is the archive's content" ||
	{ t_fail "target after rerun"; head "$MG_TMP/.cmp"; }

t_done
