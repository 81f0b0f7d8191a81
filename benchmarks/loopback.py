"""Loopback plumbing shared by the proxy benchmarks: a fast local upstream, the two proxies under
test, and an asyncio load generator speaking HTTP/1.1 with absolute-form URLs through a proxy.

Everything binds 127.0.0.1. Tracking hits are sent as plain-HTTP requests to vendor hosts; both
proxies answer them locally (pixelspy with --sink, mitmdump with mitmdump_sink.py), so nothing
leaves the machine.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from corpus import Sample, build_corpus

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
UPSTREAM_BODY = b"x" * 2048  # a small HTML/JSON-sized response


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- upstream


class _UpstreamProtocol(asyncio.Protocol):
    """Keep-alive HTTP/1.1 server answering every request with one write (headers + body), with
    TCP_NODELAY: a handler that sends headers and body separately meets Nagle + delayed ACK and
    caps the whole benchmark near 100 req/s."""

    response = (b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: "
                + str(len(UPSTREAM_BODY)).encode() + b"\r\n\r\n" + UPSTREAM_BODY)

    def connection_made(self, transport):
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def data_received(self, data):
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            length = 0
            for line in self.buf[:head_end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            end = head_end + 4 + length
            if len(self.buf) < end:
                return
            self.buf = self.buf[end:]
            self.transport.write(self.response)


def _serve_upstream(port: int) -> None:
    async def serve():
        server = await asyncio.get_running_loop().create_server(_UpstreamProtocol, "127.0.0.1", port)
        await server.serve_forever()
    asyncio.run(serve())


class Upstream:
    """The upstream in its own process, so it does not share a core's GIL with the load generator."""

    def __init__(self):
        self.port = free_port()
        self.proc = multiprocessing.get_context("fork").Process(target=_serve_upstream, args=(self.port,),
                                                                daemon=True)
        self.proc.start()
        wait_port(self.port)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.join(5)


def wait_port(port: int, timeout: float = 30, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}: {proc.args}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


# ---------------------------------------------------------------- proxies under test


class ProxyProcess:
    """`pixelspy --no-ui --sink` or bare `mitmdump` answering the same tracking hits locally, or
    "no-decode": pixelspy with its decoding off (pixelspy_nodecode.py), or "offload": pixelspy with its
    session's work in a second process (pixelspy_offload.py, an experiment)."""

    SCRIPTS = {"no-decode": "pixelspy_nodecode.py", "offload": "pixelspy_offload.py"}

    def __init__(self, kind: str, confdir: Path, stdout=subprocess.DEVNULL, env: dict[str, str] | None = None):
        self.kind = kind
        self.port = free_port()
        if kind == "pixelspy" or kind in self.SCRIPTS:
            # -P: `-m` would put the working directory first on sys.path, and a pixelspy tree there
            # (a run from the checkout) would shadow the tree on PYTHONPATH (bench_proxy --against)
            program = ["-P", "-m", "pixelspy"] if kind == "pixelspy" else [str(HERE / self.SCRIPTS[kind])]
            cmd = [sys.executable, *program, "--no-ui", "--sink", "--port", str(self.port), "--confdir", str(confdir)]
        elif kind == "mitmdump":
            cmd = [str(VENV_BIN / "mitmdump"), "--listen-host", "127.0.0.1", "-p", str(self.port),
                   "--set", f"confdir={confdir}", "--set", "connection_strategy=lazy", "-q",
                   "-s", str(HERE / "mitmdump_sink.py")]
        else:
            raise ValueError(kind)
        # pixelspy records its session file as by default, beside the run's CA rather than in ~
        env = {**os.environ, "PIXELSPY_SESSIONS_DIR": str(confdir / "sessions"), **(env or {})}
        self.proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.DEVNULL, env=env)
        wait_port(self.port, proc=self.proc)

    def memory_kib(self) -> dict[str, int]:
        """VmRSS (now) and VmHWM (peak resident set) of the proxy process."""
        out = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
        return out

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------- request mix


# Serials of the tracking hits sent: unique within the load generator's process, as a real
# session's event IDs and page views are (see corpus.Sample.hit).
_SERIALS = itertools.count(1)


def request_mix(upstream_port: int, tracking_every: int = 10) -> list[bytes | Sample]:
    """One in `tracking_every` a tracking hit (a corpus sample of a route answered in sink mode), the
    rest ordinary GETs to the upstream with varied paths, serialised; tracking_every=0: no tracking
    hits. Send each as mix_request(item, serial)."""
    tracking = [s for group in build_corpus(sink_only=True).values() for s in group] if tracking_every else []
    if tracking_every and not tracking:
        sys.exit("no sink-mode decoder routes any corpus sample")
    out: list[bytes | Sample] = []
    for i in range(tracking_every * len(tracking) * 20 or 400):
        if tracking and i % tracking_every == 0:
            out.append(tracking[(i // tracking_every) % len(tracking)])
        else:
            out.append(_serialise("GET", f"http://127.0.0.1:{upstream_port}/static/page-{i}.html?v={i * 7919 % 1000}",
                                  [("host", f"127.0.0.1:{upstream_port}"), ("accept", "text/html")], b""))
    return out


def mix_request(item: bytes | Sample, serial: int) -> bytes:
    """The bytes to send for an item of request_mix(): a tracking hit with this serial's order and
    event IDs and page view, so no two hits sent are copies of each other."""
    if isinstance(item, bytes):
        return item
    hit = item.hit(serial=serial)
    url = "http://" + hit.url.split("://", 1)[1]  # plain HTTP: no TLS handshakes to compare
    return _serialise(item.method, url, [("host", hit.host), *item.headers], hit.body)


def _serialise(method: str, url: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    lines = [f"{method} {url} HTTP/1.1", *(f"{k}: {v}" for k, v in headers),
             "user-agent: pixelspy-bench", f"content-length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def is_tracking(request: bytes) -> bool:
    """Whether a request of request_mix() is a tracking hit (the others go to the upstream)."""
    return not request.startswith(b"GET http://127.0.0.1:")


# ---------------------------------------------------------------- load generator


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    # the tracking hits' latencies again, apart
    tracking_latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @classmethod
    def merged(cls, results: list[LoadResult]) -> LoadResult:
        return cls(requests=sum(r.requests for r in results), errors=sum(r.errors for r in results),
                   seconds=sum(r.seconds for r in results),
                   latencies=[x for r in results for x in r.latencies],
                   tracking_latencies=[x for r in results for x in r.tracking_latencies],
                   statuses=dict(sum((Counter(r.statuses) for r in results), Counter())))

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float, tracking_only: bool = False) -> float:
        xs = sorted(self.tracking_latencies if tracking_only else self.latencies)
        if not xs:
            return float("nan")
        return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    if status in (204, 304) or 100 <= status < 200:
        return status
    if (i := lower.find(b"content-length:")) >= 0:
        await reader.readexactly(int(lower[i + 15:lower.find(b"\r\n", i)]))
    elif b"transfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _connection(port: int, requests: list[bytes | Sample], offset: int, stop_at: float, result: LoadResult,
                      interval: float | None, phase: float, record_from: float, client: str,
                      max_requests: int | None = None) -> None:
    """One keep-alive connection from `client` (a loopback address: each connection is a device
    of its own to the proxy, as phones and browsers sharing a proxy are), until `stop_at` or until
    the connections together have `max_requests` answers."""
    def connect():
        return asyncio.open_connection("127.0.0.1", port, local_addr=(client, 0))

    reader, writer = await connect()
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    loop = asyncio.get_running_loop()
    i = offset
    next_send = loop.time() + phase  # paced connections are staggered, not fired in bursts
    try:
        while (now := loop.time()) < stop_at and (max_requests is None or result.requests < max_requests):
            if interval is not None:  # paced: a fixed rate per connection
                if now < next_send:
                    await asyncio.sleep(next_send - now)
                next_send += interval
            request = mix_request(requests[i % len(requests)], next(_SERIALS))
            i += 1
            t0 = loop.time()
            writer.write(request)
            try:
                status = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                result.errors += 1
                writer.close()
                reader, writer = await connect()
                continue
            t1 = loop.time()
            if t0 >= record_from:
                result.requests += 1
                result.latencies.append(t1 - t0)
                if is_tracking(request):
                    result.tracking_latencies.append(t1 - t0)
                result.statuses[status] = result.statuses.get(status, 0) + 1
    finally:
        writer.close()


async def run_load(port: int, requests: list[bytes | Sample], connections: int, seconds: float,
                   warmup: float = 1.0, rate: float | None = None, max_requests: int | None = None) -> LoadResult:
    """Keep-alive connections, each from a loopback address of its own, sending the mix through the
    proxy for warmup + seconds (or until `max_requests` counted answers); only requests sent after
    the warm-up count. With `rate`, total requests/s are paced instead of saturating."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    result = LoadResult()
    interval = connections / rate if rate else None
    stop_at = start + warmup + seconds
    # Each connection starts its own part of the mix, one item further along than a whole share:
    # with offsets a multiple of the mix's period, every connection would send its tracking hit
    # in the same turn, as eight devices firing in lockstep.
    step = max(1, len(requests) // connections) + 1
    await asyncio.gather(*(_connection(port, requests, c * step, stop_at, result, interval,
                                       (interval or 0) * c / connections, start + warmup, client_address(c),
                                       max_requests)
                           for c in range(connections)))
    result.seconds = seconds
    return result


def client_address(connection: int) -> str:
    """The loopback address connection number `connection` sends from: a device of its own."""
    return f"127.0.0.{2 + connection % 250}"


def cpu_info() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return f"{os.cpu_count()} cores"
