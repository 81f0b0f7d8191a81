"""Devices: a device is a client address plus the client family its User-Agent names ("Pixel 7 Chrome",
"Mac Safari", "curl"): desktop browsers and tools all come from 127.0.0.1, and each keeps its own cookies
(consent), pages and duplicates. Named from address and family until the user renames it.

Browsers, operating systems and phone models are ua-parser's (the uap-core rules it bundles);
in-app browsers, tools, scripts and the vendors' server SDKs keep pixelspy's own names below."""

from __future__ import annotations

import re
import sys
from functools import cache, lru_cache
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from pixelspy.model import RawHit

if TYPE_CHECKING:
    import ua_parser

# Real User-Agents are under 400 characters (in-app browsers' the longest); a longer one is cut
# before parsing, so a huge or hostile header costs no more than a real one.
MAX_UA = 512

# Tools, scripts and server SDKs, named alone however many versions or platforms send them. First
# match wins (an SDK's User-Agent may name the language it runs on).
TOOLS = [
    (r"^fbbizsdk-", "Meta Business SDK"), (r"^FBAndroidSDK", "Meta Android SDK"), (r"^FBiOSSDK", "Meta iOS SDK"),
    (r"^pins-sdk/", "Pinterest SDK"), (r"^linkedin-api-", "LinkedIn SDK"), (r"^twitter-ads ", "X Ads SDK"),
    (r"curl/", "curl"), (r"python-httpx|python-requests|aiohttp|urllib", "Python"),
    (r"node-fetch|axios|undici", "Node.js"), (r"Go-http-client", "Go"),
]
# In-app browsers and apps' own HTTP clients: ua-parser names them as the bare app ("Instagram"), as
# the WebView they run in, or not at all. Named after the platform or phone model ua-parser finds.
APPS = [
    (r"Instagram", "Instagram in-app"), (r"FBAN|FBAV|FB_IAB", "Facebook in-app"),
    (r"musical_ly|TikTok|BytedanceWebview", "TikTok in-app"), (r"Pinterest", "Pinterest in-app"),
    (r"LinkedInApp", "LinkedIn in-app"), (r"Twitter", "X in-app"), (r"Snapchat", "Snapchat in-app"),
    (r"okhttp", "Android app OkHttp"), (r"^Dalvik/", "Android app"),
]
_TOOLS = [(re.compile(p), n) for p, n in TOOLS]
_APPS = [(re.compile(p), n) for p, n in APPS]

# ua-parser's names, shortened: the platform before them already says "mobile" or "iOS".
BROWSERS = {
    "Mobile Safari": "Safari", "Chrome Mobile": "Chrome", "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "WebView", "Mobile Safari UI/WKWebView": "WebView", "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox", "Edge Mobile": "Edge", "Opera Mobile": "Opera", "HeadlessChrome": "Headless Chrome",
}
SYSTEMS = {"Mac OS X": "Mac", "Chrome OS": "ChromeOS"}
# Devices that name no model ("K" is Chrome's frozen Android model): the operating system names the platform.
GENERIC_BRANDS = {None, "Generic", "Generic_Android", "Generic_Inettv", "Spider"}
GENERIC_DEVICES = {"Other", "Mac", "iOS-Device"}

# A User-Agent none of the rules name is keyed by its first product token ("Wget/1.21" → "Wget",
# "My%20Shop/5 CFNetwork/1568" → "My Shop"), kept to these characters: it ends up in device names on
# the terminal. So are ua-parser's names, which can quote the User-Agent.
_PRODUCT = re.compile(r"[A-Za-z][\w.-]*(?: [A-Za-z][\w.-]*)*", re.ASCII)
_UNSAFE = re.compile(r"[^A-Za-z0-9 ._,()/+-]")
MAX_PART = 40

# A desktop browser's User-Agent in its standard shape names no device: the system alone in the
# parentheses, and only the engines' and browsers' own tokens after them. It skips ua-parser's
# device rules, which find no device in it (uap-core's test User-Agents and every combination of
# these parts give the same names with and without the skip: tests/test_devices.py,
# benchmarks/uap_device_skip.py). Most HARs come from such a browser, and there the device rules
# are a first name's largest cost: none matches, so every one of them is compiled (≈ 0.06 s).
_DESKTOP_SYSTEMS = (r"Windows NT \d+\.\d+(?:; Win64; x64|; WOW64)?", r"Macintosh; Intel Mac OS X \d+(?:[._]\d+){0,2}",
                    r"X11; (?:Ubuntu; )?Linux x86_64")
_DESKTOP_PRODUCTS = ("AppleWebKit", "Chrome", "HeadlessChrome", "Safari", "Version", "Gecko", "Firefox", "Edg", "OPR")
_NAMES_NO_DEVICE = re.compile(rf"Mozilla/5\.0 \((?:{'|'.join(_DESKTOP_SYSTEMS)})(?:; rv:[\d.]+)?\)"
                              rf"(?: (?:(?:{'|'.join(_DESKTOP_PRODUCTS)})/[\d.]+|\(KHTML, like Gecko\)))+", re.ASCII)


@cache
def _parser() -> ua_parser.Parser:
    """ua-parser's pure-Python resolver over its bundled rules, each rule compiled when a name first
    needs it (a name walks the rules in order up to the one that matches): compiling them all costs
    ≈ 0.1 s, and a HAR of desktop browsers needs a third of that (`compile_rules` compiles all). Not
    its compiled resolver (ua-parser-rs): that one keeps ~26 MiB of automata for the life of the process
    (a third of the proxy's RSS) to name a new User-Agent in ~0.02 ms instead of ~1 ms; a client names
    itself once (Devices keeps its key) and user_agent_family caches, so the 1 ms is paid once per
    client. All the rules compiled hold 1.5 MiB."""
    ua_parser = _ua_parser()
    return ua_parser.Parser(ua_parser.BasicResolver(_rules()))


@cache
def _rules() -> ua_parser.Matchers:
    """ua-parser's rules for browsers, systems and devices, each compiled on first use."""
    return _ua_parser().load_lazy_builtins()


@cache
def _ua_parser() -> ModuleType:
    """ua_parser, imported without PyYAML (unless something imported it before): its loaders import
    PyYAML, half of its import's time (≈ 0.012 s), to read rules from YAML files, and pixelspy reads
    the rules ua-parser-builtins bundles as Python. A None in sys.modules fails `import yaml`, which
    ua-parser takes as PyYAML not installed (an optional dependency of it)."""
    if "yaml" not in sys.modules:
        sys.modules["yaml"] = None  # type: ignore[assignment]
        try:
            import ua_parser
        except ImportError:
            pass  # a later ua-parser that needs PyYAML: imported with it below
        else:
            return ua_parser
        finally:
            if sys.modules.get("yaml", False) is None:
                del sys.modules["yaml"]
    import ua_parser

    return ua_parser


def compile_rules() -> None:
    """Compile every rule now: the live proxy's loop must not stall on a client's first request."""
    for rules in _rules():
        for rule in rules:
            rule.pattern  # noqa: B018 - a cached property: compiled on first access


def _parsed(ua: str, domain: str) -> Any:
    """One domain of ua-parser's answer ("device", "os" or "user_agent"): a name needs one to three of
    them, and each walks its own rules. None when it finds nothing."""
    try:
        return getattr(_parser()(ua, _ua_parser().Domain[domain.upper()]), domain)
    except ValueError:  # a rule whose name quotes a group this User-Agent left empty (garbage input)
        return None


def _safe(text: str | None) -> str:
    return " ".join(_UNSAFE.sub("", text or "").split())[:MAX_PART].strip()


def _platform(ua: str, client: str) -> str:
    """The phone or tablet model ("iPhone", "Pixel 7", "Samsung SM-S918B"; the model alone after a
    browser named after its brand: "SM-S918B Samsung Internet"), else the operating system."""
    device = None if _NAMES_NO_DEVICE.fullmatch(ua) else _parsed(ua, "device")
    if device and device.brand not in GENERIC_BRANDS and device.family not in GENERIC_DEVICES:
        return _safe(device.model if device.model and client.startswith(f"{device.brand} ") else device.family)
    os = _parsed(ua, "os")
    return _safe(SYSTEMS.get(os.family, os.family)) if os else ""


def _client(ua: str) -> str:
    """pixelspy's name of an in-app browser or app client, else ua-parser's browser, else (an app
    that is no browser) its product token."""
    if app := next((n for p, n in _APPS if p.search(ua)), None):
        return app
    if not ua.startswith("Mozilla/"):
        return _product(ua)
    browser = _parsed(ua, "user_agent")
    family = browser.family if browser else "Other"
    return "" if family == "Other" else _safe(BROWSERS.get(family, family))


def user_agent_family(ua: str) -> str:
    """'iPhone Safari', 'Pixel 7 Instagram in-app', 'Windows Firefox', 'curl' …; '' when unknown."""
    return _family(ua[:MAX_UA])


@lru_cache(maxsize=1024)  # a client names itself on every request; the same few strings repeat
def _family(ua: str) -> str:
    if tool := next((n for p, n in _TOOLS if p.search(ua)), None):
        return tool
    if not ua.strip():
        return ""
    client = _client(ua)
    return " ".join(x for x in (_platform(ua, client), client) if x)


def _product(ua: str) -> str:
    m = _PRODUCT.match(unquote(ua[:MAX_UA].strip()))  # apps' names come percent-encoded in CFNetwork's
    return m.group()[:MAX_PART].rstrip() if m else ""


def client_family(ua: str) -> str:
    """What distinguishes two clients at one address: the User-Agent family, else its product token."""
    return user_agent_family(ua) or _product(ua) or "?"


def _device_of(address: str, ua: str) -> tuple[str, str]:
    """(key, name) of the device at `address` whose User-Agent is `ua`."""
    family = client_family(ua)
    return f"{address} {family}".strip().lower(), f"{family} {address}".strip()


class Devices:
    """The devices seen, by key ("127.0.0.1 linux chrome", see `key`), each named "Linux Chrome
    127.0.0.1" or what the user calls it."""

    MAX = 1000
    MAX_KEYS = 10_000  # (address, User-Agent) pairs remembered
    HEADERS = frozenset({"user-agent"})  # what `key` reads of a request (see pixelspy/heads.py)

    def __init__(self) -> None:
        _parser()  # ua-parser imported now, with the session, not on the proxy's first hit
        self._auto: dict[str, str] = {}  # key → name from address and family
        self._given: dict[str, str] = {}
        self.changes = 0  # a device new or renamed: what the session file's writer asks before it reads names
        self._by_address: dict[str, list[str]] = {}  # address → keys of its devices with a User-Agent
        self._keys: dict[tuple[str, str], str] = {}  # (address, User-Agent) → key

    def key(self, hit: RawHit) -> str:
        """The device of a hit: "<address> <family>" lower-cased (the TUI's filters compare lower-cased
        text). A hit without a User-Agent (server SDKs, some beacons) joins its address's only device,
        else it is the address's own. Remembers the device (up to MAX)."""
        address, ua = hit.client, hit.header_map().get("user-agent", "")[:MAX_UA]  # the part that names it, kept
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
        self.changes += 1
        return True

    def rename(self, key: str, name: str) -> None:
        if name.strip():
            self._given[key] = name.strip()
        else:
            self._given.pop(key, None)
        self.changes += 1  # (after: the writer's thread reads the names once it sees the count move)

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
