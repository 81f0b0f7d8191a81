"""TikTok decoder: ttq beacons, Events API requests and loaders, shaped as TikTok's code sends them.

Browser bodies are real captures (a public TikTok-parser test, atomkraftwerke24.de; Omnibug's TikTok
test for the legacy v1 shape); server bodies follow TikTok's Business API SDK models.
"""

from __future__ import annotations

import base64
import gzip
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pixelspy.decoders import default_registry
from pixelspy.model import Kind, RawHit, Source

PIXEL = "C1234567890"
EMAIL_SHA = "8d9b70fd20e23919cfe664ea5e571db39d72ba1bf17bf57e909ada24be9aa3aa"
PHONE_SHA = "860e1f38de021b232b96ab7a01bd906d0275f7f2a7ee331ebbcf890e8aec0c71"
PIXEL_URL = "https://analytics.tiktok.com/api/v2/pixel"
EVENTS_API = "https://business-api.tiktok.com/open_api/v1.3/event/track/"
BEACON = [("content-type", "text/plain;charset=UTF-8"), ("origin", "https://atomkraftwerke24.de")]
TOKEN = "b7e4c2d9a1f0e8d7c6b5a4f3e2d1c0b9a8f7e6d5"


def context(**extra):
    return {
        "ad": {"sdk_env": "external", "jsb_status": 2}, "device": {"platform": "pc"}, "user": {},
        "pixel": {"code": PIXEL, "runtime": "1"},
        "page": {"url": "https://atomkraftwerke24.de/ectest.html?gtm_debug=1782755224649",
                 "referrer": "https://tagassistant.google.com/"},
        "library": {"name": "pixel.js", "version": "legacy-2.2.1"}, **extra,
    }


PAGEVIEW = {
    "event": "Pageview", "event_id": "", "message_id": "messageId-1782755227730-8018620532307-C1234567890",
    "is_onsite": False, "timestamp": "2026-06-29T17:47:07.730Z", "context": context(),
    "properties": {},
    "signal_diagnostic_labels": {"raw_email": {"label": "missing"}, "raw_phone": {"label": "missing"},
                                 "hashed_email": {"label": "missing"}},
}
COMPLETE_REGISTRATION = {
    "event": "CompleteRegistration", "event_id": "ID1",
    "message_id": "messageId-1782755341369-2457282617858-C1234567890", "is_onsite": False,
    "timestamp": "2026-06-29T17:49:01.369Z",
    "context": context(user={"phone_number": PHONE_SHA, "email": EMAIL_SHA, "external_id": "123456"}),
    "_inspection": {"identity_params": {"email_is_hashed": ["plain_email", "plain_mdn_email"],
                                        "sha256_email": ["empty_value"]}},
    "properties": {"gtm_version": "0_2_02:14", "event_trigger_source": "GoogleTagManagerClient",
                   "currency": "USD", "value": 0},
    "signal_diagnostic_labels": {
        "raw_email": {"label": "valid"},
        "raw_phone": {"label": "invalid", "abnormal_types": ["invalid_country", "invalid_country_after_inject_plus"]},
    },
}
ADD_TO_CART = {
    "event": "AddToCart", "event_id": "ID1", "message_id": "messageId-1782755533505-3769975450859-C1234567890",
    "is_onsite": False, "timestamp": "2026-06-29T17:52:13.505Z",
    "context": context(user={"email": EMAIL_SHA, "phone_number": PHONE_SHA, "external_id": "123456"}),
    "properties": {
        "currency": "EUR", "value": "99.95", "content_type": "product",
        "contents": [
            {"content_id": 119, "content_name": "Brennstäbchen (6 x Bundle)", "price": 99.95, "quantity": 1},
            {"content_id": 33, "content_name": "Atomkraftwerk (klein)", "price": 11000000.42, "quantity": 1},
        ],
    },
}


def beacon(body, url=PIXEL_URL, headers=BEACON) -> RawHit:
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return RawHit(method="POST", url=url, headers=headers, body=raw)


def decode(hit: RawHit):
    return default_registry().decode(hit)


def one(hit: RawHit):
    events = decode(hit)
    assert len(events) == 1, events
    return events[0]


# ---------------------------------------------------------------- browser: /api/v2/pixel


def test_pageview_beacon_is_a_page_view_with_an_empty_event_id():
    ev = one(beacon(PAGEVIEW))
    assert (ev.platform, ev.source, ev.kind) == ("tiktok", Source.browser, Kind.event)
    assert (ev.event, ev.standard_event) == ("Pageview", "PageView")
    assert ev.pixel_id == PIXEL
    assert ev.event_id is None and ev.param("event_id") == ""
    assert ev.page_url == "https://atomkraftwerke24.de/ectest.html?gtm_debug=1782755224649"
    assert ev.param("context.page.referrer") == "https://tagassistant.google.com/"
    assert ev.param("context.library.version") == "legacy-2.2.1"
    assert ev.param("message_id") == "messageId-1782755227730-8018620532307-C1234567890"
    assert ev.param("is_onsite") == "false"
    assert (ev.value, ev.currency, ev.content_ids, ev.order_id) == (None, None, (), None)
    assert ev.user_data == () and ev.decode_errors == ()
    assert ev.endpoint == "/api/v2/pixel beacon"


def test_advanced_matching_and_tiktoks_own_diagnostics():
    ev = one(beacon(COMPLETE_REGISTRATION))
    assert (ev.event, ev.standard_event, ev.event_id) == ("CompleteRegistration", "CompleteRegistration", "ID1")
    assert (ev.value, ev.currency) == ("0", "USD")
    users = {u.name: (u.key, u.hashed, u.value) for u in ev.user_data}
    assert users == {
        "context.user.email": ("em", True, EMAIL_SHA),
        "context.user.phone_number": ("ph", True, PHONE_SHA),
        "context.user.external_id": ("external_id", False, "123456"),
    }
    diagnostics = {p.name: p.value for p in ev.params if p.group == "TikTok diagnostics"}
    assert diagnostics == {
        "signal_diagnostic_labels.raw_email.label": "valid",
        "signal_diagnostic_labels.raw_phone.label": "invalid",
        "signal_diagnostic_labels.raw_phone.abnormal_types": '["invalid_country","invalid_country_after_inject_plus"]',
        "_inspection.identity_params.email_is_hashed": '["plain_email","plain_mdn_email"]',
        "_inspection.identity_params.sha256_email": '["empty_value"]',
    }
    labels = {p.name: (p.label, p.group) for p in ev.params}
    assert labels["context.user.email"] == ("Email", "User data")
    assert labels["properties.gtm_version"] == ("Property: gtm_version", "Properties")


def test_fetch_json_cart_with_contents():
    ev = one(beacon(ADD_TO_CART, headers=[("content-type", "application/json")]))
    assert (ev.event, ev.standard_event) == ("AddToCart", "AddToCart")
    assert (ev.value, ev.currency) == ("99.95", "EUR")
    assert ev.content_ids == ("119", "33")
    assert ev.param("properties.contents") == json.dumps(ADD_TO_CART["properties"]["contents"],
                                                        separators=(",", ":"), ensure_ascii=False)
    assert ev.param("properties.content_type") == "product"
    assert ev.endpoint == "/api/v2/pixel fetch"


def test_event_names_map_to_canonical_ones():
    expected = {"CompletePayment": "Purchase", "SubmitForm": "Lead", "PlaceAnOrder": "PlaceAnOrder",
                "ClickButton": "ClickButton", "InitiateCheckout": "InitiateCheckout", "Download": "Download",
                "purchase": None, "MyCustomEvent": None}
    for wire, canonical in expected.items():
        ev = one(beacon({**ADD_TO_CART, "event": wire}))
        assert (ev.event, ev.standard_event) == (wire, canonical)


def test_content_ids_from_content_ids_or_content_id_and_order_id():
    props = {"content_ids": ["a", "b"], "value": 10, "currency": "EUR", "order_id": "o-9"}
    ev = one(beacon({**PAGEVIEW, "event": "CompletePayment", "properties": props}))
    assert (ev.content_ids, ev.order_id, ev.value) == (("a", "b"), "o-9", "10")
    ev = one(beacon({**PAGEVIEW, "event": "ViewContent", "properties": {"content_id": "sku-1"}}))
    assert ev.content_ids == ("sku-1",)


def test_act_auto_collected_click():
    body = {
        "message_id": "messageId-1693305715553-9911832003575", "event_id": "", "is_onsite": False,
        "timestamp": "2023-08-29T10:41:55.553Z",
        "context": context(pixel={"code": "C3LTV833G487IS978FKG", "runtime": "1",
                                  "codes": "C3LTV833G487IS978FKG|C2D2TAIQV140ORDIHT80"}),
        "_inspection": {}, "properties": {}, "action": "Click",
        "auto_collected_properties": {"trigger_element": {"tag": "INPUT", "inner_text": "",
                                                          "position": {"x": 599, "y": 570.6}}},
    }
    ev = one(beacon(body, url=PIXEL_URL + "/act"))
    assert (ev.event, ev.standard_event, ev.pixel_id) == ("Click", None, "C3LTV833G487IS978FKG")
    assert ev.param("context.pixel.codes") == "C3LTV833G487IS978FKG|C2D2TAIQV140ORDIHT80"
    assert ev.param("auto_collected_properties.trigger_element.tag") == "INPUT"
    assert [p.group for p in ev.params if p.name.startswith("auto_")] == ["Auto-collected"] * 4
    assert ev.endpoint == "/api/v2/pixel/act beacon" and ev.decode_errors == ()


def test_legacy_v1_track_decodes_the_percent_encoded_page_url():
    body = {"event": "AddToCart", "context": {
        "ad": {"ad_id": "", "req_id": "", "creative_id": "", "log_extra": "{}", "idc": "", "convert_id": "", "callback": ""},
        "user": {"user_id": "", "device_id": ""}, "pixel": {"code": "BT24M8TQUU2IQ2BVG9NG"},
        "page": {"url": "https%3A%2F%2Fdigital-intelligence.myshopify.com%2F", "referrer": ""},
        "library": {"version": "0.0.24", "name": "pixel.js"}},
        "analytics_uniq_id": "f1udvvnn6gt0jhsn6wirp3q", "timestamp": "2020-09-04T11:22:12.961Z"}
    ev = one(beacon(body, url="https://analytics.tiktok.com/api/v1/track",
                    headers=[("content-type", "application/json")]))
    assert (ev.event, ev.standard_event, ev.pixel_id) == ("AddToCart", "AddToCart", "BT24M8TQUU2IQ2BVG9NG")
    assert ev.page_url == "https://digital-intelligence.myshopify.com/"
    assert ev.param("context.page.url") == "https%3A%2F%2Fdigital-intelligence.myshopify.com%2F"
    assert ev.param("analytics_uniq_id") == "f1udvvnn6gt0jhsn6wirp3q"
    assert ev.endpoint == "/api/v1/track fetch"


def test_base64_get_transport():
    message = base64.b64encode(json.dumps(ADD_TO_CART).encode()).decode()
    ev = one(RawHit(method="GET", url=f"{PIXEL_URL}/act?analytics_message={message}"))
    assert (ev.event, ev.pixel_id, ev.value) == ("AddToCart", PIXEL, "99.95")
    assert ev.endpoint == "/api/v2/pixel/act GET" and ev.decode_errors == ()


def test_internal_and_telemetry_hits_are_not_events_but_are_sunk():
    registry = default_registry()
    assert decode(beacon({**PAGEVIEW, "event": "EnrichAM"})) == []
    for path in ("/api/v2/pixel/perf", "/api/v2/monitor", "/api/v2/pixel/inter"):
        hit = beacon({"event": "perf", "context": {"pixel": {"code": PIXEL}}},
                     url="https://analytics.tiktok.com" + path)
        assert decode(hit) == []
        route, _ = registry.find(hit.host, hit.path)
        assert route.sink and route.platform == "tiktok"


def test_loaders_are_pixel_loaded_and_pass_through():
    registry = default_registry()
    hit = RawHit(method="GET", url=f"https://analytics.tiktok.com/i18n/pixel/events.js?sdkid={PIXEL}&lib=ttq",
                 headers=[("referer", "https://shop.example/")])
    ev = one(hit)
    assert (ev.kind, ev.pixel_id, ev.page_url, ev.endpoint) == (Kind.pixel_loaded, PIXEL, "https://shop.example/", "events.js")
    assert registry.find(hit.host, hit.path)[0].sink is False
    for url in ("https://analytics.tiktok.com/i18n/pixel/sdk.js?sdkid=BT24PR2UH19GN34U0RP0",
                "https://analytics.tiktok.com/i18n/pixel/static/main.MTFmNDQ3MjM1MQ.js"):
        ev = one(RawHit(method="GET", url=url))
        assert ev.kind == Kind.pixel_loaded
    assert one(RawHit(method="GET", url="https://analytics.tiktok.com/i18n/pixel/sdk.js?sdkid=BT24PR2UH19GN34U0RP0")).pixel_id == "BT24PR2UH19GN34U0RP0"


# ---------------------------------------------------------------- server: Events API


def events_api(body, url=EVENTS_API) -> RawHit:
    return RawHit(method="POST", url=url, body=json.dumps(body).encode(),
                  headers=[("content-type", "application/json"), ("Access-Token", TOKEN)])


def test_events_api_2_batch_is_one_event_per_data_element():
    body = {"event_source": "web", "event_source_id": PIXEL, "test_event_code": "TEST35231", "data": [
        {"event": "CompletePayment", "event_time": 1700000000, "event_id": "order-77",
         "user": {"email": EMAIL_SHA, "phone": PHONE_SHA, "external_id": "cust-1", "ttclid": "E.C.P.abc",
                  "ttp": "2Y4ZEbWqxG3ywCz2b0i0jaaPsNl", "ip": "203.0.113.7", "user_agent": "Mozilla/5.0"},
         "page": {"url": "https://shop.example/thanks", "referrer": "https://shop.example/cart"},
         "properties": {"currency": "EUR", "value": 49.9, "content_type": "product", "order_id": "order-77",
                        "contents": [{"content_id": "sku-1", "quantity": 2, "price": 24.95}]}},
        {"event": "Pageview", "event_time": 1700000001, "event_id": "pv-1",
         "page": {"url": "https://shop.example/"}},
    ]}
    purchase, pageview = decode(events_api(body))
    assert (purchase.platform, purchase.source) == ("tiktok", Source.server)
    assert (purchase.event, purchase.standard_event, purchase.event_id) == ("CompletePayment", "Purchase", "order-77")
    assert purchase.pixel_id == PIXEL and purchase.test_event_code == "TEST35231"
    assert (purchase.value, purchase.currency, purchase.order_id) == ("49.9", "EUR", "order-77")
    assert purchase.content_ids == ("sku-1",)
    assert purchase.page_url == "https://shop.example/thanks"
    assert {u.name: (u.key, u.hashed) for u in purchase.user_data} == {
        "user.email": ("em", True), "user.phone": ("ph", True), "user.external_id": ("external_id", False)}
    assert purchase.param("user.ttp") == "2Y4ZEbWqxG3ywCz2b0i0jaaPsNl"
    assert purchase.param("event_source") == "web" and purchase.param("event_time") == "1700000000"
    assert purchase.endpoint == "Events API 2.0 /event/track"
    assert (pageview.event, pageview.standard_event, pageview.event_id) == ("Pageview", "PageView", "pv-1")
    assert pageview.page_url == "https://shop.example/" and pageview.pixel_id == PIXEL
    assert pageview.test_event_code == "TEST35231" and pageview.value is None
    for ev in (purchase, pageview):
        assert ev.decode_errors == ()
        assert all(TOKEN not in p.value and p.name.lower() != "access-token" for p in ev.params)


def test_events_api_legacy_track_and_batch_on_v12_and_v13():
    track = {"pixel_code": PIXEL, "event": "SubmitForm", "event_id": "lead-1", "timestamp": "2024-05-01T10:00:00Z",
             "test_event_code": "TEST1",
             "context": {"page": {"url": "https://shop.example/contact"}, "ip": "203.0.113.7",
                         "user_agent": "Mozilla/5.0", "ad": {"callback": "E.C.P.xyz"},
                         "user": {"email": EMAIL_SHA, "phone_number": PHONE_SHA, "external_id": "42", "ttp": "ttp"}},
             "properties": {"value": "5", "currency": "USD"}}
    for version in ("v1.2", "v1.3"):
        ev = one(events_api(track, url=f"https://business-api.tiktok.com/open_api/{version}/pixel/track/"))
        assert (ev.source, ev.pixel_id, ev.event, ev.standard_event) == (Source.server, PIXEL, "SubmitForm", "Lead")
        assert (ev.event_id, ev.test_event_code, ev.value, ev.currency) == ("lead-1", "TEST1", "5", "USD")
        assert ev.page_url == "https://shop.example/contact"
        assert [u.name for u in ev.user_data] == ["context.user.email", "context.user.phone_number",
                                                  "context.user.external_id"]
        assert ev.param("context.ad.callback") == "E.C.P.xyz"
        assert ev.endpoint == "Events API /pixel/track (legacy)" and ev.decode_errors == ()

    batch = {"pixel_code": PIXEL, "batch": [
        {"type": "track", "event": "ViewContent", "event_id": "v1", "timestamp": "2024-05-01T10:00:00Z",
         "properties": {"content_id": "sku-9"}, "context": {"page": {"url": "https://shop.example/p/9"}}},
        {"type": "track", "event": "AddToWishlist", "event_id": "w1", "timestamp": "2024-05-01T10:00:05Z"},
    ]}
    view, wish = decode(events_api(batch, url="https://business-api.tiktok.com/open_api/v1.3/pixel/batch/"))
    assert (view.event, view.event_id, view.content_ids, view.page_url) == ("ViewContent", "v1", ("sku-9",), "https://shop.example/p/9")
    assert (wish.event, wish.standard_event, wish.event_id) == ("AddToWishlist", "AddToWishlist", "w1")
    assert view.pixel_id == wish.pixel_id == PIXEL
    assert view.param("pixel_code") == PIXEL and view.param("type") == "track"
    assert view.endpoint == "Events API /pixel/batch (legacy)"


# ---------------------------------------------------------------- broken input


def test_truncated_beacon_decodes_what_came_before_the_cut():
    raw = json.dumps(ADD_TO_CART).encode()
    cut = raw[: raw.index(b'"properties"') + 30]
    ev = one(beacon(cut))
    assert (ev.event, ev.pixel_id, ev.event_id) == ("AddToCart", PIXEL, "ID1")
    assert len(ev.decode_errors) == 1 and "truncated or invalid JSON" in ev.decode_errors[0]


def test_garbage_bodies_become_decode_errors():
    cases = {
        b"": "empty body",
        b"event=Pageview&pixel=1": "body is not JSON",
        b"\xff\xfe{\"event\":\"Pageview\"}": "not valid UTF-8",
        b"[1, 2]": "not a JSON object",
        b"{\"event\": [\"x\"], \"context\": 5}": "no pixel code",
    }
    for body, error in cases.items():
        events = decode(beacon(body))
        assert events and all(any(error in e for e in ev.decode_errors) for ev in events), (body, events)
    gz = RawHit(method="POST", url=PIXEL_URL, body=gzip.compress(json.dumps(PAGEVIEW).encode())[:40],
                headers=[("content-type", "application/json"), ("content-encoding", "gzip")])
    assert one(gz).decode_errors
    api = decode(events_api({"event_source_id": PIXEL, "data": "nope"}))
    assert len(api) == 1 and api[0].pixel_id == PIXEL
    assert api[0].decode_errors == ("no events (data is not a non-empty list)",)
    api = decode(RawHit(method="POST", url=EVENTS_API, body=b'{"event_source_id":"C1","data":[{"event":"Lead"'))
    assert len(api) == 1 and api[0].decode_errors[0].startswith("body is not valid JSON")


EVENT_URLS = [
    PIXEL_URL, PIXEL_URL + "/act", "https://analytics.tiktok.com/api/v1/track",
    EVENTS_API, "https://business-api.tiktok.com/open_api/v1.2/pixel/track/",
    "https://business-api.tiktok.com/open_api/v1.3/pixel/batch/",
]
KEYS = ["event", "action", "event_id", "context", "pixel", "code", "page", "url", "user", "email",
        "properties", "value", "contents", "content_id", "content_ids", "data", "batch", "pixel_code",
        "event_source_id", "test_event_code", "signal_diagnostic_labels"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4),
                                                                inner, max_size=4),
    max_leaves=20,
)
bodies = st.one_of(
    st.binary(max_size=200),
    st.tuples(json_values, st.integers(0, 400)).map(lambda t: json.dumps(t[0]).encode()[: t[1] or None]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(url=st.sampled_from(EVENT_URLS), body=bodies,
       ctype=st.sampled_from(["text/plain;charset=UTF-8", "application/json", "", "application/x-www-form-urlencoded",
                              "multipart/form-data; boundary=x"]),
       query=st.text(max_size=30), method=st.sampled_from(["POST", "GET"]))
def test_fuzz_never_crashes_and_always_yields_events(url, body, ctype, query, method):
    hit = RawHit(method=method, url=f"{url}?{query}", body=body, headers=[("content-type", ctype)] if ctype else [])
    events = decode(hit)
    assert all(not any(e.startswith("decoder error:") for e in ev.decode_errors) for ev in events)
    assert events or b"EnrichAM" in body
