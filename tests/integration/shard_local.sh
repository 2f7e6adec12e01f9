#!/usr/bin/env bash
# Sharded runs without a scheduler (issue 17): four processes with
# --shard i/4 over one plan move 10,000 objects, each exactly once (the
# target holds 10,000, the four shards' lineages are disjoint and cover
# them); a sync shard never deletes another shard's objects; a shard killed
# mid-run resumes from its own journal and redoes nothing; on an S3 source
# prefix sharding lists the bucket once in total, hash sharding once per
# task (list requests counted from --json).
. "$MG_SRCDIR/tests/lib.sh"

[ -x "$MIGRATE" ] || t_skip_all "migrate is not built"
command -v jq >/dev/null || t_skip_all "jq is missing: apt-get install jq"

SRC=$MG_TMP/src DST=$MG_TMP/dst
# one python3 writes the 10,000 files: a shell loop forks per file and
# takes half a minute on a loaded machine
python3 - "$SRC" <<'PY'
import os, sys
for d in range(100):
    os.makedirs("%s/d%02d" % (sys.argv[1], d))
    for f in range(100):
        with open("%s/d%02d/f%02d" % (sys.argv[1], d, f), "w") as o:
            o.write("object %02d/%02d\n" % (d, f))
PY
cat >"$MG_TMP/plan.yaml" <<YAML
version: 1
name: shards
source: "$SRC"
target: "$DST"
mode: sync
journal: "$MG_TMP/journal"
transfer: { concurrency: 4 }
YAML

pids=()
for i in 0 1 2 3; do
	"$MIGRATE" --shard $i/4 --json -q "$MG_TMP/plan.yaml" >"$MG_TMP/run$i.json" 2>"$MG_TMP/run$i.err" &
	pids+=($!)
done
rcs=""
for p in "${pids[@]}"; do wait "$p"; rcs="$rcs$?"; done
[ "$rcs" = 0000 ] && t_ok "four shards ran at once, each exit 0" || t_fail "four shards" "exits $rcs"
n=$(find "$DST" -type f ! -path '*/.migrate-tmp/*' | wc -l)
[ "$n" = 10000 ] && t_ok "the target holds 10,000 objects" || t_fail "10,000 at the target" "got $n"
t_same_tree "the target is the source" "$SRC" "$DST"
sum=0
for i in 0 1 2 3; do
	c=$(json_get "$MG_TMP/run$i.json" targets.0.copied.objects)
	d=$(json_get "$MG_TMP/run$i.json" targets.0.deduplicated.objects)
	sum=$((sum + c + d))
	"$MIGRATE" lineage --shard $i/4 "$MG_TMP/plan.yaml" | jq -r .key >"$MG_TMP/keys$i"
done
[ "$sum" = 10000 ] && t_ok "the shards wrote 10,000 objects in all" || t_fail "written in all" "$sum"
total=$(cat "$MG_TMP"/keys? | wc -l)
uniq=$(sort -u "$MG_TMP"/keys? | wc -l)
[ "$total" = 10000 ] && [ "$uniq" = 10000 ] &&
	t_ok "the four lineages cover 10,000 keys, none in two shards" ||
	t_fail "lineages disjoint and complete" "$total lines, $uniq keys"
min=10000 max=0
for i in 0 1 2 3; do
	k=$(wc -l <"$MG_TMP/keys$i")
	[ "$k" -lt "$min" ] && min=$k
	[ "$k" -gt "$max" ] && max=$k
done
[ "$min" -gt 2300 ] && [ "$max" -lt 2700 ] && t_ok "hash balance: $min to $max per shard" ||
	t_fail "hash balance" "$min to $max"
for i in 0 1 2 3; do
	[ -e "$MG_TMP/journal/shard-000$i-of-0004/CURRENT" ] || t_fail "journal of shard $i" "missing"
done

# sync per shard: rerun of shard 0 deletes nothing of the other shards',
# and deletes its own key once it is gone from the source
t_exit "sync rerun of shard 0" 0 "$MIGRATE" --shard 0/4 --json -q "$MG_TMP/plan.yaml"
g=$(json_get "$MG_TMP/.out" targets.0.gone.objects)
del=$(json_get "$MG_TMP/.out" targets.0.deleted.objects)
[ "$g" = 0 ] && [ "$del" = 0 ] && t_ok "shard 0 sees nothing gone among 10,000 (others' keys are not its own)" ||
	t_fail "sync shard sees others' keys as gone" "gone $g deleted $del"
victim=$(head -1 "$MG_TMP/keys0")
rm "$SRC/$victim"
t_exit "sync shard 0 after a source delete" 0 "$MIGRATE" --shard 0/4 --json -q "$MG_TMP/plan.yaml"
del=$(json_get "$MG_TMP/.out" targets.0.deleted.objects)
n=$(find "$DST" -type f ! -path '*/.migrate-tmp/*' | wc -l)
[ "$del" = 1 ] && [ "$n" = 9999 ] && [ ! -e "$DST/$victim" ] &&
	t_ok "shard 0 deletes its own gone key, and only it" || t_fail "per-shard delete" "deleted $del, $n left"

# report over the four journals
t_exit "report --shards 4" 0 "$MIGRATE" report --json --shards 4 "$MG_TMP/plan.yaml"
[ "$(jq -r '[.per_shard[].state] | join(",")' "$MG_TMP/.out")" = done,done,done,done ] &&
	t_ok "report: four shards done" || t_fail "report states" "$(cat "$MG_TMP/.out")"
[ "$(jq -r .totals.objects "$MG_TMP/.out")" = 9999 ] && t_ok "report: 9,999 objects in total" ||
	t_fail "report totals" "$(jq -c .totals "$MG_TMP/.out")"
t_exit "report --shards 5: shards missing, exit 4" 4 "$MIGRATE" report --shards 5 "$MG_TMP/plan.yaml"
t_grep "report names the shard to rerun" "rerun: 0,1,2,3,4" "$MG_TMP/.out"

# a shard killed mid-run resumes from its own journal (1,000 of the
# objects, so the kill and the rerun take seconds)
mkdir -p "$MG_TMP/src2" && cp -r "$SRC"/d0? "$MG_TMP/src2/"
sed -e "s|$SRC|$MG_TMP/src2|" -e "s|$DST|$MG_TMP/dst2|" -e "s|$MG_TMP/journal|$MG_TMP/journal2|" \
	-e 's/concurrency: 4/concurrency: 2/' "$MG_TMP/plan.yaml" >"$MG_TMP/plan2.yaml"
t_kill_at object:60 "$MIGRATE" --shard 1/4 --no-progress -q "$MG_TMP/plan2.yaml" >"$MG_TMP/kill.out" 2>&1
rc=$?
before=$(find "$MG_TMP/dst2" -type f ! -path '*/.migrate-tmp/*' | wc -l)
[ "$rc" = 137 ] && [ "$before" -ge 60 ] && t_ok "shard 1 killed mid-run ($before objects there)" ||
	t_fail "shard 1 killed" "exit $rc, $before there"
t_exit "shard 1 rerun" 0 "$MIGRATE" --shard 1/4 --json -q "$MG_TMP/plan2.yaml"
c=$(json_get "$MG_TMP/.out" targets.0.copied.objects)
u=$(json_get "$MG_TMP/.out" targets.0.unchanged.objects)
mine=$(grep -c '^d0' "$MG_TMP/keys1")
after=$(find "$MG_TMP/dst2" -type f ! -path '*/.migrate-tmp/*' | wc -l)
[ $((c + u)) = "$mine" ] && [ "$u" -ge 60 ] && [ "$c" -gt 0 ] && [ "$after" = "$mine" ] &&
	t_ok "the rerun copies only the rest of shard 1 ($c copied, $u kept of $mine)" ||
	t_fail "shard 1 resumes" "copied $c unchanged $u, shard has $mine, target $after"
[ ! -e "$MG_TMP/journal2/shard-0000-of-0004" ] && t_ok "no other shard's journal was touched" ||
	t_fail "other shards touched"

# by folder: four tasks over the 100 top-level folders (dry runs): each
# folder whole in one task, every object in exactly one
sed -e 's/^mode: sync$/shard: { count: 4, by: folder }/' -e "s|$MG_TMP/journal|$MG_TMP/journal-f|" \
	"$MG_TMP/plan.yaml" >"$MG_TMP/folder.yaml"
for i in 0 1 2 3; do
	"$MIGRATE" --shard $i/4 --dry-run -q "$MG_TMP/folder.yaml" 2>/dev/null |
		awk '$1 == "new" { print $NF }' >"$MG_TMP/fkeys$i"
done
total=$(cat "$MG_TMP"/fkeys? | wc -l)
split=$(for i in 0 1 2 3; do cut -d/ -f1 "$MG_TMP/fkeys$i" | sort -u; done | sort | uniq -d | wc -l)
[ "$total" = 9999 ] && [ "$(sort -u "$MG_TMP"/fkeys? | wc -l)" = 9999 ] && [ "$split" = 0 ] &&
	t_ok "by folder: 9,999 objects in four tasks, once each, no folder split" ||
	t_fail "by folder" "$total objects, $split folders in two tasks"

t_exit "--shard 4/4 is refused" 2 "$MIGRATE" --shard 4/4 "$MG_TMP/plan.yaml"
t_grep "says the index counts from 0" "counts from 0" "$MG_TMP/.out"

# S3 source: list requests per task, hash against prefix sharding
if [ -n "${MG_S3_ENDPOINT:-}" ] && [ -x /usr/bin/aws ]; then
	s3_cli
	s3_new_bucket BUCKET mg-shard || { t_fail "create bucket"; t_done; }
	rm -rf "$MG_TMP/s3src"; mkdir -p "$MG_TMP/s3src"
	cp -r "$SRC"/d0? "$SRC"/d10 "$SRC"/d11 "$MG_TMP/s3src/"	# 1,200 objects
	s3plan() {	# s3plan NAME SHARD-LINE
		cat >"$MG_TMP/$1.yaml" <<YAML
version: 1
name: $1
source:
  url: s3://$BUCKET/
  endpoint: \${MG_S3_ENDPOINT}
  region: \${MG_S3_REGION}
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
target: "$MG_TMP/$1-dst"
journal: "$MG_TMP/j-$1"
$2
YAML
	}
	sed -e "s|source: \"$SRC\"|source: \"$MG_TMP/s3src\"|" -e "s|target: \"$DST\"|target:\n  url: s3://$BUCKET/\n  endpoint: \${MG_S3_ENDPOINT}\n  region: \${MG_S3_REGION}\n  access_key_id: \${MG_S3_ACCESS_KEY}\n  secret_access_key: \${MG_S3_SECRET_KEY}|" \
		-e "s|$MG_TMP/journal|$MG_TMP/journal-up|" -e 's/concurrency: 4/concurrency: 16/' \
		"$MG_TMP/plan.yaml" >"$MG_TMP/up.yaml"
	t_exit "1,200 objects up to S3" 0 "$MIGRATE" -q "$MG_TMP/up.yaml"
	nobj=$(find "$MG_TMP/s3src" -type f | wc -l)
	s3plan byhash "shard: { count: 4 }"
	s3plan byprefix 'shard: { count: 4, by: prefix, prefixes: [ "d03", "d06", "d09" ] }'
	s3plan whole ""
	"$MIGRATE" --dry-run --json -q "$MG_TMP/whole.yaml" 2>&1 | sed -n '/^{/,$p' >"$MG_TMP/whole.json"
	full=$(json_get "$MG_TMP/whole.json" source_counters.requests.list)
	echo "# one unsharded listing: $full list requests"
	for m in byhash byprefix; do
		lists=0 objs=0
		for i in 0 1 2 3; do
			"$MIGRATE" --shard $i/4 --dry-run --json -q "$MG_TMP/$m.yaml" 2>&1 |
				sed -n '/^{/,$p' >"$MG_TMP/$m$i.json"
			l=$(json_get "$MG_TMP/$m$i.json" source_counters.requests.list)
			n=$(json_get "$MG_TMP/$m$i.json" targets.0.new)
			echo "# $m shard $i: $l list requests, $n objects"
			lists=$((lists + l)) objs=$((objs + n))
		done
		printf -v "lists_$m" %s "$lists"
		[ "$objs" = "$nobj" ] && t_ok "$m: the four shards take $nobj objects in all" ||
			t_fail "$m union" "$objs of $nobj"
	done
	echo "# list requests in all: hash $lists_byhash, prefix $lists_byprefix"
	# hash: every task lists it all; prefix: the ranges add at most one
	# partial page and one first request per task beyond the first
	[ "$lists_byhash" = $((4 * full)) ] &&
		t_ok "hash sharding: each task lists the whole bucket ($lists_byhash = 4 x $full)" ||
		t_fail "hash lists" "$lists_byhash, full $full"
	[ "$lists_byprefix" -lt "$lists_byhash" ] && [ "$lists_byprefix" -le $((full + 2 * 3)) ] &&
		t_ok "prefix sharding lists about once in all ($lists_byprefix requests; one listing: $full)" ||
		t_fail "prefix lists less" "prefix $lists_byprefix hash $lists_byhash full $full"
else
	t_skip "list requests on an S3 source" "MG_S3_ENDPOINT is not set or /usr/bin/aws is missing"
fi
t_done
