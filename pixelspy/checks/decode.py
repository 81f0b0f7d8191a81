"""Decode errors as a finding, so the TUI and check reports list them with everything else.

Code: decode-error. JSON errors in parameters the params check validates (invalid-json) are not
repeated here.
"""

from __future__ import annotations

from pixelspy.checks.rules import finding, platform, vendor
from pixelspy.config import Config
from pixelspy.model import Severity, TrackingEvent


class DecodeErrorCheck:
    def process(self, event: TrackingEvent, ctx) -> None:
        if not event.decode_errors:
            return
        covered = tuple(f"{name} is not valid JSON" for name in platform(event.platform).json_params)
        errors = [e for e in event.decode_errors if not (covered and e.startswith(covered))]
        if not errors:
            return
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        ctx.emit(event, finding(
            "decode-error", Severity.warning, f"{vendor(event)} hit only partly decoded: {errors[0]}{more}",
            "The vendor may drop or misread this hit; the raw request is in the detail view and the HAR."))


def make_checks(config: Config) -> list:
    return [DecodeErrorCheck()]
