"""IAB TCF v2 TC strings (IAB Europe), written by every TCF CMP: the `euconsent-v2` cookie, and
`gdpr=1&gdpr_consent=` on hits. Decoded with `iab-tcf`; a purpose is granted when all its TCF
purposes (cmps.toml [tcf]) have consent."""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from urllib.parse import unquote

import iab_tcf

from pixelspy.consent.reading import Reading
from pixelspy.consent.table import PURPOSES, TABLE

# Core segment: fixed fields up to PublisherCC (213 bits) + the vendor-consent header (17 bits).
_MIN_CORE_BITS = 230
_CHARS = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
TCF_PURPOSES = {p: tuple(TABLE["tcf"][p]) for p in PURPOSES}


def tcf_purposes(tc_string: str) -> tuple[dict[int, bool], int] | None:
    """Consented TCF purposes and the CMP id of a TCF v2 TC string, or None when it is not one."""
    tc_string = unquote(tc_string).strip()
    if not _CHARS.fullmatch(tc_string):  # base64 decoding would silently skip foreign characters
        return None
    core = tc_string.split(".", 1)[0]
    try:
        if len(iab_tcf.base64_decode(core)) * 8 < _MIN_CORE_BITS:
            return None
        with warnings.catch_warnings():  # iab_tcf uses datetime.utcfromtimestamp (deprecated in 3.12)
            warnings.simplefilter("ignore", DeprecationWarning)
            consent = iab_tcf.decode(tc_string)
    except Exception:  # noqa: BLE001 - iab_tcf raises bare Exception / binascii / index errors on garbage
        return None
    if getattr(consent, "version", None) != 2:
        return None
    return dict(consent.purposes_consent), consent.cmp_id


# The hits of a page repeat their consent strings: readings are cached (and never modified).
@lru_cache(maxsize=256)
def tcf_reading(source: str, tc_string: str) -> Reading | None:
    decoded = tcf_purposes(tc_string)
    if decoded is None:
        return None
    consented, cmp_id = decoded
    purposes = {p: all(consented.get(i, False) for i in ids) for p, ids in TCF_PURPOSES.items()}
    on = ",".join(str(i) for i, ok in sorted(consented.items()) if ok) or "none"
    return Reading(source, f"{source} TCF purposes consented: {on} (CMP id {cmp_id})", purposes)


def parse_tcf(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    return tcf_reading(name, value)
