#!/usr/bin/env bash
# sftp_bigread.sh - a large file over SFTP is read on an sftp channel of
# its own in 255 KiB requests (connectors/sftp_bigread.c; libssh2 1.10
# asks for 30000 bytes a request): the copy is byte-identical (sha256),
# sshd logged that second channel (its "id 1" on the connection), and a
# file cut short while it is read fails that object, named, with the rest
# copied.  The parser's answers to a hostile server are in
# tests/unit/test_sftp_fxp.c.
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tools/lib/sshd.sh"

[ -x "$MIGRATE" ] || t_skip_all "migrate not built ($MIGRATE)"
# A private sshd: its log holds this script's sessions only.
unset MG_SSH_PORT MG_SSH_DIR
t_need_sshd
chmod 755 "$MG_TMP"
LOG=$MG_SSH_DIR/sshd.log
plan() {	# plan FILE SRC DST [TRANSFER-LINE]
	cat >"$1" <<YAML
version: 1
name: bigread
source:
  url: "sftp://$MG_SSH_USER@$MG_SSH_HOST:$MG_SSH_PORT$2"
  identity_file: "$MG_SSH_KEY"
  known_hosts: "$MG_SSH_KNOWN_HOSTS"
target: "$3"
journal: "$1.journal"
${4:-}
YAML
}
# "Starting session: subsystem 'sftp' for USER from ... id 1", CR LF ended
second_channels() { grep -Ec "subsystem 'sftp' .* id 1[[:cntrl:]]?\$" "$LOG"; }
sha() { sha256sum <"$1" | cut -d' ' -f1; }

# 1. 24 MiB (over the 8 MiB threshold) and a small file beside it
SRC=$MG_TMP/src
mkdir -p "$SRC"
head -c $((24 << 20)) /dev/urandom >"$SRC/big.bin"
head -c 100000 /dev/urandom >"$SRC/small.bin"
plan "$MG_TMP/p1.yaml" "$SRC" "$MG_TMP/dst"
before=$(second_channels)
t_check "migrate copies a 24 MiB file over sftp" "$MIGRATE" -q "$MG_TMP/p1.yaml"
if [ "$(sha "$SRC/big.bin")" = "$(sha "$MG_TMP/dst/big.bin" 2>/dev/null)" ]; then
	t_ok "the large file is byte-identical (sha256)"
else
	t_fail "the large file is byte-identical (sha256)" "sha256 differs"
fi
t_same_tree "every file copied exactly" "$SRC" "$MG_TMP/dst"
n=$(( $(second_channels) - before ))
if [ "$n" -ge 1 ]; then
	t_ok "the large file was read on an sftp channel of its own ($n)"
else
	t_fail "the large file was read on an sftp channel of its own" \
		"sshd logged no second sftp channel on a connection"
fi

# 2. cut to nothing in the middle of the read.  A relay between migrate
# and sshd holds the server's bytes once 4 MiB of them went through on a
# connection (flag file made) until the flag is removed: the channel asks
# for 2 MiB beyond what the engine took, so at most about 6 of the 16 MiB
# are asked for when the file is cut, whatever the machine's load.
SRC2=$MG_TMP/src2
mkdir -p "$SRC2"
head -c $((16 << 20)) /dev/urandom >"$SRC2/big.bin"
echo small >"$SRC2/small.txt"
FLAG=$MG_TMP/held
cat >"$MG_TMP/relay.py" <<'PY'
import os, socket, sys, threading, time
from httprelay import pipe, serve_sockets
dst, hold_after, flag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def serve(c):
    u = socket.create_connection(("127.0.0.1", dst))
    sent = [0]
    def counted(n):
        sent[0] += n
        if sent[0] > hold_after and not os.path.exists(flag + ".done"):
            open(flag + ".done", "w").close()
            open(flag, "w").close()
            while os.path.exists(flag):
                time.sleep(0.02)
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    pipe(u, c, counted)
serve_sockets(serve)
PY
t_start_helper RP "$MG_TMP/relay.out" python3 "$MG_TMP/relay.py" "$MG_SSH_PORT" \
	$((4 << 20)) "$FLAG" || t_fail "the relay started" "$(cat "$MG_TMP/relay.out.err")"
# the host key checked as ever, under the relay's port
echo "[$MG_SSH_HOST]:$RP $(cut -d' ' -f1,2 "$MG_SSH_DIR/host_key.pub")" >"$MG_TMP/kh.relay"
cat >"$MG_TMP/p2.yaml" <<YAML
version: 1
name: bigread-cut
source:
  url: "sftp://$MG_SSH_USER@$MG_SSH_HOST:$RP$SRC2"
  identity_file: "$MG_SSH_KEY"
  known_hosts: "$MG_TMP/kh.relay"
target: "$MG_TMP/dst2"
journal: "$MG_TMP/p2.journal"
transfer: { concurrency: 1 }
YAML
"$MIGRATE" "$MG_TMP/p2.yaml" >"$MG_TMP/p2.out" 2>&1 &
pid=$!
held() { [ -e "$FLAG" ]; }
t_wait 60 held || t_fail "the relay held the server's bytes after 4 MiB" "not after 60 s"
: >"$SRC2/big.bin"
rm -f "$FLAG"
rc=0
wait "$pid" || rc=$?
if [ "$rc" = 1 ] && grep -q "big.bin" "$MG_TMP/p2.out" &&
   grep -Eq "ended at byte [0-9]+, short of the 16777216 bytes it had" "$MG_TMP/p2.out"; then
	t_ok "a file cut short while read fails that object (exit 1, named)"
else
	t_fail "a file cut short while read fails that object" "exit $rc"
	sed 's/^/#   /' "$MG_TMP/p2.out" | head -20
fi
if [ ! -e "$MG_TMP/dst2/big.bin" ] && [ "$(cat "$MG_TMP/dst2/small.txt" 2>/dev/null)" = small ]; then
	t_ok "no partial copy at the target, the small file copied"
else
	t_fail "no partial copy at the target, the small file copied" "$(ls -la "$MG_TMP/dst2")"
fi
t_done
