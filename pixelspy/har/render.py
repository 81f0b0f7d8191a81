"""A HAR entry out of a RawHit, its events and (live) its mitmproxy flow.

Each entry is a HAR 1.2 entry (mitmproxy's `SaveHar.make_har` for live flows: response, timings,
server address) whose request part is rebuilt from the RawHit, byte-exact, plus a `_pixelspy` custom
field: `{"client": …, "hit_id": …, "events": [TrackingEvent.json_line(), …]}`, redacted on request
(pixelspy/har/redact.py). mitmproxy is imported only for a live flow.
"""

from __future__ import annotations

import base64
import copy
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pixelspy import bounded
from pixelspy.har.format import BODY_CUT_NOTE, iso
from pixelspy.har.redact import EntryRedactor
from pixelspy.model import RawHit, TrackingEvent

# Response bodies are recorded decoded up to this size; a longer one is cut there, with a note.
MAX_RESPONSE_TEXT = 256 * 1024


def _nv(pairs) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in pairs]


def request_part(hit: RawHit, http_version: str = "HTTP/1.1") -> dict:
    """The HAR request of a RawHit; the body byte-exact (base64 when it is not UTF-8)."""
    cookies = []
    for k, v in hit.headers:
        if k.lower() == "cookie":
            cookies += [c.strip().partition("=")[::2] for c in v.split(";") if c.strip()]
    req: dict[str, Any] = {
        "method": hit.method,
        "url": hit.url,
        "httpVersion": http_version,
        "cookies": _nv(cookies),
        "headers": _nv(hit.headers),
        "queryString": _nv(parse_qsl(urlsplit(hit.url).query, keep_blank_values=True)),
        "headersSize": -1,
        "bodySize": len(hit.body),
    }
    if hit.body:
        post: dict[str, Any] = {"mimeType": hit.header("content-type")}
        try:
            post["text"] = hit.body.decode("utf-8")
        except UnicodeDecodeError:
            post["text"] = base64.b64encode(hit.body).decode("ascii")
            post["encoding"] = "base64"
        if hit.content_type == "application/x-www-form-urlencoded" and "encoding" not in post:
            post["params"] = _nv(parse_qsl(post["text"], keep_blank_values=True))
        if hit.body_truncated:
            post["comment"] = BODY_CUT_NOTE
        req["postData"] = post
    return req


def _stub_entry(hit: RawHit) -> dict:
    """An entry for a hit without a recorded response (a session opened from a file)."""
    return {
        "startedDateTime": iso(hit.time),
        "time": 0,
        "request": {},
        "response": {"status": 0, "statusText": "", "httpVersion": "", "cookies": [], "headers": [],
                     "content": {"size": 0, "mimeType": ""}, "redirectURL": "", "headersSize": -1,
                     "bodySize": -1, "comment": "response not recorded"},
        "cache": {},
        "timings": {"send": 0, "wait": 0, "receive": 0},
    }


def render_entry(hit: RawHit, events: list[TrackingEvent], base: dict | None, redact: bool) -> dict:
    """One HAR entry: `base` (from mitmproxy, with response and timings) or a stub, the request from
    the hit, and the events embedded as `_pixelspy`."""
    entry = dict(base) if base else _stub_entry(hit)
    lines = [ev.json_line() for ev in events]
    http_version = (entry.get("request") or {}).get("httpVersion") or "HTTP/1.1"
    if redact:
        r = EntryRedactor(hit, events)
        hit = r.hit(hit)
        entry["response"] = r.response(entry["response"])
        lines = r.data(lines)
    entry["request"] = request_part(hit, http_version)
    entry["_pixelspy"] = {"client": hit.client, "hit_id": hit.id, "events": lines}
    return entry



def _kb(n: int) -> str:
    return f"{n // 1024:,} KB"


def _bounded_body(message) -> tuple[bytes, str]:
    """A mitmproxy message's body with its content-encoding undone, at most MAX_RESPONSE_TEXT bytes,
    and a note when that is not the whole body: mitmproxy's `.content` inflates without a cap."""
    raw = message.raw_content
    if raw is None:
        return b"", "body not kept by pixelspy (streamed through)"
    try:
        return bounded.decode(raw, message.headers.get("content-encoding", ""), MAX_RESPONSE_TEXT), ""
    except bounded.TooLarge as e:
        return e.partial, (f"body truncated by pixelspy: it decodes to more than {_kb(MAX_RESPONSE_TEXT)}; "
                           f"the first {_kb(MAX_RESPONSE_TEXT)} are kept")
    except bounded.CorruptData as e:
        cut = (f"; the first {_kb(MAX_RESPONSE_TEXT)} are kept" if len(raw) > MAX_RESPONSE_TEXT else "")
        return raw[:MAX_RESPONSE_TEXT], f"body kept as sent, not decoded by pixelspy ({e}){cut}"


def _copy_with(message, **data: Any):
    """A shallow copy of a mitmproxy request or response with some of its data replaced."""
    changed = copy.copy(message)
    changed.data = copy.copy(message.data)
    for name, value in data.items():
        setattr(changed.data, name, value)
    return changed


def flow_entry(flow) -> dict:
    """mitmproxy's HAR entry for a flow (response, timings, server address), built without letting
    mitmproxy inflate a body: its make_har reads a copy of the flow whose request is bare (render_entry
    writes the request from the hit) and whose response body is bounded-decoded, content-encoding
    removed. The entry then gets the response headers as sent, and a note (content.comment) on a body
    cut or not decoded."""
    from mitmproxy import http
    from mitmproxy.addons.savehar import SaveHar

    savehar = SaveHar()
    safe = copy.copy(flow)
    safe.request = _copy_with(flow.request, headers=http.Headers(), content=b"", path=b"/")
    if flow.response is None:
        return savehar.make_har([safe])["log"]["entries"][0]
    body, note = _bounded_body(flow.response)
    headers = flow.response.headers
    safe.response = _copy_with(flow.response, content=body, headers=http.Headers(
        [(k, v) for k, v in headers.fields if k.lower() != b"content-encoding"]))
    entry = savehar.make_har([safe])["log"]["entries"][0]
    resp = entry["response"]
    resp.update(headers=savehar.format_multidict(headers), headersSize=len(str(headers)),
                bodySize=len(flow.response.raw_content or b""))
    content = resp["content"]
    content["size"] = len(body)  # HAR: the decoded length
    if note:
        content.pop("compression", None)
        content["comment"] = note
    else:
        content["compression"] = len(body) - resp["bodySize"]
    return entry
