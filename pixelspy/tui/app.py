"""The Textual app: live event list, detail pane, filter bar, status line; mitmproxy in the same loop.

Its parts: event_list.py (with cells.py: how a row looks, file_rows.py: the rows a session file
holds), detail.py and status.py (the widgets), filters.py (the filter language), screens.py (modal
screens), messages.py (what the session and the proxy post here), saving.py (copy, write and save
actions).

Why ≈ 440 lines: what is left here is the App class itself, its bindings, actions and message
handlers, each a few lines that read and change the app's one state (the session, the list, the
filter, the pause); what a widget or a file does lives in its own module."""

from __future__ import annotations

import gc
import logging
import shlex
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Log, ProgressBar

from pixelspy import __version__
from pixelspy.addon import UntrustedCert
from pixelspy.inert import inert
from pixelspy.model import TrackingEvent
from pixelspy.proxy import Proxy, ProxyConfig, ProxyStartError
from pixelspy.session import Mark, Session
from pixelspy.tui import filters
from pixelspy.tui.detail import EventDetail
from pixelspy.tui.event_list import EventList
from pixelspy.tui.file_rows import EventCache
from pixelspy.tui.messages import EventPublished, MarksAdded, ProxyLog
from pixelspy.tui.saving import SavingActions
from pixelspy.tui.screens import PhoneSetupScreen, SummaryScreen, TextPrompt
from pixelspy.tui.status import CertNotice, EventIndex, StatusBar, plural

if TYPE_CHECKING:
    from pixelspy.har.read import Tee

TICK_S = 0.5
# Exit status of `pixelspy open` when the file could not be read (as with --no-ui).
UNREADABLE_FILE = 2


def freeze_what_was_read() -> None:
    """What a file gave stays for the whole run: frozen, the collector's full collections (≈ 150 ms at
    a million rows, a stalled UI) no longer walk it. The live proxy freezes its heap as it goes."""
    gc.collect()
    gc.freeze()


def ca_command(cfg: ProxyConfig) -> str:
    """What a shell runs to send curl and SDKs through this proxy, trusting its CA."""
    confdir = f" --confdir {shlex.quote(cfg.confdir)}" if cfg.confdir else ""
    return f'eval "$(pixelspy ca --bundle -p {cfg.port}{confdir})"'


class PixelSpyApp(SavingActions, App):
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
                 load: Path | None = None, load_tee: Tee | None = None) -> None:
        super().__init__()
        self.session = session
        self.config = config
        self.load_path = load  # a HAR / flow file read into the session after start, with progress
        self.load_tee = load_tee  # given the file's bytes as they are read (the import key's hash)
        self.proxy: Proxy | None = None
        self.start_error: str | None = None
        self.paused = False
        self._related_index = 0
        self._source_title = title
        self._index = EventIndex()  # kept up to date as events are published
        self._event = EventCache(session)  # in memory, or read back from the session file
        self._detail_pending = False
        self._unsaved = 0  # events since the last save (a live session only: a file opened is on disk)
        self.load_failed = False  # the file given could not be read: quitting exits with UNREADABLE_FILE
        self.load_result = None  # the file given (har.LoadResult), once read to its end

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        # Kept as attributes: query_one() would search the active screen, which may be a modal.
        self.filter_box = Input(placeholder="filter: " + filters.HELP, id="filter")
        self.event_list = EventList(self._event, self.device_name, id="events")
        self.detail = EventDetail(id="detail")
        self.log_view = Log(id="log", max_lines=500)
        self.progress = ProgressBar(id="progress", show_eta=False)
        self.cert_notice = CertNotice(id="cert-notice")
        self.status = StatusBar(id="status")
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
            self._index.add(ev)
            events.add(ev.id)
        if self.session.store is not None:
            events.open_file()
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
            f"  curl, SDKs:  {ca_command(cfg)}   (HTTPS_PROXY and a CA bundle, in a shell)",
            "HTTPS needs pixelspy's certificate trusted: open http://mitm.it through the proxy.",
        ]

    async def _load_file(self, path: Path) -> None:
        from pixelspy.har import HarReadError, load_file_async  # mitmproxy-side module, loaded on demand

        self.progress.display = True

        def progress(phase: str, done: int, total: int) -> None:
            self.progress.update(total=total, progress=done)
            self._source_title = f"{'reading' if phase == 'read' else 'decoding'} {path.name}"

        try:
            result = await load_file_async(path, self.session, progress, tee=self.load_tee)
        except HarReadError as e:
            self.load_failed = True
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
            self.load_result = result
            freeze_what_was_read()  # the import is done
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
        self.event_list.let_go()
        self._update_status()

    async def on_unmount(self) -> None:
        self.session.unsubscribe(self._forward_event)
        self.session.unsubscribe_marks(self._forward_marks)
        if self.proxy is not None:
            await self.proxy.stop()

    # ------------------------------------------------------------------ events

    def _clients_named(self, words: set[str]) -> set[str]:
        return self.session.devices.matching(words)

    def on_event_published(self, message: EventPublished) -> None:
        events = self.event_list
        self._index.add(message.event)
        self._index.forget_evicted(self.session.events)
        if message.is_update:
            self._event.forget(message.event.id)
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
        device = self.device_name(notice.client)
        self.notify_inert(f"{device} refused pixelspy's certificate for {notice.host}: its HTTPS traffic "
                          "there cannot be seen. Open http://mitm.it through the proxy to install the CA "
                          "(or trust the CA of the --confdir given).",
                          title="Certificate not trusted", severity="warning", timeout=20)
        self.cert_notice.add(device, notice.host)

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
        ev = self._event(event_id) if event_id else None
        hit = self._event.hit(ev.hit_id) if ev else None  # (a filter's answer may have read it ahead)
        self.detail.show(ev, hit, self.device_name(ev.device) if ev else "")

    @on(Input.Changed, "#filter")
    def _filter_changed(self, message: Input.Changed) -> None:
        query = filters.parse(message.value)
        in_memory = filters.compile_query(query, self._index.search_text.get, self._clients_named)
        # The rows the session file holds (all but the newest moment's): its indexed query.
        in_file = filters.store_query(query, self._clients_named) if in_memory is not None else None
        self.event_list.set_filter(in_memory, in_file)
        self._update_status()

    @on(EventList.Filtered)
    def _file_filtered(self) -> None:
        self._update_status()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.event_list.focus()

    def _update_status(self) -> None:
        self.status.show(self.session, self.config, self._source_title, self.event_list.event_count, self._index,
                         self.paused, self.filter_box.value)
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
        if self.session.store is not None and len(self.session):
            self._confirm(f"Clear the list? Its {plural(len(self.session), 'event')} leave the list and memory; "
                          f"the session file keeps them ({inert(str(self.session.store.path))}).", self._clear)
        elif self._would_lose_events():
            self._confirm_loss("Clear", self._clear)
        else:
            self._clear()

    def _clear(self) -> None:
        self._unsaved = 0
        self.session.clear()
        self._index.clear()
        self._event.clear()
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
        self.push_screen(SummaryScreen(self.session, self._index, self.device_name))

    def action_toggle_time(self) -> None:
        events = self.event_list
        events.relative_time = not events.relative_time

    def action_toggle_log(self) -> None:
        log = self.log_view
        log.display = not log.display

    def _selected_event(self) -> TrackingEvent | None:
        event_id = self.event_list.selected_id
        return self._event(event_id) if event_id else None

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

    async def action_quit(self) -> None:
        if self._would_lose_events():
            self._confirm_loss("Quit", lambda: self.run_worker(self._quit()))
        else:
            await self._quit()

    async def _quit(self) -> None:
        if self.proxy is not None:
            await self.proxy.stop()
            self.proxy = None
        self.exit(return_code=UNREADABLE_FILE if self.load_failed else 0)
