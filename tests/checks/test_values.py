"""invalid-value for placeholders: literal undefined / null / NaN / [object Object] where page code
meant a variable's value, through the real decoders (real shops' bugs: spec §9)."""

from __future__ import annotations

from urllib.parse import quote

from pixelspy import decoders
from pixelspy.model import RawHit, Severity
from tests.checks.helpers import codes, engine, meta_hit, the


def run(ev):
    engine().process(ev)
    return ev


def test_catalog_field_placeholder_on_a_catalog_event_is_a_warning():
    # A Purchase whose tag template read content_type and the product IDs from unset variables.
    ev = run(meta_hit(ev="Purchase", **{"cd[value]": "49.90", "cd[currency]": "EUR", "cd[content_type]": "undefined",
                                        "cd[content_ids]": '["undefined"]'}))
    f = the(ev, "invalid-value")
    assert f.severity == Severity.warning
    assert "cd[content_type]='undefined'" in f.message and "content ID='undefined'" in f.message
    assert "catalog ads" in f.hint


def test_object_turned_into_text_is_found_inside_a_value():
    ev = run(meta_hit(ev="ViewContent", **{"cd[content_name]": "[object Object]", "cd[content_ids]": '["sku-1"]',
                                           "cd[content_type]": "product"}))
    assert the(ev, "invalid-value").severity == Severity.warning
    ev = run(meta_hit(ev="PageView", **{"cd[page_path]": "/p?x=[object Object]"}))
    assert the(ev, "invalid-value").severity == Severity.info


def test_unset_template_fields_on_a_page_view_are_a_note():
    # GTM templates serialise unset fields on page views: GA4 `ep.*=undefined`.
    hit = RawHit(method="GET", url="https://www.google-analytics.com/g/collect?v=2&tid=G-SHOPDEMO42&cid=1.2"
                 "&en=page_view&dl=https%3A%2F%2Fshop.example%2F&ep.page_category=undefined&ep.login_state=null")
    (ev,) = decoders.decode(hit)
    f = the(run(ev), "invalid-value")
    assert f.severity == Severity.info
    assert "ep.page_category='undefined'" in f.message and "ep.login_state='null'" in f.message


def test_dedup_key_placeholder_is_a_warning_everywhere():
    ev = run(meta_hit(ev="Lead", eid="undefined"))
    f = the(ev, "invalid-value")
    assert f.severity == Severity.warning and "eid='undefined'" in f.message and "deduplication" in f.hint


def test_value_and_currency_stay_with_the_params_check():
    # cd[currency]=undefined: invalid-currency (error), not a second finding for the same parameter.
    ev = run(meta_hit(ev="Purchase", **{"cd[value]": "10", "cd[currency]": "undefined", "cd[content_ids]": '["a"]',
                                        "cd[content_type]": "product"}))
    assert "invalid-currency" in codes(ev) and "invalid-value" not in codes(ev)
    # A NaN value and an undefined event ID: one invalid-value finding, the params check's error kept.
    ev = run(meta_hit(ev="Purchase", eid="undefined", **{"cd[value]": "NaN", "cd[currency]": "EUR",
                                                         "cd[content_ids]": '["a"]', "cd[content_type]": "product"}))
    f = the(ev, "invalid-value")
    assert f.severity == Severity.error
    assert "'NaN'" in f.message and "eid='undefined'" in f.message


def test_real_values_are_not_placeholders():
    for value in ("null-island", "NaNa's shop", "undefined behaviour (book)", "0", "false", ""):
        ev = run(meta_hit(ev="ViewContent", **{"cd[content_name]": value, "cd[content_ids]": '["sku-1"]',
                                               "cd[content_type]": "product"}))
        assert "invalid-value" not in codes(ev), value
    # X's legacy page view carries a JSON null inside its event list: not a placeholder value.
    (ev,) = decoders.decode(RawHit(method="GET", url="https://analytics.twitter.com/i/adsct?p_id=Twitter&txn_id=abc12"
                                   "&events=" + quote('[["pageview",null]]')))
    assert "invalid-value" not in codes(run(ev))
