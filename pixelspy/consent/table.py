"""The consent table (cmps.toml) and the purposes pixelspy judges hits against."""

from __future__ import annotations

import tomllib
from functools import cache, lru_cache
from pathlib import Path

TABLE = tomllib.loads((Path(__file__).parent / "cmps.toml").read_text(encoding="utf-8"))

PURPOSES = ("marketing", "analytics")


def _purpose_overrides() -> dict[str, list[tuple[str, str]]]:
    """platform → [(pixel ID prefix, purpose)], in table order."""
    out: dict[str, list[tuple[str, str]]] = {}
    for o in TABLE["platform_override"]:
        out.setdefault(o["platform"], []).append((o["pixel_id_prefix"], o["purpose"]))
    return out


PURPOSE_OVERRIDES = _purpose_overrides()


@lru_cache(maxsize=1024)  # called for every event; a session has a few pixels
def purpose_of(platform: str, pixel_id: str | None) -> str | None:
    """The consent purpose a vendor's pixel needs ("marketing", "analytics"), None for none."""
    for prefix, purpose in PURPOSE_OVERRIDES.get(platform, ()):
        if (pixel_id or "").startswith(prefix):
            return purpose
    return TABLE["platforms"].get(platform)


@cache
def consent_cookies() -> tuple[frozenset[str], tuple[str, ...]]:
    """Names and name prefixes of the table's consent cookies (CMPs' and signals'): a saved HAR file
    keeps their values, being choices rather than identities, so consent verdicts survive."""
    entries = [c for group in ("cmp", "signal") for e in TABLE[group] for c in e.get("cookies", [])]
    names = {n for c in entries for n in (c.get("name"), c.get("sid_cookie")) if n}
    return frozenset(names), tuple(c["prefix"] for c in entries if "prefix" in c)
