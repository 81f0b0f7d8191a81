"""Ctrl+C on `pixelspy check` / `pixelspy open --no-ui` of a big HAR: one line and exit 130, never a
traceback, whether it comes while pixelspy's modules load or while the file is read."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="watches the process through /proc")

ENTRIES = 20_000  # ≈ 20 MB: a second or more to read, a fraction of one to write


def big_har(path: Path) -> Path:
    """Meta PageViews as a browser's HAR export holds them, each with a page-sized response."""
    page = "x" * 800
    with path.open("w") as f:
        f.write('{"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": [')
        for i in range(ENTRIES):
            entry = {"startedDateTime": "2026-12-06T10:00:00.000Z", "time": 1,
                     "request": {"method": "GET", "url": f"https://www.facebook.com/tr/?id=123456789012345"
                                 f"&ev=PageView&dl=https%3A%2F%2Fshop.example%2Fp{i}",
                                 "httpVersion": "HTTP/2", "headers": [], "queryString": [], "cookies": [],
                                 "headersSize": -1, "bodySize": 0},
                     "response": {"status": 200, "statusText": "", "httpVersion": "HTTP/2", "headers": [],
                                  "cookies": [], "content": {"size": len(page), "mimeType": "text/html",
                                                             "text": page},
                                  "redirectURL": "", "headersSize": -1, "bodySize": len(page)},
                     "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}}
            f.write(("," if i else "") + json.dumps(entry))
        f.write("]}}")
    return path


@pytest.fixture(scope="module")
def har(tmp_path_factory) -> Path:
    return big_har(tmp_path_factory.mktemp("interrupt") / "big.har")


def loaded_pixelspy(pid: int) -> bool:
    """pixelspy's own modules are being imported (pydantic's extension is mapped: pixelspy.model)."""
    return "pydantic_core" in Path(f"/proc/{pid}/maps").read_text()


def reading(path: Path):
    def opened(pid: int) -> bool:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == str(path):
                    return True
            except OSError:  # closed meanwhile
                pass
        return False
    return opened


def interrupt_when(argv: list[str], ready) -> tuple[int, str, bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "pixelspy", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as from a shell
    try:
        deadline = time.monotonic() + 30
        while not ready(proc.pid):
            assert proc.poll() is None, "ended before the moment to interrupt"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    return proc.returncode, err.decode(), out


@pytest.mark.parametrize("command, moment", [
    (["check"], "reading"),
    (["open", "--no-ui"], "loading"),
])
def test_ctrl_c_is_one_line_and_exit_130(har, command, moment):
    ready = loaded_pixelspy if moment == "loading" else reading(har)
    code, err, out = interrupt_when([*command, str(har)], ready)
    assert (code, err, out) == (130, "pixelspy: interrupted\n", b"")
