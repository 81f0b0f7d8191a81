"""What the addon costs each relayed request, in-process: pixelspy's hooks against the
baseline's (mitmdump_sink.py, what bench_proxy.py runs in bare mitmdump), on bench_proxy's mix.

    .venv/bin/python benchmarks/bench_addon.py [--passes 5] [--profile ordinary|tracking] [--split]

The same flows go through both hooks: ordinary GETs to a local upstream and, one in ten, tracking
hits from the corpus (sink mode, as in bench_proxy). pixelspy's JSON lines go to /dev/null and are
flushed every half second's worth of the mix at bench_proxy's rate (the CLI flushes every tick).
Each pass sends the mix again with new serials, as bench_proxy's connections do, from a minute
later: pixelspy's state carries over, but no hit is a copy of an earlier one. Prints µs per
request of each (best pass) and the difference, which is what pixelspy adds to each request in
`bench_proxy.py`. (In the proxy, most of it comes after the answer is sent: pixelspy decodes a
sink-answered hit after its response hook. Here no event loop runs, so the decoding happens
inside the hooks and is counted.)

`--split` also times pixelspy's decoding, checks and JSON lines inside the hooks (CPU time, median of
the passes), leaving what the addon adds besides them: its timers add a little to the pixelspy column.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import statistics
import sys
import time
from importlib.metadata import version

import mitmdump_sink
from loopback import client_address, cpu_info, is_tracking, mix_request, request_mix
from mitmproxy import http
from mitmproxy.net.http.http1 import read_request_head
from mitmproxy.test import taddons, tflow

from pixelspy import checks, decoders
from pixelspy.addon import JsonLines, PixelSpy
from pixelspy.cli.live import TICK_S

UPSTREAM_PORT = 8080  # never connected to: the hooks only read the requests
PROXY_RATE = 850  # requests/s, about what bench_proxy's saturated proxies relay on this project's machines
CONNECTIONS = 8  # bench_proxy's default


def flows(run: int) -> tuple[list[http.HTTPFlow], list[http.HTTPFlow]]:
    """bench_proxy's requests as mitmproxy flows, parsed as mitmproxy parses them: (ordinary, tracking).
    As there, CONNECTIONS devices send a slice of the mix each, PROXY_RATE requests/s in all, and
    every tracking hit is a serial of its own; the flows of each `run` come a minute after the last's."""
    mix = request_mix(UPSTREAM_PORT)
    per_device = len(mix) // CONNECTIONS
    start = time.time() + 60 * run
    ordinary, tracking = [], []
    for n, item in enumerate(mix):
        raw = mix_request(item, serial=run * len(mix) + n + 1)
        head, _, body = raw.partition(b"\r\n\r\n")
        flow = tflow.tflow()
        flow.request = read_request_head([line + b"\r\n" for line in head.split(b"\r\n")])
        flow.request.content = body
        device, k = divmod(n, per_device)
        flow.request.timestamp_start = start + k * CONNECTIONS / PROXY_RATE
        flow.client_conn.peername = (client_address(device), 40000)
        flow.response = None
        (tracking if is_tracking(raw) else ordinary).append(flow)
    return ordinary, tracking


def replay(hook, batch: list[http.HTTPFlow], flush=None, flush_every: int = 0) -> float:
    """µs per request of one pass of the hook over the flows: CPU time, which other processes on a
    shared host leave alone (wall clock counts the time they hold the core)."""
    t0 = time.thread_time()
    for i, flow in enumerate(batch):
        flow.response = None
        hook(flow)
        if flush is not None and i % flush_every == 0:
            flush()
    return (time.thread_time() - t0) / len(batch) * 1e6


class Parts:
    """CPU time spent in pixelspy's decoding, checks and JSON lines, by wrapping them (--split)."""

    WRAPPED = {"decoding": [(decoders, "decode")],
               "checks": [(checks.CheckEngine, "process"), (checks.CheckEngine, "observe_traffic")],
               "JSON lines": [(JsonLines, "__call__"), (JsonLines, "flush")]}

    def __init__(self) -> None:
        self.spent = dict.fromkeys(self.WRAPPED, 0.0)
        for part, places in self.WRAPPED.items():
            for owner, name in places:
                setattr(owner, name, self._timed(part, getattr(owner, name)))

    def _timed(self, part: str, fn):
        def timed(*args, **kwargs):
            t0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[part] += time.thread_time() - t0
        return timed

    def take(self, requests: int) -> dict[str, float]:
        """µs per request in each part since the last take."""
        spent, self.spent = self.spent, dict.fromkeys(self.WRAPPED, 0.0)
        return {part: t / requests * 1e6 for part, t in spent.items()}


def print_split(split: dict[str, list[dict[str, float]]], added: dict[str, list[float]]) -> None:
    print(f"\n{'µs per request (median)':<24}" + "".join(f"{part:>12}" for part in Parts.WRAPPED)
          + f"{'the rest':>12}")
    for kind, passes in split.items():
        parts = {part: statistics.median(p[part] for p in passes) for part in Parts.WRAPPED}
        rest = statistics.median(a - sum(p.values()) for a, p in zip(added[kind], passes))
        print(f"  {kind:<22}" + "".join(f"{t:12.1f}" for t in parts.values()) + f"{rest:12.1f}")
    print("(the rest: pixelspy's hooks, raw hits, sessions and answers, less the baseline's own route lookup "
          "and answer)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passes", type=int, default=5, help="replay the mix this many times; print the best pass")
    ap.add_argument("--profile", choices=("ordinary", "tracking"), help="cProfile pixelspy's hook on these flows")
    ap.add_argument("--split", action="store_true", help="time decoding, checks and JSON lines apart")
    args = ap.parse_args()

    print(f"addon cost per request — {cpu_info()}, python {platform.python_version()}, "
          f"mitmproxy {version('mitmproxy')}")
    ordinary, tracking = flows(0)
    share = len(tracking) / (len(ordinary) + len(tracking))
    addon = PixelSpy()
    parts = Parts() if args.split else None
    split: dict[str, list[dict[str, float]]] = {}

    def pixelspy_hooks(flow: http.HTTPFlow) -> None:  # as mitmproxy calls them
        addon.request(flow)
        if flow.response is not None:
            addon.response(flow)

    json_lines = JsonLines(addon.session, out=open(os.devnull, "w"))
    addon.session.subscribe(json_lines)
    # A tick's worth of the mix's tracking hits between flushes.
    flush_every = max(1, round(PROXY_RATE * TICK_S * share))
    with taddons.context(addon) as tctx:
        tctx.configure(addon, pixelspy_sink=True)
        if args.profile:
            batch = ordinary if args.profile == "ordinary" else tracking
            profiler = cProfile.Profile()
            profiler.runcall(replay, pixelspy_hooks, batch, json_lines.flush, flush_every)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
            return 0
        times: dict[tuple[str, str], list[float]] = {}
        for run in range(args.passes):
            batches = dict(zip(("ordinary", "tracking"), flows(run) if run else (ordinary, tracking)))
            for kind, batch in batches.items():
                times.setdefault(("baseline", kind), []).append(replay(mitmdump_sink.request, batch))
                times.setdefault(("pixelspy", kind), []).append(
                    replay(pixelspy_hooks, batch, json_lines.flush, flush_every))
                if parts is not None:
                    split.setdefault(kind, []).append(parts.take(len(batch)))
        cost = {key: min(ts) for key, ts in times.items()}
    print(f"{len(ordinary)} ordinary requests, {len(tracking)} tracking hits ({share:.0%}); best of "
          f"{args.passes} passes; pixelspy's changed events flushed every {flush_every} tracking hits\n")
    print(f"{'µs per request':<24}{'baseline':>10}{'pixelspy':>10}{'added':>10}")
    for kind in ("ordinary", "tracking"):
        base, spy = cost["baseline", kind], cost["pixelspy", kind]
        print(f"  {kind:<22}{base:10.1f}{spy:10.1f}{spy - base:10.1f}")
    mix = {who: (1 - share) * cost[who, "ordinary"] + share * cost[who, "tracking"] for who in ("baseline", "pixelspy")}
    print(f"  {'the mix':<22}{mix['baseline']:10.1f}{mix['pixelspy']:10.1f}{mix['pixelspy'] - mix['baseline']:10.1f}")
    if split:
        print_split(split, {kind: [spy - base for base, spy in zip(times["baseline", kind], times["pixelspy", kind])]
                            for kind in split})
    relay_us = 1e6 / PROXY_RATE
    print(f"\nAt {PROXY_RATE} req/s a saturated proxy spends ≈ {relay_us:.0f} µs on each request; the "
          f"{mix['pixelspy'] - mix['baseline']:.0f} µs pixelspy adds would leave it ≈ "
          f"{relay_us / (relay_us + mix['pixelspy'] - mix['baseline']):.3f} of bare mitmdump's rate "
          "(before the garbage collector's share).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
