"""The session store: a session recorded into its file comes back whole (events, findings, ids,
requests, twins, marks, device names), findings changed later are rewritten, queries use the
indexes, and HAR exported from the file carries the same `_pixelspy` content."""

from __future__ import annotations

import gc
import itertools
import json
import sqlite3
from pathlib import Path
from urllib.parse import urlencode

import pytest

from pixelspy import har
from pixelspy.model import RawHit, TrackingEvent
from pixelspy.session import Mark, Session
from pixelspy.store import queries, reader
from pixelspy.store.export import export_file
from pixelspy.store.schema import SCHEMA_VERSION, has_fts5
from pixelspy.store.writer import StoreWriter

PIXEL = "1234567890123456"
T0 = 1_700_000_000.0
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def meta_get(i: int, ev: str = "PageView", eid: str | None = None, t: float | None = None, **extra: str) -> RawHit:
    """A Meta Pixel hit as fbevents.js sends it (image GET)."""
    params = {"id": PIXEL, "ev": ev, "dl": f"https://shop.example/p/{i}", "rl": "", "if": "false",
              "ts": str(1_700_000_000_000 + i), "v": "2.9.179", "r": "stable", "ec": "0", "o": "4126",
              "eid": eid or f"ev-{i}", "fbp": "fb.1.1700000000000.1234567890", **extra}
    return RawHit(method="GET", url=f"https://www.facebook.com/tr/?{urlencode(params)}", time=t or T0 + i,
                  client="10.0.0.2", headers=(("user-agent", CHROME), ("referer", f"https://shop.example/p/{i}")))


def meta_post(i: int, ev: str, **extra: str) -> RawHit:
    params = {"id": PIXEL, "ev": ev, "dl": f"https://shop.example/p/{i}", "eid": f"ev-{i}", "v": "2.9.179",
              "fbp": "fb.1.1700000000000.1234567890", **extra}
    return RawHit(method="POST", url="https://www.facebook.com/tr/", body=urlencode(params).encode(), time=T0 + i,
                  client="10.0.0.2", headers=(("user-agent", CHROME),
                                              ("content-type", "application/x-www-form-urlencoded")))


def assert_rows_of(db: sqlite3.Connection, kw: dict, expected: list[int]) -> None:
    """A filter (FileFilter's conditions) counts and lists, from either end, at any offset and
    from any seq on, the rows `expected` (a plain scan's answer)."""
    f = queries.FileFilter.of(db, **kw)
    n = len(expected)
    assert f.count(db) == n and list(f.seqs(db)) == expected, kw
    for offset in sorted({0, 1, n // 2, max(0, n - 2), n}):
        for limit in (1, 3):
            assert list(f.seqs(db, offset=offset, limit=limit)) == expected[offset:offset + limit], (kw, offset)
            newest = expected[max(0, n - offset - limit):n - offset]
            assert list(f.seqs(db, offset=offset, limit=limit, newest_first=True)) == newest, (kw, offset)
    for seq in expected[n // 2:n // 2 + 1]:
        assert list(f.seqs(db, upto=seq - 1, limit=2, newest_first=True)) == [s for s in expected if s < seq][-2:]
        assert list(f.seqs(db, after=seq, limit=2)) == [s for s in expected if s > seq][:2]


def ids_at(db: sqlite3.Connection, seqs) -> list[str]:
    """The ids of the file's events at `seqs` (a filter's answer), in that order."""
    events = reader.events_at(db, list(seqs))
    return [events[seq].id for seq in seqs]


def recorded(path, hits, marks=(), rename=None) -> tuple[Session, StoreWriter]:
    s = Session()
    w = StoreWriter(s, path)
    w.open()
    w.attach()
    for h in hits:
        s.ingest(h)
    if marks:
        s.add_marks(marks)
    if rename:
        s.devices.rename(*rename)
    s.tick(float("inf"))
    return s, w


def recorded_again(path, *hits: RawHit) -> None:
    """As --session FILE of an existing file: its events read back, `hits` recorded after them."""
    again = Session()
    reader.load(path, again)
    w = StoreWriter(again, path)
    w.open()
    w.attach()
    for h in hits:
        again.ingest(h)
    w.close()


def test_a_recorded_session_reopens_with_everything(tmp_path):
    path = tmp_path / "s.pixelspy"
    hits = [meta_get(0), meta_post(1, "Purchase", **{"cd[value]": "10", "cd[currency]": "EUR"}),
            meta_get(2, "AddToCart", eid="dup"), meta_get(3, "AddToCart", eid="dup")]
    live, w = recorded(path, hits, [Mark("clicked Buy", T0 + 1.5)], ("10.0.0.2 linux chrome", "my laptop"))
    w.close()
    assert w.failed is None

    back = Session()
    loaded = reader.load(path, back)
    assert loaded.problems == [] and loaded.events == len(live) == 4
    assert [ev.json_line() for ev in back] == [ev.json_line() for ev in live]
    assert [back.json_line(ev)["device"] for ev in back] == ["my laptop"] * 4
    assert back.marks == live.marks
    assert {i: h.body for i, h in back.hits.items()} == {i: h.body for i, h in live.hits.items()}
    purchase = next(ev for ev in back if ev.event == "Purchase")
    assert purchase.params == next(ev for ev in live if ev.event == "Purchase").params  # labels, groups
    # the duplicate found when the second AddToCart came is in the file on the first one too
    first_dup = next(ev for ev in back if ev.event == "AddToCart")
    assert any(f.code == "duplicate-event" for f in first_dup.findings)
    # ids made after reopening never collide with the file's
    assert back.ingest(meta_get(9))[0].id not in {ev.id for ev in live}


def test_findings_changed_after_the_first_commit_are_rewritten(tmp_path):
    path = tmp_path / "s.pixelspy"
    live, w = recorded(path, [meta_get(0, "AddToCart", eid="same")])
    w.flush()  # the first event committed without a finding
    live.ingest(meta_get(1, "AddToCart", eid="same"))
    w.close()
    db = sqlite3.connect(path)
    first = next(iter(live)).id
    codes = [r[0] for r in db.execute("SELECT code FROM findings WHERE event_id = ?", (first,))]
    assert "duplicate-event" in codes
    assert db.execute("SELECT severity FROM events WHERE id = ?", (first,)).fetchone()[0] >= 2
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_device_names_come_to_the_file_when_a_device_is_new_or_renamed_after_a_commit(tmp_path):
    path = tmp_path / "s.pixelspy"
    live, w = recorded(path, [meta_get(0)])
    w.flush()
    names = lambda db: dict(db.execute("SELECT key, name FROM devices"))
    assert w.read(names) == {"10.0.0.2 linux chrome": "Linux Chrome 10.0.0.2"}
    live.devices.rename("10.0.0.2 linux chrome", "my laptop")
    w.flush()
    assert w.read(names) == {"10.0.0.2 linux chrome": "my laptop"}
    live.ingest(RawHit(method="GET", url="https://www.facebook.com/tr/?id=1&ev=PageView", time=T0 + 5,
                       client="10.0.0.3", headers=(("user-agent", CHROME),)))
    w.flush()
    assert w.read(names)["10.0.0.3 linux chrome"] == "Linux Chrome 10.0.0.3"
    w.close()
    back = Session()
    reader.load(path, back)
    assert back.devices.name("10.0.0.2 linux chrome") == "my laptop"


def test_twins_are_stored_with_their_hit(tmp_path):
    """Meta's fbevents sends one beacon to /tr and its copy to /privacy_sandbox/pixel/register/trigger."""
    path = tmp_path / "s.pixelspy"
    first = meta_get(0)
    twin = RawHit(method="GET", url=first.url.replace("/tr/?", "/privacy_sandbox/pixel/register/trigger/?"),
                  time=T0 + 0.01, client="10.0.0.2", headers=first.headers)
    live, w = recorded(path, [first, twin])
    w.close()
    [ev] = list(live)
    if not ev.twins:
        pytest.skip("this decoder makes no twin of the privacy-sandbox copy")
    db = sqlite3.connect(path)
    assert db.execute("SELECT hit_id, event_id FROM twins").fetchall() == [(twin.id, ev.id)]
    back = Session()
    reader.load(path, back)
    assert next(iter(back)).twins == (twin.id,)


def test_queries_filter_on_indexed_columns_and_words(tmp_path):
    path = tmp_path / "s.pixelspy"
    live, w = recorded(path, [meta_get(0), meta_post(1, "Purchase", **{"cd[value]": "10"}), meta_get(2, "Lead")])
    w.close()
    db = sqlite3.connect(path)
    ids = [ev.id for ev in live]
    assert ids_at(db, queries.filter_seqs(db, any_of={"event": {"Purchase"}})) == [ids[1]]
    since = reader.seqs_after(db, [T0 + 0.5], 0, reader.last_seq(db))[0] - 1  # (the events from T0 + 1 on)
    assert ids_at(db, queries.filter_seqs(db, any_of={"platform": {"meta"}}, after=since)) == ids[1:]
    assert ids_at(db, queries.filter_seqs(db, words=["purchase"])) == [ids[1]]
    assert ids_at(db, queries.filter_seqs(db, words=["shop.example/p/2"])) == [ids[2]] or not has_fts5()
    plan = " ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN SELECT id FROM events WHERE event = 'Lead'"))
    assert "events_event" in plan


def test_har_exported_from_the_file_matches_the_writer(tmp_path):
    path = tmp_path / "s.pixelspy"
    live, w = recorded(path, [meta_get(0), meta_post(1, "Lead", **{"ud[em]": "alice@shop.example"})],
                       [Mark("signed up alice@shop.example", T0 + 2)])
    w.close()
    out = tmp_path / "out.har"
    assert export_file(path, out) == 2
    saved = tmp_path / "saved.har"
    har.save_har(live, saved)
    exported, direct = json.loads(out.read_text()), json.loads(saved.read_text())
    assert [e["_pixelspy"] for e in exported["log"]["entries"]] == [e["_pixelspy"] for e in direct["log"]["entries"]]
    assert exported["log"][har.MARKS_KEY] == direct["log"][har.MARKS_KEY]
    assert "alice@shop.example" not in out.read_text()  # redacted by default
    back = Session()
    har.load_file(out, back)
    assert [ev.id for ev in back] == [ev.id for ev in live]


def test_events_evicted_from_memory_are_read_back_from_the_file(tmp_path):
    s = Session(max_events=2)
    w = StoreWriter(s, tmp_path / "s.pixelspy")
    w.open()
    w.attach()
    for i in range(5):
        s.ingest(meta_get(i))
    w.flush()
    assert len(s) == 2 and s.dropped == 3
    [evicted] = ids_at(w.db, [1])
    assert s.get(evicted) is None and s.event(evicted).event == "PageView"
    assert s.hit(s.event(evicted).hit_id).url.startswith("https://www.facebook.com/tr/")
    assert "session file holds every event" in s.dropped_note()
    w.close()


def test_a_session_file_goes_on_where_it_stopped(tmp_path):
    """--session FILE of an existing file: its events are read back, new ones appended with new ids."""
    path = tmp_path / "s.pixelspy"
    first, w = recorded(path, [meta_get(0), meta_get(1, "Lead")])
    w.close()
    recorded_again(path, meta_get(2, "Purchase"))
    back = Session()
    assert reader.load(path, back).events == 3
    assert [ev.event for ev in back] == ["PageView", "Lead", "Purchase"]
    assert len({ev.id for ev in back}) == 3 and [ev.id for ev in back][:2] == [ev.id for ev in first]


def test_words_are_searched_without_fts5_too(tmp_path, monkeypatch):
    """An SQLite built without FTS5 gets no index of words: the same query scans the events."""
    from pixelspy.store import schema

    monkeypatch.setattr(schema, "has_fts5", lambda: False)
    path = tmp_path / "s.pixelspy"
    live, w = recorded(path, [meta_get(0), meta_post(1, "Purchase", **{"cd[content_name]": "50%_off shoes"})])
    w.close()
    db = sqlite3.connect(path)
    assert not schema.has_fts_table(db)
    ids = [ev.id for ev in live]
    assert ids_at(db, queries.filter_seqs(db, words=["purchase"])) == [ids[1]]
    assert ids_at(db, queries.filter_seqs(db, words=["50%_off"])) == [ids[1]]
    assert list(queries.filter_seqs(db, words=["50%x"])) == []


def test_a_session_file_is_readable_by_its_owner_alone(tmp_path):
    """It holds cookies and personal data as sent (HAR files are redacted, session files are not)."""
    path = tmp_path / "s.pixelspy"
    live, w = recorded(path, [meta_get(0)])
    w.flush()
    assert (path.stat().st_mode & 0o777) == 0o600 and (Path(f"{path}-wal").stat().st_mode & 0o777) == 0o600
    out = tmp_path / "live.har"
    assert w.export_har(out) == 1 and json.loads(out.read_text())["log"]["_pixelspy"]["redacted"] is True
    w.close()


def _events_alive(event_id: str) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is TrackingEvent and o.id == event_id)


def test_a_late_duplicate_marks_an_event_evicted_from_memory_in_the_file(tmp_path):
    """The checks keep ids of earlier events, not the events: one evicted from memory is read back
    from the file when a later copy marks it, and the update is published and rewritten."""
    s = Session(max_events=2)
    w = StoreWriter(s, tmp_path / "s.pixelspy")
    w.open()
    w.attach()
    updates: list[str] = []
    s.subscribe(lambda ev, is_update: updates.append(ev.id) if is_update else None)
    first = s.ingest(meta_get(0, "AddToCart", eid="same"))[0].id
    for i in range(1, 4):
        s.ingest(meta_get(i))
    w.flush()
    assert s.get(first) is None and _events_alive(first) == 0  # no check window holds it
    s.ingest(meta_get(4, "AddToCart", eid="same"))
    w.close()
    assert first in updates
    codes = [r[0] for r in sqlite3.connect(tmp_path / "s.pixelspy").execute(
        "SELECT code FROM findings WHERE event_id = ?", (first,))]
    assert "duplicate-event" in codes


def test_without_a_file_a_late_duplicate_still_reaches_an_evicted_event():
    """`pixelspy check` keeps few events in memory and no file: the windows keep the events."""
    s = Session(max_events=2)
    updated: list = []
    s.subscribe(lambda ev, is_update: updated.append(ev) if is_update else None)
    first = s.ingest(meta_get(0, "AddToCart", eid="same"))[0]
    for i in range(1, 4):
        s.ingest(meta_get(i))
    s.ingest(meta_get(4, "AddToCart", eid="same"))
    assert s.get(first.id) is None and updated == [first]
    assert "duplicate-event" in [f.code for f in first.findings]


def test_filters_answer_with_the_seqs_of_the_matching_events_from_the_indexes(tmp_path):
    """The TUI's filters on a session file: seqs ascending, in a range of seqs, read from the indexes
    alone (an index holds its row's seq; schema 2)."""
    path = tmp_path / "s.pixelspy"
    live, w = recorded(path, [meta_get(0), meta_post(1, "Purchase", **{"cd[value]": "10"}), meta_get(2, "Lead"),
                              meta_post(3, "Purchase", **{"cd[value]": "$12", "cd[currency]": "EUR"}), meta_get(4)])
    w.close()
    db = sqlite3.connect(path)
    evs = list(live)

    def seqs(pred) -> list[int]:
        return [i + 1 for i, ev in enumerate(evs) if pred(ev)]

    def has(severity: str):
        return lambda ev: any(f.severity.value == severity for f in ev.findings)

    assert seqs(lambda ev: ev.event == "Purchase") == [2, 4]
    assert list(queries.filter_seqs(db, words=["purch"])) == [2, 4]
    assert list(queries.filter_seqs(db, words=["purch"], after=2)) == [4]
    assert list(queries.filter_seqs(db, words=["purch"], after=0, upto=3)) == [2]
    assert list(queries.filter_seqs(db, any_of={"platform": {"meta"}}, words=["lead"])) == [3]
    assert list(queries.filter_seqs(db, any_of={"platform": {"tiktok"}})) == []
    assert list(queries.filter_seqs(db, any_of={"platform": {"meta"}}, after=1, upto=4)) == [2, 3, 4]
    assert seqs(has("error")) and seqs(has("warning")) != seqs(has("error"))
    for severity in ("error", "warning", "info"):
        assert list(queries.filter_seqs(db, finding_severities={severity})) == seqs(has(severity))
    assert list(queries.filter_seqs(db, has_findings=True)) == seqs(lambda ev: bool(ev.findings))
    at = reader.events_at(db, [4, 2, 99])  # the rows of a screen, read back by seq
    assert sorted(at) == [2, 4] and all(at[s].id == evs[s - 1].id for s in at)
    assert all(at[s].findings == evs[s - 1].findings and at[s].findings for s in at)
    for sql in ("SELECT seq FROM events WHERE platform IN ('meta') ORDER BY seq",
                "SELECT seq FROM events WHERE severity IN (3) ORDER BY seq",
                "SELECT event_id FROM findings WHERE severity IN ('warning')"):
        plan = " ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql))
        assert "COVERING INDEX" in plan and "TEMP B-TREE" not in plan, plan


def test_a_file_of_schema_1_is_read_as_it_is_and_upgraded_when_recorded_into(tmp_path, monkeypatch):
    from pixelspy.store import schema

    path = tmp_path / "v1.pixelspy"
    with monkeypatch.context() as m:  # a file the first session store made
        m.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
        m.setattr(schema, "SCHEMA_VERSION", 1)
        first, w = recorded(path, [meta_get(0), meta_post(1, "Purchase", **{"cd[value]": "10"})])
        w.close()
    db = schema.connect(path, write=False)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert list(queries.filter_seqs(db, any_of={"platform": {"meta"}}, words=["purch"])) == [2]
    assert list(queries.filter_seqs(db, any_of={"platform": {"meta"}, "kind": {"event"}})) == [1, 2]  # (no index)
    db.close()
    recorded_again(path, meta_get(2, "Lead"))
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 3
    indexes = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
    assert indexes["events_platform"] == "CREATE INDEX events_platform ON events(platform)"
    assert indexes["events_pixel"] == "CREATE INDEX events_pixel ON events(lower(pixel))"
    assert {"findings_severity", "events_kind", "events_source"} <= set(indexes) and "events_time" not in indexes
    assert list(queries.filter_seqs(db, any_of={"platform": {"meta"}})) == [1, 2, 3]
    assert list(queries.filter_seqs(db, any_of={"platform": {"meta"}, "kind": {"event"}})) == [1, 2, 3]
    back = Session()
    reader.load(path, back)
    assert [ev.event for ev in back] == ["PageView", "Purchase", "Lead"]
    assert [ev.id for ev in back][:2] == [ev.id for ev in first]


def filter_forms(evs: list[TrackingEvent]) -> dict[str, tuple[dict, object]]:
    """Every filter form on scripted_hits' events: FileFilter's arguments, and what an event that
    passes is."""
    from pixelspy.tui.filters import search_blob

    server = next(ev for ev in evs if ev.source.value == "server")
    code = next(f.code for ev in evs for f in ev.findings)
    return {
        "platform:tiktok": ({"any_of": {"platform": {"tiktok"}}}, lambda ev: ev.platform == "tiktok"),
        "kind:pixel_loaded": ({"any_of": {"kind": {"pixel_loaded"}}}, lambda ev: ev.kind.value == "pixel_loaded"),
        "source:server": ({"any_of": {"source": {"server"}}}, lambda ev: ev.source.value == "server"),
        "source:browser": ({"any_of": {"source": {"browser"}}}, lambda ev: ev.source.value == "browser"),
        "kind:event": ({"any_of": {"kind": {"event"}}}, lambda ev: ev.kind.value == "event"),
        "device": ({"any_of": {"device": {server.device}}}, lambda ev: ev.device == server.device),
        "pixel": ({"pixels": {server.pixel_id.upper() + "x", server.pixel_id.upper()}},
                  lambda ev: (ev.pixel_id or "").lower() == server.pixel_id.lower()),
        "has:findings": ({"has_findings": True}, lambda ev: bool(ev.findings)),
        "sev:warning": ({"finding_severities": {"warning"}},
                        lambda ev: any(f.severity.value == "warning" for f in ev.findings)),
        "code": ({"finding_codes": {code}}, lambda ev: any(f.code == code for f in ev.findings)),
        "purchase": ({"words": ["purchase"]}, lambda ev: "purchase" in search_blob(ev)),
    }


def assert_every_form_and_pair(db: sqlite3.Connection, forms: dict, rows: list[tuple[int, TrackingEvent]]) -> None:
    """Every form and every pair of them counts and lists (assert_rows_of) the rows (seq, event)
    that pass, as a plain scan of them finds."""
    for name, (kw, passes) in forms.items():
        expected = [seq for seq, ev in rows if passes(ev)]
        assert expected and len(expected) < len(rows), name  # (each form tells events apart)
        assert_rows_of(db, kw, expected)
    for (a, (kw_a, pass_a)), (b, (kw_b, pass_b)) in itertools.combinations(forms.items(), 2):
        if set(kw_a.get("any_of", ())) & set(kw_b.get("any_of", ())):
            continue  # (one key: its values are either; in-memory tests have those)
        kw = {**kw_a, **kw_b, "any_of": {**kw_a.get("any_of", {}), **kw_b.get("any_of", {})}}
        assert_rows_of(db, kw, [seq for seq, ev in rows if pass_a(ev) and pass_b(ev)])


def test_every_filter_form_and_their_pairs_answer_from_the_indexes_as_the_events_say(tmp_path, monkeypatch):
    """Schema 3: kind, source, device and pixel (any case) from an index each, in seq order; two
    conditions or more: the one with the fewest recent matches first, the others merged with it; every
    form and pair counted and listed from either end, at any offset, as the events say."""
    from tests.tui.scripted import scripted_hits

    path = tmp_path / "s.pixelspy"
    live, w = recorded(path, scripted_hits())
    w.close()
    db = sqlite3.connect(path)
    evs = list(live)
    forms = filter_forms(evs)
    asked: list[str] = []
    seqs_of_sql = queries._seqs
    monkeypatch.setattr(queries, "_seqs", lambda db, sql, *a, **k: asked.append(sql) or seqs_of_sql(db, sql, *a, **k))
    assert_every_form_and_pair(db, forms, list(enumerate(evs, 1)))
    asked.clear()  # the words' seqs but the rows the column leaves out: each from its own index, merged
    queries.filter_seqs(db, any_of={"source": {"browser"}}, words=["purchase"])
    assert not has_fts5() or ("events_fts" in asked[-1] and "EXCEPT SELECT seq FROM events INDEXED BY events_source"
                              in asked[-1]), asked
    asked.clear()  # one server event among many meta ones: the source index first, then the platform's
    queries.filter_seqs(db, any_of={"platform": {"meta"}, "source": {"server"}})
    assert asked[-1].startswith("SELECT seq FROM events INDEXED BY events_source") and "events_platform" in asked[-1]
    for sql in ("SELECT seq FROM events WHERE kind IN ('event') ORDER BY seq",
                "SELECT seq FROM events WHERE source IN ('server') ORDER BY seq",
                "SELECT seq FROM events WHERE device IN ('x') ORDER BY seq",
                "SELECT seq FROM events WHERE lower(pixel) IN ('x') ORDER BY seq"):
        plan = " ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql))
        assert "INDEX" in plan and "TEMP B-TREE" not in plan, plan


def test_the_rows_a_column_leaves_out_come_from_its_index_as_a_plain_scan_says(tmp_path, monkeypatch):
    """A column most rows pass is met by taking away the rows it leaves out: each other value's range
    of the column's index (one value: in seq order, no sort), NULLs too; a column with many other
    values: the ranges around the filter's values."""
    from tests.tui.scripted import scripted_hits

    path = tmp_path / "s.pixelspy"
    recorded(path, scripted_hits())[1].close()
    db = sqlite3.connect(path)
    db.execute("UPDATE events SET pixel = NULL WHERE seq IN (3, 7)")  # (an event without a pixel id)
    upto = reader.last_seq(db)
    columns = {"platform": ("events_platform", "{t}platform"), "kind": ("events_kind", "{t}kind"),
               "lower(pixel)": ("events_pixel", "lower({t}pixel)")}
    sorts = []
    for most in (queries.MOST_OTHER_VALUES, 1, 0):
        monkeypatch.setattr(queries, "MOST_OTHER_VALUES", most)
        for column, (index, expr) in columns.items():
            values = [v for (v,) in db.execute(f"SELECT DISTINCT {column} FROM events WHERE {column} IS NOT NULL")]
            for kept in (values[:1], values[1:]):
                for after, top in ((0, upto), (2, upto - 3)):
                    found = []
                    for part in queries._Indexed(index, expr, sorted(kept)).outside(db):
                        sql, args = part.within(after, top)
                        found += [seq for (seq,) in db.execute(sql, args)]
                        plan = " ".join(r[3] for r in db.execute(f"EXPLAIN QUERY PLAN {sql} ORDER BY seq", args))
                        sorts.append("TEMP B-TREE" in plan)
                    plain = (f"SELECT seq FROM events WHERE seq > ? AND seq <= ? AND ({column} IS NULL OR {column} "
                             f"NOT IN ({','.join('?' * len(kept))})) ORDER BY seq")
                    expected = [seq for (seq,) in db.execute(plain, [after, top, *kept])]
                    assert sorted(found) == expected, (column, kept, most)
    assert True in sorts and False in sorts  # (one other value: the index's order, no sort)
