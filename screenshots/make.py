"""Regenerate the screenshots from a scripted session: `python screenshots/make.py`.

Feeds real-shaped hits through the decoders and checks (no proxy), drives the TUI with Pilot and
saves SVGs (and PNGs where Debian's chromium is installed, rendered headless). Also writes
audit-report.html: `pixelspy audit --format html` of a small fixture audit (tests/audit_runs.py).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pixelspy.report import render_audit  # noqa: E402
from pixelspy.tui.app import PixelSpyApp  # noqa: E402
from tests.audit_runs import audit_runs  # noqa: E402
from tests.tui.scripted import build_session  # noqa: E402

HERE = Path(__file__).resolve().parent
SIZE = (120, 36)


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
        app.theme = "textual-light"
        await pilot.press("escape", "end")
        await pilot.pause()
        out.append(Path(app.save_screenshot("light.svg", str(HERE))))
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


def audit_sample() -> Path:
    path = HERE / "audit-report.html"
    path.write_text(render_audit(audit_runs(), "html", "error"), encoding="utf-8")
    return path


def main() -> None:
    for svg in asyncio.run(capture()):
        png = to_png(svg)
        print(svg.relative_to(HERE.parent), "and", png.relative_to(HERE.parent) if png else "(no chromium: no PNG)")
    print(audit_sample().relative_to(HERE.parent))


if __name__ == "__main__":
    main()
