"""Ordinary requests read in part (pixelspy/heads.py: a RequestHead holding the headers the devices
and checks name) and the checks asked first whether one can change anything (traffic_matters): the
same devices, page views, consent records and findings as when every request is read whole and
shown to every check (CheckEngine(prefilter=False), which the addon then reads as RawHits)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mitmproxy import http
from mitmproxy.test import tflow

from pixelspy.addon import PixelSpy
from pixelspy.checks import CheckEngine
from pixelspy.checks.consent import ConsentCheck
from pixelspy.checks.expectations import ExpectationsCheck
from pixelspy.checks.pixels import PixelNoEventsCheck
from pixelspy.config import Config, ConsentRule, Expectation
from pixelspy.flows import HeaderNames, raw_hit, request_head, request_url_parts
from pixelspy.heads import RequestHead
from pixelspy.model import RawHit
from pixelspy.session import Session

T0 = 1_800_000_000.0
CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
          "Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")
SHOP = "https://www.shop.example"
PIXEL = "1234567890123456"
GRANTED = "OptanonConsent=isGpcEnabled=0&groups=C0001%3A1%2CC0002%3A1%2CC0004%3A1&datestamp=x"
DENIED = "OptanonConsent=isGpcEnabled=0&groups=C0001%3A1%2CC0002%3A0%2CC0004%3A0&datestamp=x"


def chrome_headers(dest: str, mode: str, referer: str = "", cookie: str = "", ua: str = CHROME,
                   **extra: str) -> list[tuple[str, str]]:
    """Headers in the order and shape Chrome sends them."""
    accept = {"document": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
              "script": "*/*", "image": "image/avif,image/webp,image/apng,image/*,*/*;q=0.8",
              "empty": "*/*"}[dest]
    headers = [("sec-ch-ua", '"Chromium";v="126", "Not.A/Brand";v="24"'), ("sec-ch-ua-mobile", "?0"),
               ("user-agent", ua), ("accept", accept), ("sec-fetch-site", "same-origin" if referer else "none"),
               ("sec-fetch-mode", mode), ("sec-fetch-dest", dest)]
    headers += [("referer", referer)] if referer else []
    headers += [("accept-encoding", "gzip, deflate, br, zstd"), ("accept-language", "en-US,en;q=0.9")]
    headers += [("cookie", cookie)] if cookie else []
    headers += [(k.replace("_", "-"), v) for k, v in extra.items()]
    return headers


def flow_of(method: str, url: str, t: float, headers: list[tuple[str, str]], client: str = "192.168.1.20",
            body: bytes = b"") -> http.HTTPFlow:
    flow = tflow.tflow()
    flow.request = http.Request.make(method, url, body, [(k.encode(), v.encode()) for k, v in headers])
    flow.request.timestamp_start = t
    flow.client_conn.peername = (client, 51000)
    flow.response = None
    return flow


def browsing() -> list[tuple[float, http.HTTPFlow]]:
    """(tick before it, flow): a visit to a shop with OneTrust, from a laptop's Chrome and an iPhone."""
    page, loader = f"{SHOP}/product/42", "https://connect.facebook.net/en_US/fbevents.js"
    pv = f"https://www.facebook.com/tr/?id={PIXEL}&ev=PageView&dl={SHOP}%2Fproduct%2F42&rl=&if=false&ts=1"
    steps = [
        (0.0, "GET", page, chrome_headers("document", "navigate")),
        (0.2, "GET", f"{SHOP}/static/app.js", chrome_headers("script", "no-cors", page)),
        (0.3, "GET", "https://cdn.cookielaw.org/scripttemplates/otSDKStub.js",
         chrome_headers("script", "no-cors", page)),
        (0.5, "GET", loader, chrome_headers("script", "no-cors", page)),
        (0.9, "GET", pv, chrome_headers("image", "no-cors", page)),  # before any choice: pending
        # no cookie yet, no CMP: the site's record alone makes it settle the pending hit
        (1.2, "GET", f"{SHOP}/static/font.woff2", chrome_headers("empty", "cors", page)),
        (1.5, "GET", f"{SHOP}/api/cart", chrome_headers("empty", "cors", page, GRANTED)),  # the choice, seen
        (2.0, "GET", f"{SHOP}/static/logo.png", chrome_headers("image", "no-cors", page, GRANTED)),
        # the iPhone: no Sec-Fetch-* (an older Safari), a page load by its Accept, Sec-GPC
        (3.0, "GET", f"{SHOP}/", [("host", "www.shop.example"), ("user-agent", IPHONE),
                                  ("accept", "text/html,application/xhtml+xml"), ("sec-gpc", "1")]),
        (3.2, "GET", "https://cdn.cookielaw.org/scripttemplates/otSDKStub.js",
         [("user-agent", IPHONE), ("accept", "*/*"), ("referer", f"{SHOP}/"), ("sec-gpc", "1")]),
        (3.4, "GET", loader, [("user-agent", IPHONE), ("accept", "*/*"), ("referer", f"{SHOP}/")]),
        (3.6, "GET", pv.replace("product%2F42", ""), [("user-agent", IPHONE), ("referer", f"{SHOP}/")]),
        (4.0, "GET", f"{SHOP}/cart", [("user-agent", IPHONE), ("accept", "text/html"), ("referer", f"{SHOP}/"),
                                      ("cookie", DENIED), ("sec-gpc", "1")]),
        (5.0, "POST", f"{SHOP}/api/log", [("user-agent", IPHONE), ("x-requested-with", "XMLHttpRequest"),
                                          ("referer", f"{SHOP}/cart")]),
        # another tab on the laptop: a pixel loader no event follows; then the traffic goes on past
        # its wait (so that the end of the recording judges it silent, not too soon)
        (6.0, "GET", "https://www.other.example/", chrome_headers("document", "navigate")),
        (6.3, "GET", loader, chrome_headers("script", "no-cors", "https://www.other.example/")),
        (17.0, "GET", "https://www.other.example/static/late.js",
         chrome_headers("script", "no-cors", "https://www.other.example/")),
        (18.0, "GET", "https://fonts.example/f.woff2",
         [("user-agent", CHROME), ("origin", "https://www.other.example")]),
    ]
    return [(T0 + dt, flow_of(method, url, T0 + dt, headers)) for dt, method, url, headers in steps]


def run(session: Session, steps: list[tuple[float, http.HTTPFlow]] | None = None) -> tuple[list, list, dict]:
    """The browsing sequence through the addon, ticked as the CLI does, then tick(inf) as `pixelspy
    audit` and a file's end do: every publish, every device and the consent records."""
    published = []
    session.subscribe(lambda ev, update: published.append((update, snapshot(ev))))
    addon = PixelSpy(session)
    for t, flow in browsing() if steps is None else steps:
        session.tick(t)
        addon.request(flow)
    session.tick(math.inf)
    devices = {k: session.devices.name(k) for k in session.devices.clients()}
    consent = next(c for c in session.checks.checks if isinstance(c, ConsentCheck))
    return published, consent.sites(), {"devices": devices, "pages": dict(session.checks.ctx.pages._loads)}


def snapshot(ev) -> tuple:
    return (ev.id[:1], ev.platform, ev.event, ev.kind.value, ev.device, ev.pixel_id,
            tuple((f.code, f.severity.value, f.message, f.pending) for f in ev.findings))


def sessions(config: Config | None = None) -> tuple[Session, Session]:
    config = config or Config()
    return Session(CheckEngine(config)), Session(CheckEngine(config, prefilter=False))


def test_a_browsing_sequence_makes_the_same_findings_devices_and_records_as_whole_requests(monkeypatch):
    plain, whole = sessions()
    ingested: list[RawHit] = []
    monkeypatch.setattr(Session, "ingest",
                        lambda s, hit, ingest=Session.ingest: ingested.append(hit) or ingest(s, hit))
    got, expected = run(plain), run(whole)
    assert got == expected
    published, sites, state = got
    findings = {f[0] for *_, fs in (p for _, p in published) for f in fs}
    # the sequence makes what it is for: a pre-consent verdict settled by a later request, devices
    # by User-Agent, page loads counted, a pixel judged silent at the end by the traffic's last time
    assert {"pre-consent", "pixel-no-events"} <= findings
    assert any(f == ("pixel-no-events", "warning") for *_, fs in (p for _, p in published) for f in
               ((c, s) for c, s, *_ in fs))
    assert len(state["devices"]) == 2 and any("iPhone" in name for name in state["devices"].values())
    assert sum(state["pages"].values()) == 4
    assert {s.gpc for s in sites} == {True, False}
    # … and the plain session read only the tracking hits whole (the whole one read every request)
    tracking = [h for h in ingested if "facebook" in h.url]
    assert len(tracking) == 2 * 5 and len(ingested) == len(tracking) + len(browsing()) - 5


def test_without_the_last_ordinary_requests_the_silent_pixel_is_only_noted():
    """The pixel-no-events verdict at tick(inf) depends on the time of the latest ordinary request."""
    plain, whole = sessions()
    got, expected = run(plain, browsing()[:-2]), run(whole, browsing()[:-2])
    assert got == expected
    assert ("pixel-no-events", "info") in {(c, s) for _, p in got[0] for c, s, *_ in p[-1]}


def test_every_header_the_observers_read_is_one_they_name(monkeypatch):
    """An observer reading a header it does not name would read it as absent from a RequestHead."""
    read: set[str] = set()

    class Recording(dict):
        def get(self, name, default=None):
            read.add(name)
            return super().get(name, default)

    original = RawHit.header_map

    def header_map(hit):
        original(hit)
        object.__setattr__(hit, "_header_map", Recording(hit._header_map))
        return hit._header_map

    monkeypatch.setattr(RawHit, "header_map", header_map)
    expect = [Expectation(page="/cart", event="Purchase", to=["meta"])]
    whole = Session(CheckEngine(Config(expect=expect), prefilter=False))
    names = Session(CheckEngine(Config(expect=expect))).request_headers
    for t, flow in browsing():
        hit = raw_hit(flow)
        if not hit.url.startswith("https://www.facebook.com/"):
            whole.ingest(hit)
    assert read and read <= names


_NAMES = st.sampled_from([b"User-Agent", b"user-agent", b"ACCEPT", b"accept", b"Cookie", b"sec-gpc",
                          b"Sec-Fetch-Dest", b"referer", b"Origin", b"x-requested-with",
                          b"upgrade-insecure-requests", b"x-other",
                          b"Coo\xe2\x84\xaaie", b"caf\xc3\xa9", b"\xff"])
_VALUES = st.sampled_from([b"", b"1", b" 1 ", b"text/html", b"document", b"caf\xc3\xa9", b"a\xff\xfeb", b"x" * 40])


@pytest.fixture(scope="module")
def names() -> frozenset[str]:
    return Session().request_headers


@pytest.fixture(scope="module")
def header_names(names) -> HeaderNames:
    """One for every example, as the addon keeps one: what it remembers of earlier names must not
    change what it reads of the next request's (a small bound: the remembered names are dropped often)."""
    header_names = HeaderNames(names)
    header_names.MAX_NAMES = 5
    return header_names


@settings(max_examples=300, deadline=None)
@given(fields=st.lists(st.tuples(_NAMES, _VALUES), max_size=8))
def test_a_request_head_holds_the_named_headers_as_a_raw_hit_reads_them(names, header_names, fields):
    flow = flow_of("GET", "https://www.shop.example/p?x=1", T0, [])
    flow.request.headers = http.Headers(fields)
    url, parts = request_url_parts(flow)
    head = request_head(flow, url, parts, header_names)
    hit = raw_hit(flow)
    if head is None:  # only for a header name that is not ASCII
        assert any(not n.isascii() for n, _ in fields)
        return
    assert head.header_map() == {k: v for k, v in hit.header_map().items() if k in names}
    assert (head.method, head.url, head.host, head.path, head.time, head.client) == (
        hit.method, hit.url, hit.host, hit.path, hit.time, hit.client)


def test_a_header_name_not_ascii_that_reads_as_cookie_makes_the_addon_read_the_request_whole():
    """Lower-cased as text, "CooKie" with the Kelvin sign is "cookie", and RawHit.header_map reads it so."""
    session = Session()
    addon = PixelSpy(session)
    flow = flow_of("GET", f"{SHOP}/", T0, [("user-agent", CHROME), ("accept", "text/html")])
    flow.request.headers.fields = (*flow.request.headers.fields, (b"Coo\xe2\x84\xaaie", DENIED.encode()))
    addon.request(flow)
    [site] = next(c for c in session.checks.checks if isinstance(c, ConsentCheck)).sites()
    assert site.site == "shop.example"


# -- each observer: the prefilter must not skip a request it needs

def head(url: str, t: float = T0, client: str = "10.0.0.1", **headers: str) -> RequestHead:
    hit = RawHit(method="GET", url=url, time=t, client=client,
                 headers=[(k.replace("_", "-"), v) for k, v in headers.items()])
    return RequestHead(hit.method, hit.url, hit.url_parts, dict(hit.header_map()), hit.time, hit.client)


def test_devices_a_new_user_agent_is_a_new_device():
    session = Session()
    session.ingest_plain(head(f"{SHOP}/", user_agent=CHROME))
    changes = session.devices.changes
    session.ingest_plain(head(f"{SHOP}/a", user_agent=CHROME))
    assert session.devices.changes == changes
    session.ingest_plain(head(f"{SHOP}/b", user_agent=IPHONE))
    assert session.devices.changes == changes + 1 and len(session.devices.clients()) == 2


def test_page_views_a_page_load_counts():
    session = Session()
    pages = session.checks.ctx.pages
    session.ingest_plain(head(f"{SHOP}/a", user_agent=CHROME, accept="text/html"))
    device = session.devices.clients()[0]
    assert pages.page_of(device, f"{SHOP}/x") == (device, "www.shop.example", 1)
    session.ingest_plain(head(f"{SHOP}/b.js", user_agent=CHROME, accept="*/*", sec_fetch_dest="script"))
    session.ingest_plain(head(f"{SHOP}/c", user_agent=CHROME, sec_fetch_dest="document"))
    assert pages.page_of(device, f"{SHOP}/x") == (device, "www.shop.example", 2)


@pytest.mark.parametrize("request_, why", [
    (head("https://cdn.cookielaw.org/scripttemplates/otSDKStub.js", referer=f"{SHOP}/"), "a CMP script"),
    (head(f"{SHOP}/", cookie=DENIED), "a consent cookie"),
    (head(f"{SHOP}/", sec_gpc="1"), "Sec-GPC"),
])
def test_consent_each_signal_of_ordinary_traffic_matters(request_, why):
    consent = ConsentCheck()
    assert consent.traffic_matters(request_, None), why
    assert not consent.traffic_matters(head(f"{SHOP}/", cookie="_ga=GA1.1.1.1", sec_gpc="0"), None)


def test_consent_a_request_to_a_site_with_a_record_matters_and_settles_its_pending_hit():
    session = Session()
    consent = next(c for c in session.checks.checks if isinstance(c, ConsentCheck))
    session.ingest_plain(head("https://cdn.cookielaw.org/scripttemplates/otSDKStub.js", user_agent=CHROME,
                              referer=f"{SHOP}/"))
    [ev] = session.ingest(RawHit(method="GET", url=f"https://www.facebook.com/tr/?id={PIXEL}&ev=PageView",
                                 time=T0 + 1, client="10.0.0.1",
                                 headers=[("user-agent", CHROME), ("referer", f"{SHOP}/")]))
    assert [f.pending for f in ev.findings if f.code == "pre-consent"] == [True]
    later = head(f"{SHOP}/logo.png", t=T0 + 1.5, user_agent=CHROME)
    later.device = session.devices.clients()[0]
    assert consent.traffic_matters(later, None)  # no cookie, no CMP: only the record says so
    session.ingest_plain(later)
    assert [f.pending for f in ev.findings if f.code == "pre-consent"] == [False]


def test_consent_a_rule_of_the_users_makes_every_request_matter():
    rule = ConsentRule(name="Shop banner", url=r"/consent/accept", purposes=["marketing"], means="granted")
    consent = ConsentCheck(Config(consent={"rules": [rule]}).consent)
    assert consent.traffic_matters(head(f"{SHOP}/consent/accept"), None)


def test_expectations_a_page_load_opens_a_wait():
    session = Session(CheckEngine(Config(expect=[Expectation(page="/thanks", event="Purchase", to=["meta"])])))
    assert any(isinstance(c, ExpectationsCheck) for c in session.checks.checks)
    session.ingest_plain(head(f"{SHOP}/thanks", user_agent=CHROME, sec_fetch_dest="document"))
    session.tick(math.inf)
    assert [e.findings[0].code for e in session] == ["missing-expected-event"]


def test_pixel_no_events_an_ordinary_request_is_the_latest_time():
    session = Session()
    pixels = next(c for c in session.checks.checks if isinstance(c, PixelNoEventsCheck))
    session.ingest_plain(head(f"{SHOP}/x.js", t=T0 + 42, user_agent=CHROME))
    assert pixels.last_seen == T0 + 42


def test_a_check_that_names_no_headers_is_given_whole_requests():
    class Custom:
        def observe_traffic(self, hit, ctx):
            self.seen = hit

    custom = Custom()
    session = Session(CheckEngine(Config(), checks=[custom]))
    assert session.request_headers is None
    PixelSpy(session).request(flow_of("GET", f"{SHOP}/", T0, [("user-agent", CHROME), ("x-shop", "1")]))
    assert isinstance(custom.seen, RawHit) and custom.seen.header("x-shop") == "1"
