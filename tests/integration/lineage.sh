#!/usr/bin/env bash
# migrate lineage: the per-object audit trail from the journal, as JSON
# lines and as CSV, for a local folder moved to two local folders; keys
# with a comma, a quote, a newline and a byte that is not UTF-8; a plan
# with no journal yet; --target.
. "$MG_SRCDIR/tests/lib.sh"

SRC=$MG_TMP/src DST=$MG_TMP/dst DST2=$MG_TMP/dst2 J=$MG_TMP/journal
mkdir -p "$SRC/sub"
printf 'hello\n' > "$SRC/hello.txt"
printf 'comma\n' > "$SRC/a,b.txt"
printf 'quote\n' > "$SRC/say \"hi\".txt"
printf 'nl\n' > "$SRC/sub/new"$'\n'"line"
printf 'latin1\n' > "$SRC/sub/caf"$'\xe9'".txt"
: > "$SRC/sub/empty"
head -c 100000 /dev/urandom > "$SRC/sub/rand.bin"
touch -d '2020-01-02 03:04:05.123456789' "$SRC/hello.txt"
NFILES=7

cat > "$MG_TMP/plan.yaml" <<YAML
version: 1
name: lineage
source: "$SRC"
targets: [ "$DST", "$DST2" ]
journal: "$J"
YAML

# the source files by key, with their hashes and sizes, for the checks
( cd "$SRC" && python3 -c '
import hashlib, json, os
out = {}
for root, dirs, files in os.walk(b"."):
    for f in files:
        p = os.path.join(root, f)
        k = os.path.relpath(p, b".")
        d = open(p, "rb").read()
        out[k.decode("utf-8", "surrogateescape")] = [hashlib.sha256(d).hexdigest(), len(d)]
print(json.dumps(out, ensure_ascii=True))' ) > "$MG_TMP/want.json"
[ "$(sha256sum "$SRC/a,b.txt" | cut -d' ' -f1)" = "$(python3 -c '
import json,sys; print(json.load(open(sys.argv[1]))["a,b.txt"][0])' "$MG_TMP/want.json")" ] &&
	t_ok "the expected hashes agree with sha256sum" || t_fail "expected hashes"

t_exit "lineage without a journal exits 3" 3 "$MIGRATE" lineage "$MG_TMP/plan.yaml"
t_grep "and says there is no journal" "no journal at '$J'" "$MG_TMP/.out"
[ ! -e "$J" ] && t_ok "and does not create the journal" || t_fail "journal created by lineage"

t_exit "the run exits 0" 0 "$MIGRATE" -q --log-json "$MG_TMP/log.jsonl" "$MG_TMP/plan.yaml"

"$MIGRATE" lineage "$MG_TMP/plan.yaml" > "$MG_TMP/lineage.jsonl" 2> "$MG_TMP/err"
[ $? -eq 0 ] && t_ok "lineage exits 0" || t_fail "lineage exit" "$(cat "$MG_TMP/err")"

# Checks one export (JSON lines or CSV) against the source tree.
check_export() {	# check_export FORMAT FILE TARGETS...
	python3 - "$@" "$SRC" "$MG_TMP/want.json" <<'PY'
import csv, io, json, sys
fmt, path = sys.argv[1], sys.argv[2]
targets, src, wantf = sys.argv[3:-2], sys.argv[-2], sys.argv[-1]
want = json.load(open(wantf))
raw = open(path, "rb").read()
text = raw.decode("utf-8")          # must be valid UTF-8 throughout
if fmt == "json":
    rows = [json.loads(l) for l in text.split("\n") if l]
    assert text.endswith("\n")
else:
    assert text.startswith("source,key,key_escaped,size,mtime,sha256,target,")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    for r in rows:
        r["size"] = int(r["size"])
        r["key_escaped"] = {"true": True, "false": False}[r["key_escaped"]]
        for f in ("etag", "run", "plan_hash", "sha256"):
            r[f] = r[f] or None
errs = []
if len(rows) != len(want) * len(targets):
    errs.append("%d rows, want %d" % (len(rows), len(want) * len(targets)))
for t in targets:
    mine = [r for r in rows if r["target"].startswith(t + "/")]
    keys = []
    for r in mine:
        k = r["key"]
        if r["key_escaped"]:   # percent-escaped: decode back to bytes
            b = bytearray(); i = 0; kb = k.encode()
            while i < len(kb):
                if kb[i:i+1] == b"%":
                    b.append(int(kb[i+1:i+3], 16)); i += 3
                else:
                    b.append(kb[i]); i += 1
            k = bytes(b).decode("utf-8", "surrogateescape")
        keys.append(r["key"].encode())
        if k not in want:
            errs.append("unknown key %r" % k); continue
        sha, size = want[k]
        if r["sha256"] != sha: errs.append("%r: sha256 %s, want %s" % (k, r["sha256"], sha))
        if r["size"] != size: errs.append("%r: size %s, want %s" % (k, r["size"], size))
        if r["source"] != src + "/" + r["key"]: errs.append("%r: source %s" % (k, r["source"]))
        if r["target"] != t + "/" + r["key"]: errs.append("%r: target %s" % (k, r["target"]))
        for f in ("copied_at", "run", "mtime"):
            if not r[f] or not r[f].endswith("Z"): errs.append("%r: %s %r" % (k, f, r[f]))
        if not r["plan_hash"] or len(r["plan_hash"]) != 64:
            errs.append("%r: plan_hash %r" % (k, r["plan_hash"]))
        if r["key"] == "hello.txt" and r["mtime"] != "2020-01-02T03:04:05.123456789Z":
            errs.append("hello.txt mtime %s" % r["mtime"])
    if keys != sorted(keys): errs.append("%s: not in key order" % t)
    if len(mine) != len(want): errs.append("%s: %d rows" % (t, len(mine)))
print("\n".join(errs))
sys.exit(1 if errs else 0)
PY
}

if check_export json "$MG_TMP/lineage.jsonl" "$DST" "$DST2" > "$MG_TMP/why" 2>&1; then
	t_ok "JSON lines: one per object and target, hashes, sizes, URLs and times right"
else
	t_fail "JSON lines agree with the source" "$(head -c 2000 "$MG_TMP/why")"
fi
grep -q '"key": *"a,b.txt"' "$MG_TMP/lineage.jsonl" &&
grep -q '"key": *"say \\"hi\\".txt"' "$MG_TMP/lineage.jsonl" &&
grep -q '"key": *"sub/new\\nline"' "$MG_TMP/lineage.jsonl" &&
	t_ok "comma, quote and newline keys come out JSON-escaped" ||
	t_fail "awkward keys in JSON" "$(cat "$MG_TMP/lineage.jsonl")"
grep -q '"key": *"sub/caf%E9.txt", *"key_escaped": *true' "$MG_TMP/lineage.jsonl" &&
	t_ok "a key that is not UTF-8 is percent-escaped and says so" ||
	t_fail "non-UTF-8 key" "$(grep caf "$MG_TMP/lineage.jsonl")"
# --log-json and lineage escape a key by one rule (mg_key_text) and flag it
python3 - "$MG_TMP/log.jsonl" "$MG_TMP/lineage.jsonl" <<'PY' > "$MG_TMP/why" 2>&1
import json, sys
log = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
lin = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
pick = lambda rows: sorted((r["key"], r["source"], r["target"], r.get("key_escaped", False))
                           for r in rows if "caf" in r.get("key", ""))
a, b = pick([r for r in log if r.get("event") == "object"]), pick(lin)
assert len(a) == 2 and a == b, (a, b)
assert all(k == "sub/caf%E9.txt" and esc is True for k, _, _, esc in a), a
assert not any(r.get("key_escaped") for r in log + lin if "caf" not in r.get("key", "")), "flag on a UTF-8 key"
PY
[ $? -eq 0 ] && t_ok "--log-json and lineage print the same escaped key, both flagged" ||
	t_fail "--log-json and lineage agree on a non-UTF-8 key" "$(cat "$MG_TMP/why")"
plan_sha=$(sha256sum "$MG_TMP/plan.yaml" | cut -d' ' -f1)
grep -q "\"plan_hash\": *\"$plan_sha\"" "$MG_TMP/lineage.jsonl" &&
	t_ok "plan_hash is the SHA-256 of the plan file" ||
	t_fail "plan_hash" "want $plan_sha: $(head -1 "$MG_TMP/lineage.jsonl")"

t_exit "lineage --csv exits 0" 0 "$MIGRATE" lineage --csv "$MG_TMP/plan.yaml"
"$MIGRATE" lineage --csv "$MG_TMP/plan.yaml" > "$MG_TMP/lineage.csv" 2>/dev/null
if check_export csv "$MG_TMP/lineage.csv" "$DST" "$DST2" > "$MG_TMP/why" 2>&1; then
	t_ok "CSV parses (python csv) and agrees with the source"
else
	t_fail "CSV agrees with the source" "$(head -c 2000 "$MG_TMP/why")"
fi
python3 - "$MG_TMP/lineage.jsonl" "$MG_TMP/lineage.csv" <<'PY' > "$MG_TMP/why" 2>&1
import csv, json, sys
js = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
cs = list(csv.DictReader(open(sys.argv[2], encoding="utf-8", newline="")))
assert len(js) == len(cs), (len(js), len(cs))
for j, c in zip(js, cs):
    for f, v in j.items():
        v = "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
        assert c[f] == v, (f, c[f], v)
PY
[ $? -eq 0 ] && t_ok "CSV and JSON lines say the same, field for field" ||
	t_fail "CSV and JSON agree" "$(cat "$MG_TMP/why")"

"$MIGRATE" lineage --target "$DST2" "$MG_TMP/plan.yaml" > "$MG_TMP/one.jsonl" 2>&1
if check_export json "$MG_TMP/one.jsonl" "$DST2" > "$MG_TMP/why" 2>&1; then
	t_ok "--target picks one target"
else
	t_fail "--target picks one target" "$(head -c 2000 "$MG_TMP/why")"
fi
t_exit "--target with an unknown URL exits 2" 2 \
	"$MIGRATE" lineage --target /nowhere "$MG_TMP/plan.yaml"
grep -q "'/nowhere'" "$MG_TMP/.out" && grep -qF "'$DST'" "$MG_TMP/.out" &&
grep -qF "'$DST2'" "$MG_TMP/.out" && t_ok "and names the choices" ||
	t_fail "unknown --target message" "$(cat "$MG_TMP/.out")"
t_exit "--csv without lineage is a usage error" 2 "$MIGRATE" --csv "$MG_TMP/plan.yaml"

# A second run under a changed plan recopies one changed file: that file's
# lines name the new run and plan, the others still the first ones.
echo "# second revision" >> "$MG_TMP/plan.yaml"
sleep 1.1
printf 'changed\n' > "$SRC/hello.txt"
t_exit "a second run exits 0" 0 "$MIGRATE" -q "$MG_TMP/plan.yaml"
"$MIGRATE" lineage --target "$DST" "$MG_TMP/plan.yaml" > "$MG_TMP/two.jsonl" 2>&1
python3 - "$MG_TMP/lineage.jsonl" "$MG_TMP/two.jsonl" "$DST" \
	"$(sha256sum "$MG_TMP/plan.yaml" | cut -d' ' -f1)" \
	"$(sha256sum "$SRC/hello.txt" | cut -d' ' -f1)" <<'PY' > "$MG_TMP/why" 2>&1
import json, sys
one = {r["key"]: r for r in map(json.loads, open(sys.argv[1])) if r["target"].startswith(sys.argv[3] + "/")}
two = {r["key"]: r for r in map(json.loads, open(sys.argv[2]))}
assert one.keys() == two.keys(), (one.keys(), two.keys())
for k, r in two.items():
    if k == "hello.txt":
        assert r["plan_hash"] == sys.argv[4], r
        assert r["sha256"] == sys.argv[5], r
        assert r["run"] > one[k]["run"] and r["copied_at"] > one[k]["copied_at"], r
    else:
        assert r == one[k], (r, one[k])
PY
[ $? -eq 0 ] && t_ok "a recopied object names the run and plan that copied it, the rest keep theirs" ||
	t_fail "second run attribution" "$(cat "$MG_TMP/why")"

t_done
