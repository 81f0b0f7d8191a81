"""Query strings and form bodies: URL-encoded pairs (the decoders' hottest loop) and multipart forms."""

from __future__ import annotations

import binascii
import re
from urllib.parse import unquote

from .text import Errors, to_text

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
    a2b_qp = binascii.a2b_qp
    pairs = []
    not_utf8 = False
    for chunk in qs.split("&"):
        if not chunk:
            continue
        name, _, value = chunk.partition("=")
        if "%" in name:
            name = unquote_lossy(name)
            not_utf8 = not_utf8 or "\ufffd" in name
        if "%" in value:  # (_qp_unquote inlined: the loop's most frequent call)
            value = (a2b_qp(value.replace("%", "=")).decode("utf-8", "replace") if fast and "=" not in value
                     else unquote(value, errors="replace"))
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
