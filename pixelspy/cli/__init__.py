"""Command line: `pixelspy` (the live proxy: TUI, or JSON lines with --no-ui) and its subcommands.

__init__.py   main (the console script), the subcommand table, the live proxy's start (run)
common.py     what every subcommand's parser shares: one-line usage errors, port numbers, config errors
live.py       the live proxy's options and its run: the TUI, or headless JSON lines
recording.py  --session and --har: the live session recorded into files
files.py      `pixelspy open` and `pixelspy check`: session, HAR and mitmproxy flow files
ca.py         `pixelspy ca`
sessions.py   `pixelspy sessions`
"""

from __future__ import annotations

import difflib
import shlex
import sys
from pathlib import Path

from pixelspy.audit.command import register as register_audit
from pixelspy.checks import CheckEngine
from pixelspy.cli.ca import ca_main
from pixelspy.cli.common import Parser, print_config_error  # noqa: F401  Parser: imported from here by audit/command.py
from pixelspy.cli.files import check_main, open_main
from pixelspy.cli.live import LOCAL_HOSTS, listen_plan, live_parser, run_live
from pixelspy.cli.recording import (RecordingError, close_session_file, session_writer,  # noqa: F401  tests use
                                     start_recording)  # the two from here
from pixelspy.cli.sessions import sessions_main
from pixelspy.config import ConfigError, load_config
from pixelspy.console import interrupted
from pixelspy.inert import inert
from pixelspy.proxy import ProxyConfig
from pixelspy.session import Session


def main(argv: list[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:  # Ctrl+C while the proxy starts (before its handler is set), or in check: no traceback
        return interrupted()


def run(argv: list[str]) -> int:
    if argv[:1] and argv[0] in FILE_COMMANDS:
        return FILE_COMMANDS[argv[0]](argv[1:])
    if argv[:1] and not argv[0].startswith("-"):  # the live proxy takes no words: a misspelt command
        print(unknown_command(argv[0]), file=sys.stderr)
        return 2
    args = live_parser().parse_args(argv)
    listen_host, modes = listen_plan(args)
    if listen_host not in LOCAL_HOSTS:
        print(f"pixelspy: warning: listening on {listen_host}: the proxy is reachable from the network"
              + ("" if args.auth else "; anyone there can use it — consider --auth USER:PASS"), file=sys.stderr)
    config = ProxyConfig(listen_host=listen_host, port=args.port, sink=args.sink, proxyauth=args.auth,
                         confdir=args.confdir, modes=modes, ssl_insecure=args.ssl_insecure,
                         freeze_heap=True)
    try:
        session = Session(CheckEngine(load_config(args.config)))
    except ConfigError as e:
        print_config_error(e)
        return 2
    try:
        recording = start_recording(args, session, config)
    except RecordingError as e:
        print(inert(f"pixelspy: {e}"), file=sys.stderr)
        return 2
    try:
        return run_live(args, session, config, recording)
    finally:
        recording.close(tell=not args.no_ui)


def unknown_command(word: str) -> str:
    """`pixelspy chek …`, `pixelspy audit --help` on a version without it: said, not the main help."""
    if Path(word).is_file():
        guess = f"to open a file: pixelspy open {shlex.quote(word)}; "
    elif close := difflib.get_close_matches(word, FILE_COMMANDS, n=1):
        guess = f"did you mean {close[0]}? "
    else:
        guess = ""
    return inert(f"pixelspy: error: unknown command {word!r} ({guess}commands: {', '.join(FILE_COMMANDS)}; "
                 "see pixelspy --help)")


FILE_COMMANDS = {"open": open_main, "check": check_main, "ca": ca_main, "sessions": sessions_main}
register_audit(FILE_COMMANDS)
