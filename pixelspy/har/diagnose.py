"""Saying where and why the JSON of a HAR is broken or not a HAR, for pixelspy/har/walk.py: yajl gives no byte
offsets, and its messages differ from Python's. A broken piece is read again by Python's json, from
the last point the walk knows the document's state at (a Checkpoint: the start of the piece), which
gives the byte and the message ("not valid JSON at byte 21: Expecting value").
"""

from __future__ import annotations

import json

from pixelspy.har.format import HarReadError
from pixelspy.har.json_text import Checkpoint, context

TOO_DEEP = "nested deeper than the JSON parser goes"
_KINDS = {"start_map": "an object", "start_array": "a list", "string": "a string", "boolean": "a boolean",
          "null": "null", "number": "a number"}


class JsonBroken(ValueError):
    """The walk cannot go on; the message says where and why, or `truncated`: the text ends inside
    the document."""

    def __init__(self, message: str, truncated: bool = False):
        super().__init__(message)
        self.truncated = truncated


def diagnose(cp: Checkpoint, data: bytes, error: Exception, ended: bool) -> tuple[str, int]:
    """Python's json on `data` read from the checkpoint `cp`: its message and the error's text
    offset. Where it finds nothing wrong before the text ends, the text ended inside the document
    ("truncated", when it has `ended`), or yajl refused what Python takes (an integer beyond 64 bits:
    yajl's `error` message, at the checkpoint)."""
    lead, body = context(cp.opened, cp.last, cp.after_key), data.decode("utf-8", "replace")
    text = lead + body
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        at = cp.offset + len(body[:max(0, e.pos - len(lead))].encode())
        at_end = e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated")
        if not at_end:
            return e.msg, at
        if ended:
            return "truncated", at
    except ValueError as e:  # (an integer longer than Python converts)
        return str(e), cp.offset
    except RecursionError:
        return TOO_DEEP, cp.offset
    return str(error).split("\n", 1)[0].split("error: ", 1)[-1], cp.offset


def expect(kind: str, wanted: str, role: str, what: str) -> str:
    """`role` when the value starting is of the `wanted` kind (an ijson event), else HarReadError."""
    if kind != wanted:
        raise HarReadError(f"{what} is {_KINDS[kind]}, not {_KINDS[wanted]}")
    return role
