#!/usr/bin/env bash
# sftp_requests.sh - sshd works no harder for migrate than for OpenSSH's own
# sftp client on many small files.  The server's read(2) calls (syscr of a
# private sshd, its reaped sessions included) stand for the SFTP requests
# it answered: one per READ, "end of file" ones too.  migrate used to send
# 8 MiB of read requests past the end of every file (~280 "end of file"
# answers a file, 11x OpenSSH's read calls); now it is within 3x OpenSSH's
# count (1.8x here: libssh2 1.10 reads in 30000-byte requests, OpenSSH in
# 255 KiB; and migrate opens a session per worker), so 3x is the bound.
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tools/lib/sshd.sh"

[ -x "$MIGRATE" ] || t_skip_all "migrate not built ($MIGRATE)"
command -v sftp >/dev/null || t_skip_all "no OpenSSH sftp client"
# A private sshd: the shared one counts other scripts' sessions too.
unset MG_SSH_PORT MG_SSH_DIR
t_need_sshd
[ -r "/proc/$MG_SSH_PID/io" ] || t_skip_all "cannot read /proc/$MG_SSH_PID/io"
chmod 755 "$MG_TMP"
SRC=$MG_TMP/src N=40
mkdir -p "$SRC"
# 40 x 256 KiB, and sizes on a request's edges (30000, 60000), and empty
head -c $((N * 262144)) /dev/urandom | split -b 262144 -a 3 -d - "$SRC/f"
head -c 30000 /dev/urandom >"$SRC/edge1"
head -c 60000 /dev/urandom >"$SRC/edge2"
: >"$SRC/empty"
cat >"$MG_TMP/plan.yaml" <<YAML
version: 1
name: requests
source:
  url: "sftp://$MG_SSH_USER@$MG_SSH_HOST:$MG_SSH_PORT$SRC"
  identity_file: "$MG_SSH_KEY"
  known_hosts: "$MG_SSH_KNOWN_HOSTS"
target: "$MG_TMP/dst"
journal: "$MG_TMP/journal"
YAML

sessions() { pgrep -P "$MG_SSH_PID" | wc -l; }
no_sessions() { [ "$(sessions)" -eq 0 ]; }
syscr() { awk '$1 == "syscr:" { print $2 }' "/proc/$MG_SSH_PID/io"; }
# reads CMD...: the server's read calls while CMD runs (its sessions
# reaped, so their counts are in the listener's)
reads() {
	local a b
	a=$(syscr)
	"$@" >"$MG_TMP/cmd.out" 2>&1 || { echo "failed: $*" >&2; cat "$MG_TMP/cmd.out" >&2; }
	t_wait 30 no_sessions
	b=$(syscr)
	echo $((b - a))
}

mg=$(reads "$MIGRATE" -q "$MG_TMP/plan.yaml")
t_same_tree "migrate copied every file exactly" "$SRC" "$MG_TMP/dst"
mkdir -p "$MG_TMP/ossh"
os=$(reads sftp -q -r -i "$MG_SSH_KEY" -o UserKnownHostsFile="$MG_SSH_KNOWN_HOSTS" \
	-o BatchMode=yes -P "$MG_SSH_PORT" "$MG_SSH_USER@$MG_SSH_HOST:$SRC/" "$MG_TMP/ossh/")
t_same_tree "OpenSSH sftp copied every file exactly" "$SRC" "$MG_TMP/ossh/src"
if [ "${os:-0}" -gt 0 ] && [ "$mg" -le $((os * 3)) ]; then
	t_ok "sshd read calls: migrate $mg <= 3x OpenSSH sftp's $os"
else
	t_fail "sshd read calls within 3x OpenSSH sftp's" "migrate $mg, OpenSSH sftp ${os:-?}"
fi
t_done
