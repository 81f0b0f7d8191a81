"""The README's examples stay true."""

import re
from pathlib import Path

from pixelspy.cli import live_parser
from pixelspy.config import load_config

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_the_readme_config_example_is_a_valid_pixelspy_toml(tmp_path):
    (block,) = re.findall(r"```toml\n(.*?)```", README, re.S)
    (tmp_path / "pixelspy.toml").write_text(block)
    config = load_config(tmp_path / "pixelspy.toml")
    assert config.checks.expected_pixels["meta"] == ["1234567890123456"]
    assert config.expect[0].event == "Purchase" and config.consent.rules[0].cookie == "shop_consent"


def test_every_option_in_the_readme_table_exists():
    options = {o for a in live_parser()._actions for o in a.option_strings}
    documented = set(re.findall(r"^\| `(--[a-z-]+)", README, re.M))
    assert documented and documented <= options
