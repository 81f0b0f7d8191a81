"""The `pixelspy` console script. Loading pixelspy's modules takes a second or more (mitmproxy, the
decoders): Ctrl+C then ends as it does later, with one line and exit 130, not a traceback."""

from __future__ import annotations

import os
import sys

INTERRUPTED = "pixelspy: interrupted"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command ended by Ctrl+C


def interrupted() -> int:
    print(INTERRUPTED, file=sys.stderr)
    return EXIT_INTERRUPTED


def main() -> int:
    try:
        from pixelspy.cli import main as run
    except KeyboardInterrupt:
        # Ended here, not by returning: once in the test suite the process then ended by SIGINT (-2,
        # as CPython ends on a KeyboardInterrupt it takes for unhandled), after this line was printed.
        # Nothing is open yet.
        code = interrupted()
        sys.stderr.flush()
        os._exit(code)
    return run()
