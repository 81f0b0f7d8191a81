"""IAB US Privacy string (CCPA, version 1): the `usprivacy` cookie, `us_privacy` on hits, and GPP's
section 6. Four characters: the version `1`, then notice given, opted out of sale, covered by the
LSPA, each `Y`, `N` or `-` (not applicable): `1YNN`, `1YYY`, `1---`.

The US laws are opt-out: an opt-out of sale denies marketing, `N` (no opt-out) grants it, and `-`
says nothing. A string that is not one of these is no reading: nothing is guessed from it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote

from pixelspy.consent.reading import Reading

_US_PRIVACY = re.compile(r"1[YN-]{3}")
_OPT_OUT = {"Y": ("opted out of sale", False), "N": ("did not opt out of sale", True)}


@lru_cache(maxsize=256)  # every hit of a page repeats the string
def usprivacy_reading(source: str, value: str) -> Reading | None:
    v = unquote(value).strip().upper()
    if not _US_PRIVACY.fullmatch(v):
        return None
    said = _OPT_OUT.get(v[2])
    if said is None:
        return Reading(source, f"{source}={v} (US Privacy: opt-out of sale not applicable)")
    text, granted = said
    return Reading(source, f"{source}={v} (US Privacy: {text})", {"marketing": granted})


def parse_usprivacy(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    return usprivacy_reading(name, value)
