# A streaming JSON scanner: GitHub's answers (releases with every asset,
# recursive trees) are too big to json.loads on a board with ~100 KB free.
# It calls cb(path, value) for each scalar, where path lists the keys and
# indexes leading to it, and cb(path, END) when an object or array closes.
# Strings longer than MAXS bytes are cut (no field we read is that long).
# Each value read makes a little garbage: collected every _GC_EVERY bytes.
import gc
from ota.log import Fail
from micropython import const

END = object()
MAXS = const(400)
_GC_EVERY = const(2048)


_MAX_DOC = const(2 * 1024 * 1024)  # bytes of one API answer (a release with hundreds of assets is ~0.5 MB)
_MAX_DEPTH = const(32)
_MAX_LIT = const(64)


def nesting(b):
    # Refuses (bad_manifest) a whole document in RAM nested deeper than the
    # Scanner takes, before json.loads: it builds every level it meets, and
    # 5000 levels of "[" in a few KB would take more heap than a board has.
    k = 0  # nesting depth
    q = flag = False  # in a string, after a backslash
    for c in b:
        if q:
            if flag:
                flag = False
            elif c == 92:
                flag = True
            elif c == 34:
                q = False
        elif c == 34:
            q = True
        elif c == 91 or c == 123:
            k += 1
            if k > _MAX_DEPTH:
                raise Fail("bad_manifest", "JSON nested too deep")
        elif c == 93 or c == 125:
            k -= 1


def loads(b):
    # json.loads of a whole document in RAM (bytes), nesting checked first:
    # every document a board parses whole goes through here or read_all.
    import json

    nesting(b)
    return json.loads(b)


class Scanner:
    # limit: bytes the document may take; an endless answer stops there.
    def __init__(self, reader, cb, limit=_MAX_DOC, cut=True, stop=None):
        # cut: strings over MAXS are cut (API answers) or refused (manifests).
        # stop(key): True ends run() right after a top-level `"key":`; the
        # value's raw bytes are then read with readinto, and run() goes on.
        self.cut = cut
        self.stop = stop
        self.path = []
        self.kinds = []  # True: object, False: array
        self.want_key = False
        self.r = reader
        self.cb = cb
        self.limit = limit
        self.total = 0
        self.buf = bytearray(256)
        self.mv = memoryview(self.buf)
        self.i = 0
        self.n = 0
        self.since = 0

    def _c(self):
        if self.i >= self.n:
            if self.since >= _GC_EVERY:
                gc.collect()
                self.since = 0
            self.n = self.r.readinto(self.mv)
            self.since += self.n
            self.total += self.n
            if self.total > self.limit:
                raise Fail("doc_too_large", "JSON answer over %d bytes" % self.limit)
            self.i = 0
            if not self.n:
                return -1
        c = self.buf[self.i]
        self.i += 1
        return c

    def _ws(self):
        c = self._c()
        while c in (32, 9, 10, 13):
            c = self._c()
        return c

    def _str(self):
        out = bytearray()
        while True:
            c = self._c()
            if c == 34:
                return out.decode()
            if c == -1:
                raise Fail("bad_manifest", "JSON string cut")
            if c == 92:
                c = self._c()
                if c == 117:
                    try:
                        u = int(bytes(self._c() for _ in range(4)), 16)
                    except ValueError:
                        raise Fail("bad_manifest", "bad JSON escape")
                    ch = chr(u) if u < 0xD800 or u > 0xDFFF else "?"
                    if len(out) < MAXS:
                        out += ch.encode()
                    continue
                c = {98: 8, 102: 12, 110: 10, 114: 13, 116: 9}.get(c, c)
            if len(out) < MAXS:
                out.append(c)
            elif not self.cut:
                raise Fail("bad_manifest", "a JSON string over %d bytes" % MAXS)

    def _lit(self, c):
        out = bytearray()
        while c not in (44, 93, 125, 32, 9, 10, 13, -1):
            if len(out) >= _MAX_LIT:
                raise Fail("bad_manifest", "bad JSON literal")
            out.append(c)
            c = self._c()
        if c != -1:
            self.i -= 1
        s = out.decode()
        if s == "true":
            return True
        if s == "false":
            return False
        if s == "null":
            return None
        try:
            return float(s) if "." in s or "e" in s or "E" in s else int(s)
        except ValueError:
            raise Fail("bad_manifest", "bad JSON literal")

    def readinto(self, buf):
        # The stream from where run() stopped: the bytes it holds, then the reader's.
        if self.i < self.n:
            k = min(len(buf), self.n - self.i)
            buf[:k] = self.mv[self.i : self.i + k]
            self.i += k
            return k
        return self.r.readinto(buf)

    def run(self):
        # True when stopped at a key (see stop), None at the document's end.
        path = self.path
        kinds = self.kinds
        want_key = self.want_key
        while True:
            c = self._ws()
            if c == -1:
                if kinds:
                    raise Fail("bad_manifest", "JSON cut")
                return
            if (c == 123 or c == 91) and len(kinds) >= _MAX_DEPTH:
                raise Fail("bad_manifest", "JSON nested too deep")
            if c == 123:
                kinds.append(True)
                path.append(None)
                want_key = True
            elif c == 91:
                kinds.append(False)
                path.append(0)
            elif c == 125 or c == 93:
                if not kinds:
                    raise Fail("bad_manifest", "bad JSON")
                kinds.pop()
                path.pop()
                self.cb(path, END)
                want_key = False
            elif c == 44:
                if kinds and kinds[-1]:
                    want_key = True
                elif kinds:
                    path[-1] += 1
            elif c == 58:
                pass
            elif c == 34:
                s = self._str()
                if want_key:
                    path[-1] = s
                    want_key = False
                    if self.stop and len(kinds) == 1 and self.stop(s):
                        if self._c() != 58:
                            raise Fail("bad_manifest", "bad JSON")
                        self.want_key = False
                        return True
                else:
                    self.cb(path, s)
            else:
                self.cb(path, self._lit(c))
