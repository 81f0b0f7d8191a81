"""Clearing or quitting a live session with unsaved events asks first; Ctrl+S proposes a sessions folder."""

from __future__ import annotations

import json

from pixelspy.model import RawHit
from pixelspy.proxy import ProxyConfig
from pixelspy.session import Session
from pixelspy.tui.app import PixelSpyApp
from pixelspy.tui.screens import Confirm
from tests.conftest import free_port
from tests.tui.test_app import save_with_ctrl_s, until


def hit(ev: str) -> RawHit:
    return RawHit(method="GET", url=f"https://www.facebook.com/tr/?id=1234567890123456&ev={ev}", client="127.0.0.1")


def live_app(tmp_path, addons=()) -> PixelSpyApp:
    return PixelSpyApp(Session(), ProxyConfig(port=free_port(), confdir=str(tmp_path / "mitm"), addons=list(addons)))


async def test_clear_asks_first_then_the_table_follows_new_events_again(tmp_path):
    app = live_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        for ev in ("PageView", "ViewContent", "Purchase"):
            app.session.ingest(hit(ev))
        events = app.event_list
        await until(pilot, lambda: events.row_count == 3)
        await pilot.press("home")  # the user looks at an older row: the list stops following
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, Confirm))
        assert events.row_count == 3 and len(app.session) == 3
        await pilot.press("x", "y")
        await until(pilot, lambda: events.row_count == 0)
        assert len(app.session) == 0
        app.session.ingest(hit("AddToCart"))
        app.session.ingest(hit("Purchase"))
        await until(pilot, lambda: events.row_count == 2)
        await until(pilot, lambda: events.selected_id == events.visible_ids()[-1])
        await pilot.press("x")  # nothing saved yet: asks again
        await until(pilot, lambda: isinstance(app.screen, Confirm))


async def test_quit_asks_when_events_are_unsaved_and_ctrl_s_proposes_the_sessions_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    app = live_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        app.session.ingest(hit("PageView"))
        await until(pilot, lambda: app.event_list.row_count == 1)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, Confirm))
        assert "1 event captured" in str(app.screen.question)
        await pilot.press("escape")
        await pilot.press("ctrl+s")
        await pilot.pause()
        proposed = app.screen.query_one("#prompt-input").value
        assert proposed.startswith(str(tmp_path / "pixelspy-sessions" / "pixelspy-")) and proposed.endswith(".har")
        await pilot.press("enter")
        await until(pilot, lambda: (tmp_path / "pixelspy-sessions").is_dir())
        saved = list((tmp_path / "pixelspy-sessions").iterdir())
        assert len(json.loads(saved[0].read_text())["log"]["entries"]) == 1
        await pilot.press("q")  # saved: quits without asking
        await until(pilot, lambda: app.proxy is None)
    assert app.return_code == 0


async def test_a_session_recorded_with_har_or_empty_quits_without_asking(tmp_path):
    from pixelspy.har import HarRecorder

    session = Session()
    app = PixelSpyApp(session, ProxyConfig(port=free_port(), confdir=str(tmp_path / "mitm"),
                                           addons=[HarRecorder(session, tmp_path / "rec.har")]))
    async with app.run_test(size=(100, 30)) as pilot:
        session.ingest(hit("PageView"))
        await until(pilot, lambda: app.event_list.row_count == 1)
        await pilot.press("q")
        await until(pilot, lambda: app.proxy is None)
    app = live_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("q")
        await until(pilot, lambda: app.proxy is None)


async def test_ctrl_s_with_a_session_file_exports_the_hits_with_their_answers(tmp_path):
    """As `pixelspy --har FILE` runs the TUI: the session file records the hits and their answers
    (RecordAnswers); Ctrl+S exports from it, redacted, the sink's answers included; quitting does not
    ask (the file keeps the session)."""
    from pixelspy.cli.recording import record_session
    from pixelspy.proxy import RecordAnswers
    from tests.tui.test_app import send_hits

    session = Session()
    writer = record_session(session, tmp_path / "sessions" / "live.pixelspy")
    port, out = free_port(), tmp_path / "shared.har"
    app = PixelSpyApp(session, ProxyConfig(port=port, sink=True, confdir=str(tmp_path / "mitm"),
                                           addons=[RecordAnswers(writer)]))
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await send_hits(port, tmp_path / "mitm", [
                ("GET", dict(url="https://www.facebook.com/tr/", headers={"cookie": "sid=very-secret-session"},
                             params={"id": "1234567890123456", "ev": "PageView", "dl": "https://shop.example/"})),
                ("POST", dict(url="https://www.facebook.com/tr/", data={
                    "id": "1234567890123456", "ev": "Purchase", "cd[value]": "12.50", "cd[currency]": "EUR",
                    "ud[em]": "jane.doe@example.com"})),
            ])
            await until(pilot, lambda: app.event_list.row_count == 2)
            await save_with_ctrl_s(pilot, app, out)
            await pilot.press("q")
            await until(pilot, lambda: app.proxy is None)
    finally:
        writer.close()
    text = out.read_text()
    entries = json.loads(text)["log"]["entries"]
    assert [e["_pixelspy"]["events"][0]["event"] for e in entries] == ["PageView", "Purchase"]
    assert [e["_pixelspy"]["events"][0]["id"] for e in entries] == [ev.id for ev in session]
    assert all(e["response"]["status"] in (200, 204) and e["timings"]["wait"] >= 0 for e in entries)
    assert "very-secret-session" not in text and "jane.doe@example.com" not in text
