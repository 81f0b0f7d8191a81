"""A tracking hit's work on the event loop's thread, step by step, in CPU time (`bench_hit.py`).

Wraps, in the process measured, `Session.ingest` (a hit that made events apart from other traffic)
and within it: decoding (`decoders.decode`), the checks (`CheckEngine.process`, and each check's
`process` apart), each session subscriber (`JsonLines`, the session file's, the heap freezer's),
storing the event and handing its hit over, and CPython's collections that fell inside (gc0/gc1/gc2,
by generation; the heap freezer's full collection is a gc2 inside its subscriber). Every step is the
loop thread's CPU (time.thread_time), so waiting for a core or for the GIL is not in it. A step
under another is counted in both: the parts of "hit" do not add up to it.
Nothing of this is in the product: it is patched in from outside. Live, hit_probe/sitecustomize.py
installs it when HIT_PROBE_OUT is set: the counts start when the file HIT_PROBE_OUT.go appears (after
the warm-up: a first hit pays one-time costs, e.g. parsing the Public Suffix List) and are written
to HIT_PROBE_OUT.<pid>.json every second.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
from collections import Counter

cpu = time.thread_time
spent: Counter[str] = Counter()  # step → seconds of the loop thread's CPU
calls: Counter[str] = Counter()
_state = {"in": None, "gc_t0": 0.0, "loop": None}
WAITS = "waits"  # the report's key of `waits`
waits: list[float] = []  # ms from a sink-answered hit's answer made to its ingest (a batch's wait in it)
HIT, OTHER, PENDING = "hit", "other", "?"


def _on_gc(phase: str, info: dict) -> None:
    if _state["in"] is None or threading.get_ident() != _state["loop"]:
        return
    if phase == "start":
        _state["gc_t0"] = cpu()
        return
    step = f"{_state['in']} gc{info['generation']}"
    spent[step] += cpu() - _state["gc_t0"]
    calls[step] += 1


def _timed(step: str, fn):
    def timed(*args, **kwargs):
        t0 = cpu()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[step] += cpu() - t0
            calls[step] += 1
    return timed


def _ingest(ingest, engine_wrapped: dict):
    """Session.ingest, its steps filed under the kind of hit once known (whether it made events)."""
    def timed_ingest(session, hit):
        if not engine_wrapped:
            _wrap_checks(session.checks, engine_wrapped)
        before_spent, before_calls = dict(spent), dict(calls)
        _state["in"] = PENDING
        t0 = cpu()
        try:
            events = ingest(session, hit)
        finally:
            took = cpu() - t0
            _state["in"] = None
        kind = HIT if events else OTHER
        for step in list(spent):
            if step.startswith(PENDING):
                spent[kind + step[1:]] += spent.pop(step)
                calls[kind + step[1:]] += calls.pop(step)
            elif not step.startswith((HIT, OTHER)) and (d := spent[step] - before_spent.get(step, 0.0)):
                spent[f"{kind}: {step}"] += d
                calls[f"{kind}: {step}"] += calls[step] - before_calls.get(step, 0)
        spent[kind] += took
        calls[kind] += 1
        return events
    return timed_ingest


def _wrap_checks(engine, wrapped: dict) -> None:
    """Each check's process, as the engine holds it (bound methods looked up once at its start)."""
    for hooks in engine._process_hooks.values():
        for i, (check, method) in enumerate(hooks):
            if id(check) not in wrapped:
                wrapped[id(check)] = _timed(f"check {type(check).__name__}", method)
            hooks[i] = (check, wrapped[id(check)])


def _publish(session, event, is_update: bool) -> None:
    for fn in list(session._subscribers):
        name = getattr(fn, "__qualname__", None) or type(fn).__name__
        step = f"subscriber {name}{' (update)' if is_update else ''}"
        t0 = cpu()
        fn(event, is_update)
        spent[step] += cpu() - t0
        calls[step] += 1


def _waited(ingest):
    """PixelSpy._ingest, noting how long after its answer was made a sink-answered hit is ingested."""
    def timed(addon, flow, hit):
        if flow.response is not None and flow.response.headers.get("x-pixelspy") == "sink":
            waits.append((time.time() - flow.response.timestamp_end) * 1000)
        return ingest(addon, flow, hit)
    return timed


def patch() -> None:
    """Wrap pixelspy's steps in this process (its modules imported; before any hit)."""
    from pixelspy import addon, checks, decoders, session

    addon.PixelSpy._ingest = _waited(addon.PixelSpy._ingest)

    _state["loop"] = threading.get_ident()
    gc.callbacks.append(_on_gc)
    session.Session.ingest = _ingest(session.Session.ingest, {})
    session.Session._publish = _publish
    session.Session._store = _timed("store the event", session.Session._store)
    session.Session._tell_hit = _timed("hand the hit over", session.Session._tell_hit)
    decoders.decode = _timed("decoding", decoders.decode)
    checks.CheckEngine.process = _timed("checks", checks.CheckEngine.process)


def clear() -> None:
    spent.clear()
    calls.clear()
    waits.clear()


def report() -> dict:
    """{step: [calls, µs per call, µs in all]}, and WAITS: the ms from answer to ingest, sorted."""
    out = {step: [calls[step], spent[step] * 1e6 / max(calls[step], 1), spent[step] * 1e6] for step in spent}
    out[WAITS] = sorted(waits)
    return out



def install_live(out: str) -> None:
    """Patch at the event loop's first callback once pixelspy's session is imported; count from
    the go file's appearance; write the report every second."""
    import asyncio.events

    run = asyncio.events.Handle._run
    path, go = f"{out}.{os.getpid()}.json", f"{out}.go"

    def writer() -> None:
        while not os.path.exists(go):
            time.sleep(0.05)
        clear()
        while True:
            time.sleep(1)
            with open(path + ".tmp", "w") as f:
                json.dump(report(), f)
            os.replace(path + ".tmp", path)

    def first_run(handle) -> None:
        if "pixelspy.session" in sys.modules:
            asyncio.events.Handle._run = run
            patch()
            threading.Thread(target=writer, daemon=True).start()
        return run(handle)

    asyncio.events.Handle._run = first_run
