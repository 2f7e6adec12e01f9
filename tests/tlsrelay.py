#!/usr/bin/env python3
"""tlsrelay.py UP-HOST UP-PORT CERT KEY - a TLS front for a plain HTTP
server on 127.0.0.1: the tests reach RGW over https through it (TLS
verification, SSE-C, which is refused over http).  Prints its port."""
import os, socket, ssl, sys, threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from httprelay import pipe, serve_sockets  # noqa: E402

up = (sys.argv[1], int(sys.argv[2]))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[3], sys.argv[4])

def serve(c):
    try:
        t = ctx.wrap_socket(c, server_side=True)
    except (ssl.SSLError, OSError):
        c.close()
        return
    u = socket.create_connection(up)
    threading.Thread(target=pipe, args=(u, t), daemon=True).start()
    pipe(t, u)

serve_sockets(serve)
