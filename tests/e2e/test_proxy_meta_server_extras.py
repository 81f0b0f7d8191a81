"""End to end through `pixelspy --no-ui --sink`: Meta Conversions API and app events, GA4, Snapchat, Reddit."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlencode

PIXEL = "1234567890123456"
APP = "987654321012345"
TOKEN = "EAAGm0PX4ZCpsBAKZC9ZBxZAyHUvMzQ3ZCZAsecretTOKEN0123456789"
EM = hashlib.sha256(b"jane@example.com").hexdigest()


def test_server_app_and_extra_vendor_hits_become_json_lines(pixelspy):
    capi = {"data": [
        {"event_name": "Purchase", "event_time": 1700000000, "event_id": "order-77", "action_source": "website",
         "event_source_url": "https://shop.example/thanks",
         "user_data": {"em": [EM], "client_ip_address": "203.0.113.7", "fbp": "fb.1.1700000000000.1"},
         "custom_data": {"value": 49.9, "currency": "EUR", "content_ids": ["sku-1"], "order_id": "order-77"}},
        {"event_name": "Lead", "event_time": 1700000100, "event_id": "lead-9", "action_source": "website",
         "user_data": {"em": [EM]}},
    ], "test_event_code": "TEST4521", "access_token": TOKEN}
    app_form = {"event": "CUSTOM_APP_EVENTS", "advertiser_tracking_enabled": "true",
                "application_tracking_enabled": "true", "anon_id": "XZ1", "sdk": "android", "format": "json",
                "access_token": f"{APP}|0123456789abcdef0123456789abcdef",
                "custom_events": json.dumps([
                    {"_eventName": "fb_mobile_add_to_cart", "_logTime": 1700000010, "_ui": "Product",
                     "fb_currency": "EUR", "fb_content_id": '["sku-1"]', "_valueToSum": 19.99},
                    {"_eventName": "fb_mobile_purchase", "_logTime": 1700000020, "_ui": "Checkout",
                     "fb_currency": "EUR", "fb_order_id": "A-1001", "_valueToSum": 39.98}])}
    with pixelspy.client() as c:
        r = c.post(f"https://graph.facebook.com/v19.0/{PIXEL}/events", json=capi)
        assert r.status_code == 200 and r.headers["x-pixelspy"] == "sink"  # the vendor's success answer
        c.post(f"https://graph.facebook.com/v17.0/{APP}/activities", data=app_form)
        c.post("https://region1.google-analytics.com/g/collect?v=2&tid=G-ABC123XYZ&cid=1.2&gcs=G111"
               "&dl=https%3A%2F%2Fshop.example%2Fthanks",
               content="en=page_view\r\nen=purchase&cu=EUR&epn.value=59.8&ep.transaction_id=T-1&pr1=idsku-1~qt1",
               headers={"content-type": "text/plain;charset=UTF-8"})
        c.get("https://tr.snapchat.com/p", params={
            "pid": "b2ade379-a55e-4ca7-893b-b9fac04c843f", "ev": "PURCHASE", "e_pr": "42.22", "e_cur": "EUR",
            "e_tid": "T-2", "e_iids": "A12,B20", "cdid": "d-1", "u_hem": EM, "pl": "https://shop.example/thanks"})
        c.get("https://alb.reddit.com/rp.gif?" + urlencode({
            "ts": "1746729079487", "id": "t2_2n40s6z5", "event": "Purchase", "m.valueDecimal": "59.90",
            "m.currency": "EUR", "m.conversionId": "conv-1", "uuid": "u-1", "opt_out": "0"}))
    evs = pixelspy.wait_for(lambda evs: len(evs) == 8)
    by = {(e["platform"], e["event"]): e for e in evs}
    assert len(by) == 8

    purchase, lead = by["meta", "Purchase"], by["meta", "Lead"]
    assert [e["source"] for e in (purchase, lead)] == ["server", "server"]
    assert (purchase["pixel_id"], purchase["event_id"], purchase["test_event_code"]) == (PIXEL, "order-77", "TEST4521")
    assert (purchase["value"], purchase["currency"], purchase["content_ids"]) == ("49.9", "EUR", ["sku-1"])
    assert purchase["params"]["custom_data.value"] == "49.9"
    assert purchase["params"]["access_token"] == "EAAGm0…"
    assert purchase["user_data"] == {"user_data.em": "hashed"}
    assert (lead["event_id"], lead["standard_event"]) == ("lead-9", "Lead")
    assert purchase["hit_id"] == lead["hit_id"]

    cart, app_purchase = by["meta", "fb_mobile_add_to_cart"], by["meta", "fb_mobile_purchase"]
    assert [e["source"] for e in (cart, app_purchase)] == ["app", "app"]
    assert (cart["pixel_id"], cart["standard_event"], cart["value"], cart["content_ids"]) == (
        APP, "AddToCart", "19.99", ["sku-1"])
    assert (app_purchase["standard_event"], app_purchase["value"], app_purchase["currency"]) == (
        "Purchase", "39.98", "EUR")

    ga_page, ga_purchase = by["google", "page_view"], by["google", "purchase"]
    assert ga_page["hit_id"] == ga_purchase["hit_id"] and ga_page["id"] != ga_purchase["id"]
    assert (ga_purchase["pixel_id"], ga_purchase["standard_event"], ga_purchase["value"]) == (
        "G-ABC123XYZ", "Purchase", "59.8")
    assert ga_purchase["content_ids"] == ["sku-1"] and ga_purchase["params"]["gcs"] == "G111"
    assert ga_page["page_url"] == "https://shop.example/thanks"

    snap = by["snapchat", "PURCHASE"]
    assert (snap["standard_event"], snap["value"], snap["event_id"], snap["content_ids"]) == (
        "Purchase", "42.22", "d-1", ["A12", "B20"])
    assert snap["user_data"] == {"u_hem": "hashed"}

    reddit = by["reddit", "Purchase"]
    assert (reddit["pixel_id"], reddit["standard_event"], reddit["value"], reddit["event_id"]) == (
        "t2_2n40s6z5", "Purchase", "59.90", "conv-1")

    assert all(e["decode_errors"] == [] for e in evs)
    written = json.dumps(pixelspy.lines) + "\n".join(pixelspy.stderr_lines)
    assert TOKEN not in written and "0123456789abcdef0123456789abcdef" not in written
