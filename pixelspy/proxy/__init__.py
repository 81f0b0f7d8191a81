"""Starts and stops mitmproxy's Master inside the running asyncio loop (the TUI's or our own).

Plain `Master` with only the mitmproxy addons whose features pixelspy offers (`proxy_addons`): no
termlog (it would print over the TUI), no dumper, no ErrorCheck (it calls sys.exit); see
../shared/spec/mitmproxy-textual-notes.md. heap.py holds the heap freezer (ProxyConfig.freeze_heap).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mitmproxy import certs, http, options
from mitmproxy.addons import (block, core, default_addons, disable_h2c, dns_resolver, next_layer, onboarding,
                              proxyauth, proxyserver, strip_dns_https_records, tlsconfig, update_alt_svc,
                              upstream_auth)
from mitmproxy.master import Master

from pixelspy.addon import MAX_HELD_BODY, PixelSpy
from pixelspy.flows import TRACKING_HIT, after_hook
from pixelspy.proxy.heap import freeze_heap
from pixelspy.session import Session


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
    # Freeze what lives on out of the collector's walks (see heap.HeapFreezer): for pixelspy's own
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


class RecordAnswers:
    """mitmproxy addon keeping the answer (response, timings: mitmproxy's HAR entry) of each tracking
    hit in the session file (those that made events, and their twin copies), for HAR exported from it.
    Add it after the PixelSpy addon (ProxyConfig.addons): it reads the ids that addon leaves in the
    flow's metadata."""

    def __init__(self, writer) -> None:  # a store.writer.StoreWriter
        self.writer = writer

    # After the hook, like the PixelSpy addon's decoding (which must come first): the entry takes
    # longer to make than answering the hit. Tracking hits only (twin copies too, which make no
    # event), as the addon marked them when it looked their route up: other traffic is not kept.
    def response(self, flow: http.HTTPFlow) -> None:
        if flow.metadata.get(TRACKING_HIT):
            after_hook(self._keep, flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self.response(flow)

    def _keep(self, flow: http.HTTPFlow) -> None:
        from pixelspy.har import flow_entry

        if (hit_id := flow.metadata.get("pixelspy_hit")) is None:
            return  # not read into the session (paused, a preflight)
        try:
            self.writer.response(hit_id, flow_entry(flow))
        except Exception:  # noqa: BLE001 - never break the user's traffic over the session file
            log.exception("pixelspy: could not keep the answer to %s", flow.request.pretty_url)


# How long stopping waits for the clients' open connections to close.
CLOSE_CONNECTIONS_TIMEOUT_S = 3.0
# pixelspy's own process (ProxyConfig.freeze_heap): how long a thread holds the GIL while another waits.
GIL_SWITCH_INTERVAL_S = 0.001


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
            freeze_heap(self.session)
            # The session file's writer thread builds its rows in Python between SQLite calls: each
            # time the loop wakes meanwhile, a request waits up to the switch interval for the GIL
            # (5 ms by default, several times a request: a paced p99 of ≈ 20 ms against ≈ 5 ms).
            sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)

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
