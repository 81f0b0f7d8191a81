"""Attacks on the running proxy (issue #22): streams held back, events injected past --auth, sink
mode bypassed by a large body, tracebacks at shutdown. The proxy runs in-process (or as the CLI,
for shutdown) and every server is on 127.0.0.1; the vendor is a fake one reached through
mitmproxy's upstream mode, so that a hit pixelspy lets through is seen arriving there."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import signal
import socket
import socketserver
import ssl
import threading
import sys
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from urllib.parse import urlencode

import httpx
import pytest

from pixelspy.addon import MAX_HELD_BODY
from pixelspy.har import HarRecorder
from pixelspy.proxy import Proxy, ProxyConfig, _LogTap
from pixelspy.session import Session
from tests.conftest import PixelspyProcess

PIXEL = "1234567890123456"
TR = "http://www.facebook.com/tr/"


# ------------------------------------------------------------------ plumbing


@contextlib.contextmanager
def tcp_server(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A threaded TCP server on 127.0.0.1 calling handle(sock) per connection; yields its port."""
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            handle(self.request)

    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


def recv_until(sock: socket.socket, marker: bytes, data: bytes = b"") -> bytes:
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


@contextlib.asynccontextmanager
async def running_proxy(tmp_path, **config) -> AsyncIterator[tuple[Proxy, Session, int]]:
    session = Session()
    proxy = Proxy(session, ProxyConfig(port=0, confdir=str(tmp_path / "mitmproxy"), **config))
    await proxy.start()
    try:
        yield proxy, session, proxy.listen_addrs[0][1]
    finally:
        await proxy.stop()


async def read_until(reader: asyncio.StreamReader, marker: bytes, timeout: float = 5) -> bytes:
    data = b""
    async with asyncio.timeout(timeout):
        while marker not in data:
            if not (more := await reader.read(65536)):
                break
            data += more
    return data


async def exchange(port: int, request: bytes) -> bytes:
    """One request through the proxy on a new connection; the whole answer (headers + body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        head, _, body = (await read_until(reader, b"\r\n\r\n")).partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length and (more := await reader.read(65536)):
            body += more
        return head + b"\r\n\r\n" + body
    finally:
        writer.close()


def post(url: str, body: bytes, *headers: str) -> bytes:
    host = url.split("/")[2]
    lines = [f"POST {url} HTTP/1.1", f"Host: {host}", "Content-Type: application/x-www-form-urlencoded",
             f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def events_after(session: Session, count: int, settle: float = 0.3) -> list:
    """The session's events once it holds `count` (or 5 s passed), and nothing more came for `settle` s."""
    async with asyncio.timeout(5):
        while len(list(session)) < count:
            await asyncio.sleep(0.02)
    await asyncio.sleep(settle)
    return list(session)


class FakeVendor:
    """An upstream proxy standing in for the vendor: records every request that reaches it."""

    def __init__(self):
        self.received: list[bytes] = []

    def __call__(self, sock: socket.socket) -> None:
        head = recv_until(sock, b"\r\n\r\n")
        self.received.append(head)
        sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")


# ------------------------------------------------------------------ item 4: streaming


async def test_server_sent_events_reach_the_client_as_they_are_sent(tmp_path):
    """The upstream sends the rest of the stream only once the first event reached the client, as a
    live feed would keep the stream open: buffered whole, the client would never see it."""
    first_seen = threading.Event()

    def events(sock):
        recv_until(sock, b"\r\n\r\n")
        sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
                     b"transfer-encoding: chunked\r\n\r\n" + chunk(b"data: first\n\n"))
        first_seen.wait(5)
        sock.sendall(chunk(b"data: last\n\n") + b"0\r\n\r\n")

    session = Session()
    recorder = HarRecorder(session, None, all_traffic=True)  # --har-all records the streamed flow
    with tcp_server(events) as upstream:
        async with running_proxy(tmp_path, addons=[recorder]) as (_, _, port):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            url = f"http://127.0.0.1:{upstream}/events"
            writer.write(f"GET {url} HTTP/1.1\r\nHost: 127.0.0.1:{upstream}\r\n"
                         f"Accept: text/event-stream\r\n\r\n".encode())
            try:
                got = await read_until(reader, b"data: first", timeout=3)
            finally:
                first_seen.set()
            assert got.startswith(b"HTTP/1.1 200 OK\r\n") and b"data: last" not in got
            assert b"data: last" in await read_until(reader, b"0\r\n\r\n")
            writer.close()
            await asyncio.sleep(0.1)
            recorder.write(tmp_path / "all.har")
    entries = json.loads((tmp_path / "all.har").read_text())["log"]["entries"]
    assert [(e["request"]["url"], e["response"]["status"]) for e in entries] == [(url, 200)]


async def test_a_chunked_upload_reaches_the_server_as_it_is_sent(tmp_path):
    first_part_seen = threading.Event()

    def upload(sock):
        data = recv_until(sock, b"part-one")
        first_part_seen.set()
        data = recv_until(sock, b"0\r\n\r\n", data)
        sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(data), data))

    recorder = HarRecorder(Session(), None, all_traffic=True)
    with tcp_server(upload) as upstream:
        async with running_proxy(tmp_path, addons=[recorder]) as (_, _, port):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"POST http://127.0.0.1:{upstream}/upload HTTP/1.1\r\nHost: 127.0.0.1:{upstream}\r\n"
                         f"Transfer-Encoding: chunked\r\n\r\n".encode() + chunk(b"part-one"))
            assert await asyncio.to_thread(first_part_seen.wait, 3)
            writer.write(chunk(b"part-two") + b"0\r\n\r\n")
            answer = await read_until(reader, b"part-two")
            writer.close()
            await asyncio.sleep(0.1)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b"part-one" in answer
    recorder.write(tmp_path / "all.har")  # --har-all: the entry is kept, without the streamed body
    (entry,) = json.loads((tmp_path / "all.har").read_text())["log"]["entries"]
    assert entry["request"]["url"].endswith("/upload") and entry["response"]["status"] == 200


async def test_a_chunked_tracking_post_is_forwarded_as_it_comes_and_decoded(tmp_path):
    """Without the sink a tracking hit of unknown length streams to the vendor too; pixelspy keeps
    what it needs on the way."""
    vendor_got: list[bytes] = []

    def vendor(sock):
        vendor_got.append(recv_until(sock, b"0\r\n\r\n"))
        sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")

    form = urlencode({"id": PIXEL, "ev": "Purchase", "cd[value]": "12.50", "cd[currency]": "EUR"}).encode()
    with tcp_server(vendor) as vendor_port:
        async with running_proxy(tmp_path, modes=[f"upstream:http://127.0.0.1:{vendor_port}"]) as (_, session, port):
            head = (f"POST {TR} HTTP/1.1\r\nHost: www.facebook.com\r\nContent-Type: application/x-www-form-urlencoded"
                    f"\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
            answer = await exchange(port, head + chunk(form[:20]) + chunk(form[20:]) + b"0\r\n\r\n")
            (event,) = await events_after(session, 1)
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert form[:20] in vendor_got[0] and form[20:] in vendor_got[0]
    assert (event.event, event.value, event.currency, event.decode_errors) == ("Purchase", "12.50", "EUR", ())


# ------------------------------------------------------------------ item 8: --auth


def _auth(user_pass: str) -> str:
    return "Proxy-Authorization: Basic " + base64.b64encode(user_pass.encode()).decode()


async def test_requests_refused_by_auth_are_not_events_nor_answered_by_the_sink_nor_recorded(tmp_path):
    recorder = HarRecorder(Session(), None, all_traffic=True)  # --har-all: every flow it sees
    async with running_proxy(tmp_path, sink=True, proxyauth="alice:s3cret", addons=[recorder]) as (
            _, session, port):
        injected = [
            post(TR, urlencode({"id": PIXEL, "ev": "Injected"}).encode()),
            post(TR, urlencode({"id": PIXEL, "ev": "WrongPassword"}).encode(), _auth("alice:guess")),
            f"GET {TR}?id={PIXEL}&ev=InjectedGet HTTP/1.1\r\nHost: www.facebook.com\r\n\r\n".encode(),
        ]
        for request in injected:
            answer = await exchange(port, request)
            assert answer.startswith(b"HTTP/1.1 407 ") and b"x-pixelspy" not in answer.lower()
        answer = await exchange(port, post(TR, urlencode({"id": PIXEL, "ev": "Purchase"}).encode(),
                                           _auth("alice:s3cret")))
        assert answer.startswith(b"HTTP/1.1 204 ") and b"x-pixelspy: sink" in answer.lower()
        # Over HTTPS the credentials come with the CONNECT only: the requests inside still count.
        ca = ssl.create_default_context(cafile=str(tmp_path / "mitmproxy" / "mitmproxy-ca-cert.pem"))
        with httpx.Client(proxy=f"http://alice:s3cret@127.0.0.1:{port}", verify=ca) as client:
            r = await asyncio.to_thread(client.get, "https://www.facebook.com/tr/", params={"id": PIXEL, "ev": "Lead"})
        assert r.status_code == 200 and r.headers["x-pixelspy"] == "sink"
        events = await events_after(session, 2)
    assert [e.event for e in events] == ["Purchase", "Lead"]
    recorder.write(tmp_path / "all.har")
    recorded = [e["request"]["url"] for e in json.loads((tmp_path / "all.har").read_text())["log"]["entries"]]
    assert not any("Injected" in u or "WrongPassword" in u for u in recorded), recorded
    assert any("ev=Lead" in u for u in recorded), recorded


# ------------------------------------------------------------------ item 9: sink and large bodies


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_a_5_mb_tracking_post_is_answered_by_the_sink_and_listed(tmp_path, framing):
    vendor = FakeVendor()
    form = urlencode({"id": PIXEL, "ev": "Purchase", "cd[value]": "9.90", "cd[currency]": "EUR"}).encode()
    body = form + b"&pad=" + b"x" * (5 * 1024 * 1024)
    if framing == "chunked":
        request = (f"POST {TR} HTTP/1.1\r\nHost: www.facebook.com\r\nContent-Type: application/x-www-form-urlencoded"
                   f"\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
        request += b"".join(chunk(body[i:i + 65536]) for i in range(0, len(body), 65536)) + b"0\r\n\r\n"
    else:
        request = post(TR, body)
    with tcp_server(vendor) as vendor_port:
        async with running_proxy(tmp_path, sink=True, modes=[f"upstream:http://127.0.0.1:{vendor_port}"]) as (
                _, session, port):
            answer = await exchange(port, request)
            (event,) = await events_after(session, 1)
    assert answer.startswith(b"HTTP/1.1 204 ") and b"x-pixelspy: sink" in answer.lower()
    assert vendor.received == []
    assert (event.event, event.value, event.currency) == ("Purchase", "9.90", "EUR")
    assert any("larger than the stored size" in e for e in event.decode_errors), event.decode_errors


async def test_a_tracking_post_declaring_more_than_the_sink_holds_is_closed_unread_and_listed(tmp_path):
    vendor = FakeVendor()
    head = post(TR, b"").replace(b"Content-Length: 0", b"Content-Length: %d" % (MAX_HELD_BODY + 1))
    with tcp_server(vendor) as vendor_port:
        async with running_proxy(tmp_path, sink=True, modes=[f"upstream:http://127.0.0.1:{vendor_port}"]) as (
                _, session, port):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(head + b"id=" + PIXEL.encode() + b"&ev=Purchase&pad=xxxx")
            assert await read_until(reader, b"\r\n") == b""  # closed, unanswered
            writer.close()
            (event,) = await events_after(session, 1)
    assert vendor.received == []
    assert event.platform == "meta" and "body was larger than the stored size" in event.decode_errors[0]


def test_kept_log_records_do_not_keep_a_crash_and_its_body_alive():
    """A sink hit of unknown length that outgrows MAX_HELD_BODY makes mitmproxy log a crash, once
    per 64 MB sent, whose traceback holds the body read so far: the proxy's log keeps the text."""
    class Body(bytearray):  # (a bytearray itself cannot be weakly referenced)
        pass

    tap, bodies = _LogTap(None), []

    def stream_switch():
        body = Body(1024)
        bodies.append(weakref.ref(body))
        raise NotImplementedError("Can't set a response and enable streaming at the same time.")

    try:
        stream_switch()
    except NotImplementedError:
        record = logging.LogRecord("mitmproxy", logging.ERROR, __file__, 0, "mitmproxy has crashed!", None,
                                   sys.exc_info())
    tap.handle(record)
    del record
    assert bodies[0]() is None
    (kept,) = tap.records
    assert kept.getMessage() == "mitmproxy has crashed!" and "NotImplementedError" in kept.exc_text


# ------------------------------------------------------------------ item 13: shutdown


async def test_stopping_closes_the_clients_open_connections(tmp_path):
    """What the TUI's quit and the CLI's signal handler both call: no connection handler is left
    running for the event loop to cancel (Python 3.11 prints a traceback for each)."""
    async with running_proxy(tmp_path, sink=True) as (proxy, _, port):
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        held[1][1].write(b"GET http://www.facebook.com/tr/?id=1 HTTP/1.1\r\n")  # half a request
        proxyserver = proxy.master.addons.get("proxyserver")
        async with asyncio.timeout(5):
            while len(proxyserver.connections) < 2:
                await asyncio.sleep(0.02)
    assert proxyserver.connections == {}
    assert not [t for t in asyncio.all_tasks() if "handle_stream" in repr(t.get_coro())]
    for _, writer in held:
        writer.close()


def test_the_cli_exits_cleanly_on_a_signal_with_connections_open(tmp_path):
    proc = PixelspyProcess(tmp_path, "--sink")
    idle = socket.create_connection(("127.0.0.1", proc.port))
    half = socket.create_connection(("127.0.0.1", proc.port))
    half.sendall(b"GET http://www.facebook.com/tr/?id=1&ev=PageView HTTP/1.1\r\n")
    kept = socket.create_connection(("127.0.0.1", proc.port))
    kept.sendall(f"GET {TR}?id={PIXEL}&ev=PageView HTTP/1.1\r\nHost: www.facebook.com\r\n\r\n".encode())
    assert recv_until(kept, b"\r\n\r\n").startswith(b"HTTP/1.1 200 ")
    proc.wait_for(lambda evs: len(evs) == 1)
    proc.proc.send_signal(signal.SIGINT)
    assert proc.proc.wait(15) == 0
    time.sleep(0.3)  # the reader thread takes the last lines
    assert not any("Traceback" in line or "CancelledError" in line for line in proc.stderr_lines), proc.stderr_lines
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proc.port), timeout=2)
    for s in (idle, half, kept):
        s.close()
