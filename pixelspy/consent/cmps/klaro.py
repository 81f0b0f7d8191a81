"""Klaro `klaro`: URL-encoded JSON of the site's services, {"google-analytics": true, "facebook-pixel": false}."""

from __future__ import annotations

from pixelspy.consent.cmps.common import url_json
from pixelspy.consent.cmps.names import services_reading
from pixelspy.consent.reading import Reading


def parse_klaro(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    data = url_json(value)
    if not isinstance(data, dict):
        return None
    choices = {k: v for k, v in data.items() if isinstance(v, bool)}
    return services_reading(name, choices, " ".join(f"{k}:{str(v).lower()}" for k, v in choices.items()))
