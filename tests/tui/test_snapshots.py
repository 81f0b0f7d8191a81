"""SVG snapshots of the main screens (pytest-textual-snapshot); update with --snapshot-update."""

from pixelspy.tui.app import PixelSpyApp
from tests.tui.scripted import build_session

SIZE = (100, 30)


def app() -> PixelSpyApp:
    return PixelSpyApp(build_session(), None, title="scripted shop visit")


def test_main_view(snap_compare):
    assert snap_compare(app(), terminal_size=SIZE)


def test_main_view_at_80x24(snap_compare):
    assert snap_compare(app(), terminal_size=(80, 24))


def test_detail_of_a_purchase_with_findings(snap_compare):
    assert snap_compare(app(), terminal_size=SIZE, press=["home", *["down"] * 7])


def test_filter_has_findings(snap_compare):
    assert snap_compare(app(), terminal_size=SIZE, press=["slash", *"has:findings", "enter"])


def test_summary(snap_compare):
    assert snap_compare(app(), terminal_size=SIZE, press=["s"])


def test_mark_prompt_at_80x24_shows_the_whole_question(snap_compare):
    assert snap_compare(app(), terminal_size=(80, 24), press=["m", *"clicked Buy"])


def test_phone_screen_on_a_wide_terminal_puts_the_qr_codes_side_by_side(snap_compare, monkeypatch):
    """c: the address in large digits, and the proxy, certificate page and WireGuard QR codes in one row."""
    from pixelspy.proxy import ProxyConfig
    from pixelspy.tui import screens

    monkeypatch.setattr(screens, "lan_addresses", lambda: ["192.168.1.50"])
    config = ProxyConfig(listen_host="0.0.0.0", port=8080, proxyauth="qa:pw")
    wireguard = ("[Interface]\nPrivateKey = cGl4ZWxzcHktc25hcHNob3QtcHJpdmF0ZS1rZXkwMDA=\nAddress = 10.0.0.1/32\n"
                 "[Peer]\nPublicKey = cGl4ZWxzcHktc25hcHNob3QtcHVibGljLWtleTAwMDA=\n"
                 "Endpoint = 192.168.1.50:51820\nAllowedIPs = 0.0.0.0/0\n")

    async def open_phone_screen(pilot) -> None:
        await pilot.app.push_screen(screens.PhoneSetupScreen(config, wireguard))

    assert snap_compare(app(), terminal_size=(160, 50), run_before=open_phone_screen)
