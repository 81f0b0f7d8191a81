"""pixelspy.toml: defaults without a file, validation with clear errors naming the line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pixelspy.checks import CheckEngine
from pixelspy.config import FINDING_CODES, ConfigError, line_of, load_config

from .helpers import codes, meta_hit

ROOT = Path(__file__).resolve().parents[2]


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
    ("[checks]\nduplicate_window = 3\n", ":2: checks.duplicate_window: unknown key"),
    ("[checks]\ndedup_pairing_window_s = -1\n", ":2: checks.dedup_pairing_window_s: Input should be greater than 0"),
    ("[checks.expected_pixels]\nfacebook = ['1']\n", ":2: checks.expected_pixels.facebook: unknown platform 'facebook'"),
    ("[checks.required_params.meta]\nPurchase = 'value'\n", ":2: checks.required_params.meta.Purchase"),
])
def test_mistakes_are_clear_errors(tmp_path, body, error):
    path = tmp_path / "pixelspy.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert f"{path}{error}" in str(e.value)


CONFIG_WITH_MISTAKES = """\
# shop.example
[checks]
silence = [
  "cookies-disabled",
  "test-events",
]
duplicate_windw_s = 3

[checks.catalog]
meta = ["*"]
"tik tok" = ["*"]

[consent]
gpc_means_denied = true
[[consent.rules]]
cookie = "cc"
granted = "yes"
[[consent.rules]]
name = "no kind"

[[expect]]
page = "/thanks"
event = "Purchase"
to = ["meta"]
[[expect]]
page = "/lead"
event = "Lead"
to = [ "tiktok", "facebok:1" ]
whithin_s = 5

[report]
"""


def test_every_mistake_names_its_line(tmp_path):
    """An unknown finding code in `silence`, an unknown key, a misspelt vendor: each error names the
    line to fix, as TOML syntax errors do."""
    path = tmp_path / "pixelspy.toml"
    path.write_text(CONFIG_WITH_MISTAKES)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert sorted(str(e.value).splitlines()) == sorted(f"{path}:{line}" for line in [
        "5: checks.silence.1: unknown finding code 'test-events' (docs/findings.md lists them)",
        "7: checks.duplicate_windw_s: unknown key",
        "11: checks.catalog.tik tok: unknown platform 'tik tok'; use one of "
        "meta, tiktok, pinterest, linkedin, x, google, snapchat, reddit",
        "18: consent.rules.1: set exactly one of cookie, url, script",
        "28: expect.1.to: unknown platform 'facebok'; use one of "
        "meta, tiktok, pinterest, linkedin, x, google, snapchat, reddit",
        "29: expect.1.whithin_s: unknown key",
        "31: report: unknown key",
    ])


def test_dotted_keys_and_inline_tables_are_found_too():
    text = 'checks.expected_pixels = { meta = ["1"] }\n\n[consent]\n  "pending_timeout_s" = 0\n'
    assert line_of(text, ["checks", "expected_pixels", "facebook"]) == 1
    assert line_of(text, ["consent", "pending_timeout_s"]) == 4
    assert line_of(text, ["expect", 0, "page"]) is None


def test_a_one_line_list_names_its_key_line(tmp_path):
    path = tmp_path / "pixelspy.toml"
    path.write_text('[checks]\n\nsilence = ["pii-leak", "pre_consent"]\n')
    with pytest.raises(ConfigError, match=r"pixelspy.toml:3: checks.silence.1: unknown finding code 'pre_consent'"):
        load_config(path)


def _codes_in(text: str, pattern: str) -> set[str]:
    return set(re.findall(pattern, text, re.M))


def test_silence_knows_exactly_the_codes_the_checks_report_and_the_docs_list():
    source = "\n".join(p.read_text() for p in (ROOT / "pixelspy" / "checks").glob("*.py"))
    # finding("code", …), add("code", …), mark_group(ctx, group, "code", …), code="…", CODE = "…"
    emitted = _codes_in(source, r'(?:finding\(\s*|add\(\s*|mark_group\([^,]+,[^,]+,\s*|code=|^[A-Z_]+ = )'
                                r'"([a-z]+(?:-[a-z]+)+)"')
    documented = _codes_in((ROOT / "docs" / "findings.md").read_text(), r"^\| `([a-z-]+)` \|")
    assert emitted == documented == FINDING_CODES
