"""What the CMP stored, read back after the audit's click (pixelspy.audit.stored), over a stand-in
page answering as Playwright's would: cookies through the CMP readers, the TCF and GPP APIs decoded,
and whatever the page returns that is not a plain string ignored."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

from pixelspy.audit.stored import GPP_JS, MAX_STRING, TCF_JS, read_stored
from tests.checks.test_consent import GPP_USNAT_OPTED_OUT, TCF_ALL

CC_REJECTED = quote(json.dumps({"categories": ["necessary"], "revision": 0, "consentTimestamp": "2026-12-06T20:00:00Z"}))


class Page:
    url = "https://shop.example/"

    def __init__(self, cookies: dict[str, str], tcf=None, gpp=None, fail: bool = False):
        self._cookies, self.answers, self.fail = cookies, {TCF_JS: tcf, GPP_JS: gpp}, fail
        self.context = self

    async def cookies(self, url: str) -> list[dict]:
        return [{"name": n, "value": v} for n, v in self._cookies.items()]

    async def evaluate(self, js: str, arg):
        if self.fail:
            raise RuntimeError("Execution context was destroyed")
        return self.answers[js]


def stored(page: Page):
    return asyncio.run(read_stored(page))


def test_the_cmp_cookie_and_the_tcf_string_are_read_and_a_denial_wins():
    s = stored(Page({"cc_cookie": CC_REJECTED, "_fbp": "fb.1.2.3"}, tcf=[TCF_ALL, ""]))
    assert [r.source for r in s.readings] == ["cc_cookie", "__tcfapi"]
    assert s.purposes == {"marketing": False, "analytics": False}
    assert s.says() == "analytics denied, marketing denied (cc_cookie, __tcfapi)"


def test_the_tcf_and_gpp_apis_alone():
    assert stored(Page({}, tcf=[TCF_ALL, ""])).purposes == {"marketing": True, "analytics": True}
    gpp = stored(Page({}, gpp=[GPP_USNAT_OPTED_OUT, "7"]))
    assert gpp.sources == "__gpp" and gpp.purposes["marketing"] is False


def test_what_the_page_returns_is_hostile():
    for answer in ({"tcString": TCF_ALL}, [TCF_ALL], [1, 2], ["x" * (MAX_STRING + 1), ""], ["not a tc string", ""]):
        assert stored(Page({}, tcf=answer)).readings == []
    assert stored(Page({"cc_cookie": "%%%{not json"})).readings == []  # unreadable: says nothing
    assert stored(Page({"cc_cookie": CC_REJECTED}, tcf=[TCF_ALL, ""], fail=True)).sources == "cc_cookie"
