"""CPU per request of pixelspy's addon hooks (flow → RawHit → Session.ingest) for ordinary traffic and
for tracking hits, in-process, against another tree of pixelspy measured in the same run.

    .venv/bin/python benchmarks/bench_plain.py --before /tmp/plain-before [--rounds 5] [--profile SHAPE]

Shapes of request (each a fresh mitmproxy flow, through requestheaders, request and responseheaders):
  bench      bench_proxy's ordinary GET (4 headers) to its local upstream
  chrome     a Chrome-shaped GET of a page's image, script or XHR: 16 headers, a Cookie header of a
             dozen cookies (a OneTrust consent cookie among them), Referer, sec-fetch-*, sec-ch-ua
  page       Chrome's top-level document request (sec-fetch-dest: document) to the same shop
  tracking   bench_proxy's tracking hits (sink mode; decoding included)
Each tree runs in its own process (PYTHONPATH), rounds interleaved (the host is shared); each
prints the thread's CPU µs per request (best of its passes), and the table gives the best and the
median over the rounds, and this tree's against the other's. On a host shared with other jobs, the
best scatters least: neighbours' cache pressure only ever adds CPU time.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHAPES = ("bench", "chrome", "page", "tracking")
PER_PASS = 2000
COOKIES = ("_ga=GA1.2.1402981531.1701900000; _gid=GA1.2.91817161.1701900000; _fbp=fb.1.1701900000123.1187654321; "
           "_gcl_au=1.1.1987654321.1701900000; _tt_enable_cookie=1; _ttp=2YcQx4mAbCdEfGhIjKlMnOpQr; "
           "_pin_unauth=dWlkPU5tWTJNR0V6; cart=%7B%22items%22%3A3%7D; session_id=8f14e45fceea167a5a36dedd4bea2543; "
           "OptanonAlertBoxClosed=2026-12-07T05:00:00.000Z; "
           "OptanonConsent=isGpcEnabled=0&datestamp=Mon+Dec+07+2026&version=202310.1.0&isIABGlobal=false"
           "&hosts=&consentId=abc&interactionCount=1&landingPath=NotLandingPage"
           "&groups=C0001%3A1%2CC0002%3A1%2CC0003%3A1%2CC0004%3A1; currency=EUR")
UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
      "Safari/537.36")
CHROME_COMMON = (
    ("sec-ch-ua", '"Chromium";v="131", "Not_A Brand";v="24"'), ("sec-ch-ua-mobile", "?0"),
    ("user-agent", UA), ("sec-ch-ua-platform", '"Linux"'),
)
# (path, accept, sec-fetch-dest, sec-fetch-mode) of a page's subresources
SUBRESOURCES = (
    ("/cdn/shop/products/p-{n}.jpg?v=1701&width=600", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
     "image", "no-cors"),
    ("/cdn/shop/t/12/assets/theme.js?v={n}", "*/*", "script", "no-cors"),
    ("/cart.js?_={n}", "application/json, text/javascript, */*; q=0.01", "empty", "cors"),
)


def chrome_request(n: int, page: bool) -> tuple[str, list[tuple[str, str]]]:
    host = "shop.example.com"
    if page:
        path = f"/products/item-{n % 50}?variant={n}"
        fetch = (("upgrade-insecure-requests", "1"),
                 ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
                            "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"),
                 ("sec-fetch-site", "same-origin"), ("sec-fetch-mode", "navigate"), ("sec-fetch-user", "?1"),
                 ("sec-fetch-dest", "document"))
    else:
        path, accept, dest, mode = SUBRESOURCES[n % len(SUBRESOURCES)]
        path = path.format(n=n)
        fetch = (("accept", accept), ("sec-fetch-site", "same-origin"), ("sec-fetch-mode", mode),
                 ("sec-fetch-dest", dest))
    headers = [("host", host), ("connection", "keep-alive"), *CHROME_COMMON, *fetch,
               ("referer", f"https://{host}/products/item-{n % 50}"),
               ("accept-encoding", "gzip, deflate, br, zstd"), ("accept-language", "en-GB,en;q=0.9"),
               ("cookie", COOKIES)]
    return f"http://{host}{path}", headers


def flows(shape: str, run: int) -> list:
    """PER_PASS fresh flows of a shape; those of `run` a minute after the last run's."""
    from mitmproxy import http
    from mitmproxy.test import tflow

    import bench_addon
    if shape in ("bench", "tracking"):
        ordinary, tracking = bench_addon.flows(run)
        batch = ordinary if shape == "bench" else tracking
        while len(batch) < PER_PASS:
            batch += bench_addon.flows(run + 100 + len(batch))[shape == "tracking"]
        return batch[:PER_PASS]
    out = []
    start = time.time() + 60 * run
    for n in range(PER_PASS):
        url, headers = chrome_request(run * PER_PASS + n, page=shape == "page")
        flow = tflow.tflow()
        flow.request = http.Request.make("GET", url, b"", [(k.encode(), v.encode()) for k, v in headers])
        flow.request.timestamp_start = start + n / 850
        flow.client_conn.peername = ("192.168.1.23", 40000)
        flow.response = None
        out.append(flow)
    return out


def _response():
    from mitmproxy import http
    return http.Response.make(200, b"x" * 2048, {"content-type": "text/html", "content-length": "2048"})


def measure(passes: int, profile: str | None) -> dict[str, float]:
    """This process's pixelspy: µs of thread CPU per request of each shape (best pass)."""
    from mitmproxy.test import taddons

    from pixelspy.addon import JsonLines, PixelSpy

    addon = PixelSpy()
    addon.session.subscribe(JsonLines(addon.session, out=open(os.devnull, "w")))
    response = _response()

    def hooks(flow) -> None:  # as mitmproxy calls them
        addon.requestheaders(flow)
        addon.request(flow)
        if flow.response is not None:  # answered by the sink
            addon.response(flow)
        else:
            flow.response = response
            addon.responseheaders(flow)

    best: dict[str, float] = {}
    with taddons.context(addon) as tctx:
        tctx.configure(addon, pixelspy_sink=True)
        if profile:
            batch = flows(profile, 0)
            profiler = cProfile.Profile()
            profiler.runcall(lambda: [hooks(f) for f in batch])
            pstats.Stats(profiler).sort_stats("tottime").print_stats(35)
            return {}
        for run in range(passes):
            for shape in SHAPES:
                batch = flows(shape, run)
                t0 = time.thread_time()
                for flow in batch:
                    hooks(flow)
                us = (time.thread_time() - t0) / len(batch) * 1e6
                best[shape] = min(us, best.get(shape, us))
    return best


def run_tree(tree: str, passes: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((tree, str(HERE)))}
    out = subprocess.run([sys.executable, __file__, "--worker", "--passes", str(passes)], env=env,
                         capture_output=True, text=True, check=True, cwd=tree).stdout
    return json.loads(out.splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", help="the other tree (e.g. main's, unpacked with git archive)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--passes", type=int, default=3, help="passes per shape in each round's process")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--profile", choices=SHAPES, help="cProfile this tree's hooks on one shape")
    args = ap.parse_args()
    if args.worker or args.profile:
        sys.path.insert(0, str(HERE))
        result = measure(args.passes, args.profile)
        if args.worker:
            print(json.dumps(result))
        return 0
    this = str(HERE.parent)
    trees = {"before": args.before, "after": this} if args.before else {"this": this}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for r in range(args.rounds):
        for name, tree in (trees.items() if r % 2 == 0 else reversed(trees.items())):
            results[name].append(run_tree(tree, args.passes))
    print(f"CPU µs per request (thread time; {args.rounds} rounds, each the best of {args.passes} passes "
          f"of {PER_PASS}): best / median of the rounds")
    print(f"{'shape':<10}" + "".join(f"{name:>16}" for name in trees) + ("   after/before" if args.before else ""))
    for shape in SHAPES:
        best = {name: min(res[shape] for res in results[name]) for name in trees}
        med = {name: statistics.median(res[shape] for res in results[name]) for name in trees}
        line = f"{shape:<10}" + "".join(f"{best[name]:8.1f} /{med[name]:6.1f}" for name in trees)
        if args.before:
            line += f"  {best['after'] / best['before']:5.3f} /{med['after'] / med['before']:6.3f}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
