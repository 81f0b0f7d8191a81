"""Starts and stops mitmproxy's Master inside the running asyncio loop (the TUI's or our own).

Plain `Master` with only the mitmproxy addons whose features pixelspy offers (`proxy_addons`): no
termlog (it would print over the TUI), no dumper, no ErrorCheck (it calls sys.exit); see
../shared/spec/mitmproxy-textual-notes.md.
"""

from __future__ import annotations

import asyncio
import copy
import ctypes
import gc
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mitmproxy import certs, connection, http, options
from mitmproxy.addons import (block, core, default_addons, disable_h2c, dns_resolver, next_layer, onboarding,
                              proxyauth, proxyserver, strip_dns_https_records, tlsconfig, update_alt_svc,
                              upstream_auth)
from mitmproxy.master import Master

from pixelspy.addon import MAX_HELD_BODY, PixelSpy, after_hook
from pixelspy.session import Session

try:
    from mitmproxy.proxy.utils import ReceiveBuffer  # a body arriving; internal, so counted while it exists
except ImportError:  # pragma: no cover
    ReceiveBuffer = ()


TAPPED_LOGGERS = ("mitmproxy", "pixelspy")
log = logging.getLogger("pixelspy")

# The default addons that pixelspy's features use: the proxy and its modes, TLS, DNS, the mitm.it
# certificate page, --auth, and blocking clients from outside the LAN.
PROXY_ADDON_TYPES = (
    core.Core, block.Block, strip_dns_https_records.StripDnsHttpsRecords, disable_h2c.DisableH2C,
    onboarding.Onboarding, proxyauth.ProxyAuth, proxyserver.Proxyserver, dns_resolver.DnsResolver,
    next_layer.NextLayer, tlsconfig.TlsConfig, upstream_auth.UpstreamAuth, update_alt_svc.UpdateAltSvc,
)


def proxy_addons() -> list:
    """mitmproxy's default addons that pixelspy uses, in the order of the mitmproxy installed (11
    and 12 differ), hence picked from default_addons() rather than built here. mitmproxy calls every
    addon on every request and response, and the other 19 (map and modify rules, playback, sticky
    cookies, scripts, flow saving, commands) are reachable only through options and a console
    pixelspy does not offer: they took about a quarter of its throughput."""
    return [addon for addon in default_addons() if isinstance(addon, PROXY_ADDON_TYPES)]


class ProxyStartError(RuntimeError):
    pass


def check_mode(spec: str) -> str:
    """The mode spec, when mitmproxy can parse it; else ValueError saying why (a `--mode` typo is a
    usage error before anything starts, not a failed start)."""
    from mitmproxy.proxy.mode_specs import ProxyMode

    ProxyMode.parse(spec)
    return spec


@dataclass
class ProxyConfig:
    listen_host: str = "127.0.0.1"
    port: int = 8080
    sink: bool = False
    confdir: str | None = None  # mitmproxy's CA lives here; None = ~/.mitmproxy (reuse a trusted CA)
    modes: list[str] = field(default_factory=list)  # mitmproxy modes; [] = regular
    proxyauth: str | None = None
    ssl_insecure: bool = False
    # More mitmproxy addons, added after pixelspy's own (e.g. har.HarRecorder for --har).
    addons: list = field(default_factory=list)
    # Freeze what lives on out of the collector's walks (see _HeapFreezer): for pixelspy's own
    # process (the CLI), not a test or a program that embeds the proxy.
    freeze_heap: bool = False

    @property
    def address(self) -> str:
        return f"{self.listen_host}:{self.port}"


def _without_traceback(record: logging.LogRecord) -> logging.LogRecord:
    """The record to keep: its traceback as text only. A traceback keeps every frame in it alive,
    locals and all (a crash of mitmproxy's on one connection can hold a 64 MB body)."""
    if record.exc_info is None:
        return record
    kept = copy.copy(record)
    kept.exc_text = record.exc_text or logging.Formatter().formatException(record.exc_info)
    kept.exc_info = None
    return kept


class _LogTap(logging.Handler):
    """Collects mitmproxy's log records for the UI instead of letting them reach the terminal."""

    def __init__(self, sink: Callable[[logging.LogRecord], None] | None):
        super().__init__(logging.INFO)
        self.records: deque[logging.LogRecord] = deque(maxlen=500)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(_without_traceback(record))
        if self.sink:
            try:
                self.sink(record)
            except Exception:  # noqa: BLE001 - a broken log sink must not break the proxy
                pass


class _Ready:
    """Fires once mitmproxy has (tried to) set up its listeners."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def running(self) -> None:
        self.event.set()


# Once this many more events are stored, the ones kept so far are frozen too (see _HeapFreezer):
# the full collection before each freeze walks them, ≈ 13 objects and ≈ 5 µs per event, so
# 2,000 made it a 10 ms pause and 500 a 2.5 ms one.
FREEZE_EVERY_EVENTS = 500
# Once the heap is frozen, a collection of the middle generation runs after this many young ones,
# and a full collection after this many of the middle one (CPython's defaults: 10 and 10; see
# _HeapFreezer).
MIDDLE_COLLECTION_EVERY = 5
FULL_COLLECTION_EVERY = 80
# A freeze also pins what the requests in flight hold (see _HeapFreezer). With more body bytes than
# this in flight it waits RETRY_FREEZE_AFTER_EVENTS more events, for a quieter moment.
FREEZE_MAX_PINNED_BODY_BYTES = 4 * 1024 * 1024
RETRY_FREEZE_AFTER_EVENTS = 50
# What a flow or connection in flight pins besides its bodies (parsers, layers, headers; ≈ 7 KiB
# measured with 200 connections). Once the freezes have pinned this much, plus so much per frozen
# object (a quarter of the ≈ 400 bytes a stored event's object holds), a reclaim sends the whole
# heap back to the collector: it walks the frozen heap, so it comes as much rarer as that is larger.
PINNED_BYTES_PER_FLOW = 8 * 1024
RECLAIM_AFTER_PINNED_BYTES = 16 * 1024 * 1024
RECLAIM_AFTER_PINNED_BYTES_PER_FROZEN_OBJECT = 100
# Bodies from this size up get pages of their own (glibc malloc), returned to the system when freed.
OWN_PAGES_FROM_BYTES = 128 * 1024


def _in_flight() -> tuple[int, int]:
    """(flows and connections, body bytes) among the objects the collector tracks and has not frozen:
    after a full collection, what the requests in flight hold (and what a freeze would pin)."""
    flows = body_bytes = 0
    for obj in gc.get_objects():
        if isinstance(obj, http.HTTPFlow):
            flows += 1
            for message in (obj.request, obj.response):
                body_bytes += len(message.raw_content or b"") if message is not None else 0
        elif isinstance(obj, connection.Client):
            flows += 1
        elif isinstance(obj, ReceiveBuffer):  # a body still arriving
            body_bytes += len(obj)
    return flows, body_bytes


class _GlibcMalloc:
    """glibc's malloc, when the process runs on it (not on macOS or musl): nothing otherwise.

    By default glibc raises the size from which it gives an allocation pages of its own to that of
    the largest block freed so far, so after the first large body every body comes from the heap,
    which it seldom gives back: bare mitmdump kept 150 MB after 200 connections with 1 MB uploads."""

    def __init__(self) -> None:
        try:
            self.libc = ctypes.CDLL("libc.so.6")
            self.libc.mallopt, self.libc.malloc_trim  # noqa: B018 - glibc's, not just any libc
        except (OSError, AttributeError):
            self.libc = None

    def keep_large_blocks_apart(self, from_bytes: int) -> None:
        if self.libc is not None:
            self.libc.mallopt(-3, from_bytes)  # M_MMAP_THRESHOLD (fixed: no more raising)

    def trim(self) -> None:
        """Give the heap's free pages back to the system."""
        if self.libc is not None:
            self.libc.malloc_trim(0)


class _HeapFreezer:
    """Keeps what lives on (the startup heap, then the stored events) out of CPython's full
    collections. A full collection stops every connection while it walks all tracked objects:
    the startup heap alone (mitmproxy, pydantic's validators, the TUI) is ~95,000 objects and
    ~40 ms, and each stored event adds ~13. Frozen objects are skipped, so a collection walks only
    what came since the last freeze. Each freeze follows a full collection, so no garbage is
    frozen.

    But a freeze also pins what the requests in flight hold: mitmproxy's flows and connection
    layers are reference cycles, which only a collection frees, and frozen ones are never collected
    (200 connections pinned ≈ 3.5 MB a freeze, with their bodies 30 MB and more). So each freeze
    first counts what is in flight (_in_flight): with more than FREEZE_MAX_PINNED_BODY_BYTES of
    bodies it waits for a quieter moment; and once the freezes since the last reclaim have pinned
    RECLAIM_AFTER_PINNED_BYTES plus a quarter of the frozen heap's size, a reclaim unfreezes the
    heap for one full collection, which frees what was pinned, and freezes it again. A reclaim walks
    everything (≈ 40 ms plus 5 µs per stored event), so it waits for more pinned memory the larger
    the frozen heap is: at 200 busy connections it comes every ≈ 5 freezes or more, at a few
    connections hardly ever. So memory is the startup heap, the stored events and at most 16 MiB
    plus a quarter of them pinned.

    Freezing also empties what CPython counts as long-lived, so its own brake on full collections
    ("only once a quarter of the long-lived objects are new") always lets one through. A full
    collection would then follow every 10 collections of the middle generation: some 12 pauses of
    5-15 ms per 30 s of steady traffic, enough to move the proxy's p99 latency. The freezer spaces
    them FULL_COLLECTION_EVERY apart instead; each one walks no more than it did.

    A collection of the middle generation walks what survived the young collections since the
    last one, the newly stored events among them: under load each took ≈ 0.9 ms in pixelspy against
    ≈ 0.7 ms in bare mitmdump, and they were nearly all of the proxy's pauses over 1 ms. Running it
    every MIDDLE_COLLECTION_EVERY young collections instead of 10 halves each pause for the same
    total work; FULL_COLLECTION_EVERY is doubled to keep full collections as far apart in time.

    The freezer also sets glibc's malloc to give large bodies pages of their own (_GlibcMalloc)
    and trims the heap after each reclaim: this process only, like the freezing."""

    def __init__(self) -> None:
        self.new_events = 0
        self.pinned_bytes = 0  # by the freezes since the last reclaim
        self.reclaims = 0
        self.malloc = _GlibcMalloc()
        self.malloc.keep_large_blocks_apart(OWN_PAGES_FROM_BYTES)

    def __call__(self, event, is_update: bool) -> None:  # a session subscriber
        if not is_update:
            self.new_events += 1
            if self.new_events >= FREEZE_EVERY_EVENTS:
                self.freeze()

    def freeze(self) -> None:
        budget = RECLAIM_AFTER_PINNED_BYTES + gc.get_freeze_count() * RECLAIM_AFTER_PINNED_BYTES_PER_FROZEN_OBJECT
        if self._freeze_unless_bodies_in_flight() and self.pinned_bytes > budget:
            self.reclaim()

    def reclaim(self) -> None:
        """Unfreezes the heap for one full collection, then freezes it again (or, with bodies in
        flight now, at the next try)."""
        gc.unfreeze()
        self.pinned_bytes = 0
        self.reclaims += 1
        self._freeze_unless_bodies_in_flight()
        self.malloc.trim()

    def _freeze_unless_bodies_in_flight(self) -> bool:
        young = gc.get_threshold()[0]
        gc.set_threshold(young, MIDDLE_COLLECTION_EVERY, FULL_COLLECTION_EVERY)
        gc.collect()
        flows, body_bytes = _in_flight()
        if body_bytes > FREEZE_MAX_PINNED_BODY_BYTES:
            self.new_events = FREEZE_EVERY_EVENTS - RETRY_FREEZE_AFTER_EVENTS
            return False
        gc.freeze()
        self.new_events = 0
        self.pinned_bytes += body_bytes + flows * PINNED_BYTES_PER_FLOW
        return True


class RecordAnswers:
    """mitmproxy addon keeping the answer (response, timings: mitmproxy's HAR entry) of each tracking
    hit that made events in the session file, for HAR exported from it. Add it after the PixelSpy
    addon (ProxyConfig.addons): it reads the ids that addon leaves in the flow's metadata."""

    def __init__(self, writer) -> None:  # a store.writer.StoreWriter
        self.writer = writer

    # After the hook, like the PixelSpy addon's decoding (which must come first): the entry takes
    # longer to make than answering the hit.
    def response(self, flow: http.HTTPFlow) -> None:
        after_hook(self._keep, flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self.response(flow)

    def _keep(self, flow: http.HTTPFlow) -> None:
        from pixelspy.har import flow_entry

        if not flow.metadata.get("pixelspy") or (hit_id := flow.metadata.get("pixelspy_hit")) is None:
            return
        try:
            self.writer.response(hit_id, flow_entry(flow))
        except Exception:  # noqa: BLE001 - never break the user's traffic over the session file
            log.exception("pixelspy: could not keep the answer to %s", flow.request.pretty_url)


# How long stopping waits for the clients' open connections to close.
CLOSE_CONNECTIONS_TIMEOUT_S = 3.0


async def _close_client_connections(proxyserver) -> None:
    """Closes the connections clients still hold open (keep-alive, a request half sent) and waits
    until mitmproxy has finished with each. Left open, their handlers are cancelled when the event
    loop ends, and Python 3.11's asyncio prints a CancelledError traceback for each."""
    for handler in list(proxyserver.connections.values()):
        io = handler.transports.get(handler.client)
        if io is not None and io.writer is not None:
            try:
                io.writer.close()
            except Exception:  # noqa: BLE001 - a connection that is already gone
                pass
    deadline = asyncio.get_running_loop().time() + CLOSE_CONNECTIONS_TIMEOUT_S
    while proxyserver.connections and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)


class Proxy:
    def __init__(self, session: Session, config: ProxyConfig,
                 on_log: Callable[[logging.LogRecord], None] | None = None):
        self.session = session
        self.config = config
        self.addon = PixelSpy(session)
        self.master: Master | None = None
        self._task: asyncio.Task | None = None
        self._tap = _LogTap(on_log)

    @property
    def listen_addrs(self) -> list[tuple]:
        if self.master is None:
            return []
        return list(self.master.addons.get("proxyserver").listen_addrs())

    @property
    def log_records(self) -> list[logging.LogRecord]:
        return list(self._tap.records)

    async def start(self) -> None:
        cfg = self.config
        for name in TAPPED_LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(self._tap)
            logger.setLevel(logging.INFO)
            # Our handler shows the records; the root logger (and so the terminal) must not.
            logger.propagate = False
        opts = options.Options(listen_host=cfg.listen_host, listen_port=cfg.port,
                               **({"confdir": cfg.confdir} if cfg.confdir else {}))
        self.master = Master(opts, event_loop=asyncio.get_running_loop(), with_termlog=False)
        ready = _Ready()
        self.master.addons.add(*proxy_addons())
        self.master.addons.add(self.addon, ready, *cfg.addons)
        # Options declared by addons exist only once the addons are added.
        update = dict(connection_strategy="lazy", pixelspy_sink=cfg.sink, ssl_insecure=cfg.ssl_insecure,
                      # Bodies are held whole only up to this (the addon streams other
                      # traffic's sooner); see addon.MAX_HELD_BODY.
                      stream_large_bodies=str(MAX_HELD_BODY))
        if cfg.modes:
            update["mode"] = cfg.modes
        if cfg.proxyauth:
            update["proxyauth"] = cfg.proxyauth
        opts.update(**update)
        self._task = asyncio.create_task(self.master.run(), name="mitmproxy")
        done, _ = await asyncio.wait([self._task, asyncio.ensure_future(ready.event.wait())],
                                     timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done or not self.listen_addrs:
            errors = [r.getMessage() for r in self._tap.records if r.levelno >= logging.WARNING]
            await self.stop()
            raise ProxyStartError("; ".join(errors) or f"mitmproxy did not listen on {cfg.address}")
        if cfg.freeze_heap:
            freezer = _HeapFreezer()
            freezer.freeze()
            self.session.subscribe(freezer)

    async def stop(self) -> None:
        if self.master is not None and self._task is not None and not self._task.done():
            # Master.shutdown() alone leaves the listening socket open: close the servers first.
            proxyserver = self.master.addons.get("proxyserver")
            await proxyserver.servers.update([])
            await _close_client_connections(proxyserver)
            self.master.shutdown()
            try:
                await asyncio.wait_for(self._task, timeout=5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass
        for name in TAPPED_LOGGERS:
            logging.getLogger(name).removeHandler(self._tap)
            logging.getLogger(name).propagate = True

    def wireguard_conf(self) -> str | None:
        """The client configuration of a running WireGuard mode (for the phone's QR code)."""
        if self.master is None:
            return None
        for instance in self.master.addons.get("proxyserver").servers:
            if hasattr(instance, "client_conf") and (conf := instance.client_conf()):
                return conf
        return None


# ------------------------------------------------------------------ CA certificate (`pixelspy ca`)

CA_BUNDLE_NAME = "pixelspy-ca-bundle.pem"


def ca_cert_path(confdir: str | None = None) -> Path:
    """mitmproxy's CA certificate (PEM) in confdir, created as mitmproxy would on first start."""
    path = Path(confdir or options.CONF_DIR).expanduser()
    certs.CertStore.from_store(path=path, basename=options.CONF_BASENAME, key_size=options.KEY_SIZE)
    return path / f"{options.CONF_BASENAME}-ca-cert.pem"


def write_ca_bundle(confdir: str | None = None) -> Path:
    """certifi's public roots plus the CA, next to it: clients given only the CA (REQUESTS_CA_BUNDLE,
    SSL_CERT_FILE) could no longer reach any host that bypasses the proxy."""
    import certifi  # a mitmproxy dependency

    ca = ca_cert_path(confdir)
    bundle = ca.with_name(CA_BUNDLE_NAME)
    bundle.write_text(Path(certifi.where()).read_text().rstrip("\n") + "\n" + ca.read_text())
    return bundle
