"""How a row of the event list looks: the vendors' and severities' colours, cells cut to their width,
an event's title and its findings badges."""

from __future__ import annotations

import time

from rich.cells import cell_len, set_cell_size
from rich.style import Style

from pixelspy.inert import inert
from pixelspy.model import Severity, TrackingEvent

PLATFORM_COLORS = {
    "meta": "#4f8cff", "tiktok": "#ff3b8d", "pinterest": "#e60023", "linkedin": "#2d9cdb",
    # Mid tones, readable on the dark and the light themes.
    "x": "#8c8c8c", "google": "#34a853", "snapchat": "#c9a400", "reddit": "#ff5700",
}
SEVERITY_COLORS = {Severity.error: "#e5484d", Severity.warning: "#d99a00", Severity.info: "#6fa8dc"}


def clock(t: float, ms: bool = True) -> str:
    """The local time of day of `t` (HH:MM:SS, and .mmm); "?" for a time no clock shows (a hostile
    file's: NaN, 1e308)."""
    try:
        return time.strftime("%H:%M:%S", time.localtime(t)) + (f".{int(t * 1000) % 1000:03d}" if ms else "")
    except (OverflowError, OSError, ValueError):
        return "?"


def fit(text: str, width: int) -> str:
    """`text` cropped (with an ellipsis) or padded to `width` terminal cells: wide characters (CJK,
    emoji) take two, combining marks none."""
    if width <= 0:
        return ""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


def severity_counts(ev: TrackingEvent) -> dict[Severity, int]:
    counts = {s: 0 for s in Severity}
    for f in ev.findings:
        counts[f.severity] += 1
    return counts


def event_title(ev: TrackingEvent, width: int) -> str:
    """The event's title (made inert) in `width` cells: when it is too long, the vendor's name is
    cut, not the standard name after its arrow."""
    twins = f" ×{1 + len(ev.twins)}" if ev.twins else ""
    title = inert(ev.title)
    if cell_len(title) + len(twins) <= width or not (ev.standard_event and " → " in title):
        return title + twins
    name, arrow, standard = title.rpartition(" → ")
    keep = width - cell_len(arrow + standard + twins)
    return (fit(name, keep) + arrow if keep >= 2 else "") + standard + twins


FINDING_SLOT = 4  # cells for the errors badge: the warnings badges after it line up down the column


def findings_cell(ev: TrackingEvent) -> tuple[str, Style]:
    """`✖ 2 ⚠ 1`: errors in the first slot, warnings in the second, so the counts align."""
    counts = severity_counts(ev)
    errors, warnings = counts[Severity.error], counts[Severity.warning]
    if errors or warnings:
        badges = (f"✖ {errors}" if errors else "").ljust(FINDING_SLOT) + (f"⚠ {warnings}" if warnings else "")
        return badges.rstrip(), Style(color=SEVERITY_COLORS[Severity.error if errors else Severity.warning],
                                      bold=bool(errors))
    if ev.decode_errors:
        return "? decode", Style(color=SEVERITY_COLORS[Severity.warning])
    if counts[Severity.info]:
        return f"ℹ {counts[Severity.info]}", Style(color=SEVERITY_COLORS[Severity.info])
    return "✓", Style(color="#6aa84f")
