"""`pixelspy open FILE.har` imports the file into a session file (issue #27), and `--har` is exported from
the session file at exit: what each costs against its in-memory baseline, measured in the same run.

    .venv/bin/python benchmarks/bench_open_import.py [--hits 20000] [--rounds 3]

- open: a HAR of `--hits` tracking hits (every vendor of the corpus, each its own page view and order)
  read and decoded into a session in memory (`open --no-session`, the baseline), then into a session
  recorded into a new session file (`open`, closed when read);
- HAR out: the same session written as HAR from memory (`save_har`, the baseline) and exported from
  the session file (`--har` at exit, Ctrl+S, `open SESSION --har`).
Times are the best of `--rounds` runs, wall and CPU (this process, the writer's thread included).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import build_corpus  # noqa: E402

from pixelspy.har import load_file, render_entry, save_har  # noqa: E402
from pixelspy.session import Session  # noqa: E402
from pixelspy.store.export import export_file  # noqa: E402
from pixelspy.store.writer import StoreWriter  # noqa: E402


def make_har(path: Path, hits: int) -> None:
    samples = [s for group in build_corpus().values() for s in group]
    t0 = 1_700_000_000.0
    entries = [render_entry(samples[i % len(samples)].hit(t0 + i * 0.01, serial=i + 1), [], None, False)
               for i in range(hits)]
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))


def best(rounds: int, run: Callable[[int], object]) -> tuple[float, float]:
    """(wall s, CPU s) of the fastest of `rounds` runs of run(round)."""
    times = []
    for r in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        run(r)
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hits", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        har = folder / "visit.har"
        make_har(har, args.hits)
        print(f"{har.stat().st_size / 2**20:.1f} MB HAR, {args.hits:,} tracking hits, best of {args.rounds}")

        def in_memory(_: int) -> Session:
            s = Session()
            load_file(har, s)
            return s

        def into_file(r: int) -> None:
            s = Session()
            w = StoreWriter(s, folder / f"import-{r}.pixelspy")
            w.open()
            w.attach()
            load_file(har, s)
            w.close()

        session = in_memory(0)
        rows = [("open", best(args.rounds, in_memory), best(args.rounds, into_file))]
        recorded = folder / "import-0.pixelspy"
        rows.append(("HAR out", best(args.rounds, lambda r: save_har(session, folder / f"mem-{r}.har")),
                     best(args.rounds, lambda r: export_file(recorded, folder / f"file-{r}.har"))))
        print(f"{'':8} {'in memory (wall/CPU s)':>24} {'session file (wall/CPU s)':>27} {'ratio wall':>11} {'ratio CPU':>10}")
        for name, (bw, bc), (fw, fc) in rows:
            print(f"{name:8} {bw:12.2f} {bc:11.2f} {fw:14.2f} {fc:12.2f} {fw / bw:11.2f} {fc / bc:10.2f}")


if __name__ == "__main__":
    main()
