"""The indexed queries a viewer filters a session file with (the TUI's filter language, pixelspy/tui/
filters.py, says what to ask): the seqs of the matching events, from the indexes alone where the file
has them, stoppable when a newer filter supersedes the query."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass

from pixelspy.store.reader import last_seq
from pixelspy.store.records import row_words
from pixelspy.store.schema import FTS_TABLE, SEVERITY_RANK, has_fts_table, words_upto

# The filters a viewer asks for, each an indexed column.
FILTER_COLUMNS = ("platform", "pixel", "event", "device")


_IN_JSON = "json LIKE ? ESCAPE '\\'"


def _like(word: str) -> str:
    """A LIKE pattern (for _IN_JSON) matching `word` anywhere."""
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def query_ids(db: sqlite3.Connection, *, words: str = "", min_severity: int = 0, since: float | None = None,
              limit: int = 1000, **equal: str) -> list[str]:
    """Ids of the events matching, oldest first: columns equal (platform, pixel, event, device), worst
    finding at least min_severity, time from `since`, and `words` in names, params or page (FTS5 where
    the file has it, a LIKE scan otherwise)."""
    where, args = [], []
    for column, value in equal.items():
        if column not in FILTER_COLUMNS:
            raise ValueError(f"no filter on {column}")
        where.append(f"{column} = ?")
        args.append(value)
    if min_severity:
        where.append("severity >= ?")
        args.append(min_severity)
    if since is not None:
        where.append("time >= ?")
        args.append(since)
    if words.strip():
        if has_fts_table(db):  # (each word a whole word)
            where.append("seq IN (SELECT value FROM json_each(?))")
            args.append(json.dumps(word_seqs(db, words.split(), prefix=False).tolist()))
        else:
            for w in words.split():
                where.append(_IN_JSON)
                args.append(_like(w))
    sql = "SELECT id FROM events" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq LIMIT ?"
    return [r[0] for r in db.execute(sql, (*args, limit))]


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

    def outside(self, after: int, upto: int) -> tuple[str, list]:
        """The seqs in (after, upto] it does not match, from the ranges of its index around the
        values (NOT IN, or an OR of the ranges, reads every entry or row), and their args."""
        e, values = self._expr(""), sorted(self.values)
        ranges = [(f"{e} < ?", [values[0]]), *((f"{e} > ? AND {e} < ?", [a, b]) for a, b in zip(values, values[1:])),
                  (f"{e} > ?", [values[-1]]), (f"{e} IS NULL", [])]
        # (INDEXED BY: SQLite would read the table in seq order, every row, to merge the parts sorted)
        sql = " UNION ALL ".join(f"SELECT seq FROM events INDEXED BY {self.index} WHERE {r} AND seq > ? AND seq <= ?"
                                 for r, _ in ranges)
        return sql, [a for _, args in ranges for a in (*args, after, upto)]

    def _expr(self, alias: str) -> str:
        return self.expr.format(t=f"{alias}." if alias else "")


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
    rows past the full-text index (the writer feeds it about every second) are matched by word_seqs."""
    conditions = dict(any_of=any_of, pixels=pixels, finding_severities=finding_severities,
                      finding_codes=finding_codes, has_findings=has_findings, stop=stop)
    if words and (end := _index_end(db, after, upto)) is not None:
        return _past_index(db, end, after, upto, words, newest, conditions)
    return _filter(db, after=after, upto=upto, words=words, newest=newest, **conditions)


def _filter(db: sqlite3.Connection, *, after: int, upto: int | None, any_of: dict[str, set[str]] | None,
            pixels: set[str] | None, finding_severities: set[str] | None, finding_codes: set[str] | None,
            has_findings: bool, words: list[str] | tuple[str, ...], newest: int | None,
            stop: Callable[[], bool] | None) -> array | AllBut:
    """filter_seqs where the full-text index holds every row of (after, upto] (or the file has none)."""
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
    fts = bool(words) and has_fts_table(db)
    if fts and any("\x00" in w for w in words):  # (no word of the index holds one; FTS5 cannot parse it)
        return array("q")
    if (len(indexed) == 1 and len(where) == ranged and not newest and (fts or not words)
            and _has_filter_indexes(db) and 2 * _recent_matches(db, indexed[0], after, upto) > ESTIMATE_ROWS):
        # Most rows pass the column: its answer is the rows it leaves out (an index's few ranges).
        if not words:
            return _all_but(db, indexed[0], after, upto, stop)
        # With words: the words' rows but those (kind:event purchase: 160 ms, against 250 ms with
        # the column's index driving, each of its 810,000 rows looked for among the words').
        upper = last_seq(db) if upto is None else upto
        outside, outside_args = indexed[0].outside(after, upper)
        sql = ("SELECT rowid AS seq FROM events_fts WHERE events_fts MATCH ? AND rowid > ? AND rowid <= ? "
               f"AND rowid NOT IN ({outside}) ORDER BY rowid")
        return _seqs(db, sql, [_match(words), after, upper, *outside_args], None, stop)
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
    order = " ORDER BY seq DESC LIMIT ?" if newest else " ORDER BY seq"
    tail = [newest] if newest else []
    if fts:
        match = _match(words)
        if len(where) == ranged:  # the words alone: the full-text index answers by itself
            sql = ("SELECT rowid AS seq FROM events_fts WHERE events_fts MATCH ? AND "
                   + " AND ".join(where).replace("seq", "rowid") + order.replace("seq", "rowid"))
            return _seqs(db, sql, [match, *args, *tail], newest, stop)
        if newest:  # the full-text index drives (CROSS JOIN: in this order), each row checked by seq
            sql = ("SELECT events.seq FROM events_fts CROSS JOIN events ON events.seq = events_fts.rowid "
                   "WHERE events_fts MATCH ? AND " + " AND ".join(where) + " ORDER BY events_fts.rowid DESC LIMIT ?")
            return _seqs(db, sql, [match, *args, *tail], newest, stop)
        where.append("seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)")
        args.append(match)
    else:
        for w in words:
            where.append(_IN_JSON)
            args.append(_like(w))
    return _seqs(db, f"SELECT seq FROM {table} WHERE " + " AND ".join(where) + order, [*args, *tail], newest, stop)


def _match(words: list[str] | tuple[str, ...], prefix: bool = True) -> str:
    """FTS5's query: each word as the start of a word (`prefix`; else as a whole word), all of them."""
    star = "*" if prefix else ""
    return " ".join('"' + w.replace('"', '""') + '"' + star for w in words)


def word_seqs(db: sqlite3.Connection, words: list[str] | tuple[str, ...], after: int = 0, upto: int | None = None,
              *, prefix: bool = True) -> array:
    """The seqs of (after, upto] whose names, params or page have each of `words` as the start of a
    word (`prefix`; else as a word), ascending, in a file with a full-text index: those it holds by
    it, those past it (the writer feeds it about every second: schema.WORDS_UPTO) by reading their
    rows into the same index made in memory: its tokenizer, so the same answer as the file's."""
    upper = last_seq(db) if upto is None else upto
    if any("\x00" in w for w in words):  # (no word of the index holds one; FTS5 cannot parse it)
        return array("q")
    end = words_upto(db)
    end = upper if end is None else min(end, upper)
    found = array("q")
    if after < end:
        found = _seqs(db, "SELECT rowid AS seq FROM events_fts WHERE events_fts MATCH ? AND rowid > ? AND rowid <= ? "
                      "ORDER BY rowid", [_match(words, prefix), after, end])
    if max(after, end) < upper:
        found.extend(_read_words(db, words, max(after, end), upper, prefix))
    return found


def _read_words(db: sqlite3.Connection, words: list[str] | tuple[str, ...], after: int, upto: int,
                prefix: bool) -> list[int]:
    """word_seqs of the rows in (after, upto], which the file's full-text index does not hold."""
    scratch = sqlite3.connect(":memory:")
    try:
        scratch.execute(FTS_TABLE)
        rows = db.execute("SELECT seq, json FROM events WHERE seq > ? AND seq <= ?", (after, upto))
        scratch.executemany("INSERT INTO events_fts (rowid, name, params, page) VALUES (?, ?, ?, ?)",
                            ((seq, *row_words(text)) for seq, text in rows))
        return [seq for (seq,) in scratch.execute("SELECT rowid FROM events_fts WHERE events_fts MATCH ? "
                                                  "ORDER BY rowid", (_match(words, prefix),))]
    finally:
        scratch.close()


def _index_end(db: sqlite3.Connection, after: int, upto: int | None) -> int | None:
    """Where the full-text index ends when (after, upto] has rows past it; None: it holds them all
    (or the file has none)."""
    if not has_fts_table(db) or (end := words_upto(db)) is None:
        return None
    return end if (last_seq(db) if upto is None else upto) > max(after, end) else None


def _past_index(db: sqlite3.Connection, end: int, after: int, upto: int | None, words: list[str] | tuple[str, ...],
                newest: int | None, conditions: dict) -> array:
    """filter_seqs of a range with rows past the full-text index's `end`: those before by it, those
    past (few: about a second's worth) by word_seqs and the other conditions' answer for them."""
    upper = last_seq(db) if upto is None else upto
    matching = set(word_seqs(db, words, max(after, end), upper))
    others = _filter(db, after=max(after, end), upto=upper, words=(), newest=None, **conditions)
    tail = array("q", sorted(matching.intersection(others)))
    if newest:
        tail = tail[-newest:]
        if len(tail) >= newest:
            return tail
    if after >= end:
        return tail
    head = _filter(db, after=after, upto=end, words=words, newest=newest and newest - len(tail), **conditions)
    return head + tail


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
    outside, args = c.outside(after, upto)
    return AllBut(after, upto, _seqs(db, f"SELECT seq FROM ({outside}) ORDER BY seq", args, None, stop))


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
