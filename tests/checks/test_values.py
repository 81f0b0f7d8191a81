"""invalid-value for placeholders: literal undefined / null / NaN / [object Object] where page code
meant a variable's value, through the real decoders (real shops' bugs: spec §9)."""

from __future__ import annotations

import hashlib
import json
import tomllib
from importlib import resources
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


# --- hashed placeholders: user data that is the hash of an unset variable

UNDEFINED_SHA = "eb045d78d273107348b0300c01d29b7552d622abbc6faf81b3ec55359aa9950c"  # sha256("undefined")
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"  # md5("")
# www.veteransunited.com's PageView (Blacklight's test data, May 2020): the site's advanced matching
# hashed four variables that were never set.
VETERANS_PAGEVIEW = (
    "https://www.facebook.com/tr/?id=528493550579561&ev=PageView&dl=https%3A%2F%2Fwww.veteransunited.com%2F"
    "copyright%2F&rl=&if=false&ts=1589758747291&sw=375&sh=812"
    f"&ud[ph]={UNDEFINED_SHA}&ud[fn]={UNDEFINED_SHA}&ud[ln]={UNDEFINED_SHA}&ud[zp]={UNDEFINED_SHA}"
    "&v=2.9.18&r=stable&ec=0&o=60&fbp=fb.1.1589758702127.1000000000&it=1589758746785&coo=false&rqm=GET")
JANE_SHA = "f1e8f9b7a2a4e4d1b9e5b2d2c3f0a6e0d6b1a4c3e2f1d0c9b8a7f6e5d4c3b2a1"  # a real-looking digest


def decoded(hit: RawHit):
    (ev,) = decoders.decode(hit)
    return run(ev)


def test_the_hash_of_undefined_in_meta_user_data_is_a_warning():
    ev = decoded(RawHit(method="GET", url=VETERANS_PAGEVIEW, headers=(("accept", "image/*"),)))
    f = the(ev, "invalid-value")
    assert f.severity == Severity.warning
    assert 'ud[ph] = the SHA-256 hash of "undefined"' in f.message and "ud[zp]" in f.message
    assert "matching on this field is lost" in f.hint


def test_a_hashed_placeholder_with_spaces_around_it_is_a_warning_too():
    # A shop's template wrote the digest with a space before it; it was hashed all the same.
    ev = decoded(RawHit(method="GET", url=VETERANS_PAGEVIEW.replace(f"ud[ph]={UNDEFINED_SHA}", f"ud[ph]=%20{UNDEFINED_SHA}%20"),
                        headers=(("accept", "image/*"),)))
    assert 'ud[ph] = the SHA-256 hash of "undefined"' in the(ev, "invalid-value").message


def test_hashed_placeholders_of_other_vendors():
    # TikTok's pixel: context.user.email is the hash of the trimmed, lower-cased "[object Object]".
    body = {"event": "CompletePayment", "event_id": "o-1", "message_id": "messageId-1782755533505-1-C1234567890",
            "timestamp": "2026-06-29T17:52:13.505Z",
            "context": {"pixel": {"code": "C1234567890"}, "page": {"url": "https://shop.example/thanks"},
                        "user": {"email": "c9a560c74de368dcd2e6ac5544ad12a9afd32584b71a52147303479f726e0408",
                                 "phone_number": JANE_SHA}},
            "properties": {"currency": "EUR", "value": "99.95", "content_type": "product",
                           "contents": [{"content_id": "119", "quantity": 1}]}}
    ev = decoded(RawHit(method="POST", url="https://analytics.tiktok.com/api/v2/pixel",
                        headers=(("content-type", "text/plain;charset=UTF-8"),), body=json.dumps(body).encode()))
    f = the(ev, "invalid-value")
    assert f.severity == Severity.warning and 'the SHA-256 hash of "[object object]"' in f.message
    assert "phone_number" not in f.message
    # Pinterest's tag with an MD5 email (which Pinterest accepts) of an empty string.
    ev = decoded(RawHit(method="GET", url="https://ct.pinterest.com/v3/?event=checkout&tid=2612345678901"
                        "&ed=%7B%22value%22%3A116%2C%22currency%22%3A%22USD%22%2C%22order_id%22%3A%22A-1%22%7D"
                        f"&pd=%7B%22em%22%3A%22{EMPTY_MD5}%22%7D&cb=1583868246432"))
    assert 'the MD5 hash of ""' in the(ev, "invalid-value").message
    # … and its init (pintrk('load', tid, {em: …})), whose user data Pinterest matches on as well.
    ev = decoded(RawHit(method="GET", url="https://ct.pinterest.com/v3/?tid=2616391205865&event=init"
                        f"&pd=%7B%22em%22%3A%22{UNDEFINED_SHA}%22%2C%22np%22%3A%22plain%22%7D&cb=1579112016412"))
    assert the(ev, "invalid-value").severity == Severity.warning


def test_hashed_placeholders_in_snapchat_form_posts():
    # An older Snapchat pixel's PAGE_VIEW form POST (Omnibug's test data) whose u_hpn is sha256("null").
    body = ("pid=2f1ab6f1-6d3f-4c5c-a6b1-2a3b4c5d6e7f&ev=PAGE_VIEW&pl=https%3A%2F%2Fomnibug.io%2F&ts=1583875341291"
            f"&rf=&v=1.4&if=false&bt=__LIVE__&u_hem={JANE_SHA}"
            "&u_hpn=74234e98afe7498fb5daf1f36ac2d78acc339464f950703b8c019892f982b90b")
    ev = decoded(RawHit(method="POST", url="https://tr.snapchat.com/p", body=body.encode(),
                        headers=(("content-type", "application/x-www-form-urlencoded"),)))
    f = the(ev, "invalid-value")
    assert f.message.endswith('u_hpn = the SHA-256 hash of "null"') and "u_hem" not in f.message


def test_the_vendors_base_code_placeholder_hashed_as_the_visitors_email():
    # Sites that pasted the vendor's base code without filling in its email placeholder (The Markup's
    # Blacklight scans): Snapchat's '__INSERT_USER_EMAIL__', hashed lower-cased by scevent.min.js and
    # sent with its FFF prefix (www.plannedparenthood.org, 2021), and Pinterest's
    # '<user_email_address>' on the tag's init (www.nevadahealthlink.com, 2025).
    body = ("pid=e28abec5-490a-43ca-a207-2bb7cf6e0a47&ev=PAGE_VIEW&pl=https%3A%2F%2Fwww.plannedparenthood.org%2F"
            "&ts=1634566020988&rf=&v=1.5&if=false&bt=a2fcad0b"
            "&u_hem=FFF7b7416ec1f35b8a794c92887c2c62529b2179b6fa911173803c59c0c463ba572"
            "&u_c1=89416a63-dbe3-4ee3-bba2-67f50b37dd4a&m_sl=2418&m_rd=4119&m_pi=857&m_pl=3318&m_ic=0")
    ev = decoded(RawHit(method="POST", url="https://tr.snapchat.com/p", body=body.encode(),
                        headers=(("content-type", "application/x-www-form-urlencoded"),)))
    f = the(ev, "invalid-value")
    assert f.severity == Severity.warning and f.message.endswith('u_hem = the SHA-256 hash of "__insert_user_email__"')
    assert "invalid-hash" not in codes(ev)
    ev = decoded(RawHit(method="GET", url="https://ct.pinterest.com/v3/?tid=2613373493470&pd=%7B%22em%22%3A%22"
                        "24aba99b2defbb47ee981b4200313f61f3ae31541d8717bdac1e463c838939b0%22%7D&event=init"
                        "&ad=%7B%22loc%22%3A%22https%3A%2F%2Fwww.nevadahealthlink.com%2F%22%7D&cb=1745853804786"))
    assert 'the SHA-256 hash of "<user_email_address>"' in the(ev, "invalid-value").message


def test_the_table_of_hashes_is_what_its_texts_hash_to():
    table = tomllib.loads(resources.files("pixelspy.checks").joinpath("values.toml").read_text("utf-8"))
    for h in table["hashed"]:
        assert h["sha256"] == hashlib.sha256(h["text"].encode()).hexdigest(), h["text"]
        assert h["md5"] == hashlib.md5(h["text"].encode()).hexdigest(), h["text"]


def test_real_hashed_user_data_is_no_placeholder():
    url = VETERANS_PAGEVIEW.replace(f"ud[ph]={UNDEFINED_SHA}&ud[fn]={UNDEFINED_SHA}&ud[ln]={UNDEFINED_SHA}"
                                    f"&ud[zp]={UNDEFINED_SHA}", f"ud[em]={JANE_SHA}")
    assert "invalid-value" not in codes(decoded(RawHit(method="GET", url=url)))


# --- macros never filled in

# ryanair.com's Floodlight sales tag (chrome-har's test log, Dec 2018), its order ID macro left in.
RYANAIR_SALE = ("https://adservice.google.com/ddm/fls/z/src=5259802;dc_pre=CJehs6aUyd8CFUbCsgod5RUN0Q;type=sales;"
                "cat=jsv4ssou;qty=1;cost=0;u1=;dc_lat=;dc_rdid=;tag_for_child_directed_treatment=;ord=[OrderID]")


def test_an_unfilled_order_id_macro_on_a_floodlight_sale_is_a_warning():
    f = the(decoded(RawHit(method="GET", url=RYANAIR_SALE)), "invalid-value")
    assert f.severity == Severity.warning and "ord='[OrderID]'" in f.message and "order ID" in f.hint
    # A counter's ord is a cache buster, not an order: a note.
    counter = RYANAIR_SALE.replace("type=sales;", "type=count;").replace("qty=1;cost=0;", "")
    assert the(decoded(RawHit(method="GET", url=counter)), "invalid-value").severity == Severity.info


def test_every_macro_spelling_is_found_where_the_event_needs_the_field():
    for macro in ("[OrderID]", "{{transaction_id}}", "%%ORDER_ID%%", "${orderId}", "<ORDER_ID>", "{transaction_id}"):
        ev = run(meta_hit(ev="Purchase", **{"cd[value]": "10", "cd[currency]": "EUR", "cd[content_ids]": '["a"]',
                                            "cd[content_type]": "product", "cd[order_id]": macro}))
        f = the(ev, "invalid-value")
        assert f.severity == Severity.warning and f"cd[order_id]={macro!r}" in f.message, macro


def test_json_and_text_with_brackets_are_no_macros():
    for value in ('[{"id":"sku-1","quantity":1}]', "[true]", "[null]", "{}", "[1]", "Rock [Live]", "<3 shoes",
                  "{a} and {b}", "[Sale] Shoes"):
        ev = run(meta_hit(ev="ViewContent", **{"cd[content_name]": value, "cd[contents]": value,
                                               "cd[content_ids]": '["sku-1"]', "cd[content_type]": "product"}))
        assert "invalid-value" not in codes(ev), value


def test_a_placeholder_pixel_id_is_one_finding_not_two():
    # izettle.se's legacy offsite-conversion pixel (fbds.js): id=null, the conversion's ID as ev.
    ev = run(meta_hit(id="null", ev="6020974733117", dl="https://www.izettle.com/se", fbp=None,
                      **{"cd[value]": "0.00", "cd[currency]": "SEK"}))
    [pixel] = [f for f in ev.findings if "'null'" in f.message]
    assert pixel.code == "invalid-pixel-id" and "invalid-value" not in codes(ev)
    # Another placeholder on the same hit is still named.
    ev = run(meta_hit(id="null", ev="6020974733117", fbp=None, **{"cd[content_name]": "null"}))
    assert "cd[content_name]='null'" in the(ev, "invalid-value").message and "id=" not in the(ev, "invalid-value").message
