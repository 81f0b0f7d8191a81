"""Session files pixelspy did not write as they are (hand-edited, hostile): seqs with gaps, below 1,
huge; the filters count and list their rows as a plain scan does."""

from __future__ import annotations

import sqlite3

import pytest

from pixelspy.store import queries, reader
from pixelspy.store.records import row_words
from pixelspy.store.schema import has_fts_table
from pixelspy.session import Session
from tests.test_store import assert_every_form_and_pair, filter_forms, recorded
from tests.tui.scripted import scripted_hits

HUGE = 2**62


def regapped(db: sqlite3.Connection, seqs: dict[int, int | None]) -> None:
    """The file's events moved to other seqs (seqs[old]; None: deleted), their words with them."""
    db.create_function("moved", 1, lambda seq: seqs.get(seq, seq), deterministic=True)
    gone = [old for old, new in seqs.items() if new is None]
    db.execute(f"DELETE FROM events WHERE seq IN ({','.join(map(str, gone))})")
    db.execute("CREATE TEMP TABLE was AS SELECT * FROM events")
    db.execute("DELETE FROM events")
    db.execute("INSERT INTO events SELECT moved(seq), id, time, platform, pixel, event, page, device, kind, source, "
               "severity, hit_id, json FROM was")
    if has_fts_table(db):
        db.execute("INSERT INTO events_fts (events_fts) VALUES ('delete-all')")
        db.executemany("INSERT INTO events_fts (rowid, name, params, page) VALUES (?, ?, ?, ?)",
                       [(seq, *row_words(text)) for seq, text in db.execute("SELECT seq, json FROM events")])
    db.commit()


def gaps(n: int) -> dict[int, int | None]:
    """Seqs 1…n to: a huge negative one, some below 1, runs with holes, rows deleted, a huge one last."""
    moved = {1: -HUGE, 2: -7, 3: 0, n: HUGE}
    moved.update({seq: 1000 + 3 * seq + (seq > n // 2) * 10**9 for seq in range(4, n)})
    moved.update({seq: None for seq in (5, n // 2 + 1, n - 2)})  # (deleted)
    return moved


@pytest.mark.parametrize("estimate_rows", [queries.ESTIMATE_ROWS, 1], ids=["estimated", "most-rows-pass"])
@pytest.mark.parametrize("words_upto", ["all", "middle"])
def test_every_filter_form_counts_and_lists_a_gapped_files_rows_as_a_plain_scan(tmp_path, monkeypatch,
                                                                                estimate_rows, words_upto):
    """(estimate_rows 1: a column the newest row passes counts as one most rows pass: the rows it
    leaves out are taken away from the range's, which a gapped file does not number 1…n.)"""
    monkeypatch.setattr(queries, "ESTIMATE_ROWS", estimate_rows)
    path = tmp_path / "s.pixelspy"
    live, w = recorded(path, scripted_hits())
    w.close()
    evs = list(live)
    moved = gaps(len(evs))
    db = sqlite3.connect(path)
    regapped(db, moved)
    if words_upto == "middle":  # (the full-text index holds the rows up to there; those after are read)
        db.execute("INSERT OR REPLACE INTO meta VALUES ('words_upto', ?)", (moved[len(evs) // 2],))
    else:
        db.execute("DELETE FROM meta WHERE key = 'words_upto'")
    db.commit()
    rows = sorted((moved[seq], ev) for seq, ev in enumerate(evs, 1) if moved.get(seq, seq) is not None)
    assert reader.seq_run(db) is None
    left_out = []
    of = queries.FileFilter.of.__func__
    monkeypatch.setattr(queries.FileFilter, "of", classmethod(
        lambda cls, *a, **k: left_out.append((f := of(cls, *a, **k))._left_out is not None) or f))
    assert_every_form_and_pair(db, filter_forms(evs), rows)
    assert (True in left_out) == (estimate_rows == 1)
    assert list(queries.filter_seqs(db)) == [seq for seq, _ in rows]  # (no condition: every row)


def test_a_file_whose_seqs_run_from_elsewhere_than_1_counts_by_its_seqs(tmp_path):
    path = tmp_path / "s.pixelspy"
    live, w = recorded(path, scripted_hits())
    w.close()
    n = len(live)
    db = sqlite3.connect(path)
    regapped(db, {seq: seq - 5 for seq in range(1, n + 1)})
    assert reader.seq_run(db) == range(-4, n - 4)
    for after, upto in ((-10, 100), (-3, 2), (0, n), (n, 2 * n)):
        assert queries.rows_between(db, after, upto) == len([s for s in range(-4, n - 4) if after < s <= upto])


def test_marks_hits_and_events_at_times_no_clock_shows_are_skipped_by_open_and_export(tmp_path, capsys):
    """A mark whose label is not text or whose time is text, 1e308 or -1e308; a hit at 1e308; an
    event at NaN: each row skipped (HAR export and `open --no-ui` crashed on them), the others kept."""
    import json

    from pixelspy.cli.files import open_session_file
    from pixelspy.har import MARKS_KEY
    from pixelspy.session import Mark
    from pixelspy.store.export import export_file

    path = tmp_path / "s.pixelspy"
    live, w = recorded(path, scripted_hits(), [Mark("clicked Buy", 1_700_000_001.0)])
    w.close()
    db = sqlite3.connect(path)
    hits = db.execute("SELECT count(*) FROM hits").fetchone()[0]
    db.executescript("""
        INSERT INTO marks VALUES (90, 1700000002.0, x'35'); INSERT INTO marks VALUES (91, 'soon', 'text time');
        INSERT INTO marks VALUES (92, 1e308, 'far'); INSERT INTO marks VALUES (93, -1e308, 'long ago');
        UPDATE hits SET time = 1e308 WHERE rowid = (SELECT min(rowid) FROM hits);
        UPDATE events SET json = replace(json, '"time":', '"time":NaN,"was":') WHERE seq = 2;
    """)
    db.commit()
    db.close()
    assert open_session_file(path, None, no_ui=True) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == len(live) - 1 and "events that could not be read were skipped: 1" in err
    har = tmp_path / "out.har"
    assert export_file(path, har) == hits - 1
    log = json.loads(har.read_text())["log"]  # (valid JSON: no NaN)
    assert [m["label"] for m in log[MARKS_KEY]] == ["clicked Buy"]
    back = Session()
    reader.load(path, back)
    assert [m.label for m in back.marks] == ["clicked Buy"]


def test_a_row_at_sqlites_smallest_seq_is_left_out_and_the_others_listed(tmp_path):
    path = tmp_path / "s.pixelspy"
    live, w = recorded(path, scripted_hits())
    w.close()
    db = sqlite3.connect(path)
    regapped(db, {1: reader.MIN_SEQ})
    assert reader.first_seq(db) == reader.MIN_SEQ + 1 and queries.FileFilter.of(db).count(db) == len(live) - 1
    assert list(queries.filter_seqs(db, any_of={"source": {"browser"}})) == [
        seq for seq, ev in enumerate(live, 1) if seq > 1 and ev.source.value == "browser"]


def test_a_time_no_clock_shows_is_drawn_as_a_question_mark():
    from pixelspy.tui.cells import clock

    assert clock(1_700_000_000.25).endswith(".250") and clock(1_700_000_000.25, ms=False).count(":") == 2
    assert [clock(t) for t in (float("nan"), 1e308, -1e308)] == ["?"] * 3


def test_a_row_that_cannot_be_read_is_read_once_not_at_each_frame(tmp_path):
    """(A hostile file's row of 40 MB took 0.3 s a read, at every frame that drew it.)"""
    from types import SimpleNamespace

    from pixelspy.tui.file_rows import EventCache

    path = tmp_path / "s.pixelspy"
    live, w = recorded(path, scripted_hits())
    w.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE events SET json = ? WHERE seq = 2", ('{"event": "' + "x" * 100_000 + '"}',))
    asked: list[list[int]] = []
    session = Session()
    session.store = SimpleNamespace(read=lambda query, **kw: asked.append(kw.get("seqs")) or query(db, **kw))
    cache = EventCache(session)
    for _ in range(3):  # (three frames)
        cache.read_at([1, 2, 3])
    assert asked == [[1, 2, 3]] and cache.at(2) is None and cache.at(3).id == list(live)[2].id


@pytest.mark.parametrize("started", ["abc", "1e400", "-1e300"])
def test_sessions_lists_a_file_whose_start_time_is_junk_with_its_events(tmp_path, started):
    path = tmp_path / "s.pixelspy"
    live, w = recorded(path, scripted_hits())
    w.close()
    db = sqlite3.connect(path)
    db.execute("INSERT OR REPLACE INTO meta VALUES ('started', ?)", (started,))
    db.commit()
    db.close()
    [found] = reader.sessions(tmp_path)
    assert found.events == len(live) and found.started is None and found.note == ""


def test_sessions_counts_a_gapped_files_rows_not_its_largest_seq(tmp_path):
    path = tmp_path / "s.pixelspy"
    live, w = recorded(path, scripted_hits())
    w.close()
    moved = gaps(len(live))
    db = sqlite3.connect(path)
    regapped(db, moved)
    db.close()
    [found] = reader.sessions(tmp_path)
    assert found.events == len(live) - sum(new is None for new in moved.values()) and found.note == ""
