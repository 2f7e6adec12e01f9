# tools/lib/sshd.sh - a private OpenSSH sshd on 127.0.0.1 for the SFTP tests.
#
# Source it, then:
#   sshd_start DIR   start (or find running) an sshd whose keys, config, pid
#                    file and log live in DIR; exports
#                      MG_SSH_HOST=127.0.0.1 MG_SSH_PORT MG_SSH_USER
#                      MG_SSH_KEY (client private key, unencrypted)
#                      MG_SSH_KNOWN_HOSTS (holds the "[127.0.0.1]:PORT" line)
#                      MG_SSH_AUTHORIZED_KEYS (append a key to let it in)
#                      MG_SSH_DIR=DIR MG_SSH_PID (the listening sshd)
#   sshd_stop DIR    stop it by the PID it recorded; safe to call twice
#   sshd_kill_sessions DIR   kill the sessions' processes (a dropped link)
#
# Nothing under /etc/ssh is touched; no systemd.  The server takes public
# keys only (one authorized_keys file for every user) and serves SFTP with
# internal-sftp.  Recipe: ../shared/TEST-SERVERS.md.
#
# sshd reads authorized_keys as the user logging in, and the permission
# tests log in as 'nobody'.  DIR usually sits in the checkout, which may
# be below a folder only its owner can enter (a clone in ~ or in a
# mktemp -d folder, mode 0700): so the file lives in a scratch folder of
# its own under /tmp, made 0755, named in DIR/authkeys_dir and removed by
# sshd_stop.  Everything else in DIR is read by root only.

. "$(dirname "${BASH_SOURCE[0]}")/proc.sh"
_sshd_log() { echo "sshd.sh: $*" >&2; }

# A port nobody listens on now: the kernel picks one, we let it go again.
_sshd_free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_sshd_export() {
	local dir=$1
	MG_SSH_DIR=$dir
	MG_SSH_HOST=127.0.0.1
	MG_SSH_PORT=$(cat "$dir/port")
	MG_SSH_USER=$(id -un)
	MG_SSH_KEY=$dir/client_key
	MG_SSH_KNOWN_HOSTS=$dir/known_hosts
	MG_SSH_PID=$(cat "$dir/sshd.pid" 2>/dev/null)
	MG_SSH_AUTHORIZED_KEYS=$(cat "$dir/authkeys_dir" 2>/dev/null || echo "$dir")/authorized_keys
	export MG_SSH_DIR MG_SSH_HOST MG_SSH_PORT MG_SSH_USER MG_SSH_KEY \
		MG_SSH_KNOWN_HOSTS MG_SSH_PID MG_SSH_AUTHORIZED_KEYS
}

_sshd_running() {
	local pid
	pid=$(cat "$1/sshd.pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
		grep -q sshd "/proc/$pid/cmdline" 2>/dev/null
}

sshd_start() {
	local dir=${1:?usage: sshd_start DIR}
	local port i ak

	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd)
	if _sshd_running "$dir"; then
		_sshd_export "$dir"
		return 0
	fi
	if [ ! -x /usr/sbin/sshd ]; then
		_sshd_log "installing openssh-server (not found)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends openssh-server >/dev/null 2>&1 || {
			_sshd_log "cannot install openssh-server"; return 1; }
	fi
	mkdir -p /run/sshd		# privilege separation folder, required
	[ -f "$dir/host_key" ] || ssh-keygen -q -t ed25519 -N '' -C mg-test-host -f "$dir/host_key" || return 1
	[ -f "$dir/client_key" ] || ssh-keygen -q -t ed25519 -N '' -C mg-test-client -f "$dir/client_key" || return 1
	# Where every session user can read it (see the top).  /tmp, not
	# $TMPDIR: that one may be private too.
	_sshd_rm_authkeys "$dir"
	ak=$(mktemp -d /tmp/mg-sshd-keys.XXXXXX) || return 1
	chmod 755 "$ak"
	echo "$ak" >"$dir/authkeys_dir"
	cp "$dir/client_key.pub" "$ak/authorized_keys"
	chmod 644 "$ak/authorized_keys"
	port=$(_sshd_free_port) || return 1
	echo "$port" >"$dir/port"
	cat >"$dir/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $ak/authorized_keys
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
MaxStartups 100:30:200
MaxSessions 50
LogLevel VERBOSE
Subsystem sftp internal-sftp
EOF
	echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_key.pub")" >"$dir/known_hosts"
	rm -f "$dir/sshd.pid"
	# -D keeps it in the foreground of its own process, so $! is the
	# listener and the PID file agrees; -e logs to stderr (our log file).
	setsid /usr/sbin/sshd -D -e -f "$dir/sshd_config" >>"$dir/sshd.log" 2>&1 </dev/null &
	echo $! >"$dir/sshd.pid.launch"
	for i in $(seq 1 100); do
		if [ -s "$dir/sshd.pid" ] &&
			python3 -c 'import socket,sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)
s.recv(4)' "$port" 2>/dev/null; then
			_sshd_export "$dir"
			return 0
		fi
		if ! kill -0 "$(cat "$dir/sshd.pid.launch")" 2>/dev/null; then
			_sshd_log "sshd exited; its log:"; sed 's/^/  /' "$dir/sshd.log" >&2
			return 1
		fi
		sleep 0.1
	done
	_sshd_log "sshd did not come up on port $port"
	sshd_stop "$dir"
	return 1
}

# The sessions' processes: children of the listener and theirs.
_sshd_session_pids() {
	local pid=$1 k
	for k in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
		echo "$k"; ps -o pid= --ppid "$k" 2>/dev/null
	done
}

# Kills the sessions' processes by PID: the tests use it to drop a
# connection in the middle of a transfer.
sshd_kill_sessions() {
	local dir=${1:?usage: sshd_kill_sessions DIR} pid kids
	pid=$(cat "$dir/sshd.pid" 2>/dev/null) || return 1
	kids=$(_sshd_session_pids "$pid")
	[ -n "$kids" ] || return 1
	kill -9 $kids 2>/dev/null
	return 0
}

# Removes the scratch folder of authorized_keys that sshd_start made: only
# a folder named as ours (/tmp/mg-sshd-keys.*), and only its one file.
_sshd_rm_authkeys() {
	local ak
	ak=$(cat "$1/authkeys_dir" 2>/dev/null) || return 0
	case $ak in
	/tmp/mg-sshd-keys.*) [ -d "$ak" ] && [ ! -L "$ak" ] &&
		rm -f "$ak/authorized_keys" && rmdir "$ak" 2>/dev/null ;;
	esac
	rm -f "$1/authkeys_dir"
	return 0
}

# Stops the listener first (no new session can start), then the sessions
# it had (found before it goes: then they are orphans of init).
sshd_stop() {
	local dir=${1:?usage: sshd_stop DIR} pid f kids=
	for f in sshd.pid sshd.pid.launch; do
		pid=$(cat "$dir/$f" 2>/dev/null) || continue
		if mg_proc_is "$pid" sshd; then
			kids="$kids $(_sshd_session_pids "$pid")"
			mg_proc_stop "$pid"
		fi
	done
	[ -n "${kids// /}" ] && kill -9 $kids 2>/dev/null
	rm -f "$dir/sshd.pid" "$dir/sshd.pid.launch"
	_sshd_rm_authkeys "$dir"
	return 0
}
