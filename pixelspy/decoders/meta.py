"""Meta (Facebook): Pixel /tr hits as fbevents.js sends them, its privacy-sandbox twin, loaders;
Conversions API batches (graph.facebook.com/<pixel>/events) and the Facebook SDK's app events
(graph.facebook.com/<app>/activities).

Wire facts: ../shared/spec/platforms.md §1 (Omnibug's FacebookPixel provider, real captures); app
events as facebook-android-sdk (AppEventQueue, SessionEventsState, AppEvent, GraphRequest) and
facebook-ios-sdk (FBSDKAppEvents) build them.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

from pixelspy.decoders import Route
from pixelspy.decoders.wire import (
    CAPI_STYLE_EVENT,
    CAPI_STYLE_FAMILIES,
    CAPI_STYLE_KEYS,
    Errors,
    EventShape,
    Labels,
    ServerBatch,
    body_form_or_json,
    compact,
    decode_server_batch,
    json_list,
    masked,
    parse_json,
    parse_qs_pairs,
    shaped_event,
    user_field,
)
from pixelspy.model import Kind, RawHit, Source, TrackingEvent

PLATFORM = "meta"
STANDARD_EVENTS = frozenset({
    "PageView", "ViewContent", "Search", "AddToCart", "AddToWishlist", "InitiateCheckout",
    "AddPaymentInfo", "Purchase", "Lead", "CompleteRegistration", "Contact", "CustomizeProduct",
    "Donate", "FindLocation", "Schedule", "StartTrial", "SubmitApplication", "Subscribe",
})

LABELS = Labels(
    {
        "id": ("Pixel ID", "Event"),
        "ev": ("Event name", "Event"),
        "eid": ("Event ID (dedup key)", "Event"),
        "es": ("Event source", "Event"),
        "tm": ("Trigger mode", "Event"),
        "ec": ("Event counter on page", "Event"),
        "dl": ("Page URL", "Page context"),
        "rl": ("Referrer", "Page context"),
        "if": ("In an iframe", "Page context"),
        "sw": ("Screen width", "Page context"),
        "sh": ("Screen height", "Page context"),
        "fbp": ("Browser ID (_fbp)", "User data"),
        "fbc": ("Click ID (_fbc)", "User data"),
        "dpo": ("Data processing options", "Consent"),
        "dpoco": ("Data processing country", "Consent"),
        "dpost": ("Data processing state", "Consent"),
        "coo": ("First-party cookies on", "Technical"),
        "ts": ("Timestamp (ms)", "Technical"),
        "it": ("Pixel init time (ms)", "Technical"),
        "v": ("fbevents version", "Technical"),
        "r": ("Release channel", "Technical"),
        "o": ("Options bitmask", "Technical"),
        "rqm": ("Request method", "Technical"),
        "ler": ("Legacy event reporting", "Technical"),
        "cdl": ("Client dedup log", "Technical"),
        "noscript": ("Noscript image pixel", "Technical"),
        "cd[value]": ("Value", "Custom data"),
        "cd[currency]": ("Currency", "Custom data"),
        "cd[content_ids]": ("Content IDs", "Custom data"),
        "cd[content_type]": ("Content type", "Custom data"),
        "cd[contents]": ("Contents", "Custom data"),
        "cd[content_name]": ("Content name", "Custom data"),
        "cd[content_category]": ("Content category", "Custom data"),
        "cd[num_items]": ("Number of items", "Custom data"),
        "cd[order_id]": ("Order ID", "Custom data"),
        "cd[search_string]": ("Search string", "Custom data"),
        "cd[predicted_ltv]": ("Predicted lifetime value", "Custom data"),
        "ud[em]": ("Email (hashed)", "User data"),
        "ud[ph]": ("Phone (hashed)", "User data"),
        "ud[external_id]": ("External ID", "User data"),
    },
    families={"cd": ("Custom data", "Custom: "), "ud": ("User data", "User data: ")},
    default_group="Technical",
)

# The Facebook JS SDK's app events on /tr (FB.AppEvents.logPageView(), deprecated since July 2022):
# `id` is FB.init's app ID, not a pixel (marchofdimes.org, 2021: sdk.js, then
# /tr/?id=<app>&ev=fb_page_view&dl&rl&if&ts&sw&sh&at=, none of fbevents' v, ec, fbp). Browser events
# all the same: the page's consent applies to them.
JS_SDK_APP_EVENTS = frozenset({"fb_page_view"})
JS_SDK_LABELS = Labels({**LABELS.keys, "id": ("App ID (Facebook JS SDK app event)", "Event")},
                       families=LABELS.families, default_group=LABELS.default_group)

# Paths of the event endpoint: /tr, /tr/ and the privacy-sandbox (Attribution Reporting) copy.
TR_PATH = r"/tr/?"
SANDBOX_PATH = r"/privacy_sandbox/pixel/register/trigger/?"


def decode_tr(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    errors = Errors()
    pairs = parse_qs_pairs(hit.query, errors)
    form, json_body = body_form_or_json(hit, errors)
    if json_body is not None:
        errors.add("Meta /tr body is JSON; fbevents sends a form")
    pairs += form
    values = dict(pairs)  # later (body) wins over query, as on Meta's side

    sandbox = m.re.pattern == SANDBOX_PATH
    ev = values.get("ev") or None
    pixel = values.get("id") or None
    if not ev:
        errors.add("no event name (ev)")
    if not pixel:
        errors.add("no pixel ID (id)")
    content_ids = json_list(values.get("cd[content_ids]"), errors, "cd[content_ids]")
    if content_ids is None:
        contents = json_list(values.get("cd[contents]"), errors, "cd[contents]")
        content_ids = [c.get("id") for c in contents or [] if isinstance(c, dict) and c.get("id") is not None]
    elif "cd[contents]" in values:
        json_list(values["cd[contents]"], errors, "cd[contents]")  # still report broken JSON

    user = [u for k, v in pairs if k.startswith("ud[") and (u := user_field(k, k[3:-1], v))]
    if hit.method == "GET":
        shape = "image" if values.get("noscript") or "image" in hit.header("accept") else "GET"
    else:
        shape = "beacon" if hit.content_type in ("text/plain", "multipart/form-data") else "form POST"
    # Meta may answer a hit with a 302 to /tr/?redirect=0 and the same parameters: its own copy.
    hop = " (redirect hop)" if values.get("redirect") == "0" else ""
    sdk_app_event = ev in JS_SDK_APP_EVENTS
    what = " JS SDK app event" if sdk_app_event else ""
    endpoint = f"{'privacy sandbox' if sandbox else '/tr'}{what} {shape}{hop}"
    return [TrackingEvent.decoded(
        platform=PLATFORM,
        pixel_id=pixel,
        event=ev,
        standard_event=ev if ev in STANDARD_EVENTS else None,
        event_id=values.get("eid") or None,
        page_url=values.get("dl") or None,
        value=values.get("cd[value]"),
        currency=values.get("cd[currency]"),
        content_ids=[str(c) for c in content_ids or []],
        order_id=values.get("cd[order_id]"),
        params=(JS_SDK_LABELS if sdk_app_event else LABELS).params(pairs),
        user_data=user,
        decode_errors=list(errors),
        endpoint=endpoint,
        # The sandbox trigger repeats id/ev/ts of its /tr hit: the session folds the two together.
        # Only a hit stamped with its time or event ID can be recognised in its copy.
        twin_key="|".join((PLATFORM, pixel or "", ev or "", values.get("ts", ""), values.get("eid", "")))
        if pixel and ev and (values.get("ts") or values.get("eid")) else None,
    )]


def decode_loader(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    pixel = m.groupdict().get("pixel")
    what = "signals config" if pixel else "fbevents.js"
    return [TrackingEvent.decoded(platform=PLATFORM, kind=Kind.pixel_loaded, pixel_id=pixel, endpoint=what,
                          page_url=hit.header("referer") or None)]


# ---------------------------------------------------------------- Conversions API (server)

CAPI_LABELS = Labels(
    {
        **CAPI_STYLE_KEYS,
        "referrer_url": ("Referrer", "Page context"),
        "opt_out": ("Opted out of ads optimisation", "Consent"),
        "data_processing_options_country": ("Data processing country", "Consent"),
        "data_processing_options_state": ("Data processing state", "Consent"),
        "test_event_code": ("Test event code", "Event"),
        "appsecret_proof": ("App secret proof (masked)", "Technical"),
        "partner_agent": ("Partner agent", "Technical"),
        "namespace_id": ("Namespace ID", "Technical"),
        "upload_id": ("Upload ID", "Technical"),
        "upload_tag": ("Upload tag", "Technical"),
        "upload_source": ("Upload source", "Technical"),
        "custom_data.content_type": ("Content type", "Custom data"),
        "custom_data.content_name": ("Content name", "Custom data"),
        "custom_data.content_category": ("Content category", "Custom data"),
        "custom_data.search_string": ("Search string", "Custom data"),
        "custom_data.predicted_ltv": ("Predicted lifetime value", "Custom data"),
        "custom_data.status": ("Status", "Custom data"),
        "user_data.external_id": ("External ID", "User data"),
        "user_data.fbp": ("Browser ID (_fbp)", "User data"),
        "user_data.fbc": ("Click ID (_fbc)", "User data"),
    },
    families=CAPI_STYLE_FAMILIES,
    default_group="Technical",
)

CAPI = ServerBatch(
    platform=PLATFORM,
    events=("data",),
    shape=CAPI_STYLE_EVENT,
    labels=CAPI_LABELS,
    standard_event=lambda name: name if name in STANDARD_EVENTS else None,
    endpoint="Conversions API",
    test_code=("test_event_code",),
    secrets=frozenset({"access_token", "appsecret_proof"}),
)


def decode_capi(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    return decode_server_batch(hit, CAPI, m["pixel"])


# ---------------------------------------------------------------- Graph API batch requests
# facebook-business's batch API (FacebookAdsApiBatch.execute) posts `batch=[{"method": "POST",
# "relative_url": "<pixel>/events", "body": "data=<url-encoded JSON list>&…"}, …]` to
# graph.facebook.com/vNN.0/, the access token in the query. Each events call is a Conversions API
# request of its own; other calls (reading ads objects) are not tracking.

BATCH_EVENTS_CALL = re.compile(r"/?(?:v\d+\.\d+/)?(?P<pixel>\d+)/events/?(?:\?(?P<query>.*))?", re.DOTALL)


def batch_calls(hit: RawHit, errors: Errors) -> tuple[list[tuple[str, str]], list[Any]]:
    """(the request's other fields, the batch's calls) of a Graph API batch request."""
    form, _ = body_form_or_json(hit, errors)
    fields = parse_qs_pairs(hit.query, errors) + form
    raw = dict(fields).get("batch")
    calls = parse_json(raw, errors, "batch") if raw else None
    if raw is not None and not isinstance(calls, list):
        errors.add("batch is not a JSON list")
    return [(k, v) for k, v in fields if k != "batch"], calls if isinstance(calls, list) else []


def events_call(call: Any) -> re.Match[str] | None:
    if isinstance(call, dict) and str(call.get("method", "")).upper() == "POST":
        return BATCH_EVENTS_CALL.fullmatch(compact(call.get("relative_url")))
    return None


def is_events_batch(hit: RawHit) -> bool:
    """A batch request with a Conversions API call in it."""
    return hit.method == "POST" and any(map(events_call, batch_calls(hit, Errors())[1]))


def decode_graph_batch(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    errors = Errors()
    shared, calls = batch_calls(hit, errors)
    events_calls = [(i, found) for i, call in enumerate(calls, 1) if (found := events_call(call))]
    out = []
    for i, found in events_calls:
        call = calls[i - 1]
        # The call as the Graph API runs it: its body a form, the batch request's token shared.
        query = "&".join(q for q in (urlencode(shared), found["query"] or "") if q)
        inner = RawHit(id=hit.id, method="POST", url=f"https://{hit.host}/{found['pixel']}/events?{query}",
                       body=compact(call.get("body")).encode(), time=hit.time, client=hit.client,
                       headers=(("content-type", "application/x-www-form-urlencoded"),))
        for ev in decode_server_batch(inner, CAPI, found["pixel"]):
            ev.endpoint = f"Conversions API (batch call {i}/{len(calls)})"
            ev.decode_errors = (*errors, *ev.decode_errors)
            out.append(ev)
    if not out and errors:  # an unreadable batch is still listed, with what went wrong
        out.append(TrackingEvent.decoded(platform=PLATFORM, source=Source.server, decode_errors=list(errors),
                                 params=CAPI_LABELS.params(masked(shared, CAPI.secrets)), endpoint="Graph API batch"))
    return out


# ---------------------------------------------------------------- app events (Facebook SDK)

# The SDK's fb_mobile_* names for the standard events; web-named events (Contact, Subscribe…)
# are sent as they are and map to themselves.
APP_STANDARD_EVENTS = {
    "fb_mobile_purchase": "Purchase",
    "fb_mobile_add_to_cart": "AddToCart",
    "fb_mobile_add_to_wishlist": "AddToWishlist",
    "fb_mobile_content_view": "ViewContent",
    "fb_mobile_complete_registration": "CompleteRegistration",
    "fb_mobile_initiated_checkout": "InitiateCheckout",
    "fb_mobile_add_payment_info": "AddPaymentInfo",
    "fb_mobile_search": "Search",
} | {name: name for name in STANDARD_EVENTS}

# Activity types of /<app>/activities that carry user events; others (DEFERRED_APP_LINK, …) are
# SDK housekeeping.
CUSTOM_APP_EVENTS = "CUSTOM_APP_EVENTS"
APP_INSTALL = "MOBILE_APP_INSTALL"
# Older SDKs attach the events JSON as a multipart file instead of a field.
APP_EVENT_FIELDS = ("custom_events", "custom_events_file")
# Android's UserDataStore spells the country "cn".
APP_USER_KEYS = {"cn": "country"}

APP_SHAPE = EventShape(
    event=(("_eventName",),),
    value=(("_valueToSum",),),
    currency=(("fb_currency",),),
    content_ids=(("fb_content_id",),),
    contents=(("fb_content",),),
    order_id=(("fb_order_id",),),
)

APP_LABELS = Labels(
    {
        "event": ("Activity type", "Event"),
        "custom_events._eventName": ("Event name", "Event"),
        "custom_events._eventName_md5": ("Event name MD5", "Technical"),
        # Unix time: the Android and iOS SDKs send seconds (AppEvent: currentTimeMillis() / 1000),
        # RudderStack's App Events destination milliseconds.
        "custom_events._logTime": ("Log time (Unix time; the SDKs send seconds)", "Event"),
        "custom_events._ui": ("Screen", "Event"),
        "custom_events._session_id": ("Session ID", "Event"),
        "custom_events._valueToSum": ("Value", "Custom data"),
        "custom_events._implicitlyLogged": ("Logged automatically by the SDK", "Event"),
        "custom_events._inBackground": ("Logged in the background", "Event"),
        "custom_events.fb_currency": ("Currency", "Custom data"),
        "custom_events.fb_content_id": ("Content ID", "Custom data"),
        "custom_events.fb_content_type": ("Content type", "Custom data"),
        "custom_events.fb_content": ("Contents", "Custom data"),
        "custom_events.fb_num_items": ("Number of items", "Custom data"),
        "custom_events.fb_order_id": ("Order ID", "Custom data"),
        "custom_events.fb_search_string": ("Search string", "Custom data"),
        "custom_events.fb_registration_method": ("Registration method", "Custom data"),
        "custom_events.fb_payment_info_available": ("Payment info available", "Custom data"),
        "custom_events.fb_description": ("Description", "Custom data"),
        "custom_events.fb_level": ("Level", "Custom data"),
        "custom_events.fb_success": ("Success", "Custom data"),
        "advertiser_id": ("Advertising ID (IDFA/GAID)", "User data"),
        "anon_id": ("Anonymous app install ID", "User data"),
        "app_user_id": ("App user ID", "User data"),
        "attribution": ("Attribution ID", "User data"),
        "ud": ("Hashed user data", "User data"),
        "advertiser_tracking_enabled": ("Advertiser tracking enabled (ATT / limit ad tracking)", "Consent"),
        "application_tracking_enabled": ("App-level tracking enabled", "Consent"),
        "data_processing_options": ("Data processing options", "Consent"),
        "data_processing_options_country": ("Data processing country", "Consent"),
        "data_processing_options_state": ("Data processing state", "Consent"),
        "extinfo": ("Device and app info", "Technical"),
        "application_package_name": ("App package", "Technical"),
        "installer_package": ("Installed from", "Technical"),
        "install_referrer": ("Install referrer", "Technical"),
        "url_schemes": ("URL schemes", "Technical"),
        "num_skipped_events": ("Events dropped by the SDK", "Technical"),
        "sdk": ("SDK platform", "Technical"),
        "format": ("Response format", "Technical"),
        "access_token": ("Client token (masked)", "Technical"),
    },
    families={"custom_events": ("Custom data", "Param: "), "ud": ("User data", "User data: ")},
    default_group="Technical",
)


def decode_app_activities(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    errors = Errors()
    pairs = parse_qs_pairs(hit.query, errors)
    form, json_body = body_form_or_json(hit, errors)
    pairs += form
    if isinstance(json_body, dict):  # the SDKs post forms; hand-rolled clients may post the fields as JSON
        pairs += [(k, compact(v)) for k, v in json_body.items()]
    values = dict(pairs)
    activity = values.get("event")
    if activity is None:
        errors.add("no activity type (event)")
    elif activity not in (CUSTOM_APP_EVENTS, APP_INSTALL) and not errors:
        return []  # SDK housekeeping, not a user event (an unreadable hit is still listed)

    # `ud` as the SDKs send it (a JSON object) or in the Graph API's bracket syntax (ud[em]=…, as
    # RudderStack's App Events destination posts it).
    user = [u for k, v in pairs if k.startswith("ud[") and k.endswith("]")
            and (u := user_field(k, APP_USER_KEYS.get(k[3:-1], k[3:-1]), v))]
    if ud := values.get("ud"):
        ud_obj = parse_json(ud, errors, "ud")
        for k, v in ud_obj.items() if isinstance(ud_obj, dict) else ():
            if uf := user_field(f"ud.{k}", APP_USER_KEYS.get(k, k), v):
                user.append(uf)
    shared = masked([(k, v) for k, v in pairs if k not in APP_EVENT_FIELDS], {"access_token"})
    sdk = values.get("sdk")
    endpoint = f"app events {activity or '?'}" + (f" ({sdk} SDK)" if sdk else "")
    common = dict(platform=PLATFORM, source=Source.app, pixel_id=m["app"], user_data=user, endpoint=endpoint)

    field_name = next((f for f in APP_EVENT_FIELDS if f in values), APP_EVENT_FIELDS[0])
    custom = json_list(values.get(field_name), errors, field_name) if activity == CUSTOM_APP_EVENTS else None
    if activity == CUSTOM_APP_EVENTS and not custom:
        errors.add(f"no app events ({field_name} is missing or empty)")
    if not custom:  # an install, or a batch that could not be read: one event for the hit
        return [TrackingEvent.decoded(event=None if activity == CUSTOM_APP_EVENTS else activity,
                              params=APP_LABELS.params(shared), decode_errors=list(errors), **common)]
    events = []
    for item in custom:
        fields = shaped_event(item, APP_SHAPE, APP_LABELS, prefix="custom_events")
        name = fields.pop("event")
        del fields["user_data"]  # app events carry user data once, in `ud`
        fields["params"] = APP_LABELS.params(shared) + fields["params"]
        fields["decode_errors"] = list(errors) + fields["decode_errors"]
        events.append(TrackingEvent.decoded(event=name, standard_event=APP_STANDARD_EVENTS.get(name or ""),
                                    **fields, **common))
    return events


GRAPH_HOSTS = ("graph.facebook.com",)
GRAPH_VERSION = r"(?:/v\d+\.\d+)?"

FB_HOSTS = ("www.facebook.com", "facebook.com", "web.facebook.com", "m.facebook.com")
# What the Conversions API answers; facebook-business reads events_received, messages and fbtrace_id.
CAPI_SINK_ANSWER = '{"events_received": 1, "messages": [], "fbtrace_id": "pixelspy-sink"}'
# A batch answers a list of {code, headers, body}; facebook-business reads one per call it sent
# (calls beyond the list are neither retried nor failed).
BATCH_SINK_ANSWER = json.dumps([{"code": 200, "headers": [], "body": CAPI_SINK_ANSWER}])
ROUTES = [
    Route(PLATFORM, FB_HOSTS, TR_PATH, decode_tr),
    Route(PLATFORM, FB_HOSTS, SANDBOX_PATH, decode_tr),
    Route(PLATFORM, ("connect.facebook.net",), r"/[A-Za-z_]+/fbevents\.js", decode_loader,
          sink=False),
    Route(PLATFORM, ("connect.facebook.net",), r"/signals/config/(?P<pixel>\d+)", decode_loader, sink=False),
    Route(PLATFORM, GRAPH_HOSTS, GRAPH_VERSION + r"/(?P<pixel>\d+)/events/?", decode_capi,
          sink_json=CAPI_SINK_ANSWER),
    Route(PLATFORM, GRAPH_HOSTS, GRAPH_VERSION + r"/(?P<app>\d+)/activities/?", decode_app_activities),
    Route(PLATFORM, GRAPH_HOSTS, GRAPH_VERSION + r"/?", decode_graph_batch, signature=is_events_batch,
          sink_json=BATCH_SINK_ANSWER),
]
