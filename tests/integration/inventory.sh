#!/usr/bin/env bash
# migrate inventory: duplicate content across the plan's source, a second
# folder and a tar archive made by GNU tar.  Exact groups and bytes; only
# objects that share a size are read; hashes the journal holds are used
# instead of reading; keys a terminal or a spreadsheet would act on come
# out escaped; bad input gets an exit code and a message.
. "$MG_SRCDIR/tests/lib.sh"

A=$MG_TMP/a B=$MG_TMP/b C=$MG_TMP/c
mkdir -p "$A/sub" "$B/deep" "$C"
head -c 100000 /dev/urandom > "$A/x.bin"
cp "$A/x.bin" "$A/sub/again.bin"
cp "$A/x.bin" "$B/deep/copy.bin"
head -c 100000 /dev/urandom > "$A/other.bin"	# same size, other content
head -c 5000 /dev/urandom > "$B/y.bin"
cp "$B/y.bin" "$C/y.bin"
cp "$B/y.bin" "$B/=cmd|' calc'!A0"		# a formula, for CSV readers
cp "$B/y.bin" "$B/deep/new"$'\n'$'\e[2J'"line"	# a newline and an escape
head -c 777777 /dev/urandom > "$A/unique.bin"	# no other object has its size
: > "$A/empty"; : > "$B/empty"
(cd "$C" && tar cf "$MG_TMP/arch.tar" y.bin)

t_local_plan "$MG_TMP/plan.yaml" inventory "$A" "$MG_TMP/target" "$MG_TMP/journal"

# the sort's scratch files go under TMPDIR
mkdir "$MG_TMP/scratch"
inv() { TMPDIR=$MG_TMP/scratch "$MIGRATE" inventory "$@" "$MG_TMP/plan.yaml" "$B" \
	"tar://$MG_TMP/arch.tar"; }

inv --json > "$MG_TMP/inv.json" 2> "$MG_TMP/err"
rc=$?
[ $rc -eq 0 ] && t_ok "inventory --json exits 0" || t_fail "exit $rc" "$(cat "$MG_TMP/err")"
jq -e . "$MG_TMP/inv.json" >/dev/null && t_ok "its output is one JSON document" ||
	t_fail "json" "$(head -c 600 "$MG_TMP/inv.json")"
t_is "two duplicate groups" 2 "$(json_get "$MG_TMP/inv.json" groups)"
t_is "five extra copies" 5 "$(json_get "$MG_TMP/inv.json" copies)"
# x.bin three times (two copies of 100000), y.bin four (three of 5000)
t_is "reclaimable bytes exact" 215000 "$(json_get "$MG_TMP/inv.json" reclaimable_bytes)"
# candidates: the three 100000-byte objects of a, copy.bin, the four 5000s
t_is "only objects sharing a size are candidates" 8 "$(json_get "$MG_TMP/inv.json" candidates)"
t_is "and only they are read" $((4 * 100000 + 4 * 5000)) \
	"$(json_get "$MG_TMP/inv.json" hashed_bytes)"
t_is "sources counted (a: 5 objects, 1 empty)" "5 1" \
	"$(jq -r '.sources[0] | "\(.objects) \(.empty)"' "$MG_TMP/inv.json")"
t_is "the archive is a source" 1 "$(json_get "$MG_TMP/inv.json" sources.2.objects)"
t_is "other.bin (same size, other content) is in no group" 0 \
	"$(jq '[.members[] | select(.key == "other.bin")] | length' "$MG_TMP/inv.json")"
t_is "each group keeps exactly one" "1 1" \
	"$(jq -r '[.members[] | select(.role == "kept")] | group_by(.group) | map(length) | join(" ")' "$MG_TMP/inv.json")"
t_is "the kept x.bin copy is the plan source's first key" "$A sub/again.bin" \
	"$(jq -r '.members[] | select(.role == "kept" and .size == 100000) | "\(.source) \(.key)"' "$MG_TMP/inv.json")"
t_is "the archive's entry is a copy of y.bin" copy \
	"$(jq -r --arg u "tar://$MG_TMP/arch.tar" '.members[] | select(.source == $u) | .role' "$MG_TMP/inv.json")"
want=$(sha256sum "$B/y.bin" | cut -d' ' -f1)
t_is "group hashes are the content's SHA-256" "$want" \
	"$(jq -r '.members[] | select(.size == 5000) | .sha256' "$MG_TMP/inv.json" | sort -u)"
t_is "top folder by copied bytes: b/deep (copy.bin and new...line)" "$B deep 105000" \
	"$(jq -r '.top_folders[0] | "\(.source) \(.folder) \(.bytes)"' "$MG_TMP/inv.json")"
t_is "no scratch files left behind" "" "$(ls -A "$MG_TMP/scratch")"

# text: names printed for a person are escaped
inv > "$MG_TMP/inv.txt" 2>&1
t_grep "text says what is reclaimable" "5 extra copies, 210.0 KiB reclaimable" "$MG_TMP/inv.txt"
if grep -q $'\e' "$MG_TMP/inv.txt"; then t_fail "an escape sequence reached the terminal"
else t_ok "no escape sequence reaches the terminal"; fi

# CSV: RFC 4180, a formula neutralised, the newline kept inside quotes
inv --csv > "$MG_TMP/inv.csv"
python3 - "$MG_TMP/inv.csv" > "$MG_TMP/csv.out" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
print(len(rows))
print(sorted(r["key"] for r in rows if r["size"] == "5000")[0])
print(any("\n" in r["key"] for r in rows))
PY
t_is "csv has one row per member" 7 "$(sed -n 1p "$MG_TMP/csv.out")"
t_is "a formula key is neutralised" "'=cmd|' calc'!A0" "$(sed -n 2p "$MG_TMP/csv.out")"
t_is "a newline in a key survives in its quoted field" True "$(sed -n 3p "$MG_TMP/csv.out")"

# after a run the journal knows the plan source's hashes: not read again
t_exit "the plan runs" 0 "$MIGRATE" -q "$MG_TMP/plan.yaml"
inv --json > "$MG_TMP/inv2.json" 2> "$MG_TMP/err"
t_is "hashes of the copied objects come from the journal" 3 \
	"$(json_get "$MG_TMP/inv2.json" hash_known)"
t_is "so fewer bytes are read" $((100000 + 4 * 5000)) \
	"$(json_get "$MG_TMP/inv2.json" hashed_bytes)"
t_is "same result" 215000 "$(json_get "$MG_TMP/inv2.json" reclaimable_bytes)"
# a changed file: its journal hash no longer applies (size and mtime differ)
head -c 100000 /dev/urandom > "$A/sub/again.bin"
inv --json > "$MG_TMP/inv3.json" 2> "$MG_TMP/err"
t_is "a file changed since the run is read again" 2 \
	"$(json_get "$MG_TMP/inv3.json" hash_known)"
t_is "and its old content is not counted" 115000 \
	"$(json_get "$MG_TMP/inv3.json" reclaimable_bytes)"

# an S3 bucket as an extra source (default options: the endpoint and the
# keys from the environment, as the AWS CLI takes them)
if [ -n "${MG_S3_ENDPOINT:-}" ]; then
	s3_cli
	if s3_new_bucket BUCKET mg-inventory; then
		"${AWS[@]}" s3 cp --only-show-errors "$B/y.bin" "s3://$BUCKET/in/bucket/y-again.bin"
		AWS_ENDPOINT_URL_S3=$MG_S3_ENDPOINT "$MIGRATE" inventory --json "$MG_TMP/plan.yaml" \
			"$B" "s3://$BUCKET/in" > "$MG_TMP/inv-s3.json" 2> "$MG_TMP/err"
		t_is "an object in a bucket is found as a copy" \
			"copy bucket/y-again.bin" \
			"$(jq -r --arg u "s3://$BUCKET/in" '.members[] | select(.source == $u) | "\(.role) \(.key)"' \
				"$MG_TMP/inv-s3.json" 2>/dev/null || cat "$MG_TMP/err")"
	else
		t_fail "make a bucket" "aws s3 mb failed at $MG_S3_ENDPOINT"
	fi
else
	t_skip "an object in a bucket is found as a copy" "MG_S3_ENDPOINT is not set"
fi

# bad input
t_exit "an unknown url scheme is a usage error" 2 \
	"$MIGRATE" inventory "$MG_TMP/plan.yaml" "gopher://x/y"
t_grep "naming the url" "gopher://x/y" "$MG_TMP/.out"
t_exit "a missing folder cannot be listed: exit 3" 3 \
	"$MIGRATE" inventory "$MG_TMP/plan.yaml" "$MG_TMP/nope"
t_grep "naming it" "$MG_TMP/nope" "$MG_TMP/.out"
t_exit "--target is not inventory's" 2 \
	"$MIGRATE" inventory --target x "$MG_TMP/plan.yaml"
t_done
