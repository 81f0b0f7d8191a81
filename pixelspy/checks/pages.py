"""What a page is: the one place that decides which page view of its site a hit belongs to.

Hits rarely say which page sent them: under the browsers' default referrer policy a cross-origin
request (a loader, a pixel hit) carries only the page's origin in Referer, so every page of a shop
looks alike. A page view is therefore counted from the navigations themselves: per device and
site, each top-level document request starts the next one. Checks that compare "the same page"
(duplicate-pixel, the tracking plan's visits) ask `PageViews.page_of` and `Context.page_load`,
never the URL alone.

A recording may also hold several browsers under one address: WebPageTest merges its runs (separate
browsers, often run in parallel by several agents) into one HAR, naming each page after its run.
`recording_browser` tells them apart, so that one run's pages and events are never compared with
another's.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any

from pixelspy.checks.rules import host_of
from pixelspy.model import RawHit

# (device, host) pairs remembered, and HTML documents waiting to be named; the oldest go first
# (a long session visits many sites).
MAX_SITES = 10_000
HTML_TYPES = ("text/html", "application/xhtml+xml")
# WebPageTest's page ids: page_<run>_<cached>[_<step>] (its HAR export; the step since scripted
# multi-step tests). A run's first and repeat views (cached 0 and 1) are one browser, its cache warm.
WEBPAGETEST_PAGE = re.compile(r"page_(\d{1,6})_[01](?:_\d{1,6})?")


def recording_browser(pageref: Any) -> str:
    """The browser of a recording that holds several, as its page id names it ("WebPageTest run 2");
    "" when the page id does not say (DevTools, Firefox and Playwright name pages of one browser)."""
    m = WEBPAGETEST_PAGE.fullmatch(pageref) if isinstance(pageref, str) else None
    return f"WebPageTest run {int(m[1])}" if m else ""


def is_page_load(hit: RawHit) -> bool:
    """A top-level document request: what a browser sends when it opens a page.

    Browsers since 2020 say so in Sec-Fetch-Dest (any method: a form post opens a page too; a frame's
    document says "iframe"). Many recordings (Playwright, older Safari, Charles) have no Sec-Fetch-*
    headers: then what the HAR file says (RawHit.navigation: DevTools' request type, the first
    entry of a new pageref), else a GET whose Accept leads with text/html, as navigations send it
    (an XMLHttpRequest says so in X-Requested-With), or an HTML document the file recorded for a
    request saying Upgrade-Insecure-Requests, which browsers send on navigations only (Playwright
    records some navigations with those provisional headers alone)."""
    header = hit.header_map().get  # (every request the proxy relays comes here)
    dest = header("sec-fetch-dest")
    if dest:
        return dest == "document"
    if hit.navigation is not None:
        return hit.navigation
    if hit.method != "GET" or header("x-requested-with"):
        return False
    return (header("accept", "").lstrip().startswith("text/html")
            or is_html_document(hit) and header("upgrade-insecure-requests") == "1")


def is_html_document(hit: RawHit) -> bool:
    """A GET the file recorded an HTML answer for, whose headers do not say what asked for it."""
    return (hit.method == "GET" and hit.response_type.startswith(HTML_TYPES) and hit.navigation is None
            and not hit.header("sec-fetch-dest") and not hit.header("x-requested-with"))


class PageViews:
    """Counts the page loads of each site per device."""

    # What `observe` reads of a request's headers (is_page_load, is_html_document, _named_document).
    HEADERS = frozenset({"sec-fetch-dest", "x-requested-with", "accept", "upgrade-insecure-requests", "referer"})

    def __init__(self) -> None:
        self._loads: OrderedDict[tuple[str, str], int] = OrderedDict()
        # (device, URL) of HTML documents no later request has named as its Referer yet
        self._unnamed: OrderedDict[tuple[str, str], None] = OrderedDict()

    def observe(self, hit: RawHit) -> str | None:
        """Count the page load the hit shows; the URL of that page, or None.

        A hit shows one by opening the page (is_page_load) or, in a file whose headers do not tell
        (Playwright's later navigations in a tab), by naming an HTML document fetched before it as its
        Referer: a page's own requests name it, so that document was the page and not a fragment a
        script fetched. The page is then counted at the first such request, before the pixels its
        scripts load."""
        if is_page_load(hit):
            self._count(hit.device, hit.host)
            return hit.url
        named = self._named_document(hit)
        if is_html_document(hit):  # a next document may name the one before (a link followed)
            self._bounded_put(self._unnamed, (hit.device, hit.url))
        if named:
            self._count(hit.device, host_of(named))
        return named

    def _named_document(self, hit: RawHit) -> str | None:
        """The HTML document the hit's Referer names, if it waits to be named (then no longer)."""
        if not self._unnamed:  # (live traffic: the proxy records no answer types, so none waits)
            return None
        key = (hit.device, hit.header("referer"))
        if not key[1] or key not in self._unnamed:
            return None
        del self._unnamed[key]
        return key[1]

    def _count(self, device: str, host: str) -> None:
        key = (device, host)
        self._bounded_put(self._loads, key, self._loads.get(key, 0) + 1)

    @staticmethod
    def _bounded_put(store: OrderedDict, key: tuple, value=None) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > MAX_SITES:
            store.popitem(last=False)

    def page_of(self, device: str, url: str) -> tuple:
        """The page view a hit from `device` reporting page `url` belongs to: the latest page
        load of that site on that device; while no load of the site was seen (a recording of
        tracking hits only), the URL itself."""
        host = host_of(url)
        n = self._loads.get((device, host))
        return (device, url) if n is None else (device, host, n)
