# The registry's token flow (docs/protocols.md, "OCI registries" and "Token
# flow across checks"): a check's start (resume: the token or realm an
# earlier check left, ota.ocirealm), a 401 or 403 answered (login), a token
# got from a realm (_token). Imported through ota.oci.code() for a moment
# (in a check, or a login mid-download: then with ota.ocirealm only, not the
# check's ota.ocidoc), never kept in sys.modules.
from micropython import const
from ota import http
from ota.log import Fail
from ota.oci import code as oci_code
from ota.source import quote

_TOKEN_MAX = const(4096)  # a registry token: kept through the download, sent with every request
_TOKEN_DOC = const(9216)  # its answer: "token" and "access_token" may both hold it
_TOKEN_OK = (200, 301, 302, 303, 307, 308, 401, 403, 404)  # token answers given to login() as they are


def resume(rel):
    # Before the check's first request: the token of an earlier check in
    # this boot while it lasts, else one from the realm the registry named
    # before. A 401 or 403 to it is still answered once with a new token
    # (OCI.get, login); a realm that fails is forgotten.
    rm = oci_code("ocirealm")
    if not rm.verified(rel):
        rm.forget()  # nothing of a plain-HTTP registry's is kept
        return
    import time
    from ota import oci

    client = rel.client
    basic = _basic(rel.cfg)
    k = oci.kept
    if k and k[0] != rm.key(rel):
        k = oci.kept = None
    if k and k[2] and k[3] == basic and 0 <= time.ticks_diff(time.ticks_ms(), k[4]) < k[5]:
        client.auth = k[2]
        client.auth_public = not basic
        client.auth_origin = http.origin(rel.base)
        return
    p = k[1] if k else rm.stored(rel)
    if not p:
        return
    try:
        _token(rel, p, basic, rm)
        client.auth_origin = http.origin(rel.base)
    except Fail as e:
        if e.code == "deadline":
            raise
        client.auth = None
        client.auth_public = False
        oci.kept = None
        rm.forget()


def _params(ch):
    # key="value" pairs of a WWW-Authenticate challenge.
    out = {}
    i = ch.find(" ")
    while i >= 0:
        eq = ch.find('="', i)
        if eq < 0:
            break
        end = ch.find('"', eq + 2)
        if end < 0:
            break
        out[ch[i:eq].strip(" ,").lower()] = ch[eq + 2 : end]
        i = end + 1
    return out


def _basic(cfg):
    pw = cfg.get("password") or cfg.get("token")
    if not pw:
        return None
    import binascii

    up = "%s:%s" % (cfg.get("user") or "ota", pw)
    return "Basic " + binascii.b2a_base64(up.encode()).decode().strip()


def login(rel, r, sent, got):
    # Answers the registry's 401 or 403 (response r, closed) to `sent` (the
    # Authorization the board sent, or None); got: this request got a new
    # one already. What was refused is dropped, never sent again nor kept for
    # a later check. Then once per request (docs/protocols.md, "Token flow
    # across checks"): the credentials or a token from the challenge, else
    # (a 403 has none) from the realm this registry named before; True when
    # the request goes again with it, False when it goes again anonymously
    # to hear the challenge. Refused again, or refused anonymously with
    # nothing to answer (a 403, a 401 without a challenge): auth_failed. Only
    # the registry's own answer counts: blob storage it redirected to names
    # no token service for the board's credentials.
    if http.origin(r.url) != http.origin(rel.base):
        raise Fail("auth_failed", "blob storage the registry sent the board to answered HTTP %d" % r.status)
    client = rel.client
    basic = _basic(rel.cfg)
    # Nor may it ride along to a token service on the registry's own origin.
    client.auth = None
    client.auth_public = False
    from ota import oci

    rm = None
    if oci.kept:
        rm = _rm(rm)
        rm.drop(rel)
    ch = r.header("www-authenticate") or ""
    kind = ch.split(" ", 1)[0].lower()
    if got or not sent and (r.status == 403 or not kind):
        what = "anonymous access: set user and password"
        if basic:
            # A 403 to a token got with the credentials: they are good, the repository is not theirs.
            what = "access to " + rel.repo[:40] if r.status == 403 else "the credentials"
        raise Fail("auth_failed", "the registry refused %s (HTTP %d)" % (what, r.status))
    if kind == "basic":
        if not basic:
            raise Fail("auth_failed", "the registry needs credentials: set user and password")
        client.auth = basic
    elif kind == "bearer":
        _token(rel, _params(ch), basic, rm)
    elif kind:
        raise Fail("auth_failed", "unknown registry authentication " + kind[:20])
    else:
        rm = _rm(rm)
        p = rm.known(rel)
        if not p:
            return False
        _token(rel, p, basic, rm)
    client.auth_origin = http.origin(rel.base)
    return True


def _rm(rm):
    # ota.ocirealm, imported only where it is needed: over plain HTTP
    # without credentials a login needs none of it.
    return rm or oci_code("ocirealm")


def _token(rel, p, basic, rm=None):
    # A token from the realm of challenge parameters p (the registry's, or
    # the ones it gave before: resume), anonymous or with Basic credentials.
    client = rel.client
    realm = p.get("realm")
    if not realm:
        raise Fail("auth_failed", "Bearer challenge without realm")
    if basic and realm.startswith("http://") and rel.base.startswith("https://"):
        raise Fail("auth_failed", "plain-HTTP token service refused for an HTTPS registry")
    if basic:
        rm = _rm(rm)
    if basic and not rm.verified(rel):
        # A realm named over plain HTTP may be anyone's, however well its own TLS checks out.
        raise Fail("token_unverified", "credentials go only to a realm named by a registry over verified TLS")
    # ":" and "/" stand as they are in a query (RFC 3986): a scope's two
    # colons cost no 4 bytes of escapes; "&", "=", "+", "#" and the rest are.
    url = realm + ("&" if "?" in realm else "?") + "scope="
    url += quote(p.get("scope") or "repository:%s:pull" % rel.repo).replace("%3A", ":")
    if p.get("service"):
        url += "&service=" + quote(p["service"]).replace("%3A", ":")
    # Anonymous (public packages) or with the board's credentials. Its
    # answer is taken as given: a token service that redirects (where the
    # credentials would not follow) or asks again is refused.
    r = client.get(url, {"Authorization": basic} if basic else None, ok=_TOKEN_OK, follow=False)
    with r:
        if r.status != 200:
            raise Fail(
                "auth_failed",
                "the token service refused %s (HTTP %d)"
                % ("the credentials" if basic else "anonymous access: set user and password", r.status),
            )
        try:
            data = r.read_all(_TOKEN_DOC)
        except Fail as e:
            if e.code != "bad_manifest":  # nested too deep; doc_too_large stays
                raise
            data = b""
    import json

    try:
        doc = json.loads(data)
        tok = doc.get("token") or doc.get("access_token")
    except (ValueError, AttributeError):
        tok = None
    del data
    if not isinstance(tok, str) or not tok:
        raise Fail("auth_failed", "the token service gave no token")
    # It rides in a header of every request through the download: a
    # token68 of printable ASCII (a CR LF would inject headers), bounded.
    if len(tok) > _TOKEN_MAX or [c for c in tok if not "!" <= c <= "~"]:
        raise Fail("auth_failed", "the token service gave a token of %d bytes that is not one" % len(tok))
    client.auth = "Bearer " + tok
    # Got without credentials, the token is anyone's (a public pull): no
    # secret, so a plain-HTTP registry may have it. One got with the
    # board's credentials goes over verified TLS only (ota.http).
    client.auth_public = not basic
    if rel.base.startswith("https://"):
        _rm(rm).remember(rel, p, basic, doc, r.header("date"))
