"""Pinterest decoder: pintrk /v3/ hits, Conversions API requests and the tag loader.

Tag URLs are real captures (atomkraftwerke24.de via a public tag-parser test; Omnibug's Pinterest
provider test, including its broken-JSON case); CAPI bodies follow developers.pinterest.com.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pixelspy.decoders import default_registry
from pixelspy.model import Kind, RawHit, Source

TAG = "2612345678901"
EM = "e5c8e5ed5d033ebd4c707cc0f991a9940ba2e330483064eda4d068223fbefcab"
OMNI_EM = "f660ab912ec121d1b1e928a0bb4bc61b15f5ad44d5efdc4e1c92a25e99b8e44a"
AD = ("%7B%22loc%22%3A%22https%3A%2F%2Fatomkraftwerke24.de%2Fectest.html%3Fgtm_debug%3D1782756165094%22%2C"
      "%22ref%22%3A%22https%3A%2F%2Ftagassistant.google.com%2F%22%2C%22if%22%3Afalse%2C%22sh%22%3A1080%2C"
      "%22sw%22%3A1920%2C%22mh%22%3A%220cb4b510%22%2C%22is_eu%22%3Atrue%7D")
INIT_URL = (f"https://ct.pinterest.com/v3/?tid={TAG}&pd=%7B%22np%22%3A%22gtm%22%2C%22gtm_version%22%3A%22gallery%22"
            f"%2C%22em%22%3A%22{EM}%22%7D&event=init&ad={AD}&cb=1782756170450")
ATC_URL = ("https://ct.pinterest.com/v3/?event=addtocart&ed=%7B%22custom%201%22%3A%22custom%20value%201%22%2C"
           "%22np%22%3A%22gtm%22%2C%22gtm_version%22%3A%22gallery%22%2C%22order_id%22%3A%22TEST01%22%2C"
           "%22order_quantity%22%3A%221%22%2C%22value%22%3A42%2C%22currency%22%3A%22EUR%22%2C%22line_items%22"
           "%3A%5B%7B%22product_id%22%3A%22item%201%22%2C%22product_category%22%3A%22general%22%7D%5D%7D"
           f"&tid={TAG}&pd=%7B%22np%22%3A%22gtm%22%2C%22em%22%3A%22{EM}%22%2C%22pin_unauth%22%3A%22dWlkPU56RX%22"
           "%2C%22aem_eligible_list%22%3A%5B%22em%22%2C%22ph%22%5D%7D&cb=1782756225395&dep=4%2CTAGS_RECEIVED"
           f"&stc=true&ad={AD}")
CHECKOUT_ED = ("%7B%22value%22%3A116%2C%22order_quantity%22%3A2%2C%22currency%22%3A%22USD%22%2C%22line_items%22"
               "%3A%5B%7B%22product_name%22%3A%22Pillows%20(Set%20of%202)%22%2C%22product_id%22%3A%2211%22%2C"
               "%22product_price%22%3A48%2C%22product_quantity%22%3A1%7D%2C%7B%22product_name%22%3A%22Pillows%2C"
               "%20Large%20(Set%20of%202)%22%2C%22product_id%22%3A%2215%22%2C%22product_price%22%3A68%2C"
               "%22product_quantity%22%3A1%7D%5D%7D")
OMNI_AD = ("%7B%22loc%22%3A%22https%3A%2F%2Fwww.example.com%2F%22%2C%22ref%22%3A%22%22%2C%22if%22%3Afalse%2C"
           "%22sh%22%3A1440%2C%22sw%22%3A2560%7D")
CHECKOUT_URL = (f"https://ct.pinterest.com/v3/?event=checkout&ed={CHECKOUT_ED}&tid=abc123"
                f"&pd=%7B%22em%22%3A%22{OMNI_EM}%22%7D&ad={OMNI_AD}&cb=1583868246432")
# Omnibug's "bad data" case: ed and pd both lack their closing brace.
BROKEN_URL = ("https://ct.pinterest.com/v3/?event=checkout&ed=%7B%22value%22%3A116%2C%22order_quantity%22%3A2%2C"
              "%22currency%22%3A%22USD%22%2C%22order_id%22%3A%22AAAA123%22%2C%22line_items%22%3A%7B%22product_name"
              "%22%3A%22Pillows%20(Set%20of%202)%22%2C%22product_id%22%3A%2211%22%2C%22product_price%22%3A48%2C"
              f"%22product_quantity%22%3A1%7D&tid=abc123&pd=%7B%22em%22%3A%22{OMNI_EM}%22&ad={OMNI_AD}"
              "&cb=1583868246432")
CAPI_URL = "https://api.pinterest.com/v5/ad_accounts/549755885175/events"


def decode(hit: RawHit):
    return default_registry().decode(hit)


def one(hit: RawHit):
    events = decode(hit)
    assert len(events) == 1, events
    return events[0]


def get(url: str, **headers) -> RawHit:
    return RawHit(method="GET", url=url, headers=list(headers.items()))


# ---------------------------------------------------------------- browser: /v3/


def test_init_is_the_tag_loading_with_its_enhanced_match_email():
    ev = one(get(INIT_URL))
    assert (ev.platform, ev.source, ev.kind) == ("pinterest", Source.browser, Kind.pixel_loaded)
    assert (ev.event, ev.standard_event, ev.pixel_id) == ("init", None, TAG)
    assert ev.page_url == "https://atomkraftwerke24.de/ectest.html?gtm_debug=1782756165094"
    assert [(u.name, u.key, u.hashed, u.value) for u in ev.user_data] == [("pd.em", "em", True, EM)]
    assert ev.param("pd.np") == "gtm" and ev.param("ad.is_eu") == "true"
    assert ev.param("ad.ref") == "https://tagassistant.google.com/"
    assert ev.param("pd") is None and ev.param("ad") is None  # valid JSON: shown as its fields
    assert ev.decode_errors == () and ev.endpoint == "/v3/ GET"


def test_addtocart_with_event_data_line_items_and_partner_data():
    ev = one(get(ATC_URL))
    assert (ev.kind, ev.event, ev.standard_event, ev.pixel_id) == (Kind.event, "addtocart", "AddToCart", TAG)
    assert (ev.value, ev.currency, ev.order_id) == ("42", "EUR", "TEST01")
    assert ev.content_ids == ("item 1",)
    assert ev.param("ed.line_items") == '[{"product_id":"item 1","product_category":"general"}]'
    assert ev.param("ed.order_quantity") == "1"
    assert ev.param("ed.custom 1") == "custom value 1"
    assert ev.param("pd.aem_eligible_list") == '["em","ph"]'
    assert ev.param("dep") == "4,TAGS_RECEIVED"
    assert [u.name for u in ev.user_data] == ["pd.em"]  # pin_unauth and np are not user fields
    labels = {p.name: (p.label, p.group) for p in ev.params}
    assert labels["ed.value"] == ("Value", "Event data")
    assert labels["pd.em"] == ("Email (hashed)", "User data")
    assert labels["ad.loc"] == ("Page URL", "Page context")
    assert labels["ed.custom 1"] == ("Event data: custom 1", "Event data")
    assert labels["tid"] == ("Tag ID", "Event")
    assert ev.event_id is None and ev.decode_errors == ()


def test_checkout_is_a_purchase_with_every_line_item():
    ev = one(get(CHECKOUT_URL, accept="image/avif,image/webp,image/*,*/*;q=0.8"))
    assert (ev.event, ev.standard_event, ev.pixel_id) == ("checkout", "Purchase", "abc123")
    assert (ev.value, ev.currency) == ("116", "USD")
    assert ev.content_ids == ("11", "15")
    assert ev.page_url == "https://www.example.com/"
    assert ev.endpoint == "/v3/ image"


def test_event_names_map_to_canonical_ones():
    expected = {"pagevisit": "PageView", "signup": "CompleteRegistration", "lead": "Lead", "search": "Search",
                "viewcategory": "ViewCategory", "watchvideo": "WatchVideo", "AddToCart": "AddToCart",
                "checkout": "Purchase", "custom": None, "my_event": None}
    for wire, canonical in expected.items():
        ev = one(get(f"https://ct.pinterest.com/v3/?tid={TAG}&event={wire}&cb=1"))
        assert (ev.kind, ev.event, ev.standard_event) == (Kind.event, wire, canonical)


def test_event_id_for_deduplication_comes_from_event_data():
    ed = quote(json.dumps({"event_id": "order-77", "value": 10.5, "currency": "EUR", "order_id": "77"}))
    ev = one(get(f"https://ct.pinterest.com/v3/?tid={TAG}&event=checkout&ed={ed}"))
    assert (ev.event_id, ev.value, ev.order_id) == ("order-77", "10.5", "77")
    assert {p.name: p.label for p in ev.params}["ed.event_id"] == "Event ID (dedup key)"


def test_noscript_bracket_form():
    url = (f"https://ct.pinterest.com/v3/?event=checkout&tid={TAG}&ed[value]=116&ed[currency]=USD"
           f"&ed[order_id]=A-1&ed[line_items][0][product_id]=11&ed[line_items][1][product_id]=15"
           f"&pd[em]={OMNI_EM}&noscript=1")
    ev = one(get(url, referer="https://shop.example/thanks"))
    assert (ev.event, ev.standard_event, ev.pixel_id) == ("checkout", "Purchase", TAG)
    assert (ev.value, ev.currency, ev.order_id) == ("116", "USD", "A-1")
    assert ev.content_ids == ("11", "15")
    assert [(u.name, u.hashed) for u in ev.user_data] == [("pd[em]", True)]
    assert ev.param("ed[line_items][1][product_id]") == "15"
    assert {p.name: p.label for p in ev.params}["ed[value]"] == "Value"
    # No `ad` (its page URL) in noscript: the Referer stands in, marked as such.
    assert ev.page_url == ev.referer == "https://shop.example/thanks"
    assert [(p.name, p.value, p.group) for p in ev.params if "Referer" in p.label] == [
        ("Referer", "https://shop.example/thanks", "Page context")]
    assert ev.endpoint == "/v3/ image" and ev.decode_errors == ()


def test_post_form_body_reads_like_the_query():
    body = urlencode({"tid": TAG, "event": "lead", "ed": json.dumps({"lead_type": "newsletter"}),
                      "ad": json.dumps({"loc": "https://shop.example/signup"})})
    ev = one(RawHit(method="POST", url="https://ct.pinterest.com/v3/", body=body.encode(),
                    headers=[("content-type", "application/x-www-form-urlencoded")]))
    assert (ev.event, ev.standard_event, ev.pixel_id) == ("lead", "Lead", TAG)
    assert ev.param("ed.lead_type") == "newsletter" and ev.page_url == "https://shop.example/signup"
    assert ev.endpoint == "/v3/ POST" and ev.decode_errors == ()


def test_broken_json_keeps_the_raw_string_and_decodes_the_rest():
    ev = one(get(BROKEN_URL))
    assert (ev.event, ev.standard_event, ev.pixel_id) == ("checkout", "Purchase", "abc123")
    assert (ev.value, ev.currency, ev.order_id) == ("116", "USD", "AAAA123")
    assert ev.content_ids == ("11",)  # line_items sent as one object, not a list
    assert ev.param("ed").startswith('{"value":116,') and not ev.param("ed").endswith("}}")
    assert ev.param("pd") == f'{{"em":"{OMNI_EM}"'
    assert [u.name for u in ev.user_data] == ["pd.em"]
    assert len(ev.decode_errors) == 2
    assert ev.decode_errors[0].startswith("ed is truncated or invalid JSON")
    assert ev.decode_errors[1].startswith("pd is truncated or invalid JSON")
    assert ev.param("ad") is None


def test_garbage_tag_hits_become_decode_errors():
    ev = one(get("https://ct.pinterest.com/v3/?ed=%E2%28&pd=nope&ad=[1]&%zz"))
    assert ev.pixel_id is None and ev.event is None
    errors = " | ".join(ev.decode_errors)
    for fragment in ("broken percent-encoding", "no event name", "no tag ID", "pd is not valid JSON",
                     "ad is a JSON list"):
        assert fragment in errors
    assert ev.param("pd") == "nope" and ev.param("ad") == "[1]"


def test_user_sync_is_not_an_event_but_is_sunk():
    hit = get(f"https://ct.pinterest.com/user/?tid={TAG}&cb=1233538014046")
    assert decode(hit) == []
    route, _ = default_registry().find(hit.host, hit.path)
    assert route.platform == "pinterest" and route.sink


def test_loaders_are_pixel_loaded_and_pass_through():
    for url, name in (("https://s.pinimg.com/ct/core.js", "core.js"),
                      ("https://s.pinimg.com/ct/lib/main.32a8e3d2.js", "main.32a8e3d2.js")):
        hit = get(url, referer="https://shop.example/")
        ev = one(hit)
        assert (ev.kind, ev.pixel_id, ev.endpoint, ev.page_url) == (Kind.pixel_loaded, None, name, "https://shop.example/")
        assert default_registry().find(hit.host, hit.path)[0].sink is False


# ---------------------------------------------------------------- server: Conversions API


def capi(body, query="") -> RawHit:
    return RawHit(method="POST", url=CAPI_URL + query, body=json.dumps(body).encode(),
                  headers=[("content-type", "application/json"), ("authorization", "Bearer pina_secret_token")])


CAPI_BODY = {"data": [
    {"event_name": "checkout", "action_source": "web", "event_time": 1700000000, "event_id": "order-77",
     "event_source_url": "https://shop.example/thanks", "opt_out": False,
     "user_data": {"em": [OMNI_EM], "ph": ["not-hashed-0049151"], "client_ip_address": "203.0.113.7",
                   "client_user_agent": "Mozilla/5.0", "external_id": ["cust-1"]},
     "custom_data": {"currency": "USD", "value": "116", "content_ids": ["11", "15"], "num_items": 2,
                     "order_id": "order-77", "contents": [{"id": "11", "item_price": "48", "quantity": 1}]}},
    {"event_name": "add_to_cart", "action_source": "web", "event_time": 1700000001, "event_id": "atc-1",
     "custom_data": {"contents": [{"id": "99", "quantity": 1}]}},
]}


def test_capi_batch_is_one_server_event_per_element_with_the_ad_account_as_pixel():
    checkout, cart = decode(capi(CAPI_BODY, "?test=true"))
    for ev in (checkout, cart):
        assert (ev.platform, ev.source, ev.pixel_id) == ("pinterest", Source.server, "549755885175")
        assert ev.test_event_code == "test=true"
        assert ev.param("ad_account_id") == "549755885175" and ev.param("test") == "true"
        assert ev.endpoint == "CAPI /v5 events (pixel_id = ad account)" and ev.decode_errors == ()
        assert all("pina_secret_token" not in p.value for p in ev.params)
    assert (checkout.event, checkout.standard_event, checkout.event_id) == ("checkout", "Purchase", "order-77")
    assert (checkout.value, checkout.currency, checkout.order_id) == ("116", "USD", "order-77")
    assert checkout.content_ids == ("11", "15")
    assert checkout.page_url == "https://shop.example/thanks"
    assert {u.name: (u.key, u.hashed) for u in checkout.user_data} == {
        "user_data.em": ("em", True), "user_data.ph": ("ph", False), "user_data.external_id": ("external_id", False)}
    assert checkout.param("user_data.client_ip_address") == "203.0.113.7"
    assert checkout.param("custom_data.num_items") == "2"
    assert {p.name: p.label for p in checkout.params}["ad_account_id"] == "Ad account ID (CAPI carries no tag ID)"
    assert (cart.event, cart.standard_event, cart.event_id, cart.content_ids) == ("add_to_cart", "AddToCart", "atc-1", ("99",))


def test_capi_without_test_flag_and_with_garbage():
    assert decode(capi(CAPI_BODY))[0].test_event_code is None
    assert decode(capi(CAPI_BODY, "?test=false"))[0].test_event_code is None
    [ev] = decode(RawHit(method="POST", url=CAPI_URL, body=b'{"data": [{"event_name": "chec',
                         headers=[("content-type", "application/json")]))
    assert ev.pixel_id == "549755885175" and ev.decode_errors[0].startswith("body is not valid JSON")
    [ev] = decode(capi({"data": []}))
    assert ev.decode_errors == ("no events (data is not a non-empty list)",)


LEGACY_CAPI_URL = "https://ct.pinterest.com/events/v3"
# RudderStack's pinterest_tag destination, apiVersion legacyApi (router test "Test 0", two of its events):
# the v5 event objects, each with the ad account in advertiser_id, no Authorization header.
LEGACY_BODY = {"data": [
    {"event_name": "checkout", "event_time": 1597383030, "action_source": "web",
     "event_id": "7208bbb6-2c4e-45bb-bf5b-ad426f3593e9", "app_id": "429047995", "advertiser_id": "429047995",
     "user_data": {"em": ["48ddb93f0b30c475423fe177832912c5bcdce3cc72872f8051627967ef278e08"],
                   "hashed_maids": ["6ca13d52ca70c883e0f0bb101e425a89e8624de51db2d2392593af6a84118090"],
                   "client_user_agent": "chrome"},
     "custom_data": {"currency": "USD", "value": "27.5", "order_id": "50314b8e9bcf000000000000", "num_items": 3,
                     "content_ids": ["507f1f77bcf86cd799439011", "505bd76785ebb509fc183733"],
                     "contents": [{"id": "507f1f77bcf86cd799439011", "quantity": 1, "item_price": "19"}]}},
    {"event_name": "add_to_cart", "event_time": 1597383030, "action_source": "web",
     "event_id": "7208bbb6-2c4e-45bb-bf5b-ad426f3593e9", "app_id": "429047995", "advertiser_id": "429047995",
     "custom_data": {"currency": "USD", "value": "27.5", "num_items": 2, "content_ids": ["123"],
                     "contents": [{"id": "123", "quantity": 2, "item_price": "25"}]}},
]}


def test_legacy_capi_events_v3_reads_like_v5_with_the_advertiser_id_as_pixel():
    hit = RawHit(method="POST", url=LEGACY_CAPI_URL + "?test=true", body=json.dumps(LEGACY_BODY).encode(),
                 headers=[("content-type", "application/json"), ("user-agent", "RudderLabs")])
    checkout, cart = decode(hit)
    for ev in (checkout, cart):
        assert (ev.platform, ev.source, ev.pixel_id, ev.test_event_code) == (
            "pinterest", Source.server, "429047995", "test=true")
        assert ev.endpoint == "CAPI /events/v3 (legacy; pixel_id = advertiser_id, the ad account)"
        assert ev.decode_errors == ()
    assert (checkout.event, checkout.standard_event, checkout.value, checkout.currency) == (
        "checkout", "Purchase", "27.5", "USD")
    assert checkout.content_ids == ("507f1f77bcf86cd799439011", "505bd76785ebb509fc183733")
    assert {u.name: u.hashed for u in checkout.user_data}["user_data.em"] is True
    assert {p.name: p.label for p in checkout.params}["advertiser_id"] == "Ad account ID (CAPI carries no tag ID)"
    assert (cart.event, cart.standard_event, cart.content_ids) == ("add_to_cart", "AddToCart", ("123",))
    route, _ = default_registry().find(hit.host, hit.path)
    assert route.sink and route.sink_json == default_registry().find("api.pinterest.com", "/v5/ad_accounts/1/events")[0].sink_json


# ---------------------------------------------------------------- fuzz

TAG_KEYS = ["tid", "event", "ed", "pd", "ad", "cb", "noscript", "ed[value]", "ed[line_items][0][product_id]",
            "pd[em]", "ed[line_items]", "ad[loc]"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["value", "currency", "line_items", "product_id", "em", "loc", "event_id", "data",
                         "event_name", "custom_data", "user_data", "content_ids", "contents", "id"]) | st.text(max_size=4),
        inner, max_size=4),
    max_leaves=8,
)
json_text = st.tuples(json_values, st.integers(0, 200)).map(lambda t: json.dumps(t[0])[: t[1] or None])
tag_query = st.lists(st.tuples(st.sampled_from(TAG_KEYS) | st.text(max_size=5), json_text | st.text(max_size=10)),
                     max_size=4).map(urlencode)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(["https://ct.pinterest.com/v3/", "https://ct.pinterest.com/v3", CAPI_URL,
                            LEGACY_CAPI_URL]),
       query=tag_query | st.text(max_size=30),
       body=st.binary(max_size=200) | json_text.map(str.encode) | tag_query.map(str.encode),
       ctype=st.sampled_from(["", "application/json", "text/plain", "application/x-www-form-urlencoded",
                              "multipart/form-data; boundary=x"]),
       method=st.sampled_from(["GET", "POST"]))
def test_fuzz_never_crashes_and_always_yields_events(path, query, body, ctype, method):
    hit = RawHit(method=method, url=f"{path}?{query}", body=body, headers=[("content-type", ctype)] if ctype else [])
    events = decode(hit)
    assert events
    assert all(not any(e.startswith("decoder error:") for e in ev.decode_errors) for ev in events)


def test_noscript_base_image_without_event_is_the_base_codes_init():
    # The base snippet's <noscript> image as real shops paste it: `ct.pinterest.com/v3/?tid=…&noscript=1`
    # (spec §9, from public captures): no event by design, so no decode error.
    (ev,) = default_registry().decode(RawHit(method="GET", url="https://ct.pinterest.com/v3/?tid=2612733222301&noscript=1"))
    assert (ev.kind, ev.pixel_id, ev.event, ev.decode_errors) == (Kind.pixel_loaded, "2612733222301", "init", ())
    assert ev.endpoint == "/v3/ image"
    (ev,) = default_registry().decode(RawHit(method="GET", url="https://ct.pinterest.com/v3/?tid=2612733222301"))
    assert ev.decode_errors == ("no event name (event)",)  # a scripted hit must name its event


def test_the_page_url_sent_wins_over_the_referer():
    ad = quote(json.dumps({"loc": "https://shop.example/p/1?color=red"}))
    ev = one(get(f"https://ct.pinterest.com/v3/?tid={TAG}&event=pagevisit&ad={ad}", referer="https://shop.example/"))
    assert ev.page_url == "https://shop.example/p/1?color=red" and ev.param("Referer") is None
    ev = one(get(f"https://ct.pinterest.com/v3/?tid={TAG}&event=pagevisit&noscript=1"))  # neither: no page
    assert ev.page_url is None and ev.param("Referer") is None


def test_the_detail_pane_says_the_page_came_from_the_referer():
    from rich.console import Console

    from pixelspy.tui.detail import render_event

    def shown(hit: RawHit) -> str:
        console = Console(width=200, record=True)
        console.print(render_event(one(hit), hit, "Linux Chrome 127.0.0.1"))
        return console.export_text()

    noscript = f"https://ct.pinterest.com/v3/?tid={TAG}&event=checkout&noscript=1"
    assert "page (from Referer) https://shop.example/" in shown(get(noscript, referer="https://shop.example/"))
    ad = quote(json.dumps({"loc": "https://shop.example/p/1"}))
    assert "page https://shop.example/p/1" in shown(get(f"https://ct.pinterest.com/v3/?tid={TAG}&event=lead&ad={ad}"))
