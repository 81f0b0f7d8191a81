"""`pixelspy sessions`: the recent session files, newest first; and a HAR or flow file imported into a
new one (`pixelspy open FILE.har`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pixelspy.cli.common import Parser
from pixelspy.cli.recording import close_session_file, record_session
from pixelspy.inert import inert
from pixelspy.session import Session

if TYPE_CHECKING:
    from pixelspy.store.writer import StoreWriter


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


def import_session_file(session: Session) -> StoreWriter:
    """`pixelspy open FILE.har`: a new file in the sessions folder records the session as the file is
    read, like a live session (listed by `pixelspy sessions`, reopened by `pixelspy open` without
    decoding again), so every event of a file larger than memory's bound can be browsed. StoreError
    when it cannot be made."""
    from pixelspy.store import new_session_path

    return record_session(session, new_session_path())


def end_import(writer: StoreWriter, complete: bool) -> None:
    """Close the imported session file: kept and told when the file was read to its end and gave
    events; removed otherwise (unreadable, cut short by Ctrl+C or quitting)."""
    if complete:
        close_session_file(writer, keep_empty=False, tell=True)
    else:
        writer.close()
        writer.path.unlink(missing_ok=True)
