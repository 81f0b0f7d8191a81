"""Meta Pixel /tr hits as fbevents.js sends them: GET, POST form, beacons, noscript, sandbox twin."""

from __future__ import annotations

import hashlib
from urllib.parse import quote, urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from pixelspy.decoders import default_registry
from pixelspy.model import Kind, RawHit, Source
from pixelspy.session import Session

PIXEL = "1234567890123456"
EM = hashlib.sha256(b"jane@example.com").hexdigest()
PH = hashlib.sha256(b"4915112345678").hexdigest()
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"

# The parameters of a Purchase as fbevents 2.9 puts them on the wire, in its order.
PURCHASE = [
    ("id", PIXEL), ("ev", "Purchase"), ("dl", "https://shop.example/thanks?o=77"),
    ("rl", "https://shop.example/cart"), ("if", "false"), ("ts", "1700000000123"),
    ("cd[value]", "49.90"), ("cd[currency]", "EUR"), ("cd[content_ids]", '["sku-1","sku-2"]'),
    ("cd[content_type]", "product"), ("cd[num_items]", "2"), ("cd[coupon]", "SPRING"),
    ("sw", "1920"), ("sh", "1080"), ("ud[em]", EM), ("ud[ph]", PH), ("v", "2.9.138"), ("r", "stable"),
    ("ec", "2"), ("o", "4126"), ("fbp", "fb.1.1700000000000.123456789"), ("eid", "order-77"),
    ("it", "1700000000000"), ("coo", "false"), ("rqm", "GET"),
]


def decode(method: str, url: str, body: bytes = b"", **headers: str):
    hit = RawHit(method=method, url=url, body=body,
                 headers=[(k.replace("_", "-"), v) for k, v in {"user_agent": CHROME, **headers}.items()])
    return default_registry().decode(hit)


def assert_purchase(ev) -> None:
    assert (ev.platform, ev.source, ev.kind) == ("meta", Source.browser, Kind.event)
    assert ev.pixel_id == PIXEL
    assert ev.event == ev.standard_event == "Purchase"
    assert ev.event_id == "order-77"
    assert ev.page_url == "https://shop.example/thanks?o=77"
    assert (ev.value, ev.currency) == ("49.90", "EUR")
    assert ev.content_ids == ("sku-1", "sku-2")
    assert [(u.key, u.name, u.hashed, u.value) for u in ev.user_data] == [
        ("em", "ud[em]", True, EM), ("ph", "ud[ph]", True, PH)]
    assert ev.decode_errors == ()
    value = next(p for p in ev.params if p.name == "cd[value]")
    assert (value.value, value.label, value.group) == ("49.90", "Value", "Custom data")
    coupon = next(p for p in ev.params if p.name == "cd[coupon]")
    assert (coupon.label, coupon.group) == ("Custom: coupon", "Custom data")
    assert ev.param("fbp") == "fb.1.1700000000000.123456789"
    assert ev.param("coo") == "false"


def test_get_with_bracketed_custom_data():
    (ev,) = decode("GET", "https://www.facebook.com/tr/?" + urlencode(PURCHASE, safe="[]"))
    assert_purchase(ev)
    assert ev.endpoint == "/tr GET"
    assert [p.name for p in ev.params] == [k for k, _ in PURCHASE]


def test_get_with_percent_encoded_keys():
    # URLSearchParams encodes the brackets: cd%5Bvalue%5D=49.90
    (ev,) = decode("GET", "https://www.facebook.com/tr?" + urlencode(PURCHASE))
    assert "cd%5Bvalue%5D" in urlencode(PURCHASE)
    assert_purchase(ev)


def test_image_get_is_told_apart_by_its_accept_header():
    (ev,) = decode("GET", "https://www.facebook.com/tr/?" + urlencode(PURCHASE),
                   accept="image/avif,image/webp,image/apng,image/*,*/*;q=0.8")
    assert ev.endpoint == "/tr image"
    assert_purchase(ev)


def test_post_form_when_the_url_would_be_too_long():
    (ev,) = decode("POST", "https://www.facebook.com/tr/", urlencode(PURCHASE).encode(),
                   content_type="application/x-www-form-urlencoded")
    assert ev.endpoint == "/tr form POST"
    assert_purchase(ev)


def test_text_plain_beacon_is_read_as_a_form():
    (ev,) = decode("POST", "https://www.facebook.com/tr/", urlencode(PURCHASE).encode(),
                   content_type="text/plain;charset=UTF-8")
    assert ev.endpoint == "/tr beacon"
    assert_purchase(ev)


def test_multipart_form_data_beacon():
    boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in PURCHASE
    ) + f"--{boundary}--\r\n".encode()
    (ev,) = decode("POST", "https://www.facebook.com/tr/", body,
                   content_type=f"multipart/form-data; boundary={boundary}")
    assert ev.endpoint == "/tr beacon"
    assert_purchase(ev)


def test_query_and_body_together_body_wins():
    (ev,) = decode("POST", f"https://www.facebook.com/tr/?id={PIXEL}&ev=PageView",
                   b"ev=Lead&cd%5Bvalue%5D=5", content_type="application/x-www-form-urlencoded")
    assert (ev.pixel_id, ev.event, ev.standard_event, ev.value) == (PIXEL, "Lead", "Lead", "5")


def test_noscript_image_pixel():
    (ev,) = decode("GET", f"https://www.facebook.com/tr?id={PIXEL}&ev=PageView&noscript=1")
    assert (ev.pixel_id, ev.event, ev.standard_event, ev.endpoint) == (PIXEL, "PageView", "PageView", "/tr image")
    noscript = next(p for p in ev.params if p.name == "noscript")
    assert (noscript.value, noscript.label, noscript.group) == ("1", "Noscript image pixel", "Technical")
    assert ev.decode_errors == ()


def test_custom_event_is_not_standard_and_contents_give_the_ids():
    contents = '[{"id":"A1","quantity":2,"item_price":5},{"id":7,"quantity":1}]'
    (ev,) = decode("GET", "https://www.facebook.com/tr/?" + urlencode(
        {"id": PIXEL, "ev": "purchase", "cd[contents]": contents}))
    assert (ev.event, ev.standard_event) == ("purchase", None)  # Meta is case-sensitive
    assert ev.content_ids == ("A1", "7")


def test_plain_email_in_advanced_matching_is_reported_unhashed():
    (ev,) = decode("GET", f"https://www.facebook.com/tr/?id={PIXEL}&ev=Lead&ud[em]=jane%40example.com")
    assert [(u.key, u.hashed, u.value) for u in ev.user_data] == [("em", False, "jane@example.com")]


def test_privacy_sandbox_trigger_is_a_twin_not_a_second_event():
    query = urlencode(PURCHASE)
    (tr,) = decode("GET", "https://www.facebook.com/tr/?" + query)
    (twin,) = decode("GET", "https://www.facebook.com/privacy_sandbox/pixel/register/trigger/?"
                     + query.replace("rqm=GET", "rqm=FGET"))
    assert twin.endpoint == "privacy sandbox GET"
    assert twin.twin_key == tr.twin_key == f"meta|{PIXEL}|Purchase|1700000000123|order-77"
    session = Session()
    first = session.ingest(RawHit(method="GET", url="https://www.facebook.com/tr/?" + query))
    second = session.ingest(RawHit(method="GET", url="https://www.facebook.com/privacy_sandbox/pixel/register/"
                                   "trigger/?" + query))
    assert len(first) == 1 and second == [] and len(session) == 1
    assert first[0].twins and first[0].twins[0] != first[0].hit_id


def test_the_redirect_hop_meta_answers_a_hit_with_is_a_twin():
    # www.accesshealthct.com (The Markup's Blacklight scan, 2025): Meta answered a PageView with a 302
    # to /tr/?redirect=0 and the same parameters in reverse order; the browser followed it.
    query = ("id=326339271066956&ev=PageView&dl=https%3A%2F%2Fwww.accesshealthct.com&rl=&if=false"
             "&ts=1745853762414&sw=375&sh=812&v=2.9.199&r=stable&ec=1&o=12316&fbp=fb.1.1745853762224.1000000000"
             "&it=1745853762038&coo=false&rqm=GET")
    hop = "redirect=0&" + "&".join(reversed(query.split("&")))
    session = Session()
    first = session.ingest(RawHit(method="GET", url="https://www.facebook.com/tr/?" + query, time=100.0))
    second = session.ingest(RawHit(method="GET", url="https://www.facebook.com/tr/?" + hop, time=100.03))
    assert len(first) == 1 and second == [] and len(session) == 1
    (ev,) = decode("GET", "https://www.facebook.com/tr/?" + hop)
    assert ev.endpoint == "/tr GET (redirect hop)"


# FB.AppEvents.logPageView() of the Facebook JS SDK as www.marchofdimes.org sent it in 2021 (The
# Markup's Blacklight HAR): the app ID (FB.init's appId) where fbevents puts a pixel ID.
SDK_PAGE_VIEW = ("https://www.facebook.com/tr/?id=179668297098&ev=fb_page_view&dl=https%3A%2F%2F"
                 "www.marchofdimes.org%2Fnews%2Fkmart.aspx&rl=&if=false&ts=1634685447023&sw=375&sh=812&at=")


def test_js_sdk_app_event_names_its_id_an_app_id():
    [ev] = decode("GET", SDK_PAGE_VIEW, referer="https://www.marchofdimes.org/news/kmart.aspx")
    assert (ev.source, ev.kind, ev.pixel_id, ev.event) == (Source.browser, Kind.event, "179668297098", "fb_page_view")
    assert ev.endpoint == "/tr JS SDK app event GET"
    [app_id] = [p for p in ev.params if p.name == "id"]
    assert app_id.label == "App ID (Facebook JS SDK app event)"
    [pixel] = decode("GET", f"https://www.facebook.com/tr/?id={PIXEL}&ev=PageView")
    assert pixel.endpoint == "/tr GET" and [p.label for p in pixel.params if p.name == "id"] == ["Pixel ID"]


def test_loaders_are_pixel_loaded_not_events():
    (script,) = decode("GET", "https://connect.facebook.net/en_US/fbevents.js", referer="https://shop.example/")
    assert (script.kind, script.pixel_id, script.endpoint, script.page_url) == (
        Kind.pixel_loaded, None, "fbevents.js", "https://shop.example/")
    (config,) = decode("GET", f"https://connect.facebook.net/signals/config/{PIXEL}?v=2.9.138&r=stable")
    assert (config.kind, config.pixel_id, config.endpoint) == (Kind.pixel_loaded, PIXEL, "signals config")
    loaders = [r for r in default_registry()._by_host["connect.facebook.net"]]
    assert loaders and not any(r.sink for r in loaders)  # the page needs the script


def test_other_facebook_paths_are_not_tracking():
    assert decode("GET", "https://www.facebook.com/login/") == []
    assert decode("GET", "https://connect.facebook.net/en_US/sdk.js") == []


def test_garbage_body_is_decode_errors_not_an_exception():
    (ev,) = decode("POST", "https://www.facebook.com/tr/", b"\xff\xfe%zz{" + bytes(range(256)),
                   content_type="text/plain")
    assert ev.platform == "meta"
    assert any("not valid UTF-8" in e for e in ev.decode_errors)
    assert "no event name (ev)" in ev.decode_errors and "no pixel ID (id)" in ev.decode_errors
    assert not any(e.startswith("decoder error") for e in ev.decode_errors)


def test_broken_percent_encoding_and_json_params_are_reported():
    (ev,) = decode("GET", f"https://www.facebook.com/tr/?id={PIXEL}&ev=ViewContent&cd[content_ids]=%5B%22a"
                   "&dl=https%3A%2F%2Fx%zz")
    assert ev.event == "ViewContent"
    assert any("percent-encoding" in e for e in ev.decode_errors)
    assert any("cd[content_ids]" in e and "JSON" in e for e in ev.decode_errors)
    assert ev.content_ids == ()


def test_json_body_is_flagged_because_fbevents_sends_a_form():
    (ev,) = decode("POST", "https://www.facebook.com/tr/", b'{"id":"1","ev":"PageView"}',
                   content_type="application/json")
    assert "Meta /tr body is JSON; fbevents sends a form" in ev.decode_errors


def test_truncated_gzip_body():
    import gzip
    packed = gzip.compress(urlencode(PURCHASE).encode())[:-12]
    (ev,) = decode("POST", "https://www.facebook.com/tr/", packed,
                   content_type="application/x-www-form-urlencoded", content_encoding="gzip")
    assert any("truncated" in e for e in ev.decode_errors)
    assert ev.pixel_id == PIXEL  # what was readable is decoded


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(["/tr", "/tr/", "/privacy_sandbox/pixel/register/trigger/"]),
       method=st.sampled_from(["GET", "POST"]),
       query=st.lists(st.tuples(st.sampled_from(["id", "ev", "eid", "cd[value]", "cd[content_ids]",
                                                 "cd[contents]", "ud[em]", "dl", "ts", "x"]),
                                st.text(max_size=30)), max_size=8),
       body=st.binary(max_size=300),
       ctype=st.sampled_from(["", "text/plain", "application/json", "application/x-www-form-urlencoded",
                              "multipart/form-data; boundary=xx", "multipart/form-data"]))
def test_fuzz_never_raises(path, method, query, body, ctype):
    url = f"https://www.facebook.com{path}?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in query)
    events = decode(method, url, body, content_type=ctype)
    assert len(events) == 1
    assert not any(e.startswith("decoder error:") for e in events[0].decode_errors)
