"""The reading of flows (pixelspy/flows.py: raw_hit, request_url) and the addon's JSON-lines printer."""

from __future__ import annotations

import asyncio
import io
import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mitmproxy.http import Headers, Response
from mitmproxy.net.http.http1 import assemble_response
from mitmproxy.test import tflow

from pixelspy.addon import GIF_1X1, JsonLines, sink_response
from pixelspy.decoders import default_registry
from pixelspy.har import load_file
from pixelspy.flows import after_hook, in_turn, raw_hit, request_url, request_url_parts, wire_text
from pixelspy.model import RawHit, split_url
from pixelspy.inert import json_dumps
from pixelspy.session import Session
from tests.realtraffic.corpus import CASES


def _flow(path: bytes, fields: list[tuple[bytes, bytes]], host: str = "www.facebook.com"):
    flow = tflow.tflow()
    req = flow.request
    req.scheme, req.host, req.port = "https", host, 443
    req.data.path = path
    req.headers = Headers(fields)
    req.raw_content = b"ev=Purchase"
    return flow


def test_headers_keep_utf8_and_show_raw_bytes_as_replacement_characters():
    flow = _flow(b"/tr/?id=1", [(b"referer", b"https://shop.example/caf\xc3\xa9"),
                                (b"x-raw", b"a\xff\xfeb"), (b"accept", b"*/*")])
    hit = raw_hit(flow)
    assert hit.headers == (("referer", "https://shop.example/café"), ("x-raw", "a\ufffd\ufffdb"),
                           ("accept", "*/*"))
    assert hit.body == b"ev=Purchase"
    assert raw_hit(flow, with_body=False).body == b""


def test_raw_bytes_in_the_url_are_percent_encoded_as_a_browser_sends_them():
    hit = raw_hit(_flow(b"/tr/?id=1&dl=\xff", []))
    assert hit.url == "https://www.facebook.com/tr/?id=1&dl=%FF"


def test_a_host_header_in_capitals_is_the_vendor_host():
    flow = _flow(b"/tr/?id=1", [(b"host", b"WWW.Facebook.COM")])
    url = request_url(flow)
    assert url.startswith("https://WWW.Facebook.COM/")
    found = default_registry().find_url(url)
    assert found is not None and found[0].platform == "meta"
    assert raw_hit(flow, url=url).host == "www.facebook.com"


# Host headers as clients send them, good and bad: names in any case, ports (default, zero, too big,
# zero-padded), IPv6, IDNA, trailing dots, empty labels, over-long labels and names, raw bytes.
_AUTHORITY_PARTS = st.sampled_from([
    "shop.example", "WWW.Facebook.COM", "127.0.0.1", "localhost", "a_b-c", "xn--caf-dma", "XN--caf-dma",
    "café", "[::1]", "::1", ".", "", "a..b", "a" * 63, "a" * 64, "x", "-", ":", ":80", ":443", ":8080",
    ":0", ":65536", ":0080", ":", "\xff", " ", "\n", "@",
])
_AUTHORITIES = st.one_of(st.lists(_AUTHORITY_PARTS, max_size=6).map("".join),
                         st.text(max_size=20), st.just("a." * 127 + "a"), st.just("ab." * 85),
                         st.just(("a" * 63 + ".") * 4 + "com:443"))


@settings(max_examples=2000, deadline=None)
@given(authority=_AUTHORITIES, hosts=st.integers(0, 2), h2_authority=st.booleans(),
       scheme=st.sampled_from(["http", "https"]), http2=st.booleans(),
       path=st.sampled_from([b"/", b"/tr/?id=1", b"*", b"/p\xff?q=%E9", b"", b"x", b"/a#f?b", b"/a?b#c",
                             b"/a b?c@d", b"/a?b=\\c", b"/caf\xc3\xa9?x=1", b"//x/y"]),
       method=st.sampled_from([b"GET", b"POST", b"CONNECT"]))
def test_request_url_is_mitmproxys_pretty_url(authority, hosts, h2_authority, scheme, http2, path, method):
    """The URL is built without pretty_url where the Host header is a plain name: always the same text,
    and split the same as split_url splits it."""
    value = authority.encode("utf-8", "surrogateescape")
    flow = _flow(path, [(b"Host" if i else b"host", value) for i in range(hosts)])
    req = flow.request
    req.scheme = scheme
    req.data.method = method
    req.data.http_version = b"HTTP/2.0" if http2 else b"HTTP/1.1"
    req.data.authority = value if h2_authority else b""
    url = wire_text(req.pretty_url, in_url=True)
    assert request_url(flow) == url
    assert request_url_parts(flow) == (url, split_url(url))


def _copies_printed(n: int) -> tuple[JsonLines, io.StringIO]:
    """n copies of one Purchase through a session printing JSON lines."""
    session = Session()
    out = io.StringIO()
    json_lines = JsonLines(session, out=out)
    session.subscribe(json_lines)
    url = "https://www.facebook.com/tr/?id=1234567890123456&ev=Purchase&eid=order-1&cd[value]=9&cd[currency]=EUR"
    for i in range(n):
        session.ingest(RawHit(method="GET", url=url, time=1_700_000_000 + i, client="10.0.0.2"))
    return json_lines, out


def test_json_lines_print_each_event_at_once_and_a_changed_one_again_once_per_flush():
    """Five copies of one Purchase: five lines at once; each copy's finding changes with every later
    copy, yet the flush prints each changed copy once, in its latest state."""
    json_lines, out = _copies_printed(5)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 5 and len({line["id"] for line in lines}) == 5

    json_lines.flush()
    updates = [json.loads(line) for line in out.getvalue().splitlines()[5:]]
    assert sorted(u["id"] for u in updates) == sorted(line["id"] for line in lines[:4])
    assert all(any("sent 5 times" in f["message"] for f in u["findings"]) for u in updates)
    json_lines.flush()
    assert len(out.getvalue().splitlines()) == 9  # nothing changed since


def test_the_cli_prints_changed_events_a_few_at_a_time_letting_requests_through():
    json_lines, out = _copies_printed(25)
    printed = lambda: len(out.getvalue().splitlines())  # noqa: E731
    assert printed() == 25

    async def flush_while_serving() -> list[int]:
        seen = []

        async def serve():  # what the proxy does meanwhile
            for _ in range(10):
                seen.append(printed())
                await asyncio.sleep(0)

        await asyncio.gather(json_lines.flush_between_requests(), serve())
        return seen

    seen = asyncio.run(flush_while_serving())
    updates = out.getvalue().splitlines()[25:]
    assert len(updates) == len({json.loads(line)["id"] for line in updates}) == 24  # all but the newest
    assert any(25 < n < 25 + 24 for n in seen)  # requests were served between the batches


async def test_in_turn_runs_at_once_unless_hooks_callbacks_wait_then_after_them():
    """An ordinary request is shown to the session in its hook (no loop handle), yet never before a
    hit whose decoding still waits for mitmproxy to act: the session sees the traffic in its order."""
    order: list[str] = []
    in_turn(order.append, "plain 1")
    assert order == ["plain 1"]  # nothing waited: at once
    after_hook(order.append, "hit")
    in_turn(order.append, "plain 2")
    assert order == ["plain 1"]  # the hit waits, so the request after it waits too
    for _ in range(2):
        await asyncio.sleep(0)
    assert order == ["plain 1", "hit", "plain 2"]
    in_turn(order.append, "plain 3")
    assert order[-1] == "plain 3"


def _benchmarks_corpus():
    """benchmarks/corpus.py's build_corpus (real-shaped hits of every vendor), run from its file."""
    return runpy.run_path(str(Path(__file__).resolve().parents[1] / "benchmarks" / "corpus.py"))["build_corpus"]


def test_json_lines_are_the_text_json_dumps_writes():
    """json_dumps writes a JSON line with an encoder made once, not json.dumps: the same text for every
    line the session publishes (new events and updates: findings, twins, copies, hidden characters),
    over the fixtures' real traffic and the benchmarks' corpus of every vendor."""
    session = Session()
    printed: list[dict] = []
    session.subscribe(lambda ev, is_update: printed.append(session.json_line(ev)))
    for har in sorted(CASES.glob("*.har")):
        load_file(har, session)
    build_corpus = _benchmarks_corpus()
    for serial in (0, 0, 1):  # copies of each (duplicates' findings), then new ones
        for samples in build_corpus().values():
            for sample in samples:
                session.ingest(sample.hit(time=1_700_000_000 + serial, serial=serial))
    hidden = "https://www.facebook.com/tr/?id=1&ev=Purchase&cd[x]=%C3%A9%7F%E2%80%AE%F0%9F%98%80%C2%85"
    session.ingest(RawHit(method="GET", url=hidden, time=1_700_000_100, client="10.0.0.2"))
    assert len(printed) > 300 and any(line["findings"] for line in printed) and any(line["twins"] for line in printed)
    assert any(not json.dumps(line, ensure_ascii=False).isascii() for line in printed)
    for line in printed:
        assert json_dumps(line) == json_dumps(line, separators=(", ", ": "))  # (given a keyword: json.dumps)


class _ClosedPipe(io.StringIO):
    """stdout once its reader has gone (`pixelspy --no-ui | head -1`)."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_json_lines_tell_once_that_the_reader_has_gone_and_print_nothing_more():
    closed: list[bool] = []
    session = Session()
    json_lines = JsonLines(session, out=_ClosedPipe(), on_closed=lambda: closed.append(True))
    session.subscribe(json_lines)
    url = "https://www.facebook.com/tr/?id=1234567890123456&ev=Purchase&eid=order-1"
    for i in range(3):
        session.ingest(RawHit(method="GET", url=url, time=1_700_000_000 + i, client="10.0.0.2"))
    json_lines.flush()
    assert closed == [True] and json_lines.closed
    json_lines.out = io.StringIO()  # (a reader again: still nothing, the session has moved on without one)
    session.ingest(RawHit(method="GET", url=url, time=1_700_000_010, client="10.0.0.2"))
    json_lines.flush()
    assert json_lines.out.getvalue() == "" and closed == [True]


def test_json_lines_let_other_errors_through():
    session = Session()
    json_lines = JsonLines(session, out=io.StringIO())
    session.subscribe(json_lines)
    json_lines.out.write = lambda text: 1 / 0
    with pytest.raises(ZeroDivisionError):
        session.ingest(RawHit(method="GET", url="https://www.facebook.com/tr/?id=1&ev=PageView"))
    assert not json_lines.closed


@pytest.mark.parametrize("method,headers,route_json", [
    (b"GET", [], None),
    (b"GET", [(b"Origin", b"https://shop.example")], None),
    (b"POST", [(b"origin", b"https://caf\xc3\xa9.example"), (b"origin", b"https://\xff.example")], None),
    (b"POST", [], '{"events_received": 1}'),
    (b"POST", [(b"origin", b"https://shop.example")], None),
    (b"OPTIONS", [(b"origin", b"https://shop.example"), (b"access-control-request-headers", b"content-type,x-a")],
     None),
    (b"OPTIONS", [], None),
])
def test_sink_answers_are_what_response_make_builds(method, headers, route_json):
    """The sink's answers skip mitmproxy's per-field type checks, not a byte: the same fields in the
    same order as Response.make's, the same bytes on the wire."""
    flow = _flow(b"/tr/?id=1", headers)
    flow.request.data.method = method
    route = SimpleNamespace(sink_json=route_json)
    made = sink_response(flow, route)
    origin = flow.request.headers.get("origin")
    cors = {"access-control-allow-origin": origin or "*", "x-pixelspy": "sink"}
    if origin:
        cors["access-control-allow-credentials"] = "true"
    if method == b"OPTIONS":
        cors["access-control-allow-methods"] = "GET, POST, OPTIONS"
        cors["access-control-allow-headers"] = flow.request.headers.get("access-control-request-headers",
                                                                        "content-type")
        expected = Response.make(204, b"", cors)
    elif method == b"GET":
        expected = Response.make(200, GIF_1X1, {"content-type": "image/gif", **cors})
    elif route_json:
        expected = Response.make(200, route_json.encode(), {"content-type": "application/json", **cors})
    else:
        expected = Response.make(204, b"", cors)
    assert list(vars(made.data)) == list(vars(expected.data))
    assert made.timestamp_start <= made.timestamp_end <= expected.timestamp_start
    made.timestamp_start = made.timestamp_end = expected.timestamp_start = expected.timestamp_end = 0.0
    assert made.get_state() == expected.get_state()
    assert assemble_response(made) == assemble_response(expected)
    assert type(made) is Response and made.stream is False and made.trailers is None
