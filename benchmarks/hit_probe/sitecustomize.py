"""Loaded by a proxy under test when `bench_hit.py` puts this folder on its PYTHONPATH: installs
hit_probe (beside bench_hit.py) before anything else runs."""

import os
import sys

if os.environ.get("HIT_PROBE_OUT"):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import hit_probe

    hit_probe.install_live(os.environ["HIT_PROBE_OUT"])
