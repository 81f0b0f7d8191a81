"""In sink mode the local answer is sent before the hit is decoded: decoding, checks and printing
never add to the time a tracked page waits for its pixel. The proxy runs in-process so that the
decoding can look at the client's socket: on loopback, sent bytes are readable at once."""

from __future__ import annotations

import asyncio
import json
import select
import socket

from pixelspy.har import HarRecorder
from pixelspy.proxy import Proxy, ProxyConfig
from pixelspy.session import Session

HIT = (b"GET http://www.facebook.com/tr/?id=1234567890123456&ev=Purchase&cd[value]=5&cd[currency]=EUR HTTP/1.1\r\n"
       b"Host: www.facebook.com\r\n\r\n")


async def test_sink_answer_is_sent_before_the_hit_is_decoded(tmp_path):
    session = Session()
    recorder = HarRecorder(session, None)
    proxy = Proxy(session, ProxyConfig(port=0, sink=True, confdir=str(tmp_path), addons=[recorder]))
    await proxy.start()
    client = socket.create_connection(("127.0.0.1", proxy.listen_addrs[0][1]))
    answered_when_decoded: list[bool] = []

    def on_event(event, is_update):
        if not is_update:
            answered_when_decoded.append(bool(select.select([client], [], [], 0)[0]))

    session.subscribe(on_event)
    try:
        client.sendall(HIT)
        for _ in range(500):
            if answered_when_decoded:
                break
            await asyncio.sleep(0.01)
        assert answered_when_decoded == [True]
        client.setblocking(True)
        assert client.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
        (event,) = session
        assert (event.event, event.value, event.currency) == ("Purchase", "5", "EUR")
        # The HAR recorder, which reads the decoded events' ids, still links the entry to the event.
        await asyncio.sleep(0.05)
        recorder.write(tmp_path / "s.har")
        (entry,) = json.loads((tmp_path / "s.har").read_text())["log"]["entries"]
        assert [e["id"] for e in entry["_pixelspy"]["events"]] == [event.id]
        assert entry["response"]["status"] == 200
    finally:
        client.close()
        await proxy.stop()
