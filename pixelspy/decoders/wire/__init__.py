"""Body and query helpers shared by the decoders; `from pixelspy.decoders.wire import X` names them all.

Every helper is total: bad input (broken percent-encoding, invalid UTF-8, truncated gzip, garbage
JSON, huge bodies) comes back as an error string the decoder attaches to its event, never as an
exception. The modules, in the order a hit passes through them:

  text         Errors (one hit's decode errors), bytes → text
  query        query strings and form bodies, multipart forms
  body         content-encoding undone (bounded), a body read as form or JSON, base64-gzip bodies
  json_values  JSON parsed strictly or salvaged, flattened, read by path, values as text
  labels       a vendor's parameter table, user-data keys, secrets masked, loose event-name lookup
  events       page URL or Referer, content ids, server-side event batches (Conversions APIs)

This is not a vendor: the registry (pixelspy/decoders/__init__.py) skips it by name.
"""

from __future__ import annotations

from .body import MAX_DECODE_BYTES, body_form_or_json, decode_content_encoding, hit_body, inflate, maybe_b64_gzip
from .events import (CAPI_STYLE_EVENT, CAPI_STYLE_FAMILIES, CAPI_STYLE_KEYS, REFERER_PARAM, EventShape, ServerBatch,
                     decode_server_batch, item_ids, page_or_referer, shaped_event)
from .json_values import (MAX_FLATTEN_DEPTH, JsonPath, compact, dig, first_present, flatten, is_blank, json_list,
                          parse_json, parse_json_lenient, text_or_none, without_lone_surrogates)
from .labels import UNHASHED_BY_DESIGN, USER_KEYS, Labels, folded_lookup, mask_secret, masked, split_family, user_field
from .query import parse_multipart, parse_qs_pairs, unquote_lossy
from .text import Errors, to_text

__all__ = [
    "CAPI_STYLE_EVENT", "CAPI_STYLE_FAMILIES", "CAPI_STYLE_KEYS", "MAX_DECODE_BYTES", "MAX_FLATTEN_DEPTH",
    "REFERER_PARAM", "UNHASHED_BY_DESIGN", "USER_KEYS", "Errors", "EventShape", "JsonPath", "Labels",
    "ServerBatch", "body_form_or_json", "compact", "decode_content_encoding", "decode_server_batch", "dig",
    "first_present", "flatten", "folded_lookup", "hit_body", "inflate", "is_blank", "item_ids", "json_list",
    "mask_secret", "masked", "maybe_b64_gzip", "page_or_referer", "parse_json", "parse_json_lenient",
    "parse_multipart", "parse_qs_pairs", "shaped_event", "split_family", "text_or_none", "to_text",
    "unquote_lossy", "user_field", "without_lone_surrogates",
]
