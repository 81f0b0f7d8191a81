"""The text report: for people at a terminal or in a CI log. Each line goes through inert(): paths,
URLs, event names and messages hold wire text, and a newline in one must not forge a report line."""

from __future__ import annotations

from collections.abc import Iterable

from pixelspy.inert import inert
from pixelspy.model import TrackingEvent
from pixelspy.report import (AUDIT_EMPTY, AUDIT_VERDICT, AuditRun, FileReport, FindingGroup, audit_exit_code,
                             check_verdict, describe, describe_group, group_findings, id_list, pages_by_group, plural,
                             severity_counts)
from pixelspy.report.matrix import Matrix, Row

# A CI log stays readable: so many groups a file, pages a group, event names a cell are listed.
MAX_GROUPS = 40
MAX_PAGES = 5
MAX_NAMES = 5


# --verbose: so many events a file are listed with their parameters (the rest counted), a value cut here.
MAX_LISTED = 10_000
MAX_VALUE_CHARS = 200


class EventListing:
    """`check --verbose`: each event as it streams past (a Session subscriber) with its parameters
    under it, as text lines: the check's session does not keep the events themselves."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.listed = 0
        self.left_out = 0

    def __call__(self, ev: TrackingEvent, is_update: bool) -> None:
        if is_update:  # a later finding: the findings are listed at the end
            return
        if self.listed == MAX_LISTED:
            self.left_out += 1
            return
        self.listed += 1
        self.lines += event_detail(ev)

    def all_lines(self) -> list[str]:
        more = f"  … and {plural(self.left_out, 'more event')} (pixelspy open FILE --no-ui prints them all)"
        return self.lines + ([more] if self.left_out else [])


def event_detail(ev: TrackingEvent) -> list[str]:
    """An event's line, then one line a parameter: wire name, value, label; its decode errors."""
    width = max((len(p.name) for p in ev.params), default=0)
    out = [f"  [{ev.id}] {describe(ev)}"]
    for p in ev.params:
        value = p.value if len(p.value) <= MAX_VALUE_CHARS else p.value[:MAX_VALUE_CHARS] + "…"
        out.append(f"      {p.name:<{width}}  {value}" + (f"  ({p.label})" if p.label not in ("", p.name) else ""))
    out += [f"      decode error: {e}" for e in ev.decode_errors]
    return out


def render_text(reports: list[FileReport], fail_on: str, listings: list[EventListing] | None = None) -> str:
    """The reports; with `listings` (one a report, --verbose) each event and its parameters too."""
    out: list[str] = []
    for i, r in enumerate(reports):
        out += file_lines(r, r.path, listing=listings[i].all_lines() if listings else ())
    total = severity_counts(p for r in reports for p in r.findings())
    out.append(f"{plural(len(reports), 'file')}: {plural(total['error'], 'error')}, "
               f"{plural(total['warning'], 'warning')} — {check_verdict(reports, fail_on)} (--fail-on {fail_on})")
    return "\n".join(inert(line) for line in out) + "\n"


def file_lines(r: FileReport, label: str, events: bool = True, empty: str = "nothing was checked",
               problem: str = "unreadable", listing: Iterable[str] = ()) -> list[str]:
    """A file's (or an audit run's) block: its counts, unreadable entries, events per page, the
    listing of each event (--verbose), findings."""
    if r.error is not None:
        return [f"{label}: cannot read: {r.error}"]
    findings = r.findings()
    c = severity_counts(findings)
    out = [f"{label}: {plural(r.tally.total, 'event')}, {plural(c['error'], 'error')}, "
           f"{plural(c['warning'], 'warning')}, {c['info']} info"]
    out += [f"  {problem}  {p}" for p in r.problems]
    if r.empty:
        fails = " (fails; --allow-empty accepts it)" if r.empty_fails else ""
        out.append(f"  no tracking events: {empty}{fails}")
    if events:
        out += _event_lines(r)
    out += listing
    out += _finding_lines(group_findings(findings))
    return out


def _finding_lines(groups: list[FindingGroup]) -> list[str]:
    """The findings, most severe first; findings alike on several events once, with "×N", the events'
    vendor, pixel and names, their pages and ids; a hint once per code."""
    out = []
    hinted: set[tuple[str, str]] = set()
    for g in groups:
        f = g.finding
        head = f"  {f.severity.value:<8} {f.code}{' (pending)' if f.pending else ''}"
        if len(g.events) == 1:
            out += [f"{head}  [{g.events[0].id}] {describe(g.events[0])}", f"           {f.message}"]
        else:
            out += [f"{head} ×{len(g.events)}  {f.message}", f"           events: {'; '.join(g.names())}{_pages(g)}",
                    f"           event ids: {id_list(g.events)}"]
        if f.hint and (f.code, f.hint) not in hinted:
            hinted.add((f.code, f.hint))
            out.append(f"           hint: {f.hint}")
        if related := g.related():  # the other copy of a duplicate, the hits that showed a visit: ids to look up
            more = " …" if len(related) > MAX_NAMES else ""
            out.append(f"           related: {', '.join(related[:MAX_NAMES])}{more}")
    return out


def _pages(g: FindingGroup) -> str:
    pages = [p for p in g.pages() if p]
    return f" — on {pages[0]}" if len(pages) == 1 else f" — on {plural(len(pages), 'page')}" if pages else ""


def _event_lines(r: FileReport) -> list[str]:
    """Each vendor, pixel and event with its count, and under it the pages it fired on (as the JSON's
    page_counts rows: the page without query and fragment)."""
    tally = r.tally
    pages = pages_by_group(tally)
    groups = sorted(tally.counts.items())
    out = []
    for group, n in groups[:MAX_GROUPS]:
        rows = pages.get(group, [])
        if len(rows) == 1:  # one page (or none known): on the group's line
            out.append(f"  {n:>7,}  {describe_group(group)}" + (f"  on {rows[0][0]}" if rows[0][0] else ""))
            continue
        out.append(f"  {n:>7,}  {describe_group(group)}")
        out += [f"  {k:>7,}    {page or '(no page)'}" for page, k in rows[:MAX_PAGES]]
        if len(rows) > MAX_PAGES:
            rest = rows[MAX_PAGES:]
            out.append(f"  {sum(k for _, k in rest):>7,}    on {plural(len(rest), 'more page')}")
    if len(groups) > MAX_GROUPS:
        rest_groups = groups[MAX_GROUPS:]
        out.append(f"  {sum(n for _, n in rest_groups):>7,}  in {plural(len(rest_groups), 'more group')} "
                   "(the JSON report lists them all)")
    if tally.other_pages:
        out.append(f"  {tally.other_pages:>7,}  on pages past the {len(tally.page_counts):,} page rows counted")
    return out


# --------------------------------------------------------------------------------------------- audit


def render_audit_text(runs: list[AuditRun], fail_on: str) -> str:
    matrix = Matrix.of(runs)
    code = audit_exit_code(runs, fail_on)
    total = severity_counts(p for run in runs for p in run.report.findings())
    out = [f"pixelspy audit: {plural(len(runs), 'run')}, {plural(total['error'], 'error')}, "
           f"{plural(total['warning'], 'warning')} — {AUDIT_VERDICT[code]} (--fail-on {fail_on})", "runs:"]
    width = max((len(run.name) for run in runs), default=0)
    for run in runs:
        out.append(f"  {run.name:<{width}}  CMP: {run.cmp or 'none found'}; {run.action or 'no action'}; "
                   f"consent afterwards: {run.consent}; {plural(len(run.pages), 'page')}")
        if run.har_path:
            out.append(f"  {'':<{width}}  HAR: {run.har_path} (open with `pixelspy open {run.har_path}`)")
    for site, rows in matrix.sites.items():
        out.append(f"site {site or '(no page)'}:")
        out += _table(matrix, list(rows.values()))
    if matrix.events_left_out:
        out.append(f"{plural(matrix.events_left_out, 'event')} left out of the matrix (too many rows or pages)")
    for run in runs:
        out += file_lines(run.report, run.name, events=False, empty=AUDIT_EMPTY, problem="not loaded")
    return "\n".join(inert(line.rstrip()) for line in out) + "\n"


def _table(matrix: Matrix, rows: list[Row]) -> list[str]:
    """The rows as a table, one column per device and state; under each row its verdict per device
    and the events of each cell."""
    columns = matrix.columns()
    heads = [f"{d} {s}" if len(matrix.devices()) > 1 else s for d, s in columns]
    name_width = max(len("vendor  pixel"), *(len(row.name) for row in rows))
    widths = [max(len(h), 8) for h in heads]
    out = ["  " + "  ".join([f"{'vendor  pixel':<{name_width}}", *(f"{h:<{w}}" for h, w in zip(heads, widths))])]
    for row in rows:
        cells = [row.cells[col].short() for col in columns]
        out.append("  " + "  ".join([f"{row.name:<{name_width}}", *(f"{c:<{w}}" for c, w in zip(cells, widths))]))
        for device in matrix.devices():
            v = row.verdict(device)
            out.append(f"      {device}: {v.code}: {v.text}")
        for (device, state) in columns:
            if (cell := row.cells[device, state]).events:
                names = [f"{e.title} ×{e.count}" + (f" (first {e.first_page})" if e.first_page else "")
                         for e in list(cell.events.values())[:MAX_NAMES]]
                more = f", {len(cell.events) - MAX_NAMES} more" if len(cell.events) > MAX_NAMES else ""
                out.append(f"      {state}/{device}: {', '.join(names)}{more}")
    return out
