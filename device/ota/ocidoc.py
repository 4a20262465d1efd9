# The OCI source's check (docs/protocols.md, "OCI registries"): the
# reference, the start of the registry's token flow (ota.ociauth), the
# tag's .board manifest (or the artifact itself) and the two documents up to
# the signature. ota.oci holds this module on its release, outside
# sys.modules, until manifest.json is taken: the download keeps only
# ota.oci's few methods in RAM, so a board pulling from a registry has the
# heap a static-host board has there (the bundle's 32 KB window needs one
# free block).
from micropython import const
from ota.log import Fail
from ota.source import quote, MAX_DOC

_ACCEPT = "application/vnd.oci.image.manifest.v1+json"
_TYPE = "application/vnd.micropython-ota.release.v1+json"
_TITLE = "org.opencontainers.image.title"
_VERSION = "org.opencontainers.image.version"
_DOCS = ("manifest.json", "manifest.json.sig")
_MANIFEST = "application/vnd.micropython-ota.manifest.v1+json"
_SIGNATURE = "application/vnd.micropython-ota.signature.v1+json"
HELD = ".ota/oci.json"  # manifest.json as read, until the updater takes it
_SIG_MAX = const(4096)  # an inline signature up to this size is read to RAM
_HEX = "0123456789abcdef"
_DESC = ("mediaType", "digest", "size")  # what a descriptor gives us
# Top-level properties read, each at most once ("sig" too: "manifest" ends the read).
_ONCE = ("artifactType", "annotations", "config", "layers", "version", "manifest", "sig")


def unload():
    # Out of sys.modules and the package: the caller keeps its reference, and
    # the code goes with it.
    import sys
    import ota

    sys.modules.pop("ota.ocidoc", None)
    if hasattr(ota, "ocidoc"):
        delattr(ota, "ocidoc")


def parse_ref(ref):
    # "[http(s)://]host[:port]/repo[:tag]" -> (base URL, repo, tag or None).
    scheme = None
    if ref.startswith("http://") or ref.startswith("https://"):
        scheme, ref = ref.split("://", 1)
    i = ref.find("/")
    if i <= 0:
        raise Fail("bad_config", "oci ref must be host/repository[:tag]")
    host, repo = ref[:i], ref[i + 1 :]
    tag = None
    j = repo.rfind(":")
    if j >= 0:
        repo, tag = repo[:j], repo[j + 1 :]
    if not repo or not tag and j >= 0 or "@" in repo or ".." in repo:
        raise Fail("bad_config", "oci ref must be host/repository[:tag]")
    if scheme is None:
        h = host.split(":")[0]
        scheme = "http" if h in ("localhost", "127.0.0.1") else "https"
    if host == "docker.io":
        host = "registry-1.docker.io"
    return scheme + "://" + host, repo, tag


def latest(rel, etag):
    cfg = rel.cfg
    rel.base, rel.repo, tag = parse_ref(cfg["ref"])
    ch = cfg.get("channel", "stable")
    rel.tag = tag or (cfg.get("tag") if ch == "tag" else ch)
    rel.v2 = rel.base + "/v2/" + rel.repo
    if not rel.tag:
        raise Fail("bad_config", "channel tag needs tag")
    from ota.oci import code

    code("ociauth").resume(rel)
    h = {"Accept": _ACCEPT}
    if etag:
        h["If-None-Match"] = etag
    # The tag's .board partner holds all a board needs in a few hundred
    # bytes; an artifact pushed without one (an older publisher, oras by
    # hand) is read itself, up to its manifest.json layers.
    r = rel.get(rel.v2 + "/manifests/" + quote(rel.tag + ".board"), h, (200, 304, 404))
    if r.status == 404:
        r.close()
        r = rel.get(rel.v2 + "/manifests/" + quote(rel.tag), h, (200, 304))
    with r:
        if r.status == 304:
            if not etag:
                # "Not modified" from what? Taken as nothing new, it would hold the board on its release.
                raise Fail("protocol", "HTTP 304 to a request without If-None-Match")
            return None
        ct = (r.header("content-type") or _ACCEPT).split(";")[0].strip().lower()
        if ct != _ACCEPT:
            raise Fail("bad_manifest", "the registry answered %s, not an OCI image manifest" % ct[:40])
        rel.etag = r.header("etag") or r.header("docker-content-digest")
        from ota import journal

        box = _scan(r, journal.current_version())
    if box.get("type") != _TYPE:
        raise Fail("bad_manifest", "%s is not a MicroPython OTA release" % rel.tag[:30])
    v = box.get("version")
    if not isinstance(v, str) or "manifest.json" not in box:
        raise Fail("bad_manifest", "release has no version or no manifest.json layer")
    rel.version = v
    rel.docs = box
    return rel


def _blob_get(rel, d):
    return rel.get(rel.v2 + "/blobs/" + d[0])


def manifest_file(rel, path):
    # manifest.json streamed to flash (its size is bounded by flash, not
    # RAM) and hashed on the way: its digest is the one the tag named.
    # The .board carries it inline (latest saved it to HELD); else its blob.
    from ota import fsx

    docs = rel.docs
    held = docs.get("held")
    if held is None:
        with _blob_get(rel, docs["manifest.json"]) as r:
            held = _save(r, HELD, docs["manifest.json"])
    if not held:
        fsx.remove(HELD)
        raise Fail("hash_mismatch", "manifest.json does not match its digest")
    fsx.move(HELD, path)
    # The signature's bytes: inline in the .board manifest when they match
    # its digest, else its blob.
    d = docs.get("manifest.json.sig")
    if d is None:
        return None
    b = docs.get("sig")
    if b is not None and _ok(b, d):
        return b
    with _blob_get(rel, d) as r:
        b = r.read_all(MAX_DOC)
    if not _ok(b, d):
        raise Fail("hash_mismatch", "manifest.json.sig does not match its digest")
    return b


def _ok(b, d):
    # b has the size and SHA-256 of descriptor d.
    import hashlib
    import binascii

    return len(b) == d[1] and "sha256:" + binascii.hexlify(hashlib.sha256(b).digest()).decode() == d[0]


def _save(r, path, d):
    # The next d[1] bytes of r to flash, hashed: True when they are descriptor d's.
    import hashlib
    import binascii
    from ota.source import save_to

    h = hashlib.sha256()
    total = save_to(r, path, d[1], h)
    return total == d[1] and "sha256:" + binascii.hexlify(h.digest()).decode() == d[0]


class _Part:
    # The next n bytes of a stream: a raw value inside the .board document.
    def __init__(self, r, n):
        self.r = r
        self.n = n
        self.length = n  # as a response's: save_to checks it before reading

    def readinto(self, buf):
        if self.n <= 0:
            return 0
        k = self.r.readinto(memoryview(buf)[: min(len(buf), self.n)])
        self.n -= k if k else self.n  # a stream that ends leaves nothing to read
        return k


class _Enough(Exception):
    pass


def _scan(r, have=None):
    # Keeps what the board needs: the version, manifest.json's digest and
    # size, the signature's. Two shapes: the .board manifest (config =
    # manifest.json, one layer = the signature, then "version" and both
    # documents' bytes verbatim as "sig" and "manifest", docs/protocols.md)
    # and the full artifact (artifactType, a titled layer per file) whose
    # manifest.json(.sig) layers our publisher writes first: once both are
    # seen the rest is not read, which spares a big release's scan.
    # An inline manifest.json goes to flash (HELD) as it arrives, hashed:
    # box["held"] says whether it matched its digest. Not for the version the
    # board has (`have`): then reading stops there.
    from ota.jscan import Scanner, END
    from ota import fsx

    box = {}
    cfg = {}
    cur = {}
    seen = []  # the top-level properties read, and "sig"

    def desc(d):
        # (digest, size) of a descriptor we take: a SHA-256 digest (it goes
        # into a blob URL: nothing else may ride in it) and a size >= 0.
        g = d.get("digest")
        n = d.get("size")
        if not isinstance(g, str) or not isinstance(n, int) or isinstance(n, bool):
            return None
        if n < 0 or len(g) != 71 or not g.startswith("sha256:") or g[7:].strip(_HEX):
            raise Fail("bad_manifest", "bad descriptor: %s %r" % (g[:20], n))
        return (g, n)

    def once(k):
        # A property we read given twice: JSON parsers disagree on which one
        # counts (as for manifest.json, docs/protocols.md "Release paths").
        if k in seen:
            raise Fail("bad_manifest", "registry manifest gives %s twice" % k)
        seen.append(k)

    def cb(path, v):
        n = len(path)
        if not n:
            return
        k = path[0]
        if n == 1 and k in _ONCE:
            once(k)
        if n == 1 and k == "artifactType":
            box["type"] = v
        elif n == 2 and k == "annotations" and path[1] == _VERSION or n == 1 and k == "version":
            if "version" in box:
                raise Fail("bad_manifest", "registry manifest gives the version twice")
            box["version"] = v  # the artifact's annotation, the .board's own property
        elif n == 2 and k == "config" and v is not END:
            if path[1] in _DESC:
                if path[1] in cfg:
                    raise Fail("bad_manifest", "registry manifest gives config.%s twice" % path[1])
                cfg[path[1]] = v
        elif n == 1 and k == "config" and v is END:
            if cfg.get("mediaType") == _MANIFEST and desc(cfg):
                box["type"] = _TYPE
                box["board"] = True
                box[_DOCS[0]] = desc(cfg)
        elif n >= 3 and k == "layers":
            f = path[2]
            if n == 3 and f in _DESC or n == 4 and f == "annotations" and path[3] == _TITLE:
                f = "title" if n == 4 else f
                if f in cur:
                    raise Fail("bad_manifest", "registry manifest gives a layer's %s twice" % f)
                cur[f] = v
        elif n == 2 and k == "layers" and v is END:
            t = cur.get("title")
            if t is None and cur.get("mediaType") == _SIGNATURE:
                t = _DOCS[1]
            if t in _DOCS and desc(cur):
                if t in box:
                    raise Fail("bad_manifest", "registry manifest gives %s twice" % t)
                box[t] = desc(cur)
            cur.clear()
            if "type" in box and "version" in box and _DOCS[0] in box and _DOCS[1] in box and "board" not in box:
                raise _Enough()

    def stop(k):
        # A raw value is read only where its descriptor came first (its size
        # bounds the read); else it is scanned as JSON and ignored.
        if k in seen:
            raise Fail("bad_manifest", "registry manifest gives %s twice" % k)
        if "board" not in box:
            return False
        if k == "sig":
            d = box.get(_DOCS[1])
            return d is not None and d[1] <= _SIG_MAX and "sig" not in box
        return k == "manifest" and "held" not in box

    sc = Scanner(r, cb, stop=stop)
    try:
        while sc.run():
            if sc.path[0] == "sig":
                seen.append("sig")
                n = box[_DOCS[1]][1]
                b = bytearray(n)
                got = 0
                while got < n:
                    k = sc.readinto(memoryview(b)[got:])
                    if not k:
                        break
                    got += k
                box["sig"] = bytes(b[:got])
            elif box.get("version") == have:
                break
            else:
                fsx.remove(HELD)
                box["held"] = _save(_Part(sc, box[_DOCS[0]][1]), HELD, box[_DOCS[0]])
                break  # nothing after manifest.json is needed
    except _Enough:
        pass
    return box
