"""What every subcommand's parser shares: one-line usage errors, port numbers, config errors told a line each."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from pixelspy.config import ConfigError
from pixelspy.inert import inert


class Parser(argparse.ArgumentParser):
    """Usage errors in one line (the full usage is pages long): `pixelspy: error: …`, exit 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def number_arg(parse: Callable[[str], float], low: float, high: float, what: str) -> Callable[[str], float]:
    """An argparse type: a number `parse` reads, from `low` to `high`; else "'TEXT' is not WHAT"."""
    def arg(text: str) -> float:
        try:
            value = parse(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value
    return arg


port_arg = number_arg(int, 0, 65535, "a port number (0-65535)")


def print_config_error(e: ConfigError) -> None:
    for line in str(e).splitlines():  # one error a line (inert() would show the line breaks as \n)
        print(inert(f"pixelspy: {line}"), file=sys.stderr)
