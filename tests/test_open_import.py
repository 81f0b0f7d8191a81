"""`pixelspy open FILE.har` imports the file into a new session file in the sessions folder, like a live
session: every event of a file larger than memory's bound is printed and browsed, the file is listed by
`pixelspy sessions` and reopened without decoding again; --no-session keeps it in memory only."""

from __future__ import annotations

import asyncio
import gc
import json
from pathlib import Path
from urllib.parse import urlencode

import pytest

from pixelspy import cli
from pixelspy.session import Session

PIXEL = "1234567890123456"
EVENTS = ["PageView", "ViewContent", "AddToCart", "InitiateCheckout", "Purchase"]


def entry(i: int, ev: str) -> dict:
    """A Meta Pixel hit as Chrome DevTools exports it."""
    query = urlencode({"id": PIXEL, "ev": ev, "eid": f"ev-{i}", "dl": f"https://shop.example/p/{i}"})
    return {"startedDateTime": f"2023-11-14T22:13:2{i}.000Z", "_resourceType": "ping",
            "request": {"method": "GET", "url": f"https://www.facebook.com/tr/?{query}", "httpVersion": "http/2.0",
                        "headers": [{"name": "user-agent", "value": "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0"}]},
            "response": {"status": 200, "content": {"size": 0, "mimeType": "image/gif"}}}


@pytest.fixture(autouse=True)
def unfrozen():
    """The TUI freezes what an import read; each test starts, and the test process goes on, unfrozen."""
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.fixture
def visit(tmp_path, monkeypatch) -> Path:
    """Five events and a broken entry; memory keeps three events."""
    monkeypatch.setattr("pixelspy.session.MAX_EVENTS", 3)
    monkeypatch.setattr("pixelspy.session.MAX_EVENTS_WITH_FILE", 3)  # (while the import records its file)
    entries = [entry(i, ev) for i, ev in enumerate(EVENTS)]
    entries.insert(2, {"request": {"method": "GET"}})  # no url
    path = tmp_path / "visit.har"
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))
    return path


def session_files(tmp_path) -> list[Path]:
    return sorted((tmp_path / "sessions").glob("*.pixelspy"))


def printed(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_open_har_imports_every_event_into_a_session_file_listed_and_reopened(visit, tmp_path, capsys):
    assert cli.main(["open", str(visit), "--no-ui"]) == 0
    out, err = capsys.readouterr()
    lines = printed(out)
    assert [line["event"] for line in lines] == EVENTS  # all five, not the three memory kept
    [path] = session_files(tmp_path)
    assert "log.entries[2]: request.url: missing" in err and f"the session is in {path}" in err
    assert "dropped" not in err
    assert cli.main(["sessions"]) == 0 and f"{path}" in capsys.readouterr().out
    assert cli.main(["open", str(path), "--no-ui"]) == 0
    assert printed(capsys.readouterr().out) == lines  # the same ids and findings, not decoded again


def test_open_har_no_session_keeps_it_in_memory_only(visit, tmp_path, capsys):
    assert cli.main(["open", str(visit), "--no-ui", "--no-session"]) == 0
    out, err = capsys.readouterr()
    assert [line["event"] for line in printed(out)] == EVENTS[2:]
    assert "the oldest 2 events were dropped" in err and session_files(tmp_path) == []


def test_a_file_that_cannot_be_read_or_an_import_cut_short_leaves_no_session_file(visit, tmp_path, capsys,
                                                                                   monkeypatch):
    broken = tmp_path / "broken.har"
    broken.write_text('{"log": {"entries": "no"')
    assert cli.main(["open", str(broken), "--no-ui"]) == 2
    assert cli.main(["open", str(tmp_path / "missing.har"), "--no-ui"]) == 2
    real_ingest, calls = Session.ingest, []

    def ctrl_c_on_the_third_hit(self, hit):
        calls.append(hit)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_ingest(self, hit)

    monkeypatch.setattr(Session, "ingest", ctrl_c_on_the_third_hit)
    assert cli.main(["open", str(visit), "--no-ui"]) == 130
    out, err = capsys.readouterr()
    assert session_files(tmp_path) == [] and "Traceback" not in err and out == ""
    assert "broken.har" in err and "missing.har: no such file" in err


def test_open_har_in_the_tui_lists_every_event_of_a_file_larger_than_memory(visit, tmp_path, capsys, monkeypatch):
    from pixelspy.tui.app import PixelSpyApp
    from tests.tui.test_app import until

    shown = {}

    async def browse(app: PixelSpyApp) -> None:
        async with app.run_test(size=(120, 30)) as pilot:
            await until(pilot, lambda: app.load_result is not None and app.event_list.row_count == 5)
            shown["in memory"] = len(app.session)
            first = app.event_list.visible_ids()[0]
            shown["first"] = app._event(first).event  # read back from the session file
            shown["frozen"] = gc.get_freeze_count() > 0  # what was read, out of the full collections
            await pilot.press("q")

    monkeypatch.setattr(PixelSpyApp, "run", lambda app: asyncio.run(browse(app)))
    assert cli.main(["open", str(visit)]) == 0
    assert shown == {"in memory": 3, "first": "PageView", "frozen": True}
    [path] = session_files(tmp_path)
    assert f"pixelspy open {path}" in capsys.readouterr().err


def test_quitting_the_tui_before_the_file_is_read_leaves_no_session_file(visit, tmp_path, monkeypatch):
    from pixelspy.tui.app import PixelSpyApp

    monkeypatch.setattr(PixelSpyApp, "run", lambda app: None)  # quit before the load worker finished
    assert cli.main(["open", str(visit)]) == 0
    assert session_files(tmp_path) == []
