#!/usr/bin/env bash
# TLS is verified, always: RGW behind a TLS relay with a self-signed
# certificate for 127.0.0.1 is refused (fatal, "not trusted", exit 3 from
# migrate) until ca_file names the certificate; then the connector and a
# plan work through it.  The relay is a few lines of python3 below.
. "$MG_SRCDIR/tests/lib.sh"

[ -n "${MG_S3_ENDPOINT:-}" ] || t_skip_all "MG_S3_ENDPOINT is not set (tools/lib/s3server.sh starts a server)"
. "$MG_SRCDIR/tests/conformance/lib.sh"	# $CF: the conformance program
[ -x /usr/bin/aws ] || t_skip_all "/usr/bin/aws is missing: apt-get install awscli"
t_tls_cert || t_skip_all "cannot make a certificate: $(tail -1 "$MG_TMP/openssl.out")"

up=${MG_S3_ENDPOINT#http://}
t_start_helper PORT "$MG_TMP/relay.port" \
	python3 "$MG_SRCDIR/tests/tlsrelay.py" "${up%:*}" "${up##*:}" "$MG_TMP/cert.pem" "$MG_TMP/key.pem" ||
	{ t_fail "tls relay starts" "$(cat "$MG_TMP/relay.port.err")"; t_done; }
HTTPS=https://127.0.0.1:$PORT

s3_cli
s3_new_bucket BUCKET mg-tls || { t_fail "create bucket" "/usr/bin/aws s3 mb failed at $MG_S3_ENDPOINT"; t_done; }

# the system bundle (or AWS_CA_BUNDLE) does not know the certificate
MG_S3_ENDPOINT=$HTTPS t_exit "self-signed certificate is refused (fatal)" 3 "$CF" s3 ls "$BUCKET"
t_grep "... with a message naming ca_file" "certificate of '$HTTPS' is not trusted.*ca_file" "$MG_TMP/.out"
MG_S3_ENDPOINT=$HTTPS AWS_CA_BUNDLE= t_exit "refused without AWS_CA_BUNDLE too" 3 "$CF" s3 ls "$BUCKET"

# ca_file names it: TLS works
head -c 200000 /dev/urandom >"$MG_TMP/data"
MG_S3_ENDPOINT=$HTTPS MG_S3_CA_FILE=$MG_TMP/cert.pem \
	t_check "with ca_file: put over TLS" "$CF" s3 put "$BUCKET" "tls/obj" "$MG_TMP/data"
MG_S3_ENDPOINT=$HTTPS MG_S3_CA_FILE=$MG_TMP/cert.pem \
	t_check "with ca_file: get over TLS" "$CF" s3 get "$BUCKET" "tls/obj" "$MG_TMP/back"
t_check "... byte-identical" cmp "$MG_TMP/data" "$MG_TMP/back"
# an AWS_CA_BUNDLE naming the certificate works like ca_file
MG_S3_ENDPOINT=$HTTPS AWS_CA_BUNDLE=$MG_TMP/cert.pem \
	t_check "AWS_CA_BUNDLE naming the certificate is honoured" "$CF" s3 ls "$BUCKET"

if [ -x "$MIGRATE" ]; then
	mkdir -p "$MG_TMP/src"
	cp "$MG_TMP/data" "$MG_TMP/src/a"
	for ca in "" "ca_file: $MG_TMP/cert.pem"; do
		cat >"$MG_TMP/plan${ca:+-ca}.yaml" <<EOF2
version: 1
name: tls
source: $MG_TMP/src
target:
  url: s3://$BUCKET/plan/
  endpoint: $HTTPS
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
  $ca
journal: $MG_TMP/journal
EOF2
	done
	t_exit "migrate refuses the self-signed certificate: exit 3" 3 "$MIGRATE" "$MG_TMP/plan.yaml"
	t_grep "... and says to name it in ca_file" "not trusted.*ca_file" "$MG_TMP/.out"
	t_exit "migrate with ca_file in the plan copies" 0 "$MIGRATE" "$MG_TMP/plan-ca.yaml"
fi
t_done
