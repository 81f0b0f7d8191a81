"""Building blocks for check tests: events as decoders produce them, and an engine to run them."""

from __future__ import annotations

from urllib.parse import urlencode

from pixelspy import decoders
from pixelspy.checks import CheckEngine
from pixelspy.config import Config
from pixelspy.devices import Devices
from pixelspy.model import Kind, Param, RawHit, Source, TrackingEvent

PIXEL = "1234567890123456"
T0 = 1_700_000_000.0


def event(platform: str = "meta", *, params: dict[str, str] | None = None, **kw) -> TrackingEvent:
    kw.setdefault("pixel_id", PIXEL if platform == "meta" else None)
    kw.setdefault("time", T0)
    kw.setdefault("client", "10.0.0.2")
    kw.setdefault("device", kw["client"])  # as Devices.key names a client without a User-Agent
    if "event" in kw and "standard_event" not in kw and platform == "meta":
        from pixelspy.decoders.meta import STANDARD_EVENTS
        kw["standard_event"] = kw["event"] if kw["event"] in STANDARD_EVENTS else None
    return TrackingEvent(platform=platform, params=[Param(name=k, value=v) for k, v in (params or {}).items()],
                         **kw)


def server(platform: str = "meta", **kw) -> TrackingEvent:
    kw.setdefault("client", "192.0.2.10")  # the shop's backend, not the device
    return event(platform, source=Source.server, **kw)


def loaded(platform: str = "meta", **kw) -> TrackingEvent:
    return event(platform, kind=Kind.pixel_loaded, **kw)


def seen(hit: RawHit) -> RawHit:
    """The hit with its device set, as the session sets it (Devices.key)."""
    hit.set_device(Devices().key(hit))
    return hit


def meta_hit(time: float = T0, client: str = "10.0.0.2", method: str = "GET", **params: str | None) -> TrackingEvent:
    """A Meta /tr hit shaped as fbevents.js sends it, through the real decoder."""
    params.setdefault("id", PIXEL)
    params.setdefault("fbp", "fb.1.1700000000000.1234567890")  # fbevents sends the _fbp cookie's ID
    params = {k: v for k, v in params.items() if v is not None}  # fbp=None: a hit without it
    qs = urlencode(params)
    if method == "GET":
        hit = RawHit(method="GET", url=f"https://www.facebook.com/tr/?{qs}", time=time, client=client)
    else:
        hit = RawHit(method="POST", url="https://www.facebook.com/tr/", body=qs.encode(), time=time, client=client,
                     headers=[("content-type", "application/x-www-form-urlencoded")])
    [ev] = decoders.decode(seen(hit))
    ev.device = hit.device
    return ev


def engine(**checks_config) -> CheckEngine:
    return CheckEngine(Config.model_validate({"checks": checks_config}))


def codes(ev: TrackingEvent) -> set[str]:
    return {f.code for f in ev.findings}


def the(ev: TrackingEvent, code: str):
    [f] = [f for f in ev.findings if f.code == code]
    return f
