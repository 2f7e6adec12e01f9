#!/usr/bin/env python3
"""A loopback stand-in for the EC2 instance metadata service (IMDSv2) and
the ECS/EKS container credentials endpoint, for tests/integration/
s3_creds.sh: no real one can run on this machine.

It speaks the documented protocols:
  IMDSv2  PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds
          (1-21600; missing or bad: 400) answers a token; GET
          /latest/meta-data/iam/security-credentials/ (the role name) and
          .../ROLE (the JSON) need X-aws-ec2-metadata-token: 401 without
          one or with an unknown one (IMDSv1 is refused, as with
          HttpTokens=required).
  container  GET /creds with Authorization equal to the expected token
          (403 otherwise) answers the JSON.
Each answer holds fresh keys (AccessKeyId ends with a counter) that
expire LIFETIME seconds later.  Every request is logged, one line, to
LOG (method, path, status) so the test can count refreshes.

usage: imds_server.py PORTFILE LOG LIFETIME ROLE AUTHTOKEN SECRETPREFIX
"""
import datetime
import http.server
import json
import secrets
import sys
import threading

portfile, logfile, lifetime, role, authtoken, secret_prefix = sys.argv[1:7]
lifetime = int(lifetime)
tokens = set()
count = [0]
lock = threading.Lock()


def creds():
    with lock:
        count[0] += 1
        n = count[0]
    exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=lifetime)
    return {
        "Code": "Success",
        "LastUpdated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Type": "AWS-HMAC",
        "AccessKeyId": "ASIATESTKEY%06d" % n,
        "SecretAccessKey": "%s%06d" % (secret_prefix, n),
        "Token": "%stoken%06d" % (secret_prefix, n),
        "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body=b"", ctype="text/plain"):
        with open(logfile, "a") as f:
            f.write("%s %s %d\n" % (self.command, self.path, status))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        if self.path != "/latest/api/token":
            return self.answer(404)
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.answer(400)
        t = secrets.token_hex(16)
        tokens.add(t)
        self.answer(200, t.encode())

    def do_GET(self):
        if self.path == "/creds":
            if self.headers.get("Authorization") != authtoken:
                return self.answer(403)
            return self.answer(200, json.dumps(creds()).encode(), "application/json")
        if not self.path.startswith("/latest/"):
            return self.answer(404)
        if self.headers.get("X-aws-ec2-metadata-token") not in tokens:
            return self.answer(401)
        base = "/latest/meta-data/iam/security-credentials/"
        if self.path == base:
            return self.answer(200, role.encode())
        if self.path == base + role:
            return self.answer(200, json.dumps(creds()).encode(), "application/json")
        self.answer(404)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
