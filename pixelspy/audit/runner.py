"""One browser visit per consent state × device, each through its own pixelspy proxy (in this process,
on a free 127.0.0.1 port, --sink by default) into its own Session, so the states' findings never mix,
and its own HAR (redacted, `_pixelspy` annotated) as evidence."""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

from pixelspy.audit import browser as browsers
from pixelspy.audit.cmp import CHOICE_TEXT, ConsentClicker
from pixelspy.audit.pages import LINKS_JS, MAX_ROBOTS_CHARS, Crawl, Robots, Step
from pixelspy.audit.stored import StoredConsent, read_stored
from pixelspy.checks import CheckEngine
from pixelspy.config import Config
from pixelspy.flows import run_waiting
from pixelspy.har import HarRecorder
from pixelspy.inert import inert
from pixelspy.proxy import Proxy, ProxyConfig, ProxyStartError
from pixelspy.report import AuditRun, EventTally, FileReport
from pixelspy.session import Mark, Session

PAGE_TIMEOUT_S = 30.0  # a page's load event
# What the proxy answers when it cannot reach the site (or a gateway in front of it could not).
UNREACHABLE = (502, 504)
CMP_WAIT_S = 8.0  # for autoconsent to find the banner and click, on the first page
NETWORK_IDLE_S = 5.0  # then at most this long for the page's requests to calm down:
QUIET_S = 0.5  # none in flight for this long
DWELL_S = 1.0  # and a little more for timers (a pixel fired a moment after load)
ROBOTS_TIMEOUT_S = 5.0
TICK_S = 0.5  # time-based checks settle pending verdicts this often, as in the live proxy


@dataclass
class AuditPlan:
    starts: list[str]  # the start URL or the URL list
    page_limit: int  # pages to visit, same-site links included
    states: list[str]
    devices: list[str]
    config: Config
    steps: list[Step] = field(default_factory=list)
    out: Path | None = None
    sink: bool = True
    redact: bool = True
    browser: str | None = None
    delay_s: float = 1.0  # between two page loads of a visit
    dwell_s: float = DWELL_S  # on a page once its requests calmed down, for timers
    # (what is being done, the share of the whole audit done before it: 0-1)
    progress: Callable[[str, float], None] = lambda line, done: None


def file_slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "device"


class NetworkWatch:
    """The browser context's requests in flight. Playwright's own "networkidle" is a page-load state,
    reached once per navigation: it does not wait for what a click on the banner sends."""

    def __init__(self) -> None:
        self.in_flight: set = set()
        self.last_change = time.monotonic()

    def watch(self, context) -> None:
        context.on("request", self._started)
        for event in ("requestfinished", "requestfailed"):
            context.on(event, self._ended)

    def _started(self, request) -> None:
        self.in_flight.add(request)
        self.last_change = time.monotonic()

    def _ended(self, request) -> None:
        self.in_flight.discard(request)
        self.last_change = time.monotonic()

    async def quiet(self, quiet_s: float, timeout_s: float) -> None:
        """Until no request was in flight for `quiet_s` (a page that never goes quiet, polling or video,
        is audited all the same after `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.in_flight and time.monotonic() - self.last_change >= quiet_s:
                return
            await asyncio.sleep(0.05)


class Visit:
    """One consent state on one device: its proxy, session, browser context and what it saw."""

    def __init__(self, plan: AuditPlan, state: str, device: str, confdir: str, slot: tuple[int, int] = (0, 1)):
        self.plan, self.state, self.device = plan, state, device
        self.slot = slot  # (this visit's index, the number of visits): for the progress shown
        self.session = Session(CheckEngine(plan.config))
        self.tally = EventTally()
        self.session.subscribe(self.tally)
        # All traffic: the first-party requests carry the consent cookies `pixelspy open` judges the hits by.
        self.recorder = HarRecorder(self.session, None, all_traffic=True, redact=plan.redact)
        self.proxy_config = ProxyConfig(listen_host="127.0.0.1", port=0, sink=plan.sink, confdir=confdir,
                                        addons=[self.recorder])
        self.clicker = ConsentClicker(state, self._chose)
        self.network = NetworkWatch()
        self.pages: list[str] = []  # every page loaded, steps included
        self.crawled: list[str] = []  # the pages of the URL list or crawl (the next visits load the same)
        self.problems: list[str] = []
        self.started = time.time()
        self.page = None  # the visit's tab, once open

    async def _chose(self, site: str, when: float, accepted: bool, cmp: str) -> StoredConsent:
        """The click worked: the consent check learns of it with the purposes the CMP stored (read
        back from the browser), or, when nothing readable was stored, the ones clicked."""
        stored = await read_stored(self.page) if self.page is not None else StoredConsent()
        text = CHOICE_TEXT["accept" if accepted else "reject"]
        if stored.readings:
            text += f"; the CMP stored {stored.says()}"
        purposes = {"marketing": accepted, "analytics": accepted} | stored.purposes
        self.session.note_choice(site, when, purposes, text)
        self.session.add_marks([Mark(f"{text} ({cmp})" if cmp else text, when)])
        return stored

    async def run(self, browser, context_options: dict, page_plan: list[str] | None) -> AuditRun:
        proxy = Proxy(self.session, self.proxy_config)
        try:
            await proxy.start()
        except ProxyStartError as e:
            raise browsers.AuditError(f"pixelspy audit: could not start the proxy: {inert(str(e))}") from None
        ticker = asyncio.get_running_loop().create_task(self._tick())
        try:
            host, port = proxy.listen_addrs[0][:2]
            # "<-loopback>": Chromium sends 127.0.0.1 and localhost through the proxy too.
            context = await browser.new_context(proxy={"server": f"http://{host}:{port}", "bypass": "<-loopback>"},
                                                ignore_https_errors=True, **context_options)
            try:
                await self.clicker.install(context)
                self.network.watch(context)
                page = self.page = await context.new_page()
                await self._visit_pages(page, page_plan)
                await self._run_steps(page)
            finally:
                with _gone_already():
                    await context.close()
                await self.clicker.close()
        finally:
            ticker.cancel()
            await proxy.stop()
        self.session.tick(float("inf"))  # the visit is over: nothing pending will still arrive
        return self._result()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self.session.tick(time.time())

    async def _visit_pages(self, page, page_plan: list[str] | None) -> None:
        if page_plan is not None:  # the pages the first visit found
            crawl = Crawl(page_plan, len(page_plan))
        else:
            crawling = 0 < len(self.plan.starts) < self.plan.page_limit
            robots = await _robots(page.context, self.plan.starts[0]) if crawling else None
            crawl = Crawl(self.plan.starts, self.plan.page_limit, robots)
        delay = max(self.plan.delay_s, crawl.robots.delay_s)
        while (url := crawl.next(len(self.crawled))) is not None:
            self.crawled.append(url)
            if self.pages:
                await asyncio.sleep(delay)  # polite to the site
            self.plan.progress(f"{self.state} {self.device}: page {len(self.crawled)}/{crawl.limit} {url}",
                               self._done((len(self.crawled) - 1) / crawl.limit))
            if not await self._load(page, url):
                continue
            if page_plan is None:
                crawl.found(await page.evaluate(LINKS_JS), page.url)

    async def _load(self, page, url: str) -> bool:
        self.pages.append(url)
        self.session.add_marks([Mark(f"audit opened {url}", time.time())])
        try:
            response = await page.goto(url, wait_until="load", timeout=PAGE_TIMEOUT_S * 1000)
        except Exception as e:  # noqa: BLE001 - Playwright's errors: unreachable, timeout, crashed page
            self.problems.append(f"{url}: {_first_line(e)}")
            return False
        if response is not None and response.status in UNREACHABLE:
            self.problems.append(f"{url}: HTTP {response.status}: the site could not be reached")
            return False
        await self._settle()
        if len(self.pages) == 1:
            await self._choose()
        return True

    async def _choose(self) -> None:
        """On the first page, once it settled: click the banner as the state asks. What the page sent
        until then it sent before any choice (a fresh browser, the banner up): the hits still waiting
        for a consent cookie are settled so now. Otherwise the CMP's cookie, reaching the proxy a moment
        before the audit hears that its click worked, would excuse them when it carries no time of its
        own (Klaro's does not)."""
        await self.clicker.wait_looked(CMP_WAIT_S)
        if not self.clicker.outcome.popup or self.state == "none":
            return
        run_waiting()  # hits whose ingest still waits for its batch (flows.after_hook_in_batch) came before
        self.session.tick(time.time() + self.plan.config.consent.pending_timeout_s)
        await self.clicker.click()
        await self._settle()

    async def _settle(self) -> None:
        await self.network.quiet(QUIET_S, NETWORK_IDLE_S)
        await asyncio.sleep(self.plan.dwell_s)

    async def _run_steps(self, page) -> None:
        steps = self.plan.steps
        for n, step in enumerate(steps, 1):
            self.plan.progress(f"{self.state} {self.device}: step {n}/{len(steps)}: {step.action} {step.arg}",
                               self._done(1.0))
            self.session.add_marks([Mark(f"audit step {n}: {step.action} {step.arg}"[:200], time.time())])
            try:
                if step.action == "navigate":
                    if not await self._load(page, step.arg):
                        return
                    continue
                if step.action == "click":
                    await page.click(step.arg, timeout=PAGE_TIMEOUT_S * 1000)
                elif _seconds(step.arg) is not None:
                    await asyncio.sleep(_seconds(step.arg))
                else:
                    await page.wait_for_selector(step.arg, timeout=PAGE_TIMEOUT_S * 1000)
            except Exception as e:  # noqa: BLE001 - a funnel step that fails ends the funnel, said in the report
                self.problems.append(f"step {n} (line {step.line}: {step.action} {step.arg}): {_first_line(e)}")
                return
            await self._settle()

    def _done(self, share_of_visit: float) -> float:
        index, count = self.slot
        return min(1.0, (index + share_of_visit) / count)

    def _result(self) -> AuditRun:
        out = self.plan.out
        har = out / f"{self.state}-{file_slug(self.device)}.har" if out else None
        if har is not None:
            try:
                self.recorder.write(har)  # with the findings as they are now, all settled
            except OSError as e:
                self.problems.append(f"cannot write {har}: {e.strerror or e}")
                har = None
        outcome = self.clicker.outcome
        report = FileReport(str(har) if har else f"{self.state} {self.device}", problems=self.problems,
                            format="audit", tally=self.tally)
        return AuditRun(state=self.state, device=self.device, report=report, har_path=str(har) if har else None,
                        cmp=outcome.cmp, action=outcome.action, consent=outcome.consent,
                        choice_time=outcome.click_time, started=self.started, pages=self.pages)


async def _robots(context, start: str) -> Robots:
    """The start site's robots.txt, fetched through the visit's proxy (none, or unreadable: no rules)."""
    try:
        response = await context.request.get(urljoin(start, "/robots.txt"), timeout=ROBOTS_TIMEOUT_S * 1000,
                                             max_redirects=3)
        if response.ok:
            return Robots((await response.body())[:MAX_ROBOTS_CHARS].decode("utf-8", "replace"))
    except Exception:  # noqa: BLE001 - unreachable, timed out: the crawl goes on without rules
        pass
    return Robots()


def _seconds(text: str) -> float | None:
    try:
        return max(0.0, min(float(text), 600.0))
    except ValueError:
        return None


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return inert(text.splitlines()[0][:300] if text else type(e).__name__)


async def audit(plan: AuditPlan) -> list[AuditRun]:
    """Every state × device, one after the other; browsers.AuditError when no browser starts or a
    device is unknown."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browsers.device_names(pw, plan.devices)  # an unknown name fails before the browser starts
        browser = await browsers.launch(pw, plan.browser)
        try:
            return await visit_all(pw, browser, plan)
        finally:
            with _gone_already():
                await browser.close()


async def visit_all(pw, browser, plan: AuditPlan) -> list[AuditRun]:
    """The visits of `plan` in a running browser."""
    devices = browsers.device_names(pw, plan.devices)
    desktop_ua = await browsers.ordinary_user_agent(browser)
    runs: list[AuditRun] = []
    page_plan = None  # the first visit finds the pages; the others visit the same ones
    # The proxy's CA lives only for the audit: nothing is installed or left in ~/.mitmproxy.
    count = len(devices) * len(plan.states)
    with tempfile.TemporaryDirectory(prefix="pixelspy-audit-") as confdir:
        for device in devices:
            options = browsers.device_options(pw, device, desktop_ua)
            for state in plan.states:
                visit = Visit(plan, state, device, confdir, (len(runs), count))
                run = await visit.run(browser, options, page_plan)
                page_plan = page_plan or visit.crawled
                runs.append(run)
                plan.progress(f"{state} {device}: {run.action}; {run.report.tally.total} events", len(runs) / count)
    return runs


def _gone_already():
    """Closing what Ctrl+C may have ended already (it reaches the browser and Playwright's driver too)."""
    return contextlib.suppress(Exception)
