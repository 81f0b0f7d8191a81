"""The pre-consent check: cookie / signal parsers on real-shaped values, and the per-site timeline
driven through a real Session (Meta and Google decoders, ordinary traffic, ticks)."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pixelspy.checks import CheckEngine
from pixelspy.checks import consent
from pixelspy.checks.consent import ConsentCheck, State, clock
from pixelspy.checks.rules import host_of
from pixelspy.consent.consent_mode import parse_gcd, parse_gcs
from pixelspy.consent.gpp import gpp_reading
from pixelspy.consent.readers import PARSERS, cmp_patterns_on_host
from pixelspy.consent.sites import registrable_domain, url_host
from pixelspy.consent.table import consent_cookies
from pixelspy.consent.tcf import tcf_reading
from pixelspy.consent.usprivacy import usprivacy_reading
from pixelspy.config import Config, ConfigError, ConsentConfig, load_config
from pixelspy.model import RawHit, Source, TrackingEvent
from pixelspy.session import Session

T0 = 1_700_000_000.0
PHONE = "10.0.0.5"
PIXEL = "1234567890123456"

# Real-shaped values (formats: ../shared/spec/platforms.md §8).
ONETRUST_DENIED = ("isGpcEnabled=0&datestamp=Tue+Nov+14+2023+10%3A23%3A45+GMT%2B0100+(Central+European+Standard+Time)"
                   "&version=202310.1.0&browserGpcFlag=0&isIABGlobal=false&hosts=&consentId=3f0c8a52-8d7e-4a39-9b1e"
                   "-0c2f6f1d9a77&interactionCount=1&landingPath=NotLandingPage&groups=C0001%3A1%2CC0002%3A0%2CC0003"
                   "%3A1%2CC0004%3A0&geolocation=DE%3BBE&AwaitingReconsent=false")
ONETRUST_GRANTED = ONETRUST_DENIED.replace("C0002%3A0", "C0002%3A1").replace("C0004%3A0", "C0004%3A1")
ONETRUST_DEFAULTS = ONETRUST_DENIED.replace("interactionCount=1", "interactionCount=0")
COOKIEBOT = ("{stamp:%27Jh2y8Zq9wR0B0zHvJ3k3JvYd0d6x9GQ7RkS4y8iE6VnYp2Yc9xKw==%27%2Cnecessary:true%2Cpreferences:false"
             "%2Cstatistics:true%2Cmarketing:false%2Cmethod:%27explicit%27%2Cver:1%2Cutc:1700000000123%2Cregion:%27de%27}")
DIDOMI = ("eyJ1c2VyX2lkIjoiMThiNGM2ZDItNGYxZS02YjVhLTljMGQtMmU3ZjNhMWI1YzlkIiwiY3JlYXRlZCI6IjIwMjQtMDMtMDFUMTA6MDA6MDAu"
          "MDAwWiIsInVwZGF0ZWQiOiIyMDI0LTAzLTAxVDEwOjAwOjA1LjAwMFoiLCJ2ZW5kb3JzIjp7ImVuYWJsZWQiOlsiZ29vZ2xlIiwiYzpmYWNl"
          "Ym9vayJdfSwicHVycG9zZXMiOnsiZW5hYmxlZCI6WyJjb29raWVzIiwic2VsZWN0X2Jhc2ljX2FkcyIsIm1lYXN1cmVfY29udGVudF9wZXJm"
          "b3JtYW5jZSJdLCJkaXNhYmxlZCI6WyJjcmVhdGVfYWRzX3Byb2ZpbGUiLCJzZWxlY3RfcGVyc29uYWxpemVkX2FkcyJdfSwidmVyc2lvbiI6Mn0=")
COOKIEYES = ("consentid:ZTRmY2E5N2EtNjM1Zi00YjE2LWI1OTItYjE4NDRiMjQ0ZDQ4,consent:yes,action:yes,necessary:yes,"
             "functional:no,analytics:no,performance:no,advertisement:yes,other:no")
IUBENDA = quote(json.dumps({"timestamp": "2024-01-10T10:00:00.000Z", "version": "1.56.0",
                            "purposes": {"1": True, "2": True, "3": True, "4": True, "5": False},
                            "id": 1234567, "cons": {"rand": "a1b2c3"}}, separators=(",", ":")))
CC_V3_ACCEPT = {"categories": ["necessary", "analytics", "marketing"], "revision": 0, "data": None,
                "consentTimestamp": "2023-11-14T22:13:20.000Z", "consentId": "7d3a2f4e-1b9c-4d8e-a6f0-3c5b7e9d1a2b",
                "services": {"necessary": [], "analytics": [], "marketing": []}, "languageCode": "en",
                "lastConsentTimestamp": "2023-11-14T22:13:20.000Z", "expirationTime": 1715724800000}
CC_V3_REJECT = {**CC_V3_ACCEPT, "categories": ["necessary"]}
CC_V2 = {"level": ["necessary", "analytics"], "revision": 0, "data": None, "rfc_cookie": False}
KLARO = "%7B%22google-analytics%22%3Atrue%2C%22facebook-pixel%22%3Afalse%7D"
TARTEAUCITRON = "!gtag=true!facebookpixel=false!tiktok=wait"
# Real TCF v2.2 TC strings (prebid.js tcfUtils tests): consented purposes as listed.
TCF_CORE_TAIL = (".II7Nd_X__bX9n-_7_6ft0eY1f9_r37uQzDhfNs-8F3L_W_LwX32E7NF36tq4KmR4ku1bBIQNtHMnUDUmxaolVrzHsak2cpyNKJ_Jkkn"
                 "sZe2dYGF9Pn9lD-YKZ7_5_9_f52T_9_9_-39z3_9f___dv_-__-vjf_599n_v9fV_78_Kf9______-____________8A")
TCF_ODD = "CPh7_cXPh7_cXKMAAAENCZCAAKqAAAAAAAAAAAAAAAAA" + TCF_CORE_TAIL  # purposes 1,3,5,7,9
TCF_ALL = "CPh8CoIPh8CoINYAAAENCZCAAP_AAAAAAAAAAAAAAAAA" + TCF_CORE_TAIL  # purposes 1-10
TCF_NONE = "CPh8CjOPh8CjOEZAAAENCZCAAAAAAAAAAAAAAAAAAAAA" + TCF_CORE_TAIL


def parse(parser: str, name: str, value: str, cookies: dict | None = None, **entry):
    return PARSERS[parser](name, value, cookies or {name: value}, {"parser": parser, **entry})


# ---- parsers -----------------------------------------------------------------------------------

def test_onetrust_groups_per_purpose():
    r = parse("onetrust", "OptanonConsent", ONETRUST_DENIED, groups={"marketing": "C0004", "analytics": "C0002"})
    assert r.purposes == {"marketing": False, "analytics": False} and r.choice
    assert r.text == "OptanonConsent groups C0004:0,C0002:0"
    r = parse("onetrust", "OptanonConsent", ONETRUST_GRANTED)
    assert r.purposes == {"marketing": True, "analytics": True}
    # Before any interaction the groups are the banner's defaults, not a choice…
    r = parse("onetrust", "OptanonConsent", ONETRUST_DEFAULTS)
    assert not r.choice and r.text.endswith("(defaults, no interaction)")
    # …unless the banner was closed (OptanonAlertBoxClosed is written on the choice).
    closed = {"OptanonConsent": ONETRUST_DEFAULTS, "OptanonAlertBoxClosed": "2023-11-14T09:23:45.123Z"}
    assert parse("onetrust", "OptanonConsent", ONETRUST_DEFAULTS, closed).choice
    # Site-specific group ids come from the table entry.
    r = parse("onetrust", "OptanonConsent", ONETRUST_GRANTED.replace("C0004", "C0007"), groups={"marketing": "C0007"})
    assert r.purposes == {"marketing": True}


def test_cookiebot_object_and_region_exemption():
    r = parse("cookiebot", "CookieConsent", COOKIEBOT)
    assert r.purposes == {"marketing": False, "analytics": True}
    assert r.choice_time == pytest.approx(1_700_000_000.123)
    assert r.text == "CookieConsent marketing:false statistics:true"
    r = parse("cookiebot", "CookieConsent", "-1")
    assert r.purposes == {"marketing": True, "analytics": True} and "not required" in r.text


def test_didomi_token_purposes():
    r = parse("didomi", "didomi_token", DIDOMI, marketing=["create_ads_profile", "select_personalized_ads"],
              analytics=["measure_content_performance"])
    assert r.purposes == {"marketing": False, "analytics": True}


def test_cookieyes_and_single_purpose_cookies():
    r = parse("cookieyes", "cookieyes-consent", COOKIEYES)
    assert r.purposes == {"marketing": True, "analytics": False} and r.choice
    r = parse("cookieyes", "cookieyes-consent", COOKIEYES.replace("action:yes", "action:"))
    assert not r.choice  # the banner's defaults before the visitor acted
    assert parse("allow_deny", "cmplz_marketing", "allow", purpose="marketing").purposes == {"marketing": True}
    assert parse("allow_deny", "cmplz_statistics", "deny", purpose="analytics").purposes == {"analytics": False}
    assert parse("yes_no", "cookieyes-advertisement", "no", purpose="marketing").purposes == {"marketing": False}
    assert parse("allow_deny", "cookieconsent_status", "allow", purpose="all").purposes == {
        "marketing": True, "analytics": True}
    assert parse("allow_deny", "cookieconsent_status", "dismiss", purpose="all") is None  # not a choice


def test_iubenda_purposes():
    r = parse("iubenda", "_iub_cs-1234567", IUBENDA, purposes={"marketing": "5", "analytics": "4"})
    assert r.purposes == {"marketing": False, "analytics": True}
    assert r.text == "_iub_cs-1234567 purposes 5:false 4:true"


def test_vanilla_cookieconsent_v3_and_v2():
    r = parse("cc_cookie", "cc_cookie", quote(json.dumps(CC_V3_ACCEPT)))
    assert r.purposes == {"marketing": True, "analytics": True}
    assert r.choice_time == 1_700_000_000.0
    assert r.text == "cc_cookie categories necessary,analytics,marketing"
    r = parse("cc_cookie", "cc_cookie", quote(json.dumps(CC_V3_REJECT)))
    assert r.purposes == {"marketing": False, "analytics": False}
    r = parse("cc_cookie", "cc_cookie", quote(json.dumps(CC_V2)))
    assert r.purposes == {"marketing": False, "analytics": True} and r.choice_time is None


def test_klaro_and_tarteaucitron_services():
    r = parse("klaro", "klaro", KLARO)
    assert r.purposes == {"marketing": False, "analytics": True}
    r = parse("tarteaucitron", "tarteaucitron", TARTEAUCITRON)
    assert r.purposes == {"marketing": False, "analytics": True}  # tiktok=wait is no choice
    r = parse("tarteaucitron", "tarteaucitron", "!facebookpixel=true!tiktok=true")
    assert r.purposes == {"marketing": True}


def test_tcf_v2_strings_decoded_with_iab_tcf():
    assert tcf_reading("euconsent-v2", TCF_ALL).purposes == {"marketing": True, "analytics": True}
    odd = tcf_reading("euconsent-v2", TCF_ODD)  # 1,3,5,7,9: no purpose 4 nor 8
    assert odd.purposes == {"marketing": False, "analytics": False}
    assert odd.text == "euconsent-v2 TCF purposes consented: 1,3,5,7,9 (CMP id 652)"
    assert tcf_reading("euconsent-v2", TCF_NONE).purposes == {"marketing": False, "analytics": False}
    assert tcf_reading("gdpr_consent", quote(TCF_ALL)).purposes["marketing"] is True


@pytest.mark.parametrize("value", [
    "CPh7_cXPh7",  # truncated: iab_tcf would read missing bits as "all consented"
    "BOVeoB_OVeoFxC-AHAFRBtAAAAAhGAEAD4AXAA2YCEQ",  # TCF v1
    "CPh7_cXPh7_cXKMAAAENCZCA??????????AAAAAAAAAAAAAAA", "", "%%%", "garbage!!", "\x00\xff",
])
def test_tcf_garbage_is_no_reading(value):
    assert tcf_reading("euconsent-v2", value) is None


def test_google_consent_mode_gcs_and_gcd():
    assert parse_gcs("G100").purposes == {"marketing": False, "analytics": False}
    assert parse_gcs("G101").purposes == {"marketing": False, "analytics": True}
    assert parse_gcs("G111").purposes == {"marketing": True, "analytics": True}
    assert parse_gcs("G2xx") is None and parse_gcs("") is None
    r = parse_gcd("11p1t1p1t5")  # ad_storage denied by default, analytics_storage granted by default
    assert r.purposes == {"marketing": False, "analytics": True}
    assert parse_gcd("13r3v3r3r5").purposes == {"marketing": True, "analytics": True}
    assert parse_gcd("11l1l1l1l5") is None  # nothing set


MALFORMED = ["", "%", "%E0%A4%A", "{", "}", "[]", "null", "%7B%22categories%22%3A5%7D", "{stamp:", "groups=",
             "groups=C0004", "=====", "!!!=", ",:,:", "\x00\xff\ufffd", "a" * 20_000, "eyJ", "bnVsbA==",
             '{"purposes": "x"}', '{"categories": [1, null, {}]}', '{"level": "necessary"}']


@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_malformed_cookies_never_crash(parser):
    for value in MALFORMED:
        r = parse(parser, "some_cookie", value, purpose="marketing")
        assert r is None or isinstance(r.purposes, dict), value


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(PARSERS)), st.text(max_size=300))
def test_any_cookie_text_never_crashes(parser, value):
    parse(parser, "c", value, purpose="all")


@pytest.mark.parametrize("host,site", [
    ("www.shop.example", "shop.example"), ("shop.example", "shop.example"), ("a.b.shop.co.uk", "shop.co.uk"),
    ("m.store.com.au", "store.com.au"), ("127.0.0.1", "127.0.0.1"), ("[::1]", "::1"), ("localhost", "localhost"),
    ("WWW.Shop.Example.", "shop.example"), ("", ""),
])
def test_registrable_domain_heuristic(host, site):
    assert registrable_domain(host) == site


@pytest.mark.parametrize("host,site", [
    # The private section of the Public Suffix List: each of these is a site of its own, as browsers
    # keep their cookies apart.
    ("shop.myshopify.com", "shop.myshopify.com"), ("www.shop.myshopify.com", "shop.myshopify.com"),
    ("user.github.io", "user.github.io"), ("x.herokuapp.com", "x.herokuapp.com"),
    ("foo.blogspot.com", "foo.blogspot.com"), ("d111abcdef8.cloudfront.net", "d111abcdef8.cloudfront.net"),
    # ICANN suffixes the old two-level list did not know
    ("www.shop.co.uk", "shop.co.uk"), ("a.b.shop.com.au", "shop.com.au"), ("www.city.kawasaki.jp", "city.kawasaki.jp"),
    ("shop.example.com.de", "example.com.de"), ("m.shop.gov.br", "shop.gov.br"),
    # a public suffix, a single label, an IP address: their own site
    ("github.io", "github.io"), ("co.uk", "co.uk"), ("localhost", "localhost"), ("intranet", "intranet"),
    ("192.168.1.20", "192.168.1.20"), ("[2001:DB8::1]", "2001:db8::1"), ("::1", "::1"), ("[::ffff:10.0.0.1]", "::ffff:a00:1"),
    # spelling: trailing dot, case, internationalised names in punycode as on the wire
    ("www.shop.example.", "shop.example"), ("WWW.SHOP.CO.UK.", "shop.co.uk"),
    ("www.xn--bcher-kva.de", "xn--bcher-kva.de"), ("www.bücher.de", "xn--bcher-kva.de"), ("Shop.BÜCHER.de", "xn--bcher-kva.de"),
    # garbage: no exception, no made-up sibling site
    ("", ""), (" ", ""), (".", ""), ("[]", ""), ("a..b.example", "a..b.example"), ("exa mple.com", "exa mple.com"),
])
def test_site_is_the_registrable_domain_of_the_public_suffix_list(host, site):
    assert registrable_domain(host) == site


def test_punycoded_hosts_find_the_site_the_librarys_punycoded_rules_give():
    # sites.py loads the list's internationalised rules unpunycoded (quicker) and decodes the host instead.
    from publicsuffixlist import PublicSuffixList, encode_idn

    from pixelspy.consent import sites
    punycoded = PublicSuffixList()  # (the library's default: every rule punycoded too)
    rules = [r.lstrip("!").replace("*", "w") for r in sites._suffix_list()._publicsuffix if not r.isascii()]
    assert len(rules) > 300
    hosts = [encode_idn(prefix + rule) for rule in rules for prefix in ("", "shop.", "www.xn--bcher-kva.", "a.b.")]
    hosts += ["xn--.com", "xn--zz.xn--p1ai", "a.xn--", "a..xn--p1ai", "www.xn--p1ai", "xn--bcher-kva.xn--zz"]
    assert [sites._registrable(h) for h in hosts] == [punycoded.privatesuffix(h) for h in hosts]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300) | st.from_regex(r"[a-zA-Z0-9.\-\[\]:ü]{0,80}", fullmatch=True))
def test_any_host_gives_a_site_and_never_raises(host):
    assert isinstance(registrable_domain(host), str)


URL_PIECES = ["http", "https", "HTTPS", "://", "//", ":", "/", "?", "#", "@", "[", "]", "::1", "shop.example", "WWW.",
              ".", "-", "_", "%41", " ", "\t", "\n", "\r", "\x00", "\\", "80", "x", "é", "ß", "ｆ", "user:pw", "1.2.3.4"]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["", "http://", "https://"]), st.lists(st.sampled_from(URL_PIECES), max_size=10).map("".join))
def test_the_quick_host_of_a_page_url_is_urlsplits(scheme, rest):
    # url_host skips urlsplit where the URL starts plainly; wherever it does, the host must be the same.
    url = scheme + rest
    assert url_host(url) == host_of(url), url


# GPP strings from the IAB's specification and its reference implementation (iabgpp-es tests):
# header DBABLA = section 7 (usnat), DBABBg = 8 (usca), DBABTA = 6 (uspv1), DBACNY = 2 and 6.
GPP_USNAT_OPTED_OUT = "DBABLA~CVVVkkkkkpFY.YA"  # usnat v2: sale, sharing, targeted ads opted out (+ GPC)
GPP_USNAT_NOT_OPTED_OUT = "DBABLA~BVQqAAAAAgA.QA"  # usnat v1: all three "did not opt out"
GPP_USNAT_NOT_APPLICABLE = "DBABLA~CAAAAAAAAABA.QA"  # the encoder's defaults: every field 0
GPP_USCA_OPTED_OUT = "DBABBg~BVWSSSVY.YA"
GPP_TCF_AND_USP = "DBACNY~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA~1YNN"  # TCF: no purpose consented


@pytest.mark.parametrize("value, sid, purposes, said", [
    (GPP_USNAT_OPTED_OUT, "", {"marketing": False},
     "usnat SaleOptOut opted out, SharingOptOut opted out, TargetedAdvertisingOptOut opted out"),
    (GPP_USNAT_NOT_OPTED_OUT, "", {"marketing": True}, "usnat SaleOptOut did not opt out"),
    (GPP_USNAT_NOT_APPLICABLE, "", {}, "not applicable: usnat"),
    (GPP_USCA_OPTED_OUT, "", {"marketing": False}, "usca SaleOptOut opted out, SharingOptOut opted out"),
    ("DBABBg~BAAAAACA", "", {}, "not applicable: usca"),
    ("DBABTA~1YNN", "", {"marketing": True}, "uspv1=1YNN (US Privacy: did not opt out of sale)"),
    ("DBABTA~1YYN", "", {"marketing": False}, "uspv1=1YYN (US Privacy: opted out of sale)"),
    ("DBABTA~1---", "", {}, "not applicable: uspv1"),
    # a TCF section counts as the TC string it is; a denial in any applicable section wins…
    (GPP_TCF_AND_USP, "", {"marketing": False, "analytics": False}, "tcfeuv2 TCF purposes consented: none"),
    # …and gpp_sid / __gpp_sid name the sections that apply to this visitor
    (GPP_TCF_AND_USP, "6", {"marketing": True}, "uspv1=1YNN"),
    (GPP_TCF_AND_USP, "2,6", {"marketing": False, "analytics": False}, "uspv1=1YNN"),
    (GPP_TCF_AND_USP, "-1", {}, "no applicable section"),
    # Canada's TCF (5) is not read: it says nothing, the US Privacy section still does
    ("DBABjw~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA~1YNN", "", {"marketing": True}, "not read: section 5"),
    # a section that ends early or holds foreign characters says nothing
    ("DBABLA~CV", "", {}, "unreadable: usnat"), ("DBABLA~!!", "", {}, "unreadable: usnat"),
])
def test_gpp_strings(value, sid, purposes, said):
    r = gpp_reading("__gpp", value, sid)
    assert r.purposes == purposes
    assert said in r.text


@pytest.mark.parametrize("value", [
    "", "garbage", "DBAA~1YNN",  # header without the section the string carries
    "DBACOeA~~1YNN",  # three section ids, two sections: which is which is unknown
    "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA",  # a bare TC string is not GPP
    "DB", "D" * 9000, "DBABLA~" + "~" * 50, "%ZZ",
])
def test_unreadable_gpp_is_no_reading(value):
    assert gpp_reading("__gpp", value) is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~.", max_size=120),
       st.sampled_from(["", "7", "2,6", "-1", "x"]))
def test_any_gpp_text_never_crashes_nor_invents_a_denial_from_nothing(value, sid):
    r = gpp_reading("__gpp", "DBABLA~" + value, sid)
    if r is not None and r.purposes.get("marketing") is False:
        assert "opted out" in r.text or "TCF" in r.text


@pytest.mark.parametrize("value, purposes", [
    ("1YNN", {"marketing": True}), ("1YYY", {"marketing": False}), ("1NYN", {"marketing": False}),
    ("1YYN", {"marketing": False}), ("1---", {}), ("1Y-N", {}), ("1ynn", {"marketing": True}), ("1%59NN", {"marketing": True}),
])
def test_us_privacy_strings(value, purposes):
    assert usprivacy_reading("usprivacy", value).purposes == purposes


@pytest.mark.parametrize("value", ["", "1", "1YN", "1YNNN", "2YNN", "1YNX", "YNN1", "%", "1 YN"])
def test_unreadable_us_privacy_is_no_reading(value):
    assert usprivacy_reading("usprivacy", value) is None


# ---- the check, through a real session -----------------------------------------------------------

def make_session(**consent_cfg) -> tuple[Session, ConsentCheck]:
    check = ConsentCheck(ConsentConfig(**consent_cfg))
    return Session(CheckEngine(Config(), checks=[check])), check


def meta_pixel(t: float, page: str = "https://www.shop.example/cart", client: str = PHONE, ev: str = "PageView"):
    qs = urlencode({"id": PIXEL, "ev": ev, "dl": page, "rl": "", "if": "false", "ts": str(int(t * 1000)),
                    "v": "2.9.179", "r": "stable"})
    return RawHit(method="GET", url=f"https://www.facebook.com/tr/?{qs}", time=t, client=client,
                  headers=[("accept", "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"),
                           ("referer", "https://www.shop.example/")])


def page_request(t: float, path: str = "/", cookie: str = "", host: str = "www.shop.example",
                 client: str = PHONE, **headers: str) -> RawHit:
    hs = [("accept", "text/html"), *((k.replace("_", "-"), v) for k, v in headers.items())]
    if cookie:
        hs.append(("cookie", cookie))
    return RawHit(method="GET", url=f"https://{host}{path}", headers=hs, time=t, client=client)


def onetrust_loaded(t: float, client: str = PHONE) -> RawHit:
    return RawHit(method="GET", url="https://cdn.cookielaw.org/scripttemplates/otSDKStub.js", time=t, client=client,
                  headers=[("referer", "https://www.shop.example/")])


def findings(ev: TrackingEvent) -> list[tuple[str, bool]]:
    return [(f.code, f.pending) for f in ev.findings]


def test_no_cmp_no_finding():
    s, _ = make_session()
    s.ingest(page_request(T0, cookie="_ga=GA1.1.123.456"))
    [ev] = s.ingest(meta_pixel(T0 + 1))
    s.tick(T0 + 10)
    assert ev.findings == ()


def test_pixel_after_cmp_loaded_without_choice_is_an_error_after_the_wait():
    s, check = make_session()
    s.ingest(page_request(T0))
    s.ingest(onetrust_loaded(T0 + 0.2))
    [ev] = s.ingest(meta_pixel(T0 + 0.5))
    assert findings(ev) == [("pre-consent", True)]
    assert ev.findings[0].message.startswith("Meta PageView fired while marketing consent on shop.example")
    s.tick(T0 + 3.4)
    assert findings(ev) == [("pre-consent", True)]  # the wait is not over
    s.tick(T0 + 3.6)
    [f] = ev.findings
    assert (f.code, f.severity, f.pending) == ("pre-consent", "error", False)
    assert "Meta PageView fired before marketing consent on shop.example" in f.message
    assert "'CMP loaded, no choice yet'" in f.message
    assert "OneTrust loaded (cdn.cookielaw.org/scripttemplates/otSDKStub.js) seen at" in f.message
    [site] = check.sites()
    assert (site.site, site.client, site.state, site.cmp) == ("shop.example", PHONE, State.no_choice, "OneTrust")


def test_denied_cookie_evidence_in_the_final_error():
    s, check = make_session()
    s.ingest(page_request(T0, cookie=f"OptanonConsent={ONETRUST_DENIED}; OptanonAlertBoxClosed=x"))
    [ev] = s.ingest(meta_pixel(T0 + 1))
    assert findings(ev) == [("pre-consent", True)]
    s.ingest(page_request(T0 + 1.5, "/img/logo.png", cookie=f"OptanonConsent={ONETRUST_DENIED}"))
    [f] = ev.findings
    assert not f.pending
    # The refusal was on the page's request before the hit: "while denied", not "before consent".
    assert "fired at " in f.message
    assert "while marketing consent on shop.example was denied (OptanonConsent groups C0004:0,C0002:0 seen at" in f.message
    assert check.sites()[0].purposes == {"marketing": State.denied, "analytics": State.denied}


def final_message(*hits: RawHit) -> str:
    """The final pre-consent message of the Meta hit among `hits`, fed in order to a fresh session."""
    s, _ = make_session()
    events = [ev for hit in hits for ev in s.ingest(hit) if ev.platform == "meta"]
    s.tick(T0 + 100)
    [f] = events[0].findings
    assert (f.code, f.pending) == ("pre-consent", False)
    return f.message


def test_a_hit_after_consent_was_withdrawn_says_withdrawn():
    message = final_message(page_request(T0, cookie=f"OptanonConsent={ONETRUST_GRANTED}"),
                            page_request(T0 + 5, "/account", cookie=f"OptanonConsent={ONETRUST_DENIED}"),
                            meta_pixel(T0 + 6))
    assert message.startswith(f"Meta PageView fired at {clock(T0 + 6)} after marketing consent on shop.example was "
                              "withdrawn (granted, then denied: OptanonConsent groups C0004:0,C0002:0 seen at")


def test_a_hit_before_a_refusal_the_cmp_dates_later_is_before_consent():
    cc_loaded = page_request(T0 - 5, "/node_modules/vanilla-cookieconsent/dist/cookieconsent.umd.js",
                             referer="https://www.shop.example/")
    rejected = page_request(T0 + 0.5, cookie=f"cc_cookie={quote(json.dumps(CC_V3_REJECT))}")  # chosen at T0
    message = final_message(cc_loaded, meta_pixel(T0 - 1), rejected)
    assert message.startswith(f"Meta PageView fired before marketing consent on shop.example at {clock(T0 - 1)}; "
                              f"the visitor then refused marketing consent at {clock(T0)} (cc_cookie categories")


def test_a_hit_with_no_choice_seen_before_it_and_a_denial_after_says_without_consent():
    # OneTrust's cookie carries no time of the choice: the refusal may have come just before the hit or after.
    message = final_message(onetrust_loaded(T0), meta_pixel(T0 + 1),
                            page_request(T0 + 1.5, "/img/logo.png", cookie=f"OptanonConsent={ONETRUST_DENIED}"))
    assert message.startswith(f"Meta PageView fired without marketing consent on shop.example at {clock(T0 + 1)}: "
                              "no choice seen before it, denied since (OptanonConsent groups C0004:0,C0002:0 seen at")


def test_accept_seen_on_the_next_request_retracts_the_pending_hit():
    s, check = make_session()
    s.ingest(onetrust_loaded(T0))
    [ev] = s.ingest(meta_pixel(T0 + 1))
    assert findings(ev) == [("pre-consent", True)]
    s.ingest(page_request(T0 + 1.2, "/api/cart", cookie=f"OptanonConsent={ONETRUST_GRANTED}"))
    assert ev.findings == ()
    s.tick(T0 + 10)
    assert ev.findings == ()
    assert check.sites()[0].state == State.granted


def test_request_to_another_subdomain_without_cookie_does_not_settle():
    s, _ = make_session()
    s.ingest(onetrust_loaded(T0))
    [ev] = s.ingest(meta_pixel(T0 + 1))
    s.ingest(page_request(T0 + 1.1, "/font.woff2", host="static.shop.example"))  # host-only cookie not sent
    assert findings(ev) == [("pre-consent", True)]
    s.ingest(page_request(T0 + 1.2, "/next"))  # the page's own host: the state at that moment
    assert findings(ev) == [("pre-consent", False)]


def test_granted_before_the_hit_no_finding_and_clients_are_separate():
    s, _ = make_session()
    s.ingest(onetrust_loaded(T0, client="10.0.0.9"))
    s.ingest(page_request(T0, cookie=f"OptanonConsent={ONETRUST_GRANTED}"))  # PHONE accepted
    [ok] = s.ingest(meta_pixel(T0 + 1))
    [other] = s.ingest(meta_pixel(T0 + 1, client="10.0.0.9"))  # another device: no choice yet
    assert ok.findings == () and findings(other) == [("pre-consent", True)]


def test_consent_after_the_hit_per_cmp_timestamp_is_still_an_error_and_before_it_retracts():
    s, _ = make_session()
    s.ingest(page_request(T0 - 5, "/node_modules/vanilla-cookieconsent/dist/cookieconsent.umd.js",
                          referer="https://www.shop.example/"))
    [early] = s.ingest(meta_pixel(T0 - 3))  # 3 s before the choice made at T0
    [late] = s.ingest(meta_pixel(T0 + 1))  # fired by the accept callback, after the choice
    s.tick(T0 + 5)  # no request showed the cookie in time: both are errors for now
    assert findings(early) == findings(late) == [("pre-consent", False)]
    s.ingest(page_request(T0 + 20, cookie=f"cc_cookie={quote(json.dumps(CC_V3_ACCEPT))}"))
    assert late.findings == ()  # cc_cookie's lastConsentTimestamp (T0) is before the hit
    assert findings(early) == [("pre-consent", False)]


def test_server_events_and_pixel_loads_are_not_judged():
    s, _ = make_session()
    s.ingest(onetrust_loaded(T0))
    srv = TrackingEvent(platform="meta", source=Source.server, event="Purchase", page_url="https://www.shop.example/",
                        time=T0 + 1, client="192.0.2.1")
    s.checks.process(srv)
    loader = RawHit(method="GET", url="https://connect.facebook.net/en_US/fbevents.js", time=T0 + 1, client=PHONE,
                    headers=[("referer", "https://www.shop.example/")])
    [loaded] = s.ingest(loader)
    assert srv.findings == () and loaded.findings == ()


def ga4_hit(t: float, **extra: str) -> RawHit:
    qs = urlencode({"v": "2", "tid": "G-ABC123XYZ", "gtm": "45je4b20v9", "_p": "1712345678901", "cid": "123.456",
                    "ul": "en-us", "sr": "1920x1080", "_s": "1", "sid": "1712345678", "sct": "1", "seg": "0",
                    "dl": "https://www.shop.example/", "dt": "Shop", "en": "page_view", **extra})
    return RawHit(method="POST", url=f"https://region1.google-analytics.com/g/collect?{qs}", time=t, client=PHONE,
                  headers=[("content-type", "text/plain;charset=UTF-8"), ("referer", "https://www.shop.example/")])


def test_consent_mode_pings_respect_denial_and_update_the_site_state():
    s, check = make_session()
    s.ingest(onetrust_loaded(T0))
    [ping] = s.ingest(ga4_hit(T0 + 1, gcs="G100", gcd="13p3p3p2p5"))
    assert ping.findings == ()  # a cookieless consent-mode ping is what a denied site should send
    assert check.sites()[0].purposes == {"marketing": State.denied, "analytics": State.denied}
    [meta] = s.ingest(meta_pixel(T0 + 2))
    s.tick(T0 + 10)
    [f] = meta.findings
    assert "Google consent mode gcs=G100 (ad_storage denied, analytics_storage denied) seen at" in f.message
    [ga4] = s.ingest(ga4_hit(T0 + 11))  # GA4 without consent mode: judged on analytics
    s.tick(T0 + 20)
    assert "while analytics consent on shop.example was denied (Google consent mode gcs=G100" in ga4.findings[0].message


def test_tcf_cookie_and_gdpr_consent_param():
    s, _ = make_session()
    s.ingest(onetrust_loaded(T0))
    s.ingest(page_request(T0, cookie=f"euconsent-v2={TCF_ALL}"))
    [ev] = s.ingest(meta_pixel(T0 + 1))
    assert ev.findings == ()


def test_usercentrics_is_consent_unknown_unless_a_readable_signal_exists():
    s, check = make_session()
    s.ingest(RawHit(method="GET", url="https://web.cmp.usercentrics.eu/ui/loader.js", time=T0, client=PHONE,
                    headers=[("referer", "https://www.shop.example/")]))
    [ev] = s.ingest(meta_pixel(T0 + 1))
    [f] = ev.findings
    assert (f.code, f.severity, f.pending) == ("consent-unknown", "info", False)
    assert "localStorage" in f.message
    assert check.sites()[0].state == State.unknown
    s.ingest(page_request(T0 + 2, cookie=f"uc_user_interaction=true; euconsent-v2={TCF_NONE}"))
    [ev2] = s.ingest(meta_pixel(T0 + 3))
    s.tick(T0 + 10)
    assert "euconsent-v2 TCF purposes consented: none" in ev2.findings[0].message


def test_user_rules_cookie_and_accept_url(tmp_path):
    s, _ = make_session(rules=[
        {"name": "in-house banner", "script": r"/js/banner\.js"},
        {"name": "in-house banner", "cookie": "shop_consent", "granted": r"ads=1", "denied": r"ads=0"},
        {"name": "accept endpoint", "url": r"/api/consent/accept$"},
    ])
    s.ingest(page_request(T0, "/js/banner.js", referer="https://www.shop.example/"))
    [pending] = s.ingest(meta_pixel(T0 + 1))
    assert findings(pending) == [("pre-consent", True)]
    s.ingest(page_request(T0 + 1.1, "/api/consent/accept", referer="https://www.shop.example/"))
    assert pending.findings == ()
    s.ingest(page_request(T0 + 5, cookie="shop_consent=ads%3D0%26stats%3D1"))
    [denied] = s.ingest(meta_pixel(T0 + 6))
    s.tick(T0 + 10)
    assert "in-house banner: cookie shop_consent=ads=0&stats=1 seen at" in denied.findings[0].message


def test_rule_validation_in_pixelspy_toml(tmp_path):
    p = tmp_path / "pixelspy.toml"
    p.write_text('[consent]\npending_timeout_s = 1.5\n[[consent.rules]]\ncookie = "c"\ngranted = "1"\n')
    assert load_config(p).consent.pending_timeout_s == 1.5
    p.write_text('[[consent.rules]]\ncookie = "c"\nurl = "x"\ngranted = "1"\n')
    with pytest.raises(ConfigError, match="exactly one of cookie, url, script"):
        load_config(p)
    p.write_text('[[consent.rules]]\ncookie = "c"\ngranted = "("\n')
    with pytest.raises(ConfigError, match="regular expression"):
        load_config(p)


def test_gpc_is_noted_and_optionally_means_denied():
    s, check = make_session()
    s.ingest(page_request(T0, cookie=f"OptanonConsent={ONETRUST_GRANTED}", sec_gpc="1"))
    [ev] = s.ingest(meta_pixel(T0 + 1))
    assert ev.findings == () and check.sites()[0].gpc
    s, _ = make_session(gpc_means_denied=True)
    s.ingest(page_request(T0, cookie=f"OptanonConsent={ONETRUST_GRANTED}", sec_gpc="1"))
    [ev] = s.ingest(meta_pixel(T0 + 1))
    s.tick(T0 + 10)
    assert "Sec-GPC: 1 (Global Privacy Control) seen at" in ev.findings[0].message


def test_state_is_bounded(monkeypatch):
    monkeypatch.setattr(consent, "MAX_SITES", 5)
    s, check = make_session()
    for i in range(50):
        s.ingest(page_request(T0 + i, host=f"www.shop{i}.example", cookie=f"OptanonConsent={ONETRUST_GRANTED}"))
    assert [x.site for x in check.sites()] == [f"shop{i}.example" for i in range(45, 50)]
    for i in range(200):  # one record's evidence stays bounded too
        s.ingest(page_request(T0 + 100 + i, host="www.shop49.example", cookie=f"klaro=%7B%22ads{i}%22%3Atrue%7D"))
    assert len(check.sites()[-1].evidence) == consent.MAX_EVIDENCE


def test_reset_forgets_everything():
    s, check = make_session()
    s.ingest(onetrust_loaded(T0))
    s.ingest(meta_pixel(T0 + 1))
    s.clear()
    assert check.sites() == []
    s.tick(T0 + 10)  # no pending left to resolve


# Hosts with host-less patterns only, with host and path patterns, with a host-only pattern.
_SCREEN_HOSTS = ["shop.example", "cdn.cookielaw.org", "cdn.iubenda.com", "tarteaucitron.io", "cdn.kiprotect.com"]
_PATH_PARTS = ["/", "wp-content/plugins/complianz-gdpr-premium/", "vanilla-cookieconsent@3.0.1/", "cs/",
               "klaro-no-css.min.js", "tarteaucitron.js", "cookieconsent@3/build/cookieconsent.min.js",
               "scripttemplates/otSDKStub.js", "orestbida/cookieconsent", "cookieconsent.esm.js", "img/a.png",
               "klaro/", "?v=1"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_SCREEN_HOSTS), st.lists(st.sampled_from(_PATH_PARTS), min_size=1, max_size=4))
def test_one_regex_screens_paths_as_the_cmp_patterns_do(host, parts):
    # Most requests load no CMP: one search of all the host's path patterns stands for the loop.
    path = "/" + "".join(parts).lstrip("/")
    patterns, any_path = cmp_patterns_on_host(host)
    each = any(p.on_path(path) for _, scripts, log in patterns for p in (*scripts, *log))
    assert (any_path.search(path) is not None) == each


# OneTrust with the site's own group ids (older tenants number them 1-4; others name them): no
# C0004/C0002 to read the purposes from.
ONETRUST_OWN_GROUPS = ONETRUST_DENIED.replace("groups=C0001%3A1%2CC0002%3A0%2CC0003%3A1%2CC0004%3A0",
                                              "groups=1%3A1%2C2%3A0%2C3%3A0%2C4%3A0")
ONETRUST_PARTLY_OWN = ONETRUST_DENIED.replace("%2CC0004%3A0", "%2CSPD_BG%3A0")


@pytest.mark.parametrize("value, unknown", [(ONETRUST_OWN_GROUPS, "groups 1:1,2:0,3:0,4:0"),
                                            (ONETRUST_PARTLY_OWN, "groups C0002:0")])
def test_a_consent_cookie_of_the_sites_own_configuration_is_consent_unknown_not_pre_consent(value, unknown):
    s, check = make_session()
    s.ingest(onetrust_loaded(T0))
    s.ingest(page_request(T0 + 0.1, cookie=f"OptanonConsent={value}; OptanonAlertBoxClosed=2023-11-14T09:23:45.123Z"))
    [ev] = s.ingest(meta_pixel(T0 + 0.5))
    s.ingest(page_request(T0 + 1.5, "/img/logo.png", cookie=f"OptanonConsent={value}"))
    s.tick(T0 + 10)
    [f] = ev.findings
    assert (f.code, f.severity) == ("consent-unknown", "info")
    assert "OptanonConsent" in f.message and "the site's own consent configuration" in f.message
    assert unknown in f.message
    [site] = check.sites()
    assert site.state == State.unknown


def test_a_choice_known_from_outside_the_traffic_settles_waiting_hits_at_once():
    """`pixelspy audit` clicks "accept" at T0+5 and tells the check: the hit before the click is an
    error, the hit the accept callback fired is fine, though no later request shows the cookie."""
    s, check = make_session()
    s.ingest(onetrust_loaded(T0))
    [early] = s.ingest(meta_pixel(T0 + 1))
    [late] = s.ingest(meta_pixel(T0 + 5.3))  # reached the proxy before the audit's note
    s.note_choice("www.shop.example", T0 + 5, {"marketing": True, "analytics": True}, "audit clicked accept all")
    assert late.findings == ()
    [f] = early.findings
    assert (f.code, f.pending) == ("pre-consent", False)
    assert "consent was given only at" in f.message and "audit clicked accept all" in f.message
    [after] = s.ingest(meta_pixel(T0 + 7))
    assert after.findings == () and check.sites()[0].state == State.granted


def test_a_refusal_known_from_outside_the_traffic_makes_later_hits_errors():
    s, _ = make_session()
    s.ingest(onetrust_loaded(T0))
    s.note_choice("shop.example", T0 + 2, {"marketing": False, "analytics": False}, "audit clicked reject all")
    [ev] = s.ingest(meta_pixel(T0 + 3))
    s.tick(T0 + 10)
    [f] = ev.findings
    assert f.code == "pre-consent" and "after the visitor refused marketing consent on shop.example at " in f.message
    assert "(audit clicked reject all seen at" in f.message


# ---- US signals (GPP, US Privacy) and sites of the Public Suffix List, through a real session ------

def google_ads_hit(t: float, **extra: str) -> RawHit:
    """A Google Ads remarketing hit as gtag.js sends it, with the consent strings it carries."""
    qs = urlencode({"random": str(int(t * 1000)), "cv": "11", "fst": str(int(t * 1000)), "num": "1", "bg": "ffffff",
                    "guid": "ON", "resp": "GooglemKTybQhCsO", "gtm": "45be4b20v9", "u_w": "1440", "u_h": "900",
                    "url": "https://www.shop.example/cart", "ref": "https://www.shop.example/", "tiba": "Cart",
                    "data": "event=page_view", "rfmt": "3", "fmt": "4", **extra})
    return RawHit(method="GET", url=f"https://googleads.g.doubleclick.net/pagead/viewthroughconversion/715226501/?{qs}",
                  time=t, client=PHONE, headers=[("referer", "https://www.shop.example/")])


def pixel_after_cookie(cookie: str, cmp_loaded: bool = True) -> tuple[TrackingEvent, ConsentCheck]:
    """A Meta PageView after a page request carrying `cookie` (OneTrust loaded before), settled."""
    s, check = make_session()
    if cmp_loaded:
        s.ingest(onetrust_loaded(T0))
    s.ingest(page_request(T0 + 0.1, cookie=cookie))
    [ev] = s.ingest(meta_pixel(T0 + 1))
    s.tick(T0 + 10)
    return ev, check


def test_a_us_opt_out_in_the_gpp_cookie_makes_marketing_hits_errors():
    ev, check = pixel_after_cookie(f"__gpp={GPP_USNAT_OPTED_OUT}; __gpp_sid=7")
    [f] = ev.findings
    assert (f.code, f.pending) == ("pre-consent", False)
    assert "while marketing consent on shop.example was denied (__gpp GPP usnat SaleOptOut opted out" in f.message
    assert check.sites()[0].purposes["marketing"] == State.denied


def test_us_signals_that_allow_or_say_nothing_raise_no_finding():
    # No opt-out: the US laws let the pixel fire.
    ev, _ = pixel_after_cookie("usprivacy=1YNN; OptanonAlertBoxClosed=2023-11-14T09:23:45.123Z")
    assert ev.findings == ()
    # "Not applicable" strings without a CMP: no CMP seen, no "consent unknown" either.
    ev, check = pixel_after_cookie(f"usprivacy=1---; __gpp={GPP_USNAT_NOT_APPLICABLE}; __gpp_sid=7", cmp_loaded=False)
    assert ev.findings == ()
    [site] = check.sites()
    assert site.state == State.no_cmp and site.cmp is None
    assert [e.text for e in site.evidence] == ["usprivacy=1--- (US Privacy: opt-out of sale not applicable)",
                                               "__gpp GPP not applicable: usnat"]


def test_an_unreadable_us_privacy_cookie_is_consent_unknown_never_a_denial():
    ev, _ = pixel_after_cookie("usprivacy=1YNX")
    [f] = ev.findings
    assert (f.code, f.severity) == ("consent-unknown", "info") and "usprivacy present" in f.message


def test_gpp_and_us_privacy_on_a_hit():
    s, check = make_session()
    s.ingest(onetrust_loaded(T0))
    # The hit tells Google the visitor opted out (restricted processing): the hit itself is allowed,
    # and the site's state is now "denied" for the pixels that do not carry the signal.
    [ads] = s.ingest(google_ads_hit(T0 + 1, gpp=GPP_USNAT_OPTED_OUT, gpp_sid="7"))
    assert ads.findings == ()
    [meta] = s.ingest(meta_pixel(T0 + 2))
    s.tick(T0 + 10)
    assert "gpp GPP usnat SaleOptOut opted out" in meta.findings[0].message
    # us_privacy with no opt-out grants (the hit waits, as any, for the state at the next request);
    # gpp_sid=-1 (GPP does not apply) says nothing.
    [later] = s.ingest(google_ads_hit(T0 + 20, us_privacy="1YNN", gpp=GPP_USNAT_OPTED_OUT, gpp_sid="-1"))
    s.tick(T0 + 30)
    assert later.findings == () and check.sites()[0].purposes["marketing"] == State.granted


def test_shops_on_one_platform_domain_are_separate_sites():
    """shop-a.myshopify.com's consent cookie does not speak for shop-b.myshopify.com (nor do browsers
    send it there)."""
    def shop_pixel(t: float, shop: str) -> RawHit:
        return meta_pixel(t, page=f"https://{shop}.myshopify.com/cart")

    s, check = make_session()
    for shop in ("shop-a", "shop-b"):
        s.ingest(RawHit(method="GET", url="https://cdn.cookielaw.org/scripttemplates/otSDKStub.js", time=T0,
                        client=PHONE, headers=[("referer", f"https://{shop}.myshopify.com/")]))
    s.ingest(page_request(T0 + 0.1, host="shop-a.myshopify.com", cookie=f"OptanonConsent={ONETRUST_GRANTED}"))
    [a] = s.ingest(shop_pixel(T0 + 1, "shop-a"))
    [b] = s.ingest(shop_pixel(T0 + 1, "shop-b"))
    s.tick(T0 + 10)
    assert a.findings == () and findings(b) == [("pre-consent", False)]
    assert {x.site: x.state for x in check.sites()} == {"shop-a.myshopify.com": State.granted,
                                                         "shop-b.myshopify.com": State.no_choice}


def test_saved_files_keep_every_consent_cookie_of_the_table():
    # pixelspy/har.py keeps these values when it redacts a HAR file: the verdicts must survive reopening.
    names, prefixes = consent_cookies()
    assert {"OptanonConsent", "CookieConsent", "euconsent-v2", "__gpp", "__gpp_sid", "usprivacy"} <= names
    assert "_iub_cs-" in prefixes and "_ga" not in names
