"""How the engine picks the checks for an event, and the shapes checks compare events by."""

from __future__ import annotations

from pixelspy.checks import CheckEngine, default_checks
from pixelspy.checks.duplicates import signature
from pixelspy.config import Config
from pixelspy.model import Kind, Param, TrackingEvent

from .helpers import event, loaded


class Recorder:
    def __init__(self, kinds=None):
        if kinds is not None:
            self.kinds = kinds
        self.seen: list[Kind] = []

    def process(self, ev: TrackingEvent, ctx) -> None:
        self.seen.append(ev.kind)


def test_a_check_naming_kinds_sees_only_those_kinds():
    events_only, every_kind = Recorder(kinds=(Kind.event,)), Recorder()
    engine = CheckEngine(Config(), [events_only, every_kind])
    for ev in (event(event="PageView"), loaded(), event(kind=Kind.missing)):
        engine.process(ev)
    assert events_only.seen == [Kind.event]
    assert every_kind.seen == [Kind.event, Kind.pixel_loaded, Kind.missing]


def test_checks_that_skip_pixel_loads_say_so():
    # The engine does not call them for a loader: each must have nothing to say about one.
    skipping = {type(c).__name__ for c in default_checks(Config()) if getattr(c, "kinds", None) == (Kind.event,)}
    assert {"ParamsCheck", "EncodingCheck", "TestEventCheck", "IdsCheck", "DedupCheck"} <= skipping
    # A tag's init carries user data (Pinterest's em): its placeholders and leaks are judged.
    assert not {"DuplicatesCheck", "PixelNoEventsCheck", "PiiCheck", "PlaceholderCheck"} & skipping


def test_signature_is_the_same_whether_or_not_a_parameter_name_repeats():
    # A repeated name sends signature() down its slow path; the data it compares must not change.
    once = event(event="Purchase", params={"cd[value]": "5", "cd[currency]": "EUR", "ts": "1"})
    twice = event(event="Purchase", params={"cd[value]": "5", "cd[currency]": "EUR"})
    twice.params += (Param("ts", "2"), Param("ts", "3"))
    assert signature(once) == signature(twice)
    other = event(event="Purchase", params={"cd[value]": "6", "cd[currency]": "EUR", "ts": "1"})
    assert signature(other) != signature(once)
