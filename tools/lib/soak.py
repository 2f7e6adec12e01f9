#!/usr/bin/env python3
"""soak.py - `migrate daemon` under churn, watched from outside.

    soak.py --migrate BIN --dir DIR --seconds N [--every 2s] [--files 200]
            [--json FILE]

Makes a source folder under DIR and a sync plan to two local targets on a
schedule of --every, starts the daemon, and after each run (seen as the
metrics file's migrate_runs_total going up):

  - samples the daemon's RSS, open descriptors and threads (/proc), idle
    between runs;
  - checks the metrics file: the Prometheus text format (HELP and TYPE
    before each family's samples, one sample per line, a number as value,
    counters never going down; promtool too when it is installed);
  - checks the run: exit code 0, and per target the objects copied so far
    equal what was added and changed before it (a churn made while a run
    was under way may wait for the next one), so none is copied twice;
  - churns the source: adds files, rewrites some, deletes one.

After --seconds it stops the daemon (SIGTERM: exit 0 expected) and checks
that both targets hold exactly the source.  Flat means: after a warm-up
(the first quarter of the runs), descriptors and threads never change,
and peak RSS in the last quarter is at most 1 MiB above the peak in the
second.  Prints one JSON report (also to --json FILE) and exits 1 when a
check failed, naming it.  tools/bench --soak runs it for an hour,
tests/integration/daemon_soak.sh for three minutes.
"""
import argparse
import filecmp
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def proc_sample(pid):
    rss = threads = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    fds = len(os.listdir("/proc/%d/fd" % pid))
    return {"rss": rss, "threads": threads, "fds": fds}


def parse_metrics(text):
    """{(name, labels): value}, or raises ValueError naming the line."""
    out, typed = {}, {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(None, 3)
            if len(parts) < 4:
                raise ValueError("line %d: short %s" % (n, parts[1]))
            if parts[1] == "TYPE":
                typed[parts[2]] = parts[3]
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("line %d: not a sample: %r" % (n, line))
        name = m.group(1)
        fam = re.sub(r'_(bucket|sum|count)$', '', name)
        if name not in typed and fam not in typed:
            raise ValueError("line %d: %s has no TYPE before it" % (n, name))
        float(m.group(3))
        out[(name, m.group(2) or "")] = float(m.group(3))
    return out, typed


def metric(samples, name, label_has=""):
    for (n, labels), v in samples.items():
        if n == name and label_has in labels:
            return v
    return None


class Soak:
    def __init__(self, a):
        self.a = a
        self.d = os.path.abspath(a.dir)
        self.src = os.path.join(self.d, "src")
        self.dst = [os.path.join(self.d, "dst1"), os.path.join(self.d, "dst2")]
        self.metrics = os.path.join(self.d, "metrics.prom")
        self.failures = []
        self.samples = []
        self.runs = []
        self.n = 0
        self.rng = random.Random(1)

    def fail(self, what):
        if len(self.failures) < 20:
            self.failures.append(what)

    def put(self, name, size):
        self.n += 1
        with open(os.path.join(self.src, name), "wb") as f:
            f.write(self.n.to_bytes(8, "little") + os.urandom(max(size - 8, 0)))

    def setup(self):
        os.makedirs(os.path.join(self.src, "sub"), exist_ok=True)
        for i in range(self.a.files):
            self.put("sub/f%05d" % i if i % 2 else "f%05d" % i, 100 + i)
        plan = os.path.join(self.d, "plan.yaml")
        with open(plan, "w") as f:
            f.write('version: 1\nname: soak\nsource: "%s"\ntargets: ["%s", "%s"]\n'
                    'journal: "%s/journal"\nmode: sync\nschedule: { every: %s }\n'
                    'metrics: { file: "%s" }\n' % (self.src, self.dst[0], self.dst[1],
                                                  self.d, self.a.every, self.metrics))
        return plan

    def churn(self):
        """Adds 3 files, rewrites 2, deletes 1; returns how many objects
        the next run must copy (what was written and is still there)."""
        files = [n for n in os.listdir(self.src) if n != "sub"]
        written = set()
        for _ in range(3):
            name = "new%06d" % (self.n + 1)
            self.put(name, self.rng.randint(1, 5000))
            written.add(name)
        for victim in self.rng.sample(files, 2):
            self.put(victim, self.rng.randint(1, 5000))
            written.add(victim)
        gone = self.rng.choice([n for n in os.listdir(self.src) if n != "sub"])
        os.unlink(os.path.join(self.src, gone))
        return len(written - {gone})

    def wait_run(self, want, deadline):
        while time.time() < deadline:
            try:
                text = open(self.metrics).read()
                s, _ = parse_metrics(text)
                if (metric(s, "migrate_runs_total") or 0) >= want:
                    return text
            except (OSError, ValueError):
                pass
            if self.p.poll() is not None:
                return None
            time.sleep(0.02)
        return None

    def settled_sample(self):
        """The daemon idle between runs: the metrics file appears (by a
        rename) a moment before the daemon closes what wrote it, so a
        descriptor count that differs from the last one is read again
        after a pause before it counts."""
        sample = proc_sample(self.p.pid)
        for _ in range(5):
            if not self.samples or sample["fds"] == self.samples[-1]["fds"]:
                break
            time.sleep(0.1)
            sample = proc_sample(self.p.pid)
        return sample

    def check_run(self, k, text, prev, expect):
        try:
            s, typed = parse_metrics(text)
        except ValueError as e:
            self.fail("run %d: metrics file: %s" % (k, e))
            return None
        if metric(s, "migrate_last_run_exit_code") != 0:
            self.fail("run %d: exit code %s" % (k, metric(s, "migrate_last_run_exit_code")))
        for (name, labels), v in s.items():
            if typed.get(name) == "counter" and prev and v < prev.get((name, labels), 0):
                self.fail("run %d: counter %s%s went down" % (k, name, labels))
        # Cumulative, per target: a churn made while a run was already
        # under way is copied by the next one, so after run k the daemon
        # has copied everything up to the churn before last, at most
        # everything churned, and never an object twice.
        for t in self.dst:
            got = metric(s, "migrate_objects_copied_total", t)
            if got is None or not (self.owed - expect <= got <= self.owed):
                self.fail("run %d: %s: %s objects copied in all, want %d to %d" %
                          (k, t, got, self.owed - expect, self.owed))
        return s

    def run(self):
        plan = self.setup()
        log = open(os.path.join(self.d, "daemon.log"), "w")
        self.p = subprocess.Popen([self.a.migrate, "daemon", plan], stdout=log,
                                  stderr=subprocess.STDOUT)
        t_end = time.time() + self.a.seconds
        prev, k = None, 0
        self.owed = self.a.files	# objects the daemon must have copied
        promtool = shutil.which("promtool")
        while time.time() < t_end:
            k += 1
            text = self.wait_run(k, time.time() + 120)
            if text is None:
                self.fail("run %d never finished (daemon %s)" % (k, "exited %s" % self.p.returncode
                                                               if self.p.poll() is not None else "stuck"))
                break
            sample = self.settled_sample()
            sample["run"] = k
            self.samples.append(sample)
            prev = self.check_run(k, text, prev, expect if k > 1 else 0) or prev
            if promtool and k % 10 == 1:
                r = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                                   capture_output=True)
                if r.returncode != 0:
                    self.fail("run %d: promtool: %s" % (k, r.stdout.decode()[:300]))
            # the first run may be followed at once by a second one (it
            # was due while the first copied everything): churn from then
            if k >= 2:
                expect = self.churn()
                self.owed += expect
            else:
                expect = 0
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = "killed after 60 s"
        if rc != 0:
            self.fail("daemon exit after SIGTERM: %s" % rc)
        self.final_check()
        return self.report(k)

    def listing(self):
        out = []
        for root, _, files in os.walk(self.src):
            for f in files:
                out.append(os.path.relpath(os.path.join(root, f), self.src))
        return out

    def final_check(self):
        # the last churn came after the last run: one more, by hand
        r = subprocess.run([self.a.migrate, "-q", os.path.join(self.d, "plan.yaml")],
                           capture_output=True)
        if r.returncode != 0:
            self.fail("final run: exit %d: %s" % (r.returncode, r.stderr.decode()[-300:]))
        for t in self.dst:
            c = filecmp.dircmp(self.src, t)
            stack, bad = [c], []
            while stack:
                x = stack.pop()
                bad += x.left_only + x.right_only + x.diff_files + x.funny_files
                (_, mism, errs) = filecmp.cmpfiles(x.left, x.right, x.common_files, shallow=False)
                bad += mism + errs
                stack += x.subdirs.values()
            if bad:
                self.fail("%s differs from the source: %s" % (t, bad[:5]))

    def report(self, runs):
        s = self.samples
        warm = s[len(s) // 4:]
        flat = {}
        if len(warm) >= 4:
            q2 = warm[:len(warm) // 3] or warm[:1]
            q4 = warm[-(len(warm) // 3):] or warm[-1:]
            flat = {"rss_warm_peak": max(x["rss"] for x in q2),
                    "rss_end_peak": max(x["rss"] for x in q4),
                    "fds": sorted({x["fds"] for x in warm}),
                    "threads": sorted({x["threads"] for x in warm})}
            if flat["rss_end_peak"] > flat["rss_warm_peak"] + (1 << 20):
                self.fail("RSS grew: %d -> %d bytes" % (flat["rss_warm_peak"], flat["rss_end_peak"]))
            if len(flat["fds"]) > 1:
                self.fail("open descriptors changed between runs: %s" % flat["fds"])
            if len(flat["threads"]) > 1:
                self.fail("threads changed between runs: %s" % flat["threads"])
        elif not self.failures:
            self.fail("only %d runs: too few to judge" % len(s))
        rep = {"runs": runs, "seconds": self.a.seconds, "every": self.a.every,
               "rss_first": s[0]["rss"] if s else None, "rss_last": s[-1]["rss"] if s else None,
               "rss_max": max((x["rss"] for x in s), default=None), "flat": flat,
               "failures": self.failures}
        text = json.dumps(rep)
        print(text)
        if self.a.json:
            with open(self.a.json, "w") as f:
                f.write(text + "\n")
        return 1 if self.failures else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--migrate", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--seconds", type=int, required=True)
    ap.add_argument("--every", default="2s")
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--json")
    return Soak(ap.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
