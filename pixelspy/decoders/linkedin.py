"""LinkedIn Insight Tag (/collect, /wa), its loader, and the Conversions API.

Wire facts: ../shared/spec/platforms.md §4 (Omnibug's LinkedIn provider, real /collect and /wa
captures, LinkedIn's conversions and deduplication docs).

LinkedIn sends few event names: a /wa hit names its signal type (PAGE_VISIT, CLICK), kept as sent;
a /collect hit is a page view (named PAGE_VISIT like its /wa twin), or a "conversion" for the rule in
`conversionId` (labelled "conversion (rule <id>)"; the rule stays a parameter, as Google Ads keeps its
conversion label). A Conversions API event is a "conversion" too (its rule is the pixel ID). Conversion
types (Lead, Purchase, …) live on the rule in Campaign Manager, never on the wire, so conversions
carry no canonical event. Readable names are labels only.
"""

from __future__ import annotations

import re
from typing import Any

from pixelspy.decoders import Route
from pixelspy.decoders.wire import (
    Errors, Labels, body_form_or_json, compact, dig, flatten, hit_body, maybe_b64_gzip,
    parse_json_lenient, parse_qs_pairs, to_text, user_field,
)
from pixelspy.model import Kind, RawHit, Source, TrackingEvent, UserField

PLATFORM = "linkedin"

LABELS = Labels(
    {
        # /collect (query string)
        "pid": ("Partner ID (Insight Tag)", "Event"),
        "conversionId": ("Conversion rule ID", "Event"),
        "eventId": ("Event ID (dedup key)", "Event"),
        "url": ("Page URL", "Page context"),
        "fmt": ("Format (js = script, gif = image pixel, g = /wa gzip)", "Technical"),
        "time": ("Timestamp (ms)", "Technical"),
        "v": ("Protocol version", "Technical"),
        "tm": ("Tag manager", "Technical"),
        "liSync": ("Cookie sync copy", "Technical"),
        "cookiesTest": ("Cookie test copy", "Technical"),
        "e_ipv6": ("Encrypted IP (px4 mirror)", "Technical"),
        "medium": ("Transport", "Technical"),
        # /wa (JSON body)
        "pids": ("Partner IDs", "Event"),
        "signalType": ("Signal type", "Event"),
        "websiteSignalRequestId": ("Signal ID (per hit)", "Event"),
        "domain": ("Site domain", "Page context"),
        "pageTitle": ("Page title", "Page context"),
        "isTranslated": ("Page machine-translated", "Page context"),
        "isLinkedInApp": ("Inside the LinkedIn app", "Page context"),
        "hem": ("Email (hashed)", "User data"),
        "liFatId": ("Click ID (li_fat_id)", "User data"),
        "liGiant": ("Giant ID (liGiant)", "User data"),
        "scriptVersion": ("insight.js script version", "Technical"),
        "misc.psbState": ("Privacy sandbox state", "Technical"),
        "href": ("Clicked link", "Click"),
        "innerElements": ("Inner elements", "Click"),
        "elementCrumbsTree": ("Element path", "Click"),
        "isFilteredByClient": ("Filtered by the script", "Click"),
        # Conversions API (JSON body, one element)
        "conversion": ("Conversion rule (URN; the rule ID is the pixel ID here)", "Event"),
        "conversionHappenedAt": ("Conversion time (ms)", "Event"),
        "conversionValue.amount": ("Value", "Custom data"),
        "conversionValue.currencyCode": ("Currency", "Custom data"),
        "user.userIds": ("User IDs (idType, idValue)", "User data"),
        "user.userInfo.firstName": ("First name", "User data"),
        "user.userInfo.lastName": ("Last name", "User data"),
        "user.userInfo.title": ("Job title", "User data"),
        "user.userInfo.companyName": ("Company name", "User data"),
        "user.userInfo.countryCode": ("Country code", "User data"),
        "LinkedIn-Version": ("API version (LinkedIn-Version header)", "Request"),
        "X-RestLi-Method": ("Rest.li method (header)", "Request"),
    },
    families={
        "domAttributes": ("Click", "Clicked element: "),
        "misc": ("Technical", "Misc: "),
        "user": ("User data", "User: "),
        "conversionValue": ("Custom data", "Value: "),
    },
    default_group="Technical",
)

PAGE_VISIT = "PAGE_VISIT"
CONVERSION = "conversion"
# /wa signal types → (TUI label, canonical event). Unknown types are labelled by their own name.
SIGNALS: dict[str, tuple[str, str | None]] = {
    PAGE_VISIT: ("page view", "PageView"),
    "CLICK": ("click", None),
}

# Conversions API user.userIds[].idType → normalised user-data key.
USER_ID_TYPES = {
    "SHA256_EMAIL": "em",
    "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID": "li_fat_id",
    "ACXIOM_ID": "acxiom_id",
    "ORACLE_MOAT_ID": "oracle_moat_id",
}

# Request headers worth showing; Authorization is a secret and never becomes a parameter.
CAPI_HEADERS = ("LinkedIn-Version", "X-RestLi-Method")

# The Insight Tag hosts: px is the main one, px4 mirrors each JS hit (adding e_ipv6), dc is legacy.
COLLECT_HOSTS = {"px.ads.linkedin.com": "px", "px4.ads.linkedin.com": "px4", "dc.ads.linkedin.com": "dc"}
COLLECT_SHAPES = {"js": "script", "gif": "image"}
# insight.js sends a /collect hit again after its cookie sync (www.linkedin.com/px/li_sync redirects back
# with liSync=true) and its third-party cookie test (cookiesTest=true): the same hit by another path.
COPY_FLAGS = {"liSync": "cookie sync copy", "cookiesTest": "cookie test copy"}
CONVERSION_URN = re.compile(r"urn:lla:llaPartnerConversion:(?P<rule>\d+)")


def conversion_label(rule: str) -> str:
    return f"{CONVERSION} (rule {rule})"


def page_or_conversion(conversion: str | None) -> tuple[str, str | None, str | None]:
    """(event, TUI label, canonical event) of a /collect hit."""
    if conversion:
        return CONVERSION, conversion_label(conversion), None
    return PAGE_VISIT, *SIGNALS[PAGE_VISIT]


def decode_collect(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    errors = Errors()
    pairs = parse_qs_pairs(hit.query, errors)
    form, json_body = body_form_or_json(hit, errors)
    if json_body is not None:
        errors.add("LinkedIn /collect body is JSON; the Insight Tag sends a query string")
    pairs += form
    values = dict(pairs)

    # A page with several partner IDs sends one hit naming them all, comma-joined: one event each.
    pids = [p.strip() for p in values.get("pid", "").split(",") if p.strip()]
    if not pids:
        errors.add("no partner ID (pid)")
    conversion = values.get("conversionId") or None
    event, label, standard = page_or_conversion(conversion)
    host = COLLECT_HOSTS.get(hit.host, hit.host)
    shape = COLLECT_SHAPES.get(values.get("fmt", ""), hit.method)
    stamp = values.get("time")
    copy = "".join(f" ({what})" for flag, what in COPY_FLAGS.items() if values.get(flag) == "true")
    return [TrackingEvent.decoded(
        platform=PLATFORM,
        pixel_id=pid,
        event=event,
        label=label,
        standard_event=standard,
        event_id=values.get("eventId") or None,
        page_url=values.get("url") or None,
        params=LABELS.params(pairs),
        decode_errors=list(errors),
        endpoint=f"{host} /collect {shape}{copy}",
        # The script sends each JS hit to px and px4, and its copies, with the same time: fold them.
        twin_key="|".join((PLATFORM, "collect", pid or "", conversion or "", stamp,
                           values.get("eventId", ""))) if stamp else None,
    ) for pid in pids or [None]]


def read_json_body(hit: RawHit, errors: Errors) -> tuple[Any, bool]:
    """The body as JSON, unpacking LinkedIn's base64-gzip text; (value, was it packed)."""
    raw = hit_body(hit, errors)
    if not raw.strip():
        errors.add("empty body")
        return None, False
    text = to_text(raw, errors)
    packed = text.lstrip().startswith("H4sI")
    text = maybe_b64_gzip(text, errors)
    if not text.strip():
        return None, packed
    return parse_json_lenient(text, errors, "body"), packed


def decode_wa(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    errors = Errors()
    query = parse_qs_pairs(hit.query, errors)
    data, packed = read_json_body(hit, errors)
    if data is not None and not isinstance(data, dict):
        errors.add("/wa body is not a JSON object")
    body = data if isinstance(data, dict) else {}

    pids = body.get("pids")
    pids = [compact(p) for p in (pids if isinstance(pids, list) else [pids]) if p not in (None, "")]
    if not pids:
        errors.add("no partner IDs (pids)")
    signal = body.get("signalType")
    if isinstance(signal, str) and signal:
        event = signal
        label, standard = SIGNALS.get(signal, (signal.lower().replace("_", " "), None))
    else:
        event, label, standard = None, None, None
        errors.add("no signal type (signalType)")

    user = []
    if hem := user_field("hem", "hem", body.get("hem")):
        user.append(hem)
    if li_fat_id := compact(body.get("liFatId")):
        user.append(UserField(key="li_fat_id", name="liFatId", hashed=False, value=li_fat_id))
    page_url = body.get("url")
    medium = dict(query).get("medium")
    endpoint = "/wa POST" + (f" ({medium})" if medium else "") + (" base64-gzip" if packed else " JSON")
    signal_id = compact(body.get("websiteSignalRequestId"))
    params = LABELS.params([*query, *(flatten(body) if body else ())])
    return [TrackingEvent.decoded(
        platform=PLATFORM,
        pixel_id=pid,
        event=event,
        label=label,
        standard_event=standard,
        event_id=compact(body.get("eventId")) or None,
        page_url=page_url if isinstance(page_url, str) and page_url else None,
        params=params,
        user_data=user,
        decode_errors=list(errors),
        endpoint=endpoint,
        twin_key="|".join((PLATFORM, "wa", pid or "", signal_id)) if signal_id else None,
    ) for pid in pids or [None]]


def capi_user_data(element: dict[str, Any]) -> list[UserField]:
    user = []
    user_ids = dig(element, "user", "userIds")
    for uid in user_ids if isinstance(user_ids, list) else ():
        if not isinstance(uid, dict):
            continue
        id_type, value = compact(uid.get("idType")), compact(uid.get("idValue"))
        key = USER_ID_TYPES.get(id_type)
        if key is None or not value:
            continue
        name = f"user.userIds[{id_type}]"
        user.append(user_field(name, key, value)
                    or UserField(key=key, name=name, hashed=False, value=value))
    info = dig(element, "user", "userInfo", default={})
    for k, v in info.items() if isinstance(info, dict) else ():
        if field := user_field(f"user.userInfo.{k}", k, v):
            user.append(field)
    return user


def capi_event(element: Any, headers: list[tuple[str, str]], errors: Errors, endpoint: str) -> TrackingEvent:
    errors = Errors(errors)
    if not isinstance(element, dict):
        errors.add("conversion event is not a JSON object")
        element = {}
    rule = None
    urn = element.get("conversion")
    if isinstance(urn, str) and (found := CONVERSION_URN.fullmatch(urn.strip())):
        rule = found.group("rule")
    elif urn in (None, ""):
        errors.add("no conversion rule (conversion)")
    else:
        errors.add(f"conversion is not a urn:lla:llaPartnerConversion:<id> URN: {compact(urn)[:80]}")
    if not isinstance(dig(element, "user", "userIds"), list):
        errors.add("no user.userIds list")
    value = dig(element, "conversionValue", "amount")
    currency = dig(element, "conversionValue", "currencyCode")
    return TrackingEvent.decoded(
        platform=PLATFORM,
        source=Source.server,
        pixel_id=rule,
        event=CONVERSION if rule else None,
        label=conversion_label(rule) if rule else None,
        event_id=compact(element.get("eventId")) or None,
        value=compact(value) if value is not None else None,
        currency=compact(currency) or None,
        params=LABELS.params([*headers, *(flatten(element) if element else ())]),
        user_data=capi_user_data(element),
        decode_errors=list(errors),
        endpoint=endpoint,
    )


def decode_capi(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    errors = Errors()
    data, _ = read_json_body(hit, errors)
    headers = [(name, value) for name in CAPI_HEADERS if (value := hit.header(name))]
    batch_header = hit.header("x-restli-method").strip().upper() == "BATCH_CREATE"
    elements = data.get("elements") if isinstance(data, dict) else None
    if isinstance(elements, list):
        if not batch_header:
            errors.add("body has an elements list but no X-RestLi-Method: BATCH_CREATE header")
        if not elements:
            errors.add("batch has no elements")
            return [capi_event({}, headers, errors, "CAPI conversionEvents batch (empty)")]
        return [capi_event(el, headers, errors, f"CAPI conversionEvents batch {i}/{len(elements)}")
                for i, el in enumerate(elements, 1)]
    if batch_header:
        errors.add("X-RestLi-Method: BATCH_CREATE but the body has no elements list")
    return [capi_event(data, headers, errors, "CAPI conversionEvents")]


def decode_loader(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    return [TrackingEvent.decoded(platform=PLATFORM, kind=Kind.pixel_loaded, endpoint=m.group(0).rsplit("/", 1)[-1],
                          page_url=hit.header("referer") or None)]


def not_an_event(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    """Attribution-reporting trigger: repeats a hit already listed; shown to no one."""
    return []


PX = "px.ads.linkedin.com"
# What conversionEvents answers; linkedin-api-client's batch_create reads the elements list.
CAPI_SINK_ANSWER = '{"elements": [{"status": 201}]}'
ROUTES = [
    Route(PLATFORM, tuple(COLLECT_HOSTS), r"/collect/?", decode_collect),
    Route(PLATFORM, (PX,), r"/wa/?", decode_wa),
    Route(PLATFORM, (PX,), r"/attribution_trigger/?", not_an_event),
    Route(PLATFORM, ("api.linkedin.com",), r"/rest/conversionEvents/?", decode_capi, sink_json=CAPI_SINK_ANSWER),
    Route(PLATFORM, ("snap.licdn.com",), r"/li\.lms-analytics/insight(\.beta)?\.min\.js", decode_loader,
          sink=False),
]
