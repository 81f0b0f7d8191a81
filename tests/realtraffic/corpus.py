"""The real-traffic corpus: recordings of real sites made by other people, each a small HAR of our
own (only the requests a case needs, personal data redacted) beside a TOML sidecar naming its
source and judging, by hand, every warning and error pixelspy gives on it.

A finding is named by a key that survives re-runs (event ids do not):
"<code> <platform>:<event or kind> <pixel or -> <page path or ->".
Read by benchmarks/precision.py and tests/realtraffic/test_corpus.py.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pixelspy.checks import CheckEngine
from pixelspy.config import Config
from pixelspy.har import load_file
from pixelspy.model import Finding, Severity, TrackingEvent
from pixelspy.session import Session

CASES = Path(__file__).parent / "cases"
JUDGED = (Severity.error, Severity.warning)  # info findings are notes, not alarms


@dataclass(frozen=True)
class Judgement:
    key: str
    true: bool
    why: str
    count: int = 1  # how many findings of this key the recording gives
    family: str = ""  # for a false alarm: which family of issue #23 it belongs to


@dataclass
class Case:
    name: str
    har: Path
    source: dict
    # Judged by hand: the site has no real error, so `pixelspy check` (--fail-on error) must exit 0.
    clean: bool
    judgements: dict[str, Judgement] = field(default_factory=dict)


def finding_key(event: TrackingEvent, finding: Finding) -> str:
    page = urlsplit(event.page_url).path if event.page_url else "-"
    what = event.event or event.kind.value
    return f"{finding.code} {event.platform}:{what} {event.pixel_id or '-'} {page or '/'}"


def load_cases() -> list[Case]:
    cases = []
    for sidecar in sorted(CASES.glob("*.toml")):
        data = tomllib.loads(sidecar.read_text("utf-8"))
        judgements = {}
        for j in data.get("finding", []):
            judgement = Judgement(**j)
            judgements[judgement.key] = judgement
        cases.append(Case(sidecar.stem, sidecar.with_suffix(".har"), data["source"], data["clean"], judgements))
    return cases


@dataclass
class Run:
    """What pixelspy says on one case today, read as `pixelspy check` reads a file."""

    found: Counter[str]  # key → findings of warning/error severity
    errors: int  # findings at error severity (what fails `check` by default)


def run_case(case: Case, config: Config | None = None) -> Run:
    session = Session(CheckEngine(config or Config()))
    load_file(case.har, session)
    found: Counter[str] = Counter()
    errors = 0
    for ev in session:
        for f in ev.findings:
            if f.severity in JUDGED:
                found[finding_key(ev, f)] += 1
                errors += f.severity == Severity.error
    return Run(found, errors)
