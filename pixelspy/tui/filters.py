"""The filter bar's little language: `platform:meta source:server sev:error has:findings purchase`.

Keys may repeat (OR within a key, AND across keys); bare words search event names, pixel IDs and
every parameter value (case-insensitive).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pixelspy.model import Severity, TrackingEvent

KEYS = {"platform": "platform", "p": "platform", "source": "source", "s": "source", "device": "device",
        "d": "device", "sev": "severity", "severity": "severity", "has": "has", "pixel": "pixel",
        "code": "code", "kind": "kind"}
HELP = ("platform:meta source:server device:NAME sev:error|warning has:findings pixel:ID code:CODE "
        "kind:pixel_loaded, plus words to search")


@dataclass
class Query:
    terms: dict[str, set[str]] = field(default_factory=dict)
    words: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.terms or self.words)

    def describe(self) -> str:
        parts = [f"{k}:{'|'.join(sorted(v))}" for k, v in self.terms.items()]
        parts += [f'"{w}"' for w in self.words]
        return " ".join(parts)


def parse(text: str) -> Query:
    q = Query()
    for token in text.split():
        key, sep, value = token.partition(":")
        if sep and key.lower() in KEYS and value:
            q.terms.setdefault(KEYS[key.lower()], set()).update(v.lower() for v in value.split("|"))
        elif sep and key.lower() not in KEYS and not value:
            q.errors.append(f"unknown filter {key}:")
        else:
            q.words.append(token.lower())
    return q


def search_blob(ev: TrackingEvent) -> str:
    """Everything free-text search looks at, lower-cased once per event."""
    parts = [ev.event or "", ev.standard_event or "", ev.pixel_id or "", ev.event_id or "", ev.page_url or "",
             ev.platform, ev.endpoint]
    parts += [p.value for p in ev.params]
    parts += [f.code + " " + f.message for f in ev.findings]
    return "\n".join(parts).lower()


def compile_query(q: Query, device_name: Callable[[str], str],
                  search_text: Callable[[TrackingEvent], str] = search_blob
                  ) -> Callable[[TrackingEvent], bool] | None:
    """A predicate for the event list, or None when the query lets everything through.
    `search_text` gives an event's lower-cased search text (the app keeps them precomputed)."""
    if not q:
        return None
    t = q.terms

    def matches(ev: TrackingEvent) -> bool:
        if "platform" in t and ev.platform not in t["platform"]:
            return False
        if "source" in t and ev.source.value not in t["source"]:
            return False
        if "kind" in t and ev.kind.value not in t["kind"]:
            return False
        if "pixel" in t and (ev.pixel_id or "").lower() not in t["pixel"]:
            return False
        if "device" in t:
            name = device_name(ev.client).lower()
            if not any(d in name or d == ev.client for d in t["device"]):
                return False
        if "severity" in t:
            wanted = {Severity(s) for s in t["severity"] if s in Severity.__members__}
            if not any(f.severity in wanted for f in ev.findings):
                return False
        if "has" in t and "findings" in t["has"] and not (ev.findings or ev.decode_errors):
            return False
        if "code" in t and not any(f.code in t["code"] for f in ev.findings):
            return False
        if q.words:
            blob = search_text(ev)
            return all(w in blob for w in q.words)
        return True

    return matches
