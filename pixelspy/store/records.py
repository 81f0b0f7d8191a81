"""Events, findings and hits as rows of the session file, and back.

An event's row holds what the TUI filters on in columns and the whole event (but its findings,
which have their own table) as JSON. What comes back from a file is hostile like any file: every
value is checked for its type, and a row that does not fit is skipped, not trusted; a finding that does
not fit is left out of its event, which is kept and says so in its decode errors (an event is never lost
over one of its findings).
"""

from __future__ import annotations

import json
import zlib
from operator import attrgetter
from typing import Any

from pixelspy.model import Finding, Param, RawHit, Severity, TrackingEvent, UserField
from pixelspy.store.schema import SEVERITY_RANK

# An event's scalar fields, stored in its JSON as they are.
_SCALARS = ("id", "platform", "source", "kind", "pixel_id", "event", "label", "standard_event", "event_id",
            "page_url", "value", "currency", "content_ids", "order_id", "test_event_code", "decode_errors",
            "endpoint", "twins", "twin_key", "hit_id", "time", "client", "device", "referer")
_scalars = attrgetter(*_SCALARS)  # one call for all 24 (the writer's thread holds the GIL for it)
# One encoder for every row (json.dumps with options builds a new one each call); what it encodes is
# decoded text in lists, never a cycle, so it need not track the containers it is in.
_compact_json = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
# Bodies are kept up to the stored size of a hit (addon.MAX_STORED_BODY); a file's larger one is cut.
MAX_BODY = 2 * 1024 * 1024
# zlib's fastest level. A body shorter than COMPRESS_FROM is kept as it is: setting zlib up costs
# ≈ 150 µs a call, more than a few hundred bytes save (most beacons' bodies).
ZLIB_LEVEL = 1
COMPRESS_FROM = 2048


class BadRow(ValueError):
    """A row of the file that is not what pixelspy writes."""


def severity_rank(ev: TrackingEvent) -> int:
    return max(SEVERITY_RANK.get(f.severity.value, 0) for f in ev.findings) if ev.findings else 0


def event_row(ev: TrackingEvent) -> tuple:
    """(id, time, platform, pixel, event, page, device, kind, source, severity, hit_id, json)."""
    # source and kind are StrEnums, params and user data NamedTuples: JSON writes them as their
    # strings and arrays without copies.
    data = dict(zip(_SCALARS, _scalars(ev)))
    data["params"] = ev.params
    data["user_data"] = ev.user_data
    return (ev.id, ev.time, ev.platform, ev.pixel_id, ev.event, ev.page_url, ev.device, ev.kind.value,
            ev.source.value, severity_rank(ev), ev.hit_id, _compact_json(data))


def finding_rows(ev: TrackingEvent) -> list[tuple]:
    return [finding_row((ev.id, n, f)) for n, f in enumerate(ev.findings)]


def finding_row(numbered: tuple[str, int, Finding]) -> tuple:
    """(event_id, n, code, severity, message, hint, related, pending) of an event's nth finding."""
    event_id, n, f = numbered
    return (event_id, n, f.code, f.severity.value, f.message, f.hint, json.dumps(f.related), int(f.pending))


def search_words(ev: TrackingEvent) -> tuple[str, str, str]:
    """(name, params, page): what the full-text index holds of an event."""
    return _words((ev.event, ev.standard_event, ev.label), ev.params, ev.page_url)


def row_words(text: str) -> tuple[str, str, str]:
    """search_words of the event whose row's JSON is `text`, without making the event (a row past
    the full-text index is read for its words alone); a row that does not fit has none."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise BadRow("not an object")
        params = [_strings(p, 2, 4) for p in data.get("params", [])]
        words = _words([data.get(k) for k in ("event", "standard_event", "label")], params, data.get("page_url"))
    except (ValueError, TypeError, RecursionError):  # (RecursionError: JSON nested past the parser's depth)
        return "", "", ""
    return words


def _words(names: Any, params: Any, page: Any) -> tuple[str, str, str]:
    """(name, params, page) of search_words; params are sequences (name, value, …); a value that is
    not text has none (a hostile row)."""
    return (" ".join(dict.fromkeys([x for x in names if x and isinstance(x, str)])),
            " ".join([f"{p[0]} {p[1]}" for p in params if isinstance(p[0], str) and isinstance(p[1], str)]),
            page if isinstance(page, str) else "")


def _strings(value: Any, least: int, most: int) -> tuple:
    if not isinstance(value, list) or not least <= len(value) <= most:
        raise BadRow("not a list of the right length")
    return tuple(value)


def event_from_row(text: str, findings: list[tuple]) -> TrackingEvent:
    """The event of a row's JSON and its finding rows (code, severity, message, hint, related, pending)."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise BadRow("not an object")
        fields = {k: data[k] for k in _SCALARS if k in data}
        params = [Param(*_strings(p, 2, 4)) for p in data.get("params", [])]
        users = [UserField(*_strings(u, 3, 4)) for u in data.get("user_data", [])]
        if not all(isinstance(x, str) for p in params for x in p):
            raise BadRow("a param is not text")
        if not all(isinstance(u.key, str) and isinstance(u.name, str) and isinstance(u.value, str) for u in users):
            raise BadRow("a user field is not text")
        kept = [f for f in map(_readable_finding, findings) if f is not None]
        errors = fields.get("decode_errors", [])
        if len(kept) < len(findings) and isinstance(errors, list):  # (the event is kept, and says what it lost)
            fields["decode_errors"] = [*errors, unread_findings(len(findings) - len(kept))]
        ev = TrackingEvent(**fields, params=params, user_data=[u._replace(hashed=bool(u.hashed)) for u in users],
                           findings=kept)
    except (ValueError, TypeError, RecursionError) as e:  # pydantic's ValidationError is a ValueError
        raise BadRow(str(e).splitlines()[0]) from None
    return ev


def unread_findings(n: int) -> str:
    """The note on an event read back without `n` of its findings (rows that did not fit)."""
    return f"session file: {n} of this event's findings could not be read (left out)"


def _readable_finding(row: tuple) -> Finding | None:
    """A finding of its row (code, severity, message, hint, related, pending); None: one that does not
    fit (wrong types, an unknown severity, broken or deeply nested JSON), which loses the finding, never
    its event."""
    try:
        return _finding(*row)
    except (ValueError, TypeError, RecursionError):
        return None


def _finding(code: Any, severity: Any, message: Any, hint: Any, related: Any, pending: Any) -> Finding:
    rel = json.loads(related)
    if not (isinstance(code, str) and isinstance(message, str) and isinstance(hint, str)
            and isinstance(rel, list) and all(isinstance(r, str) for r in rel)):
        raise BadRow("a finding is not text")
    return Finding(code, Severity(severity), message, hint, rel, bool(pending))


def pack(data: bytes) -> tuple[bytes, int]:
    """(data as stored, whether zlib-compressed)."""
    return (zlib.compress(data, ZLIB_LEVEL), 1) if len(data) >= COMPRESS_FROM else (data, 0)


def unpack(data: Any, packed: Any, most: int) -> bytes:
    """Stored data back, at most `most` bytes (BadRow beyond: a bomb stops at the cap)."""
    if packed:
        data = zlib.decompressobj().decompress(data, most + 1)
    elif not isinstance(data, bytes):
        data = b""
    if len(data) > most:
        raise BadRow("larger than pixelspy stores")
    return data


def hit_row(hit: RawHit) -> tuple:
    """(id, time, method, url, headers, body, body_zlib, body_size, body_truncated, client, device)."""
    body = hit.body[:MAX_BODY]
    return (hit.id, hit.time, hit.method, hit.url, _compact_json(hit.headers),
            *pack(body), len(body),
            int(hit.body_truncated or len(hit.body) > MAX_BODY), hit.client, hit.device)


def hit_from_row(hit_id: Any, time: Any, method: Any, url: Any, headers: Any, body: Any, packed: Any,
                 body_size: Any, truncated: Any, client: Any, device: Any) -> RawHit:
    try:
        pairs = json.loads(headers)
        if not (isinstance(pairs, list) and all(isinstance(p, list) and len(p) == 2 for p in pairs)):
            raise BadRow("headers are not name-value pairs")
        data = unpack(body, packed, MAX_BODY)
        hit = RawHit(id=hit_id, time=time, method=method, url=url, headers=tuple(map(tuple, pairs)), body=data,
                     client=client, body_truncated=bool(truncated))
    except (ValueError, TypeError, zlib.error, RecursionError) as e:
        raise BadRow(str(e).splitlines()[0]) from None
    if isinstance(device, str):
        hit.set_device(device)
    return hit
