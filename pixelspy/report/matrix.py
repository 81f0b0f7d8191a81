"""The audit's matrix: per site, each vendor × pixel against each consent state on each device, with
the events that fired (name, count, first page) and a verdict per cell and per row.

Verdicts come from the checks' findings, which carry the CMP's evidence and know its exceptions
(Google consent mode's cookieless pings after a refusal), and from what the audit did (its click and
when). This module never makes a `pre-consent` error the consent check did not make: what fired
without a finding is said plainly, not judged.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from pixelspy.checks.consent import PRE_CONSENT, registrable_domain
from pixelspy.model import Finding, Kind, TrackingEvent, split_url
from pixelspy.report import AuditRun, GroupKey, Span, group_of, page_of

STATES = ("none", "reject", "accept")  # the columns' order; other states follow, sorted
MAX_ROWS = 500  # vendor × pixel rows of all sites; events of further rows are counted, not shown

# A row's verdict on one device: code → (style, sentence); {states} is where it applies.
ROW_VERDICTS = {
    "pre-consent": ("error", "fires without consent: {states}"),
    "unknown": ("unknown", "not judged: the consent state is unknown in {states}"),
    "correct": ("ok", "{states}"),
    "silent": ("note", "never fired in {states}"),
    "unconditional": ("note", "fires in {states} without a consent finding"),
}
# The parts of a correct row's sentence, per state.
CORRECT = {"none": "silent before a choice", "reject": "stops after reject", "accept": "fires after accept"}
# The parts of a pre-consent row's sentence: what the consent check flagged in each state.
WITHOUT_CONSENT = {"none": "before a choice (none)", "reject": "after reject",
                   "accept": "before the accept click"}


def site_of(url: str | None) -> str:
    if not url or not url.lower().startswith(("http://", "https://")):
        return ""
    return registrable_domain(split_url(url)[0])


@dataclass
class Fired:
    """An event name in a cell: how often, and the page it first fired on."""

    title: str
    count: int
    first_page: str | None


@dataclass
class Cell:
    run: AuditRun  # the first run of its state and device (merged shards may hold several)
    events: dict[str, Fired] = field(default_factory=dict)  # by title, first seen first
    fired: int = 0  # events proper: not loader fetches, not expected-but-missing events
    after_choice: bool = False  # one of them fired at or after the audit's click
    flagged: list[TrackingEvent] = field(default_factory=list)  # its events with findings
    unknown: bool = False  # a run of this state and device ended in an unknown consent state

    def add(self, title: str, page: str | None, n: int, span: Span | None, run: AuditRun) -> None:
        if (fired := self.events.get(title)) is None:
            self.events[title] = Fired(title, n, page)
        else:
            fired.count += n
        if span is not None and span.kind == Kind.event:
            self.fired += n
            if (choice := run.choice_time) is not None:  # the click of the run these events are of
                self.after_choice |= span.last >= choice
            elif run.state != "none":  # a choice made at a time not known: any event may be after it
                self.after_choice = True

    def findings(self) -> list[tuple[TrackingEvent, Finding]]:
        return [(ev, f) for ev in self.flagged for f in ev.findings]

    @property
    def pre_consent(self) -> list[tuple[TrackingEvent, Finding]]:
        """The consent check's errors, each with the CMP's evidence in its message."""
        return [(ev, f) for ev, f in self.findings() if f.code == PRE_CONSENT]

    @property
    def verdict(self) -> str:
        """pre-consent | unknown | fired | silent"""
        if self.pre_consent:
            return "pre-consent"
        if self.unknown:
            return "unknown"
        return "fired" if self.fired else "silent"

    def short(self) -> str:
        """The cell in a few characters (text table, JUnit names)."""
        return {"pre-consent": f"ERROR {self.fired}", "unknown": f"? {self.fired}", "fired": str(self.fired),
                "silent": "-"}[self.verdict]


class Verdict(NamedTuple):
    code: str
    style: str  # error | unknown | ok | note
    text: str


RowKey = tuple[str, str, str, str]  # site, platform, source, pixel


@dataclass
class Row:
    site: str
    platform: str
    source: str
    pixel: str
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)  # (device, state) → cell

    @property
    def name(self) -> str:
        return "  ".join(p for p in (self.platform, self.source if self.source != "browser" else "", self.pixel) if p)

    def verdict(self, device: str) -> Verdict:
        cells = {state: c for (d, state), c in self.cells.items() if d == device}
        code, states = _verdict(cells)
        style, sentence = ROW_VERDICTS[code]
        if code == "correct":
            where = ", ".join(CORRECT[s] for s in STATES if s in cells)
        elif code == "pre-consent":
            where = ", ".join(WITHOUT_CONSENT.get(s, s) for s in states)
        else:
            where = ", ".join(states)
        return Verdict(code, style, sentence.format(states=where))


def _verdict(cells: dict[str, Cell]) -> tuple[str, list[str]]:
    """A row's verdict on one device, and the states it names."""
    def where(test) -> list[str]:
        return [s for s, c in cells.items() if test(c)]

    if errors := where(lambda c: c.pre_consent):
        return "pre-consent", errors
    if unknown := where(lambda c: c.unknown):
        return "unknown", unknown
    none, reject, accept = (cells.get(s) for s in STATES)
    if (accept is not None and accept.fired and accept.after_choice and (none is None or not none.fired)
            and (reject is None or not (reject.fired and reject.after_choice))):
        return "correct", []
    if fired := where(lambda c: c.fired):
        return "unconditional", fired
    return "silent", list(cells)


def _join(row: Row, run: AuditRun) -> Cell:
    """The row's cell of the run's state and device (shared by the runs of merged shards)."""
    cell = row.cells.setdefault((run.device, run.state), Cell(run))
    cell.unknown |= run.unknown
    return cell


@dataclass
class Matrix:
    runs: list[AuditRun]
    sites: dict[str, dict[RowKey, Row]] = field(default_factory=dict)
    events_left_out: int = 0  # events of rows past MAX_ROWS, or past the tally's page rows

    @classmethod
    def of(cls, runs: list[AuditRun]) -> Matrix:
        matrix = cls(runs)
        for run in runs:
            matrix._add_run(run)
        for row in matrix.rows():  # a state where the row did not fire is a cell too: silent, or unknown
            for run in runs:
                _join(row, run)
        matrix.sites = {site: dict(sorted(rows.items())) for site, rows in sorted(matrix.sites.items())}
        return matrix

    def _add_run(self, run: AuditRun) -> None:
        tally = run.report.tally
        home = site_of(run.pages[0]) if run.pages else ""
        for (group, page), n in tally.page_counts.items():
            if (cell := self._cell(site_of(page) or home, group, run)) is None:
                self.events_left_out += n
            else:
                cell.add(group[3], page, n, tally.spans.get(group), run)
        self.events_left_out += tally.other_pages
        for ev in tally.flagged():
            if (cell := self._cell(site_of(page_of(ev)) or home, group_of(ev), run)) is not None:
                cell.flagged.append(ev)

    def _cell(self, site: str, group: GroupKey, run: AuditRun) -> Cell | None:
        key = (site, *group[:3])
        rows = self.sites.setdefault(site, {})
        if (row := rows.get(key)) is None:
            if self.row_count() >= MAX_ROWS:
                return None
            row = rows[key] = Row(*key)
        return _join(row, run)

    def row_count(self) -> int:
        return sum(len(rows) for rows in self.sites.values())

    def rows(self) -> list[Row]:
        return [row for rows in self.sites.values() for row in rows.values()]

    def devices(self) -> list[str]:
        return list(dict.fromkeys(run.device for run in self.runs))

    def states(self) -> list[str]:
        asked = {run.state for run in self.runs}
        return [s for s in STATES if s in asked] + sorted(asked - set(STATES))

    def columns(self) -> list[tuple[str, str]]:
        """(device, state) in display order."""
        return [(d, s) for d in self.devices() for s in self.states()]

    def verdict_counts(self) -> Counter[str]:
        """Row verdicts over every row and device."""
        return Counter(row.verdict(d).code for row in self.rows() for d in self.devices())
