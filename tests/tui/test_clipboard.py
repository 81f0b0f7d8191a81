"""y / Y say where the text went: the system clipboard, or only the terminal's (OSC 52); w / W write files."""

from __future__ import annotations

import json

import pytest

from pixelspy.model import RawHit
from pixelspy.session import Session
from pixelspy.tui import clipboard
from pixelspy.tui.app import PixelSpyApp
from tests.tui.test_app import until

URL = "https://www.facebook.com/tr/?id=1234567890123456&ev=Purchase&cd[value]=9.50&cd[currency]=EUR"


class FakePyperclip:
    PyperclipException = type("PyperclipException", (RuntimeError,), {})

    def __init__(self, works: bool) -> None:
        self.works = works
        self.copied: list[str] = []

    def copy(self, text: str) -> None:
        if not self.works:  # as pyperclip without xclip / a display (over SSH)
            raise self.PyperclipException("could not find a copy/paste mechanism")
        self.copied.append(text)


def app_with_a_purchase() -> PixelSpyApp:
    session = Session()
    session.ingest(RawHit(method="GET", url=URL, client="127.0.0.1",
                          headers=(("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"),)))
    return PixelSpyApp(session, None)


def last_toast(app: PixelSpyApp) -> str:
    return list(app._notifications)[-1].message if app._notifications else ""


@pytest.mark.parametrize("works", [True, False])
async def test_copy_says_which_clipboard_got_it(monkeypatch, works):
    fake = FakePyperclip(works)
    monkeypatch.setattr(clipboard, "pyperclip", fake)
    app = app_with_a_purchase()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.event_list.selected_id is not None)
        await pilot.press("y")
        await until(pilot, lambda: "clipboard" in last_toast(app))
        if works:
            assert last_toast(app).startswith("Copied ") and "OSC 52" not in last_toast(app)
            copied = fake.copied[0]
            assert app.clipboard == ""  # not also sent to the terminal
        else:
            toast = last_toast(app)
            assert toast.startswith("Sent ") and "OSC 52" in toast and "w writes it" in toast
            copied = app.clipboard
        line = json.loads(copied)
        assert line["event"] == "Purchase" and line["device"] == "Linux Chrome 127.0.0.1"  # as --no-ui's lines
        await pilot.press("Y")
        await until(pilot, lambda: "as curl" in last_toast(app))
        assert (fake.copied[-1] if works else app.clipboard).startswith("curl -X GET ")


async def test_w_and_W_write_the_event_and_the_curl_command_to_the_sessions_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    app = app_with_a_purchase()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.event_list.selected_id is not None)
        ev = app.session.get(app.event_list.selected_id)
        await pilot.press("w", "W")
        folder = tmp_path / "pixelspy-sessions"
        await until(pilot, lambda: (folder / f"{ev.id}-curl.sh").exists())
        assert json.loads((folder / f"{ev.id}.json").read_text())["event"] == "Purchase"
        assert (folder / f"{ev.id}-curl.sh").read_text().startswith("curl -X GET ")
        assert str(folder / f"{ev.id}-curl.sh") in last_toast(app)
