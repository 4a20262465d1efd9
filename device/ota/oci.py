# The OCI registry source (docs/protocols.md, "OCI registries"): blobs by
# the SHA-256 the signed manifest names (a layer's digest is its file's
# SHA-256), so the registry cannot swap one. The check (the reference, the
# token flow, the .board manifest, manifest.json and its signature) is
# ota.ocidoc's, held by the release until manifest.json is taken and then let
# go: what stays for the download is this. Auth is the registry's own flow
# (ota.ociauth): a 401 names Basic or a Bearer token realm; the token goes to
# the registry's origin only, never to blob storage it redirects to.
from ota.source import Release

# What the registry's token flow taught this boot: its realm, and the last
# token while it lasts (ota.ocirealm). RAM only: never on flash.
kept = None


def code(name):
    # ota.<name> (ociauth, ocirealm: the token flow) outside sys.modules: it
    # goes with the caller's reference, so a login mid-download costs its
    # code for that moment only, and the download step's heap nothing.
    import sys
    import ota

    __import__("ota." + name)
    m = getattr(ota, name)
    sys.modules.pop("ota." + name, None)
    delattr(ota, name)
    return m


class OCI(Release):
    def __init__(self, cfg, client):
        Release.__init__(self, client)
        self.cfg = cfg
        self.docs = None  # what the check read (ota.ocidoc)
        self.v2 = ""  # the repository's API URL, from the reference (ota.ocidoc)
        self.code = None  # ota.ocidoc while the check runs

    def _doc(self):
        # ota.ocidoc, imported once per check and kept on this release only:
        # it goes when the check is done (or with the release), not with the board.
        if self.code is None:
            from ota import ocidoc

            ocidoc.unload()
            self.code = ocidoc
        return self.code

    def get(self, url, h=None, ok=(200,), spare=None):
        # Every registry request of a check and its download (the .board,
        # each blob, the bundle, the firmware image): a 401 or 403 to what
        # the board already held (an earlier check's token, one that ran out
        # mid-check) drops it and gets another once, then asks again with
        # the same headers (a Range: a started blob resumes); a refusal of
        # what it just got is auth_failed (ota.ociauth.login).
        # spare: [the bundle's window] (updater._window), let go for a login
        # (its code and the token's answer need that room) and taken again
        # after it (_again; a MemoryError there: the files come one by one).
        got = False
        while True:
            sent = self.client.auth
            r = self.client.get(url, h, ok=ok + (401, 403))
            if r.status not in (401, 403):
                return r
            r.close()  # before the login opens another connection; its status and headers stay readable
            n = len(spare.pop()) if spare else 0
            got = code("ociauth").login(self, r, sent, got)
            r = None
            if n:
                self._again(spare, n)

    def _again(self, spare, n):
        # The window taken again after a login, its garbage gone and the
        # token service's connection closed (its objects would split the
        # block, as the check's would: updater._download). The new token was
        # made while that garbage filled the heap's low holes, so it sits in
        # the block: copied now, it goes to the lowest hole that holds it
        # (mostly the refused token's, of its size), and the block is whole.
        import gc

        c = self.client
        c.release()
        gc.collect()
        a = c.auth
        if a:
            b = a[:]
            k = kept
            if k and k[2] is a:
                k[2] = b
            c.auth = b
        a = b = k = None
        gc.collect()
        spare.append(bytearray(n))

    def latest(self, etag):
        rel = None
        try:
            rel = self._doc().latest(self, etag)
            return rel
        finally:
            if rel is None:
                self.code = None  # nothing new, or the check failed

    def manifest_file(self, path):
        try:
            return self._doc().manifest_file(self, path)
        finally:
            # Nothing of the check is needed for the download.
            self.code = self.docs = None

    def open_file(self, f, offset=0, gzip=False):
        # Registries do not gzip: a plain GET, from `offset` with Range.
        return self.get(self.file_url(f), {"Range": "bytes=%d-" % offset} if offset else None, (200, 206))

    def file_url(self, f):
        return self.v2 + "/blobs/sha256:" + f["sha256"]

    bundle_url = file_url
