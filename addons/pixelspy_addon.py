"""pixelspy as a mitmproxy script: `mitmdump -s addons/pixelspy_addon.py` or `mitmproxy -s …`.

Decoded events are logged through mitmproxy's own log (one JSON line each); `--set pixelspy_sink=true`
answers tracking hits locally. Requires `pip install pixelspy` (or `pip install -e .`) in mitmproxy's
Python environment.
"""

import logging

from pixelspy.addon import PixelSpy
from pixelspy.inert import json_dumps
from pixelspy.session import Session

_log = logging.getLogger("pixelspy")


def _log_event(event, is_update):
    _log.info("pixelspy %s", json_dumps(event.json_line()))  # mitmdump prints it: made safe for a terminal


_session = Session()
_session.subscribe(_log_event)
addons = [PixelSpy(_session)]
