"""Proxy throughput and latency: `pixelspy --no-ui --sink` against bare `mitmdump`, same run.

    .venv/bin/python benchmarks/bench_proxy.py [--rounds 3] [--seconds 10] [--slice 3] [--connections 8]

Traffic (all on loopback): 90 % GETs to a local upstream, 10 % tracking hits from the corpus sent as
plain-HTTP requests to the vendor hosts, each with IDs and a page URL of its own, from one device
(loopback address) per connection: clean traffic, nothing for pixelspy to flag. pixelspy answers
those with --sink; mitmdump answers the same hosts and paths with mitmdump_sink.py (same route
lookup, same response), so both proxies do the same work apart from pixelspy's decoding, checks
and JSON-lines output (discarded).
Each round starts both proxies afresh and loads them in turns of `--slice` seconds (A B B A A B …,
new connections each turn): a change in the host's speed, which on a shared VM comes and goes
within minutes, then falls on both alike. (Until session 9 each proxy ran its 30 s in one piece.)

Two measurements per proxy and round:
  saturation  `--connections` keep-alive connections, closed loop: requests/s and latency under load
  paced       `--rate` requests/s (default: half of mitmdump's saturation rate in round 1): p50/p99
              latency when the proxy is not the bottleneck
Goals: pixelspy ≥ 0.95 × mitmdump requests/s (median of rounds); pixelspy p99 ≤ 1.10 × mitmdump p99
(paced, over the requests of all rounds pooled; per-round medians are printed too).

`--against-itself` runs bare mitmdump in both places (an A/A run): the ratios it prints are the
benchmark's own scatter on this host, what a ratio of pixelspy's must be read against.

`--decoding-cost` runs pixelspy against itself with its decoding off (pixelspy_nodecode.py) instead
of mitmdump: since pixelspy loads fewer mitmproxy addons than mitmdump (proxy.proxy_addons), its
ratio against mitmdump hides part of what decoding, checks and output cost; this ratio shows it.

Each proxy's CPU time (user + system, /proc) per request answered under saturation is printed too:
on a loaded host the wall-clock ratios scatter with whatever else runs, while what each proxy spends
on a request hardly does. Its inverse ratio is about the throughput ratio a quiet host would give (an
upper bound of the cost: the session file's SQLite work, off the GIL, may run on another core).

`--offload` (with `--decoding-cost`) adds a third proxy to the turns: pixelspy with its session's work
(decoding, checks, session file, JSON lines) in a child process (pixelspy_offload.py, an experiment for
issue #27), against the same no-decode twin; its CPU per request counts the child's too.

`--prefill N` sends N tracking hits through each proxy before each round's measurements: a proxy
started afresh holds fewer events than a live session's in-memory window (session.MAX_EVENTS_WITH_FILE)
within a round, so without it the measurements never see memory full and events evicted.

`--against DIR` runs another tree's pixelspy (DIR on PYTHONPATH, e.g. `git archive` of main) as a
second pair of proxies in the same turns: "before" and "after" interleaved, each pair's ratios
printed apart (`--against-env NAME=VALUE` sets a variable for that pair only: an experiment's knob).

`--stalls DIR` loads stall_probe.py into every proxy (through stall_probe/sitecustomize.py) and prints,
per proxy, its event-loop stalls over 2 ms under the paced load by cause (CPython's collections, the
heap freezer, decoding, JSON lines, the loop thread off its CPU while the session file's thread ran or
not), and per request its CPU, its loop thread's wait for a core (Linux schedstat) and its writer
thread's CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from corpus import Sample
from loopback import LoadResult, ProxyProcess, Upstream, cpu_info, request_mix, run_load


SLICE_WARMUP_S = 0.25
AGAINST = "before"  # the label of --against's proxies
STALL_CAUSES = ("gc0", "gc1", "gc2", "freeze", "freeze_gc", "reclaim", "reclaim_gc", "ingest_event", "ingest_plain",
                "jsonl", "answer", "hand_over", "tick", "addon")
STALL_BUCKETS_MS = (2, 5, 10, 20)


def stall_probe_env(env: dict[str, str], stalls: str | None, kind: str, rnd: int) -> dict[str, str]:
    """`env` with stall_probe.py loaded into the proxy (through its sitecustomize), when asked."""
    if not stalls:
        return env
    Path(stalls).mkdir(parents=True, exist_ok=True)
    site = str(Path(__file__).resolve().parent / "stall_probe")
    return {**env, "PYTHONPATH": os.pathsep.join(filter(None, [site, env.get("PYTHONPATH"), os.environ.get("PYTHONPATH")])),
            "STALL_PROBE_OUT": str(Path(stalls) / f"{kind.replace(' ', '').replace('@', '_')}.round{rnd + 1}")}


def stall_cause(stall: dict) -> str:
    """What most of a stall went to: the loop thread off its CPU, while the proxy's other threads
    (the session file's) ran for most of that time (the GIL, or the core, theirs) or not (the host's
    other processes); else the cause stall_probe timed that took most of it; else the rest of the
    callback (mitmproxy's and pixelspy's code)."""
    if (off := stall["off_cpu"]) >= stall["ms"] / 2:
        return "off CPU, writer thread ran" if stall["others_cpu"] >= off / 2 else "off CPU, host"
    cause, ms = max(((cause, stall.get(cause, 0.0)) for cause in STALL_CAUSES), key=lambda kv: kv[1])
    return cause if ms >= stall["ms"] / 2 else f"other in {stall['where']}"


def own_cause(stall: dict, cpu_ms: float) -> str:
    """The cause stall_probe timed that took most of a stall's `cpu_ms` on CPU, else the rest of the callback."""
    cause, ms = max(((cause, stall.get(cause, 0.0)) for cause in STALL_CAUSES), key=lambda kv: kv[1])
    return cause if ms >= cpu_ms / 2 else f"other in {stall['where']}"


def stall_table(folder: Path, kinds: tuple[str, ...], paced: dict[str, list[tuple[float, float]]]) -> None:
    """Stalls per proxy under the paced load (all rounds), counted by size and by the cause most of
    each went to, and the time by cause over the whole run (saturation and paced)."""
    import json
    from collections import Counter, defaultdict
    print(f"\nevent-loop stalls over {STALL_BUCKETS_MS[0]} ms under the paced load (stall_probe.py; all rounds)")
    for kind in kinds:
        stalls, totals, counts = [], Counter(), Counter()
        for path in sorted(folder.glob(f"{kind.replace(' ', '').replace('@', '_')}.round*.jsonl")):
            last = None
            for line in path.read_text().splitlines():
                record = json.loads(line)
                if "totals" in record:
                    last = record
                elif any(start <= record["t"] < end for start, end in paced.get(kind, ())):
                    stalls.append(record)
            if last is not None:
                totals.update(last["totals"])
                counts.update(last["counts"])
        by_cause: dict[str, Counter] = defaultdict(Counter)
        for stall in stalls:
            bucket = max(b for b in STALL_BUCKETS_MS if stall["ms"] >= b)
            by_cause[stall_cause(stall)][bucket] += 1
            by_cause[stall_cause(stall)]["ms"] += stall["ms"]
        print(f"  {kind}: {len(stalls)} stalls, {sum(s['ms'] for s in stalls) / 1e3:.2f} s; "
              + ", ".join(f"≥{b} ms: {sum(1 for s in stalls if s['ms'] >= b)}" for b in STALL_BUCKETS_MS))
        for cause, buckets in sorted(by_cause.items(), key=lambda kv: -kv[1]["ms"]):
            print(f"    {cause:44} " + "  ".join(f"{b}–: {buckets[b]:4}" for b in STALL_BUCKETS_MS)
                  + f"  {buckets['ms'] / 1e3:6.2f} s")
        # The same stalls by the loop thread's own CPU time in them: what the proxy itself spent,
        # whatever the host's other processes did meanwhile (the wall-clock view above is mostly theirs).
        on_cpu: dict[str, Counter] = defaultdict(Counter)
        for stall in stalls:
            if (cpu := stall["ms"] - stall["off_cpu"]) >= STALL_BUCKETS_MS[0]:
                on_cpu[own_cause(stall, cpu)][max(b for b in STALL_BUCKETS_MS if cpu >= b)] += 1
                on_cpu[own_cause(stall, cpu)]["ms"] += cpu
        print(f"    on CPU ≥ {STALL_BUCKETS_MS[0]} ms: {sum(sum(c[b] for b in STALL_BUCKETS_MS) for c in on_cpu.values())}")
        for cause, buckets in sorted(on_cpu.items(), key=lambda kv: -kv[1]["ms"]):
            print(f"      {cause:42} " + "  ".join(f"{b}–: {buckets[b]:4}" for b in STALL_BUCKETS_MS)
                  + f"  {buckets['ms'] / 1e3:6.2f} s")
        n = counts["requests"] or 1
        print(f"    per request: CPU {1e3 * totals['process_cpu'] / n:.3f} ms, the loop thread's waiting for a core "
              f"{1e3 * totals['run_delay'] / n:.3f} ms, the writer thread's flushes' CPU "
              f"{1e3 * totals['writer_flush_cpu'] / n:.3f} ms ({counts['writer_flush']:,} flushes)")
        print("    CPU µs per request: " + ", ".join(
            f"{cause} {1e6 * totals[f'{cause}_cpu'] / n:.1f}" for cause in STALL_CAUSES if totals[f"{cause}_cpu"])
            + f", writer thread {1e6 * totals['writer_flush_cpu'] / n:.1f}")
        print(f"    whole run, {n:,} requests, {counts['handles']:,} callbacks, CPU {totals['process_cpu']:.2f} s (loop thread "
              f"{totals['loop_cpu']:.2f} s, writer thread's flushes {totals['writer_flush_cpu']:.2f} s), loop thread "
              f"waiting for a core {totals['run_delay']:.2f} s in {counts['timeslices']:,} timeslices; callbacks off "
              f"CPU {totals['off_cpu']:.2f} s, {totals['off_cpu_others_ran']:.2f} s of it while another thread ran): "
              + ", ".join(
            f"{cause} {counts[cause]:,}× {totals[cause]:.2f} s" for cause in (*STALL_CAUSES, "writer_flush")
            if counts[cause]))


def fmt(r: LoadResult) -> str:
    bad = sum(n for s, n in r.statuses.items() if s >= 400) + r.errors
    return (f"{r.rps:8.0f} req/s  p50 {r.percentile(50) * 1e3:6.2f} ms  p99 {r.percentile(99) * 1e3:6.2f} ms"
            + (f"  ({bad} failed)" if bad else ""))


def cpu_seconds(proxy: ProxyProcess) -> float:
    """The proxy process's CPU time so far, user and system, all its threads and its running children
    (/proc/PID/stat)."""
    pids = [proxy.proc.pid]
    for children in Path(f"/proc/{proxy.proc.pid}/task").glob("*/children"):
        pids += [int(pid) for pid in children.read_text().split()]
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # (a child that has just ended)
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def settle(proxy: ProxyProcess, timeout_s: float = 120.0) -> None:
    """Wait until the proxy is idle (under 5 % of a core over half a second): pixelspy answers the
    prefill's hits before decoding them, and decodes and records the backlog after."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = cpu_seconds(proxy)
        time.sleep(0.5)
        if cpu_seconds(proxy) - before < 0.025:
            return


def interleaved(proxies: dict[str, ProxyProcess], requests: list[bytes | Sample], connections: int, seconds: float, slices: int,
                rnd: int, rate: float | None = None,
                windows: dict[str, list[tuple[float, float]]] | None = None) -> dict[str, LoadResult]:
    """`slices` runs of `seconds` through each proxy, taking turns (A B B A A B …), merged per proxy:
    a change in the host's speed (other VMs, frequency) then falls on both within seconds. Each
    run's (start, end), time.monotonic(), is added to `windows[kind]` when given."""
    parts: dict[str, list[LoadResult]] = {kind: [] for kind in proxies}
    order = list(proxies)
    for n in range(slices):
        for kind in (order if (n + rnd) % 2 == 0 else order[::-1]):
            # A short warm-up per slice: the connections are new, their first requests open the
            # upstream connections.
            start = time.monotonic()
            parts[kind].append(asyncio.run(run_load(proxies[kind].port, requests, connections, seconds,
                                                    warmup=SLICE_WARMUP_S, rate=rate)))
            if windows is not None:
                windows.setdefault(kind, []).append((start + SLICE_WARMUP_S, time.monotonic()))
    return {kind: LoadResult.merged(results) for kind, results in parts.items()}


def report(pair: tuple[str, str], sat, paced, peak_kib, cpu, rate) -> dict[str, float]:
    """The ratios of `pair`'s second proxy to its first, printed; returned by row."""
    base, other = pair
    kinds = pair

    def med(results: list[LoadResult], what) -> float:
        return statistics.median(what(r) for r in results)

    print(f"\n{'median over rounds':28}{base:>10} {other:>10}   ratio")
    rows = [
        ("saturation req/s", sat, lambda r: r.rps, 1),
        ("saturation p50 ms", sat, lambda r: r.percentile(50), 1e3),
        ("saturation p99 ms", sat, lambda r: r.percentile(99), 1e3),
        (f"paced {rate:.0f}/s p50 ms", paced, lambda r: r.percentile(50), 1e3),
        (f"paced {rate:.0f}/s p99 ms", paced, lambda r: r.percentile(99), 1e3),
    ]
    values = {}
    for label, data, what, scale in rows:
        m, p = med(data[base], what) * scale, med(data[other], what) * scale
        values[label] = p / m
        print(f"  {label:26} {m:9.2f}  {p:9.2f}  {p / m:6.3f}")
    print(f"  {'peak RSS MiB (VmHWM)':26} {peak_kib[base] / 1024:9.1f}  {peak_kib[other] / 1024:9.1f}  "
          f"{peak_kib[other] / peak_kib[base]:6.3f}")

    # The warm-up requests of each slice are not counted but cost CPU too: both proxies alike.
    m, p = (1e3 * cpu[k] / sum(r.requests for r in sat[k]) for k in kinds)
    print(f"  {'CPU ms/request (all rounds)':26} {m:9.3f}  {p:9.3f}  {p / m:6.3f}   "
          f"(throughput on a quiet host ≈ {m / p:.3f})")
    values["CPU/request"], values["CPU ms/request"] = p / m, p

    # A round's p99 is set by whether a full garbage collection (tens of ms in either proxy) lands in
    # its window, so per-round p99s scatter widely; the p99 of all paced requests is the steadier
    # estimate of the tail, and the goal is judged on it.
    pooled = {k: LoadResult(latencies=[x for r in paced[k] for x in r.latencies],
                            tracking_latencies=[x for r in paced[k] for x in r.tracking_latencies]) for k in kinds}
    print(f"\npaced {rate:.0f}/s, all rounds pooled ({len(pooled[base].latencies):,} and "
          f"{len(pooled[other].latencies):,} requests)")
    for pct in (50, 95, 99, 99.9):
        m, p = pooled[base].percentile(pct) * 1e3, pooled[other].percentile(pct) * 1e3
        values[f"pooled p{pct}"], values[f"pooled p{pct} ms"] = p / m, p
        print(f"  {f'p{pct} ms':26} {m:9.2f}  {p:9.2f}  {p / m:6.3f}")
    # Where the tail is: the tracking hits alone (the rest is ordinary requests waiting behind them
    # or behind whole-process pauses).
    for pct in (50, 99):
        m, p = (pooled[k].percentile(pct, tracking_only=True) * 1e3 for k in kinds)
        values[f"tracking p{pct}"] = p / m
        print(f"  {f'tracking hits only p{pct} ms':26} {m:9.2f}  {p:9.2f}  {p / m:6.3f}")
    return values


SUMMARY = (("throughput", "saturation req/s", "{:.3f}"), ("CPU/request", "CPU/request", "{:.3f}"),
           ("pooled p95", "pooled p95", "{:.2f}"), ("pooled p99", "pooled p99", "{:.2f}"),
           ("tracking p99", "tracking p99", "{:.2f}"))


def summary(pairs: list[tuple[str, str]], values: dict[tuple[str, str], dict[str, float]]) -> None:
    """Each pair's ratios (its second proxy to its first) on one line each, and with --against the
    second proxies of the two pairs against each other: the interleaved before/after at a glance."""
    print(f"\n{'ratios to the first of each pair':42}" + "".join(f"{label:>14}" for label, _, _ in SUMMARY))
    for pair in pairs:
        print(f"  {' / '.join(pair[::-1]):40}" + "".join(f"{form.format(values[pair][key]):>14}" for _, key, form in SUMMARY))
    if len(pairs) > 1:
        after, before = values[pairs[0]], values[pairs[1]]
        print(f"  {pairs[0][1]} / {pairs[1][1]}: CPU ms/request {after['CPU ms/request']:.3f} / "
              f"{before['CPU ms/request']:.3f} = {after['CPU ms/request'] / before['CPU ms/request']:.3f}; pooled paced "
              f"p99 {after['pooled p99 ms']:.2f} / {before['pooled p99 ms']:.2f} ms = "
              f"{after['pooled p99 ms'] / before['pooled p99 ms']:.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0,
                    help="measured seconds per proxy, measurement and round (in slices, after a warm-up)")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--slice", type=float, default=3.0,
                    help="seconds each proxy is loaded before the other takes its turn")
    ap.add_argument("--rate", type=float, default=None, help="requests/s of the paced latency run")
    ap.add_argument("--against-itself", action="store_true",
                    help="bare mitmdump in both places (A/A): the ratios' own scatter; no goals judged")
    ap.add_argument("--decoding-cost", action="store_true",
                    help="pixelspy against itself with decoding off (pixelspy_nodecode.py), not mitmdump: "
                         "what its own work costs; no goals judged")
    ap.add_argument("--offload", action="store_true",
                    help="with --decoding-cost: also pixelspy with its session's work in a child process "
                         "(pixelspy_offload.py, an experiment), against the same no-decode twin")
    ap.add_argument("--prefill", type=int, default=0, metavar="N",
                    help="tracking hits sent through each proxy before each round: a long session's memory")
    ap.add_argument("--against", metavar="DIR",
                    help="another tree's pixelspy (on PYTHONPATH) measured too, as a second pair of proxies "
                         "in the same turns (\"before\" runs interleaved with \"after\")")
    ap.add_argument("--against-env", metavar="NAME=VALUE", action="append", default=[],
                    help="an environment variable for --against's proxies only (an experiment's knob)")
    ap.add_argument("--stalls", metavar="DIR",
                    help="log each proxy's event-loop stalls and their causes into DIR (stall_probe.py) and "
                         "print them by cause")
    args = ap.parse_args()
    if args.against_itself:
        base, other = "mitmdump", "mitmdump B"
    else:
        base, other = ("no-decode" if args.decoding_cost else "mitmdump"), "pixelspy"
    pairs = [(base, other)]
    command = {base: base, other: "mitmdump" if args.against_itself else other}
    env: dict[str, dict[str, str]] = {base: {}, other: {}}
    if args.against:
        pairs.append((f"{base} @{AGAINST}", f"{other} @{AGAINST}"))
        for kind, against in zip(pairs[0], pairs[1]):
            command[against] = command[kind]
            env[against] = {"PYTHONPATH": os.pathsep.join(filter(None, [
                str(Path(args.against).resolve()), os.environ.get("PYTHONPATH")])),
                **dict(setting.split("=", 1) for setting in args.against_env)}
    if args.offload:
        if not args.decoding_cost:
            ap.error("--offload goes with --decoding-cost")
        pairs.append((base, "offload"))
        command["offload"], env["offload"] = "offload", {}
    kinds = tuple(dict.fromkeys(kind for pair in pairs for kind in pair))

    print(f"pixelspy proxy benchmark — {cpu_info()}, python {platform.python_version()}, "
          f"mitmproxy {version('mitmproxy')}")
    upstream = Upstream()
    requests = request_mix(upstream.port)
    tracking = request_mix(upstream.port, tracking_every=1)
    sat: dict[str, list[LoadResult]] = {k: [] for k in kinds}
    paced: dict[str, list[LoadResult]] = {k: [] for k in kinds}
    peak_kib: dict[str, int] = {k: 0 for k in kinds}
    cpu: dict[str, float] = {k: 0.0 for k in kinds}  # under saturation, all rounds
    rate = args.rate
    paced_windows: dict[str, list[tuple[float, float]]] = {}  # when each proxy was under the paced load
    slices = max(1, round(args.seconds / args.slice))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for rnd in range(args.rounds):
                proxies = {kind: ProxyProcess(command[kind], Path(tmp) / "confdir",
                                              env=stall_probe_env(env[kind], args.stalls, kind, rnd))
                           for kind in kinds}
                try:
                    for kind, proxy in proxies.items():  # first connections, imports, caches
                        asyncio.run(run_load(proxy.port, requests, args.connections, 1.0, warmup=0))
                        if args.prefill:
                            asyncio.run(run_load(proxy.port, tracking, args.connections, 3600, warmup=0,
                                                 max_requests=args.prefill))
                            settle(proxy)
                    cpu_before = {kind: cpu_seconds(proxy) for kind, proxy in proxies.items()}
                    r = interleaved(proxies, requests, args.connections, args.seconds / slices, slices, rnd)
                    for kind, proxy in proxies.items():
                        cpu[kind] += cpu_seconds(proxy) - cpu_before[kind]
                    if rate is None:
                        rate = round(r[base].rps / 2, -1)  # the baseline's rate in round 1
                    p = interleaved(proxies, requests, args.connections, args.seconds / slices, slices, rnd,
                                    rate=rate, windows=paced_windows)
                    for kind, proxy in proxies.items():
                        peak_kib[kind] = max(peak_kib[kind], proxy.memory_kib()["VmHWM"])
                finally:
                    for proxy in proxies.values():
                        proxy.stop()
                for kind in kinds:
                    sat[kind].append(r[kind])
                    paced[kind].append(p[kind])
                    print(f"round {rnd + 1} {kind:9} saturation {fmt(r[kind])} | paced {rate:.0f}/s {fmt(p[kind])}",
                          flush=True)
    finally:
        upstream.stop()

    by_pair = {pair: report(pair, sat, paced, peak_kib, cpu, rate) for pair in pairs}
    values = by_pair[pairs[0]]
    summary(pairs, by_pair)
    if args.stalls:
        stall_table(Path(args.stalls), kinds, paced_windows)
    failed = sum(r.errors + sum(n for s, n in r.statuses.items() if s >= 400)
                 for rs in (*sat.values(), *paced.values()) for r in rs)
    if args.against_itself or args.decoding_cost:
        print(f"{'A/A' if args.against_itself else 'decoding-cost'} run: no goals judged; failed requests: {failed}")
        return 1 if failed else 0
    tput_ok = values["saturation req/s"] >= 0.95
    p99_ok = values["pooled p99"] <= 1.10
    print(f"goal throughput ≥ 0.95 × mitmdump: {'MET' if tput_ok else 'MISSED'}; "
          f"goal p99 (paced, pooled) ≤ 1.10 × mitmdump: {'MET' if p99_ok else 'MISSED'}; failed requests: {failed}")
    return 0 if tput_ok and p99_ok and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
