"""Writing HAR files: a session saved at once (`save_har`, the TUI's Ctrl+S) and the live `--har`
recorder (HarRecorder, a mitmproxy addon), whose file is a journal appended to in place (_Journal).

A file is `har_head` (the log's fields, `"entries": [`), the entries (pixelspy/har/render.py), then
the `trailer`: the end of the entries and the session's marks (MARKS_KEY). The log carries
`_pixelspy.redacted` and says so in `log.comment`.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import tempfile
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pixelspy import __version__, decoders
from pixelspy.har.format import MARKS_KEY, changed_hit, iso
from pixelspy.har.redact import masked
from pixelspy.har.render import flow_entry, render_entry
from pixelspy.model import RawHit, TrackingEvent
from pixelspy.session import MAX_MARKS, Mark, Session

log = logging.getLogger("pixelspy")


def trailer(marks: list[Mark], redact: bool) -> str:
    """The end of the entries and the marks; a redacted file masks emails and phones the user typed
    into a label as it masks them everywhere else."""
    listed = json.dumps([{"label": masked(m.label) if redact else m.label, "time": iso(m.time)} for m in marks])
    return f'\n], "{MARKS_KEY}": {listed}}}}}\n'


def har_head(redact: bool, traffic: str) -> str:
    """The file up to the first entry: the log's fields, then `"entries": [`."""
    head = {
        "version": "1.2",
        "creator": {"name": "pixelspy", "version": __version__},
        "comment": ("Redacted by pixelspy: cookie values, credentials, access tokens, plain emails and "
                    "phone numbers are masked." if redact else "Not redacted (pixelspy --no-redact)."),
        "_pixelspy": {"redacted": redact, "traffic": traffic},
        "pages": [],
    }
    return '{"log": ' + json.dumps(head)[:-1] + ', "entries": [\n'


def har_text(entries: list[str], redact: bool, traffic: str, marks: list[Mark]) -> str:
    """The file around already serialised entries (so unchanged entries are not re-serialised)."""
    return har_head(redact, traffic) + ",\n".join(entries) + trailer(marks, redact)


def atomic_write(path: str | Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: readers see the old or the new file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _events_by_hit(session: Session) -> dict[str, list[TrackingEvent]]:
    out: dict[str, list[TrackingEvent]] = {}
    for ev in session:
        out.setdefault(ev.hit_id, []).append(ev)
    return out


def save_har(session: Session, path: str | Path, redact: bool = True,
             recorder: HarRecorder | None = None) -> int:
    """Save the session's tracking hits as HAR; returns the number of entries.

    With the live `recorder`, its entries are written (responses, timings, and all traffic under
    --har-all); without, entries are built from the session's hits (no responses: a session opened
    from a file keeps requests only)."""
    if recorder is not None:
        return recorder.write(path, redact)
    by_hit = _events_by_hit(session)
    hits = sorted(session.hits.values(), key=lambda h: h.time)
    texts = [json.dumps(render_entry(h, by_hit.get(h.id, []), None, redact)) for h in hits]
    atomic_write(path, har_text(texts, redact, "tracking", session.marks))
    return len(texts)


# --------------------------------------------------------------------------------- live recording


@dataclass
class _Record:
    hit: RawHit
    base: dict
    event_ids: list[str]

    @property
    def size(self) -> int:
        """Bytes held, roughly: the request body and the response text dominate."""
        return len(self.hit.body) + len(self.base.get("response", {}).get("content", {}).get("text") or "")


class HarRecorder:
    """mitmproxy addon recording the finished flows of tracking hits (or all traffic) as HAR entries.

    With a `path`, each entry also goes to the file as the recording goes (_Journal). An entry is
    written there once, with its events' findings as they are then: a finding that settles later (a
    duplicate seen afterwards, a consent verdict) is not rewritten into the file. It need not be:
    opening a HAR decodes and checks every hit again.

    The last `max_entries` entries (with at most `max_bytes` of bodies) are also kept in memory for
    `write` (the TUI's Ctrl+S), which renders them with today's findings. Flows are not kept: each
    becomes its entry when it finishes. Tracking flows are those the PixelSpy addon decoded
    (`flow.metadata["pixelspy"]`) or that a decoder route matches (the twin copies of a beacon). Add
    it after the PixelSpy addon (ProxyConfig.addons)."""

    def __init__(self, session: Session, path: str | Path | None, *, all_traffic: bool = False,
                 redact: bool = True, max_entries: int = 20_000, max_bytes: int = 256 << 20,
                 interval_s: float = 0.25):
        self.session = session
        self.path = Path(path) if path else None
        self.all_traffic = all_traffic
        self.redact = redact
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._bytes = 0  # of the records kept
        self._records: OrderedDict[str, _Record] = OrderedDict()
        # The session's marks since the start (a cleared session keeps its entries here, so its marks too).
        self.marks: list[Mark] = list(session.marks)
        session.subscribe_marks(self._marked)
        self.registry = decoders.default_registry()
        self._auth_required = False  # --auth (mitmproxy's proxyauth option), as configure() saw it
        self._journal = (_Journal(self.path, lambda rec: self._entry_text(rec, redact), interval_s,
                                  har_head(redact, self._traffic), trailer(self.marks, redact))
                         if self.path is not None else None)

    def __len__(self) -> int:
        return len(self._records)

    @property
    def _traffic(self) -> str:
        return "all" if self.all_traffic else "tracking"

    def open(self) -> None:
        """Start the file `path` as an empty HAR (OSError when it cannot be written)."""
        self._journal.open()

    # mitmproxy hooks
    def running(self) -> None:
        if self._journal is not None:
            self._journal.start()

    # Recorded after the hook, like the PixelSpy addon's decoding (which this reads, so it must run
    # first): making the entry takes longer than answering the hit.
    def response(self, flow) -> None:
        from pixelspy.flows import after_hook  # (mitmproxy is imported only when proxying)

        after_hook(self._keep, flow)

    def error(self, flow) -> None:
        self.response(flow)

    async def done(self) -> None:
        for _ in range(2):  # a flow that finished just before: after_hook records it two turns later
            await asyncio.sleep(0)
        if self._journal is not None:
            await self._journal.close()

    def configure(self, updated) -> None:
        if "proxyauth" in updated:
            from mitmproxy import ctx

            self._auth_required = bool(ctx.options.proxyauth)

    def _keep(self, flow) -> None:
        from pixelspy.flows import refused_by_proxyauth, request_url

        try:
            if refused_by_proxyauth(flow, self._auth_required):
                return  # (a LAN device without the password must not write into the file either)
            ids = list(flow.metadata.get("pixelspy") or [])
            if not (ids or self.all_traffic or self.registry.find_url(request_url(flow))):
                return
            self._add(flow, ids)
        except Exception:  # noqa: BLE001 - never break the user's traffic over the HAR file
            log.exception("pixelspy: could not record %s for the HAR file", flow.request.pretty_url)

    def _add(self, flow, ids: list[str]) -> None:
        from pixelspy.flows import raw_hit

        if flow.id in self._records:  # an error after the response: the entry has the response
            return
        hit = raw_hit(flow)
        if hit_id := flow.metadata.get("pixelspy_hit"):  # the id the session knows the hit by
            hit = changed_hit(hit, id=hit_id)
        rec = _Record(hit, flow_entry(flow), ids)
        self._records[flow.id] = rec
        self._bytes += rec.size
        if self._journal is not None:
            self._journal.add(rec)
        while len(self._records) > self.max_entries or self._bytes > self.max_bytes:
            self._bytes -= self._records.popitem(last=False)[1].size

    def _marked(self, marks: list[Mark]) -> None:
        self.marks.extend(marks)
        del self.marks[:-MAX_MARKS]
        if self._journal is not None:
            self._journal.set_trailer(trailer(self.marks, self.redact))

    def _entry_text(self, rec: _Record, redact: bool) -> str:
        events = [ev for i in rec.event_ids if (ev := self.session.get(i))]
        return json.dumps(render_entry(rec.hit, events, rec.base, redact))

    def write(self, path: str | Path, redact: bool | None = None) -> int:
        """Write the entries kept in memory, with the findings as they are now, to `path` (atomic)."""
        if self._journal is not None and self._journal.is_open and Path(path).resolve() == self.path.resolve():
            raise OSError(errno.EBUSY, f"pixelspy is recording to {path} (--har); choose another file")
        redact = self.redact if redact is None else redact
        records = list(self._records.values())
        atomic_write(path, har_text([self._entry_text(r, redact) for r in records], redact, self._traffic,
                                    self.marks))
        return len(records)


# ----------------------------------------------------------- the --har file, appended to in place

# Entries rendered and appended per slice: a burst is written a slice at a time, the proxy answering
# in between.
_APPEND_SLICE = 64


class _Journal:
    """The `--har` file, appended to in place: every `interval_s` the entries of the flows finished
    since are written over the file's trailer, followed by it again (with today's marks), and
    flushed. The file is a complete HAR after every tick, so a crash, even kill -9, keeps every entry
    up to the last tick; a kill in the middle of a write leaves a cut tail, which the reader drops
    with a note."""

    def __init__(self, path: Path, entry_text: Callable[[_Record], str], interval_s: float, head: str,
                 trailer_text: str):
        self.path = path
        self.entry_text = entry_text
        self.interval_s = interval_s
        self._head = head.encode()
        self._trailer = trailer_text.encode()  # serialised when the marks change
        self._marks_unwritten = False
        self._unwritten: deque[_Record] = deque()
        self._file: BinaryIO | None = None
        self._end = 0  # where the trailer starts in the file
        self._written = 0  # entries in the file
        self._task: asyncio.Task | None = None

    @property
    def is_open(self) -> bool:
        return self._file is not None

    def open(self) -> None:
        """Start the file as an empty HAR (OSError when it cannot be written)."""
        self._file = open(self.path, "w+b")  # noqa: SIM115 - open until `close`
        self._file.write(self._head + self._trailer)
        self._file.flush()
        self._end, self._written = len(self._head), 0

    def start(self) -> None:
        if self._task is None:
            if self._file is None:
                self.open()
            self._task = asyncio.get_running_loop().create_task(self._flush_loop(), name="pixelspy-har")

    def add(self, rec: _Record) -> None:
        self._unwritten.append(rec)

    def set_trailer(self, text: str) -> None:
        self._trailer = text.encode()
        self._marks_unwritten = True  # written at the next tick, with or without new entries

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._file is not None:
            while self.append_unwritten(_APPEND_SLICE):
                pass
            self._file.close()
            self._file = None

    def append_unwritten(self, most: int) -> int:
        """Append up to `most` waiting entries to the file; returns how many were taken."""
        batch = [self._unwritten.popleft() for _ in range(min(most, len(self._unwritten)))]
        texts = []
        for rec in batch:
            try:
                texts.append(self.entry_text(rec))
            except Exception:  # noqa: BLE001 - one entry that cannot be rendered must not cost the others
                log.exception("pixelspy: could not write the entry of %s to the HAR file", rec.hit.url[:200])
        if texts or self._marks_unwritten:
            try:
                self._append(texts)
            except OSError as e:
                log.warning("pixelspy: could not write %d entries to %s: %s", len(texts), self.path, e)
        return len(batch)

    def _append(self, texts: list[str]) -> None:
        """Write `texts` (maybe none) as entries after the last, then the trailer with today's marks."""
        data = (",\n" if self._written and texts else "") + ",\n".join(texts)
        encoded = data.encode()  # (json.dumps wrote ASCII)
        self._marks_unwritten = False
        self._file.seek(self._end)
        self._file.write(encoded + self._trailer)
        self._file.truncate()  # after a failed write, what lay beyond the new end
        self._file.flush()
        self._end += len(encoded)
        self._written += len(texts)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            while self.append_unwritten(_APPEND_SLICE) == _APPEND_SLICE:
                await asyncio.sleep(0)
