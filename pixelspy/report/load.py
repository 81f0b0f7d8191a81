"""Reading `pixelspy audit --format json` reports back into AuditRuns, for `pixelspy audit merge`
(one report over the shards of a CI matrix).

A report file is hostile input like any other: its size is bounded before it is parsed, every field
is checked for its type (and times for being finite numbers), every list is bounded, and whatever is
wrong is one LoadError naming the file and the field, never a traceback. Texts are kept as they are:
the renderers make them inert (text) or escape them (HTML), as they do for wire text.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from pixelspy.model import Finding, Kind, Severity, Source, TrackingEvent
from pixelspy.report import AuditRun, EventTally, FileReport, GroupKey, Span

MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_RUNS = 1_000  # a file's runs (consent states × devices)
MAX_ITEMS = 200_000  # a run's rows of one list (event counts, page counts, spans, findings, timeline, pages)
MAX_TEXT = 100_000  # characters of one text field


class LoadError(Exception):
    """The file is not a readable audit report: one line saying where and why."""


class Fields:
    """A JSON object's fields, each read as the type it must have; `where` names it in errors."""

    def __init__(self, obj, where: str):
        if not isinstance(obj, dict):
            raise LoadError(f"{where}: expected an object")
        self.obj, self.where = obj, where

    def _get(self, key: str, optional: bool):
        if key not in self.obj or (optional and self.obj[key] is None):
            if optional:
                return None
            raise LoadError(f"{self.where}.{key}: missing")
        return self.obj[key]

    def text(self, key: str, optional: bool = False) -> str | None:
        value = self._get(key, optional)
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise LoadError(f"{self.where}.{key}: expected a text of up to {MAX_TEXT:,} characters")
        return value

    def number(self, key: str, optional: bool = False) -> float | None:
        return _number(self._get(key, optional), f"{self.where}.{key}")

    def count(self, key: str) -> int:
        value = self._get(key, False)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**53:
            raise LoadError(f"{self.where}.{key}: expected a count")
        return value

    def flag(self, key: str) -> bool:
        value = self._get(key, False)
        if not isinstance(value, bool):
            raise LoadError(f"{self.where}.{key}: expected true or false")
        return value

    def items(self, key: str) -> list:
        value = self._get(key, False)
        if not isinstance(value, list) or len(value) > MAX_ITEMS:
            raise LoadError(f"{self.where}.{key}: expected a list of up to {MAX_ITEMS:,} items")
        return value

    def objects(self, key: str) -> list[Fields]:
        return [Fields(item, f"{self.where}.{key}[{i}]") for i, item in enumerate(self.items(key))]

    def texts(self, key: str) -> list[str]:
        items = self.items(key)
        if not all(isinstance(t, str) and len(t) <= MAX_TEXT for t in items):
            raise LoadError(f"{self.where}.{key}: expected a list of texts")
        return items

    def choice(self, key: str, enum):
        try:
            return enum(self.text(key))
        except ValueError:
            raise LoadError(f"{self.where}.{key}: not one of {', '.join(e.value for e in enum)}") from None


def _number(value, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LoadError(f"{where}: expected a finite number")
    return float(value)


def load_audit(path: str | Path) -> list[AuditRun]:
    """The runs of one audit JSON report; LoadError when the file cannot be read as one."""
    name = str(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise LoadError(f"{name}: cannot read: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise LoadError(f"{name}: larger than {MAX_FILE_BYTES // 2**20} MB: not an audit report")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise LoadError(f"{name}: not JSON: {str(e).splitlines()[0][:200] if str(e) else type(e).__name__}") from None
    return audit_runs(doc, name)


def audit_runs(doc, name: str) -> list[AuditRun]:
    if isinstance(doc, dict) and "files" in doc and "runs" not in doc:
        raise LoadError(f"{name}: a `pixelspy check` report, not an audit's")
    top = Fields(doc, name)
    runs = top.items("runs")
    if len(runs) > MAX_RUNS:
        raise LoadError(f"{name}.runs: more than {MAX_RUNS:,} runs")
    return [_run(Fields(run, f"{name}.runs[{i}]")) for i, run in enumerate(runs)]


def _run(f: Fields) -> AuditRun:
    report = FileReport(f.text("path"), problems=f.texts("problems"), error=f.text("error", True), format=f.text("format"),
                        tally=_tally(f))
    return AuditRun(state=f.text("state"), device=f.text("device"), report=report, har_path=f.text("har_path", True),
                    cmp=f.text("cmp", True), action=f.text("action"), consent=f.text("consent"),
                    choice_time=f.number("choice_time", True), started=f.number("started"), pages=f.texts("pages"))


def _group(f: Fields) -> GroupKey:
    return f.text("platform"), f.text("source"), f.text("pixel_id", True) or "", f.text("title")


def _tally(f: Fields) -> EventTally:
    tally = EventTally()
    tally.total = f.count("events")
    for row in f.objects("event_counts"):
        tally.counts[_group(row)] += row.count("count")
    for row in f.objects("page_counts"):
        if row.flag("other"):
            tally.other_pages += row.count("count")
        else:
            tally.count_page((_group(row), row.text("page", True)), row.count("count"))
    groups = []
    for row in f.objects("spans"):
        group = _group(row)
        groups.append(group)
        tally.spans[group] = Span(row.choice("kind", Kind), row.number("first"), row.number("last"))
    for i, point in enumerate(f.items("timeline")):
        where = f"{f.where}.timeline[{i}]"
        if not (isinstance(point, list) and len(point) == 3 and isinstance(point[1], int)
                and 0 <= point[1] < len(groups) and isinstance(point[2], str)):
            raise LoadError(f"{where}: expected [time, span index, event id]")
        tally.add_point(_number(point[0], where), groups[point[1]], point[2])
    tally.points_left_out += f.count("timeline_left_out")
    for ev in _flagged(f):
        tally(ev, True)  # is_update: kept as an event with findings, not counted again
    return tally


def _flagged(f: Fields) -> list[TrackingEvent]:
    """The events with findings, each once, its findings in the report's order."""
    events: dict[str, tuple[TrackingEvent, list[Finding]]] = {}
    for row in f.objects("findings"):
        e = Fields(row.obj.get("event"), f"{row.where}.event")
        eid = e.text("id")
        if (kept := events.get(eid)) is None:
            kept = events[eid] = _event(e), []
        kept[1].append(Finding(row.text("code"), row.choice("severity", Severity), row.text("message"),
                               hint=row.text("hint", True) or "", related=row.texts("related"),
                               pending=row.flag("pending")))
    for ev, findings in events.values():
        ev.findings = tuple(findings)
    return [ev for ev, _ in events.values()]


def _event(e: Fields) -> TrackingEvent:
    try:
        return TrackingEvent(id=e.text("id"), platform=e.text("platform"), source=e.choice("source", Source),
                             kind=e.choice("kind", Kind), pixel_id=e.text("pixel_id", True), event=e.text("event", True),
                             label=e.text("label", True), standard_event=e.text("standard_event", True),
                             page_url=e.text("page_url", True), time=e.number("time"))
    except ValueError as exc:  # pydantic's ValidationError
        raise LoadError(f"{e.where}: not an event: {str(exc).splitlines()[0][:200]}") from None
