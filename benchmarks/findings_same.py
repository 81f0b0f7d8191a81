"""Whether this tree's checks say exactly what another tree's say: every event published (new or
updated) with its findings as they were then (code, severity, text, hint, related ids, pending), and
every event at the end, over

- the real-traffic cases (tests/realtraffic/cases, opened as `pixelspy check` opens them);
- the corpus (corpus.py) shaped to make findings: four devices' page loads, CMP scripts and consent
  cookies that deny, grant or cannot be read, Sec-GPC, copies of hits, emails and phone numbers in
  page URLs and parameters, Conversions API copies with the same, another or no event ID, with
  ticks between (pending verdicts settle);
- bench_proxy's mix as bench_addon.py replays it (three passes, times out of order).

The corpus' ordinary requests (page loads, CMP scripts, first-party requests with cookies) and the
mix go through the proxy's addon (`PixelSpy.request` on mitmproxy flows made of them), as live
traffic does: however a tree reads ordinary requests there, it is compared.

    .venv/bin/python benchmarks/findings_same.py --before /tmp/b17

Runs each tree in a process of its own (`PYTHONPATH`), compares the two outputs line by line and
prints the first differences; exit 0 when they are the same. Ids are the same in both runs: each
process makes them in the same order.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import subprocess
import sys
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def snapshot(ev, name=str) -> tuple:
    """The event as compared; `name` gives each id its name (the id itself, or a Renumbered's)."""
    return (name(ev.id), ev.platform, ev.event, ev.kind.value, ev.device, ev.source.value,
            tuple(map(name, ev.twins)),
            tuple((f.code, f.severity.value, f.message, f.hint, tuple(map(name, f.related)), f.pending)
                  for f in ev.findings))


class Renumbered(dict):
    """Ids named in the order they first appear. On a running loop, ordinary requests get ids when
    their hook runs and events when ingested, from one counter: how far apart the two are (how long
    hits' ingests wait) renumbers every later id, which says nothing of the order or the findings."""

    def __call__(self, ident: str) -> str:
        return self.setdefault(ident, f"{ident[0]}#{len(self)}")


def dump() -> None:
    """Print every publish and every final event of the three workloads (run inside a tree)."""
    sys.path.insert(0, str(HERE))
    from pixelspy.checks import CheckEngine
    from pixelspy.config import Config
    from pixelspy.har.read import load_file
    from pixelspy.session import Session

    def watched(label: str, name=str) -> Session:
        session = Session(CheckEngine(Config()))
        session.subscribe(lambda ev, update: print(label, "U" if update else "N", snapshot(ev, name)))
        return session

    def final(session: Session, label: str, name=str) -> None:
        for ev in session:
            print(label, "F", snapshot(ev, name))

    for har in sorted(glob.glob(str(ROOT / "tests/realtraffic/cases/*.har"))):
        label = Path(har).name
        session = watched(label)
        load_file(har, session)
        final(session, label)
    for scenario in range(4):
        label = f"corpus{scenario}"
        session = watched(label)
        _corpus(session, scenario)
        final(session, label)
    for scenario in range(2):
        label, name = f"corpus{scenario} through the loop", Renumbered()
        session = watched(label, name)
        _corpus_through_the_loop(session, scenario)
        final(session, label, name)
    session = watched("mix")
    _mix(session)
    final(session, "mix")


COOKIES = ["", "OptanonConsent=groups%3DC0001%3A1%2CC0004%3A0", "OptanonConsent=groups%3DC0001%3A1%2CC0004%3A1",
           "CookieConsent={stamp:%27x%27%2Cnecessary:true%2Cpreferences:false%2Cstatistics:false%2Cmarketing:false}",
           "euconsent-v2=CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA", "usprivacy=1YYN", "_fbp=fb.1.1.2"]
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 "
          "Safari/604.1")


def _request(url: str, t: float, client: str, cookie: str = "", accept: str = "*/*", referer: str = "",
             ua: str | None = None, gpc: bool = False, dest: str = ""):
    from corpus import BROWSER_HEADERS

    from pixelspy.model import RawHit
    headers = [("user-agent", ua or BROWSER_HEADERS[0][1]), ("accept", accept)]
    headers += [(k, v) for k, v in (("referer", referer), ("cookie", cookie), ("sec-gpc", "1" if gpc else ""),
                                    ("sec-fetch-dest", dest)) if v]
    return RawHit(method="GET", url=url, time=t, client=client, headers=headers)


def _through_addon(addon, hit):
    """The hit as a mitmproxy flow through the addon's request hook (at once when no loop runs)."""
    from mitmproxy import http
    from mitmproxy.test import tflow

    flow = tflow.tflow()
    flow.request = http.Request.make(hit.method, hit.url, hit.body, [(k.encode(), v.encode()) for k, v in hit.headers])
    flow.request.timestamp_start = hit.time
    flow.client_conn.peername = (hit.client, 40000)
    flow.response = None
    addon.request(flow)
    return flow


def _variant(hit, client: str, cookie: str, ua: str | None, gpc: bool, referer: str, pii: int):
    """The corpus hit from another device, with its cookies and, one in five, an email or a phone."""
    from pixelspy.model import RawHit
    url, body = hit.url, hit.body
    if pii == 1:
        url = url.replace("utm_source%3Dnews", "email%3Djo%2540example.com%26utm_source%3Dnews")
        url = url.replace("utm_source=news", "email=jo%40example.com&utm_source=news")
        body = body.replace(b"utm_source%3Dnews", b"phone%3D%252B1%2520555%2520123%25204567%26utm_source%3Dnews")
    elif pii == 2:
        url = url.replace("cd%5Bcurrency%5D=EUR",
                          "cd%5Bcurrency%5D=EUR&cd%5Bphone%5D=%2B15551234567&cd%5Bmail%5D=jo%40x.com")
        body = body.replace(b"ud%5Bem%5D=", b"cd%5Bcontact%5D=jo%40x.com&ud%5Bem%5D=")
    headers = [(k, v) for k, v in hit.headers if k not in ("cookie", "user-agent", "referer")]
    headers += [("user-agent", ua or dict(hit.headers)["user-agent"]), ("referer", referer)]
    headers += [("cookie", cookie)] if cookie else []
    headers += [("sec-gpc", "1")] if gpc else []
    return RawHit(method=hit.method, url=url, body=body, time=hit.time, client=client, headers=headers)


def _capi(page: str, serial: int, t: float):
    """A Conversions API copy of the serial's Purchase: the same event ID, another, or none."""
    from corpus import SHA_EMAIL

    from pixelspy.model import RawHit
    ev = {"event_name": "Purchase", "event_time": int(t), "action_source": "website", "event_source_url": page,
          "user_data": {"em": ["jo@example.com" if serial % 4 == 0 else SHA_EMAIL]},
          "custom_data": {"value": 49.9, "currency": "EUR"}}
    if serial % 3 == 1:
        ev["event_id"] = f"order-77-{serial}" if serial % 2 else "other"
    return RawHit(method="POST", url="https://graph.facebook.com/v19.0/1234567890123456/events",
                  body=json.dumps({"data": [ev]}).encode(), time=t + 0.2, client="203.0.113.9",
                  headers=[("content-type", "application/json"), ("user-agent", "facebook-nodejs-business-sdk/19.0")])


def _corpus_steps(scenario: int):
    """The corpus' traffic in its order: ("plain", an ordinary request), ("hit", a tracking hit),
    ("tick", a time to settle pending verdicts at)."""
    from corpus import build_corpus

    samples = [s for group in build_corpus().values() for s in group]
    t = 1_700_000_000.0 + scenario
    for serial in range(1, 40):
        client = f"10.0.0.{serial % 3 + 1}"
        ua = IPHONE if serial % 5 == 0 else None
        cookie = COOKIES[(serial + scenario) % len(COOKIES)]
        page = f"https://shop.example/p/{serial % 4}"
        yield "plain", _request(page, t, client, cookie, "text/html,*/*", ua=ua,
                                dest="document" if scenario % 2 else "")
        t += 0.05
        if serial % 6 == 0:
            yield "plain", _request("https://cdn.cookielaw.org/scripttemplates/otSDKStub.js", t, client,
                                    referer=page, ua=ua)
            t += 0.01
        if serial % 9 == 0:
            yield "plain", _request("https://consent.cookiebot.com/uc.js", t, client, referer=page, ua=ua)
            t += 0.01
        yield "plain", _request(f"https://shop.example/static/app.js?v={serial}", t, client, cookie,
                                referer=page, ua=ua, gpc=serial % 11 == 0)
        t += 0.01
        for i, sample in enumerate(samples):
            hit = sample.hit(time=t, serial=serial if (serial + i) % 7 else max(1, serial - 1))  # some copies
            yield "hit", _variant(hit, client, cookie if i % 3 else "", ua, serial % 13 == 0, page + "?x=1",
                                  serial % 5)
            if sample.url.startswith("https://www.facebook.com/tr/") and b"Purchase" in hit.body and serial % 3:
                yield "hit", _capi(page, serial, t)
            t += 0.003 if i % 4 else 0.7
            if i % 10 == 0:
                yield "tick", t
        yield "plain", _request(f"https://shop.example/api/cart?{serial}", t, client,
                                COOKIES[serial * 3 % len(COOKIES)], referer=page, ua=ua)
        t += 0.5
        yield "tick", t
    yield "tick", math.inf


def _corpus(session, scenario: int) -> None:
    """The corpus' ordinary requests through the addon, its hits straight into the session."""
    from pixelspy.addon import PixelSpy
    addon = PixelSpy(session)
    for kind, what in _corpus_steps(scenario):
        if kind == "plain":
            _through_addon(addon, what)
        elif kind == "hit":
            session.ingest(what)
        else:
            session.tick(what)


def _corpus_through_the_loop(session, scenario: int) -> None:
    """The corpus through the addon in sink mode on a running event loop, as live: the hits' ingests
    wait there (after mitmproxy acts) and the ordinary requests after them wait behind them. The
    loop turns now and then; before a tick, everything waiting is let run."""
    import asyncio

    from mitmproxy.test import taddons

    from pixelspy import flows
    from pixelspy.addon import PixelSpy

    async def replay() -> None:
        addon = PixelSpy(session)
        with taddons.context(addon) as tctx:
            tctx.configure(addon, pixelspy_sink=True)
            for n, (kind, what) in enumerate(_corpus_steps(scenario)):
                if kind == "tick":
                    while flows._queue().waiting:
                        await asyncio.sleep(0.001)
                    session.tick(what)
                    continue
                flow = _through_addon(addon, what)
                if flow.response is not None:
                    addon.response(flow)
                if n % 7 == 0:
                    await asyncio.sleep(0)

    asyncio.run(replay())


def _mix(session) -> None:
    import time

    import bench_addon

    from pixelspy.addon import PixelSpy
    addon = PixelSpy(session)
    bench_addon.time = types.SimpleNamespace(time=lambda: 1_750_000_000.0, perf_counter=time.perf_counter)
    for run in range(3):
        ordinary, tracking = bench_addon.flows(run)
        for flow in ordinary + tracking:
            addon.request(flow)
        session.tick(ordinary[-1].request.timestamp_start + 1)
    session.tick(math.inf)


def run_tree(tree: Path) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, __file__, "--dump"], env=env, capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", type=Path, help="the other tree (a checkout or `git archive` of it)")
    ap.add_argument("--dump", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.dump:
        dump()
        return 0
    if args.before is None:
        ap.error("--before TREE is needed")
    before, after = run_tree(args.before.resolve()), run_tree(ROOT)
    diffs = [(n, b, a) for n, (b, a) in enumerate(zip(before, after)) if b != a]
    print(f"{len(before):,} lines before, {len(after):,} after; {len(diffs):,} differ")
    for n, b, a in diffs[:5]:
        print(f"line {n}:\n  before {b[:300]}\n  after  {a[:300]}")
    return 0 if before == after else 1


if __name__ == "__main__":
    sys.exit(main())
