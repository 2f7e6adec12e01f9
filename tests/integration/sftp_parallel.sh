#!/usr/bin/env bash
# sftp_parallel.sh - parallel_reads: one large SFTP file read over several
# SSH connections at once (connectors/sftp_ranged.c) against a real sshd:
# the copy is byte-identical, a file cut short while it is read fails the
# object (nothing published under its key), a host key that does not match
# fails the run before any byte moves, and no sshd session is left after.
# tools/test: alone (it counts the sshd's sessions)
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tools/lib/sshd.sh"

[ -x "$MIGRATE" ] || t_skip_all "migrate not built ($MIGRATE)"
t_need_sshd
SRC=$MG_TMP/src H=$MG_SSH_HOST P=$MG_SSH_PORT
mkdir -p "$SRC"
chmod 755 "$MG_TMP"
head -c 40M /dev/urandom >"$SRC/big.bin"
printf 'small\n' >"$SRC/small.txt"
URL="sftp://$MG_SSH_USER@$H:$P$SRC"

# plan FILE NAME TARGET KNOWN_HOSTS [EXTRA-TOP-YAML]
plan() {
	cat >"$1" <<YAML
version: 1
name: $2
source:
  url: "$URL"
  identity_file: "$MG_SSH_KEY"
  known_hosts: "$4"
  parallel_reads: 3
target: "$3"
journal: "$MG_TMP/journal-$2"
${5:-}
YAML
}
sessions() { pgrep -P "$MG_SSH_PID" | wc -l; }
no_sessions() { [ "$(sessions)" -eq 0 ]; }

# --- byte-identical over 3 connections --------------------------------------
plan "$MG_TMP/p1.yaml" par "$MG_TMP/dst1" "$MG_SSH_KNOWN_HOSTS"
t_exit "40 MiB over parallel_reads 3: exit 0" 0 "$MIGRATE" --json "$MG_TMP/p1.yaml"
t_same_tree "40 MiB over parallel_reads 3: byte-identical" "$SRC" "$MG_TMP/dst1"
# one open for the size, then one per 4 MiB range (10), one for small.txt
gets=$(sed -n '/^{/,/^}/p' "$MG_TMP/.out" | jq '[.. | .requests? | .get? // empty] | max')
[ "${gets:-0}" -ge 12 ] && t_ok "read as ranges on extra sessions (get=$gets)" ||
	t_fail "read as ranges on extra sessions" "get=${gets:-none}"
t_wait 30 no_sessions && t_ok "no sshd session left after the run" ||
	t_fail "no sshd session left after the run" "$(sessions) left"

# --- a file cut short while it is read fails ---------------------------------
# 2 MB/s keeps the copy going for seconds; once some bytes have arrived the
# file is truncated: a range past the new end must fail the object.
plan "$MG_TMP/p2.yaml" cut "$MG_TMP/dst2" "$MG_SSH_KNOWN_HOSTS" \
	"transfer: { bandwidth: 2MB/s }"
"$MIGRATE" "$MG_TMP/p2.yaml" >"$MG_TMP/cut.out" 2>&1 &
pid=$!
started() { [ -n "$(find "$MG_TMP/dst2" -type f -size +2M 2>/dev/null)" ]; }
if t_wait 60 started; then
	truncate -s 1M "$SRC/big.bin"
	t_ok "copy under way before the truncation"
else
	t_fail "copy under way before the truncation" "no bytes arrived"
fi
wait "$pid"
rc=$?
[ "$rc" -eq 1 ] && t_ok "truncated while read in parallel: exit 1" ||
	{ t_fail "truncated while read in parallel: exit 1" "exit $rc"; sed 's/^/#   /' "$MG_TMP/cut.out" | head -8; }
[ ! -e "$MG_TMP/dst2/big.bin" ] && t_ok "no short copy published under the key" ||
	t_fail "no short copy published under the key" "$(stat -c %s "$MG_TMP/dst2/big.bin") bytes"
t_check "the small file still copied" [ -f "$MG_TMP/dst2/small.txt" ]
t_wait 30 no_sessions && t_ok "no sshd session left after the failed read" ||
	t_fail "no sshd session left after the failed read" "$(sessions) left"

# --- host key mismatch: nothing moves -----------------------------------------
head -c 40M /dev/urandom >"$SRC/big.bin"
ssh-keygen -q -t ed25519 -N '' -f "$MG_TMP/other" </dev/null
echo "[$H]:$P $(cut -d' ' -f1,2 "$MG_TMP/other.pub")" >"$MG_TMP/bad_known_hosts"
plan "$MG_TMP/p3.yaml" badkey "$MG_TMP/dst3" "$MG_TMP/bad_known_hosts"
t_exit "changed host key with parallel_reads 3: exit 3" 3 "$MIGRATE" "$MG_TMP/p3.yaml"
[ -z "$(find "$MG_TMP/dst3" -type f 2>/dev/null)" ] && t_ok "changed host key: no byte moved" ||
	t_fail "changed host key: no byte moved" "$(find "$MG_TMP/dst3" -type f)"
t_wait 30 no_sessions && t_ok "no sshd session left after the refused key" ||
	t_fail "no sshd session left after the refused key" "$(sessions) left"
t_done
