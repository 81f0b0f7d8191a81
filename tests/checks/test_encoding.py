"""encoded-chars on values the vendors' own libraries encode by design (issue #23, family 6)."""

from __future__ import annotations

from pixelspy import decoders
from pixelspy.model import RawHit

from .helpers import codes, engine, meta_hit, the

# gtag.js 2023+: each user-agent brand encodeURIComponent'd, then the whole list URL-encoded again.
GA4 = ("https://region1.google-analytics.com/g/collect?v=2&tid=G-Q699J18SZG&gtm=45je3b10v9115896837&_p=1700000000000"
       "&cid=1374824269.1625813003&ul=en-us&sr=1680x1050"
       "&uaa=x86&uab=64&uafvl=Chromium%3B118.0.5993.117%7CGoogle%2520Chrome%3B118.0.5993.117%7CNot%253DA%253FBrand"
       "%3B99.0.0.0&uamb=0&uam=&uap=Linux&uapv=6.5.0&uaw=0&_s=1&dl=https%3A%2F%2Fshop.example%2F&dt=Shop"
       "&en=page_view")
TIKTOK_BODY = ('{"event":"ViewContent","context":{"pixel":{"code":"BT24M8TQUU2IQ2BVG9NG"},"page":{"url":'
               '"https%3A%2F%2Fdigital-intelligence.myshopify.com%2Fproducts%2Fa","referrer":"https%3A%2F%2Fwww.google.com%2F"},'
               '"library":{"version":"0.0.24","name":"pixel.js"}},"timestamp":"2020-09-04T11:22:12.959Z"}')


def test_gtag_brand_list_is_encoded_by_design():
    [ev] = decoders.decode(RawHit(method="POST", url=GA4, headers=(("Referer", "https://shop.example/"),)))
    assert ev.param("uafvl") == "Chromium;118.0.5993.117|Google%20Chrome;118.0.5993.117|Not%3DA%3FBrand;99.0.0.0"
    engine().process(ev)
    assert "encoded-chars" not in codes(ev)


def test_legacy_tiktok_pixel_encodes_its_page_url_itself():
    [ev] = decoders.decode(RawHit(method="POST", url="https://analytics.tiktok.com/api/v1/track",
                                  body=TIKTOK_BODY.encode(), headers=(("content-type", "application/json"),)))
    engine().process(ev)
    assert "encoded-chars" not in codes(ev)


def test_a_value_encoded_twice_by_the_site_is_still_flagged():
    ev = meta_hit(ev="ViewContent", **{"cd[content_name]": "Blue%2520Shirt"})
    engine().process(ev)
    assert "cd[content_name] (URL-encoded twice)" in the(ev, "encoded-chars").message
