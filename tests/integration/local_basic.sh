#!/usr/bin/env bash
# Local folder to local folder: byte-identical copy of an awkward tree,
# reruns that read nothing, a touched file recopied alone, symlinks
# reported, dry-run, filters, the journal lock and its permissions.
. "$MG_SRCDIR/tests/lib.sh"

SRC=$MG_TMP/src DST=$MG_TMP/dst J=$MG_TMP/journal
mkdir -p "$SRC/a/b/c" "$SRC/spaced dir" "$SRC/ünïcödé"
printf 'hello\n' > "$SRC/a/hello.txt"
printf 'deep\n' > "$SRC/a/b/c/deep.txt"
: > "$SRC/a/empty.bin"
: > "$SRC/spaced dir/also empty"
printf 'x' > "$SRC/spaced dir/file with  two  spaces.txt"
printf 'utf8\n' > "$SRC/ünïcödé/東京.txt"
printf 'nl\n' > "$SRC/a/new"$'\n'"line"
printf 'sort\n' > "$SRC/a-b"
printf 'sort\n' > "$SRC/a.b"
head -c $((100 * 1024 * 1024)) /dev/urandom > "$SRC/big.bin"
ln -s a/hello.txt "$SRC/link-to-hello"
touch -d '2020-01-02 03:04:05.123456789' "$SRC/a/hello.txt"
NFILES=10

cat > "$MG_TMP/plan.yaml" <<YAML
version: 1
name: local-basic
source: "$SRC"
target: "$DST"
transfer: { concurrency: 4 }
journal: "$J"
YAML

t_exit "check accepts the plan" 0 "$MIGRATE" check "$MG_TMP/plan.yaml"
t_exit "first run exits 0" 0 "$MIGRATE" --json "$MG_TMP/plan.yaml"
cp "$MG_TMP/.out" "$MG_TMP/run1.out"
sed -n '/^{/,/^}/p' "$MG_TMP/run1.out" > "$MG_TMP/run1.json"
rm -f "$SRC/link-to-hello.cmp"
# The symlink is not copied, so compare without it.
mv "$SRC/link-to-hello" "$MG_TMP/link"
t_same_tree "target is byte-identical" "$SRC" "$DST"
mv "$MG_TMP/link" "$SRC/link-to-hello"
# a-b and a.b hold the same bytes: one is uploaded, the other copied
[ "$(json_get "$MG_TMP/run1.json" targets.0.new)" = $((NFILES - 1)) ] &&
[ "$(json_get "$MG_TMP/run1.json" targets.0.deduplicated.objects)" = 1 ] &&
[ "$(json_get "$MG_TMP/run1.json" targets.0.counters.requests.copy)" = 1 ] &&
	t_ok "json counts $((NFILES - 1)) new objects and 1 server-side copy" ||
	t_fail "json counts new objects" "$(cat "$MG_TMP/run1.json")"
[ "$(json_get "$MG_TMP/run1.json" targets.0.skipped_symlinks)" = 1 ] &&
	t_ok "the symlink is reported as skipped" || t_fail "symlink reported"
[ ! -e "$DST/link-to-hello" ] && t_ok "the symlink is not at the target" ||
	t_fail "symlink not copied"
[ "$(stat -c %y "$SRC/a/hello.txt")" = "$(stat -c %y "$DST/a/hello.txt")" ] &&
	t_ok "mtime kept to the nanosecond" || t_fail "mtime kept"
[ ! -e "$DST/.migrate-tmp" ] && t_ok "no temporary folder left" || t_fail "temp folder left"
[ "$(stat -c %a "$J")" = 700 ] && t_ok "journal folder is private (0700)" ||
	t_fail "journal folder mode $(stat -c %a "$J")"
bad=$(find "$J" -type f -perm /077 | head -3)
[ -z "$bad" ] && t_ok "journal files are private" || t_fail "journal files readable by others: $bad"

t_exit "rerun exits 0" 0 "$MIGRATE" --json "$MG_TMP/plan.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/run2.json"
[ "$(json_get "$MG_TMP/run2.json" targets.0.copied.objects)" = 0 ] &&
	t_ok "rerun copies nothing" || t_fail "rerun copies nothing"
[ "$(json_get "$MG_TMP/run2.json" source_counters.bytes_read)" = 0 ] &&
	t_ok "rerun reads zero bytes of content" || t_fail "rerun reads zero bytes"
[ "$(json_get "$MG_TMP/run2.json" targets.0.unchanged.objects)" = "$NFILES" ] &&
	t_ok "rerun counts $NFILES unchanged" || t_fail "rerun unchanged count"
t_grep "rerun says nothing changed" "nothing changed" "$MG_TMP/.out"

sleep 0.01
printf 'hello again\n' > "$SRC/a/hello.txt"
t_exit "run after touching one file" 0 "$MIGRATE" --json "$MG_TMP/plan.yaml"
sed -n '/^{/,/^}/p' "$MG_TMP/.out" > "$MG_TMP/run3.json"
[ "$(json_get "$MG_TMP/run3.json" targets.0.changed)" = 1 ] &&
[ "$(json_get "$MG_TMP/run3.json" targets.0.copied.objects)" = 1 ] &&
	t_ok "only the touched file is recopied" || t_fail "only touched file recopied" "$(cat "$MG_TMP/run3.json")"
[ "$(json_get "$MG_TMP/run3.json" source_counters.bytes_read)" = 12 ] &&
	t_ok "only its 12 bytes are read" || t_fail "bytes read after touch"
cmp -s "$SRC/a/hello.txt" "$DST/a/hello.txt" && t_ok "touched file updated" ||
	t_fail "touched file updated"

printf 'new\n' > "$SRC/a/b/added.txt"
t_exit "dry-run exits 0" 0 "$MIGRATE" --dry-run "$MG_TMP/plan.yaml"
t_grep "dry-run lists the new file" '^new .* a/b/added.txt$' "$MG_TMP/.out"
[ ! -e "$DST/a/b/added.txt" ] && t_ok "dry-run copies nothing" || t_fail "dry-run copied"

# Filters: a second target with include/exclude and size bounds.
cat > "$MG_TMP/filter.yaml" <<YAML
version: 1
name: local-filter
source: "$SRC"
target: "$MG_TMP/filtered"
filter:
  include: ["**/*.txt", "*.bin"]
  exclude: ["a/b/**"]
  min_size: 1
journal: "$MG_TMP/journal-filter"
YAML
t_exit "filtered run exits 0" 0 "$MIGRATE" "$MG_TMP/filter.yaml"
got=$(cd "$MG_TMP/filtered" && find . -type f | sort | tr '\n' ' ')
want="./a/hello.txt ./big.bin ./spaced dir/file with  two  spaces.txt ./ünïcödé/東京.txt "
[ "$got" = "$want" ] && t_ok "filters select the right files" ||
	t_fail "filters select the right files" "got: $got"

# A second migrate on the same journal is refused with the holder's PID.
python3 - "$J/lock.pid" > "$MG_TMP/holder.out" 2>&1 <<'PY' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
print(os.getpid(), flush=True)
time.sleep(30)
PY
holder=$!
t_wait 30 test -s "$MG_TMP/holder.out"
t_exit "a locked journal exits 3" 3 "$MIGRATE" "$MG_TMP/plan.yaml"
t_grep "the message names the PID" "in use .*pid $holder" "$MG_TMP/.out"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null

t_exit "--version" 0 "$MIGRATE" --version
t_grep "--version prints the version" '^migrate [0-9]+\.[0-9]+' "$MG_TMP/.out"
t_exit "--help" 0 "$MIGRATE" --help
t_grep "--help lists the exit codes" "exit codes" "$MG_TMP/.out"
t_exit "no plan is a usage error (2)" 2 "$MIGRATE"
t_done
