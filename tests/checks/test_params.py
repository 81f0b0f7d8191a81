"""Missing and malformed parameters (rules.toml), on decoded Meta hits and constructed events."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from pixelspy import decoders
from pixelspy.checks.params import standard_lookalike, value_problem
from pixelspy.model import RawHit, Severity

from .helpers import PIXEL, codes, engine, event, meta_hit, server, the


def test_meta_purchase_without_value_and_currency_is_an_error_naming_the_wire_params():
    ev = meta_hit(ev="Purchase", **{"cd[content_ids]": '["sku-1"]'})
    engine().process(ev)
    f = the(ev, "missing-param")
    assert f.severity == Severity.error
    # content_type is a catalog note (info): left out of the error, never merged into it
    assert f.message == "Meta Purchase without cd[value], cd[currency]"
    assert "currency" in f.hint and "content_type" not in f.hint and f.related == [] and not f.pending


def test_complete_meta_purchase_has_no_parameter_findings():
    ev = meta_hit(ev="Purchase", **{"cd[value]": "12.50", "cd[currency]": "EUR", "cd[content_ids]": '["sku-1"]',
                                    "cd[content_type]": "product", "cd[contents]": '[{"id":"sku-1","quantity":1}]'})
    engine().process(ev)
    assert not codes(ev) & {"missing-param", "invalid-value", "invalid-currency", "invalid-json", "nonstandard-event"}


def test_catalog_events_need_content_ids_on_meta_pixels_that_feed_a_catalog():
    ev = meta_hit(ev="AddToCart", **{"cd[value]": "5", "cd[currency]": "USD"})
    engine(catalog={"meta": [PIXEL]}).process(ev)
    f = the(ev, "missing-param")
    assert (f.severity, f.message) == (Severity.warning, "Meta AddToCart without cd[content_ids]")
    ev = meta_hit(ev="AddToCart", **{"cd[value]": "5", "cd[currency]": "USD"})
    engine(catalog={"meta": ["*"]}).process(ev)
    assert the(ev, "missing-param").severity == Severity.warning
    # contents alone satisfy the catalog requirement
    ev = meta_hit(ev="AddToCart", **{"cd[contents]": '[{"id":"a","quantity":1}]', "cd[content_type]": "product"})
    engine().process(ev)
    assert "missing-param" not in codes(ev)


def test_content_ids_are_a_note_when_nothing_says_the_pixel_feeds_a_catalog():
    # As TikTok pixel.js 0.0.24 sends AddToCart on a Shopify shop (Omnibug's provider tests).
    body = ('{"event":"AddToCart","context":{"pixel":{"code":"BT24M8TQUU2IQ2BVG9NG"},"page":{"url":'
            '"https%3A%2F%2Fdigital-intelligence.myshopify.com%2F","referrer":""},"library":{"version":"0.0.24",'
            '"name":"pixel.js"}},"timestamp":"2020-09-04T11:22:12.961Z"}')
    [ev] = decoders.decode(RawHit(method="POST", url="https://analytics.tiktok.com/api/v1/track", body=body.encode(),
                                  headers=(("content-type", "application/json"),)))
    engine(catalog={"meta": ["*"]}).process(ev)
    f = the(ev, "missing-param")
    assert (f.severity, f.message) == (Severity.info, "TikTok AddToCart without properties.content_ids")
    assert "invalid-pixel-id" not in codes(ev)  # older TikTok pixel codes start with B


def test_a_missing_currency_and_a_catalog_note_are_not_merged():
    ev = meta_hit(ev="AddToCart", **{"cd[value]": "5"})
    engine().process(ev)
    f = the(ev, "missing-param")
    assert (f.severity, f.message) == (Severity.warning, "Meta AddToCart without cd[currency]")


def test_server_events_are_named_with_conversions_api_fields():
    ev = server(event="Purchase", standard_event="Purchase", value="10", content_ids=["a"],
                params={"custom_data.content_type": "product"})
    engine().process(ev)
    assert the(ev, "missing-param").message == "Meta CAPI Purchase without custom_data.currency"


def capi_hit(event_json: str) -> RawHit:
    """A Conversions API call as RudderStack's Facebook Pixel destination posts it: data=["{…}"]."""
    body = urlencode({"data": json.dumps([event_json])}).encode()
    return RawHit(method="POST", url=f"https://graph.facebook.com/v22.0/{PIXEL}/events?access_token=my_access_token",
                  body=body, headers=[("content-type", "application/x-www-form-urlencoded")])


def test_a_conversions_api_event_without_action_source_is_a_warning():
    # RudderStack's delivery test event (a kaiser.com checkout step): Meta requires action_source on
    # every Conversions API event. The same event with it, and a Pixel hit (which has none), pass.
    kaiser = ('{"user_data":{"client_user_agent":"Mozilla/5.0 (iPhone; CPU iPhone OS 15_5 like Mac OS X)"},'
              '"event_name":"Checkout Step Viewed","event_time":1654772112,'
              '"event_source_url":"https://www.my.kaiser.com/checkout","event_id":"4f002656-a7b2-4c17-b9bd-8caa5a29190a",'
              '"custom_data":{"checkout_id":"26SF29B","step":1}}')
    [without] = decoders.decode(capi_hit(kaiser))
    [website] = decoders.decode(capi_hit(kaiser.replace('"event_time"', '"action_source":"website","event_time"')))
    pixel = meta_hit(ev="Checkout Step Viewed")
    e = engine()
    for ev in (without, website, pixel):
        e.process(ev)
    f = the(without, "missing-param")
    assert (f.severity, f.message) == (Severity.warning, "Meta CAPI Checkout Step Viewed without action_source")
    assert "missing-param" not in codes(website) | codes(pixel)


def test_a_conversions_api_website_event_needs_its_page_url_and_user_agent():
    # RudderStack's Facebook Pixel destination's Purchase (processor/ecommTestData.ts): action_source
    # website, no event_source_url. Meta requires event_source_url and client_user_agent on website
    # events only; an email event needs neither.
    purchase = ('{"user_data":{"external_id":"3ffc8a075f330402d82aa0a86c596b0d2fe70df38b22c5be579f86a18e4aca47",'
                '"client_user_agent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.16; rv:84.0) Gecko/20100101 Firefox/84.0"},'
                '"event_name":"Purchase","event_time":1697241600,"event_id":"12345","action_source":"website",'
                '"custom_data":{"value":0,"content_ids":["12345"],"content_type":"product","currency":"USD"}}')
    no_agent = purchase.replace('"client_user_agent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.16; rv:84.0) '
                                'Gecko/20100101 Firefox/84.0"', '"client_ip_address":"32.122.223.26"')
    evs = [decoders.decode(capi_hit(body))[0] for body in (
        purchase,
        no_agent.replace('"action_source"', '"event_source_url":"https://shop.example/thanks","action_source"'),
        purchase.replace('"action_source":"website"', '"action_source":"email"'),
        no_agent.replace('"action_source":"website"', '"action_source":"email"'),
    )]
    e = engine()
    for ev in evs:
        e.process(ev)
    no_url, no_ua, email, email_no_ua = evs
    assert (the(no_url, "missing-param").severity, the(no_url, "missing-param").message) == (
        Severity.warning, "Meta CAPI Purchase without event_source_url")
    assert the(no_ua, "missing-param").message == "Meta CAPI Purchase without user_data.client_user_agent"
    assert "missing-param" not in codes(email) | codes(email_no_ua)


def test_reddit_conversions_api_messages_name_the_field_of_their_api_version():
    # RudderStack's Reddit destination (v2.0): an AddToCart with value_decimal and no currency. v3 puts
    # the same fields in `metadata`; the pixel's field is m.currency.
    user = {"email": "ac144532d9e4efeab19475d9253a879173ea12a3d2238d1cb8a332a7b3a105f2"}
    v2 = {"events": [{"event_at": "2019-10-14T09:03:17.562Z", "event_type": {"tracking_type": "AddToCart"},
                      "user": user, "event_metadata": {"item_count": 5, "value": 24995, "value_decimal": 249.95}}]}
    v3 = {"data": {"events": [{"event_at": 1571043797562, "action_source": "WEBSITE",
                               "type": {"tracking_type": "AddToCart"}, "user": user,
                               "metadata": {"item_count": 5, "value": 249.95}}]}}
    [on_v2] = decoders.decode(RawHit(method="POST", url="https://ads-api.reddit.com/api/v2.0/conversions/events/a2_fsddXXXfsfd",
                                     body=json.dumps(v2).encode(), headers=[("content-type", "application/json")]))
    [on_v3] = decoders.decode(RawHit(method="POST", url="https://ads-api.reddit.com/api/v3/pixels/a2_fsddXXXfsfd/conversion_events",
                                     body=json.dumps(v3).encode(), headers=[("content-type", "application/json")]))
    e = engine()
    for ev in (on_v2, on_v3):
        e.process(ev)
    assert the(on_v2, "missing-param").message == "Reddit CAPI AddToCart without event_metadata.currency"
    assert the(on_v3, "missing-param").message == "Reddit CAPI AddToCart without metadata.currency"


def test_a_value_needs_a_currency_on_any_event_and_vendor():
    ev = event("tiktok", event="CustomThing", value="3")
    engine().process(ev)
    assert the(ev, "missing-param").message == "TikTok CustomThing without properties.currency"
    ev = event("tiktok", event="CustomThing")
    engine().process(ev)
    assert "missing-param" not in codes(ev)


def test_a_google_ads_conversion_value_without_a_currency_is_no_warning():
    # jcpenney.com's conversion tag in 2016 (CompassIN/scripts): no currency_code, so Google Ads
    # counts the value in the conversion action's default currency; GA4 has no such default.
    url = ("https://www.googleadservices.com/pagead/conversion/984976096/?random=1467185010027&cv=8"
           "&fst=1467185010027&num=1&fmt=3&value=1617.77&label=GaUqCLDb5AkQ4JXW1QM&bg=ffffff&hl=en&guid=ON"
           "&u_h=768&u_w=1366&frm=0&url=https%3A//m.jcpenney.com/c/index.html%23/checkout-review&async=1")
    [ev] = decoders.decode(RawHit(method="GET", url=url))
    engine().process(ev)
    assert (ev.event, ev.value, ev.currency) == ("conversion", "1617.77", None)
    assert "missing-param" not in codes(ev)
    ev = event("google", pixel_id="G-ABC123", event="donation", value="5")
    engine().process(ev)
    assert the(ev, "missing-param").message == "Google donation without cu"


def test_tiktok_complete_payment_is_a_purchase_for_the_rules():
    ev = event("tiktok", pixel_id="C4QLSD7PECQ6U88DDF2G", event="CompletePayment", standard_event="Purchase",
               content_ids=["x"])
    engine().process(ev)
    f = the(ev, "missing-param")
    assert f.severity == Severity.warning
    assert f.message == "TikTok Purchase without properties.value, properties.currency"


@pytest.mark.parametrize("value, problem", [
    ("$12.50", "contains a currency symbol or code"),
    ("12,50 €", "contains a currency symbol or code"),
    ("EUR 12.50", "contains a currency symbol or code"),
    ("1,299.00", "has a thousands separator or a decimal comma"),
    ("12,50", "has a thousands separator or a decimal comma"),
    ("-5", "is negative"),
    ("undefined", "is 'undefined', a variable that was never filled in"),
    ("twelve", "is not a number"),
])
def test_bad_values(value, problem):
    assert value_problem(value) == problem
    ev = meta_hit(ev="Lead", **{"cd[value]": value, "cd[currency]": "EUR"})
    engine().process(ev)
    f = the(ev, "invalid-value")
    assert f.message == f"Meta cd[value] {value!r} {problem}" and f.severity == Severity.error


@pytest.mark.parametrize("value", ["12.50", "0", "1299", "0.5", ".5", "12.5e1"])
def test_plain_numbers_are_fine(value):
    assert value_problem(value) is None
    ev = meta_hit(ev="Lead", **{"cd[value]": value, "cd[currency]": "EUR"})
    engine().process(ev)
    assert "invalid-value" not in codes(ev)


def test_currency_must_be_iso_4217():
    bad = meta_hit(ev="Lead", **{"cd[value]": "1", "cd[currency]": "EURO"})
    fake = meta_hit(ev="Lead", **{"cd[value]": "1", "cd[currency]": "XYZ"})
    good = meta_hit(ev="Lead", **{"cd[value]": "1", "cd[currency]": "CHF"})
    lower = meta_hit(ev="Lead", **{"cd[value]": "1", "cd[currency]": "usd"})
    e = engine()
    for ev in (bad, fake, good, lower):
        e.process(ev)
    assert the(bad, "invalid-currency").message == "Meta cd[currency] 'EURO' is not an ISO 4217 code"
    assert "invalid-currency" in codes(fake)
    assert "invalid-currency" not in codes(good) | codes(lower)


def test_empty_content_ids():
    ev = meta_hit(ev="ViewContent", **{"cd[content_ids]": "[]"})
    engine().process(ev)
    assert the(ev, "invalid-value").message == "Meta cd[content_ids] is empty or holds an empty ID"
    ev = meta_hit(ev="ViewContent", **{"cd[content_ids]": '["sku-1",""]'})
    engine().process(ev)
    assert "invalid-value" in codes(ev)
    ev = meta_hit(ev="ViewContent", **{"cd[content_ids]": '["sku-1"]'})
    engine().process(ev)
    assert "invalid-value" not in codes(ev)


def test_empty_content_ids_are_a_note_unless_the_pixel_feeds_a_catalog():
    # verizonwireless.com's noscript images (2018): a tag template sends cd[content_ids]= even on PageView
    noscript = {"cd[content_ids]": "", "cd[content_type]": "product", "cd[currency]": "USD", "noscript": "1"}
    page_view, view = meta_hit(ev="PageView", **noscript), meta_hit(ev="ViewContent", **noscript)
    engine().process(page_view)
    engine().process(view)
    assert the(page_view, "invalid-value").severity == the(view, "invalid-value").severity == Severity.info
    view = meta_hit(ev="ViewContent", **noscript)
    engine(catalog={"meta": ["*"]}).process(view)
    assert the(view, "invalid-value").severity == Severity.warning


def test_contents_must_be_a_json_array():
    ev = meta_hit(ev="ViewContent", **{"cd[content_ids]": '["a"]', "cd[contents]": "[{'id': 'a'}]"})
    engine().process(ev)
    f = the(ev, "invalid-json")
    assert f.message == "Meta cd[contents] is not a JSON array" and f.severity == Severity.error
    # The decoder's own note about the same JSON is not repeated as a decode error.
    assert ev.decode_errors and "decode-error" not in codes(ev)
    ev = meta_hit(ev="ViewContent", **{"cd[content_ids]": '["a"]', "cd[contents]": '[{"id":"a"}]'})
    engine().process(ev)
    assert "invalid-json" not in codes(ev)


@pytest.mark.parametrize("name, standard, severity", [
    ("purchase", "Purchase", Severity.warning),
    ("AddtoCart", "AddToCart", Severity.warning),
    ("add_to_cart", "AddToCart", Severity.warning),
    ("Purchse", "Purchase", Severity.warning),
    ("order_completed", "Purchase", Severity.info),
    ("sign_up", "CompleteRegistration", Severity.info),
])
def test_misspelt_or_custom_names_for_standard_events(name, standard, severity):
    ev = meta_hit(ev=name)
    engine().process(ev)
    f = the(ev, "nonstandard-event")
    assert f.severity == severity and standard in f.message and repr(name) in f.message


@pytest.mark.parametrize("name", ["Purchase", "SubscribedButtonClick", "newsletter_optin", "Microdata"])
def test_standard_and_ordinary_custom_names_pass(name):
    ev = meta_hit(ev=name)
    engine().process(ev)
    assert "nonstandard-event" not in codes(ev)


def test_name_rules_follow_each_vendors_spelling():
    assert standard_lookalike("tiktok", "completepayment") == ("CompletePayment", "spelling")
    assert standard_lookalike("tiktok", "PageView") == ("Pageview", "spelling")
    assert standard_lookalike("snapchat", "Purchase") == ("PURCHASE", "spelling")
    # Pinterest names are case-insensitive on the wire: "AddToCart" is its standard addtocart.
    ev = event("pinterest", event="AddToCart")
    engine().process(ev)
    assert "nonstandard-event" not in codes(ev)
    # GA4's automatic custom events are not compared with synonyms.
    ev = event("google", event="form_submit")
    engine().process(ev)
    assert "nonstandard-event" not in codes(ev)


def test_missing_event_name_is_an_error_where_the_vendor_needs_one():
    ev = event("meta", event=None)
    engine().process(ev)
    assert the(ev, "missing-param").message == "Meta hit without an event name (ev)"
    ev = event("linkedin", pixel_id="123456", event=None)  # LinkedIn has no names on the wire
    engine().process(ev)
    assert "missing-param" not in codes(ev)


def test_config_adds_required_params_per_vendor_and_event():
    e = engine(required_params={"meta": {"Purchase": ["order_id", "cd[content_type]"]}})
    ev = meta_hit(ev="Purchase", **{"cd[value]": "1", "cd[currency]": "EUR", "cd[content_ids]": '["a"]'})
    e.process(ev)
    f = the(ev, "missing-param")
    assert f.message == "Meta Purchase without cd[content_type], cd[order_id]"
    assert "pixelspy.toml" in f.hint
    ev = meta_hit(ev="Purchase", **{"cd[value]": "1", "cd[currency]": "EUR", "cd[content_ids]": '["a"]',
                                    "cd[order_id]": "o-1", "cd[content_type]": "product"})
    e.process(ev)
    assert "missing-param" not in codes(ev)
    # Other vendors are not affected by Meta's table.
    ev = event("tiktok", event="CompletePayment", standard_event="Purchase", value="1", currency="EUR",
               content_ids=["a"])
    e.process(ev)
    assert "missing-param" not in codes(ev)


def test_decode_errors_surface_as_a_finding():
    ev = event("meta", event="PageView", decode_errors=["query has broken percent-encoding; decoded what could be"])
    engine().process(ev)
    f = the(ev, "decode-error")
    assert f.severity == Severity.warning and "broken percent-encoding" in f.message
    ev = event("meta", event="PageView")
    engine().process(ev)
    assert "decode-error" not in codes(ev)
