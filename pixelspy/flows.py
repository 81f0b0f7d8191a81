"""mitmproxy flows as pixelspy reads them: a flow's request as a RawHit (its URL as the client
addressed it, raw bytes kept visible, the body as stored), and when and whether a flow is pixelspy's
to read (after mitmproxy has acted on a hook; not refused by --auth).

Used by the live addon (pixelspy/addon.py) and by the files layer (pixelspy/har/: the --har recorder
and mitmproxy flow files), so that both read a flow the same way and the files layer never imports
the addon.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import Iterable

from mitmproxy import http

from pixelspy.decoders.wire import MAX_DECODE_BYTES
from pixelspy.heads import RequestHead
from pixelspy.model import _NOT_PLAIN, RawHit, split_url

# Bodies above this are kept (and decoded) only up to it, all the decoders read; the user's traffic
# is never changed.
MAX_STORED_BODY = MAX_DECODE_BYTES


# mitmproxy hands non-UTF-8 request bytes over as lone surrogates (surrogateescape), which no
# UTF-8 output (JSON lines, HAR, the terminal) can write.
_RAW_BYTE = re.compile("[\udc80-\udcff]")


def wire_text(text: str, in_url: bool = False) -> str:
    """Raw bytes as %XX in a URL, as a browser sends them (decoders then report them), else U+FFFD."""
    if text.isascii() or not _RAW_BYTE.search(text):  # (the surrogates are not ASCII)
        return text
    return _RAW_BYTE.sub(lambda m: f"%{ord(m.group()) - 0xDC00:02X}" if in_url else "\ufffd", text)


def _header_text(raw: bytes) -> str:
    """A header name or value as mitmproxy reads it (UTF-8, raw bytes kept as surrogates), wire_text'ed."""
    return wire_text(raw.decode("utf-8", "surrogateescape"))


# A host name whose labels mitmproxy's is_valid_host accepts as they are (ASCII, no IDNA), and a port.
_PLAIN_AUTHORITY = re.compile(r"((?:[A-Za-z0-9_-]{1,63}\.){0,126}[A-Za-z0-9_-]{1,63}\.?)(?::([0-9]{1,5}))?\Z")
_DEFAULT_PORTS = {b"http": 80, b"https": 443}


def request_url(flow: http.HTTPFlow) -> str:
    """The request's URL as the client addressed it (Host header included), raw bytes as %XX.

    This is mitmproxy's `pretty_url`, built directly when the Host header (or HTTP/2 authority) is a
    plain host name: there, pretty_url's parsing and IDNA round trips were a third of what the addon
    costs an ordinary request. Anything else is left to pretty_url."""
    if (plain := _plain_url(flow)) is not None:
        return plain[0]
    return wire_text(flow.request.pretty_url, in_url=True)


def request_url_parts(flow: http.HTTPFlow) -> tuple[str, tuple[str, str, str]]:
    """request_url(flow) and its split_url; for a plain host name, split from what the URL was
    built of rather than parsed again (every request's URL is split)."""
    if (plain := _plain_url(flow)) is not None:
        url, prefix, host = plain
        path = url[len(prefix):]
        if path.isascii() and _NOT_PLAIN.isdisjoint(path):  # as split_url's plain case reads the URL
            path, _, query = path.partition("#")[0].partition("?")
            return url, (host, path, query)
        return url, split_url(url)
    url = wire_text(flow.request.pretty_url, in_url=True)
    return url, split_url(url)


def _plain_url(flow: http.HTTPFlow) -> tuple[str, str, str] | None:
    """(request_url, its "scheme://netloc" prefix, its host lower-cased) when the Host header is a
    plain host name; else None."""
    data = flow.request.data
    authority = _host_header(data)
    if (authority and data.path.startswith(b"/") and data.method != b"CONNECT"
            and (plain := _plain_prefix(data.scheme, authority)) is not None):
        prefix, host = plain
        return wire_text(prefix + data.path.decode("utf-8", "surrogateescape"), in_url=True), prefix, host
    return None


# _plain_prefix's answers by (scheme, authority): a client sends the same few hosts again and again.
# Bounded (emptied when full), and only for authorities short enough to be a plain host name.
_PREFIXES: dict[tuple[bytes, bytes], tuple[str, str] | None] = {}
MAX_PREFIXES = 1024
_MAX_PLAIN_AUTHORITY = 253 + 6  # a name and ":port"


def _plain_prefix(scheme: bytes, authority: bytes) -> tuple[str, str] | None:
    """("scheme://netloc", the host lower-cased) when the authority is a plain host name, the netloc
    as pretty_url writes it (the default port left out); None otherwise."""
    if (plain := _PREFIXES.get((scheme, authority), False)) is not False:
        return plain
    plain = None
    default_port = _DEFAULT_PORTS.get(scheme)
    if default_port and authority.isascii() and b"xn--" not in authority.lower():
        if m := _PLAIN_AUTHORITY.match(authority.decode()):
            host, port = m.group(1), int(m.group(2) or 0)
            if port <= 65535 and len(host) <= 253:
                netloc = host if port in (0, default_port) else f"{host}:{port}"
                plain = f"{scheme.decode()}://{netloc}", host.lower()
    if len(authority) <= _MAX_PLAIN_AUTHORITY:
        if len(_PREFIXES) >= MAX_PREFIXES:
            _PREFIXES.clear()
        _PREFIXES[scheme, authority] = plain
    return plain


def _host_header(data) -> bytes | None:
    """mitmproxy's host_header as bytes, when it is one value (several Host headers: None)."""
    if data.http_version in (b"HTTP/2.0", b"HTTP/3") and data.authority:
        return data.authority
    found = None
    for name, value in data.headers.fields:
        if len(name) == 4 and name.lower() == b"host":
            if found is not None:
                return None
            found = value
    return found


def raw_hit(flow: http.HTTPFlow, with_body: bool = True, url: str | None = None,
            url_parts: tuple[str, str, str] | None = None, body_unread: bool = False) -> RawHit:
    """The flow's request as a RawHit; `url` (and `url_parts`, its split_url) when the caller
    already has request_url(flow). `body_unread`: the body was refused unread (too large), so the
    hit has none and says it was cut."""
    req = flow.request
    body, truncated = _request_body(req) if with_body and not body_unread else (b"", body_unread)
    peer = flow.client_conn.peername
    return RawHit.of_proxy(
        method=request_method(req),
        url=url if url is not None else request_url(flow),
        headers=_headers(req),
        body=body,
        body_truncated=truncated,
        time=req.timestamp_start or flow.timestamp_created,
        client=peer[0] if peer else "",
        url_parts=url_parts if url is not None else None,
    )


class HeaderNames:
    """The headers a RequestHead keeps, and what each raw name a client sends is to them: remembered
    (bounded), since clients send the same few names in the same few spellings again and again."""

    MAX_NAMES = 1024

    def __init__(self, names: Iterable[str]):
        self.wanted = frozenset(n.encode() for n in names)  # lower-case
        self.keys: dict[bytes, bytes] = {}  # raw name → its lower-case form if wanted, else b""

    def key(self, name: bytes) -> bytes | None:
        """The raw name's lower-case form if wanted, b"" if not; None when it is not ASCII (not kept)."""
        if not name.isascii():
            return None
        key = name.lower()
        key = key if key in self.wanted else b""
        if len(self.keys) >= self.MAX_NAMES:
            self.keys.clear()
        self.keys[name] = key
        return key


def request_head(flow: http.HTTPFlow, url: str, url_parts: tuple[str, str, str],
                 names: HeaderNames) -> RequestHead | None:
    """The flow's request as a RequestHead holding the headers `names` names, read as raw_hit reads
    them; `url`, `url_parts`: request_url_parts(flow). None when a header name is not ASCII:
    lower-cased as text, such a name may read as a wanted one (the Kelvin sign as "k")."""
    req = flow.request
    found: dict[bytes, bytes] = {}
    keys = names.keys
    for name, value in req.data.headers.fields:
        if (key := keys.get(name)) is None and (key := names.key(name)) is None:
            return None
        if key and key not in found:  # (the first of a name wins, as in RawHit.header_map)
            found[key] = value
    try:  # (a value's own decoding is what raw_hit's gives it: wire_text changes no valid UTF-8)
        headers = {k.decode(): v.decode() for k, v in found.items()}
    except UnicodeDecodeError:
        headers = {k.decode(): _header_text(v) for k, v in found.items()}
    peer = flow.client_conn.peername
    return RequestHead(request_method(req), url, url_parts, headers, req.timestamp_start or flow.timestamp_created,
                       peer[0] if peer else "")


# The common methods as mitmproxy's Request.method gives them (decoded, upper-cased): a dict lookup
# instead of its decode and upper() on every request.
_METHODS = {m.encode(): m for m in ("GET", "POST", "OPTIONS", "HEAD", "PUT", "PATCH", "DELETE")}


def request_method(req: http.Request) -> str:
    """req.method."""
    return _METHODS.get(req.data.method) or req.method


def _headers(req: http.Request) -> tuple[tuple[str, str], ...]:
    """The request's headers as text (_header_text)."""
    fields = req.headers.fields
    try:  # valid UTF-8, the common case, is decoded directly: wire_text has nothing to replace in it
        return tuple([(k.decode(), v.decode()) for k, v in fields])
    except UnicodeDecodeError:
        return tuple([(_header_text(k), _header_text(v)) for k, v in fields])


def _request_body(req: http.Request) -> tuple[bytes, bool]:
    """The request body as stored (at most MAX_STORED_BODY bytes), and whether it was longer."""
    if req.raw_content is None and isinstance(req.stream, BodyPrefix):  # streamed through
        return bytes(req.stream.kept), req.stream.size > MAX_STORED_BODY
    body = req.raw_content or b""
    return body[:MAX_STORED_BODY], len(body) > MAX_STORED_BODY


class BodyPrefix:
    """A body's `stream` callable for mitmproxy: passes every chunk on unchanged, keeping the
    first MAX_STORED_BODY bytes and counting the rest."""

    def __init__(self) -> None:
        self.kept = bytearray()
        self.size = 0

    def __call__(self, chunk: bytes) -> bytes:
        self.size += len(chunk)
        if len(self.kept) < MAX_STORED_BODY:
            self.kept += chunk[:MAX_STORED_BODY - len(self.kept)]
        return chunk


# The flow metadata key the addon sets on a request a decoder route matches (a tracking hit, or a
# twin copy of one), when it looks the route up: later addons need not look it up again.
TRACKING_HIT = "pixelspy_tracking"


def refused_by_proxyauth(flow: http.HTTPFlow, auth_required: bool) -> bool:
    """Whether mitmproxy's proxyauth addon (run before pixelspy's) refused the request: with --auth
    it marks every request it lets through with metadata["proxyauth"] (mitmproxy 11 and 12), and
    answers the others 407 (or 401). Nothing it refused is an event or a HAR entry."""
    return auth_required and "proxyauth" not in flow.metadata and not flow.is_replay


def after_hook(callback, *args) -> None:
    """Calls callback(*args) once mitmproxy has acted on the running hook (sent the answer it set,
    or forwarded the request); at once when no event loop runs (a script calling the hooks itself).
    Callbacks run in the order they were given.

    Two turns of the loop: mitmproxy 11 acts in the step that ends a hook, but mitmproxy 12 on
    Python 3.12 runs hooks eagerly, inside the step that raised them, and acts one turn later,
    when that step has released the connection's lock."""
    if (queue := _queue()) is None:
        callback(*args)
    else:
        queue.add(callback, args)


def in_turn(callback, *args) -> None:
    """Calls callback(*args) in the order of after_hook's callbacks, without waiting for mitmproxy
    to act on the hook: at once when none waits, else after those waiting. For work the hook's
    outcome need not wait for (an ordinary request shown to the checks): most requests then cost
    no loop handle."""
    if (queue := _queue()) is None or not queue.waiting:
        callback(*args)
    else:
        queue.add(callback, args)


def _queue() -> _AfterHooks | None:
    """The running loop's after_hook queue; None when no loop runs."""
    # (asyncio's get_running_loop without the exception it raises when none runs, which a script
    # calling the hooks pays on every request)
    if (loop := asyncio._get_running_loop()) is None:
        return None
    queue = _last
    if queue is None or queue.loop is not loop:
        queue = _after_hooks_of(loop)
    return queue


class _AfterHooks:
    """after_hook's callbacks of one event loop. Two loop handles per callback were a measurable share
    of what pixelspy adds to a request: the callbacks given within a turn share them instead. Each
    batch is closed by a handle that runs after the hook steps that added to it, then run one turn
    later: after whatever those steps left for mitmproxy to do next turn, as two handles per
    callback did."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.open: list[tuple] = []  # (callback, args) not yet closed into a batch
        self.waiting = 0  # callbacks added and not yet run

    def add(self, callback, args: tuple) -> None:
        if not self.open:
            self.loop.call_soon(self._close)
        self.open.append((callback, args))
        self.waiting += 1

    def _close(self) -> None:
        batch, self.open = self.open, []
        self.loop.call_soon(self._run, batch)

    def _run(self, batch: list[tuple]) -> None:
        for callback, args in batch:
            self.waiting -= 1
            try:
                callback(*args)
            except Exception as e:  # noqa: BLE001 - as the loop treats a failed callback: logged, the others run
                self.loop.call_exception_handler({"message": f"Exception in callback {callback!r}", "exception": e})


_after_hooks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _AfterHooks] = weakref.WeakKeyDictionary()
_last: _AfterHooks | None = None  # the proxy runs one loop: its queue, without a lookup per request


def _after_hooks_of(loop: asyncio.AbstractEventLoop) -> _AfterHooks:
    global _last
    if (queue := _after_hooks.get(loop)) is None:
        queue = _after_hooks[loop] = _AfterHooks(loop)
    _last = queue
    return queue
