"""Modal screens: the summary view, the text prompt (mark, device name, save path), confirmations."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.columns import Columns
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.renderables.digits import Digits
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from pixelspy.inert import inert
from pixelspy.network import lan_addresses, qr_text
from pixelspy.proxy import ProxyConfig
from pixelspy.session import Session

if TYPE_CHECKING:  # status.py imports this module
    from pixelspy.tui.status import EventIndex


def consent_sites(session: Session) -> list:
    """Consent state per site and device, from whichever check keeps it (the consent check)."""
    return [row for check in session.checks.checks if hasattr(check, "sites") for row in check.sites()]


def summary_tables(session: Session, index: EventIndex, device_name: Callable[[str], str]) -> Group:
    """The counts of every event the app was shown (`index`: those memory let go too), and the
    session's consent state."""
    def table(title: str, headers: list[str], rows) -> Table:
        t = Table(title=title, title_justify="left", title_style="bold", expand=True)
        for h in headers:
            t.add_column(h, justify="right" if h == "count" else "left")
        for row in rows:
            t.add_row(*[Text(inert(str(x))) for x in row])  # Text: a name like "[b]" is not markup
        return t

    parts = [
        table("Events per platform", ["platform", "event", "count"],
              [(p, e, n) for (p, e), n in sorted(index.per_event.items())]),
        table("Pixel IDs", ["platform", "pixel", "source", "count"],
              [(p, px, s, n) for (p, px, s), n in sorted(index.per_pixel.items())]),
        table("Findings", ["code", "severity", "count"],
              [(c, s, n) for (c, s), n in (+index.per_code).most_common()]),
    ]
    sites = consent_sites(session)
    if sites:
        parts.append(table("Consent per site", ["site", "device", "CMP", "marketing", "analytics", "last evidence"],
                           [(s.site, device_name(s.client), s.cmp or "-", s.state.value,
                             s.purposes.get("analytics", "-"),
                             str(s.evidence[-1]) if s.evidence else s.unknown_reason or "-")
                            for s in sites]))
    if not index.per_event:
        parts.append(Text("No events yet.", style="dim"))
    return Group(*parts)


class SummaryScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,s,q", "dismiss", "Close")]

    def __init__(self, session: Session, index: EventIndex, device_name: Callable[[str], str]) -> None:
        super().__init__()
        self.session = session
        self.index = index
        self.device_name = device_name

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="summary"):
            yield Static(summary_tables(self.session, self.index, self.device_name))


class TextPrompt(ModalScreen[str | None]):
    """Asks for one line of text, e.g. a device's name (the question and the value may hold wire text)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__()
        self.question = question
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(id="mark-box"):
            yield Label(Text(inert(self.question)))
            yield Input(value=inert(self.value), id="prompt-input")

    def on_input_submitted(self, message: Input.Submitted) -> None:
        self.dismiss(message.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class Confirm(ModalScreen[bool]):
    """A yes/no question before something that loses work (y or Enter: yes; n or Escape: no)."""

    BINDINGS = [Binding("y,enter", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="mark-box"):
            yield Label(Text(self.question))
            yield Label(Text.assemble(("y", "bold"), " yes   ", ("n", "bold"), " / Esc no"))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


def qr_image(data: str) -> Text:
    # Cropped rather than wrapped on a narrow screen: a wrapped QR code is garbage a camera may misread.
    return Text(qr_text(data), style="#000000 on #ffffff", no_wrap=True, overflow="crop")


def qr_block(title: str, data: str) -> Group:
    return Group(Text(title, style="bold"), qr_image(data), Text(data, style="dim"))


class PhoneSetupScreen(ModalScreen[None]):
    """How to connect a phone: proxy host:port, the certificate page, QR codes, WireGuard."""

    BINDINGS = [Binding("escape,c,q", "dismiss", "Close")]
    DEFAULT_CSS = "PhoneSetupScreen { align: center middle; }"

    def __init__(self, config: ProxyConfig | None, wireguard_conf: str | None) -> None:
        super().__init__()
        self.config = config
        self.wireguard_conf = wireguard_conf

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="summary"):
            yield Static(self.instructions())

    def instructions(self) -> Group:
        cfg = self.config
        if cfg is None:
            return Group(Text("No proxy is running (a file is open)."))
        parts: list = [Text("Connect a phone or another device", style="bold underline")]
        if cfg.listen_host in ("127.0.0.1", "localhost", "::1"):
            parts.append(Text(f"The proxy listens on {cfg.listen_host}, which phones cannot reach.\n"
                              "Restart with:  pixelspy --lan --auth USER:PASS", style="bold yellow"))
            return Group(*parts, *self.wireguard_parts())
        addresses = lan_addresses() if cfg.listen_host in ("0.0.0.0", "::", "") else [cfg.listen_host]
        parts.append(Text("⚠ The proxy is reachable from your network." +
                          ("" if cfg.proxyauth else " Anyone there can use it: consider --auth USER:PASS."),
                          style="bold #d99a00"))
        if not addresses:
            parts.append(Text("No LAN address found: is this machine on a network?", style="bold red"))
        for addr in addresses:
            parts.append(Text(f"\nWi-Fi settings → HTTP proxy → Manual: server {addr}, port {cfg.port}"
                              + (", with the proxy user name and password you chose" if cfg.proxyauth else ""),
                              style="bold"))
            parts.append(Digits(f"{addr}:{cfg.port}"))  # large: typed on a phone held at arm's length
        if not addresses:
            return Group(*parts, *self.wireguard_parts())
        parts.append(Text("Then open http://mitm.it on the phone and install the certificate "
                          "(iOS: also Settings → General → About → Certificate Trust Settings → enable it).\n"))
        qr_codes = [qr_block("Proxy (host:port)", f"{addresses[0]}:{cfg.port}"),
                    qr_block("Certificate page", "http://mitm.it")]
        if self.wireguard_conf:
            qr_codes.append(self.wireguard_qr())
        # Side by side when the screen is wide enough, one under the other when not.
        return Group(*parts, Columns(qr_codes, padding=(0, 4)))

    def wireguard_parts(self) -> list:
        return [Text(""), self.wireguard_qr()] if self.wireguard_conf else []

    def wireguard_qr(self) -> Group:
        return Group(Text("WireGuard app (no proxy settings needed)", style="bold"),
                     qr_image(self.wireguard_conf))
