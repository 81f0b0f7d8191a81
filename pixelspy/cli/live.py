"""The live proxy (`pixelspy` without a subcommand): its options, where it listens, and its run — the TUI,
or JSON lines on stdout with --no-ui (run_headless)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import socket
import sqlite3
import sys
import time

from pixelspy import __version__
from pixelspy.addon import mitmproxy_untrusted_record
from pixelspy.cli.common import Parser, port_arg
from pixelspy.cli.recording import Recording, add_har_options, add_session_options
from pixelspy.inert import inert
from pixelspy.proxy import Proxy, ProxyConfig, ProxyStartError, check_mode
from pixelspy.session import Session


TICK_S = 0.5  # how often time-based checks settle pending verdicts and changed events are printed again
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
SUBCOMMANDS = """commands:
  pixelspy open FILE    open a session file, a HAR or a mitmproxy flow file (pixelspy open --help)
  pixelspy sessions     the recent sessions: each live session is a file (pixelspy sessions --help)
  pixelspy check FILE…  check HAR files and report, for CI (pixelspy check --help)
  pixelspy ca           where the CA certificate is; shell lines for backends and SDKs (pixelspy ca --help)
  pixelspy audit URL    audit a site's pixels in a real browser, per consent state (pixelspy audit --help)"""


def auth_arg(text: str) -> str:
    user, colon, _ = text.partition(":")
    if not (user and colon):
        raise argparse.ArgumentTypeError(f"{text!r} is not USER:PASS")
    return text


def mode_arg(text: str) -> str:
    try:
        return check_mode(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r}: {e} (e.g. regular, upstream:http://HOST:PORT, "
                                         "reverse:https://HOST, socks5, wireguard)") from None


def listen_host_arg(text: str) -> str:
    """An address this machine can listen on (a typo fails here, not after the TUI started)."""
    try:
        infos = socket.getaddrinfo(text or None, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, addr = infos[0]
        with socket.socket(family, kind, proto) as s:
            s.bind(addr)
    except (OSError, UnicodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else "no such address"
        raise argparse.ArgumentTypeError(f"cannot listen on {text!r}: {reason.lower()}") from None
    return text


def live_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="pixelspy",
        description="Pixel debugging proxy: decodes Meta, TikTok, Pinterest, LinkedIn and X tracking\n"
                    "hits (also Google, Snapchat, Reddit) passing through it and shows them live.",
        epilog=SUBCOMMANDS + "\n\nPoint a browser or phone at the proxy and open http://mitm.it through it to "
               "install the CA certificate.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"pixelspy {__version__}")
    p.add_argument("--listen-host", type=listen_host_arg, default=None, metavar="HOST",
                   help="address the proxy listens on (default 127.0.0.1, this machine only; 0.0.0.0 exposes "
                        "it to the network)")
    p.add_argument("-p", "--port", type=port_arg, default=8080, help="proxy port (default 8080)")
    p.add_argument("--lan", action="store_true",
                   help="phone mode: listen on all interfaces and show how to connect a phone (use with --auth)")
    p.add_argument("--auth", type=auth_arg, metavar="USER:PASS", default=None,
                   help="require proxy authentication (recommended with --lan)")
    p.add_argument("--sink", action="store_true",
                   help="answer tracking hits locally and never send them to the vendors (QA/test mode)")
    p.add_argument("--no-ui", action="store_true",
                   help="no TUI: print one JSON line per event on stdout (again, whole, when it changes)")
    p.add_argument("--mode", type=mode_arg, action="append", default=[], metavar="MODE",
                   help="mitmproxy mode, e.g. reverse:https://graph.facebook.com or upstream:http://proxy:3128 "
                        "(repeatable; default: regular). wireguard listens on all interfaces (its peers "
                        "are authenticated by keys); the other modes on --listen-host")
    p.add_argument("--confdir", default=None,
                   help="mitmproxy configuration directory holding the CA (default ~/.mitmproxy)")
    p.add_argument("--ssl-insecure", action="store_true", help="do not verify upstream server certificates")
    p.add_argument("--config", metavar="PATH", default=None,
                   help="pixelspy.toml with expected pixels, rules and consent settings (default ./pixelspy.toml)")
    add_har_options(p)
    add_session_options(p)
    return p


def _split_mode(spec: str) -> tuple[str, str]:
    """(mode[:data], listen part after "@"), split as mitmproxy's mode_specs does."""
    head, _, listen_at = spec.rpartition("@")
    return (head, listen_at) if head else (listen_at, "")


def listen_plan(args: argparse.Namespace) -> tuple[str, list[str]]:
    """(listen host, mode specs). The HTTP proxy (and every mode but WireGuard) listens on this
    machine only, unless --lan or --listen-host says otherwise. WireGuard is for phones, whose
    peers authenticate by key: it listens on all interfaces ("@:PORT", which also makes its client
    configuration name this machine's LAN address), unless --listen-host names one."""
    if args.listen_host is not None:
        return args.listen_host, args.mode
    modes = []
    for spec in args.mode:
        head, listen_at = _split_mode(spec)
        if head.partition(":")[0].lower() == "wireguard" and ":" not in listen_at:
            spec = f"{head}@:{listen_at or args.port}"
        modes.append(spec)
    return ("0.0.0.0" if args.lan else "127.0.0.1"), modes


def run_live(args: argparse.Namespace, session: Session, config: ProxyConfig, recording: Recording) -> int:
    if args.no_ui:
        return asyncio.run(run_headless(session, config, recording))
    from pixelspy.tui.app import PixelSpyApp  # Textual is only imported for the TUI

    app = PixelSpyApp(session, config)
    app.run()
    if app.start_error:
        print(start_failure(app.start_error, config.port), file=sys.stderr)
        return 1
    return 0


# mitmproxy's bind error says the errno and the address twice: "[Errno 98] HTTP(S) proxy failed to listen
# on 127.0.0.1:8080 with [Errno 98] error while attempting to bind on address ('127.0.0.1', 8080): …".
BIND_NOISE = re.compile(r"\[Errno \d+\] |error while attempting to bind on address \([^)]*\): ")


def start_failure(error: str, port: int) -> str:
    """Why the proxy did not start, each reason once, advice in pixelspy's terms (mitmproxy's
    own names its --mode syntax)."""
    reasons = (BIND_NOISE.sub("", r).strip() for r in re.split(r"; |\n", error))
    text = "; ".join(r for r in dict.fromkeys(reasons) if r and not r.startswith("Try specifying a different port"))
    if "address already in use" in text:
        busy = re.search(r"listen on \S*:(\d+)", text)
        busy_port = int(busy[1]) if busy else port
        advice = f"try pixelspy -p {port + 2}" if busy_port == port else "give that --mode another @PORT"
        text += f". Another program uses port {busy_port}: {advice}"
    return f"pixelspy: could not start the proxy: {text}"


def _stderr_log(record: logging.LogRecord) -> None:
    # A refused certificate is told by the addon, once per device and host, not per handshake.
    if record.levelno >= logging.WARNING and not mitmproxy_untrusted_record(record):
        print(f"pixelspy: {record.levelname.lower()}: {inert(record.getMessage())}", file=sys.stderr, flush=True)


def headless_phone_setup(proxy: Proxy, config: ProxyConfig) -> list[str]:
    """What the TUI's `c` shows, for --no-ui: the address a phone types in, the WireGuard client
    configuration (the user's own terminal, as mitmdump prints it)."""
    from pixelspy.network import lan_addresses

    lines = []
    every_interface = config.listen_host in ("0.0.0.0", "::", "")
    host = (lan_addresses() or [None])[0] if every_interface else config.listen_host
    if config.listen_host not in LOCAL_HOSTS and host:
        lines.append(f"pixelspy: phones: set the Wi-Fi proxy to {host} port {config.port}, then open "
                     "http://mitm.it to install the certificate")
    if conf := proxy.wireguard_conf():
        lines += ["pixelspy: WireGuard client configuration (import it into the WireGuard app, then open "
                  "http://mitm.it through the tunnel):", conf.rstrip()]
    return lines


async def run_headless(session: Session, config: ProxyConfig, recording: Recording) -> int:
    from pixelspy.addon import JsonLines

    stop = asyncio.Event()  # set by Ctrl+C, SIGTERM, or the reader of stdout going away
    json_lines = JsonLines(session, on_closed=stop.set)
    session.subscribe(json_lines)
    started = False

    def log_once_started(record: logging.LogRecord) -> None:  # a failed start is told once, below
        if started:
            _stderr_log(record)

    proxy = Proxy(session, config, on_log=log_once_started)
    try:
        await proxy.start()
    except ProxyStartError as e:
        print(start_failure(str(e), config.port), file=sys.stderr)
        return 1
    started = True
    for record in proxy.log_records:  # what the start logged
        _stderr_log(record)
    # A reverse mode listens on TCP and UDP (HTTP/3) at one address: named once.
    addrs = ", ".join(dict.fromkeys(f"{a[0]}:{a[1]}" for a in proxy.listen_addrs))
    # One line (scripts wait for it): the session file first, so the addresses end it.
    into = inert(f" recording into {session.store.path},") if session.store is not None else ""
    print(f"pixelspy {__version__}{into} listening on {addrs}", file=sys.stderr, flush=True)
    for line in headless_phone_setup(proxy, config):
        print(line, file=sys.stderr, flush=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), TICK_S)
        except asyncio.TimeoutError:
            session.tick(time.time())
            await json_lines.flush_between_requests()
    await proxy.stop()
    json_lines.flush()
    if json_lines.closed:  # what is left in stdout's buffer would fail at exit, with a message
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    else:  # stopped by Ctrl+C or SIGTERM (a reader that went away, as `| head -1`, ends quietly)
        summary = closing_summary(session, recording)
        recording.close(tell=False)  # its lines ("wrote N entries to …") come before the summary
        print(summary, file=sys.stderr, flush=True)
    return 0


def closing_summary(session: Session, recording: Recording) -> str:
    """--no-ui's last stderr line: what the session caught (findings settled by now) and where it is kept."""
    counts = settled_findings(session, recording)
    total = len(session) + session.dropped
    parts = [f"{total:,} event{'' if total == 1 else 's'}",
             *(f"{counts.get(name, 0):,} {name}{'' if counts.get(name, 0) == 1 else 's'}"
               for name in ("error", "warning"))]
    text = "pixelspy: stopped: " + ", ".join(parts)
    if session.store is not None and total:
        text += f"; session file {session.store.path} (pixelspy open {session.store.path})"
    if recording.har is not None:
        text += f"; HAR {recording.har.path}"
    return inert(text)


def settled_findings(session: Session, recording: Recording) -> dict[str, int]:
    """Settled findings per severity of every event: from the session file when one records the
    session whole (it has every event's findings as they are now), else as the session counted them."""
    from pixelspy.store import reader

    writer = recording.writer
    if writer is not None and writer.failed is None:
        writer.flush()  # what came since the last commit
        try:
            stored = writer.read(reader.settled_findings)
        except sqlite3.Error:
            stored = None
        if stored is not None and writer.failed is None:
            return stored
    return session.settled_findings()
