"""Long run (not CI): steady paced load through `pixelspy --no-ui --sink` for N minutes, sampling RSS.

    .venv/bin/python benchmarks/longrun.py [--minutes 30] [--rate 200] [--tracking-every 10]

Loopback only, bounded in time: the load stops itself after --minutes. The session keeps every
tracking event (up to Session.max_events, 100,000), so RSS is expected to grow with the number of
stored events and nothing else; the report separates the two: RSS growth per stored event, and the
growth over the second half of the run. "Flat" means the second half grows by less than
--flat-mib (default 5 MiB) beyond what the stored events account for at the first half's rate.
--tracking-every 0 sends no tracking hits: then RSS itself must stay flat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from loopback import ProxyProcess, Upstream, cpu_info, request_mix, run_load


class EventCounter:
    """Reads pixelspy's JSON lines (one per event, again per update) and counts distinct events."""

    def __init__(self, stream):
        self.ids: set[str] = set()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.ids.add(json.loads(line)["id"])

    @property
    def count(self) -> int:
        return len(self.ids)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=200.0, help="requests/s, paced (default 200)")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--tracking-every", type=int, default=10, help="one tracking hit every N requests; 0 = none")
    ap.add_argument("--sample-s", type=float, default=10.0, help="RSS sampling interval")
    ap.add_argument("--flat-mib", type=float, default=5.0)
    args = ap.parse_args()

    print(f"pixelspy long run — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu_info()}, "
          f"python {platform.python_version()}, mitmproxy {version('mitmproxy')}; "
          f"{args.minutes:g} min at {args.rate:g} req/s", flush=True)
    upstream = Upstream()
    requests = request_mix(upstream.port, args.tracking_every)
    samples: list[tuple[float, int, int]] = []  # (seconds, RSS KiB, events so far)
    with tempfile.TemporaryDirectory() as tmp:
        proxy = ProxyProcess("pixelspy", Path(tmp) / "confdir", stdout=subprocess.PIPE)
        events_seen = EventCounter(proxy.proc.stdout)
        seconds = args.minutes * 60
        start = time.monotonic()
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(args.sample_s):
                t = time.monotonic() - start
                samples.append((t, proxy.memory_kib()["VmRSS"], events_seen.count))
                print(f"  {t / 60:6.1f} min  RSS {samples[-1][1] / 1024:7.1f} MiB  events {events_seen.count:,}",
                      flush=True)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            result = asyncio.run(run_load(proxy.port, requests, args.connections, seconds, warmup=0,
                                          rate=args.rate))
        finally:
            stop.set()
            sampler.join()
            peak = proxy.memory_kib()["VmHWM"]
            proxy.stop()
            upstream.stop()

    failed = result.errors + sum(n for s, n in result.statuses.items() if s >= 400)
    print(f"requests {result.requests:,} ({result.rps:.0f}/s), failed {failed}, "
          f"p50 {result.percentile(50) * 1e3:.2f} ms, p99 {result.percentile(99) * 1e3:.2f} ms, "
          f"events {events_seen.count:,}, peak RSS {peak / 1024:.1f} MiB")
    if len(samples) < 4:
        print("too few RSS samples for a verdict")
        return 1
    first, mid, last = samples[0], samples[len(samples) // 2], samples[-1]
    rss_mib = lambda a, b: (b[1] - a[1]) / 1024  # noqa: E731
    events = lambda a, b: b[2] - a[2]  # noqa: E731
    per_event_kib = rss_mib(first, mid) * 1024 / events(first, mid) if events(first, mid) else 0.0
    expected_mib = per_event_kib * events(mid, last) / 1024
    excess = rss_mib(mid, last) - expected_mib
    print(f"RSS {first[1] / 1024:.1f} → {mid[1] / 1024:.1f} → {last[1] / 1024:.1f} MiB "
          f"(first sample, half-way, end); first half {per_event_kib:.2f} KiB per stored event; "
          f"second half grew {rss_mib(mid, last):.1f} MiB, {expected_mib:.1f} MiB expected from stored events")
    flat = excess < args.flat_mib
    print(f"memory {'FLAT' if flat else 'GROWING'}: {excess:+.1f} MiB beyond the stored events "
          f"in the second half (limit {args.flat_mib:g} MiB)")
    return 0 if flat and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
