"""Opening HAR and mitmproxy flow files: what a file is (by its first bytes: gzip, zlib `.zhar`, JSON,
mitmproxy's tnetstring flows), its requests as RawHits in file order (FileReader), and a file read
into a session (load_file).

A HAR is walked one entry at a time (pixelspy/har/walk.py, runs of good entries by pixelspy/har/fast.py:
memory stays at one entry plus a read;
.har.gz and .zhar are inflated a read at a time) and each entry becomes a hit (pixelspy/har/entries.py).
An entry of invalid JSON, nested too deep, with a broken URL or larger than 64 MB is named in
`problems` and skipped. mitmproxy's own reader is used only for its native flow files (converted by
pixelspy/flows.py, as the live proxy converts them).

A tee given to the reader (`pixelspy open`'s import key, a SHA-256) gets every byte of the file as it
is read, and the rest of the file after what the reader needed: the file is read once.

Opening a file ends with `session.tick(inf)`: the file is complete, so pending verdicts (consent
waits, expected events) settle as "never came".
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import gzip
import io
import os
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pixelspy import decoders
from pixelspy.har.entries import ENTRY_FIELDS, EntryReader, SkippedEntry, mark_of
from pixelspy.har.format import MARKS_KEY, HarReadError
from pixelspy.har.json_text import READ_CHUNK
from pixelspy.har.diagnose import JsonBroken
from pixelspy.har.walk import MAX_ENTRY_CHARS, HarWalk
from pixelspy.model import RawHit
from pixelspy.session import MAX_MARKS, Mark, Session

# (phase, done, total): phase "read" counts bytes of the file, "decode" counts entries.
Progress = Callable[[str, int, int], None]
# Given every byte of the file once, in order, as it is read (the import key's hash: the file is read once).
Tee = Callable[[bytes], None]


class _TeeFile:
    """The file as the reader reads it, each byte given to `tee` the first time it is read (the reader
    seeks back to the start after looking at the first bytes). `rest` reads what the reader left."""

    def __init__(self, fh: BinaryIO, tee: Tee):
        self.fh = fh
        self.tee = tee
        self._pos = 0
        self._given = 0  # the file's first bytes given to the tee

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        end = self._pos + len(data)
        if self._pos <= self._given < end:
            self.tee(data[self._given - self._pos:] if self._given > self._pos else data)
            self._given = end
        self._pos = end
        return data

    def peek(self, n: int = 0) -> bytes:  # mitmproxy's flow reader
        return self.fh.peek(n)

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        self._pos = self.fh.seek(pos, whence)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def rest(self) -> None:
        """Read to the end: data after a HAR's JSON, or after a broken stream, is the file's too."""
        while self.read(READ_CHUNK):
            pass


class _ZlibFile(io.RawIOBase):
    """A zlib stream (a `.zhar` file) read as a file, inflated a read at a time: memory stays at one
    read whatever the stream inflates to. Seeks only back to the start."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.seek(0)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        if (pos, whence) != (0, io.SEEK_SET):
            raise io.UnsupportedOperation("a zlib stream seeks only to its start")
        self.raw.seek(0)
        self._inflate = zlib.decompressobj()
        self._pos = 0
        return 0

    def tell(self) -> int:
        return self._pos

    def readinto(self, b) -> int:
        if not len(b):
            return 0  # (a max_length of 0 would mean no limit)
        out = b""
        while not out and not self._inflate.eof:
            data = self._inflate.unconsumed_tail or self.raw.read(READ_CHUNK)
            if not data:
                break
            out = self._inflate.decompress(data, len(b))
        b[:len(out)] = out
        self._pos += len(out)
        return len(out)


class FileReader:
    """Iterates the RawHits of a HAR or mitmproxy flow file in file order.

    `problems` collects what could not be read (entry by entry); a file that cannot be read at all
    raises HarReadError when iterated. `format` says what the file was."""

    def __init__(self, path: str | Path, progress: Progress | None = None, tee: Tee | None = None):
        self.path = Path(path)
        self.progress = progress
        self.tee = tee
        self.problems: list[str] = []
        self.format = ""
        self.entries = 0  # entries (or flows) seen, read or not
        self.marks: list[Mark] = []  # the file's MARKS_KEY, at most MAX_MARKS
        self.registry = decoders.default_registry()

    def __iter__(self) -> Iterator[RawHit]:
        try:
            fh = open(self.path, "rb")
        except OSError as e:
            raise HarReadError(str(e.strerror or e)) from None
        with fh:
            self.total = os.fstat(fh.fileno()).st_size
            raw = _TeeFile(fh, self.tee) if self.tee else fh
            try:
                yield from self._read(raw)
            except (OSError, EOFError, zlib.error) as e:  # a broken gzip/zlib stream, or reading failed
                what = f"the {self.format.strip() or 'file'} stream is broken ({e})"
                if not self.entries:
                    raise HarReadError(what) from None
                self.problems.append(f"after {self.entries} entries: {what}; the entries before it were read")
            if isinstance(raw, _TeeFile):
                with contextlib.suppress(OSError):  # the tee is short of the file's size: it knows
                    raw.rest()

    def _report(self, fh: BinaryIO) -> None:
        if self.progress:
            try:
                done = fh.tell()
            except (OSError, ValueError):
                return
            self.progress("read", min(done, self.total), self.total)

    def _read(self, fh: BinaryIO) -> Iterator[RawHit]:
        head = fh.read(4)
        fh.seek(0)
        if head.startswith(b"\x1f\x8b"):
            self.format = "gzip "
            yield from self._read_json_or_flows(gzip.GzipFile(fileobj=fh), raw=fh)
        elif head[:1] == b"x" and head[1:2] in (b"\x01", b"\x5e", b"\x9c", b"\xda"):  # .zhar (zlib)
            self.format = "zlib "
            yield from self._read_json_or_flows(io.BufferedReader(_ZlibFile(fh), READ_CHUNK), raw=fh)
        else:
            yield from self._read_json_or_flows(fh, raw=fh)

    def _read_json_or_flows(self, fh, raw: BinaryIO) -> Iterator[RawHit]:
        start = fh.read(64)
        fh.seek(0)
        first = start.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
        if first in (b"{", b"["):
            self.format += "HAR"
            yield from self._read_har(fh, raw)
        elif first[:1].isdigit():
            self.format += "mitmproxy flows"
            yield from self._read_flows(fh, raw)
        else:
            raise HarReadError(self._neither(start))

    def _neither(self, start: bytes) -> str:
        """Why a file that starts with `start` is neither JSON nor mitmproxy flows."""
        if not start.strip():
            what = f"the {self.format.strip()} data (uncompressed)" if self.format else "the file"
            return f"{what} is empty" + (" (only whitespace)" if start else "")
        try:
            text = codecs.getincrementaldecoder("utf-8-sig")().decode(start)  # (a cut last character waits)
        except UnicodeDecodeError:
            text = None
        if text is None or any(ord(c) < 32 and c not in "\t\r\n" for c in text):
            return f"neither a HAR nor a mitmproxy flow file: binary data starting {start[:8].hex(' ')}"
        return f"neither a HAR file (a JSON object) nor a mitmproxy flow file: it starts with {text[:24]!r}"

    def _read_har(self, fh, raw: BinaryIO) -> Iterator[RawHit]:
        walk = HarWalk(fh, ENTRY_FIELDS)
        entries = EntryReader()
        last_report = 0
        skipped_marks = 0
        try:
            for item in walk:
                if item.marks:
                    skipped_marks += self._add_mark(item)
                    continue
                n = self.entries
                self.entries += 1
                try:
                    if item.skipped:
                        raise SkippedEntry(item.skipped)
                    hit = entries.hit(item.value)
                except SkippedEntry as e:
                    self.problems.append(f"log.entries[{n}]: {e}; entry skipped")
                    continue
                if self.progress and walk.text.consumed - last_report > READ_CHUNK:
                    last_report = walk.text.consumed
                    self._report(raw)
                yield hit
        except JsonBroken as e:
            what = self._truncated(walk) if e.truncated else str(e)
            if not self.entries:
                raise HarReadError(what) from None
            self.problems.append(f"log.entries[{self.entries}]: {what}; the entries before it were read")
        finally:
            if skipped_marks:
                self.problems.append(f"log.{MARKS_KEY}: {skipped_marks:,} marks skipped (not a label and a time, "
                                     f"or over {MAX_MARKS:,})")
        if walk.after is not None:
            self.problems.append(f"data after the HAR's JSON, from byte {walk.after} on, was not read")
        self._report(raw)

    def _truncated(self, walk: HarWalk) -> str:
        where = " of the uncompressed data" if self.format != "HAR" else ""
        return f"truncated JSON at byte {walk.text.consumed}{where}"

    def _add_mark(self, item) -> int:
        """Keeps a mark pixelspy saved (at most MAX_MARKS); 1 when it is skipped."""
        if item.skipped == "not a list":
            self.problems.append(f"log.{MARKS_KEY} is not a list; marks skipped")
            return 0
        mark = mark_of(item.value) if len(self.marks) < MAX_MARKS else None
        if mark is None:
            return 1
        self.marks.append(mark)
        return 0

    def _read_flows(self, fh, raw: BinaryIO) -> Iterator[RawHit]:
        from mitmproxy import exceptions, http
        from mitmproxy.io import FlowReader

        from pixelspy.flows import raw_hit, request_url

        try:
            for flow in FlowReader(_CappedReads(fh)).stream():
                self.entries += 1
                if isinstance(flow, http.HTTPFlow):
                    url = request_url(flow)
                    yield raw_hit(flow, with_body=self.registry.find_url(url) is not None, url=url)
                if self.progress and self.entries % 500 == 0:
                    self._report(raw)
        except (exceptions.FlowReadException, RecursionError) as e:
            why = f"{e}: {e.__cause__}" if e.__cause__ else str(e)
            if not self.entries:
                raise HarReadError(f"not a mitmproxy flow file ({why})") from None
            self.problems.append(f"flow {self.entries}: {why}; the flows before it were read")
        self._report(raw)


class _CappedReads:
    """A file that refuses single reads over MAX_ENTRY_CHARS bytes: mitmproxy's flow reader reads a
    record whole, as long as its length prefix says, and a compressed file can make that gigabytes."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > MAX_ENTRY_CHARS:
            raise ValueError(f"a record larger than {MAX_ENTRY_CHARS >> 20} MB")
        return self.fh.read(n)

    def __getattr__(self, name: str) -> Any:  # peek, tell, seek
        return getattr(self.fh, name)


@dataclass
class LoadResult:
    path: Path
    format: str
    entries: int  # entries (or flows) in the file
    hits: int  # requests read
    events: int  # tracking events decoded
    problems: list[str]


def iter_har_hits(path: str | Path, progress: Progress | None = None) -> Iterator[RawHit]:
    """The requests of a HAR or flow file in file order, streaming (see FileReader for problems)."""
    return iter(FileReader(path, progress))


def _load_steps(path: str | Path, session: Session, progress: Progress | None, batch: int,
                tee: Tee | None) -> Generator[None, None, LoadResult]:
    reader = FileReader(path, progress, tee)
    hits: list[RawHit] = []
    for hit in reader:
        hits.append(hit)
        if len(hits) % batch == 0:
            yield
    hits.sort(key=lambda h: h.time)
    before = len(session)
    for i, hit in enumerate(hits, 1):
        session.ingest(hit)
        if i % batch == 0:
            if progress:
                progress("decode", i, len(hits))
            yield
    if progress:
        progress("decode", len(hits), len(hits))
    session.tick(float("inf"))  # the file is complete: nothing pending will still arrive
    session.add_marks(reader.marks)
    return LoadResult(Path(path), reader.format, reader.entries, len(hits), len(session) - before,
                      reader.problems)


def load_file(path: str | Path, session: Session, progress: Progress | None = None,
              tee: Tee | None = None) -> LoadResult:
    """Read a HAR or mitmproxy flow file into `session` (decoders and checks run on every hit, in time
    order), then settle pending verdicts; `tee` is given every byte of the file (read to its end). Raises
    HarReadError when the file cannot be read at all."""
    steps = _load_steps(path, session, progress, 1000, tee)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


async def load_file_async(path: str | Path, session: Session, progress: Progress | None = None,
                          batch: int = 200, tee: Tee | None = None) -> LoadResult:
    """load_file that gives the event loop (the TUI) a turn every `batch` entries."""
    steps = _load_steps(path, session, progress, batch, tee)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value
        await asyncio.sleep(0)
