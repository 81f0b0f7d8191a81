"""Tracking plan: events that must fire on given pages (pixelspy.toml `[[expect]]`).

A visit to a matching page opens a wait of `within_s` seconds for each target of each matching
expectation. A visit is a first-party page load (a GET for a document) of a matching URL, or a
tracking event whose page URL (else Referer) matches; events of a page already being waited on join
that visit instead of opening another. An event of the expected name, to the target, carrying every
listed field, fulfils the wait (it may come up to EARLY_S before the visit was seen: tags race the
PageView). A wait still open at its deadline becomes a `missing` event carrying
`missing-expected-event`: at `tick(now)`, live, or at `tick(inf)` when a file ends (har.load_file).
Times are the hits' own times, so a file replayed at once behaves like live traffic.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from pixelspy.checks.consent import clock
from pixelspy.checks.rules import KIND_EVENT, field_value, platform
from pixelspy.config import Config, Expectation
from pixelspy.model import Finding, Kind, RawHit, Severity, TrackingEvent

CODE = "missing-expected-event"
# How long before the visit was seen an expected event may come and still count.
EARLY_S = 2.0
# Bounds: open waits and remembered candidate events (a long live session must not grow).
MAX_WAITS = 10_000
MAX_RECENT = 1_000


@dataclass
class _Target:
    platform: str
    pixel: str | None

    def describe(self) -> str:
        name = platform(self.platform).name
        return f"{name} pixel {self.pixel}" if self.pixel else name


@dataclass
class _Wait:
    expectation: Expectation
    target: _Target
    page: str
    opened: float
    deadline: float
    client: str  # the address, for the missing event
    device: str
    triggers: list[str] = field(default_factory=list)  # ids of the events that showed the visit
    fulfilled: bool = False
    near: TrackingEvent | None = None  # the right event to the right pixel, but lacking fields


def _targets(e: Expectation) -> list[_Target]:
    out = []
    for t in e.to:
        plat, _, pixel = t.partition(":")
        out.append(_Target(plat, pixel.strip() or None))
    return out


def _page_key(url: str) -> str:
    # Tags report the page with or without its query (dl, context.page.url…): the path decides.
    return re.split(r"[?#]", url, maxsplit=1)[0]


class ExpectationsCheck:
    def __init__(self, expectations: list[Expectation]):
        self.plan = [(e, re.compile(e.page), _targets(e)) for e in expectations]
        self.waits: list[_Wait] = []
        self.recent: deque[TrackingEvent] = deque(maxlen=MAX_RECENT)
        self._names = {e.event for e in expectations}

    def reset(self) -> None:
        self.waits.clear()
        self.recent.clear()

    def process(self, ev: TrackingEvent, ctx) -> None:
        if ev.kind == KIND_EVENT:
            for w in self.waits:
                self._offer(w, ev)
            if ev.event in self._names or ev.standard_event in self._names:
                self.recent.append(ev)
        page = ev.page_url or ev.referer
        if page:
            self._visit(page, ev.time, ev.client, ev.device, trigger=ev)

    traffic_headers = frozenset()  # (observe_traffic reads the page load, the time and the device)

    def observe_traffic(self, hit: RawHit, ctx) -> None:
        if ctx.page_load:
            self._visit(ctx.page_load, hit.time, hit.client, hit.device, trigger=None)

    def tick(self, now: float, ctx) -> None:
        due = [w for w in self.waits if w.deadline <= now]
        if not due:
            return
        self.waits = [w for w in self.waits if w.deadline > now]
        for w in due:
            if not w.fulfilled and CODE not in ctx.silenced:
                ctx.add(self._missing(w, ctx))

    def _visit(self, url: str, t: float, client: str, device: str, trigger: TrackingEvent | None) -> None:
        key = _page_key(url)
        for exp, page_re, targets in self.plan:
            if not page_re.search(url):
                continue
            for target in targets:
                same = [w for w in self.waits if w.expectation is exp and w.target == target
                        and w.page == key and w.device == device and w.opened - EARLY_S <= t <= w.deadline]
                if same and trigger is not None:  # one more event of a page being waited on
                    same[-1].triggers.append(trigger.id)
                    continue
                w = _Wait(exp, target, key, t, t + exp.within_s, client, device,
                          [trigger.id] if trigger is not None else [])
                self.waits.append(w)
                for ev in self.recent:
                    self._offer(w, ev)
        if len(self.waits) > MAX_WAITS:
            del self.waits[: len(self.waits) - MAX_WAITS]

    def _offer(self, w: _Wait, ev: TrackingEvent) -> None:
        exp, target = w.expectation, w.target
        if w.fulfilled or ev.platform != target.platform:
            return
        if exp.event not in (ev.event, ev.standard_event):
            return
        if target.pixel and ev.pixel_id != target.pixel:
            return
        if not (w.opened - EARLY_S <= ev.time <= w.deadline):
            return
        page = ev.page_url or ev.referer
        if page and not re.search(exp.page, page):
            return
        if self._lacking(exp, ev):
            w.near = ev
        else:
            w.fulfilled = True

    @staticmethod
    def _lacking(exp: Expectation, ev: TrackingEvent) -> list[str]:
        return [p for p in exp.params if field_value(ev, p) in (None, "", [])]

    def _missing(self, w: _Wait, ctx) -> TrackingEvent:
        exp, target = w.expectation, w.target
        plan = f" (tracking plan: {exp.name})" if exp.name else ""
        if w.near is not None:
            lacking = ", ".join(self._lacking(exp, w.near))
            message = f"{exp.event} reached {target.describe()} without {lacking}{plan}"
            hint = f"Send {lacking} with {exp.event} on {w.page}."
        else:
            # The time tells this visit from another of the same page where the event did arrive.
            message = (f"{exp.event} never reached {target.describe()} within {exp.within_s:g} s "
                       f"of the visit to {w.page} at {clock(w.opened)}{plan}")
            hint = ("Check that the tag fires on this page (tag manager trigger, consent, a script "
                    "error before it) and that it sends to this pixel.")
        related = sorted(set(w.triggers) | ({w.near.id} if w.near is not None else set()))
        missing = TrackingEvent(platform=target.platform, kind=Kind.missing, pixel_id=target.pixel,
                                standard_event=exp.event, page_url=w.page, time=w.opened, client=w.client,
                                device=w.device, endpoint="expected by pixelspy.toml",
                                findings=[Finding(code=CODE, severity=Severity(exp.severity), message=message,
                                                  hint=hint, related=related)])
        return missing


def make_checks(config: Config) -> list:
    return [ExpectationsCheck(config.expect)] if config.expect else []
