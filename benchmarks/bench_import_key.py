"""`pixelspy open FILE.har` a first and a second time: what the import key (a SHA-256 of the whole file,
hashed as the import reads it) costs a first import, against the same import without the key
in the same run, and what a second open of the same file takes (the earlier import reopened).

    .venv/bin/python benchmarks/bench_import_key.py [--mb 40] [--body-kb 10] [--rounds 5]

The file is bench_har.py's (a shop visit as Chrome DevTools exports it); each run imports it with
--no-ui into a temporary sessions folder. Times are the best of --rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_har import make_har  # noqa: E402

from pixelspy import cli  # noqa: E402
from pixelspy.cli import sessions  # noqa: E402


def timed_open(*argv: str) -> tuple[float, float]:
    """Wall and CPU seconds (every thread's) of a `pixelspy open … --no-ui`."""
    t0, c0 = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert cli.main(["open", *argv, "--no-ui"]) == 0
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=40)
    ap.add_argument("--body-kb", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PIXELSPY_SESSIONS_DIR"] = str(Path(tmp) / "sessions")
        har = Path(tmp) / "visit.har"
        entries = make_har(har, args.mb, body_kb=args.body_kb)
        keyed, baseline, reopen = [], [], []
        real_key = sessions.ImportKey.of
        timed_open(str(har), "--no-session")  # imports warmed
        for _ in range(args.rounds):
            sessions.ImportKey.of = real_key
            keyed.append(timed_open(str(har), "--reimport"))
            reopen.append(timed_open(str(har)))
            sessions.ImportKey.of = classmethod(lambda cls, path, config: None)  # no key: the baseline
            baseline.append(timed_open(str(har), "--reimport"))
        sessions.ImportKey.of = real_key
    print(f"{har.name}: {args.mb} MB, {entries:,} entries; best of {args.rounds}, wall / CPU")
    (base_wall, base_cpu) = (min(t[i] for t in baseline) for i in (0, 1))
    for what, times in (("first open, no key (baseline)", baseline), ("first open, with its key", keyed),
                        ("second open (import reopened)", reopen)):
        wall, cpu = (min(t[i] for t in times) for i in (0, 1))
        print(f"{what:30} {wall:7.3f} / {cpu:7.3f} s   ratio {wall / base_wall:.3f} / {cpu / base_cpu:.3f}")


if __name__ == "__main__":
    main()
