"""The vendors' official server SDKs send real events through `pixelspy --no-ui --sink`, set up exactly
as docs/server-side.md says: through the proxy (`eval "$(pixelspy ca --bundle)"` plus the per-SDK
settings) and through reverse mode (the SDK's base URL pointed at a `--mode reverse:URL@PORT`
listener; five vendors on one pixelspy). Sink mode answers every call locally with the vendor's
success answer, so nothing reaches the vendors and the SDKs return normally.

Each SDK runs in its own Python subprocess (a backend as a user runs it), all at once in threads.
An SDK that is not installed (the `sdk` extra) skips its test.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import shlex
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pixelspy import cli
from tests.conftest import PixelspyProcess, free_port

META_PIXEL = "1234567890123456"
TIKTOK_PIXEL = "CQ1ABCDEFGHIJKLMNOPQ"
PIN_ACCOUNT = "549755885175"
X_PIXEL = "o8z6j"
SHA = "a" * 64  # an already hashed email

# module to import → (vendor URL for reverse mode, SDK source run as the backend)
SDKS: dict[str, tuple[str, str]] = {}

SDKS["facebook_business"] = ("https://graph.facebook.com", f"""
import asyncio, os, time
from facebook_business.api import FacebookAdsApi
from facebook_business.session import FacebookSession
from facebook_business.adobjects.serverside.action_source import ActionSource
from facebook_business.adobjects.serverside.custom_data import CustomData
from facebook_business.adobjects.serverside.event import Event
from facebook_business.adobjects.serverside.event_request import EventRequest
from facebook_business.adobjects.serverside.event_request_async import EventRequestAsync
from facebook_business.adobjects.serverside.user_data import UserData

REVERSE = os.environ.get("VENDOR_BASE")
if REVERSE:  # reverse mode: the Graph API base URL is a class attribute
    FacebookSession.GRAPH = REVERSE
FacebookAdsApi.init(access_token="EAAB-secret-token", app_secret="app-secret", crash_log=False)

def event(name, event_id, value):
    return Event(event_name=name, event_time=int(time.time()), event_id=event_id,
                 action_source=ActionSource.WEBSITE, event_source_url="https://shop.example/thanks",
                 user_data=UserData(emails=["joe@example.com"], client_ip_address="203.0.113.7",
                                    client_user_agent="Mozilla/5.0"),
                 custom_data=CustomData(value=value, currency="EUR", content_ids=["sku-1"]))

if REVERSE:
    EventRequest(pixel_id="{META_PIXEL}", events=[event("Purchase", "rev-1", 19.5)]).execute()
    # The aiohttp path ignores proxies and system CAs; reverse mode still sees it.
    asyncio.run(EventRequestAsync(pixel_id="{META_PIXEL}", events=[event("Lead", "rev-async", 2.5)]).execute())
else:
    r = EventRequest(pixel_id="{META_PIXEL}", events=[event("Purchase", "order-1", 49.9)]).execute()
    assert r.events_received == 1, r
    EventRequest(pixel_id="{META_PIXEL}", events=[event("Lead", "lead-1", 5), event("Purchase", "order-2", 10)],
                 test_event_code="TEST123").execute()
""")

SDKS["business_api_client"] = ("https://business-api.tiktok.com", f"""
import os
import business_api_client
from business_api_client.api.event_callback_api import EventCallbackApi
from business_api_client.models import (PixelBatchBody, PixelbatchBatch, PixelContent, PixelContext,
                                        PixelContextPage, PixelContextUser, PixelProperties, PixelTrackBody)

cfg = business_api_client.Configuration()
if os.environ.get("VENDOR_BASE"):  # reverse mode
    cfg.host = os.environ["VENDOR_BASE"]
else:  # the generated urllib3 client reads neither HTTPS_PROXY nor a CA variable
    cfg.proxy = os.environ["HTTPS_PROXY"]
    cfg.ssl_ca_cert = os.environ["REQUESTS_CA_BUNDLE"]
client = business_api_client.ApiClient(cfg)
api = EventCallbackApi(client)
context = PixelContext(page=PixelContextPage(url="https://shop.example/thanks"),
                       user=PixelContextUser(email="{SHA}"), ip="203.0.113.7", user_agent="Mozilla/5.0")

def props(value):
    return PixelProperties(value=value, currency="EUR", contents=[PixelContent(content_id="sku-1", quantity=1)])

if os.environ.get("VENDOR_BASE"):
    api.pixel_track("tt-access-token", body=PixelTrackBody(
        pixel_code="{TIKTOK_PIXEL}", event="CompletePayment", event_id="rev-1",
        timestamp="2026-11-25T12:00:00Z", context=context, properties=props(19.5)))
else:
    api.pixel_track("tt-access-token", body=PixelTrackBody(
        pixel_code="{TIKTOK_PIXEL}", event="CompletePayment", event_id="order-1",
        timestamp="2026-11-25T12:00:00Z", context=context, properties=props(49.9)))
    api.pixel_batch("tt-access-token", body=PixelBatchBody(pixel_code="{TIKTOK_PIXEL}", batch=[
        PixelbatchBatch(event="SubmitForm", event_id="lead-1", timestamp="2026-11-25T12:00:00Z",
                        context=context, properties=props(5)),
        PixelbatchBatch(event="CompletePayment", event_id="order-2", timestamp="2026-11-25T12:00:00Z",
                        context=context, properties=props(10))]))
    # Events API 2.0 (/event/track/) has no SDK method: the SDK's own transport posts it.
    client.call_api("/open_api/v1.3/event/track/", "POST", response_type="InlineResponse200",
                    _return_http_data_only=True,
                    header_params={{"Access-Token": "tt-access-token", "Content-Type": "application/json"}},
                    body={{"event_source": "web", "event_source_id": "{TIKTOK_PIXEL}", "test_event_code": "TEST42",
                          "data": [{{"event": "CompletePayment", "event_time": 1764072000, "event_id": "order-3",
                                    "user": {{"email": "{SHA}"}}, "page": {{"url": "https://shop.example/"}},
                                    "properties": {{"value": 12.5, "currency": "EUR",
                                                   "contents": [{{"content_id": "sku-2"}}]}}}}]}})
""")

SDKS["pinterest"] = ("https://api.pinterest.com", f"""
import os
if os.environ.get("VENDOR_BASE"):  # reverse mode: read when the SDK is imported
    os.environ["PINTEREST_API_URI"] = os.environ["VENDOR_BASE"] + "/v5"
from openapi_generated.pinterest_client.configuration import Configuration
from pinterest import config
from pinterest.ads.conversion_events import Conversion
from pinterest.client import PinterestSDKClient

cfg = Configuration(access_token="pina-secret-token", host=config.PINTEREST_API_URI)
if not os.environ.get("VENDOR_BASE"):  # the generated urllib3 client reads no HTTPS_PROXY
    cfg.proxy = os.environ["HTTPS_PROXY"]
    cfg.ssl_ca_cert = os.environ["REQUESTS_CA_BUNDLE"]
client = PinterestSDKClient(configuration=cfg)

def event(name, event_id, value):
    return Conversion.create_conversion_event(
        event_name=name, action_source="web", event_time=1764072000, event_id=event_id,
        event_source_url="https://shop.example/thanks",
        user_data={{"em": ["{SHA}"], "client_ip_address": "203.0.113.7", "client_user_agent": "Mozilla/5.0"}},
        custom_data={{"currency": "EUR", "value": value, "content_ids": ["sku-1"], "order_id": event_id}})

if os.environ.get("VENDOR_BASE"):
    Conversion.send_conversion_events("{PIN_ACCOUNT}", [event("checkout", "rev-1", "19.5")], client=client)
else:
    r = Conversion.send_conversion_events("{PIN_ACCOUNT}", [event("checkout", "order-1", "49.9")], client=client)
    assert r.num_events_received == 1, r
    Conversion.send_conversion_events("{PIN_ACCOUNT}", [event("lead", "lead-1", "5"), event("checkout", "order-2", "10")],
                                      test=True, client=client)
""")

SDKS["linkedin_api"] = ("https://api.linkedin.com", """
import os
from linkedin_api.clients.restli.client import RestliClient
from linkedin_api.common import constants

if os.environ.get("VENDOR_BASE"):  # reverse mode: the base URL is a module constant
    constants.VERSIONED_BASE_URL = os.environ["VENDOR_BASE"] + "/rest"
client = RestliClient()
if not os.environ.get("VENDOR_BASE"):
    # HTTPS_PROXY is honoured, REQUESTS_CA_BUNDLE is not: the client calls Session.send() directly.
    client.session.verify = os.environ["REQUESTS_CA_BUNDLE"]

def conversion(rule, event_id, amount):
    return {"conversion": f"urn:lla:llaPartnerConversion:{rule}", "conversionHappenedAt": 1764072000000,
            "conversionValue": {"currencyCode": "EUR", "amount": amount}, "eventId": event_id,
            "user": {"userIds": [{"idType": "SHA256_EMAIL", "idValue": "%s"}]}}

if os.environ.get("VENDOR_BASE"):
    client.create(resource_path="/conversionEvents", entity=conversion(104012, "rev-1", "19.5"),
                  access_token="AQV-secret-token", version_string="202411")
else:
    client.create(resource_path="/conversionEvents", entity=conversion(104012, "order-1", "49.9"),
                  access_token="AQV-secret-token", version_string="202411")
    r = client.batch_create(resource_path="/conversionEvents", access_token="AQV-secret-token",
                            entities=[conversion(104013, "lead-1", "5"), conversion(104012, "order-2", "10")],
                            version_string="202411")
    assert r.elements, r
""" % SHA)

SDKS["twitter_ads"] = ("https://ads-api.twitter.com", f"""
import json, os
from twitter_ads.client import Client
from twitter_ads.http import Request

client = Client("consumer-key", "consumer-secret", "access-token", "access-token-secret")
# Reverse mode: every Request takes a domain.
domain = {{"domain": os.environ["VENDOR_BASE"]}} if os.environ.get("VENDOR_BASE") else {{}}

def conversion(event_id, value):
    return {{"conversion_time": "2026-11-25T12:00:00.000Z", "event_id": "tw-{X_PIXEL}-o8z6k",
            "identifiers": [{{"twclid": "23opevjt88psuo13lu8d020qkn"}}, {{"hashed_email": "{SHA}"}}],
            "conversion_id": event_id, "value": value, "price_currency": "EUR", "number_items": 1}}

def send(*conversions):
    return Request(client, "post", "/12/measurement/conversions/{X_PIXEL}", **domain,
                   headers={{"Content-Type": "application/json"}},
                   body=json.dumps({{"conversions": list(conversions)}})).perform()

if domain:
    send(conversion("rev-1", 19.5))
else:
    assert send(conversion("order-1", 49.9)).code == 200
    send(conversion("lead-1", 5), conversion("order-2", 10))
""")

PLATFORM = {"facebook_business": "meta", "business_api_client": "tiktok", "pinterest": "pinterest",
            "linkedin_api": "linkedin", "twitter_ads": "x"}
INSTALLED = [m for m in SDKS if importlib.util.find_spec(m) is not None]


def ca_exports(proxy: PixelspyProcess) -> dict[str, str]:
    """The variables of `eval "$(pixelspy ca --bundle)"`, the guide's first step."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):  # in-process: the command's start-up costs seconds
        assert cli.main(["ca", "--bundle", "--confdir", str(proxy.confdir), "--port", str(proxy.port)]) == 0
    pairs = [shlex.split(line.removeprefix("export "))[0].split("=", 1)
             for line in out.getvalue().splitlines() if line.startswith("export ")]
    return dict(pairs)


def run_backend(source: str, env: dict[str, str]) -> str:
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(source)], env=env, capture_output=True,
                       text=True, timeout=60)
    return "" if r.returncode == 0 else r.stderr[-3000:]


@pytest.fixture(scope="module")
def sdk_events(tmp_path_factory):
    """One pixelspy (regular proxy + one reverse listener per vendor); every installed SDK sends its
    events through the proxy and through reverse mode. Returns (events, failures, proxy)."""
    reverse_ports = {m: free_port() for m in INSTALLED}
    modes = [arg for m in INSTALLED for arg in ("--mode", f"reverse:{SDKS[m][0]}@{reverse_ports[m]}")]
    proxy = PixelspyProcess(tmp_path_factory.mktemp("sdks"), "--sink", "--mode", "regular", *modes)
    clean = {k: v for k, v in os.environ.items() if k.upper() not in (
        "HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")}
    via_proxy = {**clean, **ca_exports(proxy)}
    jobs = {(m, "proxy"): (SDKS[m][1], via_proxy) for m in INSTALLED}
    jobs |= {(m, "reverse"): (SDKS[m][1], {**clean, "VENDOR_BASE": f"http://127.0.0.1:{reverse_ports[m]}"})
             for m in INSTALLED}
    with ThreadPoolExecutor(len(jobs) or 1) as pool:
        results = dict(zip(jobs, pool.map(lambda job: run_backend(*job), jobs.values())))
    # The browser copy of the Meta purchase, through the same proxy, for the dedup check.
    with proxy.client() as c:
        c.get("https://www.facebook.com/tr/", params={
            "id": META_PIXEL, "ev": "Purchase", "eid": "order-1", "dl": "https://shop.example/thanks",
            "cd[value]": "49.9", "cd[currency]": "EUR"})
    server_counts = {"meta": 5, "tiktok": 5, "pinterest": 4, "linkedin": 4, "x": 4}
    want = 1 + sum(server_counts[PLATFORM[m]] for m in INSTALLED)  # and the browser purchase
    failed = {k: v for k, v in results.items() if v}
    try:
        proxy.wait_for(lambda evs: len(evs) >= want, timeout=5 if failed else 20)
        events = proxy.settle()  # and their findings once deduplication has paired them
    except AssertionError:  # each test then names what is missing for its SDK
        events = list(proxy.events().values())
    yield events, failed, proxy
    proxy.stop()


def server_events(sdk_events, module: str) -> dict[str, dict]:
    if module not in INSTALLED:
        pytest.skip(f"{module} is not installed (pip install -e '.[sdk]')")
    events, failed, _ = sdk_events
    assert not any(m == module for m, _ in failed), "\n\n".join(
        f"{m} ({how}):\n{err}" for (m, how), err in failed.items() if m == module)
    mine = [e for e in events if e["platform"] == PLATFORM[module] and e["source"] == "server"]
    assert all(e["decode_errors"] == [] for e in mine), mine
    by_id = {e["event_id"]: e for e in mine}
    assert len(by_id) == len(mine), "each event of a batch is its own event, listed once"
    return by_id


def fields(event: dict) -> tuple:
    return event["event"], event["value"], event["currency"]


def test_meta_facebook_business(sdk_events):
    evs = server_events(sdk_events, "facebook_business")
    # The SDK lower-cases the currency on the wire.
    assert {k: fields(e) for k, e in evs.items()} == {
        "order-1": ("Purchase", "49.9", "eur"), "lead-1": ("Lead", "5", "eur"), "order-2": ("Purchase", "10", "eur"),
        "rev-1": ("Purchase", "19.5", "eur"), "rev-async": ("Lead", "2.5", "eur")}
    assert {e["pixel_id"] for e in evs.values()} == {META_PIXEL}
    assert [evs[k]["test_event_code"] for k in ("order-1", "lead-1", "order-2")] == [None, "TEST123", "TEST123"]
    purchase = evs["order-1"]
    assert purchase["content_ids"] == ["sku-1"] and purchase["page_url"] == "https://shop.example/thanks"
    assert purchase["user_data"] == {"user_data.em": "hashed"}
    # The SDK adds access_token and appsecret_proof to every call: shared params, masked.
    assert "EAAB-secret-token" not in str(purchase) and "appsecret_proof" in purchase["params"]


def test_meta_browser_and_sdk_purchase_deduplicate(sdk_events):
    server = server_events(sdk_events, "facebook_business")["order-1"]
    events, _, _ = sdk_events
    (browser,) = [e for e in events if e["source"] == "browser" and e["event_id"] == "order-1"]
    for ev in (browser, server):
        codes = [f["code"] for f in ev["findings"]]
        assert "dedup-ok" in codes and "dedup-missing" not in codes, ev["findings"]
    ok = next(f for f in server["findings"] if f["code"] == "dedup-ok")
    assert browser["id"] in ok["related"]


def test_tiktok_business_api_sdk(sdk_events):
    evs = server_events(sdk_events, "business_api_client")
    assert {k: fields(e) for k, e in evs.items()} == {
        "order-1": ("CompletePayment", "49.9", "EUR"), "lead-1": ("SubmitForm", "5", "EUR"),
        "order-2": ("CompletePayment", "10", "EUR"), "order-3": ("CompletePayment", "12.5", "EUR"),
        "rev-1": ("CompletePayment", "19.5", "EUR")}
    assert {e["pixel_id"] for e in evs.values()} == {TIKTOK_PIXEL}
    assert evs["order-1"]["standard_event"] == "Purchase" and evs["order-1"]["content_ids"] == ["sku-1"]
    assert evs["order-3"]["test_event_code"] == "TEST42" and evs["order-3"]["content_ids"] == ["sku-2"]
    assert evs["order-1"]["user_data"] == {"context.user.email": "hashed"}
    assert "tt-access-token" not in str(evs)  # the Access-Token header is never a param


def test_pinterest_api_sdk(sdk_events):
    evs = server_events(sdk_events, "pinterest")
    assert {k: fields(e) for k, e in evs.items()} == {
        "order-1": ("checkout", "49.9", "EUR"), "lead-1": ("lead", "5", "EUR"), "order-2": ("checkout", "10", "EUR"),
        "rev-1": ("checkout", "19.5", "EUR")}
    assert {e["pixel_id"] for e in evs.values()} == {PIN_ACCOUNT}
    # The SDK always sends ?test=<Python bool>: only test=True is a test event.
    assert evs["order-1"]["params"]["test"] == "False" and evs["order-1"]["test_event_code"] is None
    assert evs["lead-1"]["params"]["test"] == "True"
    assert evs["order-1"]["user_data"]["user_data.em"] == "hashed"


def test_linkedin_api_client(sdk_events):
    evs = server_events(sdk_events, "linkedin_api")
    assert {k: fields(e) for k, e in evs.items()} == {
        "order-1": ("conversion", "49.9", "EUR"), "lead-1": ("conversion", "5", "EUR"),
        "order-2": ("conversion", "10", "EUR"), "rev-1": ("conversion", "19.5", "EUR")}
    assert [evs[k]["pixel_id"] for k in ("order-1", "lead-1")] == ["104012", "104013"]  # the rule
    assert [evs[k]["params"]["X-RestLi-Method"] for k in ("order-1", "lead-1")] == ["CREATE", "BATCH_CREATE"]
    assert evs["order-1"]["user_data"] == {"user.userIds[SHA256_EMAIL]": "hashed"}
    assert "AQV-secret-token" not in str(evs)


def test_x_twitter_ads(sdk_events):
    evs = server_events(sdk_events, "twitter_ads")
    assert {k: fields(e) for k, e in evs.items()} == {
        "order-1": ("o8z6k", "49.9", "EUR"), "lead-1": ("o8z6k", "5", "EUR"),
        "order-2": ("o8z6k", "10", "EUR"), "rev-1": ("o8z6k", "19.5", "EUR")}
    assert {e["pixel_id"] for e in evs.values()} == {X_PIXEL}
    assert evs["order-1"]["user_data"] == {"identifiers.twclid": "plain", "identifiers.hashed_email": "hashed"}


def test_ca_command_creates_the_ca_and_a_bundle(tmp_path):
    confdir = tmp_path / "fresh"
    confdir.mkdir()  # an empty directory: a new CA is made in it

    def run(*args: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert cli.main(["ca", "--confdir", str(confdir), *args]) == 0
        return out.getvalue()

    out = run("--port", "9090")
    ca = confdir / "mitmproxy-ca-cert.pem"
    assert ca.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "export HTTPS_PROXY=http://127.0.0.1:9090" in out
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):
        assert f"export {name}={ca}" in out
    assert run("--path") == f"{ca}\n"
    out = run("--bundle")
    bundle = confdir / "pixelspy-ca-bundle.pem"
    assert f"export REQUESTS_CA_BUNDLE={bundle}" in out and f"export NODE_EXTRA_CA_CERTS={ca}" in out
    text = bundle.read_text()
    assert text.endswith(ca.read_text()) and text.count("BEGIN CERTIFICATE") > 100  # public roots kept
    assert run("--path", "--bundle") == f"{bundle}\n"
    assert Path(run("--path").strip()).read_bytes() == ca.read_bytes()  # the same CA, not a new one


def test_meta_events_sent_as_json_strings_decode_one_by_one():
    """facebook-business's wire shape: `data` is a JSON list of JSON-encoded strings; a broken one is
    a decode error on its own event, the others decode."""
    from urllib.parse import urlencode

    from pixelspy.decoders import decode
    from pixelspy.model import RawHit

    good = '{"event_name": "Purchase", "event_id": "order-9", "custom_data": {"value": 3.5, "currency": "usd"}}'
    body = urlencode({"data": f'["{good.replace(chr(34), chr(92) + chr(34))}", "{{broken"]',
                      "access_token": "EAAB-secret", "appsecret_proof": "f" * 64})
    hit = RawHit(method="POST", url=f"https://graph.facebook.com/v26.0/{META_PIXEL}/events", body=body.encode(),
                 headers=[("content-type", "application/x-www-form-urlencoded")])
    purchase, broken = decode(hit)
    assert (purchase.event, purchase.event_id, purchase.value, purchase.currency) == ("Purchase", "order-9", "3.5", "usd")
    assert purchase.decode_errors == () and purchase.param("access_token") != "EAAB-secret"
    assert broken.event is None and any("event is not valid JSON" in e for e in broken.decode_errors)
