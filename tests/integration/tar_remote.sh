#!/usr/bin/env bash
# Archives that sit on another connector: every archive of
# tests/data/archives read as tar:///, tar+sftp:// (a private OpenSSH sshd)
# and tar+s3:// (the S3 server of tools/test, MG_S3_*) gives the same
# listing and the same bytes; migrate from tar+sftp:// and tar+s3:// to a
# local folder matches `bsdtar -xf`; a 1 GiB entry of a .tar.zst on S3 is
# streamed with peak RSS under 100 MB, killed in the middle and finished by
# a rerun that skips the entries done; an entry of a .tar.zst on S3 goes
# into a multipart upload on S3.
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tools/lib/sshd.sh"

. "$MG_SRCDIR/tests/conformance/lib.sh"	# $CF: the conformance program
command -v bsdtar >/dev/null || t_skip_all "bsdtar is missing: apt-get install libarchive-tools"
command -v zstd >/dev/null || t_skip_all "zstd is missing: apt-get install zstd"
bsdtar() { LC_ALL=C.UTF-8 command bsdtar "$@"; }
ARCH=$MG_SRCDIR/tests/data/archives
CMP="python3 $MG_SRCDIR/tests/integration/tar_compare.py"
json() {
	sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/.json"
	json_get "$MG_TMP/.json" "$1"
}

# same_as_local NAME PLAN ARCHIVE: listing and bytes equal to tar:///ARCHIVE
same_as_local() {
	local name=$1 plan=$2 a=$3 b
	b=$(basename "$a")
	"$CF" tar --url "tar://$a" list > "$MG_TMP/local.list" 2>/dev/null
	"$CF" tar --plan "$plan" list > "$MG_TMP/remote.list" 2>"$MG_TMP/remote.err"
	if cmp -s "$MG_TMP/local.list" "$MG_TMP/remote.list"; then
		t_ok "$name: $b lists as from tar:///"
	else
		t_fail "$name: $b lists as from tar:///"; head -5 "$MG_TMP/remote.err"
	fi
	case $b in *malformed*) return ;; esac
	rm -rf "$MG_TMP/o.local" "$MG_TMP/o.remote"
	mkdir -p "$MG_TMP/o.local" "$MG_TMP/o.remote"
	"$CF" tar --url "tar://$a" extract "$MG_TMP/o.local" > /dev/null 2>&1
	"$CF" tar --plan "$plan" extract "$MG_TMP/o.remote" > /dev/null 2>&1
	diff -r "$MG_TMP/o.local" "$MG_TMP/o.remote" > "$MG_TMP/.diff" 2>&1 &&
		t_ok "$name: $b reads the same bytes" ||
		{ t_fail "$name: $b reads the same bytes"; head -5 "$MG_TMP/.diff"; }
}

# ---- tar+sftp -------------------------------------------------------------
if [ -z "${MG_SSH_PORT:-}" ] || ! _sshd_running "${MG_SSH_DIR:-/nonexistent}"; then
	if sshd_start "$MG_TMP/sshd" > "$MG_TMP/sshd-start.log" 2>&1; then
		t_at_exit "sshd_stop '$MG_TMP/sshd'"
	fi
fi
if [ -n "${MG_SSH_PORT:-}" ]; then
	sftp_plan() {	# sftp_plan FILE ARCHIVE [TARGET]
		cat > "$1" <<YAML
version: 1
name: tar-sftp
source:
  url: "tar+sftp://$MG_SSH_USER@$MG_SSH_HOST:$MG_SSH_PORT$2"
  identity_file: $MG_SSH_KEY
  known_hosts: $MG_SSH_KNOWN_HOSTS
target: "${3:-$MG_TMP/unused}"
journal: "$MG_TMP/journal-sftp-$(basename "$2")"
YAML
	}
	for a in "$ARCH"/* "$ARCH"/hardlinks/*; do
		case $a in *.md) continue ;; esac
		[ -f "$a" ] || continue
		sftp_plan "$MG_TMP/sftp.yaml" "$a"
		same_as_local "tar+sftp" "$MG_TMP/sftp.yaml" "$a"
	done
	a=$ARCH/test_compat_xz_1.txz
	sftp_plan "$MG_TMP/sftp-run.yaml" "$a" "$MG_TMP/sftp.dst"
	mkdir -p "$MG_TMP/xz.ref" && (cd "$MG_TMP/xz.ref" && bsdtar -xf "$a")
	t_exit "tar+sftp: migrate to a local folder exits 0" 0 "$MIGRATE" "$MG_TMP/sftp-run.yaml"
	$CMP "$MG_TMP/xz.ref" "$MG_TMP/sftp.dst" > "$MG_TMP/.cmp" &&
		t_ok "tar+sftp: target holds what bsdtar -xf extracts" ||
		{ t_fail "tar+sftp: target"; cat "$MG_TMP/.cmp"; }
	sftp_plan "$MG_TMP/sftp-missing.yaml" "$ARCH/no-such.tgz"
	t_exit "tar+sftp: a missing archive is fatal (exit 3)" 3 "$CF" tar --plan "$MG_TMP/sftp-missing.yaml" list
	t_grep "tar+sftp: the message names the archive" "archive 'tar\+sftp://.*no-such.tgz' does not exist" "$MG_TMP/.out"
else
	t_skip "tar+sftp" "no sshd: $(tail -1 "$MG_TMP/sshd-start.log" 2>/dev/null)"
fi

# ---- tar+s3 ---------------------------------------------------------------
if [ -z "${MG_S3_ENDPOINT:-}" ] || [ ! -x /usr/bin/aws ]; then
	t_skip "tar+s3" "MG_S3_ENDPOINT is not set or /usr/bin/aws is missing (tools/test starts the server)"
	t_done
fi
export AWS_ACCESS_KEY_ID=$MG_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$MG_S3_SECRET_KEY
export AWS_DEFAULT_REGION=${MG_S3_REGION:-us-east-1}
export AWS_CONFIG_FILE=$MG_TMP/aws-config AWS_SHARED_CREDENTIALS_FILE=$MG_TMP/none
printf '[default]\nregion = %s\ns3 =\n    addressing_style = path\n' "$AWS_DEFAULT_REGION" > "$AWS_CONFIG_FILE"
AWS=(/usr/bin/aws --endpoint-url "$MG_S3_ENDPOINT")
BUCKET=mg-tar-$$-$RANDOM
"${AWS[@]}" s3 mb "s3://$BUCKET" > "$MG_TMP/mb.out" 2>&1 ||
	{ t_fail "create bucket" "$(cat "$MG_TMP/mb.out")"; t_done; }
t_at_exit "/usr/bin/aws --endpoint-url '$MG_S3_ENDPOINT' s3 rb --force 's3://$BUCKET' >/dev/null 2>&1"
"${AWS[@]}" s3 cp --recursive --quiet "$ARCH/" "s3://$BUCKET/in a/folder/" ||
	{ t_fail "upload the archives"; t_done; }

s3_plan() {	# s3_plan FILE KEY TARGET-YAML [TRANSFER-YAML] [EXTRA-SOURCE-YAML]
	cat > "$1" <<YAML
version: 1
name: tar-s3
source:
  url: "tar+s3://$BUCKET/$2"
  endpoint: \${MG_S3_ENDPOINT}
  region: \${MG_S3_REGION}
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
${5:-}
target: $3
journal: "$MG_TMP/journal-s3-$(basename "$1" .yaml)"
transfer: { concurrency: 4${4:+, ${4:-}} }
YAML
}
for a in "$ARCH"/* "$ARCH"/hardlinks/*; do
	case $a in *.md) continue ;; esac
	[ -f "$a" ] || continue
	s3_plan "$MG_TMP/s3.yaml" "in%20a/folder/${a#"$ARCH"/}" "$MG_TMP/unused"
	same_as_local "tar+s3" "$MG_TMP/s3.yaml" "$a"
done
a=$ARCH/test_read_format_gtar_sparse_1_17_posix10.tar
s3_plan "$MG_TMP/s3-run.yaml" "in%20a/folder/$(basename "$a")" "$MG_TMP/s3.dst"
mkdir -p "$MG_TMP/sp.ref" && (cd "$MG_TMP/sp.ref" && bsdtar -xf "$a")
t_exit "tar+s3: migrate the sparse tar to a local folder exits 0" 0 "$MIGRATE" "$MG_TMP/s3-run.yaml"
$CMP "$MG_TMP/sp.ref" "$MG_TMP/s3.dst" > "$MG_TMP/.cmp" &&
	t_ok "tar+s3: target holds what bsdtar -xf extracts" || { t_fail "tar+s3: target"; cat "$MG_TMP/.cmp"; }
s3_plan "$MG_TMP/s3-missing.yaml" "in%20a/folder/no-such.tgz" "$MG_TMP/unused"
t_exit "tar+s3: a missing archive is fatal (exit 3)" 3 "$CF" tar --plan "$MG_TMP/s3-missing.yaml" list
t_grep "tar+s3: the message names the archive" "archive 'tar\+s3://.*no-such.tgz' does not exist" "$MG_TMP/.out"

# A 1 GiB entry (a 1 MiB random block over and over: zstd packs it to about
# 1 MiB, so the plan raises max_ratio) and 100 small entries before it in
# key order.  Written through a pipe: no 1 GiB file on this disk.
python3 - "$MG_TMP/big.tar.zst" > "$MG_TMP/big.sha" <<'PY'
import hashlib, io, os, subprocess, sys, tarfile
out = open(sys.argv[1], 'wb')
z = subprocess.Popen(['zstd', '-q', '-3', '-c'], stdin=subprocess.PIPE, stdout=out)
block = os.urandom(1 << 20)
sha = hashlib.sha256()
class Big(io.RawIOBase):
    left = 1 << 30
    def readable(self): return True
    def readinto(self, b):
        n = min(len(b), self.left, len(block))
        b[:n] = block[:n]
        sha.update(block[:n])
        self.left -= n
        return n
with tarfile.open(fileobj=z.stdin, mode='w|') as t:
    for i in range(100):
        ti = tarfile.TarInfo('a-small/%03d' % i); data = os.urandom(50000); ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    ti = tarfile.TarInfo('z-big.bin'); ti.size = 1 << 30
    t.addfile(ti, io.BufferedReader(Big(), 1 << 20))
z.stdin.close(); z.wait()
print(sha.hexdigest())
PY
"${AWS[@]}" s3 cp --quiet "$MG_TMP/big.tar.zst" "s3://$BUCKET/big.tar.zst" ||
	{ t_fail "upload big.tar.zst"; t_done; }
s3_plan "$MG_TMP/big.yaml" big.tar.zst "$MG_TMP/big.dst" "bandwidth: 150MB/s" "  max_ratio: 100000"
"$MIGRATE" --no-progress "$MG_TMP/big.yaml" > "$MG_TMP/big1.out" 2>&1 &
pid=$!
# the small entries come first in key order: kill once they are all there
# (the big one then takes about 7 s at 150 MB/s)
for _ in $(seq 600); do
	[ "$(find "$MG_TMP/big.dst/a-small" -type f 2>/dev/null | wc -l)" -ge 100 ] && break
	sleep 0.1
done
sleep 1
kill -9 "$pid"; wait "$pid" 2>/dev/null
n=$(find "$MG_TMP/big.dst" -type f ! -path '*/.migrate-tmp/*' 2>/dev/null | wc -l)
[ "$n" -ge 50 ] && [ ! -e "$MG_TMP/big.dst/z-big.bin" ] &&
	t_ok "1 GiB entry: killed in the middle ($n small entries done, the big one not)" ||
	t_fail "1 GiB entry: killed in the middle" "$n entries there; big: $(ls -la "$MG_TMP/big.dst/z-big.bin" 2>&1)"
if [ -x /usr/bin/time ]; then
	/usr/bin/time -v "$MIGRATE" --json --bwlimit unlimited "$MG_TMP/big.yaml" > "$MG_TMP/.out" 2> "$MG_TMP/time.err"
	rc=$?
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$MG_TMP/time.err")
	[ "$rc" = 0 ] && t_ok "1 GiB entry: rerun exits 0" || t_fail "1 GiB entry: rerun" "exit $rc: $(tail -3 "$MG_TMP/time.err")"
	[ -n "$rss" ] && [ "$rss" -lt 100000 ] && t_ok "1 GiB entry: peak RSS ${rss} KiB (< 100 MB)" ||
		t_fail "1 GiB entry: peak RSS" "${rss:-?} KiB"
	unchanged=$(json targets.0.unchanged.objects)
	copied=$(json targets.0.copied.objects)
	[ "$unchanged" -ge $((n - 4)) ] && [ $((unchanged + copied)) = 101 ] &&
		t_ok "1 GiB entry: the rerun skips the $unchanged entries done, copies $copied" ||
		t_fail "1 GiB entry: rerun skips what was done" "unchanged $unchanged copied $copied had $n"
	[ "$(sha256sum < "$MG_TMP/big.dst/z-big.bin" | cut -d' ' -f1)" = "$(cat "$MG_TMP/big.sha")" ] &&
		t_ok "1 GiB entry: bytes right" || t_fail "1 GiB entry: bytes"
else
	t_skip "1 GiB entry" "/usr/bin/time missing (apt-get install time)"
fi
rm -rf "$MG_TMP/big.dst" "$MG_TMP/big.tar.zst"
"${AWS[@]}" s3 rm --quiet "s3://$BUCKET/big.tar.zst"

# an entry of a .tar.zst on S3 into a multipart upload on S3
head -c $((40 << 20)) /dev/urandom > "$MG_TMP/mp.bin"
printf 'hello\n' > "$MG_TMP/mp-small.txt"
(cd "$MG_TMP" && bsdtar --zstd -cf mp.tar.zst mp.bin mp-small.txt)
"${AWS[@]}" s3 cp --quiet "$MG_TMP/mp.tar.zst" "s3://$BUCKET/mp.tar.zst"
cat > "$MG_TMP/mp-target.yaml" <<YAML

  url: s3://$BUCKET/out/
  endpoint: \${MG_S3_ENDPOINT}
  region: \${MG_S3_REGION}
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
YAML
s3_plan "$MG_TMP/mp.yaml" mp.tar.zst "$(cat "$MG_TMP/mp-target.yaml")" \
	"multipart_threshold: 5MiB, part_size: 8MiB"
t_exit "tar+s3 -> s3: exit 0" 0 "$MIGRATE" --json "$MG_TMP/mp.yaml"
"${AWS[@]}" s3api head-object --bucket "$BUCKET" --key out/mp.bin > "$MG_TMP/head.json" 2>&1
t_grep "tar+s3 -> s3: the 40 MiB entry is a multipart object" '"ETag": ".*-5\\"' "$MG_TMP/head.json"
"${AWS[@]}" s3 cp --quiet "s3://$BUCKET/out/mp.bin" "$MG_TMP/mp.back"
cmp -s "$MG_TMP/mp.bin" "$MG_TMP/mp.back" && t_ok "tar+s3 -> s3: the object's bytes are the entry's" ||
	t_fail "tar+s3 -> s3: bytes"

t_done
