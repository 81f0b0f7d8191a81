"""Missing and malformed parameters: required fields per vendor and standard event (rules.toml),
numbers, currencies, content IDs, JSON parameters, misspelt or custom-instead-of-standard event names.

Codes: missing-param, invalid-value, invalid-currency, invalid-json, nonstandard-event.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from pixelspy.checks.rules import (EVENT_FIELDS, KIND_EVENT, Platform, Requirement, event_name, field_value, finding,
                                   params, platform, rules, vendor)
from pixelspy.config import Config
from pixelspy.model import Severity, TrackingEvent
from pixelspy.memo import memo

_RANK = {Severity.info: 0, Severity.warning: 1, Severity.error: 2}
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_CURRENCY_SIGNS = re.compile(r"[$€£¥₹₽₩₺₪₫฿₴₦]|^[A-Za-z]{3}\s|\s[A-Za-z]{3}$|^[A-Za-z]{1,3}\$")
_UNSET = frozenset({"undefined", "null", "nan", "none", "true", "false"})


def value_problem(value: str) -> str | None:
    """Why a value is not a decimal number ≥ 0 as the vendors require, or None when it is fine."""
    v = value.strip()
    if _NUMBER.match(v):
        return "is negative" if v.startswith("-") else None
    if v.lower() in _UNSET:
        return f"is {v!r}, a variable that was never filled in"
    if _CURRENCY_SIGNS.search(v):
        return "contains a currency symbol or code"
    if "," in v or re.search(r"\d[ '\u00a0\u202f]\d{3}", v):
        return "has a thousands separator or a decimal comma"
    return "is not a number"


def normalised_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _one_edit_apart(a: str, b: str) -> bool:
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    # substitution (same length) or insertion into the shorter one
    return a[i + 1:] == b[i + 1:] if len(a) == len(b) else a[i:] == b[i + 1:]


@lru_cache(maxsize=4096)
def standard_lookalike(platform_name: str, name: str) -> tuple[str, str] | None:
    """(standard wire name, kind) when a custom event name stands for a standard event:
    kind "spelling" (wrong case, separators, one typo) or "synonym" (a custom name with a standard twin)."""
    table = platform(platform_name)
    wire_by_norm: dict[str, str] = {}
    for wire in table.standard_events:
        wire_by_norm.setdefault(normalised_name(wire), wire)
    norm = normalised_name(name)
    if norm in wire_by_norm:
        return wire_by_norm[norm], "spelling"
    if len(norm) >= 6:
        for n, wire in wire_by_norm.items():
            if _one_edit_apart(norm, n):
                return wire, "spelling"
    if table.synonyms:
        wire_by_canonical = {canon: wire for wire, canon in reversed(table.standard_events.items())}
        for canonical, names in rules().synonyms.items():
            if norm in names and canonical in wire_by_canonical:
                return wire_by_canonical[canonical], "synonym"
    return None


@memo(maxsize=1024)  # product lists repeat from hit to hit
def json_is(kind: str, text: str) -> bool:
    """Whether text is JSON of the kind: "array", "object" or "any"."""
    expected = {"array": list, "object": dict}.get(kind)
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return expected is None or isinstance(parsed, expected)


def is_present(event: TrackingEvent, table: Platform, field: str) -> bool:
    """Whether the event carries the field (content IDs also count when sent as contents)."""
    if field == "content_ids":
        if event.content_ids:
            return True
        ps = params(event)
        return any(ps.get(c, "") not in ("", "[]") for c in table.contents)
    v = getattr(event, field) if field in EVENT_FIELDS else field_value(event, field)
    return bool(v) and not v.isspace()  # every other field is a string or None


def _need(missing: dict[str, tuple[Severity, str]], wire: str, severity: Severity, why: str) -> None:
    """Note a missing field; of several reasons for one field the most severe counts."""
    old = missing.get(wire)
    if old is None or _RANK[severity] > _RANK[old[0]]:
        missing[wire] = (severity, why)


class ParamsCheck:
    kinds = (KIND_EVENT,)

    def __init__(self, config: Config):
        self.extra = config.checks.required_params
        self.catalog = config.checks.catalog
        self.currencies = rules().currencies
        index: dict[tuple[str, str], list[Requirement]] = {}
        for req in rules().require:
            for p in req.platforms:
                for e in req.events:
                    index.setdefault((p, e), []).append(req)
        self._index = index
        self._by_event: dict[tuple[str, str | None], tuple[list[Requirement], tuple[str, ...]]] = {}

    def _plan(self, platform_name: str, standard: str | None) -> tuple[list[Requirement], tuple[str, ...]]:
        """The requirements for this platform and standard event, and every field they ask about."""
        key = (platform_name, standard)
        if (plan := self._by_event.get(key)) is None:
            reqs = list(self._index.get(("*", "*"), ())) + list(self._index.get((platform_name, "*"), ()))
            if standard:
                reqs += self._index.get(("*", standard), ())
                reqs += self._index.get((platform_name, standard), ())
            fields = tuple(dict.fromkeys(f for req in reqs for f in (*req.if_present, *req.fields)))
            plan = (reqs, fields)
            if len(self._by_event) < 10_000:  # platform × event names seen; custom names are many
                self._by_event[key] = plan
        return plan

    def process(self, event: TrackingEvent, ctx) -> None:
        table = platform(event.platform)
        problems: dict[str, list[tuple[Severity, str, str]]] = {}

        def add(code: str, severity: Severity, message: str, hint: str) -> None:
            problems.setdefault(code, []).append((severity, message, hint))

        self._event_name(event, table, add)
        self._required(event, table, add)
        self._values(event, table, add)
        if table.json_params:
            self._json(event, table, add)
        for code, found in problems.items():
            severity = max((s for s, _, _ in found), key=_RANK.__getitem__)
            message = "; ".join(m for _, m, _ in found)
            hint = " ".join(dict.fromkeys(h for _, _, h in found if h))
            ctx.emit(event, finding(code, severity, message, hint))

    def _event_name(self, event: TrackingEvent, table: Platform, add) -> None:
        if not table.event_names or not table.standard_events:
            return
        name = event.event
        if not name:
            add("missing-param", Severity.error, f"{vendor(event)} hit without an event name "
                f"({table.wire('event', event)})", "Every hit needs an event name; check the tag's track call.")
            return
        if event.standard_event or name in table.standard_events:
            return
        if not table.case_sensitive and name.lower() in table.standard_events:
            return
        look = standard_lookalike(event.platform, name)
        if look is None:
            return
        wire, kind = look
        if kind == "spelling":
            add("nonstandard-event", Severity.warning,
                f"{vendor(event)} event {name!r} looks like the standard event {wire} misspelt",
                f"Spell it exactly {wire}; {table.name} counts {name!r} as a custom event, so it does not "
                f"optimise or report as {wire}.")
        else:
            add("nonstandard-event", Severity.info,
                f"{vendor(event)} custom event {name!r} where the standard event {wire} exists",
                f"Use {wire}: standard events get {table.name}'s optimisation and reporting without a "
                f"custom conversion.")

    def _required(self, event: TrackingEvent, table: Platform, add) -> None:
        reqs, fields = self._plan(event.platform, event.standard_event)
        present = {f for f in fields if is_present(event, table, f)}
        missing: dict[str, tuple[Severity, str]] = {}
        for req in reqs:
            if not present.issuperset(req.if_present):
                continue
            if req.except_pixels and (event.pixel_id or "").startswith(req.except_pixels):
                continue
            if req.sources and event.source not in req.sources:
                continue
            if req.if_values and not all(field_value(event, f) in values for f, values in req.if_values.items()):
                continue
            severity = req.severity if not req.catalog or self._feeds_catalog(event) else Severity.info
            for f in req.fields:
                if f not in present:
                    _need(missing, table.wire(f, event), severity, req.why)
        if self.extra:
            for name in self._extra_fields(event):
                if not is_present(event, table, name):
                    _need(missing, table.wire(name, event), Severity.warning,
                          "required by the checks.required_params table in pixelspy.toml")
        if not missing:
            return
        # One finding of one severity: a missing currency (error) is never merged with, nor
        # outranked by, a note about content IDs; the lesser fields are left out of it.
        severity = max((s for s, _ in missing.values()), key=_RANK.__getitem__)
        missing = {wire: m for wire, m in missing.items() if m[0] == severity}
        wires = ", ".join(missing)
        hint = "; ".join(dict.fromkeys(why for _, why in missing.values()))
        add("missing-param", severity, f"{vendor(event)} {event_name(event)} without {wires}",
            hint[:1].upper() + hint[1:] + ".")

    def _feeds_catalog(self, event: TrackingEvent) -> bool:
        pixels = self.catalog.get(event.platform, ())
        return "*" in pixels or event.pixel_id in pixels

    def _extra_fields(self, event: TrackingEvent) -> list[str]:
        per_event = self.extra.get(event.platform)
        if not per_event:
            return []
        out: list[str] = []
        for name in (event.event, event.standard_event):
            if name and name in per_event:
                out += per_event[name]
        return list(dict.fromkeys(out))

    def _values(self, event: TrackingEvent, table: Platform, add) -> None:
        value, currency = event.value, event.currency
        if value is not None:
            if not value.strip():
                add("invalid-value", Severity.warning, f"{vendor(event)} {table.wire('value', event)} is empty",
                    "Send the value as a number, or leave the parameter out.")
            elif problem := value_problem(value):
                add("invalid-value", Severity.error,
                    f"{vendor(event)} {table.wire('value', event)} {value!r} {problem}",
                    "Send a plain decimal number ≥ 0 with a dot (12.50): no currency symbol, code or "
                    "thousands separator.")
        if currency is not None and currency.strip().upper() not in self.currencies:
            add("invalid-currency", Severity.error,
                f"{vendor(event)} {table.wire('currency', event)} {currency!r} is not an ISO 4217 code",
                "Send a three-letter ISO 4217 code such as USD or EUR.")
        ids = event.content_ids
        if ids:
            empty = "" in map(str.strip, ids)  # an ID that is blank
        else:  # the decoder found no IDs: an empty list on the wire is a mistake, no parameter is not
            raw_ids = params(event).get(table.wire("content_ids", event))
            empty = raw_ids is not None and raw_ids.replace(" ", "") in ("", "[]", '[""]')
        if empty:  # content IDs matter only to a catalog: a note unless the pixel feeds one
            add("invalid-value", Severity.warning if self._feeds_catalog(event) else Severity.info,
                f"{vendor(event)} {table.wire('content_ids', event)} is empty or holds an empty ID",
                "Fill content IDs with the catalog's product IDs (the variable may be unset on this page).")

    def _json(self, event: TrackingEvent, table: Platform, add) -> None:
        ps = params(event)
        for name, kind in table.json_params.items():
            raw = ps.get(name)
            if raw is None or not raw.strip():
                continue
            text = raw.strip()
            if kind == "any" and not text.startswith(("[", "{")):
                continue
            if not json_is(kind, text):
                what = {"array": "a JSON array", "object": "a JSON object"}.get(kind, "valid JSON")
                add("invalid-json", Severity.error, f"{vendor(event)} {name} is not {what}",
                    f"{table.name} drops {name} it cannot parse; serialise it with JSON.stringify, "
                    f"once.")


def make_checks(config: Config) -> list:
    return [ParamsCheck(config)]
