"""Duplicates: the same event sent twice, the same pixel initialised twice on one page view, and
(info) one event sent to several pixel IDs.

Codes: duplicate-event, duplicate-pixel, multi-pixel (info).
Twin requests (one beacon to two endpoints) are folded by the session and never reach checks; a
copy the decoder cannot pair (a redirect hop to another endpoint) is not counted here either.
State is keyed by device (Devices.key: address and client family) and bounded in time and size.
"""

from __future__ import annotations

from functools import lru_cache

from pixelspy.checks.rules import KIND_PIXEL_LOADED, event_name, mark_group, params, platform, seconds, vendor
from pixelspy.checks.state import ENDPOINT, TIME, Recent, Seen, source_value
from pixelspy.config import Config
from pixelspy.model import Severity, TrackingEvent

# Vendors drop a repeated event ID within their dedup window (48 h for Meta and TikTok).
EVENT_ID_MEMORY_S = 48 * 3600
# A page's multi-pixel note is given once while its events keep coming this often; a page load's
# once-per-load events are remembered as long.
MULTI_PIXEL_MEMORY_S = PAGE_LOAD_MEMORY_S = 1800.0
# A vendor's own copies of a hit (redirect hops, twin endpoints) follow it within this time.
VENDOR_COPY_S = 5.0
# A group of copies keeps this many members; a runaway loop does not grow memory.
MAX_GROUP = 20


@lru_cache(maxsize=1024)  # the hits of one tag carry the same parameter names
def data_params_among(platform_name: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """The names that are event data (they start with one of the platform's event_data_prefixes), sorted."""
    prefixes = tuple(platform(platform_name).event_data_prefixes)
    return tuple(sorted(n for n in names if prefixes and n.startswith(prefixes)))


def signature(event: TrackingEvent) -> tuple:
    """What "the same parameters" means: the event's data, without per-hit noise (timestamps,
    counters, cache busters). The data is (names, values), sorted by name then value."""
    ps = params(event)
    if len(ps) == len(event.params):  # each name once: the map holds every parameter
        names = data_params_among(event.platform, tuple(ps))  # shared by the hits of one tag
        values = tuple(map(ps.__getitem__, names))
    else:
        is_data = set(data_params_among(event.platform, tuple(p.name for p in event.params)))
        pairs = sorted((p.name, p.value) for p in event.params if p.name in is_data)
        names, values = tuple(n for n, _ in pairs), tuple(v for _, v in pairs)
    return (event.page_url, event.value, event.currency, tuple(event.content_ids), event.order_id, names, values)


def page_load(event: TrackingEvent) -> tuple[str, str, str | None] | None:
    """(the page load's ID, the page) for an event the vendor sends once per page load, else None."""
    once = platform(event.platform).once_per_page_load
    if once is None or event.event not in once.events or not (load := params(event).get(once.key)):
        return None
    return ("page load", load, event.page_url)


def is_vendor_copy(event: TrackingEvent, group: tuple[Seen, ...]) -> bool:
    """Whether the event is the vendor's own copy of one in the group: the same hit to another
    endpoint moments later (Google's conversion → viewthroughconversion → 1p-conversion redirect
    hops, a beacon's twin endpoint). A double-installed tag sends to the same endpoint twice."""
    return any(e[ENDPOINT] != event.endpoint and 0 <= event.time - e[TIME] <= VENDOR_COPY_S for e in group)


def _group_add(group: tuple[Seen, ...], seen: Seen) -> tuple[Seen, ...]:
    return (*group, seen)[-MAX_GROUP:]


class DuplicatesCheck:
    def __init__(self, config: Config):
        c = config.checks
        self.window = c.duplicate_window_s
        self.pixel_window = c.duplicate_pixel_window_s
        # Groups are tuples, put back when they grow: most event IDs come once, and a list would
        # hold twice the memory for its one member for 48 hours.
        self.by_event_id: Recent[tuple, tuple[Seen, ...]] = Recent(EVENT_ID_MEMORY_S)
        self.by_signature: Recent[tuple, tuple[Seen, ...]] = Recent(self.window)
        self.by_page_load: Recent[tuple, tuple[Seen, ...]] = Recent(PAGE_LOAD_MEMORY_S)
        self.by_pixel: Recent[tuple, dict[str, Seen]] = Recent(self.window)
        self.loaders: Recent[tuple, tuple[Seen, ...]] = Recent(self.pixel_window)
        self.multi_noted: Recent[tuple, bool] = Recent(MULTI_PIXEL_MEMORY_S)

    def reset(self) -> None:
        for state in (self.by_event_id, self.by_signature, self.by_page_load, self.by_pixel, self.loaders,
                      self.multi_noted):
            state.clear()

    def process(self, event: TrackingEvent, ctx) -> None:
        if event.kind == KIND_PIXEL_LOADED:
            self._loader(event, ctx)
            return
        name, event_id = event.event, event.event_id
        if not name and not event_id:
            return  # nothing to compare (LinkedIn/X hits without names carry an ID when it matters)
        if (once := platform(event.platform).counted_once_with) and not once.isdisjoint(params(event)):
            return  # the vendor counts it once however often it fires
        # Flat keys of strings: each Recent lookup hashes its key again, and a tuple of strings
        # (the source's value, not the enum member) is one the collector stops walking.
        device, source, platform_name = event.device, source_value(event), event.platform
        pixel, t = event.pixel_id, event.time
        ident = event_id or signature(event)  # a str never equals a signature tuple
        state = self.by_event_id if event_id else self.by_signature
        if not event_id and (load := page_load(event)) is not None:
            ident, state = load, self.by_page_load
        key = (device, source, platform_name, name, pixel, ident)
        group = state.renew(key, t)  # put back below, on every path
        seen = ctx.seen(event)
        if group is None:  # (most events: the first of their kind)
            state.store(key, (seen,))
        else:
            if is_vendor_copy(event, group):
                state.store(key, group)  # the group lives on from this copy, as from a member
                return
            group = _group_add(group, seen)
            state.store(key, group)
            self._same_event(event, group, state is self.by_page_load, ctx)
        if pixel:
            by_pixel = self.by_pixel.setdefault((device, source, platform_name, name, ident), {}, t)
            if by_pixel.setdefault(pixel, seen) is seen and len(by_pixel) > 1:
                self._other_pixels(event, by_pixel, ctx)

    def _same_event(self, event: TrackingEvent, group: tuple[Seen, ...], in_one_load: bool, ctx) -> None:
        if in_one_load:
            message = f"{vendor(event)} {event_name(event)} sent {len(group)} times in one page load"
            hint = ("Each is counted as a page view. The tag is usually configured twice (hard-coded and in a "
                    "tag manager): keep one.")
        elif event.event_id:
            message = (f"{vendor(event)} {event_name(event)} with event ID {event.event_id!r} sent "
                       f"{len(group)} times from the {event.source.value}")
            hint = (f"{platform(event.platform).name} keeps the first and drops the copies; find the second "
                    "tag or the page reload that fires it again.")
        else:
            message = (f"{vendor(event)} {event_name(event)} sent {len(group)} times within "
                       f"{seconds(self.window)} with the same parameters and no event ID")
            hint = ("Each copy is counted. Usually the pixel is installed twice (hard-coded and in a tag "
                    "manager): remove one, or send an event ID so the vendor can drop the copies.")
        mark_group(ctx, group, "duplicate-event", Severity.warning, message, hint)

    def _other_pixels(self, event: TrackingEvent, by_pixel: dict[str, Seen], ctx) -> None:
        # A note once per page view and set of pixels: every event of a page goes to them all.
        page = ctx.pages.page_of(event.device, event.page_url or event.referer)
        noted = (page, source_value(event), event.platform, tuple(sorted(by_pixel)))
        if self.multi_noted.get(noted, event.time):
            return
        self.multi_noted.put(noted, True, event.time)
        pixels = ", ".join(sorted(by_pixel))
        mark_group(ctx, list(by_pixel.values()), "multi-pixel", Severity.info,
                   f"{vendor(event)} {event_name(event)} sent to {len(by_pixel)} pixels ({pixels})",
                   "One call, several pixel IDs: not a duplicate. Each pixel counts it once; check that "
                   "every pixel ID belongs to you.")

    def _loader(self, event: TrackingEvent, ctx) -> None:
        pixel = event.pixel_id
        if not pixel:
            return
        if (by_vendor := platform(event.platform).loaded_by_vendor.get(event.endpoint)) and not by_vendor.isdisjoint(
                params(event)):
            return  # the vendor's running script fetched it: no base code of the site's
        # The page view, not the page URL: loaders carry the page's origin only (see pages.py),
        # so two pages opened within the window would read as one page initialising twice.
        key = (event.platform, pixel, ctx.pages.page_of(event.device, event.page_url or event.referer))
        group = _group_add(self.loaders.renew(key, event.time) or (), ctx.seen(event))
        self.loaders.store(key, group)
        if len(group) < 2:
            return
        message = (f"{vendor(event)} pixel {pixel} initialised {len(group)} times on one page "
                   f"within {seconds(self.pixel_window)}")
        hint = ("Two base codes load the same pixel (often hard-coded plus a tag manager): keep one, or "
                "every event may be sent twice.")
        mark_group(ctx, group, "duplicate-pixel", Severity.warning, message, hint)


def make_checks(config: Config) -> list:
    return [DuplicatesCheck(config)]
