"""JsonLines under the proxy's event loop: the lines of one loop turn flushed together, at its end."""

from __future__ import annotations

import asyncio
import io
import json

from pixelspy.addon import JsonLines
from pixelspy.model import RawHit
from pixelspy.session import Session


class _CountedFlushes(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes: list[int] = []  # the lines written at each flush

    def flush(self) -> None:
        self.flushes.append(self.getvalue().count("\n"))


def _hit(n: int) -> RawHit:
    return RawHit(method="GET", url=f"https://www.facebook.com/tr/?id=1234567890123456&ev=Purchase&eid=order-{n}",
                  time=1_700_000_000 + n, client="10.0.0.2")


def test_one_turns_lines_are_flushed_once_at_its_end():
    out = _CountedFlushes()
    session = Session()
    session.subscribe(JsonLines(session, out=out))

    async def two_turns() -> list[int]:
        session.ingest(_hit(1))
        session.ingest(_hit(2))  # (a batch of hits in one callback)
        flushed_in_turn = list(out.flushes)
        await asyncio.sleep(0)
        session.ingest(_hit(3))
        await asyncio.sleep(0)
        return flushed_in_turn

    assert asyncio.run(two_turns()) == []  # nothing flushed inside the turn …
    assert out.flushes == [2, 3]  # … then once per turn, with every line of it
    assert [json.loads(line)["event_id"] for line in out.getvalue().splitlines()] == ["order-1", "order-2", "order-3"]


def test_without_an_event_loop_each_line_is_flushed_at_once():
    out = _CountedFlushes()
    session = Session()
    session.subscribe(JsonLines(session, out=out))
    session.ingest(_hit(1))
    session.ingest(_hit(2))
    assert out.flushes == [1, 2]


class _GoneAtFlush(io.StringIO):
    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_reader_gone_at_the_turns_flush_is_told_once():
    closed: list[bool] = []
    session = Session()
    json_lines = JsonLines(session, out=_GoneAtFlush(), on_closed=lambda: closed.append(True))
    session.subscribe(json_lines)

    async def turns() -> None:
        for n in range(3):
            session.ingest(_hit(n))
            await asyncio.sleep(0)

    asyncio.run(turns())
    assert closed == [True] and json_lines.closed


def test_a_loop_closed_before_its_flush_leaves_the_next_loop_its_own():
    out = _CountedFlushes()
    session = Session()
    session.subscribe(JsonLines(session, out=out))
    loop = asyncio.new_event_loop()
    loop.call_soon(lambda: (session.ingest(_hit(1)), loop.stop()))
    loop.run_forever()  # (stopped at the end of the turn: the flush it queued never runs)
    loop.close()
    assert out.flushes == []

    async def ingest(n: int) -> None:
        session.ingest(_hit(n))

    asyncio.run(ingest(2))
    assert out.flushes == [2]
