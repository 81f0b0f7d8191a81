"""Memory under mixed load: `pixelspy --no-ui --sink` against bare `mitmdump`, same run.

    .venv/bin/python benchmarks/bench_memory.py [--connections 200] [--seconds 60] [--max-requests 200000]
                                                [--large-bodies] [--idle 10]

Each proxy in turn, started afresh, gets `--connections` keep-alive connections (one device each)
sending `bench_proxy.py`'s mix as fast as they can (90 % GETs to a local upstream, 10 % tracking
hits answered locally) for `--seconds` or until `--max-requests` answers, whichever comes first;
with `--large-bodies`, one request in 20 is instead a POST of a 1 MiB body to the upstream (an
upload; mitmproxy holds bodies under 4 MiB in memory). Loopback only.

Printed per proxy: RSS at start, after the run and after `--idle` seconds without traffic, and for
pixelspy the stored events and its RSS growth per stored event, and the RSS ratio to mitmdump.
Goal: after idle, pixelspy's growth beyond mitmdump's is no more than the stored events account
for (`--bytes-per-event`, default 8 KiB) plus `--slack-mib` (default 40 MiB).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from loopback import ProxyProcess, Upstream, _serialise, cpu_info, request_mix, run_load
from longrun import EventCounter

LARGE_BODY = 1024 * 1024
LARGE_EVERY = 20


def mixed_load(upstream_port: int, large_bodies: bool) -> list:
    """bench_proxy's mix; with large_bodies, one request in LARGE_EVERY a 1 MiB upload instead."""
    mix = request_mix(upstream_port)
    if not large_bodies:
        return mix
    upload = _serialise("POST", f"http://127.0.0.1:{upstream_port}/upload",
                        [("host", f"127.0.0.1:{upstream_port}"), ("content-type", "application/octet-stream")],
                        os.urandom(LARGE_BODY))
    return [upload if i % LARGE_EVERY == LARGE_EVERY // 2 else item for i, item in enumerate(mix)]


def measure(kind: str, mix: list, args, confdir: Path) -> dict:
    proxy = ProxyProcess(kind, confdir, stdout=subprocess.PIPE if kind == "pixelspy" else subprocess.DEVNULL)
    events = EventCounter(proxy.proc.stdout) if kind == "pixelspy" else None
    try:
        time.sleep(1)  # imports and caches settle
        start = proxy.memory_kib()["VmRSS"]
        t0 = time.monotonic()
        result = asyncio.run(run_load(proxy.port, mix, args.connections, args.seconds, warmup=0,
                                      max_requests=args.max_requests))
        seconds = time.monotonic() - t0
        time.sleep(0.5)
        after, peak = proxy.memory_kib()["VmRSS"], proxy.memory_kib()["VmHWM"]
        time.sleep(args.idle)
        idle = proxy.memory_kib()["VmRSS"]
    finally:
        proxy.stop()
    return dict(start=start, after=after, idle=idle, peak=peak, seconds=seconds, requests=result.requests,
                errors=result.errors, events=events.count if events else 0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--max-requests", type=int, default=200_000)
    ap.add_argument("--large-bodies", action="store_true", help="one request in 20 a 1 MiB upload")
    ap.add_argument("--idle", type=float, default=10.0, help="seconds without traffic before the last reading")
    ap.add_argument("--bytes-per-event", type=int, default=8 * 1024)
    ap.add_argument("--slack-mib", type=float, default=40.0)
    args = ap.parse_args()
    print(f"pixelspy memory benchmark — {cpu_info()}, python {platform.python_version()}, "
          f"mitmproxy {version('mitmproxy')}; {args.connections} connections, ≤ {args.seconds:g} s, "
          f"≤ {args.max_requests:,} requests{', large bodies' if args.large_bodies else ''}", flush=True)
    upstream = Upstream()
    mix = mixed_load(upstream.port, args.large_bodies)
    runs = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for kind in ("mitmdump", "pixelspy"):
                runs[kind] = r = measure(kind, mix, args, Path(tmp) / "confdir")
                print(f"  {kind:9} {r['requests']:>8,} requests in {r['seconds']:4.0f} s ({r['errors']} errors)"
                      f"  RSS MiB: start {r['start'] / 1024:6.1f}  after {r['after'] / 1024:6.1f}"
                      f"  idle {r['idle'] / 1024:6.1f}  peak {r['peak'] / 1024:6.1f}", flush=True)
    finally:
        upstream.stop()
    base, px = runs["mitmdump"], runs["pixelspy"]
    events = px["events"]
    growth = {k: (px[k] - px["start"]) * 1024 for k in ("after", "idle")}
    beyond = (px["idle"] - px["start"] - (base["idle"] - base["start"])) * 1024
    print(f"pixelspy stored {events:,} events; RSS growth per stored event: after the run "
          f"{growth['after'] / max(events, 1) / 1024:.1f} KiB, after idle {growth['idle'] / max(events, 1) / 1024:.1f} KiB")
    print(f"RSS ratio pixelspy / mitmdump: after the run {px['after'] / base['after']:.3f}, "
          f"after idle {px['idle'] / base['idle']:.3f}")
    allowed = events * args.bytes_per_event + args.slack_mib * 2**20
    ok = beyond <= allowed and px["requests"] > 0 and base["requests"] > 0
    print(f"growth beyond mitmdump's after idle: {beyond / 2**20:.1f} MiB, allowed {allowed / 2**20:.1f} MiB "
          f"({events:,} × {args.bytes_per_event / 1024:g} KiB + {args.slack_mib:g} MiB): {'MET' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
