"""Duplicates, duplicate pixels, several pixels, redundant purchases and reused event IDs."""

from __future__ import annotations

from pixelspy import decoders
from pixelspy.model import RawHit, Severity, TrackingEvent

from .helpers import PIXEL, T0, codes, engine, event, loaded, meta_hit, seen, server, the

OTHER_PIXEL = "6543210987654321"
SNAP = "b2ade379-a55e-4ca7-893b-b9fac04c843f"
SNAP_OTHER = "0f6c6a3e-5b1d-4c7e-9a51-2d7f3c8e9b10"


def test_same_event_id_twice_from_the_browser_is_a_duplicate_on_both():
    e = engine()
    first = meta_hit(ev="Purchase", eid="ord-1", ts="1")
    second = meta_hit(time=T0 + 30, ev="Purchase", eid="ord-1", ts="2")
    e.process(first)
    changed = e.process(second)
    assert changed >= {first.id, second.id}
    f = the(second, "duplicate-event")
    assert f.severity == Severity.warning and f.related == [first.id]
    assert f.message == "Meta Purchase with event ID 'ord-1' sent 2 times from the browser"
    assert the(first, "duplicate-event").related == [second.id]


def test_different_event_ids_are_not_duplicates():
    e = engine()
    a, b = meta_hit(ev="Purchase", eid="ord-1"), meta_hit(time=T0 + 0.1, ev="Purchase", eid="ord-2")
    e.process(a)
    e.process(b)
    assert "duplicate-event" not in codes(a) | codes(b)


def test_same_event_id_from_another_device_or_source_is_not_a_same_source_duplicate():
    e = engine()
    a = meta_hit(ev="Purchase", eid="ord-1")
    b = meta_hit(ev="Purchase", eid="ord-1", client="10.0.0.3")
    c = server(event="Purchase", standard_event="Purchase", event_id="ord-1")
    for ev in (a, b, c):
        e.process(ev)
    assert "duplicate-event" not in codes(a) | codes(b) | codes(c)


def test_same_parameters_without_event_id_within_the_window_is_a_double_installed_pixel():
    e = engine()
    params = {"dl": "https://shop.example/p/1", "cd[content_ids]": '["sku-1"]'}
    a = meta_hit(ev="ViewContent", ts="1700000000000", ec="0", **params)
    b = meta_hit(time=T0 + 0.4, ev="ViewContent", ts="1700000000400", ec="1", **params)
    c = meta_hit(time=T0 + 0.8, ev="ViewContent", ts="1700000000800", ec="2", **params)
    for ev in (a, b, c):
        e.process(ev)
    f = the(c, "duplicate-event")
    assert f.message == "Meta ViewContent sent 3 times within 2 s with the same parameters and no event ID"
    assert f.related == sorted([a.id, b.id])
    assert the(a, "duplicate-event").related == sorted([b.id, c.id])


def test_near_misses_without_event_id_are_not_duplicates():
    e = engine()
    a = meta_hit(ev="ViewContent", dl="https://shop.example/p/1", **{"cd[content_ids]": '["sku-1"]'})
    other_params = meta_hit(time=T0 + 0.2, ev="ViewContent", dl="https://shop.example/p/1",
                            **{"cd[content_ids]": '["sku-2"]'})
    too_late = meta_hit(time=T0 + 2.5, ev="ViewContent", dl="https://shop.example/p/1",
                        **{"cd[content_ids]": '["sku-1"]'})
    for ev in (a, other_params, too_late):
        e.process(ev)
    assert "duplicate-event" not in codes(a) | codes(other_params) | codes(too_late)


def test_the_window_is_configurable():
    e = engine(duplicate_window_s=5)
    a = meta_hit(ev="PageView", dl="https://shop.example/")
    b = meta_hit(time=T0 + 4, ev="PageView", dl="https://shop.example/")
    e.process(a)
    e.process(b)
    assert "within 5 s" in the(b, "duplicate-event").message


def test_one_event_sent_to_two_pixels_is_linked_not_a_duplicate():
    e = engine()
    a = meta_hit(ev="Purchase", eid="ord-9", **{"cd[value]": "5", "cd[currency]": "EUR"})
    b = meta_hit(ev="Purchase", eid="ord-9", id=OTHER_PIXEL, **{"cd[value]": "5", "cd[currency]": "EUR"})
    e.process(a)
    e.process(b)
    assert "duplicate-event" not in codes(a) | codes(b)
    f = the(b, "multi-pixel")
    assert f.severity == Severity.info and f.related == [a.id]
    assert f.message == f"Meta Purchase sent to 2 pixels ({PIXEL}, {OTHER_PIXEL})"
    assert the(a, "multi-pixel").related == [b.id]


def test_same_pixel_initialised_twice_on_one_page():
    e = engine()
    a = loaded(endpoint="signals config", page_url="https://shop.example/")
    b = loaded(time=T0 + 0.5, endpoint="signals config", page_url="https://shop.example/")
    e.process(a)
    e.process(b)
    f = the(b, "duplicate-pixel")
    assert f.message == f"Meta pixel {PIXEL} initialised 2 times on one page within 10 s"
    assert f.related == [a.id] and the(a, "duplicate-pixel").related == [b.id]


def test_pixel_loaded_again_on_the_next_page_or_by_another_device_is_fine():
    e = engine()
    a = loaded(page_url="https://shop.example/")
    next_page = loaded(time=T0 + 3, page_url="https://shop.example/cart")
    other_device = loaded(time=T0 + 1, page_url="https://shop.example/", client="10.0.0.9")
    later = loaded(time=T0 + 30, page_url="https://shop.example/")
    for ev in (a, next_page, other_device, later):
        e.process(ev)
    assert all("duplicate-pixel" not in codes(ev) for ev in (a, next_page, other_device, later))


def page_load(url: str, time: float, client: str = "10.0.0.2") -> RawHit:
    """A top-level navigation as Chromium and Firefox send it."""
    headers = [("accept", "text/html"), ("sec-fetch-dest", "document"), ("sec-fetch-mode", "navigate")]
    return seen(RawHit(method="GET", url=url, time=time, client=client, headers=headers))


def test_a_page_load_between_two_loads_starts_a_new_page_view():
    # Cross-origin loaders carry only the page's origin as Referer (the default referrer policy), so
    # the next page of the shop looks like the same page; the navigation between them tells them apart.
    e = engine()
    e.observe_traffic(page_load("https://shop.example/", T0 - 0.2))
    a = loaded(endpoint="signals config", page_url="https://shop.example/")
    e.process(a)
    e.observe_traffic(page_load("https://shop.example/cart", T0 + 2))
    b = loaded(time=T0 + 2.3, endpoint="signals config", page_url="https://shop.example/")
    e.process(b)
    assert "duplicate-pixel" not in codes(a) | codes(b)


def test_a_page_load_elsewhere_does_not_hide_a_double_install():
    e = engine()
    a = loaded(endpoint="signals config", page_url="https://shop.example/")
    e.process(a)
    e.observe_traffic(page_load("https://shop.example/", T0 + 0.1, client="10.0.0.9"))  # another device
    e.observe_traffic(page_load("https://other.example/", T0 + 0.2))  # another site, e.g. another tab
    e.observe_traffic(seen(RawHit(method="GET", url="https://shop.example/app.js", time=T0 + 0.3, client="10.0.0.2",
                                  headers=[("sec-fetch-dest", "script")])))
    b = loaded(time=T0 + 0.5, endpoint="signals config", page_url="https://shop.example/")
    e.process(b)
    assert the(b, "duplicate-pixel").related == [a.id]


def test_repeated_purchase_for_one_order_with_new_event_ids_is_redundant():
    e = engine()
    a = meta_hit(ev="Purchase", eid="a1", **{"cd[order_id]": "1001", "cd[value]": "9", "cd[currency]": "EUR"})
    b = meta_hit(time=T0 + 600, ev="Purchase", eid="b2",
                 **{"cd[order_id]": "1001", "cd[value]": "9", "cd[currency]": "EUR"})
    e.process(a)
    e.process(b)
    f = the(b, "redundant-purchase")
    assert f.message == "Meta Purchase for order '1001' sent 2 times with different event IDs"
    assert f.related == [a.id] and the(a, "redundant-purchase").related == [b.id]


def test_other_orders_and_the_server_copy_of_an_order_are_not_redundant():
    e = engine()
    a = meta_hit(ev="Purchase", eid="a1", **{"cd[order_id]": "1001"})
    other_order = meta_hit(time=T0 + 5, ev="Purchase", eid="a2", **{"cd[order_id]": "1002"})
    capi = server(event="Purchase", standard_event="Purchase", event_id="a1", order_id="1001")
    same_eid = meta_hit(time=T0 + 60, ev="Purchase", eid="a1", **{"cd[order_id]": "1001"})
    for ev in (a, other_order, capi, same_eid):
        e.process(ev)
    assert all("redundant-purchase" not in codes(ev) for ev in (a, other_order, capi, same_eid))
    assert "duplicate-event" in codes(same_eid)  # the same event ID again is the duplicate rule's case


def test_an_event_id_on_browser_and_server_copies_or_on_another_pixel_is_not_reuse():
    # Snapchat dedups on the ID alone (tests/checks/test_ids.py has every vendor family)
    e = engine()
    a = event("snapchat", pixel_id=SNAP, event="PURCHASE", standard_event="Purchase", event_id="abc")
    b = server("snapchat", pixel_id=SNAP, event="PURCHASE", standard_event="Purchase", event_id="abc")
    c = event("snapchat", pixel_id=SNAP_OTHER, event="ADD_CART", standard_event="AddToCart", event_id="abd")
    d = event("snapchat", pixel_id=SNAP_OTHER, event="ADD_CART", standard_event="AddToCart", event_id="abc")
    for ev in (a, b, c, d):
        e.process(ev)
    assert all("event-id-reused" not in codes(ev) for ev in (a, b, c, d))


def test_state_expires_by_time_and_size_and_resets():
    e = engine()
    check = next(c for c in e.checks if type(c).__name__ == "DuplicatesCheck")
    for i in range(300):  # 300 page views on 300 pages, 1 s apart: all outlive the 2 s window
        e.process(meta_hit(time=T0 + i, ev="PageView", dl=f"https://shop.example/{i}"))
    assert len(check.by_signature) <= 3
    check.by_event_id.max_entries = 100
    for i in range(500):
        e.process(meta_hit(time=T0 + i, ev="Purchase", eid=f"e{i}"))
    assert len(check.by_event_id) == 100
    e.reset()
    assert len(check.by_event_id) == len(check.by_signature) == 0


def google_ads_hop(url: str, time: float, label: str = "AbCdEfGhIjK1") -> TrackingEvent:
    """One hop of gtag's conversion redirect chain: the same query, another endpoint."""
    query = ("random=1700000000123&cv=11&fst=1700000000123&bg=ffffff&guid=ON&async=1&gtm=45be3b10v9115896837"
             f"&u_w=1680&u_h=1050&label={label}&value=257.6&currency_code=AED&oid=&frm=0"
             "&url=https%3A%2F%2Fshop.example%2Fcheckout%2Fthanks&tiba=Thank%20you&hn=www.googleadservices.com")
    [ev] = decoders.decode(RawHit(method="GET", url=f"{url}?{query}", time=time, client="10.0.0.2",
                                  headers=(("Referer", "https://shop.example/"),)))
    return ev


def test_googles_conversion_redirect_chain_is_one_conversion():
    e = engine()
    hops = [google_ads_hop("https://www.googleadservices.com/pagead/conversion/715226501/", T0),
            google_ads_hop("https://googleads.g.doubleclick.net/pagead/viewthroughconversion/715226501/", T0 + 0.2),
            google_ads_hop("https://www.google.com/pagead/1p-conversion/715226501/", T0 + 0.4)]
    for ev in hops:
        e.process(ev)
    assert all("duplicate-event" not in codes(ev) for ev in hops)


def test_a_conversion_tag_installed_twice_is_still_a_duplicate():
    e = engine()
    a = google_ads_hop("https://www.googleadservices.com/pagead/conversion/715226501/", T0)
    b = google_ads_hop("https://www.googleadservices.com/pagead/conversion/715226501/", T0 + 0.3)
    e.process(a)
    e.process(b)
    assert the(b, "duplicate-event").related == [a.id]


def test_two_conversion_actions_on_one_page_are_not_duplicates():
    # A thank-you page sending two Google Ads conversion actions (two labels, one account): gtag
    # names both "conversion"; the label is what makes them different.
    e = engine()
    url = "https://www.googleadservices.com/pagead/conversion/715226501/"
    a = google_ads_hop(url, T0)
    b = google_ads_hop(url, T0 + 0.3, label="ZyXwVuTsRqP9")
    e.process(a)
    e.process(b)
    assert "duplicate-event" not in codes(b)


def test_multi_pixel_is_noted_once_per_page_not_once_per_hit():
    # A shop with two Meta pixels in one base code: fbevents sends every event to each of them.
    e = engine()
    page = "https://shop.example/products/tee"
    hits = [meta_hit(time=T0 + i, ev=ev, id=pixel, dl=page)
            for i, ev in enumerate(("PageView", "ViewContent", "AddToCart")) for pixel in (PIXEL, OTHER_PIXEL)]
    for ev in hits:
        e.process(ev)
    noted = [ev for ev in hits if "multi-pixel" in codes(ev)]
    assert [ev.event for ev in noted] == ["PageView", "PageView"]
    e.observe_traffic(RawHit(method="GET", url="https://shop.example/cart", time=T0 + 10, client="10.0.0.2",
                             headers=(("Accept", "text/html,application/xhtml+xml"),)))
    next_page = [meta_hit(time=T0 + 11, ev="PageView", id=pixel, dl="https://shop.example/cart")
                 for pixel in (PIXEL, OTHER_PIXEL)]
    for ev in next_page:
        e.process(ev)
    assert all("multi-pixel" in codes(ev) for ev in next_page)


# ---------------------------------------------------------------- a vendor's own copies (issue #23, family 11)

VS_CONVERSION = ("cv=9&fst=1655398698461&num=1&label=mdb4CO-c_4IDEOGsxd4D&bg=ffffff&guid=ON&resp=GooglemKTybQhCsO"
                 "&u_h=900&u_w=1440&u_his=5&u_tz=330&gtm=2oa6f0&sendb=1&ig=1&data=event%3Dconversion&frm=0"
                 "&url=https%3A%2F%2Ftest.victoriassecret.com%2Fus%2F&auid=955750905.1655398648"
                 "&hn=www.googleadservices.com&async=1")
VS_HOP = "&fmt=3&ctc_id=CAIVAgAAAB0CAAAA&ct_cookie_present=false&sscte=1&crd="
# test.victoriassecret.com's sign-in (a Gatling recording): gtag's conversion, its view-through hop and
# the first-party hop on www.google.com and on the visitor's country domain, all within 0.5 s.
VS_CHAIN = [
    (0.0, "https://www.googleadservices.com/pagead/conversion/1003574881/?random=1655398698461&" + VS_CONVERSION),
    (0.31, "https://www.google.com/pagead/1p-conversion/1003574881/?random=1144592551&" + VS_CONVERSION + VS_HOP
     + "&is_vtc=1&random=3367534301"),
    (0.44, "https://googleads.g.doubleclick.net/pagead/viewthroughconversion/1003574881/?random=1144592551&"
     + VS_CONVERSION + VS_HOP),
    (0.44, "https://www.google.co.in/pagead/1p-conversion/1003574881/?random=1144592551&" + VS_CONVERSION + VS_HOP
     + "&is_vtc=1&random=3367534301&ipr=y&prhg=0"),
]
# linio.cl's home page (another Gatling recording of the site): the first-party hops of an unlabelled
# view-through ping, on www.google.com and www.google.co.in.
LINIO_1P = ("963429843/?random=144582559&cv=9&fst=1630205515705&num=1&guid=ON&resp=GooglemKTybQhCsO&u_h=700"
            "&u_w=1366&u_his=2&u_tz=330&sendb=1&ig=1&frm=0&url=https%3A%2F%2Fwww.linio.cl%2F"
            "&hn=www.googleadservices.com&async=1&fmt=3&ctc_id=CAIVAgAAAB0CAAAA&ct_cookie_present=false&sscte=1&crd="
            "&is_vtc=1&ocp_id=S_YqYc21KpqV1Aa6s5SYCA&random=2936334627&resp=GooglemKTybQhCsO")
LINIO_PAIR = [(0.0, "https://www.google.com/pagead/1p-conversion/" + LINIO_1P),
              (0.05, "https://www.google.co.in/pagead/1p-conversion/" + LINIO_1P + "&ipr=y")]
# www.orangehrm.com (a Gatling recording): fbevents 2.9.145 sends each event to /tr/ and, by fetch,
# to the Privacy Sandbox trigger endpoint; only rqm differs.
ORANGEHRM_LEAD = ("id=562775185088946&ev=Lead&dl=https%3A%2F%2Fwww.orangehrm.com%2F&rl=https%3A%2F%2Fwww.google.com%2F"
                  "&if=false&ts=1707905068235&sw=1536&sh=864&v=2.9.145&r=stable&ec=2&o=4126"
                  "&fbp=fb.1.1707905062143.381974684&cs_est=true&est_source=367406155319084&ler=other"
                  "&cdl=API_unavailable&it=1707905061589&coo=false&es=automatic&tm=3&exp=e1&rqm=")
META_PAIR = [(0.0, "https://www.facebook.com/tr/?" + ORANGEHRM_LEAD + "GET"),
             (0.9, "https://www.facebook.com/privacy_sandbox/pixel/register/trigger/?" + ORANGEHRM_LEAD + "FGET")]
# uwt.js's POST beacon and its t.co copy (Pixel & Tag Tracer's live captures).
X_PAIR = [(0.0, "https://analytics.x.com/1/i/adsctp", "event=%7B%7D&txn_id=num2q"),
          (0.002, "https://t.co/1/i/adsctp", "event=%7B%7D&txn_id=num2q")]


def copies_session(*hits: tuple) -> list[TrackingEvent]:
    from pixelspy.session import Session
    session = Session(engine())
    for t, url, *body in hits:
        method, data = ("POST", body[0].encode()) if body else ("GET", b"")
        headers = (("Referer", "https://shop.example/"),) + ((("Content-Type", "application/x-www-form-urlencoded"),)
                                                           if body else ())
        session.ingest(RawHit(method=method, url=url, body=data, time=T0 + t, client="10.0.0.2", headers=headers))
    return list(session)


def test_a_vendors_copies_of_one_hit_are_one_event_with_twins():
    for chain in (VS_CHAIN, LINIO_PAIR, META_PAIR, X_PAIR):
        events = copies_session(*chain)
        assert len(events) == 1, [e.endpoint for e in events]
        assert len(events[0].twins) == len(chain) - 1
        assert "duplicate-event" not in codes(events[0]) and events[0].decode_errors == ()


def test_the_same_conversion_fired_again_is_two_events():
    # The thank-you page reloaded: gtag draws a new page time (fst), so the second chain is no copy.
    again = [(t + 5, url.replace("1655398698461", "1655398703461")) for t, url in VS_CHAIN]
    events = copies_session(*VS_CHAIN, *again)
    assert [len(ev.twins) for ev in events] == [3, 3]


def tiktok_click(time: float, element: dict) -> TrackingEvent:
    """A click pixel.js 2.1.33 collected by itself (www.classdojo.com, The Markup's Blacklight scan, 2023)."""
    import json

    body = {"message_id": f"messageId-{int(time * 1000)}-1", "event_id": "", "is_onsite": False,
            "timestamp": "2023-11-15T18:19:24.018Z",
            "context": {"pixel": {"code": "CI9MDN3C77U2H86ME27G", "runtime": "1"},
                        "page": {"url": "https://www.classdojo.com/", "referrer": ""},
                        "library": {"name": "pixel.js", "version": "2.1.33"}},
            "properties": {}, "action": "Click",
            "auto_collected_properties": {"page_trigger": "Click", "trigger_element": element}}
    [ev] = decoders.decode(seen(RawHit(method="POST", url="https://analytics.tiktok.com/api/v2/pixel/act", time=time,
                                       client="10.0.0.2", body=json.dumps(body).encode(),
                                       headers=[("content-type", "text/plain;charset=UTF-8")])))
    return ev


def test_two_clicks_tiktok_collected_by_itself_are_no_duplicate_but_one_click_sent_twice_is():
    nav = {"tag": "BUTTON", "inner_text": "", "xpath": "/HTML/body[1]/div[1]/div[1]/main[1]/nav[1]/div[1]/div[1]/button[1]",
           "timestamp": "2023-11-15T18:19:24.015Z", "position": {"x": 690, "y": 28}}
    log_in = {"tag": "BUTTON", "inner_text": "Log in", "timestamp": "2023-11-15T18:19:25.126Z",
              "xpath": "/HTML/body[1]/div[1]/div[1]/main[1]/nav[1]/div[1]/div[1]/ul[1]/li[7]/button[1]",
              "position": {"x": 337.1015625, "y": 376.390625}}
    e = engine()
    clicks = [tiktok_click(T0, nav), tiktok_click(T0 + 1.1, log_in)]
    for ev in clicks:
        e.process(ev)
    assert not any("duplicate-event" in codes(ev) for ev in clicks)
    twice = [tiktok_click(T0 + 10, nav), tiktok_click(T0 + 10.1, nav)]  # a second pixel.js reports it too
    for ev in twice:
        e.process(ev)
    assert all("duplicate-event" in codes(ev) for ev in twice)


def gtag_load(url: str, time: float) -> TrackingEvent:
    """A Google tag fetched on a page (these from The Markup's Blacklight scans, April 2025)."""
    hit = seen(RawHit(method="GET", url=url, time=time, client="10.0.0.2",
                      headers=[("referer", "https://www.mahealthconnector.org/")]))
    [ev] = decoders.decode(hit)
    ev.device = hit.device
    return ev


def test_google_tags_fetched_by_google_scripts_are_no_second_install():
    # The page's one Google tag snippet for G-P4KXFQ6SH0 loads it; the page's other snippet's gtag.js
    # (DC-12478002), running first, handles the page's config for G-P4KXFQ6SH0 and fetches it too
    # (cx=c); analytics.js, its Universal Analytics property having G-P4KXFQ6SH0 as connected site
    # tag, fetches it a third time (cx=c&_slc=1). One G-P4KXFQ6SH0 page_view follows.
    e = engine()
    site = gtag_load("https://www.googletagmanager.com/gtag/js?id=G-P4KXFQ6SH0", T0)
    runtime = gtag_load("https://www.googletagmanager.com/gtag/js?id=G-P4KXFQ6SH0&l=dataLayer&cx=c"
                        "&gtm=45fe54n0v9185244785za200&tag_exp=101509156~102887800~103051953~103077950"
                        "~103106314~103106316~103116026~103130360~103130362~103200004", T0 + 0.25)
    connected = gtag_load("https://www.googletagmanager.com/gtag/js?id=G-P4KXFQ6SH0&cx=c&_slc=1", T0 + 0.6)
    again = gtag_load("https://www.googletagmanager.com/gtag/js?id=G-P4KXFQ6SH0", T0 + 0.8)
    for ev in (site, runtime, connected):
        e.process(ev)
    assert "duplicate-pixel" not in codes(site) | codes(runtime) | codes(connected)
    e.process(again)  # the site's snippet twice is still a second install
    assert the(again, "duplicate-pixel").related == [site.id]


def test_a_tag_set_up_as_a_destination_and_by_a_snippet_is_loaded_twice():
    # www.nevadahealthlink.com (April 2025): the GA4 Google tag fetches AW-388099485 as its linked
    # destination; HubSpot's ads script inserts gtag.js for it; the running GTM fetches that once more
    # for HubSpot's config (cx=c, not counted). Two sets of page-load pings reach the account.
    e = engine()
    destination = gtag_load("https://www.googletagmanager.com/gtag/destination?id=AW-388099485&l=dataLayer&cx=c"
                            "&gtm=45je54n0v898007499za200zb71460865", T0)
    snippet = gtag_load("https://www.googletagmanager.com/gtag/js?id=AW-388099485", T0 + 0.352)
    echo = gtag_load("https://www.googletagmanager.com/gtag/js?id=AW-388099485&l=dataLayer&cx=c"
                     "&gtm=45He54n0v71460865za200", T0 + 0.353)
    for ev in (destination, snippet, echo):
        e.process(ev)
    assert the(snippet, "duplicate-pixel").related == [destination.id]
    assert "duplicate-pixel" not in codes(echo)


# Two PAGE_VIEWs GTM's Snap tag sent 4 ms apart (www.marylandhealthconnection.gov, The Markup's
# Blacklight scan, April 2025): the same hit but for scevent's own per-call values: the "@-" client
# dedup ID it draws itself, the hit ID, the timestamp and the m_ page metrics (m_rd).
SNAP_GTM_PAGE_VIEW = (
    "https://tr.snapchat.com/p?pid=bcb44554-52c0-4048-aa0b-623deb11e6dd&ev=PAGE_VIEW&intg=gtm&e_su=1"
    "&pids=bcb44554-52c0-4048-aa0b-623deb11e6dd&u_c1=00000000-0000-4000-8000-000000000003&cdid=%40-{cdid}"
    "&u_sclid=00000000-0000-4000-8000-000000000002&u_scsid=00000000-0000-4000-8000-000000000001"
    "&gat=DC-5156370%2CAW-953853616%2CGTM-5NDXCR7%2CG-SJZ6V09WB2%2CDC-5156370&gac=56c250a6&bg=false&bt=aadafeb2"
    "&d_bvs=&huah=true&m_dcl=2181&m_fcps=2217&m_pi=2178&m_pl=0&m_pv=2&m_rd={rd}&m_sh=812&m_sl=2469&m_sw=375"
    "&pl=https%3A%2F%2Fwww.marylandhealthconnection.gov%2F&trackId={track}&ts={ts}&v=3.44.6-2504241707")


def test_a_snap_page_view_sent_twice_with_scevents_own_dedup_ids_is_a_duplicate():
    events = copies_session(
        (0.0, SNAP_GTM_PAGE_VIEW.format(cdid="00000000-0000-4000-8000-000000000004", rd=2520,
                                        track="445bc8ad-cc2d-4adf-850a-083caee9b7fe", ts=1745853788435)),
        (0.004, SNAP_GTM_PAGE_VIEW.format(cdid="00000000-0000-4000-8000-000000000005", rd=2524,
                                          track="6cd843ee-8e09-406c-9ee0-eb317f5fdd1b", ts=1745853788439)))
    assert [ev.event_id for ev in events] == [None, None]  # "@-…" is scevent's, not the site's
    assert all("duplicate-event" in codes(ev) for ev in events)


# GA4 page_views of home.xtramath.org (November 2023, The Markup's DevTools HAR): G-8S2V5RTT86 configured by
# GTM's tag (gtm=…z8892600270, _s=1) and again by the page's own snippet (_s=2, 5 s later), one page load.
GA4_PAGE_VIEW = ("https://analytics.google.com/g/collect?v=2&tid=G-8S2V5RTT86&gtm={gtm}&_p={load}&gcd=11l1l1l1l1"
                 "&dma=0&cid=100000000.1700069764&ul=en-us&sr=1512x982&are=1&pae=1&_s={s}&sid=1700069764&sct=1"
                 "&seg=0&dl={page}&dr=https%3A%2F%2Fxtramath.org%2F&dt=XtraMath&en=page_view&tfd={tfd}")
XTRAMATH = "https%3A%2F%2Fhome.xtramath.org%2F"


def ga4_page_view(t: float, gtm: str, s: int, load: str = "1700069764143", page: str = XTRAMATH) -> tuple:
    return t, GA4_PAGE_VIEW.format(gtm=gtm, load=load, s=s, page=page, tfd=int(t * 1000) + 651), ""


def test_a_ga4_page_view_sent_twice_in_one_page_load_is_a_duplicate_however_far_apart():
    events = copies_session(ga4_page_view(0.0, "45je3b81v890841044z8892600270", 1),
                            ga4_page_view(5.0, "45je3b81v890841044", 2))
    assert [f.message for ev in events for f in ev.findings if f.code == "duplicate-event"] == [
        "Google PageView sent 2 times in one page load"] * 2


def test_ga4_page_views_of_a_single_page_app_or_of_a_reload_are_no_duplicates():
    spa = copies_session(ga4_page_view(0.0, "45je3b81v890841044", 1),
                         ga4_page_view(5.0, "45je3b81v890841044", 2, page="https%3A%2F%2Fhome.xtramath.org%2Fmath"))
    reload = copies_session(ga4_page_view(0.0, "45je3b81v890841044", 1),
                            ga4_page_view(5.0, "45je3b81v890841044", 1, load="1700069769150"))
    assert not any("duplicate-event" in codes(ev) for ev in (*spa, *reload))
