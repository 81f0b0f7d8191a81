"""Everything the addon hands on for bench_addon's mix, printed: to compare two trees' output.

    PYTHONPATH=/tmp/before .venv/bin/python benchmarks/addon_output.py > before.txt
    .venv/bin/python benchmarks/addon_output.py > after.txt && diff before.txt after.txt

For each request of three passes of the mix (ordinary GETs and the corpus' tracking hits, sink mode,
at fixed times), with a browser's ordinary requests among them (page loads, a CMP's script, consent
cookies, Sec-GPC, an XMLHttpRequest, a second device): a tracking hit's RawHit as the session was
given it (every field), the sink's answer (its state, its timestamps left out), the flow's metadata,
what the request changed in the session (its devices and their names, the page views, the consent
records, the latest time the pixel-no-events check saw), and every JSON line printed (new events,
and the changed ones at each flush). A change in how any of them is built shows as a difference.
"""

from __future__ import annotations

import dataclasses
import io
import sys
from unittest import mock

import bench_addon
from mitmproxy import http
from mitmproxy.test import taddons, tflow

from pixelspy import session as session_module
from pixelspy.addon import JsonLines, PixelSpy

START = 1_796_000_000.0
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")
SHOP = "https://www.shop.example"
GRANTED = "_ga=GA1.1.1.1; OptanonConsent=groups=C0001%3A1%2CC0002%3A1%2CC0004%3A1"
DENIED = "OptanonConsent=groups=C0001%3A1%2CC0002%3A0%2CC0004%3A0"
# A browser's ordinary requests: (seconds into the pass, client, URL, headers)
BROWSING = [
    (0.01, "192.168.1.20", f"{SHOP}/p/1", [("user-agent", CHROME), ("accept", "text/html,*/*;q=0.8"),
                                           ("sec-fetch-dest", "document"), ("sec-fetch-mode", "navigate")]),
    (0.02, "192.168.1.20", "https://cdn.cookielaw.org/scripttemplates/otSDKStub.js",
     [("user-agent", CHROME), ("accept", "*/*"), ("sec-fetch-dest", "script"), ("referer", f"{SHOP}/p/1")]),
    (0.05, "192.168.1.20", f"{SHOP}/static/app.js", [("user-agent", CHROME), ("sec-fetch-dest", "script"),
                                                    ("referer", f"{SHOP}/p/1")]),
    (0.5, "192.168.1.20", f"{SHOP}/api/cart", [("user-agent", CHROME), ("sec-fetch-dest", "empty"),
                                               ("referer", f"{SHOP}/p/1"), ("cookie", GRANTED)]),
    (1.0, "192.168.1.21", f"{SHOP}/", [("user-agent", IPHONE), ("accept", "text/html"), ("sec-gpc", "1")]),
    (1.1, "192.168.1.21", f"{SHOP}/api/log", [("user-agent", IPHONE), ("accept", "text/html"),
                                              ("x-requested-with", "XMLHttpRequest"), ("cookie", DENIED)]),
    (2.0, "192.168.1.20", "https://fonts.example/f.woff2", [("user-agent", CHROME), ("origin", SHOP)]),
]


def browsing(run: int) -> list[http.HTTPFlow]:
    flows = []
    for dt, client, url, headers in BROWSING:
        flow = tflow.tflow()
        flow.request = http.Request.make("GET", url, b"", [(k.encode(), v.encode()) for k, v in headers])
        flow.request.timestamp_start = START + 60 * run + dt
        flow.client_conn.peername = (client, 51000)
        flow.response = None
        flows.append(flow)
    return flows


def state(session) -> dict:
    """What ordinary requests change in the session."""
    checks = {type(c).__name__: c for c in session.checks.checks}
    return {"devices": {k: session.devices.name(k) for k in session.devices.clients()},
            "page views": dict(session.checks.ctx.pages._loads),
            "consent": checks["ConsentCheck"].sites(),
            "latest time": checks["PixelNoEventsCheck"].last_seen}


def main() -> int:
    with mock.patch("time.time", return_value=START):
        runs = [(ordinary + browsing(run), tracking) for run, (ordinary, tracking) in
                enumerate(bench_addon.flows(run) for run in range(3))]
    addon = PixelSpy()
    out = io.StringIO()
    json_lines = JsonLines(addon.session, out=out)
    addon.session.subscribe(json_lines)
    hits = []
    ingest = session_module.Session.ingest

    def kept(session, hit):
        hits.append({f.name: getattr(hit, f.name) for f in dataclasses.fields(hit)})
        return ingest(session, hit)

    before = state(addon.session)
    with taddons.context(addon) as tctx, mock.patch.object(session_module.Session, "ingest", kept):
        tctx.configure(addon, pixelspy_sink=True)
        for ordinary, tracking in runs:
            for n, flow in enumerate(sorted(ordinary + tracking, key=lambda f: f.request.timestamp_start)):
                hits.clear()
                flow.response = None
                addon.request(flow)
                if flow.response is not None:
                    addon.response(flow)
                    answer = flow.response.get_state()
                    del answer["timestamp_start"], answer["timestamp_end"]
                else:
                    answer = None
                now = state(addon.session)
                changed = {k: v for k, v in now.items() if v != before[k]}
                before = now
                print(n, hits if flow.metadata.get("pixelspy_tracking") else "", answer, flow.metadata, changed)
                if n % 42 == 0:
                    json_lines.flush()
        json_lines.flush()
    sys.stdout.write(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
