"""The audit's browser: an installed Chrome/Chromium driven by Playwright, launched so that pages see
an ordinary visitor's browser (consent libraries hide their banners from automation: vanilla-cookieconsent's
`hideFromBots` checks navigator.webdriver and a "Headless" user agent)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

# Searched on PATH, in this order, then SYSTEM_PATHS; then Google Chrome (Playwright's "chrome"
# channel), then the Chromium Playwright installs itself (`playwright install chromium`, if the user did).
PATH_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
SYSTEM_PATHS = (Path("/usr/bin/chromium"),)

NO_BROWSER = ("pixelspy audit: no Chrome or Chromium found: install one (apt-get install chromium, or Google "
              "Chrome from google.com/chrome) or pass --browser PATH")
NO_PLAYWRIGHT = "pixelspy audit needs Playwright: pip install 'pixelspy[audit]'"

ARGS = [
    # navigator.webdriver stays false, as in a browser a person started.
    "--disable-blink-features=AutomationControlled",
    "--no-first-run", "--no-default-browser-check", "--disable-quic",
    # No background requests of the browser's own in the evidence (updates, sync, field trials).
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Playwright's --enable-automation sets navigator.webdriver and shows the "controlled by automated
# test software" bar.
IGNORED_DEFAULT_ARGS = ["--enable-automation"]
# Inside containers and CI runners (root, no user namespaces) Chromium's sandbox cannot start.
ROOT_ARGS = ["--no-sandbox"]


class AuditError(Exception):
    """The audit cannot run; str() is the one line for the user (exit 2)."""


class BrowserMissing(AuditError):
    """No browser could be launched."""


@dataclass
class LaunchPlan:
    """One way to launch a browser: an executable, a Playwright channel, or Playwright's own."""

    label: str
    options: dict = field(default_factory=dict)


def launch_plans(browser_path: str | None) -> list[LaunchPlan]:
    """The browsers to try, in order (only `browser_path` when given)."""
    if browser_path:
        return [LaunchPlan(browser_path, {"executable_path": browser_path})]
    found = [shutil.which(name) for name in PATH_NAMES] + [str(p) for p in SYSTEM_PATHS if p.exists()]
    plans = [LaunchPlan(path, {"executable_path": path}) for path in dict.fromkeys(p for p in found if p)]
    return plans + [LaunchPlan("Google Chrome", {"channel": "chrome"}), LaunchPlan("Playwright's Chromium", {})]


def launch_args() -> list[str]:
    return ARGS + (ROOT_ARGS if hasattr(os, "geteuid") and os.geteuid() == 0 else [])


async def launch(pw, browser_path: str | None):
    """The first browser of launch_plans that starts; BrowserMissing when none does."""
    if browser_path and not Path(browser_path).exists():
        raise BrowserMissing(f"pixelspy audit: --browser {browser_path}: no such file")
    last = ""
    for plan in launch_plans(browser_path):
        try:
            # Every context gets its own proxy (the run's pixelspy); Chromium needs one at launch for that.
            return await pw.chromium.launch(headless=True, args=launch_args(), ignore_default_args=IGNORED_DEFAULT_ARGS,
                                            proxy={"server": "http://per-context"}, **plan.options)
        except Exception as e:  # noqa: BLE001 - Playwright raises its Error for a missing or broken browser
            last = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if browser_path:
        raise BrowserMissing(f"pixelspy audit: cannot start {browser_path}: {last}")
    raise BrowserMissing(NO_BROWSER)


async def ordinary_user_agent(browser) -> str:
    """The browser's own user agent without "Headless" (HeadlessChrome/… → Chrome/…)."""
    cdp = await browser.new_browser_cdp_session()
    try:
        version = await cdp.send("Browser.getVersion")
    finally:
        await cdp.detach()
    return version["userAgent"].replace("HeadlessChrome/", "Chrome/")


DESKTOP = "desktop"


def device_options(pw, name: str, desktop_ua: str) -> dict:
    """Context options for a device: Playwright's descriptor (viewport, touch, its user agent), or for
    "desktop" the browser's own user agent made ordinary."""
    if name.lower() == DESKTOP:
        return {"user_agent": desktop_ua, "viewport": {"width": 1366, "height": 768}}
    descriptor = dict(pw.devices[device_name(pw.devices, name)])
    descriptor.pop("default_browser_type", None)  # the audit drives Chromium whatever the device
    return descriptor


def device_name(devices, name: str) -> str:
    """Playwright's spelling of a device name given in any case ("iphone 13" → "iPhone 13")."""
    for known in devices:
        if known.lower() == name.strip().lower():
            return known
    raise AuditError(f"pixelspy audit: unknown device {name!r}: desktop or a Playwright device name such as "
                     "'iPhone 13', 'Pixel 7', 'iPad Mini'")


def device_names(pw, names: list[str]) -> list[str]:
    """The names spelled as Playwright does; AuditError for the first that is neither desktop nor a device."""
    return [DESKTOP if name.lower() == DESKTOP else device_name(pw.devices, name) for name in names]
