"""HAR from a session file: the same entries, `_pixelspy` content and redaction as the HAR writer's
(pixelspy.har renders each entry), streamed from the file a hit at a time: the tracking hits, and
every other flow when --har-all recorded them into it (pixelspy.har.write.StoreRecorder)."""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from pathlib import Path

from pixelspy.har import har_head, render_entry, trailer
from pixelspy.store import reader
from pixelspy.store.schema import reading

# In the file's meta table: "all" when --har-all recorded every flow into it (StoreRecorder).
TRAFFIC_KEY = "har_traffic"


def record_all_traffic(db: sqlite3.Connection) -> None:
    """Say in the file that it holds every flow, not only the tracking hits (its HAR says so too)."""
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, 'all')", (TRAFFIC_KEY,))


def traffic(db: sqlite3.Connection) -> str:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (TRAFFIC_KEY,)).fetchone()
    return "all" if row is not None and row[0] == "all" else "tracking"


def export_har(db: sqlite3.Connection, out: Path | str, redact: bool = True) -> int:
    """Write the session held by `db` to the HAR file `out` (atomically: a temporary file beside it,
    then renamed); returns the number of entries. OSError when `out` cannot be written."""
    out = Path(out)
    marks = reader.marks(db)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    n = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(har_head(redact, traffic(db)))
            for hit, events, base in reader.iter_hits(db):
                f.write((",\n" if n else "") + json.dumps(render_entry(hit, events, base, redact)))
                n += 1
            f.write(trailer(marks, redact))
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


def export_file(session_file: Path | str, out: Path | str, redact: bool = True) -> int:
    """export_har of a session file on disk; StoreError when it cannot be read."""
    with reading(Path(session_file)) as db:
        return export_har(db, out, redact)
