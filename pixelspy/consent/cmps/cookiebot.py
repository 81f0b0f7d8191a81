"""Cookiebot `CookieConsent`: a JavaScript object literal {necessary:true,marketing:false,…,utc:…},
or -1 where the visitor's region needs no consent."""

from __future__ import annotations

import re
from urllib.parse import unquote

from pixelspy.consent.reading import Reading
from pixelspy.consent.table import PURPOSES

_JS_BOOL = re.compile(r"\b(\w+)\s*:\s*(true|false)")  # \b: linear on long words
_JS_UTC = re.compile(r"utc\s*:\s*(\d{10,13})")


def parse_cookiebot(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    text = unquote(value).strip()
    if text == "-1":  # Cookiebot: consent not required in the visitor's region
        return Reading(name, f"{name}=-1 (consent not required in the visitor's region)",
                       dict.fromkeys(PURPOSES, True))
    flags = {k: v == "true" for k, v in _JS_BOOL.findall(text)}
    purposes = {p: flags[k] for p, k in (("marketing", "marketing"), ("analytics", "statistics")) if k in flags}
    if not purposes:
        return None
    utc = _JS_UTC.search(text)
    return Reading(name, f"{name} marketing:{str(flags.get('marketing', '?')).lower()} "
                         f"statistics:{str(flags.get('statistics', '?')).lower()}",
                   purposes, choice_time=int(utc.group(1)) / 1000 if utc else None)
