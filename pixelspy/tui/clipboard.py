"""The system clipboard, when this machine has one reachable (pyperclip: pbcopy, xclip, wl-copy,
Windows); otherwise the caller falls back to the terminal's (OSC 52), which many terminals ignore."""

from __future__ import annotations

try:  # a mitmproxy dependency (11 and 12), but nothing breaks without it
    import pyperclip
except ImportError:  # pragma: no cover
    pyperclip = None


def copy_to_system(text: str) -> bool:
    """Whether `text` reached the system clipboard (over SSH or without a display, it cannot)."""
    if pyperclip is None:
        return False
    try:
        pyperclip.copy(text)
    except pyperclip.PyperclipException:
        return False
    return True
