# What the registry's token flow (ota.ociauth) taught, kept across checks
# (docs/protocols.md, "Token flow across checks"): the realm the registry
# named, in RAM and in REALM across reboots, and the last token while it
# lasts, in RAM only (ota.oci.kept: [key, realm params, "Bearer ...", basic,
# ticks when got, ms it may open a check]), so a check asks the token
# service first and skips the anonymous 401, or asks the registry at once.
# Only what a registry said over verified TLS, only for that registry
# (scheme, host, port) and repository. Imported by ota.ociauth for a moment,
# never kept in sys.modules.
from micropython import const

REALM = ".ota/ocirealm.json"
_REALM_MAX = const(1024)
_REALM_KEYS = ("realm", "service", "scope")
_LIFE_MAX = const(3600)  # seconds a token may open later checks, whatever it says
_MARGIN = const(10)  # seconds a remembered token must have left when a check starts


def verified(rel):
    # Only what a verified TLS registry said is remembered, and only used there.
    t = rel.client.trust
    return rel.base.startswith("https://") and not (t and t.insecure)


def key(rel):
    # The registry (scheme, host, port) and repository a realm is remembered for.
    return rel.base + "/" + rel.repo


def forget():
    from ota import fsx

    for n in (REALM, fsx.shadow(REALM)):
        fsx.remove(n)


def stored(rel):
    # REALM when whole (else its shadow), bounded, this registry's and
    # repository's and a realm over https; else it goes, and None.
    from ota import fsx

    if not fsx.exists(REALM):
        return None
    d = None
    if max(fsx.size(REALM), fsx.size(fsx.shadow(REALM))) <= _REALM_MAX:
        d = fsx.read_json(REALM)
    p = d.get("p") if isinstance(d, dict) and d.get("key") == key(rel) else None
    if not isinstance(p, dict) or not isinstance(p.get("realm"), str) or not p["realm"].startswith("https://"):
        forget()
        return None
    for k in p:
        if k not in _REALM_KEYS or not isinstance(p[k], str) or '"' in p[k]:
            forget()
            return None
    return p


def known(rel):
    # The realm this registry named before (this boot, else REALM), for a
    # refusal without a challenge (a 403): over verified TLS only.
    if not verified(rel):
        return None
    from ota import oci

    k = oci.kept
    return k[1] if k and k[0] == key(rel) else stored(rel)


def drop(rel):
    # A token the registry refused: no later check starts with it (its realm stays).
    from ota import oci

    k = oci.kept
    if k and k[0] == key(rel):
        k[2] = None


def remember(rel, p, basic, doc, date):
    # After a token (doc: the token service's answer, date: its Date): its
    # realm for later checks (REALM written only when it changed, and at
    # most once per check: a registry naming a new realm at every request
    # wears no more flash than one that keeps its realm; the rest stays in
    # RAM), the token in RAM while it lasts (_life).
    if not verified(rel) or not (p.get("realm") or "").startswith("https://"):
        return
    import time
    from ota import oci

    q = {}
    for k in _REALM_KEYS:
        if p.get(k):
            q[k] = p[k]
    k = oci.kept
    if not (k and k[0] == key(rel) and k[1] == q) and not getattr(rel, "realm_put", 0) and stored(rel) != q:
        from ota import fsx

        rel.realm_put = True
        fsx.write_json(REALM, {"key": key(rel), "p": q})
    life = _life(doc, date)
    oci.kept = [key(rel), q, rel.client.auth if life else None, basic, time.ticks_ms(), life]


def _life(doc, date):
    # How long (ms from now) the token may open a later check: expires_in
    # (60 s when absent, as the token spec says; at most an hour) counted
    # from issued_at, else from now. Only with a clock (the board's, else the
    # token service's Date: ota.clock): without one, 0.
    from ota import clock

    now = clock.now_iso(date)
    if now is None:
        return 0
    n = doc.get("expires_in", 60)
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        return 0
    n = min(n, _LIFE_MAX)
    at = doc.get("issued_at")
    if at is not None:
        a, b = _secs(at), _secs(now)
        if a is None or b is None:
            return 0
        n -= max(0, b - a)
    n -= _MARGIN
    return n * 1000 if n > 0 else 0


def _secs(s):
    # RFC 3339 UTC text ("…Z" or "+00:00", fractions ignored) as seconds, or None.
    from ota import clock
    import time

    if not clock.iso_ok(s) or s[19:].lstrip("0123456789.") not in ("Z", "z", "+00:00", "-00:00"):
        return None
    try:
        return time.mktime((int(s[:4]), int(s[5:7]), int(s[8:10]), int(s[11:13]), int(s[14:16]), int(s[17:19]), 0, 0))
    except ValueError:
        return None
