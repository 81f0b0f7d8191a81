"""Personal data: plain emails/phones, broken hashes, hashes of un-normalised values."""

from __future__ import annotations

import hashlib

from pixelspy.model import Severity, UserField

from .helpers import codes, engine, event, meta_hit, the


def sha(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def test_plain_email_in_a_hashed_user_data_field():
    ev = meta_hit(ev="Lead", **{"ud[em]": "jane@example.com"})
    engine().process(ev)
    f = the(ev, "pii-leak")
    assert f.severity == Severity.error and f.message == "Meta hit carries unhashed personal data in ud[em]"


def test_hashed_user_data_is_fine():
    ev = meta_hit(ev="Lead", **{"ud[em]": sha("jane@example.com"), "ud[ph]": sha("4915112345678")})
    engine().process(ev)
    assert not codes(ev) & {"pii-leak", "invalid-hash", "unnormalised-hash"}


def test_email_in_the_page_url_or_custom_data():
    ev = meta_hit(ev="PageView", dl="https://shop.example/thanks?email=jane%40example.com&x=1",
                  **{"cd[customer]": "jane@example.com"})
    engine().process(ev)
    assert the(ev, "pii-leak").message == "Meta hit carries unhashed personal data in dl, cd[customer]"


def test_email_lookalikes_are_not_leaks():
    ev = meta_hit(ev="PageView", dl="https://shop.example/img/logo@2x.png", **{"cd[handle]": "@shop"})
    engine().process(ev)
    assert "pii-leak" not in codes(ev)


def test_phone_in_a_phone_named_parameter_but_not_other_numbers():
    ev = event("tiktok", event="SubmitForm", params={"properties.phone_number": "+49 151 1234 5678"},
               page_url="https://shop.example/?tel=004915112345678")
    engine().process(ev)
    assert the(ev, "pii-leak").message == ("TikTok hit carries unhashed personal data in page URL ?tel, "
                                           "properties.phone_number")
    ev = event("tiktok", event="SubmitForm", params={"properties.order_number": "4915112345678",
                                                     "timestamp": "1700000000000"})
    engine().process(ev)
    assert "pii-leak" not in codes(ev)


def test_names_linkedin_sends_plain_by_design_are_not_leaks():
    ev = event("linkedin", pixel_id="123456", user_data=[
        UserField(key="fn", name="user.userInfo.firstName", hashed=False, value="Jane")])
    engine().process(ev)
    assert "pii-leak" not in codes(ev)
    ev = event("meta", event="Lead", user_data=[UserField(key="fn", name="ud[fn]", hashed=False, value="Jane")])
    engine().process(ev)
    assert "pii-leak" in codes(ev)


def test_hash_like_values_that_are_not_sha256_hex():
    md5 = hashlib.md5(b"jane@example.com").hexdigest()
    ev = meta_hit(ev="Lead", **{"ud[em]": md5})
    engine().process(ev)
    f = the(ev, "invalid-hash")
    assert f.severity == Severity.warning and f.message == "Meta ud[em] is not a SHA-256 hex hash"
    assert "pii-leak" not in codes(ev)
    b64 = "9Jx2HcQ0e9oM0wCSXqg0p1Wn8tJ6Vq3u5ZpZ1gk1aE8="
    ev = meta_hit(ev="Lead", **{"ud[ph]": b64})
    engine().process(ev)
    assert "invalid-hash" in codes(ev)


def test_hash_of_the_unnormalised_value_when_the_plain_value_is_visible():
    raw = " Jane@Example.com"
    ev = event("tiktok", event="SubmitForm", params={"properties.contact": raw.strip()},
               user_data=[UserField(key="em", name="context.user.email", hashed=True, value=sha(raw.strip()))])
    engine().process(ev)
    f = the(ev, "unnormalised-hash")
    assert f.message == "TikTok context.user.email is a hash of the value before normalising"
    good = event("tiktok", event="SubmitForm", params={"properties.contact": raw.strip()},
                 user_data=[UserField(key="em", name="context.user.email", hashed=True,
                                      value=sha("jane@example.com"))])
    engine().process(good)
    assert "unnormalised-hash" not in codes(good) and "pii-leak" in codes(good)


def test_text_of_the_page_in_metas_automatic_events_is_not_the_visitors_data():
    # fbevents' SubscribedButtonClick on a newsletter form: the form's placeholder and the shop's
    # contact address in the button's surroundings are page text.
    features = {
        "cd[buttonFeatures]": '{"classList":"btn btn-primary","destination":"","id":"subscribe","imageUrl":"",'
                              '"innerText":"Subscribe","numChildButtons":0,"tag":"button","type":"submit","name":""}',
        "cd[buttonText]": "Subscribe",
        "cd[formFeatures]": '[{"id":"newsletter-email","name":"email","tag":"input","placeholder":"you@example.com",'
                            '"inputType":"email"}]',
        "cd[pageFeatures]": '{"title":"Contact us at hello@shop.example"}',
        "cd[parameters]": "[]",
    }
    ev = meta_hit(ev="SubscribedButtonClick", es="automatic", dl="https://shop.example/contact", **features)
    engine().process(ev)
    assert "pii-leak" not in codes(ev)
    leak = meta_hit(ev="SubscribedButtonClick", es="automatic", dl="https://shop.example/contact?email=jane@mail.example",
                    **features)
    engine().process(leak)
    assert "pii-leak" in codes(leak)  # the visitor's address in the page URL still is


def test_a_plain_email_in_a_tags_init_is_a_leak_but_a_loaders_page_url_is_left_to_its_events():
    from pixelspy import decoders
    from pixelspy.model import RawHit
    # pintrk('load', tid, {em: …}) sends em in the init's pd: in clear, Pinterest gets the address.
    (init,) = decoders.decode(RawHit(method="GET", url="https://ct.pinterest.com/v3/?event=init&tid=2612345678901"
                                     "&pd=%7B%22em%22%3A%22jane%40example.com%22%7D&cb=1733500001000"))
    engine().process(init)
    assert init.kind == "pixel_loaded" and the(init, "pii-leak").message.endswith("personal data in pd.em")
    # A loader fetched from a page whose URL holds an address: the page's hits are flagged, not the loader.
    (loader,) = decoders.decode(RawHit(method="GET", url="https://connect.facebook.net/signals/config/"
                                       "1234567890123456?v=2.9.179&r=stable",
                                       headers=(("referer", "https://shop.example/?email=jane%40example.com"),)))
    engine().process(loader)
    assert loader.kind == "pixel_loaded" and "pii-leak" not in codes(loader)
