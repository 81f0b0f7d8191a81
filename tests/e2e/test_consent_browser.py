"""End to end: real headless Chromium → pixelspy → a test shop using the real vanilla-cookieconsent
CMP from npm, and the Meta pixel firing before / after the visitor's choice.

Each scenario gets its own loopback address (127.0.0.1 … 127.0.0.4), so its own site in pixelspy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.browser import (  # noqa: F401 - cmp_package is a fixture
    chromium_through, cmp_package, new_context, require_chromium, serve,
)

pytest.importorskip("playwright.sync_api")

SITE = Path(__file__).parent / "consent_site"
PENDING_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def shop(cmp_package):
    """The test shop on four loopback addresses: one site per scenario."""
    with serve(SITE, [f"127.0.0.{i}" for i in range(1, 5)]) as bases:
        yield bases


@pytest.fixture
def browser_proxy(pixelspy_factory, tmp_path):
    require_chromium()
    config = tmp_path / "pixelspy.toml"
    config.write_text(f"[consent]\npending_timeout_s = {PENDING_TIMEOUT_S}\n")
    spy = pixelspy_factory("--sink", "--config", str(config))
    with chromium_through(spy.proxy_url) as browser:
        yield spy, browser


def meta_events(evs: list[dict], base: str) -> list[dict]:
    return sorted((e for e in evs if e["platform"] == "meta" and (e["page_url"] or "").startswith(base)),
                  key=lambda e: e["time"])


def codes(ev: dict) -> list[tuple[str, bool]]:
    return [(f["code"], f["pending"]) for f in ev["findings"]]


def final_error(ev: dict) -> dict | None:
    return next((f for f in ev["findings"] if f["code"] == "pre-consent" and not f["pending"]), None)


def new_page(browser):
    return new_context(browser).new_page()


def test_pixel_before_and_after_consent_in_real_chromium(shop, browser_proxy):
    spy, browser = browser_proxy
    load_site, gated_site, ignores_choice_site, returning_site = shop

    # 1. The pixel fires on load, before any choice: an error once the wait for a consent cookie ends.
    page1 = new_page(browser)
    page1.goto(f"{load_site}/?fire=load")
    page1.wait_for_selector("#cc-main [data-role=all]")
    evs = spy.wait_for(lambda evs: (m := meta_events(evs, load_site)) and final_error(m[0]))
    first = meta_events(evs, load_site)[0]
    error = final_error(first)
    assert first["event"] == "PageView" and error["severity"] == "error"
    assert "fired before marketing consent on 127.0.0.1" in error["message"]
    assert "CMP loaded, no choice yet" in error["message"]
    # The CMP script itself went through pixelspy (no loopback bypass).
    assert "vanilla-cookieconsent loaded (127.0.0.1/node_modules/vanilla-cookieconsent/dist/" in error["message"]

    # 2. The pixel is gated on the "marketing" category and fires after "accept": no finding.
    page2 = new_page(browser)
    page2.goto(f"{gated_site}/?fire=gated")
    page2.click("#cc-main [data-role=all]")
    evs = spy.wait_for(lambda evs: meta_events(evs, gated_site))
    accepted = meta_events(evs, gated_site)
    assert [e["event"] for e in accepted] == ["PageView"]

    # 3. The visitor rejects, the page fires anyway: an error; on the next page the cookie says so.
    page3 = new_page(browser)
    page3.goto(f"{ignores_choice_site}/?fire=after-choice")
    page3.click("#cc-main [data-role=necessary]")
    spy.wait_for(lambda evs: (m := meta_events(evs, ignores_choice_site)) and final_error(m[0]))
    page3.goto(f"{ignores_choice_site}/?fire=after-choice&visit=2")  # onConsent runs on every load
    evs = spy.wait_for(lambda evs: len(m := meta_events(evs, ignores_choice_site)) == 2 and final_error(m[1]))
    rejected = meta_events(evs, ignores_choice_site)
    assert [e["event"] for e in rejected] == ["Lead", "Lead"]
    assert "marketing consent on 127.0.0.3" in final_error(rejected[0])["message"]
    second = final_error(rejected[1])["message"]
    # The refusal (cc_cookie dates it) came before this hit: not "before consent".
    assert "after the visitor refused marketing consent on 127.0.0.3" in second
    assert "cc_cookie categories necessary seen at" in second

    # 4. A returning visitor who accepted: the page load carries the consent cookie: no finding.
    page4 = new_page(browser)
    page4.goto(f"{returning_site}/?fire=load")
    spy.wait_for(lambda evs: (m := meta_events(evs, returning_site)) and final_error(m[0]))
    page4.wait_for_timeout(1000)  # a visitor reads the banner; a choice this close to the hit may be the same
    page4.click("#cc-main [data-role=all]")
    page4.goto(f"{returning_site}/?fire=load&visit=2")
    evs = spy.wait_for(lambda evs: len(meta_events(evs, returning_site)) == 2)
    before, after = meta_events(evs, returning_site)
    assert final_error(before) is not None  # fired before the choice: still an error
    assert "visit=2" in after["page_url"]
    assert after["findings"] == []  # not even pending: a finding is printed with the event itself

    # The gated hit never even went pending: every JSON line printed for it is clean.
    assert [line["findings"] for line in list(spy.lines) if line["id"] == accepted[0]["id"]] == [[]]
