"""Reading session files: an event or hit back by id, a whole session into a Session, the list of
sessions, a screenful of events by seq (the queries a viewer filters with: queries.py)."""

from __future__ import annotations

import json
import sqlite3
import zlib
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

from pixelspy.model import RawHit, TrackingEvent, keep_id
from pixelspy.session import MAX_MARKS, Mark, Session
from pixelspy.store import records
from pixelspy.store.records import BadRow, unpack
from pixelspy.store.schema import SUFFIX, StoreError, connect, reading, reason

_EVENT = "SELECT json FROM events WHERE id = ?"
_FINDINGS = ("SELECT code, severity, message, hint, related, pending FROM findings WHERE event_id = ? "
             "ORDER BY n")
_FINDINGS_AT = ("SELECT event_id, code, severity, message, hint, related, pending FROM findings "
                "WHERE event_id IN (SELECT id FROM events WHERE seq IN ({})) ORDER BY event_id, n")
_HIT = ("SELECT id, time, method, url, headers, body, body_zlib, body_size, body_truncated, client, device FROM hits "
        "WHERE id = ?")
# SQLite's smallest integer: the seq before a file's first row is at least this (a row at this seq,
# in a hand-made file, is not listed: first_seq).
MIN_SEQ = -2**63
# A HAR entry of an answer larger than this (inflated) is not read back: the recorder writes a few KB.
MAX_RESPONSE_JSON = 4 * 1024 * 1024
PROBES = 900  # seqs a query of `placed` asks at most (within SQLite's oldest limit on parameters)


def readable_time(t: object) -> bool:
    """Whether `t` is a time a clock and a HAR file show (a hostile file's may be text, NaN, 1e308)."""
    try:
        datetime.fromtimestamp(t, timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return False
    return True


def event_from_row(text: object, findings: list[tuple]) -> TrackingEvent:
    """records.event_from_row, of a time readable_time shows (BadRow otherwise)."""
    ev = records.event_from_row(text, findings)
    if not readable_time(ev.time):
        raise BadRow("no time a clock shows")
    return ev


def hit_from_row(*row: object) -> RawHit:
    """records.hit_from_row, of a time readable_time shows (BadRow otherwise)."""
    hit = records.hit_from_row(*row)
    if not readable_time(hit.time):
        raise BadRow("no time a clock shows")
    return hit


def event(db: sqlite3.Connection, event_id: str) -> TrackingEvent | None:
    row = db.execute(_EVENT, (event_id,)).fetchone()
    if row is None:
        return None
    try:
        return event_from_row(row[0], db.execute(_FINDINGS, (event_id,)).fetchall())
    except BadRow:
        return None


def hit(db: sqlite3.Connection, hit_id: str) -> RawHit | None:
    row = db.execute(_HIT, (hit_id,)).fetchone()
    try:
        return hit_from_row(*row) if row is not None else None
    except BadRow:
        return None


def response(db: sqlite3.Connection, hit_id: str) -> dict | None:
    """The HAR entry recorded of a hit's answer, if any."""
    row = db.execute("SELECT entry, zlib FROM answers WHERE hit_id = ?", (hit_id,)).fetchone()
    if row is None:
        return None
    try:
        entry = json.loads(unpack(*row, MAX_RESPONSE_JSON))
    except (BadRow, zlib.error, ValueError, RecursionError):
        return None
    return entry if isinstance(entry, dict) and isinstance(entry.get("response"), dict) else None


@dataclass
class Loaded:
    path: Path
    events: int
    hits: int
    problems: list[str] = field(default_factory=list)


def load(path: Path | str, session: Session) -> Loaded:
    """Read a session file into `session` as it was recorded: events with their findings and ids,
    requests, twins, marks, device names. StoreError when the file cannot be read; a row that does
    not fit is skipped and counted in `problems`."""
    path = Path(path)
    with reading(path) as db:
        return _load(db, path, session)


def _load(db: sqlite3.Connection, path: Path, session: Session) -> Loaded:
    # Device names first: the events are published (printed) as they are read.
    for key, name in db.execute("SELECT key, name FROM devices"):
        if isinstance(key, str) and isinstance(name, str) and session.devices.name(key) != name:
            session.devices.rename(key, name)
    # Ids made from now on come after the file's (its twins' hits have no event to keep theirs).
    for (largest,) in db.execute("SELECT id FROM hits ORDER BY length(id) DESC, id DESC LIMIT 1"):
        keep_id(largest, "h")
    skipped = events = hits = 0
    # An event's request and findings are looked up by key as it is read: a file may hold millions,
    # more than memory, of which the session keeps the newest.
    for event_id, text in db.execute("SELECT id, json FROM events ORDER BY seq"):
        try:
            ev = event_from_row(text, db.execute(_FINDINGS, (event_id,)).fetchall())
        except BadRow:
            ev = None
        if ev is None or not keep_id(ev.id, "e") or session.get(ev.id) is not None:
            skipped += 1
            continue
        request = hit(db, ev.hit_id) if ev.hit_id and ev.hit_id not in session.hits else None
        hits += request is not None
        session.add_stored(ev, request)
        events += 1
    session.add_marks(marks(db))
    problems = [f"events that could not be read were skipped: {skipped:,}"] if skipped else []
    return Loaded(path, events, hits, problems)


def marks(db: sqlite3.Connection) -> list[Mark]:
    """The file's newest MAX_MARKS marks, in order; one whose label is not text or whose time no
    clock shows is skipped."""
    rows = db.execute("SELECT time, label FROM (SELECT seq, time, label FROM marks ORDER BY seq DESC LIMIT ?) "
                      "ORDER BY seq", (MAX_MARKS,))
    return [Mark(label, float(t)) for t, label in rows if isinstance(label, str) and readable_time(t)]


@dataclass
class SessionInfo:
    path: Path
    started: datetime | None
    events: int | None  # None: the file could not be read (in use, damaged)
    size: int
    note: str = ""


def info(path: Path) -> SessionInfo:
    size = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    try:
        db = connect(path, write=False)
    except StoreError as e:
        return SessionInfo(path, None, None, size, str(e).removeprefix(f"{path}: "))
    try:
        started = db.execute("SELECT value FROM meta WHERE key = 'started'").fetchone()
        # (the rows, not the largest seq: a hand-edited file's seqs have gaps; 10 ms at a million)
        count = db.execute("SELECT count(*) FROM events").fetchone()[0]
        return SessionInfo(path, _started(started[0]) if started else None, count, size)
    except (sqlite3.Error, ValueError, OverflowError, OSError) as e:
        return SessionInfo(path, None, None, size, reason(path, e).removeprefix(f"{path}: "))
    finally:
        db.close()


def _started(value: object) -> datetime | None:
    """meta's start time (None: junk, in a hand-edited file: text, 1e400)."""
    try:
        return datetime.fromtimestamp(float(value))
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def sessions(folder: Path, most: int = 20) -> list[SessionInfo]:
    """The newest `most` session files of `folder` (by modification time)."""
    try:
        files = [p for p in folder.iterdir() if p.name.endswith(SUFFIX) and p.is_file()]
    except OSError:
        return []
    files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [info(p) for p in files[:most]]


def iter_hits(db: sqlite3.Connection) -> Iterator[tuple[RawHit, list[TrackingEvent], dict | None]]:
    """Every readable hit in time order with its events and its recorded answer (HAR export)."""
    for row in db.execute(_HIT.replace(" WHERE id = ?", " ORDER BY time")):
        try:
            h = hit_from_row(*row)
        except BadRow:
            continue
        ids = [r[0] for r in db.execute("SELECT id FROM events WHERE hit_id = ? ORDER BY seq", (h.id,))]
        yield h, [e for i in ids if (e := event(db, i)) is not None], response(db, h.id)


def last_seq(db: sqlite3.Connection) -> int:
    return db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]


def first_seq(db: sqlite3.Connection) -> int:
    """The first row's seq (1: none), at least MIN_SEQ + 1: a range of rows is asked from the seq
    before it."""
    return max(db.execute("SELECT coalesce(min(seq), 1) FROM events").fetchone()[0], MIN_SEQ + 1)


def seq_run(db: sqlite3.Connection) -> range | None:
    """The file's seqs when they run without a gap (a file pixelspy wrote: 1, 2, 3…; range(0): no
    event); None when they do not (a hostile or hand-edited file: rows deleted, seqs written by
    hand). Told by SQLite's count of rows (its smallest index: 10 ms at a million) against the
    first and the last seq."""
    first = db.execute("SELECT min(seq) FROM events").fetchone()[0]
    if first is None:
        return range(0)
    last = db.execute("SELECT max(seq) FROM events").fetchone()[0]
    rows = db.execute("SELECT count(*) FROM events").fetchone()[0]
    return range(first, last + 1) if rows == last - first + 1 else None


def nth_seq(db: sqlite3.Connection, after: int, upto: int, n: int) -> int:
    """The seq of the `n`-th row after `after`; `upto` when (after, upto] holds fewer."""
    row = db.execute("SELECT seq FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 1 OFFSET ?",
                     (after, upto, n - 1)).fetchone()
    return upto if row is None else row[0]


def seqs_of(db: sqlite3.Connection, ids: list[str]) -> dict[str, int]:
    """The seqs of the events `ids` that the file holds (by id)."""
    found: dict[str, int] = {}
    for i in range(0, len(ids), 900):  # within SQLite's oldest limit on parameters
        group = ids[i:i + 900]
        found.update(db.execute(f"SELECT id, seq FROM events WHERE id IN ({','.join('?' * len(group))})", group))
    return found


def seqs_after(db: sqlite3.Connection, times: list[float], after: int, upto: int) -> list[int]:
    """The seq of the first event in (after, upto] later than each of `times` (ascending; upto + 1:
    none), by bisection on seq: events are written in the order they came, so their times rise with
    it (give or take the clock of their source). placed (below) on `db`."""
    return placed(times, after, upto, partial(times_from, db))


def placed(times: list[float], after: int, upto: int,
           times_from: Callable[[list[int]], dict[int, float]]) -> list[int]:
    """seqs_after, the times' bisections made together: a step of all of them one query
    (`times_from(seqs)`, of PROBES seqs at most, e.g. times_from below), so a file's 10,000 marks
    cost ≈ 20 queries, not 10,000 bisections of ≈ 20 each. Times that took the same way so far
    share each step's probe: a step asks at most as many seqs as the file holds rows. (Each query
    apart: a viewer's worker lets the writer commit between them.)"""
    found = [0] * len(times)
    ahead = [(after + 1, upto + 1, 0, len(times))]  # (lo, hi, and the times [i, j) bisected there)
    while True:
        for lo, hi, i, j in ahead:
            if lo >= hi:
                found[i:j] = [lo] * (j - i)
        steps = [(lo, hi, i, j) for lo, hi, i, j in ahead if lo < hi and i < j]
        if not steps:
            return found
        mids = sorted({(lo + hi) // 2 for lo, hi, _, _ in steps})
        probed: dict[int, float] = {}
        for k in range(0, len(mids), PROBES):
            probed.update(times_from(mids[k:k + PROBES]))
        ahead = []
        for lo, hi, i, j in steps:
            mid = (lo + hi) // 2
            t = probed.get(mid)
            # Those earlier than the event at mid go before it (each time's own bisection's way).
            k = i if t is None else bisect_left(times, t, i, j)
            ahead += [(lo, mid, i, k), (mid + 1, hi, k, j)]


def most_probes(after: int, upto: int, times: int) -> int:
    """The most seqs `placed` asks for `times` times in (after, upto]: a step's at most as many as
    the times, as the ways taken so far, as the seqs."""
    span = max(0, upto - after)
    return sum(min(times, 2 ** step, span) for step in range(span.bit_length() + 1))


def times_from(db: sqlite3.Connection, seqs: list[int]) -> dict[int, float]:
    """The time of the first event at or after each of `seqs` (PROBES at most; none past the last,
    nor a time that is not a number: a hand-written file's)."""
    rows = db.execute("SELECT column1, (SELECT time FROM events WHERE seq >= column1 ORDER BY seq LIMIT 1) "
                      f"FROM (VALUES {','.join(['(?)'] * len(seqs))})", seqs)
    return {seq: t for seq, t in rows if type(t) is float or type(t) is int}


def events_at(db: sqlite3.Connection, seqs: list[int]) -> dict[int, TrackingEvent]:
    """The events at `seqs` (a screenful), with their findings: two queries."""
    found: dict[int, TrackingEvent] = {}
    for i in range(0, len(seqs), 900):
        group = list(seqs[i:i + 900])
        marks = ",".join("?" * len(group))
        rows = db.execute(f"SELECT seq, id, json FROM events WHERE seq IN ({marks})", group).fetchall()
        findings: dict[str, list[tuple]] = {}
        for event_id, *finding in db.execute(_FINDINGS_AT.format(marks), group):
            findings.setdefault(event_id, []).append(tuple(finding))
        for seq, event_id, text in rows:
            try:
                found[seq] = event_from_row(text, findings.get(event_id, []))
            except BadRow:
                pass
    return found


def settled_findings(db: sqlite3.Connection) -> dict[str, int]:
    """Findings settled by now, per severity, of every event the file holds (--no-ui's closing summary)."""
    return dict(db.execute("SELECT severity, count(*) FROM findings WHERE pending = 0 GROUP BY severity"))
