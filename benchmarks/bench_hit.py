"""A tracking hit's work on the proxy's event-loop thread, live and in-process, step by step.

    .venv/bin/python benchmarks/bench_hit.py [--rounds 2] [--seconds 12] [--against DIR] [--in-process]

Live: `pixelspy --no-ui --sink` (with its session file, as bench_proxy runs it) under bench_proxy's
mix (90 % ordinary GETs, 10 % tracking hits, each with IDs and a page URL of its own), saturated by
`--connections` keep-alive connections, with hit_probe.py loaded through hit_probe/sitecustomize.py:
CPU µs of the loop thread per tracking hit in `Session.ingest` and in each of its steps (decoding, the
checks and each check, each subscriber, collections), counted after a warm-up; and the CPU µs per
request of the mix of the whole process and of its event loop's thread (/proc). `--in-process` runs the
same probe over bench_addon's flows of the mix, fed to the addon's hooks in the mix's order without
mitmproxy's proxy around them (after two passes; the collector's heap frozen first, as the live freezer
keeps it): the ratio live / in-process is what the proxy's surroundings add to the same steps.
`--against DIR` measures another tree's pixelspy (on PYTHONPATH) too, in turns with this one.
The probe's own timers cost ≈ 1 µs a wrapped call; both trees carry them alike. Live, it also notes
the ms from a sink answer being made to its hit's ingest (what a batch of hits waits).
`--new-row [--against DIR]`: the TUI (headless, Pilot) with its proxy in sink mode, in a process of
its own per tree: ms from a hit sent through the proxy until its row is the list's selected one
(the list follows the newest row), hits one at a time, `--hits` of them; median and most.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STEP_ORDER = ("hit", "hit gc0", "hit gc1", "hit gc2", "hit: decoding", "hit: checks")


def live(tree: Path, seconds: float, warmup: float, connections: int) -> dict:
    from loopback import ProxyProcess, Upstream, request_mix, run_load

    upstream = Upstream()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "probe"
            env = {"PYTHONPATH": os.pathsep.join([str(HERE / "hit_probe"), str(tree)]), "HIT_PROBE_OUT": str(out)}
            proxy = ProxyProcess("pixelspy", Path(tmp), env=env)
            try:
                mix = request_mix(upstream.port)
                asyncio.run(run_load(proxy.port, mix, connections, warmup, warmup=0))
                Path(f"{out}.go").touch()
                cpu = cpu_seconds(proxy.proc.pid)
                result = asyncio.run(run_load(proxy.port, mix, connections, seconds, warmup=0))
                cpu = [after - before for after, before in zip(cpu_seconds(proxy.proc.pid), cpu)]
                time.sleep(1.5)  # the probe's next report
                reports = list(Path(tmp).glob("probe.*.json"))
                if not reports:
                    sys.exit(f"no probe report from {tree}'s proxy: is its pixelspy importable from there?")
                report = json.loads(reports[0].read_text())
            finally:
                proxy.stop()
    finally:
        upstream.stop()
    report["requests/s"] = [0, result.rps, 0]
    requests = max(result.requests, 1)
    report["CPU per request"] = {"the process": cpu[0] * 1e6 / requests,
                                 "its event loop's thread": cpu[1] * 1e6 / requests}
    return report


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) so far of the process (all its threads) and of its main thread, the
    event loop's (/proc)."""
    ticks = os.sysconf("SC_CLK_TCK")

    def of(stat: str) -> float:
        fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks
    return of(f"/proc/{pid}/stat"), of(f"/proc/{pid}/task/{pid}/stat")


def in_process(passes: int = 3) -> dict:
    """The probe over bench_addon's flows through the hooks (this process's pixelspy)."""
    import hit_probe
    from bench_addon import flows
    from mitmproxy.test import taddons

    from pixelspy.addon import JsonLines, PixelSpy

    addon = PixelSpy()
    json_lines = JsonLines(addon.session, out=open(os.devnull, "w"))  # noqa: SIM115
    addon.session.subscribe(json_lines)
    hit_probe.patch()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, pixelspy_sink=True)
        for run in range(passes):
            ordinary, tracking = flows(run)
            if run == passes - 1:
                gc.collect()
                gc.freeze()
                hit_probe.clear()
            for i, flow in enumerate(sorted(ordinary + tracking, key=lambda f: f.request.timestamp_start)):
                flow.response = None
                addon.request(flow)
                if flow.response is not None:
                    addon.response(flow)
                if i % 50 == 0:
                    json_lines.flush()
    return hit_probe.report()


def new_row_times(hits: int) -> list[float]:
    """ms from each hit sent through the TUI's proxy until its row is the selected one (this
    process's pixelspy)."""
    import socket

    from pixelspy.proxy import ProxyConfig
    from pixelspy.session import Session
    from pixelspy.tui.app import PixelSpyApp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def run() -> list[float]:
        with tempfile.TemporaryDirectory() as confdir:
            session = Session()
            app = PixelSpyApp(session, ProxyConfig(port=port, sink=True, confdir=confdir))
            times = []
            async with app.run_test(size=(160, 50)) as pilot:
                while app.proxy is None or not app.proxy.listen_addrs:
                    await pilot.pause(0.01)
                for k in range(hits + 3):  # (the first three warm up)
                    request = (f"GET http://www.facebook.com/tr/?id=1234567890123456&ev=Row{k} HTTP/1.1\r\n"
                               "Host: www.facebook.com\r\n\r\n").encode()
                    t0 = time.perf_counter()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.write(request)
                    while not ((sid := app.event_list.selected_id) and (ev := session.get(sid))
                               and ev.event == f"Row{k}"):
                        await pilot.pause(0.001)
                    times.append((time.perf_counter() - t0) * 1000)
                    writer.close()
                    await pilot.pause(0.1)
            return times[3:]

    return asyncio.run(run())


def in_process_of(tree: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, str(Path(__file__)), "--in-process-child"], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def new_rows_of(tree: Path, hits: int) -> list[float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, str(Path(__file__)), "--new-row-child", str(hits)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def per_hit(report: dict) -> dict[str, float]:
    """µs per tracking hit of each step under a hit (and of other traffic's ingest per request), and
    the ms from a sink-answered hit's answer to its ingest (median, 99th percentile, most)."""
    waits = report.pop("waits", None) or [0.0]  # (hit_probe.WAITS)
    cpu = report.pop("CPU per request", {})
    hits = max(report.get("hit", [1])[0], 1)
    out = {step: total / hits for step, (n, _, total) in report.items() if step.startswith("hit")}
    out.update({f"CPU µs per request of the mix: {of}": us for of, us in cpu.items()})
    if "other" in report:
        out["other traffic's ingest, per request"] = report["other"][1]
    out["ms from answer to ingest: median"] = statistics.median(waits)
    out["ms from answer to ingest: p99"] = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
    out["ms from answer to ingest: most"] = waits[-1]
    return out


def new_rows(trees: dict[str, Path], rounds: int, hits: int) -> int:
    times: dict[str, list[float]] = {name: [] for name in trees}
    for r in range(rounds):
        for name, tree in (trees.items() if r % 2 == 0 else reversed(trees.items())):
            times[name] += new_rows_of(tree, hits)
    print(f"ms from a hit sent through the TUI's proxy until its row is selected ({rounds} rounds of {hits})")
    for name, ts in times.items():
        print(f"{name:<12} median {statistics.median(ts):6.1f}  most {max(ts):6.1f}")
    return 0


def order(step: str) -> tuple:
    return (STEP_ORDER.index(step) if step in STEP_ORDER else len(STEP_ORDER), step)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=12)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--against", metavar="DIR", help="another tree's pixelspy, measured in turns with this one")
    ap.add_argument("--in-process", action="store_true", help="the same probe in-process (bench_addon's flows)")
    ap.add_argument("--new-row", action="store_true", help="a hit sent until its row is selected in the TUI")
    ap.add_argument("--hits", type=int, default=20, help="--new-row: hits a round")
    ap.add_argument("--in-process-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--new-row-child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.in_process_child:
        print(json.dumps(in_process()))
        return 0
    if args.new_row_child:
        print(json.dumps(new_row_times(args.new_row_child)))
        return 0

    trees = {"this tree": ROOT, **({"against": Path(args.against).resolve()} if args.against else {})}
    if args.new_row:
        return new_rows(trees, args.rounds, args.hits)
    runs: dict[str, list[dict[str, float]]] = {}
    for r in range(args.rounds):
        for name, tree in (trees.items() if r % 2 == 0 else reversed(trees.items())):
            report = live(tree, args.seconds, args.warmup, args.connections)
            runs.setdefault(f"{name}, live", []).append(per_hit(report))
            print(f"round {r + 1} {name}: {report['requests/s'][1]:.0f} requests/s, "
                  f"{report.get('hit', [0])[0]} tracking hits, load {os.getloadavg()[0]:.1f}", file=sys.stderr)
            if args.in_process:
                runs.setdefault(f"{name}, in-process", []).append(per_hit(in_process_of(tree)))
    columns = list(runs)
    steps = sorted({s for rs in runs.values() for r in rs for s in r}, key=order)
    print(f"CPU µs of the loop thread per tracking hit (median of {args.rounds} rounds)")
    print(f"{'step':<52}" + "".join(f"{c:>24}" for c in columns))
    for step in steps:
        cells = [statistics.median(r.get(step, 0.0) for r in runs[c]) for c in columns]
        print(f"{step:<52}" + "".join(f"{x:24.1f}" for x in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
