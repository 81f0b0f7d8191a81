"""Passthrough integrity: ordinary traffic goes through `pixelspy --no-ui --sink` byte-identical.

Checked by SHA-256 on both sides against a local upstream: random binary request and response
bodies, odd paths and query strings, chunked responses, a gzip response that must stay encoded,
a 20 MB download, and a websocket upgrade with echoed messages. None of it is listed as an event.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import random
import socket
import threading
from urllib.parse import quote

import pytest
import wsproto
import wsproto.events as ws

from tests.conftest import local_server

PIXEL = "1234567890123456"


def blob(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Upstream(http.server.BaseHTTPRequestHandler):
    """GET /blob/<seed>/<size>, /chunked/<seed>, /gzip/<seed>; any method elsewhere echoes what it
    received (target, body hash, a custom header) and answers a random body."""

    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        head = f"HTTP/1.1 {status} OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        # One send for headers and body: Nagle + delayed ACK otherwise.
        self.wfile.write(head.encode() + f"content-length: {len(body)}\r\n\r\n".encode() + body)

    def _handle(self) -> None:
        received = self.rfile.read(int(self.headers.get("content-length") or 0))
        parts = self.path.split("?")[0].split("/")
        if parts[1] == "blob":
            return self._answer(200, blob(int(parts[2]), int(parts[3])), {"content-type": "application/octet-stream"})
        if parts[1] == "gzip":
            packed = gzip.compress(blob(int(parts[2]), 5000).hex().encode())
            return self._answer(200, packed, {"content-type": "text/plain", "content-encoding": "gzip",
                                              "x-sha256": sha(packed)})
        if parts[1] == "chunked":
            rng = random.Random(int(parts[2]))
            chunks = [rng.randbytes(rng.randint(1, 70_000)) for _ in range(rng.randint(1, 12))]
            self.wfile.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: application/octet-stream\r\n"
                             b"x-sha256: " + sha(b"".join(chunks)).encode() + b"\r\n\r\n")
            for c in chunks:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
            self.wfile.write(b"0\r\n\r\n")
            return
        seed = int(self.headers.get("x-seed", "0"))
        self._answer(200, blob(seed, seed % 50_000), {
            "x-target": quote(self.path, safe=""), "x-body-sha256": sha(received),
            "x-custom": self.headers.get("x-custom", ""), "content-type": "application/octet-stream"})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def log_message(self, *a):
        pass


@pytest.fixture
def upstream():
    with local_server(_Upstream) as url:
        yield url


def only_the_marker_is_listed(pixelspy, client) -> None:
    """A tracking hit after the traffic proves the proxy processed all of it, in order."""
    client.get("https://www.facebook.com/tr", params={"id": PIXEL, "ev": "PageView"})
    evs = pixelspy.wait_for(lambda evs: len(evs) >= 1)
    assert [(e["platform"], e["event"]) for e in evs] == [("meta", "PageView")]


def test_random_requests_and_responses_are_byte_identical(pixelspy, upstream):
    rng = random.Random(20240611)
    path_chars = "abcXYZ019-._~!$'()*+,;=:@/"
    with pixelspy.client() as c:
        for i in range(40):
            method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH"])
            path = "/" + "".join(rng.choice(path_chars) for _ in range(rng.randint(0, 40))).lstrip("/")
            query = "&".join(f"{rng.choice(['a', 'q', 'x%5B1%5D', 'utm_source'])}="
                             f"{quote(rng.randbytes(rng.randint(0, 12)), safe='')}" for _ in range(rng.randint(0, 5)))
            target = path + (f"?{query}" if query else "")
            body = rng.randbytes(rng.choice([0, 1, 100, 4096, 200_000])) if method != "GET" else b""
            seed = rng.randrange(1_000_000)
            custom = "".join(rng.choice("abc xyz-=;,\"'") for _ in range(20)).strip()
            r = c.request(method, upstream + target, content=body,
                          headers={"x-seed": str(seed), "x-custom": custom,
                                   "content-type": rng.choice(["application/octet-stream", "text/plain",
                                                               "application/json"])})
            assert r.status_code == 200, (method, target)
            assert r.headers["x-target"] == quote(target, safe=""), "the request target changed"
            assert r.headers["x-body-sha256"] == sha(body), f"request body changed ({method} {target})"
            assert r.headers["x-custom"] == custom
            assert sha(r.content) == sha(blob(seed, seed % 50_000)), "response body changed"

        for seed in range(5):
            with c.stream("GET", f"{upstream}/chunked/{seed}") as r:
                raw = b"".join(r.iter_raw())
            assert sha(raw) == r.headers["x-sha256"], "chunked response changed"

        with c.stream("GET", f"{upstream}/gzip/3", headers={"accept-encoding": "gzip"}) as r:
            raw = b"".join(r.iter_raw())  # the bytes as sent: iter_raw does not decode
        assert r.headers["content-encoding"] == "gzip", "the proxy decoded a gzip response"
        assert sha(raw) == r.headers["x-sha256"]
        assert gzip.decompress(raw) == blob(3, 5000).hex().encode()

        size = 20 * 1024 * 1024  # above pixelspy's stream_large_bodies: streamed, not buffered
        digest = hashlib.sha256()
        with c.stream("GET", f"{upstream}/blob/99/{size}") as r:
            for chunk in r.iter_raw():
                digest.update(chunk)
        assert r.status_code == 200 and int(r.headers["content-length"]) == size
        assert digest.hexdigest() == sha(blob(99, size)), "20 MB download changed"
        only_the_marker_is_listed(pixelspy, c)


# ---------------------------------------------------------------- websocket


def _ws_echo_server(sock: socket.socket) -> None:
    conn, _ = sock.accept()
    with conn:
        wsc = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
        while True:
            data = conn.recv(65536)
            if not data:
                return
            wsc.receive_data(data)
            for event in wsc.events():
                if isinstance(event, ws.Request):
                    conn.sendall(wsc.send(ws.AcceptConnection()))
                elif isinstance(event, ws.Message):
                    conn.sendall(wsc.send(event.__class__(data=event.data, message_finished=event.message_finished)))
                elif isinstance(event, ws.CloseConnection):
                    conn.sendall(wsc.send(event.response()))
                    return


def _ws_events(wsc: wsproto.WSConnection, sock: socket.socket, until: type) -> list:
    """Events until one of type `until` (for messages: the last fragment) has arrived."""
    got = []
    while not any(isinstance(e, until) and getattr(e, "message_finished", True) for e in got):
        data = sock.recv(65536)
        assert data, f"connection closed before {until.__name__}; got {got}"
        wsc.receive_data(data)
        got += list(wsc.events())
    return got


def test_websocket_upgrade_and_messages_pass_through(pixelspy):
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    threading.Thread(target=_ws_echo_server, args=(server,), daemon=True).start()
    rng = random.Random(5)
    messages = [ws.BytesMessage(data=rng.randbytes(n)) for n in (1, 125, 126, 70_000)] + [
        ws.TextMessage(data="héllo 😀 " * n) for n in (1, 300)]
    with socket.create_connection(("127.0.0.1", pixelspy.port), timeout=10) as sock:
        wsc = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        # Absolute-form target: a plain-HTTP proxy request, upgraded through the proxy.
        sock.sendall(wsc.send(ws.Request(host=f"127.0.0.1:{port}", target=f"http://127.0.0.1:{port}/chat")))
        assert any(isinstance(e, ws.AcceptConnection) for e in _ws_events(wsc, sock, ws.AcceptConnection))
        for msg in messages:
            sock.sendall(wsc.send(msg))
            fragments = [e for e in _ws_events(wsc, sock, ws.Message) if isinstance(e, ws.Message)]
            assert {type(f) for f in fragments} == {type(msg)}
            assert type(msg.data)().join(f.data for f in fragments) == msg.data
        sock.sendall(wsc.send(ws.CloseConnection(code=1000)))
        assert any(isinstance(e, ws.CloseConnection) for e in _ws_events(wsc, sock, ws.CloseConnection))
    server.close()
    with pixelspy.client() as c:
        only_the_marker_is_listed(pixelspy, c)
