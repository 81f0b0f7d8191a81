"""Event-loop stalls of a proxy under test and what happened in them (`bench_proxy.py --stalls DIR`).

Times every callback the asyncio loop runs (asyncio.Handle._run); one that takes over
STALL_PROBE_MS (default 2) is a stall, written as a JSON line with the time spent in it by:
  gc0 / gc1 / gc2   CPython's collections of that generation (gc.callbacks), outside the freezer
  freeze / reclaim  the HeapFreezer's (its full collection and its walk of gc.get_objects())
  ingest_event / ingest_plain   Session.ingest of a hit that made events / of other traffic
  jsonl             JSON-lines output (JsonLines._write)
  addon             the PixelSpy addon's hooks (an ordinary request's ingest_plain within them)
  hand_over         waiting for the session file's thread to take a full batch
  tick              Session.tick
  answer            RecordAnswers._keep: the HAR entry of a tracking hit's answer, for the session file
  off_cpu           wall time minus the loop thread's CPU time: waiting for the GIL (the writer
                    thread) or for a core (the host)
  others_cpu        the CPU time the process's other threads (the session file's) used meanwhile:
                    an off_cpu stall with none is the host's, not a thread of the proxy holding the GIL
  writer            the time the session file's thread spent in StoreWriter.flush meanwhile
Totals are written as a "totals" line every 2 s: counts and seconds per cause over the whole run (and
the loop thread's CPU seconds in each cause timed by a wrapper, "<cause>_cpu"), the
requests (PixelSpy.request calls), the process's CPU time, the loop thread's and the session file
thread's in StoreWriter.flush, the loop thread's time runnable but waiting for a core (run_delay,
Linux's schedstat), and all callbacks' time off CPU (off_cpu; off_cpu_others_ran: of callbacks in
which other threads of the process ran for at least half of it).
Nothing of this is in the product: it is patched in from outside, in the process measured.
Experiments' knobs (bench_proxy.py --against-env NAME=VALUE), each set before the proxy starts:
  STALL_PROBE_COMMIT_S      the session file's commit interval
  STALL_PROBE_NO_FREEZE=1   no heap freezer (ProxyConfig.freeze_heap's other settings kept)
  STALL_PROBE_SWITCH_S      the GIL switch interval pixelspy's process sets (proxy.GIL_SWITCH_INTERVAL_S)
  STALL_PROBE_GC=A,B,C      the collector's thresholds, set once the proxy has started (each freeze of the
                            heap freezer keeps A and sets its own B and C: STALL_PROBE_MIDDLE_EVERY)
  STALL_PROBE_TICK_S        --no-ui's tick (cli.live.TICK_S)
  STALL_PROBE_FREEZE_EVERY  the heap freezer's events between freezes (heap.FREEZE_EVERY_EVENTS)
  STALL_PROBE_MIDDLE_EVERY  young collections per middle one once frozen (heap.MIDDLE_COLLECTION_EVERY)
  STALL_PROBE_WRITER_NICE   the session file's thread's nice value (Linux: per thread), from its start
"""

from __future__ import annotations

import asyncio.events
import gc
import json
import os
import sys
import threading
import time
from collections import Counter, deque

perf = time.monotonic  # bench_proxy.py's paced windows are in its clock
THRESHOLD_S = float(os.environ.get("STALL_PROBE_MS", "2")) / 1e3
TOTALS_EVERY_S = 2.0


class _Probe:
    def __init__(self, out: str) -> None:
        self.out = open(f"{out}.{os.getpid()}.jsonl", "w", buffering=1)  # noqa: SIM115 - lives with the process
        self.loop_thread = None
        self.acc: Counter[str] = Counter()  # causes' seconds in the callback running now
        self.totals: Counter[str] = Counter()  # causes' seconds, whole run
        self.counts: Counter[str] = Counter()
        self.in_freezer = None  # "freeze" / "reclaim" while the freezer runs
        self.gc_started = 0.0
        self.writer_spans: deque[tuple[float, float]] = deque(maxlen=256)
        self.next_totals = perf() + TOTALS_EVERY_S
        self.patched = False

    # ---------------------------------------------------------------- causes

    def add(self, cause: str, seconds: float) -> None:
        self.acc[cause] += seconds
        self.totals[cause] += seconds
        self.counts[cause] += 1

    def on_gc(self, phase: str, info: dict) -> None:
        if threading.get_ident() != self.loop_thread:
            return
        if phase == "start":
            self.gc_started = perf()
        else:
            self.add(self.in_freezer + "_gc" if self.in_freezer else f"gc{info['generation']}",
                     perf() - self.gc_started)

    def timed(self, cause, fn, freezer: bool = False):
        probe = self

        def wrapper(*args, **kw):
            if threading.get_ident() != probe.loop_thread:
                return fn(*args, **kw)
            if freezer:
                outer, probe.in_freezer = probe.in_freezer, cause
            t0, c0 = perf(), time.thread_time()
            try:
                result = fn(*args, **kw)
            finally:
                if freezer:
                    probe.in_freezer = outer
                name = cause(result) if callable(cause) else cause
                probe.add(name, perf() - t0)
                probe.totals[f"{name}_cpu"] += time.thread_time() - c0  # without the time off CPU
            return result

        wrapper.__wrapped__ = fn
        return wrapper

    @staticmethod
    def schedstat() -> tuple[float, int]:
        """The loop thread's time runnable but waiting for a core (s), and its timeslices, so far
        (/proc/thread-self/schedstat, Linux; zeros elsewhere)."""
        try:
            with open("/proc/thread-self/schedstat") as f:
                _, waited, slices = f.read().split()
        except (OSError, ValueError):
            return 0.0, 0
        return int(waited) / 1e9, int(slices)

    def loop_cpu(self) -> float:
        return time.clock_gettime(time.pthread_getcpuclockid(self.loop_thread))

    def writer_flush(self, fn):
        probe = self

        def wrapper(*args, **kw):
            t0, c0 = perf(), time.thread_time()
            try:
                return fn(*args, **kw)
            finally:
                t1 = perf()
                probe.writer_spans.append((t0, t1))
                probe.totals["writer_flush"] += t1 - t0
                probe.totals["writer_flush_cpu"] += time.thread_time() - c0
                probe.counts["writer_flush"] += 1

        return wrapper

    def patch_pixelspy(self) -> None:
        """Once pixelspy's modules are loaded (at the loop's first callback)."""
        self.patched = True
        if (heap := sys.modules.get("pixelspy.proxy.heap")) is not None:
            heap.HeapFreezer.freeze = self.timed("freeze", heap.HeapFreezer.freeze, freezer=True)
            heap.HeapFreezer.reclaim = self.timed("reclaim", heap.HeapFreezer.reclaim, freezer=True)
        if (session := sys.modules.get("pixelspy.session")) is not None:
            session.Session.ingest = self.timed(lambda events: "ingest_event" if events else "ingest_plain",
                                                session.Session.ingest)
            session.Session.tick = self.timed("tick", session.Session.tick)
        if (proxy := sys.modules.get("pixelspy.proxy")) is not None and hasattr(proxy, "RecordAnswers"):
            proxy.RecordAnswers._keep = self.timed("answer", proxy.RecordAnswers._keep)
        if (addon := sys.modules.get("pixelspy.addon")) is not None:
            request = addon.PixelSpy.request

            def counted(addon_self, flow):  # the requests, for the totals per request
                self.counts["requests"] += 1
                return request(addon_self, flow)

            addon.PixelSpy.request = counted
            for hook in ("requestheaders", "request", "responseheaders", "response"):
                setattr(addon.PixelSpy, hook, self.timed("addon", getattr(addon.PixelSpy, hook)))
            addon.JsonLines._write = self.timed("jsonl", addon.JsonLines._write)
        if (writer := sys.modules.get("pixelspy.store.writer")) is not None:
            writer.StoreWriter._hand_over = self.timed("hand_over", writer.StoreWriter._hand_over)
            writer.StoreWriter.flush = self.writer_flush(writer.StoreWriter.flush)

    # ---------------------------------------------------------------- the loop's callbacks

    def run_handle(self, run, handle) -> None:
        if not self.patched:
            self.loop_thread = threading.get_ident()
            self.patch_pixelspy()
        self.acc.clear()
        t0, c0, p0 = perf(), time.thread_time(), time.process_time()
        run(handle)
        t1 = perf()
        self.counts["handles"] += 1
        took, loop_cpu = t1 - t0, time.thread_time() - c0
        off_cpu, others_cpu = took - loop_cpu, time.process_time() - p0 - loop_cpu
        # Every callback's time off CPU, not only stalls': a few 0.1 ms waits for the GIL (the
        # session file's thread) a request would stay under the threshold but add up.
        self.totals["off_cpu"] += off_cpu
        if others_cpu >= off_cpu / 2 > 0:
            self.totals["off_cpu_others_ran"] += off_cpu
        if took > THRESHOLD_S:
            self.stall(handle, t0, t1, off_cpu, others_cpu)
        if t1 > self.next_totals:
            self.next_totals = t1 + TOTALS_EVERY_S
            self.write_totals()

    def write_totals(self) -> None:
        run_delay, timeslices = self.schedstat()
        self.write({"totals": {**self.totals, "process_cpu": time.process_time(), "loop_cpu": self.loop_cpu(),
                               "run_delay": run_delay},
                    "counts": {**self.counts, "timeslices": timeslices}})

    def stall(self, handle, t0: float, t1: float, off_cpu: float, others_cpu: float) -> None:
        writer = sum(max(0.0, min(e, t1) - max(s, t0)) for s, e in list(self.writer_spans) if e > t0)
        callback = getattr(handle, "_callback", None)
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, asyncio.Task):
            where = getattr(owner.get_coro(), "__qualname__", "?")
        else:
            where = getattr(callback, "__qualname__", repr(callback))[:60]
        self.write({"t": round(t0, 4), "ms": round((t1 - t0) * 1e3, 3), "where": where,
                    "off_cpu": round(off_cpu * 1e3, 3),
                    "others_cpu": round(others_cpu * 1e3, 3), "writer": round(writer * 1e3, 3),
                    **{k: round(v * 1e3, 3) for k, v in self.acc.items()}})

    def write(self, record: dict) -> None:
        self.out.write(json.dumps(record) + "\n")


def set_knobs() -> None:
    """The experiments' knobs (see the module's docstring) that are set in the environment."""
    if commit_s := os.environ.get("STALL_PROBE_COMMIT_S"):
        from pixelspy.store import writer

        writer.StoreWriter.__init__.__kwdefaults__["interval_s"] = float(commit_s)
    if os.environ.get("STALL_PROBE_NO_FREEZE") or os.environ.get("STALL_PROBE_SWITCH_S") or os.environ.get("STALL_PROBE_GC"):
        import pixelspy.proxy as proxy

        if os.environ.get("STALL_PROBE_NO_FREEZE"):
            proxy.freeze_heap = lambda session: None
        if switch_s := os.environ.get("STALL_PROBE_SWITCH_S"):
            proxy.GIL_SWITCH_INTERVAL_S = float(switch_s)
        if thresholds := os.environ.get("STALL_PROBE_GC"):
            start = proxy.Proxy.start

            async def start_then_thresholds(self):
                await start(self)
                gc.set_threshold(*(int(n) for n in thresholds.split(",")))

            proxy.Proxy.start = start_then_thresholds
    if os.environ.get("STALL_PROBE_FREEZE_EVERY") or os.environ.get("STALL_PROBE_MIDDLE_EVERY"):
        from pixelspy.proxy import heap

        heap.FREEZE_EVERY_EVENTS = int(os.environ.get("STALL_PROBE_FREEZE_EVERY", heap.FREEZE_EVERY_EVENTS))
        heap.MIDDLE_COLLECTION_EVERY = int(os.environ.get("STALL_PROBE_MIDDLE_EVERY", heap.MIDDLE_COLLECTION_EVERY))
    if nice := os.environ.get("STALL_PROBE_WRITER_NICE"):
        from pixelspy.store import writer

        run = writer.StoreWriter._run

        def niced_run(self):
            os.setpriority(os.PRIO_PROCESS, 0, int(nice))  # Linux: this thread only
            run(self)

        writer.StoreWriter._run = niced_run
    if tick_s := os.environ.get("STALL_PROBE_TICK_S"):
        from pixelspy.cli import live

        live.TICK_S = float(tick_s)


def install(out: str) -> None:
    """The probe, and the experiments' knobs set in the environment."""
    probe = _Probe(out)
    set_knobs()
    gc.callbacks.append(probe.on_gc)
    run = asyncio.events.Handle._run
    asyncio.events.Handle._run = lambda handle: probe.run_handle(run, handle)
