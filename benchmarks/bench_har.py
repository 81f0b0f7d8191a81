"""Opening a ~100 MB HAR: pixelspy's streaming reader and the full open (decoders + checks), against
a baseline of json.load of the same file in the same run; time and peak memory of each.

    .venv/bin/python benchmarks/bench_har.py [--mb 100] [--rounds 3] [--minified] [--body-kb 10]

The file is generated like a Chrome DevTools export of a shop visit: page resources with bodies
(90 % of the entries) and tracking hits of every vendor in the corpus (10 %), an entry a line
(`--minified`: all on one line, as some tools write it; `--body-kb 1024`: fewer entries, large
bodies). Time (wall and CPU) is the best of `--rounds` runs, with nothing traced (tracemalloc slows
every allocation, and not all code alike); memory is measured apart: the peak of Python's
allocations (tracemalloc) and the growth of peak RSS of a fresh process running the same step (C
libraries' buffers included).
"""

from __future__ import annotations

import argparse
import base64
import json
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--minified", action="store_true", help="the whole file on one line")
    ap.add_argument("--body-kb", type=int, default=10, help="size of a page resource's body (before base64)")
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
