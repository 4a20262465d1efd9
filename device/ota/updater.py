# check() and update(): source -> manifest (verified before it is parsed)
# -> delta plan -> verified stage -> journaled swap.
import gc
import json
from micropython import const
from ota import fsx, journal, http, manifest
from ota.log import Fail, ev

CONFIG = "ota_config.json"
FILES = ".ota/files.json"  # path -> git-blob SHA-1 of the installed release
MANIFEST = ".ota/manifest.json"  # the release's manifest while it is checked
_DEADLINE = const(300)  # seconds an update may take in all (config "deadline")
_STALE_CHECKS = const(50)  # answers of "nothing new" (304) in a row before the board reports it
_STALE_DAYS = const(30)


def _chars(s, extra):
    for c in s:
        if not ("0" <= c <= "9" or "a" <= c <= "z" or "A" <= c <= "Z" or c in extra):
            return False
    return True


def repo_ok(r):
    # owner/name by the host's REPO_PATTERN (src/core/github-rules.ts); a test holds the two equal.
    if not isinstance(r, str) or r.count("/") != 1:
        return False
    o, n = r.split("/")
    if not o or o[0] == "-" or o[-1] == "-" or n in ("", ".", ".."):
        return False
    return _chars(o, "-") and _chars(n, "._-")


def load_config():
    cfg = fsx.read_json(CONFIG)
    if not isinstance(cfg, dict):
        raise Fail("bad_config", CONFIG + " is missing or not a JSON object")
    src = cfg.get("source")
    if src == "static":
        if not isinstance(cfg.get("url"), str):
            raise Fail("bad_config", "static source needs url")
    elif src == "github":
        if not repo_ok(cfg.get("repo")):
            raise Fail("bad_config", "github source needs repo owner/name")
        ch = cfg.get("channel", "stable")
        if ch not in ("stable", "beta", "developer", "tag"):
            raise Fail("bad_config", "unknown channel " + str(ch)[:20])
        if ch == "tag" and not cfg.get("tag"):
            raise Fail("bad_config", "channel tag needs tag")
    elif src == "oci":
        if "/" not in str(cfg.get("ref", "")):
            raise Fail("bad_config", "oci source needs ref host/repository[:tag]")
        ch = cfg.get("channel", "stable")
        if ch not in ("stable", "beta", "tag"):
            raise Fail("bad_config", "unknown channel " + str(ch)[:20])
        if ch == "tag" and not cfg.get("tag"):
            raise Fail("bad_config", "channel tag needs tag")
    else:
        raise Fail("bad_config", "source must be github, static or oci")
    _check_keys(cfg)
    a = cfg.get("app")
    if a is not None and (not isinstance(a, str) or not 0 < len(a) <= 100):
        raise Fail("bad_config", "app must be the project's name (1 to 100 characters)")
    for k in ("deadline", "timeout", "max_retry_after", "stale_days", "stale_checks"):
        v = cfg.get(k)
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0):
            raise Fail("bad_config", "%s must be a positive number of seconds or a count" % k)
    from ota.tls import Trust

    Trust(cfg.get("tls")).check_files()
    return cfg


ALGS = ("hmac-sha256", "ed25519", "rsa-sha256")


def _check_keys(cfg):
    # Fail closed: "keys" present means signatures are required, so an empty
    # or broken list is a configuration error, never "unsigned is fine".
    if "keys" not in cfg:
        return
    keys = cfg["keys"]
    if not isinstance(keys, list):
        raise Fail("bad_config", "keys must be a list")
    if not keys:
        raise Fail("bad_config", "keys is empty: remove it for unsigned releases, or add a key")
    import binascii

    for i, k in enumerate(keys):
        if not isinstance(k, dict) or k.get("alg") not in ALGS:
            raise Fail("bad_config", "keys[%d]: alg must be one of %s" % (i, ", ".join(ALGS)))
        if not isinstance(k.get("id"), str) or not k["id"]:
            raise Fail("bad_config", "keys[%d]: id missing" % i)
        try:
            ok = isinstance(k.get("key"), str) and len(binascii.a2b_base64(k["key"])) > 0
        except ValueError:
            ok = False
        if not ok:
            raise Fail("bad_config", "keys[%d] (%s): key missing or not base64" % (i, k["id"][:20]))


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
        raise Fail("network", "Wi-Fi did not connect")


def _client(cfg):
    # Wi-Fi up, the clock set, and the one HTTP client of a check.
    from ota import clock
    from ota.tls import Trust

    deadline = http.Deadline(cfg.get("deadline", _DEADLINE))
    _wifi(cfg)
    clock.sync(cfg)  # certificate validity and expiry need the time
    return http.Client(
        cfg.get("timeout", 10),
        cfg.get("retries", 3),
        deadline=deadline,
        trust=Trust(cfg.get("tls")),
        max_wait=cfg.get("max_retry_after", http.MAX_RETRY_AFTER),
    )


def _release(cfg, st, pin=None, client=None):
    # The newer release, or None; raises "downgrade" for an older one. With
    # pin: that release, which an aborted rollout authorised (_revert).
    from ota import clock, source

    client = client or _client(cfg)
    src = source.make(cfg, client, pin)
    cur = journal.current_version()
    ev("check", source=cfg["source"], channel=cfg.get("channel"), current=cur)
    if pin:
        rel = src.latest(None)
        if rel.version != pin:
            raise Fail("bad_manifest", "release %s, expected %s" % (rel.version[:20], pin[:20]))
        ev("available", version=pin, current=cur)
        return rel
    if client.trust.insecure:
        ev("warning", code="tls_insecure", msg="tls.insecure: servers are not verified")
    etag = st.get("etag")
    if etag and _stale(cfg, st):
        etag = None  # ask for the whole answer: a cache or impostor may be freezing this board
    e = st.get("error")
    if e and e.get("version") != st.get("bad"):
        # The release whose swap failed and was rolled back without being
        # marked bad (io: a full flash) is asked for again: a 304 would never retry it.
        etag = None
    rel = src.latest(etag)
    if rel is None:
        st["n304"] = st.get("n304", 0) + 1
        journal.save(st)
        return None
    was = (st.get("n304", 0), (st.get("fresh") or "")[:10])
    st["n304"] = 0
    now = clock.board_iso()
    if now:
        st["fresh"] = now
    changed = was != (0, (st.get("fresh") or "")[:10])  # saved at most once a day for this
    if rel.version in (cur, st.get("bad")):
        if rel.etag and rel.etag != st.get("etag") and st["state"] in ("idle", "confirm_pending"):
            st["etag"] = rel.etag  # the next check can be a 304
            changed = True
        if changed:
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


def _stale(cfg, st):
    # Whether "nothing new" has been answered for too long: a warning, and
    # the next check goes without If-None-Match.
    n = st.get("n304", 0)
    days = None
    fresh = st.get("fresh")
    from ota import clock

    now = clock.board_iso()
    if fresh and now:
        days = _days(now) - _days(fresh)
    if n >= cfg.get("stale_checks", _STALE_CHECKS) or (days is not None and days >= cfg.get("stale_days", _STALE_DAYS)):
        ev("warning", code="stale", msg="no new answer from the release host", checks=n, days=days)
        return True
    return False


def _days(iso):
    import time

    return time.mktime((int(iso[:4]), int(iso[5:7]), int(iso[8:10]), 0, 0, 0, 0, 0)) // 86400


def check():
    client = None
    try:
        cfg = load_config()
        client = _client(cfg)
        rel = _release(cfg, journal.load(), None, client)
        return rel.version if rel else None
    except Exception as e:
        from ota.log import error

        error(e)
        return None
    finally:
        if client is not None:
            client.release()  # the app never gets an open socket back


def _plan(m):
    # Which files to download (indices into m["files"], read back from flash
    # by _each) and which to delete. The cache of the installed release is
    # emptied as the release's files are met: what remains left the release.
    cache = fsx.read_json(FILES) or {}
    keep = m.get("keep") or []
    want = []
    for i, f in enumerate(m["files"]):
        fsx.tidy(i)
        p = f["path"]
        c = cache.pop(p, None)
        if p in keep and fsx.exists(p):
            continue
        if fsx.size(p) == f["size"]:
            if c == f["sha1"] or (c is None and _same(p, f)):
                continue
        want.append(i)
    from ota.reserved import reserved

    dels = []
    # A listed delete never names a release file (manifest.check refuses it).
    for p in (m.get("delete") or []) + list(cache):
        if not reserved(p) and p not in keep and p not in dels and fsx.exists(p):
            dels.append(p)
    del cache
    _conflicts(m, want, dels)
    return want, dels


def _each(m, want):
    # The wanted entries of m["files"], one at a time (want: ascending indices;
    # manifest.Files collects the garbage of the entries passed over).
    j = 0
    for i, f in enumerate(m["files"]):
        if j < len(want) and want[j] == i:
            j += 1
            fsx.tidy(j)  # the caller's garbage for each entry
            yield f


def _conflicts(m, want, dels):
    # Before anything is downloaded: no reserved path, no file where the board
    # has a folder and no folder where it has a file. The release's own paths
    # (case-folded duplicates, a file that is another's folder) were checked
    # with the manifest (manifest.conflicts).
    from ota.reserved import reserved

    for f in _each(m, want):
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
    fsx.feed(p, h, bytearray(512))
    try:
        h.check(f)
        return True
    except Fail:
        return False


def _app(cfg):
    # The app this board runs: the config's "app", else the name recorded with
    # the installed release; None on a fresh board (docs/protocols.md, Manifest).
    a = cfg.get("app")
    if a:
        return a
    v = fsx.read_json("version.json")
    a = v.get("name") if isinstance(v, dict) else None
    return a if isinstance(a, str) and a else None


def _name(m):
    n = m.get("name")
    return n if isinstance(n, str) and n else None


def _manifest(cfg, rel, st):
    # Manifest bytes -> signature check -> parse -> policy checks.
    # Every source (static, github, oci, a fleet's revert) passes here before
    # any download beyond the manifest. A manifestless release (the unsigned
    # developer channel) has no name: its repository in the config binds it.
    if rel.manifestless is not None:
        if cfg.get("keys"):
            raise Fail("no_signature", "the developer channel has no signed manifest")
        manifest.conflicts(rel.manifestless["files"])  # a branch may hold README.md and readme.md
        return rel.manifestless, None
    # The manifest goes to flash, not RAM: it is hashed, verified and parsed
    # from there in pieces, so its size is bounded by flash (docs: README).
    try:
        sig_bytes = rel.manifest_file(MANIFEST)
        rel.client.release(False)  # the signature math and the parse want the heap a TLS context holds
        kid = None
        if cfg.get("keys"):
            from ota import sig  # loaded only by boards that require a signature

            gc.collect()  # the signature math wants the heap compact
            kid = sig.verify(cfg["keys"], sig_bytes, MANIFEST)
            sig = None
            _unload("sig", "ed25519")  # their code goes before the download: room for the bundle's window
        digest = fsx.sha256(MANIFEST, bytearray(512))
        gc.collect()
        m = manifest.parse_file(MANIFEST)
    finally:
        fsx.remove(MANIFEST)
    gc.collect()  # the parse's garbage goes before any download
    if m["version"] != rel.version:
        raise Fail("bad_manifest", "manifest is %s, release is %s" % (m["version"][:20], rel.version[:20]))
    # One key may sign several projects: a genuine release of another app is refused.
    app = _app(cfg)
    if app and _name(m) != app:
        n = _name(m) or "no named app"
        raise Fail("wrong_app", "release is for %s, this board runs %s" % (n[:40], app[:40]))
    manifest.check_expiry(m, rel.client.date, st.get("created"), cfg.get("require_clock") is True)
    ev("verified", version=m["version"], manifest=True, key=kid)
    return m, digest


def _unload(*names):
    # Modules a step is done with, out of sys.modules and the package: their
    # code goes at the next collection (a later step imports them again).
    import sys
    import ota

    for n in names:
        sys.modules.pop("ota." + n, None)
        if hasattr(ota, n):
            delattr(ota, n)


def _advance_clock(st, m):
    # The newest `created` accepted: the board's time never counts below it (ota.clock).
    from ota import clock

    c = m.get("created")
    if not clock.iso_ok(c):
        return
    c = c[:19] + "Z"
    now = clock.board_iso()
    if now and c > now:
        c = now  # a release dated in the future (a wrong build clock) must not push expiry forward
    if not st.get("created") or c > st["created"]:
        st["created"] = c


def _fleet(cfg):
    # Fleet reporting (ota.fleet) is loaded only by boards configured for it.
    if not cfg.get("fleet"):
        return None
    from ota import fleet

    return fleet.session(cfg)


def _in_rollout(cfg, rel):
    # Staged rollouts: a board with a fleet, "rollout": true, or a release
    # carrying rollout.json installs only what the rollout gives it.
    # GitHub's web path (dl) has no asset list: its rollout.json is asked for.
    if (
        cfg.get("fleet")
        or cfg.get("rollout")
        or getattr(rel, "dl", None)
        or "rollout.json" in (getattr(rel, "assets", None) or ())
    ):
        from ota import fleetdoc

        return fleetdoc.gate(cfg, rel)
    return True


def _revert(cfg, st, client):
    # The release an aborted rollout sends this board back to (ota.fleetdoc
    # revert()), or None. Not yet confirmed, the backup is still there: the
    # journal rolls back and there is nothing to fetch (returns None). A
    # board on the broker has the abort from it; one without reads the
    # release host's rollout.json with client: the same abort, the same way back.
    if cfg.get("channel") == "developer" or not fsx.exists(".ota/fleet.json"):
        return None  # no rollout ever moved this board (ota.fleetdoc STATE)
    from ota import fleetdoc

    try:
        back = fleetdoc.revert(cfg, None if cfg.get("fleet") else client)
        if back is None:
            return None
        ev("fleet", ok=True, code="revert", msg="rollout aborted: back to " + back[:20])
        if st["state"] != "confirm_pending":
            return back
        journal.rollback(st, "rollout aborted", False)  # not bad: a new rollout may bring it again
        fleetdoc.reverted()
        return None
    finally:
        fleetdoc.unload()


def update(reset=True):
    fl = None
    back = None
    client = None
    try:
        cfg = load_config()
        fl = _fleet(cfg)  # takes queued commands (confirm, rollback) before the journal is read
        st = journal.load()
        client = _client(cfg)
        back = _revert(cfg, st, client)
        rel = _release(cfg, st, back, client)
        if rel is None or not (back or _in_rollout(cfg, rel)):
            return None
        if st["state"] not in ("idle", "staging"):
            raise Fail("board_busy", "state is %s: confirm or roll back first" % st["state"])
        m, digest = _manifest(cfg, rel, st)
        v = m["version"]
        fw = m.get("firmware")
        if fw:
            from ota import firmware

            firmware.check(fw)
        want, dels = _plan(m)
        gc.collect()
        # What an earlier update left goes before the room is counted: it is free room.
        if st.get("stage") != v:
            fsx.rmtree(fsx.STAGE)
        fsx.rmtree(fsx.BACKUP)
        fsx.rmtree(fsx.PART)
        dl = _room(m, want, dels)
        st["state"] = "staging"
        st["stage"] = v
        st.pop("error", None)
        journal.save(st)
        # bytes: everything downloaded, the firmware image too (host progress is one percentage).
        ev("start", version=v, files=len(want), bytes=dl + (fw["size"] if fw else 0), deleted=len(dels))
        _download(cfg, rel, m, want, dl)
        if fw:
            st["fw"] = firmware.write(rel, fw)
        client.release()  # nothing more to download: the swap and its hooks run without a socket
        _put_json(
            "version.json",
            {
                "version": v,
                "name": _name(m) or _app(cfg),
                "manifest_sha256": digest,
                "updated": manifest.now_iso(rel.client.date, st.get("created")),
            },
        )
        via = getattr(rel, "via", None)
        if via:
            from ota import fleetdoc

            fleetdoc.record(v, via[0], via[1], fsx.sha256(fsx.STAGE + "/version.json", bytearray(256)))
            fleetdoc.unload()
        _put_files(m)
        _write_plan(m, want, dels)
        fsx.remove(manifest.ENTRIES)  # the entries are in the plan and the staged cache now
        st.update(version=v, prev=journal.current_version(), hooks=m.get("hooks") or {}, etag=rel.etag)
        st.pop("stage", None)
        if cfg.get("channel") != "developer" and (manifest.compare(v, st.get("high") or "0.0.0") or 0) > 0:
            st["high"] = v
        _advance_clock(st, m)
        gc.collect()
        if not journal.swap(st):
            return None  # rolled back; the error event says why
        if back:
            from ota import fleetdoc

            fleetdoc.reverted()
            fleetdoc.unload()
        ev("done", version=v)
        if reset:
            import machine

            machine.reset()
        return v
    except Exception as e:
        from ota.log import error

        error(e)
        if back:
            from ota import fleetdoc

            fleetdoc.give_up(back, e)
            fleetdoc.unload()
        return None
    finally:
        if client is not None:
            client.release()  # the app never gets an open socket back, whatever happened
        fsx.remove(manifest.ENTRIES)
        if fl is not None:
            from ota import fleet

            fleet.finish(fl)


def _put_json(rel, obj):
    # Staged copy of an updater file: written in place, checked by the plan's hash.
    fsx.makedirs(fsx.STAGE + "/" + rel)
    with open(fsx.p(fsx.STAGE + "/" + rel), "w") as f:
        f.write(json.dumps(obj))


def _put_files(m):
    # The cache (path -> git-blob SHA-1) of the release, written a file at a
    # time from m["files"]; a kept file already on the board is the user's.
    keep = m.get("keep") or []
    fsx.makedirs(fsx.STAGE + "/" + FILES)
    with open(fsx.p(fsx.STAGE + "/" + FILES), "w") as out:
        out.write("{")
        sep = ""
        for i, f in enumerate(m["files"]):
            fsx.tidy(i)
            p = f["path"]
            if p in keep and fsx.exists(p):
                continue
            out.write("%s%s: %s" % (sep, json.dumps(p), json.dumps(f["sha1"])))
            sep = ", "
        out.write("}")


def _write_plan(m, want, dels):
    # One line per file the swap writes ("P <sha256> <path>") or deletes
    # ("D - <path>"), read back a line at a time (journal.items).
    buf = bytearray(512)
    with open(fsx.p(journal.PLAN), "w") as out:
        for f in _each(m, want):
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


def _window():
    # The bundle's inflate window: deflate (MicroPython 1.21+) and one free
    # block of 32 KB (a heap with room in scattered blocks only has none: a
    # MemoryError), taken now, before the bundle module and the request cut
    # the heap up, and handed to bundle.fetch, which lets go of it just before
    # inflating. None: no deflate, so no bundle.
    try:
        import deflate  # noqa: F401
    except ImportError:
        return None
    gc.collect()
    return [bytearray(33 * 1024)]


def room(n, b):
    # Bytes a file of n bytes (n < 0: none) takes on flash with b-byte
    # blocks: whole blocks (FAT clusters, LittleFS blocks) and one more for
    # its entry (a FAT folder grows by a cluster, LittleFS commits metadata).
    # The one space rule: every count of the board's room goes through it
    # (here, not in fsx: ota.boot() loads fsx and keeps nothing of this).
    return 0 if n < 0 else ((n + b - 1) // b + 1) * b


def new_dirs(path, prev):
    # Folders of path that prev (the path met before it) does not share: over
    # a list of paths, at least the number of distinct folders, kept in two
    # strings (exact when the list is sorted, as manifests are).
    n = 0
    i = path.find("/")
    while i > 0:
        if path[: i + 1] != prev[: i + 1]:
            n += 1
        i = path.find("/", i + 1)
    return n


def _room(m, want, dels):
    # Refuses (no_space) an update the flash has no room for, before the
    # stage: counted with room() (whole blocks and an entry per file), for
    # the stage, the swap and a rollback from any point of it (the journal's
    # swap: docs/updater-swap.md). Returns the bytes still to download.
    # The swap backs each old file up, then writes the new one over it: the
    # live files end up as the new ones, the backups as the old ones, and at
    # the peak one old file is there twice (its backup taken, its clusters not
    # yet freed; LittleFS frees them when the new copy closes). A rollback
    # first drops the stage, then writes the backups back. So: the stage,
    # then the larger of the new files and the backups, and the largest old
    # file once more.
    b = fsx.os.statvfs("/")[0]
    R = room
    dl = stage = new = old = big = 0
    for f in _each(m, want):
        # Staged files are downloaded in place (a partial one resumes).
        have = max(0, fsx.size(fsx.STAGE + "/" + f["path"]))
        dl += f["size"] - have
        stage += R(f["size"], b) - R(have, b)
        new += R(f["size"], b)
        o = R(fsx.size(f["path"]), b)
        old += o
        big = max(big, o)
    for p in dels:
        o = R(fsx.size(p), b)
        old += o
        big = max(big, o)
    # The updater's own files count as release files do: version.json and
    # the file cache (staged, then new or backed up), the plan (a line a
    # file), the journal's two copies, and every folder a block, twice
    # (staged, then installed or backed up).
    total = cache = plan = dirs = 0
    prev = ""
    for i, f in enumerate(m["files"]):
        fsx.tidy(i)
        p = f["path"]
        total += f["size"]
        cache += len(p) + 48
        plan += len(p) + 70
        dirs += new_dirs(p, prev)
        prev = p
    for p in dels:
        plan += len(p) + 4
        dirs += new_dirs(p, prev)
        prev = p
    own = 2 * (R(512, b) + R(cache, b)) + R(plan, b) + 2 * R(1024, b) + 2 * (dirs + 2) * b
    need = stage + max(new, old) + big + own
    free = fsx.free_bytes()
    if total > fsx.total_bytes() or need > free:
        raise Fail("no_space", "needs %d bytes, %d free" % (need, free))
    return dl


def _download(cfg, rel, m, want, need):
    from ota import fetch

    b = m.get("bundle")
    if b and want and b["size"] < need:
        # A kept connection's objects would split the free block the window needs.
        rel.client.release()
        try:
            w = _window()
            if w:
                from ota import bundle

                bundle.fetch(rel, b, _each(m, want), m["files"], w)
        except MemoryError:
            # No single free block held the 32 KB window, taken first or while
            # inflating (mem_free counts scattered blocks too). Every file comes
            # one by one below instead (what the bundle staged stays; a
            # half-written one resumes), so a fragmented heap slows an update
            # down but never fails it.
            ev("warning", code="no_memory", msg="no room for the bundle's window: file by file")
        w = None
        gc.collect()  # the inflate window goes now, not after the loop below
    buf = bytearray(fetch.BUF)
    for f in _each(m, want):
        # Every file through fetch: it resumes a partial one and hashes a whole one again.
        gc.collect()  # one file's garbage never meets the next file's
        fetch.fetch(rel, f, buf)
    ev("verified", version=m["version"], files=len(want))
