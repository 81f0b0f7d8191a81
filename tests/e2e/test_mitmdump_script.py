"""The addon script as mitmproxy users load it: `mitmdump -s addons/pixelspy_addon.py`."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_mitmdump_with_the_addon_script_logs_decoded_events_and_sinks_hits(tmp_path):
    port = free_port()
    mitmdump = Path(sys.executable).with_name("mitmdump")
    proc = subprocess.Popen(
        [str(mitmdump), "-s", str(ROOT / "addons" / "pixelspy_addon.py"), "--listen-host", "127.0.0.1",
         "-p", str(port), "--set", f"confdir={tmp_path}", "--set", "connection_strategy=lazy",
         "--set", "pixelspy_sink=true"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        ca = tmp_path / "mitmproxy-ca-cert.pem"
        deadline = time.monotonic() + 30
        while not ca.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        status = None
        while status is None and time.monotonic() < deadline:
            try:
                with httpx.Client(proxy=f"http://127.0.0.1:{port}", verify=ssl.create_default_context(cafile=ca)) as c:
                    status = c.get("https://www.facebook.com/tr/",
                                   params={"id": "1234567890123456", "ev": "Lead", "eid": "lead-9"}).status_code
            except httpx.ConnectError:
                time.sleep(0.2)
        assert status == 200  # answered by the sink, never sent to Meta
    finally:
        proc.terminate()
        out = proc.communicate(timeout=15)[0]
    line = next(line for line in out.splitlines() if "pixelspy {" in line)
    event = json.loads(line[line.index("{"):])
    assert (event["platform"], event["event"], event["event_id"]) == ("meta", "Lead", "lead-9")
