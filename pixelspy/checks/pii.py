"""Personal data: plain email addresses and phone numbers where they must not be, and broken hashes.

Codes: pii-leak (error), invalid-hash (warning), unnormalised-hash (warning).
- pii-leak: a user-data field the vendor requires hashed (rules.toml `hashed_keys`) sent plain;
  an email address anywhere in the page URL or parameters; a phone number in a phone-named
  parameter. Not in text of the page a vendor's library scanned (rules.toml `page_text_params`:
  Meta's form and button features hold placeholders and labels, not the visitor's data).
- invalid-hash: such a field holds something hash-like that is not SHA-256 hex (MD5, SHA-1,
  base64, truncated).
- unnormalised-hash: the plain value is visible too and the hash is of it untrimmed or not
  lowercased (email) / not digits-only (phone), so it will not match.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from functools import lru_cache
from itertools import chain
from urllib.parse import parse_qsl, unquote

from pixelspy.checks.rules import KIND_EVENT, KIND_PIXEL_LOADED, finding, params, platform, values_text, vendor
from pixelspy.config import Config
from pixelspy.model import Severity, TrackingEvent, looks_hashed, split_url

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.([A-Za-z]{2,24})\b")
# "logo@2x.png" is a retina image name, not an address.
NOT_A_TLD = frozenset({"png", "jpg", "jpeg", "gif", "webp", "svg", "avif", "js", "css", "html", "map"})
HASH_LIKE = re.compile(r"^(?:[0-9a-fA-F]{16,}|[A-Za-z0-9+/_-]{20,}={0,2})$")
PHONE_CHARS = re.compile(r"^\+?[\d\s().\-/]{7,20}$")
PHONE_WORDS = frozenset({"phone", "tel", "telephone", "mobile", "cell", "phonenumber", "msisdn", "ph"})


def emails_in(text: str) -> list[str]:
    if "@" not in text:
        if "%40" not in text:
            return []
        text = unquote(text)
    return [m.group(0) for m in EMAIL.finditer(text) if m.group(1).lower() not in NOT_A_TLD]


def is_phone(value: str) -> bool:
    v = value.strip()
    return bool(PHONE_CHARS.match(v)) and 7 <= sum(c.isdigit() for c in v) <= 15


@lru_cache(maxsize=8192)
def phone_named(name: str) -> bool:
    return any(w in PHONE_WORDS for w in re.split(r"[^a-z]+", name.lower()))


@lru_cache(maxsize=1024)  # the hits of one tag carry the same parameter names
def phone_named_among(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(n for n in names if phone_named(n))


# A phone-like name's word between non-letters, anywhere in a lower-cased query. A query without
# escapes holds its names as parse_qsl reads them ('+' aside, a non-letter either way), so one that
# this finds nothing in has no phone-like name: the common case, parsed no further.
_PHONE_WORD = re.compile(r"(?<![a-z])(?:%s)(?![a-z])" % "|".join(sorted(PHONE_WORDS)))
# The phone words no other contains: text holding none of them holds no phone word ("ph" is in "phone").
_PHONE_CORES = tuple(sorted(w for w in PHONE_WORDS if not any(o != w and o in w for o in PHONE_WORDS)))


@lru_cache(maxsize=1024)  # pages repeat: every hit of a page carries its URL
def phone_query_texts(page_url: str) -> tuple[tuple[str, str], ...]:
    """The page URL's query values under phone-like names, as (where, value)."""
    if "?" not in page_url:
        return ()
    if page_url.isascii() and not ("%" in page_url or "\t" in page_url or "\r" in page_url or "\n" in page_url):
        # Every page of a session is a new key: a URL without a phone word anywhere (most) is not
        # split. (Its query is part of it: split_url drops tabs and newlines, so those go the long way.)
        low = page_url.lower()
        for word in _PHONE_CORES:
            if word in low:
                break
        else:
            return ()
    # split_url, not urlsplit: urlsplit's own cache kept a SplitResult (tracked) per new page URL
    query = split_url(page_url)[2]
    if "%" not in query and not _PHONE_WORD.search(query.lower()):
        return ()
    return tuple((f"page URL ?{k}", v) for k, v in parse_qsl(query, keep_blank_values=False, errors="replace")
                 if phone_named(k))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalise(key: str, plain: str) -> str:
    if key == "ph":
        return re.sub(r"\D", "", plain)
    return plain.strip().lower()


class PiiCheck:
    kinds = (KIND_EVENT, KIND_PIXEL_LOADED)  # a tag's init carries user data too (Pinterest em)

    def process(self, event: TrackingEvent, ctx) -> None:
        leaks: dict[str, None] = {}  # wire names, in order
        bad_hashes: dict[str, None] = {}
        plain: dict[str, set[str]] = {"em": set(), "ph": set()}
        user_names = set()
        for u in event.user_data:
            user_names.add(u.name)
            if u.hashed:
                continue
            parts = [p for p in u.value.split(",") if p]
            if u.key in plain:
                plain[u.key].update(p for p in parts if not looks_hashed(p))
            if u.key in platform(event.platform).hashed_keys:
                for part in parts:
                    if looks_hashed(part):
                        continue
                    if HASH_LIKE.match(part) and not emails_in(part):
                        bad_hashes[u.name] = None
                    else:
                        leaks[u.name] = None
            elif u.key == "em" and emails_in(u.value):
                leaks[u.name] = None
        page_text = platform(event.platform).page_text_params
        # A loader's page URL and other params are its events' too: judged there, once.
        texts = self._texts(event) if event.kind == KIND_EVENT else ()
        for name, value in texts:
            if name in user_names or name in page_text:
                continue
            if ("@" in value or "%40" in value) and (found := emails_in(value)):
                leaks[name] = None
                plain["em"].update(found)
            elif phone_named(name) and is_phone(value):
                leaks[name] = None
                plain["ph"].add(value)
        if leaks:
            names = ", ".join(list(leaks)[:4]) + (" …" if len(leaks) > 4 else "")
            ctx.emit(event, finding(
                "pii-leak", Severity.error, f"{vendor(event)} hit carries unhashed personal data in {names}",
                f"Never send email addresses or phone numbers in clear: remove them from URLs and custom "
                f"parameters; put them only in {platform(event.platform).name}'s user-data fields, SHA-256 "
                f"hashed (trimmed, lowercase; phones as digits with country code)."))
        if bad_hashes:
            ctx.emit(event, finding(
                "invalid-hash", Severity.warning,
                f"{vendor(event)} {', '.join(bad_hashes)} is not a SHA-256 hex hash",
                "Hash with SHA-256 and send the 64-character lowercase hex digest (not MD5/SHA-1, not "
                "base64)."))
        if plain["em"] or plain["ph"]:
            self._normalisation(event, plain, ctx)

    @staticmethod
    def _texts(event: TrackingEvent) -> Iterable[tuple[str, str]]:
        """Every place a stray address or number shows: the page URL (and its query), the params.
        Of the params only those that may hold one: all when some value has an '@', else the
        phone-named ones."""
        ps = params(event)
        text = values_text(event)
        if "@" in text or "%40" in text:
            texts: Iterable[tuple[str, str]] = ps.items()
        else:
            texts = [(name, ps[name]) for name in phone_named_among(tuple(ps))]
        page = event.page_url
        if not page:
            return texts
        page_texts = phone_query_texts(page)
        # A parameter may carry the page URL (Meta's dl): then it is scanned as that parameter.
        carried = ps.values() if len(ps) == len(event.params) else [p.value for p in event.params]
        if page not in carried:
            page_texts = (("page URL", page), *page_texts)
        return chain(page_texts, texts)

    def _normalisation(self, event: TrackingEvent, plain: dict[str, set[str]], ctx) -> None:
        """Hashes whose plain value is visible: a hash of the raw, not normalised, value will not match."""
        wrong = []
        for u in event.user_data:
            if not u.hashed or u.key not in plain:
                continue
            hashes = {h.strip().lower() for h in u.value.split(",")}
            for raw in plain[u.key]:
                good = sha256(normalise(u.key, raw))
                if good in hashes:
                    continue
                variants = {raw, raw.strip(), raw.strip().lower(), raw.replace(" ", ""),
                            "+" + normalise(u.key, raw)} - {normalise(u.key, raw)}
                if any(sha256(v) in hashes for v in variants):
                    wrong.append(u.name)
                    break
        if wrong:
            ctx.emit(event, finding(
                "unnormalised-hash", Severity.warning,
                f"{vendor(event)} {', '.join(wrong)} is a hash of the value before normalising",
                "Trim and lowercase emails, and reduce phones to digits with country code, before hashing; "
                "otherwise the hash matches no user."))


def make_checks(config: Config) -> list:
    return [PiiCheck()]
