"""Parameters encoded once too often: double URL-encoding, URLs left percent-encoded, JSON left
as a string inside JSON (what Meta's Pixel Helper calls "encoded characters").

Code: encoded-chars (warning).
Values here are already decoded once by the decoder, so any encoding left is one layer too many,
except in parameters the vendor's own library encodes (rules.toml `encoded_by_design`).
"""

from __future__ import annotations

import re

from pixelspy.checks.rules import KIND_EVENT, finding, platform, values_text, vendor
from pixelspy.config import Config
from pixelspy.model import Severity, TrackingEvent

DOUBLE_ENCODED = re.compile(r"%25[0-9A-Fa-f]{2}")
ENCODED_URL = re.compile(r"^https?%3A", re.IGNORECASE)
# Percent-escapes of characters that plain text and JSON are made of; inside a URL they are normal.
ENCODED_TEXT = re.compile(r"%(?:20|2[1-9A-Ca-c]|3[A-Fa-f]|40|5[BDbd]|7[BDbd]|22|C3|E2)")
JSON_IN_JSON = re.compile(r'[\[{]\\"')


def encoding_problem(value: str) -> str | None:
    if "%" in value:
        if DOUBLE_ENCODED.search(value):
            return "URL-encoded twice"
        if ENCODED_URL.match(value):
            return "a URL left percent-encoded"
        if not value.startswith(("http://", "https://")) and ENCODED_TEXT.search(value):
            return "percent-encoded text"
    if "\\" in value and JSON_IN_JSON.search(value):
        return "JSON encoded as a string inside JSON"
    if len(value) > 2 and value[0] == value[-1] == '"':
        return "a JSON-quoted string"
    return None


def may_be_encoded(text: str) -> bool:
    """Whether any line of text has what encoding_problem looks for: a '%', a '\\', a leading '"'."""
    return "%" in text or "\\" in text or text.startswith('"') or '\n"' in text


class EncodingCheck:
    kinds = (KIND_EVENT,)

    def process(self, event: TrackingEvent, ctx) -> None:
        if not may_be_encoded(values_text(event)):
            return
        found = []
        by_design = platform(event.platform).encoded_by_design
        for p in event.params:
            v = p.value
            if p.name in by_design:
                continue
            if ("%" in v or "\\" in v or v.startswith('"')) and (problem := encoding_problem(v)):
                found.append(f"{p.name} ({problem})")
        if found:
            more = f" and {len(found) - 3} more" if len(found) > 3 else ""
            ctx.emit(event, finding(
                "encoded-chars", Severity.warning,
                f"{vendor(event)} parameters still encoded: {', '.join(found[:3])}{more}",
                "Encode each value once: pass raw strings and objects to the tag, not already "
                "encodeURIComponent'd or JSON.stringify'd values."))


def make_checks(config: Config) -> list:
    return [EncodingCheck()]
