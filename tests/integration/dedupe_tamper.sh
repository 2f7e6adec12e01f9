#!/usr/bin/env bash
# dedupe_tamper.sh - a dedupe copy is conditional on what the journal
# knows.  An object overwritten at the target out of band must never be
# server-side copied under another object's hash: the copy carries
# x-amz-copy-source-if-match with the journaled ETag, the server refuses
# it, the bytes are uploaded instead, and the tampered key is copied
# again on the next run.  Against Ceph RGW (tools/test) and moto where
# MG_MOTO_ENDPOINT is set.
. "$MG_SRCDIR/tests/lib.sh"

[ -n "${MG_S3_ENDPOINT:-}" ] || t_skip_all "MG_S3_ENDPOINT is not set (tools/lib/s3server.sh starts a server)"
[ -x "$MIGRATE" ] || t_skip_all "migrate is not built"
[ -x /usr/bin/aws ] || t_skip_all "/usr/bin/aws is missing: apt-get install awscli"

one_server() {	# one_server LABEL ENDPOINT ACCESS SECRET
	local label=$1 S=$MG_TMP/$1/src bucket
	MG_S3_ENDPOINT=$2 MG_S3_ACCESS_KEY=$3 MG_S3_SECRET_KEY=$4 s3_cli
	s3_new_bucket bucket "mg-tamper-$label" || { t_fail "$label: create bucket"; return; }
	mkdir -p "$S"
	head -c 200000 /dev/urandom >"$MG_TMP/$label/orig"
	cp "$MG_TMP/$label/orig" "$S/A"
	cat >"$MG_TMP/$label/plan.yaml" <<EOF
version: 1
name: tamper-$label
source: $S
target: { url: "s3://$bucket/t/", endpoint: "$2", region: "${MG_S3_REGION:-us-east-1}",
          access_key_id: "$3", secret_access_key: "$4", path_style: true }
journal: $MG_TMP/$label/journal
EOF
	t_exit "$label: first run" 0 "$MIGRATE" "$MG_TMP/$label/plan.yaml"
	# out of band: someone overwrites A at the target
	head -c 200000 /dev/urandom >"$MG_TMP/$label/evil"
	"${AWS[@]}" s3 cp "$MG_TMP/$label/evil" "s3://$bucket/t/A" >/dev/null 2>&1 ||
		{ t_fail "$label: tamper with A"; return; }
	cp "$MG_TMP/$label/orig" "$S/Z"
	t_exit "$label: run with Z = A's journaled content exits 0" 0 \
		"$MIGRATE" --json "$MG_TMP/$label/plan.yaml"
	cp "$MG_TMP/.out" "$MG_TMP/$label/run2.out"
	"${AWS[@]}" s3 cp "s3://$bucket/t/Z" "$MG_TMP/$label/Z.back" >/dev/null 2>&1
	cmp -s "$MG_TMP/$label/orig" "$MG_TMP/$label/Z.back" &&
		t_ok "$label: Z holds its own bytes, not the tampered A" ||
		t_fail "$label: Z holds its own bytes, not the tampered A"
	grep -q "no longer holds the content the journal recorded" "$MG_TMP/$label/run2.out" &&
		t_ok "$label: the refused dedupe is reported" ||
		t_fail "$label: the refused dedupe is reported" "$(head -5 "$MG_TMP/$label/run2.out")"
	t_exit "$label: the next run" 0 "$MIGRATE" "$MG_TMP/$label/plan.yaml"
	"${AWS[@]}" s3 cp "s3://$bucket/t/A" "$MG_TMP/$label/A.back" >/dev/null 2>&1
	cmp -s "$MG_TMP/$label/orig" "$MG_TMP/$label/A.back" &&
		t_ok "$label: the tampered A is copied again" ||
		t_fail "$label: the tampered A is copied again"
}

one_server rgw "$MG_S3_ENDPOINT" "$MG_S3_ACCESS_KEY" "$MG_S3_SECRET_KEY"
if [ -n "${MG_MOTO_ENDPOINT:-}" ]; then
	one_server moto "$MG_MOTO_ENDPOINT" "${MG_MOTO_ACCESS_KEY:-testing}" "${MG_MOTO_SECRET_KEY:-testing}"
else
	t_skip "moto" "MG_MOTO_ENDPOINT is not set (tools/lib/moto.sh starts moto where python3 has it)"
fi
t_done
