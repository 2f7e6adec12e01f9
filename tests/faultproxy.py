#!/usr/bin/env python3
"""faultproxy.py - an HTTP/1.1 reverse proxy on 127.0.0.1 that injects faults.

One proxy for every fault test; the fault is a parameter.

    faultproxy.py --upstream http://127.0.0.1:PORT [--rate 0.1 --seed N
                  --faults 503,500-before,500-after,reset-request,
                           reset-response,delay] [--delay-seconds S]
                  [--dead 503|refuse|blackhole]
                  [--dead-after-requests N | --dead-on-signal]
                  [--retry-after SECONDS] [--log FILE]
                  [--delay-rule METHOD:SECONDS:EVERY ...]

It prints the port it listens on (a free one on 127.0.0.1, or --port) on
standard output when it is ready, then serves until SIGTERM.

Faults, each chosen for a fraction --rate of the requests (the kinds in
--faults take turns, in an order the seed shuffles, so that every kind is
injected once there have been as many faults as kinds):

  503             read the request, answer "503 SlowDown" (the server never
                  sees it)
  500-before      read the request, answer "500 InternalError" (the server
                  never sees it)
  500-after       forward the request, let the server act, then answer
                  "500 InternalError" instead of its answer
  reset-request   read half the request body, send the head and that half
                  on to the server, then reset both connections (TCP RST)
  reset-response  forward the request, send back the server's head and half
                  its body (half its head when it has none), then reset
  delay           wait --delay-seconds (default 2) before forwarding

A dead target (--dead: at once; or after --dead-after-requests requests
went through normally; or with --dead-on-signal, when SIGUSR1 comes):

  503             "503 SlowDown" on every request
  refuse          stop listening and reset the open connections: new
                  connections are refused
  blackhole       accept and read, never answer

--delay-rule METHOD:SECONDS:EVERY (repeatable) holds every EVERY-th request
with that method (1: all of them; 20: the 20th, 40th, ..., so 5%) SECONDS
before forwarding it, counted per method: a latency test knows exactly
which requests were held and for how long, whatever the seed.  Held
requests are noted as "delay-rule METHOD TARGET".

--retry-after N adds "Retry-After: N" to every 503 the proxy makes; given
without --dead and without --rate it means --dead 503.

HTTP/1.1 is spoken properly both ways: Content-Length and chunked bodies,
keep-alive (one upstream connection per client connection), HEAD, 1xx,
204 and 304 answers without bodies, and "Expect: 100-continue", which the
proxy answers itself (it strips the header before forwarding: the server
then gets the whole body at once).  Everything else in the request head,
Host above all, goes to the server byte for byte, so SigV4 signatures made
for the proxy's address pass (RGW and moto do not compare Host with their
own address).

--log FILE: one line per fault injected ("KIND METHOD TARGET"), and FILE.json
rewritten after each with the count per kind and the number of requests
seen.  Standard library only.
"""
import argparse
import json
import os
import random
import signal
import socket
import socketserver
import struct
import sys
import threading
import time

KINDS = ("503", "500-before", "500-after", "reset-request", "reset-response", "delay")
DEAD = ("503", "refuse", "blackhole")
MAX_HEAD = 64 << 10
MAX_BODY = 1 << 30


class Closed(Exception):
    """The peer went away (or sent something this proxy will not parse)."""


class Conn:
    """A socket with a read buffer: lines, exact lengths, to EOF."""

    def __init__(self, sock):
        self.sock = sock
        # a bytearray: appending is amortized O(1), where bytes += copied
        # the whole buffer on every 64 KiB read (minutes for a 1 GiB body)
        self.buf = bytearray()

    def _fill(self):
        # Acknowledge at once: a peer that writes its head and its body
        # apart (Nagle on its side) would otherwise wait out our delayed
        # ACK, 40 ms here and there, and a latency test would measure the
        # proxy.  The kernel clears the flag, so it is set before each read.
        if hasattr(socket, "TCP_QUICKACK"):
            try:
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            except OSError:
                pass
        d = self.sock.recv(1 << 16)
        if not d:
            raise Closed("eof")
        self.buf += d

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                ln = bytes(self.buf[:i + 2])
                del self.buf[:i + 2]
                return ln
            if len(self.buf) > MAX_HEAD:
                raise Closed("line too long")
            self._fill()

    def head(self):
        """The lines up to and including the empty one; None at a clean EOF."""
        lines = []
        size = 0
        while True:
            try:
                ln = self.line()
            except Closed:
                if not lines and not self.buf:
                    return None
                raise
            if not lines and ln == b"\r\n":
                continue  # a stray CRLF between requests (RFC 9112 2.2)
            lines.append(ln)
            size += len(ln)
            if size > MAX_HEAD:
                raise Closed("head too long")
            if ln == b"\r\n":
                return lines

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        d = bytes(self.buf[:n])
        del self.buf[:n]
        return d

    def to_eof(self):
        try:
            while True:
                self._fill()
                if len(self.buf) > MAX_BODY:
                    raise Closed("body too long")
        except Closed:
            pass
        d, self.buf = bytes(self.buf), bytearray()
        return d

    def chunked(self):
        """A chunked body, returned raw (chunk lines, data, trailers)."""
        raw = []
        while True:
            ln = self.line()
            raw.append(ln)
            try:
                n = int(ln.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise Closed("bad chunk size")
            if n == 0:
                while True:  # trailers, then the empty line
                    t = self.line()
                    raw.append(t)
                    if t == b"\r\n":
                        return b"".join(raw)
            raw.append(self.exact(n + 2))


def header(lines, name):
    """The value of the last header called name (bytes, lowercase name), or None."""
    v = None
    for ln in lines[1:]:
        k, sep, rest = ln.partition(b":")
        if sep and k.strip().lower() == name:
            v = rest.strip()
    return v


def has_token(lines, name, token):
    v = header(lines, name)
    return v is not None and token in [t.strip().lower() for t in v.split(b",")]


def read_body(conn, lines):
    """The body of a request, raw, framed as its head says."""
    if has_token(lines, b"transfer-encoding", b"chunked"):
        return conn.chunked()
    n = header(lines, b"content-length")
    if n is None:
        return b""
    n = int(n)
    if n < 0 or n > MAX_BODY:
        raise Closed("bad content-length")
    return conn.exact(n)


def response_has_body(method, status):
    return not (method == b"HEAD" or 100 <= status < 200 or status in (204, 304))


def reset(sock):
    """Close with a TCP RST, not a FIN: what a crashed peer or a middlebox does."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.rng = random.Random(args.seed)
        self.kinds = [k for k in args.faults.split(",") if k] if args.faults else []
        for k in self.kinds:
            if k not in KINDS:
                sys.exit("faultproxy: unknown fault '%s' (known: %s)" % (k, ",".join(KINDS)))
        self.order = list(self.kinds)
        self.rng.shuffle(self.order)
        self.turn = 0
        self.counts = {}
        self.requests = 0
        later = args.dead_after_requests is not None or args.dead_on_signal
        self.dead = args.dead if args.dead and not later else None
        self.conns = set()
        self.server = None
        self.rules = {}
        for r in args.delay_rule or []:
            m, secs, every = r.split(":")
            self.rules[m.encode()] = (float(secs), int(every))
        self.seen = {}

    def rule_delay(self, method):
        """Seconds --delay-rule holds this request (0: none)."""
        if method not in self.rules:
            return 0.0
        secs, every = self.rules[method]
        with self.lock:
            n = self.seen[method] = self.seen.get(method, 0) + 1
        return secs if n % every == 0 else 0.0

    def choose(self):
        """The fault for the next request: None, a kind, or 'dead'."""
        with self.lock:
            self.requests += 1
            if self.dead:
                return "dead"
            if (self.args.dead and self.args.dead_after_requests is not None and
                    self.requests > self.args.dead_after_requests):
                self.go_dead_locked()
                return "dead"
            if self.order and self.rng.random() < self.args.rate:
                k = self.order[self.turn % len(self.order)]
                self.turn += 1
                return k
            return None

    def go_dead_locked(self):
        if self.dead:
            return
        self.dead = self.args.dead
        self.note_locked("dead-" + self.dead, b"-", b"-")
        if self.dead == "refuse":
            # stop listening (new connections are refused) and cut the
            # connections that are open, as a crashed server would
            srv = self.server
            threading.Thread(target=srv.shutdown, daemon=True).start()
            try:
                srv.socket.close()
            except OSError:
                pass
            for s in list(self.conns):
                reset(s)

    def go_dead(self):
        with self.lock:
            self.go_dead_locked()

    def note(self, kind, method, target):
        with self.lock:
            self.note_locked(kind, method, target)

    def note_locked(self, kind, method, target):
        self.counts[kind] = self.counts.get(kind, 0) + 1
        log = self.args.log
        if not log:
            return
        with open(log, "a") as f:
            f.write("%s %s %s\n" % (kind, method.decode("latin-1"),
                                    target.decode("latin-1")[:200]))
        tmp = log + ".json.tmp"
        with open(tmp, "w") as f:
            json.dump({"requests": self.requests, "faults": self.counts}, f, sort_keys=True)
        os.replace(tmp, log + ".json")


def error_answer(status, reason, code, message, extra=b""):
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
            '<Message>%s</Message><RequestId>faultproxy</RequestId></Error>'
            % (code, message)).encode()
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\n%sContent-Length: %d\r\n\r\n"
            % (status, reason, extra, len(body)) + body)


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        st = self.server.st
        with st.lock:
            st.conns.add(self.request)
        self.up = None
        self.upc = None

    def finish(self):
        st = self.server.st
        with st.lock:
            st.conns.discard(self.request)
        if self.up:
            try:
                self.up.close()
            except OSError:
                pass

    def upstream(self):
        if self.up is None:
            a = self.server.st.args
            self.up = socket.create_connection((a.up_host, a.up_port), timeout=a.upstream_timeout)
            self.up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.upc = Conn(self.up)
        return self.up

    def drop_upstream(self):
        if self.up:
            try:
                self.up.close()
            except OSError:
                pass
        self.up = self.upc = None

    def handle(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = Conn(self.request)
        try:
            while self.one(c):
                pass
        except (Closed, OSError, ValueError):
            pass

    def one(self, c):
        """Serves one request; False when the client connection is done."""
        st = self.server.st
        a = st.args
        sock = self.request
        lines = c.head()
        if lines is None:
            return False
        first = lines[0].rstrip(b"\r\n").split(b" ")
        if len(first) != 3:
            raise Closed("bad request line")
        method, target, version = first
        keep = version == b"HTTP/1.1" and not has_token(lines, b"connection", b"close")
        if version == b"HTTP/1.0":
            keep = has_token(lines, b"connection", b"keep-alive")
        fault = st.choose()
        dead = st.dead if fault == "dead" else None
        if dead == "blackhole":
            st.note("blackhole", method, target)
            c.to_eof()  # read what comes, answer nothing, until the client gives up
            return False
        if dead == "refuse":
            reset(sock)
            return False
        expect = has_token(lines, b"expect", b"100-continue")
        if expect:
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            lines = [ln for ln in lines if not ln.lower().startswith(b"expect:")]
        if fault == "reset-request":
            n = header(lines, b"content-length")
            want = int(n) // 2 if n is not None else 0
            part = c.exact(want) if want else b""
            st.note(fault, method, target)
            try:
                self.upstream().sendall(b"".join(lines) + part)
            except OSError:
                pass
            if self.up:
                reset(self.up)
            self.up = self.upc = None
            reset(sock)
            return False
        body = read_body(c, lines)
        retry_after = b""
        if a.retry_after is not None:
            retry_after = b"Retry-After: %d\r\n" % a.retry_after
        if dead == "503" or fault == "503":
            st.note("dead-503" if dead else fault, method, target)
            sock.sendall(error_answer(503, b"Slow Down", "SlowDown",
                                      "Please reduce your request rate.", retry_after))
            return keep
        if fault == "500-before":
            st.note(fault, method, target)
            sock.sendall(error_answer(500, b"Internal Server Error", "InternalError",
                                      "We encountered an internal error. Please try again."))
            return keep
        if fault == "delay":
            st.note(fault, method, target)
            time.sleep(a.delay_seconds)
        held = st.rule_delay(method)
        if held:
            st.note("delay-rule", method, target)
            time.sleep(held)
        # forward, then relay (or replace, or cut) the answer
        try:
            self.upstream().sendall(b"".join(lines) + body)
            rlines, rbody, up_keep = self.response(method)
        except (Closed, OSError):
            # the server dropped us: so does the proxy, as a gateway would
            self.drop_upstream()
            reset(sock)
            return False
        if not up_keep:
            self.drop_upstream()
        if fault == "500-after":
            st.note(fault, method, target)
            sock.sendall(error_answer(500, b"Internal Server Error", "InternalError",
                                      "We encountered an internal error. Please try again."))
            return keep and up_keep
        rhead = b"".join(rlines)
        if fault == "reset-response":
            st.note(fault, method, target)
            if rbody:
                sock.sendall(rhead + rbody[:len(rbody) // 2])
            else:
                sock.sendall(rhead[:len(rhead) // 2])
            reset(sock)
            self.drop_upstream()
            return False
        sock.sendall(rhead + rbody)
        return keep and up_keep

    def response(self, method):
        """The server's answer to the request just sent: (head lines, raw body, keep-alive)."""
        u = self.upc
        while True:
            rlines = u.head()
            if rlines is None:
                raise Closed("server closed")
            status = int(rlines[0].split(b" ", 2)[1])
            if 100 <= status < 200 and status != 101:
                continue  # interim answers stay between proxy and server
            break
        version = rlines[0].split(b" ", 1)[0]
        keep = version == b"HTTP/1.1" and not has_token(rlines, b"connection", b"close")
        if not response_has_body(method, status):
            return rlines, b"", keep
        if has_token(rlines, b"transfer-encoding", b"chunked"):
            return rlines, u.chunked(), keep
        n = header(rlines, b"content-length")
        if n is not None:
            return rlines, u.exact(int(n)), keep
        return rlines, u.to_eof(), False  # delimited by the close


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--rate", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--faults", default="")
    p.add_argument("--delay-seconds", type=float, default=2.0)
    p.add_argument("--dead", choices=DEAD)
    p.add_argument("--dead-after-requests", type=int)
    p.add_argument("--dead-on-signal", action="store_true", help="die on SIGUSR1")
    p.add_argument("--retry-after", type=int)
    p.add_argument("--upstream-timeout", type=float, default=300.0)
    p.add_argument("--log")
    p.add_argument("--delay-rule", action="append", metavar="METHOD:SECONDS:EVERY")
    a = p.parse_args()
    up = a.upstream
    if up.startswith("http://"):
        up = up[len("http://"):]
    up = up.rstrip("/")
    host, _, port = up.rpartition(":")
    if host not in ("127.0.0.1", "localhost") or not port.isdigit():
        sys.exit("faultproxy: --upstream must be http://127.0.0.1:PORT (loopback only)")
    a.up_host, a.up_port = "127.0.0.1", int(port)
    if a.retry_after is not None and not a.dead and not a.rate:
        a.dead = "503"
    st = State(a)
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.st = st
    st.server = srv
    if a.log:
        open(a.log, "a").close()
    signal.signal(signal.SIGUSR1, lambda *_: threading.Thread(target=st.go_dead, daemon=True).start())
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.1)
    except (OSError, ValueError):
        pass
    # refuse mode: no listener, but the process stays (its log, its PID)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
