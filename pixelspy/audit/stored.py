"""What the CMP stored after the audit's click, read back from the browser: the site's consent
cookies (through pixelspy's CMP cookie readers), the TCF API's TC string and the GPP API's string
(decoded with pixelspy.consent.tcf / gpp). The audit then judges the hits by what the CMP recorded,
not by what it meant to click, and says so when the two disagree (clicked reject, marketing granted).

Everything read comes from the page: the scripts below return plain strings, cut, and the decoders
treat them as the wire text they are."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pixelspy.consent.gpp import gpp_reading
from pixelspy.consent.readers import read_cookies
from pixelspy.consent.reading import Reading
from pixelspy.consent.tcf import tcf_reading

API_TIMEOUT_S = 1.0  # a CMP API that never calls back
MAX_STRING = 20_000  # characters of a TC or GPP string taken from the page

# __tcfapi('getTCData', 2, cb) and __gpp('ping', cb): [string, applicable sections] or null.
TCF_JS = """(max) => new Promise((resolve) => {
  if (typeof window.__tcfapi !== "function") return resolve(null);
  setTimeout(() => resolve(null), 1000);
  try {
    window.__tcfapi("getTCData", 2, (d, ok) => resolve(ok && d && typeof d.tcString === "string"
      ? [d.tcString.slice(0, max), ""] : null));
  } catch (e) { resolve(null); }
})"""
GPP_JS = """(max) => new Promise((resolve) => {
  if (typeof window.__gpp !== "function") return resolve(null);
  setTimeout(() => resolve(null), 1000);
  const answer = (d) => resolve(d && typeof d.gppString === "string"
    ? [d.gppString.slice(0, max), Array.isArray(d.applicableSections) ? d.applicableSections.join("_") : ""] : null);
  try {
    const r = window.__gpp("ping", answer);  // GPP 1.1 calls back; 1.0 also returns the ping
    if (r && typeof r === "object") answer(r);
  } catch (e) { resolve(null); }
})"""


@dataclass
class StoredConsent:
    """The readings of what the CMP stored that say something about a purpose."""

    readings: list[Reading] = field(default_factory=list)

    @property
    def purposes(self) -> dict[str, bool]:
        """Per purpose, granted only if no source denies it."""
        out: dict[str, bool] = {}
        for r in self.readings:
            for purpose, granted in r.purposes.items():
                out[purpose] = out.get(purpose, True) and granted
        return out

    @property
    def sources(self) -> str:
        return ", ".join(dict.fromkeys(r.source for r in self.readings))

    def says(self) -> str:
        """'marketing granted, analytics denied (cc_cookie)'"""
        parts = [f"{p} {'granted' if ok else 'denied'}" for p, ok in sorted(self.purposes.items())]
        return f"{', '.join(parts)} ({self.sources})"


async def read_stored(page) -> StoredConsent:
    """The CMP's state in `page`'s browser context now; an empty StoredConsent when nothing readable
    is there (the page went away, no cookie pixelspy knows, no API)."""
    readings: list[Reading] = []
    try:
        cookies = {c["name"]: c["value"] for c in await page.context.cookies(page.url)}
    except Exception:  # noqa: BLE001 - the page closed or navigated meanwhile
        cookies = {}
    readings += [r for _, r in read_cookies(cookies) if r.choice and r.purposes]
    for js, decode in ((TCF_JS, lambda s, sid: tcf_reading("__tcfapi", s)),
                       (GPP_JS, lambda s, sid: gpp_reading("__gpp", s, sid))):
        answer = await _call(page, js)
        if answer and (reading := decode(*answer)) is not None and reading.purposes:
            readings.append(reading)
    return StoredConsent(readings)


async def _call(page, js: str) -> tuple[str, str] | None:
    try:
        answer = await asyncio.wait_for(page.evaluate(js, MAX_STRING), API_TIMEOUT_S + 0.5)
    except Exception:  # noqa: BLE001 - navigated away, the page's own script threw, timed out
        return None
    if (isinstance(answer, list) and len(answer) == 2 and all(isinstance(a, str) for a in answer)
            and len(answer[0]) <= MAX_STRING and len(answer[1]) <= 200):
        return answer[0], answer[1]
    return None
