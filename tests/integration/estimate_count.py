#!/usr/bin/env python3
"""estimate_count.py - an independent count of the S3 requests migrate
sends: an HTTP/1.1 relay on 127.0.0.1 between migrate and the test server
(the framing is tests/faultproxy.py's, without its faults) that writes one
JSON line per request to a log, and the tally of a log's lines by
migrate's request classes.

    estimate_count.py serve --upstream http://127.0.0.1:PORT --log FILE
    estimate_count.py tally FILE [FROM_LINE]

serve prints its port, then relays until SIGTERM.  tally prints
{"requests": {class: n}, "get_bytes": n, "put_bytes": n} for the lines
after FROM_LINE (0: all): the classes are told apart the way S3 defines
them (query and headers), not by anything migrate says of itself.
"""
import json
import os
import signal
import sys
import threading
from urllib.parse import urlsplit, parse_qs

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import faultproxy  # noqa: E402
from faultproxy import Closed, header, has_token, read_body  # noqa: E402

LOCK = threading.Lock()


class Counting(faultproxy.Handler):
    def one(self, c):
        lines = c.head()
        if lines is None:
            return False
        method, target, version = lines[0].rstrip(b"\r\n").split(b" ")
        keep = version == b"HTTP/1.1" and not has_token(lines, b"connection", b"close")
        if has_token(lines, b"expect", b"100-continue"):
            self.request.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            lines = [ln for ln in lines if not ln.lower().startswith(b"expect:")]
        body = read_body(c, lines)
        try:
            self.upstream().sendall(b"".join(lines) + body)
            rlines, rbody, up_keep = self.response(method)
        except (Closed, OSError):
            self.drop_upstream()
            faultproxy.reset(self.request)
            return False
        if not up_keep:
            self.drop_upstream()
        status = int(rlines[0].split(b" ", 2)[1])
        n = header(rlines, b"content-length")
        rec = {"method": method.decode(), "target": target.decode("latin-1"),
               "copy": header(lines, b"x-amz-copy-source") is not None,
               "status": status, "sent": len(body),
               "got": len(rbody) if method != b"HEAD" else 0}
        with LOCK:
            with open(self.server.st.args.log, "a") as f:
                f.write(json.dumps(rec) + "\n")
        self.request.sendall(b"".join(rlines) + rbody)
        return keep and up_keep


def classify(r):
    u = urlsplit(r["target"])
    q = parse_qs(u.query, keep_blank_values=True)
    parts = [p for p in u.path.split("/") if p]
    on_key = len(parts) > 1          # path style: /bucket/key
    m = r["method"]
    if m == "HEAD":
        return "head"
    if m == "GET":
        if "uploadId" in q or "uploads" in q:
            return "list_parts"
        return "get" if on_key else "list"
    if m == "PUT":
        if r["copy"]:
            return "copy"
        if "partNumber" in q:
            return "upload_part"
        return "put"
    if m == "POST":
        if "uploads" in q:
            return "create_multipart"
        if "uploadId" in q:
            return "complete_multipart"
        if "delete" in q:
            return "delete"
    if m == "DELETE":
        return "abort_multipart" if "uploadId" in q else "delete"
    return "other:" + m


def tally(path, skip):
    req, get_bytes, put_bytes = {}, 0, 0
    with open(path) as f:
        for i, line in enumerate(f):
            if i < skip:
                continue
            r = json.loads(line)
            k = classify(r)
            req[k] = req.get(k, 0) + 1
            if k == "get":
                get_bytes += r["got"]
            if k in ("put", "upload_part"):
                put_bytes += r["sent"]
    print(json.dumps({"requests": req, "get_bytes": get_bytes, "put_bytes": put_bytes},
                     sort_keys=True))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "tally":
        tally(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)
        return
    if len(sys.argv) != 6 or sys.argv[1] != "serve":
        sys.exit(__doc__)
    up = sys.argv[3].replace("http://", "").rstrip("/")
    host, _, port = up.rpartition(":")
    if host not in ("127.0.0.1", "localhost"):
        sys.exit("estimate_count: --upstream must be on 127.0.0.1")

    class A:
        pass
    a = A()
    a.up_host, a.up_port, a.upstream_timeout, a.log = "127.0.0.1", int(port), 300.0, sys.argv[5]
    open(a.log, "a").close()
    srv = faultproxy.Server(("127.0.0.1", 0), Counting)
    st = A()
    st.args, st.lock, st.conns = a, threading.Lock(), set()
    srv.st = st
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print(srv.server_address[1], flush=True)
    srv.serve_forever(poll_interval=0.1)


if __name__ == "__main__":
    main()
