"""End to end: `pixelspy audit` drives the system Chromium through its own in-process proxy over local
shops (tests/e2e/audit_shop/) using real CMPs from npm, vanilla-cookieconsent (with its default
`hideFromBots`: the banner shows only if the audit's browser looks like a person's) and Klaro, with
Meta's and TikTok's base codes loading stand-in loaders that send real-shaped hits to the vendors'
hostnames (answered by the sink):

- correct: the tags are held by the CMP until marketing consent;
- early: the tags are pasted outside the CMP and fire on load, before any choice;
- ignores: the tags load once the visitor chose, whatever the choice (a refusal included);
- klaro: Klaro holds Meta's tag, TikTok's is pasted outside it.

Each is audited in all three consent states; the verdicts are asserted. Also: no banner, an unreachable
site, the command line (HARs, devices, a funnel), a missing browser, and nothing left running after
success, failure and Ctrl+C.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pixelspy import cli
from pixelspy.config import Config
from tests.e2e.browser import CHROMIUM, NPM_PREFIX, cmp_package, require_chromium, serve  # noqa: F401 - a fixture

pytest.importorskip("playwright.async_api")
pytest.importorskip("duckduckgo_autoconsent")

from pixelspy.audit import browser as browsers  # noqa: E402
from pixelspy.audit import cmp as cmps  # noqa: E402
from pixelspy.audit.pages import read_steps  # noqa: E402
from pixelspy.audit.runner import AuditPlan, audit, visit_all  # noqa: E402

E2E = Path(__file__).parent
SHOP = "/audit_shop"
DWELL_S = 0.2  # the stand-ins fire as soon as they load; waiting for the network to go quiet is enough
BOTH_PAGEVIEWS = [("meta", "PageView"), ("tiktok", "Pageview → PageView")]


@pytest.fixture(scope="module")
def base(cmp_package):
    require_chromium()
    # The whole tests/e2e folder: the shops use the vendors' stand-ins in shop_site/standins/.
    with serve(E2E, ["127.0.0.1"]) as [url]:
        yield url


def plan(starts: list[str], **kw) -> AuditPlan:
    options = dict(page_limit=len(starts), states=list(cmps.STATES), devices=["desktop"], config=Config(),
                   browser=str(CHROMIUM), delay_s=0.0, dwell_s=DWELL_S)
    return AuditPlan(starts=starts, **(options | kw))


@pytest.fixture(scope="module")
def klaro_package() -> Path:
    """Klaro from the npm registry, in a prefix of its own (an install into vanilla-cookieconsent's
    would prune it); served as /.npm-cache/klaro/node_modules/klaro/dist/klaro.js."""
    prefix = NPM_PREFIX / "klaro"
    if not (prefix / "node_modules" / "klaro" / "dist" / "klaro.js").exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot install Klaro for the audit test")
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "install", "--prefix", str(prefix), "--no-save", "--no-package-lock", "--no-audit",
                        "--no-fund", "klaro@0.7"], check=True, capture_output=True, timeout=120)
    return prefix


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def proxy_ports():
    """The ports every audit of this module listened on (its proxies)."""
    from pixelspy.proxy import Proxy

    ports, start = [], Proxy.start

    async def recording_start(self):
        await start(self)
        ports.extend(addr[1] for addr in self.listen_addrs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Proxy, "start", recording_start)
        yield ports


SHOPS = {"correct": 5, "early": 1, "ignores": 1}  # pages: the correct shop is crawled (it links a second page)


@pytest.fixture(scope="module")
def audits(base, klaro_package, proxy_ports):
    """The audits of the module in one browser (a launch costs seconds): each shop in the three states
    (a start URL each), Klaro's shop, a shop without a banner, and a site that cannot be reached."""
    plans = {shop: plan([f"{base}{SHOP}/{shop}.html"], page_limit=pages) for shop, pages in SHOPS.items()}
    plans["klaro"] = plan([f"{base}{SHOP}/klaro.html"])
    plans["locked"] = plan([f"{base}{SHOP}/locked.html"], states=["reject"])
    plans["no-cmp"] = plan([f"{base}{SHOP}/no-cmp.html"], states=["accept"])
    plans["unreachable"] = plan([f"http://127.0.0.1:{closed_port()}/"], states=["reject"])

    async def run_all():
        from playwright.async_api import async_playwright

        async with async_playwright() as pw:
            browser = await browsers.launch(pw, str(CHROMIUM))
            try:
                return {name: {run.state: run for run in await visit_all(pw, browser, p)}
                        for name, p in plans.items()}
            finally:
                await browser.close()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cmps, "DETECT_RETRIES", 1)  # autoconsent gives up looking after ~1 s (the shop without one)
        return asyncio.run(run_all())


def events(run) -> list[tuple[str, str]]:
    return sorted((platform, title) for (platform, _, _, title), n in run.report.tally.counts.items()
                  for _ in range(n))


def errors(run) -> list[tuple[str, str, str]]:
    return sorted((ev.platform, f.code, f.message) for ev, f in run.report.findings() if f.severity == "error")


def test_every_visit_found_the_banner_and_did_what_its_state_asks(audits):
    for shop, runs in ((shop, audits[shop]) for shop in SHOPS):
        assert list(runs) == ["none", "reject", "accept"]
        for state, run in runs.items():
            # The banner showed: vanilla-cookieconsent's hideFromBots saw an ordinary browser.
            assert run.cmp == "cookieconsent3", (shop, state, run.action)
            assert run.report.problems == [] and run.report.error is None
        none, reject, accept = runs.values()
        assert (none.action, none.consent, none.choice_time) == ("banner of cookieconsent3 left alone", "not asked", None)
        # After each click the audit read what the CMP stored (its cc_cookie, through pixelspy's reader).
        assert (reject.action, reject.consent) == (
            "clicked reject all (cookieconsent3); the CMP stored analytics denied, marketing denied (cc_cookie)",
            "denied")
        assert (accept.action, accept.consent) == (
            "clicked accept all (cookieconsent3); the CMP stored analytics granted, marketing granted (cc_cookie)",
            "granted")
        for run in (reject, accept):
            assert run.started < run.choice_time


def test_the_correct_shop_sends_nothing_before_accept_and_is_clean(audits, base):
    runs = audits["correct"]
    start, second = f"{base}{SHOP}/correct.html", f"{base}{SHOP}/correct-teas.html"
    for run in runs.values():  # the crawl found the same-site page; the fragment and other site were skipped
        assert run.pages == [start, second]
    assert events(runs["none"]) == events(runs["reject"]) == []
    assert events(runs["accept"]) == sorted(BOTH_PAGEVIEWS * 2)
    assert [f for run in runs.values() for _, f in run.report.findings()] == []


def test_the_shop_firing_on_load_has_pre_consent_errors_in_every_state(audits):
    for state, run in audits["early"].items():
        assert events(run) == sorted(BOTH_PAGEVIEWS)
        found = errors(run)
        assert [(platform, code) for platform, code, _ in found] == [("meta", "pre-consent"), ("tiktok", "pre-consent")], state
        assert all(not f.pending for _, f in run.report.findings())
        # Sent while the banner was up and no choice made (the audit clicks once the page settled).
        assert all("marketing consent was 'CMP loaded, no choice yet'" in msg for *_, msg in found), state


def test_the_shop_ignoring_a_refusal_is_an_error_after_reject_only(audits):
    none, reject, accept = audits["ignores"].values()
    assert events(none) == []  # no choice, no tags
    assert events(reject) == sorted(BOTH_PAGEVIEWS)
    assert [(p, code) for p, code, _ in errors(reject)] == [("meta", "pre-consent"), ("tiktok", "pre-consent")]
    # (on the evidence that came first: the audit's click, or the CMP's cookie on the next request)
    assert all("refused marketing consent" in msg for *_, msg in errors(reject))
    # The hits the accept click fired come before any later request shows the CMP's cookie: the click
    # itself settles them.
    assert events(accept) == sorted(BOTH_PAGEVIEWS) and accept.report.findings() == []


def test_the_reports_carry_the_matrix_verdicts_of_the_shop_ignoring_a_refusal(audits):
    """The renderers over real runs: what a marketer reads in the JSON and the HTML."""
    from pixelspy.report import audit_exit_code, render_audit

    runs = list(audits["ignores"].values())
    doc = json.loads(render_audit(runs, "json", "error"))
    assert doc["exit_code"] == audit_exit_code(runs, "error") == 1
    rows = {row["platform"]: row for row in doc["matrix"]}
    assert sorted(rows) == ["meta", "tiktok"]
    for row in rows.values():
        assert row["verdicts"]["desktop"]["code"] == "pre-consent"
        assert row["verdicts"]["desktop"]["text"] == "fires without consent: after reject"
        assert [(c["state"], c["verdict"], c["fired"]) for c in row["cells"]] == [
            ("none", "silent", 0), ("reject", "pre-consent", 1), ("accept", "fired", 1)]
        assert "refused marketing consent" in row["cells"][1]["evidence"][0]
    html = render_audit(runs, "html", "error")
    assert "FAIL: 2 errors" in html and html.count("fires without consent: after reject") >= 2
    correct = json.loads(render_audit(list(audits["correct"].values()), "json", "error"))
    assert [row["verdicts"]["desktop"]["code"] for row in correct["matrix"]] == ["correct", "correct"]


def test_a_second_cmp_klaro_is_clicked_and_a_tag_outside_it_is_caught(audits):
    """Klaro holds Meta's tag; TikTok's is pasted outside it. Klaro's cookie carries no time of its own:
    TikTok's hit before the accept click is still an error."""
    runs = audits["klaro"]
    assert [(run.cmp, run.action, run.consent) for run in runs.values()] == [
        ("Klaro", "banner of Klaro left alone", "not asked"),
        ("Klaro", "clicked reject all (Klaro); the CMP stored marketing denied (klaro)", "denied"),
        ("Klaro", "clicked accept all (Klaro); the CMP stored marketing granted (klaro)", "granted")]
    for state, run in runs.items():
        assert [(p, code) for p, code, _ in errors(run)] == [("tiktok", "pre-consent")], state
    assert events(runs["none"]) == events(runs["reject"]) == [("tiktok", "Pageview → PageView")]
    assert events(runs["accept"]) == sorted(BOTH_PAGEVIEWS)


def test_a_cmp_storing_marketing_granted_after_reject_is_said_plainly(audits):
    """The shop's CMP keeps marketing read-only and on: "Reject all" stores it granted. The audit
    reads cc_cookie back and says so; the consent check judges by what the CMP stored."""
    run = audits["locked"]["reject"]
    assert (run.action, run.consent) == ("clicked reject all (cookieconsent3); but the CMP stored analytics denied, "
                                         "marketing granted (cc_cookie), contrary to the click", "granted")
    assert events(run) == sorted(BOTH_PAGEVIEWS) and errors(run) == []


def test_no_banner_is_consent_unknown_never_granted(audits):
    run = audits["no-cmp"]["accept"]
    assert (run.cmp, run.action, run.consent, run.choice_time) == (None, "no CMP found: nothing to accept all",
                                                                   "unknown", None)
    assert events(run) == sorted(BOTH_PAGEVIEWS)


def test_an_unreachable_page_is_a_problem_of_the_report(audits):
    run = audits["unreachable"]["reject"]
    [page] = run.pages
    assert run.report.problems == [f"{page}: HTTP 502: the site could not be reached"]
    assert (run.action, run.consent) == ("no CMP found: nothing to reject all", "unknown")


def test_the_command_writes_a_har_per_state_and_device_and_runs_a_funnel(base, tmp_path, capsys):
    out = tmp_path / "audit"
    steps = E2E / "audit_shop" / "funnel.txt"
    code = cli.main(["audit", f"{base}{SHOP}/correct.html", "--pages", "1", "--steps", str(steps),
                     "--consent", "accept", "--device", "iphone 13", "--out", str(out), "--format", "json",
                     "--delay", "0", "--dwell", str(DWELL_S), "--browser", str(CHROMIUM)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["accept-iphone-13.har", "report.json"]
    assert f"pixelspy audit: accept iPhone 13: page 1/1 {base}{SHOP}/correct.html" in err.splitlines()
    assert "pixelspy audit: accept iPhone 13: step 3/3: wait 0.5" in err.splitlines()
    json.loads((out / "report.json").read_text())
    entries = json.loads((out / "accept-iphone-13.har").read_text())["log"]["entries"]
    annotated = [e["_pixelspy"] for e in entries if e.get("_pixelspy")]
    # The funnel's AddToCart (after the pages' PageViews), decoded into the evidence.
    assert [ev["event"] for a in annotated for ev in a["events"] if ev["platform"] == "meta"] == [
        "PageView", "PageView", "AddToCart"]
    # Redacted for sharing: the consent cookie kept (it is the evidence), other cookies not.
    cookies = [h["value"] for e in entries for h in e["request"]["headers"] if h["name"].lower() == "cookie"]
    assert any("cc_cookie=" in c and "REDACTED" not in c.split("cc_cookie=")[1][:5] for c in cookies)
    assert all("_fbp=REDACTED" in c for c in cookies if "_fbp=" in c)
    # The device's user agent and viewport.
    assert any("iPhone" in h["value"] for e in entries for h in e["request"]["headers"] if h["name"].lower() == "user-agent")


def test_a_steps_file_is_checked_before_the_browser_starts(tmp_path, capsys):
    bad = tmp_path / "steps.txt"
    bad.write_text("navigate /cart\ntype #email someone\n")
    assert cli.main(["audit", "https://shop.example/", "--steps", str(bad)]) == 2
    assert capsys.readouterr().err == (f"pixelspy audit: {bad}:2: expected 'navigate URL', 'click SELECTOR' or "
                                       "'wait SECONDS|SELECTOR', got 'type #email someone'\n")
    # Relative URLs are resolved against the start URL.
    funnel = read_steps(str(E2E / "audit_shop" / "funnel.txt"), "https://shop.example/")
    assert [(s.action, s.arg) for s in funnel] == [("navigate", "https://shop.example/audit_shop/correct-teas.html"),
                                                   ("click", "#add-to-cart"), ("wait", "0.5")]


def test_a_missing_browser_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    if Path("/opt/google/chrome/chrome").exists():
        pytest.skip("Google Chrome is installed: Playwright's chrome channel would start it")
    monkeypatch.setattr(browsers, "PATH_NAMES", ())
    monkeypatch.setattr(browsers, "SYSTEM_PATHS", ())
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))  # no Playwright-installed browser either
    assert cli.main(["audit", "https://shop.example/"]) == 2
    assert capsys.readouterr().err == browsers.NO_BROWSER + "\n"
    assert cli.main(["audit", "https://shop.example/", "--browser", str(tmp_path / "chrome")]) == 2
    assert capsys.readouterr().err == f"pixelspy audit: --browser {tmp_path / 'chrome'}: no such file\n"


# ---- an audit leaves nothing running: browser, proxies, ports -------------------------------------

def descendants(pid: int) -> set[int]:
    """The processes below `pid` now (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    return {p for p in pids if Path(f"/proc/{p}").exists() and "zombie" not in _state(p)}


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split("\n", 1)[0].lower()
    except (OSError, IndexError):
        return "zombie"


def refused(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def browser_processes() -> set[int]:
    """This process's descendants that are Playwright's driver or Chromium."""
    def cmdline(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return ""
    return {p for p in alive(descendants(os.getpid())) if "chromium" in cmdline(p) or "playwright" in cmdline(p)}


def test_after_success_and_failure_no_browser_proxy_or_port_is_left(audits, base, proxy_ports, monkeypatch):
    assert browser_processes() == set()  # after the module's audits
    # A visit that fails half-way: the error reaches the caller, after the cleanup.
    from pixelspy.audit.runner import Visit

    async def broken(self, page, page_plan):
        await page.goto(f"{base}{SHOP}/correct.html")
        raise RuntimeError("a bug half-way through a visit")

    monkeypatch.setattr(Visit, "_visit_pages", broken)
    with pytest.raises(RuntimeError, match="half-way"):
        asyncio.run(audit(plan([f"{base}{SHOP}/correct.html"], states=["none"])))
    # (the module's audits, the command's, this one)
    assert len(proxy_ports) > sum(len(runs) for runs in audits.values()) and all(refused(p) for p in proxy_ports)
    assert browser_processes() == set()


def test_ctrl_c_ends_the_audit_and_everything_it_started(base):
    audit_cmd = [sys.executable, "-m", "pixelspy", "audit", f"{base}{SHOP}/correct.html", "--browser", str(CHROMIUM),
                 "--delay", "0", "--dwell", "30"]
    # Its own session, like a shell's job: Ctrl+C goes to the whole group (python and Playwright's driver).
    proc = subprocess.Popen(audit_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            text=True)
    try:
        first = proc.stderr.readline()  # the first page is loading: browser and proxy are up
        assert first.startswith("pixelspy audit: none desktop: page 1/5"), first
        started = descendants(proc.pid)
        assert len(started) > 2  # Playwright's driver, Chromium and its helpers
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.stderr.read() == "pixelspy audit: interrupted\n"
    deadline = time.monotonic() + 5
    while alive(started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive(started) == set()


def test_the_crawl_keeps_to_the_site_and_its_pages():
    from pixelspy.audit.pages import Crawl

    crawl = Crawl(["https://www.shop.example/"], limit=4)
    assert crawl.next(0) == "https://www.shop.example/"
    crawl.found(["/teas#top", "/teas", "https://shop.example/about", "https://cdn.shop.example/menu.pdf",
                 "/account/logout", "mailto:a@b.example", "javascript:void(0)", "https://other.example/",
                 "//www.shop.example/cart?x=1", 42, "https://www.shop.example/"], "https://www.shop.example/")
    assert [crawl.next(n) for n in (1, 2, 3)] == ["https://www.shop.example/teas", "https://shop.example/about",
                                                  "https://www.shop.example/cart?x=1"]
    assert crawl.next(4) is None  # the limit


def test_the_crawl_follows_robots_txt():
    from pixelspy.audit.pages import Crawl, Robots

    robots = Robots("User-agent: *\nDisallow: /account/\nCrawl-delay: 2\n\nUser-agent: OtherBot\nDisallow: /\n")
    crawl = Crawl(["https://shop.example/account/start"], limit=5, robots=robots)
    crawl.found(["/account/orders", "/teas"], "https://shop.example/account/start")
    # The page named by the user is visited; links robots.txt disallows are not followed.
    assert [crawl.next(n) for n in range(3)] == ["https://shop.example/account/start", "https://shop.example/teas", None]
    assert robots.delay_s == 2.0 and Robots().delay_s == 0.0
    assert Robots("Crawl-delay: 1000\nUser-agent: *\nCrawl-delay: 1000").delay_s == 30.0


def test_progress_is_one_line_redrawn_on_a_terminal_and_lines_elsewhere(monkeypatch):
    import io

    from pixelspy.audit.command import ProgressLine

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(shutil, "get_terminal_size", lambda fallback=None: os.terminal_size((60, 24)))
    tty = Terminal()
    progress = ProgressLine(tty)
    progress("\x1b]52;c;x\x07 page 1/2", 0.0)  # wire text (a URL) made inert
    progress("none desktop: page 2/2 https://shop.example/teas", 0.5)
    progress.end()
    frames = tty.getvalue().split("\r")[1:]
    assert [len(f) for f in frames] == [59, 60]  # the terminal's width less one; the last ends the line
    assert frames[0] == "[....................]   0% pixelspy audit: \\x1b]52;c;x\\x07 page 1/2"[:59]
    assert frames[1] == ("[##########..........]  50% pixelspy audit: none desktop: page 2/2 https://shop.e"[:59]
                         + "\n")
    assert "\x1b" not in tty.getvalue() and "\x07" not in tty.getvalue()
    log = io.StringIO()
    ProgressLine(log)("reject desktop: page 1/1 https://shop.example/", 0.5)
    assert log.getvalue() == "pixelspy audit: reject desktop: page 1/1 https://shop.example/\n"
