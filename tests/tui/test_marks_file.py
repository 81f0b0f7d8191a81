"""A session file holding the most marks a file keeps (session.MAX_MARKS, a long or hostile session's)
opened in the TUI (issue #27): its marks are placed among the rows in a worker, the UI takes keys
meanwhile, and they stand where each mark's own bisection put them; a mark made live shows at once."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from pixelspy.session import MAX_MARKS, Mark, Session
from pixelspy.store import reader
from pixelspy.store.writer import StoreWriter
from pixelspy.tui import event_list
from pixelspy.tui.app import PixelSpyApp
from tests.test_store import recorded
from tests.test_store_hostile import gaps, regapped
from tests.test_store_marks import bisected
from tests.tui.scripted import scripted_hits
from tests.tui.test_app import until
from tests.tui.test_filter_file import row_key


def with_marks(path, gapped: bool) -> None:
    """A recorded file (its seqs gapped by hand or not) with MAX_MARKS marks: before the first
    event, at events' times, between, after the last, runs at one time."""
    live, w = recorded(path, scripted_hits())
    w.close()
    db = sqlite3.connect(path)
    if gapped:
        regapped(db, gaps(len(live)))
    times = [t for (t,) in db.execute("SELECT time FROM events ORDER BY seq")]
    start, span = min(times) - 5, max(times) - min(times) + 10
    marks = [times[k % len(times)] if k % 4 == 0 else start + span * (k - k % 9) / MAX_MARKS for k in range(MAX_MARKS)]
    db.executemany("INSERT INTO marks (seq, time, label) VALUES (?, ?, ?)",
                   [(k + 1, t, f"m{k}") for k, t in enumerate(marks)])
    db.commit()
    db.close()


def placed_one_by_one(path) -> list[str]:
    """The file's rows (an event's id, a mark's label) with each mark placed by its own bisection, as
    the list placed those of its file's part before (the events' times rise with their seqs: as the
    list places marks among the rows in memory, before the first row later than each)."""
    db = sqlite3.connect(path)
    after, upto = reader.first_seq(db) - 1, reader.last_seq(db)
    events = db.execute("SELECT seq, id FROM events WHERE seq > ? AND seq <= ? ORDER BY seq", (after, upto)).fetchall()
    marks = sorted(db.execute("SELECT time, label FROM marks ORDER BY seq"), key=lambda m: m[0])
    at = {t: bisected(db, t, after, upto) for t in {t for t, _ in marks}}  # (one bisection a time)
    marks = sorted(((at[t], t, label) for t, label in marks), key=lambda m: (m[0], m[1]))
    db.close()
    rows, k = [], 0
    for seq, event_id in events:
        while k < len(marks) and marks[k][0] <= seq:
            rows.append(marks[k][2])
            k += 1
        rows.append(event_id)
    return rows + [label for _, _, label in marks[k:]]


def opened(path) -> tuple[PixelSpyApp, StoreWriter]:
    """The app on the file as `pixelspy open` shows it, the most of its rows read back from it."""
    session = Session(max_events=3)
    reader.load(path, session)
    writer = StoreWriter(session, path)
    writer.open()
    writer.attach()
    return PixelSpyApp(session, None), writer


async def listed(pilot, events) -> list[str]:
    """The list's rows: an event's id, a mark's label."""
    keys = [await row_key(pilot, events, i) for i in range(events.row_count)]
    return [events._row(i).label if k is None else events._event_at(k, i).id if type(k) is int else k
            for i, k in enumerate(keys)]


@pytest.mark.parametrize("gapped", [False, True], ids=["written", "gapped"])
async def test_a_file_of_ten_thousand_marks_takes_keys_while_they_are_placed(tmp_path, monkeypatch, gapped):
    """(Placed in a worker as among a million rows: a bisection each on the event loop took 2 s
    there; the worker held until keys are taken.)"""
    path = tmp_path / "s.pixelspy"
    with_marks(path, gapped)
    monkeypatch.setattr(event_list, "PROBES_ON_LOOP", 0)
    placing, release = threading.Event(), threading.Event()
    placed = reader.placed

    def held(times, *args):
        if len(times) > 1:
            placing.set()
            release.wait(10)
        return placed(times, *args)

    monkeypatch.setattr(reader, "placed", held)
    before = placed_one_by_one(path)
    app, writer = opened(path)
    try:
        async with app.run_test(size=(140, 20)) as pilot:
            events = app.event_list
            await until(pilot, lambda: placing.is_set() and not events.file_pending)
            rows = events.row_count
            started = time.perf_counter()
            await pilot.press("home")
            await until(pilot, lambda: events.cursor == 0)
            await pilot.press("down")
            await until(pilot, lambda: events.cursor == 1)
            assert time.perf_counter() - started < 2  # (keys taken while the marks are being placed)
            assert events.row_count == rows
            release.set()
            await until(pilot, lambda: events.row_count == events.event_count + MAX_MARKS)
            await until(pilot, lambda: not events.file_pending)
            assert await listed(pilot, events) == before
            app.session.add_marks([Mark("made live", time.time())])
            await pilot.pause()
            assert events._row(events.row_count - 1).label == "made live"
    finally:
        release.set()
        writer.close()


async def test_a_small_files_ten_thousand_marks_are_placed_at_once_a_query_a_step(tmp_path, monkeypatch):
    """Among a few rows, placing is quicker than a worker's start: on the event loop, a query per
    step of the bisection (not a bisection each: ≈ 40,000 queries here)."""
    path = tmp_path / "s.pixelspy"
    with_marks(path, gapped=False)
    asked = []
    times_from = reader.times_from
    monkeypatch.setattr(reader, "times_from", lambda db, seqs: asked.append(len(seqs)) or times_from(db, seqs))
    before = placed_one_by_one(path)
    app, writer = opened(path)
    try:
        async with app.run_test(size=(140, 20)) as pilot:
            events = app.event_list
            assert events.row_count == events.event_count + MAX_MARKS  # (placed when the list starts)
            assert 0 < len(asked) <= events._file.upto.bit_length() + 1
            assert await listed(pilot, events) == before
    finally:
        writer.close()
