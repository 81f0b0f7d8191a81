"""Opening a ~100 MB HAR: pixelspy's streaming reader and the full open (decoders + checks), against
a baseline of json.load of the same file in the same run; time and peak memory of each.

    .venv/bin/python benchmarks/bench_har.py [--mb 100]

The file is generated like a Chrome DevTools export of a shop visit: page resources with bodies
(90 % of the entries) and tracking hits of every vendor in the corpus (10 %).
"""

from __future__ import annotations

import argparse
import base64
import json
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


def make_har(path: Path, megabytes: int) -> int:
    # Text bodies only: DevTools exports keep postData as text.
    samples = [s for group in build_corpus().values() for s in group if _is_text(s.body)]
    page_body = base64.b64encode(bytes(range(256)) * 40).decode()  # ~13 KB, like a script or image
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
                entry["response"]["content"] = {"size": 10240, "mimeType": "application/javascript",
                                                "text": page_body, "encoding": "base64"}
            f.write(("," if n else "") + json.dumps(entry) + "\n")
            n += 1
        f.write("]}}\n")
    return n


def measure(fn) -> tuple[float, float]:
    tracemalloc.start()
    t0 = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return elapsed, peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "visit.har"
        entries = make_har(path, args.mb)
        size = path.stat().st_size / 2**20
        print(f"HAR: {size:.0f} MiB, {entries} entries ({entries // 10} tracking hits)")
        base_s, base_mem = measure(lambda: json.load(path.open()))
        read_s, read_mem = measure(lambda: sum(1 for _ in iter_har_hits(path)))
        session = Session()
        open_s, open_mem = measure(lambda: load_file(path, session))
    print(f"baseline json.load:           {base_s:6.2f} s  peak {base_mem:7.1f} MiB")
    print(f"pixelspy streaming read:      {read_s:6.2f} s  peak {read_mem:7.1f} MiB   "
          f"ratio {read_s / base_s:.2f}x time, {read_mem / base_mem:.2f}x memory")
    print(f"pixelspy open (decode+check): {open_s:6.2f} s  peak {open_mem:7.1f} MiB   "
          f"ratio {open_s / base_s:.2f}x time; {len(session)} events")


if __name__ == "__main__":
    main()
