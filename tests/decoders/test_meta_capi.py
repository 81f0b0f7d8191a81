"""Meta Conversions API batches (source=server) and Facebook SDK app events (source=app)."""

from __future__ import annotations

import gzip
import http.server
import hashlib
import json
from urllib.parse import quote, urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from pixelspy.decoders import default_registry
from pixelspy.model import RawHit, Source
from tests.conftest import local_server

PIXEL = "1234567890123456"
APP = "987654321012345"
TOKEN = "EAAGm0PX4ZCpsBAKZC9ZBxZAyHUvMzQ3ZCZAtokenTOKENtoken0123456789"
EM = hashlib.sha256(b"jane@example.com").hexdigest()
PH = hashlib.sha256(b"4915112345678").hexdigest()
EXT = hashlib.sha256(b"customer-42").hexdigest()

PURCHASE = {
    "event_name": "Purchase", "event_time": 1700000000, "event_id": "order-77", "action_source": "website",
    "event_source_url": "https://shop.example/thanks",
    "user_data": {"em": [EM], "ph": [PH], "external_id": ["customer-42"], "fbp": "fb.1.1700000000000.123",
                  "fbc": "fb.1.1700000000000.IwAR2xyz", "client_ip_address": "203.0.113.7",
                  "client_user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"},
    "custom_data": {"value": 49.9, "currency": "EUR", "content_ids": ["sku-1", "sku-2"], "content_type": "product",
                    "contents": [{"id": "sku-1", "quantity": 1}, {"id": "sku-2", "quantity": 1}],
                    "order_id": "order-77", "num_items": 2},
    "opt_out": False, "data_processing_options": ["LDU"], "data_processing_options_country": 1,
    "data_processing_options_state": 1000,
}
LEAD = {"event_name": "Lead", "event_time": 1700000100, "event_id": "lead-9", "action_source": "website",
        "event_source_url": "https://shop.example/contact", "user_data": {"em": EM, "external_id": EXT},
        "custom_data": {"contents": [{"id": "form-a"}]}}


def decode(method: str, url: str, body: bytes = b"", **headers: str):
    hit = RawHit(method=method, url=url, body=body, headers=[(k.replace("_", "-"), v) for k, v in headers.items()])
    return default_registry().decode(hit)


def json_post(url: str, payload) -> list:
    return decode("POST", url, json.dumps(payload).encode(), content_type="application/json")


# ---------------------------------------------------------------- Conversions API


def test_json_batch_is_one_event_per_element():
    # The Node business SDK: JSON body with the token and test code beside `data`.
    purchase, lead = json_post(f"https://graph.facebook.com/v19.0/{PIXEL}/events",
                               {"data": [PURCHASE, LEAD], "test_event_code": "TEST4521", "access_token": TOKEN,
                                "partner_agent": "nodejs-sdk"})
    for ev in (purchase, lead):
        assert (ev.platform, ev.source, ev.pixel_id) == ("meta", Source.server, PIXEL)
        assert ev.test_event_code == "TEST4521"
        assert ev.endpoint == "Conversions API"
        assert ev.decode_errors == ()
        assert ev.param("access_token") == "EAAGm0…"
        assert ev.param("partner_agent") == "nodejs-sdk"
    assert (purchase.event, purchase.standard_event, purchase.event_id) == ("Purchase", "Purchase", "order-77")
    assert purchase.page_url == "https://shop.example/thanks"
    assert (purchase.value, purchase.currency, purchase.order_id) == ("49.9", "EUR", "order-77")
    assert purchase.content_ids == ("sku-1", "sku-2")
    assert [(u.key, u.name, u.hashed) for u in purchase.user_data] == [
        ("em", "user_data.em", True), ("ph", "user_data.ph", True), ("external_id", "user_data.external_id", False)]
    assert purchase.param("event_time") == "1700000000"
    assert purchase.param("custom_data.value") == "49.9"
    assert purchase.param("custom_data.content_ids") == '["sku-1","sku-2"]'
    assert purchase.param("user_data.em") == json.dumps([EM])
    assert purchase.param("user_data.fbp") == "fb.1.1700000000000.123"  # unhashed by design: a param only
    assert purchase.param("opt_out") == "false"
    assert purchase.param("data_processing_options") == '["LDU"]'
    value = next(p for p in purchase.params if p.name == "custom_data.value")
    assert (value.label, value.group) == ("Value", "Custom data")
    dpo = next(p for p in purchase.params if p.name == "data_processing_options_state")
    assert (dpo.value, dpo.group) == ("1000", "Consent")
    assert (lead.event, lead.standard_event, lead.event_id) == ("Lead", "Lead", "lead-9")
    assert (lead.value, lead.currency, lead.order_id) == (None, None, None)
    assert lead.content_ids == ("form-a",)  # from contents when content_ids is absent
    assert [(u.key, u.hashed) for u in lead.user_data] == [("em", True), ("external_id", True)]
    assert not any(TOKEN in p.value for ev in (purchase, lead) for p in ev.params)


def test_form_encoded_batch_as_the_python_sdk_sends_it():
    # facebook_business posts form fields; `data` holds the JSON list; no Graph version in the path.
    body = urlencode({"data": json.dumps([LEAD]), "test_event_code": "TEST1", "access_token": TOKEN,
                      "appsecret_proof": "5f4dcc3b5aa765d61d8327deb882cf99a" * 2})
    (ev,) = decode("POST", f"https://graph.facebook.com/{PIXEL}/events", body.encode(),
                   content_type="application/x-www-form-urlencoded")
    assert (ev.pixel_id, ev.event, ev.event_id, ev.test_event_code) == (PIXEL, "Lead", "lead-9", "TEST1")
    assert ev.param("data") is None  # the list is decoded into the event, not repeated
    assert ev.param("access_token") == "EAAGm0…" and ev.param("appsecret_proof").endswith("…")
    assert ev.decode_errors == ()


def test_token_and_test_code_in_the_query():
    (ev,) = json_post(f"https://graph.facebook.com/v18.0/{PIXEL}/events?access_token={TOKEN}"
                      "&test_event_code=TEST77", {"data": [PURCHASE]})
    assert ev.test_event_code == "TEST77"
    assert ev.param("access_token") == "EAAGm0…"
    assert ev.source == Source.server


def test_custom_and_lowercase_names_are_not_standard():
    a, b = json_post(f"https://graph.facebook.com/v19.0/{PIXEL}/events",
                     {"data": [{**LEAD, "event_name": "purchase"}, {**LEAD, "event_name": "QuizDone"}]})
    assert (a.event, a.standard_event, b.event, b.standard_event) == ("purchase", None, "QuizDone", None)


def test_broken_batches_are_decode_errors_on_one_event():
    (ev,) = decode("POST", f"https://graph.facebook.com/v19.0/{PIXEL}/events", b'{"data": [{"event_name": "Purc',
                   content_type="application/json")
    assert ev.pixel_id == PIXEL and ev.source == Source.server
    assert any("not valid JSON" in e for e in ev.decode_errors)
    (ev,) = json_post(f"https://graph.facebook.com/v19.0/{PIXEL}/events", {"data": {"event_name": "Lead"}})
    assert any("no events" in e for e in ev.decode_errors)
    (ev,) = decode("POST", f"https://graph.facebook.com/v19.0/{PIXEL}/events")
    assert any("no events" in e for e in ev.decode_errors)
    ok, bad, nameless = json_post(f"https://graph.facebook.com/v19.0/{PIXEL}/events",
                                  {"data": [LEAD, "oops", {"custom_data": {"value": 1}}]})
    assert ok.decode_errors == () and ok.event == "Lead"
    assert any("not a JSON object" in e for e in bad.decode_errors)
    assert "no event name (event_name)" in nameless.decode_errors and nameless.value == "1"
    (ev,) = decode("POST", f"https://graph.facebook.com/v19.0/{PIXEL}/events",
                   b"data=%5B%7B%22event_name%22%3A&access_token=" + TOKEN.encode(),
                   content_type="application/x-www-form-urlencoded")
    assert any("form field data" in e for e in ev.decode_errors)
    assert ev.param("access_token") == "EAAGm0…"


def test_graph_housekeeping_is_not_routed():
    for path in (f"/v19.0/{APP}?fields=supports_implicit_sdk_logging,app_events_feature_bitmask",
                 f"/v19.0/{APP}/app_indexing_session", f"/v19.0/{APP}/instruments", "/v19.0/me"):
        assert decode("GET", "https://graph.facebook.com" + path) == []
        assert default_registry().find("graph.facebook.com", path.split("?")[0]) is None


# ---------------------------------------------------------------- app events

# What AppEvent builds per event (Android): _eventName, its md5, _logTime (s), _ui, parameters as
# strings, _valueToSum as a number, _implicitlyLogged for SDK-logged events.
APP_EVENTS = [
    {"_eventName": "fb_mobile_activate_app", "_eventName_md5": "a0f1", "_logTime": 1700000000, "_ui": "no_ui",
     "_session_id": "5b0c2a3e-0d2f-4f7e-9f59-0b8c0d2d1c11", "fb_mobile_launch_source": "Unclassified",
     "_implicitlyLogged": "1"},
    {"_eventName": "fb_mobile_add_to_cart", "_eventName_md5": "b1c2", "_logTime": 1700000010,
     "_ui": "ProductActivity", "fb_content_type": "product", "fb_content_id": '["sku-1"]', "fb_currency": "EUR",
     "_valueToSum": 19.99},
    {"_eventName": "fb_mobile_purchase", "_eventName_md5": "c2d3", "_logTime": 1700000020, "_ui": "CheckoutActivity",
     "fb_currency": "EUR", "fb_num_items": "2", "fb_order_id": "A-1001",
     "fb_content": '[{"id":"sku-1","quantity":1},{"id":"sku-2","quantity":1}]', "_valueToSum": 39.98},
    {"_eventName": "level_cleared", "_logTime": 1700000030, "_ui": "GameActivity", "level": "3"},
]
ANDROID_FIELDS = {
    "event": "CUSTOM_APP_EVENTS", "advertiser_id": "38400000-8cf0-11bd-b23e-10b96e40000d",
    "advertiser_tracking_enabled": "true", "anon_id": "XZ7b5c6d4e-1f2a-4b3c-8d9e-0a1b2c3d4e5f",
    "application_tracking_enabled": "true",
    "extinfo": json.dumps(["a2", "com.shop.app", 120, "1.2.0", "14", "Pixel 8", "en_US", "CET", "", 1080, 2400,
                           "2.6", 8, 118, 52, "Europe/Berlin"]),
    "ud": json.dumps({"em": EM, "ph": PH, "cn": hashlib.sha256(b"de").hexdigest()}),
    "application_package_name": "com.shop.app", "custom_events": json.dumps(APP_EVENTS),
    "access_token": f"{APP}|0123456789abcdef0123456789abcdef", "sdk": "android", "format": "json",
}


def test_android_sdk_flush_gzip_form_is_one_event_per_app_event():
    # GraphRequest: x-www-form-urlencoded, gzip-compressed, to /<version>/<app>/activities.
    body = gzip.compress(urlencode(ANDROID_FIELDS).encode())
    events = decode("POST", f"https://graph.facebook.com/v17.0/{APP}/activities", body,
                    content_type="application/x-www-form-urlencoded", content_encoding="gzip",
                    user_agent="FBAndroidSDK.17.0.0")
    assert [e.event for e in events] == ["fb_mobile_activate_app", "fb_mobile_add_to_cart", "fb_mobile_purchase",
                                         "level_cleared"]
    assert [e.standard_event for e in events] == [None, "AddToCart", "Purchase", None]
    for ev in events:
        assert (ev.platform, ev.source, ev.pixel_id) == ("meta", Source.app, APP)
        assert ev.endpoint == "app events CUSTOM_APP_EVENTS (android SDK)"
        assert ev.decode_errors == ()
        assert [(u.key, u.name, u.hashed) for u in ev.user_data] == [
            ("em", "ud.em", True), ("ph", "ud.ph", True), ("country", "ud.cn", True)]
        assert ev.param("access_token") == f"{APP[:6]}…"
        assert ev.param("advertiser_tracking_enabled") == "true"
        assert ev.param("custom_events") is None
    activate, cart, purchase, custom = events
    assert activate.param("custom_events._implicitlyLogged") == "1"
    assert (cart.value, cart.currency, cart.content_ids) == ("19.99", "EUR", ("sku-1",))
    assert (purchase.value, purchase.currency, purchase.order_id) == ("39.98", "EUR", "A-1001")
    assert purchase.content_ids == ("sku-1", "sku-2")
    assert purchase.param("custom_events.fb_num_items") == "2"
    value = next(p for p in purchase.params if p.name == "custom_events._valueToSum")
    assert (value.value, value.label, value.group) == ("39.98", "Value", "Custom data")
    att = next(p for p in purchase.params if p.name == "advertiser_tracking_enabled")
    assert att.group == "Consent"
    assert custom.param("custom_events.level") == "3"


def test_ios_sdk_multipart_form():
    boundary = "3i2ndDfv2rTHiSisAbouNdArYfORhtTPEefj3q2f"
    fields = {**ANDROID_FIELDS, "sdk": "ios", "custom_events": json.dumps(APP_EVENTS[2:3])}
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                    for k, v in fields.items()) + f"--{boundary}--\r\n".encode()
    (ev,) = decode("POST", f"https://graph.facebook.com/v16.0/{APP}/activities", body,
                   content_type=f"multipart/form-data; boundary={boundary}")
    assert (ev.event, ev.standard_event, ev.value, ev.order_id) == ("fb_mobile_purchase", "Purchase", "39.98", "A-1001")
    assert ev.endpoint == "app events CUSTOM_APP_EVENTS (ios SDK)"
    assert ev.decode_errors == ()


def test_older_sdks_attach_the_events_as_a_file():
    boundary = "xYzZY"
    parts = [("event", "CUSTOM_APP_EVENTS", ""), ("custom_events_file", json.dumps(APP_EVENTS[1:2]),
                                                 '; filename="custom_events_file"\r\nContent-Type: content/unknown')]
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"{extra}\r\n\r\n{v}\r\n'.encode()
                    for k, v, extra in parts) + f"--{boundary}--\r\n".encode()
    (ev,) = decode("POST", f"https://graph.facebook.com/{APP}/activities", body,
                   content_type=f"multipart/form-data; boundary={boundary}")
    assert (ev.event, ev.standard_event, ev.value) == ("fb_mobile_add_to_cart", "AddToCart", "19.99")
    assert ev.decode_errors == ()


def test_install_is_one_event_and_housekeeping_activities_are_none():
    fields = {k: v for k, v in ANDROID_FIELDS.items() if k != "custom_events"} | {"event": "MOBILE_APP_INSTALL"}
    (ev,) = decode("POST", f"https://graph.facebook.com/v17.0/{APP}/activities", urlencode(fields).encode(),
                   content_type="application/x-www-form-urlencoded")
    assert (ev.event, ev.standard_event, ev.source, ev.pixel_id) == ("MOBILE_APP_INSTALL", None, Source.app, APP)
    assert ev.param("anon_id") == ANDROID_FIELDS["anon_id"]
    assert decode("POST", f"https://graph.facebook.com/v17.0/{APP}/activities",
                  b"event=DEFERRED_APP_LINK&advertiser_id=x&application_tracking_enabled=true",
                  content_type="application/x-www-form-urlencoded") == []


def test_web_named_events_from_the_sdk_are_standard():
    fields = ANDROID_FIELDS | {"custom_events": json.dumps([{"_eventName": "Subscribe", "_valueToSum": 9.99,
                                                             "fb_currency": "USD", "fb_order_id": "sub-1"}])}
    (ev,) = decode("POST", f"https://graph.facebook.com/v17.0/{APP}/activities", urlencode(fields).encode(),
                   content_type="application/x-www-form-urlencoded")
    assert (ev.event, ev.standard_event, ev.order_id) == ("Subscribe", "Subscribe", "sub-1")


def test_broken_app_events_are_decode_errors():
    fields = ANDROID_FIELDS | {"custom_events": '[{"_eventName":"fb_mobile_purch', "ud": "{not json"}
    (ev,) = decode("POST", f"https://graph.facebook.com/v17.0/{APP}/activities", urlencode(fields).encode(),
                   content_type="application/x-www-form-urlencoded")
    assert ev.source == Source.app and ev.pixel_id == APP and ev.event is None
    assert any("custom_events" in e and "JSON" in e for e in ev.decode_errors)
    assert any(e.startswith("ud is not valid JSON") for e in ev.decode_errors)
    (ev,) = decode("POST", f"https://graph.facebook.com/v17.0/{APP}/activities", b"\x1f\x8b\x08garbage",
                   content_type="application/x-www-form-urlencoded", content_encoding="gzip")
    assert "no activity type (event)" in ev.decode_errors
    assert any("gzip" in e for e in ev.decode_errors)


def test_user_data_as_bracketed_form_fields():
    # RudderStack's Facebook App Events destination posts ud[em]=…&ud[fn]=… (Graph API object syntax)
    # rather than the SDKs' ud={"em": …}; its test data holds a casino game's spin_result.
    fields = {"event": "CUSTOM_APP_EVENTS", "advertiser_id": "df16bffa-5c3d-4fbb-9bce-3bab098129a7", "ud[em]": EM,
              "ud[ph]": PH, "ud[cn]": "de", "custom_events": json.dumps([{"_eventName": "spin_result"}]),
              "advertiser_tracking_enabled": "0", "application_tracking_enabled": "0"}
    (ev,) = decode("POST", f"https://graph.facebook.com/v25.0/{APP}/activities?access_token=t",
                   urlencode(fields).encode(), content_type="application/x-www-form-urlencoded", user_agent="RudderLabs")
    assert [(u.name, u.key, u.hashed) for u in ev.user_data] == [
        ("ud[em]", "em", True), ("ud[ph]", "ph", True), ("ud[cn]", "country", False)]


def test_log_time_label_holds_for_the_sdks_seconds_and_rudderstacks_milliseconds():
    # The SDKs send _logTime in seconds; RudderStack's App Events destination sends milliseconds
    # (1567333011693 in its test data): the label must hold for both.
    fields = {"event": "CUSTOM_APP_EVENTS", "advertiser_tracking_enabled": "0", "application_tracking_enabled": "0",
              "custom_events": json.dumps([{"_logTime": 1567333011693, "_eventName": "Viewed Screen"}])}
    (ev,) = decode("POST", f"https://graph.facebook.com/v25.0/{APP}/activities?access_token=t",
                   urlencode(fields).encode(), content_type="application/x-www-form-urlencoded", user_agent="RudderLabs")
    [log_time] = [p for p in ev.params if p.name == "custom_events._logTime"]
    assert (log_time.value, log_time.label) == ("1567333011693", "Log time (Unix time; the SDKs send seconds)")


def test_app_event_fields_posted_as_json():
    payload = {"event": "CUSTOM_APP_EVENTS", "ud": {"em": EM}, "custom_events": APP_EVENTS[1:3]}
    cart, purchase = json_post(f"https://graph.facebook.com/v17.0/{APP}/activities", payload)
    assert (cart.standard_event, purchase.standard_event, purchase.order_id) == ("AddToCart", "Purchase", "A-1001")
    assert [(u.name, u.hashed) for u in cart.user_data] == [("ud.em", True)]
    assert json_post(f"https://graph.facebook.com/v17.0/{APP}/activities", {"event": ["CUSTOM_APP_EVENTS"]}) == []
    (ev,) = json_post(f"https://graph.facebook.com/v17.0/{APP}/activities",
                      {"event": "CUSTOM_APP_EVENTS", "custom_events": {"_eventName": "x"}})
    assert ev.event is None and any("not a JSON object" in e for e in ev.decode_errors)


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from([f"/v19.0/{PIXEL}/events", f"/{PIXEL}/events", f"/v17.0/{APP}/activities"]),
       payload=st.recursive(
           st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
           | st.sampled_from(["Purchase", "CUSTOM_APP_EVENTS", "MOBILE_APP_INSTALL", "[", "{}"]),
           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
               st.sampled_from(["data", "event_name", "event_id", "custom_data", "user_data", "value", "contents",
                                "content_ids", "em", "event", "custom_events", "ud", "_eventName", "_valueToSum",
                                "fb_content", "fb_content_id", "test_event_code", "access_token"])
               | st.text(max_size=5),
               inner, max_size=5),
           max_leaves=20),
       as_form=st.booleans(), raw=st.binary(max_size=64))
def test_fuzz_never_raises(path, payload, as_form, raw):
    if as_form and isinstance(payload, dict):
        body = "&".join(f"{quote(str(k))}={quote(v if isinstance(v, str) else json.dumps(v))}"
                        for k, v in payload.items()).encode()
        ctype = "application/x-www-form-urlencoded"
    else:
        body, ctype = json.dumps(payload).encode() + raw, "application/json"
    for ev in decode("POST", "https://graph.facebook.com" + path, body, content_type=ctype):
        assert not any(e.startswith("decoder error:") for e in ev.decode_errors)


# ---------------------------------------------------------------- Graph API batch requests


class _RecordingGraph(http.server.BaseHTTPRequestHandler):
    """Stands in for graph.facebook.com: keeps each request, answers a batch as the Graph API does."""

    seen: list[RawHit] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.seen.append(RawHit(method="POST", url=f"https://graph.facebook.com{self.path}", body=body,
                                headers=tuple(self.headers.items())))
        answer = json.dumps([{"code": 200, "headers": [], "body": '{"events_received": 1}'}] * 2).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *a):
        pass


def sdk_batch_request() -> RawHit:
    """The request facebook-business's batch API sends for two Conversions API calls and an ads read:
    made by the SDK itself (AdsPixel.create_event(batch=…), FacebookAdsApiBatch.execute) against a
    local stand-in for graph.facebook.com."""
    from facebook_business.adobjects.adspixel import AdsPixel
    from facebook_business.api import FacebookAdsApi

    _RecordingGraph.seen = []
    with local_server(_RecordingGraph) as url:
        api = FacebookAdsApi.init(access_token=TOKEN, api_version="v21.0")
        api._session.GRAPH = url
        batch = api.new_batch()
        # `data` is declared list<string>: each event a JSON string of its own.
        AdsPixel(PIXEL, api=api).create_event(params={"data": [json.dumps(PURCHASE)], "test_event_code": "TEST4521"},
                                              batch=batch)
        AdsPixel(PIXEL, api=api).create_event(params={"data": [json.dumps(LEAD)]}, batch=batch)
        batch.add("GET", "me/adaccounts")
        batch.execute()
    (hit,) = _RecordingGraph.seen
    return hit


def test_graph_batch_of_the_business_sdk_is_one_event_per_conversions_call():
    hit = sdk_batch_request()
    assert hit.path == "/v21.0/" and "batch=" in hit.body.decode()
    purchase, lead = default_registry().decode(hit)
    assert (purchase.source, purchase.pixel_id, purchase.event, purchase.event_id) == (
        Source.server, PIXEL, "Purchase", "order-77")
    assert (purchase.value, purchase.currency, purchase.content_ids) == ("49.9", "EUR", ("sku-1", "sku-2"))
    assert purchase.test_event_code == "TEST4521" and lead.test_event_code is None
    assert (lead.event, lead.event_id) == ("Lead", "lead-9")
    assert purchase.endpoint == "Conversions API (batch call 1/3)" and lead.endpoint.endswith("2/3)")
    assert purchase.decode_errors == lead.decode_errors == ()
    assert TOKEN not in json.dumps([purchase.json_line(), lead.json_line()])  # the token is masked
    assert {u.key for u in purchase.user_data} >= {"em", "ph", "external_id"}


def test_graph_batch_without_conversions_calls_is_not_tracking():
    body = urlencode({"batch": json.dumps([{"method": "GET", "relative_url": "me"},
                                           {"method": "GET", "relative_url": f"{PIXEL}/events"}])})
    hit = RawHit(method="POST", url=f"https://graph.facebook.com/v21.0/?access_token={TOKEN}", body=body.encode(),
                 headers=(("content-type", "application/x-www-form-urlencoded"),))
    route, _ = default_registry().find(hit.host, hit.path)
    assert not route.sinks(hit) and default_registry().decode(hit) == []  # passes through, not listed
    events_call = body.replace("GET", "POST", 2)
    hit = RawHit(method="POST", url=hit.url, body=events_call.encode(), headers=hit.headers)
    assert route.sinks(hit)
