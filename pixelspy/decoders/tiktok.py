"""TikTok: the ttq pixel's JSON beacons, the Events API (server), and the pixel loaders.

Wire facts: ../shared/spec/platforms.md §2 (Omnibug's TikTok provider and its tests, real captured
bodies with TikTok's own `signal_diagnostic_labels`, TikTok Business API SDK models).

Decisions:
- Event names keep TikTok's spelling in `event`; `standard_event` is the canonical cross-vendor
  name (Pageview → PageView, CompletePayment → Purchase, SubmitForm → Lead). TikTok standard
  events with no cross-vendor equivalent (ClickButton, Download, PlaceAnOrder, …) keep their
  own name as `standard_event`: they are standard, just TikTok-only. PlaceAnOrder is not mapped
  to Purchase so a site firing PlaceAnOrder then CompletePayment is not two purchases.
- /api/v2/pixel/act carries auto-collected actions (`action`: Click, Metadata) without an
  `event`: the action is the event name, with no standard event.
- Internal events (EnrichAM) and SDK telemetry (/perf, /inter, /monitor) yield no event; their
  routes exist so sink mode still answers them locally.
- The GET transport with base64 JSON in `?analytics_message=` is decoded as one public parser
  does; it is not verified against a real capture.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

from pixelspy.decoders import Route
from pixelspy.decoders.wire import (
    Errors, EventShape, Labels, ServerBatch, decode_server_batch, dig, hit_body, parse_json_lenient,
    parse_qs_pairs, shaped_event, text_or_none, to_text,
)
from pixelspy.model import Kind, RawHit, TrackingEvent

PLATFORM = "tiktok"

# TikTok wire name → canonical standard event.
STANDARD_EVENTS = {
    "Pageview": "PageView", "PageView": "PageView",
    "ViewContent": "ViewContent", "Search": "Search", "AddToWishlist": "AddToWishlist",
    "AddToCart": "AddToCart", "InitiateCheckout": "InitiateCheckout",
    "AddPaymentInfo": "AddPaymentInfo", "CompletePayment": "Purchase", "Purchase": "Purchase",
    "SubmitForm": "Lead", "Lead": "Lead", "CompleteRegistration": "CompleteRegistration",
    "Contact": "Contact", "Subscribe": "Subscribe", "StartTrial": "StartTrial",
    "CustomizeProduct": "CustomizeProduct", "FindLocation": "FindLocation", "Schedule": "Schedule",
    # TikTok-only standard events: canonical name = TikTok's name.
    "ClickButton": "ClickButton", "Download": "Download", "PlaceAnOrder": "PlaceAnOrder",
    "ApplicationApproval": "ApplicationApproval",
}
# Sent by the pixel for itself, not by the site: not user events.
INTERNAL_EVENTS = frozenset({"EnrichAM"})
# TikTok's user-field spellings that wire.USER_KEYS does not know.
USER_KEY_ALIASES = {"zip_code": "zp"}

DIAGNOSTICS = "TikTok diagnostics"
LABELS = Labels(
    {
        "event": ("Event name", "Event"),
        "action": ("Auto-collected action", "Event"),
        "event_id": ("Event ID (dedup key)", "Event"),
        "message_id": ("Message ID", "Event"),
        "timestamp": ("Timestamp", "Event"),
        "event_time": ("Event time (s)", "Event"),
        "is_onsite": ("On TikTok (onsite)", "Event"),
        "type": ("Event type", "Event"),
        "analytics_uniq_id": ("Analytics unique ID", "Event"),
        "event_source": ("Event source", "Event"),
        "event_source_id": ("Pixel code", "Event"),
        "pixel_code": ("Pixel code", "Event"),
        "test_event_code": ("Test event code", "Event"),
        "partner_name": ("Partner name", "Event"),
        "context.pixel.code": ("Pixel code", "Event"),
        "context.pixel.codes": ("All pixel codes on page", "Event"),
        "context.pixel.runtime": ("Pixel runtime", "Technical"),
        "context.page.url": ("Page URL", "Page context"),
        "context.page.referrer": ("Referrer", "Page context"),
        "page.url": ("Page URL", "Page context"),
        "page.referrer": ("Referrer", "Page context"),
        "context.library.name": ("Library name", "Technical"),
        "context.library.version": ("Library version", "Technical"),
        "context.user.email": ("Email", "User data"),
        "context.user.phone_number": ("Phone", "User data"),
        "context.user.external_id": ("External ID", "User data"),
        "context.user.ttp": ("Browser ID (_ttp)", "User data"),
        "context.ad.callback": ("Click ID (ttclid)", "User data"),
        "context.ip": ("IP address", "User data"),
        "context.user_agent": ("User agent", "User data"),
        "context.userAgent": ("User agent", "User data"),
        "user.email": ("Email", "User data"),
        "user.phone": ("Phone", "User data"),
        "user.external_id": ("External ID", "User data"),
        "user.ttclid": ("Click ID (ttclid)", "User data"),
        "user.ttp": ("Browser ID (_ttp)", "User data"),
        "user.ip": ("IP address", "User data"),
        "user.user_agent": ("User agent", "User data"),
        "properties.value": ("Value", "Properties"),
        "properties.currency": ("Currency", "Properties"),
        "properties.contents": ("Contents", "Properties"),
        "properties.content_type": ("Content type", "Properties"),
        "properties.content_id": ("Content ID", "Properties"),
        "properties.content_ids": ("Content IDs", "Properties"),
        "properties.content_name": ("Content name", "Properties"),
        "properties.content_category": ("Content category", "Properties"),
        "properties.quantity": ("Quantity", "Properties"),
        "properties.price": ("Price", "Properties"),
        "properties.description": ("Description", "Properties"),
        "properties.query": ("Search query", "Properties"),
        "properties.order_id": ("Order ID", "Properties"),
    },
    families={
        "properties": ("Properties", "Property: "),
        "context": ("Context", "Context: "),
        "user": ("User data", "User: "),
        "page": ("Page context", "Page: "),
        "app": ("App", "App: "),
        "ad": ("Ad", "Ad: "),
        "auto_collected_properties": ("Auto-collected", "Auto: "),
        "signal_diagnostic_labels": (DIAGNOSTICS, "TikTok verdict: "),
        "_inspection": (DIAGNOSTICS, "TikTok inspection: "),
    },
    default_group="Technical",
)


# The event object of the pixel beacons and of the legacy Events API (/pixel/track, /pixel/batch).
PIXEL_EVENT = EventShape(
    event=(("event",), ("action",)),  # /act auto-collected hits name their action instead
    event_id=(("event_id",),),
    page_url=(("context", "page", "url"),),
    value=(("properties", "value"),),
    currency=(("properties", "currency"),),
    content_ids=(("properties", "content_ids"), ("properties", "content_id")),
    contents=(("properties", "contents"),),
    content_key="content_id",
    order_id=(("properties", "order_id"),),
    user=("context", "user"),
    user_keys=USER_KEY_ALIASES,
)
# Events API 2.0 keeps user and page at the top of each data[] element.
EVENTS_2_EVENT = replace(PIXEL_EVENT, event=(("event",),), page_url=(("page", "url"),), user=("user",))
LEGACY_EVENT = replace(PIXEL_EVENT, event=(("event",),))

EVENTS_API = {
    "event/track": ServerBatch(PLATFORM, ("data",), EVENTS_2_EVENT, LABELS, STANDARD_EVENTS.get,
                               "Events API 2.0 /event/track", test_code=("test_event_code",)),
    "pixel/track": ServerBatch(PLATFORM, (), LEGACY_EVENT, LABELS, STANDARD_EVENTS.get,
                               "Events API /pixel/track (legacy)", test_code=("test_event_code",),
                               pixel=(("pixel_code",),)),
    "pixel/batch": ServerBatch(PLATFORM, ("batch",), LEGACY_EVENT, LABELS, STANDARD_EVENTS.get,
                               "Events API /pixel/batch (legacy)", test_code=("test_event_code",)),
}
# Where the pixel code sits when it is shared by the whole request.
SHARED_PIXEL_PARAM = {"event/track": "event_source_id", "pixel/batch": "pixel_code"}


_ENCODED_URL = re.compile(r"https?%3A", re.I)


def _page_url(url: str | None) -> str | None:
    """The page URL; the legacy v1 body percent-encodes it inside the JSON."""
    if url and _ENCODED_URL.match(url):
        return unquote(url)
    return url


def _json_body(hit: RawHit, errors: Errors) -> Any:
    """The JSON document of a beacon: the body, or base64 JSON in ?analytics_message= (GET)."""
    text = to_text(hit_body(hit, errors), errors).strip()
    if not text:
        message = dict(parse_qs_pairs(hit.query, errors)).get("analytics_message")
        if not message:
            errors.add("empty body")
            return None
        try:
            packed = base64.b64decode(message + "=" * (-len(message) % 4))
        except (binascii.Error, ValueError):
            errors.add("analytics_message is not base64")
            return None
        text = to_text(packed, errors, "analytics_message").strip()
    if not text.startswith(("{", "[")):
        errors.add("body is not JSON")
        return None
    return parse_json_lenient(text, errors, "body")


def _transport(hit: RawHit) -> str:
    if hit.method == "GET":
        return "GET"
    return "beacon" if hit.content_type in ("text/plain", "") else "fetch"


def _pixel_event(obj: Any, endpoint: str, errors: Errors) -> TrackingEvent:
    fields = shaped_event(obj, PIXEL_EVENT, LABELS)
    pixel = text_or_none(dig(obj, "context", "pixel", "code"))
    if not pixel:
        errors = Errors([*errors, "no pixel code (context.pixel.code)"])
    # An /act action (Click, Metadata) is not one of the events a site fires.
    is_event = isinstance(obj, dict) and obj.get("event") not in (None, "")
    return TrackingEvent.decoded(
        platform=PLATFORM,
        pixel_id=pixel,
        standard_event=STANDARD_EVENTS.get(fields["event"] or "") if is_event else None,
        endpoint=endpoint,
        **{**fields, "page_url": _page_url(fields["page_url"]),
           "decode_errors": [*errors, *fields["decode_errors"]]},
    )


def decode_pixel(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    """Browser hits of ttq: /api/v2/pixel, /api/v2/pixel/act and the legacy /api/v1/track."""
    errors = Errors()
    doc = _json_body(hit, errors)
    endpoint = f"{hit.path.rstrip('/')} {_transport(hit)}"
    objs = doc if isinstance(doc, list) and doc else [doc if doc is not None else {}]
    return [_pixel_event(obj, endpoint, errors) for obj in objs
            if not (isinstance(obj, dict) and text_or_none(obj.get("event")) in INTERNAL_EVENTS)]


def decode_events_api(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    """Server events: Events API 2.0 (`data[]`) and the legacy /pixel/track and /pixel/batch.
    The Access-Token header is a secret; headers are never read into params."""
    kind = m.group("kind")
    events = decode_server_batch(hit, EVENTS_API[kind], None)
    for ev in events:
        ev.pixel_id = ev.pixel_id or ev.param(SHARED_PIXEL_PARAM.get(kind, "pixel_code")) or None
        ev.test_event_code = ev.test_event_code or ev.param("test_event_code") or None
        if not ev.pixel_id:
            ev.decode_errors = (*ev.decode_errors, "no pixel code")
    return events


def decode_telemetry(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    """SDK performance/monitoring beacons: routed so sink mode answers them, never listed."""
    return []


def decode_loader(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    errors = Errors()
    pixel = dict(parse_qs_pairs(hit.query, errors)).get("sdkid") or None
    return [TrackingEvent.decoded(platform=PLATFORM, kind=Kind.pixel_loaded, pixel_id=pixel,
                          endpoint=hit.path.rsplit("/", 1)[-1], page_url=hit.header("referer") or None,
                          decode_errors=list(errors))]


ANALYTICS = ("analytics.tiktok.com",)
# What the Events API answers; the business-api SDK parses it into its response model.
EVENTS_API_SINK_ANSWER = '{"code": 0, "message": "OK", "request_id": "pixelspy-sink", "data": {}}'
ROUTES = [
    Route(PLATFORM, ANALYTICS, r"/api/v2/pixel/(perf|inter)/?|/api/v2/monitor/?", decode_telemetry),
    Route(PLATFORM, ANALYTICS, r"/api/v2/pixel(/act)?/?|/api/v[12]/track/?", decode_pixel),
    Route(PLATFORM, ("business-api.tiktok.com",),
          r"/open_api/v1\.[23]/(?P<kind>event/track|pixel/track|pixel/batch)/?", decode_events_api,
          sink_json=EVENTS_API_SINK_ANSWER),
    Route(PLATFORM, ANALYTICS, r"/i18n/pixel/(events|sdk)\.js", decode_loader, sink=False),
    Route(PLATFORM, ANALYTICS, r"/i18n/pixel/static(_sdk)?/.+\.js", decode_loader, sink=False),
]
