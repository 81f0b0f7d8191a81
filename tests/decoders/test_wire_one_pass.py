"""parse_qs_pairs decodes escape-dense queries in one pass; it must still read them as parse_qsl
does, and report the same errors as the per-value loop, whatever the query holds."""

from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pixelspy.decoders.wire import Errors, parse_qs_pairs

# Mostly escapes, so that the one-pass path is taken; separators, line breaks (raw and encoded),
# broken and non-UTF-8 escapes and a value's own "=" are what it must recognise and hand back.
DENSE_PIECES = st.sampled_from(["%41", "%3D", "%26", "%0A", "%0d", "%C3%A9", "%E2%82", "%ff", "%7B%22a%22%7D",
                                "&", "=", "a", "+", "%", "%z", "%=", "%&", "\n", "\r", "=3D", "é"])
DENSE_QUERIES = st.lists(DENSE_PIECES, max_size=40).map("".join)


@given(DENSE_QUERIES)
def test_dense_query_is_parse_qsl(qs):
    assert parse_qs_pairs(qs, Errors()) == parse_qsl(qs, keep_blank_values=True, errors="replace")


@pytest.mark.parametrize(("qs", "pairs", "errors"), [
    ("a=%7B%22v%22%3A1%7D&b=%41%42", [("a", '{"v":1}'), ("b", "AB")], []),
    ("a=x%0A%3Dy%41%41%41", [("a", "x\n=yAAA")], []),  # an encoded line feed inside a value
    ("a=x%0D%3Dy%41%41%41", [("a", "x\r=yAAA")], []),
    ("a=b=%41%41%41%41", [("a", "b=AAAA")], []),  # a value's own "="
    ("%&x=%41%41%41", [("%", ""), ("x", "AAA")], ["query has broken percent-encoding; decoded what could be decoded"]),
    ("a=%ff%41%41%41", [("a", "\ufffdAAA")], ["query has percent-encoded bytes that are not UTF-8"]),
])
def test_one_pass_edge_cases(qs, pairs, errors):
    found = Errors()
    assert parse_qs_pairs(qs, found) == pairs
    assert found == errors
