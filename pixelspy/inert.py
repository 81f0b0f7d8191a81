"""Text from the wire or a file, made inert for a terminal: the one way such text reaches the screen.

A terminal acts on control characters: ESC starts sequences that write the clipboard (OSC 52), set the
window title or clear the screen, and many terminals take the C1 controls U+0080–U+009F as the same
sequences without an ESC (U+009B is CSI). Format characters (Unicode category Cf: bidi overrides and
isolates, zero-width spaces and joiners, tag characters) show nothing but reorder or hide text, so an
event name or URL can read as another; line and paragraph separators break lines. inert() writes each
of them as its Python escape (`\\x1b`, `\\n`, `\\u202e`, `\\U000e0041`): visible, and naming the character.
Joiners inside emoji sequences are shown too: a debugger shows what was sent.

Markup is not parsed here: the TUI puts wire text in Rich/Textual Text objects, which never read it as
markup; where a markup string cannot be avoided, `rich.markup.escape(inert(text))`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring
from typing import Any

# Control, format, surrogate, line and paragraph separator characters.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def is_hidden(char: str) -> bool:
    return unicodedata.category(char) in HIDDEN_CATEGORIES


_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def inert(text: str, lines: bool = False) -> str:
    """`text` with every hidden character written as its escape; `lines` keeps newlines (a body)."""
    # str.isprintable() is False for every hidden character (and a few harmless ones, e.g. no-break
    # space), in C: most text returns here.
    if text.isprintable():
        return text
    keep = "\n" if lines else ""
    return _NOT_PRINTABLE_ASCII.sub(lambda m: _replace_hidden(m.group(), _escape, keep), text)


def _replace_hidden(run: str, escape: Callable[[str], str], keep: str = "") -> str:
    if run.isprintable():
        return run
    return "".join(escape(c) if is_hidden(c) and c not in keep else c for c in run)


# Where hidden characters can be: in runs of characters other than printable ASCII.
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]+")
# json.dumps(ensure_ascii=False) escapes C0 controls, but writes DEL, C1 controls, format characters and
# separators raw. Outside its strings JSON is ASCII (and C0 only as indentation's newlines), so these
# can only be inside strings, where \uXXXX is the same character.
_DEL_OR_NOT_ASCII = re.compile(r"[^\x00-\x7e]+")


def _json_escape(char: str) -> str:
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair: how JSON writes a character beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_encoder(separators: tuple[str, str] = (", ", ": ")) -> Callable[[Any], str]:
    """json.dumps(obj, ensure_ascii=False, separators=separators) as one C encoder made once:
    json.dumps builds an encoder, a cycle check's table and the C encoder again on every call, which
    was over a third of the cost of a JSON line (every event of `--no-ui` prints one) and half of a
    decoded JSON value's. Without the cycle check: pixelspy encodes trees it builds or parsed (a
    cycle would raise RecursionError instead of ValueError)."""
    encoder = json.JSONEncoder(ensure_ascii=False, separators=separators)
    if c_make_encoder is None:  # (no C accelerator: json's own pure-Python path)
        return encoder.encode
    encode = c_make_encoder(None, encoder.default, encode_basestring, None, encoder.key_separator,
                            encoder.item_separator, False, False, True)
    return lambda obj: "".join(encode(obj, 0))


_encode = json_encoder()


def json_dumps(obj: Any, **kw: Any) -> str:
    """json.dumps(obj, ensure_ascii=False, **kw) with hidden characters as \\uXXXX escapes: the same
    JSON value, safe to print."""
    text = json.dumps(obj, ensure_ascii=False, **kw) if kw else _encode(obj)
    # Checked in C first: most JSON has nothing to escape (ASCII is checked at once; a line that
    # is not is printable).
    if text.isascii() and "\x7f" not in text or text.isprintable():
        return text
    return _DEL_OR_NOT_ASCII.sub(lambda m: _replace_hidden(m.group(), _json_escape), text)
