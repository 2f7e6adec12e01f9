"""Archives the tar tests make at run time, one home for the pieces that
tar_connector.sh and tar_migrate.sh share.

A script runs its here-document through t_tar_gen (tests/lib.sh), which
imports these and sets g (the folder) and rnd:

    t_tar_gen "$G" SEED <<'PY'
    add(...)

Content comes from the caller's random.Random(seed), drawn in a fixed
order, so a script gets the same archives on every run.
"""
import io
import os
import tarfile

MTIME = 1600000000


def add(t, name, data=b'', **kw):
    """Adds one entry to the open tarfile t: a regular file holding data,
    or, with type= (and linkname=), a link, FIFO, ...; any other TarInfo
    field may be set the same way."""
    ti = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(ti, k, v)
    ti.size = len(data) if ti.type == tarfile.REGTYPE else 0
    ti.mtime = MTIME
    t.addfile(ti, io.BytesIO(data) if ti.type == tarfile.REGTYPE else None)


def pax_tar(path):
    """A PAX tar open for writing whose names may hold any byte: a name
    given as str with surrogate escapes (b'..'.decode('utf-8',
    'surrogateescape')) is written back as the original bytes."""
    return tarfile.open(path, 'w', format=tarfile.PAX_FORMAT,
                        encoding='utf-8', errors='surrogateescape')


def full_and_cut(g, rnd):
    """full.tgz (8 entries of 64 KiB) and cut.tgz, its first 60%: a
    gzip'd tar that ends in the middle of an entry."""
    full = os.path.join(g, 'full.tgz')
    with tarfile.open(full, 'w:gz') as t:
        for i in range(8):
            add(t, 'part/f%d' % i, rnd.randbytes(64 * 1024))
    with open(full, 'rb') as f:
        data = f.read()
    with open(os.path.join(g, 'cut.tgz'), 'wb') as f:
        f.write(data[:len(data) * 6 // 10])


def shuffled(g, rnd, symlink=True):
    """shuffled.tgz: 400 small entries far out of key order, four of 5 MiB
    (past the tar connector's per-entry cache limit, 4 MiB) among them, a
    hard link at the end and, with symlink, a symbolic link.  Returns the
    entry names in archive order (without the big ones and the links)."""
    names = ['d%02d/f%03d' % (rnd.randrange(12), i) for i in range(400)]
    rnd.shuffle(names)
    with tarfile.open(os.path.join(g, 'shuffled.tgz'), 'w:gz') as t:
        for i, n in enumerate(names):
            add(t, n, rnd.randbytes(rnd.randrange(0, 20000)))
            if i % 100 == 50:
                add(t, 'big/%03d' % (400 - i), rnd.randbytes(5 << 20))
        add(t, 'zz-hard', type=tarfile.LNKTYPE, linkname=names[7])
        if symlink:
            add(t, 'aa-sym', type=tarfile.SYMTYPE, linkname=names[9])
    return names
