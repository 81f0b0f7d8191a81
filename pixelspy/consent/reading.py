"""What one consent signal says: a Reading. Every parser returns one (or None when unreadable)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Reading:
    """What one signal says. purposes: True granted / False denied; a purpose left out is not said."""

    source: str  # cookie name, "gcs", "Sec-GPC", rule name…
    text: str
    purposes: dict[str, bool] = field(default_factory=dict)
    choice: bool = True  # False: the CMP's defaults, the visitor has not chosen yet
    choice_time: float | None = None  # when the visitor chose, per the CMP's own timestamp
    # The CMP stored a choice pixelspy cannot map to marketing/analytics (the site's own group
    # ids or category names): the purposes it does not say are unknown, not "no choice yet".
    unmapped: bool = False


# A cookie parser: (cookie name, raw cookie value, all cookies of the request, its cmps.toml entry)
# → a Reading, or None when the value is unreadable. Parsers never raise on malformed input.
Parser = Callable[[str, str, dict[str, str], dict], "Reading | None"]
