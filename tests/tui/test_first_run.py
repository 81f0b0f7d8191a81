"""What a new user sees before the first event: a refused certificate, an empty table."""

from __future__ import annotations

import asyncio
import socket
import ssl

from pixelspy.proxy import Proxy, ProxyConfig
from pixelspy.session import Session
from pixelspy.tui.app import PixelSpyApp
from tests.conftest import free_port
from tests.tui.test_app import until


def refuse_certificate(port: int, host: str) -> None:
    """A client without pixelspy's CA (Python's default verification, as a browser's): CONNECT
    through the proxy, then a TLS handshake that refuses the proxy's certificate."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
        assert b" 200 " in sock.recv(4096)
        try:
            ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        except ssl.SSLCertVerificationError:
            return
    raise AssertionError("the client accepted the proxy's certificate")


async def refuse_page_load(port: int) -> None:
    """A page load: many handshakes, to two hosts."""
    for host in ["www.facebook.com"] * 4 + ["analytics.tiktok.com"] * 2:
        await asyncio.to_thread(refuse_certificate, port, host)


async def test_a_refused_certificate_is_a_toast_and_a_lasting_line_once_per_device_and_host(tmp_path):
    port = free_port()
    app = PixelSpyApp(Session(), ProxyConfig(port=port, confdir=str(tmp_path / "mitm")))
    async with app.run_test(size=(120, 40)) as pilot:
        assert not app.cert_notice.display
        await refuse_page_load(port)
        await until(pilot, lambda: len(app._notifications) == 2)
        await pilot.pause(0.3)
        toasts = list(app._notifications)
        assert len(toasts) == 2  # not one per handshake
        assert [t.title for t in toasts] == ["Certificate not trusted"] * 2
        assert "www.facebook.com" in toasts[0].message and "http://mitm.it" in toasts[0].message
        assert "analytics.tiktok.com" in toasts[1].message
        assert app.cert_notice.display
        line = str(app.cert_notice.content)
        assert "certificate not trusted" in line and "analytics.tiktok.com (+1 more)" in line
        assert "http://mitm.it" in line


async def test_no_ui_prints_one_line_per_device_and_host(tmp_path, capsys):
    from pixelspy.cli.live import _stderr_log

    port = free_port()
    proxy = Proxy(Session(), ProxyConfig(port=port, confdir=str(tmp_path / "mitm")), on_log=_stderr_log)
    await proxy.start()
    try:
        await refuse_page_load(port)
        await asyncio.sleep(0.2)
    finally:
        await proxy.stop()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    assert "www.facebook.com" in lines[0] and "analytics.tiktok.com" in lines[1]
    assert all(line.startswith("pixelspy: warning: certificate not trusted: 127.0.0.1 ") and "http://mitm.it" in line
               and "--confdir" in line for line in lines)


def screen_text(app: PixelSpyApp) -> str:
    return "\n".join(app.event_list.render_line(y).text for y in range(app.event_list.size.height))


async def test_an_empty_live_table_says_how_to_connect_until_the_first_hit(tmp_path):
    from pixelspy.model import RawHit

    port = free_port()
    app = PixelSpyApp(Session(), ProxyConfig(port=port, confdir=str(tmp_path / "mitm")))
    async with app.run_test(size=(120, 40)) as pilot:
        text = screen_text(app)
        assert f"chromium --proxy-server=127.0.0.1:{port}" in text
        assert "press c" in text and "http://mitm.it" in text
        app.session.ingest(RawHit(method="GET", url="https://www.facebook.com/tr/?id=1234567890123456&ev=PageView"))
        await until(pilot, lambda: app.event_list.row_count == 1)
        assert "chromium" not in screen_text(app) and "PageView" in screen_text(app)


async def test_opening_a_file_without_tracking_events_says_so(tmp_path):
    import json

    har = tmp_path / "nothing.har"
    har.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": [{
        "startedDateTime": "2026-11-25T13:02:00.000Z", "time": 1,
        "request": {"method": "GET", "url": "https://shop.example/", "httpVersion": "HTTP/1.1", "headers": [],
                    "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": [], "cookies": [],
                     "content": {"size": 0, "mimeType": "text/html"}, "redirectURL": "", "headersSize": -1,
                     "bodySize": 0},
        "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}}]}}))
    app = PixelSpyApp(Session(), None, load=har)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "nothing.har holds no tracking events" in screen_text(app))
        assert "chromium" not in screen_text(app)
