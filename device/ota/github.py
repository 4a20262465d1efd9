# The GitHub source: a release (latest, newest prerelease, or a pinned tag)
# from the REST API, its assets through the API's octet-stream redirect; or
# the tip of a branch with files from its Git tree (developer channel).
# A public repository on the stable or tag channel (no token) goes through
# github.com's download links instead: outside the REST API and its 60
# requests an hour per IP, which a fleet behind one address would exhaust.
# A release without manifest.json takes its files from the Git tree at its
# tag, verified by git-blob SHA-1, as the developer channel does.
from ota import http
from ota.log import Fail
from ota.jscan import Scanner, END
from ota.source import Release, quote


class GitHub(Release):
    def __init__(self, cfg, client):
        Release.__init__(self, client)
        self.api = cfg.get("api", "https://api.github.com").rstrip("/")
        self.repo = cfg["repo"]
        self.cfg = cfg
        self.web = cfg.get("web", _web_of(self.api))
        self.dl = None  # the web download base of the chosen release
        if cfg.get("token"):
            client.auth = "Bearer " + cfg["token"]
            client.auth_origin = http.origin(self.api)

    def _api(self, path, etag=None, accept="application/vnd.github+json"):
        h = {"Accept": accept, "User-Agent": "micropython-ota", "X-GitHub-Api-Version": "2022-11-28"}
        if etag:
            h["If-None-Match"] = etag
        return self.client.get(self.api + "/repos/" + self.repo + path, h, ok=(200, 304))

    def latest(self, etag):
        ch = self.cfg.get("channel", "stable")
        if ch == "developer":
            return self._branch(etag)
        if self.web and not self.cfg.get("token") and ch in ("stable", "tag"):
            return self._web(ch, etag)
        if ch == "tag":
            path = "/releases/tags/" + quote(self.cfg["tag"])
        elif ch == "beta":
            path = "/releases?per_page=20"
        else:
            path = "/releases/latest"
        r = self._api(path, etag)
        with r:
            if r.status == 304:
                return None
            self.etag = r.header("etag")
            rel = _scan_releases(r, ch == "beta")
        if rel is None:
            raise Fail("http_404", "no %s release" % ch)
        tag = rel["tag"]
        self.version = tag[1:] if tag[:1] == "v" else tag
        self.assets = rel["assets"]
        if "manifest.json" not in self.assets:
            self._manifestless(tag)
        return self

    def _manifestless(self, tag):
        self.manifestless = self._tree(quote(tag))
        self.manifestless["version"] = self.version

    def _peek(self, url):
        # One GET, redirect not followed: (status, Location). Held to the
        # update's deadline and trust, and on its kept connection, like every
        # other request (ota.http.Client).
        c = self.client
        wait = 1
        for attempt in range(c.retries + 1):
            try:
                r = http.request(url, {"User-Agent": "micropython-ota"}, c.timeout, c.deadline, c.trust, c)
            except Fail as e:
                if e.code not in ("network", "timeout") or attempt >= c.retries:
                    raise
                c._sleep(wait)
                wait *= 2
                continue
            with r:
                st = r.status
                if st == 429 or st >= 500:
                    raise Fail("rate_limited" if st == 429 else "http_status", "HTTP %d from %s" % (st, url[-60:]))
                return st, r.header("location")
        raise Fail("network", "no answer from " + url[-60:])

    def _web(self, ch, etag):
        rel = self.web + "/" + self.repo + "/releases/"
        if ch == "tag":
            tag = self.cfg["tag"]
        else:
            # /releases/latest redirects to /releases/tag/<tag>: the version, no API request.
            st, loc = self._peek(rel + "latest")
            i = loc.find("/releases/tag/") if loc else -1
            if st not in (301, 302, 303, 307, 308) or i < 0:
                raise Fail("http_404", "no stable release of " + self.repo[:60])
            tag = _unquote(loc[i + 14 :])
        if not tag or ".." in tag or "?" in tag or "#" in tag:
            raise Fail("bad_manifest", "bad release tag " + tag[:40])
        if etag == "web " + tag:
            return None
        self.etag = "web " + tag
        self.version = tag[1:] if tag[:1] == "v" else tag
        self.dl = rel + "download/" + quote(tag) + "/"
        self.assets = {}
        st, _ = self._peek(self.dl + "manifest.json")
        if st == 404:
            self._manifestless(tag)
        elif st not in (200, 301, 302, 303, 307, 308):
            raise Fail("http_status", "HTTP %d for manifest.json" % st)
        return self

    def _asset(self, name):
        if self.dl:
            return self.dl + quote(name)
        url = self.assets.get(name)
        if url is None:
            raise Fail("http_404", "release has no asset " + name[:60])
        return url

    def _octet(self, url):
        return {"Accept": "application/octet-stream", "User-Agent": "micropython-ota"}

    def manifest_file(self, path):
        h = self._octet(None)
        self.save(self._asset("manifest.json"), path, h)
        if self.dl:
            # The web path has no asset list: the signature is asked for, and a 404 means none.
            return self.doc(self.dl + "manifest.json.sig", h, optional=True)
        sig = self.assets.get("manifest.json.sig")
        return self.doc(sig, h) if sig else None

    def headers(self, f):
        if self.manifestless is not None:
            return {"Accept": "application/vnd.github.raw+json", "User-Agent": "micropython-ota"}
        return self._octet(None)

    def file_url(self, f):
        if self.manifestless is not None:
            return self.api + "/repos/" + self.repo + "/git/blobs/" + f["sha1"]
        return self._asset(f["path"].replace("/", "__"))

    def bundle_url(self, b):
        return self._asset(b["name"])

    def _branch(self, etag):
        # Developer channel: the tip of a branch, files from its Git tree.
        br = self.cfg.get("branch", "main")
        r = self._api("/git/ref/heads/" + quote(br), etag)
        with r:
            if r.status == 304:
                return None
            self.etag = r.header("etag")
            box = {}

            def cb(path, v):
                if path == ["object", "sha"]:
                    box["sha"] = v

            Scanner(r, cb).run()
        sha = box.get("sha")
        if not sha:
            raise Fail("bad_manifest", "branch has no commit")
        self.version = sha
        self.manifestless = self._tree(sha)
        return self

    def _tree(self, sha):
        # One recursive tree; GitHub cuts big ones short (`truncated`), and
        # then the tree is walked one level at a time, skipping subtrees
        # outside `paths`.
        prefixes = self.cfg.get("paths") or [""]
        files = []
        if self._list(sha, "", True, prefixes, files, []):
            del files[:]
            self._walk(sha, "", prefixes, files)
        return {"schema": 1, "version": sha, "files": files}

    def _walk(self, sha, base, prefixes, files):
        trees = []
        self._list(sha, base, False, prefixes, files, trees)
        for sub, path in trees:
            self._walk(sub, path + "/", prefixes, files)

    def _list(self, sha, base, recursive, prefixes, files, trees):
        # Lists tree `sha` (paths under `base`) into files/trees; True when truncated.
        from ota.manifest import check_path
        from ota.reserved import reserved

        cur = {}
        flags = {}

        def cb(path, v):
            if len(path) == 3 and path[0] == "tree":
                cur[path[2]] = v
            elif len(path) == 2 and path[0] == "tree" and v is END:
                p = base + cur.get("path", "")
                if reserved(p):
                    pass  # the board's own files never come from a branch (ota.reserved)
                elif cur.get("type") == "blob" and _wanted(p, prefixes):
                    check_path(p)
                    files.append({"path": p, "size": cur.get("size", 0), "sha1": cur.get("sha")})
                elif cur.get("type") == "tree" and _wanted_dir(p + "/", prefixes):
                    trees.append((cur.get("sha"), p))
                cur.clear()
            elif path == ["truncated"] and v is True:
                flags["truncated"] = True

        r = self._api("/git/trees/" + sha + ("?recursive=1" if recursive else ""))
        with r:
            Scanner(r, cb).run()
        return flags.get("truncated", False)


def _web_of(api):
    # The web host beside an API root: github.com, or a GitHub Enterprise host.
    if api == "https://api.github.com":
        return "https://github.com"
    if api.endswith("/api/v3"):
        return api[:-7]
    return None


def _unquote(s):
    if "%" not in s:
        return s
    out = bytearray()
    i = 0
    while i < len(s):
        if s[i] == "%" and i + 3 <= len(s):
            try:
                out.append(int(s[i + 1 : i + 3], 16))
            except ValueError:
                raise Fail("http_404", "bad release tag in redirect")
            i += 3
        else:
            out += s[i].encode()
            i += 1
    return out.decode()


def _wanted(p, prefixes):
    for pre in prefixes:
        if p.startswith(pre):
            return True
    return False


def _wanted_dir(d, prefixes):
    # A directory matters when a prefix lies inside it or it lies inside a prefix.
    for pre in prefixes:
        if pre.startswith(d) or d.startswith(pre):
            return True
    return False


def _scan_releases(r, beta):
    # Picks the release: the single one answered, or the newest prerelease
    # (GitHub lists newest first); keeps only its tag and asset URLs.
    box = {"chosen": None}
    cur = {"assets": {}}
    asset = {}

    def cb(path, v):
        d = len(path) - (1 if beta else 0)
        if beta and not path:
            return
        key = path[-1] if path else None
        if d == 1 and key in ("tag_name", "prerelease", "draft"):
            cur[key] = v
        elif d == 3 and path[-3] == "assets" and key in ("name", "url"):
            asset[key] = v
        elif d == 2 and path[-2] == "assets" and v is END:
            if "name" in asset and "url" in asset:
                cur["assets"][asset["name"]] = asset["url"]
            asset.clear()
        elif d == 0 and v is END:
            ok = not cur.get("draft") and (cur.get("prerelease") or not beta)
            if ok and box["chosen"] is None and "tag_name" in cur:
                box["chosen"] = {"tag": cur["tag_name"], "assets": cur["assets"]}
            cur.clear()
            cur["assets"] = {}

    Scanner(r, cb).run()
    return box["chosen"]
