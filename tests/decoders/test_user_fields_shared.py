"""User data repeats on every hit of a session: one UserField is shared between the events that
carry the same field, so a stored event adds no object for the collector to walk per field."""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from pixelspy.decoders import default_registry
from pixelspy.decoders.wire import labels
from pixelspy.model import RawHit, UserField

PIXEL = "1234567890123456"
EM = hashlib.sha256(b"jane@example.com").hexdigest()
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


def meta_user_data(**ud: str) -> tuple[UserField, ...]:
    """The user data of a fbevents.js PageView GET carrying `ud[...]` fields."""
    query = urlencode([("id", PIXEL), ("ev", "PageView"), ("dl", "https://shop.example/"),
                       *((f"ud[{k}]", v) for k, v in ud.items())])
    hit = RawHit(method="GET", url=f"https://www.facebook.com/tr/?{query}", headers=[("user-agent", CHROME)])
    [event] = default_registry().decode(hit)
    return event.user_data


def test_the_same_field_on_two_hits_is_one_shared_object():
    first, second = meta_user_data(em=EM, fn="jane"), meta_user_data(em=EM, fn="jane")
    assert first == (UserField("em", "ud[em]", True, EM), UserField("fn", "ud[fn]", False, "jane"))
    assert all(a is b for a, b in zip(first, second, strict=True))


def test_another_value_or_wire_name_is_another_field():
    [em] = meta_user_data(em=EM)
    [other] = meta_user_data(em=EM[::-1])
    assert other == UserField("em", "ud[em]", True, EM[::-1]) and other is not em
    app = labels.user_field("ud.em", "em", EM)
    assert app == UserField("em", "ud.em", True, EM) and app is not em


def test_a_list_is_hashed_only_when_every_item_is():
    # the joined text is no digest: judged item by item, never from a shared single value
    assert labels.user_field("em", "em", [EM, EM]) == UserField("em", "em", True, f"{EM},{EM}")
    assert labels.user_field("em", "em", [EM, "jane@example.com"]).hashed is False


def test_the_table_is_bounded_against_endless_new_values(monkeypatch):
    monkeypatch.setattr(labels, "_MAX_SHARED_PARAMS", 8)
    monkeypatch.setattr(labels, "_shared_users", {})
    fields = [labels.user_field("ud[external_id]", "external_id", f"user-{i}") for i in range(50)]
    assert [f.value for f in fields] == [f"user-{i}" for i in range(50)]
    assert len(labels._shared_users) <= 8
    long_value = "x" * (labels._MAX_SHARED_VALUE_LEN + 1)
    assert labels.user_field("ud[external_id]", "external_id", long_value).value == long_value
    assert ("external_id", "ud[external_id]", long_value) not in labels._shared_users
