"""Parameter labelling: a vendor's table of wire names, user-data keys, secrets masked, event names
matched loosely."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, TypeVar

from pixelspy.model import Param, UserField, looks_hashed

from .json_values import compact

# Params repeat from hit to hit (pixel ID, version, screen size, page URL): a table hands out one
# shared (immutable) Param per short (name, value) instead of a new one per hit — less work, less
# memory, fewer objects for the garbage collector. Bounded: a hostile client can invent unboundedly
# many names and values, so the memory is emptied when full. What repeats is a few dozen params a
# vendor; nearly all the rest comes once (order and event IDs, page URLs) and only fills the table:
# 1,024 decode as fast as 8,192 did and hold an eighth (at 8,192 the tables held ≈ 0.45 KiB per
# event over 30,000 hits; without a table decoding is ≈ 20 % slower; benchmarks/RESULTS.md, session 14).
_MAX_SHARED_PARAMS = 1024
_MAX_SHARED_VALUE_LEN = 256
T = TypeVar("T")


def _shared_from_now(table: dict[tuple, T], key: tuple, item: T, text: str) -> T:
    """`item`, kept in `table` for the hits to come when its value `text` is short (the table
    emptied when full)."""
    if len(text) <= _MAX_SHARED_VALUE_LEN:
        if len(table) >= _MAX_SHARED_PARAMS:
            table.clear()
        table[key] = item
    return item


class Labels:
    """A vendor's parameter table: wire name → (label, group), plus bracket/dotted families.

    `families` maps a prefix such as "cd" (for `cd[value]`) or "properties." to (group, label
    prefix); a member without its own entry gets "<label prefix><key>" in that group.
    """

    def __init__(self, keys: Mapping[str, tuple[str, str]],
                 families: Mapping[str, tuple[str, str]] = {}, default_group: str = "Other"):
        self.keys = dict(keys)
        self.families = dict(families)
        self.default_group = default_group
        self._shared: dict[tuple[str, str], Param] = {}

    def param(self, name: str, value: Any) -> Param:
        text = value if type(value) is str else compact(value)
        key = (name, text)
        shared = self._shared.get(key)
        if shared is not None:
            return shared
        return _shared_from_now(self._shared, key, Param(name, text, *self._label_and_group(name)), text)

    def _label_and_group(self, name: str) -> tuple[str, str]:
        if name in self.keys:
            return self.keys[name]
        family, member = split_family(name)
        if family is not None:
            for prefix in (family, family + "."):
                if prefix in self.families:
                    group, label_prefix = self.families[prefix]
                    return f"{label_prefix}{member}", group
        return name, self.default_group

    def params(self, pairs: Iterable[tuple[str, Any]]) -> list[Param]:
        # A (name, str) pair is its own table key; other JSON values are looked up as text (param).
        shared, param = self._shared.get, self.param
        return [(type(pair[1]) is str and shared(pair)) or param(*pair) for pair in pairs]


_BRACKET = re.compile(r"^([^\[\].]+)\[([^\]]*)\]")


def split_family(name: str) -> tuple[str | None, str]:
    """'cd[value]' → ('cd', 'value'); 'properties.value' → ('properties', 'value')."""
    m = _BRACKET.match(name)
    if m:
        return m.group(1), m.group(2) + name[m.end():]
    head, dot, rest = name.partition(".")
    if dot:
        return head, rest
    return None, name


# Normalised user-data keys, from the many wire spellings the vendors use.
USER_KEYS = {
    "em": "em", "email": "em", "hashed_email": "em", "sha256_email": "em", "email_address": "em",
    "hem": "em", "u_hem": "em",
    "ph": "ph", "phone": "ph", "phone_number": "ph", "hashed_phone_number": "ph", "u_hpn": "ph",
    "fn": "fn", "first_name": "fn", "firstname": "fn", "ln": "ln", "last_name": "ln", "lastname": "ln",
    "ge": "ge", "gender": "ge", "db": "db", "date_of_birth": "db", "ct": "ct", "city": "ct",
    "st": "st", "state": "st", "zp": "zp", "zip": "zp", "country": "country",
    "external_id": "external_id", "uid": "external_id",
}
# Keys that identify a device/click and are never hashed; not PII fields to report as plain.
UNHASHED_BY_DESIGN = {"fbp", "fbc", "client_ip_address", "client_user_agent", "ip", "user_agent",
                      "ttclid", "ttp", "twclid", "li_fat_id", "lifatid", "hashed_maids", "madid"}


# A user's hashed email, phone and IDs come back on every hit of the session: as params, one shared
# UserField per (key, name, value), in a table as bounded as the params' (the collector walks each
# UserField a stored event holds until the heap is frozen: it is a tuple subclass, never untracked).
_shared_users: dict[tuple[str, str, str], UserField] = {}


def user_field(name: str, key: str, value: Any) -> UserField | None:
    """A UserField for a recognised user-data key; None for anything else."""
    norm = USER_KEYS.get(key.lower())
    if norm is None:
        return None
    if isinstance(value, list):
        texts = [compact(v) for v in value if v is not None and v != ""]
        if not texts:
            return None
        return UserField(norm, name, all(map(looks_hashed, texts)), ",".join(texts))
    if value is None or value == "":
        return None
    text = compact(value)
    shared_key = (norm, name, text)
    if (shared := _shared_users.get(shared_key)) is not None:
        return shared
    return _shared_from_now(_shared_users, shared_key, UserField(norm, name, looks_hashed(text), text), text)


def mask_secret(value: str) -> str:
    """Access tokens are never shown or written in full: keep a recognisable prefix only."""
    return value[:6] + "…" if len(value) > 10 else "…"


def masked(pairs: Iterable[tuple[str, Any]], secrets: Collection[str]) -> list[tuple[str, Any]]:
    """Pairs with secret values (access tokens) masked: they never reach the UI, JSON lines or reports."""
    return [(k, mask_secret(compact(v)) if k in secrets else v) for k, v in pairs]


_NOT_ALNUM = re.compile(r"[^a-z0-9]")


def _fold(name: str) -> str:
    return _NOT_ALNUM.sub("", name.lower())


def folded_lookup(table: Mapping[str, str]) -> Callable[[str | None], str | None]:
    """A standard-event lookup that ignores case, underscores and spaces (`add_to_cart`,
    `ADD_CART`, `AddToCart` all meet)."""
    folded = {_fold(k): v for k, v in table.items()}
    return lambda name: folded.get(_fold(name or ""))
