"""The checks' vendor facts: rules.toml, validated once, plus small helpers every check shares.

Checks ask this module "what does <platform> call this field", "which ID format does it issue",
"what is its dedup key"; the answers live in rules.toml, not in code.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import field
from functools import cache, lru_cache
from importlib import resources
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict
from pydantic.dataclasses import dataclass

from pixelspy.checks.state import ID, Seen
from pixelspy.model import Finding, Kind, Severity, Source, TrackingEvent

# The enum members every check compares with on every event, read once: on Python 3.11 reading
# `Kind.event` costs as much as a dict lookup and a tuple together.
KIND_EVENT = Kind.event
KIND_PIXEL_LOADED = Kind.pixel_loaded
BROWSER = Source.browser

# Event fields a rule may name; any other name is a wire parameter.
EVENT_FIELDS = frozenset({"value", "currency", "content_ids", "order_id", "event_id", "page_url",
                          "test_event_code"})


# Validated once from rules.toml, then read on every event: frozen slotted dataclasses read like
# plain attributes, where a pydantic model's attribute hook costs several times as much.
_strict = dataclass(config=ConfigDict(extra="forbid"), frozen=True, slots=True, kw_only=True)


@_strict
class Requirement:
    events: list[str]  # canonical standard events; "*" = any event
    platforms: list[str]  # "*" = any platform
    fields: list[str]
    if_present: list[str] = field(default_factory=list)
    # field → values: the rule applies only when every such field holds one of its values
    if_values: dict[str, frozenset[str]] = field(default_factory=dict)
    except_pixels: tuple[str, ...] = ()  # ID prefixes of pixels the rule leaves out
    severity: Severity
    catalog: bool = False  # matters only to a pixel that feeds a product catalog (else info)
    sources: frozenset[Source] = frozenset()  # the event sources it applies to; empty: all
    why: str


@_strict
class PixelIdFormat:
    pattern: str
    describe: str
    sources: list[str]
    app_events: frozenset[str] = frozenset()  # their ID is an app's, not a pixel's: not judged


@_strict
class CookiesOff:
    """First-party cookies are off when an event hit lacks `missing` (the vendor's first-party
    browser ID), unless it carries one of `unless` (e.g. a noscript image, which has no cookies)."""

    missing: str
    unless: list[str] = field(default_factory=list)


@_strict
class OncePerPageLoad:
    """Events the vendor's library sends once per page load, whose hits carry the page load's ID in
    `key`: two with one ID and page URL are the page counted twice, however far apart."""

    key: str
    events: frozenset[str]


@_strict
class DedupKey:
    scope: Literal["pixel", "platform"]
    match_name: bool
    keys: list[str]
    window_h: float
    # What the vendor does to events of different names sharing one ID, where its docs say it harms
    # them (it dedups on the ID alone); event-id-reused is given where this is set, and quotes it
    shared_id: str = ""


@_strict
class Platform:
    name: str
    case_sensitive: bool = True
    event_names: bool = True
    synonyms: bool = True
    standard_events: dict[str, str] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    server_fields: dict[str, str] = field(default_factory=dict)
    endpoint_fields: dict[str, dict[str, str]] = field(default_factory=dict)  # per API version
    contents: list[str] = field(default_factory=list)
    json_params: dict[str, Literal["array", "object", "any"]] = field(default_factory=dict)
    event_data_prefixes: list[str] = field(default_factory=list)
    encoded_by_design: frozenset[str] = frozenset()
    page_text_params: frozenset[str] = frozenset()
    # A hit carrying one of these is counted by the vendor at most once per user or session: a
    # repeat counts nothing, so it is no duplicate-event
    counted_once_with: frozenset[str] = frozenset()
    once_per_page_load: OncePerPageLoad | None = None
    # Loader endpoint → params marking a fetch the vendor's own script made, not the site's base code
    loaded_by_vendor: dict[str, frozenset[str]] = field(default_factory=dict)
    # ID prefixes of the loaders whose events pixelspy decodes; empty: all of them
    loaders_with_decoded_events: tuple[str, ...] = ()
    pixel_id: PixelIdFormat | None = None
    cookies_off: CookiesOff | None = None
    hashed_keys: list[str] = field(default_factory=list)
    test_params: list[str] = field(default_factory=list)
    dedup: DedupKey | None = None

    def wire(self, field: str, event: TrackingEvent | None = None) -> str:
        """How this vendor spells a field on the wire (server side for Conversions API events, in
        the API version of the event's endpoint)."""
        if event is not None and event.source != "browser":
            on_endpoint = self.endpoint_fields.get(event.endpoint, {})
            if field in on_endpoint:
                return on_endpoint[field]
            if field in self.server_fields:
                return self.server_fields[field]
        return self.fields.get(field, field)


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    require: list[Requirement]
    synonyms: dict[str, list[str]]
    currencies: frozenset[str]
    platforms: dict[str, Platform]


@cache
def rules() -> Rules:
    data = tomllib.loads(resources.files(__package__).joinpath("rules.toml").read_text("utf-8"))
    data["currencies"] = frozenset(data["currencies"]["codes"].split())
    return Rules.model_validate(data)


@cache
def platform(name: str) -> Platform:
    """The platform's table; a vendor without one gets an empty table (its name capitalised)."""
    return rules().platforms.get(name) or Platform(name=name.capitalize() if name else "Unknown")


@cache
def pixel_id_re(name: str) -> re.Pattern[str] | None:
    fmt = platform(name).pixel_id
    return re.compile(fmt.pattern) if fmt else None


@lru_cache(maxsize=4096)  # called for every event and request; page URLs repeat
def host_of(url: str) -> str:
    try:
        return (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return ""


# The last event asked about and its derived views: every check reads the same event in a row.
# Holding the event (not its id()) keeps a later event from taking its address while cached.
_params_of: tuple[TrackingEvent | None, dict[str, str]] = (None, {})
_text_of: tuple[TrackingEvent | None, str] = (None, "")


def params(event: TrackingEvent) -> dict[str, str]:
    """The event's parameters by wire name (first wins)."""
    global _params_of
    cached, mapping = _params_of
    if cached is not event:
        ps = event.params
        mapping = {p.name: p.value for p in ps}
        if len(mapping) != len(ps):  # a name repeats: its first value counts
            mapping = {}
            for p in ps:
                mapping.setdefault(p.name, p.value)
        _params_of = (event, mapping)
    return mapping


def values_text(event: TrackingEvent) -> str:
    """Every parameter value in one string, a line each. One substring test over it tells whether
    any value holds a character (an '@', a '%') before a check looks at the values one by one."""
    global _text_of
    cached, text = _text_of
    if cached is not event:
        text = "\n".join([p.value for p in event.params])
        _text_of = (event, text)
    return text


@cache
def wire_names(platform_name: str, name: str) -> tuple[str, ...]:
    """Where a field may be on the wire: the vendor's browser name, its server names, the name itself."""
    table = platform(platform_name)
    per_endpoint = [fields.get(name) for fields in table.endpoint_fields.values()]
    return tuple(dict.fromkeys(w for w in (table.fields.get(name), table.server_fields.get(name), *per_endpoint, name)
                               if w))


def field_value(event: TrackingEvent, name: str) -> str | list[str] | None:
    """A field by its event name (value, content_ids…) or by the vendor's wire name."""
    if name in EVENT_FIELDS:
        return getattr(event, name)
    ps = params(event)
    for wire in wire_names(event.platform, name):
        if wire in ps:
            return ps[wire]
    return None


def event_name(event: TrackingEvent) -> str:
    return event.standard_event or event.event or "(no event name)"


def vendor(event: TrackingEvent) -> str:
    side = " CAPI" if event.source == "server" else ""
    return platform(event.platform).name + side


def finding(code: str, severity: Severity | str, message: str, hint: str = "",
            related: list[str] | None = None, pending: bool = False) -> Finding:
    if not isinstance(severity, Severity):  # Severity(member) works too, but costs a microsecond
        severity = Severity(severity)
    return Finding(code=code, severity=severity, message=message, hint=hint,
                   related=sorted(related) if related else [], pending=pending)


def mark_group(ctx, members: list[Seen], code: str, severity: Severity, message: str, hint: str) -> None:
    """Give every member of a group (the copies of one event, say; each event in it once) the
    finding, related to the other members."""
    ids = sorted([e[ID] for e in members])
    for member in members:
        others = ids.copy()
        others.remove(member[ID])  # still sorted
        if (event := ctx.event(member)) is not None:
            ctx.replace(event, Finding(code, severity, message, hint, others))


def seconds(s: float) -> str:
    return f"{s:g} s"
