#!/usr/bin/env bash
# The AWS credential chain of the S3 connector (connectors/s3_creds.c),
# each source giving the credentials of a real migration into moto:
#   web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN -> moto's STS
#   AssumeRoleWithWebIdentity), refreshed during a run; a profile with
#   role_arn + source_profile (STS AssumeRole signed with the source's
#   keys), chained two deep; credential_process (a script; its failure
#   never shows its output); EC2 instance metadata (IMDSv2: token PUT,
#   role, credentials) and container credentials (FULL_URI + token file)
#   against tests/imds_server.py on 127.0.0.1, IMDS refreshed during a
#   run.  No secret ever appears in any output or log.
#
# moto does not verify SigV4 signatures nor check that a key it issued is
# used (it takes any key): what these runs prove is that the chain
# fetched and parsed credentials and the connector signed with them; the
# STS and metadata request logs prove the refreshes.
# MG_TEST_CREDS_REFRESH_BEFORE (test only) moves the refresh point so a
# run sees one within seconds instead of STS's 15-minute minimum life.
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tools/lib/moto.sh"

[ -x "$MIGRATE" ] || t_skip_all "migrate is not built"
[ -x /usr/bin/aws ] || t_skip_all "/usr/bin/aws is missing: apt-get install awscli"
t_moto_s3
s3_new_bucket BUCKET mg-creds || { t_fail "create bucket" "aws s3 mb failed at $MG_S3_ENDPOINT"; t_done; }

SECRET_MARK=mgcredsecretXYZ	# every secret the tests hand out holds it
S=$MG_TMP/src
mkdir -p "$S/a"
for i in $(seq 1 12); do head -c $((i * 3000)) /dev/urandom >"$S/a/f$i"; done
head -c 5000 /dev/urandom >"$S/small.bin"
# for the refresh cases: 30 objects of 100 kB at 1 MB/s, so requests keep
# starting (and asking for credentials) for at least 3 s
R=$MG_TMP/src-refresh
mkdir -p "$R"
for i in $(seq 1 30); do head -c 100000 /dev/urandom >"$R/r$i"; done

# migrate with nothing of the test's own AWS settings: only what each case sets
mg() {
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
		-u AWS_PROFILE -u AWS_DEFAULT_REGION AWS_EC2_METADATA_DISABLED=true \
		AWS_CONFIG_FILE="$MG_TMP/none" AWS_SHARED_CREDENTIALS_FILE="$MG_TMP/none" "$@"
}
plan() {	# plan NAME PREFIX [TRANSFER [SOURCE]]
	cat >"$MG_TMP/$1.yaml" <<EOF
version: 1
name: $1
source: ${4:-$S}
target:
  url: s3://$BUCKET/$2/
  endpoint: $MG_MOTO_ENDPOINT
  region: us-east-1
journal: $MG_TMP/journal-$1
transfer: { concurrency: 4, ${3:-} }
EOF
}
copied() { json_get "$MG_TMP/.out" targets.0.copied.objects 2>/dev/null; }
sts_calls() { grep -c '"POST / HTTP' "$MG_MOTO_DIR/moto.log"; }
# fails_with NAME PATTERN ARGS...: `mg ARGS` exits 3 with PATTERN (grep) in its output
fails_with() {
	local name=$1 pat=$2 rc; shift 2
	mg "$@" >"$MG_TMP/.out" 2>&1
	rc=$?; keep
	[ "$rc" = 3 ] && grep -q -- "$pat" "$MG_TMP/.out" && t_ok "$name" ||
		t_fail "$name" "exit $rc: $(head -c 300 "$MG_TMP/.out")"
}
# all output of a case, with the logs, into one file the secret test reads
keep() { cat "$MG_TMP/.out" >>"$MG_TMP/all-output"; }

# ---- web identity ----------------------------------------------------------
printf 'eyJhbGciOi.%s-webidentitytoken.sig\n' "$SECRET_MARK" >"$MG_TMP/wi-token"
plan wi wi
before=$(sts_calls)
mg AWS_WEB_IDENTITY_TOKEN_FILE="$MG_TMP/wi-token" AWS_ROLE_ARN=arn:aws:iam::123456789012:role/mg-wi \
	AWS_ROLE_SESSION_NAME=mg-test AWS_ENDPOINT_URL_STS="$MG_MOTO_ENDPOINT" \
	"$MIGRATE" --json -q --log-json "$MG_TMP/wi.log" "$MG_TMP/wi.yaml" >"$MG_TMP/.out" 2>&1
rc=$?; keep; cat "$MG_TMP/wi.log" >>"$MG_TMP/all-output"
[ "$rc" = 0 ] && [ "$(copied)" = 13 ] && t_ok "web identity: 13 objects migrated with STS credentials" ||
	t_fail "web identity migration" "exit $rc, copied '$(copied)': $(head -c 400 "$MG_TMP/.out")"
n=$(( $(sts_calls) - before ))
[ "$n" = 1 ] && t_ok "web identity: one STS call for 4 workers and the lister" ||
	t_fail "web identity: one STS call" "$n calls"

# refresh during a run: the set lives 3600 s (moto's default), refreshed
# 3599 s before it expires, i.e. 1 s after it came; the bandwidth limit
# makes the run last at least 3 s with requests starting all along
plan wiref wiref "bandwidth: 1MB/s" "$R"
before=$(sts_calls)
mg AWS_WEB_IDENTITY_TOKEN_FILE="$MG_TMP/wi-token" AWS_ROLE_ARN=arn:aws:iam::123456789012:role/mg-wi \
	AWS_ENDPOINT_URL_STS="$MG_MOTO_ENDPOINT" MG_TEST_CREDS_REFRESH_BEFORE=3599 \
	"$MIGRATE" --json -q "$MG_TMP/wiref.yaml" >"$MG_TMP/.out" 2>&1
rc=$?; keep
n=$(( $(sts_calls) - before ))
[ "$rc" = 0 ] && [ "$(copied)" = 30 ] && [ "$n" -ge 2 ] &&
	t_ok "web identity: refreshed during a run ($n STS calls), nothing failed" ||
	t_fail "web identity refresh" "exit $rc, copied '$(copied)', $n STS calls"

fails_with "web identity: a missing token file exits 3 and says so" \
	"web identity (role arn:aws:iam::123456789012:role/mg-wi): cannot read the token file" \
	AWS_WEB_IDENTITY_TOKEN_FILE="$MG_TMP/no-such-token" AWS_ROLE_ARN=arn:aws:iam::123456789012:role/mg-wi \
	AWS_ENDPOINT_URL_STS="$MG_MOTO_ENDPOINT" "$MIGRATE" "$MG_TMP/wi.yaml"

# ---- role chaining: base keys -> role A -> role B --------------------------
cat >"$MG_TMP/chain-credentials" <<EOF
[base]
aws_access_key_id = AKIABASEKEY
aws_secret_access_key = $SECRET_MARK-basesecret
EOF
cat >"$MG_TMP/chain-config" <<EOF
[profile roleA]
role_arn = arn:aws:iam::123456789012:role/mg-a
source_profile = base
sts =
  endpoint_url = $MG_MOTO_ENDPOINT
[profile roleB]
role_arn = arn:aws:iam::123456789012:role/mg-b
source_profile = roleA
duration_seconds = 900
endpoint_url = $MG_MOTO_ENDPOINT
EOF
plan chain chain
before=$(sts_calls)
mg AWS_CONFIG_FILE="$MG_TMP/chain-config" AWS_SHARED_CREDENTIALS_FILE="$MG_TMP/chain-credentials" \
	AWS_PROFILE=roleB "$MIGRATE" --json -q "$MG_TMP/chain.yaml" >"$MG_TMP/.out" 2>&1
rc=$?; keep
n=$(( $(sts_calls) - before ))
[ "$rc" = 0 ] && [ "$(copied)" = 13 ] && t_ok "role chain: migrated with base -> role A -> role B" ||
	t_fail "role chain migration" "exit $rc: $(head -c 400 "$MG_TMP/.out")"
[ "$n" = 2 ] && t_ok "role chain: two AssumeRole calls, one per role" || t_fail "role chain: STS calls" "$n"
mg AWS_CONFIG_FILE="$MG_TMP/chain-config" AWS_SHARED_CREDENTIALS_FILE="$MG_TMP/chain-credentials" \
	AWS_PROFILE=roleB "$MIGRATE" check "$MG_TMP/chain.yaml" >"$MG_TMP/.out" 2>&1
keep
t_grep "check: names the source of the credentials" \
	"credentials: assume role \(role arn:aws:iam::123456789012:role/mg-b, signed by assume role \(role arn:aws:iam::123456789012:role/mg-a, signed by profile 'base'\)\)" \
	"$MG_TMP/.out"

# ---- credential_process ----------------------------------------------------
cat >"$MG_TMP/credproc.sh" <<EOF
#!/bin/sh
[ "\$1" = fail ] && { echo '{"Version": 1, "AccessKeyId": "AKIAPROC", "SecretAccessKey": "$SECRET_MARK-procfail"}'; exit 2; }
echo x >>"$MG_TMP/credproc.calls"
exp=\$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
printf '{"Version": 1, "AccessKeyId": "AKIAPROCESS", "SecretAccessKey": "%s", "SessionToken": "%s", "Expiration": "%s"}\n' \
	"$SECRET_MARK-procsecret" "$SECRET_MARK-proctoken" "\$exp"
EOF
chmod +x "$MG_TMP/credproc.sh"
printf '[profile proc]\ncredential_process = "%s" --flag "with space"\n[profile procfail]\ncredential_process = %s fail\n' \
	"$MG_TMP/credproc.sh" "$MG_TMP/credproc.sh" >"$MG_TMP/proc-config"
plan proc proc
mg AWS_CONFIG_FILE="$MG_TMP/proc-config" AWS_PROFILE=proc "$MIGRATE" --json -q "$MG_TMP/proc.yaml" >"$MG_TMP/.out" 2>&1
rc=$?; keep
[ "$rc" = 0 ] && [ "$(copied)" = 13 ] && [ "$(wc -l <"$MG_TMP/credproc.calls")" = 1 ] &&
	t_ok "credential_process: migrated, the command ran once" ||
	t_fail "credential_process" "exit $rc, copied '$(copied)', calls $(wc -l <"$MG_TMP/credproc.calls" 2>/dev/null)"
fails_with "credential_process: a failing command exits 3, its status named" \
	"credential_process (profile 'procfail'): the command exited with status 2" AWS_CONFIG_FILE="$MG_TMP/proc-config" AWS_PROFILE=procfail "$MIGRATE" "$MG_TMP/proc.yaml"

# ---- IMDSv2 and container credentials (tests/imds_server.py) ---------------
python3 "$MG_SRCDIR/tests/imds_server.py" "$MG_TMP/imds.port" "$MG_TMP/imds.log" 20 mg-instance-role \
	"$SECRET_MARK-containerauth" "$SECRET_MARK-imds" >"$MG_TMP/imds.err" 2>&1 &
IMDS_PID=$!
t_at_exit "kill $IMDS_PID 2>/dev/null"
t_wait 30 test -s "$MG_TMP/imds.port" || { t_fail "start imds_server.py" "$(cat "$MG_TMP/imds.err")"; t_done; }
IMDS=http://127.0.0.1:$(cat "$MG_TMP/imds.port")
: >"$MG_TMP/imds.log"

plan imds imds
mg env -u AWS_EC2_METADATA_DISABLED AWS_EC2_METADATA_SERVICE_ENDPOINT="$IMDS" \
	"$MIGRATE" --json -q "$MG_TMP/imds.yaml" >"$MG_TMP/.out" 2>&1
rc=$?; keep
[ "$rc" = 0 ] && [ "$(copied)" = 13 ] && t_ok "imds: migrated with instance role credentials" ||
	t_fail "imds migration" "exit $rc: $(head -c 400 "$MG_TMP/.out")"
t_grep "imds: token first (PUT /latest/api/token)" "^PUT /latest/api/token 200" "$MG_TMP/imds.log"
t_grep "imds: role, then its credentials, with the token" \
	"^GET /latest/meta-data/iam/security-credentials/mg-instance-role 200" "$MG_TMP/imds.log"
if grep -q " 401$" "$MG_TMP/imds.log"; then t_fail "imds: no request without a token"
else t_ok "imds: no request without a token (no 401)"; fi

# refresh: 20 s sets refreshed 19 s before expiry; the run lasts >= 3 s
plan imdsref imdsref "bandwidth: 1MB/s" "$R"
: >"$MG_TMP/imds.log"
mg env -u AWS_EC2_METADATA_DISABLED AWS_EC2_METADATA_SERVICE_ENDPOINT="$IMDS" MG_TEST_CREDS_REFRESH_BEFORE=19 \
	"$MIGRATE" --json -q "$MG_TMP/imdsref.yaml" >"$MG_TMP/.out" 2>&1
rc=$?; keep
n=$(grep -c "^GET /latest/meta-data/iam/security-credentials/mg-instance-role 200" "$MG_TMP/imds.log")
[ "$rc" = 0 ] && [ "$(copied)" = 30 ] && [ "$n" -ge 2 ] &&
	t_ok "imds: refreshed during a run ($n fetches), nothing failed" ||
	t_fail "imds refresh" "exit $rc, copied '$(copied)', $n fetches"

printf '%s-containerauth\n' "$SECRET_MARK" >"$MG_TMP/container-token"
plan container container
: >"$MG_TMP/imds.log"
mg AWS_CONTAINER_CREDENTIALS_FULL_URI="$IMDS/creds" AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$MG_TMP/container-token" \
	"$MIGRATE" --json -q "$MG_TMP/container.yaml" >"$MG_TMP/.out" 2>&1
rc=$?; keep
[ "$rc" = 0 ] && [ "$(copied)" = 13 ] && grep -q "^GET /creds 200" "$MG_TMP/imds.log" &&
	t_ok "container: migrated with FULL_URI + token file credentials" ||
	t_fail "container migration" "exit $rc: $(head -c 400 "$MG_TMP/.out")"
fails_with "container: a wrong token exits 3 and says so" "http 403 (check the authorization token)" \
	AWS_CONTAINER_CREDENTIALS_FULL_URI="$IMDS/creds" AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong \
	"$MIGRATE" "$MG_TMP/container.yaml"
fails_with "container: plain http to another host is refused" "must be https, or http to a loopback address" \
	AWS_CONTAINER_CREDENTIALS_FULL_URI="http://192.0.2.1/creds" AWS_CONTAINER_AUTHORIZATION_TOKEN=x \
	"$MIGRATE" "$MG_TMP/container.yaml"

# ---- no secret anywhere ----------------------------------------------------
cat "$MG_TMP"/*.log >>"$MG_TMP/all-output" 2>/dev/null
if grep -q -- "$SECRET_MARK" "$MG_TMP/all-output"; then
	t_fail "no secret in any output, --json or --log-json" "$(grep -m3 -o -- ".\{20\}$SECRET_MARK.\{10\}" "$MG_TMP/all-output")"
else
	t_ok "no secret in any output, --json or --log-json ($(wc -c <"$MG_TMP/all-output") bytes read)"
fi
t_done
