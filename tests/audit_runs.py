"""A small audit of a shop with a CMP, as `pixelspy audit` would feed it: one Session per consent state
(and device), real-shaped hits through the decoders and every check, the audit's click told with
Session.note_choice. Used by tests/test_report*.py and screenshots/make.py.

The shop: OneTrust; a Meta pixel that fires whatever the visitor does (before the choice, after
"reject all"); a TikTok pixel that waits for "accept all" (correct).
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from pixelspy.checks import CheckEngine
from pixelspy.config import Config
from pixelspy.model import RawHit
from pixelspy.report import AuditRun, EventTally, FileReport
from pixelspy.session import Session

T0 = 1_764_075_720.0  # 2025-11-25 13:02 UTC
META = "1234567890123456"
TIKTOK = "CN8J4Q3C77U0N4A9CVAG"
HOME = "https://www.shop.example/"
PRODUCT = "https://www.shop.example/p/blue-mug"
CLICK = 2.0  # seconds after the start: the audit clicks the banner
CHOICES = {"reject": ({"marketing": False, "analytics": False}, "clicked reject all"),
           "accept": ({"marketing": True, "analytics": True}, "clicked accept all")}


def _headers(client: str, page: str, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148" if client != "127.0.0.1" else \
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
    return [("user-agent", ua), ("referer", page), *extra]


def navigation(t: float, url: str, client: str) -> RawHit:
    return RawHit(method="GET", url=url, time=t, client=client,
                  headers=_headers(client, HOME, ("accept", "text/html,application/xhtml+xml"),
                                   ("sec-fetch-dest", "document"), ("sec-fetch-mode", "navigate")))


def onetrust(t: float, client: str) -> RawHit:
    return RawHit(method="GET", url="https://cdn.cookielaw.org/scripttemplates/otSDKStub.js", time=t, client=client,
                  headers=_headers(client, HOME, ("sec-fetch-dest", "script")))


def meta(t: float, ev: str, page: str, client: str) -> RawHit:
    qs = urlencode({"id": META, "ev": ev, "dl": page, "rl": "", "if": "false", "ts": str(int(t * 1000)),
                    "v": "2.9.179", "r": "stable", "fbp": "fb.1.1764075720000.1596403881"})
    return RawHit(method="GET", url=f"https://www.facebook.com/tr/?{qs}", time=t, client=client,
                  headers=_headers(client, HOME, ("accept", "image/avif,image/webp,image/apng,image/*,*/*;q=0.8")))


def tiktok(t: float, ev: str, page: str, client: str) -> RawHit:
    body = {"event": ev, "message_id": f"messageId-{t}", "event_id": "", "is_onsite": False,
            "timestamp": "2025-11-25T13:02:00.600Z",
            "context": {"pixel": {"code": TIKTOK}, "page": {"url": page, "referrer": ""},
                        "library": {"name": "pixel.js", "version": "2.2.1"}}, "properties": {}}
    return RawHit(method="POST", url="https://analytics.tiktok.com/api/v2/pixel", body=json.dumps(body).encode(),
                  time=t, client=client, headers=_headers(client, HOME, ("content-type", "text/plain;charset=UTF-8")))


def ga4(t: float, client: str = "127.0.0.1", **extra: str) -> RawHit:
    qs = urlencode({"v": "2", "tid": "G-ABC123XYZ", "gtm": "45je4b20v9", "_p": "1712345678901", "cid": "123.456",
                    "ul": "en-us", "sr": "1920x1080", "_s": "1", "sid": "1712345678", "sct": "1", "seg": "0",
                    "dl": HOME, "dt": "Shop", "en": "page_view", **extra})
    return RawHit(method="POST", url=f"https://region1.google-analytics.com/g/collect?{qs}", time=t, client=client,
                  headers=_headers(client, HOME, ("content-type", "text/plain;charset=UTF-8")))


def audit_run(state: str, device: str = "desktop", client: str = "127.0.0.1", meta_event: str = "PageView",
              page: str = PRODUCT, har: str | None = None, click_fails: bool = False, cmp: bool = True,
              extra: tuple[RawHit, ...] = ()) -> AuditRun:
    """One run, as the audit makes it: fresh session, the pages, the click (for reject/accept).
    `click_fails`: the banner was found but not clicked; `cmp`: the shop has one; `extra`: more hits."""
    start = T0
    session = Session(CheckEngine(Config()))
    tally = EventTally()
    session.subscribe(tally)
    hits = [navigation(start, HOME, client), meta(start + 0.5, "PageView", HOME, client),
            navigation(start + 4, PRODUCT, client), meta(start + 4.4, meta_event, page, client), *extra]
    if cmp:
        hits.append(onetrust(start + 0.2, client))
    if state == "accept" and not click_fails:
        hits.append(tiktok(start + CLICK + 0.3, "Pageview", HOME, client))
        hits.append(tiktok(start + 4.5, "ViewContent", PRODUCT, client))
    choice = None
    action, consent = "left the banner alone", "not asked"
    for hit in sorted(hits, key=lambda h: h.time):
        if state in CHOICES and choice is None and hit.time > start + CLICK:
            purposes, action = CHOICES[state]
            if not cmp:
                action, consent = "no CMP found", "unknown"
            elif click_fails:
                action, consent = "click failed: no button matched", "unknown"
            else:
                choice = start + CLICK
                consent = "granted" if state == "accept" else "denied"
                session.note_choice("www.shop.example", choice, purposes, f"audit {action}")
        session.ingest(hit)
    session.tick(start + 60)  # the audit waits out the consent check's pending verdicts
    report = FileReport(har or f"audit/{state}-{device}.har", format="har", tally=tally)
    return AuditRun(state=state, device=device, report=report, har_path=har or f"audit/{state}-{device}.har",
                    cmp="OneTrust" if cmp else None, action=action, consent=consent, choice_time=choice, started=start,
                    pages=[HOME, PRODUCT])


def audit_runs() -> list[AuditRun]:
    return [audit_run(state) for state in ("none", "reject", "accept")]
