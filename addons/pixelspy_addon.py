"""pixelspy as a mitmproxy script: `mitmdump -s addons/pixelspy_addon.py` or `mitmproxy -s …`.

Decoded events are logged through mitmproxy's own log (one JSON line each); `--set pixelspy_sink=true`
answers tracking hits locally, and then connects to servers only once a request needs one
(`connection_strategy=lazy`, unless you set it), so sinking works offline or with a vendor blocked.
Requires `pip install pixelspy` (or `pip install -e .`) in mitmproxy's Python environment.
"""

import logging

from mitmproxy import ctx

from pixelspy.addon import PixelSpy
from pixelspy.inert import json_dumps
from pixelspy.session import Session

_log = logging.getLogger("pixelspy")


def _log_event(event, is_update):
    _log.info("pixelspy %s", json_dumps(event.json_line()))  # mitmdump prints it: made safe for a terminal


class LazyWhenSinking:
    """mitmproxy connects to the server (eagerly, by default) before any addon sees the request: a
    sunk hit to an unreachable vendor would fail with a 502 before pixelspy could answer it."""

    def __init__(self):
        self._made_lazy = False  # by us: turning the sink off restores mitmproxy's default

    def configure(self, updated) -> None:
        if "pixelspy_sink" not in updated:
            return
        if ctx.options.pixelspy_sink and not ctx.options.has_changed("connection_strategy"):  # (the user's)
            _log.info("pixelspy: sinking, so connection_strategy=lazy (servers are connected to only when needed)")
            ctx.options.update(connection_strategy="lazy")
            self._made_lazy = True
        elif not ctx.options.pixelspy_sink and self._made_lazy:
            ctx.options.update(connection_strategy=ctx.options.default("connection_strategy"))
            self._made_lazy = False


_session = Session()
_session.subscribe(_log_event)
addons = [PixelSpy(_session), LazyWhenSinking()]
