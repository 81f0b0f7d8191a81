"""IAB Global Privacy Platform (GPP) strings: the `__gpp` cookie (with the ids of the sections that
apply in `__gpp_sid`), and `gpp` / `gpp_sid` on hits.

A GPP string is `header~section~section…`, base64url, 6 bits a character. The header is Type Int(6)
= 3, Version Int(6) = 1 and a Fibonacci-coded range of section ids, one per section after it, in
order. The sections read are in cmps.toml [gpp]: the US ones (usnat and the states) for their
opt-outs of sale, sharing and targeted advertising (1 opted out, 2 did not opt out, 0 not
applicable); the TCF and US Privacy sections as the strings they are. An opt-out in any applicable
section denies marketing; "did not opt out" grants it (the US laws are opt-out); "not applicable",
a section pixelspy does not read or a broken section says nothing. A string whose header is not
GPP is no reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

from pixelspy.consent.reading import Reading
from pixelspy.consent.table import TABLE
from pixelspy.consent.tcf import tcf_reading
from pixelspy.consent.usprivacy import usprivacy_reading

MAX_GPP = 8192  # characters; a browser keeps a cookie to 4 KB
MAX_SECTIONS = 64  # section ids in one header (the IAB has registered fewer than 30)
_MAX_FIBONACCI_BITS = 32  # a code word longer than this is not a section id
_B64URL = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}
_HEADER_TYPE, _HEADER_VERSION = 3, 1
_OPT_OUT_VALUES = {1: "opted out", 2: "did not opt out"}  # 0: not applicable
_SECTION_ID = re.compile(r"-?[0-9]{1,5}")


class _Broken(Exception):
    """The bits end early, or hold what the format does not allow."""


class _Bits:
    """A base64url string read as bits, most significant first."""

    def __init__(self, text: str):
        try:
            self._bits = "".join(format(_B64URL[c], "06b") for c in text)
        except KeyError:
            raise _Broken from None
        self._pos = 0

    def int(self, width: int) -> int:
        end = self._pos + width
        if end > len(self._bits):
            raise _Broken
        value = int(self._bits[self._pos:end], 2)
        self._pos = end
        return value

    def fibonacci(self) -> int:
        """A Fibonacci code word: bit i adds F(i+2) (1, 2, 3, 5…); "11" ends it."""
        value, weight, next_weight, previous = 0, 1, 2, 0
        for _ in range(_MAX_FIBONACCI_BITS):
            bit = self.int(1)
            if bit and previous:
                return value
            value += weight if bit else 0
            weight, next_weight, previous = next_weight, weight + next_weight, bit
        raise _Broken

    def fibonacci_range(self) -> list[int]:
        """Range(Fibonacci): a count Int(12), then per item a group flag, the offset from the last id,
        and for a group its length."""
        ids: list[int] = []
        last = 0
        for _ in range(self.int(12)):
            group = self.int(1)
            start = last + self.fibonacci()
            last = start + self.fibonacci() if group else start
            if len(ids) + last - start >= MAX_SECTIONS:
                raise _Broken
            ids.extend(range(start, last + 1))
        return ids


# Sections that carry another IAB string whole: read as that string, named by the section.
_STRING_READERS = {"tcf": tcf_reading, "usprivacy": usprivacy_reading}


@dataclass(frozen=True)
class _Section:
    id: int
    name: str
    reader: str  # "us" (opt-out fields at the layout's positions), "tcf", "usprivacy"
    versions: tuple[int, ...] = ()
    opt_outs: tuple[tuple[str, int], ...] = ()  # (field, its 2-bit field's index after Version)


def _load_sections() -> dict[int, _Section]:
    gpp = TABLE["gpp"]
    opt_out_fields = gpp["opt_outs"]
    out = {}
    for s in gpp["sections"]:
        layout = gpp["layouts"].get(s.get("layout", ""), [])
        opt_outs = tuple((f, layout.index(f)) for f in opt_out_fields if f in layout)
        reader = s.get("reader", "us")
        if reader not in ("us", *_STRING_READERS):
            raise ValueError(f"cmps.toml [gpp]: section {s['name']}: unknown reader {reader!r}")
        if reader == "us" and not opt_outs:
            raise ValueError(f"cmps.toml [gpp]: section {s['name']}: its layout has no opt-out field")
        out[s["id"]] = _Section(s["id"], s["name"], reader, tuple(s.get("versions", [1])), opt_outs)
    return out


SECTIONS = _load_sections()


def _us_section(section: _Section, text: str) -> tuple[str, dict[str, bool]]:
    bits = _Bits(text.split(".", 1)[0])  # the core segment; sub-segments (GPC…) follow a dot
    version = bits.int(6)
    if version not in section.versions:
        return f"version {version} not read", {}
    fields = [bits.int(2) for _ in range(max(i for _, i in section.opt_outs) + 1)]
    said = {f: _OPT_OUT_VALUES[fields[i]] for f, i in section.opt_outs if fields[i] in _OPT_OUT_VALUES}
    if not said:
        return "not applicable", {}
    shown = ", ".join(f"{f} {v}" for f, v in said.items())
    return f"{section.name} {shown}", {"marketing": "opted out" not in said.values()}


def _section_reading(section: _Section, text: str) -> tuple[str, dict[str, bool]]:
    """(what the section says, its purposes); for a section that says nothing, why."""
    if section.reader == "us":
        return _us_section(section, text)
    r = _STRING_READERS[section.reader](section.name, text)
    if r is None:
        return "unreadable", {}
    return (r.text, r.purposes) if r.purposes else ("not applicable", {})


def applicable_ids(sid: str) -> frozenset[int] | None:
    """The section ids of `gpp_sid` / `__gpp_sid` ("7", "2,6"); None: not given, every section counts.
    "-1" (GPP does not apply) gives no id."""
    parts = [p.strip() for p in unquote(sid).split(",") if p.strip()]
    if not parts or not all(_SECTION_ID.fullmatch(p) for p in parts):
        return None
    return frozenset(int(p) for p in parts if int(p) > 0)


@lru_cache(maxsize=256)  # every hit of a page repeats the string
def gpp_reading(source: str, value: str, sid: str = "") -> Reading | None:
    """What a GPP string says, its sections restricted to the applicable ones (`sid`)."""
    text = unquote(value).strip()
    if not text or len(text) > MAX_GPP:
        return None
    header, *sections = text.split("~")
    try:
        bits = _Bits(header)
        if (bits.int(6), bits.int(6)) != (_HEADER_TYPE, _HEADER_VERSION):
            return None
        ids = bits.fibonacci_range()
    except _Broken:
        return None
    if len(ids) != len(sections):
        return None  # sections cannot be matched to their ids
    applicable = applicable_ids(sid)
    said: list[str] = []
    silent: dict[str, list[str]] = {}  # why → sections
    purposes: dict[str, bool] = {}
    for section_id, section_text in zip(ids, sections):
        if applicable is not None and section_id not in applicable:
            continue
        section = SECTIONS.get(section_id)
        try:
            what, says = _section_reading(section, section_text) if section else ("not read", {})
        except _Broken:
            what, says = "unreadable", {}
        if not says:
            silent.setdefault(what, []).append(section.name if section else f"section {section_id}")
            continue
        said.append(what)
        for p, granted in says.items():
            purposes[p] = purposes.get(p, True) and granted  # a denial in any section wins
    said += [f"{why}: {', '.join(names)}" for why, names in silent.items()]
    return Reading(source, f"{source} GPP {'; '.join(said) or 'no applicable section'}", purposes)


def parse_gpp(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    return gpp_reading(name, value, cookies.get(entry.get("sid_cookie", ""), ""))
