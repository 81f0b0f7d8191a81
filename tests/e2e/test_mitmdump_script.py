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


# A second script, for the test: every connection to a server fails, as to a vendor that is blocked
# (or with no network); the sink must answer without one.
UNREACHABLE_SERVERS = """
def server_connect(data):
    data.server.error = "unreachable (test)"
"""


def test_the_readme_recipe_sinks_hits_with_the_vendor_unreachable_and_logs_decoded_events(tmp_path):
    port = free_port()
    mitmdump = Path(sys.executable).with_name("mitmdump")
    unreachable = tmp_path / "unreachable.py"
    unreachable.write_text(UNREACHABLE_SERVERS)
    # The README's line (`mitmdump -s addons/pixelspy_addon.py --set pixelspy_sink=true`), on a free port.
    proc = subprocess.Popen(
        [str(mitmdump), "-s", str(ROOT / "addons" / "pixelspy_addon.py"), "--set", "pixelspy_sink=true",
         "-s", str(unreachable), "--listen-host", "127.0.0.1", "-p", str(port), "--set", f"confdir={tmp_path}"],
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
            except httpx.ConnectError as e:
                if "Connection refused" not in str(e):  # not listening yet; anything else is the answer
                    status = repr(e)
                time.sleep(0.2)
        assert status == 200, status  # answered by the sink, never sent to Meta
    finally:
        proc.terminate()
        out = proc.communicate(timeout=15)[0]
    assert "unreachable (test)" not in out  # no server connection was even tried
    line = next(line for line in out.splitlines() if "pixelspy {" in line)
    event = json.loads(line[line.index("{"):])
    assert (event["platform"], event["event"], event["event_id"]) == ("meta", "Lead", "lead-9")


def test_the_script_makes_connections_lazy_only_while_sinking_and_keeps_the_users_choice():
    import importlib.util

    from mitmproxy.test import taddons

    spec = importlib.util.spec_from_file_location("pixelspy_addon_script", ROOT / "addons" / "pixelspy_addon.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    pixelspy, lazy_when_sinking = script.addons
    with taddons.context(pixelspy, lazy_when_sinking) as tctx:
        # mitmproxy's own option (its proxy server addon, not loaded here, declares it)
        tctx.options.add_option("connection_strategy", str, "eager", "", choices=("eager", "lazy"))
        strategies = []
        for options in ({"pixelspy_sink": True}, {"pixelspy_sink": False},  # sinking on and off
                        {"connection_strategy": "lazy"}, {"pixelspy_sink": True}, {"pixelspy_sink": False}):
            tctx.configure(lazy_when_sinking, **options)
            strategies.append(tctx.options.connection_strategy)
    assert strategies == ["lazy", "eager", "lazy", "lazy", "lazy"]
