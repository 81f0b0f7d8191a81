"""Proof of pixelspy/devices.py's skip of ua-parser's device rules: every User-Agent of uap-core's test
files (real ones, tens of thousands) and every combination of the desktop shape's parts gets the same
name with the skip as without it. Prints the counts; exit 1 and the differences when one differs.

    git -C UAP_CORE_CHECKOUT show HEAD:tests/test_device.yaml > /tmp/uap/test_device.yaml   (and the others)
    .venv/bin/python benchmarks/uap_device_skip.py /tmp/uap/*.yaml

uap-core (github.com/ua-parser/uap-core) is the project whose rules ua-parser-builtins bundles; its
tests/*.yaml and test_resources/*.yaml list `user_agent_string`s. They are read, never committed.
"""

from __future__ import annotations

import itertools
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pixelspy import devices  # noqa: E402

SYSTEMS = ["Windows NT 10.0; Win64; x64", "Windows NT 6.1; WOW64", "Windows NT 6.3", "Windows NT 11.0; Win64; x64",
           "Macintosh; Intel Mac OS X 10_15_7", "Macintosh; Intel Mac OS X 10.15", "Macintosh; Intel Mac OS X 14_7_1",
           "Macintosh; Intel Mac OS X 11", "X11; Linux x86_64", "X11; Ubuntu; Linux x86_64"]
TAILS = [
    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Safari/537.36",
    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Safari/537.36 Edg/{v}",
    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Safari/537.36 OPR/{v}",
    "AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/{v} Safari/537.36",
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v} Safari/605.1.15",
    "Gecko/20100101 Firefox/{v}",
    "Gecko/{v} Firefox/{v}",
    "AppleWebKit/{v} (KHTML, like Gecko) Version/{v} Safari/{v} Chrome/{v}",
]
VERSIONS = ["131.0.0.0", "1", "10.0", "18.1", "3.6.28", "4.0.249.0", "0", "999999.99.9.9"]


def synthetic() -> set[str]:
    """The desktop shape's parts in every combination: systems, Firefox's rv:, tails, versions."""
    out = set()
    for system, rv, tail, v in itertools.product(SYSTEMS, ("", "; rv:{v}"), TAILS, VERSIONS):
        out.add(f"Mozilla/5.0 ({system}{rv}) {tail}".format(v=v))
    return out


def from_files(paths: list[str]) -> set[str]:
    """The user_agent_string values of uap-core's YAML test files."""
    import yaml  # PyYAML: ua-parser's loaders import it

    return {case["user_agent_string"] for path in paths
            for case in yaml.load(Path(path).read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)["test_cases"]
            if isinstance(case.get("user_agent_string"), str)}


def device_rules_matching(uas: list[str]) -> dict[str, set[str]]:
    """The device rules that match any of `uas`, each with the devices it names there: without the skip
    these are the rules that could name a device in a skipped User-Agent."""
    found: dict[str, set[str]] = {}
    for rule in devices._rules()[2]:
        for ua in uas:
            try:
                device = rule(ua[:devices.MAX_UA])
            except ValueError:
                continue
            if device is not None:
                found.setdefault(rule.regex, set()).add(f"{device.brand}/{device.family}")
    return found


def names(uas: list[str], skip: bool) -> list[str]:
    rule = devices._NAMES_NO_DEVICE
    if not skip:
        devices._NAMES_NO_DEVICE = re.compile(r"(?!)")  # matches nothing
    devices._family.cache_clear()
    try:
        return [devices.user_agent_family(ua) for ua in uas]
    finally:
        devices._NAMES_NO_DEVICE = rule
        devices._family.cache_clear()


def main() -> int:
    corpus = sorted(from_files(sys.argv[1:]))
    combos = sorted(synthetic())
    devices.compile_rules()
    failed = 0
    for what, uas in (("uap-core test files", corpus), ("desktop shape's combinations", combos)):
        t0 = time.process_time()
        with_skip, without = names(uas, True), names(uas, False)
        skipped = sum(1 for ua in uas if devices._NAMES_NO_DEVICE.fullmatch(ua[:devices.MAX_UA]))
        differ = [(ua, a, b) for ua, a, b in zip(uas, with_skip, without) if a != b]
        print(f"{what}: {len(uas):,} User-Agents, {skipped:,} skip the device rules, {len(differ)} named "
              f"differently ({time.process_time() - t0:.1f} s)")
        for ua, a, b in differ:
            print(f"  {ua!r}: {a!r} with the skip, {b!r} without")
        failed += len(differ)
        matching = device_rules_matching([ua for ua in uas if devices._NAMES_NO_DEVICE.fullmatch(ua[:devices.MAX_UA])])
        print(f"  device rules (of {len(devices._rules()[2])}) that match a User-Agent that skips them: "
              + ("; ".join(f"{regex!r} naming {', '.join(sorted(named))}" for regex, named in matching.items())
                 or "none"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
