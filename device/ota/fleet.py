# Fleet reporting over MQTT (docs/protocols.md, "Fleet"): imported only when
# ota_config.json has "fleet". A session reports the board's retained status
# (with a last will), publishes OTA events, takes signed commands and the
# signed rollout document. The broker is never needed for an update: every
# broker failure ends the session quietly (a "fleet" event says why) and the
# update goes on.
import json
import gc
from micropython import const
from ota import fsx, journal, log
from ota.log import Fail, ev

STATE = ".ota/fleet.json"  # highest command / rollout timestamps accepted
ROLLOUT = ".ota/rollout"  # the last verified rollout document (signed bytes)
_PROGRESS_MS = const(2000)  # at most one progress event per 2 s on the air


def conf(cfg):
    f = cfg.get("fleet")
    if not isinstance(f, dict) or not isinstance(f.get("broker"), str) or not isinstance(f.get("name"), str):
        raise Fail("config", "fleet needs broker and name")
    return f


def device_id(cfg):
    i = (cfg.get("fleet") or {}).get("id") or cfg.get("id")
    if i:
        return str(i)
    import machine
    import binascii

    return binascii.hexlify(machine.unique_id()).decode()


def _broker(url):
    # mqtt://host:port or mqtts://host:port -> (tls, host, port)
    if url.startswith("mqtts://"):
        tls, rest = True, url[8:]
    elif url.startswith("mqtt://"):
        tls, rest = False, url[7:]
    else:
        raise Fail("config", "fleet broker must be mqtt:// or mqtts://")
    rest = rest.split("/")[0]
    host, port = rest, 8883 if tls else 1883
    if ":" in rest:
        host, p = rest.rsplit(":", 1)
        port = int(p)
    return tls, host, port


def _ssl(cfg, f):
    # Verifies the broker as every TLS connection of the updater does: the
    # CA from "tls" (fleet's own or the config's), or "insecure" said aloud.
    import ssl

    t = f.get("tls") or cfg.get("tls") or {}
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if t.get("insecure"):
        ev("fleet", ok=True, code="insecure", msg="broker certificate not verified (tls.insecure)")
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


def _why(e):
    # A broker failure in words, with a stable code.
    from ota.mqtt import MQTTException

    if isinstance(e, Fail):
        return e.code, e.msg
    if isinstance(e, MQTTException) or type(e).__name__ == "MQTTException":
        rc = e.args[0] if e.args else 0
        if rc in (4, 5):
            return "fleet_auth", "broker refused the user name or password (CONNACK %d)" % rc
        return "fleet_refused", "broker refused the connection (CONNACK %d)" % rc
    if isinstance(e, ValueError):  # mbedTLS certificate verification
        return "fleet_tls", "broker certificate not trusted: " + str(e)[:60]
    if isinstance(e, OSError) and e.args and e.args[0] == -9984:
        return "fleet_tls", "broker certificate not trusted (X509 verify failed)"
    if isinstance(e, OSError):
        return "fleet_down", "broker unreachable or silent: " + str(e)[:40]
    return "fleet_error", repr(e)[:60]


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
        d = json.loads(doc)
        ts = int(d["ts"])
    except (ValueError, KeyError, TypeError):
        raise Fail("bad_command", "malformed signed document")
    f = cfg.get("fleet")
    if f and d.get("fleet") != f.get("name"):
        raise Fail("bad_command", "document for another fleet")
    return d, ts


def _state():
    s = fsx.read_json(STATE)
    return s if isinstance(s, dict) else {}


def rollout_doc(cfg, data):
    # A verified rollout document from its signed bytes, or Fail. Documents
    # older than the newest one accepted are replays.
    if cfg.get("keys"):
        d, ts = _verify(cfg, data)
    else:
        try:
            d = json.loads(data[: data.find(b"\n")] if b"\n" in data else data)
            ts = int(d.get("ts", 0))
        except (ValueError, TypeError):
            raise Fail("bad_rollout", "malformed rollout document")
    if not isinstance(d.get("version"), str):
        raise Fail("bad_rollout", "rollout document has no version")
    if ts < _state().get("rts", 0):
        raise Fail("replay", "rollout document older than the one in force")
    return d, ts


def _save_rollout(data, ts):
    st = _state()
    st["rts"] = ts
    fsx.write_json(STATE, st)
    tmp = ROLLOUT + ".tmp"
    with open(fsx.p(tmp), "wb") as h:
        h.write(data)
    fsx.move(tmp, ROLLOUT)


def _published(rel):
    # rollout.json beside latest.json (static) or as a release asset (GitHub).
    if hasattr(rel, "base"):
        return rel.doc(rel.base + "/rollout.json", optional=True)
    assets = getattr(rel, "assets", None)
    if assets and "rollout.json" in assets:
        return rel.doc(assets["rollout.json"], rel._octet(None))
    return None


def allowed(cfg, rel):
    # Whether the board installs rel now. The rollout comes from the broker
    # (cached when it arrived) or sits beside latest.json / as a release
    # asset (rel.rollout()); with none anywhere every release installs.
    doc = None
    try:
        if fsx.exists(ROLLOUT):
            with open(fsx.p(ROLLOUT), "rb") as h:
                doc = rollout_doc(cfg, h.read())[0]
        else:
            data = _published(rel)
            if data:
                doc = rollout_doc(cfg, data)[0]
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
    return True


class Session:
    # One broker connection for the length of a check (battery boards) or
    # for the app's life (mains boards, see run()).
    def __init__(self, cfg):
        self.cfg = cfg
        self.f = cfg["fleet"]
        self.id = device_id(cfg)
        self.pre = ("ota/%s/" % self.f["name"]).encode()
        self.c = None
        self.reboot = False
        self.check = False
        self.code = None
        self.msg = None
        self.last = 0
        self.result = None

    def topic(self, leaf):
        return self.pre + b"devices/" + self.id.encode() + b"/" + leaf

    def open(self):
        from ota import mqtt

        f = self.f
        tls, host, port = _broker(f["broker"])
        ctx = _ssl(self.cfg, f) if tls else None
        if f.get("password") and not tls and not f.get("plain_password"):
            raise Fail("fleet_tls", "no password over plain mqtt:// (use mqtts://)")
        cls = mqtt.client()
        user = f.get("user")
        c = cls(
            ("ota-" + self.id).encode(),
            host,
            port,
            user.encode() if user else None,
            f["password"].encode() if f.get("password") else None,
            int(f.get("keepalive", 120)),
            ctx,
        )
        # The last will is the status as of now, offline: a host that starts
        # later still sees what the board runs.
        c.set_last_will(self.topic(b"status"), self.status(False), True, 1)
        c.set_callback(self._msg)
        c.pong = False
        t = int(f.get("timeout", 5))
        # A persistent session keeps the subscriptions and queues QoS 1
        # commands while a battery board sleeps; nothing is re-subscribed
        # (and no retained message re-sent) when the broker still has it.
        present = c.connect(False, t)
        self.c = c
        if not present:
            c.subscribe(self.pre + b"devices/" + self.id.encode() + b"/cmd", 1)
            c.subscribe(self.pre + b"rollout", 1)
        self.sync(t)

    def sync(self, t):
        # Everything queued arrives before the answer to our ping.
        import time

        c = self.c
        c.pong = False
        c.ping()
        end = time.ticks_add(time.ticks_ms(), t * 1000)
        while not c.pong:
            left = time.ticks_diff(end, time.ticks_ms())
            if left <= 0:
                raise OSError(110)
            c.sock.settimeout(left / 1000)
            c.wait_msg()
        c.sock.settimeout(t)  # every later write is bounded too
        n = getattr(c, "dropped", 0)
        if n:
            c.dropped = 0
            ev("fleet", ok=False, code="dropped", msg="%d oversized or malformed messages dropped" % n)

    def _msg(self, topic, msg):
        # Never raises: a bad message is dropped with a "fleet" event.
        try:
            if topic == self.pre + b"rollout":
                d, ts = rollout_doc(self.cfg, msg)
                _save_rollout(msg, ts)
                ev("fleet", ok=True, code="rollout", version=d["version"], percent=d.get("percent"))
            elif topic.endswith(b"/cmd"):
                self._command(msg)
        except Exception as e:
            code, m = _why(e)
            ev("fleet", ok=False, code=code, msg=m)
        gc.collect()

    def _command(self, msg):
        d, ts = _verify(self.cfg, msg)
        if d.get("id") != self.id:
            raise Fail("bad_command", "command for another board")
        st = _state()
        if ts <= st.get("cts", 0):
            raise Fail("replay", "command older than the last one taken")
        st["cts"] = ts  # saved before acting: a replay after a crash is still refused
        fsx.write_json(STATE, st)
        cmd = d.get("cmd")
        ev("fleet", ok=True, code="cmd", cmd=cmd)
        if cmd == "check":
            self.check = True
        elif cmd == "confirm":
            journal.confirm()
        elif cmd == "rollback":
            if not journal.rollback(journal.load(), "fleet command"):
                raise Fail("no_rollback", "nothing to roll back: the release is confirmed or none is pending")
        elif cmd == "reboot":
            self.reboot = True
        else:
            raise Fail("bad_command", "unknown command %s" % str(cmd)[:20])

    def event(self, kw):
        # log sink: OTA events to the broker; errors are remembered for the
        # status. A failure here ends the session, never the update.
        try:
            self._event(kw)
        except Exception as x:
            self._drop(x)

    def _event(self, kw):
        e = kw["ev"]
        if e == "error":
            self.code = kw.get("code")
            self.msg = kw.get("msg")
            self.result = "error"
        elif e == "done":
            self.result = "updated"
        elif e in ("rollback", "held") and self.result is None:
            self.result = e
        if self.c is None or e == "fleet":
            return
        if e == "progress":
            import time

            now = time.ticks_ms()
            if time.ticks_diff(now, self.last) < _PROGRESS_MS and kw.get("done") != kw.get("total"):
                return
            self.last = now
        self.c.publish(self.topic(b"events"), json.dumps(kw).encode())
        if e == "done":
            self.close()  # the board resets right after a swap

    def status(self, online=True):
        import os
        import time

        st = journal.load()
        u = os.uname()
        f = self.f
        s = {
            "id": self.id,
            "online": online,
            "group": f.get("group"),
            "app": journal.current_version(),
            "micropython": u[2],
            "board": u[4],
            "state": st["state"],
            "channel": self.cfg.get("channel"),
            "checked": time.time(),
            "result": self.result or "none",
            "free": fsx.free_bytes(),
            "uptime": time.ticks_ms() // 1000,
            "mode": f.get("mode", "battery"),
        }
        if st.get("bad"):
            s["bad"] = st["bad"]
        if self.code:
            s["code"] = self.code
            s["msg"] = self.msg
        return json.dumps(s).encode()

    def _drop(self, e):
        code, m = _why(e)
        ev("fleet", ok=False, code=code, msg=m)
        try:
            if self.c and self.c.sock:
                self.c.sock.close()
        except Exception:
            pass
        self.c = None

    def close(self):
        # Final retained status, then a clean disconnect (no last will).
        if self.c is None:
            return
        try:
            self.c.publish(self.topic(b"status"), self.status(), True, 1)
            self.c.disconnect()
        except Exception as e:
            self._drop(e)
        self.c = None


def session(cfg):
    # A Session after its check-in, or None without "fleet"; never raises.
    if not cfg.get("fleet"):
        return None
    s = None
    try:
        conf(cfg)
        s = Session(cfg)
        log.sink = s.event
        s.open()
    except Exception as e:
        if s is None:
            code, m = _why(e)
            ev("fleet", ok=False, code=code, msg=m)
        else:
            s._drop(e)
    gc.collect()
    return s


def finish(s):
    # After the check: the final status, then a commanded reboot.
    if s is None:
        return
    log.sink = None
    s.close()
    if s.reboot:
        import machine

        machine.reset()


async def run(interval=3600):
    # Mains boards: `asyncio.create_task(ota.fleet.run())`. Checks every
    # `interval` seconds or at once on a "check" command; between checks the
    # connection stays open (pings keep it alive) and commands act at once.
    # Broker failures only delay the next attempt (bounded backoff).
    import asyncio
    import time
    from ota import updater

    back = 5
    due = time.ticks_ms()
    while True:
        cfg = updater.load_config()
        s = session(cfg)
        ok = s is not None and s.c is not None
        try:
            ping = time.ticks_ms()
            while s is not None and s.c is not None:
                if s.check or time.ticks_diff(time.ticks_ms(), due) >= 0:
                    s.check = False
                    log.sink = None
                    s.close()
                    updater.update()
                    due = time.ticks_add(time.ticks_ms(), interval * 1000)
                    break
                if s.reboot:
                    finish(s)
                if time.ticks_diff(time.ticks_ms(), ping) > 30000:
                    ping = time.ticks_ms()
                    s.sync(int(s.f.get("timeout", 5)))
                else:
                    while s.c.check_msg() is not None:
                        pass
                await asyncio.sleep_ms(200)
        except Exception as e:
            if s is not None:
                s._drop(e)
        if s is not None and s.c is not None:
            log.sink = None
            s.close()
        back = 5 if ok else min(back * 2, 300)
        await asyncio.sleep(back)
