"""End to end: `pixelspy --no-ui --sink` as a subprocess, real HTTPS through it."""

from __future__ import annotations

import hashlib
import http.server

import pytest

from tests.conftest import local_server

PIXEL = "1234567890123456"


def test_meta_hits_over_https_become_json_lines(pixelspy):
    with pixelspy.client() as c:
        r = c.get("https://www.facebook.com/tr/", params={
            "id": PIXEL, "ev": "PageView", "dl": "https://shop.example/", "ts": "1700000000000"})
        assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
        r = c.post("https://www.facebook.com/tr/", data={
            "id": PIXEL, "ev": "Purchase", "eid": "order-77", "dl": "https://shop.example/thanks",
            "cd[value]": "49.90", "cd[currency]": "EUR", "cd[content_ids]": '["sku-1","sku-2"]'})
        assert r.status_code == 204
    evs = pixelspy.wait_for(lambda evs: len(evs) == 2)
    pageview, purchase = evs
    assert (pageview["platform"], pageview["event"], pageview["pixel_id"]) == ("meta", "PageView", PIXEL)
    assert pageview["page_url"] == "https://shop.example/"
    assert purchase["event"] == purchase["standard_event"] == "Purchase"
    assert purchase["event_id"] == "order-77"
    assert (purchase["value"], purchase["currency"]) == ("49.90", "EUR")
    assert purchase["content_ids"] == ["sku-1", "sku-2"]
    assert purchase["params"]["cd[content_ids]"] == '["sku-1","sku-2"]'
    assert purchase["source"] == "browser" and purchase["client"] == "127.0.0.1"
    assert pageview["id"] != purchase["id"]


class _Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    payload = bytes(range(256)) * 64

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        out = hashlib.sha256(body).hexdigest().encode() + self.payload
        # One send: headers and body together (Nagle + delayed ACK otherwise).
        head = (f"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n"
                f"content-length: {len(out)}\r\nx-upstream: yes\r\n\r\n").encode()
        self.wfile.write(head + out)

    def log_message(self, *a):
        pass


@pytest.fixture
def upstream():
    with local_server(_Upstream) as url:
        yield url


def test_non_tracking_traffic_passes_byte_identical_and_is_not_listed(pixelspy, upstream):
    body = bytes(range(256)) * 100  # binary, not UTF-8
    with pixelspy.client() as c:
        r = c.post(f"{upstream}/upload?x=1", content=body, headers={"content-type": "application/octet-stream"})
        # A tracking hit after it proves the proxy processed both in order.
        c.get("https://www.facebook.com/tr", params={"id": PIXEL, "ev": "PageView"})
    assert r.status_code == 200 and r.headers["x-upstream"] == "yes"
    assert r.content == hashlib.sha256(body).hexdigest().encode() + _Upstream.payload
    evs = pixelspy.wait_for(lambda evs: len(evs) >= 1)
    assert [e["platform"] for e in evs] == ["meta"]


def test_garbage_tracking_body_is_a_decode_error_not_a_crash(pixelspy):
    with pixelspy.client() as c:
        r = c.post("https://www.facebook.com/tr/", content=b"\xff\xfe%zz{" + bytes(range(256)),
                   headers={"content-type": "text/plain"})
        assert r.status_code == 204
        c.get("https://www.facebook.com/tr", params={"id": PIXEL, "ev": "PageView"})
    evs = pixelspy.wait_for(lambda evs: len(evs) == 2)
    assert evs[0]["decode_errors"] and evs[1]["decode_errors"] == []
    assert pixelspy.proc.poll() is None


def test_host_header_in_capitals_is_still_a_tracking_hit(pixelspy):
    # Host names are case-insensitive: a hand-written tag or an old SDK may send them in capitals.
    # The hit must be answered locally (sink) and its body decoded, as with a lower-case Host.
    with pixelspy.client() as c:
        r = c.post("https://www.facebook.com/tr/", headers={"Host": "WWW.Facebook.COM"}, data={
            "id": PIXEL, "ev": "Purchase", "cd[value]": "9.90", "cd[currency]": "EUR"})
    assert r.status_code == 204 and r.headers["x-pixelspy"] == "sink"
    (ev,) = pixelspy.wait_for(lambda evs: len(evs) == 1)
    assert (ev["event"], ev["value"], ev["currency"]) == ("Purchase", "9.90", "EUR")
