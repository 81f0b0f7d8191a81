"""`pixelspy open` (a session file as recorded; a HAR or mitmproxy flow file decoded and checked) and
`pixelspy check` (HAR or flow files checked, a report and an exit code for CI)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pixelspy.checks import CheckEngine
from pixelspy.cli.common import Parser, print_config_error
from pixelspy.config import ConfigError, load_config
from pixelspy.inert import inert, json_dumps
from pixelspy.session import Session

if TYPE_CHECKING:
    from pixelspy.har import LoadResult
    from pixelspy.har.read import Tee


# `check` reads events through its report's tally: its session keeps only a few (and their requests).
CHECK_KEPT_EVENTS = 1_000


def is_session_file(path: str) -> bool:
    """A session file by its name, or an SQLite file by its first bytes (a misnamed session)."""
    if path.endswith(".pixelspy"):
        return True
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def open_session_file(path: str | Path, config_path: str | None, no_ui: bool) -> int:
    """`pixelspy open FILE.pixelspy`: the session as recorded (the checks are not run again)."""
    from pixelspy.store import StoreError, reader

    try:
        session = _file_session(config_path)
    except ConfigError as e:
        print_config_error(e)
        return 2
    if no_ui:  # printed as read: a file may hold more events than a session keeps in memory
        session.subscribe(lambda ev, is_update: sys.stdout.write(json_dumps(session.json_line(ev)) + "\n"))
    try:
        loaded = reader.load(path, session)
    except StoreError as e:
        print(inert(f"pixelspy: {e}"), file=sys.stderr)
        return 2
    for problem in loaded.problems:
        print(inert(f"pixelspy: {path}: {problem}"), file=sys.stderr)
    if not no_ui:
        _show_session_file(Path(path), session)
    return 0


def _show_session_file(path: Path, session: Session) -> None:
    """The TUI over a session file: it goes on recording into the file (the marks added), so the list
    reads the rows memory does not hold from it; a file that cannot be written shows what memory holds."""
    from pixelspy.cli.recording import record_session
    from pixelspy.store import StoreError
    from pixelspy.tui.app import PixelSpyApp, freeze_what_was_read

    try:
        writer = record_session(session, path)
    except StoreError as e:
        writer = None
        print(inert(f"pixelspy: {e}: showing the newest {len(session):,} events only"), file=sys.stderr)
    freeze_what_was_read()
    try:
        PixelSpyApp(session, None, title=path.name).run()
    finally:
        if writer is not None:
            writer.close()


def export_session_file(args: argparse.Namespace) -> int:
    """`pixelspy open FILE.pixelspy --har OUT`: the session as a HAR file (after a crash, say)."""
    from pixelspy.store import StoreError
    from pixelspy.store.export import export_file

    try:
        n = export_file(args.file, args.har, redact=not args.no_redact)
    except StoreError as e:
        print(inert(f"pixelspy: {e}"), file=sys.stderr)
        return 2
    except OSError as e:
        print(inert(f"pixelspy: cannot write {args.har}: {e.strerror or e}"), file=sys.stderr)
        return 2
    print(inert(f"pixelspy: wrote {n:,} entries to {args.har}"), file=sys.stderr)
    return 0


def _file_session(config_path: str | None) -> Session:
    return Session(CheckEngine(load_config(config_path)))


def _stderr_progress(phase: str, done: int, total: int) -> None:
    what = "reading" if phase == "read" else "decoding"
    print(f"\rpixelspy: {what} {100 * done // max(total, 1):3d}%", end="", file=sys.stderr, flush=True)


def open_main(argv: list[str]) -> int:
    p = Parser(
        prog="pixelspy open",
        description="Open a session file (.pixelspy: shown as it was recorded, findings and ids included), or "
                    "a HAR file (saved by pixelspy, Chrome or Firefox DevTools, Charles, Proxyman…) or a "
                    "mitmproxy flow file: every tracking hit is decoded and checked, in time order.")
    p.add_argument("file", help="session file (.pixelspy), HAR (.har, .har.gz, .zhar) or mitmproxy flow file")
    p.add_argument("--config", metavar="PATH", default=None, help="pixelspy.toml (default ./pixelspy.toml)")
    p.add_argument("--no-ui", action="store_true", help="print the events as JSON lines instead of showing them")
    p.add_argument("--har", metavar="OUT", default=None,
                   help="a session file: write it as a HAR file OUT (redacted unless --no-redact) instead")
    p.add_argument("--no-redact", action="store_true", help="with --har: keep cookies, tokens and personal data")
    p.add_argument("--no-session", action="store_true",
                   help="a HAR or flow file: keep it in memory only (by default it is imported into a new session "
                        "file in ~/pixelspy-sessions, which pixelspy open reopens at once)")
    p.add_argument("--reimport", action="store_true",
                   help="a HAR or flow file imported before: decode it again into a new session file (by default "
                        "the earlier import of the same content is opened)")
    args = p.parse_args(argv)
    if is_session_file(args.file):
        return export_session_file(args) if args.har else open_session_file(args.file, args.config, args.no_ui)
    if args.har:
        p.error("--har converts a session file (.pixelspy); a HAR file opens as it is")
    return open_har_file(args)


def open_har_file(args: argparse.Namespace) -> int:
    """`pixelspy open FILE.har` (or a flow file): every hit decoded and checked, into a new session file
    (imported: --no-session keeps it in memory), then shown, or printed as JSON lines with --no-ui. A
    file imported before (the same content, pixelspy and configuration) reopens its session file."""
    from pixelspy.cli.sessions import ImportKey, earlier_import, end_import, import_session_file
    from pixelspy.store import StoreError

    path = Path(args.file)
    if not path.is_file():
        print(inert(f"pixelspy: {args.file}: no such file"), file=sys.stderr)
        return 2
    try:
        config = load_config(args.config)
    except ConfigError as e:
        print_config_error(e)
        return 2
    key = None if args.no_session else ImportKey.of(path, config)
    if key is not None and not args.reimport and (earlier := earlier_import(key)) is not None:
        print(inert(f"pixelspy: {args.file} was imported before (the same content, pixelspy and configuration): "
                    f"opening {earlier.path} (--reimport decodes it again)"), file=sys.stderr)
        for problem in earlier.problems:
            print(inert(f"pixelspy: {args.file}: {problem}"), file=sys.stderr)
        return open_session_file(earlier.path, args.config, args.no_ui)
    try:
        session = Session(CheckEngine(config))
        writer = None if args.no_session else import_session_file(session)
    except StoreError as e:
        print(inert(f"pixelspy: {e}"), file=sys.stderr)
        return 2
    result = None  # the file read to its end (an import cut short leaves no session file)
    try:
        code, result = (_read_file if args.no_ui else _show_file)(args.file, session, key.tee if key else None)
    finally:
        if writer is not None:
            end_import(writer, result, key)
    if code or not args.no_ui:
        return code
    if writer is not None and session.dropped:  # every event, those memory let go too
        return open_session_file(writer.path, args.config, no_ui=True)
    if note := session.dropped_note():
        print(inert(f"pixelspy: {args.file}: {note}"), file=sys.stderr)
    for ev in session:
        sys.stdout.write(json_dumps(session.json_line(ev)) + "\n")
    return 0


def _show_file(path: str, session: Session, tee: Tee | None) -> tuple[int, LoadResult | None]:
    """A HAR or flow file read into the TUI with a progress bar: (exit code, the file's LoadResult once
    read to its end)."""
    from pixelspy.tui.app import PixelSpyApp

    app = PixelSpyApp(session, None, load=Path(path), load_tee=tee)
    app.run()
    return app.return_code or 0, app.load_result  # 2 when the file could not be read, as with --no-ui


def _read_file(path: str, session: Session, tee: Tee | None) -> tuple[int, LoadResult | None]:
    """A HAR or flow file read into the session (--no-ui): (0 and its LoadResult, or 2 and None when it
    cannot be read)."""
    from pixelspy.har import HarReadError, load_file

    try:
        progress = _stderr_progress if sys.stderr.isatty() else None
        result = load_file(path, session, progress=progress, tee=tee)
    except HarReadError as e:
        print(("\n" if progress else "") + inert(f"pixelspy: {path}: {e}"), file=sys.stderr)
        return 2, None
    if progress:
        print(file=sys.stderr)
    for problem in result.problems:
        print(inert(f"pixelspy: {path}: {problem}"), file=sys.stderr)
    return 0, result


def check_main(argv: list[str]) -> int:
    from pixelspy.report import FAIL_ON, FORMATS

    p = Parser(
        prog="pixelspy check",
        description="Check HAR or mitmproxy flow files (e.g. recorded by end-to-end tests) and print\n"
                    "the findings. Exit 0 when clean, 1 when a finding reaches --fail-on or a file has\n"
                    "no tracking events (see --allow-empty), 2 when an input cannot be read (or on\n"
                    "usage errors).",
        epilog="examples:\n"
               "  pixelspy check visit.har\n"
               "  pixelspy check visit.har --format html -o report.html     # one file to open or forward\n"
               "  pixelspy check recorded/*.har --format junit -o pixel-report.xml --fail-on warning",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", metavar="FILE", help="HAR or mitmproxy flow files")
    p.add_argument("--config", metavar="PATH", default=None,
                   help="pixelspy.toml: tracking plan ([[expect]]), rules, consent (default ./pixelspy.toml)")
    p.add_argument("--format", choices=list(FORMATS), default="text", help="report format (default text)")
    p.add_argument("--fail-on", choices=FAIL_ON, default="error",
                   help="lowest severity that fails the check (default error)")
    p.add_argument("-o", "--output", metavar="PATH", help="write the report to PATH instead of stdout")
    p.add_argument("--allow-empty", action="store_true",
                   help="a file without tracking events passes (by default it fails: nothing was checked)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="text format: also list each event with its parameters")
    args = p.parse_args(argv)
    if args.verbose and args.format != "text":
        p.error("--verbose lists the events in the text format (pixelspy open FILE --no-ui prints each "
                "event's parameters as JSON lines)")
    from pixelspy.har import HarReadError, load_file
    from pixelspy.report import EventTally, FileReport, exit_code
    from pixelspy.report.text import EventListing, render_text

    try:
        config = load_config(args.config)
    except ConfigError as e:
        print_config_error(e)
        return 2
    reports, listings = [], []
    for path in args.files:
        # The report takes every event as it passes (EventTally); the session need not keep them.
        session = Session(CheckEngine(config), max_events=CHECK_KEPT_EVENTS)
        tally = EventTally()
        session.subscribe(tally)
        if args.verbose:
            listings.append(listing := EventListing())
            session.subscribe(listing)
        try:
            result = load_file(path, session)
        except HarReadError as e:
            reports.append(FileReport(path, error=str(e)))
            continue
        reports.append(FileReport(path, problems=result.problems, format=result.format, tally=tally,
                                  empty_fails=not args.allow_empty))
    text = render_text(reports, args.fail_on, listings) if args.verbose else FORMATS[args.format](reports, args.fail_on)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            print(f"pixelspy: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
            return 2
    else:
        sys.stdout.write(text)
    return exit_code(reports, args.fail_on)
