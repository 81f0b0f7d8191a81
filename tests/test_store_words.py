"""Word search in a session file whose full-text index the writer feeds about every second, not at
each commit: the rows past the index (committed, not yet fed; left unfed by a kill -9) are found by
their words with the same answer as the index gives once it holds them, and fed when the file is
closed or recorded into again, each once."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pixelspy.model import RawHit
from pixelspy.session import Session
from pixelspy.store import queries, schema
from pixelspy.store import writer as store_writer
from pixelspy.store.writer import StoreWriter
from tests.test_store import PIXEL, T0, ids_at, meta_get, meta_post, recorded, recorded_again

pytestmark = pytest.mark.skipif(not schema.has_fts5(), reason="this SQLite has no FTS5")

ROOT = Path(__file__).resolve().parents[1]


def shop_hits() -> list[RawHit]:
    """Words that tokenisation decides: case, diacritics, punctuation, non-Latin scripts, digits."""
    return [meta_get(0),
            meta_post(1, "Purchase", **{"cd[content_name]": "Café Crème_Brûlée", "cd[value]": "49.90"}),
            meta_get(2, "Lead", **{"cd[note]": "ÉTÉ straße 東京タワー ﬁsh"}),
            meta_post(3, "AddToCart", **{"cd[content_ids]": '["sku-1","SKU_2"]', "cd[tag]": "x\"y*z-NEAR(a)"}),
            meta_get(4, "ViewContent", **{"cd[search]": "half%_off 50% α-β"})]


# Words (each a query, split on spaces as the TUI's `/` does): matches, near misses, and text only in
# the row's JSON (client, user agent, keys), which the index does not hold: no row has them as words.
QUERIES = ["purch", "PURCHASE", "cafe", "café", "creme_brulee", "brûlée", "ete", "strasse", "straße", "東京",
           "タワー", "fish", "ﬁ", "sku", "sku_2", "sku-1", '"', "x\"y", "near", "half%", "50%", "α", "β",
           "49.90", "49", "shop.example/p/2", "p/3", "lead purch", "pageview shop", "content_name", "cd",
           "ev", "fb.1", "10.0.0", "linux", "browser", "twin", "pixel", "pu\x00rch", "*", "-", "x*"]


def feeds_held_back(monkeypatch) -> None:
    """The writer feeds its index at close only (here), never at a commit."""
    monkeypatch.setattr(store_writer, "FEED_EVERY_S", 3600.0)
    monkeypatch.setattr(store_writer, "FEED_ROWS", 10**9)


def fts_seqs(db: sqlite3.Connection, word: str) -> list[int]:
    """What the file's own index holds, asked directly (repeated rowids: a row fed twice)."""
    return [r[0] for r in db.execute("SELECT rowid FROM events_fts WHERE events_fts MATCH ?", (f'"{word}"*',))]


def newest(db: sqlite3.Connection, n: int, **kw) -> list[int]:
    """A filter's newest `n` rows, as the event list asks for its first screenful."""
    return list(queries.FileFilter.of(db, **kw).seqs(db, limit=n, newest_first=True))


def answers(db: sqlite3.Connection) -> dict[str, tuple]:
    return {q: (list(queries.filter_seqs(db, words=q.split())),
                list(newest(db, 1, words=q.split())),
                list(queries.filter_seqs(db, words=q.split(), any_of={"platform": {"meta"}})),
                list(queries.filter_seqs(db, words=q.split(), has_findings=True)),
                list(queries.filter_seqs(db, words=q.split(), after=2)),
                # (a column most rows pass: its rows left out taken away; and a pixel's newest)
                list(queries.filter_seqs(db, words=q.split(), any_of={"kind": {"event"}})),
                list(newest(db, 2, words=q.split(), pixels={PIXEL.upper()}))) for q in QUERIES}


def test_words_committed_but_not_yet_fed_are_found_as_the_index_finds_them_once_fed(tmp_path, monkeypatch):
    feeds_held_back(monkeypatch)
    path = tmp_path / "s.pixelspy"
    _, w = recorded(path, shop_hits())
    w.flush()
    live = w.read(answers)
    assert w.read(schema.words_upto) == 0 and w.read(fts_seqs, word="purch") == []  # committed, not fed
    w.close()  # … fed at close
    db = sqlite3.connect(path)
    assert schema.words_upto(db) == 5 and fts_seqs(db, "purch") == [2]
    assert answers(db) == live
    assert live["purch"][0] == [2] and live["cafe"][0] == live["café"][0] == [2] and live["東京"][0] == [3]
    assert live["purch"][5] == live["purch"][6] == [2] and live["sku"][0] == [4]
    assert live["10.0.0"][0] == live["linux"][0] == live["pixel"][0] == []  # (in the row's JSON only)


def test_rows_past_the_index_are_read_a_part_at_a_time_with_the_same_answers(tmp_path, monkeypatch):
    """A file may say its index holds none of its rows (hostile, or never fed): the scratch index
    holds a part of them at a time, never the whole file."""
    feeds_held_back(monkeypatch)
    _, w = recorded(tmp_path / "s.pixelspy", shop_hits())
    w.flush()
    whole = w.read(answers)
    monkeypatch.setattr(queries, "READ_WORDS_ROWS", 2)
    assert w.read(answers) == whole and whole["purch"][0] == [2] and whole["東京"][0] == [3]
    # each part read into an emptied index: a row found once
    assert w.read(queries._read_words, words=["shop"], after=0, upto=5) == [1, 2, 3, 4, 5]
    w.close()


def test_live_words_span_the_index_and_the_rows_past_it(tmp_path, monkeypatch):
    """Part of the rows fed, part not: one answer over both, newest first too, ids as the index's."""
    feeds_held_back(monkeypatch)
    path = tmp_path / "s.pixelspy"
    s, w = recorded(path, [meta_post(i, "Purchase") if i % 2 else meta_get(i, "Lead") for i in range(6)])
    w.flush(final=True)  # (a feed, as at its time)
    for i in range(6, 12):
        s.ingest(meta_post(i, "Purchase") if i % 2 else meta_get(i, "Lead"))
    w.flush()
    assert w.read(schema.words_upto) == 6
    assert list(w.read(queries.filter_seqs, words=["purch"])) == [2, 4, 6, 8, 10, 12]
    assert list(w.read(newest, n=4, words=["purch"])) == [6, 8, 10, 12]
    assert list(w.read(newest, n=2, words=["lead"], after=0, upto=8)) == [5, 7]
    assert list(w.read(queries.filter_seqs, words=["purch"], any_of={"kind": {"event"}})) == [2, 4, 6, 8, 10, 12]
    ids = [ev.id for ev in s]
    assert w.read(ids_at, seqs=[2, 4, 6, 8, 10, 12]) == ids[1::2]
    w.close()


KILLED = textwrap.dedent("""
    import sys, time
    from pixelspy.session import Session
    from pixelspy.store import writer
    from pixelspy.store.writer import StoreWriter
    from tests.test_store import meta_get, meta_post

    writer.FEED_EVERY_S, writer.FEED_ROWS = 3600.0, 10**9
    s = Session()
    w = StoreWriter(s, sys.argv[1])
    w.open()
    w.attach()
    for i in range(10):
        s.ingest(meta_get(i, "Lead"))
    w.flush(final=True)  # the first ten fed
    for i in range(10, 20):
        s.ingest(meta_post(i, "Purchase"))
    for i in range(20, 25):
        s.ingest(meta_get(i))
    w.flush()
    print("recording", flush=True)
    i = 25
    while True:  # recording goes on until killed
        s.ingest(meta_get(i))
        i += 1
        time.sleep(0.002)
""")


def test_a_file_killed_before_its_feed_is_searched_and_fed_when_recorded_into_again(tmp_path):
    path = tmp_path / "killed.pixelspy"
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "recording\n"
        assert proc.wait(0.4) is None
    except subprocess.TimeoutExpired:
        pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    db = schema.connect(path, write=False)  # read only, as `pixelspy open FILE`
    last = db.execute("SELECT max(seq) FROM events").fetchone()[0]
    assert schema.words_upto(db) == 10 and last >= 25
    assert list(queries.filter_seqs(db, words=["purch"])) == list(range(11, 21))
    assert list(queries.filter_seqs(db, words=["lead"])) == list(range(1, 11))
    assert list(newest(db, 3, words=["pagev"])) == [last - 2, last - 1, last]
    assert len(queries.filter_seqs(db, words=["shop", "pagev"], any_of={"platform": {"meta"}})) == last - 20
    db.close()
    recorded_again(path, meta_get(10_000, "Lead", t=T0 + 10_000))
    db = sqlite3.connect(path)
    assert schema.words_upto(db) == last + 1
    assert fts_seqs(db, "purch") == list(range(11, 21))  # fed, each once
    assert fts_seqs(db, "lead") == [*range(1, 11), last + 1]
    assert len(fts_seqs(db, "pagev")) == last - 20


def test_a_file_of_schema_3_searches_by_its_index_and_is_fed_on_from_its_end(tmp_path):
    """A file an earlier pixelspy made (its index fed at each commit, no mark of its end): read by the
    index alone; recorded into, upgraded, its index goes on from its last row."""
    path = tmp_path / "v3.pixelspy"
    s, w = recorded(path, shop_hits())
    w.close()
    db = sqlite3.connect(path)
    db.execute("DELETE FROM meta WHERE key = ?", (schema.WORDS_UPTO,))
    db.execute("PRAGMA user_version = 3")
    db.commit()
    db.close()
    db = schema.connect(path, write=False)
    assert schema.words_upto(db) is None and list(queries.filter_seqs(db, words=["cafe"])) == [2]
    db.close()
    recorded_again(path, meta_post(5, "Purchase", **{"cd[content_name]": "cafe"}))
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION >= 4
    assert schema.words_upto(db) == 6 and fts_seqs(db, "cafe") == [2, 6] and fts_seqs(db, "purch") == [2, 6]


def test_an_updated_event_is_fed_once_and_one_first_written_by_its_update_is_fed(tmp_path, monkeypatch):
    """Findings that change rewrite an event's row, never its words; an event the writer first sees
    updated (it came before the writer attached) takes the next seq and is fed too."""
    feeds_held_back(monkeypatch)
    path = tmp_path / "s.pixelspy"
    s = Session()
    early = s.ingest(meta_get(0, "AddToCart", eid="same"))[0]  # before the writer attached
    w = StoreWriter(s, path)
    w.open()
    w.attach()
    s.ingest(meta_get(1, "AddToCart", eid="same"))  # a duplicate: the first event's findings change
    w.flush(final=True)
    s.ingest(meta_get(2, "AddToCart", eid="same"))
    s.tick(float("inf"))
    w.close()
    db = sqlite3.connect(path)
    seqs = dict(db.execute("SELECT id, seq FROM events"))
    assert len(seqs) == 3 and early.id in seqs
    assert sorted(fts_seqs(db, "addtocart")) == sorted(seqs.values())
