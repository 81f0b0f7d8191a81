"""The live event table: a Line-API list that renders only visible rows. With a session file its
rows are the file's (by seq, read a screenful at a time, filtered by indexed queries off the event
loop: a million rows) but for the newest, not committed yet; without one, the events in memory.

How a row looks is in cells.py, the file's rows and the cache of events read back in file_rows.py.
Why ≈ 600 lines still: EventList is one widget whose state (the rows of memory and of the file, the
cursor, the filter and the file's answer still to come) every method reads and changes."""

from __future__ import annotations

import logging
import sqlite3
import time
from array import array
from collections.abc import Callable
from functools import partial

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import get_current_worker

from pixelspy.inert import inert
from pixelspy.model import Kind, TrackingEvent
from pixelspy.session import Mark
from pixelspy.store import queries, reader
from pixelspy.tui.cells import PLATFORM_COLORS, clock, event_title, findings_cell, fit
from pixelspy.tui.file_rows import EventCache, FileRows, FilterRows, Shown, answer_filter

log = logging.getLogger("pixelspy")
Row = str | Mark  # an event id, or a divider
FLUSH_S = 1 / 30
EventFilter = Callable[[str], bool]  # on event ids
FileQuery = dict  # a filter as arguments of pixelspy.store.queries.FileFilter.of (the file's rows)
FILE_WORKERS = "file-filter"  # the worker threads reading the file's answer to a filter
MARK_WORKERS = "file-marks"  # the worker threads placing marks among the file's rows
# Marks are placed among the file's rows on the event loop when their bisections ask this many seqs
# at most (reader.most_probes: one made live, ≤ 65; a file's 10,000 among 1,000 rows, ≈ 2,000: ≈ 3 ms);
# more in a worker (10,000 among a million rows: ≈ 86,000, 0.35 s), shown once placed (a worker's
# start and the frame drawn again cost more than a few ms of placing: ≈ 15 ms and more).
PROBES_ON_LOOP = 5_000
# Rows looked up in the file at a time (the app's tick: a live session's half second, or a file's
# events in memory when the list starts).
LET_GO_ROWS = 100_000


class EventList(ScrollView, can_focus=True):
    """Rows of events (and marks); the cursor row is the selected event."""

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor(-20)", "Page up", show=False),
        Binding("pagedown", "cursor(20)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end,G", "last", "Newest", show=False),
    ]
    COMPONENT_CLASSES = {"event-list--cursor", "event-list--mark", "event-list--header", "event-list--dim"}
    DEFAULT_CSS = """
    EventList { background: $surface; }
    EventList > .event-list--cursor { background: $accent 40%; text-style: bold; }
    EventList:focus > .event-list--cursor { background: $accent 70%; }
    EventList > .event-list--mark { color: $warning; text-style: bold; }
    EventList > .event-list--dim { color: $text-muted; }
    """

    cursor: reactive[int] = reactive(-1, always_update=True)
    relative_time: reactive[bool] = reactive(False)

    class Selected(Message):
        def __init__(self, event_id: str | None) -> None:
            self.event_id = event_id
            super().__init__()

    class Filtered(Message):
        """The session file answered the filter: its rows are listed."""

    class FileAnswer(Message, bubble=False):
        """(From the worker thread.) The session file's answer to a filter: see _file_answered."""

        def __init__(self, query: FileQuery, rows: array | FilterRows, shown: Shown | None) -> None:
            self.query, self.rows, self.shown = query, rows, shown
            super().__init__()

    class MarksPlaced(Message, bubble=False):
        """(From a worker thread.) Where marks stand among the file's rows: the seq of the row after
        each (reader.placed), and their places among `rows`' (a filter's answer) found."""

        def __init__(self, marks: list[Mark], seqs: list[int], rows: object) -> None:
            self.marks, self.seqs, self.rows = marks, seqs, rows
            super().__init__()

    class RowsRead(Message, bubble=False):
        """(From a worker thread.) A block of a scanned filter's rows, read (FilterRows.fetch)."""

        def __init__(self, rows: FilterRows, block: int, seqs: array) -> None:
            self.rows, self.block, self.seqs = rows, block, seqs
            super().__init__()

    def __init__(self, lookup: EventCache, device_name: Callable[[str], str], **kw) -> None:
        super().__init__(**kw)
        self._lookup = lookup
        self._device_name = device_name
        # The rows a session file holds (all but the last moment's): by seq, read from the file.
        self._file = FileRows()
        self._order: list[Row] = []  # the newer rows (every row without a session file), in arrival order
        self._rows: list[Row] = []  # what the filter lets through
        self._shown: set[str] = set()  # the event ids in _rows
        self._filter: EventFilter | None = None
        self._file_query: FileQuery | None = None
        self._wanted: int | str | None = None  # the row selected when the filter changed
        self.file_pending = False  # the file's answer to the filter is being read (off the event loop)
        self._stale = False  # an event of the file's part changed since the file answered the filter
        self.follow = True  # keep the newest row selected until the user moves away
        self._selected_key: str | int | None = None  # the row last told as Selected
        self.empty_hint: list[str] = []  # shown until the first row: how to get events here
        self._flush_pending = False
        self._unplaced: list[list[Mark]] = []  # marks being placed among the file's rows (MarksPlaced)
        self.start_time = time.time()

    # ------------------------------------------------------------------ data

    @property
    def row_count(self) -> int:
        return len(self._file) + len(self._rows)

    def _row(self, index: int) -> Row | int | None:
        """The row at `index`: an event id, a seq of the session file, or a mark (None: a row of the
        file being read)."""
        split = len(self._file)
        return self._file[index] if index < split else self._rows[index - split]

    def _row_key(self, index: int) -> str | int | None:
        """What identifies the row at `index` across filters: its id or seq (None: a mark, none)."""
        row = self._row(index) if 0 <= index < self.row_count else None
        return row if type(row) is str or type(row) is int else None

    @property
    def selected_id(self) -> str | None:
        key = self._row_key(self.cursor)
        if type(key) is int:
            ev = self._event_at(key, self.cursor)  # (its place known: not looked up by seq)
            return ev.id if ev is not None else None
        return key

    @property
    def event_count(self) -> int:
        """The events listed (rows without the marks)."""
        return self._file.events + len(self._shown)

    def visible_ids(self) -> list[str]:
        """The ids of the rows listed after those of the session file."""
        return [r for r in self._rows if isinstance(r, str)]

    def add(self, event_id: str) -> None:
        self._order.append(event_id)
        if self._passes(event_id):
            self._rows.append(event_id)
            self._shown.add(event_id)
            # At hundreds of events a second, resize and move the cursor once per frame, not per row.
            if not self._flush_pending:
                self._flush_pending = True
                self.set_timer(FLUSH_S, self._flush)

    def open_file(self) -> None:
        """List the events the session file holds (a session file continued or reopened: more
        than memory holds): by seq, read as the rows are shown."""
        first = next((r for r in self._order if type(r) is str), None)
        file = self._lookup.file
        start = file(reader.first_seq) or 1
        self._file.gapped = file(reader.seq_run) is None  # (hand-edited, hostile: its rows are asked for)
        if first is not None:
            upto = (file(reader.seqs_of, ids=[first]) or {}).get(first, start) - 1
        else:
            upto = file(reader.last_seq) or 0
        if upto >= start:
            self._file.extend(start, upto, [], [])
        self.set_filter(self._filter, self._file_query)  # (the rows in memory follow: let_go)

    def let_go(self) -> None:
        """Move the rows whose events the session file holds (committed) to its part, by seq: a
        filter is then one indexed query, off the event loop, whatever the list holds, and the list
        keeps no string per row. Rows not committed yet wait for the next call (the app's tick).
        A filter's answer that went stale (an event changed) is asked again."""
        if self.file_pending or self._lookup.session.store is None:
            return
        ids = [r for r in self._order if type(r) is str][:LET_GO_ROWS]
        found = self._lookup.file(reader.seqs_of, ids=ids) if ids else None
        if found:
            self._move_to_file(found)
        if (self._stale or self._file.drifted) and self._file_query is not None and self._file.every:
            self._ask_file_again()

    def _move_to_file(self, found: dict[str, int]) -> None:
        order = self._order
        passing, marks, waiting = [], [], []
        first, last = None, self._file.upto if self._file.every else None
        n = 0
        for row in order:
            if type(row) is Mark:
                waiting.append(row)
                continue
            seq = found.get(row)
            if seq is None or (last is not None and seq != last + 1):  # not in the file (yet): stays
                break
            first = seq if first is None else first
            if row in self._shown:
                passing.append(seq)
            marks += [(seq, m) for m in waiting]
            n += 1 + len(waiting)
            waiting, last = [], seq
        if not n:
            return
        moved = set(order[:n])
        del order[:n]
        listed = 0
        while listed < len(self._rows) and self._rows[listed] in moved:
            listed += 1
        del self._rows[:listed]
        self._shown.difference_update(r for r in moved if type(r) is str)
        self._file.extend(first, last, passing, marks)  # the rows keep their indexes: no redraw
        self._lookup.remember_at({seq: r for r, seq in found.items() if r in moved})

    def add_marks(self, marks: list[Mark]) -> None:
        """Insert marks among the rows in time order: before the first row later than each (one pass,
        so a file's thousands of marks cost one walk of the list)."""
        waiting = sorted(marks, key=lambda m: m.time)
        if self._file.every:
            waiting = self._file_marks(waiting)
            if not waiting:
                self._refilter()
                return
        if not self._order or waiting[0].time >= self._row_time(self._order[-1]):
            # Marks made live come after every row: no walk (rows of a session file are read back).
            self._order += waiting
            self._rows += waiting
            self._resize()
            self.refresh()
            return
        order: list[Row] = []
        i = 0
        for row in self._order:
            t = self._row_time(row)
            while i < len(waiting) and waiting[i].time < t:
                order.append(waiting[i])
                i += 1
            order.append(row)
        self._order = order + waiting[i:]
        self._refilter()

    def _file_marks(self, marks: list[Mark]) -> list[Mark]:
        """Put the marks earlier than the newer rows among the session file's (at once when it is
        quick, in a worker otherwise: _place_marks); the others are left."""
        first = next((r for r in self._order if type(r) is str), None)
        newer = self._row_time(first) if first is not None else float("inf")
        older = [m for m in marks if m.time < newer]
        after, upto = self._file.after, self._file.upto
        if reader.most_probes(after, upto, len(older)) > PROBES_ON_LOOP:
            self._place_in_worker(older, None, after, upto)
        elif older:  # (one read of the file: the writer's commits wait the few ms, not the list for theirs)
            seqs = self._lookup.file(reader.seqs_after, times=[m.time for m in older], after=after,
                                     upto=upto) or [upto + 1] * len(older)
            if isinstance(self._file.seqs, FilterRows):  # (their places among its rows: a count each)
                self._place_in_worker(older, seqs, after, upto)
            else:
                self._file.add_marks(list(zip(seqs, older)))
        return [m for m in marks if m.time >= newer]

    def _place_in_worker(self, marks: list[Mark], seqs: list[int] | None, after: int, upto: int) -> None:
        """_place_marks in a worker; the marks are shown once placed (MarksPlaced)."""
        if not any(batch is marks for batch in self._unplaced):
            self._unplaced.append(marks)
        self.run_worker(partial(self._place_marks, marks, seqs, after, upto),
                        thread=True, group=MARK_WORKERS, exit_on_error=False)

    def _place_marks(self, marks: list[Mark], seqs: list[int] | None, after: int, upto: int) -> None:
        """(In a worker thread.) Where the marks stand among the file's rows (rows moved to the
        file's part meanwhile, let_go, were newer than the marks: those after `upto` stand before
        them), and among a filter's rows shown, FilterRows.place."""
        def times_from(seqs: list[int]) -> dict[int, float]:  # (the file closed: none; after all)
            return self._lookup.file(reader.times_from, seqs=seqs) or {}

        rows = self._file.seqs
        try:  # (each query apart: the writer commits between)
            seqs = seqs or reader.placed([m.time for m in marks], after, upto, times_from)
            if isinstance(rows, FilterRows):
                rows.place(seqs)
        except (sqlite3.Error, OverflowError) as e:  # (the file damaged meanwhile): after its rows, said
            log.warning("pixelspy: the session file could not place the marks: %s", e)
            seqs = seqs or [upto + 1] * len(marks)
        self.post_message(self.MarksPlaced(marks, seqs, rows))

    def on_event_list_marks_placed(self, message: MarksPlaced) -> None:
        """Marks placed (those of a list cleared since are not). A filter's rows shown since, or
        asked, place them too, off the event loop: the worker again, or the filter asked again."""
        if not any(batch is message.marks for batch in self._unplaced):
            return
        rows = self._file.seqs
        if isinstance(rows, FilterRows) and rows is not message.rows:
            self._place_in_worker(message.marks, message.seqs, 0, 0)
            return
        self._unplaced = [batch for batch in self._unplaced if batch is not message.marks]
        self._file.add_marks(list(zip(message.seqs, message.marks)))
        if self.file_pending:  # (its answer would place them on the event loop: asked with them)
            self.workers.cancel_group(self, FILE_WORKERS)
            self._ask(self._file_query)
            return
        self._refilter()

    def _row_time(self, row: Row) -> float:
        if isinstance(row, Mark):
            return row.time
        ev = self._lookup(row)
        return ev.time if ev is not None else float("-inf")  # evicted: among the oldest

    def _flush(self) -> None:
        self._flush_pending = False
        self._resize()
        if self.follow:
            self.cursor = self.row_count - 1
        else:
            self.refresh()

    def changed(self, event_id: str) -> None:
        """An event already listed got new findings or twins: redraw; re-filter if it now passes
        (or no longer does): a newer row at once, a row of the file's part with the next tick."""
        if self._filter is None:
            pass
        elif self._file.every and event_id not in self._order:
            self._stale = True
        elif (event_id in self._shown) != self._filter(event_id):
            self._refilter()
            return
        self.refresh()

    def clear(self) -> None:
        self.workers.cancel_group(self, FILE_WORKERS)
        self.workers.cancel_group(self, MARK_WORKERS)
        self._unplaced.clear()
        self.file_pending = False
        self._file.clear()
        self._order.clear()
        self._rows.clear()
        self._shown.clear()
        self.follow = True
        self.cursor = -1
        self._resize()

    def set_filter(self, flt: EventFilter | None, file_query: FileQuery | None = None) -> None:
        """Filter the rows: `flt` on the newer rows' ids, and for the session file's, `file_query`
        (queries.FileFilter.of's arguments; None: it lets none through), answered off the event loop:
        the rows shown stay until its count and newest screenful come (its other rows are read as
        they are shown); an older question's query is stopped, its answer dropped."""
        self.let_go()
        self._wanted = self._row_key(self.cursor)
        if flt is None and self._file.gapped:
            file_query = {}  # (a file whose seqs have gaps: its rows are the answer of a filter of none)
        self._filter, self._file_query = flt, file_query
        self.workers.cancel_group(self, FILE_WORKERS)
        self.file_pending = False
        if (flt is not None or self._file.gapped) and file_query is not None and self._file.every:
            self._ask(file_query)
            return
        self._file.show(None if flt is None else array("q"))
        self._refilter(self._wanted)

    def _ask(self, query: FileQuery) -> None:
        self._stale = False
        self.file_pending = True
        wanted = self._wanted if type(self._wanted) is int and not self.follow else None
        ask = partial(self._ask_file, query, self._file.after, self._file.upto, 2 * self.size.height, wanted,
                      [at for at, _ in self._file.marks])
        self.run_worker(ask, thread=True, group=FILE_WORKERS, exit_on_error=False)

    def _ask_file_again(self) -> None:
        """The same filter's answer again (an event changed): the rows shown stay until it comes."""
        self._wanted = self._row_key(self.cursor)
        self._ask(self._file_query)

    def _ask_file(self, query: FileQuery, after: int, upto: int, newest: int, wanted: int | None,
                  marks: list[int]) -> None:
        """(In a worker thread.) The file's rows passing `query` (file_rows.answer_filter); a newer
        filter cancels the worker, which stops the query."""
        worker = get_current_worker()

        def answer(rows: array | FilterRows, shown: Shown | None) -> None:
            if not worker.is_cancelled:
                self.post_message(self.FileAnswer(query, rows, shown))

        answer_filter(self._lookup, query, after, upto, newest, wanted, lambda: worker.is_cancelled, answer,
                      gapless=not self._file.gapped, marks=marks)

    def on_event_list_file_answer(self, message: FileAnswer) -> None:
        self._file_answered(message.query, message.rows, message.shown)

    def _file_answered(self, query: FileQuery, rows: array | FilterRows, shown: Shown | None) -> None:
        """The file's answer listed (its count, its rows read as they are shown), with the newer rows
        filtered now too; `shown`: what its newest rows show, read already (read_ahead)."""
        if query is not self._file_query or not self.file_pending:
            return  # a newer filter asked since
        if shown is not None:
            self._lookup.keep_at(*shown)
        self.file_pending = False
        keep = self._wanted if self._row_key(self.cursor) is None or type(self._wanted) is int \
            else self._row_key(self.cursor)
        if isinstance(rows, FilterRows) and rows.parts is not None:  # (a scanned filter: read off the event loop)
            rows.fetch = partial(self._fetch_rows, rows)
        self._file.show(rows)
        self._refilter(keep)
        self.post_message(self.Filtered())

    def _fetch_rows(self, rows: FilterRows, block: int) -> None:
        self.run_worker(partial(self._read_rows, rows, block), thread=True, group=FILE_WORKERS, exit_on_error=False)

    def _read_rows(self, rows: FilterRows, block: int) -> None:
        """(In a worker thread.) A block of a scanned filter's rows; a newer filter cancels the
        worker, which stops the query."""
        worker = get_current_worker()
        try:
            seqs = rows.read(block, stop=lambda: worker.is_cancelled)
        except queries.Stopped:
            return
        self.post_message(self.RowsRead(rows, block, seqs))

    def on_event_list_rows_read(self, message: RowsRead) -> None:
        message.rows.put(message.block, message.seqs)
        if message.rows is self._file.seqs:
            self.cursor = self.cursor  # (drawn again; the selected row told, now that it is known)

    def _refilter(self, keep: str | int | None = None) -> None:
        """Filter the newer rows again (the file's part keeps its answer)."""
        keep = keep if keep is not None else self._row_key(self.cursor)
        flt = self._filter
        self._rows = list(self._order) if flt is None else [r for r in self._order if type(r) is Mark or flt(r)]
        self._shown = {r for r in self._rows if type(r) is str}
        self._place_cursor(keep)

    def _place_cursor(self, keep: str | int | None) -> None:
        self._resize()
        index = self._index_of(keep) if keep is not None and not self.follow else None
        self.cursor = index if index is not None else self.row_count - 1
        self.refresh()

    def _index_of(self, key: str | int) -> int | None:
        if type(key) is int:
            return self._file.index(key)
        if key in self._shown:
            return len(self._file) + self._rows.index(key)
        return None

    def select_event(self, event_id: str) -> bool:
        index = self._index_of(event_id)
        if index is None and self._file.events:
            seq = (self._lookup.file(reader.seqs_of, ids=[event_id]) or {}).get(event_id)
            index = self._file.index(seq) if seq is not None else None
        if index is None:
            return False
        self.follow = False
        self.cursor = index
        return True

    def _passes(self, event_id: str) -> bool:
        return self._filter is None or self._filter(event_id)

    def _resize(self) -> None:
        size = Size(self.size.width, self.row_count + 1)  # + the header line
        height = self.size.height
        if not height or size.width != self.virtual_size.width or min(size.height, self.virtual_size.height) <= height:
            self.virtual_size = size  # (not laid out yet, or the scrollbar may come or go: the screen's layout)
            return
        # More rows than fit, before and after (a filter's answer, rows coming): the scrollbar's
        # thumb alone changes. (Setting virtual_size lays the whole screen out again: ≈ 10–25 ms a
        # time, twice a filter change.)
        self.set_reactive(EventList.virtual_size, size)
        self.vertical_scrollbar.window_virtual_size = size.height
        self.vertical_scrollbar.refresh()
        self.scroll_y = self.validate_scroll_y(self.scroll_y)
        self.refresh()

    def _event_at(self, seq: int, index: int) -> TrackingEvent | None:
        """The event of the file's row `seq` at `index`; a miss reads it with the screenful of rows
        from there, in one query (rows are drawn from the top: the first miss is the top one)."""
        ev = self._lookup.at(seq)
        if ev is None:
            self._lookup.read_at([seq, *self._file.window(index, index + self.size.height)])
            ev = self._lookup.at(seq)
        return ev

    # ------------------------------------------------------------------ cursor

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, self.row_count - 1)) if self.row_count else -1

    def watch_cursor(self, old: int, new: int) -> None:
        self.scroll_to_region_row(new)
        self.refresh()
        # A filter's answer coming (its newest rows, then all) moves the cursor, not the selection:
        # the detail pane is drawn again only for another row.
        if (key := self._row_key(new)) != self._selected_key or key is None:
            self._selected_key = key
            self.post_message(self.Selected(self.selected_id))

    def watch_relative_time(self) -> None:
        self.refresh()

    def scroll_to_region_row(self, row: int) -> None:
        if row < 0:
            return
        top = int(self.scroll_offset.y)
        height = max(1, self.size.height - 1)  # minus the header line
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False)

    def action_cursor(self, delta: int) -> None:
        self.cursor = max(0, self.cursor + int(delta))
        self.follow = self.cursor >= self.row_count - 1

    def action_first(self) -> None:
        self.follow = False
        self.cursor = 0

    def action_last(self) -> None:
        self.follow = True
        self.cursor = self.row_count - 1

    def on_click(self, event) -> None:
        row = int(self.scroll_offset.y) + event.y - 1
        if 0 <= row < self.row_count:
            self.follow = row == self.row_count - 1
            self.cursor = row

    # ------------------------------------------------------------------ rendering

    def columns(self) -> list[tuple[str, int]]:
        """(name, width) of each column for the current width; narrow terminals drop columns."""
        width = self.scrollable_content_region.width or 80  # (without the scrollbar)
        cols = [("time", 12), ("platform", 9), ("source", 7), ("device", 24 if width >= 130 else 16),
                ("pixel", 21 if width >= 130 else 17),
                ("event", 0), ("value", 13), ("findings", 8)]
        drop_order = ["device", "source", "value"]
        fixed = lambda cs: sum(w + 1 for _, w in cs)  # noqa: E731
        while fixed(cols) + 14 > width and drop_order:
            name = drop_order.pop(0)
            cols = [c for c in cols if c[0] != name]
        event_w = max(8, width - fixed(cols))
        return [(n, event_w if n == "event" else w) for n, w in cols]

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            header = " ".join(fit(name.upper(), w) for name, w in self.columns())
            return Strip([Segment(fit(header, width), self.get_component_rich_style("event-list--header")
                                  + Style(bold=True, underline=True))])
        index = int(self.scroll_offset.y) + y - 1
        if not self._order and not self._file.every and index < len(self.empty_hint):
            style = self.rich_style + self.get_component_rich_style("event-list--dim")
            return Strip([Segment(fit(" " + self.empty_hint[index], width), style)])
        if index >= self.row_count:
            return Strip.blank(width)
        row = self._row(index)
        base = self.rich_style
        if index == self.cursor:
            base = base + self.get_component_rich_style("event-list--cursor")
        if row is None:
            return Strip([Segment(fit("…", width), base + self.get_component_rich_style("event-list--dim"))])
        if isinstance(row, Mark):
            text = f"──── {self._time(row.time)}  {inert(row.label)} ────"
            style = base + self.get_component_rich_style("event-list--mark")
            return Strip([Segment(fit(text, width), style)])
        ev = self._event_at(row, index) if type(row) is int else self._lookup(row)
        if ev is None:
            return Strip([Segment(fit("(evicted)", width), base)])
        segments: list[Segment] = []
        for name, w in self.columns():
            text, style = self._cell(name, ev, w)
            segments.append(Segment(fit(inert(text), w), base + style if style else base))
            segments.append(Segment(" ", base))
        strip = Strip(segments)
        return strip.crop(0, width).extend_cell_length(width, base)

    def _time(self, t: float) -> str:
        if self.relative_time:
            return f"+{t - self.start_time:9.3f}s"
        return clock(t)

    def _cell(self, name: str, ev: TrackingEvent, width: int) -> tuple[str, Style | None]:
        if name == "time":
            return self._time(ev.time), None
        if name == "platform":
            return ev.platform, Style(color=PLATFORM_COLORS.get(ev.platform), bold=True)
        if name == "source":
            return ev.source.value, None
        if name == "device":
            return self._device_name(ev.device), None
        if name == "pixel":
            return ev.pixel_id or "-", None
        if name == "event":
            dim = ev.kind == Kind.pixel_loaded
            return event_title(ev, width), Style(dim=True, italic=True) if dim else None
        if name == "value":
            return " ".join(x for x in (ev.value, ev.currency) if x), None
        if name == "findings":
            return findings_cell(ev)
        return "", None
