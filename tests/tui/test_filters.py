"""The filter language on real decoded events (no terminal needed)."""

from pixelspy.model import RawHit
from pixelspy.session import Session
from pixelspy.tui import filters

PIXEL = "1234567890123456"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Version/17.4 Mobile/15E148 Safari/604.1"


def session() -> Session:
    s = Session()
    s.ingest(RawHit(method="GET", client="10.0.0.2", headers=[("user-agent", IPHONE)],
                    url=f"https://www.facebook.com/tr/?id={PIXEL}&ev=Purchase&cd%5Bvalue%5D=%2412&fbp=fb.1.1.2"))
    s.ingest(RawHit(method="GET", client="10.0.0.3",
                    url=f"https://www.facebook.com/tr/?id={PIXEL}&ev=PageView&dl=https%3A%2F%2Fshop.example%2Fcart"
                        "&fbp=fb.1.1.2"))
    s.ingest(RawHit(method="POST", client="10.0.0.3", url="https://analytics.tiktok.com/api/v2/pixel",
                    headers=[("content-type", "text/plain")],
                    body=b'{"event":"ViewContent","context":{"pixel":{"code":"CN8J4Q3C77U0N4A9CVAG"}}}'))
    return s


def shown(s: Session, text: str) -> list[str]:
    blobs = {ev.id: filters.search_blob(ev) for ev in s}
    devices = s.devices

    def clients_named(words):
        return {c for c in devices.clients() if any(w in devices.name(c).lower() for w in words)}

    flt = filters.compile_query(filters.parse(text), blobs.get, clients_named)
    return [ev.event for ev in s if flt is None or flt(ev.id)]


def test_keys_and_words():
    s = session()
    assert shown(s, "") == ["Purchase", "PageView", "ViewContent"]
    assert shown(s, "platform:tiktok") == ["ViewContent"]
    assert shown(s, "platform:meta|tiktok source:browser") == ["Purchase", "PageView", "ViewContent"]
    assert shown(s, "source:server") == []
    assert shown(s, "sev:error") == ["Purchase"]  # "$12" is an invalid value
    assert shown(s, "code:invalid-value") == ["Purchase"]
    assert shown(s, "platform:meta shop.example/cart") == ["PageView"]
    assert shown(s, "device:iphone") == ["Purchase"]
    assert shown(s, "device:nobody") == []
    assert shown(s, "PURCHASE") == ["Purchase"]  # case-insensitive


def test_parse_reports_unknown_keys_and_describes_the_query():
    q = filters.parse("sev:error foo: purchase")
    assert q.errors == ["unknown filter foo:"] and q.describe() == 'severity:error "purchase"'


def test_unknown_values_of_closed_keys_are_reported():
    q = filters.parse("sev:eror platform:meta|facebok source:server has:finding code:whatever")
    assert q.errors == ["unknown sev:eror (sev: is one of error, warning, info)",
                        "unknown platform:facebok (platform: is one of meta, tiktok, pinterest, linkedin, x, "
                        "google, snapchat, reddit)",
                        "unknown has:finding (has: is one of findings)"]
    assert filters.parse("sev:error|warning platform:x kind:pixel_loaded").errors == []
