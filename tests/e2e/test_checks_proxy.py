"""End to end: findings of every check family on real-shaped Meta traffic through the proxy
(`pixelspy --no-ui --sink`); a later finding re-prints the earlier event whole, with the same id."""

from __future__ import annotations

import hashlib
import json

import pytest

PIXEL = "1234567890123456"
CAPI = f"https://graph.facebook.com/v19.0/{PIXEL}/events"


def tr(c, **params):
    """A /tr hit as fbevents sends it: with the _fbp browser ID (fbp=None leaves it out)."""
    params = {"id": PIXEL, "dl": "https://shop.example/", "fbp": "fb.1.1700000000000.42", **params}
    r = c.get("https://www.facebook.com/tr/", params={k: v for k, v in params.items() if v is not None})
    assert r.status_code == 200


def capi(c, test_event_code: str | None = None, **event):
    body = {"data": [{"action_source": "website", "event_time": 1700000000,
                      "event_source_url": "https://shop.example/thanks", "user_data": {
                          "em": [hashlib.sha256(b"jane@example.com").hexdigest()]}, **event}]}
    if test_event_code:
        body["test_event_code"] = test_event_code
    r = c.post(CAPI, params={"access_token": "EAAGtoken123456"}, content=json.dumps(body),
               headers={"content-type": "application/json"})
    assert r.status_code in (200, 204)


def findings(ev: dict) -> dict[str, dict]:
    return {f["code"]: f for f in ev["findings"]}


def by_event(evs: list[dict], name: str, source: str = "browser") -> list[dict]:
    return [e for e in evs if e["event"] == name and e["source"] == source]


def test_parameter_pii_cookie_and_pixel_findings(pixelspy):
    with pixelspy.client() as c:
        tr(c, ev="Purchase", eid="o-1", **{"cd[value]": "$12.50", "cd[currency]": "EURO",
                                            "cd[content_ids]": '["sku-1"]', "cd[content_type]": "product"})
        tr(c, ev="AddtoCart", coo="false", fbp=None, **{"ud[em]": "jane@example.com"})
        tr(c, ev="PageView", id="12345")
    evs = pixelspy.wait_for(lambda evs: len(evs) == 3)
    purchase, cart, pageview = evs
    f = findings(purchase)
    assert f["invalid-value"]["message"] == "Meta cd[value] '$12.50' contains a currency symbol or code"
    assert f["invalid-value"]["severity"] == "error" and f["invalid-value"]["hint"]
    assert f["invalid-currency"]["message"] == "Meta cd[currency] 'EURO' is not an ISO 4217 code"
    f = findings(cart)
    assert f["nonstandard-event"]["message"] == "Meta event 'AddtoCart' looks like the standard event AddToCart misspelt"
    assert f["pii-leak"]["message"] == "Meta hit carries unhashed personal data in ud[em]"
    assert f["cookies-disabled"]["severity"] == "info"
    f = findings(pageview)
    assert f["invalid-pixel-id"]["message"] == "Meta pixel ID '12345' is not in the format Meta issues (15–16 digits)"
    assert all(not f["pending"] and f["related"] == [] for e in evs for f in e["findings"])


def test_a_duplicate_marks_both_events_and_reprints_the_first(pixelspy):
    with pixelspy.client() as c:
        tr(c, ev="PageView", ts="1700000000000", ec="0")
        tr(c, ev="PageView", ts="1700000000300", ec="1")
    evs = pixelspy.wait_for(lambda evs: len(evs) == 2 and all("duplicate-event" in findings(e) for e in evs))
    first, second = evs
    assert findings(first)["duplicate-event"]["related"] == [second["id"]]
    assert findings(second)["duplicate-event"]["related"] == [first["id"]]
    # The first event was printed again, whole, with the same id, once the duplicate arrived.
    printed = [line for line in pixelspy.lines if line["id"] == first["id"]]
    assert len(printed) == 2 and printed[0]["findings"] == [] and printed[1] == first


def test_browser_and_server_copies_dedup_ok_and_test_event(pixelspy):
    with pixelspy.client() as c:
        tr(c, ev="Purchase", eid="ord-1", **{"cd[value]": "49.90", "cd[currency]": "EUR",
                                              "cd[content_ids]": '["sku-1"]', "cd[content_type]": "product"})
        capi(c, test_event_code="TEST123", event_name="Purchase", event_id="ord-1",
             custom_data={"value": 49.9, "currency": "EUR", "content_ids": ["sku-1"], "content_type": "product"})
    evs = pixelspy.wait_for(lambda evs: len(evs) == 2 and all("dedup-ok" in findings(e) for e in evs))
    browser, server = evs
    assert server["source"] == "server"
    assert findings(browser)["dedup-ok"]["related"] == [server["id"]]
    assert findings(server)["dedup-ok"]["severity"] == "info"
    assert findings(server)["test-event"]["message"] == (
        "Meta CAPI test event (test_event_code TEST123): not production data")
    assert "dedup-missing" not in findings(browser) | findings(server)


@pytest.fixture
def configured(tmp_path, pixelspy_factory):
    (tmp_path / "pixelspy.toml").write_text(f'''
[checks]
dedup_pairing_window_s = 1
[checks.expected_pixels]
meta = ["{PIXEL}"]
''')
    return pixelspy_factory("--sink", cwd=tmp_path)


def test_dedup_missing_settles_and_config_flags_unexpected_pixels(configured):
    with configured.client() as c:
        tr(c, ev="Lead", eid="web-7")
        capi(c, event_name="Lead", event_id="srv-7")
        tr(c, ev="PageView", id="999999999999999")
    evs = configured.wait_for(lambda evs: len(evs) == 3)
    lead = by_event(evs, "Lead")[0]
    server = by_event(evs, "Lead", "server")[0]
    assert findings(server)["dedup-missing"]["related"] == [lead["id"]]
    pending = [line for line in configured.lines if line["id"] == server["id"]
               and "dedup-missing" in findings(line)]
    assert findings(pending[0])["dedup-missing"]["pending"] is True
    # tick() settles the verdict once the 1 s pairing window has passed; both are re-printed.
    evs = configured.wait_for(lambda evs: all(
        not findings(e).get("dedup-missing", {"pending": True})["pending"]
        for e in evs if e["event"] == "Lead"), timeout=10)
    assert "counted twice" in findings(by_event(evs, "Lead")[0])["dedup-missing"]["message"]
    other = by_event(evs, "PageView")[0]
    assert findings(other)["unexpected-pixel"]["message"] == (
        f"Meta pixel ID 999999999999999 is not one of the expected Meta pixels ({PIXEL})")
    assert "unexpected-pixel" not in findings(lead)
