"""The summary screen (s) counts every event of the session, those memory let go too (a session
file recording keeps few in memory), with their findings as they are now."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from textual.widgets import Static

from pixelspy.store import queries, reader
from pixelspy.tui.screens import SummaryScreen
from tests.tui.test_app import until
from tests.tui.test_never_lose_work import hit
from tests.tui.test_session_file import recorded_app


def table_rows(app) -> list[tuple[str, ...]]:
    """The rows of the summary's tables, as cells."""
    console = Console(width=160, record=True)
    console.print(app.screen.query_one(Static).content)
    return [tuple(cell.strip() for cell in line.split("│")[1:-1])
            for line in console.export_text().splitlines() if line.startswith("│")]


async def test_the_summary_counts_the_events_memory_let_go(tmp_path):
    app, writer = recorded_app(tmp_path, max_events=2)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            # The later Purchases flag the earlier ones, evicted by then, as duplicates.
            for ev in ("PageView", "ViewContent", "Purchase", "AddToCart", "Purchase", "Purchase"):
                app.session.ingest(hit(ev))
            await until(pilot, lambda: app.event_list.row_count == 6 and app.session.dropped == 4)
            await pilot.press("s")
            await until(pilot, lambda: isinstance(app.screen, SummaryScreen))
            rows = table_rows(app)
            writer.flush()
            in_file = writer.read(reader.events_at, seqs=list(writer.read(queries.filter_seqs)))
            every = [app.session.event(ev.id) for _, ev in sorted(in_file.items())]
    finally:
        writer.close()
    assert len(every) == 6
    findings = Counter((f.code, f.severity.value) for ev in every for f in ev.findings)
    assert findings[("duplicate-event", "warning")] == 3
    assert {("meta", "Purchase", "3"), ("meta", "PageView", "1"), ("meta", "1234567890123456", "browser", "6")} <= set(rows)
    assert {(code, severity, str(n)) for (code, severity), n in findings.items()} <= set(rows)
