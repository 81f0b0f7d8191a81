"""The live event table: a Line-API list that renders only visible rows (smooth at 100k events)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from pixelspy.inert import inert
from pixelspy.model import Kind, Severity, TrackingEvent
from pixelspy.session import Mark, Session

PLATFORM_COLORS = {
    "meta": "#4f8cff", "tiktok": "#ff3b8d", "pinterest": "#e60023", "linkedin": "#2d9cdb",
    # Mid tones, readable on the dark and the light themes.
    "x": "#8c8c8c", "google": "#34a853", "snapchat": "#c9a400", "reddit": "#ff5700",
}
SEVERITY_COLORS = {Severity.error: "#e5484d", Severity.warning: "#d99a00", Severity.info: "#6fa8dc"}


Row = str | Mark  # an event id, or a divider
FLUSH_S = 1 / 30
EventFilter = Callable[[str], bool]  # on event ids


class EventCache:
    """An event by id for the list's rows: from the session's memory, else (evicted, a session file
    recording) read back from the file and kept among the last CACHED read, so that redrawing a
    window of old rows reads the file once."""

    CACHED = 512

    def __init__(self, session: Session) -> None:
        self.session = session
        self._read: OrderedDict[str, TrackingEvent] = OrderedDict()

    def __call__(self, event_id: str) -> TrackingEvent | None:
        ev = self.session.get(event_id)
        if ev is not None or self.session.store is None:
            return ev
        if (ev := self._read.get(event_id)) is not None:
            self._read.move_to_end(event_id)
            return ev
        ev = self.session.event(event_id)
        if ev is not None:
            self._read[event_id] = ev
            if len(self._read) > self.CACHED:
                self._read.popitem(last=False)
        return ev

    def forget(self, event_id: str) -> None:
        """The event changed (new findings): read it again."""
        self._read.pop(event_id, None)

    def clear(self) -> None:
        self._read.clear()


class FileBackedFilter:
    """A filter on a list whose oldest rows are events memory let go: `in_memory` on the events
    whose search text `texts` holds, and for the others the ids the session file matched."""

    def __init__(self, in_memory: EventFilter, texts: dict[str, str], stored: set[str]) -> None:
        self.in_memory = in_memory
        self.texts = texts
        self.stored = stored

    def __call__(self, event_id: str) -> bool:
        return self.in_memory(event_id) if event_id in self.texts else event_id in self.stored

    def select(self, order: list[Row]) -> list[Row]:
        """The rows of `order` it lets through. The rows before the oldest event in memory are
        looked up in the file's answer alone (a set lookup each, no call: a million of them)."""
        try:
            split = order.index(next(iter(self.texts)))
        except (StopIteration, ValueError):
            split = 0
        stored = self.stored
        return ([r for r in order[:split] if type(r) is Mark or r in stored]
                + [r for r in order[split:] if type(r) is Mark or self(r)])


def fit(text: str, width: int) -> str:
    """`text` cropped (with an ellipsis) or padded to `width` terminal cells: wide characters (CJK,
    emoji) take two, combining marks none."""
    if width <= 0:
        return ""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


def severity_counts(ev: TrackingEvent) -> dict[Severity, int]:
    counts = {s: 0 for s in Severity}
    for f in ev.findings:
        counts[f.severity] += 1
    return counts


def event_title(ev: TrackingEvent, width: int) -> str:
    """The event's title (made inert) in `width` cells: when it is too long, the vendor's name is
    cut, not the standard name after its arrow."""
    twins = f" ×{1 + len(ev.twins)}" if ev.twins else ""
    title = inert(ev.title)
    if cell_len(title) + len(twins) <= width or not (ev.standard_event and " → " in title):
        return title + twins
    name, arrow, standard = title.rpartition(" → ")
    keep = width - cell_len(arrow + standard + twins)
    return (fit(name, keep) + arrow if keep >= 2 else "") + standard + twins


FINDING_SLOT = 4  # cells for the errors badge: the warnings badges after it line up down the column


def findings_cell(ev: TrackingEvent) -> tuple[str, Style]:
    """`✖ 2 ⚠ 1`: errors in the first slot, warnings in the second, so the counts align."""
    counts = severity_counts(ev)
    errors, warnings = counts[Severity.error], counts[Severity.warning]
    if errors or warnings:
        badges = (f"✖ {errors}" if errors else "").ljust(FINDING_SLOT) + (f"⚠ {warnings}" if warnings else "")
        return badges.rstrip(), Style(color=SEVERITY_COLORS[Severity.error if errors else Severity.warning],
                                      bold=bool(errors))
    if ev.decode_errors:
        return "? decode", Style(color=SEVERITY_COLORS[Severity.warning])
    if counts[Severity.info]:
        return f"ℹ {counts[Severity.info]}", Style(color=SEVERITY_COLORS[Severity.info])
    return "✓", Style(color="#6aa84f")


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

    def __init__(self, lookup: Callable[[str], TrackingEvent | None], device_name: Callable[[str], str],
                 **kw) -> None:
        super().__init__(**kw)
        self._lookup = lookup
        self._device_name = device_name
        self._order: list[Row] = []  # everything, in arrival order
        self._rows: list[Row] = []  # what the filter lets through
        self._shown: set[str] = set()  # the event ids in _rows
        self._filter: EventFilter | None = None
        self.follow = True  # keep the newest row selected until the user moves away
        self.empty_hint: list[str] = []  # shown until the first row: how to get events here
        self._flush_pending = False
        self.start_time = time.time()

    # ------------------------------------------------------------------ data

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def selected_id(self) -> str | None:
        if 0 <= self.cursor < len(self._rows) and isinstance(row := self._rows[self.cursor], str):
            return row
        return None

    @property
    def event_count(self) -> int:
        """The events listed (rows without the marks)."""
        return len(self._shown)

    def visible_ids(self) -> list[str]:
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

    def add_marks(self, marks: list[Mark]) -> None:
        """Insert marks among the rows in time order: before the first row later than each (one pass,
        so a file's thousands of marks cost one walk of the list)."""
        waiting = sorted(marks, key=lambda m: m.time)
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
        self.set_filter(self._filter)

    def _row_time(self, row: Row) -> float:
        if isinstance(row, Mark):
            return row.time
        ev = self._lookup(row)
        return ev.time if ev is not None else float("-inf")  # evicted: among the oldest

    def _flush(self) -> None:
        self._flush_pending = False
        self._resize()
        if self.follow:
            self.cursor = len(self._rows) - 1
        else:
            self.refresh()

    def changed(self, event_id: str) -> None:
        """An event already listed got new findings or twins: redraw; re-filter if it now passes
        (or no longer does)."""
        if self._filter is not None and (event_id in self._shown) != self._filter(event_id):
            self.set_filter(self._filter)
        else:
            self.refresh()

    def clear(self) -> None:
        self._order.clear()
        self._rows.clear()
        self._shown.clear()
        self.follow = True
        self.cursor = -1
        self._resize()

    def set_filter(self, flt: EventFilter | None) -> None:
        keep = self.selected_id
        self._filter = flt
        if flt is None:
            self._rows = list(self._order)
        elif isinstance(flt, FileBackedFilter):
            self._rows = flt.select(self._order)
        else:
            self._rows = [r for r in self._order if type(r) is Mark or flt(r)]
        self._shown = {r for r in self._rows if type(r) is str}
        self._resize()
        if keep is not None and keep in self._rows and not self.follow:
            self.cursor = self._rows.index(keep)
        else:
            self.cursor = len(self._rows) - 1
        self.refresh()

    def select_event(self, event_id: str) -> bool:
        try:
            index = self._rows.index(event_id)
        except ValueError:
            return False
        self.follow = False
        self.cursor = index
        return True

    def _passes(self, event_id: str) -> bool:
        return self._filter is None or self._filter(event_id)

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._rows) + 1)  # + the header line

    # ------------------------------------------------------------------ cursor

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self._rows) - 1)) if self._rows else -1

    def watch_cursor(self, old: int, new: int) -> None:
        self.scroll_to_region_row(new)
        self.refresh()
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
        self.follow = self.cursor >= len(self._rows) - 1

    def action_first(self) -> None:
        self.follow = False
        self.cursor = 0

    def action_last(self) -> None:
        self.follow = True
        self.cursor = len(self._rows) - 1

    def on_click(self, event) -> None:
        row = int(self.scroll_offset.y) + event.y - 1
        if 0 <= row < len(self._rows):
            self.follow = row == len(self._rows) - 1
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
        if not self._order and index < len(self.empty_hint):
            style = self.rich_style + self.get_component_rich_style("event-list--dim")
            return Strip([Segment(fit(" " + self.empty_hint[index], width), style)])
        if index >= len(self._rows):
            return Strip.blank(width)
        row = self._rows[index]
        base = self.rich_style
        if index == self.cursor:
            base = base + self.get_component_rich_style("event-list--cursor")
        if isinstance(row, Mark):
            text = f"──── {self._time(row.time)}  {inert(row.label)} ────"
            style = base + self.get_component_rich_style("event-list--mark")
            return Strip([Segment(fit(text, width), style)])
        ev = self._lookup(row)
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
        return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"

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
