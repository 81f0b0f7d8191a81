"""Didomi `didomi_token`: base64 JSON {"purposes": {"enabled": [...], "disabled": [...]}}; the purpose
ids that mean marketing / analytics are in cmps.toml."""

from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import unquote

from pixelspy.consent.reading import Reading
from pixelspy.consent.table import PURPOSES


def _b64_json(value: str):
    raw = unquote(value).strip()
    try:
        data = base64.urlsafe_b64decode(raw.replace("+", "-").replace("/", "_") + "=" * (-len(raw) % 4))
        return json.loads(data)
    except (binascii.Error, ValueError, RecursionError):
        return None


def parse_didomi(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    data = _b64_json(value)
    block = data.get("purposes") if isinstance(data, dict) else None
    if not isinstance(block, dict):
        return None
    enabled = {str(x) for x in block.get("enabled") or [] if isinstance(x, str)}
    disabled = {str(x) for x in block.get("disabled") or [] if isinstance(x, str)}
    purposes = {}
    for p in PURPOSES:
        ids = set(entry.get(p, ()))
        if ids & disabled:
            purposes[p] = False
        elif ids & enabled:
            purposes[p] = True
    if not purposes:
        return None
    return Reading(name, f"{name} purposes enabled: {', '.join(sorted(enabled)) or 'none'}", purposes)
