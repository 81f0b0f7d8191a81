"""README recipes as a user types them: `eval "$(pixelspy ca --bundle)"` in a shell, `pixelspy --no-ui |
head -1` (the pipe closing ends pixelspy quietly and frees the port)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import httpx

from tests.conftest import free_port


def test_eval_of_ca_bundle_keeps_local_hosts_off_the_proxy(tmp_path):
    script = (f'eval "$({sys.executable} -m pixelspy ca --bundle --confdir {tmp_path} -p 9123)" && '
              'echo "$HTTPS_PROXY|$NO_PROXY|$no_proxy"')
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "https_proxy")}
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "http://127.0.0.1:9123|localhost,127.0.0.1,::1|localhost,127.0.0.1,::1\n"


def hit(port: int, event: str) -> int:
    """A Meta pixel hit through the proxy (plain HTTP: answered by the sink, nothing to trust)."""
    with httpx.Client(proxy=f"http://127.0.0.1:{port}", timeout=10) as c:
        return c.get("http://www.facebook.com/tr/", params={"id": "1234567890123456", "ev": event}).status_code


def port_is_free(port: int) -> bool:
    """Whether a server can listen on the port again (as servers do, past the closed connections'
    TIME_WAIT: SO_REUSEADDR)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
    return True


def test_no_ui_piped_into_a_reader_that_closes_exits_quietly_and_frees_the_port(tmp_path):
    """`pixelspy --no-ui --sink | head -1`: once `head` has its line and exits, the next hit ends pixelspy."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pixelspy", "--no-ui", "--sink", "-p", str(port),
                             "--confdir", str(tmp_path / "mitmproxy")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert "listening on" in proc.stderr.readline()
        assert hit(port, "Lead") == 200
        assert json.loads(proc.stdout.readline())["event"] == "Lead"
        proc.stdout.close()  # what `head -1` does after its line
        assert hit(port, "Purchase") == 200  # the user's traffic is still answered
        code = proc.wait(timeout=10)
    finally:
        proc.kill()
    stderr = proc.stderr.read()
    proc.stderr.close()
    assert (code, stderr) == (0, "")
    assert port_is_free(port)
