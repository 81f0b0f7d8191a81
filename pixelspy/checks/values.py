"""Placeholder values: literal `undefined`, `null`, `NaN`, `[object Object]` sent where page code
meant a variable's value. Where the event needs the field (values.toml) that is a warning;
elsewhere (tag templates serialise unset fields on page views) a note.

Code: invalid-value (also the params check's code for malformed values and currencies: value and
currency placeholders are left to it, and a finding of its on the event is kept in the one merged).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from pixelspy.checks.rules import KIND_EVENT, finding, platform, vendor
from pixelspy.model import Finding, Severity, TrackingEvent

CODE = "invalid-value"
_RANK = {Severity.info: 0, Severity.warning: 1, Severity.error: 2}
# The name a parameter has inside its family: cd[content_type], custom_data.content_type,
# properties.content_type → content_type.
_LEAF = re.compile(r"([^\[\].]+)\]?$")


@dataclass(frozen=True, slots=True)
class Need:
    events: frozenset[str]
    fields: frozenset[str]
    severity: Severity
    why: str


@dataclass(frozen=True, slots=True)
class ValueRules:
    placeholders: frozenset[str]
    fragments: tuple[str, ...]
    needed: tuple[Need, ...]


@cache
def value_rules() -> ValueRules:
    data = tomllib.loads(resources.files(__package__).joinpath("values.toml").read_text("utf-8"))
    return ValueRules(
        placeholders=frozenset(data["placeholders"]),
        fragments=tuple(data["fragments"]),
        needed=tuple(Need(frozenset(n["events"]), frozenset(n["fields"]), Severity(n["severity"]), n["why"])
                     for n in data["needed"]),
    )


def is_placeholder(value: str, table: ValueRules) -> bool:
    return value.strip() in table.placeholders or any(f in value for f in table.fragments)


def leaf(name: str) -> str:
    found = _LEAF.search(name)
    return found.group(1) if found else name


@cache
def fields_by_wire(platform_name: str) -> dict[str, str]:
    """The vendor's wire names of event fields (rules.toml), browser and server: eid → event_id."""
    table = platform(platform_name)
    return {wire: name for mapping in (table.fields, table.server_fields) for name, wire in mapping.items()}


def field_of(event: TrackingEvent, name: str) -> str:
    """The field a wire parameter carries: the vendor's own spelling, else its leaf name."""
    return fields_by_wire(event.platform).get(name) or leaf(name)


def need_of(field: str, event: TrackingEvent, table: ValueRules) -> Need | None:
    """The most severe rule that says this event needs the field, if any."""
    standard = event.standard_event or ""
    needs = [n for n in table.needed if field in n.fields and ("*" in n.events or standard in n.events)]
    return max(needs, key=lambda n: _RANK[n.severity], default=None)


class PlaceholderCheck:
    kinds = (KIND_EVENT,)

    def process(self, event: TrackingEvent, ctx) -> None:
        table = value_rules()
        # value and currency are the params check's (its invalid-value / invalid-currency).
        judged = {v for v in (event.value, event.currency) if v is not None}
        found: list[tuple[Severity, str, str, str]] = []  # (severity, wire name, value, why)
        for p in event.params:
            if not is_placeholder(p.value, table):
                continue
            need = need_of(field_of(event, p.name), event, table)
            if need is None and p.value in judged:
                continue  # the value or currency parameter itself (or a note beside its error)
            found.append((need.severity, p.name, p.value, need.why) if need else (Severity.info, p.name, p.value, ""))
        # An ID inside a JSON list (content_ids=["undefined"]) is not a whole parameter value.
        flagged = {field_of(event, name) for _, name, _, _ in found}
        if "content_ids" not in flagged and (cid := next((c for c in event.content_ids if is_placeholder(c, table)),
                                                          None)):
            need = need_of("content_ids", event, table)
            found.append((need.severity, "content ID", cid, need.why) if need else (Severity.info, "content ID", cid, ""))
        if found:
            ctx.emit(event, merged(event, found))


def merged(event: TrackingEvent, found: list[tuple[Severity, str, str, str]]) -> Finding:
    """One invalid-value finding: the placeholders found, most severe first, with another check's
    invalid-value finding on the event kept in it."""
    found.sort(key=lambda f: -_RANK[f[0]])
    severity = found[0][0]
    sent = ", ".join(f"{name}={value[:40]!r}" for _, name, value, _ in found)
    message = f"{vendor(event)} {event.event or 'hit'} sends unfilled placeholder values: {sent}"
    whys = [why for _, _, _, why in found if why]
    hint = ("The page's code passed a variable that was never set (undefined, null, NaN or an object "
            "turned into text); fill it or leave the parameter out."
            + (f" It matters here: {'; '.join(dict.fromkeys(whys))}." if whys else ""))
    for old in event.findings:
        if old.code == CODE and not old.related and "placeholder" not in old.message:
            severity = max(severity, old.severity, key=_RANK.__getitem__)
            message, hint = f"{old.message}; {message}", f"{old.hint} {hint}"
    return finding(CODE, severity, message, hint)


def make_checks(config) -> list:
    return [PlaceholderCheck()]
