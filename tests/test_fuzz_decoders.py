"""Fuzzing every decoder route with malformed hits: decoders are total.

Routes come from the vendor modules the registry is built from, so a new vendor is fuzzed with no
change here. For every route: URLs from its hosts and paths generated from its path regex, then
invalid JSON, bad percent-encoding, truncated gzip, invalid UTF-8, deep nesting, type-confused JSON,
wrong content types and random query strings. Asserted: no exception, no "decoder error:" (an
exception that escaped the decoder's own handling), JSON-serialisable events; and on an event
endpoint (a route that lists an event for a bare hit — not telemetry or cookie syncs), an unreadable
body yields ≥ 1 event carrying a decode error: never silence.

Examples per vendor: 200 by default (fast, CI); HYPOTHESIS_PROFILE=long runs 10,000 per vendor.
"""

from __future__ import annotations

import gzip
import importlib
import json
import os
import random
import time
from re import _constants as _c, _parser  # the stdlib regex parser: shortest path of a route

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from pixelspy.decoders import Route, default_registry, vendor_modules
from pixelspy.model import Kind, RawHit, TrackingEvent

EVENT_JSON = TypeAdapter(TrackingEvent)

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
settings.register_profile("long", max_examples=10_000, deadline=None)
if LONG:
    settings.load_profile("long")
EXAMPLES_PER_VENDOR = 10_000 if LONG else 200

ROUTES: list[Route] = [r for name in vendor_modules()
                       for r in importlib.import_module(f"pixelspy.decoders.{name}").ROUTES]
VENDORS = sorted({r.platform for r in ROUTES})
REGISTRY = default_registry()
ANY_HOSTS = ("www.example.com", "sgtm.shop.example")  # for path-only routes (GA4's /g/collect)

def sample_path(route: Route, rng: random.Random | None = None) -> str:
    """A path the route's regex matches, read off the stdlib's own regex parser: the shortest one,
    or with `rng` a random one (repeat counts, alternatives and characters drawn)."""
    path = _sample(_parser.parse(route.path), rng)
    assert route.match(path), (route.path, path)
    return path


def _sample(parsed, rng: random.Random | None) -> str:
    out = []
    for op, arg in parsed:
        if op is _c.LITERAL:
            out.append(chr(arg))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            low, high, sub = arg
            count = min(high, low + rng.randint(0, 2)) if rng else low
            out.extend(_sample(sub, rng) for _ in range(count))
        elif op is _c.SUBPATTERN:
            out.append(_sample(arg[-1], rng))
        elif op is _c.BRANCH:
            out.append(_sample(rng.choice(arg[1]) if rng else arg[1][0], rng))
        elif op is _c.IN:
            out.append(_one_char(arg, rng))
        elif op in (_c.NOT_LITERAL, _c.ANY):
            excluded = {chr(arg)} if op is _c.NOT_LITERAL else {"/"}
            out.append(_pick([ch for ch in PATH_CHARS if ch not in excluded], rng))
    return "".join(out)


PATH_CHARS = "0a9Z-_."  # what real tracking paths contain; the shortest path takes the first


def _pick(chars, rng: random.Random | None) -> str:
    return rng.choice(chars) if rng else chars[0]


def _one_char(items, rng: random.Random | None) -> str:
    """A character of a class such as [A-Za-z_], \\d or [^/]."""
    if items[0][0] is _c.NEGATE:
        excluded = {chr(arg) for op, arg in items[1:] if op is _c.LITERAL}
        return _pick([ch for ch in PATH_CHARS if ch not in excluded], rng)
    op, arg = rng.choice(items) if rng else items[0]
    if op is _c.LITERAL:
        return chr(arg)
    if op is _c.RANGE:
        return chr(rng.randint(*arg) if rng else arg[0])
    return _pick("0123456789" if arg is _c.CATEGORY_DIGIT else "abcXYZ_", rng)


def hosts_of(route: Route) -> tuple[str, ...]:
    return route.hosts or ANY_HOSTS


def decode(hit: RawHit) -> list[TrackingEvent]:
    events = REGISTRY.decode(hit)
    for ev in events:
        crashes = [e for e in ev.decode_errors if e.startswith("decoder error:")]
        assert not crashes, f"{hit.method} {hit.url[:200]}: {crashes}"
        # What --no-ui prints (UTF-8 JSON lines) must not fail, whatever bytes the hit carried.
        json.dumps(ev.json_line(), ensure_ascii=False).encode("utf-8")
        EVENT_JSON.dump_json(ev)  # every field serialises
    return events


def _lists_events(route: Route) -> bool:
    """Event endpoints list an event even for a bare hit; SDK telemetry and cookie syncs do not."""
    hit = RawHit(method="GET", url=f"https://{hosts_of(route)[0]}{sample_path(route)}")
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

# Bulky contents come from a seeded random.Random that hypothesis draws (cheap, reproducible);
# hypothesis itself picks the structure: route, path, method, body kind, content type.
SCALARS = (None, True, False, 0, -1, 2**63, 1.5, -0.0, 1e308, "", "0", "49.90", "NaN", "1e999", "[]", "{}",
           "[\"", "%zz", "%E9", "H4sI", "é€😀", "\x00", "a" * 300,
           "cut \ud83d", "\ude00 half")  # lone surrogates: JSON escapes them, a JS cut inside an emoji
TEXT_POOLS = (
    [chr(c) for c in range(32, 127)],  # printable ASCII, incl. % & = [ { " +
    list("%&=[]{}\"+;#?") + ["%zz", "%E9", "%C3%28", "%", "%%"],  # the characters parsers trip over
    [chr(c) for c in (0, 9, 10, 13, 0x7F, 0xE9, 0x2028, 0xFEFF, 0xFFFD, 0x1F600)],
)


def rand_text(rng: random.Random, max_len: int) -> str:
    pool = rng.choice(TEXT_POOLS)
    return "".join(rng.choice(pool) for _ in range(rng.randint(0, max_len)))


def json_value(rng: random.Random, depth: int = 0):
    roll = rng.random()
    if depth >= 4 or roll < 0.4:
        return rng.choice(SCALARS) if rng.random() < 0.7 else rand_text(rng, 12)
    if roll < 0.65:
        return [json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {(rng.choice(WIRE_KEYS) if rng.random() < 0.8 else rand_text(rng, 6)): json_value(rng, depth + 1)
            for _ in range(rng.randint(0, 6))}


def json_bytes(value) -> bytes:
    return json.dumps(value).encode()


def broken_json(rng: random.Random) -> bytes:
    text = json_bytes({rng.choice(WIRE_KEYS): json_value(rng, 1) for _ in range(rng.randint(1, 6))})
    return text[:rng.randint(1, len(text) - 1)] + rng.choice([b"", b",", b"}", b"]]", b"\x00", b"'", b"NaN", b"{"])


def bad_percent_form(rng: random.Random) -> bytes:
    bad = ["%", "%z", "%zz", "%E9", "%C3%28", "%ff%fe", "%%", "%u00e9", "a%2", "%5B", "%7B%22a%22%3A"]
    return "&".join(f"{rng.choice(WIRE_KEYS)}={rng.choice(bad)}" for _ in range(rng.randint(1, 8))).encode()


def invalid_utf8(rng: random.Random) -> bytes:
    head = rng.choice([b"", b'{"event":"', b"ev=", b"id=1&ev=", b"["])
    bad = rng.choice([b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\x80"])
    return head + rng.randbytes(rng.randint(0, 40)) + bad + rng.randbytes(rng.randint(0, 40))


def truncated_gzip(rng: random.Random) -> bytes:
    packed = gzip.compress(json_bytes(json_value(rng)))
    # Cut before the 8-byte trailer and the last deflate byte: what inflates is really incomplete.
    # Not to nothing: an empty body is no body, whatever its Content-Encoding says (nothing is lost).
    return packed[:rng.randint(1, max(1, len(packed) - 10))]


def deep_json(rng: random.Random) -> bytes:
    # Never closed, up to several times the parser's recursion limit: it must give up, not crash.
    return rng.choice([b"[", b'{"a":', b'{"data":[']) * rng.randint(900, 5000)


Body = tuple[bytes, list[tuple[str, str]], bool]  # (body, headers, garbage: cannot be read at all)

CONTENT_TYPES = ("application/json", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                 "multipart/form-data", "multipart/form-data; boundary=xyz", "image/gif",
                 "application/octet-stream", "text/html; charset=iso-8859-1", "", "application/json; charset=utf-16")
JSON = [("content-type", "application/json")]
BEACON = [("content-type", "text/plain;charset=UTF-8")]


def malformed_body(kind: str, ctype: str, rng: random.Random) -> Body:
    """A malformed body of one kind with the headers it comes with."""
    if kind == "broken_json":
        return broken_json(rng), JSON, True
    if kind == "percent":
        return bad_percent_form(rng), [("content-type", "application/x-www-form-urlencoded")], False
    if kind == "utf8":
        return invalid_utf8(rng), BEACON, True
    if kind == "gzip":
        return truncated_gzip(rng), [*JSON, ("content-encoding", "gzip")], True
    if kind == "deep":
        return deep_json(rng), JSON, True
    headers = [("content-type", ctype)] if ctype else []
    if kind == "typed_json":  # valid JSON, members of wrong or surprising types, any content type
        return json_bytes(json_value(rng)), headers, False
    if kind == "b64gzip":  # LinkedIn-style base64 gzip, broken
        return b"H4sI" + rng.randbytes(rng.randint(0, 60)), BEACON, False
    if kind == "multipart":
        body = b'--xyz\r\ncontent-disposition: form-data; name="ev"\r\n\r\n' + rng.randbytes(80) + b"\r\n--xyz"
        return body, [("content-type", "multipart/form-data; boundary=xyz")], False
    return rng.randbytes(rng.randint(0, 300)), headers, False


BODY_KINDS = ("none", "broken_json", "percent", "utf8", "gzip", "deep", "typed_json", "b64gzip", "multipart",
              "random")


def random_query(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return rand_text(rng, 200)
    values = (lambda: rand_text(rng, 30), lambda: json.dumps(json_value(rng)),
              lambda: rng.choice(["%", "%zz", "%E9", "[", '{"', "%7B%22", "H4sI", ""]))
    return "&".join(f"{rng.choice(WIRE_KEYS)}={rng.choice(values)()}" for _ in range(rng.randint(0, 8)))


@st.composite
def fuzz_hit(draw, vendor: str) -> tuple[Route, RawHit, bool]:
    route = draw(st.sampled_from([r for r in ROUTES if r.platform == vendor]))
    host = draw(st.sampled_from(hosts_of(route)))
    rng = draw(st.randoms(use_true_random=True))
    path = sample_path(route, rng)
    method = draw(st.sampled_from(["GET", "POST", "PUT", "OPTIONS", "HEAD"]))
    kind = draw(st.sampled_from(BODY_KINDS))
    ctype = draw(st.sampled_from(CONTENT_TYPES))
    query = random_query(rng)
    body, headers, garbage = malformed_body(kind, ctype, rng) if kind != "none" else (b"", [], False)
    url = f"https://{host}{path}" + (f"?{query}" if query else "")
    return route, RawHit(method=method, url=url, body=body, headers=headers), garbage and method == "POST"


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
    path = sample_path(route)
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
        hit = RawHit(method="POST", url=f"https://{hosts_of(route)[0]}{sample_path(route)}",
                     body=fifty_megabytes, headers=[("content-type", "application/json")])
        check_hit(route, hit, garbage=True)
    assert time.monotonic() - started < 30  # a huge body is cut, not parsed whole


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.platform}:{r.path}")
def test_truncated_gzip_and_wrong_content_types(route):
    url = f"https://{hosts_of(route)[0]}{sample_path(route)}"
    packed = gzip.compress(b'{"event":"Purchase","data":[{"event_name":"Purchase"}]}')
    for cut in (0, 5, 10, len(packed) // 2, len(packed) - 10):
        check_hit(route, RawHit(method="POST", url=url, body=packed[:cut],
                                headers=[("content-type", "application/json"), ("content-encoding", "gzip")]),
                  garbage=cut > 0)
    for ctype in CONTENT_TYPES:
        check_hit(route, RawHit(method="POST", url=url, body=b"\x89PNG\r\n\x1a\n\x00\x00\xff\xd8",
                                headers=[("content-type", ctype)] if ctype else []), garbage=True)
