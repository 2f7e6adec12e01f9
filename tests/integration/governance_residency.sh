#!/usr/bin/env bash
# The residency guard (issue 15.2) on moto: before the first byte moves,
# each target bucket's region is asked of the server (HeadBucket's
# x-amz-bucket-region / GetBucketLocation), not taken from the plan's
# `region:`.  A bucket made with LocationConstraint=eu-west-1 passes
# `residency: { regions: eu }`; one in us-east-1 makes the run refuse to
# start (exit 3) naming the bucket, its region and the rule, with nothing
# written; `estimate` shows the regions and refuses the same; an S3
# source outside `residency.sources` is refused too.
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tools/lib/moto.sh"

[ -x "$MIGRATE" ] || t_skip_all "migrate is not built"
[ -x /usr/bin/aws ] || t_skip_all "/usr/bin/aws is missing: apt-get install awscli"
t_moto_s3

EU=mg-res-eu-$$-$RANDOM
US=mg-res-us-$$-$RANDOM
"${AWS[@]}" s3api create-bucket --bucket "$EU" \
	--create-bucket-configuration LocationConstraint=eu-west-1 >/dev/null 2>&1 ||
	{ t_fail "create the eu-west-1 bucket"; t_done; }
"${AWS[@]}" s3api create-bucket --bucket "$US" >/dev/null 2>&1 ||
	{ t_fail "create the us-east-1 bucket"; t_done; }
t_at_exit "/usr/bin/aws --endpoint-url '$MG_S3_ENDPOINT' s3 rb --force 's3://$EU' >/dev/null 2>&1"
t_at_exit "/usr/bin/aws --endpoint-url '$MG_S3_ENDPOINT' s3 rb --force 's3://$US' >/dev/null 2>&1"
loc=$("${AWS[@]}" s3api get-bucket-location --bucket "$EU" --query LocationConstraint --output text 2>&1)
[ "$loc" = eu-west-1 ] && t_ok "the aws cli sees the eu bucket in eu-west-1" ||
	t_fail "the aws cli sees the eu bucket in eu-west-1" "$loc"

S=$MG_TMP/src
mkdir -p "$S"
for i in 1 2 3; do head -c 2000 /dev/urandom >"$S/f$i"; done

# plan NAME SOURCE BUCKET RESIDENCY: every plan signs for us-east-1, which
# says nothing of where the bucket is
plan() {
	cat >"$MG_TMP/$1.yaml" <<YAML
version: 1
name: res-$1
source: $2
target:
  url: s3://$3/t/
  endpoint: \${MG_S3_ENDPOINT}
  provider: aws-s3
  region: us-east-1
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
residency: $4
journal: $MG_TMP/journal-$1
YAML
}

plan eu "$S" "$EU" "{ regions: eu }"
t_exit "estimate with the bucket in eu-west-1 and 'regions: eu'" 0 "$MIGRATE" estimate "$MG_TMP/eu.yaml"
t_grep "estimate shows the bucket's region" \
	"residency: target s3://$EU/t/ is in region eu-west-1 \(residency.regions: eu \(every eu-\* region\)\)" "$MG_TMP/.out"
t_exit "the run goes ahead" 0 "$MIGRATE" "$MG_TMP/eu.yaml"
n=$("${AWS[@]}" s3 ls "s3://$EU/t/" 2>/dev/null | wc -l)
[ "$n" = 3 ] && t_ok "3 objects in the eu bucket" || t_fail "3 objects in the eu bucket" "got $n"

plan us "$S" "$US" "{ regions: [eu-central-1, eu-west-1] }"
t_exit "a bucket in us-east-1: the run refuses to start (exit 3)" 3 "$MIGRATE" "$MG_TMP/us.yaml"
t_grep "names the bucket, its region and the rule" \
	"residency: target 's3://$US/t/' is in region 'us-east-1', outside residency.regions: \[eu-central-1, eu-west-1\]: nothing was moved" "$MG_TMP/.out"
n=$("${AWS[@]}" s3 ls --recursive "s3://$US/" 2>/dev/null | wc -l)
[ "$n" = 0 ] && t_ok "nothing was written to it" || t_fail "nothing was written to it" "$n objects"
t_exit "estimate refuses the same plan (exit 3)" 3 "$MIGRATE" estimate "$MG_TMP/us.yaml"
t_grep "estimate names the region" "is in region 'us-east-1', outside residency.regions" "$MG_TMP/.out"

# an S3 source: the us bucket with something in it, guarded by sources: eu
"${AWS[@]}" s3 cp "$S/f1" "s3://$US/src/f1" >/dev/null 2>&1
cat >"$MG_TMP/src.yaml" <<YAML
version: 1
name: res-src
source:
  url: s3://$US/src/
  endpoint: \${MG_S3_ENDPOINT}
  provider: aws-s3
  region: us-east-1
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
target: $MG_TMP/out
residency: { sources: eu }
journal: $MG_TMP/journal-src
YAML
t_exit "an S3 source in us-east-1 with 'sources: eu': refused (exit 3)" 3 "$MIGRATE" "$MG_TMP/src.yaml"
t_grep "names the source and the rule" \
	"residency: source 's3://$US/src/' is in region 'us-east-1', outside residency.sources: \[eu \(every eu-\* region\)\]" "$MG_TMP/.out"
[ ! -e "$MG_TMP/out/f1" ] && t_ok "nothing was copied from it" || t_fail "nothing was copied from it"
sed -i 's/sources: eu/sources: [us-east-1]/' "$MG_TMP/src.yaml"
t_exit "the same source allowed by 'sources: [us-east-1]'" 0 "$MIGRATE" "$MG_TMP/src.yaml"
t_done
