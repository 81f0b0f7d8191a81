"""`pixelspy check` output: text for people, JSON for scripts, JUnit XML for CI test reports.

Exit codes (`exit_code`): 2 when an input could not be read in full (the verdict would be
incomplete), else 1 when a finding reaches the `--fail-on` severity, else 0.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from pixelspy.inert import inert, json_dumps
from pixelspy.model import Finding, Kind, Severity, TrackingEvent

RANK = {Severity.info: 0, Severity.warning: 1, Severity.error: 2}
FAIL_ON = ("error", "warning")


@dataclass
class FileReport:
    path: str
    events: list[TrackingEvent] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # entries that could not be read
    error: str | None = None  # the file could not be read at all
    format: str = ""

    def findings(self) -> list[tuple[TrackingEvent, Finding]]:
        pairs = [(ev, f) for ev in self.events for f in ev.findings]
        return sorted(pairs, key=lambda p: (-RANK[p[1].severity], p[0].time))

    @property
    def unreadable(self) -> bool:
        return self.error is not None or bool(self.problems)


def at_threshold(f: Finding, fail_on: str) -> bool:
    return RANK[f.severity] >= RANK[Severity(fail_on)]


def exit_code(reports: list[FileReport], fail_on: str) -> int:
    if any(r.unreadable for r in reports):
        return 2
    if any(at_threshold(f, fail_on) for r in reports for _, f in r.findings()):
        return 1
    return 0


def _counts(findings: list[tuple[TrackingEvent, Finding]]) -> dict[str, int]:
    return {s.value: sum(f.severity == s for _, f in findings) for s in (Severity.error, Severity.warning,
                                                                           Severity.info)}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe(ev: TrackingEvent) -> str:
    """One line naming the event: vendor, pixel, event, page."""
    parts = [ev.platform]
    if ev.source.value != "browser":
        parts.append(ev.source.value)
    if ev.pixel_id:
        parts.append(ev.pixel_id)
    parts.append(ev.title if ev.kind != Kind.pixel_loaded else "pixel loaded")
    if ev.page_url:
        parts.append(ev.page_url)
    return "  ".join(parts)


# ---------------------------------------------------------------------------------------------- text


def render_text(reports: list[FileReport], fail_on: str) -> str:
    """Each line goes through inert(): paths, URLs, event names and messages hold wire text, and a
    newline in one must not forge a report line."""
    out: list[str] = []
    for r in reports:
        if r.error is not None:
            out.append(f"{r.path}: cannot read: {r.error}")
            continue
        findings = r.findings()
        c = _counts(findings)
        out.append(f"{r.path}: {_plural(len(r.events), 'event')}, {_plural(c['error'], 'error')}, "
                   f"{_plural(c['warning'], 'warning')}, {c['info']} info")
        for p in r.problems:
            out.append(f"  unreadable  {p}")
        for ev, f in findings:
            pending = " (pending)" if f.pending else ""
            out.append(f"  {f.severity.value:<8} {f.code}{pending}  [{ev.id}] {describe(ev)}")
            out.append(f"           {f.message}")
            if f.hint:
                out.append(f"           hint: {f.hint}")
    code = exit_code(reports, fail_on)
    total = _counts([p for r in reports for p in r.findings()])
    verdict = {0: "OK", 1: "FAIL", 2: "FAIL (unreadable input)"}[code]
    out.append(f"{_plural(len(reports), 'file')}: {_plural(total['error'], 'error')}, "
               f"{_plural(total['warning'], 'warning')} — {verdict} (--fail-on {fail_on})")
    return "\n".join(inert(line) for line in out) + "\n"


# ---------------------------------------------------------------------------------------------- JSON


def _event_summary(ev: TrackingEvent) -> dict:
    return {"id": ev.id, "platform": ev.platform, "source": ev.source.value, "kind": ev.kind.value,
            "pixel_id": ev.pixel_id, "event": ev.event, "standard_event": ev.standard_event,
            "page_url": ev.page_url, "time": ev.time}


def render_json(reports: list[FileReport], fail_on: str) -> str:
    files = []
    for r in reports:
        files.append({
            "path": r.path, "format": r.format, "error": r.error, "problems": r.problems,
            "events": len(r.events), "counts": _counts(r.findings()),
            "findings": [{"code": f.code, "severity": f.severity.value, "message": f.message, "hint": f.hint,
                          "pending": f.pending, "related": f.related, "fails": at_threshold(f, fail_on),
                          "event": _event_summary(ev)} for ev, f in r.findings()],
        })
    return json_dumps({"fail_on": fail_on, "exit_code": exit_code(reports, fail_on), "files": files},
                      indent=2) + "\n"


# --------------------------------------------------------------------------------------------- JUnit

# Characters XML 1.0 cannot carry even escaped (decoded garbage may contain them) and inert() keeps.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text: str) -> str:
    """Wire text for the report (read in CI pages and terminals): inert, and valid XML."""
    return _NOT_XML.sub("\ufffd", inert(text, lines=True))


def _finding_text(ev: TrackingEvent, f: Finding) -> str:
    lines = [f"{f.severity.value}: {f.code}{' (pending)' if f.pending else ''}: {f.message}"]
    if f.hint:
        lines.append(f"hint: {f.hint}")
    lines.append(f"event: [{ev.id}] {describe(ev)}")
    return "\n".join(lines)


def render_junit(reports: list[FileReport], fail_on: str) -> str:
    """One test suite per file, one test case per event: it fails when one of its findings reaches
    the threshold; lesser findings go to its system-out. Unreadable files and entries are errors."""
    root = ET.Element("testsuites", name="pixelspy check")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for r in reports:
        suite = ET.SubElement(root, "testsuite", name=_x(r.path))
        counts = {"tests": 0, "failures": 0, "errors": 0}
        if r.error is not None:
            case = ET.SubElement(suite, "testcase", classname="pixelspy.file", name=_x(f"read {r.path}"))
            ET.SubElement(case, "error", type="unreadable", message=_x(r.error))
            counts["tests"] += 1
            counts["errors"] += 1
        for p in r.problems:
            case = ET.SubElement(suite, "testcase", classname="pixelspy.file", name=_x(f"read {p.split(':')[0]}"))
            ET.SubElement(case, "error", type="unreadable", message=_x(p))
            counts["tests"] += 1
            counts["errors"] += 1
        for ev in r.events:
            case = ET.SubElement(suite, "testcase", classname=_x(f"pixelspy.{ev.platform}"),
                                 name=_x(f"[{ev.id}] {describe(ev)}"))
            counts["tests"] += 1
            failing = [f for f in ev.findings if at_threshold(f, fail_on)]
            if failing:
                counts["failures"] += 1
                first = failing[0]
                fail = ET.SubElement(case, "failure", type=first.code, message=_x(first.message))
                fail.text = _x("\n\n".join(_finding_text(ev, f) for f in failing))
            lesser = [f for f in ev.findings if not at_threshold(f, fail_on)]
            if lesser:
                ET.SubElement(case, "system-out").text = _x("\n\n".join(_finding_text(ev, f) for f in lesser))
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
    for k, v in totals.items():
        root.set(k, str(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


FORMATS = {"text": render_text, "json": render_json, "junit": render_junit}
