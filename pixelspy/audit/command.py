"""`pixelspy audit`: the command line. Nothing heavy is imported until an audit runs (pixelspy.cli
imports this module to register the command)."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from pixelspy.audit.cmp import STATES

DEFAULT_PAGES = 5  # with a start URL: it and up to 4 same-site pages linked from it
FORMAT_NAMES = ("html", "text", "json", "junit")
EXTENSIONS = {"html": "html", "text": "txt", "json": "json", "junit": "xml"}
DESCRIPTION = (
    "Audit a site's pixels: a real Chrome/Chromium visits the pages through pixelspy once per consent state "
    "(none: banner left alone; reject; accept: clicked with DuckDuckGo's autoconsent rules) and device, and "
    "every tracking hit is decoded and checked. Exit 0 when clean, 1 when a finding reaches --fail-on, "
    "2 when a page could not be loaded, no browser was found, or on usage errors.")


def _shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count) <= 1000):
        raise argparse.ArgumentTypeError(f"{text!r} is not a shard I/N (1 <= I <= N <= 1000)")
    return int(index), int(count)


def register(commands: dict) -> None:
    """Adds `audit` to pixelspy's subcommands (pixelspy.cli.FILE_COMMANDS)."""
    commands["audit"] = main


def _list_of(choices: tuple[str, ...] | None):
    def parse(text: str) -> list[str]:
        items = [i.strip() for i in text.split(",") if i.strip()]
        if not items:
            raise argparse.ArgumentTypeError("empty list")
        if choices and (bad := [i for i in items if i not in choices]):
            raise argparse.ArgumentTypeError(f"{', '.join(bad)}: not one of {', '.join(choices)}")
        return list(dict.fromkeys(items))
    return parse


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of pages (1 or more)")
    return int(text)


def parser() -> argparse.ArgumentParser:
    from pixelspy.cli.common import Parser, number_arg
    from pixelspy.report import FAIL_ON

    seconds = number_arg(float, 0, 60, "a delay in seconds (0-60)")

    p = Parser(prog="pixelspy audit", description=DESCRIPTION)
    p.add_argument("url", nargs="?", help="start page (same-site links found on it are visited, see --pages)")
    p.add_argument("--urls", metavar="FILE", help="visit these URLs (one a line) instead of crawling")
    p.add_argument("--shard", type=_shard, metavar="I/N",
                   help="with --urls: audit only shard I of N of the list (split by a stable hash of each URL; "
                        "a CI matrix job each, then `pixelspy audit merge`)")
    p.add_argument("--pages", type=_positive, metavar="N",
                   help=f"visit up to N pages, following same-site links breadth first (default {DEFAULT_PAGES} "
                        "from a start URL; with --urls, the listed ones only)")
    p.add_argument("--steps", metavar="FILE",
                   help="a funnel to run after the pages, one action a line: navigate URL, click SELECTOR, "
                        "wait SECONDS|SELECTOR")
    p.add_argument("--consent", type=_list_of(STATES), default=list(STATES), metavar="STATES",
                   help="consent states to audit, comma-separated (default none,reject,accept)")
    p.add_argument("--device", type=_list_of(None), default=["desktop"], metavar="DEVICES",
                   help='devices, comma-separated: desktop or Playwright device names ("iPhone 13", "Pixel 7"); '
                        "default desktop")
    p.add_argument("--out", metavar="DIR", help="write one HAR per state and device and the report to DIR")
    p.add_argument("--format", choices=FORMAT_NAMES, default="text", help="report format (default text)")
    p.add_argument("--fail-on", choices=FAIL_ON, default="error",
                   help="lowest severity that fails the audit (default error)")
    p.add_argument("--browser", metavar="PATH",
                   help="Chrome or Chromium to drive (default: chromium or google-chrome on PATH, then Google "
                        "Chrome, then Playwright's own)")
    p.add_argument("--no-sink", action="store_true",
                   help="let the tracking hits reach the vendors (default: answered locally, so an audit never "
                        "pollutes the site's ad data)")
    p.add_argument("--no-redact", action="store_true", help="keep cookie values, tokens, emails in the HARs")
    p.add_argument("--delay", type=seconds, default=1.0, metavar="SECONDS",
                   help="pause between two page loads (default 1)")
    p.add_argument("--dwell", type=seconds, default=1.0, metavar="SECONDS",
                   help="how long to stay on a page once its requests calmed down, for tags fired by timers "
                        "(default 1)")
    p.add_argument("--config", metavar="PATH", help="pixelspy.toml (default ./pixelspy.toml)")
    return p


def main(argv: list[str]) -> int:
    if argv[:1] == ["merge"]:
        return merge_main(argv[1:])
    args = parser().parse_args(argv)
    if not (args.url or args.urls or args.steps):
        parser().error("give a start URL, --urls FILE or --steps FILE")
    if args.shard and not args.urls:
        parser().error("--shard splits a --urls FILE")
    try:
        import duckduckgo_autoconsent  # noqa: F401
        import playwright.async_api  # noqa: F401
    except ImportError:
        from pixelspy.audit.browser import NO_PLAYWRIGHT

        print(NO_PLAYWRIGHT, file=sys.stderr)
        return 2
    plan = _plan(args)
    if isinstance(plan, int):
        return plan
    return _run(plan, args)


def _plan(args):
    """The AuditPlan, or an exit code after saying what is wrong."""
    from pixelspy.audit.pages import InputError, normal_url, read_steps, read_urls, shard
    from pixelspy.audit.runner import AuditPlan
    from pixelspy.cli import print_config_error
    from pixelspy.config import ConfigError, load_config
    from pixelspy.inert import inert

    try:
        config = load_config(args.config)
    except ConfigError as e:
        print_config_error(e)
        return 2
    try:
        starts = read_urls(args.urls) if args.urls else []
        if args.shard:
            starts = shard(starts, *args.shard)
        if args.url:
            if (start := normal_url(args.url)) is None:
                raise InputError(f"{args.url}: not an http(s) URL")
            starts.insert(0, start)
        steps = read_steps(args.steps, starts[0] if starts else None) if args.steps else []
        out = _out_dir(args.out)
    except InputError as e:
        print(inert(f"pixelspy audit: {e}"), file=sys.stderr)
        return 2
    page_limit = args.pages or (len(starts) if args.urls else DEFAULT_PAGES)
    if not starts and not steps:  # an empty shard: an empty report, so that the merge job finds its file
        return _write_report([], args, out)
    return AuditPlan(starts=starts, page_limit=page_limit, states=args.consent, devices=args.device,
                     config=config, steps=steps, out=out, sink=not args.no_sink, redact=not args.no_redact,
                     browser=args.browser, delay_s=args.delay, dwell_s=args.dwell, progress=ProgressLine(sys.stderr))


class ProgressLine:
    """The audit's progress on stderr: on a terminal one line redrawn in place (a bar, the share done,
    what is being done; `\r` and inert text, no escape sequence), else a line each (CI logs)."""

    BAR = 20

    def __init__(self, stream) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.drawn = False

    def __call__(self, line: str, done: float) -> None:
        from pixelspy.inert import inert

        text = inert(f"pixelspy audit: {line}")
        if not self.tty:
            print(text, file=self.stream, flush=True)
            return
        filled = round(max(0.0, min(done, 1.0)) * self.BAR)
        width = max(20, shutil.get_terminal_size().columns - 1)
        bar = f"[{'#' * filled}{'.' * (self.BAR - filled)}] {done:4.0%} "
        self.stream.write("\r" + (bar + text)[:width].ljust(width))  # padded: the longer last line is covered
        self.stream.flush()
        self.drawn = True

    def end(self) -> None:
        """Before anything else is written: the bar's line is ended."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


async def _until_interrupted(coro, interrupted: list[int]):
    """Runs `coro`; Ctrl+C or SIGTERM cancels it, so that its cleanup runs (browser, proxies, ports)."""
    import asyncio
    import signal

    task = asyncio.current_task()

    loop = asyncio.get_running_loop()
    report = loop.get_exception_handler() or (lambda lp, context: lp.default_exception_handler(context))

    def after_interrupt(lp, context: dict) -> None:
        # Once interrupted, Playwright's futures fail as its driver goes ("Connection closed while
        # reading from the driver"): not worth a traceback each.
        if not interrupted:
            report(lp, context)

    def stop(signum: int) -> None:
        interrupted.append(signum)
        task.cancel()

    loop.set_exception_handler(after_interrupt)
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    return await coro


def _run(plan, args) -> int:
    import asyncio

    from pixelspy.audit.browser import AuditError
    from pixelspy.audit.runner import audit
    interrupted: list[int] = []
    try:
        try:
            runs = asyncio.run(_until_interrupted(audit(plan), interrupted))
        finally:
            plan.progress.end()
    except AuditError as e:
        print(str(e), file=sys.stderr)
        return 2
    except BaseException:
        if not interrupted:
            raise
        # Ctrl+C also reached the browser and Playwright's driver (one process group): whatever failed
        # while they went away, the proxies and their ports are closed by now.
        print("pixelspy audit: interrupted", file=sys.stderr)
        return 130
    return _write_report(runs, args, plan.out)


def _write_report(runs, args, out: Path | None) -> int:
    """The report in args.format to out/report.EXT (out/report-I-of-N.EXT for a shard) or stdout;
    the exit code."""
    from pixelspy.report import audit_exit_code, render_audit

    text = render_audit(runs, args.format, args.fail_on)
    if out is not None:
        shard = getattr(args, "shard", None)
        stem = f"report-{shard[0]}-of-{shard[1]}" if shard else "report"
        report = out / f"{stem}.{EXTENSIONS[args.format]}"
        try:
            report.write_text(text, encoding="utf-8")
        except OSError as e:
            print(f"pixelspy audit: cannot write {report}: {e.strerror or e}", file=sys.stderr)
            return 2
        print(f"pixelspy audit: report written to {report}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return audit_exit_code(runs, args.fail_on)


def merge_parser() -> argparse.ArgumentParser:
    from pixelspy.cli import Parser
    from pixelspy.report import FAIL_ON

    p = Parser(prog="pixelspy audit merge",
               description="One report from the JSON reports of several audits (the shards of a CI matrix: "
                           "`pixelspy audit --shard I/N --format json --out DIR`). Exit codes as `pixelspy audit`.")
    p.add_argument("files", nargs="+", metavar="FILE", help="audit reports written with --format json")
    p.add_argument("--out", metavar="DIR", help="write the report to DIR/report.EXT (default: standard output)")
    p.add_argument("--format", choices=FORMAT_NAMES, default="text", help="report format (default text)")
    p.add_argument("--fail-on", choices=FAIL_ON, default="error",
                   help="lowest severity that fails (default error)")
    return p


def merge_main(argv: list[str]) -> int:
    from pixelspy.audit.pages import InputError
    from pixelspy.inert import inert
    from pixelspy.report.load import LoadError, load_audit

    args = merge_parser().parse_args(argv)
    runs = []
    try:
        for path in args.files:
            runs += load_audit(path)
        out = _out_dir(args.out)
    except (LoadError, InputError) as e:
        print(inert(f"pixelspy audit merge: {e}"), file=sys.stderr)
        return 2
    return _write_report(runs, args, out)


def _out_dir(text: str | None) -> Path | None:
    """--out DIR, created; InputError when it cannot be."""
    from pixelspy.audit.pages import InputError

    if text is None:
        return None
    out = Path(text)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create {text}: {e.strerror or e}") from None
    return out
