# Server verification for every HTTPS connection (README "Threat model"):
# CA roots (config tls.ca, default the roots the installer ships for the
# release host), SPKI pinning (tls.pin), a client certificate for mutual TLS
# (tls.cert/tls.key), and tls.insecure as the only way to skip verification.
# Certificates are valid for a time span: the board's clock must be set
# first (ota.clock, NTP), or verification fails with "validity starts in the future".
import binascii
import hashlib
from ota import fsx
from ota.log import Fail

ROOTS = "ota/roots.pem"  # written by the installer (src/core/tls-roots.ts)


def _read(path, what):
    try:
        with open(fsx.p(path), "rb") as f:
            return f.read()
    except OSError:
        if path == ROOTS:
            raise Fail("bad_config", "no CA roots (%s): reinstall the updater, or set tls.ca or tls.pin" % ROOTS)
        raise Fail("bad_config", "tls.%s file %s is missing" % (what, path[:40]))


def _pins(v):
    if v is None:
        return None
    pins = [v] if isinstance(v, str) else v
    if not isinstance(pins, list) or not pins:
        raise Fail("bad_config", "tls.pin must be a SHA-256 hex string or a list of them")
    out = []
    for p in pins:
        if not isinstance(p, str) or len(p) != 64:
            raise Fail("bad_config", "tls.pin must be a SHA-256 hex string or a list of them")
        out.append(p.lower())
    return out


def _tlv(d, i):
    # (start of value, end of value) of the DER element at i.
    n = d[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        if not 0 < k < 4:
            raise ValueError
        n = int.from_bytes(d[i : i + k], "big")
        i += k
    if i + n > len(d):
        raise ValueError
    return i, i + n


def spki(der):
    # The SubjectPublicKeyInfo element of an X.509 certificate (DER), whole.
    _, end = _tlv(der, 0)  # Certificate
    i, _ = _tlv(der, 0)
    i, _ = _tlv(der, i)  # tbsCertificate: its first field
    if der[i] == 0xA0:  # [0] version
        i = _tlv(der, i)[1]
    for _ in range(5):  # serial, signature, issuer, validity, subject
        i = _tlv(der, i)[1]
    s, e = _tlv(der, i)
    if der[i] != 0x30 or e > end:
        raise ValueError
    return der[i:e]


class Trust:
    def __init__(self, t):
        t = t or {}
        if not isinstance(t, dict):
            raise Fail("bad_config", "tls must be an object")
        ins = t.get("insecure", False)
        if not isinstance(ins, bool):
            raise Fail("bad_config", "tls.insecure must be true or false")
        self.insecure = ins
        for k in ("ca", "cert", "key"):
            if t.get(k) is not None and (not isinstance(t[k], str) or not t[k]):
                raise Fail("bad_config", "tls.%s must name a file on the board" % k)
        self.pins = _pins(t.get("pin"))
        # With only a pin, the pin is the trust (a self-signed server); a ca adds CA verification.
        self.ca = t.get("ca") or (None if self.pins else ROOTS)
        self.cert = t.get("cert")
        self.key = t.get("key")
        if bool(self.cert) != bool(self.key):
            raise Fail("bad_config", "tls.cert and tls.key go together")

    def check_files(self):
        # The files the config names exist (the default roots only once they are needed).
        for k in ("ca", "cert", "key"):
            path = getattr(self, k)
            if path and path != ROOTS and not fsx.exists(path):
                raise Fail("bad_config", "tls.%s file %s is missing" % (k, path[:40]))

    def wrap(self, sock, host):
        import ssl

        if not hasattr(ssl, "SSLContext"):
            # axTLS builds cannot verify a certificate at all.
            if not self.insecure:
                raise Fail("tls_unsupported", "this firmware's ssl cannot verify certificates")
            return ssl.wrap_socket(sock, server_hostname=host)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.insecure or not self.ca:
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx.verify_mode = ssl.CERT_REQUIRED
            # Read per connection, not kept: the roots would hold RAM through the whole update.
            ctx.load_verify_locations(cadata=_read(self.ca, "ca"))
        if self.cert:
            ctx.load_cert_chain(_read(self.cert, "cert"), _read(self.key, "key"))
        try:
            s = ctx.wrap_socket(sock, server_hostname=host)
        except ValueError as e:
            # mbedTLS's verify text: not signed by a trusted CA, wrong name, expired, not yet valid.
            raise Fail("tls_verify", "%s: %s" % (host[:40], str(e).strip().replace("\n", "; ")[:120]))
        except OSError as e:
            raise Fail("tls", "%s: handshake failed (%s)" % (host[:40], str(e)[:60]))
        if self.pins and not self.insecure:
            self._pin(s, host)
        return s

    def _pin(self, s, host):
        # Before any byte is sent: the server's public key must be a pinned one.
        try:
            der = s.getpeercert(True)
            h = binascii.hexlify(hashlib.sha256(spki(der)).digest()).decode()
        except (ValueError, IndexError, TypeError, AttributeError, OSError):
            h = None
        if h not in self.pins:
            s.close()
            raise Fail("tls_pin", "%s: the server's key is not a pinned one" % host[:40])
