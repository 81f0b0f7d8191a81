"""The indexed queries a viewer filters a session file with (the TUI's filter language, pixelspy/tui/
filters.py, says what to ask): the seqs of the matching events, from the indexes alone where the file
has them, stoppable when a newer filter supersedes the query."""

from __future__ import annotations

import sqlite3
import sys
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from itertools import filterfalse

from pixelspy.store.reader import last_seq
from pixelspy.store.records import row_words
from pixelspy.store.schema import FTS_TABLE, SEVERITY_RANK, has_fts_table, words_upto

# The filters a viewer asks for, each an indexed column.
FILTER_COLUMNS = ("platform", "pixel", "event", "device")


_IN_JSON = "json LIKE ? ESCAPE '\\'"


def _like(word: str) -> str:
    """A LIKE pattern (for _IN_JSON) matching `word` anywhere."""
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class Stopped(Exception):
    """A filter's query stopped by its `stop` (a newer filter asked), or over its time budget."""


# How often (in steps of SQLite's virtual machine: ≈ 10 ms) a filter's query asks whether to stop:
# each check waits for the GIL (up to the switch interval, 1 ms in pixelspy's process, when the
# event loop draws), so not often.
STOP_CHECK_STEPS = 100_000
# The newest rows first (`newest`) get this much CPU time; a filter matching few rows far back costs
# a scan of the file that way: the whole answer comes by the indexes instead.
NEWEST_BUDGET_S = 0.03


@dataclass
class _Indexed:
    """`expr IN (values)`, which an index answers alone (with the seq each entry holds); `expr`
    names the columns of table alias `{t}` (empty: events)."""

    index: str
    expr: str
    values: list

    def on(self, alias: str = "") -> str:
        return f"{self._expr(alias)} IN ({','.join('?' * len(self.values))})"

    def probe(self) -> str:
        """The condition for a row of events found by another index: a seek in this one's (seq
        included), ≈ 3× cheaper than reading the row (≈ 2 KB of JSON in it)."""
        return f"EXISTS (SELECT 1 FROM events AS k INDEXED BY {self.index} WHERE k.seq = events.seq AND {self.on('k')})"

    def outside(self, db: sqlite3.Connection, after: int, upto: int) -> tuple[str, list]:
        """The seqs in (after, upto] it does not match, ascending, as a query of its index alone and
        its args (NOT IN, or an OR of ranges, made SQLite read every entry or row): a range of the
        index for each other value it holds, one alone already in seq order (kind:event: the
        pixel_loaded rows, no sort: half the time of the ranges around `values` merged); where the
        column has more than MOST_OTHER_VALUES others, the ranges around `values`."""
        e = self._expr("")
        others = self._other_values(db)
        if others is None:
            values = sorted(self.values)
            parts = [(f"{e} < ?", [values[0]]), *((f"{e} > ? AND {e} < ?", [a, b]) for a, b in zip(values, values[1:])),
                     (f"{e} > ?", [values[-1]])]
        else:
            parts = [(f"{e} = ?", [v]) for v in others]
        if db.execute(f"SELECT 1 FROM events INDEXED BY {self.index} WHERE {e} IS NULL LIMIT 1").fetchone():
            parts.append((f"{e} IS NULL", []))
        if not parts:
            return "SELECT seq FROM events WHERE 0", []
        # (INDEXED BY: SQLite would read the table in seq order, every row, to merge the parts sorted)
        sql = " UNION ALL ".join(f"SELECT seq FROM events INDEXED BY {self.index} WHERE {r} AND seq > ? AND seq <= ?"
                                 for r, _ in parts)
        if len(parts) > 1:
            sql = f"SELECT seq FROM ({sql}) ORDER BY seq"
        return sql, [a for _, args in parts for a in (*args, after, upto)]

    def _other_values(self, db: sqlite3.Connection) -> list | None:
        """The values of the index but this one's (a seek each), None when more than MOST_OTHER_VALUES."""
        e, mine = self._expr(""), set(self.values)
        sql = f"SELECT min({e}) FROM events INDEXED BY {self.index}"
        found: list = []
        value = db.execute(sql).fetchone()[0]
        while value is not None:
            if value not in mine:
                if len(found) == MOST_OTHER_VALUES:
                    return None
                found.append(value)
            value = db.execute(f"{sql} WHERE {e} > ?", (value,)).fetchone()[0]
        return found

    def _expr(self, alias: str) -> str:
        return self.expr.format(t=f"{alias}." if alias else "")


# A column with more values than this besides a filter's: its rows left out are read as the ranges
# around the filter's values (the values found by a seek each).
MOST_OTHER_VALUES = 64
# The events with a finding matching {}, as the seqs (a set SQLite makes once): the rows of the events
# found by another index are not read for their id (each ≈ 1 µs: 330 ms for code:X platform:Y).
_WITH_FINDING = "seq IN (SELECT e.seq FROM findings JOIN events AS e ON e.id = findings.event_id WHERE {})"
# A combination of indexed conditions is driven by the one with the fewest matches among the newest
# this many seqs (counted in its index: ≈ 1 ms each), the others probed in their indexes.
ESTIMATE_ROWS = 20_000


def filter_seqs(db: sqlite3.Connection, *, after: int = 0, upto: int | None = None,
                any_of: dict[str, set[str]] | None = None, pixels: set[str] | None = None,
                finding_severities: set[str] | None = None, finding_codes: set[str] | None = None,
                has_findings: bool = False, words: list[str] | tuple[str, ...] = (),
                newest: int | None = None, stop: Callable[[], bool] | None = None) -> array | AllBut:
    """The seqs of the events in (after, upto] matching every condition given, ascending (the TUI's
    filter language), 8 bytes each (most rows, on one column: the rows but those left out, AllBut):
    `any_of` column → values (platform, event, device, source, kind; one of the values each),
    `pixels` (any case), a finding of one of `finding_severities` / `finding_codes`, any finding,
    and each of `words` as the start of a word of the names, params or page (FTS5), or anywhere in
    the event's JSON where the file has no full-text index.

    `newest`: only the last `newest` of them (a screenful, before the whole answer), within
    NEWEST_BUDGET_S. `stop()` true stops the query (Stopped), as does the budget.
    The indexes hold the seq: a filter on columns or the words reads no event row (schema 3: every
    column the filters name has an index; several columns: the rarest drives, see _driver). The
    rows past the full-text index (the writer feeds it about every second) are read (_past_index)."""
    conditions = {"any_of": any_of, "pixels": pixels, "finding_severities": finding_severities,
                  "finding_codes": finding_codes, "has_findings": has_findings}
    if words and has_fts_table(db):
        if any("\x00" in w for w in words):  # (no word of the index holds one; FTS5 cannot parse it)
            return array("q")
        if (end := _index_end(db, after, upto)) is not None:
            return _past_index(db, end, list(words), after, upto, newest, stop, conditions)
        return _with_words(db, list(words), after, upto, newest, stop, conditions)
    return _columns(db, after, upto, words, newest, stop, **conditions)


def _columns(db: sqlite3.Connection, after: int, upto: int | None, words: list[str] | tuple[str, ...],
             newest: int | None, stop: Callable[[], bool] | None, any_of: dict[str, set[str]] | None,
             pixels: set[str] | None, finding_severities: set[str] | None, finding_codes: set[str] | None,
             has_findings: bool, among_words: tuple[str, list] | None = None) -> array | AllBut:
    """filter_seqs but for words of a full-text index (`words`: a scan of the events' JSON);
    `among_words`: the words' seqs as a query (_words), which the rows must be among, unless most
    rows pass (AllBut: the caller takes the words' seqs but those left out)."""
    where: list[str] = ["seq > ?"]
    args: list[object] = [after]
    if upto is not None:
        where.append("seq <= ?")
        args.append(upto)
    ranged = len(where)
    indexed: list[_Indexed] = []

    def among(sql: str, values: set[str]) -> None:
        where.append(sql.replace("?", ",".join("?" * len(values))) if values else "0")
        args.extend(sorted(values))

    for column, values in (any_of or {}).items():
        if column not in (*FILTER_COLUMNS, "source", "kind"):
            raise ValueError(f"no filter on {column}")
        indexed.append(_Indexed(f"events_{column}", f"{{t}}{column}", sorted(values)))
    if pixels is not None:
        lowered = sorted({p.lower() for p in pixels})
        indexed.append(_Indexed("events_pixel", "lower({t}pixel)", lowered))
    if any(not c.values for c in indexed):  # (a key with no value left: device:NAME naming no device)
        return array("q")
    # The newest rows are looked for from the last one back: a finding of each row looked up (a
    # screenful is found soon); the whole answer reads the findings' index once.
    finding = ("EXISTS (SELECT 1 FROM findings WHERE event_id = events.id AND {} IN (?))" if newest
               else _WITH_FINDING.format("findings.{} IN (?)"))
    if finding_severities is not None and not newest:
        where.append(_severities(finding_severities, args))
    elif finding_severities is not None:
        among(finding.format("severity"), finding_severities)
    if finding_codes is not None:
        among(finding.format("code"), finding_codes)
    if finding_severities and indexed and not newest and (ranks := _ranks_from(finding_severities)):
        # (An event with such a finding is worst at least that bad: with another column, the events'
        # index narrows it; alone, SQLite answers best by its OR of two indexes.)
        indexed.append(_Indexed("events_severity", "{t}severity", ranks))
    elif has_findings or finding_codes or (newest and finding_severities):
        # Every finding ranks ≥ 1 (info). Decode errors come with a finding (checks/decode.py): the
        # JSON, which alone lists them, is not read (a scan of every row). (IN, not >: SQLite then
        # reads the severity index rather than every row. A finding's code, and the newest with a
        # finding, looked up among the events with any, not among all.)
        ranks = sorted(set(SEVERITY_RANK.values()))
        indexed.append(_Indexed("events_severity", "{t}severity", ranks))
    if (len(indexed) == 1 and len(where) == ranged and not newest and not words and _has_filter_indexes(db)
            and 2 * _recent_matches(db, indexed[0], after, upto) > ESTIMATE_ROWS):
        # Most rows pass the column: its answer is the rows it leaves out (an index's few ranges).
        return _all_but(db, indexed[0], after, upto, stop)
    table = "events"
    if len(indexed) > 1 and not newest and _has_filter_indexes(db):
        driver = _driver(db, indexed, after, upto)
        table = f"events INDEXED BY {driver.index}"
        indexed = [driver, *(c for c in indexed if c is not driver)]
        conditions = [driver.on(), *(c.probe() for c in indexed[1:])]
    else:
        conditions = [c.on() for c in indexed]
    where[ranged:ranged] = conditions  # (first: checked before what needs the row)
    args[ranged:ranged] = [a for c in indexed for a in c.values]
    for w in words:
        where.append(_IN_JSON)
        args.append(_like(w))
    if among_words is not None:
        where.append(f"seq IN ({among_words[0]})")
        args.extend(among_words[1])
    order = " ORDER BY seq DESC LIMIT ?" if newest else " ORDER BY seq"
    tail = [newest] if newest else []
    return _seqs(db, f"SELECT seq FROM {table} WHERE " + " AND ".join(where) + order, [*args, *tail], newest, stop)


# The newest rows of words with other conditions are looked for in this many seqs from the last
# one back, then twice as many before them, and so on (within NEWEST_BUDGET_S).
NEWEST_WINDOW = 4096


def _with_words(db: sqlite3.Connection, words: list[str], after: int, upto: int | None, newest: int | None,
                stop: Callable[[], bool] | None, conditions: dict) -> array:
    """filter_seqs with a full-text index: the other conditions' rows among the words' seqs; where
    most rows pass them (AllBut), the words' seqs but the rows they leave out, met in Python, no
    row of either looked up in the other (kind:event purchase: the words' 247,080 seqs but the
    190,317 pixel_loaded ones)."""
    upto = last_seq(db) if upto is None else upto  # (one range for both: the writer goes on)
    if not (conditions["has_findings"] or conditions["any_of"]
            or any(conditions[k] is not None for k in ("pixels", "finding_severities", "finding_codes"))):
        return _word_seqs(db, words, after, upto, newest, stop)

    def with_words(low: int, top: int, bounded: bool = True) -> array:
        words_in = _words(words, low, top if bounded else None)  # (the rows are bounded: the words need not be)
        rows = _columns(db, low, top, (), None, stop, among_words=words_in, **conditions)
        return _but(_word_seqs(db, words, low, top, None, stop), rows) if isinstance(rows, AllBut) else rows

    if not newest:
        return with_words(after, upto, bounded=False)
    # The newest: asked in a window of seqs from the last one back, growing.
    deadline = time.thread_time() + NEWEST_BUDGET_S
    found, top, window = array("q"), upto, NEWEST_WINDOW
    while top > after and len(found) < newest:
        low = max(after, top - window)
        found[:0] = with_words(low, top)
        if time.thread_time() > deadline:
            raise Stopped
        top, window = low, 2 * window
    return found[-newest:]


def _words(words: list[str], after: int, upto: int | None) -> tuple[str, list]:
    """The seqs in (after, upto] of the events with each of `words`, as a query (the full-text index)
    and its args: every use of the full-text index by the filters goes through here. (A bound not
    needed is left out: each costs FTS5 ≈ 1 % a row.)"""
    bounds = [(f"rowid {op} ?", seq) for op, seq in ((">", after or None), ("<=", upto)) if seq is not None]
    return (" AND ".join(["SELECT rowid AS seq FROM events_fts WHERE events_fts MATCH ?", *(b for b, _ in bounds)]),
            [_match(words), *(seq for _, seq in bounds)])


def _word_seqs(db: sqlite3.Connection, words: list[str], after: int, upto: int, newest: int | None,
               stop: Callable[[], bool] | None) -> array:
    """The seqs in (after, upto] of the events with each of `words`, ascending; `newest`: the last
    that many, within NEWEST_BUDGET_S."""
    sql, args = _words(words, after, upto)
    order = " ORDER BY rowid DESC LIMIT ?" if newest else " ORDER BY rowid"
    return _seqs(db, sql + order, [*args, *([newest] if newest else [])], newest, stop)


def _but(found: array, rows: AllBut) -> array:
    """The seqs of `found` (ascending, in the range of `rows`) but those `rows` leaves out: a set of
    those, `found` filtered (C loops: ≈ 0.1 µs a seq)."""
    left_out = set(rows.left_out)
    return array("q", filterfalse(left_out.__contains__, found))


def _match(words: list[str] | tuple[str, ...]) -> str:
    """FTS5's query: each word as the start of a word, all of them."""
    return " ".join('"' + w.replace('"', '""') + '"*' for w in words)


def _index_end(db: sqlite3.Connection, after: int, upto: int | None) -> int | None:
    """Where the full-text index ends when (after, upto] has rows past it (the writer feeds it about
    every second: schema.words_upto); None: it holds them all."""
    if (end := words_upto(db)) is None:
        return None
    return end if (last_seq(db) if upto is None else upto) > max(after, end) else None


def _past_index(db: sqlite3.Connection, end: int, words: list[str], after: int, upto: int | None,
                newest: int | None, stop: Callable[[], bool] | None, conditions: dict) -> array:
    """filter_seqs with words of a range with rows past the full-text index's `end`: those before it
    by the index, those past it (few: about a second's worth) by reading their words
    (_read_words), met with the other conditions' answer for them."""
    upper = last_seq(db) if upto is None else upto
    start = max(after, end)
    others = _columns(db, start, upper, (), None, stop, **conditions)
    tail = array("q", sorted(set(_read_words(db, words, start, upper)).intersection(others)))
    if newest:
        tail = tail[-newest:]
        if len(tail) >= newest:
            return tail
    if after >= end:
        return tail
    return _with_words(db, words, after, end, newest and newest - len(tail), stop, conditions) + tail


# Rows past the full-text index read into the scratch index at a time: live, a second's worth; a
# file (hostile, or recorded by a writer that never fed) may say its index holds none of its rows.
READ_WORDS_ROWS = 5_000


def _read_words(db: sqlite3.Connection, words: list[str], after: int, upto: int) -> list[int]:
    """The seqs in (after, upto] with each of `words` as the start of a word, rows the file's
    full-text index does not hold: their words put in the same index made in memory (its tokenizer:
    the answer the file's index will give; a LIKE over the JSON would match more), READ_WORDS_ROWS
    at a time."""
    found: list[int] = []
    scratch = sqlite3.connect(":memory:")
    try:
        scratch.execute(FTS_TABLE)
        for low in range(after, upto, READ_WORDS_ROWS):
            rows = db.execute("SELECT seq, json FROM events WHERE seq > ? AND seq <= ?",
                              (low, min(upto, low + READ_WORDS_ROWS)))
            scratch.execute("INSERT INTO events_fts (events_fts) VALUES ('delete-all')")  # (contentless)
            scratch.executemany("INSERT INTO events_fts (rowid, name, params, page) VALUES (?, ?, ?, ?)",
                                ((seq, *row_words(text)) for seq, text in rows))
            found += [seq for (seq,) in scratch.execute("SELECT rowid FROM events_fts WHERE events_fts MATCH ? "
                                                        "ORDER BY rowid", (_match(words),))]
    finally:
        scratch.close()
    return found


def _has_filter_indexes(db: sqlite3.Connection) -> bool:
    """Whether the file has an index on every column the filters name (schema 3; a file of an older
    pixelspy opened to read has not: SQLite plans alone there)."""
    found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'events_kind'").fetchone()
    return found is not None


def _driver(db: sqlite3.Connection, indexed: list[_Indexed], after: int, upto: int | None) -> _Indexed:
    """The condition with the fewest matches among the newest seqs: it drives the query, the others
    are probed (SQLite, without statistics, takes any; driving `kind:event pixel:ID` by the kind
    index read 810,000 rows for 95,000: 850 ms, against 67 ms)."""
    return min(indexed, key=lambda c: _recent_matches(db, c, after, upto))


def _recent_matches(db: sqlite3.Connection, c: _Indexed, after: int, upto: int | None) -> int:
    """How many of the newest ESTIMATE_ROWS seqs of (after, upto] `c` matches (as many as a range
    of fewer holds, scaled), counted in its index."""
    upto = last_seq(db) if upto is None else upto
    low = max(after, upto - ESTIMATE_ROWS)
    sql = f"SELECT count(*) FROM events INDEXED BY {c.index} WHERE {c.on()} AND seq > ? AND seq <= ?"
    found = db.execute(sql, [*c.values, low, upto]).fetchone()[0]
    return found * ESTIMATE_ROWS // max(1, upto - low)


class AllBut:
    """A filter's answer of most rows, as the seqs of (after, upto] but those `left_out` (ascending):
    8 bytes a row left out, rather than a row listed (source:browser at a million events: the few
    others read, not the million). A sequence of seqs, as an array of them is; `grow` adds rows."""

    def __init__(self, after: int, upto: int, left_out: array) -> None:
        self.after, self.upto, self.left_out = after, upto, left_out

    def __len__(self) -> int:
        return self.upto - self.after - len(self.left_out)

    def __getitem__(self, i: int | slice) -> int | array:
        if isinstance(i, slice):  # (a few rows: the newest screenful)
            return array("q", (self[k] for k in range(*i.indices(len(self)))))
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        seq = self.after + 1 + i  # (were none left out)
        lo, hi = 0, len(self.left_out)  # those left out before it: left_out[j] - j <= seq
        while lo < hi:
            mid = (lo + hi) // 2
            if self.left_out[mid] - mid <= seq:
                lo = mid + 1
            else:
                hi = mid
        return seq + lo

    def grow(self, last: int, passing: list[int]) -> None:
        """Rows upto + 1 … last come, of which `passing` pass."""
        listed = set(passing)
        self.left_out.extend(s for s in range(self.upto + 1, last + 1) if s not in listed)
        self.upto = last


def _all_but(db: sqlite3.Connection, c: _Indexed, after: int, upto: int | None,
             stop: Callable[[], bool] | None) -> AllBut:
    upto = last_seq(db) if upto is None else upto
    outside, args = c.outside(db, after, upto)
    return AllBut(after, upto, _seqs(db, outside, args, None, stop))


def _ranks_from(severities: set[str]) -> list[int]:
    """The ranks an event's worst finding can have when it has a finding of one of `severities`."""
    known = [SEVERITY_RANK[s] for s in severities if s in SEVERITY_RANK]
    return [r for r in sorted(set(SEVERITY_RANK.values())) if known and r >= min(known)]


def _severities(severities: set[str], args: list[object]) -> str:
    """A finding of one of `severities`, for the whole answer: an event whose worst finding is one of
    them has one (the events' severity index answers), one whose worst is worse may have (its
    findings looked up); 22 ms for sev:warning at a million events, against 54 ms with every
    warning's event looked up by id and the seqs sorted after."""
    ranks = {SEVERITY_RANK[s] for s in severities if s in SEVERITY_RANK}
    worse = sorted({r for r in SEVERITY_RANK.values() if ranks and r > min(ranks)} - ranks)
    if not ranks:
        return "0"
    clause = f"severity IN ({','.join(map(str, sorted(ranks)))})"
    if worse:
        clause += (f" OR (severity IN ({','.join(map(str, worse))}) AND "
                   + _WITH_FINDING.format(f"findings.severity IN ({','.join('?' * len(severities))})") + ")")
        args.extend(sorted(severities))
    return f"({clause})"


def scans_rows(db: sqlite3.Connection, words: list[str] | tuple[str, ...]) -> bool:
    """Whether filter_seqs reads every event's JSON for these words (no full-text index): a caller
    then asks a range of seqs at a time."""
    return bool(words) and not has_fts_table(db)


def _seqs(db: sqlite3.Connection, sql: str, args: list[object], newest: int | None = None,
          stop: Callable[[], bool] | None = None) -> array:
    """The seqs `sql` selects, in its order (group_concat keeps the order of its FROM), ascending
    (`newest`: `sql` gives them descending). One step of SQLite rather than one per row, each
    handing the GIL over, and no Python object per row (16 hex digits a seq, read as bytes:
    big-endian)."""
    # (This thread's CPU time, SQLite's work included: a loaded machine does not spend the budget.)
    deadline = time.thread_time() + NEWEST_BUDGET_S if newest else None
    stopped = False

    def check() -> bool:
        nonlocal stopped
        stopped = (stop is not None and stop()) or (deadline is not None and time.thread_time() > deadline)
        return stopped

    if stop is not None or deadline is not None:
        db.set_progress_handler(check, STOP_CHECK_STEPS)
    try:
        (text,) = db.execute(f"SELECT group_concat(printf('%016x', seq), '') FROM ({sql})", args).fetchone()
    except sqlite3.OperationalError:
        if stopped:
            raise Stopped from None
        raise
    finally:
        db.set_progress_handler(None, 0)
    seqs = array("q", bytes.fromhex(text or ""))
    if sys.byteorder == "little":
        seqs.byteswap()
    if newest:
        seqs.reverse()
    return seqs
