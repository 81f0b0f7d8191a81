"""What every subcommand's parser shares: one-line usage errors, port numbers, config errors told a line each."""

from __future__ import annotations

import argparse
import sys

from pixelspy.config import ConfigError
from pixelspy.inert import inert


class Parser(argparse.ArgumentParser):
    """Usage errors in one line (the full usage is pages long): `pixelspy: error: …`, exit 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def port_arg(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return port


def print_config_error(e: ConfigError) -> None:
    for line in str(e).splitlines():  # one error a line (inert() would show the line breaks as \n)
        print(inert(f"pixelspy: {line}"), file=sys.stderr)
