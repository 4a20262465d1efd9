# Manifest rules shared by every source: paths, versions, expiry, schema.
import gc
from ota.log import Fail

_HEX = "0123456789abcdef"


def check_path(p):
    # Same rule as the host (src/core/paths.ts): also at most 16 folders deep
    # (rmtree and the swap recurse per level), 255 bytes a name (LittleFS's and
    # FAT's limit), and no combining mark (an NFD twin of a composed name),
    # zero-width or direction control (a name that reads as another).
    if not isinstance(p, str) or not p:
        raise Fail("bad_path", "empty path")
    for c in p:
        o = ord(c)
        if (
            o < 32
            or o == 127
            or c == "\\"
            or 0x300 <= o < 0x370
            or 0x200B <= o <= 0x200F
            or 0x202A <= o <= 0x202E
            or 0x2060 <= o <= 0x2064
            or o == 0xFEFF
        ):
            raise Fail("bad_path", "bad character in " + repr(p)[:60])
    if p[0] == "/" or (len(p) > 1 and p[1] == ":"):
        raise Fail("bad_path", "absolute path " + p[:60])
    parts = p.split("/")
    if len(parts) > 16:
        raise Fail("bad_path", "bad segment in " + p[:60])
    for s in parts:
        if s in ("", ".", ".."):
            raise Fail("bad_path", "bad segment in " + p[:60])
        if len(s) > 85 and len(s.encode()) > 255:
            raise Fail("bad_path", "bad segment in " + p[:60])
    return p


def check_board_path(p):
    # A path a release may write, delete or keep: well formed and not one of
    # the board's own files (ota.reserved, compared case-insensitively).
    from ota.reserved import reserved

    check_path(p)
    r = reserved(p)
    if r:
        raise Fail("reserved_path", "%s is the board's own (%s)" % (p[:60], r))
    return p


def conflicts(files):
    # Catches paths that cannot all exist on one filesystem before anything is
    # downloaded: duplicates (case-folded, as FAT compares), and a file that
    # is also another file's folder ("main.py" and "main.py/x"). One sorted
    # list, no hash sets: their tables grow in big contiguous blocks, which a
    # heap full of manifest entries may no longer have. With "/" as \x01 (no
    # path holds control characters) a path sorts right before what lies under it.
    from ota import fsx

    keys = []
    for i, f in enumerate(files):
        fsx.tidy(i)
        keys.append(f["path"].lower().replace("/", "\x01"))
    keys.sort()
    for i in range(1, len(keys)):
        a, b = keys[i - 1], keys[i]
        if a == b:
            raise Fail("path_conflict", "%s is listed twice (letter case ignored)" % a.replace("\x01", "/")[:60])
        if b.startswith(a + "\x01"):
            raise Fail("path_conflict", "%s is both a file and a folder" % a.replace("\x01", "/")[:60])
    return keys


def _clashes(keys, p):
    # Whether deleting p would remove a release file (p is one, or holds one).
    k = p.lower().replace("/", "\x01")
    for x in keys:
        if x == k or x.startswith(k + "\x01"):
            return True
    return False


def _hex(s, n):
    if not isinstance(s, str) or len(s) != n:
        return False
    for c in s:
        if c not in _HEX:
            return False
    return True


def parse_version(v):
    # (major, minor, patch, prerelease ids) or None; a leading "v" is a tag.
    # The host's SEMVER pattern (src/core/version.ts), written out: three
    # numbers, then "-" pre-release and "+" build identifiers of [0-9A-Za-z-],
    # none empty; numbers (the three, numeric pre-release ids) without a
    # leading zero.
    if not isinstance(v, str) or len(v) > 100:
        return None
    if v[:1] == "v":
        v = v[1:]
    i = v.find("+")
    extra = v[i + 1 :] if i >= 0 else None
    v = v[:i] if i >= 0 else v
    i = v.find("-")
    pre = v[i + 1 :] if i >= 0 else None
    parts = [(v[:i] if i >= 0 else v).split(".")]
    for s in (pre, extra):
        parts.append([] if s is None else s.split("."))
    if len(parts[0]) != 3:
        return None
    for k in range(3):
        for x in parts[k]:
            if not x or k < 2 and x.isdigit() and x != "0" and x[0] == "0":
                return None
            for c in x:
                if not ("0" <= c <= "9" or k and ("a" <= c <= "z" or "A" <= c <= "Z" or c == "-")):
                    return None
    return [int(x) for x in parts[0]], parts[1]


def _cmp_id(a, b):
    an, bn = a.isdigit(), b.isdigit()
    if an and bn:
        a, b = int(a), int(b)
    elif an:
        return -1
    elif bn:
        return 1
    return (a > b) - (a < b)


def compare(a, b):
    # Semver precedence, as src/core/version.ts.
    va, vb = parse_version(a), parse_version(b)
    if va is None or vb is None:
        return 0 if a == b else None
    for x, y in zip(va[0], vb[0]):
        if x != y:
            return 1 if x > y else -1
    pa, pb = va[1], vb[1]
    if not pa or not pb:
        return 0 if len(pa) == len(pb) else (1 if not pa else -1)
    for x, y in zip(pa, pb):
        c = _cmp_id(x, y)
        if c:
            return c
    return (len(pa) > len(pb)) - (len(pa) < len(pb))


def _listed(files, p):
    found = False
    for f in files:
        found = found or f["path"] == p
    return found


_TOP = ("schema", "version", "name", "created", "expires")
_FILE = ("path", "size", "sha1", "sha256")
_LISTS = ("delete", "keep")
_MAPS = ("hooks", "bundle", "firmware")


def parse(data):
    # Parses verified manifest bytes; see parse_stream.
    import io

    return parse_stream(io.BytesIO(data))


def parse_file(path):
    from ota import fsx

    with open(fsx.p(path), "rb") as f:
        return parse_stream(f)


ENTRIES = ".ota/entries"  # the parsed manifest's files, one line each, while an update runs


class Files:
    # The manifest's file list on flash (ENTRIES), one line per file: "size
    # sha1 sha256 path" (paths hold no control characters). Iterating yields
    # one entry dict at a time, so RAM never holds the whole release. The file
    # is open only while 16 lines are read, never across a yield: a loop that
    # stops early or raises leaves no handle open on a file about to be removed.
    def __init__(self):
        self.n = 0

    def __iter__(self):
        from ota import fsx

        pos = 0
        while True:
            gc.collect()  # the last 16 entries' garbage
            with open(fsx.p(ENTRIES)) as f:
                f.seek(pos)
                lines = [f.readline() for _ in range(16)]
                pos = f.tell()
            for line in lines:
                if not line:
                    return
                sz, s1, s2, path = line.rstrip("\n").split(" ", 3)
                yield {"path": path, "size": int(sz), "sha1": s1, "sha256": s2}

    def __len__(self):
        return self.n


def parse_stream(reader):
    # Parses a verified manifest from a stream (the file on flash) with the
    # streaming scanner: no buffer holds the whole document. Each file entry
    # is checked as it ends and written to ENTRIES; m["files"] reads them
    # back one at a time (Files), so the number of files is bounded by flash,
    # not RAM. Then checks every rule; returns the dict.
    from ota import fsx
    from ota.jscan import Scanner, END

    m = {}
    files = Files()
    cur = {}
    state = {"root": False}
    found = []  # top-level keys met
    fsx.makedirs(ENTRIES)
    out = open(fsx.p(ENTRIES), "w")

    def bad(what):
        raise Fail("bad_manifest", what)

    def cb(path, v):
        n = len(path)
        if n == 0:
            if v is not END:
                bad("manifest is not an object")
            state["root"] = True
            return
        k = path[0]
        if not isinstance(k, str):
            bad("manifest is not an object")
        if n == 1:
            # A key given twice: parsers differ on which one counts (the host's
            # JSON.parse takes the last), so a signed manifest must not have one.
            if k in found:
                bad("duplicate key " + k[:40])
            found.append(k)
        if k == "files":
            if n == 1:
                if v is not END:
                    bad("files missing")
                m["files"] = files
            elif not isinstance(path[1], int):
                bad("files is not a list")
            elif n == 2:
                if v is not END:
                    bad("bad file entry")
                if (
                    files.n >= 1000
                ):  # their paths are held in RAM while checked (conflicts); src/core/manifest.ts MAX_FILES
                    raise Fail("too_many_files", "over 1000 files")
                check_file(cur)
                out.write("%d %s %s %s\n" % (cur["size"], cur["sha1"], cur["sha256"], cur["path"]))
                cur.clear()
                fsx.tidy(files.n)  # each check makes path pieces
                files.n += 1
            elif n == 3 and path[2] in _FILE:
                if path[2] in cur:
                    bad("duplicate key " + path[2])
                cur[path[2]] = v
        elif k in _LISTS:
            lst = m.setdefault(k, [])
            if n == 1:
                if v is not END:
                    m[k] = v  # not a list: refused by the checks
            elif n != 2 or not isinstance(path[1], int) or v is END or not isinstance(lst, list):
                bad(k + " is not a list of paths")
            else:
                lst.append(v)
        elif k in _MAPS:
            if n == 1:
                if v is END:
                    m.setdefault(k, {})
                else:
                    m[k] = v
            elif n == 2 and isinstance(path[1], str):
                d = m.setdefault(k, {})
                if not isinstance(d, dict) or path[1] in d:
                    bad("duplicate key " + k)
                d[path[1]] = v
            else:
                bad("bad %s entry" % k)
        elif n == 1 and k in _TOP and v is not END:
            m[k] = v

    try:
        with out:
            Scanner(reader, cb, 1 << 30, False).run()  # the size was bounded when it was saved
        if not state["root"]:
            bad("manifest is not an object")
        return check(m)
    except BaseException:
        fsx.remove(ENTRIES)
        raise


def check_file(f):
    # One file entry: a board path, a size, both hashes.
    if not isinstance(f, dict):
        raise Fail("bad_manifest", "bad file entry")
    check_board_path(f.get("path"))
    sz = f.get("size")
    if not isinstance(sz, int) or isinstance(sz, bool) or sz < 0:
        raise Fail("bad_manifest", "bad size for " + f["path"][:60])
    if not _hex(f.get("sha1"), 40) or not _hex(f.get("sha256"), 64):
        raise Fail("bad_manifest", "bad hash for " + f["path"][:60])


def check(m):
    # Every rule of a parsed manifest (dict); returns it.
    schema = m.get("schema")
    if not isinstance(schema, int):
        raise Fail("bad_manifest", "schema missing")
    if schema > 1:
        raise Fail("schema_unsupported", "manifest schema %d is newer than this updater" % schema)
    if parse_version(m.get("version")) is None:
        raise Fail("bad_manifest", "bad version")
    files = m.get("files")
    if not isinstance(files, Files):
        raise Fail("bad_manifest", "files missing")  # each entry was checked as it was parsed (check_file)
    gc.collect()
    keys = conflicts(files)
    for key in ("delete", "keep"):
        lst = m.get(key, [])
        if not isinstance(lst, list):
            raise Fail("bad_manifest", key + " is not a list")
        for q in lst:
            check_board_path(q)
            if key == "delete" and _clashes(keys, q):
                raise Fail("path_conflict", "delete %s removes a release file" % q[:60])
    del keys
    hooks = m.get("hooks") or {}
    if not isinstance(hooks, dict):
        raise Fail("bad_manifest", "hooks is not an object")
    for k in ("post_update", "rollback"):
        h = hooks.get(k)
        if h is not None and not _listed(files, check_board_path(h)):
            raise Fail("bad_manifest", "hook %s is not a release file" % k)
    b = m.get("bundle")
    if b is not None and (
        not isinstance(b, dict)
        or not isinstance(b.get("name"), str)
        or not isinstance(b.get("size"), int)
        or not _hex(b.get("sha256"), 64)
    ):
        raise Fail("bad_manifest", "bad bundle entry")
    fw = m.get("firmware")
    if fw is not None and (
        not isinstance(fw, dict)
        or not isinstance(fw.get("size"), int)
        or fw["size"] <= 0
        or not _hex(fw.get("sha256"), 64)
    ):
        raise Fail("bad_manifest", "bad firmware entry")
    if fw is not None:
        check_path(fw.get("name"))
    return m


def now_iso(http_date=None, floor=None):
    from ota import clock

    return clock.now_iso(http_date, floor)


def check_expiry(m, http_date, floor=None, strict=False):
    # floor: the newest `created` this board accepted; strict: an expiry that
    # cannot be decided (no clock, no Date, no floor) is refused.
    from ota import clock

    exp = m.get("expires")
    if exp is None:
        return
    if not clock.iso_ok(exp):
        raise Fail("bad_manifest", "bad expires")
    now = clock.now_iso(http_date, floor)
    if now is None:
        if strict:
            raise Fail("clock_unknown", "cannot tell whether the manifest expired: the board has no clock")
        return
    if exp[:19] <= now[:19]:
        raise Fail("expired", "manifest expired " + exp)
