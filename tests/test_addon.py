"""raw_hit: how a mitmproxy flow's request becomes the RawHit the decoders read."""

from __future__ import annotations

from mitmproxy.http import Headers
from mitmproxy.test import tflow

from pixelspy.addon import raw_hit, request_url
from pixelspy.decoders import default_registry


def _flow(path: bytes, fields: list[tuple[bytes, bytes]], host: str = "www.facebook.com"):
    flow = tflow.tflow()
    req = flow.request
    req.scheme, req.host, req.port = "https", host, 443
    req.data.path = path
    req.headers = Headers(fields)
    req.raw_content = b"ev=Purchase"
    return flow


def test_headers_keep_utf8_and_show_raw_bytes_as_replacement_characters():
    flow = _flow(b"/tr/?id=1", [(b"referer", b"https://shop.example/caf\xc3\xa9"),
                                (b"x-raw", b"a\xff\xfeb"), (b"accept", b"*/*")])
    hit = raw_hit(flow)
    assert hit.headers == (("referer", "https://shop.example/café"), ("x-raw", "a\ufffd\ufffdb"),
                           ("accept", "*/*"))
    assert hit.body == b"ev=Purchase"
    assert raw_hit(flow, with_body=False).body == b""


def test_raw_bytes_in_the_url_are_percent_encoded_as_a_browser_sends_them():
    hit = raw_hit(_flow(b"/tr/?id=1&dl=\xff", []))
    assert hit.url == "https://www.facebook.com/tr/?id=1&dl=%FF"


def test_a_host_header_in_capitals_is_the_vendor_host():
    flow = _flow(b"/tr/?id=1", [(b"host", b"WWW.Facebook.COM")])
    url = request_url(flow)
    assert url.startswith("https://WWW.Facebook.COM/")
    found = default_registry().find_url(url)
    assert found is not None and found[0].platform == "meta"
    assert raw_hit(flow, url=url).host == "www.facebook.com"
