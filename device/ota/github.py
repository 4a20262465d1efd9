# The GitHub source: a release (latest, newest prerelease, or a pinned tag)
# from the REST API, its assets through the API's octet-stream redirect; or
# the tip of a branch with files from its Git tree (developer channel).
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
        if ch == "tag":
            path = "/releases/tags/" + quote(self.cfg["tag"])
        elif ch == "beta":
            path = "/releases?per_page=20"
        else:
            path = "/releases/latest"
        r = self._api(path, etag)
        try:
            if r.status == 304:
                return None
            self.etag = r.header("etag")
            rel = _scan_releases(r, ch == "beta")
        finally:
            r.close()
        if rel is None:
            raise Fail("http_404", "no %s release" % ch)
        tag = rel["tag"]
        self.version = tag[1:] if tag[:1] == "v" else tag
        self.assets = rel["assets"]
        return self

    def _asset(self, name):
        url = self.assets.get(name)
        if url is None:
            raise Fail("http_404", "release has no asset " + name[:60])
        return url

    def _octet(self, url):
        return {"Accept": "application/octet-stream", "User-Agent": "micropython-ota"}

    def manifest(self):
        h = self._octet(None)
        sig = self.assets.get("manifest.json.sig")
        return (
            self.doc(self._asset("manifest.json"), h),
            self.doc(sig, h) if sig else None,
        )

    def manifest_file(self, path):
        h = self._octet(None)
        self.save(self._asset("manifest.json"), path, h)
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
        try:
            if r.status == 304:
                return None
            self.etag = r.header("etag")
            box = {}

            def cb(path, v):
                if path == ["object", "sha"]:
                    box["sha"] = v

            Scanner(r, cb).run()
        finally:
            r.close()
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
        try:
            Scanner(r, cb).run()
        finally:
            r.close()
        return flags.get("truncated", False)


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
