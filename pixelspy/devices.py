"""Devices: a device is a client address plus the client family its User-Agent names ("Linux Chrome",
"curl"): desktop browsers and tools all come from 127.0.0.1, and each keeps its own cookies (consent),
pages and duplicates. Named from address and family until the user renames it."""

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


# A User-Agent none of the rules name is keyed by its first product token ("Wget/1.21" → "Wget"),
# kept to these characters: it ends up in device names on the terminal.
_PRODUCT = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,39}")


@lru_cache(maxsize=256)  # a client names itself on every request; one it doesn't is asked again each time
def user_agent_family(ua: str) -> str:
    """'iPhone Safari', 'Android Instagram', 'Linux Chrome', 'curl' …; '' when unknown."""
    platform = next((n for p, n in _PLATFORMS if p.search(ua)), "")
    client = next((n for p, n in _CLIENTS if p.search(ua)), "")
    if client in ("curl", "Python", "Node.js", "Go"):
        return client
    return " ".join(x for x in (platform, client) if x)


def client_family(ua: str) -> str:
    """What distinguishes two clients at one address: the User-Agent family, else its product token."""
    if family := user_agent_family(ua):
        return family
    m = _PRODUCT.match(ua.strip())
    return m.group() if m else "?"


def _device_of(address: str, ua: str) -> tuple[str, str]:
    """(key, name) of the device at `address` whose User-Agent is `ua`."""
    family = client_family(ua)
    return f"{address} {family}".strip().lower(), f"{family} {address}".strip()


class Devices:
    """The devices seen, by key ("127.0.0.1 linux chrome", see `key`), each named "Linux Chrome
    127.0.0.1" or what the user calls it."""

    MAX = 1000
    MAX_KEYS = 10_000  # (address, User-Agent) pairs remembered

    def __init__(self) -> None:
        self._auto: dict[str, str] = {}  # key → name from address and family
        self._given: dict[str, str] = {}
        self._by_address: dict[str, list[str]] = {}  # address → keys of its devices with a User-Agent
        self._keys: dict[tuple[str, str], str] = {}  # (address, User-Agent) → key

    def key(self, hit: RawHit) -> str:
        """The device of a hit: "<address> <family>" lower-cased (the TUI's filters compare lower-cased
        text). A hit without a User-Agent (server SDKs, some beacons) joins its address's only device,
        else it is the address's own. Remembers the device (up to MAX)."""
        address, ua = hit.client, hit.header("user-agent")
        if (key := self._keys.get((address, ua))) is not None:  # asked for every request the proxy relays
            return key
        if not ua.strip():
            known = self._by_address.get(address, ())
            key = known[0] if len(known) == 1 else address
            self._remember(key, address or "-")
            return key
        key, name = _device_of(address, ua)
        if self._remember(key, name):
            self._by_address.setdefault(address, []).append(key)
        if len(self._keys) < self.MAX_KEYS:
            self._keys[(address, ua)] = key
        return key

    def _remember(self, key: str, name: str) -> bool:
        """True when `key` is a new device."""
        if not key or key in self._auto or len(self._auto) >= self.MAX:
            return False
        self._auto[key] = name
        return True

    def rename(self, key: str, name: str) -> None:
        if name.strip():
            self._given[key] = name.strip()
        else:
            self._given.pop(key, None)

    def name(self, key: str) -> str:
        """The name of a device key; given an address alone (a TLS failure has no request, so no
        User-Agent), the name of the address's only device."""
        if key not in self._auto and len(known := self._by_address.get(key, ())) == 1:
            key = known[0]
        return self._given.get(key) or self._auto.get(key) or key or "-"

    def matching(self, words: set[str]) -> set[str]:
        """The keys of the devices a `device:` filter's lower-cased words name: a word in the device's
        name, or in its key (its address and family, which a rename does not change)."""
        return {k for k in self.clients() if any(w in k or w in self.name(k).lower() for w in words)}

    def clients(self) -> list[str]:
        """The device keys seen (`device:NAME` filters match their names)."""
        return sorted(set(self._auto) | set(self._given))
