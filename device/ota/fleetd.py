# Mains boards (docs/protocols.md, "Fleet"): `asyncio.create_task(ota.fleetd.run())`
# keeps the broker connection open between checks, so commands act at once.
from ota import fleet, log

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
        s = fleet.session(cfg)
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
                    fleet.finish(s)
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
