#!/usr/bin/env python3
"""tlsrelay.py UP-HOST UP-PORT CERT KEY - a TLS front for a plain HTTP
server on 127.0.0.1: the tests reach RGW over https through it (TLS
verification, SSE-C, which is refused over http).  Prints its port."""
import socket, ssl, sys, threading

up = (sys.argv[1], int(sys.argv[2]))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[3], sys.argv[4])

def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

def serve(c):
    try:
        t = ctx.wrap_socket(c, server_side=True)
    except (ssl.SSLError, OSError):
        c.close()
        return
    u = socket.create_connection(up)
    threading.Thread(target=pipe, args=(u, t), daemon=True).start()
    pipe(t, u)

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
print(srv.getsockname()[1], flush=True)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
