"""HAR files: record and save (redacted by default), open (tolerant), and mitmproxy flow files.

Writing: each entry is a HAR 1.2 entry (mitmproxy's `SaveHar.make_har` for live flows: response,
timings, server address) whose request part is rebuilt from the RawHit, byte-exact, plus a `_pixelspy`
custom field: `{"client": …, "hit_id": …, "events": [TrackingEvent.json_line(), …]}`. The log carries
`_pixelspy.redacted` and says so in `log.comment`.

Redaction keeps the *shape* of what it hides: a plain email becomes `xxxx@xxxx.xxx`, a phone
`+00000000000`, so the checks that flag plain personal data still flag it when the file is reopened.
Text is searched percent-decoded (see pixelspy/redact.py: `alice%2540shop.com` is an email) and
masked as written, escapes of punctuation kept (`xxxxx%2540xxxx.xxx`), so it still decodes to the shape.
Credentials (cookie values, Authorization, access tokens) become `REDACTED`; consent cookies (the CMP
table of consent/cmps.toml) are kept, being choices rather than identities, so consent verdicts survive.
Bodies with a Content-Encoding (gzip, deflate, br, zstd) or of base64-gzip text are redacted inside and
packed again; one that unpacks to more than MAX_REDACTED_BODY is cut there (postData.comment says so).

Reading: a streaming JSON reader walks `log.entries` one entry at a time (memory stays at one entry
plus a 1 MB buffer; .har.gz and .zhar are inflated a read at a time; values outside the entries are
stepped over unbuilt) and validates each entry with lenient pydantic models: browsers and proxies each
leave out different fields, and one odd entry must not cost the others. An entry of invalid JSON,
nested too deep, with a broken URL or larger than MAX_ENTRY_CHARS is named in `problems` and skipped.
mitmproxy's own reader is used only for its native flow files.

Opening a file ends with `session.tick(inf)`: the file is complete, so pending verdicts (consent
waits, expected events) settle as "never came".
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import copy
import dataclasses
import errno
import gzip
import io
import json
import logging
import os
import re
import tempfile
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, quote_plus, urlsplit

import brotli  # mitmproxy dependencies
import zstandard
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pixelspy import __version__, bounded, decoders
from pixelspy.checks.pages import recording_browser
from pixelspy.consent.table import consent_cookies
from pixelspy.decoders.wire import MAX_DECODE_BYTES
from pixelspy.model import KeptId, RawHit, TrackingEvent, keep_id
from pixelspy.redact import TOKEN, Unescaped, mask, redacted
from pixelspy.session import MAX_MARK_LABEL, MAX_MARKS, Mark, Session

log = logging.getLogger("pixelspy")

# (phase, done, total): phase "read" counts bytes of the file, "decode" counts entries.
Progress = Callable[[str, int, int], None]

# Request bodies are kept up to what the decoders read, as by the live addon (addon.MAX_STORED_BODY).
MAX_STORED_BODY = MAX_DECODE_BYTES
# Response bodies are recorded decoded up to this size; a longer one is cut there, with a note.
MAX_RESPONSE_TEXT = 256 * 1024
REDACTED = "REDACTED"
# postData.comment of a body pixelspy kept only the start of (stored or redacted size limit).
BODY_CUT_NOTE = "body cut by pixelspy at its size limit"
READ_CHUNK = 1 << 20
# An entry larger than this (in characters of JSON) is skipped as a problem when reading: a real one
# is a few KB, a page's largest upload a few MB.
MAX_ENTRY_CHARS = 64 * 1024 * 1024


class HarReadError(ValueError):
    """The file as a whole cannot be read (not JSON, not a HAR, not a flow file)."""


# ---------------------------------------------------------------------------------------- redaction

# Credentials: the whole value goes (Authorization keeps its scheme word).
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "access-token", "x-access-token",
                            "x-api-key"})
COOKIE_HEADERS = frozenset({"cookie", "set-cookie"})
# Plain user-data values replaced wherever they appear. Not IDs, zip codes or dates: as bare numbers
# they would also hit pixel IDs and timestamps that contain them.
PERSONAL_USER_KEYS = frozenset({"em", "ph", "fn", "ln"})


def _is_consent_cookie(name: str) -> bool:
    names, prefixes = consent_cookies()
    return name in names or name.startswith(prefixes)


class _Redactor:
    """Redacts one entry: its request, response and embedded events, consistently."""

    def __init__(self, hit: RawHit, events: list[TrackingEvent]):
        # Exact values to hide wherever they appear → True to replace by REDACTED, False to mask.
        secrets: dict[str, bool] = {}
        for ev in events:
            for u in ev.user_data:
                if not u.hashed and u.key in PERSONAL_USER_KEYS:
                    for part in u.value.split(","):
                        if len(part.strip()) >= 4:  # too short to replace everywhere
                            secrets.setdefault(part, False)
        for text in (hit.url, _body_text(hit)):
            for m in TOKEN.finditer(Unescaped(text).text):
                secrets[m.group(3)] = True
        for k, v in hit.headers:
            if k.lower() in SECRET_HEADERS and v:
                secrets[v.split(" ", 1)[-1]] = True
        # As they look in percent-decoded text: a form's spaces stay "+", escaped UTF-8 is bytes.
        self.secrets = {form: redact for secret, redact in secrets.items()
                        for form in {secret, secret.replace(" ", "+"),
                                     secret.encode("utf-8", "surrogatepass").decode("latin-1")}}
        self.cut = False  # a body was cut to MAX_REDACTED_BODY

    def text(self, s: str) -> str:
        return redacted(s, self.secrets, lambda part, credential: REDACTED if credential else mask(part))

    def header(self, name: str, value: str) -> str:
        low = name.lower()
        if low in SECRET_HEADERS:
            scheme, sep, _ = value.partition(" ")
            return f"{scheme} {REDACTED}" if sep and low.endswith("authorization") else REDACTED
        if low == "cookie":
            return "; ".join(self._cookie(c.strip()) for c in value.split(";") if c.strip())
        if low == "set-cookie":
            first, sep, attrs = value.partition(";")
            return self._cookie(first.strip()) + sep + attrs
        return self.text(value)

    def _cookie(self, pair: str) -> str:
        name, sep, value = pair.partition("=")
        return pair if _is_consent_cookie(name.strip()) else f"{name}{sep}{REDACTED}"

    def hit(self, hit: RawHit) -> RawHit:
        body = self._body(hit.body, hit.header("content-encoding"))
        return _replace(hit, url=self.text(hit.url), headers=[(k, self.header(k, v)) for k, v in hit.headers],
                        body=body, body_truncated=hit.body_truncated or self.cut)

    def _body(self, body: bytes, content_encoding: str, depth: int = 0) -> bytes:
        if not body or depth > _MAX_PACKINGS:
            return body
        coding = content_encoding.strip().lower()
        if coding in _PACKERS:
            return self._packed(body, coding, depth)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return body
        stripped = text.strip()
        if stripped.startswith("H4sI"):  # base64 of gzip (LinkedIn /wa/)
            try:
                packed = base64.b64decode(stripped + "=" * (-len(stripped) % 4))
            except ValueError:
                return body
            out = self._packed(packed, "gzip", depth)
            return body if out is packed else base64.b64encode(out)
        return self.text(text).encode("utf-8")

    def _packed(self, body: bytes, coding: str, depth: int) -> bytes:
        """A compressed body redacted inside and packed again; `body` itself when nothing changed.
        One that decodes to more than MAX_REDACTED_BODY is cut there: the rest is not looked at."""
        cut = False
        try:
            inner = bounded.decode(body, coding, MAX_REDACTED_BODY)
        except bounded.TooLarge as e:
            inner, cut = e.partial, True
        except bounded.CorruptData:
            return body  # unreadable: nothing readable to leak either
        out = self._body(inner, "", depth + 1)
        if out == inner and not cut:
            return body
        self.cut |= cut
        return _PACKERS[coding](out)

    def data(self, value: Any) -> Any:
        """Every string in a JSON-like structure (the embedded events)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.data(v) for v in value]
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        return value

    def response(self, resp: dict) -> dict:
        resp = dict(resp)
        resp["headers"] = [{**h, "value": self.header(h.get("name", ""), h.get("value", ""))}
                           for h in resp.get("headers", [])]
        resp["cookies"] = [{**c, "value": c.get("value") if _is_consent_cookie(c.get("name", "")) else REDACTED}
                           for c in resp.get("cookies", [])]
        content = dict(resp.get("content") or {})
        if isinstance(content.get("text"), str) and content.get("encoding") != "base64":
            content["text"] = self.text(content["text"])
        resp["content"] = content
        if resp.get("redirectURL"):
            resp["redirectURL"] = self.text(resp["redirectURL"])
        return resp


# Content-Encodings the redactor undoes and applies again; the cap on what it looks into.
_PACKERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress, "x-gzip": gzip.compress, "deflate": zlib.compress,
    "br": lambda data: brotli.compress(data, quality=5),  # the default quality takes seconds a MB
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}
MAX_REDACTED_BODY = MAX_STORED_BODY
_MAX_PACKINGS = 3  # gzip in base64 in gzip…: deeper is no beacon (and a quine would never end)


def _replace(hit: RawHit, **changes: Any) -> RawHit:
    # A new, validated hit: the old one's cached URL split does not come along.
    return dataclasses.replace(hit, **changes)


def _body_text(hit: RawHit) -> str:
    return hit.body.decode("utf-8", "replace") if hit.body else ""


# ------------------------------------------------------------------------------------------ writing


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


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
        "startedDateTime": _iso(hit.time),
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
        r = _Redactor(hit, events)
        hit = r.hit(hit)
        entry["response"] = r.response(entry["response"])
        lines = r.data(lines)
    entry["request"] = request_part(hit, http_version)
    entry["_pixelspy"] = {"client": hit.client, "hit_id": hit.id, "events": lines}
    return entry


# Every file ends with its trailer, so the live recorder can append entries in place (seek back over
# it): the end of the entries, then the session's marks (MARKS_KEY, after the entries so each tick can
# rewrite them; other HAR readers ignore `_` keys).
MARKS_KEY = "_pixelspy_marks"


def trailer(marks: list[Mark], redact: bool) -> str:
    """The end of the entries and the marks; a redacted file masks emails and phones the user typed
    into a label as it masks them everywhere else."""
    def label(text: str) -> str:
        return redacted(text, {}, lambda part, credential: REDACTED if credential else mask(part)) if redact else text
    listed = json.dumps([{"label": label(m.label), "time": _iso(m.time)} for m in marks])
    return f'\n], "{MARKS_KEY}": {listed}}}}}\n'


def har_head(redact: bool, traffic: str) -> str:
    """The file up to the first entry: the log's fields, then `"entries": [`."""
    head = {
        "version": "1.2",
        "creator": {"name": "pixelspy", "version": __version__},
        "comment": ("Redacted by pixelspy: cookie values, credentials, access tokens, plain emails and "
                    "phone numbers are masked." if redact else "Not redacted (pixelspy --no-redact)."),
        "_pixelspy": {"redacted": redact, "traffic": traffic},
        "pages": [],
    }
    return '{"log": ' + json.dumps(head)[:-1] + ', "entries": [\n'


def har_text(entries: list[str], redact: bool, traffic: str, marks: list[Mark]) -> str:
    """The file around already serialised entries (so unchanged entries are not re-serialised)."""
    return har_head(redact, traffic) + ",\n".join(entries) + trailer(marks, redact)


def atomic_write(path: str | Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: readers see the old or the new file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _events_by_hit(session: Session) -> dict[str, list[TrackingEvent]]:
    out: dict[str, list[TrackingEvent]] = {}
    for ev in session:
        out.setdefault(ev.hit_id, []).append(ev)
    return out


def save_har(session: Session, path: str | Path, redact: bool = True,
             recorder: HarRecorder | None = None) -> int:
    """Save the session's tracking hits as HAR; returns the number of entries.

    With the live `recorder`, its entries are written (responses, timings, and all traffic under
    --har-all); without, entries are built from the session's hits (no responses: a session opened
    from a file keeps requests only)."""
    if recorder is not None:
        return recorder.write(path, redact)
    by_hit = _events_by_hit(session)
    hits = sorted(session.hits.values(), key=lambda h: h.time)
    texts = [json.dumps(render_entry(h, by_hit.get(h.id, []), None, redact)) for h in hits]
    atomic_write(path, har_text(texts, redact, "tracking", session.marks))
    return len(texts)


# --------------------------------------------------------------------------------- live recording

# Entries rendered and appended per slice: a burst is written a slice at a time, the proxy answering
# in between.
_APPEND_SLICE = 64


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


@dataclass
class _Record:
    hit: RawHit
    base: dict
    event_ids: list[str]

    @property
    def size(self) -> int:
        """Bytes held, roughly: the request body and the response text dominate."""
        return len(self.hit.body) + len(self.base.get("response", {}).get("content", {}).get("text") or "")


class HarRecorder:
    """mitmproxy addon recording the finished flows of tracking hits (or all traffic) as HAR entries.

    The file `path` is appended to in place: every `interval_s` the entries of the flows finished
    since are written over the file's trailer (`trailer`: the marks), followed by it again, and flushed. The
    file is a complete HAR after every tick, so a crash, even kill -9, keeps every entry up to the last
    tick; a kill in the middle of a write leaves a cut tail, which the reader drops with a note.
    An entry is written once, with its events' findings as they are then: a finding that settles
    later (a duplicate seen afterwards, a consent verdict) is not rewritten into the file. It need
    not be: opening a HAR decodes and checks every hit again.

    The last `max_entries` entries (with at most `max_bytes` of bodies) are also kept in memory for
    `write` (the TUI's Ctrl+S), which renders them with today's findings. Flows are not kept: each
    becomes its entry when it finishes. Tracking flows are those the PixelSpy addon decoded (`flow.metadata["pixelspy"]`) or
    that a decoder route matches (the twin copies of a beacon). Add it after the PixelSpy addon
    (ProxyConfig.addons)."""

    def __init__(self, session: Session, path: str | Path | None, *, all_traffic: bool = False,
                 redact: bool = True, max_entries: int = 20_000, max_bytes: int = 256 << 20,
                 interval_s: float = 0.25):
        self.session = session
        self.path = Path(path) if path else None
        self.all_traffic = all_traffic
        self.redact = redact
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._bytes = 0  # of the records kept
        self.interval_s = interval_s
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._unwritten: deque[_Record] = deque()
        self._file: BinaryIO | None = None
        self._end = 0  # where the trailer starts in the file
        # The session's marks since the start (a cleared session keeps its entries here, so its marks too).
        self.marks: list[Mark] = list(session.marks)
        self._trailer = trailer(self.marks, redact).encode()  # rewritten each tick: serialised when marks change
        self._marks_unwritten = False
        session.subscribe_marks(self._marked)
        self._written = 0  # entries in the file
        self._task: asyncio.Task | None = None
        self.registry = decoders.default_registry()
        self._auth_required = False  # --auth (mitmproxy's proxyauth option), as configure() saw it

    def __len__(self) -> int:
        return len(self._records)

    @property
    def _traffic(self) -> str:
        return "all" if self.all_traffic else "tracking"

    def open(self) -> None:
        """Start the file `path` as an empty HAR (OSError when it cannot be written)."""
        head = har_head(self.redact, self._traffic).encode()
        self._file = open(self.path, "w+b")  # noqa: SIM115 - open until `done`
        self._file.write(head + self._trailer)
        self._file.flush()
        self._end, self._written = len(head), 0

    # mitmproxy hooks
    def running(self) -> None:
        if self.path is not None and self._task is None:
            if self._file is None:
                self.open()
            self._task = asyncio.get_running_loop().create_task(self._flush_loop(), name="pixelspy-har")

    # Recorded after the hook, like the PixelSpy addon's decoding (which this reads, so it must run
    # first): making the entry takes longer than answering the hit.
    def response(self, flow) -> None:
        from pixelspy.addon import after_hook  # (mitmproxy is imported only when proxying)

        after_hook(self._keep, flow)

    def error(self, flow) -> None:
        self.response(flow)

    async def done(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._file is not None:
            while self._append_unwritten(_APPEND_SLICE):
                pass
            self._file.close()
            self._file = None

    def configure(self, updated) -> None:
        if "proxyauth" in updated:
            from mitmproxy import ctx

            self._auth_required = bool(ctx.options.proxyauth)

    def _keep(self, flow) -> None:
        from pixelspy.addon import refused_by_proxyauth, request_url

        try:
            if refused_by_proxyauth(flow, self._auth_required):
                return  # (a LAN device without the password must not write into the file either)
            ids = list(flow.metadata.get("pixelspy") or [])
            if not (ids or self.all_traffic or self.registry.find_url(request_url(flow))):
                return
            self._add(flow, ids)
        except Exception:  # noqa: BLE001 - never break the user's traffic over the HAR file
            log.exception("pixelspy: could not record %s for the HAR file", flow.request.pretty_url)

    def _add(self, flow, ids: list[str]) -> None:
        from pixelspy.addon import raw_hit

        if flow.id in self._records:  # an error after the response: the entry has the response
            return
        hit = raw_hit(flow)
        if hit_id := flow.metadata.get("pixelspy_hit"):  # the id the session knows the hit by
            hit = _replace(hit, id=hit_id)
        rec = _Record(hit, flow_entry(flow), ids)
        self._records[flow.id] = rec
        self._bytes += rec.size
        if self.path is not None:
            self._unwritten.append(rec)
        while len(self._records) > self.max_entries or self._bytes > self.max_bytes:
            self._bytes -= self._records.popitem(last=False)[1].size

    def _marked(self, marks: list[Mark]) -> None:
        self.marks.extend(marks)
        del self.marks[:-MAX_MARKS]
        self._trailer = trailer(self.marks, self.redact).encode()
        self._marks_unwritten = True  # written at the next tick, with or without new entries

    def _entry_text(self, rec: _Record, redact: bool) -> str:
        events = [ev for i in rec.event_ids if (ev := self.session.get(i))]
        return json.dumps(render_entry(rec.hit, events, rec.base, redact))

    def write(self, path: str | Path, redact: bool | None = None) -> int:
        """Write the entries kept in memory, with the findings as they are now, to `path` (atomic)."""
        if self._file is not None and Path(path).resolve() == self.path.resolve():
            raise OSError(errno.EBUSY, f"pixelspy is recording to {path} (--har); choose another file")
        redact = self.redact if redact is None else redact
        records = list(self._records.values())
        atomic_write(path, har_text([self._entry_text(r, redact) for r in records], redact, self._traffic,
                                    self.marks))
        return len(records)

    def _append_unwritten(self, most: int) -> int:
        """Append up to `most` waiting entries to the file; returns how many were taken."""
        batch = [self._unwritten.popleft() for _ in range(min(most, len(self._unwritten)))]
        texts = []
        for rec in batch:
            try:
                texts.append(self._entry_text(rec, self.redact))
            except Exception:  # noqa: BLE001 - one entry that cannot be rendered must not cost the others
                log.exception("pixelspy: could not write the entry of %s to the HAR file", rec.hit.url[:200])
        if texts or self._marks_unwritten:
            try:
                self._append(texts)
            except OSError as e:
                log.warning("pixelspy: could not write %d entries to %s: %s", len(texts), self.path, e)
        return len(batch)

    def _append(self, texts: list[str]) -> None:
        """Write `texts` (maybe none) as entries after the last, then the trailer with today's marks."""
        data = (",\n" if self._written and texts else "") + ",\n".join(texts)
        encoded = data.encode()  # (json.dumps wrote ASCII)
        self._marks_unwritten = False
        self._file.seek(self._end)
        self._file.write(encoded + self._trailer)
        self._file.truncate()  # after a failed write, what lay beyond the new end
        self._file.flush()
        self._end += len(encoded)
        self._written += len(texts)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            while self._append_unwritten(_APPEND_SLICE) == _APPEND_SLICE:
                await asyncio.sleep(0)


# ------------------------------------------------------------------------------------------ reading


# pagerefs remembered per file, the oldest forgotten first (a file may hold any number of pages).
MAX_PAGEREFS = 1_000
# A media type is a few dozen characters; a file's longer value is cut (RawHit.response_type).
MAX_RESPONSE_TYPE = 100


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, populate_by_name=True)


class HarNameValue(_Lenient):
    name: str = ""
    value: str = ""

    @field_validator("name", "value", mode="before")
    @classmethod
    def _none_is_empty(cls, v: Any) -> Any:
        return "" if v is None else v


class HarPostData(_Lenient):
    mimeType: str | None = None
    text: str | None = None
    params: list[HarNameValue] = []
    encoding: str | None = None
    comment: str | None = None


class HarRequest(_Lenient):
    method: str = "GET"
    url: str
    headers: list[HarNameValue] = []
    cookies: list[HarNameValue] = []
    postData: HarPostData | None = None


class HarEntry(_Lenient):
    startedDateTime: str | None = None
    request: HarRequest
    pixelspy: dict | None = Field(None, alias="_pixelspy")
    # What the recorder knew of the page: its page (HAR `pageref`; Playwright: one per tab, DevTools and
    # Firefox: one per navigation) and Chrome DevTools' request type ("document" for a page or frame).
    pageref: Any = None
    resource_type: Any = Field(None, alias="_resourceType")
    response: Any = None  # only its content.mimeType is read (_response_type)


def _when(text: str | None) -> float | None:
    if not text:
        return None
    try:
        d = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return d.timestamp()


def _post_body(post: HarPostData | None) -> bytes:
    if post is None:
        return b""
    if post.text is not None:
        if (post.encoding or "").lower() == "base64":
            try:
                return base64.b64decode(post.text)
            except ValueError:
                pass
        try:  # mitmproxy writes undecodable bytes as lone surrogates
            return post.text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return post.text.encode("utf-8", "replace")
    if post.params:  # some exporters give a form only as params
        return "&".join(f"{quote_plus(p.name)}={quote_plus(p.value)}" for p in post.params).encode()
    return b""


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _response_type(response: Any) -> str:
    """The media type the file recorded for the response (`response.content.mimeType`), or ''."""
    content = response.get("content") if isinstance(response, dict) else None
    mime = content.get("mimeType") if isinstance(content, dict) else None
    return mime[:MAX_RESPONSE_TYPE].lower() if isinstance(mime, str) else ""


def _valid_entry(raw_entry: Any) -> HarEntry:
    try:
        return HarEntry.model_validate(raw_entry)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        msg = "missing" if err["type"] == "missing" else err["msg"].lower()
        raise _SkippedEntry(f"{where}: {msg}") from None


class _ZlibFile(io.RawIOBase):
    """A zlib stream (a `.zhar` file) read as a file, inflated a read at a time: memory stays at one
    read whatever the stream inflates to. Seeks only back to the start."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.seek(0)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        if (pos, whence) != (0, io.SEEK_SET):
            raise io.UnsupportedOperation("a zlib stream seeks only to its start")
        self.raw.seek(0)
        self._inflate = zlib.decompressobj()
        self._pos = 0
        return 0

    def tell(self) -> int:
        return self._pos

    def readinto(self, b) -> int:
        if not len(b):
            return 0  # (a max_length of 0 would mean no limit)
        out = b""
        while not out and not self._inflate.eof:
            data = self._inflate.unconsumed_tail or self.raw.read(READ_CHUNK)
            if not data:
                break
            out = self._inflate.decompress(data, len(b))
        b[:len(out)] = out
        self._pos += len(out)
        return len(out)


class FileReader:
    """Iterates the RawHits of a HAR or mitmproxy flow file in file order.

    `problems` collects what could not be read (entry by entry); a file that cannot be read at all
    raises HarReadError when iterated. `format` says what the file was."""

    def __init__(self, path: str | Path, progress: Progress | None = None):
        self.path = Path(path)
        self.progress = progress
        self.problems: list[str] = []
        self.format = ""
        self.entries = 0  # entries (or flows) seen, read or not
        self._seen_ids: set[str] = set()  # ids kept from the file's `_pixelspy` (_kept_ids)
        self._pagerefs: dict[str, None] = {}  # the latest MAX_PAGEREFS pagerefs seen (_navigation)
        self.marks: list[Mark] = []  # the file's MARKS_KEY, at most MAX_MARKS
        self.registry = decoders.default_registry()

    def __iter__(self) -> Iterator[RawHit]:
        try:
            fh = open(self.path, "rb")
        except OSError as e:
            raise HarReadError(str(e.strerror or e)) from None
        with fh:
            self.total = os.fstat(fh.fileno()).st_size
            try:
                yield from self._read(fh)
            except (OSError, EOFError, zlib.error) as e:  # a broken gzip/zlib stream, or reading failed
                what = f"the {self.format.strip() or 'file'} stream is broken ({e})"
                if not self.entries:
                    raise HarReadError(what) from None
                self.problems.append(f"after {self.entries} entries: {what}; the entries before it were read")

    def _report(self, fh: BinaryIO) -> None:
        if self.progress:
            try:
                done = fh.tell()
            except (OSError, ValueError):
                return
            self.progress("read", min(done, self.total), self.total)

    def _read(self, fh: BinaryIO) -> Iterator[RawHit]:
        head = fh.read(4)
        fh.seek(0)
        if head.startswith(b"\x1f\x8b"):
            self.format = "gzip "
            yield from self._read_json_or_flows(gzip.GzipFile(fileobj=fh), raw=fh)
        elif head[:1] == b"x" and head[1:2] in (b"\x01", b"\x5e", b"\x9c", b"\xda"):  # .zhar (zlib)
            self.format = "zlib "
            yield from self._read_json_or_flows(io.BufferedReader(_ZlibFile(fh), READ_CHUNK), raw=fh)
        else:
            yield from self._read_json_or_flows(fh, raw=fh)

    def _read_json_or_flows(self, fh, raw: BinaryIO) -> Iterator[RawHit]:
        start = fh.read(64)
        fh.seek(0)
        first = start.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
        if first in (b"{", b"["):
            self.format += "HAR"
            yield from self._read_har(fh, raw)
        elif first[:1].isdigit():
            self.format += "mitmproxy flows"
            yield from self._read_flows(fh, raw)
        else:
            raise HarReadError(self._neither(start))

    def _neither(self, start: bytes) -> str:
        """Why a file that starts with `start` is neither JSON nor mitmproxy flows."""
        if not start.strip():
            what = f"the {self.format.strip()} data (uncompressed)" if self.format else "the file"
            return f"{what} is empty" + (" (only whitespace)" if start else "")
        try:
            text = codecs.getincrementaldecoder("utf-8-sig")().decode(start)  # (a cut last character waits)
        except UnicodeDecodeError:
            text = None
        if text is None or any(ord(c) < 32 and c not in "\t\r\n" for c in text):
            return f"neither a HAR nor a mitmproxy flow file: binary data starting {start[:8].hex(' ')}"
        return f"neither a HAR file (a JSON object) nor a mitmproxy flow file: it starts with {text[:24]!r}"

    def _read_har(self, fh, raw: BinaryIO) -> Iterator[RawHit]:
        js = _JsonStream(fh)
        try:
            js.expect_container("{", "not a HAR file: the JSON")
            found_log = found_entries = False
            for key in js.object_keys():
                if key != "log":
                    js.skip()
                    continue
                found_log = True
                js.expect_container("{", "not a HAR file: `log`")
                for log_key in js.object_keys():
                    if log_key == MARKS_KEY:
                        self._read_marks(js)
                        continue
                    if log_key != "entries":
                        js.skip()
                        continue
                    found_entries = True
                    js.expect_container("[", "not a HAR file: log.entries")
                    yield from self._entries(js, raw)
            if js.peek():
                self.problems.append(f"data after the HAR's JSON, from byte {js.byte_at(js.pos)} on, "
                                     "was not read")
        except json.JSONDecodeError as e:
            if js.eof and (e.pos >= len(js.buf.rstrip()) or "Unterminated" in e.msg):
                what = self._truncated(js)
            else:
                what = f"not valid JSON at byte {js.byte_at(e.pos)}: {e.msg}"
            if self.entries:
                self.problems.append(f"log.entries[{self.entries}]: {what}; the entries before it were read")
                return
            raise HarReadError(what) from None
        except _Unexpected as e:
            what = f"not valid JSON at byte {js.byte_at(js.pos)}: {e}"
            if js.eof and js.pos >= len(js.buf):
                what = self._truncated(js)
            if self.entries:
                self.problems.append(f"log.entries[{self.entries}]: {what}; the entries before it were read")
                return
            raise HarReadError(what) from None
        if not found_log:
            raise HarReadError("not a HAR file: no `log` object")
        if not found_entries:
            raise HarReadError("not a HAR file: no log.entries")

    def _truncated(self, js: _JsonStream) -> str:
        where = " of the uncompressed data" if self.format != "HAR" else ""
        return f"truncated JSON at byte {js.consumed}{where}"

    def _read_marks(self, js: _JsonStream) -> None:
        """The marks pixelspy saved: at most MAX_MARKS, each a string label (cut) and an ISO time; the
        others are skipped, with one note."""
        if js.peek() != "[":
            js.skip()
            self.problems.append(f"log.{MARKS_KEY} is not a list; marks skipped")
            return
        skipped = 0
        for _ in js.array_items():
            if len(self.marks) >= MAX_MARKS:
                js.skip()
                skipped += 1
                continue
            try:
                mark = self._mark(js.entry())
            except _SkippedEntry:
                mark = None
            if mark is None:
                skipped += 1
            else:
                self.marks.append(mark)
        if skipped:
            self.problems.append(f"log.{MARKS_KEY}: {skipped:,} marks skipped (not a label and a time, "
                                 f"or over {MAX_MARKS:,})")

    @staticmethod
    def _mark(item: Any) -> Mark | None:
        if not isinstance(item, dict) or not isinstance(label := item.get("label"), str):
            return None
        t = _when(item["time"]) if isinstance(item.get("time"), str) else None
        return Mark(label[:MAX_MARK_LABEL], t) if t is not None else None

    def _entries(self, js: _JsonStream, raw: BinaryIO) -> Iterator[RawHit]:
        prev_time = 0.0
        last_report = 0
        for _ in js.array_items():
            n = self.entries
            try:
                hit = self._hit(_valid_entry(js.entry()), prev_time)
            except _SkippedEntry as e:
                self.problems.append(f"log.entries[{n}]: {e}; entry skipped")
                hit = None
            self.entries += 1
            if hit is None:
                continue
            prev_time = hit.time
            if self.progress and js.consumed - last_report > READ_CHUNK:
                last_report = js.consumed
                self._report(raw)
            yield hit
        self._report(raw)

    def _hit(self, entry: HarEntry, prev_time: float) -> RawHit:
        req = entry.request
        try:
            parts = urlsplit(req.url)
        except ValueError as e:
            raise _SkippedEntry(f"request.url {req.url[:80]!r} is not a valid URL ({e})") from None
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
            raise _SkippedEntry(f"request.url {req.url[:80]!r} is not an http(s) URL")
        # h2/h3 pseudo-headers (:authority, :path…) are not headers of the request a decoder reads.
        headers = [(h.name, h.value) for h in req.headers if not h.name.startswith(":")]
        if req.cookies and not any(k.lower() == "cookie" for k, _ in headers):
            headers.append(("Cookie", "; ".join(f"{c.name}={c.value}" for c in req.cookies)))
        tracking = self.registry.find((parts.hostname or "").lower(), parts.path or "/") is not None
        body = _post_body(req.postData) if tracking else b""
        cut = len(body) > MAX_STORED_BODY or bool(body) and req.postData.comment == BODY_CUT_NOTE
        meta = entry.pixelspy or {}
        hit_id, kept = self._kept_ids(meta)
        kept_hit_id = {"id": hit_id} if hit_id else {}
        return RawHit(**kept_hit_id, method=req.method.upper(), url=req.url, headers=headers,
                      body=body[:MAX_STORED_BODY], body_truncated=cut,
                      time=_when(entry.startedDateTime) or prev_time,
                      client=meta.get("client") if isinstance(meta.get("client"), str)
                      else recording_browser(entry.pageref), kept_ids=kept,
                      navigation=self._navigation(entry), response_type=_response_type(entry.response))

    def _navigation(self, entry: HarEntry) -> bool | None:
        """Whether the file says the entry opened a page (RawHit.navigation): DevTools' request type
        says so of each entry; otherwise the first entry of a pageref not seen before opens it."""
        kind = _str_or_none(entry.resource_type)
        if kind:
            return kind.lower() == "document"
        ref = _str_or_none(entry.pageref)
        if not ref or ref in self._pagerefs:
            return None  # a tab's later navigations (Playwright) still show in the request headers
        self._pagerefs[ref] = None
        if len(self._pagerefs) > MAX_PAGEREFS:
            del self._pagerefs[next(iter(self._pagerefs))]
        return True

    def _kept_ids(self, meta: dict) -> tuple[str | None, tuple[KeptId, ...]]:
        """The hit id and event ids a file pixelspy wrote gave this entry (`_pixelspy.events`), so that
        a reopened file shows the ids a live session showed. Ids not shaped as pixelspy makes them, or
        seen before in this file, are not kept: the hit and those events get new ones."""
        events = meta.get("events")
        events = [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []
        # (files before the entry's own hit_id: the events' hit_id; a twin copy's entry has no event)
        hit_id = meta.get("hit_id") or next((e["hit_id"] for e in events if e.get("hit_id")), None)
        kept = tuple(KeptId(e["id"], _str_or_none(e.get("platform")) or "", _str_or_none(e.get("event")))
                     for e in events if self._new_kept_id(e.get("id"), "e"))
        return (hit_id if self._new_kept_id(hit_id, "h") else None), kept

    def _new_kept_id(self, ident: Any, prefix: str) -> bool:
        if isinstance(ident, str) and ident not in self._seen_ids and keep_id(ident, prefix):
            self._seen_ids.add(ident)
            return True
        return False

    def _read_flows(self, fh, raw: BinaryIO) -> Iterator[RawHit]:
        from mitmproxy import exceptions, http
        from mitmproxy.io import FlowReader

        from pixelspy.addon import raw_hit, request_url

        try:
            for flow in FlowReader(_CappedReads(fh)).stream():
                self.entries += 1
                if isinstance(flow, http.HTTPFlow):
                    url = request_url(flow)
                    yield raw_hit(flow, with_body=self.registry.find_url(url) is not None, url=url)
                if self.progress and self.entries % 500 == 0:
                    self._report(raw)
        except (exceptions.FlowReadException, RecursionError) as e:
            why = f"{e}: {e.__cause__}" if e.__cause__ else str(e)
            if not self.entries:
                raise HarReadError(f"not a mitmproxy flow file ({why})") from None
            self.problems.append(f"flow {self.entries}: {why}; the flows before it were read")
        self._report(raw)


class _CappedReads:
    """A file that refuses single reads over MAX_ENTRY_CHARS bytes: mitmproxy's flow reader reads a
    record whole, as long as its length prefix says, and a compressed file can make that gigabytes."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > MAX_ENTRY_CHARS:
            raise ValueError(f"a record larger than {MAX_ENTRY_CHARS >> 20} MB")
        return self.fh.read(n)

    def __getattr__(self, name: str) -> Any:  # peek, tell, seek
        return getattr(self.fh, name)


class _Unexpected(ValueError):
    pass


class _SkippedEntry(ValueError):
    """An entry stepped over without being read; the message says why."""


_WS = re.compile(r"[ \t\r\n]*")
_DECODER = json.JSONDecoder()
# What the skipper looks for: the structure of a value, the end of a scalar.
_STRUCTURE = re.compile(r'["\[\]{}]')
_SCALAR = re.compile(r'[^\s,:\[\]{}"]*')
_MAX_KEY = 256
_JSON_KINDS = {"{": "an object", "[": "a list", '"': "a string", "t": "a boolean", "f": "a boolean", "n": "null"}


# Once a file has had a broken entry, the buffer before the entry being read is kept under this:
# Python's JSONDecodeError counts the lines of everything before the error, so a file of many broken
# entries would cost the square of its size (300,000 of them in 9.6 MB: two minutes).
AFTER_ERROR_KEEP = 8192


class _JsonStream:
    """Just enough of an incremental JSON reader to walk `{"log": {"entries": [...]}}` one value at
    a time. Entries are read by the C decoder from a buffer that grows only to the largest entry
    (at most MAX_ENTRY_CHARS); everything else is stepped over character by character without being
    built, so neither its size nor its depth costs memory or Python's recursion limit."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh
        self.dec = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self.buf = ""
        self.pos = 0
        self.consumed = 0  # bytes read from fh
        self.eof = False
        self._known: tuple[int, int] | None = None  # (position in buf, its byte offset), see byte_at
        self._broken_seen = False  # an entry was skipped as broken: see AFTER_ERROR_KEEP

    def _more(self, most: int = 1 << 62) -> bool:
        """Read on: as much as is buffered after pos (so a value being built costs linear time), at
        least a chunk, at most about `most` characters; what lies before pos may be dropped."""
        if self.eof:
            return False
        if self.pos > READ_CHUNK:
            self._drop_read()
        data = self.fh.read(max(READ_CHUNK, min(len(self.buf) - self.pos, most)))
        self.consumed += len(data)
        if not data:
            self.eof = True
            self.buf += self.dec.decode(b"", final=True)
            return False
        self.buf += self.dec.decode(data)
        return True

    def _drop_read(self) -> None:
        """Drop what lies before pos from the buffer."""
        self.buf = self.buf[self.pos:]
        known = self._known
        self._known = None if known is None or known[0] < self.pos else (known[0] - self.pos, known[1])
        self.pos = 0

    def peek(self) -> str:
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def expect_container(self, ch: str, what: str) -> None:
        """The value here must be an object ("{") or a list ("["), else HarReadError says what it is;
        not consumed."""
        got = self.peek()
        if got == ch:
            return
        if not got:
            raise _Unexpected(f"expected {ch!r}, file ended")
        kind = _JSON_KINDS.get(got, "a number" if got in "-0123456789" else None)
        if kind is None:
            raise _Unexpected(f"expected a value, found {got!r}")
        raise HarReadError(f"{what} is {kind}, not {_JSON_KINDS[ch]}")

    def byte_at(self, pos: int) -> int:
        """The offset in the (uncompressed) file of buf[pos], for messages. After invalid UTF-8 it
        is approximate: each replaced sequence counts as 3 bytes. Counted on from the last position
        asked for while in the buffer (a file of a million broken entries costs one pass), else back
        from the end of what was read."""
        if self._known is not None and self._known[0] <= pos:
            at = self._known[1] + len(self.buf[self._known[0]:pos].encode("utf-8"))
        else:
            at = self.consumed - len(self.dec.getstate()[0]) - len(self.buf[pos:].encode("utf-8"))
        self._known = (pos, at)
        return at

    def expect(self, ch: str) -> None:
        got = self.peek()
        if got != ch:
            raise _Unexpected(f"expected {ch!r}, found {got!r}" if got else f"expected {ch!r}, file ended")
        self.pos += 1

    def entry(self) -> Any:
        """The value here, built; raises _SkippedEntry (having stepped over it) when it is larger than
        MAX_ENTRY_CHARS, nested deeper than the parser goes, or not valid JSON."""
        self.peek()
        if self._broken_seen and self.pos > AFTER_ERROR_KEEP:
            self._drop_read()
        while True:
            try:
                v, end = _DECODER.raw_decode(self.buf, self.pos)
            except RecursionError:
                self._skip_broken("nested deeper than the JSON parser goes")
            except json.JSONDecodeError as e:
                if not self._incomplete(e):
                    self._skip_broken(f"not valid JSON at byte {self.byte_at(e.pos)}: {e.msg}")
                size = len(self.buf) - self.pos
                if size > MAX_ENTRY_CHARS:
                    self._skip_broken(f"larger than {MAX_ENTRY_CHARS >> 20} MB of JSON")
                if self._more(MAX_ENTRY_CHARS + 1 - size):
                    continue
                raise  # the file ends inside the entry
            # A number (or literal) touching the end of the buffer may continue in the next chunk.
            if end >= len(self.buf) and self._more():
                continue
            self.pos = end
            return v

    def _incomplete(self, e: json.JSONDecodeError) -> bool:
        """The decoder stopped at the end of the buffer (more may make the value whole): within a
        literal's length of the end, or in a string that runs to the end."""
        return len(self.buf) - e.pos <= 6 or e.msg.startswith("Unterminated string")

    def _skip_broken(self, why: str) -> None:
        self._broken_seen = True
        self.skip()
        raise _SkippedEntry(why)

    def skip(self) -> None:
        """Step over the value here without building it; any size, any depth."""
        ch = self.peek()
        if ch == '"':
            return self._skip_string()
        if ch not in ("[", "{"):
            return self._skip_scalar()
        depth = 0
        while True:
            m = _STRUCTURE.search(self.buf, self.pos)
            if m is None:
                self.pos = len(self.buf)
                self._need_more()
                continue
            self.pos = m.start()
            if m.group() == '"':
                self._skip_string()
                continue
            self.pos += 1
            depth += 1 if m.group() in "[{" else -1
            if depth == 0:
                return

    def _need_more(self) -> None:
        if not self._more():
            raise _Unexpected("file ended inside a value")

    def _skip_string(self) -> None:
        self.pos += 1
        while True:  # str.find, not a regex: it runs at memory speed through a gigabyte string
            quote = self.buf.find('"', self.pos)
            escape = self.buf.find("\\", self.pos, len(self.buf) if quote < 0 else quote)
            if escape >= 0:
                if escape + 1 < len(self.buf):
                    self.pos = escape + 2  # the escaped character is not the end
                    continue
                self.pos = escape
            elif quote >= 0:
                self.pos = quote + 1
                return
            else:
                self.pos = len(self.buf)
            self._need_more()

    def _skip_scalar(self) -> None:
        start = self.pos
        while True:
            self.pos = _SCALAR.match(self.buf, self.pos).end()
            if self.pos < len(self.buf) or not self._more():
                break
        if self.pos == start:
            found = self.buf[self.pos:self.pos + 1]
            raise _Unexpected(f"expected a value, found {found!r}" if found else "expected a value, file ended")

    def _items(self, open_ch: str, close_ch: str) -> Iterator[None]:
        self.expect(open_ch)
        if self.peek() == close_ch:
            self.pos += 1
            return
        while True:
            yield None
            ch = self.peek()
            if ch == ",":
                self.pos += 1
            elif ch == close_ch:
                self.pos += 1
                return
            else:
                raise _Unexpected(f"expected ',' or {close_ch!r}, found {ch!r}" if ch else
                                  f"expected ',' or {close_ch!r}, file ended")

    def object_keys(self) -> Iterator[str]:
        """Keys of the object here; the caller reads (or skips) each value before the next key."""
        for _ in self._items("{", "}"):
            if self.peek() != '"':
                raise _Unexpected(f"expected a key, found {self.peek()!r}")
            key = self._key()
            self.expect(":")
            yield key

    def _key(self) -> str:
        """A key, built only when short (the keys the reader looks for are); a longer one is skipped."""
        while len(self.buf) - self.pos < _MAX_KEY and self._more():
            pass
        end = self.buf.find('"', self.pos + 1, self.pos + _MAX_KEY)
        if end > 0 and "\\" not in self.buf[self.pos:end]:
            key = self.buf[self.pos + 1:end]
            self.pos = end + 1
            return key
        self._skip_string()
        return ""

    def array_items(self) -> Iterator[None]:
        """Positions at each item of the array here; the caller reads (entry) or skips each."""
        return self._items("[", "]")


# ----------------------------------------------------------------------------------------- opening


@dataclass
class LoadResult:
    path: Path
    format: str
    entries: int  # entries (or flows) in the file
    hits: int  # requests read
    events: int  # tracking events decoded
    problems: list[str]


def read_hits(path: str | Path, progress: Progress | None = None) -> tuple[list[RawHit], FileReader]:
    """Every request of the file, in time order (stable: ties keep the file's order)."""
    reader = FileReader(path, progress)
    hits = sorted(reader, key=lambda h: h.time)
    return hits, reader


def iter_har_hits(path: str | Path, progress: Progress | None = None) -> Iterator[RawHit]:
    """The requests of a HAR or flow file in file order, streaming (see FileReader for problems)."""
    return iter(FileReader(path, progress))


def _load_steps(path: str | Path, session: Session, progress: Progress | None,
                batch: int) -> Generator[None, None, LoadResult]:
    reader = FileReader(path, progress)
    hits: list[RawHit] = []
    for hit in reader:
        hits.append(hit)
        if len(hits) % batch == 0:
            yield
    hits.sort(key=lambda h: h.time)
    before = len(session)
    for i, hit in enumerate(hits, 1):
        session.ingest(hit)
        if i % batch == 0:
            if progress:
                progress("decode", i, len(hits))
            yield
    if progress:
        progress("decode", len(hits), len(hits))
    session.tick(float("inf"))  # the file is complete: nothing pending will still arrive
    session.add_marks(reader.marks)
    return LoadResult(Path(path), reader.format, reader.entries, len(hits), len(session) - before,
                      reader.problems)


def load_file(path: str | Path, session: Session, progress: Progress | None = None) -> LoadResult:
    """Read a HAR or mitmproxy flow file into `session` (decoders and checks run on every hit, in time
    order), then settle pending verdicts. Raises HarReadError when the file cannot be read at all."""
    steps = _load_steps(path, session, progress, 1000)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


async def load_file_async(path: str | Path, session: Session, progress: Progress | None = None,
                          batch: int = 200) -> LoadResult:
    """load_file that gives the event loop (the TUI) a turn every `batch` entries."""
    steps = _load_steps(path, session, progress, batch)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value
        await asyncio.sleep(0)
