"""[checks] in pixelspy.toml: defaults without a file, validation with clear errors."""

from __future__ import annotations

import pytest

from pixelspy.checks import CheckEngine
from pixelspy.config import ConfigError, load_config

from .helpers import codes, meta_hit


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    c = load_config().checks
    assert (c.duplicate_window_s, c.dedup_pairing_window_s, c.pixel_no_events_timeout_s) == (2.0, 60.0, 10.0)
    assert c.expected_pixels == {} and c.required_params == {} and c.silence == []


def test_a_config_file_drives_the_engine(tmp_path):
    path = tmp_path / "pixelspy.toml"
    path.write_text('''
[checks]
silence = ["cookies-disabled"]
duplicate_window_s = 5
[checks.expected_pixels]
meta = ["1234567890123456"]
[checks.required_params.meta]
PageView = ["cd[page_type]"]
''')
    engine = CheckEngine(load_config(path))
    ev = meta_hit(ev="PageView", id="111111111111111", fbp=None)
    engine.process(ev)
    assert {"unexpected-pixel", "missing-param"} <= codes(ev) and "cookies-disabled" not in codes(ev)


@pytest.mark.parametrize("body, error", [
    ("[checks]\nduplicate_window = 3\n", "checks.duplicate_window: Extra inputs are not permitted"),
    ("[checks]\ndedup_pairing_window_s = -1\n", "checks.dedup_pairing_window_s: Input should be greater than 0"),
    ("[checks.expected_pixels]\nfacebook = ['1']\n", "unknown platform 'facebook'"),
    ("[checks.required_params.meta]\nPurchase = 'value'\n", "checks.required_params.meta.Purchase"),
])
def test_mistakes_are_clear_errors(tmp_path, body, error):
    path = tmp_path / "pixelspy.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert error in str(e.value) and str(path) in str(e.value)
