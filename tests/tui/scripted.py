"""A scripted shop visit, used by the TUI snapshot tests and by screenshots/make.py."""

from __future__ import annotations

import itertools
import json
import time
from urllib.parse import urlencode

from pixelspy import model
from pixelspy.model import RawHit
from pixelspy.session import Session

FBP = "fb.1.1764075720000.1596403881"
T0 = time.mktime((2026, 11, 25, 14, 2, 0, 0, 0, -1))


def scripted_hits() -> list[RawHit]:
    """A small shop visit: pixels load, page views, a funnel, a few classic mistakes."""
    meta = "1234567890123456"
    hits = []

    def add(dt: float, method: str, url: str, body: bytes = b"", ctype: str = "", client: str = "127.0.0.1"):
        headers = [("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"),
                   ("referer", "https://shop.example/")]
        if ctype:
            headers.append(("content-type", ctype))
        hits.append(RawHit(method=method, url=url, body=body, headers=headers, time=T0 + dt, client=client))

    def tr(dt: float, **params):
        add(dt, "GET", "https://www.facebook.com/tr/?" + urlencode({"id": meta, "fbp": FBP, **params}))

    add(0.0, "GET", f"https://connect.facebook.net/signals/config/{meta}?v=2.9.179&r=stable")
    tr(0.4, ev="PageView", dl="https://shop.example/", ts=int((T0 + 0.4) * 1000))
    tr(3.1, ev="ViewContent", dl="https://shop.example/p/blue-mug", **{
        "cd[content_ids]": '["mug-blue"]', "cd[content_type]": "product", "cd[value]": "14.90",
        "cd[currency]": "EUR"})
    tr(7.8, ev="AddToCart", dl="https://shop.example/p/blue-mug", **{
        "cd[content_ids]": '["mug-blue"]', "cd[value]": "14.90", "cd[currency]": "EUR"})
    tr(7.9, ev="AddToCart", dl="https://shop.example/p/blue-mug", **{
        "cd[content_ids]": '["mug-blue"]', "cd[value]": "14.90", "cd[currency]": "EUR"})
    tr(15.2, ev="InitiateCheckout", dl="https://shop.example/checkout", **{"cd[num_items]": "1"})
    add(21.7, "POST", "https://www.facebook.com/tr/", urlencode({
        "id": meta, "fbp": FBP, "ev": "Purchase", "eid": "order-1042", "dl": "https://shop.example/checkout/thanks",
        "cd[value]": "$14.90", "cd[content_ids]": '["mug-blue"]', "cd[content_type]": "product",
        "ud[em]": "jane.doe@example.com"}).encode(), "application/x-www-form-urlencoded")
    tr(22.0, ev="purchase", dl="https://shop.example/checkout/thanks", **{"cd[value]": "14.90",
                                                                         "cd[currency]": "EUR"})
    tiktok = "CN8J4Q3C77U0N4A9CVAG"
    add(0.6, "POST", "https://analytics.tiktok.com/api/v2/pixel", json.dumps({
        "event": "Pageview", "message_id": "messageId-1", "event_id": "", "is_onsite": False,
        "timestamp": "2026-11-25T13:02:00.600Z", "context": {
            "pixel": {"code": tiktok}, "page": {"url": "https://shop.example/", "referrer": ""},
            "library": {"name": "pixel.js", "version": "2.2.1"}},
        "properties": {}}).encode(), "text/plain;charset=UTF-8")
    add(21.9, "POST", "https://analytics.tiktok.com/api/v2/pixel", json.dumps({
        "event": "CompletePayment", "message_id": "messageId-2", "event_id": "order-1042",
        "timestamp": "2026-11-25T13:02:21.900Z", "context": {
            "pixel": {"code": tiktok}, "page": {"url": "https://shop.example/checkout/thanks"}},
        "properties": {"value": 14.9, "currency": "EUR", "content_type": "product",
                       "contents": [{"content_id": "mug-blue", "quantity": 1, "price": 14.9}]}}).encode(),
        "text/plain;charset=UTF-8")
    add(22.4, "POST", f"https://graph.facebook.com/v21.0/{meta}/events?access_token=EAAB-secret-token",
        json.dumps({"data": [{"event_name": "Purchase", "event_time": int(T0 + 22), "event_id": "order-1042",
                              "action_source": "website",
                              "event_source_url": "https://shop.example/checkout/thanks",
                              "user_data": {"em": ["4f7d6a1c9b2e8f0a3d5c7b9e1f2a4c6d8e0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f"],
                                            "client_ip_address": "203.0.113.7",
                                            "client_user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)"},
                              "custom_data": {"value": 14.9, "currency": "EUR", "content_ids": ["mug-blue"],
                                              "content_type": "product", "order_id": "order-1042"}}]}).encode(),
        "application/json", client="10.0.0.5")
    for host in ("t.co", "analytics.twitter.com"):
        add(22.6, "GET", f"https://{host}/1/i/adsct?" + urlencode({
            "txn_id": "o7z1d", "p_id": "Twitter", "event_id": "5e1c2b7a-0001", "type": "javascript",
            "version": "2.3.31", "tw_document_href": "https://shop.example/checkout/thanks",
            "event": json.dumps({"value": "14.90", "currency": "EUR", "conversion_id": "order-1042"})}))
    return hits


def build_session() -> Session:
    # Event ids come from a process-wide counter; restart it so ids on screen don't depend on which
    # tests ran before (snapshots compare them).
    model._ids = itertools.count(1)
    session = Session()
    for hit in sorted(scripted_hits(), key=lambda h: h.time):
        session.ingest(hit)
    session.tick(T0 + 60)
    return session
