"""Command line: `pixelspy` (live proxy + TUI, or JSON lines with --no-ui)."""

from __future__ import annotations

import argparse
import asyncio
import difflib
import logging
import os
import re
import shlex
import signal
import socket
import sys
import time
from pathlib import Path

from pixelspy import __version__
from pixelspy.addon import mitmproxy_untrusted_record
from pixelspy.audit.command import register as register_audit
from pixelspy.checks import CheckEngine
from pixelspy.config import ConfigError, load_config
from pixelspy.inert import inert, json_dumps
from pixelspy.proxy import (CA_BUNDLE_NAME, Proxy, ProxyConfig, ProxyStartError, ca_cert_path, check_mode,
                            write_ca_bundle)
from pixelspy.session import Session

TICK_S = 0.5  # how often time-based checks settle pending verdicts and changed events are printed again
# `check` reads events through its report's tally: its session keeps only a few (and their requests).
CHECK_KEPT_EVENTS = 1_000


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
NO_PROXY = "localhost,127.0.0.1,::1"  # what `pixelspy ca` keeps off the proxy
SUBCOMMANDS = """commands:
  pixelspy open FILE    open a session file, a HAR or a mitmproxy flow file (pixelspy open --help)
  pixelspy sessions     the recent sessions: each live session is a file (pixelspy sessions --help)
  pixelspy check FILE…  check HAR files and report, for CI (pixelspy check --help)
  pixelspy ca           where the CA certificate is; shell lines for backends and SDKs (pixelspy ca --help)
  pixelspy audit URL    audit a site's pixels in a real browser, per consent state (pixelspy audit --help)"""


class Parser(argparse.ArgumentParser):
    """Usage errors in one line (the full usage is pages long): `pixelspy: error: …`, exit 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def port_arg(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return port


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


def main(argv: list[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:  # Ctrl+C while the proxy starts (before its handler is set), or in check: no traceback
        return 130


def run(argv: list[str]) -> int:
    if argv[:1] and argv[0] in FILE_COMMANDS:
        return FILE_COMMANDS[argv[0]](argv[1:])
    if argv[:1] and not argv[0].startswith("-"):  # the live proxy takes no words: a misspelt command
        print(unknown_command(argv[0]), file=sys.stderr)
        return 2
    args = live_parser().parse_args(argv)
    listen_host, modes = listen_plan(args)
    if listen_host not in LOCAL_HOSTS:
        print(f"pixelspy: warning: listening on {listen_host}: the proxy is reachable from the network"
              + ("" if args.auth else "; anyone there can use it — consider --auth USER:PASS"), file=sys.stderr)
    config = ProxyConfig(listen_host=listen_host, port=args.port, sink=args.sink, proxyauth=args.auth,
                         confdir=args.confdir, modes=modes, ssl_insecure=args.ssl_insecure,
                         freeze_heap=True)
    try:
        session = Session(CheckEngine(load_config(args.config)))
    except ConfigError as e:
        print_config_error(e)
        return 2
    if (code := add_har_recorder(args, session, config)) is not None:
        return code
    from pixelspy.store import StoreError

    try:
        writer = session_writer(args, session, config)
    except StoreError as e:
        print(inert(f"pixelspy: {e}"), file=sys.stderr)
        return 2
    try:
        return run_live(args, session, config)
    finally:
        if writer is not None:
            close_session_file(writer, keep_empty=bool(args.session), tell=not args.no_ui)


def close_session_file(writer, keep_empty: bool, tell: bool) -> None:
    """Close the session file and say where it is (the TUI's users saw no start message); a default
    one that got no event is removed."""
    writer.close()
    if not (writer.events_in_file or keep_empty):
        writer.path.unlink(missing_ok=True)
    elif tell:
        print(inert(f"pixelspy: the session is in {writer.path} (pixelspy open {writer.path})"), file=sys.stderr)


def run_live(args: argparse.Namespace, session: Session, config: ProxyConfig) -> int:
    if args.no_ui:
        return asyncio.run(run_headless(session, config))
    from pixelspy.tui.app import PixelSpyApp  # Textual is only imported for the TUI

    app = PixelSpyApp(session, config)
    app.run()
    if app.start_error:
        print(start_failure(app.start_error, config.port), file=sys.stderr)
        return 1
    return 0


def unknown_command(word: str) -> str:
    """`pixelspy chek …`, `pixelspy audit --help` on a version without it: said, not the main help."""
    if Path(word).is_file():
        guess = f"to open a file: pixelspy open {shlex.quote(word)}; "
    elif close := difflib.get_close_matches(word, FILE_COMMANDS, n=1):
        guess = f"did you mean {close[0]}? "
    else:
        guess = ""
    return inert(f"pixelspy: error: unknown command {word!r} ({guess}commands: {', '.join(FILE_COMMANDS)}; "
                 "see pixelspy --help)")


def print_config_error(e: ConfigError) -> None:
    for line in str(e).splitlines():  # one error a line (inert() would show the line breaks as \n)
        print(inert(f"pixelspy: {line}"), file=sys.stderr)


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


async def run_headless(session: Session, config: ProxyConfig) -> int:
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
    recording = inert(f" recording into {session.store.path},") if session.store is not None else ""
    print(f"pixelspy {__version__}{recording} listening on {addrs}", file=sys.stderr, flush=True)
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
    return 0


# ------------------------------------------------ HAR: --har recording, `pixelspy open`, `pixelspy check`


def add_har_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("HAR recording")
    g.add_argument("--har", metavar="FILE",
                   help="record tracking hits to this HAR file, with the decoded events and findings "
                        "(appended every 0.25 s: a crash keeps all but the last half second)")
    g.add_argument("--har-all", action="store_true", help="with --har: record all traffic, not only tracking hits")
    g.add_argument("--no-redact", action="store_true",
                   help="keep cookie values, credentials, access tokens, emails and phone numbers in HAR "
                        "files (default: redacted, for sharing)")


def add_har_recorder(args: argparse.Namespace, session: Session, config: ProxyConfig) -> int | None:
    """Adds the --har recorder to the proxy; an exit code when the file cannot be written."""
    if not args.har:
        if args.har_all:
            print("pixelspy: --har-all needs --har FILE", file=sys.stderr)
            return 2
        return None
    from pixelspy.har import HarRecorder

    recorder = HarRecorder(session, args.har, all_traffic=args.har_all, redact=not args.no_redact)
    try:
        recorder.open()  # an empty HAR now: a wrong path shows at start, not at exit
    except OSError as e:
        print(f"pixelspy: cannot write {args.har}: {e.strerror or e}", file=sys.stderr)
        return 2
    config.addons.append(recorder)
    return None


# ------------------------------------------------ session files: --session, `pixelspy sessions`


def add_session_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("session file")
    g.add_argument("--session", metavar="FILE",
                   help="record the session into FILE, or go on with it (default: a new file in "
                        "~/pixelspy-sessions named by date and time); committed every 0.1 s, so a crash loses "
                        "at most that; pixelspy open FILE reopens it")
    g.add_argument("--no-session", action="store_true", help="keep the session in memory only, no file")


def session_writer(args: argparse.Namespace, session: Session, config: ProxyConfig):
    """The writer recording the session into its file (None with --no-session); StoreError when the
    file cannot be used. A --session file that exists is read into the session first."""
    from pixelspy.proxy import RecordAnswers
    from pixelspy.store import StoreError, new_session_path, reader
    from pixelspy.store.writer import StoreWriter

    if args.no_session:
        if args.session:
            raise StoreError("--session and --no-session contradict each other")
        return None
    path = Path(args.session).expanduser() if args.session else new_session_path()
    if args.session and path.exists() and path.stat().st_size:
        reader.load(path, session)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"{path.parent}: {e.strerror or e}") from None
    writer = StoreWriter(session, path)
    writer.open()
    writer.attach()
    if args.har:  # the answers cost ≈ 0.25 ms a tracking hit: kept when a HAR is asked for
        config.addons.append(RecordAnswers(writer))
    return writer


def sessions_main(argv: list[str]) -> int:
    from pixelspy.store import reader, sessions_dir

    p = Parser(prog="pixelspy sessions",
               description="List the recent sessions (newest first): each live session is a file in "
                           "~/pixelspy-sessions unless --session named another. pixelspy open FILE reopens one.")
    p.add_argument("--dir", metavar="FOLDER", default=None, help="the folder to list (default ~/pixelspy-sessions)")
    p.add_argument("-n", type=int, default=20, metavar="N", help="how many (default 20)")
    args = p.parse_args(argv)
    folder = Path(args.dir).expanduser() if args.dir else sessions_dir()
    found = reader.sessions(folder, args.n)
    if not found:
        print(inert(f"pixelspy: no sessions in {folder}"), file=sys.stderr)
        return 0
    for info in found:
        started = f"{info.started:%Y-%m-%d %H:%M}" if info.started else "-"
        events = f"{info.events:,} events" if info.events is not None else info.note
        print(inert(f"{info.path}  {started}  {events}  {info.size / 2**20:.1f} MB"))
    return 0


def is_session_file(path: str) -> bool:
    """A session file by its name, or an SQLite file by its first bytes (a misnamed session)."""
    if path.endswith(".pixelspy"):
        return True
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def open_session_file(args: argparse.Namespace) -> int:
    """`pixelspy open FILE.pixelspy`: the session as recorded (the checks are not run again)."""
    from pixelspy.store import StoreError, reader

    try:
        session = _file_session(args.config)
    except ConfigError as e:
        print_config_error(e)
        return 2
    if args.no_ui:  # printed as read: a file may hold more events than a session keeps in memory
        session.subscribe(lambda ev, is_update: sys.stdout.write(json_dumps(session.json_line(ev)) + "\n"))
    try:
        loaded = reader.load(args.file, session)
    except StoreError as e:
        print(inert(f"pixelspy: {e}"), file=sys.stderr)
        return 2
    for problem in loaded.problems:
        print(inert(f"pixelspy: {args.file}: {problem}"), file=sys.stderr)
    if not args.no_ui:
        from pixelspy.tui.app import PixelSpyApp

        PixelSpyApp(session, None, title=Path(args.file).name).run()
    return 0


def export_session_file(args: argparse.Namespace) -> int:
    """`pixelspy open FILE.pixelspy --har OUT`: the session as a HAR file (after a crash, say)."""
    from pixelspy.store import StoreError
    from pixelspy.store.export import export_file

    try:
        n = export_file(args.file, args.har, redact=not args.no_redact)
    except StoreError as e:
        print(inert(f"pixelspy: {e}"), file=sys.stderr)
        return 2
    except OSError as e:
        print(inert(f"pixelspy: cannot write {args.har}: {e.strerror or e}"), file=sys.stderr)
        return 2
    print(inert(f"pixelspy: wrote {n:,} entries to {args.har}"), file=sys.stderr)
    return 0


def _file_session(config_path: str | None) -> Session:
    return Session(CheckEngine(load_config(config_path)))


def _stderr_progress(phase: str, done: int, total: int) -> None:
    what = "reading" if phase == "read" else "decoding"
    print(f"\rpixelspy: {what} {100 * done // max(total, 1):3d}%", end="", file=sys.stderr, flush=True)


def open_main(argv: list[str]) -> int:
    p = Parser(
        prog="pixelspy open",
        description="Open a session file (.pixelspy: shown as it was recorded, findings and ids included), or "
                    "a HAR file (saved by pixelspy, Chrome or Firefox DevTools, Charles, Proxyman…) or a "
                    "mitmproxy flow file: every tracking hit is decoded and checked, in time order.")
    p.add_argument("file", help="session file (.pixelspy), HAR (.har, .har.gz, .zhar) or mitmproxy flow file")
    p.add_argument("--config", metavar="PATH", default=None, help="pixelspy.toml (default ./pixelspy.toml)")
    p.add_argument("--no-ui", action="store_true", help="print the events as JSON lines instead of showing them")
    p.add_argument("--har", metavar="OUT", default=None,
                   help="a session file: write it as a HAR file OUT (redacted unless --no-redact) instead")
    p.add_argument("--no-redact", action="store_true", help="with --har: keep cookies, tokens and personal data")
    args = p.parse_args(argv)
    if is_session_file(args.file):
        return export_session_file(args) if args.har else open_session_file(args)
    if args.har:
        p.error("--har converts a session file (.pixelspy); a HAR file opens as it is")
    from pixelspy.har import HarReadError, load_file

    try:
        session = _file_session(args.config)
    except ConfigError as e:
        print_config_error(e)
        return 2
    if not args.no_ui:
        if not Path(args.file).is_file():
            print(f"pixelspy: {args.file}: no such file", file=sys.stderr)
            return 2
        from pixelspy.tui.app import PixelSpyApp

        app = PixelSpyApp(session, None, load=Path(args.file))  # reads it with a progress bar
        app.run()
        return app.return_code or 0  # 2 when the file could not be read, as with --no-ui
    try:
        progress = _stderr_progress if sys.stderr.isatty() else None
        result = load_file(args.file, session, progress=progress)
    except HarReadError as e:
        print(("\n" if progress else "") + inert(f"pixelspy: {args.file}: {e}"), file=sys.stderr)
        return 2
    if progress:
        print(file=sys.stderr)
    for problem in result.problems:
        print(inert(f"pixelspy: {args.file}: {problem}"), file=sys.stderr)
    if note := session.dropped_note():
        print(inert(f"pixelspy: {args.file}: {note}"), file=sys.stderr)
    for ev in session:
        sys.stdout.write(json_dumps(session.json_line(ev)) + "\n")
    return 0


def check_main(argv: list[str]) -> int:
    from pixelspy.report import FAIL_ON, FORMATS

    p = Parser(
        prog="pixelspy check",
        description="Check HAR or mitmproxy flow files (e.g. recorded by end-to-end tests) and print\n"
                    "the findings. Exit 0 when clean, 1 when a finding reaches --fail-on or a file has\n"
                    "no tracking events (see --allow-empty), 2 when an input cannot be read (or on\n"
                    "usage errors).",
        epilog="examples:\n"
               "  pixelspy check visit.har\n"
               "  pixelspy check visit.har --format html -o report.html     # one file to open or forward\n"
               "  pixelspy check recorded/*.har --format junit -o pixel-report.xml --fail-on warning",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", metavar="FILE", help="HAR or mitmproxy flow files")
    p.add_argument("--config", metavar="PATH", default=None,
                   help="pixelspy.toml: tracking plan ([[expect]]), rules, consent (default ./pixelspy.toml)")
    p.add_argument("--format", choices=list(FORMATS), default="text", help="report format (default text)")
    p.add_argument("--fail-on", choices=FAIL_ON, default="error",
                   help="lowest severity that fails the check (default error)")
    p.add_argument("-o", "--output", metavar="PATH", help="write the report to PATH instead of stdout")
    p.add_argument("--allow-empty", action="store_true",
                   help="a file without tracking events passes (by default it fails: nothing was checked)")
    args = p.parse_args(argv)
    from pixelspy.har import HarReadError, load_file
    from pixelspy.report import EventTally, FileReport, exit_code

    try:
        config = load_config(args.config)
    except ConfigError as e:
        print_config_error(e)
        return 2
    reports = []
    for path in args.files:
        # The report takes every event as it passes (EventTally); the session need not keep them.
        session = Session(CheckEngine(config), max_events=CHECK_KEPT_EVENTS)
        tally = EventTally()
        session.subscribe(tally)
        try:
            result = load_file(path, session)
        except HarReadError as e:
            reports.append(FileReport(path, error=str(e)))
            continue
        reports.append(FileReport(path, problems=result.problems, format=result.format, tally=tally,
                                  empty_fails=not args.allow_empty))
    text = FORMATS[args.format](reports, args.fail_on)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            print(f"pixelspy: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
            return 2
    else:
        sys.stdout.write(text)
    return exit_code(reports, args.fail_on)


def ca_main(argv: list[str]) -> int:
    p = Parser(
        prog="pixelspy ca",
        description="Print where pixelspy's CA certificate is (created when missing) and the shell lines that "
                    "make a backend or SDK use the proxy and trust it: eval \"$(pixelspy ca --bundle)\". "
                    "See docs/server-side.md.")
    p.add_argument("--confdir", default=None, help="mitmproxy configuration directory (default ~/.mitmproxy)")
    p.add_argument("-p", "--port", type=port_arg, default=8080, help="proxy port for HTTPS_PROXY (default 8080)")
    p.add_argument("--bundle", action="store_true",
                   help=f"also write {CA_BUNDLE_NAME} (public roots + the CA) next to the CA and point "
                        "REQUESTS_CA_BUNDLE, SSL_CERT_FILE and CURL_CA_BUNDLE at it")
    p.add_argument("--path", action="store_true", help="print only the path (of the bundle with --bundle)")
    args = p.parse_args(argv)
    try:
        ca = ca_cert_path(args.confdir)
        trust = write_ca_bundle(args.confdir) if args.bundle else ca
    except OSError as e:
        print(f"pixelspy: cannot create the CA in {args.confdir or '~/.mitmproxy'}: {e.strerror or e}", file=sys.stderr)
        return 2
    if args.path:
        print(trust)
        return 0
    proxy = f"http://127.0.0.1:{args.port}"
    lines = [f"# pixelspy CA certificate: {ca}",
             *([] if args.bundle else ["# These replace the system roots for hosts that bypass the proxy; "
                                       "--bundle keeps them (public roots + this CA)."]),
             f"export HTTPS_PROXY={proxy}", f"export HTTP_PROXY={proxy}",
             # Local services (a dev database's API, the app's own server) stay direct.
             f"export NO_PROXY={NO_PROXY}", f"export no_proxy={NO_PROXY}",
             *(f"export {name}={shlex.quote(str(trust))}" for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE",
                                                                          "CURL_CA_BUNDLE")),
             f"export NODE_EXTRA_CA_CERTS={shlex.quote(str(ca))}"]  # Node adds it to its own roots
    print("\n".join(lines))
    return 0


FILE_COMMANDS = {"open": open_main, "check": check_main, "ca": ca_main, "sessions": sessions_main}
register_audit(FILE_COMMANDS)
