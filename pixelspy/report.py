"""`pixelspy check` output: text for people, JSON for scripts, JUnit XML for CI test reports.

Exit codes (`exit_code`): 2 when an input could not be read in full (the verdict would be
incomplete), else 1 when a finding reaches the `--fail-on` severity, else 0.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from dataclasses import InitVar, dataclass, field

from pixelspy.inert import inert, json_dumps
from pixelspy.model import Finding, Severity, TrackingEvent

RANK = {Severity.info: 0, Severity.warning: 1, Severity.error: 2}
FAIL_ON = ("error", "warning")


# What a file's events are counted by: vendor, source, pixel, event (as titled).
GroupKey = tuple[str, str, str, str]


def group_of(ev: TrackingEvent) -> GroupKey:
    return ev.platform, ev.source.value, ev.pixel_id or "", ev.title


# Events are also counted per page: at most this many (group, page) rows a file, the rest in one
# "other" count (a crawl visits any number of pages, and each page URL is wire text).
MAX_PAGE_ROWS = 1_000
MAX_PAGE_CHARS = 500  # a page row's URL is cut here


def page_of(ev: TrackingEvent) -> str | None:
    """The page an event reports, without query and fragment (order ids, click ids, tokens)."""
    if not ev.page_url:
        return None
    return ev.page_url.split("#", 1)[0].split("?", 1)[0][:MAX_PAGE_CHARS]


class EventTally:
    """What the reports need of a file's events, taken as they stream past (a Session subscriber):
    every event counted per group, and the events with findings themselves. Those are kept by
    reference, as checks may still change their findings until the file ends (a late duplicate, a
    settled consent verdict); events without findings are only counted, so memory follows the
    findings, not the file."""

    def __init__(self) -> None:
        self.total = 0
        self.counts: Counter[GroupKey] = Counter()
        self.page_counts: Counter[tuple[GroupKey, str | None]] = Counter()  # at most MAX_PAGE_ROWS
        self.other_pages = 0  # events of the (group, page) rows past MAX_PAGE_ROWS
        self._flagged: dict[str, TrackingEvent] = {}

    def __call__(self, ev: TrackingEvent, is_update: bool) -> None:
        if not is_update:
            self.total += 1
            group = group_of(ev)
            self.counts[group] += 1
            self._count_page((group, page_of(ev)))
        if ev.findings:
            self._flagged.setdefault(ev.id, ev)

    def _count_page(self, row: tuple[GroupKey, str | None]) -> None:
        if row in self.page_counts or len(self.page_counts) < MAX_PAGE_ROWS:
            self.page_counts[row] += 1
        else:
            self.other_pages += 1

    @classmethod
    def of(cls, events: Iterable[TrackingEvent]) -> EventTally:
        tally = cls()
        for ev in events:
            tally(ev, False)
        return tally

    def flagged(self) -> list[TrackingEvent]:
        """The events with findings (now: a check may have retracted one), in time order."""
        return sorted((ev for ev in self._flagged.values() if ev.findings), key=lambda ev: ev.time)

    def clean_counts(self) -> dict[GroupKey, int]:
        """Events without findings, per group."""
        clean = self.counts.copy()
        clean.subtract(group_of(ev) for ev in self.flagged())
        return {k: n for k, n in clean.items() if n > 0}


@dataclass
class FileReport:
    path: str
    events: InitVar[Iterable[TrackingEvent]] = ()  # or `tally`, filled as the file was read
    problems: list[str] = field(default_factory=list)  # entries that could not be read
    error: str | None = None  # the file could not be read at all
    format: str = ""
    tally: EventTally = field(default_factory=EventTally)
    empty_fails: bool = False  # a readable file without tracking events fails (`check` without --allow-empty)

    def __post_init__(self, events: Iterable[TrackingEvent]) -> None:
        if events:
            self.tally = EventTally.of(events)

    def findings(self) -> list[tuple[TrackingEvent, Finding]]:
        pairs = [(ev, f) for ev in self.tally.flagged() for f in ev.findings]
        return sorted(pairs, key=lambda p: (-RANK[p[1].severity], p[0].time))

    @property
    def unreadable(self) -> bool:
        return self.error is not None or bool(self.problems)

    @property
    def empty(self) -> bool:
        """Read, but no tracking event in it: nothing was checked (the wrong file, or no tag fired)."""
        return self.error is None and self.tally.total == 0


@dataclass
class AuditRun:
    """One browser visit of `pixelspy audit`: a consent state on a device, what it saw and what it did.
    The HTML, text, JSON and JUnit renderers take a list of these (one per state × device) besides
    FileReports; `report` holds the run's events and findings like a checked file's."""

    state: str  # the consent state asked for: "none" | "reject" | "accept"
    device: str  # "desktop" or a Playwright device name ("iPhone 13")
    report: FileReport
    har_path: str | None = None  # the run's evidence, openable with `pixelspy open`
    cmp: str | None = None  # the CMP autoconsent detected, None when none was found
    action: str = ""  # what the audit did, in words: "clicked reject all", "no CMP found", "click failed: …"
    consent: str = "not asked"  # what the browser showed afterwards: granted | denied | unknown | not asked
    choice_time: float | None = None  # when the click happened (epoch seconds), drawn on the timeline
    started: float = 0.0  # epoch seconds
    pages: list[str] = field(default_factory=list)  # the URLs visited, in order


def at_threshold(f: Finding, fail_on: str) -> bool:
    return RANK[f.severity] >= RANK[Severity(fail_on)]


def exit_code(reports: list[FileReport], fail_on: str) -> int:
    if any(r.unreadable for r in reports):
        return 2
    if any(at_threshold(f, fail_on) for r in reports for _, f in r.findings()):
        return 1
    if any(r.empty and r.empty_fails for r in reports):
        return 1
    return 0


def _counts(findings: list[tuple[TrackingEvent, Finding]]) -> dict[str, int]:
    return {s.value: sum(f.severity == s for _, f in findings) for s in (Severity.error, Severity.warning,
                                                                           Severity.info)}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe_group(group: GroupKey) -> str:
    """One line naming a group of events: vendor, source (unless browser), pixel, event."""
    platform, source, pixel, title = group
    return "  ".join(p for p in (platform, source if source != "browser" else "", pixel, title) if p)


def describe(ev: TrackingEvent) -> str:
    """One line naming the event: its group, and the page."""
    return "  ".join(p for p in (describe_group(group_of(ev)), ev.page_url) if p)


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
        out.append(f"{r.path}: {_plural(r.tally.total, 'event')}, {_plural(c['error'], 'error')}, "
                   f"{_plural(c['warning'], 'warning')}, {c['info']} info")
        for p in r.problems:
            out.append(f"  unreadable  {p}")
        if r.empty:
            fails = " (fails; --allow-empty accepts it)" if r.empty_fails else ""
            out.append(f"  no tracking events: nothing was checked{fails}")
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


def _page_rows(tally: EventTally) -> list[dict]:
    """The events per vendor, source, pixel, event and page; past MAX_PAGE_ROWS, one `other` row."""
    rows = [{"platform": platform, "source": source, "pixel_id": pixel or None, "title": title, "page": page,
             "other": False, "count": n}
            for ((platform, source, pixel, title), page), n in sorted(tally.page_counts.items(),
                                                                      key=lambda r: (r[0][0], r[0][1] or ""))]
    if tally.other_pages:
        rows.append({"platform": None, "source": None, "pixel_id": None, "title": None, "page": None,
                     "other": True, "count": tally.other_pages})
    return rows


def render_json(reports: list[FileReport], fail_on: str) -> str:
    files = []
    for r in reports:
        files.append({
            "path": r.path, "format": r.format, "error": r.error, "problems": r.problems,
            "events": r.tally.total, "empty_fails": r.empty and r.empty_fails, "counts": _counts(r.findings()),
            "event_counts": [{"platform": platform, "source": source, "pixel_id": pixel or None, "title": title,
                              "count": n} for (platform, source, pixel, title), n in sorted(r.tally.counts.items())],
            "page_counts": _page_rows(r.tally),
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
    """One test suite per file, one test case per event with findings: it fails when one of its
    findings reaches the threshold; lesser findings go to its system-out. Events without findings
    pass as one test case per vendor, pixel and event. Unreadable files and entries are errors."""
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
        if r.empty and r.empty_fails:
            case = ET.SubElement(suite, "testcase", classname="pixelspy.file", name=_x(f"tracking events in {r.path}"))
            ET.SubElement(case, "failure", type="no-events", message="no tracking events: nothing was checked")
            counts["tests"] += 1
            counts["failures"] += 1
        for group, n in sorted(r.tally.clean_counts().items()):
            ET.SubElement(suite, "testcase", classname=_x(f"pixelspy.{group[0]}"),
                          name=_x(f"{describe_group(group)}: {_plural(n, 'event')} without findings"))
            counts["tests"] += 1
        for ev in r.tally.flagged():
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
