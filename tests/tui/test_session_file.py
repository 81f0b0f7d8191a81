"""The TUI on a live session recorded into a session file (issue #27), and a new user's findings:
the empty list's shell recipe, the exit status of an unreadable file."""

from __future__ import annotations

import json
import time

import pytest

from pixelspy.model import RawHit
from pixelspy.proxy import ProxyConfig
from pixelspy.session import Mark, Session
from pixelspy.store import queries, reader
from pixelspy.store.schema import has_fts_table
from pixelspy.store.writer import StoreWriter
from pixelspy.tui.app import PixelSpyApp
from pixelspy.tui.screens import Confirm
from tests.conftest import free_port
from tests.tui.test_app import detail_text, save_with_ctrl_s, until
from tests.tui.test_never_lose_work import hit


def recorded_app(tmp_path, max_events: int) -> tuple[PixelSpyApp, StoreWriter]:
    session = Session(max_events=max_events)
    writer = StoreWriter(session, tmp_path / "live.pixelspy")
    writer.open()
    writer.attach()
    return PixelSpyApp(session, ProxyConfig(port=free_port(), confdir=str(tmp_path / "mitm"))), writer


def events_in_file(writer: StoreWriter) -> int:
    writer.flush()
    with writer._lock:
        return len(queries.filter_seqs(writer.db))


async def test_the_empty_list_gives_the_ca_bundle_recipe_with_the_real_port(tmp_path):
    port = free_port()
    app = PixelSpyApp(Session(), ProxyConfig(port=port, confdir=str(tmp_path / "mitm")))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        hint = "\n".join(app.event_list.empty_hint)
    assert f'eval "$(pixelspy ca --bundle -p {port} --confdir {tmp_path / "mitm"})"' in hint


async def test_an_unreadable_file_exits_2_once_the_user_quits(tmp_path):
    bad = tmp_path / "bad.har"
    bad.write_text('{"log": {"entries": [')
    app = PixelSpyApp(Session(), None, load=bad)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.load_failed)
        assert "could not be read" in app.event_list.empty_hint[0]
        await pilot.press("q")
    assert app.return_code == 2


async def test_with_a_session_file_clear_says_the_file_keeps_them_and_quit_does_not_ask(tmp_path):
    app, writer = recorded_app(tmp_path, max_events=3)
    try:
        async with app.run_test(size=(140, 30)) as pilot:
            for ev in ("PageView", "ViewContent", "AddToCart", "InitiateCheckout", "Purchase"):
                app.session.ingest(hit(ev))
            await until(pilot, lambda: app.session.dropped == 2)
            app._update_status()
            status = str(app.status.content)
            assert "2 oldest in the session file only" in status and "dropped" not in status
            await pilot.press("x")
            await until(pilot, lambda: isinstance(app.screen, Confirm))
            assert "the session file keeps them" in app.screen.question
            await pilot.press("y")
            await until(pilot, lambda: app.event_list.row_count == 0)
            assert events_in_file(writer) == 5
            app.session.ingest(hit("Lead"))
            await until(pilot, lambda: app.event_list.row_count == 1)
            await pilot.press("q")  # every event is in the file: nothing to lose, no question
            await until(pilot, lambda: app.return_code is not None)
        assert app.return_code == 0
    finally:
        writer.close()


async def test_ctrl_s_with_a_session_file_exports_every_event_not_only_those_in_memory(tmp_path):
    app, writer = recorded_app(tmp_path, max_events=2)
    out = tmp_path / "shared.har"
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            for ev in ("PageView", "ViewContent", "AddToCart", "Purchase"):
                app.session.ingest(hit(ev))
            await until(pilot, lambda: app.event_list.row_count == 4)
            assert len(app.session) == 2
            await save_with_ctrl_s(pilot, app, out)
    finally:
        writer.close()
    entries = json.loads(out.read_text())["log"]["entries"]
    names = [e["_pixelspy"]["events"][0]["event"] for e in entries]
    assert names == ["PageView", "ViewContent", "AddToCart", "Purchase"]


@pytest.mark.parametrize("fts", [True, False], ids=["fts5", "no-fts5"])
async def test_events_memory_let_go_are_listed_filtered_and_shown_from_the_session_file(tmp_path, monkeypatch, fts):
    if not fts:  # an SQLite without FTS5 (some distributions): the file is searched with LIKE
        monkeypatch.setattr("pixelspy.store.schema.has_fts5", lambda: False)
    app, writer = recorded_app(tmp_path, max_events=3)
    assert has_fts_table(writer.db) == fts
    names = ("PageView", "Purchase", "ViewContent", "AddToCart", "Lead", "Search")
    try:
        async with app.run_test(size=(140, 30)) as pilot:
            for ev in names:
                app.session.ingest(hit(ev))
            events = app.event_list
            await until(pilot, lambda: events.row_count == 6 and app.session.dropped == 3)
            writer.flush()
            rows = [events.render_line(y).text for y in range(1, 7)]
            assert "(evicted)" not in "".join(rows) and "Purchase" in rows[1]
            app.filter_box.value = "purch"  # the start of a word, as in memory
            await until(pilot, lambda: events.row_count == 1)
            await until(pilot, lambda: "Purchase" in detail_text(app))
            app.filter_box.value = "pixel:1234567890123456 platform:meta"
            await until(pilot, lambda: events.row_count == 6)
            app.filter_box.value = "platform:tiktok"
            await until(pilot, lambda: events.row_count == 0)
            app.filter_box.value = "search"  # in memory only
            await until(pilot, lambda: events.row_count == 1)
            assert len(app._index.search_text) == 3  # memory keeps the search text of the events it holds
    finally:
        writer.close()


def row_names(app: PixelSpyApp) -> list[str]:
    """The list's rows as shown: each event's name, or a mark's label."""
    events = app.event_list
    names = []
    for y in range(1, events.row_count + 1):
        text = events.render_line(y).text
        names.append(next((n for n in (*NAMES, "clicked Buy") if f" {n} " in text), text))
    return names


NAMES = ("PageView", "ViewContent", "AddToCart", "InitiateCheckout", "Purchase", "Lead", "Search")


async def test_rows_committed_are_listed_by_seq_with_their_marks_filtered_and_selected(tmp_path):
    """Rows whose events the session file holds go over to its part of the list (by seq: the list
    keeps no string of theirs), the mark among them, and stay listed, filtered (by the file, also
    those memory let go), selectable."""
    app, writer = recorded_app(tmp_path, max_events=3)
    try:
        async with app.run_test(size=(140, 30)) as pilot:
            events = app.event_list
            for name in NAMES:
                app.session.ingest(hit(name))
                if name == "AddToCart":
                    app.session.add_marks([Mark("clicked Buy", time.time())])
            await until(pilot, lambda: events.row_count == 8)
            ids = events.visible_ids()
            writer.flush()
            events.let_go()
            assert events._order == [] and events.visible_ids() == []
            assert events.row_count == 8 and events.event_count == 7
            assert row_names(app) == [*NAMES[:3], "clicked Buy", *NAMES[3:]]
            app.filter_box.value = "initiate"  # an event only the file holds
            await until(pilot, lambda: not events.file_pending and events.event_count == 1)
            assert row_names(app) == ["clicked Buy", "InitiateCheckout"]
            assert events.selected_id == ids[3]
            app.session.ingest(hit("InitiateCheckout"))  # a new row while filtered
            await until(pilot, lambda: events.event_count == 2 and events.selected_id not in ids)
            app.filter_box.value = ""
            await until(pilot, lambda: events.event_count == 8)
            assert events.select_event(ids[0]) and events.cursor == 0
            await until(pilot, lambda: "PageView" in detail_text(app))
            await pilot.press("end")
            await until(pilot, lambda: events.cursor == 8)
    finally:
        writer.close()


async def test_a_session_file_continued_lists_every_event_it_holds_with_its_marks(tmp_path):
    path = tmp_path / "s.pixelspy"
    first = Session()
    writer = StoreWriter(first, path)
    writer.open()
    writer.attach()
    t0 = time.time() - 100
    for i, name in enumerate(NAMES):
        first.ingest(RawHit(method="GET", url=hit(name).url, client="127.0.0.1", time=t0 + i))
        if name == "ViewContent":
            first.add_marks([Mark("clicked Buy", t0 + i + 0.5)])
    writer.close()
    again = Session(max_events=2)
    reader.load(path, again)
    writer = StoreWriter(again, path)
    writer.open()
    writer.attach()
    app = PixelSpyApp(again, None)
    try:
        async with app.run_test(size=(140, 30)) as pilot:
            events = app.event_list
            await until(pilot, lambda: events.row_count == 8)
            assert events._order == [] and events.event_count == 7
            assert row_names(app) == [*NAMES[:2], "clicked Buy", *NAMES[2:]]
            app.filter_box.value = "platform:tiktok"
            await pilot.pause()
            await until(pilot, lambda: not events.file_pending)
            assert events.event_count == 0 and events.row_count == 1  # the mark stays
            app.filter_box.value = "platform:meta"
            await until(pilot, lambda: not events.file_pending and events.event_count == 7)
    finally:
        writer.close()


async def test_a_row_of_the_file_that_changed_is_filtered_again(tmp_path):
    """A late copy marks an event the file's part lists (and memory let go): with the next tick the
    filter's answer is asked again, and the row shows."""
    app, writer = recorded_app(tmp_path, max_events=2)

    def add_to_cart() -> RawHit:
        return RawHit(method="GET", url=hit("AddToCart").url + "&eid=order-1", client="127.0.0.1")

    try:
        async with app.run_test(size=(140, 30)) as pilot:
            events = app.event_list
            first = app.session.ingest(add_to_cart())[0].id
            for name in ("PageView", "ViewContent", "Lead"):
                app.session.ingest(hit(name))
            await until(pilot, lambda: events.row_count == 4)
            writer.flush()
            events.let_go()
            app.filter_box.value = "code:duplicate-event"
            await pilot.pause()
            await until(pilot, lambda: not events.file_pending)
            assert events.event_count == 0 and not events.select_event(first)
            app.session.ingest(add_to_cart())
            writer.flush()
            await until(pilot, lambda: events.select_event(first))
            assert events.selected_id == first
    finally:
        writer.close()
