"""The TUI on a session larger than memory (issue #27): a session file of 1,000,000 events, the newest
100,000 in memory (the session's bound), the rest read back from the file.

    .venv/bin/python benchmarks/bench_tui_store.py [--events 1000000] [--memory 100000] [--keep FILE]
        [--before TREE --runs N] [--only FILTER ...] [--read-only]
    (TREE: an earlier commit unpacked, e.g. `git archive main | tar -x -C TREE`)

The file is filled fast, in the store's schema: events decoded from bench_decode's corpus (every
vendor, their findings) copied with new ids and times, written as the writer writes them (events,
full-text words, findings; not the requests, which the list never reads). Then, each in a fresh
process, the app (headless Pilot, 160x50) on:
  baseline  the newest `--memory` events, all in memory, no session file: what the TUI was built for
  store     the whole file: the newest `--memory` in memory, the others listed (by seq, as the app
            lists a session file's older rows when it starts) and read back
(`--before`: the store case also with the pixelspy of TREE, measured by this script, alternating,
each case on a copy of the file; what the set-up read is frozen, gc.freeze, as the app does) and it
measures, through the app's own paths:
  filter    a filter typed (the Input's value set), polled every ms, the app drawing its frames as it
            does in use (session 16; before, Pilot.pause drew one at each poll: 1.7 ms of CPU each, 40 %
            of a core, counted in the CPU below):
            until the list shows the filter's first rows (before session 17: its newest screenful, on
            a big file), until it shows them with the right count (session 17: the same moment; before:
            the whole list of its seqs) and the CPU time of the process meanwhile, until the app is
            idle (Textual's heuristic: ≥ 20 ms more); the event loop's longest stall meanwhile
  scroll    under a filter (SCROLL_FILTER), the cursor moved to the oldest row, the middle one, the
            newest, a page up: each until its screenful is rendered (the rows read as shown)
  page      the cursor moved a page from the oldest row on (20 pages), the visible rows rendered
            (rows of the file read back: the cache is emptied first)
  sql       the file's answer to each filter alone, wall clock and CPU time: what the list asks
            (session 17: its count and newest screenful, queries.FileFilter) and the whole list of its
            seqs (queries.filter_seqs; before session 17, what the list asked)
  new row   a hit ingested until its row is the selected one (the list redraws at most every 33 ms),
            without a filter and under one (NEW_ROW_FILTER)
  RSS       after the set-up and at the end
(`--read-only`: the store case reads the --keep file as it is, opened read-only, never copied nor
recorded into: no new row cases; for a file shared with others.)
`--marks N [--events 1000] [--before TREE] [--read-only --keep FILE --memory M]`: a file of --events events and N marks (session.MAX_MARKS
at most are read: 10,000, a hostile or long session's), opened as `pixelspy open` does (each tree on a
copy): the CPU time of the process from the app's start until its first frame, and until a frame
with every row and mark listed (and of the event loop's thread alone: the writer's thread, working at
the start, adds noise), and the event loop's longest stall meanwhile (session 18: each mark was placed among
the file's rows by a bisection of its own on the event loop). With --read-only, the --keep file as it
is, its newest M events in memory, N marks over its time made up in memory.
`--no-fts WORD [--tree TREE]`: a search word on the --keep file as where SQLite lacks FTS5 (its index
hidden: the events' JSON read), in this process, CPU ms: the worker's count and newest rows, then
the middle row and the rows before it (the event loop's reads before session 18).
Goals (#27): a filter change < 200 ms, a new row < 100 ms after its hit, RSS < 1 GB, at 1,000,000.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# --tree DIR: pixelspy from another tree (a commit before, unpacked), measured by this script.
TREE = Path(sys.argv[sys.argv.index("--tree") + 1]) if "--tree" in sys.argv else Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(TREE))

from bench_decode import corpus_hits  # noqa: E402

from pixelspy.model import TrackingEvent  # noqa: E402
from pixelspy.session import Session  # noqa: E402
from pixelspy.store import queries, reader  # noqa: E402
from pixelspy.store.records import event_row, finding_rows, search_words  # noqa: E402
from pixelspy.store.schema import close_writer, connect, has_fts_table  # noqa: E402

# Every form the filter bar's help names (README), alone and combined: in the corpus every event is
# `source:browser` of one device, 81 % `kind:event`.
FILTERS = ["platform:tiktok", "has:findings", "sev:warning", "purchase", "platform:meta purchase",
           "kind:pixel_loaded", "kind:event", "source:server", "source:browser", "device:linux",
           "pixel:cabcde1234567890abcd", "code:duplicate-pixel", "sev:warning platform:meta",
           "platform:tiktok kind:pixel_loaded", "pixel:123456 kind:event", "kind:event purchase"]
PAGES = 20
SCROLL_FILTER = "kind:event purchase"
NEW_ROW_FILTER = "platform:meta"  # (the new rows' hits are Meta's)
NEW_ROWS = 20
T0 = 1_750_000_000.0
GOAL_FILTER_MS, GOAL_NEW_ROW_MS, GOAL_RSS_MB = 200, 100, 1024
ID, HIT, TIME = "@@id@@", "@@hit@@", 0.123456789  # placeholders in a template's JSON


def templates() -> list[TrackingEvent]:
    """Real-shaped events: bench_decode's corpus decoded and checked, a few passes (findings that
    need a second event, duplicates, come)."""
    session = Session(max_events=10_000)
    samples, times = corpus_hits(600)
    for i, (s, t) in enumerate(zip(samples, times, strict=True)):
        session.ingest(s.hit(t, i))
    return list(session)


def template_rows(ev: TrackingEvent) -> tuple[tuple, str, tuple, list[tuple]]:
    row = list(event_row(ev))
    data = json.loads(row[-1])
    data.update(id=ID, hit_id=HIT, time=TIME)
    return tuple(row[1:-1]), json.dumps(data, separators=(",", ":")), search_words(ev), finding_rows(ev)


def fill(path: Path, n: int) -> float:
    """n events in a new session file; returns the seconds it took."""
    t0 = time.perf_counter()
    shapes = [template_rows(ev) for ev in templates()]
    db = connect(path, write=True)
    fts = has_fts_table(db)
    db.execute("BEGIN")
    step = 20_000
    for start in range(0, n, step):
        events, words, findings = [], [], []
        for i in range(start, min(n, start + step)):
            (_, platform, pixel, name, page, device, kind, source, severity, _), text, fts_words, found = \
                shapes[i % len(shapes)]
            seq, eid, hid, t = i + 1, f"e{i + 1}", f"h{i + 1}", T0 + i * 0.01
            text = text.replace(ID, eid).replace(HIT, hid).replace(repr(TIME), repr(t))
            events.append((seq, eid, t, platform, pixel, name, page, device, kind, source, severity, hid, text))
            words.append((seq, *fts_words))
            findings += [(eid, *f[1:]) for f in found]
        db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", events)
        if fts:
            db.executemany("INSERT INTO events_fts (rowid, name, params, page) VALUES (?,?,?,?)", words)
        db.executemany("INSERT INTO findings VALUES (?,?,?,?,?,?,?,?)", findings)
    db.execute("COMMIT")
    close_writer(db)
    return time.perf_counter() - t0


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class ReadOnlyFile:
    """(--read-only) The session file behind the session, read-only: the app reads it as it reads a
    file being recorded, between no commits."""

    def __init__(self, path: Path) -> None:
        import sqlite3

        self.path = path
        self.db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False,
                                  isolation_level=None)
        self._lock = threading.Lock()

    def read(self, query, **kw):
        with self._lock:
            return query(self.db, **kw)

    def read_event(self, event_id: str):
        return self.read(reader.event, event_id=event_id)

    def read_hit(self, hit_id: str):
        return self.read(reader.hit, hit_id=hit_id)


async def measure(path: Path, n: int, memory: int, with_store: bool, read_only: bool = False) -> dict:
    from pixelspy.store.writer import StoreWriter
    from pixelspy.tui.app import PixelSpyApp
    from tests.tui.test_never_lose_work import hit

    session = Session(max_events=memory)
    db = connect(path, write=False)
    for i in range(n - memory + 1, n + 1):  # the newest, as the session kept them
        session.add_stored(reader.event(db, f"e{i}"), None)
    db.close()
    for key in {ev.device for ev in session}:  # (known as their hits made them: device:NAME filters name them)
        session.devices.rename(key, key)
    writer = None
    if with_store and read_only:
        session.store = ReadOnlyFile(path)
        session.dropped = n - memory
    elif with_store:
        writer = StoreWriter(session, path)
        writer.open()
        writer.attach()
        session.dropped = n - memory
    app = PixelSpyApp(session, None)
    out: dict = {"events": n if with_store else memory, "in memory": memory}
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            events = app.event_list  # (the app lists the file's older rows when it starts)
            await pilot.pause()
            assert events.row_count == out["events"], events.row_count
            # What was read is frozen, as the app does (`pixelspy open`: once read; live: the heap
            # freezer, every 500 events): full collections do not walk it.
            gc.collect()
            gc.freeze()
            out["rss after set-up MB"] = rss_mb()
            out["filter ms"], out["filter stall ms"], out["first rows ms"], out["idle ms"] = {}, {}, {}, {}
            out["filter cpu ms"], out["loop cpu ms"] = {}, {}
            for q in FILTERS:
                stall = LoopStall()
                t0, cpu, loop_cpu = time.perf_counter(), time.process_time(), time.thread_time()
                app.filter_box.value = q
                # Polled every ms (the app draws its frames on its own clock): until the list shows the filter's rows
                # (its newest screenful; before this branch: all), then until it lists them all; each
                # time, a frame drawn then (Pilot.pause), showing it.
                while events._filter is None or not getattr(events, "filter_shown", not events.file_pending):
                    await asyncio.sleep(0.001)
                await pilot.pause(0)
                out["first rows ms"][q] = round((time.perf_counter() - t0) * 1000)
                while events.file_pending:
                    await asyncio.sleep(0.001)
                await pilot.pause(0)
                out["filter ms"][q] = (round((time.perf_counter() - t0) * 1000), events.row_count)
                # The process's CPU time meanwhile (every thread: the query, the frames, the writer):
                # what the other processes of a loaded machine do not inflate.
                out["filter cpu ms"][q] = round((time.process_time() - cpu) * 1000)
                # (of which the event loop's thread: the list, the frames, this polling)
                out["loop cpu ms"][q] = round((time.thread_time() - loop_cpu) * 1000)
                out["filter stall ms"][q] = round(stall.stop())
                # Then until the app is idle (the detail pane drawn too; Textual's test heuristic:
                # ≥ 20 ms more, ends when 20 ms pass with < 1 ms of CPU: as session 13 measured).
                await pilot.pause()
                out["idle ms"][q] = round((time.perf_counter() - t0) * 1000)
                app.filter_box.value = ""
                await pilot.pause()
            if with_store and hasattr(queries, "filter_seqs"):  # (not in the tree before, 346a5d0)
                out["sql ms"] = {q: sql_times(app, q, 2 * events.size.height) for q in FILTERS}
            out["scroll ms"] = await scroll_times(pilot, app, events)
            out["page ms"] = page_times(app, events)
            out["new row ms"] = [] if read_only else await new_row_times(pilot, app, events, hit)
            app.filter_box.value = NEW_ROW_FILTER
            while events._filter is None or events.file_pending:
                await asyncio.sleep(0.001)
            out["new row filtered ms"] = [] if read_only else await new_row_times(pilot, app, events, hit)
            out["rss end MB"] = rss_mb()
    finally:
        if writer is not None:
            writer.close()
    return out


class LoopStall:
    """The longest the event loop went without running a 5 ms ticker, meanwhile (ms): how long
    the UI stood still (keys, redraws) during a filter change."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.005)
            self.longest = max(self.longest, (time.perf_counter() - t - 0.005) * 1000)

    def stop(self) -> float:
        self._task.cancel()
        return self.longest


def sql_times(app, q: str, newest: int) -> dict[str, tuple[float, float]]:
    """The file's answer to filter `q` alone, off the event loop: its count and newest rows (what the
    list asks since session 17) and the whole list of its seqs (before); wall clock and this
    thread's CPU (SQLite's work included), in ms: the CPU does not count the other processes of a
    loaded machine."""
    from pixelspy.tui import filters

    kw = filters.store_query(filters.parse(q), app.session.devices.matching)

    def count_and_newest(db):
        found = queries.FileFilter.of(db, **kw)
        return found.count(db), found.seqs(db, limit=newest, newest_first=True)

    asked = {"whole list": lambda db: queries.filter_seqs(db, **kw)}
    if hasattr(queries, "FileFilter"):
        asked["count + newest"] = count_and_newest
    times = {}
    for name, ask in asked.items():
        wall, cpu = time.perf_counter(), time.thread_time()
        app.session.store.read(ask)
        times[name] = ((time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000)
    return times


async def scroll_times(pilot, app, events) -> dict[str, tuple[float, float]]:
    """Under SCROLL_FILTER: the cursor to the oldest row, the middle, the newest, a page up, each
    until its screenful is rendered (the file's rows and events read as shown: caches emptied);
    wall clock and CPU (the event loop's thread reads them), ms."""
    app.filter_box.value = SCROLL_FILTER
    while events._filter is None or events.file_pending:
        await asyncio.sleep(0.001)
    await pilot.pause()
    app._event.clear()
    if hasattr(events._file.seqs, "_blocks"):
        events._file.seqs._blocks.clear()
    times = {}
    for name, move in (("oldest", events.action_first), ("middle", lambda: setattr(events, "cursor", events.row_count // 2)),
                       ("newest", events.action_last), ("page up", lambda: events.action_cursor(-20))):
        t0, cpu = time.perf_counter(), time.thread_time()
        move()
        for y in range(events.size.height):
            events.render_line(y)
        times[name] = ((time.perf_counter() - t0) * 1000, (time.thread_time() - cpu) * 1000)
    app.filter_box.value = ""
    await pilot.pause()
    return times


def page_times(app, events) -> list[float]:
    times = []
    height = events.size.height
    events.action_first()
    app._event.clear()
    for _ in range(PAGES):
        t0 = time.perf_counter()
        events.action_cursor(height - 1)
        for y in range(height):
            events.render_line(y)
        times.append((time.perf_counter() - t0) * 1000)
    return times


async def new_row_times(pilot, app, events, hit) -> list[float]:
    events.action_last()
    times = []
    for k in range(NEW_ROWS):
        t0 = time.perf_counter()
        (ev,) = app.session.ingest(hit(f"Bench{k}"))
        while events.selected_id != ev.id:
            await pilot.pause(0.001)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def no_fts(path: Path, word: str) -> None:
    import sqlite3
    from types import SimpleNamespace

    from pixelspy.tui import file_rows

    queries.has_fts_table = lambda db: False  # (as where SQLite lacks FTS5)
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    cache = SimpleNamespace(file=lambda q, **kw: q(db, **kw), session=SimpleNamespace(hits={}),
                            read_ahead=lambda seqs: ({}, {}))
    got = []
    told = {"gapless": True} if "gapless" in inspect.signature(file_rows.answer_filter).parameters else {}
    cpu = [time.process_time()]
    file_rows.answer_filter(cache, {"words": [word]}, 0, reader.last_seq(db), 50, None, lambda: False,
                            lambda rows, shown: got.append(rows), **told)  # (as the list, which knows)
    rows = got[0]
    cpu.append(time.process_time())
    middle = rows[len(rows) // 2]
    cpu.append(time.process_time())
    rows.before(middle)
    cpu.append(time.process_time())
    took = [round((b - a) * 1000) for a, b in zip(cpu, cpu[1:])]
    print(f"{TREE}: {word!r} without FTS5, {len(rows):,} rows: count and newest rows {took[0]} ms CPU, the middle "
          f"row {took[1]} ms, the rows before it {took[2]} ms")


def fill_marks(path: Path, events: int, marks: int) -> None:
    """`marks` marks over the events' times (T0 + i * 0.01): before the first, after the last, at an
    event's time, and runs of them at one time."""
    db = connect(path, write=True)
    span = events * 0.01 + 2
    times = [T0 - 1 + (k * span / marks if k % 5 else round(k * span / marks, 2)) for k in range(marks)]
    db.executemany("INSERT INTO marks (seq, time, label) VALUES (?, ?, ?)",
                   [(k + 1, times[k - k % 7 if k % 3 == 0 else k], f"mark {k}") for k in range(marks)])
    close_writer(db)


def read_only_marks(path: Path, memory: int, marks: int) -> Session:
    """(--marks --read-only) A session on the file as the big case's (its newest `memory` events in
    memory, the file read-only behind), with `marks` marks over its time made up in memory."""
    from pixelspy.session import Mark

    session = Session(max_events=memory)
    db = connect(path, write=False)
    n = reader.last_seq(db)
    first, last = (db.execute("SELECT time FROM events WHERE seq = ?", (seq,)).fetchone()[0] for seq in (1, n))
    for i in range(n - memory + 1, n + 1):
        session.add_stored(reader.event(db, f"e{i}"), None)
    db.close()
    session.store = ReadOnlyFile(path)
    session.dropped = n - memory
    session.add_marks([Mark(f"mark {k}", first - 1 + k * (last - first + 2) / marks) for k in range(marks)])
    return session


async def measure_marks(path: Path, args: argparse.Namespace) -> dict:
    """(--marks) The app opened on `path` as `pixelspy open` does (--read-only: read_only_marks),
    until its first frame with every row and mark listed: the CPU time of the process (ms; the
    writer's thread included), to its first frame too, and of the event loop's thread; the event
    loop's longest stall."""
    from pixelspy.store.writer import StoreWriter
    from pixelspy.tui.app import PixelSpyApp

    writer = None
    if args.read_only:
        session = read_only_marks(path, args.memory, args.marks)
        rows = session.dropped + len(session) + len(session.marks)
    else:
        session = Session()
        reader.load(path, session)
        writer = StoreWriter(session, path)
        writer.open()
        writer.attach()
        rows = len(session) + len(session.marks)
    try:
        stall = LoopStall()
        t0, cpu, loop = time.perf_counter(), time.process_time(), time.thread_time()
        app = PixelSpyApp(session, None)
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause(0)
            first = round((time.process_time() - cpu) * 1000)
            while app.event_list.row_count < rows:
                await asyncio.sleep(0.001)
            await pilot.pause(0)
            return {"first cpu ms": first, "cpu ms": round((time.process_time() - cpu) * 1000),
                    "loop cpu ms": round((time.thread_time() - loop) * 1000),
                    "wall ms": round((time.perf_counter() - t0) * 1000), "stall ms": round(stall.stop()),
                    "rows": app.event_list.row_count, "marks": len(session.marks)}
    finally:
        if writer is not None:
            writer.close()


def marks_case(args: argparse.Namespace) -> None:
    """(--marks) Before (--before) and after, alternating --runs times, each on a copy of one file
    (--read-only: the --keep file as it is)."""
    trees = compared_trees(args, "after")
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep if args.read_only else Path(tmp) / "marks.pixelspy"
        if not args.read_only:
            fill(path, args.events)
            fill_marks(path, args.events, args.marks)
        took: dict[str, list[dict]] = {name: [] for name, _ in trees}
        for _ in range(args.runs):
            for name, tree in trees:
                copy = case_file(path, tmp, args.read_only)
                cmd = [sys.executable, __file__, "--child", "marks", "--file", str(copy), "--tree", str(tree),
                       "--marks", str(args.marks), "--memory", str(args.memory)] + ["--read-only"] * args.read_only
                done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=tree)
                if done.returncode:
                    sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
                took[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
                if not args.read_only:
                    copy.unlink()
    where = f"{args.keep} read-only, its newest {args.memory:,} events in memory" if args.read_only else \
        f"{args.events:,} events"
    print(f"{where}, {args.marks:,} marks; first frame with every row, each run:")
    for name, runs in took.items():
        print(f"  {name:6} first frame CPU ms " + " ".join(str(r["first cpu ms"]) for r in runs)
              + "   with every mark CPU ms " + " ".join(str(r["cpu ms"]) for r in runs)
              + " (the event loop's " + " ".join(str(r["loop cpu ms"]) for r in runs) + ")"
              + "   wall ms " + " ".join(str(r["wall ms"]) for r in runs)
              + "   longest stall ms " + " ".join(str(r["stall ms"]) for r in runs)
              + f"   ({runs[0]['rows']:,} rows, {runs[0]['marks']:,} marks)")
    if args.before:
        ratio = statistics.median(r["cpu ms"] for r in took["after"]) / statistics.median(
            r["cpu ms"] for r in took["before"])
        print(f"  CPU after / before (medians) {ratio:.3f}")


def child(args: argparse.Namespace) -> None:
    if args.case == "marks":
        print(json.dumps(asyncio.run(measure_marks(Path(args.file), args))))
        return
    result = asyncio.run(measure(Path(args.file), args.events, args.memory, args.case == "store", args.read_only))
    print(json.dumps(result))


def run_case(case: str, path: Path, args: argparse.Namespace, tree: Path = TREE) -> dict:
    """One case in a fresh process, with the code of `tree` (this one, or --before's)."""
    cmd = [sys.executable, __file__, "--child", case, "--file", str(path), "--tree", str(tree),
           "--events", str(args.events), "--memory", str(args.memory)] + (["--read-only"] if args.read_only else [])
    cmd += ["--only", *args.only] if args.only else []
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=tree)
    if done.returncode:
        sys.exit(f"{case} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def show(case: str, r: dict) -> None:
    pages = r["page ms"]
    print(f"{case}: {r['events']:,} events, {r['in memory']:,} in memory")
    for q, (ms, found) in r["filter ms"].items():
        stall = r["filter stall ms"][q]
        loop = r.get("loop cpu ms", {}).get(q, -1)
        print(f"  filter {q!r:36} first rows {r['first rows ms'][q]:5d} ms, with the right count {ms:5d} ms "
              f"(CPU {r['filter cpu ms'][q]:4d} ms, the event loop's {loop:4d}), idle {r['idle ms'][q]:5d} ms  "
              f"{found:>9,} rows  (the event loop stood still {stall} ms at most)")
    for q, asked in r.get("sql ms", {}).items():
        print(f"  the file's answer alone {q!r:36} "
              + ", ".join(f"{name} {wall:4.0f} ms (CPU {cpu:3.0f})" for name, (wall, cpu) in asked.items()))
    print(f"  scroll under {SCROLL_FILTER!r}: "
          + ", ".join(f"{k} {wall:.1f} ms (CPU {cpu:.1f})" for k, (wall, cpu) in r["scroll ms"].items()))
    print(f"  page from the oldest row    median {statistics.median(pages):6.1f} ms  max {max(pages):6.1f} ms")
    for key, name in (("new row ms", "new row visible"), ("new row filtered ms", f"  under {NEW_ROW_FILTER!r}")):
        rows = r[key]
        if not rows:  # (--read-only)
            continue
        print(f"  {name:27} median {statistics.median(rows):6.1f} ms  max {max(rows):6.1f} ms")
    print(f"  RSS after set-up {r['rss after set-up MB']:.0f} MB, at the end {r['rss end MB']:.0f} MB")



def compared_trees(args, this: str) -> list[tuple[str, Path]]:
    """(name, tree) of the trees a run compares: --before's, if given, then this one as `this`."""
    return ([("before", args.before)] if args.before else []) + [(this, Path(__file__).resolve().parent.parent)]


def case_file(path: Path, tmp: str, read_only: bool) -> Path:
    """The file a case runs on: a fresh copy of `path` each (a case records into its file, and a tree
    may migrate it), or `path` itself when only read."""
    if read_only:
        return path
    copy = Path(tmp) / "case.pixelspy"
    shutil.copyfile(path, copy)
    return copy

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--memory", type=int, default=100_000)
    ap.add_argument("--child", choices=("baseline", "store", "marks"))
    ap.add_argument("--file")
    ap.add_argument("--tree", type=Path, help="(a case's process: the tree of the pixelspy measured)")
    ap.add_argument("--keep", type=Path, help="the session file to use, filled first if absent (kept after)")
    ap.add_argument("--before", type=Path, help="also run the store case with the code of this tree (e.g. "
                    "`git archive main` unpacked): before and after in one run, on the same file")
    ap.add_argument("--runs", type=int, default=1, help="the store case(s) this many times, alternating")
    ap.add_argument("--only", nargs="+", help="these filters alone (of FILTERS, or any)")
    ap.add_argument("--no-fts", metavar="WORD", help="a search word without FTS5 on the --keep file (above)")
    ap.add_argument("--read-only", action="store_true", help="the --keep file read as it is (never copied nor "
                    "recorded into; no new row cases)")
    ap.add_argument("--marks", type=int, help="a file of --events events and this many marks: the first frame "
                    "(above)")
    args = ap.parse_args()
    if args.marks and not args.child:
        marks_case(args)
        return 0
    if args.only:
        FILTERS[:] = args.only
    if args.no_fts:
        no_fts(args.keep, args.no_fts)
        return 0
    if args.child:
        args.case = args.child
        child(args)
        return 0
    print(f"load average {os.getloadavg()[0]:.1f} (1 min)")
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "big.pixelspy"
        if not path.exists():
            took = fill(path, args.events)
            print(f"filled {args.events:,} events in {took:.0f} s ({path.stat().st_size / 2**20:.0f} MB file)")
        base = run_case("baseline", path, args)
        show("baseline", base)
        trees = compared_trees(args, "store")
        runs: dict[str, list[dict]] = {name: [] for name, _ in trees}
        for run in range(args.runs):
            for name, tree in trees:
                copy = case_file(path, tmp, args.read_only)
                store = run_case("store", copy, args, tree)
                if not args.read_only:
                    copy.unlink()
                show(f"{name} (run {run + 1}, load average {os.getloadavg()[0]:.1f})", store)
                runs[name].append(store)
    print(f"load average {os.getloadavg()[0]:.1f} (1 min)")
    print("the filter's rows shown with the right count, ms (CPU ms), each run:")
    for q in FILTERS:
        print(f"  {q!r:36} " + "   ".join(
            f"{name} " + " / ".join(f"{r['filter ms'][q][0]} ({r['filter cpu ms'][q]})" for r in rs)
            for name, rs in runs.items()))
    print("ratios store / baseline:")
    for q in FILTERS:
        print(f"  filter {q!r:28} {store['filter ms'][q][0] / max(1, base['filter ms'][q][0]):5.1f}x")
    new_rows = statistics.median(store["new row ms"]) if store["new row ms"] else 0  # (--read-only: none)
    print(f"  page (median) {statistics.median(store['page ms']) / statistics.median(base['page ms']):5.1f}x   "
          f"new row (median) {new_rows / max(1e-9, statistics.median(base['new row ms'] or [1])):5.1f}x"
          f"   RSS at the end {store['rss end MB'] / base['rss end MB']:4.1f}x")
    met = (max(ms for ms, _ in store["filter ms"].values()) < GOAL_FILTER_MS
           and new_rows < GOAL_NEW_ROW_MS and store["rss end MB"] < GOAL_RSS_MB)
    print("goals met" if met else "goals not met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
