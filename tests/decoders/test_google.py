"""Google: GA4 /g/collect (GET, batched POST, server-side tagging hosts), Google Ads conversion pings,
the gtag.js loader."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from pixelspy.decoders import default_registry
from pixelspy.model import Kind, RawHit, Source

# gtag.js 2024 page_view, as sent by a GET (or a bodiless beacon) to /g/collect.
GA4_PAGE_VIEW = (
    "https://region1.google-analytics.com/g/collect?v=2&tid=G-ABC123XYZ&gtm=45je4ca0v9115&_p=1712345678901"
    "&gcs=G111&gcd=13l3l3l3l1l1&npa=0&dma=1&dma_cps=sypham&tag_exp=0~101686685&cid=1473268947.1712345600"
    "&ul=en-us&sr=2560x1440&uaa=x86&_s=1&sid=1712345600&sct=3&seg=1"
    "&dl=https%3A%2F%2Fshop.example%2Fproduct%2F42&dr=https%3A%2F%2Fwww.google.com%2F&dt=Blue%20Shirt"
    "&en=page_view&_fv=1&_nsi=1&_ss=1&_ee=1&tfd=1360"
)
# A batched POST: shared context in the URL, one event per body line (gtag joins them with \r\n).
GA4_BATCH_URL = (
    "https://www.google-analytics.com/g/collect?v=2&tid=G-ABC123XYZ&gtm=45je4ca0v9115&_p=1712345678901"
    "&gcs=G101&gcd=13p3p3p2p5l1&npa=1&dma=1&gdpr=1&gdpr_consent=CP1234.AAAA&cid=1473268947.1712345600"
    "&ul=en-us&sr=2560x1440&_s=4&sid=1712345600&sct=3&seg=1&dl=https%3A%2F%2Fshop.example%2Fcheckout%2Fthanks"
    "&dt=Thanks&uid=customer-42"
)
GA4_BATCH_BODY = (
    "en=scroll&epn.percent_scrolled=90&_et=5123\r\n"
    "en=add_to_cart&cu=EUR&pr1=idsku-1~nmBlue%20Shirt~pr24.95~qt2~brAcme&epn.value=49.9&_et=20\r\n"
    "en=purchase&cu=EUR&ep.transaction_id=T-1001&epn.value=59.8&epn.tax=9.55&epn.shipping=4.9&ep.coupon=SPRING"
    "&pr1=idsku-1~nmBlue%20Shirt~pr24.95~qt2&pr2=idsku-9~nmSocks~pr9.9~qt1~k0color~v0red&_et=12"
)

# Omnibug's real Google Ads URLs (test/providers/GoogleAds.js).
ADS_PAGE_VIEW = (
    "https://googleads.g.doubleclick.net/pagead/viewthroughconversion/1111111/?random=1556397983526&cv=9"
    "&fst=1556397983526&num=1&bg=ffffff&guid=ON&resp=GooglemKTybQhCsO&u_h=1440&u_w=2560&u_ah=1400&u_aw=2560"
    "&u_cd=24&u_his=2&u_tz=-420&u_java=false&u_nplug=3&u_nmime=4&gtm=2ou430&sendb=1&data=event%3Dgtag.config"
    "&frm=0&url=https%3A%2F%2Fomnibug.io%2F&tiba=Omnibug%20%7C%20A%20Digital%20Marketing%20Debugging%20Tool"
    "&async=1&rfmt=3&fmt=4"
)
ADS_PURCHASE = (
    "https://googleads.g.doubleclick.net/pagead/viewthroughconversion/1111111/?random=846177263&cv=9&fst=*"
    "&num=1&label=AbC-D_efG-h12_34-567&bg=ffffff&guid=ON&resp=GooglemKTybQhCsO&u_h=1440&u_w=2560&u_ah=1400"
    "&u_aw=2560&u_cd=24&u_his=2&u_tz=-420&u_java=false&u_nplug=3&u_nmime=4&gtm=2ou430&sendb=1"
    "&value=59.8&currency_code=EUR&oid=T-1001&gcs=G111&gcd=13l3l3l3l1l1&npa=0"
    "&data=event%3Dpurchase%3Ballow_custom_scripts%3Dtrue&frm=0&url=https://omnibug.io/"
    "&tiba=Omnibug%20%7C%20A%20Digital%20Marketing%20Debugging%20Tool&async=1&fmt=3&ctc_id=CAIVAgAAAB0CAAAA"
    "&ct_cookie_present=false&ocp_id=BLrEXM3MC6KonAf3x6yQCw&crd=&gtd="
)


def decode(method: str, url: str, body: bytes = b"", **headers: str):
    hit = RawHit(method=method, url=url, body=body, headers=[(k.replace("_", "-"), v) for k, v in headers.items()])
    return default_registry().decode(hit)


# ---------------------------------------------------------------- GA4


def test_ga4_page_view_get():
    (ev,) = decode("GET", GA4_PAGE_VIEW)
    assert (ev.platform, ev.source, ev.kind) == ("google", Source.browser, Kind.event)
    assert (ev.pixel_id, ev.event, ev.standard_event) == ("G-ABC123XYZ", "page_view", "PageView")
    assert ev.page_url == "https://shop.example/product/42"
    assert (ev.value, ev.currency, ev.order_id, ev.content_ids) == (None, None, None, ())
    assert ev.endpoint == "GA4 GET" and ev.decode_errors == ()
    consent = {p.name: (p.value, p.group) for p in ev.params if p.group == "Consent"}
    assert consent == {"gcs": ("G111", "Consent"), "gcd": ("13l3l3l3l1l1", "Consent"), "npa": ("0", "Consent"),
                       "dma": ("1", "Consent"), "dma_cps": ("sypham", "Consent")}
    assert ev.param("cid") == "1473268947.1712345600"
    assert ev.user_data == ()  # the GA client id is not advanced-matching data


def test_ga4_batched_post_is_one_event_per_line_sharing_the_url():
    scroll, cart, purchase = decode("POST", GA4_BATCH_URL, GA4_BATCH_BODY.encode(),
                                    content_type="text/plain;charset=UTF-8")
    for ev in (scroll, cart, purchase):
        assert ev.pixel_id == "G-ABC123XYZ"
        assert ev.page_url == "https://shop.example/checkout/thanks"
        assert ev.endpoint == "GA4 POST batch (3 events)"
        assert ev.decode_errors == ()
        assert (ev.param("gcs"), ev.param("gdpr"), ev.param("gdpr_consent"), ev.param("uid")) == (
            "G101", "1", "CP1234.AAAA", "customer-42")
    assert (scroll.event, scroll.standard_event, scroll.param("epn.percent_scrolled")) == ("scroll", None, "90")
    assert scroll.param("cu") is None  # one line's params do not leak into another
    assert (cart.event, cart.standard_event, cart.value, cart.currency) == ("add_to_cart", "AddToCart", "49.9", "EUR")
    assert cart.content_ids == ("sku-1",)
    assert (purchase.event, purchase.standard_event) == ("purchase", "Purchase")
    assert (purchase.value, purchase.currency, purchase.order_id) == ("59.8", "EUR", "T-1001")
    assert purchase.content_ids == ("sku-1", "sku-9")
    assert purchase.param("pr2") == "idsku-9~nmSocks~pr9.9~qt1~k0color~v0red"
    value = next(p for p in purchase.params if p.name == "epn.value")
    assert (value.label, value.group) == ("Value", "Ecommerce")
    coupon = next(p for p in purchase.params if p.name == "ep.coupon")
    assert coupon.group == "Ecommerce"
    tax = next(p for p in purchase.params if p.name == "epn.tax")
    assert (tax.label, tax.group) == ("Tax", "Ecommerce")


def test_ga4_recommended_events_map_to_canonical_names():
    names = {"view_item": "ViewContent", "begin_checkout": "InitiateCheckout", "add_payment_info": "AddPaymentInfo",
             "generate_lead": "Lead", "sign_up": "CompleteRegistration", "search": "Search",
             "add_to_wishlist": "AddToWishlist", "login": None}
    body = "\r\n".join(f"en={n}" for n in names).encode()
    events = decode("POST", "https://www.google-analytics.com/g/collect?v=2&tid=G-1", body)
    assert [(e.event, e.standard_event) for e in events] == list(names.items())


def test_ga4_on_server_side_tagging_domains_and_prefixed_paths():
    (ev,) = decode("GET", "https://sgtm.shop.example/g/collect?v=2&tid=G-SST1&en=page_view")
    assert (ev.platform, ev.pixel_id) == ("google", "G-SST1")
    (ev,) = decode("POST", "https://shop.example/4vu8/g/collect?v=2&tid=G-ABC&en=page_view&dl=https%3A%2F%2Fshop.example%2F")
    assert (ev.event, ev.page_url, ev.endpoint) == ("page_view", "https://shop.example/", "GA4 POST")


def test_ga4_excluded_hosts_are_not_ga4():
    for url in ("https://e.clarity.ms/g/collect?v=2&tid=G-1&en=x", "https://clarity.ms/g/collect",
                "https://api.transcend.io/g/collect", "https://stats.g.doubleclick.net/g/collect?v=2&tid=G-1"):
        assert decode("GET", url) == []
    assert decode("GET", "https://www.google-analytics.com/collect?v=1&tid=UA-1-1&t=pageview") == []
    assert decode("GET", "https://www.google-analytics.com/j/collect?v=1&tid=UA-1-1") == []


def test_ga4_garbage_is_decode_errors():
    (ev,) = decode("GET", "https://www.google-analytics.com/g/collect?v=2&dl=%zz")
    assert "no event name (en)" in ev.decode_errors and "no measurement ID (tid)" in ev.decode_errors
    assert any("percent-encoding" in e for e in ev.decode_errors)
    events = decode("POST", "https://www.google-analytics.com/g/collect?v=2&tid=G-1",
                    b"en=page_view\r\n\xff\xfe%zz\r\nen=scroll", content_type="text/plain")
    assert len(events) == 3 and events[0].event == "page_view" and events[2].event == "scroll"
    assert any("body line 2" in e for e in events[1].decode_errors)
    assert "no event name (en)" in events[1].decode_errors
    assert "no event name (en)" not in events[2].decode_errors


# ---------------------------------------------------------------- Google Ads


def test_ads_page_view_ping():
    (ev,) = decode("GET", ADS_PAGE_VIEW)
    assert (ev.platform, ev.pixel_id) == ("google", "AW-1111111")
    assert (ev.event, ev.standard_event) == ("gtag.config", "PageView")
    assert ev.page_url == "https://omnibug.io/"
    assert ev.endpoint == "Google Ads pagead/viewthroughconversion"
    assert ev.param("data.event") == "gtag.config"
    tiba = next(p for p in ev.params if p.name == "tiba")
    assert (tiba.value, tiba.label) == ("Omnibug | A Digital Marketing Debugging Tool", "Page title")
    assert ev.decode_errors == ()


def test_ads_purchase_conversion():
    (ev,) = decode("GET", ADS_PURCHASE)
    assert (ev.pixel_id, ev.event, ev.standard_event) == ("AW-1111111", "purchase", "Purchase")
    assert (ev.value, ev.currency, ev.order_id, ev.event_id) == ("59.8", "EUR", "T-1001", "T-1001")
    assert ev.param("label") == "AbC-D_efG-h12_34-567"
    assert ev.param("data.allow_custom_scripts") == "true"
    assert {p.name for p in ev.params if p.group == "Consent"} == {"gcs", "gcd", "npa"}
    assert ev.decode_errors == ()


def test_ads_conversion_endpoints():
    (ev,) = decode("GET", "https://www.googleadservices.com/pagead/conversion/987654321/?label=xYz&value=10.0"
                   "&currency_code=USD&oid=A-7&url=https%3A%2F%2Fshop.example%2Fthanks&gtm=45be4")
    assert (ev.pixel_id, ev.event, ev.value, ev.currency, ev.order_id) == ("AW-987654321", "conversion", "10.0",
                                                                            "USD", "A-7")
    assert (ev.page_url, ev.endpoint) == ("https://shop.example/thanks", "Google Ads pagead/conversion")
    (ev,) = decode("GET", "https://www.google.com/pagead/1p-conversion/987654321/?label=xYz&value=10.0"
                   "&currency_code=USD&oid=A-7&data=event%3Dpurchase")
    assert (ev.pixel_id, ev.event, ev.standard_event, ev.endpoint) == (
        "AW-987654321", "purchase", "Purchase", "Google Ads pagead/1p-conversion www.google.com")


def test_ccm_collect_consent_mode_ping():
    (ev,) = decode("POST", "https://www.google.com/ccm/collect?tid=AW-797629828&en=page_view"
                   "&dl=https%3A%2F%2Fwww.example.com%2Fen-us%2F&scrsrc=www.googletagmanager.com&frm=0"
                   "&rnd=2104649365.1746729079&dt=Example&auid=1475816545.1746729079&navt=n&npa=0"
                   "&gtm=45je5570h1v894068940za200&gcd=13l3l3l3l1l1&dma=0&tfd=1")
    assert (ev.pixel_id, ev.event, ev.standard_event) == ("AW-797629828", "page_view", "PageView")
    assert (ev.page_url, ev.endpoint) == ("https://www.example.com/en-us/", "Google Ads ccm/collect")
    assert ev.param("gcd") == "13l3l3l3l1l1" and ev.decode_errors == ()


def test_ccm_collect_of_a_tag_manager_container_names_no_tag():
    # As GTM containers sent it on nevadahealthlink.com, pennie.com and coverme.gov in 2025 (The
    # Markup's Blacklight scans): the container's own page_view ping, no tid by design.
    (ev,) = decode("POST", "https://www.google.com/ccm/collect?en=page_view"
                   "&dl=https%3A%2F%2Fwww.nevadahealthlink.com%2F&scrsrc=www.googletagmanager.com&frm=0"
                   "&rnd=757142017.1745853804&dt=Home&auid=913515078.1745853804&navt=n&npa=0"
                   "&gtm=45He54n0v71460865za200&gcd=13l3l3l3l1l1&dma=0&tfd=1")
    assert (ev.pixel_id, ev.event, ev.decode_errors) == (None, "page_view", ())


def test_ads_garbage_is_decode_errors():
    (ev,) = decode("GET", "https://www.google.com/ccm/collect?rcb=6&frm=0")
    assert ev.decode_errors == ("no event (data=event=… or en)",)
    (ev,) = decode("GET", "https://googleads.g.doubleclick.net/pagead/viewthroughconversion/1/?data=%3B%3D%3Bevent")
    assert ev.pixel_id == "AW-1" and ev.event is None


def test_ads_json_body_is_flagged():
    (ev,) = decode("POST", "https://www.google.com/ccm/collect?tid=AW-1&en=page_view", b'{"en": "purch',
                   content_type="application/json")
    assert ev.event == "page_view"
    assert any("not valid JSON" in e for e in ev.decode_errors)
    (ev,) = decode("POST", "https://www.google.com/ccm/collect?tid=AW-1&en=page_view", b'{"en": "purchase"}',
                   content_type="application/json")
    assert ev.decode_errors == ("Google Ads body is JSON; gtag sends a query string",)


def test_other_google_paths_are_not_tracking():
    assert decode("GET", "https://www.google.com/search?q=pixels") == []
    assert decode("GET", "https://www.google.com/recaptcha/api.js") == []


def test_gtag_loader_is_pixel_loaded_and_passes_through():
    (ev,) = decode("GET", "https://www.googletagmanager.com/gtag/js?id=G-ABC123XYZ&l=dataLayer&cx=c",
                   referer="https://shop.example/")
    assert (ev.kind, ev.pixel_id, ev.endpoint, ev.page_url) == (Kind.pixel_loaded, "G-ABC123XYZ", "gtag.js",
                                                                 "https://shop.example/")
    route, _ = default_registry().find("www.googletagmanager.com", "/gtag/js")
    assert route.sink is False


def test_a_google_tags_linked_destination_is_a_load_of_its_own():
    # fetched by the GA4 Google tag of www.nevadahealthlink.com (April 2025) for its Ads destination
    (ev,) = decode("GET", "https://www.googletagmanager.com/gtag/destination?id=AW-388099485&l=dataLayer&cx=c"
                   "&gtm=45je54n0v898007499za200zb71460865")
    assert (ev.kind, ev.pixel_id, ev.endpoint) == (Kind.pixel_loaded, "AW-388099485", "gtag.destination")


def test_gtag_loader_keeps_what_its_query_says_about_who_fetched_it():
    # analytics.js fetching its connected GA4 tag (www.mahealthconnector.org, April 2025)
    (ev,) = decode("GET", "https://www.googletagmanager.com/gtag/js?id=G-P4KXFQ6SH0&cx=c&_slc=1")
    assert [(p.name, p.value, p.label) for p in ev.params] == [
        ("id", "G-P4KXFQ6SH0", "Tag ID"), ("cx", "c", "Fetched by a running Google tag (c)"),
        ("_slc", "1", "Connected site tag, fetched by a Universal Analytics tag")]


@settings(max_examples=300, deadline=None)
@given(url=st.sampled_from(["https://www.google-analytics.com/g/collect", "https://x.example/a/g/collect",
                            "https://www.google.com/ccm/collect",
                            "https://googleads.g.doubleclick.net/pagead/viewthroughconversion/1/"]),
       method=st.sampled_from(["GET", "POST"]),
       query=st.lists(st.tuples(st.sampled_from(["tid", "en", "dl", "cu", "epn.value", "pr1", "data", "label", "x"]),
                                st.text(max_size=20)), max_size=6),
       body=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_fuzz_never_raises(url, method, query, body):
    full = url + "?" + "&".join(f"{k}={quote(v)}" for k, v in query)
    for ev in decode(method, full, body, content_type="text/plain"):
        assert not any(e.startswith("decoder error:") for e in ev.decode_errors)


# ---------------------------------------------------------------- hits without an event by design

# Dynamic remarketing through gtag (linio.cl, a public Gatling recording) and the legacy remarketing
# tag's <noscript> image (a Magento shop's page source; Anaraky GDRT); amazon.in's noscript image
# carries a label beside its ecomm data (a public NetStorm script).
REMARKETING_PING = (
    "https://googleads.g.doubleclick.net/pagead/viewthroughconversion/1004172317/?random=1630209071612&cv=9"
    "&fst=1630209071612&num=1&guid=ON&resp=GooglemKTybQhCsO&u_h=700&u_w=1366&u_ah=700&u_aw=1366&u_cd=24&u_his=2"
    "&u_tz=330&u_java=false&u_nplug=3&u_nmime=4&gtm=2wg8p0&sendb=1&ig=1&data=ecomm_pagetype%3Dhome&frm=0"
    "&url=https%3A%2F%2Fwww.linio.cl%2F&tiba=Linio%20Chile%20I%20Grandes%20ofertas%20y%20promociones%20todo"
    "%20el%20a%C3%B1o&hn=www.googleadservices.com&async=1&rfmt=3&fmt=4")
REMARKETING_NOSCRIPT = ("https://googleads.g.doubleclick.net/pagead/viewthroughconversion/941242151/"
                        "?value=0&guid=ON&script=0&data=ecomm_pagetype%3Dhome")
LABELLED_NOSCRIPT = ("https://googleads.g.doubleclick.net/pagead/viewthroughconversion/984527532/?value=0"
                     "&label=r_58CJXm0gIQw9iz3gM&guid=ON&script=0&data=ecomm_pagetype%3DGateway%3B"
                     "CURRENT_TIME%3D2019-07-17T18%3A23%3A49.154Z%3BSignedIn%3DN")


def test_remarketing_pings_name_no_event_by_design():
    for url, account in ((REMARKETING_PING, "AW-1004172317"), (REMARKETING_NOSCRIPT, "AW-941242151"),
                         (LABELLED_NOSCRIPT, "AW-984527532"),
                         ("https://googleads.g.doubleclick.net/pagead/viewthroughconversion/941242151/?guid=ON&script=0",
                          "AW-941242151")):
        (ev,) = decode("GET", url)
        assert (ev.pixel_id, ev.event, ev.standard_event, ev.decode_errors) == (account, "remarketing", None, ()), url
        assert ev.title == "remarketing page view"
    (ev,) = decode("GET", REMARKETING_PING)
    assert ev.param("data.ecomm_pagetype") == "home" and ev.page_url == "https://www.linio.cl/"


def test_a_conversion_tags_noscript_image_is_a_conversion():
    (ev,) = decode("GET", "https://www.googleadservices.com/pagead/conversion/987654321/?label=xYz&guid=ON&script=0")
    assert (ev.event, ev.decode_errors) == ("conversion", ())


def test_google_copies_are_answered_but_not_listed():
    # The 1p-user-list hop of amazon.in's remarketing image (same NetStorm script), on www.google.com and
    # the visitor's country domain; Google Signals' copy of a GA4 hit.
    registry = default_registry()
    for url in ("https://www.google.com/pagead/1p-user-list/984527532/?value=0&label=r_58CJXm0gIQw9iz3gM&guid=ON"
                "&script=0&data=ecomm_pagetype%3DGateway&cdct=2&is_vtc=1&random=4256831513",
                "https://www.google.co.in/pagead/1p-user-list/984527532/?value=0&guid=ON&script=0&random=4256831513",
                "https://stats.g.doubleclick.net/g/collect?v=2&ngs=1&ibt=1&tid=G-SHOPDEMO42&cid=746406658.1791212460"):
        hit = RawHit(method="GET", url=url)
        route, _ = registry.find(hit.host, hit.path)
        assert route.sinks(hit) and registry.decode(hit) == [], url


# ---------------------------------------------------------------- lookalike /g/collect (family 9)


def test_g_collect_on_another_host_needs_ga4s_signature():
    registry = default_registry()
    for url in ("https://shop.example/g/collect?foo=1",  # the site's own endpoint
                "https://shop.example/api/g/collect?v=1&tid=UA-1-1",
                "https://shop.example/g/collect?v=2&en=page_view",
                "https://e.clarity.ms/g/collect?v=2&tid=G-1&en=x"):
        hit = RawHit(method="POST", url=url, body=b"en=page_view")
        route, _ = registry.find(hit.host, hit.path)
        assert registry.decode(hit) == [] and not route.sinks(hit), url
    # Google tag gateway on a first-party path, and a server-side container: GA4, decoded and sunk.
    for url in ("https://shop.example/metrics/g/collect?v=2&tid=G-SHOPDEMO42&cid=1.2&en=page_view&dl=https%3A%2F%2Fshop.example%2F",
                "https://sgtm.shop.example/g/collect?v=2&tid=G-SHOPDEMO42&en=page_view"):
        hit = RawHit(method="GET", url=url)
        (ev,) = registry.decode(hit)
        assert (ev.pixel_id, ev.event, ev.decode_errors) == ("G-SHOPDEMO42", "page_view", ()), url
        assert registry.find(hit.host, hit.path)[0].sinks(hit)


# ---------------------------------------------------------------- Floodlight


def test_floodlight_iframe_tag():
    # Omnibug's test URL (test/providers/GoogleDoubleClick.js): a sales activity with u-variables.
    (ev,) = decode("GET", "https://1234567.fls.doubleclick.net/activityi;src=1234567;type=group1;cat=thank123;qty=1;"
                   "cost=666.66;ord=xact111;gtm=2ou430;u1=test123;u10=123test;auiddc=890045014.1556389977;"
                   "~oref=https%3A%2F%2Fomnibug.io%2F?")
    assert (ev.platform, ev.pixel_id, ev.event, ev.standard_event) == ("google", "DC-1234567", "group1/thank123", None)
    assert (ev.value, ev.param("cost"), ev.order_id, ev.page_url) == (None, "666.66", "xact111", "https://omnibug.io/")
    assert ev.endpoint == "Floodlight fls.doubleclick.net" and ev.decode_errors == ()
    u1 = next(p for p in ev.params if p.name == "u1")
    assert (u1.value, u1.label, u1.group) == ("test123", "Custom variable u1", "Custom variables")


def test_floodlight_gtag_and_image_hosts():
    # gtag's Floodlight hit on adservice.google.com (etihad.com, a public LoadRunner script), the image
    # tag on ad.doubleclick.net (Google's security blog page), the legacy /activity; form.
    (ev,) = decode("GET", "https://adservice.google.com/ddm/fls/i/dc_pre=CJ6o77DQ--4CFZLj7Qod-gwFOw;src=4338867;"
                   "type=Count-;cat=Etiha-;ord=4336956492503;gtm=2wg2a1;auiddc=706136819.1613932803;u57=book;"
                   "u59=1994364360;u40=en;u61=us;u63=Desktop;u64=www.etihad.com;"
                   "~oref=https%3A%2F%2Fwww.etihad.com%2Fen-us%2Fbook")
    assert (ev.pixel_id, ev.event, ev.order_id, ev.page_url) == ("DC-4338867", "Count-/Etiha-", None,
                                                                 "https://www.etihad.com/en-us/book")
    assert ev.param("dc_pre") == "CJ6o77DQ--4CFZLj7Qod-gwFOw" and ev.endpoint == "Floodlight adservice.google.com"
    (ev,) = decode("GET", "https://ad.doubleclick.net/ddm/activity/src=2542116;type=gblog;cat=googl0;ord=1?")
    assert (ev.pixel_id, ev.event, ev.decode_errors) == ("DC-2542116", "gblog/googl0", ())
    (ev,) = decode("GET", "https://ad.doubleclick.net/activity;src=1234567;type=sales;cat=purch0;ord=1;num=2?")
    assert (ev.pixel_id, ev.event, ev.endpoint) == ("DC-1234567", "sales/purch0", "Floodlight ad.doubleclick.net")
    (ev,) = decode("GET", "https://adservice.google.co.in/ddm/fls/z/src=13662078;type=hp;cat=allpages;ord=1")
    assert ev.pixel_id == "DC-13662078"


def test_floodlight_paths_elsewhere_are_not_floodlight():
    assert decode("GET", "https://shop.example/activity;src=1;type=a;cat=b") == []
    (ev,) = decode("GET", "https://ad.doubleclick.net/ddm/activity/ord=1?")
    assert ev.decode_errors == ("no advertiser ID (src)", "no activity (type and cat)")


# ---------------------------------------------------------------- loaders


def test_gtm_container_is_pixel_loaded_and_passes_through():
    (ev,) = decode("GET", "https://www.googletagmanager.com/gtm.js?id=GTM-ABC123&l=omnibug")  # Omnibug's test URL
    assert (ev.kind, ev.pixel_id, ev.endpoint) == (Kind.pixel_loaded, "GTM-ABC123", "gtm.js")
    assert default_registry().find("www.googletagmanager.com", "/gtm.js")[0].sink is False


def test_first_party_loaders_need_a_google_tag_id():
    (ev,) = decode("GET", "https://shop.example/metrics/gtm.js?id=GTM-SHOP42X")
    assert (ev.kind, ev.pixel_id) == (Kind.pixel_loaded, "GTM-SHOP42X")
    (ev,) = decode("GET", "https://shop.example/metrics/gtag/js?id=G-SHOPDEMO42")
    assert (ev.kind, ev.pixel_id, ev.endpoint) == (Kind.pixel_loaded, "G-SHOPDEMO42", "gtag.js")
    assert decode("GET", "https://shop.example/static/gtm.js") == []


def test_snippet_hits_without_an_event_raise_no_warning_through_the_checks():
    # Family 2 of issue #23: what the vendors' own snippets send is never a missing-param / decode-error.
    from pixelspy.session import Session

    session = Session()
    urls = (REMARKETING_PING, REMARKETING_NOSCRIPT,
            "https://googleads.g.doubleclick.net/pagead/viewthroughconversion/941242151/?guid=ON&script=0",
            "https://www.googleadservices.com/pagead/conversion/987654321/?label=xYz&guid=ON&script=0",
            "https://ct.pinterest.com/v3/?tid=2612733222301&noscript=1",
            "https://1234567.fls.doubleclick.net/activityi;src=1234567;type=group1;cat=thank123;qty=1;cost=666.66;"
            "ord=xact111;gtm=2ou430;auiddc=890045014.1556389977;~oref=https%3A%2F%2Fomnibug.io%2F?")
    for n, url in enumerate(urls):
        (ev,) = session.ingest(RawHit(method="GET", url=url, client=f"10.0.0.{n + 1}"))
        assert ev.decode_errors == (), url
        assert [f.code for f in ev.findings if f.severity != "info"] == [], (url, ev.findings)


# One Floodlight fire as test.victoriassecret.com's home page sent it (a Gatling recording, see
# tests/realtraffic/cases/victoriassecret-signin.toml): the activityi hit, its dc_pre hop, and the
# adservice pings on google.com and a country domain.
FLS = ("src=4168207;type=home;cat=vsd_home;ord=1;num=3622886248098;gtm=2od6f0;auiddc=955750905.1655398648;"
       "~oref=https%3A%2F%2Fshop.example%2Fus%2F")
FLS_FIRE = [f"https://4168207.fls.doubleclick.net/activityi;{FLS}?",
            f"https://4168207.fls.doubleclick.net/activityi;dc_pre=CMKdjei4svgCFZyDgwgdGSUBgA;{FLS}?",
            f"https://adservice.google.com/ddm/fls/i/dc_pre=CMKdjei4svgCFZyDgwgdGSUBgA;{FLS}",
            f"https://adservice.google.co.in/ddm/fls/i/dc_pre=CMKdjei4svgCFZyDgwgdGSUBgA;{FLS}"]


def floodlight_session(urls: list[str]):
    from pixelspy.session import Session

    s = Session()
    for i, url in enumerate(urls):
        s.ingest(RawHit(method="GET", url=url, headers=[("user-agent", "Mozilla/5.0 Chrome/102.0")],
                        time=1_655_398_725.0 + i * 0.1, client="127.0.0.1"))
    return list(s)


def test_a_floodlight_fire_and_its_hops_are_one_event():
    (ev,) = floodlight_session(FLS_FIRE)
    assert (ev.pixel_id, ev.event, len(ev.twins)) == ("DC-4168207", "home/vsd_home", 3)
    assert not ev.findings


def test_the_ddm_fls_hop_back_on_the_advertisers_host_is_a_copy():
    # A standard counter fired once on www.cityofhope.org (The Markup's Blacklight scan, Oct 2021):
    # activityi, its adservice ddm/fls/i hop (a 302), then ddm/fls/r on the advertiser's own
    # fls.doubleclick.net host, all with one ord.
    fls = ("src=9082902;type=coh200;cat=homep0;ord=9563155142909;gtm=2odai0;auiddc=1823467109.1634740783;"
           "~oref=https%3A%2F%2Fwww.cityofhope.org%2Fhomepage")
    (ev,) = floodlight_session([f"https://9082902.fls.doubleclick.net/activityi;{fls}?",
                                f"https://adservice.google.com/ddm/fls/i/{fls}",
                                f"https://9082902.fls.doubleclick.net/ddm/fls/r/{fls}"])
    assert (ev.event, len(ev.twins)) == ("coh200/homep0", 2)
    assert not ev.findings


def test_a_counter_counted_once_per_user_fired_twice_is_no_duplicate_but_a_standard_counter_is():
    unique = FLS_FIRE[0]
    assert not [f for ev in floodlight_session([unique, unique.replace("num=3622886248098", "num=9093485606066")])
                for f in ev.findings if f.code == "duplicate-event"]
    standard = unique.replace("ord=1;num=3622886248098", "ord=8865252060453")
    twice = floodlight_session([standard, standard.replace("ord=8865252060453", "ord=6261656001159")])
    assert [[f.code for f in ev.findings] for ev in twice] == [["duplicate-event"], ["duplicate-event"]]


# A labelled remarketing tag (linio.cl, the Gatling recording): its pings send the page time as
# `random` (= fst) on every page, with `data=ecomm_…` where the page pushed it and without elsewhere.
# A conversion on the same path draws its `random` (victoriassecret.com's sign-in, a Gatling
# recording: sent there directly, and as the hop of a pagead/conversion hit).
LABELLED_REMARKETING = (
    "https://googleads.g.doubleclick.net/pagead/viewthroughconversion/969755919/?random=1630209088758&cv=9"
    "&fst=1630209088758&num=1&label=fbvdCIuDiV8Qj5q1zgM&guid=ON&resp=GooglemKTybQhCsO&eid=376635470&u_h=700"
    "&u_w=1366&u_ah=700&u_aw=1366&u_cd=24&u_his=3&u_tz=330&u_java=false&u_nplug=3&u_nmime=4&gtm=2wg8p0&sendb=1"
    "&ig=1&frm=0&url=https%3A%2F%2Fwww.linio.cl%2Faccount%2Flogin&ref=https%3A%2F%2Fwww.linio.cl%2F&hn=www."
    "googleadservices.com&async=1&rfmt=3&fmt=4")
VIEWTHROUGH_CONVERSION = (
    "https://googleads.g.doubleclick.net/pagead/viewthroughconversion/1003574881/?random=642665819&cv=9"
    "&fst=1655398725489&num=1&label=mdb4CO-c_4IDEOGsxd4D&bg=ffffff&guid=ON&resp=GooglemKTybQhCsO&u_h=900"
    "&u_w=1440&u_his=7&u_tz=330&gtm=2oa6f0&sendb=1&frm=0&url=https%3A%2F%2Ftest.victoriassecret.com%2Fus%2F"
    "&async=1&fmt=3")


def test_a_labelled_remarketing_tag_is_remarketing_with_or_without_its_ecomm_data():
    (without,) = decode("GET", LABELLED_REMARKETING)
    (with_data,) = decode("GET", LABELLED_REMARKETING.replace("&frm=0", "&data=ecomm_pagetype%3Dhome&frm=0"))
    for ev in (without, with_data):
        assert (ev.pixel_id, ev.event, ev.title) == ("AW-969755919", "remarketing", "remarketing page view")
    (legacy,) = decode("GET", "https://googleads.g.doubleclick.net/pagead/viewthroughconversion/835808530/"
                              "?random=1531139707988&cv=9&fst=1531139707988&num=1&label=Cloudike%20KR%20Remarketing"
                              "&guid=ON&resp=GooglemKTybQhCsO")
    assert legacy.event == "remarketing"


def test_a_conversion_sent_to_viewthroughconversion_is_a_conversion():
    (ev,) = decode("GET", VIEWTHROUGH_CONVERSION)
    assert (ev.pixel_id, ev.event, ev.decode_errors) == ("AW-1003574881", "conversion", ())


def test_an_unlabelled_first_party_hop_names_no_event_by_design():
    # linio.cl (a Gatling recording): the www.google.com hop of a view-through ping without a label.
    (ev,) = decode("GET", "https://www.google.com/pagead/1p-conversion/963429843/?random=144582559&cv=9"
                          "&fst=1630205515705&num=1&guid=ON&resp=GooglemKTybQhCsO&sendb=1&ig=1&frm=0"
                          "&url=https%3A%2F%2Fwww.linio.cl%2F&async=1&fmt=3&is_vtc=1&random=2936334627")
    assert (ev.pixel_id, ev.event, ev.decode_errors) == ("AW-963429843", "remarketing", ())
    assert ev.endpoint == "Google Ads pagead/1p-conversion www.google.com"


def test_google_tag_gateways_short_paths_on_the_sites_own_host():
    # 6sense.com's serving path /pntd (Pixel & Tag Tracer's live captures): GA4 and a Google Ads conversion.
    registry = default_registry()
    hit = RawHit(method="GET", url="https://6sense.com/pntd/ag/g/c?v=2&tid=G-Q57CXMB28P&gtm=45g92e69u2v871577823"
                                   "&gcs=G111&gcd=13v3v3v3v5l1&en=page_view")
    (ev,) = registry.decode(hit)
    assert (ev.pixel_id, ev.event, ev.decode_errors) == ("G-Q57CXMB28P", "page_view", ())
    assert registry.find(hit.host, hit.path)[0].sinks(hit)
    hit = RawHit(method="GET", url="https://6sense.com/pntd/g/d/ccm/conversion/969809790/?random=1&en=conversion"
                                   "&gtm=45892e69&gcs=G111&gcd=13v3v3v3v5l1")
    (ev,) = registry.decode(hit)
    assert (ev.pixel_id, ev.event, ev.endpoint) == ("AW-969809790", "conversion", "Google Ads ccm/conversion (tag gateway)")
    # The site's own paths of that shape without gtag's signature are not Google's.
    for url in ("https://shop.example/api/ag/g/c?page=2", "https://shop.example/x/g/d/ccm/conversion/12/?id=1"):
        hit = RawHit(method="GET", url=url)
        assert registry.decode(hit) == [], url
