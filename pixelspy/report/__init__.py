"""Reports of `pixelspy check` (FileReports) and `pixelspy audit` (AuditRuns): text for people, JSON
for scripts, JUnit XML for CI test reports, one self-contained HTML file to open and forward.

This module holds what every format reads: the tally of a file's events, the exit-code rule and the
names of things; the formats live in text.py, json.py, junit.py and html.py (html_audit.py: the audit's),
the audit's matrix of verdicts in matrix.py.

Exit codes (`exit_code`): 2 when an input could not be read in full (the verdict would be
incomplete), else 1 when a finding reaches the `--fail-on` severity, else 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import InitVar, dataclass, field
from typing import NamedTuple

from pixelspy.model import Finding, Kind, Severity, TrackingEvent

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
# The timeline (HTML) takes the time of a file's first events only: a point costs ≈ 150 bytes.
MAX_POINTS = 5_000


def page_of(ev: TrackingEvent) -> str | None:
    """The page an event reports, without query and fragment (order ids, click ids, tokens)."""
    if not ev.page_url:
        return None
    return ev.page_url.split("#", 1)[0].split("?", 1)[0][:MAX_PAGE_CHARS]


def worst(findings: Iterable[Finding]) -> Severity | None:
    return max((f.severity for f in findings), key=RANK.__getitem__, default=None)


class TimePoint(NamedTuple):
    """An event on the timeline: when, which group, and the worst severity of its findings."""

    time: float
    group: GroupKey
    severity: Severity | None


@dataclass(slots=True)
class Span:
    """What the audit matrix needs of a group besides its count: its kind, first and last time."""

    kind: Kind
    first: float
    last: float


class EventTally:
    """What the reports need of a file's events, taken as they stream past (a Session subscriber):
    every event counted per group and page, each group's time span, the time of the first
    MAX_POINTS events, and the events with findings themselves. Those are kept by reference, as
    checks may still change their findings until the file ends (a late duplicate, a settled
    consent verdict); events without findings are only counted, so memory follows the findings,
    not the file."""

    def __init__(self) -> None:
        self.total = 0
        self.counts: Counter[GroupKey] = Counter()
        self.page_counts: Counter[tuple[GroupKey, str | None]] = Counter()  # at most MAX_PAGE_ROWS
        self.other_pages = 0  # events of the (group, page) rows past MAX_PAGE_ROWS
        self.spans: dict[GroupKey, Span] = {}
        self._points: list[tuple[float, GroupKey, str]] = []  # (time, group, event id)
        self.points_left_out = 0
        self._flagged: dict[str, TrackingEvent] = {}

    def __call__(self, ev: TrackingEvent, is_update: bool) -> None:
        if not is_update:
            self.total += 1
            group = group_of(ev)
            self.counts[group] += 1
            self.count_page((group, page_of(ev)))
            self._note_time(ev, group)
        if ev.findings:
            self._flagged.setdefault(ev.id, ev)

    def count_page(self, row: tuple[GroupKey, str | None], n: int = 1) -> None:
        if row in self.page_counts or len(self.page_counts) < MAX_PAGE_ROWS:
            self.page_counts[row] += n
        else:
            self.other_pages += n

    def _note_time(self, ev: TrackingEvent, group: GroupKey) -> None:
        if (span := self.spans.get(group)) is None:
            self.spans[group] = Span(ev.kind, ev.time, ev.time)
        else:
            span.first, span.last = min(span.first, ev.time), max(span.last, ev.time)
        self.add_point(ev.time, group, ev.id)

    @classmethod
    def of(cls, events: Iterable[TrackingEvent]) -> EventTally:
        tally = cls()
        for ev in events:
            tally(ev, False)
        return tally

    def flagged(self) -> list[TrackingEvent]:
        """The events with findings (now: a check may have retracted one), in time order."""
        return sorted((ev for ev in self._flagged.values() if ev.findings), key=lambda ev: ev.time)

    def raw_points(self) -> list[tuple[float, GroupKey, str]]:
        """The first MAX_POINTS events as (time, group, event id), in arrival order."""
        return list(self._points)

    def add_point(self, time: float, group: GroupKey, event_id: str) -> None:
        if len(self._points) < MAX_POINTS:
            self._points.append((time, group, event_id))
        else:
            self.points_left_out += 1

    def points(self) -> list[TimePoint]:
        """The first MAX_POINTS events in arrival order, with their findings' severity as it is now."""
        return [TimePoint(t, group, worst(ev.findings) if (ev := self._flagged.get(eid)) else None)
                for t, group, eid in self._points]

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

    def finding_groups(self) -> list[FindingGroup]:
        return group_findings(self.findings())

    @property
    def unreadable(self) -> bool:
        return self.error is not None or bool(self.problems)

    @property
    def empty(self) -> bool:
        """Read, but no tracking event in it: nothing was checked (the wrong file, or no tag fired)."""
        return self.error is None and self.tally.total == 0


@dataclass(slots=True)
class FindingGroup:
    """Findings alike on several events of a file (the same severity, code, message, hint and
    pending state, so nothing event-specific differs), said once with the events they are on."""

    finding: Finding  # the first of them
    events: list[TrackingEvent] = field(default_factory=list)  # in the order found, each once

    def related(self) -> list[str]:
        """The related ids of the findings, each once, without the group's own events (the two
        copies of a duplicate land in one group)."""
        own = {ev.id for ev in self.events}
        seen: dict[str, None] = {}
        for ev in self.events:
            for f in ev.findings:
                if _key(f) == _key(self.finding):
                    seen.update((r, None) for r in f.related if r not in own)
        return list(seen)

    def names(self) -> list[str]:
        """The group's events named compactly, one string per vendor and pixel with its event titles
        (a count past one), in the order first seen; at most MAX_GROUP_NAMES of each, then "N more"."""
        titles: dict[str, list[str]] = {}
        for (platform, source, pixel, title), n in Counter(group_of(ev) for ev in self.events).items():
            titles.setdefault(describe_group((platform, source, pixel, "")), []).append(f"{title} ×{n}" if n > 1 else title)
        return bounded([f"{pixel}  {', '.join(bounded(t, MAX_GROUP_NAMES))}" for pixel, t in titles.items()], MAX_GROUP_NAMES)

    def pages(self) -> list[str | None]:
        return list(dict.fromkeys(page_of(ev) for ev in self.events))


def _key(f: Finding) -> tuple[str, str, str, str, bool]:
    return f.severity.value, f.code, f.message, f.hint, f.pending


def group_findings(pairs: Iterable[tuple[TrackingEvent, Finding]]) -> list[FindingGroup]:
    """(event, finding) pairs as FindingGroups, in the order of each group's first pair (so most
    severe first when the pairs are)."""
    groups: dict[tuple[str, str, str, str, bool], FindingGroup] = {}
    placed: set[tuple[tuple[str, str, str, str, bool], str]] = set()  # (group, event id)
    for ev, f in pairs:
        g = groups.setdefault(key := _key(f), FindingGroup(f))
        if (key, ev.id) not in placed:
            placed.add((key, ev.id))
            g.events.append(ev)
    return list(groups.values())


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

    @property
    def name(self) -> str:
        return f"{self.state}/{self.device}"

    @property
    def unknown(self) -> bool:
        """The consent state the browser ended in is not known (no CMP found, the click failed):
        its cells are not judged correct or not."""
        return self.consent == "unknown"


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


def audit_exit_code(runs: list[AuditRun], fail_on: str) -> int:
    """`check`'s rule over the runs' reports: 2 when a page was not loaded (or its HAR not written: the
    run's report.problems), else 1 for a finding at `fail_on`; an unknown consent state is said, not
    failed, and a run without events is no failure (silence before a choice is what is wanted)."""
    return exit_code([run.report for run in runs], fail_on)


VERDICT = {0: "OK", 1: "FAIL", 2: "FAIL (unreadable input)"}
AUDIT_VERDICT = VERDICT | {2: "FAIL (pages not loaded)"}
AUDIT_EMPTY = "no tracking event fired"  # a run's report without events: said, never a failure


def check_verdict(reports: list[FileReport], fail_on: str) -> str:
    """VERDICT, saying so when only a file without tracking events fails (no count shows it)."""
    code = exit_code(reports, fail_on)
    if code == 1 and not any(at_threshold(f, fail_on) for r in reports for _, f in r.findings()):
        return "FAIL (a file without tracking events)"
    return VERDICT[code]


def severity_counts(findings: Iterable[tuple[TrackingEvent, Finding]]) -> dict[str, int]:
    counts = dict.fromkeys((Severity.error.value, Severity.warning.value, Severity.info.value), 0)
    for _, f in findings:
        counts[f.severity.value] += 1
    return counts


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def describe_group(group: GroupKey) -> str:
    """One line naming a group of events: vendor, source (unless browser), pixel, event."""
    platform, source, pixel, title = group
    return "  ".join(p for p in (platform, source if source != "browser" else "", pixel, title) if p)


MAX_IDS = 10  # event ids listed for a group of findings
MAX_GROUP_NAMES = 5  # pixels, and event names a pixel, named for a group of findings


def bounded(items: list[str], limit: int) -> list[str]:
    """The first `limit` items, then "N more" for the rest."""
    return items if len(items) <= limit else [*items[:limit], f"{len(items) - limit:,} more"]


def id_list(events: list[TrackingEvent]) -> str:
    """The events' ids, compactly: the first MAX_IDS, then "and N more"."""
    ids = ", ".join(ev.id for ev in events[:MAX_IDS])
    return ids + (f" and {len(events) - MAX_IDS:,} more" if len(events) > MAX_IDS else "")


def describe(ev: TrackingEvent) -> str:
    """One line naming the event: its group, and the page."""
    return "  ".join(p for p in (describe_group(group_of(ev)), ev.page_url) if p)


def pages_by_group(tally: EventTally) -> dict[GroupKey, list[tuple[str | None, int]]]:
    """Each group's pages with their counts, in the order first seen (the first is where it first fired)."""
    out: dict[GroupKey, list[tuple[str | None, int]]] = {}
    for (group, page), n in tally.page_counts.items():
        out.setdefault(group, []).append((page, n))
    return out


# The formats import the names above from this package (defined by now).
from pixelspy.report.html import render_html  # noqa: E402
from pixelspy.report.html_audit import render_audit_html  # noqa: E402
from pixelspy.report.json import render_audit_json, render_json  # noqa: E402
from pixelspy.report.junit import render_audit_junit, render_junit  # noqa: E402
from pixelspy.report.text import render_audit_text, render_text  # noqa: E402

FORMATS = {"text": render_text, "json": render_json, "junit": render_junit, "html": render_html}
AUDIT_FORMATS = {"text": render_audit_text, "json": render_audit_json, "junit": render_audit_junit,
                 "html": render_audit_html}


def render_audit(runs: list[AuditRun], fmt: str, fail_on: str) -> str:
    """`pixelspy audit`'s report of its runs (one per consent state × device) in `fmt`: html | text | json | junit."""
    return AUDIT_FORMATS[fmt](runs, fail_on)
