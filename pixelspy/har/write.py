"""Writing HAR files: a session saved at once (`save_har`, the TUI's Ctrl+S without a session file)
and the recorders, mitmproxy addons: in memory (HarRecorder: --har with --no-session, the audit), or
into the session file (StoreRecorder: --har-all). With a session file, --har and Ctrl+S export
from it (pixelspy/store/export.py).

A file is `har_head` (the log's fields, `"entries": [`), the entries (pixelspy/har/render.py), then
the `trailer`: the end of the entries and the session's marks (MARKS_KEY). The log carries
`_pixelspy.redacted` and says so in `log.comment`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from pixelspy import __version__
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


def har_head(redact: bool, traffic: str, note: str = "") -> str:
    """The file up to the first entry: the log's fields (`note` ends its comment), then `"entries": [`."""
    said = ("Redacted by pixelspy: cookie values, credentials, access tokens, plain emails and phone numbers "
            "are masked." if redact else "Not redacted (pixelspy --no-redact).")
    head = {
        "version": "1.2",
        "creator": {"name": "pixelspy", "version": __version__},
        "comment": f"{said} {note}" if note else said,
        "_pixelspy": {"redacted": redact, "traffic": traffic},
        "pages": [],
    }
    return '{"log": ' + json.dumps(head)[:-1] + ', "entries": [\n'


def har_text(entries: list[str], redact: bool, traffic: str, marks: list[Mark]) -> str:
    """The file around already serialised entries (so unchanged entries are not re-serialised)."""
    return har_head(redact, traffic) + ",\n".join(entries) + trailer(marks, redact)


def start_har_file(path: str | Path, redact: bool, traffic: str, note: str) -> None:
    """A HAR without entries, for a file written later (--har at exit): a path that cannot be written
    shows at once; `note` says when the file gets its entries. OSError when it cannot be written."""
    atomic_write(path, har_head(redact, traffic, note) + trailer([], redact))


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


class _FlowRecorder:
    """mitmproxy addon base: the finished flows of tracking hits (or all traffic), each as its request
    (a RawHit under the id the session knows it by) and mitmproxy's HAR entry of its answer, handed to
    `_add` once; flows are not kept. Tracking flows are those the PixelSpy addon decoded
    (`flow.metadata["pixelspy"]`) or whose route it found (TRACKING_HIT: the twin copies of a beacon).
    Requests refused by --auth are never recorded. Add it after the PixelSpy addon (ProxyConfig.addons)."""

    def __init__(self, all_traffic: bool):
        self.all_traffic = all_traffic
        self._auth_required = False  # --auth (mitmproxy's proxyauth option), as configure() saw it
        self._recorded: weakref.WeakSet = weakref.WeakSet()  # flows recorded, while they live

    @property
    def traffic(self) -> str:
        return "all" if self.all_traffic else "tracking"

    # Recorded after the hook, like the PixelSpy addon's decoding (which this reads, so it must run
    # first): making the entry takes longer than answering the hit.
    # Other traffic is passed over here, unless all is recorded: not queued, not looked up again.
    def response(self, flow) -> None:
        from pixelspy.flows import TRACKING_HIT, after_hook  # (mitmproxy is imported only when proxying)

        if self.all_traffic or flow.metadata.get(TRACKING_HIT) or flow.metadata.get("pixelspy"):
            after_hook(self._keep, flow)

    def error(self, flow) -> None:
        self.response(flow)

    async def done(self) -> None:
        for _ in range(2):  # a flow that finished just before: after_hook records it two turns later
            await asyncio.sleep(0)

    def configure(self, updated) -> None:
        if "proxyauth" in updated:
            from mitmproxy import ctx

            self._auth_required = bool(ctx.options.proxyauth)

    def _keep(self, flow) -> None:
        from pixelspy.flows import raw_hit, refused_by_proxyauth

        try:
            if refused_by_proxyauth(flow, self._auth_required):
                return  # (a LAN device without the password must not write into the file either)
            ids = list(flow.metadata.get("pixelspy") or [])
            if flow in self._recorded:  # an error after the response: recorded with it
                return
            self._recorded.add(flow)
            hit = raw_hit(flow)
            if hit_id := flow.metadata.get("pixelspy_hit"):  # the id the session knows the hit by
                hit = changed_hit(hit, id=hit_id)
            self._add(hit, flow_entry(flow), ids)
        except Exception:  # noqa: BLE001 - never break the user's traffic over the HAR file
            log.exception("pixelspy: could not record %s for the HAR file", flow.request.pretty_url)

    def _add(self, hit: RawHit, entry: dict, event_ids: list[str]) -> None:
        raise NotImplementedError


class StoreRecorder(_FlowRecorder):
    """--har-all with a session file: every flow recorded into the session file as the tracking hits
    are (its request bounded as theirs, 2 MB; its answer as theirs, 256 KB), so that the HAR exported
    from the file (Ctrl+S, --har at exit, `pixelspy open SESSION --har FILE` after a crash) holds every
    flow, while memory keeps none. A request the session kept (a tracking hit's) is in the file already:
    of it, only the answer."""

    def __init__(self, writer) -> None:  # a pixelspy.store.writer.StoreWriter, open
        from pixelspy.store.export import record_all_traffic

        super().__init__(all_traffic=True)
        self.writer = writer
        writer.read(record_all_traffic)

    def _add(self, hit: RawHit, entry: dict, event_ids: list[str]) -> None:
        if not event_ids:  # (a twin copy's request is in the file too: the file keeps it once)
            self.writer.hit(hit, None)
        self.writer.response(hit.id, entry)


class HarRecorder(_FlowRecorder):
    """Keeps the finished flows of tracking hits (or all traffic) as HAR entries, in memory: the last
    `max_entries` (with at most `max_bytes` of bodies). `write` renders them with the findings as they
    are then (the TUI's Ctrl+S without a session file, the audit's files). With a `path` (--har with
    --no-session), `open` starts that file without entries and `write_file` writes it once, at exit:
    no journal, a crash loses it (with a session file, StoreRecorder and the session file keep them)."""

    def __init__(self, session: Session, path: str | Path | None = None, *, all_traffic: bool = False, redact: bool = True,
                 max_entries: int = 20_000, max_bytes: int = 256 << 20):
        super().__init__(all_traffic)
        self.session = session
        self.path = Path(path) if path else None
        self.redact = redact
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._bytes = 0  # of the records kept
        self._records: OrderedDict[str, _Record] = OrderedDict()
        # The session's marks since the start (a cleared session keeps its entries here, so its marks too).
        self.marks: list[Mark] = list(session.marks)
        session.subscribe_marks(self._marked)

    def __len__(self) -> int:
        return len(self._records)

    def open(self, note: str) -> None:
        """Start the file `path` without entries (OSError when it cannot be written)."""
        start_har_file(self.path, self.redact, self.traffic, note)

    def write_file(self) -> int:
        """Write the file `path` (at exit)."""
        return self.write(self.path)

    def _add(self, hit: RawHit, entry: dict, event_ids: list[str]) -> None:
        rec = _Record(hit, entry, event_ids)
        self._records[hit.id] = rec
        self._bytes += rec.size
        while len(self._records) > self.max_entries or self._bytes > self.max_bytes:
            self._bytes -= self._records.popitem(last=False)[1].size

    def _marked(self, marks: list[Mark]) -> None:
        self.marks.extend(marks)
        del self.marks[:-MAX_MARKS]

    def _entry_text(self, rec: _Record, redact: bool) -> str:
        # From the session file too: with one, memory keeps only the newest events.
        events = [ev for i in rec.event_ids if (ev := self.session.event(i))]
        return json.dumps(render_entry(rec.hit, events, rec.base, redact))

    def write(self, path: str | Path, redact: bool | None = None) -> int:
        """Write the entries kept in memory, with the findings as they are now, to `path` (atomic)."""
        redact = self.redact if redact is None else redact
        records = list(self._records.values())
        atomic_write(path, har_text([self._entry_text(r, redact) for r in records], redact, self.traffic,
                                    self.marks))
        return len(records)
