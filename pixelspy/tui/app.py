"""The Textual app: live event list, detail pane, filter bar, status line; mitmproxy in the same loop."""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Log, ProgressBar, Static

from pixelspy import __version__
from pixelspy.addon import UntrustedCert
from pixelspy.inert import inert, json_dumps
from pixelspy.model import Severity, TrackingEvent
from pixelspy.proxy import Proxy, ProxyConfig, ProxyStartError
from pixelspy.har.redact import redact_headers
from pixelspy.session import Mark, Session
from pixelspy.tui import filters
from pixelspy.tui.clipboard import copy_to_system
from pixelspy.tui.detail import EventDetail
from pixelspy.tui.event_list import EventList
from pixelspy.tui.screens import Confirm, PhoneSetupScreen, SummaryScreen, TextPrompt, consent_sites

TICK_S = 0.5
# Where Ctrl+S proposes to save a session and w / W write an event (created when needed).
SESSIONS_DIR = Path("~/pixelspy-sessions")


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class EventPublished(Message):
    def __init__(self, event: TrackingEvent, is_update: bool) -> None:
        self.event = event
        self.is_update = is_update
        super().__init__()


class MarksAdded(Message):
    def __init__(self, marks: list[Mark]) -> None:
        self.marks = marks
        super().__init__()


class ProxyLog(Message):
    def __init__(self, level: int, text: str, untrusted: UntrustedCert | None = None) -> None:
        self.level = level
        self.text = text
        self.untrusted = untrusted  # the addon's notice that a device refused the certificate
        super().__init__()


class PixelSpyApp(App):
    """`config=None` shows a session without a proxy (a file opened with `pixelspy open`)."""

    TITLE = "pixelspy"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("slash", "focus_filter", "Filter"),
        Binding("f", "only_findings", "Findings only"),
        Binding("p", "pause", "Pause"),
        Binding("m", "mark", "Mark"),
        Binding("j", "jump_related", "Jump related"),
        Binding("s", "summary", "Summary"),
        Binding("c", "connect_phone", "Phone"),
        Binding("d", "rename_device", "Name device", show=False),
        Binding("t", "toggle_time", "Time"),
        Binding("y", "copy_json", "Copy JSON"),
        Binding("Y", "copy_curl", "Copy curl", show=False),
        Binding("w", "write_json", "Write JSON to a file", show=False),
        Binding("W", "write_curl", "Write curl to a file", show=False),
        Binding("ctrl+s", "save_har", "Save HAR"),
        Binding("x", "clear", "Clear", show=False),
        Binding("l", "toggle_log", "Log", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self, session: Session, config: ProxyConfig | None, title: str | None = None,
                 load: Path | None = None) -> None:
        super().__init__()
        self.session = session
        self.config = config
        self.load_path = load  # a HAR / flow file read into the session after start, with progress
        self.proxy: Proxy | None = None
        self.start_error: str | None = None
        self.paused = False
        self._related_index = 0
        self._source_title = title
        # Kept up to date as events are published, so filtering and the status line stay O(1) per event.
        self._search_text: dict[str, str] = {}
        self._severity_counts: dict[str, tuple[int, int]] = {}
        self._errors = self._warnings = 0
        self._codes_seen: set[str] = set()  # finding codes of the events so far, for the filter's code:
        self._detail_pending = False
        self._unsaved = 0  # events since the last save (a live session only: a file opened is on disk)
        self._untrusted: list[UntrustedCert] = []  # each device and host once (the addon tells each once)

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        # Kept as attributes: query_one() would search the active screen, which may be a modal.
        self.filter_box = Input(placeholder="filter: " + filters.HELP, id="filter")
        self.event_list = EventList(self.session.get, self.device_name, id="events")
        self.detail = EventDetail(id="detail")
        self.log_view = Log(id="log", max_lines=500)
        self.progress = ProgressBar(id="progress", show_eta=False)
        self.cert_notice = Static(id="cert-notice")
        self.status = Static(id="status")
        yield Header()
        yield self.filter_box
        yield self.event_list
        yield self.detail
        yield self.log_view
        yield self.progress
        yield self.cert_notice
        yield self.status
        yield Footer()

    def device_name(self, client: str) -> str:
        return self.session.devices.name(client)

    async def on_mount(self) -> None:
        events = self.event_list
        for ev in self.session:  # a session opened from a file arrives pre-filled
            self._index(ev)
            events.add(ev.id)
        if self.session.marks:
            events.add_marks(self.session.marks)
        self.session.subscribe(self._forward_event)
        self.session.subscribe_marks(self._forward_marks)
        self.log_view.display = False
        self.progress.display = False
        self.cert_notice.display = False
        events.empty_hint = self._empty_hint()
        events.focus()
        if self.config is not None:
            self.proxy = Proxy(self.session, self.config, on_log=self._forward_proxy_log)
            try:
                await self.proxy.start()
            except ProxyStartError as e:
                self.start_error = str(e)
                self.exit(return_code=1)
                return
        if self.load_path is not None:
            self.run_worker(self._load_file(self.load_path), exclusive=True)
        self.set_interval(TICK_S, self._tick)
        self._update_status()

    def _empty_hint(self) -> list[str]:
        """Until the first event: how to send traffic here (or that the file has none)."""
        cfg = self.config
        if cfg is None:
            if self.load_path is None:
                return ["No events."]
            return [inert(f"Reading {self.load_path.name}…")]
        host = "127.0.0.1" if cfg.listen_host in ("0.0.0.0", "::", "") else cfg.listen_host
        address = f"{host}:{cfg.port}"
        return [
            f"No tracking hit yet. Send traffic through the proxy at {address}:",
            f"  a browser:   chromium --proxy-server={address} https://your-site.example/",
            "  a phone:     press c (proxy address, certificate page, QR codes)",
            "  curl, SDKs:  pixelspy ca (HTTPS_PROXY and the CA bundle, for a shell)",
            "HTTPS needs pixelspy's certificate trusted: open http://mitm.it through the proxy.",
        ]

    async def _load_file(self, path: Path) -> None:
        from pixelspy.har import HarReadError, load_file_async  # mitmproxy-side module, loaded on demand

        self.progress.display = True

        def progress(phase: str, done: int, total: int) -> None:
            self.progress.update(total=total, progress=done)
            self._source_title = f"{'reading' if phase == 'read' else 'decoding'} {path.name}"

        try:
            result = await load_file_async(path, self.session, progress)
        except HarReadError as e:
            self.notify_inert(f"{path}: {e}", title="cannot open", severity="error", timeout=30)
            self._source_title = f"{path.name}: unreadable"
            self.event_list.empty_hint = [inert(f"{path.name} could not be read: {e}")]
        else:
            if not len(self.session):
                self.event_list.empty_hint = [inert(f"{path.name} holds no tracking events "
                                                    f"({result.entries} entries read).")]
            for problem in result.problems[:5]:
                self.notify_inert(problem, title=path.name, severity="warning", timeout=15)
            self._source_title = f"{path.name} ({result.format}, {result.entries} entries)"
        self.progress.display = False
        self._update_status()

    def notify_inert(self, message: str, *, title: str = "", **kw) -> None:
        """A notification: its text may come from the wire or a file (a URL, a host name), so it is
        made inert and never read as markup."""
        self.notify(inert(message), title=inert(title), markup=False, **kw)

    def _forward_event(self, event: TrackingEvent, is_update: bool) -> None:
        # Same loop and thread as the proxy; post_message keeps the addon's work tiny.
        self.post_message(EventPublished(event, is_update))

    def _forward_marks(self, marks: list[Mark]) -> None:
        self.post_message(MarksAdded(marks))  # after the events published before them

    def _forward_proxy_log(self, record: logging.LogRecord) -> None:
        self.post_message(ProxyLog(record.levelno, record.getMessage(), UntrustedCert.of(record)))

    def _tick(self) -> None:
        # Live only: a file's events carry the file's times, and loading it settles them itself.
        if self.config is not None:
            self.session.tick(time.time())
        self._update_status()

    async def on_unmount(self) -> None:
        self.session.unsubscribe(self._forward_event)
        self.session.unsubscribe_marks(self._forward_marks)
        if self.proxy is not None:
            await self.proxy.stop()

    # ------------------------------------------------------------------ events

    def _index(self, ev: TrackingEvent) -> None:
        self._search_text[ev.id] = filters.search_blob(ev)
        counts = (sum(f.severity == Severity.error for f in ev.findings),
                  sum(f.severity == Severity.warning for f in ev.findings))
        old = self._severity_counts.get(ev.id, (0, 0))
        self._severity_counts[ev.id] = counts
        self._codes_seen.update(f.code for f in ev.findings)
        self._errors += counts[0] - old[0]
        self._warnings += counts[1] - old[1]

    def _clients_named(self, words: set[str]) -> set[str]:
        return self.session.devices.matching(words)

    def on_event_published(self, message: EventPublished) -> None:
        events = self.event_list
        self._index(message.event)
        if message.is_update:
            events.changed(message.event.id)
            if events.selected_id == message.event.id:
                self._show_detail(message.event.id)
        else:
            events.add(message.event.id)
            if self.config is not None:
                self._unsaved += 1

    def on_marks_added(self, message: MarksAdded) -> None:
        self.event_list.add_marks(message.marks)

    def on_proxy_log(self, message: ProxyLog) -> None:
        level = logging.getLevelName(message.level)
        self.log_view.write_line(f"{time.strftime('%H:%M:%S')} {level} {inert(message.text)}")
        if message.untrusted is not None:
            self._certificate_refused(message.untrusted)
        elif message.level >= logging.ERROR:
            self.notify_inert(message.text, title="proxy error", severity="error", timeout=8)

    def _certificate_refused(self, notice: UntrustedCert) -> None:
        """A toast for each device and host, and a line above the status bar that stays."""
        self._untrusted.append(notice)
        device = self.device_name(notice.client)
        self.notify_inert(f"{device} refused pixelspy's certificate for {notice.host}: its HTTPS traffic "
                          "there cannot be seen. Open http://mitm.it through the proxy to install the CA "
                          "(or trust the CA of the --confdir given).",
                          title="Certificate not trusted", severity="warning", timeout=20)
        more = len(self._untrusted) - 1
        self.cert_notice.update(Text(inert(
            f"⚠ certificate not trusted by {device} for {notice.host}"
            + (f" (+{more} more)" if more else "")
            + " — open http://mitm.it through the proxy and trust the CA (l: log)")))
        self.cert_notice.display = True

    @on(EventList.Selected)
    def _selected(self, message: EventList.Selected) -> None:
        self._related_index = 0
        # Following a fast stream selects many rows a second: render the detail once per frame.
        if not self._detail_pending:
            self._detail_pending = True
            self.set_timer(1 / 30, self._show_selected)

    def _show_selected(self) -> None:
        self._detail_pending = False
        self._show_detail(self.event_list.selected_id)

    def _show_detail(self, event_id: str | None) -> None:
        ev = self.session.get(event_id) if event_id else None
        hit = self.session.hits.get(ev.hit_id) if ev else None
        self.detail.show(ev, hit, self.device_name(ev.device) if ev else "")

    @on(Input.Changed, "#filter")
    def _filter_changed(self, message: Input.Changed) -> None:
        query = filters.parse(message.value)
        self.event_list.set_filter(filters.compile_query(query, self._search_text.get, self._clients_named))
        self._update_status()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.event_list.focus()

    def _update_status(self) -> None:
        total = len(self.session)
        errors, warnings = self._errors, self._warnings
        listed = self.event_list.event_count
        # Text, not markup: file names, consent sites and the filter are not ours.
        parts: list[Text] = []
        if self.config is not None:
            mode = ",".join(self.config.modes) or "regular"
            parts.append(Text(f"proxy {self.config.address} ({mode}{', sink' if self.config.sink else ''})"))
            if self.config.listen_host not in ("127.0.0.1", "localhost", "::1"):
                warning = "⚠ reachable from the network" + ("" if self.config.proxyauth else
                                                             ", no --auth: anyone there can use it")
                parts.append(Text.assemble((warning, "#d99a00"), " · c: connect a phone"))
        elif self._source_title:
            parts.append(Text(inert(self._source_title)))
        parts.append(Text(plural(total, "event")))
        if self.session.dropped:
            parts.append(Text(f"{self.session.dropped:,} oldest dropped (memory limit)", "#d99a00"))
        if listed != total:
            parts.append(Text(f"{listed} shown"))
        parts.append(Text.assemble((plural(errors, "error"), "#e5484d"), " ",
                                   (plural(warnings, "warning"), "#d99a00")))
        sites = sorted(consent_sites(self.session), key=lambda s: s.time)[-2:]
        if sites:
            consent = ", ".join(f"{s.site}: {s.state.value}" for s in reversed(sites))
            parts.append(Text(inert(f"consent {consent}")))
        if self.paused:
            parts.append(Text(" PAUSED ", "reverse"))
        query = self.filter_box.value
        if query.strip():
            parsed = filters.parse(query)
            parts.append(Text(inert(f"filter: {parsed.describe()}")))
            problems = parsed.errors + [f"no event has code:{c} yet"
                                        for c in sorted(parsed.terms.get("code", set()) - self._codes_seen)]
            # First: a typo shows an empty list, and the line's end may be cut off.
            parts[:0] = [Text(inert(p), "bold #d99a00") for p in problems]
        self.status.update(Text(" · ").join(parts))
        self.sub_title = f"v{__version__}" + (f" · {self.config.address}" if self.config else "")

    # Bindings that act on the live proxy: hidden (footer, palette) when a file is open.
    LIVE_ACTIONS = ("pause", "connect_phone")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.config is not None or action not in self.LIVE_ACTIONS

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        live = self.config is not None
        # Every binding, with a sentence, in the command palette (Ctrl+P).
        if live:
            yield SystemCommand("Pause / resume capture", "Hits keep flowing but are not recorded",
                                self.action_pause)
        yield SystemCommand("Clear session", "Forget every event captured so far", self.action_clear)
        yield SystemCommand("Mark", "Insert a named divider in the event list", self.action_mark)
        yield SystemCommand("Summary", "Events per platform, pixel IDs, findings, consent", self.action_summary)
        yield SystemCommand("Only events with findings", "Toggle the has:findings filter", self.action_only_findings)
        yield SystemCommand("Jump to related event", "The duplicate, or the server copy", self.action_jump_related)
        if live:
            yield SystemCommand("Connect a phone", "Proxy address, certificate page, QR codes",
                                self.action_connect_phone)
        yield SystemCommand("Name device", "Rename the selected event's device", self.action_rename_device)
        yield SystemCommand("Relative / absolute time", "Toggle the time column", self.action_toggle_time)
        yield SystemCommand("Copy event as JSON", "The selected event's JSON line", self.action_copy_json)
        yield SystemCommand("Copy request as curl", "Secrets redacted", self.action_copy_curl)
        yield SystemCommand("Write event JSON to a file", "In the sessions folder, for when copying fails",
                            self.action_write_json)
        yield SystemCommand("Write request as curl to a file", "In the sessions folder, secrets redacted",
                            self.action_write_curl)
        yield SystemCommand("Save HAR", "Tracking hits with decoded events, redacted", self.action_save_har)
        yield SystemCommand("Proxy log", "Show or hide mitmproxy's log", self.action_toggle_log)

    # ------------------------------------------------------------------ actions

    def action_focus_filter(self) -> None:
        self.filter_box.focus()

    def action_clear_filter(self) -> None:
        self.filter_box.value = ""
        self.event_list.focus()

    def action_only_findings(self) -> None:
        box = self.filter_box
        words = box.value.split()
        box.value = " ".join(w for w in words if w != "has:findings") if "has:findings" in words \
            else " ".join([*words, "has:findings"])

    def action_pause(self) -> None:
        self.paused = not self.paused
        if self.proxy is not None:
            self.proxy.addon.paused = self.paused
        self.notify_inert("Capture paused: hits pass through but are not recorded." if self.paused
                          else "Capture resumed.")
        self._update_status()

    def action_clear(self) -> None:
        if self._would_lose_events():
            self._confirm_loss("Clear", self._clear)
        else:
            self._clear()

    def _clear(self) -> None:
        self._unsaved = 0
        self.session.clear()
        self._search_text.clear()
        self._severity_counts.clear()
        self._errors = self._warnings = 0
        self._codes_seen.clear()
        self.event_list.clear()
        self._show_detail(None)
        self._update_status()

    def action_mark(self) -> None:
        def add_mark(label: str | None) -> None:
            if label:
                self.session.add_marks([Mark(label, time.time())])

        self.push_screen(TextPrompt("Mark the event list here — what did you just do? (e.g. clicked Buy)"),
                         add_mark)

    def action_rename_device(self) -> None:
        ev = self._selected_event()
        if ev is None:
            self.notify_inert("Select an event of the device to name.")
            return

        def rename(name: str | None) -> None:
            if name is not None:
                self.session.devices.rename(ev.device, name)
                self.event_list.refresh()
                self._show_detail(ev.id)

        self.push_screen(TextPrompt(f"Name the device {ev.client}:", self.device_name(ev.device)), rename)

    def action_connect_phone(self) -> None:
        self.push_screen(PhoneSetupScreen(self.config, self.proxy.wireguard_conf() if self.proxy else None))

    def action_summary(self) -> None:
        self.push_screen(SummaryScreen(self.session, self.device_name))

    def action_toggle_time(self) -> None:
        events = self.event_list
        events.relative_time = not events.relative_time

    def action_toggle_log(self) -> None:
        log = self.log_view
        log.display = not log.display

    def _selected_event(self) -> TrackingEvent | None:
        event_id = self.event_list.selected_id
        return self.session.get(event_id) if event_id else None

    def action_jump_related(self) -> None:
        ev = self._selected_event()
        related = [r for f in ev.findings for r in f.related if r != ev.id] if ev else []
        if not related:
            self.notify_inert("The selected event has no related events.")
            return
        target = related[self._related_index % len(related)]
        index = self._related_index + 1
        events = self.event_list
        if not events.select_event(target):
            self.action_clear_filter()
            events.select_event(target)
        self._related_index = index  # selecting resets it; keep cycling through the origin's list

    def _event_json(self, ev: TrackingEvent) -> str:
        return json_dumps(self.session.json_line(ev), indent=2)  # as in the JSON lines of --no-ui

    def _curl(self, ev: TrackingEvent) -> str | None:
        hit = self.session.hits.get(ev.hit_id)
        if hit is None:
            return None
        parts = ["curl", "-X", hit.method, hit.url]
        for k, v in redact_headers(hit.headers):
            if not k.startswith(":"):
                parts += ["-H", f"{k}: {v}"]
        if hit.body:
            parts += ["--data-binary", hit.body.decode("utf-8", errors="replace")]
        return shlex.join(parts)

    def action_copy_json(self) -> None:
        if ev := self._selected_event():
            self.run_worker(self._copy(self._event_json(ev), f"{ev.id} as JSON", "w"))

    def action_copy_curl(self) -> None:
        if (ev := self._selected_event()) and (curl := self._curl(ev)):
            self.run_worker(self._copy(curl, f"{ev.id} as curl (secrets redacted)", "W"))

    async def _copy(self, text: str, what: str, write_key: str) -> None:
        """To the system clipboard when there is one, else the terminal's; says which."""
        if await asyncio.to_thread(copy_to_system, text):  # (pyperclip runs a program: not in the loop)
            self.notify_inert(f"Copied {what} to the clipboard.")
            return
        self.copy_to_clipboard(text)
        self.notify_inert(f"Sent {what} to the terminal's clipboard (OSC 52) — your terminal may ignore it "
                          f"(tmux, macOS Terminal): {write_key} writes it to a file.", timeout=10)

    def action_write_json(self) -> None:
        if ev := self._selected_event():
            self._write(self._event_json(ev), f"{ev.id}.json")

    def action_write_curl(self) -> None:
        if (ev := self._selected_event()) and (curl := self._curl(ev)):
            self._write(curl + "\n", f"{ev.id}-curl.sh")

    def _write(self, text: str, name: str) -> None:
        folder = SESSIONS_DIR.expanduser()
        path = folder / name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as e:
            self.notify_inert(f"Cannot write {path}: {e.strerror or e}", severity="error")
            return
        self.notify_inert(f"Wrote {path}")

    def _recorder(self):
        """The --har recorder, when the session is being recorded."""
        from pixelspy.har import HarRecorder

        return next((a for a in (self.config.addons if self.config else []) if isinstance(a, HarRecorder)), None)

    def _would_lose_events(self) -> bool:
        """Whether the session holds events that are neither saved (Ctrl+S) nor recorded (--har)."""
        return bool(self._unsaved and len(self.session)) and self._recorder() is None

    def _confirm_loss(self, verb: str, then: Callable[[], object]) -> None:
        """then(), once the user has said yes to losing the unsaved events."""
        def answered(yes: bool | None) -> None:
            if yes:
                then()

        self.push_screen(Confirm(f"{verb} without saving? {plural(len(self.session), 'event')} captured since "
                                 "the last save would be lost (Ctrl+S saves a HAR)."), answered)

    def action_save_har(self) -> None:
        default = SESSIONS_DIR.expanduser() / f"pixelspy-{time.strftime('%Y%m%d-%H%M%S')}.har"

        def save(path: str | None) -> None:
            if not path:
                return
            from pixelspy.har import save_har

            target = Path(path).expanduser()
            try:
                if target.parent == SESSIONS_DIR.expanduser():
                    target.parent.mkdir(parents=True, exist_ok=True)
                n = save_har(self.session, target, redact=True, recorder=self._recorder())
            except OSError as e:
                self.notify_inert(f"Cannot write {target}: {e.strerror or e}", severity="error")
                return
            self._unsaved = 0
            self.notify_inert(f"Saved {n} entries to {target} (cookies, tokens, emails and phones redacted).")

        self.push_screen(TextPrompt("Save the session as HAR (redacted, for sharing) to:", str(default)), save)

    async def action_quit(self) -> None:
        if self._would_lose_events():
            self._confirm_loss("Quit", lambda: self.run_worker(self._quit()))
        else:
            await self._quit()

    async def _quit(self) -> None:
        if self.proxy is not None:
            await self.proxy.stop()
            self.proxy = None
        self.exit()
