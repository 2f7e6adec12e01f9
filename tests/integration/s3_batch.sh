#!/usr/bin/env bash
# Small objects to the RGW in batches (engine/run/batch.c): a worker takes
# several small tasks and the S3 connector sends all their PUTs at once on
# one curl multi loop (s3_put_batch).  Proves the batch path is used (the
# summary's batched_objects), that every object arrives whole (read back
# with the AWS CLI), that one object the server refuses in a batch fails
# alone, that duplicate content in a batch is still uploaded once, that a
# large object beside the batches goes its own way, and that a kill -9
# while a batch is in flight (MG_TEST_KILL_AFTER=batch:N: its PUTs done,
# their records not yet handed to the journal) leaves a journal the next
# run completes from.
. "$MG_SRCDIR/tests/lib.sh"

if ! [ -n "${MG_S3_ENDPOINT:-}" ] || ! [ -x "$MIGRATE" ] || ! [ -x /usr/bin/aws ] ||
	! command -v jq >/dev/null; then
	t_skip_all "needs an S3 server (MG_S3_ENDPOINT: tools/lib/s3server.sh starts one), a built migrate, /usr/bin/aws and jq (apt-get install awscli jq)"
fi
s3_cli
jget() { jq -r "$2" "$1" 2>/dev/null; }
s3_new_bucket BUCKET mg-batch || { t_fail "create bucket" "/usr/bin/aws s3 mb failed at $MG_S3_ENDPOINT"; t_done; }

N=120
S=$MG_TMP/src
mkdir -p "$S/d"
for i in $(seq 1 $N); do head -c $((1024 + i * 29)) /dev/urandom >"$S/d/f$i"; done
cp "$S/d/f7" "$S/d/same-as-f7"			# dedupe: uploaded once, copied once
head -c $((2 * 1024 * 1024 + 5)) /dev/urandom >"$S/big"	# above the batch size
want=$((N + 2))

t_s3_plan "$MG_TMP/plan.yaml" batch "$S" "s3://$BUCKET/b/" "$MG_TMP/journal" \
	'transfer:' '  concurrency: 8'
"$MIGRATE" -q --json "$MG_TMP/plan.yaml" >"$MG_TMP/run1.json" 2>"$MG_TMP/run1.err"
t_is "the first run succeeds" 0 $?
batched=$(jget "$MG_TMP/run1.json" .batched_objects)
if [ "${batched:-0}" -ge $((N / 2)) ] && [ "$batched" -le $((N + 1)) ]; then
	t_ok "the small objects went in batches ($batched of $want)"
else
	t_fail "the small objects went in batches" "batched_objects '$batched': $(head -3 "$MG_TMP/run1.err")"
fi
t_is "... every object copied" "$want" \
	"$(jget "$MG_TMP/run1.json" '.targets[0].copied.objects + .targets[0].deduplicated.objects')"
t_is "... the duplicate content copied server-side" 1 \
	"$(jget "$MG_TMP/run1.json" '.targets[0].deduplicated.objects')"
mkdir -p "$MG_TMP/back"
"${AWS[@]}" s3 cp --quiet --recursive "s3://$BUCKET/b/" "$MG_TMP/back/" >/dev/null 2>&1
t_check "... byte-identical, read back with the AWS CLI" diff -r "$S" "$MG_TMP/back"
"$MIGRATE" -q --json "$MG_TMP/plan.yaml" >"$MG_TMP/run2.json" 2>&1
t_is "a rerun copies nothing" 0 "$(jget "$MG_TMP/run2.json" '.targets[0].copied.objects')"

# One object the server refuses (a key above S3's 1,024 bytes) among
# small ones: it fails alone, the others of its batch arrive.
long=$(printf 'x%.0s' $(seq 1 200))
mkdir -p "$S/z/$long/$long/$long/$long/$long/$long"
echo refused >"$S/z/$long/$long/$long/$long/$long/$long/last"
for i in $(seq 1 10); do head -c 3000 /dev/urandom >"$S/z/g$i"; done
"$MIGRATE" -q --json "$MG_TMP/plan.yaml" >"$MG_TMP/run3.json" 2>"$MG_TMP/run3.err"
t_is "a refused object makes the run exit 1" 1 $?
t_is "... it alone failed" 1 "$(jget "$MG_TMP/run3.json" '.targets[0].failed.objects')"
t_is "... the others of its batch copied" 10 "$(jget "$MG_TMP/run3.json" '.targets[0].copied.objects')"
t_ok_if() { if "$@"; then t_ok "$T"; else t_fail "$T" "$(cat "$MG_TMP/run3.err")"; fi; }
T="... its error names it and the server's answer" t_ok_if grep -q "xxxx.*/last" "$MG_TMP/run3.err"
rm -rf "${S:?}/z/$long"

# kill -9 with a batch in flight: its PUTs done, their records not yet
# handed to the committer
t_s3_plan "$MG_TMP/plan2.yaml" batch2 "$S" "s3://$BUCKET/k/" "$MG_TMP/journal2" \
	'transfer:' '  concurrency: 8'
MG_TEST_KILL_AFTER=batch:30 "$MIGRATE" -q "$MG_TMP/plan2.yaml" >"$MG_TMP/kill.out" 2>&1
t_is "killed (-9) mid-run after 30 objects sent in batches" 137 $?
"$MIGRATE" -q --json "$MG_TMP/plan2.yaml" >"$MG_TMP/run4.json" 2>"$MG_TMP/run4.err"
t_is "the next run completes" 0 $?
total=$(find "$S" -type f | wc -l)
done4=$(jget "$MG_TMP/run4.json" '[.targets[0].copied.objects, .targets[0].deduplicated.objects] | add')
unch4=$(jget "$MG_TMP/run4.json" '.targets[0].unchanged.objects')
t_is "... every object accounted for (copied + unchanged)" "$total" "$((done4 + unch4))"
"$MIGRATE" -q --json "$MG_TMP/plan2.yaml" >"$MG_TMP/run5.json" 2>&1
t_is "... and recorded: a third run copies nothing" 0 "$(jget "$MG_TMP/run5.json" '.targets[0].copied.objects')"
rm -rf "$MG_TMP/back2"; mkdir -p "$MG_TMP/back2"
"${AWS[@]}" s3 cp --quiet --recursive "s3://$BUCKET/k/" "$MG_TMP/back2/" >/dev/null 2>&1
t_check "... byte-identical, read back with the AWS CLI" diff -r "$S" "$MG_TMP/back2"
t_done
