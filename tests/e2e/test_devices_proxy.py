"""Phones and other devices, end to end: proxy auth, two clients, TLS failures, upstream mode."""

from __future__ import annotations

import http.server
import ssl
import threading

import httpcore
import httpx
import pytest

PIXEL = "1234567890123456"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.4 Mobile/15E148 Safari/604.1")
ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.0.0 Mobile Safari/537.36")


def test_proxy_auth_rejects_without_credentials_and_accepts_with(pixelspy_factory):
    px = pixelspy_factory("--sink", "--auth", "alice:s3cret")
    url = f"https://www.facebook.com/tr/?id={PIXEL}&ev=PageView"
    ca = ssl.create_default_context(cafile=str(px.confdir / "mitmproxy-ca-cert.pem"))
    with httpx.Client(proxy=px.proxy_url, verify=ca) as c:
        with pytest.raises(httpx.ProxyError, match="407"):
            c.get(url)
    with httpx.Client(proxy=f"http://alice:s3cret@127.0.0.1:{px.port}", verify=ca) as c:
        assert c.get(url).status_code == 200
    (ev,) = px.wait_for(lambda evs: len(evs) == 1)
    assert ev["event"] == "PageView"


class _BoundBackend(httpcore.SyncBackend):
    """Connects from a given local address (httpx/httpcore don't bind tunnelled proxy connections)."""

    def __init__(self, address: str):
        self.address = address

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return super().connect_tcp(host, port, timeout, self.address, socket_options)


def get_from(px, address: str, user_agent: str, url: str) -> int:
    """A request from another loopback address, i.e. another device as far as the proxy can tell."""
    ca = ssl.create_default_context(cafile=str(px.confdir / "mitmproxy-ca-cert.pem"))
    with httpcore.HTTPProxy(proxy_url=px.proxy_url, ssl_context=ca,
                            network_backend=_BoundBackend(address)) as pool:
        return pool.request("GET", url, headers={"user-agent": user_agent}).status


def test_two_clients_are_two_named_devices(pixelspy):
    for address, ua in (("127.0.0.2", IPHONE), ("127.0.0.3", ANDROID)):
        url = f"https://www.facebook.com/tr/?id={PIXEL}&ev=AddToCart&eid=atc-1"
        assert get_from(pixelspy, address, ua, url) == 200
    evs = pixelspy.wait_for(lambda evs: len(evs) == 2)
    assert {(e["client"], e["device"]) for e in evs} == {
        ("127.0.0.2", "iPhone Safari 127.0.0.2"), ("127.0.0.3", "Pixel 8 Chrome 127.0.0.3")}
    # The same event from two devices is not a duplicate: state is per device.
    assert not any(f["code"] == "duplicate-event" for e in evs for f in e["findings"])


def test_chrome_and_curl_on_one_machine_are_two_devices(pixelspy):
    # Every desktop client comes from 127.0.0.1: after a curl, Chrome must still be Chrome.
    chrome = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
              "Safari/537.36")
    url = f"https://www.facebook.com/tr/?id={PIXEL}&ev=AddToCart&eid=atc-1"
    for ua in ("curl/8.5.0", chrome, chrome):
        assert get_from(pixelspy, "127.0.0.1", ua, url) == 200
    evs = pixelspy.wait_for(lambda evs: len({e["id"] for e in evs}) == 3)
    latest = {e["id"]: e for e in evs}  # an event is printed again when its findings change
    assert sorted((e["client"], e["device"]) for e in latest.values()) == [
        ("127.0.0.1", "Linux Chrome 127.0.0.1"), ("127.0.0.1", "Linux Chrome 127.0.0.1"),
        ("127.0.0.1", "curl 127.0.0.1")]
    duplicates = {e["device"] for e in latest.values() if any(f["code"] == "duplicate-event" for f in e["findings"])}
    assert duplicates == {"Linux Chrome 127.0.0.1"}  # Chrome's second AddToCart, not curl's


def test_a_client_that_does_not_trust_the_ca_gets_a_certificate_hint(pixelspy):
    with httpx.Client(proxy=pixelspy.proxy_url) as c:  # system CAs only: pixelspy's CA not trusted
        with pytest.raises(httpx.ConnectError):
            c.get(f"https://www.facebook.com/tr/?id={PIXEL}&ev=PageView")
    pixelspy.wait_for(lambda evs: any("certificate not trusted" in line and "www.facebook.com" in line
                                      for line in pixelspy.stderr_lines), timeout=10)


class _RecordingProxy(http.server.BaseHTTPRequestHandler):
    """A stand-in corporate proxy: answers absolute-form requests itself and records them."""

    seen: list[str] = []

    def do_GET(self):
        self.seen.append(self.path)
        body = b"via corporate proxy"
        self.wfile.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))

    def log_message(self, *a):
        pass


def test_upstream_mode_chains_to_a_corporate_proxy(pixelspy_factory):
    corp = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RecordingProxy)
    threading.Thread(target=corp.serve_forever, daemon=True).start()
    try:
        px = pixelspy_factory("--sink", "--mode", f"upstream:http://127.0.0.1:{corp.server_address[1]}")
        with httpx.Client(proxy=px.proxy_url) as c:
            r = c.get("http://intranet.example/page")
            c.get(f"http://www.facebook.com/tr/?id={PIXEL}&ev=PageView")
        assert r.text == "via corporate proxy"
        assert _RecordingProxy.seen == ["http://intranet.example/page"]  # the pixel hit was sunk locally
        (ev,) = px.wait_for(lambda evs: len(evs) == 1)
        assert ev["event"] == "PageView"
    finally:
        corp.shutdown()


def test_a_phone_gets_the_ca_from_mitm_it_through_the_proxy(pixelspy):
    # The page a phone opens to install the certificate (README); pixelspy keeps mitmproxy's
    # onboarding addon among the few it loads (proxy.proxy_addons).
    with httpx.Client(proxy=pixelspy.proxy_url) as c:
        page = c.get("http://mitm.it/")
        pem = c.get("http://mitm.it/cert/pem")
    assert page.status_code == 200 and "Install mitmproxy's Certificate Authority" in page.text
    assert pem.status_code == 200
    assert pem.content == (pixelspy.confdir / "mitmproxy-ca-cert.pem").read_bytes()
