"""Test traffic: events carrying a test code go to the vendor's test tool, not to reporting.

Code: test-event (info).
"""

from __future__ import annotations

from pixelspy.checks.rules import KIND_EVENT, finding, params, platform, vendor
from pixelspy.config import Config
from pixelspy.model import Severity, TrackingEvent

OFF = frozenset({"", "0", "false", "no", "null", "undefined"})


class TestEventCheck:
    kinds = (KIND_EVENT,)

    def process(self, event: TrackingEvent, ctx) -> None:
        marker = None
        if event.test_event_code and event.test_event_code.strip().lower() not in OFF:
            marker = f"test_event_code {event.test_event_code}"
        else:
            ps = params(event)
            for name in platform(event.platform).test_params:
                v = ps.get(name)
                if v is not None and v.strip().lower() not in OFF:
                    marker = f"{name}={v}"
                    break
        if marker:
            ctx.emit(event, finding(
                "test-event", Severity.info, f"{vendor(event)} test event ({marker}): not production data",
                "Test events show in the vendor's test tool and are not counted; remove the test code "
                "before going live."))


def make_checks(config: Config) -> list:
    return [TestEventCheck()]
