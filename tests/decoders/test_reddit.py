"""Reddit: Reddit Pixel rp.gif hits, Conversions API v2.0 and v3, the loader."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import quote, urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from pixelspy.decoders import default_registry
from pixelspy.model import Kind, RawHit, Source

PIXEL = "t2_2n40s6z5"
EM = hashlib.sha256(b"jane@example.com").hexdigest()
UUID = "2bc44b75-14f8-4772-a1c1-5d39c30b5042"


def rp_query(**fields: str) -> str:
    """pixel.js sends every field, blank when unset, in this order (real capture)."""
    base = {"ts": "1746729079487", "id": PIXEL, "event": "PageVisit", "m.itemCount": "", "m.value": "",
            "m.valueDecimal": "", "m.currency": "", "m.transactionId": "", "m.customEventName": "",
            "m.products": "", "m.conversionId": "", "uuid": UUID, "aaid": "", "em": "", "pn": "",
            "external_id": "", "idfa": "", "integration": "reddit", "partner": "", "opt_out": "0", "sh": "1280",
            "sw": "720", "v": "rdt_00917691", "dpm": "", "dpcc": "", "dprc": ""}
    return urlencode(base | fields)


def decode(method: str, url: str, body: bytes = b"", **headers: str):
    hit = RawHit(method=method, url=url, body=body, headers=[(k.replace("_", "-"), v) for k, v in headers.items()])
    return default_registry().decode(hit)


def test_page_visit():
    (ev,) = decode("GET", "https://alb.reddit.com/rp.gif?" + rp_query())
    assert (ev.platform, ev.source, ev.kind) == ("reddit", Source.browser, Kind.event)
    assert (ev.pixel_id, ev.event, ev.standard_event) == (PIXEL, "PageVisit", "PageView")
    assert (ev.event_id, ev.value, ev.currency, ev.order_id, ev.content_ids) == (None, None, None, None, ())
    assert ev.user_data == () and ev.decode_errors == ()
    assert ev.endpoint == "/rp.gif GET"
    assert ev.param("uuid") == UUID and ev.param("m.value") == ""
    opt_out = next(p for p in ev.params if p.name == "opt_out")
    assert (opt_out.value, opt_out.group) == ("0", "Consent")


def test_purchase_with_products_dedup_and_ldu():
    products = json.dumps([{"id": "sku-1", "name": "Shirt", "category": "Apparel"}, {"id": "sku-2"}])
    (ev,) = decode("GET", "https://alb.reddit.com/rp.gif?" + rp_query(
        event="Purchase", **{"m.itemCount": "2", "m.value": "5990", "m.valueDecimal": "59.90", "m.currency": "EUR",
                             "m.transactionId": "T-1001", "m.products": products, "m.conversionId": "conv-1001",
                             "em": EM, "dpm": "LDU", "dpcc": "US", "dprc": "US-CA"}))
    assert (ev.event, ev.standard_event, ev.event_id) == ("Purchase", "Purchase", "conv-1001")
    assert (ev.value, ev.currency, ev.order_id) == ("59.90", "EUR", "T-1001")
    assert ev.content_ids == ("sku-1", "sku-2")
    assert [(u.key, u.name, u.hashed) for u in ev.user_data] == [("em", "em", True)]
    assert {p.name: p.value for p in ev.params if p.group == "Consent"} == {
        "opt_out": "0", "dpm": "LDU", "dpcc": "US", "dprc": "US-CA"}
    conversion = next(p for p in ev.params if p.name == "m.conversionId")
    assert (conversion.label, conversion.group) == ("Conversion ID (dedup key)", "Event")
    assert ev.decode_errors == ()


def test_legacy_integer_value_is_used_when_no_decimal():
    (ev,) = decode("GET", "https://alb.reddit.com/rp.gif?" + rp_query(event="AddToCart", **{"m.value": "1999"}))
    assert (ev.standard_event, ev.value) == ("AddToCart", "1999")


def test_custom_event_and_form_post_to_rp():
    (ev,) = decode("POST", "https://alb.reddit.com/rp?id=a2_j892kaf0wxc6&event=Custom",
                   b"m.customEventName=Signup&m.value=", content_type="application/x-www-form-urlencoded")
    assert (ev.pixel_id, ev.event, ev.standard_event) == ("a2_j892kaf0wxc6", "Custom", None)
    assert ev.param("m.customEventName") == "Signup"
    assert ev.endpoint == "/rp POST" and ev.decode_errors == ()


def test_event_names_map_to_canonical():
    names = {"ViewContent": "ViewContent", "Search": "Search", "AddToWishlist": "AddToWishlist", "Lead": "Lead",
             "SignUp": "CompleteRegistration", "Custom": None}
    for name, canonical in names.items():
        (ev,) = decode("GET", "https://alb.reddit.com/rp.gif?" + rp_query(event=name))
        assert (ev.event, ev.standard_event) == (name, canonical)


def test_plain_email_is_reported_unhashed():
    (ev,) = decode("GET", "https://alb.reddit.com/rp.gif?" + rp_query(event="Lead", em="jane@example.com"))
    assert [(u.key, u.hashed) for u in ev.user_data] == [("em", False)]


def test_pixel_garbage_is_decode_errors():
    (ev,) = decode("GET", "https://alb.reddit.com/rp.gif?m.products=%5B%7B&%zz")
    assert "no pixel ID (id)" in ev.decode_errors and "no event name (event)" in ev.decode_errors
    assert any("m.products" in e for e in ev.decode_errors)
    assert any("percent-encoding" in e for e in ev.decode_errors)
    (ev,) = decode("POST", "https://alb.reddit.com/rp", b'{"id":"x"}', content_type="application/json")
    assert any("JSON" in e for e in ev.decode_errors)


def test_loader():
    (ev,) = decode("GET", "https://www.redditstatic.com/ads/pixel.js?pixel_id=a2_j892kaf0wxc6",
                   referer="https://shop.example/")
    assert (ev.kind, ev.pixel_id, ev.endpoint, ev.page_url) == (Kind.pixel_loaded, "a2_j892kaf0wxc6", "pixel.js",
                                                                 "https://shop.example/")
    assert default_registry().find("www.redditstatic.com", "/ads/pixel.js")[0].sink is False
    assert decode("GET", "https://www.redditstatic.com/ads/conversions-config/v1/pixel/config/t2_x") == []


# ---------------------------------------------------------------- Conversions API


def test_capi_v2():
    body = {"test_mode": True, "events": [
        {"event_at": "2024-05-01T12:00:00Z", "event_type": {"tracking_type": "Purchase"}, "click_id": "rdt-click-1",
         "event_metadata": {"item_count": 2, "currency": "USD", "value_decimal": 59.9, "value": 5990,
                            "conversion_id": "conv-1001", "products": [{"id": "sku-1", "name": "Shirt",
                                                                        "category": "Apparel"}]},
         "user": {"email": EM, "external_id": "customer-42", "ip_address": "203.0.113.7",
                  "user_agent": "Mozilla/5.0", "uuid": UUID, "opt_out": False}},
        {"event_at": "2024-05-01T12:01:00Z", "event_type": {"tracking_type": "Custom",
                                                            "custom_event_name": "QuizDone"}, "user": {}}]}
    purchase, custom = decode("POST", "https://ads-api.reddit.com/api/v2.0/conversions/events/t2_abc123",
                              json.dumps(body).encode(), content_type="application/json",
                              authorization="Bearer secret")
    for ev in (purchase, custom):
        assert (ev.platform, ev.source, ev.pixel_id) == ("reddit", Source.server, "t2_abc123")
        assert (ev.test_event_code, ev.endpoint) == ("true", "Conversions API v2.0")
        assert ev.decode_errors == ()
    assert (purchase.event, purchase.standard_event, purchase.event_id) == ("Purchase", "Purchase", "conv-1001")
    assert (purchase.value, purchase.currency, purchase.content_ids) == ("59.9", "USD", ("sku-1",))
    assert [(u.key, u.name, u.hashed) for u in purchase.user_data] == [
        ("em", "user.email", True), ("external_id", "user.external_id", False)]
    assert purchase.param("event_metadata.item_count") == "2"
    assert (custom.event, custom.standard_event, custom.param("event_type.custom_event_name")) == (
        "Custom", None, "QuizDone")


def test_capi_v3_with_test_id():
    body = {"data": {"test_id": "t2_20lcxjcqah", "events": [
        {"event_at": 1714564800000, "action_source": "WEBSITE", "type": {"tracking_type": "SignUp"},
         "metadata": {"conversion_id": "su-7"}, "user": {"email": EM, "phone_number": EM}}]}}
    (ev,) = decode("POST", "https://ads-api.reddit.com/api/v3/pixels/a2_i470svrjbwmv/conversion_events",
                   json.dumps(body).encode(), content_type="application/json")
    assert (ev.source, ev.pixel_id, ev.event, ev.standard_event, ev.event_id) == (
        Source.server, "a2_i470svrjbwmv", "SignUp", "CompleteRegistration", "su-7")
    assert ev.test_event_code == "t2_20lcxjcqah"
    assert [(u.key, u.hashed) for u in ev.user_data] == [("em", True), ("ph", True)]
    assert ev.param("data.test_id") == "t2_20lcxjcqah" and ev.param("data.events") is None
    (ev,) = decode("POST", "https://ads-api.reddit.com/api/v3/pixels/a2_x/conversion_events?test_id=t2_q",
                   json.dumps({"data": {"events": body["data"]["events"]}}).encode(), content_type="application/json")
    assert ev.test_event_code == "t2_q"


def test_capi_without_test_mode_is_not_a_test():
    (ev,) = decode("POST", "https://ads-api.reddit.com/api/v2.0/conversions/events/t2_abc",
                   json.dumps({"test_mode": False, "events": [{"event_type": {"tracking_type": "Lead"}}]}).encode(),
                   content_type="application/json")
    assert (ev.event, ev.test_event_code) == ("Lead", None)


def test_capi_garbage_is_decode_errors():
    (ev,) = decode("POST", "https://ads-api.reddit.com/api/v3/pixels/a2_x/conversion_events", b"\x00\xff{",
                   content_type="application/json")
    assert ev.pixel_id == "a2_x" and ev.source == Source.server
    assert any("JSON" in e for e in ev.decode_errors)
    (ev,) = decode("POST", "https://ads-api.reddit.com/api/v2.0/conversions/events/t2_abc",
                   json.dumps({"events": [{"event_type": "Purchase"}]}).encode(), content_type="application/json")
    assert "no event name (event_type.tracking_type)" in ev.decode_errors


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(["alb.reddit.com/rp.gif", "alb.reddit.com/rp",
                             "ads-api.reddit.com/api/v2.0/conversions/events/t2_a",
                             "ads-api.reddit.com/api/v3/pixels/a2_b/conversion_events"]),
       method=st.sampled_from(["GET", "POST"]),
       query=st.lists(st.tuples(st.sampled_from(["id", "event", "m.products", "m.valueDecimal", "em", "test_id"]),
                                st.text(max_size=20)), max_size=6),
       payload=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                                st.sampled_from(["data", "events", "event_type", "type", "tracking_type", "metadata",
                                                 "event_metadata", "products", "user", "email", "test_mode"]),
                                inner, max_size=4), max_leaves=12),
       raw=st.binary(max_size=100), as_json=st.booleans())
def test_fuzz_never_raises(path, method, query, payload, raw, as_json):
    url = f"https://{path}?" + "&".join(f"{k}={quote(v)}" for k, v in query)
    body, ctype = (json.dumps(payload).encode(), "application/json") if as_json else (raw, "text/plain")
    for ev in decode(method, url, body, content_type=ctype):
        assert not any(e.startswith("decoder error:") for e in ev.decode_errors)
