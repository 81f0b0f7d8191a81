"""Opening a ~100 MB HAR: pixelspy's streaming reader and the full open (decoders + checks), against
a baseline of json.load of the same file in the same run; time and peak memory of each.

    .venv/bin/python benchmarks/bench_har.py [--mb 100] [--rounds 3] [--minified] [--body-kb 10]
    .venv/bin/python benchmarks/bench_har.py --against TREE [--processes 3] [--minified] …


The file is generated like a Chrome DevTools export of a shop visit: page resources with bodies
(90 % of the entries) and tracking hits of every vendor in the corpus (10 %), an entry a line
(`--minified`: all on one line, as some tools write it; `--body-kb 1024`: fewer entries, large
bodies). Time (wall and CPU) is the best of `--rounds` runs, with nothing traced (tracemalloc slows
every allocation, and not all code alike); memory is measured apart: the peak of Python's
allocations (tracemalloc) and the growth of peak RSS of a fresh process running the same step (C
libraries' buffers included).

`--against TREE` compares this tree with another checkout of pixelspy (e.g. `git worktree add /tmp/before
f682040`) on the same file, one venv, `PYTHONPATH` per tree: fresh processes of each in turns, each
opening the file once (its first `Session()` and open: what `pixelspy check FILE` pays, imports of
pixelspy.har and pixelspy.session apart), then 3 more times (best: the cost per entry); CPU seconds and
the first open's peak-RSS growth, best and median over `--processes` processes of each tree. Both
trees' modules are byte-compiled first, as pip installs them (with PYTHONDONTWRITEBYTECODE set and no
`__pycache__`, the first open would compile the modules it imports from source).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import build_corpus  # noqa: E402

from pixelspy.har import iter_har_hits, load_file  # noqa: E402
from pixelspy.session import Session  # noqa: E402


def chrome_entry(i: int, method: str, url: str, headers: list[tuple[str, str]], body: bytes) -> dict:
    entry = {
        "_initiator": {"type": "script"}, "_priority": "High", "_resourceType": "fetch", "cache": {},
        "startedDateTime": f"2026-11-25T12:{(i // 60) % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z", "time": 12.5,
        "request": {"method": method, "url": url, "httpVersion": "http/2.0", "cookies": [], "queryString": [],
                    "headers": [{"name": k, "value": v} for k, v in headers], "headersSize": -1,
                    "bodySize": len(body)},
        "response": {"status": 200, "statusText": "", "httpVersion": "http/2.0", "cookies": [], "headers": [],
                     "content": {"size": 0, "mimeType": "text/plain"}, "redirectURL": "", "headersSize": -1,
                     "bodySize": -1},
        "timings": {"blocked": 1, "dns": -1, "ssl": -1, "connect": -1, "send": 0.1, "wait": 10, "receive": 1},
    }
    if body:
        entry["request"]["postData"] = {"mimeType": dict(headers).get("content-type", "text/plain"),
                                        "text": body.decode("utf-8", "replace")}
    return entry


def _is_text(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def make_har(path: Path, megabytes: int, minified: bool = False, body_kb: int = 10) -> int:
    # Text bodies only: DevTools exports keep postData as text.
    samples = [s for group in build_corpus().values() for s in group if _is_text(s.body)]
    page_body = base64.b64encode(bytes(range(256)) * (4 * body_kb)).decode()  # like a script or image
    n = 0
    with path.open("w") as f:
        f.write('{"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"}, '
                '"pages": [], "entries": [\n')
        while f.tell() < megabytes * 1024 * 1024:
            if n % 10 == 9:
                hit = samples[n % len(samples)].hit(serial=n)
                entry = chrome_entry(n, hit.method, hit.url, hit.headers, hit.body)
            else:
                entry = chrome_entry(n, "GET", f"https://shop.example/static/asset-{n}.js", [], b"")
                entry["response"]["content"] = {"size": body_kb * 1024, "mimeType": "application/javascript",
                                                "text": page_body, "encoding": "base64"}
            f.write(("," if n else "") + json.dumps(entry) + ("" if minified else "\n"))
            n += 1
        f.write("]}}\n")
    return n


STEPS = {
    "baseline": lambda path: json.load(path.open()),
    "read": lambda path: sum(1 for _ in iter_har_hits(path)),
    "open": lambda path: load_file(path, Session()),
}


def best_times(step: str, path: Path, rounds: int) -> tuple[float, float]:
    """Best wall and best CPU seconds (on the shared VM, CPU time scatters far less than wall time)."""
    wall, cpu = [], []
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        STEPS[step](path)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu)


def traced_peak(step: str, path: Path) -> float:
    tracemalloc.start()
    STEPS[step](path)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return peak


def peak_rss_kib() -> int:
    """This process's peak RSS (VmHWM: ru_maxrss would carry the parent's peak over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise OSError("no VmHWM in /proc/self/status")


def rss_growth(step: str, path: Path) -> float:
    """MiB that the step adds to the peak RSS of a fresh process."""
    out = subprocess.run([sys.executable, __file__, "--rss-of", step, str(path)], capture_output=True,
                         text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


# One process of a tree: its first open of the file, then the best of 3 more (CPU s), the first's peak-RSS
# growth (MiB). Run with -c and PYTHONPATH=TREE: this file's own imports would put this tree first.
FIRST_OPEN = """
import json, sys, time
from pathlib import Path
from pixelspy.har import load_file
from pixelspy.session import Session
def peak():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
path, base = Path(sys.argv[1]), peak()
cpu = time.process_time(); load_file(path, Session()); first = time.process_time() - cpu
rss = peak() - base
more = []
for _ in range(3):
    cpu = time.process_time(); load_file(path, Session()); more.append(time.process_time() - cpu)
print(json.dumps([first, min(more), rss]))
"""


def first_opens(trees: dict[str, Path], path: Path, processes: int) -> dict[str, list[list[float]]]:
    """[first open, best of 3 more, first open's peak-RSS growth] of `processes` fresh processes per
    tree, the trees in turns."""
    runs: dict[str, list[list[float]]] = {name: [] for name in trees}
    for tree in trees.values():
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "pixelspy")], check=True,
                       stdout=subprocess.DEVNULL)
    for _ in range(processes):
        for name, tree in trees.items():
            env = {**os.environ, "PYTHONPATH": str(tree)}
            out = subprocess.run([sys.executable, "-c", FIRST_OPEN, str(path)], env=env, cwd=tree,
                                 capture_output=True, text=True, check=True).stdout
            runs[name].append(json.loads(out.strip().splitlines()[-1]))
    return runs


def against(other: Path, path: Path, processes: int) -> None:
    here = Path(__file__).resolve().parent.parent
    runs = first_opens({"other": other.resolve(), "this": here}, path, processes)
    print(f"{processes} processes of each tree in turns (load average {os.getloadavg()[0]:.1f}); "
          f"other = {other}; best / median")
    for i, what in enumerate(("first open, CPU s", "best of 3 more opens, CPU s", "first open's peak RSS growth, MiB")):
        (b0, m0), (b1, m1) = ((min(v), statistics.median(v)) for v in
                              ([run[i] for run in runs[name]] for name in ("other", "this")))
        print(f"{what:36} other {b0:6.3f} / {m0:6.3f}   this {b1:6.3f} / {m1:6.3f}   this / other "
              f"{b1 / b0:.2f} / {m1 / m0:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--minified", action="store_true", help="the whole file on one line")
    ap.add_argument("--body-kb", type=int, default=10, help="size of a page resource's body (before base64)")
    ap.add_argument("--against", type=Path, help="another checkout of pixelspy to compare with (fresh processes)")
    ap.add_argument("--processes", type=int, default=3, help="with --against: processes of each tree")
    ap.add_argument("--rss-of", nargs=2, help=argparse.SUPPRESS)  # (step, path): the child of rss_growth
    args = ap.parse_args()
    if args.rss_of:
        step, path = args.rss_of
        base = peak_rss_kib()
        STEPS[step](Path(path))
        print((peak_rss_kib() - base) / 1024)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "visit.har"
        entries = make_har(path, args.mb, args.minified, args.body_kb)
        size = path.stat().st_size / 2**20
        print(f"HAR: {size:.0f} MiB{' on one line' if args.minified else ''}, {entries} entries "
              f"({entries // 10} tracking hits); time: best of {args.rounds}")
        if args.against:
            return against(args.against, path, args.processes)
        results = {step: (*best_times(step, path, args.rounds), traced_peak(step, path), rss_growth(step, path))
                   for step in STEPS}
    base_s, base_cpu, base_mem, base_rss = results["baseline"]
    labels = {"baseline": "baseline json.load:          ", "read": "pixelspy streaming read:     ",
              "open": "pixelspy open (decode+check):"}
    for step, (s, cpu, mem, rss) in results.items():
        ratios = ("" if step == "baseline" else
                  f"   ratio {s / base_s:.2f}x wall, {cpu / base_cpu:.2f}x CPU, {mem / base_mem:.2f}x traced")
        print(f"{labels[step]} {s:6.2f} s wall {cpu:6.2f} s CPU  traced peak {mem:7.1f} MiB  RSS +{rss:6.1f} MiB"
              f"{ratios}")


if __name__ == "__main__":
    main()
