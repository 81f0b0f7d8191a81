"""X (Twitter) pixel: /i/adsct beacons as uwt.js and oct.js send them, the loaders, and the
Conversions API.

Wire facts: ../shared/spec/platforms.md §5 (Omnibug's Twitter provider, real uwt.js beacons in
crawled pages, developer.x.com web-conversions reference).

Event names: legacy hits (`events=[["purchase",{…}]]`) name their event. uwt.js 2.x hits do not:
`txn_id` is the tag ID and `event` carries only the parameters; which action the tag stands for is
configured in Events Manager. Such hits are named by their event tag ("o87ne", labelled "event tag
o87ne" in the TUI), on the pixel and on the Conversions API alike (where `event_id` holds that tag
ID), so both sides line up; the base tag's own page view (`event={}`) is "pageview", X's own name
for it in the legacy list. X deduplicates on `conversion_id`, so that is the event_id here — the
per-beacon `event_id` UUID of uwt.js only ties the copies of one beacon together.

Hosts and paths: uwt.js sends each beacon to t.co and analytics.twitter.com (analytics.x.com on
newer builds), as a GET image to /1/i/adsct or, when it can, as a form POST to /1/i/adsctp (a
public pixel debugger's test captures from live sites; a site's CSP change log naming
`t.co/1/i/adsctp` and `analytics.twitter.com/1/i/adsctp`). The fields are the same on both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pixelspy.decoders import Route
from pixelspy.decoders.wire import (
    Errors, Labels, body_form_or_json, compact, flatten, hit_body, json_list, page_or_referer, parse_json_lenient,
    parse_qs_pairs, to_text, user_field,
)
from pixelspy.model import Kind, RawHit, Source, TrackingEvent, UserField

PLATFORM = "x"

# Event parameters shared by the pixel (`event.*` / `events.*`) and the Conversions API.
EVENT_PARAMS = {
    "value": ("Value", "Event data"),
    "currency": ("Currency", "Event data"),
    "num_items": ("Number of items", "Event data"),
    "contents": ("Contents", "Event data"),
    "conversion_id": ("Conversion ID (dedup key)", "Event"),
    "email_address": ("Email", "User data"),
    "phone_number": ("Phone", "User data"),
    "search_string": ("Search string", "Event data"),
    "description": ("Description", "Event data"),
    "twclid": ("Click ID (twclid)", "User data"),
    "status": ("Status", "Event data"),
}

PIXEL_LABELS = Labels(
    {
        "txn_id": ("Tag ID (base tag, or the event tag for an event)", "Event"),
        "p_id": ("Partner", "Event"),
        "p_user_id": ("User ID", "User data"),
        "events": ("Events (legacy JSON list)", "Event"),
        "event": ("Event parameters (JSON; {} on the base tag's page view)", "Event"),
        "event_id": ("Beacon ID (per hit; not the dedup key)", "Event"),
        "tw_sale_amount": ("Sale amount (legacy)", "Event data"),
        "tw_order_quantity": ("Order quantity (legacy)", "Event data"),
        "tw_document_href": ("Page URL", "Page context"),
        "pt": ("Page title", "Page context"),
        "tw_iframe_status": ("In an iframe", "Page context"),
        "restricted_data_use": ("Restricted data use", "Consent"),
        "twpid": ("Browser ID (_twpid)", "User data"),
        "tw_pid_src": ("Browser ID source", "User data"),
        "tw_session_id": ("Session ID", "Technical"),
        "tw_session_count": ("Session count", "Technical"),
        "tw_engaged_ms": ("Engaged time (ms)", "Technical"),
        "tw_ch_fvl": ("Client hints (full version list)", "Technical"),
        "dv": ("Device info (timezone&language&vendor&platform&screen…)", "Technical"),
        "integration": ("Integration (advertiser / gtm)", "Technical"),
        "type": ("Tag type", "Technical"),
        "version": ("uwt.js version", "Technical"),
        "bci": ("Browser capabilities", "Technical"),
        "eci": ("Environment capabilities", "Technical"),
        "pl_id": ("Page load ID", "Technical"),
        "tpx_cb": ("Callback (legacy)", "Technical"),
        **{f"event.{k}": v for k, v in EVENT_PARAMS.items()},
        **{f"events.{k}": v for k, v in EVENT_PARAMS.items()},
    },
    families={"event": ("Event data", "Event: "), "events": ("Event data", "Event: ")},
    default_group="Technical",
)

CAPI_LABELS = Labels(
    {
        "conversion_time": ("Conversion time (ISO 8601)", "Event"),
        "event_id": ("Event tag ID (tw-<pixel>-<tag> or <tag>)", "Event"),
        "identifiers": ("Identifiers", "User data"),
        "number_items": ("Number of items", "Event data"),
        "price_currency": ("Currency", "Event data"),
        **EVENT_PARAMS,
    },
    default_group="Event data",
)

# Legacy event names (oct.js / twq('track', …), sent lowercased) → canonical event. [mem]
LEGACY_EVENTS = {
    "pageview": "PageView", "purchase": "Purchase", "signup": "CompleteRegistration",
    "completeregistration": "CompleteRegistration", "lead": "Lead", "addtocart": "AddToCart",
    "viewcontent": "ViewContent", "checkout": "InitiateCheckout", "initiatecheckout": "InitiateCheckout",
    "search": "Search", "addtowishlist": "AddToWishlist", "addpaymentinfo": "AddPaymentInfo",
}

# Identifier / event keys → normalised user-data key (hashed ones resolve through wire.USER_KEYS).
USER_KEYS = {
    "hashed_email": "em", "hashed_phone_number": "ph", "email_address": "em", "phone_number": "ph",
    "twclid": "twclid", "ip_address": "ip", "user_agent": "user_agent",
}

# "tw-o8z6j-o87ne" = tw-<base tag>-<event tag>; a bare "o87ne" is the event tag alone.
TAG_ID = re.compile(r"tw-(?P<pixel>[0-9a-z]+)-(?P<tag>[0-9a-z]+)", re.IGNORECASE)


def split_tag(value: str) -> tuple[str | None, str]:
    """(base tag, tag) of a tag ID in either spelling."""
    if found := TAG_ID.fullmatch(value.strip()):
        return found.group("pixel"), found.group("tag")
    return None, value.strip()


PAGE_VIEW = "pageview"  # the legacy list's name, for the base tag's page view


def tag_label(tag: str) -> str:
    return f"event tag {tag}"


def user_data(fields: Iterable[tuple[str, Any]], prefix: str) -> list[UserField]:
    out = []
    for k, v in fields:
        key = USER_KEYS.get(k)
        text = compact(v)
        if key is None or not text:
            continue
        name = f"{prefix}{k}"
        out.append(user_field(name, key, v) or UserField(key=key, name=name, hashed=False, value=text))
    return out


def content_ids(contents: Any, errors: Errors, what: str) -> list[str]:
    if isinstance(contents, str):
        contents = json_list(contents, errors, what)
    if not isinstance(contents, list):
        return []
    return [compact(c["content_id"]) for c in contents if isinstance(c, dict) and c.get("content_id") is not None]


def event_fields(data: dict[str, Any], errors: Errors, prefix: str) -> dict[str, Any]:
    """The TrackingEvent fields read from one event's parameters (pixel or API)."""
    value = data.get("value")
    currency = data.get("currency", data.get("price_currency"))
    return dict(
        value=compact(value) if value not in (None, "") else None,
        currency=compact(currency) or None,
        content_ids=content_ids(data.get("contents"), errors, f"{prefix}contents"),
        event_id=compact(data.get("conversion_id")) or None,
        user_data=user_data(data.items(), prefix),
    )


PRIMARY_COPY_ONLY = frozenset({"tpx_cb", "tw_document_href"})


def legacy_entries(raw: str, errors: Errors) -> list[tuple[str | None, dict[str, Any]]]:
    """`events=[["purchase",{…}],…]` → [(name, params)]; a broken entry keeps its place."""
    parsed = parse_json_lenient(raw, errors, "events")
    if parsed is None:
        return [(None, {})]
    if not isinstance(parsed, list) or not parsed:
        errors.add("events is not a non-empty JSON list")
        return [(None, {})]
    entries = []
    for entry in parsed:
        name = entry[0] if isinstance(entry, list) and entry and isinstance(entry[0], str) else None
        data = entry[1] if isinstance(entry, list) and len(entry) > 1 else None
        if name is None:
            errors.add(f"events entry is not [name, params]: {compact(entry)[:80]}")
        if data is not None and not isinstance(data, dict):
            errors.add(f"events entry {name!r} has params that are not an object")
        entries.append((name, data if isinstance(data, dict) else {}))
    return entries


def is_partner_sync(values: dict[str, str]) -> bool:
    """A data partner matching its user ID to X's cookie (p_id=<partner number>&p_user_id=<its ID>,
    seen from Salesforce's Krux on lowes.com): no tag, no event; uwt.js always sends p_id=Twitter."""
    partner = values.get("p_id", "")
    return partner.isdigit() and not ({"txn_id", "events", "event"} & values.keys())


def decode_adsct(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    errors = Errors()
    pairs = parse_qs_pairs(hit.query, errors)
    form, json_body = body_form_or_json(hit, errors)
    if json_body is not None:
        errors.add("X /i/adsct body is JSON; uwt.js sends a query string")
    pairs += form
    values = dict(pairs)
    if is_partner_sync(values):
        return []

    pixel, tag = split_tag(values.get("txn_id", ""))
    if not tag:
        errors.add("no tag ID (txn_id)")
    # (event name, TUI label, canonical event, params, param-name prefix) for each event of this beacon.
    events: list[tuple[str | None, str | None, str | None, dict[str, Any], str]] = []
    if "events" in values:
        for name, data in legacy_entries(values["events"], errors):
            events.append((name, None, LEGACY_EVENTS.get((name or "").lower()), data, "events."))
    elif "event" in values:
        data = parse_json_lenient(values["event"], errors, "event") if values["event"] else {}
        if data == {}:  # the base tag's config hit
            events.append((PAGE_VIEW, "page view", "PageView", data, "event."))
        else:
            if not isinstance(data, dict):
                errors.add("event is not a JSON object")
                data = {}
            events.append((tag or None, tag_label(tag) if tag else None, None, data, "event."))
    else:  # oct.js <noscript> image: the tag firing, with no event list
        events.append((PAGE_VIEW, "page view", "PageView", {}, "event."))

    sale = values.get("tw_sale_amount", "")
    # Legacy beacons have no per-hit id: the beacon is its parameters, less those that only the
    # analytics host's copy carries (the t.co copy has no callback and no page URL).
    beacon = values.get("event_id") or "&".join(f"{k}={v}" for k, v in pairs if k not in PRIMARY_COPY_ONLY)
    endpoint = f"{hit.host} {hit.path}"
    page, page_params = page_or_referer(values.get("tw_document_href"), hit)
    out = []
    for i, (name, label, standard, data, prefix) in enumerate(events):
        event_errors = Errors(errors)
        fields = event_fields(data, event_errors, prefix)
        if fields["value"] is None and sale not in ("", "0"):
            fields["value"] = sale
        out.append(TrackingEvent.decoded(
            platform=PLATFORM,
            pixel_id=pixel or tag or None,
            event=name,
            label=label,
            standard_event=standard,
            page_url=page,
            params=PIXEL_LABELS.params([*pairs, *flatten(data, prefix.rstrip("."))] if data else pairs) + page_params,
            decode_errors=list(event_errors),
            endpoint=endpoint,
            # uwt.js sends every beacon to two hosts: fold the copy.
            twin_key="|".join((PLATFORM, tag, beacon, str(i))),
            **fields,
        ))
    return out


def capi_event(conv: Any, pixel: str, errors: Errors, endpoint: str) -> TrackingEvent:
    errors = Errors(errors)
    if not isinstance(conv, dict):
        errors.add("conversion is not a JSON object")
        conv = {}
    tag_pixel, tag = split_tag(compact(conv.get("event_id")))
    if not tag:
        errors.add("no event tag ID (event_id)")
    if tag_pixel and tag_pixel.lower() != pixel.lower():
        errors.add(f"event_id names base tag {tag_pixel}, the URL names {pixel}")
    identifiers = conv.get("identifiers")
    if identifiers is not None and not isinstance(identifiers, list):
        errors.add("identifiers is not a list")
    # Each identifier is its own one-key object: [{"twclid": …}, {"hashed_email": …}].
    ids = [kv for ident in identifiers if isinstance(ident, dict) for kv in ident.items()] \
        if isinstance(identifiers, list) else []
    fields = event_fields(conv, errors, "")
    fields["user_data"] = user_data(ids, "identifiers.")
    return TrackingEvent.decoded(
        platform=PLATFORM,
        source=Source.server,
        pixel_id=pixel,
        event=tag or None,
        label=tag_label(tag) if tag else None,
        params=CAPI_LABELS.params(flatten(conv) if conv else ()),
        decode_errors=list(errors),
        endpoint=endpoint,
        **fields,
    )


def decode_capi(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    errors = Errors()
    pixel = m.group("pixel")
    endpoint = f"CAPI v{m.group('version')} conversions"
    raw = hit_body(hit, errors)
    data = parse_json_lenient(to_text(raw, errors), errors, "body") if raw.strip() else None
    if not raw.strip():
        errors.add("empty body")
    conversions = data.get("conversions") if isinstance(data, dict) else None
    if not isinstance(conversions, list) or not conversions:
        if data is not None:
            errors.add("body has no conversions list")
        return [capi_event({}, pixel, errors, endpoint)]
    n = len(conversions)
    return [capi_event(c, pixel, errors, f"{endpoint} {i}/{n}" if n > 1 else endpoint)
            for i, c in enumerate(conversions, 1)]


def decode_loader(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    return [TrackingEvent.decoded(platform=PLATFORM, kind=Kind.pixel_loaded, endpoint=m.group(0).lstrip("/"),
                          page_url=hit.header("referer") or None)]


ADSCT_HOSTS = ("t.co", "analytics.twitter.com", "analytics.x.com")
# What the Conversions API answers on success.
CAPI_SINK_ANSWER = '{"data": {"conversions_processed": 1, "debug_id": "pixelspy-sink"}, "request": {"params": {}}}'
ROUTES = [
    Route(PLATFORM, ADSCT_HOSTS, r"(/1)?/i/adsctp?/?", decode_adsct),
    Route(PLATFORM, ("ads-api.x.com", "ads-api.twitter.com"),
          r"/(?P<version>\d+)/measurement/conversions/(?P<pixel>[0-9A-Za-z]+)/?", decode_capi,
          sink_json=CAPI_SINK_ANSWER),
    Route(PLATFORM, ("static.ads-twitter.com",), r"/(uwt|oct)\.js", decode_loader, sink=False),
]
