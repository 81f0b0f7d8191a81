"""The session file's writer bounds what it gathers: a batch that fills before the thread's turn is
committed then (a flat-out ingest kept thousands of rows and seconds of lag before)."""

from __future__ import annotations

import sqlite3
import time
import tracemalloc

from pixelspy.session import Session
from pixelspy.store import writer as store_writer
from pixelspy.store.writer import StoreWriter
from pixelspy.model import RawHit
from pixelspy.store.records import event_row, finding_rows
from tests.test_store import T0, meta_get

BOUND = 10  # rows: events and hits, two a hit here


def _ids(db: sqlite3.Connection) -> list[str]:
    return [r[0] for r in db.execute("SELECT id FROM events ORDER BY seq")]


def _ids_in_file(w: StoreWriter) -> list[str]:
    """What the file holds now (read through the writer, which holds the file locked)."""
    return w.read(_ids) if w.db is not None else _ids(sqlite3.connect(w.path))


def test_a_full_batch_is_committed_by_the_thread_before_its_turn(tmp_path, monkeypatch):
    monkeypatch.setattr(store_writer, "MAX_BATCH_ROWS", BOUND)
    monkeypatch.setattr(store_writer, "MAX_WAIT_S", 30.0)  # a busy test machine: the bound itself
    path = tmp_path / "s.pixelspy"
    s = Session(max_events=3)
    w = StoreWriter(s, path, interval_s=3600)  # the timer never comes: only full batches are committed
    w.open()
    w.attach()
    ingested = [ev.id for i in range(40) for ev in s.ingest(meta_get(i))]
    assert len(ingested) == 40
    # ≤ one full batch in the thread and one gathering: the rest is in the file, in order
    in_file = _ids_in_file(w)
    assert len(in_file) >= 40 - BOUND and in_file == ingested[:len(in_file)]
    assert w.waits and all(rows <= BOUND for _, _, rows in w.commits)
    w.close()
    assert w.failed is None and _ids_in_file(w) == ingested


def test_without_the_thread_a_full_batch_is_committed_where_it_fills(tmp_path, monkeypatch):
    monkeypatch.setattr(store_writer, "MAX_BATCH_ROWS", BOUND)
    path = tmp_path / "s.pixelspy"
    s = Session()
    w = StoreWriter(s, path)
    w.open()
    s.subscribe(w.event)
    s.subscribe_hits(w.hit)
    ingested = [ev.id for i in range(12) for ev in s.ingest(meta_get(i))]
    assert _ids_in_file(w) == ingested[:10]  # two full batches of ten rows, five hits each, committed
    w.close()
    assert _ids_in_file(w) == ingested


def test_a_stalled_thread_holds_the_ingest_up_at_most_the_wait_at_each_doubling(tmp_path, monkeypatch):
    """A disk that stalls the thread's commit: the ingest (the proxy's loop) waits MAX_WAIT_S for the
    full batch, then gathers on and waits again at twice the rows; nothing is lost when the disk
    comes back."""
    monkeypatch.setattr(store_writer, "MAX_BATCH_ROWS", BOUND)
    monkeypatch.setattr(store_writer, "MAX_WAIT_S", 0.05)
    s = Session()
    w = StoreWriter(s, tmp_path / "s.pixelspy", interval_s=3600)
    w.open()
    w.attach()
    with w._lock:  # the stall: the thread cannot take the batch
        t0 = time.monotonic()
        ingested = [ev.id for i in range(40) for ev in s.ingest(meta_get(i))]
        took = time.monotonic() - t0
    assert len(w.waits) == 4 and min(w.waits) >= 0.05  # 80 rows: waits at 10, 20, 40 and 80
    assert took < 4 * 0.05 + 2.0  # and the hits as fast as they come
    w.close()
    assert w.failed is None and _ids_in_file(w) == ingested


def test_a_file_that_says_its_index_holds_none_of_its_rows_is_fed_a_part_at_a_time(tmp_path, monkeypatch):
    """Its rows' words are read FEED_PART at a time when it is recorded into again: the memory of
    one part, not of the file (2,000 rows of 10 KB of words here, one far past the others)."""
    path = tmp_path / "unfed.pixelspy"
    s = Session()
    [ev] = s.ingest(meta_get(0, dl="https://shop.example/unfedpage/" + "x" * 10_000))
    w = StoreWriter(s, path)
    w.open()
    w.close()
    seqs = [*range(1, 2001), 10**12]
    db = sqlite3.connect(path)
    db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   [(seq, f"e{seq:09d}", *event_row(ev)[1:]) for seq in seqs])
    db.execute("UPDATE meta SET value = '0' WHERE key = 'words_upto'")  # the index holds none
    db.commit()
    db.close()

    monkeypatch.setattr(store_writer, "FEED_PART", 100)
    w = StoreWriter(Session(), path)
    w.open()
    tracemalloc.start()
    try:
        w.flush(final=True)  # the feed
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    w.close()
    assert peak < 6_000_000, peak  # all at once: 2,000 × (10 KB of JSON + 10 KB of words) = 40 MB
    db = sqlite3.connect(path)
    assert [r[0] for r in db.execute("SELECT rowid FROM events_fts WHERE events_fts MATCH 'unfedpage'")] == seqs
    assert db.execute("SELECT value FROM meta WHERE key = 'words_upto'").fetchone()[0] == str(10**12)


def test_events_changed_after_their_commit_are_in_the_file_as_they_are_now(tmp_path):
    """An update rewrites an event's findings and severity, its whole row only when a twin came (its
    JSON changed): each event's row and findings in the file are what the live event makes."""
    first = meta_get(0, "AddToCart", eid="same")
    twin = RawHit(method="GET", url=first.url.replace("/tr/?", "/privacy_sandbox/pixel/register/trigger/?"),
                  time=T0 + 0.01, client="10.0.0.2", headers=first.headers)
    s = Session()
    w = StoreWriter(s, tmp_path / "s.pixelspy")
    w.open()
    s.subscribe(w.event)
    s.subscribe_hits(w.hit)
    for hit in (first, meta_get(1, "Lead", eid="other"), twin, meta_get(2, "AddToCart", eid="same"),
                meta_get(3, "Lead", eid="other")):
        s.ingest(hit)
        w.flush()  # each change after the event's commit
    live = list(s)
    assert live[0].twins == (twin.id,) and not live[1].twins
    assert all(any(f.code == "duplicate-event" for f in ev.findings) for ev in live[:2])
    rows = w.read(lambda db: db.execute("SELECT id, time, platform, pixel, event, page, device, kind, source, "
                                        "severity, hit_id, json FROM events ORDER BY seq").fetchall())
    findings = w.read(lambda db: db.execute("SELECT * FROM findings ORDER BY event_id, n").fetchall())
    w.close()
    assert rows == [event_row(ev) for ev in live]
    assert findings == [row for ev in sorted(live, key=lambda ev: ev.id) for row in finding_rows(ev)]


class _Texts:
    """A connection that notes the text of every statement it runs."""

    def __init__(self, db: sqlite3.Connection):
        self.db, self.texts, self.ran = db, set(), []

    def execute(self, sql: str, *args):
        self.texts.add(sql)
        self.ran.append(sql)
        return self.db.execute(sql, *args)


def test_batches_of_any_size_are_stored_whole_in_order_with_a_few_statement_texts():
    """Rows go in statements of a few sizes, so sqlite3 keeps them compiled (a text per batch size
    made SQLite compile statements at every commit); every row stored once, in order."""
    db = _Texts(sqlite3.connect(":memory:"))
    db.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, a TEXT, b INTEGER)")
    db.texts.clear()
    sizes = range(1, 41)
    for n in sizes:
        store_writer.insert(db, "INSERT INTO t (a, b)", [(f"{n}-{i}", i) for i in range(n)])
    rows = db.db.execute("SELECT a, b FROM t ORDER BY seq").fetchall()
    assert rows == [(f"{n}-{i}", i) for n in sizes for i in range(n)]
    assert len(db.texts) == store_writer.CHUNK_ROWS  # 1 to CHUNK_ROWS rows a statement (more: CHUNK_ROWS)

    db.texts.clear()
    gone = [f"{n}-{i}" for n in range(1, 33) for i in range(0, n, 2)]
    for n in range(1, 33):  # 1 to 16 keys
        store_writer.delete_where_in(db, "t", "a", [f"{n}-{i}" for i in range(0, n, 2)])
    left = {a for a, in db.db.execute("SELECT a FROM t")}
    assert left == {a for a, _ in rows} - set(gone)
    assert len(db.texts) == 5  # IN lists of 1, 2, 4, 8, 16 keys


def test_a_statements_rows_are_made_just_before_it_runs(monkeypatch):
    """The writer's thread holds the GIL for one statement's rows at a time (SQLite lets go of it
    while a statement runs), not for a whole batch's: 40 events' rows were ≈ 1 ms of Python."""
    monkeypatch.setattr(store_writer, "CHUNK_ROWS", 8)
    db = _Texts(sqlite3.connect(":memory:"))
    db.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, a TEXT, b INTEGER)")
    ran_before = []  # statements run when each row was made
    store_writer.insert(db, "INSERT INTO t (a, b)", list(range(21)),
                        row=lambda i: (ran_before.append(len(db.ran)), (str(i), i))[1])
    assert ran_before == [1] * 8 + [2] * 8 + [3] * 5  # (the CREATE first) 8, 8 and 5 rows
    assert db.db.execute("SELECT count(*) FROM t").fetchone()[0] == 21


def test_rows_cheap_to_make_go_more_to_a_statement_in_powers_of_two(monkeypatch):
    monkeypatch.setattr(store_writer, "CHUNK_ROWS", 8)
    db = _Texts(sqlite3.connect(":memory:"))
    db.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, a INTEGER)")
    db.ran.clear()
    store_writer.insert(db, "INSERT INTO t (a)", [(i,) for i in range(150)], most=64)
    assert [sql.count("?") for sql in db.ran] == [64, 64, 16, 6]
    assert [a for a, in db.db.execute("SELECT a FROM t ORDER BY seq")] == list(range(150))


def test_a_batch_the_thread_is_late_for_is_handed_to_it_and_one_it_just_took_is_not(tmp_path):
    """A kill -9 loses what the thread has not committed: a batch it has not taken LATE_AFTER_S after
    the last (its commits slow, vying for the GIL with a flood of hits) is handed to it by the next
    hit, which waits for its commit; a batch just taken gathers until the thread's turn."""
    s = Session()
    w = StoreWriter(s, tmp_path / "s.pixelspy", interval_s=30.0)  # (the thread's next turn: far off)
    w.open()
    w.attach()
    try:
        time.sleep(store_writer.LATE_AFTER_S + 0.05)
        s.ingest(meta_get(0))
        assert len(w.commits) == 1  # (handed over by its first row: the request or the event)
        s.ingest(meta_get(1))
        assert len(w.commits) == 1
    finally:
        w.close()
    assert sum(rows for _, _, rows in w.commits) == 4
