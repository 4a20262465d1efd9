# Fleet reporting over MQTT (docs/protocols.md, "Fleet (MQTT)"): imported only when
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

_PROGRESS_MS = const(2000)  # at most one progress event per 2 s on the air


def device_id(cfg):
    from ota import fleetdoc

    return fleetdoc.device_id(cfg)


def why(e):
    # A broker failure in words, with a stable code. MQTTException by name:
    # ota.mqtt may be out of RAM (parked).
    if isinstance(e, Fail):
        return e.code, e.msg
    if type(e).__name__ == "MQTTException":
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
        self.parked = None  # events kept while off the broker (a list), or None

    def topic(self, leaf):
        return self.pre + b"devices/" + self.id.encode() + b"/" + leaf

    def open(self, sync=True):
        from ota import mqtt

        gc.collect()  # the compile's garbage goes before the connection's buffers come

        from ota import fleetdoc  # what only connecting needs

        f = self.f
        tls, host, port = fleetdoc.broker(f["broker"])
        ctx = fleetdoc.ssl_context(self.cfg, f) if tls else None
        fleetdoc.unload()
        if f.get("password") and not tls and not f.get("plain_password"):
            raise Fail("fleet_tls", "no password over plain mqtt:// (use mqtts://)")
        user = f.get("user")
        c = mqtt.MQTTClient(
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
        if not sync:
            return  # back only to report: queued messages wait for the next check
        if not present:
            c.subscribe(self.pre + b"devices/" + self.id.encode() + b"/cmd", 1)
            c.subscribe(self.pre + b"rollout", 1)
        self.sync(t)

    def sync(self, t):
        # Everything queued arrives before the answer to our ping.
        import time

        c = self.c
        # The plain socket holds the timeout (MicroPython's SSL sockets have no
        # settimeout).
        s = c.raw
        if not hasattr(s, "settimeout"):
            s = None
        c.pong = False
        c.ping()
        end = time.ticks_add(time.ticks_ms(), t * 1000)
        while not c.pong:
            left = time.ticks_diff(end, time.ticks_ms())
            if left <= 0:
                raise OSError(110)
            if s:
                s.settimeout(left / 1000)
            c.wait_msg()
        if s:
            s.settimeout(t)  # every later write is bounded too
        from ota import fleetdoc

        fleetdoc.unload()
        n = getattr(c, "dropped", 0)
        if n:
            c.dropped = 0
            ev("fleet", ok=False, code="dropped", msg="%d oversized or malformed messages dropped" % n)

    def _msg(self, topic, msg):
        # Signed documents are handled by ota.fleetdoc, loaded for that only.
        from ota import fleetdoc

        gc.collect()
        fleetdoc.on_msg(self, topic, msg)

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
        if e == "fleet":
            return
        if self.parked is not None:
            if e != "progress" and len(self.parked) < 8:
                self.parked.append(kw)
            if e == "done":
                self.close()  # the board resets right after a swap
            return
        if self.c is None:
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
        elif e == "available" and self.f.get("mode") != "mains":
            self._park()

    def _park(self):
        # A battery board leaves the broker while it downloads: the client and
        # its code leave RAM (the updater needs it); the "available" event
        # just sent tells the controller an update is under way, and the
        # events that follow are kept (no progress) until close() reports.
        import sys
        import ota

        c = self.c
        self.c = None
        self.parked = []
        c.disconnect()
        sys.modules.pop("ota.mqtt", None)
        if hasattr(ota, "mqtt"):
            delattr(ota, "mqtt")

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
        # From fleetdoc.STATE (not imported: it is unloaded after connecting),
        # docs/protocols.md "Fleet (MQTT)": the newest rollout document taken
        # (a host refuses a controller state older than it, a replay), and the
        # newest command taken (a host signs the next one above it, whatever
        # its own clock says).
        r = fsx.read_json(".ota/fleet.json")
        if isinstance(r, dict):
            for k in ("rts", "cts"):
                if r.get(k):
                    s[k] = r[k]
        if self.code:
            s["code"] = self.code
            s["msg"] = self.msg
        return json.dumps(s).encode()

    def _drop(self, e):
        code, m = why(e)
        ev("fleet", ok=False, code=code, msg=m)
        try:
            if self.c and self.c.sock:
                self.c.sock.close()
        except Exception:
            pass
        self.c = None

    def close(self):
        # Final retained status (after the events kept while parked), then a
        # clean disconnect (no last will).
        try:
            if self.parked is not None:
                kept = self.parked
                self.parked = None
                gc.collect()
                self.open(False)
                for kw in kept:
                    self.c.publish(self.topic(b"events"), json.dumps(kw).encode())
            if self.c is None:
                return
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
        from ota import fleetdoc

        fleetdoc.conf(cfg)
        gc.collect()
        s = Session(cfg)
        log.sink = s.event
        s.open()
    except Exception as e:
        if s is None:
            code, m = why(e)
            ev("fleet", ok=False, code=code, msg=m)
        else:
            s._drop(e)
    gc.collect()
    return s


def finish(s):
    # After the check: the final status, then a commanded reboot.
    if s is None:
        return
    s.close()  # a command read while waiting for the status's PUBACK still reports
    log.sink = None
    if s.reboot:
        import machine

        machine.reset()
