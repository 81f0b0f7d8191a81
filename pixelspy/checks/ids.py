"""IDs used twice: a Purchase repeated for one order, one event ID reused for different events.

Codes: redundant-purchase, event-id-reused.
Orders and event IDs identify a conversion wherever it is sent from, so this state is keyed by
vendor and pixel, not by client: the browser and the shop's server must agree on them.
event-id-reused is given only where the vendor's docs say events of different names sharing an ID are
harmed (rules.toml `dedup.shared_id`: it dedups on the ID alone). Where it needs the event name too,
such events stay apart, and no vendor documents another harm.
"""

from __future__ import annotations

from functools import cache

from pixelspy.checks.rules import KIND_EVENT, event_name, mark_group, platform, vendor
from pixelspy.checks.state import EVENT_ID, Recent, Seen, source_value
from pixelspy.config import Config
from pixelspy.model import Severity, TrackingEvent

MEMORY_S = 48 * 3600  # the vendors' dedup window
MAX_GROUP = 20


@cache
def ids_span_platform(platform_name: str) -> bool:
    """Whether event IDs are unique across the platform, not per pixel: where browser and server
    carry different IDs (Pinterest tag vs ad account, LinkedIn partner vs conversion rule)."""
    dedup = platform(platform_name).dedup
    return dedup is not None and dedup.scope == "platform"


def dedup_scope(event: TrackingEvent) -> str | None:
    """The ID space event IDs live in: the pixel, or the whole platform."""
    return None if ids_span_platform(event.platform) else event.pixel_id


def comparable_name(event: TrackingEvent) -> str | None:
    return event.standard_event or (event.event.lower() if event.event else None)


class IdsCheck:
    kinds = (KIND_EVENT,)

    def __init__(self, config: Config):
        # Tuples, put back when they grow, not a list or dict per key: most orders and event IDs
        # come once, and the window holds them for 48 hours.
        self.orders: Recent[tuple, tuple[Seen, ...]] = Recent(MEMORY_S)
        # … (comparable name, the first event with it, its name as shown) for each name
        self.event_ids: Recent[tuple, tuple[tuple[str, Seen, str], ...]] = Recent(MEMORY_S)

    def reset(self) -> None:
        self.orders.clear()
        self.event_ids.clear()

    def process(self, event: TrackingEvent, ctx) -> None:
        event_id = event.event_id
        if event.order_id and event.standard_event == "Purchase":
            self._order(event, event_id, ctx)
        if (event_id and (dedup := platform(event.platform).dedup) is not None and dedup.shared_id
                and (name := comparable_name(event))):
            self._event_id(event, event_id, name, dedup.shared_id, ctx)

    def _order(self, event: TrackingEvent, event_id: str | None, ctx) -> None:
        # Per source: the browser and server copies of one order are deduplication, not repetition.
        key = (event.platform, event.pixel_id, source_value(event), event.order_id)
        group = self.orders.renew(key, event.time) or ()  # put back below
        # The same event ID again is duplicate-event's case: the vendor drops that copy.
        counted = not event_id or all(e[EVENT_ID] != event_id for e in group)
        group = (*group, ctx.seen(event))[-MAX_GROUP:]
        self.orders.store(key, group)
        if len(group) < 2 or not counted:
            return
        message = (f"{vendor(event)} Purchase for order {event.order_id!r} sent {len(group)} times "
                   "with different event IDs")
        hint = ("Each copy counts as a sale. Fire Purchase once per order (not on every visit of the "
                "thank-you page), or reuse one event ID so the vendor drops the copies.")
        mark_group(ctx, group, "redundant-purchase", Severity.warning, message, hint)

    def _event_id(self, event: TrackingEvent, event_id: str, name: str, shared_id: str, ctx) -> None:
        key = (event.platform, dedup_scope(event), event_id)
        firsts = self.event_ids.renew(key, event.time) or ()  # it lives on from every use of the ID
        if any(known == name for known, _, _ in firsts):
            self.event_ids.store(key, firsts)
            return
        firsts += ((name, ctx.seen(event), event_name(event)),)
        self.event_ids.store(key, firsts)
        if len(firsts) < 2:
            return
        names = ", ".join(sorted(shown for _, _, shown in firsts))
        message = f"{vendor(event)} event ID {event_id!r} used for different events ({names})"
        hint = f"{shared_id}. Generate a new ID per event."
        members = [seen for _, seen, _ in firsts]
        mark_group(ctx, members, "event-id-reused", Severity.warning, message, hint)


def make_checks(config: Config) -> list:
    return [IdsCheck(config)]
