"""httprelay.py - the pieces the test relays on 127.0.0.1 share: reading a
request head and body, forwarding one request to the server, a TCP reset,
a byte pipe, and the accept loop that prints the port.  The test helpers
import it (t_start_helper in tests/lib.sh puts tests/lib on PYTHONPATH);
tests/faultproxy.py is the full HTTP/1.1 fault proxy.  Standard library
only."""
import socket
import socketserver
import struct
import threading


def read_head(f):
    """The request or answer head up to the blank line, None at EOF."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = f.readline()
        if not line:
            return None
        head += line
    return head


def content_length(head):
    for l in head.split(b"\r\n")[1:]:
        if l.lower().startswith(b"content-length:"):
            return int(l.split(b":", 1)[1])
    return 0


def read_request(f):
    """(head, body) of a request with a Content-Length body, None at EOF."""
    head = read_head(f)
    if head is None:
        return None
    n = content_length(head)
    return head, (f.read(n) if n else b"")


def header(head, name):
    """The value of header name (lower-case bytes) in head, "-" if absent."""
    for l in head.split(b"\r\n")[1:]:
        k, _, v = l.partition(b":")
        if k.strip().lower() == name:
            return v.strip().decode()
    return "-"


def with_close(head):
    """head with "Connection: close" in place of its Connection header."""
    lines = [l for l in head.split(b"\r\n") if l and not l.lower().startswith(b"connection:")]
    return b"\r\n".join(lines + [b"Connection: close", b"", b""])


def forward(up_host, up_port, head, body):
    """Send one request to the server on a connection of its own and
    return its answer as (head, body)."""
    u = socket.create_connection((up_host, up_port))
    u.sendall(with_close(head) + body)
    resp = b""
    while True:
        d = u.recv(65536)
        if not d:
            break
        resp += d
    u.close()
    rhead, _, rbody = resp.partition(b"\r\n\r\n")
    return rhead, rbody


def reset(sock, close=True):
    """Close sock with a TCP reset, not a clean end (close=False: when it
    is closed later, by socketserver)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if close:
        sock.close()


def pipe(a, b, counted=None):
    """Copy a to b until either ends, then shut both down; counted(n) is
    told of every n bytes copied."""
    buf = bytearray(262144)
    view = memoryview(buf)
    try:
        while True:
            n = a.recv_into(buf)
            if n <= 0:
                break
            b.sendall(view[:n])
            if counted:
                counted(n)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve_sockets(serve, port=0):
    """Listen on 127.0.0.1 (a free port unless given), print the port, and
    run serve(conn) in a thread of its own for every connection."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)
    print(srv.getsockname()[1], flush=True)
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve_handler(handler):
    """Serve a socketserver handler class on a free 127.0.0.1 port, printed
    first."""
    srv = _Server(("127.0.0.1", 0), handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()
