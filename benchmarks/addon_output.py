"""Everything the addon hands on for bench_addon's mix, printed: to compare two trees' output.

    PYTHONPATH=/tmp/before .venv/bin/python benchmarks/addon_output.py > before.txt
    .venv/bin/python benchmarks/addon_output.py > after.txt && diff before.txt after.txt

For each request of three passes of the mix (ordinary GETs and the corpus' tracking hits, sink mode,
at fixed times): the hit the session was given (every field), the sink's answer (its state, its
timestamps left out), the flow's metadata, and every JSON line printed (new events, and the changed
ones at each flush). A change in how any of them is built shows as a difference.
"""

from __future__ import annotations

import dataclasses
import io
import sys
from unittest import mock

import bench_addon
from mitmproxy.test import taddons

from pixelspy import session as session_module
from pixelspy.addon import JsonLines, PixelSpy

START = 1_796_000_000.0


def main() -> int:
    with mock.patch("time.time", return_value=START):
        runs = [bench_addon.flows(run) for run in range(3)]
    addon = PixelSpy()
    out = io.StringIO()
    json_lines = JsonLines(addon.session, out=out)
    addon.session.subscribe(json_lines)
    hits = []
    ingest = session_module.Session.ingest

    def kept(session, hit):
        hits.append({f.name: getattr(hit, f.name) for f in dataclasses.fields(hit)})
        return ingest(session, hit)

    with taddons.context(addon) as tctx, mock.patch.object(session_module.Session, "ingest", kept):
        tctx.configure(addon, pixelspy_sink=True)
        for ordinary, tracking in runs:
            for n, flow in enumerate(sorted(ordinary + tracking, key=lambda f: f.request.timestamp_start)):
                hits.clear()
                flow.response = None
                addon.request(flow)
                if flow.response is not None:
                    addon.response(flow)
                    state = flow.response.get_state()
                    del state["timestamp_start"], state["timestamp_end"]
                else:
                    state = None
                print(n, hits, state, flow.metadata)
                if n % 42 == 0:
                    json_lines.flush()
        json_lines.flush()
    sys.stdout.write(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
