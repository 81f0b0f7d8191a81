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
# Rows a scanned filter (ScanParts) is counted in at a time: a scan of the events' JSON for words in
# a file without a full-text index (3.2 s for a million at load 5, ≈ 13 ms a part; the writer
# commits between), or every row of a file whose seqs have gaps.
SCAN_ROWS = 4_096


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
        self._at: OrderedDict[int, TrackingEvent | None] = OrderedDict()  # (None: a row that cannot be read)
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
        """Read the events at `seqs` the cache does not hold, in one query (at most CACHED); a row
        that cannot be read is kept as None, not read again at each frame (a hostile file's 40 MB
        row: 0.3 s a read)."""
        missing = [s for s in seqs if s not in self._at][-self.CACHED:]
        found = self.file(reader.events_at, seqs=missing) if missing else None
        if found is None:
            return
        for seq in missing:
            self._keep(self._at, seq, found.get(seq))

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
        for seq in [s for s, ev in self._at.items() if ev is not None and ev.id == event_id]:
            del self._at[seq]

    def clear(self) -> None:
        self._read.clear()
        self._at.clear()
        self._hits.clear()


class ScanParts:
    """Where a scanned filter's rows are (its query reads every row: no index tells an offset): the
    file cut into parts of SCAN_ROWS rows as it was counted, the last seq of each and the rows that
    passed up to it. Rows k…k+n are then read from the parts that hold them, not from an end (a
    million rows: 16 bytes a part)."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.ends = array("q")
        self.passed = array("q")

    def add(self, end: int, passed: int) -> None:
        self.ends.append(end)
        self.passed.append(self.total + passed)

    @property
    def total(self) -> int:
        return self.passed[-1] if self.passed else 0

    def holding(self, start: int, stop: int) -> dict:
        """FileFilter.seqs's range and offset for rows start…stop (stop ≤ total)."""
        first, last = bisect_right(self.passed, start), bisect_left(self.passed, stop)
        after, skipped = (self.ends[first - 1], self.passed[first - 1]) if first else (self.after, 0)
        return {"after": after, "upto": self.ends[last], "offset": start - skipped}

    def before(self, seq: int) -> tuple[int, int]:
        """(the seq ending the part before `seq`'s, the rows that passed up to it)."""
        k = bisect_left(self.ends, seq)
        return (self.ends[k - 1], self.passed[k - 1]) if k else (self.after, 0)


# Marks whose places among a filter's rows are counted each (FilterRows.place); more: the rows listed.
FEW_PLACES = 16


class FilterRows:
    """A filter's rows of the session file (queries.FileFilter): how many, counted once, and their
    seqs read BLOCK at a time as the list shows them (blocks counted from the newest row back: the
    screenful at the end is one; a block from the nearest row known, either end or a block read,
    at an offset), the last BLOCKS read kept: a filter change costs its count and a screenful, not
    a list of its rows. Rows past its range that pass come by `extend` (the list's newer rows moved
    to the file's part).

    A scanned filter (`parts`) reads a block from the parts holding it: a block of rare rows may
    take seconds, so once `fetch` is set (the event loop's) a block not read is None until `put`
    (fetch(b) reads it off the event loop, one at a time, the newest wanted next)."""

    BLOCK = 256
    BLOCKS = 64

    def __init__(self, cache: EventCache, found: queries.FileFilter, count: int, parts: ScanParts | None = None) -> None:
        self._file, self.found, self.count, self.parts = cache.file, found, count, parts
        self._blocks: OrderedDict[int, array] = OrderedDict()
        self._before: dict[int, int] = {}
        self.newer = array("q")  # the seqs past found.upto that pass, ascending
        self.drifted = False  # a block read did not fit the count (an event's findings changed): ask again
        self.fetch: Callable[[int], None] | None = None
        self._wanted: int | None = None  # the block last wanted (fetch)
        self._fetching = False

    def __len__(self) -> int:
        return self.count + len(self.newer)

    def __getitem__(self, i: int) -> int | None:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        if i >= self.count:
            return self.newer[i - self.count]
        b, k = divmod(self.count - 1 - i, self.BLOCK)
        if (seqs := self._blocks.get(b)) is None:
            if self.fetch is not None:
                self._want(b)
                return None
            seqs = self._keep(b, self.read(b))
        else:
            self._blocks.move_to_end(b)
        return seqs[len(seqs) - 1 - k]

    def _keep(self, b: int, seqs: array) -> array:
        self._blocks[b] = seqs
        if len(self._blocks) > self.BLOCKS:
            self._blocks.popitem(last=False)
        return seqs

    def _want(self, b: int) -> None:
        self._wanted = b
        if not self._fetching:
            self._fetching = True
            self.fetch(b)

    def put(self, b: int, seqs: array) -> None:
        """(The event loop's.) Block `b` read by fetch; the block wanted since, if any, fetched next."""
        self._fetching = False
        self._keep(b, seqs)
        wanted, self._wanted = self._wanted, None
        if wanted is not None and wanted not in self._blocks:
            self._want(wanted)

    def read(self, b: int, stop: Callable[[], bool] | None = None) -> array:
        """Block `b` (rows count - (b + 1) × BLOCK … count - b × BLOCK), from the nearest row known:
        either end, or a block read (its seq bounds the query; SQLite steps over the rows between,
        in C); a scanned filter's, from the parts holding it. Rows of seq 0 where the file did not
        give them (drifted). `stop()` true stops the query (queries.Stopped)."""
        stop_row = self.count - b * self.BLOCK
        start = max(0, stop_row - self.BLOCK)
        n = stop_row - start
        try:
            seqs = self._file(self.found.seqs, limit=n, stop=stop, **self._way(b, start, stop_row))
        except (sqlite3.Error, OverflowError) as e:  # (the file damaged meanwhile): rows of no event, said
            log.warning("pixelspy: the session file could not list the filter's rows: %s", e)
            seqs = None
        if seqs is None or len(seqs) != n:
            self.drifted = True
            seqs = array("q", bytes(8 * n))  # (seq 0: no event, drawn as such until asked again)
        return seqs

    def _way(self, b: int, start: int, stop: int) -> dict:
        """FileFilter.seqs's range, offset and end to count from, for block `b`: rows start…stop."""
        if self.parts is not None:
            return self.parts.holding(start, stop)
        ways = [(start, {"offset": start}), (self.count - stop, {"offset": self.count - stop, "newest_first": True})]
        for k, seqs in list(self._blocks.items()):  # (a copy: fetch reads in a thread)
            if k > b:  # an older block: from its last row on
                gap = start - (self.count - k * self.BLOCK)
                ways.append((gap, {"after": seqs[-1], "offset": gap}))
            else:  # a newer block (full): back from its first row
                gap = self.count - (k + 1) * self.BLOCK - stop
                ways.append((gap, {"upto": seqs[0] - 1, "offset": gap, "newest_first": True}))
        return min(ways, key=lambda way: way[0])[1]

    def before(self, seq: int) -> int:
        """How many of the rows come before `seq` (a scanned filter: those of the parts before its,
        and its part's counted, SCAN_ROWS rows at most)."""
        if seq > self.found.upto:
            return self.count + bisect_left(self.newer, seq)
        if (n := self._before.get(seq)) is None:
            after, n = self.parts.before(seq) if self.parts is not None else (None, 0)
            n = self._before[seq] = n + (self._file(self.found.count, after=after, upto=seq - 1) or 0)
        return n

    def place(self, seqs: list[int], stop: Callable[[], bool] | None = None) -> None:
        """(In a worker thread.) How many rows come before each of `seqs` (the marks': FileRows
        places them at each change), ahead: a count each for a few, one listing of the rows, bisected,
        for more (10,000 marks: one query, not 10,000 on the event loop)."""
        wanted = sorted({s for s in seqs if s <= self.found.upto} - self._before.keys())
        if len(wanted) <= FEW_PLACES:
            for seq in wanted:
                self.before(seq)
            return
        every = self._file(self.found.seqs, stop=stop)
        if every is not None:
            self._before.update((seq, bisect_left(every, seq)) for seq in wanted)

    def holds(self, i: int, seq: int) -> bool:
        """Whether row `i` is `seq` (before(seq) == i), read or not."""
        row = self[i]
        return row == seq if row is not None else self.before(seq + 1) == i + 1

    def extend(self, passing: list[int]) -> None:
        self.newer.extend(passing)


Seqs = range | array | FilterRows  # the seqs of the rows shown, ascending


class FileRows:
    """The oldest rows of a list on a session file: events memory let go, by seq, and the marks
    among them. pixelspy numbers a file's events 1, 2, 3… as they come: the rows are a range of
    seqs (a million rows, no Python object each); a filter's, its FilterRows (empty: an array).
    A file whose seqs have gaps (`gapped`: hand-edited, hostile) shows its rows as the answer of a
    filter of none (set by the list; none until it comes). A mark stands before the first row whose
    seq is at least its own."""

    def __init__(self) -> None:
        self.every = range(0)  # the seqs of the rows (gapped: the range they are in)
        self.gapped = False
        self._answer: array | FilterRows | None = None  # the filter's (None: no filter)
        self.marks: list[tuple[int, Mark]] = []  # (seq of the row after it, mark), in list order
        self._places: list[int] = []  # the marks' indexes among the rows shown

    @property
    def seqs(self) -> Seqs:
        """The seqs of the rows shown."""
        if self._answer is not None:
            return self._answer
        return array("q") if self.gapped else self.every

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
        # (A seq's marks in time order: a file's, placed in a worker, may come after one made live.)
        self.marks = sorted(self.marks + marks, key=lambda m: (m[0], m[1].time))
        self._place_marks()

    def _place_marks(self) -> None:
        self._places = [self._before(at) + k for k, (at, _) in enumerate(self.marks)]

    def _before(self, seq: int) -> int:
        """How many rows shown come before `seq`."""
        seqs = self.seqs
        return seqs.before(seq) if isinstance(seqs, FilterRows) else bisect_left(seqs, seq)

    def __getitem__(self, index: int) -> int | Mark | None:
        """The row at `index`: a seq, or a mark (None: a row being read, FilterRows.fetch)."""
        k = bisect_left(self._places, index)
        if k < len(self._places) and self._places[k] == index:
            return self.marks[k][1]
        return self.seqs[index - k]

    def index(self, seq: int) -> int | None:
        """Where the row of `seq` is, if shown."""
        i, seqs = self._before(seq), self.seqs
        if i == len(seqs) or not (seqs.holds(i, seq) if isinstance(seqs, FilterRows) else seqs[i] == seq):
            return None
        return i + bisect_right([at for at, _ in self.marks], seq)

    def window(self, start: int, stop: int) -> list[int]:
        """The seqs of the rows in [start, stop)."""
        return [r for i in range(max(0, start), min(stop, len(self))) if type(r := self[i]) is int]

    def clear(self) -> None:
        self.every = range(0)
        self.gapped = False
        self._answer = None
        self.marks, self._places = [], []


def answer_filter(cache: EventCache, query: dict, after: int, upto: int, newest: int, wanted: int | None,
                  stop: Callable[[], bool], answer: Callable[[array | FilterRows, Shown | None], None],
                  gapless: bool = False, marks: list[int] = ()) -> None:
    """(In a worker thread.) The session file's rows in (after, upto] passing `query` (arguments of
    queries.FileFilter.of), told to `answer(rows, shown)`: counted, the newest `newest` read with
    what they show (read ahead), and where the row of seq `wanted` is. SQLite lets the GIL go
    meanwhile; `stop()` true stops the count where it is (queries.Stopped), and nothing is told.
    (`gapless`: every seq of (after, upto] is a row: FileRows; `marks`: seqs whose places are
    asked, FilterRows.place.)"""
    try:
        found = cache.file(queries.FileFilter.of, after=after, upto=upto, gapless=gapless, **query)
        if found is None:  # (the file closed)
            return answer(array("q"), None)
        rows = FilterRows(cache, found, *_count(cache, found, query, stop))
        seqs = [rows[i] for i in range(max(0, len(rows) - newest), len(rows))]
        if wanted is not None and (at := rows.before(wanted)) < len(rows):
            rows[at]  # (read: the list places its cursor there, if the row passes)
        rows.place(marks, stop)
        shown = cache.read_ahead(array("q", seqs[-newest // 2:])) if seqs else None
    except queries.Stopped:
        return
    except (sqlite3.Error, OverflowError) as e:  # (the file damaged meanwhile): none of its rows, said
        log.warning("pixelspy: the session file could not answer the filter: %s", e)
        rows, shown = array("q"), None
    answer(rows, shown)


def _count(cache: EventCache, found: queries.FileFilter, query: dict,
           stop: Callable[[], bool]) -> tuple[int, ScanParts | None]:
    """How many rows pass, and where (ScanParts) when its query reads every row: words without a
    full-text index, or no condition (every row of a file whose seqs have gaps), counted SCAN_ROWS
    rows at a time (so that the writer's commits, same connection, come between; the parts' ends
    stepped through a file whose seqs have gaps)."""
    if query and not cache.file(queries.scans_rows, words=query.get("words", ())):
        return cache.file(found.count, stop=stop) or 0, None
    parts = ScanParts(found.after)
    after = found.after
    while after < found.upto:
        end = min(after + SCAN_ROWS, found.upto) if found.gapless else \
            cache.file(reader.nth_seq, after=after, upto=found.upto, n=SCAN_ROWS)
        if end is None:  # (the file closed)
            break
        parts.add(end, cache.file(found.count, after=after, upto=end, stop=stop) or 0)
        after = end
    return parts.total, parts
