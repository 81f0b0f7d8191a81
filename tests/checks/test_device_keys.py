"""Per-device checks key on the device (address plus client family), not on the address: every
desktop browser and tool comes from 127.0.0.1, and each has its own cookies and pages."""

from __future__ import annotations

import dataclasses

from pixelspy.model import RawHit
from pixelspy.session import Session

from .test_consent import ONETRUST_GRANTED, T0, findings, make_session, meta_pixel, onetrust_loaded, page_request

LOCAL = "127.0.0.1"
CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
          "Safari/537.36")
CURL = "curl/8.5.0"


def sent_by(ua: str, hit: RawHit) -> RawHit:
    return dataclasses.replace(hit, headers=(*hit.headers, ("User-Agent", ua)))


def test_a_consent_cookie_sent_by_curl_does_not_give_chrome_consent():
    s, check = make_session()
    s.ingest(sent_by(CHROME, onetrust_loaded(T0, client=LOCAL)))
    [pixel] = s.ingest(sent_by(CHROME, meta_pixel(T0 + 0.5, client=LOCAL)))
    assert findings(pixel) == [("pre-consent", True)]
    # A developer replays a page request with a consent cookie copied from elsewhere.
    s.ingest(sent_by(CURL, page_request(T0 + 1, cookie=f"OptanonConsent={ONETRUST_GRANTED}", client=LOCAL)))
    assert findings(pixel) == [("pre-consent", True)]
    s.tick(T0 + 10)
    assert findings(pixel) == [("pre-consent", False)]
    states = {(site.client, site.state.value) for site in check.sites()}
    assert states == {("127.0.0.1 linux chrome", "CMP loaded, no choice yet"), ("127.0.0.1 curl", "granted")}


def test_the_same_hit_from_chrome_and_from_a_script_is_no_duplicate():
    s = Session()
    [chrome] = s.ingest(sent_by(CHROME, meta_pixel(T0, client=LOCAL, ev="AddToCart")))
    [script] = s.ingest(sent_by("python-requests/2.31.0", meta_pixel(T0 + 0.5, client=LOCAL, ev="AddToCart")))
    assert "duplicate-event" not in {f.code for f in chrome.findings + script.findings}
    [again] = s.ingest(sent_by(CHROME, meta_pixel(T0 + 1, client=LOCAL, ev="AddToCart")))  # Chrome twice: found
    assert "duplicate-event" in {f.code for f in again.findings}


def test_events_carry_the_device_and_keep_the_address_as_client():
    s = Session()
    [ev] = s.ingest(sent_by(CHROME, meta_pixel(T0, client=LOCAL)))
    s.ingest(sent_by(CURL, meta_pixel(T0 + 1, client=LOCAL, ev="Lead")))
    [beacon] = s.ingest(meta_pixel(T0 + 2, client=LOCAL, ev="Purchase"))  # no User-Agent, two devices there
    assert (ev.client, ev.device, s.devices.name(ev.device)) == (LOCAL, "127.0.0.1 linux chrome",
                                                                 "Linux Chrome 127.0.0.1")
    assert ev.json_line()["client"] == LOCAL and beacon.device == LOCAL


def test_device_filter_and_rename_tell_chrome_from_curl():
    from pixelspy.tui import filters

    s = Session()
    s.ingest(sent_by(CHROME, meta_pixel(T0, client=LOCAL)))
    [lead] = s.ingest(sent_by(CURL, meta_pixel(T0 + 1, client=LOCAL, ev="Lead")))
    s.devices.rename(lead.device, "smoke test")  # `d` on the curl event

    def shown(query: str) -> list[str]:
        blobs = {ev.id: filters.search_blob(ev) for ev in s}
        flt = filters.compile_query(filters.parse(query), blobs.get, s.devices.matching)  # as the app does
        return [ev.event for ev in s if flt is None or flt(ev.id)]

    assert shown("device:chrome") == ["PageView"]
    assert shown("device:smoke") == ["Lead"]
    assert shown("device:127.0.0.1") == ["PageView", "Lead"]
    assert [s.devices.name(ev.device) for ev in s] == ["Linux Chrome 127.0.0.1", "smoke test"]
