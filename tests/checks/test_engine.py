"""The engine itself: a broken check costs neither the event nor the other checks' findings."""

import logging

from pixelspy.checks import CheckEngine
from pixelspy.model import Finding, RawHit, Severity
from pixelspy.session import Session


class Broken:
    def process(self, event, ctx):
        raise RuntimeError("bug in a check")


class Marks:
    def process(self, event, ctx):
        ctx.emit(event, Finding(code="marked", severity=Severity.info, message="seen"))


def test_a_failing_check_is_logged_and_the_event_still_published(caplog):
    session = Session(CheckEngine(checks=[Broken(), Marks()]))
    published = []
    session.subscribe(lambda ev, update: published.append(ev))
    with caplog.at_level(logging.ERROR, logger="pixelspy.checks"):
        (ev,) = session.ingest(RawHit(method="GET", url="https://www.facebook.com/tr/?id=1234567890123456&ev=Lead"))
    assert published == [ev] and [f.code for f in ev.findings] == ["marked"]
    assert "check Broken failed in process" in caplog.text
