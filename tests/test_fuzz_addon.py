"""Fuzzing the mitmproxy addon with malformed flows: it never raises, never logs a crash, never
changes the request, and answers (in sink mode) exactly the tracking hits of sink routes.

Flows are mitmproxy's own test flows (`tflow.tflow()`) with the request replaced: tracking and
ordinary hosts, odd Host headers, raw non-UTF-8 bytes in path and headers, malformed bodies from
test_fuzz_decoders, streamed (absent) bodies, responses already set by another addon. Every event
goes through the real JSON-lines writer into a UTF-8 stream, as `pixelspy --no-ui` prints it.
"""

from __future__ import annotations

import io
import json
import logging
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mitmproxy.http import Headers
from mitmproxy.test import taddons, tflow

from pixelspy.addon import JsonLines, PixelSpy
from pixelspy.decoders import default_registry
from pixelspy.flows import raw_hit, request_url
from pixelspy.heads import RequestHead
from pixelspy.model import RawHit, TrackingEvent
from pixelspy.session import Session
from tests.test_fuzz_decoders import (BODY_KINDS, CONTENT_TYPES, EXAMPLES_PER_VENDOR, ROUTES, VENDORS,
                                      hosts_of, malformed_body, random_query, sample_path)

OTHER_HOSTS = ("shop.example", "127.0.0.1", "::1", "xn--bcher-kva.example", "WWW.FACEBOOK.COM",
               "facebook.com.evil.example", "")
ODD_HOST_HEADERS = ("www.facebook.com:notaport", "[::1", "\udcff.example", "a" * 300, " ", "x:1:2")
ENCODINGS = ("gzip", "br", "deflate", "zstd", "gzip, gzip", "identity", "bogus", "\udcff")


class ErrorLog(logging.Handler):
    """Records of the pixelspy logger: addon.request logs every exception it swallows."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class CountingSession(Session):
    """Counts the hits the addon hands over, and keeps the last one's URL."""

    ingested = 0
    last_url = ""

    def ingest(self, hit: RawHit) -> list[TrackingEvent]:
        self.ingested += 1
        self.last_url = hit.url
        return super().ingest(hit)

    def ingest_plain(self, head: RequestHead) -> None:  # (an ordinary request, read in part)
        self.ingested += 1
        self.last_url = head.url
        super().ingest_plain(head)


@pytest.fixture(scope="module")
def harness():
    """One addon, loaded into a mitmproxy test context, printing JSON lines into a UTF-8 buffer."""
    addon = PixelSpy(CountingSession())
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # what sys.stdout is, minus the terminal
    json_lines = JsonLines(addon.session, out=stdout)
    addon.session.subscribe(json_lines)
    errors = ErrorLog()
    logging.getLogger("pixelspy").addHandler(errors)
    with taddons.context(addon) as tctx:
        yield addon, tctx, errors, json_lines
    logging.getLogger("pixelspy").removeHandler(errors)


def run_hooks(addon: PixelSpy, flow) -> None:
    """The addon's hooks as mitmproxy calls them: request, then response once there is one (here,
    with no event loop running, the decoding after each hook happens at once)."""
    addon.request(flow)
    if flow.response is not None:
        addon.response(flow)


@st.composite
def malformed_flow(draw, vendor: str):
    rng = draw(st.randoms(use_true_random=True))
    tracking = draw(st.booleans())
    route = draw(st.sampled_from([r for r in ROUTES if r.platform == vendor]))
    host = draw(st.sampled_from(hosts_of(route) if tracking else OTHER_HOSTS))
    path = (sample_path(route, rng) if tracking or rng.random() < 0.2 else "/" + rng.choice(["", "x", "tr/.."]))
    raw_path = path.encode() + (b"?" + random_query(rng).encode() if rng.random() < 0.8 else b"")
    if rng.random() < 0.2:  # raw bytes that are not UTF-8, as a sloppy client sends them
        raw_path += b"&raw=\xff\xfe%zz\xc3"
    kind = draw(st.sampled_from(BODY_KINDS))
    body, headers, _ = malformed_body(kind, rng.choice(CONTENT_TYPES), rng) if kind != "none" else (b"", [], False)
    fields = [(k.encode(), v.encode()) for k, v in headers]
    if rng.random() < 0.3:
        fields.append((b"content-encoding", rng.choice(ENCODINGS).encode("utf-8", "surrogateescape")))
    if rng.random() < 0.3:
        fields.append((b"host", rng.choice((host, *ODD_HOST_HEADERS)).encode("utf-8", "surrogateescape")))
    if rng.random() < 0.3:
        fields += [(b"origin", b"https://shop.example"), (b"access-control-request-headers", b"content-type")]
    if rng.random() < 0.2:
        fields.append((b"referer", b"https://shop.example/\xff\xfe"))

    flow = tflow.tflow(resp=rng.random() < 0.1)  # a response already set by another addon
    req = flow.request
    req.method = draw(st.sampled_from(["GET", "POST", "PUT", "OPTIONS", "HEAD", "PROPFIND"]))
    req.scheme = rng.choice(["http", "https"])
    req.host = host
    req.port = rng.choice([80, 443, 8080])
    req.data.path = raw_path
    req.headers = Headers(fields)
    req.raw_content = None if rng.random() < 0.05 else body  # None: a streamed body
    if rng.random() < 0.1:
        flow.client_conn.peername = None
    return flow


@pytest.mark.parametrize("sink", [True, False], ids=["sink", "pass"])
@pytest.mark.parametrize("vendor", VENDORS)
@settings(max_examples=EXAMPLES_PER_VENDOR // 2, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_malformed_flows_pass_untouched(harness, vendor, sink, data):
    addon, tctx, errors, json_lines = harness
    tctx.configure(addon, pixelspy_sink=sink)
    addon.paused = data.draw(st.sampled_from([False, False, False, True]))
    flow = data.draw(malformed_flow(vendor))
    request_before = flow.request.get_state()
    response_before = flow.response.get_state() if flow.response else None
    logged = len(errors.records)
    ingested = addon.session.ingested

    run_hooks(addon, flow)

    assert errors.records[logged:] == [], errors.records[-1].getMessage()
    assert flow.request.get_state() == request_before, "the addon changed the request"
    if addon.paused or flow.request.method == "OPTIONS":  # (a preflight is not an event)
        assert addon.session.ingested == ingested
    else:
        assert (addon.session.ingested, addon.session.last_url) == (ingested + 1, request_url(flow)), "hit lost"
    # A tracking hit is what the decoders read as one: host and path of the URL the client addressed
    # (a Host header in capitals or with a broken port included).
    found = default_registry().find_url(request_url(flow))
    if response_before is not None:
        assert flow.response.get_state() == response_before, "the addon replaced another addon's response"
    elif sink and found is not None and found[0].sinks(raw_hit(flow)):  # (signature routes read the hit)
        assert flow.response is not None and flow.response.headers["x-pixelspy"] == "sink"
        assert flow.response.status_code in (200, 204)
    else:
        assert flow.response is None, "a hit was answered locally outside sink mode or for a non-sink route"
    hit = raw_hit(flow, with_body=False)
    if default_registry().find(hit.host, hit.path) is None:
        assert "pixelspy" not in flow.metadata, "ordinary traffic was listed"
    json_lines.flush()


def test_json_lines_written_are_utf8_json(harness):
    """The fuzzed events' JSON lines, as printed (runs after the fuzz in this module)."""
    addon, tctx, errors, json_lines = harness
    json_lines.flush()  # the fuzzed events that changed, again
    tctx.configure(addon, pixelspy_sink=True)
    addon.paused = False
    flow = tflow.tflow()
    flow.request.host = "www.facebook.com"
    flow.request.data.path = b"/tr?id=1234567890123456&ev=Purchase&cd[value]=\xff\xfe&dl=https://shop.example/\xe9"
    run_hooks(addon, flow)
    assert errors.records == []
    stdout = json_lines.out
    stdout.flush()
    # Split on "\n" only, as a line reader does: U+2028 and U+0085 stay unescaped inside strings.
    lines = stdout.buffer.getvalue().decode("utf-8").rstrip("\n").split("\n")
    assert lines and all(json.loads(line)["platform"] for line in lines)
    last = json.loads(lines[-1])
    assert (last["platform"], last["event"], last["pixel_id"]) == ("meta", "Purchase", "1234567890123456")


def test_fifty_megabyte_request_is_stored_cut_and_left_whole(harness):
    addon, tctx, errors, _ = harness
    tctx.configure(addon, pixelspy_sink=False)
    addon.paused = False
    flow = tflow.tflow()
    flow.request.method = "POST"
    flow.request.host = "www.facebook.com"
    flow.request.data.path = b"/tr/"
    flow.request.headers = Headers([(b"content-type", b"application/x-www-form-urlencoded")])
    body = random.Random(7).randbytes(50 * 1024 * 1024)
    flow.request.raw_content = body
    run_hooks(addon, flow)
    assert errors.records == [] and flow.request.raw_content is body and flow.response is None
    ev = addon.session.get(flow.metadata["pixelspy"][0])
    hit = addon.session.hits[ev.hit_id]
    assert hit.body_truncated and len(hit.body) < len(body) and ev.decode_errors
