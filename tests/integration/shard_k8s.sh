#!/usr/bin/env bash
# tools/k8s/migrate-indexed-job.yaml and tools/container/Containerfile:
# kubectl validates the manifests client-side where it can (it needs an
# API server for the kinds; none can run here, so then a structural check
# with PyYAML stands in); the Indexed Job is shaped as issue 17.4 asks;
# the plan in its ConfigMap is valid for `migrate check` with the
# Secret's variables set; the Containerfile is Debian 12, non-root, and
# installs runtime libraries that exist in Debian 12 for each library
# the binary links.
. "$MG_SRCDIR/tests/lib.sh"

Y=$MG_SRCDIR/tools/k8s/migrate-indexed-job.yaml C=$MG_SRCDIR/tools/container/Containerfile
[ -x "$MIGRATE" ] || t_skip_all "migrate is not built"
python3 -c 'import yaml' 2>/dev/null || t_skip_all "PyYAML is missing: apt-get install python3-yaml"

if command -v kubectl >/dev/null; then
	if kubectl apply --dry-run=client --validate=false --request-timeout=5s -f "$Y" >"$MG_TMP/k.out" 2>&1; then
		t_ok "kubectl apply --dry-run=client accepts the manifests"
	elif grep -q "connection refused\|couldn't get current server API" "$MG_TMP/k.out"; then
		t_skip "kubectl apply --dry-run=client" "kubectl needs an API server to map the kinds, and none runs here"
	else
		t_fail "kubectl apply --dry-run=client" "$(head -5 "$MG_TMP/k.out")"
	fi
else
	t_skip "kubectl apply --dry-run=client" "kubectl is missing: apt-get install kubernetes-client"
fi

python3 - "$Y" "$MG_TMP" >"$MG_TMP/py.out" 2>&1 <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = {(d["kind"], d["metadata"]["name"]): d for d in docs}
job = kinds[("Job", "migrate")]["spec"]
assert job["completionMode"] == "Indexed", "completionMode"
n = job["completions"]
assert job["parallelism"] >= 1 and job["backoffLimitPerIndex"] >= 1
pod = job["template"]["spec"]
c = pod["containers"][0]
assert "JOB_COMPLETION_INDEX" in " ".join(c["args"]), "JOB_COMPLETION_INDEX"
env = {e["name"]: e["value"] for e in c["env"]}
assert int(env["MIGRATE_SHARDS"]) == n, "MIGRATE_SHARDS != completions"
assert c["envFrom"][0]["secretRef"]["name"] in [k[1] for k in kinds if k[0] == "Secret"]
assert pod["securityContext"]["runAsNonRoot"] is True
vols = {v["name"]: v for v in pod["volumes"]}
assert "persistentVolumeClaim" in vols["journals"] and "configMap" in vols["plan"]
rep = kinds[("Job", "migrate-report")]["spec"]["template"]["spec"]
rc = rep["containers"][0]
assert "report --shards" in " ".join(rc["args"])
assert int({e["name"]: e["value"] for e in rc["env"]}["MIGRATE_SHARDS"]) == n
assert rep["volumes"][1]["persistentVolumeClaim"]["claimName"] == vols["journals"]["persistentVolumeClaim"]["claimName"]
plan = kinds[("ConfigMap", "migrate-plan")]["data"]["plan.yaml"]
open(sys.argv[2] + "/k8s-plan.yaml", "w").write(plan.replace("journal: /journal", "journal: " + sys.argv[2] + "/kj"))
secret = kinds[("Secret", "migrate-credentials")]["stringData"]
open(sys.argv[2] + "/k8s-env", "w").write("".join("export %s='%s'\n" % kv for kv in secret.items()))
print("shards", n)
PY
[ $? = 0 ] && t_ok "an Indexed Job with N completions, JOB_COMPLETION_INDEX, a Secret, the journals on a PVC, and a report Job ($(cat "$MG_TMP/py.out"))" ||
	t_fail "the Indexed Job's shape" "$(tail -3 "$MG_TMP/py.out")"
( . "$MG_TMP/k8s-env"; "$MIGRATE" check "$MG_TMP/k8s-plan.yaml" ) >"$MG_TMP/check.out" 2>&1 &&
	t_ok "the ConfigMap's plan passes migrate check" || t_fail "the ConfigMap's plan" "$(cat "$MG_TMP/check.out")"
t_grep "Containerfile: Debian 12 base" '^FROM debian:12' "$C"
t_grep "Containerfile: a non-root user" '^USER 10001' "$C"
pkgs=$(sed -n '/^FROM debian:12-slim$/,$p' "$C" | tr -d '\\' | grep -oE '(^| )lib[a-z0-9.+-]+' | tr -d ' ' | sort -u)
missing=
for p in $pkgs; do apt-cache show "$p" >/dev/null 2>&1 || missing="$missing $p"; done
[ -z "$missing" ] && t_ok "its runtime packages exist in Debian ($(echo $pkgs))" ||
	t_fail "runtime packages" "not in apt:$missing"
t_done
