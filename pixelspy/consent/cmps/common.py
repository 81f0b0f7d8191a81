"""Value formats several CMPs share: URL-encoded JSON, and key/value lists."""

from __future__ import annotations

import json
from urllib.parse import unquote


def url_json(value: str):
    """The JSON of a URL-encoded cookie value, None when it is not JSON."""
    try:
        return json.loads(unquote(value))
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested past the stack
        return None


def key_values(text: str, sep: str, kv: str) -> dict[str, str]:
    """`a:yes,b:no` (sep ",", kv ":") → {"a": "yes", "b": "no"}, lower-cased; parts without kv skipped."""
    out = {}
    for part in text.split(sep):
        k, found, v = part.partition(kv)
        if found and k.strip():
            out[k.strip().lower()] = v.strip().lower()
    return out
