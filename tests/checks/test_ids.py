"""event-id-reused: one event ID on different events, judged by how each vendor deduplicates.

Meta, TikTok, Reddit and X dedup on the ID and the event name together: events of different names
under one ID stay apart, so nothing is reported. Pinterest and Snapchat dedup on the ID alone: there
it is a warning quoting what the vendor does (rules.toml `dedup.shared_id`). LinkedIn dedups on the ID
alone too, but drops only a CAPI event a tag event's ID matches, and its events carry no names: one
conversion sent to several rules under one eventId is no warning.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from pixelspy import decoders
from pixelspy.model import RawHit, TrackingEvent

from .helpers import T0, codes, engine, meta_hit, seen, server, the

TAG = "2612345678901"
SNAP_PIXEL = "b2ade379-a55e-4ca7-893b-b9fac04c843f"
SHOP = "https://shop.example/thanks"


def decoded(hit: RawHit) -> TrackingEvent:
    [ev] = decoders.decode(seen(hit))
    ev.device = hit.device
    return ev


def pinterest_tag(name: str, event_id: str, time: float = T0) -> TrackingEvent:
    """A pintrk('track', name, {event_id}) hit as the tag sends it to /v3/."""
    ad = quote(json.dumps({"loc": SHOP, "ref": "", "if": False}))
    ed = quote(json.dumps({"event_id": event_id, "np": "gtm"}))
    url = f"https://ct.pinterest.com/v3/?event={name}&ed={ed}&tid={TAG}&ad={ad}&cb={int(time * 1000)}"
    return decoded(RawHit(method="GET", url=url, time=time, client="10.0.0.2"))


def pinterest_capi(*names_and_ids: tuple[str, str], time: float = T0 + 1) -> list[TrackingEvent]:
    body = {"data": [{"event_name": name, "action_source": "web", "event_time": int(time), "event_id": eid,
                      "event_source_url": SHOP, "user_data": {"client_ip_address": "10.0.0.2",
                                                              "client_user_agent": "Mozilla/5.0"}}
                     for name, eid in names_and_ids]}
    hit = RawHit(method="POST", url="https://api.pinterest.com/v5/ad_accounts/549755885175/events",
                 body=json.dumps(body).encode(), time=time, client="192.0.2.10",
                 headers=[("content-type", "application/json"), ("authorization", "Bearer pina_token")])
    events = decoders.decode(seen(hit))
    for ev in events:
        ev.device = hit.device
    return events


def snap_pixel(name: str, dedup_id: str, time: float = T0) -> TrackingEvent:
    """A scevent.min.js hit: snaptr('track', name, {client_dedup_id})."""
    query = urlencode([("pid", SNAP_PIXEL), ("ev", name), ("cdid", dedup_id), ("pl", SHOP),
                       ("ts", str(int(time * 1000))), ("v", "3.59.0-2606221835")])
    return decoded(RawHit(method="GET", url=f"https://tr.snapchat.com/p?{query}", time=time, client="10.0.0.2"))


def linkedin_collect(rule: str, event_id: str, time: float = T0) -> TrackingEvent:
    """lintrk('track', {conversion_id: rule, event_id}) as insight.min.js sends it."""
    query = urlencode([("v", "2"), ("fmt", "js"), ("pid", "12345678"), ("time", str(int(time * 1000))),
                       ("conversionId", rule), ("eventId", event_id), ("url", SHOP)])
    return decoded(RawHit(method="GET", url=f"https://px.ads.linkedin.com/collect?{query}", time=time,
                          client="10.0.0.2"))


def linkedin_capi(rule: str, event_id: str, time: float = T0 + 1) -> TrackingEvent:
    body = {"conversion": f"urn:lla:llaPartnerConversion:{rule}", "conversionHappenedAt": int(time * 1000),
            "user": {"userIds": [{"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID",
                                  "idValue": "df14b9d3-1b5d-4e55-9d7d-4a1e8c7c1a11"}]},
            "eventId": event_id}
    return decoded(RawHit(method="POST", url="https://api.linkedin.com/rest/conversionEvents",
                          body=json.dumps(body).encode(), time=time, client="192.0.2.10",
                          headers=[("Authorization", "Bearer AQV8secret"), ("Content-Type", "application/json"),
                                   ("LinkedIn-Version", "202601")]))


def run(*events: TrackingEvent) -> None:
    e = engine()
    for ev in events:
        e.process(ev)


# ---------------------------------------------------------------- ID and name: no warning


def test_meta_keeps_events_of_different_names_apart_under_one_event_id():
    add = meta_hit(ev="AddToCart", eid="abc")
    purchase = meta_hit(time=T0 + 10, ev="Purchase", eid="abc")
    run(add, purchase)
    assert "event-id-reused" not in codes(add) | codes(purchase)


def test_meta_pairs_the_server_copy_by_id_and_name_only():
    add = meta_hit(ev="AddToCart", eid="abc")
    purchase = meta_hit(time=T0 + 10, ev="Purchase", eid="abc")
    capi = server(event="Purchase", standard_event="Purchase", event_id="abc", time=T0 + 11)
    run(add, purchase, capi)
    assert the(capi, "dedup-ok").related == [purchase.id]
    assert "dedup-ok" not in codes(add)
    assert not {"event-id-reused"} & (codes(add) | codes(purchase) | codes(capi))


# ---------------------------------------------------------------- ID alone: a warning


def test_pinterest_tag_and_api_events_of_different_names_under_one_id():
    tag = pinterest_tag("watch_video", "ev-1")
    [api] = pinterest_capi(("signup", "ev-1"))
    run(tag, api)
    f = the(api, "event-id-reused")
    assert f.message == "Pinterest CAPI event ID 'ev-1' used for different events (CompleteRegistration, WatchVideo)"
    assert f.hint.startswith("Pinterest dedups tag and API events on event_id alone")
    assert f.related == [tag.id] and the(tag, "event-id-reused").related == [api.id]


def test_pinterest_one_source_event_sent_as_two_api_events_under_one_id():
    # RudderStack's Pinterest destination maps one track call to several Pinterest events, one event_id
    watch, signup = pinterest_capi(("watch_video", "rs-1"), ("signup", "rs-1"))
    run(watch, signup)
    assert "event-id-reused" in codes(watch) & codes(signup)


def test_pinterest_tag_and_api_copies_of_one_event_are_dedup_not_reuse():
    tag = pinterest_tag("checkout", "order-1")
    [api] = pinterest_capi(("checkout", "order-1"))
    run(tag, api)
    assert "dedup-ok" in codes(tag) & codes(api)
    assert "event-id-reused" not in codes(tag) | codes(api)


def test_snapchat_pixel_events_of_different_names_under_one_dedup_id():
    view = snap_pixel("PAGE_VIEW", "sess-1")
    purchase = snap_pixel("PURCHASE", "sess-1", time=T0 + 20)
    run(view, purchase)
    f = the(purchase, "event-id-reused")
    assert f.message == "Snapchat event ID 'sess-1' used for different events (PageView, Purchase)"
    assert f.hint.startswith("Snap merges Pixel and CAPI events of one pixel that share this ID")


def test_linkedin_one_conversion_sent_to_two_rules_under_one_event_id():
    # RudderStack's LinkedIn destination sends one event to each mapped rule with the same eventId
    first, second = linkedin_capi("104012", "evt-1"), linkedin_capi("104013", "evt-1")
    run(first, second)
    assert "event-id-reused" not in codes(first) | codes(second)


def test_linkedin_browser_and_server_rules_of_one_conversion_are_dedup_not_reuse():
    # LinkedIn wants one conversion rule per source: the tag's rule and the CAPI rule differ by design
    tag = linkedin_collect("111", "order-1")
    api = linkedin_capi("104012", "order-1")
    run(tag, api)
    assert "dedup-ok" in codes(tag) & codes(api)
    assert "event-id-reused" not in codes(tag) | codes(api)
