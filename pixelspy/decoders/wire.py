"""Body and query helpers shared by the decoders.

Every helper is total: bad input (broken percent-encoding, invalid UTF-8, truncated gzip, garbage
JSON, huge bodies) comes back as an error string the decoder attaches to its event, never as an
exception.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import zlib
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from pixelspy import bounded
from pixelspy.model import Param, RawHit, Source, TrackingEvent, UserField, looks_hashed

# Tracking bodies are a few KB; anything this large is not decoded (the hit is still listed).
MAX_DECODE_BYTES = 2 * 1024 * 1024
# Deeply nested JSON is flattened only this deep; deeper values stay JSON strings.
MAX_FLATTEN_DEPTH = 6


class Errors(list[str]):
    """Decode errors collected while reading one hit."""

    def add(self, msg: str) -> None:
        if msg not in self:
            self.append(msg)


def to_text(data: bytes, errors: Errors, what: str = "body") -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        errors.add(f"{what} is not valid UTF-8 (byte {e.start}); undecodable bytes replaced")
        return data.decode("utf-8", errors="replace")


_BROKEN_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def unquote_lossy(text: str) -> str:
    """`urllib.parse.unquote(text, errors="replace")`, several times faster: a tracking hit carries
    dozens of percent-encoded values (whole JSON objects), the decoders' hottest loop."""
    if "%" not in text:
        return text
    if _qp_safe(text) and "=" not in text:
        return _qp_unquote(text)
    return unquote(text, errors="replace")


def _qp_safe(text: str) -> bool:
    """Percent-encoding is quoted-printable with "%" for "=": binascii's C decoder can undo it when
    the text has no line break (QP joins lines), no broken escape (unquote keeps it, QP drops it)
    and, per value, no "=" of its own."""
    return text.isascii() and "\n" not in text and "\r" not in text and not _BROKEN_PERCENT.search(text)


def _qp_unquote(text: str) -> str:
    return binascii.a2b_qp(text.replace("%", "=")).decode("utf-8", "replace")


def parse_qs_pairs(qs: str, errors: Errors, what: str = "query") -> list[tuple[str, str]]:
    """Ordered (name, value) pairs, as `parse_qsl(keep_blank_values=True, errors="replace")`
    gives them; names keep their brackets (`cd[value]`), blanks are kept."""
    if not qs:
        return []
    if "+" in qs:
        qs = qs.replace("+", " ")
    if "%" not in qs:
        return [(name, value) for name, _, value in (chunk.partition("=") for chunk in qs.split("&") if chunk)]
    # One pass costs a few C passes over the whole string; it pays off over the per-value loop
    # below when escapes are dense (URL-encoded JSON, page URLs), not for a few encoded values.
    if qs.count("%") > 2 * qs.count("&") and (pairs := _unquote_in_one_pass(qs, errors, what)) is not None:
        return pairs
    fast = _qp_safe(qs)
    pairs = []
    not_utf8 = False
    for chunk in qs.split("&"):
        if not chunk:
            continue
        name, _, value = chunk.partition("=")
        if "%" in name:
            name = unquote_lossy(name)
            not_utf8 = not_utf8 or "\ufffd" in name
        if "%" in value:
            value = _qp_unquote(value) if fast and "=" not in value else unquote(value, errors="replace")
            not_utf8 = not_utf8 or "\ufffd" in value
        pairs.append((name, value))
    if not fast and _BROKEN_PERCENT.search(qs):
        errors.add(f"{what} has broken percent-encoding; decoded what could be decoded")
    if not_utf8:
        errors.add(f"{what} has percent-encoded bytes that are not UTF-8")
    return pairs


def _unquote_in_one_pass(qs: str, errors: Errors, what: str) -> list[tuple[str, str]] | None:
    """The pairs of the common query, decoded with one C call for the whole string instead of one
    per value: ASCII, no line breaks, every pair `name=value` with a single "=", no broken escape.
    None for any other query.

    The separators "&" and "=" become line breaks, which the decoded text then does not contain
    (the counts say so: no %0A/%0D), so it splits back into the same pairs."""
    # A "%" before a separator would read as a QP soft line break.
    if not qs.isascii() or "\n" in qs or "\r" in qs or "%&" in qs or "%=" in qs:
        return None
    qp = qs.replace("=", "\r").replace("&", "\n").replace("%", "=")  # quoted-printable, see _qp_safe
    raw = binascii.a2b_qp(qp)
    if len(raw) != len(qp) - 2 * qp.count("="):  # each escape gives one byte; a broken one does not
        return None
    text = raw.decode("utf-8", "replace")
    chunks = text.split("\n")
    if len(chunks) != qs.count("&") + 1:  # an encoded line feed
        return None
    pairs = [(name, value) for name, sep, value in (chunk.partition("\r") for chunk in chunks) if sep]
    # Every chunk one pair with one "=" (no blank chunk, no "=" of a value's own), no encoded CR.
    if not len(pairs) == len(chunks) == qs.count("=") == text.count("\r"):
        return None
    if "\ufffd" in text:
        errors.add(f"{what} has percent-encoded bytes that are not UTF-8")
    return pairs


def decode_content_encoding(body: bytes, encoding: str, errors: Errors) -> bytes:
    encoding = encoding.strip().lower()
    if not encoding or encoding == "identity" or not body:
        return body
    if encoding in ("gzip", "x-gzip", "deflate"):
        return inflate(body, errors, what=f"{encoding} body")  # also says when the stream is cut short
    try:
        return bounded.decode(body, encoding, MAX_DECODE_BYTES)
    except bounded.TooLarge as e:
        errors.add(f"{encoding} body decodes to more than {MAX_DECODE_BYTES} bytes; cut there")
        return e.partial
    except bounded.CorruptData as e:
        errors.add(f"content-encoding {encoding!r} is not decoded: {e}")
        return body


def inflate(data: bytes, errors: Errors, what: str = "gzip data") -> bytes:
    """gzip, zlib or raw deflate, with a size cap; a truncated stream yields what was readable."""
    for wbits in (47, -15):  # 47 = auto-detect gzip/zlib header; -15 = raw deflate
        d = zlib.decompressobj(wbits)
        try:
            out = d.decompress(data, MAX_DECODE_BYTES)
        except zlib.error:
            continue
        if d.unconsumed_tail:
            errors.add(f"{what} inflates to more than {MAX_DECODE_BYTES} bytes; cut there")
        elif not d.eof:
            errors.add(f"{what} is truncated; decoded {len(out)} bytes")
        return out
    errors.add(f"{what} is not valid gzip/deflate")
    return b""


def hit_body(hit: RawHit, errors: Errors) -> bytes:
    """The request body with content-encoding undone, capped at MAX_DECODE_BYTES."""
    body = hit.body
    if hit.body_truncated:
        errors.add("body was larger than the stored size; decoded the stored part")
    if len(body) > MAX_DECODE_BYTES:
        errors.add(f"body is {len(body)} bytes; only the first {MAX_DECODE_BYTES} are decoded")
        body = body[:MAX_DECODE_BYTES]
    return decode_content_encoding(body, hit.header("content-encoding"), errors)


def parse_json(text: str, errors: Errors, what: str = "JSON") -> Any:
    """Parsed JSON, or None with an error. Deep nesting is an error, not a RecursionError."""
    try:
        return without_lone_surrogates(json.loads(text), text)
    except (ValueError, RecursionError) as e:
        msg = str(e) if isinstance(e, ValueError) else "nested too deeply"
        errors.add(f"{what} is not valid JSON ({msg[:80]})")
        return None


def parse_multipart(body: bytes, content_type_header: str, errors: Errors) -> list[tuple[str, str]]:
    """Form fields of a multipart/form-data body (what sendBeacon(FormData) sends)."""
    m = re.search(r'boundary="?([^";]+)"?', content_type_header)
    if not m:
        errors.add("multipart body without a boundary")
        return []
    boundary = b"--" + m.group(1).encode("latin-1", "replace")
    pairs = []
    for part in body.split(boundary)[1:]:
        if part.startswith(b"--"):
            break
        head, sep, value = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        name = re.search(rb'name="([^"]*)"', head)
        if name:
            pairs.append((to_text(name.group(1), errors, "multipart field name"),
                          to_text(value.removesuffix(b"\r\n"), errors, "multipart field")))
    if not pairs and body.strip():
        errors.add("multipart body has no readable part")
    return pairs


def body_form_or_json(hit: RawHit, errors: Errors) -> tuple[list[tuple[str, str]], Any]:
    """Read a request body as the vendors send them: form, multipart, JSON, or text/plain beacon.

    Returns (form pairs, parsed JSON). text/plain beacons and missing content types are sniffed:
    a body starting with `{`/`[` is JSON, otherwise it is read as a form.
    """
    raw = hit_body(hit, errors)
    if not raw:
        return [], None
    ctype = hit.content_type
    if ctype == "multipart/form-data":
        return parse_multipart(raw, hit.header("content-type"), errors), None
    text = to_text(raw, errors)
    stripped = text.lstrip()
    if ctype.endswith("json") or stripped.startswith(("{", "[")):
        return [], parse_json(stripped, errors, "body")
    return parse_qs_pairs(text.strip(), errors, "body"), None


# json.dumps(value, separators=(",", ":"), ensure_ascii=False), without building an encoder per call.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def compact(value: Any) -> str:
    """A JSON value as one string, the way it would be shown or compared."""
    kind = type(value)
    if kind is str:
        return value
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is int or (kind is float and math.isfinite(value)):
        return repr(value)  # what json.dumps writes, without its machinery
    if isinstance(value, str):
        return str(value)
    return _COMPACT_JSON.encode(value)


def flatten(obj: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    """Dotted (name, value) leaves of a JSON object. Lists stay whole values (shown as JSON)."""
    if not (isinstance(obj, dict) and obj and depth < MAX_FLATTEN_DEPTH):
        return [(prefix, obj)]
    leaves: list[tuple[str, Any]] = []
    _flatten_into(leaves, obj, prefix, depth)
    return leaves


def _flatten_into(leaves: list[tuple[str, Any]], obj: dict, prefix: str, depth: int) -> None:
    for key, value in obj.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value and depth + 1 < MAX_FLATTEN_DEPTH:
            _flatten_into(leaves, value, name, depth + 1)
        else:
            leaves.append((name, value))


def dig(obj: Any, *path: str | int, default: Any = None) -> Any:
    """obj[path[0]][path[1]]… or default when anything on the way is missing or of another type."""
    value = _at_path(obj, path)
    return default if value is None else value


def _at_path(obj: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        if isinstance(obj, dict) and isinstance(key, str):
            obj = obj.get(key)
        elif isinstance(obj, list) and isinstance(key, int) and -len(obj) <= key < len(obj):
            obj = obj[key]
        else:
            return None
        if obj is None:
            return None
    return obj


def maybe_b64_gzip(text: str, errors: Errors, what: str = "body") -> str:
    """LinkedIn-style bodies: base64 of gzipped JSON (starts with 'H4sI'); plain text passes."""
    t = text.strip()
    if not t.startswith("H4sI"):
        return text
    try:
        packed = base64.b64decode(t + "=" * (-len(t) % 4), validate=False)
    except (binascii.Error, ValueError):
        errors.add(f"{what} looks like base64 but is not")
        return text
    return to_text(inflate(packed, errors, f"{what} (base64 gzip)"), errors, what)


def json_list(value: str | None, errors: Errors, what: str) -> list[Any] | None:
    """A parameter that carries a JSON array (content_ids, contents); a lone string is a 1-list."""
    if value is None or value == "":
        return None
    v = value.strip()
    if not v.startswith("["):
        return [v]
    parsed = parse_json(v, errors, what)
    return parsed if isinstance(parsed, list) else None


# ---------------------------------------------------------------- parameter labelling tables


# Params repeat from hit to hit (pixel ID, version, screen size, page URL): a table hands out one
# shared (immutable) Param per short (name, value) instead of a new one per hit — less work, less
# memory, fewer objects for the garbage collector. Bounded: a hostile client can invent unboundedly
# many names and values, so the memory is emptied when full.
_MAX_SHARED_PARAMS = 8192
_MAX_SHARED_VALUE_LEN = 256


class Labels:
    """A vendor's parameter table: wire name → (label, group), plus bracket/dotted families.

    `families` maps a prefix such as "cd" (for `cd[value]`) or "properties." to (group, label
    prefix); a member without its own entry gets "<label prefix><key>" in that group.
    """

    def __init__(self, keys: Mapping[str, tuple[str, str]],
                 families: Mapping[str, tuple[str, str]] = {}, default_group: str = "Other"):
        self.keys = dict(keys)
        self.families = dict(families)
        self.default_group = default_group
        self._shared: dict[tuple[str, str], Param] = {}

    def param(self, name: str, value: Any) -> Param:
        text = value if type(value) is str else compact(value)
        key = (name, text)
        shared = self._shared.get(key)
        if shared is not None:
            return shared
        param = Param(name, text, *self._label_and_group(name))
        if len(text) <= _MAX_SHARED_VALUE_LEN:
            if len(self._shared) >= _MAX_SHARED_PARAMS:
                self._shared.clear()
            self._shared[key] = param
        return param

    def _label_and_group(self, name: str) -> tuple[str, str]:
        if name in self.keys:
            return self.keys[name]
        family, member = split_family(name)
        if family is not None:
            for prefix in (family, family + "."):
                if prefix in self.families:
                    group, label_prefix = self.families[prefix]
                    return f"{label_prefix}{member}", group
        return name, self.default_group

    def params(self, pairs: Iterable[tuple[str, Any]]) -> list[Param]:
        shared = self._shared
        params = []
        for pair in pairs:
            # A (name, str) pair is its own table key; other JSON values are looked up as text.
            param = shared.get(pair) if type(pair[1]) is str else None
            params.append(param or self.param(*pair))
        return params


_BRACKET = re.compile(r"^([^\[\].]+)\[([^\]]*)\]")


def split_family(name: str) -> tuple[str | None, str]:
    """'cd[value]' → ('cd', 'value'); 'properties.value' → ('properties', 'value')."""
    m = _BRACKET.match(name)
    if m:
        return m.group(1), m.group(2) + name[m.end():]
    head, dot, rest = name.partition(".")
    if dot:
        return head, rest
    return None, name


# Normalised user-data keys, from the many wire spellings the vendors use.
USER_KEYS = {
    "em": "em", "email": "em", "hashed_email": "em", "sha256_email": "em", "email_address": "em",
    "hem": "em", "u_hem": "em",
    "ph": "ph", "phone": "ph", "phone_number": "ph", "hashed_phone_number": "ph", "u_hpn": "ph",
    "fn": "fn", "first_name": "fn", "firstname": "fn", "ln": "ln", "last_name": "ln", "lastname": "ln",
    "ge": "ge", "gender": "ge", "db": "db", "date_of_birth": "db", "ct": "ct", "city": "ct",
    "st": "st", "state": "st", "zp": "zp", "zip": "zp", "country": "country",
    "external_id": "external_id", "uid": "external_id",
}
# Keys that identify a device/click and are never hashed; not PII fields to report as plain.
UNHASHED_BY_DESIGN = {"fbp", "fbc", "client_ip_address", "client_user_agent", "ip", "user_agent",
                      "ttclid", "ttp", "twclid", "li_fat_id", "lifatid", "hashed_maids", "madid"}


def user_field(name: str, key: str, value: Any) -> UserField | None:
    """A UserField for a recognised user-data key; None for anything else."""
    norm = USER_KEYS.get(key.lower())
    if norm is None:
        return None
    if isinstance(value, list):
        texts = [compact(v) for v in value if v is not None and v != ""]
        if not texts:
            return None
        return UserField(norm, name, all(map(looks_hashed, texts)), ",".join(texts))
    if value is None or value == "":
        return None
    text = compact(value)
    return UserField(norm, name, looks_hashed(text), text)


def mask_secret(value: str) -> str:
    """Access tokens are never shown or written in full: keep a recognisable prefix only."""
    return value[:6] + "…" if len(value) > 10 else "…"


# Salvaging broken JSON: how many cut points are tried, and how deep a document may be.
_SALVAGE_CUTS = 24
_SALVAGE_DEPTH = 64
_CLOSER = {"{": "}", "[": "]"}


def parse_json_lenient(text: str, errors: Errors, what: str = "JSON") -> Any:
    """Parsed JSON; a truncated or broken document yields its longest readable prefix, closed.

    Beacons cut at a size limit and hand-built JSON-in-a-query-param (Pinterest `ed`) break in
    the middle: decode what came before the break, and say so.
    """
    try:
        return without_lone_surrogates(json.loads(text), text)
    except RecursionError:
        errors.add(f"{what} is nested too deeply")
        return None
    except ValueError as e:
        reason = str(e)[:80]
    value = without_lone_surrogates(_salvage_json(text), text)
    if value is None:
        errors.add(f"{what} is not valid JSON ({reason})")
    else:
        errors.add(f"{what} is truncated or invalid JSON ({reason}); decoded what could be decoded")
    return value


def _salvage_json(text: str) -> Any:
    """Close the open strings/containers at the end, or cut at the last separators before the break."""
    stack: list[str] = []
    cuts: deque[tuple[int, str]] = deque(maxlen=_SALVAGE_CUTS)  # (cut position, closers to append)
    in_string = escaped = False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in _CLOSER:
            stack.append(_CLOSER[ch])
            if len(stack) > _SALVAGE_DEPTH:
                return None
        elif ch in "}]":
            if not stack or stack[-1] != ch:  # a mismatched closer: the document breaks here
                cuts.append((i, "".join(reversed(stack))))
                break
            stack.pop()
            cuts.append((i + 1, "".join(reversed(stack))))
        elif ch == ",":
            cuts.append((i, "".join(reversed(stack))))
    else:  # ran to the end: close what is open (a dangling escape is dropped)
        end = len(text) - escaped
        cuts.append((end, ('"' if in_string else "") + "".join(reversed(stack))))
    for end, closers in reversed(cuts):
        try:
            return json.loads(text[:end] + closers)
        except (ValueError, RecursionError):
            continue
    return None


# ---------------------------------------------------------------- server-side event batches
# Conversions APIs (Meta, Snapchat v3, Pinterest…) post a JSON list of event objects; each vendor
# keeps the same few facts at its own paths. An EventShape says where; shaped_event reads one
# object; decode_server_batch turns a whole request into one TrackingEvent per element.

JsonPath = tuple[str | int, ...]


def first_present(obj: Any, paths: Iterable[JsonPath]) -> Any:
    """The value at the first path that holds something; None when none does."""
    for path in paths:
        value = _at_path(obj, path)
        if not is_blank(value):
            return value
    return None


def is_blank(value: Any) -> bool:
    """None, "", [] or {}: a field sent empty counts as absent (0 and false are values)."""
    return value is None or (not value and isinstance(value, (str, list, dict)))


def text_or_none(value: Any) -> str | None:
    """A wire value as the string it was sent as; None when absent or empty."""
    return None if value is None or value == "" else compact(value)


# The param that says an event's page URL is its hit's Referer header: often the origin only (the
# browsers' default policy for requests to other sites), so the detail pane names the source.
REFERER_PARAM = Param("Referer", "", "Page URL (from the Referer header, often the origin only)", "Page context")


def page_or_referer(page: str | None, hit: RawHit) -> tuple[str | None, list[Param]]:
    """The page URL the payload names, else the hit's Referer with a REFERER_PARAM marking it."""
    if page or not (referer := hit.header("referer")):
        return page or None, []
    return referer, [REFERER_PARAM._replace(value=referer)]


def item_ids(ids: Any, items: Any, errors: Errors, key: str = "id") -> list[str]:
    """Content ids: from an ids field (a list, a JSON-array string or one value), else from a
    list of item objects (or a JSON string of one) carrying the id under `key`."""
    if isinstance(ids, str):
        ids = json_list(ids, errors, "content ids")
    if isinstance(ids, list):
        return [compact(i) for i in ids if i not in (None, "")]
    if ids not in (None, ""):
        return [compact(ids)]
    if isinstance(items, str):
        items = json_list(items, errors, "contents")
    if isinstance(items, list):
        return [compact(it[key]) for it in items if isinstance(it, dict) and it.get(key) not in (None, "")]
    return []


def masked(pairs: Iterable[tuple[str, Any]], secrets: Collection[str]) -> list[tuple[str, Any]]:
    """Pairs with secret values (access tokens) masked: they never reach the UI, JSON lines or reports."""
    return [(k, mask_secret(compact(v)) if k in secrets else v) for k, v in pairs]


@dataclass(frozen=True)
class EventShape:
    """Where one API keeps the normalised fields inside an event object (dig paths; first present
    wins). `user` is the path of the object holding user-data keys (() = the event itself, None =
    no user data); `user_keys` maps vendor spellings that USER_KEYS does not know."""

    event: tuple[JsonPath, ...]
    event_id: tuple[JsonPath, ...] = ()
    page_url: tuple[JsonPath, ...] = ()
    value: tuple[JsonPath, ...] = ()
    currency: tuple[JsonPath, ...] = ()
    content_ids: tuple[JsonPath, ...] = ()
    contents: tuple[JsonPath, ...] = ()
    content_key: str = "id"
    order_id: tuple[JsonPath, ...] = ()
    user: JsonPath | None = None
    user_keys: Mapping[str, str] = field(default_factory=dict)


# The event object Meta's Conversions API defined and Pinterest's and Snapchat's v3 APIs copied.
CAPI_STYLE_EVENT = EventShape(
    event=(("event_name",),),
    event_id=(("event_id",),),
    page_url=(("event_source_url",),),
    value=(("custom_data", "value"),),
    currency=(("custom_data", "currency"),),
    content_ids=(("custom_data", "content_ids"),),
    contents=(("custom_data", "contents"),),
    order_id=(("custom_data", "order_id"),),
    user=("user_data",),
)

# Labels of the fields that event object shares across those APIs; vendors add their own.
CAPI_STYLE_KEYS = {
    "event_name": ("Event name", "Event"),
    "event_time": ("Event time (s)", "Event"),
    "event_id": ("Event ID (dedup key)", "Event"),
    "action_source": ("Action source", "Event"),
    "event_source_url": ("Page URL", "Page context"),
    "data_processing_options": ("Data processing options", "Consent"),
    "access_token": ("Access token (masked)", "Technical"),
    "custom_data.value": ("Value", "Custom data"),
    "custom_data.currency": ("Currency", "Custom data"),
    "custom_data.content_ids": ("Content IDs", "Custom data"),
    "custom_data.contents": ("Contents", "Custom data"),
    "custom_data.order_id": ("Order ID", "Custom data"),
    "custom_data.num_items": ("Number of items", "Custom data"),
    "user_data.em": ("Email (hashed)", "User data"),
    "user_data.ph": ("Phone (hashed)", "User data"),
    "user_data.client_ip_address": ("Client IP address", "User data"),
    "user_data.client_user_agent": ("Client user agent", "User data"),
}
CAPI_STYLE_FAMILIES = {"custom_data": ("Custom data", "Custom: "), "user_data": ("User data", "User data: "),
                       "app_data": ("App data", "App data: ")}


def shaped_event(item: Any, shape: EventShape, labels: Labels, prefix: str = "") -> dict[str, Any]:
    """TrackingEvent fields of one event object; the caller adds platform, source, pixel id,
    standard event, and the request's shared params and errors. Params are named by their dotted
    path, under `prefix` when the list sits in a named field (`custom_events._eventName`)."""
    errors = Errors()
    if not isinstance(item, dict):
        errors.add(f"event is not a JSON object but {compact(item)[:40]!r}")
        item = {}
    event = text_or_none(first_present(item, shape.event))
    if event is None:
        errors.add(f"no event name ({'.'.join(map(str, shape.event[0]))})")
    user = []
    if shape.user is not None and isinstance(user_obj := _at_path(item, shape.user), dict):
        user_prefix = "".join(f"{key}." for key in shape.user)
        aliases = shape.user_keys
        for k, v in user_obj.items():
            if uf := user_field(f"{user_prefix}{k}", aliases.get(k, k), v):
                user.append(uf)
    return {
        "event": event,
        "event_id": text_or_none(first_present(item, shape.event_id)),
        "page_url": text_or_none(first_present(item, shape.page_url)),
        "value": text_or_none(first_present(item, shape.value)),
        "currency": text_or_none(first_present(item, shape.currency)),
        "content_ids": item_ids(first_present(item, shape.content_ids), first_present(item, shape.contents),
                                errors, shape.content_key),
        "order_id": text_or_none(first_present(item, shape.order_id)),
        "params": labels.params(flatten(item, prefix)) if item else [],
        "user_data": user,
        "decode_errors": list(errors),
    }


@dataclass(frozen=True)
class ServerBatch:
    """One server-side API: where its event list is, how an event reads, how names map."""

    platform: str
    events: JsonPath  # path of the event list in the body; () = the body is the list (or one event)
    shape: EventShape
    labels: Labels
    standard_event: Callable[[str], str | None]  # wire event name → canonical name
    endpoint: str
    test_code: tuple[str, ...] = ()  # shared (query/body) params naming a test run
    secrets: frozenset[str] = frozenset({"access_token"})
    pixel: tuple[JsonPath, ...] = ()  # per-event pixel id paths, when the URL has none


_FALSE = ("", "0", "false", "False")


def decode_server_batch(hit: RawHit, batch: ServerBatch, pixel_id: str | None) -> list[TrackingEvent]:
    """One TrackingEvent per element of the request's event list (a JSON body, or a form whose
    field named like the list holds the JSON). Query and other top-level fields are shared params."""
    errors = Errors()
    shared = parse_qs_pairs(hit.query, errors)
    form, body = body_form_or_json(hit, errors)
    list_name = ".".join(map(str, batch.events))
    if form:
        fields = dict(form)
        if body is None and len(batch.events) == 1 and list_name in fields:
            body = {list_name: parse_json(fields[list_name], errors, f"form field {list_name}")}
        shared += [(k, v) for k, v in form if k != list_name]
    if isinstance(body, dict) and batch.events:  # top-level fields beside the list
        shared += [(k, v) for k, v in flatten(body) if k != list_name]
    shared = masked(shared, batch.secrets)
    values = dict(shared)
    test_code = next((compact(values[n]) for n in batch.test_code if compact(values.get(n)) not in _FALSE), None)

    items = ([body] if isinstance(body, dict) else body) if not batch.events else dig(body, *batch.events)
    common = dict(platform=batch.platform, source=Source.server, test_event_code=test_code, endpoint=batch.endpoint)
    if not isinstance(items, list) or not items:
        errors.add(f"no events ({list_name or 'body'} is not a non-empty list)")
        return [TrackingEvent(pixel_id=pixel_id, params=batch.labels.params(shared), decode_errors=list(errors),
                              **common)]  # still one event: the hit carries its errors
    shared_params = batch.labels.params(shared)
    events = []
    for item in items:
        item_errors = Errors(errors)
        # facebook-business sends each event of `data` as a JSON string of its own: ["{\"event_name\": …}"].
        if isinstance(item, str) and item.lstrip().startswith("{"):
            parsed = parse_json(item, item_errors, "event")
            item = item if parsed is None else parsed
        fields = shaped_event(item, batch.shape, batch.labels)
        event = fields.pop("event")
        fields["params"] = shared_params + fields["params"]
        fields["decode_errors"] = list(item_errors) + fields["decode_errors"]
        events.append(TrackingEvent(
            event=event, standard_event=batch.standard_event(event) if event else None,
            pixel_id=pixel_id or text_or_none(first_present(item, batch.pixel)), **fields, **common))
    return events


# ---------------------------------------------------------------- lone surrogates
# JSON may escape half of a surrogate pair ("\ud83d": a JS string cut inside an emoji); json.loads
# keeps it as a str that no UTF-8 output (JSON lines, HAR, the terminal) can write.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(value: Any, text: str) -> Any:
    """Parsed JSON with lone surrogates replaced by U+FFFD (in place, without recursion); only
    documents whose text escapes a surrogate are walked."""
    if not _SURROGATE_ESCAPE.search(text):
        return value
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    stack = [value]
    while stack:
        node = stack.pop()
        items = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(node, list) else []
        for key, v in items:
            if isinstance(v, (dict, list)):
                stack.append(v)
            elif isinstance(v, str) and _LONE_SURROGATE.search(v):
                node[key] = _LONE_SURROGATE.sub("\ufffd", v)
            if isinstance(key, str) and _LONE_SURROGATE.search(key):
                node[_LONE_SURROGATE.sub("\ufffd", key)] = node.pop(key)
    return value


def _fold(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def folded_lookup(table: Mapping[str, str]) -> Callable[[str | None], str | None]:
    """A standard-event lookup that ignores case, underscores and spaces (`add_to_cart`,
    `ADD_CART`, `AddToCart` all meet)."""
    folded = {_fold(k): v for k, v in table.items()}
    return lambda name: folded.get(_fold(name or ""))
