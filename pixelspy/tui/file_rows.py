"""The rows of the event list that a session file holds: events by id or by seq read back through a
small cache (EventCache), the file's rows as seqs with the marks among them (FileRows), a filter's
rows counted and read as they are shown (FilterRows), its count and newest rows read off the event
loop (answer_filter)."""

from __future__ import annotations

import logging
import sqlite3
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from pixelspy.model import RawHit, TrackingEvent
from pixelspy.session import Mark, Session
from pixelspy.store import queries, reader

log = logging.getLogger("pixelspy")
T = TypeVar("T")
Shown = tuple[dict[int, TrackingEvent], dict[str, RawHit | None]]  # events by seq, requests by id, read ahead
# Seqs a word is counted in at a time in a file without a full-text index (a scan of the events'
# JSON: 3.2 s for a million at load 5, 60-170 ms a part; the writer commits between).
SCAN_ROWS = 20_000


class EventCache:
    """An event by id for the list's rows: from the session's memory, else (evicted, a session file
    recording) read back from the file and kept among the last CACHED read, so that redrawing a
    window of old rows reads the file once. The rows the file alone holds are read by seq, a
    screenful at a time."""

    CACHED = 512
    CACHED_HITS = 8  # (a request's body may be 2 MiB)

    def __init__(self, session: Session) -> None:
        self.session = session
        self._read: OrderedDict[str, TrackingEvent] = OrderedDict()
        self._at: OrderedDict[int, TrackingEvent] = OrderedDict()
        self._hits: OrderedDict[str, RawHit | None] = OrderedDict()

    def __call__(self, event_id: str) -> TrackingEvent | None:
        ev = self.session.get(event_id)
        if ev is not None or self.session.store is None:
            return ev
        if (ev := self._read.get(event_id)) is not None:
            self._read.move_to_end(event_id)
            return ev
        ev = self.session.event(event_id)
        if ev is not None:
            self._keep(self._read, event_id, ev)
        return ev

    def at(self, seq: int) -> TrackingEvent | None:
        """The event at `seq` of the session file, if read (see `read_at`)."""
        if (ev := self._at.get(seq)) is not None:
            self._at.move_to_end(seq)
        return ev

    def read_at(self, seqs: list[int]) -> None:
        """Read the events at `seqs` the cache does not hold, in one query (at most CACHED)."""
        missing = [s for s in seqs if s not in self._at][-self.CACHED:]
        found = self.file(reader.events_at, seqs=missing) if missing else None
        for seq, ev in (found or {}).items():
            self._keep(self._at, seq, ev)

    def keep_at(self, events: dict[int, TrackingEvent], requests: dict[str, RawHit | None]) -> None:
        """Events at seqs and requests read already (a filter's newest rows): kept by seq and by id
        (the detail pane's), so that drawing them reads nothing."""
        for seq in sorted(events)[-self.CACHED:]:
            self._keep(self._at, seq, events[seq])
            self._keep(self._read, events[seq].id, events[seq])
        for hit_id, request in requests.items():
            self._keep(self._hits, hit_id, request, self.CACHED_HITS)

    def hit(self, hit_id: str) -> RawHit | None:
        """A request: from the session's memory, among those read ahead (None: the file has none),
        else from the file."""
        if (request := self.session.hits.get(hit_id)) is not None:
            return request
        return self._hits[hit_id] if hit_id in self._hits else self.session.hit(hit_id)

    def read_ahead(self, seqs: array) -> Shown:
        """(In a worker thread.) The events at `seqs` (the newest rows of a filter's answer) and the
        last one's request (the detail pane's): the list and the detail then draw them without the
        file, which the whole answer's query holds meanwhile. Kept by keep_at (the event loop's)."""
        events = self.file(reader.events_at, seqs=list(seqs)) or {}
        last = events.get(seqs[-1])
        if last is None or not last.hit_id or last.hit_id in self.session.hits:
            return events, {}
        return events, {last.hit_id: self.file(reader.hit, hit_id=last.hit_id)}

    def remember_at(self, ids: dict[int, str]) -> None:
        """Rows of events in memory now found in the file (seq → id): kept by seq, not read."""
        for seq in sorted(ids)[-self.CACHED:]:
            if (ev := self.session.get(ids[seq])) is not None:
                self._keep(self._at, seq, ev)

    def file(self, query: Callable[..., T], **kw: object) -> T | None:
        """`query(db, **kw)` on the session file (None: no file)."""
        store = self.session.store
        return store.read(query, **kw) if store is not None else None

    def _keep(self, cache: OrderedDict, key: object, value: object, most: int = CACHED) -> None:
        cache[key] = value
        if len(cache) > most:
            cache.popitem(last=False)

    def forget(self, event_id: str) -> None:
        """The event changed (new findings): read it again."""
        self._read.pop(event_id, None)
        for seq in [s for s, ev in self._at.items() if ev.id == event_id]:
            del self._at[seq]

    def clear(self) -> None:
        self._read.clear()
        self._at.clear()
        self._hits.clear()


class FilterRows:
    """A filter's rows of the session file (queries.FileFilter): how many, counted once, and their
    seqs read BLOCK at a time as the list shows them (blocks counted from the newest row back: the
    screenful at the end is one; a block from the nearest row known, either end or a block read,
    at an offset), the last BLOCKS read kept: a filter change costs its count and a screenful, not
    a list of its rows. Rows past its range that pass come by `extend` (the list's newer rows moved
    to the file's part)."""

    BLOCK = 256
    BLOCKS = 64

    def __init__(self, cache: EventCache, found: queries.FileFilter, count: int) -> None:
        self._file, self.found, self.count = cache.file, found, count
        self._blocks: OrderedDict[int, array] = OrderedDict()
        self._before: dict[int, int] = {}
        self.newer = array("q")  # the seqs past found.upto that pass, ascending
        self.drifted = False  # a block read did not fit the count (an event's findings changed): ask again

    def __len__(self) -> int:
        return self.count + len(self.newer)

    def __getitem__(self, i: int) -> int:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        if i >= self.count:
            return self.newer[i - self.count]
        b, k = divmod(self.count - 1 - i, self.BLOCK)
        if (seqs := self._blocks.get(b)) is None:
            seqs = self._blocks[b] = self._read(b)
            if len(self._blocks) > self.BLOCKS:
                self._blocks.popitem(last=False)
        else:
            self._blocks.move_to_end(b)
        return seqs[len(seqs) - 1 - k]

    def _read(self, b: int) -> array:
        """Block `b` (rows count - (b + 1) × BLOCK … count - b × BLOCK), from the nearest row known:
        either end, or a block read (its seq bounds the query; SQLite steps over the rows between,
        in C)."""
        stop = self.count - b * self.BLOCK
        start = max(0, stop - self.BLOCK)
        ways = [(start, {"offset": start}), (self.count - stop, {"offset": self.count - stop, "newest_first": True})]
        for k, seqs in self._blocks.items():
            if k > b:  # an older block: from its last row on
                gap = start - (self.count - k * self.BLOCK)
                ways.append((gap, {"after": seqs[-1], "offset": gap}))
            else:  # a newer block (full): back from its first row
                gap = self.count - (k + 1) * self.BLOCK - stop
                ways.append((gap, {"upto": seqs[0] - 1, "offset": gap, "newest_first": True}))
        kw = min(ways, key=lambda way: way[0])[1]
        n = stop - start
        try:
            seqs = self._file(self.found.seqs, limit=n, **kw)
        except sqlite3.Error as e:  # (the file damaged meanwhile): rows of no event, said; the list goes on
            log.warning("pixelspy: the session file could not list the filter's rows: %s", e)
            seqs = None
        if seqs is None or len(seqs) != n:
            self.drifted = True
            seqs = array("q", bytes(8 * n))  # (seq 0: no event, drawn as such until asked again)
        return seqs

    def before(self, seq: int) -> int:
        """How many of the rows come before `seq`."""
        if seq > self.found.upto:
            return self.count + bisect_left(self.newer, seq)
        if (n := self._before.get(seq)) is None:
            n = self._before[seq] = self._file(self.found.count, upto=seq - 1) or 0
        return n

    def extend(self, passing: list[int]) -> None:
        self.newer.extend(passing)


Seqs = range | array | FilterRows  # the seqs of the rows shown, ascending


class FileRows:
    """The oldest rows of a list on a session file: events memory let go, by seq, and the marks
    among them. The file numbers its events 1, 2, 3… as they come: the rows are a range of seqs
    (a million rows, no Python object each); a filter's, its FilterRows (empty: an array).
    A mark stands before the first row whose seq is at least its own."""

    def __init__(self) -> None:
        self.every = range(0)
        self._answer: array | FilterRows | None = None  # the filter's (None: no filter)
        self.marks: list[tuple[int, Mark]] = []  # (seq of the row after it, mark), in list order
        self._places: list[int] = []  # the marks' indexes among the rows shown

    @property
    def seqs(self) -> Seqs:
        """The seqs of the rows shown."""
        return self.every if self._answer is None else self._answer

    def __len__(self) -> int:
        return len(self.seqs) + len(self.marks)

    @property
    def events(self) -> int:
        return len(self.seqs)

    @property
    def after(self) -> int:
        """The seq before the first row (the file's answers are asked from there)."""
        return self.every.start - 1

    @property
    def upto(self) -> int:
        return self.every.stop - 1

    @property
    def drifted(self) -> bool:
        """The filter's rows read did not fit its count: to be asked again."""
        return isinstance(self._answer, FilterRows) and self._answer.drifted

    def show(self, answer: array | FilterRows | None) -> None:
        """The rows a filter lets through (None: every row)."""
        self._answer = answer
        self._place_marks()

    def extend(self, first: int, last: int, passing: list[int], marks: list[tuple[int, Mark]]) -> None:
        """Rows first…last, memory let go, moved here from the list's newer rows: those the filter
        lets through, and the marks among them."""
        self.every = range(self.every.start if self.every else first, last + 1)
        if self._answer is not None:
            self._answer.extend(passing)
        self.marks += marks
        self._place_marks()

    def add_marks(self, marks: list[tuple[int, Mark]]) -> None:
        self.marks = sorted(self.marks + marks, key=lambda m: m[0])  # (stable: a seq's marks stay in order)
        self._place_marks()

    def _place_marks(self) -> None:
        self._places = [self._before(at) + k for k, (at, _) in enumerate(self.marks)]

    def _before(self, seq: int) -> int:
        """How many rows shown come before `seq`."""
        seqs = self.seqs
        return seqs.before(seq) if isinstance(seqs, FilterRows) else bisect_left(seqs, seq)

    def __getitem__(self, index: int) -> int | Mark:
        """The row at `index`: a seq, or a mark."""
        k = bisect_left(self._places, index)
        if k < len(self._places) and self._places[k] == index:
            return self.marks[k][1]
        return self.seqs[index - k]

    def index(self, seq: int) -> int | None:
        """Where the row of `seq` is, if shown."""
        i = self._before(seq)
        if i == len(self.seqs) or self.seqs[i] != seq:
            return None
        return i + bisect_right([at for at, _ in self.marks], seq)

    def window(self, start: int, stop: int) -> list[int]:
        """The seqs of the rows in [start, stop)."""
        return [r for i in range(max(0, start), min(stop, len(self))) if type(r := self[i]) is int]

    def clear(self) -> None:
        self.every = range(0)
        self._answer = None
        self.marks, self._places = [], []


def answer_filter(cache: EventCache, query: dict, after: int, upto: int, newest: int, wanted: int | None,
                  stop: Callable[[], bool], answer: Callable[[array | FilterRows, Shown | None], None]) -> None:
    """(In a worker thread.) The session file's rows in (after, upto] passing `query` (arguments of
    queries.FileFilter.of), told to `answer(rows, shown)`: counted, the newest `newest` read with
    what they show (read ahead), and where the row of seq `wanted` is. SQLite lets the GIL go
    meanwhile; `stop()` true stops the count where it is (queries.Stopped), and nothing is told."""
    try:
        found = cache.file(queries.FileFilter.of, after=after, upto=upto, **query)
        if found is None:  # (the file closed)
            return answer(array("q"), None)
        rows = FilterRows(cache, found, _count(cache, found, query.get("words", ()), stop))
        seqs = [rows[i] for i in range(max(0, len(rows) - newest), len(rows))]
        if wanted is not None and (at := rows.before(wanted)) < len(rows):
            rows[at]  # (read: the list places its cursor there, if the row passes)
        shown = cache.read_ahead(array("q", seqs[-newest // 2:])) if seqs else None
    except queries.Stopped:
        return
    except sqlite3.Error as e:  # (the file damaged meanwhile): none of its rows, said; the list goes on
        log.warning("pixelspy: the session file could not answer the filter: %s", e)
        rows, shown = array("q"), None
    answer(rows, shown)


def _count(cache: EventCache, found: queries.FileFilter, words: list[str], stop: Callable[[], bool]) -> int:
    """How many rows pass. Without a full-text index words read every event: a range of seqs at a
    time, so that the writer's commits (same connection) come between."""
    if not cache.file(queries.scans_rows, words=words):
        return cache.file(found.count, stop=stop) or 0
    return sum(cache.file(found.count, after=start, upto=start + SCAN_ROWS, stop=stop) or 0
               for start in range(found.after, found.upto, SCAN_ROWS))
