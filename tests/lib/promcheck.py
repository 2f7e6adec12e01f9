#!/usr/bin/env python3
"""promcheck.py FILE - check a Prometheus text exposition file as promtool
check metrics would (promtool is not installed here), print "ok N" (N the
number of metric families) or the first problem and exit 1.

  - every sample line: NAME{LABEL="VALUE",...} NUMBER, a label value
    escaped as the format says (only \\\\, \\" and \\n; a bare " or newline
    ends it)
  - every family has one HELP and one TYPE before its samples, and its
    samples sit together
  - a counter's name ends in _total
  - a histogram: per label set (le aside) _bucket lines with le ascending
    and counts not decreasing, the last le="+Inf" equal to _count, and a
    _sum.
Standard library only."""
import math
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*)?\})? (\S+)$" % (NAME, LABEL, LABEL))
PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def unescape(v):
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def family(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[: -len(suffix)]) == "histogram":
            return name[: -len(suffix)]
    return name


def check(path):
    helps, types, done = set(), {}, set()
    current = None
    hist = {}   # (family, labels without le) -> {"buckets": [(le, n)], "sum", "count"}
    for no, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        where = "%s:%d" % (path, no)
        if line.startswith("# HELP "):
            n = line.split(" ", 3)[2]
            if n in helps:
                return "%s: a second HELP for %s" % (where, n)
            helps.add(n)
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
                return "%s: bad TYPE line %r" % (where, line)
            if parts[2] in types:
                return "%s: a second TYPE for %s" % (where, parts[2])
            types[parts[2]] = parts[3]
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        if not m:
            return "%s: bad sample line %r" % (where, line)
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        try:
            v = float(value)
        except ValueError:
            return "%s: bad value %r" % (where, value)
        fam = family(name, types)
        if fam not in types or fam not in helps:
            return "%s: %s has no TYPE or HELP before it" % (where, fam)
        if fam != current:
            if fam in done:
                return "%s: the samples of %s are not together" % (where, fam)
            if current:
                done.add(current)
            current = fam
        if types[fam] == "counter" and not fam.endswith("_total"):
            return "%s: counter %s does not end in _total" % (where, fam)
        pairs = [(k, unescape(x)) for k, x in PAIR.findall(labels)]
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            return "%s: a label twice" % where
        if types[fam] == "histogram":
            rest = tuple((k, x) for k, x in pairs if k != "le")
            h = hist.setdefault((fam, rest), {"buckets": [], "sum": None, "count": None})
            if name.endswith("_bucket"):
                le = dict(pairs).get("le")
                if le is None:
                    return "%s: a bucket without le" % where
                h["buckets"].append((math.inf if le == "+Inf" else float(le), v))
            elif name.endswith("_sum"):
                h["sum"] = v
            elif name.endswith("_count"):
                h["count"] = v
    for (fam, rest), h in hist.items():
        b = h["buckets"]
        what = "%s%s" % (fam, dict(rest))
        if not b or b[-1][0] != math.inf:
            return "%s: no le=\"+Inf\" bucket last" % what
        if any(b[i][0] >= b[i + 1][0] or b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            return "%s: buckets not ascending or counts decreasing" % what
        if h["count"] is None or h["sum"] is None or h["count"] != b[-1][1]:
            return "%s: _count missing or not the +Inf bucket, or no _sum" % what
    return None


if __name__ == "__main__":
    err = check(sys.argv[1])
    if err:
        print(err)
        sys.exit(1)
    print("ok")
