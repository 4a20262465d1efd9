# Manifest rules shared by every source: paths, versions, expiry, schema.
import json
from ota.log import Fail

_HEX = "0123456789abcdef"


def check_path(p):
    # Same rule as the host (src/core/paths.ts).
    if not isinstance(p, str) or not p:
        raise Fail("bad_path", "empty path")
    for c in p:
        if ord(c) < 32 or c == "\x7f" or c == "\\":
            raise Fail("bad_path", "bad character in " + repr(p)[:60])
    if p[0] == "/" or (len(p) > 1 and p[1] == ":"):
        raise Fail("bad_path", "absolute path " + p[:60])
    parts = p.split("/")
    for s in parts:
        if s in ("", ".", ".."):
            raise Fail("bad_path", "bad segment in " + p[:60])
    if parts[0] == ".ota":
        raise Fail("bad_path", "path under .ota/: " + p[:60])
    return p


def _hex(s, n):
    if not isinstance(s, str) or len(s) != n:
        return False
    for c in s:
        if c not in _HEX:
            return False
    return True


def parse_version(v):
    # (major, minor, patch, prerelease ids) or None; a leading "v" is a tag.
    if not isinstance(v, str):
        return None
    if v[:1] == "v":
        v = v[1:]
    v = v.split("+")[0]
    i = v.find("-")
    pre = v[i + 1 :].split(".") if i >= 0 else []
    core = (v[:i] if i >= 0 else v).split(".")
    if len(core) != 3:
        return None
    try:
        nums = [int(x) for x in core]
    except ValueError:
        return None
    return nums, pre


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


def parse(data):
    # Parses verified manifest bytes and checks every rule; returns the dict.
    try:
        m = json.loads(data)
    except ValueError:
        raise Fail("bad_manifest", "manifest is not JSON")
    if not isinstance(m, dict):
        raise Fail("bad_manifest", "manifest is not an object")
    schema = m.get("schema")
    if not isinstance(schema, int):
        raise Fail("bad_manifest", "schema missing")
    if schema > 1:
        raise Fail("schema", "manifest schema %d is newer than this updater" % schema)
    if parse_version(m.get("version")) is None:
        raise Fail("bad_manifest", "bad version")
    files = m.get("files")
    if not isinstance(files, list):
        raise Fail("bad_manifest", "files missing")
    seen = set()
    for f in files:
        if not isinstance(f, dict):
            raise Fail("bad_manifest", "bad file entry")
        check_path(f.get("path"))
        if f["path"] in seen:
            raise Fail("bad_manifest", "duplicate " + f["path"][:60])
        seen.add(f["path"])
        sz = f.get("size")
        if not isinstance(sz, int) or sz < 0:
            raise Fail("bad_manifest", "bad size for " + f["path"][:60])
        if not _hex(f.get("sha1"), 40) or not _hex(f.get("sha256"), 64):
            raise Fail("bad_manifest", "bad hash for " + f["path"][:60])
    for key in ("delete", "keep"):
        lst = m.get(key, [])
        if not isinstance(lst, list):
            raise Fail("bad_manifest", key + " is not a list")
        for q in lst:
            check_path(q)
    hooks = m.get("hooks") or {}
    if not isinstance(hooks, dict):
        raise Fail("bad_manifest", "hooks is not an object")
    for k in ("post_update", "rollback"):
        h = hooks.get(k)
        if h is not None and check_path(h) not in seen:
            raise Fail("bad_manifest", "hook %s is not a release file" % k)
    b = m.get("bundle")
    if b is not None and (
        not isinstance(b, dict) or not isinstance(b.get("size"), int) or not _hex(b.get("sha256"), 64)
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


_MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec"


def now_iso(http_date=None):
    # UTC now as ISO text; a board whose clock was never set (year < 2024)
    # uses the release host's Date header instead; None when neither is known.
    import time

    t = time.gmtime()
    if t[0] >= 2024:
        return "%04d-%02d-%02dT%02d:%02d:%02dZ" % t[:6]
    if http_date:
        try:
            d = http_date.split()
            mo = _MONTHS.index(d[2]) // 3 + 1
            return "%s-%02d-%02dT%sZ" % (d[3], mo, int(d[1]), d[4])
        except (ValueError, IndexError):
            pass
    return None


def check_expiry(m, http_date):
    exp = m.get("expires")
    if exp is None:
        return
    now = now_iso(http_date)
    # ISO 8601 UTC texts of one shape order like the instants they name.
    if now is not None and exp[:19] <= now[:19]:
        raise Fail("expired", "manifest expired " + exp)
