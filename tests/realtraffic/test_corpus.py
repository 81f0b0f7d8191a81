"""The real-traffic corpus as a regression test: every warning/error judged true still comes, no
finding judged false comes back, and nothing comes that nobody judged (benchmarks/precision.py
prints the numbers)."""

from __future__ import annotations

import pytest

from tests.realtraffic.corpus import load_cases, run_case

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_findings_match_the_judgements(case):
    run = run_case(case)
    unjudged = sorted(k for k in run.found if k not in case.judgements)
    false_alarms = sorted(k for k, j in case.judgements.items()
                          if not j.true and run.found[k])
    missed = sorted(k for k, j in case.judgements.items() if j.true and run.found[k] < j.count)
    assert not unjudged, f"findings nobody judged (add them to {case.name}.toml): {unjudged}"
    assert not false_alarms, f"false alarms are back: {false_alarms}"
    assert not missed, f"true findings no longer given: {missed}"


@pytest.mark.parametrize("case", [c for c in CASES if c.clean], ids=[c.name for c in CASES if c.clean])
def test_check_passes_on_a_clean_site(case):
    assert run_case(case).errors == 0


def test_every_case_names_its_source():
    for case in CASES:
        assert {"repo", "path", "commit"} <= case.source.keys(), case.name
        assert case.har.is_file(), case.name
        assert len(case.source["commit"]) == 40, case.name
