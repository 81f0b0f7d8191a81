"""`pixelspy --no-ui --sink` with its session's work in a second process, for `bench_proxy.py
--decoding-cost --offload`: an experiment (issue #27), not the product. The proxy's process reads each
request as pixelspy does (a RawHit for a tracking hit, a RequestHead for other traffic) and sends its
fields to a child process, SEND_EVERY_S's worth at a time (marshal, one pipe write); the child ingests
them into a Session with what `pixelspy --no-ui` runs beside it: the session file, JSON lines (to
/dev/null), the heap freezer and the ticks. It measures how much of pixelspy's cost such a design
would leave in the proxy's process. Not carried over: ids (the child's hits get ids of their own), the
TUI, flow metadata, a clean close of the session file."""

from __future__ import annotations

import asyncio
import marshal
import multiprocessing
import os
import sys
import time
from pathlib import Path

from pixelspy import addon
from pixelspy.cli import main

TICK_S = 0.5  # (the CLI's)
# What a loop turn reads is sent this long after its first item, with what came meanwhile: each send
# wakes the child, and on two cores a wake-up a request took a core from the proxy or its clients.
SEND_EVERY_S = float(os.environ.get("PIXELSPY_OFFLOAD_SEND_S", "0.02"))


def child_main(conn, path: str) -> None:
    """The session's side: ingests what the proxy sends until the pipe closes."""
    from pixelspy.cli.recording import record_session
    from pixelspy.heads import RequestHead
    from pixelspy.model import RawHit
    from pixelspy.proxy.heap import freeze_heap
    from pixelspy.session import Session

    session = Session()
    writer = record_session(session, Path(path))
    lines = addon.JsonLines(session, out=open(os.devnull, "w"))
    session.subscribe(lines)
    freeze_heap(session)
    next_tick = time.time() + TICK_S
    while True:
        if conn.poll(TICK_S / 5):
            try:
                data = conn.recv_bytes()
            except EOFError:
                break
            for item in marshal.loads(data):
                if item[0] == "hit":
                    _, method, url, headers, body, at, client, truncated, url_parts = item
                    session.ingest(RawHit.of_proxy(method=method, url=url, headers=headers, body=body, time=at,
                                                   client=client, body_truncated=truncated, url_parts=url_parts))
                else:
                    session.ingest_plain(RequestHead(*item[1:]))
        if (now := time.time()) >= next_tick:
            session.tick(now)
            lines.flush()
            next_tick = now + TICK_S
    writer.close()


class Offload:
    """The proxy's side: the pipe to the child, and what this loop turn has to send."""

    def __init__(self) -> None:
        spawn = multiprocessing.get_context("spawn")  # (forking mitmproxy's threads is unsafe)
        receiving, self.conn = spawn.Pipe(duplex=False)
        path = Path(os.environ.get("PIXELSPY_SESSIONS_DIR", "/tmp")) / f"offload-{os.getpid()}.pixelspy"
        probe = os.environ.pop("STALL_PROBE_OUT", None)  # (bench_proxy --stalls probes the proxy's process only)
        spawn.Process(target=child_main, args=(receiving, str(path)), daemon=True).start()
        if probe is not None:
            os.environ["STALL_PROBE_OUT"] = probe
        self.queue: list[tuple] = []

    def put(self, item: tuple) -> None:
        self.queue.append(item)
        if len(self.queue) == 1:
            asyncio.get_running_loop().call_later(SEND_EVERY_S, self.send)

    def send(self) -> None:
        queue, self.queue = self.queue, []
        self.conn.send_bytes(marshal.dumps(queue))


def offloaded(pixelspy_init):
    def init(self, *args, **kwargs) -> None:
        pixelspy_init(self, *args, **kwargs)
        self.offload = Offload()
    return init


def ingest(self, flow, hit) -> None:
    self.offload.put(("hit", hit.method, hit.url, hit.headers, hit.body, hit.time, hit.client, hit.body_truncated,
                      hit.url_parts))


def ingest_plain(self, flow, head) -> None:
    self.offload.put(("head", head.method, head.url, head.url_parts, head.headers, head.time, head.client))


if __name__ == "__main__":
    addon.PixelSpy.__init__ = offloaded(addon.PixelSpy.__init__)
    addon.PixelSpy._ingest = ingest
    addon.PixelSpy._ingest_plain = ingest_plain
    sys.exit(main(sys.argv[1:]))
