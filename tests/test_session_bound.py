"""The live session's in-memory bound: a small window while a session file records (the file holds
every event and gives evicted ones back), MAX_EVENTS without one; the JSON lines, the HAR exported
and the events read back still see every event."""

from __future__ import annotations

import io
import json

import pytest

from pixelspy import session as session_module
from pixelspy.addon import JsonLines
from pixelspy.model import Finding, Severity, TrackingEvent
from pixelspy.session import Session
from pixelspy.store import reader
from pixelspy.store.writer import StoreWriter
from tests.test_store import meta_get

WINDOW = 3


@pytest.fixture(autouse=True)
def small_bounds(monkeypatch):
    monkeypatch.setattr(session_module, "MAX_EVENTS_WITH_FILE", WINDOW)
    monkeypatch.setattr(session_module, "MAX_EVENTS", 1_000)


def recording(tmp_path, s: Session) -> StoreWriter:
    w = StoreWriter(s, tmp_path / "s.pixelspy")
    w.open()
    w.attach()
    return w


def test_a_recorded_session_keeps_a_small_window_and_loses_nothing(tmp_path):
    s = Session()
    w = recording(tmp_path, s)
    out = io.StringIO()
    s.subscribe(JsonLines(s, out=out))
    ids = [s.ingest(meta_get(i))[0].id for i in range(10)]
    assert s.max_events == WINDOW and len(s) == WINDOW and s.dropped == 7
    assert [ev.id for ev in s] == ids[-WINDOW:]
    assert [json.loads(line)["id"] for line in out.getvalue().splitlines()] == ids
    w.flush()  # (an evicted event's request is read from the file once committed)
    assert [s.event(i).id for i in ids] == ids  # the evicted ones read back from the file
    assert s.hit(s.event(ids[0]).hit_id) is not None
    assert w.export_har(tmp_path / "out.har") == 10
    assert "pixelspy keeps the last 3 there); the session file holds every event" in s.dropped_note()
    w.close()


def test_without_a_session_file_memory_keeps_max_events():
    s = Session()
    for i in range(10):
        s.ingest(meta_get(i))
    assert s.max_events == 1_000 and len(s) == 10 and not s.dropped


def test_a_session_continued_from_its_file_shrinks_to_the_window_once_recording(tmp_path):
    """--session FILE of an existing file: its events are read in before the writer attaches, all
    kept in memory (the list shows them); once recording, the next event brings memory down to the
    window, and the evicted ones are read back."""
    first = Session()
    w = recording(tmp_path, first)
    ids = [first.ingest(meta_get(i))[0].id for i in range(8)]
    w.close()
    again = Session()
    reader.load(tmp_path / "s.pixelspy", again)
    assert [ev.id for ev in again] == ids
    w = recording(tmp_path, again)
    again.ingest(meta_get(8))
    assert len(again) == WINDOW and again.dropped == 6
    assert [again.event(i).id for i in ids] == ids
    w.close()
    assert again.max_events == 1_000  # the file closed: the bound without one


def test_a_bound_given_is_kept_with_or_without_a_file(tmp_path):
    s = Session(max_events=5)
    w = recording(tmp_path, s)
    for i in range(8):
        s.ingest(meta_get(i))
    assert len(s) == 5
    w.close()


def test_without_a_file_the_settled_findings_of_evicted_events_are_counted_as_they_were_then():
    s = Session(max_events=2)

    def stored(*findings: Finding) -> TrackingEvent:
        ev = TrackingEvent(platform="meta", findings=findings)
        s.add_stored(ev, None)
        return ev

    first = stored(Finding("a", Severity.error, "m"), Finding("b", Severity.warning, "m", pending=True))
    stored(Finding("c", Severity.warning, "m"))
    last = stored(Finding("d", Severity.warning, "m", pending=True))
    assert first.id not in s.events and s.settled_findings() == {"error": 1, "warning": 1}
    first.findings = ()  # changed after it left memory: counted as it was
    last.findings = (Finding("d", Severity.warning, "m"),)  # settled while held: counted as it is
    assert s.settled_findings() == {"error": 1, "warning": 2}
    s.clear()
    assert s.settled_findings() == {}
