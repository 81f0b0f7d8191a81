"""Filters on a session file larger than memory (issue #27): the count and the newest rows at once,
the others read as they are shown, from either end, at any row: the same rows as a filter in memory;
a filter typed over another stops the other's query."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from pixelspy.session import Session
from pixelspy.store import queries
from pixelspy.tui import event_list, file_rows
from pixelspy.tui.app import PixelSpyApp
from tests.tui.test_app import until
from tests.tui.test_never_lose_work import hit
from tests.tui.test_session_file import recorded_app

NAMES = [("Purchase" if i % 3 == 0 else "Lead" if i % 3 == 1 else f"View{i}") for i in range(40)]
FILTERS = ("purch", "platform:meta lead", "has:findings", "platform:tiktok", "platform:meta|tiktok purch")


def listed_ids(app: PixelSpyApp) -> list[str]:
    """The events of the list's rows, in order (the file's rows read back by seq)."""
    events = app.event_list
    keys = [(i, events._row_key(i)) for i in range(events.row_count)]
    return [events._event_at(k, i).id if type(k) is int else k for i, k in keys if k is not None]


async def row_key(pilot, events, i: int) -> str | int | None:
    """The key of row `i`, once read (a scanned filter's rows are read off the event loop)."""
    for _ in range(2000):
        if not 0 <= i < events.row_count or events._row(i) is not None:
            return events._row_key(i)
        await pilot.pause(0.005)
    raise AssertionError(f"row {i} never read")


async def listed(pilot, app: PixelSpyApp) -> list[str]:
    """listed_ids, each row waited for as it is read."""
    events = app.event_list
    keys = [(i, await row_key(pilot, events, i)) for i in range(events.row_count)]
    return [events._event_at(k, i).id if type(k) is int else k for i, k in keys if k is not None]


async def filtered_in_memory(queries: tuple[str, ...]) -> dict[str, list[int]]:
    """The positions (in NAMES) of the events each filter lists with every event in memory, no file."""
    app = PixelSpyApp(Session(), None)
    found = {}
    async with app.run_test(size=(140, 12)) as pilot:
        ids = [app.session.ingest(hit(name))[0].id for name in NAMES]
        await until(pilot, lambda: app.event_list.row_count == len(NAMES))
        for query in queries:
            before = app.event_list._filter
            app.filter_box.value = query
            await until(pilot, lambda: app.event_list._filter is not before)
            found[query] = [ids.index(i) for i in listed_ids(app)]
    return found


async def file_app_listing_all(pilot, app, writer) -> list[str]:
    """The events ingested, committed and moved to the list's file part (memory keeps 3)."""
    ids = [app.session.ingest(hit(name))[0].id for name in NAMES]
    events = app.event_list
    await until(pilot, lambda: events.row_count == len(NAMES))
    writer.flush()
    events.let_go()
    assert events._order == [] and events.row_count == len(NAMES)
    return ids


async def rows_read_anyhow(pilot, events) -> list[list[str | int]]:
    """The list's rows (seqs of the file, ids of memory) read as a user may come to them: from the
    newest back, from the oldest on, from the middle first (each with the rows read before forgotten)."""
    orders = [range(events.row_count - 1, -1, -1), range(events.row_count),
              [events.row_count // 2, *range(events.row_count)]]
    found = []
    for order in orders:
        if isinstance(events._file.seqs, file_rows.FilterRows):
            events._file.seqs._blocks.clear()
        rows = {i: await row_key(pilot, events, i) for i in order}
        found.append([rows[i] for i in range(events.row_count) if rows[i] is not None])
    return found


@pytest.mark.parametrize("fts", [True, False], ids=["fts5", "no-fts5"])
async def test_a_filter_counts_and_lists_from_anywhere_the_same_rows_as_in_memory(tmp_path, monkeypatch, fts):
    if not fts:  # words read from the events' JSON, counted a few seqs at a time
        monkeypatch.setattr("pixelspy.store.schema.has_fts5", lambda: False)
        monkeypatch.setattr(file_rows, "SCAN_ROWS", 7)
    monkeypatch.setattr(file_rows.FilterRows, "BLOCK", 4)  # (a million rows, in small)
    monkeypatch.setattr(file_rows.FilterRows, "BLOCKS", 2)
    answers: list[int] = []
    answered = event_list.EventList._file_answered

    def record(self, query, rows, shown):
        answers.append(len(rows))
        answered(self, query, rows, shown)
        assert self.event_count == len(rows) + len(self.visible_ids())  # (the count, at once; and the newer rows')

    monkeypatch.setattr(event_list.EventList, "_file_answered", record)
    expected = await filtered_in_memory(FILTERS)
    assert not expected["platform:tiktok"] and len(expected["has:findings"]) == len(NAMES)
    app, writer = recorded_app(tmp_path, max_events=3)
    try:
        async with app.run_test(size=(140, 12)) as pilot:
            events = app.event_list
            ids = await file_app_listing_all(pilot, app, writer)
            assert all(len(expected[q]) > 2 * events.size.height for q in FILTERS[:3])
            for q in FILTERS:
                answers.clear()
                before = events._filter
                app.filter_box.value = q
                await until(pilot, lambda: events._filter is not before and not events.file_pending)
                whole = [i + 1 for i in expected[q]]  # (seq = position + 1)
                assert answers == [len(whole)], q
                assert await rows_read_anyhow(pilot, events) == [whole] * 3, q
                assert [ids.index(i) for i in await listed(pilot, app)] == expected[q], q
                # The scrollbar follows (its size set without a layout of the screen while it stays).
                assert events.virtual_size.height == events.row_count + 1 and events.scroll_y <= events.max_scroll_y
                if events.show_vertical_scrollbar:
                    assert events.vertical_scrollbar.window_virtual_size == events.row_count + 1, q
                assert events.selected_id == ids[expected[q][-1]] if whole else events.selected_id is None
            app.filter_box.value = "has:findings"  # every row: the keys move the cursor over rows read as shown
            await until(pilot, lambda: events._filter is not None and not events.file_pending)
            events._file.seqs._blocks.clear()
            page, home, end, down = (events.action_cursor, 20), (events.action_first,), (events.action_last,), \
                (events.action_cursor, 1)
            for keys, row in (([home], 0), ([page], 20), ([page, page], len(NAMES) - 1), ([end, (page[0], -20)],
                              len(NAMES) - 21), ([home, down], 1)):  # (Home, PgDn, End, PgUp, ↓)
                for action, *args in keys:
                    action(*args)
                await pilot.pause()
                assert events.selected_id == ids[row], keys
            assert events.select_event(ids[17]) and events.selected_id == ids[17]  # (jumping to an event by id)
            before = events._filter
            app.filter_box.value = FILTERS[0]
            await until(pilot, lambda: events._filter is not before and not events.file_pending)
            answers.clear()  # an event of the file's rows changed: the answer asked again
            events.changed(ids[0])
            events.let_go()
            await until(pilot, lambda: answers and not events.file_pending)
            assert answers == [len(expected[FILTERS[0]])]
            rows = events.row_count  # a new row: the scrollbar grows with it (no layout of the screen)
            app.session.ingest(hit("Purchase"))
            await until(pilot, lambda: events.virtual_size.height == rows + 2)
            assert events.show_vertical_scrollbar and events.vertical_scrollbar.window_virtual_size == rows + 2
    finally:
        writer.close()


async def test_a_filter_typed_over_another_stops_its_query_midway(tmp_path, monkeypatch):
    """The first filter's query is held midway (where SQLite asks whether to stop) until the second
    filter is typed: it stops there (queries.Stopped), and the second's rows are listed."""
    monkeypatch.setattr(queries, "STOP_CHECK_STEPS", 1)
    entered, release = threading.Event(), threading.Event()
    outcome: list[str] = []
    count = queries.FileFilter.count

    def first_held(self, db, *, stop=None, **kw):
        if entered.is_set():
            return count(self, db, stop=stop, **kw)

        def held() -> bool:
            # Once: the query holds the file's lock here, so a wait at every step would hang the
            # test (for 10 s a step) if the loop ever blocked on that lock instead of failing it.
            if not entered.is_set():
                entered.set()
                release.wait(10)
            return stop()

        try:
            n = count(self, db, stop=held, **kw)
        except queries.Stopped:
            outcome.append("stopped")
            raise
        outcome.append("ran to its end")
        return n

    monkeypatch.setattr(queries.FileFilter, "count", first_held)
    app, writer = recorded_app(tmp_path, max_events=3)
    try:
        async with app.run_test(size=(140, 30)) as pilot:
            events = app.event_list
            ids = await file_app_listing_all(pilot, app, writer)
            # Every row read now: drawing them while the first query holds the file (as a long
            # count does) then reads nothing
            listed_ids(app)
            app.filter_box.value = "purch"
            await until(pilot, entered.is_set)
            app.filter_box.value = "lead"
            await pilot.pause()
            release.set()
            await until(pilot, lambda: not events.file_pending)
            assert outcome == ["stopped"]
            assert listed_ids(app) == [i for i, name in zip(ids, NAMES, strict=True) if name == "Lead"]
    finally:
        writer.close()


def test_a_query_counts_and_lists_the_rows_of_its_whole_answer_and_stops_when_told(tmp_path, monkeypatch):
    from tests.test_store import meta_get, meta_post, recorded

    monkeypatch.setattr(queries, "STOP_CHECK_STEPS", 1)

    path = tmp_path / "s.pixelspy"
    hits = [meta_post(i, "Purchase") if i % 2 else meta_get(i, "Lead") for i in range(30)]
    _, w = recorded(path, hits)
    w.close()
    db = sqlite3.connect(path)
    for kw in ({"words": ["purch"]}, {"any_of": {"platform": {"meta"}}, "words": ["lead"]},
               {"has_findings": True}, {"finding_severities": {"warning", "error"}},
               {"any_of": {"platform": {"meta"}}}, {"finding_codes": {"no-such-code"}}):
        found = queries.FileFilter.of(db, **kw)
        whole = list(found.seqs(db))
        assert found.count(db) == len(whole) and list(found.seqs(db, limit=4, newest_first=True)) == whole[-4:], kw
    purch = queries.FileFilter.of(db, words=["purch"])
    assert purch.count(db) == 15
    for ask in (purch.count, purch.seqs):
        with pytest.raises(queries.Stopped):
            ask(db, stop=lambda: True)
    assert purch.count(db) == 15  # (the connection is left as it was)
    assert list(queries.filter_seqs(db, words=["pu\x00rch", "purch"])) == []  # (FTS5 cannot parse a NUL)
    assert list(queries.filter_seqs(db, words=['"', "*", "NEAR(", "-"])) == []
    db.close()


async def test_a_file_that_cannot_answer_a_filter_lists_none_of_its_rows_and_the_list_goes_on(tmp_path, monkeypatch):
    """(Said in the TUI's log.)"""
    def damaged(db, **kw):
        raise sqlite3.DatabaseError("database disk image is malformed")

    app, writer = recorded_app(tmp_path, max_events=3)
    try:
        async with app.run_test(size=(140, 30)) as pilot:
            events = app.event_list
            await file_app_listing_all(pilot, app, writer)
            monkeypatch.setattr(queries.FileFilter, "of", damaged)
            app.filter_box.value = "purch"
            await until(pilot, lambda: events._filter is not None and not events.file_pending)
            assert events.row_count == 0
            await until(pilot, lambda: any("could not answer the filter" in line for line in app.log_view.lines))
            monkeypatch.undo()
            app.filter_box.value = "lead"
            await until(pilot, lambda: not events.file_pending and events.row_count == NAMES.count("Lead"))
    finally:
        writer.close()



async def test_a_filter_of_most_rows_lists_them_and_grows_with_the_rows_that_come(tmp_path):
    """A filter most rows pass (the rows it leaves out taken away): the same rows as in memory; rows
    committed after it join it as they pass."""
    from pixelspy.model import RawHit

    def other(name: str) -> RawHit:  # (another pixel of the same shop)
        return RawHit(method="GET", url=f"https://www.facebook.com/tr/?id=999888777&ev={name}", client="127.0.0.1")

    app, writer = recorded_app(tmp_path, max_events=3)
    try:
        async with app.run_test(size=(140, 12)) as pilot:
            events = app.event_list
            ids = [app.session.ingest(other(n) if i % 5 == 2 else hit(n))[0].id for i, n in enumerate(NAMES)]
            await until(pilot, lambda: events.row_count == len(NAMES))
            writer.flush()
            events.let_go()
            app.filter_box.value = "pixel:1234567890123456"
            await until(pilot, lambda: events._filter is not None and not events.file_pending)
            assert isinstance(events._file.seqs, file_rows.FilterRows)
            passing = [ids[i] for i in range(len(NAMES)) if i % 5 != 2]
            assert listed_ids(app) == passing and events.selected_id == passing[-1]
            late = [app.session.ingest(other("Late") if k % 2 else hit("Late"))[0].id for k in range(4)]
            await until(pilot, lambda: events.event_count == len(passing) + 2)
            writer.flush()
            events.let_go()  # (the app's tick) the late rows move to the file's part: the answer grows
            assert events._order == [] and isinstance(events._file.seqs, file_rows.FilterRows)
            assert listed_ids(app) == passing + late[::2] and len(events._file.seqs) == len(passing) + 2
    finally:
        writer.close()


def test_a_filters_rows_read_in_any_order_are_its_whole_answer(tmp_path, monkeypatch):
    """FilterRows reads a block at a time from the nearest row known (either end, or a block read
    before, at an offset; a scanned filter's, from the parts of the file holding it): in any order of reading, with few blocks kept, row i is the i-th seq of the
    whole answer, and the count of rows before a seq is its place there."""
    import itertools
    import random
    from bisect import bisect_left
    from types import SimpleNamespace

    from tests.test_store import meta_get, meta_post, recorded

    path = tmp_path / "s.pixelspy"
    _, w = recorded(path, [meta_post(i, "Purchase") if i % 3 else meta_get(i, "Lead") for i in range(45)])
    w.close()
    db = sqlite3.connect(path)
    cache = SimpleNamespace(file=lambda query, **kw: query(db, **kw))
    rng = random.Random(27)
    for kw in ({"words": ["purch"]}, {"any_of": {"kind": {"event"}}, "words": ["purch"]}, {"has_findings": True},
               {"after": 5, "upto": 40, "any_of": {"platform": {"meta"}}}):
        whole = list(queries.filter_seqs(db, **kw))
        found = queries.FileFilter.of(db, **kw)
        for (block, kept), scan_rows in itertools.product(((1, 1), (2, 3), (4, 2), (7, 64)), (None, 1, 5)):
            monkeypatch.setattr(file_rows.FilterRows, "BLOCK", block)
            monkeypatch.setattr(file_rows.FilterRows, "BLOCKS", kept)
            monkeypatch.setattr(file_rows, "SCAN_ROWS", scan_rows or 1)
            found.gapless = bool(scan_rows and scan_rows % 5)  # (parts cut by seqs, or stepped through the rows)
            # (scan_rows: read as a scanned filter's, from ScanParts of so many rows, as no condition is)
            count, parts = file_rows._count(cache, found, {}, lambda: False) if scan_rows else (found.count(db), None)
            rows = file_rows.FilterRows(cache, found, count, parts)
            order = list(range(len(whole))) * 2
            rng.shuffle(order)
            assert [rows[i] for i in order] == [whole[i] for i in order] and not rows.drifted, (kw, block)
            assert all(rows.before(s) == bisect_left(whole, s) for s in range(found.after, found.upto + 2)), kw
    db.close()


async def test_a_scanned_filters_far_rows_are_read_off_the_event_loop(tmp_path, monkeypatch):
    """Without FTS5 a word's rows are found by reading every event: a block far from those read
    (Home under the filter) is read in a worker thread while the list goes on taking keys, its rows
    drawn as "…" until it comes, then the right ones."""
    monkeypatch.setattr("pixelspy.store.schema.has_fts5", lambda: False)
    monkeypatch.setattr(file_rows, "SCAN_ROWS", 7)
    monkeypatch.setattr(file_rows.FilterRows, "BLOCK", 4)
    entered, release = threading.Event(), threading.Event()
    read = file_rows.FilterRows.read

    def held(self, b, stop=None):  # (a fetch passes its stop; the answer's own newest rows do not)
        if stop is not None:
            entered.set()
            assert release.wait(10)
        return read(self, b, stop)

    monkeypatch.setattr(file_rows.FilterRows, "read", held)
    app, writer = recorded_app(tmp_path, max_events=3)
    try:
        async with app.run_test(size=(140, 12)) as pilot:
            events = app.event_list
            ids = await file_app_listing_all(pilot, app, writer)
            purchases = [i for i, name in zip(ids, NAMES, strict=True) if name == "Purchase"]
            app.filter_box.value = "purch"
            await until(pilot, lambda: events._filter is not None and not events.file_pending)
            assert isinstance(events._file.seqs, file_rows.FilterRows) and events._file.seqs.parts is not None
            assert events.selected_id == purchases[-1]  # (the newest rows: read with the answer)
            events.focus()
            await pilot.press("home")
            await until(pilot, entered.is_set)
            assert events.cursor == 0 and events._row(0) is None and events.selected_id is None
            assert events.render_line(1).text.strip() == "…"
            await pilot.press("down")  # the event loop takes keys while the block is read
            assert events.cursor == 1
            release.set()
            await until(pilot, lambda: events.selected_id == purchases[1])
            assert await listed(pilot, app) == purchases
    finally:
        release.set()
        writer.close()


@pytest.mark.parametrize("smallest", [False, True], ids=["gaps", "a-row-at-sqlites-smallest-seq"])
async def test_a_file_whose_seqs_have_gaps_lists_its_rows_and_filters_them(tmp_path, smallest):
    """A hand-edited file (rows deleted, seqs below 1 and huge): the list shows its rows in seq order,
    as many as there are, and a filter of most rows the rows that pass. (A row at SQLite's smallest
    integer, no seq before it, is left out: the list asked from the seq before it and never heard.)"""
    from pixelspy.store import reader
    from pixelspy.store.writer import StoreWriter
    from tests.test_store import recorded
    from tests.test_store_hostile import gaps, regapped
    from tests.tui.scripted import scripted_hits

    path = tmp_path / "s.pixelspy"
    live, w = recorded(path, scripted_hits())
    w.close()
    evs = list(live)
    moved = gaps(len(evs))
    if smallest:
        moved[1] = reader.MIN_SEQ
    db = sqlite3.connect(path)
    regapped(db, moved)
    db.close()
    kept = [ev for seq, ev in sorted((moved[seq], ev) for seq, ev in enumerate(evs, 1) if moved.get(seq) is not None)
            if seq != reader.MIN_SEQ]
    session = Session(max_events=3)
    reader.load(path, session)
    writer = StoreWriter(session, path)  # (as `pixelspy open` does: it goes on recording into the file)
    writer.open()
    writer.attach()
    try:
        app = PixelSpyApp(session, None)
        async with app.run_test(size=(140, 12)) as pilot:
            events = app.event_list
            await until(pilot, lambda: not events.file_pending and events.event_count == len(kept))
            assert await listed(pilot, app) == [ev.id for ev in kept]
            app.filter_box.value = "source:browser"
            await until(pilot, lambda: events._filter is not None and not events.file_pending)
            browser = [ev.id for ev in kept if ev.source.value == "browser"]
            assert events.event_count == len(browser) and await listed(pilot, app) == browser
            app.filter_box.value = ""
            await until(pilot, lambda: events._filter is None and not events.file_pending)
            assert await listed(pilot, app) == [ev.id for ev in kept]
    finally:
        writer.close()


@pytest.mark.parametrize("marks_first", [True, False], ids=["many-marks-then-a-filter", "a-filter-then-a-few-marks"])
async def test_marks_are_placed_among_a_filters_rows_without_a_count_each_on_the_event_loop(tmp_path, monkeypatch,
                                                                                            marks_first):
    """Where a mark stands among a filter's rows is a count of the rows before it. A file with many
    marks (a hostile one: 10,000) had one each on the event loop at every filter change; now the worker
    lists the rows once and bisects. A few marks older than the rows in memory, added while a filter
    lists the file's rows, are counted in a worker too. The marks stand where they do in memory: before
    the first row after."""
    from pixelspy.model import RawHit
    from pixelspy.session import Mark

    if marks_first:
        monkeypatch.setattr(file_rows, "FEW_PLACES", 2)
    marked = range(0, len(NAMES), 2) if marks_first else (0, 2)
    counted_on_the_loop = []
    count = queries.FileFilter.count

    def spied(self, db, **kw):
        counted_on_the_loop.append(threading.current_thread() is threading.main_thread())
        return count(self, db, **kw)

    monkeypatch.setattr(queries.FileFilter, "count", spied)
    app, writer = recorded_app(tmp_path, max_events=3)
    try:
        async with app.run_test(size=(140, 12)) as pilot:
            events = app.event_list
            t0 = 1_700_000_000.0
            ids = [app.session.ingest(RawHit(method="GET", url=hit(name).url, client="127.0.0.1", time=t0 + i))[0].id
                   for i, name in enumerate(NAMES)]
            await until(pilot, lambda: events.row_count == len(NAMES))
            writer.flush()
            events.let_go()

            async def add_marks():
                app.session.add_marks([Mark(f"m{k}", t0 + k + 0.5) for k in marked])
                await until(pilot, lambda: len(events._file.marks) == len(marked) and not events.file_pending)

            async def filter_purchases():
                app.filter_box.value = "purch"
                await until(pilot, lambda: events._filter is not None and not events.file_pending)

            first, then = (add_marks, filter_purchases) if marks_first else (filter_purchases, add_marks)
            await first()
            counted_on_the_loop.clear()
            await then()
            await pilot.pause()
            shown = []
            for i in range(events.row_count):
                row = events._row(i)
                shown.append(row.label if isinstance(row, Mark) else events._event_at(row, i).id)
            expected = []
            for k, name in enumerate(NAMES):
                expected += [ids[k]] if name == "Purchase" else []
                expected += [f"m{k}"] if k in marked else []
            assert shown == expected
            assert counted_on_the_loop and not any(counted_on_the_loop)
    finally:
        writer.close()
