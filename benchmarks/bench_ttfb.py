"""Time to first byte through `pixelspy --no-ui --sink`, bare `mitmdump` and directly, in one run.

Three kinds of response from a local upstream (its own process):
  sse     a server-sent-events stream: the first event at once, then one every 0.1 s for
          --stream-seconds; the time to the first event's bytes is what a live page waits
  chunked a 2 MB download of unknown length (chunked) sent in 64 KB pieces, 5 ms apart
  page    an ordinary 2 KB page with a content-length (held whole by pixelspy, as before)
Each kind is fetched --runs times through each target, in turns (direct, mitmdump, pixelspy,
then the reverse order), on a new connection each time; medians are printed with pixelspy's
ratio against direct and against mitmdump. mitmdump runs with its defaults, which hold every
body whole. Goal: pixelspy's first byte of a stream within 0.2 s of the direct one.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import platform
import socket
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from loopback import ProxyProcess, free_port, wait_port

EVENT = b"data: " + b"x" * 100 + b"\n\n"
PIECE = b"y" * 65536
PAGE = b"z" * 2048
STREAM_GOAL_S = 0.2


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stream_s: float) -> None:
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:  # wait_port's probe
            return
        path = head.split(b" ", 2)[1].rsplit(b"/", 1)[-1]
        if path == b"page":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: %d\r\n\r\n%s"
                         % (len(PAGE), PAGE))
        else:
            kind, piece, pause, count = ((b"text/event-stream", EVENT, 0.1, round(stream_s / 0.1) + 1)
                                         if path == b"sse" else (b"application/octet-stream", PIECE, 0.005, 32))
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: " + kind + b"\r\ntransfer-encoding: chunked\r\n\r\n")
            for n in range(count):
                if n:
                    await asyncio.sleep(pause)
                writer.write(_chunk(piece))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
        await writer.drain()
    finally:
        writer.close()


def _upstream(port: int, stream_s: float) -> None:
    async def main():
        server = await asyncio.start_server(lambda r, w: _serve(r, w, stream_s), "127.0.0.1", port)
        await server.serve_forever()
    asyncio.run(main())


def first_byte_s(via: int | None, upstream: int, kind: str) -> float:
    """Seconds from sending the request to the first byte of the body; the response is read to
    its end (a stream's end arrives after --stream-seconds whatever the proxy)."""
    url = f"http://127.0.0.1:{upstream}/{kind}"
    with socket.create_connection(("127.0.0.1", via or upstream)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        target = url if via else f"/{kind}"
        t0 = time.perf_counter()
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{upstream}\r\nConnection: close\r\n\r\n".encode())
        data, first = b"", None
        while chunk := s.recv(65536):
            data += chunk
            if first is None and (end := data.find(b"\r\n\r\n")) >= 0 and len(data) > end + 4:
                first = time.perf_counter() - t0
        if first is None or not data.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"bad answer from {url} via {via}: {data[:200]!r}")
        return first


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="fetches of each kind per target")
    ap.add_argument("--stream-seconds", type=float, default=2.0, help="how long the event stream lasts")
    args = ap.parse_args()
    print(f"time to first byte — python {platform.python_version()}, mitmproxy {version('mitmproxy')}")

    port = free_port()
    upstream = multiprocessing.get_context("fork").Process(target=_upstream, args=(port, args.stream_seconds),
                                                          daemon=True)
    upstream.start()
    wait_port(port)
    kinds = ("sse", "chunked", "page")
    targets = ("direct", "mitmdump", "pixelspy")
    times: dict[tuple[str, str], list[float]] = {(t, k): [] for t in targets for k in kinds}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            proxies = {kind: ProxyProcess(kind, Path(tmp) / "confdir") for kind in ("mitmdump", "pixelspy")}
            try:
                for run in range(args.runs):
                    for target in (targets if run % 2 == 0 else targets[::-1]):
                        via = proxies[target].port if target in proxies else None
                        for kind in kinds:
                            times[target, kind].append(first_byte_s(via, port, kind))
            finally:
                for proxy in proxies.values():
                    proxy.stop()
    finally:
        upstream.terminate()
        upstream.join(5)

    print(f"\nmedian first byte of the body, ms ({args.runs} runs; stream lasts {args.stream_seconds:.1f} s)")
    print(f"  {'kind':8}{'direct':>10}{'mitmdump':>10}{'pixelspy':>10}   ÷ direct   ÷ mitmdump")
    med = {key: statistics.median(values) for key, values in times.items()}
    for kind in kinds:
        d, m, p = (med[t, kind] for t in targets)
        print(f"  {kind:8}{d * 1e3:10.1f}{m * 1e3:10.1f}{p * 1e3:10.1f}   {p / d:8.2f}   {p / m:10.3f}")
    ok = all(med["pixelspy", k] - med["direct", k] <= STREAM_GOAL_S for k in ("sse", "chunked"))
    print(f"\ngoal (streams' first byte within {STREAM_GOAL_S * 1e3:.0f} ms of direct): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
