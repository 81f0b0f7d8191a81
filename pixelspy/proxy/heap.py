"""Keeps what lives on out of CPython's full collections (HeapFreezer), for pixelspy's own process:
ProxyConfig.freeze_heap (`freeze_heap`, also what the benchmarks run). Counts mitmproxy's flows in
flight, hence here, beside the proxy."""

from __future__ import annotations

import ctypes
import gc

from mitmproxy import connection, http

try:
    from mitmproxy.proxy.utils import ReceiveBuffer  # a body arriving; internal, so counted while it exists
except ImportError:  # pragma: no cover
    ReceiveBuffer = None

# Once this many more events are stored, the ones kept so far are frozen too (see HeapFreezer):
# the full collection before each freeze walks them, ≈ 5 objects and ≈ 5 µs per event, so
# 2,000 made it a 10 ms pause and 500 a 2.5 ms one.
FREEZE_EVERY_EVENTS = 500
# Once the heap is frozen, a collection of the middle generation runs after this many young ones,
# and a full collection after this many of the middle one (CPython's defaults: 10 and 10; see
# HeapFreezer).
MIDDLE_COLLECTION_EVERY = 5
FULL_COLLECTION_EVERY = 80
# A freeze also pins what the requests in flight hold (see HeapFreezer). With more body bytes than
# this in flight it waits RETRY_FREEZE_AFTER_EVENTS more events, for a quieter moment.
FREEZE_MAX_PINNED_BODY_BYTES = 4 * 1024 * 1024
RETRY_FREEZE_AFTER_EVENTS = 50
# What a flow or connection in flight pins besides its bodies (parsers, layers, headers; ≈ 7 KiB
# measured with 200 connections). Once the freezes have pinned this much, plus so much per frozen
# object (a quarter of the ≈ 400 bytes a stored event's object holds), a reclaim sends the whole
# heap back to the collector: it walks the frozen heap, so it comes as much rarer as that is larger.
PINNED_BYTES_PER_FLOW = 8 * 1024
RECLAIM_AFTER_PINNED_BYTES = 16 * 1024 * 1024
RECLAIM_AFTER_PINNED_BYTES_PER_FROZEN_OBJECT = 100
# Bodies from this size up get pages of their own (glibc malloc), returned to the system when freed.
OWN_PAGES_FROM_BYTES = 128 * 1024


def _in_flight() -> tuple[int, int]:
    """(flows and connections, body bytes) among the objects the collector tracks and has not frozen:
    after a full collection, what the requests in flight hold (and what a freeze would pin)."""
    flows = body_bytes = 0
    # Exact types (mitmproxy makes these classes' objects, never subclasses'): a set lookup per
    # object where three isinstance calls took ≈ 5 times as long, ≈ 1.7 ms a freeze of 500 events.
    for obj in gc.get_objects():
        if (kind := type(obj)) not in _IN_FLIGHT_TYPES:
            continue
        if kind is http.HTTPFlow:
            flows += 1
            for message in (obj.request, obj.response):
                body_bytes += len(message.raw_content or b"") if message is not None else 0
        elif kind is connection.Client:
            flows += 1
        else:  # a body still arriving
            body_bytes += len(obj)
    return flows, body_bytes


_IN_FLIGHT_TYPES = frozenset(t for t in (http.HTTPFlow, connection.Client, ReceiveBuffer) if t is not None)


class _GlibcMalloc:
    """glibc's malloc, when the process runs on it (not on macOS or musl): nothing otherwise.

    By default glibc raises the size from which it gives an allocation pages of its own to that of
    the largest block freed so far, so after the first large body every body comes from the heap,
    which it seldom gives back: bare mitmdump kept 150 MB after 200 connections with 1 MB uploads."""

    def __init__(self) -> None:
        try:
            self.libc = ctypes.CDLL("libc.so.6")
            self.libc.mallopt, self.libc.malloc_trim  # noqa: B018 - glibc's, not just any libc
        except (OSError, AttributeError):
            self.libc = None

    def keep_large_blocks_apart(self, from_bytes: int) -> None:
        if self.libc is not None:
            self.libc.mallopt(-3, from_bytes)  # M_MMAP_THRESHOLD (fixed: no more raising)

    def trim(self) -> None:
        """Give the heap's free pages back to the system."""
        if self.libc is not None:
            self.libc.malloc_trim(0)


def freeze_heap(session) -> HeapFreezer:
    """pixelspy's collector settings for its live process: what lives now frozen at once, then the
    events `session` stores as they come (see HeapFreezer). One place for the proxy and the
    benchmarks that measure what it runs."""
    freezer = HeapFreezer()
    freezer.freeze()
    session.subscribe(freezer)
    return freezer


class HeapFreezer:
    """Keeps what lives on (the startup heap, then the stored events) out of CPython's full
    collections. A full collection stops every connection while it walks all tracked objects:
    the startup heap alone (mitmproxy, pydantic's validators, the TUI) is ~95,000 objects and
    ~40 ms, and each stored event adds ~5. Frozen objects are skipped, so a collection walks only
    what came since the last freeze. Each freeze follows a full collection, so no garbage is
    frozen. Events evicted from memory later (the session's window) are freed all the same: they
    hold no reference cycles, and reference counting frees frozen objects too. With a session file
    memory keeps few events (session.MAX_EVENTS_WITH_FILE), and the startup heap is most of what a
    full collection would walk: without the freezer, pixelspy's longest collections took 156 ms
    against 62 ms with it, and those over 10 ms came twice as often (benchmarks/RESULTS.md,
    session 13).

    But a freeze also pins what the requests in flight hold: mitmproxy's flows and connection
    layers are reference cycles, which only a collection frees, and frozen ones are never collected
    (200 connections pinned ≈ 3.5 MB a freeze, with their bodies 30 MB and more). So each freeze
    first counts what is in flight (_in_flight): with more than FREEZE_MAX_PINNED_BODY_BYTES of
    bodies it waits for a quieter moment; and once the freezes since the last reclaim have pinned
    RECLAIM_AFTER_PINNED_BYTES plus a quarter of the frozen heap's size, a reclaim unfreezes the
    heap for one full collection, which frees what was pinned, and freezes it again. A reclaim walks
    everything (≈ 40 ms plus 5 µs per stored event), so it waits for more pinned memory the larger
    the frozen heap is: at 200 busy connections it comes every ≈ 5 freezes or more, at a few
    connections hardly ever. So memory is the startup heap, the stored events and at most 16 MiB
    plus a quarter of them pinned.

    Freezing also empties what CPython counts as long-lived, so its own brake on full collections
    ("only once a quarter of the long-lived objects are new") always lets one through. A full
    collection would then follow every 10 collections of the middle generation: some 12 pauses of
    5-15 ms per 30 s of steady traffic, enough to move the proxy's p99 latency. The freezer spaces
    them FULL_COLLECTION_EVERY apart instead; each one walks no more than it did.

    A collection of the middle generation walks what survived the young collections since the
    last one, the newly stored events among them: under load each took ≈ 0.9 ms in pixelspy against
    ≈ 0.7 ms in bare mitmdump, and they were nearly all of the proxy's pauses over 1 ms. Running it
    every MIDDLE_COLLECTION_EVERY young collections instead of 10 halves each pause for the same
    total work; FULL_COLLECTION_EVERY is doubled to keep full collections as far apart in time.

    The freezer also sets glibc's malloc to give large bodies pages of their own (_GlibcMalloc)
    and trims the heap after each reclaim: this process only, like the freezing."""

    def __init__(self) -> None:
        self.new_events = 0
        self.pinned_bytes = 0  # by the freezes since the last reclaim
        self._reclaim_budget = RECLAIM_AFTER_PINNED_BYTES  # pinned bytes past this call for a reclaim
        self.reclaims = 0
        self.malloc = _GlibcMalloc()
        self.malloc.keep_large_blocks_apart(OWN_PAGES_FROM_BYTES)

    def __call__(self, event, is_update: bool) -> None:  # a session subscriber
        if not is_update:
            self.new_events += 1
            if self.new_events >= FREEZE_EVERY_EVENTS:
                self.freeze()

    def freeze(self) -> None:
        if self._freeze_unless_bodies_in_flight() and self.pinned_bytes > self._reclaim_budget:
            self.reclaim()

    def reclaim(self) -> None:
        """Unfreezes the heap for one full collection, then freezes it again (or, with bodies in
        flight now, at the next try)."""
        gc.unfreeze()
        self.pinned_bytes = 0
        self.reclaims += 1
        self._freeze_unless_bodies_in_flight()
        self.malloc.trim()

    def _freeze_unless_bodies_in_flight(self) -> bool:
        young = gc.get_threshold()[0]
        gc.set_threshold(young, MIDDLE_COLLECTION_EVERY, FULL_COLLECTION_EVERY)
        gc.collect()
        flows, body_bytes = _in_flight()
        if body_bytes > FREEZE_MAX_PINNED_BODY_BYTES:
            self.new_events = FREEZE_EVERY_EVENTS - RETRY_FREEZE_AFTER_EVENTS
            return False
        pinned = self.pinned_bytes + body_bytes + flows * PINNED_BYTES_PER_FLOW
        # The budget by the frozen heap before this freeze. gc.get_freeze_count() walks the frozen
        # heap (≈ 14 ms at 400,000 objects, every FREEZE_EVERY_EVENTS): asked only when the pinned
        # bytes pass the budget's floor.
        self._reclaim_budget = RECLAIM_AFTER_PINNED_BYTES + (
            gc.get_freeze_count() * RECLAIM_AFTER_PINNED_BYTES_PER_FROZEN_OBJECT if pinned > RECLAIM_AFTER_PINNED_BYTES
            else 0)
        gc.freeze()
        self.new_events = 0
        self.pinned_bytes = pinned
        return True
