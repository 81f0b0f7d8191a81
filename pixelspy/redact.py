"""Redaction of secrets and personal data in anything shown or written for sharing.

Personal data hides behind percent-encoding: an email in a page URL arrives in a pixel's `dl` parameter
encoded twice (`alice%2540shop.com`). Text is therefore searched percent-decoded (up to DECODE_ROUNDS
times) and replaced where the match stands in the text as written (see `redacted`).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping

# Headers whose values are credentials or identify the user.
SECRET_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization", "access-token",
                            "x-access-token", "x-api-key"})
REDACTED = "[redacted]"

# Conversions API access tokens in a query, form or JSON body.
TOKEN = re.compile(r"(?<![A-Za-z0-9_])(access_token|access-token)(=|\"\s*:\s*\")([^&\"\s]+)", re.I)
# Emails and phone numbers as they read percent-decoded: `dl=…%3Fem%3Djohn%40shop.com` reads
# `dl=…?em=john@shop.com`. Character classes repeated, not groups: a group repeated over a 4 MB body
# costs the regex engine hundreds of MB.
EMAIL = re.compile(r"(?<![A-Za-z0-9._+-])[A-Za-z0-9._+-]+@[A-Za-z0-9-][A-Za-z0-9.-]*\.[A-Za-z]{2,}")
# International phone numbers (+49 170 1234567); bare digit runs are IDs and timestamps far more
# often, so they are redacted only as known values (pixelspy.har: the user data of the events).
PHONE = re.compile(r"(?<![\w%])\+\d(?:[\d(). -]|\+(?=\d)){7,20}\d(?!\w)")
# A percent-escape, perhaps escaped again (%2540 is %40 is @), or a word character.
_MASK = re.compile(r"%(?:25)*([0-9A-Fa-f]{2})|\w")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# Percent-decoding rounds before matching: a page URL inside a pixel URL arrives encoded twice, a
# redirect's inside that three times.
DECODE_ROUNDS = 4

# (text as written, is it a credential) → what replaces it.
Replace = Callable[[str, bool], str]


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, REDACTED if k.lower() in SECRET_HEADERS else v) for k, v in headers]


def redact_text(text: str) -> str:
    """Access tokens, plain emails and phone numbers in a URL, body or value."""
    return redacted(text, {}, lambda part, credential: REDACTED)


def mask(text: str) -> str:
    """Same shape, no content: letters → x/X, digits → 0; punctuation and escapes of punctuation
    (%40, %2540) stay, so the text still decodes to the same shape however often it is decoded."""
    def one(m: re.Match[str]) -> str:
        c = m.group()
        if m.group(1):
            byte = int(m.group(1), 16)
            if byte < 0x80 and not chr(byte).isalnum():
                return c
            c = chr(byte) if byte < 0x80 else "x"  # a byte of a UTF-8 letter
        if c == "_":
            return c
        if c.isdigit():
            return "0"
        return "X" if c.isupper() else "x"
    return _MASK.sub(one, text)


def redacted(s: str, secrets: Mapping[str, bool], replace: Replace) -> str:
    """`s` with the `secrets` (value → is a credential), access tokens (credentials), emails and phone
    numbers replaced by `replace`: found in `s` percent-decoded, replaced in `s` as written."""
    u = Unescaped(s) if "%" in s else None  # (most strings have no escape: the quick way)
    t = u.text if u else s
    spans = []
    for secret, credential in secrets.items():
        i = t.find(secret)
        while i >= 0:
            spans.append((i, i + len(secret), credential))
            i = t.find(secret, i + len(secret))
    spans += [(*m.span(3), True) for m in TOKEN.finditer(t)]
    for rx, mark in ((EMAIL, "@"), (PHONE, "+")):
        if mark in t:
            spans += [(*m.span(), False) for m in rx.finditer(t)]
    if not spans:
        return s
    if u:
        spans = [(u.original(a), u.original(b), c) for a, b, c in spans]
    out, last = [], 0
    for start, end, credential in _merged(spans):
        out += (s[last:start], replace(s[start:end], credential))
        last = end
    out.append(s[last:])
    return "".join(out)


class Unescaped:
    """`text` with its percent-escapes undone, up to DECODE_ROUNDS times, and the way back from a
    position there to one in the original. Escaped bytes become the characters of the same number
    (Latin-1): what is looked for is ASCII."""

    def __init__(self, original: str):
        self.text = original
        # Per round: where, in that round's result, the characters that were escapes stand.
        self._rounds: list[list[int]] = []
        while "%" in self.text and len(self._rounds) < DECODE_ROUNDS:
            parts, at, last = [], [], 0
            for m in _ESCAPE.finditer(self.text):
                parts += (self.text[last:m.start()], chr(int(m.group(1), 16)))
                at.append(m.start() - 2 * len(at))
                last = m.end()
            if not at:
                break
            parts.append(self.text[last:])
            self.text = "".join(parts)
            self._rounds.append(at)

    def original(self, i: int) -> int:
        """Where the character at `i` (or the end, at len(text)) starts in the original."""
        for at in reversed(self._rounds):
            i += 2 * bisect_left(at, i)
        return i


def _merged(spans: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    """Overlapping (start, end, credential) spans as one; a credential makes its union one."""
    merged: list[tuple[int, int, bool]] = []
    for start, end, credential in sorted(spans):
        if merged and start < merged[-1][1]:
            s0, e0, c0 = merged[-1]
            merged[-1] = (s0, max(e0, end), c0 or credential)
        else:
            merged.append((start, end, credential))
    return merged
