"""`pixelspy check` reports: text, JSON and JUnit XML, and the exit code rule."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from pixelspy.model import Finding, Kind, Severity, TrackingEvent
from pixelspy.report import FileReport, exit_code, render_json, render_junit, render_text


def event(name: str, *findings: tuple[str, str], kind: Kind = Kind.event) -> TrackingEvent:
    return TrackingEvent(platform="meta", pixel_id="1234567890123456", event=name, standard_event=name, kind=kind,
                         page_url="https://shop.example/checkout/thanks",
                         findings=[Finding(code=c, severity=Severity(s), message=f"{c} <&> \x00 msg", hint="do x")
                                   for c, s in findings])


def reports() -> list[FileReport]:
    return [
        FileReport("a.har", [event("PageView"), event("Purchase", ("missing-param", "warning"), ("pii-leak", "error")),
                             event("Purchase", ("missing-expected-event", "error"), kind=Kind.missing)]),
        FileReport("b.har", [event("Lead", ("encoding", "info"))], problems=["log.entries[3]: request.url: missing"]),
        FileReport("c.har", error="not a HAR file: no log.entries"),
    ]


def test_exit_codes():
    clean = FileReport("ok.har", [event("PageView", ("encoding", "info"))])
    warn = FileReport("w.har", [event("Purchase", ("missing-param", "warning"))])
    err = FileReport("e.har", [event("Purchase", ("pii-leak", "error"))])
    assert exit_code([clean], "error") == 0 and exit_code([clean], "warning") == 0
    assert exit_code([clean, warn], "error") == 0 and exit_code([clean, warn], "warning") == 1
    assert exit_code([err], "error") == 1
    assert exit_code([err, FileReport("x.har", error="broken")], "error") == 2
    assert exit_code([clean, FileReport("y.har", problems=["log.entries[0]: request: missing"])], "error") == 2


def test_junit_is_valid_xml_with_one_case_per_event():
    root = ET.fromstring(render_junit(reports(), "error"))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("6", "2", "2")
    a, b, c = root.findall("testsuite")
    assert (a.get("name"), a.get("tests"), a.get("failures"), a.get("errors")) == ("a.har", "3", "2", "0")
    cases = a.findall("testcase")
    assert cases[0].find("failure") is None and cases[0].get("classname") == "pixelspy.meta"
    fail = cases[1].find("failure")
    assert fail.get("type") == "pii-leak" and "\x00" not in fail.get("message")
    assert "pii-leak" in fail.text and "hint: do x" in fail.text and "missing-param" not in fail.text
    assert "missing-param" in cases[1].find("system-out").text  # below the threshold: shown, not failing
    assert cases[2].find("failure").get("type") == "missing-expected-event"
    assert "missing: Purchase" in cases[2].get("name")
    assert b.find("testcase/error").get("message") == "log.entries[3]: request.url: missing"
    assert c.find("testcase/error").get("message") == "not a HAR file: no log.entries"
    # --fail-on warning: the warning fails too.
    root = ET.fromstring(render_junit(reports(), "warning"))
    assert "missing-param" in root.find("testsuite").findall("testcase")[1].find("failure").text


def test_json_and_text():
    doc = json.loads(render_json(reports(), "error"))
    assert doc["exit_code"] == 2 and doc["fail_on"] == "error"
    a = doc["files"][0]
    assert a["counts"] == {"error": 2, "warning": 1, "info": 0}
    assert [f["code"] for f in a["findings"]] == ["pii-leak", "missing-expected-event", "missing-param"]
    assert [f["fails"] for f in a["findings"]] == [True, True, False]
    assert a["findings"][1]["event"]["kind"] == "missing"
    assert doc["files"][2]["error"] == "not a HAR file: no log.entries"
    text = render_text(reports(), "error")
    assert "a.har: 3 events, 2 errors, 1 warning, 0 info" in text
    assert "  unreadable  log.entries[3]: request.url: missing" in text
    assert "c.har: cannot read: not a HAR file: no log.entries" in text
    assert text.rstrip().endswith("3 files: 2 errors, 1 warning — FAIL (unreadable input) (--fail-on error)")
