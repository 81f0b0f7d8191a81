"""Devices: each client address is a device, named from its User-Agent until the user renames it."""

from __future__ import annotations

import re
from functools import lru_cache

from pixelspy.model import RawHit

# (pattern, name) in order: the first match names the platform / the app or browser.
PLATFORMS = [
    (r"iPhone", "iPhone"), (r"iPad", "iPad"), (r"Android", "Android"), (r"Windows", "Windows"),
    (r"Macintosh|Mac OS X", "Mac"), (r"CrOS", "ChromeOS"), (r"Linux", "Linux"),
    (r"CFNetwork|Darwin", "iOS app"), (r"okhttp|Dalvik", "Android app"),
]
CLIENTS = [
    (r"Instagram", "Instagram"), (r"FBAN|FBAV|FB_IAB", "Facebook app"), (r"musical_ly|TikTok|BytedanceWebview",
                                                                        "TikTok app"),
    (r"Pinterest", "Pinterest app"), (r"LinkedInApp", "LinkedIn app"), (r"Twitter", "X app"),
    (r"EdgA?/|Edg/", "Edge"), (r"SamsungBrowser", "Samsung Internet"), (r"Firefox|FxiOS", "Firefox"),
    (r"CriOS|Chrome|Chromium", "Chrome"), (r"Safari", "Safari"), (r"curl/", "curl"),
    (r"python-httpx|python-requests|aiohttp|urllib", "Python"), (r"node-fetch|axios|undici", "Node.js"),
    (r"okhttp", "OkHttp"), (r"Go-http-client", "Go"),
]
_PLATFORMS = [(re.compile(p), n) for p, n in PLATFORMS]
_CLIENTS = [(re.compile(p), n) for p, n in CLIENTS]


@lru_cache(maxsize=256)  # a client names itself on every request; one it doesn't is asked again each time
def user_agent_family(ua: str) -> str:
    """'iPhone Safari', 'Android Instagram', 'Linux Chrome', 'curl' …; '' when unknown."""
    platform = next((n for p, n in _PLATFORMS if p.search(ua)), "")
    client = next((n for p, n in _CLIENTS if p.search(ua)), "")
    if client in ("curl", "Python", "Node.js", "Go"):
        return client
    return " ".join(x for x in (platform, client) if x)


class Devices:
    """Names of the clients seen: "iPhone Safari 192.168.1.23", or what the user calls it."""

    MAX = 1000

    def __init__(self) -> None:
        self._auto: dict[str, str] = {}
        self._given: dict[str, str] = {}

    def observe(self, hit: RawHit) -> None:
        """Every client is remembered; the first User-Agent that says what it is names it."""
        if not hit.client or self._auto.get(hit.client, hit.client) != hit.client:
            return
        if hit.client not in self._auto and len(self._auto) >= self.MAX:
            return
        family = user_agent_family(hit.header("user-agent"))
        self._auto[hit.client] = f"{family} {hit.client}" if family else hit.client

    def rename(self, client: str, name: str) -> None:
        if name.strip():
            self._given[client] = name.strip()
        else:
            self._given.pop(client, None)

    def name(self, client: str) -> str:
        return self._given.get(client) or self._auto.get(client) or client or "-"

    def clients(self) -> list[str]:
        return sorted(set(self._auto) | set(self._given))
