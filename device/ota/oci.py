# The OCI registry source (docs/protocols.md, "OCI registries"): the tag's
# .board manifest (or the artifact itself) gives the version, manifest.json's
# digest and the signature; every other blob is fetched by the SHA-256 the
# signed manifest names (a layer's digest is its file's SHA-256), so the
# registry cannot swap one. Auth is the
# registry's own flow: a 401 names Basic or a Bearer token realm; the token
# goes to the registry's origin only, never to blob storage it redirects to.
from ota import http
from ota.log import Fail
from ota.source import Release, quote, MAX_DOC

_ACCEPT = "application/vnd.oci.image.manifest.v1+json"
_TYPE = "application/vnd.micropython-ota.release.v1+json"
_TITLE = "org.opencontainers.image.title"
_VERSION = "org.opencontainers.image.version"
_DOCS = ("manifest.json", "manifest.json.sig")
_MANIFEST = "application/vnd.micropython-ota.manifest.v1+json"
_SIGNATURE = "application/vnd.micropython-ota.signature.v1+json"


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


def _params(ch):
    # key="value" pairs of a WWW-Authenticate challenge.
    out = {}
    i = ch.find(" ")
    while i >= 0:
        eq = ch.find('="', i)
        if eq < 0:
            break
        end = ch.find('"', eq + 2)
        if end < 0:
            break
        out[ch[i:eq].strip(" ,").lower()] = ch[eq + 2 : end]
        i = end + 1
    return out


class OCI(Release):
    def __init__(self, cfg, client):
        Release.__init__(self, client)
        self.cfg = cfg
        self.base, self.repo, tag = parse_ref(cfg["ref"])
        ch = cfg.get("channel", "stable")
        self.tag = tag or (cfg.get("tag") if ch == "tag" else ch)
        self.v2 = self.base + "/v2/" + self.repo

    def _get(self, url, h=None, ok=(200,)):
        # A GET that answers the registry's 401 once with the credentials it
        # asks for (again later: a registry token lasts minutes, a slow
        # download may outlive it).
        tried = False
        while True:
            r = self.client.get(url, h, ok=ok + (401, 403))
            if r.status not in (401, 403):
                return r
            with r:  # closed before the login below opens another connection
                ch = r.header("www-authenticate") or ""
            if r.status == 403 or tried:
                raise Fail(
                    "auth_failed",
                    "the registry refused %s"
                    % ("the credentials" if self._basic() else "anonymous access: set user and password"),
                )
            tried = True
            self._login(ch)

    def open_file(self, f, offset=0, gzip=False):
        # Registries do not gzip: a plain GET, from `offset` with Range.
        return self._get(self.file_url(f), {"Range": "bytes=%d-" % offset} if offset else None, (200, 206))

    def _basic(self):
        pw = self.cfg.get("password") or self.cfg.get("token")
        if not pw:
            return None
        import binascii

        up = "%s:%s" % (self.cfg.get("user") or "ota", pw)
        return "Basic " + binascii.b2a_base64(up.encode()).decode().strip()

    def _login(self, ch):
        basic = self._basic()
        # An old token must not ride along to a token service on the registry's own origin.
        self.client.auth = None
        self.client.auth_public = False
        kind = ch.split(" ", 1)[0].lower()
        if kind == "basic":
            if not basic:
                raise Fail("auth_failed", "the registry needs credentials: set user and password")
            self.client.auth = basic
        elif kind == "bearer":
            p = _params(ch)
            realm = p.get("realm")
            if not realm:
                raise Fail("auth_failed", "Bearer challenge without realm")
            if basic and realm.startswith("http://") and self.base.startswith("https://"):
                raise Fail("auth_failed", "plain-HTTP token service refused for an HTTPS registry")
            url = (
                realm
                + ("&" if "?" in realm else "?")
                + "scope="
                + quote(p.get("scope") or "repository:%s:pull" % self.repo)
            )
            if p.get("service"):
                url += "&service=" + quote(p["service"])
            # Anonymous (public packages) or with the board's credentials.
            r = self.client.get(url, {"Authorization": basic} if basic else None, ok=(200, 401, 403))
            with r:
                if r.status != 200:
                    raise Fail(
                        "auth_failed",
                        "the token service refused %s"
                        % ("the credentials" if basic else "anonymous access: set user and password"),
                    )
                data = r.read_all(MAX_DOC)
            import json

            try:
                doc = json.loads(data)
                tok = doc.get("token") or doc.get("access_token")
            except (ValueError, AttributeError):
                tok = None
            del data
            if not isinstance(tok, str) or not tok:
                raise Fail("auth_failed", "the token service gave no token")
            self.client.auth = "Bearer " + tok
            # Got without credentials, the token is anyone's (a public pull): no
            # secret, so a plain-HTTP registry may have it. One got with the
            # board's credentials goes over verified TLS only (ota.http).
            self.client.auth_public = not basic
        else:
            raise Fail("auth_failed", "unknown registry authentication " + kind[:20])
        self.client.auth_origin = http.origin(self.base)

    def latest(self, etag):
        if not self.tag:
            raise Fail("bad_config", "channel tag needs tag")
        h = {"Accept": _ACCEPT}
        if etag:
            h["If-None-Match"] = etag
        # The tag's .board partner holds all a board needs in a few hundred
        # bytes; an artifact pushed without one (an older publisher, oras by
        # hand) is read itself, up to its manifest.json layers.
        r = self._get(self.v2 + "/manifests/" + quote(self.tag + ".board"), h, (200, 304, 404))
        if r.status == 404:
            r.close()
            r = self._get(self.v2 + "/manifests/" + quote(self.tag), h, (200, 304))
        with r:
            if r.status == 304:
                return None
            self.etag = r.header("etag") or r.header("docker-content-digest")
            box = _scan(r)
        if box.get("type") != _TYPE:
            raise Fail("bad_manifest", "%s is not a MicroPython OTA release" % self.tag[:30])
        v = box.get("version")
        if not isinstance(v, str) or "manifest.json" not in box:
            raise Fail("bad_manifest", "release has no version or no manifest.json layer")
        self.version = v
        self.docs = box
        return self

    def _blob_get(self, d):
        return self._get(self.v2 + "/blobs/" + d[0])

    def manifest_file(self, path):
        # manifest.json streamed to flash (its size is bounded by flash, not
        # RAM) and hashed on the way: its digest is the one the tag named.
        import hashlib
        import binascii
        from ota.source import save_to

        digest, size = self.docs["manifest.json"]
        h = hashlib.sha256()
        with self._blob_get(self.docs["manifest.json"]) as r:
            total = save_to(r, path, size, h)
        if total != size or "sha256:" + binascii.hexlify(h.digest()).decode() != digest:
            raise Fail("hash_mismatch", "manifest.json does not match its digest")
        return self._sig()

    def _sig(self):
        # The signature's bytes: inline in the .board manifest when they match
        # its digest, else its blob.
        d = self.docs.get("manifest.json.sig")
        if d is None:
            return None
        import hashlib
        import binascii

        def ok(b):
            return len(b) == d[1] and "sha256:" + binascii.hexlify(hashlib.sha256(b).digest()).decode() == d[0]

        data = self.docs.get("data")
        if data:
            try:
                b = binascii.a2b_base64(data)
                if ok(b):
                    return b
            except ValueError:
                pass
        with self._blob_get(d) as r:
            b = r.read_all(MAX_DOC)
        if not ok(b):
            raise Fail("hash_mismatch", "manifest.json.sig does not match its digest")
        return b

    def _blob(self, x):
        return self.v2 + "/blobs/sha256:" + x["sha256"]

    def file_url(self, f):
        return self._blob(f)

    def bundle_url(self, b):
        return self._blob(b)


class _Enough(Exception):
    pass


def _scan(r):
    # Keeps what the board needs: the version, manifest.json's digest and
    # size, the signature's (and its inline bytes). Two shapes: the .board
    # manifest (config = manifest.json, one layer = the signature), and the
    # full artifact (artifactType, a titled layer per file) whose
    # manifest.json(.sig) layers our publisher writes first: once both are
    # seen the rest is not read, which spares a big release's scan.
    from ota.jscan import Scanner, END

    box = {}
    cfg = {}
    cur = {}

    def desc(d):
        if isinstance(d.get("digest"), str) and isinstance(d.get("size"), int):
            return (d["digest"], d["size"])
        return None

    def cb(path, v):
        n = len(path)
        if not n:
            return
        k = path[0]
        if n == 1 and k == "artifactType":
            box["type"] = v
        elif n == 2 and k == "annotations" and path[1] == _VERSION:
            box["version"] = v
        elif n == 2 and k == "config" and v is not END:
            cfg[path[1]] = v
        elif n == 1 and k == "config" and v is END:
            if cfg.get("mediaType") == _MANIFEST and desc(cfg):
                box["type"] = _TYPE
                box["board"] = True
                box[_DOCS[0]] = desc(cfg)
        elif n >= 3 and k == "layers":
            f = path[2]
            if n == 3 and f in ("digest", "size", "mediaType", "data"):
                cur[f] = v
            elif n == 4 and f == "annotations" and path[3] == _TITLE:
                cur["title"] = v
        elif n == 2 and k == "layers" and v is END:
            t = cur.get("title")
            if t is None and cur.get("mediaType") == _SIGNATURE:
                t = _DOCS[1]
                if isinstance(cur.get("data"), str):
                    box["data"] = cur["data"]
            if t in _DOCS and desc(cur):
                box[t] = desc(cur)
            cur.clear()
            if "type" in box and "version" in box and _DOCS[0] in box and _DOCS[1] in box and "board" not in box:
                raise _Enough()

    try:
        Scanner(r, cb).run()
    except _Enough:
        pass
    return box
