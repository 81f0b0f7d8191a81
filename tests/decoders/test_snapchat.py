"""Snapchat: Snap Pixel /p hits, Conversions API v2 and v3, the loader."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import quote, urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from pixelspy.decoders import default_registry
from pixelspy.model import Kind, RawHit, Source

PIXEL = "b2ade379-a55e-4ca7-893b-b9fac04c843f"
EM = hashlib.sha256(b"test@example.com").hexdigest()
PH = hashlib.sha256(b"4915112345678").hexdigest()
FN = hashlib.sha256(b"jane").hexdigest()
TOKEN = "eyJhbGciOiJIUzI1NiIsImtpZCI6IkNhbnZhc1MyU0hNQUNQcm9kIiwidHlwIjoiSldUIn0.secret"

# A scevent.min.js 3.x PURCHASE: everything in the query of a GET (real capture, pixel id changed).
PURCHASE = [
    ("pid", PIXEL), ("ev", "PURCHASE"), ("intg", "gtm"), ("u_hem", EM), ("u_fn", FN), ("u_hpn", PH),
    ("pids", PIXEL), ("e_tid", "TRANS-TEST-SC1"), ("e_ni", "2"), ("e_desc", "Description here"),
    ("e_ic", "cat1"), ("e_pr", "42.22"), ("e_iids", "A12,B20"), ("e_cur", "EUR"),
    ("u_c1", "35f34e89-1bb3-4466-abfa-af3c4d48073a"), ("e_bds", "BrandA,BrandB"), ("cdid", "dedup-test-sc1"),
    ("e_cs", "returning"), ("du", "granted"), ("et", "test-tag"), ("e_pia", "1"),
    ("u_sclid", "229dea27-6583-42cf-9f2a-1d8194669b6e"), ("u_scsid", "debfa99c-2416-4601-bbfd-e0d6d74a7a6b"),
    ("pl", "https://shop.example/thanks?o=1"), ("rf", "https://shop.example/cart"),
    ("trackId", "5279b48e-a07f-4bcd-9156-965735b06250"), ("ts", "1783196371375"), ("v", "3.59.0-2606221835"),
]
# An older pixel's PAGE_VIEW: a form POST (Omnibug's test data).
PAGE_VIEW_FORM = (
    f"pid={PIXEL}&ev=PAGE_VIEW&pl=https%3A%2F%2Fomnibug.io%2F&ts=1583875341291&rf=&v=1.4&if=false&bt=__LIVE__"
    f"&e_desc=Example+Page&e_sm=foobar&e_su=1&u_hem={EM}&u_hpn={PH}&u_c1=842d7ddb-e7ea-478c-85a7-cd256905dd2c"
    "&m_sl=7889&m_rd=1555565&m_pi=287&m_pl=590&m_ic=0"
)


def decode(method: str, url: str, body: bytes = b"", **headers: str):
    hit = RawHit(method=method, url=url, body=body, headers=[(k.replace("_", "-"), v) for k, v in headers.items()])
    return default_registry().decode(hit)


def test_pixel_purchase_get():
    (ev,) = decode("GET", "https://tr.snapchat.com/p?" + urlencode(PURCHASE))
    assert (ev.platform, ev.source, ev.kind) == ("snapchat", Source.browser, Kind.event)
    assert (ev.pixel_id, ev.event, ev.standard_event) == (PIXEL, "PURCHASE", "Purchase")
    assert ev.event_id == "dedup-test-sc1"
    assert ev.page_url == "https://shop.example/thanks?o=1"
    assert (ev.value, ev.currency, ev.order_id) == ("42.22", "EUR", "TRANS-TEST-SC1")
    assert ev.content_ids == ("A12", "B20")
    assert [(u.key, u.name, u.hashed) for u in ev.user_data] == [
        ("em", "u_hem", True), ("fn", "u_fn", True), ("ph", "u_hpn", True)]
    assert ev.endpoint == "/p GET" and ev.decode_errors == ()
    price = next(p for p in ev.params if p.name == "e_pr")
    assert (price.value, price.label, price.group) == ("42.22", "Price", "Event data")
    status = next(p for p in ev.params if p.name == "e_cs")
    assert (status.label, status.group) == ("Customer status", "Event data")
    assert next(p for p in ev.params if p.name == "du").group == "Consent"


def test_pixel_page_view_form_post():
    (ev,) = decode("POST", "https://tr.snapchat.com/p", PAGE_VIEW_FORM.encode(),
                   content_type="application/x-www-form-urlencoded")
    assert (ev.pixel_id, ev.event, ev.standard_event, ev.page_url) == (PIXEL, "PAGE_VIEW", "PageView",
                                                                        "https://omnibug.io/")
    assert (ev.value, ev.currency, ev.content_ids, ev.event_id) == (None, None, (), None)
    assert [(u.key, u.hashed) for u in ev.user_data] == [("em", True), ("ph", True)]
    metric = next(p for p in ev.params if p.name == "m_pl")
    assert (metric.label, metric.group) == ("Metric: pl", "Page metrics")
    assert ev.endpoint == "/p POST" and ev.decode_errors == ()


def test_hashes_the_pixel_sends_with_its_fff_prefix_are_read_as_sha256():
    # scevent.min.js 1.5 on www.plannedparenthood.org (The Markup's Blacklight scan, Oct 2021; 3.44
    # sends the same in 2025): u_hem is "FFF" and the SHA-256 hex of the email it was given.
    digest = hashlib.sha256(b"__insert_user_email__").hexdigest()
    body = ("pid=e28abec5-490a-43ca-a207-2bb7cf6e0a47&ev=PAGE_VIEW&pl=https%3A%2F%2Fwww.plannedparenthood.org%2F"
            f"&ts=1634566020988&rf=&v=1.5&if=false&bt=a2fcad0b&u_hem=FFF{digest}"
            "&u_c1=89416a63-dbe3-4ee3-bba2-67f50b37dd4a&m_sl=2418&m_rd=4119&m_pi=857&m_pl=3318&m_ic=0")
    (ev,) = decode("POST", "https://tr.snapchat.com/p", body.encode(), content_type="application/x-www-form-urlencoded")
    assert [(u.key, u.name, u.hashed, u.value) for u in ev.user_data] == [("em", "u_hem", True, digest)]
    assert ev.param("u_hem") == "FFF" + digest  # the wire value, as sent


def test_long_spellings_of_event_fields():
    (ev,) = decode("POST", "https://tr.snapchat.com/p", urlencode({
        "pid": PIXEL, "ev": "ADD_CART", "e_price": "9.99", "e_currency": "USD", "e_item_ids": "sku-1",
        "e_transaction_id": "t-1", "u_hem": "Jane@Example.com"}).encode(), content_type="text/plain")
    assert (ev.event, ev.standard_event, ev.value, ev.currency, ev.order_id) == ("ADD_CART", "AddToCart", "9.99",
                                                                                   "USD", "t-1")
    assert ev.content_ids == ("sku-1",)
    assert [(u.key, u.hashed) for u in ev.user_data] == [("em", False)]  # a plain email


def test_event_names_map_to_canonical():
    names = {"VIEW_CONTENT": "ViewContent", "SIGN_UP": "CompleteRegistration", "START_CHECKOUT": "InitiateCheckout",
             "ADD_BILLING": "AddPaymentInfo", "SEARCH": "Search", "ADD_TO_WISHLIST": "AddToWishlist",
             "SUBSCRIBE": "Subscribe", "CUSTOM_EVENT_1": None, "LIST_VIEW": None}
    for name, canonical in names.items():
        (ev,) = decode("GET", f"https://tr.snapchat.com/p?pid={PIXEL}&ev={name}")
        assert (ev.event, ev.standard_event) == (name, canonical)


def test_telemetry_and_cookie_match_are_not_events():
    assert decode("POST", "https://tr.snapchat.com/p", b'{"ctx":{"url":"x"},"req":[]}',
                  content_type="application/json") == []
    assert decode("GET", f"https://tr.snapchat.com/cm/i?pid={PIXEL}") == []
    assert decode("GET", "https://tr.snapchat.com/cm/p?rand=1583799227113&pnid=110&pcid=") == []
    assert default_registry().find("tr.snapchat.com", "/cm/i") is None


def test_json_that_is_no_envelope_is_an_event_with_a_decode_error():
    # Found by the decoder fuzz test: `{}` to /p must not vanish.
    (ev,) = decode("POST", "https://tr.snapchat.com/p", b"{}", content_type="application/json")
    assert any("envelope" in e for e in ev.decode_errors)


def test_loader():
    (ev,) = decode("GET", "https://sc-static.net/scevent.min.js", referer="https://shop.example/")
    assert (ev.platform, ev.kind, ev.endpoint, ev.page_url) == ("snapchat", Kind.pixel_loaded, "scevent.min.js",
                                                                "https://shop.example/")
    assert default_registry().find("sc-static.net", "/scevent.min.js")[0].sink is False


def test_pixel_garbage_is_decode_errors():
    (ev,) = decode("POST", "https://tr.snapchat.com/p", b"\xff\xfe%zz&&==", content_type="text/plain")
    assert "no pixel ID (pid)" in ev.decode_errors and "no event name (ev)" in ev.decode_errors
    assert any("UTF-8" in e for e in ev.decode_errors)


# ---------------------------------------------------------------- Conversions API

V3_EVENTS = [
    {"event_name": "PURCHASE", "event_time": 1705508777, "event_id": "EBBE201", "action_source": "WEB",
     "event_source_url": "https://www.example.com/thanks",
     "user_data": {"em": [EM], "ph": [PH], "client_ip_address": "198.51.100.42",
                   "client_user_agent": "Mozilla/5.0", "sc_click_id": "a3f4b5c6", "sc_cookie1": "35f34e89"},
     "custom_data": {"currency": "USD", "value": "10", "order_id": "O-1",
                     "contents": [{"id": "003", "quantity": "1", "item_price": "5"},
                                  {"id": "004", "quantity": "1", "item_price": "5"}]}},
    {"event_name": "PageView", "event_time": 1705508700, "action_source": "WEB",
     "event_source_url": "https://www.example.com/", "user_data": {"em": [EM]}},
]


def test_capi_v3_batch():
    purchase, page = decode("POST", f"https://tr.snapchat.com/v3/{PIXEL}/events?access_token={TOKEN}",
                            json.dumps({"data": V3_EVENTS}).encode(), content_type="application/json")
    for ev in (purchase, page):
        assert (ev.platform, ev.source, ev.pixel_id, ev.endpoint) == ("snapchat", Source.server, PIXEL,
                                                                      "Conversions API v3")
        assert ev.param("access_token") == "eyJhbG…" and ev.decode_errors == ()
        assert ev.test_event_code is None
    assert (purchase.event, purchase.standard_event, purchase.event_id) == ("PURCHASE", "Purchase", "EBBE201")
    assert (purchase.value, purchase.currency, purchase.order_id) == ("10", "USD", "O-1")
    assert purchase.content_ids == ("003", "004")
    assert purchase.page_url == "https://www.example.com/thanks"
    assert [(u.key, u.name, u.hashed) for u in purchase.user_data] == [("em", "user_data.em", True),
                                                                         ("ph", "user_data.ph", True)]
    assert purchase.param("user_data.sc_click_id") == "a3f4b5c6"
    assert (page.event, page.standard_event, page.event_id) == ("PageView", "PageView", None)


def test_capi_v3_validate_endpoint_marks_a_test():
    (ev,) = decode("POST", f"https://tr.snapchat.com/v3/{PIXEL}/events/validate",
                   json.dumps({"data": V3_EVENTS[1:]}).encode(), content_type="application/json",
                   authorization=f"Bearer {TOKEN}")
    assert ev.test_event_code == "validate"


def test_capi_v2_single_object_and_list():
    single = {"pixel_id": PIXEL, "timestamp": "1764798730075", "event_type": "SIGN_UP",
              "event_conversion_type": "WEB", "page_url": "https://ruxo.example/", "hashed_email": EM,
              "hashed_phone_number": PH, "user_agent": "Mozilla/5.0", "client_dedup_id": "su-1"}
    (ev,) = decode("POST", "https://tr.snapchat.com/v2/conversion", json.dumps(single).encode(),
                   content_type="application/json", authorization=f"Bearer {TOKEN}")
    assert (ev.source, ev.pixel_id, ev.event, ev.standard_event) == (Source.server, PIXEL, "SIGN_UP",
                                                                     "CompleteRegistration")
    assert (ev.event_id, ev.page_url, ev.endpoint) == ("su-1", "https://ruxo.example/", "Conversions API v2")
    assert [(u.key, u.name, u.hashed) for u in ev.user_data] == [("em", "hashed_email", True),
                                                                  ("ph", "hashed_phone_number", True)]
    assert [p.name for p in ev.params].count("event_type") == 1
    purchase = {"pixel_id": PIXEL, "event_type": "PURCHASE", "price": "49.99", "currency": "USD",
                "transaction_id": "t-9", "item_ids": ["sku_001", "sku_002"], "timestamp": "1764798730075"}
    a, b = decode("POST", "https://tr.snapchat.com/v2/conversion/validate",
                  json.dumps([single, purchase]).encode(), content_type="application/json")
    assert (b.event, b.value, b.currency, b.order_id, b.content_ids) == ("PURCHASE", "49.99", "USD", "t-9",
                                                                         ("sku_001", "sku_002"))
    assert a.test_event_code == b.test_event_code == "validate"


def test_capi_garbage_is_decode_errors():
    (ev,) = decode("POST", f"https://tr.snapchat.com/v3/{PIXEL}/events", b'{"data": [', content_type="application/json")
    assert ev.pixel_id == PIXEL and any("JSON" in e for e in ev.decode_errors)
    (ev,) = decode("POST", "https://tr.snapchat.com/v2/conversion", b"42", content_type="application/json")
    assert any("no events" in e for e in ev.decode_errors) and ev.pixel_id is None


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(["/p", f"/v3/{PIXEL}/events", "/v2/conversion", "/v2/conversion/validate"]),
       method=st.sampled_from(["GET", "POST"]),
       query=st.lists(st.tuples(st.sampled_from(["pid", "ev", "e_pr", "e_iids", "u_hem", "cdid", "x"]),
                                st.text(max_size=20)), max_size=6),
       payload=st.recursive(st.none() | st.integers() | st.text(max_size=10),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                                st.sampled_from(["data", "event_name", "event_type", "custom_data", "user_data",
                                                 "contents", "item_ids", "em", "value", "pixel_id"]), inner,
                                max_size=4), max_leaves=12),
       raw=st.binary(max_size=100), as_json=st.booleans())
def test_fuzz_never_raises(path, method, query, payload, raw, as_json):
    url = f"https://tr.snapchat.com{path}?" + "&".join(f"{k}={quote(v)}" for k, v in query)
    body, ctype = (json.dumps(payload).encode(), "application/json") if as_json else (raw, "text/plain")
    for ev in decode(method, url, body, content_type=ctype):
        assert not any(e.startswith("decoder error:") for e in ev.decode_errors)


# scevent.min.js's JSON envelope, as a public pixel debugger's test suite captured it from live sites
# (Pixel & Tag Tracer tests/run.js: `{"ctx": {}, "req": [{"t": {"pid": …, "ev": "PAGE_VIEW", "intg":
# "blotout"}}, {"i": {"pids": […]}}]}`; an init-only or log-only envelope is housekeeping). The
# PURCHASE entry carries the /p fields of the GET above, as the envelope sends them (numbers as numbers).
ENVELOPE = {
    "ctx": {"url": "https://shop.example/thanks?o=1", "v": "3.59.0-2606221835"},
    "req": [
        {"t": {"pid": "301bc76a-867d-419a-afb1-1ce91680f333", "ev": "PAGE_VIEW", "intg": "blotout"}},
        {"i": {"pids": ["301bc76a"]}},
        {"t": {"pid": "301bc76a-867d-419a-afb1-1ce91680f333", "ev": "PURCHASE", "e_pr": 42.22, "e_cur": "EUR",
               "e_tid": "TRANS-TEST-SC1", "e_iids": "A12,B20", "cdid": "dedup-test-sc1", "u_hem": EM,
               "pl": "https://shop.example/thanks?o=1&from=t"}},
    ],
}


def test_json_envelope_track_entries_are_events():
    view, purchase = decode("POST", "https://tr.snapchat.com/p", json.dumps(ENVELOPE).encode(),
                            content_type="application/json")
    assert (view.pixel_id, view.event, view.standard_event) == (
        "301bc76a-867d-419a-afb1-1ce91680f333", "PAGE_VIEW", "PageView")
    assert view.page_url == "https://shop.example/thanks?o=1"  # from the shared context
    assert view.param("intg") == "blotout" and view.param("ctx.v") == "3.59.0-2606221835"
    assert (purchase.event, purchase.value, purchase.currency, purchase.order_id, purchase.event_id) == (
        "PURCHASE", "42.22", "EUR", "TRANS-TEST-SC1", "dedup-test-sc1")
    assert purchase.content_ids == ("A12", "B20") and [(u.key, u.hashed) for u in purchase.user_data] == [("em", True)]
    assert purchase.page_url == "https://shop.example/thanks?o=1&from=t"  # its own pl wins
    assert view.endpoint == "/p POST JSON (2 events)" and view.decode_errors == purchase.decode_errors == ()


def test_json_envelope_without_track_entries_is_housekeeping():
    for body in ({"ctx": {"url": "u"}, "req": [{"i": {"pids": ["04b21810"]}, "del": 1003}]},
                 {"ctx": {}, "req": [{"log": {"name": "SB", "message": ""}}]}):
        assert decode("POST", "https://tr6.snapchat.com/p", json.dumps(body).encode(),
                      content_type="text/plain") == []


def test_json_envelope_with_a_broken_track_entry_keeps_the_others():
    body = {"ctx": {}, "req": [{"t": "garbage"}, {"t": {"pid": PIXEL, "ev": "SIGN_UP"}}]}
    broken, ok = decode("POST", "https://tr.snapchat.com/p", json.dumps(body).encode(), content_type="application/json")
    assert broken.decode_errors[0] == "req[].t is not a JSON object but 'garbage'"
    assert (ok.event, ok.decode_errors) == ("SIGN_UP", ())
