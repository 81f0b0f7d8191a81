"""RawHit: its URL split (the plain fast path must read every URL exactly as urlsplit does), and the
unvalidated hit the proxy builds; TrackingEvent's JSON line."""

from __future__ import annotations

import json

import pytest

from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from pixelspy.har import load_file
from pixelspy.model import RawHit, _plain_url_split, _url_split, split_url
from pixelspy.session import Session
from tests.realtraffic.corpus import CASES

URL_CHARS = st.sampled_from(list("abcAB09.-_~:/?#&=%+@[]\\ \t\r\n\x00\x7fé;,!$'()*"))


@settings(max_examples=3000)
@given(scheme=st.sampled_from(["http://", "https://", "HTTPS://", "ftp://", "http:/", ""]),
       rest=st.text(URL_CHARS, max_size=40))
@example(scheme="https://", rest="Shop.Example:8443/p/a?q=1&r=2#frag?x")
@example(scheme="https://", rest="host?q=1/x")
@example(scheme="http://", rest=":80/x")
@example(scheme="https://", rest="")
def test_plain_split_reads_urls_as_urlsplit_does(scheme: str, rest: str):
    url = scheme + rest
    plain = _plain_url_split(url)
    if plain is not None:
        assert plain == _url_split(url)


def test_common_urls_take_the_plain_path():
    assert _plain_url_split("https://www.facebook.com/tr/?id=1&ev=PageView") == ("www.facebook.com", "/tr/",
                                                                                 "id=1&ev=PageView")
    assert _plain_url_split("http://Shop.Example:8080") == ("shop.example", "/", "")
    assert _plain_url_split("https://user@host/") is None  # user info: left to urlsplit


def test_a_hit_reads_host_path_and_query():
    hit = RawHit(method="GET", url="https://Analytics.TikTok.com/api/v2/pixel?x=1#f")
    assert (hit.host, hit.path, hit.query) == ("analytics.tiktok.com", "/api/v2/pixel", "x=1")
    broken = RawHit(method="GET", url="http://[::1/collect?v=2")  # a malformed Host header
    assert (broken.host, broken.path) == ("", "/collect")


def test_the_proxys_unvalidated_hit_is_the_validated_one():
    fields = dict(method="POST", url="https://WWW.facebook.com/tr/?id=1", body=b"ev=Purchase", time=1700000000.5,
                  headers=(("Content-Type", "application/x-www-form-urlencoded"), ("referer", "https://shop.example/")),
                  client="10.0.0.2", body_truncated=False)
    validated = RawHit(**fields)
    fast = RawHit.of_proxy(**fields)
    seeded = RawHit.of_proxy(**fields, url_parts=split_url(fields["url"]))
    adapter = TypeAdapter(RawHit)
    for hit in (fast, seeded):
        assert hit.id != validated.id and hit.id.startswith("h")
        assert {**adapter.dump_python(hit, mode="json"), "id": validated.id} == adapter.dump_python(validated, mode="json")
        assert (hit.host, hit.path, hit.query) == ("www.facebook.com", "/tr/", "id=1")
        assert hit.content_type == "application/x-www-form-urlencoded"
        assert adapter.validate_json(adapter.dump_json(hit)) == hit  # as a HAR file or report reads it back


def test_json_lines_keep_lists_where_events_hold_tuples():
    """An event's sequences are tuples (the collector walks fewer objects); its JSON line, which the
    HAR's `_pixelspy` and `--no-ui` print, is the same JSON as before: lists, every value JSON's own
    (what json.loads gives back equals the line), on real traffic with findings, twins and ids."""
    session = Session()
    for har in sorted(CASES.glob("*.har")):
        load_file(har, session)
    events = list(session)
    lines = [session.json_line(ev) for ev in events]
    for line in lines:
        assert json.loads(json.dumps(line)) == line
    fields = ("content_ids", "decode_errors", "twins", "findings")
    for name in fields:  # the traffic has some of each (else the loop above proves little)
        assert any(line[name] for line in lines), name
    assert any(line["user_data"] for line in lines) and any(f["related"] for line in lines for f in line["findings"])
    assert all(type(getattr(ev, name)) is tuple for ev in events for name in (*fields, "params", "user_data"))


@pytest.mark.parametrize("headers", [
    (("referer", "a"), ("origin", "b"), ("referer", "c")),  # HTTP/2: lower-case already
    (("Referer", "a"), ("Origin", "b")),  # HTTP/1.1 as browsers send it
    (("referer", "a"), ("Referer", "b"), ("REFERER", "c")),  # one name in three spellings
    (("Referer", "a"), ("referer", "b")),
    (("x-1", "a"), ("123", "b"), ("", "c")),  # names with no letter to case
    (("x-naïve", "a"), ("X-NAÏVE", "b"), ("ǅ", "c"), ("ß", "d")),  # non-ASCII names
    (),
])
def test_a_header_is_the_first_of_its_name_in_any_case(headers):
    hit = RawHit(method="GET", url="https://a.example/", headers=headers)
    for name in {n for n, _ in headers} | {n.upper() for n, _ in headers} | {"referer", "absent"}:
        first = next((v for n, v in headers if n.lower() == name.lower()), "-")
        assert hit.header(name, "-") == first, name
