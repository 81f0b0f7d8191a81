"""The mitmproxy addon: flow → RawHit → session (decoders → checks → subscribers).

Hits are read in the `request` hook, so they are seen even when the vendor is unreachable, and
decoded just after a hook: in sink mode once mitmproxy has sent the local answer, so decoding never
delays it; otherwise right after the request hook, which on an open upstream connection is once
mitmproxy has forwarded the request. The addon never raises into mitmproxy and never touches a
flow, except in sink mode, where tracking hits are answered locally and never reach the vendor.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from collections.abc import Iterator

from mitmproxy import ctx, http

from pixelspy import decoders
from pixelspy.decoders.wire import MAX_DECODE_BYTES
from pixelspy.model import RawHit, TrackingEvent, split_url
from pixelspy.session import Session

log = logging.getLogger("pixelspy")

# Bodies above this are kept (and decoded) only up to it, all the decoders read; the user's traffic
# is never changed.
MAX_STORED_BODY = MAX_DECODE_BYTES
GIF_1X1 = bytes.fromhex("47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b")


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
    req = flow.request
    data = req.data
    default_port = _DEFAULT_PORTS.get(data.scheme)
    authority = _host_header(data)
    if (default_port and authority and authority.isascii() and data.path.startswith(b"/")
            and data.method != b"CONNECT" and b"xn--" not in authority.lower()):
        if m := _PLAIN_AUTHORITY.match(authority.decode()):
            host, port = m.group(1), int(m.group(2) or 0)
            if port <= 65535 and len(host) <= 253:
                netloc = host if port in (0, default_port) else f"{host}:{port}"
                path = data.path.decode("utf-8", "surrogateescape")
                return wire_text(f"{data.scheme.decode()}://{netloc}{path}", in_url=True)
    return wire_text(req.pretty_url, in_url=True)


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
            url_parts: tuple[str, str, str] | None = None) -> RawHit:
    """The flow's request as a RawHit; `url` (and `url_parts`, its split_url) when the caller
    already has request_url(flow)."""
    req = flow.request
    body = (req.raw_content or b"") if with_body else b""
    peer = flow.client_conn.peername
    return RawHit.of_proxy(
        method=req.method,
        url=url if url is not None else request_url(flow),
        # ASCII, the common case, is decoded directly: wire_text has nothing to replace in it.
        headers=tuple([(k.decode(), v.decode()) if k.isascii() and v.isascii()
                       else (_header_text(k), _header_text(v)) for k, v in req.headers.fields]),
        body=body[:MAX_STORED_BODY],
        body_truncated=len(body) > MAX_STORED_BODY,
        time=req.timestamp_start or flow.timestamp_created,
        client=peer[0] if peer else "",
        url_parts=url_parts if url is not None else None,
    )


def sink_response(flow: http.HTTPFlow, route: decoders.Route | None = None) -> http.Response:
    """What a vendor would answer: a 1×1 GIF for GETs, the route's JSON success answer (server APIs)
    or 204 otherwise, CORS open for the caller."""
    origin = flow.request.headers.get("origin")
    cors = {"access-control-allow-origin": origin or "*", "x-pixelspy": "sink"}
    if origin:
        cors["access-control-allow-credentials"] = "true"
    if flow.request.method == "OPTIONS":  # CORS preflight of a JSON fetch
        cors["access-control-allow-methods"] = "GET, POST, OPTIONS"
        cors["access-control-allow-headers"] = flow.request.headers.get(
            "access-control-request-headers", "content-type")
        return http.Response.make(204, b"", cors)
    if flow.request.method == "GET":
        return http.Response.make(200, GIF_1X1, {"content-type": "image/gif", **cors})
    if route is not None and route.sink_json:
        return http.Response.make(200, route.sink_json.encode(), {"content-type": "application/json", **cors})
    return http.Response.make(204, b"", cors)


def after_hook(callback, *args) -> None:
    """Calls callback(*args) once mitmproxy has acted on the running hook (sent the answer it set,
    or forwarded the request); at once when no event loop runs (a script calling the hooks itself).

    Two turns of the loop: mitmproxy 11 acts in the step that ends a hook, but mitmproxy 12 on
    Python 3.12 runs hooks eagerly, inside the step that raised them, and acts one turn later,
    when that step has released the connection's lock."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        callback(*args)
    else:
        loop.call_soon(loop.call_soon, callback, *args)


class PixelSpy:
    """Decodes tracking hits passing through mitmproxy into the given session."""

    def __init__(self, session: Session | None = None):
        self.session = session if session is not None else Session()
        self.registry = decoders.default_registry()
        self.paused = False
        # Hits answered in sink mode, by flow id, until the answer is sent (the response or error hook).
        self._answered: dict[str, RawHit] = {}

    def load(self, loader) -> None:
        loader.add_option("pixelspy_sink", bool, False,
                          "Answer tracking hits locally (204 / 1x1 GIF); never send them to the vendor.")

    def request(self, flow: http.HTTPFlow) -> None:
        try:
            self._request(flow)
        except Exception:  # noqa: BLE001 - never break the user's traffic over a pixelspy bug
            log.exception("pixelspy failed on %s", flow.request.pretty_url)

    def _request(self, flow: http.HTTPFlow) -> None:
        req = flow.request
        url = request_url(flow)
        url_parts = split_url(url)  # once: the hit keeps it for the decoders and checks
        found = self.registry.find(url_parts[0], url_parts[1])
        answered = found is not None and found[0].sink and ctx.options.pixelspy_sink and flow.response is None
        if answered:
            flow.response = sink_response(flow, found[0])
        if self.paused or req.method == "OPTIONS":  # a preflight is not an event
            return
        # The hit is read now, as the client sent it, before later addons can change the request.
        hit = raw_hit(flow, with_body=found is not None, url=url, url_parts=url_parts)
        if answered:
            self._answered[flow.id] = hit  # decoded once the answer is on its way
        else:
            after_hook(self._ingest, flow, hit)  # mitmproxy forwards the request first

    def response(self, flow: http.HTTPFlow) -> None:
        if (hit := self._answered.pop(flow.id, None)) is not None:
            after_hook(self._ingest, flow, hit)

    def error(self, flow: http.HTTPFlow) -> None:
        """A sink-answered flow killed by another addon, or whose client left: still an event."""
        self.response(flow)

    def _ingest(self, flow: http.HTTPFlow, hit: RawHit) -> None:
        try:
            if events := self.session.ingest(hit):
                flow.metadata["pixelspy"] = [e.id for e in events]
        except Exception:  # noqa: BLE001 - never break the proxy over a pixelspy bug
            log.exception("pixelspy failed on %s", hit.url)

    def tls_failed_client(self, data) -> None:
        """A client refused our certificate: the CA is not trusted there, or the app pins certificates."""
        client = data.context.client
        host = client.sni or "(unknown host)"
        peer = client.peername[0] if client.peername else "?"
        log.warning("certificate not trusted: %s (%s) refused pixelspy's certificate for %s — install and "
                    "trust the CA (open http://mitm.it through the proxy); apps that pin certificates "
                    "cannot be inspected", self.session.devices.name(peer), peer, host)


class JsonLines:
    """Session subscriber printing one JSON line per event as it arrives, and the event's line again,
    whole, once it has changed: at the next flush, which the CLI does every tick. A burst of
    copies (each one changes every earlier copy's finding) then prints each copy's update once,
    not once per copy."""

    def __init__(self, session: Session, out=None):
        self.devices = session.devices
        self.out = out or sys.stdout
        self._changed: dict[str, TrackingEvent] = {}

    def __call__(self, event: TrackingEvent, is_update: bool) -> None:
        if is_update:
            self._changed[event.id] = event
            return
        self._write(event)
        self.out.flush()

    def flush(self) -> None:
        """Print the events that changed since the last flush, each once, in its latest state."""
        for _ in self._print_changed(batch=0):
            pass

    async def flush_between_requests(self) -> None:
        """flush(), a few events at a time, letting the proxy serve between them: a tick's changes
        can take milliseconds to print, which no request should wait for."""
        for _ in self._print_changed(batch=8):
            await asyncio.sleep(0)

    def _print_changed(self, batch: int) -> Iterator[None]:
        """Prints the changed events, pausing after every `batch` of them (0: never)."""
        changed, self._changed = self._changed, {}
        for n, event in enumerate(changed.values(), 1):
            self._write(event)
            if batch and n % batch == 0 and n < len(changed):
                self.out.flush()
                yield
        if changed:
            self.out.flush()

    def _write(self, event: TrackingEvent) -> None:
        line = event.json_line()
        line["device"] = self.devices.name(event.client)
        self.out.write(json.dumps(line, ensure_ascii=False) + "\n")
