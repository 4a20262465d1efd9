# Downloads into .ota/stage/<path> (resumable with Range), hashing every byte
# as it streams; a file whose git-blob SHA-1 or SHA-256 does not match the
# manifest is removed. Written in place, never renamed (docs/updater-swap.md).
import gc
import hashlib
import binascii
from micropython import const
from ota import fsx, sha1
from ota.log import Fail, ev

BUF = const(1024)
_STEP = const(16384)  # progress events at most once per this many bytes,
_EVENTS = const(8)  # and at most this many per file (each event allocates a line)


def _hex(h):
    return binascii.hexlify(h.digest()).decode()


class Hashers:
    # Git-blob SHA-1 and SHA-256 of a file's bytes. Without hashlib.sha1 a
    # file the manifest gives a SHA-256 for is checked by SHA-256 alone (the
    # pure-Python SHA-1 allocates a big integer per operation on 32-bit
    # ports); manifestless files (developer channel) need the SHA-1.
    def __init__(self, f):
        has256 = bool(f.get("sha256"))
        self.s1 = sha1.blob(f["size"]) if sha1.native or not has256 else None
        self.s256 = hashlib.sha256() if has256 else None

    def update(self, b):
        if self.s1:
            self.s1.update(b)
        if self.s256:
            self.s256.update(b)

    def check(self, f):
        if (self.s1 and _hex(self.s1) != f["sha1"]) or (self.s256 and _hex(self.s256) != f["sha256"]):
            raise Fail("hash_mismatch", "content of %s does not match the manifest" % f["path"][:60])


def part_name(f):
    return fsx.STAGE + "/" + f["path"]


def fetch(src, f, buf):
    # Downloads file f to the stage (resuming a partial download).
    size = f["size"]
    name = part_name(f)
    fsx.makedirs(name)
    have = max(0, fsx.size(name))
    if have > size:
        fsx.remove(name)
        have = 0
    h = Hashers(f)
    if have:
        fsx.feed(name, h, buf)  # an earlier partial download
    if have < size or size == 0:
        wbits = 0 if have else _window(size)
        r = src.open_file(f, have, wbits > 0)
        with r:
            if r.status == 200 and have:
                # The server ignored Range: start over.
                have = 0
                h = Hashers(f)
            elif r.status == 206:
                # The range asked for, from `have` to the end of this file; anything
                # else (a range never asked for, another offset or file) would splice
                # foreign bytes in. The partial is dropped too: the next try starts
                # clean instead of asking for the same range again.
                ch = r.header("content-range") or ""
                if not have or ch != "bytes %d-%d/%d" % (have, size - 1, size):
                    fsx.remove(name)
                    raise Fail("protocol", "%s: bad range %s" % (f["path"][:40], ch[:40]))
            gz = r.header("content-encoding") == "gzip"
            # Refused before a byte is read: a body longer than the file can be
            # (gzip: deflate's stored blocks add 5 bytes per 64 KB, plus the
            # header), or a plain one of another length (an error page).
            if r.length > (size + 64 + size // 4096 if gz else size - have):
                raise Fail("too_large", "%s: server sends %d bytes for %d" % (f["path"][:60], r.length, size - have))
            if not gz and 0 <= r.length < size - have:
                raise Fail(
                    "hash_mismatch", "%s: server sends %d bytes for %d" % (f["path"][:60], r.length, size - have)
                )
            body = r
            if gz:
                import deflate

                body = deflate.DeflateIO(r, deflate.GZIP, wbits)
            try:
                with open(fsx.p(name), "ab" if have else "wb") as out:
                    _copy(body, out, h, f, have, buf, body is not r)
            except Fail as e:
                if e.code in ("hash_mismatch", "too_large", "inflate_limit"):
                    fsx.remove(name)
                raise
    try:
        h.check(f)
    except Fail:
        fsx.remove(name)
        raise
    fsx.move(name, fsx.STAGE + "/" + f["path"])


def _window(size):
    # log2 of the inflate window a gzip transfer of this file needs (a back
    # reference never reaches before the file's start), or 0: no gzip. Only
    # files up to 8 KB: deflate reads its input a byte per call, and through
    # a Python stream each call allocates.
    if size > 8192:
        return 0
    try:
        import deflate  # noqa: F401
    except ImportError:
        return 0
    w = 9
    while (1 << w) < size:
        w += 1
    return w


def _copy(r, out, h, f, done, buf, inflating=False):
    # Full chunks go through as `buf` itself: no allocation per chunk, except
    # when inflating: deflate reads a compressed byte per call through the
    # Python stream, and each call allocates, so every chunk ends in a collection.
    mv = memoryview(buf)
    size = f["size"]
    step = max(_STEP, size // _EVENTS)
    mark = done
    while True:
        n = r.readinto(buf)
        if not n:
            break
        if done + n > size:
            # Stops at the declared size: an endless body, or a gzip bomb's output.
            code = "inflate_limit" if inflating else "too_large"
            raise Fail(code, "%s is longer than the manifest says" % f["path"][:60])
        chunk = buf if n == len(buf) else mv[:n]
        h.update(chunk)
        out.write(chunk)
        done += n
        if inflating:
            gc.collect()
        if done - mark >= step:
            mark = done
            ev("progress", file=f["path"], done=done, total=size)
    if done != size:
        raise Fail("network", "%s cut at %d of %d bytes" % (f["path"][:60], done, size))
    ev("progress", file=f["path"], done=done, total=size)
