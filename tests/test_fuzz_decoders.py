"""Fuzzing every decoder route with malformed hits: decoders are total.

Routes come from the vendor modules the registry is built from, so a new vendor is fuzzed with no
change here. For every route: URLs from its hosts and paths generated from its path regex, then
invalid JSON, bad percent-encoding, truncated gzip, invalid UTF-8, deep nesting, type-confused JSON,
wrong content types and random query strings. Asserted: no exception, no "decoder error:" (an
exception that escaped the decoder's own handling), JSON-serialisable events; and on an event
endpoint (a route that lists an event for a bare hit — not telemetry or cookie syncs), an unreadable
body yields ≥ 1 event carrying a decode error: never silence.

Examples per vendor: 300 by default (fast, CI); HYPOTHESIS_PROFILE=long runs 10,000 per vendor.
"""

from __future__ import annotations

import gzip
import importlib
import json
import os
import string
import time
from re import _constants as _c, _parser  # the stdlib regex parser: shortest path of a route

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pixelspy.decoders import Route, default_registry, vendor_modules
from pixelspy.model import Kind, RawHit, TrackingEvent

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
settings.register_profile("long", max_examples=10_000, deadline=None)
if LONG:
    settings.load_profile("long")
EXAMPLES_PER_VENDOR = 10_000 if LONG else 300

ROUTES: list[Route] = [r for name in vendor_modules()
                       for r in importlib.import_module(f"pixelspy.decoders.{name}").ROUTES]
VENDORS = sorted({r.platform for r in ROUTES})
REGISTRY = default_registry()
ANY_HOSTS = ("www.example.com", "sgtm.shop.example")  # for path-only routes (GA4's /g/collect)

# Characters a path generated from a route regex may use: what real tracking paths contain.
PATH_ALPHABET = string.ascii_letters + string.digits + "-._~/"


def path_strategy(route: Route) -> st.SearchStrategy[str]:
    return st.from_regex(route.path, fullmatch=True, alphabet=PATH_ALPHABET)


def simplest_path(route: Route) -> str:
    """The shortest path the route's regex matches, read off the stdlib's own regex parser."""
    path = _shortest(_parser.parse(route.path))
    assert route.match(path), (route.path, path)
    return path


def _shortest(parsed) -> str:
    out = []
    for op, arg in parsed:
        if op is _c.LITERAL:
            out.append(chr(arg))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            low, _, sub = arg
            out.append(_shortest(sub) * low)
        elif op is _c.SUBPATTERN:
            out.append(_shortest(arg[-1]))
        elif op is _c.BRANCH:
            out.append(_shortest(arg[1][0]))
        elif op is _c.IN:
            out.append(_one_char(arg))
        elif op is _c.NOT_LITERAL:
            out.append("0" if arg != ord("0") else "a")
        elif op is _c.ANY:
            out.append("0")
    return "".join(out)


def _one_char(items) -> str:
    """A character of a class such as [A-Za-z_], \\d or [^/]."""
    if items[0][0] is _c.NEGATE:
        excluded = {chr(arg) for op, arg in items[1:] if op is _c.LITERAL}
        return next(ch for ch in "0a" if ch not in excluded)
    op, arg = items[0]
    if op is _c.LITERAL:
        return chr(arg)
    if op is _c.RANGE:
        return chr(arg[0])
    return "0" if arg is _c.CATEGORY_DIGIT else "a"


def hosts_of(route: Route) -> tuple[str, ...]:
    return route.hosts or ANY_HOSTS


def decode(hit: RawHit) -> list[TrackingEvent]:
    events = REGISTRY.decode(hit)
    for ev in events:
        crashes = [e for e in ev.decode_errors if e.startswith("decoder error:")]
        assert not crashes, f"{hit.method} {hit.url[:200]}: {crashes}"
        json.dumps(ev.json_line(), ensure_ascii=False)  # what --no-ui prints must not fail
        ev.model_dump_json()  # HAR / session export
    return events


def _lists_events(route: Route) -> bool:
    """Event endpoints list an event even for a bare hit; SDK telemetry and cookie syncs do not."""
    hit = RawHit(method="GET", url=f"https://{hosts_of(route)[0]}{simplest_path(route)}")
    return bool(REGISTRY.decode(hit))


LISTS_EVENTS = {id(r): _lists_events(r) for r in ROUTES}


def check_hit(route: Route, hit: RawHit, garbage: bool) -> list[TrackingEvent]:
    found = REGISTRY.find(hit.host, hit.path)
    assert found is not None, f"{hit.url} does not reach a decoder"
    events = decode(hit)
    # Decoders may drop a well-formed message that is not an event (SDK housekeeping on an event
    # endpoint); an unreadable one must be listed, with the reason.
    if garbage and LISTS_EVENTS[id(found[0])]:
        where = f"{found[0].platform} {found[0].path}"
        assert events, f"{where}: a garbage hit was lost ({hit.method} {hit.url[:200]} {hit.body[:200]!r})"
        listed = [e for e in events if e.kind == Kind.event]
        assert not listed or any(e.decode_errors for e in listed), (
            f"{where}: garbage body decoded silently: {hit.body[:200]!r} {hit.headers}")
    return events


# ---------------------------------------------------------------- malformed bodies

# Wire keys of the vendors (query/form names and JSON members), so type-confused values reach
# the code that reads them rather than only the "unknown key" path.
WIRE_KEYS = (
    "id", "ev", "eid", "dl", "cd[value]", "cd[currency]", "cd[content_ids]", "cd[contents]", "ud[em]",
    "data", "event_name", "event_id", "event_time", "user_data", "custom_data", "test_event_code",
    "event", "context", "pixel", "code", "page", "url", "user", "properties", "contents", "value",
    "currency", "content_id", "content_ids", "price", "quantity", "pixel_code", "event_source_id",
    "tid", "ed", "pd", "ad", "line_items", "order_id", "em", "pids", "pid", "conversionId", "signalType",
    "scriptVersion", "hem", "conversion", "conversionValue", "amount", "currencyCode", "userIds",
    "txn_id", "events", "conversions", "identifiers", "conversion_id", "en", "v", "cid", "pr1", "ep.value",
    "epn.value", "cu", "label", "oid", "currency_code", "ts", "pl", "u_hem", "e_price", "m.value",
    "m.currency", "uuid", "action_source", "event_source_url", "elements", "conversionHappenedAt",
)

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                         st.text(max_size=20), st.sampled_from(["", "NaN", "1e999", "-0", "[]", "{}"]))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.sampled_from(WIRE_KEYS), st.text(max_size=8)),
                                            inner, max_size=6)),
    max_leaves=25,
)


def _json_bytes(value) -> bytes:
    return json.dumps(value, allow_nan=False).encode()


@st.composite
def broken_json(draw) -> bytes:
    text = _json_bytes(draw(st.dictionaries(st.sampled_from(WIRE_KEYS), json_values, min_size=1, max_size=6)))
    cut = draw(st.integers(1, max(1, len(text) - 1)))
    junk = draw(st.sampled_from([b"", b",", b"}", b"]]", b"\x00", b"'", b"NaN", b"{"]))
    return text[:cut] + junk


@st.composite
def bad_percent_form(draw) -> bytes:
    pairs = draw(st.lists(st.tuples(st.sampled_from(WIRE_KEYS),
                                    st.sampled_from(["%", "%z", "%zz", "%E9", "%C3%28", "%ff%fe", "%%",
                                                     "%u00e9", "a%2", "%5B", "%7B%22a%22%3A"])),
                          min_size=1, max_size=8))
    return "&".join(f"{k}={v}" for k, v in pairs).encode()


@st.composite
def invalid_utf8(draw) -> bytes:
    head = draw(st.sampled_from([b"", b"{\"event\":\"", b"ev=", b"id=1&ev=", b"["]))
    bad = draw(st.sampled_from([b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\x80"]))
    return head + draw(st.binary(max_size=40)) + bad + draw(st.binary(max_size=40))


@st.composite
def truncated_gzip(draw) -> bytes:
    packed = gzip.compress(_json_bytes(draw(json_values)))
    return packed[:draw(st.integers(0, len(packed) - 1))]


@st.composite
def deep_json(draw) -> bytes:
    depth = draw(st.integers(900, 5000))
    opener = draw(st.sampled_from([b"[", b'{"a":', b'{"data":[']))
    body = opener * depth
    if opener == b"[" and draw(st.booleans()):  # valid JSON, but deeper than the parser's recursion limit
        body += b"1" + b"]" * depth
    return body


Body = tuple[bytes, list[tuple[str, str]], bool]  # (body, extra headers, is garbage)

CONTENT_TYPES = ("application/json", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                 "multipart/form-data", "multipart/form-data; boundary=xyz", "image/gif",
                 "application/octet-stream", "text/html; charset=iso-8859-1", "", "application/json; charset=utf-16")


@st.composite
def malformed_body(draw) -> Body:
    """A malformed body with the headers it comes with; garbage=True when it cannot be read at all,
    so an event endpoint must report it."""
    kind = draw(st.sampled_from(["broken_json", "percent", "utf8", "gzip", "deep", "typed_json",
                                 "random", "b64gzip", "multipart"]))
    ctype = draw(st.sampled_from(CONTENT_TYPES))
    headers = [("content-type", ctype)] if ctype else []
    if kind == "broken_json":
        return draw(broken_json()), [("content-type", "application/json")], True
    if kind == "percent":
        return draw(bad_percent_form()), [("content-type", "application/x-www-form-urlencoded")], False
    if kind == "utf8":
        return draw(invalid_utf8()), [("content-type", "text/plain;charset=UTF-8")], True
    if kind == "gzip":
        return draw(truncated_gzip()), [("content-type", "application/json"), ("content-encoding", "gzip")], True
    if kind == "deep":
        return draw(deep_json()), [("content-type", "application/json")], True
    if kind == "typed_json":  # valid JSON, every member of a wrong or surprising type
        return _json_bytes(draw(json_values)), headers, False
    if kind == "b64gzip":  # LinkedIn-style base64 gzip, broken
        return b"H4sI" + draw(st.binary(max_size=60)), [("content-type", "text/plain;charset=UTF-8")], False
    if kind == "multipart":
        inner = draw(st.binary(max_size=80))
        body = b"--xyz\r\ncontent-disposition: form-data; name=\"ev\"\r\n\r\n" + inner + b"\r\n--xyz"
        return body, [("content-type", "multipart/form-data; boundary=xyz")], False
    return draw(st.binary(max_size=300)), headers, False


query_strings = st.one_of(
    st.text(max_size=200),
    st.lists(st.tuples(st.sampled_from(WIRE_KEYS),
                       st.one_of(st.text(max_size=30), json_values.map(json.dumps),
                                 st.sampled_from(["%", "%zz", "%E9", "[", "{\"", "%7B%22", "H4sI"]))),
             max_size=10).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)),
)


@st.composite
def fuzz_hit(draw, vendor: str) -> tuple[Route, RawHit, bool]:
    route = draw(st.sampled_from([r for r in ROUTES if r.platform == vendor]))
    host = draw(st.sampled_from(hosts_of(route)))
    path = draw(path_strategy(route))
    query = draw(query_strings)
    method = draw(st.sampled_from(["GET", "POST", "PUT", "OPTIONS", "HEAD"]))
    if draw(st.booleans()):
        body, headers, garbage = draw(malformed_body())
    else:
        body, headers, garbage = b"", [], False
    garbage = garbage and method == "POST"
    url = f"https://{host}{path}" + (f"?{query}" if query else "")
    return route, RawHit(method=method, url=url, body=body, headers=headers), garbage


# ---------------------------------------------------------------- tests


def test_every_vendor_module_contributes_routes():
    assert len(VENDORS) >= 1 and all(any(r.platform == v for r in ROUTES) for v in VENDORS)
    assert any(LISTS_EVENTS.values())


@pytest.mark.parametrize("vendor", VENDORS)
@settings(max_examples=EXAMPLES_PER_VENDOR, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_malformed_hits_never_crash_or_vanish(vendor, data):
    route, hit, garbage = data.draw(fuzz_hit(vendor))
    check_hit(route, hit, garbage)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.platform}:{r.path}")
def test_hundred_thousand_levels_of_nesting(route):
    path = simplest_path(route)
    host = hosts_of(route)[0]
    for body in (b"[" * 100_000, b'{"data":' * 100_000, b"[" * 100_000 + b"]" * 100_000):
        hit = RawHit(method="POST", url=f"https://{host}{path}", body=body,
                     headers=[("content-type", "application/json")])
        check_hit(route, hit, garbage=True)
    nested = "[" * 100_000
    query = "&".join(f"{k}={nested}" for k in ("ed", "pd", "ad", "event", "events", "cd[contents]", "data"))
    check_hit(route, RawHit(method="GET", url=f"https://{host}{path}?{query}"), garbage=False)


@pytest.fixture(scope="module")
def fifty_megabytes() -> bytes:
    return b'{"data":[{"event_name":"' + b"x" * (50 * 1024 * 1024)


def test_fifty_megabyte_body_on_every_route(fifty_megabytes):
    started = time.monotonic()
    for route in ROUTES:
        hit = RawHit(method="POST", url=f"https://{hosts_of(route)[0]}{simplest_path(route)}",
                     body=fifty_megabytes, headers=[("content-type", "application/json")])
        check_hit(route, hit, garbage=True)
    assert time.monotonic() - started < 30  # a huge body is cut, not parsed whole


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.platform}:{r.path}")
def test_truncated_gzip_and_wrong_content_types(route):
    url = f"https://{hosts_of(route)[0]}{simplest_path(route)}"
    packed = gzip.compress(b'{"event":"Purchase","data":[{"event_name":"Purchase"}]}')
    for cut in (0, 5, 10, len(packed) // 2, len(packed) - 4):
        check_hit(route, RawHit(method="POST", url=url, body=packed[:cut],
                                headers=[("content-type", "application/json"), ("content-encoding", "gzip")]),
                  garbage=cut > 0)
    for ctype in CONTENT_TYPES:
        check_hit(route, RawHit(method="POST", url=url, body=b"\x89PNG\r\n\x1a\n\x00\x00\xff\xd8",
                                headers=[("content-type", ctype)] if ctype else []), garbage=True)
