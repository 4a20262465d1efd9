# Mains boards (docs/protocols.md, "Fleet (MQTT)"): `asyncio.create_task(ota.fleetd.run())`
# keeps the broker connection open between checks, so commands act at once
# and the app's own events (ota.confirm()) are published live. serve() is the
# same loop, blocking, for firmware without asyncio.
import time
from ota import fleet, log


class Daemon:
    def __init__(self, interval):
        self.interval = interval
        self.s = None
        self.back = 5
        self.due = time.ticks_ms()  # the first pass checks at once
        self.ping = 0

    def step(self):
        # One pass; returns the milliseconds to wait before the next. Never
        # raises: a broker failure only delays the next attempt (bounded).
        from ota import updater

        s = self.s
        try:
            if s is None or s.c is None:
                s = self.s = fleet.session(updater.load_config())
                if s is None or s.c is None:
                    self.s = None
                    self.back = min(self.back * 2, 300)
                    return self.back * 500
                self.back = 5
                self.ping = time.ticks_ms()
            if s.check or time.ticks_diff(time.ticks_ms(), self.due) >= 0:
                self.close()
                updater.update()  # reports through its own session
                self.due = time.ticks_add(time.ticks_ms(), self.interval * 1000)
                return 0
            if s.reboot:
                import machine

                self.close()
                machine.reset()
            if time.ticks_diff(time.ticks_ms(), self.ping) > 30000:
                self.ping = time.ticks_ms()
                s.sync(int(s.f.get("timeout", 5)))  # keeps the connection alive
            else:
                while s.c is not None and s.c.check_msg() is not None:
                    pass
            return 200
        except Exception as e:
            if s is not None:
                s._drop(e)
            self.s = None
            return self.back * 1000

    def close(self):
        s = self.s
        self.s = None
        if s is not None:
            s.close()
            log.sink = None


def serve(seconds, interval=3600):
    # Blocking: runs the loop for `seconds`, then leaves the broker cleanly.
    d = Daemon(interval)
    end = time.ticks_add(time.ticks_ms(), int(seconds * 1000))
    while time.ticks_diff(end, time.ticks_ms()) > 0:
        time.sleep_ms(max(0, min(d.step(), time.ticks_diff(end, time.ticks_ms()))))
    d.close()


async def run(interval=3600):
    import asyncio

    d = Daemon(interval)
    while True:
        await asyncio.sleep_ms(d.step())  # pyright: ignore[reportAttributeAccessIssue] - MicroPython's asyncio
