"""`pixelspy sessions`: the recent session files, newest first; and a HAR or flow file imported into a
new one (`pixelspy open FILE.har`), which a second `open` of the same content reopens (ImportKey)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pixelspy import __version__
from pixelspy.cli.common import Parser
from pixelspy.cli.recording import close_session_file, record_session
from pixelspy.inert import inert
from pixelspy.session import Session

if TYPE_CHECKING:
    from pixelspy.config import Config
    from pixelspy.har import LoadResult
    from pixelspy.store.writer import StoreWriter

# In an imported session file's meta table: its ImportKey, and what its import could not read.
IMPORT_KEY = "import_key"
IMPORT_SIZE = "import_size"  # the file's size: only a file of that size is hashed to be compared
IMPORT_PROBLEMS = "import_problems"
# Problems kept for a reopened import to tell again (a broken file can name one per entry).
MAX_KEPT_PROBLEMS = 100
HASH_CHUNK = 1 << 20
# A longer value is not read (a file is hostile: pixelspy writes at most a few KB of problems).
MAX_META_CHARS = 256 * 1024


def sessions_main(argv: list[str]) -> int:
    from pixelspy.store import reader, sessions_dir

    p = Parser(prog="pixelspy sessions",
               description="List the recent sessions (newest first): each live session is a file in "
                           "~/pixelspy-sessions unless --session named another, and so is each HAR or flow file "
                           "opened. pixelspy open FILE reopens one.")
    p.add_argument("--dir", metavar="FOLDER", default=None, help="the folder to list (default ~/pixelspy-sessions)")
    p.add_argument("-n", type=int, default=20, metavar="N", help="how many (default 20)")
    args = p.parse_args(argv)
    folder = Path(args.dir).expanduser() if args.dir else sessions_dir()
    found = reader.sessions(folder, args.n)
    if not found:
        print(inert(f"pixelspy: no sessions in {folder}"), file=sys.stderr)
        return 0
    for info in found:
        started = f"{info.started:%Y-%m-%d %H:%M}" if info.started else "-"
        events = f"{info.events:,} events" if info.events is not None else info.note
        print(inert(f"{info.path}  {started}  {events}  {info.size / 2**20:.1f} MB"))
    return 0


class ImportKey:
    """What an import is known by: the file's content, every byte of it (SHA-256: a different file is
    never taken for the same, whatever its name, size or dates), the pixelspy that decoded it and the
    configuration its checks ran with. The import's reader gives the key each byte it reads (`tee`): the
    file is read once. Asked before the import (an earlier import has the file's size), the key reads
    the file whole at once. `identity` is the file's when the key was made: an import that read a file
    changed since (`unchanged` is False) is not known by the key."""

    def __init__(self, path: Path, config: Config) -> None:
        """OSError when the file cannot be opened."""
        self.path = path
        with open(path, "rb") as f:
            self.identity = _identity(os.fstat(f.fileno()))
        self._hash = hashlib.sha256(f"pixelspy {__version__}\0{config.model_dump_json()}\0".encode())
        self._hashed = 0  # bytes of the file hashed
        self._digest: str | None = None
        self._done = False  # the digest is known (or known not to be: a file read short)

    @classmethod
    def of(cls, path: Path, config: Config) -> ImportKey | None:
        """The file's key; None when the file cannot be opened."""
        try:
            return cls(path, config)
        except OSError:
            return None

    @property
    def size(self) -> int:
        return self.identity[2]

    def tee(self, data: bytes) -> None:
        """The file's next bytes, as the import reads them (har.read.Tee); nothing once the key is known."""
        if not self._done:
            self._hash.update(data)
            self._hashed += len(data)

    @property
    def digest(self) -> str | None:
        """The key: of the bytes the import read, once it read them all (None when it read fewer than
        the file's size); asked before the import read any, of the file read whole now."""
        if not self._done:
            if not self._hashed:
                self._hash_file()
            self._done = True
            self._digest = self._hash.hexdigest() if self._hashed == self.size else None
        return self._digest

    def _hash_file(self) -> None:
        try:
            with open(self.path, "rb") as f:
                while chunk := f.read(HASH_CHUNK):
                    self.tee(chunk)
        except OSError:
            self._hashed = -1  # read short

    def unchanged(self) -> bool:
        """Whether the file is still the one hashed: a write changes its ctime, a replacement its inode."""
        try:
            return _identity(os.stat(self.path)) == self.identity
        except OSError:
            return False


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


@dataclass
class EarlierImport:
    path: Path  # its session file
    problems: list[str]  # what it could not read


def earlier_import(key: ImportKey) -> EarlierImport | None:
    """The newest session file of the sessions folder that an import of the same key made, and read
    to its end; None when there is none (or it is in use, or damaged)."""
    from pixelspy.store import StoreError, SUFFIX, sessions_dir
    from pixelspy.store.schema import connect

    try:
        files = [p for p in sessions_dir().iterdir() if p.name.endswith(SUFFIX) and p.is_file()]
        files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return None
    for path in files:
        meta = _import_meta(path)
        if meta.get(IMPORT_SIZE) != str(key.size) or meta.get(IMPORT_KEY) != key.digest:
            continue
        try:
            connect(path, write=False).close()  # readable as a whole
        except StoreError:
            continue
        try:
            problems = json.loads(meta.get(IMPORT_PROBLEMS, "[]"))
        except ValueError:
            problems = []
        if not (isinstance(problems, list) and all(isinstance(p, str) for p in problems)):
            problems = []
        return EarlierImport(path, problems[:MAX_KEPT_PROBLEMS + 1])
    return None


def _import_meta(path: Path) -> dict[str, str]:
    """An imported session file's IMPORT_* values ({} for any other file): two short reads, without
    the full check of schema.connect, since every file of the folder is asked."""
    from pixelspy.store.schema import APPLICATION_ID

    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return {}
    try:
        db.execute("PRAGMA busy_timeout = 0")
        if db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            return {}
        rows = db.execute("SELECT key, value FROM meta WHERE key IN (?, ?, ?) AND length(value) <= ?",
                          (IMPORT_KEY, IMPORT_SIZE, IMPORT_PROBLEMS, MAX_META_CHARS))
        return {k: v for k, v in rows if isinstance(v, str)}
    except sqlite3.Error:  # in use (a live session), damaged, not a session
        return {}
    finally:
        db.close()


def import_session_file(session: Session) -> StoreWriter:
    """`pixelspy open FILE.har`: a new file in the sessions folder records the session as the file is
    read, like a live session (listed by `pixelspy sessions`, reopened by `pixelspy open` without
    decoding again), so every event of a file larger than memory's bound can be browsed. StoreError
    when it cannot be made."""
    from pixelspy.store import new_session_path

    return record_session(session, new_session_path())


def end_import(writer: StoreWriter, result: LoadResult | None, key: ImportKey | None) -> None:
    """Close the imported session file: kept and told when the file was read to its end (`result`) and
    gave events, known by `key` from then on (a second open of the same content reopens it) unless the
    file changed while it was read; removed otherwise (unreadable, cut short by Ctrl+C or quitting)."""
    if result is None:
        writer.close()
        writer.path.unlink(missing_ok=True)
        return
    if key is not None and key.digest is not None and key.unchanged():
        problems = result.problems[:MAX_KEPT_PROBLEMS]
        if len(result.problems) > MAX_KEPT_PROBLEMS:
            problems.append(f"… and {len(result.problems) - MAX_KEPT_PROBLEMS:,} more")
        writer.flush()  # every event first: a file with the key is a whole import
        if writer.failed is None:
            writer.read(_mark_import, key=key, problems=json.dumps(problems))
    close_session_file(writer, keep_empty=False, tell=True)


def _mark_import(db: sqlite3.Connection, key: ImportKey, problems: str) -> None:
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                   [(IMPORT_PROBLEMS, problems), (IMPORT_SIZE, str(key.size)), (IMPORT_KEY, key.digest)])


def forget_import(db: sqlite3.Connection) -> None:
    """A session file recorded into live is no longer what an import made: never reopened for one."""
    db.execute("DELETE FROM meta WHERE key IN (?, ?, ?)", (IMPORT_KEY, IMPORT_SIZE, IMPORT_PROBLEMS))
