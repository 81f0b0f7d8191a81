"""A session file's marks placed among its events all at once (reader.seqs_after, issue #27): the
same seqs as a bisection of each mark's own, in a few queries whatever the number of marks."""

from __future__ import annotations

import sqlite3

import pytest

from pixelspy.store import reader
from tests.test_store import recorded
from tests.test_store_hostile import gaps, regapped
from tests.tui.scripted import scripted_hits


def bisected(db: sqlite3.Connection, t: float, after: int, upto: int) -> int:
    """Where one mark went before (each its own bisection on seq): the reference."""
    lo, hi = after + 1, upto + 1
    while lo < hi:
        mid = (lo + hi) // 2
        row = db.execute("SELECT time FROM events WHERE seq >= ? ORDER BY seq LIMIT 1", (mid,)).fetchone()
        if row is not None and row[0] > t:
            hi = mid
        else:
            lo = mid + 1
    return lo


def mark_times(times: list[float]) -> list[float]:
    """Before the first event, at each event's time and between, after the last, 40 at one time."""
    first, last = min(times), max(times)
    found = [first - 60, first - 1e-6, last, last + 1e-6, last + 3600] + times
    found += [(a + b) / 2 for a, b in zip(times, times[1:])] + [times[len(times) // 2]] * 40
    return sorted(found)


@pytest.fixture(params=["written", "gapped", "a-clock-behind"])
def file(request, tmp_path):
    """A recorded file as written; with its seqs gapped by hand (below 1, holes, huge); with some
    times out of order (a source whose clock is behind)."""
    path = tmp_path / "s.pixelspy"
    live, w = recorded(path, scripted_hits())
    w.close()
    db = sqlite3.connect(path)
    if request.param == "gapped":
        regapped(db, gaps(len(live)))
    elif request.param == "a-clock-behind":
        db.execute("UPDATE events SET time = time - 5 WHERE seq % 4 = 0")
        db.commit()
    yield db
    db.close()


def test_marks_are_placed_where_each_own_bisection_placed_them(file):
    seqs = [seq for (seq,) in file.execute("SELECT seq FROM events ORDER BY seq")]
    times = mark_times([t for (t,) in file.execute("SELECT time FROM events ORDER BY seq")])
    first, last, middle = seqs[0], seqs[-1], seqs[len(seqs) // 2]
    for after, upto in [(first - 1, last), (first - 1, middle), (middle, last), (middle, middle), (last, last + 5),
                        (first - 1, last + 7)]:
        assert reader.seqs_after(file, times, after, upto) == [bisected(file, t, after, upto) for t in times]


def test_ten_thousand_marks_cost_a_query_a_step_of_the_bisection(file):
    """10,000 marks (session.MAX_MARKS, a hostile file's): one query per step, ≈ log2 of the rows,
    not a bisection (≈ 20 queries) each."""
    first, last = reader.first_seq(file), reader.last_seq(file)
    events = [t for (t,) in file.execute("SELECT time FROM events ORDER BY seq")]
    span = max(events) - min(events) + 2
    times = sorted(min(events) - 1 + k * span / 10_000 for k in range(10_000))
    asked = []
    file.set_trace_callback(asked.append)
    placed = reader.seqs_after(file, times, first - 1, last)
    file.set_trace_callback(None)
    assert len(asked) <= (last - first + 1).bit_length() + 1
    assert placed[::97] == [bisected(file, t, first - 1, last) for t in times[::97]]
