"""`pixelspy open FILE.har` imports the file into a new session file in the sessions folder, like a live
session: every event of a file larger than memory's bound is printed and browsed, the file is listed by
`pixelspy sessions` and reopened without decoding again; --no-session keeps it in memory only."""

from __future__ import annotations

import asyncio
import builtins
import gc
import io
import json
import os
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


def decoding_fails(monkeypatch) -> None:
    """From here on, decoding a hit fails the test: a reopened import shows what was decoded before."""
    def no_decoding(self, hit):
        raise AssertionError("decoded again")
    monkeypatch.setattr(Session, "ingest", no_decoding)


def bytes_read(monkeypatch, path: Path) -> list[int]:
    """The sizes of the reads pixelspy makes of `path` (through open(), as the reader and the import
    key open it), from now on."""
    counted = []

    class Counted(io.FileIO):
        def readinto(self, b):
            n = super().readinto(b)
            counted.append(n or 0)
            return n

        def readall(self):
            data = super().readall()
            counted.append(len(data))
            return data

    real_open = builtins.open

    def counting_open(file, mode="r", *args, **kwargs):
        if mode == "rb" and isinstance(file, (str, Path)) and Path(file) == path:
            return io.BufferedReader(Counted(file, "r"))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    return counted


@pytest.mark.parametrize("ui", [False, True], ids=["no-ui", "tui"])
def test_an_import_reads_the_file_once_for_its_events_and_its_key(visit, tmp_path, capsys, monkeypatch, ui):
    from pixelspy.tui.app import PixelSpyApp

    doc = json.loads(visit.read_text())
    doc["log"]["entries"].append({"request": {"method": "GET", "url": "https://shop.example/"},
                                  "response": {"content": {"text": "x" * (3 << 20)}}})  # several reads
    visit.write_text(json.dumps(doc))
    from tests.tui.test_app import until

    async def read_then_quit(app: PixelSpyApp) -> None:
        async with app.run_test(size=(120, 30)) as pilot:
            await until(pilot, lambda: app.load_result is not None)
            await pilot.press("q")

    monkeypatch.setattr(PixelSpyApp, "run", lambda app: asyncio.run(read_then_quit(app)))
    counted = bytes_read(monkeypatch, visit)
    assert cli.main(["open", str(visit), *(["--no-ui"] if not ui else [])]) == 0
    # Once, and a buffer's worth of the start that tells a session file (is_session_file); not twice
    # (the key's hash read it again beside the import).
    once = range(visit.stat().st_size, visit.stat().st_size + io.DEFAULT_BUFFER_SIZE + 1)
    assert sum(counted) in once
    [path] = session_files(tmp_path)
    counted.clear()
    assert cli.main(["open", str(visit), "--no-ui"]) == 0
    assert f"opening {path}" in capsys.readouterr().err  # known by its key: the import had hashed the file
    assert sum(counted) in once  # hashed, the earlier import found: not read again


def test_a_second_open_of_the_same_file_reopens_its_import(visit, tmp_path, capsys, monkeypatch):
    assert cli.main(["open", str(visit), "--no-ui"]) == 0
    first = printed(capsys.readouterr().out)
    [path] = session_files(tmp_path)
    decoding_fails(monkeypatch)
    assert cli.main(["open", str(visit), "--no-ui"]) == 0
    out, err = capsys.readouterr()
    assert printed(out) == first and session_files(tmp_path) == [path]
    assert (f"pixelspy: {visit} was imported before (the same content, pixelspy and configuration): opening "
            f"{path} (--reimport decodes it again)") in err
    assert "log.entries[2]: request.url: missing; entry skipped" in err  # what it could not read, told again


def test_reimport_decodes_again_and_the_newest_import_is_reopened(visit, tmp_path, capsys, monkeypatch):
    assert cli.main(["open", str(visit), "--no-ui"]) == 0
    assert cli.main(["open", str(visit), "--no-ui", "--reimport"]) == 0
    assert "imported before" not in capsys.readouterr().err
    assert len(session_files(tmp_path)) == 2
    newest = max(session_files(tmp_path), key=lambda p: p.stat().st_mtime)
    decoding_fails(monkeypatch)
    assert cli.main(["open", str(visit), "--no-ui"]) == 0
    assert f"opening {newest} " in capsys.readouterr().err


def test_a_different_file_is_never_taken_for_an_earlier_import(visit, tmp_path, capsys):
    """The same name, size and dates, the same first and last MiB, one byte changed in the middle (of a
    page's body): decoded again. So is the same file under another configuration."""
    doc = json.loads(visit.read_text())
    page = {"startedDateTime": "2023-11-14T22:13:22.500Z", "request": {"method": "GET", "url": "https://shop.example/"},
            "response": {"status": 200, "content": {"mimeType": "text/html", "text": "<p>" + "x" * (3 << 20)}}}
    doc["log"]["entries"].insert(3, page)
    visit.write_text(json.dumps(doc))
    assert cli.main(["open", str(visit), "--no-ui"]) == 0
    capsys.readouterr()
    data, stat = visit.read_bytes(), visit.stat()
    middle = len(data) // 2
    assert data[middle:middle + 1] == b"x" and middle > 1 << 20 and len(data) - middle > 1 << 20
    visit.write_bytes(data[:middle] + b"y" + data[middle + 1:])
    os.utime(visit, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert cli.main(["open", str(visit), "--no-ui"]) == 0
    assert "imported before" not in capsys.readouterr().err and len(session_files(tmp_path)) == 2
    config = tmp_path / "pixelspy.toml"
    config.write_text("[checks]\nsilence = ['invalid-pixel-id']\n")
    assert cli.main(["open", str(visit), "--no-ui", "--config", str(config)]) == 0
    assert "imported before" not in capsys.readouterr().err and len(session_files(tmp_path)) == 3


def test_a_file_changed_after_it_was_hashed_is_not_known_by_the_old_content(visit, tmp_path, capsys, monkeypatch):
    """Written between its hash and its reading: the import holds the new content, so a later open of
    the old content must not reopen it."""
    from pixelspy.cli.sessions import ImportKey

    original, real_of = visit.read_bytes(), ImportKey.of

    def hashed_then_rewritten(path, config):
        key = real_of(path, config)
        assert key.digest  # hashed
        visit.write_bytes(original.replace(b"ev=Purchase", b"ev=PurchasE"))
        return key

    monkeypatch.setattr(ImportKey, "of", hashed_then_rewritten)
    assert cli.main(["open", str(visit), "--no-ui"]) == 0
    assert printed(capsys.readouterr().out)[-1]["event"] == "PurchasE"
    monkeypatch.setattr(ImportKey, "of", real_of)
    visit.write_bytes(original)
    assert cli.main(["open", str(visit), "--no-ui"]) == 0
    out, err = capsys.readouterr()
    assert "imported before" not in err and printed(out)[-1]["event"] == "Purchase"


def test_an_import_recorded_into_live_is_no_longer_reopened_for_the_file(visit, tmp_path, capsys):
    from pixelspy.cli.live import live_parser
    from pixelspy.cli.recording import session_writer
    from pixelspy.proxy import ProxyConfig

    assert cli.main(["open", str(visit), "--no-ui"]) == 0
    [path] = session_files(tmp_path)
    session_writer(live_parser().parse_args(["--session", str(path)]), Session(), ProxyConfig()).close()
    assert cli.main(["open", str(visit), "--no-ui"]) == 0
    assert "imported before" not in capsys.readouterr().err and len(session_files(tmp_path)) == 2


def test_a_second_open_in_the_tui_shows_the_earlier_import(visit, tmp_path, monkeypatch):
    from pixelspy.tui.app import PixelSpyApp

    shown = []
    assert cli.main(["open", str(visit), "--no-ui"]) == 0
    [path] = session_files(tmp_path)
    decoding_fails(monkeypatch)
    monkeypatch.setattr(PixelSpyApp, "run", lambda app: shown.append((app.load_path, app.session.store.path)))
    assert cli.main(["open", str(visit)]) == 0
    assert shown == [(None, path)]
