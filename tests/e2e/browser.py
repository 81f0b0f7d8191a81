"""Shared helpers of the real-browser tests: the system Chromium driven by Playwright through a
running pixelspy, local test sites on loopback addresses, and the vanilla-cookieconsent CMP from npm.

Never `playwright install`: the tests use Debian's /usr/bin/chromium and skip without it.
"""

from __future__ import annotations

import functools
import io
import re
import http.server
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

HERE = Path(__file__).parent
NPM_PREFIX = HERE / ".npm-cache"  # git-ignored
CMP_DIST = NPM_PREFIX / "node_modules" / "vanilla-cookieconsent" / "dist"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (CI installs it with apt-get install chromium)")


@pytest.fixture(scope="module")
def cmp_package() -> Path:
    """vanilla-cookieconsent, installed from the npm registry (once; kept in a git-ignored folder)."""
    if not (CMP_DIST / "cookieconsent.umd.js").exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot install vanilla-cookieconsent for the browser test")
        subprocess.run([npm, "install", "--prefix", str(NPM_PREFIX), "--no-save", "--no-package-lock",
                        "--no-audit", "--no-fund", "vanilla-cookieconsent@3"],
                       check=True, capture_output=True, timeout=120)
    return CMP_DIST


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Static files of one test site; /node_modules/ comes from the npm folder. `render` may rewrite
    HTML pages (server-side includes)."""

    render: Callable[[Path], bytes] | None = None

    def translate_path(self, path: str) -> str:
        path = urlsplit(path).path
        if path.startswith("/node_modules/"):
            return str(NPM_PREFIX / path.lstrip("/"))
        return super().translate_path(path)

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if self.render is None or path.suffix != ".html" or not path.is_file():
            return super().send_head()
        body = self.render(path)
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def end_headers(self) -> None:
        self.send_header("cache-control", "no-store")  # every load must go through the proxy
        super().end_headers()

    def log_message(self, *a):
        pass


_INCLUDE = re.compile(r'<!--#include file="([^"]+)" -->')


def server_side_includes(root: Path, depth: int = 5) -> Callable[[Path], bytes]:
    """An HTML renderer expanding `<!--#include file="part.html" -->` (paths relative to `root`), as a
    shop's templates put the same head (tags, CMP) on every page."""

    def expand(text: str, level: int) -> str:
        if level > depth:
            raise RecursionError("server-side includes nested too deep")
        return _INCLUDE.sub(lambda m: expand((root / m.group(1)).read_text(encoding="utf-8"), level + 1), text)

    return lambda path: expand(path.read_text(encoding="utf-8"), 0).encode("utf-8")


@contextmanager
def serve(directory: Path, hosts: list[str], render: Callable[[Path], bytes] | None = None) -> Iterator[list[str]]:
    """The site in `directory` on each loopback address in `hosts` (one pixelspy site each);
    yields their base URLs."""
    handler = type("Handler", (SiteHandler,), {"render": staticmethod(render) if render else None})
    servers = []
    for host in hosts:
        srv = http.server.ThreadingHTTPServer((host, 0), functools.partial(handler, directory=str(directory)))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    try:
        yield [f"http://{host}:{s.server_address[1]}" for host, s in zip(hosts, servers)]
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


@contextmanager
def chromium_through(proxy_url: str):
    """Headless system Chromium whose every request, loopback included, goes through the proxy."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
            # "<-loopback>" removes Chromium's implicit proxy bypass of 127.0.0.0/8 and localhost.
            proxy={"server": proxy_url, "bypass": "<-loopback>"})
        try:
            yield browser
        finally:
            browser.close()


def new_context(browser):
    """A fresh visitor (own cookies); pixelspy's CA is not installed, so its certificates are accepted."""
    return browser.new_context(ignore_https_errors=True)


def wait_for_events(spy, page, predicate, timeout: float = 10) -> list[dict]:
    """spy.wait_for(predicate) that keeps Playwright's sync dispatcher running meanwhile: route
    handlers (the loader stand-ins) only run while the test is inside a Playwright call."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return spy.wait_for(predicate, timeout=0)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        page.wait_for_timeout(50)
