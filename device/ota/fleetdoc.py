# Signed fleet documents (docs/protocols.md, "Fleet (MQTT)"): commands and the
# rollout, verified with the release keys before they are parsed, with
# timestamps against replay. Loaded only while a document is handled or a
# release is weighed against the rollout, then dropped from RAM (unload()).
import gc
from micropython import const
from ota import fsx, journal
from ota.log import Fail, ev

_MAX_DOC = const(2048)  # ota.mqtt MAX_MSG, src/core/fleet/protocol.ts BOARD_MAX_MSG
STATE = ".ota/fleet.json"  # highest command / rollout timestamps accepted
ROLLOUT = ".ota/rollout"  # the last verified rollout document (signed bytes): this or its ".1" twin


def unload():
    # The caller keeps what it holds; the module's code goes at the next collection.
    import sys
    import ota

    sys.modules.pop("ota.fleetdoc", None)
    if hasattr(ota, "fleetdoc"):
        delattr(ota, "fleetdoc")


def conf(cfg):
    f = cfg.get("fleet")
    if not isinstance(f, dict) or not isinstance(f.get("broker"), str) or not isinstance(f.get("name"), str):
        raise Fail("bad_config", "fleet needs broker and name")
    return f


def broker(url):
    # mqtt://host:port or mqtts://host:port -> (tls, host, port)
    if url.startswith("mqtts://"):
        tls, rest = True, url[8:]
    elif url.startswith("mqtt://"):
        tls, rest = False, url[7:]
    else:
        raise Fail("bad_config", "fleet broker must be mqtt:// or mqtts://")
    rest = rest.split("/")[0]
    host, port = rest, 8883 if tls else 1883
    if ":" in rest:
        host, p = rest.rsplit(":", 1)
        port = int(p)
    return tls, host, port


def ssl_context(cfg, f):
    # Verifies the broker as every TLS connection of the updater does: the
    # CA from "tls" (fleet's own or the config's), or "insecure" said aloud.
    import ssl

    t = f.get("tls") or cfg.get("tls") or {}
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if t.get("insecure"):
        ev("fleet", ok=True, code="tls_insecure", msg="broker certificate not verified (tls.insecure)")
        ctx.verify_mode = ssl.CERT_NONE
        if f.get("password"):
            raise Fail("fleet_tls", "no password over an unverified connection")
        return ctx
    ca = t.get("ca")
    if not ca:
        raise Fail("fleet_tls", "mqtts needs tls.ca (or tls.insecure)")
    with open(ca, "rb") as h:
        ctx.load_verify_locations(cadata=h.read())
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def device_id(cfg):
    i = (cfg.get("fleet") or {}).get("id") or cfg.get("id")
    if i:
        return str(i)
    import machine
    import binascii

    return binascii.hexlify(machine.unique_id()).decode()


def selected(doc, did, group):
    # Deterministic: raising the percentage only adds boards.
    import hashlib

    if did in (doc.get("devices") or []) or (group and group in (doc.get("groups") or [])):
        return True
    h = hashlib.sha256((did + doc["version"]).encode()).digest()
    return int.from_bytes(h[:4], "big") % 100 < int(doc.get("percent") or 0)


def _verify(cfg, msg):
    # "<doc>\n<signature>": the signature over the exact doc bytes, checked
    # before the doc is parsed.
    keys = cfg.get("keys")
    i = msg.find(b"\n")
    doc, s = (msg, None) if i < 0 else (msg[:i], msg[i + 1 :].strip() or None)
    if not keys:
        raise Fail("no_keys", "a board without release keys takes no signed commands")
    from ota import sig

    sig.verify(keys, s, doc)
    try:
        from ota import jscan

        d = jscan.loads(doc)
        ts = int(d["ts"])
    except (ValueError, KeyError, TypeError):
        raise Fail("bad_document", "malformed signed document")
    f = cfg.get("fleet")
    if f and d.get("fleet") != f.get("name"):
        raise Fail("bad_document", "document for another fleet")
    return d, ts


def _state():
    s = fsx.read_json(STATE)
    return s if isinstance(s, dict) else {}


def rollout_doc(cfg, data, client=None):
    # A verified rollout document from its signed bytes, or Fail. Documents
    # older than the newest one accepted are replays. client: the check's
    # HTTP client, whose kept TLS connection goes before the signature math
    # (docs/protocols.md, "Connection reuse": released early).
    if cfg.get("keys"):
        if client is not None:
            client.release(False)
        d, ts = _verify(cfg, data)
    else:
        try:
            from ota import jscan

            d = jscan.loads(data[: data.find(b"\n")] if b"\n" in data else data)
            ts = int(d.get("ts", 0))
        except (ValueError, TypeError, AttributeError):  # AttributeError: not an object
            raise Fail("bad_document", "malformed rollout document")
    if not isinstance(d.get("version"), str):
        raise Fail("bad_document", "rollout document has no version")
    if ts < _state().get("rts", 0):
        raise Fail("replay", "rollout document older than the one in force")
    return d, ts


def _slot(st):
    # Which of the two copies holds the document in force (STATE's "slot").
    return ROLLOUT + ".1" if st.get("slot") == 1 else ROLLOUT


def _save_rollout(data, ts):
    # Written in place into the copy not in force, then STATE (cut-safe, see
    # fsx.write_json) names it with its timestamp in one write: a power cut
    # leaves the old document and its rts, or the new ones, never a missing
    # document (every release would pass the gate) nor an rts above the
    # document in force (every release held as a replay). Nothing is renamed
    # (fsx's header).
    st = _state()
    n = 0 if st.get("slot") == 1 else 1
    path = ROLLOUT + ".1" if n else ROLLOUT
    fsx.makedirs(path)
    with open(fsx.p(path), "wb") as h:
        h.write(data)
    st["rts"] = ts
    st["slot"] = n
    fsx.write_json(STATE, st)


def take(cfg, data, client=None):
    # The one way a rollout document comes into force, whether the broker
    # brought it or the release host publishes it (rollout.json): verified,
    # refused when older than the one in force (Fail "replay"), saved when
    # newer. Returns (doc, ts), or None when these bytes are in force already
    # (verified when they came; a retained message or a file read again).
    if data == _in_force():
        return None
    d, ts = rollout_doc(cfg, data, client)
    st = _state()
    if ts > st.get("rts", 0) or not fsx.exists(_slot(st)):
        _save_rollout(data, ts)
    return d, ts


def _in_force():
    # The signed bytes of the rollout document in force, or None.
    path = _slot(_state())
    if not fsx.exists(path):
        return None
    with open(fsx.p(path), "rb") as h:
        return h.read()


def _published(rel):
    # rollout.json beside latest.json (static) or as a release asset (GitHub:
    # from the asset list, or at the release's download URL on the web path,
    # which has no list). Held to what the broker may bring (ota.mqtt
    # MAX_MSG): the host signs no larger document, and it is read into RAM.
    if hasattr(rel, "base"):
        return rel.doc(rel.base + "/rollout.json", optional=True, limit=_MAX_DOC)
    dl = getattr(rel, "dl", None)
    if dl:
        return rel.doc(dl + "rollout.json", rel._octet(None), True, _MAX_DOC)
    assets = getattr(rel, "assets", None)
    if assets and "rollout.json" in assets:
        return rel.doc(assets["rollout.json"], rel._octet(None), limit=_MAX_DOC)
    return None


def allowed(cfg, rel):
    # Whether the board installs rel now, under the rollout document in
    # force: the newest taken (take()) from the broker or from the release
    # host, where one published now is read first. An older published one
    # (a replay, or a file left behind) is not taken and the one in force
    # decides; with none anywhere every release installs.
    doc = None
    c = getattr(rel, "client", None)  # its HTTP client, when it has one
    try:
        data = _published(rel)
        if data:
            try:
                r = take(cfg, data, c)
                if r:
                    doc, ts = r
            except Fail as e:
                if e.code != "replay":
                    raise
        if doc is None:
            data = _in_force()
            if data:
                doc, ts = rollout_doc(cfg, data, c)
    except Fail as e:
        ev("held", version=rel.version, code=e.code, msg=e.msg)
        return False
    if doc is None:
        return True
    f = cfg.get("fleet") or {}
    did = device_id(cfg)
    why = None
    if doc["version"] != rel.version:
        why = "not in a rollout (the rollout is for %s)" % doc["version"][:20]
    elif doc.get("paused") or doc.get("aborted"):
        why = "rollout paused"
    elif not selected(doc, did, f.get("group") or cfg.get("group")):
        why = "outside the rollout (%s%%)" % doc.get("percent", 0)
    if why:
        ev("held", version=rel.version, msg=why)
        return False
    cur = journal.current_version()
    if cur:
        # Where this board comes from, and under which document: recorded
        # (record()) only with the release's own version.json, once staged.
        rel.via = (cur, ts)
    return True


def record(v, prev, ts, vsha):
    # The board installs v through the rollout: an abort of v may send it
    # back to prev while version.json is still the one this install wrote
    # (vsha), so a board later put on v by hand (other bytes) stays.
    st = _state()
    st["via"] = [v, prev, ts, vsha]
    fsx.write_json(STATE, st)


def _via(st):
    # The record as record() wrote it, or None (a record of another shape,
    # tampered or from an older updater, authorises nothing).
    via = st.get("via")
    if not isinstance(via, list) or len(via) != 4:
        return None
    v, prev, its, vsha = via
    if not (isinstance(v, str) and isinstance(prev, str) and isinstance(its, int) and isinstance(vsha, str)):
        return None
    return via


def _follow(cfg, client, v):
    # A board without a broker reads the rollout of the release it took
    # through it where the host publishes it, each check, so an abort reaches
    # it as it reaches a board on the broker: through take(). What cannot be
    # read or is refused is said; the document in force stays.
    if cfg.get("source") not in ("static", "github"):
        return
    from ota import source

    try:
        rel = source.make(cfg, client, v)
        if not hasattr(rel, "base"):
            rel.latest(None)  # GitHub: release v<v>'s assets (or download URL)
        data = _published(rel)
        if data:
            take(cfg, data, client)
    except Fail as e:
        if e.code != "replay":
            ev("warning", code=e.code, msg="rollout.json: " + e.msg[:60])


def revert(cfg, client=None):
    # The release to go back to when the rollout in force is an abort of the
    # release this board took through it, or None (docs/protocols.md, "Fleet
    # (MQTT)"). Only a signed abort newer than the document the board updated
    # under authorises this downgrade: an unsigned, replayed or other-release
    # abort, or a board on a release it did not get from the rollout, goes on
    # as before. client: a board without a broker, which reads the rollout
    # document from the release host first (_follow).
    st = _state()
    via = _via(st)
    if not via or not cfg.get("keys"):
        return None
    v, prev, its, vsha = via
    if journal.current_version() != v:
        return None
    if fsx.sha256("version.json", bytearray(256)) != vsha:
        return None  # v is on the board, but not from the install the rollout made
    if client is not None:
        _follow(cfg, client, v)
        st = _state()
    if st.get("rts", 0) <= its:
        return None  # no document since the one it updated under: no signature to check
    data = _in_force()
    if not data:
        return None
    try:
        d, ts = rollout_doc(cfg, data, client)
    except Fail:
        return None
    if d.get("aborted") and d["version"] == v and ts > its:
        return prev
    return None


# What makes the way back impossible, not just late: the release is gone from
# the host or refused as it stands (a key no longer trusted, a bad manifest).
_FINAL = (
    "http_404",
    "bad_signature",
    "no_signature",
    "bad_manifest",
    "expired",
    "schema_unsupported",
    "bad_path",
    "reserved_path",
    "path_conflict",
    "hash_mismatch",
    "too_large",
)


def give_up(back, e):
    # The way back to `back` failed: for a final reason the record goes (the
    # board stays on its release and says so once); otherwise the next check
    # tries again.
    code = getattr(e, "code", None)
    if code not in _FINAL:
        return
    reverted()
    ev("fleet", ok=False, code="revert", msg="cannot go back to %s (%s): staying" % (back[:20], code))


def reverted():
    # Once back: the same abort (retained, sent again) never acts twice.
    st = _state()
    st.pop("via", None)
    fsx.write_json(STATE, st)


def gate(cfg, rel):
    # allowed(), then this module leaves RAM before the download.
    try:
        return allowed(cfg, rel)
    finally:
        unload()


def on_msg(s, topic, msg):
    # A message from the broker for Session s; never raises.
    try:
        if topic == s.pre + b"rollout":
            r = take(s.cfg, msg)
            if r:
                d = r[0]
                ev("fleet", ok=True, code="rollout", version=d["version"], percent=d.get("percent"))
                if d.get("aborted"):
                    s.check = True  # a mains board goes back now, not at its next check
        elif topic.endswith(b"/cmd"):
            _command(s, msg)
    except Exception as e:
        from ota.fleet import why

        code, m = why(e)
        ev("fleet", ok=False, code=code, msg=m)
    gc.collect()


def _command(s, msg):
    d, ts = _verify(s.cfg, msg)
    if d.get("id") != s.id:
        raise Fail("bad_command", "command for another board")
    st = _state()
    if ts <= st.get("cts", 0):
        raise Fail("replay", "command older than the last one taken")
    st["cts"] = ts  # saved before acting: a replay after a crash is still refused
    fsx.write_json(STATE, st)
    cmd = d.get("cmd")
    ev("fleet", ok=True, code="cmd", cmd=cmd)
    if cmd == "check":
        s.check = True
    elif cmd == "confirm":
        journal.confirm()
    elif cmd == "rollback":
        if not journal.rollback(journal.load(), "fleet command"):
            raise Fail("no_rollback", "nothing to roll back: the release is confirmed or none is pending")
    elif cmd == "reboot":
        s.reboot = True
    else:
        raise Fail("bad_command", "unknown command %s" % str(cmd)[:20])
