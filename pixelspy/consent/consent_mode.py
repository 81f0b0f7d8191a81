"""Google consent mode, carried by Google's own hits: gcs=G1xy (x = ad_storage, y = analytics_storage,
1 = granted) and gcd (v2: one letter per signal; cmps.toml [google_consent] says which letters grant)."""

from __future__ import annotations

import re
from functools import lru_cache

from pixelspy.consent.reading import Reading
from pixelspy.consent.table import TABLE

GCD_GRANTED = frozenset(TABLE["google_consent"]["gcd_granted"])
GCD_DENIED = frozenset(TABLE["google_consent"]["gcd_denied"])
_GCS = re.compile(r"G1([01])([01])")


# The hits of a page repeat their consent strings: readings are cached (and never modified).
@lru_cache(maxsize=256)
def parse_gcs(value: str) -> Reading | None:
    m = _GCS.fullmatch(value.strip())
    if not m:
        return None
    ad, analytics = m.group(1) == "1", m.group(2) == "1"
    return Reading("gcs", f"Google consent mode gcs={value.strip()} (ad_storage "
                          f"{'granted' if ad else 'denied'}, analytics_storage {'granted' if analytics else 'denied'})",
                   {"marketing": ad, "analytics": analytics})


@lru_cache(maxsize=256)
def parse_gcd(value: str) -> Reading | None:
    letters = re.findall(r"[a-z]", value.strip())
    if len(letters) < 2:
        return None
    purposes = {}
    for p, letter in zip(("marketing", "analytics"), letters[:2]):  # ad_storage, analytics_storage
        if letter in GCD_GRANTED or letter in GCD_DENIED:
            purposes[p] = letter in GCD_GRANTED
    if not purposes:
        return None
    return Reading("gcd", f"Google consent mode gcd={value.strip()} (ad_storage {letters[0]}, "
                          f"analytics_storage {letters[1]})", purposes)
