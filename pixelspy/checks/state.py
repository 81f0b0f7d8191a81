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

    def get(self, key: K, now: float) -> V | None:
        item = self._items.get(key)
        if item is None or now - item[0] > self.max_age:
            return None
        return item[1]

    def put(self, key: K, value: V, now: float) -> None:
        self._items[key] = (now, value)
        self._items.move_to_end(key)
        self.prune(now)

    def pop(self, key: K) -> V | None:
        item = self._items.pop(key, None)
        return item[1] if item else None

    def prune(self, now: float) -> None:
        items = self._items
        while items and (len(items) > self.max_entries or now - next(iter(items.values()))[0] > self.max_age):
            items.popitem(last=False)

    def items(self) -> Iterator[tuple[K, V]]:
        for k, (_, v) in list(self._items.items()):
            yield k, v

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
