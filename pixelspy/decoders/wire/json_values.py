"""JSON documents and values: parsing (strict, or salvaging a truncated document), flattening to
dotted leaves, reading paths, and values as the text they were sent as."""

from __future__ import annotations

import json
import math
import re
from collections import deque
from collections.abc import Iterable
from typing import Any

from pixelspy.inert import json_encoder

from .text import Errors

# Deeply nested JSON is flattened only this deep; deeper values stay JSON strings.
MAX_FLATTEN_DEPTH = 6


def parse_json(text: str, errors: Errors, what: str = "JSON") -> Any:
    """Parsed JSON, or None with an error. Deep nesting is an error, not a RecursionError."""
    try:
        return without_lone_surrogates(json.loads(text), text)
    except (ValueError, RecursionError) as e:
        msg = str(e) if isinstance(e, ValueError) else "nested too deeply"
        errors.add(f"{what} is not valid JSON ({msg[:80]})")
        return None


# Salvaging broken JSON: how many cut points are tried, and how deep a document may be.
_SALVAGE_CUTS = 24
_SALVAGE_DEPTH = 64
_CLOSER = {"{": "}", "[": "]"}


def parse_json_lenient(text: str, errors: Errors, what: str = "JSON") -> Any:
    """Parsed JSON; a truncated or broken document yields its longest readable prefix, closed.

    Beacons cut at a size limit and hand-built JSON-in-a-query-param (Pinterest `ed`) break in
    the middle: decode what came before the break, and say so.
    """
    try:
        return without_lone_surrogates(json.loads(text), text)
    except RecursionError:
        errors.add(f"{what} is nested too deeply")
        return None
    except ValueError as e:
        reason = str(e)[:80]
    value = without_lone_surrogates(_salvage_json(text), text)
    if value is None:
        errors.add(f"{what} is not valid JSON ({reason})")
    else:
        errors.add(f"{what} is truncated or invalid JSON ({reason}); decoded what could be decoded")
    return value


def _salvage_json(text: str) -> Any:
    """Close the open strings/containers at the end, or cut at the last separators before the break."""
    stack: list[str] = []
    cuts: deque[tuple[int, str]] = deque(maxlen=_SALVAGE_CUTS)  # (cut position, closers to append)
    in_string = escaped = False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in _CLOSER:
            stack.append(_CLOSER[ch])
            if len(stack) > _SALVAGE_DEPTH:
                return None
        elif ch in "}]":
            if not stack or stack[-1] != ch:  # a mismatched closer: the document breaks here
                cuts.append((i, "".join(reversed(stack))))
                break
            stack.pop()
            cuts.append((i + 1, "".join(reversed(stack))))
        elif ch == ",":
            cuts.append((i, "".join(reversed(stack))))
    else:  # ran to the end: close what is open (a dangling escape is dropped)
        end = len(text) - escaped
        cuts.append((end, ('"' if in_string else "") + "".join(reversed(stack))))
    for end, closers in reversed(cuts):
        try:
            return json.loads(text[:end] + closers)
        except (ValueError, RecursionError):
            continue
    return None


# ---------------------------------------------------------------- lone surrogates
# JSON may escape half of a surrogate pair ("\ud83d": a JS string cut inside an emoji); json.loads
# keeps it as a str that no UTF-8 output (JSON lines, HAR, the terminal) can write.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(value: Any, text: str) -> Any:
    """Parsed JSON with lone surrogates replaced by U+FFFD (in place, without recursion); only
    documents whose text escapes a surrogate are walked."""
    if not _SURROGATE_ESCAPE.search(text):
        return value
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    stack = [value]
    while stack:
        node = stack.pop()
        items = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(node, list) else []
        for key, v in items:
            if isinstance(v, (dict, list)):
                stack.append(v)
            elif isinstance(v, str) and _LONE_SURROGATE.search(v):
                node[key] = _LONE_SURROGATE.sub("\ufffd", v)
            if isinstance(key, str) and _LONE_SURROGATE.search(key):
                node[_LONE_SURROGATE.sub("\ufffd", key)] = node.pop(key)
    return value


_compact_json = json_encoder(separators=(",", ":"))


def compact(value: Any) -> str:
    """A JSON value as one string, the way it would be shown or compared."""
    kind = type(value)
    if kind is str:
        return value
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is int or (kind is float and math.isfinite(value)):
        return repr(value)  # what json.dumps writes, without its machinery
    if isinstance(value, str):
        return str(value)
    return _compact_json(value)


def flatten(obj: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    """Dotted (name, value) leaves of a JSON object. Lists stay whole values (shown as JSON)."""
    if not (isinstance(obj, dict) and obj and depth < MAX_FLATTEN_DEPTH):
        return [(prefix, obj)]
    leaves: list[tuple[str, Any]] = []
    _flatten_into(leaves, obj, prefix, depth)
    return leaves


def _flatten_into(leaves: list[tuple[str, Any]], obj: dict, prefix: str, depth: int) -> None:
    deeper = depth + 1 < MAX_FLATTEN_DEPTH
    add = leaves.append
    for key, value in obj.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if deeper and isinstance(value, dict) and value:
            _flatten_into(leaves, value, name, depth + 1)
        else:
            add((name, value))


def dig(obj: Any, *path: str | int, default: Any = None) -> Any:
    """obj[path[0]][path[1]]… or default when anything on the way is missing or of another type."""
    value = _at_path(obj, path)
    return default if value is None else value


def _at_path(obj: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        if isinstance(obj, dict) and isinstance(key, str):
            obj = obj.get(key)
        elif isinstance(obj, list) and isinstance(key, int) and -len(obj) <= key < len(obj):
            obj = obj[key]
        else:
            return None
        if obj is None:
            return None
    return obj


JsonPath = tuple[str | int, ...]


def first_present(obj: Any, paths: Iterable[JsonPath]) -> Any:
    """The value at the first path that holds something; None when none does."""
    for path in paths:
        value = _at_path(obj, path)
        if value is not None and (value or not isinstance(value, (str, list, dict))):  # not is_blank
            return value
    return None


def is_blank(value: Any) -> bool:
    """None, "", [] or {}: a field sent empty counts as absent (0 and false are values)."""
    return value is None or (not value and isinstance(value, (str, list, dict)))


def text_or_none(value: Any) -> str | None:
    """A wire value as the string it was sent as; None when absent or empty."""
    return None if value is None or value == "" else compact(value)


def json_list(value: str | None, errors: Errors, what: str) -> list[Any] | None:
    """A parameter that carries a JSON array (content_ids, contents); a lone string is a 1-list."""
    if value is None or value == "":
        return None
    v = value.strip()
    if not v.startswith("["):
        return [v]
    parsed = parse_json(v, errors, what)
    return parsed if isinstance(parsed, list) else None
