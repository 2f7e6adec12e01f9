#!/usr/bin/env bash
# An archive in a bucket as the source (tar+s3://, issue 18.2): the run
# reads the compressed archive in ranged GETs (one pass when every entry
# fits the reader's cache) and each source connection checks the bucket
# and the archive (a LIST and a HEAD); `estimate --json` must predict
# that, class by class and in bytes, as a relay between migrate and Ceph
# RGW counts it (estimate_count.py), for a compressible and an
# incompressible archive made by tar and gzip.  The estimate's own read of
# the archive is announced first and priced on its own line (text, JSON,
# HTML), and is what the relay saw during the estimate; --no-read makes
# no GET of the archive at all.
. "$MG_SRCDIR/tests/lib.sh"

t_need_s3 BUCKET mg-estt
CNT=$MG_SRCDIR/tests/integration/estimate_count.py
LOG=$MG_TMP/requests.jsonl
t_count_relay PORT "$MG_S3_ENDPOINT" "$LOG"
lines() { wc -l < "$LOG"; }

# 200 text files (about 16 MB, a 60 KB .tgz) and 12 random ones (11 MB:
# two 8 MiB ranged GETs per read of the archive)
mkdir -p "$MG_TMP/txt" "$MG_TMP/rnd"
for i in $(seq 1 200); do yes "line $i of a very compressible text file" | head -n $((i * 20)) > "$MG_TMP/txt/t$i.txt"; done
for i in $(seq 1 12); do head -c $((i * 170000)) /dev/urandom > "$MG_TMP/rnd/r$i.bin"; done
(cd "$MG_TMP" && tar cf - txt | gzip > txt.tgz && tar cf - rnd | gzip > rnd.tgz) ||
	{ t_fail "tar | gzip"; t_done; }
for a in txt rnd; do
	"${AWS[@]}" s3 cp --quiet "$MG_TMP/$a.tgz" "s3://$BUCKET/in/$a.tgz" || { t_fail "upload $a.tgz"; t_done; }
done

plan() {	# plan FILE ARCHIVE: tar+s3 through the relay to a local folder
	cat > "$1" <<YAML
version: 1
name: est-tar
source:
  url: "tar+s3://$BUCKET/in/$2"
  endpoint: http://127.0.0.1:$PORT
  provider: ceph
  region: \${MG_S3_REGION}
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
target: "$MG_TMP/dst-$2"
journal: "$MG_TMP/j-$2"
transfer: { concurrency: 4 }
YAML
}

# match EST.json WHAT FROM LABEL: the relay's tally after line FROM against
# the estimate's source requests (WHAT=run) or its own reads (WHAT=own),
# every class and the bytes of the GETs
match() {
	python3 "$CNT" tally "$LOG" "$3" > "$MG_TMP/tally.json"
	python3 - "$1" "$2" "$MG_TMP/tally.json" <<'PY' > "$MG_TMP/match.out" 2>&1
import json, sys
est = json.load(open(sys.argv[1]))
got = json.load(open(sys.argv[3]))
if sys.argv[2] == "run":
    want, wbytes = est["scenarios"][0]["requests"]["source"], est["scenarios"][0]["bytes_read"]
else:
    want, wbytes = est["estimate_own_reads"]["requests"], est["estimate_own_reads"]["bytes"]
want = {k: v for k, v in want.items() if v}
bad = []
for k in sorted(set(want) | set(got["requests"])):
    if want.get(k, 0) != got["requests"].get(k, 0):
        bad.append("%s: estimate %d, relay %d" % (k, want.get(k, 0), got["requests"].get(k, 0)))
if got["get_bytes"] != wbytes:
    bad.append("bytes: estimate %d, relay %d" % (wbytes, got["get_bytes"]))
print("\n".join(bad) if bad else "same: %s, %d bytes" % (json.dumps(got["requests"], sort_keys=True), wbytes))
sys.exit(1 if bad else 0)
PY
	if [ $? -eq 0 ]; then t_ok "$4"; else t_fail "$4" "$(cat "$MG_TMP/match.out")"; fi
	sed 's/^/# /' "$MG_TMP/match.out"
}

for a in txt rnd; do
	size=$(stat -c %s "$MG_TMP/$a.tgz")
	plan "$MG_TMP/$a.yaml" $a.tgz
	from=$(lines)
	t_exit "$a.tgz: estimate --no-read" 0 "$MIGRATE" estimate --json --no-read "$MG_TMP/$a.yaml"
	cp "$MG_TMP/.out" "$MG_TMP/$a-noread.json"
	python3 "$CNT" tally "$LOG" "$from" > "$MG_TMP/tally.json"
	[ "$(jq '.requests.get // 0' "$MG_TMP/tally.json")" = 0 ] && [ "$(jq .requests.head "$MG_TMP/tally.json")" = 1 ] &&
		t_ok "$a.tgz: --no-read: the relay saw a HEAD and no GET of the archive" ||
		t_fail "$a.tgz: --no-read read" "$(cat "$MG_TMP/tally.json")"
	[ "$(jq .archive.entries "$MG_TMP/$a-noread.json")" = null ] && [ "$(jq .archive.size "$MG_TMP/$a-noread.json")" = "$size" ] &&
	jq -r '.scenarios[0].warnings[]' "$MG_TMP/$a-noread.json" | grep -q 'entries are unknown' &&
		t_ok "$a.tgz: --no-read: the archive's size ($size), entries unknown, said in the report" ||
		t_fail "$a.tgz: --no-read report" "$(jq -c '.archive, .scenarios[0].warnings' "$MG_TMP/$a-noread.json")"
	match "$MG_TMP/$a-noread.json" own "$from" "$a.tgz: --no-read: its own requests priced are the relay's"

	from=$(lines)
	"$MIGRATE" estimate --json "$MG_TMP/$a.yaml" > "$MG_TMP/$a-est.json" 2> "$MG_TMP/$a-est.err"
	[ $? = 0 ] && t_ok "$a.tgz: estimate" || t_fail "$a.tgz: estimate" "$(cat "$MG_TMP/$a-est.err")"
	grep -q "estimate reads archive 'tar+s3://$BUCKET/in/$a.tgz' (.*) to count its entries: this read is billed egress" "$MG_TMP/$a-est.err" &&
		t_ok "$a.tgz: the estimate says it reads the archive, naming it and its size" ||
		t_fail "$a.tgz: notice" "$(cat "$MG_TMP/$a-est.err")"
	match "$MG_TMP/$a-est.json" own "$from" "$a.tgz: the estimate's own reads priced are what the relay saw"
	from=$(lines)
	t_exit "$a.tgz: run" 0 "$MIGRATE" --no-progress "$MG_TMP/$a.yaml"
	match "$MG_TMP/$a-est.json" run "$from" "$a.tgz: the run's requests and bytes at the bucket are the estimate's"
	match "$MG_TMP/$a-noread.json" run "$from" "$a.tgz: and --no-read's (one read of the archive, as the run made)"
done
[ "$(jq .archive.entries "$MG_TMP/txt-est.json")" = 200 ] &&
awk -v e="$(jq .scenarios[0].bytes_read "$MG_TMP/txt-est.json")" -v s="$(jq .bytes_read "$MG_TMP/txt-est.json" 2>/dev/null)" \
	-v z="$(stat -c %s "$MG_TMP/txt.tgz")" 'BEGIN { exit !(e == z) }' &&
	t_ok "compressible: 200 entries, egress is the archive's $(stat -c %s "$MG_TMP/txt.tgz") bytes, not the 16 MB inside" ||
	t_fail "compressible egress" "$(jq -c '.archive, .scenarios[0].bytes_read' "$MG_TMP/txt-est.json")"

# entries the reader's cache cannot keep (a cache of 1 MB here, through
# MG_TAR_CACHE_CAP, as tar_connector.sh does): the estimate says the run
# reads the archive again for them, and the run does read more than once
export MG_TAR_CACHE_CAP=1000000
"$MIGRATE" estimate -q --json "$MG_TMP/rnd.yaml" > "$MG_TMP/small.json" 2> "$MG_TMP/small.err"
jq -r '.scenarios[0].warnings[]' "$MG_TMP/small.json" | grep -q "archive entries (.*) miss the reader's cache" &&
	t_ok "the estimate warns of entries beyond the cache" ||
	t_fail "cache warning" "$(cat "$MG_TMP/small.err"; jq -c '.archive, .scenarios[0].warnings' "$MG_TMP/small.json")"
rm -rf "$MG_TMP/dst-rnd.tgz" "$MG_TMP/j-rnd.tgz"
from=$(lines)
t_exit "rnd.tgz, a small cache: run" 0 "$MIGRATE" --no-progress "$MG_TMP/rnd.yaml"
python3 "$CNT" tally "$LOG" "$from" > "$MG_TMP/tally.json"
[ "$(jq .get_bytes "$MG_TMP/tally.json")" -gt "$(stat -c %s "$MG_TMP/rnd.tgz")" ] &&
	t_ok "and the run read the archive more than once ($(jq .get_bytes "$MG_TMP/tally.json") bytes)" ||
	t_fail "small cache run" "$(cat "$MG_TMP/tally.json")"
unset MG_TAR_CACHE_CAP

t_exit "quiet: no notice" 0 "$MIGRATE" estimate -q "$MG_TMP/txt.yaml"
grep -q "estimate reads archive" "$MG_TMP/.out" && t_fail "-q still says it" || t_ok "-q: the notice is left out"
t_exit "text report" 0 "$MIGRATE" estimate --html "$MG_TMP/r.html" "$MG_TMP/txt.yaml"
t_grep "text: the own reads line" "this estimate's own reads of the archive" "$MG_TMP/.out"
grep -q "this estimate&#39;s own reads of the archive" "$MG_TMP/r.html" &&
	t_ok "html: the own reads line" || t_fail "html: own reads"
t_local_plan "$MG_TMP/local.yaml" l "$MG_TMP/txt" "$MG_TMP/ldst" "$MG_TMP/j-l"
t_exit "--no-read on a folder: exit 2" 2 "$MIGRATE" estimate --no-read "$MG_TMP/local.yaml"
t_grep "says what it is for" "no-read is for an archive in a bucket" "$MG_TMP/.out"
t_done
