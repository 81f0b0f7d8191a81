"""Redaction: one place for what pixelspy hides in what it shows (the TUI's headers) and in the HAR
files it writes for sharing.

Personal data hides behind percent-encoding: an email in a page URL arrives in a pixel's `dl` parameter
encoded twice (`alice%2540shop.com`). Text is therefore searched percent-decoded (up to DECODE_ROUNDS
times) and replaced where the match stands in the text as written (see `redacted`).

In a HAR file redaction keeps the *shape* of what it hides: a plain email becomes `xxxx@xxxx.xxx`, a
phone `+00000000000`, so the checks that flag plain personal data still flag it when the file is
reopened; escapes of punctuation are kept (`xxxxx%2540xxxx.xxx`), so it still decodes to the shape.
Credentials (cookie values, Authorization, access tokens) become `REDACTED`; consent cookies (the CMP
table of consent/cmps.toml) are kept, being choices rather than identities, so consent verdicts survive.
Bodies with a Content-Encoding (gzip, deflate, br, zstd) or of base64-gzip text are redacted inside and
packed again; one that unpacks to more than MAX_REDACTED_BODY is cut there (postData.comment says so).
"""

from __future__ import annotations

import base64
import gzip
import re
import zlib
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import brotli  # mitmproxy dependencies
import zstandard

from pixelspy import bounded
from pixelspy.har.format import MAX_STORED_BODY, changed_hit
from pixelspy.consent.table import consent_cookies
from pixelspy.model import RawHit, TrackingEvent

# ------------------------------------------------------------------------------ shown on the screen

# Headers whose values are credentials or identify the user, and what the screen shows instead.
SHOWN_SECRET_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization",
                                  "access-token", "x-access-token", "x-api-key"})
SHOWN_REDACTED = "[redacted]"


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, SHOWN_REDACTED if k.lower() in SHOWN_SECRET_HEADERS else v) for k, v in headers]


# ------------------------------------------------------------------------ finding what to hide


# Conversions API access tokens in a query, form or JSON body.
TOKEN = re.compile(r"(?<![A-Za-z0-9_])(access_token|access-token)(=|\"\s*:\s*\")([^&\"\s]+)", re.I)
# Emails and phone numbers as they read percent-decoded: `dl=…%3Fem%3Djohn%40shop.com` reads
# `dl=…?em=john@shop.com`. Character classes repeated, not groups: a group repeated over a 4 MB body
# costs the regex engine hundreds of MB.
EMAIL = re.compile(r"(?<![A-Za-z0-9._+-])[A-Za-z0-9._+-]+@[A-Za-z0-9-][A-Za-z0-9.-]*\.[A-Za-z]{2,}")
# International phone numbers (+49 170 1234567); bare digit runs are IDs and timestamps far more
# often, so they are redacted only as known values (EntryRedactor: the user data of the events).
PHONE = re.compile(r"(?<![\w%])\+\d(?:[\d(). -]|\+(?=\d)){7,20}\d(?!\w)")
# A percent-escape, perhaps escaped again (%2540 is %40 is @), or a word character.
_MASK = re.compile(r"%(?:25)*([0-9A-Fa-f]{2})|\w")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# Percent-decoding rounds before matching: a page URL inside a pixel URL arrives encoded twice, a
# redirect's inside that three times.
DECODE_ROUNDS = 4

# (text as written, is it a credential) → what replaces it.
Replace = Callable[[str, bool], str]


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


# --------------------------------------------------------------------------- written to a HAR file

REDACTED = "REDACTED"


def masked(text: str, secrets: Mapping[str, bool] | None = None) -> str:
    """`text` as a redacted HAR file writes it: credentials REDACTED, personal data masked."""
    return redacted(text, secrets or {}, lambda part, credential: REDACTED if credential else mask(part))


# Credentials: the whole value goes (Authorization keeps its scheme word).
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "access-token", "x-access-token",
                            "x-api-key"})
# Plain user-data values replaced wherever they appear. Not IDs, zip codes or dates: as bare numbers
# they would also hit pixel IDs and timestamps that contain them.
PERSONAL_USER_KEYS = frozenset({"em", "ph", "fn", "ln"})


def _is_consent_cookie(name: str) -> bool:
    names, prefixes = consent_cookies()
    return name in names or name.startswith(prefixes)


class EntryRedactor:
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
        return masked(s, self.secrets)

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
        return changed_hit(hit, url=self.text(hit.url), headers=[(k, self.header(k, v)) for k, v in hit.headers],
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


def _body_text(hit: RawHit) -> str:
    return hit.body.decode("utf-8", "replace") if hit.body else ""
