"""Body and query helpers shared by the decoders.

Every helper is total: bad input (broken percent-encoding, invalid UTF-8, truncated gzip, garbage
JSON, huge bodies) comes back as an error string the decoder attaches to its event, never as an
exception.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl

from pixelspy.model import Param, RawHit, UserField, looks_hashed

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


def parse_qs_pairs(qs: str, errors: Errors, what: str = "query") -> list[tuple[str, str]]:
    """Ordered (name, value) pairs; names keep their brackets (`cd[value]`), blanks are kept."""
    if not qs:
        return []
    if re.search(r"%(?![0-9A-Fa-f]{2})", qs):
        errors.add(f"{what} has broken percent-encoding; decoded what could be decoded")
    pairs = parse_qsl(qs, keep_blank_values=True, errors="replace")
    if any("\ufffd" in k or "\ufffd" in v for k, v in pairs):
        errors.add(f"{what} has percent-encoded bytes that are not UTF-8")
    return pairs


def decode_content_encoding(body: bytes, encoding: str, errors: Errors) -> bytes:
    encoding = encoding.strip().lower()
    if not encoding or encoding == "identity" or not body:
        return body
    if encoding in ("gzip", "x-gzip", "deflate"):
        return inflate(body, errors, what=f"{encoding} body")
    errors.add(f"content-encoding {encoding!r} is not decoded")
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
        return json.loads(text)
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


def compact(value: Any) -> str:
    """A JSON value as one string, the way it would be shown or compared."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def flatten(obj: Any, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, Any]]:
    """Dotted (name, value) leaves of a JSON object. Lists stay whole values (shown as JSON)."""
    if isinstance(obj, Mapping) and obj and depth < MAX_FLATTEN_DEPTH:
        for k, v in obj.items():
            yield from flatten(v, f"{prefix}.{k}" if prefix else str(k), depth + 1)
    else:
        yield prefix, obj


def dig(obj: Any, *path: str | int, default: Any = None) -> Any:
    """obj[path[0]][path[1]]… or default when anything on the way is missing or of another type."""
    for key in path:
        if isinstance(obj, Mapping) and isinstance(key, str):
            obj = obj.get(key)
        elif isinstance(obj, list) and isinstance(key, int) and -len(obj) <= key < len(obj):
            obj = obj[key]
        else:
            return default
        if obj is None:
            return default
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

    def param(self, name: str, value: Any) -> Param:
        text = compact(value)
        if name in self.keys:
            label, group = self.keys[name]
            return Param(name=name, value=text, label=label, group=group)
        family, member = split_family(name)
        if family is not None:
            for prefix in (family, family + "."):
                if prefix in self.families:
                    group, label_prefix = self.families[prefix]
                    return Param(name=name, value=text, label=f"{label_prefix}{member}", group=group)
        return Param(name=name, value=text, label=name, group=self.default_group)

    def params(self, pairs: Iterable[tuple[str, Any]]) -> list[Param]:
        return [self.param(k, v) for k, v in pairs]


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
    values = value if isinstance(value, list) else [value]
    text = ",".join(compact(v) for v in values if v not in (None, ""))
    if not text:
        return None
    hashed = all(looks_hashed(compact(v)) for v in values if v not in (None, ""))
    return UserField(key=norm, name=name, hashed=hashed, value=text)


def mask_secret(value: str) -> str:
    """Access tokens are never shown or written in full: keep a recognisable prefix only."""
    return value[:6] + "…" if len(value) > 10 else "…"
