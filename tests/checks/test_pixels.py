"""The pixel: ID formats, expected IDs, first-party cookies, loaded-but-silent pixels, test events,
encoded characters."""

from __future__ import annotations

import pytest

from pixelspy import decoders
from pixelspy.model import RawHit, Severity
from pixelspy.session import Session

from .helpers import PIXEL, T0, codes, engine, event, loaded, meta_hit, server, the


@pytest.mark.parametrize("platform, good, bad", [
    ("meta", "123456789012345", "12345"),
    ("meta", "1234567890123456", "YOUR_PIXEL_ID"),
    ("tiktok", "C4QLSD7PECQ6U88DDF2G", "c4qlsd7pecq6u88ddf2g"),
    ("tiktok", "D0AB12CDEF34GH56IJ78", "CABC"),
    ("tiktok", "BT24M8TQUU2IQ2BVG9NG", "AT24M8TQUU2IQ2BVG9NG"),  # older codes start with B
    ("x", "o7z1d", "o7z1d9"),
    ("pinterest", "2612345678901", "261234567890"),
    # Reddit: ad account (a2_) and older user account (t2_) pixels of real sites; Omnibug's placeholder
    ("reddit", "a2_j892kaf0wxc6", "xx_abc123z"),
    ("reddit", "t2_b4kw4fzh", "T2_B4KW4FZH"),
    ("reddit", "t2_cel8iytkw", "REDDIT_PIXEL_ID"),
])
def test_pixel_id_formats(platform, good, bad):
    e = engine()
    ok, wrong = event(platform, pixel_id=good, event="X"), event(platform, pixel_id=bad, event="X")
    e.process(ok)
    e.process(wrong)
    assert "invalid-pixel-id" not in codes(ok)
    f = the(wrong, "invalid-pixel-id")
    assert f.severity == Severity.warning and repr(bad) in f.message


def test_server_side_ids_of_other_kinds_are_not_pixel_ids():
    ev = server("pinterest", pixel_id="549755885175", event="checkout")  # an ad account id
    engine().process(ev)
    assert "invalid-pixel-id" not in codes(ev)


def test_the_js_sdk_app_events_app_id_is_not_judged_as_a_pixel_id():
    # FB.AppEvents.logPageView() as www.marchofdimes.org sent it (2021): /tr with FB.init's 12-digit
    # app ID. A Pixel hit with that ID is still judged.
    sdk = meta_hit(id="179668297098", ev="fb_page_view", dl="https://www.marchofdimes.org/", rl="", fbp=None,
                   **{"if": "false"}, ts="1634685431085", sw="375", sh="812", at="")
    pixel = meta_hit(id="179668297098", ev="PageView")
    e = engine()
    e.process(sdk)
    e.process(pixel)
    assert "invalid-pixel-id" not in codes(sdk)
    assert "invalid-pixel-id" in codes(pixel)
    # The SDK never sends fbp (the Pixel's cookie): no word of first-party cookies being off.
    assert "cookies-disabled" not in codes(sdk)
    e.process(no_fbp := meta_hit(ev="PageView", fbp=None))
    assert "cookies-disabled" in codes(no_fbp)
    # Nor is the app one of the pixels pixelspy.toml expects.
    sdk = meta_hit(id="179668297098", ev="fb_page_view", fbp=None)
    engine(expected_pixels={"meta": [PIXEL]}).process(sdk)
    assert codes(sdk).isdisjoint({"invalid-pixel-id", "unexpected-pixel"})


def test_unexpected_pixel_ids_per_vendor_from_config():
    e = engine(expected_pixels={"meta": [PIXEL]})
    mine, theirs = meta_hit(ev="PageView"), meta_hit(ev="PageView", id="999999999999999")
    tiktok = event("tiktok", pixel_id="C4QLSD7PECQ6U88DDF2G", event="Pageview")
    for ev in (mine, theirs, tiktok):
        e.process(ev)
    assert "unexpected-pixel" not in codes(mine) | codes(tiktok)
    assert the(theirs, "unexpected-pixel").message == (
        f"Meta pixel ID 999999999999999 is not one of the expected Meta pixels ({PIXEL})")
    default = meta_hit(ev="PageView", id="999999999999999")
    engine().process(default)  # no list configured: nothing is unexpected
    assert "unexpected-pixel" not in codes(default)


def test_first_party_cookies_off():
    # coo=false rides on ordinary fbevents hits next to fbp: it does not mean cookies are off.
    on = meta_hit(ev="PageView", coo="false")
    off = meta_hit(ev="PageView", coo="false", fbp=None)
    noscript = meta_hit(ev="PageView", noscript="1", fbp=None)
    e = engine()
    for ev in (on, off, noscript):
        e.process(ev)
    assert the(off, "cookies-disabled").message == "Meta hit carries no fbp: first-party cookies are off or blocked"
    assert the(off, "cookies-disabled").severity == "info"
    assert "cookies-disabled" not in codes(on) and "cookies-disabled" not in codes(noscript)


def test_pixel_loaded_without_events_settles_via_tick_and_is_withdrawn_by_a_late_event():
    e = engine(pixel_no_events_timeout_s=5)
    cfg = loaded(endpoint="signals config")
    e.process(cfg)
    assert e.tick(T0 + 4) == set() and "pixel-no-events" not in codes(cfg)
    assert e.tick(T0 + 6) == {cfg.id}
    f = the(cfg, "pixel-no-events")
    assert f.message == f"Meta pixel {PIXEL} loaded but fired no event within 5 s"
    late = meta_hit(time=T0 + 30, ev="AddToCart")
    assert cfg.id in e.process(late)
    assert "pixel-no-events" not in codes(cfg)


def test_pixel_that_fires_is_fine_and_state_is_per_device_and_pixel():
    e = engine(pixel_no_events_timeout_s=5)
    cfg = loaded()
    other_device_cfg = loaded(client="10.0.0.77")
    other_pixel_cfg = loaded(pixel_id="6543210987654321")
    loader_without_id = loaded(pixel_id=None, endpoint="fbevents.js")
    for ev in (cfg, other_device_cfg, other_pixel_cfg, loader_without_id):
        e.process(ev)
    e.process(meta_hit(time=T0 + 1, ev="PageView"))
    e.tick(T0 + 100)
    assert "pixel-no-events" not in codes(cfg) | codes(loader_without_id)
    assert "pixel-no-events" in codes(other_device_cfg) and "pixel-no-events" in codes(other_pixel_cfg)


def pinterest(path: str, t: float) -> RawHit:
    return RawHit(method="GET", url=f"https://{path}", time=t, client="10.0.0.2",
                  headers=(("Referer", "https://perf.lowes.com/"),))


def test_a_silent_pixel_is_reported_once_not_again_on_the_scripts_that_loaded_it():
    # perf.lowes.com (2023): core.js, its library main.*.js, then the init hit naming the tag, and no
    # page visit: one finding, on the pixel, not three.
    e = engine(pixel_no_events_timeout_s=5)
    hits = [pinterest("s.pinimg.com/ct/core.js", T0), pinterest("s.pinimg.com/ct/lib/main.f6304d83.js", T0 + 0.1),
            pinterest("ct.pinterest.com/v3/?tid=2615619520270&event=init&cb=1673849561207", T0 + 0.9)]
    core, lib, init = (decoders.decode(h)[0] for h in hits)
    for ev in (core, lib, init):
        e.process(ev)
    e.tick(T0 + 100)
    assert "pixel-no-events" in codes(init)
    assert "pixel-no-events" not in codes(core) | codes(lib)


def gtag_loader(tag: str) -> RawHit:
    return RawHit(method="GET", url=f"https://www.googletagmanager.com/gtag/js?id={tag}", time=T0,
                  client="10.0.0.2", headers=(("Referer", "https://stylishop.com/"),))


def test_a_loader_whose_events_pixelspy_does_not_decode_is_not_judged():
    # stylishop.com loads gtag.js for a Universal Analytics property (hits to google-analytics.com/
    # collect) and for GA4 (G-…, decoded): only the GA4 loader can be said to have fired nothing.
    e = engine(pixel_no_events_timeout_s=5)
    [ua], [ga4] = decoders.decode(gtag_loader("UA-146864591-1")), decoders.decode(gtag_loader("G-Q699J18SZG"))
    e.process(ua)
    e.process(ga4)
    e.tick(T0 + 100)
    assert "pixel-no-events" not in codes(ua)
    assert "pixel-no-events" in codes(ga4)


def test_test_event_codes_are_marked():
    capi = server(event="Purchase", test_event_code="TEST12345")
    pin = server("pinterest", event="checkout", params={"test": "true"})
    live = server(event="Purchase")
    e = engine()
    for ev in (capi, pin, live):
        e.process(ev)
    f = the(capi, "test-event")
    assert f.severity == Severity.info
    assert f.message == "Meta CAPI test event (test_event_code TEST12345): not production data"
    assert "test=true" in the(pin, "test-event").message
    assert "test-event" not in codes(live)


@pytest.mark.parametrize("name, value, problem", [
    ("cd[content_name]", "Summer%2520Sale", "URL-encoded twice"),
    ("dl", "https%3A%2F%2Fshop.example%2F", "a URL left percent-encoded"),
    ("cd[content_category]", "Shoes%2C%20Boots", "percent-encoded text"),
    ("cd[contents]", '["{\\"id\\":\\"a\\"}"]', "JSON encoded as a string inside JSON"),
    ("cd[currency]", '"EUR"', "a JSON-quoted string"),
])
def test_encoded_characters(name, value, problem):
    ev = event("meta", event="ViewContent", params={name: value})
    engine().process(ev)
    f = the(ev, "encoded-chars")
    assert f.message == f"Meta parameters still encoded: {name} ({problem})"


@pytest.mark.parametrize("name, value", [
    ("dl", "https://shop.example/search?q=red%20shoes&p=10%25"),
    ("cd[content_name]", "50% off"),
    ("cd[contents]", '[{"id":"a","name":"17\\" monitor"}]'),
])
def test_ordinary_values_are_not_encoded_chars(name, value):
    ev = event("meta", event="ViewContent", params={name: value})
    engine().process(ev)
    assert "encoded-chars" not in codes(ev)


def test_silenced_codes_are_never_reported():
    ev = meta_hit(ev="PageView", fbp=None)
    engine(silence=["cookies-disabled"]).process(ev)
    assert "cookies-disabled" not in codes(ev)


MYTOYS_PAGE = "https://checkout.mytoys.de/checkout/registration"
CHROME_63 = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13_1) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/63.0.3239.108 Safari/537.36")


def mytoys(url: str, t: float, accept: str = "*/*") -> RawHit:
    headers = (("accept", accept), ("user-agent", CHROME_63)) + ((("referer", MYTOYS_PAGE),) if url != MYTOYS_PAGE
                                                                 else ())
    return RawHit(method="GET", url=url, time=t, headers=headers)


def recording(*hits: RawHit) -> Session:
    """The hits read as a file is read: in time order, then the end of the file (tick at infinity)."""
    session = Session(engine())
    for hit in hits:
        session.ingest(hit)
    session.tick(float("inf"))
    return session


def test_a_recording_that_ends_before_the_wait_does_not_call_the_pixel_silent():
    # checkout.mytoys.de (sitespeed.io's chrome-har, Dec 2017): the HAR ends at the page's onload,
    # 1.7 s after fbevents.js arrived: no Meta config or event yet, and no telling whether one follows.
    session = recording(mytoys(MYTOYS_PAGE, T0, "text/html,application/xhtml+xml"),
                        mytoys("https://connect.facebook.net/en_US/fbevents.js", T0 + 0.774),
                        mytoys("https://widgets.trustedshops.com//images/trustmark_180x180.png", T0 + 2.439,
                               "image/webp,image/apng,image/*,*/*;q=0.8"))
    (fbevents,) = session
    f = the(fbevents, "pixel-no-events")
    assert f.severity == Severity.info
    assert "1.7 s before the recording ended" in f.message and "too soon to tell" in f.message


def test_a_recording_that_covers_the_wait_still_finds_the_silent_pixel():
    session = recording(mytoys(MYTOYS_PAGE, T0, "text/html,application/xhtml+xml"),
                        mytoys("https://connect.facebook.net/en_US/fbevents.js", T0 + 0.774),
                        mytoys("https://widgets.trustedshops.com//images/trustmark_180x180.png", T0 + 12))
    (fbevents,) = session
    assert the(fbevents, "pixel-no-events").severity == Severity.warning


def test_a_tag_that_sent_its_init_and_no_page_visit_is_silent_even_near_the_end():
    # test.victoriassecret.com (a Gatling recording, 2022): the signed-in home page's Pinterest tag sends
    # its init and no page visit; the tag sends the calls queued before its init at once, so the
    # 1.5 s the recording still runs are enough to tell.
    session = recording(pinterest("ct.pinterest.com/v3/?tid=2619214552931&event=init&noscript=1", T0),
                        pinterest("www.facebook.com/tr/?id=1234567890123456&ev=PageView&noscript=1", T0 + 1.5))
    init = next(ev for ev in session if ev.platform == "pinterest")
    assert the(init, "pixel-no-events").severity == Severity.warning
    # … but not when the recording stops with the init itself.
    (init,) = recording(pinterest("ct.pinterest.com/v3/?tid=2619214552931&event=init&noscript=1", T0))
    assert the(init, "pixel-no-events").severity == Severity.info
