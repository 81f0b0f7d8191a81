"""pixelspy.toml: validated configuration with sensible defaults when there is no file.

Looked up as ./pixelspy.toml, or given with --config PATH. Each section belongs to one part of
pixelspy (checks, consent, expectations); unknown keys are errors, so typos do not pass silently.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, PositiveFloat, ValidationError, field_validator,
                      model_validator)

DEFAULT_PATH = Path("pixelspy.toml")


class ConfigError(ValueError):
    pass


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Vendors the checks know; a typo in a per-vendor table is an error, not a silently ignored key.
CHECK_PLATFORMS = ("meta", "tiktok", "pinterest", "linkedin", "x", "google", "snapchat", "reddit")

# Every code a check reports (docs/findings.md): `silence` takes these alone. tests/checks/test_config.py
# holds this to the codes in the checks' source and in the docs, both ways.
FINDING_CODES = frozenset({
    "missing-param", "invalid-value", "invalid-currency", "invalid-json", "nonstandard-event",
    "encoded-chars", "duplicate-event", "multi-pixel", "duplicate-pixel", "redundant-purchase",
    "event-id-reused", "dedup-ok", "dedup-missing", "pii-leak", "invalid-hash", "unnormalised-hash",
    "test-event", "pre-consent", "consent-unknown", "missing-expected-event", "unexpected-pixel",
    "invalid-pixel-id", "cookies-disabled", "pixel-no-events", "decode-error",
})


def _known_platform(name: str) -> str:
    if name not in CHECK_PLATFORMS:
        raise ValueError(f"unknown platform {name!r}; use one of {', '.join(CHECK_PLATFORMS)}")
    return name


def _known_code(code: str) -> str:
    if code not in FINDING_CODES:
        raise ValueError(f"unknown finding code {code!r} (docs/findings.md lists them)")
    return code


# A per-vendor table's key: an error names the key (and so its line), not only the table.
Platform = Annotated[str, AfterValidator(_known_platform)]
FindingCode = Annotated[str, AfterValidator(_known_code)]


class ChecksConfig(Section):
    """[checks]: the warnings engine (docs/findings.md lists the codes)."""

    silence: list[FindingCode] = []  # finding codes never reported
    # Same event, same parameters, no event ID, within this many seconds: a double-installed pixel.
    duplicate_window_s: PositiveFloat = 2.0
    # Loader requests for the same pixel on one page within this many seconds: initialised twice.
    duplicate_pixel_window_s: PositiveFloat = 10.0
    # Browser and server copies of an event are paired when they arrive this close together.
    dedup_pairing_window_s: PositiveFloat = 60.0
    # A pixel that loads and fires no event within this many seconds gets `pixel-no-events`.
    pixel_no_events_timeout_s: PositiveFloat = 10.0
    # [checks.expected_pixels] meta = ["1234567890123456"]: any other pixel ID is `unexpected-pixel`.
    expected_pixels: dict[Platform, list[str]] = {}
    # [checks.required_params.meta] Purchase = ["order_id", "cd[content_type]"]: names are event
    # fields (value, currency, content_ids, order_id, event_id) or wire parameter names.
    required_params: dict[Platform, dict[str, list[str]]] = {}
    # [checks.catalog] meta = ["1234567890123456"] (or ["*"]: every pixel of the vendor): pixels that
    # feed a product catalog; only for them are content IDs and content type more than a note.
    catalog: dict[Platform, list[str]] = {}


class ConsentRule(Section):
    """[[consent.rules]]: an in-house banner pixelspy cannot know. Exactly one of cookie, url, script:
    cookie + granted/denied regexes (searched in the URL-decoded cookie value); url: a request to it
    (regex searched in the URL) means `means`; script: a request to it means "CMP loaded"."""

    name: str = "custom rule"
    cookie: str | None = None
    granted: str | None = None
    denied: str | None = None
    url: str | None = None
    means: Literal["granted", "denied"] = "granted"
    script: str | None = None
    purposes: list[Literal["marketing", "analytics"]] = ["marketing", "analytics"]

    @field_validator("granted", "denied", "url", "script")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"not a valid regular expression: {e}") from None
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> "ConsentRule":
        kinds = [k for k in ("cookie", "url", "script") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("set exactly one of cookie, url, script")
        if self.cookie and not (self.granted or self.denied):
            raise ValueError("a cookie rule needs a granted and/or denied regex")
        return self


class ConsentConfig(Section):
    """[consent]: the pre-consent firing check (docs/consent.md)."""

    # A hit fired while consent is missing waits this long for the CMP cookie (written in JavaScript,
    # so seen only on the next first-party request) before it becomes a `pre-consent` error.
    pending_timeout_s: PositiveFloat = 3.0
    # Treat `Sec-GPC: 1` (Global Privacy Control) as marketing denied.
    gpc_means_denied: bool = False
    rules: list[ConsentRule] = []


class Expectation(Section):
    """[[expect]]: the tracking plan. On pages matching `page`, `event` must reach every target in `to`
    with every field in `params`, within `within_s` seconds of the page visit; otherwise a `missing`
    event with `missing-expected-event` (checks/expectations.py)."""

    name: str = ""  # shown in the finding, e.g. "Purchase on the thank-you page"
    page: str  # regex searched in the page URL, e.g. "/checkout/thanks"
    event: str  # canonical (Purchase) or as the vendor spells it (CompletePayment)
    to: list[str]  # "meta:1234567890123456", "tiktok:CABC…", or a platform alone (any of its pixels)
    params: list[str] = []  # event fields (value, currency, content_ids, order_id, event_id) or wire names
    within_s: PositiveFloat = 10.0
    severity: Literal["error", "warning"] = "error"

    @field_validator("page")
    @classmethod
    def _page_regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as e:
            raise ValueError(f"not a valid regular expression: {e}") from None
        return v

    @field_validator("to")
    @classmethod
    def _targets(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("name at least one target, e.g. \"meta:1234567890123456\"")
        for target in v:
            _known_platform(target.partition(":")[0])
        return v


class Config(Section):
    checks: ChecksConfig = ChecksConfig()
    consent: ConsentConfig = ConsentConfig()
    expect: list[Expectation] = []


def load_config(path: str | Path | None = None) -> Config:
    """The config at `path`, else ./pixelspy.toml if present, else defaults."""
    p = Path(path) if path else DEFAULT_PATH
    if not p.exists():
        if path:
            raise ConfigError(f"{p}: no such file")
        return Config()
    try:
        text = p.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{p}: {e}") from None
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError("\n".join(_located(p, text, err) for err in e.errors())) from None


def _located(path: Path, text: str, err) -> str:
    """One validation error as `pixelspy.toml:LINE: checks.silence: unknown finding code 'x' …`."""
    loc = [part for part in err["loc"] if part != "[key]"]  # (a dict key's own error: the key is named)
    where = ".".join(str(part) for part in loc)
    msg = err["msg"]  # pydantic's wording, but for these:
    if err["type"] == "value_error":
        msg = str(err["ctx"]["error"])  # ours, without pydantic's "Value error, "
    elif err["type"] == "extra_forbidden":
        msg = "unknown key"
    line = line_of(text, loc)
    if line and loc and isinstance(loc[-1], int) and isinstance(err["input"], str):
        line = _item_line(text, line, err["input"])
    return f"{path}{f':{line}' if line else ''}: {where}: {msg}"


def _item_line(text: str, key_line: int, item: str) -> int:
    """The line of a string item of the array whose key is on `key_line` (an array may span lines)."""
    lines = text.splitlines()
    for n in range(key_line, len(lines) + 1):
        if f'"{item}"' in lines[n - 1] or f"'{item}'" in lines[n - 1]:
            return n
    return key_line


_HEADER = re.compile(r"\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*=")


def _dotted(key: str) -> list[str]:
    return [part.strip().strip("\"'") for part in re.findall(r"\"[^\"]*\"|'[^']*'|[^.]+", key)]


def line_of(text: str, loc: list[str | int]) -> int | None:
    """The line (1-based) of the TOML key or table header that comes closest to the validation
    error's location (tomllib gives no positions): the longest match of `loc`'s start wins, so an
    item of a list or inline table is placed on its key's line. Lines inside multi-line strings are
    not told apart (a config has none worth the parser)."""
    table: list[str | int] = []
    counts: dict[tuple, int] = {}  # [[array]] tables seen, by path
    best, best_len = None, 0
    for n, line in enumerate(text.splitlines(), 1):
        if header := _HEADER.match(line):
            path = _dotted(header.group(2))
            if header.group(1) == "[[":
                i = counts[tuple(path)] = counts.get(tuple(path), -1) + 1
                path = [*path, i]
            table, here = path, path
        elif key := _KEY.match(line):
            here = [*table, *_dotted(key.group(1))]
        else:
            continue
        matched = _common_start(here, loc)
        if matched == len(here) and matched > best_len:
            best, best_len = n, matched
    return best


def _common_start(a: list, b: list) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n
