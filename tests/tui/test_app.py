"""TUI with Textual's Pilot: a real proxy in the app's loop, hits sent through it over HTTPS."""

from __future__ import annotations

import ssl
import time

import httpx
from textual.widgets import Input

from pixelspy.proxy import ProxyConfig
from pixelspy.session import Session
from pixelspy.tui.app import PixelSpyApp
from pixelspy.tui.detail import EventDetail
from pixelspy.tui.event_list import EventList
from tests.conftest import free_port

PIXEL = "1234567890123456"


def detail_text(app: PixelSpyApp) -> str:
    from rich.console import Console

    console = Console(width=160, record=True)
    console.print(app.query_one(EventDetail).query_one("#detail-body").content)
    return console.export_text()


async def until(pilot, condition, timeout: float = 10) -> None:
    """Let the app run until condition() holds (a loaded machine renders slower)."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    assert condition()


async def save_with_ctrl_s(pilot, app, out) -> None:
    """Ctrl+S, the path `out` typed into the prompt, Enter; back once the file exists."""
    from textual.widgets import Input

    await pilot.press("ctrl+s")
    await until(pilot, lambda: app.screen.query(Input))
    app.screen.query_one(Input).value = str(out)
    await pilot.press("enter")
    await until(pilot, out.exists)


async def send_hits(port: int, confdir, hits: list[tuple[str, dict]]) -> None:
    ca = ssl.create_default_context(cafile=str(confdir / "mitmproxy-ca-cert.pem"))
    async with httpx.AsyncClient(proxy=f"http://127.0.0.1:{port}", verify=ca, timeout=10) as c:
        for method, kw in hits:
            r = await c.request(method, **kw)
            assert r.status_code in (200, 204)


async def test_hits_through_the_proxy_become_rows_and_detail(tmp_path):
    port = free_port()
    config = ProxyConfig(port=port, sink=True, confdir=str(tmp_path / "mitm"))
    app = PixelSpyApp(Session(), config)
    async with app.run_test(size=(120, 40)) as pilot:
        await send_hits(port, tmp_path / "mitm", [
            ("GET", dict(url="https://www.facebook.com/tr/", params={"id": PIXEL, "ev": "PageView",
                                                                     "dl": "https://shop.example/"})),
            ("POST", dict(url="https://www.facebook.com/tr/", data={
                "id": PIXEL, "ev": "Purchase", "cd[value]": "12.50", "cd[currency]": "EUR", "eid": "o-1"})),
        ])
        events = app.query_one(EventList)
        # Follows the newest event: the Purchase is selected and shown.
        await until(pilot, lambda: events.row_count == 2 and "Purchase" in detail_text(app))
        text = detail_text(app)
        assert "Purchase" in text and "cd[currency]" in text and "EUR" in text and "o-1" in text
        await pilot.press("up")
        await until(pilot, lambda: "PageView" in detail_text(app))
        text = detail_text(app)
        assert "PageView" in text and "https://shop.example/" in text
        assert "Purchase" not in text
        await pilot.press("q", "y")  # (unsaved: quit asks first)
        await until(pilot, lambda: app.proxy is None)
    assert app.proxy is None  # quit stopped the proxy


async def test_filter_narrows_rows_and_escape_restores(tmp_path):
    from pixelspy.model import RawHit

    session = Session()
    for ev in ("PageView", "Purchase", "AddToCart"):
        session.ingest(RawHit(method="GET", url=f"https://www.facebook.com/tr/?id={PIXEL}&ev={ev}"))
    app = PixelSpyApp(session, None)
    async with app.run_test(size=(100, 30)) as pilot:
        events = app.query_one(EventList)
        assert events.row_count == 3
        await pilot.press("slash", *"purchase", "enter")
        await pilot.pause()
        assert events.row_count == 1
        assert session.get(events.selected_id).event == "Purchase"
        await pilot.press("escape")
        await pilot.pause()
        assert events.row_count == 3


async def test_phone_setup_panel_in_lan_mode_shows_address_qr_and_warning(tmp_path, monkeypatch):
    from pixelspy.tui import screens

    monkeypatch.setattr(screens, "lan_addresses", lambda: ["192.168.1.50"])
    port = free_port()
    config = ProxyConfig(listen_host="0.0.0.0", port=port, sink=True, confdir=str(tmp_path / "mitm"),
                         proxyauth="qa:pw")
    app = PixelSpyApp(Session(), config)
    async with app.run_test(size=(120, 60)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, screens.PhoneSetupScreen)
        from rich.console import Console

        console = Console(width=120, record=True)
        console.print(screen.instructions())
        text = console.export_text()
        assert f"server 192.168.1.50, port {port}" in text
        assert "reachable from your network" in text and "http://mitm.it" in text
        assert f"192.168.1.50:{port}" in text and "█" in text  # the QR payload and the QR itself
        # 120 columns: both QR codes in one row, the address also in large digits (3 lines).
        assert any("Proxy (host:port)" in line and "Certificate page" in line for line in text.splitlines())
        assert "╶┴╴╶─╯╰─╴•" in text  # "192." in Digits
        await pilot.press("escape")
        status = str(app.status.content)
        assert "reachable from the network" in status


async def test_pause_mark_jump_related_and_palette_commands():
    from pixelspy.model import RawHit
    from pixelspy.session import Mark

    session = Session()
    url = f"https://www.facebook.com/tr/?id={PIXEL}&ev=AddToCart&eid=atc-7"
    session.ingest(RawHit(method="GET", url=url, client="127.0.0.1"))
    app = PixelSpyApp(session, None)
    async with app.run_test(size=(100, 30)) as pilot:
        # A second identical hit is a duplicate: both are linked, and j jumps between them.
        session.ingest(RawHit(method="GET", url=url, client="127.0.0.1"))
        events = app.event_list
        await until(pilot, lambda: len(events.visible_ids()) == 2 and events.selected_id == events.visible_ids()[1])
        first, second = events.visible_ids()
        await pilot.press("j")
        await until(pilot, lambda: events.selected_id == first)
        # m inserts a named divider.
        await pilot.press("m", *"clicked Buy", "enter")
        await until(pilot, lambda: isinstance(events._rows[-1], Mark))
        assert events._rows[-1].label == "clicked Buy"
        # The palette lists the same actions; a session without a proxy (a file opened) has no
        # live-proxy controls: p and c do nothing and are not offered.
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Mark", "Clear session", "Summary"} <= titles
        assert not {"Pause / resume capture", "Connect a phone"} & titles
        footer_keys = {a.binding.key for a in app.screen.active_bindings.values() if a.binding.show and a.enabled}
        assert "p" not in footer_keys and "c" not in footer_keys and "m" in footer_keys
        await pilot.press("p", "c")
        assert not app.paused and app.screen is app.screen_stack[0]


async def test_live_controls_pause_capture(tmp_path):
    port = free_port()
    app = PixelSpyApp(Session(), ProxyConfig(port=port, sink=True, confdir=str(tmp_path / "mitm")))
    async with app.run_test(size=(100, 30)) as pilot:
        assert {"Pause / resume capture", "Connect a phone"} <= {c.title for c in app.get_system_commands(app.screen)}
        await pilot.press("p")
        assert app.paused and app.proxy.addon.paused
        await send_hits(port, tmp_path / "mitm", [("GET", dict(url="https://www.facebook.com/tr/",
                                                                params={"id": PIXEL, "ev": "PageView"}))])
        await pilot.pause(0.2)
        assert len(app.session) == 0


async def test_open_a_har_with_progress_then_save_it_again(tmp_path):
    import json

    from pixelspy.har import save_har
    from tests.tui.scripted import build_session

    original = build_session()
    har = tmp_path / "visit.har"
    save_har(original, har)
    app = PixelSpyApp(Session(), None, load=har)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if not app.progress.display and len(app.session):
                break
        assert len(app.session) == len(original)
        assert app.event_list.row_count == len(original)
        assert "visit.har" in str(app.status.content)
        out = tmp_path / "again.har"
        await pilot.press("ctrl+s")
        await pilot.pause()
        app.screen.query_one(Input).value = str(out)
        await pilot.press("enter")
        await pilot.pause()
    entries = json.loads(out.read_text())["log"]["entries"]
    assert len(entries) == len(original.hits) and all("_pixelspy" in e for e in entries)


async def test_wireguard_mode_shows_the_client_configuration_as_a_qr_code(tmp_path):
    from pixelspy.tui import screens

    port = free_port()
    config = ProxyConfig(listen_host="127.0.0.1", port=port, confdir=str(tmp_path / "mitm"),
                         modes=[f"wireguard@{port}"])
    app = PixelSpyApp(Session(), config)
    async with app.run_test(size=(120, 80)) as pilot:
        conf = app.proxy.wireguard_conf()
        assert conf and "[Interface]" in conf and f"Endpoint = 127.0.0.1:{port}" in conf
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, screens.PhoneSetupScreen)
        from pixelspy.network import qr_text

        heading, qr = app.screen.instructions().renderables[-1].renderables
        assert "WireGuard app" in str(heading) and str(qr) == qr_text(conf)


async def test_status_counts_events_not_marks_and_says_when_a_filter_value_is_unknown():
    from pixelspy.model import RawHit

    session = Session()
    session.ingest(RawHit(method="GET", url=f"https://www.facebook.com/tr/?id={PIXEL}&ev=Purchase&cd[value]=$5"))
    app = PixelSpyApp(session, None)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.press("m", *"checkout", "enter")
        await until(pilot, lambda: app.event_list.row_count == 2)
        status = lambda: str(app.status.content)  # noqa: E731
        await until(pilot, lambda: status().startswith("1 event · "))
        assert "shown" not in status() and "0 warnings" in status()
        await pilot.press("slash", *"sev:eror", "enter")
        await until(pilot, lambda: "unknown sev:eror" in status())
        assert "0 shown" in status()
        app.filter_box.value = "code:invalid-value code:pii-lek"
        await until(pilot, lambda: "no event has code:pii-lek yet" in status())
        assert "code:invalid-value yet" not in status() and "shown" not in status()  # the 1 event passes


async def test_a_mark_is_saved_and_comes_back_in_time_order_when_the_file_is_opened(tmp_path):
    """m, then Ctrl+S's save_har, then `open`: the mark is in the session and in the list between the
    events before and after it, its label as text (not markup)."""
    from pixelspy.har import save_har
    from pixelspy.model import RawHit
    from pixelspy.session import Mark

    def hit(ev: str, t: float) -> RawHit:
        return RawHit(method="GET", url=f"https://www.facebook.com/tr/?id={PIXEL}&ev={ev}", client="127.0.0.1", time=t)

    session = Session()
    session.ingest(hit("AddToCart", time.time() - 5))
    app = PixelSpyApp(session, None)
    label = "clicked [b]Buy[/b]"
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m", *label, "enter")
        await until(pilot, lambda: isinstance(app.event_list._rows[-1], Mark))
        session.ingest(hit("Purchase", time.time() + 5))
        await until(pilot, lambda: app.event_list.event_count == 2)
        save_har(session, tmp_path / "s.har")
    reopened = Session()
    app = PixelSpyApp(reopened, None, load=tmp_path / "s.har")  # as `pixelspy open` does
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: len(app.event_list._rows) == 3)
        assert [m.label for m in reopened.marks] == [label]
        rows = app.event_list._rows
        assert [r.label if isinstance(r, Mark) else reopened.get(r).event for r in rows] == \
            ["AddToCart", label, "Purchase"]
        assert label in "".join(s.text for s in app.event_list.render_line(2))
