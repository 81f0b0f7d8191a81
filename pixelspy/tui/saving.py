"""The app's actions that take events out of pixelspy: copy an event's JSON or its request as curl (to
the system clipboard, else the terminal's), write them to the sessions folder, save the session as a
HAR; and the question asked before unsaved events would be lost (quit, clear)."""

from __future__ import annotations

import asyncio
import shlex
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pixelspy.inert import json_dumps
from pixelspy.model import RawHit, TrackingEvent
from pixelspy.har.redact import redact_headers
from pixelspy.tui.clipboard import copy_to_system
from pixelspy.tui.screens import Confirm, TextPrompt
from pixelspy.tui.status import plural

if TYPE_CHECKING:
    from pixelspy.har import HarRecorder
    from pixelspy.proxy import ProxyConfig
    from pixelspy.session import Session

# Where Ctrl+S proposes to save a session and w / W write an event (created when needed).
SESSIONS_DIR = Path("~/pixelspy-sessions")


def curl_command(hit: RawHit) -> str:
    """The request as a curl command line, secrets redacted."""
    parts = ["curl", "-X", hit.method, hit.url]
    for k, v in redact_headers(hit.headers):
        if not k.startswith(":"):
            parts += ["-H", f"{k}: {v}"]
    if hit.body:
        parts += ["--data-binary", hit.body.decode("utf-8", errors="replace")]
    return shlex.join(parts)


class SavingActions:
    """Mixed into PixelSpyApp, whose session, config and count of unsaved events they use."""

    session: Session
    config: ProxyConfig | None
    _unsaved: int  # events since the last save (a live session only: a file opened is on disk)

    def _event_json(self, ev: TrackingEvent) -> str:
        return json_dumps(self.session.json_line(ev), indent=2)  # as in the JSON lines of --no-ui

    def _curl(self, ev: TrackingEvent) -> str | None:
        hit = self.session.hit(ev.hit_id)
        return None if hit is None else curl_command(hit)

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

    def _recorder(self) -> HarRecorder | None:
        """The in-memory --har recorder (--no-session): its file is written at exit."""
        from pixelspy.har import HarRecorder

        return next((a for a in (self.config.addons if self.config else []) if isinstance(a, HarRecorder)), None)

    def _would_lose_events(self) -> bool:
        """Whether the session holds events that are neither saved (Ctrl+S) nor recorded (a session
        file, or --har's recorder, written at exit)."""
        recorded = self._recorder() is not None or self.session.store is not None
        return bool(self._unsaved and len(self.session)) and not recorded

    def _confirm(self, question: str, then: Callable[[], object]) -> None:
        """then(), once the user has said yes to `question`."""
        def answered(yes: bool | None) -> None:
            if yes:
                then()

        self.push_screen(Confirm(question), answered)

    def _confirm_loss(self, verb: str, then: Callable[[], object]) -> None:
        """then(), once the user has said yes to losing the unsaved events."""
        self._confirm(f"{verb} without saving? {plural(len(self.session), 'event')} captured since the last save "
                      "would be lost (Ctrl+S saves a HAR).", then)

    def _export_har(self, target: Path) -> int:
        """Write the session as a redacted HAR: from the session file when one records it (every
        event, those no longer in memory too; with --har-all every flow), else from memory."""
        store = self.session.store
        if store is not None:
            return store.export_har(target, redact=True)
        from pixelspy.har import save_har

        return save_har(self.session, target, redact=True, recorder=self._recorder())

    def action_save_har(self) -> None:
        default = SESSIONS_DIR.expanduser() / f"pixelspy-{time.strftime('%Y%m%d-%H%M%S')}.har"

        def save(path: str | None) -> None:
            if not path:
                return
            target = Path(path).expanduser()
            try:
                if target.parent == SESSIONS_DIR.expanduser():
                    target.parent.mkdir(parents=True, exist_ok=True)
                n = self._export_har(target)
            except (OSError, sqlite3.Error) as e:
                self.notify_inert(f"Cannot write {target}: {e.strerror or e}", severity="error")
                return
            self._unsaved = 0
            self.notify_inert(f"Saved {n} entries to {target} (cookies, tokens, emails and phones redacted).")

        self.push_screen(TextPrompt("Save the session as HAR (redacted, for sharing) to:", str(default)), save)
