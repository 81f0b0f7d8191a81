"""Bounded memory for stateful checks: pixelspy runs for hours at hundreds of events a second.

Entries expire by event time (so HAR files replayed at once behave like live traffic) and by
count; lookups are dict lookups keyed by what the check compares, never scans over history.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

from pixelspy.model import Source, TrackingEvent

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

DEFAULT_MAX_ENTRIES = 50_000


class _Tracked:
    """An object the collector tracks (see Recent._new_times)."""


_KEEPS_TRACKED = _Tracked()


class Recent(Generic[K, V]):
    """A dict whose entries live `max_age` seconds after their last `put`, at most `max_entries`."""

    def __init__(self, max_age: float, max_entries: int = DEFAULT_MAX_ENTRIES):
        self.max_age = max_age
        self.max_entries = max_entries
        # key → value, oldest first; and key → the time of its last put. Two dicts, not a [time,
        # value] pair per entry: a float in a dict is no object for the collector to walk.
        self._items: OrderedDict[K, V] = OrderedDict()
        self._times = self._new_times()
        self._forget_times()

    @staticmethod
    def _new_times() -> dict:
        # With one key the collector tracks: a dict of untracked keys and floats is untracked by each
        # full collection (every heap freeze runs one) and tracked again by its next put, as a young
        # object, so the young, middle and full collections of every freeze cycle walked all its
        # entries again, where a dict that stays tracked is frozen and walked no more.
        return {_KEEPS_TRACKED: 0.0}

    def _forget_times(self) -> None:
        # No entry is older than `_oldest`, so while it has not expired, put() skips pruning.
        # While puts come in time order the first entry is the oldest, and pruning moves
        # `_oldest` up to it; after one put out of order it only moves down (until emptied).
        self._oldest = float("inf")
        self._newest = float("-inf")
        self._in_time_order = True

    def get(self, key: K, now: float) -> V | None:
        put_at = self._times.get(key)
        if put_at is None or now - put_at > self.max_age:
            return None
        return self._items[key]

    def put(self, key: K, value: V, now: float) -> None:
        self._touch(key, now, value)
        self._items[key] = value

    def setdefault(self, key: K, default: V, now: float) -> V:
        """The key's value, or `default` when it has none (or it expired), stored; either way the
        entry lives `max_age` from now. For groups the caller then adds to in place."""
        return self._touch(key, now, default)

    def _touch(self, key: K, now: float, default: V | None = None) -> V | None:
        """The key's value, stamped `now` and moved last; a new or expired entry holds `default`."""
        items, times = self._items, self._times
        put_at = times.get(key)
        if put_at is None:
            items[key] = value = default
        else:
            if now - put_at > self.max_age:
                items[key] = value = default
            else:
                value = items[key]
            items.move_to_end(key)
        times[key] = now
        if now >= self._newest:
            self._newest = now
        else:
            self._in_time_order = False
        if now < self._oldest:  # (not min(): twice the cost of the whole comparison)
            self._oldest = now
        if now - self._oldest > self.max_age or len(items) > self.max_entries:
            self.prune(now)
        return value

    # get() and put()'s stamp in one (a check that reads a key then always puts it back): the key's
    # value (None when absent or expired), its entry living `max_age` from now. The caller must then
    # `store` the key's value: till then the entry holds None. (_touch itself: no call between.)
    renew = _touch

    def store(self, key: K, value: V) -> None:
        """The value of a key just renewed."""
        self._items[key] = value

    def pop(self, key: K) -> V | None:
        self._times.pop(key, None)
        return self._items.pop(key, None)

    def prune(self, now: float) -> None:
        items, times = self._items, self._times
        while items:
            first_time = times[next(iter(items))]
            if len(items) > self.max_entries or now - first_time > self.max_age:
                del times[items.popitem(last=False)[0]]
                continue
            if self._in_time_order:
                self._oldest = first_time
            return
        self._forget_times()

    def items(self) -> Iterator[tuple[K, V]]:
        yield from list(self._items.items())

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
        self._times = self._new_times()
        self._forget_times()


# What a check's time window keeps of an event: its id and the few fields checks compare, not the
# event itself, whose params and findings make it ≈ 50 times larger. A plain tuple, read by the
# indexes below: a tuple of strings and a float is one the collector stops tracking, and so is a
# group (a tuple) of them, where a record object kept every group tracked, walked by each full
# collection for the 48 hours the windows hold them. A check that changes an earlier event's
# findings gets the event back through `Context.event`: from the session's memory, or read back from
# its file. Only a session that cannot read evicted events back (no file) has the record keep the
# event itself (KEPT), so that a late finding still reaches it.
Seen = tuple  # (id, time, endpoint, source's value, event ID or None, the event or None)
ID, TIME, ENDPOINT, SOURCE, EVENT_ID, KEPT = range(6)


def seen(event: TrackingEvent, keep: bool) -> Seen:
    # the source's value, not the enum member: a member is an object the collector tracks
    return (event.id, event.time, event.endpoint, source_value(event), event.event_id, event if keep else None)


# Enum's `.value` is a Python-level property: a microsecond, read by several checks an event.
_SOURCE_VALUES = {source: source.value for source in Source}


def source_value(event: TrackingEvent) -> str:
    """The event's source as its plain string ("browser"), as the checks' keys hold it."""
    return _SOURCE_VALUES[event.source]
