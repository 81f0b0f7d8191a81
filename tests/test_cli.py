"""`pixelspy` command line: usage errors before anything starts, where each server listens
(WireGuard beside a local proxy), a port in use, `--help`."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import time

import pytest

from pixelspy import cli
from pixelspy.cli import files, live
from pixelspy.network import lan_addresses
from tests.conftest import PixelspyProcess, free_port


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """One directory, so one CA (making one costs a second), for this module's proxies."""
    return tmp_path_factory.mktemp("cli")


def main(*argv: str) -> tuple[int, str]:
    """`pixelspy …` in this process: (exit code, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli.main(list(argv))
        except SystemExit as e:
            code = e.code
    return code, err.getvalue()


@pytest.mark.parametrize("argv, message", [
    (["--auth", "nocolon"], "argument --auth: 'nocolon' is not USER:PASS"),
    (["--mode", "bogus"], "argument --mode: 'bogus': unknown mode"),
    (["--mode", "wireguard@51x"], "argument --mode: 'wireguard@51x': invalid port: 51x"),
    (["-p", "99999"], "argument -p/--port: '99999' is not a port number (0-65535)"),
    (["--listen-host", "192.0.2.254"], "argument --listen-host: cannot listen on '192.0.2.254'"),
    (["--listen-host", "no-such-host.invalid"], "argument --listen-host: cannot listen on 'no-such-host.invalid'"),
    (["ca", "-p", "http"], "argument -p/--port: 'http' is not a port number"),
])
def test_typos_are_one_line_usage_errors_before_anything_starts(argv, message):
    # Without --no-ui: the TUI would start next, so the error must come from the parser.
    code, err = main(*argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("pixelspy") and f": error: {message}" in err, err


@pytest.mark.parametrize("argv, says", [
    (["chek", "x.har"], "unknown command 'chek' (did you mean check? commands: open, check"),
    (["config", "--help"], "unknown command 'config' (commands: open, check"),  # not the main help
])
def test_a_misspelt_command_is_named_not_answered_with_the_main_help(argv, says):
    code, err = main(*argv)
    assert code == 2 and err.count("\n") == 1 and f"pixelspy: error: {says}" in err, err


def test_a_file_given_without_open_is_pointed_to_open(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "visit.har").write_text("{}")
    code, err = main("visit.har")
    assert code == 2 and "unknown command 'visit.har' (to open a file: pixelspy open visit.har;" in err, err


def test_ca_with_a_misspelt_confdir_says_so_and_makes_no_second_ca(tmp_path):
    typo = tmp_path / ".mitmprxy"
    code, err = main("ca", "--confdir", str(typo))
    assert (code, err) == (2, f"pixelspy: --confdir {typo}: no such directory (to make a new CA there, create it "
                              f"first: mkdir -p {typo})\n")
    assert not typo.exists()


def test_help_lists_the_subcommands():
    text = cli.live_parser().format_help()
    for command in ("pixelspy open FILE", "pixelspy check FILE", "pixelspy ca"):
        assert command in text


def plan(*argv: str) -> tuple[str, list[str]]:
    return cli.listen_plan(cli.live_parser().parse_args(list(argv)))


def test_wireguard_listens_everywhere_and_the_http_proxy_stays_local():
    assert plan() == ("127.0.0.1", [])
    assert plan("--mode", "regular", "--mode", "wireguard@51820") == ("127.0.0.1", ["regular", "wireguard@:51820"])
    assert plan("-p", "9000", "--mode", "wireguard") == ("127.0.0.1", ["wireguard@:9000"])
    # --lan opens the proxy too; WireGuard still listens everywhere (its client configuration then names
    # this machine's LAN address, not 0.0.0.0).
    assert plan("--lan", "--mode", "regular", "--mode", "wireguard@51820") == (
        "0.0.0.0", ["regular", "wireguard@:51820"])
    # An explicit address is the user's: every server listens there.
    assert plan("--listen-host", "127.0.0.1", "--mode", "wireguard@51820") == ("127.0.0.1", ["wireguard@51820"])
    assert plan("--mode", "wireguard:/tmp/wg.conf@127.0.0.1:51820") == (
        "127.0.0.1", ["wireguard:/tmp/wg.conf@127.0.0.1:51820"])


def started(p: PixelspyProcess) -> None:
    # The --lan warning says "listening on" too: wait for the proxy itself.
    deadline = time.monotonic() + 30
    while not any(line.startswith("pixelspy ") and "listening on" in line for line in p.stderr_lines):
        assert time.monotonic() < deadline and p.proc.poll() is None, p.stderr_lines
        time.sleep(0.05)


def reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


@pytest.fixture
def lan_address() -> str:
    addresses = lan_addresses()
    if not addresses:
        pytest.skip("this machine has no non-loopback IPv4 address")
    return addresses[0]


def test_with_wireguard_the_proxy_is_not_reachable_from_the_network_unless_lan(home, lan_address):
    wg = free_port()
    p = PixelspyProcess(home, "--mode", "regular", "--mode", f"wireguard@{wg}")
    try:
        listening = next(line for line in p.stderr_lines if "listening on" in line)
        # mitmproxy 12 adds WireGuard on "::" (IPv6)
        assert listening.split("listening on ")[1].split(", ") in (
            [f"127.0.0.1:{p.port}", f"0.0.0.0:{wg}"], [f"127.0.0.1:{p.port}", f"0.0.0.0:{wg}", f":::{wg}"])
        assert reachable("127.0.0.1", p.port) and not reachable(lan_address, p.port)
        assert not any("warning" in line for line in p.stderr_lines)
    finally:
        p.stop()
    p = PixelspyProcess(home, "--lan", "--mode", "regular", "--mode", f"wireguard@{wg}")
    try:
        started(p)
        assert reachable(lan_address, p.port)
        assert any("reachable from the network; anyone there can use it — consider --auth" in line
                   for line in p.stderr_lines)
    finally:
        p.stop()


def test_port_in_use_is_told_once_with_pixelspys_own_option(home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = main("--no-ui", "-p", str(port), "--confdir", str(home / "mitmproxy"))
    assert code == 1
    assert err.count("\n") == 1 and err.count("address already in use") == 1, err
    assert err.startswith("pixelspy: could not start the proxy: ")
    assert err.rstrip().endswith(f"Another program uses port {port}: try pixelspy -p {port + 2}")
    assert "--mode" not in err
    assert "[Errno" not in err and err.count(str(port)) == 2, err  # the address once, then the advice


def test_a_reverse_listener_in_use_is_named_by_its_own_port():
    error = ("[Errno 98] HTTP(S) proxy failed to listen on 127.0.0.1:8080 with [Errno 98] error while attempting "
             "to bind on address ('127.0.0.1', 8441): address already in use")
    assert live.start_failure(error.replace("8080", "8441"), 8080) == (
        "pixelspy: could not start the proxy: HTTP(S) proxy failed to listen on 127.0.0.1:8441 with address "
        "already in use. Another program uses port 8441: give that --mode another @PORT")


async def test_tui_says_when_the_network_can_use_the_proxy_without_auth(home):
    from pixelspy.proxy import ProxyConfig
    from pixelspy.session import Session
    from pixelspy.tui.app import PixelSpyApp

    for auth, shown in ((None, True), ("qa:pw", False)):
        config = ProxyConfig(listen_host="0.0.0.0", port=free_port(), confdir=str(home / "mitmproxy"), proxyauth=auth)
        app = PixelSpyApp(Session(), config)
        async with app.run_test(size=(200, 30)) as pilot:
            for _ in range(600):  # the status is drawn a moment after the proxy listens (slow under load)
                status = str(app.status.content)
                if app.proxy is not None and app.proxy.listen_addrs and "reachable from the network" in status:
                    break
                await pilot.pause(0.05)
            assert "reachable from the network" in status
            assert ("no --auth: anyone there can use it" in status) is shown


async def test_the_wireguard_client_configuration_names_this_machine_not_0_0_0_0(home, lan_address):
    from pixelspy.proxy import Proxy, ProxyConfig
    from pixelspy.session import Session

    for lan in ((), ("--lan",)):
        host, modes = plan(*lan, "-p", str(free_port()), "--mode", "regular", "--mode", f"wireguard@{free_port()}")
        proxy = Proxy(Session(), ProxyConfig(listen_host=host, port=free_port(), modes=modes,
                                             confdir=str(home / "mitmproxy")))
        await proxy.start()
        try:
            (endpoint,) = [line for line in proxy.wireguard_conf().splitlines() if line.startswith("Endpoint")]
        finally:
            await proxy.stop()
        assert endpoint.split(" = ")[1].rpartition(":")[0] in lan_addresses()


def test_a_reverse_listener_is_named_once(home):
    # mitmproxy listens on TCP and UDP (HTTP/3) for a reverse mode: one address, said once.
    reverse = free_port()
    p = PixelspyProcess(home, "--mode", "regular", "--mode", f"reverse:https://graph.facebook.com@{reverse}")
    try:
        listening = next(line for line in p.stderr_lines if "listening on" in line)
        assert listening.split("listening on ")[1].split(", ") == [f"127.0.0.1:{p.port}", f"127.0.0.1:{reverse}"]
    finally:
        p.stop()


def test_open_says_an_unreadable_file_in_one_line(tmp_path):
    (tmp_path / "g.har").write_text("garbage\n")
    code, err = main("open", str(tmp_path / "g.har"), "--no-ui")
    assert code == 2 and err.startswith(f"pixelspy: {tmp_path / 'g.har'}: neither a HAR") and err.count("\n") == 1


def test_no_ui_says_what_the_tuis_c_shows(home, lan_address):
    # Without the TUI's `c` screen, a phone's set-up would be nowhere: the address and the WireGuard
    # client configuration come on stderr at start.
    wg = free_port()
    p = PixelspyProcess(home, "--lan", "--auth", "qa:pw", "--mode", "regular", "--mode", f"wireguard@{wg}")
    try:
        started(p)
        deadline = time.monotonic() + 10
        while not any(line.startswith("Endpoint = ") for line in p.stderr_lines):
            assert time.monotonic() < deadline, p.stderr_lines
            time.sleep(0.05)
        assert f"pixelspy: phones: set the Wi-Fi proxy to {lan_address} port {p.port}, then open http://mitm.it" \
            in " ".join(p.stderr_lines)
        assert "[Interface]" in p.stderr_lines and f"Endpoint = {lan_address}:{wg}" in p.stderr_lines
    finally:
        p.stop()


def test_ctrl_c_before_the_proxy_runs_exits_130_without_a_traceback(monkeypatch):
    # SIGINT in the first seconds (CA, config, mitmproxy's start) came out as a KeyboardInterrupt traceback.
    def interrupted(*_):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "load_config", interrupted)
    monkeypatch.setattr(files, "load_config", interrupted)
    assert main("--no-ui") == (130, "pixelspy: interrupted\n")
    assert main("check", "x.har") == (130, "pixelspy: interrupted\n")


def test_the_closing_summary_counts_the_findings_of_events_memory_let_go(tmp_path):
    """--no-ui's last line counts the findings of every event, those only the session file holds too."""
    from pixelspy.cli.recording import Recording
    from pixelspy.session import Session
    from pixelspy.store.writer import StoreWriter
    from tests.test_store import meta_get, meta_post

    path = tmp_path / "visit.pixelspy"
    session = Session(max_events=3)  # memory keeps 3 of the 10 events
    writer = StoreWriter(session, path)
    writer.open()
    writer.attach()
    try:
        for i in range(10):  # a malformed pixel ID (a warning), a Purchase without its value (an error)
            session.ingest(meta_get(i, id="123") if i % 2 else meta_post(i, "Purchase"))
        summary = live.closing_summary(session, Recording(writer, None, keep_empty=True))
    finally:
        writer.close()
    assert len(session) == 3
    assert summary == (f"pixelspy: stopped: 10 events, 5 errors, 5 warnings; session file {path} "
                       f"(pixelspy open {path})")


def test_no_ui_without_a_session_file_counts_the_findings_of_events_memory_let_go(home, tmp_path, monkeypatch):
    """With --no-session memory is all the session has: the last line still counts every event's findings."""
    from tests.test_store import meta_get, meta_post

    small_window = tmp_path / "small_window"  # memory keeps 3 events in the proxy's process
    small_window.mkdir()
    (small_window / "sitecustomize.py").write_text("import pixelspy.session\npixelspy.session.MAX_EVENTS = 3\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, (str(small_window), os.environ.get("PYTHONPATH")))))
    p = PixelspyProcess(home, "--sink", "--no-session")
    try:
        with p.client() as client:
            for i in range(10):  # a malformed pixel ID (a warning), a Purchase without its value (an error)
                hit = meta_get(i, id="123") if i % 2 else meta_post(i, "Purchase")
                client.request(hit.method, hit.url, content=hit.body, headers=dict(hit.headers))
        p.wait_for(lambda evs: len(evs) == 10)
    finally:
        assert p.stop() == 0
    deadline = time.monotonic() + 5
    while not p.stderr_lines[-1].startswith("pixelspy: stopped") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert p.stderr_lines[-1] == "pixelspy: stopped: 10 events, 5 errors, 5 warnings"


def test_no_ui_ends_with_one_summary_line_on_stderr(home, tmp_path):
    har = tmp_path / "visit.har"
    p = PixelspyProcess(home, "--sink", "--har", str(har), "--session", str(tmp_path / "visit.pixelspy"))
    try:
        with p.client() as client:
            for pixel in ("1234567890123456", "123"):  # the second pixel ID is malformed: a warning
                client.get(f"https://www.facebook.com/tr/?id={pixel}&ev=PageView&dl=https%3A%2F%2Fshop.example%2F")
        p.wait_for(lambda evs: len(evs) == 2)
        lines = len(p.lines)
    finally:
        assert p.stop() == 0
    session = tmp_path / "visit.pixelspy"
    deadline = time.monotonic() + 5
    while not p.stderr_lines[-1].startswith("pixelspy: stopped") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert p.stderr_lines[-1] == (f"pixelspy: stopped: 2 events, 0 errors, 1 warning; session file {session} "
                                  f"(pixelspy open {session}); HAR {har}")
    assert all(line["platform"] == "meta" for line in p.lines[lines:])  # stdout: JSON lines only
