"""An ordinary request (no decoder route) as the devices and the checks read it: its URL, time,
client and the few headers they name (Devices.HEADERS, PageViews.HEADERS, a check's
`traffic_headers`), not the whole RawHit. The proxy relays ordinary requests by the hundred a
second and almost none changes anything: reading all their headers into a RawHit, and decoding
them again, was most of what pixelspy added to each.

It answers what the traffic observers read of a RawHit (model.RequestReads, and fields of the same
names): a header it was not given reads as absent, which is why every observer names its headers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pixelspy.model import RequestReads, new_id


@dataclass(slots=True, eq=False)
class RequestHead(RequestReads):
    method: str
    url: str
    url_parts: tuple[str, str, str]  # split_url(url): (host, path, query)
    headers: dict[str, str]  # the named headers' first values, by lower-cased name
    time: float
    client: str
    # The id the request is known by (the --har recorder of all traffic files it under it), from
    # the same counter as a RawHit's: the ids of later hits and events stay what they were.
    id: str = field(default_factory=lambda: new_id("h"))
    device: str = ""  # set by the session (Devices.key)
    navigation = None  # (RawHit's: only files say; the proxy never does)
    response_type = ""

    def header_map(self) -> dict[str, str]:
        return self.headers
