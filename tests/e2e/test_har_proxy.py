"""`pixelspy --no-ui --sink --har FILE`: a valid HAR on disk from the start, its entries written on exit
(from the session file; from memory with --har-all), recovered from the session file after kill -9."""

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


@pytest.mark.parametrize("end", ["exit", "kill -9"])
def test_har_is_written_at_exit_and_recovered_from_the_session_file_after_kill_minus_9(pixelspy_factory,
                                                                                       tmp_path, end):
    """--har: a HAR without entries at start (a bad path shows at once), the entries when pixelspy
    exits; after kill -9 the session file has them: `pixelspy open SESSION --har OUT`."""
    from pixelspy import cli

    out, session_file = tmp_path / "out.har", tmp_path / "live.pixelspy"
    p = pixelspy_factory("--sink", "--har", str(out), "--session", str(session_file))
    started = read_har(out)["log"]
    assert started["entries"] == [] and f"pixelspy open {session_file} --har {out}" in started["comment"]
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
    if end == "exit":
        assert p.stop() == 0
        assert "pixelspy: wrote 3 entries to " + str(out) in p.stderr_lines
    else:
        time.sleep(0.5)  # the session file commits every 0.1 s
        p.proc.kill()
        p.proc.wait(10)
        assert read_har(out)["log"]["entries"] == []  # never written: the session file has everything
        out = tmp_path / "recovered.har"
        assert cli.main(["open", str(session_file), "--har", str(out)]) == 0
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
    assert doc["log"]["_pixelspy"] == {"redacted": True, "traffic": "tracking"}
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
