"""Tracking hits' ingests run in batches (pixelspy/flows.py: after_hook_in_batch), through a running
proxy in sink mode: the session still sees the traffic in the order the client sent it, and a batch
still held when the proxy stops (--no-ui's SIGTERM, the TUI's `q`) is ingested, printed and kept in
the session file, answers included. The proxy runs in-process, so that a batch can be held as long as a test needs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3

from pixelspy import flows
from pixelspy.cli.live import run_headless
from pixelspy.cli.recording import Recording, record_session
from pixelspy.proxy import Proxy, ProxyConfig, RecordAnswers
from pixelspy.session import Session
from pixelspy.store import reader

PIXEL = "1234567890123456"


def hit(n: int) -> bytes:
    return (f"GET http://www.facebook.com/tr/?id={PIXEL}&ev=Hit{n}&dl=https%3A%2F%2Fshop.example%2F HTTP/1.1\r\n"
            "Host: www.facebook.com\r\nReferer: https://shop.example/\r\n\r\n").encode()


def plain(n: int) -> bytes:
    """An ordinary request; its server does not listen (the proxy answers 502 after its request hook)."""
    return (f"GET http://127.0.0.1:9/page{n} HTTP/1.1\r\nHost: 127.0.0.1:9\r\nReferer: https://shop.example/\r\n"
            "Cookie: OptanonConsent=groups%3DC0004%3A1\r\n\r\n").encode()


async def exchange(port: int, request: bytes) -> bytes:
    """One request on a connection of its own (the proxy closes one it answered 502); its answer's
    status line, once the answer is read."""
    reader_, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        status = await reader_.readline()
        length = 0
        while (line := await reader_.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader_.readexactly(length)
        return status
    finally:
        writer.close()


async def test_the_session_sees_hits_and_other_traffic_in_the_order_sent_while_hits_wait(tmp_path, monkeypatch):
    monkeypatch.setattr(flows, "BATCH_WAIT_S", 0.3)  # held well beyond a request's round trip
    session = Session()
    seen: list[str] = []
    ingest, ingest_plain = session.ingest, session.ingest_plain
    monkeypatch.setattr(session, "ingest", lambda h: (seen.append(h.url.split("ev=")[1].split("&")[0]), ingest(h))[1])
    monkeypatch.setattr(session, "ingest_plain", lambda head: (seen.append(head.url.rsplit("/", 1)[1]),
                                                               ingest_plain(head))[1])
    proxy = Proxy(session, ProxyConfig(port=0, sink=True, confdir=str(tmp_path)))
    await proxy.start()
    try:
        port = proxy.listen_addrs[0][1]
        sent: list[str] = []
        seen_when_sent: list[int] = []
        for n in range(flows.BATCH_HITS + 3):  # a batch closed by its count, then one by its wait
            for name, request in ((f"Hit{n}", hit(n)), (f"page{n}", plain(n))):
                seen_when_sent.append(len(seen))
                sent.append(name)
                status = await exchange(port, request)
                assert status.split()[1] in (b"200", b"502"), status
        for _ in range(100):
            if len(seen) == len(sent):
                break
            await asyncio.sleep(0.02)
    finally:
        await proxy.stop()
    assert seen == sent
    # The hits did wait for each other: requests were sent while the first hit was not yet seen.
    assert seen_when_sent[:4] == [0, 0, 0, 0]
    assert [e.event for e in session] == [f"Hit{n}" for n in range(flows.BATCH_HITS + 3)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_sigterm_ingests_the_held_batch_prints_it_and_keeps_it_with_its_answers(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(flows, "BATCH_WAIT_S", 60.0)  # only the stop can run the batch
    session = Session()
    path = tmp_path / "s.pixelspy"
    writer = record_session(session, path)
    config = ProxyConfig(port=free_port(), sink=True, confdir=str(tmp_path), addons=[RecordAnswers(writer)])
    headless = asyncio.create_task(run_headless(session, config, Recording(writer, None, keep_empty=True)))
    for _ in range(500):
        if "listening on" in capsys.readouterr().err or headless.done():
            break
        await asyncio.sleep(0.02)
    for n in range(3):
        assert (await exchange(config.port, hit(n))).startswith(b"HTTP/1.1 200")
    await asyncio.sleep(0.1)
    assert len(session) == 0  # answered, held in their batch
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(headless, 30) == 0
    out = capsys.readouterr()
    assert [json.loads(line)["event"] for line in out.out.splitlines()] == ["Hit0", "Hit1", "Hit2"]
    assert "stopped: 3 events" in out.err
    again = Session()
    reader.load(path, again)
    assert [e.event for e in again] == ["Hit0", "Hit1", "Hit2"]
    db = sqlite3.connect(path)
    try:
        answers = [reader.response(db, e.hit_id) for e in again]
    finally:
        db.close()
    assert [a["response"]["status"] for a in answers] == [200, 200, 200]


async def test_quitting_the_tui_keeps_the_held_batch_in_the_session_file(tmp_path, monkeypatch):
    from pixelspy.tui.app import PixelSpyApp

    monkeypatch.setattr(flows, "BATCH_WAIT_S", 60.0)
    session = Session()
    path = tmp_path / "s.pixelspy"
    writer = record_session(session, path)
    app = PixelSpyApp(session, ProxyConfig(port=free_port(), sink=True, confdir=str(tmp_path)))
    async with app.run_test(size=(120, 40)) as pilot:
        while app.proxy is None or not app.proxy.listen_addrs:
            await pilot.pause(0.01)
        for n in range(2):
            assert (await exchange(app.config.port, hit(n))).startswith(b"HTTP/1.1 200")
        await pilot.pause(0.1)
        assert len(session) == 0 and app.event_list.row_count == 0  # held
        await pilot.press("q")
    writer.close()
    assert [e.event for e in session] == ["Hit0", "Hit1"]
    again = Session()
    reader.load(path, again)
    assert [e.event for e in again] == ["Hit0", "Hit1"]
