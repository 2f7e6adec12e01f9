#!/usr/bin/env bash
# sftp_connector.sh - the SFTP connector against a real OpenSSH sshd,
# driven directly through `conformance sftp` (tests/conformance/cases_sftp.c, no engine).
#
# Uses the sshd that tools/test started (MG_SSH_* in the environment) or
# starts a private one with tools/lib/sshd.sh.  What every connector
# promises (byte order, start_after, Unicode names, ranges, absent keys,
# overwrite, remove, '..', permission bits) is the conformance suite's:
# conformance_sftp.sh.  Covers what is SFTP's own: a 200 MiB file, symlinks (skipped,
# followed, a loop), special files, unreadable files and folders (as a
# non-root user), host keys (unknown, changed, pinned, accepted, hashed),
# authentication (wrong key, passphrase, agent, default key, no secrets in
# messages), a connection killed mid-read, SFTP as a target, @revoked host
# keys, permission bits both ways, and symbolic links planted inside a
# target folder (nothing written or removed through them).
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tools/lib/sshd.sh"

. "$MG_SRCDIR/tests/conformance/lib.sh"	# $CF: the conformance program

t_need_sshd
: "${MG_SSH_DIR:?}"
H=$MG_SSH_HOST P=$MG_SSH_PORT
KEY=$MG_SSH_KEY KH=$MG_SSH_KNOWN_HOSTS
# The tree must be reachable by a non-root session user too.
chmod 755 "$MG_TMP"
T=$MG_TMP/tree
URL="sftp://$MG_SSH_USER@$H:$P$T"
conn() { "$CF" sftp -i "$KEY" -k "$KH" "$@"; }

# --- the tree --------------------------------------------------------------
mkdir -p "$T/d/y" "$T/Ünïcödé" "$T/with space" "$T/sub" "$T/loop" \
	"$T/noread-dir" "$T/real"
echo alpha >"$T/a.txt"
echo dash >"$T/d-e"
echo dot >"$T/d.txt"
echo x >"$T/d/x"
echo z >"$T/d/y/z"
printf 'unicode\n' >"$T/Ünïcödé/ファイル.txt"
printf 'spaced\n' >"$T/with space/file name.txt"
: >"$T/empty"
: >"$T/sub/empty2"
echo inside >"$T/real/inner.txt"
echo secret >"$T/noread.txt"
echo hidden >"$T/noread-dir/f"
ln -s a.txt "$T/link.txt"
ln -s ../loop "$T/loop/back"
ln -s real "$T/realdir-link"
ln -s does-not-exist "$T/dangling"
mkfifo "$T/fifo"
head -c 200M /dev/urandom >"$T/big.bin"
touch -d '2021-03-04 05:06:07 UTC' "$T/a.txt"
echo private >"$T/mode600.txt"; chmod 600 "$T/mode600.txt"
echo '#!/bin/sh' >"$T/mode755.sh"; chmod 755 "$T/mode755.sh"
chmod 000 "$T/noread.txt" "$T/noread-dir"
t_at_exit "chmod -R u+rwx '$T' 2>/dev/null"

# --- listing ---------------------------------------------------------------
t_exit "list the tree" 0 conn "$URL" list
cp "$MG_TMP/.out" "$MG_TMP/list.all"
grep -v '^counters:' "$MG_TMP/list.all" >"$MG_TMP/list"
t_grep "size and mtime from the server" \
	"^F	a.txt	6	$(stat -c %Y "$T/a.txt")	" "$MG_TMP/list"
t_grep "listing gives the permission bits (0600)" "^F	mode600.txt	8	[0-9]+	0600\$" "$MG_TMP/list"
t_grep "listing gives the permission bits (0755)" "^F	mode755.sh	10	[0-9]+	0755\$" "$MG_TMP/list"
t_grep "200 MiB file size" "^F	big.bin	209715200	" "$MG_TMP/list"
t_grep "symlink reported with its target" "^L	link.txt	a.txt" "$MG_TMP/list"
t_grep "symlink to a folder reported, not walked" "^L	realdir-link	real" "$MG_TMP/list"
t_grep "loop link reported" "^L	loop/back	../loop" "$MG_TMP/list"
t_grep "fifo reported as special" "^S	fifo\$" "$MG_TMP/list"
t_grep "listing counts one LIST per folder" \
	"list=$(find "$T" -type d | wc -l)( |\$)" "$MG_TMP/list.all"

t_exit "list following symlinks" 0 conn -L "$URL" list
grep -v '^counters:' "$MG_TMP/.out" >"$MG_TMP/list.L"
t_grep "followed link to a file is a file" "^F	link.txt	6	" "$MG_TMP/list.L"
t_grep "followed link to a folder is walked" "^F	realdir-link/inner.txt	7	" "$MG_TMP/list.L"
t_grep "loop detected and not followed" "^L	loop/back	../loop	symbolic link loop" "$MG_TMP/list.L"
t_grep "dangling link is an error entry" "^E	dangling	broken symbolic link" "$MG_TMP/list.L"
if cut -f2 "$MG_TMP/list.L" | LC_ALL=C sort -c 2>/dev/null; then
	t_ok "followed listing in byte-wise order"
else
	t_fail "followed listing in byte-wise order"
fi

# --- reading ---------------------------------------------------------------
want=$(sha256sum <"$T/big.bin" | cut -c1-64)
t_exit "read the 200 MiB file" 0 conn -o "$MG_TMP/big.out" "$URL" read big.bin
got=$(sha256sum <"$MG_TMP/big.out" | cut -c1-64)
[ "$want" = "$got" ] && t_ok "200 MiB read is byte-identical (sha256)" ||
	t_fail "200 MiB read is byte-identical (sha256)" "$want != $got"
t_grep "bytes counted" "get=1 read=209715200 " "$MG_TMP/.out"
rm -f "$MG_TMP/big.out"

t_exit "4 ranges in parallel over 4 sessions" 0 \
	conn -j 4 -b 1048576 -o "$MG_TMP/par.out" "$URL" read big.bin
cmp -s "$MG_TMP/par.out" "$T/big.bin" && t_ok "parallel ranges assemble byte-identical" ||
	t_fail "parallel ranges assemble byte-identical"
t_grep "one open per range, each byte read once" "get=4 read=209715200 " "$MG_TMP/.out"
rm -f "$MG_TMP/par.out"

# --- unreadable files and folders -----------------------------------------
# root reads everything, so as root the session user for this part is
# 'nobody' (the server takes the same authorized key for every user).
ruser=$MG_SSH_USER
if [ "$(id -u)" = 0 ]; then ruser=nobody; fi
RURL="sftp://$ruser@$H:$P$T"
if [ "$(id -u)" = 0 ] && ! id nobody >/dev/null 2>&1; then
	t_skip "unreadable folder" "no 'nobody' user to test as non-root"
elif [ "$(id -u)" = 0 ] && command -v runuser >/dev/null &&
	! runuser -u nobody -- test -x "$T" 2>/dev/null; then
	t_skip "unreadable folder" "'nobody' cannot reach $T (is TMPDIR private?)"
else
	t_exit "listing as '$ruser' completes despite unreadable folder" 0 conn "$RURL" list
	grep -v '^counters:' "$MG_TMP/.out" >"$MG_TMP/list.r"
	t_grep "unreadable folder is one error entry with its reason" \
		"^E	noread-dir/	cannot list folder: permission denied" "$MG_TMP/list.r"
	t_grep "the rest is listed" "^F	with space/file name.txt	" "$MG_TMP/list.r"
	t_exit "unreadable file fails alone (exit 1)" 1 conn "$RURL" read noread.txt
	t_grep "unreadable file message names file and reason" \
		"noread.txt.*permission denied" "$MG_TMP/.out"
fi

# --- connection killed mid-read ------------------------------------------
want=$(sha256sum <"$T/big.bin" | cut -c1-64)
rm -f "$MG_TMP/kill.out"
conn -r 40000000 -o "$MG_TMP/kill.out" "$URL" read big.bin 2>"$MG_TMP/kill.err" &
rpid=$!
t_wait 15 t_file_grown "$MG_TMP/kill.out" 60000000
if sshd_kill_sessions "$MG_SSH_DIR"; then t_ok "killed the session's sshd processes mid-read"
else t_fail "killed the session's sshd processes mid-read"; fi
wait $rpid
rc=$?
[ $rc = 0 ] && t_ok "read finished after the kill" ||
	t_fail "read finished after the kill" "exit $rc: $(cat "$MG_TMP/kill.err")"
got=$(sha256sum <"$MG_TMP/kill.out" | cut -c1-64)
[ "$want" = "$got" ] && t_ok "reconnected read is byte-identical (sha256)" ||
	t_fail "reconnected read is byte-identical (sha256)"
t_grep "it reconnected (two opens), each byte counted once" \
	"get=2 read=209715200 " "$MG_TMP/kill.err"
rm -f "$MG_TMP/kill.out"

# --- a server that goes away for good: bounded retries, then the error ---
(
	sshd_start "$MG_TMP/sshd-gone" >/dev/null 2>&1 || exit 2
	rm -f "$MG_TMP/gone.out"
	"$CF" sftp -i "$MG_SSH_KEY" -k "$MG_SSH_KNOWN_HOSTS" -r 20000000 -o "$MG_TMP/gone.out" \
		"sftp://$MG_SSH_USER@$MG_SSH_HOST:$MG_SSH_PORT$T" read big.bin \
		>"$MG_TMP/gone.err" 2>&1 &
	rpid=$!
	for i in $(seq 1 200); do
		[ "$(stat -c %s "$MG_TMP/gone.out" 2>/dev/null || echo 0)" -ge 20000000 ] && break
		sleep 0.05
	done
	sshd_stop "$MG_TMP/sshd-gone"
	t0=$SECONDS
	wait $rpid
	echo "rc=$? secs=$((SECONDS - t0))" >>"$MG_TMP/gone.err"
)
t_grep "server gone mid-read: the object fails (exit 1), not the program" \
	"^rc=1 " "$MG_TMP/gone.err"
t_grep "server gone: it gave up within seconds" "secs=[0-9] *\$" "$MG_TMP/gone.err"
t_grep "server gone: message says the connection was lost" \
	"retry: the connection to .* was lost and could not be made again: cannot connect" \
	"$MG_TMP/gone.err"
port=$(_sshd_free_port)
t_exit "nothing listening: fatal at once (exit 3)" 3 "$CF" sftp -i "$KEY" -k "$KH" \
	"sftp://$MG_SSH_USER@127.0.0.1:$port/x" list
t_grep "nothing listening: message names host and port" \
	"cannot connect to '127.0.0.1' port $port" "$MG_TMP/.out"

# --- host keys -------------------------------------------------------------
hostline=$(cat "$KH")
fp=$(ssh-keygen -lf "$KH" | awk '{print $2}')
t_exit "unknown host refused (exit 3)" 3 "$CF" sftp -i "$KEY" -k "$MG_TMP/none" "$URL" list
t_grep "unknown host: fingerprint as OpenSSH prints it" \
	"offered ssh-ed25519 $(sed 's/[+]/\\+/g' <<<"$fp")\." "$MG_TMP/.out"
t_grep "unknown host: the exact line to add" "^$(sed 's/[][+.*]/\\&/g' <<<"$hostline")\$" "$MG_TMP/.out"

ssh-keygen -q -t ed25519 -N '' -f "$MG_TMP/other" -C other
echo "[$H]:$P $(cut -d' ' -f1,2 "$MG_TMP/other.pub")" >"$MG_TMP/kh.changed"
t_exit "changed host key refused (exit 3)" 3 "$CF" sftp -i "$KEY" -k "$MG_TMP/kh.changed" "$URL" list
t_grep "changed key: loud message" "host key for '\[$H\]:$P' has CHANGED" "$MG_TMP/.out"

t_exit "pinned fingerprint accepted without known_hosts" 0 \
	"$CF" sftp -i "$KEY" -k "$MG_TMP/none" -f "$fp" "$URL" list
t_exit "wrong pin refused (exit 3)" 3 \
	"$CF" sftp -i "$KEY" -k "$MG_TMP/none" -f "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU" "$URL" list
t_grep "wrong pin message" "does not match the pinned host_key_fingerprint" "$MG_TMP/.out"

t_exit "accept_new_host_keys records an unknown key" 0 \
	"$CF" sftp -i "$KEY" -k "$MG_TMP/kh.new" -a "$URL" list
[ "$(cat "$MG_TMP/kh.new" 2>/dev/null)" = "$hostline" ] && t_ok "recorded line is the OpenSSH line" ||
	t_fail "recorded line is the OpenSSH line" "$(cat "$MG_TMP/kh.new" 2>&1)"
t_exit "recorded key is then known" 0 "$CF" sftp -i "$KEY" -k "$MG_TMP/kh.new" "$URL" list
t_exit "accept_new_host_keys never accepts a changed key" 3 \
	"$CF" sftp -i "$KEY" -k "$MG_TMP/kh.changed" -a "$URL" list

{ echo "# a comment, a line libssh2 cannot parse, then the hashed entry"
  echo "@cert-authority *.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBP4s6Ow+vpTTAYrkRM7Qhe99v5YxwXZiGVm+vz86lhF"
  cat "$KH"; } >"$MG_TMP/kh.hashed"
ssh-keygen -q -H -f "$MG_TMP/kh.hashed" >/dev/null 2>&1
if grep -q '^|1|' "$MG_TMP/kh.hashed"; then
	t_exit "hashed known_hosts entry matches" 0 "$CF" sftp -i "$KEY" -k "$MG_TMP/kh.hashed" "$URL" list
else
	t_fail "hashed known_hosts entry matches" "ssh-keygen -H did not hash"
fi

# --- authentication --------------------------------------------------------
export MG_TEST_PASSWORD=hunter2-not-shown
t_exit "wrong client key refused (exit 3)" 3 \
	"$CF" sftp -i "$MG_TMP/other" -W MG_TEST_PASSWORD -k "$KH" "$URL" list
t_grep "message names user, host and methods" \
	"as user '$MG_SSH_USER' on host '$H'.*identity file '$MG_TMP/other' \(refused by the server\).*ssh-agent.*password" \
	"$MG_TMP/.out"
if grep -q hunter2 "$MG_TMP/.out"; then t_fail "no password in the message"
else t_ok "no password in the message"; fi

ssh-keygen -q -t ed25519 -N 'pass-phrase-not-shown' -f "$MG_TMP/enc" -C enc
cat "$MG_TMP/enc.pub" >>"$MG_SSH_AUTHORIZED_KEYS"
export MG_TEST_PASSPHRASE=pass-phrase-not-shown
t_exit "encrypted key with passphrase_env logs in" 0 \
	"$CF" sftp -i "$MG_TMP/enc" -P MG_TEST_PASSPHRASE -k "$KH" "$URL" list
export MG_TEST_BADPHRASE=wrong-phrase-not-shown
t_exit "wrong passphrase refused (exit 3)" 3 \
	"$CF" sftp -i "$MG_TMP/enc" -P MG_TEST_BADPHRASE -k "$KH" "$URL" list
t_grep "wrong passphrase message names the variable" "passphrase in \\\$MG_TEST_BADPHRASE" "$MG_TMP/.out"
if grep -q -e not-shown "$MG_TMP/.out"; then t_fail "no passphrase in the message"
else t_ok "no passphrase in the message"; fi

mkdir -p "$MG_TMP/home/.ssh"
cp "$KEY" "$MG_TMP/home/.ssh/id_ed25519"
t_exit "default key ~/.ssh/id_ed25519 used without identity_file" 0 \
	env -u SSH_AUTH_SOCK HOME="$MG_TMP/home" "$CF" sftp -k "$KH" "$URL" list
mkdir -p "$MG_TMP/home2"
if command -v ssh-agent >/dev/null; then
	eval "$(ssh-agent -s -a "$MG_TMP/agent.sock")" >/dev/null
	t_at_exit "kill $SSH_AGENT_PID"
	ssh-add -q "$KEY" 2>/dev/null
	t_exit "ssh-agent key used when there is no identity file" 0 \
		env HOME="$MG_TMP/home2" "$CF" sftp -k "$KH" "$URL" list
	t_exit "agent tried after a refused identity file" 0 \
		env HOME="$MG_TMP/home2" "$CF" sftp -i "$MG_TMP/other" -k "$KH" "$URL" list
	unset SSH_AUTH_SOCK
else
	t_skip "ssh-agent key" "ssh-agent not installed"
fi

# --- SFTP as a target ------------------------------------------------------
D=$MG_TMP/target
DURL="sftp://$MG_SSH_USER@$H:$P$D"
t_exit "put creates the root and parent folders" 0 conn "$DURL" put "deep/er/ü f.txt" "$T/a.txt"
cmp -s "$D/deep/er/ü f.txt" "$T/a.txt" && t_ok "written bytes identical" || t_fail "written bytes identical"
[ "$(stat -c %Y "$D/deep/er/ü f.txt")" = "$(stat -c %Y "$T/a.txt")" ] &&
	t_ok "mtime kept" || t_fail "mtime kept"
conn "$DURL" put "deep/er/ü f.txt" "$T/d.txt" >/dev/null 2>&1	# over it: for the stat below
t_exit "put 200 MiB" 0 conn "$DURL" put big.bin "$T/big.bin"
cmp -s "$D/big.bin" "$T/big.bin" && t_ok "200 MiB written byte-identical" ||
	t_fail "200 MiB written byte-identical"
rm -f "$D/big.bin"
if ls -a "$D" "$D/deep/er" | grep -q migrate-tmp; then t_fail "no temporary file left"
else t_ok "no temporary file left"; fi
t_exit "stat" 0 conn "$DURL" stat "deep/er/ü f.txt"
t_grep "stat answers size, mtime and mode" "^4 $(stat -c %Y "$T/d.txt") 0644\$" "$MG_TMP/.out"

# --- permission bits at an SFTP target --------------------------------------
# Created with the source's bits masked by our umask (never wider, no
# setuid/setgid/sticky), then set exactly: the server's umask may differ.
M=$MG_TMP/modes; mkdir -p "$M"
for m in 600 755 4755 666 664; do echo "$m" >"$M/f$m"; chmod "$m" "$M/f$m"; done
modes_put() {	# modes_put UMASK KEY FILE [-M]
	local u=$1 k=$2 f=$3; shift 3
	(umask "$u"; conn "$@" "$DURL" put "$k" "$f")
}
# (under umask 022, and mode 0: the conformance suite's permission bits)
modes_put 077 modes/u077 "$M/f755" >"$MG_TMP/.out" 2>&1
[ "$(stat -c %a "$D/modes/u077" 2>/dev/null)" = 700 ] &&
	t_ok "our umask applies (0755 under umask 077 is 0700)" ||
	t_fail "our umask applies (0755 under umask 077 is 0700)" "$(stat -c %a "$D/modes/u077" 2>&1)"
# The session's umask is sshd's: when it takes the group's write bit,
# only the exact setting after open can give 0664 back.
srvmask=$(awk '/^Umask:/ {print $2}' "/proc/$(cat "$MG_SSH_DIR/sshd.pid")/status" 2>/dev/null)
if [ -n "$srvmask" ] && [ $((8#$srvmask & 8#020)) != 0 ]; then
	modes_put 002 modes/f664 "$M/f664" >"$MG_TMP/.out" 2>&1
	[ "$(stat -c %a "$D/modes/f664" 2>/dev/null)" = 664 ] &&
		t_ok "mode set exactly, whatever the server's umask ($srvmask)" ||
		t_fail "mode set exactly, whatever the server's umask ($srvmask)" \
			"$(stat -c %a "$D/modes/f664" 2>&1)"
else
	t_skip "mode set exactly, whatever the server's umask" "sshd's umask is '${srvmask:-?}'"
fi

# --- symbolic links planted inside an SFTP target ---------------------------
# A folder someone else can write into: links to the outside in place of
# folders.  Nothing may be written, removed or looked at through them.
tok=outside-$$-$RANDOM
OUT=$MG_TMP/$tok; LT=$MG_TMP/linked-target; LURL="sftp://$MG_SSH_USER@$H:$P$LT"
mkdir -p "$OUT" "$LT/deep/er" "$LT/real"
echo keep >"$OUT/victim"
ln -s "$OUT" "$LT/sub"
ln -s "$OUT" "$LT/deep/er/link"
echo file >"$LT/plainfile"
t_exit "put through a planted folder link fails (exit 1)" 1 \
	"$CF" sftp -i "$KEY" -k "$KH" "$LURL" put sub/x.txt "$T/a.txt"
t_grep "the message names the key and the link, and says to remove it" \
	"write 'sub/x.txt' on .*'$LT/sub' is a symbolic link to '$OUT'.*remove the link" "$MG_TMP/.out"
t_exit "a link deeper down fails the same (exit 1)" 1 \
	"$CF" sftp -i "$KEY" -k "$KH" "$LURL" put deep/er/link/new/y.txt "$T/a.txt"
t_grep "deeper link named" "'$LT/deep/er/link' is a symbolic link" "$MG_TMP/.out"
t_exit "a file in place of a folder fails (exit 1)" 1 \
	"$CF" sftp -i "$KEY" -k "$KH" "$LURL" put plainfile/z.txt "$T/a.txt"
t_grep "not-a-folder message" "'$LT/plainfile' is not a folder" "$MG_TMP/.out"
t_exit "delete through a planted link fails (exit 1)" 1 \
	"$CF" sftp -i "$KEY" -k "$KH" "$LURL" rm sub/victim
t_exit "stat through a planted link fails (exit 1)" 1 \
	"$CF" sftp -i "$KEY" -k "$KH" "$LURL" stat sub/victim
if [ "$(ls -A "$OUT")" = victim ] && [ "$(cat "$OUT/victim")" = keep ] &&
	! find "$MG_TMP" -name "*$tok*" ! -path "$OUT" | grep -q . &&
	[ -z "$(find "$OUT" -newer "$LT/plainfile" -mindepth 1)" ]; then
	t_ok "nothing written, created or removed outside the target"
else
	t_fail "nothing written, created or removed outside the target" "$(ls -laR "$OUT")"
fi
t_exit "the rest of the target still takes objects" 0 \
	"$CF" sftp -i "$KEY" -k "$KH" "$LURL" put real/new/ok.txt "$T/a.txt"
cmp -s "$LT/real/new/ok.txt" "$T/a.txt" && [ ! -L "$LT/real/new" ] &&
	t_ok "a folder made beneath the root is a real folder" ||
	t_fail "a folder made beneath the root is a real folder"

# --- @revoked and @cert-authority in known_hosts -----------------------------
key=$(cut -d' ' -f2,3 "$KH")
{ cat "$KH"; echo "@revoked * $key"; } >"$MG_TMP/kh.revoked"
t_exit "a key marked @revoked is refused though another line accepts it (exit 3)" 3 \
	"$CF" sftp -i "$KEY" -k "$MG_TMP/kh.revoked" "$URL" list
t_grep "revoked: names the host, the file and the line" \
	"host key for '\[$H\]:$P' is REVOKED: '$MG_TMP/kh.revoked' line 2 " "$MG_TMP/.out"
# ssh-keygen -H leaves marker lines alone: hash the name as ssh(1) does,
# |1|base64(salt)|base64(HMAC-SHA1(salt, name)).
hashed=$(python3 -c 'import base64,hashlib,hmac,os,sys
salt = os.urandom(20)
mac = hmac.new(salt, sys.argv[1].encode(), hashlib.sha1).digest()
print("|1|%s|%s" % (base64.b64encode(salt).decode(), base64.b64encode(mac).decode()))' "[$H]:$P")
{ echo "@revoked $hashed $key"; cat "$KH"; } >"$MG_TMP/kh.revoked2"
t_exit "a hashed @revoked entry is refused too (exit 3)" 3 \
	"$CF" sftp -i "$KEY" -k "$MG_TMP/kh.revoked2" "$URL" list
t_grep "hashed revoked: line 1" "is REVOKED: .* line 1 " "$MG_TMP/.out"
{ echo "@revoked other.example.com,!$H $key"; echo "@revoked *,![$H]:$P $key"; cat "$KH"; } \
	>"$MG_TMP/kh.revoked3"
t_exit "a key revoked for other hosts only is accepted" 0 \
	"$CF" sftp -i "$KEY" -k "$MG_TMP/kh.revoked3" "$URL" list
{ echo "@cert-authority [$H]:$P $key"; } >"$MG_TMP/kh.ca"
t_exit "an @cert-authority line does not make its key known (exit 3)" 3 \
	"$CF" sftp -i "$KEY" -k "$MG_TMP/kh.ca" "$URL" list
t_grep "cert-authority: the host is unknown" "is not known" "$MG_TMP/.out"

t_done
