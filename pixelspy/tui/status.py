"""The two lines at the bottom of the main screen: the status bar, and above it the notice that a
device refused pixelspy's certificate. Both are Text, not markup: file names, hosts, consent sites and
the filter are not ours."""

from __future__ import annotations

from collections import Counter

from rich.text import Text
from textual.widgets import Static

from pixelspy.inert import inert
from pixelspy.model import Severity, TrackingEvent
from pixelspy.proxy import ProxyConfig
from pixelspy.session import Session
from pixelspy.tui import filters
from pixelspy.tui.screens import consent_sites


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class EventIndex:
    """What the app keeps of each event as it is published, so that filtering, the status line and the
    summary stay O(1) per event: its search text, and the error and warning totals, finding codes and
    summary counts of all (those memory let go too)."""

    def __init__(self) -> None:
        self.search_text: dict[str, str] = {}
        self._severity_counts: dict[str, tuple[int, int]] = {}
        self.errors = self.warnings = 0
        self.codes_seen: set[str] = set()  # finding codes of the events so far, for the filter's code:
        self.per_event: Counter[tuple[str, str]] = Counter()  # (platform, title)
        self.per_pixel: Counter[tuple[str, str, str]] = Counter()  # (platform, pixel, source)
        self.per_code: Counter[tuple[str, str]] = Counter()  # (code, severity) of the findings now
        self._codes: dict[str, list[tuple[str, str]]] = {}  # of each event with findings

    def add(self, ev: TrackingEvent) -> None:
        """A new event, or one whose findings changed."""
        if ev.id not in self._severity_counts:
            self.per_event[(ev.platform, ev.title)] += 1
            self.per_pixel[(ev.platform, ev.pixel_id or "-", ev.source.value)] += 1
        codes = [(f.code, f.severity.value) for f in ev.findings]
        self.per_code.subtract(self._codes.pop(ev.id, ()))
        self.per_code.update(codes)
        if codes:
            self._codes[ev.id] = codes
        self.search_text[ev.id] = filters.search_blob(ev)
        counts = (sum(f.severity == Severity.error for f in ev.findings),
                  sum(f.severity == Severity.warning for f in ev.findings))
        old = self._severity_counts.get(ev.id, (0, 0))
        self._severity_counts[ev.id] = counts
        self.codes_seen.update(f.code for f in ev.findings)
        self.errors += counts[0] - old[0]
        self.warnings += counts[1] - old[1]

    def forget_evicted(self, in_memory: dict[str, TrackingEvent]) -> None:
        """Drop the search text of the oldest events once the session let them go (memory stays
        bounded; a filter asks the session file about them)."""
        texts = self.search_text
        while texts and (oldest := next(iter(texts))) not in in_memory:
            del texts[oldest]

    def clear(self) -> None:
        self.search_text.clear()
        self._severity_counts.clear()
        self.errors = self.warnings = 0
        self.codes_seen.clear()
        for counts in (self.per_event, self.per_pixel, self.per_code, self._codes):
            counts.clear()


class StatusBar(Static):
    """Where the events come from (the proxy, or the file), how many, errors and warnings, the latest
    consent states, pause, and the filter with its problems first."""

    def show(self, session: Session, config: ProxyConfig | None, source_title: str | None, listed: int,
             index: EventIndex, paused: bool, query: str) -> None:
        total = len(session) + (session.dropped if session.store is not None else 0)
        parts: list[Text] = []
        if config is not None:
            mode = ",".join(config.modes) or "regular"
            parts.append(Text(f"proxy {config.address} ({mode}{', sink' if config.sink else ''})"))
            if config.listen_host not in ("127.0.0.1", "localhost", "::1"):
                warning = "⚠ reachable from the network" + ("" if config.proxyauth else
                                                             ", no --auth: anyone there can use it")
                parts.append(Text.assemble((warning, "#d99a00"), " · c: connect a phone"))
        elif source_title:
            parts.append(Text(inert(source_title)))
        parts.append(Text(plural(total, "event")))
        if session.dropped and session.store is not None:
            parts.append(Text(f"{session.dropped:,} oldest in the session file only (memory limit)"))
        elif session.dropped:
            parts.append(Text(f"{session.dropped:,} oldest dropped (memory limit)", "#d99a00"))
        if listed != total:
            parts.append(Text(f"{listed} shown"))
        parts.append(Text.assemble((plural(index.errors, "error"), "#e5484d"), " ",
                                   (plural(index.warnings, "warning"), "#d99a00")))
        sites = sorted(consent_sites(session), key=lambda s: s.time)[-2:]
        if sites:
            consent = ", ".join(f"{s.site}: {s.state.value}" for s in reversed(sites))
            parts.append(Text(inert(f"consent {consent}")))
        if paused:
            parts.append(Text(" PAUSED ", "reverse"))
        if query.strip():
            parsed = filters.parse(query)
            parts.append(Text(inert(f"filter: {parsed.describe()}")))
            problems = parsed.errors + [f"no event has code:{c} yet"
                                        for c in sorted(parsed.terms.get("code", set()) - index.codes_seen)]
            # First: a typo shows an empty list, and the line's end may be cut off.
            parts[:0] = [Text(inert(p), "bold #d99a00") for p in problems]
        # (One line always, app.tcss: the screen is not laid out again, 4–15 ms each time.)
        self.update(Text(" · ").join(parts), layout=False)


class CertNotice(Static):
    """Shown once a device refused the certificate, and it stays: the latest device and host, and how
    many more (each device and host counts once: the addon tells each once)."""

    refused = 0

    def add(self, device: str, host: str) -> None:
        more = self.refused
        self.refused += 1
        self.update(Text(inert(
            f"⚠ certificate not trusted by {device} for {host}"
            + (f" (+{more} more)" if more else "")
            + " — open http://mitm.it through the proxy and trust the CA (l: log)")))
        self.display = True
