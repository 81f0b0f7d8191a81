"""The session store: a live session is an SQLite file (issue #27).

schema.py: the file, its schema and migrations, opening it safely; records.py: events and hits as
rows and back; writer.py: recording a live session off the proxy's path; reader.py: reading a
session back, listing sessions; queries.py: the indexed queries a viewer filters with; export.py: HAR
from a session file.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pixelspy.store.schema import SUFFIX, StoreError

# Where live sessions go unless --session names a file (PIXELSPY_SESSIONS_DIR overrides it).
SESSIONS_DIR = Path("~/pixelspy-sessions")


def sessions_dir() -> Path:
    return Path(os.environ.get("PIXELSPY_SESSIONS_DIR") or SESSIONS_DIR).expanduser()


def new_session_path() -> Path:
    """A new file in the sessions folder, named by the local date and time (created on open)."""
    stamp = time.strftime("%Y-%m-%d-%H%M%S")
    path = sessions_dir() / f"{stamp}{SUFFIX}"
    n = 1
    while path.exists():
        n += 1
        path = sessions_dir() / f"{stamp}-{n}{SUFFIX}"
    return path


__all__ = ["SESSIONS_DIR", "SUFFIX", "StoreError", "new_session_path", "sessions_dir"]
