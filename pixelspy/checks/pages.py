"""What a page is: the one place that decides which page view of its site a hit belongs to.

Hits rarely say which page sent them: under the browsers' default referrer policy a cross-origin
request (a loader, a pixel hit) carries only the page's origin in Referer, so every page of a shop
looks alike. A page view is therefore counted from the navigations themselves: per device and
site, each top-level document request starts the next one. Checks that compare "the same page"
(duplicate-pixel, the tracking plan's visits) ask `PageViews.page_of`, never the URL alone.
"""

from __future__ import annotations

from collections import OrderedDict

from pixelspy.checks.rules import host_of
from pixelspy.model import RawHit

# (device, host) pairs remembered; the oldest go first (a long session visits many sites).
MAX_SITES = 10_000


def is_page_load(hit: RawHit) -> bool:
    """A top-level document request: what a browser sends when it opens a page.

    Browsers since 2020 say so in Sec-Fetch-Dest (any method: a form post opens a page too; a frame's
    document says "iframe"). Many recordings (Playwright, older Safari, Charles) have no Sec-Fetch-*
    headers: then what the HAR file says (RawHit.navigation: DevTools' request type, the first
    entry of a new pageref), else a GET whose Accept leads with text/html, as navigations send it
    (an XMLHttpRequest says so in X-Requested-With). Playwright sends its documents with `*/*`."""
    dest = hit.header("sec-fetch-dest")
    if dest:
        return dest == "document"
    if hit.navigation is not None:
        return hit.navigation
    return (hit.method == "GET" and hit.header("accept").lstrip().startswith("text/html")
            and not hit.header("x-requested-with"))


class PageViews:
    """Counts the page loads of each site per device."""

    def __init__(self) -> None:
        self._loads: OrderedDict[tuple[str, str], int] = OrderedDict()

    def observe(self, hit: RawHit) -> bool:
        """Count the hit when it opens a page; whether it did."""
        if not is_page_load(hit):
            return False
        key = (hit.device, hit.host)
        self._loads[key] = self._loads.get(key, 0) + 1
        self._loads.move_to_end(key)
        while len(self._loads) > MAX_SITES:
            self._loads.popitem(last=False)
        return True

    def page_of(self, device: str, url: str) -> tuple:
        """The page view a hit from `device` reporting page `url` belongs to: the latest page
        load of that site on that device; while no load of the site was seen (a recording of
        tracking hits only), the URL itself."""
        host = host_of(url)
        n = self._loads.get((device, host))
        return (device, url) if n is None else (device, host, n)
