"""Decompression with an output cap: the one way pixelspy undoes a content-encoding.

A few kilobytes of gzip, brotli or zstd from a page can expand to gigabytes (1.7 KB of brotli: 1 GiB),
so nothing in pixelspy calls a library's one-shot decompress (nor mitmproxy's `.content`, which does)
on bytes from the wire or a file. Each decoder here stops once `limit` bytes are out and raises
TooLarge; what it read so far is on the exception, for callers that keep a truncated copy.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import brotli  # mitmproxy dependencies
import zstandard

# Compressed input handed to a decoder per step: brotli (1.1) has no output cap of its own, and one
# byte of a brotli bomb can stand for a megabyte, so steps are small: 16 bytes overshoot a 2 MB cap
# by 12-40 MB (256 bytes: 330 MB), and a benign 1 MB body still decodes in 40 ms.
_STEP = 16


class TooLarge(ValueError):
    """The decoded data would exceed the cap; `partial` holds the first `limit` bytes."""

    def __init__(self, limit: int, partial: bytes = b""):
        super().__init__(f"decodes to more than {limit:,} bytes")
        self.limit = limit
        self.partial = partial


class CorruptData(ValueError):
    """Not valid data of the named encoding."""


def _zlib(data: bytes, limit: int, wbits: int) -> bytes:
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as e:
        raise CorruptData(str(e)) from None
    if len(out) > limit:
        raise TooLarge(limit, out[:limit])
    return out


def _deflate(data: bytes, limit: int) -> bytes:
    try:
        return _zlib(data, limit, zlib.MAX_WBITS)  # zlib-wrapped, as the standard says
    except CorruptData:
        return _zlib(data, limit, -zlib.MAX_WBITS)  # raw deflate, as many servers send


def _stepped(step: Callable[[bytes], bytes], error: type[Exception], data: bytes, limit: int) -> bytes:
    """Feeds `data` to a decompressor's `step` _STEP bytes at a time, stopping past `limit`: for
    decoders with no output cap of their own."""
    out = bytearray()
    try:
        for i in range(0, len(data), _STEP):
            out += step(data[i:i + _STEP])
            if len(out) > limit:
                raise TooLarge(limit, bytes(out[:limit]))
    except error as e:
        raise CorruptData(str(e) or "not valid data") from None
    return bytes(out)


def _brotli(data: bytes, limit: int) -> bytes:
    return _stepped(brotli.Decompressor().process, brotli.error, data, limit)


def _zstd(data: bytes, limit: int) -> bytes:
    return _stepped(zstandard.ZstdDecompressor().decompressobj().decompress, zstandard.ZstdError, data, limit)


DECODERS = {
    "gzip": lambda data, limit: _zlib(data, limit, 16 + zlib.MAX_WBITS),
    "x-gzip": lambda data, limit: _zlib(data, limit, 16 + zlib.MAX_WBITS),
    "deflate": _deflate,
    "br": _brotli,
    "zstd": _zstd,
}


def decode(data: bytes, content_encoding: str, limit: int) -> bytes:
    """`data` with its Content-Encoding undone (several codings in the header's order), at most
    `limit` bytes. Raises TooLarge past the cap, CorruptData on broken data, and CorruptData for an
    unknown coding (its name in the message)."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    for coding in reversed(codings):  # the last coding applied is undone first
        if coding == "identity":
            continue
        decoder = DECODERS.get(coding)
        if decoder is None:
            raise CorruptData(f"unknown content-encoding {coding!r}")
        data = decoder(data, limit)
    if len(data) > limit:
        raise TooLarge(limit, data[:limit])
    return data
