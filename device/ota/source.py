# Release sources. Each answers latest(etag) with None (nothing new since
# etag) or a Release that knows how to fetch the manifest and every file.
# The GitHub and OCI sources are ota.github and ota.oci, imported only on
# boards that use them.
import json
from micropython import const
from ota import fsx
from ota.log import Fail

MAX_DOC = const(16384)  # latest.json / signature / registry token answer limit (the manifest goes to flash instead)
RESERVE = const(16384)  # flash kept free when a manifest is saved


def save_to(r, path, size=-1, h=None):
    # The body of response r to file path, a buffer at a time, fed to hash h
    # too. size: the document's size when the source names it (-1: unknown).
    # What the server declares and every byte read are held to 1 MB (a
    # manifest of ~6000 files: anything longer is hostile, doc_too_large) and
    # to the free flash less RESERVE (no_space), before a byte is written
    # when the length is known; returns the bytes read, at most size + one
    # buffer when size is known (the caller compares).
    import gc

    if 0 <= size < r.length:
        raise Fail("doc_too_large", "document over %d bytes" % size)
    limit = max(0, fsx.free_bytes() - RESERVE)
    buf = bytearray(512)
    mv = memoryview(buf)
    total = mark = 0
    n = max(size, r.length)
    fsx.makedirs(path)
    with open(fsx.p(path), "wb") as out:
        while True:
            if n > 1048576 or n > limit:
                code = "doc_too_large" if n > 1048576 else "no_space"
                raise Fail(code, "needs %d bytes, %d free" % (n, limit))
            n = r.readinto(buf)
            if not n:
                break
            total += n
            if 0 <= size < total:
                break
            if h:
                h.update(mv[:n])
            out.write(buf if n == len(buf) else mv[:n])
            if total - mark >= 16384:
                mark = total
                gc.collect()  # each read's garbage (slices, a chunk header) stays bounded
            n = total
    return total


def quote(p):
    # Percent-encodes a release path for a URL (keeps "/").
    out = ""
    for ch in p:
        o = ord(ch)
        if ch.isalpha() and o < 128 or ch.isdigit() or ch in "-._~/":
            out += ch
        else:
            for b in ch.encode():
                out += "%%%02X" % b
    return out


class Release:
    version = None
    etag = None
    manifestless = None  # a manifest dict when the source has no manifest.json

    def __init__(self, client):
        self.client = client

    def get(self, url, headers=None, ok=(200,), spare=None):
        # A request of the release (the bundle, the firmware image): ota.oci
        # answers its registry's 401/403 with a new token here (spare: what
        # it lets go meanwhile).
        return self.client.get(url, headers, ok)

    def doc(self, url, headers=None, optional=False, limit=MAX_DOC):
        try:
            r = self.client.get(url, headers)
        except Fail as e:
            if optional and e.code == "http_404":
                return None
            raise
        with r:
            return r.read_all(limit)

    def save(self, url, path, headers=None):
        # Streams a document to a file: bounded by free flash, not by RAM.
        with self.client.get(url, headers) as r:
            save_to(r, path)

    def open_file(self, f, offset=0, gzip=False):
        # An HTTP response positioned at `offset` of file f (206), or at 0 (200).
        h = self.headers(f)
        if offset:
            h["Range"] = "bytes=%d-" % offset
        elif gzip:
            h["Accept-Encoding"] = "gzip"
        return self.client.get(self.file_url(f), h, ok=(200, 206))  # pyright: ignore[reportAttributeAccessIssue] (subclasses)

    def headers(self, f):
        return {}


class Static(Release):
    def __init__(self, cfg, client, pin=None):
        Release.__init__(self, client)
        self.base = cfg["url"].rstrip("/")
        self.pin = pin

    def latest(self, etag):
        if self.pin:
            # One named release: its folder, as the publisher lays it out.
            self.version = self.pin
            self.murl = self.base + "/" + quote(self.pin) + "/manifest.json"
            self.vbase = self.murl[: self.murl.rfind("/") + 1]
            return self
        h = {"If-None-Match": etag} if etag else None
        r = self.client.get(self.base + "/latest.json", h, ok=(200, 304))
        with r:
            if r.status == 304:
                return None
            self.etag = r.header("etag")
            data = r.read_all(MAX_DOC)
        try:
            doc = json.loads(data)
            self.version = doc["version"]
            m = doc.get("manifest") or (self.version + "/manifest.json")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise Fail("bad_manifest", "latest.json is malformed")
        if not isinstance(self.version, str) or not isinstance(m, str):
            raise Fail("bad_manifest", "latest.json is malformed")
        self.murl = m if "://" in m else self.base + "/" + m.lstrip("/")
        self.vbase = self.murl[: self.murl.rfind("/") + 1]
        return self

    def manifest_file(self, path):
        self.save(self.murl, path)
        return self.doc(self.murl + ".sig", optional=True)

    def file_url(self, f):
        return self.vbase + quote(f["path"])

    def bundle_url(self, b):
        return self.vbase + quote(b["name"])


def make(cfg, client, pin=None):
    # pin: one release by version instead of the newest (an aborted rollout's
    # way back): a static host's version folder, GitHub's tag v<version> (as
    # the publisher names it), the registry tag <version>.
    s = cfg.get("source")
    if pin:
        from ota import manifest

        if manifest.compare(pin, "0.0.0") is None:
            raise Fail("bad_manifest", "version %s is not semver" % pin[:30])
        if s != "static":
            cfg = dict(cfg)
            cfg["channel"] = "tag"
            cfg["tag"] = "v" + pin if s == "github" else pin
    if s == "static":
        return Static(cfg, client, pin)
    if s == "github":
        from ota.github import GitHub

        return GitHub(cfg, client)
    if s == "oci":
        from ota.oci import OCI

        return OCI(cfg, client)
    raise Fail("bad_config", "unknown source %r" % s)
