"""README recipes as a user types them: `eval "$(pixelspy ca --bundle)"` in a shell, `pixelspy --no-ui |
head -1` (the pipe closing ends pixelspy quietly and frees the port)."""

from __future__ import annotations

import os
import subprocess
import sys


def test_eval_of_ca_bundle_keeps_local_hosts_off_the_proxy(tmp_path):
    script = (f'eval "$({sys.executable} -m pixelspy ca --bundle --confdir {tmp_path} -p 9123)" && '
              'echo "$HTTPS_PROXY|$NO_PROXY|$no_proxy"')
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "https_proxy")}
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "http://127.0.0.1:9123|localhost,127.0.0.1,::1|localhost,127.0.0.1,::1\n"
