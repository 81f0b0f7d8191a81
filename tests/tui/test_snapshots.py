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
