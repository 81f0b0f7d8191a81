"""A HAR entry, once read as JSON, into a RawHit: validated with lenient pydantic models (browsers and
proxies each leave out different fields, and one odd entry must not cost the others), with what the
file says of pages and, for files pixelspy wrote, of its own ids; and the marks of `log`."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote_plus, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pixelspy import decoders
from pixelspy.checks.pages import recording_browser
from pixelspy.har.format import BODY_CUT_NOTE, MAX_STORED_BODY
from pixelspy.model import KeptId, RawHit, keep_id
from pixelspy.session import MAX_MARK_LABEL, Mark

# pagerefs remembered per file, the oldest forgotten first (a file may hold any number of pages).
MAX_PAGEREFS = 1_000
# A media type is a few dozen characters; a file's longer value is cut (RawHit.response_type).
MAX_RESPONSE_TYPE = 100


class SkippedEntry(ValueError):
    """An entry that cannot be read; the message says why."""


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
    # Only its content.mimeType is read (_response_type): Playwright's HARs tell pages by it.
    response: Any = None


# The fields of an entry that are read (the reader need not build the others: response, timings…).
ENTRY_FIELDS = frozenset(field.alias or name for name, field in HarEntry.model_fields.items())


def when(text: str | None) -> float | None:
    if not text:
        return None
    try:
        d = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return d.timestamp()


def mark_of(item: Any) -> Mark | None:
    """A mark pixelspy saved (MARKS_KEY): a string label (cut) and an ISO time; None for anything else."""
    if not isinstance(item, dict) or not isinstance(label := item.get("label"), str):
        return None
    t = when(item["time"]) if isinstance(item.get("time"), str) else None
    return Mark(label[:MAX_MARK_LABEL], t) if t is not None else None


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


def _response_type(response: Any) -> str:
    """The media type the file recorded for the response (`response.content.mimeType`), or ''."""
    content = response.get("content") if isinstance(response, dict) else None
    mime = content.get("mimeType") if isinstance(content, dict) else None
    return mime[:MAX_RESPONSE_TYPE].lower() if isinstance(mime, str) else ""


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _valid_entry(raw_entry: Any) -> HarEntry:
    try:
        return HarEntry.model_validate(raw_entry)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        msg = "missing" if err["type"] == "missing" else err["msg"].lower()
        raise SkippedEntry(f"{where}: {msg}") from None


class EntryReader:
    """Turns the entries of one file, in file order, into RawHits (SkippedEntry for one that cannot
    be). An entry without a time takes the one before it."""

    def __init__(self) -> None:
        self.registry = decoders.default_registry()
        self._prev_time = 0.0
        self._seen_ids: set[str] = set()  # ids kept from the file's `_pixelspy` (_kept_ids)
        self._pagerefs: dict[str, None] = {}  # the latest MAX_PAGEREFS pagerefs seen (_navigation)

    def hit(self, raw_entry: Any) -> RawHit:
        entry = _valid_entry(raw_entry)
        req = entry.request
        try:
            parts = urlsplit(req.url)
        except ValueError as e:
            raise SkippedEntry(f"request.url {req.url[:80]!r} is not a valid URL ({e})") from None
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
            raise SkippedEntry(f"request.url {req.url[:80]!r} is not an http(s) URL")
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
        self._prev_time = when(entry.startedDateTime) or self._prev_time
        return RawHit(**kept_hit_id, method=req.method.upper(), url=req.url, headers=headers,
                      body=body[:MAX_STORED_BODY], body_truncated=cut, time=self._prev_time,
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
