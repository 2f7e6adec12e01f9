"""trailerrelay.py UP-HOST UP-PORT CERT KEY LOG MODE - a TLS front for an
S3 server on 127.0.0.1 that logs, per request, the headers that say how
its body is checked, and can damage one UploadPart on the way (the first
request for that part number only, so the retry goes through):

  MODE none          pass everything
  MODE body:N        flip one byte in the middle of part N's body
  MODE trailer:N     change the CRC (any algorithm) in part N's trailer
                     (what a server that computed its own CRC of a damaged
                     body echoes)

Log lines: "METHOD PATH?QUERY sha=X enc=Y trailer=Z -> STATUS CODE [TAG]",
sha= is "hex" for a signed SHA-256 of the body; a POST to an upload
(CompleteMultipartUpload) has a second line "POST PATH?QUERY named=N": how
many parts' checksums (<ChecksumCRC32C> ...) its body names.  One request per TLS
connection (Connection: close)."""
import re
import ssl
import sys
import threading
from urllib.parse import parse_qs, urlsplit

from httprelay import forward, header, read_request, serve_sockets, with_close

up_host, up_port = sys.argv[1], int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[3], sys.argv[4])
logf = open(sys.argv[5], "a", buffering=1)
mode, _, victim = sys.argv[6].partition(":")
lock = threading.Lock()
done = set()


def damage(line, body):
    """The body as sent on, and a tag for the log."""
    parts = line.split(b" ")
    if mode == "none" or len(parts) < 2 or parts[0] != b"PUT":
        return body, ""
    u = urlsplit(parts[1].decode())
    q = parse_qs(u.query)
    if q.get("partNumber") != [victim] or "uploadId" not in q:
        return body, ""
    with lock:
        if u.path in done:
            return body, "again"
        done.add(u.path)
    b = bytearray(body)
    if mode == "body":
        b[len(b) // 2] ^= 0xFF
    else:
        m = re.search(rb"x-amz-checksum-[a-z0-9]+:(\S)", body)
        if not m:
            return body, "no-trailer"
        i = m.start(1)
        b[i] = ord("B") if b[i] != ord("B") else ord("C")
    return bytes(b), "damaged-" + mode


def serve(c):
    try:
        t = ctx.wrap_socket(c, server_side=True)
    except (ssl.SSLError, OSError):
        c.close()
        return
    try:
        req = read_request(t.makefile("rb"))
        if req is None:
            return
        head, body = req
        line = head.split(b"\r\n", 1)[0]
        body, tag = damage(line, body)
        rhead, rbody = forward(up_host, up_port, head, body)
        t.sendall(with_close(rhead) + rbody)
        sha = header(head, b"x-amz-content-sha256")
        if re.fullmatch(r"[0-9a-f]{64}", sha):
            sha = "hex"
        st = rhead.split(b"\r\n", 1)[0].split(b" ")
        m = re.search(rb"<Code>([^<]*)</Code>", rbody)
        logf.write("%s sha=%s enc=%s trailer=%s -> %s %s %s\n" % (
            " ".join(x.decode() for x in line.split(b" ")[:2]), sha,
            header(head, b"content-encoding"), header(head, b"x-amz-trailer"),
            st[1].decode() if len(st) > 1 else "none",
            m.group(1).decode() if m else "-", tag))
        if line.startswith(b"POST ") and b"uploadId=" in line:
            logf.write("%s named=%d\n" % (
                " ".join(x.decode() for x in line.split(b" ")[:2]),
                body.count(b"<Checksum")))
    except (ssl.SSLError, OSError):
        pass
    finally:
        try:
            t.close()
        except OSError:
            pass


serve_sockets(serve)
