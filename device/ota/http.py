# A small streaming HTTP/1.1 client: bodies read in caller-sized pieces,
# redirects followed by Client so credentials never travel to another host,
# and one idle connection kept per Client for the next request to the same
# origin (docs/protocols.md, "Connection reuse").
import gc
import io
import socket
import time
from micropython import const
from ota.log import Fail

# Connection reuse on (docs/protocols.md, "Connection reuse"). Not a setting:
# the bench turns it off to measure what it saves.
KEEP = True

_KEEP = (
    b"location",
    b"content-length",
    b"transfer-encoding",
    b"etag",
    b"retry-after",
    b"date",
    b"content-range",
    b"content-encoding",
    b"x-ratelimit-remaining",
    b"www-authenticate",  # OCI registries: which token flow to follow
    b"docker-content-digest",
    b"content-type",  # OCI registries: a manifest is served as its media type
    b"connection",  # "close": the connection ends with this answer
)


def split_url(url):
    if url.startswith("https://"):
        tls, rest = True, url[8:]
    elif url.startswith("http://"):
        tls, rest = False, url[7:]
    else:
        raise Fail("bad_url", url[:60])
    for c in url:
        if c <= " " or c == "\x7f":
            # A space, CR or LF would end the request line early: a header injected by a Location.
            raise Fail("bad_url", repr(url[:60]))
    i = rest.find("/")
    host, path = (rest, "/") if i < 0 else (rest[:i], rest[i:])
    if chr(64) in host or not host:  # "@" (chr: one string less in a board's RAM)
        # user:password@ in a URL (a redirect's): never sent, never taken as a host name.
        raise Fail("bad_url", url[:60])
    port = 443 if tls else 80
    j = host.rfind(":")
    if j > 0 and host[j + 1 :].isdigit():
        port = int(host[j + 1 :])
        host = host[:j]
    return tls, host, port, path


def origin(url):
    tls, host, port, _ = split_url(url)
    return "%s:%s:%d" % (tls, host, port)


def _io_fail(e):
    if isinstance(e, Fail):
        return e
    if e.args and e.args[0] in (110, 116, "timed out"):
        return Fail("timeout", "no answer in time")
    if "timed out" in str(e):
        return Fail("timeout", "no answer in time")
    return Fail("network", str(e)[:60])


_MAX_LINE = const(2048)  # one status or header line
_MAX_HEADERS = const(64)  # header lines per answer


def _int(b, base=10):
    # A non-negative number from the server, or a protocol error (never ValueError).
    try:
        n = int(b, base)
    except ValueError:
        n = -1
    if n < 0 or not b.strip():
        raise Fail("protocol", "bad number %r" % bytes(b[:20]))
    return n


class Deadline:
    # The whole update's time budget (config "deadline"): every read checks it,
    # and no socket wait outlasts it, so a server dripping a byte a second
    # cannot hold the board (and the app) past it.
    def __init__(self, seconds):
        self.end = time.ticks_add(time.ticks_ms(), int(seconds * 1000))

    def left(self):
        # Milliseconds left (> 0), or raises deadline. A small int: checked
        # before every socket read, it allocates nothing.
        ms = time.ticks_diff(self.end, time.ticks_ms())
        if ms <= 0:
            raise Fail("deadline", "the update took longer than its deadline")
        return ms


class Response(io.IOBase):
    # A stream (readinto), so deflate.DeflateIO can read a gzip body through it;
    # `with r:` ends it however the block ends: its connection goes back to
    # the pool only when the body was read to its exact end (close()).
    def __init__(self, sock, raw=None, timeout=10, deadline=None, pool=None, key=None):
        self.sock = sock
        self.raw = raw or sock  # the TCP socket under TLS: its timeout bounds every wait
        self.timeout = int(timeout * 1000)  # ms, as Deadline.left()
        self.deadline = deadline
        self.status = 0
        self.url = None  # where the request ended, redirects followed (Client.get)
        self.headers = {}
        self._buf = bytearray(256)
        self._mv = memoryview(self._buf)
        self._pos = 0
        self._end = 0
        self._eof = False
        self.pool = pool  # the Client whose idle connection this one becomes (None: closed after)
        self.key = key
        self.reuse = False  # HTTP/1.1 and no "Connection: close" (request())

    def _body(self):
        # Framing from the headers: chunked, Content-Length, or until close.
        # 204 and 304 have no body whatever their headers say (RFC 9110).
        self._chunked = b"chunked" in self.headers.get(b"transfer-encoding", b"").lower()
        cl = self.headers.get(b"content-length")
        self.length = _int(cl) if cl is not None and not self._chunked else -1
        if self.status in (204, 304):
            self._chunked = False
            self.length = 0
        elif self.length < 0 and not self._chunked:
            self.reuse = False  # until close: the end of the body is the end of the connection
        self._left = self.length  # bytes left in the body (or current chunk)

    def header(self, name):
        v = self.headers.get(name.encode())
        return v.decode() if v is not None else None

    # Raw reads from the socket through a small buffer. Small reads (deflate
    # asks for one byte per call) are served from the buffer, a single byte
    # without allocating; big ones go straight from the socket.
    def _raw_into(self, mv):
        if self.sock is None:
            raise Fail("network", "read after close")
        if self._pos >= self._end and len(mv) < len(self._buf) and not self._fill():
            return 0
        if self._pos < self._end:
            n = min(len(mv), self._end - self._pos)
            if n == 1:
                mv[0] = self._buf[self._pos]
            else:
                memoryview(mv)[:n] = self._mv[self._pos : self._pos + n]
            self._pos += n
            return n
        self._tick()
        try:
            n = self.sock.readinto(mv)
        except OSError as e:
            raise self._fail(e)
        return n or 0

    def _tick(self):
        # Before each socket read: the deadline not passed, and the wait no longer than what is left.
        if self.deadline:
            left = self.deadline.left()
            if left < self.timeout:
                self.timeout = left
                self.raw.settimeout(left / 1000)

    def _fail(self, e):
        self.reuse = False  # a failed read leaves the stream at no known place
        f = _io_fail(e)
        if f.code == "timeout" and self.deadline:
            self.deadline.left()  # a wait cut short by the deadline reports the deadline
        return f

    def _fill(self):
        if self.sock is None:
            raise Fail("network", "read after close")
        self._tick()
        try:
            n = self.sock.readinto(self._buf)
        except OSError as e:
            raise self._fail(e)
        self._pos = 0
        self._end = n or 0
        return self._end

    def readline(self):
        out = b""
        while True:
            if self._pos >= self._end and not self._fill():
                return out
            i = self._buf.find(b"\n", self._pos, self._end)
            if i >= 0:
                out += bytes(self._mv[self._pos : i + 1])
                self._pos = i + 1
                return out
            out += bytes(self._mv[self._pos : self._end])
            self._pos = self._end
            if len(out) > _MAX_LINE:
                raise Fail("header_too_large", "a header line over %d bytes" % _MAX_LINE)

    def readinto(self, buf):
        # Fills `buf` with body bytes, whole unless the body ends first (as a
        # file does: deflate reads the gzip trailer in one short read); 0 at the end.
        n = self._read_some(buf)
        if not n or n == len(buf):
            return n
        mv = memoryview(buf)
        while n < len(buf):
            try:
                k = self._read_some(mv[n:])
            except Fail:
                return n  # keep what arrived; the next read raises again
            if not k:
                break
            n += k
        return n

    def _read_some(self, mv):
        if self._eof or not len(mv):
            return 0
        if self._chunked:
            if self._left <= 0:
                if self._left == 0:
                    self.readline()  # CRLF after the previous chunk
                line = self.readline()
                if not line:
                    raise Fail("network", "chunked body cut")
                size = line.split(b";")[0].strip()
                if len(size) > 8:  # 4 GB: a longer size is no chunk a board reads, only a big integer
                    raise Fail("protocol", "chunk size %r" % bytes(size[:20]))
                self._left = _int(size, 16)
                if self._left == 0:
                    self._eof = True
                    if self.reuse:
                        self._trailers()
                    return 0
            n = self._raw_into(mv if len(mv) <= self._left else memoryview(mv)[: self._left])
            if not n:
                raise Fail("network", "closed mid-chunk")
            self._left -= n
            return n
        if self._left == 0:
            self._eof = True
            return 0
        if len(mv) > self._left > 0:
            mv = memoryview(mv)[: self._left]  # sliced only near the end: no garbage per chunk
        n = self._raw_into(mv)
        if not n:
            if self._left > 0:
                raise Fail("network", "closed mid-body")
            self._eof = True
            return 0
        if self._left > 0:
            self._left -= n
        return n

    def _trailers(self):
        # After the last chunk: trailer lines up to the empty one, which ends
        # the answer; only then may the connection carry the next one. A cut
        # or endless trailer costs the reuse, not the body.
        try:
            for _ in range(_MAX_HEADERS + 1):
                line = self.readline()
                if line in (b"\r\n", b"\n"):
                    return
                if not line:
                    break
        except Fail:
            pass
        self.reuse = False

    def _drain(self, limit=1024):
        # Reads the small rest of a body nobody wants (an error page, a
        # redirect's, the end of a document a scanner stopped short of), so the
        # connection can carry the next request; bounded by the timeout and
        # the deadline as every read. A big or unframed rest, or one after a
        # failed read, is not waited for: the connection is closed instead.
        if not self.reuse or self._left > limit or (self.length < 0 and not self._chunked):
            return
        if self._eof or (self._left == 0 and not self._chunked):
            return  # read to its end already: nothing to allocate
        piece = bytearray(64)
        n = 0
        try:
            while n <= limit:
                k = self._read_some(piece)
                if not k:
                    return
                n += k
        except Fail:
            self.reuse = False

    def _done(self):
        # Whether the answer was read to its exact end with known framing and
        # nothing past it arrived: then, and only then, the next answer starts
        # at the next byte. A byte beyond the end is no answer to anything (a
        # hostile server's), so it costs the connection.
        if not self.reuse:
            return False
        end = self._eof if self._chunked else self._left == 0
        return end and self._pos == self._end

    def read_all(self, limit):
        # The whole body as bytes, for small JSON documents only (latest.json,
        # a signature, a token answer), their nesting checked (jscan.nesting)
        # before any caller json.loads them.
        if self.length > limit:
            raise Fail("doc_too_large", "document over %d bytes" % limit)
        out = bytearray()
        piece = bytearray(256)
        mv = memoryview(piece)
        while True:
            n = self.readinto(mv)
            if not n:
                break
            out += mv[:n]
            if len(out) > limit:
                raise Fail("doc_too_large", "document over %d bytes" % limit)
        from ota import jscan

        jscan.nesting(out)
        return bytes(out)

    def ioctl(self, req, arg):
        return 0

    def close(self):
        # Back to the Client's pool when read to its end (_done), else closed.
        # Twice is fine: the second does nothing.
        s = self.sock
        if s is None:
            return
        if self.pool is not None:
            self._drain()
        self.sock = None
        if self.pool is not None and self._done():
            self.pool._put(self.key, self.raw, s)
        else:
            _shut(s)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _shut(s):
    try:
        s.close()
    except OSError:
        pass


def _quiet(s, raw):
    # Whether a kept connection is still open with no byte waiting, without
    # waiting: a byte before the request is sent answers nothing (a hostile
    # server's extra bytes would be read as the next answer), and an end of
    # stream is a server that closed it meanwhile.
    b = bytearray(1)
    try:
        raw.settimeout(0)
        n = s.readinto(b)
    except OSError as e:
        return e.args[0] in (11, 110, 116)  # EAGAIN, ETIMEDOUT: nothing there
    return n is None


def _connect(tls, host, port, timeout, trust=None):
    # (TCP socket, stream): the stream is the TLS one over it for https.
    try:
        ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
        s = socket.socket(ai[0], socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(ai[-1])
    except OSError as e:
        raise _io_fail(e)
    if not tls:
        return s, s
    if trust is None:
        from ota.tls import Trust

        trust = Trust(None)
    try:
        return s, trust.wrap(s, host)
    except Exception:
        s.close()
        raise


def request(url, headers=None, timeout=10, deadline=None, trust=None, pool=None):
    # One GET; the caller reads the body inside `with r:`, which ends it.
    # pool: the Client whose idle connection to this origin (and trust) is
    # used, and which gets this one back when its answer was read to the end.
    tls, host, port, path = split_url(url)
    if deadline:
        timeout = min(timeout, deadline.left() / 1000)
    keep = pool is not None and KEEP
    key = (tls, host, port, trust)
    c = pool._take(key) if keep else None
    hostline = host if port in (80, 443) else "%s:%d" % (host, port)
    while True:
        if c:
            raw, s = c[1], c[2]
            raw.settimeout(timeout)
        else:
            raw, s = _connect(tls, host, port, timeout, trust)
        r = Response(s, raw, timeout, deadline, pool if keep else None, key)
        try:
            # No Connection header with reuse: HTTP/1.1 connections persist.
            s.write(
                b"GET %s HTTP/1.1\r\nHost: %s\r\n%s"
                % (path.encode(), hostline.encode(), b"" if keep else b"Connection: close\r\n")
            )
            if headers:
                for k in headers:
                    s.write(b"%s: %s\r\n" % (k.encode(), headers[k].encode()))
            s.write(b"\r\n")
            line = r.readline()
            if line:
                break
            err = Fail("network", "closed before answering")
        except OSError as e:
            err = r._fail(e)
        except Fail as e:
            err = e
        except Exception:
            _shut(s)
            raise
        _shut(s)
        if not c or r._end or err.code not in ("network", "timeout"):
            raise err
        # A kept connection the server closed (or dropped silently) meanwhile,
        # no byte of an answer on it: the same GET once more, on a new
        # connection, once (GET is idempotent). Never after part of an answer.
        c = None
    try:
        parts = line.split(None, 2)
        if not line.startswith(b"HTTP/1.") or len(parts) < 2 or len(parts[1]) != 3:
            raise Fail("protocol", "bad status line %r" % line[:40])
        r.status = _int(parts[1])
        # Only an HTTP/1.1 final answer may leave its connection for the next request.
        r.reuse = keep and line.startswith(b"HTTP/1.1 ") and r.status >= 200
        n = 0
        while True:
            line = r.readline()
            if not line:
                raise Fail("network", "headers cut")
            if line in (b"\r\n", b"\n"):
                break
            n += 1
            if n > _MAX_HEADERS:
                raise Fail("header_too_large", "more than %d header lines" % _MAX_HEADERS)
            i = line.find(b":")
            if i <= 0:
                raise Fail("protocol", "bad header line %r" % line[:40])
            k = line[:i].strip().lower()
            if k in _KEEP:
                r.headers[k] = line[i + 1 :].strip()
        if b"close" in r.headers.get(b"connection", b"").lower():
            r.reuse = False
        r._body()
        kind = r.headers.get(b"content-encoding", b"identity").lower()
        want = (headers or {}).get("Accept-Encoding", "")
        if r.status in (200, 206) and kind != b"identity" and want != "identity" and kind != want.encode():
            # A body is read as sent: compressed only when the request asked for
            # that encoding (fetch asks for gzip). Anything else would be hashed
            # or parsed as garbage, or inflated with a 32 KB window nobody
            # planned for. Asking for "identity" (a bundle) takes the bytes
            # whatever their label: a .tar.gz labelled gzip is still its bytes.
            raise Fail("bad_encoding", repr(bytes(kind[:20])))
        return r
    except OSError as e:
        _shut(s)
        raise r._fail(e)
    except Exception:
        _shut(s)
        raise


MAX_RETRY_AFTER = const(30)  # seconds a Retry-After may make the board wait (config "max_retry_after")


class Client:
    # Redirects, retries with backoff, 429/Retry-After, the update's
    # deadline, and the rule that a token (Authorization) is sent to
    # `auth_origin` only, and only over a verified TLS connection.
    def __init__(
        self, timeout=10, retries=3, auth=None, auth_origin=None, deadline=None, trust=None, max_wait=MAX_RETRY_AFTER
    ):
        self.timeout = timeout
        self.retries = retries
        self.auth = auth
        self.auth_origin = auth_origin
        # True when `auth` holds no secret: a registry's pull token handed to
        # anyone who asks (no credentials given), which plain HTTP may carry.
        self.auth_public = False
        self.deadline = deadline
        self.trust = trust
        self.max_wait = max_wait
        self.date = None  # last Date header: a clock for boards without one
        self._idle = None  # (key, TCP socket, stream): the one connection kept for the next request

    def _take(self, key):
        # The kept connection when it is for this origin and trust and still
        # quiet; any other is closed first (at most one is ever open idle).
        c = self._idle
        self._idle = None
        if c is None:
            return None
        if c[0] == key and _quiet(c[2], c[1]):
            return c
        _shut(c[2])
        return None

    def _put(self, key, raw, s):
        self.release()
        self._idle = (key, raw, s)

    def release(self, plain=True):
        # Closes the kept connection: at the end of a check, and (plain=False:
        # TLS only) before a step that wants the heap, since a TLS context
        # holds tens of KB there on some boards and a plain socket a few hundred bytes.
        c = self._idle
        if c is not None and (plain or c[0][0]):
            self._idle = None
            _shut(c[2])

    def _sleep(self, s):
        # Backoff and Retry-After waits end before the deadline, or are not started.
        if self.deadline and s * 1000 >= self.deadline.left():
            raise Fail("deadline", "no time left to wait %ds for a retry" % s)
        time.sleep(s)

    def get(self, url, headers=None, ok=(200,), follow=True):
        # follow=False: a redirect is returned as it came (to be refused).
        wait = 1
        attempt = 0
        while True:
            attempt += 1
            try:
                r = self._follow(url, headers, follow)
            except Fail as e:
                if e.code not in ("network", "timeout") or attempt > self.retries:
                    raise
                self._sleep(wait)
                wait *= 2
                continue
            if r.status in ok:
                return r
            r.close()  # ended before any wait below; its status and headers stay readable
            if r.status == 404:
                raise Fail("http_404", "not found: " + url[-60:])
            if r.status == 403 and r.header("x-ratelimit-remaining") == "0":
                raise Fail("rate_limited", "API rate limit used up (HTTP 403)")
            if r.status == 429 or (r.status == 403 and r.header("retry-after")):
                ra = r.header("retry-after")
                delay = int(ra) if ra and ra.isdigit() else wait
                if delay > self.max_wait:
                    raise Fail("retry_later", "HTTP %d asks to wait %ds (cap %ds)" % (r.status, delay, self.max_wait))
                if attempt > self.retries:
                    raise Fail("rate_limited", "HTTP %d, retry after %ss" % (r.status, delay))
                self._sleep(delay)
                wait *= 2
                continue
            if r.status >= 500 and attempt <= self.retries:
                self._sleep(wait)
                wait *= 2
                continue
            raise Fail("http_status", "HTTP %d" % r.status)

    def _follow(self, url, headers, follow=True):
        first = origin(url)
        for _ in range(6):
            gc.collect()  # the last request's garbage never meets this one's
            h = dict(headers) if headers else {}
            here = origin(url)
            if here != first:
                h.pop("Authorization", None)  # a caller's credentials stay with the origin asked
            public = False
            if self.auth and here == self.auth_origin:
                h["Authorization"] = self.auth
                public = self.auth_public
            unverified = not url.startswith("https://") or (self.trust and self.trust.insecure)
            if "Authorization" in h and not public and unverified:
                raise Fail("token_unverified", "a token is only sent over verified TLS: " + url[:40])
            r = request(url, h, self.timeout, self.deadline, self.trust, self)
            d = r.header("date")
            if d:
                self.date = d
            r.url = url
            if follow and r.status in (301, 302, 303, 307, 308):
                with r:
                    loc = r.header("location")
                if not loc:
                    raise Fail("http_status", "redirect without Location")
                if loc.startswith("/"):
                    tls, host, port, _ = split_url(url)
                    loc = "%s://%s:%d%s" % ("https" if tls else "http", host, port, loc)
                if url.startswith("https://") and not loc.startswith("https://"):
                    raise Fail("redirect_downgrade", "HTTPS redirected to " + loc[:40])
                url = loc
                continue
            return r
        raise Fail("too_many_redirects", "more than 5 redirects")
