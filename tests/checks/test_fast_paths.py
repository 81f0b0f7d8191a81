"""The checks' fast paths against the plain definitions they stand for.

Recent skips pruning when nothing can have expired, Context.replace edits the findings list in one
pass, the cached parameter map and value text serve every check of one event: each must behave
exactly as the simple version (kept here as the reference), whatever the order of times or findings.
"""

from __future__ import annotations

from collections import OrderedDict
from urllib.parse import parse_qsl, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from pixelspy.checks import Context
from pixelspy.checks.pii import phone_named, phone_query_texts
from pixelspy.checks.rules import params, values_text
from pixelspy.checks.state import Recent
from pixelspy.checks.values import hashed_placeholder, is_placeholder, value_rules
from pixelspy.model import Finding, Param, Severity, TrackingEvent


class PlainRecent:
    """Recent as first written: prune on every put by looking at the oldest entry."""

    def __init__(self, max_age: float, max_entries: int):
        self.max_age, self.max_entries = max_age, max_entries
        self._items: OrderedDict = OrderedDict()

    def get(self, key, now):
        item = self._items.get(key)
        return None if item is None or now - item[0] > self.max_age else item[1]

    def put(self, key, value, now):
        self._items[key] = (now, value)
        self._items.move_to_end(key)
        items = self._items
        while items and (len(items) > self.max_entries or now - next(iter(items.values()))[0] > self.max_age):
            items.popitem(last=False)

    def setdefault(self, key, default, now):
        value = self.get(key, now)
        value = default if value is None else value
        self.put(key, value, now)
        return value

    def pop(self, key):
        item = self._items.pop(key, None)
        return item[1] if item else None


ops = st.lists(st.tuples(st.sampled_from(["get", "put", "put", "setdefault", "renew", "pop", "clear"]),
                         st.integers(0, 4),  # key
                         st.integers(0, 24).map(lambda t: t / 2)),  # time, in or out of order
               max_size=60)


@settings(max_examples=1000, deadline=None)
@given(ops=ops, max_age=st.sampled_from([0.5, 2.0, 10.0]), max_entries=st.integers(1, 5))
def test_recent_matches_pruning_on_every_put(ops, max_age, max_entries):
    fast, plain = Recent(max_age, max_entries), PlainRecent(max_age, max_entries)
    for i, (op, key, now) in enumerate(ops):
        if op == "get":
            assert fast.get(key, now) == plain.get(key, now)
        elif op == "put":
            fast.put(key, i, now)
            plain.put(key, i, now)
        elif op == "setdefault":
            assert fast.setdefault(key, i, now) == plain.setdefault(key, i, now)
        elif op == "renew":  # a get then a put of the key
            assert fast.renew(key, now) == plain.get(key, now)
            fast.store(key, i)
            plain.put(key, i, now)
        elif op == "pop":
            assert fast.pop(key) == plain.pop(key)
        else:
            fast.clear()
            plain._items.clear()
        assert list(fast.items()) == [(k, v) for k, (_, v) in plain._items.items()]


def reference_replace(ctx: Context, event, new: Finding) -> None:
    """replace as retract + emit: old findings of the code go, the new one is appended."""
    if any(old.code == new.code and old != new for old in event.findings):
        kept = tuple(f for f in event.findings if f.code != new.code)
        if len(kept) != len(event.findings):
            event.findings = kept
            ctx.changed.add(event.id)
    ctx.emit(event, new)


findings = st.builds(Finding, code=st.sampled_from(["a", "b"]), severity=st.just(Severity.info),
                     message=st.sampled_from(["m", "n"]),
                     related=st.lists(st.sampled_from(["e1", "e2"]), max_size=2))


@settings(max_examples=500, deadline=None)
@given(start=st.lists(findings, max_size=4), new=findings, silenced=st.sampled_from([set(), {"a"}]))
def test_replace_matches_retract_then_emit(start, new, silenced):
    fast_event = TrackingEvent(platform="meta", findings=list(start))
    plain_event = TrackingEvent(platform="meta", id=fast_event.id, findings=list(start))
    fast_ctx, plain_ctx = Context(silenced), Context(silenced)
    fast_ctx.replace(fast_event, new)
    reference_replace(plain_ctx, plain_event, new)
    assert fast_event.findings == plain_event.findings
    assert fast_ctx.changed == plain_ctx.changed


@given(pairs=st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.text(max_size=3)), max_size=6))
def test_parameter_map_is_first_value_per_name_and_text_holds_every_value(pairs):
    event = TrackingEvent(platform="meta", params=[Param(name, value) for name, value in pairs])
    first: dict[str, str] = {}
    for name, value in pairs:
        first.setdefault(name, value)
    assert params(event) == first and list(params(event)) == list(first)
    assert values_text(event) == "\n".join(value for _, value in pairs)
    other = TrackingEvent(platform="meta", params=[Param("z", "1")])
    assert params(other) == {"z": "1"} and values_text(other) == "1"  # a new event is never served stale


# Values near the placeholders: the words, macros of every spelling, with spaces and text around them.
placeholder_like = st.one_of(
    st.sampled_from(["undefined", "null", "NaN", "[object Object]", "[OrderID]", "{{ value }}", "${orderId}",
                     "%%ORDER_ID%%", "<ORDER_ID>", "{transaction_id}", "[true]", '{"a":1}', "42.00", ""]),
    st.text(alphabet="[]{}$%<>_ aZ.-\t\u00a0", max_size=12))


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.tuples(st.text(max_size=3), placeholder_like, st.text(max_size=3)), max_size=4))
def test_one_search_of_all_values_finds_every_placeholder_the_values_hold(values):
    table = value_rules()
    values = [f"{before}{value}{after}" for before, value, after in values]
    if any(is_placeholder(v, table) for v in values):
        assert table.anywhere.search("\n".join(values))


def plain_phone_query_texts(page_url: str) -> tuple[tuple[str, str], ...]:
    """phone_query_texts without its shortcut: every query parsed."""
    query = urlsplit(page_url).query
    return tuple((f"page URL ?{k}", v) for k, v in parse_qsl(query, errors="replace") if phone_named(k))


@settings(max_examples=1000, deadline=None)
@given(parts=st.lists(st.one_of(
    st.sampled_from(["phone", "Tel", "PH", "cell", "msisdn", "%70h", "p%68one", "%50H", "ph%6Fne", "\u212a", "\u0130",
                     "p\thone", "t\nel", "ph\r", "#", "mobile", "telephone"]),
    st.text(alphabet="phonetlmbicsdgPHTK&=+%_-.;#? 0123456789", max_size=6)), max_size=6))
def test_a_query_passed_over_has_no_phone_named_parameter(parts):
    url = f"https://shop.example/p?{''.join(parts)}"
    assert phone_query_texts(url) == plain_phone_query_texts(url)


def plain_hashed_placeholder(value: str) -> str | None:
    """hashed_placeholder without its shortcut: every value split at commas."""
    table = value_rules()
    return next((table.hashed[p.strip()] for p in value.lower().split(",") if p.strip() in table.hashed), None)


UNDEFINED_SHA = "eb045d78d273107348b0300c01d29b7552d622abbc6faf81b3ec55359aa9950c"


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.sampled_from([UNDEFINED_SHA, UNDEFINED_SHA.upper(), f" {UNDEFINED_SHA}", "abc", "", " "]),
                      min_size=1, max_size=3))
def test_a_hashed_placeholder_read_without_splitting_is_the_one_split_reads(parts):
    value = ",".join(parts)
    assert hashed_placeholder(value, value_rules()) == plain_hashed_placeholder(value)
