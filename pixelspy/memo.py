"""A memo for pure functions called on every hit with arguments that change from hit to hit (page
URLs, parameter values), kept out of the collector's way."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import wraps
from typing import TypeVar

T = TypeVar("T")


class _Tracked:
    """An object the collector tracks."""


def memo(maxsize: int) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """functools.lru_cache(maxsize) for a function of hashable positional arguments, emptied when
    full instead of evicting the least recently used entry.

    Why not lru_cache: its table of argument tuples (strings) and entries the collector does not
    track is untracked by every full collection (the proxy's heap freezer runs one every 500 events)
    and tracked again, as a young object, by the next new key (a new tuple, tracked until its first
    collection); so the young and middle collections of every freeze cycle walked all its entries
    again: page_site's 4,096 made a fifth of the references the collector walked per hit
    (benchmarks/RESULTS.md, session 16). Here one key the collector always tracks keeps the table
    tracked: frozen with the heap, and walked no more."""

    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        keeps_tracked: tuple[Hashable, ...] = (_Tracked(),)
        table: dict[tuple[Hashable, ...], object] = {keeps_tracked: None}
        missing = object()

        @wraps(fn)
        def memoised(*args: Hashable) -> T:
            result = table.get(args, missing)
            if result is missing:
                result = fn(*args)
                if len(table) > maxsize:
                    table.clear()
                    table[keeps_tracked] = None
                table[args] = result
            return result  # type: ignore[return-value]

        return memoised

    return decorate
