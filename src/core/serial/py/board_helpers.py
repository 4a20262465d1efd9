# The helpers the host runs in the board's raw REPL globals at each session
# start (src/core/serial/board-helpers.ts: sent once, comments and indentation
# stripped, then cached on the board, see docs/protocols.md, "Serial"). Names start with _ota_ to stay out of the user's way. Everything
# streams through small buffers: boards have about 100 KB of heap.
# The protocol they speak is in docs/protocols.md, "Serial".
import os
import sys
import gc
import binascii as _ota_binascii
import hashlib as _ota_hashlib
from micropython import const

try:
    import deflate as _ota_deflate
    import io as _ota_io
except ImportError:
    _ota_deflate = None

# Largest encoded block _ota_sync reads at once: STREAM_BLOCK on the host.
_OTA_BLOCK = const(4096)
# The preset dictionary (src/core/serial/deflate-dictionary.ts): the host writes it in here.
_OTA_DICT = b""
_OTA_DIR = const(0x4000)


def _ota_sha256(p):
    # Hex SHA-256 of a file, read in 512-byte pieces.
    h = _ota_hashlib.sha256()
    b = bytearray(512)
    m = memoryview(b)
    f = open(p, "rb")
    while 1:
        n = f.readinto(b)
        if not n:
            break
        h.update(m[:n])
    f.close()
    return _ota_binascii.hexlify(h.digest()).decode()


def _ota_join(d, n):
    return d + n if d.endswith("/") else d + "/" + n


def _ota_list(d, h):
    # Recursive listing: lines "D 0 - /dir" and "F size sha256|- /path".
    for e in os.ilistdir(d):
        p = _ota_join(d, e[0])
        if e[1] & _OTA_DIR:
            print("D 0 -", p)
            _ota_list(p, h)
        else:
            print("F", os.stat(p)[6], _ota_sha256(p) if h else "-", p)


def _ota_stat(ps):
    # For each path, in order, a line "size sha256" ("-" for a folder's hash), or "-" when missing.
    for p in ps:
        try:
            s = os.stat(p)
            print(s[6], "-" if s[0] & _OTA_DIR else _ota_sha256(p))
        except OSError:
            print("-")


def _ota_mkdirs(p):
    q = ""
    for s in p.split("/"):
        if s:
            q += "/" + s
            try:
                os.mkdir(q)
            except OSError:
                if not os.stat(q)[0] & _OTA_DIR:
                    raise


def _ota_remove(p):
    # rm -r; a missing path is fine.
    try:
        m = os.stat(p)[0]
    except OSError:
        return
    if m & _OTA_DIR:
        for e in list(os.ilistdir(p)):
            _ota_remove(_ota_join(p, e[0]))
        os.rmdir(p)
    else:
        os.remove(p)


# Writes never rename over a file (a FAT rename cut halfway cross-links two
# entries: docs/updater-swap.md). Files are staged under _OTA_STAGE + path and
# checked there; _ota_done writes the marker _OTA_MARK ({"files": {path: sha256},
# "remove": [path]}) last, then runs the recovery script (device/install.py,
# kept on the board as _OTA_REC_PATH), which copies each staged file whose live
# copy differs in place, reads it back, then drops the marker. A cut before the
# marker leaves every old file; after it, the push is finished: at the next boot,
# before any user code (boot.py runs the same script while the marker or
# _OTA_NEW is there), or at the next session's start. Reserved paths (the
# updater's install staging under /.ota/, boot.py) are not a push's: written in
# place, with no marker, whose recovery would refuse them.
# The script's SHA-256, the helpers' cache folder and the script's list of the
# files in /.ota that say something was cut short (its _OTA_MARKS: the push's
# marker, its new-file list, boot.py's lines' marker): _OTA_REC, put before
# these helpers by the host.
_OTA_REC_SHA, _OTA_CACHE, _OTA_MARKS = _OTA_REC  # noqa: F821  # pyright: ignore[reportUndefinedVariable]
_OTA_STAGE = "/.ota/push"
# Files that did not exist are written straight to their place (no old content to keep), once
# the list of them, _OTA_NEW, is on flash: a cut before the marker removes them again.
_OTA_MARK, _OTA_NEW = "/.ota/" + _OTA_MARKS[0], "/.ota/" + _OTA_MARKS[1]
_OTA_REC_PATH = "/.ota/recover.py"
# Largest marker the script reads: its _OTA_MARK_MAX.
_OTA_MARK_MAX = const(32768)
_ota_plan = {}
_ota_ready = 0


def _ota_direct(p):
    return p.split("/")[1].lower() in ("ota_config.json", "version.json", "boot.py", ".ota", "ota")


def _ota_flags():
    # Whether something the script finishes was cut short: one of its marks is on flash.
    try:
        return set(_OTA_MARKS) & set(os.listdir("/.ota"))
    except OSError:
        return 0


def _ota_rec(d, s=None):
    # Runs the recovery script on flash (or its text s), what boot.py runs: d 0
    # finishes or undoes an interrupted push (returns why it could not, or
    # None), 1 puts boot.py's lines that run it in front of boot.py.
    gc.collect()
    g = {"_ota_do": d}
    if s is None:
        f = open(_OTA_REC_PATH)
        s = f.read()
        f.close()
    exec(s, g)
    s = None
    gc.collect()
    return g.get("_ota_why")


def _ota_keep(t):
    # The host sends the script t with these helpers (cacheHelpers). It is
    # written in place when missing or another version, never while one of its
    # marks is on flash: boot.py would run a copy a cut tore. The copy there
    # then was checked whole before the mark was written, and stays; a missing
    # one (deleted since) is stood in for by t, run from RAM, before t is written.
    f = _ota_flags()
    try:
        if _ota_sha256(_OTA_REC_PATH) == _OTA_REC_SHA or f:
            return
    except OSError:
        if f:
            try:
                _ota_rec(0, t)
            except Exception:
                pass
            if _ota_flags():
                return
    _ota_mkdirs("/.ota")
    g = open(_OTA_REC_PATH, "wb")
    g.write(t)
    g.close()


def _ota_uncache():
    # The next session finds no cached helpers, and sends them with the script (_ota_keep).
    for e in os.listdir(_OTA_CACHE):
        _ota_remove(_ota_join(_OTA_CACHE, e))


def _ota_prep():
    # Before a push puts anything in place (nothing is interrupted now): the
    # script whole on flash, and boot.py's lines that run it.
    global _ota_ready
    try:
        ok = _ota_sha256(_OTA_REC_PATH) == _OTA_REC_SHA
    except OSError:
        ok = 0
    if not ok:
        _ota_uncache()
        raise OSError(_OTA_REC_PATH + " is missing or damaged; it is written again at the next connection")
    # The script puts boot.py's lines in when its start lacks them (what it checks too, compiled only then).
    try:
        f = open("/boot.py", "rb")
        ok = _OTA_REC_PATH.encode() in f.read(512)
        f.close()
    except OSError:
        ok = 0
    if not ok:
        _ota_rec(1)
    _ota_ready = 1


def _ota_stage(p, n=0):
    # Opens the staged copy of p (p itself when n: a new file, or a direct one) for writing, its folders made.
    global _ota_file
    t = p if n else _OTA_STAGE + p
    _ota_mkdirs(t[: t.rfind("/")])
    _ota_file = open(t, "wb")


def _ota_begin():
    # A new push: forget the last plan, and what a push cut before its marker staged.
    global _ota_plan, _ota_ready
    _ota_plan = {}
    _ota_ready = 0
    _ota_remove(_OTA_STAGE)


def _ota_open(p):
    # Prepared before the first staged file, as _ota_push does: putting boot.py's
    # lines in finishes with the recovery, which clears the stage.
    d = _ota_direct(p)
    if not d and not _ota_ready:
        _ota_prep()
    _ota_stage(p, d)


def _ota_write_b64(s):
    _ota_file.write(_ota_binascii.a2b_base64(s))


def _ota_write_b64_deflated(s):
    _ota_file.write(_ota_inflate(_ota_binascii.a2b_base64(s)))


def _ota_write_hex(s):
    _ota_file.write(bytes.fromhex(s))


def _ota_write_hex_deflated(s):
    _ota_file.write(_ota_inflate(bytes.fromhex(s)))


# Deflated data is primed with a preset dictionary of typical MicroPython text:
# the inflater first reads it as a non-final stored block (0, LEN and ~LEN
# little-endian), then the host's stream, whose back-references may reach into
# it. Its bytes come out first and are skipped.
def _ota_inflater(data):
    n = len(_OTA_DICT)
    h = bytes((0, n & 255, n >> 8, ~n & 255, ~n >> 8 & 255))
    return _ota_deflate.DeflateIO(_ota_io.BytesIO(h + _OTA_DICT + data), _ota_deflate.RAW, 12)


def _ota_inflate(data):
    return _ota_inflater(data).read()[len(_OTA_DICT) :]


def _ota_commit(p, h):
    # Only what reached flash counts: the staged copy's hash is checked.
    _ota_file.close()
    d = _ota_direct(p)
    g = _ota_sha256(p if d else _OTA_STAGE + p)
    if g != h:
        raise OSError("sha256 mismatch writing " + p + ": " + g)
    if not d:
        _ota_plan[p] = g


def _ota_done(rm):
    # The marker, then the copy into place (_ota_rec), then the paths rm go
    # (folders too: the marker's remove takes files only). First every live
    # folder is made, and a path that is a folder refused, so nothing after the
    # marker can fail for want of a place. Collected before, every 8 files and
    # around the marker: on some ports (the WebAssembly build) a failed
    # allocation does not collect by itself.
    global _ota_plan
    import json

    gc.collect()
    if _ota_plan:
        if not _ota_ready:
            _ota_prep()
        i = 0
        for p in _ota_plan:
            i += 1
            if not i & 7:
                gc.collect()
            _ota_mkdirs(p[: p.rfind("/")])
            try:
                if os.stat(p)[0] & _OTA_DIR:
                    raise OSError("a folder is in the way of " + p)
            except OSError as e:
                if e.args[0] != 2:
                    raise
        gc.collect()
        # Reserved paths among rm go after, directly, as they are written.
        t = json.dumps({"files": _ota_plan, "remove": [p for p in rm if not _ota_direct(p)]})
        if len(t) > _OTA_MARK_MAX:
            raise OSError(
                "a push of %d files is more than the board's marker holds: push fewer at once" % len(_ota_plan)
            )
        f = open(_OTA_MARK, "w")
        f.write(t)
        f.close()
        t = None
        _ota_plan = {}
        gc.collect()
        e = _ota_rec(0)
        if e:
            raise OSError(e)
    for p in rm:
        _ota_remove(p)


def _ota_resume():
    # At load and before each push: a push a cut interrupted is finished (or
    # undone, before its marker) first, and boot.py's lines half copied. One
    # that cannot be is dropped (the script logs nothing here), so the board
    # stays reachable; the next push writes again. With no script on flash
    # (deleted, or a cut between caching these helpers and writing it) the next
    # connection sends it.
    if _ota_flags():
        try:
            _ota_rec(0)
        except Exception:
            try:
                os.stat(_OTA_REC_PATH)
            except OSError:
                _ota_uncache()


def _ota_read_exactly(s, v):
    j = 0
    while j < len(v):
        j += s.readinto(v[j:])


def _ota_sync(r, ps, ns, hs, rm):
    # Makes files r + ps[i] hold ns[i] bytes whose SHA-256 starts with
    # hs[16 * i : 16 * i + 16], and removes r + rm[j]. First prints one line:
    # "1" for each file that differs ("0" if it already matches), a space, "1"
    # for each rm path that exists. Without sys.stdin.buffer it stops there (the
    # host sends statements). Else the differing files come as one stream and
    # are staged, checked, and copied in place (_ota_done): the board prints ACK
    # (0x06) when it waits for a block; the host sends c encoded bytes and 4 hex
    # digits, the next block's c (the first c comes unasked, after the line). A
    # block is "R" and raw bytes or "D" and raw deflate (_ota_inflater); its
    # bytes continue the files in order. 0x10 comes as 10 11 and 0x03 as 10 12,
    # so no data byte is a Ctrl-C.
    global _ota_plan
    _ota_resume()
    w = []
    a = []
    o = ""
    for i in range(len(ps)):
        if not ~i & 7:
            gc.collect()  # each file's hashing leaves buffers behind
        p = r + ps[i]
        try:
            y = os.stat(p)[6] == ns[i] and _ota_sha256(p)[:16] == hs[16 * i : 16 * i + 16]
        except OSError:
            y = 0
            a.append(i)
        o += "0" if y else "1"
        if not y:
            w.append(i)
    x = []
    o += " "
    for p in rm:
        try:
            os.stat(r + p)
            x.append(r + p)
            o += "1"
        except OSError:
            o += "0"
    print(o)
    if not hasattr(sys.stdin, "buffer") or not w and not x:
        return
    s = sys.stdin.buffer
    # How each file to write goes: 2 direct (a reserved path), 1 new (in place), 0 staged.
    dz = [2 if _ota_direct(r + ps[i]) else 1 if i in a else 0 for i in w]
    b = bytearray(_OTA_BLOCK + 4)
    m = memoryview(b)
    # An inflated block: the dictionary, then at most 4 KB.
    q = memoryview(bytearray(len(_OTA_DICT) + _OTA_BLOCK))
    try:
        _ota_begin()
        if dz and min(dz) < 2:
            _ota_prep()
        if 1 in dz:
            import json

            f = open(_OTA_NEW, "w")
            f.write(json.dumps([r + ps[w[j]] for j in range(len(w)) if dz[j] == 1]))
            f.close()
        k = -1
        left = 0
        d = b""
        o = 0
        c = -1
        while 1:
            while not left and k + 1 < len(w):
                if k >= 0:
                    _ota_check(r + ps[w[k]], hs, w[k], dz[k])
                    if not ~k & 7:
                        gc.collect()
                k += 1
                left = ns[w[k]]
                _ota_stage(r + ps[w[k]], dz[k])
            if not left:
                break
            if o == len(d):
                # Each block leaves a few 4 KB pieces of garbage: collected before the next, so 4 KB stays free in one piece.
                d = None
                gc.collect()
                if c < 0:
                    # The first block's c comes unasked, right after the line above.
                    _ota_read_exactly(s, m[:4])
                    c = int(bytes(m[:4]), 16)
                sys.stdout.write("\x06")
                _ota_read_exactly(s, m[: c + 4])
                d = bytes(m[1:c])
                t = b[0]
                c = int(bytes(m[c : c + 4]), 16)
                if b"\x10" in d:
                    d = d.replace(b"\x10\x12", b"\x03").replace(b"\x10\x11", b"\x10")
                if t == 68:
                    # Into one buffer made once: the dictionary, then at most 4 KB.
                    f = _ota_inflater(d)
                    d = None
                    n = 0
                    while 1:
                        j = f.readinto(q[n:])
                        if not j:
                            break
                        n += j
                    d = q[len(_OTA_DICT) : n]
                o = 0
            n = min(left, len(d) - o)
            _ota_file.write(memoryview(d)[o : o + n])
            o += n
            left -= n
        if k >= 0:
            _ota_check(r + ps[w[k]], hs, w[k], dz[k])
        _ota_done(x)
    except BaseException:
        # Interrupted (Ctrl-C, an error): new files go again, the rest stays old
        # (or, past the marker, the copy is finished).
        _ota_resume()
        raise


def _ota_check(p, hs, i, n):
    # The staged copy of p (p itself when n: a new file, 2: a direct one, not in the marker), as it
    # reached flash, against the host's hash.
    _ota_file.close()
    g = _ota_sha256(p if n else _OTA_STAGE + p)
    if g[:16] != hs[16 * i : 16 * i + 16]:
        raise OSError("sha256 mismatch writing " + p + ": " + g)
    if n != 2:
        _ota_plan[p] = g


def _ota_print_range(p, o, k, x):
    # Prints k bytes of a file from offset o, as hex (x) or base64 lines.
    b = bytearray(384)
    m = memoryview(b)
    f = open(p, "rb")
    f.seek(o)
    while k > 0:
        n = f.readinto(m[: min(k, 384)])
        if not n:
            break
        k -= n
        print(bytes(m[:n]).hex() if x else _ota_binascii.b2a_base64(m[:n]).decode().strip())
    f.close()


_ota_resume()
# Three flags for the host: deflate.DeflateIO present; sys.stdin.buffer present (raw streaming);
# binascii is micropython-lib's pure-Python one (its tables give it away) while bytes.fromhex is
# native, so hex decodes ~100x faster than base64, which outweighs its size on the wire.
print(
    1 if _ota_deflate and hasattr(_ota_deflate, "DeflateIO") else 0,
    1 if hasattr(sys.stdin, "buffer") else 0,
    1 if hasattr(_ota_binascii, "table_a2b_base64") and hasattr(bytes, "fromhex") else 0,
)
