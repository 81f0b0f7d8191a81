"""The JUnit XML report: for CI test views. Wire text goes through _x(): inert, and valid XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter

from pixelspy.inert import inert
from pixelspy.model import Finding, TrackingEvent
from pixelspy.report import AuditRun, FileReport, at_threshold, describe, describe_group, pages_by_group, plural
from pixelspy.report.matrix import Cell, Matrix, Row

# Characters XML 1.0 cannot carry even escaped (decoded garbage may contain them) and inert() keeps.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MAX_CELL_FINDINGS = 50  # quoted in an audit cell's failure (every one is in the JSON report)


def _x(text: str) -> str:
    """Wire text for the report (read in CI pages and terminals): inert, and valid XML."""
    return _NOT_XML.sub("\ufffd", inert(text, lines=True))


def _finding_text(ev: TrackingEvent, f: Finding) -> str:
    lines = [f"{f.severity.value}: {f.code}{' (pending)' if f.pending else ''}: {f.message}"]
    if f.hint:
        lines.append(f"hint: {f.hint}")
    lines.append(f"event: [{ev.id}] {describe(ev)}")
    return "\n".join(lines)


class Suite:
    """A testsuite element with its counts."""

    def __init__(self, root: ET.Element, name: str) -> None:
        self.element = ET.SubElement(root, "testsuite", name=_x(name))
        self.counts: Counter[str] = Counter(tests=0, failures=0, errors=0, skipped=0)

    def case(self, classname: str, name: str) -> ET.Element:
        self.counts["tests"] += 1
        return ET.SubElement(self.element, "testcase", classname=_x(classname), name=_x(name))

    def fail(self, case: ET.Element, tag: str, kind: str, message: str, text: str | None = None) -> None:
        """tag: failure | error | skipped."""
        self.counts[{"failure": "failures", "error": "errors", "skipped": "skipped"}[tag]] += 1
        element = ET.SubElement(case, tag, type=_x(kind), message=_x(message))
        if text:
            element.text = _x(text)

    def findings(self, case: ET.Element, pairs: list[tuple[TrackingEvent, Finding]], fail_on: str,
                 note: str = "") -> None:
        """The findings at the threshold fail the case; lesser ones go to its system-out, after `note`."""
        failing = [(ev, f) for ev, f in pairs if at_threshold(f, fail_on)]
        if failing:
            text = "\n\n".join(_finding_text(ev, f) for ev, f in failing[:MAX_CELL_FINDINGS])
            if len(failing) > MAX_CELL_FINDINGS:
                text += f"\n\n… and {plural(len(failing) - MAX_CELL_FINDINGS, 'more finding')}"
            self.fail(case, "failure", failing[0][1].code, failing[0][1].message, text)
        lesser = [(ev, f) for ev, f in pairs if not at_threshold(f, fail_on)][:MAX_CELL_FINDINGS]
        if out := "\n\n".join([note] * bool(note) + [_finding_text(ev, f) for ev, f in lesser]):
            ET.SubElement(case, "system-out").text = _x(out)

    def unreadable(self, r: FileReport) -> None:
        """Errors for a file that could not be read, or entries of it."""
        if r.error is not None:
            self.fail(self.case("pixelspy.file", f"read {r.path}"), "error", "unreadable", r.error)
        for p in r.problems:
            self.fail(self.case("pixelspy.file", f"read {p.split(':')[0]}"), "error", "unreadable", p)

    def page_counts(self, r: FileReport) -> None:
        """What fired on which page, as the JSON's page_counts rows, in the suite's system-out."""
        lines = []
        for group, rows in pages_by_group(r.tally).items():
            lines += [f"{n}  {describe_group(group)}  {page or '(no page)'}" for page, n in rows]
        if r.tally.other_pages:
            lines.append(f"{r.tally.other_pages}  on further pages (past the page rows counted)")
        if lines:
            ET.SubElement(self.element, "system-out").text = _x("\n".join(lines))

    def close(self, totals: Counter[str]) -> None:
        for k, v in self.counts.items():
            self.element.set(k, str(v))
        totals.update(self.counts)


def _document(root: ET.Element, totals: Counter[str]) -> str:
    for k, v in totals.items():
        root.set(k, str(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_junit(reports: list[FileReport], fail_on: str) -> str:
    """One test suite per file, one test case per event with findings: it fails when one of its
    findings reaches the threshold; lesser findings go to its system-out. Events without findings
    pass as one test case per vendor, pixel and event. Unreadable files and entries are errors. The
    suite's system-out lists the events per page."""
    root = ET.Element("testsuites", name="pixelspy check")
    totals: Counter[str] = Counter()
    for r in reports:
        suite = Suite(root, r.path)
        suite.unreadable(r)
        if r.empty and r.empty_fails:
            suite.fail(suite.case("pixelspy.file", f"tracking events in {r.path}"), "failure", "no-events",
                       "no tracking events: nothing was checked")
        for group, n in sorted(r.tally.clean_counts().items()):
            suite.case(f"pixelspy.{group[0]}", f"{describe_group(group)}: {plural(n, 'event')} without findings")
        for ev in r.tally.flagged():
            suite.findings(suite.case(f"pixelspy.{ev.platform}", f"[{ev.id}] {describe(ev)}"),
                           [(ev, f) for f in ev.findings], fail_on)
        suite.page_counts(r)
        suite.close(totals)
    return _document(root, totals)


# --------------------------------------------------------------------------------------------- audit


def _cell_note(row: Row, cell: Cell) -> str:
    """What the cell saw and the row's verdict (in its system-out: a test's name stays the same from
    one audit to the next)."""
    names = list(cell.events.values())
    events = ", ".join(f"{e.title} ×{e.count}" + (f" (first on {e.first_page})" if e.first_page else "")
                       for e in names[:MAX_CELL_FINDINGS])
    more = f", {len(names) - MAX_CELL_FINDINGS} more" if len(names) > MAX_CELL_FINDINGS else ""
    verdict = row.verdict(cell.run.device)
    return f"{cell.verdict}" + (f": {events}{more}" if events else "") + \
        f"\n{row.name} on {cell.run.device}: {verdict.code}: {verdict.text}"


def _properties(suite: ET.Element, run: AuditRun) -> None:
    """What the run did and where its evidence is (the HAR, to open with `pixelspy open`)."""
    props = ET.SubElement(suite, "properties")
    for name, value in (("state", run.state), ("device", run.device), ("cmp", run.cmp or "none found"),
                        ("action", run.action), ("consent", run.consent), ("har", run.har_path or ""),
                        ("pages", str(len(run.pages)))):
        ET.SubElement(props, "property", name=name, value=_x(value))


def render_audit_junit(runs: list[AuditRun], fail_on: str) -> str:
    """One test suite per run (consent state × device), one test case per vendor and pixel in it,
    failing on its findings at the threshold (pre-consent among them). A run whose consent state is
    unknown (no CMP found, the click failed) has a skipped `consent` case saying so."""
    matrix = Matrix.of(runs)
    root = ET.Element("testsuites", name="pixelspy audit")
    totals: Counter[str] = Counter()
    for run in runs:
        suite = Suite(root, run.name)
        _properties(suite.element, run)
        suite.unreadable(run.report)
        consent = suite.case("pixelspy.audit.consent", f"consent {run.state}: {run.action or 'no action'}")
        if run.unknown:
            suite.fail(consent, "skipped", "consent-unknown",
                       f"the consent state is unknown ({run.action or 'no action'}; CMP: {run.cmp or 'none found'})")
        for row in matrix.rows():
            cell = row.cells[run.device, run.state]
            if cell.run is run:  # a state audited twice (the same device) is counted once
                case = suite.case(f"pixelspy.{row.platform}", f"{row.site} {row.name} [{run.state}, {run.device}]")
                suite.findings(case, cell.findings(), fail_on, _cell_note(row, cell))
        suite.page_counts(run.report)
        suite.close(totals)
    return _document(root, totals)
