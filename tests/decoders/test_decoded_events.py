"""TrackingEvent.decoded, the decoders' unvalidated constructor, builds exactly the event validated
construction builds, or hands the values to it: over every corpus sample, every real-traffic hit
and hostile hits on every route, and for each kind of value validation would convert or reject."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from pixelspy.decoders import default_registry
from pixelspy.model import Kind, Param, Source, TrackingEvent

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from decode_same import decoder_hits  # noqa: E402


def _without_id(ev: TrackingEvent) -> str:
    ev.id = ""  # (ids are a counter: the two runs differ there only)
    return repr(ev)


def test_every_decoded_event_is_the_validated_event(monkeypatch):
    hits = list(decoder_hits(fuzz_per_route=12))
    registry = default_registry()
    fast = [[_without_id(ev) for ev in registry.decode(hit)] for hit in hits]
    monkeypatch.setattr(TrackingEvent, "decoded", classmethod(lambda cls, **fields: cls(**fields)))
    validated = [[_without_id(ev) for ev in registry.decode(hit)] for hit in hits]
    assert sum(map(len, fast)) > 500
    assert any("decode_errors=('" in ev for events in fast for ev in events)  # hostile hits among them
    for hit, a, b in zip(hits, fast, validated):
        assert a == b, hit.url


FULL = dict(platform="meta", source=Source.server, kind=Kind.pixel_loaded, pixel_id="1", event="Purchase",
            content_ids=["a", "b"], params=[Param("id", "1", "Pixel ID", "Event")], decode_errors=["x"],
            twins=("h1",), time=1.5, endpoint="/tr GET")


def test_typed_values_give_the_validated_event():
    fast, validated = TrackingEvent.decoded(**FULL), TrackingEvent(**FULL)
    assert fast.id != validated.id and fast.id.startswith("e")
    fast.id = validated.id
    assert repr(fast) == repr(validated)
    assert type(fast.content_ids) is tuple and type(fast.params) is tuple and type(fast.decode_errors) is tuple
    assert TrackingEvent.decoded(platform="x", id="e000001").id == "e000001"


class Text(str):
    pass


@pytest.mark.parametrize("change", [
    {"kind": "pixel_loaded"},  # converted to Kind by validation
    {"source": "app"},
    {"time": 3},  # an int: validation makes it a float
    {"content_ids": ["a", Text("b")]},  # a str subclass: validation makes it a str
    {"content_ids": {"a": 1}.keys()},  # any iterable
    {"pixel_id": b"1"},  # bytes: validation reads them as UTF-8
    {"nonsense": 1},  # an unknown keyword: validation ignores it
])
def test_other_values_are_converted_as_validation_converts_them(change):
    fields = {**FULL, **change}
    fast, validated = TrackingEvent.decoded(**fields), TrackingEvent(**fields)
    fast.id = validated.id
    assert repr(fast) == repr(validated)


@pytest.mark.parametrize("change", [{"value": 3}, {"decode_errors": [None]}, {"content_ids": "a"},
                                    {"platform": None}, {"id": 7}, {"kind": "nonsense"}])
def test_invalid_values_fail_as_validation_fails(change):
    fields = {**FULL, **change}
    with pytest.raises(ValidationError) as fast:
        TrackingEvent.decoded(**fields)
    with pytest.raises(ValidationError) as validated:
        TrackingEvent(**fields)
    assert fast.value.errors() == validated.value.errors()


def test_a_missing_platform_fails_as_validation_fails():
    with pytest.raises(ValidationError, match="platform"):
        TrackingEvent.decoded(event="x")
