#!/usr/bin/env python3
"""bench_util.py - the measuring half of tools/bench.

  measure RESULTS CASE TOOL ROUND [--srv PIDS] [--sshd PID] -- CMD...
      run CMD under /usr/bin/time (wall, user, sys, peak RSS), read the
      exited process's /proc/PID/io before it is reaped (rchar, wchar,
      read_bytes: /usr/bin/time's counters include the child it reaped),
      sum the CPU time of the server PIDs before and after; append one
      JSON line to RESULTS and its `last` form to RESULTS.last; exit
      with CMD's status.
  note RESULTS CASE TOOL ROUND KEY VALUE [KEY VALUE...]
      append more metrics for that run.
  last RESULTS
      the last measured run as shell assignments (L_wall=..., L_rc=...).
  proxy PORTFILE TARGET_PORT COUNTFILE
      a TCP proxy on 127.0.0.1 that counts the bytes clients send to the
      server (request bodies and headers); writes "epoch total" to
      COUNTFILE every 0.1 s; runs until killed.
  rate COUNTFILE T0 T1 LIMIT
      per-second rates from a proxy count log between T0 and T1.
  gen DIR COUNT SIZE
      COUNT files of SIZE bytes (random content, or empty when 0) in
      folders of 1000.
  report RESULTS [MDFILE]
      medians per case/tool/metric and the ratio table migrate/anchor.
"""
import json
import os
import socket
import statistics
import sys
import threading
import time
# the byte pipe is the test relays' (tests/lib/httprelay.py)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "lib"))
from httprelay import pipe  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pids, children=False):
    """CPU seconds (user+sys) of PIDS; with children, the reaped ones too."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%s/stat" % pid) as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()
        # fields[11..14] are utime stime cutime cstime (stat fields 14..17)
        total += int(fields[11]) + int(fields[12])
        if children:
            total += int(fields[13]) + int(fields[14])
    return total / TICK


def read_io(pid):
    out = {}
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                k, v = line.split(":")
                out[k.strip()] = int(v)
    except OSError:
        pass
    return out


def anon_kb(pid):
    """RssAnon of pid and its descendants (private memory, without the
    file pages a process maps, such as LevelDB's tables)."""
    total = 0
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    total += int(line.split()[1])
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            for c in f.read().split():
                total += anon_kb(int(c))
    except (OSError, ValueError):
        pass
    return total


def watch_anon(pid, peak, done):
    while not done.is_set():
        peak[0] = max(peak[0], anon_kb(pid))
        done.wait(0.05)


def cmd_measure(argv):
    results, case, tool, rnd = argv[:4]
    argv = argv[4:]
    srv, sshd = [], []
    while argv and argv[0] != "--":
        if argv[0] == "--srv":
            srv = argv[1].split()
        elif argv[0] == "--sshd":
            sshd = argv[1].split()
        argv = argv[2:]
    cmd = argv[1:]
    tfile = "%s.time.%d" % (results, os.getpid())
    s0 = proc_cpu(srv) + proc_cpu(sshd, children=True)
    t0 = time.time()
    pid = os.fork()
    if pid == 0:
        os.execv("/usr/bin/time",
                 ["/usr/bin/time", "-f", "%e %U %S %M", "-o", tfile] + cmd)
    peak, done = [0], threading.Event()
    watcher = threading.Thread(target=watch_anon, args=(pid, peak, done), daemon=True)
    watcher.start()
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    done.set()
    watcher.join()
    io = read_io(pid)
    _, status = os.waitpid(pid, 0)
    t1 = time.time()
    if sshd:
        time.sleep(0.3)		# let the listener reap the session's child
    s1 = proc_cpu(srv) + proc_cpu(sshd, children=True)
    rc = os.waitstatus_to_exitcode(status)
    rec = {"case": case, "tool": tool, "round": int(rnd), "rc": rc,
           "wall": t1 - t0, "srv_cpu": s1 - s0,
           "rchar": io.get("rchar"), "wchar": io.get("wchar"),
           "read_bytes": io.get("read_bytes"), "anon_mb": peak[0] / 1024.0}
    try:
        with open(tfile) as f:
            last = f.read().strip().splitlines()[-1].split()
        rec["wall"] = float(last[0])
        rec["cpu"] = float(last[1]) + float(last[2])
        rec["user"], rec["sys"] = float(last[1]), float(last[2])
        rec["rss_mb"] = int(last[3]) / 1024.0
    except (OSError, IndexError, ValueError):
        pass
    try:
        os.unlink(tfile)
    except OSError:
        pass
    with open(results, "a") as f:
        f.write(json.dumps(rec) + "\n")
    # the same as `last` would print, so the caller need not start
    # another interpreter to read it back
    with open(results + ".last", "w") as f:
        f.write(shell_assignments(rec))
    return rc


def cmd_note(argv):
    results, case, tool, rnd = argv[:4]
    rec = {"case": case, "tool": tool, "round": int(rnd)}
    kv = argv[4:]
    for i in range(0, len(kv) - 1, 2):
        rec[kv[i]] = float(kv[i + 1])
    with open(results, "a") as f:
        f.write(json.dumps(rec) + "\n")
    return 0


def shell_assignments(rec):
    out = ""
    for k, v in rec.items():
        if k.replace("_", "").isalnum() and isinstance(v, (int, float)):
            out += "L_%s=%s\n" % (k, ("%.2f" % v) if isinstance(v, float) else v)
    return out


def cmd_last(argv):
    """the last measured run as shell assignments L_key=value"""
    rec = {}
    with open(argv[0]) as f:
        for line in f:
            r = json.loads(line)
            if "rc" in r:
                rec = r
    sys.stdout.write(shell_assignments(rec))
    return 0


# ---- the counting proxy ----------------------------------------------------
count = 0
count_lock = threading.Lock()


def add_count(n):
    global count
    with count_lock:
        count += n


def serve(conn, port):
    try:
        up = socket.create_connection(("127.0.0.1", port))
    except OSError:
        conn.close()
        return
    for s in (conn, up):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t = threading.Thread(target=pipe, args=(up, conn), daemon=True)
    t.start()
    pipe(conn, up, add_count)
    t.join()
    conn.close()
    up.close()


def cmd_proxy(argv):
    portfile, port, countfile = argv[0], int(argv[1]), argv[2]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)

    def logger():
        with open(countfile, "a") as f:
            while True:
                f.write("%.3f %d\n" % (time.time(), count))
                f.flush()
                time.sleep(0.1)
    threading.Thread(target=logger, daemon=True).start()
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, port), daemon=True).start()


def load_counts(countfile):
    pts = []
    with open(countfile) as f:
        for line in f:
            p = line.split()
            if len(p) == 2:
                pts.append((float(p[0]), int(p[1])))
    return pts


def count_at(pts, t):
    """bytes counted at time t (linear between samples)"""
    prev = pts[0]
    for p in pts:
        if p[0] >= t:
            if p[0] == prev[0]:
                return p[1]
            return prev[1] + (p[1] - prev[1]) * (t - prev[0]) / (p[0] - prev[0])
        prev = p
    return pts[-1][1]


def cmd_rate(argv):
    """RATE: mean over [T0,T1], per-second rates; prints JSON"""
    countfile, t0, t1, limit = argv[0], float(argv[1]), float(argv[2]), float(argv[3])
    pts = load_counts(countfile)
    secs = []
    t = t0
    while t + 1.0 <= t1 + 1e-6:
        secs.append(count_at(pts, t + 1.0) - count_at(pts, t))
        t += 1.0
    total = count_at(pts, t1) - count_at(pts, t0)
    mean = total / (t1 - t0)
    over = [s for s in secs if s > limit * 1.03]
    run = best = 0
    for s in secs:
        run = run + 1 if s > limit * 1.03 else 0
        best = max(best, run)
    print(json.dumps({"mean": mean, "dev_pct": (mean - limit) / limit * 100,
                      "max_1s": max(secs) if secs else 0,
                      "min_1s": min(secs) if secs else 0,
                      "sd_1s": statistics.pstdev(secs) if len(secs) > 1 else 0,
                      "secs_over_3pct": len(over), "longest_over": best,
                      "seconds": len(secs)}))
    return 0


def cmd_gen(argv):
    d, n, size = argv[0], int(argv[1]), int(argv[2])
    data = os.urandom(size) if size else b""
    for i in range(n):
        sub = os.path.join(d, "d%04d" % (i // 1000))
        if i % 1000 == 0:
            os.makedirs(sub, exist_ok=True)
        # distinct content per file, so no tool can dedupe it away
        fd = os.open(os.path.join(sub, "f%06d" % i), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        if size:
            os.write(fd, i.to_bytes(8, "little") + data[8:])
        os.close(fd)
    return 0


# ---- the report ------------------------------------------------------------
# per case: (metric, label, format, lower is better)
METRICS = {
    "small": [("wall", "wall s", "%.2f"), ("objps", "objects/s", "%.0f"),
              ("cpu", "client CPU s", "%.2f"), ("cpu_per_obj_ms", "CPU ms/object", "%.3f"),
              ("rss_mb", "peak RSS MB", "%.1f"), ("srv_cpu", "server CPU s", "%.2f")],
    "large": [("wall", "wall s", "%.2f"), ("mbps", "MB/s", "%.0f"),
              ("cpu_per_gib", "client CPU s/GiB", "%.2f"),
              ("rss_mb", "peak RSS MB", "%.1f"), ("srv_cpu", "server CPU s", "%.2f")],
    "noop": [("wall", "wall s", "%.2f"), ("cpu", "client CPU s", "%.2f"),
             ("src_read_mb", "source bytes read MB", "%.2f"),
             ("rchar_mb", "rchar MB (all reads)", "%.1f"),
             ("rss_mb", "peak RSS MB", "%.1f"), ("srv_cpu", "server CPU s", "%.2f")],
    "resume": [("killed_at_mb", "sent before kill MB", "%.0f"),
               ("rerun_mb", "sent by rerun MB", "%.0f"),
               ("resent_mb", "re-sent MB", "%.0f"),
               ("resumed_parts", "parts reused", "%.0f"),
               ("rerun_wall", "rerun wall s", "%.2f")],
    "bwlimit": [("mean_mbps", "mean MB/s", "%.2f"), ("dev_pct", "deviation %", "%+.2f"),
                ("max_1s_mbps", "max 1-s MB/s", "%.2f"),
                ("sd_1s_mbps", "sd of 1-s MB/s", "%.2f"),
                ("longest_over", "longest run >3% over, s", "%.0f"),
                ("cpu", "client CPU s", "%.2f")],
    "plan-rss": [("wall", "wall s", "%.2f"), ("rss_mb", "peak RSS MB", "%.1f"),
                 ("cpu", "client CPU s", "%.2f")],
    "shard": [("wall", "wall s", "%.2f"), ("objps", "objects/s", "%.0f"),
              ("cpu", "client CPU s", "%.2f"), ("srv_cpu", "server CPU s", "%.2f")],
    "scale": [("wall", "wall s", "%.2f"), ("cpu", "client CPU s", "%.2f"),
              ("rss_mb", "peak RSS MB", "%.1f"),
              ("anon_mb", "peak private MB", "%.1f"),
              ("journal_b_per_obj", "journal B/object", "%.0f")],
    "inventory": [("wall", "wall s", "%.2f"), ("rss_mb", "peak RSS MB", "%.1f"),
                  ("anon_mb", "peak private MB", "%.1f"),
                  ("cpu", "client CPU s", "%.2f")],
    "sftp": [("wall", "wall s", "%.2f"), ("mbps", "MB/s", "%.0f"),
             ("cpu", "client CPU s", "%.2f"), ("rss_mb", "peak RSS MB", "%.1f"),
             ("srv_cpu", "sshd CPU s", "%.2f")],
    "sftp-many": [("wall", "wall s", "%.2f"), ("cpu", "client CPU s", "%.2f"),
                  ("rss_mb", "peak RSS MB", "%.1f"), ("srv_cpu", "sshd CPU s", "%.2f")],
    "tar": [("wall", "wall s", "%.2f"), ("mbps", "MB/s", "%.0f"),
            ("cpu", "client CPU s", "%.2f"), ("rss_mb", "peak RSS MB", "%.1f"),
            ("srv_cpu", "server CPU s", "%.2f")],
}
# what the ratio table shows per case
RATIO = {"small": ["wall", "cpu_per_obj_ms", "rss_mb", "objps"],
         "large": ["wall", "cpu_per_gib", "rss_mb"],
         "noop": ["wall", "cpu", "rss_mb"],
         "resume": ["resent_mb"],
         "bwlimit": ["dev_pct", "max_1s_mbps"],
         "plan-rss": ["rss_mb", "wall"],
         "inventory": ["rss_mb", "wall"],
         "sftp": ["wall", "cpu", "srv_cpu"],
         "sftp-many": ["wall", "cpu", "srv_cpu"],
         "tar": ["wall", "cpu", "rss_mb"]}


def cmd_report(argv):
    results = argv[0]
    md = argv[1] if len(argv) > 1 else None
    runs = {}
    order = []
    with open(results) as f:
        for line in f:
            r = json.loads(line)
            k = (r["case"], r["tool"])
            if k not in runs:
                runs[k] = {}
                order.append(k)
            rounds = runs[k].setdefault(r["round"], {})
            rounds.update({a: b for a, b in r.items()
                           if a not in ("case", "tool", "round") and b is not None})
    med = {}
    for k, rounds in runs.items():
        vals = {}
        for rd in rounds.values():
            for m, v in rd.items():
                vals.setdefault(m, []).append(v)
        med[k] = {m: statistics.median(v) for m, v in vals.items()}
        med[k]["_n"] = len(rounds)
        # bwlimit runs are stopped by timeout (124) or SIGTERM (130, 143)
        ok = (0, 124, 130, 143) if k[0] == "bwlimit" else (0,)
        med[k]["_bad"] = sum(1 for rd in rounds.values() if rd.get("rc", 0) not in ok)
    out = []
    cases = []
    for c, _ in order:
        if c not in cases:
            cases.append(c)
    for c in cases:
        base = c.split(":")[0]
        mets = METRICS.get(base, [])
        tools = [t for cc, t in order if cc == c]
        out.append("")
        out.append("### %s (medians)" % c)
        out.append("")
        out.append("| tool | rounds | " + " | ".join(m[1] for m in mets) + " |")
        out.append("|---|---|" + "---|" * len(mets))
        for t in tools:
            m = med[(c, t)]
            cells = [(f % m[k]) if k in m else "-" for k, _, f in mets]
            n = "%d" % m["_n"] + (" (%d failed)" % m["_bad"] if m["_bad"] else "")
            out.append("| %s | %s | %s |" % (t, n, " | ".join(cells)))
    out.append("")
    out.append("### ratios migrate / anchor (medians; below 1 means migrate is lower)")
    out.append("")
    out.append("| case | metric | anchor | migrate | anchor value | ratio |")
    out.append("|---|---|---|---|---|---|")
    for c in cases:
        base = c.split(":")[0]
        fmt = {k: f for k, _, f in METRICS.get(base, [])}
        label = {k: lab for k, lab, _ in METRICS.get(base, [])}
        if (c, "migrate") not in med:
            continue
        mm = med[(c, "migrate")]
        for t in [t for cc, t in order if cc == c and t != "migrate"]:
            am = med[(c, t)]
            for k in RATIO.get(base, []):
                if k not in mm or k not in am:
                    continue
                if base == "bwlimit" and k == "dev_pct":
                    r = "%.2f pts" % (abs(mm[k]) - abs(am[k]))
                elif am[k]:
                    r = "%.2f" % (mm[k] / am[k])
                else:
                    r = "n/a"
                out.append("| %s | %s | %s | %s | %s | %s |" % (
                    c, label[k], t, fmt[k] % mm[k], fmt[k] % am[k], r))
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    if md:
        with open(md, "w") as f:
            f.write(text)
    return 0


def main():
    cmds = {"measure": cmd_measure, "note": cmd_note, "proxy": cmd_proxy,
            "rate": cmd_rate, "last": cmd_last, "gen": cmd_gen, "report": cmd_report}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.stderr.write(__doc__)
        return 2
    return cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
