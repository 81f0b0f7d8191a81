"""Shared fixtures: a running `pixelspy --no-ui --sink` subprocess and a client that goes through it."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PixelspyProcess:
    """`pixelspy --no-ui` as a user runs it; JSON lines collected from its stdout."""

    def __init__(self, tmp: Path, *extra: str, cwd: Path | None = None):
        self.port = free_port()
        self.confdir = tmp / "mitmproxy"
        self.lines: list[dict] = []
        self.stderr_lines: list[str] = []
        self._cond = threading.Condition()
        cmd = [sys.executable, "-m", "pixelspy", "--no-ui", "--port", str(self.port),
               "--confdir", str(self.confdir), *extra]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     cwd=cwd or tmp, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self._wait_ready()

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(json.loads(line))
                self._cond.notify_all()

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            with self._cond:
                self.stderr_lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any("listening on" in line for line in self.stderr_lines):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("pixelspy did not start:\n" + "\n".join(self.stderr_lines))
                self._cond.wait(0.1)

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, **kw) -> httpx.Client:
        """An HTTP client going through the proxy, trusting pixelspy's generated CA."""
        ca = ssl.create_default_context(cafile=str(self.confdir / "mitmproxy-ca-cert.pem"))
        return httpx.Client(proxy=self.proxy_url, verify=ca, timeout=10, **kw)

    def events(self) -> dict[str, dict]:
        """Latest state of every event, by id (updates re-print an event whole)."""
        with self._cond:
            return {line["id"]: line for line in self.lines}

    def wait_for(self, predicate, timeout: float = 10) -> list[dict]:
        """Wait until predicate(list of latest events) is true; returns that list."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                evs = list({line["id"]: line for line in self.lines}.values())
                if predicate(evs):
                    return evs
                if time.monotonic() > deadline:
                    raise AssertionError(f"timed out; events: {json.dumps(evs, indent=1)[:4000]}\n"
                                         f"stderr: {self.stderr_lines}")
                self._cond.wait(0.1)

    def settle(self, quiet: float = 1.5, timeout: float = 15) -> list[dict]:
        """Latest events once nothing has been printed for `quiet` seconds: an event that changed is
        printed again at pixelspy's next tick (every 0.5 s), so a count of events can be reached
        before the last changes to them are printed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                seen = len(self.lines)
                self._cond.wait(quiet)
                if len(self.lines) == seen or time.monotonic() > deadline:
                    return list({line["id"]: line for line in self.lines}.values())

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@contextlib.contextmanager
def local_server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 for the duration; yields its base URL."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture(scope="session", autouse=True)
def _sessions_never_in_home(tmp_path_factory):
    """A live session is a file (pixelspy.store): never in the user's folder, also for the proxies
    that module-scoped fixtures start before any test's own folder exists."""
    os.environ["PIXELSPY_SESSIONS_DIR"] = str(tmp_path_factory.mktemp("sessions"))


@pytest.fixture(autouse=True)
def _sessions_in_tmp(tmp_path, monkeypatch):
    """… and a test's sessions go to its own folder."""
    monkeypatch.setenv("PIXELSPY_SESSIONS_DIR", str(tmp_path / "sessions"))


@pytest.fixture
def pixelspy(tmp_path) -> Iterator[PixelspyProcess]:
    """A running `pixelspy --no-ui --sink` on a free port with its own CA directory."""
    p = PixelspyProcess(tmp_path, "--sink")
    yield p
    p.stop()


@pytest.fixture
def pixelspy_factory(tmp_path):
    """Start pixelspy with other arguments: pixelspy_factory("--sink", "--config", path)."""
    procs = []

    def start(*args: str, cwd: Path | None = None) -> PixelspyProcess:
        p = PixelspyProcess(tmp_path, *args, cwd=cwd)
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.stop()
