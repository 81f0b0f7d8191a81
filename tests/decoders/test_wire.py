"""The shared wire helpers agree with the standard library they replace on the hot path."""

import json
from urllib.parse import parse_qsl, unquote

import pytest

from hypothesis import given
from hypothesis import strategies as st

from pixelspy.decoders.wire import Errors, compact, parse_qs_pairs, unquote_lossy

# Query-string material: separators, escapes (valid, broken, non-UTF-8), letters and non-ASCII.
QUERY_PIECES = st.sampled_from(["&", "=", "+", "%", "%2", "%20", "%3D", "%26", "%C3%A9", "%E2%82", "%ff",
                                "%zz", "a", "cd[value]", "1", "é", "€", " ", "%F0%9F%98%80", "\ufffd",
                                "_", "\t", "\r\n", "\n", "%0D%0A", "=%41", "%=", "%3D%"])
QUERIES = st.lists(QUERY_PIECES | st.text(max_size=4), max_size=30).map("".join)


@given(QUERIES)
def test_unquote_lossy_is_unquote_with_replacement(text):
    assert unquote_lossy(text) == unquote(text, errors="replace")


@given(QUERIES)
def test_parse_qs_pairs_is_parse_qsl(qs):
    assert parse_qs_pairs(qs, Errors()) == parse_qsl(qs, keep_blank_values=True, errors="replace")


def test_broken_and_non_utf8_escapes_are_reported_once():
    errors = Errors()
    assert parse_qs_pairs("a=%zz&b=%ff&c=%E2%82", errors) == [("a", "%zz"), ("b", "\ufffd"), ("c", "\ufffd")]
    assert errors == ["query has broken percent-encoding; decoded what could be decoded",
                      "query has percent-encoded bytes that are not UTF-8"]


def test_clean_query_has_no_errors():
    errors = Errors()
    assert parse_qs_pairs("id=1&dl=https%3A%2F%2Fshop.example%2F&ev=Page+View&x", errors) == [
        ("id", "1"), ("dl", "https://shop.example/"), ("ev", "Page View"), ("x", "")]
    assert errors == []


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),  # floats: NaN, ±inf, -0.0 too
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20)


@given(JSON_VALUES)
def test_compact_is_json_dumps(value):
    assert compact(value) == ("" if value is None else value if isinstance(value, str) else
                              json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def test_compact_of_what_json_cannot_write_fails_as_json_dumps():
    with pytest.raises(TypeError, match="not JSON serializable"):
        compact([{"a": object()}])
    assert compact([{"a": 1}]) == '[{"a":1}]'  # (and the encoder is still usable after the failure)
