"""The filter bar's little language: `platform:meta source:server sev:error has:findings purchase`.

Keys may repeat (OR within a key, AND across keys); bare words search event names, pixel IDs and
every parameter value (case-insensitive).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pixelspy.config import CHECK_PLATFORMS
from pixelspy.model import Kind, Severity, Source, TrackingEvent

KEYS = {"platform": "platform", "p": "platform", "source": "source", "s": "source", "device": "device",
        "d": "device", "sev": "severity", "severity": "severity", "has": "has", "pixel": "pixel",
        "code": "code", "kind": "kind"}
# The values a key can take, where they are a closed set (anything else matches nothing: said so).
VALUES = {"platform": CHECK_PLATFORMS, "source": tuple(Source), "severity": tuple(Severity), "kind": tuple(Kind),
          "has": ("findings",)}
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
            name, values = KEYS[key.lower()], {v.lower() for v in value.split("|") if v}
            q.terms.setdefault(name, set()).update(values)
            if unknown := sorted(values - set(VALUES.get(name, values))):
                q.errors.append(f"unknown {key}:{'|'.join(unknown)} ({key}: is one of {', '.join(VALUES[name])})")
        elif sep and key.lower() not in KEYS and not value:
            q.errors.append(f"unknown filter {key}:")
        else:
            q.words.append(token.lower())
    return q


def search_blob(ev: TrackingEvent) -> str:
    """Everything a filter looks at, lower-cased, once per published event: the fields as
    `\x00key=value\x00` tags (so key filters are substring tests in C), then the free text."""
    tags = [f"platform={ev.platform}", f"source={ev.source.value}", f"kind={ev.kind.value}",
            f"pixel={(ev.pixel_id or '').lower()}", f"client={ev.device}"]
    tags += {f"severity={f.severity.value}" for f in ev.findings}
    tags += {f"code={f.code}" for f in ev.findings}
    if ev.findings or ev.decode_errors:
        tags.append("has=findings")
    parts = [ev.event or "", ev.standard_event or "", ev.pixel_id or "", ev.event_id or "", ev.page_url or "",
             ev.endpoint]
    parts += [p.value for p in ev.params]
    parts += [f.message for f in ev.findings]
    return ("\x00" + "\x00".join(tags) + "\x00\n" + "\n".join(parts)).lower()


def _tag(key: str, value: str) -> str:
    return f"\x00{key}={value}\x00"


def compile_query(q: Query, search_text: Callable[[str], str | None],
                  clients_named: Callable[[set[str]], set[str]]) -> Callable[[str], bool] | None:
    """A predicate on event ids for the event list, or None when the query lets everything through.

    `search_text(event_id)` is the event's search_blob (the app keeps them current);
    `clients_named(words)` gives the client addresses whose device name contains one of the words."""
    if not q:
        return None
    groups: list[list[str]] = []  # AND across groups, OR within one
    for key, values in q.terms.items():
        if key == "device":
            groups.append([_tag("client", c) for c in clients_named(values)] or ["\x00no such device\x00"])
        elif key == "has":
            groups.append([_tag("has", v) for v in values])
        else:
            groups.append([_tag(key, v) for v in values])
    groups += [[w] for w in q.words]
    single = [g[0] for g in groups if len(g) == 1]
    alternatives = [g for g in groups if len(g) > 1]

    def matches(event_id: str) -> bool:
        blob = search_text(event_id)
        if blob is None:
            return False
        for needle in single:
            if needle not in blob:
                return False
        for group in alternatives:
            if not any(n in blob for n in group):
                return False
        return True

    return matches


def store_query(q: Query, clients_named: Callable[[set[str]], set[str]]) -> dict | None:
    """The query as arguments of pixelspy.store.queries.filter_seqs, for the events only the session
    file holds (None: it matches none). Words match the start of a word there (a full-text index),
    anywhere in memory."""
    terms = q.terms
    if "has" in terms and "findings" not in terms["has"]:
        return None
    any_of = {key: set(terms[key]) for key in ("platform", "source", "kind") if key in terms}
    if "device" in terms:
        any_of["device"] = clients_named(terms["device"])
    return {"any_of": any_of, "pixels": terms.get("pixel"), "finding_severities": terms.get("severity"),
            "finding_codes": terms.get("code"), "has_findings": "findings" in terms.get("has", ()),
            "words": q.words}
