"""`--sink` answers every tracking request of every vendor: none reaches the network.

pixelspy runs as `--sink --mode upstream:<a recording proxy>`, so anything it forwards arrives at the
recorder (a CONNECT for HTTPS, the request itself for HTTP) instead of at a vendor. Every route of
every decoder's ROUTES table that sinks gets real-shaped requests on each of its hosts (the shapes
of tests/decoders, which name their sources); the test fails when a sink route has no sample, when a
sample is not answered by the sink, or when the recorder sees any tracking host. Loaders
(`sink=False`) and lookalikes without the vendor's signature must pass through: checked the same way.
"""

from __future__ import annotations

import importlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import pytest

from pixelspy.decoders import Route, vendor_modules
from tests.conftest import PixelspyProcess


@dataclass(frozen=True)
class Sample:
    method: str
    url: str
    body: bytes = b""
    ctype: str = ""


def form(fields: dict) -> bytes:
    return urlencode(fields, quote_via=quote).encode()


def js(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


FORM, JSON, TEXT = "application/x-www-form-urlencoded", "application/json", "text/plain;charset=UTF-8"
SHA = "8d9b70fd20e23919cfe664ea5e571db39d72ba1bf17bf57e909ada24be9aa3aa"
META_CAPI = {"data": [{"event_name": "Purchase", "event_time": 1783018238, "event_id": "order-1",
                       "action_source": "website", "user_data": {"em": [SHA]},
                       "custom_data": {"value": 49.9, "currency": "EUR"}}]}
SNAP_V3 = {"data": [{"event_name": "PURCHASE", "event_time": 1783018238, "action_source": "WEB",
                     "user_data": {"em": [SHA]}, "custom_data": {"value": 49.9, "currency": "EUR"}}]}
TIKTOK_PIXEL = {"event": "CompletePayment", "message_id": "messageId-1783018238-1", "event_id": "order-1",
                "context": {"pixel": {"code": "CN8J4Q3C77U0N4A9CVAG"}, "page": {"url": "https://shop.example/thanks"}},
                "properties": {"value": 49.9, "currency": "EUR"}}
TIKTOK_API = {"event_source": "web", "event_source_id": "CN8J4Q3C77U0N4A9CVAG",
              "data": [{"event": "CompletePayment", "event_time": 1783018238, "event_id": "order-1",
                        "user": {"email": SHA}, "properties": {"value": 49.9, "currency": "EUR"}}]}
PIN_CAPI = {"data": [{"event_name": "checkout", "action_source": "web", "event_time": 1783018238,
                      "event_id": "order-1", "user_data": {"em": [SHA]},
                      "custom_data": {"value": "49.9", "currency": "EUR"}}]}
PIN_LEGACY_CAPI = {"data": [{**PIN_CAPI["data"][0], "advertiser_id": "549755885175"}]}
REDDIT_V2 = {"events": [{"event_at": "2026-07-02T18:10:38Z", "event_type": {"tracking_type": "Purchase"},
                         "event_metadata": {"value_decimal": 49.9, "currency": "EUR"}, "user": {"email": SHA}}]}
REDDIT_V3 = {"data": {"events": [{"event_at": 1783018238000, "action_source": "WEBSITE",
                                  "type": {"tracking_type": "PURCHASE"}, "metadata": {"value": 49.9, "currency": "EUR"}}]}}
LI_CAPI = {"conversion": "urn:lla:llaPartnerConversion:104012", "conversionHappenedAt": 1783018238000,
           "user": {"userIds": [{"idType": "SHA256_EMAIL", "idValue": SHA}]}, "eventId": "order-1"}
X_CAPI = {"conversions": [{"conversion_time": "2026-01-18T01:14:00.603Z", "event_id": "tw-o8z6j-o87ne",
                           "identifiers": [{"twclid": "23opevjt88psuo13lu8d020qkn"}], "conversion_id": "order-1"}]}
X_BEACON = {"bci": "4", "eci": "3", "event": "{}", "event_id": "d0c6b7a1-8e7f-4c0b-9a51-2f7c8e3d4b11",
            "integration": "advertiser", "p_id": "Twitter", "p_user_id": "0",
            "tw_document_href": "https://shop.example/", "txn_id": "num2q", "type": "javascript", "version": "2.4.11"}
BATCH = [{"method": "POST", "relative_url": "1234567890123456/events",
          "body": "data=" + quote(json.dumps(META_CAPI["data"]))}]
GA4 = "v=2&tid=G-SHOPDEMO42&gtm=45je69u2v878222536za200&_p=1791212458528&cid=746406658.1791212460&_s=1"


def meta_tr(host: str) -> list[Sample]:
    query = "id=1234567890123456&ev=PageView&dl=https%3A%2F%2Fshop.example%2F&rl=&if=false&ts=1791212460000&v=2.9.170"
    return [Sample("GET", f"https://{host}/tr/?{query}"), Sample("POST", f"https://{host}/tr/", query.encode(), FORM)]


# (platform, route path) → hosts → requests. Any-host routes name the hosts they are for.
SAMPLES: dict[tuple[str, str], dict[str, list[Sample]]] = {}


def sample(platform: str, path: str, hosts: tuple[str, ...], make) -> None:
    SAMPLES[(platform, path)] = {h: make(h) for h in hosts}


def _fill() -> None:
    routes = {(r.platform, r.path): r for r in ROUTES}
    r = lambda platform, start: next(k for k in routes if k[0] == platform and k[1].startswith(start))  # noqa: E731
    fb = routes[r("meta", "/tr")].hosts
    sample(*r("meta", "/tr"), fb, meta_tr)
    sample(*r("meta", "/privacy_sandbox"), fb, lambda h: [Sample(
        "GET", f"https://{h}/privacy_sandbox/pixel/register/trigger/?id=1234567890123456&ev=PageView&ts=1791212460000")])
    graph = ("graph.facebook.com",)
    sample(*r("meta", r"(?:/v\d+\.\d+)?/(?P<pixel>"), graph, lambda h: [
        Sample("POST", f"https://{h}/v21.0/1234567890123456/events?access_token=EAAB0secret", js(META_CAPI), JSON)])
    sample(*r("meta", r"(?:/v\d+\.\d+)?/(?P<app>"), graph, lambda h: [Sample(
        "POST", f"https://{h}/v17.0/987654321012345/activities", form({
            "event": "CUSTOM_APP_EVENTS", "advertiser_tracking_enabled": "1", "application_tracking_enabled": "1",
            "custom_events": json.dumps([{"_eventName": "fb_mobile_purchase", "_valueToSum": 49.9,
                                          "fb_currency": "EUR", "_logTime": 1783018238}])}), FORM)])
    sample("meta", r"(?:/v\d+\.\d+)?/?", graph, lambda h: [Sample(
        "POST", f"https://{h}/v21.0/?access_token=EAAB0secret", form({"batch": json.dumps(BATCH)}), FORM)])

    sample(*r("x", "(/1)?/i/adsct"), routes[r("x", "(/1)?/i/adsct")].hosts, lambda h: [
        Sample("GET", f"https://{h}/1/i/adsct?{form(X_BEACON).decode()}"),
        Sample("GET", f"https://{h}/i/adsct?txn_id=abc123&p_id=Twitter&events=%5B%5B%22pageview%22%2Cnull%5D%5D"),
        Sample("POST", f"https://{h}/1/i/adsctp", form(X_BEACON), FORM),
        Sample("POST", f"https://{h}/i/adsctp", form({"events": '[["pageview",{}]]', "txn_id": "o7kth"}), FORM)])
    sample(*r("x", "/(?P<version>"), routes[r("x", "/(?P<version>")].hosts, lambda h: [
        Sample("POST", f"https://{h}/12/measurement/conversions/o8z6j", js(X_CAPI), JSON)])

    sample(*r("linkedin", "/collect"), routes[r("linkedin", "/collect")].hosts, lambda h: [
        Sample("GET", f"https://{h}/collect?v=2&fmt=js&pid=3346164&time=1783018238460&url=https%3A%2F%2Fshop.example%2F"),
        Sample("GET", f"https://{h}/collect/?pid=3127001&conversionId=8105412&fmt=gif")])
    sample(*r("linkedin", "/wa"), ("px.ads.linkedin.com",), lambda h: [Sample(
        "POST", f"https://{h}/wa/", js({"pids": [12345678], "signalType": "PAGE_VISIT", "url": "https://shop.example/",
                                        "websiteSignalRequestId": "a8b241ae-049f-6e40-7585-1466dc162595"}), TEXT)])
    sample(*r("linkedin", "/attribution"), ("px.ads.linkedin.com",), lambda h: [
        Sample("GET", f"https://{h}/attribution_trigger?pid=12345678&time=1783018238450&url=https%3A%2F%2Fshop.example%2F")])
    sample(*r("linkedin", "/rest"), ("api.linkedin.com",), lambda h: [
        Sample("POST", f"https://{h}/rest/conversionEvents", js(LI_CAPI), JSON)])

    sample(*r("pinterest", "/v3"), ("ct.pinterest.com",), lambda h: [
        Sample("GET", f"https://{h}/v3/?tid=2612733222301&event=checkout&ed=%7B%22value%22%3A%2280%22%2C%22currency%22%3A%22USD%22%7D"),
        Sample("GET", f"https://{h}/v3/?tid=2612733222301&noscript=1")])
    sample(*r("pinterest", "/user"), ("ct.pinterest.com",), lambda h: [
        Sample("GET", f"https://{h}/user/?tid=2612733222301&cb=1233538014046")])
    sample(*r("pinterest", "/v5"), ("api.pinterest.com",), lambda h: [
        Sample("POST", f"https://{h}/v5/ad_accounts/549755885175/events", js(PIN_CAPI), JSON)])
    sample(*r("pinterest", "/events/v3"), ("ct.pinterest.com",), lambda h: [  # legacy API (RudderStack)
        Sample("POST", f"https://{h}/events/v3", js(PIN_LEGACY_CAPI), JSON)])

    sample(*r("reddit", "/rp"), ("alb.reddit.com",), lambda h: [
        Sample("GET", f"https://{h}/rp.gif?ts=1&id=t2_b4kw4fzh&event=PageVisit&m.itemCount=&m.value="),
        Sample("POST", f"https://{h}/rp?id=a2_j892kaf0wxc6&event=Custom", form({"m.customEventName": "Signup"}), FORM)])
    sample(*r("reddit", "/api/v2"), ("ads-api.reddit.com",), lambda h: [
        Sample("POST", f"https://{h}/api/v2.0/conversions/events/t2_abc123", js(REDDIT_V2), JSON)])
    sample(*r("reddit", "/api/v3"), ("ads-api.reddit.com",), lambda h: [
        Sample("POST", f"https://{h}/api/v3/pixels/a2_i470svrjbwmv/conversion_events", js(REDDIT_V3), JSON)])

    snap = routes[r("snapchat", "/p")].hosts
    sample(*r("snapchat", "/p"), snap, lambda h: [
        Sample("GET", f"https://{h}/p?pid=6e8044a0-9669-417b-8667-cfd1d4c37f5d&ev=PAGE_VIEW&intg=gtm"),
        Sample("POST", f"https://{h}/p", js({"ctx": {}, "req": [
            {"t": {"pid": "301bc76a-867d-419a-afb1-1ce91680f333", "ev": "PAGE_VIEW", "intg": "blotout"}},
            {"i": {"pids": ["301bc76a"]}}]}), JSON),
        Sample("POST", f"https://{h}/p", js({"ctx": {}, "req": [{"log": {"name": "SB", "message": ""}}]}), TEXT)])
    sample(*r("snapchat", "/v3"), snap, lambda h: [
        Sample("POST", f"https://{h}/v3/b2ade379-a55e-4ca7-893b-b9fac04c843f/events", js(SNAP_V3), JSON)])
    sample(*r("snapchat", "/v2"), snap, lambda h: [
        Sample("POST", f"https://{h}/v2/conversion", js({"pixel_id": "b2ade379-a55e-4ca7-893b-b9fac04c843f",
                                                         "event_type": "PURCHASE", "event_conversion_type": "WEB",
                                                         "timestamp": "1783018238000", "price": "49.9"}), JSON)])

    sample(*r("tiktok", "/api/v2/pixel/(perf"), ("analytics.tiktok.com",), lambda h: [
        Sample("POST", f"https://{h}/api/v2/pixel/perf", js({"action": "perf"}), TEXT),
        Sample("POST", f"https://{h}/api/v2/monitor", js({"metric": "init"}), TEXT)])
    sample(*r("tiktok", "/api/v2/pixel(/act)"), ("analytics.tiktok.com",), lambda h: [
        Sample("POST", f"https://{h}/api/v2/pixel", js(TIKTOK_PIXEL), TEXT),
        Sample("POST", f"https://{h}/api/v2/pixel/act", js(TIKTOK_PIXEL), TEXT),
        Sample("POST", f"https://{h}/api/v1/track", js(TIKTOK_PIXEL), JSON)])
    sample(*r("tiktok", "/open_api"), ("business-api.tiktok.com",), lambda h: [
        Sample("POST", f"https://{h}/open_api/v1.3/event/track/", js(TIKTOK_API), JSON)])

    sample(*r("google", "(?:/[^/]+)*/g/collect"), (
        "www.google-analytics.com", "region1.google-analytics.com", "analytics.google.com", "sgtm.shop.example",
        "shop.example"), lambda h: [
        Sample("GET", f"https://{h}{'/metrics' if h == 'shop.example' else ''}/g/collect?{GA4}&en=page_view"),
        Sample("POST", f"https://{h}/g/collect?{GA4}", b"en=scroll&epn.percent_scrolled=90\r\nen=user_engagement", TEXT)])
    sample(*r("google", "(?:/[^/]+)+/ag/g/c"), ("6sense.com",), lambda h: [
        Sample("GET", f"https://{h}/pntd/ag/g/c?v=2&tid=G-Q57CXMB28P&gtm=45g92e69u2v871577823&gcs=G111&en=page_view")])
    sample(*r("google", "(?:/[^/]+)+/g/d/ccm"), ("6sense.com",), lambda h: [
        Sample("GET", f"https://{h}/pntd/g/d/ccm/conversion/969809790/?random=1&en=conversion&gtm=45892e69&gcs=G111")])
    sample("google", "/g/collect/?", ("stats.g.doubleclick.net",), lambda h: [
        Sample("POST", f"https://{h}/g/collect?v=2&ngs=1&ibt=1&tid=G-SHOPDEMO42&cid=746406658.1791212460")])
    sample(*r("google", "/pagead/viewthrough"), ("googleads.g.doubleclick.net",), lambda h: [
        Sample("GET", f"https://{h}/pagead/viewthroughconversion/941242151/?value=0&guid=ON&script=0&data=ecomm_pagetype%3Dhome"),
        Sample("GET", f"https://{h}/pagead/viewthroughconversion/1111111/?random=1&label=AbC-D_efG&value=59.8"
                      "&currency_code=EUR&oid=T-1001&data=event%3Dpurchase")])
    sample(*r("google", "/pagead/conversion"), ("www.googleadservices.com",), lambda h: [
        Sample("GET", f"https://{h}/pagead/conversion/987654321/?label=xYz&value=10.0&currency_code=USD&oid=A-7")])
    sample(*r("google", "/pagead/1p-conversion"), ("www.google.com", "www.google.co.in"), lambda h: [
        Sample("GET", f"https://{h}/pagead/1p-conversion/987654321/?label=xYz&value=10.0&currency_code=USD&fst=1")])
    sample(*r("google", "/pagead/1p-user-list"), ("www.google.com", "www.google.com.au"), lambda h: [
        Sample("GET", f"https://{h}/pagead/1p-user-list/984527532/?value=0&guid=ON&script=0&random=4256831513")])
    sample(*r("google", "/td/"), ("td.doubleclick.net",), lambda h: [
        Sample("GET", f"https://{h}/td/rul/941242151?random=1&cv=11&fst=1&fmt=3&bg=ffffff&guid=ON&async=1")])
    sample(*r("google", "/ccm/collect"), ("www.google.com",), lambda h: [
        Sample("POST", f"https://{h}/ccm/collect?tid=AW-797629828&en=page_view&dl=https%3A%2F%2Fshop.example%2F")])
    sample(*r("google", "/ccm/s/collect"), ("ad.doubleclick.net",), lambda h: [
        Sample("POST", f"https://{h}/ccm/s/collect?en=page_view&dl=https%3A%2F%2Fshop.example%2F")])
    sample(*r("google", "/(?:(?:ddm/)?activity"), (
        "1234567.fls.doubleclick.net", "ad.doubleclick.net", "adservice.google.com", "adservice.google.co.in"), lambda h: [
        Sample("GET", f"https://{h}/activityi;src=1234567;type=group1;cat=thank123;qty=1;cost=666.66;ord=xact111?"),
        Sample("GET", f"https://{h}/ddm/activity/src=2542116;type=gblog;cat=googl0;ord=1?"),
        Sample("GET", f"https://{h}/ddm/fls/i/dc_pre=CJ6o77DQ;src=4338867;type=Count-;cat=Etiha-;ord=4336956492503")])


ROUTES: list[Route] = [r for name in vendor_modules()
                       for r in importlib.import_module(f"pixelspy.decoders.{name}").ROUTES]
_fill()
CASES = [(platform, path, host, s) for (platform, path), by_host in SAMPLES.items()
         for host, samples in by_host.items() for s in samples]


def test_every_sink_route_and_host_has_samples():
    sink_routes = {(r.platform, r.path): r for r in ROUTES if r.sink}
    assert set(SAMPLES) == set(sink_routes), "a sink route without samples (or a sample without a route)"
    for key, route in sink_routes.items():
        assert set(route.hosts) <= set(SAMPLES[key]), f"{key}: hosts without a sample"


class Recorder:
    """An upstream proxy that answers nothing: it records the first line of each connection."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.seen: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    self.seen.append(conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1"))
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                except OSError:
                    pass


@pytest.fixture(scope="module")
def sinking(tmp_path_factory) -> Iterator[tuple[PixelspyProcess, Recorder]]:
    recorder = Recorder()
    proc = PixelspyProcess(tmp_path_factory.mktemp("sink"), "--sink", "--mode", f"upstream:http://127.0.0.1:{recorder.port}")
    yield proc, recorder
    proc.stop()
    recorder.sock.close()


@pytest.fixture(scope="module")
def client(sinking):
    with sinking[0].client() as c:
        yield c


@pytest.mark.parametrize("platform,path,host,s", CASES,
                         ids=[f"{p}:{h}:{s.method}:{s.url.split(h, 1)[1][:40]}" for p, _, h, s in CASES])
def test_tracking_request_is_answered_locally(sinking, client, platform, path, host, s):
    headers = {"content-type": s.ctype} if s.ctype else {}
    r = client.request(s.method, s.url, content=s.body or None, headers=headers)
    assert r.headers.get("x-pixelspy") == "sink", f"{s.method} {s.url} was not answered by the sink ({r.status_code})"
    leaked = [line for line in sinking[1].seen if host in line]
    assert not leaked, f"{s.method} {s.url} reached the network: {leaked}"


@pytest.mark.parametrize("url", [
    "https://www.googletagmanager.com/gtm.js?id=GTM-ABC123",  # a loader: the page needs the script
    "https://shop.example/g/collect?foo=1",  # a site's own endpoint on GA4's path, without GA4's signature
    "https://shop.example/activity;src=1;type=a;cat=b",
])
def test_loaders_and_lookalikes_pass_through(sinking, client, url):
    r = client.get(url)
    assert r.headers.get("x-pixelspy") != "sink"
    host = url.split("/")[2]
    assert any(host in line for line in sinking[1].seen), f"{url} did not go upstream"
