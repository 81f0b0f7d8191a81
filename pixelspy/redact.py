"""Redaction of secrets and personal data in anything shown or written for sharing."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Headers whose values are credentials or identify the user.
SECRET_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization", "access-token",
                            "x-access-token", "x-api-key"})
REDACTED = "[redacted]"

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Phone numbers in E.164-ish form (+49 170 1234567, 0049…); plain digit runs are left alone.
PHONE = re.compile(r"(?<![\w%])(?:\+|%2B|00)\d[\d ().-]{7,16}\d(?!\w)")
TOKEN_PARAM = re.compile(r"((?:access_token|access-token|token)(?:=|\"\s*:\s*\"))[^&\"\s]+", re.I)


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, REDACTED if k.lower() in SECRET_HEADERS else v) for k, v in headers]


def redact_text(text: str) -> str:
    """Access tokens, plain emails and phone numbers in a URL, body or value."""
    text = TOKEN_PARAM.sub(lambda m: m.group(1) + REDACTED, text)
    text = EMAIL.sub(REDACTED, text)
    return PHONE.sub(REDACTED, text)
