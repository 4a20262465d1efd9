# The release bundle (.tar.gz, ustar) streamed through deflate.DeflateIO:
# wanted entries go through the same hashing and staging as single files,
# the rest is skipped. Costs the 32 KB gzip window in RAM while it runs.
# deflate reads its input a byte per call through the Python stream, and
# each call allocates: a collection every 1 KB inflated bounds that garbage.
import gc
import io
import hashlib
import binascii
from ota import fsx
from ota.fetch import Hashers, part_name
from ota.log import Fail, ev


class _Tap(io.IOBase):
    # Hashes and counts the compressed bytes on their way to the inflater,
    # and reads no further than the declared size (plus one byte, to notice a longer body).
    def __init__(self, r, limit):
        self.r = r
        self.h = hashlib.sha256()
        self.n = 0
        self.limit = limit

    def readinto(self, buf):
        room = self.limit + 1 - self.n
        if room <= 0:
            raise Fail("too_large", "bundle is longer than the manifest says")
        if len(buf) > room:
            buf = memoryview(buf)[:room]
        n = self.r.readinto(buf)
        if n:
            self.h.update(buf if n == len(buf) else memoryview(buf)[:n])
            self.n += n
        return n

    def ioctl(self, req, arg):
        return 0


def _read_full(s, mv):
    got = 0
    while got < len(mv):
        n = s.readinto(mv[got:])
        if not n:
            break
        got += n
    return got


def _inflated(n, room):
    if n > room:
        raise Fail("inflate_limit", "bundle inflates beyond its files' sizes")


def fetch(rel, b, want, rel_files, extra):
    import deflate

    h = rel.headers(None)
    h["Accept-Encoding"] = "identity"  # the .tar.gz's own bytes, however its host labels them
    try:
        # ota.oci logs in again here if the registry refuses its token: the
        # window (extra) goes for that login and is taken again after it.
        r = rel.get(rel.bundle_url(b), h, spare=extra)
    except MemoryError:
        del extra[:]  # a stale reference to the list must not keep the window from the files one by one
        raise
    with r:
        if r.length > b["size"]:
            raise Fail("too_large", "server sends %d bytes for a %d-byte bundle" % (r.length, b["size"]))
        tap = _Tap(r, b["size"])
        z = deflate.DeflateIO(tap, deflate.GZIP)
        hdr = bytearray(512)
        hmv = memoryview(hdr)
        extra.pop()  # the block kept free for the window (updater._window)
        gc.collect()
        # The first header is inflated before anything else is built: the
        # 32 KB window is taken while the heap is least cut up.
        n = _read_full(z, hmv)
        wanted = {}
        for f in want:
            if not fsx.exists(fsx.STAGE + "/" + f["path"]):
                wanted[f["path"]] = f
        # The tar stream holds the release's files: a header and padding each,
        # the end blocks; inflating more than that is a gzip bomb.
        room = 1024 + 512
        for f in rel_files:
            room += 512 + ((f["size"] + 511) & ~511)
        buf = bytearray(512)
        mv = memoryview(buf)
        n_blocks = 0
        out_n = 0
        while True:
            if n < 512:
                raise Fail("network", "bundle cut")
            out_n += 512
            _inflated(out_n, room)
            if not any(hdr):
                break
            name = bytes(hdr[0:100]).split(b"\0")[0].decode()
            prefix = bytes(hdr[345:500]).split(b"\0")[0].decode()
            if prefix:
                name = prefix + "/" + name
            size = int(bytes(hdr[124:136]).split(b"\0")[0].strip() or b"0", 8)
            kind = hdr[156]
            f = wanted.get(name) if kind in (0, 48) else None
            left = (size + 511) & ~511
            if f is not None and f["size"] != size:
                raise Fail("hash_mismatch", "bundle entry %s has the wrong size" % name[:60])
            h = Hashers(f) if f else None
            out = None
            if f:
                fsx.makedirs(part_name(f))
                out = open(fsx.p(part_name(f)), "wb")
            try:
                done = 0
                while left:
                    n = _read_full(z, mv[: min(512, left)])
                    if not n:
                        raise Fail("network", "bundle cut")
                    left -= n
                    out_n += n
                    _inflated(out_n, room)
                    k = min(n, size - done)
                    if out and k > 0:
                        h.update(mv[:k])
                        out.write(mv[:k])
                    done += k
                    if n_blocks & 1:
                        gc.collect()
                    n_blocks += 1
            finally:
                if out:
                    out.close()
            if f:
                try:
                    h.check(f)
                except Fail:
                    fsx.remove(part_name(f))
                    raise
                fsx.move(part_name(f), fsx.STAGE + "/" + name)
                ev("progress", file=name, done=size, total=size)
            n = _read_full(z, hmv)
        while _read_full(tap, mv):
            pass  # the rest of the compressed stream, for its hash
        if tap.n != b["size"] or binascii.hexlify(tap.h.digest()).decode() != b["sha256"]:
            raise Fail("hash_mismatch", "bundle does not match the manifest")
