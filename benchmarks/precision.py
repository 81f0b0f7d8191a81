"""Precision and recall of pixelspy's warnings and errors on real traffic (issue #23).

Replays every case of the real-traffic corpus (tests/realtraffic/cases: recordings of real sites
made by other people, each warning/error judged by hand) the way `pixelspy check` reads a file,
and compares what pixelspy says now with the judgements:

- precision per code: findings judged true / all findings given (a finding nobody judged yet
  counts as false and is listed: judge it in the case's sidecar);
- recall per code: findings judged true that still come / all judged true;
- whether `pixelspy check` (--fail-on error) exits 0 on the cases judged clean.

Exit 0 when precision ≥ 95 %, recall is 100 % and every clean case passes.
Usage: .venv/bin/python benchmarks/precision.py [--verbose]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.realtraffic.corpus import load_cases, run_case  # noqa: E402

PRECISION_GOAL = 0.95


def code_of(key: str) -> str:
    return key.split(" ", 1)[0]


def ratio(num: int, den: int) -> str:
    return f"{num / den:6.1%}" if den else "     -"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--verbose", action="store_true", help="list every false, missed and unjudged finding")
    args = p.parse_args(argv)
    true_pos: Counter[str] = Counter()
    false_pos: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    notes: list[str] = []
    dirty_clean_cases = []
    cases = load_cases()
    for case in cases:
        run = run_case(case)
        for key, n in run.found.items():
            j = case.judgements.get(key)
            if j is not None and j.true:
                true_pos[code_of(key)] += min(n, j.count)
                false_pos[code_of(key)] += max(0, n - j.count)  # more copies than the recording has
            else:
                false_pos[code_of(key)] += n
                what = f"false (family {j.family}): {j.why}" if j else "NOT JUDGED"
                notes.append(f"  {case.name}: {n}× {key} — {what}")
        for key, j in case.judgements.items():
            if j.true and run.found[key] < j.count:
                missed[code_of(key)] += j.count - run.found[key]
                notes.append(f"  {case.name}: MISSED {key} — {j.why}")
        if case.clean and run.errors:
            dirty_clean_cases.append(f"{case.name} ({run.errors} errors)")
    codes = sorted(set(true_pos) | set(false_pos) | set(missed))
    print(f"real-traffic corpus: {len(cases)} cases, {sum(len(c.judgements) for c in cases)} judged findings\n")
    print(f"{'code':22} {'given':>5} {'true':>5} {'false':>5} {'missed':>6} {'precision':>9} {'recall':>7}")
    for code in codes:
        tp, fp, fn = true_pos[code], false_pos[code], missed[code]
        print(f"{code:22} {tp + fp:5} {tp:5} {fp:5} {fn:6} {ratio(tp, tp + fp):>9} {ratio(tp, tp + fn):>7}")
    tp, fp, fn = sum(true_pos.values()), sum(false_pos.values()), sum(missed.values())
    print(f"{'total':22} {tp + fp:5} {tp:5} {fp:5} {fn:6} {ratio(tp, tp + fp):>9} {ratio(tp, tp + fn):>7}")
    clean = [c for c in cases if c.clean]
    print(f"\n`pixelspy check` exits 0 on {len(clean) - len(dirty_clean_cases)} of {len(clean)} cases judged clean"
          + (f"; fails on {', '.join(dirty_clean_cases)}" if dirty_clean_cases else ""))
    if args.verbose and notes:
        print("\n" + "\n".join(notes))
    precision_ok = tp + fp == 0 or tp / (tp + fp) >= PRECISION_GOAL
    return 0 if precision_ok and fn == 0 and not dirty_clean_cases else 1


if __name__ == "__main__":
    sys.exit(main())
