"""Memory under mixed load: what a running proxy keeps beyond its stored events stays bounded.

The proxy runs as pixelspy's CLI runs it (the heap freezer on, see heap.HeapFreezer), freezing
every few events so that a few seconds of load do what hours would: each freeze catches the
requests in flight of many connections, uploads among them. Frozen flows are never collected, so
before the fix each freeze pinned them for good: 215–225 MiB grew here, now 35.
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from loopback import Upstream, _serialise, request_mix, run_load  # noqa: E402

from pixelspy.proxy import heap  # noqa: E402
from pixelspy.model import RawHit  # noqa: E402
from pixelspy.session import Session  # noqa: E402

FREEZE_EVERY_EVENTS = 10
CONNECTIONS = 100
UPLOAD = 512 * 1024  # under mitmproxy's stream_large_bodies: held in memory while in flight
# A stored event takes ≈ 5 KiB; the rest is what mitmproxy itself keeps under this load
# (its peak, malloc's free lists) plus what a freeze may pin until the next reclaim (64 MiB).
BYTES_PER_EVENT = 16 * 1024
ALLOWED_GROWTH = 100 * 2**20

_PROXY = textwrap.dedent("""
    import asyncio, sys
    from pixelspy import proxy
    from pixelspy.proxy import heap
    from pixelspy.session import Session

    heap.FREEZE_EVERY_EVENTS = int(sys.argv[2])

    async def main():
        session = Session()
        p = proxy.Proxy(session, proxy.ProxyConfig(port=0, sink=True, confdir=sys.argv[1], freeze_heap=True))
        await p.start()
        print(p.listen_addrs[0][1], flush=True)
        read = lambda: asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        await read()
        print(len(session), len(p.addon._answered), flush=True)
        await read()
        await p.stop()

    asyncio.run(main())
""")


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _limit_memory() -> None:  # a runaway proxy fails the test, not the machine
    resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_memory_beyond_stored_events_stays_bounded_under_mixed_load(tmp_path):
    upstream = Upstream()
    mix = request_mix(upstream.port)
    upload = _serialise("POST", f"http://127.0.0.1:{upstream.port}/upload",
                        [("host", f"127.0.0.1:{upstream.port}")], os.urandom(UPLOAD))
    mix = [upload if i % 10 == 5 else item for i, item in enumerate(mix)]
    proc = subprocess.Popen([sys.executable, "-c", _PROXY, str(tmp_path / "confdir"), str(FREEZE_EVERY_EVENTS)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=_limit_memory)
    try:
        port = int(proc.stdout.readline())
        start = _rss(proc.pid)
        result = asyncio.run(run_load(port, mix, CONNECTIONS, 6.0, warmup=0, max_requests=4000))
        proc.stdin.write("\n")
        proc.stdin.flush()
        events, answered_pending = map(int, proc.stdout.readline().split())
        growth = _rss(proc.pid) - start
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        upstream.stop()
    assert result.errors == 0 and result.requests > 500
    assert events > 10 * FREEZE_EVERY_EVENTS  # the freezer ran many times
    assert answered_pending == 0  # the addon forgets each sink-answered hit once the answer is out
    beyond = growth - events * BYTES_PER_EVENT
    assert beyond < ALLOWED_GROWTH, f"{growth / 2**20:.0f} MiB for {events} events"


def test_stored_bodies_are_bounded_in_bytes_as_well_as_in_count():
    session = Session(max_body_bytes=2**20)
    pad = "x" * 300_000  # a fat beacon: the oldest events go once the bodies pass 1 MiB
    for i in range(10):
        session.ingest(RawHit(method="POST", url="https://www.facebook.com/tr/", time=1_700_000_000 + i,
                              headers=[("content-type", "application/x-www-form-urlencoded")],
                              body=f"id=1234567890123456&ev=Purchase&eid=order-{i}&pad={pad}".encode()))
    assert len(session) == 3 and session.dropped == 7
    assert session.body_bytes == sum(len(h.body) for h in session.hits.values()) <= 2**20
    assert [e.hit_id for e in session] == list(session.hits)


class _Node:
    me: _Node


def test_a_freeze_waits_while_bodies_are_in_flight_and_pinned_memory_is_reclaimed(monkeypatch):
    in_flight = {"flows": 0, "body_bytes": 0}
    monkeypatch.setattr(heap, "_in_flight", lambda: (in_flight["flows"], in_flight["body_bytes"]))
    thresholds = gc.get_threshold()
    freezer = heap.HeapFreezer()
    try:
        in_flight.update(flows=3, body_bytes=heap.FREEZE_MAX_PINNED_BODY_BYTES + 1)
        freezer.new_events = heap.FREEZE_EVERY_EVENTS
        before = gc.get_freeze_count()
        freezer(None, False)
        assert gc.get_freeze_count() == before  # waits ...
        assert freezer.new_events == heap.FREEZE_EVERY_EVENTS - heap.RETRY_FREEZE_AFTER_EVENTS
        in_flight.update(body_bytes=1000)
        for _ in range(heap.RETRY_FREEZE_AFTER_EVENTS):
            freezer(None, False)
        assert gc.get_freeze_count() > before  # ... for a quieter moment
        assert freezer.pinned_bytes == 1000 + 3 * heap.PINNED_BYTES_PER_FLOW and freezer.reclaims == 0
        cycle = _Node()  # alive at a freeze, left afterwards: only a reclaim frees it
        cycle.me, gone = cycle, weakref.ref(cycle)
        in_flight.update(flows=0, body_bytes=0)
        freezer.freeze()
        del cycle
        gc.collect()
        assert gone() is not None  # pinned
        budget = heap.RECLAIM_AFTER_PINNED_BYTES + 2 * gc.get_freeze_count() * heap.RECLAIM_AFTER_PINNED_BYTES_PER_FROZEN_OBJECT
        in_flight.update(flows=budget // heap.PINNED_BYTES_PER_FLOW)
        freezer.freeze()
        assert freezer.reclaims == 1 and gone() is None
        # what is in flight at the reclaim is pinned anew, and counted
        assert freezer.pinned_bytes == budget // heap.PINNED_BYTES_PER_FLOW * heap.PINNED_BYTES_PER_FLOW
        in_flight.update(flows=1, body_bytes=heap.FREEZE_MAX_PINNED_BODY_BYTES + 1)
        frozen = gc.get_freeze_count()
        freezer.reclaim()  # with bodies in flight, the heap stays unfrozen until a quieter moment
        assert gc.get_freeze_count() < frozen // 10 and freezer.pinned_bytes == 0  # (3.12 keeps a few of its own)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
