"""What the writing and the reading side of pixelspy's HAR files agree on: the custom fields, the
notes and size limits, the time format."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import Any

from pixelspy.decoders.wire import MAX_DECODE_BYTES
from pixelspy.model import RawHit

# Request bodies are kept up to what the decoders read, as by the live addon (flows.MAX_STORED_BODY).
MAX_STORED_BODY = MAX_DECODE_BYTES
# postData.comment of a body pixelspy kept only the start of (stored or redacted size limit).
BODY_CUT_NOTE = "body cut by pixelspy at its size limit"
# The session's marks, in `log` after the entries (other HAR readers ignore `_` keys).
MARKS_KEY = "_pixelspy_marks"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


def changed_hit(hit: RawHit, **changes: Any) -> RawHit:
    # A new, validated hit: the old one's cached URL split does not come along.
    return dataclasses.replace(hit, **changes)


class HarReadError(ValueError):
    """The file as a whole cannot be read (not JSON, not a HAR, not a flow file)."""
