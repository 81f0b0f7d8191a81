"""Decode + checks throughput on the recorded corpus, on one core, against baselines of the same run.

    .venv/bin/python benchmarks/bench_decode.py [--hits 50000] [--rounds 3] [--live-collector] [--profile]
    .venv/bin/python benchmarks/bench_decode.py --decode-only [--passes 15]   (PYTHONPATH=TREE for another tree)

Measures, over the same hits:
  baseline  RawHit construction alone, and json.loads of the same bodies (a floor for "reading" a hit)
  decode    Registry.decode (vendor decoders only)
  ingest    Session.ingest (decoders + checks engine + store), what the proxy does per tracking hit
  addon     RawHit construction + Session.ingest, the proxy's whole per-hit cost outside mitmproxy
`--decode-only`: Registry.decode's own CPU per hit, nothing else: 3,000 corpus hits, their URLs split
beforehand (as the proxy hands them over), decoded in many passes whose events are dropped at once (the
collector's work for events that stay is ingest's); the best and the median pass (`time.thread_time`).
Run it for two trees alternately (PYTHONPATH) to compare them on a shared host.
Goal: ≥ 10,000 hits/s through Session.ingest. Peak memory of the ingest run is measured with
tracemalloc (allocations made while ingesting) and ru_maxrss (whole process). Each measure prints
wall and CPU time (`time.process_time`: on a shared VM CPU time scatters far less); the first
`Session()` of the process is timed apart (what it builds once: ua-parser's rules, the checks' tables).

The collector's share of ingest (issue #27's goal: ≤ 5 %) is its CPU time in the ingest rounds
(`gc.callbacks`), by generation; `--live-collector` runs ingest under the collector settings the proxy
runs (`heap.freeze_heap`: the heap frozen at the start, then every 500 stored events). Also printed:
the objects the collector tracks per stored event (besides its RawHit, built before), counted after
a full collection, and the young collections per 1,000 hits (CPython starts one each time the tracked
objects allocated and not yet freed outnumber those freed by 700: what ingest keeps, not what it frees).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import platform
import pstats
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import unquote_plus

from corpus import Sample, build_corpus

from pixelspy.decoders import default_registry
from pixelspy.session import Session

GOAL_HITS_PER_S = 10_000


def corpus_hits(n: int) -> tuple[list[Sample], list[float]]:
    """n samples cycling through every vendor's examples, a corpus pass every 10 s (a steady
    browsing session for time-window checks, not one burst)."""
    samples = [s for group in build_corpus().values() for s in group]
    if not samples:
        sys.exit("no decoder routes any corpus sample")
    picked = [samples[i % len(samples)] for i in range(n)]
    times = [1_700_000_000.0 + 10 * i / len(samples) for i in range(n)]
    return picked, times


def timed(label: str, n: int, fn: Callable[[], None], rounds: int) -> tuple[float, int]:
    """The best rate of `rounds` calls of fn (each starts afresh): this kind of VM drifts in speed
    by up to 2× between runs, so one run says little. Returns (hits/s, index of the best round)."""
    times, cpu = [], []
    for _ in range(rounds):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    best = min(range(rounds), key=times.__getitem__)
    dt = times[best]
    rate = n / dt
    print(f"  {label:44} {rate:12,.0f} hits/s   ({dt * 1e6 / n:7.1f} µs/hit; CPU {min(cpu) * 1e6 / n:7.1f} µs/hit)")
    return rate, best


def first_session() -> None:
    """What the process's first Session() costs (built once, then shared by every session)."""
    rss0, c0 = rss_mib(), time.process_time()
    Session()
    print(f"  first Session() of the process: {time.process_time() - c0:.3f} s CPU, RSS +{rss_mib() - rss0:.1f} MiB")


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


class GcTime:
    """Wall and CPU seconds spent in garbage collections, and their count, per generation."""

    def __init__(self) -> None:
        self.wall = [0.0, 0.0, 0.0]
        self.cpu = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]
        self._started = (0.0, 0.0)

    def __call__(self, phase: str, info: dict) -> None:  # a gc.callbacks entry
        if phase == "start":
            self._started = (time.perf_counter(), time.process_time())
        else:
            generation = info["generation"]
            self.wall[generation] += time.perf_counter() - self._started[0]
            self.cpu[generation] += time.process_time() - self._started[1]
            self.count[generation] += 1


@contextmanager
def gc_time() -> Iterator[GcTime]:
    """The collections while the block runs."""
    spent = GcTime()
    gc.callbacks.append(spent)
    try:
        yield spent
    finally:
        gc.callbacks.remove(spent)


@contextmanager
def live_collector(session: Session, on: bool) -> Iterator[None]:
    """The proxy's collector settings (heap.freeze_heap) while the block runs, when `on`; CPython's
    defaults again after it."""
    if not on:
        yield
        return
    from pixelspy.proxy.heap import freeze_heap  # imports mitmproxy: only when asked

    thresholds = gc.get_threshold()
    freezer = freeze_heap(session)
    try:
        yield
    finally:
        session.unsubscribe(freezer)
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def tracked_per_event(hits: list) -> float:
    """Objects the collector tracks per stored event (the hits already exist), after a full collection."""
    gc.collect()
    before = len(gc.get_objects())
    session = Session()
    for h in hits:
        session.ingest(h)
    gc.collect()
    return (len(gc.get_objects()) - before) / max(len(session), 1)


def json_baseline(samples: list[Sample]) -> None:
    """What "reading" a hit costs at the least: parse its body as JSON, or its query as a form."""
    for s in samples:
        if s.body[:1] in (b"{", b"["):
            json.loads(s.body)
        else:
            data = s.body.decode() if s.body else s.url.partition("?")[2]
            for pair in data.split("&"):
                unquote_plus(pair)


def decode_only(passes: int) -> None:
    """Registry.decode's CPU per hit, best and median of `passes` passes over the same hits."""
    import pixelspy

    samples, times = corpus_hits(3000)
    hits = [s.hit(t, i) for i, (s, t) in enumerate(zip(samples, times))]
    for h in hits:
        h.host  # noqa: B018 - split beforehand, as the proxy's hits come
    registry = default_registry()
    for h in hits:  # warm: the shared param tables filled as in a running session
        registry.decode(h)
    spent = []
    for _ in range(passes):
        t0 = time.thread_time()
        for h in hits:
            registry.decode(h)
        spent.append((time.thread_time() - t0) * 1e6 / len(hits))
    spent.sort()
    print(f"Registry.decode CPU per hit ({pixelspy.__file__}): best {spent[0]:.2f} µs, "
          f"median {spent[len(spent) // 2]:.2f} µs of {passes} passes over {len(hits):,} hits")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hits", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=1, help="run each measure this many times; print the best")
    ap.add_argument("--live-collector", action="store_true",
                    help="ingest under the proxy's collector settings (heap.freeze_heap)")
    ap.add_argument("--profile", action="store_true", help="cProfile the ingest run; print the top functions")
    ap.add_argument("--decode-only", action="store_true", help="Registry.decode's CPU per hit alone")
    ap.add_argument("--passes", type=int, default=15, help="with --decode-only: passes over the hits")
    args = ap.parse_args()
    if args.decode_only:
        decode_only(args.passes)
        return 0

    by_vendor = build_corpus()
    print(f"pixelspy decode benchmark — python {platform.python_version()}, {platform.machine()}")
    print("corpus: " + ", ".join(f"{p} ({len(s)})" for p, s in sorted(by_vendor.items())))
    first_session()
    samples, times = corpus_hits(args.hits)
    n = len(samples)
    registry = default_registry()

    hits: list = []

    def construct_hits() -> None:
        hits[:] = [s.hit(t, i) for i, (s, t) in enumerate(zip(samples, times))]

    rounds = args.rounds
    construct, _ = timed("baseline: RawHit construction", n, construct_hits, rounds)
    json_rate, _ = timed("baseline: json.loads / form split of bodies", n, lambda: json_baseline(samples), rounds)
    decode, _ = timed("Registry.decode (decoders only)", n, lambda: [registry.decode(h) for h in hits], rounds)

    in_gc: list[GcTime] = []  # per round
    ingest_loop: list[tuple[float, float]] = []  # per round: the ingest loop's (wall, CPU) seconds
    stored: list[int] = []

    def ingest_all() -> None:
        session = Session()  # a fresh one each round, freed when the round ends
        with live_collector(session, args.live_collector), gc_time() as spent:
            t0, c0 = time.perf_counter(), time.process_time()
            for h in hits:
                session.ingest(h)
            ingest_loop.append((time.perf_counter() - t0, time.process_time() - c0))
        in_gc.append(spent)
        stored.append(len(session))

    ingest, best = timed("Session.ingest" + (", live collector" if args.live_collector else " (decoders + checks)"),
                         n, ingest_all, rounds)
    spent, (loop_wall, loop_cpu) = in_gc[best], ingest_loop[best]
    print(f"    of which in CPython's garbage collector      {sum(spent.wall) * 1e6 / n:12.1f} µs/hit "
          f"({sum(spent.wall) / loop_wall:.1%}); CPU {sum(spent.cpu) * 1e6 / n:.1f} µs/hit "
          f"({sum(spent.cpu) / loop_cpu:.1%} of the ingest loop's CPU)")
    print("      by generation (collections, CPU µs/hit): " + "; ".join(
        f"{g}: {spent.count[g]}, {spent.cpu[g] * 1e6 / n:.2f}" for g in range(3))
        + f"; young collections per 1,000 hits {spent.count[0] * 1000 / n:.1f}")
    session_events = stored[best]

    def proxy_path() -> None:
        session = Session()
        for i, (s, t) in enumerate(zip(samples, times)):
            session.ingest(s.hit(t, i))

    timed("RawHit + Session.ingest (proxy path)", n, proxy_path, rounds)

    # Memory in a separate pass: tracemalloc slows allocation several times over.
    gc.collect()
    session = Session()
    tracemalloc.start()
    for h in hits:
        session.ingest(h)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(f"  checks active: {len(session.checks.checks)}; events stored: {session_events:,} "
          f"of {n:,} hits; objects the collector tracks per stored event: {tracked_per_event(hits):.2f}")
    print(f"ratios: ingest / RawHit construction = {ingest / construct:.3f}; "
          f"ingest / json baseline = {ingest / json_rate:.3f}; ingest / decode = {ingest / decode:.3f}")
    print(f"memory: tracemalloc peak during ingest = {peak / 2**20:.1f} MiB "
          f"({peak / max(session_events, 1) / 1024:.2f} KiB per stored event); "
          f"ru_maxrss = {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")
    met = ingest >= GOAL_HITS_PER_S
    print(f"goal ≥ {GOAL_HITS_PER_S:,} hits/s through Session.ingest: {'MET' if met else 'MISSED'} "
          f"({ingest:,.0f})")

    if args.profile:
        session = Session()
        prof = cProfile.Profile()
        prof.enable()
        for h in hits:
            session.ingest(h)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
