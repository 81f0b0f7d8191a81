"""The session store (issue #27): what recording into the session file costs, against the same run.

    .venv/bin/python benchmarks/bench_store.py [--hits 20000] [--rounds 3] [--memory-hits 30000]

Measures, over bench_decode's corpus (every vendor, a pass every 10 s):
  ingest    Session.ingest alone (the baseline), then with the store's writer: committing from its
            background thread (pixelspy's way), or inline, every 250 hits, in the ingesting thread
            (what a timer on the asyncio loop would cost the loop)
  commits   the writer's commits in the threaded run: lag from the first event of a batch to its
            commit (what a crash can lose), and the time a commit takes
  memory    RSS growth per stored event, each in a fresh process: no store (the baseline), the store
            with the session's default in-memory bound, the store with a small in-memory window
            (older events evicted from memory and read back from the file on demand), that window
            again under the live process's collector settings (heap.freeze_heap), the collector's
            share of each ingest loop (gc.callbacks), and the writer's batches and waits
  writer    where the writer's CPU goes: the ingest flushed every PROFILE_EVERY_HITS hits (--every N;
            --vary: N/2 to 3N/2, as live batches vary) in its own thread, each statement's thread CPU
            by kind and how many ran, how many SQLite compiled (sqlite3's statement cache missed);
            the rest of a flush is Python, holding the GIL: the rows' building (records' JSON, words,
            zlib) and the flush's own steps. The full-text index is fed as the writer does (every
            FEED_EVERY_S or FEED_ROWS events): the run goes faster than real time, so by FEED_ROWS, as a
            saturated proxy would. --contend: a flush every COMMIT_EVERY_S in real time beside a
            stand-in event loop (a thread asleep, then running Python), how late its wakes were during
            the flushes (the GIL held by the writer) and between; --paced R: the writer in its own
            thread as live, the hits ingested at R a second: its CPU per hit and hits per commit
  rows      with --rows-against DIR: the rows this tree's writer stores against those of the tree in
            DIR (its own pixelspy through PYTHONPATH, each in a fresh process): bench_decode's corpus
            and every HAR of tests/realtraffic/cases, flushed every PROFILE_EVERY_HITS hits; every
            table's rows and every word the full-text index holds (identical, or the tables that differ)
  proxy     with --proxy-seconds S: `pixelspy --no-ui --sink` recording its session file against
            `--no-session`, both started each round and loaded in turns of PROXY_SLICE_S: requests/s
            and CPU per request saturated, pooled p95/p99 latency paced (bench_proxy's loopback
            load, one request in PROXY_TRACKING_EVERY a tracking hit)
Goal (#27): RSS per stored event ≤ 1 KiB; the collector ≤ 5 % of ingest; the store's cost on ingest
small against decoding.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench_decode import corpus_hits

from pixelspy.session import Session
from pixelspy.store.writer import COMMIT_EVERY_S, StoreWriter

INLINE_EVERY_HITS = 250
PROFILE_EVERY_HITS = 6
PROXY_TRACKING_EVERY = 3  # more tracking than bench_proxy's 1 in 10: the store works per tracking hit
PROXY_CONNECTIONS = 8  # ≈ 250 ms of hits at 1,000 a second
PROXY_SLICE_S = 3.0
SMALL_WINDOW = 1_000
# The span of objects/heap per event starts here: the decoders' shared-param caches (bounded) fill
# in the first hits.
TRACKED_FROM = 10_000
GOAL_KIB_PER_EVENT = 1.0
GOAL_GC_SHARE = 0.05


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def ingest_run(hits: list, mode: str, folder: Path, commits: list) -> float:
    """Seconds to ingest `hits` into a fresh session; mode none | thread | inline."""
    session = Session()
    writer = None
    if mode != "none":
        path = folder / f"{mode}-{time.monotonic_ns()}.pixelspy"
        writer = StoreWriter(session, path)
        writer.open()
        if mode == "thread":
            writer.attach()
        else:  # the subscribers alone; flush() called here, as a loop timer would
            session.subscribe(writer.event)
            session.subscribe_marks(writer.marks)
            session.subscribe_hits(writer.hit)
    gc.collect()
    t0 = time.perf_counter()
    for n, h in enumerate(hits, 1):
        session.ingest(h)
        if mode == "inline" and n % INLINE_EVERY_HITS == 0:
            writer.flush()
    if mode == "inline":
        writer.flush()
    elapsed = time.perf_counter() - t0
    if writer is not None:
        writer.close()  # the thread's last batch: its time is outside the ingest's
        commits.extend(writer.commits)
    return elapsed


class TimedConnection:
    """A connection whose statements' thread CPU is added up by kind (their first words)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        # A statement's kind by its text, worked out once (splitting a batch's long text at each call
        # was ≈ 2 µs of the flush's "Python" time a statement)
        self.kinds: dict[str, str] = {}
        # sqlite3's statement cache (an LRU by text, WRITER_CACHED_STATEMENTS long) as it would be:
        # a text not in it is compiled by SQLite again
        from pixelspy.store.schema import WRITER_CACHED_STATEMENTS

        self.cache_size = WRITER_CACHED_STATEMENTS
        self.cached: dict[str, None] = {}
        self.misses = 0
        # The longest the thread ran Python (held the GIL) between two statements, this flush
        self.held_since = 0.0
        self.held_most = 0.0

    def __getattr__(self, name: str):
        return getattr(self.db, name)

    def execute(self, sql: str, *args):
        return self._timed(self.db.execute, sql, *args)

    def executemany(self, sql: str, *args):
        return self._timed(self.db.executemany, sql, *args)

    def _timed(self, run, sql: str, *args):
        if (kind := self.kinds.get(sql)) is None:
            kind = self.kinds[sql] = " ".join(sql.split(" VALUES")[0].split(" WHERE")[0].split()[:5])
        if sql in self.cached:
            del self.cached[sql]  # (the newest again)
        else:
            self.misses += 1
            if len(self.cached) >= self.cache_size:
                del self.cached[next(iter(self.cached))]
        self.cached[sql] = None
        t0 = time.thread_time()
        self.held_most = max(self.held_most, t0 - self.held_since)
        try:
            return run(sql, *args)
        finally:
            self.held_since = t1 = time.thread_time()
            self.cpu[kind] = self.cpu.get(kind, 0.0) + t1 - t0
            self.calls[kind] = self.calls.get(kind, 0) + 1

    def start(self) -> None:
        """A flush begins."""
        self.held_since, self.held_most = time.thread_time(), 0.0

    def end(self) -> float:
        """A flush ended: the longest it held the GIL at a stretch."""
        return max(self.held_most, time.thread_time() - self.held_since)


# Functions of pixelspy.store.records the writer calls to build its rows (timed apart from the rest
# of a flush's Python when --writer-only profiles it; ≈ 0.5 µs a call of the probe's own).
ROW_BUILDERS = ("event_row", "hit_row", "finding_row", "finding_rows", "search_words", "pack")
# The stand-in for the proxy's event loop (--contend): asleep this long, then Python work this long,
# as a paced proxy's loop waits in select() between requests.
LOOP_SLEEP_S = 0.0005
LOOP_WORK_S = 0.0001


def timed_builders(cpu: dict[str, float]) -> None:
    """The writer's row builders wrapped to add their thread CPU to cpu["rows"]."""
    from pixelspy.store import writer as module

    def timed(fn):
        def run(*args, **kw):
            t0 = time.thread_time()
            try:
                return fn(*args, **kw)
            finally:
                cpu["rows"] = cpu.get("rows", 0.0) + time.thread_time() - t0
        return run

    for name in ROW_BUILDERS:
        if hasattr(module, name):
            setattr(module, name, timed(getattr(module, name)))


class StandInLoop:
    """A thread like a paced proxy's event loop: sleeps LOOP_SLEEP_S, then runs Python for LOOP_WORK_S,
    and notes how late each wake was (the OS's timer slack, plus the wait for the GIL while the writer
    holds it: up to the switch interval)."""

    def __init__(self) -> None:
        import threading

        self.late: list[tuple[float, float]] = []  # (when, s late)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = time.perf_counter()
            time.sleep(LOOP_SLEEP_S)
            t1 = time.perf_counter()
            self.late.append((t1, t1 - t0 - LOOP_SLEEP_S))
            while time.perf_counter() - t1 < LOOP_WORK_S:
                pass

    def __enter__(self) -> StandInLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def writer_profile(hits: list, folder: Path, every: int = PROFILE_EVERY_HITS, vary: bool = False,
                   contend: bool = False) -> None:
    """The writer's CPU per hit: its statements' share, the rows' building, the rest of its Python;
    per-flush CPU; how many statements SQLite had to compile (sqlite3's statement cache missed).
    `every` hits a flush, or with `vary` a number drawn between every/2 and every*3/2 (live batches vary);
    with `contend`, beside a StandInLoop (the flushes run at the live commit interval, the thread's
    switch interval as in the proxy), and how late the loop's wakes were during flushes and between (the
    ingest of the next batch runs between, in this thread)."""
    import random

    from pixelspy.store.schema import WRITER_CACHED_STATEMENTS

    session = Session()
    writer = StoreWriter(session, folder / f"profile-{time.monotonic_ns()}.pixelspy")
    writer.open()
    writer.db = timed = TimedConnection(writer.db)
    builders: dict[str, float] = {}
    timed_builders(builders)
    session.subscribe(writer.event)
    session.subscribe_marks(writer.marks)
    session.subscribe_hits(writer.hit)
    draw = random.Random(27)
    flushes, spans, held = [], [], []
    loop = StandInLoop() if contend else None
    if contend:
        from pixelspy.proxy import GIL_SWITCH_INTERVAL_S

        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        loop.__enter__()
    try:
        i = 0
        while i < len(hits):
            n = draw.randint(max(1, every // 2), every * 3 // 2) if vary else every
            for h in hits[i:i + n]:
                session.ingest(h)
            i += n
            if contend:
                time.sleep(max(0.0, COMMIT_EVERY_S - (time.perf_counter() - (spans[-1][0] if spans else 0.0))))
            t0, c0 = time.perf_counter(), time.thread_time()
            timed.start()
            writer.flush()
            flushes.append(time.thread_time() - c0)
            held.append(timed.end())
            spans.append((t0, time.perf_counter()))
    finally:
        if loop is not None:
            loop.__exit__()
    rows = sum(c[2] for c in writer.commits)
    writer.close()
    total, in_sql, in_rows = sum(flushes), sum(timed.cpu.values()), builders.get("rows", 0.0)
    per_hit = 1e6 / len(hits)
    print(f"writer ({len(flushes)} flushes of {'≈ ' if vary else ''}{len(hits) / len(flushes):.1f} hits, "
          f"{rows / len(flushes):.1f} rows each, in the ingesting thread): CPU {total * per_hit:.0f} µs/hit, of it "
          f"SQLite's statements {in_sql * per_hit:.0f}, Python (GIL held) {(total - in_sql) * per_hit:.0f} (the rows' "
          f"building {in_rows * per_hit:.0f}, the rest {(total - in_sql - in_rows) * per_hit:.0f}); a flush's CPU p50 "
          f"{percentile(flushes, .5) * 1e3:.2f} ms p99 {percentile(flushes, .99) * 1e3:.2f} max {max(flushes) * 1e3:.2f}")
    calls = sum(timed.calls.values())
    print(f"    statements {calls / len(flushes):.1f} a flush, compiled (sqlite3's cache of "
          f"{WRITER_CACHED_STATEMENTS} missed) {timed.misses / len(flushes):.1f} a flush, "
          f"{len(timed.kinds)} texts; a flush's longest Python between statements (GIL held) p50 "
          f"{percentile(held, .5) * 1e6:.0f} µs p99 {percentile(held, .99) * 1e6:.0f} max {max(held) * 1e6:.0f}")
    for kind, cpu in sorted(timed.cpu.items(), key=lambda kv: -kv[1])[:8]:
        print(f"    {kind:50} {cpu * per_hit:5.0f} µs/hit  {cpu / total:5.1%}  ({timed.calls[kind]:,} statements)")
    if loop is not None:
        during = [late for when, late in loop.late if any(s <= when <= e for s, e in spans)]
        between = [late for when, late in loop.late if not any(s <= when <= e for s, e in spans)]
        walls = [e - s for s, e in spans]
        print(f"    beside a stand-in loop (sleep {LOOP_SLEEP_S * 1e3:g} ms, work {LOOP_WORK_S * 1e3:g} ms; switch "
              f"interval {sys.getswitchinterval() * 1e3:g} ms): a flush's wall p50 {percentile(walls, .5) * 1e3:.2f} "
              f"ms p99 {percentile(walls, .99) * 1e3:.2f}; the loop's wakes late, during flushes ({len(during):,}): "
              f"p50 {percentile(during, .5) * 1e6:.0f} µs p99 {percentile(during, .99) * 1e6:.0f} max "
              f"{max(during, default=0) * 1e6:.0f}, {sum(during) * 1e3 / len(flushes):.2f} ms a flush; between "
              f"({len(between):,}): p50 {percentile(between, .5) * 1e6:.0f} p99 {percentile(between, .99) * 1e6:.0f}")


def paced_writer(hits: list, folder: Path, rate: float, seconds: float) -> None:
    """The writer as a live proxy runs it: its own thread committing at its own times, the hits
    ingested at `rate` a second (a live proxy's tracking hits), CPU of its flushes per hit (empty
    ones too), and how many hits its commits held (commits of rows, not the thread's empty turns)."""
    session = Session()
    writer = StoreWriter(session, folder / f"paced-{time.monotonic_ns()}.pixelspy")
    writer.open()
    cpu = [0.0]
    flush = writer.flush

    def timed_flush(*args, **kw):
        c0 = time.thread_time()
        try:
            return flush(*args, **kw)
        finally:
            cpu[0] += time.thread_time() - c0

    writer.flush = timed_flush
    writer.attach()
    n = min(len(hits), int(rate * seconds))
    t0 = time.perf_counter()
    for i, h in enumerate(hits[:n]):
        time.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
        session.ingest(h)
    writer.close()
    commits = [c for c in writer.commits if c[2]]
    lags = [c[0] * 1e3 for c in commits[1:]]  # (the first batch started with the writer, before its file was open)
    made = max(1, len(commits))
    print(f"writer, its own thread, {n:,} hits at {rate:g}/s: CPU {cpu[0] * 1e6 / n:.0f} µs/hit; {len(commits)} "
          f"commits of rows, {n / made:.1f} hits ({sum(c[2] for c in commits) / made:.1f} rows) each; "
          f"gathered ms p50 {percentile(lags, .5):.0f} max {max(lags, default=0):.0f}")


# Rows a writer made that say when or by which version (a second's digest to compare differs).
ROWS_SKIPPED_META = ("started", "pixelspy")


def rows_child(hits_n: int, folder: Path) -> None:
    """In a fresh process (ids start afresh): record the corpus and every real-traffic HAR, each into
    its own file as the writer does at PROFILE_EVERY_HITS hits a commit, then print each file's
    tables' digests as JSON."""
    import functools
    import gzip
    import hashlib

    from pixelspy.har.read import iter_har_hits

    gzip.compress = functools.partial(gzip.compress, mtime=0)  # the corpus's gzip bodies without the time built
    samples, times = corpus_hits(hits_n)
    sources = {"corpus": lambda: (s.hit(t, i) for i, (s, t) in enumerate(zip(samples, times)))}
    cases = Path(__file__).resolve().parent.parent / "tests" / "realtraffic" / "cases"
    for har in sorted(cases.glob("*.har")):
        sources[har.stem] = lambda har=har: iter_har_hits(har)
    digests = {}
    for name, hits in sources.items():
        session = Session()
        writer = StoreWriter(session, folder / f"{name}.pixelspy")
        writer.open()
        session.subscribe(writer.event)
        session.subscribe_marks(writer.marks)
        session.subscribe_hits(writer.hit)
        for n, h in enumerate(hits(), 1):
            session.ingest(h)
            if n % PROFILE_EVERY_HITS == 0:
                writer.flush()
        session.tick(float("inf"))
        writer.close()
        db = sqlite3.connect(folder / f"{name}.pixelspy")
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                                           "'events_fts%' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        found = {}
        for table in tables:
            rows = sorted(map(repr, db.execute(f"SELECT * FROM {table}")))
            if table == "meta":
                rows = [r for r in rows if not any(f"'{k}'" in r for k in ROWS_SKIPPED_META)]
            found[table] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
        db.execute("CREATE VIRTUAL TABLE temp.words USING fts5vocab(main, events_fts, 'instance')")
        words = sorted(map(repr, db.execute("SELECT term, doc, col, offset FROM temp.words")))
        found["events_fts (words)"] = (len(words), hashlib.sha256("\n".join(words).encode()).hexdigest())
        digests[name] = found
        db.close()
    print(json.dumps(digests))


def rows_against(tree: Path, hits_n: int) -> int:
    """rows_child in this tree and in `tree`; 0 when every table of every file is the same."""
    found = {}
    for label, path in (("this tree", Path(__file__).resolve().parent.parent), ("against", tree.resolve())):
        with tempfile.TemporaryDirectory() as folder:
            out = subprocess.run([sys.executable, __file__, "--rows-child", folder, "--hits", str(hits_n)],
                                 capture_output=True, text=True, check=True, cwd=Path(__file__).parent,
                                 env={**os.environ, "PYTHONPATH": str(path)})
        found[label] = json.loads(out.stdout.strip().splitlines()[-1])
    mine, theirs = found["this tree"], found["against"]
    differ = [f"{name}: {table}" for name, tables in mine.items() for table, digest in tables.items()
              if digest != theirs.get(name, {}).get(table)]
    rows = sum(n for tables in mine.values() for n, _ in tables.values())
    print(f"rows against {tree}: {len(mine)} files, {rows:,} rows and words compared: "
          + ("identical" if not differ and mine.keys() == theirs.keys() else f"DIFFER in {', '.join(differ)}"))
    return 1 if differ or mine.keys() != theirs.keys() else 0


def percentile(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


@contextmanager
def collector_time() -> Iterator[dict[str, float]]:
    """Seconds the collector ran while the block runs: wall clock and CPU of the thread it ran in
    (the machine is shared: CPU time is what compares across runs)."""
    spent = {"wall": 0.0, "cpu": 0.0}
    started = [0.0, 0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            started[:] = time.perf_counter(), time.thread_time()
        else:
            spent["wall"] += time.perf_counter() - started[0]
            spent["cpu"] += time.thread_time() - started[1]

    gc.callbacks.append(on_gc)
    try:
        yield spent
    finally:
        gc.callbacks.remove(on_gc)


def sqlite_kib() -> float | None:
    """What SQLite holds in memory, all connections (its page caches, WAL index); None when this
    Python's sqlite3 does not load a shared libsqlite3 we can ask."""
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
    except OSError:
        return None
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return lib.sqlite3_memory_used() / 1024


def memory_child(mode: str, n: int, trace: bool, live_collector: bool = False) -> None:
    """In a fresh process: RSS growth per stored event for `mode` (none | store | window), the
    collector's share of the ingest loop, its CPU per hit; with `live_collector`, under the live
    process's collector settings (heap.freeze_heap) instead of CPython's defaults. With `trace`,
    instead (tracemalloc slows the loop and the writer is flushed midway: its other numbers do not
    compare): the Python heap and
    the objects the collector tracks, per event from hit TRACKED_FROM on (after the first fill of the
    decoders' bounded caches)."""
    samples, times = corpus_hits(n)
    span_from = min(TRACKED_FROM, n // 3)
    with tempfile.TemporaryDirectory() as folder:
        session = Session(max_events=SMALL_WINDOW if mode == "window" else None)
        writer = None
        if mode != "none":
            writer = StoreWriter(session, Path(folder) / "m.pixelspy")
            writer.open()
            writer.attach()
        gc.collect()
        if live_collector:
            from pixelspy.proxy.heap import freeze_heap

            freeze_heap(session)
        if trace:
            tracemalloc.start()
        before = rss_kib()
        stored = 0
        span: dict[str, list[float]] = {"objects": [], "heap": []}

        def settle() -> None:  # the writer's batch committed, the garbage gone: what is kept
            if writer is not None:
                writer.flush()
            gc.collect()
            span["objects"].append(len(gc.get_objects()))
            span["heap"].append(tracemalloc.get_traced_memory()[0])

        started, cpu_started = time.perf_counter(), time.thread_time()
        with collector_time() as in_gc:
            for i, (s, t) in enumerate(zip(samples, times)):
                stored += len(session.ingest(s.hit(t, i)))
                if trace and i + 1 == span_from:
                    settle()
        cpu = time.thread_time() - cpu_started
        wall = time.perf_counter() - started
        if trace:
            settle()
        if writer is not None:
            # the ingest's, not the flush after it (a tree from before the bounded batch has no waits)
            commits, waits = list(writer.commits), list(getattr(writer, "waits", ()))
            writer.flush()
            time.sleep(writer.interval_s * 3)  # the thread's batch committed
        gc.collect()
        after = rss_kib()
        size = 0
        if writer is not None:
            size = (Path(folder) / "m.pixelspy").stat().st_size + (Path(folder) / "m.pixelspy-wal").stat().st_size
            evicted = session.dropped
            probe = next(iter(session)).id if len(session) else None
            t0 = time.perf_counter()
            oldest = writer.db.execute("SELECT id FROM events ORDER BY seq LIMIT 200").fetchall()
            read_back = [session.event(r[0]) for r in oldest]
            read_us = (time.perf_counter() - t0) * 1e6 / max(len(oldest), 1)
            assert all(read_back) and probe is not None
        else:
            evicted, read_us, commits, waits = 0, 0.0, [], []
        per_span = max(n - span_from, 1)
        print(json.dumps({"events": stored, "in_memory": len(session), "evicted": evicted, "growth_kib": after - before,
                          "file_bytes": size, "read_back_us": read_us, "gc_share": in_gc["wall"] / wall,
                          "gc_cpu_share": in_gc["cpu"] / cpu, "cpu_us_per_hit": cpu * 1e6 / n,
                          **({"objects_per_event": (span["objects"][1] - span["objects"][0]) / per_span,
                              "heap_kib_per_event": (span["heap"][1] - span["heap"][0]) / 1024 / per_span}
                             if trace else {}),
                          "sqlite_kib": sqlite_kib() if writer is not None else None,
                          "commits": len(commits), "commit_rows_max": max((c[2] for c in commits), default=0),
                          "commit_lag_ms_max": max((c[0] for c in commits), default=0) * 1000,
                          "commit_ms_max": max((c[1] for c in commits), default=0) * 1000,
                          "waits": len(waits), "wait_ms_p99": percentile(waits, .99) * 1000,
                          "wait_ms_max": max(waits, default=0) * 1000}))


def memory(mode: str, n: int, trace: bool = False, live_collector: bool = False) -> dict:
    out = subprocess.run([sys.executable, __file__, "--memory-child", mode, "--memory-hits", str(n),
                          *(["--trace"] if trace else []), *(["--live-collector"] if live_collector else [])],
                         capture_output=True, text=True, check=True, cwd=Path(__file__).parent)
    return json.loads(out.stdout.strip().splitlines()[-1])


def thread_cpu(proc: subprocess.Popen) -> tuple[float, float]:
    """CPU seconds so far of a process's main thread (the proxy's event loop) and of its other threads
    together (the session file's writer, mostly)."""
    main = others = 0.0
    for task in Path(f"/proc/{proc.pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a thread that just ended
        spent = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        if int(task.name) == proc.pid:
            main += spent
        else:
            others += spent
    return main, others


class SinkProxy:
    """A `pixelspy --no-ui --sink` process with `extra` arguments, its session files in `folder`."""

    def __init__(self, extra: list[str], folder: Path):
        from loopback import free_port, wait_port

        self.port = free_port()
        # (-P: the pixelspy on PYTHONPATH, when a tree is given so, not one in the working directory)
        self.proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "pixelspy", "--no-ui", "--sink", "-p", str(self.port), "--confdir",
             str(folder / "confdir"), *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "PIXELSPY_SESSIONS_DIR": str(folder)})
        wait_port(self.port, proc=self.proc)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def proxy_bench(seconds: float, rounds: int) -> None:
    """The session file's cost through the proxy: both proxies started afresh each round and loaded in
    turns of PROXY_SLICE_S (bench_proxy.interleaved: the host's drift falls on both alike), CPU per
    request under saturation, the paced tail over all rounds pooled."""
    import asyncio

    from bench_proxy import interleaved
    from loopback import LoadResult, Upstream, request_mix, run_load

    upstream = Upstream()
    mix = request_mix(upstream.port, PROXY_TRACKING_EVERY)
    kinds = {"no store": ["--no-session"], "store": []}
    saturated: dict[str, list[LoadResult]] = {k: [] for k in kinds}
    paced: dict[str, list[LoadResult]] = {k: [] for k in kinds}
    cpu = {kind: [0.0, 0.0] for kind in kinds}  # saturated: main thread, other threads
    slices = max(1, round(seconds / PROXY_SLICE_S))
    rate = None
    try:
        with tempfile.TemporaryDirectory() as folder:
            for rnd in range(rounds):
                proxies = {kind: SinkProxy(extra, Path(folder)) for kind, extra in kinds.items()}
                try:
                    for proxy in proxies.values():  # imports, caches, first connections
                        asyncio.run(run_load(proxy.port, mix, PROXY_CONNECTIONS, 1.0, warmup=0))
                    before = {kind: thread_cpu(proxy.proc) for kind, proxy in proxies.items()}
                    r = interleaved(proxies, mix, PROXY_CONNECTIONS, seconds / slices, slices, rnd)
                    for kind, proxy in proxies.items():
                        after = thread_cpu(proxy.proc)
                        cpu[kind] = [c + a - b for c, a, b in zip(cpu[kind], after, before[kind])]
                        saturated[kind].append(r[kind])
                    rate = rate or round(r["no store"].rps / 2, -1)
                    p = interleaved(proxies, mix, PROXY_CONNECTIONS, seconds / slices, slices, rnd, rate=rate)
                    for kind in kinds:
                        paced[kind].append(p[kind])
                finally:
                    for proxy in proxies.values():
                        proxy.stop()
    finally:
        upstream.stop()
    print(f"proxy (one request in {PROXY_TRACKING_EVERY} a tracking hit, {PROXY_CONNECTIONS} connections, "
          f"{rounds} rounds × {seconds:g} s in turns of {PROXY_SLICE_S:g} s):")
    pooled = {k: LoadResult.merged(v) for k, v in paced.items()}
    per_request = {k: [1e3 * c / sum(r.requests for r in saturated[k]) for c in cpu[k]] for k in kinds}
    for kind in kinds:
        main, others = per_request[kind]
        print(f"  {kind:9} saturated {statistics.median(r.rps for r in saturated[kind]):7.1f} req/s (median), "
              f"CPU {main + others:.3f} ms/request (event loop {main:.3f}, other threads {others:.3f});  "
              f"paced at {rate:.0f} req/s, pooled: p50 "
              f"{pooled[kind].percentile(50) * 1e3:6.2f} ms  p95 {pooled[kind].percentile(95) * 1e3:6.2f} ms  "
              f"p99 {pooled[kind].percentile(99) * 1e3:6.2f} ms")
    store, base = saturated["store"], saturated["no store"]
    print(f"ratios store / no store: throughput {statistics.median(r.rps for r in store) / statistics.median(r.rps for r in base):.3f}; "
          f"CPU per request {sum(per_request['store']) / sum(per_request['no store']):.3f} (event loop "
          f"{per_request['store'][0] / per_request['no store'][0]:.3f}); paced p95 "
          f"{pooled['store'].percentile(95) / pooled['no store'].percentile(95):.3f}, p99 "
          f"{pooled['store'].percentile(99) / pooled['no store'].percentile(99):.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hits", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--memory-hits", type=int, default=30_000)
    ap.add_argument("--proxy-seconds", type=float, default=0, help="also run the proxy comparison, S s a run")
    ap.add_argument("--proxy-only", action="store_true", help="only the proxy comparison")
    ap.add_argument("--writer-only", action="store_true", help="only the writer's profile")
    ap.add_argument("--every", type=int, default=PROFILE_EVERY_HITS, help="--writer-only: hits a flush")
    ap.add_argument("--vary", action="store_true", help="--writer-only: flushes of every/2 to every*3/2 hits")
    ap.add_argument("--contend", action="store_true",
                    help="--writer-only: beside a stand-in event loop, a flush every 100 ms (slow: real time)")
    ap.add_argument("--paced", type=float, metavar="HITS_PER_S",
                    help="--writer-only: the writer's own thread, the hits ingested at this rate (real time)")
    ap.add_argument("--seconds", type=float, default=20.0, help="--paced: for this long")
    ap.add_argument("--rows-against", type=Path, metavar="DIR", help="only: the stored rows against DIR's tree")
    ap.add_argument("--memory-child", choices=("none", "store", "window"), help=argparse.SUPPRESS)
    ap.add_argument("--rows-child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--live-collector", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.memory_hits, args.trace, args.live_collector)
        return 0
    if args.rows_child:
        rows_child(args.hits, args.rows_child)
        return 0
    if args.rows_against:
        return rows_against(args.rows_against, args.hits)

    print(f"pixelspy store benchmark — python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
          f"{os.cpu_count()} cores")
    if args.proxy_only:
        proxy_bench(args.proxy_seconds or 10, args.rounds)
        return 0
    samples, times = corpus_hits(args.hits)
    hits = [s.hit(t, i) for i, (s, t) in enumerate(zip(samples, times))]
    if args.writer_only:
        with tempfile.TemporaryDirectory() as folder:
            if args.paced:
                paced_writer(hits, Path(folder), args.paced, args.seconds)
            else:
                writer_profile(hits, Path(folder), args.every, args.vary, args.contend)
        return 0
    best: dict[str, float] = {}
    commits: list = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.rounds):  # interleaved: this VM drifts in speed between runs
            for mode in ("none", "thread", "inline"):
                took = ingest_run(hits, mode, Path(folder), commits if mode == "thread" else [])
                best[mode] = min(best.get(mode, took), took)
    n = len(hits)
    for mode, label in (("none", "Session.ingest, no store (baseline)"), ("thread", "… + store, background thread"),
                        ("inline", f"… + store, inline every {INLINE_EVERY_HITS} hits")):
        print(f"  {label:44} {n / best[mode]:10,.0f} hits/s  ({best[mode] * 1e6 / n:6.1f} µs/hit)  "
              f"ratio {best['none'] / best[mode]:.3f}")
    lags = [c[0] * 1000 for c in commits]
    took = [c[1] * 1000 for c in commits]
    rows = [c[2] for c in commits]
    print(f"  commits (threaded, {len(commits)}): rows/commit median {statistics.median(rows) if rows else 0:.0f}; "
          f"lag ms p50 {percentile(lags, .5):.1f} p99 {percentile(lags, .99):.1f} max {max(lags, default=0):.1f}; "
          f"commit ms p50 {percentile(took, .5):.1f} p99 {percentile(took, .99):.1f}")

    with tempfile.TemporaryDirectory() as folder:
        writer_profile(hits[:min(len(hits), 6_000)], Path(folder))

    print(f"memory ({args.memory_hits:,} hits, a fresh process each):")
    results = {}
    for mode, label, live in (("none", "no store (baseline)", False),
                              ("store", "store, default in-memory bound", False),
                              ("window", f"store, {SMALL_WINDOW:,} events in memory", False),
                              ("window", "… the live process's collector settings", True)):
        r = memory(mode, args.memory_hits, live_collector=live)
        if not live:
            results[mode] = r
        per = r["growth_kib"] / max(r["events"], 1)
        extra = (f"; file {r['file_bytes'] / max(r['events'], 1):,.0f} B/event; an evicted event read back in "
                 f"{r['read_back_us']:.0f} µs" if mode != "none" else "")
        print(f"  {label:36} {r['events']:,} events ({r['in_memory']:,} in memory): RSS growth "
              f"{r['growth_kib'] / 1024:6.1f} MiB = {per:5.2f} KiB/event; collector {r['gc_share']:.1%} of "
              f"ingest ({r['gc_cpu_share']:.1%} of its CPU, {r['cpu_us_per_hit']:.0f} µs CPU/hit){extra}")
        if mode != "none":
            print(f"    writer: {r['commits']} commits of at most {r['commit_rows_max']} rows, longest lag "
                  f"{r['commit_lag_ms_max']:.0f} ms; the ingest waited to hand a full batch over {r['waits']} "
                  f"times, p99 {r['wait_ms_p99']:.1f} ms, longest {r['wait_ms_max']:.1f} ms")
    traced = memory("window", args.memory_hits, trace=True)
    print(f"  {SMALL_WINDOW:,} events in memory, hits {min(TRACKED_FROM, args.memory_hits // 3):,}–"
          f"{args.memory_hits:,} (tracemalloc; writer flushed): Python heap {traced['heap_kib_per_event']:.2f} "
          f"KiB/event; {traced['objects_per_event']:.1f} objects tracked by the collector per event; SQLite "
          f"holds {(traced['sqlite_kib'] or 0) / 1024:.1f} MiB")
    base = results["none"]["growth_kib"] / max(results["none"]["events"], 1)
    window = results["window"]["growth_kib"] / max(results["window"]["events"], 1)
    print(f"ratio RSS/event window / baseline = {window / base:.3f}; goal ≤ {GOAL_KIB_PER_EVENT:g} KiB/event: "
          f"{'MET' if window <= GOAL_KIB_PER_EVENT else 'MISSED'} ({window:.2f})")
    gc_cpu = results["window"]["gc_cpu_share"]
    print(f"goal collector ≤ {GOAL_GC_SHARE:.0%} of the ingest's CPU (window): "
          f"{'MET' if gc_cpu <= GOAL_GC_SHARE else 'MISSED'} ({gc_cpu:.1%})")
    if args.proxy_seconds:
        proxy_bench(args.proxy_seconds, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
