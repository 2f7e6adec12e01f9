# tools/lib/moto.sh - a throw-away moto S3 server on 127.0.0.1.
#
# Source this file, then:
#   moto_available       exit 0 when `python3 -c 'import moto'` works; else
#                        sets MOTO_MISSING to the reason and returns 1
#   moto_start DIR       start (or find running) `python3 -m moto.server`
#                        on a free 127.0.0.1 port with its pid and log in
#                        DIR, and export
#                          MG_MOTO_ENDPOINT=http://127.0.0.1:PORT
#                          MG_MOTO_ACCESS_KEY MG_MOTO_SECRET_KEY
#                          MG_MOTO_REGION=us-east-1
#                          MG_MOTO_DIR=DIR MG_MOTO_PID
#   moto_stop DIR        stop it by the PID it recorded and remove DIR;
#                        safe to call twice
#   t_need_moto          (in a test, after tests/lib.sh) use the moto that
#                        tools/test started, or start a private one under
#                        $MG_TMP stopped at exit; skips the whole script
#                        (exit 77, "# SKIP reason") when moto is missing.
#                        tools/test starts moto only when a selected test
#                        script calls t_need_moto (moto takes seconds to
#                        start), so a test that uses moto must call it.
#   moto_env             (in a test) point the MG_S3_* variables at moto, so
#                        s3_cli and plans written for RGW work unchanged
#
# moto is the second S3 implementation the tests use beside Ceph RGW: it
# emulates AWS closely but differs in places (ListParts answers with root
# element ListPartsResponse; see ../shared/TEST-SERVERS.md).  It takes any
# key and secret.  It comes with this machine image's Python, not with a
# Debian package: where it is missing the tests that need it skip with a
# reason, they do not fail.

. "$(dirname "${BASH_SOURCE[0]}")/proc.sh"
_moto_log() { echo "moto.sh: $*" >&2; }

_moto_free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

moto_available() {
	MOTO_MISSING=
	if ! command -v python3 >/dev/null 2>&1; then
		MOTO_MISSING="python3 is missing"
		return 1
	fi
	if ! python3 -c 'import moto, moto.server' >/dev/null 2>&1; then
		MOTO_MISSING="python3 cannot import moto (pip package 'moto[server]'; not in Debian)"
		return 1
	fi
	return 0
}

_moto_running() {	# _moto_running DIR
	local pid
	pid=$(cat "$1/moto.pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
		grep -q moto "/proc/$pid/cmdline" 2>/dev/null
}

_moto_export() {
	local dir=$1
	MG_MOTO_DIR=$dir
	MG_MOTO_ENDPOINT=http://127.0.0.1:$(cat "$dir/port")
	# moto checks neither; fixed values keep logs comparable between runs
	MG_MOTO_ACCESS_KEY=motoaccesskey
	MG_MOTO_SECRET_KEY=motosecretkey
	MG_MOTO_REGION=us-east-1
	MG_MOTO_PID=$(cat "$dir/moto.pid")
	export MG_MOTO_DIR MG_MOTO_ENDPOINT MG_MOTO_ACCESS_KEY MG_MOTO_SECRET_KEY \
		MG_MOTO_REGION MG_MOTO_PID
}

_moto_answers() {	# _moto_answers PORT
	python3 -c 'import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=1)
c.request("GET", "/")
c.getresponse().read()' "$1" 2>/dev/null
}

moto_start() {
	local dir=${1:?usage: moto_start DIR} port i
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd)
	if _moto_running "$dir"; then
		_moto_export "$dir"
		return 0
	fi
	moto_available || { _moto_log "$MOTO_MISSING"; return 1; }
	port=$(_moto_free_port) || return 1
	echo "$port" >"$dir/port"
	rm -f "$dir/moto.pid"
	# setsid: a Ctrl-C at the terminal reaches tools/test, which stops
	# moto by PID, not moto directly half-way through a test
	setsid python3 -m moto.server -H 127.0.0.1 -p "$port" \
		>>"$dir/moto.log" 2>&1 </dev/null &
	echo $! >"$dir/moto.pid"
	# python + moto's imports take a few seconds on a busy machine
	for i in $(seq 1 300); do
		if _moto_answers "$port"; then
			_moto_export "$dir"
			return 0
		fi
		if ! kill -0 "$(cat "$dir/moto.pid")" 2>/dev/null; then
			_moto_log "moto exited; its log:"; sed 's/^/  /' "$dir/moto.log" >&2
			return 1
		fi
		sleep 0.1
	done
	_moto_log "moto did not answer on port $port within 30 s"
	moto_stop "$dir"
	return 1
}

moto_stop() {
	local dir=${1:?usage: moto_stop DIR} pid
	[ -d "$dir" ] || return 0
	pid=$(cat "$dir/moto.pid" 2>/dev/null)
	mg_proc_is "$pid" moto && mg_proc_stop "$pid"
	rm -rf "$dir"
	return 0
}

# t_need_moto: for test scripts (tests/lib.sh sourced first).
t_need_moto() {
	if [ -n "${MG_MOTO_ENDPOINT:-}" ] && _moto_running "${MG_MOTO_DIR:-/nonexistent}"; then
		return 0
	fi
	moto_available || t_skip_all "$MOTO_MISSING"
	moto_start "$MG_TMP/moto" >"$MG_TMP/moto-start.log" 2>&1 || {
		t_fail "start moto" "$(tail -5 "$MG_TMP/moto-start.log")"; t_done; }
	t_at_exit "moto_stop '$MG_TMP/moto'"
}

# moto_env: the MG_S3_* variables name moto from here on (call s3_cli again
# after it to point the AWS CLI at moto).
# t_moto_s3: moto is the script's S3 server: started if need be
# (t_need_moto), exported as MG_S3_* (moto_env), the AWS CLI pointed at it.
t_moto_s3() {
	t_need_moto
	moto_env
	s3_cli
}

moto_env() {
	export MG_S3_ENDPOINT=$MG_MOTO_ENDPOINT MG_S3_ACCESS_KEY=$MG_MOTO_ACCESS_KEY \
		MG_S3_SECRET_KEY=$MG_MOTO_SECRET_KEY MG_S3_REGION=$MG_MOTO_REGION
}
