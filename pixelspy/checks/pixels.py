"""The pixel itself: ID format, expected IDs, first-party cookies, and a pixel that loads but never
fires (what the vendors' helper extensions flag).

Codes: invalid-pixel-id, unexpected-pixel, cookies-disabled, pixel-no-events.
"""

from __future__ import annotations

import heapq
import math
from functools import lru_cache

from pixelspy.checks.rules import (BROWSER, KIND_EVENT, KIND_PIXEL_LOADED, finding, params, pixel_id_re, platform,
                                   seconds, vendor)
from pixelspy.checks.state import Recent
from pixelspy.config import Config
from pixelspy.model import Severity, TrackingEvent

# A pixel flagged as silent stays remembered this long, so a late first event withdraws the flag.
SILENT_MEMORY_S = 3600
# At the end of a recording, how long it must go on after a hit the running tag sent itself
# (Pinterest's init) for silence to count: the tag sends the calls queued before it (pintrk('page'))
# at once. A script (fbevents.js, a config) must first run and fetch its config: its whole wait.
TAG_SENT_SETTLE_S = 1.0
MAX_WAITING = 10_000  # (device, pixel) pairs awaiting their first event


@lru_cache(maxsize=1024)  # a session sees a few pixels, on every hit
def well_formed(platform_name: str, source: str, pixel: str) -> bool:
    """Whether the pixel ID is in the format the vendor issues (IDs of other sources are not judged)."""
    fmt, pattern = platform(platform_name).pixel_id, pixel_id_re(platform_name)
    return not (fmt and pattern and source in fmt.sources and not pattern.match(pixel))


@lru_cache(maxsize=1024)
def events_decoded(platform_name: str, pixel: str | None) -> bool:
    """Whether pixelspy decodes the events of this loader's pixel (rules.toml
    loaders_with_decoded_events)."""
    prefixes = platform(platform_name).loaders_with_decoded_events
    return not prefixes or (pixel or "").startswith(prefixes)


class PixelIdCheck:
    def __init__(self, config: Config):
        self.expected = {p: set(ids) for p, ids in config.checks.expected_pixels.items() if ids}

    def process(self, event: TrackingEvent, ctx) -> None:
        pixel = event.pixel_id
        name = event.platform
        source = event.source
        table = platform(name)
        fmt = table.pixel_id
        # An app event the vendor's app SDK sent (its ID an app's): not the pixel's script, whose
        # pixel ID, expected pixels and first-party cookie are judged
        app_event = fmt is not None and event.event in fmt.app_events
        if pixel:
            if fmt and not app_event and not well_formed(name, source, pixel):
                ctx.emit(event, finding(
                    "invalid-pixel-id", Severity.warning,
                    f"{vendor(event)} pixel ID {pixel!r} is not in the format {table.name} issues ({fmt.describe})",
                    f"Copy the ID from {table.name}'s events manager; a placeholder, a truncated ID or "
                    "another vendor's ID sends data nowhere."))
            expected = self.expected.get(name)
            if expected and pixel not in expected and not app_event:
                ctx.emit(event, finding(
                    "unexpected-pixel", Severity.warning,
                    f"{vendor(event)} pixel ID {pixel} is not one of the expected "
                    f"{table.name} pixels ({', '.join(sorted(expected))})",
                    "A pixel you do not own (an agency's, a plugin's, a copied snippet) receives your data; "
                    "or add it to checks.expected_pixels in pixelspy.toml."))
        off = table.cookies_off
        if off and source == BROWSER and event.kind == KIND_EVENT and not app_event:
            sent = params(event)
            if not sent.get(off.missing) and sent.keys().isdisjoint(off.unless):
                ctx.emit(event, finding(
                    "cookies-disabled", Severity.info,
                    f"{vendor(event)} hit carries no {off.missing}: first-party cookies are off or blocked",
                    f"Without its first-party cookies {table.name} matches fewer conversions to ad clicks; "
                    "turn them back on unless the visitor's consent choice turned them off."))


class PixelNoEventsCheck:
    """A loader or per-pixel config fetched, then no event from that device and pixel in time.
    A loader that names no pixel (fbevents.js) is satisfied by any event of its vendor, and judged no
    more once a load that names the pixel follows (its config, Pinterest's init); a loader
    whose events pixelspy does not decode (gtag.js for Universal Analytics) is not judged.

    A file ends with tick(inf): a loader whose wait the recording did not cover (a HAR saved at the
    page's onload, 1.7 s after fbevents.js) is not judged silent, only noted."""

    def __init__(self, config: Config):
        self.timeout = config.checks.pixel_no_events_timeout_s
        self.fired: Recent[tuple, float] = Recent(self.timeout)
        self.waiting: dict[tuple, list[TrackingEvent]] = {}
        self.silent: Recent[tuple, list[TrackingEvent]] = Recent(SILENT_MEMORY_S)
        self._deadlines: list[tuple[float, str, tuple]] = []
        self.last_seen = float("-inf")  # time of the latest hit: where a recording ends

    def reset(self) -> None:
        self.fired.clear()
        self.waiting.clear()
        self.silent.clear()
        self._deadlines.clear()
        self.last_seen = float("-inf")

    traffic_headers = frozenset()  # (observe_traffic reads the time alone)

    def observe_traffic(self, hit, ctx) -> None:
        if hit.time > self.last_seen:
            self.last_seen = hit.time

    def process(self, event: TrackingEvent, ctx) -> None:
        device, name, t = event.device, event.platform, event.time
        if t > self.last_seen:
            self.last_seen = t
        key = (device, name, event.pixel_id)
        if event.kind == KIND_PIXEL_LOADED:
            if not events_decoded(name, event.pixel_id):
                return  # its events go where pixelspy does not look: silence proves nothing
            if event.pixel_id:  # the vendor's scripts loaded this pixel: judged once, on it
                self.waiting.pop((device, name, None), None)
            if self.fired.get(key, t) is None:  # an event may beat its config script
                self.waiting.setdefault(key, []).append(event)
                heapq.heappush(self._deadlines, (t + self.timeout, event.id, key))
                while len(self.waiting) > MAX_WAITING:
                    del self.waiting[next(iter(self.waiting))]
            return
        any_pixel = (device, name, None)
        keys = (key, any_pixel) if key != any_pixel else (key,)
        for k in keys:
            self.fired.put(k, t, t)
        if self.waiting:
            for k in keys:
                self.waiting.pop(k, None)
        if self.silent:
            for k in keys:
                for loaded in self.silent.pop(k) or ():
                    ctx.retract(loaded, "pixel-no-events")

    def tick(self, now: float, ctx) -> None:
        while self._deadlines and self._deadlines[0][0] <= now:
            _, loaded_id, key = heapq.heappop(self._deadlines)
            waiting = self.waiting.get(key, [])
            loaded = next((e for e in waiting if e.id == loaded_id), None)
            if loaded is None:
                continue  # an event came
            waiting.remove(loaded)
            if not waiting:
                del self.waiting[key]
            if now == math.inf and not self._covered(loaded):  # the end of a file
                self._note_recording_ended(loaded, ctx)
                continue
            silent = self.silent.get(key, loaded.time) or []
            silent.append(loaded)
            self.silent.put(key, silent[-20:], loaded.time)
            pixel = f"pixel {loaded.pixel_id}" if loaded.pixel_id else "pixel"
            ctx.emit(loaded, finding(
                "pixel-no-events", Severity.warning,
                f"{vendor(loaded)} {pixel} loaded but fired no event within {seconds(self.timeout)}",
                "The base code loads but nothing calls track/page (or consent holds every event); "
                "check the init and PageView calls."))

    def _covered(self, loaded: TrackingEvent) -> bool:
        """Whether the recording went on long enough after the load for silence to mean something."""
        wait = TAG_SENT_SETTLE_S if loaded.event else self.timeout  # a tag's own hit names its event
        return self.last_seen - loaded.time >= wait

    def _note_recording_ended(self, loaded: TrackingEvent, ctx) -> None:
        pixel = f"pixel {loaded.pixel_id}" if loaded.pixel_id else "pixel"
        ctx.emit(loaded, finding(
            "pixel-no-events", Severity.info,
            f"{vendor(loaded)} {pixel} loaded {max(self.last_seen - loaded.time, 0):.1f} s before the recording "
            "ended, without an event: too soon to tell whether it fires",
            f"pixelspy waits {seconds(self.timeout)} for a pixel's first event; record longer after the page "
            "loads to have it judged."))


def make_checks(config: Config) -> list:
    return [PixelIdCheck(config), PixelNoEventsCheck(config)]
