"""CookieYes `cookieyes-consent`: comma-separated key:value pairs (advertisement:yes, analytics:no,
action:yes once the visitor acted)."""

from __future__ import annotations

from urllib.parse import unquote

from pixelspy.consent.cmps.common import key_values
from pixelspy.consent.reading import Reading


def parse_cookieyes(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    fields = key_values(unquote(value), ",", ":")
    purposes = {p: fields[k] == "yes" for p, k in (("marketing", "advertisement"), ("analytics", "analytics"))
                if fields.get(k) in ("yes", "no")}
    if not purposes:
        return None
    chose = fields.get("action") == "yes"
    shown = " ".join(f"{k}:{fields[k]}" for k in ("advertisement", "analytics") if k in fields)
    return Reading(name, f"{name} {shown}" + ("" if chose else " (no action yet)"), purposes, choice=chose)
