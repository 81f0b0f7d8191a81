"""The audit's report: pixelspy.report.render_audit(runs, fmt, fail_on) renders every format; where a
pixelspy without it runs, a short text summary (and `check`'s JSON/JUnit of the visits' findings)."""

from __future__ import annotations

from collections import Counter

from pixelspy.inert import inert
from pixelspy.report import FORMATS, AuditRun, describe, exit_code

FORMAT_NAMES = ("html", "text", "json", "junit")
EXTENSIONS = {"html": "html", "text": "txt", "json": "json", "junit": "xml"}


def render(runs: list[AuditRun], fmt: str, fail_on: str) -> str:
    try:
        from pixelspy.report import render_audit
    except ImportError:
        render_audit = None
    if render_audit is not None:
        return render_audit(runs, fmt, fail_on)
    if fmt in ("json", "junit"):
        return FORMATS[fmt]([r.report for r in runs], fail_on)
    return summary_text(runs, fail_on)


def summary_text(runs: list[AuditRun], fail_on: str) -> str:
    """One block per visit: state, device, what the audit did, the findings."""
    out: list[str] = []
    for run in runs:
        findings = run.report.findings()
        c = Counter(f.severity.value for _, f in findings)
        out.append(f"{run.state} on {run.device}: {run.action}; consent {run.consent}; "
                   f"{_plural(len(run.pages), 'page')}, {_plural(run.report.tally.total, 'event')}, "
                   f"{_plural(c['error'], 'error')}, {_plural(c['warning'], 'warning')}")
        if run.har_path:
            out.append(f"  evidence: {run.har_path}")
        for problem in run.report.problems:
            out.append(f"  not loaded  {problem}")
        for ev, f in findings:
            out.append(f"  {f.severity.value:<8} {f.code}  [{ev.id}] {describe(ev)}")
            out.append(f"           {f.message}")
    code = exit_code([r.report for r in runs], fail_on)
    verdict = {0: "OK", 1: "FAIL", 2: "FAIL (pages not loaded)"}[code]
    out.append(f"{_plural(len(runs), 'visit')} — {verdict} (--fail-on {fail_on})")
    return "\n".join(inert(line) for line in out) + "\n"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
