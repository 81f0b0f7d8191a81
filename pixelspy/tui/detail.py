"""Detail pane of the selected event: findings first, then decoded parameters, then the raw request."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from pixelspy.decoders.wire import REFERER_PARAM
from pixelspy.inert import inert
from pixelspy.model import RawHit, Severity, TrackingEvent
from pixelspy.har.redact import redact_headers
from pixelspy.tui.cells import PLATFORM_COLORS, SEVERITY_COLORS, clock

GROUP_ORDER = ["Event", "Custom data", "Properties", "Event data", "User data", "Page context", "Consent",
               "TikTok diagnostics", "Technical", "Other"]
MAX_BODY_SHOWN = 20_000
SEVERITY_ICONS = {Severity.error: "✖", Severity.warning: "⚠", Severity.info: "ℹ"}


def pretty_body(hit: RawHit) -> str:
    body = hit.body[:MAX_BODY_SHOWN]
    text = body.decode("utf-8", errors="replace")
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            return json.dumps(json.loads(stripped), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    if hit.content_type == "application/x-www-form-urlencoded":
        # A newline in a value is shown as \n: it must not pass for another field's line.
        return "\n".join(f"{inert(k)} = {inert(v)}" for k, v in parse_qsl(text, keep_blank_values=True))
    more = f"\n… {len(hit.body) - MAX_BODY_SHOWN} more bytes" if len(hit.body) > MAX_BODY_SHOWN else ""
    return text + more


def render_event(ev: TrackingEvent, hit: RawHit | None, device: str) -> RenderableType:
    """Wire text goes in as Text (never parsed as markup), through inert() (no control characters)."""
    parts: list[RenderableType] = []
    head = Text()
    head.append(f" {ev.platform} ", style=f"bold reverse {PLATFORM_COLORS.get(ev.platform, '')}")
    head.append(f"  {inert(ev.title)}", style="bold")
    head.append(inert(f"   pixel {ev.pixel_id or '-'} · {ev.source.value} · {device} · "
                      f"{clock(ev.time, ms=False)} · {ev.endpoint} · {ev.id}"),
                style="dim")
    parts.append(head)
    if ev.event_id or ev.page_url or ev.test_event_code:
        facts = Text()
        if ev.event_id:
            facts.append("event_id ", style="dim").append(inert(ev.event_id) + "   ")
        if ev.test_event_code:
            facts.append("TEST ", style="bold yellow").append(inert(ev.test_event_code) + "   ")
        if ev.page_url:
            from_referer = ev.param(REFERER_PARAM.name) == ev.page_url
            facts.append("page (from Referer) " if from_referer else "page ", style="dim").append(inert(ev.page_url))
        parts.append(facts)
    if ev.twins:
        parts.append(Text(f"also sent as {len(ev.twins)} twin request(s) — counted once", style="dim"))

    parts.append(Text("\nFindings", style="bold underline"))
    if not ev.findings and not ev.decode_errors:
        parts.append(Text("✓ nothing to report", style="green"))
    for f in sorted(ev.findings, key=lambda f: list(Severity).index(f.severity)):
        line = Text()
        line.append(f"{SEVERITY_ICONS[f.severity]} {f.code}", style=f"bold {SEVERITY_COLORS[f.severity]}")
        line.append(" (pending) " if f.pending else " ", style="italic dim")
        line.append(inert(f.message))
        parts.append(line)
        if f.hint:
            parts.append(Text(f"    fix: {inert(f.hint)}", style="dim"))
        if f.related:
            parts.append(Text(f"    related: {', '.join(f.related)}  (j jumps)", style="cyan"))
    for err in ev.decode_errors:
        parts.append(Text(f"? decode: {inert(err)}", style=SEVERITY_COLORS[Severity.warning]))

    groups: dict[str, list] = {}
    for p in ev.params:
        groups.setdefault(p.group, []).append(p)
    hashed = {u.name: u.hashed for u in ev.user_data}
    for group in sorted(groups, key=lambda g: GROUP_ORDER.index(g) if g in GROUP_ORDER else len(GROUP_ORDER)):
        table = Table(title=group, title_justify="left", title_style="bold underline", show_header=False,
                      box=None, padding=(0, 1), expand=True)
        table.add_column("label", style="bold", ratio=2, overflow="fold")
        table.add_column("wire", style="dim", ratio=2, overflow="fold")
        table.add_column("value", ratio=5, overflow="fold")
        for p in groups[group]:
            value = Text(inert(p.value))
            if p.name in hashed:
                value.append("  hashed" if hashed[p.name] else "  PLAIN", style="green" if hashed[p.name] else
                             "bold red")
            table.add_row(Text(inert(p.label)), Text(inert(p.name)), value)
        parts.append(Text(""))
        parts.append(table)

    if hit is not None:
        parts.append(Text("\nRaw request", style="bold underline"))
        parts.append(Text(inert(f"{hit.method} {hit.url}"), style="bold"))
        for k, v in redact_headers(hit.headers):
            parts.append(Text.assemble((f"{inert(k)}: ", "cyan"), inert(v)))
        if hit.body:
            parts.append(Text(""))
            parts.append(Text(inert(pretty_body(hit), lines=True)))
    return Group(*parts)


class EventDetail(VerticalScroll):
    DEFAULT_CSS = """
    EventDetail > Static { width: 100%; }
    """

    def compose(self):
        self.body = Static(Text("Select an event to see its decoded parameters.", style="dim"), id="detail-body")
        yield self.body

    def show(self, ev: TrackingEvent | None, hit: RawHit | None, device: str) -> None:
        body = self.body
        if ev is None:
            body.update(Text("No event selected.", style="dim"))
        else:
            body.update(render_event(ev, hit, device))
