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
from pixelspy.memo import memo


@cache  # parsed once, on first use
def _suffix_list() -> PublicSuffixList:
    """The rules as the list writes them, internationalised ones in Unicode: punycoding its ≈ 460 of
    them for the library (accept_encoded_idn) costs 25 of a first open's 36 ms; a punycoded host is
    looked up decoded instead (_registrable)."""
    return PublicSuffixList(accept_encoded_idn=False)


def _unicode_label(label: str) -> str:
    """A punycoded label (xn--) as the list writes it; any other label, or one that does not decode
    back to itself (no rule's punycode, since every rule's does), unchanged."""
    if not label.startswith("xn--"):
        return label
    try:
        decoded = label.encode("ascii").decode("idna")
    except UnicodeError:
        return label
    return label if "." in decoded else decoded


def _registrable(host: str) -> str | None:
    """The list's private suffix of an ASCII host: its last labels, as many as the list finds in the
    host's Unicode spelling."""
    if "xn--" not in host:
        return _suffix_list().privatesuffix(host)
    labels = host.split(".")
    found = _suffix_list().privatesuffix(".".join(map(_unicode_label, labels)))
    return ".".join(labels[-(found.count(".") + 1):]) if found else None


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
    return _registrable(host) or host


# http(s)://host[:port] followed by a path, query, fragment or nothing: the host is plain, and
# urlsplit would find the same (lower-cased). Anything else (user info, IPv6, escapes, spaces) is
# left to it.
_PLAIN_URL = re.compile(r"https?://([A-Za-z0-9.-]*)(?::[0-9]*)?(?:[/?#]|\Z)")


def url_host(url: str) -> str:
    """`host_of(url)` without splitting the whole URL where its start is plain: an event's page URL
    may differ in every hit (utm_content=…, cache busters), and then host_of's cache misses."""
    m = _PLAIN_URL.match(url)
    return m.group(1).lower() if m else host_of(url)


@memo(maxsize=4096)  # the hits of a page mostly carry the same URLs; a new page's is a new key
def page_site(page_url: str, referer: str) -> str:
    """The site an event was sent from: its page URL's, else its Referer's."""
    return registrable_domain(url_host(page_url) or url_host(referer))
