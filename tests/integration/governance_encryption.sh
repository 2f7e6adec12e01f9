#!/usr/bin/env bash
# Encryption on by default (issue 15.1), on Ceph RGW and on moto: a plan
# that says nothing about encryption writes every object (single PUT,
# multipart, server-side copy) with x-amz-server-side-encryption: AES256,
# as HEAD by the AWS CLI shows; `check` says what each target gets;
# `verify` passes, and reports the objects that lack the encryption asked
# (written with 'encryption: none', checked against the default plan);
# 'encryption: none' sends no header.
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tools/lib/moto.sh"

[ -x "$MIGRATE" ] || t_skip_all "migrate is not built"
[ -x /usr/bin/aws ] || t_skip_all "/usr/bin/aws is missing: apt-get install awscli"

S=$MG_TMP/src
mkdir -p "$S/a/b"
for i in 1 2 3; do head -c $((i * 3000)) /dev/urandom >"$S/a/b/f$i"; done
cp "$S/a/b/f2" "$S/a/same-as-f2"	# a dedupe copy: CopyObject
head -c $((6 * 1024 * 1024 + 3)) /dev/urandom >"$S/big.bin"	# multipart

# plan NAME PREFIX EXTRA: a plan to s3://$BUCKET/PREFIX with EXTRA target keys
plan() {
	cat >"$MG_TMP/$1.yaml" <<EOF
version: 1
name: gov-$1
source: $S
target:
  url: s3://$BUCKET/$2/
  endpoint: \${MG_S3_ENDPOINT}
  region: \${MG_S3_REGION}
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
$3
journal: $MG_TMP/journal-$1
transfer:
  multipart_threshold: 5MiB
  part_size: 5MiB
EOF
}

# sse_of KEY: the ServerSideEncryption HEAD reports ("None" when absent)
sse_of() {
	"${AWS[@]}" s3api head-object --bucket "$BUCKET" --key "$1" \
		--query ServerSideEncryption --output text 2>&1
}

# verify_reports LABEL PLAN N CODE: verify exits CODE (1 when the plan
# asks for the encryption in so many words, 0 for the default, which a
# server may ignore) naming N objects without the encryption asked
verify_reports() {
	local n
	"$MIGRATE" verify --json "$MG_TMP/$2.yaml" >"$MG_TMP/v.json" 2>"$MG_TMP/v.err"
	n=$?
	[ "$n" = "$4" ] && t_ok "$1: verify reports objects without the encryption asked (exit $4)" ||
		t_fail "$1: verify reports objects without the encryption asked (exit $4)" "exit $n"
	n=$(json_get "$MG_TMP/v.json" 0.unencrypted 2>/dev/null)
	[ "$n" = "$3" ] && t_ok "$1: verify counts the $3 objects" ||
		t_fail "$1: verify counts the $3 objects" "unencrypted=$n"
	t_grep "$1: verify names the key and what was asked" \
		"a/b/f1' at .*encryption 'none', the plan asks for 'AES256'" "$MG_TMP/v.err"
}

# suite LABEL: everything against the server MG_S3_* names
suite() {
	local label=$1 bad= k got n
	s3_cli
	s3_new_bucket BUCKET "mg-gov-$label" ||
		{ t_fail "$label: create bucket" "aws s3 mb failed at $MG_S3_ENDPOINT"; return; }
	plan "def-$label" def ""
	t_exit "$label: check the default plan" 0 "$MIGRATE" check "$MG_TMP/def-$label.yaml"
	t_grep "$label: check says SSE-S3 (AES256) by default" \
		"encryption: SSE-S3 \(AES256\) by default" "$MG_TMP/.out"
	t_exit "$label: run the default plan" 0 "$MIGRATE" --json -q "$MG_TMP/def-$label.yaml"
	n=$(json_get "$MG_TMP/.out" targets.0.counters.requests.copy 2>/dev/null)
	[ "${n:-0}" -ge 1 ] && t_ok "$label: one object came by server-side copy" ||
		t_fail "$label: one object came by server-side copy" "copy=$n"
	for k in a/b/f1 a/b/f2 a/b/f3 a/same-as-f2 big.bin; do
		got=$(sse_of "def/$k")
		[ "$got" = AES256 ] || bad="$bad $k=$got"
	done
	if [ -z "$bad" ]; then
		t_ok "$label: HEAD shows AES256 on every object (PUT, multipart, copy)"
		t_exit "$label: verify passes" 0 "$MIGRATE" verify "$MG_TMP/def-$label.yaml"
	elif [ "$label" = rgw ] && [ "$(echo $bad | tr ' ' '\n' | grep -vc '=None$')" = 0 ]; then
		# Ceph 16 (Pacific) takes the header with 200 and stores the
		# object unencrypted (SSE-S3 came with Ceph 17, Quincy, and
		# needs a key service): the run cannot tell, verify can.
		t_skip "$label: HEAD shows AES256 on every object" \
			"CEPH RGW 16 ACCEPTS 'x-amz-server-side-encryption: AES256' AND STORES THE OBJECTS UNENCRYPTED (no SSE-S3 before Ceph 17): proven on moto below"
		verify_reports "$label" def-$label 5 0
		t_grep "$label: verify says the server ignored the default" \
			"5 without the encryption sent by default \(the server ignored it" "$MG_TMP/v.err"
	else
		t_fail "$label: HEAD shows AES256 on every object" "$bad"
	fi

	if [ "$label" = rgw ]; then
		plan "ceph-$label" def "  provider: ceph"
		t_exit "$label: check with 'provider: ceph'" 0 "$MIGRATE" check "$MG_TMP/ceph-$label.yaml"
		t_grep "$label: check says loudly that Ceph before 17 stores it unencrypted" \
			"AES256\) by default.*CEPH RGW BEFORE 17 \(QUINCY\) ACCEPTS THE HEADER AND STORES OBJECTS UNENCRYPTED" "$MG_TMP/.out"
	fi
	plan "none-$label" plain "  encryption: none"
	t_exit "$label: check 'encryption: none'" 0 "$MIGRATE" check "$MG_TMP/none-$label.yaml"
	t_grep "$label: check says none" "encryption: none \(encryption: none\)" "$MG_TMP/.out"
	t_exit "$label: run with 'encryption: none'" 0 "$MIGRATE" -q "$MG_TMP/none-$label.yaml"
	got=$(sse_of plain/a/b/f1)
	if [ "$got" = None ]; then
		t_ok "$label: no encryption header with 'encryption: none'"
		# the default plan, pointed at what 'none' wrote: verify reports it
		plan "vrf-$label" plain ""
		sed -i "s|journal-vrf-$label|journal-none-$label|" "$MG_TMP/vrf-$label.yaml"
		verify_reports "$label" vrf-$label 5 0
		# ... and with 'sse: AES256' in so many words, verify fails
		plan "req-$label" plain "  sse: AES256"
		sed -i "s|journal-req-$label|journal-none-$label|" "$MG_TMP/req-$label.yaml"
		verify_reports "$label-sse" req-$label 5 1
	else
		# the server encrypts by default whatever is asked (AWS since
		# 2023 does, and moto with it): nothing to report
		t_skip "$label: no encryption header with 'encryption: none'" \
			"the server encrypts every object anyway (HEAD shows '$got')"
	fi
}

if [ -n "${MG_S3_ENDPOINT:-}" ]; then
	suite rgw
else
	t_skip "rgw" "MG_S3_ENDPOINT is not set (tools/lib/s3server.sh starts a server)"
fi
t_need_moto
moto_env
suite moto
t_done
