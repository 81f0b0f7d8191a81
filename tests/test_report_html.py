"""The audit matrix and the HTML report (`audit --format html`, `check --format html`): verdicts from
real Sessions fed real-shaped hits, hostile wire text kept inert, sizes bounded."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pixelspy import report
from pixelspy.cli import main
from pixelspy.model import Finding, Severity, TrackingEvent
from pixelspy.report import EventTally, FileReport, audit_exit_code, render_audit
from pixelspy.report import html as report_html
from pixelspy.report.html_audit import render_audit_html
from pixelspy.report.matrix import Matrix
from tests.audit_runs import META, T0, TIKTOK, audit_run, audit_runs, ga4

CASES = Path(__file__).parent / "realtraffic" / "cases"
# Tags the report uses; anything else in the output came from the wire.
TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "small", "i", "b", "br", "code",
        "span", "section", "table", "thead", "tbody", "tr", "th", "td", "ul", "ol", "li", "a", "svg", "rect", "line",
        "text", "title", "details", "summary"}


class Tags(HTMLParser):
    """Every start tag and its attributes, as a browser's tokenizer reads them."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def hrefs(self) -> list[str]:
        return [a["href"] for t, a in self.tags if "href" in a]


def rows(runs) -> dict[str, object]:
    return {row.platform: row for row in Matrix.of(runs).rows()}


def test_matrix_verdicts_per_pixel_and_state():
    m = rows(audit_runs())
    meta, tiktok = m["meta"], m["tiktok"]
    assert (meta.site, meta.pixel, tiktok.pixel) == ("shop.example", META, TIKTOK)
    # Meta fires whatever the visitor does: before the choice, after reject, and before the accept click.
    assert [meta.cells["desktop", s].verdict for s in ("none", "reject", "accept")] == ["pre-consent"] * 3
    assert meta.verdict("desktop") == ("pre-consent", "error", "fires without consent: before a choice (none), after reject, before the accept click")
    none, reject = meta.cells["desktop", "none"], meta.cells["desktop", "reject"]
    assert "OneTrust loaded (cdn.cookielaw.org/scripttemplates/otSDKStub.js)" in none.pre_consent[0][1].message
    assert "refused marketing consent" in reject.pre_consent[-1][1].message
    assert "(audit clicked reject all" in reject.pre_consent[-1][1].message
    assert (none.events["PageView"].count, none.events["PageView"].first_page) == (2, "https://www.shop.example/")
    # TikTok waits for "accept all": correct, and said so.
    assert [tiktok.cells["desktop", s].verdict for s in ("none", "reject", "accept")] == ["silent", "silent", "fired"]
    assert tiktok.verdict("desktop") == ("correct", "ok",
                                         "silent before a choice, stops after reject, fires after accept")
    accept = tiktok.cells["desktop", "accept"]
    assert accept.after_choice and accept.fired == 2 and accept.pre_consent == []
    assert audit_exit_code(audit_runs(), "error") == 1


def test_an_unknown_consent_state_is_never_judged_correct():
    runs = [audit_run("none"), audit_run("reject", click_fails=True), audit_run("accept")]
    m = rows(runs)
    assert m["tiktok"].cells["desktop", "reject"].verdict == "unknown"
    assert m["tiktok"].verdict("desktop") == ("unknown", "unknown", "not judged: the consent state is unknown in reject")
    assert m["meta"].verdict("desktop").code == "pre-consent"  # the errors stand: no choice was ever made
    page = render_audit_html(runs, "error")
    assert "click failed: no button matched" in page and "Runs whose consent state is unknown" in page


def test_without_a_cmp_firing_is_said_not_judged():
    """No CMP on the site, so nothing to consent to: the pixel fired, and no error is made up."""
    runs = [audit_run("none", cmp=False), audit_run("reject", cmp=False)]
    m = rows(runs)
    assert m["meta"].cells["desktop", "none"].verdict == "fired"
    assert m["meta"].verdict("desktop").code == "unknown"  # "no CMP found" when asked to reject
    assert rows(runs[:1])["meta"].verdict("desktop") == ("unconditional", "note",
                                                         "fires in none without a consent finding")
    assert audit_exit_code(runs, "error") == 0
    assert "OK: 0 errors" in render_audit_html(runs, "error")


def test_consent_mode_pings_after_reject_are_said_not_made_errors():
    """GA4 sends cookieless pings marked denied (gcs=G100) after "reject all", as consent mode is meant
    to: the consent check makes no finding, so neither does the matrix."""
    runs = [audit_run("none"), audit_run("reject", extra=(ga4(T0 + 3, gcs="G100"),))]
    [google] = [r for r in Matrix.of(runs).rows() if r.platform == "google"]
    cell = google.cells["desktop", "reject"]
    assert (cell.verdict, cell.fired, cell.after_choice) == ("fired", 1, True)
    assert google.verdict("desktop") == ("unconditional", "note", "fires in reject without a consent finding")


def test_two_devices_are_columns_of_their_own():
    runs = audit_runs() + [audit_run(s, device="iPhone 13", client="10.0.0.5") for s in ("none", "reject", "accept")]
    matrix = Matrix.of(runs)
    assert matrix.columns()[:4] == [("desktop", "none"), ("desktop", "reject"), ("desktop", "accept"),
                                    ("iPhone 13", "none")]
    [tiktok] = [r for r in matrix.rows() if r.platform == "tiktok"]
    assert tiktok.verdict("iPhone 13").code == "correct"
    doc = json.loads(render_audit(runs, "json", "error"))
    assert {c["device"] for row in doc["matrix"] for c in row["cells"]} == {"desktop", "iPhone 13"}


HOSTILE = "<script>alert(\"x\")</script>'&amp;"
HOSTILE_PAGE = "https://www.shop.example/<script>alert(1)</script>?q=\"'&x"


def test_wire_text_is_escaped_and_only_http_urls_are_links():
    runs = [audit_run("none", meta_event=HOSTILE, page=HOSTILE_PAGE, har='audit/"><script>x</script>.har'),
            audit_run("reject", meta_event=HOSTILE, page="javascript:alert(document.cookie)",
                      har="javascript:alert(1)")]
    runs[0].pages.append("javascript:alert(2)")
    page = render_audit(runs, "html", "error")
    assert "<script" not in page.lower() and "src=" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#x27;&amp;amp;" in page  # shown, as text
    parsed = Tags(page)
    assert {t for t, _ in parsed.tags} <= TAGS
    assert not [a for _, attrs in parsed.tags for a in attrs if a.startswith("on")]
    hrefs = parsed.hrefs()
    assert "audit/%22%3E%3Cscript%3Ex%3C/script%3E.har" in hrefs and "javascript%3Aalert%281%29" in hrefs
    assert all(h.startswith(("https://", "audit/", "javascript%3A")) for h in hrefs), hrefs
    assert not [h for h in hrefs if h.lower().startswith("javascript:")]
    assert 'href="https://www.shop.example/&lt;script&gt;alert(1)&lt;/script&gt;"' in page  # a link, escaped
    assert "javascript:alert(document.cookie)" in page and "javascript:alert(2)" in page  # as text only
    # The page may load and run nothing, whatever slipped through.
    assert "Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"" in page


def _flood(n: int) -> FileReport:
    """n Meta events, every third with a finding, through a tally as `check` reads a file."""
    tally = EventTally()
    for i in range(n):
        findings = [Finding("missing-param", Severity.warning, f"w{i}")] if i % 3 == 0 else []
        tally(TrackingEvent(platform="meta", pixel_id=META, event=f"Ev{i % 40}", time=1e9 + i,
                            page_url=f"https://shop.example/p/{i}", findings=findings), False)
    return FileReport("flood.har", tally=tally)


def test_sizes_are_bounded(monkeypatch):
    monkeypatch.setattr(report, "MAX_POINTS", 300)
    monkeypatch.setattr(report_html, "MAX_MARKS", 100)
    monkeypatch.setattr(report_html, "MAX_FINDINGS", 7)
    monkeypatch.setattr(report_html, "MAX_GROUPS", 10)
    r = _flood(400)
    assert len(r.tally.points()) == 300 and r.tally.points_left_out == 100
    page = report_html.render_html([r], "error")
    assert page.count("<rect x=") - page.count('height="18"') == 100  # marks, besides the lanes' backgrounds
    assert "300 more events not drawn" in page
    assert Tags(page).tags.count(("li", {})) < 10 * 6 + 7 + 5
    assert "127 more findings left out" in page and "30 more event groups left out" in page
    # Marks with findings are drawn first: every one of the 100 is a warning.
    assert page.count("#e08a00\"><title>") == 100


def test_the_long_strings_of_a_hostile_file_are_cut():
    ev = TrackingEvent(platform="meta", pixel_id=META, event="E" * 100_000, page_url="https://x.example/" + "p" * 100_000,
                       findings=[Finding("pii-leak", Severity.error, "m" * 100_000, hint="h" * 100_000)])
    page = report_html.render_html([FileReport("big.har", [ev])], "error")
    assert len(page) < 60_000


def test_check_format_html_end_to_end(tmp_path, capsys):
    har = CASES / "styli-home.har"
    out = tmp_path / "report.html"
    code = main(["check", str(har), "--format", "html", "-o", str(out), "--allow-empty"])
    assert code == main(["check", str(har), "--format", "json", "--allow-empty"])
    doc = json.loads(capsys.readouterr().out)
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert f"<h2>{har}</h2>" in page and "<svg" in page and "<script" not in page.lower()
    assert f"{doc['files'][0]['events']:,} events" in page
    for row in doc["files"][0]["event_counts"][:5]:
        assert report_html.esc(row["title"]) in page
    assert all(h.startswith(("http://", "https://", "#file-")) for h in Tags(page).hrefs())


def _file(path: str, *findings: tuple[str, str, str], n: int = 1, ev_id: str | None = None) -> FileReport:
    """A file of n Meta events, each with the findings (code, severity, message)."""
    events = [TrackingEvent(platform="meta", pixel_id=META, event="PageView", page_url="https://shop.example/",
                            findings=[Finding(c, Severity(s), m, hint="hint <b>") for c, s, m in findings])
              for _ in range(n)]
    if ev_id:
        events[0].id = ev_id
    return FileReport(path, events)


def test_check_html_opens_with_the_files_failing_first():
    reports = [_file("clean.har"), _file("warn.har", ("missing-param", "warning", "w")),
               _file("err.har", ("pii-leak", "error", "e")), _file("broken.har"),
               _file("warn2.har", ("missing-param", "warning", "w"), n=3)]
    reports[3] = FileReport("broken.har", error="not a HAR file")
    page = report_html.render_html(reports, "error")
    table = page[page.index("<th>File</th>"):page.index("</table>")]
    rows = [(a["href"], table.index(a["href"])) for t, a in Tags(table).tags if t == "a"]
    assert [h for h, _ in rows] == ["#file-4", "#file-3", "#file-5", "#file-2", "#file-1"]
    assert 'href="#file-3">err.har</a></td><td>1</td><td>1</td><td>0</td><td>0</td>' in table
    assert 'FAIL (unreadable input)' in table and table.count('"badge ok">OK<') == 3
    ids = [a["id"] for t, a in Tags(page).tags if t == "section"]
    assert ids == ["file-1", "file-2", "file-3", "file-4", "file-5"]  # every link lands


def test_html_groups_findings_alike_and_shows_related_ids():
    r = _file("g.har", ("cookies-disabled", "info", "no fbp"), n=19)
    lead = TrackingEvent(platform="meta", pixel_id=META, event="Lead", findings=[
        Finding("plan-visit", Severity.info, "visit", related=["e-hit-1", "e-hit-2"])])
    r = FileReport("g.har", [*(ev for ev in r.tally.flagged()), lead])
    page = report_html.render_html([r], "error")
    findings = page[page.index('<ol class="findings">'):]
    assert findings.count("<li><span class=\"badge") == 2 and "<b>×19</b>" in findings
    assert findings.count("<details><summary>19 events: ") == 1 and "and 9 more</summary>" in findings
    assert findings.count("Hint: hint &lt;b&gt;") == 1
    assert '<p class="muted">Related: e-hit-1, e-hit-2</p>' in findings


def test_grouped_findings_keep_wire_text_inert():
    hostile = '<script>alert("x")</script>'
    r = _file("h.har", ("invalid-value", "warning", hostile + "\x1b[2J"), n=3, ev_id=hostile)
    page = report_html.render_html([r], "error")
    assert "<script" not in page.lower() and "\x1b" not in page
    assert page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") >= 3  # message, id in summary and list
    assert {t for t, _ in Tags(page).tags} <= TAGS


@pytest.mark.parametrize("fmt", ["text", "json", "junit", "html"])
def test_every_audit_format_renders_the_same_runs(fmt):
    out = render_audit(audit_runs(), fmt, "error")
    assert "CN8J4Q3C77U0N4A9CVAG" in out and "audit/reject-desktop.har" in out

