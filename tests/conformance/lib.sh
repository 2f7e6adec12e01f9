# tests/conformance/lib.sh - run the conformance program from a test script.
#
# Source after tests/lib.sh.  The thin tests/integration/conformance_*.sh
# scripts set up an endpoint (a folder, a bucket, an sshd, an archive),
# write a plan naming it and call cf_run; the cases themselves are all in
# tests/conformance/cases.c.

CF=${MG_BUILDDIR:-$(dirname "$MIGRATE")}/tests/conformance/conformance
# a check program: `make` alone does not build it
[ -x "$CF" ] || [ ! -f "$(dirname "$(dirname "$(dirname "$CF")")")/Makefile" ] ||
	make -s -C "$(dirname "$(dirname "$(dirname "$CF")")")" tests/conformance/conformance >/dev/null 2>&1
[ -x "$CF" ] || t_skip_all "the conformance program is not built ($CF): make check builds it"

# cf_plan FILE SOURCE TARGET: a plan whose source and target are the YAML
# values given (a quoted URL or a { url: ..., key: ... } mapping).
cf_plan() {
	cat >"$1" <<YAML
version: 1
name: conformance
source: $2
target: $3
journal: "$MG_TMP/journal"
YAML
}

# cf_run LABEL ARGS...: run the suite with ARGS, and pass each of its TAP
# lines on as one of ours, named "LABEL: case".
cf_run() {
	local label=$1 line rest n=0 ended=0 rc
	shift
	"$CF" "$@" >"$MG_TMP/cf.out" 2>&1
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok "*" # SKIP "*)
			rest=${line#ok * - }
			t_skip "$label: ${rest%% # SKIP *}" "${rest#* # SKIP }"; n=$((n + 1)) ;;
		"ok "*) t_ok "$label: ${line#ok * - }"; n=$((n + 1)) ;;
		"not ok "*) t_fail "$label: ${line#not ok * - }"; n=$((n + 1)) ;;
		1..*) ended=1 ;;
		"#"*) echo "$line" ;;
		*) echo "# $line" ;;
		esac
	done <"$MG_TMP/cf.out"
	[ "$ended" = 1 ] && [ "$rc" -le 1 ] && [ "$n" -gt 0 ] ||
		t_fail "$label: the suite ran to the end" "exit $rc after $n checks"
}

# cf_run_s3 LABEL: the suite against a fresh bucket of the S3 server that
# MG_S3_* name (RGW, or moto after moto_env), under a key prefix.
cf_run_s3() {
	s3_cli
	if ! s3_new_bucket CF_BUCKET "mg-cf-$1"; then
		t_fail "$1: create a bucket with the aws cli" "at $MG_S3_ENDPOINT"
		return
	fi
	mkdir -p "$MG_TMP/src"
	cf_plan "$MG_TMP/$1.yaml" "\"$MG_TMP/src\"" "
  url: s3://$CF_BUCKET/cf/
  endpoint: \${MG_S3_ENDPOINT}
  region: \${MG_S3_REGION}
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}"
	cf_run "$1" --plan "$MG_TMP/$1.yaml"
}
