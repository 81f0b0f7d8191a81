"""Bounded memory for stateful checks: pixelspy runs for hours at hundreds of events a second.

Entries expire by event time (so HAR files replayed at once behave like live traffic) and by
count; lookups are dict lookups keyed by what the check compares, never scans over history.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

from pixelspy.model import TrackingEvent

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

DEFAULT_MAX_ENTRIES = 50_000


class Recent(Generic[K, V]):
    """A dict whose entries live `max_age` seconds after their last `put`, at most `max_entries`."""

    def __init__(self, max_age: float, max_entries: int = DEFAULT_MAX_ENTRIES):
        self.max_age = max_age
        self.max_entries = max_entries
        self._items: OrderedDict[K, list] = OrderedDict()  # key → [time of the last put, value]
        self._forget_times()

    def _forget_times(self) -> None:
        # No entry is older than `_oldest`, so while it has not expired, put() skips pruning.
        # While puts come in time order the first entry is the oldest, and pruning moves
        # `_oldest` up to it; after one put out of order it only moves down (until emptied).
        self._oldest = float("inf")
        self._newest = float("-inf")
        self._in_time_order = True

    def get(self, key: K, now: float) -> V | None:
        entry = self._items.get(key)
        if entry is None or now - entry[0] > self.max_age:
            return None
        return entry[1]

    def put(self, key: K, value: V, now: float) -> None:
        self._touch(key, value, now)[1] = value

    def setdefault(self, key: K, default: V, now: float) -> V:
        """The key's value, or `default` when it has none (or it expired), stored; either way the
        entry lives `max_age` from now. For groups the caller then adds to in place."""
        return self._touch(key, default, now)[1]

    def _touch(self, key: K, default: V, now: float) -> list:
        """The key's entry, [time, value], stamped `now` and moved last; a new or expired entry holds
        `default`. Entries are lists so that refreshing one costs one lookup and no new object."""
        items = self._items
        entry = items.get(key)
        if entry is None:
            items[key] = entry = [now, default]
        else:
            if now - entry[0] > self.max_age:
                entry[1] = default
            entry[0] = now
            items.move_to_end(key)
        if now >= self._newest:
            self._newest = now
        else:
            self._in_time_order = False
        if now < self._oldest:  # (not min(): twice the cost of the whole comparison)
            self._oldest = now
        if now - self._oldest > self.max_age or len(items) > self.max_entries:
            self.prune(now)
        return entry

    def pop(self, key: K) -> V | None:
        entry = self._items.pop(key, None)
        return entry[1] if entry else None

    def prune(self, now: float) -> None:
        items = self._items
        while items:
            first_time = next(iter(items.values()))[0]
            if len(items) > self.max_entries or now - first_time > self.max_age:
                items.popitem(last=False)
                continue
            if self._in_time_order:
                self._oldest = first_time
            return
        self._forget_times()

    def items(self) -> Iterator[tuple[K, V]]:
        for k, (_, v) in list(self._items.items()):
            yield k, v

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
        self._forget_times()


class Seen:
    """What a check's time window keeps of an event: its id and the few fields checks compare, not
    the event itself, whose params and findings make it ≈ 50 times larger. A check that changes an
    earlier event's findings gets the event back through `Context.event`: from the session's memory,
    or read back from its file. Only a session that cannot read evicted events back (no file) has
    the window keep the event object (`kept`), so that a late finding still reaches it."""

    __slots__ = ("id", "time", "endpoint", "source", "event_id", "kept")

    def __init__(self, event: TrackingEvent, keep: bool):
        self.id = event.id
        self.time = event.time
        self.endpoint = event.endpoint
        self.source = event.source
        self.event_id = event.event_id
        self.kept = event if keep else None
