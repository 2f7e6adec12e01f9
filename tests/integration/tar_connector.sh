#!/usr/bin/env bash
# The tar connector driven directly by `conformance tar` (no engine); what every
# source promises (byte order, start_after, reading back Unicode and
# hostile keys) is the conformance suite's: conformance_tar.sh.  Every archive
# in tests/data/archives listed like `bsdtar -tvf` and read like `bsdtar
# -xf`; the encrypted and the malformed zip; a truncated archive; generated
# hostile names, symlinks and hard links; a gzip bomb; a 150 MiB entry read
# with bounded memory; reads far out of archive order with a small cache.
. "$MG_SRCDIR/tests/lib.sh"

. "$MG_SRCDIR/tests/conformance/lib.sh"	# $CF: the conformance program
command -v bsdtar >/dev/null ||
	t_skip_all "bsdtar is missing: apt-get install libarchive-tools"
command -v python3 >/dev/null || t_skip_all "python3 is missing"
ARCH=$MG_SRCDIR/tests/data/archives
export LC_ALL=C	# the connector must not depend on the locale
bsdtar() { LC_ALL=C.UTF-8 command bsdtar "$@"; }	# bsdtar does

# tar_compare.py REF OUT: what bsdtar extracted into REF is in OUT, byte
# for byte, and nothing else (OUT's names unescaped by the connector's rule)
CMP="python3 $MG_SRCDIR/tests/integration/tar_compare.py"

# listcmp.py BSDTAR_TV CONN_LIST: the same names, kinds and sizes
cat > "$MG_TMP/listcmp.py" <<'PY'
import re, sys

def octal(s):
    return re.sub(rb'\\([0-7]{3})', lambda m: bytes([int(m.group(1), 8)]), s)

def pct(s):
    raw = re.sub(rb'%([0-9A-F]{2})', lambda m: bytes([int(m.group(1), 16)]), s)
    try:
        raw.decode('utf-8')
        return s
    except UnicodeDecodeError:
        return raw

want = {}
for line in open(sys.argv[1], 'rb').read().splitlines():
    f = line.split(None, 8)
    if len(f) < 9 or f[0][:1] == b'd':
        continue
    name, size, kind = f[8], int(f[4]), 'file'
    if f[0][:1] == b'l':
        name, kind, size = name.split(b' -> ')[0], 'symlink', 0
    elif b' link to ' in name:
        name, kind, size = name.split(b' link to ')[0], 'hardlink', None
    elif f[0][:1] != b'-':
        kind, size = 'special', 0
    name = octal(name)
    while name.startswith(b'./'):
        name = name[2:]
    want[name] = (kind, size)
got = {}
for line in open(sys.argv[2], 'rb').read().splitlines():
    f = line.split(b'\t')
    got[pct(f[3])] = (f[0].decode(), int(f[1]))
bad = 0
for k in sorted(set(want) | set(got)):
    w, g = want.get(k), got.get(k)
    ok = w and g and (w == g or (w[0] == 'hardlink' and g[0] == 'file'))
    if not ok:
        print('# %r: bsdtar %s, connector %s' % (k, w, g))
        bad = 1
sys.exit(bad)
PY

# ---- the archives of other tools -----------------------------------------
for a in "$ARCH"/*; do
	[ -f "$a" ] || continue	# hardlinks/: tar_hardlinks.sh
	b=$(basename "$a")
	case $b in
	*.md | *malformed*) continue ;;
	esac
	bsdtar -tvf "$a" > "$MG_TMP/$b.tv" 2>/dev/null
	"$CF" tar --url "tar://$a" list > "$MG_TMP/$b.list" 2>"$MG_TMP/$b.err"
	if python3 "$MG_TMP/listcmp.py" "$MG_TMP/$b.tv" "$MG_TMP/$b.list" > "$MG_TMP/.cmp"; then
		t_ok "$b: listing matches bsdtar -tvf ($(wc -l < "$MG_TMP/$b.list") entries)"
	else
		t_fail "$b: listing matches bsdtar -tvf"; cat "$MG_TMP/.cmp"
	fi
	case $b in *encryption*) continue ;; esac
	mkdir -p "$MG_TMP/ref/$b" "$MG_TMP/out/$b"
	(cd "$MG_TMP/ref/$b" && bsdtar -xf "$a" 2>/dev/null)
	if "$CF" tar --url "tar://$a" extract "$MG_TMP/out/$b" 2>"$MG_TMP/.err" &&
	   $CMP "$MG_TMP/ref/$b" "$MG_TMP/out/$b" > "$MG_TMP/.cmp"; then
		t_ok "$b: every entry reads as bsdtar -xf extracts it ($(tail -1 "$MG_TMP/.cmp" | tr -d '#'))"
	else
		t_fail "$b: entries read as bsdtar extracts them"
		cat "$MG_TMP/.cmp" "$MG_TMP/.err" | sed 's/^/# /' | head -20
	fi
done

b=test_read_format_gtar_sparse_1_17_posix10.tar
t_grep "sparse entry keeps its full size" $'^file\t99000001\t[0-9]+\tsparse2$' "$MG_TMP/$b.list"
t_grep "invalid UTF-8 name is percent-escaped" $'\tabc\xcc\x8cmno%FCxyz$' \
	"$MG_TMP/test_pax_filename_encoding.tar.list"
t_grep "hard link is listed as a file with its target's size" \
	$'^file\t321\t[0-9]+\txmcd-3.3.2/README$' "$MG_TMP/test_compat_tar_hardlink_1.tar.list"
t_grep "gtar symlink is listed as a symlink with its target" \
	$'^symlink\t0\t.*\t-> 1234567890' "$MG_TMP/test_compat_gtar_1.tar.list"

# encrypted zip: each entry fails alone, with the listing intact
enc=$ARCH/test_read_format_zip_encryption_data.zip
t_exit "encrypted zip: extraction exits 1" 1 "$CF" tar --url "tar://$enc" extract "$MG_TMP/enc"
t_grep "encrypted zip: 'bar.txt' fails as encrypted" "entry 'bar.txt' is encrypted" "$MG_TMP/.out"
t_grep "encrypted zip: 'foo.txt' fails as encrypted" "entry 'foo.txt' is encrypted" "$MG_TMP/.out"
[ -z "$(find "$MG_TMP/enc" -type f 2>/dev/null)" ] &&
	t_ok "encrypted zip: no partial object is left" || t_fail "encrypted zip: partial objects left"

# malformed zip: the listing ends with where the archive broke
mal=$ARCH/test_read_format_zip_malformed1.zip
t_exit "malformed zip: listing exits 1" 1 "$CF" tar --url "tar://$mal" list
t_grep "malformed zip: says where it broke" \
	"archive '.*malformed1.zip' is truncated or damaged at entry 1 '0000' \(offset [0-9]+\): Truncated input" "$MG_TMP/.out"

# ---- generated archives --------------------------------------------------
G=$MG_TMP/gen
t_tar_gen "$G" 6 <<'PY'

# hostile names
with pax_tar(os.path.join(g, 'hostile.tar')) as t:
    add(t, '../../etc/passwd', b'root::0:0\n')
    add(t, '/abs/file', b'abs\n')
    add(t, 'C:\\x\\evil.txt', b'drive\n')
    add(t, 'a/../../escape', b'escape\n')
    add(t, './ok//file', b'fine\n')
    add(t, b'bad\xff\xfename 100%'.decode('utf-8', 'surrogateescape'), b'latin\n')
    add(t, 'link-escape', type=tarfile.SYMTYPE, linkname='../../../etc/passwd')
    add(t, 'ok/inside', type=tarfile.SYMTYPE, linkname='file')
    add(t, 'ok/hard', type=tarfile.LNKTYPE, linkname='ok/file')
    add(t, 'fifo', type=tarfile.FIFOTYPE)

# a gzip'd tar cut in the middle
full_and_cut(g, rnd)
# entries far out of key order: many small ones, some past the cache's
# per-entry limit (4 MiB), a hard link and a symlink
shuffled(g, rnd)
PY

h=$G/hostile.tar
t_exit "hostile: listing exits 0 (bad names are entries, not a broken archive)" 0 \
	"$CF" tar --url "tar://$h" list
cp "$MG_TMP/.out" "$MG_TMP/hostile.list"
for n in '../../etc/passwd' '/abs/file' 'C:\\x\\evil.txt' 'a/../../escape'; do
	t_grep "hostile: '$n' is an error entry naming it" \
		$'^error\t0\t[0-9]+\t'"$(printf '%s' "$n" | sed 's/[.]/\\./g')"$'\t! ' "$MG_TMP/hostile.list"
done
t_grep "hostile: '..' is named as the reason" "escape	! refused: the name has a '\.\.' component" "$MG_TMP/hostile.list"
t_grep "hostile: './ok//file' becomes 'ok/file'" $'^file\t5\t1600000000\tok/file$' "$MG_TMP/hostile.list"
t_grep "hostile: invalid bytes and '%' escaped" $'^file\t6\t[0-9]+\tbad%FF%FEname 100%25$' "$MG_TMP/hostile.list"
t_grep "hostile: symlinks are listed as symlinks" $'^symlink\t0\t[0-9]+\tlink-escape\t-> \.\./\.\./\.\./etc/passwd' "$MG_TMP/hostile.list"
t_grep "hostile: hard link reads as its target" $'^file\t5\t[0-9]+\tok/hard$' "$MG_TMP/hostile.list"
t_grep "hostile: fifo is a special entry" $'^special\t0\t[0-9]+\tfifo$' "$MG_TMP/hostile.list"
mkdir -p "$MG_TMP/sandbox/in/out"
t_exit "hostile: extraction exits 1 (the bad names fail)" 1 \
	"$CF" tar --url "tar://$h" extract "$MG_TMP/sandbox/in/out"
got=$(cd "$MG_TMP/sandbox" && find . -mindepth 1 | LC_ALL=C sort | tr '\n' ' ')
want='./in ./in/out ./in/out/bad%FF%FEname 100%25 ./in/out/ok ./in/out/ok/file ./in/out/ok/hard '
[ "$got" = "$want" ] && t_ok "hostile: nothing lands outside the extraction folder" ||
	t_fail "hostile: nothing outside" "got: $got"
[ "$(cat "$MG_TMP/sandbox/in/out/ok/hard")" = fine ] && t_ok "hostile: hard link has its target's bytes" ||
	t_fail "hostile: hard link content"

"$CF" tar --url "tar://$h" --symlinks follow list > "$MG_TMP/follow.list" 2>/dev/null
t_grep "follow: a link inside the archive reads as its target" $'^file\t5\t[0-9]+\tok/inside$' "$MG_TMP/follow.list"
t_grep "follow: a link escaping the root stays a skipped symlink" $'^symlink\t0\t[0-9]+\tlink-escape\t' "$MG_TMP/follow.list"
[ "$("$CF" tar --url "tar://$h" --symlinks follow cat ok/inside 2>/dev/null)" = fine ] &&
	t_ok "follow: bytes are the target's" || t_fail "follow: bytes"
"$CF" tar --url "tar://$h" --symlinks record list > "$MG_TMP/record.list" 2>/dev/null
t_grep "record: a symlink is a small file" $'^file\t19\t[0-9]+\tlink-escape\t-> \.\./\.\./\.\./etc/passwd' "$MG_TMP/record.list"
[ "$("$CF" tar --url "tar://$h" --symlinks record cat link-escape 2>/dev/null)" = ../../../etc/passwd ] &&
	t_ok "record: its content is the link target" || t_fail "record: content"
"$CF" tar --url "tar://$h" --prefix 'in/box/' list > "$MG_TMP/prefix.list" 2>/dev/null
t_grep "prefix: keys land under it" $'^file\t5\t[0-9]+\tin/box/ok/file$' "$MG_TMP/prefix.list"
t_grep "prefix: hostile names are still errors under it" $'^error\t0\t[0-9]+\tin/box/\.\./\.\./etc/passwd\t' "$MG_TMP/prefix.list"
[ "$(grep -vc $'\tin/box/' "$MG_TMP/prefix.list")" = 0 ] && t_ok "prefix: every key is under it" ||
	t_fail "prefix: keys outside"

# truncated archive: the entries before the cut are listed and read, then the error
t_exit "truncated .tgz: extraction exits 1" 1 "$CF" tar --url "tar://$G/cut.tgz" extract "$MG_TMP/cut"
t_grep "truncated .tgz: says at which entry it broke" \
	"archive '.*cut.tgz' is truncated or damaged at entry [0-9]+ .*\(offset [0-9]+\)" "$MG_TMP/.out"
mkdir -p "$MG_TMP/cutref" && (cd "$MG_TMP/cutref" && bsdtar -xf "$G/cut.tgz" 2>/dev/null)
n=$(find "$MG_TMP/cut" -type f | wc -l)
# bsdtar leaves the broken entry half written; the connector does not list it
find "$MG_TMP/cutref" -type f | while read -r f; do
	[ -e "$MG_TMP/cut/${f#"$MG_TMP/cutref/"}" ] || rm "$f"
done
if [ "$n" -ge 1 ] && $CMP "$MG_TMP/cutref" "$MG_TMP/cut" > "$MG_TMP/.cmp"; then
	t_ok "truncated .tgz: the $n entries before the cut read whole"
else
	t_fail "truncated .tgz: entries before the cut" "$n files"; cat "$MG_TMP/.cmp"
fi

# out of order: key order, reverse order, three connections, a tiny cache
s=$G/shuffled.tgz
mkdir -p "$MG_TMP/shref" && (cd "$MG_TMP/shref" && bsdtar -xf "$s")
rm -f "$MG_TMP/shref/aa-sym"
for run in "key:1:" "reverse:1:" "key:3:" "key:1:200000" "reverse:3:50000"; do
	IFS=: read -r order conns cap <<<"$run"
	o=$MG_TMP/sh-$order-$conns-$cap
	if MG_TAR_CACHE_CAP=${cap:-67108864} "$CF" tar --url "tar://$s" --order "$order" --conns "$conns" \
		extract "$o" 2>"$MG_TMP/.err" &&
	   $CMP "$MG_TMP/shref" "$o" > "$MG_TMP/.cmp"; then
		t_ok "shuffled .tgz, $order order, $conns conns, cache ${cap:-64MiB}: all $(tail -1 "$MG_TMP/.cmp" | tr -dc 0-9) entries right"
	else
		t_fail "shuffled .tgz, $order order, $conns conns, cache ${cap:-64MiB}"
		cat "$MG_TMP/.cmp" "$MG_TMP/.err" | head -10
	fi
done
# byte order and start_after over an archive packed in reverse key
# order: the conformance suite's (conformance_tar.sh)

# ---- limits --------------------------------------------------------------
truncate -s 200M "$G/zeros.bin"
(cd "$G" && tar -czf bomb.tgz zeros.bin) && rm "$G/zeros.bin"
t_exit "bomb: a 200 MiB entry over max_ratio 100 fails" 1 \
	"$CF" tar --url "tar://$G/bomb.tgz" --max-ratio 100 extract "$MG_TMP/bomb"
t_grep "bomb: the message names the entry and the limit" \
	"entry 'zeros.bin' expands more than 100:1 .*raise max_ratio" "$MG_TMP/.out"
[ -z "$(find "$MG_TMP/bomb" -type f)" ] && t_ok "bomb: nothing is left of it" || t_fail "bomb: partial file left"
t_exit "bomb: max_entry_size stops it before reading" 1 \
	"$CF" tar --url "tar://$G/bomb.tgz" --max-entry-size 1000000 extract "$MG_TMP/bomb2"
t_grep "bomb: the message says which limit" "entry 'zeros.bin' is larger than max_entry_size" "$MG_TMP/.out"
t_exit "bomb: with max_ratio raised it reads whole" 0 \
	"$CF" tar --url "tar://$G/bomb.tgz" --max-ratio 100000 extract "$MG_TMP/bomb3"
[ "$(stat -c %s "$MG_TMP/bomb3/zeros.bin")" = $((200 << 20)) ] && t_ok "bomb: 200 MiB read when allowed" ||
	t_fail "bomb: size when allowed"
rm -rf "$MG_TMP/bomb3" "$G/bomb.tgz"

# ---- a 150 MiB entry with bounded memory ---------------------------------
head -c $((150 << 20)) /dev/urandom > "$G/big.bin"
printf 'small\n' > "$G/small.txt"
(cd "$G" && bsdtar --zstd -cf big.tar.zst small.txt big.bin)
want=$(sha256sum < "$G/big.bin")
rm "$G/big.bin"
if [ -x /usr/bin/time ]; then
	/usr/bin/time -v "$CF" tar --url "tar://$G/big.tar.zst" cat big.bin 2>"$MG_TMP/time.err" |
		sha256sum > "$MG_TMP/big.sum"
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$MG_TMP/time.err")
	[ "$(cat "$MG_TMP/big.sum")" = "$want" ] && t_ok "150 MiB entry in .tar.zst reads whole" ||
		t_fail "150 MiB entry bytes"
	[ -n "$rss" ] && [ "$rss" -lt 40000 ] && t_ok "150 MiB entry streamed with peak RSS ${rss} KiB (< 40 MB)" ||
		t_fail "150 MiB entry memory" "peak RSS ${rss:-?} KiB"
else
	t_skip "150 MiB entry memory" "/usr/bin/time missing (apt-get install time)"
fi

# ---- not an archive, no archive ------------------------------------------
head -c 5000 /dev/urandom > "$G/noise.bin"
t_exit "not an archive: exit 3" 3 "$CF" tar --url "tar://$G/noise.bin" list
t_grep "not an archive: says so" "cannot read archive '.*noise.bin'" "$MG_TMP/.out"
t_exit "missing archive: exit 3" 3 "$CF" tar --url "tar://$G/nope.tar" list
t_grep "missing archive: names it" "cannot open archive '.*nope.tar': No such file" "$MG_TMP/.out"

t_done
