"""Loaded by a proxy under test when `bench_proxy.py --stalls DIR` puts this folder on its
PYTHONPATH: installs stall_probe (beside bench_proxy.py) before anything else runs."""

import os
import sys

if os.environ.get("STALL_PROBE_OUT"):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import stall_probe

    stall_probe.install(os.environ["STALL_PROBE_OUT"])
