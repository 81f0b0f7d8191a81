"""Terminal escape injection: text from the wire or a file never reaches the terminal as a control
character, a format character or markup.

Hostile tracking hits (shaped as fbevents.js and the TikTok pixel send them) carry an OSC 52 clipboard
write, a window-title change, a clear-screen, a C1 CSI, a bidi override, Textual action markup and
wide and zero-width characters in their event names, page URLs, parameter values and pixel ID; a HAR
file carries them too, plus an entry whose URL is action markup. Every surface is checked: the TUI (what
the compositor would write to the terminal: list row, detail pane, summary, notifications, log pane,
the clipboard sequence), `pixelspy check --format text`, JSON lines and stderr. The escapes must show
visibly (`\\x1b`), and markup as the literal text it is.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import re
import time
import unicodedata
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from rich.console import Console

from pixelspy import cli
from pixelspy.cli import live
from pixelspy.addon import JsonLines, PixelSpy
from pixelspy.model import RawHit
from pixelspy.session import Session
from pixelspy.tui.app import PixelSpyApp
from pixelspy.tui.event_list import EventList
from tests.tui.test_app import until

OSC52 = "\x1b]52;c;cHduZWQ=\x07"  # sets the clipboard to "pwned"
TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J"
C1_CSI = "\x9b31m"  # CSI without ESC: red text on terminals that read C1
RLO = "\u202e"  # right-to-left override: "gpj.exe" reads "exe.jpg"
ACTION = "[@click=app.quit]x[/]"
BOLD = "[b]"
WIDE = "購入 e\u0301 \u200b"  # wide, a combining mark, a zero-width space

PIXEL = "1234567890123456" + TITLE
EVENT = "Purchase" + OSC52 + ACTION
PAGE = "https://shop.example/" + CLEAR + RLO + "gpj.exe"
TIKTOK_EVENT = "CompletePayment" + C1_CSI + RLO
HOST = "cdn.shop.example" + TITLE + ACTION  # a host name in a mitmproxy log record

T0 = time.mktime((2026, 11, 25, 14, 2, 0, 0, 0, -1))
UA = [("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"), ("referer", "https://shop.example/")]

# The visible forms the hostile strings must be shown as.
SHOWN_EVENT = r"Purchase\x1b]52;c;cHduZWQ=\x07[@click=app.quit]x[/]"
SHOWN_PIXEL = r"1234567890123456\x1b]0;pwned\x07"
SHOWN_PAGE = r"https://shop.example/\x1b[2J\u202egpj.exe"
SHOWN_TIKTOK_EVENT = r"CompletePayment\x9b31m\u202e"


def meta_query() -> dict[str, str]:
    return {"id": PIXEL, "ev": EVENT, "dl": PAGE, "rl": "", "if": "false", "ts": str(int(T0 * 1000)),
            "cd[value]": "1" + C1_CSI, "cd[currency]": BOLD + "EUR", "cd[content_name]": WIDE,
            "sw": "1920", "sh": "1080", "v": "2.9.179", "r": "stable", "ec": "4", "o": "4126",
            "fbp": "fb.1.1764075720000.1596403881", "it": str(int(T0 * 1000) - 900), "coo": "false",
            "rqm": "GET"}


def tiktok_body() -> bytes:
    return json.dumps({
        "event": TIKTOK_EVENT, "message_id": "messageId-1", "event_id": "order-1042" + CLEAR,
        "timestamp": "2026-11-25T13:02:21.900Z",
        "context": {"pixel": {"code": "CN8J4Q3C77U0N4A9CVAG"}, "page": {"url": PAGE, "referrer": ""},
                    "library": {"name": "pixel.js", "version": "2.2.1"}},
        "properties": {"value": "14.9" + C1_CSI, "currency": "EUR", "content_type": "product",
                       "contents": [{"content_id": "mug" + OSC52, "quantity": 1, "price": 14.9}]}}).encode()


def hostile_hits() -> list[RawHit]:
    return [
        RawHit(method="GET", url="https://www.facebook.com/tr/?" + urlencode(meta_query()),
               headers=[*UA, ("x-note", CLEAR + ACTION)], time=T0, client="127.0.0.1"),
        RawHit(method="POST", url="https://analytics.tiktok.com/api/v2/pixel", body=tiktok_body(),
               headers=[*UA, ("content-type", "text/plain;charset=UTF-8")], time=T0 + 1, client="127.0.0.1"),
    ]


def hostile_session() -> Session:
    session = Session()
    for hit in hostile_hits():
        session.ingest(hit)
    session.tick(T0 + 60)
    return session


def hostile_har(tmp_path: Path) -> Path:
    """The hostile hits as a HAR file, plus an entry whose URL is action markup (skipped, reported)."""
    from pixelspy.har import save_har

    path = tmp_path / "hostile.har"
    save_har(hostile_session(), path, redact=False)
    doc = json.loads(path.read_text())
    bad = json.loads(json.dumps(doc["log"]["entries"][0]))
    bad["request"]["url"] = "javascript:" + ACTION
    doc["log"]["entries"].append(bad)
    path.write_text(json.dumps(doc))
    return path


HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}  # controls, format (bidi, zero-width), surrogates, separators


def hidden_characters(text: str) -> list[str]:
    """What a terminal would act on or hide; newlines end lines and are allowed."""
    return [c for c in text if c != "\n" and unicodedata.category(c) in HIDDEN]


# ---------------------------------------------------------------------------------------------- TUI


def screen_lines(app: PixelSpyApp) -> list[list]:
    """The segments the compositor would write to the terminal for the whole screen, line by line."""
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", legacy_windows=False, safe_box=False)
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    lines: list[list] = []
    for segment in console.render(update):
        if segment.control:  # the cursor move that starts each line
            lines.append([])
        elif segment.text != "\n":
            lines[-1].append(segment)
    return lines


def line_text(line: list) -> str:
    return "".join(s.text for s in line)


def actions_on_screen(lines: list[list]) -> list[str]:
    return [s.style.meta["@click"] for line in lines for s in line if s.style and "@click" in s.style.meta]


def screen_text(app: PixelSpyApp) -> str:
    return "\n".join(line_text(line) for line in screen_lines(app))


def assert_inert(text: str) -> None:
    assert not hidden_characters(text), sorted(set(hidden_characters(text)))


async def detail_scrolled_through(pilot, app: PixelSpyApp) -> str:
    """The screen's text with the detail pane scrolled from its top to its end, page by page."""
    detail = app.detail
    screens = []
    for y in range(0, int(detail.max_scroll_y) + detail.size.height, detail.size.height):
        detail.scroll_to(y=y, animate=False)
        await pilot.pause()
        screens.append(screen_text(app))
    detail.scroll_home(animate=False)
    await pilot.pause()
    return "\n".join(screens)


async def click_each(pilot, app: PixelSpyApp, needle: str) -> int:
    """Clicks the `x` of every `[@click=app.quit]x[/]` shown on screen; how many were clicked."""
    targets = [(m.start() + needle.index("]x[") + 1, y) for y, line in enumerate(screen_lines(app))
               for m in re.finditer(re.escape(needle), line_text(line))]
    for offset in targets:
        await pilot.click(offset=offset)
        await pilot.pause()
        assert app.is_running and app.return_code is None
    return len(targets)


async def test_tui_shows_hostile_text_inert_in_list_detail_notifications_and_log(tmp_path):
    app = PixelSpyApp(Session(), None, load=hostile_har(tmp_path))
    async with app.run_test(size=(170, 44), notifications=True) as pilot:
        events = app.query_one(EventList)
        await until(pilot, lambda: not app.progress.display and events.row_count == 2)
        # mitmproxy logs host names from the wire; an error also becomes a notification.
        record = logging.makeLogRecord({"name": "mitmproxy.proxy.server", "levelno": logging.ERROR,
                                        "levelname": "ERROR", "msg": "server TLS handshake failed for %s",
                                        "args": (HOST,)})
        app._forward_proxy_log(record)
        await pilot.press("l", "home")
        await until(pilot, lambda: "server TLS handshake" in screen_text(app) and "Findings" in screen_text(app))

        lines = screen_lines(app)
        assert not actions_on_screen(lines)
        meta_row = next(line_text(line) for line in lines if "Purchase" in line_text(line))
        assert SHOWN_EVENT in meta_row and "1234567890123456\\x1b…" in meta_row  # (the pixel column crops)
        text = await detail_scrolled_through(pilot, app)
        assert_inert(text)
        assert SHOWN_PIXEL in text and SHOWN_PAGE in text  # the detail pane
        assert r"1\x9b31m" in text and "[b]EUR" in text and "購入 e\u0301 \\u200b" in text
        assert r"x-note: \x1b[2J[@click=app.quit]x[/]" in text  # a header of the raw request
        assert "javascript:[@click=app.quit]x[/]" in text  # the HAR problem, as a notification
        assert "cdn.shop.example\\x1b]0;pwned\\x07[@click=app.quit]x[/]" in text  # log pane and notification
        # The literal payload in the list, the detail pane and the notifications: clicking it does nothing.
        assert await click_each(pilot, app, ACTION) >= 4

        events.focus()
        await pilot.press("end")  # the TikTok event: its JSON body in the detail pane
        await until(pilot, lambda: r"event_id order-1042\x1b[2J" in screen_text(app))
        text = await detail_scrolled_through(pilot, app)
        assert_inert(text)
        assert SHOWN_TIKTOK_EVENT in text
        assert r'"content_id": "mug\u001b]52;c;cHduZWQ=\u0007"' in text  # the body, as JSON shows it
        assert r'"value": "14.9\x9b31m"' in text

        await pilot.press("s")  # the summary's tables
        await until(pilot, lambda: "Events per platform" in screen_text(app))
        lines = screen_lines(app)
        assert_inert(screen_text(app))
        assert not actions_on_screen(lines)
        assert SHOWN_EVENT in screen_text(app)
        await click_each(pilot, app, ACTION)
    assert app.return_code in (None, 0)


async def test_copying_writes_base64_clipboard_sequences_only(monkeypatch):
    monkeypatch.setattr("pixelspy.tui.clipboard.pyperclip", None)  # no system clipboard: the terminal's
    session = hostile_session()
    app = PixelSpyApp(session, None)
    async with app.run_test(size=(120, 30)) as pilot:
        written: list[str] = []
        write = app._driver.write
        app._driver.write = lambda data: (written.append(data), write(data))[1]
        await pilot.press("home", "y", "Y")
        await pilot.pause()
    meta = next(ev for ev in session if ev.platform == "meta")
    osc = [w for w in written if w.startswith("\x1b]52;")]
    assert len(osc) == 2
    payloads = [re.fullmatch(r"\x1b\]52;c;([A-Za-z0-9+/]*=*)\x07", w).group(1) for w in osc]
    copied_json, copied_curl = (base64.b64decode(p).decode() for p in payloads)
    # The JSON is the event's, with the characters a terminal acts on as \uXXXX escapes (pasted
    # into a terminal it stays inert); the curl line keeps the request as sent.
    assert json.loads(copied_json) == json.loads(json.dumps({**meta.json_line(),
                                                             "device": session.devices.name(meta.client)}))
    assert not hidden_characters(copied_json)
    assert "\\u009b31m" in copied_json
    assert "%1B%5D52%3Bc%3BcHduZWQ%3D%07" in copied_curl  # the URL as sent, percent-encoded


async def test_columns_stay_aligned_with_wide_and_zero_width_characters():
    session = Session()
    names = ["PageView", "購入イベント完了購入イベント完了購入イベント完了購入イベント完了", "🛒🛒 Cart",
             "Cafe\u0301 visit", "Lead\u200b"]
    for i, name in enumerate(names):
        query = urlencode({"id": "1234567890123456", "ev": name, "dl": "https://shop.example/",
                           "cd[value]": "14.90", "cd[currency]": "EUR", "fbp": "fb.1.1764075720000.1596403881"})
        session.ingest(RawHit(method="GET", url="https://www.facebook.com/tr/?" + query, time=T0 + i,
                              client="127.0.0.1"))
    app = PixelSpyApp(session, None)
    async with app.run_test(size=(100, 20)) as pilot:
        events = app.query_one(EventList)
        await until(pilot, lambda: events.row_count == len(names))
        spans = {}  # column name -> (first cell, last cell + 1)
        start = 0
        for name, w in events.columns():
            spans[name] = (start, start + w)
            start += w + 1
        rows = [events.render_line(y) for y in range(1, len(names) + 1)]
        for strip in rows:
            assert strip.cell_length == events.size.width
            cells = {name: strip.crop(*span).text.strip() for name, span in spans.items()}
            assert cells["value"] == "14.90 EUR", cells
            assert cells["findings"] in ("✓", "ℹ 1", "⚠ 1"), cells
            assert cells["pixel"] == "1234567890123456", cells
        event_cells = [strip.crop(*spans["event"]).text for strip in rows]
        assert event_cells[1].endswith("…") and "購入イベント" in event_cells[1]
        assert "\\u200b" in event_cells[4]  # the zero-width space is shown, not hidden


# ------------------------------------------------------------------------------ check, JSON, stderr


@pytest.mark.parametrize("fmt", ["text", "junit"])
def test_check_text_and_junit_reports_are_inert(tmp_path, capsys, fmt):
    har = hostile_har(tmp_path)
    code = cli.main(["check", str(har), "--format", fmt])
    out = capsys.readouterr().out
    assert code == 2  # the markup entry could not be read
    assert_inert(out)
    if fmt == "junit":
        out = html.unescape(out)
    assert SHOWN_PIXEL in out and SHOWN_EVENT in out and SHOWN_PAGE in out and SHOWN_TIKTOK_EVENT in out
    assert "javascript:[@click=app.quit]x[/]" in out


def test_check_json_report_escapes_what_terminals_act_on(tmp_path, capsys):
    cli.main(["check", str(hostile_har(tmp_path)), "--format", "json"])
    out = capsys.readouterr().out
    assert_inert(out)
    doc = json.loads(out)
    shown = {(f["event"]["event"], f["event"]["page_url"]) for f in doc["files"][0]["findings"]}
    assert (EVENT, PAGE) in shown and (TIKTOK_EVENT, PAGE) in shown  # the same values, escaped


def test_json_lines_escape_c1_and_bidi_and_keep_everything_else(tmp_path, capsys):
    session = Session()
    out = io.StringIO()
    session.subscribe(JsonLines(session, out))
    plain = RawHit(method="GET", url="https://www.facebook.com/tr/?id=1234567890123456&ev=Purchase&"
                                     "dl=https%3A%2F%2Fshop.example%2Fcaf%C3%A9&cd[content_name]=%E8%B3%BC%E5%85%A5",
                   time=T0, client="127.0.0.1")
    for hit in [plain, *hostile_hits()]:
        session.ingest(hit)
    lines = out.getvalue().splitlines(keepends=True)
    assert_inert(out.getvalue())
    assert [json.loads(line)["event"] for line in lines] == ["Purchase", EVENT, TIKTOK_EVENT]
    # An event without such characters prints exactly as json.dumps(ensure_ascii=False) writes it.
    first = session.get(json.loads(lines[0])["id"])
    assert lines[0] == json.dumps({**first.json_line(), "device": "127.0.0.1"}, ensure_ascii=False) + "\n"
    assert "café" in lines[0] and "購入" in lines[0]
    assert "\\u009b31m\\u202e" in lines[2]

    # `pixelspy open --no-ui`: JSON lines on stdout, the file's problems on stderr.
    assert cli.main(["open", "--no-ui", str(hostile_har(tmp_path))]) == 0
    captured = capsys.readouterr()
    assert_inert(captured.out + captured.err)
    assert [json.loads(line)["event"] for line in captured.out.splitlines()] == [EVENT, TIKTOK_EVENT]
    assert "javascript:[@click=app.quit]x[/]" in captured.err


def test_stderr_log_of_headless_mode_is_inert(capsys):
    """`pixelspy --no-ui` prints warnings to stderr; this one names a client's SNI, from the wire."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("pixelspy")
    logger.addHandler(handler)
    try:
        client = SimpleNamespace(sni="shop.example" + TITLE + C1_CSI + RLO, peername=("10.0.0.7", 50000),
                                 error="The client does not trust the proxy's certificate for shop.example")
        PixelSpy(Session()).tls_failed_client(SimpleNamespace(context=SimpleNamespace(client=client)))
    finally:
        logger.removeHandler(handler)
    assert records
    for record in records:
        live._stderr_log(record)
    err = capsys.readouterr().err
    assert_inert(err)
    assert r"shop.example\x1b]0;pwned\x07\x9b31m\u202e" in err


@pytest.mark.parametrize("text, shown", [
    (OSC52, r"\x1b]52;c;cHduZWQ=\x07"), (CLEAR, r"\x1b[2J"), ("a\x9bb\x7f", r"a\x9bb\x7f"),
    ("x\u2066y\u2069\u061c", r"x\u2066y\u2069\u061c"), ("tag\U000e0041", r"tag\U000e0041"),
    ("line\nnext\tcol\r", r"line\nnext\tcol\r"), ("購入 e\u0301 🛒 [b]", "購入 e\u0301 🛒 [b]"),
])
def test_inert_shows_each_hidden_character_as_its_escape(text, shown):
    from pixelspy.inert import inert

    assert inert(text) == shown
