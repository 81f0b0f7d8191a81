"""`pixelspy --no-ui --sink` with its decoding switched off, for `bench_proxy.py --decoding-cost`:
the same proxy (pixelspy's mitmproxy addons, options and loop) answering tracking hits as
mitmdump_sink.py does, with no decoding, checks, session or output. Against it, pixelspy's ratio
is what its own work costs, apart from the proxy around it."""

import sys

import mitmdump_sink  # beside this script

from pixelspy import addon
from pixelspy.cli import main

addon.PixelSpy.request = lambda self, flow: mitmdump_sink.request(flow)
addon.PixelSpy.response = lambda self, flow: None

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
