"""End to end: TikTok and Pinterest hits, browser and server, through `pixelspy --no-ui --sink`."""

from __future__ import annotations

import json
from urllib.parse import quote

TIKTOK_PIXEL = "CABCDEFGHIJ1234567890"
PINTEREST_TAG = "2612345678901"
AD_ACCOUNT = "549755885175"
EMAIL_SHA = "f660ab912ec121d1b1e928a0bb4bc61b15f5ad44d5efdc4e1c92a25e99b8e44a"


def test_tiktok_and_pinterest_browser_and_server_hits_are_decoded(pixelspy):
    beacon = {
        "event": "CompletePayment", "event_id": "order-77", "message_id": "messageId-1-2-CABC",
        "timestamp": "2026-06-29T17:52:13.505Z",
        "context": {"pixel": {"code": TIKTOK_PIXEL}, "page": {"url": "https://shop.example/thanks"},
                    "user": {"email": EMAIL_SHA}, "library": {"name": "pixel.js", "version": "2.2.1"}},
        "properties": {"value": "49.90", "currency": "EUR", "contents": [{"content_id": "sku-1", "quantity": 1}]},
        "signal_diagnostic_labels": {"hashed_email": {"label": "valid"}},
    }
    events_api = {"event_source": "web", "event_source_id": TIKTOK_PIXEL, "test_event_code": "TEST123", "data": [
        {"event": "CompletePayment", "event_time": 1700000000, "event_id": "order-77",
         "user": {"email": EMAIL_SHA, "ip": "203.0.113.7"}, "properties": {"value": 49.9, "currency": "EUR"}},
        {"event": "Pageview", "event_time": 1700000001, "event_id": "pv-1", "page": {"url": "https://shop.example/"}},
    ]}
    ed = quote(json.dumps({"value": 116, "currency": "USD", "order_id": "A-1", "event_id": "order-88",
                           "line_items": [{"product_id": "11"}, {"product_id": "15"}]}))
    ad = quote(json.dumps({"loc": "https://shop.example/checkout", "ref": "", "if": False}))
    capi = {"data": [{"event_name": "checkout", "action_source": "web", "event_time": 1700000000,
                      "event_id": "order-88", "user_data": {"em": [EMAIL_SHA]},
                      "custom_data": {"value": "116", "currency": "USD", "order_id": "A-1"}}]}
    with pixelspy.client() as c:
        r = c.post("https://analytics.tiktok.com/api/v2/pixel", content=json.dumps(beacon).encode(),
                   headers={"content-type": "text/plain;charset=UTF-8", "origin": "https://shop.example"})
        assert r.status_code == 204 and r.headers["x-pixelspy"] == "sink"
        r = c.post("https://business-api.tiktok.com/open_api/v1.3/event/track/", json=events_api,
                   headers={"Access-Token": "tt-secret-access-token-123456"})
        assert r.status_code == 200  # the sink answers server APIs like the vendor
        r = c.get(f"https://ct.pinterest.com/v3/?tid={PINTEREST_TAG}&event=checkout&ed={ed}&ad={ad}&cb=1700000000000")
        assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
        r = c.post(f"https://api.pinterest.com/v5/ad_accounts/{AD_ACCOUNT}/events?test=true", json=capi,
                   headers={"authorization": "Bearer pina-secret"})
        assert r.status_code == 200  # the sink answers server APIs like the vendor

    evs = pixelspy.wait_for(lambda evs: len(evs) >= 5)
    assert len(evs) == 5
    tt_browser, tt_purchase, tt_pageview, pin_tag, pin_capi = evs

    assert (tt_browser["platform"], tt_browser["source"], tt_browser["pixel_id"]) == ("tiktok", "browser", TIKTOK_PIXEL)
    assert (tt_browser["event"], tt_browser["standard_event"], tt_browser["event_id"]) == ("CompletePayment", "Purchase", "order-77")
    assert (tt_browser["value"], tt_browser["currency"], tt_browser["content_ids"]) == ("49.90", "EUR", ["sku-1"])
    assert tt_browser["page_url"] == "https://shop.example/thanks"
    assert tt_browser["user_data"] == {"context.user.email": "hashed"}
    assert tt_browser["params"]["signal_diagnostic_labels.hashed_email.label"] == "valid"
    assert tt_browser["endpoint"] == "/api/v2/pixel beacon" and tt_browser["decode_errors"] == []

    for ev in (tt_purchase, tt_pageview):
        assert (ev["platform"], ev["source"], ev["pixel_id"]) == ("tiktok", "server", TIKTOK_PIXEL)
        assert ev["test_event_code"] == "TEST123" and ev["endpoint"] == "Events API 2.0 /event/track"
        assert "tt-secret-access-token-123456" not in json.dumps(ev)
    assert (tt_purchase["event"], tt_purchase["standard_event"], tt_purchase["event_id"]) == ("CompletePayment", "Purchase", "order-77")
    assert (tt_purchase["value"], tt_purchase["user_data"]) == ("49.9", {"user.email": "hashed"})
    assert (tt_pageview["standard_event"], tt_pageview["page_url"]) == ("PageView", "https://shop.example/")

    assert (pin_tag["platform"], pin_tag["source"], pin_tag["pixel_id"]) == ("pinterest", "browser", PINTEREST_TAG)
    assert (pin_tag["event"], pin_tag["standard_event"], pin_tag["event_id"]) == ("checkout", "Purchase", "order-88")
    assert (pin_tag["value"], pin_tag["currency"], pin_tag["content_ids"]) == ("116", "USD", ["11", "15"])
    assert pin_tag["page_url"] == "https://shop.example/checkout" and pin_tag["params"]["ed.order_id"] == "A-1"

    assert (pin_capi["platform"], pin_capi["source"], pin_capi["pixel_id"]) == ("pinterest", "server", AD_ACCOUNT)
    assert (pin_capi["event"], pin_capi["standard_event"], pin_capi["event_id"]) == ("checkout", "Purchase", "order-88")
    assert (pin_capi["test_event_code"], pin_capi["user_data"]) == ("test=true", {"user_data.em": "hashed"})
    assert "pina-secret" not in json.dumps(pin_capi)
