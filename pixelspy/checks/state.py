"""Bounded memory for stateful checks: pixelspy runs for hours at hundreds of events a second.

Entries expire by event time (so HAR files replayed at once behave like live traffic) and by
count; lookups are dict lookups keyed by what the check compares, never scans over history.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

DEFAULT_MAX_ENTRIES = 50_000


class Recent(Generic[K, V]):
    """A dict whose entries live `max_age` seconds after their last `put`, at most `max_entries`."""

    def __init__(self, max_age: float, max_entries: int = DEFAULT_MAX_ENTRIES):
        self.max_age = max_age
        self.max_entries = max_entries
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._forget_times()

    def _forget_times(self) -> None:
        # No entry is older than `_oldest`, so while it has not expired, put() skips pruning.
        # While puts come in time order the first entry is the oldest, and pruning moves
        # `_oldest` up to it; after one put out of order it only moves down (until emptied).
        self._oldest = float("inf")
        self._newest = float("-inf")
        self._in_time_order = True

    def get(self, key: K, now: float) -> V | None:
        item = self._items.get(key)
        if item is None or now - item[0] > self.max_age:
            return None
        return item[1]

    def put(self, key: K, value: V, now: float) -> None:
        items = self._items
        items[key] = (now, value)
        items.move_to_end(key)
        if now >= self._newest:
            self._newest = now
        else:
            self._in_time_order = False
        if now < self._oldest:  # (not min(): twice the cost of the whole comparison)
            self._oldest = now
        if len(items) > self.max_entries or now - self._oldest > self.max_age:
            self.prune(now)

    def setdefault(self, key: K, default: V, now: float) -> V:
        """The key's value, or `default` when it has none (or it expired), stored; either way the
        entry lives `max_age` from now. For groups the caller then adds to in place."""
        item = self._items.get(key)
        value = default if item is None or now - item[0] > self.max_age else item[1]
        self.put(key, value, now)
        return value

    def pop(self, key: K) -> V | None:
        item = self._items.pop(key, None)
        return item[1] if item else None

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
