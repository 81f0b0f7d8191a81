"""The checks' vendor facts: rules.toml, validated once, plus small helpers every check shares.

Checks ask this module "what does <platform> call this field", "which ID format does it issue",
"what is its dedup key"; the answers live in rules.toml, not in code.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict

from pixelspy.model import Finding, Severity, TrackingEvent

# Event fields a rule may name; any other name is a wire parameter.
EVENT_FIELDS = frozenset({"value", "currency", "content_ids", "order_id", "event_id", "page_url",
                          "test_event_code"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Requirement(_Strict):
    events: list[str]  # canonical standard events; "*" = any event
    platforms: list[str]  # "*" = any platform
    fields: list[str]
    if_present: list[str] = []
    severity: Severity
    why: str


class PixelIdFormat(_Strict):
    pattern: str
    describe: str
    sources: list[str]


class CookiesOff(_Strict):
    """First-party cookies are off when an event hit lacks `missing` (the vendor's first-party
    browser ID), unless it carries one of `unless` (e.g. a noscript image, which has no cookies)."""

    missing: str
    unless: list[str] = []


class DedupKey(_Strict):
    scope: Literal["pixel", "platform"]
    match_name: bool
    keys: list[str]
    window_h: float


class Platform(_Strict):
    name: str
    case_sensitive: bool = True
    event_names: bool = True
    synonyms: bool = True
    standard_events: dict[str, str] = {}
    fields: dict[str, str] = {}
    server_fields: dict[str, str] = {}
    contents: list[str] = []
    json_params: dict[str, Literal["array", "object", "any"]] = {}
    event_data_prefixes: list[str] = []
    pixel_id: PixelIdFormat | None = None
    cookies_off: CookiesOff | None = None
    hashed_keys: list[str] = []
    test_params: list[str] = []
    dedup: DedupKey | None = None

    def wire(self, field: str, event: TrackingEvent | None = None) -> str:
        """How this vendor spells a field on the wire (server side for Conversions API events)."""
        if event is not None and event.source != "browser" and field in self.server_fields:
            return self.server_fields[field]
        return self.fields.get(field, field)


class Rules(_Strict):
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


_param_cache: tuple[int, str, dict[str, str]] = (0, "", {})


def params(event: TrackingEvent) -> dict[str, str]:
    """The event's parameters by wire name (first wins). Every check reads the same event in a
    row, so one cached map serves them all."""
    global _param_cache
    key, eid, mapping = _param_cache
    if key != id(event) or eid != event.id:
        mapping = {}
        for p in event.params:
            mapping.setdefault(p.name, p.value)
        _param_cache = (id(event), event.id, mapping)
    return mapping


def field_value(event: TrackingEvent, name: str) -> str | list[str] | None:
    """A field by its event name (value, content_ids…) or by the vendor's wire name."""
    if name in EVENT_FIELDS:
        return getattr(event, name)
    table = platform(event.platform)
    ps = params(event)
    for wire in (table.fields.get(name), table.server_fields.get(name), name):
        if wire and wire in ps:
            return ps[wire]
    return None


def event_name(event: TrackingEvent) -> str:
    return event.standard_event or event.event or "(no event name)"


def vendor(event: TrackingEvent) -> str:
    side = " CAPI" if event.source == "server" else ""
    return platform(event.platform).name + side


def finding(code: str, severity: Severity | str, message: str, hint: str = "",
            related: list[str] | None = None, pending: bool = False) -> Finding:
    return Finding(code=code, severity=Severity(severity), message=message, hint=hint,
                   related=sorted(related or []), pending=pending)


def replace_finding(ctx, event: TrackingEvent, new: Finding) -> None:
    """Set the event's one finding of this code (a group that grew gets a new `related` list)."""
    if any(old.code == new.code and old != new for old in event.findings):
        ctx.retract(event, new.code)
    ctx.emit(event, new)


def seconds(s: float) -> str:
    return f"{s:g} s"
