"""The JSON report: for scripts and CI jobs. json_dumps writes hidden characters as \\u escapes, so the
document is safe to print as well."""

from __future__ import annotations

from pixelspy.inert import json_dumps
from pixelspy.model import TrackingEvent
from pixelspy.report import AuditRun, EventTally, FileReport, at_threshold, audit_exit_code, exit_code, severity_counts
from pixelspy.report.matrix import Cell, Matrix, Row

MAX_EVIDENCE = 5  # pre-consent findings quoted per matrix cell (every finding is in its run's list)


def _event_summary(ev: TrackingEvent) -> dict:
    return {"id": ev.id, "platform": ev.platform, "source": ev.source.value, "kind": ev.kind.value,
            "pixel_id": ev.pixel_id, "event": ev.event, "label": ev.label, "standard_event": ev.standard_event,
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


def file_doc(r: FileReport, fail_on: str) -> dict:
    return {
        "path": r.path, "format": r.format, "error": r.error, "problems": r.problems,
        "events": r.tally.total, "empty_fails": r.empty and r.empty_fails, "counts": severity_counts(r.findings()),
        "event_counts": [{"platform": platform, "source": source, "pixel_id": pixel or None, "title": title,
                          "count": n} for (platform, source, pixel, title), n in sorted(r.tally.counts.items())],
        "page_counts": _page_rows(r.tally),
        "findings": [{"code": f.code, "severity": f.severity.value, "message": f.message, "hint": f.hint,
                      "pending": f.pending, "related": f.related, "fails": at_threshold(f, fail_on),
                      "event": _event_summary(ev)} for ev, f in r.findings()],
    }


def render_json(reports: list[FileReport], fail_on: str) -> str:
    return json_dumps({"fail_on": fail_on, "exit_code": exit_code(reports, fail_on),
                       "files": [file_doc(r, fail_on) for r in reports]}, indent=2) + "\n"


# --------------------------------------------------------------------------------------------- audit


def _run_doc(run: AuditRun, fail_on: str) -> dict:
    return {"state": run.state, "device": run.device, "cmp": run.cmp, "action": run.action, "consent": run.consent,
            "choice_time": run.choice_time, "started": run.started, "pages": run.pages, "har_path": run.har_path,
            **file_doc(run.report, fail_on), **_times(run.report.tally)}


def _times(tally: EventTally) -> dict:
    """What `pixelspy audit merge` needs besides the counts to draw the matrix and timelines again
    (pixelspy.report.load): each group's kind and time span, and the timeline's points as
    [time, index into spans, event id]."""
    index = {group: i for i, group in enumerate(tally.spans)}
    return {"spans": [{"platform": platform, "source": source, "pixel_id": pixel or None, "title": title,
                       "kind": span.kind.value, "first": span.first, "last": span.last}
                      for (platform, source, pixel, title), span in tally.spans.items()],
            "timeline": [[t, index[group], eid] for t, group, eid in tally.raw_points()],
            "timeline_left_out": tally.points_left_out}


def _cell_doc(device: str, state: str, cell: Cell) -> dict:
    return {"device": device, "state": state, "verdict": cell.verdict, "fired": cell.fired,
            "after_choice": cell.after_choice,
            "events": [{"title": e.title, "count": e.count, "first_page": e.first_page} for e in cell.events.values()],
            "findings": severity_counts(cell.findings()),
            "evidence": [f.message for _, f in cell.pre_consent[:MAX_EVIDENCE]]}


def _row_doc(matrix: Matrix, row: Row) -> dict:
    return {"site": row.site, "platform": row.platform, "source": row.source, "pixel_id": row.pixel or None,
            "verdicts": {d: row.verdict(d)._asdict() for d in matrix.devices()},
            "cells": [_cell_doc(d, s, row.cells[d, s]) for d, s in matrix.columns()]}


def render_audit_json(runs: list[AuditRun], fail_on: str) -> str:
    matrix = Matrix.of(runs)
    return json_dumps({"fail_on": fail_on, "exit_code": audit_exit_code(runs, fail_on),
                       "runs": [_run_doc(run, fail_on) for run in runs],
                       "matrix": [_row_doc(matrix, row) for row in matrix.rows()],
                       "events_left_out_of_matrix": matrix.events_left_out}, indent=2) + "\n"
