"""Recording a live session into its file, off the proxy's path.

The session's subscribers hand the writer events, hits and marks; the hot path only puts them in
a dict or a list. A background thread with its own connection commits what came every
`interval_s` (one transaction a batch): serialising, compressing and SQLite's work happen there,
and sqlite3 lets go of the GIL while SQLite runs. A kill -9 loses at most the batch being
gathered. A batch is bounded (MAX_BATCH_ROWS): one that fills before the thread's turn is handed to
it at once, and the subscriber waits (up to MAX_WAIT_S) until the thread has committed it. An error
of the disk (full, I/O) stops recording with a warning on the "pixelspy" logger (the TUI's log,
stderr with --no-ui) and `on_failure`; the proxy runs on.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar

from pixelspy import __version__
from pixelspy.model import RawHit, TrackingEvent
from pixelspy.session import Mark, Session
from pixelspy.store import reader
from pixelspy.store.records import event_row, finding_row, hit_row, pack, row_words, search_words, severity_rank
from pixelspy.store.schema import WORDS_UPTO, StoreError, close_writer, connect, has_fts_table, reason, words_upto

log = logging.getLogger("pixelspy")
T = TypeVar("T")

# Commits come at least this often (issue #27: a crash loses at most 250 ms); a batch's own time
# comes on top, so the wait is shorter.
COMMIT_EVERY_S = 0.1

_EVENTS = ("INSERT INTO events (seq, id, time, platform, pixel, event, page, device, kind, source, severity, "
           "hit_id, json)")
# An event already in the file (seq None) keeps its place; what findings change is rewritten.
_EVENT_CHANGED = " ON CONFLICT(id) DO UPDATE SET severity = excluded.severity, json = excluded.json"
_HITS = ("INSERT OR IGNORE INTO hits (id, time, method, url, headers, body, body_zlib, body_size, body_truncated, "
         "client, device)")
# A flat-out ingest (a HAR import, a load test) keeps the GIL, so the thread came seldom: its batches
# grew to thousands of rows and seconds of lag (what a kill -9 loses), and what they held stayed as
# fragmented memory after they were freed (benchmarks/RESULTS.md, session 14). A batch that reaches
# this many rows (new and changed events, hits; ≈ 230 hits, ≈ 20 ms of the thread's work) is handed
# to the thread, and the ingest waits for its commit.
MAX_BATCH_ROWS = 500
# … and so is one the thread has not taken this long after the last (its turn is every COMMIT_EVERY_S):
# at 1,000 hits a second, commits vying with the event loop for the GIL took 40 ms, up to 240, the next
# batch waited for them, and a kill -9 lost over 250 ms in 1 test run of 10 (session 19). The ingest's
# wait lets the thread commit at full speed.
LATE_AFTER_S = 0.15
# … but the ingest (the proxy's event loop) waits at most this long at a time: past it (a disk that
# stalls, a thread starved of CPU) the batch gathers on, and the next wait comes at twice its rows.
# (A proxy answering 400 tracking hits/s never waited: its batches stayed under 400 rows. 100 ms was
# too short on a loaded host: a flat-out ingest's batches grew to 4,500 rows again.)
MAX_WAIT_S = 0.25
# sqlite3 lets go of the GIL for every row it steps through: one statement per row made the writer's
# thread and the event loop hand the GIL back and forth for each row (each hand-over up to the GIL's
# switch interval: 5 ms, 1 ms in pixelspy's own process). Rows go many to a statement, in a few sizes
# (see insert): a text per batch size (up to 76 rows) missed sqlite3's statement cache, and SQLite
# compiled ≈ 3 statements a commit again, ≈ 4 µs a row (benchmarks/RESULTS.md, session 18). Each
# statement's rows are made just before it. A large batch (a burst, a flat-out import) goes 64 rows
# a statement (128 words for the full-text index): at 8 events a statement its commits handed the
# GIL to the busy event loop so often that they fell behind, and a kill -9 in a burst lost more than
# 250 ms (tests/e2e/test_har_kill.py failed 3 runs in 8).
CHUNK_ROWS = 8
EVENT_ROWS = HIT_ROWS = FINDING_ROWS = 64
FEED_ROWS_A_STATEMENT = 128
# `IN (?, …)` lists are padded (the last key again) to a power of two up to IN_KEYS, for the same reason.
IN_KEYS = 512
# The write-ahead log is copied back into the file (a checkpoint, in the commit that fills it) once
# it holds this many pages, not SQLite's 1,000: a commit writes ≈ 35 pages, mostly the same index
# leaves again, which one checkpoint copies once, and its two fsyncs come a quarter as often (the
# commit's CPU −10 %, bench_store --writer-only). The log grows to ≈ 16 MiB; close truncates it.
CHECKPOINT_PAGES = 4000
# SQLite's largest integer: a new event's seq is the file's largest + 1, so a file whose seqs reach it
# (hand-edited, hostile) has no room for one.
MAX_SEQ = 2**63 - 1
# The full-text index (events_fts) is fed the words of the rows committed since its last feed at most
# this often, or once this many rows wait, and at close: each feed makes a segment of it, and a
# segment a commit (every 100 ms) was ≈ 30 % of the writer's SQL work (benchmarks/RESULTS.md, session
# 15). The rows past it are matched by reading them (queries._past_index): a second's worth live, what
# a kill -9 left unfed in a file (fed when it is recorded into again).
FEED_EVERY_S = 1.0
FEED_ROWS = 1000
# Rows whose words are not at hand are read this many at a time (as queries.READ_WORDS_ROWS).
FEED_PART = 5000
_FEED = "INSERT INTO events_fts (rowid, name, params, page)"


def insert(db: sqlite3.Connection, head: str, items: Sequence[Any], tail: str = "",
           row: Callable[[Any], tuple] | None = None, most: int | None = None) -> None:
    """`head VALUES (…), (…), … tail`: each item a row (or made one by `row`), all of one width, up to
    `most` rows a statement (CHUNK_ROWS unless given): CHUNK_ROWS or fewer at once, more in powers of
    two (few texts, which sqlite3 keeps compiled). A statement's rows are made just before it runs:
    the thread holds the GIL for one statement's rows at a time, not a whole batch's (40 events' rows
    took ≈ 1 ms, the switch interval, which a waiting event loop then waited out)."""
    i, left, most = 0, len(items), most or CHUNK_ROWS
    while left:
        size = left if left <= CHUNK_ROWS else min(most, 1 << (left.bit_length() - 1))
        rows = items[i:i + size] if row is None else list(map(row, items[i:i + size]))
        db.execute(_values(head, len(rows[0]), size, tail), rows[0] if size == 1 else list(chain.from_iterable(rows)))
        i, left = i + size, left - size


@cache
def _values(head: str, width: int, rows: int, tail: str) -> str:
    one = "(" + ",".join("?" * width) + ")"
    return f"{head} VALUES {','.join([one] * rows)}{tail}"


def in_groups(keys: list[str]) -> Iterator[tuple[str, list[str]]]:
    """`keys` in groups for one `IN (…)` each: ("?,?,…", the group padded to as many keys)."""
    for i in range(0, len(keys), IN_KEYS):
        group = keys[i:i + IN_KEYS]
        size = 1 << (len(group) - 1).bit_length()
        yield _marks(size), group + group[-1:] * (size - len(group))


@cache
def _marks(n: int) -> str:
    return ",".join("?" * n)


def delete_where_in(db: sqlite3.Connection, table: str, column: str, keys: list[str]) -> None:
    for marks, group in in_groups(keys):
        db.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", group)


def _placed_row(placed: tuple[int | None, TrackingEvent]) -> tuple:
    """(seq, *event_row): the seq a new event takes, None for one the file holds (it keeps its own)."""
    return (placed[0], *event_row(placed[1]))


def _fed_row(words: tuple[int, tuple[str, str, str]]) -> tuple:
    """(seq, name, params, page) of (seq, words)."""
    return (words[0], *words[1])


def _no_seq_left(last: int) -> str:
    return (f"no room for new events (its events are numbered up to {last:,}; SQLite's largest number is {MAX_SEQ:,}): "
            "record into a new file")


class _Batch:
    """What came since the last commit."""

    def __init__(self) -> None:
        self.new: dict[str, TrackingEvent] = {}
        self.changed: dict[str, TrackingEvent] = {}
        self.hits: list[RawHit] = []
        self.twins: list[tuple[str, str]] = []  # (hit id, event id)
        self.marks: list[Mark] = []
        self.responses: list[tuple[str, dict]] = []  # (hit id, HAR entry of the answer)
        self.started = time.monotonic()
        self.full_at = MAX_BATCH_ROWS  # rows; doubled each time the thread did not take it in MAX_WAIT_S
        self.late_at = self.started + LATE_AFTER_S  # (never again once the thread did not take it in MAX_WAIT_S)

    def due(self) -> bool:
        """To be handed to the thread now: full, or late."""
        return (len(self.new) + len(self.changed) + len(self.hits) >= self.full_at
                or time.monotonic() > self.late_at)

    def __bool__(self) -> bool:
        return bool(self.new or self.changed or self.hits or self.twins or self.marks or self.responses)


class StoreWriter:
    """Records `session` into the session file `path` (created, or continued) while attached."""

    def __init__(self, session: Session, path: Path | str, *, interval_s: float = COMMIT_EVERY_S,
                 on_failure: Callable[[str], None] | None = None):
        self.session = session
        self.path = Path(path)
        self.interval_s = interval_s
        self.on_failure = on_failure
        self.failed: str | None = None  # why recording stopped
        self.db: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # the connection: the thread's commits, the session's reads
        self._batch = _Batch()
        # Notified when a flush takes the batch (a full batch waits for it: see _hand_over).
        self._taken = threading.Condition()
        self._wake = threading.Event()  # the thread's turn comes now
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._device_names: dict[str, str] = {}
        self._device_changes = -1  # Devices.changes when the names were last read
        self._seq = 0
        self._fts = False
        self._fed = 0  # the last seq whose words events_fts holds
        self._fed_at = 0.0  # (monotonic)
        self._words: dict[int, tuple[str, str, str]] = {}  # seq → words, of the rows committed since
        self.commits: deque[tuple[float, float, int]] = deque(maxlen=10_000)  # (lag s, took s, rows)
        self.waits: deque[float] = deque(maxlen=10_000)  # s a subscriber waited to hand a full batch over

    @property
    def events_in_file(self) -> int:
        return self._seq

    # ------------------------------------------------------------------ life

    def open(self) -> None:
        """Open (or create) the file and hold it; StoreError when it cannot be."""
        self.db = connect(self.path, write=True)
        # A multi-row statement's undo (its statement journal: the pages it changes, ≈ 200 KiB for
        # a batch of six hits) in memory: SQLite spilled it to a temporary file past 64 KiB, ≈ 50 of
        # a commit's ≈ 190 system calls (strace of bench_store's batches). The connection keeps no
        # other temporary data.
        self.db.execute("PRAGMA temp_store = MEMORY")
        self.db.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}")
        self._fts = has_fts_table(self.db)
        self._seq = self.db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        if self._seq >= MAX_SEQ:
            close_writer(self.db)
            self.db = None
            raise StoreError(f"{self.path}: {_no_seq_left(self._seq)}")
        self._fed = words_upto(self.db)
        if self._fed is None:  # a new file (or one filled without a writer): the index holds all its rows
            self._fed = self._seq
            self.db.execute("INSERT INTO meta VALUES (?, ?)", (WORDS_UPTO, self._seq))
        # (the rows a kill -9 left unfed are fed at the first commit)
        self._fed_at = time.monotonic() - (FEED_EVERY_S if self._fed < self._seq else 0.0)
        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('started', ?)", (repr(time.time()),))
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('pixelspy', ?)", (__version__,))

    def attach(self) -> None:
        """Hear the session from now on, and commit in the background."""
        s = self.session
        s.subscribe(self.event)
        s.subscribe_marks(self.marks)
        s.subscribe_hits(self.hit)
        s.store = self
        self._thread = threading.Thread(target=self._run, name="pixelspy-store", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Commit what is left, stop, and leave the file self-contained."""
        s = self.session
        s.unsubscribe(self.event)
        s.unsubscribe_marks(self.marks)
        s.unsubscribe_hits(self.hit)
        if s.store is self:
            s.store = None
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        else:
            self.flush(final=True)
        if self.db is not None:
            with self._lock:
                close_writer(self.db)
                self.db = None

    def _run(self) -> None:
        # Batches are taken every interval_s from the last one's start, not its end: a kill -9 loses
        # what came since the last batch was taken, so an interval and one commit at most, not an
        # interval and two (commits took ≈ 100 ms on a busy CI host: 305 ms lost against 250).
        next_at = time.monotonic()
        while not self._stop.is_set():
            next_at = max(next_at + self.interval_s, time.monotonic() - self.interval_s)
            self._wake.wait(max(0.0, next_at - time.monotonic()))
            self._wake.clear()
            self.flush()
        self.flush(final=True)

    # ------------------------------------------------------------------ the session's subscribers (hot path)

    def event(self, ev: TrackingEvent, is_update: bool) -> None:
        if self.failed is None:
            batch = self._batch
            (batch.changed if is_update else batch.new)[ev.id] = ev
            if batch.due():
                self._hand_over(batch)

    def hit(self, hit: RawHit, twin_of: str | None) -> None:
        if self.failed is None:
            batch = self._batch
            batch.hits.append(hit)
            if twin_of is not None:
                batch.twins.append((hit.id, twin_of))
            if batch.due():
                self._hand_over(batch)

    def marks(self, marks: list[Mark]) -> None:
        if self.failed is None:
            self._batch.marks.extend(marks)

    def response(self, hit_id: str, entry: dict) -> None:
        """The HAR entry of a hit's answer (response, timings), kept for HAR export."""
        if self.failed is None:
            self._batch.responses.append((hit_id, entry))

    def _hand_over(self, batch: _Batch) -> None:
        """The full `batch` goes to the thread now; the caller waits (the GIL let go, so the thread
        runs at full speed) while the thread commits the batch before and this one, up to MAX_WAIT_S
        at a time. Without the thread (not attached, or stopped) it is committed here."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            self.flush()
            return
        t0 = time.monotonic()
        self._wake.set()
        with self._taken:
            while self._batch is batch and self.failed is None and thread.is_alive():
                if (left := t0 + MAX_WAIT_S - time.monotonic()) <= 0 or not self._taken.wait(left):
                    batch.full_at *= 2
                    batch.late_at = math.inf
                    break
        # … and committed: the thread commits it alone, without handing the GIL to and fro with the
        # ingest at each statement (a flat-out ingest and its commits took ≈ 5 % less CPU so).
        if self._lock.acquire(timeout=max(0.0, t0 + MAX_WAIT_S - time.monotonic())):
            self._lock.release()
        self.waits.append(time.monotonic() - t0)

    # ------------------------------------------------------------------ committing

    def flush(self, final: bool = False) -> None:
        """Commit what came since the last flush, in one transaction (with a feed of the full-text
        index when one is due; `final`: the last one, before the file is closed). Flushes (the
        thread's, an export's) take turns, so batches are committed in the order they were gathered."""
        with self._lock:
            # The swap is one assignment: a subscriber adding meanwhile adds to one batch or the other.
            with self._taken:
                batch, self._batch = self._batch, _Batch()
                self._taken.notify_all()
            names = self._changed_device_names()
            if self.db is None or self.failed is not None or not (batch or names or self._feed_due(final)):
                return
            t0 = time.monotonic()
            try:
                self._transaction(self._write, batch, names)
                # The full-text index's feed (tens of ms at a second's rows) in a transaction of its
                # own, after the batch's: a kill -9 meanwhile loses none of the batch (a feed it cuts
                # is made again at the next open).
                if self._feed_due(final):
                    self._transaction(self._feed)
            except Exception as e:  # noqa: BLE001 - the disk, or a bug: recording stops, never the proxy
                self._fail(reason(self.path, e))
                return
            done = time.monotonic()
            rows = len(batch.new) + len(batch.changed) + len(batch.hits)
            self.commits.append((done - batch.started, done - t0, rows))

    def _transaction(self, write: Callable[..., None], *args) -> None:
        self.db.execute("BEGIN")
        try:
            write(*args)
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def _write(self, batch: _Batch, names: dict[str, str]) -> None:
        db = self.db
        insert(db, _HITS, batch.hits, row=hit_row, most=HIT_ROWS)
        insert(db, "INSERT OR IGNORE INTO twins (hit_id, event_id)", batch.twins)
        insert(db, "INSERT OR REPLACE INTO answers (hit_id, entry, zlib)",
               [(hit_id, *pack(json.dumps(entry).encode())) for hit_id, entry in batch.responses])
        new = list(batch.new.values())
        first = self._seq + 1
        if self._seq + len(new) > MAX_SEQ:
            raise OverflowError(_no_seq_left(self._seq))
        self._seq += len(new)
        changed = [ev for i, ev in batch.changed.items() if i not in batch.new]
        whole, ranks = self._rewrites(changed)
        insert(db, _EVENTS, [*enumerate(new, first), *((None, ev) for ev in whole)], _EVENT_CHANGED, _placed_row,
               most=EVENT_ROWS)
        if whole:  # (one the file did not hold yet took the next place)
            self._seq = db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        if ranks:
            db.executemany("UPDATE events SET severity = ? WHERE id = ?", ranks)
        if self._fts:  # (after the rows: the GIL is held for one statement's rows, or the words, at a time)
            self._words.update(zip(range(first, first + len(new)), map(search_words, new)))
        delete_where_in(db, "findings", "event_id", [ev.id for ev in changed])
        insert(db, "INSERT OR REPLACE INTO findings (event_id, n, code, severity, message, hint, related, pending)",
               [(ev.id, n, f) for ev in (*new, *changed) for n, f in enumerate(ev.findings)], row=finding_row,
               most=FINDING_ROWS)
        insert(db, "INSERT INTO marks (time, label)", [(m.time, m.label) for m in batch.marks])
        if names:
            insert(db, "INSERT OR REPLACE INTO devices (key, name)", list(names.items()))
            self._device_names.update(names)

    def _rewrites(self, changed: list[TrackingEvent]) -> tuple[list[TrackingEvent], list[tuple[int, str]]]:
        """Of events changed since they were written: those whose row is written whole (a twin
        added, or one the file does not hold), and (severity, id) of the others whose severity
        changed. Once published an event changes only in its findings and twins (Session, the
        checks' CheckContext): the JSON of one without twins is as it was written, and its findings
        (their own table) are all that is left to rewrite (most updates: a check's verdict changed)."""
        twinless = [ev.id for ev in changed if not ev.twins]
        stored: dict[str, object] = {}
        for marks, group in in_groups(twinless):
            stored.update(self.db.execute(f"SELECT id, severity FROM events WHERE id IN ({marks})", group))
        whole, ranks = [], []
        for ev in changed:
            if ev.id not in stored:
                whole.append(ev)
            elif (rank := severity_rank(ev)) != stored[ev.id]:
                ranks.append((rank, ev.id))
        return whole, ranks

    def _feed_due(self, final: bool) -> bool:
        unfed = self._seq - self._fed
        return self._fts and unfed > 0 and (final or unfed >= FEED_ROWS
                                            or time.monotonic() - self._fed_at >= FEED_EVERY_S)

    def _feed(self) -> None:
        """Feed events_fts the words of the rows past it, and say so in meta (in a transaction).
        Each seq is fed once: an updated event keeps its seq and its words."""
        db, words, upto = self.db, self._words, self._seq
        if len(words) >= upto - self._fed:  # every row's words at hand (live: a second's worth)
            insert(db, _FEED, sorted(words.items()), row=_fed_row, most=FEED_ROWS_A_STATEMENT)
        else:  # a file a kill -9 left unfed, or an event updated before it was first written
            after = self._fed
            while part := self._read_words(after, upto):
                insert(db, _FEED, part, most=FEED_ROWS_A_STATEMENT)
                after = part[-1][0]
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (WORDS_UPTO, upto))
        self._fed, self._fed_at, self._words = upto, time.monotonic(), {}

    def _read_words(self, after: int, upto: int) -> list[tuple]:
        """(seq, name, params, page) of the next FEED_PART rows in (after, upto], by seq: the words at
        hand, else read from the row (a file may hold millions unfed: memory stays bounded)."""
        words = self._words
        rows = self.db.execute("SELECT seq, json FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                               (after, upto, FEED_PART))
        return [(seq, *(words.get(seq) or row_words(text))) for seq, text in rows]

    def _changed_device_names(self) -> dict[str, str]:
        devices = self.session.devices
        # (Naming every device at each commit, every 100 ms, was ≈ 50 µs of a commit with no rows.)
        if (changes := devices.changes) == self._device_changes:
            return {}
        self._device_changes = changes
        names = {key: devices.name(key) for key in devices.clients()}
        return {k: v for k, v in names.items() if self._device_names.get(k) != v}

    def _fail(self, why: str) -> None:
        self.failed = why
        self._batch = _Batch()
        log.warning("pixelspy: recording stopped, the session file cannot be written: %s "
                    "(events are still shown; the file keeps what came before)", why)
        if self.on_failure is not None:
            self.on_failure(why)

    # ------------------------------------------------------------------ reading back

    def export_har(self, out: Path | str, redact: bool = True) -> int:
        """The session as a HAR file (what Ctrl+S and --har write): what came so far committed
        first, then every entry exported from the file; returns the number of entries."""
        from pixelspy.store.export import export_har

        self.flush()
        if self.db is None:
            raise OSError(f"{self.path} is closed")
        with self._lock:
            return export_har(self.db, out, redact)

    def read_event(self, event_id: str) -> TrackingEvent | None:
        """An event the session no longer holds in memory, from the file (None: not there)."""
        pending = self._batch.new.get(event_id) or self._batch.changed.get(event_id)
        if pending is not None or self.db is None:
            return pending
        with self._lock:
            return reader.event(self.db, event_id)

    def read(self, query: Callable[..., T], **kw: object) -> T | None:
        """`query(db, **kw)` (a reader function) on the file being written, between commits; None
        once it is closed. Events not committed yet are in the session's memory."""
        if self.db is None:
            return None
        with self._lock:
            return query(self.db, **kw)

    def read_hit(self, hit_id: str) -> RawHit | None:
        """A request the session no longer holds in memory, from the file (None: not there)."""
        if (pending := next((h for h in self._batch.hits if h.id == hit_id), None)) is not None or self.db is None:
            return pending
        with self._lock:
            return reader.hit(self.db, hit_id)
