#!/usr/bin/env bash
# hostile_keys.sh - a bucket someone else fills: keys that climb out of the
# target ('..' segments, absolute names), '.' and empty segments, control
# characters, markup and spreadsheet formulas, migrated from a real S3
# server (Ceph RGW, and moto where it runs) into a local folder, an SFTP
# folder on a real sshd and another bucket.  Nothing may appear or vanish
# outside the target (searched by a token unique to this run), every
# refused key fails alone (exit 1, named in the summary), the rest is
# copied, a sync that sees them gone deletes nothing outside, and no raw
# control character reaches the terminal.
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tools/lib/sshd.sh"

[ -n "${MG_S3_ENDPOINT:-}" ] || t_skip_all "MG_S3_ENDPOINT is not set (tools/lib/s3server.sh starts a server)"
[ -x "$MIGRATE" ] || t_skip_all "migrate is not built"
[ -x /usr/bin/aws ] || t_skip_all "/usr/bin/aws is missing: apt-get install awscli"

s3_cli
TOK=mgtok$$x$RANDOM
ESC=$(printf '\033')
BEL=$(printf '\007')
# key -> should it be copied (1) or refused (0) at a folder target, at a bucket
KEYS=(
	"../../../../../$TOK-climb"	0 0
	"sub/../../../../../../$TOK-sub"	0 0
	"/$TOK-abs"			0 0
	"./$TOK-dot"			0 0
	"a//$TOK-empty"			0 0
	"win\\..\\$TOK-bs"		0 1
	"ctl/${ESC}]0;pwned${BEL}${ESC}[2J$TOK-ctl"	1 1
	"<script>alert(1)</script>$TOK"	1 1
	"=cmd|' /C calc'!A0$TOK"	1 1
	"ok/$TOK-plain"			1 1
)

put_keys() {	# put_keys BUCKET: the hostile bucket, made with the AWS CLI
	local i
	printf 'x' >"$MG_TMP/body"
	for ((i = 0; i < ${#KEYS[@]}; i += 3)); do
		"${AWS[@]}" s3api put-object --bucket "$1" --key "${KEYS[i]}" \
			--body "$MG_TMP/body" >/dev/null 2>"$MG_TMP/put.err" || return 1
	done
}
# The server must keep the keys as given, or the test proves nothing.
listed_keys() {
	"${AWS[@]}" s3api list-objects-v2 --bucket "$1" --output json |
		python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("Contents",[])))'
}

# outside WHERE: files whose name holds the token, outside the target WHERE
outside() {
	{ find "$MG_TMP" -name "*$TOK*" -not -path "$1/*"
	  find /tmp -maxdepth 1 -name "*$TOK*"; } 2>/dev/null
}

s3_new_bucket SRCB mg-hostile || { t_fail "create bucket" "aws s3 mb failed"; t_done; }
if ! put_keys "$SRCB"; then
	t_fail "the server takes the hostile keys" "$(cat "$MG_TMP/put.err")"; t_done
fi
n=$(listed_keys "$SRCB")
[ "$n" = $((${#KEYS[@]} / 3)) ] && t_ok "the server keeps all $n hostile keys" ||
	t_fail "the server keeps all hostile keys" "listed $n"

# plan NAME TARGET-YAML [MODE]
plan() {
	cat >"$MG_TMP/$1.yaml" <<EOF
version: 1
name: $1
source:
  url: s3://$SRCB/
  endpoint: $MG_S3_ENDPOINT
  region: ${MG_S3_REGION:-us-east-1}
  access_key_id: $MG_S3_ACCESS_KEY
  secret_access_key: $MG_S3_SECRET_KEY
  path_style: true
target: $2
mode: ${3:-copy}
journal: $MG_TMP/journal-$1
EOF
}

expect_refusals() {	# expect_refusals LABEL COLUMN(1 folder, 2 bucket) OUTFILE
	local i want=0 got
	for ((i = 0; i < ${#KEYS[@]}; i += 3)); do
		[ "${KEYS[i + $2]}" = 0 ] && want=$((want + 1))
	done
	got=$(grep -c "refused to copy" "$3")
	[ "$got" -ge "$want" ] && t_ok "$1: each of the $want unsafe keys is refused by name" ||
		t_fail "$1: each unsafe key is refused by name" "$got of $want refusals"
	if grep -q "$ESC" "$3"; then
		t_fail "$1: no raw ESC reaches the terminal" "$(grep -c "$ESC" "$3") lines hold ESC"
	else
		t_ok "$1: no raw ESC reaches the terminal"
	fi
}

# --- into a local folder ----------------------------------------------------
DST=$MG_TMP/w/x/y/z/dst
mkdir -p "$DST"
# an outside file where the climbing key would land: it must survive a sync
printf 'mine\n' >"$MG_TMP/$TOK-climb.keep"
plan tolocal "$DST" sync
"$MIGRATE" --dry-run "$MG_TMP/tolocal.yaml" >"$MG_TMP/dry.out" 2>&1
if grep -q "$ESC" "$MG_TMP/dry.out"; then
	t_fail "dry-run list: control characters escaped" "$(grep -c "$ESC" "$MG_TMP/dry.out") lines hold ESC"
else
	grep -q 'ctl/\\x1b]0;pwned\\x07' "$MG_TMP/dry.out" &&
		t_ok "dry-run list: control characters escaped as \\xNN" ||
		t_fail "dry-run list: control characters escaped as \\xNN" "$(cat -v "$MG_TMP/dry.out" | head)"
fi
t_exit "S3 -> local: exit 1 (some objects refused, the rest copied)" 1 \
	"$MIGRATE" "$MG_TMP/tolocal.yaml"
cp "$MG_TMP/.out" "$MG_TMP/local.out"
expect_refusals "S3 -> local" 1 "$MG_TMP/local.out"
[ -z "$(outside "$DST" | grep -v "$TOK-climb.keep")" ] &&
	t_ok "S3 -> local: nothing written outside the target" ||
	t_fail "S3 -> local: nothing written outside the target" "$(outside "$DST")"
[ -f "$DST/ok/$TOK-plain" ] && [ -f "$DST/=cmd|' /C calc'!A0$TOK" ] &&
	t_ok "S3 -> local: the safe keys are copied" ||
	t_fail "S3 -> local: the safe keys are copied" "$(find "$DST" | head)"
# the keys vanish at the source: the sync deletes only inside the target
"${AWS[@]}" s3 rm --recursive "s3://$SRCB/" >/dev/null 2>&1
t_exit "S3 -> local: sync after the source emptied exits 0" 0 "$MIGRATE" "$MG_TMP/tolocal.yaml"
[ -f "$MG_TMP/$TOK-climb.keep" ] && [ "$(cat "$MG_TMP/$TOK-climb.keep")" = mine ] &&
	t_ok "S3 -> local: the sync deleted nothing outside the target" ||
	t_fail "S3 -> local: the sync deleted nothing outside the target"
[ ! -e "$DST/ok/$TOK-plain" ] && t_ok "S3 -> local: the sync deleted the safe keys it copied" ||
	t_fail "S3 -> local: the sync deleted the safe keys it copied"
put_keys "$SRCB"

# --- into another bucket ----------------------------------------------------
s3_new_bucket DSTB mg-hostile-dst || { t_fail "create target bucket"; t_done; }
plan tos3 "{ url: \"s3://$DSTB/in/\", endpoint: \"$MG_S3_ENDPOINT\", region: \"${MG_S3_REGION:-us-east-1}\", access_key_id: \"$MG_S3_ACCESS_KEY\", secret_access_key: \"$MG_S3_SECRET_KEY\", path_style: true }"
t_exit "S3 -> S3: exit 1 (unsafe keys refused)" 1 "$MIGRATE" "$MG_TMP/tos3.yaml"
cp "$MG_TMP/.out" "$MG_TMP/s3.out"
expect_refusals "S3 -> S3" 2 "$MG_TMP/s3.out"
"${AWS[@]}" s3api list-objects-v2 --bucket "$DSTB" --output json >"$MG_TMP/dst.json"
python3 - "$MG_TMP/dst.json" "$TOK" <<'EOF' >"$MG_TMP/dst.check" 2>&1
import json, sys
keys = [o["Key"] for o in json.load(open(sys.argv[1])).get("Contents", [])]
bad = [k for k in keys if not k.startswith("in/") or "/../" in k or "/./" in k or "//" in k]
want = 5   # ctl, script, formula, plain, and the backslash key an object store may hold
sys.exit(f"bad keys {bad}" if bad else 0 if len(keys) == want else f"{len(keys)} keys, want {want}: {keys}")
EOF
[ $? -eq 0 ] && t_ok "S3 -> S3: only the safe keys arrive, each under the prefix" ||
	t_fail "S3 -> S3: only the safe keys arrive, each under the prefix" "$(cat "$MG_TMP/dst.check")"

# --- names that are not UTF-8, from a local folder into a bucket ------------
# One rule at every object store: such a key is refused per object, named
# with its bytes escaped (a server would mangle or fold it).
L=$MG_TMP/latin1
mkdir -p "$L"
printf 'a' >"$L/caf$(printf '\351')-$TOK"
printf 'b' >"$L/caf$(printf '\303\251')-$TOK"
printf 'c' >"$L/bad$(printf '\377\376')-$TOK"
plan latin1 "{ url: \"s3://$DSTB/latin1/\", endpoint: \"$MG_S3_ENDPOINT\", region: \"${MG_S3_REGION:-us-east-1}\", access_key_id: \"$MG_S3_ACCESS_KEY\", secret_access_key: \"$MG_S3_SECRET_KEY\", path_style: true }"
sed -i "s|^  url: s3://$SRCB/|  url: $L|; /^  endpoint:/d; /^  region:/d; /^  access_key_id:/d; /^  secret_access_key:/d; /^  path_style:/d" "$MG_TMP/latin1.yaml"
t_exit "not UTF-8 -> S3: exit 1" 1 "$MIGRATE" "$MG_TMP/latin1.yaml"
t_grep "not UTF-8 -> S3: refused by name, bytes escaped" "'caf\\\\xe9-$TOK': refused to copy: the key is not valid UTF-8" "$MG_TMP/.out"
n=$("${AWS[@]}" s3api list-objects-v2 --bucket "$DSTB" --prefix latin1/ --query 'length(Contents)' --output text 2>/dev/null)
[ "$n" = 1 ] && t_ok "not UTF-8 -> S3: only the UTF-8 name arrives" ||
	t_fail "not UTF-8 -> S3: only the UTF-8 name arrives" "$n objects"

# --- into an SFTP folder ----------------------------------------------------
if [ "$(id -u)" = 0 ] || [ -n "${MG_SSH_PORT:-}" ]; then
	t_need_sshd
	chmod 755 "$MG_TMP"
	SDST=$MG_TMP/s/t/u/v/sdst
	mkdir -p "$SDST"
	plan tosftp "{ url: \"sftp://$MG_SSH_USER@$MG_SSH_HOST:$MG_SSH_PORT$SDST\", identity_file: \"$MG_SSH_KEY\", known_hosts: \"$MG_SSH_KNOWN_HOSTS\" }"
	t_exit "S3 -> SFTP: exit 1 (unsafe keys refused)" 1 "$MIGRATE" "$MG_TMP/tosftp.yaml"
	cp "$MG_TMP/.out" "$MG_TMP/sftp.out"
	expect_refusals "S3 -> SFTP" 1 "$MG_TMP/sftp.out"
	[ -z "$(outside "$SDST" | grep -av -e "$TOK-climb.keep" -e "^$DST/" -e "^$L/")" ] &&
		t_ok "S3 -> SFTP: nothing written outside the target" ||
		t_fail "S3 -> SFTP: nothing written outside the target" "$(outside "$SDST")"
	[ -f "$SDST/ok/$TOK-plain" ] && t_ok "S3 -> SFTP: the safe keys are copied" ||
		t_fail "S3 -> SFTP: the safe keys are copied"
else
	t_skip "S3 -> SFTP" "sshd needs root here"
fi

t_done
