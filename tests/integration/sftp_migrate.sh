#!/usr/bin/env bash
# sftp_migrate.sh - `migrate` with an SFTP source (and an SFTP target)
# against a real OpenSSH sshd: byte-identical copies of an awkward tree,
# reruns that move nothing, a connection killed mid-file, unreadable
# files failing alone, the exit codes of host key and login failures
# (@revoked keys included), permission bits kept sftp -> sftp, and a link
# planted in an SFTP target receiving nothing.
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tools/lib/sshd.sh"

[ -x "$MIGRATE" ] || t_skip_all "migrate not built ($MIGRATE)"
t_need_sshd
H=$MG_SSH_HOST P=$MG_SSH_PORT
chmod 755 "$MG_TMP"
SRC=$MG_TMP/src DST=$MG_TMP/dst

mkdir -p "$SRC/a/b" "$SRC/Ünïcödé" "$SRC/with space" "$SRC/loop"
printf 'hello\n' >"$SRC/a/hello.txt"
printf 'deep\n' >"$SRC/a/b/deep.txt"
printf 'sort\n' >"$SRC/a-b"
printf 'sort\n' >"$SRC/a.b"
printf 'utf8\n' >"$SRC/Ünïcödé/東京.txt"
printf 'x' >"$SRC/with space/file  name.txt"
: >"$SRC/empty"
: >"$SRC/a/empty2"
ln -s ../loop "$SRC/loop/back"
ln -s a/hello.txt "$SRC/link"
head -c 200M /dev/urandom >"$SRC/big.bin"
touch -d '2020-01-02 03:04:05' "$SRC/a/hello.txt"
NFILES=9

# plan FILE NAME SOURCE-URL TARGET [EXTRA-SOURCE-YAML] [EXTRA-TOP-YAML]
plan() {
	cat >"$1" <<YAML
version: 1
name: $2
source:
  url: "$3"
  identity_file: "$MG_SSH_KEY"
  known_hosts: "$MG_SSH_KNOWN_HOSTS"
${5:-}
target: "$4"
journal: "$MG_TMP/journal-$2"
${6:-}
YAML
}
URL="sftp://$MG_SSH_USER@$H:$P$SRC"

# --- sftp -> local ---------------------------------------------------------
plan "$MG_TMP/p1.yaml" sftp-local "$URL" "$DST"
t_exit "sftp -> local: first run exits 0" 0 "$MIGRATE" --json "$MG_TMP/p1.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" >"$MG_TMP/run1.json"
# links are skipped and an object store has no empty folders: compare
# without them
aside() { mkdir -p "$MG_TMP/aside"; mv "$SRC/loop" "$SRC/link" "$MG_TMP/aside/"; }
back() { mv "$MG_TMP/aside/loop" "$MG_TMP/aside/link" "$SRC/"; }
aside
t_same_tree "target is byte-identical (unicode, spaces, empty, 200 MiB)" "$SRC" "$DST"
back
# identical files in the tree become server-side copies (dedupe)
[ $(( $(json_get "$MG_TMP/run1.json" targets.0.new) + \
      $(json_get "$MG_TMP/run1.json" targets.0.deduplicated.objects) )) = $NFILES ] &&
	t_ok "$NFILES new objects (uploads and dedupe copies)" ||
	t_fail "$NFILES new objects" "$(grep -E '"new"' "$MG_TMP/run1.json")"
[ "$(json_get "$MG_TMP/run1.json" targets.0.skipped_symlinks)" = 2 ] &&
	t_ok "both symlinks (one a loop) reported and skipped" ||
	t_fail "both symlinks reported and skipped"
[ "$(stat -c %Y "$SRC/a/hello.txt")" = "$(stat -c %Y "$DST/a/hello.txt")" ] &&
	t_ok "mtime kept" || t_fail "mtime kept"
t_exit "rerun exits 0" 0 "$MIGRATE" --json "$MG_TMP/p1.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" >"$MG_TMP/run2.json"
[ "$(json_get "$MG_TMP/run2.json" targets.0.copied.objects)" = 0 ] &&
	t_ok "rerun copies nothing" || t_fail "rerun copies nothing"
[ "$(json_get "$MG_TMP/run2.json" source_counters.bytes_read)" = 0 ] &&
	t_ok "rerun reads no content over sftp" || t_fail "rerun reads no content over sftp"

# --- symlinks followed, with the loop ---------------------------------------
plan "$MG_TMP/p2.yaml" sftp-follow "$URL" "$MG_TMP/dst-follow" "  symlinks: follow"
t_exit "symlinks: follow finishes despite the loop" 0 "$MIGRATE" "$MG_TMP/p2.yaml"
cmp -s "$MG_TMP/dst-follow/link" "$SRC/a/hello.txt" && t_ok "followed link copied as a file" ||
	t_fail "followed link copied as a file"
[ ! -e "$MG_TMP/dst-follow/loop/back" ] && t_ok "loop not walked" || t_fail "loop not walked"
# follow stays inside the source root; follow-all goes anywhere
printf 'outside secret\n' >"$MG_TMP/outside-secret"
ln -s "$MG_TMP/outside-secret" "$SRC/leak"
plan "$MG_TMP/p2b.yaml" sftp-follow-in "$URL" "$MG_TMP/dst-follow-in" "  symlinks: follow"
t_exit "follow: a link leading outside the root is skipped (exit 0)" 0 "$MIGRATE" "$MG_TMP/p2b.yaml"
[ ! -e "$MG_TMP/dst-follow-in/leak" ] && [ -e "$MG_TMP/dst-follow-in/link" ] &&
	t_ok "follow: the outside file is not copied, the inside link is" ||
	t_fail "follow: the outside file is not copied, the inside link is"
t_grep "follow: the skipped link is named with its reason" "'leak': skipped: .*outside the source folder" "$MG_TMP/.out"
plan "$MG_TMP/p2c.yaml" sftp-follow-all "$URL" "$MG_TMP/dst-follow-all" "  symlinks: follow-all"
t_exit "follow-all: exit 0" 0 "$MIGRATE" "$MG_TMP/p2c.yaml"
cmp -s "$MG_TMP/dst-follow-all/leak" "$MG_TMP/outside-secret" &&
	t_ok "follow-all: the link is followed wherever it leads" ||
	t_fail "follow-all: the link is followed wherever it leads"
rm "$SRC/leak"

# --- the connection killed in the middle of the big file -------------------
rm -rf "$MG_TMP/dst-kill"
plan "$MG_TMP/p3.yaml" sftp-kill "$URL" "$MG_TMP/dst-kill" "" \
	"transfer: { concurrency: 1, bandwidth: 40MB/s }"
"$MIGRATE" --json "$MG_TMP/p3.yaml" >"$MG_TMP/kill.out" 2>&1 &
mpid=$!
# cut the link once the big file is 20 MB on its way (200 MB at 40 MB/s):
# a condition, not a guessed delay, so a loaded machine cuts it mid-file too
t_wait 60 t_file_grown "$MG_TMP/dst-kill/.migrate-tmp" $((20 * 1024 * 1024 + 1))
if sshd_kill_sessions "$MG_SSH_DIR"; then t_ok "killed the sshd sessions mid-run"
else t_fail "killed the sshd sessions mid-run"; fi
wait $mpid
rc=$?
[ $rc = 0 ] && t_ok "the run reconnects and finishes (exit 0)" ||
	t_fail "the run reconnects and finishes (exit 0)" "exit $rc: $(tail -5 "$MG_TMP/kill.out")"
cmp -s "$MG_TMP/dst-kill/big.bin" "$SRC/big.bin" && t_ok "big file byte-identical after the kill" ||
	t_fail "big file byte-identical after the kill"
sed -n '/^{/,/^}/p' "$MG_TMP/kill.out" >"$MG_TMP/kill.json"
br=$(json_get "$MG_TMP/kill.json" source_counters.bytes_read 2>/dev/null)
total=$(cat "$SRC"/big.bin "$SRC"/a/hello.txt "$SRC"/a/b/deep.txt "$SRC"/a-b "$SRC"/a.b \
	"$SRC/Ünïcödé/東京.txt" "$SRC/with space/file  name.txt" | wc -c)
[ "$br" = "$total" ] && t_ok "nothing read twice: bytes_read = size of the tree" ||
	t_fail "nothing read twice: bytes_read = size of the tree" "read $br, tree $total"
gets=$(json_get "$MG_TMP/kill.json" source_counters.requests.get 2>/dev/null)
[ "${gets:-0}" -gt 9 ] && t_ok "the big file was opened again after the kill ($gets opens)" ||
	t_fail "the big file was opened again after the kill" "$gets opens"

# --- an unreadable file and folder fail alone (session user not root) ------
if [ "$(id -u)" = 0 ]; then ruser=nobody; else ruser=$MG_SSH_USER; fi
if [ "$(id -u)" = 0 ] && { ! id nobody >/dev/null 2>&1 ||
	{ command -v runuser >/dev/null && ! runuser -u nobody -- test -x "$SRC"; }; }; then
	t_skip "unreadable file and folder" "no 'nobody' user that can reach $SRC"
else
	mkdir -p "$SRC/closed"; echo no >"$SRC/closed/f"; echo no >"$SRC/secret.txt"
	chmod 000 "$SRC/closed" "$SRC/secret.txt"
	t_at_exit "chmod 755 '$SRC/closed' 2>/dev/null; chmod 644 '$SRC/secret.txt' 2>/dev/null"
	plan "$MG_TMP/p4.yaml" sftp-perm "sftp://$ruser@$H:$P$SRC" "$MG_TMP/dst-perm"
	t_exit "unreadable file and folder: exit 1 (partial)" 1 "$MIGRATE" "$MG_TMP/p4.yaml"
	cp "$MG_TMP/.out" "$MG_TMP/perm.out"
	t_grep "the unreadable file is named with its reason" "secret.txt.*permission denied" "$MG_TMP/perm.out"
	t_grep "the unreadable folder is named with its reason" "closed.*permission denied" "$MG_TMP/perm.out"
	cmp -s "$MG_TMP/dst-perm/big.bin" "$SRC/big.bin" && cmp -s "$MG_TMP/dst-perm/Ünïcödé/東京.txt" "$SRC/Ünïcödé/東京.txt" &&
		t_ok "the rest was copied" || t_fail "the rest was copied"
	chmod 755 "$SRC/closed"; chmod 644 "$SRC/secret.txt"
	rm -rf "$SRC/closed" "$SRC/secret.txt"
fi

# --- refusals: exit 3 with the message ---------------------------------------
ssh-keygen -q -t ed25519 -N '' -f "$MG_TMP/other" -C other
cat >"$MG_TMP/p5.yaml" <<YAML
version: 1
name: sftp-unknown
source:
  url: "$URL"
  identity_file: "$MG_SSH_KEY"
  known_hosts: "$MG_TMP/empty_known_hosts"
target: "$MG_TMP/dst-x"
journal: "$MG_TMP/journal-x"
YAML
fp=$(ssh-keygen -lf "$MG_SSH_KNOWN_HOSTS" | awk '{print $2}')
t_exit "unknown host key: exit 3" 3 "$MIGRATE" "$MG_TMP/p5.yaml"
t_grep "unknown host key: fingerprint and line to add" \
	"not known.*$(sed 's/[+]/\\+/g' <<<"$fp")" "$MG_TMP/.out"
echo "[$H]:$P $(cut -d' ' -f1,2 "$MG_TMP/other.pub")" >"$MG_TMP/empty_known_hosts"
t_exit "changed host key: exit 3" 3 "$MIGRATE" "$MG_TMP/p5.yaml"
t_grep "changed host key: loud message" "has CHANGED" "$MG_TMP/.out"
t_exit "changed host key with -q: exit 3" 3 "$MIGRATE" -q "$MG_TMP/p5.yaml"
t_grep "-q still prints the fatal reason" "has CHANGED" "$MG_TMP/.out"
sed -i "s|known_hosts: .*|known_hosts: \"$MG_SSH_KNOWN_HOSTS\"|; s|identity_file: .*|identity_file: \"$MG_TMP/other\"|" "$MG_TMP/p5.yaml"
t_exit "wrong client key: exit 3" 3 "$MIGRATE" "$MG_TMP/p5.yaml"
t_grep "wrong client key: names user, host and method" \
	"user '$MG_SSH_USER' on host '$H'.*identity file" "$MG_TMP/.out"
[ ! -e "$MG_TMP/dst-x" ] || [ -z "$(ls -A "$MG_TMP/dst-x")" ] &&
	t_ok "nothing copied after a refusal" || t_fail "nothing copied after a refusal"

# --- local -> sftp target ---------------------------------------------------
rm -rf "$MG_TMP/sftp-dst"
cat >"$MG_TMP/p6.yaml" <<YAML
version: 1
name: local-sftp
source: "$SRC"
target:
  url: "sftp://$MG_SSH_USER@$H:$P$MG_TMP/sftp-dst"
  identity_file: "$MG_SSH_KEY"
  known_hosts: "$MG_SSH_KNOWN_HOSTS"
journal: "$MG_TMP/journal-local-sftp"
YAML
t_exit "local -> sftp: exit 0" 0 "$MIGRATE" --json "$MG_TMP/p6.yaml"
aside
t_same_tree "sftp target is byte-identical" "$SRC" "$MG_TMP/sftp-dst"
back
if find "$MG_TMP/sftp-dst" -name '*.migrate-tmp-*' | grep -q .; then
	t_fail "no temporary files left on the sftp target"
else
	t_ok "no temporary files left on the sftp target"
fi
t_exit "local -> sftp: rerun exits 0" 0 "$MIGRATE" --json "$MG_TMP/p6.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" >"$MG_TMP/run6.json"
[ "$(json_get "$MG_TMP/run6.json" targets.0.copied.objects)" = 0 ] &&
	t_ok "local -> sftp: rerun copies nothing" || t_fail "local -> sftp: rerun copies nothing"

# --- a key marked @revoked: exit 3 with the reason ----------------------------
{ cat "$MG_SSH_KNOWN_HOSTS"; echo "@revoked * $(cut -d' ' -f2,3 "$MG_SSH_KNOWN_HOSTS")"; } \
	>"$MG_TMP/kh.revoked"
plan "$MG_TMP/p8.yaml" sftp-revoked "$URL" "$MG_TMP/dst-revoked"
sed -i "s|known_hosts: .*|known_hosts: \"$MG_TMP/kh.revoked\"|" "$MG_TMP/p8.yaml"
t_exit "revoked host key: exit 3" 3 "$MIGRATE" "$MG_TMP/p8.yaml"
t_grep "revoked host key: names host, file and line" \
	"'\[$H\]:$P' is REVOKED: '$MG_TMP/kh.revoked' line 2" "$MG_TMP/.out"
[ ! -e "$MG_TMP/dst-revoked" ] || [ -z "$(ls -A "$MG_TMP/dst-revoked")" ] &&
	t_ok "nothing copied from a revoked host" || t_fail "nothing copied from a revoked host"

# --- small trees for modes and planted links ---------------------------------
S2=$MG_TMP/src2
mkdir -p "$S2/a/b" "$S2/c"
echo private >"$S2/a/private.txt"; chmod 600 "$S2/a/private.txt"
echo run >"$S2/a/b/run.sh"; chmod 755 "$S2/a/b/run.sh"
echo plain >"$S2/c/plain.txt"; chmod 644 "$S2/c/plain.txt"
# sftp_plan FILE NAME SOURCE-YAML TARGET-DIR
sftp_plan() {
	cat >"$1" <<YAML
version: 1
name: $2
source: $3
target:
  url: "sftp://$MG_SSH_USER@$H:$P$4"
  identity_file: "$MG_SSH_KEY"
  known_hosts: "$MG_SSH_KNOWN_HOSTS"
journal: "$MG_TMP/journal-$2"
YAML
}

# --- permission bits kept, sftp -> sftp, umask 022 ----------------------------
sftp_plan "$MG_TMP/p9.yaml" sftp-modes "{ url: \"sftp://$MG_SSH_USER@$H:$P$S2\", identity_file: \"$MG_SSH_KEY\", known_hosts: \"$MG_SSH_KNOWN_HOSTS\" }" "$MG_TMP/dst-modes"
t_exit "sftp -> sftp: exit 0" 0 bash -c 'umask 022; exec "$0" "$1"' "$MIGRATE" "$MG_TMP/p9.yaml"
got=$(cd "$MG_TMP/dst-modes" 2>/dev/null && stat -c '%n=%a' a/private.txt a/b/run.sh c/plain.txt | tr '\n' ' ')
[ "$got" = "a/private.txt=600 a/b/run.sh=755 c/plain.txt=644 " ] &&
	t_ok "sftp -> sftp keeps 0600 and 0755 under umask 022" ||
	t_fail "sftp -> sftp keeps 0600 and 0755 under umask 022" "$got"

# --- a link planted in an SFTP target: that object fails, nothing outside ----
tok=outside-$$-$RANDOM
OUT=$MG_TMP/$tok LT=$MG_TMP/dst-linked
mkdir -p "$OUT" "$LT"
ln -s "$OUT" "$LT/a"
sftp_plan "$MG_TMP/p10.yaml" sftp-linked "\"$S2\"" "$LT"
t_exit "local -> sftp with a planted folder link: exit 1 (partial)" 1 "$MIGRATE" "$MG_TMP/p10.yaml"
t_grep "the failure names the link and says to remove it" \
	"'$LT/a' is a symbolic link to '$OUT'.*remove the link" "$MG_TMP/.out"
[ -z "$(ls -A "$OUT")" ] &&
	t_ok "nothing written through the link" || t_fail "nothing written through the link" "$(ls -lR "$OUT")"
cmp -s "$LT/c/plain.txt" "$S2/c/plain.txt" && t_ok "the other objects were copied" ||
	t_fail "the other objects were copied"

# --- sftp -> S3 (the RGW that tools/test starts) ----------------------------
if [ -n "${MG_S3_ENDPOINT:-}" ] && [ -x /usr/bin/aws ]; then
	s3_cli
	if s3_new_bucket BUCKET mg-sftp; then
		cat >"$MG_TMP/p7.yaml" <<YAML
version: 1
name: sftp-s3
source:
  url: "$URL"
  identity_file: "$MG_SSH_KEY"
  known_hosts: "$MG_SSH_KNOWN_HOSTS"
target:
  url: s3://$BUCKET/from-sftp/
  endpoint: \${MG_S3_ENDPOINT}
  region: \${MG_S3_REGION}
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
journal: "$MG_TMP/journal-sftp-s3"
transfer: { concurrency: 4, part_size: 16MiB, multipart_threshold: 16MiB }
YAML
		t_exit "sftp -> s3: exit 0" 0 "$MIGRATE" --json "$MG_TMP/p7.yaml"
		"${AWS[@]}" s3 sync "s3://$BUCKET/from-sftp/" "$MG_TMP/from-s3" >/dev/null 2>&1
		aside
		t_same_tree "sftp -> s3: read back byte-identical" "$SRC" "$MG_TMP/from-s3"
		back
		t_exit "sftp -> s3: rerun exits 0" 0 "$MIGRATE" --json "$MG_TMP/p7.yaml"
		sed -n '/^{/,/^}/p' "$MG_TMP/.out" >"$MG_TMP/run7.json"
		[ "$(json_get "$MG_TMP/run7.json" targets.0.copied.objects)" = 0 ] &&
		[ "$(json_get "$MG_TMP/run7.json" source_counters.bytes_read)" = 0 ] &&
			t_ok "sftp -> s3: rerun moves nothing" || t_fail "sftp -> s3: rerun moves nothing"
	else
		t_fail "sftp -> s3: create bucket" "/usr/bin/aws s3 mb failed at $MG_S3_ENDPOINT"
	fi
else
	t_skip "sftp -> s3" "MG_S3_ENDPOINT is not set or /usr/bin/aws is missing"
fi

t_done
