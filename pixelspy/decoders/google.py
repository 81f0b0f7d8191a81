"""Google: GA4 /g/collect hits (gtag.js, server-side tagging and tag gateway paths on a site's own
domain), Google Ads conversion and remarketing pings, Floodlight activities, the gtag.js and gtm.js
loaders.

Wire facts: ../shared/spec/platforms.md §6 and §9 (Omnibug's GoogleAnalytics4, GoogleAds,
GoogleDoubleClick and GoogleTagManager providers and their tests, real captures). GA4 batches: a
POST whose body lines are one event each, sharing the URL parameters. Google's enhanced-conversion
user data (`em=tv.1~em.…`) is base64, not hex: it is kept as a param, not reported as user data.

/g/collect on a host that is not Google's is GA4 only with GA4's signature (`v=2` and a `tid`):
server-side tagging and Google tag gateway serve it from the site's own domain, and other tools
use the same path. Floodlight carries its parameters `;`-separated in the path.

Over 400 lines: one module per vendor (the registry discovers them), and GA4, Ads and Floodlight share its tables.
"""

from __future__ import annotations

import re

from pixelspy.decoders import Route
from pixelspy.decoders.wire import (
    Errors, Labels, body_form_or_json, hit_body, parse_qs_pairs, to_text, unquote_lossy,
)
from pixelspy.model import Kind, Param, RawHit, TrackingEvent

PLATFORM = "google"

# GA4 / gtag event names → canonical names (GA4 recommended events; Ads `data=event=…` uses the
# same names, and `gtag.config` is the page-load ping).
STANDARD_EVENTS = {
    "page_view": "PageView",
    "gtag.config": "PageView",
    "purchase": "Purchase",
    "add_to_cart": "AddToCart",
    "add_to_wishlist": "AddToWishlist",
    "view_item": "ViewContent",
    "begin_checkout": "InitiateCheckout",
    "add_payment_info": "AddPaymentInfo",
    "generate_lead": "Lead",
    "sign_up": "CompleteRegistration",
    "search": "Search",
    "view_search_results": "Search",
}

# Hosts whose /g/collect is not GA4 (Omnibug's exclusions): Clarity, Transcend, DoubleClick
# (stats.g.doubleclick.net's is the Google Signals copy of a GA4 hit, routed on its own).
NOT_GA4_HOST = re.compile(r"(?:^|\.)(?:clarity\.ms|transcend\.io)$|\.doubleclick\.net$")
# Google's own GA4 collection hosts: a hit there is GA4 even when it is broken.
GA4_HOSTS = ("www.google-analytics.com", "region1.google-analytics.com", "analytics.google.com",
             "region1.analytics.google.com")
# A GA4 hit names its protocol version and measurement ID in the URL (a batch's events in the body).
GA4_SIGNATURE = re.compile(r"(?:^|&)v=2(?:&|$)")
GA4_TID = re.compile(r"(?:^|&)tid=[^&]")
GATEWAY_SIGNATURE = re.compile(r"(?:^|&)gtm=[0-9a-z]")

CONSENT = "Consent"
CONSENT_KEYS = {
    "gcs": ("Consent state (G1<ad_storage><analytics_storage>)", CONSENT),
    "gcd": ("Consent Mode v2 signals", CONSENT),
    "gcu": ("Consent update", CONSENT),
    "npa": ("Non-personalised ads", CONSENT),
    "dma": ("EU DMA in scope", CONSENT),
    "dma_cps": ("DMA consent purposes", CONSENT),
    "gdpr": ("GDPR applies (TCF)", CONSENT),
    "gdpr_consent": ("TCF consent string", CONSENT),
    "us_privacy": ("US privacy string", CONSENT),
    "gpp": ("GPP string", CONSENT),
    "gpp_sid": ("GPP section IDs", CONSENT),
    "pscdl": ("Privacy Sandbox cookie deprecation label", CONSENT),
}

GA4_LABELS = Labels(
    {
        "v": ("Protocol version", "Technical"),
        "tid": ("Measurement ID", "Event"),
        "en": ("Event name", "Event"),
        "dl": ("Page URL", "Page context"),
        "dr": ("Referrer", "Page context"),
        "dt": ("Page title", "Page context"),
        "ul": ("Language", "Page context"),
        "sr": ("Screen resolution", "Page context"),
        "cid": ("Client ID (_ga)", "User data"),
        "uid": ("User ID", "User data"),
        "em": ("Enhanced conversions user data", "User data"),
        "sid": ("Session ID", "Session"),
        "sct": ("Session count", "Session"),
        "seg": ("Engaged session", "Session"),
        "_s": ("Hit sequence in session", "Session"),
        "_ss": ("Session start", "Session"),
        "_fv": ("First visit", "Session"),
        "_nsi": ("New session", "Session"),
        "_et": ("Engagement time (ms)", "Session"),
        "cu": ("Currency", "Ecommerce"),
        "ep.transaction_id": ("Transaction ID", "Ecommerce"),
        "epn.value": ("Value", "Ecommerce"),
        "ep.value": ("Value", "Ecommerce"),
        "epn.tax": ("Tax", "Ecommerce"),
        "epn.shipping": ("Shipping", "Ecommerce"),
        "ep.coupon": ("Coupon", "Ecommerce"),
        "gtm": ("Tag build", "Technical"),
        "_p": ("Page load ID", "Technical"),
        "tag_exp": ("Tag experiments", "Technical"),
        "_dbg": ("Debug mode", "Technical"),
        "ep.debug_mode": ("Debug mode", "Technical"),
    } | CONSENT_KEYS,
    families={"ep": ("Event params", "Event param: "), "epn": ("Event params", "Event param (number): "),
              "up": ("User properties", "User property: "), "upn": ("User properties", "User property (number): ")},
    default_group="Technical",
)

ADS_LABELS = Labels(
    {
        "label": ("Conversion label", "Event"),
        "value": ("Value", "Ecommerce"),
        "currency_code": ("Currency", "Ecommerce"),
        "oid": ("Order ID (dedup key)", "Ecommerce"),
        "data": ("Event data", "Event"),
        "url": ("Page URL", "Page context"),
        "ref": ("Referrer", "Page context"),
        "tiba": ("Page title", "Page context"),
        "tid": ("Tag ID", "Event"),
        "tids": ("Tag IDs", "Event"),
        "en": ("Event name", "Event"),
        "dl": ("Page URL", "Page context"),
        "dr": ("Referrer", "Page context"),
        "dt": ("Page title", "Page context"),
        "em": ("Enhanced conversions user data", "User data"),
        "auid": ("Ads user ID (_gcl_au)", "User data"),
        "gclaw": ("Click ID (_gcl_aw)", "User data"),
        "random": ("Cache buster", "Technical"),
        "cv": ("Tag version", "Technical"),
        "fst": ("First-seen time", "Technical"),
        "gtm": ("Tag build", "Technical"),
        "tag_exp": ("Tag experiments", "Technical"),
    } | CONSENT_KEYS,
    families={"data": ("Event data", "Event data: "), "ep": ("Event params", "Event param: ")},
    default_group="Technical",
)

# Google Ads `prN` item fields (`id…~nm…~pr…~qt…`), GA4's compact item encoding.
ITEM_FIELDS = {"id": "id", "nm": "name", "pr": "price", "qt": "quantity", "br": "brand", "ca": "category",
               "va": "variant", "cp": "coupon", "af": "affiliation", "ds": "discount", "lp": "index"}
ITEM_PARAM = re.compile(r"pr\d+")


def standard_event(name: str | None) -> str | None:
    return STANDARD_EVENTS.get(name or "")


def item_fields(value: str) -> dict[str, str]:
    """`id123~nmShirt~pr9.99~qt2` → {"id": "123", "name": "Shirt", …}; custom k0/v0 pairs kept raw."""
    return {ITEM_FIELDS.get(part[:2], part[:2]): part[2:] for part in value.split("~") if len(part) >= 2}


# ---------------------------------------------------------------- GA4


def ga4_event(pairs: list[tuple[str, str]], errors: Errors, endpoint: str,
              shared_params: tuple[Param, ...] = ()) -> TrackingEvent:
    """One GA4 event; `pairs` are the URL's shared pairs and then the event's own (the line's value
    wins), `shared_params` the shared pairs already labelled (a batch labels them once)."""
    values = dict(pairs)
    name = values.get("en") or None
    if not name:
        errors.add("no event name (en)")
    tid = values.get("tid") or None
    if not tid:
        errors.add("no measurement ID (tid)")
    items = [item_fields(v) for k, v in pairs if k.startswith("pr") and ITEM_PARAM.fullmatch(k)]
    return TrackingEvent.decoded(
        platform=PLATFORM,
        pixel_id=tid,
        event=name,
        standard_event=standard_event(name),
        page_url=values.get("dl") or None,
        value=values.get("epn.value") or values.get("ep.value") or None,
        currency=values.get("cu") or values.get("ep.currency") or None,
        content_ids=[i["id"] for i in items if i.get("id")],
        order_id=values.get("ep.transaction_id") or None,
        params=[*shared_params, *GA4_LABELS.params(pairs[len(shared_params):])],
        decode_errors=list(errors),
        endpoint=endpoint,
    )


def is_ga4(hit: RawHit) -> bool:
    """A GA4 hit: on Google's hosts, or elsewhere with GA4's signature in the URL."""
    if hit.host in GA4_HOSTS:
        return True
    return (not NOT_GA4_HOST.search(hit.host) and GA4_SIGNATURE.search(hit.query) is not None
            and GA4_TID.search(hit.query) is not None)


def decode_ga4(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    errors = Errors()
    shared = parse_qs_pairs(hit.query, errors)
    lines = [ln.strip() for ln in to_text(hit_body(hit, errors), errors).splitlines() if ln.strip()]
    if not lines:
        return [ga4_event(shared, errors, f"GA4 {hit.method}")]
    endpoint = f"GA4 {hit.method} batch ({len(lines)} events)" if len(lines) > 1 else f"GA4 {hit.method}"
    shared_params = tuple(GA4_LABELS.params(shared))
    events = []
    for n, line in enumerate(lines, 1):
        line_errors = Errors(errors)
        pairs = shared + parse_qs_pairs(line, line_errors, f"body line {n}")
        events.append(ga4_event(pairs, line_errors, endpoint, shared_params))
    return events


# ---------------------------------------------------------------- Google Ads

VIEWTHROUGH_PATH = r"/pagead/viewthroughconversion/(?P<id>[^/]+)/?"
CONVERSION_PATH = r"/pagead/conversion/(?P<id>[^/]+)/?"
# The first-party hop of a conversion (and of a view-through ping), on www.google.com and on the
# visitor's country domain (www.google.co.in): copies of one hit.
FIRST_PARTY_PATH = r"/pagead/1p-conversion/(?P<id>[^/]+)/?"
# Google tag gateway's conversion path, under the site's own serving path.
GATEWAY_CONVERSION_PATH = r"(?:/[^/]+)+/g/d/ccm/conversion/(?P<id>\d+)/?"
# Paths of the conversion / remarketing tag and its hops, whose hits may name no event by design.
REMARKETING_PATHS = (VIEWTHROUGH_PATH, CONVERSION_PATH, FIRST_PARTY_PATH)
REMARKETING = "remarketing"


def is_drawn_conversion(values: dict[str, str]) -> bool:
    """Whether a labelled viewthroughconversion hit is a conversion: gtag sends a conversion there
    (or hops there from pagead/conversion) with a drawn `random`, while its remarketing pings and the
    legacy remarketing tag (whose label is optional) send the page time as `random` (= `fst`) or none."""
    random, fst = values.get("random"), values.get("fst")
    return bool(random and fst and random != fst)


def decode_ads(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    errors = Errors()
    form, json_body = body_form_or_json(hit, errors)
    if json_body is not None:
        errors.add("Google Ads body is JSON; gtag sends a query string")
    pairs = parse_qs_pairs(hit.query, errors) + form
    values = dict(pairs)
    # `data=event=purchase;allow_custom_scripts=true`: `;`-separated key=value pairs.
    data = [(f"data.{k}", v) for k, _, v in (p.partition("=") for p in values.get("data", "").split(";")) if k]
    data_values = dict(data)
    conversion_id = m.groupdict().get("id")
    # Every path names the account but ccm/collect, where a Tag Manager container's own page_view
    # ping names none (no tid) by design.
    tag = f"AW-{conversion_id.removeprefix('AW-')}" if conversion_id else values.get("tid") or values.get("tids")
    names_event = "data.event" in data_values or "en" in values
    name = data_values.get("data.event") or values.get("en") or None
    label = None  # set for a ping that names no event by design
    if not names_event and m.re.pattern in REMARKETING_PATHS:
        # No event by design: a conversion tag names its label, a remarketing tag (its noscript
        # image `guid=ON&script=0`, or dynamic remarketing's `data=ecomm_…`) only the account.
        remarketing = (any(k.startswith("data.ecomm_") for k in data_values) or not values.get("label")
                       or m.re.pattern == VIEWTHROUGH_PATH and not is_drawn_conversion(values))
        name, label = (REMARKETING, "remarketing page view") if remarketing else ("conversion", None)
    elif not name:
        errors.add("no event (data=event=… or en)")
    # The tag's default `value=0` on a ping without an event is no value (it has no currency either).
    no_value = label is not None and values.get("value", "").strip("0.") == ""
    return [TrackingEvent.decoded(
        platform=PLATFORM,
        pixel_id=tag or None,
        event=name,
        label=label,
        standard_event=standard_event(name),
        event_id=values.get("oid") or None,
        page_url=values.get("url") or values.get("dl") or None,
        value=None if no_value else values.get("value") or data_values.get("data.value") or None,
        currency=values.get("currency_code") or data_values.get("data.currency_code") or None,
        order_id=values.get("oid") or data_values.get("data.transaction_id") or None,
        params=ADS_LABELS.params(pairs + data),
        decode_errors=list(errors),
        endpoint=ads_endpoint(hit, m),
        # A conversion's hops (pagead/conversion → viewthroughconversion → 1p-conversion on one or two
        # Google domains) repeat its account, label and `fst`: one conversion, the others its twins.
        twin_key="|".join(("ads", tag or "", values.get("label", ""), values["fst"])) if values.get("fst") else None,
    )]


def ads_endpoint(hit: RawHit, m: re.Match[str]) -> str:
    if m.re.pattern == GATEWAY_CONVERSION_PATH:
        return "Google Ads ccm/conversion (tag gateway)"
    endpoint = "Google Ads " + "/".join(hit.path.split("/")[1:3])
    # the 1p hop goes to two Google domains: each its own endpoint (twins, not a repeat)
    return f"{endpoint} {hit.host}" if m.re.pattern == FIRST_PARTY_PATH else endpoint


# What a loader's query says about who fetched it: a running Google tag (gtag.js, a GTM container)
# fetches a tag a config command names, when not yet loaded, with `cx=c`; a Universal Analytics tag
# fetches its connected GA4 tag (support.google.com/analytics/answer/9973999) with `cx=c&_slc=1`,
# after its own hit carrying `_slc=1`; a Google tag fetches its linked destinations (gtag/destination)
# with `cx=c` too. The site's own snippet fetches `gtag/js?id=…` alone.
LOADER_LABELS = Labels(
    {
        "id": ("Tag ID", "Event"),
        "l": ("Data layer name", "Technical"),
        "cx": ("Fetched by a running Google tag (c)", "Technical"),
        "_slc": ("Connected site tag, fetched by a Universal Analytics tag", "Technical"),
        "gtm": ("Tag build", "Technical"),
        "tag_exp": ("Tag experiments", "Technical"),
    },
    default_group="Technical",
)


def decode_loader(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    """gtag.js (`/gtag/js?id=G-…|AW-…|DC-…|GT-…`), a Google tag's linked destination
    (`/gtag/destination?id=…`) or a GTM container (`/gtm.js?id=GTM-…`)."""
    errors = Errors()
    pairs = parse_qs_pairs(hit.query, errors)
    tag = dict(pairs).get("id") or None
    return [TrackingEvent.decoded(platform=PLATFORM, kind=Kind.pixel_loaded, pixel_id=tag, endpoint=m["loader"].replace("/", "."),
                          page_url=hit.header("referer") or None, params=LOADER_LABELS.params(pairs),
                          decode_errors=list(errors))]


LOADER_ID = re.compile(r"(?:^|&)id=(?:G|AW|DC|GT|GTM)-[A-Za-z0-9]")


def is_first_party_loader(hit: RawHit) -> bool:
    """gtag.js or gtm.js served from a site's own path (tag gateway, server-side tagging): named by
    a Google tag ID in the query."""
    return LOADER_ID.search(hit.query) is not None


# ---------------------------------------------------------------- Floodlight (Campaign Manager 360)

FLOODLIGHT_LABELS = Labels(
    {
        "src": ("Advertiser ID", "Event"),
        "type": ("Activity group", "Event"),
        "cat": ("Activity tag", "Event"),
        "ord": ("Order ID (sales) or cache buster (counter)", "Event"),
        "num": ("Counter number (unique / per session)", "Event"),
        "qty": ("Quantity", "Ecommerce"),
        "cost": ("Revenue (in the advertiser's Floodlight currency)", "Ecommerce"),
        "~oref": ("Page URL", "Page context"),
        "dc_pre": ("Click ID (dc_pre)", "User data"),
        "auiddc": ("Ads user ID (_gcl_dc)", "User data"),
        "dc_lat": ("Limit ad tracking", "Consent"),
        "dc_rdid": ("Resettable device ID", "User data"),
        "tag_for_child_directed_treatment": ("Child-directed treatment", "Consent"),
        "tfua": ("Under the age of consent", "Consent"),
        "gtm": ("Tag build", "Technical"),
    } | CONSENT_KEYS,
    default_group="Technical",
)
CUSTOM_VARIABLE = re.compile(r"u\d+")
# Floodlight hosts: the advertiser's fls.doubleclick.net subdomain (iframe tags), ad.doubleclick.net
# (image tags) and adservice.google.<tld> (gtag's Floodlight hits).
FLOODLIGHT_HOST = re.compile(r"[0-9]+\.fls\.doubleclick\.net|ad\.doubleclick\.net|adservice\.google\.[a-z.]+")


def is_floodlight(hit: RawHit) -> bool:
    return FLOODLIGHT_HOST.fullmatch(hit.host) is not None


def floodlight_pairs(matrix: str, errors: Errors) -> list[tuple[str, str]]:
    """`src=123;type=sales;cat=purch0;~oref=https%3A…` → ordered (name, value) pairs."""
    pairs = []
    for part in matrix.split(";"):
        name, sep, value = part.partition("=")
        if name and sep:
            pairs.append((name, unquote_lossy(value)))
    if "\ufffd" in "".join(v for _, v in pairs) and "\ufffd" not in matrix:
        errors.add("path parameters have percent-encoded bytes that are not UTF-8")
    return pairs


def floodlight_endpoint(host: str, path: str, dc_pre: bool) -> str:
    """The activityi hit, its own dc_pre hop and the ddm/fls hop back to the advertiser's host are
    endpoints of their own (the hops are copies, not repeats)."""
    if host.endswith(".fls.doubleclick.net"):
        if path.startswith("/ddm/fls/"):
            return "Floodlight fls.doubleclick.net ddm/fls"
        return "Floodlight fls.doubleclick.net" + (" (dc_pre hop)" if dc_pre else "")
    return f"Floodlight {host}"


def decode_floodlight(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    errors = Errors()
    pairs = floodlight_pairs(m["matrix"], errors) + parse_qs_pairs(hit.query, errors)
    values = dict(pairs)
    src = values.get("src") or None
    if not src:
        errors.add("no advertiser ID (src)")
    group, tag = values.get("type"), values.get("cat")
    if not (group and tag):
        errors.add("no activity (type and cat)")
    sales = bool(values.get("qty") or values.get("cost"))  # a sales tag counts orders by ord
    params = [p._replace(label=f"Custom variable {p.name}", group="Custom variables")
              if CUSTOM_VARIABLE.fullmatch(p.name) else p for p in FLOODLIGHT_LABELS.params(pairs)]
    return [TrackingEvent.decoded(
        platform=PLATFORM,
        pixel_id=f"DC-{src}" if src else None,
        event=f"{group}/{tag}" if group and tag else tag or group or None,
        # `cost` is revenue in the advertiser's Floodlight currency, set in Campaign Manager and
        # never on the wire: kept as a param, not as a value that would want a currency.
        order_id=(values.get("ord") or None) if sales else None,
        page_url=values.get("~oref") or None,
        params=params,
        decode_errors=list(errors),
        endpoint=floodlight_endpoint(hit.host, hit.path, "dc_pre" in values),
        # One fire is several requests: the activityi hit, its dc_pre hop and the adservice pings on
        # google.com and a country domain, all with the same ord (and num): copies counted once.
        twin_key="|".join(("floodlight", src or "", group or "", tag or "", values.get("ord", ""),
                           values.get("num", ""))) if values.get("ord") else None,
    )]


def not_an_event(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    """A copy of a hit already listed (Google Signals' GA4 copy, the remarketing user-list pings):
    answered in sink mode, listed for no one."""
    return []


def is_gateway_conversion(hit: RawHit) -> bool:
    """Google tag gateway's conversion path on the site's own host: gtag's signature in the URL."""
    return GATEWAY_SIGNATURE.search(hit.query) is not None and "en=" in hit.query


def is_google_search_host(hit: RawHit) -> bool:
    """www.google.com and the country domains the 1p hops go to (www.google.com.au, …)."""
    return hit.host.startswith("www.google.")


ROUTES = [
    # Any host: GA hosts, regional ones, server-side tagging and tag gateway paths (is_ga4).
    Route(PLATFORM, (), r"(?:/[^/]+)*/g/collect/?", decode_ga4, signature=is_ga4, needles=("/g/collect",)),
    # Google tag gateway's short paths under the site's own serving path (6sense.com/pntd/…, as Pixel &
    # Tag Tracer captured them): GA4's `ag/g/c`, Google Ads' `g/d/ccm/conversion/<id>`.
    Route(PLATFORM, (), r"(?:/[^/]+)+/ag/g/c/?", decode_ga4, signature=is_ga4, needles=("/ag/g/c",)),
    Route(PLATFORM, (), GATEWAY_CONVERSION_PATH, decode_ads,
          signature=is_gateway_conversion, needles=("/g/d/ccm/",)),
    Route(PLATFORM, ("stats.g.doubleclick.net",), r"/g/collect/?", not_an_event),
    Route(PLATFORM, ("googleads.g.doubleclick.net",), VIEWTHROUGH_PATH, decode_ads),
    Route(PLATFORM, ("www.googleadservices.com",), CONVERSION_PATH, decode_ads),
    Route(PLATFORM, (), FIRST_PARTY_PATH, decode_ads, signature=is_google_search_host,
          needles=("/pagead/1p-",)),
    Route(PLATFORM, (), r"/pagead/1p-user-list/[^/]+/?", not_an_event, signature=is_google_search_host,
          needles=("/pagead/1p-",)),
    Route(PLATFORM, ("td.doubleclick.net",), r"/td/(?:ga/)?rul/[^/]+/?", not_an_event),
    Route(PLATFORM, ("www.google.com",), r"/ccm/collect", decode_ads),
    Route(PLATFORM, ("ad.doubleclick.net",), r"/ccm/s/collect", not_an_event),
    # Any host: the advertiser's *.fls.doubleclick.net and adservice.google.<tld> (is_floodlight).
    Route(PLATFORM, (), r"/(?:(?:ddm/)?activityi?[;/]|ddm/fls/[a-z]+/)(?P<matrix>.*)", decode_floodlight,
          signature=is_floodlight, needles=("/activity", "/ddm/")),
    Route(PLATFORM, ("www.googletagmanager.com",), r"/(?P<loader>gtag/js|gtag/destination|gtm\.js)", decode_loader, sink=False),
    # Any host: the loaders served from a site's own path by tag gateway or server-side tagging.
    Route(PLATFORM, (), r"(?:/[^/]+)*/(?P<loader>gtag/js|gtm\.js)", decode_loader, sink=False,
          signature=is_first_party_loader, needles=("/gtag/js", "/gtm.js")),
]
