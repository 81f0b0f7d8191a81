"""Messages the session and the proxy post to the app: they run in the same loop, and posting keeps
their side of the work tiny; the app handles them in order."""

from __future__ import annotations

from textual.message import Message

from pixelspy.addon import UntrustedCert
from pixelspy.model import TrackingEvent
from pixelspy.session import Mark


class EventPublished(Message):
    def __init__(self, event: TrackingEvent, is_update: bool) -> None:
        self.event = event
        self.is_update = is_update
        super().__init__()


class MarksAdded(Message):
    def __init__(self, marks: list[Mark]) -> None:
        self.marks = marks
        super().__init__()


class ProxyLog(Message):
    def __init__(self, level: int, text: str, untrusted: UntrustedCert | None = None) -> None:
        self.level = level
        self.text = text
        self.untrusted = untrusted  # the addon's notice that a device refused the certificate
        super().__init__()
