"""Site-defined category and service names ("marketing", "facebook-pixel", "gtag"…) mapped to a
purpose by the keywords of cmps.toml [names]: for vanilla-cookieconsent, Klaro and tarteaucitron."""

from __future__ import annotations

from pixelspy.consent.reading import Reading
from pixelspy.consent.table import PURPOSES, TABLE

NAME_WORDS = {p: tuple(TABLE["names"][p]) for p in PURPOSES}


def purpose_of_name(name: str) -> str | None:
    """Purpose of a site-defined category or service name ("marketing", "facebook-pixel"…)."""
    low = name.lower()
    for p in PURPOSES:
        if any(w in low for w in NAME_WORDS[p]):
            return p
    return None


def services_reading(name: str, choices: dict[str, bool], shown: str) -> Reading | None:
    """Per-service choices: a purpose is granted when all its services are, denied when any is not."""
    by_purpose: dict[str, list[bool]] = {}
    for service, ok in choices.items():
        if (p := purpose_of_name(service)) is not None:
            by_purpose.setdefault(p, []).append(ok)
    purposes = {p: all(v) for p, v in by_purpose.items()}
    return Reading(name, f"{name} {shown}", purposes) if purposes else None
