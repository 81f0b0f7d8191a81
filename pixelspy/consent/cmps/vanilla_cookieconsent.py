"""vanilla-cookieconsent `cc_cookie`: URL-encoded JSON listing the accepted categories — v3
{"categories": [...], "lastConsentTimestamp": ISO time}, v2 {"level": [...]}."""

from __future__ import annotations

from datetime import datetime

from pixelspy.consent.cmps.common import url_json
from pixelspy.consent.cmps.names import purpose_of_name
from pixelspy.consent.reading import Reading
from pixelspy.consent.table import PURPOSES


def _iso_time(value) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def parse_cc_cookie(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    data = url_json(value)
    accepted = data.get("categories", data.get("level")) if isinstance(data, dict) else None
    if not isinstance(accepted, list):
        return None
    names = [c for c in accepted if isinstance(c, str)]
    granted = {purpose_of_name(c) for c in names}
    purposes = {p: p in granted for p in PURPOSES}
    return Reading(name, f"{name} categories {','.join(names) or '(none)'}", purposes,
                   choice_time=_iso_time(data.get("lastConsentTimestamp")))
