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


def test_text_names_the_related_events_as_the_json_does():
    first, second = event("AddToCart", ("duplicate-event", "warning")), event("AddToCart", ("duplicate-event", "warning"))
    first.findings[0].related, second.findings[0].related = [second.id], [first.id]
    lead = event("Lead", ("plan-visit", "info"))
    lead.findings[0].related = ["e-hit-1", "e-hit-2"]
    text = render_text([FileReport("d.har", [first, second, lead])], "error")
    # The two copies of a duplicate are one group, naming both; ids outside a group are "related".
    assert "  warning  duplicate-event ×2  duplicate-event <&> \\x00 msg\n" in text
    assert f"           event ids: {first.id}, {second.id}\n" in text and "related: e" + first.id[1:] not in text
    assert f"  info     plan-visit  [{lead.id}]" in text and "           related: e-hit-1, e-hit-2\n" in text


def test_text_groups_findings_alike_and_says_each_hint_once():
    infos = [event("PageView", ("cookies-disabled", "info")) for _ in range(19)]
    other = event("Lead", ("missing-param", "info"))  # same code as below, another message: its own group
    other.findings[0].message = "Meta Lead without em"
    err = event("Purchase", ("pii-leak", "error"))
    warn = [event("Purchase", ("missing-param", "warning")) for _ in range(2)]
    text = render_text([FileReport("g.har", [*infos, other, *warn, err])], "error")
    lines = text.splitlines()
    findings = [line.split()[:3] for line in lines if line.startswith(("  error", "  warning", "  info"))]
    assert findings == [["error", "pii-leak", f"[{err.id}]"], ["warning", "missing-param", "×2"],
                        ["info", "cookies-disabled", "×19"], ["info", "missing-param", f"[{other.id}]"]]
    i = lines.index("  info     cookies-disabled ×19  cookies-disabled <&> \\x00 msg")
    assert lines[i + 1] == ("           events: meta  1234567890123456  PageView ×19"
                            " — on https://shop.example/checkout/thanks")
    assert lines[i + 2] == f"           event ids: {', '.join(ev.id for ev in infos[:10])} and 9 more"
    assert lines[i + 3] == "           hint: do x"
    # missing-param's hint was said with the warnings: not again under the info.
    assert text.count("hint: do x") == 3 and lines[-2] == "           Meta Lead without em"


def test_text_findings_keep_wire_text_inert():
    ev = event("PageView", ("cookies-disabled", "info"))
    ev.id = "e1\n  error    forged  [e2]\x1b[31m"
    twin = event("PageView", ("cookies-disabled", "info"))
    text = render_text([FileReport("h.har", [ev, twin])], "error")
    assert "\x1b" not in text and "\n  error    forged" not in text
    assert "ids: e1\\n  error    forged  [e2]\\x1b[31m, " in text


def page_event(name: str, page: str) -> TrackingEvent:
    return TrackingEvent(platform="meta", pixel_id="1234567890123456", event=name, page_url=page)


def test_text_and_junit_list_what_fired_on_which_page_as_the_json_does():
    r = FileReport("v.har", [page_event("PageView", "https://shop.example/?gclid=1"),
                             page_event("PageView", "https://shop.example/tee#reviews"),
                             page_event("PageView", "https://shop.example/"),
                             page_event("AddToCart", "https://shop.example/tee")])
    json_rows = {(row["title"], row["page"], row["count"]) for row in json.loads(render_json([r], "error"))["files"][0]["page_counts"]}
    assert json_rows == {("PageView", "https://shop.example/", 2), ("PageView", "https://shop.example/tee", 1),
                         ("AddToCart", "https://shop.example/tee", 1)}
    text = render_text([r], "error")
    assert ("        1  meta  1234567890123456  AddToCart  on https://shop.example/tee\n"
            "        3  meta  1234567890123456  PageView\n"
            "        2    https://shop.example/\n"
            "        1    https://shop.example/tee\n") in text
    out = ET.fromstring(render_junit([r], "error")).find("testsuite/system-out").text.splitlines()
    assert sorted(out) == ["1  meta  1234567890123456  AddToCart  https://shop.example/tee",
                           "1  meta  1234567890123456  PageView  https://shop.example/tee",
                           "2  meta  1234567890123456  PageView  https://shop.example/"]


def test_text_page_lists_are_bounded(monkeypatch):
    from pixelspy.report import text as report_text
    monkeypatch.setattr(report_text, "MAX_PAGES", 2)
    monkeypatch.setattr(report_text, "MAX_GROUPS", 1)
    r = FileReport("crawl.har", [page_event("PageView", f"https://shop.example/p/{i}") for i in range(9)]
                   + [page_event("Lead", "https://shop.example/form\n\x1b[31m")])
    text = render_text([r], "error")
    assert "        1  meta  1234567890123456  Lead  on https://shop.example/form\\n\\x1b[31m\n" in text
    assert "        9  in 1 more group (the JSON report lists them all)" in text
    r = FileReport("crawl.har", [page_event("PageView", f"https://shop.example/p/{i}") for i in range(9)])
    assert "        7    on 7 more pages\n" in render_text([r], "error")


def test_audit_text_json_and_junit():
    from pixelspy.report import render_audit
    from tests.audit_runs import audit_run, audit_runs

    runs = audit_runs()
    text = render_audit(runs, "text", "error")
    assert text.startswith("pixelspy audit: 3 runs, 5 errors, 0 warnings — FAIL (--fail-on error)\n")
    assert "  meta  1234567890123456        ERROR 2   ERROR 2   ERROR 2\n" in text
    assert "  tiktok  CN8J4Q3C77U0N4A9CVAG  -         -         2\n" in text
    assert "      desktop: correct: silent before a choice, stops after reject, fires after accept\n" in text
    assert "(open with `pixelspy open audit/reject-desktop.har`)" in text

    doc = json.loads(render_audit(runs, "json", "error"))
    assert doc["exit_code"] == 1 and [r["state"] for r in doc["runs"]] == ["none", "reject", "accept"]
    assert doc["runs"][1]["action"] == "clicked reject all" and doc["runs"][1]["har_path"] == "audit/reject-desktop.har"
    assert {(p["title"], p["page"], p["count"]) for p in doc["runs"][2]["page_counts"] if p["platform"] == "tiktok"} == {
        ("Pageview → PageView", "https://www.shop.example/", 1), ("ViewContent", "https://www.shop.example/p/blue-mug", 1)}
    meta, tiktok = doc["matrix"]
    assert meta["verdicts"]["desktop"]["code"] == "pre-consent"
    assert [c["verdict"] for c in tiktok["cells"]] == ["silent", "silent", "fired"]
    assert "refused marketing consent" in meta["cells"][1]["evidence"][0]
    assert "(audit clicked reject all" in meta["cells"][1]["evidence"][0]

    runs = [audit_run("none"), audit_run("reject", click_fails=True)]
    root = ET.fromstring(render_audit(runs, "junit", "error"))
    none, reject = root.findall("testsuite")
    assert reject.get("name") == "reject/desktop" and reject.find("testcase/skipped").get("type") == "consent-unknown"
    assert {p.get("name"): p.get("value") for p in reject.find("properties")}["har"] == "audit/reject-desktop.har"
    cases = {c.get("name"): c for c in none.findall("testcase")}
    assert cases["shop.example meta  1234567890123456 [none, desktop]"].find("failure").get("type") == "pre-consent"
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("4", "2", "1")
