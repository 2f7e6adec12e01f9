#!/usr/bin/env bash
# --log-json: one JSON line per object and action, one per run.  A first
# run copies a tree (two files share content: one copied, one deduped, as
# a local copy), a rerun skips everything, a touched file is copied again;
# an unreadable file (as user nobody) is logged as failed with its error.
# Every line parses; sha256 and size agree with the files; the run line
# carries the summary; the log is private (0600).
. "$MG_SRCDIR/tests/lib.sh"

[ -x "$MIGRATE" ] || t_skip_all "migrate is not built: $MIGRATE"

S=$MG_TMP/src D=$MG_TMP/dst L=$MG_TMP/events.jsonl
mkdir -p "$S/sub"
printf 'alpha\n' >"$S/a.txt"
head -c 70000 /dev/urandom >"$S/sub/big.bin"
cp "$S/sub/big.bin" "$S/sub/same as big.bin"
printf 'comma, "quote"\n' >"$S/sub/c,q\".txt"
cat >"$MG_TMP/plan.yaml" <<YAML
version: 1
name: logj
source: $S
target: $D
journal: $MG_TMP/journal
transfer: { concurrency: 1 }
YAML

check() {	# check WANT-JSON: the log's lines against the tree and a tally
	python3 - "$L" "$S" "$1" <<'PY'
import hashlib, json, os, sys
log, src, want = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
lines = [json.loads(l) for l in open(log)]
runs = [l for l in lines if l.get("event") == "run"]
objs = [l for l in lines if l.get("event") == "object"]
assert len(runs) == want["runs"], ("runs", len(runs))
last = [l for l in objs[-want["objs"]:]] if want["objs"] else []
got = {}
for o in last:
    got[o["action"]] = got.get(o["action"], 0) + 1
    p = os.path.join(src, o["key"])
    assert o["source"].endswith("/" + o["key"]), o
    assert o["size"] == (os.path.getsize(p) if os.access(p, os.R_OK) else o["size"]), o
    if o["action"] in ("copied", "deduped", "skipped"):
        assert o["sha256"] == hashlib.sha256(open(p, "rb").read()).hexdigest(), o
    if o["action"] in ("copied", "deduped"):
        assert o["attempts"] >= 1 and o["duration_s"] >= 0, o
    if o["action"] == "failed":
        assert "ermission denied" in o["error"], o
for k, v in want["actions"].items():
    assert got.get(k, 0) == v, ("actions", got)
assert "targets" in runs[-1] and "exit_code" in runs[-1], runs[-1]
print("ok")
PY
}

t_exit "first run with --log-json exits 0" 0 "$MIGRATE" -q --log-json "$L" "$MG_TMP/plan.yaml"
t_check "first run: 3 copied, 1 deduped, a run line, sha256s right" \
	check '{"runs": 1, "objs": 4, "actions": {"copied": 3, "deduped": 1}}'
[ "$(stat -c %a "$L")" = 600 ] && t_ok "the event log is private (0600)" ||
	t_fail "the event log is private (0600)" "mode $(stat -c %a "$L")"
t_exit "rerun exits 0" 0 "$MIGRATE" -q --log-json "$L" "$MG_TMP/plan.yaml"
t_check "rerun: 4 skipped, appended after the first run's lines" \
	check '{"runs": 2, "objs": 4, "actions": {"skipped": 4}}'
sleep 0.01; printf 'alpha 2\n' >"$S/a.txt"
t_exit "run after a touch exits 0" 0 "$MIGRATE" -q --log-json "$L" "$MG_TMP/plan.yaml"
t_check "the touched file is copied, the rest skipped" \
	check '{"runs": 3, "objs": 4, "actions": {"copied": 1, "skipped": 3}}'

t_exit "--log-json with estimate is a usage error" 2 "$MIGRATE" estimate --log-json "$L" "$MG_TMP/plan.yaml"
t_exit "an event log that cannot be opened is a usage error" 2 \
	"$MIGRATE" -q --log-json "$MG_TMP/no/such/dir/x.jsonl" "$MG_TMP/plan.yaml"
t_grep "the message names the file and the option" "no/such/dir/x.jsonl.*--log-json" "$MG_TMP/.out"

if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
	U=$MG_TMP/unpriv
	mkdir -p "$U/src" "$U/dst"
	printf 'ok\n' >"$U/src/a.txt"
	printf 'secret\n' >"$U/src/locked.txt"
	chmod 000 "$U/src/locked.txt"
	sed "s|$S|$U/src|; s|$D|$U/dst|; s|$MG_TMP/journal|$U/journal|" "$MG_TMP/plan.yaml" >"$U/plan.yaml"
	chmod 755 "$MG_TMP"
	chown -R nobody "$U"
	chown root "$U/src/locked.txt"
	S=$U/src L=$U/events.jsonl
	t_exit "an unreadable file: exit 1" 1 \
		setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
		"$MIGRATE" -q --log-json "$L" "$U/plan.yaml"
	t_check "it is logged as failed with its error, the other as copied" \
		check '{"runs": 1, "objs": 2, "actions": {"copied": 1, "failed": 1}}'
else
	t_skip "unreadable file logged as failed" "no user nobody or no setpriv"
fi
t_done
