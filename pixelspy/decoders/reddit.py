"""Reddit: Reddit Pixel rp.gif hits (pixel.js), Conversions API v2.0 and v3, the loader.

Wire facts: ../shared/spec/platforms.md §6; Omnibug's RedditPixel provider and its test; real
rp.gif captures (every field present, blank when unset: `m.value=&m.currency=…`); the newer pixel
also POSTs the same fields as a form to /rp. CAPI v2.0 (`events[].event_type.tracking_type`,
`event_metadata`) and v3 (`data.events[].type.tracking_type`, `metadata`), ads-api.reddit.com docs.
"""

from __future__ import annotations

import re

from pixelspy.decoders import Route
from pixelspy.decoders.wire import (
    Errors,
    EventShape,
    Labels,
    ServerBatch,
    body_form_or_json,
    decode_server_batch,
    folded_lookup,
    item_ids,
    json_list,
    parse_qs_pairs,
    user_field,
)
from pixelspy.model import Kind, RawHit, TrackingEvent

PLATFORM = "reddit"

# Reddit tracking types (the pixel's `event`, CAPI's `tracking_type`), compared case-insensitively.
STANDARD_EVENTS = {
    "pagevisit": "PageView",
    "viewcontent": "ViewContent",
    "search": "Search",
    "addtocart": "AddToCart",
    "addtowishlist": "AddToWishlist",
    "purchase": "Purchase",
    "lead": "Lead",
    "signup": "CompleteRegistration",
}


standard_event = folded_lookup(STANDARD_EVENTS)


# rp.gif advanced matching (hashed by pixel.js) → normalised user-data keys.
PIXEL_USER_KEYS = {"em": "em", "pn": "ph", "external_id": "external_id"}

PIXEL_LABELS = Labels(
    {
        "id": ("Pixel ID", "Event"),
        "event": ("Event name", "Event"),
        "m.customEventName": ("Custom event name", "Event"),
        "m.conversionId": ("Conversion ID (dedup key)", "Event"),
        "m.itemCount": ("Item count", "Event data"),
        "m.value": ("Value (legacy)", "Event data"),
        "m.valueDecimal": ("Value", "Event data"),
        "m.currency": ("Currency", "Event data"),
        "m.transactionId": ("Transaction ID", "Event data"),
        "m.products": ("Products", "Event data"),
        "uuid": ("Browser ID (_rdt_uuid)", "User data"),
        "em": ("Email (hashed)", "User data"),
        "pn": ("Phone (hashed)", "User data"),
        "external_id": ("External ID (hashed)", "User data"),
        "aaid": ("Android advertising ID", "User data"),
        "idfa": ("iOS advertising ID", "User data"),
        "click_id": ("Click ID (rdt_cid)", "User data"),
        "opt_out": ("Opted out", "Consent"),
        "dpm": ("Data processing mode (LDU)", "Consent"),
        "dpcc": ("Data processing country", "Consent"),
        "dprc": ("Data processing region", "Consent"),
        "ts": ("Timestamp (ms)", "Technical"),
        "v": ("Pixel version", "Technical"),
        "integration": ("Integration", "Technical"),
        "partner": ("Partner", "Technical"),
        "sh": ("Screen height", "Page context"),
        "sw": ("Screen width", "Page context"),
    },
    families={"m": ("Event data", "Event: ")},
    default_group="Technical",
)


def decode_pixel(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    errors = Errors()
    pairs = parse_qs_pairs(hit.query, errors)
    form, json_body = body_form_or_json(hit, errors)
    if json_body is not None:
        errors.add("Reddit pixel body is JSON; pixel.js sends a query string or a form")
    pairs += form
    values = dict(pairs)
    pixel, name = values.get("id") or None, values.get("event") or None
    if not pixel:
        errors.add("no pixel ID (id)")
    if not name:
        errors.add("no event name (event)")
    products = json_list(values.get("m.products"), errors, "m.products")
    user = [u for k, v in pairs if k in PIXEL_USER_KEYS and (u := user_field(k, PIXEL_USER_KEYS[k], v))]
    return [TrackingEvent.decoded(
        platform=PLATFORM,
        pixel_id=pixel,
        event=name,
        standard_event=standard_event(name),
        event_id=values.get("m.conversionId") or None,
        value=values.get("m.valueDecimal") or values.get("m.value") or None,
        currency=values.get("m.currency") or None,
        content_ids=item_ids(None, products, errors),
        order_id=values.get("m.transactionId") or None,
        params=PIXEL_LABELS.params(pairs),
        user_data=user,
        decode_errors=list(errors),
        endpoint=f"{hit.path} {hit.method}",
    )]


def decode_loader(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    errors = Errors()
    pixel = dict(parse_qs_pairs(hit.query, errors)).get("pixel_id") or None
    return [TrackingEvent.decoded(platform=PLATFORM, kind=Kind.pixel_loaded, pixel_id=pixel, endpoint="pixel.js",
                          page_url=hit.header("referer") or None, decode_errors=list(errors))]


# ---------------------------------------------------------------- Conversions API

CAPI_LABELS = Labels(
    {
        "test_mode": ("Test mode", "Event"),
        "data.test_id": ("Test ID", "Event"),
        "test_id": ("Test ID", "Event"),
        "event_at": ("Event time", "Event"),
        "action_source": ("Action source", "Event"),
        "click_id": ("Click ID (rdt_cid)", "User data"),
        "event_type.tracking_type": ("Event name", "Event"),
        "event_type.custom_event_name": ("Custom event name", "Event"),
        "type.tracking_type": ("Event name", "Event"),
        "type.custom_event_name": ("Custom event name", "Event"),
        "event_metadata.conversion_id": ("Conversion ID (dedup key)", "Event"),
        "metadata.conversion_id": ("Conversion ID (dedup key)", "Event"),
        "event_metadata.value_decimal": ("Value", "Event data"),
        "event_metadata.value": ("Value (legacy)", "Event data"),
        "metadata.value": ("Value", "Event data"),
        "event_metadata.currency": ("Currency", "Event data"),
        "metadata.currency": ("Currency", "Event data"),
        "event_metadata.item_count": ("Item count", "Event data"),
        "metadata.item_count": ("Item count", "Event data"),
        "event_metadata.products": ("Products", "Event data"),
        "metadata.products": ("Products", "Event data"),
        "user.email": ("Email (hashed)", "User data"),
        "user.phone_number": ("Phone (hashed)", "User data"),
        "user.external_id": ("External ID", "User data"),
        "user.ip_address": ("IP address", "User data"),
        "user.user_agent": ("User agent", "User data"),
        "user.uuid": ("Browser ID (_rdt_uuid)", "User data"),
        "user.opt_out": ("Opted out", "Consent"),
    },
    families={"event_metadata": ("Event data", "Event: "), "metadata": ("Event data", "Event: "),
              "user": ("User data", "User data: ")},
    default_group="Technical",
)

CAPI_V2 = ServerBatch(
    platform=PLATFORM,
    events=("events",),
    shape=EventShape(
        event=(("event_type", "tracking_type"),),
        event_id=(("event_metadata", "conversion_id"),),
        value=(("event_metadata", "value_decimal"), ("event_metadata", "value")),
        currency=(("event_metadata", "currency"),),
        contents=(("event_metadata", "products"),),
        user=("user",),
    ),
    labels=CAPI_LABELS,
    standard_event=standard_event,
    endpoint="Conversions API v2.0",
    test_code=("test_mode",),
)

CAPI_V3 = ServerBatch(
    platform=PLATFORM,
    events=("data", "events"),
    shape=EventShape(
        event=(("type", "tracking_type"),),
        event_id=(("metadata", "conversion_id"),),
        value=(("metadata", "value"),),
        currency=(("metadata", "currency"),),
        contents=(("metadata", "products"),),
        user=("user",),
    ),
    labels=CAPI_LABELS,
    standard_event=standard_event,
    endpoint="Conversions API v3",
    test_code=("test_id", "data.test_id"),
)


def decode_capi_v2(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    return decode_server_batch(hit, CAPI_V2, m["account"])


def decode_capi_v3(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    return decode_server_batch(hit, CAPI_V3, m["pixel"])


ROUTES = [
    Route(PLATFORM, ("alb.reddit.com",), r"/rp(?:\.gif)?/?", decode_pixel),
    Route(PLATFORM, ("ads-api.reddit.com",), r"/api/v2\.0/conversions/events/(?P<account>[^/]+)/?",
          decode_capi_v2),
    Route(PLATFORM, ("ads-api.reddit.com",), r"/api/v3/pixels/(?P<pixel>[^/]+)/conversion_events/?",
          decode_capi_v3),
    Route(PLATFORM, ("www.redditstatic.com",), r"/ads/pixel\.js", decode_loader, sink=False),
]
