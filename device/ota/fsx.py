# Filesystem helpers. Paths are relative to the board's "/": plain relative
# paths while the working directory is "/" (as after boot), else prefixed.
# The updater renames nothing: a FAT rename cut halfway leaves two entries
# sharing clusters, a LittleFS move between folders cut halfway hides entries
# until the next write (docs/updater-swap.md). Files are written in place,
# copied and read back instead.
import os
import json

ROOT = "" if os.getcwd() == "/" else "/"
OTA = ".ota"
STAGE = ".ota/stage"
BACKUP = ".ota/backup"
PART = ".ota/part"  # where updaters before 0.2 downloaded; removed when found


def p(rel):
    return ROOT + rel


def exists(rel):
    try:
        os.stat(p(rel))
        return True
    except OSError:
        return False


def size(rel):
    try:
        return os.stat(p(rel))[6]
    except OSError:
        return -1


def is_dir(rel):
    try:
        return os.stat(p(rel))[0] & 0x4000 != 0
    except OSError:
        return False


def makedirs(rel):
    # Creates every missing parent directory of the file `rel`.
    i = rel.find("/")
    while i > 0:
        d = rel[:i]
        if not exists(d):
            os.mkdir(p(d))
        i = rel.find("/", i + 1)


def remove(rel):
    try:
        os.remove(p(rel))
    except OSError:
        pass


def rmtree(rel):
    if not is_dir(rel):
        remove(rel)
        return
    for e in os.ilistdir(p(rel)):
        rmtree(rel + "/" + e[0])
    os.rmdir(p(rel))


def walk(rel, out, base=""):
    # Appends every file path under `rel`, relative to it.
    if not is_dir(rel):
        return out
    for e in os.ilistdir(p(rel)):
        sub = base + e[0]
        if e[1] & 0x4000:
            walk(rel + "/" + e[0], out, sub + "/")
        else:
            out.append(sub)
    return out


def move(src, dst):
    # Renames, replacing dst (FAT's rename refuses an existing target). Only
    # for files nothing depends on yet (see the header); same name: nothing.
    if src == dst:
        return
    makedirs(dst)
    try:
        os.rename(p(src), p(dst))
    except OSError:
        if not exists(src):
            raise
        remove(dst)
        os.rename(p(src), p(dst))


def feed(rel, h, buf):
    # A file's bytes to h.update, read through buf: the one file-hashing loop.
    mv = memoryview(buf)
    with open(p(rel), "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                return
            h.update(buf if n == len(buf) else mv[:n])


def sha256(rel, buf):
    # SHA-256 (hex) of a file's bytes, read through buf.
    import hashlib
    import binascii

    h = hashlib.sha256()
    feed(rel, h, buf)
    return binascii.hexlify(h.digest()).decode()


def tidy(i):
    # Loops over a release's files make path strings and stat results per
    # file: a collection every 8 files keeps hundreds of files from piling
    # them up (the one such rule: journal, updater and manifest use it).
    if i & 7 == 7:
        import gc

        gc.collect()


def copy(src, dst, buf):
    # Copies src to dst (written in place: fresh clusters, no rename) and
    # reads dst back; returns the SHA-256 of the bytes copied.
    import hashlib
    import binascii
    from ota.log import Fail

    makedirs(dst)
    h = hashlib.sha256()
    mv = memoryview(buf)
    with open(p(src), "rb") as s:
        with open(p(dst), "wb") as d:
            while True:
                n = s.readinto(buf)
                if not n:
                    break
                c = buf if n == len(buf) else mv[:n]
                h.update(c)
                d.write(c)
    want = binascii.hexlify(h.digest()).decode()
    if sha256(dst, buf) != want:
        raise Fail("io", "%s does not read back as written" % dst[:60])
    return want


def shadow(rel):
    # Where write_json keeps its second copy of rel.
    return (rel if rel.startswith(OTA + "/") else OTA + "/" + rel) + ".1"


def read_json(rel):
    # rel; when rel is there but not a whole document (a cut while it was
    # written), its shadow. A missing rel falls back to the `.tmp` that
    # updaters before 0.2 renamed into place.
    for name in (rel, shadow(rel) if exists(rel) else rel + ".tmp"):
        try:
            with open(p(name)) as f:
                return json.load(f)
        except (OSError, ValueError):
            pass
    return None


def write_json(rel, obj):
    # Two copies, each written in place: the shadow, then rel. A cut while
    # rel is written leaves the shadow whole; one while the shadow is
    # written leaves rel as it was. No rename (see the header).
    data = json.dumps(obj)  # one write: json.dump writes token by token
    for name in (shadow(rel), rel):
        makedirs(name)
        with open(p(name), "w") as f:
            f.write(data)


def free_bytes():
    s = os.statvfs("/")
    return s[0] * s[4]


def total_bytes():
    s = os.statvfs("/")
    return s[0] * s[2]
