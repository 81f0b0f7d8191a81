"""HAR: save (redacted) → open round trips, real-shaped browser exports, flow files, broken files."""

from __future__ import annotations

import base64
import gzip
import io
import json
import random
import re
import zlib
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from pixelspy import har
from pixelspy.model import RawHit
from pixelspy.session import Session

PIXEL = "1234567890123456"
T0 = 1_700_000_000.25
TOKEN = "EAAGm0PX4ZCpsBAKZC9ZBxZAsecretTOKEN0123456789"
EMAIL = "jane.doe@example.com"
PHONE = "+4915112345678"


def meta_get(t: float, **params: str) -> RawHit:
    return RawHit(method="GET", url="https://www.facebook.com/tr/?" + urlencode({"id": PIXEL, **params}),
                  headers=[("Accept", "image/avif,image/webp,*/*"), ("Referer", "https://shop.example/")],
                  time=t, client="192.168.1.20")


def meta_post(t: float, **params: str) -> RawHit:
    return RawHit(method="POST", url="https://www.facebook.com/tr/",
                  headers=[("Content-Type", "application/x-www-form-urlencoded"),
                           ("Cookie", "sessionid=s3cr3t-session; _fbp=fb.1.1700000000000.42")],
                  body=urlencode({"id": PIXEL, **params}).encode(), time=t, client="192.168.1.20")


def comparable(session: Session) -> list[dict]:
    """Events without the process-local ids (hit ids, event ids in `related`, twins' hit ids)."""
    out = []
    for ev in session:
        line = ev.json_line()
        for k in ("id", "hit_id"):
            line.pop(k)
        line["time"] = round(line["time"], 3)
        line["twins"] = len(line["twins"])
        for f in line["findings"]:
            f["related"] = len(f["related"])
        out.append(line)
    return out


def a_session() -> Session:
    # Tracking hits only: first-party traffic (consent cookies) is in a HAR only with --har-all.
    s = Session()
    s.ingest(meta_get(T0, ev="PageView", dl="https://shop.example/checkout/thanks", ts="1700000000250"))
    s.ingest(meta_post(T0 + 1, ev="Purchase", eid="order-77", dl="https://shop.example/checkout/thanks",
                       **{"cd[value]": "49.90", "cd[currency]": "EUR", "cd[content_ids]": '["sku-1"]'}))
    # Same event twice without an event ID: a duplicate finding links the two.
    s.ingest(meta_post(T0 + 1.2, ev="AddToCart", **{"cd[value]": "5", "cd[currency]": "EUR"}))
    s.ingest(meta_post(T0 + 1.3, ev="AddToCart", **{"cd[value]": "5", "cd[currency]": "EUR"}))
    # Plain personal data: a finding that must survive redaction.
    s.ingest(meta_get(T0 + 2, ev="Lead", **{"ud[em]": EMAIL, "ud[ph]": PHONE.lstrip("+")}))
    s.tick(float("inf"))
    return s


@pytest.mark.parametrize("redact", [False, True])
def test_save_then_open_gives_the_same_events_and_findings(tmp_path, redact):
    saved = a_session()
    path = tmp_path / "s.har"
    assert har.save_har(saved, path, redact=redact) == 5
    opened = Session()
    result = har.load_file(path, opened)
    assert (result.format, result.entries, result.hits, result.events, result.problems) == ("HAR", 5, 5, 5, [])
    doc = json.loads(path.read_text())
    embedded = [line for e in doc["log"]["entries"] for line in e["_pixelspy"]["events"]]
    assert [e["_pixelspy"]["client"] for e in doc["log"]["entries"]] == ["192.168.1.20"] * 5
    assert doc["log"]["_pixelspy"]["redacted"] is redact
    if not redact:
        assert comparable(opened) == comparable(saved)
    else:
        # Redacted values reopen redacted: re-decoding the file gives what was embedded in it.
        assert comparable(opened) != comparable(saved)
    reopened_lines = comparable(opened)
    for line in embedded:
        line.pop("id"), line.pop("hit_id")
        line["time"] = round(line["time"], 3)
        line["twins"] = len(line["twins"])
        for f in line["findings"]:
            f["related"] = len(f["related"])
    assert reopened_lines == embedded
    codes = {f["code"] for line in reopened_lines for f in line["findings"]}
    assert "pii-leak" in codes  # a masked email is still a plain email
    lead = next(line for line in reopened_lines if line["event"] == "Lead")
    assert lead["user_data"] == {"ud[em]": "plain", "ud[ph]": "plain"}
    purchase = next(line for line in reopened_lines if line["event"] == "Purchase")
    assert (purchase["value"], purchase["currency"], purchase["event_id"]) == ("49.90", "EUR", "order-77")
    # Opened from a file, the session's hits are saved again as valid HAR.
    assert har.save_har(opened, tmp_path / "again.har") == 5


def test_redaction_removes_cookies_tokens_emails_and_phones(tmp_path):
    s = Session()
    capi = {"data": [{"event_name": "Purchase", "event_time": 1700000000, "action_source": "website",
                      "event_source_url": f"https://shop.example/thanks?email={quote(EMAIL)}",
                      "user_data": {"em": [EMAIL], "ph": [PHONE], "client_ip_address": "203.0.113.7"},
                      "custom_data": {"value": 10, "currency": "EUR"}}],
            "access_token": TOKEN}
    s.ingest(RawHit(method="POST", url=f"https://graph.facebook.com/v19.0/{PIXEL}/events?access_token={TOKEN}",
                    headers=[("Content-Type", "application/json"), ("Access-Token", TOKEN),
                             ("Authorization", f"Bearer {TOKEN}"), ("Cookie", "sid=cookie-secret-1; a=b")],
                    body=json.dumps(capi).encode(), time=T0))
    s.ingest(meta_post(T0 + 1, ev="Lead", **{"ud[em]": EMAIL, "dl": f"https://shop.example/?e={EMAIL}"}))
    s.ingest(meta_get(T0 + 2, ev="Contact", **{"cd[phone]": PHONE}))
    path = tmp_path / "r.har"
    har.save_har(s, path)
    text = path.read_text()
    for secret in (TOKEN, EMAIL, quote(EMAIL), quote(EMAIL, safe=""), "jane.doe", PHONE, PHONE.lstrip("+"),
                   "cookie-secret-1", "s3cr3t-session"):
        assert secret not in text, secret
    doc = json.loads(text)
    assert doc["log"]["_pixelspy"]["redacted"] is True and "Redacted" in doc["log"]["comment"]
    capi_entry = doc["log"]["entries"][0]
    headers = {h["name"]: h["value"] for h in capi_entry["request"]["headers"]}
    assert headers["Access-Token"] == "REDACTED" and headers["Authorization"] == "Bearer REDACTED"
    assert headers["Cookie"] == "sid=REDACTED; a=REDACTED"
    assert json.loads(capi_entry["request"]["postData"]["text"])["access_token"] == "REDACTED"
    assert {"name": "access_token", "value": "REDACTED"} in capi_entry["request"]["queryString"]
    # Shape kept: an email stays an email, a phone a phone, so the checks still see plain data.
    assert json.loads(capi_entry["request"]["postData"]["text"])["data"][0]["user_data"]["em"] == ["xxxx.xxx@xxxxxxx.xxx"]
    assert "+0000000000000\"" in text and "%2B0000000000000" in text  # 13 digits, like +4915112345678
    # Without redaction everything is kept.
    har.save_har(s, tmp_path / "raw.har", redact=False)
    raw = (tmp_path / "raw.har").read_text()
    assert TOKEN in raw and "cookie-secret-1" in raw and json.loads(raw)["log"]["_pixelspy"]["redacted"] is False


def test_redaction_looks_inside_gzip_and_base64_gzip_bodies(tmp_path):
    s = Session()
    body = json.dumps({"email": EMAIL, "note": "x"}).encode()
    s.ingest(RawHit(method="POST", url="https://px.ads.linkedin.com/wa/", time=T0,
                    headers=[("Content-Type", "text/plain;charset=UTF-8")],
                    body=base64.b64encode(gzip.compress(body))))
    s.ingest(RawHit(method="POST", url="https://www.facebook.com/tr/", time=T0 + 1,
                    headers=[("Content-Type", "application/x-www-form-urlencoded"), ("Content-Encoding", "gzip")],
                    body=gzip.compress(urlencode({"id": PIXEL, "ev": "Lead", "ud[em]": EMAIL}).encode())))
    hits = list(s.hits.values())
    assert len(hits) == 2
    path = tmp_path / "g.har"
    har.save_har(s, path)
    entries = json.loads(path.read_text())["log"]["entries"]
    linkedin = base64.b64decode(entries[0]["request"]["postData"]["text"])
    assert json.loads(gzip.decompress(linkedin)) == {"email": "xxxx.xxx@xxxxxxx.xxx", "note": "x"}
    meta = base64.b64decode(entries[1]["request"]["postData"]["text"])
    assert entries[1]["request"]["postData"]["encoding"] == "base64"
    assert b"ud%5Bem%5D=xxxx.xxx%40xxxxxxx.xxx" in gzip.decompress(meta)
    opened = Session()
    har.load_file(path, opened)
    lead = next(ev for ev in opened if ev.event == "Lead")
    assert lead.decode_errors == () and lead.user_data[0].value == "xxxx.xxx@xxxxxxx.xxx"


# ------------------------------------------------------------------------ browser and tool exports

CHROME_ENTRY = {
    "_initiator": {"type": "script", "stack": {"callFrames": [{"url": "https://connect.facebook.net/en_US/fbevents.js"}]}},
    "_priority": "High",
    "_resourceType": "ping",
    "cache": {},
    "connection": "443",
    "pageref": "page_3",
    "request": {
        "method": "POST",
        "url": "https://www.facebook.com/tr/",
        "httpVersion": "http/2.0",
        "headers": [
            {"name": ":authority", "value": "www.facebook.com"},
            {"name": ":method", "value": "POST"},
            {"name": ":path", "value": "/tr/"},
            {"name": ":scheme", "value": "https"},
            {"name": "content-type", "value": "application/x-www-form-urlencoded"},
            {"name": "origin", "value": "https://shop.example"},
            {"name": "referer", "value": "https://shop.example/"},
            {"name": "sec-fetch-dest", "value": "empty"},
        ],
        "queryString": [],
        "cookies": [],
        "headersSize": -1,
        "bodySize": 95,
        "postData": {
            "mimeType": "application/x-www-form-urlencoded",
            "text": f"id={PIXEL}&ev=Purchase&cd%5Bvalue%5D=12.50&cd%5Bcurrency%5D=EUR&eid=o-1",
            "params": [{"name": "id", "value": PIXEL}, {"name": "ev", "value": "Purchase"},
                       {"name": "cd%5Bvalue%5D", "value": "12.50"}, {"name": "cd%5Bcurrency%5D", "value": "EUR"},
                       {"name": "eid", "value": "o-1"}],
        },
    },
    "response": {
        "status": 200, "statusText": "", "httpVersion": "http/2.0",
        "headers": [{"name": "content-type", "value": "text/plain"}], "cookies": [],
        "content": {"size": 0, "mimeType": "text/plain", "text": "", "encoding": "base64"},
        "redirectURL": "", "headersSize": -1, "bodySize": -1, "_transferSize": 220, "_error": None,
    },
    "serverIPAddress": "157.240.1.35",
    "startedDateTime": "2023-11-14T22:13:21.512Z",
    "time": 41.2,
    "timings": {"blocked": 2.1, "dns": -1, "ssl": -1, "connect": -1, "send": 0.3, "wait": 38.0,
                "receive": 0.8, "_blocked_queueing": 1.4},
}


def chrome_har(entries: list[dict]) -> dict:
    return {"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
                    "pages": [{"startedDateTime": "2023-11-14T22:13:19.001Z", "id": "page_3",
                               "title": "https://shop.example/", "pageTimings": {"onLoad": 812.3}}],
                    "entries": entries}}


def write(tmp_path: Path, doc, name: str = "f.har") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(doc) if not isinstance(doc, str) else doc, encoding="utf-8")
    return p


def opened(path: Path) -> tuple[Session, har.LoadResult]:
    s = Session()
    return s, har.load_file(path, s)


def test_chrome_devtools_export(tmp_path):
    image_get = {
        **CHROME_ENTRY, "_resourceType": "image",
        "startedDateTime": "2023-11-14T22:13:20.100Z",  # earlier: the file is sorted by time on open
        "request": {**CHROME_ENTRY["request"], "method": "GET", "postData": None,
                    "url": f"https://www.facebook.com/tr/?id={PIXEL}&ev=PageView&dl=https%3A%2F%2Fshop.example%2F",
                    "headers": [{"name": ":authority", "value": "www.facebook.com"},
                                {"name": "accept", "value": "image/avif,image/webp,image/apng,*/*;q=0.8"}]},
        "response": {**CHROME_ENTRY["response"], "content": {"size": 43, "mimeType": "image/gif",
                                                             "text": "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==",
                                                             "encoding": "base64"}},
    }
    del image_get["request"]["postData"]
    document = {**CHROME_ENTRY, "_resourceType": "document", "startedDateTime": "2023-11-14T22:13:19.001Z",
                "request": {"method": "GET", "url": "https://shop.example/", "httpVersion": "http/2.0",
                            "headers": [{"name": "accept", "value": "text/html"}], "queryString": [],
                            "cookies": [{"name": "OptanonConsent", "value": "groups=C0004%3A1"}],
                            "headersSize": -1, "bodySize": 0}}
    path = write(tmp_path, chrome_har([CHROME_ENTRY, image_get, document]))
    s, result = opened(path)
    assert (result.entries, result.hits, result.events, result.problems) == (3, 3, 2, [])
    pageview, purchase = list(s)
    assert (pageview.event, pageview.page_url, pageview.endpoint) == ("PageView", "https://shop.example/", "/tr image")
    assert (purchase.event, purchase.value, purchase.currency, purchase.event_id) == ("Purchase", "12.50", "EUR", "o-1")
    assert purchase.time == pytest.approx(1699999999.0 + 2.512 + 1)  # 2023-11-14T22:13:21.512Z
    hit = s.hits[purchase.hit_id]
    assert not any(k.startswith(":") for k, _ in hit.headers)  # h2 pseudo-headers dropped
    assert hit.header("origin") == "https://shop.example"


def test_chrome_sanitized_export_and_params_only_post_data(tmp_path):
    entry = json.loads(json.dumps(CHROME_ENTRY))
    del entry["request"]["postData"]["text"]  # only the parsed form survives
    entry["request"]["postData"]["params"] = [{"name": "id", "value": PIXEL}, {"name": "ev", "value": "Lead"},
                                              {"name": "cd[value]", "value": "3"}]
    s, result = opened(write(tmp_path, chrome_har([entry])))
    (lead,) = list(s)
    assert (lead.event, lead.value) == ("Lead", "3") and result.problems == []


FIREFOX_ENTRY = {
    "pageref": "page_1",
    "startedDateTime": "2023-11-14T23:13:21.512+01:00",
    "request": {
        "bodySize": 0, "method": "GET",
        "url": f"https://www.facebook.com/tr/?id={PIXEL}&ev=ViewContent&cd[content_ids]=%5B%22sku-9%22%5D",
        "httpVersion": "HTTP/2",
        "headers": [{"name": "Host", "value": "www.facebook.com"},
                    {"name": "Accept", "value": "image/avif,image/webp,*/*"},
                    {"name": "Referer", "value": "https://shop.example/p/9"}],
        "cookies": [], "queryString": [{"name": "id", "value": PIXEL}], "headersSize": 612,
    },
    "response": {
        "status": 200, "statusText": "", "httpVersion": "HTTP/2",
        "headers": [{"name": "content-type", "value": "image/gif"}], "cookies": [],
        "content": {"mimeType": "image/gif", "size": 43},  # Firefox leaves image bodies out
        "redirectURL": "", "headersSize": 412, "bodySize": 455,
    },
    "cache": {}, "timings": {"blocked": 0, "dns": 0, "connect": 0, "ssl": 0, "send": 0, "wait": 31, "receive": 0},
    "time": 31, "_securityState": "secure", "serverIPAddress": "157.240.1.35", "connection": "443",
}


def test_firefox_export(tmp_path):
    doc = {"log": {"version": "1.2", "creator": {"name": "Firefox", "version": "120.0"},
                   "browser": {"name": "Firefox", "version": "120.0"}, "pages": [], "entries": [FIREFOX_ENTRY]}}
    s, result = opened(write(tmp_path, doc))
    (view,) = list(s)
    assert (view.event, view.content_ids) == ("ViewContent", ("sku-9",))
    assert view.time == pytest.approx(1700000001.512)


def test_charles_and_minimal_entries_missing_fields(tmp_path):
    entries = [
        # Charles: numbers as header values, no httpVersion/time/cache/timings, null cookies value.
        {"startedDateTime": "2023-11-14T22:13:25.000+00:00",
         "request": {"method": "GET", "url": f"https://www.facebook.com/tr?id={PIXEL}&ev=Search",
                     "headers": [{"name": "Content-Length", "value": 0}], "cookies": [{"name": "a", "value": None}]}},
        # No startedDateTime at all: takes the previous entry's time (file order kept).
        {"request": {"url": f"https://www.facebook.com/tr?id={PIXEL}&ev=Contact"}},
        {"request": {"method": "GET"}},  # no URL: skipped, named
        {"startedDateTime": "2023-11-14T22:13:26Z"},  # no request
        {"request": {"url": "data:image/gif;base64,R0lGOD"}},
        "not an object",
    ]
    s, result = opened(write(tmp_path, chrome_har(entries)))
    assert [ev.event for ev in s] == ["Search", "Contact"]
    assert list(s)[1].time == list(s)[0].time
    assert result.problems == [
        "log.entries[2]: request.url: missing; entry skipped",
        "log.entries[3]: request: missing; entry skipped",
        "log.entries[4]: request.url 'data:image/gif;base64,R0lGOD' is not an http(s) URL; entry skipped",
        "log.entries[5]: : input should be a valid dictionary or instance of harentry; entry skipped",
    ]


def write_flows(path: Path) -> Path:
    """A mitmproxy flow file: a page, then a Meta Pixel Purchase."""
    from mitmproxy import http
    from mitmproxy.io import FlowWriter
    from mitmproxy.test import tflow

    with open(path, "wb") as fh:
        w = FlowWriter(fh)
        for i, (method, url, body) in enumerate([
            ("GET", "https://shop.example/", b""),
            ("POST", "https://www.facebook.com/tr/", urlencode({"id": PIXEL, "ev": "Purchase", "cd[value]": "7",
                                                               "cd[currency]": "USD"}).encode()),
        ]):
            f = tflow.tflow(resp=True)
            f.request = http.Request.make(method, url, body, {"content-type": "application/x-www-form-urlencoded"})
            f.request.timestamp_start = T0 + i
            w.add(f)
    return path


def test_mitmproxy_flow_file(tmp_path):
    s, result = opened(write_flows(tmp_path / "flows.mitm"))
    assert (result.format, result.entries, result.hits) == ("mitmproxy flows", 2, 2)
    (purchase,) = list(s)
    assert (purchase.event, purchase.value, purchase.currency, purchase.time) == ("Purchase", "7", "USD", T0 + 1)


def test_compressed_har_files(tmp_path):
    doc = json.dumps(chrome_har([CHROME_ENTRY])).encode()
    (tmp_path / "a.har.gz").write_bytes(gzip.compress(doc))
    import zlib
    (tmp_path / "a.zhar").write_bytes(zlib.compress(doc, 9))
    for name in ("a.har.gz", "a.zhar"):
        s, result = opened(tmp_path / name)
        assert [ev.event for ev in s] == ["Purchase"], name
    assert result.format == "zlib HAR"


def tee_files(tmp_path: Path) -> dict[str, Path]:
    """A file of each format the reader knows, and files it stops reading before their end."""
    body = base64.b64encode(random.Random(25).randbytes(37_500)).decode()  # a page's script: compresses little
    doc = json.dumps(chrome_har([CHROME_ENTRY] + [{"request": {"method": "GET", "url": f"https://shop.example/{i}"},
                                                   "response": {"content": {"text": body}}}
                                                  for i in range(25)])).encode()  # 1.3 MB: two reads
    files = {"HAR": doc, "HAR with a BOM": b"\xef\xbb\xbf" + doc, "data after the HAR": doc + b"\n" + doc * 3,
             "gzip": gzip.compress(doc), "zlib": zlib.compress(doc), "gzip cut short": gzip.compress(doc)[:-20_000],
             "truncated JSON": doc[:len(doc) // 2]}
    paths = {name: tmp_path / f"{i}.har" for i, name in enumerate(files)}
    for name, data in files.items():
        paths[name].write_bytes(data)
    return paths | {"mitmproxy flows": write_flows(tmp_path / "flows.mitm")}


def test_the_tee_is_given_every_byte_of_the_file_once_in_order(tmp_path):
    # The import key hashes what the import reads: the file is read once (pixelspy/cli/sessions.py).
    for name, path in tee_files(tmp_path).items():
        given: list[bytes] = []
        result = har.load_file(path, Session(), tee=given.append)
        assert b"".join(given) == path.read_bytes(), name
        plain_session, plain = opened(path)
        assert (result.entries, result.hits, result.problems) == (plain.entries, plain.hits, plain.problems), name
        assert result.events == plain.events > 0, name


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b" \n\t", "the file is empty (only whitespace)"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "neither a HAR nor a mitmproxy flow file: binary data starting "
                                           "89 50 4e 47 0d 0a 1a 0a"),
    (b"\xff\xfe{\x00\"\x00l\x00", "neither a HAR nor a mitmproxy flow file: binary data starting "
                                   "ff fe 7b 00 22 00 6c 00"),  # UTF-16 (PowerShell's Out-File)
    (b"<html>nope</html>", "neither a HAR file (a JSON object) nor a mitmproxy flow file: it starts with "
                           "'<html>nope</html>'"),
    (b'"a HAR"', "neither a HAR file (a JSON object) nor a mitmproxy flow file: it starts with '\"a HAR\"'"),
    (b"[1, 2]", "not a HAR file: the JSON is a list, not an object"),
    (b'{"foo": 1}', "not a HAR file: no `log` object"),
    (b'{"log": 5}', "not a HAR file: `log` is a number, not an object"),
    (b'{"log": {"version": "1.2", "pages": []}}', "not a HAR file: no log.entries"),
    (b'{"log": {"entries": {}}}', "not a HAR file: log.entries is an object, not a list"),
    (b'{"log": {"entries": null}}', "not a HAR file: log.entries is null, not a list"),
    (b'{"log": {"entries": [}', "not valid JSON at byte 21: Expecting value"),
    ('{"log": {"c": "é", "entries": x}}'.encode(), "not valid JSON at byte 31: Expecting value"),
    (b'{"log": {"entr', "truncated JSON at byte 14"),
    (b'{"log": ', "truncated JSON at byte 8"),  # was "`log` is not an object"
    (b'{"log": {"entries": ', "truncated JSON at byte 20"),
    ('\ufeff{"log": {"c": "ééé", "entries": [{"a": "é'.encode(), "truncated JSON at byte 48"),  # bytes, not characters
    (gzip.compress(b'{"log": {"entries": [{"request'), "truncated JSON at byte 30 of the uncompressed data"),
    (gzip.compress(b""), "the gzip data (uncompressed) is empty"),
])
def test_unreadable_files_say_exactly_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "f.har"
    path.write_bytes(content)
    with pytest.raises(har.HarReadError) as e:
        opened(path)
    assert str(e.value) == message


def test_truncated_file_keeps_the_entries_before_the_cut(tmp_path):
    full = json.dumps(chrome_har([CHROME_ENTRY, FIREFOX_ENTRY]))
    cut = full[: full.index('"pageref": "page_1"') + 10]
    s, result = opened(write(tmp_path, cut))
    assert [ev.event for ev in s] == ["Purchase"]
    assert result.problems == [f"log.entries[1]: truncated JSON at byte {len(cut.encode())}; "
                               "the entries before it were read"]


def test_data_after_the_har_is_a_problem_not_silently_dropped(tmp_path):
    text = json.dumps(chrome_har([CHROME_ENTRY]))
    s, result = opened(write(tmp_path, text + "\n" + text))
    assert [ev.event for ev in s] == ["Purchase"]
    assert result.problems == [f"data after the HAR's JSON, from byte {len(text) + 1} on, was not read"]


async def test_the_tui_and_no_ui_say_the_same_about_an_unreadable_file(tmp_path, capsys):
    from pixelspy import cli
    from pixelspy.tui.app import PixelSpyApp

    path = tmp_path / "cut.har"
    path.write_text('{"log": {"entries": [{"request": {"url": "https://ww')
    assert cli.main(["open", "--no-ui", str(path)]) == 2
    said = capsys.readouterr().err.strip()
    assert said == f"pixelspy: {path}: truncated JSON at byte {path.stat().st_size}"
    app = PixelSpyApp(Session(), None, load=path)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if app._notifications:
                break
        shown = [n.message for n in app._notifications]
    assert shown == [said.removeprefix("pixelspy: ")]


def test_an_entry_that_is_not_valid_json_is_skipped_and_the_next_ones_read(tmp_path):
    good = json.dumps(CHROME_ENTRY)
    text = '{"log": {"entries": [' + good + ', {"request": {"url": "x" "y"}}, ' + good + "]}}"
    s, result = opened(write(tmp_path, text))
    assert [ev.event for ev in s] == ["Purchase", "Purchase"]
    assert len(result.problems) == 1 and result.problems[0].startswith("log.entries[1]: not valid JSON at byte ")
    assert result.problems[0].endswith(": Expecting ',' delimiter; entry skipped")


@pytest.mark.parametrize("indent", [None, 2])  # one line (cut between tokens) or an indented export
def test_broken_entries_across_reads_are_named_at_their_byte_and_skipped(tmp_path, monkeypatch, indent):
    monkeypatch.setattr(har.json_text, "READ_CHUNK", 64)  # every entry spans several reads
    good = json.dumps(CHROME_ENTRY, indent=indent)
    broken = ['{"request": {"url": "x", tru}}', '{"request": {"x": ' + "1" * 5000 + "}}",  # (a number Python refuses)
              r'{"request": {"url": "]}{\"", "x": [1 2]}}']  # (brackets and a quote in a string)
    text = '{"log": {"entries": [' + ", ".join([good, broken[0], good, broken[1], broken[2], good]) + "]}}"
    s, result = opened(write(tmp_path, text))
    assert [ev.event for ev in s] == ["Purchase"] * 3
    at = text.index("tru}")
    assert result.problems[0] == (f"log.entries[1]: not valid JSON at byte {at}: Expecting property name "
                                  "enclosed in double quotes; entry skipped")
    assert [p.split(":")[0] for p in result.problems] == ["log.entries[1]", "log.entries[3]", "log.entries[4]"]


def test_missing_file():
    with pytest.raises(har.HarReadError, match="No such file"):
        opened(Path("/nonexistent/x.har"))


def test_streaming_reader_reads_entries_across_buffer_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr(har.json_text, "READ_CHUNK", 64)  # every entry spans several reads
    entries = [{**CHROME_ENTRY, "startedDateTime": f"2023-11-14T22:13:{i:02d}.000Z",
                "request": {**CHROME_ENTRY["request"], "postData": {
                    "mimeType": "application/x-www-form-urlencoded",
                    "text": f"id={PIXEL}&ev=Purchase&eid=o-{i}&cd[value]={i}.5&cd[currency]=EUR"}}}
               for i in range(40)]
    text = "\ufeff" + json.dumps(chrome_har(entries), indent=3).replace('"log"', '"log" ')  # BOM, whitespace
    seen = []
    s = Session()
    result = har.load_file(write(tmp_path, text), s, progress=lambda *a: seen.append(a))
    assert [ev.event_id for ev in s] == [f"o-{i}" for i in range(40)] and result.problems == []
    assert seen[-1] == ("decode", 40, 40) and any(p[0] == "read" for p in seen)


async def test_async_load_gives_the_loop_turns(tmp_path):
    s = Session()
    path = write(tmp_path, chrome_har([CHROME_ENTRY] * 5))
    result = await har.load_file_async(path, s, batch=2)
    assert result.events == 5


def test_har_recorder_writes_mitmproxy_entries_with_events(tmp_path):
    """The live recorder, fed real mitmproxy flows: responses and timings from mitmproxy's HAR
    support, the request byte-exact from the hit, the events embedded."""
    from mitmproxy import http
    from mitmproxy.test import tflow

    from pixelspy.flows import raw_hit

    s = Session()
    out = tmp_path / "live.har"
    rec = har.HarRecorder(s, out, max_entries=2)
    for i, ev in enumerate(["PageView", "AddToCart", "Purchase"]):
        f = tflow.tflow(resp=True)
        f.request = http.Request.make("GET", f"https://www.facebook.com/tr/?id={PIXEL}&ev={ev}&cd[value]=1&cd[currency]=EUR",
                                      b"", {"cookie": "sid=abc123456"})
        f.request.timestamp_start = T0 + i
        f.response = http.Response.make(200, b"GIF89a\x01\x00\x01\x00", {"content-type": "image/gif"})
        f.metadata["pixelspy"] = [e.id for e in s.ingest(raw_hit(f))]
        rec.response(f)
    other = tflow.tflow(resp=True)
    rec.response(other)  # not tracking, and not --har-all: not recorded
    assert len(rec) == 2  # bounded: the oldest went
    rec.write(out)
    doc = json.loads(out.read_text())
    first, second = doc["log"]["entries"]
    assert first["response"]["status"] == 200 and first["response"]["content"]["encoding"] == "base64"
    assert set(first["timings"]) >= {"send", "wait", "receive"}
    assert {"name": "cookie", "value": "sid=REDACTED"} in first["request"]["headers"]
    assert [line["event"] for e in (first, second) for line in e["_pixelspy"]["events"]] == ["AddToCart", "Purchase"]
    # A later change to an event (e.g. a settled finding) reaches the next `write` (Ctrl+S), which
    # renders the kept entries anew.
    purchase = next(ev for ev in s if ev.event == "Purchase")
    purchase.findings = []
    rec.write(out)
    assert json.loads(out.read_text())["log"]["entries"][1]["_pixelspy"]["events"][0]["findings"] == []


def test_redaction_finds_personal_data_encoded_twice_and_keeps_its_shape(tmp_path):
    # The page URL carries the email (and phone) percent-encoded; the pixel encodes the whole URL
    # again as `dl`, so the hit holds alice%2540shop.com and %252B49%2520170…
    page = "https://shop.example/thanks?email=alice%40shop.com&tel=%2B49%20170%209988776&order=77"
    s = Session()
    s.ingest(meta_get(T0, ev="Purchase", dl=page, **{"cd[value]": "5", "cd[currency]": "EUR"}))
    assert "alice%2540shop.com" in next(iter(s.hits.values())).url
    before = {(f.code, f.severity) for ev in s for f in ev.findings}
    assert ("pii-leak", "error") in before
    path = tmp_path / "r.har"
    har.save_har(s, path)
    text = path.read_text()
    for secret in ("alice", "shop.com", "9988776"):
        assert secret not in text, secret
    entry = json.loads(text)["log"]["entries"][0]
    dl = dict((p["name"], p["value"]) for p in entry["request"]["queryString"])["dl"]
    # Masked as written: escapes of punctuation stay, so it decodes to an email and a phone as before.
    assert dl == "https://shop.example/thanks?email=xxxxx%40xxxx.xxx&tel=%2B00%20000%200000000&order=77"
    opened = Session()
    har.load_file(path, opened)
    assert {(f.code, f.severity) for ev in opened for f in ev.findings} == before


@pytest.mark.parametrize("written, masked", [
    ("alice%252540shop.com", "xxxxx%252540xxxx.xxx"),  # three times
    ("%61lice%40shop.com", "xxxxx%40xxxx.xxx"),  # an escaped letter is masked too
    ("%252B4915112345678", "%252B0000000000000"),
    ("a=%2B49+151+12345678&b=1", "a=%2B00+000+00000000&b=1"),  # a form's "+" spaces
])
def test_masking_encoded_values_keeps_their_encoding(written, masked):
    hit = RawHit(method="GET", url="https://www.facebook.com/tr/?id=1")
    assert har.redact.EntryRedactor(hit, []).text(written) == masked

def tracked_flow(s: Session, i: int, response=None):
    """A mitmproxy flow of a Meta PageView, decoded into `s` by the PixelSpy addon's own hook."""
    from mitmproxy import http
    from mitmproxy.test import tflow

    from pixelspy.addon import PixelSpy
    from pixelspy.flows import raw_hit

    f = tflow.tflow(resp=True)
    f.request = http.Request.make("GET", f"https://www.facebook.com/tr/?id={PIXEL}&ev=PageView&eid=pv-{i}", b"",
                                  {"accept": "image/*"})
    f.request.timestamp_start = T0 + i
    f.response = response or http.Response.make(200, b"GIF89a\x01\x00\x01\x00", {"content-type": "image/gif"})
    PixelSpy(s)._ingest(f, raw_hit(f))
    return f


def test_recorded_response_bodies_are_decoded_with_a_cap():
    """mitmproxy's make_har inflates bodies whole (`.content`): the recorder hands it a copy whose
    body is decoded with a cap, and notes what it cut or could not decode."""
    import brotli
    from mitmproxy import http
    from mitmproxy.flow import Error as flow_error

    s = Session()
    page = b"<html>" + b" " * (4 << 20) + b"</html>"  # 4 MB of text: 4 KB of brotli
    cases = {
        "bomb": ({"content-encoding": "br", "content-type": "text/html"}, brotli.compress(page)),
        "broken": ({"content-encoding": "gzip", "content-type": "text/plain"}, b"not gzip at all"),
        "fine": ({"content-encoding": "gzip", "content-type": "application/json"}, gzip.compress(b'{"ok": true}')),
    }
    entries = {}
    for i, (name, (headers, raw)) in enumerate(cases.items()):
        response = http.Response.make(200, b"", headers)
        response.raw_content = raw  # as it came (`make` would encode it again)
        entries[name] = har.flow_entry(tracked_flow(s, i, response))["response"]
    bomb = entries["bomb"]
    assert bomb["content"]["text"] == (b"<html>" + b" " * (har.MAX_RESPONSE_TEXT - 6)).decode()
    assert bomb["content"]["comment"] == ("body truncated by pixelspy: it decodes to more than 256 KB; "
                                          "the first 256 KB are kept")
    assert bomb["bodySize"] == len(cases["bomb"][1]) and "compression" not in bomb["content"]
    assert {"name": "content-encoding", "value": "br"} in bomb["headers"]  # as sent
    broken = entries["broken"]["content"]
    assert broken["text"] == "not gzip at all" and broken["comment"].startswith("body kept as sent, not decoded")
    fine = entries["fine"]
    assert fine["content"]["text"] == '{"ok": true}' and "comment" not in fine["content"]
    assert fine["content"]["size"] == 12 and fine["content"]["compression"] == 12 - fine["bodySize"]
    failed = tracked_flow(s, 3)
    failed.response, failed.error = None, flow_error("connection refused")
    assert har.flow_entry(failed)["response"]["_error"] == "connection refused"


async def test_recorder_writes_its_file_at_exit_and_a_cut_file_keeps_the_entries_before_the_cut(tmp_path):
    """--har with --har-all or --no-session: the file starts without entries, and is written at exit
    with every flow recorded, one that finished just before too, each once. A file cut in the middle
    of an entry (a copy interrupted, a crashed exporter) still opens with the entries before the cut."""
    s = Session()
    out = tmp_path / "live.har"
    rec = har.HarRecorder(s, out)
    rec.open("pixelspy writes the entries when it exits.")
    started = json.loads(out.read_text())["log"]
    assert started["entries"] == [] and started["comment"].endswith(" pixelspy writes the entries when it exits.")
    for i in range(3):
        rec.response(tracked_flow(s, i))
    flow = tracked_flow(s, 3)
    rec.response(flow)
    rec.error(flow)  # an error after the response: the flow is recorded once
    await rec.done()  # (after_hook records a flow two turns after its hook)
    assert rec.write_file() == 4
    text = out.read_bytes()
    assert [e["request"]["url"][-4:] for e in json.loads(text)["log"]["entries"]] == ["pv-0", "pv-1", "pv-2", "pv-3"]

    cut = tmp_path / "cut.har"
    at = text.index(b"pv-3")  # in the middle of the fourth entry
    cut.write_bytes(text[:at])
    reader = har.FileReader(cut)
    assert [h.url[-4:] for h in reader] == ["pv-0", "pv-1", "pv-2"]
    assert reader.problems == [f"log.entries[3]: truncated JSON at byte {at}; the entries before it were read"]


def test_recorder_memory_is_bounded_in_bytes_too():
    """The entries kept for Ctrl+S: at most max_entries, and at most max_bytes of bodies (--har-all
    pages of 256 KB each would otherwise hold GBs)."""
    from mitmproxy import http

    s = Session()
    rec = har.HarRecorder(s, None, all_traffic=True, max_bytes=600_000)
    for i in range(4):
        rec.response(tracked_flow(s, i, http.Response.make(200, b"x" * 300_000, {"content-type": "text/html"})))
    assert len(rec) == 2  # two 256 KB texts fit, not three


def meta_flow(s: Session, t: float, query: str, url: str = f"https://www.facebook.com/tr/?id={PIXEL}&"):
    """A mitmproxy flow of a tracking hit from Chrome (Meta /tr by default), decoded into `s` by the
    PixelSpy addon's own hook."""
    from mitmproxy import http
    from mitmproxy.test import tflow

    from pixelspy.addon import PixelSpy

    f = tflow.tflow(resp=True)
    f.request = http.Request.make("GET", url + query, b"",
                                  {"accept": "image/*", "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0"})
    f.request.timestamp_start = t
    f.response = http.Response.make(200, b"GIF89a\x01\x00\x01\x00", {"content-type": "image/gif"})
    PixelSpy(s).request(f)  # (no event loop runs: decoded at once)
    return f


class Recorded:
    """A live session as --har records it, fed the same flows: into the session file with the answers
    (StoreWriter, RecordAnswers: --har exports from it) and into the in-memory recorder (--har-all,
    --no-session)."""

    SOURCES = ("session file", "recorder")

    def __init__(self, session: Session, folder: Path):
        from pixelspy.proxy import RecordAnswers
        from pixelspy.store.writer import StoreWriter

        self.session = session
        self.recorder = har.HarRecorder(session)
        self.writer = StoreWriter(session, folder / "live.pixelspy")
        self.writer.open()
        self.writer.attach()
        self.answers = RecordAnswers(self.writer)

    def response(self, flow) -> None:
        self.recorder.response(flow)
        self.answers.response(flow)

    def write(self, out: Path, source: str, redact: bool = True) -> int:
        if source == "recorder":
            return self.recorder.write(out, redact)
        return self.writer.export_har(out, redact)


def twin_flows(s: Session, t: float) -> list:
    """X's beacon and its t.co copy: one event, the copy's hit id in its twins."""
    x = "p_id=Twitter&p_user_id=0&txn_id=o87ne&events=%5B%5B%22pageview%22%2Cnull%5D%5D"
    return [meta_flow(s, t, x + "&tw_document_href=https%3A%2F%2Fshop.example%2F", url="https://analytics.twitter.com/i/adsct?"),
            meta_flow(s, t + 0.01, x, url="https://t.co/i/adsct?")]


@pytest.mark.parametrize("source", Recorded.SOURCES)
def test_a_reopened_recording_keeps_the_live_event_and_hit_ids(tmp_path, source):
    from tests.test_check_command import run

    live = Session()
    recorded = Recorded(live, tmp_path)
    for i, query in enumerate(["ev=PageView", "ev=Purchase&eid=ord-1&cd[value]=5&cd[currency]=EUR",
                               "ev=Purchase&eid=ord-1&cd[value]=5&cd[currency]=EUR"]):
        live.ingest(RawHit(method="GET", url=f"https://shop.example/p{i}", client="127.0.0.1"))  # not tracking
        recorded.response(meta_flow(live, T0 + i, query))
    for flow in twin_flows(live, T0 + 3):
        recorded.response(flow)
    assert [ev.twins for ev in live][-1]
    out = tmp_path / "live.har"
    recorded.write(out, source)
    seen = [(ev.id, ev.hit_id, ev.event, ev.device, [f.related for f in ev.findings], ev.twins) for ev in live]
    duplicate = [ev.id for ev in live if any(f.code == "duplicate-event" for f in ev.findings)]
    assert len(duplicate) == 2

    opened = Session()
    har.load_file(out, opened)
    assert [(ev.id, ev.hit_id, ev.event, ev.device, [f.related for f in ev.findings], ev.twins)
            for ev in opened] == seen
    assert set(opened.hits) == {ev.hit_id for ev in live}
    report = run(str(out), "--format", "text", cwd=tmp_path).stdout
    assert all(i in report for i in duplicate), report  # in one group: "event ids: e…, e…"
    recorded.writer.close()


@pytest.mark.parametrize("redact", [True, False], ids=["redacted", "not-redacted"])
def test_har_exported_from_the_session_file_is_what_the_recorder_writes(tmp_path, redact):
    """--har exports from the session file what the in-memory recorder writes, entry for entry:
    answers and timings from mitmproxy, requests, events with their findings, twins' entries,
    marks, redaction; a hit that got no answer (the client left) too."""
    from mitmproxy.flow import Error as FlowError

    from pixelspy.session import Mark

    live = Session()
    recorded = Recorded(live, tmp_path)
    queries = ["ev=PageView&dl=https%3A%2F%2Fshop.example%2F%3Femail%3Djane%2540example.com",
               "ev=AddToCart&cd[value]=5&cd[currency]=EUR", "ev=AddToCart&cd[value]=5&cd[currency]=EUR"]
    flows = [meta_flow(live, T0 + i, query) for i, query in enumerate(queries)]
    flows += twin_flows(live, T0 + 3)
    flows[1].response, flows[1].error = None, FlowError("client disconnected")
    for flow in flows:
        recorded.response(flow)
    live.add_marks([Mark("clicked Buy, jane@example.com", T0 + 2.5)])
    assert any(f.code == "duplicate-event" for ev in live for f in ev.findings)
    assert recorded.write(tmp_path / "recorder.har", "recorder", redact) == 5
    assert recorded.write(tmp_path / "store.har", "session file", redact) == 5
    recorder, store = (json.loads((tmp_path / name).read_text()) for name in ("recorder.har", "store.har"))
    assert store == recorder
    assert ("jane" in json.dumps(store)) is not redact
    assert store["log"]["entries"][1]["response"]["_error"] == "client disconnected"
    recorded.writer.close()


def test_kept_ids_never_collide_and_bogus_ones_are_replaced(tmp_path):
    from pixelspy.model import new_id

    def entry(t: float, ev: str, ids: list) -> dict:
        return {"startedDateTime": har.format.iso(t), "_pixelspy": {"client": "10.0.0.2", "events": ids},
                "request": {"method": "GET", "url": f"https://www.facebook.com/tr/?id={PIXEL}&ev={ev}",
                            "headers": []}}

    doc = {"log": {"entries": [
        entry(T0, "PageView", [{"id": "e900000001", "hit_id": "h900000000", "platform": "meta", "event": "PageView"}]),
        # the same ids again (two recordings pasted together), bogus ones, and another event's id
        entry(T0 + 1, "PageView", [{"id": "e900000001", "hit_id": "h900000000", "platform": "meta",
                                    "event": "PageView"}]),
        entry(T0 + 2, "Lead", [{"id": ["e1"], "hit_id": {"x": 1}}]),
        entry(T0 + 3, "Lead", [{"id": "e12; rm -rf", "hit_id": "\x1b[2J"}]),
        entry(T0 + 4, "Purchase", [{"id": "e900000005", "platform": "meta", "event": "Lead"}]),
    ]}}
    s = Session()
    result = har.load_file(write(tmp_path, doc), s)
    assert result.problems == [] and result.events == 5
    ids = [ev.id for ev in s]
    assert ids[0] == "e900000001" and len(set(ids)) == 5
    assert all(int(i[1:]) > 900000005 for i in ids[1:])
    assert len(s.hits) == 5 and "h900000000" in s.hits
    assert int(new_id("e")[1:]) > 900000005


# ------------------------------------------------------------------------------------------ marks


@pytest.mark.parametrize("source", Recorded.SOURCES)
def test_recorded_marks_come_back_and_clearing_the_session_keeps_them(tmp_path, source):
    """Marks go into the --har file, and `open` puts them back in the session. Clearing the session
    (x in the TUI) keeps the file's marks, as it keeps its entries."""
    from pixelspy.session import Mark

    s = Session()
    recorded = Recorded(s, tmp_path)
    recorded.response(tracked_flow(s, 0))
    s.add_marks([Mark("clicked Buy", T0 + 0.5)])
    s.clear()
    recorded.response(tracked_flow(s, 1))
    s.add_marks([Mark("paid", T0 + 1.5)])
    out = tmp_path / "live.har"
    recorded.write(out, source)
    assert json.loads(out.read_text())["log"][har.MARKS_KEY][0] == {"label": "clicked Buy",
                                                                    "time": "2023-11-14T22:13:20.750000+00:00"}
    reopened, result = opened(out)
    assert [m.label for m in reopened.marks] == ["clicked Buy", "paid"] and not result.problems
    assert reopened.marks[0].time == pytest.approx(T0 + 0.5) and len(reopened) == 2
    recorded.writer.close()


def test_saved_file_keeps_the_marks_and_a_recorder_write_too(tmp_path):
    from pixelspy.session import Mark

    s = a_session()
    s.add_marks([Mark("checkout done", T0 + 1.1)])
    save = tmp_path / "saved.har"
    har.save_har(s, save)
    assert opened(save)[0].marks == [Mark("checkout done", T0 + 1.1)]
    rec = har.HarRecorder(s, None)
    rec.write(tmp_path / "ctrl-s.har")
    assert opened(tmp_path / "ctrl-s.har")[0].marks == s.marks


def test_a_redacted_file_masks_personal_data_typed_into_a_mark(tmp_path):
    from pixelspy.session import Mark

    s = a_session()
    s.add_marks([Mark("logged in as bob@shop.example, +49 170 1234567", T0 + 1.1)])
    har.save_har(s, tmp_path / "redacted.har")
    assert opened(tmp_path / "redacted.har")[0].marks[0].label == "logged in as xxx@xxxx.xxxxxxx, +00 000 0000000"
    har.save_har(s, tmp_path / "kept.har", redact=False)
    assert opened(tmp_path / "kept.har")[0].marks == s.marks


def test_hostile_marks_are_bounded_and_the_file_still_opens(tmp_path):
    """Millions of marks, labels that are not strings, megabyte labels, times that are no times: the
    entries are read, at most MAX_MARKS marks kept, labels cut, one note."""
    from pixelspy.session import MAX_MARK_LABEL, MAX_MARKS

    good = {"label": "ok", "time": "2023-11-14T22:13:21+00:00"}
    bad = [{"label": 7, "time": good["time"]}, {"label": ["x"]}, {"label": "no time"}, "text", None,
           {"label": "bad time", "time": "yesterday"}, {"label": "x" * 1_000_000, "time": good["time"]}]
    marks = bad + [good] * (MAX_MARKS + 5_000)
    doc = {"log": {"entries": [har.render_entry(meta_get(T0, ev="PageView"), [], None, False)],
                   har.MARKS_KEY: marks}}
    s, result = opened(write(tmp_path, doc))
    assert len(s) == 1 and len(s.marks) == MAX_MARKS
    assert len(s.marks[0].label) == MAX_MARK_LABEL and s.marks[1].label == "ok"
    assert result.problems == [f"log.{har.MARKS_KEY}: 5,007 marks skipped (not a label and a time, "
                               f"or over {MAX_MARKS:,})"]
    doc["log"][har.MARKS_KEY] = {"label": "not a list"}
    s, result = opened(write(tmp_path, doc))
    assert len(s) == 1 and not s.marks and "not a list" in result.problems[0]


def test_what_the_file_says_of_pages_reaches_the_hits(tmp_path, monkeypatch):
    monkeypatch.setattr(har.entries, "MAX_PAGEREFS", 2)
    get = {"method": "GET", "url": "https://shop.example/", "headers": []}
    entries = [{"request": get, "_resourceType": "document", "pageref": "p1"},
               {"request": get, "_resourceType": "Script", "pageref": "p2"},
               {"request": get, "pageref": "p2"}, {"request": get, "pageref": "p3"},
               {"request": get, "pageref": "p3"}, {"request": get, "pageref": "p4"},
               {"request": get, "pageref": "p2"},  # forgotten (bound 2): read as a new page
               {"request": get, "pageref": ["p5"]}, {"request": get, "_resourceType": 7}, {"request": get}]
    hits = list(har.iter_har_hits(write(tmp_path, {"log": {"entries": entries}})))
    assert [h.navigation for h in hits] == [True, False, True, True, None, True, True, None, None, None]


# ------------------------------------------------------- the quick runs of entries and the walk


def walked(text: str, fast: bool, monkeypatch) -> list[tuple[str, object]]:
    """The items of a HAR's JSON as the reader walks them, with or without quick runs (fast.py)."""
    from pixelspy.har.walk import HarWalk
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(HarWalk, "_may_go_fast", lambda self, piece: False)
        return [(item.skipped, item.value) for item in HarWalk(io.BytesIO(text.encode()))]


def entries_doc(entries: list[str], layout: str) -> str:
    sep = {"line": ",\n", "minified": ",", "indented": ",\n    "}[layout]
    return '{"log": {"version": "1.2", "pages": [], "entries": [' + sep.join(entries) + '], "_pixelspy_marks": []}}'


def a_good_entry(i: int, layout: str) -> str:
    entry = {**CHROME_ENTRY, "startedDateTime": f"2023-11-14T22:{i // 60 % 60:02d}:{i % 60:02d}.000Z",
             "timings": {"wait": i + 0.5}, "response": {"content": {"mimeType": "text/plain", "text": "x" * 900}}}
    return json.dumps(entry, indent=2 if layout == "indented" else None)


BROKEN = '{"request": {"url": "x", tru}}'
ODD = {  # entries a run leaves to the walk, each read (or skipped) as the walk reads it
    "broken": BROKEN,
    "lone surrogate": '{"request": {"url": "https://www.facebook.com/tr/?id=\\ud800"}}',
    "NaN": '{"request": {"url": "https://a.example/"}, "time": NaN}',
    "integer over 64 bits": '{"request": {"url": "https://a.example/"}, "time": 123456789012345678901}',
    "float overflow": '{"request": {"url": "https://a.example/"}, "time": 1e400}',
    "deep": '{"request": {"url": "https://a.example/", "x": ' + "[" * 2000 + "]" * 2000 + "}}",
    "2 MB body": '{"request": {"url": "https://a.example/", "postData": {"text": "' + "b" * (2 << 20) + '"}}}',
    "scalar": '"not an entry"',
}


YAJL_ONLY = ("NaN", "integer over 64 bits", "float overflow")  # what Python's json reads and yajl refuses


def normal_bytes(items: list) -> list:
    return [(re.sub(r"at byte \d+", "at byte N", skipped), value) for skipped, value in items]


@pytest.mark.parametrize("layout", ["line", "minified", "indented"])
@pytest.mark.parametrize("odd", list(ODD))
@pytest.mark.parametrize("where", ["first", "after a long run", "last"])
def test_quick_runs_read_every_entry_as_the_walk_does(monkeypatch, layout, odd, where):
    # A broken or odd entry as the first, after 500 good ones (past the first read of 1 MB), or as the last.
    good = [a_good_entry(i, layout) for i in range({"first": 20, "after a long run": 500, "last": 20}[where])]
    at = {"first": 0, "after a long run": len(good) - 10, "last": len(good)}[where]
    text = entries_doc(good[:at] + [ODD[odd]] + good[at:], layout)
    items = walked(text, True, monkeypatch)
    if odd in YAJL_ONLY:  # (yajl's message is placed at the start of the piece: a run's is nearer)
        items, slow = (normal_bytes(items), normal_bytes(walked(text, False, monkeypatch)))
        assert items == slow
    else:
        assert items == walked(text, False, monkeypatch)
    assert len(items) == len(good) + 1
    assert all(not skipped and value["startedDateTime"] for skipped, value in items[:at] + items[at + 1:])
    if odd in ("broken", "NaN", "integer over 64 bits", "float overflow", "deep"):
        assert items[at][0], items[at]  # skipped, and why
    else:
        assert not items[at][0]


def test_a_broken_entry_in_a_run_is_named_at_its_byte_and_the_entries_after_it_are_read(tmp_path):
    good = [json.dumps({**CHROME_ENTRY, "startedDateTime": f"2023-11-14T22:13:{i % 60:02d}.000Z"})
            for i in range(2000)]
    text = entries_doc(good[:1990] + [BROKEN] + good[1990:] + [BROKEN], "minified")
    assert len(text) > 2 << 20  # (the first broken entry is in a run, past the first read)
    reader = har.FileReader(write(tmp_path, text))
    assert len(list(reader)) == 2000
    first, last = text.index("tru}"), text.rindex("tru}")
    assert reader.problems == [
        f"log.entries[1990]: not valid JSON at byte {first}: Expecting property name enclosed in double quotes; "
        "entry skipped",
        f"log.entries[2001]: not valid JSON at byte {last}: Expecting property name enclosed in double quotes; "
        "entry skipped"]


@pytest.mark.parametrize("sep", [",\n", ","])
def test_a_run_counts_bytes_not_characters(sep):
    from pixelspy.har.walk import HarWalk
    good = json.dumps({"request": {"url": "https://a.example/é"}}, ensure_ascii=False)  # 2 bytes, 1 character
    text = ('{"log": {"entries": [' + sep.join([good] * 30_000 + [BROKEN] + [good] * 5) + "]}}").encode()
    items = list(HarWalk(io.BytesIO(text)))
    assert len(items) == 30_006 and items[-1].value == json.loads(good)
    assert [item.skipped for item in items if item.skipped] == [
        f"not valid JSON at byte {text.index(b'tru}')}: Expecting property name enclosed in double quotes"]


@pytest.mark.parametrize("escapes", [0, 3, 300])  # (past 256 escapes the regex looks at the rest)
def test_a_run_finds_a_surrogates_escape_where_the_regex_does(escapes):
    from pixelspy.har import fast
    rng = __import__("random").Random(escapes)
    for _ in range(300):
        text = "\\n" * escapes + "".join(rng.choice(["\\", "u", "d", "D", "8", "b", "x", '"', "\\\\"])
                                        for _ in range(rng.randrange(12)))
        start = rng.randrange(len(text) + 1)
        assert fast._surrogate_in(text, start) == bool(fast._SURROGATE.search(text, start)), (text, start)


def test_a_long_line_after_a_short_one_comes_in_pieces_no_longer_than_a_read():
    # (a piece longer than a run keeps sends the next 32 MB to the walk: the header on a line of its
    # own, then every entry on one line, made the first piece two reads long)
    from pixelspy.har.json_text import READ_CHUNK, Pieces
    text = b'{"log": {"entries": [\n' + b",".join([b'{"a": "' + b"x" * 1000 + b'", "n": 12}'] * 3000) + b"]}}"
    cut, pieces = Pieces(), []
    for at in range(0, len(text), READ_CHUNK):
        pieces += cut.cut(text[at:at + READ_CHUNK], at, 1 << 26, READ_CHUNK)
    pieces += cut.rest()
    assert b"".join(piece.data for piece in pieces) == text
    assert [piece.offset for piece in pieces] == [sum(len(p.data) for p in pieces[:i]) for i in range(len(pieces))]
    assert max(len(piece.data) for piece in pieces) <= READ_CHUNK


def test_har_all_with_a_session_file_keeps_the_findings_of_events_memory_let_go(tmp_path, monkeypatch):
    """--har-all with a session file: memory keeps few events, the recorder's entries still carry theirs."""
    import pixelspy.session as session_module
    from pixelspy.store.writer import StoreWriter

    monkeypatch.setattr(session_module, "MAX_EVENTS_WITH_FILE", 2)
    s = Session()
    writer = StoreWriter(s, tmp_path / "live.pixelspy")
    writer.open()
    writer.attach()
    rec = har.HarRecorder(s, tmp_path / "live.har", all_traffic=True)
    for i in range(5):
        rec.response(tracked_flow(s, i))
        writer.flush()
    assert len(s) == 2
    rec.write_file()
    writer.close()
    entries = json.loads((tmp_path / "live.har").read_text())["log"]["entries"]
    assert [e["_pixelspy"]["events"][0]["event"] for e in entries] == ["PageView"] * 5
