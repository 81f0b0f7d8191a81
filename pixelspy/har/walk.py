"""The JSON of a HAR file walked with ijson (yajl's C parser, `use_float`): the items of `log.entries`
and of `log._pixelspy_marks` built one at a time, everything else stepped over unbuilt. Memory stays
at one entry plus a read; a file of any size and nesting costs no more.

Runs of well-formed entries are decoded the quick way (pixelspy/har/fast.py: Python's C decoder, no
event per token in Python); the walk reads the rest: the document around the entries, and any entry
a run stops at (broken, deep, huge, or holding a dropped token), then lets a new run start after it.

ijson parses; what it cannot do is done by small hand-written pieces (pixelspy/har/json_text.py says
which and why: tokens of any size, going on after a broken entry), and the broken entry is located
by pixelspy/har/diagnose.py.

Why one file of ≈ 400 lines: HarWalk is one state machine (the container stack, the item being
built, the pieces held back, the recovery after an error) that every method reads and changes;
cut in two, that state would be passed between the halves instead of read in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import ijson

from pixelspy.har.diagnose import TOO_DEEP, JsonBroken, diagnose, expect
from pixelspy.har.fast import WALK_LARGE, FastRun, cut_at_entry_end
from pixelspy.har.format import MARKS_KEY, HarReadError
from pixelspy.har.json_text import READ_CHUNK, Checkpoint, Piece, Pieces, StepOver, Text, context

# An entry larger than this (in bytes of JSON) is skipped as a problem: a real one is a few KB, a
# page's largest upload a few MB.
MAX_ENTRY_CHARS = 64 * 1024 * 1024
# Containers inside an entry deeper than this skip it (about where Python's json gave up); anywhere
# in the file deeper than MAX_DEPTH ends the walk (the parser's stack would grow with the file).
MAX_ENTRY_DEPTH = 900
MAX_DEPTH = 100_000
# A string outside the items longer than this is dropped unread (its value is never used).
MAX_SKIPPED_STRING = 64 * 1024
# After a broken item, the next reads start this small and double: each error is located in text
# about as long as the distance from the last one, so a file of many broken entries stays linear.
FIRST_STEP_AFTER_ERROR = 1024

@dataclass
class Item:
    """One item of `log.entries` (`marks` False) or of `log._pixelspy_marks`: its value, or why it
    was skipped."""
    marks: bool
    value: Any = None
    skipped: str = ""


# ---------------------------------------------------------------------------------------- the walk


class HarWalk:
    """Iterates the Items of a HAR's JSON read from `fh` (bytes, a read at a time). Raises
    HarReadError when the JSON is not a HAR, JsonBroken when the walk cannot go on; `after` is the
    byte offset of data found after the document (not read); `text.consumed` counts the bytes read."""

    def __init__(self, fh: BinaryIO, entry_fields: frozenset[str] | None = None):
        self.text = Text(fh)
        self.entry_fields = entry_fields
        self.after: int | None = None
        self._tokens = Pieces()
        self._new_parser("")
        # The document's state, after the events handled so far.
        self.opened = bytearray()  # every open container, b"{" or b"["
        self.outer: list[str] = []  # roles of the containers around the items
        self.key: str | None = None  # the last key, in an outer object
        self.after_key = False  # the last event was a key
        self.found_log = self.found_entries = False
        self.skipping = 0  # depth inside a value stepped over
        self.build: list[Any] = []  # containers of the item being built, innermost last
        self.unbuilt = 0  # depth inside a part of an entry not built (not in entry_fields)
        self.item_start = 0  # offset of the piece the item started in
        self.broken = ""  # why the item being read will be skipped
        self.done = False  # the document has ended
        self.items_since = 0  # container items ended since the checkpoint
        self.level_opens = 0  # containers opened since the checkpoint where the items' ones are
        self._last = b""  # the last character sent to the parser (but spaces)
        self._checkpoint = Checkpoint(bytes(self.opened), b"", False, 0)
        self._out: list[Item] = []
        self._fast: FastRun | None = None
        self._slow_through = -1  # the last piece a run left to the walk (no run starts before it is read)

    def __iter__(self) -> Iterator[Item]:
        try:
            while True:
                data, offset = self.text.next()
                if data is not None:
                    limit = MAX_ENTRY_CHARS if self._fast or self._in_item else MAX_SKIPPED_STRING
                    pieces = self._tokens.cut(data, offset, limit, line_limit=self.text.step)
                    del data  # (freed with its pieces, before the next read: one read's blocks at a time)
                elif not (pieces := self._tokens.rest()):  # the text ended: what was held back
                    if self._fast is None:
                        break
                    pieces = self._leave_fast()
                while pieces:
                    yield from self._next_piece(pieces)
            self._finish()
        except _Stop:
            pass
        yield from self._drained()
        if not self.found_log:
            raise HarReadError("not a HAR file: no `log` object")
        if not self.found_entries:
            raise HarReadError("not a HAR file: no log.entries")

    def _next_piece(self, pieces: list[Piece]) -> Iterable[Item]:
        """Send the first of `pieces` to a run (fast.py) where one can go, else to the walk's parser."""
        piece = pieces.pop(0)
        # (no run while errors are near: text.step is back to a whole read)
        if self._fast is None and self.text.step == READ_CHUNK and self._may_go_fast(piece):
            if not (self.build or self.skipping):
                self._fast = FastRun(self._last)
            elif split := cut_at_entry_end(piece, len(self.opened), len(self.outer)):
                piece, rest = split[0], [split[1]]  # the walk ends the entry it is in, a run goes on
                self._send(piece, rest)
                pieces[:0] = rest  # (unless a broken entry gave it back)
                return self._drained()
        if self._fast is None:
            self._send(piece, pieces)
            return self._drained()
        return self._run(piece, pieces)

    def _run(self, piece: Piece, pieces: list[Piece]) -> Iterator[Item]:
        for entry in self._fast.send(piece):
            yield Item(False, entry)
        self.text.step = min(self.text.step * 2, READ_CHUNK)
        if self._fast.ended:
            self._slow_through = piece.offset + (WALK_LARGE if self._fast.large else 0)
            pieces[:0] = self._leave_fast()

    def _may_go_fast(self, piece: Piece) -> bool:
        """Whether a run may start in or at `piece`: in log.entries, past where the last run ended."""
        return (self.outer[-1:] == ["entries"] and not self.done and piece.offset > self._slow_through
                and not piece.stand_in)

    def _leave_fast(self) -> list[Piece]:
        """The walk takes over where the run stopped (between entries): the pieces to read from there."""
        run, self._fast = self._fast, None
        run.end()
        self._last = run.last
        self.key, self.after_key = None, False
        self._new_parser(context(bytes(self.opened), self._last, False))
        return run.rest

    def _drained(self) -> list[Item]:
        out, self._out = self._out, []
        return out

    @property
    def _in_item(self) -> bool:
        return bool(self.build) or self.skipping > 0 and self._at_items

    # -------------------------------------------------------------------------------- the parser

    def _new_parser(self, context: str) -> None:
        self._events = ijson.sendable_list()
        self._parser = ijson.basic_parse_coro(self._events, use_float=True)
        if context:
            self._parser.send(context.encode())
            self._events.clear()

    def _send(self, piece: Piece, rest: list[Piece]) -> None:
        """Parse `piece` and handle its events; after an error, skip the broken item (`rest`: the
        pieces cut after it, not sent)."""
        if self.done and not piece.last():
            return
        self._checkpoint = Checkpoint(bytes(self.opened), self._last, self.after_key, piece.offset)
        self.items_since = self.level_opens = 0
        if self.build and piece.offset - self.item_start > MAX_ENTRY_CHARS + READ_CHUNK:
            self._drop_item(f"larger than {MAX_ENTRY_CHARS >> 20} MB of JSON")  # (item_start: a piece early)
        if piece.stand_in and self._in_item:
            self.broken = self.broken or f"larger than {MAX_ENTRY_CHARS >> 20} MB of JSON"
        error: Exception | None = None
        try:
            for part in piece.parts:
                self._parser.send(part)
        except (ijson.JSONError, ValueError) as e:  # (ValueError: a number Python cannot hold)
            error = e
        try:
            self._handle(self._events)
        except _DepthExceeded as e:
            error = error or e
        self._events.clear()
        self._last = piece.last() or self._last
        if error is not None:
            self._recover(piece, rest, error)
        else:
            self.text.step = min(self.text.step * 2, READ_CHUNK)

    def _finish(self) -> None:
        self._checkpoint = Checkpoint(bytes(self.opened), self._last, self.after_key, self.text.end)
        try:
            self._parser.close()
        except (ijson.JSONError, ValueError) as e:
            self._handle(self._events)
            self._fail(b"", e)
        self._handle(self._events)

    # --------------------------------------------------------------------------------- the events

    def _handle(self, events: list) -> None:
        it = iter(events)
        if self.build:
            self._build(it)
        for kind, value in it:
            if kind == "map_key":
                if not self.skipping:
                    self.key = value
            elif kind == "start_map" or kind == "start_array":
                self.opened.append(0x7B if kind == "start_map" else 0x5B)
                self.level_opens += len(self.opened) == 3  # (where the items' containers open)
                if len(self.opened) > MAX_DEPTH:
                    raise _DepthExceeded
                if self.skipping:
                    self.skipping += 1
                else:
                    self._outer_start(kind)
                    if self.build:
                        self._build(it)
            elif kind == "end_map" or kind == "end_array":
                del self.opened[-1]
                if not self.skipping:
                    self._outer_end()
                else:
                    self.skipping -= 1
                    if not self.skipping and self._at_items:
                        self._item_done(None)
            elif not self.skipping:
                self._outer_scalar(kind, value)
        if events:
            self.after_key = events[-1][0] == "map_key"

    def _build(self, events: Iterator[tuple[str, Any]]) -> None:
        """Builds the item from the events (the hot loop: nearly every event is in an entry), up to
        the end of the events, of the item, or of building it. Containers in an entry under a key not
        in `entry_fields` are stepped over unbuilt (_step_over_part)."""
        if self.unbuilt and not self._step_over_part(events):
            return
        build, opened, key = self.build, self.opened, self.key
        fields = self.entry_fields if self.outer[-1] == "entries" else None
        top = build[-1]
        in_map = type(top) is dict
        for kind, value in events:
            if kind == "map_key":
                key = value
            elif kind == "string" or kind == "number" or kind == "boolean" or kind == "null":
                if in_map:
                    top[key] = value
                else:
                    top.append(value)
            elif kind == "start_map" or kind == "start_array":
                opened.append(0x7B if kind == "start_map" else 0x5B)
                if len(build) == 1 and in_map and fields is not None and key not in fields:
                    self.unbuilt = 1
                    if not self._step_over_part(events) or not build:
                        break
                    continue
                if len(build) >= MAX_ENTRY_DEPTH:
                    self._drop_item(TOO_DEEP, 1)
                    break
                container: Any = {} if kind == "start_map" else []
                if in_map:
                    top[key] = container
                else:
                    top.append(container)
                build.append(container)
                top, in_map = container, kind == "start_map"
            else:  # the end of a container
                del opened[-1]
                build.pop()
                if not build:
                    self._item_done(top)
                    break
                top = build[-1]
                in_map = type(top) is dict
        self.key = key

    def _step_over_part(self, events: Iterator[tuple[str, Any]]) -> bool:
        """Steps over the events of an entry's part that is not read; whether it ended."""
        depth, opened = self.unbuilt, self.opened
        for kind, _ in events:
            if kind == "start_map" or kind == "start_array":
                opened.append(0x7B if kind == "start_map" else 0x5B)
                depth += 1
                if depth >= MAX_ENTRY_DEPTH:
                    self.unbuilt = depth
                    self._drop_item(TOO_DEEP)
                    return False
            elif kind == "end_map" or kind == "end_array":
                del opened[-1]
                depth -= 1
                if not depth:
                    break
        self.unbuilt = depth
        return not depth

    @property
    def _at_items(self) -> bool:
        return self.outer[-1:] in (["entries"], ["marks"])

    def _outer_start(self, kind: str) -> None:
        role = self._role(kind)
        if role == "item":
            self.build.append({} if kind == "start_map" else [])
            self.item_start = self._checkpoint.offset
        elif role == "skip":
            self.skipping = 1
        else:
            self.outer.append(role)

    def _outer_scalar(self, kind: str, value: Any) -> None:
        if self._role(kind) == "item":
            self._out.append(Item(self.outer[-1] == "marks", value))

    def _outer_end(self) -> None:
        self.outer.pop()
        if not self.outer:
            self.done = True

    def _role(self, kind: str) -> str:
        """What a value starting here is: an item, a container of the walk ("root", "log", "entries",
        "marks"), or a value to step over ("skip"). HarReadError when the HAR's shape is wrong."""
        parent = self.outer[-1] if self.outer else None
        if parent in ("entries", "marks"):
            return "item"
        if parent is None:
            return expect(kind, "start_map", "root", "not a HAR file: the JSON")
        if parent == "root" and self.key == "log":
            self.found_log = True
            return expect(kind, "start_map", "log", "not a HAR file: `log`")
        if parent == "log" and self.key == "entries":
            self.found_entries = True
            return expect(kind, "start_array", "entries", "not a HAR file: log.entries")
        if parent == "log" and self.key == MARKS_KEY:
            if kind == "start_array":
                return "marks"
            self._out.append(Item(True, skipped="not a list"))
        return "skip"

    def _item_done(self, value: Any) -> None:
        self.items_since += 1
        self._out.append(Item(self.outer[-1] == "marks", value, self.broken))
        self.broken = ""

    def _drop_item(self, why: str, deeper: int = 0) -> None:
        """Stop building the item (its events are stepped over from here, `deeper` containers inside
        what was built); it is skipped for `why`."""
        self.broken = self.broken or why
        self.skipping = len(self.build) + self.unbuilt + deeper
        self.build.clear()
        self.unbuilt = 0

    # ------------------------------------------------------------------------------ after errors

    def _recover(self, piece: Piece, rest: list[Piece], error: Exception) -> None:
        """Skip the broken item and go on after it with a new parser; the walk ends (_fail) when the
        error is not in an item or between items, or the text ends inside it."""
        level = len(self.outer)
        if not (self._in_item or self._at_items and not self.done):
            self._fail(piece.data, error)
        # From the piece's start (its depth is known) over the text after it, to the end of the item
        # (items that ended in the piece before it are counted).
        step = StepOver([(p.data, p.offset) for p in (piece, *rest, *self._tokens.rest())], self._read_on,
                        len(self._checkpoint.opened), level, self.items_since + 1, self.level_opens - 1)
        if (after := step.run()) is None:
            self._fail(piece.data, error)
        for text, at in reversed(step.parts):
            self.text.give_back(text, 0, at)
        rest.clear()  # (given back with the text after the item)
        text, pos, offset = after
        self.text.give_back(text, pos, offset + pos)
        why = (TOO_DEEP if isinstance(error, _DepthExceeded)
               else self._not_valid(*diagnose(self._checkpoint, piece.data, error, self.text.ended)))
        self._out.append(Item(self.outer[-1] == "marks", skipped=self.broken or why))
        self.broken, self.skipping, self.unbuilt, self.key, self.after_key = "", 0, 0, None, False
        self.build.clear()
        del self.opened[level:]
        self._last = b"}"
        self.text.step = FIRST_STEP_AFTER_ERROR
        self._new_parser(context(bytes(self.opened), self._last, False))

    def _read_on(self) -> tuple[bytes | None, int]:
        self.text.step = READ_CHUNK
        return self.text.next()

    def _fail(self, data: bytes, error: Exception) -> None:
        """The walk ends here: data after the document is noted (`after`), else JsonBroken."""
        why, at = diagnose(self._checkpoint, data, error, self.text.ended)
        if why == "Extra data" or self.done:
            self.after = self.text.byte(at)
            self.done = True
            raise _Stop
        if why == "truncated":
            raise JsonBroken(why, truncated=True)
        raise JsonBroken(self._not_valid(why, at))

    def _not_valid(self, why: str, at: int) -> str:
        return f"not valid JSON at byte {self.text.byte(at)}: {why}"


class _DepthExceeded(Exception):
    pass


class _Stop(Exception):
    """The document ended with data after it."""
