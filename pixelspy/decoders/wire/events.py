"""Building events: the page URL or the Referer, content ids, and server-side event batches.

Conversions APIs (Meta, Snapchat v3, Pinterest…) post a JSON list of event objects; each vendor
keeps the same few facts at its own paths. An EventShape says where; shaped_event reads one
object; decode_server_batch turns a whole request into one TrackingEvent per element.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pixelspy.model import Param, RawHit, Source, TrackingEvent

from .body import body_form_or_json
from .json_values import JsonPath, compact, dig, first_present, flatten, json_list, parse_json, text_or_none
from .labels import Labels, masked, user_field
from .query import parse_qs_pairs
from .text import Errors

# The param that says an event's page URL is its hit's Referer header: often the origin only (the
# browsers' default policy for requests to other sites), so the detail pane names the source.
REFERER_PARAM = Param("Referer", "", "Page URL (from the Referer header, often the origin only)", "Page context")


def page_or_referer(page: str | None, hit: RawHit) -> tuple[str | None, list[Param]]:
    """The page URL the payload names, else the hit's Referer with a REFERER_PARAM marking it."""
    if page or not (referer := hit.header("referer")):
        return page or None, []
    return referer, [REFERER_PARAM._replace(value=referer)]


def item_ids(ids: Any, items: Any, errors: Errors, key: str = "id") -> list[str]:
    """Content ids: from an ids field (a list, a JSON-array string or one value), else from a
    list of item objects (or a JSON string of one) carrying the id under `key`."""
    if isinstance(ids, str):
        ids = json_list(ids, errors, "content ids")
    if isinstance(ids, list):
        return [compact(i) for i in ids if i not in (None, "")]
    if ids not in (None, ""):
        return [compact(ids)]
    if isinstance(items, str):
        items = json_list(items, errors, "contents")
    if isinstance(items, list):
        return [compact(it[key]) for it in items if isinstance(it, dict) and it.get(key) not in (None, "")]
    return []


@dataclass(frozen=True)
class EventShape:
    """Where one API keeps the normalised fields inside an event object (dig paths; first present
    wins). `user` is the path of the object holding user-data keys (() = the event itself, None =
    no user data); `user_keys` maps vendor spellings that USER_KEYS does not know."""

    event: tuple[JsonPath, ...]
    event_id: tuple[JsonPath, ...] = ()
    page_url: tuple[JsonPath, ...] = ()
    value: tuple[JsonPath, ...] = ()
    currency: tuple[JsonPath, ...] = ()
    content_ids: tuple[JsonPath, ...] = ()
    contents: tuple[JsonPath, ...] = ()
    content_key: str = "id"
    order_id: tuple[JsonPath, ...] = ()
    user: JsonPath | None = None
    user_keys: Mapping[str, str] = field(default_factory=dict)
    user_prefix: str = field(init=False, repr=False, compare=False)  # of user-data param names: "user_data."

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_prefix", "".join(f"{key}." for key in self.user or ()))


# The event object Meta's Conversions API defined and Pinterest's and Snapchat's v3 APIs copied.
CAPI_STYLE_EVENT = EventShape(
    event=(("event_name",),),
    event_id=(("event_id",),),
    page_url=(("event_source_url",),),
    value=(("custom_data", "value"),),
    currency=(("custom_data", "currency"),),
    content_ids=(("custom_data", "content_ids"),),
    contents=(("custom_data", "contents"),),
    order_id=(("custom_data", "order_id"),),
    user=("user_data",),
)

# Labels of the fields that event object shares across those APIs; vendors add their own.
CAPI_STYLE_KEYS = {
    "event_name": ("Event name", "Event"),
    "event_time": ("Event time (s)", "Event"),
    "event_id": ("Event ID (dedup key)", "Event"),
    "action_source": ("Action source", "Event"),
    "event_source_url": ("Page URL", "Page context"),
    "data_processing_options": ("Data processing options", "Consent"),
    "access_token": ("Access token (masked)", "Technical"),
    "custom_data.value": ("Value", "Custom data"),
    "custom_data.currency": ("Currency", "Custom data"),
    "custom_data.content_ids": ("Content IDs", "Custom data"),
    "custom_data.contents": ("Contents", "Custom data"),
    "custom_data.order_id": ("Order ID", "Custom data"),
    "custom_data.num_items": ("Number of items", "Custom data"),
    "user_data.em": ("Email (hashed)", "User data"),
    "user_data.ph": ("Phone (hashed)", "User data"),
    "user_data.client_ip_address": ("Client IP address", "User data"),
    "user_data.client_user_agent": ("Client user agent", "User data"),
}
CAPI_STYLE_FAMILIES = {"custom_data": ("Custom data", "Custom: "), "user_data": ("User data", "User data: "),
                       "app_data": ("App data", "App data: ")}


def shaped_event(item: Any, shape: EventShape, labels: Labels, prefix: str = "") -> dict[str, Any]:
    """TrackingEvent fields of one event object; the caller adds platform, source, pixel id,
    standard event, and the request's shared params and errors. Params are named by their dotted
    path, under `prefix` when the list sits in a named field (`custom_events._eventName`)."""
    errors = Errors()
    if not isinstance(item, dict):
        errors.add(f"event is not a JSON object but {compact(item)[:40]!r}")
        item = {}
    event = text_or_none(first_present(item, shape.event))
    if event is None:
        errors.add(f"no event name ({'.'.join(map(str, shape.event[0]))})")
    user = []
    if shape.user is not None and isinstance(user_obj := dig(item, *shape.user), dict):
        user_prefix, aliases = shape.user_prefix, shape.user_keys
        for k, v in user_obj.items():
            if uf := user_field(f"{user_prefix}{k}", aliases.get(k, k), v):
                user.append(uf)
    return {
        "event": event,
        "event_id": text_or_none(first_present(item, shape.event_id)),
        "page_url": text_or_none(first_present(item, shape.page_url)),
        "value": text_or_none(first_present(item, shape.value)),
        "currency": text_or_none(first_present(item, shape.currency)),
        "content_ids": item_ids(first_present(item, shape.content_ids), first_present(item, shape.contents),
                                errors, shape.content_key),
        "order_id": text_or_none(first_present(item, shape.order_id)),
        "params": labels.params(flatten(item, prefix)) if item else [],
        "user_data": user,
        "decode_errors": list(errors),
    }


@dataclass(frozen=True)
class ServerBatch:
    """One server-side API: where its event list is, how an event reads, how names map."""

    platform: str
    events: JsonPath  # path of the event list in the body; () = the body is the list (or one event)
    shape: EventShape
    labels: Labels
    standard_event: Callable[[str], str | None]  # wire event name → canonical name
    endpoint: str
    test_code: tuple[str, ...] = ()  # shared (query/body) params naming a test run
    secrets: frozenset[str] = frozenset({"access_token"})
    pixel: tuple[JsonPath, ...] = ()  # per-event pixel id paths, when the URL has none


_FALSE = ("", "0", "false", "False")


def decode_server_batch(hit: RawHit, batch: ServerBatch, pixel_id: str | None) -> list[TrackingEvent]:
    """One TrackingEvent per element of the request's event list (a JSON body, or a form whose
    field named like the list holds the JSON). Query and other top-level fields are shared params."""
    errors = Errors()
    shared = parse_qs_pairs(hit.query, errors)
    form, body = body_form_or_json(hit, errors)
    list_name = ".".join(map(str, batch.events))
    if form:
        fields = dict(form)
        if body is None and len(batch.events) == 1 and list_name in fields:
            body = {list_name: parse_json(fields[list_name], errors, f"form field {list_name}")}
        shared += [(k, v) for k, v in form if k != list_name]
    if isinstance(body, dict) and batch.events:  # top-level fields beside the list
        shared += [(k, v) for k, v in flatten(body) if k != list_name]
    shared = masked(shared, batch.secrets)
    values = dict(shared)
    test_code = next((compact(values[n]) for n in batch.test_code if compact(values.get(n)) not in _FALSE), None)

    items = ([body] if isinstance(body, dict) else body) if not batch.events else dig(body, *batch.events)
    common = dict(platform=batch.platform, source=Source.server, test_event_code=test_code, endpoint=batch.endpoint)
    if not isinstance(items, list) or not items:
        errors.add(f"no events ({list_name or 'body'} is not a non-empty list)")
        return [TrackingEvent.decoded(pixel_id=pixel_id, params=batch.labels.params(shared), decode_errors=list(errors),
                              **common)]  # still one event: the hit carries its errors
    shared_params = batch.labels.params(shared)
    events = []
    for item in items:
        item_errors = Errors(errors)
        # facebook-business sends each event of `data` as a JSON string of its own: ["{\"event_name\": …}"].
        if isinstance(item, str) and item.lstrip().startswith("{"):
            parsed = parse_json(item, item_errors, "event")
            item = item if parsed is None else parsed
        fields = shaped_event(item, batch.shape, batch.labels)
        event = fields.pop("event")
        fields["params"] = shared_params + fields["params"]
        fields["decode_errors"] = list(item_errors) + fields["decode_errors"]
        events.append(TrackingEvent.decoded(
            event=event, standard_event=batch.standard_event(event) if event else None,
            pixel_id=pixel_id or text_or_none(first_present(item, batch.pixel)), **fields, **common))
    return events
