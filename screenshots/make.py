"""Regenerate the screenshots from a scripted session: `python screenshots/make.py`.

Feeds real-shaped hits through the decoders and checks (no proxy), drives the TUI with Pilot and
saves SVGs (and PNGs where Debian's chromium is installed, rendered headless).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pixelspy.model import RawHit  # noqa: E402
from pixelspy.session import Session  # noqa: E402
from pixelspy.tui.app import PixelSpyApp  # noqa: E402

HERE = Path(__file__).resolve().parent
SIZE = (120, 36)
T0 = time.mktime((2026, 11, 25, 14, 2, 0, 0, 0, -1))


def scripted_hits() -> list[RawHit]:
    """A small shop visit: pixels load, page views, a funnel, a few classic mistakes."""
    meta = "1234567890123456"
    hits = []

    def add(dt: float, method: str, url: str, body: bytes = b"", ctype: str = "", client: str = "127.0.0.1"):
        headers = [("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"),
                   ("referer", "https://shop.example/")]
        if ctype:
            headers.append(("content-type", ctype))
        hits.append(RawHit(method=method, url=url, body=body, headers=headers, time=T0 + dt, client=client))

    def tr(dt: float, **params):
        add(dt, "GET", "https://www.facebook.com/tr/?" + urlencode({"id": meta, **params}))

    add(0.0, "GET", f"https://connect.facebook.net/signals/config/{meta}?v=2.9.179&r=stable")
    tr(0.4, ev="PageView", dl="https://shop.example/", ts=int((T0 + 0.4) * 1000))
    tr(3.1, ev="ViewContent", dl="https://shop.example/p/blue-mug", **{
        "cd[content_ids]": '["mug-blue"]', "cd[content_type]": "product", "cd[value]": "14.90",
        "cd[currency]": "EUR"})
    tr(7.8, ev="AddToCart", dl="https://shop.example/p/blue-mug", **{
        "cd[content_ids]": '["mug-blue"]', "cd[value]": "14.90", "cd[currency]": "EUR"})
    tr(7.9, ev="AddToCart", dl="https://shop.example/p/blue-mug", **{
        "cd[content_ids]": '["mug-blue"]', "cd[value]": "14.90", "cd[currency]": "EUR"})
    tr(15.2, ev="InitiateCheckout", dl="https://shop.example/checkout", **{"cd[num_items]": "1"})
    add(21.7, "POST", "https://www.facebook.com/tr/", urlencode({
        "id": meta, "ev": "Purchase", "eid": "order-1042", "dl": "https://shop.example/checkout/thanks",
        "cd[value]": "$14.90", "cd[content_ids]": '["mug-blue"]', "cd[content_type]": "product",
        "ud[em]": "jane.doe@example.com"}).encode(), "application/x-www-form-urlencoded")
    tr(22.0, ev="purchase", dl="https://shop.example/checkout/thanks", **{"cd[value]": "14.90",
                                                                         "cd[currency]": "EUR"})
    return hits


def build_session() -> Session:
    session = Session()
    for hit in scripted_hits():
        session.ingest(hit)
    session.tick(T0 + 60)
    return session


async def capture() -> list[Path]:
    out = []
    app = PixelSpyApp(build_session(), None, title="scripted shop visit")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        out.append(Path(app.save_screenshot("main.svg", str(HERE))))
        await pilot.press("up", "up")
        await pilot.pause()
        out.append(Path(app.save_screenshot("detail.svg", str(HERE))))
        await pilot.press("s")
        await pilot.pause()
        out.append(Path(app.save_screenshot("summary.svg", str(HERE))))
        await pilot.press("escape", "slash", *"has:findings", "enter")
        await pilot.pause()
        out.append(Path(app.save_screenshot("filter.svg", str(HERE))))
    return out


def to_png(svg: Path) -> Path | None:
    browser = shutil.which("chromium")
    if not browser:
        return None
    png = svg.with_suffix(".png")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--disable-background-networking", "--window-size=1500,1000",
                    f"--screenshot={png}", svg.as_uri()], check=True, capture_output=True, timeout=60)
    return png


def main() -> None:
    for svg in asyncio.run(capture()):
        png = to_png(svg)
        print(svg.relative_to(HERE.parent), "and", png.relative_to(HERE.parent) if png else "(no chromium: no PNG)")


if __name__ == "__main__":
    main()
