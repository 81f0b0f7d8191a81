"""Request bodies: content-encoding undone (bounded), then read as the vendors send them."""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any

from pixelspy import bounded
from pixelspy.model import RawHit

from .json_values import parse_json
from .query import parse_multipart, parse_qs_pairs
from .text import Errors, to_text

# Tracking bodies are a few KB; anything this large is not decoded (the hit is still listed).
MAX_DECODE_BYTES = 2 * 1024 * 1024


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
    if not body and not hit.body_truncated:  # (most hits are GETs: nothing to read or report)
        return body
    if hit.body_truncated:
        errors.add("body was larger than the stored size; decoded the stored part")
    if len(body) > MAX_DECODE_BYTES:
        errors.add(f"body is {len(body)} bytes; only the first {MAX_DECODE_BYTES} are decoded")
        body = body[:MAX_DECODE_BYTES]
    return decode_content_encoding(body, hit.header("content-encoding"), errors)


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
