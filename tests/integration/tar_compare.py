#!/usr/bin/env python3
"""tar_compare.py REF OUT: the regular files `bsdtar -xf` extracted into REF
are in OUT with the same bytes, and OUT holds no other file.

OUT was written under the tar connector's keys: a name that is not valid
UTF-8 arrives percent-escaped (every invalid byte and every '%' as %XX), so
OUT's names are unescaped by that rule before they are compared.  Symlinks
are not compared (the connector skips them).  Exit 0 when equal, else 1;
the last line says how many files were compared."""
import hashlib
import os
import re
import sys


def unescape(b):
    raw = re.sub(rb'%([0-9A-F]{2})', lambda m: bytes([int(m.group(1), 16)]), b)
    try:
        raw.decode('utf-8')
        return b            # valid UTF-8 names are never escaped
    except UnicodeDecodeError:
        return raw


def files(root, decode):
    out = {}
    for dp, dn, fn in os.walk(root.encode()):
        dn[:] = [d for d in dn if d != b'.migrate-tmp']
        for f in fn:
            p = os.path.join(dp, f)
            if os.path.islink(p):
                continue
            rel = os.path.relpath(p, root.encode())
            h = hashlib.sha256()
            with open(p, 'rb') as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b''):
                    h.update(chunk)
            out[unescape(rel) if decode else rel] = h.hexdigest()
    return out


ref, got = files(sys.argv[1], False), files(sys.argv[2], True)
bad = 0
for k in sorted(set(ref) | set(got)):
    if ref.get(k) != got.get(k):
        print('# %r: bsdtar %s, connector %s' % (k, ref.get(k), got.get(k)))
        bad = 1
print('# %d files compared' % len(ref))
sys.exit(bad)
