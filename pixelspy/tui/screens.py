"""Modal screens: the summary view and the mark prompt."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from pixelspy.model import Kind
from pixelspy.session import Session


def summary_tables(session: Session, device_name: Callable[[str], str]) -> Group:
    per_event: Counter[tuple[str, str]] = Counter()
    per_pixel: Counter[tuple[str, str, str]] = Counter()
    per_code: Counter[tuple[str, str]] = Counter()
    for ev in session:
        name = ev.title if ev.kind == Kind.event else "pixel loaded"
        per_event[(ev.platform, name)] += 1
        per_pixel[(ev.platform, ev.pixel_id or "-", ev.source.value)] += 1
        for f in ev.findings:
            per_code[(f.code, f.severity.value)] += 1

    def table(title: str, headers: list[str], rows) -> Table:
        t = Table(title=title, title_justify="left", title_style="bold", expand=True)
        for h in headers:
            t.add_column(h, justify="right" if h == "count" else "left")
        for row in rows:
            t.add_row(*[str(x) for x in row])
        return t

    parts = [
        table("Events per platform", ["platform", "event", "count"],
              [(p, e, n) for (p, e), n in sorted(per_event.items())]),
        table("Pixel IDs", ["platform", "pixel", "source", "count"],
              [(p, px, s, n) for (p, px, s), n in sorted(per_pixel.items())]),
        table("Findings", ["code", "severity", "count"],
              [(c, s, n) for (c, s), n in per_code.most_common()]),
    ]
    sites = [row for check in session.checks.checks if hasattr(check, "sites") for row in check.sites()]
    if sites:
        parts.append(table("Consent per site", ["site", "device", "state", "evidence"],
                           [(s.site, device_name(s.client), s.state, s.evidence) for s in sites]))
    if not per_event:
        parts.append(Text("No events yet.", style="dim"))
    return Group(*parts)


class SummaryScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,s,q", "dismiss", "Close")]

    def __init__(self, session: Session, device_name: Callable[[str], str]) -> None:
        super().__init__()
        self.session = session
        self.device_name = device_name

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="summary"):
            yield Static(summary_tables(self.session, self.device_name))


class MarkPrompt(ModalScreen[str | None]):
    """Asks for a divider label, e.g. "clicked Buy"."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="mark-box"):
            yield Label("Mark the event list here — what did you just do?")
            yield Input(placeholder="clicked Buy", id="mark-input")

    def on_input_submitted(self, message: Input.Submitted) -> None:
        self.dismiss(message.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
