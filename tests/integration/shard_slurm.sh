#!/usr/bin/env bash
# A sharded migration on a real single-node Slurm cluster (slurm-wlm and
# munge, started here on 127.0.0.1 and stopped at the end; recipe in
# ../shared/TEST-SERVERS.md): tools/slurm/migrate-array.sbatch runs N=4
# shards from a local tree to Ceph RGW; one array index is cancelled
# mid-run (scancel) and resubmitted: it resumes from its journal; every
# key is at the target once and in exactly one shard's lineage; `migrate
# report` shows the four shards and the totals.
. "$MG_SRCDIR/tests/lib.sh"

[ -n "${MG_S3_ENDPOINT:-}" ] || t_skip_all "MG_S3_ENDPOINT is not set (tools/lib/s3server.sh starts a server)"
[ -x "$MIGRATE" ] || t_skip_all "migrate is not built"
[ -x /usr/bin/aws ] || t_skip_all "/usr/bin/aws is missing: apt-get install awscli"
for p in slurmctld slurmd munged sbatch scancel squeue; do
	command -v $p >/dev/null ||
		t_skip_all "$p is missing: apt-get install --no-install-recommends slurm-wlm munge"
done
[ "$(id -u)" = 0 ] || t_skip_all "the one-node cluster runs its jobs as root (SlurmUser=root): run as root"

free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

D=$MG_TMP/slurm H=$(hostname -s)
mkdir -p "$D"/{state,spool,log,run,munge-run} && chmod 755 "$D/munge-run"
head -c 1024 /dev/urandom >"$D/munge.key" && chmod 400 "$D/munge.key"
cat >"$D/slurm.conf" <<CONF
ClusterName=t
SlurmctldHost=$H(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
AuthInfo=socket=$D/munge-run/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
KillWait=5
NodeName=$H NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=2000 State=UNKNOWN
PartitionName=main Nodes=$H Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF=$D/slurm.conf
stop_cluster() {
	local f
	for f in "$D/run/slurmd.pid" "$D/run/slurmctld.pid" "$D/munge-run/munged.pid"; do
		[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
}
t_at_exit stop_cluster
munged --force --key-file="$D/munge.key" --socket="$D/munge-run/munge.socket" \
	--pid-file="$D/munge-run/munged.pid" --log-file="$D/log/munged.log" \
	--seed-file="$D/munge-run/seed" || t_skip_all "munged does not start (see $D/log/munged.log)"
slurmctld -f "$D/slurm.conf" && slurmd -f "$D/slurm.conf" ||
	t_skip_all "slurmctld/slurmd do not start (see $D/log)"
idle() { sinfo -h -o %t 2>/dev/null | grep -Eq '^(idle|mix)'; }
t_wait 60 idle && t_ok "a one-node Slurm cluster is up" ||
	{ t_fail "slurm up" "$(sinfo 2>&1; tail -5 "$D/log/slurmctld.log")"; t_done; }

s3_cli
s3_new_bucket BUCKET mg-slurm || { t_fail "create bucket"; t_done; }
SRC=$MG_TMP/src
for d in $(seq -w 0 19); do
	mkdir -p "$SRC/d$d"
	for f in $(seq -w 0 19); do printf 'slurm %s/%s %0190d\n' "$d" "$f" 0 >"$SRC/d$d/f$f"; done
done
cat >"$MG_TMP/plan.yaml" <<YAML
version: 1
name: slurm
source: "$SRC"
target:
  url: s3://$BUCKET/
  endpoint: \${MG_S3_ENDPOINT}
  region: \${MG_S3_REGION}
  access_key_id: \${MG_S3_ACCESS_KEY}
  secret_access_key: \${MG_S3_SECRET_KEY}
journal: "$MG_TMP/journal"
transfer: { concurrency: 1 }
YAML
export MG_S3_ENDPOINT MG_S3_REGION MG_S3_ACCESS_KEY MG_S3_SECRET_KEY
cd "$MG_TMP" || exit 1
# 100 objects of 200 B per shard at 2 KB/s: each shard runs for about 10 s,
# long enough to be cancelled in the middle
export MIGRATE_ARGS="--bwlimit 2KB/s" MIGRATE_REQUEUES=0
"$MG_SRCDIR/tools/slurm/migrate-array.sbatch" submit "$MG_TMP/plan.yaml" 4 --cpus-per-task=1 --oversubscribe >"$MG_TMP/submit.out" 2>&1
t_check "the array and the report job are submitted" grep -q "report job" "$MG_TMP/submit.out"
array=$(sed -n 's/^array job \([0-9]*\).*/\1/p' "$MG_TMP/submit.out")
report=$(sed -n 's/.*report job \([0-9]*\).*/\1/p' "$MG_TMP/submit.out")
[ -n "$array" ] || { cat "$MG_TMP/submit.out"; t_done; }

# cancel index 2 once it has copied something: its keys at the target
# (the shard hash, as plans/README.md documents it)
shard2_started() {
	local n
	n=$("${AWS[@]}" s3 ls --recursive "s3://$BUCKET/" 2>/dev/null | awk '{print $4}' |
		python3 -c 'import sys, hashlib
print(sum(1 for l in sys.stdin
          if int.from_bytes(hashlib.sha256(l.rstrip("\n").encode()).digest()[:8], "big") % 4 == 2))')
	[ "${n:-0}" -ge 5 ]
}
t_wait 60 shard2_started && t_ok "shard 2 is copying" || t_fail "shard 2 started" "$(squeue 2>&1)"
scancel "${array}_2"
done_jobs() { [ -z "$(squeue -h -j "$array,$report" 2>/dev/null)" ]; }
t_wait 120 done_jobs && t_ok "the array and the report job ended" || t_fail "jobs ended" "$(squeue 2>&1)"
rout=$(ls "$MG_TMP"/migrate-report-*.out 2>/dev/null | head -1)
t_check "the report job ran after the array (afterany)" test -s "$rout"
cat "$rout" | sed 's/^/# /'
t_check "the report job names shard 2 to rerun" grep -q "^rerun: 2$" "$rout"
before=$("$MIGRATE" lineage --shard 2/4 "$MG_TMP/plan.yaml" | wc -l)

# rerun index 2 alone, as the report says
sbatch --parsable --array=2 --cpus-per-task=1 --oversubscribe --export=ALL,MIGRATE="$MIGRATE",MIGRATE_PLAN="$MG_TMP/plan.yaml",MIGRATE_SHARDS=4,MIGRATE_ARGS= \
	"$MG_SRCDIR/tools/slurm/migrate-array.sbatch" >"$MG_TMP/rerun.id" 2>&1
re=$(cut -d';' -f1 <"$MG_TMP/rerun.id")
gone() { [ -z "$(squeue -h -j "$re" 2>/dev/null)" ]; }
t_wait 120 gone && t_ok "shard 2 rerun ended" || t_fail "shard 2 rerun" "$(squeue 2>&1)"

t_exit "migrate report: exit 0" 0 "$MIGRATE" report --shards 4 "$MG_TMP/plan.yaml"
cp "$MG_TMP/.out" "$MG_TMP/report.out"
sed 's/^/# /' "$MG_TMP/report.out"
t_check "report shows four shards done" test "$(grep -Ec '^ +[0-3]  done ' "$MG_TMP/report.out")" = 4
t_grep "report totals: 400 objects" '^total +[0-9]+ +400 ' "$MG_TMP/report.out"
"$MIGRATE" status --json --shard 2/4 "$MG_TMP/plan.yaml" >"$MG_TMP/st2.json"
c=$(jq '.[0].targets[0].copied.objects' "$MG_TMP/st2.json")
u=$(jq '.[0].targets[0].unchanged.objects' "$MG_TMP/st2.json")
[ "$u" -ge "$before" ] && [ "$u" -gt 0 ] && [ $((c + u)) -lt 400 ] &&
	t_ok "shard 2 resumed: $u kept, $c copied" || t_fail "shard 2 resumed" "kept $u copied $c (had $before)"

n=$("${AWS[@]}" s3 ls --recursive "s3://$BUCKET/" | wc -l)
[ "$n" = 400 ] && t_ok "400 objects at the target" || t_fail "400 at target" "$n"
for i in 0 1 2 3; do "$MIGRATE" lineage --shard $i/4 "$MG_TMP/plan.yaml" | jq -r .key; done >"$MG_TMP/keys"
[ "$(wc -l <"$MG_TMP/keys")" = 400 ] && [ "$(sort -u "$MG_TMP/keys" | wc -l)" = 400 ] &&
	t_ok "each key written by exactly one shard" || t_fail "lineage" "$(wc -l <"$MG_TMP/keys") lines"
t_done
