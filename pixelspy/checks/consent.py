"""Pre-consent firing: marketing (and analytics) hits sent before the visitor's consent.

Finding codes: `pre-consent` (error; pending while the CMP cookie may still be on its way) and
`consent-unknown` (info: the CMP keeps the choice where a proxy cannot see it).

Per site (registrable domain of the page) and device (Devices.key: each browser has its own cookies),
the check keeps a consent timeline built from traffic the proxy already sees: CMP script loads, CMP
consent cookies in the Cookie header of requests to the site, consent signals inside tracking hits
(Google consent mode gcs/gcd, TCF gdpr_consent, GPP, US Privacy, Meta dpo), `Sec-GPC`, CMP
consent-logging requests and the user's own rules. What each signal says is read by pixelspy/consent/
(the CMP table cmps.toml and its parsers); this module keeps the state and judges the hits.

A CMP writes its cookie in JavaScript, so the proxy sees an "accept" only on the next request to the
site: a hit fired in that gap is kept pending until the next first-party request (or the timeout)
shows the state at that moment. See docs/consent.md.

Why ≈ 425 lines: ConsentCheck is one state machine (per site and device the timeline, the hits
pending on it, what retracts or settles them) whose methods all read and change that state; the
readers of what a signal says are already apart, in pixelspy/consent/.
"""

from __future__ import annotations

import re
import time as _time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import unquote

from pixelspy.checks.rules import BROWSER, KIND_EVENT, host_of, vendor
from pixelspy.checks.state import TIME
from pixelspy.config import Config, ConsentConfig
from pixelspy.consent.hits import hit_readings
from pixelspy.consent.readers import Cmp, cmp_patterns_on_host, parse_cookie_header, read_cookies
from pixelspy.consent.reading import Reading
from pixelspy.consent.sites import page_site, registrable_domain
from pixelspy.consent.table import PURPOSES, purpose_of
from pixelspy.memo import memo
from pixelspy.model import Finding, RawHit, Severity, TrackingEvent

PRE_CONSENT = "pre-consent"
CONSENT_UNKNOWN = "consent-unknown"
PRE_CONSENT_HINT = ("Hold the pixel until the CMP reports consent (e.g. fbq('consent','revoke') until the CMP's "
                    "accept callback, or a consent trigger in the tag manager).")

# Bounds: a long session on many sites and devices must not grow without limit.
MAX_SITES = 2000  # (site, device) records, least recently used dropped
MAX_EVIDENCE = 20  # evidence entries kept per record
MAX_PENDING = 2000
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


# ---- per site state ----------------------------------------------------------------------------

@dataclass
class PurposeState:
    granted: bool
    by_default: bool  # the CMP's default, the visitor has not chosen
    evidence: Evidence
    choice_time: float | None
    withdrawn: bool = False  # denied by a choice after a choice that granted it (for the findings' words)


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
    recent_errors: deque = field(default_factory=lambda: deque(maxlen=MAX_RECENT_ERRORS))  # (Seen, purpose)

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
    state_at_hit: State  # as the proxy saw it when the hit came (for the findings' words)


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
        self._readings_of_cookies: OrderedDict[str, tuple[tuple[Cmp, Reading, str], ...]] = OrderedDict()

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
        if not readings and not self._records:
            return  # no consent seen anywhere yet (no CMP, cookie or signal): nothing to judge by
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

    traffic_headers = frozenset({"referer", "origin", "cookie", "sec-gpc"})  # what observe_traffic reads

    def traffic_matters(self, hit: RawHit, ctx) -> bool:
        """Whether observe_traffic can change anything on this request (the engine skips it when
        not): a CMP's script or consent log on its host, a consent cookie, Sec-GPC: 1, a record of
        the host's site on this device (a hit pending there may settle), any rule of the user's."""
        if self._rules:
            return True
        header = hit.header_map().get
        host_site, patterns, any_path = _host_facts(hit.host)
        return ((host_site, hit.device) in self._records
                or bool(patterns) and any_path.search(hit.path) is not None
                or header("sec-gpc", "").strip() == "1"
                or bool(self._cookie_readings(header("cookie", ""))))

    def observe_traffic(self, hit: RawHit, ctx) -> None:
        header = hit.header_map().get  # (every request the proxy relays comes here)
        host = hit.host
        host_site, patterns, any_path = _host_facts(host)
        page_url = header("referer") or header("origin")
        # (page_site: a page's every request names it, its query differing from page to page)
        site = (page_site(page_url, "") if page_url else "") or host_site
        if site:
            self._cmp_requests(hit, host, site, patterns, any_path, ctx)
        cookie_readings = self._cookie_readings(header("cookie", ""))
        gpc = header("sec-gpc", "").strip() == "1"
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

    def _saw_cmp(self, rec: _Record, cmp: Cmp, t: float, text: str) -> None:
        if cmp.unknown and not rec.unknown_reason:
            rec.unknown_reason = cmp.unknown
        if rec.cmp is None and not cmp.signal:
            rec.cmp = cmp.name
            rec.cmp_evidence = rec.note(f"cmp:{cmp.name}", t, text)

    def _cmp_requests(self, hit: RawHit, host: str, site: str, patterns: tuple, any_path: re.Pattern[str],
                      ctx) -> None:
        """CMP scripts and consent logs (`patterns`, `any_path`: cmp_patterns_on_host(host)), and the
        user's rules' scripts and URLs."""
        path = hit.path
        if patterns and any_path.search(path):  # (most paths match none: nothing more to test)
            url_short = f"{host}{path}"
            for cmp, scripts, log in patterns:
                if any(p.on_path(path) for p in scripts):
                    self._saw_cmp(self._record(site, hit.device), cmp, hit.time, f"{cmp.name} loaded ({url_short})")
                if any(p.on_path(path) for p in log):
                    rec = self._record(site, hit.device)
                    self._saw_cmp(rec, cmp, hit.time, f"{cmp.name} consent log {url_short}")
                    rec.note(f"log:{cmp.name}", hit.time, f"{cmp.name} consent choice logged ({url_short})")
        for rule in self._rules:
            if rule.script and re.search(rule.script, hit.url):
                self._saw_cmp(self._record(site, hit.device), Cmp(rule.name, [], [], ""), hit.time,
                              f"{rule.name} loaded ({host}{path})")
            elif rule.url and re.search(rule.url, hit.url):
                rec = self._record(site, hit.device)
                if rec.cmp is None:
                    rec.cmp = rule.name
                self._apply(rec, Reading(rule.name, f"{rule.name}: request to {host}{path}",
                                         dict.fromkeys(rule.purposes, rule.means == "granted")), hit.time, ctx)

    def _cookie_readings(self, header: str) -> tuple[tuple[Cmp, Reading, str], ...]:
        """The readings of a request's Cookie header."""
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

    def _read_cookies(self, header: str) -> list[tuple[Cmp, Reading]]:
        """The table's consent cookies, then the user's cookie rules."""
        cookies = parse_cookie_header(header)
        out = read_cookies(cookies)
        for rule in self._rules:
            if rule.cookie and rule.cookie in cookies:
                value = unquote(cookies[rule.cookie])
                for ok, rx in ((True, rule.granted), (False, rule.denied)):
                    if rx and re.search(rx, value):
                        out.append((Cmp(rule.name, [], [], ""),
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
                withdrawn = (not granted and r.choice and old is not None
                             and (old.withdrawn or old.granted and not old.by_default))
                rec.purposes[p] = PurposeState(granted, not r.choice, ev, r.choice_time, withdrawn)
            if granted and r.choice_time is not None:
                self._retract_earlier(rec, p, r.choice_time, ctx)

    def _retract_earlier(self, rec: _Record, purpose: str, choice_time: float, ctx) -> None:
        """The CMP's own timestamp shows consent was given before these hits: they were fine."""
        for item in list(rec.recent_errors):
            seen, p = item
            if p == purpose and choice_time <= seen[TIME] + CLOCK_SKEW_S:
                if (event := ctx.event(seen)) is not None:
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
                                           event.time + self.config.pending_timeout_s, state)
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
        ctx.emit(event, Finding(code=PRE_CONSENT, severity=Severity.error,
                                message=final_message(p, when), hint=PRE_CONSENT_HINT))
        rec.recent_errors.append((ctx.seen(event), purpose))


@memo(maxsize=4096)  # every request asks; a session talks to a few hundred hosts
def _host_facts(host: str) -> tuple[str, tuple, re.Pattern[str]]:
    """A request's host's site, and the CMP patterns that can match a URL on it (cmp_patterns_on_host)."""
    return (registrable_domain(host), *cmp_patterns_on_host(host))


def final_message(p: _Pending, when: str) -> str:
    """The final pre-consent verdict in words true to the case: fired before any choice (or before
    the consent given later), after a refusal, while denied (Sec-GPC, consent mode, an opt-out), after
    consent was withdrawn, or with no choice seen before it and a denial since."""
    rec, purpose, event = p.record, p.purpose, p.event
    what, site, at = f"{vendor(event)} {event.title}", rec.site, clock(event.time)
    state, ps = rec.state(purpose), rec.purposes.get(purpose)
    if state == State.granted:  # only after the hit, per the CMP's own timestamp
        return (f"{what} fired before {purpose} consent on {site} at {at}: consent was given only at "
                f"{clock(ps.choice_time)} ({ps.evidence})")
    evidence = f"{rec.why(purpose)}; {when}"
    if state != State.denied or ps is None:
        return f"{what} fired before {purpose} consent on {site} at {at}: {purpose} consent was '{state}' ({evidence})"
    if ps.withdrawn:
        return f"{what} fired at {at} after {purpose} consent on {site} was withdrawn (granted, then denied: {evidence})"
    if ps.choice_time is not None and ps.choice_time > event.time + CLOCK_SKEW_S:
        return (f"{what} fired before {purpose} consent on {site} at {at}; the visitor then refused {purpose} "
                f"consent at {clock(ps.choice_time)} ({evidence})")
    if ps.choice_time is not None:
        return (f"{what} fired at {at} after the visitor refused {purpose} consent on {site} at "
                f"{clock(ps.choice_time)} ({evidence})")
    if p.state_at_hit == State.denied:
        return f"{what} fired at {at} while {purpose} consent on {site} was denied ({evidence})"
    return (f"{what} fired without {purpose} consent on {site} at {at}: no choice seen before it, denied since "
            f"({evidence})")


def make_checks(config: Config) -> list:
    return [ConsentCheck(config.consent)]
