"""Pinterest: the pintrk tag's /v3/ hits, the Conversions API (server), and the tag loader.

Wire facts: ../shared/spec/platforms.md §3 (Omnibug's Pinterest provider and its tests, real
captured /v3/ hits, developers.pinterest.com conversions docs).

Decisions:
- The tag's `init` hit (sent by `pintrk('load', tid)`) is shown as `pixel_loaded`, not as an
  event: it is the tag starting up, not something the user did, so it must not count as a
  conversion or a duplicate. It is still fully decoded (its `pd` enhanced-match email is in
  `user_data`), with `event` = "init".
- Event names keep the wire spelling in `event`; `standard_event` is the canonical name
  (checkout → Purchase, pagevisit → PageView, signup → CompleteRegistration). Names are matched
  case-insensitively and without underscores, so the tag's `addtocart` and the API's
  `add_to_cart` meet. Pinterest-only events (watchvideo, app_install) keep a PascalCase name of
  their own; `custom` has none.
- The Conversions API carries no tag id, only the ad account id in its path: that is the
  `pixel_id` of server events (the endpoint says so). Its older endpoint, ct.pinterest.com/events/v3
  (still sent by RudderStack's pinterest_tag destination, apiVersion legacyApi), posts the same event
  objects with the ad account in each event's `advertiser_id`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from pixelspy.decoders import Route
from pixelspy.decoders.wire import (
    CAPI_STYLE_EVENT, Errors, Labels, ServerBatch, body_form_or_json, compact, decode_server_batch, flatten,
    folded_lookup, item_ids, page_or_referer, parse_json_lenient, parse_qs_pairs, text_or_none, user_field,
)
from pixelspy.model import Kind, Param, RawHit, TrackingEvent, UserField

PLATFORM = "pinterest"

# Normalised name (lowercase, no underscores) → canonical standard event.
STANDARD_EVENTS = {
    "pagevisit": "PageView", "viewcategory": "ViewCategory", "search": "Search",
    "addtocart": "AddToCart", "checkout": "Purchase", "signup": "CompleteRegistration",
    "lead": "Lead", "addtowishlist": "AddToWishlist", "addpaymentinfo": "AddPaymentInfo",
    "contact": "Contact",
    # Pinterest-only standard events.
    "watchvideo": "WatchVideo", "appinstall": "AppInstall", "appopen": "AppOpen",
}
INIT_EVENT = "init"
# Query/body parameters that carry URL-encoded JSON.
JSON_PARAMS = ("ed", "pd", "ad")

# ed/pd/ad keys, labelled the same whether sent as JSON (`ed.value`) or in brackets (`ed[value]`).
_JSON_KEYS = {
    "ed": {
        "value": ("Value", "Event data"), "currency": ("Currency", "Event data"),
        "order_id": ("Order ID", "Event data"), "order_quantity": ("Order quantity", "Event data"),
        "line_items": ("Line items", "Event data"), "event_id": ("Event ID (dedup key)", "Event"),
        "promo_code": ("Promo code", "Event data"), "property": ("Property", "Event data"),
        "search_query": ("Search query", "Event data"), "video_title": ("Video title", "Event data"),
        "lead_type": ("Lead type", "Event data"), "product_id": ("Product ID", "Event data"),
        "np": ("Integration (np)", "Technical"),
    },
    "pd": {
        "em": ("Email (hashed)", "User data"), "ph": ("Phone (hashed)", "User data"),
        "external_id": ("External ID", "User data"), "pin_unauth": ("Unauth ID (pin_unauth)", "User data"),
        "aem_eligible_list": ("Auto enhanced match fields", "User data"),
        "np": ("Integration (np)", "Technical"),
    },
    "ad": {
        "loc": ("Page URL", "Page context"), "ref": ("Referrer", "Page context"),
        "if": ("In an iframe", "Page context"), "sh": ("Screen height", "Page context"),
        "sw": ("Screen width", "Page context"), "is_eu": ("EU visitor", "Consent"),
        "is_restricted_region": ("Restricted region", "Consent"),
    },
}
LABELS = Labels(
    {
        "tid": ("Tag ID", "Event"),
        "event": ("Event name", "Event"),
        "cb": ("Cache buster", "Technical"),
        "noscript": ("Noscript image tag", "Technical"),
        "ed": ("Event data (raw)", "Event data"),
        "pd": ("Partner data (raw)", "User data"),
        "ad": ("Browser data (raw)", "Page context"),
        "ad_account_id": ("Ad account ID (CAPI carries no tag ID)", "Event"),
        "advertiser_id": ("Ad account ID (CAPI carries no tag ID)", "Event"),
        "test": ("Test mode", "Event"),
        "event_name": ("Event name", "Event"),
        "event_id": ("Event ID (dedup key)", "Event"),
        "event_time": ("Event time (s)", "Event"),
        "action_source": ("Action source", "Event"),
        "event_source_url": ("Page URL", "Page context"),
        "opt_out": ("Opted out", "Consent"),
        "partner_name": ("Partner name", "Event"),
        "user_data.em": ("Email (hashed)", "User data"),
        "user_data.ph": ("Phone (hashed)", "User data"),
        "user_data.external_id": ("External ID", "User data"),
        "user_data.client_ip_address": ("IP address", "User data"),
        "user_data.client_user_agent": ("User agent", "User data"),
        "user_data.hashed_maids": ("Mobile ad IDs (hashed)", "User data"),
        "custom_data.value": ("Value", "Custom data"),
        "custom_data.currency": ("Currency", "Custom data"),
        "custom_data.content_ids": ("Content IDs", "Custom data"),
        "custom_data.contents": ("Contents", "Custom data"),
        "custom_data.num_items": ("Number of items", "Custom data"),
        "custom_data.order_id": ("Order ID", "Custom data"),
        "custom_data.search_string": ("Search string", "Custom data"),
        **{f"{p}{o}{k}{c}": v for p, keys in _JSON_KEYS.items() for k, v in keys.items()
           for o, c in ((".", ""), ("[", "]"))},
    },
    families={
        "ed": ("Event data", "Event data: "),
        "pd": ("User data", "Partner data: "),
        "ad": ("Page context", "Browser: "),
        "user_data": ("User data", "User data: "),
        "custom_data": ("Custom data", "Custom: "),
        "app_data": ("App", "App: "),
    },
    default_group="Technical",
)

_BRACKETS = re.compile(r"\[([^\]]*)\]")


def _members(value: Any) -> list[Any]:
    """Elements of a JSON list, of a bracket-built `{"0": {…}, "1": {…}}`, or a lone object."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values()) if value and all(isinstance(v, dict) for v in value.values()) else [value]
    return []


standard_event = folded_lookup(STANDARD_EVENTS)


def _bracket_set(target: dict[str, Any], keys: list[str], value: str) -> None:
    """`ed[line_items][0][product_id]=…` (keys: line_items, 0, product_id) into nested dicts."""
    node = target
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[keys[-1]] = value


def _read_tag_params(pairs: list[tuple[str, str]], errors: Errors):
    """Params, plain values, decoded ed/pd/ad objects and user data of one /v3/ hit.

    ed/pd/ad arrive as URL-encoded JSON (`ed={"value":…}`) or as brackets (`ed[value]=…`, the
    noscript form); both land in the same object. Broken JSON keeps its raw string as a param.
    """
    params: list[Param] = []
    plain: dict[str, str] = {}
    objects: dict[str, dict[str, Any]] = {k: {} for k in JSON_PARAMS}
    user: list[UserField] = []
    for name, value in pairs:
        family, bracket, _ = name.partition("[")
        keys = _BRACKETS.findall(name) if bracket and family in JSON_PARAMS else None
        if keys:
            _bracket_set(objects[family], keys, value)
            params.append(LABELS.param(name, value))
            if family == "pd" and len(keys) == 1 and (u := user_field(name, keys[0], value)):
                user.append(u)
        elif name in JSON_PARAMS:
            before = len(errors)
            decoded = parse_json_lenient(value, errors, name) if value else None
            leaves = []
            if isinstance(decoded, dict):
                objects[name].update(decoded)
                leaves = [p for p in flatten(decoded, name) if p[0] != name]
                params += LABELS.params(leaves)
                if name == "pd":
                    user += [u for k, v in decoded.items() if (u := user_field(f"pd.{k}", k, v))]
            elif decoded is not None:
                errors.add(f"{name} is a JSON {type(decoded).__name__}, not an object")
            if len(errors) > before or not leaves:
                params.append(LABELS.param(name, value))
        else:
            plain[name] = value
            params.append(LABELS.param(name, value))
    return params, plain, objects, user


def _tag_content_ids(ed: dict[str, Any], errors: Errors) -> list[str]:
    """Content ids of the tag: content_ids / product_id, else the product ids of line_items[]."""
    ids = ed.get("content_ids", ed.get("product_id"))
    return item_ids(ids, _members(ed.get("line_items")), errors, "product_id")


def decode_tag(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    """A pintrk /v3/ hit: image/fetch GET, or a form POST with the same parameters."""
    errors = Errors()
    pairs = parse_qs_pairs(hit.query, errors)
    form, json_body = body_form_or_json(hit, errors)
    if isinstance(json_body, dict):  # not what pintrk sends, but its keys are the same
        form = [(str(k), compact(v)) for k, v in json_body.items()]
    elif json_body is not None:
        errors.add("body is JSON but not an object")
    params, plain, objects, user = _read_tag_params(pairs + form, errors)
    ed, ad = objects["ed"], objects["ad"]

    name = text_or_none(plain.get("event"))
    tag = text_or_none(plain.get("tid"))
    if not name and plain.get("noscript"):
        # The base code's <noscript> image (`?tid=…&noscript=1`) names no event by design: it is
        # the base code's init, as its script's first hit.
        name = INIT_EVENT
    elif not name:
        errors.add("no event name (event)")
    if not tag:
        errors.add("no tag ID (tid)")
    is_init = (name or "").lower() == INIT_EVENT
    if hit.method == "GET":
        shape = "image" if plain.get("noscript") or "image" in hit.header("accept") else "GET"
    else:
        shape = "beacon" if hit.content_type in ("text/plain", "multipart/form-data") else "POST"
    page, page_params = page_or_referer(text_or_none(ad.get("loc")), hit)
    return [TrackingEvent.decoded(
        platform=PLATFORM,
        kind=Kind.pixel_loaded if is_init else Kind.event,
        pixel_id=tag,
        event=name,
        standard_event=standard_event(name),
        event_id=text_or_none(ed.get("event_id")),
        page_url=page,
        value=text_or_none(ed.get("value")),
        currency=text_or_none(ed.get("currency")),
        content_ids=_tag_content_ids(ed, errors),
        order_id=text_or_none(ed.get("order_id")),
        params=params + page_params,
        user_data=user,
        decode_errors=list(errors),
        endpoint=f"/v3/ {shape}",
    )]


CAPI = ServerBatch(
    platform=PLATFORM,
    events=("data",),
    shape=CAPI_STYLE_EVENT,
    labels=LABELS,
    standard_event=standard_event,
    endpoint="CAPI /v5 events (pixel_id = ad account)",
    test_code=("test",),
)


# The legacy endpoint's body is v5's; the ad account is in each event, not in the path.
CAPI_V3 = replace(CAPI, endpoint="CAPI /events/v3 (legacy; pixel_id = advertiser_id, the ad account)",
                  pixel=(("advertiser_id",),))


def _named_test_code(events: list[TrackingEvent]) -> list[TrackingEvent]:
    for ev in events:
        if ev.test_event_code:
            ev.test_event_code = f"test={ev.test_event_code}"
    return events


def decode_capi(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    """Conversions API: POST /v5/ad_accounts/{id}/events; each data[] element is one event.
    It carries no tag id: the ad account id of the path stands in as pixel_id."""
    account = m.group("account")
    events = decode_server_batch(hit, CAPI, account)
    for ev in events:
        ev.params = (LABELS.param("ad_account_id", account), *ev.params)
    return _named_test_code(events)


def decode_capi_v3(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    """The legacy Conversions API: POST ct.pinterest.com/events/v3, {"data": [...]} with each
    event's ad account in advertiser_id (its pixel_id)."""
    return _named_test_code(decode_server_batch(hit, CAPI_V3, None))


def decode_user_sync(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    """ct.pinterest.com/user/: a cookie sync, not an event. Routed so sink mode answers it."""
    return []


def decode_loader(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    return [TrackingEvent.decoded(platform=PLATFORM, kind=Kind.pixel_loaded, endpoint=hit.path.rsplit("/", 1)[-1],
                          page_url=hit.header("referer") or None)]


# What the Conversions API answers; pinterest-api-sdk requires these fields in its response model.
# The legacy /events/v3 gets the same (RudderStack, its remaining sender, reads only the status).
CAPI_SINK_ANSWER = ('{"num_events_received": 1, "num_events_processed": 1, '
                    '"events": [{"status": "processed", "error_message": "", "warning_message": ""}]}')
ROUTES = [
    Route(PLATFORM, ("ct.pinterest.com",), r"/v3/?", decode_tag),
    Route(PLATFORM, ("ct.pinterest.com",), r"/user/?", decode_user_sync),
    Route(PLATFORM, ("ct.pinterest.com",), r"/events/v3/?", decode_capi_v3, sink_json=CAPI_SINK_ANSWER),
    Route(PLATFORM, ("api.pinterest.com",), r"/v5/ad_accounts/(?P<account>[^/]+)/events/?", decode_capi,
          sink_json=CAPI_SINK_ANSWER),
    Route(PLATFORM, ("s.pinimg.com",), r"/ct/core\.js|/ct/lib/main\.[0-9a-zA-Z]+\.js", decode_loader,
          sink=False),
]
