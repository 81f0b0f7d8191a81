"""LinkedIn decoder: Insight Tag /collect and /wa hits, loader, Conversions API, shaped as sent."""

from __future__ import annotations

import base64
import gzip
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from pixelspy.decoders import Registry, default_registry
from pixelspy.decoders import linkedin
from pixelspy.model import Kind, RawHit, Source, TrackingEvent
from pixelspy.session import Session

EVENT_JSON = TypeAdapter(TrackingEvent)

REGISTRY = Registry(linkedin.ROUTES)
SHA_EMAIL = "8d9b70fd20e23919cfe664ea5e571db39d72ba1bf17bf57e909ada24be9aa3aa"

# Real Insight Tag hits (insight.min.js via GTM): page view on px and its px4 mirror, a conversion.
PV_PX = ("https://px.ads.linkedin.com/collect?v=2&fmt=js&pid=12345678&time=1783018238450"
         "&url=https%3A%2F%2Fatomkraftwerke24.de%2Fectest.html%3Fgtm_debug%3D1783018219377&tm=gtmv2")
PV_PX4 = ("https://px4.ads.linkedin.com/collect?v=2&fmt=js&pid=12345678&time=1783018238450"
          "&url=https%3A%2F%2Fatomkraftwerke24.de%2Fectest.html%3Fgtm_debug%3D1783018219377&tm=gtmv2"
          "&e_ipv6=AQKdMrP3gCBXlgAAAZ8kKzBLKIZqWcZwAjnFwSW4gKQevUSwa2iyg7TfAAEJd3SrN5bCZ0qoFHeqmbeTiiRtwAFkDgVH")
CV_PX = ("https://px.ads.linkedin.com/collect?v=2&fmt=js&pid=12345678&time=1783018301282"
         "&conversionId=111111111111&url=https%3A%2F%2Fatomkraftwerke24.de%2Fectest.html%3Fgtm_debug%3D1783018219377"
         "&tm=gtmv2")
# The image pixel from LinkedIn's "image pixel" install (Omnibug's test URL).
GIF = "https://px.ads.linkedin.com/collect/?pid=123456&conversionId=987654&fmt=gif"

# A real /wa CLICK body (scriptVersion 148, sent as text/plain JSON by insight.min.js).
WA_CLICK = {
    "pids": [5143044], "scriptVersion": 148, "time": 1715794001783, "domain": "lagreeod.com",
    "url": "https://lagreeod.com/subscribe",
    "pageTitle": "Subcribe to Lagree Fitness On Demand | Virtual Lagree Fitness Classes - Lagree On Demand",
    "websiteSignalRequestId": "9ad0a468-ef64-bb42-29d0-f2bcf7b665ec", "isTranslated": False, "liFatId": "",
    "liGiant": "", "misc": {"psbState": -4}, "isLinkedInApp": False, "hem": None, "signalType": "CLICK",
    "href": "",
    "domAttributes": {"elementSemanticType": None, "elementValue": None, "elementType": "submit",
                      "tagName": "BUTTON", "backgroundImageSrc": None, "imageSrc": None, "imageAlt": None,
                      "innerText": "START YOUR SUBSCRIPTION", "elementTitle": None, "cursor": "pointer",
                      "formAction": "register/validate_subscribe", "isFormSubmission": True},
    "innerElements": None,
    "elementCrumbsTree": [{"tagName": "main", "nthChild": 5, "id": "site-root"},
                          {"tagName": "form", "nthChild": 1, "id": "register_subscribe"}],
}
# A /wa PAGE_VISIT as scriptVersion 308 sends it: base64 of gzipped JSON.
WA_PAGE_VISIT = {
    "pids": [12345678], "scriptVersion": 308, "time": 1783018238460, "domain": "atomkraftwerke24.de",
    "url": "https://atomkraftwerke24.de/ectest.html", "pageTitle": "Enhanced Conversions Testseite",
    "websiteSignalRequestId": "a8b241ae-049f-6e40-7585-1466dc162595", "isTranslated": False,
    "liFatId": "AQHUz3ZpHuNvxQAAAZ8kKzBLqXv", "liGiant": "", "misc": {"psbState": -4},
    "isLinkedInApp": False, "hem": SHA_EMAIL, "signalType": "PAGE_VISIT",
}
BEACON_HEADERS = [("content-type", "text/plain;charset=UTF-8"), ("origin", "https://atomkraftwerke24.de")]


def b64gzip(obj) -> bytes:
    return base64.b64encode(gzip.compress(json.dumps(obj, separators=(",", ":")).encode()))


def get(url: str, **kw) -> RawHit:
    return RawHit(method="GET", url=url, **kw)


def post(url: str, body: bytes, headers=BEACON_HEADERS, **kw) -> RawHit:
    return RawHit(method="POST", url=url, body=body, headers=list(headers), **kw)


def one(hit: RawHit):
    events = REGISTRY.decode(hit)
    assert len(events) == 1, events
    return events[0]


# ------------------------------------------------------------------------------------ /collect


def test_collect_js_page_view():
    ev = one(get(PV_PX))
    assert (ev.platform, ev.source, ev.kind) == ("linkedin", Source.browser, Kind.event)
    assert ev.pixel_id == "12345678"
    assert (ev.event, ev.standard_event) == ("PAGE_VISIT", "PageView")
    assert ev.event_id is None
    assert ev.page_url == "https://atomkraftwerke24.de/ectest.html?gtm_debug=1783018219377"
    assert ev.endpoint == "px /collect script"
    assert ev.decode_errors == ()
    assert [p.name for p in ev.params] == ["v", "fmt", "pid", "time", "url", "tm"]
    assert ev.param("time") == "1783018238450" and ev.param("tm") == "gtmv2"
    labels = {p.name: (p.label, p.group) for p in ev.params}
    assert labels["pid"] == ("Partner ID (Insight Tag)", "Event")
    assert labels["url"] == ("Page URL", "Page context")


def test_collect_js_conversion_is_a_conversion_labelled_with_its_rule():
    ev = one(get(CV_PX))
    assert (ev.event, ev.standard_event) == ("conversion", None)
    assert ev.title == "conversion (rule 111111111111)"
    assert ev.pixel_id == "12345678"
    assert ev.param("conversionId") == "111111111111"
    assert {p.name: p.label for p in ev.params}["conversionId"] == "Conversion rule ID"


def test_collect_image_pixel_conversion():
    ev = one(get(GIF))
    assert (ev.pixel_id, ev.event, ev.endpoint) == ("123456", "conversion", "px /collect image")
    assert ev.title == "conversion (rule 987654)"
    assert ev.page_url is None
    assert ev.twin_key is None  # no time: nothing ties it to a mirror
    assert ev.decode_errors == ()


def test_collect_legacy_dc_host_image_page_view():
    ev = one(get("https://dc.ads.linkedin.com/collect/?pid=276116&fmt=gif"))  # developers.facebook.com
    assert (ev.pixel_id, ev.event, ev.standard_event) == ("276116", "PAGE_VISIT", "PageView")
    assert ev.endpoint == "dc /collect image" and ev.decode_errors == ()


def test_collect_event_id_is_the_dedup_key():
    # lintrk('track', {conversion_id: 987654, event_id: 'order-77'})
    ev = one(get("https://px.ads.linkedin.com/collect?v=2&fmt=js&pid=123456&time=1700000000000"
                 "&conversionId=987654&eventId=order-77&url=https%3A%2F%2Fshop.example%2Fthanks&liSync=1"))
    assert ev.event_id == "order-77"
    assert ev.page_url == "https://shop.example/thanks"
    assert ev.param("liSync") == "1"


def test_collect_post_form_body_is_read():
    ev = one(post("https://px.ads.linkedin.com/collect", b"pid=99&conversionId=42",
                  headers=[("content-type", "application/x-www-form-urlencoded")]))
    assert (ev.pixel_id, ev.title) == ("99", "conversion (rule 42)")


def test_collect_without_pid_is_a_decode_error_but_still_an_event():
    ev = one(get("https://px.ads.linkedin.com/collect?v=2&fmt=js"))
    assert ev.pixel_id is None and ev.event == "PAGE_VISIT"
    assert ev.decode_errors == ("no partner ID (pid)",)


def test_px4_mirror_is_folded_into_the_px_hit_as_a_twin():
    session = Session()
    first = get(PV_PX, time=1000.0)
    mirror = get(PV_PX4, time=1000.2)
    conversion = get(CV_PX, time=1000.3)
    assert len(session.ingest(first)) == 1
    assert session.ingest(mirror) == []
    assert len(session.ingest(conversion)) == 1  # a conversion in the same burst is its own event
    events = list(session)
    assert [e.title for e in events] == ["page view → PageView", "conversion (rule 111111111111)"]
    assert events[0].twins == (mirror.id,)
    assert events[0].endpoint == "px /collect script"


# ferguson.com (2022, a HAR recorded by sitespeed.io): insight.min.js sends the page view, LinkedIn
# redirects it through www.linkedin.com/px/li_sync, and the hit comes back with liSync=true.
FERGUSON_PV = ("https://px.ads.linkedin.com/collect?v=2&fmt=js&pid=2801748&time=1643952221798"
               "&url=https%3A%2F%2Fwww.ferguson.com%2F")


def test_cookie_sync_and_cookie_test_copies_are_twins_of_the_hit():
    session = Session()
    first = get(FERGUSON_PV, time=1000.0)
    synced = get(FERGUSON_PV + "&liSync=true", time=1000.4)
    tested = get(FERGUSON_PV + "&cookiesTest=true", time=1000.6)  # docs.influxdata.com, 2023
    assert len(session.ingest(first)) == 1
    assert session.ingest(synced) == [] and session.ingest(tested) == []
    (ev,) = session
    assert ev.twins == (synced.id, tested.id)
    assert ev.endpoint == "px /collect script"
    # the page view sent twice as it is, by the same path, is no copy
    again = get(FERGUSON_PV, time=1000.8)
    assert len(session.ingest(again)) == 1


def test_collect_with_several_partner_ids_is_one_event_per_partner():
    # insight.min.js on www.nevadahealthlink.com (The Markup's Blacklight scan, 2025) with two
    # partner IDs: one /collect naming both, comma-joined (its /wa body lists them as pids).
    url = ("https://px.ads.linkedin.com/collect?v=2&fmt=js&pid=301905%2C3597804&time=1745853804580"
           "&li_adsId=ae06aa5e-b3c2-45fc-ad5c-3bc3e89b9767&url=https%3A%2F%2Fwww.nevadahealthlink.com%2F")
    events = REGISTRY.decode(get(url))
    assert [(e.pixel_id, e.event, e.decode_errors) for e in events] == [
        ("301905", "PAGE_VISIT", ()), ("3597804", "PAGE_VISIT", ())]
    assert events[0].twin_key != events[1].twin_key  # two partners are two events, not copies


# ------------------------------------------------------------------------------------ /wa


def test_wa_click_plain_json():
    ev = one(post("https://px.ads.linkedin.com/wa/", json.dumps(WA_CLICK).encode()))
    assert ev.pixel_id == "5143044"
    assert (ev.event, ev.label, ev.standard_event) == ("CLICK", "click", None)
    assert ev.page_url == "https://lagreeod.com/subscribe"
    assert ev.endpoint == "/wa POST JSON"
    assert ev.user_data == ()  # hem null, liFatId empty
    assert ev.decode_errors == ()
    assert ev.param("signalType") == "CLICK"
    assert ev.param("domAttributes.innerText") == "START YOUR SUBSCRIPTION"
    assert ev.param("domAttributes.isFormSubmission") == "true"
    assert ev.param("misc.psbState") == "-4"
    assert ev.param("pids") == "[5143044]"
    assert ev.param("elementCrumbsTree") == json.dumps(WA_CLICK["elementCrumbsTree"], separators=(",", ":"))
    assert ev.param("hem") == ""
    labels = {p.name: (p.label, p.group) for p in ev.params}
    assert labels["domAttributes.innerText"] == ("Clicked element: innerText", "Click")
    assert labels["pageTitle"] == ("Page title", "Page context")


def test_wa_page_visit_base64_gzip_with_hashed_email_and_click_id():
    ev = one(post("https://px.ads.linkedin.com/wa/", b64gzip(WA_PAGE_VISIT)))
    assert ev.pixel_id == "12345678"
    assert (ev.event, ev.standard_event) == ("PAGE_VISIT", "PageView")
    assert ev.page_url == "https://atomkraftwerke24.de/ectest.html"
    assert ev.endpoint == "/wa POST base64-gzip"
    assert ev.decode_errors == ()
    assert ev.param("scriptVersion") == "308"
    assert ev.param("pageTitle") == "Enhanced Conversions Testseite"
    assert ev.param("websiteSignalRequestId") == "a8b241ae-049f-6e40-7585-1466dc162595"
    assert [(u.key, u.name, u.hashed, u.value) for u in ev.user_data] == [
        ("em", "hem", True, SHA_EMAIL),
        ("li_fat_id", "liFatId", False, "AQHUz3ZpHuNvxQAAAZ8kKzBLqXv"),
    ]


def test_wa_fetch_variant_with_query_and_several_partner_ids():
    body = {**WA_PAGE_VISIT, "pids": [12345678, 7654321], "hem": None, "liFatId": ""}
    events = REGISTRY.decode(post("https://px.ads.linkedin.com/wa?medium=fetch&fmt=g", b64gzip(body)))
    assert [e.pixel_id for e in events] == ["12345678", "7654321"]
    for ev in events:
        assert ev.event == "PAGE_VISIT" and ev.standard_event == "PageView"
        assert ev.endpoint == "/wa POST (fetch) base64-gzip"
        assert ev.param("medium") == "fetch" and ev.param("fmt") == "g"
        assert ev.decode_errors == ()
    assert events[0].twin_key != events[1].twin_key  # two partners are two events, not copies


def test_wa_truncated_gzip_decodes_what_arrived():
    packed = base64.b64encode(gzip.compress(json.dumps(WA_CLICK).encode())[:-30])
    ev = one(post("https://px.ads.linkedin.com/wa/", packed))
    assert ev.decode_errors[0].startswith("body (base64 gzip) is truncated; decoded ")
    assert "decoded what could be decoded" in ev.decode_errors[1]
    # Everything before the cut survives: partner, signal, page.
    assert (ev.pixel_id, ev.event, ev.page_url) == ("5143044", "CLICK", "https://lagreeod.com/subscribe")


def test_wa_invalid_base64_is_a_decode_error():
    ev = one(post("https://px.ads.linkedin.com/wa/", b"H4sI%%%not*base64*at*all%%%"))
    assert ev.pixel_id is None and ev.event is None
    assert ev.decode_errors[0] == "body looks like base64 but is not"
    assert "no partner IDs (pids)" in ev.decode_errors


def test_wa_garbage_body_is_a_decode_error():
    ev = one(post("https://px.ads.linkedin.com/wa/", b"\xff\xfe\x00garbage" + bytes(range(256))))
    assert any("not valid UTF-8" in e for e in ev.decode_errors)
    assert any("not valid JSON" in e for e in ev.decode_errors)


def test_wa_empty_body():
    ev = one(post("https://px.ads.linkedin.com/wa/", b""))
    assert ev.decode_errors == ("empty body", "no partner IDs (pids)", "no signal type (signalType)")
    assert ev.params == ()


def test_wa_unknown_signal_type_keeps_its_name():
    ev = one(post("https://px.ads.linkedin.com/wa/", json.dumps({**WA_CLICK, "signalType": "FORM_SUBMIT"}).encode()))
    assert (ev.event, ev.title, ev.standard_event) == ("FORM_SUBMIT", "form submit", None)


# ------------------------------------------------------------------------------------ loader etc.


def test_insight_loader_is_pixel_loaded_and_passes_through():
    for name in ("insight.min.js", "insight.beta.min.js"):
        hit = get(f"https://snap.licdn.com/li.lms-analytics/{name}", headers=[("referer", "https://shop.example/")])
        ev = one(hit)
        assert ev.kind == Kind.pixel_loaded and ev.endpoint == name
        assert ev.page_url == "https://shop.example/"
        route, _ = REGISTRY.find(hit.host, hit.path)
        assert route.sink is False


def test_attribution_trigger_is_routed_but_not_an_event():
    hit = get("https://px.ads.linkedin.com/attribution_trigger?pid=12345678&time=1783018238450&url=x")
    assert REGISTRY.find(hit.host, hit.path) is not None
    assert REGISTRY.decode(hit) == []


def test_linkedin_routes_are_discovered():
    assert default_registry().find("px.ads.linkedin.com", "/wa/")[0].platform == "linkedin"


# ------------------------------------------------------------------------------------ Conversions API

CAPI_URL = "https://api.linkedin.com/rest/conversionEvents"
TOKEN = "AQV8aXj9secret-token-value-1234567890"
CAPI_HEADERS = [("Authorization", f"Bearer {TOKEN}"), ("Content-Type", "application/json"),
                ("LinkedIn-Version", "202601"), ("X-Restli-Protocol-Version", "2.0.0")]
CAPI_EVENT = {
    "conversion": "urn:lla:llaPartnerConversion:104012",
    "conversionHappenedAt": 1700000000000,
    "conversionValue": {"currencyCode": "USD", "amount": "1500.0"},
    "user": {
        "userIds": [
            {"idType": "SHA256_EMAIL", "idValue": SHA_EMAIL},
            {"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": "df14b9d3-1b5d-4e55-9d7d-4a1e8c7c1a11"},
        ],
        "userInfo": {"firstName": "Mona", "lastName": "Kane", "title": "Software Engineer",
                     "companyName": "Microsoft", "countryCode": "US"},
    },
    "eventId": "order-77",
}


def test_capi_single_event():
    ev = one(post(CAPI_URL, json.dumps(CAPI_EVENT).encode(), headers=CAPI_HEADERS))
    assert (ev.platform, ev.source, ev.kind) == ("linkedin", Source.server, Kind.event)
    assert ev.pixel_id == "104012"
    assert (ev.event, ev.standard_event, ev.title) == ("conversion", None, "conversion (rule 104012)")
    assert ev.event_id == "order-77"
    assert (ev.value, ev.currency) == ("1500.0", "USD")
    assert ev.endpoint == "CAPI conversionEvents"
    assert ev.decode_errors == ()
    assert ev.param("conversionHappenedAt") == "1700000000000"
    assert ev.param("user.userInfo.companyName") == "Microsoft"
    assert ev.param("user.userIds") == json.dumps(CAPI_EVENT["user"]["userIds"], separators=(",", ":"))
    assert ev.param("LinkedIn-Version") == "202601"
    labels = {p.name: p.label for p in ev.params}
    assert labels["conversion"] == "Conversion rule (URN; the rule ID is the pixel ID here)"
    assert [(u.key, u.name, u.hashed) for u in ev.user_data] == [
        ("em", "user.userIds[SHA256_EMAIL]", True),
        ("li_fat_id", "user.userIds[LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID]", False),
        ("fn", "user.userInfo.firstName", False),
        ("ln", "user.userInfo.lastName", False),
    ]


def test_capi_authorization_never_becomes_a_param():
    ev = one(post(CAPI_URL, json.dumps(CAPI_EVENT).encode(), headers=CAPI_HEADERS))
    assert TOKEN not in EVENT_JSON.dump_json(ev).decode()
    assert all(p.name.lower() != "authorization" for p in ev.params)


def test_capi_batch_create_is_one_event_per_element():
    second = {**CAPI_EVENT, "conversion": "urn:lla:llaPartnerConversion:104013", "eventId": "lead-9",
              "conversionValue": {"currencyCode": "EUR", "amount": "0"},
              "user": {"userIds": [{"idType": "ACXIOM_ID", "idValue": "AbC123"}]}}
    body = json.dumps({"elements": [CAPI_EVENT, second]}).encode()
    events = REGISTRY.decode(post(CAPI_URL, body, headers=[*CAPI_HEADERS, ("X-RestLi-Method", "BATCH_CREATE")]))
    assert [e.title for e in events] == ["conversion (rule 104012)", "conversion (rule 104013)"]
    assert [e.pixel_id for e in events] == ["104012", "104013"]
    assert [e.event_id for e in events] == ["order-77", "lead-9"]
    assert [(e.value, e.currency) for e in events] == [("1500.0", "USD"), ("0", "EUR")]
    assert [e.endpoint for e in events] == ["CAPI conversionEvents batch 1/2", "CAPI conversionEvents batch 2/2"]
    assert [(u.key, u.value) for u in events[1].user_data] == [("acxiom_id", "AbC123")]
    assert all(e.source == Source.server and e.decode_errors == () for e in events)
    assert events[1].param("X-RestLi-Method") == "BATCH_CREATE"
    assert events[1].param("elements") is None  # params are the element's own fields


def test_capi_batch_header_without_elements_and_bad_urn():
    body = json.dumps({"conversion": "104012", "conversionHappenedAt": 1}).encode()
    ev = one(post(CAPI_URL, body, headers=[*CAPI_HEADERS, ("X-RestLi-Method", "BATCH_CREATE")]))
    assert ev.pixel_id is None and ev.event is None
    assert ev.decode_errors == (
        "X-RestLi-Method: BATCH_CREATE but the body has no elements list",
        "conversion is not a urn:lla:llaPartnerConversion:<id> URN: 104012",
        "no user.userIds list",)


def test_capi_garbage_and_empty_batch():
    ev = one(post(CAPI_URL, b"{\"elements\": [", headers=CAPI_HEADERS))
    assert ev.source == Source.server and ev.decode_errors
    ev = one(post(CAPI_URL, b'{"elements": []}', headers=[*CAPI_HEADERS, ("X-RestLi-Method", "BATCH_CREATE")]))
    assert "batch has no elements" in ev.decode_errors
    assert [p.name for p in ev.params] == ["LinkedIn-Version", "X-RestLi-Method"]


# ------------------------------------------------------------------------------------ fuzz

EVENT_URLS = ["https://px.ads.linkedin.com/collect", "https://px4.ads.linkedin.com/collect/",
              "https://px.ads.linkedin.com/wa/", "https://px.ads.linkedin.com/wa",
              "https://api.linkedin.com/rest/conversionEvents"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3),
    max_leaves=8)
wa_like = st.fixed_dictionaries({}, optional={
    "pids": json_values, "signalType": json_values, "url": json_values, "hem": json_values,
    "liFatId": json_values, "websiteSignalRequestId": json_values, "domAttributes": json_values})
capi_like = st.fixed_dictionaries({}, optional={
    "conversion": json_values, "conversionValue": json_values, "user": json_values, "eventId": json_values,
    "elements": st.lists(json_values, max_size=3)})


def _body(draw_json, packed: bool) -> bytes:
    raw = json.dumps(draw_json).encode()
    return base64.b64encode(gzip.compress(raw)) if packed else raw


bodies = st.one_of(
    st.binary(max_size=300),
    st.builds(_body, st.one_of(wa_like, capi_like, json_values), st.booleans()),
    st.builds(lambda b, n: b[:n], st.builds(_body, wa_like, st.just(True)), st.integers(0, 200)),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(url=st.sampled_from(EVENT_URLS), query=st.text(max_size=80), body=bodies,
       batch=st.booleans())
def test_fuzz_never_raises_and_always_yields_events(url, query, body, batch):
    headers = [("content-type", "text/plain")] + ([("X-RestLi-Method", "BATCH_CREATE")] if batch else [])
    hit = RawHit(method="POST", url=f"{url}?{query}", body=body, headers=headers)
    events = REGISTRY.decode(hit)
    assert events
    for ev in events:
        assert not any(e.startswith("decoder error:") for e in ev.decode_errors), ev.decode_errors
        assert ev.platform == "linkedin"


def test_conversions_of_two_rules_are_two_events_and_the_documented_dedup_pair_is_no_id_reuse():
    from pixelspy.checks import CheckEngine

    session = Session(CheckEngine())
    thanks = ("https://px.ads.linkedin.com/collect?v=2&fmt=js&pid=123456&url=https%3A%2F%2Fshop.example%2Fthanks"
              "&conversionId={rule}&time={ms}{extra}")
    lead = session.ingest(get(thanks.format(rule="111", ms=1700000000000, extra=""), time=1000.0))
    signup = session.ingest(get(thanks.format(rule="222", ms=1700000000010, extra=""), time=1000.01))
    again = session.ingest(get(thanks.format(rule="111", ms=1700000000500, extra=""), time=1000.5))
    # LinkedIn's deduplication: one rule per source, the same eventId on the Insight Tag and on CAPI.
    browser = session.ingest(get(thanks.format(rule="333", ms=1700000001000, extra="&eventId=order-77"), time=1001))
    server = session.ingest(post(CAPI_URL, json.dumps({**CAPI_EVENT, "conversion": "urn:lla:llaPartnerConversion:444"})
                                 .encode(), headers=CAPI_HEADERS, time=1002))
    session.tick(1e10)
    codes = {ev.title: sorted({f.code for f in ev.findings}) for [ev] in (signup, browser, server)}
    assert codes == {"conversion (rule 222)": [], "conversion (rule 333)": ["dedup-ok"],
                     "conversion (rule 444)": ["dedup-ok"]}
    assert [f.code for f in lead[0].findings] == [f.code for f in again[0].findings] == ["duplicate-event"]
