"""The session: a bounded, ordered store of tracking events with subscribers.

Hits come in (from the proxy or a HAR file), are decoded, checked, stored; subscribers (TUI, JSON
lines writer, HAR writer) hear about new events and about earlier events whose findings changed.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pixelspy import decoders
from pixelspy.checks import CheckEngine
from pixelspy.checks.state import ENDPOINT, ID, KEPT, TIME, Recent, Seen, seen
from pixelspy.devices import Devices
from pixelspy.heads import RequestHead
from pixelspy.model import KeptId, RawHit, TrackingEvent

# (event, is_update): is_update is True when an already published event changed (new findings, twin).
Subscriber = Callable[[TrackingEvent, bool], None]

# Twins (same beacon to two endpoints) arrive within milliseconds; 10 s is generous.
TWIN_WINDOW_S = 10.0


# Marks kept, and the length of a label: they come back from files, which may hold millions.
MAX_MARKS = 10_000
MAX_MARK_LABEL = 200


@dataclass(frozen=True)
class Mark:
    """A named divider the user inserts ("clicked Buy") at a time; saved in HAR files."""

    label: str
    time: float


MarkSubscriber = Callable[[list[Mark]], None]
# (hit, twin_of): a request kept with its events, or a twin copy of the event `twin_of` (an id).
HitSubscriber = Callable[[RawHit, "str | None"], None]


class Backing(Protocol):
    """Where the events the session no longer holds in memory are (the session file's writer)."""

    path: Path  # the session file

    def read_event(self, event_id: str) -> TrackingEvent | None: ...

    def read_hit(self, hit_id: str) -> RawHit | None: ...


# Events kept in memory (≈ 5 KiB each besides their bodies, which max_body_bytes bounds apart)
# without a session file: all there is of the session.
MAX_EVENTS = 100_000
# … while a session file records (Session.store): it holds every event and gives the evicted ones
# back (Session.event), so memory keeps the newest, which are what is read most: the TUI's newest
# rows and their detail, and the checks' lookups of recent events (a twin, a duplicate's group, a
# browser and server pair), each a read of the file once evicted. Few, so that the collector's walks
# stay short: minutes of a person's testing, seconds of a load test.
MAX_EVENTS_WITH_FILE = 5_000


class Session:
    # A stored event takes ≈ 5 KiB besides its request's body (bench_memory.py); the bodies, up to
    # 2 MiB each (addon.MAX_STORED_BODY), are bounded apart: old events go once they pass max_body_bytes.
    def __init__(self, checks: CheckEngine | None = None, max_events: int | None = None,
                 max_body_bytes: int = 512 * 1024 * 1024):
        self.checks = checks if checks is not None else CheckEngine()
        self._max_events = max_events  # None: by whether a session file records (see max_events)
        self.max_body_bytes = max_body_bytes
        self.events: OrderedDict[str, TrackingEvent] = OrderedDict()
        self.hits: dict[str, RawHit] = {}
        self.body_bytes = 0  # of the stored hits
        # twin_key → the first event with it (a twin still folds into it once evicted: see `event`)
        self._twins: Recent[str, Seen] = Recent(TWIN_WINDOW_S)
        self._subscribers: list[Subscriber] = []
        self.marks: list[Mark] = []  # in the order added
        self._mark_subscribers: list[MarkSubscriber] = []
        self.dropped = 0  # events evicted by the bound (their updates are still published)
        # Settled findings per severity of the evicted events, as they were when evicted: with those
        # memory holds, every event's (settled_findings), without reading a session file.
        self._evicted_findings: Counter[str] = Counter()
        self.devices = Devices()
        self._hit_subscribers: list[HitSubscriber] = []
        # The session file's writer, while one records the session: it holds every event, so an
        # event evicted from memory is still found (see `event`), and memory keeps fewer (max_events).
        self.store: Backing | None = None
        self.checks.attach(self)  # the checks keep ids of earlier events, and look them up here

    @property
    def max_events(self) -> int:
        """How many events memory keeps: as given, else MAX_EVENTS_WITH_FILE while a session file
        records the session, MAX_EVENTS without one."""
        if self._max_events is not None:
            return self._max_events
        return MAX_EVENTS_WITH_FILE if self.store is not None else MAX_EVENTS

    def subscribe(self, fn: Subscriber) -> None:
        self._subscribers.append(fn)

    def unsubscribe(self, fn: Subscriber) -> None:
        if fn in self._subscribers:
            self._subscribers.remove(fn)

    def subscribe_marks(self, fn: MarkSubscriber) -> None:
        self._mark_subscribers.append(fn)

    def unsubscribe_marks(self, fn: MarkSubscriber) -> None:
        if fn in self._mark_subscribers:
            self._mark_subscribers.remove(fn)

    def subscribe_hits(self, fn: HitSubscriber) -> None:
        self._hit_subscribers.append(fn)

    def unsubscribe_hits(self, fn: HitSubscriber) -> None:
        if fn in self._hit_subscribers:
            self._hit_subscribers.remove(fn)

    def add_marks(self, marks: Iterable[Mark]) -> None:
        """Add marks (labels cut at MAX_MARK_LABEL, the newest MAX_MARKS kept) and tell the subscribers
        once: a file's marks arrive together."""
        added = [Mark(m.label[:MAX_MARK_LABEL], m.time) for m in marks][-MAX_MARKS:]
        if not added:
            return
        self.marks.extend(added)
        del self.marks[:-MAX_MARKS]
        for fn in list(self._mark_subscribers):
            fn(added)

    def __len__(self) -> int:
        return len(self.events)

    def dropped_note(self) -> str | None:
        """What the bound cost, in words for the user; None while nothing was dropped."""
        if not self.dropped:
            return None
        if self.store is not None:
            return (f"the oldest {self.dropped:,} events are no longer in memory (pixelspy keeps the last "
                    f"{self.max_events:,} there); the session file holds every event")
        return (f"the oldest {self.dropped:,} events were dropped: pixelspy keeps the last {self.max_events:,} in "
                "memory (`pixelspy check` reports on every event of a file)")

    def settled_findings(self) -> Counter[str]:
        """Settled (not pending) findings per severity of every event the session took in: of the
        events memory holds as they are now, of the evicted ones as they were when evicted (a
        finding that changes later, as a late duplicate's, is counted as it was)."""
        counts = self._evicted_findings.copy()
        for ev in self.events.values():
            if ev.findings:
                counts.update(_settled(ev))
        return counts

    def __iter__(self) -> Iterator[TrackingEvent]:
        return iter(self.events.values())

    def json_line(self, event: TrackingEvent) -> dict:
        """The event's JSON line as `--no-ui` prints it: its json_line() plus its device's name."""
        line = event.json_line()
        line["device"] = self.devices.name(event.device)
        return line

    def get(self, event_id: str) -> TrackingEvent | None:
        """An event held in memory."""
        return self.events.get(event_id)

    def event(self, event_id: str) -> TrackingEvent | None:
        """An event in memory or, evicted by the bound, read back from the session file."""
        ev = self.events.get(event_id)
        if ev is None and self.store is not None:
            ev = self.store.read_event(event_id)
        return ev

    @property
    def reads_back(self) -> bool:
        """Whether `event` finds every event, evicted ones too (a session file records them)."""
        return self.store is not None

    def hit(self, hit_id: str) -> RawHit | None:
        """A request in memory or read back from the session file."""
        hit = self.hits.get(hit_id)
        if hit is None and self.store is not None:
            hit = self.store.read_hit(hit_id)
        return hit

    def ingest(self, hit: RawHit) -> list[TrackingEvent]:
        """Decode one hit and add its events; non-tracking hits are shown to the checks only
        (consent reads CMP scripts and cookies from ordinary traffic)."""
        device = self.devices.key(hit)
        hit.set_device(device)
        events = decoders.decode(hit)
        for ev in events:
            ev.device = device
        if hit.kept_ids:
            self._keep_ids(events, hit.kept_ids)
        if not events:
            self._observe(hit)
            return []
        added = []
        for ev in events:
            original = self._twin_of(ev)
            if original is not None:
                original.twins = (*original.twins, ev.hit_id)
                self._tell_hit(hit, original.id)
                self._publish(original, True)
                continue
            self._keep_hit(hit)
            self._store(ev)
            updated = self.checks.process(ev)  # a fresh set each time
            self._publish(ev, False)
            updated.discard(ev.id)
            if updated:
                self._publish_updates(updated)
            added.append(ev)
        return added

    @property
    def request_headers(self) -> frozenset[str] | None:
        """The headers of an ordinary request that the devices and the checks read (lower-case):
        what ingest_plain needs of one; None when a check does not say (then ingest a RawHit)."""
        names = self.checks.traffic_headers
        return None if names is None else names | Devices.HEADERS

    def ingest_plain(self, head: RequestHead) -> None:
        """An ordinary request (no decoder route) read in part: its `request_headers` alone."""
        head.device = self.devices.key(head)
        self._observe(head)

    def _observe(self, hit: RawHit | RequestHead) -> None:
        if updated := self.checks.observe_traffic(hit):
            self._publish_updates(updated)

    def tick(self, now: float) -> None:
        """Let time-based checks settle pending verdicts (called periodically)."""
        self._publish_updates(self.checks.tick(now))
        added, self.checks.ctx.added = self.checks.ctx.added, []
        for ev in added:  # events the checks created (an expected event that never came)
            self._store(ev)
            self._publish(ev, False)

    def add_stored(self, ev: TrackingEvent, hit: RawHit | None) -> None:
        """An event as a session file kept it (findings as they were): stored and published, the
        checks not run again."""
        if hit is not None:
            self._keep_hit(hit)
        self._store(ev)
        self._publish(ev, False)

    def note_choice(self, site: str, when: float, purposes: dict[str, bool], text: str,
                    device: str | None = None) -> None:
        """A consent choice known from outside the traffic (`pixelspy audit` clicked the banner):
        purposes such as {"marketing": True, "analytics": True}; device None means every device."""
        self._publish_updates(self.checks.note_choice(site, when, purposes, text, device))

    def clear(self) -> None:
        self.events.clear()
        self.hits.clear()
        self.marks.clear()
        self._twins.clear()
        self.body_bytes = 0
        self.dropped = 0
        self._evicted_findings.clear()
        self.checks.reset()

    def _keep_ids(self, events: list[TrackingEvent], kept: tuple[KeptId, ...]) -> None:
        """Events read again from a HAR file pixelspy wrote keep the ids they had (bug reports quote
        them): each takes the first unused id the file gave an event of its platform and name."""
        left = list(kept)
        for ev in events:
            i = next((i for i, k in enumerate(left) if (k.platform, k.event) == (ev.platform, ev.event)), None)
            if i is not None and (k := left.pop(i)).id not in self.events:
                ev.id = k.id

    def _twin_of(self, ev: TrackingEvent) -> TrackingEvent | None:
        if not ev.twin_key:
            return None
        first = self._twins.get(ev.twin_key, ev.time)
        # A twin is the same beacon to another endpoint; the same endpoint twice is a real duplicate.
        if first and first[ENDPOINT] != ev.endpoint and abs(ev.time - first[TIME]) <= TWIN_WINDOW_S:
            original = first[KEPT] or self.event(first[ID])
            if original is not None:
                return original
        self._twins.put(ev.twin_key, seen(ev, keep=not self.reads_back), ev.time)
        return None

    def _keep_hit(self, hit: RawHit) -> None:
        if hit.id not in self.hits:
            self.hits[hit.id] = hit
            self.body_bytes += len(hit.body)
            self._tell_hit(hit, None)

    def _tell_hit(self, hit: RawHit, twin_of: str | None) -> None:
        for fn in list(self._hit_subscribers):
            fn(hit, twin_of)

    def _store(self, ev: TrackingEvent) -> None:
        self.events[ev.id] = ev
        while len(self.events) > self.max_events or (self.body_bytes > self.max_body_bytes and len(self.events) > 1):
            _, old = self.events.popitem(last=False)
            if (hit := self.hits.pop(old.hit_id, None)) is not None:
                self.body_bytes -= len(hit.body)
            self.dropped += 1
            if old.findings:
                self._evicted_findings.update(_settled(old))

    def _publish(self, ev: TrackingEvent, is_update: bool) -> None:
        for fn in list(self._subscribers):
            fn(ev, is_update)

    def _publish_updates(self, ids: set[str]) -> None:
        # Evicted events too: a check may still change one (a late duplicate), and a report
        # (`pixelspy check`) or a JSON-lines reader must hear of it.
        changed = self.checks.ctx.changed_events
        for eid in sorted(ids):
            if (ev := self.events.get(eid) or changed.get(eid)) is not None:
                self._publish(ev, True)


def _settled(ev: TrackingEvent) -> Iterator[str]:
    """The severities of the event's settled findings."""
    return (f.severity.value for f in ev.findings if not f.pending)
