"""Browser↔server deduplication: matching keys, missing keys, late verdicts settled by tick()."""

from __future__ import annotations

from pixelspy.model import Severity

from .helpers import T0, codes, engine, event, meta_hit, server, the


def capi(event_id: str | None, name: str = "Purchase", time: float = T0 + 1, **kw):
    return server(event=name, standard_event=name, event_id=event_id, time=time, **kw)


def test_shared_event_id_is_deduplicated_whichever_side_comes_first():
    for server_first in (False, True):
        e = engine()
        browser = meta_hit(ev="Purchase", eid="ord-1")
        srv = capi("ord-1", time=T0 + (-3 if server_first else 3))
        first, second = (srv, browser) if server_first else (browser, srv)
        e.process(first)
        changed = e.process(second)
        assert changed >= {browser.id, srv.id}
        for ev, other in ((browser, srv), (srv, browser)):
            f = the(ev, "dedup-ok")
            assert f.severity == Severity.info and f.related == [other.id] and not f.pending
            assert f.message == "Meta Purchase deduplicated: browser and server share event_id 'ord-1'"
            assert "dedup-missing" not in codes(ev)


def test_different_event_ids_are_double_counted_pending_then_settled_by_tick():
    e = engine()
    browser = meta_hit(ev="Purchase", eid="web-1")
    srv = capi("srv-1", time=T0 + 2)
    e.process(browser)
    e.process(srv)
    f = the(srv, "dedup-missing")
    assert f.severity == Severity.warning and f.pending and f.related == [browser.id]
    assert f.message == ("Meta CAPI Purchase sent from browser and server but not deduplicated: event IDs "
                         "differ ('srv-1' here, 'web-1' on the browser); counted twice")
    assert "eid" in f.hint and "event_id" in f.hint
    assert the(browser, "dedup-missing").pending
    assert e.tick(T0 + 30) == set()  # still inside the 60 s pairing window
    changed = e.tick(T0 + 63)
    assert changed == {browser.id, srv.id}
    assert not the(browser, "dedup-missing").pending and not the(srv, "dedup-missing").pending


def test_a_missing_event_id_on_one_side_is_named():
    e = engine()
    browser = meta_hit(ev="Lead")
    srv = capi("lead-7", name="Lead")
    e.process(browser)
    e.process(srv)
    assert "the browser copy has no event ID" in the(srv, "dedup-missing").message


def test_a_late_matching_copy_withdraws_the_pending_verdict():
    e = engine()
    b1 = meta_hit(ev="Purchase", eid="A")
    s_other = capi("B", time=T0 + 1)  # an unrelated server purchase arrives first
    s1 = capi("A", time=T0 + 4)  # then b1's own server copy
    e.process(b1)
    e.process(s_other)
    assert the(b1, "dedup-missing").pending and the(s_other, "dedup-missing").pending
    changed = e.process(s1)
    assert "dedup-missing" not in codes(b1) and "dedup-missing" not in codes(s_other)
    assert the(b1, "dedup-ok").related == [s1.id]
    assert {b1.id, s_other.id, s1.id} <= changed
    e.tick(T0 + 1000)
    assert "dedup-missing" not in codes(s_other)  # s_other had only b1 as a candidate partner


def test_one_sided_traffic_and_other_events_or_pixels_get_no_dedup_verdict():
    e = engine()
    browser_only = meta_hit(ev="Purchase", eid="x")
    other_event = capi("y", name="Lead")
    other_pixel = capi("z", pixel_id="6543210987654321")
    too_far = capi("w", time=T0 + 120)
    for ev in (browser_only, other_event, other_pixel, too_far):
        e.process(ev)
    e.tick(T0 + 1000)
    for ev in (browser_only, other_event, other_pixel, too_far):
        assert not codes(ev) & {"dedup-ok", "dedup-missing"}


def test_same_id_but_different_event_name_does_not_deduplicate_on_meta():
    e = engine()
    browser = meta_hit(ev="Purchase", eid="A")
    srv = capi("A", name="InitiateCheckout")
    e.process(browser)
    e.process(srv)
    assert "dedup-ok" not in codes(browser) | codes(srv)


def test_pinterest_pairs_the_tag_with_the_ad_account_of_the_conversions_api():
    e = engine()
    tag = event("pinterest", pixel_id="2612345678901", event="checkout", standard_event="Purchase", event_id="p-1")
    api = server("pinterest", pixel_id="549755885175", event="checkout", standard_event="Purchase", event_id="p-1")
    e.process(tag)
    e.process(api)
    assert the(api, "dedup-ok").related == [tag.id]


def test_linkedin_deduplicates_by_event_id_across_conversion_rules():
    e = engine()
    tag = event("linkedin", pixel_id="123456", event_id="li-1", params={"conversionId": "111"})
    api = server("linkedin", pixel_id="urn:lla:llaPartnerConversion:222", event_id="li-1")
    unrelated = server("linkedin", pixel_id="urn:lla:llaPartnerConversion:222", event_id="li-2")
    for ev in (tag, api, unrelated):
        e.process(ev)
    assert the(tag, "dedup-ok").related == [api.id]
    e.tick(T0 + 1000)  # no names on the wire: unrelated conversions are never called missing
    assert "dedup-missing" not in codes(unrelated)


def test_pairing_window_is_configurable():
    e = engine(dedup_pairing_window_s=5)
    browser = meta_hit(ev="Purchase", eid="A")
    srv = capi("B", time=T0 + 10)
    e.process(browser)
    e.process(srv)
    assert "dedup-missing" not in codes(srv)
