"""End to end: a shop's funnel in real headless Chromium → pixelspy (`--no-ui --sink`), with the five
vendors' base codes as published (Meta fbq, TikTok ttq, Pinterest pintrk, LinkedIn lintrk, X twq),
held by the real vanilla-cookieconsent CMP, and three planted mistakes.

The vendors' CDNs are unreachable, so Playwright serves a stand-in (shop_site/standins/) at each
loader URL and nothing else: every hit leaves through Chromium's own network stack (image GETs,
sendBeacon, keepalive fetch, a form POST into an iframe; cookies, HTTP/2) and the proxy.
docs/browser-tests.md describes the set-up.

The visitor lands on the shop, reads the banner, accepts, views a product, adds it to the cart,
checks out and orders. Planted mistakes, and nothing else may be flagged:
- X's base code is pasted outside the CMP: its landing page view is `pre-consent`;
- the product page has Meta's base code twice: its two PageViews are `duplicate-event`;
- TikTok's CompletePayment has no currency: `missing-param`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.browser import (  # noqa: F401 - cmp_package is a fixture
    chromium_through, cmp_package, new_context, require_chromium, serve, server_side_includes, wait_for_events,
)

pytest.importorskip("playwright.sync_api")

SITE = Path(__file__).parent / "shop_site"
SHOP = json.loads((SITE / "shop" / "catalog.json").read_text(encoding="utf-8"))
# Loader URL → stand-in served in its place (the only requests answered by Playwright).
STAND_INS = {
    r"https://connect\.facebook\.net/en_US/fbevents\.js": "fbevents.js",
    r"https://analytics\.tiktok\.com/i18n/pixel/events\.js\?sdkid=\w+&lib=ttq": "tiktok-events.js",
    r"https://s\.pinimg\.com/ct/core\.js": "pinterest-core.js",
    r"https://snap\.licdn\.com/li\.lms-analytics/insight\.min\.js": "linkedin-insight.js",
    r"https://static\.ads-twitter\.com/uwt\.js": "x-uwt.js",
}
META, TIKTOK, PINTEREST, LINKEDIN, X = "917364502183746", "CQ8K3RJC77U0A1B2C3D4", "2613876543210", "5218364", "o7z1d"
# Shop event → LinkedIn conversion rule, X event tag (as configured in shop/tags.js).
LINKEDIN_RULES = {"add_to_cart": "18800101", "begin_checkout": "18800102", "purchase": "18800103"}
X_TAGS = {"view_item": "oa1cv", "add_to_cart": "oa2ac", "begin_checkout": "oa3ci", "purchase": "oa4pu"}

LANDING, PRODUCT, CHECKOUT, THANKS = "/", "/product.html", "/checkout.html", "/thanks.html"


# ---- what pixelspy must decode: one row per event ------------------------------------------------
# (page, platform, kind, event, standard event, pixel, event ID, value, currency, content IDs,
#  endpoint, finding codes)

def row(page, platform, event, standard, pixel, shop_event=None, *, endpoint, codes=(), kind="event",
        value=True, currency=True, ids=True):
    e = SHOP["events"][shop_event] if shop_event else {}
    return (page, platform, kind, event, standard, pixel, e.get("event_id"),
            str(e["value"]) if e and value else None, e["currency"] if e and currency else None,
            tuple(i["id"] for i in e["items"]) if e and ids else (), endpoint, tuple(sorted(codes)))


def page_views(page, *, x_codes=(), meta_copies=1):
    return [
        row(page, "x", "pageview", "PageView", X, endpoint="/1/i/adsct", codes=x_codes),
        *[row(page, "meta", "PageView", "PageView", META, endpoint="/tr image",
              codes=("duplicate-event",) if meta_copies > 1 else ()) for _ in range(meta_copies)],
        row(page, "tiktok", "Pageview", "PageView", TIKTOK, endpoint="/api/v2/pixel beacon"),
        row(page, "pinterest", "init", None, PINTEREST, endpoint="/v3/ image", kind="pixel_loaded"),
        row(page, "pinterest", "pagevisit", "PageView", PINTEREST, endpoint="/v3/ image"),
        row(page, "linkedin", "PAGE_VISIT", "PageView", LINKEDIN, endpoint="/wa POST (fetch) base64-gzip"),
    ]


def conversions(page, shop_event, meta, tiktok, pinterest=None, *, meta_endpoint="/tr image", tiktok_codes=()):
    rows = [
        row(page, "meta", meta, meta, META, shop_event, endpoint=meta_endpoint),
        row(page, "tiktok", tiktok, "Purchase" if tiktok == "CompletePayment" else tiktok, TIKTOK, shop_event,
            endpoint="/api/v2/pixel beacon", codes=tiktok_codes, currency=not tiktok_codes),
        row(page, "x", X_TAGS[shop_event], None, X_TAGS[shop_event], shop_event,
            endpoint="/1/i/adsct"),
    ]
    if pinterest:
        rows.append(row(page, "pinterest", pinterest, "Purchase" if pinterest == "checkout" else "AddToCart",
                        PINTEREST, shop_event, endpoint="/v3/ image"))
    if shop_event in LINKEDIN_RULES:
        rows.append(row(page, "linkedin", "conversion", None, LINKEDIN, shop_event,
                        endpoint="px /collect script", value=False, currency=False, ids=False))
    return rows


ADDED_TO_CART = conversions(PRODUCT, "add_to_cart", "AddToCart", "AddToCart", "addtocart")
EXPECTED = {
    LANDING: page_views(LANDING, x_codes=("pre-consent",)),
    PRODUCT: [*page_views(PRODUCT, meta_copies=2),
              *conversions(PRODUCT, "view_item", "ViewContent", "ViewContent"), *ADDED_TO_CART],
    # The 12-item cart makes Meta's hit longer than fbevents' 2048-character URL limit: a form POST.
    CHECKOUT: [*page_views(CHECKOUT),
               *conversions(CHECKOUT, "begin_checkout", "InitiateCheckout", "InitiateCheckout",
                            meta_endpoint="/tr form POST")],
    THANKS: [*page_views(THANKS),
             *conversions(THANKS, "purchase", "Purchase", "CompletePayment", "checkout",
                          meta_endpoint="/tr form POST", tiktok_codes=("missing-param",))],
}


def page_of(ev: dict) -> str:
    return urlsplit(ev["page_url"] or "").path


def actual_row(ev: dict) -> tuple:
    # X sends each beacon to t.co and analytics.twitter.com; whichever came first is the event.
    endpoint = ev["endpoint"].split(" ", 1)[1] if ev["platform"] == "x" else ev["endpoint"]
    return (page_of(ev), ev["platform"], ev["kind"], ev["event"], ev["standard_event"], ev["pixel_id"],
            ev["event_id"], ev["value"], ev["currency"], tuple(ev["content_ids"]), endpoint,
            tuple(sorted(f["code"] for f in ev["findings"])))


def on_page(evs: list[dict], page: str) -> list[dict]:
    return [e for e in evs if page_of(e) == page]


def settled(evs: list[dict]) -> bool:
    return not any(f["pending"] for e in evs for f in e["findings"])


def finding(ev: dict, code: str) -> dict:
    [found] = [f for f in ev["findings"] if f["code"] == code]
    return found


def the(evs: list[dict], platform: str, event: str, page: str) -> dict:
    [ev] = [e for e in on_page(evs, page) if e["platform"] == platform and e["event"] == event]
    return ev


# ---- the visit -----------------------------------------------------------------------------------

@pytest.fixture
def shop(cmp_package):
    require_chromium()  # before pixelspy starts
    with serve(SITE, ["127.0.0.1"], render=server_side_includes(SITE)) as (base,):
        yield base


def stand_in(route) -> None:
    file = next(f for pattern, f in STAND_INS.items() if re.fullmatch(pattern, route.request.url))
    route.fulfill(path=SITE / "standins" / file, content_type="application/javascript; charset=utf-8")


def test_shop_funnel_in_real_chromium(shop, pixelspy):
    with chromium_through(pixelspy.proxy_url) as browser:
        context = new_context(browser)
        for pattern in STAND_INS:
            context.route(re.compile(pattern), stand_in)
        page = context.new_page()

        def wait(predicate) -> list[dict]:
            return wait_for_events(pixelspy, page, predicate)

        page.goto(f"{shop}/")
        # X's base code is not held by the CMP: its page view leaves while the banner is up.
        wait(lambda evs: any(f["code"] == "pre-consent" for e in on_page(evs, LANDING)
                             if e["platform"] == "x" for f in e["findings"]))
        page.wait_for_timeout(1000)  # the visitor reads the banner; a choice this close to the hit may be the same
        page.click("#cc-main [data-role=all]")
        wait(lambda evs: len(on_page(evs, LANDING)) >= len(EXPECTED[LANDING]))

        page.click("#product")
        wait(lambda evs: len(on_page(evs, PRODUCT)) >= len(EXPECTED[PRODUCT]) - len(ADDED_TO_CART))
        page.click("#add-to-cart")
        wait(lambda evs: len(on_page(evs, PRODUCT)) >= len(EXPECTED[PRODUCT]))

        page.click("#checkout")
        wait(lambda evs: len(on_page(evs, CHECKOUT)) >= len(EXPECTED[CHECKOUT]))
        page.click("#place-order")
        wait(lambda evs: len(on_page(evs, THANKS)) >= len(EXPECTED[THANKS]) and settled(evs))
        context.close()
    evs = pixelspy.settle()  # the events' last changes (twins folded in, say) are printed at the next tick

    # Every event, field by field, with exactly the planted findings.
    for path, expected in EXPECTED.items():
        assert sorted(map(actual_row, on_page(evs, path)), key=repr) == sorted(expected, key=repr), path
    assert sorted({page_of(e) for e in evs}) == sorted(EXPECTED)
    assert all(e["source"] == "browser" and e["decode_errors"] == [] for e in evs)
    # X: every beacon's analytics.twitter.com / t.co copy folded in as a twin, not counted twice.
    assert all(len(e["twins"]) == (1 if e["platform"] == "x" else 0) for e in evs)

    # The planted mistakes, as pixelspy explains them.
    pre = finding(the(evs, "x", "pageview", LANDING), "pre-consent")
    assert pre["severity"] == "error" and "fired before marketing consent on 127.0.0.1" in pre["message"]
    first, second = [e for e in on_page(evs, PRODUCT) if e["platform"] == "meta" and e["event"] == "PageView"]
    twice = finding(first, "duplicate-event")
    assert twice["related"] == [second["id"]] and finding(second, "duplicate-event")["related"] == [first["id"]]
    assert "sent 2 times" in twice["message"] and "no event ID" in twice["message"]
    missing = finding(the(evs, "tiktok", "CompletePayment", THANKS), "missing-param")
    assert "properties.currency" in missing["message"]

    # Parameters as each vendor's library put them on the wire.
    order = SHOP["events"]["purchase"]
    purchase = the(evs, "meta", "Purchase", THANKS)["params"]
    assert json.loads(purchase["cd[contents]"]) == [
        {"id": i["id"], "quantity": i["quantity"], "item_price": i["price"]} for i in order["items"]]
    assert (purchase["cd[order_id]"], purchase["cd[num_items]"], purchase["cd[content_type]"]) == ("A-1001", "13", "product")
    assert purchase["rqm"] == "POST" and purchase["dl"] == f"{shop}/thanks.html?order=A-1001"
    assert re.fullmatch(r"fb\.1\.\d{13}\.\d+", purchase["fbp"])  # the _fbp first-party cookie
    assert purchase["rl"] == f"{shop}/checkout.html"

    payment = the(evs, "tiktok", "CompletePayment", THANKS)["params"]
    assert json.loads(payment["properties.contents"])[0] == {
        "content_id": order["items"][0]["id"], "content_type": "product", "content_name": "Sencha Kakegawa 100 g",
        "quantity": 2, "price": 14.9}
    assert "properties.currency" not in payment and payment["context.library.name"] == "pixel.js"

    checkout = the(evs, "pinterest", "checkout", THANKS)["params"]
    assert (checkout["ed.order_id"], checkout["ed.order_quantity"], checkout["tid"]) == ("A-1001", "13", PINTEREST)
    assert json.loads(checkout["ed.line_items"])[-1] == {
        "product_id": order["items"][-1]["id"], "product_name": "Tetsubin Teapot 0.6 l", "product_price": 89.5,
        "product_quantity": 1, "product_category": "Teaware"}

    visit = the(evs, "linkedin", "PAGE_VISIT", CHECKOUT)["params"]
    assert (visit["signalType"], visit["pageTitle"], visit["domain"]) == ("PAGE_VISIT", "Checkout – Teashop", "127.0.0.1")
    assert visit["medium"] == "fetch" and visit["scriptVersion"] == "308"
    conversion = the(evs, "linkedin", "conversion", THANKS)["params"]
    assert (conversion["pid"], conversion["conversionId"], conversion["eventId"]) == (
        LINKEDIN, LINKEDIN_RULES["purchase"], "purchase-A-1001")

    x_purchase = the(evs, "x", X_TAGS["purchase"], THANKS)["params"]
    assert (x_purchase["event.conversion_id"], x_purchase["p_id"], x_purchase["pt"]) == (
        "purchase-A-1001", "Twitter", "Thank you – Teashop")
    assert re.fullmatch(r"tw\.\d{13}\.\d+", x_purchase["twpid"])  # the _twpid first-party cookie
