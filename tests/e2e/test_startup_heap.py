"""The proxy process keeps its startup heap out of CPython's full collections.

Full collections stop every connection while they walk all tracked objects; pixelspy's startup heap
(mitmproxy, pydantic validators, the TUI) is about 95,000 objects and 40 ms a walk. The CLI freezes
it once the proxy listens, so later collections walk only the stored events and flows in flight.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from pixelspy import cli

_PROBE = textwrap.dedent("""
    import asyncio, gc, sys
    from pixelspy.proxy import Proxy, ProxyConfig
    from pixelspy.session import Session

    async def main():
        proxy = Proxy(Session(), ProxyConfig(port=0, sink=True, freeze_startup_heap=sys.argv[1] == "1"))
        await proxy.start()
        frozen = gc.get_freeze_count()
        await proxy.stop()
        print(frozen)

    asyncio.run(main())
""")


@pytest.mark.parametrize("freeze", [True, False])
def test_proxy_start_freezes_the_heap_only_when_asked(freeze, tmp_path):
    out = subprocess.run([sys.executable, "-c", _PROBE, "1" if freeze else "0"], capture_output=True, text=True,
                         timeout=60, env={"HOME": str(tmp_path), "PATH": ""})
    assert out.returncode == 0, out.stderr
    frozen = int(out.stdout.split()[-1])
    assert (frozen > 10_000) if freeze else frozen == 0


def test_the_cli_asks_for_it(monkeypatch):
    seen = []

    async def fake_headless(session, config):
        seen.append(config)
        return 0

    monkeypatch.setattr(cli, "run_headless", fake_headless)
    assert cli.main(["--no-ui", "--port", "0"]) == 0
    assert seen[0].freeze_startup_heap
