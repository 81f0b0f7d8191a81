"""Duplicates: the same event sent twice, the same pixel initialised twice, and (info) one event
sent to several pixel IDs.

Codes: duplicate-event, duplicate-pixel, multi-pixel (info).
Twin requests (one beacon to two endpoints) are folded by the session and never reach checks.
State is keyed by client (device) and bounded in time and size.
"""

from __future__ import annotations

from pixelspy.checks.rules import event_name, finding, platform, replace_finding, seconds, vendor
from pixelspy.checks.state import Recent
from pixelspy.config import Config
from pixelspy.model import Kind, Severity, TrackingEvent

# Vendors drop a repeated event ID within their dedup window (48 h for Meta and TikTok).
EVENT_ID_MEMORY_S = 48 * 3600
# A group of copies keeps this many members; a runaway loop does not grow memory.
MAX_GROUP = 20


def signature(event: TrackingEvent) -> tuple:
    """What "the same parameters" means: the event's data, without per-hit noise (timestamps,
    counters, cache busters)."""
    prefixes = tuple(platform(event.platform).event_data_prefixes)
    data = tuple(sorted((p.name, p.value) for p in event.params if prefixes and p.name.startswith(prefixes)))
    return (event.page_url, event.value, event.currency, tuple(event.content_ids), event.order_id, data)


def _group_add(group: list[TrackingEvent], event: TrackingEvent) -> list[TrackingEvent]:
    group.append(event)
    del group[:-MAX_GROUP]
    return group


class DuplicatesCheck:
    def __init__(self, config: Config):
        c = config.checks
        self.window = c.duplicate_window_s
        self.pixel_window = c.duplicate_pixel_window_s
        self.by_event_id: Recent[tuple, list[TrackingEvent]] = Recent(EVENT_ID_MEMORY_S)
        self.by_signature: Recent[tuple, list[TrackingEvent]] = Recent(self.window)
        self.by_pixel: Recent[tuple, dict[str, TrackingEvent]] = Recent(self.window)
        self.loaders: Recent[tuple, list[TrackingEvent]] = Recent(self.pixel_window)

    def reset(self) -> None:
        for state in (self.by_event_id, self.by_signature, self.by_pixel, self.loaders):
            state.clear()

    def process(self, event: TrackingEvent, ctx) -> None:
        if event.kind == Kind.pixel_loaded:
            self._loader(event, ctx)
            return
        if not event.event and not event.event_id:
            return  # nothing to compare (LinkedIn/X hits without names carry an ID when it matters)
        base = (event.client, event.source, event.platform, event.event)
        ident = ("id", event.event_id) if event.event_id else ("sig", signature(event))
        self._same_event(event, base, ident, ctx)
        self._other_pixels(event, base, ident, ctx)

    def _same_event(self, event: TrackingEvent, base: tuple, ident: tuple, ctx) -> None:
        by_id = ident[0] == "id"
        key = (*base, event.pixel_id, *ident)
        state = self.by_event_id if by_id else self.by_signature
        group = state.get(key, event.time)
        state.put(key, _group_add(group or [], event), event.time)
        if not group:
            return
        if by_id:
            message = (f"{vendor(event)} {event_name(event)} with event ID {event.event_id!r} sent "
                       f"{len(group)} times from the {event.source.value}")
            hint = (f"{platform(event.platform).name} keeps the first and drops the copies; find the second "
                    "tag or the page reload that fires it again.")
        else:
            message = (f"{vendor(event)} {event_name(event)} sent {len(group)} times within "
                       f"{seconds(self.window)} with the same parameters and no event ID")
            hint = ("Counted twice. Usually the pixel is installed twice (hard-coded and in a tag manager): "
                    "remove one, or send an event ID so the vendor can drop the copy.")
        for member in group:
            others = [e.id for e in group if e is not member]
            replace_finding(ctx, member, finding("duplicate-event", Severity.warning, message, hint, others))

    def _other_pixels(self, event: TrackingEvent, base: tuple, ident: tuple, ctx) -> None:
        if not event.pixel_id:
            return
        key = (*base, *ident)
        by_pixel = self.by_pixel.get(key, event.time) or {}
        by_pixel.setdefault(event.pixel_id, event)
        self.by_pixel.put(key, by_pixel, event.time)
        if len(by_pixel) < 2 or by_pixel[event.pixel_id] is not event:
            return
        pixels = ", ".join(sorted(by_pixel))
        for member in by_pixel.values():
            others = [e.id for e in by_pixel.values() if e is not member]
            replace_finding(ctx, member, finding(
                "multi-pixel", Severity.info,
                f"{vendor(event)} {event_name(event)} sent to {len(by_pixel)} pixels ({pixels})",
                "One call, several pixel IDs: not a duplicate. Each pixel counts it once; check that "
                "every pixel ID belongs to you.", others))

    def _loader(self, event: TrackingEvent, ctx) -> None:
        if not event.pixel_id:
            return
        key = (event.client, event.platform, event.pixel_id, event.page_url)
        group = self.loaders.get(key, event.time)
        self.loaders.put(key, _group_add(group or [], event), event.time)
        if not group:
            return
        message = (f"{vendor(event)} pixel {event.pixel_id} initialised {len(group)} times on one page "
                   f"within {seconds(self.pixel_window)}")
        hint = ("Two base codes load the same pixel (often hard-coded plus a tag manager): keep one, or "
                "every event may be sent twice.")
        for member in group:
            others = [e.id for e in group if e is not member]
            replace_finding(ctx, member, finding("duplicate-pixel", Severity.warning, message, hint, others))


def make_checks(config: Config) -> list:
    return [DuplicatesCheck(config)]
