"""The quick way through `log.entries`: runs of well-formed entries, each built by Python's C JSON
decoder (`raw_decode`) from the text as it comes, with no event per token in Python. The walk
(pixelspy/har/walk.py) starts a run where it is between two entries and takes over again, at the
start of the entry the run stopped at, for anything else: the end of the list, an entry that is
broken, nested too deep for the decoder, larger than MAX_KEPT, or that held a dropped token (a
Piece's stand-in), and text the two parsers read differently (a lone surrogate escape, NaN,
numbers beyond yajl's limits). Python's decoder gives up at about the interpreter's recursion
limit (≈ 950 containers here), the walk at MAX_ENTRY_DEPTH (900): an entry nested between the two
is read by a run, skipped by the walk.

Why not ijson's own builder (`items_coro`): it computes a prefix string for every event, which
costs as much as the walk's Python loop (measured on bench_har.py's file: 0.27 s against the
walk's 0.33 s; raw_decode of the same entries 0.10 s), and it gives no offsets, so a run could only
stop at a guessed boundary. raw_decode says where each entry ends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from pixelspy.har.json_text import READ_CHUNK, Piece, StepOver

# The text a run holds at most: a piece (up to a read) and the start of an entry still incomplete.
# A longer piece holds a token longer than a read (pixelspy/har/json_text.py's Pieces held it back):
# yajl reads such tokens faster than Python's json and the walk keeps less, so it is left to the
# walk. (An incomplete entry is decoded again from its start with each piece: this bounds that too.)
MAX_KEPT = READ_CHUNK + (256 << 10)
_GAP = re.compile(r"[ \t\r\n]*(,?)[ \t\r\n]*")
# After a run stopped at a piece too long to keep (a long token: large entries, which yajl reads
# quicker), the walk reads this far before a run starts again.
WALK_LARGE = 32 << 20
# The text near its end is decoded from a copy of its own: the last entry is often incomplete, and
# JSONDecodeError counts the lines of all the text before the error.
_TAIL = 64 << 10
# A surrogate's escape: yajl reads a lone one as "?", Python's json keeps it; the walk reads those.
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
# Backslashes looked at one by one (str.find: memchr, 10× the regex's speed) before the regex takes
# the rest of a text: most pieces hold a few hundred escapes at most.
_ESCAPES_LOOKED_AT = 256


def _surrogate_in(text: str, start: int) -> bool:
    """Whether a surrogate's escape is in `text` from `start` (as _SURROGATE.search says)."""
    at = text.find("\\", start)
    for _ in range(_ESCAPES_LOOKED_AT):
        if at < 0:
            return False
        if _SURROGATE.match(text, at):
            return True
        at = text.find("\\", at + 1)
    return at >= 0 and _SURROGATE.search(text, at) is not None


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # (NaN, Infinity: yajl refuses them)


def _int(text: str) -> int:
    value = int(text)
    if len(text) > 18 and not -(1 << 63) <= value < 1 << 63:
        raise ValueError("integer overflow")  # (yajl's limit)
    return value


def _float(text: str) -> float:
    value = float(text)
    if value in (_INF, -_INF):
        raise ValueError("numeric (floating point) overflow")  # (yajl's limit)
    return value


_INF = float("inf")
# What yajl refuses is refused here too (the entry is left to the walk, which says why).
_DECODER = json.JSONDecoder(parse_constant=_refuse, parse_int=_int, parse_float=_float)


class FastRun:
    """Entries decoded from pieces of text (Piece, cut between tokens), from a point between two
    entries that follows `last` (`[`, `,` or the end of an entry). Once `ended`, `rest` holds the
    text from the start of the entry it stopped at, for the walk."""

    def __init__(self, last: bytes):
        self.last = last  # the character before the text (what the walk's parser is led to expect)
        self.text = ""  # from a point between entries (after `last`), not decoded yet
        self.at = -1  # its byte offset
        self.size = 0  # its length in bytes
        self.ended = False
        self.large = False  # it ended at a piece too long to keep (a long token: large entries)
        self.rest: list[Piece] = []

    def send(self, piece: Piece) -> Iterator[Any]:
        """The entries that end in `piece`, decoded one at a time as they are taken (each is freed
        young, before the next is made)."""
        size = self.size + sum(map(len, piece.parts))  # (bytes of the text with the piece)
        if piece.stand_in or size > MAX_KEPT:
            self.large = not piece.stand_in
            self._end([piece])
            return
        # One string of the text kept and the piece (valid UTF-8, cut between characters), made in
        # one join: each new string of a megabyte costs as much in page faults as in decoding.
        parts = [str(part, "utf-8") for part in piece.parts]
        text = "".join([self.text, *parts]) if self.text or len(parts) > 1 else parts[0]
        if _surrogate_in(text, len(self.text)):
            self._end([piece])
            return
        if self.at < 0:
            self.at = piece.offset
        pos = 0
        while True:
            gap = _GAP.match(text, pos)
            start = gap.end()
            if start == len(text):
                break  # (the rest comes with the next piece)
            if bool(gap.group(1)) != (self.last not in (b"[", b",")):
                self._keep(text, pos, size)  # the end of the list, or a comma where none goes
                self._end([])
                break
            if pos and len(text) - pos < _TAIL:  # (an error counts the lines before it: keep it short)
                self._keep(text, pos, size)
                text, start, pos, size = self.text, start - pos, 0, self.size
            try:
                entry, end = _DECODER.raw_decode(text, start)
            except json.JSONDecodeError as e:
                if not _at_end(text, e.pos):
                    self._keep(text, pos, size)
                    self._end([])
                break  # (else the entry goes on in the next piece)
            except (ValueError, RecursionError):  # (NaN, an integer too long, too deep)
                self._keep(text, pos, size)
                self._end([])
                break
            pos, self.last = end, b"}"
            yield entry
        if not self.ended:
            self._keep(text, pos, size)

    def end(self) -> None:
        """The walk reads what is left (the text ended, or the run did)."""
        if not self.ended:
            self._end([])

    def _end(self, after: list[Piece]) -> None:
        self.ended = True
        self.rest = [Piece([self.text.encode()], self.at)] if self.text else []
        self.rest += after
        self.text, self.size = "", 0

    def _keep(self, text: str, pos: int, size: int) -> None:
        """Keep `text` (`size` bytes) from `pos` on."""
        self.text = text[pos:]
        kept = len(self.text) if self.text.isascii() else len(self.text.encode())  # (isascii: no scan)
        self.at += size - kept
        self.size = kept


def _at_end(text: str, pos: int) -> bool:
    """Whether only spaces follow `pos` in `text`."""
    end = len(text)
    while end > pos and text[end - 1] in " \t\r\n":
        end -= 1
    return end <= pos


def cut_at_entry_end(piece: Piece, depth: int, level: int) -> tuple[Piece, Piece] | None:
    """`piece`, which starts `depth` containers deep, cut where the entry in it ends (back at
    `level`; its brackets counted), when it ends there and text follows."""
    data = piece.data
    found = StepOver([(data, piece.offset)], lambda: (None, 0), depth, level, 1).run()
    if found is None or found[1] == len(data):
        return None
    pos = found[1]
    return Piece([data[:pos]], piece.offset), Piece([data[pos:]], piece.offset + pos)
