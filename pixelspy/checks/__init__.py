"""The checks engine: runs every check on each new event and collects findings.

A check is a small object with `process(event, ctx)`; it may attach findings to the new event or to
earlier ones (a duplicate marks both). A check that looks only at some kinds of event (most skip
pixel loads) names them in a class attribute `kinds`; the engine then calls it for those alone.
Stateful checks keep their own state and clear it in
`reset()`. Checks that settle later (consent) implement `tick(now, ctx)`; checks that read ordinary
traffic (CMP scripts, consent cookies) implement `observe_traffic(hit, ctx)`, name the request headers
it reads in `traffic_headers` (the proxy then hands it a RequestHead holding those alone, not a whole
RawHit: pixelspy/heads.py), and may say in `traffic_matters(hit, ctx)` whether a request can change
anything for it (when not, the engine does not call it: almost every request the proxy relays).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from typing import Protocol

from pixelspy.checks.pages import PageViews
from pixelspy.checks.state import ID, KEPT, Seen, seen
from pixelspy.config import Config
from pixelspy.heads import RequestHead
from pixelspy.model import Finding, Kind, RawHit, TrackingEvent

log = logging.getLogger("pixelspy.checks")


class Events(Protocol):
    """Where earlier events are (the session): in memory, or read back from its file."""

    @property
    def reads_back(self) -> bool:
        """Whether `event` finds events no longer in memory."""

    def event(self, event_id: str) -> TrackingEvent | None: ...


class Context:
    """What a check may touch: findings on the new event or on earlier events it saw, and the
    page views of the traffic seen so far (`pages`, shared so that every check agrees on them)."""

    def __init__(self, silenced: set[str], events: Events | None = None):
        self.silenced = silenced
        self.events = events
        self._last_seen: Seen | None = None
        self.pages = PageViews()
        self.page_load: str | None = None  # the URL of the page load the hit now observed shows
        self.changed: set[str] = set()
        # … and the events themselves: the session may have evicted an event a check still holds
        self.changed_events: dict[str, TrackingEvent] = {}
        self.added: list[TrackingEvent] = []

    def seen(self, event: TrackingEvent) -> Seen:
        """What a check keeps of an event in its time windows (see Seen): one record however many
        windows keep it."""
        last = self._last_seen
        if last is not None and last[ID] == event.id:
            return last
        self._last_seen = last = seen(event, keep=self.events is None or not self.events.reads_back)
        return last

    def event(self, record: Seen) -> TrackingEvent | None:
        """The event a check saw, to change its findings (None: it is gone)."""
        if record[KEPT] is not None:
            return record[KEPT]
        return self.events.event(record[ID]) if self.events is not None else None

    def add(self, event: TrackingEvent) -> None:
        """From tick(): report what no hit carries (an expected event that never came) as an event
        of its own, with its findings; the session lists it."""
        self.added.append(event)

    def emit(self, event: TrackingEvent, finding: Finding) -> None:
        """Attach a finding; a finding with the same code and related ids replaces the old one."""
        if finding.code in self.silenced:
            return
        findings = event.findings
        for i, old in enumerate(findings):
            if old.code == finding.code and old.related == finding.related:
                if old == finding:
                    return
                event.findings = (*findings[:i], finding, *findings[i + 1:])
                break
        else:
            event.findings = (*findings, finding)
        self._changed(event)

    def replace(self, event: TrackingEvent, finding: Finding) -> None:
        """Set the event's one finding of this code (a group that grew gets a new `related` list):
        the old ones of the code go, the new one goes last."""
        code = finding.code
        findings = event.findings
        if len(findings) == 1 and findings[0].code == code and code not in self.silenced:
            # the common case, a member of a group that grew: its one finding is the one replaced
            if findings[0] != finding:
                event.findings = (finding,)
                self._changed(event)
            return
        same_code = [old for old in findings if old.code == code]
        if not same_code:
            self.emit(event, finding)
            return
        # `related` first: it is what changes when a group grows
        if all(old.related == finding.related and old == finding for old in same_code):
            return
        kept = tuple(f for f in findings if f.code != code)
        event.findings = kept if code in self.silenced else (*kept, finding)
        self._changed(event)

    def _changed(self, event: TrackingEvent) -> None:
        self.changed.add(event.id)
        self.changed_events[event.id] = event

    def retract(self, event: TrackingEvent, code: str) -> None:
        findings = event.findings
        kept = tuple(f for f in findings if f.code != code)
        if len(kept) != len(findings):
            event.findings = kept
            self._changed(event)


HOOKS = ("process", "observe_traffic", "tick", "note_choice")


class CheckEngine:
    def __init__(self, config: Config | None = None, checks: list | None = None, prefilter: bool = True):
        self.config = config or Config()
        # False: every traffic observer sees every request, whole (what the prefilter is tested against)
        self.prefilter = prefilter
        self.checks = checks if checks is not None else default_checks(self.config)
        self.events: Events | None = None  # set by the session (see attach)
        self.ctx = Context(set(self.config.checks.silence))
        # hook → (check, bound method) of the checks that implement it, looked up once: the
        # checks are fixed from here on.
        self._hooks = {hook: [(check, method) for check in self.checks
                              if (method := getattr(check, hook, None)) is not None]
                       for hook in HOOKS}
        # observe_traffic's (check, method), the method asking the check's traffic_matters first
        self._traffic = [(check, _when_it_matters(check, method) if prefilter else method)
                         for check, method in self._hooks["observe_traffic"]]
        # … and `process` per event kind, without the checks that skip that kind
        self._process_hooks = {kind: [(check, method) for check, method in self._hooks["process"]
                                      if kind in getattr(check, "kinds", Kind)]
                               for kind in Kind}

    def attach(self, events: Events) -> None:
        """The session whose earlier events the checks may look up by id."""
        self.events = self.ctx.events = events

    def process(self, event: TrackingEvent) -> set[str]:
        """Run every check on a new event; returns the ids of all events whose findings changed."""
        return self._run("process", self._process_hooks[event.kind], event)

    @property
    def traffic_headers(self) -> frozenset[str] | None:
        """The request headers that the traffic observers (page views and the checks) read; None
        when one does not say, or the prefilter is off: then they are given whole requests."""
        names = [getattr(check, "traffic_headers", None) for check, _ in self._hooks["observe_traffic"]]
        if not self.prefilter or None in names:
            return None
        return PageViews.HEADERS.union(*names)

    def observe_traffic(self, hit: RawHit | RequestHead) -> set[str]:
        """An ordinary request (a hit that made no event) shown to the checks that it may change."""
        self.ctx.page_load = self.ctx.pages.observe(hit)  # before the checks: a page load is news to all of them
        return self._run("observe_traffic", self._traffic, hit)

    def tick(self, now: float) -> set[str]:
        return self._run("tick", self._hooks["tick"], now)

    def note_choice(self, site: str, when: float, purposes: dict[str, bool], text: str,
                    device: str | None = None) -> set[str]:
        """A consent choice known from outside the traffic (see ConsentCheck.note_choice)."""
        return self._run("note_choice", self._hooks["note_choice"], site, when, purposes, text, device)

    def _run(self, hook: str, hooks: list, *args) -> set[str]:
        ctx = self.ctx
        ctx.changed = set()
        ctx.changed_events = {}
        for check, method in hooks:
            try:
                method(*args, ctx)
            except Exception:  # noqa: BLE001 - one broken check must not cost the event or the others
                log.exception("check %s failed in %s", type(check).__name__, hook)
        return ctx.changed

    def reset(self) -> None:
        self.ctx = Context(set(self.config.checks.silence), self.events)
        for check in self.checks:
            if hasattr(check, "reset"):
                check.reset()


def _when_it_matters(check, observe):
    """observe_traffic(hit, ctx), called only when the check's traffic_matters(hit, ctx) says the
    request can change anything for it (a check without one: always)."""
    if (matters := getattr(check, "traffic_matters", None)) is None:
        return observe

    def observe_when_it_matters(hit, ctx) -> None:
        if matters(hit, ctx):
            observe(hit, ctx)
    return observe_when_it_matters


def default_checks(config: Config) -> list:
    """Every check module in this package exposes `make_checks(config) -> list`; adding a check
    family is one new file."""
    checks: list = []
    for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{m.name}")
        if hasattr(module, "make_checks"):
            checks += module.make_checks(config)
    return checks
