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
# t_flip_byte FILE OFFSET: change the byte at OFFSET to another value (its
# bits inverted: a fixed replacement byte is already there once in 256)
t_flip_byte() {
	python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xFF]))' "$1" "$2"
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

# t_relay FILE [SUFFIX]: the checks of a driver program's output as TAP
# here: "ok - NAME" passes NAME, "not ok - NAME # WHY" fails it, SUFFIX
# added to each name (" (moto)"); any other line is shown as a comment.
# The number of checks goes in T_RELAYED.
t_relay() {
	local line rest
	T_RELAYED=0
	while IFS= read -r line; do
		case $line in
		"ok - "*) t_ok "${line#ok - }${2:-}" ;;
		"not ok - "*) rest=${line#not ok - }; t_fail "${rest%% # *}${2:-}" "${rest#* # }" ;;
		"#"*) echo "$line"; continue ;;
		*) echo "# $line"; continue ;;
		esac
		T_RELAYED=$((T_RELAYED + 1))
	done <"$1"
}

# t_start_helper VAR FILE CMD...: start CMD, a helper server that prints
# the port it listens on as its first line (tests/faultproxy.py,
# tests/tlsrelay.py, a relay of the script's own; python3 ones find the
# modules of tests/lib, httprelay.py), in the background, stopped when the
# script ends.  Its output goes to FILE, its errors to FILE.err; once the
# line is complete (it ends in a newline) the port goes in VAR, its
# process id in T_HELPER_PID.  Returns 1 when no port came (FILE.err says
# why).
t_start_helper() {
	local var=$1 out=$2; shift 2
	PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$MG_SRCDIR/tests/lib${PYTHONPATH:+:$PYTHONPATH} "$@" >"$out" 2>"$out.err" &
	T_HELPER_PID=$!
	t_at_exit "kill $T_HELPER_PID 2>/dev/null"
	# python3 takes seconds to start on a loaded machine
	t_wait 30 _t_line_done "$out"
	printf -v "$var" '%s' "$(head -1 "$out" 2>/dev/null)"
	[ -n "${!var}" ]
}
# t_count_relay VAR UPSTREAM LOG: start tests/integration/estimate_count.py
# between migrate and UPSTREAM (http://127.0.0.1:PORT), one JSON line per
# request into LOG, its port in VAR; fails the script if it cannot start.
t_count_relay() {
	t_start_helper "$1" "$MG_TMP/relay-$1.out" python3 "$MG_SRCDIR/tests/integration/estimate_count.py" \
		serve --upstream "$2" --log "$3" ||
		{ t_fail "counting relay" "$(cat "$MG_TMP/relay-$1.out.err")"; t_done; }
}
_t_line_done() { [ -s "$1" ] && [ -z "$(tail -c 1 "$1")" ]; }

# t_tar_gen DIR SEED <SCRIPT: make DIR and run the python3 SCRIPT on
# standard input with the archive makers of tests/tararchives.py (add,
# pax_tar, full_and_cut, shuffled), os, tarfile, g = DIR and rnd =
# random.Random(SEED): the same archives on every run.
t_tar_gen() {
	mkdir -p "$1"
	python3 -c 'import os, random, sys, tarfile
sys.path.insert(0, sys.argv[3])
from tararchives import add, pax_tar, full_and_cut, shuffled
g, rnd = sys.argv[1], random.Random(int(sys.argv[2]))
exec(compile(sys.stdin.read(), "<t_tar_gen>", "exec"))' "$1" "$2" "$MG_SRCDIR/tests"
}

# t_tls_cert: a self-signed certificate for 127.0.0.1 in $MG_TMP/cert.pem
# with its key in $MG_TMP/key.pem (for the TLS relays); returns non-zero,
# the reason in $MG_TMP/openssl.out, when openssl is missing or fails
t_tls_cert() {
	command -v openssl >/dev/null || { echo "openssl is missing: apt-get install openssl" >"$MG_TMP/openssl.out"; return 1; }
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$MG_TMP/key.pem" \
		-out "$MG_TMP/cert.pem" >"$MG_TMP/openssl.out" 2>&1
}

# t_file_grown PATH BYTES: a file at PATH, or below it, holds BYTES or
# more (for t_wait: a transfer is that far on its way)
t_file_grown() {
	[ -n "$(find "$1" -type f -size +$(($2 - 1))c 2>/dev/null | head -1)" ]
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

# t_s3_part WHAT VAR PREFIX: the S3 half of a script that tests a local
# target first.  Without a test server (MG_S3_ENDPOINT), skip WHAT and end
# the script; else point the AWS CLI at it (s3_cli) and make a fresh
# bucket, its name in VAR (s3_new_bucket), ending the script if that fails.
t_s3_part() {
	if [ -z "${MG_S3_ENDPOINT:-}" ]; then
		t_skip "$1" "MG_S3_ENDPOINT is not set"
		t_done
	fi
	s3_cli
	s3_new_bucket "$2" "$3" || { t_fail "create bucket"; t_done; }
}

# t_need_s3 VAR PREFIX: a script that needs the test S3 server: skipped
# whole without one, else the AWS CLI set up (s3_cli) and a fresh bucket
# named in VAR.
t_need_s3() {
	[ -n "${MG_S3_ENDPOINT:-}" ] ||
		t_skip_all "MG_S3_ENDPOINT is not set (tools/lib/s3server.sh starts a server)"
	s3_cli
	s3_new_bucket "$1" "$2" || { t_fail "create bucket" "aws s3 mb failed at $MG_S3_ENDPOINT"; t_done; }
}

# t_open_uploads BUCKET: how many multipart uploads are open in BUCKET at
# the test S3 server, as the AWS CLI lists them (after t_need_s3).
t_open_uploads() {
	"${AWS[@]}" s3api list-multipart-uploads --bucket "$1" --output json 2>/dev/null |
		python3 -c 'import json,sys
t=sys.stdin.read().strip()
print(len(json.loads(t).get("Uploads", [])) if t else 0)'
}

# t_local_plan FILE NAME SOURCE TARGET JOURNAL [LINE...]: write a plan
# copying the folder SOURCE to the folder TARGET, each LINE added at the
# end (transfer: {...}).
t_local_plan() {
	local file=$1 name=$2 src=$3 dst=$4 journal=$5; shift 5
	{
		printf 'version: 1\nname: %s\nsource: "%s"\ntarget: "%s"\njournal: "%s"\n' \
			"$name" "$src" "$dst" "$journal"
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} >"$file"
}

# t_s3_plan FILE NAME SOURCE URL JOURNAL [LINE...]: write a plan copying
# the folder SOURCE to URL at the test S3 server, each LINE added at the
# end.  Endpoint, region and keys are the plan's ${MG_S3_*}, read when
# migrate reads the plan (no secret in the file); T_S3_ENDPOINT=TEXT puts
# another endpoint in (a proxy's), T_S3_PROVIDER=NAME a provider for
# estimate's price table (ceph for the test RGW).
t_s3_plan() {
	local file=$1 name=$2 src=$3 url=$4 journal=$5 ep='${MG_S3_ENDPOINT}'; shift 5
	{
		printf 'version: 1\nname: %s\nsource: "%s"\ntarget:\n  url: %s\n  endpoint: %s\n' \
			"$name" "$src" "$url" "${T_S3_ENDPOINT:-$ep}"
		[ -z "${T_S3_PROVIDER:-}" ] || printf '  provider: %s\n' "$T_S3_PROVIDER"
		printf '  %s: ${%s}\n' region MG_S3_REGION access_key_id MG_S3_ACCESS_KEY \
			secret_access_key MG_S3_SECRET_KEY
		printf 'journal: "%s"\n' "$journal"
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} >"$file"
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

