"""Decompression bombs while recording (`--har`, the bug-report path), through a running proxy: a
brotli and a gzip tracking hit, and under --har-all a brotli page from a 127.0.0.1 server, each
inflating to 256 MB (the issue's were 1 GiB: the same bytes repeated, slower to build). The proxy's
memory stays bounded and every entry is in the file written at exit, an over-size body cut with a note."""

from __future__ import annotations

import base64
import http.server
import json
import resource
import time

import pytest

from pixelspy import har
from tests.adversarial.bombs import MB, brotli_bomb, gzip_bomb
from tests.conftest import local_server

BOMB = 256 * MB
# Growth of the proxy's peak RSS the three bombs may cause; one inflated whole (bytes, then text)
# would add twice BOMB.
PEAK_GROWTH_LIMIT_MB = 200
# A guard, not the measure: an unbounded inflate fails here instead of taking the machine's memory.
ADDRESS_SPACE_LIMIT = 3 << 30


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return {"br": brotli_bomb(BOMB), "gzip": gzip_bomb(BOMB)}


def proc_status_mb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":")) // 1024


def test_bombs_while_recording_stay_bounded_and_are_recorded_cut(pixelspy_factory, tmp_path, bombs):
    class BombPage(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.wfile.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-encoding: br\r\n"
                             b"content-length: " + str(len(bombs["br"])).encode() + b"\r\n\r\n" + bombs["br"])

        def log_message(self, *a):
            pass

    out = tmp_path / "bombs.har"
    with local_server(BombPage) as site:
        p = pixelspy_factory("--sink", "--har", str(out), "--har-all")
        resource.prlimit(p.proc.pid, resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))
        start_rss = proc_status_mb(p.proc.pid, "VmRSS")
        sent = {}
        with p.client() as c:
            for coding in ("br", "gzip"):
                url = f"http://www.facebook.com/tr/?coding={coding}"
                sent[url] = bombs[coding]
                r = c.post(url, content=bombs[coding], headers={
                    "content-type": "application/x-www-form-urlencoded", "content-encoding": coding})
                assert r.status_code == 204  # the sink's answer
            assert c.get(f"{site}/landing").status_code == 200
        p.wait_for(lambda evs: len(evs) == 2)
        time.sleep(0.5)  # the page's flow recorded too
        peak_growth = proc_status_mb(p.proc.pid, "VmHWM") - start_rss
        assert p.stop() == 0  # the file is written at exit
    assert peak_growth < PEAK_GROWTH_LIMIT_MB
    entries = json.loads(out.read_text())["log"]["entries"]

    by_url = {e["request"]["url"]: e for e in entries}
    assert len(by_url) == 3
    page = by_url[f"{site}/landing"]["response"]
    assert page["bodySize"] == len(bombs["br"])
    assert {"name": "content-encoding", "value": "br"} in page["headers"]  # the headers as sent
    content = page["content"]
    assert content["comment"] == ("body truncated by pixelspy: it decodes to more than 256 KB; "
                                  "the first 256 KB are kept")
    assert base64.b64decode(content["text"]) == bytes(har.MAX_RESPONSE_TEXT)
    for url, body in sent.items():
        post = by_url[url]["request"]["postData"]
        kept = base64.b64decode(post["text"]) if post.get("encoding") == "base64" else post["text"].encode()
        # The body as sent, or (redaction cut what it looked into) a cut one that says so.
        assert kept == body or "cut by pixelspy" in post["comment"], url
        assert by_url[url]["_pixelspy"]["events"]  # decoded (with a decode error), not lost
