"""A corpus of real-shaped tracking hits, one list per vendor, for the benchmarks.

Each vendor's examples are shaped as its own JS library sends them (GET query, POST form,
sendBeacon text/plain JSON, base64-gzip bodies; see ../shared/spec/platforms.md). `build_corpus()`
keeps only the hits that `pixelspy.decoders.default_registry()` routes to a decoder, so vendors
without a decoder yet drop out and new decoders are picked up as they land. To extend: add a
function `_<vendor>()` returning a list of `Sample`s and list it in `EXAMPLES`.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from urllib.parse import urlencode

from pixelspy.decoders import default_registry
from pixelspy.model import RawHit

SHA_EMAIL = "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"  # sha256("test@example.com")
SHA_PHONE = "254aa248acb47dd654ca3ea53f48c2c26d641d23d7e2e93a1ec56258df7674c4"
VIEW = "view-77"  # the page URL contains it; Sample.hit(serial=) makes each serial a page view of its own
PAGE = f"https://shop.example/product/sku-1?utm_source=news&utm_content={VIEW}"
ORDER = "order-77"  # order and event IDs contain it; Sample.hit(serial=) makes them unique
BROWSER_HEADERS = [
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"),
    ("accept", "*/*"),
    ("accept-language", "en-US,en;q=0.9"),
    ("origin", "https://shop.example"),
    ("referer", "https://shop.example/"),
    ("cookie", "_fbp=fb.1.1700000000000.123456789; OptanonConsent=groups%3DC0001%3A1%2CC0004%3A1"),
]


@dataclass(frozen=True)
class Sample:
    method: str
    url: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    def hit(self, time: float = 0.0, serial: int = 0) -> RawHit:
        """The hit; `serial` makes its order and event IDs and its page view unique, as a real
        session's are: events without IDs are told apart by their page."""
        url, body = self.url, self.body
        if serial:
            for token in (ORDER, VIEW):
                url = url.replace(token, f"{token}-{serial}")
                body = body.replace(token.encode(), f"{token}-{serial}".encode())
        return RawHit(method=self.method, url=url, body=body, time=time, client="127.0.0.1",
                      headers=[*BROWSER_HEADERS, *self.headers])


def _get(url: str, params: dict[str, str]) -> Sample:
    return Sample("GET", f"{url}?{urlencode(params)}", headers=(("accept", "image/avif,image/webp,*/*"),))


def _form(url: str, params: dict[str, str]) -> Sample:
    return Sample("POST", url, urlencode(params).encode(),
                  (("content-type", "application/x-www-form-urlencoded"),))


def _beacon_json(url: str, obj: object, ctype: str = "text/plain;charset=UTF-8") -> Sample:
    return Sample("POST", url, json.dumps(obj, separators=(",", ":")).encode(), (("content-type", ctype),))


def _meta() -> list[Sample]:
    base = {"id": "1234567890123456", "dl": PAGE, "rl": "https://shop.example/", "if": "false",
            "ts": "1700000000000", "sw": "1920", "sh": "1080", "v": "2.9.207", "r": "stable", "ec": "0",
            "o": "4126", "fbp": "fb.1.1700000000000.123456789", "it": "1699999999000", "coo": "false",
            "rqm": "GET"}
    purchase = {**base, "ev": "Purchase", "eid": ORDER, "cd[value]": "49.90", "cd[currency]": "EUR",
                "cd[content_ids]": '["sku-1","sku-2"]', "cd[content_type]": "product",
                "cd[contents]": '[{"id":"sku-1","quantity":1,"item_price":19.9},{"id":"sku-2","quantity":1,"item_price":30}]',
                "cd[num_items]": "2", "ud[em]": SHA_EMAIL, "ud[ph]": SHA_PHONE}
    return [
        _get("https://www.facebook.com/tr/", {**base, "ev": "PageView"}),
        _get("https://www.facebook.com/tr/", {**base, "ev": "ViewContent", "cd[content_ids]": '["sku-1"]',
                                              "cd[content_type]": "product", "cd[value]": "19.90",
                                              "cd[currency]": "EUR"}),
        _form("https://www.facebook.com/tr/", {**purchase, "rqm": "POST"}),
        _get("https://www.facebook.com/privacy_sandbox/pixel/register/trigger/", {**purchase, "rqm": "FGET"}),
        _get("https://www.facebook.com/tr", {"id": "1234567890123456", "ev": "PageView", "noscript": "1"}),
        Sample("GET", "https://connect.facebook.net/en_US/fbevents.js"),
        Sample("GET", "https://connect.facebook.net/signals/config/1234567890123456?v=2.9.207&r=stable"),
    ]


def _tiktok() -> list[Sample]:
    context = {"pixel": {"code": "CABCDE1234567890ABCD", "runtime": "1"},
               "page": {"url": PAGE, "referrer": "https://shop.example/"},
               "library": {"name": "pixel.js", "version": "2.2.1"},
               "user": {"email": SHA_EMAIL, "phone_number": SHA_PHONE, "external_id": "u-42"},
               "device": {"platform": "pc"}, "ad": {"sdk_env": "external"}}
    pay = {"event": "CompletePayment", "event_id": ORDER, "message_id": "messageId-1700000000000-1",
           "timestamp": "2023-11-14T22:13:20.000Z", "is_onsite": False, "context": context,
           "properties": {"value": 49.9, "currency": "EUR", "content_type": "product",
                          "contents": [{"content_id": "sku-1", "quantity": 1, "price": 19.9},
                                       {"content_id": "sku-2", "quantity": 1, "price": 30}]}}
    return [
        _beacon_json("https://analytics.tiktok.com/api/v2/pixel",
                     {**pay, "event": "Pageview", "event_id": "", "properties": {}}),
        _beacon_json("https://analytics.tiktok.com/api/v2/pixel", pay, "application/json"),
        _beacon_json("https://analytics.tiktok.com/api/v2/pixel/act", {**pay, "event": "ClickButton"}),
        Sample("GET", "https://analytics.tiktok.com/i18n/pixel/events.js?sdkid=CABCDE1234567890ABCD&lib=ttq"),
    ]


def _pinterest() -> list[Sample]:
    ad = json.dumps({"loc": PAGE, "ref": "https://shop.example/", "if": False, "sh": 1080, "sw": 1920,
                     "is_eu": True}, separators=(",", ":"))
    pd = json.dumps({"em": SHA_EMAIL, "np": "gtm"}, separators=(",", ":"))
    ed = json.dumps({"value": 49.9, "order_quantity": 2, "currency": "EUR", "order_id": ORDER,
                     "event_id": ORDER, "line_items": [
                         {"product_name": "Shirt", "product_id": "sku-1", "product_price": 19.9, "product_quantity": 1},
                         {"product_name": "Hat", "product_id": "sku-2", "product_price": 30, "product_quantity": 1}]},
                    separators=(",", ":"))
    return [
        _get("https://ct.pinterest.com/v3/", {"tid": "2612345678901", "event": "pagevisit", "ad": ad, "pd": pd,
                                              "cb": "1700000000000"}),
        _get("https://ct.pinterest.com/v3/", {"tid": "2612345678901", "event": "checkout", "ed": ed, "ad": ad,
                                              "pd": pd, "cb": "1700000000001"}),
        Sample("GET", "https://s.pinimg.com/ct/core.js"),
    ]


def _linkedin() -> list[Sample]:
    wa = {"pids": [123456], "scriptVersion": 308, "time": 1700000000000, "domain": "shop.example",
          "url": PAGE, "pageTitle": "Shirt", "websiteSignalRequestId": "0f1e2d3c-aaaa-bbbb-cccc-1234567890ab",
          "isTranslated": False, "liFatId": "", "liGiant": "", "misc": {"psbState": -1},
          "isLinkedInApp": False, "hem": None, "signalType": "PAGE_VISIT"}
    packed = base64.b64encode(gzip.compress(json.dumps(wa, separators=(",", ":")).encode())).decode()
    return [
        _get("https://px.ads.linkedin.com/collect", {"v": "2", "fmt": "js", "pid": "123456",
                                                    "time": "1700000000000", "url": PAGE}),
        _get("https://px.ads.linkedin.com/collect/", {"pid": "123456", "fmt": "gif", "conversionId": "9876543",
                                                     "eventId": ORDER}),
        _beacon_json("https://px.ads.linkedin.com/wa/", wa),
        Sample("POST", "https://px.ads.linkedin.com/wa/?medium=fetch&fmt=g", packed.encode(),
               (("content-type", "text/plain;charset=UTF-8"),)),
        Sample("GET", "https://snap.licdn.com/li.lms-analytics/insight.min.js"),
    ]


def _x() -> list[Sample]:
    common = {"bci": "4", "dv": "Europe/Berlin&en-US&Google Inc.&Linux x86_64&255&1920&1080&24&24&1920&1080&0&na",
              "eci": "3", "event_id": f"5b0b6c2e-{ORDER}", "integration": "advertiser",
              "p_id": "Twitter", "p_user_id": "0", "pl_id": "0f7e0c1d-1111-2222-3333-444455556666",
              "tw_document_href": PAGE, "tw_iframe_status": "0", "txn_id": "o7z1d", "type": "javascript",
              "version": "2.3.30"}
    purchase = {**common, "txn_id": "o87ne", "event": json.dumps(
        {"value": "49.90", "currency": "EUR", "conversion_id": ORDER,
         "contents": [{"content_id": "sku-1", "num_items": 1}]}, separators=(",", ":"))}
    return [
        _get("https://analytics.twitter.com/1/i/adsct", {**common, "event": "{}"}),
        _get("https://t.co/1/i/adsct", {**common, "event": "{}"}),
        _get("https://t.co/1/i/adsct", purchase),
        Sample("GET", "https://static.ads-twitter.com/uwt.js"),
    ]


def _google() -> list[Sample]:
    ga = {"v": "2", "tid": "G-ABC123XYZ", "gtm": "45je3b10v9", "_p": "1700000000000", "gcs": "G111",
          "gcd": "13r3r3r3r5l1", "npa": "0", "dma": "0", "cid": "1234567890.1700000000", "ul": "en-us",
          "sr": "1920x1080", "_s": "2", "sid": "1700000000", "sct": "1", "seg": "1", "dl": PAGE,
          "dt": "Shirt"}
    purchase = {**ga, "en": "purchase", "cu": "EUR", "ep.transaction_id": ORDER, "epn.value": "49.9",
                "pr1": "idsku-1~nmShirt~pr19.9~qt1", "pr2": "idsku-2~nmHat~pr30~qt1"}
    lines = "\n".join(urlencode(e) for e in ({"en": "page_view"}, {"en": "scroll", "epn.percent_scrolled": "90"}))
    return [
        _get("https://region1.google-analytics.com/g/collect", {**ga, "en": "page_view"}),
        _get("https://www.google-analytics.com/g/collect", purchase),
        Sample("POST", f"https://region1.google-analytics.com/g/collect?{urlencode(ga)}", lines.encode(),
               (("content-type", "text/plain;charset=UTF-8"),)),
        _get("https://www.googleadservices.com/pagead/conversion/987654321/",
             {"label": "AbCdEfGhIj", "value": "49.9", "currency_code": "EUR", "oid": ORDER, "gcs": "G111",
              "url": PAGE}),
        _get("https://googleads.g.doubleclick.net/pagead/viewthroughconversion/987654321/",
             {"label": "AbCdEfGhIj", "value": "49.9", "currency_code": "EUR", "oid": ORDER,
              "data": "event=purchase;value=49.9", "url": PAGE}),
    ]


def _snapchat() -> list[Sample]:
    base = {"pid": "0a1b2c3d-4e5f-6789-abcd-ef0123456789", "pl": PAGE, "ts": "1700000000000",
            "u_hem": SHA_EMAIL, "v": "1.5"}
    return [
        _form("https://tr.snapchat.com/p", {**base, "ev": "PAGE_VIEW"}),
        _form("https://tr.snapchat.com/p", {**base, "ev": "PURCHASE", "e_price": "49.9", "e_currency": "EUR",
                                            "e_transaction_id": ORDER, "e_item_ids": "sku-1;sku-2"}),
    ]


def _reddit() -> list[Sample]:
    base = {"id": "t2_abc123", "ts": "1700000000000", "uuid": "1700000000000.0f1e2d3c-aaaa-bbbb"}
    return [
        _get("https://alb.reddit.com/rp.gif", {**base, "event": "PageVisit"}),
        _get("https://alb.reddit.com/rp.gif", {**base, "event": "Purchase", "m.value": "49.90", "m.currency": "EUR",
                                               "m.itemCount": "2", "m.transactionId": ORDER,
                                               "m.conversionId": ORDER}),
    ]


EXAMPLES = {"meta": _meta, "tiktok": _tiktok, "pinterest": _pinterest, "linkedin": _linkedin, "x": _x,
            "google": _google, "snapchat": _snapchat, "reddit": _reddit}


def build_corpus(sink_only: bool = False) -> dict[str, list[Sample]]:
    """Samples by platform, only those the current registry decodes (and answers in sink mode,
    with sink_only). The platform is the route's, so a mislabelled example is not miscounted."""
    registry = default_registry()
    out: dict[str, list[Sample]] = {}
    for make in EXAMPLES.values():
        for sample in make():
            hit = sample.hit()
            found = registry.find(hit.host, hit.path)
            if found is None or (sink_only and not found[0].sinks(hit)):
                continue
            out.setdefault(found[0].platform, []).append(sample)
    return out


if __name__ == "__main__":
    for platform, samples in build_corpus().items():
        print(f"{platform:10} {len(samples)} samples")
