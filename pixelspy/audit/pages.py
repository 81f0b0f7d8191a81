"""Which pages an audit visits: the start URL and same-site links found on the way (breadth first), a
list of URLs from a file, and a steps file for funnels (navigate, click, wait)."""

from __future__ import annotations

import hashlib
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from pixelspy.checks.consent import registrable_domain

MAX_LINKS_PER_PAGE = 500  # links read from one page (a page is wire text: it may hold millions)
MAX_URL_CHARS = 2000
# Links that are no pages: files a crawl would download, and actions a visit must not take.
NOT_PAGES = re.compile(r"\.(?:pdf|zip|gz|dmg|exe|jpe?g|png|gif|webp|svg|mp4|mp3|css|js|xml|json)$"
                       r"|/(?:log-?out|sign-?out|logoff)\b", re.IGNORECASE)
# The hrefs of the page's links (a[href] and area[href]); forms are never submitted.
LINKS_JS = f"""() => Array.from(document.querySelectorAll("a[href], area[href]"))
  .slice(0, {MAX_LINKS_PER_PAGE}).map(a => a.href).filter(h => typeof h === "string")"""


class InputError(ValueError):
    """A URL list or steps file the audit cannot use; str() says where and why."""


def normal_url(url: str, base: str | None = None) -> str | None:
    """An http(s) URL without its fragment, or None."""
    url = urljoin(base, url.strip()) if base else url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL_CHARS:
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def same_site(url: str, start: str) -> bool:
    return registrable_domain(urlsplit(url).hostname or "") == registrable_domain(urlsplit(start).hostname or "")


MAX_ROBOTS_CHARS = 512 * 1024
MAX_CRAWL_DELAY_S = 30.0  # a robots.txt asking for more is answered with this


class Robots:
    """The site's robots.txt rules for the links a crawl finds (the pages the user named are visited
    whatever it says) and its Crawl-delay."""

    def __init__(self, text: str = "", agent: str = "*"):
        self.agent = agent
        self.parser = RobotFileParser()
        self.parser.parse(text[:MAX_ROBOTS_CHARS].splitlines())

    def allowed(self, url: str) -> bool:
        return self.parser.can_fetch(self.agent, url)

    @property
    def delay_s(self) -> float:
        delay = self.parser.crawl_delay(self.agent)
        return min(float(delay), MAX_CRAWL_DELAY_S) if delay else 0.0


class Crawl:
    """Breadth first from the start URLs, same-site links only (allowed by robots.txt), at most `limit`
    pages."""

    def __init__(self, starts: list[str], limit: int, robots: Robots | None = None):
        self.limit = limit
        self.queue: deque[str] = deque(starts)
        self.seen: set[str] = set(starts)
        self.site = starts[0] if starts else ""
        self.robots = robots or Robots()

    def next(self, visited: int) -> str | None:
        return self.queue.popleft() if self.queue and visited < self.limit else None

    def found(self, hrefs: list, page_url: str) -> None:
        for href in hrefs[:MAX_LINKS_PER_PAGE]:
            url = normal_url(href, page_url) if isinstance(href, str) else None
            if (url and url not in self.seen and same_site(url, self.site)
                    and not NOT_PAGES.search(urlsplit(url).path) and self.robots.allowed(url)):
                self.seen.add(url)
                self.queue.append(url)


def shard(urls: list[str], index: int, count: int) -> list[str]:
    """The URLs of shard `index` (1-based) of `count`, in list order: by a stable hash of each URL, not
    its position, so adding URLs to the list moves none of the others to another shard."""
    return [u for u in urls if int.from_bytes(hashlib.sha256(u.encode()).digest()[:8], "big") % count == index - 1]


def read_urls(path: str) -> list[str]:
    """One URL a line; blank lines and # comments skipped."""
    urls = []
    for n, line in enumerate(_lines(path), 1):
        if not (line := line.strip()) or line.startswith("#"):
            continue
        if (url := normal_url(line)) is None:
            raise InputError(f"{path}:{n}: not an http(s) URL: {line[:200]}")
        urls.append(url)
    if not urls:
        raise InputError(f"{path}: no URLs in it")
    return urls


@dataclass(frozen=True)
class Step:
    action: str  # navigate | click | wait
    arg: str
    line: int


STEP_ACTIONS = {"navigate": "navigate", "goto": "navigate", "click": "click", "wait": "wait"}


def read_steps(path: str, base: str | None) -> list[Step]:
    """A funnel, one action a line:
        navigate URL        (goto; relative to the previous navigate's URL, or the start URL)
        click SELECTOR      (a Playwright selector: #buy, text=Add to cart, role=button[name="Buy"])
        wait SECONDS | wait SELECTOR
    Blank lines and # comments are skipped."""
    steps = []
    for n, line in enumerate(_lines(path), 1):
        if not (line := line.strip()) or line.startswith("#"):
            continue
        word, _, arg = line.partition(" ")
        action, arg = STEP_ACTIONS.get(word.lower()), arg.strip()
        if action is None or not arg:
            raise InputError(f"{path}:{n}: expected 'navigate URL', 'click SELECTOR' or 'wait SECONDS|SELECTOR', "
                             f"got {line[:200]!r}")
        if action == "navigate":
            if (url := normal_url(arg, base)) is None:
                raise InputError(f"{path}:{n}: not an http(s) URL{' (and no start URL to resolve it)' if not base else ''}: "
                                 f"{arg[:200]}")
            arg = base = url  # the next relative URL is relative to this one
        steps.append(Step(action, arg, n))
    if not steps:
        raise InputError(f"{path}: no steps in it")
    return steps


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from None
