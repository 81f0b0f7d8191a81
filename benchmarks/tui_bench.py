"""TUI cost at 100,000 events: ingest time, filter-change time and memory, against a baseline of the
same session fed with no TUI at all (the ratio is what the TUI costs).

    python benchmarks/tui_bench.py [--events 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pixelspy.model import RawHit  # noqa: E402
from pixelspy.session import Session  # noqa: E402

PIXEL = "1234567890123456"
EVENTS = ["PageView", "ViewContent", "AddToCart", "InitiateCheckout", "Purchase"]


def hits(n: int) -> list[RawHit]:
    return [RawHit(method="GET", client=f"127.0.0.{1 + i % 3}",
                   url=f"https://www.facebook.com/tr/?id={PIXEL}&ev={EVENTS[i % 5]}&eid=e{i}"
                       f"&cd%5Bvalue%5D={i % 97}.50&cd%5Bcurrency%5D=EUR&dl=https%3A%2F%2Fshop.example%2Fp%2F{i}")
            for i in range(n)]


def baseline(batch: list[RawHit]) -> tuple[float, int]:
    session = Session()
    session.subscribe(lambda ev, upd: None)
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    for h in batch:
        session.ingest(h)
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak


async def with_tui(batch: list[RawHit]) -> tuple[float, int, float, float]:
    from pixelspy.tui.app import PixelSpyApp

    session = Session()
    app = PixelSpyApp(session, None)
    async with app.run_test(size=(160, 50)) as pilot:
        gc.collect()
        tracemalloc.start()
        t0 = time.perf_counter()
        for i, h in enumerate(batch):
            session.ingest(h)
            if i % 1000 == 999:  # let the app render as it would between network reads
                await pilot.pause()
        await pilot.pause()
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert app.event_list.row_count == len(batch)
        t0 = time.perf_counter()
        app.filter_box.value = "platform:meta purchase"
        await pilot.pause()
        filter_s = time.perf_counter() - t0
        assert app.event_list.row_count == len(batch) // 5
        t0 = time.perf_counter()
        app.filter_box.value = ""
        await pilot.pause()
        unfilter_s = time.perf_counter() - t0
    return elapsed, peak, filter_s, unfilter_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=100_000)
    n = ap.parse_args().events
    batch = hits(n)
    base_s, base_mem = baseline(batch)
    batch = hits(n)  # fresh hits: ids must not collide with the first session's
    tui_s, tui_mem, filter_s, unfilter_s = asyncio.run(with_tui(batch))
    mb = 1024 * 1024
    print(f"events: {n}")
    print(f"ingest without TUI: {base_s:8.2f} s  ({n / base_s:8.0f} ev/s)  peak traced {base_mem / mb:7.1f} MB")
    print(f"ingest with TUI:    {tui_s:8.2f} s  ({n / tui_s:8.0f} ev/s)  peak traced {tui_mem / mb:7.1f} MB")
    print(f"TUI time ratio: {tui_s / base_s:.2f}x   TUI memory ratio: {tui_mem / base_mem:.2f}x")
    print(f"filter change at {n} events: {filter_s * 1000:.0f} ms (goal < 200 ms); clearing it: "
          f"{unfilter_s * 1000:.0f} ms")
    print(f"max RSS of the whole run: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
