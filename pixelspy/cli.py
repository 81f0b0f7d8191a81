"""Command line: `pixelspy` (live proxy + TUI, or JSON lines with --no-ui)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time

from pixelspy import __version__
from pixelspy.checks import CheckEngine
from pixelspy.config import ConfigError, load_config
from pixelspy.proxy import Proxy, ProxyConfig, ProxyStartError
from pixelspy.session import Session

TICK_S = 0.5  # how often time-based checks settle pending verdicts


def live_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pixelspy",
        description="Pixel debugging proxy: decodes Meta, TikTok, Pinterest, LinkedIn and X tracking "
                    "hits passing through it and shows them live.",
        epilog="Point a browser or phone at the proxy and open http://mitm.it through it to install "
               "the CA certificate.",
    )
    p.add_argument("--version", action="version", version=f"pixelspy {__version__}")
    p.add_argument("--listen-host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 exposes the proxy to the network)")
    p.add_argument("-p", "--port", type=int, default=8080, help="proxy port (default 8080)")
    p.add_argument("--lan", action="store_true",
                   help="phone mode: listen on all interfaces and show how to connect a phone (use with --auth)")
    p.add_argument("--auth", metavar="USER:PASS", default=None,
                   help="require proxy authentication (recommended with --lan)")
    p.add_argument("--sink", action="store_true",
                   help="answer tracking hits locally and never send them to the vendors (QA/test mode)")
    p.add_argument("--no-ui", action="store_true",
                   help="no TUI: print one JSON line per event on stdout (again, whole, when it changes)")
    p.add_argument("--mode", action="append", default=[], metavar="MODE",
                   help="mitmproxy mode, e.g. reverse:https://graph.facebook.com or upstream:http://proxy:3128 "
                        "(repeatable; default: regular)")
    p.add_argument("--confdir", default=None,
                   help="mitmproxy configuration directory holding the CA (default ~/.mitmproxy)")
    p.add_argument("--ssl-insecure", action="store_true", help="do not verify upstream server certificates")
    p.add_argument("--config", metavar="PATH", default=None,
                   help="pixelspy.toml with expected pixels, rules and consent settings (default ./pixelspy.toml)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = live_parser().parse_args(argv)
    if args.lan and args.listen_host == "127.0.0.1":
        args.listen_host = "0.0.0.0"
    if args.listen_host not in ("127.0.0.1", "localhost", "::1"):
        print(f"pixelspy: warning: listening on {args.listen_host}: the proxy is reachable from the network"
              + ("" if args.auth else "; anyone there can use it — consider --auth USER:PASS"), file=sys.stderr)
    config = ProxyConfig(listen_host=args.listen_host, port=args.port, sink=args.sink, proxyauth=args.auth,
                         confdir=args.confdir, modes=args.mode, ssl_insecure=args.ssl_insecure)
    try:
        session = Session(CheckEngine(load_config(args.config)))
    except ConfigError as e:
        print(f"pixelspy: {e}", file=sys.stderr)
        return 2
    if args.no_ui:
        return asyncio.run(run_headless(session, config))
    from pixelspy.tui.app import PixelSpyApp  # Textual is only imported for the TUI

    app = PixelSpyApp(session, config)
    app.run()
    if app.start_error:
        print(f"pixelspy: could not start the proxy: {app.start_error}", file=sys.stderr)
        return 1
    return 0


def _stderr_log(record: logging.LogRecord) -> None:
    if record.levelno >= logging.WARNING:
        print(f"pixelspy: {record.levelname.lower()}: {record.getMessage()}", file=sys.stderr, flush=True)


async def run_headless(session: Session, config: ProxyConfig) -> int:
    from pixelspy.addon import JsonLines

    session.subscribe(JsonLines(session))
    proxy = Proxy(session, config, on_log=_stderr_log)
    try:
        await proxy.start()
    except ProxyStartError as e:
        print(f"pixelspy: could not start the proxy: {e}", file=sys.stderr)
        return 1
    addrs = ", ".join(f"{a[0]}:{a[1]}" for a in proxy.listen_addrs)
    print(f"pixelspy {__version__} listening on {addrs}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), TICK_S)
        except asyncio.TimeoutError:
            session.tick(time.time())
    await proxy.stop()
    return 0
