"""X decoder: uwt.js / oct.js /i/adsct beacons, their t.co twins, loaders, Conversions API."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from pixelspy.decoders import Registry, default_registry
from pixelspy.decoders import x
from pixelspy.model import Kind, RawHit, Source, TrackingEvent
from pixelspy.session import Session

EVENT_JSON = TypeAdapter(TrackingEvent)

REGISTRY = Registry(x.ROUTES)
SHA_EMAIL = "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514"

# Real uwt.js 2.3.33 base-tag beacons (merge.dev), sent to both hosts with one event_id.
QUERY_2X = ("bci=4&dv=America%2FAdak%26en-US%2Cen%26Google%20Inc.%26Linux%20x86_64%26255%261280%261024%264"
            "%2624%261280%261024%260%26na&eci=3&event=%7B%7D&event_id=41a7e84b-a64f-48c9-b905-6d2376fa1691"
            "&integration=gtm&p_id=Twitter&p_user_id=0&pl_id=b009e7eb-4b4f-4e5a-981a-9f6bf85c7c21"
            "&tw_document_href=https%3A%2F%2Fwww.merge.dev%2Fblog%2Fmerge-and-chatgpt&tw_iframe_status=0"
            "&txn_id=o7z1d&type=javascript&version=2.3.33")
TCO_2X = f"https://t.co/1/i/adsct?{QUERY_2X}"
ANALYTICS_2X = f"https://analytics.twitter.com/1/i/adsct?{QUERY_2X}"
# uwt.js 2.4.11 with limited data use, _twpid and session fields (cloudflare.com).
CLOUDFLARE = ("https://t.co/1/i/adsct?bci=4&dv=UTC%26en-US%26Google%20Inc.%26Linux%20x86_64%26255%261080%26600"
              "%262%2624%261080%26600%260%26na&eci=3&event=%7B%7D&event_id=8dfc17c0-3e4a-4aa3-a667-c329ad3b43c8"
              "&integration=advertiser&p_id=Twitter&p_user_id=0&pl_id=ed159f55-9034-4082-b555-42410a6cbf83"
              "&restricted_data_use=restrict_optimization"
              "&tw_document_href=https%3A%2F%2Fwww.cloudflare.com%2Fko-kr%2Ftrust-hub%2Fresponsible-ai%2F"
              "&tw_engaged_ms=160&tw_iframe_status=0&tw_pid_src=2&tw_session_count=1"
              "&tw_session_id=1791446666898-650016583&twpid=tw.1791446666898.801927725504384826&txn_id=nvldc"
              "&type=javascript&version=2.4.11")
# twq('track','PageView') on uwt.js 2.3.34: legacy events list on the /i/adsct path (xrpl.org).
TRACK_PAGEVIEW = ("https://t.co/i/adsct?bci=3&dv=UTC%26en-US%40posix%26Google%20Inc.%26Linux%20x86_64%26255"
                  "%261280%26720%264%2624%261280%26720%260%26na&eci=2&event_id=c66f26a4-8afe-4a12-8048-b1d507380e2a"
                  "&events=%5B%5B%22pageview%22%2C%7B%7D%5D%5D&integration=advertiser&p_id=Twitter&p_user_id=0"
                  "&pl_id=cb9c3ad7-f219-45a2-9c11-9b3e85c70314&pt=PaymentChannelCreate"
                  "&tw_document_href=https%3A%2F%2Fxrpl.org%2Fdocs%2Freferences%2Fprotocol%2Ftransactions%2Ftypes"
                  "%2Fpaymentchannelcreate&tw_iframe_status=0&tw_order_quantity=0&tw_sale_amount=0&txn_id=o309v"
                  "&type=javascript&version=2.3.34")
# oct.js single-event tags (Omnibug's test URLs).
LEGACY_PAGEVIEW = ("https://analytics.twitter.com/i/adsct?p_id=Twitter&p_user_id=0&txn_id=abc123"
                   "&events=%5B%5B%22pageview%22%2Cnull%5D%5D&tw_sale_amount=0&tw_order_quantity=0"
                   "&tw_iframe_status=0&tpx_cb=twttr.conversion.loadPixels"
                   "&tw_document_href=https%3A%2F%2Fwww.example.com%2F")
LEGACY_PURCHASE = ("https://analytics.twitter.com/i/adsct?p_id=Twitter&p_user_id=0&txn_id=abc123"
                   "&tw_sale_amount=29.95&tw_order_quantity=3&events=%5B%5B%22purchase%22%2C%7B%22value%22%3A"
                   "%2229.95%22%2C%22currency%22%3A%22USD%22%2C%22num_items%22%3A%223%22%7D%5D%5D"
                   "&tw_iframe_status=0&tpx_cb=twttr.conversion.loadPixels"
                   "&tw_document_href=https%3A%2F%2Fwww.example.com%2F")

# twq('event', 'tw-o8z6j-o87ne', {...}) as uwt.js 2.x sends it: the parameters as JSON in `event`.
EVENT_PARAMS = {
    "value": 29.95, "currency": "USD", "conversion_id": "order-77", "email_address": SHA_EMAIL,
    "phone_number": "+15555550100", "search_string": "cat bed",
    "contents": [{"content_id": "sku-1", "content_name": "Cat bed", "content_price": 19.95, "num_items": 1},
                 {"content_id": "sku-2", "content_name": "Toy", "content_price": 10, "num_items": 1}],
}


def event_tag_url(host: str, event_id: str = "0f5d3d1e-4d3c-4a57-9a43-3a8f1d5b2c11", params=EVENT_PARAMS) -> str:
    query = urlencode({
        "bci": "4", "dv": "UTC&en-US&Google Inc.&Linux x86_64&255&1280&1024&4&24&1280&1024&0&na", "eci": "3",
        "event": json.dumps(params, separators=(",", ":")), "event_id": event_id, "integration": "advertiser",
        "p_id": "Twitter", "p_user_id": "0", "pl_id": "5b1f7a6c-0d8e-4d44-9c1c-2e3f4a5b6c7d",
        "tw_document_href": "https://shop.example/thanks", "tw_iframe_status": "0", "txn_id": "o87ne",
        "type": "javascript", "version": "2.3.33"}, quote_via=quote)
    return f"https://{host}/1/i/adsct?{query}"


def get(url: str, **kw) -> RawHit:
    return RawHit(method="GET", url=url, **kw)


def one(hit: RawHit):
    events = REGISTRY.decode(hit)
    assert len(events) == 1, events
    return events[0]


# ------------------------------------------------------------------------------------ uwt.js 2.x


def test_base_tag_config_hit_is_a_page_view():
    ev = one(get(TCO_2X))
    assert (ev.platform, ev.source, ev.kind) == ("x", Source.browser, Kind.event)
    assert ev.pixel_id == "o7z1d"
    assert (ev.event, ev.standard_event) == ("pageview", "PageView")
    assert ev.event_id is None  # the beacon's event_id is not a dedup key
    assert ev.page_url == "https://www.merge.dev/blog/merge-and-chatgpt"
    assert ev.endpoint == "t.co /1/i/adsct"
    assert ev.decode_errors == ()
    assert ev.param("event") == "{}"
    assert ev.param("event_id") == "41a7e84b-a64f-48c9-b905-6d2376fa1691"
    assert ev.param("dv") == "America/Adak&en-US,en&Google Inc.&Linux x86_64&255&1280&1024&4&24&1280&1024&0&na"
    assert ev.param("integration") == "gtm" and ev.param("version") == "2.3.33"
    labels = {p.name: (p.label, p.group) for p in ev.params}
    assert labels["txn_id"] == ("Tag ID (base tag, or the event tag for an event)", "Event")
    assert labels["event_id"] == ("Beacon ID (per hit; not the dedup key)", "Event")
    assert labels["event"] == ("Event parameters (JSON; {} on the base tag's page view)", "Event")


def test_limited_data_use_and_browser_id_are_decoded():
    ev = one(get(CLOUDFLARE))
    assert (ev.pixel_id, ev.event) == ("nvldc", "pageview")
    assert ev.param("restricted_data_use") == "restrict_optimization"
    assert ev.param("twpid") == "tw.1791446666898.801927725504384826"
    groups = {p.name: p.group for p in ev.params}
    assert groups["restricted_data_use"] == "Consent" and groups["twpid"] == "User data"
    assert ev.param("tw_engaged_ms") == "160"


def test_event_tag_hit_carries_tag_id_and_parameters():
    ev = one(get(event_tag_url("analytics.twitter.com")))
    assert ev.pixel_id == "o87ne"
    assert (ev.event, ev.standard_event) == ("o87ne", None)
    assert ev.event_id == "order-77"  # conversion_id: what X deduplicates on
    assert (ev.value, ev.currency) == ("29.95", "USD")
    assert ev.content_ids == ("sku-1", "sku-2")
    assert ev.page_url == "https://shop.example/thanks"
    assert ev.endpoint == "analytics.twitter.com /1/i/adsct"
    assert ev.decode_errors == ()
    assert ev.param("event.conversion_id") == "order-77"
    assert ev.param("event.search_string") == "cat bed"
    assert ev.param("event.contents") == json.dumps(EVENT_PARAMS["contents"], separators=(",", ":"))
    labels = {p.name: p.label for p in ev.params}
    assert labels["event.conversion_id"] == "Conversion ID (dedup key)"
    assert [(u.key, u.name, u.hashed) for u in ev.user_data] == [
        ("em", "event.email_address", True), ("ph", "event.phone_number", False)]


def test_tw_prefixed_txn_id_splits_into_base_tag_and_event_tag():
    url = event_tag_url("t.co").replace("txn_id=o87ne", "txn_id=tw-o8z6j-o87ne")
    ev = one(get(url))
    assert (ev.pixel_id, ev.event) == ("o8z6j", "o87ne")


def test_twq_track_pageview_on_the_legacy_path():
    ev = one(get(TRACK_PAGEVIEW))
    assert (ev.pixel_id, ev.event, ev.standard_event) == ("o309v", "pageview", "PageView")
    assert ev.value is None  # tw_sale_amount=0 on a page view is no value
    assert ev.endpoint == "t.co /i/adsct"
    assert ev.param("pt") == "PaymentChannelCreate"
    assert {p.name: p.label for p in ev.params}["pt"] == "Page title"
    assert ev.decode_errors == ()


# ------------------------------------------------------------------------------------ legacy oct.js


def test_legacy_pageview():
    ev = one(get(LEGACY_PAGEVIEW))
    assert (ev.pixel_id, ev.event, ev.standard_event) == ("abc123", "pageview", "PageView")
    assert ev.page_url == "https://www.example.com/"
    assert ev.param("p_user_id") == "0"
    assert {p.name: p.label for p in ev.params}["p_user_id"] == "User ID"
    assert ev.decode_errors == ()


def test_legacy_noscript_image_pair_is_one_page_view():
    # <noscript> of twttr.conversion.trackPid('nz7m3', …): two images, no event list (developers.facebook.com)
    query = "txn_id=nz7m3&p_id=Twitter&tw_sale_amount=0&tw_order_quantity=0"
    ev = one(get(f"https://analytics.twitter.com/i/adsct?{query}"))
    assert (ev.pixel_id, ev.event, ev.standard_event, ev.value) == ("nz7m3", "pageview", "PageView", None)
    assert ev.decode_errors == () and ev.page_url is None
    session = Session()
    session.ingest(get(f"https://analytics.twitter.com/i/adsct?{query}", time=5.0))
    twin = get(f"https://t.co/i/adsct?{query}", time=5.1)
    session.ingest(twin)
    assert [e.twins for e in session] == [(twin.id,)]


def test_without_tw_document_href_the_referer_is_the_page_marked_as_such():
    query = "txn_id=nz7m3&p_id=Twitter&tw_sale_amount=0&tw_order_quantity=0"
    ev = one(get(f"https://analytics.twitter.com/i/adsct?{query}", headers=[("Referer", "https://shop.example/")]))
    assert ev.page_url == "https://shop.example/" and ev.param("Referer") == "https://shop.example/"
    assert {p.name: p.label for p in ev.params}["Referer"].startswith("Page URL (from the Referer header")
    ev = one(get(LEGACY_PAGEVIEW, headers=[("Referer", "https://www.example.com/")]))  # the page sent wins
    assert ev.page_url == "https://www.example.com/" and ev.param("Referer") is None


def test_legacy_purchase():
    ev = one(get(LEGACY_PURCHASE))
    assert (ev.event, ev.standard_event) == ("purchase", "Purchase")
    assert (ev.value, ev.currency) == ("29.95", "USD")
    assert ev.param("events.num_items") == "3"
    assert ev.param("tw_order_quantity") == "3"
    assert ev.decode_errors == ()


def test_legacy_events_list_with_several_entries_is_one_event_each():
    events_json = json.dumps([["pageview", None], ["purchase", {"value": "5.00", "currency": "EUR"}],
                              ["signup", {}]])
    url = f"https://analytics.twitter.com/i/adsct?p_id=Twitter&txn_id=abc123&events={quote(events_json)}"
    events = REGISTRY.decode(get(url))
    assert [(e.event, e.standard_event) for e in events] == [
        ("pageview", "PageView"), ("purchase", "Purchase"), ("signup", "CompleteRegistration")]
    assert [e.value for e in events] == [None, "5.00", None]
    assert events[1].param("events.currency") == "EUR" and events[0].param("events.currency") is None
    assert len({e.twin_key for e in events}) == 3


def test_broken_event_json_is_a_decode_error_not_a_lost_hit():
    ev = one(get("https://t.co/1/i/adsct?txn_id=o87ne&event=%7B%22value%22%3A1%2C&event_id=e1"))
    assert len(ev.decode_errors) == 1
    assert ev.decode_errors[0].startswith("event is truncated or invalid JSON")
    assert (ev.event, ev.value) == ("o87ne", "1")  # the readable prefix is kept
    ev = one(get("https://t.co/i/adsct?txn_id=abc&events=%5B%5B"))
    assert ev.event is None and ev.decode_errors[0].startswith("events is truncated or invalid JSON")
    cut = quote('[["purchase",{"value":"5.00","currency":"EUR"}],["pagevi')
    first, cut_off = REGISTRY.decode(get(f"https://t.co/i/adsct?txn_id=abc&events={cut}"))
    assert (first.event, first.value, first.currency) == ("purchase", "5.00", "EUR")  # whole entry survives
    assert cut_off.event == "pagevi" and cut_off.decode_errors == first.decode_errors
    assert first.decode_errors[0].startswith("events is truncated or invalid JSON")
    ev = one(get("https://t.co/1/i/adsct?txn_id=o87ne&event=%5B1%5D"))
    assert (ev.event, ev.decode_errors) == ("o87ne", ("event is not a JSON object",))
    ev = one(get("https://t.co/i/adsct?p_id=Twitter"))
    assert ev.decode_errors == ("no tag ID (txn_id)",) and ev.pixel_id is None


# ------------------------------------------------------------------------------------ twins


def test_t_co_and_analytics_copies_of_one_beacon_are_one_event_with_a_twin():
    session = Session()
    tco, analytics = get(TCO_2X, time=50.0), get(ANALYTICS_2X, time=50.01)
    assert len(session.ingest(tco)) == 1
    assert session.ingest(analytics) == []
    (ev,) = list(session)
    assert ev.endpoint == "t.co /1/i/adsct"
    assert ev.twins == (analytics.id,)


def test_two_beacons_and_a_repeat_on_one_host_stay_separate():
    session = Session()
    session.ingest(get(event_tag_url("t.co", event_id="a"), time=1.0))
    session.ingest(get(event_tag_url("t.co", event_id="b"), time=1.1))
    session.ingest(get(event_tag_url("t.co", event_id="b"), time=1.2))  # same host again: a real duplicate
    assert len(session) == 3 and all(e.twins == () for e in session)


# ------------------------------------------------------------------------------------ loaders


def test_a_data_partners_id_sync_is_no_event_but_is_still_answered_in_sink_mode():
    # lowes.com (2021): Salesforce's Krux matches its user ID to X's cookie on the adsct endpoint
    hit = get("https://analytics.twitter.com/i/adsct?p_user_id=OS0grtrm&p_id=10623")
    assert REGISTRY.decode(hit) == []
    route, _ = REGISTRY.find(hit.host, hit.path)
    assert route.sinks(hit)
    # uwt.js's own beacon names p_id=Twitter and stays an event, even without a tag ID
    assert one(get("https://analytics.twitter.com/i/adsct?p_id=Twitter&p_user_id=0")).decode_errors


def test_loaders_are_pixel_loaded_and_pass_through():
    for path in ("uwt.js", "oct.js"):
        hit = get(f"https://static.ads-twitter.com/{path}", headers=[("referer", "https://shop.example/")])
        ev = one(hit)
        assert (ev.kind, ev.endpoint, ev.page_url) == (Kind.pixel_loaded, path, "https://shop.example/")
        assert REGISTRY.find(hit.host, hit.path)[0].sink is False
    assert default_registry().find("t.co", "/1/i/adsct")[0].platform == "x"


# ------------------------------------------------------------------------------------ Conversions API

CAPI_URL = "https://ads-api.x.com/12/measurement/conversions/o8z6j"
OAUTH = ('OAuth oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", oauth_signature="tnnArxj06cWHq44gCs1OSKk%2FjLY%3D", '
         'oauth_token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"')
CAPI_HEADERS = [("Authorization", OAUTH), ("Content-Type", "application/json")]
CONVERSION = {
    "conversion_time": "2022-02-18T01:14:00.603Z", "event_id": "tw-o8z6j-o87ne",
    "identifiers": [{"twclid": "23opevjt88psuo13lu8d020qkn"}, {"hashed_email": SHA_EMAIL},
                    {"hashed_phone_number": "0f2ab5b2c21d3c8fe4b0a6c9c1f7c1d2c0d6e3e7c4a9a5c2b1f0e9d8c7b6a5f4"}],
    "conversion_id": "order-77", "number_items": 2, "price_currency": "USD", "value": "29.95",
    "contents": [{"content_id": "sku-1", "content_name": "Cat bed", "content_price": 19.95, "num_items": 1},
                 {"content_id": "sku-2", "content_name": "Toy", "content_price": 10, "num_items": 1}],
    "description": "checkout",
}


def post(url: str, body: dict | bytes) -> RawHit:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RawHit(method="POST", url=url, body=data, headers=CAPI_HEADERS)


def test_capi_conversion():
    ev = one(post(CAPI_URL, {"conversions": [CONVERSION]}))
    assert (ev.platform, ev.source, ev.kind) == ("x", Source.server, Kind.event)
    assert ev.pixel_id == "o8z6j"
    assert (ev.event, ev.standard_event) == ("o87ne", None)  # same name as the pixel's event
    assert ev.event_id == "order-77"
    assert (ev.value, ev.currency) == ("29.95", "USD")
    assert ev.content_ids == ("sku-1", "sku-2")
    assert ev.endpoint == "CAPI v12 conversions"
    assert ev.decode_errors == ()
    assert ev.param("event_id") == "tw-o8z6j-o87ne"
    assert ev.param("number_items") == "2" and ev.param("description") == "checkout"
    assert {p.name: p.label for p in ev.params}["event_id"] == "Event tag ID (tw-<pixel>-<tag> or <tag>)"
    assert [(u.key, u.name, u.hashed) for u in ev.user_data] == [
        ("twclid", "identifiers.twclid", False), ("em", "identifiers.hashed_email", True),
        ("ph", "identifiers.hashed_phone_number", True)]
    assert "oauth" not in EVENT_JSON.dump_json(ev).decode().lower()


def test_capi_batch_on_the_twitter_host_is_one_event_each():
    second = {"conversion_time": "2022-02-18T01:15:00Z", "event_id": "o87nf",
              "identifiers": [{"twclid": "abc"}, {"ip_address": "203.0.113.9"}], "conversion_id": "lead-9"}
    events = REGISTRY.decode(post("https://ads-api.twitter.com/11/measurement/conversions/o8z6j",
                                  {"conversions": [CONVERSION, second]}))
    assert [e.event for e in events] == ["o87ne", "o87nf"]
    assert [e.event_id for e in events] == ["order-77", "lead-9"]
    assert [e.endpoint for e in events] == ["CAPI v11 conversions 1/2", "CAPI v11 conversions 2/2"]
    assert [e.pixel_id for e in events] == ["o8z6j", "o8z6j"]
    assert [(u.key, u.value) for u in events[1].user_data] == [("twclid", "abc"), ("ip", "203.0.113.9")]
    assert events[1].value is None and events[1].currency is None


def test_capi_event_id_for_another_base_tag_and_garbage():
    ev = one(post(CAPI_URL, {"conversions": [{**CONVERSION, "event_id": "tw-zzzzz-o87ne"}]}))
    assert ev.decode_errors == ("event_id names base tag zzzzz, the URL names o8z6j",)
    ev = one(post(CAPI_URL, b"\x00\xffnot json"))
    assert ev.source == Source.server and ev.event is None and ev.decode_errors
    ev = one(post(CAPI_URL, {"conversion": []}))
    assert ev.decode_errors == ("body has no conversions list", "no event tag ID (event_id)")
    assert ev.params == ()


# ------------------------------------------------------------------------------------ fuzz

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3),
    max_leaves=8)
event_like = st.fixed_dictionaries({}, optional={
    k: json_values for k in ("value", "currency", "contents", "conversion_id", "email_address", "twclid")})
query_values = st.one_of(st.text(max_size=40), st.builds(json.dumps, json_values), st.builds(json.dumps, event_like))
queries = st.dictionaries(st.sampled_from(["txn_id", "event", "events", "event_id", "tw_sale_amount",
                                           "tw_document_href", "x"]), query_values, max_size=5)
capi_bodies = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda c: json.dumps({"conversions": c}).encode(),
              st.lists(st.one_of(json_values, st.fixed_dictionaries({}, optional={
                  k: json_values for k in ("event_id", "identifiers", "conversion_id", "value", "contents")})),
                  max_size=3)),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(host=st.sampled_from(["t.co", "analytics.twitter.com"]), path=st.sampled_from(["/i/adsct", "/1/i/adsct"]),
       query=queries, raw_tail=st.text(max_size=20))
def test_fuzz_pixel_never_raises_and_always_yields_events(host, path, query, raw_tail):
    url = f"https://{host}{path}?{urlencode(query, quote_via=quote)}&{raw_tail}"
    events = REGISTRY.decode(get(url))
    assert events
    for ev in events:
        assert not any(e.startswith("decoder error:") for e in ev.decode_errors), ev.decode_errors


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=capi_bodies)
def test_fuzz_capi_never_raises_and_always_yields_events(body):
    events = REGISTRY.decode(post(CAPI_URL, body))
    assert events
    for ev in events:
        assert ev.source == Source.server
        assert not any(e.startswith("decoder error:") for e in ev.decode_errors), ev.decode_errors


# -------------------------------------------------------------------------------- POST beacons
# uwt.js POSTs the beacon's fields as a form to /1/i/adsctp (and oct.js-era code to /i/adsctp), on
# analytics.twitter.com, analytics.x.com and t.co. Shapes from a public pixel debugger's test suite
# ("real requests captured from live sites": events=[["pageview",{}]] with txn_id o7kth; event={}
# with txn_id num2q on analytics.x.com and its t.co copy) and a site's CSP log naming the paths.
ADSCTP_FORM = {"bci": "4", "eci": "3", "event": "{}", "event_id": "d0c6b7a1-8e7f-4c0b-9a51-2f7c8e3d4b11",
               "integration": "advertiser", "p_id": "Twitter", "p_user_id": "0", "tw_document_href":
               "https://shop.example/", "tw_iframe_status": "0", "txn_id": "num2q", "type": "javascript",
               "version": "2.4.11"}


def post_form(url: str, form: dict[str, str]) -> RawHit:
    return RawHit(method="POST", url=url, body=urlencode(form, quote_via=quote).encode(),
                  headers=(("content-type", "application/x-www-form-urlencoded"),))


def test_post_beacon_is_decoded_on_every_host_and_path():
    for host in ("analytics.twitter.com", "analytics.x.com", "t.co"):
        for path in ("/1/i/adsctp", "/i/adsctp"):
            ev = one(post_form(f"https://{host}{path}", ADSCTP_FORM))
            assert (ev.pixel_id, ev.event, ev.standard_event) == ("num2q", "pageview", "PageView"), (host, path)
            assert ev.page_url == "https://shop.example/" and ev.decode_errors == ()
            assert ev.endpoint == f"{host} {path}"
    legacy = one(post_form("https://analytics.twitter.com/i/adsctp",
                           {"events": '[["pageview",{}]]', "txn_id": "o7kth", "tw_sale_amount": "0"}))
    assert (legacy.pixel_id, legacy.event, legacy.value, legacy.decode_errors) == ("o7kth", "pageview", None, ())


def test_post_beacon_and_its_copy_are_twins():
    session = Session()
    first = session.ingest(post_form("https://analytics.x.com/1/i/adsctp", ADSCTP_FORM))
    session.ingest(post_form("https://t.co/1/i/adsctp", ADSCTP_FORM))
    assert len(session.events) == 1 and len(first[0].twins) == 1


def test_get_beacon_on_analytics_x_com():
    ev = one(get(ANALYTICS_2X.replace("analytics.twitter.com", "analytics.x.com")))
    assert (ev.pixel_id, ev.event, ev.endpoint) == ("o7z1d", "pageview", "analytics.x.com /1/i/adsct")


def test_event_tag_is_the_wire_name_and_the_label_is_readable():
    ev = one(get(event_tag_url("t.co")))
    assert (ev.event, ev.label, ev.title) == ("o87ne", "event tag o87ne", "event tag o87ne")
    assert ev.json_line()["event"] == "o87ne" and "label" not in ev.json_line()
