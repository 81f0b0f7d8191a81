"""Session files on the command line: `pixelspy open FILE.pixelspy`, `pixelspy sessions`, `--session`;
a corrupt, locked, read-only, foreign or newer file is one line and exit 2, never a traceback; a full
disk stops recording with a notice and the session goes on."""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pixelspy import cli
from pixelspy.session import Session
from pixelspy.store import StoreError
from pixelspy.store.schema import APPLICATION_ID
from pixelspy.store.writer import StoreWriter
from tests.conftest import free_port
from tests.test_store import meta_get, meta_post, recorded


@pytest.fixture(autouse=True)
def unfrozen():
    """`open FILE.pixelspy` freezes what it read before the TUI runs; the test process goes on unfrozen."""
    yield
    gc.unfreeze()


@pytest.fixture
def session_file(tmp_path) -> Path:
    path = tmp_path / "shop.pixelspy"
    _, w = recorded(path, [meta_get(0), meta_post(1, "Purchase", **{"cd[value]": "10"})])
    w.close()
    return path


def one_line_error(capsys, code: int, *words: str) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert all(w in err for w in words), err
    return err


def test_open_prints_the_recorded_events(session_file, capsys):
    assert cli.main(["open", str(session_file), "--no-ui"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["event"], line["device"]) for line in lines] == [("PageView", "Linux Chrome 10.0.0.2"),
                                                                   ("Purchase", "Linux Chrome 10.0.0.2")]


def test_sessions_lists_the_folder_newest_first(session_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PIXELSPY_SESSIONS_DIR", str(tmp_path))
    (tmp_path / "notes.pixelspy").write_text("not a session")
    assert cli.main(["sessions"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert any(str(session_file) in line and "2 events" in line for line in out), out
    assert any("notes.pixelspy" in line and "not a pixelspy session" in line for line in out), out


def test_a_corrupt_file(tmp_path, session_file, capsys):
    broken = tmp_path / "broken.pixelspy"
    data = bytearray(session_file.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the header and schema page
    broken.write_bytes(bytes(data))
    one_line_error(capsys, cli.main(["open", str(broken), "--no-ui"]), "broken.pixelspy")
    text = tmp_path / "text.pixelspy"
    text.write_text('{"log": {}}')
    one_line_error(capsys, cli.main(["open", str(text), "--no-ui"]), "not a pixelspy session")


def test_a_foreign_sqlite_file(tmp_path, capsys):
    other = tmp_path / "places.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
    db.commit()
    db.close()
    one_line_error(capsys, cli.main(["open", str(other), "--no-ui"]), "not a pixelspy session")
    one_line_error(capsys, cli.main(["--no-ui", "--session", str(other), "-p", str(free_port())]),
                   "not a pixelspy session")


def test_a_newer_schema(session_file, capsys):
    db = sqlite3.connect(session_file)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    one_line_error(capsys, cli.main(["open", str(session_file), "--no-ui"]), "newer pixelspy")


def test_a_locked_file(session_file, capsys):
    """A file a running pixelspy records into is held: neither a second recorder nor `open` gets in."""
    w = StoreWriter(Session(), session_file)
    w.open()
    try:
        one_line_error(capsys, cli.main(["open", str(session_file), "--no-ui"]), "in use")
        one_line_error(capsys, cli.main(["--no-ui", "--session", str(session_file), "-p", str(free_port())]),
                       "in use")
    finally:
        w.close()
    assert cli.main(["open", str(session_file), "--no-ui"]) == 0


def test_a_read_only_file_opens_but_is_not_recorded_into(session_file):
    """As another user (root ignores file modes): `open` reads it, `--session` refuses it."""
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)
        ro = Path(folder) / "ro.pixelspy"
        shutil.copy(session_file, ro)
        ro.chmod(0o444)
        as_other = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
        env = {**os.environ, "PIXELSPY_SESSIONS_DIR": folder}

        def run(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([*as_other, sys.executable, "-m", "pixelspy", *args], capture_output=True,
                                  text=True, timeout=60, cwd=folder, env=env)

        if as_other and subprocess.run([*as_other, sys.executable, "-c", "pass"], capture_output=True).returncode:
            pytest.skip("another user cannot run this Python (its library is in root's home)")
        opened = run("open", str(ro), "--no-ui")
        assert opened.returncode == 0 and len(opened.stdout.splitlines()) == 2, opened.stderr
        live = run("--no-ui", "--session", str(ro), "-p", str(free_port()), "--confdir", folder + "/conf")
        assert live.returncode == 2 and "Traceback" not in live.stderr, live.stderr
        assert "read-only" in live.stderr and len(live.stderr.strip().splitlines()) == 1, live.stderr


def test_a_full_disk_stops_recording_with_a_notice_and_the_session_goes_on(tmp_path, caplog):
    s = Session()
    failures = []
    w = StoreWriter(s, tmp_path / "small.pixelspy", on_failure=failures.append)
    w.open()
    w.db.execute(f"PRAGMA max_page_count = {w.db.execute('PRAGMA page_count').fetchone()[0] + 2}")
    w.attach()
    with caplog.at_level(logging.WARNING, logger="pixelspy"):
        for i in range(200):
            s.ingest(meta_post(i, "Purchase", **{"cd[value]": str(i), "cd[content_name]": "x" * 2000}))
        w.flush()
    assert failures and "full" in failures[0]
    assert any("recording stopped" in r.getMessage() for r in caplog.records)
    assert len(s.ingest(meta_get(500))) == 1  # the session goes on, in memory
    w.close()
    assert Session() is not None and sqlite3.connect(tmp_path / "small.pixelspy").execute(
        "PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_a_file_whose_seqs_reach_sqlites_largest_is_refused_in_one_line_or_stops_recording_saying_why(
        session_file, capsys, caplog):
    """A hand-edited file whose last seq is SQLite's largest integer leaves no number for a new event:
    --session refuses it in one line (exit 2); one a few short of it records what fits, then stops
    recording with a notice saying why (not an OverflowError's words, never a traceback or a hang)."""
    from pixelspy.store.writer import MAX_SEQ

    def last_seq_at(seq: int) -> None:
        db = sqlite3.connect(session_file)
        db.execute("UPDATE events SET seq = ? WHERE seq = (SELECT max(seq) FROM events)", (seq,))
        db.commit()
        db.close()

    last_seq_at(MAX_SEQ)
    one_line_error(capsys, cli.main(["--no-ui", "--session", str(session_file), "-p", str(free_port())]),
                   "no room for new events", "new file")
    last_seq_at(MAX_SEQ - 1)
    s, failures = Session(), []
    w = StoreWriter(s, session_file, on_failure=failures.append)
    w.open()
    w.attach()
    with caplog.at_level(logging.WARNING, logger="pixelspy"):
        s.ingest(meta_get(10))
        w.flush()
        s.ingest(meta_get(11))
        s.ingest(meta_get(12))
        w.flush()
    w.close()
    assert len(failures) == 1 and "no room for new events" in failures[0], failures
    assert any("recording stopped" in r.getMessage() and "no room" in r.getMessage() for r in caplog.records)
    seqs = [r[0] for r in sqlite3.connect(session_file).execute("SELECT seq FROM events ORDER BY seq")]
    assert seqs == [1, MAX_SEQ - 1, MAX_SEQ]


def test_the_default_session_file_and_no_session(tmp_path, capsys):
    """Without options a new file in the sessions folder (removed on exit when no event came);
    --no-session: none; --session and --no-session together: an error."""
    from pixelspy.proxy import ProxyConfig

    def writer(*argv: str):
        return cli.session_writer(cli.live_parser().parse_args(list(argv)), Session(), ProxyConfig())

    assert writer("--no-session") is None and not (tmp_path / "sessions").exists()
    w = writer()
    assert w.path.parent == tmp_path / "sessions" and w.path.suffix == ".pixelspy"
    cli.close_session_file(w, keep_empty=False, tell=True)
    assert not w.path.exists() and capsys.readouterr().err == ""
    with pytest.raises(StoreError, match="contradict"):
        writer("--no-session", "--session", str(tmp_path / "x.pixelspy"))


async def test_open_shows_the_recorded_session_in_the_tui(session_file, monkeypatch):
    from pixelspy.tui.app import PixelSpyApp

    apps = []
    monkeypatch.setattr(PixelSpyApp, "run", lambda self: apps.append(self))
    assert cli.main(["open", str(session_file)]) == 0
    [app] = apps
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.event_list.event_count == 2
        assert app.proxy is None  # a file: no proxy started


def test_rows_that_do_not_fit_are_skipped_and_named(session_file, capsys):
    """A file is hostile like any file: an event of broken JSON or wrong types, a body that inflates
    past the cap: the rest of the session opens, and stderr says what was skipped."""
    import zlib

    db = sqlite3.connect(session_file)
    first, second = [r[0] for r in db.execute("SELECT id FROM events ORDER BY seq")]
    db.execute("UPDATE events SET json = '{\"id\": 7, \"platform\": [' WHERE id = ?", (first,))
    db.execute("UPDATE hits SET body = ?, body_zlib = 1", (zlib.compress(b"\0" * (3 << 20)),))
    db.commit()
    db.close()
    assert cli.main(["open", str(session_file), "--no-ui"]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["id"] for line in out.splitlines()] == [second]
    assert "events that could not be read were skipped: 1" in err and "Traceback" not in err


def test_a_finding_that_does_not_fit_is_left_out_and_its_event_kept_saying_so(session_file, capsys):
    """An event is never lost over one of its findings: a finding row of an unknown severity, text
    that is not text, related ids nested past the parser's depth is left out; the event opens with
    its other findings and a decode error saying how many were left out."""
    from pixelspy.store.records import unread_findings

    db = sqlite3.connect(session_file)
    (event_id, code), = db.execute("SELECT event_id, code FROM findings").fetchall()
    for n, severity, message, related in ((1, "fatal", "m", "[]"), (2, "error", b"m", "[]"),
                                          (3, "warning", "m", "[" * 100_000)):
        db.execute("INSERT INTO findings VALUES (?, ?, 'x', ?, ?, '', ?, 0)", (event_id, n, severity, message, related))
    db.commit()
    db.close()
    assert cli.main(["open", str(session_file), "--no-ui"]) == 0
    out, err = capsys.readouterr()
    events = {e["id"]: e for e in map(json.loads, out.splitlines())}
    assert len(events) == 2 and "skipped" not in err and "Traceback" not in err
    assert [f["code"] for f in events[event_id]["findings"]] == [code]
    assert events[event_id]["decode_errors"] == [unread_findings(3)]
    assert all(e["decode_errors"] == [] for i, e in events.items() if i != event_id)


def test_rows_nested_past_the_parsers_depth_are_skipped_not_a_crash(session_file, tmp_path, capsys):
    """An event's JSON or an answer's HAR entry nested deeper than Python's JSON parser recurses
    (RecursionError, not ValueError): that row is not read, the rest opens and exports."""
    from pixelspy.store.records import row_words

    db = sqlite3.connect(session_file)
    (first, hit), (second, other_hit) = db.execute("SELECT id, hit_id FROM events ORDER BY seq").fetchall()
    db.execute("INSERT OR REPLACE INTO answers (hit_id, entry, zlib) VALUES (?, ?, 0)", (other_hit, b"[" * 100_000))
    db.execute("UPDATE events SET json = ? WHERE id = ?", ("[" * 100_000, second))
    db.execute("UPDATE hits SET headers = ? WHERE id = ?", ("[" * 100_000, hit))
    db.commit()
    db.close()
    assert row_words("[" * 100_000) == ("", "", "")  # (a row past the full-text index, read for its words)
    har = tmp_path / "out.har"
    assert cli.main(["open", str(session_file), "--no-ui", "--har", str(har)]) == 0
    assert cli.main(["open", str(session_file), "--no-ui"]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["id"] for line in out.splitlines()] == [first]
    assert "Traceback" not in err
    (entry,) = json.loads(har.read_text())["log"]["entries"]  # (the first hit's headers unreadable)
    assert entry["_pixelspy"]["hit_id"] == other_hit and entry["response"]["comment"] == "response not recorded"


def test_open_har_writes_a_session_file_as_har(session_file, tmp_path, capsys):
    """After a crash the session file has everything: `open FILE --har OUT` makes the HAR to share."""
    out = tmp_path / "shop.har"
    assert cli.main(["open", str(session_file), "--har", str(out)]) == 0
    entries = json.loads(out.read_text())["log"]["entries"]
    assert [e["_pixelspy"]["events"][0]["event"] for e in entries] == ["PageView", "Purchase"]
    assert "wrote 2 entries" in capsys.readouterr().err
    one_line_error(capsys, cli.main(["open", str(session_file), "--har", str(tmp_path / "no" / "x.har")]),
                   "cannot write")
    with pytest.raises(SystemExit) as usage:
        cli.main(["open", str(out), "--har", str(tmp_path / "again.har")])
    assert usage.value.code == 2


def test_open_lists_every_event_of_a_file_larger_than_memory(tmp_path, monkeypatch):
    # The TUI over a session file of 60 events while memory keeps 20: the list reads the rest from the file.
    import pixelspy.session as session_module
    from pixelspy.tui.app import PixelSpyApp

    path = tmp_path / "big.pixelspy"
    _, w = recorded(path, [meta_get(i) for i in range(60)])
    w.close()
    monkeypatch.setattr(session_module, "MAX_EVENTS", 20)
    listed = []

    def run_headless(app: PixelSpyApp) -> None:
        async def look() -> None:
            async with app.run_test(size=(160, 40)) as pilot:
                for _ in range(100):
                    await pilot.pause(0.05)
                    if app.event_list.event_count == 60:
                        break
                listed.append(app.event_list.event_count)
                listed.append(gc.get_freeze_count() > 0)  # what was read, out of the full collections
        import asyncio

        asyncio.run(look())

    monkeypatch.setattr(PixelSpyApp, "run", run_headless)
    assert cli.main(["open", str(path)]) == 0
    assert listed == [60, True]
