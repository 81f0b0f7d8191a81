"""Pages audited per minute by `pixelspy audit` against the same pages loaded by Playwright without the
proxy, in one run, in the same Chromium (issue #26).

The pages are the e2e test shops (tests/e2e/audit_shop/: vanilla-cookieconsent and Klaro from npm,
Meta's and TikTok's stand-in loaders), served from 127.0.0.1. Both sides load every page once per
consent state in a fresh browser context and wait the same way on each page (the network quiet for
0.5 s, then --dwell). The audit adds its proxy (decoding and checking every hit, a HAR per visit),
autoconsent (the rules injected into every frame, the wait for the banner, the click) and reading
the CMP's state back; the baseline's tracking requests go nowhere (no proxy: the vendors' hostnames
do not resolve offline, so they fail at once). Needs /usr/bin/chromium, `pixelspy[audit]` and the
shops' npm packages (run tests/e2e/test_audit.py once).

    python benchmarks/bench_audit.py [--rounds 2] [--dwell 1]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pixelspy.audit import browser as browsers  # noqa: E402
from pixelspy.audit.cmp import STATES  # noqa: E402
from pixelspy.audit.runner import NETWORK_IDLE_S, QUIET_S, AuditPlan, NetworkWatch, visit_all  # noqa: E402
from pixelspy.config import Config  # noqa: E402
from tests.e2e.browser import CHROMIUM, CMP_DIST, serve  # noqa: E402

SHOPS = ["correct.html", "correct-teas.html", "early.html", "ignores.html", "klaro.html", "no-cmp.html"]


async def baseline(pw, browser, urls: list[str], dwell_s: float) -> float:
    """Seconds to load every page once per state, each state a fresh context, no proxy."""
    ua = await browsers.ordinary_user_agent(browser)
    start = time.perf_counter()
    for _ in STATES:
        context = await browser.new_context(user_agent=ua,
                                            viewport={"width": 1366, "height": 768})
        network = NetworkWatch()
        network.watch(context)
        page = await context.new_page()
        for url in urls:
            await page.goto(url, wait_until="load")
            await network.quiet(QUIET_S, NETWORK_IDLE_S)
            await asyncio.sleep(dwell_s)
        await context.close()
    return time.perf_counter() - start


async def audited(pw, browser, urls: list[str], dwell_s: float, out: Path) -> tuple[float, int]:
    plan = AuditPlan(starts=urls, page_limit=len(urls), states=list(STATES), devices=["desktop"], config=Config(),
                     out=out, delay_s=0.0, dwell_s=dwell_s)
    start = time.perf_counter()
    runs = await visit_all(pw, browser, plan)
    return time.perf_counter() - start, sum(run.report.tally.total for run in runs)


async def main(rounds: int, dwell_s: float) -> None:
    from playwright.async_api import async_playwright

    with serve(ROOT / "tests" / "e2e", ["127.0.0.1"]) as [base]:
        urls = [f"{base}/audit_shop/{shop}" for shop in SHOPS]
        loads = len(urls) * len(STATES)
        async with async_playwright() as pw:
            browser = await browsers.launch(pw, str(CHROMIUM))
            # The same Chromium and flags, without the audit's per-context proxy.
            plain = await pw.chromium.launch(headless=True, args=browsers.launch_args(), executable_path=str(CHROMIUM),
                                             ignore_default_args=browsers.IGNORED_DEFAULT_ARGS)
            try:
                await baseline(pw, plain, urls[:1], 0)  # warm-up: the browser's first context
                rows = []
                for n in range(rounds):
                    with tempfile.TemporaryDirectory() as out:
                        # Alternate which goes first, so that neither always gets the warmer machine.
                        if n % 2:
                            a, events = await audited(pw, browser, urls, dwell_s, Path(out))
                            b = await baseline(pw, plain, urls, dwell_s)
                        else:
                            b = await baseline(pw, plain, urls, dwell_s)
                            a, events = await audited(pw, browser, urls, dwell_s, Path(out))
                    rows.append((a, b, events))
            finally:
                await browser.close()
                await plain.close()
    print(f"{len(urls)} pages × {len(STATES)} states = {loads} page loads a round, --dwell {dwell_s}")
    print(f"{'round':>5}  {'audit s':>8}  {'pages/min':>9}  {'plain s':>8}  {'pages/min':>9}  {'ratio':>6}  events")
    for n, (a, b, events) in enumerate(rows, 1):
        print(f"{n:>5}  {a:8.2f}  {loads / a * 60:9.1f}  {b:8.2f}  {loads / b * 60:9.1f}  {a / b:6.2f}  {events}")
    a, b = sum(r[0] for r in rows), sum(r[1] for r in rows)
    print(f"total: audit {loads * rounds / a * 60:.1f} pages/min, plain Playwright {loads * rounds / b * 60:.1f} "
          f"pages/min: the audit takes {a / b:.2f} × the time")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--dwell", type=float, default=1.0, help="seconds on a page once quiet (the audit's default: 1)")
    args = p.parse_args()
    if not CHROMIUM.exists() or not (CMP_DIST / "cookieconsent.umd.js").exists():
        sys.exit(f"needs {CHROMIUM} and the shops' npm packages (run tests/e2e/test_audit.py once)")
    asyncio.run(main(args.rounds, args.dwell))
