"""The 48-hour windows of duplicates, ids and dedup hold records the collector does not walk: with a
session that reads evicted events back, a window keeps strings and floats (issue #27), and the
checks still reach the events through the session."""

from __future__ import annotations

import gc

from pixelspy.checks.state import Recent
from pixelspy.model import TrackingEvent

from .helpers import T0, codes, engine, event, meta_hit, server

SNAP = "b2ade379-a55e-4ca7-893b-b9fac04c843f"


class ReadsBack:
    """A session with a file: `event` finds every event, evicted ones too."""

    reads_back = True

    def __init__(self) -> None:
        self.events: dict[str, TrackingEvent] = {}

    def event(self, event_id: str) -> TrackingEvent | None:
        return self.events.get(event_id)


def windows(e) -> dict[str, Recent]:
    return {f"{type(c).__name__}.{name}": state for c in e.checks for name, state in vars(c).items()
            if isinstance(state, Recent) and state.max_age >= 48 * 3600}


def test_the_event_id_windows_hold_nothing_the_collector_tracks_and_still_reach_the_events():
    e = engine()
    session = ReadsBack()
    e.attach(session)
    order = {"cd[order_id]": "o-1", "cd[value]": "10", "cd[currency]": "EUR"}
    browser = meta_hit(ev="Purchase", eid="ord-1", **order)
    again = meta_hit(time=T0 + 30, ev="Purchase", eid="ord-1", **order)
    capi = server(event="Purchase", standard_event="Purchase", event_id="ord-1", time=T0 + 1)
    # Snapchat dedups on the ID alone: one ID on two events is event-id-reused there
    view = event("snapchat", pixel_id=SNAP, event="PAGE_VIEW", standard_event="PageView", event_id="s-1")
    other = event("snapchat", pixel_id=SNAP, event="ADD_CART", standard_event="AddToCart", event_id="s-1",
                  time=T0 + 40)
    for ev in (browser, capi, again, view, other):
        session.events[ev.id] = ev
        e.process(ev)
    assert "dedup-ok" in codes(browser) & codes(capi)
    assert "duplicate-event" in codes(browser) & codes(again)
    assert "event-id-reused" in codes(view) & codes(other)
    # A collection stops tracking a tuple whose items it no longer tracks; a group whose records it
    # reached first, the next one.
    gc.collect()
    gc.collect()
    held = windows(e)
    assert set(held) >= {"DuplicatesCheck.by_event_id", "IdsCheck.event_ids", "IdsCheck.orders", "DedupCheck.by_key"}
    for name, state in held.items():
        assert len(state), name
        for key, value in state.items():
            assert not gc.is_tracked(value), (name, key, value)


def test_a_windows_time_dict_stays_tracked_so_that_a_heap_freeze_keeps_it():
    # A dict of untracked keys and values is untracked by a full collection and tracked again, as a
    # young object, by its next put: every freeze cycle's collections walked its entries again.
    window = Recent(60.0)
    window.put(("meta", "ord-1"), "e1", T0)
    gc.collect()
    window.put(("meta", "ord-2"), "e2", T0 + 1)
    gc.collect()
    assert gc.is_tracked(window._times)
    window.clear()
    gc.collect()
    assert gc.is_tracked(window._times) and window.get(("meta", "ord-1"), T0) is None
