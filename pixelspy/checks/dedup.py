"""Browser↔server deduplication: the pixel and the Conversions API send the same conversion; the
vendor keeps one only when both carry the same dedup key (rules.toml `dedup`, per vendor).

Codes: dedup-ok (info), dedup-missing (warning).

- Same key (and event name, where the vendor requires it) within the vendor's window: both
  events get `dedup-ok`, whichever side arrives first.
- Both sides seen for the same (platform, pixel, event name) within the pairing window without a
  matching key: both get `dedup-missing`, pending; it is retracted when a matching copy arrives,
  and settles (pending → final) via tick() once the pairing window has passed.
Browser and server events come from different clients (the device, the shop's backend), so this
state is keyed by vendor and pixel, not by client.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from pixelspy.checks.ids import comparable_name, dedup_scope
from pixelspy.checks.rules import (KIND_EVENT, DedupKey, event_name, field_value, finding, platform, rules,
                                   seconds, vendor)
from pixelspy.checks.state import ID, SOURCE, TIME, Recent, Seen
from pixelspy.config import Config
from pixelspy.model import Severity, Source, TrackingEvent

SIDES = (Source.browser, Source.server)
OTHER_SIDE = {Source.browser: Source.server, Source.server: Source.browser}
MAX_PER_SIDE = 50  # copies remembered per key and side; a flood does not grow memory
MAX_RELATED = 10


def dedup_id(event: TrackingEvent, dedup: DedupKey) -> str | None:
    for key in dedup.keys:
        v = field_value(event, key)
        if isinstance(v, str) and v.strip():
            return v.strip()
    return None


def _add_copy(carrying: tuple[Seen, ...], seen: Seen) -> tuple[Seen, ...]:
    """The copies with `seen` last, its side's oldest gone when the side had MAX_PER_SIDE."""
    same_side = [o for o in carrying if o[SOURCE] == seen[SOURCE]]
    if len(same_side) >= MAX_PER_SIDE:
        oldest = same_side[0]
        carrying = tuple(o for o in carrying if o is not oldest)
    return (*carrying, seen)


@dataclass
class Pending:
    event: TrackingEvent
    deadline: float
    related: dict[str, TrackingEvent] = field(default_factory=dict)


class DedupCheck:
    kinds = (KIND_EVENT,)

    def __init__(self, config: Config):
        self.pairing_window = config.checks.dedup_pairing_window_s
        memory = max((p.dedup.window_h for p in rules().platforms.values() if p.dedup), default=48) * 3600
        # (platform, scope, name, dedup id) → the events carrying that key, both sides, oldest first:
        # a tuple put back when it grows, not a dict and a list per key (most keys come once, and
        # the window holds them for 48 hours)
        self.by_key: Recent[tuple, tuple[Seen, ...]] = Recent(memory)
        # (platform, scope, name) → side → events without a match yet, within the pairing window
        self.unmatched: Recent[tuple, dict[Source, dict[str, Seen]]] = Recent(self.pairing_window)
        self.pending: dict[str, Pending] = {}
        self._deadlines: list[tuple[float, str]] = []

    def reset(self) -> None:
        self.by_key.clear()
        self.unmatched.clear()
        self.pending.clear()
        self._deadlines.clear()

    def process(self, event: TrackingEvent, ctx) -> None:
        if event.source not in SIDES:
            return
        dedup = platform(event.platform).dedup
        if dedup is None:
            return
        match_name = dedup.match_name
        name = comparable_name(event)
        if match_name and name is None:
            return
        scope = dedup_scope(event)
        key = dedup_id(event, dedup)
        if key is not None and self._match(event, (event.platform, scope, name if match_name else None), key,
                                           dedup, ctx):
            return
        # Copies are paired by name even where the vendor dedups on the ID alone (Pinterest, Snapchat);
        # without names on the wire (LinkedIn), unrelated conversions cannot be told apart
        if name is not None and (match_name or platform(event.platform).event_names):
            self._pair_unmatched(event, (event.platform, scope, name), key, ctx)

    # ------------------------------------------------------------------ matching keys

    def _match(self, event: TrackingEvent, bucket: tuple, key: str, dedup: DedupKey, ctx) -> bool:
        source, t = event.source, event.time
        mine = ctx.seen(event)
        carrying = _add_copy(self.by_key.renew((bucket, key), t) or (), mine)
        self.by_key.store((bucket, key), carrying)
        other = OTHER_SIDE[source]
        other_side = [o for o in carrying if o[SOURCE] == other]
        if not other_side:
            return False
        copies = [o for o in carrying if o[SOURCE] == source]
        window = dedup.window_h * 3600
        partners = [o for o in other_side if abs(t - o[TIME]) <= window]
        if not partners:
            return False
        table = platform(event.platform)
        message = (f"{table.name} {event_name(event)} deduplicated: browser and server share "
                   f"{' / '.join(dict.fromkeys(dedup.keys))} {key!r}")
        hint = f"{table.name} counts it once."
        for member in partners + [mine]:
            opposite = copies if member[SOURCE] != source else partners
            others = [e[ID] for e in opposite if e is not member][-MAX_RELATED:]
            if (member_event := ctx.event(member)) is not None:
                self._resolve(member_event, ctx)
                ctx.replace(member_event, finding("dedup-ok", Severity.info, message, hint, others))
        return True

    def _resolve(self, event: TrackingEvent, ctx) -> None:
        """The event found its match: it is no longer anyone's missing partner."""
        pend = self.pending.pop(event.id, None)
        partner_ids = set(pend.related) if pend else set()
        partner_ids.update(r for f in event.findings if f.code == "dedup-missing" for r in f.related)
        ctx.retract(event, "dedup-missing")
        sides = self.unmatched.get(self._bucket_of(event), event.time)
        if sides and event.source in sides:
            sides[event.source].pop(event.id, None)
        for partner_id in partner_ids:
            p = self.pending.get(partner_id)
            if p is None:
                continue  # already settled: it had no match within the pairing window
            p.related.pop(event.id, None)
            if p.related:
                self._emit_missing(p, ctx, pending=True)
            else:
                del self.pending[partner_id]
                ctx.retract(p.event, "dedup-missing")

    def _bucket_of(self, event: TrackingEvent) -> tuple:
        """The event's bucket among those without a match (see process)."""
        return (event.platform, dedup_scope(event), comparable_name(event))

    # ------------------------------------------------------------------ pairing without a match

    def _pair_unmatched(self, event: TrackingEvent, bucket: tuple, key: str | None, ctx) -> None:
        source, t = event.source, event.time
        sides = self.unmatched.setdefault(bucket, {}, t)
        mine = sides.setdefault(source, {})
        mine[event.id] = ctx.seen(event)
        while len(mine) > MAX_PER_SIDE:
            del mine[next(iter(mine))]
        other_side = sides.get(OTHER_SIDE[source])
        if not other_side:
            return
        near = [o for o in other_side.values() if abs(t - o[TIME]) <= self.pairing_window]
        # the events themselves while their verdict is pending (they get `dedup-missing`)
        partners = [e for o in near[-MAX_RELATED:] if (e := ctx.event(o)) is not None]
        if not partners:
            return
        me = self.pending.setdefault(event.id, Pending(event, event.time + self.pairing_window))
        self._schedule(me)
        for o in partners:
            me.related[o.id] = o
            p = self.pending.get(o.id)
            if p is None:
                p = self.pending[o.id] = Pending(o, o.time + self.pairing_window)
                self._schedule(p)
            p.related[event.id] = event
            self._emit_missing(p, ctx, pending=True)
        self._emit_missing(me, ctx, pending=True)

    def _schedule(self, p: Pending) -> None:
        heapq.heappush(self._deadlines, (p.deadline, p.event.id))

    def _emit_missing(self, p: Pending, ctx, pending: bool) -> None:
        event = p.event
        table = platform(event.platform)
        dedup = table.dedup
        key = dedup_id(event, dedup) if dedup else None
        partner = next(iter(p.related.values()))
        partner_key = dedup_id(partner, dedup) if dedup else None
        browser_wire = table.wire("event_id")
        server_wire = table.server_fields.get("event_id", browser_wire)
        if key is None or partner_key is None:
            side = event.source.value if key is None else partner.source.value
            detail = f"the {side} copy has no event ID"
        else:
            detail = f"event IDs differ ({key!r} here, {partner_key!r} on the {partner.source.value})"
        message = (f"{vendor(event)} {event_name(event)} sent from browser and server but not "
                   f"deduplicated: {detail}; counted twice")
        hint = (f"Send the same event ID from the pixel ({browser_wire}) and the server ({server_wire}) "
                f"with the same event name; {table.name} then keeps one.")
        if pending:
            hint += f" (Verdict settles {seconds(self.pairing_window)} after the event.)"
        ctx.replace(event, finding("dedup-missing", Severity.warning, message, hint, list(p.related)[:MAX_RELATED],
                                   pending=pending))

    def tick(self, now: float, ctx) -> None:
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, event_id = heapq.heappop(self._deadlines)
            p = self.pending.get(event_id)
            if p is None or p.deadline != deadline:
                continue
            del self.pending[event_id]
            self._emit_missing(p, ctx, pending=False)


def make_checks(config: Config) -> list:
    return [DedupCheck(config)]
