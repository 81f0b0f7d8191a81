"""The site of a host: its registrable domain per the Public Suffix List, as browsers scope cookies.

The list comes bundled with `publicsuffixlist` (no network at runtime). Its private section counts:
`shop.myshopify.com`, `user.github.io`, `x.herokuapp.com` are each their own site, as they are for
the browser's cookies, so one shop's consent cookie never speaks for another's. An IP address, a
single label (`localhost`) or a public suffix itself is its own site; unusable input gives "".
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache, lru_cache

from publicsuffixlist import PublicSuffixList

from pixelspy.checks.rules import host_of


@cache  # parsed once, on first use (~40 ms)
def _suffix_list() -> PublicSuffixList:
    return PublicSuffixList()


def _ascii(host: str) -> str:
    """The host as the wire carries it: internationalised names in punycode (xn--)."""
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:  # a label too long or empty: not a name a browser would send
        return host


@lru_cache(maxsize=4096)  # called for every request; hosts repeat
def registrable_domain(host: str) -> str:
    """The site of a host: `www.shop.co.uk` → `shop.co.uk`, `shop.myshopify.com` → itself."""
    host = host.strip().rstrip(".").strip("[]").lower()
    if not host:
        return ""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    host = _ascii(host)
    return _suffix_list().privatesuffix(host) or host


# http(s)://host[:port] followed by a path, query, fragment or nothing: the host is plain, and
# urlsplit would find the same (lower-cased). Anything else (user info, IPv6, escapes, spaces) is
# left to it.
_PLAIN_URL = re.compile(r"https?://([A-Za-z0-9.-]*)(?::[0-9]*)?(?:[/?#]|\Z)")


def url_host(url: str) -> str:
    """`host_of(url)` without splitting the whole URL where its start is plain: an event's page URL
    may differ in every hit (utm_content=…, cache busters), and then host_of's cache misses."""
    m = _PLAIN_URL.match(url)
    return m.group(1).lower() if m else host_of(url)


@lru_cache(maxsize=4096)  # the hits of a page mostly carry the same URLs
def page_site(page_url: str, referer: str) -> str:
    """The site an event was sent from: its page URL's, else its Referer's."""
    return registrable_domain(url_host(page_url) or url_host(referer))
