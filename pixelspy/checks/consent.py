"""Pre-consent firing: marketing (and analytics) hits sent before the visitor's consent.

Finding codes: `pre-consent` (error; pending while the CMP cookie may still be on its way) and
`consent-unknown` (info: the CMP keeps the choice where a proxy cannot see it).

Per site (registrable domain of the page) and device (Devices.key: each browser has its own cookies),
the check keeps a consent timeline built from traffic the proxy already sees: CMP script loads, CMP
consent cookies in the Cookie header of requests to the site, consent signals inside tracking hits
(Google consent mode gcs/gcd, TCF gdpr_consent, Meta dpo), `Sec-GPC`, CMP consent-logging requests and
the user's own rules. The CMP table (cmps.toml) is data; the cookie formats are parsed by the small
functions in PARSERS.

A CMP writes its cookie in JavaScript, so the proxy sees an "accept" only on the next request to the
site: a hit fired in that gap is kept pending until the next first-party request (or the timeout)
shows the state at that moment. See docs/consent.md.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import time as _time
import tomllib
import warnings
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl, unquote

import iab_tcf

from pixelspy.checks.rules import BROWSER, KIND_EVENT, host_of, params, vendor
from pixelspy.config import Config, ConsentConfig
from pixelspy.model import Finding, RawHit, Severity, TrackingEvent

TABLE = tomllib.loads((Path(__file__).parent / "cmps.toml").read_text(encoding="utf-8"))

PURPOSES = ("marketing", "analytics")
PRE_CONSENT = "pre-consent"
CONSENT_UNKNOWN = "consent-unknown"
PRE_CONSENT_HINT = ("Hold the pixel until the CMP reports consent (e.g. fbq('consent','revoke') until the CMP's "
                    "accept callback, or a consent trigger in the tag manager).")

# Bounds: a long session on many sites and devices must not grow without limit.
MAX_SITES = 2000  # (site, device) records, least recently used dropped
MAX_EVIDENCE = 20  # evidence entries kept per record
MAX_PENDING = 2000
MAX_COOKIE_VALUE = 8192
MAX_COOKIE_HEADERS = 256  # distinct Cookie headers whose readings are kept
MAX_RECENT_ERRORS = 20  # final errors per record that a later, earlier-dated consent may retract
# Browser clock vs proxy clock: a CMP timestamp this close after the hit still counts as before it.
CLOCK_SKEW_S = 0.25


class State(StrEnum):
    no_cmp = "no CMP seen"
    no_choice = "CMP loaded, no choice yet"
    denied = "denied"
    granted = "granted"
    unknown = "consent state unknown"


# A hit sent in these states is fine: no CMP on the site, or consent given.
NOT_JUDGED = frozenset({State.no_cmp, State.granted})


def clock(t: float) -> str:
    return _time.strftime("%H:%M:%S", _time.localtime(t))


@dataclass(frozen=True)
class Evidence:
    time: float
    text: str  # e.g. "OptanonConsent groups C0004:0"
    site: str

    def __str__(self) -> str:
        return f"{self.text} seen at {clock(self.time)} on {self.site}"


@dataclass
class Reading:
    """What one signal says. purposes: True granted / False denied; a purpose left out is not said."""

    source: str  # cookie name, "gcs", "Sec-GPC", rule name…
    text: str
    purposes: dict[str, bool] = field(default_factory=dict)
    choice: bool = True  # False: the CMP's defaults, the visitor has not chosen yet
    choice_time: float | None = None  # when the visitor chose, per the CMP's own timestamp
    # The CMP stored a choice pixelspy cannot map to marketing/analytics (the site's own group
    # ids or category names): the purposes it does not say are unknown, not "no choice yet".
    unmapped: bool = False


# ---- sites -------------------------------------------------------------------------------------

TWO_LEVEL_SUFFIXES = frozenset(TABLE["sites"]["two_level_suffixes"])


@lru_cache(maxsize=4096)  # called for every request; hosts repeat
def registrable_domain(host: str) -> str:
    """The site of a host: last two labels, three under a known two-level suffix (co.uk, com.au…).
    A heuristic, not the Public Suffix List; IP addresses and single labels are their own site."""
    host = host.strip().lower().rstrip(".").strip("[]")
    if not host:
        return ""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    labels = host.split(".")
    if len(labels) > 2 and ".".join(labels[-2:]) in TWO_LEVEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


# ---- cookie and string parsers -----------------------------------------------------------------
# Each takes (cookie name, raw cookie value, all cookies of the request, table entry) and returns a
# Reading, or None when the value is unreadable. They never raise on malformed input.

Parser = Callable[[str, str, dict[str, str], dict], "Reading | None"]


def _b(flag: bool) -> int:
    return int(flag)


def parse_onetrust(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    fields = dict(parse_qsl(value, keep_blank_values=True))
    if "groups" not in fields:
        return None
    groups = {}
    for part in fields["groups"].split(","):
        gid, _, flag = part.partition(":")
        if flag in ("0", "1"):
            groups[gid.strip()] = flag == "1"
    wanted = entry.get("groups", {"marketing": "C0004", "analytics": "C0002"})
    purposes = {p: groups[g] for p, g in wanted.items() if g in groups}
    interacted = fields.get("interactionCount", "0") not in ("", "0") or "OptanonAlertBoxClosed" in cookies
    # Group ids are the site's to choose: a group of OneTrust's default scheme missing means
    # this site numbers its groups otherwise, and the purposes not found are not known.
    if not purposes:
        return Reading(name, f"{name} groups {fields['groups'][:80]}", choice=interacted, unmapped=True)
    shown = ",".join(f"{wanted[p]}:{_b(v)}" for p, v in purposes.items())
    return Reading(name, f"{name} groups {shown}" + ("" if interacted else " (defaults, no interaction)"),
                   purposes, choice=interacted, unmapped=len(purposes) < len(wanted))


_JS_BOOL = re.compile(r"\b(\w+)\s*:\s*(true|false)")  # \b: linear on long words
_JS_UTC = re.compile(r"utc\s*:\s*(\d{10,13})")


def parse_cookiebot(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    text = unquote(value).strip()
    if text == "-1":  # Cookiebot: consent not required in the visitor's region
        return Reading(name, f"{name}=-1 (consent not required in the visitor's region)",
                       dict.fromkeys(PURPOSES, True))
    flags = {k: v == "true" for k, v in _JS_BOOL.findall(text)}
    purposes = {p: flags[k] for p, k in (("marketing", "marketing"), ("analytics", "statistics")) if k in flags}
    if not purposes:
        return None
    utc = _JS_UTC.search(text)
    return Reading(name, f"{name} marketing:{str(flags.get('marketing', '?')).lower()} "
                         f"statistics:{str(flags.get('statistics', '?')).lower()}",
                   purposes, choice_time=int(utc.group(1)) / 1000 if utc else None)


def _b64_json(value: str):
    raw = unquote(value).strip()
    try:
        data = base64.urlsafe_b64decode(raw.replace("+", "-").replace("/", "_") + "=" * (-len(raw) % 4))
        return json.loads(data)
    except (binascii.Error, ValueError):
        return None


def parse_didomi(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    data = _b64_json(value)
    block = data.get("purposes") if isinstance(data, dict) else None
    if not isinstance(block, dict):
        return None
    enabled = {str(x) for x in block.get("enabled") or [] if isinstance(x, str)}
    disabled = {str(x) for x in block.get("disabled") or [] if isinstance(x, str)}
    purposes = {}
    for p in PURPOSES:
        ids = set(entry.get(p, ()))
        if ids & disabled:
            purposes[p] = False
        elif ids & enabled:
            purposes[p] = True
    if not purposes:
        return None
    return Reading(name, f"{name} purposes enabled: {', '.join(sorted(enabled)) or 'none'}", purposes)


def parse_presence(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    """An opaque CMP cookie: a choice was made, its content is not readable."""
    return Reading(name, f"{name} present (a choice was made; its content is not readable)")


def _pairs(text: str, sep: str, kv: str) -> dict[str, str]:
    out = {}
    for part in text.split(sep):
        k, found, v = part.partition(kv)
        if found and k.strip():
            out[k.strip().lower()] = v.strip().lower()
    return out


def parse_cookieyes(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    fields = _pairs(unquote(value), ",", ":")
    purposes = {p: fields[k] == "yes" for p, k in (("marketing", "advertisement"), ("analytics", "analytics"))
                if fields.get(k) in ("yes", "no")}
    if not purposes:
        return None
    chose = fields.get("action") == "yes"
    shown = " ".join(f"{k}:{fields[k]}" for k in ("advertisement", "analytics") if k in fields)
    return Reading(name, f"{name} {shown}" + ("" if chose else " (no action yet)"), purposes, choice=chose)


def _flag_parser(yes: str, no: str) -> Parser:
    def parse(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
        v = unquote(value).strip().lower()
        if v not in (yes, no):
            return None
        targets = PURPOSES if entry.get("purpose", "all") == "all" else (entry["purpose"],)
        return Reading(name, f"{name}={v}", dict.fromkeys(targets, v == yes))
    return parse


def parse_iubenda(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    try:
        data = json.loads(unquote(value))
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    ids = entry.get("purposes", {"marketing": "5", "analytics": "4"})
    given = data.get("purposes")
    if isinstance(given, dict):
        purposes = {p: given[i] for p, i in ids.items() if isinstance(given.get(i), bool)}
        shown = " ".join(f"{i}:{str(given[i]).lower()}" for p, i in ids.items() if p in purposes)
    elif isinstance(data.get("consent"), bool):  # older per-site (not per-purpose) consent
        purposes = dict.fromkeys(PURPOSES, data["consent"])
        shown = f"consent:{str(data['consent']).lower()}"
    else:
        return None
    return Reading(name, f"{name} purposes {shown}", purposes) if purposes else None


NAME_WORDS = {p: tuple(TABLE["names"][p]) for p in PURPOSES}


def purpose_of_name(name: str) -> str | None:
    """Purpose of a site-defined category or service name ("marketing", "facebook-pixel"…)."""
    low = name.lower()
    for p in PURPOSES:
        if any(w in low for w in NAME_WORDS[p]):
            return p
    return None


def _services_reading(name: str, choices: dict[str, bool], shown: str) -> Reading | None:
    """Per-service choices: a purpose is granted when all its services are, denied when any is not."""
    by_purpose: dict[str, list[bool]] = {}
    for service, ok in choices.items():
        if (p := purpose_of_name(service)) is not None:
            by_purpose.setdefault(p, []).append(ok)
    purposes = {p: all(v) for p, v in by_purpose.items()}
    return Reading(name, f"{name} {shown}", purposes) if purposes else None


def _iso_time(value) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def parse_cc_cookie(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    """vanilla-cookieconsent: v3 {"categories": [...]}, v2 {"level": [...]}: the accepted categories."""
    try:
        data = json.loads(unquote(value))
    except ValueError:
        return None
    accepted = data.get("categories", data.get("level")) if isinstance(data, dict) else None
    if not isinstance(accepted, list):
        return None
    names = [c for c in accepted if isinstance(c, str)]
    granted = {purpose_of_name(c) for c in names}
    purposes = {p: p in granted for p in PURPOSES}
    return Reading(name, f"{name} categories {','.join(names) or '(none)'}", purposes,
                   choice_time=_iso_time(data.get("lastConsentTimestamp")))


def parse_klaro(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    try:
        data = json.loads(unquote(value))
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    choices = {k: v for k, v in data.items() if isinstance(v, bool)}
    return _services_reading(name, choices, " ".join(f"{k}:{str(v).lower()}" for k, v in choices.items()))


def parse_tarteaucitron(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    fields = _pairs(unquote(value), "!", "=")
    choices = {k: v == "true" for k, v in fields.items() if v in ("true", "false")}  # "wait": no choice
    return _services_reading(name, choices, "!".join(f"{k}={v}" for k, v in fields.items()))


# TCF core segment: fixed fields up to PublisherCC (213 bits) + the vendor-consent header (17 bits).
_TCF_MIN_CORE_BITS = 230
_TCF_CHARS = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
TCF_PURPOSES = {p: tuple(TABLE["tcf"][p]) for p in PURPOSES}


def tcf_purposes(tc_string: str) -> tuple[dict[int, bool], int] | None:
    """Consented TCF purposes and the CMP id of a TCF v2 TC string, or None when it is not one."""
    tc_string = unquote(tc_string).strip()
    if not _TCF_CHARS.fullmatch(tc_string):  # base64 decoding would silently skip foreign characters
        return None
    core = tc_string.split(".", 1)[0]
    try:
        if len(iab_tcf.base64_decode(core)) * 8 < _TCF_MIN_CORE_BITS:
            return None
        with warnings.catch_warnings():  # iab_tcf uses datetime.utcfromtimestamp (deprecated in 3.12)
            warnings.simplefilter("ignore", DeprecationWarning)
            consent = iab_tcf.decode(tc_string)
    except Exception:  # noqa: BLE001 - iab_tcf raises bare Exception / binascii / index errors on garbage
        return None
    if getattr(consent, "version", None) != 2:
        return None
    return dict(consent.purposes_consent), consent.cmp_id


@lru_cache(maxsize=256)
def tcf_reading(source: str, tc_string: str) -> Reading | None:
    decoded = tcf_purposes(tc_string)
    if decoded is None:
        return None
    consented, cmp_id = decoded
    purposes = {p: all(consented.get(i, False) for i in ids) for p, ids in TCF_PURPOSES.items()}
    on = ",".join(str(i) for i, ok in sorted(consented.items()) if ok) or "none"
    return Reading(source, f"{source} TCF purposes consented: {on} (CMP id {cmp_id})", purposes)


def parse_tcf(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    return tcf_reading(name, value)


PARSERS: dict[str, Parser] = {
    "onetrust": parse_onetrust,
    "cookiebot": parse_cookiebot,
    "didomi": parse_didomi,
    "presence": parse_presence,
    "cookieyes": parse_cookieyes,
    "yes_no": _flag_parser("yes", "no"),
    "allow_deny": _flag_parser("allow", "deny"),
    "iubenda": parse_iubenda,
    "cc_cookie": parse_cc_cookie,
    "klaro": parse_klaro,
    "tarteaucitron": parse_tarteaucitron,
    "tcf": parse_tcf,
}

# ---- consent signals inside tracking hits ------------------------------------------------------

GCD_GRANTED = frozenset(TABLE["google_consent"]["gcd_granted"])
GCD_DENIED = frozenset(TABLE["google_consent"]["gcd_denied"])
_GCS = re.compile(r"G1([01])([01])")


# The hits of a page repeat its consent strings, so their readings are cached (readings are never
# modified once made).
@lru_cache(maxsize=256)
def parse_gcs(value: str) -> Reading | None:
    m = _GCS.fullmatch(value.strip())
    if not m:
        return None
    ad, analytics = m.group(1) == "1", m.group(2) == "1"
    return Reading("gcs", f"Google consent mode gcs={value.strip()} (ad_storage "
                          f"{'granted' if ad else 'denied'}, analytics_storage {'granted' if analytics else 'denied'})",
                   {"marketing": ad, "analytics": analytics})


@lru_cache(maxsize=256)
def parse_gcd(value: str) -> Reading | None:
    letters = re.findall(r"[a-z]", value.strip())
    if len(letters) < 2:
        return None
    purposes = {}
    for p, letter in zip(("marketing", "analytics"), letters[:2]):  # ad_storage, analytics_storage
        if letter in GCD_GRANTED or letter in GCD_DENIED:
            purposes[p] = letter in GCD_GRANTED
    if not purposes:
        return None
    return Reading("gcd", f"Google consent mode gcd={value.strip()} (ad_storage {letters[0]}, "
                          f"analytics_storage {letters[1]})", purposes)


def hit_readings(event: TrackingEvent) -> list[Reading]:
    """Consent signals a tracking hit carries about its own page (gcs wins over gcd)."""
    out = []
    ps = params(event)
    if (gcs := ps.get("gcs")) and (r := parse_gcs(gcs)):
        out.append(r)
    elif (gcd := ps.get("gcd")) and (r := parse_gcd(gcd)):
        out.append(r)
    if ps.get("gdpr") == "1" and (tc := ps.get("gdpr_consent")):
        if r := tcf_reading("gdpr_consent", tc):
            out.append(r)
    if dpo := ps.get("dpo"):  # Meta Limited Data Use: a processing restriction, not consent
        out.append(Reading("dpo", f"Meta data processing options dpo={dpo}", choice=False))
    return out


# ---- per site state ----------------------------------------------------------------------------

@dataclass
class PurposeState:
    granted: bool
    by_default: bool  # the CMP's default, the visitor has not chosen
    evidence: Evidence
    choice_time: float | None


@dataclass
class SiteConsent:
    """The consent state of one site on one device, for the TUI."""

    site: str
    client: str  # the device (Devices.key)
    state: State  # for the marketing purpose
    purposes: dict[str, State]
    cmp: str | None
    evidence: list[Evidence]  # oldest first
    time: float  # last change
    gpc: bool  # the browser sent Sec-GPC: 1
    unknown_reason: str = ""


@dataclass
class _Record:
    site: str
    device: str
    cmp: str | None = None
    cmp_evidence: Evidence | None = None
    unknown_reason: str = ""
    purposes: dict[str, PurposeState] = field(default_factory=dict)
    evidence: deque = field(default_factory=lambda: deque(maxlen=MAX_EVIDENCE))
    last_text: dict[str, str] = field(default_factory=dict)  # source → last evidence text
    gpc: bool = False
    time: float = 0.0
    recent_errors: deque = field(default_factory=lambda: deque(maxlen=MAX_RECENT_ERRORS))

    def state(self, purpose: str) -> State:
        ps = self.purposes.get(purpose)
        if ps is not None:
            if ps.granted:
                return State.granted
            return State.no_choice if ps.by_default else State.denied
        if self.unknown_reason:
            return State.unknown
        return State.no_choice if self.cmp else State.no_cmp

    def why(self, purpose: str) -> Evidence | None:
        ps = self.purposes.get(purpose)
        return ps.evidence if ps else self.cmp_evidence

    def note(self, source: str, t: float, text: str) -> Evidence:
        """Record evidence once per distinct value of a source; returns the evidence in force.
        (Most hits repeat their page's signals: the repeat builds nothing.)"""
        if self.last_text.get(source) == text:
            for old in reversed(self.evidence):
                if old.text == text:
                    return old
        ev = Evidence(t, text, self.site)
        self.last_text[source] = text
        self.evidence.append(ev)
        self.time = t
        return ev


@dataclass
class _Pending:
    event: TrackingEvent
    record: _Record
    purpose: str
    page_host: str
    deadline: float


@dataclass(frozen=True)
class _UrlPattern:
    host: str  # "" = any host
    path: re.Pattern[str] | None

    def on_host(self, host: str) -> bool:
        return not self.host or host == self.host or host.endswith("." + self.host)

    def on_path(self, path: str) -> bool:
        return self.path is None or self.path.search(path) is not None


def _patterns(items: list[dict]) -> list[_UrlPattern]:
    return [_UrlPattern(i.get("host", ""), re.compile(i["path"]) if "path" in i else None) for i in items]


@dataclass(frozen=True)
class _Cmp:
    name: str
    scripts: list[_UrlPattern]
    log: list[_UrlPattern]
    unknown: str


def _load_cmps() -> tuple[list[_Cmp], dict[str, list[tuple[_Cmp, dict]]], list[tuple[str, _Cmp, dict]]]:
    cmps, by_name, by_prefix = [], {}, []
    for c in TABLE["cmp"]:
        cmp = _Cmp(c["name"], _patterns(c.get("scripts", [])), _patterns(c.get("log", [])), c.get("unknown", ""))
        cmps.append(cmp)
        for entry in c.get("cookies", []):
            if entry["parser"] not in PARSERS:
                raise ValueError(f"cmps.toml: {c['name']}: unknown parser {entry['parser']!r}")
            if "prefix" in entry:
                by_prefix.append((entry["prefix"], cmp, entry))
            else:
                by_name.setdefault(entry["name"], []).append((cmp, entry))
    tcf = _Cmp("TCF", [], [], "")
    by_name.setdefault(TABLE["tcf"]["cookie"], []).append((tcf, {"parser": "tcf"}))
    return cmps, by_name, by_prefix


CMPS, COOKIES_BY_NAME, COOKIES_BY_PREFIX = _load_cmps()


@lru_cache(maxsize=4096)  # every request asks; a session talks to a few hundred hosts
def cmp_patterns_on_host(host: str) -> tuple[tuple[tuple[_Cmp, tuple[_UrlPattern, ...], tuple[_UrlPattern, ...]], ...],
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


def _purpose_overrides() -> dict[str, list[tuple[str, str]]]:
    """platform → [(pixel ID prefix, purpose)], in table order."""
    out: dict[str, list[tuple[str, str]]] = {}
    for o in TABLE["platform_override"]:
        out.setdefault(o["platform"], []).append((o["pixel_id_prefix"], o["purpose"]))
    return out


PURPOSE_OVERRIDES = _purpose_overrides()


@lru_cache(maxsize=1024)  # called for every event; a session has a few pixels
def purpose_of(platform: str, pixel_id: str | None) -> str | None:
    """The consent purpose a vendor's pixel needs ("marketing", "analytics"), None for none."""
    for prefix, purpose in PURPOSE_OVERRIDES.get(platform, ()):
        if (pixel_id or "").startswith(prefix):
            return purpose
    return TABLE["platforms"].get(platform)


@lru_cache(maxsize=4096)  # every hit of a page carries the same URLs
def page_site(page_url: str, referer: str) -> str:
    """The site an event was sent from: its page URL's, else its Referer's."""
    return registrable_domain(host_of(page_url) or host_of(referer))


# ---- the check ---------------------------------------------------------------------------------

class ConsentCheck:
    def __init__(self, config: ConsentConfig | None = None):
        self.config = config or ConsentConfig()
        self._rules = self.config.rules
        self.reset()

    def reset(self) -> None:
        self._records: OrderedDict[tuple[str, str], _Record] = OrderedDict()
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        # Cookie header → its readings: every request of a page repeats the same header.
        # (CMP, reading, evidence text): every request of a page repeats them.
        self._readings_of_cookies: OrderedDict[str, tuple[tuple[_Cmp, Reading, str], ...]] = OrderedDict()

    # -- for the TUI

    def sites(self) -> list[SiteConsent]:
        out = []
        for rec in self._records.values():
            purposes = {p: rec.state(p) for p in PURPOSES}
            out.append(SiteConsent(rec.site, rec.device, purposes["marketing"], purposes, rec.cmp,
                                   list(rec.evidence), rec.time, rec.gpc, rec.unknown_reason))
        return sorted(out, key=lambda s: (s.site, s.client))

    # -- engine hooks

    def process(self, event: TrackingEvent, ctx) -> None:
        readings = hit_readings(event)
        site = page_site(event.page_url or "", event.referer)
        if not site:
            return
        device = event.device
        purpose = purpose_of(event.platform, event.pixel_id)
        if purpose and event.source == BROWSER and event.kind == KIND_EVENT:
            self._judge(event, site, device, purpose, readings, ctx)
        if readings:
            rec = self._record(site, device)
            t = event.time
            for r in readings:
                self._apply(rec, r, t, ctx)

    def observe_traffic(self, hit: RawHit, ctx) -> None:
        page_url = hit.header("referer") or hit.header("origin")
        page_site = registrable_domain(host_of(page_url)) if page_url else ""
        host_site = registrable_domain(hit.host)
        self._cmp_requests(hit, page_site or host_site, ctx)
        cookie_readings = self._cookie_readings(hit)
        gpc = hit.header("sec-gpc").strip() == "1"
        rec = None
        if cookie_readings or gpc or (host_site, hit.device) in self._records:
            rec = self._record(host_site, hit.device)
            for cmp, reading, seen in cookie_readings:
                self._saw_cmp(rec, cmp, hit.time, seen)
                self._apply(rec, reading, hit.time, ctx)
            if gpc:
                self._gpc(rec, hit.time, ctx)
        if rec is not None:
            self._settle(rec, hit, bool(cookie_readings), ctx)

    def tick(self, now: float, ctx) -> None:
        while self._pending:
            pid, p = next(iter(self._pending.items()))
            if p.deadline > now:
                break  # deadlines grow with insertion order (same timeout for all)
            del self._pending[pid]
            self._resolve(p, f"no request to {p.record.site} showed consent within "
                             f"{self.config.pending_timeout_s:g} s after the hit", ctx)

    def note_choice(self, site: str, when: float, purposes: dict[str, bool], text: str,
                    device: str | None, ctx) -> None:
        """A choice known from outside the traffic (`pixelspy audit` clicked the banner at `when` and
        read the CMP's state in the browser): applied like a CMP cookie carrying its own timestamp, and
        the hits waiting for a consent cookie settle on it now, not on a later first-party request
        that may never come."""
        site = registrable_domain(site)
        records = [r for (s, d), r in self._records.items() if s == site and device in (None, d)]
        if not records and device is not None:
            records = [self._record(site, device)]
        reading = Reading("choice", text, dict(purposes), choice=True, choice_time=when)
        for rec in records:
            self._apply(rec, reading, when, ctx)
            for pid, p in list(self._pending.items()):
                if p.record is rec:
                    del self._pending[pid]
                    self._resolve(p, f"{text} at {clock(when)}", ctx)

    # -- internals

    def _record(self, site: str, device: str) -> _Record:
        key = (site, device)
        rec = self._records.get(key)
        if rec is None:
            rec = self._records[key] = _Record(site, device)
            while len(self._records) > MAX_SITES:
                self._records.popitem(last=False)
        else:
            self._records.move_to_end(key)
        return rec

    def _saw_cmp(self, rec: _Record, cmp: _Cmp, t: float, text: str) -> None:
        if cmp.unknown and not rec.unknown_reason:
            rec.unknown_reason = cmp.unknown
        if rec.cmp is None and cmp.name != "TCF":
            rec.cmp = cmp.name
            rec.cmp_evidence = rec.note(f"cmp:{cmp.name}", t, text)

    def _cmp_requests(self, hit: RawHit, site: str, ctx) -> None:
        if not site:
            return
        host, path = hit.host, hit.path
        url_short = f"{host}{path}"
        patterns, any_path = cmp_patterns_on_host(host)  # patterns of this host: only paths to test
        for cmp, scripts, log in patterns if any_path.search(path) else ():
            if any(p.on_path(path) for p in scripts):
                self._saw_cmp(self._record(site, hit.device), cmp, hit.time, f"{cmp.name} loaded ({url_short})")
            if any(p.on_path(path) for p in log):
                rec = self._record(site, hit.device)
                self._saw_cmp(rec, cmp, hit.time, f"{cmp.name} consent log {url_short}")
                rec.note(f"log:{cmp.name}", hit.time, f"{cmp.name} consent choice logged ({url_short})")
        for rule in self._rules:
            if rule.script and re.search(rule.script, hit.url):
                self._saw_cmp(self._record(site, hit.device), _Cmp(rule.name, [], [], ""), hit.time,
                              f"{rule.name} loaded ({url_short})")
            elif rule.url and re.search(rule.url, hit.url):
                rec = self._record(site, hit.device)
                if rec.cmp is None:
                    rec.cmp = rule.name
                self._apply(rec, Reading(rule.name, f"{rule.name}: request to {url_short}",
                                         dict.fromkeys(rule.purposes, rule.means == "granted")), hit.time, ctx)

    def _cookie_readings(self, hit: RawHit) -> tuple[tuple[_Cmp, Reading, str], ...]:
        header = hit.header("cookie")
        if not header:
            return ()
        cache = self._readings_of_cookies
        readings = cache.get(header)
        if readings is None:
            readings = cache[header] = tuple(  # (readings are never modified)
                (cmp, reading, f"{cmp.name} cookie {reading.source}") for cmp, reading in self._read_cookies(header))
            if len(cache) > MAX_COOKIE_HEADERS:
                cache.popitem(last=False)
        return readings

    def _read_cookies(self, header: str) -> list[tuple[_Cmp, Reading]]:
        cookies = parse_cookie_header(header)
        out = []
        for name, value in cookies.items():
            entries = list(COOKIES_BY_NAME.get(name, ()))
            entries += [(cmp, e) for prefix, cmp, e in COOKIES_BY_PREFIX if name.startswith(prefix)]
            for cmp, entry in entries:
                too_long = len(value) > MAX_COOKIE_VALUE  # browsers cap cookies at 4 KB: not a real one
                reading = None if too_long else PARSERS[entry["parser"]](name, value, cookies, entry)
                if reading is None:
                    reading = Reading(name, f"{name} present but its values cannot be mapped to marketing or "
                                            f"analytics ({value[:40]!r})", choice=False, unmapped=True)
                out.append((cmp, reading))
        for rule in self._rules:
            if rule.cookie and rule.cookie in cookies:
                value = unquote(cookies[rule.cookie])
                for ok, rx in ((True, rule.granted), (False, rule.denied)):
                    if rx and re.search(rx, value):
                        out.append((_Cmp(rule.name, [], [], ""),
                                    Reading(rule.cookie, f"{rule.name}: cookie {rule.cookie}={value[:60]}",
                                            dict.fromkeys(rule.purposes, ok))))
                        break
        return out

    def _gpc(self, rec: _Record, t: float, ctx) -> None:
        rec.gpc = True
        if self.config.gpc_means_denied:
            self._apply(rec, Reading("Sec-GPC", "Sec-GPC: 1 (Global Privacy Control)", {"marketing": False}), t, ctx)
        else:
            rec.note("Sec-GPC", t, "Sec-GPC: 1 (Global Privacy Control)")

    def _apply(self, rec: _Record, r: Reading, t: float, ctx) -> None:
        ev = rec.note(r.source, t, r.text)
        if r.unmapped and not rec.unknown_reason:
            rec.unknown_reason = f"{r.text} (the site's own consent configuration)"
        for p, granted in r.purposes.items():
            old = rec.purposes.get(p)
            if old is None or (old.granted, old.by_default, old.evidence.text) != (granted, not r.choice, r.text):
                rec.purposes[p] = PurposeState(granted, not r.choice, ev, r.choice_time)
            if granted and r.choice_time is not None:
                self._retract_earlier(rec, p, r.choice_time, ctx)

    def _retract_earlier(self, rec: _Record, purpose: str, choice_time: float, ctx) -> None:
        """The CMP's own timestamp shows consent was given before these hits: they were fine."""
        for item in list(rec.recent_errors):
            event, p = item
            if p == purpose and choice_time <= event.time + CLOCK_SKEW_S:
                ctx.retract(event, PRE_CONSENT)
                rec.recent_errors.remove(item)

    def _judge(self, event: TrackingEvent, site: str, device: str, purpose: str, own: list[Reading],
               ctx) -> None:
        if own and any(r.purposes.get(purpose) is False for r in own):
            return  # the hit itself says consent is denied (a consent-mode cookieless ping): allowed
        rec = self._records.get((site, device))
        if rec is None:
            return  # no CMP seen on the site
        state = rec.state(purpose)
        if state in NOT_JUDGED:
            return
        what = f"{vendor(event)} {event.title}"
        if state == State.unknown:
            ctx.emit(event, Finding(
                code=CONSENT_UNKNOWN, severity=Severity.info,
                message=f"{what} on {site}: consent state unknown: {rec.unknown_reason}",
                hint="Enable TCF (euconsent-v2) or Google consent mode in the CMP, or describe the banner "
                     "in pixelspy.toml [[consent.rules]], so pixelspy can read the choice."))
            return
        why = rec.why(purpose)
        ctx.emit(event, Finding(
            code=PRE_CONSENT, severity=Severity.error, pending=True,
            message=f"{what} fired while {purpose} consent on {site} is '{state}' ({why}); waiting up to "
                    f"{self.config.pending_timeout_s:g} s for the consent cookie",
            hint=PRE_CONSENT_HINT))
        self._pending[event.id] = _Pending(event, rec, purpose, host_of(event.page_url or event.referer),
                                           event.time + self.config.pending_timeout_s)
        while len(self._pending) > MAX_PENDING:
            _, oldest = self._pending.popitem(last=False)
            self._resolve(oldest, "too many hits waiting", ctx)

    def _settle(self, rec: _Record, hit: RawHit, has_consent_cookie: bool, ctx) -> None:
        """A request to the site after a pending hit shows the state at that moment. Without a consent
        cookie only a request to the page's own host counts: host-only cookies skip other subdomains."""
        for pid, p in list(self._pending.items()):
            if p.record is rec and hit.time >= p.event.time and (has_consent_cookie or hit.host == p.page_host):
                del self._pending[pid]
                self._resolve(p, f"request to {hit.host} at {clock(hit.time)}", ctx)

    def _resolve(self, p: _Pending, when: str, ctx) -> None:
        rec, purpose, event = p.record, p.purpose, p.event
        state = rec.state(purpose)
        ps = rec.purposes.get(purpose)
        consented_after = (state == State.granted and ps is not None and ps.choice_time is not None
                           and ps.choice_time > event.time + CLOCK_SKEW_S)
        if state in (State.granted, State.no_cmp) and not consented_after:
            ctx.retract(event, PRE_CONSENT)
            return
        if consented_after:
            detail = f"consent was given only at {clock(ps.choice_time)} ({ps.evidence})"
        else:
            detail = f"{purpose} consent was '{state}' ({rec.why(purpose)}; {when})"
        ctx.emit(event, Finding(
            code=PRE_CONSENT, severity=Severity.error,
            message=f"{vendor(event)} {event.title} fired before {purpose} consent on {rec.site} at "
                    f"{clock(event.time)}: {detail}",
            hint=PRE_CONSENT_HINT))
        rec.recent_errors.append((event, purpose))


def make_checks(config: Config) -> list:
    return [ConsentCheck(config.consent)]
