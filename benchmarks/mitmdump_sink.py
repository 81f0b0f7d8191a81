"""mitmdump -s script for the baseline: answers the same tracking hits locally, as pixelspy --sink
does (same route lookup, same response), so the two proxies differ only by pixelspy's decoding,
checks, session and JSON-lines output."""

from pixelspy.addon import raw_hit, sink_response
from pixelspy.decoders import default_registry

registry = default_registry()


def request(flow):
    found = registry.find(flow.request.pretty_host, flow.request.path.split("?", 1)[0])
    if found is not None and flow.response is None and found[0].sinks(raw_hit(flow)):
        flow.response = sink_response(flow)
