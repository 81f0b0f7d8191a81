"""tarteaucitron `tarteaucitron`: the site's services as `!gtag=true!facebookpixel=false!tiktok=wait`."""

from __future__ import annotations

from urllib.parse import unquote

from pixelspy.consent.cmps.common import key_values
from pixelspy.consent.cmps.names import services_reading
from pixelspy.consent.reading import Reading


def parse_tarteaucitron(name: str, value: str, cookies: dict[str, str], entry: dict) -> Reading | None:
    fields = key_values(unquote(value), "!", "=")
    choices = {k: v == "true" for k, v in fields.items() if v in ("true", "false")}  # "wait": no choice
    return services_reading(name, choices, "!".join(f"{k}={v}" for k, v in fields.items()))
