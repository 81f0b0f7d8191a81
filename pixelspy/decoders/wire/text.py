"""Decode errors of one hit, and bytes read as text."""

from __future__ import annotations


class Errors(list[str]):
    """Decode errors collected while reading one hit."""

    def add(self, msg: str) -> None:
        if msg not in self:
            self.append(msg)


def to_text(data: bytes, errors: Errors, what: str = "body") -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        errors.add(f"{what} is not valid UTF-8 (byte {e.start}); undecodable bytes replaced")
        return data.decode("utf-8", errors="replace")
