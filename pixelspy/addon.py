"""The mitmproxy addon: flow → RawHit (pixelspy/flows.py) → session (decoders → checks → subscribers).

Each request is looked up once, in the `requestheaders` hook: a tracking hit (a decoder route
matches) or not. Only tracking hits are held whole; other traffic streams through: responses whose
length is unknown (server-sent events, long polls, chunked downloads) or large, and request bodies
likewise. In sink mode a tracking hit is answered there and then, whatever its size, so its body is
read but never sent on. Requests refused by `--auth` (mitmproxy's proxyauth addon, which runs
first) are left alone: never decoded, never answered by the sink.

Hits are read in the `request` hook, so they are seen even when the vendor is unreachable, and
decoded just after a hook: in sink mode once mitmproxy has sent the local answer, so decoding never
delays it; otherwise right after the request hook, which on an open upstream connection is once
mitmproxy has forwarded the request. Other requests are shown to the checks in the request hook
itself (after any hit still waiting: the session sees the traffic in its order). The addon never
raises into mitmproxy and never changes the user's traffic, except in sink mode, where tracking hits
are answered locally and never reach the vendor.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mitmproxy import ctx, http

from pixelspy import decoders, devices
from pixelspy.flows import (TRACKING_HIT, BodyPrefix, HeaderNames, after_hook, in_turn, raw_hit,
                            refused_by_proxyauth, request_head, request_method, request_url_parts)
from pixelspy.heads import RequestHead
from pixelspy.inert import json_dumps
from pixelspy.model import RawHit, TrackingEvent
from pixelspy.session import Session

log = logging.getLogger("pixelspy")

# Bodies of unknown length or longer than this stream through rather than being held whole (for a
# tracking hit, keeping its first MAX_STORED_BODY bytes on the way).
STREAM_BODIES_ABOVE = 4 * 1024 * 1024
# mitmproxy's stream_large_bodies: bodies the addon holds whole (tracking hits, answers set
# locally) stream past this size anyway. A tracking hit the sink answers cannot stream (mitmproxy
# cannot answer a request it streams): one declared longer is refused unread. One of unknown length
# that grows past it makes mitmproxy log a crash (per MAX_HELD_BODY read, dropping it), and is
# answered all the same and listed without its body.
MAX_HELD_BODY = 64 * 1024 * 1024
GIF_1X1 = bytes.fromhex("47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b")


def body_length(message: http.Message) -> tuple[bool, int | None]:
    """Whether the headers announce a body (Content-Length or Transfer-Encoding), and its length
    when declared (None: unknown — chunked, or never said). One pass over the raw headers: a
    mitmproxy header lookup costs microseconds, and this runs on every request and response."""
    announced = chunked = False
    length = None
    for name, value in message.data.headers.fields:
        if len(name) == 14 and name.lower() == b"content-length":
            announced, length = True, int(value) if value.isdigit() else None
        elif len(name) == 17 and name.lower() == b"transfer-encoding":
            announced = chunked = True
    return announced, None if chunked else length


def streams(message: http.Message) -> bool:
    """Whether a body is to stream through: of unknown length or longer than STREAM_BODIES_ABOVE.
    In HTTP/1 a request has a body only when its headers announce one."""
    announced, length = body_length(message)
    if not announced and isinstance(message, http.Request) and not (message.is_http2 or message.is_http3):
        return False
    return length is None or length > STREAM_BODIES_ABOVE


def sink_response(flow: http.HTTPFlow, route: decoders.Route | None = None) -> http.Response:
    """What a vendor would answer: a 1×1 GIF for GETs, the route's JSON success answer (server APIs)
    or 204 otherwise, CORS open for the caller."""
    origin = flow.request.headers.get("origin")
    cors = {"access-control-allow-origin": origin or "*", "x-pixelspy": "sink"}
    if origin:
        cors["access-control-allow-credentials"] = "true"
    method = request_method(flow.request)
    if method == "OPTIONS":  # CORS preflight of a JSON fetch
        cors["access-control-allow-methods"] = "GET, POST, OPTIONS"
        cors["access-control-allow-headers"] = flow.request.headers.get(
            "access-control-request-headers", "content-type")
        return made_response(204, b"", cors)
    if method == "GET":
        return made_response(200, GIF_1X1, {"content-type": "image/gif", **cors})
    if route is not None and route.sink_json:
        return made_response(200, route.sink_json.encode(), {"content-type": "application/json", **cors})
    return made_response(204, b"", cors)


_REASONS = {200: b"OK", 204: b"No Content"}  # (mitmproxy's status_codes.RESPONSES, encoded)


def made_response(status: int, body: bytes, headers: dict[str, str]) -> http.Response:
    """http.Response.make(status, body, headers): the same response (its fields in their order, the
    headers in theirs, content-length last), built without the type check of every field that
    mitmproxy's message data runs under __debug__ — two thirds of the cost of a sink answer, made
    for every tracking hit the sink answers. The sink's own values: bytes, text, ints."""
    fields = [(k.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape")) for k, v in headers.items()]
    fields.append((b"content-length", str(len(body)).encode()))
    data = http.ResponseData.__new__(http.ResponseData)
    vars(data).update(http_version=b"HTTP/1.1", headers=http.Headers(fields), content=body, trailers=None,
                      timestamp_start=time.time(), timestamp_end=time.time(), status_code=status,
                      reason=_REASONS[status])
    response = http.Response.__new__(http.Response)
    response.data = data
    return response


@dataclass(slots=True)
class _Looked:
    """What requestheaders found about a request, for the later hooks."""
    url: str
    url_parts: tuple[str, str, str]
    route: tuple[decoders.Route, re.Match[str]] | None  # a tracking hit's decoder route
    answered: bool = False  # by the sink


class PixelSpy:
    """Decodes tracking hits passing through mitmproxy into the given session."""

    def __init__(self, session: Session | None = None):
        self.session = session if session is not None else Session()
        devices.compile_rules()  # now: compiled on the first requests, they would stall the loop for up to 0.1 s
        self.registry = decoders.default_registry()
        # The headers the session reads of an ordinary request (None: it reads whole RawHits).
        names = self.session.request_headers
        self._head_names = None if names is None else HeaderNames(names)
        self.paused = False
        # Flows in flight, as requestheaders found them (weak: a flow that dies early takes its entry).
        self._looked: weakref.WeakKeyDictionary[http.HTTPFlow, _Looked] = weakref.WeakKeyDictionary()
        # Hits answered in sink mode, by flow id, until the answer is sent (the response or error hook).
        self._answered: dict[str, RawHit] = {}
        # Options, as configure() last saw them: reading one costs microseconds, on every request.
        self._sink = False
        self._proxyauth = False
        # Devices and hosts told that they refused the certificate (each pair once).
        self.untrusted: set[UntrustedCert] = set()

    def load(self, loader) -> None:
        loader.add_option("pixelspy_sink", bool, False,
                          "Answer tracking hits locally (204 / 1x1 GIF); never send them to the vendor.")

    def configure(self, updated) -> None:
        if "pixelspy_sink" in updated:
            self._sink = ctx.options.pixelspy_sink
        if "proxyauth" in updated:
            self._proxyauth = bool(ctx.options.proxyauth)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        try:
            self._requestheaders(flow)
        except Exception:  # noqa: BLE001 - never break the user's traffic over a pixelspy bug
            log.exception("pixelspy failed on %s", flow.request.pretty_url)

    def _requestheaders(self, flow: http.HTTPFlow) -> None:
        if (looked := self._look(flow)) is None or flow.response is not None:
            return  # refused by --auth, or already answered by an addon before pixelspy's
        req = flow.request
        if looked.route is not None and self._sinks_by_headers(flow, looked):
            if (body_length(req)[1] or 0) > MAX_HELD_BODY:
                self._refuse(flow, looked)
            else:
                self._answer(flow, looked)
                # Read whole, never sent on: mitmproxy marks a large body for streaming before this hook.
                req.stream = False
        elif streams(req) and req.host != getattr(ctx.options, "onboarding_host", None):
            # (the mitm.it page is served from the whole request)
            req.stream = BodyPrefix() if looked.route is not None else True

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        """Other traffic's responses of unknown length or large stream through to the client. (A
        tracking hit is marked by _look; a request refused by --auth was never looked at.)"""
        if (flow.response is not None and not flow.metadata.get(TRACKING_HIT)
                and not refused_by_proxyauth(flow, self._proxyauth) and streams(flow.response)):
            flow.response.stream = True

    def request(self, flow: http.HTTPFlow) -> None:
        try:
            self._request(flow)
        except Exception:  # noqa: BLE001 - never break the user's traffic over a pixelspy bug
            log.exception("pixelspy failed on %s", flow.request.pretty_url)

    def _look(self, flow: http.HTTPFlow) -> _Looked | None:
        """The request's URL and decoder route (None: refused by --auth), once per flow."""
        if (looked := self._looked.get(flow)) is None:
            if refused_by_proxyauth(flow, self._proxyauth):
                return None
            url, url_parts = request_url_parts(flow)  # once: the hit keeps its parts for the decoders and checks
            looked = self._looked[flow] = _Looked(url, url_parts, self.registry.find(url_parts[0], url_parts[1]))
            if looked.route is not None:
                flow.metadata[TRACKING_HIT] = True
        return looked

    def _sinks_by_headers(self, flow: http.HTTPFlow, looked: _Looked) -> bool:
        """Whether the sink answers this tracking request, as far as its URL and headers tell. A
        route whose signature is in the body (a Graph API batch) is decided once the body is read."""
        route = looked.route[0]
        if not (self._sink and route.sink):
            return False
        return route.signature is None or route.recognises(
            raw_hit(flow, with_body=False, url=looked.url, url_parts=looked.url_parts))

    def _answer(self, flow: http.HTTPFlow, looked: _Looked) -> None:
        flow.response = sink_response(flow, looked.route[0])
        looked.answered = True

    def _refuse(self, flow: http.HTTPFlow, looked: _Looked) -> None:
        """A tracking hit the sink would have to hold beyond MAX_HELD_BODY: its connection is
        closed before the body is read; it is still listed, without its body."""
        log.warning("pixelspy: closed a tracking hit to %s declaring a %s-byte body (sink mode holds at "
                    "most %s)", looked.url_parts[0], body_length(flow.request)[1], MAX_HELD_BODY)
        flow.kill()
        if not self.paused:
            self._answered[flow.id] = raw_hit(flow, url=looked.url, url_parts=looked.url_parts, body_unread=True)

    def _request(self, flow: http.HTTPFlow) -> None:
        if (looked := self._look(flow)) is None:
            return
        hit = None
        if (looked.route is not None and not looked.answered and flow.response is None and self._sink
                and not flow.request.stream):
            # A route whose signature is in the body, or no requestheaders hook ran (a script's own calls).
            hit = self._read(flow, looked)
            if looked.route[0].sinks(hit):
                self._answer(flow, looked)
        if self.paused or request_method(flow.request) == "OPTIONS":  # a preflight is not an event
            return
        if (looked.route is None and self._head_names is not None
                and (head := request_head(flow, looked.url, looked.url_parts, self._head_names)) is not None):
            # ordinary traffic, shown to the checks: microseconds, less than queueing it costs
            in_turn(self._ingest_plain, flow, head)
            return
        hit = hit or self._read(flow, looked)
        if looked.answered:
            self._answered[flow.id] = hit  # decoded once the answer is on its way
        elif looked.route is not None:
            after_hook(self._ingest, flow, hit)  # mitmproxy forwards the request first
        else:  # ordinary traffic read whole (a check names no headers, or a header name is not ASCII)
            in_turn(self._ingest, flow, hit)

    @staticmethod
    def _read(flow: http.HTTPFlow, looked: _Looked) -> RawHit:
        """The hit, read as the client sent it, before later addons can change the request. An
        answered body marked for streaming after all outgrew MAX_HELD_BODY: mitmproxy then dropped
        what it had read, so what it holds now is not the body's start."""
        cut = looked.answered and flow.request.stream is True
        return raw_hit(flow, with_body=looked.route is not None, url=looked.url, url_parts=looked.url_parts,
                       body_unread=cut)

    def response(self, flow: http.HTTPFlow) -> None:
        if self._answered and (hit := self._answered.pop(flow.id, None)) is not None:
            after_hook(self._ingest, flow, hit)

    def error(self, flow: http.HTTPFlow) -> None:
        """A sink-answered flow killed by another addon, or whose client left: still an event."""
        self.response(flow)

    def _ingest_plain(self, flow: http.HTTPFlow, head: RequestHead) -> None:
        try:
            flow.metadata["pixelspy_hit"] = head.id  # (as _ingest's)
            self.session.ingest_plain(head)
        except Exception:  # noqa: BLE001 - never break the proxy over a pixelspy bug
            log.exception("pixelspy failed on %s", head.url)

    def _ingest(self, flow: http.HTTPFlow, hit: RawHit) -> None:
        try:
            # The hit's id, for the HAR recorder: a twin copy makes no event, but its id is in the
            # original's `twins`.
            flow.metadata["pixelspy_hit"] = hit.id
            if events := self.session.ingest(hit):
                flow.metadata["pixelspy"] = [e.id for e in events]
        except Exception:  # noqa: BLE001 - never break the proxy over a pixelspy bug
            log.exception("pixelspy failed on %s", hit.url)

    def tls_failed_client(self, data) -> None:
        """A client refused our certificate: the CA is not trusted there, or the app pins certificates.
        Told once per device and host (a page load makes dozens of handshakes), as a warning record
        carrying the UntrustedCert, for the TUI to show and the CLI to print."""
        client = data.context.client
        if "trust" not in (client.error or ""):
            return  # mitmproxy's wording: not a refused certificate (a TLS version mismatch, a probe)
        notice = UntrustedCert(client.peername[0] if client.peername else "?", client.sni or "(no host name)")
        if notice in self.untrusted or len(self.untrusted) >= MAX_UNTRUSTED_NOTICES:
            return
        self.untrusted.add(notice)
        log.warning("%s", notice.message(self.session.devices.name(notice.client)),
                    extra={UntrustedCert.RECORD_KEY: notice})


# Hosts and devices are the client's to choose: the set of those told about is bounded.
MAX_UNTRUSTED_NOTICES = 1_000
CERT_HINT = ("install and trust the CA: open http://mitm.it through the proxy (the CA is in "
             "~/.mitmproxy, or the --confdir given); apps that pin certificates cannot be inspected")


@dataclass(frozen=True, slots=True)
class UntrustedCert:
    """A device refused pixelspy's certificate for a host (its TLS traffic there is invisible)."""
    RECORD_KEY = "pixelspy_untrusted"  # the log record's attribute holding the notice

    client: str
    host: str

    def message(self, device: str) -> str:
        who = device if self.client in device else f"{device} ({self.client})"
        return f"certificate not trusted: {who} refused pixelspy's certificate for {self.host} — {CERT_HINT}"

    @classmethod
    def of(cls, record: logging.LogRecord) -> UntrustedCert | None:
        return getattr(record, cls.RECORD_KEY, None)


def mitmproxy_untrusted_record(record: logging.LogRecord) -> bool:
    """mitmproxy's own line for each refused handshake, which the addon's UntrustedCert tells once."""
    message = record.getMessage()
    return record.name.startswith("mitmproxy") and message.startswith("Client TLS handshake failed.") \
        and "trust" in message


class JsonLines:
    """Session subscriber printing one JSON line per event as it arrives, and the event's line again,
    whole, once it has changed: at the next flush, which the CLI does every tick. A burst of
    copies (each one changes every earlier copy's finding) then prints each copy's update once,
    not once per copy. When the reader has gone (`pixelspy --no-ui | head -1`), it prints nothing
    more and calls `on_closed` once. Under a running event loop, the lines of one loop turn are
    flushed together at its end (one write to stdout for a batch's events, not one each)."""

    def __init__(self, session: Session, out=None, on_closed: Callable[[], None] | None = None):
        self.session = session
        self.out = out or sys.stdout
        self.on_closed = on_closed
        self.closed = False
        self._changed: dict[str, TrackingEvent] = {}
        self._reader_gone = _ReaderGone(self)
        # The loop whose turn ends with a flush queued (a loop closed before it ran queues none).
        self._flush_on: asyncio.AbstractEventLoop | None = None

    def __call__(self, event: TrackingEvent, is_update: bool) -> None:
        if self.closed:
            return
        if is_update:
            self._changed[event.id] = event
            return
        with self._reader_gone:
            self._write(event)
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # (no event loop: a file read, a test)
                self.out.flush()
                return
            if self._flush_on is not loop:
                self._flush_on = loop
                loop.call_soon(self._flush_out)

    def _flush_out(self) -> None:
        self._flush_on = None
        if not self.closed:
            with self._reader_gone:
                self.out.flush()

    def flush(self) -> None:
        """Print the events that changed since the last flush, each once, in its latest state."""
        with self._reader_gone:
            for _ in self._print_changed(batch=0):
                pass

    async def flush_between_requests(self) -> None:
        """flush(), a few events at a time, letting the proxy serve between them: a tick's changes
        can take milliseconds to print, which no request should wait for."""
        with self._reader_gone:
            for _ in self._print_changed(batch=8):
                await asyncio.sleep(0)

    def _reader_closed(self) -> None:
        if not self.closed and self.on_closed:
            self.on_closed()
        self.closed = True

    def _print_changed(self, batch: int) -> Iterator[None]:
        """Prints the changed events, pausing after every `batch` of them (0: never)."""
        changed, self._changed = self._changed, {}
        if self.closed:
            return
        for n, event in enumerate(changed.values(), 1):
            self._write(event)
            if batch and n % batch == 0 and n < len(changed):
                self.out.flush()
                yield
        if changed:
            self.out.flush()

    def _write(self, event: TrackingEvent) -> None:
        self.out.write(json_dumps(self.session.json_line(event)) + "\n")


class _ReaderGone:
    """JsonLines' context noticing that the reader has gone (EPIPE). A class: a generator's context
    costs microseconds, and one is entered for every event."""

    def __init__(self, lines: JsonLines):
        self.lines = lines

    def __enter__(self) -> None:
        pass

    def __exit__(self, kind, exc, tb) -> bool:
        if kind is None or not issubclass(kind, BrokenPipeError):
            return False
        self.lines._reader_closed()
        return True
