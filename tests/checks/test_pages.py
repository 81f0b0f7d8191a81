"""What a page is (issue #23, family 1): page views counted from navigations, for every check.

Traffic shaped as Playwright records an ordinary shop visit: no Sec-Fetch-* headers, navigations
with Chromium's Accept, Meta's config script loaded once per page with the shop's origin as
Referer (the default referrer policy cuts cross-origin Referers to the origin).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from pixelspy import har
from pixelspy.checks import CheckEngine
from pixelspy.checks.pages import PageViews, is_page_load, recording_browser
from pixelspy.config import Config
from pixelspy.model import RawHit
from pixelspy.session import Session
from tests.checks.helpers import PIXEL, T0, codes, seen

SHOP = "https://shop.example"
NAV_ACCEPT = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
              "application/signed-exchange;v=b3;q=0.7")


def navigation(path: str, t: float, **headers: str) -> RawHit:
    return seen(RawHit(method="GET", url=SHOP + path, time=t, client="10.0.0.2",
                       headers=(("Accept", NAV_ACCEPT), *headers.items())))


def meta_config(t: float) -> RawHit:
    return RawHit(method="GET", url=f"https://connect.facebook.net/signals/config/{PIXEL}?v=2.9.174&r=stable",
                  time=t, client="10.0.0.2", headers=(("Accept", "*/*"), ("Referer", SHOP + "/")))


def visit(*hits: RawHit, config: Config | None = None) -> Session:
    session = Session(CheckEngine(config or Config()))
    for hit in hits:
        session.ingest(hit)
    return session


def test_a_playwright_recording_of_three_pages_initialises_the_pixel_once_per_page():
    session = visit(navigation("/", T0), meta_config(T0 + 0.4),
                    navigation("/products/tee", T0 + 2), meta_config(T0 + 2.5),
                    navigation("/cart", T0 + 4), meta_config(T0 + 4.3))
    loads = [ev for ev in session if ev.kind == "pixel_loaded"]
    assert len(loads) == 3
    assert all("duplicate-pixel" not in codes(ev) for ev in loads)


def test_two_base_codes_on_one_page_are_still_caught():
    session = visit(navigation("/", T0), meta_config(T0 + 0.4), meta_config(T0 + 0.6))
    a, b = [ev for ev in session if ev.kind == "pixel_loaded"]
    assert "duplicate-pixel" in codes(a) and "duplicate-pixel" in codes(b)


def test_an_xhr_for_html_or_an_iframe_is_not_a_new_page():
    # jQuery's $.get of a fragment asks for text/html too; an iframe is a document of another site.
    session = visit(navigation("/", T0), meta_config(T0 + 0.4),
                    navigation("/fragment", T0 + 0.5, **{"X-Requested-With": "XMLHttpRequest"}),
                    RawHit(method="GET", url="https://creativecdn.com/tags?type=iframe", time=T0 + 0.6,
                           client="10.0.0.2", headers=(("Accept", NAV_ACCEPT), ("Sec-Fetch-Dest", "iframe"))),
                    meta_config(T0 + 0.8))
    assert all("duplicate-pixel" in codes(ev) for ev in session if ev.kind == "pixel_loaded")


def test_what_counts_as_a_page_load():
    assert is_page_load(navigation("/", T0))  # Playwright, Safari < 16.4, Charles: no Sec-Fetch-*
    assert is_page_load(RawHit(method="POST", url=SHOP + "/checkout", headers=(("Sec-Fetch-Dest", "document"),)))
    assert not is_page_load(RawHit(method="GET", url=SHOP + "/", headers=(("Sec-Fetch-Dest", "iframe"),
                                                                          ("Accept", NAV_ACCEPT))))
    assert not is_page_load(RawHit(method="GET", url=SHOP + "/app.js", headers=(("Accept", "*/*"),)))
    assert not is_page_load(RawHit(method="POST", url=SHOP + "/search", headers=(("Accept", NAV_ACCEPT),)))


def test_page_views_are_per_device_and_site():
    pages = PageViews()
    pages.observe(navigation("/", T0))
    first = pages.page_of("10.0.0.2", SHOP + "/")
    pages.observe(seen(RawHit(method="GET", url=SHOP + "/", client="10.0.0.9", headers=(("Accept", NAV_ACCEPT),))))
    pages.observe(seen(RawHit(method="GET", url="https://other.example/", client="10.0.0.2",
                              headers=(("Accept", NAV_ACCEPT),))))
    assert pages.page_of("10.0.0.2", SHOP + "/cart") == first  # the origin-only Referer: same view
    pages.observe(navigation("/cart", T0 + 2))
    assert pages.page_of("10.0.0.2", SHOP + "/") != first
    # No page load of the site seen (a recording of tracking hits only): the URL decides.
    assert pages.page_of("10.0.0.2", "https://third.example/a") != pages.page_of("10.0.0.2", "https://third.example/b")


def test_the_tracking_plan_sees_a_playwright_navigation_as_a_visit():
    config = Config.model_validate({"expect": [{"page": "/thanks", "event": "Purchase", "to": ["meta"]}]})
    session = visit(navigation("/thanks", T0), config=config)
    session.tick(float("inf"))
    [missing] = [ev for ev in session if ev.kind == "missing"]
    assert missing.page_url == SHOP + "/thanks"


# ---------------------------------------------------------------- what a HAR file says of its pages

def har_entry(url: str, t: float, accept: str = "*/*", **extra) -> dict:
    """An entry as Playwright, Firefox or DevTools write it: no Sec-Fetch-* headers."""
    when = datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")
    return {"startedDateTime": when, "time": 12.5, **extra,
            "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1", "cookies": [],
                        "headers": [{"name": "Accept", "value": accept}, {"name": "Referer", "value": SHOP + "/"},
                                    {"name": "User-Agent", "value": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"}],
                        "queryString": [], "headersSize": -1, "bodySize": 0},
            "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "cookies": [], "headers": [],
                         "content": {"size": 0, "mimeType": "text/html"}, "redirectURL": "", "headersSize": -1,
                         "bodySize": 0},
            "cache": {}, "timings": {"send": 0, "wait": 10, "receive": 2.5}}


CONFIG_URL = f"https://connect.facebook.net/signals/config/{PIXEL}?v=2.9.174&r=stable"


def pixel_loads(tmp_path: Path, entries: list[dict], pages: list[str]) -> list:
    path = tmp_path / "visit.har"
    log = {"version": "1.2", "creator": {"name": "Firefox", "version": "120.0"},
           "entries": entries, "pages": [{"id": p, "title": p, "startedDateTime": "2023-11-14T22:13:20Z",
                                          "pageTimings": {}} for p in pages]}  # pages after the entries, as some write them
    path.write_text(json.dumps({"log": log}))
    session = Session(CheckEngine(Config()))
    har.load_file(path, session)
    return [ev for ev in session if ev.kind == "pixel_loaded"]


def test_a_har_with_one_pageref_per_page_and_no_navigation_headers(tmp_path):
    # Only the pageref tells the pages apart: the documents ask for */*, like the config script.
    entries = [har_entry(SHOP + path, T0 + i * 2, pageref=f"page_{i}") for i, path in enumerate(("/", "/tee", "/cart"))]
    entries = [e for i, doc in enumerate(entries)
               for e in (doc, har_entry(CONFIG_URL, T0 + i * 2 + 0.4, pageref=f"page_{i}"))]
    loads = pixel_loads(tmp_path, entries, ["page_0", "page_1", "page_2"])
    assert len(loads) == 3
    assert all("duplicate-pixel" not in codes(ev) for ev in loads)
    # The same file whose first page really loads it twice: that page is still caught.
    twice = pixel_loads(tmp_path, entries[:2] + [har_entry(CONFIG_URL, T0 + 0.6, pageref="page_0")] + entries[2:],
                        ["page_0", "page_1", "page_2"])
    assert [("duplicate-pixel" in codes(ev)) for ev in twice] == [True, True, False, False]


def test_a_devtools_har_says_which_entries_are_documents(tmp_path):
    # Chrome DevTools: `_resourceType` on every entry; one page of the file (pageref) for all of them.
    entries = []
    for i, path in enumerate(("/", "/tee", "/cart")):
        entries += [har_entry(SHOP + path, T0 + i * 2, _resourceType="document", pageref="page_1"),
                    har_entry(CONFIG_URL, T0 + i * 2 + 0.4, _resourceType="script", pageref="page_1")]
    loads = pixel_loads(tmp_path, entries, ["page_1"])
    assert len(loads) == 3 and all("duplicate-pixel" not in codes(ev) for ev in loads)
    # A fetch of HTML is no document: the two loads around it are one page's.
    fetch = har_entry(SHOP + "/fragment", T0 + 0.5, accept="text/html", _resourceType="fetch", pageref="page_1")
    again = har_entry(CONFIG_URL, T0 + 0.8, _resourceType="script", pageref="page_1")
    twice = pixel_loads(tmp_path, entries[:2] + [fetch, again] + entries[2:], ["page_1"])
    assert [("duplicate-pixel" in codes(ev)) for ev in twice] == [True, True, False, False]


def test_the_headers_outrank_what_the_file_says():
    frame = RawHit(method="GET", url="https://creativecdn.com/tags", headers=(("Sec-Fetch-Dest", "iframe"),),
                   navigation=True)  # DevTools calls a frame's document "document" too
    assert not is_page_load(frame)
    assert is_page_load(RawHit(method="GET", url=SHOP + "/", headers=(("Accept", "*/*"),), navigation=True))
    assert not is_page_load(RawHit(method="GET", url=SHOP + "/", headers=(("Accept", NAV_ACCEPT),), navigation=False))


# ---------------------------------------------------------------- Playwright's recordHar, one page per tab

def playwright_entry(url: str, t: float, headers: dict[str, str], mime: str) -> dict:
    """An entry as Playwright's recordHar writes it (its own test assets, har-fulfill.har): `_frameref`,
    `_monotonicTime`, the tab's one pageref; a navigation it saw only through the browser's
    provisional headers has no Accept and no Sec-Fetch-*."""
    when = datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"_frameref": "frame@c7467fc0f1f86f09fc3b0d727a3862ea", "_monotonicTime": 270572145.898 + t - T0,
            "startedDateTime": when, "time": 8.3,
            "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1", "cookies": [],
                        "headers": [{"name": k, "value": v} for k, v in headers.items()],
                        "queryString": [], "headersSize": 326, "bodySize": 0},
            "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "cookies": [],
                         "headers": [{"name": "content-type", "value": mime}],
                         "content": {"size": 111, "mimeType": mime, "compression": 0}, "headersSize": 65,
                         "bodySize": 170, "redirectURL": "", "_transferSize": 170},
            "cache": {"beforeRequest": None, "afterRequest": None},
            "timings": {"dns": -1, "connect": -1, "ssl": -1, "send": 0, "wait": 8.3, "receive": -1},
            "pageref": "page@b17b177f1c2e66459db3dcbe44636ffd", "_securityDetails": {}}


UA = {"User-Agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "Chrome/103.0.5060.33 Safari/537.36"}


def playwright_visit(tmp_path: Path, *extra: tuple[int, dict]) -> list:
    """A tab opening the home page (full headers), a product page (provisional headers with
    Upgrade-Insecure-Requests) and the cart (Referer and User-Agent only), each with its stylesheet
    and Meta's config script; `extra` entries go in at the given positions."""
    def page(path: str, t: float, nav_headers: dict[str, str]) -> list[dict]:
        return [playwright_entry(SHOP + path, t, {**nav_headers, **UA}, "text/html"),
                playwright_entry(SHOP + "/style.css", t + 0.1,
                                 {"Accept": "text/css,*/*;q=0.1", "Referer": SHOP + path, **UA}, "text/css"),
                playwright_entry(CONFIG_URL, t + 0.4, {"Accept": "*/*", "Referer": SHOP + "/", **UA},
                                 "application/javascript")]
    entries = (page("/", T0, {"Accept": NAV_ACCEPT, "Upgrade-Insecure-Requests": "1"})
               + page("/products/tee", T0 + 2, {"Upgrade-Insecure-Requests": "1", "Referer": SHOP + "/"})
               + page("/cart", T0 + 4, {"Referer": SHOP + "/products/tee"}))
    for at, entry in sorted(extra, key=lambda x: -x[0]):
        entries.insert(at, entry)
    path = tmp_path / "playwright.har"
    path.write_text(json.dumps({"log": {
        "version": "1.2", "creator": {"name": "Playwright", "version": "1.23.0-next"},
        "browser": {"name": "chromium", "version": "103.0.5060.33"},
        "pages": [{"startedDateTime": "2023-11-14T22:13:20.000Z", "id": "page@b17b177f1c2e66459db3dcbe44636ffd",
                   "title": "Shop", "pageTimings": {"onContentLoad": 70, "onLoad": 70}}],
        "entries": entries}}))
    session = Session(CheckEngine(Config()))
    har.load_file(path, session)
    return [ev for ev in session if ev.kind == "pixel_loaded"]


def test_a_playwright_tab_s_later_navigations_are_pages_of_their_own(tmp_path):
    loads = playwright_visit(tmp_path)
    assert len(loads) == 3
    assert all("duplicate-pixel" not in codes(ev) for ev in loads)


def test_html_a_script_fetched_in_a_playwright_tab_is_no_page(tmp_path):
    # A fragment fetched on the cart page (HTML, asked for with */*, named by no later request):
    # the config script loaded again after it is the cart page's second load.
    fragment = playwright_entry(SHOP + "/cart/drawer", T0 + 4.5, {"Accept": "*/*", "Referer": SHOP + "/cart", **UA},
                                "text/html")
    again = playwright_entry(CONFIG_URL, T0 + 4.8, {"Accept": "*/*", "Referer": SHOP + "/", **UA},
                             "application/javascript")
    loads = playwright_visit(tmp_path, (9, fragment), (9, again))
    assert [("duplicate-pixel" in codes(ev)) for ev in loads] == [False, False, True, True]


def test_an_html_document_is_a_page_once_a_later_request_names_it():
    pages = PageViews()
    doc = seen(RawHit(method="GET", url=SHOP + "/cart", client="10.0.0.2", headers=tuple(UA.items()),
                      response_type="text/html; charset=utf-8"))
    css = seen(RawHit(method="GET", url=SHOP + "/style.css", client="10.0.0.2",
                      headers=(("Referer", SHOP + "/cart"), *UA.items())))
    assert not is_page_load(doc)
    assert pages.observe(doc) is None
    before = pages.page_of(doc.device, SHOP + "/")
    assert pages.observe(css) == SHOP + "/cart"
    assert pages.page_of(doc.device, SHOP + "/") != before
    assert pages.observe(css) is None  # named once: the page's other requests add no page


# ---------------------------------------------------------------- several browsers in one recording

EXPRESSEN = "https://www.expressen.se/"
WPT_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/63.0.3239.132 Safari/537.36"


def expressen_run(run: int, t: float, page: str) -> list[dict]:
    """One WebPageTest run of www.expressen.se (pagexray's test file, Jan 2018): its document, then its
    Meta pixel's PixelInitialized and ViewContent images, all sent in the same millisecond."""
    tr = f"https://www.facebook.com/tr/?id=810947455647573&ev={{}}&dl={EXPRESSEN}&rl=&if=false&ts={int(t * 1000)}&v=2.5.1"
    doc = har_entry(EXPRESSEN, t, NAV_ACCEPT, pageref=page, _run=run, _cached=0)
    return [doc] + [har_entry(tr.format(ev), t + 4, "image/webp,image/apng,image/*,*/*;q=0.8", pageref=page,
                              _run=run, _cached=0) for ev in ("PixelInitialized", "ViewContent")]


def wpt_events(tmp_path: Path, pages: list[str]) -> list:
    entries = sorted((e for run, page in enumerate(pages, 1) for e in expressen_run(run, T0 + run * 0.7, page)),
                     key=lambda e: e["startedDateTime"])
    path = tmp_path / "wpt.har"
    log = {"version": "1.2", "creator": {"name": "WebPagetest", "version": "17.12"}, "entries": entries,
           "pages": [{"id": p, "title": f"Run {i}, First View for {EXPRESSEN}", "startedDateTime": "2018-01-14T07:52:24Z",
                      "pageTimings": {}} for i, p in enumerate(dict.fromkeys(pages), 1)]}
    path.write_text(json.dumps({"log": log}))
    session = Session(CheckEngine(Config()))
    har.load_file(path, session)
    return list(session)


def test_webpagetest_runs_merged_in_one_file_are_separate_browsers(tmp_path):
    # Three runs in parallel browsers, each sending each event once: no event is a duplicate.
    events = wpt_events(tmp_path, ["page_1_0_1", "page_2_0_1", "page_3_0_1"])
    assert len(events) == 6 and not any("duplicate-event" in codes(ev) for ev in events)
    assert {ev.client for ev in events} == {"WebPageTest run 1", "WebPageTest run 2", "WebPageTest run 3"}
    # The same traffic as one browser's three loads of one page within 2 s is still caught.
    events = wpt_events(tmp_path, ["page_1", "page_1", "page_1"])
    assert sum("duplicate-event" in codes(ev) for ev in events) == 6


def test_the_browser_a_page_id_names():
    assert recording_browser("page_2_0_1") == recording_browser("page_2_1") == "WebPageTest run 2"
    for other in ("page_1", "page@4d1a7b", "page_2_3", "page_1_0_1_x", None, 7):  # DevTools, Playwright, …
        assert recording_browser(other) == "", other
