"""The session's bound (it keeps the newest events) against files bigger than it: `check` still
judges every event, and where events are dropped (`open`, the TUI) the user is told how many."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest

from pixelspy import cli, session as session_module
from pixelspy.cli import files
from pixelspy.model import RawHit
from pixelspy.session import Session
from tests.test_check_command import PIXEL, T0, _iso, har_file, run

CAP = 20  # the session bound in these tests; the real one (100,000) was run by hand, see the report


@pytest.fixture(autouse=True)
def small_bound(monkeypatch):
    monkeypatch.setattr(session_module, "MAX_EVENTS", CAP)
    monkeypatch.setattr(files, "CHECK_KEPT_EVENTS", CAP)


def meta(t: float, **params: str) -> dict:
    q = urlencode({"id": PIXEL, "fbp": "fb.1.1700000000000.42", **params})
    return {"startedDateTime": _iso(t), "request": {"method": "GET", "url": f"https://www.facebook.com/tr/?{q}"}}


def clean_page_views(n: int, start: float) -> list[dict]:
    # One page each (the same page twice within the window would be a duplicate).
    return [meta(start + i, ev="PageView", dl=f"https://shop.example/p/{i}") for i in range(n)]


PURCHASE = {"dl": "https://shop.example/thanks", "cd[value]": "49.90", "cd[currency]": "EUR",
            "cd[content_ids]": '["sku-1"]', "cd[content_type]": "product", "eid": "order-77"}


def test_errors_in_the_first_entry_fail_the_check_after_many_clean_ones(tmp_path):
    broken = meta(T0, ev="Purchase", dl="https://shop.example/thanks", **{
        "cd[value]": "abc", "cd[currency]": "EURO", "cd[content_ids]": '["sku-1"]', "cd[content_type]": "product"})
    har_file(tmp_path / "big.har", broken, *clean_page_views(10 * CAP, T0 + 1))
    r = run("big.har", cwd=tmp_path)
    assert r.returncode == 1, r.stdout
    assert f"big.har: {10 * CAP + 1} events, 2 errors, 0 warnings, 0 info" in r.stdout
    assert "invalid-value" in r.stdout and "invalid-currency" in r.stdout

    doc = json.loads(run("big.har", "--format", "json", cwd=tmp_path).stdout)
    (f,) = doc["files"]
    assert doc["exit_code"] == 1 and f["events"] == 10 * CAP + 1
    assert sorted(x["code"] for x in f["findings"]) == ["invalid-currency", "invalid-value"]
    assert {(c["title"], c["count"]) for c in f["event_counts"]} == {("Purchase", 1), ("PageView", 10 * CAP)}

    suite = ET.fromstring(run("big.har", "--format", "junit", cwd=tmp_path).stdout).find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    passed, failed = suite.findall("testcase")
    assert passed.get("name") == f"meta  {PIXEL}  PageView: {10 * CAP} events without findings"
    assert failed.find("failure").get("type") in ("invalid-value", "invalid-currency")


def test_a_late_duplicate_marks_both_copies_though_the_first_left_the_session(tmp_path):
    # The first Purchase is clean when it arrives and leaves the session long before its copy does.
    har_file(tmp_path / "dup.har", meta(T0, ev="Purchase", **PURCHASE), *clean_page_views(3 * CAP, T0 + 1),
             meta(T0 + 100, ev="Purchase", **PURCHASE))
    doc = json.loads(run("dup.har", "--format", "json", "--fail-on", "warning", cwd=tmp_path).stdout)
    dups = [f for f in doc["files"][0]["findings"] if f["code"] == "duplicate-event"]
    assert doc["exit_code"] == 1 and len(dups) == 2
    first, second = sorted(dups, key=lambda f: f["event"]["time"])
    assert (first["event"]["time"], second["event"]["time"]) == (T0, T0 + 100)
    assert first["related"] == [second["event"]["id"]]


def test_a_twin_folds_into_its_first_copy_after_eviction():
    s = Session()
    tr = RawHit(method="GET", url=f"https://www.facebook.com/tr/?id={PIXEL}&ev=Purchase&eid=o-1&ts=1", time=T0)
    first = s.ingest(tr)[0]
    for i in range(CAP):  # a burst: the first copy leaves the session within a second
        s.ingest(RawHit(method="GET", url=f"https://www.facebook.com/tr/?id={PIXEL}&ev=PageView&dl=https%3A%2F%2F"
                                          f"shop.example%2Fp%2F{i}", time=T0 + i / 100))
    assert first.id not in s.events and s.dropped > 0
    twin = RawHit(method="GET", url="https://www.facebook.com/privacy_sandbox/pixel/register/trigger/?"
                                    f"id={PIXEL}&ev=Purchase&eid=o-1&ts=1", time=T0 + 0.5)
    assert s.ingest(twin) == [] and first.twins == (twin.id,)
    assert not any(f.code == "duplicate-event" for f in first.findings)


def test_open_no_ui_prints_every_event_from_its_session_file_or_says_how_many_were_dropped(tmp_path, capsys):
    har_file(tmp_path / "big.har", *clean_page_views(CAP + 7, T0))
    assert cli.main(["open", "--no-ui", str(tmp_path / "big.har")]) == 0
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == CAP + 7 and "dropped" not in out.err  # the session file holds them
    assert cli.main(["open", "--no-ui", "--no-session", str(tmp_path / "big.har")]) == 0
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == CAP
    assert (f"big.har: the oldest 7 events were dropped: pixelspy keeps the last {CAP} in memory "
            "(`pixelspy check` reports on every event of a file)") in out.err


def test_no_drop_note_within_the_bound(tmp_path, capsys):
    har_file(tmp_path / "small.har", *clean_page_views(CAP, T0))
    assert cli.main(["open", "--no-ui", str(tmp_path / "small.har")]) == 0
    assert "dropped" not in capsys.readouterr().err


async def test_tui_status_line_counts_the_dropped_events():
    from pixelspy.tui.app import PixelSpyApp

    s = Session()
    for i in range(CAP + 3):
        s.ingest(RawHit(method="GET", url=f"https://www.facebook.com/tr/?id={PIXEL}&ev=PageView&dl=https%3A%2F%2F"
                                          f"shop.example%2Fp%2F{i}", time=T0 + i))
    app = PixelSpyApp(s, None)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        status = str(app.status.content)
        assert f"{CAP} events" in status and "3 oldest dropped (memory limit)" in status
