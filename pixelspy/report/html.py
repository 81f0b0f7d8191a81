"""The HTML report: one self-contained file to open, print and forward (`check --format html`;
`audit --format html` is html_audit.py, built of the parts here). Inline CSS and SVG only: no script,
font, image or stylesheet to fetch, so it reads the same offline, in a mail attachment and on paper.

Everything in it from the wire or a file (event names, URLs, messages, paths) is hostile: it goes
through esc() (inert, then HTML-escaped with quotes), only http(s) URLs become links, and the page's
Content-Security-Policy forbids scripts and every load, so a slip here still runs nothing and fetches
nothing. Sizes are bounded: marks a timeline, findings a report, rows a table, characters a string.
"""

from __future__ import annotations

import html
import math
from datetime import datetime, timezone

from pixelspy.inert import inert
from pixelspy.model import TrackingEvent
from pixelspy.report import (MAX_IDS, RANK, FileReport, TimePoint, check_verdict, describe_group, exit_code,
                             group_of, id_list, pages_by_group, plural, severity_counts)

MAX_MARKS = 2_000  # a timeline's marks (those with findings first)
MAX_LANES = 12  # a timeline's rows (vendor and pixel); the rest share the last one
MAX_FINDINGS = 200  # groups of findings listed per file or run
MAX_GROUPS = 300  # rows of a file's event table
MAX_PAGES = 5  # pages listed per event group or matrix cell event
MAX_PROBLEMS = 50
MAX_FILES = 1_000  # rows of the overview of `check`
MAX_TEXT = 300  # characters of a name or URL shown
MAX_MESSAGE = 2_000  # characters of a finding's message or hint
MAX_HREF = 4_000

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d2327;
 margin:0 auto;max-width:1200px;padding:16px 24px;-webkit-print-color-adjust:exact;print-color-adjust:exact}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ccd}
h3{font-size:15px;margin:18px 0 6px}small,.muted{color:#5f6b73}code{font-size:12px;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border:1px solid #d5dbe0;padding:4px 6px;overflow-wrap:anywhere;
 vertical-align:top;text-align:left}thead th{background:#f1f4f6;overflow-wrap:normal}td ul,td ol{margin:2px 0;padding-left:18px}
a{color:#0b57d0;overflow-wrap:anywhere}.matrix{table-layout:fixed}.matrix th:first-child{width:15%}.verdict{font-size:18px;font-weight:600;padding:10px 14px;border-radius:6px}
.badge{display:inline-block;font-size:12px;font-weight:600;padding:0 6px;border-radius:8px;white-space:nowrap}
.error{background:#fdecea;color:#a01212}.warning{background:#fff3dc;color:#7a4a00}.info{background:#e5f0fd;color:#0d47a1}
.ok{background:#e6f4e8;color:#1b5e20}.unknown{background:#f1e6f7;color:#5b1a7a}.note{background:#eceff1;color:#37474f}
.evidence{font-size:12px;margin:4px 0;color:#5a1010}.findings li{margin:6px 0}.findings p{margin:2px 0}
summary{cursor:pointer;font-size:12px;color:#5f6b73}.findings ul{margin:2px 0}
svg text{font:11px system-ui,sans-serif;fill:#333}section,table,svg,li{break-inside:avoid}
@media print{body{max-width:none;padding:0}a{color:inherit}}
"""
HEAD = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        '<meta name="referrer" content="no-referrer"><meta name="viewport" content="width=device-width, initial-scale=1">\n')
SEVERITY_STYLE = {"error": "#c62828", "warning": "#e08a00", "info": "#1565c0", None: "#78909c"}  # timeline marks


def esc(text: object, limit: int = MAX_TEXT) -> str:
    """Hostile text for HTML: cut, hidden characters made visible, then escaped (quotes too)."""
    text = str(text)
    if len(text) > limit:
        text = text[:limit] + "…"
    return html.escape(inert(text), quote=True)


def link(url: str | None) -> str:
    """A link when `url` is http(s); any other scheme (javascript:, data:) stays text."""
    if not url:
        return ""
    if url[:8].lower().startswith(("http://", "https://")):
        return f'<a href="{esc(url, MAX_HREF)}" rel="noreferrer noopener">{esc(url)}</a>'
    return esc(url)


def badge(style: str, label: str) -> str:
    return f'<span class="badge {style}">{esc(label)}</span>'


def page(title: str, body: list[str]) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"{HEAD}<title>{esc(title)}</title>\n<style>{CSS}</style></head>\n<body>\n" + "\n".join(body)
            + f'\n<p class="muted">Made by pixelspy on {now}.</p>\n</body></html>\n')


def _verdict_box(code: int, fail_on: str, counts: dict[str, int], verdict: str) -> str:
    style = "ok" if code == 0 else "error"
    return (f'<p class="verdict {style}">{esc(verdict)}: {plural(counts["error"], "error")}, '
            f'{plural(counts["warning"], "warning")}, {counts["info"]:,} info '
            f'<small>(fails on {esc(fail_on)} and above)</small></p>')


def _utc(t: float) -> str:
    try:
        return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{t}"


# ----------------------------------------------------------------------------------------- timeline


def _step(span: float) -> float:
    """A round tick interval giving at most 8 ticks over `span` seconds."""
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if span / step <= 8:
            return step
    return 10 ** math.ceil(math.log10(span / 8))


def _seconds(v: float) -> str:
    return f"{v:.1f} s" if v < 10 and v != int(v) else f"{v:,.0f} s"


class Timeline:
    """Events as marks on a time axis, a lane per vendor and pixel, coloured by their worst finding
    (those with findings drawn first when there are too many, and on top); the consent click as a
    dashed vertical line. Times are seconds from the run's start (or the first event)."""

    LEFT, WIDTH, TOP, LANE = 210, 730, 22, 20  # in the SVG's 960-wide coordinates

    def __init__(self, points: list[TimePoint], start: float | None = None, choice: float | None = None) -> None:
        points = [p for p in points if math.isfinite(p.time)]
        self.shown = sorted(points, key=lambda p: (-_rank(p), p.time))[:MAX_MARKS]
        self.left_out = len(points) - len(self.shown)
        self.lanes: dict[tuple[str, ...], int] = {}  # (vendor, source, pixel) → lane; the last lane takes the rest
        for p in sorted(self.shown, key=lambda p: p.time):
            self.lanes.setdefault(p.group[:3], min(len(self.lanes), MAX_LANES - 1))
        self.choice = choice if choice is not None and math.isfinite(choice) else None
        times = [p.time for p in self.shown] + [t for t in (start, self.choice) if t and math.isfinite(t)]
        self.t0 = min(times, default=0.0)
        self.span = max(max(times, default=0.0) - self.t0, 0.001) * 1.02  # the last mark off the edge
        self.axis_y = self.TOP + min(len(self.lanes), MAX_LANES) * self.LANE

    def x(self, t: float) -> float:
        return self.LEFT + (t - self.t0) / self.span * self.WIDTH

    def html(self, choice_label: str, left_out: int) -> str:
        if not self.shown:
            return '<p class="muted">No events to draw.</p>'
        svg = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 960 {self.axis_y + 26}" width="100%" '
               f'role="img" aria-label="timeline of {plural(len(self.shown), "event")}">',
               *self._lanes(), *self._axis(), *self._marks(), *self._choice(choice_label), "</svg>"]
        legend = " ".join(f'<span style="color:{colour}">■ {name or "no finding"}</span>'
                          for name, colour in SEVERITY_STYLE.items())
        note = f'<p class="muted">Marks: {legend}; hover a mark for its event.'
        if left_out := left_out + self.left_out:
            note += f" {plural(left_out, 'more event')} not drawn (the timeline shows at most {MAX_MARKS:,})."
        return "".join(svg) + note + "</p>"

    def _lanes(self) -> list[str]:
        labels: dict[int, str] = {}
        for (platform, _, pixel), i in self.lanes.items():
            labels.setdefault(i, f"{platform} {pixel}".strip() if i < MAX_LANES - 1 else "others")
        return [f'<rect x="{self.LEFT}" y="{self.TOP + i * self.LANE}" width="{self.WIDTH}" height="{self.LANE - 2}" '
                f'fill="{"#f6f8f9" if i % 2 else "#fff"}"/><text x="{self.LEFT - 6}" y="{self.TOP + i * self.LANE + 13}" '
                f'text-anchor="end">{esc(label, 30)}</text>' for i, label in labels.items()]

    def _axis(self) -> list[str]:
        step, y = _step(self.span), self.axis_y
        ticks = [f'<line x1="{self.x(self.t0 + k * step):.1f}" y1="{y}" x2="{self.x(self.t0 + k * step):.1f}" '
                 f'y2="{y + 4}" stroke="#555"/><text x="{self.x(self.t0 + k * step):.1f}" y="{y + 16}" '
                 f'text-anchor="middle">{_seconds(k * step)}</text>' for k in range(int(self.span // step) + 1)]
        return [*ticks, f'<line x1="{self.LEFT}" y1="{y}" x2="{self.LEFT + self.WIDTH}" y2="{y}" stroke="#555"/>']

    def _marks(self) -> list[str]:
        out = []
        for p in sorted(self.shown, key=_rank):
            y = self.TOP + self.lanes[p.group[:3]] * self.LANE
            tip = f"{describe_group(p.group)} at +{p.time - self.t0:.2f} s" + (f": {p.severity.value}" if p.severity else "")
            h = 14 if p.severity else 10
            out.append(f'<rect x="{self.x(p.time) - 1.5:.1f}" y="{y + (self.LANE - 2 - h) / 2:.0f}" width="3" '
                       f'height="{h}" fill="{SEVERITY_STYLE[p.severity and p.severity.value]}">'
                       f"<title>{esc(tip)}</title></rect>")
        return out

    def _choice(self, label: str) -> list[str]:
        if self.choice is None:
            return []
        cx = self.x(self.choice)
        anchor, dx = ("end", -4) if cx > self.LEFT + self.WIDTH * 0.7 else ("start", 4)
        return [f'<line x1="{cx:.1f}" y1="{self.TOP - 4}" x2="{cx:.1f}" y2="{self.axis_y}" stroke="#5b1a7a" '
                f'stroke-width="2" stroke-dasharray="5 3"/><text x="{cx + dx:.1f}" y="{self.TOP - 8}" '
                f'text-anchor="{anchor}" fill="#5b1a7a">{esc(label, 80)}</text>']


def _rank(p: TimePoint) -> int:
    """Marks with findings first, the worst first: -1 for none."""
    return RANK[p.severity] if p.severity else -1


# ------------------------------------------------------------------------------------ file sections


def findings_list(report: FileReport) -> str:
    """The findings, most severe first; findings alike on several events once, with "×N", the events
    folded in a <details>; a hint once per code."""
    groups = report.finding_groups()
    if not groups:
        return '<p class="muted">No findings.</p>'
    items, hinted = [], set()
    for g in groups[:MAX_FINDINGS]:
        f = g.finding
        pending = " (pending)" if f.pending else ""
        hint = ""
        if f.hint and (f.code, f.hint) not in hinted:
            hinted.add((f.code, f.hint))
            hint = f'<p class="muted">Hint: {esc(f.hint, MAX_MESSAGE)}</p>'
        related = g.related()
        related_ids = (f'<p class="muted">Related: {esc(", ".join(related[:MAX_IDS]))}'
                       f'{f" and {len(related) - MAX_IDS:,} more" if len(related) > MAX_IDS else ""}</p>') if related else ""
        head = f"{badge(f.severity.value, f.severity.value)} <code>{esc(f.code)}</code>{pending}"
        if len(g.events) == 1:
            items.append(f"<li>{head} {_event_name(g.events[0])}<p>{esc(f.message, MAX_MESSAGE)}</p>{hint}{related_ids}</li>")
            continue
        names = "; ".join(esc(n) for n in g.names())
        events = "".join(f"<li>{_event_name(ev)}</li>" for ev in g.events[:MAX_IDS])
        if len(g.events) > MAX_IDS:
            events += f"<li><small>and {len(g.events) - MAX_IDS:,} more</small></li>"
        items.append(f"<li>{head} <b>×{len(g.events):,}</b> <small>{names}</small><p>{esc(f.message, MAX_MESSAGE)}</p>"
                     f"<details><summary>{plural(len(g.events), 'event')}: {esc(id_list(g.events))}</summary>"
                     f"<ul>{events}</ul></details>{hint}{related_ids}</li>")
    more = sum(len(g.events) for g in groups[MAX_FINDINGS:])
    note = (f'<p class="muted">{plural(more, "more finding")} left out here: the JSON report (--format json) '
            "lists every one.</p>") if more > 0 else ""
    return f'<ol class="findings">{"".join(items)}</ol>{note}'


def _event_name(ev: TrackingEvent) -> str:
    on = f" on {link(ev.page_url)}" if ev.page_url else ""
    return f"<small>[{esc(ev.id)}]</small> {esc(describe_group(group_of(ev)))}{on}"


def _pages(rows: list[tuple[str | None, int]], limit: int = MAX_PAGES) -> str:
    items = "".join(f"<li>{link(p) if p else '<i>no page</i>'} <small>×{n:,}</small></li>" for p, n in rows[:limit])
    more = f"<li><small>{plural(len(rows) - limit, 'more page')}</small></li>" if len(rows) > limit else ""
    return f"<ul>{items}{more}</ul>"


def events_table(report: FileReport) -> str:
    tally = report.tally
    groups = sorted(tally.counts.items())
    pages = pages_by_group(tally)
    rows = "".join(f"<tr><td>{esc(describe_group(g))}</td><td>{n:,}</td><td>{_pages(pages.get(g, []))}</td></tr>"
                   for g, n in groups[:MAX_GROUPS])
    notes = []
    if len(groups) > MAX_GROUPS:
        notes.append(f"{plural(len(groups) - MAX_GROUPS, 'more event group')} left out (see --format json).")
    if tally.other_pages:
        notes.append(f"{plural(tally.other_pages, 'event')} on pages past the {len(tally.page_counts):,} counted.")
    note = f'<p class="muted">{" ".join(notes)}</p>' if notes else ""
    return ("<table><thead><tr><th>Vendor · pixel · event</th><th>Count</th><th>Pages (in the order it first fired there)"
            f"</th></tr></thead><tbody>{rows}</tbody></table>{note}")


def file_section(r: FileReport, anchor: str) -> str:
    out = [f'<section id="{anchor}"><h2>{esc(r.path)}</h2>']
    if r.error is not None:
        return out[0] + f'<p class="error">Cannot read: {esc(r.error, MAX_MESSAGE)}</p></section>'
    c = severity_counts(r.findings())
    out.append(f"<p>{plural(r.tally.total, 'event')}, {plural(c['error'], 'error')}, "
               f"{plural(c['warning'], 'warning')}, {c['info']:,} info</p>")
    if r.problems:
        items = "".join(f"<li>{esc(p)}</li>" for p in r.problems[:MAX_PROBLEMS])
        out.append(f'<p class="error">Entries that could not be read ({len(r.problems):,}):</p><ul>{items}</ul>')
    if r.empty:
        out.append(f"<p>No tracking events: nothing was checked{' (fails; --allow-empty accepts it)' if r.empty_fails else ''}.</p>")
    if r.tally.total:
        out += ["<h3>Events</h3>", events_table(r), "<h3>Timeline</h3>",
                Timeline(r.tally.points()).html("", r.tally.points_left_out)]
    out += ["<h3>Findings</h3>", findings_list(r), "</section>"]
    return "\n".join(out)


def overview(reports: list[FileReport], fail_on: str) -> str:
    """A row per file linking to its section: the unreadable and failing first, then those with the
    most errors and warnings (so that with many files the ones to fix are on top)."""
    counts = [severity_counts(r.findings()) for r in reports]
    order = sorted(range(len(reports)), key=lambda i: (-exit_code([reports[i]], fail_on), -counts[i]["error"],
                                                       -counts[i]["warning"], i))
    rows = []
    for i in order[:MAX_FILES]:
        r, c = reports[i], counts[i]
        verdict = check_verdict([r], fail_on)
        cells = "".join(f"<td>{n:,}</td>" for n in (r.tally.total, c["error"], c["warning"], c["info"]))
        rows.append(f'<tr><td><a href="#{_anchor(i)}">{esc(r.path)}</a></td>{cells}'
                    f'<td>{badge("ok" if verdict == "OK" else "error", verdict)}</td></tr>')
    more = (f'<p class="muted">{plural(len(reports) - MAX_FILES, "more file")} below.</p>'
            if len(reports) > MAX_FILES else "")
    return ("<table><thead><tr><th>File</th><th>Events</th><th>Errors</th><th>Warnings</th><th>Info</th>"
            f"<th>Verdict</th></tr></thead><tbody>{''.join(rows)}</tbody></table>{more}")


def _anchor(i: int) -> str:
    """A file section's id: its index, never wire text."""
    return f"file-{i + 1}"


def render_html(reports: list[FileReport], fail_on: str) -> str:
    counts = severity_counts(p for r in reports for p in r.findings())
    body = ["<h1>pixelspy check</h1>",
            _verdict_box(exit_code(reports, fail_on), fail_on, counts, check_verdict(reports, fail_on)),
            f"<p>{plural(len(reports), 'file')} checked.</p>", overview(reports, fail_on),
            *(file_section(r, _anchor(i)) for i, r in enumerate(reports))]
    return page("pixelspy check", body)
