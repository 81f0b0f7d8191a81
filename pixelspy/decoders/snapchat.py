"""Snapchat: Snap Pixel /p hits (scevent.min.js), Conversions API v2 and v3, the loader.

Wire facts: ../shared/spec/platforms.md §6; Omnibug's Snapchat provider and its test; real /p
captures (GET with everything in the query; older pixels POST the same fields as a form);
developers.snap.com Conversions API pages (v3 is Meta's CAPI shape, v2 flat objects).
/cm/i and /cm/p are cookie matching, not events. Newer pixels POST a JSON envelope to /p whose
`req[].t` entries are the events (a public pixel debugger's test captures from live sites: `{"ctx":
{}, "req": [{"t": {"pid", "ev", "intg"}}, {"i": {"pids"}}]}`); an envelope without `t` entries is
the pixel's own telemetry.
"""

from __future__ import annotations

import re
from typing import Any

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
    flatten,
    folded_lookup,
    parse_qs_pairs,
    user_field,
)
from pixelspy.model import Kind, Param, RawHit, TrackingEvent

PLATFORM = "snapchat"

# Snap event names, compared without case or punctuation so the pixel's PAGE_VIEW and v3's
# PageView/ADD_TO_CART spellings meet.
STANDARD_EVENTS = {
    "PAGEVIEW": "PageView",
    "VIEWCONTENT": "ViewContent",
    "ADDCART": "AddToCart",
    "ADDTOCART": "AddToCart",
    "ADDTOWISHLIST": "AddToWishlist",
    "SIGNUP": "CompleteRegistration",
    "SEARCH": "Search",
    "PURCHASE": "Purchase",
    "STARTCHECKOUT": "InitiateCheckout",
    "ADDBILLING": "AddPaymentInfo",
    "SUBSCRIBE": "Subscribe",
    "STARTTRIAL": "StartTrial",
}


standard_event = folded_lookup(STANDARD_EVENTS)


# /p user fields (all hashed by the pixel) → normalised user-data keys.
PIXEL_USER_KEYS = {"u_hem": "em", "u_hpn": "ph", "u_fn": "fn", "u_ln": "ln", "l_city": "ct", "l_gr": "st",
                   "l_gpc": "zp", "l_gc": "country"}
# scevent.min.js sends a value it hashed as "FFF" and the SHA-256 hex (seen from 1.5 in 2021 to 3.44
# in 2025): the digest is the user data.
PIXEL_HASH = re.compile(r"FFF([0-9a-f]{64})")
# The prefix of the client dedup IDs scevent.min.js draws itself (cdid=@-<UUID>, 3.44 in 2025).
SCEVENT_OWN_DEDUP_ID = "@-"


def pixel_user_value(value: str) -> str:
    return m[1] if (m := PIXEL_HASH.fullmatch(value)) else value


# Equivalent long and short spellings of the /p event fields: the first present wins.
PIXEL_FIELDS = {
    "value": ("e_pr", "e_price"),
    "currency": ("e_cur", "e_currency"),
    "order_id": ("e_tid", "e_transaction_id"),
    "item_ids": ("e_iids", "e_item_ids"),
    "event_id": ("cdid", "e_client_dedup_id", "client_dedup_id"),
}

PIXEL_LABELS = Labels(
    {
        "pid": ("Pixel ID", "Event"),
        "pids": ("Pixel IDs on page", "Event"),
        "ev": ("Event name", "Event"),
        "cdid": ("Client dedup ID", "Event"),
        "et": ("Event tag", "Event"),
        "intg": ("Integration", "Event"),
        "pl": ("Page URL", "Page context"),
        "ctx.url": ("Page URL (envelope context)", "Page context"),
        "rf": ("Referrer", "Page context"),
        "if": ("In an iframe", "Page context"),
        "ts": ("Timestamp (ms)", "Technical"),
        "v": ("Pixel version", "Technical"),
        "bt": ("Build", "Technical"),
        "trackId": ("Hit ID", "Technical"),
        "u_hem": ("Email (hashed)", "User data"),
        "u_hpn": ("Phone (hashed)", "User data"),
        "u_fn": ("First name (hashed)", "User data"),
        "u_ln": ("Last name (hashed)", "User data"),
        "u_hed": ("Email domain (hashed)", "User data"),
        "u_age": ("Age (hashed)", "User data"),
        "u_c1": ("Browser ID (_scid)", "User data"),
        "u_sclid": ("Click ID (ScCid)", "User data"),
        "u_scsid": ("Session ID", "User data"),
        "l_city": ("City (hashed)", "User data"),
        "l_gr": ("Region (hashed)", "User data"),
        "l_gpc": ("Postal code (hashed)", "User data"),
        "l_gc": ("Country (hashed)", "User data"),
        "du": ("Data use", "Consent"),
        "e_pr": ("Price", "Event data"),
        "e_price": ("Price", "Event data"),
        "e_cur": ("Currency", "Event data"),
        "e_currency": ("Currency", "Event data"),
        "e_tid": ("Transaction ID", "Event data"),
        "e_transaction_id": ("Transaction ID", "Event data"),
        "e_iids": ("Item IDs", "Event data"),
        "e_item_ids": ("Item IDs", "Event data"),
        "e_ni": ("Number of items", "Event data"),
        "e_ic": ("Item category", "Event data"),
        "e_bds": ("Brands", "Event data"),
        "e_desc": ("Description", "Event data"),
        "e_ss": ("Search string", "Event data"),
        "e_sm": ("Sign-up method", "Event data"),
        "e_su": ("Success", "Event data"),
        "e_pia": ("Payment info available", "Event data"),
        "e_cs": ("Customer status", "Event data"),
        "e_lv": ("Level", "Event data"),
    },
    default_group="Technical",
)
# Families spelled with an underscore (`e_…` event fields, `m_…` page metrics): group, label prefix.
PIXEL_FAMILIES = {"e_": ("Event data", "Event: "), "m_": ("Page metrics", "Metric: ")}


def pixel_params(pairs: list[tuple[str, str]]) -> list[Param]:
    return [p._replace(group=family[0], label=family[1] + p.name[2:])
            if p.name not in PIXEL_LABELS.keys and (family := PIXEL_FAMILIES.get(p.name[:2])) else p
            for p in PIXEL_LABELS.params(pairs)]


def decode_pixel(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    errors = Errors()
    pairs = parse_qs_pairs(hit.query, errors)
    form, json_body = body_form_or_json(hit, errors)
    pairs += form
    if json_body is not None and not ({"pid", "ev"} & dict(pairs).keys()):
        return envelope_events(json_body, pairs, errors, hit.method)
    return [pixel_event(pairs, errors, f"/p {hit.method}")]


def envelope_events(body: Any, shared: list[tuple[str, str]], errors: Errors, method: str) -> list[TrackingEvent]:
    """scevent.min.js's JSON envelope `{"ctx": {…}, "req": [{"t": {pid, ev, …}}, {"i": …}, {"log": …}]}`:
    each `t` (track) entry is one event with the /p fields, sharing the context; `i` (init) and
    `log` entries are the pixel's own housekeeping, and an envelope of only those is no event."""
    requests = body.get("req") if isinstance(body, dict) else None
    if not isinstance(requests, list):  # not the envelope: a hit that says nothing
        errors.add("JSON body is neither /p fields (pid, ev) nor an envelope (req list)")
        return [pixel_event(shared, errors, f"/p {method} JSON")]
    tracks = [r["t"] for r in requests if isinstance(r, dict) and "t" in r]
    if not tracks:
        return []
    ctx = body.get("ctx")
    shared = shared + [(f"ctx.{k}", compact(v)) for k, v in flatten(ctx)] if isinstance(ctx, dict) and ctx else shared
    endpoint = f"/p {method} JSON" + (f" ({len(tracks)} events)" if len(tracks) > 1 else "")
    events = []
    for track in tracks:
        track_errors = Errors(errors)
        if not isinstance(track, dict):
            track_errors.add(f"req[].t is not a JSON object but {compact(track)[:40]!r}")
            track = {}
        pairs = [(k, compact(v)) for k, v in track.items()] + shared
        events.append(pixel_event(pairs, track_errors, endpoint, page_from=("pl", "ctx.pl", "ctx.url")))
    return events


def pixel_event(pairs: list[tuple[str, str]], errors: Errors, endpoint: str,
                page_from: tuple[str, ...] = ("pl",)) -> TrackingEvent:
    """One /p event from its fields (query, form, or one `t` entry of the JSON envelope)."""
    values = dict(pairs)
    pixel, name = values.get("pid") or None, values.get("ev") or None
    if not pixel:
        errors.add("no pixel ID (pid)")
    if not name:
        errors.add("no event name (ev)")

    def first(field: str) -> str | None:
        return next((values[k] for k in PIXEL_FIELDS[field] if values.get(k)), None)

    # scevent.min.js draws a dedup ID of its own ("@-" + a UUID) for every call the site gave none:
    # new on each call, it matches no server event and tells no repeat apart, so it is no event ID.
    event_id = first("event_id")
    if event_id and event_id.startswith(SCEVENT_OWN_DEDUP_ID):
        event_id = None

    item_ids = first("item_ids")
    user = [u for k, v in pairs
            if k in PIXEL_USER_KEYS and (u := user_field(k, PIXEL_USER_KEYS[k], pixel_user_value(v)))]
    return TrackingEvent.decoded(
        platform=PLATFORM,
        pixel_id=pixel,
        event=name,
        standard_event=standard_event(name),
        event_id=event_id,
        page_url=next((values[k] for k in page_from if values.get(k)), None),
        value=first("value"),
        currency=first("currency"),
        content_ids=[i.strip() for i in item_ids.split(",") if i.strip()] if item_ids else [],
        order_id=first("order_id"),
        params=pixel_params(pairs),
        user_data=user,
        decode_errors=list(errors),
        endpoint=endpoint,
    )


def decode_loader(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    return [TrackingEvent.decoded(platform=PLATFORM, kind=Kind.pixel_loaded, endpoint="scevent.min.js",
                          page_url=hit.header("referer") or None)]


# ---------------------------------------------------------------- Conversions API

CAPI_V3_LABELS = Labels(
    {
        **CAPI_STYLE_KEYS,
        "user_data.sc_click_id": ("Click ID (ScCid)", "User data"),
        "user_data.sc_cookie1": ("Browser ID (_scid)", "User data"),
    },
    families=CAPI_STYLE_FAMILIES,
    default_group="Technical",
)

CAPI_V3 = ServerBatch(
    platform=PLATFORM,
    events=("data",),
    shape=CAPI_STYLE_EVENT,
    labels=CAPI_V3_LABELS,
    standard_event=standard_event,
    endpoint="Conversions API v3",
    test_code=("test_event_code",),
)

CAPI_V2_LABELS = Labels(
    {
        "pixel_id": ("Pixel ID", "Event"),
        "snap_app_id": ("Snap app ID", "Event"),
        "app_id": ("App ID", "Event"),
        "event_type": ("Event name", "Event"),
        "event_conversion_type": ("Conversion type (WEB/MOBILE_APP/OFFLINE)", "Event"),
        "event_tag": ("Event tag", "Event"),
        "timestamp": ("Timestamp (ms)", "Event"),
        "client_dedup_id": ("Client dedup ID", "Event"),
        "page_url": ("Page URL", "Page context"),
        "price": ("Price", "Event data"),
        "currency": ("Currency", "Event data"),
        "transaction_id": ("Transaction ID", "Event data"),
        "item_ids": ("Item IDs", "Event data"),
        "number_items": ("Number of items", "Event data"),
        "hashed_email": ("Email (hashed)", "User data"),
        "hashed_phone_number": ("Phone (hashed)", "User data"),
        "hashed_ip_address": ("IP address (hashed)", "User data"),
        "user_agent": ("User agent", "User data"),
        "uuid_c1": ("Browser ID (_scid)", "User data"),
        "click_id": ("Click ID (ScCid)", "User data"),
    },
    default_group="Technical",
)

CAPI_V2 = ServerBatch(
    platform=PLATFORM,
    events=(),
    shape=EventShape(
        event=(("event_type",),),
        event_id=(("client_dedup_id",),),
        page_url=(("page_url",),),
        value=(("price",),),
        currency=(("currency",),),
        content_ids=(("item_ids",),),
        order_id=(("transaction_id",),),
        user=(),
    ),
    labels=CAPI_V2_LABELS,
    standard_event=standard_event,
    endpoint="Conversions API v2",
    pixel=(("pixel_id",), ("snap_app_id",)),
)


def capi_decoder(batch: ServerBatch):
    def decode(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
        events = decode_server_batch(hit, batch, m.groupdict().get("pixel"))
        if m["validate"]:  # the validation endpoint checks events without recording them
            for ev in events:
                ev.test_event_code = ev.test_event_code or "validate"
        return events
    return decode


TR_HOSTS = ("tr.snapchat.com", "tr6.snapchat.com")
ROUTES = [
    Route(PLATFORM, TR_HOSTS, r"/p/?", decode_pixel),
    Route(PLATFORM, TR_HOSTS, r"/v3/(?P<pixel>[^/]+)/events(?P<validate>/validate)?/?", capi_decoder(CAPI_V3)),
    Route(PLATFORM, TR_HOSTS, r"/v2/conversion(?P<validate>/validate)?/?", capi_decoder(CAPI_V2)),
    Route(PLATFORM, ("sc-static.net",), r"/scevent\.min\.js", decode_loader, sink=False),
]
