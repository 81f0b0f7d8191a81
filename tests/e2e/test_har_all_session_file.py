"""--har-all with a session file (the default): every flow goes into the session file as the tracking hits
do, so Ctrl+S, --har at exit and `pixelspy open SESSION --har` after kill -9 all hold every flow, the
site's own pages beside the tracking hits, with memory keeping none of them."""

from __future__ import annotations

import http.server
import json
import time

from pixelspy import cli
from pixelspy.cli.live import live_parser
from pixelspy.cli.recording import start_recording
from pixelspy.har import HarRecorder
from pixelspy.proxy import ProxyConfig
from pixelspy.session import Session
from tests.conftest import free_port, local_server

PIXEL = "1234567890123456"
PAGE = b"<html><title>Thanks for your order</title></html>"


class _Shop(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.wfile.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: "
                         + str(len(PAGE)).encode() + b"\r\n\r\n" + PAGE)

    def log_message(self, *a):
        pass


def flows_of(path) -> tuple[str, list[tuple[str, int]]]:
    """(the log's traffic, (url, status) of each entry)."""
    log = json.loads(path.read_text())["log"]
    return log["_pixelspy"]["traffic"], [(e["request"]["url"].split("?")[0], e["response"]["status"])
                                         for e in log["entries"]]


async def test_ctrl_s_and_har_at_exit_hold_every_flow(tmp_path):
    from tests.tui.test_app import save_with_ctrl_s, send_hits, until

    from pixelspy.tui.app import PixelSpyApp

    port, saved, at_exit = free_port(), tmp_path / "saved.har", tmp_path / "exit.har"
    args = live_parser().parse_args(["--sink", "--har", str(at_exit), "--har-all",
                                     "--session", str(tmp_path / "live.pixelspy")])
    config = ProxyConfig(port=port, sink=True, confdir=str(tmp_path / "mitm"))
    session = Session()
    recording = start_recording(args, session, config)
    assert not any(isinstance(a, HarRecorder) for a in config.addons)  # memory keeps no flow
    app = PixelSpyApp(session, config)
    try:
        with local_server(_Shop) as shop:
            async with app.run_test(size=(120, 30)) as pilot:
                await send_hits(port, tmp_path / "mitm", [
                    ("GET", dict(url=f"{shop}/checkout/thanks")),
                    ("GET", dict(url="https://www.facebook.com/tr/", params={"id": PIXEL, "ev": "Purchase",
                                                                             "cd[value]": "49.90"})),
                ])
                await until(pilot, lambda: app.event_list.row_count == 1)
                await pilot.pause(0.3)  # the flows' answers recorded
                await save_with_ctrl_s(pilot, app, saved)
                await pilot.press("q")
    finally:
        recording.close(tell=False)
    expected = ("all", [(f"{shop}/checkout/thanks", 200), ("https://www.facebook.com/tr/", 200)])
    assert flows_of(saved) == expected
    assert flows_of(at_exit) == expected
    page = json.loads(saved.read_text())["log"]["entries"][0]
    assert page["response"]["content"]["text"] == PAGE.decode() and page["_pixelspy"]["events"] == []


def test_every_flow_survives_kill_minus_9_in_the_session_file(pixelspy_factory, tmp_path):
    session_file, out = tmp_path / "live.pixelspy", tmp_path / "recovered.har"
    with local_server(_Shop) as shop:
        p = pixelspy_factory("--sink", "--har", str(tmp_path / "never.har"), "--har-all",
                             "--session", str(session_file))
        with p.client() as c:
            assert c.get(f"{shop}/checkout/thanks").status_code == 200
            c.get("https://www.facebook.com/tr/", params={"id": PIXEL, "ev": "PageView"})
        p.wait_for(lambda evs: len(evs) == 1)
        time.sleep(0.5)  # the session file commits every 0.1 s
        p.proc.kill()
        p.proc.wait(10)
    assert cli.main(["open", str(session_file), "--har", str(out)]) == 0
    assert flows_of(out) == ("all", [(f"{shop}/checkout/thanks", 200), ("https://www.facebook.com/tr/", 200)])
