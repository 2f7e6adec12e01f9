#!/usr/bin/env bash
# migrate through tests/faultproxy.py, which answers 10% of the requests
# with a fault: 503 SlowDown, 500 before the server saw the request, 500
# after the server acted on it, a TCP reset in the middle of the request
# body, a reset in the middle of the answer, and a delay.  Small objects
# and multipart ones (5 MiB parts), two seeds, against Ceph RGW and moto
# (where python3 has it).  Each run must exit 0; every object must read
# back byte-identical with the AWS CLI straight from the server (not
# through the proxy); no multipart upload may be left open
# (ListMultipartUploads empty); `migrate verify` is clean; and the proxy's
# log must show that every kind of fault was really injected.
. "$MG_SRCDIR/tests/lib.sh"
. "$MG_SRCDIR/tools/lib/moto.sh"
. "$MG_SRCDIR/tools/lib/s3curl.sh"

[ -x /usr/bin/aws ] || t_skip_all "/usr/bin/aws is missing: apt-get install awscli"
command -v python3 >/dev/null || t_skip_all "python3 is missing"
FP=$MG_SRCDIR/tests/faultproxy.py
KINDS="503 500-before 500-after reset-request reset-response delay"
SEEDS=${MG_FAULT_SEEDS:-"1 2"}

# One source tree for every run: 80 single-PUT objects (0 B .. 192 KiB:
# enough requests that each kind of fault comes up in every run, most of
# them large enough that the client streams the body instead of sending it
# with the head) and three multipart ones (3, 2 and 2 parts of 5 MiB):
# 10% of about 100 requests is about 10 faults, some on multipart calls.
S=$MG_TMP/src
mkdir -p "$S/small/deeper"
: >"$S/small/empty"
for i in $(seq 1 79); do
	d=small; [ $((i % 3)) = 0 ] && d=small/deeper
	head -c $(( (i * 7919) % 196608 + 1 )) /dev/urandom >"$S/$d/f $i"
done
head -c $((11 * 1024 * 1024)) /dev/urandom >"$S/mp one.bin"
head -c $((7 * 1024 * 1024 + 3)) /dev/urandom >"$S/mp two.bin"
head -c $((5 * 1024 * 1024 + 1)) /dev/urandom >"$S/mp three.bin"

# run_case LABEL SEED: one migrate run through a fresh proxy into a fresh
# bucket at the server MG_S3_* name
run_case() {
	local label=$1 seed=$2 dir=$MG_TMP/$1-$2 bucket port pid rc k n missing= open
	mkdir -p "$dir"
	s3_cli
	bucket=mg-fi-$label-$seed-$$-$RANDOM
	s3curl_mb "$bucket" >"$dir/mb.out" 2>&1 || {
		t_fail "$label seed $seed: create bucket" "$(head -3 "$dir/mb.out")"; return; }
	# moto's buckets go with moto (a throw-away server, in memory)
	[ "$label" = moto ] ||
		t_at_exit "timeout 60 /usr/bin/aws --endpoint-url '$MG_S3_ENDPOINT' s3 rb --force 's3://$bucket' >/dev/null 2>&1"

	t_start_helper port "$dir/proxy.port" python3 "$FP" --upstream "$MG_S3_ENDPOINT" --rate 0.1 \
		--seed "$seed" --faults "${KINDS// /,}" --delay-seconds 1 --log "$dir/faults.log" ||
		{ t_fail "$label seed $seed: proxy starts" "$(cat "$dir/proxy.port.err")"; return; }
	pid=$T_HELPER_PID

	cat >"$dir/plan.yaml" <<EOF
version: 1
name: fault-inject
source: "$S"
target:
  url: s3://$bucket/m/
  endpoint: \${FI_ENDPOINT}
  region: \${MG_S3_REGION}
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
journal: "$dir/journal"
transfer:
  multipart_threshold: 5MiB
  part_size: 5MiB
  concurrency: 4
EOF
	# bounded: a run that hangs is a failure, not a stuck test
	FI_ENDPOINT=http://127.0.0.1:$port timeout 300 "$MIGRATE" --no-progress \
		"$dir/plan.yaml" >"$dir/run.out" 2>&1
	rc=$?
	kill "$pid" 2>/dev/null
	[ "$rc" -eq 0 ] && t_ok "$label seed $seed: migrate through the faulty proxy exits 0" ||
		t_fail "$label seed $seed: migrate through the faulty proxy exits 0" \
			"exit $rc: $(grep -v '^ *$' "$dir/run.out" | tail -8 | tr '\n' '|')"

	# read back straight from the server, not through the proxy
	if "${AWS[@]}" s3 cp --only-show-errors --recursive "s3://$bucket/m/" "$dir/back" \
		>"$dir/cp.out" 2>&1; then
		mkdir -p "$dir/back"
		if diff -r "$S" "$dir/back" >"$dir/diff" 2>&1; then
			t_ok "$label seed $seed: every object is byte-identical (AWS CLI, direct)"
		else
			t_fail "$label seed $seed: every object is byte-identical (AWS CLI, direct)" \
				"$(head -5 "$dir/diff" | tr '\n' '|')"
		fi
	else
		t_fail "$label seed $seed: the AWS CLI reads the objects back" "$(tail -3 "$dir/cp.out")"
	fi

	open=$(s3curl_open_uploads "$bucket" 2>&1)
	[ -z "$open" ] && t_ok "$label seed $seed: no multipart upload left open" ||
		t_fail "$label seed $seed: no multipart upload left open" \
			"$(echo "$open" | wc -l) open: $(echo "$open" | head -3 | tr '\n' '|')"

	FI_ENDPOINT=$MG_S3_ENDPOINT timeout 120 "$MIGRATE" verify "$dir/plan.yaml" \
		>"$dir/verify.out" 2>&1
	rc=$?
	[ "$rc" -eq 0 ] && t_ok "$label seed $seed: migrate verify (direct) is clean" ||
		t_fail "$label seed $seed: migrate verify (direct) is clean" \
			"exit $rc: $(tail -4 "$dir/verify.out" | tr '\n' '|')"

	for k in $KINDS; do
		n=$(awk -v k="$k" '$1 == k { n++ } END { print n + 0 }' "$dir/faults.log")
		[ "$n" -gt 0 ] || missing="$missing $k"
	done
	n=$(wc -l <"$dir/faults.log")
	[ -z "$missing" ] &&
		t_ok "$label seed $seed: every kind of fault was injected ($n faults: $(
			cut -d' ' -f1 "$dir/faults.log" | sort | uniq -c | awk '{printf "%s %s, ", $2, $1}'))" ||
		t_fail "$label seed $seed: every kind of fault was injected" "never:$missing ($n faults)"
	echo "# $label seed $seed: $(cat "$dir/faults.log.json" 2>/dev/null)"
	sed 's/^/#   fault: /' "$dir/faults.log"
}

if [ -n "${MG_S3_ENDPOINT:-}" ]; then
	for seed in $SEEDS; do run_case rgw "$seed"; done
else
	t_skip "Ceph RGW" "MG_S3_ENDPOINT is not set (tools/lib/s3server.sh starts a server)"
fi

if moto_available; then
	t_need_moto
	moto_env
	for seed in $SEEDS; do run_case moto "$seed"; done
else
	t_skip "moto" "$MOTO_MISSING"
fi
t_done
