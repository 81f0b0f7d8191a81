"""Whether two pixelspy trees decode the same: every event, field by field, of the same hits.

    .venv/bin/python benchmarks/decode_same.py --against /tmp/b17 [--fuzz 40]

The hits: every corpus sample (benchmarks/corpus.py, three serials each), every hit of the
real-traffic recordings (tests/realtraffic/cases/*.har), and hostile hits made from a fixed seed
with the decoder fuzz test's generators (broken JSON, percent-encoding and gzip, invalid UTF-8, deep
nesting, type-confused JSON, random bytes) on every route. Each tree decodes them in a process of
its own (PYTHONPATH); an event is compared as its repr: every field, its type and value (tuples as
tuples, enums as enums), params, labels, user data and decode errors included. Exit 1 on the first
difference. This tree's corpus and generators make the hits for both, so they are the same hits.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(ROOT))  # for the test generators: after PYTHONPATH's pixelspy, never before

from pixelspy.model import RawHit  # noqa: E402 - after the path is set

SERIALS = 3


def decoder_hits(fuzz_per_route: int = 40) -> Iterator[RawHit]:
    """The hits both trees decode, in a fixed order."""
    from corpus import build_corpus

    from pixelspy.har.read import iter_har_hits
    from tests.test_fuzz_decoders import BODY_KINDS, CONTENT_TYPES, ROUTES, hosts_of, malformed_body, \
        random_query, sample_path

    for samples in build_corpus().values():
        for serial in range(SERIALS):
            for s in samples:
                yield s.hit(1_700_000_000.0 + serial, serial)
    for har in sorted((ROOT / "tests" / "realtraffic" / "cases").glob("*.har")):
        yield from iter_har_hits(har)
    rng = random.Random(27)
    for route in ROUTES:
        for i in range(fuzz_per_route):
            kind = BODY_KINDS[i % len(BODY_KINDS)]
            body, headers, _ = malformed_body(kind, rng.choice(CONTENT_TYPES), rng) if kind != "none" else (b"", [], 0)
            query = random_query(rng)
            url = f"https://{rng.choice(hosts_of(route))}{sample_path(route, rng)}" + (f"?{query}" if query else "")
            yield RawHit(method=rng.choice(["GET", "POST", "PUT"]), url=url, body=body, headers=headers, time=float(i))


def event_lines(hits: Iterator[RawHit]) -> Iterator[str]:
    """One line per hit: its id and the repr of each of its events."""
    from pixelspy.decoders import default_registry

    registry = default_registry()
    for hit in hits:
        yield repr((hit.id, [repr(ev) for ev in registry.decode(hit)]))


def lines_of(tree: Path, fuzz: int) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, __file__, "--dump", "--fuzz", str(fuzz)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return out.splitlines()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", type=Path, help="the other tree (e.g. `git archive` of main, unpacked)")
    ap.add_argument("--fuzz", type=int, default=40, help="hostile hits per route")
    ap.add_argument("--dump", action="store_true", help="print this process's lines (what each tree runs)")
    args = ap.parse_args()
    if args.dump:
        for line in event_lines(decoder_hits(args.fuzz)):
            print(line)
        return 0
    if args.against is None:
        ap.error("--against TREE is required")
    ours, theirs = lines_of(ROOT, args.fuzz), lines_of(args.against.resolve(), args.fuzz)
    events = sum(line.count("TrackingEvent(") for line in ours)
    print(f"{len(ours):,} hits, {events:,} events decoded here; {len(theirs):,} hits in {args.against}")
    for n, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            print(f"first difference at hit {n}:\n  here:    {a[:2000]}\n  against: {b[:2000]}")
            return 1
    if len(ours) != len(theirs):
        print("the trees decoded a different number of hits")
        return 1
    print("identical: every event, every field")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
