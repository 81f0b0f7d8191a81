"""The live session recorded into files: --har (a HAR file appended as it goes) and --session (the session
file, SQLite, that `pixelspy open` reopens)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pixelspy.inert import inert
from pixelspy.proxy import ProxyConfig
from pixelspy.session import Session


def add_har_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("HAR recording")
    g.add_argument("--har", metavar="FILE",
                   help="record tracking hits to this HAR file, with the decoded events and findings "
                        "(appended every 0.25 s: a crash keeps all but the last half second)")
    g.add_argument("--har-all", action="store_true", help="with --har: record all traffic, not only tracking hits")
    g.add_argument("--no-redact", action="store_true",
                   help="keep cookie values, credentials, access tokens, emails and phone numbers in HAR "
                        "files (default: redacted, for sharing)")


def add_har_recorder(args: argparse.Namespace, session: Session, config: ProxyConfig) -> int | None:
    """Adds the --har recorder to the proxy; an exit code when the file cannot be written."""
    if not args.har:
        if args.har_all:
            print("pixelspy: --har-all needs --har FILE", file=sys.stderr)
            return 2
        return None
    from pixelspy.har import HarRecorder

    recorder = HarRecorder(session, args.har, all_traffic=args.har_all, redact=not args.no_redact)
    try:
        recorder.open()  # an empty HAR now: a wrong path shows at start, not at exit
    except OSError as e:
        print(f"pixelspy: cannot write {args.har}: {e.strerror or e}", file=sys.stderr)
        return 2
    config.addons.append(recorder)
    return None


def add_session_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("session file")
    g.add_argument("--session", metavar="FILE",
                   help="record the session into FILE, or go on with it (default: a new file in "
                        "~/pixelspy-sessions named by date and time); committed every 0.1 s, so a crash loses "
                        "at most that; pixelspy open FILE reopens it")
    g.add_argument("--no-session", action="store_true", help="keep the session in memory only, no file")


def session_writer(args: argparse.Namespace, session: Session, config: ProxyConfig):
    """The writer recording the session into its file (None with --no-session); StoreError when the
    file cannot be used. A --session file that exists is read into the session first."""
    from pixelspy.proxy import RecordAnswers
    from pixelspy.store import StoreError, new_session_path, reader
    from pixelspy.store.writer import StoreWriter

    if args.no_session:
        if args.session:
            raise StoreError("--session and --no-session contradict each other")
        return None
    path = Path(args.session).expanduser() if args.session else new_session_path()
    if args.session and path.exists() and path.stat().st_size:
        reader.load(path, session)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"{path.parent}: {e.strerror or e}") from None
    writer = StoreWriter(session, path)
    writer.open()
    writer.attach()
    if args.har:  # the answers cost ≈ 0.25 ms a tracking hit: kept when a HAR is asked for
        config.addons.append(RecordAnswers(writer))
    return writer


def close_session_file(writer, keep_empty: bool, tell: bool) -> None:
    """Close the session file and say where it is (the TUI's users saw no start message); a default
    one that got no event is removed."""
    writer.close()
    if not (writer.events_in_file or keep_empty):
        writer.path.unlink(missing_ok=True)
    elif tell:
        print(inert(f"pixelspy: the session is in {writer.path} (pixelspy open {writer.path})"), file=sys.stderr)
