# check() and update(): source -> manifest (verified before it is parsed)
# -> delta plan -> verified stage -> journaled swap.
import gc
import json
import hashlib
import binascii
from ota import fsx, journal, http, manifest
from ota.log import Fail, ev

CONFIG = "ota_config.json"
FILES = ".ota/files.json"  # path -> git-blob SHA-1 of the installed release


def load_config():
    cfg = fsx.read_json(CONFIG)
    if not isinstance(cfg, dict):
        raise Fail("config", CONFIG + " is missing or not a JSON object")
    src = cfg.get("source")
    if src == "static":
        if not isinstance(cfg.get("url"), str):
            raise Fail("config", "static source needs url")
    elif src == "github":
        if "/" not in str(cfg.get("repo", "")):
            raise Fail("config", "github source needs repo owner/name")
        ch = cfg.get("channel", "stable")
        if ch not in ("stable", "beta", "developer", "tag"):
            raise Fail("config", "unknown channel " + str(ch)[:20])
        if ch == "tag" and not cfg.get("tag"):
            raise Fail("config", "channel tag needs tag")
    else:
        raise Fail("config", "source must be github or static")
    if not isinstance(cfg.get("keys", []), list):
        raise Fail("config", "keys must be a list")
    return cfg


def _wifi(cfg):
    w = cfg.get("wifi")
    if not w:
        return
    try:
        import network
    except ImportError:
        return
    import time

    sta = network.WLAN(network.STA_IF)
    sta.active(True)
    if not sta.isconnected():
        sta.connect(w["ssid"], w.get("password", ""))
        for _ in range(int(cfg.get("timeout", 10)) * 4):
            if sta.isconnected():
                return
            time.sleep(0.25)
        raise Fail("connection", "Wi-Fi did not connect")


def _release(cfg, st):
    # The newer release, or None; raises "downgrade" for an older one.
    from ota import source

    _wifi(cfg)
    client = http.Client(cfg.get("timeout", 10), cfg.get("retries", 3))
    src = source.make(cfg, client)
    cur = journal.current_version()
    ev("check", source=cfg["source"], channel=cfg.get("channel"), current=cur)
    rel = src.latest(st.get("etag"))
    if rel is None:
        return None
    if rel.version in (cur, st.get("bad")):
        if rel.etag and rel.etag != st.get("etag") and st["state"] in ("idle", "confirm_pending"):
            st["etag"] = rel.etag  # the next check can be a 304
            journal.save(st)
        return None
    if cfg.get("channel") != "developer":
        c = manifest.compare(rel.version, st.get("high") or cur or "0.0.0")
        if c is None:
            raise Fail("bad_manifest", "version %s is not semver" % rel.version[:30])
        if c < 0 and not cfg.get("allow_downgrade"):
            raise Fail("downgrade", "%s is older than %s" % (rel.version, st.get("high") or cur))
    ev("available", version=rel.version, current=cur)
    return rel


def check():
    try:
        cfg = load_config()
        rel = _release(cfg, journal.load())
        return rel.version if rel else None
    except Exception as e:
        from ota.log import error

        error(e)
        return None


def _tidy(i):
    # Path strings and stat results per file: a collection every 16 files
    # keeps a release of hundreds of files from piling them up.
    if i & 15 == 15:
        gc.collect()


def _plan(m):
    cache = fsx.read_json(FILES) or {}
    keep = m.get("keep") or []
    want = []
    files = {}
    for i, f in enumerate(m["files"]):
        _tidy(i)
        p = f["path"]
        if p in keep and fsx.exists(p):
            continue
        files[p] = f["sha1"]
        if fsx.size(p) == f["size"]:
            c = cache.get(p)
            if c == f["sha1"] or (c is None and _same(p, f)):
                continue
        want.append(f)
    dels = []
    for p in (m.get("delete") or []) + [q for q in cache if q not in files]:
        if p not in keep and p not in files and p not in dels and fsx.exists(p):
            dels.append(p)
    _conflicts(files, want, dels)
    return want, dels, files


def _conflicts(files, want, dels):
    # Before anything is downloaded: no reserved path, no two paths that are
    # one file on a case-folding filesystem (FAT), no file where the release
    # or the board has a folder and no folder where either has a file.
    from ota.reserved import reserved

    low = {}
    for i, p in enumerate(files):
        _tidy(i)
        q = p.lower()
        if q in low:
            raise Fail("path_conflict", "%s and another file differ only in case" % p[:60])
        low[q] = 1
    for i, p in enumerate(files):
        _tidy(i)
        j = p.find("/")
        while j > 0:
            if p[:j].lower() in low:
                raise Fail("path_conflict", "%s is a file and a folder in the release" % p[:j][:60])
            j = p.find("/", j + 1)
    del low
    for f in want:
        p = f["path"]
        if reserved(p):
            raise Fail("reserved_path", "%s is the board's, not the release's" % p[:60])
        if fsx.is_dir(p):
            raise Fail("path_conflict", "%s is a folder on the board, a file in the release" % p[:60])
        j = p.find("/")
        while j > 0:
            if fsx.exists(p[:j]) and not fsx.is_dir(p[:j]):
                raise Fail("path_conflict", "%s is a file on the board, a folder in the release" % p[:j][:60])
            j = p.find("/", j + 1)
    for p in dels:
        if reserved(p):
            raise Fail("reserved_path", "%s is the board's, not the release's" % p[:60])


def _same(p, f):
    # Whether the board's file p already holds f's bytes (no cache entry).
    from ota import fetch

    h = fetch.Hashers(f)
    fetch.feed(p, h, bytearray(512))
    try:
        h.check(f)
        return True
    except Fail:
        return False


def _manifest(cfg, rel):
    # Manifest bytes -> signature check -> parse -> policy checks.
    if rel.manifestless is not None:
        if cfg.get("keys"):
            raise Fail("no_signature", "the developer channel has no signed manifest")
        return rel.manifestless, None
    data, sig_bytes = rel.manifest()
    kid = None
    if cfg.get("keys"):
        from ota import sig  # loaded only by boards that require a signature

        gc.collect()  # the signature math wants the heap compact
        kid = sig.verify(cfg["keys"], sig_bytes, data)
    digest = binascii.hexlify(hashlib.sha256(data).digest()).decode()
    m = manifest.parse(data)
    del data
    gc.collect()  # the parse's garbage and the raw bytes go before any download
    if m["version"] != rel.version:
        raise Fail("bad_manifest", "manifest is %s, release is %s" % (m["version"][:20], rel.version[:20]))
    manifest.check_expiry(m, rel.client.date)
    ev("verified", version=m["version"], manifest=True, key=kid)
    return m, digest


def update(reset=True):
    try:
        cfg = load_config()
        st = journal.load()
        rel = _release(cfg, st)
        if rel is None:
            return None
        if st["state"] not in ("idle", "staging"):
            raise Fail("busy", "state is %s: confirm or roll back first" % st["state"])
        m, digest = _manifest(cfg, rel)
        v = m["version"]
        fw = m.get("firmware")
        if fw:
            from ota import firmware

            firmware.check(fw)
        want, dels, files = _plan(m)
        gc.collect()
        dl = need = 0
        for i, f in enumerate(want):
            _tidy(i)
            # Staged files are downloaded in place (a partial one resumes) and
            # the swap backs up by copy: room for the rest of each and its backup.
            dl += f["size"] - max(0, fsx.size(fsx.STAGE + "/" + f["path"]))
            need += max(0, fsx.size(f["path"]))
        for p in dels:
            need += max(0, fsx.size(p))
        need += dl
        total = 0
        for f in m["files"]:
            total += f["size"]
        if total > fsx.total_bytes() or need + 4096 > fsx.free_bytes():
            raise Fail("no_space", "needs %d bytes, %d free" % (need, fsx.free_bytes()))
        if st.get("stage") != v:
            fsx.rmtree(fsx.STAGE)
        fsx.rmtree(fsx.BACKUP)
        fsx.rmtree(fsx.PART)
        st["state"] = "staging"
        st["stage"] = v
        st.pop("error", None)
        journal.save(st)
        # bytes: everything downloaded, the firmware image too (host progress is one percentage).
        ev("start", version=v, files=len(want), bytes=dl + (fw["size"] if fw else 0), deleted=len(dels))
        _download(cfg, rel, m, want, dl)
        if fw:
            st["fw"] = firmware.write(rel, fw)
        _put_json("version.json", {"version": v, "manifest_sha256": digest, "updated": manifest.now_iso(rel.client.date)})
        _put_json(FILES, files)
        del files
        _write_plan(want, dels)
        st.update(version=v, prev=journal.current_version(), hooks=m.get("hooks") or {}, etag=rel.etag)
        st.pop("stage", None)
        if cfg.get("channel") != "developer" and (manifest.compare(v, st.get("high") or "0.0.0") or 0) > 0:
            st["high"] = v
        if not journal.swap(st):
            return None  # rolled back; the error event says why
        ev("done", version=v)
        if reset:
            import machine

            machine.reset()
        return v
    except Exception as e:
        from ota.log import error

        error(e)
        return None


def _put_json(rel, obj):
    # Staged copy of an updater file: written in place, checked by the plan's hash.
    fsx.makedirs(fsx.STAGE + "/" + rel)
    with open(fsx.p(fsx.STAGE + "/" + rel), "w") as f:
        f.write(json.dumps(obj))


def _write_plan(want, dels):
    # One line per file the swap writes ("P <sha256> <path>") or deletes
    # ("D - <path>"), read back a line at a time (journal.items).
    buf = bytearray(512)
    with open(fsx.p(journal.PLAN), "w") as out:
        for i, f in enumerate(want):
            _tidy(i)
            p = f["path"]
            if "\n" in p:
                raise Fail("bad_manifest", "a path holds a line break")
            h = f.get("sha256") or fsx.sha256(fsx.STAGE + "/" + p, buf)
            out.write("P %s %s\n" % (h, p))
        for p in ("version.json", FILES):
            out.write("P %s %s\n" % (fsx.sha256(fsx.STAGE + "/" + p, buf), p))
        for p in dels:
            if "\n" in p:
                raise Fail("bad_manifest", "a path holds a line break")
            out.write("D - %s\n" % p)


def _can_inflate():
    # deflate (MicroPython 1.21+) and room for its 32 KB window.
    try:
        import deflate  # noqa: F401

        gc.collect()
        return gc.mem_free() > 48 * 1024
    except ImportError:
        return False


def _download(cfg, rel, m, want, need):
    from ota import fetch

    b = m.get("bundle")
    if b and want and b["size"] < need and _can_inflate():
        from ota import bundle

        bundle.fetch(rel, b, want)
        gc.collect()  # the inflate window goes now, not after the loop below
    buf = bytearray(fetch.BUF)
    for f in want:
        # Every file through fetch: it resumes a partial one and hashes a whole one again.
        gc.collect()  # one file's garbage never meets the next file's
        fetch.fetch(rel, f, buf)
    ev("verified", version=m["version"], files=len(want))
