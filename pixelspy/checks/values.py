"""Placeholder values: literal `undefined`, `null`, `NaN`, `[object Object]` sent where page code
meant a variable's value, a tag's macro never filled in (`ord=[OrderID]`), and hashed user data
that is the hash of such a placeholder (`ud[ph]` = sha256("undefined")). Where the event needs the
field (values.toml) that is a warning, as is every hashed one (matching on it is lost); elsewhere
(tag templates serialise unset fields on page views) a note.

Code: invalid-value (also the params check's code for malformed values and currencies: value and
currency placeholders are left to it, and a finding of its on the event is kept in the one merged;
a placeholder pixel ID is left to invalid-pixel-id).
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import NamedTuple

from pixelspy.checks.pixels import well_formed
from pixelspy.checks.rules import KIND_EVENT, KIND_PIXEL_LOADED, finding, platform, values_text, vendor
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
    macro: re.Pattern[str]
    hashed: dict[str, str]  # hex digest → what it is the hash of, e.g. 'the SHA-256 hash of "undefined"'
    hashed_why: str
    needed: tuple[Need, ...]
    # Found in any text holding a placeholder (the placeholders, fragments and macros anywhere in
    # it): one search of all an event's values together turns almost every event away.
    anywhere: re.Pattern[str]


@cache
def value_rules() -> ValueRules:
    data = tomllib.loads(resources.files(__package__).joinpath("values.toml").read_text("utf-8"))
    macro = "|".join(f"(?:{m})" for m in data["macros"])
    hashed = {}
    for h in data["hashed"]:
        for algorithm, label in (("sha256", "SHA-256"), ("md5", "MD5")):
            hashed[h[algorithm]] = f'the {label} hash of "{h["text"]}"'
    return ValueRules(
        placeholders=frozenset(data["placeholders"]),
        fragments=tuple(data["fragments"]),
        macro=re.compile(macro),
        hashed=hashed,
        hashed_why=data["hashed_why"],
        needed=tuple(Need(frozenset(n["events"]), frozenset(n["fields"]), Severity(n["severity"]), n["why"])
                     for n in data["needed"]),
        anywhere=re.compile("|".join([*(re.escape(p) for p in (*data["placeholders"], *data["fragments"])), macro])),
    )


def is_placeholder(value: str, table: ValueRules) -> bool:
    text = value.strip()
    return text in table.placeholders or any(f in value for f in table.fragments) or is_macro(text, table)


def is_macro(text: str, table: ValueRules) -> bool:
    """A whole value that is one unfilled macro token; JSON ([true], {"a":1}) is data, not a macro."""
    if not table.macro.fullmatch(text):
        return False
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


def hashed_placeholder(value: str, table: ValueRules) -> str | None:
    """What a hashed user-data value is the hash of, when that is a placeholder (a list's first such)."""
    low = value.lower()
    if "," not in low:  # one value (most): nothing to split
        return table.hashed.get(low.strip())
    return next((table.hashed[p] for p in map(str.strip, low.split(",")) if p in table.hashed), None)


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
    """The most severe rule that says this event needs the field, if any. An event that names no
    standard event but whose decoder read an order from it (a Floodlight sales tag) is a Purchase."""
    standard = event.standard_event or ("Purchase" if event.order_id is not None else "")
    needs = [n for n in table.needed if field in n.fields and ("*" in n.events or standard in n.events)]
    return max(needs, key=lambda n: _RANK[n.severity], default=None)


class Found(NamedTuple):
    severity: Severity
    name: str  # wire name (or "content ID")
    shown: str  # how the message shows it: cd[content_type]='undefined', ud[ph] = the SHA-256 hash of "undefined"
    why: str  # why the event needs it ("" where it does not)


def sent(name: str, value: str, need: Need | None) -> Found:
    shown = f"{name}={value[:40]!r}"
    return Found(need.severity, name, shown, need.why) if need else Found(Severity.info, name, shown, "")


class PlaceholderCheck:
    kinds = (KIND_EVENT, KIND_PIXEL_LOADED)  # a tag's init carries user data too (Pinterest em)

    def process(self, event: TrackingEvent, ctx) -> None:
        table = value_rules()
        found: list[Found] = []
        if table.anywhere.search(values_text(event)):  # (most events hold no placeholder anywhere)
            self._params(event, table, found)
        # An ID inside a JSON list (content_ids=["undefined"]) is not a whole parameter value.
        ids = event.content_ids
        if (ids and table.anywhere.search("\n".join(ids))  # (one search: an ID that is a placeholder holds a match)
                and "content_ids" not in {field_of(event, f.name) for f in found}
                and (cid := next((c for c in ids if is_placeholder(c, table)), None))):
            found.append(sent("content ID", cid, need_of("content_ids", event, table)))
        for u in event.user_data:
            if what := hashed_placeholder(u.value, table):
                found.append(Found(Severity.warning, u.name, f"{u.name} = {what}", table.hashed_why))
        if found:
            ctx.emit(event, merged(event, found))

    @staticmethod
    def _params(event: TrackingEvent, table: ValueRules, found: list[Found]) -> None:
        """The parameters whose whole value is a placeholder."""
        # value and currency are the params check's (its invalid-value / invalid-currency), a malformed
        # pixel ID (id=null) the pixel check's (its invalid-pixel-id): one finding each, not two.
        judged = {v for v in (event.value, event.currency) if v is not None}
        pixel = event.pixel_id if event.pixel_id and not well_formed(event.platform, event.source,
                                                                      event.pixel_id) else None
        for p in event.params:
            if not is_placeholder(p.value, table):
                continue
            if p.value == pixel:  # the parameter the decoder read the pixel ID from (another may say null too)
                pixel = None
                continue
            need = need_of(field_of(event, p.name), event, table)
            if need is None and p.value in judged:
                continue  # the value or currency parameter itself (or a note beside its error)
            found.append(sent(p.name, p.value, need))


def merged(event: TrackingEvent, found: list[Found]) -> Finding:
    """One invalid-value finding: the placeholders found, most severe first, with another check's
    invalid-value finding on the event kept in it."""
    found.sort(key=lambda f: -_RANK[f.severity])
    severity = found[0].severity
    message = (f"{vendor(event)} {event.event or 'hit'} sends unfilled placeholder values: "
               + ", ".join(f.shown for f in found))
    whys = [f.why for f in found if f.why]
    hint = ("The page's code passed a variable that was never set (undefined, null, NaN or an object "
            "turned into text, a macro never replaced, or the hash of one); fill it or leave the parameter out."
            + (f" It matters here: {'; '.join(dict.fromkeys(whys))}." if whys else ""))
    for old in event.findings:
        if old.code == CODE and not old.related and "placeholder" not in old.message:
            severity = max(severity, old.severity, key=_RANK.__getitem__)
            message, hint = f"{old.message}; {message}", f"{old.hint} {hint}"
    return finding(CODE, severity, message, hint)


def make_checks(config) -> list:
    return [PlaceholderCheck()]
