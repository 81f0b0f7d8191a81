"""Meta (Facebook) Pixel: /tr hits as fbevents.js sends them, its privacy-sandbox twin, loaders.

Wire facts: ../shared/spec/platforms.md §1 (Omnibug's FacebookPixel provider, real captures).
"""

from __future__ import annotations

import re

from pixelspy.decoders import Route
from pixelspy.decoders.wire import Errors, Labels, body_form_or_json, json_list, parse_qs_pairs, user_field
from pixelspy.model import Kind, RawHit, TrackingEvent

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
    endpoint = f"{'privacy sandbox' if sandbox else '/tr'} {shape}"
    return [TrackingEvent(
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
        params=LABELS.params(pairs),
        user_data=user,
        decode_errors=list(errors),
        endpoint=endpoint,
        # The sandbox trigger repeats id/ev/ts of its /tr hit: the session folds the two together.
        twin_key="|".join((PLATFORM, pixel or "", ev or "", values.get("ts", ""), values.get("eid", ""))),
    )]


def decode_loader(hit: RawHit, m: re.Match[str]) -> list[TrackingEvent]:
    pixel = m.groupdict().get("pixel")
    what = "signals config" if pixel else "fbevents.js"
    return [TrackingEvent(platform=PLATFORM, kind=Kind.pixel_loaded, pixel_id=pixel, endpoint=what,
                          page_url=hit.header("referer") or None)]


FB_HOSTS = ("www.facebook.com", "facebook.com", "web.facebook.com", "m.facebook.com")
ROUTES = [
    Route(PLATFORM, FB_HOSTS, TR_PATH, decode_tr),
    Route(PLATFORM, FB_HOSTS, SANDBOX_PATH, decode_tr),
    Route(PLATFORM, ("connect.facebook.net",), r"/[A-Za-z_]+/fbevents\.js", decode_loader,
          sink=False),
    Route(PLATFORM, ("connect.facebook.net",), r"/signals/config/(?P<pixel>\d+)", decode_loader, sink=False),
]
