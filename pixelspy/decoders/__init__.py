"""Decoder registry: routes a raw hit to its vendor decoder by host (O(1)) and path.

Each vendor module in this package exposes `ROUTES: list[Route]`; they are discovered, so a new
vendor is one new file. Decoders never import mitmproxy or Textual.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache

from pixelspy.model import RawHit, TrackingEvent, split_url

DecodeFn = Callable[[RawHit, "re.Match[str]"], list[TrackingEvent]]


@dataclass(frozen=True)
class Route:
    platform: str
    hosts: tuple[str, ...]  # exact hosts; () = any host (path-only routes such as GA4's /g/collect)
    path: str  # regex matched (fullmatch) against the URL path
    decode: DecodeFn
    # Answered locally in sink mode. Loaders pass through: the page needs the script to run.
    sink: bool = True
    # The vendor's JSON success answer, sent in sink mode to POSTs: server SDKs parse it (an empty 204
    # makes facebook-business, the Pinterest and LinkedIn SDKs raise).
    sink_json: str = ""
    # Where host and path alone do not make a request tracking (GA4's /g/collect on any host, the
    # Graph API's batch endpoint): whether this request carries the vendor's signature. One without
    # it is someone else's traffic: not decoded, not answered in sink mode.
    signature: Callable[[RawHit], bool] | None = None
    # Texts one of which every matching path contains: path-only routes are tried on every request,
    # and one search for their needles turns almost all requests away before any regex runs.
    needles: tuple[str, ...] = ()
    _re: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_re", re.compile(self.path))

    def match(self, path: str) -> re.Match[str] | None:
        return self._re.fullmatch(path)

    def recognises(self, hit: RawHit) -> bool:
        """The request is this vendor's (its signature is there, where the route asks for one)."""
        return self.signature is None or self.signature(hit)

    def sinks(self, hit: RawHit) -> bool:
        """Sink mode answers this request locally instead of sending it to the vendor."""
        return self.sink and self.recognises(hit)


class Registry:
    def __init__(self, routes: Iterable[Route]):
        self._by_host: dict[str, list[Route]] = defaultdict(list)
        self._any_host: list[Route] = []
        for r in routes:
            if r.hosts:
                for h in r.hosts:
                    self._by_host[h].append(r)
            else:
                self._any_host.append(r)
        # One search for every path-only route's needles: most requests are done after it.
        needles = [n for r in self._any_host for n in r.needles] if all(r.needles for r in self._any_host) else []
        self._any_needle = re.compile("|".join(map(re.escape, needles))) if needles else None

    def find(self, host: str, path: str) -> tuple[Route, re.Match[str]] | None:
        for r in self._by_host.get(host, ()):
            if m := r._re.fullmatch(path):  # (Route.match, without its call: every request)
                return r, m
        if self._any_needle is not None and not self._any_needle.search(path):
            return None
        for r in self._any_host:
            if m := r._re.fullmatch(path):
                return r, m
        return None

    def find_url(self, url: str) -> tuple[Route, re.Match[str]] | None:
        """find() for a whole URL, read as RawHit reads it (so a Host sent in capitals matches too)."""
        host, path, _ = split_url(url)
        return self.find(host, path)

    def decode(self, hit: RawHit) -> list[TrackingEvent]:
        """Events of one hit ([] for non-tracking traffic). Never raises: a decoder crash
        becomes one event carrying the error, so no hit is lost."""
        host, path, _ = hit.url_parts
        found = self.find(host, path)
        if found is None:
            return []
        route, m = found
        try:
            if route.signature is not None and not route.signature(hit):  # (Route.recognises, inlined)
                return []
            events = route.decode(hit, m)
        except Exception as e:  # noqa: BLE001 - a decoder bug must not cost the user the event
            events = [TrackingEvent.decoded(platform=route.platform,
                                    decode_errors=[f"decoder error: {type(e).__name__}: {e}"])]
        if events:
            hit_id, time, client = hit.id, hit.time, hit.client
            referer = hit.header("referer") or hit.header("origin")
            for ev in events:
                ev.hit_id = hit_id
                ev.time = time
                ev.client = client
                ev.referer = referer
        return events


def vendor_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "wire")


@cache
def default_registry() -> Registry:
    routes: list[Route] = []
    for name in vendor_modules():
        routes += importlib.import_module(f"{__name__}.{name}").ROUTES
    return Registry(routes)


def decode(hit: RawHit) -> list[TrackingEvent]:
    return default_registry().decode(hit)
