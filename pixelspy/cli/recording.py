"""The live session recorded into files: --session (the session file, SQLite, that `pixelspy open`
reopens) and --har (a HAR file written at exit: exported from the session file, which --har-all
makes hold every flow; from memory with --no-session)."""

from __future__ import annotations

import argparse
import shlex
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pixelspy.inert import inert
from pixelspy.proxy import ProxyConfig
from pixelspy.session import Session

if TYPE_CHECKING:
    from pixelspy.har import HarRecorder
    from pixelspy.store.writer import StoreWriter


class RecordingError(Exception):
    """A file the session cannot be recorded into; the message is one line, for the user."""


def add_har_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("HAR recording")
    g.add_argument("--har", metavar="FILE",
                   help="write tracking hits to this HAR file when pixelspy exits, with the decoded events, "
                        "findings and answers (exported from the session file; after a crash, pixelspy open "
                        "SESSION --har FILE writes it)")
    g.add_argument("--har-all", action="store_true",
                   help="with --har: all traffic, not only tracking hits (recorded into the session file "
                        "as they are; with --no-session kept in memory, the last 20,000 requests)")
    g.add_argument("--no-redact", action="store_true",
                   help="keep cookie values, credentials, access tokens, emails and phone numbers in HAR "
                        "files (default: redacted, for sharing)")


def add_session_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("session file")
    g.add_argument("--session", metavar="FILE",
                   help="record the session into FILE, or go on with it (default: a new file in "
                        "~/pixelspy-sessions named by date and time); committed every 0.1 s, so a crash loses "
                        "at most that; pixelspy open FILE reopens it")
    g.add_argument("--no-session", action="store_true", help="keep the session in memory only, no file")


def record_session(session: Session, path: Path) -> StoreWriter:
    """A StoreWriter recording `session` into the session file `path` from now on (created with its
    folder when needed); StoreError when the file cannot be used."""
    from pixelspy.store import StoreError
    from pixelspy.store.writer import StoreWriter

    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"{path.parent}: {e.strerror or e}") from None
    writer = StoreWriter(session, path)
    writer.open()
    writer.attach()
    return writer


def session_writer(args: argparse.Namespace, session: Session, config: ProxyConfig) -> StoreWriter | None:
    """The writer recording the session into its file (None with --no-session); StoreError when the
    file cannot be used. A --session file that exists is read into the session first."""
    from pixelspy.har.write import StoreRecorder
    from pixelspy.proxy import RecordAnswers
    from pixelspy.store import StoreError, new_session_path, reader

    if args.no_session:
        if args.session:
            raise StoreError("--session and --no-session contradict each other")
        return None
    from pixelspy.cli.sessions import forget_import

    path = Path(args.session).expanduser() if args.session else new_session_path()
    if args.session and path.exists() and path.stat().st_size:
        reader.load(path, session)
    writer = record_session(session, path)
    writer.read(forget_import)  # (an imported file recorded into live is no longer that import)
    if args.har:  # the answers cost ≈ 0.25 ms a tracking hit: kept when a HAR is asked for
        config.addons.append(StoreRecorder(writer) if args.har_all else RecordAnswers(writer))
    return writer


def close_session_file(writer: StoreWriter, keep_empty: bool, tell: bool) -> None:
    """Close the session file and say where it is (the TUI's users saw no start message); a default
    one that got no event is removed."""
    writer.close()
    if not (writer.events_in_file or keep_empty):
        writer.path.unlink(missing_ok=True)
    elif tell:
        print(inert(f"pixelspy: the session is in {writer.path} (pixelspy open {writer.path})"), file=sys.stderr)


@dataclass
class HarFile:
    """--har FILE, written at exit: from the session file (`writer`), else from the in-memory
    `recorder` (--no-session)."""

    path: Path
    redact: bool
    writer: StoreWriter | None
    recorder: HarRecorder | None

    def write(self) -> None:
        try:
            if self.recorder is not None:
                n = self.recorder.write_file()
            else:
                n = self.writer.export_har(self.path, redact=self.redact)
        except (OSError, sqlite3.Error) as e:
            print(inert(f"pixelspy: cannot write {self.path}: {getattr(e, 'strerror', None) or e}"), file=sys.stderr)
            return
        print(inert(f"pixelspy: wrote {n:,} {'entry' if n == 1 else 'entries'} to {self.path}"), file=sys.stderr)


def har_file(args: argparse.Namespace, session: Session, config: ProxyConfig,
             writer: StoreWriter | None) -> HarFile | None:
    """The --har file, started without entries now (a path that cannot be written shows at once, not at
    exit); OSError when it cannot be written."""
    if not args.har:
        return None
    from pixelspy.har import HarRecorder, start_har_file

    path, redact = Path(args.har).expanduser(), not args.no_redact
    # What the file says until it is written (a crash leaves it so).
    traffic = "all" if args.har_all else "tracking"
    note = "pixelspy writes the entries when it exits" + (
        f"; until then, or after a crash, the session file has the {'flows' if args.har_all else 'tracking hits'}: "
        + shlex.join(["pixelspy", "open", str(writer.path), "--har", str(path)]) if writer is not None else "") + "."
    if writer is not None:
        start_har_file(path, redact, traffic, note)
        return HarFile(path, redact, writer, None)
    recorder = HarRecorder(session, path, all_traffic=args.har_all, redact=redact)
    recorder.open(note)
    config.addons.append(recorder)
    return HarFile(path, redact, None, recorder)


@dataclass
class Recording:
    """Where the live session goes: its session file and its --har file."""

    writer: StoreWriter | None
    har: HarFile | None
    keep_empty: bool  # a session file the user named stays, even without events

    closed: bool = False

    def close(self, tell: bool) -> None:
        """At exit: the --har file is written, then the session file closed (also when Ctrl+C cuts
        the writing short). Once: --no-ui closes it before its closing summary."""
        if self.closed:
            return
        self.closed = True
        try:
            if self.har is not None:
                self.har.write()
        finally:
            if self.writer is not None:
                close_session_file(self.writer, self.keep_empty, tell)


def start_recording(args: argparse.Namespace, session: Session, config: ProxyConfig) -> Recording:
    """The session file and the --har file, opened; RecordingError (the files closed) when one cannot be."""
    from pixelspy.store import StoreError

    if args.har_all and not args.har:
        raise RecordingError("--har-all needs --har FILE")
    try:
        writer = session_writer(args, session, config)
    except StoreError as e:
        raise RecordingError(str(e)) from None
    recording = Recording(writer, None, keep_empty=bool(args.session))
    try:
        recording.har = har_file(args, session, config, writer)
    except OSError as e:
        recording.close(tell=False)
        raise RecordingError(f"cannot write {args.har}: {e.strerror or e}") from None
    return recording
