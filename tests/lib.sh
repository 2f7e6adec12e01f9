# tests/lib.sh - shared helpers for the shell integration tests.
#
# Each test script sources this file, calls t_plan-free TAP helpers, and
# ends with t_done.  Output is TAP ("ok N - name", "not ok N - name",
# "ok N # SKIP why"); tools/test counts those lines.  Exit status: 0 when
# every check passed, 1 otherwise, 77 when the whole script is skipped
# (automake's convention).
#
# Environment:
#   MIGRATE     the binary under test (default: ./build/migrate)
#   MG_SRCDIR   the source tree (default: the folder above tests/)
#   MG_TMP      scratch folder made per script and removed at exit
set -u
MG_SRCDIR=${MG_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
MIGRATE=${MIGRATE:-$MG_SRCDIR/build/migrate}
_t_n=0
_t_failed=0
MG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mgtest.XXXXXX")
trap 't_cleanup' EXIT
_t_cleanups=()

t_cleanup() {
	local c
	for c in "${_t_cleanups[@]+"${_t_cleanups[@]}"}"; do eval "$c" || true; done
	chmod -R u+rwx "$MG_TMP" 2>/dev/null || true
	rm -rf "$MG_TMP"
}

# t_at_exit CMD: run CMD when the script ends (servers, mounts).
t_at_exit() { _t_cleanups+=("$1"); }

t_ok() {	# t_ok NAME: record a pass
	_t_n=$((_t_n + 1)); echo "ok $_t_n - $1"
}
t_fail() {	# t_fail NAME [WHY]: record a failure
	_t_n=$((_t_n + 1)); _t_failed=$((_t_failed + 1))
	echo "not ok $_t_n - $1"
	[ $# -gt 1 ] && echo "# $2"
	return 0
}
t_skip() {	# t_skip NAME WHY
	_t_n=$((_t_n + 1)); echo "ok $_t_n - $1 # SKIP $2"
}
# t_skip_all WHY: skip the whole script
t_skip_all() { echo "1..0 # SKIP $1"; exit 77; }

# t_check NAME CMD...: pass if CMD exits 0
t_check() {
	local name=$1; shift
	if "$@" >"$MG_TMP/.out" 2>&1; then t_ok "$name"
	else t_fail "$name" "command failed: $*"; sed 's/^/#   /' "$MG_TMP/.out" | head -20; fi
}
# t_exit NAME CODE CMD...: pass if CMD exits with CODE; output kept in $MG_TMP/.out
t_exit() {
	local name=$1 want=$2; shift 2
	"$@" >"$MG_TMP/.out" 2>&1
	local got=$?
	if [ "$got" -eq "$want" ]; then t_ok "$name"
	else t_fail "$name" "exit $got, wanted $want: $*"; sed 's/^/#   /' "$MG_TMP/.out" | head -20; fi
}
# t_grep NAME PATTERN FILE: pass if FILE matches PATTERN (grep -E)
t_grep() {
	if grep -Eq -- "$2" "$3"; then t_ok "$1"
	else t_fail "$1" "no match for '$2' in $3"; sed 's/^/#   /' "$3" | head -20; fi
}
# t_is NAME WANT GOT: pass if the two strings are equal
t_is() {
	if [ "$2" = "$3" ]; then t_ok "$1"
	else t_fail "$1" "wanted '$2', got '$3'"; fi
}
# t_same_tree NAME DIR1 DIR2: pass if both trees hold the same files, byte for byte
t_same_tree() {
	if diff -r --no-dereference "$2" "$3" >"$MG_TMP/.diff" 2>&1; then t_ok "$1"
	else t_fail "$1" "trees differ"; sed 's/^/#   /' "$MG_TMP/.diff" | head -20; fi
}

t_done() {
	echo "1..$_t_n"
	[ "$_t_failed" -eq 0 ]
	exit $?
}

# t_wait SECONDS CMD...: poll CMD every 0.1 s until it succeeds (return 0)
# or SECONDS pass (return 1).  Wait for the condition, never a guessed
# delay: a helper program can take seconds to start on a loaded machine.
t_wait() {
	local end=$((SECONDS + $1)); shift
	until "$@"; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# t_kill_at NAME:N CMD...: run CMD with the test hook armed
# (MG_TEST_KILL_AFTER, engine/run/testhook.h): migrate kills itself with
# SIGKILL at the Nth pass of the point NAME.  Returns CMD's exit status,
# 137 when the hook fired.  Not a sleep then a kill: the same point under
# any load.
t_kill_at() {
	local at=$1; shift
	MG_TEST_KILL_AFTER=$at "$@" &
	wait $! 2>/dev/null	# no "Killed" line from bash
}

# json_get FILE PATH: read a value from a JSON file; PATH is dotted, a
# number indexes an array (targets.0.copied.objects).  jq, not a Python
# per call: a script reads dozens of values and a Python start costs
# a second on a loaded machine.
json_get() {
	jq -r --arg p "$2" 'reduce ($p | split("."))[] as $k (.;
		if type == "array" then .[$k | tonumber] else .[$k] end)' "$1"
}

# s3_cli: point the AWS CLI (Debian's /usr/bin/aws, path addressing) at the
# test S3 server from MG_S3_*; afterwards "${AWS[@]}" runs it.
s3_cli() {
	export AWS_ACCESS_KEY_ID=$MG_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$MG_S3_SECRET_KEY
	export AWS_DEFAULT_REGION=${MG_S3_REGION:-us-east-1}
	export AWS_CONFIG_FILE=$MG_TMP/aws-config AWS_SHARED_CREDENTIALS_FILE=$MG_TMP/none
	printf '[default]\nregion = %s\ns3 =\n    addressing_style = path\n' \
		"$AWS_DEFAULT_REGION" >"$AWS_CONFIG_FILE"
	AWS=(/usr/bin/aws --endpoint-url "$MG_S3_ENDPOINT")
}

# s3_new_bucket VAR PREFIX: make a fresh bucket, removed with its content
# when the script ends, and put its name in VAR.  Returns 1 if it fails.
s3_new_bucket() {
	local name=$2-$$-$RANDOM
	"${AWS[@]}" s3 mb "s3://$name" >/dev/null 2>&1 || return 1
	t_at_exit "/usr/bin/aws --endpoint-url '$MG_S3_ENDPOINT' s3 rb --force 's3://$name' >/dev/null 2>&1"
	printf -v "$1" '%s' "$name"
}

# s3_rclone: point rclone at the test S3 server as the remote "rgw:" from
# MG_S3_* (call s3_cli first: it sets the region); afterwards "${RCLONE[@]}"
# runs it.
s3_rclone() {
	export RCLONE_CONFIG_RGW_TYPE=s3 RCLONE_CONFIG_RGW_PROVIDER=Ceph \
		RCLONE_CONFIG_RGW_ACCESS_KEY_ID=$MG_S3_ACCESS_KEY \
		RCLONE_CONFIG_RGW_SECRET_ACCESS_KEY=$MG_S3_SECRET_KEY \
		RCLONE_CONFIG_RGW_ENDPOINT=$MG_S3_ENDPOINT RCLONE_CONFIG_RGW_FORCE_PATH_STYLE=true \
		RCLONE_CONFIG_RGW_REGION=$AWS_DEFAULT_REGION RCLONE_CONFIG=$MG_TMP/rclone.conf
	: >"$MG_TMP/rclone.conf"
	# rclone refuses to start when AWS_CA_BUNDLE names a bundle it cannot use
	RCLONE=(env -u AWS_CA_BUNDLE rclone)
}

# t_need_sshd: use the sshd tools/test started (MG_SSH_*), or start a
# private one under $MG_TMP, stopped when the script ends.  Source
# tools/lib/sshd.sh first.  A server that does not start fails the
# script: the SFTP tests are part of what we promise, not optional.
t_need_sshd() {
	[ -n "${MG_SSH_PORT:-}" ] && _sshd_running "${MG_SSH_DIR:-/nonexistent}" && return 0
	sshd_start "$MG_TMP/sshd" >"$MG_TMP/sshd-start.log" 2>&1 || {
		t_fail "start sshd" "$(tail -5 "$MG_TMP/sshd-start.log")"; t_done; }
	t_at_exit "sshd_stop '$MG_TMP/sshd'"
}

# t_check_prog NAME: prints the path of the check program
# tests/integration/NAME (tar_conn, sftp_conn: drivers of one connector
# without the engine), building it first if need be (`make` alone does
# not: they are check programs); fails when it is not there, for the
# caller to skip or to cope:  TC=$(t_check_prog tar_conn) || t_skip_all ...
t_check_prog() {
	local build=${MG_BUILDDIR:-$(dirname "$MIGRATE")}
	local prog=$build/tests/integration/$1

	[ -x "$prog" ] || [ ! -f "$build/Makefile" ] ||
		make -s -C "$build" "tests/integration/$1" >/dev/null 2>&1
	echo "$prog"
	[ -x "$prog" ]
}
