"""The session file: an SQLite database, its schema and migrations, and opening it safely.

A session file is recognised by its application id (PRAGMA application_id); its schema version is
PRAGMA user_version, the number of MIGRATIONS applied. A file pixelspy did not make, one a newer
pixelspy made, a corrupt, locked or read-only one: StoreError with a one-line reason.

While pixelspy records into a file it holds it in EXCLUSIVE locking mode (a second pixelspy, or
`pixelspy open` of the live file, is told it is in use) and in WAL mode with synchronous=NORMAL:
each commit is one append to the write-ahead log, which survives a crash of the process (kill -9).
The log is synced to disk at its checkpoints only, not at each commit: a power cut or a crash of the
system may lose the commits since the last one (never the file: SQLite drops a log's torn tail).
Closing checkpoints the log back into the file and leaves it a single, self-contained file.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

APPLICATION_ID = 0x50585350  # "PXSP"
SUFFIX = ".pixelspy"

# Severity of an event's worst finding, as stored (the TUI filters on it): 0 none.
SEVERITY_RANK = {"info": 1, "warning": 2, "error": 3}

# Version N of the schema is MIGRATIONS[:N] applied in order; a change appends a migration, never
# edits one (files made by earlier versions are upgraded when opened for writing).
MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    -- Requests: the body (at most what the decoders read, 2 MiB) zlib-compressed when body_zlib.
    CREATE TABLE hits (
        id TEXT PRIMARY KEY, time REAL NOT NULL, method TEXT NOT NULL, url TEXT NOT NULL,
        headers TEXT NOT NULL, body BLOB, body_zlib INTEGER NOT NULL, body_size INTEGER NOT NULL,
        body_truncated INTEGER NOT NULL, client TEXT NOT NULL, device TEXT NOT NULL);
    -- The answer to a hit recorded live: the HAR entry mitmproxy made of it (JSON, zlib when zlib).
    CREATE TABLE answers (hit_id TEXT PRIMARY KEY, entry BLOB NOT NULL, zlib INTEGER NOT NULL);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, time REAL NOT NULL, platform TEXT NOT NULL,
        pixel TEXT, event TEXT, page TEXT, device TEXT NOT NULL, kind TEXT NOT NULL, source TEXT NOT NULL,
        severity INTEGER NOT NULL, hit_id TEXT NOT NULL, json TEXT NOT NULL);
    CREATE INDEX events_time ON events(time);
    CREATE INDEX events_platform ON events(platform, time);
    CREATE INDEX events_pixel ON events(pixel, time);
    CREATE INDEX events_event ON events(event, time);
    CREATE INDEX events_device ON events(device, time);
    CREATE INDEX events_severity ON events(severity, time);
    CREATE INDEX events_hit ON events(hit_id);
    -- An event's findings as they are now: rewritten whole when the checks change them.
    CREATE TABLE findings (
        event_id TEXT NOT NULL, n INTEGER NOT NULL, code TEXT NOT NULL, severity TEXT NOT NULL,
        message TEXT NOT NULL, hint TEXT NOT NULL, related TEXT NOT NULL, pending INTEGER NOT NULL,
        PRIMARY KEY (event_id, n)) WITHOUT ROWID;
    CREATE INDEX findings_code ON findings(code);
    -- A copy of an event's beacon sent to another endpoint (its hit, not counted as an event).
    CREATE TABLE twins (hit_id TEXT PRIMARY KEY, event_id TEXT NOT NULL);
    CREATE TABLE marks (seq INTEGER PRIMARY KEY, time REAL NOT NULL, label TEXT NOT NULL);
    CREATE TABLE devices (key TEXT PRIMARY KEY, name TEXT NOT NULL);
    """,
    # 2: the TUI's filters answer with seqs, in seq order, from the indexes alone (issue #27: a
    # filter on a million events). An index holds its row's seq: (platform) is (platform, seq).
    # Findings by severity, with their event's id (whose own index holds the seq).
    """
    DROP INDEX events_platform;
    DROP INDEX events_severity;
    CREATE INDEX events_platform ON events(platform);
    CREATE INDEX events_severity ON events(severity);
    CREATE INDEX findings_severity ON findings(severity, event_id);
    """,
    # 3: every column the TUI filters on has an index holding the seq, in seq order (issue #27):
    # kind and source had none (a scan of every row: 0.6-3 s at a million events); pixel's held the
    # pixel as sent, the filter matches it in any case (lower()); device's and pixel's time made a
    # sort. events_time served no query (times rise with seq): dropped, one index less to write.
    """
    DROP INDEX events_time;
    DROP INDEX events_pixel;
    DROP INDEX events_device;
    CREATE INDEX events_pixel ON events(lower(pixel));
    CREATE INDEX events_device ON events(device);
    CREATE INDEX events_kind ON events(kind);
    CREATE INDEX events_source ON events(source);
    """,
    # 4: the full-text index is fed less often than events are committed (issue #27: a segment of it
    # each commit was ≈ 30 % of the writer's work); meta's WORDS_UPTO says up to which seq it goes.
    # Every file before fed it at each commit: it holds all of its rows (a new file has none; the
    # writer marks it). A pixelspy before this one, which would feed rows the index holds already,
    # refuses the file as newer.
    """
    INSERT OR REPLACE INTO meta (key, value) SELECT 'words_upto', seq FROM events ORDER BY seq DESC LIMIT 1;
    """,
]
# Words of events (names, params, page) for the TUI's search, when SQLite has FTS5: contentless,
# rowid = events.seq (an event's words never change once decoded). Made with the schema, or never.
FTS_TABLE = "CREATE VIRTUAL TABLE events_fts USING fts5(name, params, page, content='')"
# meta's key for the last seq whose words events_fts holds (absent: all of them, in a file of schema 3
# or before opened to read, or one filled without the writer); the rows after are matched by reading
# them (queries._past_index).
WORDS_UPTO = "words_upto"
SCHEMA_VERSION = len(MIGRATIONS)
# Prepared statements the writer's connection keeps (sqlite3's default is 128). Its batches insert
# many rows a statement; a text per batch size filled the default cache with large one-off programs
# (≈ 10 MiB of SQLite's memory after 30,000 events, bench_store.py). Its statements now come in a few
# sizes (writer.insert, in_groups): at most ≈ 100 texts (1–8 rows, then powers of two to 64 or 128).
WRITER_CACHED_STATEMENTS = 128


class StoreError(Exception):
    """A session file that cannot be used; the message is one line, for the user."""


@cache
def has_fts5() -> bool:
    """Whether this Python's SQLite has FTS5 (most builds; some distributions leave it out)."""
    db = sqlite3.connect(":memory:")
    try:
        db.execute("CREATE VIRTUAL TABLE probe USING fts5(x)")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        db.close()


def reason(path: Path | str, e: BaseException) -> str:
    """What went wrong with a session file, in one line."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if isinstance(e, sqlite3.DatabaseError):
        low = text.lower()
        if "locked" in low or "busy" in low:
            text = "in use by another pixelspy (the file is locked)"
        elif "not a database" in low or "malformed" in low or "corrupt" in low:
            text = f"not a pixelspy session, or damaged ({text})"
        elif "readonly" in low or "read-only" in low:
            text = "cannot write to it (read-only)"
    elif isinstance(e, OSError) and e.strerror:
        text = e.strerror
    return f"{path}: {text}"


def connect(path: Path, *, write: bool) -> sqlite3.Connection:
    """A connection to a session file (created when writing and absent), checked to be one pixelspy
    can read, migrated when writing; StoreError otherwise. Writing holds the file locked."""
    try:
        if write:
            _create_private(path)
            db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                 cached_statements=WRITER_CACHED_STATEMENTS)
        else:
            if not path.is_file():
                raise StoreError(f"{path}: no such file")
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        try:
            _prepare(db, path, write)
        except BaseException:
            db.close()
            raise
    except (sqlite3.Error, OSError) as e:
        raise StoreError(reason(path, e)) from None
    return db


def _create_private(path: Path) -> None:
    """A new session file readable by its owner alone: it holds cookies and personal data as sent
    (SQLite gives its log files the same mode)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def _prepare(db: sqlite3.Connection, path: Path, write: bool) -> None:
    db.execute("PRAGMA busy_timeout = 0")
    app_id, version = (db.execute(f"PRAGMA {name}").fetchone()[0] for name in ("application_id", "user_version"))
    empty = app_id == 0 and version == 0 and not db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone()
    if not empty and app_id != APPLICATION_ID:
        raise StoreError(f"{path}: not a pixelspy session (an SQLite database of another program)")
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path}: made by a newer pixelspy (session format {version}; this one reads up to "
                         f"{SCHEMA_VERSION}): upgrade pixelspy to open it")
    if not write:
        if empty:
            raise StoreError(f"{path}: not a pixelspy session (an empty file)")
        db.execute("SELECT count(*) FROM events").fetchone()  # a damaged file says so now, not midway
        return
    db.execute("PRAGMA locking_mode = EXCLUSIVE")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("BEGIN IMMEDIATE")  # takes the lock now: a second writer fails at its start
    try:
        for script in MIGRATIONS[version:]:
            for statement in script.split(";"):
                if statement.strip():
                    db.execute(statement)
        if empty and has_fts5():
            db.execute(FTS_TABLE)
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def has_fts_table(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = 'events_fts'").fetchone() is not None


def words_upto(db: sqlite3.Connection) -> int | None:
    """The last seq whose words events_fts holds; None: all of them (see WORDS_UPTO)."""
    row = db.execute("SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?", (WORDS_UPTO,)).fetchone()
    return None if row is None else row[0]


def close_writer(db: sqlite3.Connection) -> None:
    """Fold the write-ahead log back into the file, which is then one self-contained file."""
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA journal_mode = DELETE")
    except sqlite3.Error:
        pass  # the log stays beside the file; the next open reads it
    finally:
        db.close()


@contextmanager
def reading(path: Path) -> Iterator[sqlite3.Connection]:
    """A session file opened to read, closed after; any SQLite error becomes one StoreError line."""
    db = connect(path, write=False)
    try:
        yield db
    except sqlite3.Error as e:
        raise StoreError(reason(path, e)) from None
    finally:
        db.close()
