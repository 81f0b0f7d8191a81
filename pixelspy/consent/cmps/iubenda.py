"""iubenda `_iub_cs-<site id>`: URL-encoded JSON {"purposes": {"4": true, "5": false}} (per-purpose), or
{"consent": true} from older per-site set-ups."""

from __future__ import annotations

from pixelspy.consent.cmps.common import url_json
from pixelspy.consent.reading import Reading
from pixelspy.consent.table import PURPOSES


def parse_iubenda(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    data = url_json(value)
    if not isinstance(data, dict):
        return None
    ids = entry.get("purposes", {"marketing": "5", "analytics": "4"})
    given = data.get("purposes")
    if isinstance(given, dict):
        purposes = {p: given[i] for p, i in ids.items() if isinstance(given.get(i), bool)}
        shown = " ".join(f"{i}:{str(given[i]).lower()}" for p, i in ids.items() if p in purposes)
    elif isinstance(data.get("consent"), bool):  # older per-site (not per-purpose) consent
        purposes = dict.fromkeys(PURPOSES, data["consent"])
        shown = f"consent:{str(data['consent']).lower()}"
    else:
        return None
    return Reading(name, f"{name} purposes {shown}", purposes) if purposes else None
