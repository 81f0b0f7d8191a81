"""The proxy process keeps what lives on out of CPython's full collections.

Full collections stop every connection while they walk all tracked objects; pixelspy's startup heap
(mitmproxy, pydantic validators, the TUI) is about 95,000 objects and 40 ms a walk, and each stored
event adds about 12. The CLI freezes the startup heap once the proxy listens, then the stored events
every FREEZE_EVERY_EVENTS, so a collection walks only what came since, runs the middle generation's
collections more often (shorter pauses) and spaces full collections FULL_COLLECTION_EVERY of them apart.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap

import pytest

from pixelspy import cli
from pixelspy.cli import live
from pixelspy.proxy import heap
from pixelspy.model import RawHit
from pixelspy.session import Session

_PROBE = textwrap.dedent("""
    import asyncio, gc, sys
    from pixelspy.proxy import Proxy, ProxyConfig
    from pixelspy.session import Session

    async def main():
        before = gc.get_freeze_count()  # (Python 3.12 starts with a few hundred of its own)
        proxy = Proxy(Session(), ProxyConfig(port=0, sink=True, freeze_heap=sys.argv[1] == "1"))
        await proxy.start()
        frozen = gc.get_freeze_count() - before
        await proxy.stop()
        print(frozen, *gc.get_threshold()[1:])

    asyncio.run(main())
""")


@pytest.mark.parametrize("freeze", [True, False])
def test_proxy_start_freezes_the_heap_only_when_asked(freeze, tmp_path):
    out = subprocess.run([sys.executable, "-c", _PROBE, "1" if freeze else "0"], capture_output=True, text=True,
                         timeout=60, env={"HOME": str(tmp_path), "PATH": ""})
    assert out.returncode == 0, out.stderr
    frozen, middle_every, full_every = map(int, out.stdout.split()[-3:])
    assert (frozen > 10_000) if freeze else frozen == 0
    # A frozen heap makes CPython run full collections 4x as often unless they are spaced out.
    expected = (heap.MIDDLE_COLLECTION_EVERY, heap.FULL_COLLECTION_EVERY) if freeze else gc.get_threshold()[1:]
    assert (middle_every, full_every) == expected
    assert heap.MIDDLE_COLLECTION_EVERY * heap.FULL_COLLECTION_EVERY > 100


def test_the_cli_asks_for_it(monkeypatch):
    seen = []

    async def fake_headless(session, config, recording):
        seen.append(config)
        return 0

    monkeypatch.setattr(live, "run_headless", fake_headless)
    assert cli.main(["--no-ui", "--port", "0"]) == 0
    assert seen[0].freeze_heap


def test_stored_events_are_frozen_every_so_many(monkeypatch):
    monkeypatch.setattr(heap, "FREEZE_EVERY_EVENTS", 3)
    session = Session()
    freezer = heap.HeapFreezer()
    session.subscribe(freezer)
    gc.collect()
    thresholds = gc.get_threshold()
    try:
        frozen = gc.get_freeze_count()
        for i in range(5):
            session.ingest(RawHit(method="GET", url=f"https://www.facebook.com/tr/?id=1234567890123456&ev=E{i}",
                                  time=1_700_000_000 + i))
        assert len(session) == 5
        after_three = gc.get_freeze_count()
        assert after_three > frozen  # the third event froze what was there, the events included
        walked = {id(o) for o in gc.get_objects()}  # what a collection walks: the frozen are not there
        assert [id(ev) in walked for ev in session] == [False, False, False, True, True]
        session.ingest(RawHit(method="GET", url="https://www.facebook.com/tr/?id=1234567890123456&ev=E5",
                              time=1_700_000_005))
        assert gc.get_freeze_count() > after_three  # and the sixth again
    finally:
        gc.unfreeze()  # give the test process its collector back
        gc.set_threshold(*thresholds)


def test_events_evicted_after_a_freeze_leave_no_garbage_pinned(tmp_path):
    """A recorded session evicts events the freezer froze: reference counting must free them (an
    event in a reference cycle would stay frozen, garbage, until a reclaim)."""
    from pixelspy.store.writer import StoreWriter

    session = Session(max_events=20)
    writer = StoreWriter(session, tmp_path / "s.pixelspy")
    writer.open()
    writer.attach()
    thresholds = gc.get_threshold()
    try:
        for i in range(40):
            session.ingest(RawHit(method="GET", url=f"https://www.facebook.com/tr/?id=1234567890123456&ev=E{i}",
                                  time=1_700_000_000 + i))
        gc.collect()
        gc.freeze()
        frozen = gc.get_freeze_count()
        for i in range(40, 80):  # the frozen 20 in memory are evicted
            session.ingest(RawHit(method="GET", url=f"https://www.facebook.com/tr/?id=1234567890123456&ev=E{i}",
                                  time=1_700_000_000 + i))
        assert session.dropped == 60
        gc.collect()  # the garbage of the unfrozen heap
        assert gc.get_freeze_count() < frozen  # the evicted events' objects were freed
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    assert gc.collect() == 0  # nothing of them was left frozen as garbage
    writer.close()


def test_what_requests_in_flight_hold_is_counted_before_a_freeze():
    """A freeze waits while bodies are in flight (heap._in_flight): mitmproxy's own flows, client
    connections and arriving bodies must be found among the collector's objects."""
    from mitmproxy.proxy.utils import ReceiveBuffer
    from mitmproxy.test import tflow

    gc.collect()
    flows, body_bytes = heap._in_flight()
    flow = tflow.tflow(resp=True)  # a flow and its client connection
    flow.request.content = b"x" * 100_000
    flow.response.content = b"y" * 20_000
    arriving = ReceiveBuffer()
    arriving += b"z" * 50_000
    assert heap._in_flight() == (flows + 2, body_bytes + 170_000)
