"""Clicking the consent banner with DuckDuckGo's autoconsent (`duckduckgo-autoconsent-py`: its content
script and 1,000+ CMP rules), as its own Playwright runner does: the script runs in every frame and talks
to us through a binding; we answer its `init` with the rules and what to do (opt out, opt in, nothing),
and hear what it found and whether its clicks worked (cmpDetected, popupFound, optOutResult,
optInResult, autoconsentDone, autoconsentError).

Nothing here trusts the page: the messages come from a script running inside it, so only their known
fields are read, as plain values, and the texts are cut."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

from pixelspy.audit.stored import StoredConsent

STATES = ("none", "reject", "accept")
ACTION_MESSAGE = {"reject": "optOut", "accept": "optIn"}
CHOICE_TEXT = {"reject": "audit clicked reject all", "accept": "audit clicked accept all"}
CONSENT_AFTER = {"reject": "denied", "accept": "granted"}
MAX_TEXT = 200  # of a CMP name or error text from the page
MAX_ERRORS = 5
# Frames (documents) given the rules in one visit, each answer ~1 MB: a page sending `init` in a loop
# must not stall the audit.
MAX_INITS = 500
# autoconsent looks for a CMP this many times, 0.5 s apart, on each page (its default is 20).
DETECT_RETRIES = 10
CLICK_WAIT_S = 10.0  # for autoconsent's clicks through the banner (some open a settings layer first)
SELF_TEST_WAIT_S = 3.0

# Runs before autoconsent's content script: stamps each message with the page's clock, so the audit
# knows when a click began (a hit the click fires may reach the proxy before the message reaches us).
STAMP_JS = """(() => {
  const send = window.autoconsentSendMessage;
  if (typeof send !== "function") return;
  window.autoconsentSendMessage = (m) => send(Object.assign({}, m, {sentAt: Date.now()}));
})();"""
# The rules go over as one JSON string (much cheaper for Playwright than the object tree).
RECEIVE_JS = """(m) => {
  if (typeof m.rules === "string") m.rules = {autoconsent: JSON.parse(m.rules)};
  return window.autoconsentReceiveMessage && window.autoconsentReceiveMessage(m);
}"""


@lru_cache(maxsize=1)
def _assets() -> tuple[str, str]:
    from duckduckgo_autoconsent import bundle, rules_json

    return bundle(), rules_json()


def autoconsent_config() -> dict:
    return {
        "enabled": True,
        # Never click at once: a person reads the banner first, and what the page sends meanwhile is
        # sent before any choice. The audit asks for the click (ConsentClicker.click) once the page settled.
        "autoAction": None,
        "disabledCmps": [],
        # The banner stays visible (prehiding hides it before the click): `none` must see it as a person does.
        "enablePrehide": False,
        # Cosmetic rules only hide a banner, which records no choice: that would be no reject, no accept.
        "enableCosmeticRules": False,
        "enableGeneratedRules": True,
        "detectRetries": DETECT_RETRIES,
        # The script runs in the page's own world (Playwright's init scripts do): rule snippets run inline.
        "isMainWorld": True,
        "logs": {"lifecycle": False, "rulesteps": False, "detectionsteps": False, "evals": False, "errors": False,
                 "messages": False, "waits": False},
    }


def _text(value) -> str:
    return str(value)[:MAX_TEXT] if isinstance(value, (str, int, float, bool)) else ""


@dataclass
class CmpOutcome:
    """What autoconsent found and did in one visit (the first CMP banner it handled)."""

    state: str
    cmp: str | None = None  # the CMP detected
    popup: bool = False  # its banner showed
    clicked: bool | None = None  # None: not tried (yet); True: the opt-out/opt-in worked; False: it failed
    click_time: float | None = None  # epoch seconds, when autoconsent began the click
    site: str = ""  # the host of the page the click happened on
    # After a refusal, autoconsent's self-test of the CMP's own state (its cookie, its API): None when
    # the rule has none (or it did not answer).
    confirmed: bool | None = None
    stored: StoredConsent | None = None  # what the CMP stored after the click, read back from the browser
    nothing_found: bool = False  # autoconsent gave up looking on a page
    errors: list[str] = field(default_factory=list)  # autoconsent's own (e.g. two CMPs' banners at once)

    @property
    def action(self) -> str:
        """What the audit did, plainly."""
        if self.state == "none":
            if self.popup:
                return f"banner of {self.cmp} left alone"
            return f"{self.cmp} found, but its banner did not show" if self.cmp else "no CMP found"
        verb = "reject all" if self.state == "reject" else "accept all"
        if self.clicked:
            # What the CMP stored says more than autoconsent's self-test (which only some rules have).
            checked = self._stored_text() or {True: "; the CMP's state confirms it",
                                              False: "; but the CMP's state does not show it", None: ""}[self.confirmed]
            return f"clicked {verb} ({self.cmp}){checked}"
        if self.clicked is False:
            why = f" ({self.errors[0]})" if self.errors else ""
            return f"click failed: autoconsent could not {verb} on {self.cmp}'s banner{why}"
        if self.cmp and not self.popup:
            return f"{self.cmp} found, but its banner did not show: nothing to {verb}"
        if self.popup:
            return f"click on {self.cmp}'s banner did not finish"
        return f"no CMP found: nothing to {verb}"

    def _stored_marketing(self) -> bool | None:
        return self.stored.purposes.get("marketing") if self.stored is not None else None

    def _stored_text(self) -> str:
        if (granted := self._stored_marketing()) is None:
            return ""  # nothing pixelspy can read: the click is taken at its word
        if granted == (self.state == "accept"):
            return f"; the CMP stored {self.stored.says()}"
        return f"; but the CMP stored {self.stored.says()}, contrary to the click"

    @property
    def consent(self) -> str:
        """granted | denied after a click that worked (as the CMP stored it, when the audit can read
        that; else as clicked), not asked when the banner was left alone, unknown otherwise (no CMP,
        a failed click): never silently granted."""
        if self.state == "none":
            return "not asked" if self.popup else "unknown"
        if not self.clicked:
            return "unknown"
        granted = self._stored_marketing()
        return CONSENT_AFTER[self.state] if granted is None else CONSENT_AFTER["accept" if granted else "reject"]

    @property
    def looked(self) -> bool:
        """The banner was found, or autoconsent gave up looking on the first page."""
        return self.popup or self.nothing_found


# Called once per click that worked: (page host, click time, accepted?, CMP name) → what the CMP stored.
ChoiceListener = Callable[[str, float, bool, str], Awaitable[StoredConsent]]


class ConsentClicker:
    """Installs autoconsent in a browser context and follows its messages into a CmpOutcome."""

    def __init__(self, state: str, on_choice: ChoiceListener):
        self.outcome = CmpOutcome(state)
        self.on_choice = on_choice
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._click_started: float | None = None
        self._popup_frame = None  # the frame autoconsent found the banner in
        self._self_test = False  # the CMP's rule can check its state after the click
        self._inits = 0  # frames given the rules

    async def install(self, context) -> None:
        bundle, _ = _assets()
        await context.expose_binding("autoconsentSendMessage", self._message)
        await context.add_init_script(STAMP_JS)
        await context.add_init_script(bundle)

    async def wait_looked(self, timeout: float) -> None:
        """Until the banner is found or autoconsent gave up looking (or `timeout`)."""
        await self._wait(lambda: self.outcome.looked, timeout)

    async def click(self) -> None:
        """Reject or accept on the banner found (nothing for `none`, or without a banner), and wait for
        the outcome; a choice that worked is passed to on_choice, which reads what the CMP stored."""
        action = ACTION_MESSAGE.get(self.outcome.state)
        if action is None or self._popup_frame is None:
            return
        self._answer(self._popup_frame, {"type": action})
        await self._wait(lambda: self.outcome.clicked is not None, CLICK_WAIT_S)
        out = self.outcome
        if out.clicked:
            out.stored = await self.on_choice(out.site, out.click_time, out.state == "accept", out.cmp or "")
        if self.outcome.clicked and self._self_test:
            self._answer(self._popup_frame, {"type": "selfTest"})
            await self._wait(lambda: self.outcome.confirmed is not None, SELF_TEST_WAIT_S)

    async def _wait(self, done: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done() and (left := deadline - time.monotonic()) > 0:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                break

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- messages from the page

    def _message(self, source, msg) -> None:
        if not isinstance(msg, dict):
            return
        kind = msg.get("type")
        frame = source.get("frame")
        if kind == "init" and frame is not None and self._inits < MAX_INITS:
            self._inits += 1
            _, rules = _assets()
            self._answer(frame, {"type": "initResp", "config": autoconsent_config(), "rules": rules})
        elif kind == "eval" and frame is not None:  # (isMainWorld: not used) a rule check we cannot run
            self._answer(frame, {"type": "evalResp", "id": _text(msg.get("id")), "result": False})
        else:
            self._follow(kind, msg, source)
        self._changed.set()

    def _follow(self, kind, msg: dict, source) -> None:
        out = self.outcome
        cmp = _text(msg.get("cmp")) or None
        if kind == "cmpDetected" and out.cmp is None:
            out.cmp = cmp
        elif kind == "popupFound" and not out.popup:
            out.cmp, out.popup = cmp or out.cmp, True
            self._popup_frame = source.get("frame")
        elif kind == "report":
            lifecycle = (msg.get("state") or {}).get("lifecycle") if isinstance(msg.get("state"), dict) else None
            if lifecycle in ("runningOptOut", "runningOptIn") and self._click_started is None:
                sent = msg.get("sentAt")
                self._click_started = sent / 1000 if isinstance(sent, (int, float)) else time.time()
            elif lifecycle == "nothingDetected" and msg.get("mainFrame") is True:
                out.nothing_found = True
        elif kind in ("optOutResult", "optInResult") and out.clicked is None and out.state != "none":
            out.cmp = cmp or out.cmp
            out.clicked = msg.get("result") is True
            self._self_test = msg.get("scheduleSelfTest") is True
            if out.clicked:
                out.click_time = self._click_started or time.time()
                page = source.get("page")
                out.site = urlsplit(page.url if page is not None else _text(msg.get("url"))).hostname or ""
        elif kind == "selfTestResult" and out.confirmed is None:
            out.confirmed = msg.get("result") is True
        elif kind == "autoconsentError" and len(out.errors) < MAX_ERRORS:
            details = msg.get("details")
            text = details.get("msg") if isinstance(details, dict) else details
            out.errors.append(f"autoconsent: {_text(text)}")

    def _answer(self, frame, message: dict) -> None:
        task = asyncio.get_running_loop().create_task(self._evaluate(frame, message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _evaluate(frame, message: dict) -> None:
        try:
            await frame.evaluate(RECEIVE_JS, message)
        except Exception:  # noqa: BLE001 - the frame navigated away or closed meanwhile
            pass
