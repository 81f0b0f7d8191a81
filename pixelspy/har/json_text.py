"""The JSON text of a HAR file as bytes, where the parser (ijson) cannot help: `Text` reads it
(UTF-8 checked, given-back text first), `Pieces` cuts the text between tokens and drops a token too
long to hold, `StepOver` steps over a broken value by counting brackets, `context` is the text that
leads a new parser to a place in the document. Why each is needed:
- Tokens of any size (`Pieces`): yajl holds a whole string or number before it reports it (measured:
  a 128 MB string outside the entries cost 257 MB and 2.6 s; a 4 GiB one in a 4 MB .zhar would take
  8 GB). So the byte stream goes to the parser in pieces that end between tokens: a string or number
  still open at the end of a read is held back until it ends, and one that outgrows its limit is
  dropped, a stand-in sent instead (an entry that held it is skipped as too large).
- Going on after a broken entry (`StepOver`): yajl stops at its first error. The entry is stepped over
  by counting brackets outside strings, and a new parser starts after it in the same place of the
  document (`context`: the text that leads a parser there).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import BinaryIO

READ_CHUNK = 1 << 20
_ALLOCATOR_WARM = 2 << 20  # see Text

# A number (or literal) longer than this is no number a HAR holds: it is dropped as a long string is.
MAX_NUMBER = 4096
_NOT_SCALAR = b' \t\r\n,:[]{}"'
_SCALAR_BYTES = bytes(b for b in range(256) if b not in _NOT_SCALAR)
_STRING_REST = re.compile(rb'(?:[^"\\]++|\\.)*+', re.S)  # a string's characters, up to its closing quote
_STRUCTURE = re.compile(rb'["\[\]{}]')


@dataclass
class Piece:
    parts: list  # bytes, or memoryviews of a read (the parser takes them one after the other, uncopied)
    offset: int  # of its first byte in the (UTF-8) text
    stand_in: bool = False  # for a dropped token

    @property
    def data(self) -> bytes:
        return b"".join(self.parts)

    def last(self) -> bytes:
        """Its last character but spaces (b"" when it has none)."""
        for part in reversed(self.parts):
            i = len(part) - 1
            while i >= 0 and part[i] in b" \t\r\n":
                i -= 1
            if i >= 0:
                return bytes(part[i:i + 1])
        return b""


class Pieces:
    """Cuts the text into pieces that end between tokens. A raw newline is never inside a JSON string
    (and ends a number), so a read is cut after its last newline and the rest waits for the next: the
    quick way, for the usual HAR written a line or an indent at a time. A line longer than `line_limit`
    is cut by counting its quotes instead: the string or number still open at its end is held back
    until it ends, and one that grows past `limit` is dropped and a stand-in (`""`, null) sent in its
    place, as a piece of its own."""

    def __init__(self) -> None:
        self.line: list[bytes] = []  # the text after the last newline, not sent yet
        self.line_at = 0  # its offset
        self.held: list[bytes] = []  # a token (from its first byte) cut out of a long line
        self.size = 0
        self.kind = ""  # of the held token: "string", "number" or ""
        self.start = 0  # its offset
        self.escaped = False  # a held string ends in an escaping backslash
        self.dropped = False

    def cut(self, data: bytes, offset: int, limit: int, line_limit: int, first: bool = False) -> list[Piece]:
        """The pieces that end in `data` (at `offset`). A token held on from an earlier read grows past
        `limit` (a string) or MAX_NUMBER: it is dropped. Not when `first` (a call within a call, for
        the same read): the walk has not read the pieces before the token yet, so `limit` may be wrong."""
        pieces: list[Piece] = []
        pos = 0
        whole = not self.line  # what the line holds is whole tokens (or nothing)
        if self.kind:
            pos = self._end_of_held(data)
            if pos < 0:  # still open
                self._hold(data)
                if not (self.dropped or first) and self.size > (limit if self.kind == "string" else MAX_NUMBER):
                    self.held, self.size, self.dropped = [], 0, True
                return pieces
            self._hold(data[:pos])
            if self.dropped:
                pieces.append(Piece([b'""' if self.kind == "string" else b"null"], self.start, stand_in=True))
            else:
                self.line, self.line_at = self.held, self.start  # the token starts the line
            self.held, self.size, self.dropped, self.kind, whole = [], 0, False, "", True
        if not self.line:
            self.line_at = offset + pos
        newline = data.rfind(b"\n", pos)
        if newline >= 0:
            pieces.append(Piece([*self.line, memoryview(data)[pos:newline + 1]], self.line_at))
            self.line, pos, self.line_at, whole = [], newline + 1, offset + newline + 1, True
        if sum(map(len, self.line)) + len(data) - pos < line_limit:
            if pos < len(data):
                self.line.append(data[pos:])
            return pieces
        # A long line: cut where the token open at its end starts (looking only at the new text
        # when what came before it is whole). A line kept while it was short (cut anywhere, so not
        # whole; no newline in `data`, pos 0) is cut on its own first, then `data`: a piece no
        # longer than a read, and no copy of it.
        if not whole:
            line, self.line = b"".join(self.line), []
            return self._cut_open_tail(line, 0, self.line_at) + self.cut(data, offset, limit, line_limit, True)
        return pieces + self._cut_open_tail(data, pos, offset)

    def _cut_open_tail(self, data: bytes, pos: int, offset: int) -> list[Piece]:
        """The line kept and `data` from `pos` (`offset` is data's), up to where the token open at
        its end starts, as a piece; that token is held."""
        pieces = []
        tail = _open_tail(data, pos)
        if self.line or tail > pos:
            pieces.append(Piece([*self.line, memoryview(data)[pos:tail]], self.line_at))
        self.line = []
        if tail < len(data):
            self.kind = "string" if data[tail] == 0x22 else "number"
            self.start = offset + tail
            self._hold(data[tail:])
            if self.kind == "string":
                self.escaped = _escaping(data, tail + 1)
        return pieces

    def rest(self) -> list[Piece]:
        """What is held, as text (the start of a dropped token stands for it); then nothing is."""
        if self.dropped:
            held = b"null" if self.kind == "number" else b'"\\' if self.escaped else b'"'
        else:
            held = b"".join(self.held)
        pieces = [Piece([text], at) for text, at in ((b"".join(self.line), self.line_at), (held, self.start))
                  if text]
        self.__init__()
        return pieces

    def _hold(self, data: bytes) -> None:
        if not self.dropped:
            self.held.append(data)
            self.size += len(data)

    def _end_of_held(self, data: bytes) -> int:
        """Where the held token ends in `data` (after a string's closing quote), or -1."""
        if self.kind == "number":
            end = len(data) - len(data.lstrip(_SCALAR_BYTES))
            return end if end < len(data) else -1
        start = 1 if self.escaped else 0
        if len(data) <= start:
            self.escaped = self.escaped and not data
            return -1
        end = _string_rest(data, start)
        if end < len(data) and data[end] == 0x22:
            return end + 1
        self.escaped = _escaping(data, start)
        return -1


def _string_rest(data: bytes, start: int) -> int:
    """Where a string's characters from `start` end: at its closing quote, or at the end of `data` (or
    before a lone backslash there). Without a backslash, bytes.find runs at memory speed (a gigabyte
    string is looked through in a second); the regex, five times slower, only takes escapes."""
    quote = data.find(b'"', start)
    if data.find(b"\\", start, quote if quote >= 0 else len(data)) < 0:
        return quote if quote >= 0 else len(data)
    return _STRING_REST.match(data, start).end()


def _open_tail(data: bytes, start: int) -> int:
    """Where the token still open at the end of `data` (from `start`, between tokens) starts: the last
    unescaped quote when the unescaped quotes are odd in number, else a trailing run of number (or
    literal) characters; len(data) when none is open."""
    quotes = data.count(b'"', start)
    i = data.find(b"\\", start)
    while i >= 0:
        end = i
        while end < len(data) and data[end] == 0x5C:
            end += 1
        if (end - i) % 2 and data[end:end + 1] == b'"':
            quotes -= 1
        i = data.find(b"\\", end)
    if quotes % 2:
        i = data.rfind(b'"', start)
        while _backslashes_before(data, i, start) % 2:  # an escaped quote
            i = data.rfind(b'"', start, i)
        return i
    end = data[-MAX_NUMBER - 1:]  # (rstrip copies what it keeps: only the end is looked at)
    run = len(end) - len(end.rstrip(_SCALAR_BYTES))
    if run == len(end):
        run = len(data) - len(data.rstrip(_SCALAR_BYTES))
    return max(start, len(data) - run)


def _backslashes_before(data: bytes, i: int, start: int) -> int:
    j = i
    while j > start and data[j - 1] == 0x5C:
        j -= 1
    return i - j


def _escaping(data: bytes, start: int) -> bool:
    """Whether `data` (inside a string from `start`) ends in a backslash that escapes what follows."""
    run = len(data) - len(data.rstrip(b"\\"))
    return min(run, len(data) - start) % 2 == 1


@dataclass
class Checkpoint:
    """The state of the document at the start of a piece: its open containers, the last character
    before it, whether a key was the last token; and the piece's offset."""
    opened: bytes
    last: bytes
    after_key: bool
    offset: int


@lru_cache(maxsize=64)
def context(opened: bytes, last: bytes, after_key: bool) -> str:
    """JSON text that leaves a parser where the document was: in the `opened` containers, after `last`
    (the character before, which says whether a value, a key, `:` or `,` came last)."""
    parts = []
    for i, c in enumerate(opened):
        parts.append(chr(c))
        if c == 0x7B and i < len(opened) - 1:
            parts.append('"k":')
    if not opened:
        return "null" if last else ""
    if last in (b"{", b"[") or not last:
        return "".join(parts)
    in_object = opened[-1] == 0x7B
    if after_key:
        tail = '"k"' + (":" if last == b":" else "")
    else:
        tail = ('"k":null' if in_object else "null") + ("," if last == b"," else "")
    return "".join(parts) + tail


class StepOver:
    """Steps over the rest of a broken value by counting brackets outside strings, from a point whose
    `depth` is known: through `parts` (text, offset), then what `more` reads, to the end of the
    `returns`-th container that ends at `level` (from a point before the items' container opens, in
    the container that opens at `level` after `siblings` others). A token of any size, any depth:
    the text is only
    looked at. `run` gives (text, position, offset) of what follows, None when the text ends first
    or the brackets close below `level`; `parts` keeps what was not looked at."""

    def __init__(self, parts: list[tuple[bytes, int]], more: Callable[[], tuple[bytes | None, int]],
                 depth: int, level: int, returns: int, siblings: int = 0):
        self.parts = parts
        self.siblings = siblings
        self.entered = depth >= level  # in the items' container
        self.more = more
        self.depth = depth
        self.level = level
        self.returns = returns

    def run(self) -> tuple[bytes, int, int] | None:
        in_string = False
        escaped = False
        while True:
            data, offset = self.parts.pop(0) if self.parts else self.more()
            if data is None:
                return None
            pos = 0
            while pos < len(data):
                if in_string:
                    end = _string_rest(data, pos + (1 if escaped else 0))
                    escaped = False
                    if end >= len(data):
                        escaped = _escaping(data, pos)
                        break
                    if data[end] != 0x22:
                        escaped, end = True, len(data)
                        break
                    pos, in_string = end + 1, False
                    continue
                m = _STRUCTURE.search(data, pos)
                if m is None:
                    break
                pos = m.end()
                ch = data[m.start()]
                if ch == 0x22:
                    in_string = True
                elif ch in (0x5B, 0x7B):
                    self.depth += 1
                    if self.depth == self.level and not self.entered:
                        self.entered = not self.siblings
                        self.siblings -= 1
                else:
                    self.depth -= 1
                    if not self.entered:
                        continue
                    if self.depth < self.level:
                        return None
                    if self.depth == self.level:
                        self.returns -= 1
                        if not self.returns:
                            return data, pos, offset


class Text:
    """The text of a file read a chunk at a time, at most `step` bytes at a time (after an error, reads
    are handed on in small steps), text given back first: valid UTF-8 (invalid bytes replaced; byte
    offsets after them count each replaced sequence as 3 bytes), the BOM dropped."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh
        # glibc's malloc gives a block over its mmap threshold (128 KiB at first, raised to the size
        # of the largest such block freed) fresh pages, faulted in one by one (≈ 10 % of a read's
        # CPU): until that threshold passes the size of the reads' blocks (a read, its text, a run's
        # text: ≤ 1.3 MB), each new one would be. Freeing one larger block raises it now.
        bytes(_ALLOCATOR_WARM)
        self.consumed = 0  # bytes read from fh
        self.eof = False
        self.end = 0  # offset in the text of the next read
        self.step = READ_CHUNK
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._bom = 0
        self._pushed: list[tuple[bytes, int, int]] = []  # text to read first: (buffer, start, offset), last first

    @property
    def ended(self) -> bool:
        return self.eof and not self._pushed

    def next(self) -> tuple[bytes | None, int]:
        """The next text to cut into pieces, at most `_step` long: given back first, else read, valid
        UTF-8 (invalid bytes replaced; byte offsets after them count each replaced sequence as 3
        bytes), BOM dropped."""
        while not self._pushed and not self.eof:
            raw = self.fh.read(READ_CHUNK)
            if not self.consumed and raw.startswith(codecs.BOM_UTF8):
                self._bom = len(codecs.BOM_UTF8)
                raw = raw[self._bom:]
                self.consumed = self._bom
            self.consumed += len(raw)
            self.eof = not raw
            if raw.isascii() and not self._utf8.getstate()[0]:
                data = raw  # (the quick way: nothing to check)
            else:
                data = self._utf8.decode(raw, final=self.eof).encode()
            if data:
                self.give_back(data, 0, self.end)
                self.end += len(data)
        if not self._pushed:
            return None, self.end
        buf, start, offset = self._pushed.pop()
        end = start + self.step
        if end < len(buf):  # (after an error: in steps)
            self._pushed.append((buf, end, offset + self.step))
        return (buf[start:end] if start or end < len(buf) else buf), offset

    def give_back(self, buf: bytes, start: int, offset: int) -> None:
        """`buf` from `start` (at `offset` in the text) is read next."""
        if start < len(buf):
            self._pushed.append((buf, start, offset))

    def byte(self, text_offset: int) -> int:
        """A text offset as a byte offset in the file."""
        return text_offset + self._bom
