"""End to end: LinkedIn and X browser beacons and Conversions API calls through `pixelspy --no-ui --sink`."""

from __future__ import annotations

import base64
import gzip
import json
from urllib.parse import quote, urlencode

SHA_EMAIL = "8d9b70fd20e23919cfe664ea5e571db39d72ba1bf17bf57e909ada24be9aa3aa"
WA_BODY = {
    "pids": [12345678], "scriptVersion": 308, "time": 1783018238460, "domain": "shop.example",
    "url": "https://shop.example/pricing", "pageTitle": "Pricing", "isTranslated": False,
    "websiteSignalRequestId": "a8b241ae-049f-6e40-7585-1466dc162595", "liFatId": "", "liGiant": "",
    "misc": {"psbState": -4}, "isLinkedInApp": False, "hem": SHA_EMAIL, "signalType": "PAGE_VISIT",
}
LI_ELEMENT = {
    "conversion": "urn:lla:llaPartnerConversion:104012", "conversionHappenedAt": 1783018238000,
    "conversionValue": {"currencyCode": "USD", "amount": "49.90"},
    "user": {"userIds": [{"idType": "SHA256_EMAIL", "idValue": SHA_EMAIL}]}, "eventId": "order-77",
}
X_QUERY = urlencode({
    "bci": "4", "dv": "UTC&en-US&Google Inc.&Linux x86_64&255&1280&1024&4&24&1280&1024&0&na", "eci": "3",
    "event": json.dumps({"value": 49.9, "currency": "USD", "conversion_id": "order-77"}, separators=(",", ":")),
    "event_id": "0f5d3d1e-4d3c-4a57-9a43-3a8f1d5b2c11", "integration": "advertiser", "p_id": "Twitter",
    "p_user_id": "0", "tw_document_href": "https://shop.example/thanks", "tw_iframe_status": "0",
    "txn_id": "o87ne", "type": "javascript", "version": "2.3.33"}, quote_via=quote)
X_CONVERSION = {"conversion_time": "2026-01-18T01:14:00.603Z", "event_id": "tw-o8z6j-o87ne",
                "identifiers": [{"twclid": "23opevjt88psuo13lu8d020qkn"}], "conversion_id": "order-77",
                "value": "49.90", "price_currency": "USD"}


def test_linkedin_and_x_hits_become_json_lines(pixelspy):
    with pixelspy.client() as c:
        packed = base64.b64encode(gzip.compress(json.dumps(WA_BODY).encode()))
        r = c.post("https://px.ads.linkedin.com/wa/", content=packed,
                   headers={"content-type": "text/plain;charset=UTF-8", "origin": "https://shop.example"})
        assert r.status_code == 204 and r.headers["x-pixelspy"] == "sink"
        r = c.post("https://api.linkedin.com/rest/conversionEvents",
                   json={"elements": [LI_ELEMENT, {**LI_ELEMENT, "eventId": "order-78"}]},
                   headers={"Authorization": "Bearer AQV8secret-token-never-shown", "LinkedIn-Version": "202601",
                            "X-Restli-Protocol-Version": "2.0.0", "X-RestLi-Method": "BATCH_CREATE"})
        assert r.status_code == 200  # the sink answers server APIs like the vendor
        for host in ("t.co", "analytics.twitter.com"):  # uwt.js sends each beacon to both
            r = c.get(f"https://{host}/1/i/adsct?{X_QUERY}")
            assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
        r = c.post("https://ads-api.x.com/12/measurement/conversions/o8z6j", json={"conversions": [X_CONVERSION]},
                   headers={"Authorization": 'OAuth oauth_consumer_key="k", oauth_signature="s"'})
        assert r.status_code == 200  # the sink answers server APIs like the vendor

    evs = pixelspy.wait_for(lambda evs: len(evs) == 5 and any(e["twins"] for e in evs))
    wa, li_first, li_second, x_pixel, x_capi = evs

    assert (wa["platform"], wa["source"], wa["pixel_id"]) == ("linkedin", "browser", "12345678")
    assert (wa["event"], wa["standard_event"]) == ("PAGE_VISIT", "PageView")
    assert wa["page_url"] == "https://shop.example/pricing"
    assert wa["params"]["pageTitle"] == "Pricing" and wa["params"]["misc.psbState"] == "-4"
    assert wa["user_data"] == {"hem": "hashed"}
    assert wa["endpoint"] == "/wa POST base64-gzip" and wa["decode_errors"] == []

    for ev, event_id in ((li_first, "order-77"), (li_second, "order-78")):
        assert (ev["platform"], ev["source"], ev["pixel_id"]) == ("linkedin", "server", "104012")
        assert (ev["event"], ev["event_id"]) == ("conversion", event_id)
        assert (ev["value"], ev["currency"]) == ("49.90", "USD")
        assert ev["user_data"] == {"user.userIds[SHA256_EMAIL]": "hashed"}
        assert ev["params"]["LinkedIn-Version"] == "202601"
        assert "secret" not in json.dumps(ev)
    assert [li_first["endpoint"], li_second["endpoint"]] == [
        "CAPI conversionEvents batch 1/2", "CAPI conversionEvents batch 2/2"]

    assert (x_pixel["platform"], x_pixel["source"], x_pixel["pixel_id"]) == ("x", "browser", "o87ne")
    assert (x_pixel["event"], x_pixel["event_id"]) == ("o87ne", "order-77")
    assert (x_pixel["value"], x_pixel["currency"]) == ("49.9", "USD")
    assert x_pixel["endpoint"] == "t.co /1/i/adsct"
    assert len(x_pixel["twins"]) == 1  # the analytics.twitter.com copy, folded in

    assert (x_capi["platform"], x_capi["source"], x_capi["pixel_id"]) == ("x", "server", "o8z6j")
    assert (x_capi["event"], x_capi["event_id"]) == ("o87ne", "order-77")  # pairs with the pixel
    assert x_capi["user_data"] == {"identifiers.twclid": "plain"}
    assert "oauth" not in json.dumps(x_capi).lower()
