"""The one vocabulary of pixelspy: raw hits in, tracking events and findings out.

Everything here is vendor-neutral and JSON-serialisable; decoders produce it, checks annotate it,
the TUI, the JSON lines, HAR files and reports consume it.
"""

from __future__ import annotations

import base64
import itertools
import re
import time as _time
import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, NamedTuple, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import Field, SkipValidation, field_serializer, field_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass

_ids = itertools.count(1)
_ID = re.compile(r"[a-z](\d{6,12})")  # as new_id makes them


def new_id(prefix: str) -> str:
    """Process-unique, sortable ids ("e000042"), short enough to type in the TUI."""
    return f"{prefix}{next(_ids):06d}"


def keep_id(ident: Any, prefix: str) -> bool:
    """Whether `ident`, read from a file pixelspy wrote, is an id new_id makes with `prefix`; if so,
    every id new_id makes from now on is larger, so it never collides with the kept one."""
    global _ids
    if not isinstance(ident, str) or not ident.startswith(prefix) or not (m := _ID.fullmatch(ident)):
        return False
    _ids = itertools.count(max(next(_ids), int(m[1]) + 1))
    return True


class Source(StrEnum):
    browser = "browser"
    server = "server"
    app = "app"


class Kind(StrEnum):
    event = "event"  # a conversion/page event the user fired
    pixel_loaded = "pixel_loaded"  # the vendor's loader or per-pixel config was fetched
    missing = "missing"  # expected by the tracking plan (pixelspy.toml [[expect]]) but never sent


class Severity(StrEnum):
    error = "error"
    warning = "warning"
    info = "info"


def _url_split(url: str) -> tuple[str, str, str]:
    """(host, path, query) as urlsplit reads them."""
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed authority (from a Host header such as "[::1"): no host
        scheme, _, rest = url.partition("://")
        parts = urlsplit(f"{scheme}:///{rest.partition('/')[2]}")
    return (parts.hostname or "").lower(), parts.path or "/", parts.query


# What the plain split below leaves to urlsplit: user info, IPv6 brackets, and the characters
# urlsplit strips or treats specially.
_NOT_PLAIN = frozenset("@[]\\\t\r\n ")


def _plain_url_split(url: str) -> tuple[str, str, str] | None:
    """(host, path, query) of the common URL ("https://host[:port]/path?query#fragment") the same
    as _url_split gives, at a tenth of urlsplit's cost (the proxy splits every request's URL);
    None for any other URL."""
    if url.startswith("https://"):
        rest = url[8:]
    elif url.startswith("http://"):
        rest = url[7:]
    else:
        return None
    if not url.isascii() or not _NOT_PLAIN.isdisjoint(url):
        return None
    rest = rest.partition("#")[0]
    rest, _, query = rest.partition("?")
    cut = rest.find("/")
    netloc, path = (rest, "") if cut < 0 else (rest[:cut], rest[cut:])
    return netloc.partition(":")[0].lower(), path or "/", query


def split_url(url: str) -> tuple[str, str, str]:
    """(host, path, query) of a URL: the host lower-cased, without port or brackets; path "/" when empty."""
    return _plain_url_split(url) or _url_split(url)


def _cache_field() -> Any:
    return dataclasses.field(default=None, init=False, repr=False, compare=False)


class KeptId(NamedTuple):
    """An event id a HAR file gave, with what the event must be to keep it."""

    id: str
    platform: str
    event: str | None


class RequestReads:
    """What the devices and the checks read of a request, from its `url_parts` and `header_map()`:
    shared by RawHit and by heads.RequestHead (an ordinary request read in part)."""

    __slots__ = ()

    @property
    def host(self) -> str:
        return self.url_parts[0]

    @property
    def path(self) -> str:
        return self.url_parts[1]

    def header(self, name: str, default: str = "") -> str:
        """The first value of a header (names compare case-insensitively)."""
        return self.header_map().get(name.lower(), default)


# A frozen, slotted pydantic dataclass: validated like a model, but a stored hit is one GC-tracked
# object and its fields read at plain slot speed (see TrackingEvent).
@pydantic_dataclass(frozen=True, slots=True, kw_only=True)
class RawHit(RequestReads):
    """One HTTP request as the proxy (or a HAR file) saw it. Decoders read only this."""

    id: str = Field(default_factory=lambda: new_id("h"))
    method: str
    url: str
    # Tuples: a stored hit's headers then cost the garbage collector nothing (it untracks them).
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    time: float = Field(default_factory=_time.time)
    client: str = ""  # client address, e.g. "127.0.0.1"
    body_truncated: bool = False  # the stored body was cut to the size limit
    # Read from a HAR file pixelspy wrote: the ids its events had, which they keep (Session.ingest).
    kept_ids: Annotated[tuple[KeptId, ...], Field(exclude=True)] = ()
    # Read from a HAR file that says so (DevTools' `_resourceType`, a new `pageref`): whether the hit
    # opened a page; None: the file does not say (checks/pages.py then reads the headers).
    navigation: Annotated[bool | None, Field(exclude=True)] = None
    # Read from a HAR file: the media type it recorded for the response (`response.content.mimeType`);
    # an HTML document a later request names as its Referer opened a page (checks/pages.py).
    response_type: Annotated[str, Field(exclude=True)] = ""
    # The device that sent it (Devices.key: address plus client family), set by the session.
    device: Annotated[str, Field(exclude=True)] = dataclasses.field(default="", init=False, repr=False,
                                                                     compare=False)
    # Computed on first use (decoders read them several times a hit); not part of the record.
    _url_parts: Annotated[tuple[str, str, str] | None, Field(exclude=True)] = _cache_field()
    _header_map: Annotated[dict[str, str] | None, Field(exclude=True)] = _cache_field()

    @field_validator("body", mode="before")
    @classmethod
    def _body_from_base64(cls, v: Any) -> Any:
        # JSON round trip: bodies are serialised as base64 (see _body_to_base64).
        if isinstance(v, str):
            return base64.b64decode(v)
        return v

    @field_serializer("body", when_used="json")
    def _body_to_base64(self, body: bytes) -> str:
        return base64.b64encode(body).decode("ascii")

    @classmethod
    def of_proxy(cls, *, method: str, url: str, headers: tuple[tuple[str, str], ...], body: bytes, time: float,
                 client: str, body_truncated: bool, url_parts: tuple[str, str, str] | None = None) -> RawHit:
        """A hit of values the proxy already holds in the right types, not validated again: it
        builds one for every request it relays, and validation was a fifth of that. `url_parts`:
        split_url(url), when the caller has it."""
        hit = object.__new__(cls)
        put = _RAW_HIT_SLOTS  # (a frozen dataclass, written through its slots: one call per field, unrolled)
        put["id"](hit, new_id("h"))
        put["method"](hit, method)
        put["url"](hit, url)
        put["headers"](hit, headers)
        put["body"](hit, body)
        put["time"](hit, time)
        put["client"](hit, client)
        put["body_truncated"](hit, body_truncated)
        put["kept_ids"](hit, ())
        put["navigation"](hit, None)
        put["response_type"](hit, "")
        put["device"](hit, "")
        put["_url_parts"](hit, url_parts)
        put["_header_map"](hit, None)
        return hit

    def set_device(self, key: str) -> None:
        object.__setattr__(self, "device", key)  # once, by the session: the hit itself stays frozen

    @property
    def url_parts(self) -> tuple[str, str, str]:
        """(host, path, query): split_url(url), split once."""
        if (split := self._url_parts) is None:
            split = split_url(self.url)
            object.__setattr__(self, "_url_parts", split)  # a cache: the hit itself stays frozen
        return split

    @property
    def query(self) -> str:
        return self.url_parts[2]

    def header_map(self) -> dict[str, str]:
        """Every header's first value by lower-cased name (not to be changed): made once, for `header`
        and for code that reads several headers of every request the proxy relays."""
        if (values := self._header_map) is None:
            values = dict(reversed(self.headers))  # (the first of a name wins)
            names = "".join(values)
            if not (names.isascii() and names.islower()):  # a name to lower-case (HTTP/2's are already)
                values = {k.lower(): v for k, v in reversed(self.headers)}
            object.__setattr__(self, "_header_map", values)  # a cache: the hit itself stays frozen
        return values

    @property
    def content_type(self) -> str:
        return self.header("content-type").split(";")[0].strip().lower()


# RawHit's slots' setters, by field: of_proxy sets each at a slot's speed (object.__setattr__ finds
# the slot by name first).
_RAW_HIT_SLOTS = {f.name: RawHit.__dict__[f.name].__set__ for f in dataclasses.fields(RawHit)}


# Params and user fields are named tuples, findings a slotted dataclass: a hit makes dozens of them
# and only pixelspy's own code builds them, so they skip pydantic's per-instance cost.
class Param(NamedTuple):
    """One decoded parameter: the wire name stays visible beside the human label."""

    name: str  # as on the wire, e.g. "cd[value]" or "properties.contents"
    value: str  # as sent (JSON values re-serialised compactly)
    label: str = ""
    group: str = "Other"


class UserField(NamedTuple):
    """An advanced-matching / user-data field: which key, and whether it looks hashed."""

    key: str  # normalised key: em, ph, fn, ln, external_id, …
    name: str  # wire name, e.g. "ud[em]"
    hashed: bool
    value: str = ""


@dataclass(slots=True)
class Finding:
    code: str  # stable public code, e.g. "missing-param"
    severity: Severity
    message: str
    hint: str = ""
    related: list[str] = field(default_factory=list)  # ids of the other events concerned
    pending: bool = False  # verdict not final yet (e.g. waiting for the consent cookie)


def looks_hashed(value: str) -> bool:
    """A SHA-256 hex digest (64 hex digits), as the vendors want hashed user data."""
    text = value.strip().lower()
    return len(text) == 64 and not text.strip("0123456789abcdef")  # a regex costs ~5× as much


# A pydantic dataclass, not a BaseModel: construction is validated the same, but attribute reads
# and writes take CPython's fast slot path (BaseModel's __getattr__ hook costs ~6× per read, and the
# checks make dozens a hit), and a stored event is one GC-tracked object instead of three.
# Its sequences are tuples, given as lists or tuples: an empty one is CPython's one shared `()` and
# a tuple of strings leaves the collector's walks, where a list is one more object per field and
# event for every collection to walk while the event lives (most of them are empty). They are
# replaced, never changed in place (CheckContext's emit, replace and retract; Session's twins).
@pydantic_dataclass(slots=True, kw_only=True)
class TrackingEvent:
    id: str = Field(default_factory=lambda: new_id("e"))
    platform: str  # meta, tiktok, pinterest, linkedin, x, google, snapchat, reddit
    source: Source = Source.browser
    kind: Kind = Kind.event
    pixel_id: str | None = None
    event: str | None = None  # as the vendor spells it on the wire
    # A readable name where the wire name is a code (X's event tag "o87ne", LinkedIn's PAGE_VISIT):
    # shown in the TUI only; JSON lines, HAR and reports keep the wire name.
    label: str | None = None
    standard_event: str | None = None  # canonical: Purchase, AddToCart, PageView, …
    event_id: str | None = None  # the vendor's dedup key
    page_url: str | None = None
    value: str | None = None  # as sent
    currency: str | None = None
    content_ids: tuple[str, ...] = ()
    order_id: str | None = None
    test_event_code: str | None = None
    # Params, user data and findings are built by pixelspy's own decoders and checks, dozens per hit:
    # validating each again would cost more than decoding the hit (their tuple is still made, in C).
    params: tuple[SkipValidation[Param], ...] = ()
    user_data: tuple[SkipValidation[UserField], ...] = ()
    decode_errors: tuple[str, ...] = ()
    findings: tuple[SkipValidation[Finding], ...] = ()
    endpoint: str = ""  # short description of the wire shape, e.g. "GET /tr (image)"
    twins: tuple[str, ...] = ()  # hit ids of copies of this event (not counted)
    twin_key: str | None = None  # set by decoders on copies; the session attaches them as twins
    hit_id: str = ""
    time: float = 0.0
    client: str = ""  # the address (JSON lines' "client")
    device: str = ""  # Devices.key: address plus client family; per-device checks key on it
    # Referer (else Origin) of the hit: the page that sent it, when the hit carries no page URL.
    referer: str = ""

    # TrackingEvent(**fields) for the events pixelspy's decoders build, unvalidated (_trusted_init).
    decoded: ClassVar[Callable[..., TrackingEvent]]

    def param(self, name: str) -> str | None:
        for p in self.params:
            if p.name == name:
                return p.value
        return None

    @property
    def title(self) -> str:
        """Vendor event name, with the canonical one when it differs."""
        if self.kind == Kind.pixel_loaded:
            return "pixel loaded"
        if self.kind == Kind.missing:
            return f"missing: {self.standard_event or self.event}"
        name = self.label or self.event or "(no event name)"
        if self.standard_event and self.standard_event != name:
            return f"{name} → {self.standard_event}"
        return name

    def json_line(self) -> dict[str, Any]:
        """The public JSON-lines shape (documented in README; keys are never renamed): its sequences
        as lists, as they always were."""
        return {
            "id": self.id,
            "platform": self.platform,
            "source": self.source.value,
            "kind": self.kind.value,
            "pixel_id": self.pixel_id,
            "event": self.event,
            "standard_event": self.standard_event,
            "event_id": self.event_id,
            "page_url": self.page_url,
            "value": self.value,
            "currency": self.currency,
            "content_ids": list(self.content_ids),
            "test_event_code": self.test_event_code,
            "params": {p.name: p.value for p in self.params},
            "user_data": {u.name: ("hashed" if u.hashed else "plain") for u in self.user_data},
            "decode_errors": list(self.decode_errors),
            "findings": [
                {"code": f.code, "severity": f.severity.value, "message": f.message,
                 "hint": f.hint, "related": f.related, "pending": f.pending}
                for f in self.findings
            ],
            "twins": list(self.twins),
            "endpoint": self.endpoint,
            "time": self.time,
            "client": self.client,
            "hit_id": self.hit_id,
        }


_MISSING: Any = object()  # a keyword the caller did not give
_JUST_STR = frozenset({str})


def _field_check(name: str, annotation: Any) -> tuple[str, str]:
    """(expression of the value to store, or "" to store it as given; condition true when the value
    is not of the field's exact type) as source text over the keyword `name`. What pydantic would
    convert or reject fails the check; lists become the tuples it makes of them."""
    if annotation is str:
        return "", f"type({name}) is not str"
    if annotation == str | None:
        return "", f"({name} is not None and type({name}) is not str)"
    if annotation in (float, Source, Kind):
        return "", f"type({name}) is not {annotation.__name__}"
    if get_origin(annotation) is tuple:
        item = get_args(annotation)[0]
        is_list = f"(type({name}) is list or type({name}) is tuple)"
        if item is str:  # (the empty one, the most common, first)
            is_list += f" and (not {name} or _JUST_STR.issuperset(map(type, {name})))"
        elif not any(isinstance(m, SkipValidation) for m in getattr(item, "__metadata__", ())):
            is_list = ""
        if is_list:
            return f"tuple({name}) if {is_list} else None", f"{name}_ is None"
    raise TypeError(f"TrackingEvent.{name}: no exact-type check for {annotation!r}")


def _trusted_init(cls: type) -> Callable[..., Any]:
    """A constructor with cls's fields and defaults that checks each value's exact type instead of
    validating it, and hands any other value, and unknown keywords, to the validated constructor
    (same result or same error). Built from the fields, as dataclasses builds __init__: the fields
    stay listed once."""
    params, converts, checks, stores, given = [], [], [], [], []
    namespace: dict[str, Any] = {"_MISSING": _MISSING, "_JUST_STR": _JUST_STR, "Source": Source, "Kind": Kind,
                                 "_new": object.__new__}
    for name, info in cls.__pydantic_fields__.items():
        convert, check = _field_check(name, info.annotation)
        value = name
        if convert:
            converts.append(f"    {name}_ = {convert}\n")
            value = f"{name}_"
        if info.default_factory is not None:  # (the id)
            namespace[f"_make_{name}"] = info.default_factory
            params.append(f"{name}=_MISSING")
            check = f"({name} is not _MISSING and {check})"
            value = f"_make_{name}() if {name} is _MISSING else {value}"
        elif info.is_required():
            params.append(f"{name}=_MISSING")  # (fails its check: validation then says what is missing)
        else:
            namespace[f"_default_{name}"] = info.default
            params.append(f"{name}=_default_{name}")
        checks.append(check)
        stores.append(f"    ev.{name} = {value}\n")
        given.append(f"{name}={name}")
    source = (f"def decoded(cls, *, {', '.join(params)}, **unknown):\n" + "".join(converts)
              + f"    if unknown or {' or '.join(checks)}:\n"
              + f"        given = dict({', '.join(given)}, **unknown)\n"
              + "        return cls(**{k: v for k, v in given.items() if v is not _MISSING})\n"
              + "    ev = _new(cls)\n" + "".join(stores) + "    return ev\n")
    exec(source, namespace)  # noqa: S102 - source made above from the class's own fields
    return classmethod(namespace["decoded"])


TrackingEvent.decoded = _trusted_init(TrackingEvent)
