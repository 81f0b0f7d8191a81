"""The readers of cmps.toml: which requests mean a CMP loaded or logged a choice, and which cookie
parser reads each consent cookie. PARSERS names the parsers the table may use; each lives in the
module of its CMP (pixelspy/consent/cmps/) or of its IAB / Google signal."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pixelspy.consent.cmps.cookiebot import parse_cookiebot
from pixelspy.consent.cmps.cookieyes import parse_cookieyes
from pixelspy.consent.cmps.didomi import parse_didomi
from pixelspy.consent.cmps.flags import flag_parser, parse_presence
from pixelspy.consent.cmps.iubenda import parse_iubenda
from pixelspy.consent.cmps.klaro import parse_klaro
from pixelspy.consent.cmps.onetrust import parse_onetrust
from pixelspy.consent.cmps.tarteaucitron import parse_tarteaucitron
from pixelspy.consent.cmps.vanilla_cookieconsent import parse_cc_cookie
from pixelspy.consent.gpp import parse_gpp
from pixelspy.consent.reading import Parser, Reading
from pixelspy.consent.table import TABLE
from pixelspy.consent.tcf import parse_tcf
from pixelspy.consent.usprivacy import parse_usprivacy

PARSERS: dict[str, Parser] = {
    "onetrust": parse_onetrust,
    "cookiebot": parse_cookiebot,
    "didomi": parse_didomi,
    "presence": parse_presence,  # Usercentrics, Osano
    "cookieyes": parse_cookieyes,
    "yes_no": flag_parser("yes", "no"),  # CookieYes per category
    "allow_deny": flag_parser("allow", "deny"),  # Complianz, cookieconsent (Osano open source)
    "iubenda": parse_iubenda,
    "cc_cookie": parse_cc_cookie,  # vanilla-cookieconsent
    "klaro": parse_klaro,
    "tarteaucitron": parse_tarteaucitron,
    "tcf": parse_tcf,
    "gpp": parse_gpp,
    "usprivacy": parse_usprivacy,
}

MAX_COOKIE_VALUE = 8192  # browsers cap cookies at 4 KB: a longer value is not a real one


@dataclass(frozen=True)
class UrlPattern:
    host: str  # "" = any host
    path: re.Pattern[str] | None

    def on_host(self, host: str) -> bool:
        return not self.host or host == self.host or host.endswith("." + self.host)

    def on_path(self, path: str) -> bool:
        return self.path is None or self.path.search(path) is not None


def _patterns(items: list[dict]) -> list[UrlPattern]:
    return [UrlPattern(i.get("host", ""), re.compile(i["path"]) if "path" in i else None) for i in items]


@dataclass(frozen=True)
class Cmp:
    name: str
    scripts: list[UrlPattern]
    log: list[UrlPattern]
    unknown: str  # why its choice is invisible to a proxy ("" when it is not)
    # A consent string any CMP may write (TCF, GPP, US Privacy): it says what it says, and does not
    # mean "a CMP loaded, no choice yet".
    signal: bool = False


def _load_cmps() -> tuple[list[Cmp], dict[str, list[tuple[Cmp, dict]]], list[tuple[str, Cmp, dict]]]:
    cmps, by_name, by_prefix = [], {}, []
    for c, signal in [*((c, False) for c in TABLE["cmp"]), *((c, True) for c in TABLE["signal"])]:
        cmp = Cmp(c["name"], _patterns(c.get("scripts", [])), _patterns(c.get("log", [])), c.get("unknown", ""),
                  signal)
        if not signal:
            cmps.append(cmp)
        for entry in c.get("cookies", []):
            if entry["parser"] not in PARSERS:
                raise ValueError(f"cmps.toml: {c['name']}: unknown parser {entry['parser']!r}")
            if "prefix" in entry:
                by_prefix.append((entry["prefix"], cmp, entry))
            else:
                by_name.setdefault(entry["name"], []).append((cmp, entry))
    return cmps, by_name, by_prefix


CMPS, COOKIES_BY_NAME, COOKIES_BY_PREFIX = _load_cmps()


@lru_cache(maxsize=4096)  # every request asks; a session talks to a few hundred hosts
def cmp_patterns_on_host(host: str) -> tuple[tuple[tuple[Cmp, tuple[UrlPattern, ...], tuple[UrlPattern, ...]], ...],
                                             re.Pattern[str]]:
    """(CMP, its script patterns, its log patterns) that can match a URL on this host, CMPs in table
    order: most requests go to hosts no CMP uses, and then only the host-less patterns are tried.
    With them, one regex of all their paths: a path it does not match (most) matches none of them."""
    out = []
    for cmp in CMPS:
        scripts = tuple(p for p in cmp.scripts if p.on_host(host))
        log = tuple(p for p in cmp.log if p.on_host(host))
        if scripts or log:
            out.append((cmp, scripts, log))
    # A pattern without a path matches every path: an empty alternative does too.
    any_path = "|".join(f"(?:{p.path.pattern})" if p.path else "" for _, s, log in out for p in (*s, *log))
    return tuple(out), re.compile(any_path)


def parse_cookie_header(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(";"):
        name, found, value = part.strip().partition("=")
        if found and name:
            out[name.strip()] = value.strip().strip('"')
    return out


def read_cookies(cookies: dict[str, str]) -> list[tuple[Cmp, Reading]]:
    """The readings of the table's consent cookies among a request's cookies. A cookie its parser
    cannot read still says a choice may have been stored: its purposes are unknown."""
    out = []
    for name, value in cookies.items():
        entries = list(COOKIES_BY_NAME.get(name, ()))
        entries += [(cmp, e) for prefix, cmp, e in COOKIES_BY_PREFIX if name.startswith(prefix)]
        for cmp, entry in entries:
            too_long = len(value) > MAX_COOKIE_VALUE
            reading = None if too_long else PARSERS[entry["parser"]](name, value, cookies, entry)
            if reading is None:
                reading = Reading(name, f"{name} present but its values cannot be mapped to marketing or "
                                        f"analytics ({value[:40]!r})", choice=False, unmapped=True)
            out.append((cmp, reading))
    return out
