"""Session files pixelspy did not write as they are (hand-edited, hostile): seqs with gaps, below 1,
huge; the filters count and list their rows as a plain scan does."""

from __future__ import annotations

import sqlite3

import pytest

from pixelspy.store import queries, reader
from pixelspy.store.records import row_words
from pixelspy.store.schema import has_fts_table
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
