"""The audit's HTML report (`audit --format html`): its runs, the consent matrix per site and device, a
timeline and the findings per run. Built of html.py's parts, under the same rules: everything from the wire
or a file goes through esc(), sizes are bounded."""

from __future__ import annotations

import shlex
from urllib.parse import quote

from pixelspy.report import AUDIT_VERDICT, AuditRun, audit_exit_code, plural, severity_counts
from pixelspy.report.html import (MAX_HREF, MAX_MESSAGE, MAX_PROBLEMS, Timeline, _utc, _verdict_box, badge, esc,
                                  findings_list, link, page)
from pixelspy.report.matrix import ROW_VERDICTS, Cell, Matrix, Row

MAX_RUN_PAGES = 20  # pages listed per audit run
MAX_NAMES = 8  # event names per matrix cell
MAX_SUMMARY = 20  # rows that fire before consent, named at the top
# Cell verdict → (style, label); a row's verdict brings its own style.
CELL = {"pre-consent": ("error", "pre-consent"), "unknown": ("unknown", "state unknown"), "fired": ("note", "fired"),
        "silent": ("ok", "silent")}


def _har(path: str | None) -> str:
    """The run's HAR as a relative link (quoted: no scheme can appear) and the command that opens it."""
    if not path:
        return '<span class="muted">no HAR</span>'
    href = quote(path.replace("\\", "/"), safe="/._-~")
    return f'<a href="{esc(href, MAX_HREF)}">{esc(path)}</a><br>open with <code>{esc(f"pixelspy open {shlex.quote(path)}")}</code>'


def runs_table(runs: list[AuditRun]) -> str:
    rows = []
    for run in runs:
        consent = badge("unknown", run.consent) if run.unknown else esc(run.consent)
        pages = run.pages
        page_list = "".join(f"<li>{link(p)}</li>" for p in pages[:MAX_RUN_PAGES])
        more = f"<li><small>{plural(len(pages) - MAX_RUN_PAGES, 'more page')}</small></li>" if len(pages) > MAX_RUN_PAGES else ""
        c = severity_counts(run.report.findings())
        error = f'<br><span class="error">{esc(run.report.error, MAX_MESSAGE)}</span>' if run.report.error else ""
        error += "".join(f'<br><span class="error">not loaded: {esc(p, MAX_MESSAGE)}</span>'
                         for p in run.report.problems[:MAX_PROBLEMS])
        rows.append(f"<tr><td><b>{esc(run.state)}</b><br>{esc(run.device)}<br><small>{_utc(run.started)}</small></td>"
                    f"<td>{esc(run.cmp) if run.cmp else '<i>none found</i>'}</td><td>{esc(run.action or 'no action')}</td>"
                    f"<td>{consent}</td><td>{plural(len(pages), 'page')}<ol>{page_list}{more}</ol></td>"
                    f"<td>{plural(run.report.tally.total, 'event')}, {plural(c['error'], 'error')}, "
                    f"{plural(c['warning'], 'warning')}{error}</td><td>{_har(run.har_path)}</td></tr>")
    return ("<table><thead><tr><th>State · device</th><th>CMP detected</th><th>What the audit did</th>"
            "<th>Consent afterwards</th><th>Pages</th><th>Events</th><th>Evidence (HAR)</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _cell(cell: Cell, state: str) -> str:
    style, label = CELL[cell.verdict]
    if cell.verdict == "fired" and state in ("reject", "accept") and not cell.after_choice:
        label = "fired before the click only"
    if cell.verdict == "silent" and state == "accept":
        style = "note"  # no harm done, but nothing measured either
    names = list(cell.events.values())
    items = "".join(f"<li>{esc(e.title)} <small>×{e.count:,}" + (f" · first on {link(e.first_page)}" if e.first_page
                                                                  else "") + "</small></li>" for e in names[:MAX_NAMES])
    if len(names) > MAX_NAMES:
        items += f"<li><small>{plural(len(names) - MAX_NAMES, 'more event name')}</small></li>"
    evidence = "".join(f'<p class="evidence">{esc(f.message, 600)}</p>' for _, f in cell.pre_consent[:1])
    c = severity_counts(cell.findings())
    others = [plural(n, s) for s, n in (("warning", c["warning"]), ("info", c["info"])) if n]
    extra = f"<br><small>also {', '.join(others)}</small>" if others else ""
    return f"<td>{badge(style, label)}<ul>{items}</ul>{evidence}{extra}</td>"


def matrix_table(matrix: Matrix, rows: list[Row], device: str) -> str:
    """One site on one device: a row per vendor and pixel, a column per consent state, then the verdict."""
    states = matrix.states()
    body = []
    for row in rows:
        v = row.verdict(device)
        cells = "".join(_cell(row.cells[device, s], s) for s in states)
        source = f" {esc(row.source)}" if row.source != "browser" else ""
        body.append(f"<tr><th>{esc(row.platform)}{source}<br><small>{esc(row.pixel or 'no pixel id')}</small></th>"
                    f"{cells}<td>{badge(v.style, v.code)}<br>{esc(v.text)}</td></tr>")
    heads = "".join(f"<th>{esc(s)}</th>" for s in states)
    return (f'<table class="matrix"><thead><tr><th>Vendor · pixel</th>{heads}<th>Verdict</th></tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


SUMMARY = {"pre-consent": "firing without consent (before a choice, after reject or before the accept click)",
           "unknown": "not judged (the consent state is unknown)",
           "correct": "correct (silent before a choice and after reject, firing after accept)",
           "unconditional": "firing without a consent finding", "silent": "never firing"}


def summary(matrix: Matrix) -> str:
    counts = matrix.verdict_counts()
    word = "vendor pixel" if len(matrix.devices()) == 1 else "vendor pixel × device"
    items = [f"<li>{badge(ROW_VERDICTS[code][0], code)} {SUMMARY[code]}: {plural(n, word)}</li>"
             for code, n in sorted(counts.items(), key=lambda kv: list(SUMMARY).index(kv[0]))]
    worst = [f"<li>{esc(row.name)} on {esc(row.site or 'no page')} ({esc(d)}): {esc(row.verdict(d).text)}</li>"
             for row in matrix.rows() for d in matrix.devices() if row.verdict(d).code == "pre-consent"]
    if len(worst) > MAX_SUMMARY:
        worst[MAX_SUMMARY:] = [f"<li>… and {len(worst) - MAX_SUMMARY:,} more (see the matrix)</li>"]
    unknown = [f"<li>{esc(run.name)}: {esc(run.action or 'no action')} (CMP: {esc(run.cmp or 'none found')})</li>"
               for run in matrix.runs if run.unknown]
    out = f"<ul>{''.join(items)}</ul>"
    if worst:
        out += f"<h3>Fires without consent</h3><ul>{''.join(worst)}</ul>"
    if unknown:
        out += f"<h3>Runs whose consent state is unknown</h3><ul>{''.join(unknown)}</ul>"
    return out


def render_audit_html(runs: list[AuditRun], fail_on: str) -> str:
    matrix = Matrix.of(runs)
    counts = severity_counts(p for run in runs for p in run.report.findings())
    sites = ", ".join(s for s in matrix.sites if s) or "no site"
    code = audit_exit_code(runs, fail_on)
    body = [f"<h1>pixelspy audit: {esc(sites)}</h1>", _verdict_box(code, fail_on, counts, AUDIT_VERDICT[code]),
            summary(matrix), "<h2>Runs</h2>", runs_table(runs)]
    for site, rows in matrix.sites.items():
        for device in matrix.devices():
            body += [f"<h2>Matrix: {esc(site or 'no page')} · {esc(device)}</h2>",
                     matrix_table(matrix, list(rows.values()), device)]
    if matrix.events_left_out:
        body.append(f'<p class="muted">{plural(matrix.events_left_out, "event")} left out of the matrix '
                    "(too many vendor · pixel rows or pages): see --format json.</p>")
    body.append("<h2>Timelines</h2>")
    for run in runs:
        tally = run.report.tally
        body += [f"<h3>{esc(run.name)}</h3>", Timeline(tally.points(), run.started or None, run.choice_time)
                 .html(f"consent: {run.action}", tally.points_left_out)]
    body.append("<h2>Findings</h2>")
    for run in runs:
        body += [f"<h3>{esc(run.name)}</h3>", findings_list(run.report)]
    return page(f"pixelspy audit: {sites}", body)
