"""`pixelspy check FILE…`: tracking-plan expectations over HAR files, exit codes, formats."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlencode

import pytest

from pixelspy.checks import CheckEngine
from pixelspy.config import ConfigError, load_config
from pixelspy.model import Kind, RawHit
from pixelspy.session import Session

PIXEL = "1234567890123456"
T0 = 1_700_000_000.0
PLAN = f"""
[[expect]]
name = "Purchase on the thank-you page"
page = "/checkout/thanks"
event = "Purchase"
params = ["value", "currency"]
to = ["meta:{PIXEL}", "tiktok"]
within_s = 5
"""


def page_load(t: float, url: str = "https://shop.example/checkout/thanks?order=77") -> dict:
    return {"startedDateTime": _iso(t), "request": {"method": "GET", "url": url, "headers": [
        {"name": "Accept", "value": "text/html,application/xhtml+xml"}, {"name": "Sec-Fetch-Dest", "value": "document"}]}}


def meta_purchase(t: float, **extra: str) -> dict:
    q = urlencode({"id": PIXEL, "ev": "Purchase", "dl": "https://shop.example/checkout/thanks?order=77", **extra})
    return {"startedDateTime": _iso(t), "request": {"method": "GET", "url": f"https://www.facebook.com/tr/?{q}"}}


def _iso(t: float) -> str:
    from datetime import datetime, timezone
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


def har_file(path: Path, *entries: dict) -> Path:
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "test", "version": "1"},
                                        "entries": list(entries)}}))
    return path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`pixelspy check …` in this process (a subprocess per call would cost seconds each)."""
    import contextlib
    import io
    import os

    from pixelspy.cli import main

    out, err, old = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(["check", *args])
            except SystemExit as e:  # argparse usage errors
                code = e.code
    finally:
        os.chdir(old)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def test_console_script_runs_check(tmp_path):
    har_file(tmp_path / "n.har", page_load(T0))
    (tmp_path / "pixelspy.toml").write_text(PLAN)
    r = subprocess.run([sys.executable, "-m", "pixelspy", "check", "n.har", "--format", "junit"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and ET.fromstring(r.stdout).get("failures") == "2"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "pixelspy.toml").write_text(PLAN)
    value = {"cd[value]": "49.90", "cd[currency]": "EUR", "cd[content_ids]": '["sku-1"]', "cd[content_type]": "product",
             "eid": "order-77"}
    return {
        # Meta Purchase complete; TikTok never fires.
        "tiktok_missing": har_file(tmp_path / "t.har", page_load(T0), meta_purchase(T0 + 1, **value)),
        # Nothing on the thank-you page at all, only a page load.
        "nothing": har_file(tmp_path / "n.har", page_load(T0)),
        # No thank-you page visited: the plan has nothing to say.
        "other_page": har_file(tmp_path / "o.har", page_load(T0, "https://shop.example/"),
                               meta_purchase(T0 + 1, **value) | {"request": {"method": "GET", "url":
                                   "https://www.facebook.com/tr/?" + urlencode({"id": PIXEL, "ev": "PageView",
                                                                                "dl": "https://shop.example/"})}}),
        "broken": (tmp_path / "b.har"),
    }


def test_unmet_expectation_fails_with_exit_1_in_every_format(files, tmp_path):
    files["broken"].write_text("{not json")
    r = run("t.har", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "missing-expected-event" in r.stdout
    assert "Purchase never reached TikTok within 5 s of the visit to https://shop.example/checkout/thanks" in r.stdout
    assert "(tracking plan: Purchase on the thank-you page)" in r.stdout
    # Which visit: another visit to the page may have had the event.
    assert re.search(r"of the visit to \S+ at \d\d:\d\d:\d\d \(tracking plan", r.stdout), r.stdout

    r = run("t.har", "n.har", "o.har", "--format", "junit", cwd=tmp_path)
    assert r.returncode == 1
    root = ET.fromstring(r.stdout)
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    failures = {name: [c.find("failure").get("message") for c in s.findall("testcase") if c.find("failure") is not None]
                for name, s in suites.items()}
    assert [m for m in failures["t.har"] if "TikTok" in m] and not [m for m in failures["t.har"] if "Meta" in m]
    assert sorted(m.split(" within")[0] for m in failures["n.har"]) == [
        f"Purchase never reached Meta pixel {PIXEL}", "Purchase never reached TikTok"]
    assert not any("expected" in m or "never reached" in m for m in failures["o.har"])

    r = run("n.har", "--format", "json", "-o", "report.json", cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    doc = json.loads((tmp_path / "report.json").read_text())
    assert [f["event"]["kind"] for f in doc["files"][0]["findings"]] == ["missing", "missing"]


def test_exit_2_for_unreadable_input_and_usage(files, tmp_path):
    files["broken"].write_text("{not json")
    r = run("t.har", "b.har", cwd=tmp_path)
    assert r.returncode == 2
    assert "b.har: cannot read: not valid JSON at byte 1: Expecting property name enclosed in double quotes" in r.stdout
    assert run("missing.har", cwd=tmp_path).returncode == 2
    assert run(cwd=tmp_path).returncode == 2  # no file: usage
    (tmp_path / "bad.toml").write_text("[[expect]]\npage = '('\nevent = 'Purchase'\nto = ['metaa']\n")
    r = run("t.har", "--config", "bad.toml", cwd=tmp_path)
    assert r.returncode == 2 and "expect.0.page" in r.stderr and "unknown platform 'metaa'" in r.stderr


def test_exit_0_when_the_plan_is_met(tmp_path):
    (tmp_path / "pixelspy.toml").write_text(PLAN.replace(', "tiktok"', "") + '\n[checks]\nsilence = ["missing-param"]\n')
    har_file(tmp_path / "ok.har", page_load(T0),
             meta_purchase(T0 + 1, **{"cd[value]": "49.90", "cd[currency]": "EUR", "eid": "order-77"}))
    r = run("ok.har", "--fail-on", "warning", cwd=tmp_path)
    assert r.returncode == 0, r.stdout
    assert "ok.har: 1 event, 0 errors, 0 warnings" in r.stdout


def test_a_file_without_tracking_events_fails_unless_allowed(tmp_path):
    har_file(tmp_path / "none.har", page_load(T0, "https://shop.example/"))
    r = run("none.har", cwd=tmp_path)
    assert r.returncode == 1
    assert "none.har: 0 events" in r.stdout and "no tracking events: nothing was checked (fails" in r.stdout
    # The verdict names why: its counts are all 0, and --fail-on is not what failed it.
    assert r.stdout.endswith("1 file: 0 errors, 0 warnings — FAIL (a file without tracking events) (--fail-on error)\n")
    html = run("none.har", "--format", "html", cwd=tmp_path).stdout
    assert "FAIL (a file without tracking events): 0 errors" in html
    suite = ET.fromstring(run("none.har", "--format", "junit", cwd=tmp_path).stdout).find("testsuite")
    assert suite.find("testcase/failure").get("type") == "no-events"
    assert json.loads(run("none.har", "--format", "json", cwd=tmp_path).stdout)["files"][0]["empty_fails"] is True
    r = run("none.har", "--allow-empty", cwd=tmp_path)
    assert r.returncode == 0 and "no tracking events: nothing was checked\n" in r.stdout


# ------------------------------------------------------------------ the expectations check itself


def session(plan: str = PLAN) -> Session:
    from pixelspy.config import Config
    import tomllib
    return Session(CheckEngine(Config.model_validate(tomllib.loads(plan))))


def meta_hit(t: float, **params: str) -> RawHit:
    return RawHit(method="GET", url="https://www.facebook.com/tr/?" + urlencode({"id": PIXEL, **params}), time=t)


def test_expected_event_without_a_field_names_the_field():
    s = session()
    s.ingest(meta_hit(T0, ev="PageView", dl="https://shop.example/checkout/thanks"))
    s.ingest(meta_hit(T0 + 1, ev="Purchase", dl="https://shop.example/checkout/thanks", **{"cd[value]": "3"}))
    s.tick(T0 + 4.9)
    assert [ev.kind for ev in s] == [Kind.event, Kind.event]  # still waiting
    s.tick(T0 + 5.0)
    missing = [ev for ev in s if ev.kind == Kind.missing]
    assert [(ev.platform, ev.pixel_id, ev.title) for ev in missing] == [
        ("meta", PIXEL, "missing: Purchase"), ("tiktok", None, "missing: Purchase")]
    meta_finding = missing[0].findings[0]
    assert meta_finding.message == (f"Purchase reached Meta pixel {PIXEL} without currency "
                                    "(tracking plan: Purchase on the thank-you page)")
    pageview, purchase = [ev for ev in s if ev.kind == Kind.event]
    assert meta_finding.related == sorted([pageview.id, purchase.id])


def test_event_before_the_page_view_counts_and_other_pixels_do_not():
    s = session(PLAN.replace(', "tiktok"', ""))
    s.ingest(meta_hit(T0, ev="Purchase", **{"cd[value]": "1", "cd[currency]": "EUR"}))  # no dl: no visit yet
    s.ingest(meta_hit(T0 + 0.5, ev="PageView", dl="https://shop.example/checkout/thanks"))
    s.ingest(RawHit(method="GET", url="https://www.facebook.com/tr/?" + urlencode(
        {"id": "999", "ev": "PageView", "dl": "https://shop.example/checkout/thanks/again"}), time=T0 + 20))
    s.tick(float("inf"))
    missing = [ev for ev in s if ev.kind == Kind.missing]
    # The first visit was fulfilled (Purchase 0.5 s before the PageView); the second was not.
    assert len(missing) == 1 and missing[0].time == T0 + 20


def test_silenced_code_adds_nothing():
    s = session(PLAN + '\n[checks]\nsilence = ["missing-expected-event"]\n')
    s.ingest(meta_hit(T0, ev="PageView", dl="https://shop.example/checkout/thanks"))
    s.tick(float("inf"))
    assert [ev.kind for ev in s] == [Kind.event]


def test_invalid_plan_is_a_config_error(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text('[[expect]]\npage = "x"\nevent = "Purchase"\nto = []\n')
    with pytest.raises(ConfigError, match="name at least one target"):
        load_config(p)


def test_open_no_ui_prints_the_settled_events_as_json_lines(files, tmp_path, capsys):
    from pixelspy.cli import main

    import os
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert main(["open", "--no-ui", "t.har"]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [(line["kind"], line["platform"]) for line in lines] == [("event", "meta"), ("missing", "tiktok")]
        files["broken"].write_text('{"log": {}}')
        assert main(["open", "--no-ui", "b.har"]) == 2
        assert "pixelspy: b.har: not a HAR file: no log.entries" in capsys.readouterr().err
    finally:
        os.chdir(old)


def meta_event(t: float, event: str, page: str) -> dict:
    q = urlencode({"id": PIXEL, "ev": event, "dl": page, "rl": "", "if": "false", "ts": int(t * 1000), "v": "2.9.174"})
    return {"startedDateTime": _iso(t), "request": {"method": "GET", "url": f"https://www.facebook.com/tr/?{q}",
                                                     "headers": [{"name": "Accept", "value": "image/*"}]}}


def test_the_json_report_lists_what_fired_on_which_page(tmp_path, monkeypatch):
    har_file(tmp_path / "v.har",
             meta_event(T0, "PageView", "https://shop.example/?utm_source=ig&fbclid=IwAR0x"),
             meta_event(T0 + 2, "PageView", "https://shop.example/tee#reviews"),
             meta_event(T0 + 3, "AddToCart", "https://shop.example/tee"),
             meta_event(T0 + 5, "PageView", "https://shop.example/?gclid=1"))
    doc = json.loads(run("v.har", "--format", "json", cwd=tmp_path).stdout)
    rows = {(r["title"], r["page"]): r["count"] for r in doc["files"][0]["page_counts"]}
    assert rows == {("PageView", "https://shop.example/"): 2, ("PageView", "https://shop.example/tee"): 1,
                    ("AddToCart", "https://shop.example/tee"): 1}
    assert {(r["platform"], r["pixel_id"], r["other"]) for r in doc["files"][0]["page_counts"]} == {("meta", PIXEL, False)}

    from pixelspy import report
    monkeypatch.setattr(report, "MAX_PAGE_ROWS", 2)  # a crawl of many pages: the rows stay bounded
    rows = json.loads(run("v.har", "--format", "json", cwd=tmp_path).stdout)["files"][0]["page_counts"]
    assert [(r["page"], r["other"], r["count"]) for r in rows] == [
        ("https://shop.example/", False, 2), ("https://shop.example/tee", False, 1), (None, True, 1)]


def test_verbose_lists_each_event_with_its_parameters(tmp_path):
    har = har_file(tmp_path / "visit.har", meta_purchase(T0, **{"cd[value]": "49.90", "cd[currency]": "EUR",
                                                               "cd[content_name]": "Mug\nFAKE  error line"}),
                   meta_purchase(T0 + 60, **{"cd[value]": "5.00", "cd[currency]": "EUR"}))
    plain = run(str(har), cwd=tmp_path)
    assert "cd[value]" not in plain.stdout  # the summary alone by default
    verbose = run("--verbose", str(har), cwd=tmp_path)
    assert verbose.returncode == plain.returncode
    lines = verbose.stdout.splitlines()
    heads = [i for i, line in enumerate(lines)
             if re.fullmatch(rf"  \[e\d+\] meta  {PIXEL}  Purchase  https://shop.example/checkout/thanks\?order=77", line)]
    assert len(heads) == 2
    assert lines[heads[0] + 1:heads[1]] == [
        f"      id                {PIXEL}  (Pixel ID)",
        "      ev                Purchase  (Event name)",
        "      dl                https://shop.example/checkout/thanks?order=77  (Page URL)",
        "      cd[value]         49.90  (Value)",
        "      cd[currency]      EUR  (Currency)",
        "      cd[content_name]  Mug\\nFAKE  error line  (Content name)"]  # wire text cannot forge a line
    assert "      cd[value]     5.00  (Value)" in lines[heads[1]:]
    usage = run("--verbose", "--format", "json", str(har), cwd=tmp_path)
    assert usage.returncode == 2 and "--verbose lists the events in the text format" in usage.stderr
