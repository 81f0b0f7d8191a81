"""`pixelspy sessions`: the recent session files, newest first."""

from __future__ import annotations

import sys
from pathlib import Path

from pixelspy.cli.common import Parser
from pixelspy.inert import inert


def sessions_main(argv: list[str]) -> int:
    from pixelspy.store import reader, sessions_dir

    p = Parser(prog="pixelspy sessions",
               description="List the recent sessions (newest first): each live session is a file in "
                           "~/pixelspy-sessions unless --session named another. pixelspy open FILE reopens one.")
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
