"""Cookies that hold one flag (Complianz `cmplz_marketing=allow`, CookieYes `cookieyes-advertisement=yes`,
the open-source cookieconsent `cookieconsent_status=deny`), and opaque cookies whose presence alone
says a choice was made (Usercentrics, Osano)."""

from __future__ import annotations

from urllib.parse import unquote

from pixelspy.consent.reading import Parser, Reading
from pixelspy.consent.table import PURPOSES


def flag_parser(yes: str, no: str) -> Parser:
    """A parser for a cookie that is `yes` or `no`, for the entry's `purpose` ("all": every purpose)."""
    def parse(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
        v = unquote(value).strip().lower()
        if v not in (yes, no):
            return None
        targets = PURPOSES if entry.get("purpose", "all") == "all" else (entry["purpose"],)
        return Reading(name, f"{name}={v}", dict.fromkeys(targets, v == yes))
    return parse


def parse_presence(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    """An opaque CMP cookie: a choice was made, its content is not readable."""
    return Reading(name, f"{name} present (a choice was made; its content is not readable)")
