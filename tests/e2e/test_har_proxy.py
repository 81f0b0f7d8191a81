"""`pixelspy --no-ui --sink --har FILE`: the HAR on disk is valid while running, after kill -9, and on exit."""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest

from pixelspy import har
from pixelspy.session import Session

PIXEL = "1234567890123456"
EMAIL = "jane.doe@example.com"


def read_har(path) -> dict:
    doc = json.loads(path.read_text())
    assert doc["log"]["version"] == "1.2" and doc["log"]["creator"]["name"] == "pixelspy"
    return doc


def test_har_survives_kill_minus_9(pixelspy_factory, tmp_path):
    out = tmp_path / "out.har"
    p = pixelspy_factory("--sink", "--har", str(out))
    assert read_har(out)["log"]["entries"] == []  # written at start: a bad path shows at once
    with p.client() as c:
        c.get("https://www.facebook.com/tr/", params={"id": PIXEL, "ev": "PageView", "dl": "https://shop.example/",
                                                     "ts": "1700000000000"},
              headers={"cookie": "sid=very-secret-session"})
        c.post("https://www.facebook.com/tr/", data={"id": PIXEL, "ev": "Purchase", "cd[value]": "49.90",
                                                     "cd[currency]": "EUR", "ud[em]": EMAIL})
        c.get("https://www.facebook.com/privacy_sandbox/pixel/register/trigger/",
              params={"id": PIXEL, "ev": "PageView", "ts": "1700000000000", "rqm": "FGET"})
    # The sandbox trigger is the PageView's twin: two events, three recorded requests.
    lines = p.wait_for(lambda evs: len(evs) == 2 and evs[0]["twins"])
    time.sleep(2.0)  # ≥ one periodic flush
    p.proc.kill()
    p.proc.wait(10)
    doc = read_har(out)
    entries = doc["log"]["entries"]
    assert len(entries) == 3
    embedded = [line for e in entries for line in e["_pixelspy"]["events"]]
    assert sorted(line["id"] for line in embedded) == sorted(line["id"] for line in lines)
    purchase = next(line for line in embedded if line["event"] == "Purchase")
    assert (purchase["value"], purchase["currency"]) == ("49.90", "EUR")
    assert {e["response"]["status"] for e in entries} == {200, 204}  # the sink's answers, from mitmproxy
    text = out.read_text()
    assert "very-secret-session" not in text and EMAIL not in text
    assert doc["log"]["_pixelspy"]["redacted"] is True
    # The file reopens with the same events.
    s = Session()
    result = har.load_file(out, s)
    assert result.problems == [] and sorted(ev.event for ev in s) == ["PageView", "Purchase"]
    assert len(next(ev for ev in s if ev.event == "PageView").twins) == 1
    assert {ev.client for ev in s} == {"127.0.0.1"}


class _Page(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = f"<html>contact {EMAIL}</html>".encode()
        self.wfile.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)

    def log_message(self, *a):
        pass


@pytest.fixture
def site():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_har_all_no_redact_and_written_on_exit(pixelspy_factory, tmp_path, site):
    out = tmp_path / "all.har"
    p = pixelspy_factory("--sink", "--har", str(out), "--har-all", "--no-redact")
    with p.client() as c:
        assert c.get(f"{site}/checkout/thanks").status_code == 200
        c.get("https://www.facebook.com/tr/", params={"id": PIXEL, "ev": "PageView", "ud[em]": EMAIL})
    p.wait_for(lambda evs: len(evs) == 1)
    assert p.stop() == 0  # SIGTERM: a clean exit writes the file at once
    doc = read_har(out)
    urls = [e["request"]["url"] for e in doc["log"]["entries"]]
    assert urls[0] == f"{site}/checkout/thanks" and urls[1].startswith("https://www.facebook.com/tr/")
    assert doc["log"]["entries"][0]["response"]["content"]["text"] == f"<html>contact {EMAIL}</html>"
    assert doc["log"]["_pixelspy"] == {"redacted": False, "traffic": "all"}
    assert EMAIL in doc["log"]["entries"][1]["request"]["url"].replace("%40", "@")


def test_har_all_needs_har(pixelspy_factory, tmp_path):
    with pytest.raises(RuntimeError, match="--har-all needs --har FILE"):
        pixelspy_factory("--har-all")
